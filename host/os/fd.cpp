#include "os/fd.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sandhost::os {

std::string SysError::message() const
{
    std::string text = call;
    if (!object.empty()) text += "(" + object + ")";
    if (code) text += ": " + code.message();
    return text;
}

Result<PipeEnds> make_pipe()
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return SysError::from_errno("pipe2");
    return PipeEnds{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<PipeEnds> make_output_pipe()
{
    auto pipe = make_pipe();
    if (!pipe) return pipe;
    // A new read end's status flags are O_RDONLY alone: set, not read and changed.
    if (::fcntl(pipe->read.get(), F_SETFL, O_NONBLOCK) != 0) return SysError::from_errno("fcntl(F_SETFL)", "a pipe's read end");
    return pipe;
}

Result<PipeEnds> make_nonblocking_pipe()
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return SysError::from_errno("pipe2");
    return PipeEnds{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<SocketPair> make_socket_pair()
{
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return SysError::from_errno("socketpair");
    return SocketPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Status set_nonblocking(int fd, bool nonblocking)
{
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) return SysError::from_errno("fcntl(F_GETFL)", "fd " + std::to_string(fd));
    const int wanted = nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) != 0) {
        return SysError::from_errno("fcntl(F_SETFL)", "fd " + std::to_string(fd));
    }
    return {};
}

Status set_cloexec(int fd, bool cloexec)
{
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) return SysError::from_errno("fcntl(F_GETFD)", "fd " + std::to_string(fd));
    const int wanted = cloexec ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
    if (wanted != flags && ::fcntl(fd, F_SETFD, wanted) != 0) {
        return SysError::from_errno("fcntl(F_SETFD)", "fd " + std::to_string(fd));
    }
    return {};
}

void close_descriptors_from(int lowest, const std::vector<int>& keep)
{
    std::vector<int> kept;
    for (int fd : keep) {
        if (fd >= lowest) kept.push_back(fd);
    }
    std::sort(kept.begin(), kept.end());
    unsigned int from = static_cast<unsigned int>(lowest);
    bool range_works = true;
    for (int fd : kept) {
        if (static_cast<unsigned int>(fd) > from && ::close_range(from, static_cast<unsigned int>(fd) - 1, 0) != 0) {
            range_works = false;
            break;
        }
        from = static_cast<unsigned int>(fd) + 1;
    }
    if (range_works && ::close_range(from, UINT_MAX, 0) == 0) return;

    // Kernels before 5.9: walk /proc/self/fd. Collect first, close after, so closing does not
    // disturb the directory stream.
    std::vector<int> to_close;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        const int dir_fd = ::dirfd(dir);
        while (const dirent* entry = ::readdir(dir)) {
            const int fd = std::atoi(entry->d_name);
            if (entry->d_name[0] == '.' || fd < lowest || fd == dir_fd) continue;
            if (std::find(kept.begin(), kept.end(), fd) == kept.end()) to_close.push_back(fd);
        }
        ::closedir(dir);
    }
    for (int fd : to_close) ::close(fd);
}

bool send_with_fds(int socket, std::string_view bytes, const std::vector<int>& fds)
{
    constexpr std::size_t k_max_fds = 12;
    if (fds.empty() || fds.size() > k_max_fds) return false;
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * k_max_fds)] = {};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    ssize_t n;
    do {
        n = ::sendmsg(socket, &message, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(bytes.size());
}

void take_passed_fds(const msghdr& message, std::vector<UniqueFd>& into)
{
    for (const cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&message), const_cast<cmsghdr*>(c))) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            into.emplace_back(fd);
        }
    }
}

Status write_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return SysError::from_errno("write", "fd " + std::to_string(fd));
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

ssize_t write_without_sigpipe(int fd, const void* data, std::size_t size)
{
    sigset_t pipe_only;
    sigset_t previous;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
    const ssize_t n = ::write(fd, data, size);
    const int error = errno;
    if (n < 0 && error == EPIPE && !sigismember(&previous, SIGPIPE)) {
        // Not blocked before, so none was pending before: the one pending now is this write's.
        const timespec now{0, 0};
        while (::sigtimedwait(&pipe_only, nullptr, &now) < 0 && errno == EINTR) {
        }
    }
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    errno = error;
    return n;
}

std::vector<int> open_descriptors()
{
    std::vector<int> fds;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        const int dir_fd = ::dirfd(dir);
        while (const dirent* entry = ::readdir(dir)) {
            if (entry->d_name[0] == '.') continue;
            const int fd = std::atoi(entry->d_name);
            if (fd != dir_fd) fds.push_back(fd);
        }
        ::closedir(dir);
    }
    std::sort(fds.begin(), fds.end());
    return fds;
}

DescriptorLimit raise_descriptor_limit()
{
    struct rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
    DescriptorLimit result{static_cast<std::uint64_t>(limit.rlim_cur), static_cast<std::uint64_t>(limit.rlim_cur)};
    if (limit.rlim_cur == limit.rlim_max) return result;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) result.now = static_cast<std::uint64_t>(limit.rlim_cur);
    return result;
}

} // namespace sandhost::os
