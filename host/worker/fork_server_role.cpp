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
#include <cstring>
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

// A child forked ahead of its job: everything a job's process needs that does not depend on
// the job is done before the job arrives, off the job's clock. It waits on its end of
// `control` for the job's channel and output pipes.
struct Spare {
    pid_t pid = -1;
    os::UniqueFd control;  // the server's end
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
    Spare spare;
    std::map<pid_t, JobChild> jobs;  // the live job children
    bool loaded = false;
    bool reaped_job = false;  // since the last look for orphans
};

// The files to enter the attempt's group by (at most k_max_group_files) go to the child with
// the job's descriptors in one os::send_with_fds, which carries up to 12.
// The job's descriptors a child takes: its channel from and to the host (two pipes), stdout
// and stderr. The host sends one more, the status pipe, which the server keeps.
constexpr std::size_t k_job_fds = 4;

// Receives the job's descriptors and the files to enter its group by (none without a group),
// sent with one byte by os::send_with_fds. False at end of file (the server let this spare go
// unused).
bool receive_job_fds(int control, os::UniqueFd (&fds)[k_job_fds], std::vector<os::UniqueFd>& group_files)
{
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char buffer[CMSG_SPACE(sizeof(int) * (k_job_fds + k_max_group_files + 1))] = {};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = buffer;
    message.msg_controllen = sizeof buffer;
    ssize_t n;
    do {
        n = ::recvmsg(control, &message, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n == 0) return false;
    if (n < 0) fail(WorkerExit::setup_failed, "recvmsg", "the job's descriptors from the fork server", errno);
    const cmsghdr* c = CMSG_FIRSTHDR(&message);
    const std::size_t count = c ? (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) : 0;
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || count < k_job_fds || count > k_job_fds + k_max_group_files ||
        (message.msg_flags & MSG_CTRUNC)) {
        fail(WorkerExit::setup_failed, "the fork server's message did not carry the job's descriptors");
    }
    int received[k_job_fds + k_max_group_files];
    std::memcpy(received, CMSG_DATA(c), sizeof(int) * count);
    for (std::size_t i = 0; i < k_job_fds; ++i) fds[i].reset(received[i]);
    for (std::size_t i = k_job_fds; i < count; ++i) group_files.emplace_back(received[i]);
    return true;
}

// Puts `from` on descriptor `to` (stdout or stderr) and closes it.
void redirect(os::UniqueFd&& from, int to, const char* what)
{
    const os::UniqueFd owned(std::move(from));
    if (::dup2(owned.get(), to) < 0) fail(WorkerExit::setup_failed, "dup2", what, errno);
}

// The spare's life. It runs in a child forked from a server whose plugin may have started
// threads: its failures are reported with the async-signal-safe calls of failure.h.
[[noreturn]] void run_spare(JobRunner& runner, pid_t server, os::UniqueFd&& control)
{
    os::close_descriptors_from(3, {control.get()});
    // The server's dispositions are the clean ones every job starts from; it only blocks
    // SIGCHLD for its own use.
    sigset_t empty;
    sigemptyset(&empty);
    if (::sigprocmask(SIG_SETMASK, &empty, nullptr) != 0) fail(WorkerExit::setup_failed, "sigprocmask", "spare child", errno);
    install_host_death_handler(server);
    if (::setpgid(0, 0) != 0) fail(WorkerExit::setup_failed, "setpgid", "spare child", errno);
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) fail(WorkerExit::setup_failed, "prctl", "PR_SET_CHILD_SUBREAPER", errno);

    os::UniqueFd fds[k_job_fds];  // channel from the host, channel to it, stdout, stderr
    std::vector<os::UniqueFd> group_files;
    if (!receive_job_fds(control.get(), fds, group_files)) ::_exit(0);  // the server let us go unused
    control.reset();
    redirect(std::move(fds[2]), STDOUT_FILENO, "the job's stdout");
    redirect(std::move(fds[3]), STDERR_FILENO, "the job's stderr");
    enter_group(group_files);  // before the job is read
    // No hello: the server's answer to the host already says this child exists.
    WorkerChannel channel(std::move(fds[0]), std::move(fds[1]));
    runner.become_job_child(channel);
    if (auto job = receive_job(channel, runner)) runner.handle_job(*job);
    std::fflush(nullptr);
    ::_exit(0);
}

os::Result<Spare> fork_spare(ServerState& server)
{
    auto pair = os::make_socket_pair();
    if (!pair) return pair.error();
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child == 0) run_spare(server.runner, server.self, std::move(pair->second));
    if (child < 0) return os::SysError::from_errno("fork", "spare child");
    return Spare{child, std::move(pair->first)};
}

// Forks the next job's process while nothing waits for it. A failure is reported here, and
// met again (and answered to the host) when the next job comes.
void replace_spare(ServerState& server)
{
    auto forked = fork_spare(server);
    if (forked) server.spare = std::move(forked.value());
    else report(forked.error().message().c_str());
}

void end_spare(Spare& spare)
{
    if (spare.pid <= 0) return;
    spare.control.reset();
    ::kill(spare.pid, SIGKILL);
    while (::waitpid(spare.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    spare = {};
}

// The host is done with us: the spare goes, the plugin shuts down. A live job child dies with
// the server: its parent-death signal ends it and its descendants.
[[noreturn]] void leave(ServerState& server)
{
    end_spare(server.spare);
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
    if (pid == server.spare.pid) {  // killed before it had a job: the next job forks anew
        server.spare = {};
        return;
    }
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
        if (!server.jobs.count(child) && child != server.spare.pid) kill_with_descendants(child);
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
    replace_spare(server);
}

// Gives the job's channel and output pipes, and the files to enter the attempt's group by, to
// the spare, forking one first if there is none; a spare that died meanwhile is replaced on
// the spot, once. The spare enters the group itself before it reads its job (enter_group).
// Returns the child that took them.
os::Result<pid_t> hand_to_spare(ServerState& server, const std::vector<os::UniqueFd>& job_fds, const std::vector<os::UniqueFd>& group_files)
{
    std::vector<int> passed;
    for (std::size_t i = 0; i < k_job_fds; ++i) passed.push_back(job_fds[i].get());
    for (const auto& file : group_files) passed.push_back(file.get());
    os::SysError last;
    for (int round = 0; round < 2; ++round) {
        if (server.spare.pid <= 0) {
            auto forked = fork_spare(server);
            if (!forked) return forked.error();
            server.spare = std::move(forked.value());
        }
        const Spare spare = std::exchange(server.spare, Spare{});
        if (os::send_with_fds(spare.control.get(), "j", passed)) return spare.pid;
        last = os::SysError::from_errno("sendmsg", "spare child " + std::to_string(spare.pid));
        ::kill(spare.pid, SIGKILL);  // reaped with the other children
    }
    return last;
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
    const auto child = hand_to_spare(server, job_fds, group_files);
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
    replace_spare(server);  // the next job's process, forked while this one runs
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
