// Shared by the os tests: forked children owned by the test, waits on events with a generous
// bound, and a fixture that makes the test process the subreaper of everything it starts and
// fails a test that leaves a child (running or zombie) behind.
#pragma once

#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "os/fd.h"
#include "os/proc.h"

namespace sandhost::os::testing {

// How long a test waits for an event that should take milliseconds.
inline constexpr std::chrono::milliseconds k_patience = std::chrono::seconds(20);

// Reads until end of file (or an error): what a child does to wait until the test lets it go
// by closing the other end of a pipe.
inline void block_until_released(int fd)
{
    for (;;) {
        char byte;
        const ssize_t n = ::read(fd, &byte, 1);
        if (n == 0 || (n < 0 && errno != EINTR)) return;
    }
}

// Waits until pred() holds, checking every millisecond, for at most `limit`.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = k_patience)
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// Writes one pid to a pipe (atomically: it is far below PIPE_BUF), from a child.
inline void announce(int fd, pid_t pid)
{
    [[maybe_unused]] auto n = ::write(fd, &pid, sizeof pid);
}

// Reads `count` pids announced on `fd`; fewer when the writers are gone or `limit` passed.
inline std::vector<pid_t> read_pids(int fd, std::size_t count, std::chrono::milliseconds limit = k_patience)
{
    std::vector<pid_t> pids;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (pids.size() < count) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        pid_t pid = 0;
        if (::read(fd, &pid, sizeof pid) != static_cast<ssize_t>(sizeof pid)) break;
        pids.push_back(pid);
    }
    return pids;
}

// Reaps `pid` once it has ended and returns its wait status, or nullopt after `limit`. A pid
// that is not (yet) a child of this process is waited for too: an orphan becomes one when its
// parent dies, as the test process is a subreaper (see ProcessTest).
inline std::optional<int> reap(pid_t pid, std::chrono::milliseconds limit = k_patience)
{
    std::optional<int> result;
    eventually(
        [&] {
            int status = 0;
            const pid_t got = ::waitpid(pid, &status, WNOHANG);
            if (got == pid) result = status;
            return got == pid || (got < 0 && errno != ECHILD && errno != EINTR);
        },
        limit);
    return result;
}

// "killed by signal 9", "exited with 3": for assertion messages.
inline std::string describe_status(std::optional<int> status)
{
    if (!status) return "still running";
    if (WIFEXITED(*status)) return "exited with " + std::to_string(WEXITSTATUS(*status));
    if (WIFSIGNALED(*status)) return "killed by signal " + std::to_string(WTERMSIG(*status));
    return "status " + std::to_string(*status);
}

// A forked copy of the test process that runs `body` and exits with what it returns (127 if it
// throws). It dies with the test process (parent-death signal). The destructor kills and reaps
// it unless wait() did, so a failed assertion leaves no child behind.
class ForkedChild {
public:
    enum class TiedToParent { yes, no };

    explicit ForkedChild(const std::function<int()>& body, TiedToParent tied = TiedToParent::yes)
    {
        const pid_t parent = ::getpid();
        m_pid = ::fork();
        if (m_pid != 0) return;
        if (tied == TiedToParent::yes && (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)) ::_exit(126);
        int code = 127;
        try {
            code = body();
        } catch (...) {
        }
        ::_exit(code);
    }
    ~ForkedChild()
    {
        if (m_pid <= 0 || m_reaped) return;
        ::kill(m_pid, SIGKILL);
        reap(m_pid);
    }
    ForkedChild(const ForkedChild&) = delete;
    ForkedChild& operator=(const ForkedChild&) = delete;

    // -1 when fork failed.
    pid_t pid() const { return m_pid; }

    // Its wait status once it has ended (reaped), or nullopt after `limit`.
    std::optional<int> wait(std::chrono::milliseconds limit = k_patience)
    {
        auto status = reap(m_pid, limit);
        m_reaped = status.has_value();
        return status;
    }

private:
    pid_t m_pid = -1;
    bool m_reaped = false;
};

// /bin/cat run (fork and exec) as "cat -u -" with its stdin a pipe the test holds: a real
// program, blocked until release() closes that pipe, then exiting 0. The constructor returns
// once the exec is done (or failed: then pid() is -1 and the child is gone).
class BlockedCat {
public:
    BlockedCat()
    {
        auto stdin_pipe = make_pipe();
        auto exec_done = make_pipe();  // close-on-exec: end of file once cat runs
        if (!stdin_pipe || !exec_done) return;
        m_release = std::move(stdin_pipe->write);
        const int input = stdin_pipe->read.get();
        const int done = exec_done->write.get();
        m_child.emplace([input, done] {
            if (::dup2(input, STDIN_FILENO) < 0) return 125;
            ::execl("/bin/cat", "cat", "-u", "-", static_cast<char*>(nullptr));
            [[maybe_unused]] auto n = ::write(done, "!", 1);  // exec failed
            return 125;
        });
        exec_done->write.reset();
        char byte;
        pollfd p{exec_done->read.get(), POLLIN, 0};
        const bool exec_ok = ::poll(&p, 1, static_cast<int>(k_patience.count())) == 1 &&
                             ::read(exec_done->read.get(), &byte, 1) == 0;
        if (!exec_ok) m_child.reset();
    }
    BlockedCat(const BlockedCat&) = delete;
    BlockedCat& operator=(const BlockedCat&) = delete;

    pid_t pid() const { return m_child ? m_child->pid() : -1; }
    // Ends its input; it then exits 0.
    void release() { m_release.reset(); }
    // Its wait status once it has ended.
    std::optional<int> wait() { return m_child ? m_child->wait() : std::nullopt; }

private:
    UniqueFd m_release;
    std::optional<ForkedChild> m_child;
};

// For tests that start processes. The test process becomes a child subreaper, so every
// process a test starts ends up its child once its own parent is gone; TearDown then checks
// that no child is left, zombie or running, and kills and reaps any it finds.
class ProcessTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0) << "prctl: " << std::strerror(errno); }

    void TearDown() override
    {
        // WNOWAIT: a zombie stays a zombie, so the check itself reaps nothing.
        siginfo_t info{};
        const bool none = ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
        if (none) return;
        std::string found;
        for (pid_t child : children_of(::getpid())) {
            found += " " + std::to_string(child) + " (" + std::string(1, process_state(child).value_or('?')) + ")";
        }
        ADD_FAILURE() << "the test left children behind:" << found;
        // Killing a child hands its own children to this process: repeat until none is left.
        eventually([] {
            while (::waitpid(-1, nullptr, WNOHANG) > 0) {
            }
            const std::vector<pid_t> children = children_of(::getpid());
            for (pid_t child : children) ::kill(child, SIGKILL);
            return children.empty();
        });
    }
};

} // namespace sandhost::os::testing
