// The worker's end of the channel: blocking, framed, safe to send from any thread.
#pragma once

#include "os/unique_fd.h"
#include "protocol/frame.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace sandhost::worker {

class WorkerChannel {
public:
    // A socket, both ways (a spawned or reused worker, a fork server).
    explicit WorkerChannel(os::UniqueFd&& fd) : m_fd(std::move(fd)), m_decoder(k_max_host_frame) {}
    // Two pipes: `in` from the host (non-blocking), `out` to it (a fork server's child, whose
    // channel travels to it in SCM_RIGHTS: a unix socket in flight would set the kernel's
    // collector of unix sockets going at every close of one, a pipe does not).
    WorkerChannel(os::UniqueFd&& in, os::UniqueFd&& out) : m_fd(std::move(in)), m_out(std::move(out)), m_decoder(k_max_host_frame) {}

    // Sends one frame, after any held ones; false when the host is gone (the worker should
    // then exit).
    bool send(protocol::MessageType type, std::string_view body);
    // Keeps one frame to go out with the next send(), in one write: for a message that is
    // always followed at once by another (loaded, then ready or a description), so that the
    // host wakes once for both. Nothing ever stays held: every caller sends right after.
    void hold(protocol::MessageType type, std::string_view body);

    // Blocks until a whole frame arrives; nullopt when the channel ended (see end()). Lease
    // renewals are taken in on the way and never returned.
    std::optional<protocol::Frame> receive();

    // Why receive() returned nullopt: the host closed the channel (or reset it), a frame was
    // broken, or recv failed otherwise. problem() says what was wrong for the last two.
    enum class End { open, closed, broken, failed };
    End end() const { return m_end; }
    const std::string& problem() const { return m_problem; }

    // Non-blocking: consumes frames that already arrived and returns true if one was a
    // cancel request (since begin_job()). Lease renewals are taken in; other frames are kept
    // for receive().
    bool poll_cancel();

    // A job begins: no cancel seen yet, and its lease runs for lease_ms from now (0: the job
    // has no lease). Each renewal taken in later moves the deadline to the point it names.
    void begin_job(std::uint64_t lease_ms);
    // The job is over: no lease runs until the next one begins.
    void end_job();
    // When the current job's lease runs out, in CLOCK_MONOTONIC milliseconds; nullopt when no
    // lease runs. Any thread.
    std::optional<std::int64_t> lease_deadline() const;
    // Takes in what arrived, as poll_cancel() does (for the thread that watches the lease
    // while the task runs), without waiting for more; waits while receive() waits for a job.
    // An ended or broken channel is left for receive() to report.
    void take_in();

    // The socket, or the pipe the host writes into.
    int fd() const { return m_fd.get(); }

    // The descriptors that came with what was read so far (SCM_RIGHTS on the socket: the
    // files to enter the attempt's group by, with enter_group), in order, close-on-exec; the
    // caller owns them. A pipe carries none.
    std::vector<os::UniqueFd> take_received_fds();
    // At most this many arrive with one message; more are closed as they arrive.
    static constexpr std::size_t k_max_received_fds = 8;

    // Payloads are bounded by what the host accepts for results; anything larger is a bug.
    static constexpr std::size_t k_max_host_frame = 1ull << 31;

private:
    std::string m_unsent;  // held frames (guarded by m_send_mutex)
    enum class Fill { more, nothing_yet, ended };
    Fill fill(bool block);
    // recv on the socket, taking in the descriptors that came with the bytes.
    ssize_t receive_some(char* buffer, std::size_t size, bool block);
    // Moves every whole frame the decoder holds to m_pending, taking in leases and cancels;
    // false when the decoder found a broken frame. Caller holds m_receive_mutex.
    bool sort_decoded();
    os::UniqueFd m_fd;   // the socket, or the pipe from the host
    os::UniqueFd m_out;  // the pipe to the host; none on a socket
    std::mutex m_send_mutex;
    std::mutex m_receive_mutex;
    protocol::FrameDecoder m_decoder;
    std::deque<protocol::Frame> m_pending;
    std::vector<os::UniqueFd> m_received_fds;
    bool m_cancel_seen = false;
    std::atomic<std::int64_t> m_lease_deadline{0};  // CLOCK_MONOTONIC ms; 0: none
    End m_end = End::open;
    std::string m_problem;
};

} // namespace sandhost::worker
