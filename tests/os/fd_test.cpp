#include "os/fd.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "os_test_support.h"

namespace sandhost::os {
namespace {

using testing::BlockedCat;
using testing::ForkedChild;
using testing::ProcessTest;

bool has_cloexec(int fd)
{
    const int flags = ::fcntl(fd, F_GETFD);
    return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}

bool has_nonblock(int fd)
{
    const int flags = ::fcntl(fd, F_GETFL);
    return flags >= 0 && (flags & O_NONBLOCK) != 0;
}

bool contains(const std::vector<int>& fds, int fd)
{
    return std::find(fds.begin(), fds.end(), fd) != fds.end();
}

// What a descriptor of `pid` refers to ("pipe:[1234]", "socket:[5678]", a path).
std::string target(pid_t pid, int fd)
{
    std::error_code ec;
    auto link = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd), ec);
    return ec ? std::string() : link.string();
}

// The objects the descriptors of `pid` refer to.
std::vector<std::string> targets(pid_t pid)
{
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        found.push_back(target(pid, std::stoi(entry.path().filename().string())));
    }
    return found;
}

bool inherited_by(const BlockedCat& cat, int fd)
{
    const auto held = targets(cat.pid());
    return std::find(held.begin(), held.end(), target(::getpid(), fd)) != held.end();
}

// Reads whatever is there (the tests write little).
std::string read_some(int fd)
{
    char buffer[256];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

// The bytes and descriptors of one message on a socket (descriptors close-on-exec).
struct Received {
    std::string bytes;
    std::vector<int> fds;
};
Received receive_with_fds(int socket)
{
    Received received;
    char buffer[256];
    iovec iov{buffer, sizeof buffer};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)] = {};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    if (n < 0) return received;
    received.bytes.assign(buffer, static_cast<std::size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        received.fds.resize(count);
        std::memcpy(received.fds.data(), CMSG_DATA(c), count * sizeof(int));
    }
    return received;
}

TEST(Pipe, EndsAreCloseOnExecAndConnected)
{
    auto pipe = make_pipe();
    ASSERT_TRUE(pipe) << pipe.error().message();
    EXPECT_TRUE(has_cloexec(pipe->read.get()));
    EXPECT_TRUE(has_cloexec(pipe->write.get()));
    ASSERT_TRUE(write_all(pipe->write.get(), "through"));
    EXPECT_EQ(read_some(pipe->read.get()), "through");
}

TEST(SocketPair, EndsAreCloseOnExecAndTalkBothWays)
{
    auto pair = make_socket_pair();
    ASSERT_TRUE(pair) << pair.error().message();
    EXPECT_TRUE(has_cloexec(pair->first.get()));
    EXPECT_TRUE(has_cloexec(pair->second.get()));
    ASSERT_TRUE(write_all(pair->first.get(), "ping"));
    EXPECT_EQ(read_some(pair->second.get()), "ping");
    ASSERT_TRUE(write_all(pair->second.get(), "pong"));
    EXPECT_EQ(read_some(pair->first.get()), "pong");
}

using CloseOnExec = ProcessTest;

TEST_F(CloseOnExec, NoneOfOurDescriptorsReachesAnExecutedProgram)
{
    auto pipe = make_pipe();
    auto pair = make_socket_pair();
    ASSERT_TRUE(pipe);
    ASSERT_TRUE(pair);
    // The check can fail: a plain dup() is not close-on-exec, and the program holds it.
    UniqueFd leaked(::dup(pair->first.get()));
    ASSERT_TRUE(leaked.valid());

    BlockedCat cat;
    ASSERT_GT(cat.pid(), 0) << "cannot run /bin/cat";
    EXPECT_FALSE(inherited_by(cat, pipe->read.get()));
    EXPECT_FALSE(inherited_by(cat, pipe->write.get()));
    EXPECT_FALSE(inherited_by(cat, pair->second.get()));
    EXPECT_TRUE(inherited_by(cat, leaked.get())) << "the check does not see inherited descriptors";
    cat.release();
    EXPECT_EQ(testing::describe_status(cat.wait()), "exited with 0");
}

TEST(SetNonblocking, SetsAndClearsTheFlag)
{
    auto pipe = make_pipe();
    ASSERT_TRUE(pipe);
    const int fd = pipe->read.get();
    EXPECT_FALSE(has_nonblock(fd));
    ASSERT_TRUE(set_nonblocking(fd));
    EXPECT_TRUE(has_nonblock(fd));
    char byte;
    EXPECT_EQ(::read(fd, &byte, 1), -1);
    EXPECT_EQ(errno, EAGAIN) << "an empty non-blocking pipe does not block";
    ASSERT_TRUE(set_nonblocking(fd));
    EXPECT_TRUE(has_nonblock(fd)) << "setting it twice keeps it";
    ASSERT_TRUE(set_nonblocking(fd, false));
    EXPECT_FALSE(has_nonblock(fd));
    EXPECT_TRUE(has_cloexec(fd)) << "the descriptor flags are not touched";
}

TEST(SetNonblocking, FailsWithTheCallAndTheDescriptor)
{
    auto status = set_nonblocking(-1);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, std::errc::bad_file_descriptor);
    EXPECT_EQ(status.error().call, "fcntl(F_GETFL)");
    EXPECT_EQ(status.error().object, "fd -1");
}

TEST(SetCloexec, SetsAndClearsTheFlag)
{
    auto pipe = make_pipe();
    ASSERT_TRUE(pipe);
    const int fd = pipe->write.get();
    ASSERT_TRUE(set_cloexec(fd, false));
    EXPECT_FALSE(has_cloexec(fd));
    ASSERT_TRUE(set_cloexec(fd));
    EXPECT_TRUE(has_cloexec(fd));
    EXPECT_FALSE(has_nonblock(fd)) << "the status flags are not touched";
    auto status = set_cloexec(-1);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().call, "fcntl(F_GETFD)");
}

using CloseDescriptors = ProcessTest;

TEST_F(CloseDescriptors, ClosesFromLowestUpExceptTheKeptOnes)
{
    auto report = make_pipe();
    auto a = make_pipe();
    auto b = make_pipe();
    ASSERT_TRUE(report && a && b);
    std::vector<int> ours = {a->read.get(), a->write.get(), b->read.get(), b->write.get()};
    std::sort(ours.begin(), ours.end());
    const int lowest = ours[1];
    const int kept = ours[3];
    const int report_fd = report->write.get();

    // What must stay: everything below `lowest`, and the kept ones.
    std::vector<int> expected;
    for (int fd : open_descriptors()) {
        if (fd < lowest || fd == kept || fd == report_fd) expected.push_back(fd);
    }
    ASSERT_TRUE(contains(expected, ours[0]));
    ASSERT_FALSE(contains(expected, ours[1]));
    ASSERT_FALSE(contains(expected, ours[2]));

    ForkedChild child([&] {
        close_descriptors_from(lowest, {kept, report_fd});
        const std::vector<int> left = open_descriptors();
        std::string bytes(reinterpret_cast<const char*>(left.data()), left.size() * sizeof(int));
        return write_all(report_fd, bytes) ? 0 : 1;
    });
    report->write.reset();
    EXPECT_EQ(testing::describe_status(child.wait()), "exited with 0");
    std::string bytes;
    for (std::string more = read_some(report->read.get()); !more.empty(); more = read_some(report->read.get())) bytes += more;
    std::vector<int> left(bytes.size() / sizeof(int));
    std::memcpy(left.data(), bytes.data(), left.size() * sizeof(int));
    EXPECT_EQ(left, expected);
}

TEST(SendWithFds, TheDescriptorArrivesOnTheOtherEnd)
{
    auto pair = make_socket_pair();
    auto pipe = make_pipe();
    ASSERT_TRUE(pair && pipe);
    ASSERT_TRUE(send_with_fds(pair->first.get(), "job 7", {pipe->write.get()}));
    Received received = receive_with_fds(pair->second.get());
    EXPECT_EQ(received.bytes, "job 7");
    ASSERT_EQ(received.fds.size(), 1u);
    UniqueFd arrived(received.fds[0]);
    EXPECT_NE(arrived.get(), pipe->write.get()) << "a new descriptor for the same pipe";
    // Our end is closed: only the one that arrived can still write into the pipe.
    pipe->write.reset();
    ASSERT_TRUE(write_all(arrived.get(), "via the copy"));
    EXPECT_EQ(read_some(pipe->read.get()), "via the copy");
}

TEST(SendWithFds, SendsSeveralInOneMessage)
{
    auto pair = make_socket_pair();
    auto first = make_pipe();
    auto second = make_pipe();
    ASSERT_TRUE(pair && first && second);
    ASSERT_TRUE(send_with_fds(pair->first.get(), "x", {first->write.get(), second->write.get()}));
    Received received = receive_with_fds(pair->second.get());
    ASSERT_EQ(received.fds.size(), 2u);
    UniqueFd one(received.fds[0]);
    UniqueFd two(received.fds[1]);
    ASSERT_TRUE(write_all(one.get(), "1"));
    ASSERT_TRUE(write_all(two.get(), "2"));
    EXPECT_EQ(read_some(first->read.get()), "1") << "in the order given";
    EXPECT_EQ(read_some(second->read.get()), "2");
}

TEST(SendWithFds, RefusesNoneOrTooManyAndAGonePeer)
{
    auto pair = make_socket_pair();
    ASSERT_TRUE(pair);
    const int fd = pair->first.get();
    EXPECT_FALSE(send_with_fds(fd, "x", {}));
    EXPECT_FALSE(send_with_fds(fd, "x", std::vector<int>(13, fd)));
    pair->second.reset();
    // MSG_NOSIGNAL: a gone peer is a false, not a SIGPIPE that ends this process.
    EXPECT_FALSE(send_with_fds(fd, "x", {fd}));
}

TEST(Pipe, ANonblockingOneDoesNotWaitAtEitherEnd)
{
    auto pipe = make_nonblocking_pipe();
    ASSERT_TRUE(pipe) << pipe.error().message();
    EXPECT_TRUE(has_cloexec(pipe->read.get()));
    EXPECT_TRUE(has_cloexec(pipe->write.get()));
    EXPECT_TRUE(::fcntl(pipe->read.get(), F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(pipe->write.get(), F_GETFL) & O_NONBLOCK);
    char byte;
    EXPECT_EQ(::read(pipe->read.get(), &byte, 1), -1);
    EXPECT_EQ(errno, EAGAIN) << "an empty pipe answers at once";
}

// A pipe whose reader is gone: EPIPE, and no SIGPIPE reaches the process (its default action
// would end it) or stays pending; the thread's mask is as it was.
TEST(WriteWithoutSigpipe, AGoneReaderIsEpipeAndNoSignal)
{
    auto pipe = make_pipe();
    ASSERT_TRUE(pipe);
    ASSERT_EQ(write_without_sigpipe(pipe->write.get(), "x", 1), 1) << "a reader: written";
    pipe->read.reset();
    sigset_t before;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &before);
    ASSERT_FALSE(sigismember(&before, SIGPIPE)) << "the test runs with SIGPIPE unblocked";
    errno = 0;
    EXPECT_EQ(write_without_sigpipe(pipe->write.get(), "x", 1), -1);
    EXPECT_EQ(errno, EPIPE);
    sigset_t pending;
    ::sigpending(&pending);
    EXPECT_FALSE(sigismember(&pending, SIGPIPE)) << "the write's SIGPIPE was taken back";
    sigset_t after;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &after);
    EXPECT_FALSE(sigismember(&after, SIGPIPE)) << "the mask is as it was";
}

// A thread that blocks SIGPIPE itself keeps what it has pending: only the write's own is taken.
TEST(WriteWithoutSigpipe, ASigpipeTheCallerBlockedAndHadPendingStays)
{
    auto pipe = make_pipe();
    ASSERT_TRUE(pipe);
    pipe->read.reset();
    sigset_t pipe_only;
    sigset_t previous;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
    ::pthread_kill(::pthread_self(), SIGPIPE);
    EXPECT_EQ(write_without_sigpipe(pipe->write.get(), "x", 1), -1);
    EXPECT_EQ(errno, EPIPE);
    sigset_t pending;
    ::sigpending(&pending);
    EXPECT_TRUE(sigismember(&pending, SIGPIPE)) << "the caller's own pending SIGPIPE is left to it";
    const timespec now{0, 0};
    EXPECT_EQ(::sigtimedwait(&pipe_only, nullptr, &now), SIGPIPE);
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

TEST(WriteAll, WritesMoreThanAPipeHolds)
{
    auto pipe = make_pipe();
    ASSERT_TRUE(pipe);
    std::string data(4 << 20, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
    std::string got;
    std::thread reader([&got, fd = pipe->read.get()] {
        char buffer[65536];
        for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) got.append(buffer, static_cast<std::size_t>(n));
    });
    auto status = write_all(pipe->write.get(), data);
    pipe->write.reset();
    reader.join();
    ASSERT_TRUE(status) << status.error().message();
    EXPECT_TRUE(got == data) << "read " << got.size() << " of " << data.size() << " bytes, or other bytes";
}

TEST(WriteAll, FailsWithTheCallAndTheDescriptor)
{
    auto pipe = make_pipe();
    ASSERT_TRUE(pipe);
    const int fd = pipe->read.get();
    auto status = write_all(fd, "x");
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, std::errc::bad_file_descriptor);
    EXPECT_EQ(status.error().call, "write");
    EXPECT_EQ(status.error().object, "fd " + std::to_string(fd));
}

TEST(OpenDescriptors, ListsWhatIsOpenInOrder)
{
    std::vector<int> before = open_descriptors();
    EXPECT_TRUE(std::is_sorted(before.begin(), before.end()));
    for (int fd : before) EXPECT_GE(::fcntl(fd, F_GETFD), 0) << "fd " << fd << " is listed but not open";
    int read_fd = -1;
    int write_fd = -1;
    {
        auto pipe = make_pipe();
        ASSERT_TRUE(pipe);
        read_fd = pipe->read.get();
        write_fd = pipe->write.get();
        const std::vector<int> during = open_descriptors();
        EXPECT_TRUE(contains(during, read_fd));
        EXPECT_TRUE(contains(during, write_fd));
        EXPECT_EQ(during.size(), before.size() + 2);
    }
    const std::vector<int> after = open_descriptors();
    EXPECT_FALSE(contains(after, read_fd));
    EXPECT_FALSE(contains(after, write_fd));
    EXPECT_EQ(after, before);
}

} // namespace
} // namespace sandhost::os
