// A job enters the store (enqueue, schedules), is claimed, and its attempt ends (finish,
// finish_and_claim).
#include "store/redis_store_impl.h"

#include "store/attempt_codec.h"

#include <algorithm>

namespace sandhost::store::redis {
namespace {

void check_transition(const Transition& transition)
{
    switch (transition.next) {
    case model::JobState::completed:
    case model::JobState::waiting:
    case model::JobState::delayed:
    case model::JobState::dead:
    case model::JobState::cancelled:
        return;
    default:
        throw StoreRequestError(std::string("an attempt cannot leave its job ") + to_string(transition.next));
    }
}

std::optional<Claim> optional_claim(const Value& reply)
{
    if (is_nil(reply)) return std::nullopt;
    return claim_from_reply(reply);
}

} // namespace

EnqueueResult RedisStore::enqueue_job(const model::NewJob& job, model::TimePoint now)
{
    ScriptArgs args;
    add_new_job(args, job);
    return run("enqueueing a job", Script::enqueue, now, args, [](const Value& reply) {
        const auto parts = elements(reply);
        if (parts.size() != 2) throw ReplyError("enqueue returned " + std::to_string(parts.size()) + " parts");
        return EnqueueResult{integer(parts[0]), integer(parts[1]) == 1};
    });
}

std::vector<EnqueueResult> RedisStore::enqueue_jobs(const std::vector<model::NewJob>& jobs, model::TimePoint now)
{
    check_batch_size(jobs.size());
    if (jobs.empty()) return {};
    ScriptArgs args;
    args.add(static_cast<std::int64_t>(jobs.size()));
    for (const auto& job : jobs) add_new_job(args, job);
    return run("enqueueing jobs", Script::enqueue_batch, now, args, [&](const Value& reply) {
        const auto parts = elements(reply);
        if (parts.size() != 2 * jobs.size()) {
            throw ReplyError("enqueue_batch returned " + std::to_string(parts.size()) + " parts for " + std::to_string(jobs.size()) + " jobs");
        }
        std::vector<EnqueueResult> results;
        for (std::size_t i = 0; i < parts.size(); i += 2) results.push_back(EnqueueResult{integer(parts[i]), integer(parts[i + 1]) == 1});
        return results;
    });
}

std::optional<Claim> RedisStore::claim(const std::vector<QueueAllowance>& queues, const std::string& holder,
                                       model::Duration lease, model::TimePoint now)
{
    if (queues.empty()) return std::nullopt;
    ScriptArgs args;
    add_allowances(args, queues);
    args.add(holder).add(lease.count());
    return run("claiming a job", Script::claim, now, args, optional_claim);
}

ScriptArgs RedisStore::end_attempt_args(const model::AttemptRecord& attempt, const Transition& transition) const
{
    check_transition(transition);
    const auto& outcome = attempt.outcome;
    // The result the job keeps is not stored a second time in the attempt.
    const bool completed = transition.next == model::JobState::completed;
    const bool result_in_job = completed && transition.result && *transition.result == outcome.result;
    ScriptArgs args;
    args.add(attempt.job_id).add(attempt.attempt_id).add(std::int64_t{attempt.number}).add(attempt.host);
    args.add(model::to_string(outcome.kind)).add(encode_outcome(outcome));
    args.add_optional(result_in_job || outcome.result.empty() ? std::nullopt : std::optional<std::string>(outcome.result));
    args.add(result_in_job ? "1" : "0").add(model::to_string(transition.next));
    args.add_optional(transition.run_at ? std::optional<std::int64_t>(to_millis(*transition.run_at)) : std::nullopt);
    args.add_optional(completed ? transition.result : std::nullopt).add_optional(transition.error);
    args.add(transition.counts_as_lost ? "1" : "0").add(transition.refund_attempt ? "1" : "0");
    return args;
}

std::optional<model::JobState> RedisStore::finish(const model::AttemptRecord& attempt, const Transition& transition,
                                                  model::TimePoint now)
{
    return run("finishing an attempt", Script::finish, now, end_attempt_args(attempt, transition), applied_state);
}

Store::FinishAndClaim RedisStore::finish_and_claim(const model::AttemptRecord& attempt, const Transition& transition,
                                                   model::TimePoint now, const std::vector<QueueAllowance>& queues,
                                                   const std::string& holder, model::Duration lease)
{
    if (queues.empty()) return FinishAndClaim{finish(attempt, transition, now), std::nullopt, std::nullopt};
    ScriptArgs args = end_attempt_args(attempt, transition);
    add_allowances(args, queues);
    args.add(holder).add(lease.count());
    return run("finishing an attempt", Script::finish_and_claim, now, args, [](const Value& reply) {
        const auto parts = elements(reply);
        if (parts.size() != 3) throw ReplyError("finish_and_claim returned " + std::to_string(parts.size()) + " parts");
        FinishAndClaim result;
        result.applied = applied_state(parts[0]);
        if (auto error = optional_bytes(parts[2])) {
            result.claim_error = "claiming a job: " + *error;
            return result;
        }
        // The finish stands whatever happens here: a claim that does not read is an error of
        // the claim alone.
        try {
            result.claim = optional_claim(parts[1]);
        } catch (const ReplyError& e) {
            result.claim_error = std::string("claiming a job: unexpected reply: ") + e.what();
        }
        return result;
    });
}

std::optional<model::JobId> RedisStore::fire_schedule(const std::string& name, model::TimePoint fire_time,
                                                      const model::NewJob& job, model::TimePoint now)
{
    ScriptArgs args;
    args.add(name).add(to_millis(fire_time));
    add_new_job(args, job);
    return run("firing a schedule", Script::schedule, now, args, [](const Value& reply) -> std::optional<model::JobId> {
        if (is_nil(reply)) return std::nullopt;
        return integer(reply);
    });
}

std::optional<model::TimePoint> RedisStore::schedule_last_fire(const std::string& name)
{
    Poco::Redis::Array hget;
    hget << "HGET" << key("schedule:" + name) << "last";
    return command("reading a schedule", hget, [](const Value& reply) -> std::optional<model::TimePoint> {
        if (is_nil(reply)) return std::nullopt;
        return from_millis(integer(reply));
    });
}

void RedisStore::import_jobs(const std::vector<JobCopy>& jobs, model::TimePoint now)
{
    check_import_size(jobs.size());
    if (jobs.empty()) return;
    auto optional_ms = [](const auto& duration) -> std::optional<std::int64_t> {
        if (!duration) return std::nullopt;
        return duration->count();
    };
    ScriptArgs args;
    args.add(static_cast<std::int64_t>(jobs.size()));
    for (const auto& copy : jobs) {
        const model::Job& job = copy.job;
        args.add(job.id).add(job.queue).add(job.task).add(job.payload).add(static_cast<std::int64_t>(job.priority));
        args.add(model::to_string(job.state)).add(to_millis(job.created_at)).add(to_millis(job.updated_at)).add(to_millis(job.run_at));
        args.add(static_cast<std::int64_t>(job.attempts)).add(static_cast<std::int64_t>(job.attempts_since_retry));
        args.add(static_cast<std::int64_t>(job.lost));
        args.add_optional(optional_ms(job.ttl));
        args.add_optional(job.expires_at ? std::optional<std::int64_t>(to_millis(*job.expires_at)) : std::nullopt);
        args.add_optional(optional_ms(job.timeout));
        args.add_optional(job.max_attempts ? std::optional<std::int64_t>(*job.max_attempts) : std::nullopt);
        args.add_optional(job.result).add_optional(job.error);
        std::optional<std::string> percent, message;
        if (job.progress) {
            char text[32];
            std::snprintf(text, sizeof text, "%.17g", job.progress->percent);
            percent = text;
            message = job.progress->message;
        }
        args.add_optional(percent).add_optional(message);
        args.add(job.schedule).add_optional(job.key);
        args.add(static_cast<std::int64_t>(job.depends_on.size()));
        for (model::JobId dependency : job.depends_on) args.add(dependency);
        args.add(static_cast<std::int64_t>(copy.attempts.size()));
        for (const auto& attempt : copy.attempts) {
            const auto& outcome = attempt.outcome;
            const bool in_job = result_is_the_jobs(job, attempt);
            args.add(attempt.attempt_id).add(static_cast<std::int64_t>(attempt.number)).add(attempt.host);
            args.add(model::to_string(outcome.kind)).add(encode_outcome(outcome));
            args.add_optional(in_job || outcome.result.empty() ? std::nullopt : std::optional<std::string>(outcome.result));
            args.add(in_job ? "1" : "0");
        }
    }
    run("importing jobs", Script::import, now, args, [](const Value&) { return 0; });
}

void RedisStore::import_schedule(const std::string& name, model::TimePoint last_fire)
{
    Poco::Redis::Array hset;
    hset << "HSET" << key("schedule:" + name) << "last" << std::to_string(to_millis(last_fire)) << "u"
         << std::to_string(to_millis(std::chrono::system_clock::now()));
    command("importing a schedule", hset, [](const Value&) { return 0; });
}

std::int64_t RedisStore::continue_events(std::int64_t after, const std::string& from, model::TimePoint now)
{
    ScriptArgs args;
    args.add(after).add(from);
    return run("continuing the event feed", Script::continue_events, now, args, [](const Value& reply) { return integer(reply); });
}

std::vector<std::pair<std::string, std::string>> RedisStore::unclaimable_tasks(const std::vector<QueueAllowance>& queues)
{
    ScriptArgs args;
    add_allowances(args, queues);
    return run("looking for tasks no allowance takes", Script::unclaimable, model::TimePoint{}, args, [](const Value& reply) {
        const auto flat = elements(reply);
        std::vector<std::pair<std::string, std::string>> out;
        for (std::size_t i = 0; i + 1 < flat.size(); i += 2) out.emplace_back(bytes(flat[i]), bytes(flat[i + 1]));
        // Each queue's tasks come together, in the allowances' order: sorted by task within it.
        for (auto first = out.begin(); first != out.end();) {
            const auto last = std::find_if(first, out.end(), [&](const auto& entry) { return entry.first != first->first; });
            std::sort(first, last);
            first = last;
        }
        return out;
    });
}

} // namespace sandhost::store::redis
