// The store's event feed, read by one thread for every reader in this process: the streams of
// /api/v1/events wait here instead of each polling the store, and the dashboard's chart of
// attempts per minute is counted here from the job.finished events. Internal to the API.
#pragma once

#include "store/store.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sandhost::api {

class EventHub {
public:
    // Reads `store` every `poll` once started. The store must outlive the hub.
    EventHub(store::Store& store, model::Duration poll);
    ~EventHub();
    EventHub(const EventHub&) = delete;
    EventHub& operator=(const EventHub&) = delete;

    // Reads the feed the store keeps (to know the newest id and to fill the chart), then
    // starts the thread that follows it. A store that fails is logged and read again later.
    void start();
    // Wakes every reader (their next() returns stopped) and joins the thread. Idempotent.
    void stop();

    // The newest event id read so far (0 before any).
    std::int64_t newest() const;

    struct Batch {
        std::vector<store::Event> events;  // oldest first
        // Events after the reader's id are gone (the store trimmed them): the first event
        // here, or the newest id when there is none, is where the reader goes on.
        bool gap = false;
        bool stopped = false;
    };
    // The events after `after` (at most `limit`), waiting up to `wait` for one: from memory
    // when they are recent, else from the store. An empty batch when none came. Throws
    // StoreError when the store cannot be read.
    Batch next(std::int64_t after, std::size_t limit, model::Duration wait);

    // Attempts that ended in each of the `minutes` whole minutes up to now (oldest first), by
    // outcome, as the job.finished events read since the start tell it.
    struct Minute {
        model::TimePoint start{};
        std::map<std::string, std::uint64_t> outcomes;
    };
    std::vector<Minute> attempts_per_minute(model::TimePoint now, int minutes) const;

private:
    void run();
    // Reads what the store has after m_newest; true when it returned a full page.
    bool poll_once();
    void remember(std::vector<store::Event> events);

    store::Store& m_store;
    model::Duration m_poll;
    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<store::Event> m_recent;                                      // the newest, in order
    std::map<std::int64_t, std::map<std::string, std::uint64_t>> m_minutes;  // minute since the epoch -> outcome -> count
    std::int64_t m_newest = 0;
    bool m_stopping = false;
    std::thread m_thread;
};

} // namespace sandhost::api
