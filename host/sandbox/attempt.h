// What an attempt needs: the job to run, the sandbox settings, where its reports go, and a
// way to cancel it from another thread.
#pragma once

#include "os/unique_fd.h"
#include "process/launcher.h"
#include "model/outcome.h"
#include "model/sandbox_settings.h"

#include <atomic>
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

// Cancels a running attempt from any thread. The attempt sees it within one poll cycle.
class CancelToken {
public:
    // Throws HostError when no eventfd can be created (the host is out of descriptors).
    CancelToken();
    void request() noexcept;
    bool requested() const noexcept { return m_requested.load(std::memory_order_acquire); }
    // Readable once requested (an eventfd), for poll().
    int fd() const noexcept { return m_event.get(); }

private:
    std::atomic<bool> m_requested{false};
    os::UniqueFd m_event;
};

// Where the worker executable is and how to start it.
struct WorkerConfig {
    std::filesystem::path executable;
    process::LauncherKind launcher = process::LauncherKind::posix_spawn;

    // SANDHOST_WORKER if set, else found beside the running code (see worker_locator.h).
    static WorkerConfig defaults();
};

} // namespace sandhost::sandbox
