// The threads that run a host's attempts: each blocks in Sandbox::run_attempt for as long as
// its attempt runs. A thread whose attempt is over waits for the next one instead of exiting,
// so that once as many threads exist as attempts ran at once, starting an attempt creates no
// thread (a thread's creation and its join cost more than a whole attempt of a trivial task
// in reuse mode or with no sandbox).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sandhost::scheduler {

class AttemptThreads {
public:
    AttemptThreads() = default;
    // join()
    ~AttemptThreads();
    AttemptThreads(const AttemptThreads&) = delete;
    AttemptThreads& operator=(const AttemptThreads&) = delete;

    // Runs `work` on an idle thread, or on a new one when none is idle; never blocks on the
    // work. `work` must not throw. Throws std::system_error, and runs nothing, when a thread
    // was needed and none could be created. Thread-safe; not after join().
    void run(std::function<void()> work);

    // Lets every piece of work given finish, then ends and joins the threads. Idempotent.
    void join();

    // Threads alive now, idle or working; and of those, the idle ones.
    std::size_t size() const;
    std::size_t idle() const;

private:
    void serve();

    mutable std::mutex m_mutex;
    std::condition_variable m_work_ready;
    std::deque<std::function<void()>> m_queue;
    std::size_t m_idle = 0;  // threads waiting for work
    bool m_stopping = false;
    std::vector<std::thread> m_threads;
};

} // namespace sandhost::scheduler
