// The Spawner: where a sandbox starts its workers, and the owner of its children. A sandbox
// owns one; several may live in one process (two embedded hosts, say).
//
// Every launch runs on the spawner's own thread, which lives until the spawner is destroyed.
// A worker asks the kernel to kill it when its parent dies (PR_SET_PDEATHSIG), and Linux
// counts the *thread* that launched it as the parent: launching from short-lived threads would
// kill workers early. The destructor therefore first kills and reaps every child still
// registered, then ends the thread.
//
// The host is made a child subreaper: whatever a worker started is re-parented to the host
// (to its main thread) when the worker dies, however it left its session or group. Every
// child of the main thread or of the launch thread that the Spawner did not launch is
// therefore a stray from a finished attempt, and reap_strays() kills and reaps it: a program
// that embeds the host must start its own children from other threads.
#pragma once

#include "os/result.h"
#include "process/child_process.h"
#include "process/launcher.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace sandhost::process {

class Spawner {
public:
    // Starts the launch thread and makes this process a child subreaper. Throws
    // std::system_error when the thread cannot be started.
    Spawner();
    // Kills (SIGKILL, whole trees) and reaps every child still registered, reaps strays, and
    // joins the launch thread. Blocks while they die.
    ~Spawner();
    Spawner(const Spawner&) = delete;
    Spawner& operator=(const Spawner&) = delete;

    // Launches on the launch thread with the given launcher kind and waits for the outcome.
    // The returned ChildProcess is registered until reaped. Thread-safe.
    os::Result<ChildProcess> launch(const LaunchRequest& request, LauncherKind kind);

    // Kills (SIGKILL) and reaps every child of this process that the spawner does not own,
    // until none is left. Returns how many it reaped. Thread-safe; blocks while they die.
    int reap_strays();

    // The pids launched and not yet reaped.
    std::set<pid_t> live_children() const;

    // The default launcher for this platform, overridable with SANDHOST_LAUNCHER=poco|posix_spawn.
    static LauncherKind default_launcher();

private:
    void run_launch_thread();
    friend class ChildProcess;
    void forget(pid_t pid);

    mutable std::mutex m_mutex;  // guards m_children and the queue
    std::condition_variable m_wake;
    std::deque<std::function<void()>> m_queue;
    bool m_stopping = false;  // the launch thread ends once the queue is empty
    std::set<pid_t> m_children;
    std::unique_ptr<Launcher> m_launchers[2];
    // The launch thread's id: the parent of every worker.
    std::atomic<pid_t> m_launch_tid{0};
    std::thread m_thread;  // last: started once everything above exists
};

} // namespace sandhost::process
