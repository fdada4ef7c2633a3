#include "store/store.h"

#include <exception>

namespace sandhost::store {
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

} // namespace sandhost::store
