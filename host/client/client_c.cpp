// The C API (client.h) over the C++ client: every exception stops here and becomes a status
// and the calling thread's last error.
#include <sandhost/client.h>
#include <sandhost/client.hpp>

#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

struct sh_client {
    sandhost::client::Client client;
};

namespace {

using sandhost::client::Error;

thread_local std::string t_last_error;

sh_client_status_t succeed()
{
    t_last_error.clear();
    return SH_CLIENT_OK;
}

sh_client_status_t fail(sh_client_status_t status, const std::string& message) noexcept
{
    try {
        t_last_error = message;
    } catch (...) {
        t_last_error.clear();  // no memory for the message: the status says it
    }
    return status;
}

sh_client_status_t status_of(Error::Kind kind)
{
    switch (kind) {
    case Error::Kind::config: return SH_CLIENT_CONFIG_ERROR;
    case Error::Kind::store: return SH_CLIENT_STORE_ERROR;
    case Error::Kind::refused: return SH_CLIENT_REFUSED;
    case Error::Kind::not_found: return SH_CLIENT_NOT_FOUND;
    case Error::Kind::invalid_argument: return SH_CLIENT_INVALID_ARGUMENT;
    }
    return SH_CLIENT_STORE_ERROR;
}

// Runs body (returning a status), turning any exception into a status and a message.
template <typename Body>
sh_client_status_t guarded(Body&& body) noexcept
{
    try {
        return body();
    } catch (const Error& e) {
        return fail(status_of(e.kind()), e.what());
    } catch (const std::bad_alloc&) {
        return fail(SH_CLIENT_NO_MEMORY, "out of memory");
    } catch (const std::exception& e) {
        return fail(SH_CLIENT_STORE_ERROR, e.what());
    } catch (...) {
        return fail(SH_CLIENT_STORE_ERROR, "unknown error");
    }
}

// The C constants are the C++ enum's values in order.
static_assert(static_cast<int>(sandhost::client::JobState::waiting) == SH_JOB_WAITING &&
              static_cast<int>(sandhost::client::JobState::active) == SH_JOB_ACTIVE &&
              static_cast<int>(sandhost::client::JobState::cancelled) == SH_JOB_CANCELLED);

sh_job_state_t state_of(sandhost::client::JobState state) { return static_cast<sh_job_state_t>(state); }

std::int64_t epoch_ms(std::chrono::system_clock::time_point at)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

// The job as one malloc'd block: the structure, then its strings.
sh_job_t* to_c(const sandhost::client::Job& job)
{
    const std::string* strings[] = {&job.queue, &job.task, &job.payload, job.result ? &*job.result : nullptr,
                                    job.error ? &*job.error : nullptr, job.outcome ? &*job.outcome : nullptr};
    std::size_t size = sizeof(sh_job_t);
    for (const auto* s : strings) size += s ? s->size() + 1 : 0;
    auto* block = static_cast<char*>(std::malloc(size));
    if (!block) throw std::bad_alloc();
    auto* out = reinterpret_cast<sh_job_t*>(block);
    char* text = block + sizeof(sh_job_t);
    const char* copies[6] = {};
    for (std::size_t i = 0; i < 6; ++i) {
        if (!strings[i]) continue;
        std::memcpy(text, strings[i]->c_str(), strings[i]->size() + 1);
        copies[i] = text;
        text += strings[i]->size() + 1;
    }
    out->id = job.id;
    out->queue = copies[0];
    out->task = copies[1];
    out->payload = copies[2];
    out->state = state_of(job.state);
    out->priority = job.priority;
    out->attempts = job.attempts;
    out->result = copies[3];
    out->error = copies[4];
    out->outcome = copies[5];
    out->created_at_ms = epoch_ms(job.created_at);
    out->updated_at_ms = epoch_ms(job.updated_at);
    return out;
}

template <typename Open>
sh_client_t* open_with(const char* argument, const char* what, Open&& open) noexcept
{
    sh_client_t* client = nullptr;
    const auto status = guarded([&] {
        if (!argument) return fail(SH_CLIENT_INVALID_ARGUMENT, std::string(what) + " is NULL");
        client = new sh_client{open(argument)};
        return succeed();
    });
    return status == SH_CLIENT_OK ? client : nullptr;
}

// The options the caller's structure has (NULL: none) into `cpp`; what is wrong with them, if anything.
std::optional<std::string> options_of(const sh_enqueue_options_t* options, sandhost::client::EnqueueOptions& cpp)
{
    if (!options) return std::nullopt;
    // Read only the fields the caller's structure has.
    const auto has = [&](std::size_t end) { return options->struct_size >= end; };
    if (has(offsetof(sh_enqueue_options_t, priority) + sizeof(options->priority))) cpp.priority = options->priority;
    if (has(offsetof(sh_enqueue_options_t, delay_ms) + sizeof(options->delay_ms)) && options->delay_ms != 0) {
        cpp.delay = std::chrono::milliseconds(options->delay_ms);
    }
    if (has(offsetof(sh_enqueue_options_t, timeout_ms) + sizeof(options->timeout_ms)) && options->timeout_ms != 0) {
        cpp.timeout = std::chrono::milliseconds(options->timeout_ms);
    }
    if (has(offsetof(sh_enqueue_options_t, max_attempts) + sizeof(options->max_attempts)) && options->max_attempts != 0) {
        cpp.max_attempts = options->max_attempts;
    }
    if (has(offsetof(sh_enqueue_options_t, depends_on_count) + sizeof(options->depends_on_count)) && options->depends_on_count > 0) {
        if (!options->depends_on) return std::string("depends_on is NULL but depends_on_count is not 0");
        cpp.depends_on.assign(options->depends_on, options->depends_on + options->depends_on_count);
    }
    if (has(offsetof(sh_enqueue_options_t, key) + sizeof(options->key)) && options->key) cpp.key = options->key;
    return std::nullopt;
}

enum class Bulk { retry, cancel, promote };

// sh_client_retry_jobs, sh_client_cancel_jobs and sh_client_promote_jobs.
sh_client_status_t bulk(sh_client_t* client, const char* queue, const sh_bulk_options_t* options, sh_bulk_result_t* result, Bulk action) noexcept
{
    return guarded([&] {
        if (result) *result = sh_bulk_result_t{0, 0, 0, 0, 0};
        if (!client || !queue) return fail(SH_CLIENT_INVALID_ARGUMENT, "client and queue must not be NULL");
        sandhost::client::BulkOptions cpp;
        if (options) {
            const auto has = [&](std::size_t end) { return options->struct_size >= end; };
            if (has(offsetof(sh_bulk_options_t, states) + sizeof(options->states))) {
                if (options->states >> (SH_JOB_CANCELLED + 1)) return fail(SH_CLIENT_INVALID_ARGUMENT, "states names no job state beyond SH_JOB_CANCELLED");
                for (sh_job_state_t state = SH_JOB_WAITING; state <= SH_JOB_CANCELLED; ++state) {
                    if (options->states & SH_JOB_STATE_BIT(state)) cpp.states.push_back(static_cast<sandhost::client::JobState>(state));
                }
            }
            if (has(offsetof(sh_bulk_options_t, task) + sizeof(options->task)) && options->task) cpp.task = std::string(options->task);
            if (has(offsetof(sh_bulk_options_t, limit) + sizeof(options->limit))) cpp.limit = static_cast<std::size_t>(options->limit);
            if (has(offsetof(sh_bulk_options_t, dry_run) + sizeof(options->dry_run))) cpp.dry_run = options->dry_run != 0;
            if (has(offsetof(sh_bulk_options_t, since_ms) + sizeof(options->since_ms)) && options->since_ms != 0) {
                if (options->since_ms < 0) return fail(SH_CLIENT_INVALID_ARGUMENT, "since_ms must not be negative");
                cpp.since = std::chrono::milliseconds(options->since_ms);
            }
        }
        const auto done = action == Bulk::retry    ? client->client.retry_jobs(queue, cpp)
                          : action == Bulk::cancel ? client->client.cancel_jobs(queue, cpp)
                                                   : client->client.promote_jobs(queue, cpp);
        if (result) {
            *result = sh_bulk_result_t{done.changed, done.requested, done.skipped, done.refused_count, done.more ? 1 : 0};
        }
        if (done.refused_count > 0) {
            const auto& [id, why] = done.refused.front();
            return fail(SH_CLIENT_REFUSED, std::to_string(done.refused_count) + " job" + (done.refused_count == 1 ? "" : "s") +
                                               " not retried; the first, job " + std::to_string(id) + ": " + why);
        }
        return succeed();
    });
}

} // namespace

extern "C" {

sh_client_t* sh_client_open_config(const char* config_file)
{
    return open_with(config_file, "config_file", [](const char* file) { return sandhost::client::Client::open_config(file); });
}

sh_client_t* sh_client_open_store(const char* store_url)
{
    return open_with(store_url, "store_url", [](const char* url) { return sandhost::client::Client::open_store(url); });
}

void sh_client_close(sh_client_t* client) { delete client; }

sh_client_status_t sh_client_enqueue(sh_client_t* client, const char* queue, const char* task, const char* payload_json,
                                     const sh_enqueue_options_t* options, int64_t* job_id)
{
    return guarded([&] {
        if (!client || !queue || !task || !job_id) return fail(SH_CLIENT_INVALID_ARGUMENT, "client, queue, task and job_id must not be NULL");
        sandhost::client::EnqueueOptions cpp;
        if (const auto bad = options_of(options, cpp)) return fail(SH_CLIENT_INVALID_ARGUMENT, *bad);
        *job_id = client->client.enqueue(queue, task, payload_json ? payload_json : "{}", cpp).id;
        return succeed();
    });
}

sh_client_status_t sh_client_enqueue_batch(sh_client_t* client, const sh_enqueue_request_t* jobs, size_t count, int64_t* job_ids,
                                           int* created)
{
    return guarded([&] {
        if (!client || !job_ids || (!jobs && count > 0)) return fail(SH_CLIENT_INVALID_ARGUMENT, "client, jobs and job_ids must not be NULL");
        if (count > SH_CLIENT_MAX_BATCH) {
            return fail(SH_CLIENT_INVALID_ARGUMENT, std::to_string(count) + " jobs in one batch: at most " +
                                                        std::to_string(SH_CLIENT_MAX_BATCH) + " are taken at once");
        }
        std::vector<sandhost::client::NewJob> batch(count);
        if (count > 0) {
            // The caller's structure may be older and smaller than this one: step by its size, and
            // read only the fields it has.
            const std::uint32_t stride = jobs->struct_size;
            if (stride < offsetof(sh_enqueue_request_t, payload_json)) {
                return fail(SH_CLIENT_INVALID_ARGUMENT, "jobs[0].struct_size is too small: start each job from SH_ENQUEUE_REQUEST_INIT");
            }
            for (std::size_t i = 0; i < count; ++i) {
                const auto* job = reinterpret_cast<const sh_enqueue_request_t*>(reinterpret_cast<const char*>(jobs) + i * stride);
                const std::string which = "job " + std::to_string(i) + ": ";
                if (job->struct_size != stride) return fail(SH_CLIENT_INVALID_ARGUMENT, which + "struct_size differs from the first job's");
                if (!job->queue || !job->task) return fail(SH_CLIENT_INVALID_ARGUMENT, which + "queue and task must not be NULL");
                const auto has = [&](std::size_t end) { return stride >= end; };
                batch[i].queue = job->queue;
                batch[i].task = job->task;
                if (has(offsetof(sh_enqueue_request_t, payload_json) + sizeof(job->payload_json)) && job->payload_json) {
                    batch[i].payload = job->payload_json;
                }
                if (has(offsetof(sh_enqueue_request_t, options) + sizeof(job->options))) {
                    if (const auto bad = options_of(job->options, batch[i].options)) return fail(SH_CLIENT_INVALID_ARGUMENT, which + *bad);
                }
            }
        }
        const auto enqueued = client->client.enqueue_batch(batch);
        for (std::size_t i = 0; i < enqueued.size(); ++i) {
            job_ids[i] = enqueued[i].id;
            if (created) created[i] = enqueued[i].created ? 1 : 0;
        }
        return succeed();
    });
}

sh_client_status_t sh_client_get(sh_client_t* client, int64_t job_id, sh_job_t** job)
{
    return guarded([&] {
        if (!client || !job) return fail(SH_CLIENT_INVALID_ARGUMENT, "client and job must not be NULL");
        *job = nullptr;
        const auto found = client->client.get(job_id);
        if (!found) return fail(SH_CLIENT_NOT_FOUND, "no job " + std::to_string(job_id));
        *job = to_c(*found);
        return succeed();
    });
}

sh_client_status_t sh_client_get_json(sh_client_t* client, int64_t job_id, char** json)
{
    return guarded([&] {
        if (!client || !json) return fail(SH_CLIENT_INVALID_ARGUMENT, "client and json must not be NULL");
        *json = nullptr;
        const auto found = client->client.get_json(job_id);
        if (!found) return fail(SH_CLIENT_NOT_FOUND, "no job " + std::to_string(job_id));
        auto* text = static_cast<char*>(std::malloc(found->size() + 1));
        if (!text) throw std::bad_alloc();
        std::memcpy(text, found->c_str(), found->size() + 1);
        *json = text;
        return succeed();
    });
}

void sh_client_free_text(char* text) { std::free(text); }

sh_client_status_t sh_client_wait(sh_client_t* client, int64_t job_id, int64_t timeout_ms, sh_job_t** job)
{
    return guarded([&] {
        if (!client || !job) return fail(SH_CLIENT_INVALID_ARGUMENT, "client and job must not be NULL");
        *job = nullptr;
        const auto found = client->client.wait(job_id, std::chrono::milliseconds(timeout_ms));
        *job = to_c(found);
        if (!sandhost::client::is_final(found.state)) {
            return fail(SH_CLIENT_TIMEOUT, "job " + std::to_string(job_id) + " is still " + sandhost::client::to_string(found.state));
        }
        return succeed();
    });
}

sh_client_status_t sh_client_cancel(sh_client_t* client, int64_t job_id)
{
    return guarded([&] {
        if (!client) return fail(SH_CLIENT_INVALID_ARGUMENT, "client must not be NULL");
        if (client->client.cancel(job_id) == sandhost::client::CancelResult::already_final) {
            return fail(SH_CLIENT_WRONG_STATE, "job " + std::to_string(job_id) + " had already ended");
        }
        return succeed();
    });
}

sh_client_status_t sh_client_retry(sh_client_t* client, int64_t job_id)
{
    return guarded([&] {
        if (!client) return fail(SH_CLIENT_INVALID_ARGUMENT, "client must not be NULL");
        if (!client->client.retry(job_id)) return fail(SH_CLIENT_WRONG_STATE, "job " + std::to_string(job_id) + " is neither dead nor cancelled");
        return succeed();
    });
}

sh_client_status_t sh_client_promote(sh_client_t* client, int64_t job_id)
{
    return guarded([&] {
        if (!client) return fail(SH_CLIENT_INVALID_ARGUMENT, "client must not be NULL");
        if (!client->client.promote(job_id)) return fail(SH_CLIENT_WRONG_STATE, "job " + std::to_string(job_id) + " is not delayed");
        return succeed();
    });
}

sh_client_status_t sh_client_remove(sh_client_t* client, int64_t job_id)
{
    return guarded([&] {
        if (!client) return fail(SH_CLIENT_INVALID_ARGUMENT, "client must not be NULL");
        if (!client->client.remove(job_id)) {
            return fail(SH_CLIENT_WRONG_STATE, "job " + std::to_string(job_id) + " has not ended, or a job still to run depends on it");
        }
        return succeed();
    });
}

sh_client_status_t sh_client_retry_jobs(sh_client_t* client, const char* queue, const sh_bulk_options_t* options,
                                        sh_bulk_result_t* result)
{
    return bulk(client, queue, options, result, Bulk::retry);
}

sh_client_status_t sh_client_cancel_jobs(sh_client_t* client, const char* queue, const sh_bulk_options_t* options,
                                         sh_bulk_result_t* result)
{
    return bulk(client, queue, options, result, Bulk::cancel);
}

sh_client_status_t sh_client_promote_jobs(sh_client_t* client, const char* queue, const sh_bulk_options_t* options,
                                          sh_bulk_result_t* result)
{
    return bulk(client, queue, options, result, Bulk::promote);
}

sh_client_status_t sh_client_queue_stats(sh_client_t* client, const char* queue, sh_queue_stats_t* stats)
{
    return guarded([&] {
        if (!client || !queue || !stats) return fail(SH_CLIENT_INVALID_ARGUMENT, "client, queue and stats must not be NULL");
        if (stats->struct_size < offsetof(sh_queue_stats_t, counts) + sizeof(stats->counts)) {
            return fail(SH_CLIENT_INVALID_ARGUMENT, "stats->struct_size is too small: start from SH_QUEUE_STATS_INIT");
        }
        const auto found = client->client.queue(queue);
        stats->paused = found.paused ? 1 : 0;
        for (std::size_t i = 0; i < found.counts.size(); ++i) stats->counts[i] = found.counts[i];
        const auto has = [&](std::size_t end) { return stats->struct_size >= end; };
        if (has(offsetof(sh_queue_stats_t, latency_ms) + sizeof(stats->latency_ms))) stats->latency_ms = found.latency.count();
        if (has(offsetof(sh_queue_stats_t, earliest_due_ms) + sizeof(stats->earliest_due_ms))) {
            stats->earliest_due_ms =
                found.earliest_due ? std::chrono::duration_cast<std::chrono::milliseconds>(found.earliest_due->time_since_epoch()).count() : 0;
        }
        return succeed();
    });
}

void sh_job_free(sh_job_t* job) { std::free(job); }

const char* sh_job_state_name(sh_job_state_t state)
{
    if (state < SH_JOB_WAITING || state > SH_JOB_CANCELLED) return "unknown";
    return sandhost::client::to_string(static_cast<sandhost::client::JobState>(state));
}

const char* sh_client_last_error(void) { return t_last_error.c_str(); }

const char* sh_client_version(void) { return sandhost::client::version(); }

} // extern "C"
