// Descriptor plumbing: pipes, socket pairs, flags, and bulk closing. Every descriptor we create
// is close-on-exec from birth, so a concurrent launch never leaks it into another child.
#pragma once

#include "os/result.h"
#include "os/unique_fd.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/types.h>
#include <vector>

namespace sandhost::os {

struct PipeEnds {
    UniqueFd read;
    UniqueFd write;
};

struct SocketPair {
    UniqueFd first;
    UniqueFd second;
};

// pipe2(O_CLOEXEC).
Result<PipeEnds> make_pipe();
// pipe2(O_CLOEXEC) whose read end is non-blocking and write end blocking: a worker's output,
// read by the host's poll loop and written by the task as to any stdout.
Result<PipeEnds> make_output_pipe();
// pipe2(O_CLOEXEC | O_NONBLOCK): both ends non-blocking. A forked worker's channel from the
// host: the host writes without waiting, the worker polls before it reads.
Result<PipeEnds> make_nonblocking_pipe();
// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC).
Result<SocketPair> make_socket_pair();

Status set_nonblocking(int fd, bool nonblocking = true);

// The soft limit on open descriptors (RLIMIT_NOFILE) before and after raising it to the hard
// limit; both the same when it already was, or when raising failed.
struct DescriptorLimit {
    std::uint64_t before = 0;
    std::uint64_t now = 0;
};
DescriptorLimit raise_descriptor_limit();
Status set_cloexec(int fd, bool cloexec = true);

// Closes every descriptor >= lowest except those listed (close_range where the kernel has it,
// a /proc/self/fd walk otherwise). For a freshly started child before it runs foreign code.
void close_descriptors_from(int lowest, const std::vector<int>& keep = {});

// Sends `bytes` with up to 12 descriptors attached (SCM_RIGHTS) in one sendmsg, retrying on
// EINTR; false unless all of `bytes` went out (the short messages this is for always do at
// once) or when the other end is gone.
bool send_with_fds(int socket, std::string_view bytes, const std::vector<int>& fds);

// Every descriptor a received message carries (SCM_RIGHTS), in order, now owned by the caller:
// appended to `into`. A recvmsg that took them in owns them whatever it makes of its bytes.
void take_passed_fds(const msghdr& message, std::vector<UniqueFd>& into);

// Writes all of data to a blocking descriptor, retrying on EINTR and short writes.
Status write_all(int fd, std::string_view data);

// write(2) that never raises SIGPIPE: a pipe whose reader is gone fails with EPIPE alone, as
// send(MSG_NOSIGNAL) does on a socket. SIGPIPE is blocked on the calling thread for the write
// and the one it raised taken back, so that a program embedding sandhost keeps its own
// disposition of SIGPIPE. Returns what write returned, with its errno.
ssize_t write_without_sigpipe(int fd, const void* data, std::size_t size);

// The open descriptors of this process, from /proc/self/fd (for tests and diagnostics).
std::vector<int> open_descriptors();

} // namespace sandhost::os
