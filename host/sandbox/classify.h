// From the facts the supervisor gathered about an attempt to its outcome. Pure: no I/O, so
// every rule of the outcome table is unit-tested without processes.
#pragma once

#include "process/child_process.h"
#include "protocol/messages.h"
#include "model/outcome.h"
#include "model/sandbox_settings.h"
#include "sandbox/stop_policy.h"

#include <optional>
#include <string>

namespace sandhost::sandbox {

struct AttemptFacts {
    bool hello_seen = false;
    bool ready_seen = false;
    std::optional<StopReason> stop;             // the host decided to stop the worker
    bool killed = false;                        // SIGKILL was needed
    std::optional<protocol::Done> done;         // the task returned
    std::optional<std::string> load_failed;     // the worker could not load the plugin or task
    bool task_missing = false;                  // ... because the plugin has no such task
    bool loading = false;                       // the worker said it loads the plugin, and not yet that it did
    bool reaper_lost = false;                   // the fork server that reaped this worker died
    std::optional<process::Termination> termination;
    std::optional<protocol::Ready> baseline;    // the worker's memory when it became ready
    model::Limits limits;
    std::string worker_executable;
    std::string stderr_tail;
};

// The outcome's kind and kind-specific fields (result, error, signal, exit code, limit,
// killed). The caller adds the common fields (times, pid, usage, output, progress).
//   A worker that dies while loading the plugin (its constructors or init hook crash, abort,
//   throw or exit) ends as load_failed with plugin_unusable: the plugin is to blame, not a task.
model::Outcome classify(const AttemptFacts& facts);

// Whether the outcome is a worker that stopped itself because its lease ran out unrenewed
// (see protocol::WorkerExit::lease_expired): the host lost track, not the job.
bool lease_ran_out(const model::Outcome& outcome);

} // namespace sandhost::sandbox
