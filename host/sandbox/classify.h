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

// What the attempt's control group counted during the attempt (see cgroups.h).
struct GroupFacts {
    std::uint64_t oom_kills = 0;      // processes the kernel killed at the group's memory limit
    std::uint64_t forks_refused = 0;  // forks the kernel refused at the group's process limit
    bool memory_enforced = false;     // the group held the memory limit
    bool processes_enforced = false;  // the group held the process limit

    bool operator==(const GroupFacts&) const = default;
};

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
    std::optional<std::int64_t> lease_overdue_ms;  // the fork server ended this child when its lease ran out, this late
    std::optional<process::Termination> termination;
    std::optional<protocol::Ready> baseline;    // the worker's memory when it became ready
    model::Limits limits;
    std::optional<GroupFacts> group;            // the attempt ran in a control group of its own
    std::string worker_executable;
    std::string stderr_tail;
};

// The outcome's kind and kind-specific fields (result, error, signal, exit code, limit,
// killed). The caller adds the common fields (times, pid, usage, output, progress).
//   In a control group, the group's own counters decide the limits: an attempt that did not
//   succeed while the kernel OOM-killed in its group is resource_limit memory, one that had a
//   fork refused at its process limit is resource_limit processes; with the memory limit in a
//   group no death is taken for the memory limit from its peak size.
//   A worker that dies while loading the plugin (its constructors or init hook crash, abort,
//   throw or exit) ends as load_failed with plugin_unusable: the plugin is to blame, not a task.
model::Outcome classify(const AttemptFacts& facts);

// Whether the outcome is a worker that was stopped on its own side because its lease ran out
// unrenewed: it stopped itself (protocol::WorkerExit::lease_expired), or its fork server ended
// it. The host lost track, not the job.
bool lease_ran_out(const model::Outcome& outcome);

} // namespace sandhost::sandbox
