#include "scheduler/attempt_threads.h"

#include "os/proc.h"

#include <utility>

namespace sandhost::scheduler {

AttemptThreads::~AttemptThreads() { join(); }

void AttemptThreads::run(std::function<void()> work)
{
    std::lock_guard lock(m_mutex);
    m_queue.push_back(std::move(work));
    // Every queued piece needs a thread of its own: an idle one that has not woken up yet for
    // an earlier piece is already spoken for.
    if (m_queue.size() > m_idle) {
        try {
            m_threads.emplace_back([this] { serve(); });
        } catch (...) {
            m_queue.pop_back();
            throw;
        }
    } else {
        m_work_ready.notify_one();
    }
}

void AttemptThreads::serve()
{
    os::name_this_thread("sh-attempt");
    std::unique_lock lock(m_mutex);
    for (;;) {
        if (m_queue.empty()) {
            if (m_stopping) return;
            ++m_idle;
            m_work_ready.wait(lock, [&] { return !m_queue.empty() || m_stopping; });
            --m_idle;
            continue;
        }
        std::function<void()> work = std::move(m_queue.front());
        m_queue.pop_front();
        lock.unlock();
        work();
        work = nullptr;  // what it holds goes before the thread looks for more
        lock.lock();
    }
}

void AttemptThreads::join()
{
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
        threads.swap(m_threads);
    }
    m_work_ready.notify_all();
    for (auto& thread : threads) thread.join();
}

std::size_t AttemptThreads::size() const
{
    std::lock_guard lock(m_mutex);
    return m_threads.size();
}

std::size_t AttemptThreads::idle() const
{
    std::lock_guard lock(m_mutex);
    return m_idle;
}

} // namespace sandhost::scheduler
