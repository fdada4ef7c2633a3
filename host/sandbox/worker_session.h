// WorkerSession: one live worker process and the host's end of its pipes. It sends the worker
// jobs, supervises each job through explicit phases (deadlines, limits, output, cancel), stops
// it by a stop plan, reaps it, and turns what it saw into an Outcome.
#pragma once

#include "os/result.h"
#include "os/unique_fd.h"
#include "process/spawner.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "sandbox/attempt.h"
#include "sandbox/cgroups.h"
#include "sandbox/stop_policy.h"
#include "sandbox/worker_launch.h"
#include "sandbox/worker_process.h"

#include <chrono>
#include <optional>
#include <string>
#include <variant>

namespace sandhost::sandbox {

// Where one job on a worker stands. Each phase has one deadline, and what happens at it:
//   starting  the job is sent, the worker has not said ready: the startup timeout stops it;
//   running   ready (the job's clock runs): the task's timeout stops it;
//   reported  the task reported its end (or could not start): a spawned worker gets the grace
//             period to exit, then is killed; a reused one is left running for the next job;
//   stopping  a stop plan runs (the first reason to stop decides the outcome): its next step;
//   exited    the process has ended and been reaped; what it wrote last is read.
enum class JobPhase { starting, running, reported, stopping, exited };

class WorkerSession {
public:
    // Launches a worker through `spawner`. Fails with the launch error (errno kept) when the
    // process could not be started; a worker that starts but dies at once is reported by
    // run() instead. The spawner must outlive the session.
    // The worker is granted `privileges`; `job` names the job of a spawned worker.
    static os::Result<WorkerSession> start(process::Spawner& spawner, const WorkerConfig& config, WorkerRole role,
                                           const model::Privileges& privileges, const JobIdentity* job = nullptr);

    // A session over a child a fork server started for one job: its pid and status pipe,
    // and the host's ends of its channel (two pipes: from the child, to it) and output pipes,
    // all non-blocking. Serves exactly one run(), whose job message was already sent on the
    // channel up to `unsent` (the bytes still to send).
    static WorkerSession adopt(const WorkerConfig& config, std::unique_ptr<WorkerProcess> process, os::UniqueFd channel_from,
                               os::UniqueFd channel_to, os::UniqueFd stdout_read, os::UniqueFd stderr_read, std::string unsent,
                               const protocol::Ready& baseline);

    // Who keeps a job's lease: the worker (a thread of its own watches it), or the fork server
    // that forked it (the job message then carries none).
    enum class LeaseKeeper { worker, fork_server };
    // The job message for spec, as run() sends it; `group` is the control group the job will
    // run in, if any (its memory limit then lets the worker's address space be larger).
    // `folder` stands for spec.folder when given.
    static std::string job_frame(const AttemptSpec& spec, const AttemptGroup* group = nullptr, LeaseKeeper keeper = LeaseKeeper::worker,
                                 const std::filesystem::path* folder = nullptr);

    // From now on the worker runs in `group` (the caller has put it there): each job's
    // outcome is judged by the group's counters too, what is left in it after the worker
    // ended is killed, and so is everything but the worker after a reused worker's job. The
    // group goes back to its pool when the session ends.
    void attach_group(CgroupLease group);
    // A spawned or reused worker that has run no job enters `group` by itself: the files to
    // enter it by go to the worker (protocol::EnterGroup), which writes itself into them
    // before it reads its job, or exits as setup_failed (the attempt then ends spawn_failed,
    // saying why); then as attach_group. A worker already gone is no failure here: run()
    // reports how it ended. Fails, the group given back, when its files cannot be opened or
    // sent otherwise.
    os::Status hand_group(CgroupLease group);
    AttemptGroup* group() const { return m_group.get(); }

    WorkerSession(WorkerSession&&) noexcept;
    WorkerSession& operator=(WorkerSession&&) noexcept;
    // End-of-life rule: a worker still running is killed with its whole tree and reaped.
    ~WorkerSession();

    // Runs one job and returns its outcome; blocks until it ends. With the spawn role the
    // worker has ended and been reaped on return. With the reuse role it stays alive after a
    // success (see reusable()). observer and cancel may be null. Throws HostError when the
    // host cannot supervise (a poll that fails): the worker is then killed by the destructor.
    // `folder`, when given, is the job's folder in place of spec.folder (a reused worker's own).
    model::Outcome run(const AttemptSpec& spec, AttemptObserver* observer, CancelToken* cancel,
                       const std::filesystem::path* folder = nullptr);

    // Loads the plugin in the worker, without running its init hook, and returns its
    // description, or the outcome that prevented it (load_failed, spawn_failed, timed_out,
    // ...). The worker ends afterwards.
    std::variant<protocol::Description, model::Outcome> describe(const std::filesystem::path& plugin,
                                                                 const model::SandboxSettings& settings);

    // Whether this worker may take another job: alive, and its last job succeeded.
    bool reusable() const;
    pid_t pid() const { return m_process ? m_process->pid() : -1; }
    std::uint64_t jobs_run() const { return m_jobs_run; }
    // The worker's peak resident size as of its last report (a reused worker's, after each job).
    std::uint64_t peak_rss_kb() const { return m_peak_rss_kb; }

    // Asks an idle worker to exit, waits up to grace, then kills it; reaps it.
    void shutdown(model::Duration grace);

private:
    struct Job;
    WorkerSession() = default;
    void drive(Job& job);
    // When the current phase's deadline (or the next limit sample) is due.
    std::chrono::steady_clock::time_point next_wake(const Job& job) const;
    void on_deadlines(Job& job, std::chrono::steady_clock::time_point now);
    void handle_frame(Job& job, protocol::Frame&& frame);
    void report(Job& job);
    // Tells the worker of a lease renewal the cancel token got since the last one it heard of.
    void pass_lease_renewal(Job& job);
    // Reads what the channel holds; to_the_end also reads on to EOF or EAGAIN (the worker is gone).
    void read_channel(Job& job, bool to_the_end = false);
    void read_output(Job& job, int which);
    void begin_stop(Job& job, StopReason reason);
    void sample(Job& job);
    void finish_process(Job& job);
    void drain_output(Job& job);
    // drain_output, after one poll() says there is anything to read at all.
    void drain_pending_output(Job& job);
    void queue(protocol::MessageType type, const std::string& body);
    bool flush_outbox();
    StopMessenger messenger();
    // A fork server's child: its server reaps it and ends its orphans.
    bool forked() const { return m_spawner == nullptr; }
    model::Outcome conclude(Job& job);
    // Kills what is left in the group: everything once the worker has ended, everything but
    // the worker while it lives on (reuse). Strays the host inherited are reaped.
    void end_group_leftovers();
    // The threads the worker's group holds when it holds only the worker: its own, and its
    // lease watch when it keeps a lease.
    std::uint64_t own_tasks() const { return m_watches_lease ? 2 : 1; }

    process::Spawner* m_spawner = nullptr;  // null for a fork server's child: its orphans go to the server
    WorkerConfig m_config;
    WorkerRole m_role = WorkerRole::spawn;
    std::unique_ptr<WorkerProcess> m_process;
    std::string m_isolation = "spawn";
    os::UniqueFd m_channel;      // the socket, or the pipe from a fork server's child
    os::UniqueFd m_channel_to;   // the pipe to a fork server's child; none on a socket
    os::UniqueFd m_stdout;
    os::UniqueFd m_stderr;
    std::optional<protocol::FrameDecoder> m_decoder;
    std::string m_outbox;
    bool m_hello_seen = false;
    bool m_job_presented = false;  // the next run()'s job message is already sent (or in m_outbox)
    std::optional<protocol::Ready> m_baseline;  // the worker's memory when it was first ready
    bool m_channel_open = true;
    bool m_last_job_ok = false;
    // The worker was sent a job with a lease: it runs a thread that watches its leases from
    // then on (a fork server's child does not: its server keeps the lease).
    bool m_watches_lease = false;
    std::uint64_t m_jobs_run = 0;
    std::uint64_t m_cpu_us_reported = 0;  // the worker's CPU time as of its last result
    std::uint64_t m_peak_rss_kb = 0;
    std::uint64_t m_inherited_max_rss_kb = 0;  // from the worker's hello (0: not exec'd by us)
    std::chrono::steady_clock::time_point m_launched_at;
    CgroupLease m_group;
    AttemptGroup::Counters m_group_counted;  // the group's counters as of the last job's end
};

} // namespace sandhost::sandbox
