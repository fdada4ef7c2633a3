// Starting a sandhost-worker process: the one place the host builds a worker's launch (its
// channel, its output pipes, its arguments), for every role.
#pragma once

#include "os/result.h"
#include "os/unique_fd.h"
#include "process/child_process.h"
#include "process/spawner.h"
#include "sandbox/attempt.h"
#include "sandbox/worker_grant.h"

namespace sandhost::sandbox {

enum class WorkerRole { spawn, reuse, fork_server };
const char* to_string(WorkerRole role);  // the worker's --role value

// A started worker and the host's ends of its pipes: the channel socket (blocking) and the
// stdout and stderr pipes (non-blocking).
struct LaunchedWorker {
    process::ChildProcess child;
    os::UniqueFd channel;
    os::UniqueFd stdout_read;
    os::UniqueFd stderr_read;
};

// Creates the pipes and starts config.executable in `role` through `spawner`, granted
// `privileges` (and, for a spawned job's worker, `job`'s variables in its environment). Fails
// with the errno of whatever failed (an unknown user or group, descriptors, the launch);
// nothing is left open on failure.
os::Result<LaunchedWorker> launch_worker(process::Spawner& spawner, const WorkerConfig& config, WorkerRole role,
                                         const model::Privileges& privileges, const JobIdentity* job = nullptr);

} // namespace sandhost::sandbox
