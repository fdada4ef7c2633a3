#include "worker/worker.h"

#include "os/fd.h"
#include "os/proc.h"
#include "os/signals.h"
#include "plugin/plugin_library.h"
#include "plugin/task_call.h"
#include "protocol/messages.h"
#include "worker/worker_channel.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <string>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandhost::worker {
namespace {

using protocol::MessageType;

enum class Role { spawn, reuse };

struct Arguments {
    int channel_fd = -1;
    pid_t host_pid = 0;
    Role role = Role::spawn;
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
        } else if (key == "--role") {
            if (std::strcmp(value, "spawn") == 0) args.role = Role::spawn;
            else if (std::strcmp(value, "reuse") == 0) args.role = Role::reuse;
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

std::optional<std::string> set_limit(int resource, const char* name, rlim_t soft, rlim_t hard)
{
    rlimit current{};
    ::getrlimit(resource, &current);
    // Never try to raise a hard limit we were given: an unprivileged process cannot.
    if (current.rlim_max != RLIM_INFINITY) {
        hard = std::min(hard, current.rlim_max);
        soft = std::min(soft, hard);
    }
    const rlimit wanted{soft, hard};
    if (::setrlimit(resource, &wanted) != 0) {
        return std::string("setrlimit(") + name + "): " + std::strerror(errno);
    }
    return std::nullopt;
}

std::optional<std::string> apply_limits(const protocol::WorkerLimits& limits)
{
    if (limits.memory_bytes) {
#if defined(__SANITIZE_ADDRESS__)
        // AddressSanitizer reserves terabytes of address space for its shadow memory, so an
        // address-space limit would stop it from starting; the host's RSS watch enforces the
        // memory limit in such builds.
#else
        if (auto e = set_limit(RLIMIT_AS, "RLIMIT_AS", *limits.memory_bytes, *limits.memory_bytes)) return e;
#endif
    }
    if (limits.cpu_ms) {
        // RLIMIT_CPU counts whole seconds of this process: SIGXCPU at the soft limit, SIGKILL
        // a second later. The soft limit counts from what the process has already used.
        rusage self{};
        ::getrusage(RUSAGE_SELF, &self);
        const rlim_t used = static_cast<rlim_t>(self.ru_utime.tv_sec + self.ru_stime.tv_sec);
        const rlim_t soft = used + static_cast<rlim_t>((*limits.cpu_ms + 999) / 1000);
        if (auto e = set_limit(RLIMIT_CPU, "RLIMIT_CPU", soft, RLIM_INFINITY)) return e;
    }
    if (limits.open_files) {
        if (auto e = set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", *limits.open_files, *limits.open_files)) return e;
    }
    if (limits.file_size_bytes) {
        if (auto e = set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", *limits.file_size_bytes, *limits.file_size_bytes)) return e;
    }
    // The process limit is enforced by the host over the worker's whole tree: RLIMIT_NPROC
    // counts every process of the user (and nothing at all for root), so it cannot express it.
    return std::nullopt;
}

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

// Ends whatever the task started and left behind, then reaps it. We are a subreaper, so
// every such process is our child or our child's descendant.
void end_leftovers()
{
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

void send_done(WorkerChannel& channel, const plugin::TaskReport& report)
{
    protocol::Done done;
    done.permanent = report.permanent;
    switch (report.status) {
    case plugin::TaskReport::Status::ok: done.status = protocol::Done::Status::ok; break;
    case plugin::TaskReport::Status::error: done.status = protocol::Done::Status::error; break;
    case plugin::TaskReport::Status::result_too_large: done.status = protocol::Done::Status::result_too_large; break;
    }
    done.data = report.data;
    done.result_size = report.result_size;
    channel.send(MessageType::done, protocol::encode(done));
}

class WorkerState {
public:
    WorkerState(WorkerChannel& channel, Role role) : m_channel(channel), m_role(role) {}

    // Runs one job; false when the worker must exit afterwards.
    bool handle_job(const protocol::Job& job)
    {
        if (!m_limits_applied) {
            if (auto problem = apply_limits(job.limits)) return fail_load("cannot apply limits: " + *problem);
            m_limits_applied = true;
        } else if (job.limits.cpu_ms) {
            protocol::WorkerLimits cpu_only;
            cpu_only.cpu_ms = job.limits.cpu_ms;
            apply_limits(cpu_only);
        }
        if (!m_library || m_library->path() != job.plugin_path) {
            if (m_library) return fail_load("this worker already serves plugin " + m_library->path());
            auto opened = plugin::PluginLibrary::open(job.plugin_path);
            if (auto* message = std::get_if<std::string>(&opened)) return fail_load(*message);
            m_library.emplace(std::move(std::get<plugin::PluginLibrary>(opened)));
            if (sh_init_fn init = m_library->init_hook()) {
                ChannelSink sink(m_channel);
                plugin::TaskCall call(sink, 0);
                auto report = call.run_init(init);
                if (report.status != plugin::TaskReport::Status::ok) {
                    return fail_load("plugin " + std::string(m_library->name()) + " failed to initialise: " + report.data);
                }
            }
        }
        if (job.describe) {
            protocol::Description d;
            d.name = m_library->name();
            d.version = m_library->version();
            for (std::size_t i = 0; i < m_library->task_count(); ++i) {
                const auto& t = m_library->task(i);
                d.tasks.push_back({t.name, t.description ? t.description : ""});
            }
            m_channel.send(MessageType::description, protocol::encode(d));
            return false;
        }
        const sh_task_t* task = m_library->find_task(job.task);
        if (!task) {
            return fail_load("plugin " + std::string(m_library->name()) + " has no task '" + job.task +
                             "' (its tasks: " + m_library->task_names() + ")");
        }
        protocol::Ready ready;
        if (auto memory = os::read_memory(::getpid())) {
            ready.vm_size_kb = memory->size_kb;
            ready.rss_kb = memory->rss_kb;
        }
        if (!m_channel.send(MessageType::ready, protocol::encode(ready))) return false;

        ChannelSink sink(m_channel);
        plugin::TaskCall call(sink, job.max_result);
        auto report = call.run(*task, job.payload);
        std::fflush(nullptr);
        end_leftovers();
        if (m_role == Role::spawn) shutdown_plugin();
        send_done(m_channel, report);
        // A failed task may have left its state half-changed: never reuse the process.
        return m_role == Role::reuse && report.status == plugin::TaskReport::Status::ok;
    }

    void shutdown_plugin()
    {
        if (m_library) {
            if (sh_shutdown_fn shutdown = m_library->shutdown_hook()) shutdown();
            std::fflush(nullptr);
        }
    }

private:
    bool fail_load(const std::string& message)
    {
        m_channel.send(MessageType::load_failed, protocol::encode(protocol::LoadFailed{message}));
        return false;
    }

    WorkerChannel& m_channel;
    Role m_role;
    bool m_limits_applied = false;
    std::optional<plugin::PluginLibrary> m_library;
};

} // namespace

int host_death_signal() { return SIGRTMAX - 1; }

int worker_main(int argc, char** argv)
{
    os::reset_signal_state();
    const auto args = parse_arguments(argc, argv);
    if (!args) die("usage: sandhost-worker --channel-fd N --host-pid PID [--role spawn|reuse] (started by sandhost, not by hand)");

    // Lead our own process group so the host can signal the whole attempt at once. Fails
    // harmlessly when the launcher already made us a leader.
    ::setpgid(0, 0);

    // Die with the host. The handler first kills our descendants: they would outlive us
    // otherwise, since our subreaper (the host) is gone.
    struct sigaction action {};
    action.sa_handler = on_host_death;
    sigfillset(&action.sa_mask);
    ::sigaction(host_death_signal(), &action, nullptr);
    ::prctl(PR_SET_PDEATHSIG, host_death_signal());
    if (::getppid() != args->host_pid) ::_exit(112);  // the host died before we could ask

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
    // Line-buffered stdout: what a task printed before it crashed still reaches the host.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    WorkerChannel channel(channel_fd);
    if (!channel.send(MessageType::hello, protocol::encode(protocol::Hello{::getpid()}))) return 113;

    WorkerState state(channel, args->role);
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
