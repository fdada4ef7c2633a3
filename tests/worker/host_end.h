// The host's end of a real sandhost-worker, launched by the Spawner as the host launches one:
// its channel, its stdout and stderr, frames sent and received with a bound on every wait.
#pragma once

#include "os/unique_fd.h"
#include "process/spawner.h"
#include "protocol/frame.h"
#include "protocol/worker_exit.h"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sandhost::worker::test {

// Reads frames from a descriptor (a channel), waiting at most `limit` for each.
class FrameReader {
public:
    explicit FrameReader(int fd) : m_fd(fd), m_decoder(1u << 20) {}
    // The next frame; nullopt on end of file, a broken frame or when `limit` passed first.
    std::optional<protocol::Frame> next(std::chrono::milliseconds limit = std::chrono::seconds(20));
    // The next frame that is not a log, progress, heartbeat, loading or loaded.
    std::optional<protocol::Frame> next_report(std::chrono::milliseconds limit = std::chrono::seconds(20));

private:
    int m_fd;
    protocol::FrameDecoder m_decoder;
};

// Sends one frame; false if it did not all go out.
bool send_frame(int fd, protocol::MessageType type, std::string_view body);

class HostEnd {
public:
    // Launches sandhost-worker --role `role` with this process as its host. Fails the
    // calling test (and leaves running() false) when it cannot.
    explicit HostEnd(const std::string& role);
    // A worker still running is killed with its tree and reaped (ChildProcess's rule).
    ~HostEnd() = default;

    bool running() const { return m_child.running(); }
    // Whether the worker was launched and its first frame is its hello.
    bool said_hello();
    pid_t pid() const { return m_child.pid(); }
    int channel() const { return m_channel.get(); }
    FrameReader& frames() { return m_frames; }
    bool send(protocol::MessageType type, std::string_view body) { return send_frame(m_channel.get(), type, body); }
    // Closes the host's end of the channel.
    void close_channel() { m_channel.reset(); }

    // Waits for the worker to exit (at most `limit`; then it is killed) and reaps it.
    std::optional<process::ExitStatus> wait_for_exit(std::chrono::milliseconds limit = std::chrono::seconds(20));
    // Waits for the worker to exit, and fails the calling test unless it exited with `code`
    // after writing the one line "sandhost-worker: MESSAGE" to stderr, MESSAGE starting with
    // `message_start`.
    void expect_gave_up(protocol::WorkerExit code, const std::string& message_start);
    // Everything the worker and its children wrote to stderr, read to its end (all of them
    // gone), waiting at most `limit`.
    std::string stderr_text(std::chrono::milliseconds limit = std::chrono::seconds(20));

private:
    process::Spawner m_spawner;  // first: the child must end before its spawner
    process::ChildProcess m_child;
    os::UniqueFd m_channel;
    os::UniqueFd m_stdout;
    os::UniqueFd m_stderr;
    FrameReader m_frames{-1};
};

} // namespace sandhost::worker::test
