// ChildProcess: the owner of a launched worker process, and the typed way it ended.
#pragma once

#include "os/unique_fd.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>

namespace sandhost::process {

class Spawner;

// How a process ended: an exit code or a signal, never folded into one int.
struct ExitStatus {
    enum class Kind { exited, signalled };
    Kind kind = Kind::exited;
    int exit_code = 0;      // when exited
    int signal_number = 0;  // when signalled
    bool core_dumped = false;

    static ExitStatus from_wait_status(int status);
    std::string describe() const;  // "exit code 3", "signal SIGSEGV (core dumped)"
};

struct ResourceUsage {
    std::uint64_t max_rss_kb = 0;
    std::chrono::microseconds user_cpu{0};
    std::chrono::microseconds system_cpu{0};

    std::chrono::milliseconds cpu() const { return std::chrono::duration_cast<std::chrono::milliseconds>(user_cpu + system_cpu); }
};

struct Termination {
    ExitStatus status;
    ResourceUsage usage;
};

// A child process launched by the Spawner. Move-only.
//
// End-of-life rule: destroying a ChildProcess that was not reaped kills its whole tree
// (SIGKILL) and reaps it, blocking for as long as that takes. A caller who wants a graceful
// stop does it first (see sandbox/stop_policy.h).
class ChildProcess {
public:
    ChildProcess() = default;
    ChildProcess(Spawner* spawner, pid_t pid, os::UniqueFd pidfd);
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    pid_t pid() const noexcept { return m_pid; }
    bool running() const noexcept { return m_pid > 0 && !m_termination; }

    // A descriptor that becomes readable once the process has ended (a pidfd), or -1 when the
    // kernel has none: then poll try_reap() on a short interval.
    int exit_fd() const noexcept { return m_pidfd.get(); }

    // Non-blocking: the termination if the process has ended (it is then reaped), else nullopt.
    std::optional<Termination> try_reap();
    // Blocks until the process ends, then reaps it.
    Termination reap();
    // The termination once reaped.
    const std::optional<Termination>& termination() const noexcept { return m_termination; }

    // Sends a signal to the process / to its process group (its pid; workers lead their own
    // group). Harmless once it has ended.
    void signal(int signal_number) const;
    void signal_group(int signal_number) const;

private:
    std::optional<Termination> wait(bool block);
    void release();

    Spawner* m_spawner = nullptr;
    pid_t m_pid = -1;
    os::UniqueFd m_pidfd;
    std::optional<Termination> m_termination;
};

} // namespace sandhost::process
