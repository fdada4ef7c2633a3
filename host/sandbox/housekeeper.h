// Housekeeper: a sandbox's one thread for work off the job path: retiring idle workers on a
// tick, and work posted to it (starting another fork server in the background). Owned, so it
// ends with its sandbox: no detached thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace sandhost::sandbox {

class Housekeeper {
public:
    using Clock = std::chrono::steady_clock;

    Housekeeper() = default;
    ~Housekeeper();  // stop()
    Housekeeper(const Housekeeper&) = delete;
    Housekeeper& operator=(const Housekeeper&) = delete;

    // Starts the thread: `tick` runs every `interval`, posted work in between, one at a time.
    // Once; throws std::system_error when the thread cannot be started.
    void start(std::function<void(Clock::time_point)> tick, Clock::duration interval);

    // Runs `work` on the housekeeper's thread soon (after start()). Dropped when stop() has begun.
    void post(std::function<void()> work);

    // Lets what runs now finish, drops what is still posted, and joins the thread. Idempotent.
    void stop();

private:
    void run();

    std::function<void(Clock::time_point)> m_tick;
    Clock::duration m_interval{};
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<std::function<void()>> m_work;
    bool m_stopping = false;
    std::thread m_thread;
};

} // namespace sandhost::sandbox
