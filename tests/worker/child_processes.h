// Forked children for the worker's tests: code run in a child of the test process, and waiting
// for a child with a bound. The test process is made a child subreaper, as a host is, so the
// orphans of a killed tree come back to it to be reaped.
#pragma once

#include "process/child_process.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sandhost::worker::test {

using namespace std::chrono_literals;

// A test that starts processes: it fails when any is left (a child, a zombie, a worker that
// escaped). The test process is a subreaper for it.
class LeavesNoProcess : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;
};

// Makes this process a child subreaper (idempotent).
void become_subreaper();

// Runs `checks` in a forked child and returns what they returned: empty when every check in
// the child held. A child that dies, or is still running after `limit` (it is then killed), is
// reported as such. Reaps the child.
std::string run_in_child(const std::function<std::string()>& checks, std::chrono::milliseconds limit = 20s);

// Waits for our child `pid` to end and reaps it; nullopt when it had not ended after `limit`
// (it is then killed and reaped).
std::optional<process::ExitStatus> wait_for_exit(pid_t pid, std::chrono::milliseconds limit = 20s);

// Kills (SIGKILL) and reaps, when destroyed, whichever of its pids is still our child or the
// child of one of them: what a failed test started does not outlive it.
class KillOnExit {
public:
    KillOnExit() = default;
    ~KillOnExit();
    KillOnExit(const KillOnExit&) = delete;
    KillOnExit& operator=(const KillOnExit&) = delete;
    void add(pid_t pid) { m_pids.push_back(pid); }

private:
    std::vector<pid_t> m_pids;
};

// Whether /proc still shows `pid` (a zombie counts: it has not been reaped).
bool exists(pid_t pid);

// Reads up to `count` pids written as raw pid_t to `fd`, waiting at most `limit`.
std::vector<pid_t> read_pids(int fd, std::size_t count, std::chrono::milliseconds limit = 20s);

// Writes a pid as raw pid_t: async-signal-safe, for forked children.
void write_pid(int fd, pid_t pid) noexcept;

} // namespace sandhost::worker::test
