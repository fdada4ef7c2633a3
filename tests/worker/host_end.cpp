#include "host_end.h"

#include "os/fd.h"
#include "process/spawner.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sandhost::worker::test {
namespace {

namespace t = sandhost::testing;
using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline)
{
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

} // namespace

std::optional<protocol::Frame> FrameReader::next(std::chrono::milliseconds limit)
{
    const auto deadline = Clock::now() + limit;
    for (;;) {
        auto next = m_decoder.next();
        if (next.status == protocol::FrameDecoder::Status::frame) return std::move(next.frame);
        if (next.status == protocol::FrameDecoder::Status::broken) return std::nullopt;
        pollfd fd{m_fd, POLLIN, 0};
        if (::poll(&fd, 1, ms_left(deadline)) <= 0) return std::nullopt;
        char buffer[65536];
        const ssize_t n = ::read(m_fd, buffer, sizeof buffer);  // a socket or a pipe
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) return std::nullopt;
        m_decoder.feed(buffer, static_cast<std::size_t>(n));
    }
}

std::optional<protocol::Frame> FrameReader::next_report(std::chrono::milliseconds limit)
{
    using protocol::MessageType;
    for (;;) {
        auto frame = next(limit);
        if (!frame || (frame->type != MessageType::log && frame->type != MessageType::progress && frame->type != MessageType::heartbeat &&
                       frame->type != MessageType::loading && frame->type != MessageType::loaded)) {
            return frame;
        }
    }
}

bool send_frame(int fd, protocol::MessageType type, std::string_view body)
{
    const std::string frame = protocol::encode_frame(type, body);
    // A socket or a pipe; no SIGPIPE when the worker is gone.
    return os::write_without_sigpipe(fd, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
}

HostEnd::HostEnd(const std::string& role)
{
    auto channel = os::make_socket_pair();
    auto out = os::make_pipe();
    auto err = os::make_pipe();
    if (!channel || !out || !err) {
        ADD_FAILURE() << "cannot create the worker's descriptors";
        return;
    }
    process::LaunchRequest request;
    request.executable = t::worker_executable();
    request.args = {"--host-pid", std::to_string(::getpid()), "--role", role};
    request.channel_fd = channel->second.get();
    request.stdout_fd = out->write.get();
    request.stderr_fd = err->write.get();
    auto child = m_spawner.launch(request, process::LauncherKind::posix_spawn);
    if (!child) {
        ADD_FAILURE() << "cannot launch the worker: " << child.error().message();
        return;
    }
    m_child = std::move(child.value());
    m_channel = std::move(channel->first);
    m_stdout = std::move(out->read);
    m_stderr = std::move(err->read);
    m_frames = FrameReader(m_channel.get());
}

bool HostEnd::said_hello()
{
    if (!running()) return false;
    const auto hello = m_frames.next();
    return hello && hello->type == protocol::MessageType::hello;
}

void HostEnd::expect_gave_up(protocol::WorkerExit code, const std::string& message_start)
{
    const auto status = wait_for_exit();
    ASSERT_TRUE(status) << "the worker did not exit";
    EXPECT_EQ(status->kind, process::ExitStatus::Kind::exited) << status->describe();
    EXPECT_EQ(status->exit_code, protocol::exit_code(code)) << status->describe();
    const std::string text = stderr_text();
    const std::string prefix = "sandhost-worker: " + message_start;
    EXPECT_EQ(text.substr(0, prefix.size()), prefix) << text;
    EXPECT_EQ(text.find('\n'), text.size() - 1) << "not one line: " << text;
}

std::optional<process::ExitStatus> HostEnd::wait_for_exit(std::chrono::milliseconds limit)
{
    if (t::eventually([&] { return !m_child.running() || m_child.try_reap().has_value(); }, limit) && m_child.termination()) {
        return m_child.termination()->status;
    }
    m_child.signal_group(SIGKILL);
    m_child.reap();
    return std::nullopt;
}

std::string HostEnd::stderr_text(std::chrono::milliseconds limit)
{
    std::string text;
    const auto deadline = Clock::now() + limit;
    while (m_stderr) {
        pollfd fd{m_stderr.get(), POLLIN, 0};
        if (::poll(&fd, 1, ms_left(deadline)) <= 0) break;
        char buffer[4096];
        const ssize_t n = ::read(m_stderr.get(), buffer, sizeof buffer);
        if (n <= 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
}

} // namespace sandhost::worker::test
