// The C++ client: a configuration (or none) and a store, and the scheduler's enqueue policy.
#include "client/client_impl.h"

#include "config/load.h"
#include "config/store_url.h"
#include "model/job_json.h"
#include "model/version.h"
#include "scheduler/bulk_actions.h"
#include "scheduler/enqueue_policy.h"
#include "scheduler/store_factory.h"

#include <algorithm>
#include <filesystem>
#include <thread>

namespace sandhost::client {
bool Client::remove(std::int64_t id)
{
    return m_impl->guarded([&] {
        const auto removed = m_impl->store->remove(id);
        if (removed == store::RemoveResult::not_found) throw Error(Error::Kind::not_found, "no job " + std::to_string(id));
        return removed == store::RemoveResult::removed;
    });
}

namespace {

using Clock = std::chrono::system_clock;

JobState to_client(model::JobState state)
{
    switch (state) {
    case model::JobState::waiting: return JobState::waiting;
    case model::JobState::delayed: return JobState::delayed;
    case model::JobState::blocked: return JobState::blocked;
    case model::JobState::active: return JobState::active;
    case model::JobState::completed: return JobState::completed;
    case model::JobState::dead: return JobState::dead;
    case model::JobState::cancelled: return JobState::cancelled;
    }
    return JobState::waiting;
}

model::JobState to_model(JobState state)
{
    switch (state) {
    case JobState::waiting: return model::JobState::waiting;
    case JobState::delayed: return model::JobState::delayed;
    case JobState::blocked: return model::JobState::blocked;
    case JobState::active: return model::JobState::active;
    case JobState::completed: return model::JobState::completed;
    case JobState::dead: return model::JobState::dead;
    case JobState::cancelled: return model::JobState::cancelled;
    }
    return model::JobState::waiting;
}

std::shared_ptr<store::Store> open_store_or_throw(const config::HostSettings& host)
{
    try {
        return scheduler::open_configured_store(host);
    } catch (const std::exception& e) {
        throw Error(Error::Kind::store, "cannot open the store " + config::to_string(host.store) + ": " + e.what());
    }
}

} // namespace

template <typename Call>
auto Client::Impl::guarded(Call&& call) -> decltype(call())
{
    try {
        return call();
    } catch (const Error&) {
        throw;
    } catch (const scheduler::EnqueueError& e) {
        throw Error(Error::Kind::refused, e.what());
    } catch (const store::StoreRequestError& e) {
        throw Error(Error::Kind::refused, e.what());
    } catch (const store::StoreError& e) {
        throw Error(Error::Kind::store, e.what());
    }
}

Client::Client(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Client Client::open_config(const std::string& config_file)
{
    auto impl = std::make_unique<Impl>();
    impl->settings = client_lib::load_settings_or_throw(config_file, {});
    impl->store = open_store_or_throw(impl->settings->host);
    return Client(std::move(impl));
}

Client Client::open_store(const std::string& store_url)
{
    std::error_code ec;
    const auto base = std::filesystem::current_path(ec);
    auto url = config::parse_store_url(store_url, ec ? std::filesystem::path("/") : base);
    if (!url) throw Error(Error::Kind::invalid_argument, "store URL '" + store_url + "': " + url.error());
    auto impl = std::make_unique<Impl>();
    config::HostSettings host;
    host.store = url.value();
    impl->store = open_store_or_throw(host);
    return Client(std::move(impl));
}

namespace {

// The request for one job; throws Error (invalid_argument) for options no job may have.
scheduler::EnqueueRequest request_of(const std::string& queue, const std::string& task, const std::string& payload,
                                     const EnqueueOptions& options, const std::string& which = "")
{
    scheduler::EnqueueRequest request;
    request.queue = queue;
    request.task = task;
    request.payload = payload;
    request.priority = options.priority;
    request.delay = options.delay;
    request.timeout = options.timeout;
    request.max_attempts = options.max_attempts;
    request.depends_on = options.depends_on;
    request.key = options.key;
    if (options.delay && options.delay->count() < 0) throw Error(Error::Kind::invalid_argument, which + "delay must not be negative");
    if (options.timeout && options.timeout->count() <= 0) throw Error(Error::Kind::invalid_argument, which + "timeout must be positive");
    return request;
}

} // namespace

std::vector<Enqueued> Client::enqueue_batch(const std::vector<NewJob>& jobs)
{
    if (jobs.size() > k_max_batch) {
        throw Error(Error::Kind::invalid_argument,
                    std::to_string(jobs.size()) + " jobs in one batch: at most " + std::to_string(k_max_batch) + " are taken at once");
    }
    std::vector<scheduler::EnqueueRequest> requests;
    requests.reserve(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        requests.push_back(request_of(jobs[i].queue, jobs[i].task, jobs[i].payload, jobs[i].options, "job " + std::to_string(i) + ": "));
    }
    return m_impl->guarded([&] {
        const auto enqueued = m_impl->settings ? scheduler::enqueue_batch(*m_impl->store, *m_impl->settings, requests, Clock::now())
                                               : scheduler::enqueue_batch(*m_impl->store, requests, Clock::now());
        std::vector<Enqueued> out;
        out.reserve(enqueued.size());
        for (const auto& e : enqueued) out.push_back(Enqueued{e.id, e.created, e.notes});
        return out;
    });
}

Enqueued Client::enqueue(const std::string& queue, const std::string& task, const std::string& payload, const EnqueueOptions& options)
{
    const scheduler::EnqueueRequest request = request_of(queue, task, payload, options);
    return m_impl->guarded([&] {
        const auto enqueued = m_impl->settings ? scheduler::enqueue(*m_impl->store, *m_impl->settings, request, Clock::now())
                                               : scheduler::enqueue(*m_impl->store, request, Clock::now());
        return Enqueued{enqueued.id, enqueued.created, enqueued.notes};
    });
}

std::optional<std::string> Client::get_json(std::int64_t id)
{
    return m_impl->guarded([&]() -> std::optional<std::string> {
        const auto job = m_impl->store->get(id);
        if (!job) return std::nullopt;
        const auto attempts = m_impl->store->attempts(id);
        return model::to_json(*job, &attempts);
    });
}

std::optional<Job> Client::get(std::int64_t id)
{
    return m_impl->guarded([&]() -> std::optional<Job> {
        const auto job = m_impl->store->get(id);
        if (!job) return std::nullopt;
        Job out;
        out.id = job->id;
        out.queue = job->queue;
        out.task = job->task;
        out.payload = job->payload;
        out.state = to_client(job->state);
        out.priority = job->priority;
        out.attempts = job->attempts;
        out.result = job->result;
        out.error = job->error;
        if (job->progress) out.progress = job->progress->percent;
        out.created_at = job->created_at;
        out.updated_at = job->updated_at;
        if (job->attempts > 0) {
            const auto attempts = m_impl->store->attempts(id);
            if (!attempts.empty()) out.outcome = model::to_string(attempts.back().outcome.kind);
        }
        return out;
    });
}

Job Client::wait(std::int64_t id, std::chrono::milliseconds timeout)
{
    if (timeout.count() < 0) throw Error(Error::Kind::invalid_argument, "timeout must not be negative");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // Polls the store: quickly at first (short jobs), then every quarter second.
    auto interval = std::chrono::milliseconds(10);
    for (;;) {
        auto job = get(id);
        if (!job) throw Error(Error::Kind::not_found, "no job " + std::to_string(id));
        const auto now = std::chrono::steady_clock::now();
        if (is_final(job->state) || now >= deadline) return *job;
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(interval, deadline - now));
        interval = std::min(interval * 2, std::chrono::milliseconds(250));
    }
}

CancelResult Client::cancel(std::int64_t id)
{
    return m_impl->guarded([&] {
        switch (m_impl->store->cancel(id, Clock::now())) {
        case store::CancelResult::cancelled: return CancelResult::cancelled;
        case store::CancelResult::requested: return CancelResult::requested;
        case store::CancelResult::already_final: return CancelResult::already_final;
        case store::CancelResult::not_found: break;
        }
        throw Error(Error::Kind::not_found, "no job " + std::to_string(id));
    });
}

bool Client::retry(std::int64_t id)
{
    return m_impl->guarded([&] {
        if (!m_impl->store->get(id)) throw Error(Error::Kind::not_found, "no job " + std::to_string(id));
        return m_impl->store->retry(id, Clock::now());
    });
}

bool Client::promote(std::int64_t id)
{
    return m_impl->guarded([&] {
        try {
            return m_impl->store->promote(id, Clock::now());
        } catch (const store::StoreRequestError&) {
            throw Error(Error::Kind::not_found, "no job " + std::to_string(id));
        }
    });
}

namespace {

using scheduler::BulkAction;

// Opened on a store URL there is no configuration: a queue is known when it holds jobs.
const config::Settings& settings_or_none(const config::Settings* settings)
{
    static const config::Settings no_queues;
    return settings ? *settings : no_queues;
}

BulkResult bulk(store::Store& store, const config::Settings* settings, const std::string& queue, const BulkOptions& options,
                BulkAction action)
{
    scheduler::BulkSelection selection;
    selection.queue = queue;
    for (JobState state : options.states) {
        const model::JobState wanted = to_model(state);
        if (!scheduler::takes(action, wanted)) {
            throw Error(Error::Kind::invalid_argument,
                        std::string(action == BulkAction::retry ? "retry_jobs" : action == BulkAction::cancel ? "cancel_jobs" : "promote_jobs") +
                            " takes " + scheduler::taken_states(action) + " jobs, not " + model::to_string(wanted));
        }
        selection.states.push_back(wanted);
    }
    if (selection.states.empty()) selection.states = scheduler::default_states(action);
    selection.task = options.task;
    if (options.since) {
        if (options.since->count() < 0) throw Error(Error::Kind::invalid_argument, "since must not be negative");
        selection.changed_since = std::chrono::system_clock::now() - *options.since;
    }
    selection.limit = options.limit;
    selection.dry_run = options.dry_run;
    if (queue.empty()) throw Error(Error::Kind::invalid_argument, "queue must not be empty");
    if (auto unknown = scheduler::unknown_queue(store, settings_or_none(settings), queue)) throw Error(Error::Kind::not_found, *unknown);
    const auto done = scheduler::act_on_jobs(action, store, selection, std::chrono::system_clock::now());
    BulkResult result;
    result.changed = done.changed;
    result.requested = done.requested;
    result.skipped = done.skipped;
    result.refused.assign(done.refused.begin(), done.refused.end());
    result.refused_count = done.refused_count;
    result.more = done.more;
    return result;
}

} // namespace

BulkResult Client::retry_jobs(const std::string& queue, const BulkOptions& options)
{
    return m_impl->guarded([&] { return bulk(*m_impl->store, m_impl->settings.get(), queue, options, BulkAction::retry); });
}

BulkResult Client::cancel_jobs(const std::string& queue, const BulkOptions& options)
{
    return m_impl->guarded([&] { return bulk(*m_impl->store, m_impl->settings.get(), queue, options, BulkAction::cancel); });
}

BulkResult Client::promote_jobs(const std::string& queue, const BulkOptions& options)
{
    return m_impl->guarded([&] { return bulk(*m_impl->store, m_impl->settings.get(), queue, options, BulkAction::promote); });
}

namespace {

QueueStats stats_of(const std::string& name, const store::QueueCounts& counts, model::TimePoint now)
{
    QueueStats stats;
    stats.name = name;
    stats.paused = counts.paused;
    for (const auto& [state, count] : counts.by_state) stats.counts[static_cast<std::size_t>(to_client(state))] = count;
    stats.latency = store::latency(counts, now);
    if (counts.earliest_due) stats.earliest_due = std::chrono::time_point_cast<std::chrono::system_clock::duration>(*counts.earliest_due);
    return stats;
}

} // namespace

std::vector<QueueStats> Client::queues()
{
    return m_impl->guarded([&] {
        std::vector<std::string> names;
        if (m_impl->settings) {
            for (const auto& queue : m_impl->settings->queues) names.push_back(queue.name);
        }
        const auto now = Clock::now();
        std::vector<QueueStats> out;
        for (const auto& [name, counts] : m_impl->store->queue_counts(names)) out.push_back(stats_of(name, counts, now));
        return out;
    });
}

QueueStats Client::queue(const std::string& name)
{
    return m_impl->guarded([&] {
        const bool configured = m_impl->settings && m_impl->settings->find_queue(name);
        const auto all = m_impl->store->queue_counts(configured ? std::vector<std::string>{name} : std::vector<std::string>{});
        const auto found = all.find(name);
        if (found == all.end()) {
            throw Error(Error::Kind::not_found,
                        scheduler::unknown_queue(*m_impl->store, settings_or_none(m_impl->settings.get()), name).value_or("unknown queue '" + name + "'"));
        }
        return stats_of(name, found->second, Clock::now());
    });
}

const char* to_string(JobState state) { return model::to_string(to_model(state)); }

bool is_final(JobState state) { return model::is_final(to_model(state)); }

const char* version() { return model::version(); }

} // namespace sandhost::client

namespace sandhost::client_lib {

std::shared_ptr<const config::Settings> load_settings_or_throw(const std::string& config_file, const config::LoadOptions& options)
{
    const auto loaded = config::load_config(config_file, options);
    if (loaded.ok()) return loaded.settings;
    std::string message = config_file + " is not a valid configuration:";
    for (const auto& error : loaded.errors) message += "\n" + error.to_string();
    throw client::Error(client::Error::Kind::config, message);
}

} // namespace sandhost::client_lib
