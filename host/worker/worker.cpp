#include "worker/worker.h"

#include "os/fd.h"
#include "os/proc.h"
#include "os/signals.h"
#include "plugin/plugin_library.h"
#include "plugin/task_call.h"
#include "protocol/messages.h"
#include "worker/worker_channel.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <string>
#include <deque>
#include <map>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

namespace sandhost::worker {
namespace {

using protocol::MessageType;

enum class Role { spawn, reuse, fork_server };

struct Arguments {
    int channel_fd = -1;
    pid_t host_pid = 0;
    Role role = Role::spawn;
    bool signals_clean = false;  // the launcher already reset the signal mask and dispositions
};

[[noreturn]] void die(const char* message)
{
    std::fprintf(stderr, "sandhost-worker: %s\n", message);
    std::fflush(stderr);
    ::_exit(111);
}

std::optional<Arguments> parse_arguments(int argc, char** argv)
{
    Arguments args;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i];
        const char* value = argv[i + 1];
        if (key == "--channel-fd") {
            args.channel_fd = std::atoi(value);
        } else if (key == "--host-pid") {
            args.host_pid = static_cast<pid_t>(std::atol(value));
        } else if (key == "--signals-clean") {
            args.signals_clean = std::strcmp(value, "1") == 0;
        } else if (key == "--role") {
            if (std::strcmp(value, "spawn") == 0) args.role = Role::spawn;
            else if (std::strcmp(value, "reuse") == 0) args.role = Role::reuse;
            else if (std::strcmp(value, "fork-server") == 0) args.role = Role::fork_server;
            else return std::nullopt;
        } else {
            return std::nullopt;
        }
    }
    if (args.channel_fd < 0 || args.host_pid <= 0) return std::nullopt;
    return args;
}

// ---- host death --------------------------------------------------------------------------
// Runs in a signal handler: only async-signal-safe calls (open, read, kill, _exit).

int parse_int(const char*& p, const char* end)
{
    int value = 0;
    while (p < end && *p >= '0' && *p <= '9') value = value * 10 + (*p++ - '0');
    return value;
}

char* append_int(char* out, int value)
{
    char digits[16];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (n > 0) *out++ = digits[--n];
    return out;
}

void kill_descendants_async_safe(pid_t pid, int depth)
{
    if (depth > 64) return;
    char path[64] = "/proc/";
    char* p = append_int(path + 6, pid);
    const char* middle = "/task/";
    while (*middle) *p++ = *middle++;
    p = append_int(p, pid);
    const char* tail = "/children";
    while (*tail) *p++ = *tail++;
    *p = '\0';
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    ::close(fd);
    if (n <= 0) return;
    const char* q = buffer;
    const char* end = buffer + n;
    while (q < end) {
        if (*q < '0' || *q > '9') {
            ++q;
            continue;
        }
        const int child = parse_int(q, end);
        ::kill(child, SIGSTOP);
        kill_descendants_async_safe(child, depth + 1);
        ::kill(child, SIGKILL);
    }
}

void on_host_death(int)
{
    kill_descendants_async_safe(::getpid(), 0);
    ::_exit(112);
}

// ---- limits ------------------------------------------------------------------------------

std::uint64_t cpu_us_of(const rusage& usage)
{
    return static_cast<std::uint64_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
           static_cast<std::uint64_t>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

std::uint64_t cpu_used_us()
{
    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);
    return cpu_us_of(self);
}

// Applies a job's limits to this process. It remembers the hard limits it was given and the
// soft CPU limit it set, so a reused worker's next job (or a fork server's child, which
// inherits this object) costs one getrusage() rather than a getrlimit/setrlimit per resource.
class Limiter {
public:
    // Reads the hard limits we were given, once (a fork server does it before forking).
    void prime()
    {
        for (int resource : {RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_FSIZE}) (void)given_hard(resource);
    }

    std::optional<std::string> apply(const protocol::WorkerLimits& limits)
    {
        if (!m_applied) {
            m_applied = true;
            if (limits.memory_bytes) {
#if defined(__SANITIZE_ADDRESS__)
                // AddressSanitizer reserves terabytes of address space for its shadow memory, so
                // an address-space limit would stop it from starting; the host's RSS watch
                // enforces the memory limit in such builds.
#else
                if (auto e = set(RLIMIT_AS, "RLIMIT_AS", *limits.memory_bytes, *limits.memory_bytes)) return e;
#endif
            }
            if (limits.open_files) {
                if (auto e = set(RLIMIT_NOFILE, "RLIMIT_NOFILE", *limits.open_files, *limits.open_files)) return e;
            }
            if (limits.file_size_bytes) {
                if (auto e = set(RLIMIT_FSIZE, "RLIMIT_FSIZE", *limits.file_size_bytes, *limits.file_size_bytes)) return e;
            }
            // The process limit is enforced by the host over the worker's whole tree:
            // RLIMIT_NPROC counts every process of the user (and nothing at all for root).
        }
        if (limits.cpu_ms) {
            // RLIMIT_CPU counts whole seconds of this process: SIGXCPU once the soft limit is
            // reached, SIGKILL a second later. Each job's soft limit counts from what the
            // process has already used (as of its last result, if it had one: nothing of note
            // runs between a result and the next job), rounded up to the next whole second.
            std::uint64_t used_us = m_used_cpu_us;
            if (used_us == 0) used_us = cpu_used_us();
            const rlim_t soft = static_cast<rlim_t>((used_us + *limits.cpu_ms * 1000 + 999'999) / 1'000'000);
            if (soft != m_cpu_soft) {
                if (auto e = set(RLIMIT_CPU, "RLIMIT_CPU", soft, RLIM_INFINITY)) return e;
                m_cpu_soft = soft;
            }
        }
        return std::nullopt;
    }

    // What the process had used when it reported its last result.
    void note_cpu_used(std::uint64_t used_us) { m_used_cpu_us = used_us; }

private:
    rlim_t given_hard(int resource)
    {
        auto& known = m_hard[resource];
        if (!known) {
            rlimit current{RLIM_INFINITY, RLIM_INFINITY};
            ::getrlimit(resource, &current);
            known = current.rlim_max;
        }
        return *known;
    }

    std::optional<std::string> set(int resource, const char* name, rlim_t soft, rlim_t hard)
    {
        // Never try to raise a hard limit we were given: an unprivileged process cannot.
        const rlim_t given = given_hard(resource);
        if (given != RLIM_INFINITY) {
            hard = std::min(hard, given);
            soft = std::min(soft, hard);
        }
        const rlimit wanted{soft, hard};
        if (::setrlimit(resource, &wanted) != 0) return std::string("setrlimit(") + name + "): " + std::strerror(errno);
        m_hard[resource] = hard;
        return std::nullopt;
    }

    bool m_applied = false;
    rlim_t m_cpu_soft = RLIM_INFINITY;
    std::uint64_t m_used_cpu_us = 0;
    std::optional<rlim_t> m_hard[RLIM_NLIMITS];
};

// ---- the task's reports --------------------------------------------------------------------

class ChannelSink final : public plugin::TaskSink {
public:
    explicit ChannelSink(WorkerChannel& channel) : m_channel(channel) {}
    void log(sh_log_level_t level, std::string_view message) override
    {
        protocol::Log m{static_cast<std::uint8_t>(level), std::string(message)};
        m_channel.send(MessageType::log, protocol::encode(m));
    }
    void progress(double percent, std::string_view message) override
    {
        m_channel.send(MessageType::progress, protocol::encode(protocol::Progress{percent, std::string(message)}));
    }
    void heartbeat() override { m_channel.send(MessageType::heartbeat, {}); }
    bool poll_cancel() override { return m_channel.poll_cancel(); }

private:
    WorkerChannel& m_channel;
};

// Whether this process has any child at all, alive or not (without reaping one).
bool has_children()
{
    siginfo_t info{};
    return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

// Ends whatever the task started and left behind, then reaps it. We are a subreaper, so
// every such process is our child or our child's descendant.
void end_leftovers()
{
    if (!has_children()) return;  // the usual case, without reading /proc
    for (int round = 0; round < 64; ++round) {
        const auto children = os::children_of(::getpid());
        if (children.empty()) return;
        for (pid_t child : children) {
            ::kill(child, SIGSTOP);
            kill_descendants_async_safe(child, 0);
            ::kill(child, SIGKILL);
        }
        while (::waitpid(-1, nullptr, __WALL) > 0 || errno == EINTR) {
        }
    }
}

// ru_maxrss when this process started (see protocol::Hello): the size of what it was exec'd over.
std::uint64_t g_inherited_max_rss_kb = 0;

// This process's peak resident size, without what it inherited: ru_maxrss when it grew past
// the inherited figure, else VmHWM from /proc. Resident memory only grows through page
// faults, so while the fault count stands still the last VmHWM read stands too: a reused
// worker whose jobs touch no new memory reads /proc once.
std::uint64_t own_peak_rss_kb(const rusage& self)
{
    static std::uint64_t faults_at_last_read = ~std::uint64_t{0};
    static std::uint64_t peak_at_last_read = 0;
    static pid_t read_by = 0;  // a forked child must not trust its server's reading
    const auto reported = static_cast<std::uint64_t>(self.ru_maxrss);
    if (reported > g_inherited_max_rss_kb) return reported;
    const auto faults = static_cast<std::uint64_t>(self.ru_minflt) + static_cast<std::uint64_t>(self.ru_majflt);
    if (faults != faults_at_last_read || ::getpid() != read_by) {
        peak_at_last_read = os::read_peak_rss_kb(::getpid()).value_or(reported);
        faults_at_last_read = faults;
        read_by = ::getpid();
    }
    return peak_at_last_read;
}

// Sends the task's report with this process's usage so far; returns the CPU time in it.
std::uint64_t send_done(WorkerChannel& channel, const plugin::TaskReport& report)
{
    protocol::Done done;
    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);
    done.cpu_us = cpu_us_of(self);
    done.max_rss_kb = own_peak_rss_kb(self);
    done.permanent = report.permanent;
    switch (report.status) {
    case plugin::TaskReport::Status::ok: done.status = protocol::Done::Status::ok; break;
    case plugin::TaskReport::Status::error: done.status = protocol::Done::Status::error; break;
    case plugin::TaskReport::Status::result_too_large: done.status = protocol::Done::Status::result_too_large; break;
    }
    done.data = report.data;
    done.result_size = report.result_size;
    channel.send(MessageType::done, protocol::encode(done));
    return done.cpu_us;
}

class WorkerState {
public:
    WorkerState(WorkerChannel& channel, Role role, const plugin::LibraryLoader& loader) : m_channel(&channel), m_role(role), m_loader(loader) {}

    // A forked child serves its own job on its own channel, as a spawn-role worker.
    void become_job_child(WorkerChannel& channel)
    {
        m_channel = &channel;
        m_role = Role::spawn;
        m_ready_implied = true;  // the server's answer to the host stands for it
    }

    // Loads the job's plugin (and runs its init hook) unless this worker already holds it.
    // False, after reporting load_failed, when it cannot.
    bool ensure_loaded(const protocol::Job& job)
    {
        if (m_library && m_library->path() == job.plugin_path) return true;
        if (m_library) return fail_load("this worker already serves plugin " + m_library->path());
        auto opened = plugin::PluginLibrary::open(job.plugin_path, m_loader);
        if (auto* message = std::get_if<std::string>(&opened)) return fail_load(*message);
        m_library.emplace(std::move(std::get<plugin::PluginLibrary>(opened)));
        if (sh_init_fn init = m_library->init_hook()) {
            ChannelSink sink(*m_channel);
            plugin::TaskCall call(sink, 0);
            auto report = call.run_init(init);
            if (report.status != plugin::TaskReport::Status::ok) {
                return fail_load("plugin " + std::string(m_library->name()) + " failed to initialise: " + report.data);
            }
        }
        return true;
    }

    // Runs one job; false when the worker must exit afterwards.
    bool handle_job(const protocol::Job& job)
    {
        if (auto problem = m_limiter.apply(job.limits)) return fail_load("cannot apply limits: " + *problem);
        if (!ensure_loaded(job)) return false;
        if (job.describe) {
            protocol::Description d;
            d.name = m_library->name();
            d.version = m_library->version();
            for (std::size_t i = 0; i < m_library->task_count(); ++i) {
                const auto& t = m_library->task(i);
                d.tasks.push_back({t.name, t.description ? t.description : ""});
            }
            m_channel->send(MessageType::description, protocol::encode(d));
            return false;
        }
        const sh_task_t* task = m_library->find_task(job.task);
        if (!task) {
            return fail_load("plugin " + std::string(m_library->name()) + " has no task '" + job.task + "' (its tasks: " +
                                 m_library->task_names() + ")",
                             true);
        }
        // Ready starts the job's clock and carries the memory baseline (what the process had
        // mapped but not touched): only a worker's first job sends it. The host counts a
        // reused worker's later jobs, and a forked child's, as ready once sent.
        if (!m_ready_implied) {
            protocol::Ready ready;
            if (auto memory = os::read_memory(::getpid())) {
                ready.vm_size_kb = memory->size_kb;
                ready.rss_kb = memory->rss_kb;
            }
            if (!m_channel->send(MessageType::ready, protocol::encode(ready))) return false;
            m_ready_implied = true;
        }

        ChannelSink sink(*m_channel);
        plugin::TaskCall call(sink, job.max_result);
        auto report = call.run(*task, job.payload);
        std::fflush(nullptr);
        end_leftovers();
        if (m_role == Role::spawn) shutdown_plugin();
        m_limiter.note_cpu_used(send_done(*m_channel, report));
        // A failed task may have left its state half-changed: never reuse the process.
        return m_role == Role::reuse && report.status == plugin::TaskReport::Status::ok;
    }

    // What a fork server learns once so that its children need not.
    void prepare_for_forking() { m_limiter.prime(); }

    void shutdown_plugin()
    {
        if (m_library) {
            if (sh_shutdown_fn shutdown = m_library->shutdown_hook()) shutdown();
            std::fflush(nullptr);
        }
    }

private:
    bool fail_load(const std::string& message, bool task_missing = false)
    {
        m_channel->send(MessageType::load_failed, protocol::encode(protocol::LoadFailed{message, task_missing}));
        return false;
    }

    WorkerChannel* m_channel;
    Role m_role;
    const plugin::LibraryLoader& m_loader;
    Limiter m_limiter;
    bool m_ready_implied = false;
    std::optional<plugin::PluginLibrary> m_library;
};

// ---- the fork server -----------------------------------------------------------------------
// Holds the plugin loaded and initialised, and forks one child per job: the child starts from
// the server's clean state, gets its own channel and output pipes (passed by the host over the
// channel), its own process group and limits, and serves that one job like a spawned worker.

void install_host_death_handler(pid_t expected_parent)
{
    struct sigaction action {};
    action.sa_handler = on_host_death;
    sigfillset(&action.sa_mask);
    ::sigaction(host_death_signal(), &action, nullptr);
    ::prctl(PR_SET_PDEATHSIG, host_death_signal());
    if (::getppid() != expected_parent) ::_exit(112);  // the parent died before we could ask
}

// Reads the host's frames and the descriptors that come with them (SCM_RIGHTS), in order.
class ServerChannelReader {
public:
    explicit ServerChannelReader(int fd) : m_fd(fd), m_decoder(1u << 20) {}

    // Reads what has arrived; false when the host closed the channel.
    bool fill()
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
        if (n == 0) return false;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < count; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                m_fds.push_back(fd);
            }
        }
        m_decoder.feed(buffer, static_cast<std::size_t>(n));
        return true;
    }
    protocol::FrameDecoder::Next next() { return m_decoder.next(); }
    bool take_fds(std::size_t count, std::vector<int>& out)
    {
        if (m_fds.size() < count) return false;
        out.assign(m_fds.begin(), m_fds.begin() + static_cast<std::ptrdiff_t>(count));
        m_fds.erase(m_fds.begin(), m_fds.begin() + static_cast<std::ptrdiff_t>(count));
        return true;
    }
    const std::deque<int>& pending_fds() const { return m_fds; }

private:
    int m_fd;
    protocol::FrameDecoder m_decoder;
    std::deque<int> m_fds;
};

// Receives exactly `count` descriptors sent with one byte by os::send_with_fds; false on end of file or anything else.
bool receive_fds(int socket, int* fds, std::size_t count)
{
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    const cmsghdr* c = n == 1 ? CMSG_FIRSTHDR(&message) : nullptr;
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int) * count)) return false;
    std::memcpy(fds, CMSG_DATA(c), sizeof(int) * count);
    return true;
}

// A child forked ahead of its job: everything a job's process needs that does not depend on
// the job is done before the job arrives, off the job's clock. It waits on `control` for the
// job's channel and output pipes.
struct Spare {
    pid_t pid = -1;
    int control = -1;  // the server's end
};

[[noreturn]] void run_spare(WorkerState& state, pid_t server, int control)
{
    os::close_descriptors_from(3, {control});
    // The server's dispositions are the clean ones every job starts from; it only blocks
    // SIGCHLD for its own use.
    sigset_t empty;
    sigemptyset(&empty);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
    install_host_death_handler(server);
    ::setpgid(0, 0);
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);

    int fds[3];  // channel, stdout, stderr
    if (!receive_fds(control, fds, 3)) ::_exit(0);  // the server let us go unused
    ::close(control);
    ::dup2(fds[1], 1);
    ::dup2(fds[2], 2);
    ::close(fds[1]);
    ::close(fds[2]);
    // No hello: the server's answer to the host already says this child exists.
    WorkerChannel channel(fds[0]);
    state.become_job_child(channel);
    auto frame = channel.receive();
    if (frame && frame->type == MessageType::job) {
        if (auto job = protocol::decode_job(frame->body)) state.handle_job(*job);
    }
    std::fflush(nullptr);
    ::_exit(0);
}

Spare fork_spare(WorkerState& state, pid_t self)
{
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return {};
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(pair[0]);
        run_spare(state, self, pair[1]);
    }
    ::close(pair[1]);
    if (child < 0) {
        const int saved = errno;
        ::close(pair[0]);
        errno = saved;
        return {};
    }
    return {child, pair[0]};
}

void end_spare(Spare& spare)
{
    if (spare.pid <= 0) return;
    ::close(spare.control);
    ::kill(spare.pid, SIGKILL);
    while (::waitpid(spare.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    spare = {};
}

int run_fork_server(WorkerChannel& channel, WorkerState& state)
{
    sigset_t child_signals;
    sigemptyset(&child_signals);
    sigaddset(&child_signals, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &child_signals, nullptr);
    const int sigchld_fd = ::signalfd(-1, &child_signals, SFD_CLOEXEC | SFD_NONBLOCK);
    ServerChannelReader reader(channel.fd());
    std::map<pid_t, int> status_fds;  // a live job child's status pipe
    bool loaded = false;
    bool reaped_job = false;
    Spare spare;
    const pid_t self = ::getpid();
    auto leave = [&](int code) {
        end_spare(spare);
        state.shutdown_plugin();
        std::fflush(nullptr);
        ::_exit(code);
    };
    for (;;) {
        pollfd fds[2] = {{channel.fd(), POLLIN, 0}, {sigchld_fd, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0 && errno != EINTR) return 114;
        if (fds[1].revents) {
            signalfd_siginfo info;
            while (::read(sigchld_fd, &info, sizeof info) > 0) {
            }
            bool children_left = true;
            for (;;) {
                int status = 0;
                rusage usage{};
                const pid_t pid = ::wait4(-1, &status, WNOHANG | __WALL, &usage);
                if (pid < 0 && errno == ECHILD) children_left = false;
                if (pid <= 0) break;
                if (pid == spare.pid) {  // killed before it had a job: the next job forks anew
                    ::close(spare.control);
                    spare = {};
                    continue;
                }
                auto it = status_fds.find(pid);
                if (it == status_fds.end()) continue;  // a stray we killed
                reaped_job = true;
                protocol::ChildStatus record;
                record.wait_status = status;
                record.max_rss_kb = static_cast<std::uint64_t>(usage.ru_maxrss);
                record.user_cpu_us = static_cast<std::uint64_t>(usage.ru_utime.tv_sec) * 1000000 + static_cast<std::uint64_t>(usage.ru_utime.tv_usec);
                record.system_cpu_us = static_cast<std::uint64_t>(usage.ru_stime.tv_sec) * 1000000 + static_cast<std::uint64_t>(usage.ru_stime.tv_usec);
                const std::string bytes = protocol::encode(record);
                [[maybe_unused]] auto n = ::write(it->second, bytes.data(), bytes.size());
                ::close(it->second);
                status_fds.erase(it);
            }
            // Orphans of finished jobs were re-parented to us (a subreaper): they end too.
            if (reaped_job && children_left) {
                reaped_job = false;
                for (pid_t child : os::children_of_thread(self, self)) {
                    if (!status_fds.count(child) && child != spare.pid) {
                        ::kill(child, SIGSTOP);
                        kill_descendants_async_safe(child, 0);
                        ::kill(child, SIGKILL);
                    }
                }
            }
        }
        if (!fds[0].revents) continue;
        if (!reader.fill()) break;  // the host closed the channel
        for (auto next = reader.next(); next.status != protocol::FrameDecoder::Status::need_more; next = reader.next()) {
            if (next.status == protocol::FrameDecoder::Status::broken) return 115;
            const auto& frame = next.frame;
            if (frame.type == MessageType::shutdown) leave(0);
            if (frame.type == MessageType::job && !loaded) {
                auto job = protocol::decode_job(frame.body);
                if (!job || !state.ensure_loaded(*job)) ::_exit(0);
                loaded = true;
                state.prepare_for_forking();
                // The server's memory baseline stands for every child it forks.
                protocol::Ready ready;
                if (auto memory = os::read_memory(self)) {
                    ready.vm_size_kb = memory->size_kb;
                    ready.rss_kb = memory->rss_kb;
                }
                channel.send(MessageType::ready, protocol::encode(ready));
                spare = fork_spare(state, self);
                continue;
            }
            if (frame.type != MessageType::fork_job || !loaded) return 116;
            std::vector<int> job_fds;  // channel, stdout, stderr, status
            if (!reader.take_fds(4, job_fds)) {
                channel.send(MessageType::forked, protocol::encode(protocol::Forked{-1, "the job's descriptors did not arrive"}));
                continue;
            }
            // The spare takes the job; one that died meanwhile is replaced on the spot.
            pid_t child = -1;
            int fork_error = 0;
            for (int round = 0; round < 2 && child < 0; ++round) {
                if (spare.pid <= 0) spare = fork_spare(state, self);
                if (spare.pid <= 0) {
                    fork_error = errno;
                    break;
                }
                if (os::send_with_fds(spare.control, "j", {job_fds[0], job_fds[1], job_fds[2]})) child = spare.pid;
                else ::kill(spare.pid, SIGKILL);  // reaped with the other children
                ::close(spare.control);
                spare = {};
            }
            for (int i = 0; i < 3; ++i) ::close(job_fds[static_cast<std::size_t>(i)]);
            if (child < 0) {
                ::close(job_fds[3]);
                channel.send(MessageType::forked,
                             protocol::encode(protocol::Forked{-1, std::string("fork: ") + std::strerror(fork_error ? fork_error : EPIPE)}));
                continue;
            }
            status_fds[child] = job_fds[3];
            channel.send(MessageType::forked, protocol::encode(protocol::Forked{child, {}}));
            // The next job's process, forked while this one runs.
            spare = fork_spare(state, self);
        }
    }
    leave(0);
    return 0;
}

} // namespace

int host_death_signal() { return SIGRTMAX - 1; }

int worker_main(int argc, char** argv, const plugin::LibraryLoader& loader)
{
    {
        rusage self{};
        ::getrusage(RUSAGE_SELF, &self);
        g_inherited_max_rss_kb = static_cast<std::uint64_t>(self.ru_maxrss);
    }
    const auto args = parse_arguments(argc, argv);
    if (!args || !args->signals_clean) os::reset_signal_state();
    if (!args) die("usage: sandhost-worker --channel-fd N --host-pid PID [--role spawn|reuse|fork-server] (started by sandhost, not by hand)");

    // Lead our own process group so the host can signal the whole attempt at once. Fails
    // harmlessly when the launcher already made us a leader.
    ::setpgid(0, 0);

    // Die with the host. The handler first kills our descendants: they would outlive us
    // otherwise, since our subreaper (the host) is gone.
    install_host_death_handler(args->host_pid);

    // Move the channel off stdin (where the Poco launcher puts it) and put /dev/null there.
    int channel_fd = args->channel_fd;
    if (channel_fd < 3) {
        channel_fd = ::fcntl(channel_fd, F_DUPFD_CLOEXEC, 3);
        if (channel_fd < 0) die("cannot move the channel descriptor");
        const int null_fd = ::open("/dev/null", O_RDONLY);
        if (null_fd >= 0 && null_fd != args->channel_fd) {
            ::dup2(null_fd, args->channel_fd);
            ::close(null_fd);
        }
    } else {
        (void)os::set_cloexec(channel_fd);
    }
    os::close_descriptors_from(3, {channel_fd});
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    // A task that calls exit() still takes what it started with it.
    std::atexit(end_leftovers);
    // Line-buffered stdout: what a task printed before it crashed still reaches the host.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    WorkerChannel channel(channel_fd);
    if (!channel.send(MessageType::hello, protocol::encode(protocol::Hello{::getpid(), g_inherited_max_rss_kb}))) return 113;

    WorkerState state(channel, args->role, loader);
    if (args->role == Role::fork_server) return run_fork_server(channel, state);
    for (;;) {
        auto frame = channel.receive();
        if (!frame || frame->type == MessageType::shutdown) break;
        if (frame->type == MessageType::cancel) continue;  // nothing running to cancel
        if (frame->type != MessageType::job) die("unexpected message from the host");
        auto job = protocol::decode_job(frame->body);
        if (!job) die("malformed job message from the host");
        if (!state.handle_job(*job)) {
            std::fflush(nullptr);
            ::_exit(0);
        }
    }
    state.shutdown_plugin();
    std::fflush(nullptr);
    ::_exit(0);
}

} // namespace sandhost::worker
