#include "os/proc.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "os/fd.h"
#include "os_test_support.h"

namespace sandhost::os {
namespace {

using testing::announce;
using testing::BlockedCat;
using testing::block_until_released;
using testing::describe_status;
using testing::eventually;
using testing::ForkedChild;
using testing::read_pids;

template <class T>
bool contains(const std::vector<T>& items, T item)
{
    return std::find(items.begin(), items.end(), item) != items.end();
}

std::ptrdiff_t index_of(const std::vector<pid_t>& pids, pid_t pid)
{
    return std::find(pids.begin(), pids.end(), pid) - pids.begin();
}

// Whether `pid`, a child of ours, has stopped (a SIGSTOP took effect) or ended (it is a zombie
// now), without reaping it.
bool has_stopped(pid_t pid)
{
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WSTOPPED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}
bool has_ended(pid_t pid)
{
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

// A child that announces its pid on `ready` and blocks until `release` closes (the child's
// copy of its write end is closed first, so closing ours is what ends it).
std::function<int()> blocker(int ready, const UniqueFd& release_read, UniqueFd& release_write)
{
    return [ready, &release_read, &release_write] {
        release_write.reset();
        announce(ready, ::getpid());
        block_until_released(release_read.get());
        return 0;
    };
}

class Proc : public testing::ProcessTest {
protected:
    void SetUp() override
    {
        ProcessTest::SetUp();
        auto ready = make_pipe();
        auto release = make_pipe();
        ASSERT_TRUE(ready && release);
        m_ready = std::move(ready.value());
        m_release = std::move(release.value());
    }

    PipeEnds m_ready;    // children announce their pids here
    PipeEnds m_release;  // children block on its read end until the write end closes
};

TEST_F(Proc, ChildrenAndDescendantsOfARealTree)
{
    const int ready = m_ready.write.get();
    ForkedChild child([&] {
        m_release.write.reset();
        announce(ready, ::getpid());
        ForkedChild grandchild(blocker(ready, m_release.read, m_release.write));
        block_until_released(m_release.read.get());
        return describe_status(grandchild.wait()) == "exited with 0" ? 0 : 1;
    });
    const std::vector<pid_t> pids = read_pids(m_ready.read.get(), 2);
    ASSERT_EQ(pids.size(), 2u);
    ASSERT_EQ(pids[0], child.pid());
    const pid_t grandchild = pids[1];
    const pid_t self = ::getpid();

    EXPECT_TRUE(contains(children_of(self), child.pid()));
    EXPECT_FALSE(contains(children_of(self), grandchild));
    EXPECT_TRUE(contains(children_of_thread(self, self), child.pid())) << "forked by the main thread";
    EXPECT_EQ(children_of(child.pid()), std::vector<pid_t>{grandchild});
    EXPECT_TRUE(children_of(grandchild).empty());

    const std::vector<pid_t> all = descendants_of(self);
    EXPECT_FALSE(contains(all, self));
    EXPECT_LT(index_of(all, child.pid()), index_of(all, grandchild)) << "breadth first";
    EXPECT_LT(index_of(all, grandchild), static_cast<std::ptrdiff_t>(all.size()));
    EXPECT_EQ(descendants_of(child.pid()), std::vector<pid_t>{grandchild});
    EXPECT_TRUE(descendants_of(grandchild).empty());

    EXPECT_EQ(parent_of(child.pid()), self);
    EXPECT_EQ(parent_of(grandchild), child.pid());
    EXPECT_TRUE(contains(all_processes(), self));
    EXPECT_TRUE(contains(all_processes(), grandchild));

    m_release.write.reset();
    EXPECT_EQ(describe_status(child.wait()), "exited with 0");
}

TEST_F(Proc, ChildrenOfEveryThread)
{
    std::promise<std::pair<pid_t, pid_t>> forked;  // the child, the thread that forked it
    std::promise<void> checked;
    std::thread thread([&] {
        // Not tied to the thread's life: the ForkedChild's destructor ends it before the thread.
        ForkedChild child(blocker(m_ready.write.get(), m_release.read, m_release.write), ForkedChild::TiedToParent::no);
        forked.set_value({child.pid(), ::gettid()});
        checked.get_future().wait();
    });
    const auto [child, tid] = forked.get_future().get();
    const pid_t self = ::getpid();
    EXPECT_TRUE(contains(children_of(self), child));
    EXPECT_EQ(children_of_thread(self, tid), std::vector<pid_t>{child});
    EXPECT_FALSE(contains(children_of_thread(self, self), child));
    EXPECT_TRUE(contains(descendants_of(self), child));
    checked.set_value();
    thread.join();
}

TEST_F(Proc, CmdlineOfAnExecutedProgram)
{
    BlockedCat cat;
    ASSERT_GT(cat.pid(), 0) << "cannot run /bin/cat";
    EXPECT_EQ(read_cmdline(cat.pid()), "cat -u -");
    EXPECT_EQ(parent_of(cat.pid()), ::getpid());
    cat.release();
    EXPECT_EQ(describe_status(cat.wait()), "exited with 0");
}

TEST_F(Proc, MemoryAndItsPeak)
{
    constexpr std::size_t k_bytes = 64 << 20;
    constexpr std::uint64_t k_kb = k_bytes / 1024;
    auto step = make_pipe();
    ASSERT_TRUE(step);
    const int ready = m_ready.write.get();
    ForkedChild child([&] {
        m_release.write.reset();
        step->write.reset();
        void* block = ::mmap(nullptr, k_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (block == MAP_FAILED) return 1;
        std::memset(block, 1, k_bytes);
        announce(ready, ::getpid());
        block_until_released(step->read.get());
        ::munmap(block, k_bytes);
        announce(ready, ::getpid());
        block_until_released(m_release.read.get());
        return 0;
    });
    step->read.reset();
    ASSERT_EQ(read_pids(m_ready.read.get(), 1).size(), 1u);
    auto during = read_memory(child.pid());
    ASSERT_TRUE(during);
    EXPECT_GE(during->rss_kb, k_kb);
    EXPECT_GE(during->size_kb, during->rss_kb);
    // The kernel sums its resident counters per CPU, so two readings of the same thing can
    // differ by a few hundred KiB: compare with the size of the block, not between readings.
    auto peak = read_peak_rss_kb(child.pid());
    ASSERT_TRUE(peak);
    EXPECT_GE(*peak, k_kb);

    step->write.reset();  // the child unmaps the block
    ASSERT_EQ(read_pids(m_ready.read.get(), 1).size(), 1u);
    auto after = read_memory(child.pid());
    ASSERT_TRUE(after);
    EXPECT_LE(after->rss_kb + k_kb, during->rss_kb + 1024) << "the block is no longer resident";
    auto peak_after = read_peak_rss_kb(child.pid());
    ASSERT_TRUE(peak_after);
    EXPECT_GE(*peak_after, k_kb) << "the peak stays";

    m_release.write.reset();
    EXPECT_EQ(describe_status(child.wait()), "exited with 0");
}

TEST_F(Proc, CpuTime)
{
    const int ready = m_ready.write.get();
    ForkedChild child([&] {
        m_release.write.reset();
        timespec used{};
        do {
            ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used);
        } while (used.tv_sec == 0 && used.tv_nsec < 300'000'000);
        // The CPU time it measured itself, in ms, where the others send a pid.
        announce(ready, static_cast<pid_t>(used.tv_sec * 1000 + used.tv_nsec / 1'000'000));
        block_until_released(m_release.read.get());
        return 0;
    });
    const std::vector<pid_t> measured = read_pids(m_ready.read.get(), 1);
    ASSERT_EQ(measured.size(), 1u);
    auto cpu = read_cpu_ms(child.pid());
    ASSERT_TRUE(cpu);
    // /proc counts in clock ticks (user and system each rounded down).
    EXPECT_GE(*cpu + 30, static_cast<std::uint64_t>(measured[0]));
    EXPECT_LE(*cpu, static_cast<std::uint64_t>(measured[0]) + 100);
    EXPECT_TRUE(read_cpu_ms(::getpid()));

    m_release.write.reset();
    EXPECT_EQ(describe_status(child.wait()), "exited with 0");
}

TEST_F(Proc, StateFollowsTheProcess)
{
    ForkedChild child(blocker(m_ready.write.get(), m_release.read, m_release.write));
    ASSERT_EQ(read_pids(m_ready.read.get(), 1).size(), 1u);
    const pid_t pid = child.pid();
    EXPECT_TRUE(eventually([&] { return process_state(pid) == 'S'; })) << "blocked in read: " << process_state(pid).value_or('?');

    ASSERT_EQ(::kill(pid, SIGSTOP), 0);
    ASSERT_TRUE(eventually([&] { return has_stopped(pid); }));
    EXPECT_EQ(process_state(pid), 'T');
    ASSERT_EQ(::kill(pid, SIGCONT), 0);

    m_release.write.reset();
    ASSERT_TRUE(eventually([&] { return has_ended(pid); }));
    EXPECT_EQ(process_state(pid), 'Z');
    EXPECT_EQ(read_cmdline(pid), "") << "a zombie has no command line";
    EXPECT_FALSE(read_peak_rss_kb(pid)) << "nor an address space";
    EXPECT_EQ(parent_of(pid), ::getpid());
    EXPECT_EQ(describe_status(child.wait()), "exited with 0");
}

TEST_F(Proc, AProcessThatIsGoneReadsAsNothing)
{
    ForkedChild child([] { return 0; });
    ASSERT_EQ(describe_status(child.wait()), "exited with 0");
    // Reaped: its pid names no process (until the kernel hands it out again, which it does only
    // after going through every other free pid).
    const pid_t gone = child.pid();
    EXPECT_TRUE(children_of(gone).empty());
    EXPECT_TRUE(children_of_thread(gone, gone).empty());
    EXPECT_TRUE(descendants_of(gone).empty());
    EXPECT_FALSE(read_memory(gone));
    EXPECT_FALSE(read_peak_rss_kb(gone));
    EXPECT_FALSE(read_cpu_ms(gone));
    EXPECT_FALSE(process_state(gone));
    EXPECT_FALSE(parent_of(gone));
    EXPECT_EQ(read_cmdline(gone), "");
    EXPECT_FALSE(contains(all_processes(), gone));
    EXPECT_FALSE(contains(children_of(::getpid()), gone));
}

TEST(ProcSelf, DescribesThisProcess)
{
    const pid_t self = ::getpid();
    EXPECT_EQ(parent_of(self), ::getppid());
    EXPECT_EQ(process_state(self), 'R') << "it is running this";
    EXPECT_NE(read_cmdline(self).find("os_tests"), std::string::npos) << read_cmdline(self);
    auto memory = read_memory(self);
    ASSERT_TRUE(memory);
    EXPECT_GT(memory->rss_kb, 0u);
    auto peak = read_peak_rss_kb(self);
    ASSERT_TRUE(peak);
    EXPECT_GE(*peak, memory->rss_kb);
}

// A spike that is over stops counting as the peak once reset: what a posix_spawn child then
// inherits is the resident size now. In a child, so that the test process keeps its own peak.
TEST(PeakRss, AResetSetsThePeakBackToTheResidentSizeNow)
{
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        constexpr std::size_t size = 64u << 20;
        void* spike = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (spike == MAP_FAILED) ::_exit(2);
        std::memset(spike, 1, size);
        ::munmap(spike, size);
        const auto before = read_peak_rss_kb(::getpid());
        const auto now = read_memory(::getpid());
        if (!before || !now || *before < now->rss_kb + 60 * 1024) ::_exit(3);
        if (!reset_own_peak_rss()) ::_exit(4);
        const auto after = read_peak_rss_kb(::getpid());
        if (!after || *after + 48 * 1024 > *before) ::_exit(5);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "2: no mapping, 3: the spike was not the peak, 4: the reset was refused, 5: the peak stayed";
}

} // namespace
} // namespace sandhost::os
