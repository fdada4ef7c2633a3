// What the worker writes before it gives up, and the code it exits with.
#include "worker/failure.h"

#include "child_processes.h"
#include "os/fd.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <unistd.h>

namespace sandhost::worker {
namespace {

using protocol::WorkerExit;
using namespace test;

// Runs `give_up` in a forked child whose stderr is a pipe; returns how the child ended and
// what it wrote.
std::pair<std::optional<process::ExitStatus>, std::string> stderr_of(void (*give_up)())
{
    auto pipe = os::make_pipe();
    if (!pipe) return {};
    const pid_t child = ::fork();
    if (child == 0) {
        ::dup2(pipe->write.get(), STDERR_FILENO);
        give_up();
        ::_exit(0);
    }
    pipe->write.reset();
    const auto status = wait_for_exit(child);
    std::string text;
    char buffer[1024];
    for (ssize_t n; (n = ::read(pipe->read.get(), buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
    return {status, text};
}

TEST(Failure, NamesTheCallTheObjectAndErrnoThenExitsWithTheCode)
{
    const auto [status, text] = stderr_of([] { fail(WorkerExit::setup_failed, "prctl", "PR_SET_PDEATHSIG", EINVAL); });
    ASSERT_TRUE(status);
    EXPECT_EQ(status->kind, process::ExitStatus::Kind::exited);
    EXPECT_EQ(status->exit_code, 117);
    EXPECT_EQ(text, "sandhost-worker: prctl(PR_SET_PDEATHSIG): Invalid argument\n");
}

TEST(Failure, AMessageAloneAndAnErrnoWithoutADescription)
{
    auto [status, text] = stderr_of([] { fail(WorkerExit::unexpected_message, "unexpected 'forked' from the host"); });
    ASSERT_TRUE(status);
    EXPECT_EQ(status->exit_code, 116);
    EXPECT_EQ(text, "sandhost-worker: unexpected 'forked' from the host\n");
    std::tie(status, text) = stderr_of([] { report_failure("kill", nullptr, 100000); });
    ASSERT_TRUE(status);
    EXPECT_EQ(status->exit_code, 0);
    EXPECT_EQ(text, "sandhost-worker: kill: errno 100000\n");
}

TEST(Failure, ALongLineIsCutNotOverrun)
{
    const auto [status, text] = stderr_of([] { report(std::string(2000, 'x').c_str()); });
    ASSERT_TRUE(status);
    EXPECT_EQ(text.size(), 512u);
    EXPECT_EQ(text.back(), '\n');
}

TEST(Failure, ExitWithSaysNothing)
{
    const auto [status, text] = stderr_of([] { exit_with(WorkerExit::host_died); });
    ASSERT_TRUE(status);
    EXPECT_EQ(status->exit_code, 112);
    EXPECT_EQ(text, "");
}

} // namespace
} // namespace sandhost::worker
