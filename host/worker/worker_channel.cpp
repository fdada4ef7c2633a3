#include "worker/worker_channel.h"

#include "os/clock.h"
#include "os/fd.h"
#include "protocol/messages.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <utility>

namespace sandhost::worker {

bool WorkerChannel::send(protocol::MessageType type, std::string_view body)
{
    std::string frame = protocol::encode_frame(type, body);
    std::lock_guard lock(m_send_mutex);
    if (!m_unsent.empty()) {
        m_unsent += frame;
        frame.swap(m_unsent);
        m_unsent.clear();
    }
    std::string_view rest = frame;
    while (!rest.empty()) {
        // No SIGPIPE: a vanished host must not kill us mid-report.
        const ssize_t n = m_out ? os::write_without_sigpipe(m_out.get(), rest.data(), rest.size())
                                : ::send(m_fd.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        rest.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

void WorkerChannel::hold(protocol::MessageType type, std::string_view body)
{
    std::lock_guard lock(m_send_mutex);
    m_unsent += protocol::encode_frame(type, body);
}

ssize_t WorkerChannel::receive_some(char* buffer, std::size_t size, bool block)
{
    iovec iov{buffer, size};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * k_max_received_fds)];
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(m_fd.get(), &message, MSG_CMSG_CLOEXEC | (block ? 0 : MSG_DONTWAIT));
    if (n < 0 || message.msg_controllen == 0) return n;
    os::take_passed_fds(message, m_received_fds);
    // More than a message brings are closed (they have no use).
    if (m_received_fds.size() > k_max_received_fds) m_received_fds.resize(k_max_received_fds);
    return n;
}

std::vector<os::UniqueFd> WorkerChannel::take_received_fds()
{
    std::lock_guard lock(m_receive_mutex);
    return std::exchange(m_received_fds, {});
}

WorkerChannel::Fill WorkerChannel::fill(bool block)
{
    char buffer[65536];
    for (;;) {
        if (block) {
            // Sleeping in recv on a stream socket, this worker would be woken each time the
            // host reads what it sent (the socket's room to write is signalled on the same
            // wait queue), only to sleep again: a wasted switch per result on a reused worker.
            // poll sleeps until there is something to read. Should poll itself fail, recv
            // blocks as it did.
            pollfd readable{m_fd.get(), POLLIN, 0};
            if (::poll(&readable, 1, -1) < 0 && errno == EINTR) continue;
        }
        // The pipe from the host is non-blocking: after poll, a read that finds nothing
        // (another reader was first) waits again.
        const ssize_t n = m_out ? ::read(m_fd.get(), buffer, sizeof buffer) : receive_some(buffer, sizeof buffer, block);
        if (n < 0 && block && m_out && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
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
        m_problem = std::string(m_out ? "read" : "recv") + "(channel fd " + std::to_string(m_fd.get()) + "): " + std::strerror(errno);
        return Fill::ended;
    }
}

namespace {

// now + ms, never 0 (which means "no lease").
std::int64_t deadline_after(std::uint64_t ms)
{
    const std::int64_t capped = static_cast<std::int64_t>(std::min<std::uint64_t>(ms, std::uint64_t{1} << 40));
    return std::max<std::int64_t>(1, os::monotonic_ms() + capped);
}

} // namespace

std::optional<protocol::Frame> WorkerChannel::receive()
{
    std::lock_guard lock(m_receive_mutex);
    for (;;) {
        if (!m_pending.empty()) {
            protocol::Frame frame = std::move(m_pending.front());
            m_pending.pop_front();
            return frame;
        }
        auto next = m_decoder.next();
        if (next.status == protocol::FrameDecoder::Status::frame) {
            if (next.frame.type == protocol::MessageType::lease) {
                // A renewal that crossed the job's end: there is no lease to move.
                if (protocol::decode_lease(next.frame.body)) continue;
            }
            return std::move(next.frame);
        }
        if (next.status == protocol::FrameDecoder::Status::broken) {
            m_end = End::broken;
            m_problem = "broken frame from the host: " + next.error;
            return std::nullopt;
        }
        if (fill(true) == Fill::ended) return std::nullopt;
    }
}

bool WorkerChannel::sort_decoded()
{
    for (;;) {
        auto next = m_decoder.next();
        if (next.status == protocol::FrameDecoder::Status::need_more) return true;
        // A broken frame is found again, and reported, by receive().
        if (next.status == protocol::FrameDecoder::Status::broken) return false;
        if (next.frame.type == protocol::MessageType::cancel) {
            m_cancel_seen = true;
            continue;
        }
        if (next.frame.type == protocol::MessageType::lease) {
            if (const auto lease = protocol::decode_lease(next.frame.body)) {
                // Only the running job's lease moves: should the job end meanwhile (end_job on
                // the main thread), the exchange fails and no lease runs between jobs.
                std::int64_t running = m_lease_deadline.load(std::memory_order_seq_cst);
                if (running != 0) m_lease_deadline.compare_exchange_strong(running, std::max<std::int64_t>(1, lease->until_ms));
                continue;
            }
        }
        m_pending.push_back(std::move(next.frame));
    }
}

bool WorkerChannel::poll_cancel()
{
    std::lock_guard lock(m_receive_mutex);
    if (m_cancel_seen) return true;
    while (sort_decoded() && !m_cancel_seen && fill(false) == Fill::more) {
    }
    return m_cancel_seen;
}

void WorkerChannel::take_in()
{
    std::lock_guard lock(m_receive_mutex);
    while (sort_decoded() && fill(false) == Fill::more) {
    }
}

void WorkerChannel::begin_job(std::uint64_t lease_ms)
{
    std::lock_guard lock(m_receive_mutex);
    m_cancel_seen = false;
    // Seq_cst: see LeaseWatch::job_began.
    m_lease_deadline.store(lease_ms > 0 ? deadline_after(lease_ms) : 0, std::memory_order_seq_cst);
}

void WorkerChannel::end_job() { m_lease_deadline.store(0, std::memory_order_release); }

std::optional<std::int64_t> WorkerChannel::lease_deadline() const
{
    const std::int64_t deadline = m_lease_deadline.load(std::memory_order_seq_cst);
    if (deadline == 0) return std::nullopt;
    return deadline;
}

} // namespace sandhost::worker
