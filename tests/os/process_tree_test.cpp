#include "os/process_tree.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <vector>

#include <gtest/gtest.h>

#include "os/fd.h"
#include "os/proc.h"
#include "os_test_support.h"

namespace sandhost::os {
namespace {

using testing::announce;
using testing::describe_status;
using testing::eventually;
using testing::ForkedChild;
using testing::read_pids;
using testing::reap;

const std::string k_killed = "killed by signal " + std::to_string(SIGKILL);

// Announces its pid and waits for a signal, forever.
[[noreturn]] void announce_and_wait(int ready)
{
    announce(ready, ::getpid());
    for (;;) ::pause();
}

// Forks a process that runs `body`; only for use inside a forked child, where nothing is left
// to clean up if the fork fails. Nothing ties it to its parent's life: what kills it is what
// the tests check.
void fork_into(void (*body)(int), int ready)
{
    if (::fork() == 0) body(ready);
}

// What the root of this tree runs (the test forks the root):
//   root
//   ├── sibling          (root's session)
//   └── session_leader   (its own session, via setsid)
//       └── leaf         (session_leader's session)
// Each member announces its pid once it is in place: root first, then the others in any order.
int tree_root(int ready)
{
    announce(ready, ::getpid());
    fork_into(announce_and_wait, ready);
    fork_into(
        [](int r) {
            if (::setsid() < 0) ::_exit(1);
            announce(r, ::getpid());
            fork_into(announce_and_wait, r);
            for (;;) ::pause();
        },
        ready);
    for (;;) ::pause();
}

using KillTree = testing::ProcessTest;

TEST_F(KillTree, KillsEveryMemberWhateverItsSession)
{
    auto ready = make_pipe();
    ASSERT_TRUE(ready);
    const int ready_fd = ready->write.get();
    ForkedChild root([ready_fd] { return tree_root(ready_fd); });
    const std::vector<pid_t> pids = read_pids(ready->read.get(), 4);
    ASSERT_EQ(pids.size(), 4u);
    ASSERT_EQ(pids[0], root.pid());
    // The premise: of the other three (announced in no fixed order), one leads a session of its
    // own and one stayed in the root's (the third is the leader's child).
    int leaders = 0;
    int in_root_session = 0;
    for (pid_t pid : {pids[1], pids[2], pids[3]}) {
        leaders += ::getsid(pid) == pid;
        in_root_session += ::getsid(pid) == ::getsid(root.pid());
    }
    ASSERT_EQ(leaders, 1);
    ASSERT_EQ(in_root_session, 1);
    ASSERT_EQ(descendants_of(root.pid()).size(), 3u);

    EXPECT_EQ(kill_tree(root.pid(), IncludeRoot::yes), 4);

    EXPECT_EQ(describe_status(root.wait()), k_killed);
    // Orphaned by the root, the others are this (subreaper) process's to reap.
    for (pid_t pid : {pids[1], pids[2], pids[3]}) {
        EXPECT_EQ(describe_status(reap(pid)), k_killed) << "pid " << pid;
    }
}

TEST_F(KillTree, KeepsTheRootWhenAskedAndDoesNotReap)
{
    auto ready = make_pipe();
    ASSERT_TRUE(ready);
    const int ready_fd = ready->write.get();
    ForkedChild root([ready_fd]() -> int {
        announce(ready_fd, ::getpid());
        fork_into(announce_and_wait, ready_fd);
        for (;;) ::pause();
    });
    const std::vector<pid_t> pids = read_pids(ready->read.get(), 2);
    ASSERT_EQ(pids.size(), 2u);
    const pid_t child = pids[1];

    EXPECT_EQ(kill_tree(root.pid(), IncludeRoot::no), 1);

    // The root does not reap, so its killed child stays a zombie, and the root lives on.
    EXPECT_TRUE(eventually([&] { return process_state(child) == 'Z'; })) << "state " << process_state(child).value_or('?');
    EXPECT_EQ(parent_of(child), root.pid());
    EXPECT_NE(process_state(root.pid()).value_or('Z'), 'Z');

    ASSERT_EQ(::kill(root.pid(), SIGKILL), 0);
    EXPECT_EQ(describe_status(root.wait()), k_killed);
    EXPECT_EQ(describe_status(reap(child)), k_killed);
}

TEST_F(KillTree, ALoneRootIsKilled)
{
    ForkedChild root([]() -> int {
        for (;;) ::pause();
    });
    EXPECT_EQ(kill_tree(root.pid(), IncludeRoot::yes), 1);
    EXPECT_EQ(describe_status(root.wait()), k_killed);
}

} // namespace
} // namespace sandhost::os
