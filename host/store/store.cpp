#include "store/store.h"

#include <exception>
#include <string>
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

} // namespace sandhost::store
