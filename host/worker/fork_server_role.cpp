#include "worker/fork_server_role.h"

#include "os/clock.h"
#include "os/fd.h"
#include "os/proc.h"
#include "os/result.h"
#include "worker/failure.h"
#include "worker/group_entry.h"
#include "worker/host_death.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iterator>
#include <map>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace sandhost::worker {
namespace {

using protocol::MessageType;
using protocol::WorkerExit;

// A lease longer than this (about 24 days) is kept as this long: poll()'s timeout is an int.
constexpr std::uint64_t k_max_lease_ms = (1ull << 31) - 1;

// Reads the host's frames and the descriptors that come with them (SCM_RIGHTS), in order.
class ServerChannelReader {
public:
    explicit ServerChannelReader(int fd) : m_fd(fd), m_decoder(1u << 20) {}

    enum class Fill { read, nothing_yet, closed, failed, descriptors_cut };
    // Reads what has arrived without blocking. failed: recvmsg failed (error() says how);
    // descriptors_cut: the host sent more descriptors at once than a fork server takes.
    Fill fill()
    {
        char buffer[65536];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 32)];
        iovec iov{buffer, sizeof buffer};
        msghdr message{};
        message.msg_iov = &iov;
        message.msg_iovlen = 1;
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(m_fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return Fill::closed;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return Fill::nothing_yet;
        if (n < 0) {
            m_error = errno;
            return Fill::failed;
        }
        os::take_passed_fds(message, m_fds);
        if (message.msg_flags & MSG_CTRUNC) return Fill::descriptors_cut;
        m_decoder.feed(buffer, static_cast<std::size_t>(n));
        return Fill::read;
    }
    int error() const { return m_error; }

    protocol::FrameDecoder::Next next() { return m_decoder.next(); }

    // The `count` descriptors that arrived first; none when fewer arrived.
    std::vector<os::UniqueFd> take_fds(std::size_t count)
    {
        std::vector<os::UniqueFd> taken;
        if (m_fds.size() < count) return taken;
        taken.assign(std::make_move_iterator(m_fds.begin()), std::make_move_iterator(m_fds.begin() + static_cast<std::ptrdiff_t>(count)));
        m_fds.erase(m_fds.begin(), m_fds.begin() + static_cast<std::ptrdiff_t>(count));
        return taken;
    }

private:
    int m_fd;
    protocol::FrameDecoder m_decoder;
    std::vector<os::UniqueFd> m_fds;  // arrived, not taken yet, in order
    int m_error = 0;
};

// A live job child: where its status goes, and its lease when the server keeps one (the
// child runs no thread of its own to watch it: a second thread in every forked child cost
// about a fifth of a fork attempt's CPU).
struct JobChild {
    os::UniqueFd status_pipe;
    std::int64_t lease_deadline_ms = 0;  // CLOCK_MONOTONIC; 0: no lease
    std::int64_t lease_overdue_ms = -1;  // how late the server ended it for its lease; -1: it did not
};

// Everything the server holds.
struct ServerState {
    ServerState(WorkerChannel& c, JobRunner& r, os::UniqueFd&& signals)
        : channel(c), runner(r), self(::getpid()), child_signals(std::move(signals)), reader(c.fd())
    {
    }
    WorkerChannel& channel;
    JobRunner& runner;
    const pid_t self;
    os::UniqueFd child_signals;  // a signalfd for SIGCHLD
    ServerChannelReader reader;
    std::map<pid_t, JobChild> jobs;  // the live job children
    bool loaded = false;
    bool reaped_job = false;  // since the last look for orphans
};

// The job's descriptors a child takes: its channel from and to the host (two pipes), stdout
// and stderr. The host sends one more, the status pipe, which the server keeps; then the files
// to enter the attempt's group by (at most k_max_group_files).
constexpr std::size_t k_job_fds = 4;

// Puts `from` on descriptor `to` (stdout or stderr) and closes it.
void redirect(os::UniqueFd&& from, int to, const char* what)
{
    const os::UniqueFd owned(std::move(from));
    if (::dup2(owned.get(), to) < 0) fail(WorkerExit::setup_failed, "dup2", what, errno);
}

// A job child's life, from its fork. It runs in a child forked from a server whose plugin may
// have started threads: its failures are reported with the async-signal-safe calls of
// failure.h.
[[noreturn]] void run_job_child(ServerState& server, std::vector<os::UniqueFd>& job_fds, std::vector<os::UniqueFd>& group_files)
{
    // Of the server's descriptors it keeps the job's and the group's files alone: not the
    // host's channel, nor other jobs' status pipes, nor its own.
    std::vector<int> kept;
    for (std::size_t i = 0; i < k_job_fds; ++i) kept.push_back(job_fds[i].get());
    for (const auto& file : group_files) kept.push_back(file.get());
    os::close_descriptors_from(3, kept);
    // The server's dispositions are the clean ones every job starts from; it only blocks
    // SIGCHLD for its own use.
    sigset_t empty;
    sigemptyset(&empty);
    if (::sigprocmask(SIG_SETMASK, &empty, nullptr) != 0) fail(WorkerExit::setup_failed, "sigprocmask", "job child", errno);
    install_host_death_handler(server.self);
    if (::setpgid(0, 0) != 0) fail(WorkerExit::setup_failed, "setpgid", "job child", errno);
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) fail(WorkerExit::setup_failed, "prctl", "PR_SET_CHILD_SUBREAPER", errno);
    redirect(std::move(job_fds[2]), STDOUT_FILENO, "the job's stdout");
    redirect(std::move(job_fds[3]), STDERR_FILENO, "the job's stderr");
    enter_group(group_files);  // before the job is read
    // No hello: the server's answer to the host already says this child exists.
    WorkerChannel channel(std::move(job_fds[0]), std::move(job_fds[1]));
    server.runner.become_job_child(channel);
    if (auto job = receive_job(channel, server.runner)) server.runner.handle_job(*job);
    std::fflush(nullptr);
    ::_exit(0);
}

// Forks the job's process, which takes the job's descriptors and the files to enter its group
// by. Forked when the job comes, not ahead of it: a child forked ahead and handed the job's
// descriptors over a socket pair of its own cost more CPU per job (the pair, the descriptors
// passed on and installed again, the child's wakeup) than the fork it took off the job's clock,
// and with every CPU busy that CPU is what sets the rate.
os::Result<pid_t> fork_job_child(ServerState& server, std::vector<os::UniqueFd>& job_fds, std::vector<os::UniqueFd>& group_files)
{
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child == 0) run_job_child(server, job_fds, group_files);
    if (child < 0) return os::SysError::from_errno("fork", "job child");
    return child;
}

// The host is done with us: the plugin shuts down. A live job child dies with the server: its
// parent-death signal ends it and its descendants.
[[noreturn]] void leave(ServerState& server)
{
    server.runner.shutdown_plugin();
    std::fflush(nullptr);
    ::_exit(0);
}

// Something is wrong: every child goes, then the server, with `code`.
[[noreturn]] void give_up(WorkerExit code, const std::string& message)
{
    end_leftovers();
    std::fflush(nullptr);
    fail(code, message.c_str());
}

os::Result<os::UniqueFd> watch_children()
{
    sigset_t child_signals;
    sigemptyset(&child_signals);
    sigaddset(&child_signals, SIGCHLD);
    if (::sigprocmask(SIG_BLOCK, &child_signals, nullptr) != 0) return os::SysError::from_errno("sigprocmask", "block SIGCHLD");
    os::UniqueFd fd(::signalfd(-1, &child_signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd) return os::SysError::from_errno("signalfd", "SIGCHLD");
    return fd;
}

void drain_child_signals(ServerState& server)
{
    signalfd_siginfo info;
    while (::read(server.child_signals.get(), &info, sizeof info) > 0) {
    }
    if (errno != EAGAIN && errno != EINTR) {
        give_up(WorkerExit::wait_failed, os::SysError::from_errno("read", "SIGCHLD signalfd").message());
    }
}

void write_status(pid_t pid, const JobChild& job, int wait_status, const rusage& usage)
{
    protocol::ChildStatus record;
    record.wait_status = wait_status;
    record.lease_overdue_ms = job.lease_overdue_ms;
    record.max_rss_kb = static_cast<std::uint64_t>(usage.ru_maxrss);
    record.user_cpu_us = static_cast<std::uint64_t>(usage.ru_utime.tv_sec) * 1000000 + static_cast<std::uint64_t>(usage.ru_utime.tv_usec);
    record.system_cpu_us = static_cast<std::uint64_t>(usage.ru_stime.tv_sec) * 1000000 + static_cast<std::uint64_t>(usage.ru_stime.tv_usec);
    if (auto written = os::write_all(job.status_pipe.get(), protocol::encode(record)); !written) {
        report(("the status of job child " + std::to_string(pid) + " did not reach the host: " + written.error().message()).c_str());
    }
}

void on_reaped(ServerState& server, pid_t pid, int wait_status, const rusage& usage)
{
    auto job = server.jobs.find(pid);
    if (job == server.jobs.end()) return;  // a stray we killed
    server.reaped_job = true;
    write_status(pid, job->second, wait_status, usage);
    server.jobs.erase(job);
}

// Orphans of finished jobs were re-parented to us (a subreaper): they end too.
void end_orphans(ServerState& server)
{
    for (pid_t child : os::children_of_thread(server.self, server.self)) {
        if (!server.jobs.count(child)) kill_with_descendants(child);
    }
}

void reap_children(ServerState& server)
{
    drain_child_signals(server);
    bool children_left = true;
    for (;;) {
        int wait_status = 0;
        rusage usage{};
        const pid_t pid = ::wait4(-1, &wait_status, WNOHANG | __WALL, &usage);
        if (pid < 0 && errno == ECHILD) children_left = false;
        else if (pid < 0) report_failure("wait4", "children", errno);
        if (pid <= 0) break;
        on_reaped(server, pid, wait_status, usage);
    }
    if (server.reaped_job && children_left) {
        server.reaped_job = false;
        end_orphans(server);
    }
}

void preload(ServerState& server, const protocol::Frame& frame)
{
    auto job = protocol::decode_job(frame.body);
    if (!job) give_up(WorkerExit::broken_frame, "malformed job message from the host");
    if (!server.runner.preload(*job)) ::_exit(0);  // load_failed told the host why
    server.loaded = true;
    // The server's memory baseline stands for every child it forks.
    server.channel.send(MessageType::ready, protocol::encode(memory_baseline(server.self)));
}

void fork_job(ServerState& server, const protocol::Frame& frame)
{
    const auto request = protocol::decode_fork_job(frame.body);
    if (!request || request->cgroup_fds > k_max_group_files) give_up(WorkerExit::broken_frame, "malformed fork_job message from the host");
    auto job_fds = server.reader.take_fds(k_job_fds + 1);  // channel in and out, stdout, stderr, status
    auto group_files = server.reader.take_fds(request->cgroup_fds);
    if (job_fds.empty() || (request->cgroup_fds > 0 && group_files.empty())) {
        server.channel.send(MessageType::forked, protocol::encode(protocol::Forked{-1, "the job's descriptors did not arrive"}));
        return;
    }
    const auto child = fork_job_child(server, job_fds, group_files);
    group_files.clear();
    os::UniqueFd status_pipe = std::move(job_fds[k_job_fds]);
    job_fds.clear();  // the child holds them now
    if (!child) {
        server.channel.send(MessageType::forked, protocol::encode(protocol::Forked{-1, child.error().message()}));
        return;
    }
    JobChild& job = server.jobs[child.value()];
    job.status_pipe = std::move(status_pipe);
    if (request->lease_ms > 0) job.lease_deadline_ms = os::monotonic_ms() + static_cast<std::int64_t>(std::min<std::uint64_t>(request->lease_ms, k_max_lease_ms));
    server.channel.send(MessageType::forked, protocol::encode(protocol::Forked{child.value(), {}}));
}

// A renewal moves the child's lease end; one for a child already gone or already ended for its
// lease (it crossed the child's end on its way) changes nothing.
void renew_child_lease(ServerState& server, const protocol::Frame& frame)
{
    const auto renewal = protocol::decode_child_lease(frame.body);
    if (!renewal) give_up(WorkerExit::broken_frame, "malformed child_lease message from the host");
    auto job = server.jobs.find(static_cast<pid_t>(renewal->pid));
    if (job == server.jobs.end() || job->second.lease_deadline_ms == 0 || job->second.lease_overdue_ms >= 0) return;
    // Never 0, which means no lease.
    job->second.lease_deadline_ms = std::max<std::int64_t>(1, renewal->until_ms);
}

// Children whose lease ran out unrenewed end now, with everything they started: the host was
// stopped, stalled or cut off from its store, and another host may run the job. The status
// written when each is reaped says so. Returns how long until the next lease runs out (-1:
// none runs), for poll().
int end_overdue_children(ServerState& server)
{
    const std::int64_t now = os::monotonic_ms();
    std::int64_t next = -1;
    for (auto& [pid, job] : server.jobs) {
        if (job.lease_deadline_ms == 0 || job.lease_overdue_ms >= 0) continue;
        if (now >= job.lease_deadline_ms) {
            job.lease_overdue_ms = now - job.lease_deadline_ms;
            kill_with_descendants(pid);
            continue;
        }
        const std::int64_t left = job.lease_deadline_ms - now;
        if (next < 0 || left < next) next = left;
    }
    return static_cast<int>(std::min<std::int64_t>(next, static_cast<std::int64_t>(k_max_lease_ms)));
}

void handle_frame(ServerState& server, const protocol::Frame& frame)
{
    if (frame.type == MessageType::shutdown) leave(server);
    if (frame.type == MessageType::child_lease && server.loaded) return renew_child_lease(server, frame);
    if (frame.type == MessageType::job && !server.loaded) return preload(server, frame);
    if (frame.type == MessageType::fork_job && server.loaded) return fork_job(server, frame);
    give_up(WorkerExit::unexpected_message,
            std::string("unexpected '") + protocol::to_string(frame.type) + "' from the host " + (server.loaded ? "after" : "before") + " the plugin was loaded");
}

void read_host(ServerState& server)
{
    using Fill = ServerChannelReader::Fill;
    switch (server.reader.fill()) {
    case Fill::read: break;
    case Fill::nothing_yet: return;
    case Fill::closed: leave(server);
    case Fill::failed: give_up(WorkerExit::host_gone, os::SysError::from_code(server.reader.error(), "recvmsg", "channel").message());
    case Fill::descriptors_cut: give_up(WorkerExit::broken_frame, "the host sent more descriptors at once than a fork server takes");
    }
    for (auto next = server.reader.next(); next.status != protocol::FrameDecoder::Status::need_more; next = server.reader.next()) {
        if (next.status == protocol::FrameDecoder::Status::broken) give_up(WorkerExit::broken_frame, "broken frame from the host: " + next.error);
        handle_frame(server, next.frame);
    }
}

} // namespace

void run_fork_server(WorkerChannel& channel, JobRunner& runner)
{
    auto child_signals = watch_children();
    if (!child_signals) fail(WorkerExit::setup_failed, child_signals.error().message().c_str());
    ServerState server(channel, runner, std::move(child_signals.value()));
    for (;;) {
        pollfd fds[2] = {{channel.fd(), POLLIN, 0}, {server.child_signals.get(), POLLIN, 0}};
        if (::poll(fds, 2, end_overdue_children(server)) < 0) {
            if (errno == EINTR) continue;
            give_up(WorkerExit::wait_failed, os::SysError::from_errno("poll", "channel and SIGCHLD signalfd").message());
        }
        if (fds[1].revents) reap_children(server);
        if (fds[0].revents) read_host(server);
    }
}

} // namespace sandhost::worker
