// Jobs and schedule firings copied in from another store (`sandhost copy`).
#include "store/sqlite_store_impl.h"

#include "store/attempt_codec.h"

namespace sandhost::store::sqlite {
namespace {

// What import_jobs refuses before it writes anything.
void check_copies(const std::vector<JobCopy>& jobs)
{
    check_import_size(jobs.size());
    for (const auto& copy : jobs) {
        if (copy.job.state == model::JobState::active) {
            throw StoreRequestError("job " + std::to_string(copy.job.id) + " is active: a running job is not copied; nothing was imported");
        }
    }
}

} // namespace

void SqliteStore::import_jobs(const std::vector<JobCopy>& jobs, model::TimePoint)
{
    check_copies(jobs);
    serialized("importing jobs", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        for (const auto& copy : jobs) {
            const model::Job& job = copy.job;
            if (first_int("SELECT 1 FROM jobs WHERE id = ?", job.id)) {
                throw StoreRequestError("job " + std::to_string(job.id) + " is already in this store; nothing was imported");
            }
            std::optional<std::int64_t> ttl_ms, expires_at, timeout_ms;
            if (job.ttl) ttl_ms = job.ttl->count();
            if (job.expires_at) expires_at = to_millis(*job.expires_at);
            if (job.timeout) timeout_ms = job.timeout->count();
            std::optional<double> percent;
            std::optional<std::string> progress_message;
            if (job.progress) {
                percent = job.progress->percent;
                progress_message = job.progress->message;
            }
            run("INSERT INTO jobs (id, queue, task, payload, priority, state, created_at, updated_at, run_at, ttl_ms, expires_at, "
                "timeout_ms, max_attempts, attempts, attempts_since_retry, lost, result, error, progress_percent, progress_message, "
                "schedule, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                job.id, job.queue, job.task, Blob{job.payload}, job.priority, to_string(job.state), to_millis(job.created_at),
                to_millis(job.updated_at), to_millis(job.run_at), ttl_ms, expires_at, timeout_ms, job.max_attempts, job.attempts,
                job.attempts_since_retry, job.lost, optional_blob(job.result), optional_blob(job.error), percent,
                optional_blob(progress_message), job.schedule, job.key);
            for (std::size_t i = 0; i < job.depends_on.size(); ++i) {
                run("INSERT OR IGNORE INTO job_dependencies (job_id, depends_on, position) VALUES (?, ?, ?)", job.id, job.depends_on[i], i);
            }
            if (!job.depends_on.empty()) transaction_facts().any_dependencies = true;
            for (const auto& attempt : copy.attempts) {
                const auto& outcome = attempt.outcome;
                const bool in_job = result_is_the_jobs(job, attempt);
                const std::optional<std::string> own_result =
                    in_job || outcome.result.empty() ? std::nullopt : std::optional<std::string>(outcome.result);
                run("INSERT INTO attempts (attempt_id, job_id, queue, number, host, started_at, ended_at, outcome, record, result, "
                    "result_in_job) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    attempt.attempt_id, job.id, job.queue, attempt.number, attempt.host, to_millis(outcome.started_at),
                    to_millis(outcome.ended_at), to_string(outcome.kind), Blob{encode_outcome(outcome)}, optional_blob(own_result), in_job);
            }
        }
        transaction.commit();
    });
}

void SqliteStore::import_schedule(const std::string& name, model::TimePoint last_fire)
{
    serialized("importing a schedule", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        run("INSERT INTO schedules (name, last_fire_time, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET last_fire_time = excluded.last_fire_time, updated_at = excluded.updated_at",
            name, to_millis(last_fire), to_millis(std::chrono::system_clock::now()));
        transaction.commit();
    });
}

std::int64_t SqliteStore::continue_events(std::int64_t after, const std::string& from, model::TimePoint now)
{
    return serialized("continuing the event feed", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        // Event ids are rowids: the next one is above the largest.
        run("INSERT INTO events (id, at, type, detail) VALUES (max(?, (SELECT coalesce(max(id), 0) FROM events)) + 1, ?, ?, ?)", after,
            to_millis(now), to_string(EventType::store_copied), from);
        const std::int64_t id = m_db.last_insert_id();
        transaction.commit();
        return id;
    });
}

} // namespace sandhost::store::sqlite
