// The worker's end of the channel: blocking, framed, safe to send from any thread.
#pragma once

#include "os/unique_fd.h"
#include "protocol/frame.h"

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace sandhost::worker {

class WorkerChannel {
public:
    explicit WorkerChannel(os::UniqueFd&& fd) : m_fd(std::move(fd)), m_decoder(k_max_host_frame) {}

    // Sends one frame; false when the host is gone (the worker should then exit).
    bool send(protocol::MessageType type, std::string_view body);

    // Blocks until a whole frame arrives; nullopt when the channel ended (see end()).
    std::optional<protocol::Frame> receive();

    // Why receive() returned nullopt: the host closed the channel (or reset it), a frame was
    // broken, or recv failed otherwise. problem() says what was wrong for the last two.
    enum class End { open, closed, broken, failed };
    End end() const { return m_end; }
    const std::string& problem() const { return m_problem; }

    // Non-blocking: consumes frames that already arrived and returns true if one was a
    // cancel request. Other frames are kept for receive().
    bool poll_cancel();

    int fd() const { return m_fd.get(); }

    // Payloads are bounded by what the host accepts for results; anything larger is a bug.
    static constexpr std::size_t k_max_host_frame = 1ull << 31;

private:
    enum class Fill { more, nothing_yet, ended };
    Fill fill(bool block);
    os::UniqueFd m_fd;
    std::mutex m_send_mutex;
    std::mutex m_receive_mutex;
    protocol::FrameDecoder m_decoder;
    std::optional<protocol::Frame> m_pending;
    bool m_cancel_seen = false;
    End m_end = End::open;
    std::string m_problem;
};

} // namespace sandhost::worker
