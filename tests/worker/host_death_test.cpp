// Dying with the host: the handler kills the worker's whole tree before the worker exits, so
// nothing it started outlives it. Real process trees, checked in /proc.
#include "worker/host_death.h"

#include "child_processes.h"
#include "protocol/worker_exit.h"
#include "os/fd.h"

#include <gtest/gtest.h>

#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>

namespace sandhost::worker {
namespace {

using namespace test;

// In a forked child: forks two children, the first of which forks one of its own, all of
// them waiting for a signal. Writes the three pids to `report`, grandchild last.
void start_tree(int report) noexcept
{
    for (int i = 0; i < 2; ++i) {
        const pid_t child = ::fork();
        if (child == 0) {
            if (i == 0) {
                const pid_t grandchild = ::fork();
                if (grandchild == 0) {
                    for (;;) ::pause();
                }
                write_pid(report, ::getpid());
                write_pid(report, grandchild);
            } else {
                write_pid(report, ::getpid());
            }
            for (;;) ::pause();
        }
    }
}

class HostDeath : public LeavesNoProcess {};

TEST_F(HostDeath, KillDescendantsEndsAWholeTree)
{
    auto pipe = os::make_pipe();
    ASSERT_TRUE(pipe);
    // The worker: a subreaper that reaps until it has no child left, then exits 0.
    const pid_t worker = ::fork();
    ASSERT_GE(worker, 0);
    if (worker == 0) {
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        start_tree(pipe->write.get());
        while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
        }
        ::_exit(0);
    }
    KillOnExit cleanup;
    cleanup.add(worker);
    pipe->write.reset();
    const auto tree = read_pids(pipe->read.get(), 3);
    for (pid_t pid : tree) cleanup.add(pid);
    ASSERT_EQ(tree.size(), 3u);
    for (pid_t pid : tree) EXPECT_TRUE(exists(pid)) << pid;

    kill_descendants(worker);
    // The worker reaps its children and the grandchild (re-parented to it): it can exit only
    // once all three are gone.
    const auto status = wait_for_exit(worker);
    ASSERT_TRUE(status) << "the tree outlived kill_descendants";
    EXPECT_EQ(status->kind, process::ExitStatus::Kind::exited);
    EXPECT_EQ(status->exit_code, 0);
    for (pid_t pid : tree) EXPECT_FALSE(exists(pid)) << pid;
}

TEST_F(HostDeath, TheWorkersTreeDiesWithItsHost)
{
    auto pipe = os::make_pipe();
    ASSERT_TRUE(pipe);
    // The host, whose child (the worker) asks to die with it and starts a tree.
    const pid_t host = ::fork();
    ASSERT_GE(host, 0);
    if (host == 0) {
        const pid_t worker = ::fork();
        if (worker == 0) {
            ::prctl(PR_SET_CHILD_SUBREAPER, 1);
            install_host_death_handler(::getppid());
            write_pid(pipe->write.get(), ::getpid());
            start_tree(pipe->write.get());
            for (;;) ::pause();
        }
        for (;;) ::pause();
    }
    KillOnExit cleanup;
    cleanup.add(host);
    pipe->write.reset();
    // The worker, then the three of its tree (all of them started).
    auto pids = read_pids(pipe->read.get(), 4);
    for (pid_t pid : pids) cleanup.add(pid);
    ASSERT_EQ(pids.size(), 4u);
    const pid_t worker = pids.front();
    pids.erase(pids.begin());

    ::kill(host, SIGKILL);
    const auto host_status = wait_for_exit(host);
    ASSERT_TRUE(host_status);
    EXPECT_EQ(host_status->signal_number, SIGKILL);
    // The worker is re-parented to us (a subreaper), and so is what it leaves: reap them all.
    const auto worker_status = wait_for_exit(worker);
    ASSERT_TRUE(worker_status) << "the worker outlived its host";
    EXPECT_EQ(worker_status->kind, process::ExitStatus::Kind::exited);
    EXPECT_EQ(worker_status->exit_code, protocol::exit_code(protocol::WorkerExit::host_died));
    for (pid_t pid : pids) {
        const auto status = wait_for_exit(pid);
        ASSERT_TRUE(status) << pid << " outlived the worker";
        EXPECT_EQ(status->signal_number, SIGKILL) << pid;
        EXPECT_FALSE(exists(pid)) << pid;
    }
}

TEST_F(HostDeath, AHostGoneBeforeTheWorkerCouldAskIsDeathAtOnce)
{
    const pid_t worker = ::fork();
    ASSERT_GE(worker, 0);
    if (worker == 0) {
        install_host_death_handler(::getpid());  // not our parent: it "died" already
        ::_exit(0);
    }
    const auto status = wait_for_exit(worker);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->exit_code, protocol::exit_code(protocol::WorkerExit::host_died));
}

} // namespace
} // namespace sandhost::worker
