// AttemptThreads: a host's attempts run on threads it keeps, so that starting one creates no
// thread once enough exist.
#include "scheduler/attempt_threads.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace sandhost::scheduler {
namespace {

using namespace std::chrono_literals;
namespace t = sandhost::testing;

// Work that blocks until opened.
class Gate {
public:
    void wait()
    {
        std::unique_lock lock(m_mutex);
        ++m_waiting;
        m_changed.notify_all();
        m_changed.wait(lock, [&] { return m_open; });
    }
    void open()
    {
        std::lock_guard lock(m_mutex);
        m_open = true;
        m_changed.notify_all();
    }
    int waiting()
    {
        std::lock_guard lock(m_mutex);
        return m_waiting;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_changed;
    bool m_open = false;
    int m_waiting = 0;
};

TEST(AttemptThreads, OneAttemptAfterAnotherRunsOnTheSameThread)
{
    AttemptThreads threads;
    std::atomic<int> done{0};
    for (int i = 0; i < 50; ++i) {
        threads.run([&] { ++done; });
        ASSERT_TRUE(t::eventually([&] { return done == i + 1 && threads.idle() == 1; }, 10s)) << i;
    }
    EXPECT_EQ(threads.size(), 1u);
}

TEST(AttemptThreads, AttemptsAtOnceGetAThreadEachAndLaterOnesReuseThem)
{
    AttemptThreads threads;
    Gate first;
    for (int i = 0; i < 4; ++i) threads.run([&] { first.wait(); });
    ASSERT_TRUE(t::eventually([&] { return first.waiting() == 4; }, 10s)) << "four blocked attempts run at once";
    EXPECT_EQ(threads.size(), 4u);
    first.open();
    ASSERT_TRUE(t::eventually([&] { return threads.idle() == 4; }, 10s));

    Gate second;
    for (int i = 0; i < 4; ++i) threads.run([&] { second.wait(); });
    ASSERT_TRUE(t::eventually([&] { return second.waiting() == 4; }, 10s));
    EXPECT_EQ(threads.size(), 4u) << "no thread created while four were idle";
    threads.run([] {});
    EXPECT_EQ(threads.size(), 5u) << "a fifth at once needs a fifth thread";
    second.open();
    threads.join();
    EXPECT_EQ(threads.size(), 0u);
}

TEST(AttemptThreads, JoinLetsEveryAttemptGivenFinish)
{
    std::atomic<int> done{0};
    {
        AttemptThreads threads;
        Gate gate;
        for (int i = 0; i < 3; ++i) {
            threads.run([&] {
                gate.wait();
                ++done;
            });
        }
        ASSERT_TRUE(t::eventually([&] { return gate.waiting() == 3; }, 10s));
        gate.open();
    }  // the destructor joins
    EXPECT_EQ(done, 3);
}

} // namespace
} // namespace sandhost::scheduler
