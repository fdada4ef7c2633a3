// Running attempts and jobs not started yet: leases, progress, lost attempts, cancel, retry, promote,
// expiry.
#include "store/redis_store_impl.h"

#include <algorithm>
#include <cstdio>

namespace sandhost::store::redis {
namespace {

bool changed(const Value& reply) { return integer(reply) == 1; }

} // namespace

bool RedisStore::renew(model::JobId job, model::AttemptId attempt, model::TimePoint expires_at)
{
    ScriptArgs args;
    args.add(job).add(attempt).add(to_millis(expires_at));
    return run("renewing a lease", Script::renew, model::TimePoint{}, args, changed);
}

bool RedisStore::set_progress(model::JobId job, model::AttemptId attempt, const model::Progress& progress)
{
    // Exact, so that the percent reads back as it was given.
    char percent[32];
    std::snprintf(percent, sizeof percent, "%.17g", progress.percent);
    ScriptArgs args;
    args.add(job).add(attempt).add(percent).add(progress.message);
    return run("recording progress", Script::progress, std::chrono::system_clock::now(), args, changed);
}

std::vector<LostAttempt> RedisStore::lost_attempts(const std::string& host_name, const std::string& holder,
                                                   model::TimePoint now)
{
    ScriptArgs args;
    args.add(host_name).add(holder);
    return run("looking for lost attempts", Script::lost, now, args, [](const Value& reply) {
        std::vector<LostAttempt> lost;
        for (const auto& flat : elements(reply)) {
            const Hash hash = hash_of(flat);
            model::Job job = job_from_hash(hash);
            if (!job.lease) continue;
            const model::AttemptId attempt_id = job.lease->attempt_id;
            // A claim numbers its attempt attempts + 1 and counts it: the running attempt's
            // number is the job's count.
            const std::uint32_t number = job.attempts;
            // st: when the claim took it (jobs claimed by layout 1 have none: their last update).
            const auto st = hash.find("st");
            const model::TimePoint started_at = st != hash.end() ? from_millis(static_cast<std::int64_t>(std::stoll(st->second))) : job.updated_at;
            lost.push_back(LostAttempt{std::move(job), attempt_id, number, started_at});
        }
        return lost;
    });
}

std::optional<model::JobState> RedisStore::recover(const model::AttemptRecord& attempt, const Transition& transition,
                                                   model::TimePoint now)
{
    return run("recovering a lost attempt", Script::recover, now, end_attempt_args(attempt, transition), applied_state);
}

std::vector<model::JobId> RedisStore::cancel_requests(const std::string& holder)
{
    Poco::Redis::Array members;
    members << "SMEMBERS" << key("cancels:" + holder);
    return command("reading cancel requests", members, [](const Value& reply) {
        std::vector<model::JobId> ids;
        for (const auto& id : elements(reply)) ids.push_back(integer(id));
        std::sort(ids.begin(), ids.end());
        return ids;
    });
}

CancelResult RedisStore::cancel(model::JobId job, model::TimePoint now)
{
    ScriptArgs args;
    args.add(job);
    return run("cancelling a job", Script::cancel, now, args, [](const Value& reply) {
        const std::string result = bytes(reply);
        if (result == "cancelled") return CancelResult::cancelled;
        if (result == "requested") return CancelResult::requested;
        if (result == "already_final") return CancelResult::already_final;
        if (result == "not_found") return CancelResult::not_found;
        throw ReplyError("cancel returned \"" + result + "\"");
    });
}

bool RedisStore::retry(model::JobId job, model::TimePoint now)
{
    ScriptArgs args;
    args.add(job);
    return run("retrying a job", Script::retry, now, args, changed);
}

bool RedisStore::promote(model::JobId job, model::TimePoint now)
{
    ScriptArgs args;
    args.add(job);
    return run("promoting a job", Script::promote, now, args, changed);
}

std::vector<ActionResult> RedisStore::change_jobs(JobAction action, const std::vector<model::JobId>& jobs, model::TimePoint now)
{
    check_action_size(jobs.size());
    if (jobs.empty()) return {};
    ScriptArgs args;
    args.add(action == JobAction::retry ? "retry" : action == JobAction::cancel ? "cancel" : "promote");
    args.add(static_cast<std::int64_t>(jobs.size()));
    for (model::JobId job : jobs) args.add(job);
    return run("changing jobs", Script::change, now, args, [&](const Value& reply) {
        const auto parts = elements(reply);
        if (parts.size() != jobs.size()) {
            throw ReplyError("change returned " + std::to_string(parts.size()) + " results for " + std::to_string(jobs.size()) + " jobs");
        }
        std::vector<ActionResult> results;
        for (const auto& part : parts) {
            const std::string text = bytes(part);
            if (text == "changed") results.push_back(ActionResult{ActionResult::Kind::changed, {}});
            else if (text == "requested") results.push_back(ActionResult{ActionResult::Kind::requested, {}});
            else if (text == "skipped") results.push_back(ActionResult{});
            else if (text.rfind("refused ", 0) == 0) results.push_back(ActionResult{ActionResult::Kind::refused, text.substr(8)});
            else throw ReplyError("change returned \"" + text + "\"");
        }
        return results;
    });
}

std::size_t RedisStore::expire(model::TimePoint now)
{
    return run("expiring jobs", Script::expire, now, ScriptArgs{},
               [](const Value& reply) { return static_cast<std::size_t>(integer(reply)); });
}

} // namespace sandhost::store::redis
