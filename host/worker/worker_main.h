// The worker process: everything sandhost-worker does between exec and exit.
//
// Start-up, in this order, before any plugin code runs: reset the signal mask and
// dispositions, lead its own process group, die with the host (a parent-death signal whose
// handler first kills the worker's descendants), close every inherited descriptor but the
// channel and stdio, give up what its queue does not grant (privileges.h), become a child
// subreaper (so nothing the task starts can escape the
// attempt), say hello. Then serve jobs by role (job_runner.h, fork_server_role.h).
#pragma once

#include "plugin/library_loader.h"
#include "worker/job_runner.h"
#include "worker/privileges.h"

#include <optional>
#include <sys/types.h>

namespace sandhost::worker {

struct Arguments {
    int channel_fd = -1;
    pid_t host_pid = 0;
    Role role = Role::spawn;
    bool signals_clean = false;  // the launcher already reset the signal mask and dispositions
    bool bound_now = false;      // the host set LD_BIND_NOW for the dynamic linker: dropped at once
    WorkerPrivileges privileges;  // what the worker gives up before it says hello
};

// argv: --channel-fd N --host-pid PID [--role spawn|reuse|fork-server] [--signals-clean 0|1]
// [--bound-now 0|1] and the privilege arguments of privileges.h, in any order. nullopt when a
// key is unknown or has no value, a number does not parse, or the channel or host is missing.
std::optional<Arguments> parse_arguments(int argc, const char* const* argv);

// Runs the worker with argv, loading plugins with `loader`, and exits: 0 when the host is
// done with it, a protocol::WorkerExit (after a line on stderr) when it cannot go on, e.g.
// WorkerExit::usage for arguments parse_arguments() refuses.
[[noreturn]] void worker_main(int argc, char** argv, const plugin::LibraryLoader& loader);

} // namespace sandhost::worker
