// Where a job goes after an attempt: the outcome table's retryability, the queue's retry
// policy and backoff, max_lost for poison pills. Pure functions, unit-tested on their own.
#pragma once

#include "config/settings.h"
#include "model/outcome.h"
#include "store/store.h"

#include <random>

namespace sandhost::scheduler {

// The delay before the attempt after attempt number `attempt` (1-based): delay, or
// delay * factor^(attempt-1) for exponential, capped at max, then moved by a uniformly random
// fraction in [-jitter, +jitter] of itself. random01 is uniform in [0, 1).
model::Duration backoff_delay(const config::Backoff& backoff, std::uint32_t attempt, double random01);

// The transition for `job` (as claimed: its counters include this attempt) after `outcome`.
//   succeeded -> completed; cancelled -> cancelled; not retryable (load_failed,
//   result_too_large, a permanent error) -> dead; a crashed or worker_lost attempt that
//   reaches the queue's max_lost -> dead (poison pill); no attempts left -> dead;
//   otherwise waiting again after the backoff (delayed while it runs).
store::Transition decide(const model::Job& job, const model::Outcome& outcome, const config::QueueSettings& queue,
                         model::TimePoint now, double random01);

// "crashed: worker died by SIGSEGV" — the one-line reason kept on a job.
std::string describe(const model::Outcome& outcome);

} // namespace sandhost::scheduler
