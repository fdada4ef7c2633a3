// WorkerProcess: the process a WorkerSession supervises, however it was started. A spawned
// worker is the host's own child (reaped with wait4); a child of a fork server is reaped by
// the server, which reports how it ended on a status pipe.
#pragma once

#include "os/unique_fd.h"
#include "process/child_process.h"

#include <chrono>
#include <cstdint>
#include <functional>
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
    // Passes a renewal of the job's lease (`left` from now) to whoever keeps it outside the
    // worker; false when the worker keeps its lease itself (it is to be told on its channel).
    virtual bool renew_lease(std::chrono::milliseconds /*left*/) { return false; }
    // Once ended: how late after its lease ran out its reaper ended it, if that is why it ended.
    virtual std::optional<std::int64_t> lease_overdue_ms() const { return std::nullopt; }
};

// How a fork server's child has its lease renewed: sends protocol::ChildLease for `pid` to
// the server.
using ChildLeaseRenewer = std::function<void(pid_t pid, std::chrono::milliseconds left)>;

// A worker launched by the Spawner: the host's own child.
std::unique_ptr<WorkerProcess> spawned_process(process::ChildProcess child);

// A child of a fork server: `status` is the read end of the pipe on which the server writes a
// protocol::ChildStatus once it has reaped it (end of file without one: the server is gone).
// With a `renewer`, the server keeps the child's lease and renewals go to it.
std::unique_ptr<WorkerProcess> forked_process(pid_t pid, os::UniqueFd status, ChildLeaseRenewer renewer = {});

} // namespace sandhost::sandbox
