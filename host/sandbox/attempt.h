// What an attempt needs: the job to run, the sandbox settings, where its reports go, and a
// way to cancel it from another thread.
#pragma once

#include "os/unique_fd.h"
#include "process/launcher.h"
#include "model/outcome.h"
#include "model/sandbox_settings.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace sandhost::sandbox {

struct AttemptSpec {
    std::filesystem::path plugin_path;  // the library file
    std::string task;
    std::string payload;                // JSON text
    model::SandboxSettings settings;
    // What the task's job_info service reports; zero and empty for an attempt outside a queue.
    std::int64_t job_id = 0;
    std::uint32_t attempt = 0;
    std::string queue;
    // Load the plugin even when it, or its folder, is writable by others than its owner and
    // root (host.allow_insecure_plugins), with a warning once per library.
    bool allow_insecure_plugin = false;
    // How long the worker may run the job without hearing that its lease was renewed
    // (CancelToken::renew_lease) before it stops itself and everything it started; zero: no
    // lease (an attempt outside a queue). Ignored where no worker runs the task (inline).
    model::Duration lease{0};
    // The attempt's private folder (TMPDIR, and the working folder unless
    // settings.privileges.filesystem.workdir names one). Set by the sandbox for every attempt
    // it runs in a worker; empty: the worker stays where it is.
    std::filesystem::path folder;
};

// Receives an attempt's live reports, on the thread that runs the attempt. Keep them quick.
class AttemptObserver {
public:
    virtual ~AttemptObserver() = default;
    virtual void on_started(pid_t /*pid*/) {}
    virtual void on_ready() {}
    virtual void on_progress(const model::ProgressReport& /*progress*/) {}
    virtual void on_log(int /*level*/, std::string_view /*message*/) {}
    virtual void on_heartbeat() {}
};

// Cancels a running attempt, and renews its worker's lease, from any thread. The attempt sees
// either within one poll cycle.
class CancelToken {
public:
    using SteadyTime = std::chrono::steady_clock::time_point;

    // Throws HostError when no eventfd can be created (the host is out of descriptors).
    CancelToken();
    // politely: the task is asked to stop, then signalled after the grace period; at_once: the
    // worker's tree is killed (the attempt lost its lease: what it does now only repeats what
    // the attempt that took its job over does).
    enum class Stop { politely, at_once };
    void request(Stop how = Stop::politely) noexcept;
    bool requested() const noexcept { return m_requested.load(std::memory_order_acquire); }
    bool at_once() const noexcept { return m_at_once.load(std::memory_order_acquire); }
    // Readable once requested (an eventfd), for poll().
    int fd() const noexcept { return m_event.get(); }

    // The attempt's lease now runs until `until`: the worker is told it may go on until then.
    void renew_lease(SteadyTime until) noexcept;
    // How many renewals were made (the session sends each new one), and the last one's end.
    std::uint64_t lease_renewals() const noexcept { return m_renewals.load(std::memory_order_acquire); }
    SteadyTime lease_until() const noexcept { return SteadyTime(SteadyTime::duration(m_lease_until.load(std::memory_order_acquire))); }

private:
    std::atomic<bool> m_requested{false};
    std::atomic<bool> m_at_once{false};
    os::UniqueFd m_event;
    std::atomic<SteadyTime::rep> m_lease_until{0};
    std::atomic<std::uint64_t> m_renewals{0};
};

// Where the worker executable is and how to start it.
struct WorkerConfig {
    std::filesystem::path executable;
    process::LauncherKind launcher = process::LauncherKind::posix_spawn;
    // The folder that holds the attempts' private folders, kept writable for workers with
    // filesystem.read_only (set by the Sandbox; empty: none).
    std::filesystem::path attempts_root;

    // SANDHOST_WORKER if set, else found beside the running code (see worker_locator.h).
    static WorkerConfig defaults();
};

} // namespace sandhost::sandbox
