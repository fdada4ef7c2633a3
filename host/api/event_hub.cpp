#include "api/event_hub.h"

#include "model/outcome.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sandhost::api {
namespace {

// Events kept in memory for readers that are not far behind.
constexpr std::size_t k_recent = 4096;
// One read of the store.
constexpr std::size_t k_page = 1000;
// Minutes of the chart kept.
constexpr std::int64_t k_chart_minutes = 61;

std::int64_t minute_of(model::TimePoint time)
{
    return std::chrono::duration_cast<std::chrono::minutes>(time.time_since_epoch()).count();
}

} // namespace

EventHub::EventHub(store::Store& store, model::Duration poll) : m_store(store), m_poll(poll) {}

EventHub::~EventHub() { stop(); }

void EventHub::start()
{
    try {
        while (poll_once()) {
        }
    } catch (const std::exception& e) {
        spdlog::warn("api: cannot read the store's events yet: {}", e.what());
    }
    m_thread = std::thread([this] { run(); });
}

void EventHub::stop()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_changed.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

std::int64_t EventHub::newest() const
{
    std::lock_guard lock(m_mutex);
    return m_newest;
}

void EventHub::run()
{
    bool failing = false;
    for (;;) {
        bool more = false;
        try {
            more = poll_once();
            if (failing) spdlog::info("api: reading the store's events again");
            failing = false;
        } catch (const std::exception& e) {
            if (!failing) spdlog::warn("api: cannot read the store's events: {}", e.what());
            failing = true;
        }
        std::unique_lock lock(m_mutex);
        if (m_stopping) return;
        if (!more) m_changed.wait_for(lock, m_poll, [&] { return m_stopping; });
        if (m_stopping) return;
    }
}

bool EventHub::poll_once()
{
    std::int64_t after;
    {
        std::lock_guard lock(m_mutex);
        after = m_newest;
    }
    auto events = m_store.events_after(after, k_page);
    const bool full = events.size() == k_page;
    if (!events.empty()) remember(std::move(events));
    return full;
}

void EventHub::remember(std::vector<store::Event> events)
{
    {
        std::lock_guard lock(m_mutex);
        for (auto& event : events) {
            if (event.id <= m_newest) continue;
            m_newest = event.id;
            if (event.type == "job.finished" && event.attempt > 0 && model::outcome_kind_from_string(event.detail)) {
                ++m_minutes[minute_of(event.at)][event.detail];
            }
            m_recent.push_back(std::move(event));
        }
        while (m_recent.size() > k_recent) m_recent.pop_front();
        if (!m_minutes.empty()) {
            const std::int64_t oldest_kept = m_minutes.rbegin()->first - k_chart_minutes;
            m_minutes.erase(m_minutes.begin(), m_minutes.lower_bound(oldest_kept));
        }
    }
    m_changed.notify_all();
}

EventHub::Batch EventHub::next(std::int64_t after, std::size_t limit, model::Duration wait)
{
    Batch batch;
    {
        std::unique_lock lock(m_mutex);
        m_changed.wait_for(lock, wait, [&] { return m_stopping || m_newest != after; });
        if (m_stopping) {
            batch.stopped = true;
            return batch;
        }
        if (m_newest == after) return batch;
        if (after > m_newest) {
            // An id this store never gave (the reader knew another store, or one since
            // replaced): it goes on from the newest.
            batch.gap = true;
            return batch;
        }
        if (!m_recent.empty() && m_recent.front().id <= after + 1) {
            auto first = std::upper_bound(m_recent.begin(), m_recent.end(), after,
                                          [](std::int64_t id, const store::Event& event) { return id < event.id; });
            for (; first != m_recent.end() && batch.events.size() < limit; ++first) batch.events.push_back(*first);
            return batch;
        }
    }
    // Further behind than memory reaches: the store has them, or has trimmed them.
    batch.events = m_store.events_after(after, limit);
    batch.gap = after > 0 && !batch.events.empty() && batch.events.front().id > after + 1;
    return batch;
}

std::vector<EventHub::Minute> EventHub::attempts_per_minute(model::TimePoint now, int minutes) const
{
    std::vector<Minute> out;
    const std::int64_t last = minute_of(now);
    std::lock_guard lock(m_mutex);
    for (std::int64_t minute = last - minutes + 1; minute <= last; ++minute) {
        Minute entry;
        entry.start = model::TimePoint(std::chrono::minutes(minute));
        if (auto found = m_minutes.find(minute); found != m_minutes.end()) entry.outcomes = found->second;
        out.push_back(std::move(entry));
    }
    return out;
}

} // namespace sandhost::api
