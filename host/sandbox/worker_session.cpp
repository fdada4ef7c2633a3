#include "sandbox/worker_session.h"

#include "os/clock.h"
#include "os/fd.h"
#include "os/proc.h"
#include "os/process_tree.h"
#include "sandbox/host_error.h"
#include "sandbox/classify.h"
#include "sandbox/stop_policy.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

// A spawned worker's kernel peak (ru_maxrss) is at least the host's peak when it was spawned:
// posix_spawn execs over the host's address space. After a spike in the host that is over, that
// would hide the peak of every worker below it, which judges whether a worker that died without
// a cgroup ran into its memory limit. So when a worker says it inherited a peak well above the
// host's resident size now, the host's peak is set back to that size, for the workers after.
void forget_a_past_host_spike(std::uint64_t inherited_kb)
{
    constexpr std::uint64_t k_spike_kb = 32 * 1024;
    if (inherited_kb < k_spike_kb) return;
    const auto own = os::read_memory(::getpid());
    if (own && own->rss_kb + k_spike_kb < inherited_kb) (void)os::reset_own_peak_rss();
}

using Clock = std::chrono::steady_clock;
using protocol::MessageType;

constexpr auto k_sample_interval = std::chrono::milliseconds(20);
constexpr auto k_no_pidfd_poll = std::chrono::milliseconds(5);
constexpr std::size_t k_read_chunk = 256 * 1024;
// How long a limit watch lets CPU time run past the limit before the host kills the worker
// itself (the kernel's SIGXCPU comes first unless the task ignores it).
constexpr auto k_cpu_overrun = std::chrono::milliseconds(1000);

// Keeps the last `capacity` bytes of a stream.
class OutputTail {
public:
    void reset(std::size_t capacity)
    {
        m_capacity = capacity;
        m_data.clear();
    }
    void append(const char* data, std::size_t size)
    {
        if (size >= m_capacity) {
            m_data.assign(data + (size - m_capacity), m_capacity);
            return;
        }
        m_data.append(data, size);
        if (m_data.size() > 2 * m_capacity) m_data.erase(0, m_data.size() - m_capacity);
    }
    std::string take()
    {
        if (m_data.size() > m_capacity) m_data.erase(0, m_data.size() - m_capacity);
        return std::move(m_data);
    }
    const std::string& peek() const { return m_data; }

private:
    std::size_t m_capacity = 1 << 20;
    std::string m_data;
};

int poll_timeout(Clock::time_point now, Clock::time_point wake)
{
    if (wake <= now) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
    return static_cast<int>(std::min<long long>(ms, 60'000));
}

// With a group that enforces the memory limit on what is really used, the worker's address
// space gets twice the limit: mapped but untouched memory (libraries, stacks, arenas) is not
// use, and an allocation beyond it still fails cleanly with ENOMEM rather than being killed.
protocol::WorkerLimits to_worker_limits(const model::Limits& limits, const AttemptGroup* group = nullptr)
{
    protocol::WorkerLimits w;
    w.memory_bytes = limits.memory_bytes;
    if (w.memory_bytes && group && group->enforces_memory()) *w.memory_bytes *= 2;
    if (limits.cpu) w.cpu_ms = static_cast<std::uint64_t>(limits.cpu->count());
    w.open_files = limits.open_files;
    w.file_size_bytes = limits.file_size_bytes;
    w.processes = limits.processes;
    return w;
}

} // namespace

// The state of one job on this worker.
struct WorkerSession::Job {
    const AttemptSpec* spec = nullptr;
    AttemptObserver* observer = nullptr;
    CancelToken* cancel = nullptr;
    bool describe = false;
    JobPhase phase = JobPhase::starting;
    Clock::time_point started;
    std::chrono::system_clock::time_point started_wall;
    // The current phase's deadline: startup timeout, task timeout, or the end of the grace a
    // reported worker has to exit (the stopping phase's deadline is the stop driver's).
    std::optional<Clock::time_point> deadline;
    std::optional<Clock::time_point> ready_at;
    AttemptFacts facts;
    std::optional<protocol::Description> description;
    StopDriver stop;
    OutputTail out;
    OutputTail err;
    std::uint64_t output_total = 0;  // stdout and stderr together
    std::uint64_t out_total = 0;
    std::uint64_t err_total = 0;
    std::optional<model::ProgressReport> progress;
    model::Outcome logged;  // only its log: the task's lines, kept as they come
    Clock::time_point next_sample;
    std::uint64_t sampled_peak_rss_kb = 0;
    std::uint64_t cpu_ms_at_start = 0;
    bool channel_broken = false;
    std::uint64_t lease_renewals_sent = 0;  // as counted by the cancel token

    bool reported() const { return facts.done || facts.load_failed || description; }
    void enter_running(Clock::time_point now)
    {
        phase = JobPhase::running;
        facts.ready_seen = true;
        ready_at = now;
        deadline = now + spec->settings.timeout;
    }
};

CancelToken::CancelToken() : m_event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{
    // Without its descriptor a cancel could never reach a running attempt's poll.
    if (!m_event) throw HostError(os::SysError::from_errno("eventfd", "cancel token"));
}

void CancelToken::request(Stop how) noexcept
{
    if (how == Stop::at_once) m_at_once.store(true, std::memory_order_release);
    if (m_requested.exchange(true, std::memory_order_acq_rel)) return;
    const std::uint64_t one = 1;
    // The counter cannot overflow from one write; a failure would leave only the flag set.
    [[maybe_unused]] auto n = ::write(m_event.get(), &one, sizeof one);
}

void CancelToken::renew_lease(SteadyTime until) noexcept
{
    m_lease_until.store(until.time_since_epoch().count(), std::memory_order_release);
    m_renewals.fetch_add(1, std::memory_order_acq_rel);
}

os::Result<WorkerSession> WorkerSession::start(process::Spawner& spawner, const WorkerConfig& config, WorkerRole role,
                                               const model::Privileges& privileges, const JobIdentity* job)
{
    auto launched = launch_worker(spawner, config, role, privileges, job);
    if (!launched) return launched.error();
    WorkerSession session;
    session.m_spawner = &spawner;
    session.m_config = config;
    session.m_role = role;
    session.m_launched_at = Clock::now();
    session.m_process = spawned_process(std::move(launched->child));
    session.m_isolation = role == WorkerRole::reuse ? "reuse" : "spawn";
    session.m_channel = std::move(launched->channel);
    session.m_stdout = std::move(launched->stdout_read);
    session.m_stderr = std::move(launched->stderr_read);
    return session;
}

WorkerSession WorkerSession::adopt(const WorkerConfig& config, std::unique_ptr<WorkerProcess> process, os::UniqueFd channel_from,
                                   os::UniqueFd channel_to, os::UniqueFd stdout_read, os::UniqueFd stderr_read, std::string unsent,
                                   const protocol::Ready& baseline)
{
    WorkerSession session;
    session.m_config = config;
    session.m_role = WorkerRole::spawn;
    session.m_isolation = model::to_string(model::Mode::fork);
    session.m_launched_at = Clock::now();
    session.m_process = std::move(process);
    session.m_channel = std::move(channel_from);
    session.m_channel_to = std::move(channel_to);
    session.m_stdout = std::move(stdout_read);
    session.m_stderr = std::move(stderr_read);
    session.m_outbox = std::move(unsent);
    session.m_job_presented = true;
    session.m_hello_seen = true;  // the server's answer says the child exists
    session.m_baseline = baseline;
    return session;
}

std::string WorkerSession::job_frame(const AttemptSpec& spec, const AttemptGroup* group, LeaseKeeper keeper, const std::filesystem::path* folder)
{
    const std::filesystem::path& job_folder = folder ? *folder : spec.folder;
    protocol::Job message;
    message.plugin_path = spec.plugin_path.string();
    message.task = spec.task;
    message.payload = spec.payload;
    message.max_result = spec.settings.max_result_bytes;
    message.limits = to_worker_limits(spec.settings.limits, group);
    message.job_id = spec.job_id;
    message.attempt = spec.attempt;
    message.queue = spec.queue;
    message.timeout_ms = static_cast<std::uint64_t>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(spec.settings.timeout).count()));
    if (keeper == LeaseKeeper::worker) message.lease_ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, spec.lease.count()));
    if (!job_folder.empty()) {
        message.tmpdir = job_folder.string();
        message.workdir = spec.settings.privileges.filesystem.workdir.value_or("");
    }
    return protocol::encode_frame(MessageType::job, protocol::encode(message));
}

WorkerSession::WorkerSession(WorkerSession&&) noexcept = default;
WorkerSession& WorkerSession::operator=(WorkerSession&&) noexcept = default;

WorkerSession::~WorkerSession()
{
    if (m_process && m_process->running()) {
        stop_and_reap(*m_process, kill_steps());
        if (m_spawner) m_spawner->reap_strays();
    }
}

bool WorkerSession::reusable() const { return m_process && m_process->running() && m_last_job_ok && m_channel_open; }

void WorkerSession::queue(MessageType type, const std::string& body)
{
    if (!m_channel_open) return;
    m_outbox += protocol::encode_frame(type, body);
    flush_outbox();
}

bool WorkerSession::flush_outbox()
{
    while (!m_outbox.empty() && m_channel_open) {
        // Neither raises SIGPIPE when the worker is gone (the pipe to a forked child is
        // non-blocking).
        const ssize_t n = m_channel_to ? os::write_without_sigpipe(m_channel_to.get(), m_outbox.data(), m_outbox.size())
                                       : ::send(m_channel.get(), m_outbox.data(), m_outbox.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            m_outbox.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
        m_outbox.clear();  // the worker is gone; what it did not read does not matter
        return false;
    }
    return true;
}

StopMessenger WorkerSession::messenger()
{
    return [this](StopStep::Action action) {
        queue(action == StopStep::Action::request_cancel ? MessageType::cancel : MessageType::shutdown, {});
    };
}

model::Outcome WorkerSession::run(const AttemptSpec& spec, AttemptObserver* observer, CancelToken* cancel, const std::filesystem::path* folder)
{
    Job job;
    job.spec = &spec;
    job.observer = observer;
    job.cancel = cancel;
    job.lease_renewals_sent = cancel ? cancel->lease_renewals() : 0;
    job.started = m_jobs_run == 0 ? m_launched_at : Clock::now();
    job.started_wall = std::chrono::system_clock::now() -
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(Clock::now() - job.started);
    job.deadline = job.started + spec.settings.startup_timeout;
    job.facts.limits = spec.settings.limits;
    job.facts.worker_executable = m_config.executable.string();
    job.facts.hello_seen = m_hello_seen;
    const auto tail = static_cast<std::size_t>(spec.settings.limits.output_bytes.value_or(1ull << 20));
    job.out.reset(tail);
    job.err.reset(tail);
    job.cpu_ms_at_start = m_cpu_us_reported / 1000;
    // Only a worker's first job waits for ready: a reused worker and a fork server's child
    // hold the plugin already, so their job's clock starts as it is sent.
    const bool ready_implied = forked() || (m_role == WorkerRole::reuse && m_jobs_run > 0);
    ++m_jobs_run;
    m_last_job_ok = false;
    if (!forked() && spec.lease.count() > 0) m_watches_lease = true;
    if (observer) observer->on_started(m_process->pid());
    if (ready_implied) {
        job.facts.baseline = m_baseline;
        job.enter_running(Clock::now());
        if (observer) observer->on_ready();
    }

    m_decoder.emplace(std::max<std::uint64_t>(spec.settings.max_result_bytes + 65536, 1u << 20));
    if (m_job_presented) {
        m_job_presented = false;
        flush_outbox();
    } else if (m_channel_open) {
        m_outbox += job_frame(spec, m_group.get(), LeaseKeeper::worker, folder);
        flush_outbox();
    }
    drive(job);
    return conclude(job);
}

void WorkerSession::attach_group(CgroupLease group)
{
    // Counted from before the worker joined: a fork server's child may already be at work.
    m_group_counted = group.counted_at_lending();
    m_group = std::move(group);
}

os::Status WorkerSession::hand_group(CgroupLease group)
{
    auto files = group->files_to_enter_by_oneself();
    if (!files) return files.error();
    if (files->empty()) return os::SysError::from_code(ENOENT, "open", "the control group's files to enter it by");
    const std::string frame =
        protocol::encode_frame(MessageType::enter_group, protocol::encode(protocol::EnterGroup{static_cast<std::uint32_t>(files->size())}));
    errno = 0;
    if (!os::send_with_fds(m_channel.get(), frame, *files)) {
        const int error = errno != 0 ? errno : EIO;
        // A worker that is gone already (it failed as it started) ran nothing: how it ended,
        // its exit status and what it said, is what its attempt reports (run() finds it).
        if (error != EPIPE && error != ECONNRESET) return os::SysError::from_code(error, "sendmsg", "the control group's files to the worker");
    }
    attach_group(std::move(group));
    return {};
}

void WorkerSession::end_group_leftovers()
{
    if (!m_group) return;
    const pid_t worker = m_process && m_process->running() ? m_process->pid() : -1;
    bool killed = false;
    if (worker < 0) {
        killed = !m_group->empty();
        if (killed) (void)m_group->kill_all();
    } else if (m_group->tasks() == own_tasks()) {
        // The worker's thread (and its lease watch) is all the group holds: nothing to list,
        // the usual case.
    } else {
        // A reused worker stays: what its job left in its group (a process that escaped its
        // tree into a session and a parent of its own) does not.
        for (int round = 0; round < 100; ++round) {
            auto left = m_group->processes();
            std::erase(left, worker);
            if (left.empty()) break;
            killed = true;
            for (pid_t pid : left) ::kill(pid, SIGKILL);
            ::usleep(static_cast<useconds_t>(std::min(20'000, 200 << std::min(round, 6))));
        }
    }
    if (killed && m_spawner) m_spawner->reap_strays();
}

std::variant<protocol::Description, model::Outcome> WorkerSession::describe(const std::filesystem::path& plugin,
                                                                            const model::SandboxSettings& settings)
{
    AttemptSpec spec;
    spec.plugin_path = plugin;
    spec.settings = settings;
    Job job;
    job.spec = &spec;
    job.describe = true;
    job.started = m_launched_at;
    job.started_wall = std::chrono::system_clock::now();
    job.deadline = job.started + settings.startup_timeout;
    job.facts.limits = settings.limits;
    job.facts.worker_executable = m_config.executable.string();
    job.out.reset(64 * 1024);
    job.err.reset(64 * 1024);
    ++m_jobs_run;
    m_decoder.emplace(1u << 20);
    protocol::Job message;
    message.plugin_path = plugin.string();
    message.describe = true;
    message.limits = to_worker_limits(settings.limits);
    queue(MessageType::job, protocol::encode(message));
    drive(job);
    if (job.description && !job.facts.stop) return *job.description;
    return conclude(job);
}

Clock::time_point WorkerSession::next_wake(const Job& job) const
{
    const auto now = Clock::now();
    Clock::time_point wake = job.next_sample;
    if (job.phase == JobPhase::stopping) {
        if (job.stop.next_at()) wake = std::min(wake, *job.stop.next_at());
    } else if (job.deadline) {
        wake = std::min(wake, *job.deadline);
    }
    if (m_process->exit_fd() < 0) wake = std::min(wake, now + k_no_pidfd_poll);
    return wake;
}

void WorkerSession::drive(Job& job)
{
    job.next_sample = Clock::now() + k_sample_interval;
    while (job.phase != JobPhase::exited) {
        if (m_role == WorkerRole::reuse && job.phase == JobPhase::reported && job.facts.done &&
            job.facts.done->status == protocol::Done::Status::ok) {
            // The worker flushed its output before reporting: it is all in the pipes now, and
            // belongs to this job, not the next.
            drain_pending_output(job);
            m_last_job_ok = true;
            return;
        }

        pass_lease_renewal(job);
        pollfd fds[6];
        int count = 0;
        auto add = [&](int fd, short events) {
            fds[count] = pollfd{fd, events, 0};
            return count++;
        };
        // A fork server's child that reported has nothing left to say: its exit status comes
        // on the status pipe after its channel and pipes close, so only that is waited for,
        // and the rest is read once it has arrived.
        const bool exit_only = forked() && job.phase == JobPhase::reported;
        const bool channel_polled = m_channel_open && !job.channel_broken && !exit_only;
        const bool sending = channel_polled && !m_outbox.empty();
        const int channel_at =
            channel_polled ? add(m_channel.get(), static_cast<short>(POLLIN | (sending && !m_channel_to ? POLLOUT : 0))) : -1;
        const int channel_to_at = sending && m_channel_to ? add(m_channel_to.get(), POLLOUT) : -1;
        const int out_at = m_stdout && !exit_only ? add(m_stdout.get(), POLLIN) : -1;
        const int err_at = m_stderr && !exit_only ? add(m_stderr.get(), POLLIN) : -1;
        const int exit_at = m_process->exit_fd() >= 0 ? add(m_process->exit_fd(), POLLIN) : -1;
        const int cancel_at = (job.cancel && job.phase != JobPhase::stopping) ? add(job.cancel->fd(), POLLIN) : -1;

        const int ready = ::poll(fds, static_cast<nfds_t>(count), poll_timeout(Clock::now(), next_wake(job)));
        if (ready < 0 && errno != EINTR) {
            throw HostError(os::SysError::from_errno("poll", "worker " + std::to_string(m_process->pid())));
        }
        if (ready > 0) {
            if ((channel_at >= 0 && (fds[channel_at].revents & POLLOUT)) || (channel_to_at >= 0 && fds[channel_to_at].revents)) {
                flush_outbox();
            }
            if (channel_at >= 0 && (fds[channel_at].revents & (POLLIN | POLLHUP | POLLERR))) read_channel(job);
            if (out_at >= 0 && fds[out_at].revents) read_output(job, 1);
            if (err_at >= 0 && fds[err_at].revents) read_output(job, 2);
            if (cancel_at >= 0 && fds[cancel_at].revents) {
                begin_stop(job, job.cancel->at_once()
                                    ? StopReason{StopReason::Kind::cancel_now, std::nullopt, "stopped at once: the attempt's lease was lost to another"}
                                    : StopReason{StopReason::Kind::cancel, std::nullopt, "cancelled while running"});
            }
        }
        // A pidfd turns readable; a fork server's status pipe may also just hang up. Without
        // a pidfd the process is looked at on every short wakeup.
        if ((exit_at < 0 || (ready > 0 && fds[exit_at].revents)) && m_process->try_reap()) {
            finish_process(job);
            return;
        }
        on_deadlines(job, Clock::now());
    }
}

void WorkerSession::on_deadlines(Job& job, Clock::time_point now)
{
    switch (job.phase) {
    case JobPhase::starting:
        if (now >= *job.deadline) {
            begin_stop(job, StopReason{StopReason::Kind::startup_timeout, std::nullopt,
                                       "the worker was not ready within the startup timeout of " +
                                           model::format_duration(job.spec->settings.startup_timeout)});
        }
        break;
    case JobPhase::running:
        if (now >= *job.deadline) {
            begin_stop(job, StopReason{StopReason::Kind::timeout, std::nullopt,
                                       "the task did not finish within its timeout of " + model::format_duration(job.spec->settings.timeout)});
        }
        break;
    case JobPhase::reported:
        if (job.deadline && now >= *job.deadline) {
            // The task reported its end but the process does not exit: its result stands.
            job.deadline.reset();
            os::kill_tree(m_process->pid(), os::IncludeRoot::yes);
            job.facts.killed = true;
        }
        break;
    case JobPhase::stopping:
        job.stop.advance(now, *m_process, messenger());
        job.facts.killed = job.facts.killed || job.stop.killed();
        break;
    case JobPhase::exited:
        return;
    }
    if (now >= job.next_sample) {
        sample(job);
        job.next_sample = now + k_sample_interval;
    }
}

void WorkerSession::pass_lease_renewal(Job& job)
{
    if (!job.cancel || job.spec->lease.count() <= 0 || (job.phase != JobPhase::starting && job.phase != JobPhase::running)) return;
    const std::uint64_t renewals = job.cancel->lease_renewals();
    if (renewals == job.lease_renewals_sent) return;
    job.lease_renewals_sent = renewals;
    // 1 ms at least: a lease that already ran out ends the task at once.
    const auto left = std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(job.cancel->lease_until() - Clock::now()));
    if (m_process->renew_lease(left)) return;  // a fork server's child: its server keeps the lease
    queue(MessageType::lease, protocol::encode(protocol::Lease{os::monotonic_ms() + left.count()}));
}

// The task reported its end (or could not start): a spawned worker now has the grace period
// to exit on its own.
void WorkerSession::report(Job& job)
{
    if (job.phase == JobPhase::stopping || job.phase == JobPhase::exited) return;
    job.phase = JobPhase::reported;
    job.deadline.reset();
    if (m_role == WorkerRole::spawn) job.deadline = Clock::now() + job.spec->settings.grace;
}

void WorkerSession::read_channel(Job& job, bool to_the_end)
{
    char buffer[65536];
    std::size_t total = 0;
    while (m_channel_open && !job.channel_broken && total < k_read_chunk * 4) {
        const ssize_t n = m_channel_to ? ::read(m_channel.get(), buffer, sizeof buffer) : ::recv(m_channel.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            m_channel_open = false;
            if (m_decoder->buffered() > 0) {
                begin_stop(job, StopReason{StopReason::Kind::protocol_error, std::nullopt,
                                           "the worker closed the channel in the middle of a message"});
            }
            break;
        }
        total += static_cast<std::size_t>(n);
        m_decoder->feed(buffer, static_cast<std::size_t>(n));
        // A short read emptied the socket: poll says when more comes, without a recv() that
        // would only answer EAGAIN.
        const bool drained = !to_the_end && static_cast<std::size_t>(n) < sizeof buffer;
        for (;;) {
            auto next = m_decoder->next();
            if (next.status == protocol::FrameDecoder::Status::need_more) break;
            if (next.status == protocol::FrameDecoder::Status::broken) {
                job.channel_broken = true;
                // A worker checks a result against max_result before it sends it: a longer
                // message is a lie about its length, not a large result.
                begin_stop(job, StopReason{StopReason::Kind::protocol_error, std::nullopt, "protocol error: " + next.error});
                return;
            }
            handle_frame(job, std::move(next.frame));
            if (job.channel_broken) return;
        }
        if (drained) break;
    }
}

void WorkerSession::handle_frame(Job& job, protocol::Frame&& frame)
{
    auto broken = [&](const std::string& why) {
        job.channel_broken = true;
        begin_stop(job, StopReason{StopReason::Kind::protocol_error, std::nullopt, "protocol error: " + why});
    };
    if (!m_hello_seen && frame.type != MessageType::hello) {
        return broken(std::string("a '") + protocol::to_string(frame.type) + "' message before hello");
    }
    switch (frame.type) {
    case MessageType::hello: {
        const auto hello = m_hello_seen ? std::nullopt : protocol::decode_hello(frame.body);
        if (!hello) return broken("bad hello");
        m_inherited_max_rss_kb = hello->inherited_max_rss_kb;
        forget_a_past_host_spike(m_inherited_max_rss_kb);
        m_hello_seen = true;
        job.facts.hello_seen = true;
        break;
    }
    case MessageType::ready: {
        auto ready = protocol::decode_ready(frame.body);
        if (!ready || job.describe) return broken("bad ready message");
        // A worker measures its memory baseline once; later readies (reuse) carry zeros.
        if (ready->vm_size_kb) m_baseline = *ready;
        job.facts.baseline = m_baseline;
        if (job.phase == JobPhase::starting) job.enter_running(Clock::now());
        else job.facts.ready_seen = true;
        if (job.observer) job.observer->on_ready();
        break;
    }
    case MessageType::load_failed: {
        auto failed = protocol::decode_load_failed(frame.body);
        if (!failed) return broken("bad load_failed message");
        job.facts.load_failed = failed->message;
        job.facts.task_missing = failed->task_missing;
        report(job);
        break;
    }
    case MessageType::log: {
        auto log = protocol::decode_log(frame.body);
        if (!log) return broken("bad log message");
        model::keep_log_line(job.logged, model::LogLine{model::log_level_from_number(log->level), std::chrono::system_clock::now(), log->message});
        if (job.observer) job.observer->on_log(log->level, log->message);
        break;
    }
    case MessageType::progress: {
        auto progress = protocol::decode_progress(frame.body);
        if (!progress) return broken("bad progress message");
        job.progress = model::ProgressReport{progress->percent, progress->message};
        if (job.observer) job.observer->on_progress(*job.progress);
        break;
    }
    case MessageType::heartbeat:
        if (job.observer) job.observer->on_heartbeat();
        break;
    case MessageType::loading:
        if (!frame.body.empty() || job.facts.loading) return broken("bad or unexpected loading message");
        job.facts.loading = true;
        break;
    case MessageType::loaded:
        if (!frame.body.empty() || !job.facts.loading) return broken("bad or unexpected loaded message");
        job.facts.loading = false;
        break;
    case MessageType::done: {
        auto done = protocol::decode_done(frame.body);
        if (!done || !job.facts.ready_seen) return broken("bad or unexpected done message");
        job.facts.done = std::move(*done);
        report(job);
        break;
    }
    case MessageType::description: {
        auto description = protocol::decode_description(frame.body);
        if (!description || !job.describe) return broken("bad or unexpected description");
        job.description = std::move(*description);
        report(job);
        break;
    }
    default:
        return broken(std::string("unexpected '") + protocol::to_string(frame.type) + "' message from the worker");
    }
}

void WorkerSession::read_output(Job& job, int which)
{
    os::UniqueFd& fd = which == 1 ? m_stdout : m_stderr;
    OutputTail& tail = which == 1 ? job.out : job.err;
    char buffer[65536];
    std::size_t total = 0;
    while (fd && total < k_read_chunk) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            fd.reset();  // the worker and everything it started closed this stream
            break;
        }
        total += static_cast<std::size_t>(n);
        tail.append(buffer, static_cast<std::size_t>(n));
        job.output_total += static_cast<std::uint64_t>(n);
        (which == 1 ? job.out_total : job.err_total) += static_cast<std::uint64_t>(n);
    }
    // Past the limit, output is dropped (the tails keep its end) unless the queue kills for it.
    const auto& limits = job.spec->settings.limits;
    const auto& limit = limits.output_bytes;
    if (limit && job.output_total > *limit && limits.output_action == model::OutputAction::kill) {
        begin_stop(job, StopReason{StopReason::Kind::limit, model::LimitKind::output,
                                   "captured output exceeded the limit of " + model::format_size(*limit)});
    }
}

void WorkerSession::begin_stop(Job& job, StopReason reason)
{
    // The first reason decides the outcome; an ended process needs no stopping.
    if (job.facts.stop || job.phase == JobPhase::exited) return;
    job.phase = JobPhase::stopping;
    job.deadline.reset();
    auto steps = stop_steps(reason, job.spec->settings.grace);
    job.facts.stop = std::move(reason);
    job.stop.begin(std::move(steps), *m_process, messenger());
    job.facts.killed = job.facts.killed || job.stop.killed();
}

void WorkerSession::sample(Job& job)
{
    if (!m_process->running() || job.phase == JobPhase::stopping || !m_hello_seen) return;
    const model::Limits& limits = job.spec->settings.limits;
    const pid_t pid = m_process->pid();
    const auto descendants = os::descendants_of(pid);
    if (limits.processes && descendants.size() + 1 > *limits.processes) {
        return begin_stop(job, StopReason{StopReason::Kind::limit, model::LimitKind::processes,
                                          "the worker's tree reached " + std::to_string(descendants.size() + 1) +
                                              " processes, over the limit of " + std::to_string(*limits.processes)});
    }
    std::uint64_t rss_kb = 0;
    if (auto memory = os::read_memory(pid)) rss_kb += memory->rss_kb;
    for (pid_t child : descendants) {
        if (auto memory = os::read_memory(child)) rss_kb += memory->rss_kb;
    }
    job.sampled_peak_rss_kb = std::max(job.sampled_peak_rss_kb, rss_kb);
    // A group's memory limit is the kernel's to hold, on what the group is charged: resident
    // sizes also count shared pages charged elsewhere (the libraries the host loaded first).
    const bool kernel_holds_memory = m_group && m_group->enforces_memory();
    if (limits.memory_bytes && !kernel_holds_memory && rss_kb * 1024 > *limits.memory_bytes) {
        return begin_stop(job, StopReason{StopReason::Kind::limit, model::LimitKind::memory,
                                          "the worker's resident memory reached " + std::to_string(rss_kb) +
                                              " KiB, over the limit of " + model::format_size(*limits.memory_bytes)});
    }
    if (limits.cpu) {
        const auto now_ms = os::read_cpu_ms(pid).value_or(0);
        const auto used = now_ms - std::min(job.cpu_ms_at_start, now_ms);
        if (std::chrono::milliseconds(used) >= *limits.cpu + k_cpu_overrun) {
            return begin_stop(job, StopReason{StopReason::Kind::limit, model::LimitKind::cpu,
                                              "CPU time limit of " + model::format_duration(*limits.cpu) + " reached"});
        }
    }
}

void WorkerSession::drain_output(Job& job)
{
    for (int which : {1, 2}) {
        while ((which == 1 ? m_stdout : m_stderr)) {
            const auto before = job.output_total;
            read_output(job, which);
            if (job.output_total == before) break;
        }
    }
}

void WorkerSession::drain_pending_output(Job& job)
{
    pollfd fds[2];
    nfds_t count = 0;
    for (const os::UniqueFd* fd : {&m_stdout, &m_stderr}) {
        if (*fd) fds[count++] = pollfd{fd->get(), POLLIN, 0};
    }
    if (count == 0 || ::poll(fds, count, 0) <= 0) return;
    drain_output(job);
}

void WorkerSession::finish_process(Job& job)
{
    // The process is gone, but what it wrote may still sit in the socket and pipes.
    if (m_channel_open && !job.channel_broken) read_channel(job, true);
    drain_output(job);
    job.phase = JobPhase::exited;
    // Whatever the worker started was re-parented to us when it died, unless it ended cleanly
    // (it reported and exited 0: it ended its own leftovers first) or it was a fork server's
    // child (its orphans go to the server, which ends them).
    const auto& t = m_process->termination();
    const bool clean = job.facts.done && t && t->status.kind == process::ExitStatus::Kind::exited && t->status.exit_code == 0;
    if (!forked() && !clean) m_spawner->reap_strays();
    // A process that left the worker's tree is still in its group.
    end_group_leftovers();
}

model::Outcome WorkerSession::conclude(Job& job)
{
    job.facts.termination = m_process->termination();
    job.facts.stderr_tail = job.err.peek();
    job.facts.reaper_lost = m_process->reaper_lost();
    job.facts.lease_overdue_ms = m_process->lease_overdue_ms();
    // The kernel's peak for an exec'd worker is at least the peak of what it was exec'd over
    // (the host's, for posix_spawn); the worker said how much that was. At or below it, the
    // figure is the host's, not the worker's: use what the worker and the sampler measured.
    // Without a result, the resident size when ready is the best measured lower bound.
    std::uint64_t measured_peak_kb = job.sampled_peak_rss_kb;
    if (job.facts.done) measured_peak_kb = std::max(measured_peak_kb, job.facts.done->max_rss_kb);
    if (job.facts.baseline && !forked()) measured_peak_kb = std::max(measured_peak_kb, job.facts.baseline->rss_kb);
    if (job.facts.termination && m_inherited_max_rss_kb > 0 && job.facts.termination->usage.max_rss_kb <= m_inherited_max_rss_kb) {
        job.facts.termination->usage.max_rss_kb = measured_peak_kb;
    }
    std::optional<std::uint64_t> group_cpu_us;
    if (m_group) {
        const bool running = m_process->running() && job.phase != JobPhase::exited;
        // A reused worker whose group never held more than its own threads: nothing else ran in
        // it, nothing is left in it, and the worker, still running, was not OOM-killed.
        const bool alone = running && m_role == WorkerRole::reuse && m_group->only_ever_held(own_tasks());
        if (running && !alone) end_group_leftovers();
        const auto now = alone ? m_group->counters_of_a_lone_process(m_group_counted) : m_group->counters();
        GroupFacts group;
        group.oom_kills = now.oom_kills - std::min(now.oom_kills, m_group_counted.oom_kills);
        group.forks_refused = now.forks_refused - std::min(now.forks_refused, m_group_counted.forks_refused);
        group.memory_enforced = m_group->enforces_memory();
        group.processes_enforced = m_group->enforces_processes();
        job.facts.group = group;
        if (m_group->folders().folder_of("cpuacct") || m_group->folders().version() == os::CgroupVersion::v2) {
            if (now.cpu_us > 0) group_cpu_us = now.cpu_us - std::min(now.cpu_us, m_group_counted.cpu_us);
        }
        m_group_counted = now;
    }
    model::Outcome outcome = classify(job.facts);
    outcome.isolation = m_isolation;
    if (job.ready_at) outcome.startup_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*job.ready_at - job.started);
    outcome.pid = m_process->pid();
    outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - job.started);
    outcome.started_at = job.started_wall;
    outcome.ended_at = std::chrono::system_clock::now();
    if (job.facts.done && m_role == WorkerRole::reuse) {
        // A long-lived worker reports its own usage with each result: this job's share is
        // the difference, with no /proc reading on the way.
        const auto& done = *job.facts.done;
        outcome.cpu_ms = (done.cpu_us - std::min(done.cpu_us, m_cpu_us_reported)) / 1000;
        outcome.max_rss_kb = done.max_rss_kb;
        m_cpu_us_reported = done.cpu_us;
        m_peak_rss_kb = done.max_rss_kb;
    } else if (job.facts.termination && !job.facts.reaper_lost) {
        const auto& usage = job.facts.termination->usage;
        const auto cpu_us = static_cast<std::uint64_t>((usage.user_cpu + usage.system_cpu).count());
        outcome.cpu_ms = (cpu_us - std::min(cpu_us, m_cpu_us_reported)) / 1000;
        outcome.max_rss_kb = std::max(usage.max_rss_kb, measured_peak_kb);
        if (*outcome.max_rss_kb == 0) outcome.max_rss_kb.reset();  // not measured: unknown, not zero
    } else if (job.sampled_peak_rss_kb) {
        outcome.max_rss_kb = job.sampled_peak_rss_kb;
    }
    // The group counts every process of the attempt, an escaped or unreaped one too.
    if (group_cpu_us && !job.describe) outcome.cpu_ms = *group_cpu_us / 1000;
    outcome.stdout_tail = job.out.take();
    outcome.stderr_tail = job.err.take();
    outcome.stdout_dropped = job.out_total - std::min<std::uint64_t>(job.out_total, outcome.stdout_tail.size());
    outcome.stderr_dropped = job.err_total - std::min<std::uint64_t>(job.err_total, outcome.stderr_tail.size());
    outcome.progress = job.progress;
    outcome.log = std::move(job.logged.log);
    outcome.log_dropped = job.logged.log_dropped;
    return outcome;
}

void WorkerSession::shutdown(model::Duration grace)
{
    if (!m_process->running()) return;
    stop_and_reap(*m_process, shutdown_steps(grace), messenger());
    if (m_spawner) m_spawner->reap_strays();
}

} // namespace sandhost::sandbox
