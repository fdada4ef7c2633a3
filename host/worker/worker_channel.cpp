#include "worker/worker_channel.h"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <utility>

namespace sandhost::worker {

bool WorkerChannel::send(protocol::MessageType type, std::string_view body)
{
    const std::string frame = protocol::encode_frame(type, body);
    std::lock_guard lock(m_send_mutex);
    std::string_view rest = frame;
    while (!rest.empty()) {
        // MSG_NOSIGNAL: a vanished host must not kill us with SIGPIPE mid-report.
        const ssize_t n = ::send(m_fd.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        rest.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

WorkerChannel::Fill WorkerChannel::fill(bool block)
{
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::recv(m_fd.get(), buffer, sizeof buffer, block ? 0 : MSG_DONTWAIT);
        if (n > 0) {
            m_decoder.feed(buffer, static_cast<size_t>(n));
            return Fill::more;
        }
        if (n == 0 || errno == ECONNRESET) {
            m_end = End::closed;
            return Fill::ended;
        }
        if (errno == EINTR) continue;
        if (!block && (errno == EAGAIN || errno == EWOULDBLOCK)) return Fill::nothing_yet;
        m_end = End::failed;
        m_problem = "recv(channel fd " + std::to_string(m_fd.get()) + "): " + std::strerror(errno);
        return Fill::ended;
    }
}

std::optional<protocol::Frame> WorkerChannel::receive()
{
    std::lock_guard lock(m_receive_mutex);
    if (m_pending) return std::exchange(m_pending, std::nullopt);
    for (;;) {
        auto next = m_decoder.next();
        if (next.status == protocol::FrameDecoder::Status::frame) return std::move(next.frame);
        if (next.status == protocol::FrameDecoder::Status::broken) {
            m_end = End::broken;
            m_problem = "broken frame from the host: " + next.error;
            return std::nullopt;
        }
        if (fill(true) == Fill::ended) return std::nullopt;
    }
}

bool WorkerChannel::poll_cancel()
{
    std::lock_guard lock(m_receive_mutex);
    if (m_cancel_seen) return true;
    while (!m_pending) {
        auto next = m_decoder.next();
        if (next.status == protocol::FrameDecoder::Status::frame) {
            if (next.frame.type == protocol::MessageType::cancel) {
                m_cancel_seen = true;
                return true;
            }
            m_pending = std::move(next.frame);
            break;
        }
        // A broken frame or an ended channel is found again, and reported, by receive().
        if (next.status == protocol::FrameDecoder::Status::broken || fill(false) != Fill::more) break;
    }
    return m_cancel_seen;
}

} // namespace sandhost::worker
