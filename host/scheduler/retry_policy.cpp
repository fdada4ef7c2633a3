#include "scheduler/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace sandhost::scheduler {

model::Duration backoff_delay(const config::Backoff& backoff, std::uint32_t attempt, double random01)
{
    double ms = static_cast<double>(backoff.delay.count());
    if (backoff.type == config::BackoffType::exponential && attempt > 1) {
        ms *= std::pow(backoff.factor, static_cast<double>(attempt - 1));
    }
    ms = std::min(ms, static_cast<double>(backoff.max.count()));
    ms *= 1.0 + backoff.jitter * (2.0 * random01 - 1.0);
    return model::Duration(static_cast<std::int64_t>(std::max(0.0, std::round(ms))));
}

std::string describe(const model::Outcome& outcome)
{
    std::string text = model::to_string(outcome.kind);
    if (!outcome.error.empty()) text += ": " + outcome.error;
    return text;
}

store::Transition decide(const model::Job& job, const model::Outcome& outcome, const config::QueueSettings& queue,
                         model::TimePoint now, double random01)
{
    using model::OutcomeKind;
    store::Transition t;
    if (outcome.kind == OutcomeKind::succeeded) {
        t.next = model::JobState::completed;
        t.result = outcome.result;
        return t;
    }
    t.error = describe(outcome);
    if (outcome.kind == OutcomeKind::cancelled) {
        t.next = model::JobState::cancelled;
        return t;
    }
    t.counts_as_lost = outcome.kind == OutcomeKind::crashed || outcome.kind == OutcomeKind::worker_lost;
    if (!model::retryable(outcome)) {
        t.next = model::JobState::dead;
        return t;
    }
    const std::uint32_t lost = job.lost + (t.counts_as_lost ? 1 : 0);
    if (t.counts_as_lost && lost >= queue.max_lost) {
        t.next = model::JobState::dead;
        *t.error += " (" + std::to_string(lost) + " lost or crashed attempts reached max_lost " + std::to_string(queue.max_lost) + ")";
        return t;
    }
    const std::uint32_t max_attempts = job.max_attempts.value_or(queue.retry.max_attempts);
    if (job.attempts_since_retry >= max_attempts) {
        t.next = model::JobState::dead;
        *t.error += " (no attempts left: " + std::to_string(job.attempts_since_retry) + " of " + std::to_string(max_attempts) + ")";
        return t;
    }
    const auto delay = backoff_delay(queue.retry.backoff, job.attempts_since_retry, random01);
    if (delay.count() > 0) {
        t.next = model::JobState::delayed;
        t.run_at = now + delay;
    } else {
        t.next = model::JobState::waiting;
    }
    return t;
}

} // namespace sandhost::scheduler
