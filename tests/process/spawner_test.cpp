// The Spawner and ChildProcess on real processes: launching with both launchers, the typed way
// a child ends, the end-of-life rule of a ChildProcess, strays, and several spawners at once.
#include "os/fd.h"
#include "os/proc.h"
#include "process/spawner.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <csignal>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace sandhost::process {
namespace {

using namespace std::chrono_literals;
namespace t = sandhost::testing;

// A launch of sandhost-worker that waits on its channel for a job: a well-behaved child that
// leaves when its channel closes.
struct Launched {
    ChildProcess child;
    os::UniqueFd channel;
};

Launched launch(Spawner& spawner, LauncherKind kind)
{
    auto channel = os::make_socket_pair();
    auto out = os::make_pipe();
    EXPECT_TRUE(channel.ok() && out.ok());
    LaunchRequest request;
    request.executable = t::worker_executable();
    request.args = {"--host-pid", std::to_string(::getpid()), "--role", "reuse"};
    request.channel_fd = channel->second.get();
    request.stdout_fd = out->write.get();
    request.stderr_fd = out->write.get();
    auto child = spawner.launch(request, kind);
    EXPECT_TRUE(child.ok()) << child.error().message();
    return Launched{std::move(child.value()), std::move(channel->first)};
}

// Waits for the worker's first message (its hello), so that closing the channel afterwards
// means "leave now", not "your host is already gone".
void wait_for_hello(const os::UniqueFd& channel)
{
    pollfd fd{channel.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&fd, 1, 20'000), 1) << "no hello within 20 s";
    char buffer[256];
    ASSERT_GT(::recv(channel.get(), buffer, sizeof buffer, 0), 0);
}

class SpawnerTest : public ::testing::TestWithParam<LauncherKind> {
protected:
    void TearDown() override
    {
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }
};

TEST_P(SpawnerTest, AChildThatExitsIsReapedWithItsExitCode)
{
    Spawner spawner;
    auto launched = launch(spawner, GetParam());
    const pid_t pid = launched.child.pid();
    EXPECT_EQ(spawner.live_children(), std::set<pid_t>{pid});
    EXPECT_TRUE(launched.child.running());
    wait_for_hello(launched.channel);
    launched.channel.reset();  // the worker leaves when its host closes the channel
    const auto ended = launched.child.reap();
    EXPECT_EQ(ended.status.kind, ExitStatus::Kind::exited);
    EXPECT_EQ(ended.status.exit_code, 0) << ended.status.describe();
    EXPECT_FALSE(launched.child.running());
    EXPECT_TRUE(spawner.live_children().empty());
}

TEST_P(SpawnerTest, ASignalIsReportedAsASignalNeverAsAnExitCode)
{
    Spawner spawner;
    auto launched = launch(spawner, GetParam());
    ASSERT_GE(launched.child.exit_fd(), 0) << "the kernel has pidfds";
    EXPECT_FALSE(launched.child.try_reap());
    launched.child.signal(SIGSEGV);
    const auto ended = launched.child.reap();
    EXPECT_EQ(ended.status.kind, ExitStatus::Kind::signalled);
    EXPECT_EQ(ended.status.signal_number, SIGSEGV);
    EXPECT_EQ(ended.status.describe().rfind("signal SIGSEGV", 0), 0u) << ended.status.describe();
    EXPECT_GT(ended.usage.max_rss_kb, 0u);
}

TEST_P(SpawnerTest, DestroyingARunningChildKillsAndReapsIt)
{
    Spawner spawner;
    pid_t pid = 0;
    {
        auto launched = launch(spawner, GetParam());
        pid = launched.child.pid();
    }
    EXPECT_FALSE(os::process_state(pid).has_value()) << "neither running nor a zombie";
    EXPECT_TRUE(spawner.live_children().empty());
}

TEST_P(SpawnerTest, AFailedLaunchCarriesErrno)
{
    Spawner spawner;
    auto channel = os::make_socket_pair();
    auto out = os::make_pipe();
    ASSERT_TRUE(channel.ok() && out.ok());
    LaunchRequest request;
    request.executable = "/nonexistent/sandhost-worker";
    request.channel_fd = channel->second.get();
    request.stdout_fd = request.stderr_fd = out->write.get();
    auto child = spawner.launch(request, GetParam());
    ASSERT_FALSE(child.ok());
    EXPECT_EQ(child.error().code.value(), ENOENT) << child.error().message();
    EXPECT_NE(child.error().message().find("/nonexistent/sandhost-worker"), std::string::npos);
}

TEST_P(SpawnerTest, AChildOutlivesTheThreadThatAskedForIt)
{
    Spawner spawner;
    std::optional<Launched> launched;
    std::thread([&] { launched.emplace(launch(spawner, GetParam())); }).join();
    ASSERT_TRUE(launched);
    // The parent-death signal is tied to the spawner's own thread, not to the one that asked.
    EXPECT_FALSE(launched->child.try_reap());
    const auto state = os::process_state(launched->child.pid());
    ASSERT_TRUE(state);
    EXPECT_NE(*state, 'Z');
    wait_for_hello(launched->channel);
    launched->channel.reset();
    EXPECT_EQ(launched->child.reap().status.kind, ExitStatus::Kind::exited);
}

INSTANTIATE_TEST_SUITE_P(Launchers, SpawnerTest, ::testing::Values(LauncherKind::poco, LauncherKind::posix_spawn),
                         [](const ::testing::TestParamInfo<LauncherKind>& p) { return std::string(to_string(p.param)); });

std::size_t thread_count()
{
    std::size_t threads = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++threads;
    return threads;
}

TEST(Spawner, ItsLaunchThreadEndsWithIt)
{
    const auto before = thread_count();
    {
        Spawner spawner;
        EXPECT_EQ(thread_count(), before + 1);
        auto launched = launch(spawner, LauncherKind::posix_spawn);
        launched.channel.reset();
        launched.child.reap();
    }
    // A joined thread leaves /proc/self/task a moment after the join returns (the kernel
    // releases it after waking the joiner): one that outlives the spawner never does.
    EXPECT_TRUE(t::eventually([&] { return thread_count() == before; })) << "no thread of a spawner outlives it: " << thread_count();
}

TEST(Spawner, TwoSpawnersKeepTheirChildrenApartAndReapOnlyStrays)
{
    Spawner first;
    Spawner second;
    auto a = launch(first, LauncherKind::posix_spawn);
    auto b = launch(second, LauncherKind::posix_spawn);
    EXPECT_EQ(first.live_children(), std::set<pid_t>{a.child.pid()});
    EXPECT_EQ(second.live_children(), std::set<pid_t>{b.child.pid()});
    // A stray: a child of this process's main thread that no spawner launched.
    const pid_t stray = ::fork();
    ASSERT_GE(stray, 0);
    if (stray == 0) {
        ::pause();
        ::_exit(0);
    }
    EXPECT_EQ(first.reap_strays(), 1);
    EXPECT_FALSE(os::process_state(stray).has_value());
    EXPECT_TRUE(a.child.running());
    EXPECT_TRUE(b.child.running()) << "one spawner never touches another's children";
    a.channel.reset();
    b.channel.reset();
    a.child.reap();
    b.child.reap();
}

} // namespace
} // namespace sandhost::process
