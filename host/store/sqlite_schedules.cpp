// Schedule firings: at most one job per schedule and period, whoever fires it.
#include "store/sqlite_store_impl.h"

namespace sandhost::store::sqlite {

std::optional<model::JobId> SqliteStore::fire_schedule(const std::string& name, model::TimePoint fire_time,
                                                       const model::NewJob& job, model::TimePoint now)
{
    return serialized("firing a schedule", [&]() -> std::optional<model::JobId> {
        Transaction transaction(m_db, TransactionKind::write);
        const auto last = first_int("SELECT last_fire_time FROM schedules WHERE name = ?", name);
        if (!last) {
            run("INSERT INTO schedules (name, last_fire_time, updated_at) VALUES (?, ?, ?)", name,
                to_millis(fire_time), to_millis(now));
            transaction.commit();
            return std::nullopt;
        }
        if (*last >= to_millis(fire_time)) return std::nullopt;
        model::NewJob fired = job;
        if (fired.schedule.empty()) fired.schedule = name;
        const model::JobId id = insert_job(fired, now);
        run("UPDATE schedules SET last_fire_time = ?, last_job_id = ?, updated_at = ? WHERE name = ?",
            to_millis(fire_time), id, to_millis(now), name);
        transaction.commit();
        return id;
    });
}

std::optional<model::TimePoint> SqliteStore::schedule_last_fire(const std::string& name)
{
    return serialized("reading a schedule", [&]() -> std::optional<model::TimePoint> {
        const auto last = first_int("SELECT last_fire_time FROM schedules WHERE name = ?", name);
        if (!last) return std::nullopt;
        return from_millis(*last);
    });
}

} // namespace sandhost::store::sqlite
