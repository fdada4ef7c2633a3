#include "child_processes.h"

#include "os/fd.h"
#include "os/proc.h"
#include "test_support.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandhost::worker::test {

namespace t = sandhost::testing;

void LeavesNoProcess::SetUp() { become_subreaper(); }

void LeavesNoProcess::TearDown()
{
    const auto leftovers = t::leftover_processes();
    EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
}

void become_subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

std::string run_in_child(const std::function<std::string()>& checks, std::chrono::milliseconds limit)
{
    auto pipe = os::make_pipe();
    if (!pipe) return "cannot run the checks: " + pipe.error().message();
    const pid_t child = ::fork();
    if (child < 0) return "cannot run the checks: fork failed";
    if (child == 0) {
        pipe->read.reset();
        const std::string failures = checks();
        (void)os::write_all(pipe->write.get(), failures);
        ::_exit(0);
    }
    pipe->write.reset();
    std::string failures;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd fd{pipe->read.get(), POLLIN, 0};
        if (left.count() <= 0 || ::poll(&fd, 1, static_cast<int>(left.count())) == 0) break;
        char buffer[4096];
        const ssize_t n = ::read(pipe->read.get(), buffer, sizeof buffer);
        if (n <= 0) break;
        failures.append(buffer, static_cast<std::size_t>(n));
    }
    const auto status = wait_for_exit(child, 1s);
    if (!status) return failures + "the checks did not finish in time";
    if (status->kind != process::ExitStatus::Kind::exited || status->exit_code != 0) return failures + "the checks' child ended with " + status->describe();
    return failures;
}

std::optional<process::ExitStatus> wait_for_exit(pid_t pid, std::chrono::milliseconds limit)
{
    int status = 0;
    const bool ended = t::eventually([&] { return ::waitpid(pid, &status, WNOHANG | __WALL) == pid; }, limit);
    if (ended) return process::ExitStatus::from_wait_status(status);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
    }
    return std::nullopt;
}

KillOnExit::~KillOnExit()
{
    // Only a process whose parent is us or one of ours: a pid that was reaped may be reused by
    // anyone. Those whose parent dies come back to us (a subreaper) for the next round.
    const auto ours = [&](pid_t pid) { return pid == ::getpid() || std::find(m_pids.begin(), m_pids.end(), pid) != m_pids.end(); };
    for (int round = 0; round < 4; ++round) {
        for (pid_t pid : m_pids) {
            const auto parent = os::parent_of(pid);
            if (!parent || !ours(*parent)) continue;
            ::kill(pid, SIGKILL);
            if (*parent == ::getpid()) ::waitpid(pid, nullptr, __WALL);
        }
    }
}

bool exists(pid_t pid) { return os::process_state(pid).has_value(); }

std::vector<pid_t> read_pids(int fd, std::size_t count, std::chrono::milliseconds limit)
{
    std::vector<pid_t> pids;
    std::string bytes;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (bytes.size() < count * sizeof(pid_t)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buffer[256];
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) break;
        bytes.append(buffer, static_cast<std::size_t>(n));
    }
    for (std::size_t i = 0; i + sizeof(pid_t) <= bytes.size(); i += sizeof(pid_t)) {
        pid_t pid;
        std::memcpy(&pid, bytes.data() + i, sizeof pid);
        pids.push_back(pid);
    }
    return pids;
}

void write_pid(int fd, pid_t pid) noexcept { [[maybe_unused]] const ssize_t n = ::write(fd, &pid, sizeof pid); }

} // namespace sandhost::worker::test
