// The event feed: every change of a job, a pause or a host registration leaves a row in
// `events`, written in the transaction that makes the change, and events_after reads them back.
#include "store/sqlite_store_impl.h"

#include <charconv>

namespace sandhost::store::sqlite {
namespace {

// The feed keeps at least this many of the newest events...
constexpr std::int64_t k_kept_events = 10'000;
// ... and deletes the older ones once every this many events, in one range delete on the
// primary key, rather than a little on every write.
constexpr std::int64_t k_trim_every = 1'000;

constexpr const char* k_job_event =
    "INSERT INTO events (at, type, job_id, queue, task, host, state, attempt, detail) "
    "SELECT ?, ?, id, queue, task, coalesce(?, lease_holder, ''), state, CASE WHEN ? THEN attempts ELSE 0 END, ? "
    "FROM jobs WHERE id = ?";

} // namespace

const char* to_string(EventType type)
{
    switch (type) {
    case EventType::job_enqueued: return "job.enqueued";
    case EventType::job_started: return "job.started";
    case EventType::job_progress: return "job.progress";
    case EventType::job_finished: return "job.finished";
    case EventType::queue_paused: return "queue.paused";
    case EventType::queue_resumed: return "queue.resumed";
    case EventType::host_up: return "host.up";
    case EventType::host_gone: return "host.gone";
    case EventType::store_restored: return "store.restored";
    case EventType::store_copied: return "store.copied";
    }
    return "?";
}

void SqliteStore::job_event(EventType type, model::JobId job, model::TimePoint at, const JobEventFacts& facts)
{
    if (run(k_job_event, to_millis(at), to_string(type), facts.host, facts.with_attempt, facts.detail, job) == 1) {
        trim_events();
    }
}

void SqliteStore::progress_event(model::JobId job, model::TimePoint at, double percent)
{
    char text[32];
    const auto [end, ec] = std::to_chars(text, text + sizeof text, percent);
    job_event(EventType::job_progress, job, at,
              JobEventFacts{std::nullopt, true, ec == std::errc() ? std::string(text, end) : std::to_string(percent)});
}

void SqliteStore::other_event(EventType type, model::TimePoint at, std::string_view queue, std::string_view host,
                              std::string_view detail)
{
    run("INSERT INTO events (at, type, queue, host, detail) VALUES (?, ?, ?, ?, ?)", to_millis(at), to_string(type),
        queue, host, detail);
    trim_events();
}

void SqliteStore::trim_events()
{
    const std::int64_t newest = m_db.last_insert_id();
    if (newest % k_trim_every != 0) return;
    // Ids are consecutive (see migrate_to_3): this keeps the newest k_kept_events.
    run("DELETE FROM events WHERE id <= ?", newest - k_kept_events);
}

std::vector<Event> SqliteStore::events_after(std::int64_t after, std::size_t limit)
{
    return serialized("reading events", [&] {
        std::vector<Event> events;
        Query row = m_db.query("SELECT id, at, type, job_id, queue, task, host, state, attempt, detail FROM events "
                               "WHERE id > ? ORDER BY id LIMIT ?");
        row.bind(after, limit == 0 ? std::int64_t(-1) : static_cast<std::int64_t>(limit));
        while (row.step()) {
            Event event;
            event.id = row.int64(0);
            event.at = from_millis(row.int64(1));
            event.type = row.bytes(2);
            event.job = row.optional_int64(3).value_or(0);
            event.queue = row.bytes(4);
            event.task = row.bytes(5);
            event.host = row.bytes(6);
            if (auto state = row.optional_bytes(7)) event.state = model::job_state_from_string(*state);
            event.attempt = static_cast<std::uint32_t>(row.int64(8));
            event.detail = row.bytes(9);
            events.push_back(std::move(event));
        }
        return events;
    });
}

} // namespace sandhost::store::sqlite
