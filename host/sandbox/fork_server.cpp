#include "sandbox/fork_server.h"

#include "os/clock.h"
#include "os/fd.h"
#include "os/process_tree.h"
#include "os/signals.h"
#include "sandbox/host_error.h"
#include "sandbox/stop_policy.h"
#include "sandbox/worker_launch.h"
#include "protocol/messages.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

model::Outcome failure(model::OutcomeKind kind, std::string error)
{
    model::Outcome o;
    o.kind = kind;
    o.error = std::move(error);
    o.isolation = "fork";
    o.started_at = o.ended_at = std::chrono::system_clock::now();
    return o;
}

} // namespace

std::variant<std::unique_ptr<ForkServer>, model::Outcome> ForkServer::start(process::Spawner& spawner, const WorkerConfig& config,
                                                                            const std::filesystem::path& plugin,
                                                                            const model::SandboxSettings& settings)
{
    auto launched = launch_worker(spawner, config, WorkerRole::fork_server, settings.privileges);
    if (!launched) {
        throw_if_shortage(launched.error());
        return failure(model::OutcomeKind::spawn_failed, "cannot start the fork server: " + launched.error().message());
    }
    std::unique_ptr<ForkServer> server(new ForkServer());
    server->m_spawner = &spawner;
    server->m_config = config;
    server->m_process = spawned_process(std::move(launched->child));
    server->m_channel = std::move(launched->channel);
    server->m_stdout = std::move(launched->stdout_read);
    server->m_stderr = std::move(launched->stderr_read);
    server->m_decoder = std::make_unique<protocol::FrameDecoder>(1u << 20);
    server->m_line->fd = server->m_channel.get();
    if (auto s = os::set_nonblocking(server->m_channel.get()); !s) {
        server->m_dead = true;
        throw_if_shortage(s.error());
        return failure(model::OutcomeKind::spawn_failed, "cannot set up the fork server's channel: " + s.error().message());
    }

    protocol::Job preload;
    preload.plugin_path = plugin.string();
    const std::string frame = protocol::encode_frame(protocol::MessageType::job, protocol::encode(preload));
    if (::send(server->m_channel.get(), frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) {
        server->m_dead = true;
        return failure(model::OutcomeKind::spawn_failed,
                       "cannot reach the fork server: " + os::SysError::from_errno("send", "fork server channel").message());
    }
    std::lock_guard lock(server->m_mutex);
    const auto deadline = Clock::now() + settings.startup_timeout;
    bool loading = false;  // between the server's loading and loaded messages
    for (;;) {
        auto next = server->next_frame(deadline);
        if (auto* problem = std::get_if<std::string>(&next)) {
            server->m_dead = true;
            if (Clock::now() >= deadline) {
                return failure(model::OutcomeKind::timed_out, "the fork server was not ready within the startup timeout of " +
                                                           model::format_duration(settings.startup_timeout));
            }
            if (loading && !server->m_process->termination() && server->m_process->exit_fd() >= 0) {
                // Its channel closed as it died: its end comes within moments.
                pollfd exit{server->m_process->exit_fd(), POLLIN, 0};
                const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
                if (::poll(&exit, 1, static_cast<int>(std::clamp<long long>(wait, 0, 5000))) > 0) server->m_process->try_reap();
            }
            if (loading && server->m_process->termination()) {
                // The plugin's constructors or init hook killed the server: the plugin is to blame.
                model::Outcome o = failure(model::OutcomeKind::load_failed, "");
                const auto& status = server->m_process->termination()->status;
                o.plugin_unusable = true;
                o.pid = server->m_process->pid();
                if (status.kind == process::ExitStatus::Kind::signalled) o.signal_number = status.signal_number;
                else o.exit_code = status.exit_code;
                o.error = "the fork server " +
                          (status.kind == process::ExitStatus::Kind::signalled ? "died by " + os::signal_name(status.signal_number)
                                                                                : "exited with code " + std::to_string(status.exit_code)) +
                          " while loading the plugin (in its library's constructors or its init hook)";
                return o;
            }
            return failure(model::OutcomeKind::spawn_failed, "fork server: " + *problem);
        }
        auto& received = std::get<protocol::Frame>(next);
        if (received.type == protocol::MessageType::hello) continue;
        if (received.type == protocol::MessageType::loading || received.type == protocol::MessageType::loaded) {
            loading = received.type == protocol::MessageType::loading;
            continue;
        }
        if (received.type == protocol::MessageType::ready) {
            if (auto ready = protocol::decode_ready(received.body)) server->m_baseline = *ready;
            return server;
        }
        if (received.type == protocol::MessageType::load_failed) {
            auto failed = protocol::decode_load_failed(received.body);
            server->m_dead = true;
            model::Outcome o = failure(model::OutcomeKind::load_failed, failed ? failed->message : "the fork server could not load the plugin");
            o.plugin_unusable = true;
            o.pid = server->m_process->pid();
            return o;
        }
        server->m_dead = true;
        return failure(model::OutcomeKind::protocol_error, std::string("fork server sent '") + protocol::to_string(received.type) + "' while loading");
    }
}

ForkServer::~ForkServer()
{
    if (m_process->running()) {
        const auto steps = m_dead ? kill_steps() : shutdown_steps(std::chrono::seconds(1));
        stop_and_reap(*m_process, steps, [this](StopStep::Action) {
            const std::string frame = protocol::encode_frame(protocol::MessageType::shutdown, {});
            std::lock_guard line(m_line->mutex);
            // A full socket or a gone server: the kill step follows either way.
            [[maybe_unused]] auto n = ::send(m_channel.get(), frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        });
    }
    {
        std::lock_guard line(m_line->mutex);
        m_line->fd = -1;  // the channel closes with this
    }
    m_spawner->reap_strays();
}

bool ForkServer::dead()
{
    if (m_dead) return true;
    std::unique_lock lock(m_mutex, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    if (m_process->try_reap()) m_dead = true;
    return m_dead;
}

void ForkServer::drain_diagnostics()
{
    char buffer[4096];
    for (os::UniqueFd* fd : {&m_stdout, &m_stderr}) {
        while (*fd) {
            const ssize_t n = ::read(fd->get(), buffer, sizeof buffer);
            if (n > 0) {
                if (fd == &m_stderr) m_diagnostics.append(buffer, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0) fd->reset();
            break;
        }
    }
    if (m_diagnostics.size() > 8192) m_diagnostics.erase(0, m_diagnostics.size() - 8192);
}

std::variant<protocol::Frame, std::string> ForkServer::next_frame(Clock::time_point deadline)
{
    for (;;) {
        auto next = m_decoder->next();
        if (next.status == protocol::FrameDecoder::Status::frame) return std::move(next.frame);
        if (next.status == protocol::FrameDecoder::Status::broken) return "protocol error: " + next.error;
        const auto now = Clock::now();
        if (now >= deadline) return std::string("did not answer in time");
        pollfd fds[4] = {{m_channel.get(), POLLIN, 0}, {m_process->exit_fd(), POLLIN, 0}, {m_stdout.get(), POLLIN, 0}, {m_stderr.get(), POLLIN, 0}};
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
        ::poll(fds, 4, static_cast<int>(std::min<long long>(wait, 1000)));
        if (fds[2].revents || fds[3].revents) drain_diagnostics();
        if (fds[0].revents) {
            char buffer[4096];
            const ssize_t n = ::recv(m_channel.get(), buffer, sizeof buffer, MSG_DONTWAIT);
            if (n > 0) {
                m_decoder->feed(buffer, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                drain_diagnostics();
                if (auto t = m_process->try_reap(); t || m_process->exit_fd() < 0) {
                    return "exited (" + (t ? t->status.describe() : std::string("?")) + ")" + (m_diagnostics.empty() ? "" : ": " + m_diagnostics);
                }
                return std::string("closed its channel") + (m_diagnostics.empty() ? "" : ": " + m_diagnostics);
            }
        }
        if (fds[1].revents && m_process->try_reap()) {
            drain_diagnostics();
            return "exited (" + m_process->termination()->status.describe() + ")" + (m_diagnostics.empty() ? "" : ": " + m_diagnostics);
        }
    }
}

std::variant<WorkerSession, std::string> ForkServer::fork_session(const AttemptSpec& spec, const AttemptGroup* group)
{
    struct InFlight {
        std::atomic<int>& count;
        explicit InFlight(std::atomic<int>& c) : count(c) { ++count; }
        ~InFlight() { --count; }
    } in_flight(m_in_flight);
    std::lock_guard lock(m_mutex);
    if (m_dead || !m_process->running()) return std::string("the fork server is gone");
    // The child's channel is two pipes, not a socket pair: its end travels in SCM_RIGHTS, twice,
    // and while a unix socket is in flight every close of one sets the kernel's collector of
    // unix sockets going (about one run a job, with a kernel thread's wakeup); pipes in flight
    // do not.
    auto to_child = os::make_nonblocking_pipe();
    if (!to_child) throw HostError(to_child.error());
    auto from_child = os::make_output_pipe();
    if (!from_child) throw HostError(from_child.error());
    auto out = os::make_output_pipe();
    if (!out) throw HostError(out.error());
    auto err = os::make_output_pipe();
    if (!err) throw HostError(err.error());
    auto status = os::make_pipe();
    if (!status) throw HostError(status.error());
    std::vector<int> cgroup_procs;  // the group keeps them open; the child enters by them itself
    if (group) {
        auto procs = group->files_to_enter_by_oneself();
        if (!procs) {
            throw_if_shortage(procs.error());
            return "cannot open the attempt's control group: " + procs.error().message();
        }
        cgroup_procs = std::move(procs.value());
    }
    // The job goes into the pipe first, while this end still holds a copy of its read end: the
    // write cannot meet a closed pipe. What does not fit is sent by the session.
    std::string unsent = WorkerSession::job_frame(spec, group, WorkerSession::LeaseKeeper::fork_server);
    const ssize_t sent = ::write(to_child->write.get(), unsent.data(), unsent.size());
    if (sent > 0) unsent.erase(0, static_cast<std::size_t>(sent));
    std::vector<int> passed{to_child->read.get(), from_child->write.get(), out->write.get(), err->write.get(), status->write.get()};
    passed.insert(passed.end(), cgroup_procs.begin(), cgroup_procs.end());
    protocol::ForkJob request;
    request.cgroup_fds = static_cast<std::uint32_t>(cgroup_procs.size());
    request.lease_ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, spec.lease.count()));
    const std::string frame = protocol::encode_frame(protocol::MessageType::fork_job, protocol::encode(request));
    bool sent_request;
    {
        std::lock_guard line(m_line->mutex);
        sent_request = os::send_with_fds(m_channel.get(), frame, passed);
    }
    if (!sent_request) {
        m_dead = true;
        return std::string("cannot reach the fork server: ") + std::strerror(errno);
    }
    // The server holds its own copies now; ours would keep the job's pipes open for ever.
    to_child->read.reset();
    from_child->write.reset();
    out->write.reset();
    err->write.reset();
    status->write.reset();
    auto reply = next_frame(Clock::now() + spec.settings.startup_timeout);
    if (auto* problem = std::get_if<std::string>(&reply)) {
        m_dead = true;
        return "fork server " + *problem;
    }
    const auto& received = std::get<protocol::Frame>(reply);
    auto forked = received.type == protocol::MessageType::forked ? protocol::decode_forked(received.body) : std::nullopt;
    if (!forked) {
        m_dead = true;
        return std::string("fork server sent '") + protocol::to_string(received.type) + "' instead of the child's pid";
    }
    if (forked->pid <= 0) return "fork server: " + forked->error;
    ChildLeaseRenewer renewer;
    if (request.lease_ms > 0) {
        renewer = [line = m_line](pid_t pid, std::chrono::milliseconds left) {
            const std::string renewal = protocol::encode_frame(
                protocol::MessageType::child_lease, protocol::encode(protocol::ChildLease{pid, os::monotonic_ms() + left.count()}));
            std::lock_guard sending(line->mutex);
            // A frame this short goes out whole or not at all. One the server cannot take (its
            // channel full: it is stuck) is lost, and the child ends when its lease runs out.
            if (line->fd >= 0) [[maybe_unused]] auto n = ::send(line->fd, renewal.data(), renewal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        };
    }
    return WorkerSession::adopt(m_config, forked_process(static_cast<pid_t>(forked->pid), std::move(status->read), std::move(renewer)),
                                std::move(from_child->read), std::move(to_child->write), std::move(out->read), std::move(err->read),
                                std::move(unsent), m_baseline);
}

} // namespace sandhost::sandbox
