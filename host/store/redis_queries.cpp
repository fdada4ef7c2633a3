// Reading jobs, attempts and queues; pausing queues; purging final jobs; the event feed.
#include "store/redis_store_impl.h"

#include <algorithm>

namespace sandhost::store::redis {
namespace {

// Jobs examined per purge script: a batch keeps the server free for other clients in between.
constexpr std::int64_t k_purge_batch = 500;

std::vector<model::Job> jobs_of(const Value& reply)
{
    std::vector<model::Job> jobs;
    for (const auto& hash : elements(reply)) jobs.push_back(job_from_hash(hash_of(hash)));
    return jobs;
}

} // namespace

std::vector<model::AttemptRecord> RedisStore::attempts(model::JobId job)
{
    ScriptArgs args;
    args.add(job);
    return run("reading attempts", Script::attempts, model::TimePoint{}, args, [&](const Value& reply) {
        const auto parts = elements(reply);
        if (parts.size() != 2) throw ReplyError("attempts returned " + std::to_string(parts.size()) + " parts");
        return attempts_from_hash(job, hash_of(parts[0]), optional_bytes(parts[1]));
    });
}

std::vector<model::Job> RedisStore::list(const JobFilter& filter)
{
    ScriptArgs args;
    args.add_optional(filter.queue);
    args.add_optional(filter.state ? std::optional<std::string>(to_string(*filter.state)) : std::nullopt);
    args.add_optional(filter.task);
    args.add_optional(filter.before ? std::optional<std::string>(std::to_string(*filter.before)) : std::nullopt);
    args.add(static_cast<std::int64_t>(filter.limit));
    return run("listing jobs", Script::list, model::TimePoint{}, args, jobs_of);
}

std::vector<model::JobId> RedisStore::job_ids(const std::string& queue, model::JobState state, const std::optional<std::string>& task,
                                              std::optional<model::TimePoint> changed_since)
{
    // Pages of ids alone (a job's payload may be large), each script short.
    constexpr std::int64_t k_page = 5000;
    std::vector<model::JobId> ids;
    std::optional<std::string> before;
    while (true) {
        ScriptArgs args;
        args.add(queue).add(to_string(state));
        args.add_optional(task);
        args.add_optional(changed_since ? std::optional<std::string>(std::to_string(to_millis(*changed_since))) : std::nullopt);
        args.add_optional(before);
        args.add(k_page);
        const auto page = run("listing job ids", Script::ids, model::TimePoint{}, args, [](const Value& reply) {
            std::vector<model::JobId> out;
            for (const auto& id : elements(reply)) out.push_back(integer(id));
            return out;
        });
        ids.insert(ids.end(), page.begin(), page.end());
        if (static_cast<std::int64_t>(page.size()) < k_page || state == model::JobState::active) return ids;
        before = std::to_string(page.back());
    }
}

std::map<std::string, QueueCounts> RedisStore::queue_counts(const std::vector<std::string>& queues)
{
    ScriptArgs args;
    args.add(static_cast<std::int64_t>(queues.size()));
    for (const auto& queue : queues) args.add(queue);
    return run("counting jobs", Script::counts, model::TimePoint{}, args, [](const Value& reply) {
        // counts.lua's order of states.
        static const model::JobState k_states[] = {model::JobState::waiting,   model::JobState::delayed,
                                                   model::JobState::blocked,   model::JobState::active,
                                                   model::JobState::completed, model::JobState::dead,
                                                   model::JobState::cancelled};
        std::map<std::string, QueueCounts> counts;
        for (const auto& row : elements(reply)) {
            const auto fields = elements(row);
            if (fields.size() != 3 + std::size(k_states)) throw ReplyError("a queue's counts of " + std::to_string(fields.size()) + " fields");
            QueueCounts& entry = counts[bytes(fields[0])];
            entry.paused = integer(fields[1]) == 1;
            for (std::size_t i = 0; i < std::size(k_states); ++i) {
                entry.by_state[k_states[i]] = static_cast<std::uint64_t>(integer(fields[2 + i]));
            }
            if (const std::int64_t earliest = integer(fields[2 + std::size(k_states)]); earliest >= 0) {
                entry.earliest_due = from_millis(earliest);
            }
        }
        return counts;
    });
}

std::map<model::JobId, std::string> RedisStore::results(const std::vector<model::JobId>& jobs)
{
    if (jobs.empty()) return {};
    ScriptArgs args;
    for (model::JobId job : jobs) args.add(job);
    return run("reading results", Script::results, model::TimePoint{}, args, [](const Value& reply) {
        const auto flat = elements(reply);
        std::map<model::JobId, std::string> out;
        for (std::size_t i = 0; i + 1 < flat.size(); i += 2) out[integer(flat[i])] = bytes(flat[i + 1]);
        return out;
    });
}

void RedisStore::set_paused(const std::string& queue, bool paused)
{
    ScriptArgs args;
    args.add(queue).add(paused ? "1" : "0");
    run("pausing or resuming a queue", Script::pause, std::chrono::system_clock::now(), args, integer);
}

std::vector<std::string> RedisStore::paused_queues()
{
    Poco::Redis::Array members;
    members << "SMEMBERS" << key("paused");
    return command("reading paused queues", members, [](const Value& reply) {
        std::vector<std::string> queues;
        for (const auto& queue : elements(reply)) queues.push_back(bytes(queue));
        std::sort(queues.begin(), queues.end());
        return queues;
    });
}

RemoveResult RedisStore::remove(model::JobId job)
{
    ScriptArgs args;
    args.add(job);
    return run("removing a job", Script::remove, std::chrono::system_clock::now(), args, [](const Value& reply) {
        const std::string result = bytes(reply);
        if (result == "removed") return RemoveResult::removed;
        if (result == "not_finished") return RemoveResult::not_finished;
        if (result == "needed") return RemoveResult::needed;
        if (result == "not_found") return RemoveResult::not_found;
        throw ReplyError("remove returned \"" + result + "\"");
    });
}

std::size_t RedisStore::purge(model::JobState state, model::TimePoint older_than)
{
    if (!model::is_final(state)) {
        throw StoreRequestError(std::string("only completed, dead or cancelled jobs can be purged, not ") + to_string(state));
    }
    // Queue by queue, in batches, each one script: a purge of many jobs does not hold up the
    // hosts' claims.
    Poco::Redis::Array members;
    members << "SMEMBERS" << key("queues");
    const auto queues = command("purging jobs", members, [](const Value& reply) {
        std::vector<std::string> names;
        for (const auto& name : elements(reply)) names.push_back(bytes(name));
        return names;
    });
    std::size_t deleted = 0;
    for (const auto& queue : queues) {
        std::int64_t offset = 0;
        for (;;) {
            ScriptArgs args;
            args.add(to_string(state)).add(to_millis(older_than)).add(queue).add(offset).add(k_purge_batch);
            const auto [batch_deleted, kept, examined] =
                run("purging jobs", Script::purge, model::TimePoint{}, args, [](const Value& reply) {
                    const auto parts = elements(reply);
                    if (parts.size() != 3) throw ReplyError("purge returned " + std::to_string(parts.size()) + " parts");
                    return std::make_tuple(integer(parts[0]), integer(parts[1]), integer(parts[2]));
                });
            deleted += static_cast<std::size_t>(batch_deleted);
            offset += kept;
            if (examined < k_purge_batch) break;
        }
    }
    return deleted;
}

std::size_t RedisStore::trim(const std::string& queue, model::JobState state, const model::RetentionLimit& limit,
                             model::TimePoint now, std::size_t batch)
{
    if (!model::is_final(state)) {
        throw StoreRequestError(std::string("only completed, dead or cancelled jobs have a retention, not ") + to_string(state));
    }
    if (!limit.limits() || batch == 0) return 0;
    ScriptArgs args;
    args.add(queue).add(to_string(state)).add(limit.age ? to_millis(now - *limit.age) : std::int64_t{-1});
    args.add(limit.count ? static_cast<std::int64_t>(*limit.count) : std::int64_t{-1}).add(static_cast<std::int64_t>(batch));
    return static_cast<std::size_t>(run("trimming finished jobs", Script::trim, now, args, integer));
}

std::vector<Event> RedisStore::events_after(std::int64_t after, std::size_t limit)
{
    if (limit == 0) return {};
    Poco::Redis::Array range;
    range << "XRANGE" << key("events") << (after > 0 ? "(0-" + std::to_string(after) : std::string("-")) << "+"
          << "COUNT" << std::to_string(limit);
    return command("reading events", range, [](const Value& reply) {
        std::vector<Event> events;
        for (const auto& entry : elements(reply)) events.push_back(event_from_entry(entry));
        return events;
    });
}

} // namespace sandhost::store::redis
