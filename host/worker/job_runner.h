// A worker's jobs: watch the job's lease, apply the limits, enter the job's folders, load the plugin (and initialise it,
// unless the job only describes it) between a loading and a loaded message, report ready, run
// the task, report done, end what the task left running.
#pragma once

#include "plugin/library_loader.h"
#include "plugin/plugin_library.h"
#include "plugin/task_call.h"
#include "protocol/messages.h"
#include "worker/lease_watch.h"
#include "worker/limits.h"
#include "worker/worker_channel.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <sys/types.h>

namespace sandhost::worker {

// What the host started the worker as: one job per process, many, or a fork server.
enum class Role { spawn, reuse, fork_server };

class JobRunner {
public:
    // inherited_max_rss_kb: ru_maxrss when the process started (see protocol::Hello).
    JobRunner(WorkerChannel& channel, Role role, const plugin::LibraryLoader& loader, std::uint64_t inherited_max_rss_kb);

    // Runs one job and reports on the channel; false when the worker must exit afterwards
    // (spawn role, a describe job, a failed task, a plugin or task that could not be used).
    // Blocks for as long as the task runs.
    bool handle_job(const protocol::Job& job);

    // A fork server's start: loads and initialises the job's plugin and reads what its
    // children would otherwise each read. False, after reporting load_failed, when it cannot.
    bool preload(const protocol::Job& job);

    // A forked child serves its own job on its own channel, as a spawn-role worker whose
    // ready is implied (the server's answer to the host stands for it); its peak resident size
    // is its own ru_maxrss (a forked process inherits none).
    void become_job_child(WorkerChannel& channel);

    // Calls the plugin's shutdown hook if the plugin was initialised.
    void shutdown_plugin();

    // Nothing has started a thread in this process yet: no plugin loaded (its constructors may
    // start threads), no lease watched. A process moves whole into a group by v1's `tasks`
    // only while this holds.
    bool single_threaded() const { return !m_library && !m_lease_watch; }

private:
    enum class Init { yes, no };
    // Loads the job's plugin unless this worker already holds it, and runs its init hook once
    // when asked. False, after reporting load_failed, when it cannot. Its loaded message is
    // held for the caller's next one (WorkerChannel::hold).
    bool ensure_loaded(const protocol::Job& job, Init init);
    bool initialise();
    // TMPDIR and the working folder of the job (see protocol::Job); exits the worker with
    // WorkerExit::setup_failed when it cannot enter them.
    void enter_job_folders(const protocol::Job& job);
    void describe();
    bool send_ready();
    // Sends the task's report with this process's usage so far; returns the CPU time in it.
    std::uint64_t send_done(const plugin::TaskReport& report);
    std::uint64_t own_peak_rss_kb(const rusage& self);
    bool fail_load(const std::string& message, bool task_missing = false);
    // The job's lease starts (see lease_watch.h); exits with WorkerExit::setup_failed when it
    // cannot be watched.
    void watch_lease(const protocol::Job& job);
    void job_over();

    WorkerChannel* m_channel;
    Role m_role;
    const plugin::LibraryLoader& m_loader;
    Limiter m_limiter;
    bool m_ready_implied = false;
    std::optional<plugin::PluginLibrary> m_library;
    bool m_initialised = false;
    std::unique_ptr<LeaseWatch> m_lease_watch;  // from the first job with a lease on
    std::uint64_t m_inherited_max_rss_kb;
    // The last VmHWM read, and the fault count it was read at (own_peak_rss_kb).
    std::uint64_t m_faults_at_last_read = ~std::uint64_t{0};
    std::uint64_t m_peak_at_last_read = 0;
};

// The memory of `self` (this process's pid) now: the baseline a ready message carries.
protocol::Ready memory_baseline(pid_t self);

// The next job for a worker between jobs (cancels for a job that is over are skipped);
// nullopt when the host closed the channel or said shutdown. An enter_group before it is
// carried out on the way (group_entry.h), when `runner` says the process is single-threaded
// still. Exits, after a line on stderr, with WorkerExit::broken_frame, host_gone,
// unexpected_message or setup_failed when the channel broke, failed or brought something else,
// or the group could not be entered.
std::optional<protocol::Job> receive_job(WorkerChannel& channel, const JobRunner& runner);

// Ends whatever the task started and left behind, then reaps it. The worker is a subreaper,
// so every such process is its child or its child's descendant. Costs one waitid when there
// is none. Registered with atexit, so a task that calls exit() takes its processes with it.
void end_leftovers();

} // namespace sandhost::worker
