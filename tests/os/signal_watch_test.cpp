#include "os/signal_watch.h"

#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "os_test_support.h"

namespace sandhost::os {
namespace {

// What the watch's callback saw.
class Deliveries {
public:
    void record(int sig)
    {
        std::lock_guard lock(m_mutex);
        m_signals.push_back(sig);
        m_threads.push_back(std::this_thread::get_id());
        m_changed.notify_all();
    }
    // Waits until `count` signals have arrived (at most `limit`).
    bool wait_for(std::size_t count, std::chrono::milliseconds limit = testing::k_patience)
    {
        std::unique_lock lock(m_mutex);
        return m_changed.wait_for(lock, limit, [&] { return m_signals.size() >= count; });
    }
    std::vector<int> signals()
    {
        std::lock_guard lock(m_mutex);
        return m_signals;
    }
    std::vector<std::thread::id> threads()
    {
        std::lock_guard lock(m_mutex);
        return m_threads;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<int> m_signals;
    std::vector<std::thread::id> m_threads;
};

bool is_blocked(int sig)
{
    sigset_t mask;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    return sigismember(&mask, sig) == 1;
}

// Leaves the calling thread's signal mask as the test found it.
class SignalWatchTest : public ::testing::Test {
protected:
    void SetUp() override { ::pthread_sigmask(SIG_SETMASK, nullptr, &m_mask); }
    void TearDown() override { ::pthread_sigmask(SIG_SETMASK, &m_mask, nullptr); }

private:
    sigset_t m_mask;
};

// kill(), not raise(): raise() aims at the calling thread, and a signal pending for one thread
// is not read through another thread's signalfd. The signals a host gets (from a terminal, a
// service manager, `kill`) are aimed at the process, as these are.
TEST_F(SignalWatchTest, CallsBackOnItsOwnThreadForEachSignal)
{
    Deliveries deliveries;
    {
        SignalWatch watch({SIGUSR1, SIGUSR2}, [&](int sig) { deliveries.record(sig); });
        EXPECT_TRUE(is_blocked(SIGUSR1)) << "blocked in the constructing thread";
        EXPECT_TRUE(is_blocked(SIGUSR2));

        ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
        ASSERT_TRUE(deliveries.wait_for(1));
        ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
        ASSERT_TRUE(deliveries.wait_for(2));
    }
    EXPECT_EQ(deliveries.signals(), (std::vector<int>{SIGUSR1, SIGUSR2}));
    for (auto id : deliveries.threads()) EXPECT_NE(id, std::this_thread::get_id());
}

TEST_F(SignalWatchTest, AfterTheWatchTheSignalsStayBlocked)
{
    Deliveries deliveries;
    {
        SignalWatch watch({SIGUSR1}, [&](int sig) { deliveries.record(sig); });
    }
    // Still blocked: the signal waits, pending, instead of ending the process; nobody calls back.
    ASSERT_TRUE(is_blocked(SIGUSR1));
    ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, SIGUSR1);
    const timespec limit{20, 0};
    EXPECT_EQ(::sigtimedwait(&only, nullptr, &limit), SIGUSR1) << "pending, and taken here";
    EXPECT_TRUE(deliveries.signals().empty());
}

} // namespace
} // namespace sandhost::os
