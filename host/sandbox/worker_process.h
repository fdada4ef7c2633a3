// WorkerProcess: the process a WorkerSession supervises, however it was started. A spawned
// worker is the host's own child (reaped with wait4); a child of a fork server is reaped by
// the server, which reports how it ended on a status pipe.
#pragma once

#include "os/unique_fd.h"
#include "process/child_process.h"

#include <memory>
#include <optional>
#include <sys/types.h>

namespace sandhost::sandbox {

class WorkerProcess {
public:
    virtual ~WorkerProcess() = default;
    virtual pid_t pid() const = 0;
    bool running() const { return pid() > 0 && !termination(); }
    // Readable once the process has ended (or its reaper has gone); -1 to poll try_reap().
    virtual int exit_fd() const = 0;
    // Non-blocking: how it ended, once it has.
    virtual std::optional<process::Termination> try_reap() = 0;
    // Blocks until it has ended.
    virtual process::Termination reap() = 0;
    virtual const std::optional<process::Termination>& termination() const = 0;
    // The process group (and the process), harmless once it has ended.
    virtual void signal_group(int signal_number) const = 0;
    // True when the process that reaps it died first (its outcome is then worker_lost).
    virtual bool reaper_lost() const { return false; }
};

// A worker launched by the Spawner: the host's own child.
std::unique_ptr<WorkerProcess> spawned_process(process::ChildProcess child);

// A child of a fork server: `status` is the read end of the pipe on which the server writes a
// protocol::ChildStatus once it has reaped it (end of file without one: the server is gone).
std::unique_ptr<WorkerProcess> forked_process(pid_t pid, os::UniqueFd status);

} // namespace sandhost::sandbox
