#include "store/store.h"

#include "model/job_json.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace sandhost::store {

void check_batch_size(std::size_t jobs)
{
    if (jobs > k_max_enqueue_batch) {
        throw StoreRequestError(std::to_string(jobs) + " jobs in one enqueue: at most " + std::to_string(k_max_enqueue_batch) +
                                " are stored in one step; nothing was enqueued");
    }
}

model::Duration latency(const QueueCounts& counts, model::TimePoint now)
{
    if (!counts.earliest_due || *counts.earliest_due >= now) return model::Duration(0);
    return std::chrono::duration_cast<model::Duration>(now - *counts.earliest_due);
}

Store::FinishAndClaim Store::finish_and_claim(const model::AttemptRecord& attempt, const Transition& transition, model::TimePoint now,
                                              const std::vector<QueueAllowance>& queues, const std::string& holder, model::Duration lease)
{
    FinishAndClaim result;
    result.applied = finish(attempt, transition, now);
    try {
        result.claim = claim(queues, holder, lease, now);
    } catch (const std::exception& e) {
        result.claim_error = e.what();
    }
    return result;
}

namespace {

// The allowances of `queues` that have a slot left.
std::vector<QueueAllowance> with_free_slots(const std::vector<QueueAllowance>& queues)
{
    std::vector<QueueAllowance> open;
    for (const auto& allowance : queues) {
        const bool own_slot = !allowance.slots || *allowance.slots > 0;
        const bool shared_slot = !allowance.shared_slots || *allowance.shared_slots > 0;
        if (own_slot && shared_slot) open.push_back(allowance);
    }
    return open;
}

void take_slot(std::vector<QueueAllowance>& queues, const std::string& queue)
{
    for (auto& allowance : queues) {
        if (allowance.queue != queue) continue;
        if (allowance.slots && *allowance.slots > 0) --*allowance.slots;
        if (allowance.shared_slots) {
            for (auto& sharing : queues) {
                if (sharing.shared_slots && *sharing.shared_slots > 0) --*sharing.shared_slots;
            }
        }
        return;  // as a claim reads them: the first allowance of a queue counts
    }
}

} // namespace

std::vector<Claim> claim_in_turn(const std::vector<QueueAllowance>& queues, std::size_t max,
                                 const std::function<std::optional<Claim>(const std::vector<QueueAllowance>&)>& claim_one)
{
    std::vector<Claim> claims;
    std::vector<QueueAllowance> open = with_free_slots(queues);
    while (claims.size() < max && !open.empty()) {
        auto claimed = claim_one(open);
        if (!claimed) break;
        take_slot(open, claimed->job.queue);
        open = with_free_slots(open);
        claims.push_back(std::move(*claimed));
    }
    return claims;
}

std::vector<Claim> Store::claim_batch(const std::vector<QueueAllowance>& queues, const std::string& holder, model::Duration lease,
                                      model::TimePoint now, std::size_t max)
{
    return claim_in_turn(queues, max, [&](const std::vector<QueueAllowance>& open) { return claim(open, holder, lease, now); });
}

Store::FinishBatch Store::finish_batch(const std::vector<Ending>& endings, model::TimePoint now, const std::vector<QueueAllowance>& queues,
                                       const std::string& holder, model::Duration lease, std::size_t max_claims)
{
    FinishBatch result;
    std::vector<QueueAllowance> open = with_free_slots(queues);
    if (endings.size() == 1 && max_claims > 0 && !open.empty()) {
        // The one ending and the first claim in one step where the store has one for it.
        auto both = finish_and_claim(endings.front().attempt, endings.front().transition, now, open, holder, lease);
        result.recorded = 1;
        result.applied.push_back(both.applied);
        result.claim_error = std::move(both.claim_error);
        if (!both.claim) return result;
        take_slot(open, both.claim->job.queue);
        result.claims.push_back(std::move(*both.claim));
    } else {
        for (const auto& ending : endings) {
            try {
                result.applied.push_back(finish(ending.attempt, ending.transition, now));
            } catch (const std::exception& e) {
                if (result.recorded == 0) throw;
                result.finish_error = e.what();
                return result;
            }
            ++result.recorded;
        }
    }
    if (result.claims.size() >= max_claims) return result;
    try {
        for (auto& claimed : claim_batch(open, holder, lease, now, max_claims - result.claims.size())) result.claims.push_back(std::move(claimed));
    } catch (const std::exception& e) {
        result.claim_error = e.what();
    }
    return result;
}

std::vector<model::JobId> Store::job_ids(const std::string& queue, model::JobState state, const std::optional<std::string>& task,
                                         std::optional<model::TimePoint> changed_since)
{
    JobFilter filter;
    filter.queue = queue;
    filter.state = state;
    filter.task = task;
    filter.limit = 500;
    std::vector<model::JobId> ids;
    while (true) {
        const auto jobs = list(filter);
        for (const auto& job : jobs) {
            if (!changed_since || job.updated_at >= *changed_since) ids.push_back(job.id);
        }
        if (jobs.size() < filter.limit) return ids;
        filter.before = jobs.back().id;
    }
}

ActionResult ActionResult::of(CancelResult result)
{
    switch (result) {
    case CancelResult::cancelled: return ActionResult{Kind::changed, {}};
    case CancelResult::requested: return ActionResult{Kind::requested, {}};
    case CancelResult::already_final:
    case CancelResult::not_found: break;
    }
    return ActionResult{};
}

void check_action_size(std::size_t jobs)
{
    if (jobs > k_max_action_batch) {
        throw StoreRequestError("at most " + std::to_string(k_max_action_batch) + " jobs are changed at once, not " + std::to_string(jobs));
    }
}

std::vector<ActionResult> Store::change_jobs(JobAction action, const std::vector<model::JobId>& jobs, model::TimePoint now)
{
    check_action_size(jobs.size());
    std::vector<ActionResult> results;
    for (model::JobId job : jobs) {
        try {
            switch (action) {
            case JobAction::retry: results.push_back(ActionResult::of(retry(job, now))); break;
            case JobAction::cancel: results.push_back(ActionResult::of(cancel(job, now))); break;
            case JobAction::promote: results.push_back(ActionResult::of(promote(job, now))); break;
            }
        } catch (const StoreRequestError& e) {
            results.push_back(get(job) ? ActionResult{ActionResult::Kind::refused, e.what()} : ActionResult{});
        }
    }
    return results;
}

void check_import_size(std::size_t jobs)
{
    if (jobs > k_max_import_batch) {
        throw StoreRequestError("at most " + std::to_string(k_max_import_batch) + " jobs are imported at once, not " + std::to_string(jobs));
    }
}

bool result_is_the_jobs(const model::Job& job, const model::AttemptRecord& attempt)
{
    return job.state == model::JobState::completed && job.result && !attempt.outcome.result.empty() && *job.result == attempt.outcome.result;
}

namespace {

// What a copied job weighs in a step's request.
std::size_t weight(const JobCopy& copy)
{
    std::size_t bytes = 256 + copy.job.payload.size() + copy.job.result.value_or("").size() + copy.job.error.value_or("").size();
    for (const auto& attempt : copy.attempts) {
        const auto& o = attempt.outcome;
        bytes += 512 + o.result.size() + o.error.size() + o.stdout_tail.size() + o.stderr_tail.size();
    }
    return bytes;
}

// Every job of `store`, newest first, a page at a time, to `each`.
void for_each_job(Store& store, const std::function<void(const std::vector<model::Job>&)>& each)
{
    JobFilter page;
    page.limit = k_max_import_batch;
    for (;;) {
        const auto jobs = store.list(page);
        if (jobs.empty()) return;
        each(jobs);
        if (jobs.size() < page.limit) return;
        page.before = jobs.back().id;
    }
}

// What tells a job from another with its id: everything a listing shows of it, hashed (a copy
// shows the same, as the copy tests check).
std::size_t fingerprint(const model::Job& job) { return std::hash<std::string>{}(model::to_json(job, nullptr)); }

// The jobs `to` holds, when each of them is the same in `from`: a part of an earlier copy of
// `from`. StoreRequestError otherwise, before anything is written.
std::unordered_set<model::JobId> part_copied_before(Store& from, Store& to)
{
    std::unordered_map<model::JobId, std::size_t> held;
    for_each_job(to, [&](const std::vector<model::Job>& jobs) {
        for (const auto& job : jobs) held.emplace(job.id, fingerprint(job));
    });
    std::unordered_set<model::JobId> found;
    if (held.empty()) return found;
    for_each_job(from, [&](const std::vector<model::Job>& jobs) {
        for (const auto& job : jobs) {
            const auto it = held.find(job.id);
            if (it == held.end()) continue;
            if (it->second != fingerprint(job)) {
                throw StoreRequestError("job " + std::to_string(job.id) + " is not the same in the store to copy into as in the store to copy (it changed since, " +
                                        "or it is another store's): that store is not a part of a copy of this one");
            }
            found.insert(job.id);
        }
    });
    if (found.size() < held.size()) {
        const auto other = std::find_if(held.begin(), held.end(), [&](const auto& entry) { return !found.contains(entry.first); });
        throw StoreRequestError("the store to copy into holds " + std::to_string(held.size() - found.size()) + " job" +
                                (held.size() - found.size() == 1 ? "" : "s") + " that the store to copy does not (job " + std::to_string(other->first) +
                                "): it is not a part of a copy of this one");
    }
    return found;
}

} // namespace

CopyReport copy_store(Store& from, Store& to, const std::string& from_name, const std::vector<std::string>& schedules, model::TimePoint now,
                      const std::function<void(const CopyReport&)>& progress, CopyStart start)
{
    if (start == CopyStart::into_empty && !to.list(JobFilter{std::nullopt, std::nullopt, std::nullopt, std::nullopt, 1}).empty()) {
        throw StoreRequestError("the store to copy into holds jobs already: copy into an empty one");
    }
    if (!from.list(JobFilter{std::nullopt, model::JobState::active, std::nullopt, std::nullopt, 1}).empty()) {
        throw StoreRequestError("the store to copy holds running jobs: stop every host serving it first");
    }
    const auto copied_before = start == CopyStart::resume ? part_copied_before(from, to) : std::unordered_set<model::JobId>{};
    constexpr std::size_t k_max_step_bytes = 32u << 20;
    CopyReport report;
    std::vector<JobCopy> step;
    std::size_t step_bytes = 0;
    auto flush = [&] {
        if (step.empty()) return;
        to.import_jobs(step, now);
        for (const auto& copy : step) report.attempts += copy.attempts.size();
        report.jobs += step.size();
        step.clear();
        step_bytes = 0;
        if (progress) progress(report);
    };
    std::optional<model::JobId> before;
    for (;;) {
        const auto page = from.list(JobFilter{std::nullopt, std::nullopt, std::nullopt, before, k_max_import_batch});
        if (page.empty()) break;
        report.newest = std::max(report.newest, page.front().id);
        for (const auto& job : page) {
            if (copied_before.contains(job.id)) {
                ++report.already;
                continue;
            }
            // A job that never started has no attempt to read.
            JobCopy copy{job, job.attempts > 0 ? from.attempts(job.id) : std::vector<model::AttemptRecord>{}};
            const std::size_t bytes = weight(copy);
            if (step.size() == k_max_import_batch || (!step.empty() && step_bytes + bytes > k_max_step_bytes)) flush();
            step_bytes += bytes;
            step.push_back(std::move(copy));
        }
        before = page.back().id;
    }
    flush();
    for (const auto& queue : from.paused_queues()) {
        to.set_paused(queue, true);
        report.paused.push_back(queue);
    }
    for (const auto& name : schedules) {
        if (const auto last = from.schedule_last_fire(name)) {
            to.import_schedule(name, *last);
            report.schedules.push_back(name);
        }
    }
    // A reader of `from`'s feed resumes on `to`'s without missing an event.
    std::int64_t last_event = 0;
    for (auto events = from.events_after(0, 10'000); !events.empty(); events = from.events_after(last_event, 10'000)) {
        last_event = events.back().id;
    }
    report.event = to.continue_events(last_event, from_name, now);
    if (progress) progress(report);
    return report;
}

} // namespace sandhost::store

