// The long-lived workers of the fork and reuse modes, and the plugins that keep failing.
//
//   fork:  fork servers per plugin, the first started on first use, more in the background
//          while every one is busy forking (up to one per CPU), each replaced when it dies or
//          stops answering (the job that found it so is forked again from a new one);
//   reuse: idle workers per plugin and limits, each serving one job at a time, recycled
//          after max_jobs_per_worker jobs or above max_rss, never given another job after
//          anything but a success, shut down after idle_timeout without work.
//
// A plugin whose library fails to load three times in a row is marked broken: its jobs fail
// at once as load_failed, without starting a process, until a back-off (5 s, doubling up to
// 5 min) has passed or the library file changes.
#pragma once

#include "sandbox/attempt.h"
#include "model/outcome.h"

namespace sandhost::sandbox {

// Runs one attempt in `spec.settings.mode` (spawn included). Thread-safe.
model::Outcome run_in_pool(const AttemptSpec& spec, const WorkerConfig& worker, AttemptObserver* observer, CancelToken* cancel);

// Stops every idle reuse worker and every fork server now, and forgets broken plugins.
// Attempts still running finish on their own.
void shutdown_pools();

} // namespace sandhost::sandbox
