#include "sandbox/housekeeper.h"

namespace sandhost::sandbox {

void Housekeeper::start(std::function<void(Clock::time_point)> tick, Clock::duration interval)
{
    m_tick = std::move(tick);
    m_interval = interval;
    m_thread = std::thread([this] { run(); });
}

Housekeeper::~Housekeeper() { stop(); }

void Housekeeper::post(std::function<void()> work)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping) return;
        m_work.push_back(std::move(work));
    }
    m_wake.notify_one();
}

void Housekeeper::stop()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
        m_work.clear();
    }
    m_wake.notify_one();
    if (m_thread.joinable()) m_thread.join();
}

void Housekeeper::run()
{
    auto next_tick = Clock::now() + m_interval;
    std::unique_lock lock(m_mutex);
    while (!m_stopping) {
        if (!m_work.empty()) {
            auto work = std::move(m_work.front());
            m_work.pop_front();
            lock.unlock();
            work();
            lock.lock();
            continue;
        }
        if (Clock::now() >= next_tick) {
            lock.unlock();
            m_tick(Clock::now());
            lock.lock();
            next_tick = Clock::now() + m_interval;
            continue;
        }
        m_wake.wait_until(lock, next_tick);
    }
}

} // namespace sandhost::sandbox
