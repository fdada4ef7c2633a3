#include "worker/worker_main.h"

#include "os/fd.h"
#include "os/signals.h"
#include "protocol/messages.h"
#include "worker/failure.h"
#include "worker/fork_server_role.h"
#include "worker/host_death.h"
#include "worker/worker_channel.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace sandhost::worker {
namespace {

using protocol::MessageType;
using protocol::WorkerExit;

constexpr const char* k_usage =
    "usage: sandhost-worker --channel-fd N --host-pid PID [--role spawn|reuse|fork-server] (started by sandhost, not by hand)";

// A whole decimal number in [min, max], or nullopt.
std::optional<long> parse_number(const char* text, long min, long max)
{
    errno = 0;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max) return std::nullopt;
    return value;
}

std::optional<Role> parse_role(const char* text)
{
    if (std::strcmp(text, "spawn") == 0) return Role::spawn;
    if (std::strcmp(text, "reuse") == 0) return Role::reuse;
    if (std::strcmp(text, "fork-server") == 0) return Role::fork_server;
    return std::nullopt;
}

// Takes one key and its value into args; false when either is wrong.
bool parse_argument(const char* key, const char* value, Arguments& args)
{
    if (std::strcmp(key, "--channel-fd") == 0) {
        const auto fd = parse_number(value, 0, 1 << 30);
        args.channel_fd = fd ? static_cast<int>(*fd) : -1;
        return fd.has_value();
    }
    if (std::strcmp(key, "--host-pid") == 0) {
        const auto pid = parse_number(value, 1, 1 << 30);
        args.host_pid = pid ? static_cast<pid_t>(*pid) : 0;
        return pid.has_value();
    }
    if (std::strcmp(key, "--signals-clean") == 0) {
        args.signals_clean = std::strcmp(value, "1") == 0;
        return true;
    }
    if (std::strcmp(key, "--bound-now") == 0) {
        args.bound_now = std::strcmp(value, "1") == 0;
        return true;
    }
    if (std::strcmp(key, "--role") == 0) {
        const auto role = parse_role(value);
        if (role) args.role = *role;
        return role.has_value();
    }
    bool known = false;
    return parse_privilege_argument(key, value, args.privileges, known);
}

std::uint64_t max_rss_kb_now()
{
    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);  // cannot fail for RUSAGE_SELF and a valid buffer
    return static_cast<std::uint64_t>(self.ru_maxrss);
}

// Owns the channel, close-on-exec. The Poco launcher puts it on stdin: it moves off, and
// /dev/null takes its place (the channel's old descriptor is still open, so /dev/null gets
// another number first).
os::UniqueFd take_channel(int channel_fd)
{
    if (channel_fd >= 3) {
        if (auto marked = os::set_cloexec(channel_fd); !marked) fail(WorkerExit::setup_failed, marked.error().message().c_str());
        return os::UniqueFd(channel_fd);
    }
    os::UniqueFd moved(::fcntl(channel_fd, F_DUPFD_CLOEXEC, 3));
    if (!moved) fail(WorkerExit::setup_failed, "fcntl(F_DUPFD_CLOEXEC)", "the channel", errno);
    const os::UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null) fail(WorkerExit::setup_failed, "open", "/dev/null", errno);
    if (::dup2(null.get(), channel_fd) < 0) fail(WorkerExit::setup_failed, "dup2", "/dev/null over the channel's first descriptor", errno);
    return moved;
}

// The spawn and reuse roles: jobs until the host is done or a job ends the worker.
[[noreturn]] void serve_jobs(WorkerChannel& channel, JobRunner& runner)
{
    while (auto job = receive_job(channel, runner)) {
        if (!runner.handle_job(*job)) {
            std::fflush(nullptr);
            ::_exit(0);
        }
    }
    runner.shutdown_plugin();
    std::fflush(nullptr);
    ::_exit(0);
}

} // namespace

std::optional<Arguments> parse_arguments(int argc, const char* const* argv)
{
    if (argc < 1 || (argc - 1) % 2 != 0) return std::nullopt;
    Arguments args;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!parse_argument(argv[i], argv[i + 1], args)) return std::nullopt;
    }
    if (args.channel_fd < 0 || args.host_pid <= 0) return std::nullopt;
    return args;
}

void worker_main(int argc, char** argv, const plugin::LibraryLoader& loader)
{
    const std::uint64_t inherited_max_rss_kb = max_rss_kb_now();
    const auto args = parse_arguments(argc, argv);
    if (!args || !args->signals_clean) os::reset_signal_state();
    if (!args) fail(WorkerExit::usage, k_usage);
    // The dynamic linker read it as the worker started: no task is to inherit it.
    if (args->bound_now) ::unsetenv("LD_BIND_NOW");
    restrict_environment(args->privileges);

    // Lead our own process group so the host can signal the whole attempt at once. EPERM: we
    // lead a session the launcher made, and so our group too.
    if (::setpgid(0, 0) != 0 && errno != EPERM) fail(WorkerExit::setup_failed, "setpgid", "0, 0", errno);

    os::UniqueFd channel_fd = take_channel(args->channel_fd);
    os::close_descriptors_from(3, {channel_fd.get()});
    // Before the host-death handler: a change of user clears the parent-death signal.
    apply_privileges(args->privileges);

    // Die with the host. The handler first kills our descendants: they would outlive us
    // otherwise, since our subreaper (the host) is gone.
    install_host_death_handler(args->host_pid);

    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) fail(WorkerExit::setup_failed, "prctl", "PR_SET_CHILD_SUBREAPER", errno);
    // A task that calls exit() still takes what it started with it.
    if (std::atexit(end_leftovers) != 0) fail(WorkerExit::setup_failed, "atexit(end_leftovers) failed");
    // Line-buffered stdout: what a task printed before it crashed still reaches the host.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    WorkerChannel channel(std::move(channel_fd));
    if (!channel.send(MessageType::hello, protocol::encode(protocol::Hello{::getpid(), inherited_max_rss_kb}))) {
        fail(WorkerExit::host_gone, "send", "hello on the channel", errno);
    }
    JobRunner runner(channel, args->role, loader, inherited_max_rss_kb);
    if (args->role == Role::fork_server) run_fork_server(channel, runner);
    serve_jobs(channel, runner);
}

} // namespace sandhost::worker
