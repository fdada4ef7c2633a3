// Reading jobs, attempts and queues; pausing queues; purging final jobs.
#include "store/sqlite_store_impl.h"

#include "store/attempt_codec.h"

namespace sandhost::store::sqlite {

std::optional<model::Job> SqliteStore::get(model::JobId job)
{
    return serialized("reading a job", [&]() -> std::optional<model::Job> {
        Transaction transaction(m_db, TransactionKind::read);
        static const std::string sql = k_select_jobs + "WHERE id = ?";
        auto jobs = select_jobs(sql, job);
        transaction.commit();
        if (jobs.empty()) return std::nullopt;
        return std::move(jobs.front());
    });
}

std::vector<model::AttemptRecord> SqliteStore::attempts(model::JobId job)
{
    return serialized("reading attempts", [&] {
        Transaction transaction(m_db, TransactionKind::read);
        std::vector<model::AttemptRecord> records;
        Query row = m_db.query("SELECT a.attempt_id, a.number, a.host, a.outcome, a.started_at, a.record, "
                               "CASE WHEN a.result_in_job THEN j.result ELSE a.result END "
                               "FROM attempts a JOIN jobs j ON j.id = a.job_id "
                               "WHERE a.job_id = ? AND a.outcome IS NOT NULL ORDER BY a.number");
        row.bind(job);
        while (row.step()) {
            model::AttemptRecord out;
            out.job_id = job;
            out.attempt_id = row.int64(0);
            out.number = static_cast<std::uint32_t>(row.int64(1));
            out.host = row.bytes(2);
            if (auto decoded = decode_outcome(row.bytes(5))) {
                out.outcome = std::move(*decoded);
            } else {
                // Not expected (the store wrote it); keep what the indexed columns know.
                out.outcome.kind =
                    model::outcome_kind_from_string(row.bytes(3)).value_or(model::OutcomeKind::worker_lost);
                out.outcome.error = "the stored attempt record could not be read";
                out.outcome.started_at = from_millis(row.int64(4));
            }
            out.outcome.result = row.bytes(6);
            records.push_back(std::move(out));
        }
        return records;
    });
}

std::vector<model::Job> SqliteStore::list(const JobFilter& filter)
{
    return serialized("listing jobs", [&] {
        Transaction transaction(m_db, TransactionKind::read);
        std::string sql = k_select_jobs + "WHERE 1 = 1";
        if (filter.queue) sql += " AND queue = ?";
        if (filter.state) sql += " AND state = ?";
        if (filter.task) sql += " AND task = ?";
        if (filter.before) sql += " AND id < ?";
        // limit 0: no limit.
        sql += " ORDER BY id DESC LIMIT ?";
        std::vector<model::Job> jobs;
        {
            Query row = m_db.query(sql);
            if (filter.queue) row.bind(*filter.queue);
            if (filter.state) row.bind(to_string(*filter.state));
            if (filter.task) row.bind(*filter.task);
            if (filter.before) row.bind(*filter.before);
            row.bind(filter.limit == 0 ? std::int64_t(-1) : static_cast<std::int64_t>(filter.limit));
            while (row.step()) jobs.push_back(job_from_row(row));
        }
        load_dependencies(jobs);
        return jobs;
    });
}

std::vector<model::JobId> SqliteStore::job_ids(const std::string& queue, model::JobState state, const std::optional<std::string>& task,
                                               std::optional<model::TimePoint> changed_since)
{
    return serialized("listing job ids", [&] {
        Transaction transaction(m_db, TransactionKind::read);
        // One read of the claim index's range of the queue and state (the id is in it), sorted
        // once: paging through list() sorted the whole range again for every page.
        std::string sql = "SELECT id FROM jobs INDEXED BY jobs_by_queue_state WHERE queue = ? AND state = ?";
        if (task) sql += " AND task = ?";
        if (changed_since) sql += " AND updated_at >= ?";
        Query row = m_db.query(sql + " ORDER BY id DESC");
        row.bind(queue, to_string(state));
        if (task) row.bind(*task);
        if (changed_since) row.bind(to_millis(*changed_since));
        std::vector<model::JobId> ids;
        while (row.step()) ids.push_back(row.int64(0));
        return ids;
    });
}

std::map<std::string, QueueCounts> SqliteStore::queue_counts(const std::vector<std::string>& queues)
{
    return serialized("counting jobs", [&] {
        Transaction transaction(m_db, TransactionKind::read);
        std::map<std::string, QueueCounts> counts;
        auto entry = [&](const std::string& queue) -> QueueCounts& {
            auto [it, inserted] = counts.try_emplace(queue);
            if (inserted) {
                for (model::JobState state : model::all_job_states()) it->second.by_state[state] = 0;
            }
            return it->second;
        };
        for (const auto& queue : queues) entry(queue);
        for (const auto& queue : texts("SELECT queue FROM paused_queues")) entry(queue).paused = true;
        Query row = m_db.query("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state");
        while (row.step()) {
            if (auto state = model::job_state_from_string(row.bytes(1))) {
                entry(row.bytes(0)).by_state[*state] = static_cast<std::uint64_t>(row.int64(2));
            }
        }
        for (auto& [queue, queue_counts] : counts) {
            if (queue_counts.by_state[model::JobState::waiting] + queue_counts.by_state[model::JobState::delayed] > 0) {
                queue_counts.earliest_due = earliest_due(queue);
            }
        }
        return counts;
    });
}

std::optional<model::TimePoint> SqliteStore::earliest_due(const std::string& queue)
{
    // The claim index orders a queue's jobs of a state by priority, then run_at: the first
    // entry of each priority has that priority's earliest run_at, one seek away. A queue's
    // priorities are few; past k_bands of them the rest is read in one scan.
    constexpr int k_bands = 64;
    std::optional<std::int64_t> earliest;
    for (const char* state : {"waiting", "delayed"}) {
        std::optional<std::int64_t> below;  // the priority of the band read last
        for (int band = 0;; ++band) {
            std::optional<std::int64_t> band_priority;
            std::optional<std::int64_t> run_at;
            if (band == k_bands) {
                run_at = first_int("SELECT MIN(run_at) FROM jobs INDEXED BY jobs_by_queue_state "
                                   "WHERE queue = ? AND state = ? AND priority < ?",
                                   queue, state, *below);
            } else {
                Query row = m_db.query(below ? "SELECT priority, run_at FROM jobs INDEXED BY jobs_by_queue_state "
                                               "WHERE queue = ? AND state = ? AND priority < ? ORDER BY priority DESC, run_at LIMIT 1"
                                             : "SELECT priority, run_at FROM jobs INDEXED BY jobs_by_queue_state "
                                               "WHERE queue = ? AND state = ? ORDER BY priority DESC, run_at LIMIT 1");
                row.bind(queue, state);
                if (below) row.bind(*below);
                if (row.step()) {
                    band_priority = row.int64(0);
                    run_at = row.int64(1);
                }
            }
            if (run_at && (!earliest || *run_at < *earliest)) earliest = run_at;
            if (!band_priority) break;
            below = band_priority;
        }
    }
    if (!earliest) return std::nullopt;
    return from_millis(*earliest);
}

std::map<model::JobId, std::string> SqliteStore::results(const std::vector<model::JobId>& jobs)
{
    return serialized("reading results", [&] {
        std::map<model::JobId, std::string> out;
        Query row = m_db.query("SELECT id, result FROM jobs WHERE state = 'completed' AND "
                               "id IN (SELECT value FROM json_each(?))");
        row.bind(json_ids(jobs));
        while (row.step()) out[row.int64(0)] = row.bytes(1);
        return out;
    });
}

void SqliteStore::set_paused(const std::string& queue, bool paused)
{
    serialized("pausing or resuming a queue", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        if (run(paused ? "INSERT OR IGNORE INTO paused_queues (queue) VALUES (?)"
                       : "DELETE FROM paused_queues WHERE queue = ?",
                queue) == 1) {
            // set_paused takes no time: the event is stamped with the store's clock.
            other_event(paused ? EventType::queue_paused : EventType::queue_resumed, std::chrono::system_clock::now(),
                        queue, {});
        }
        transaction.commit();
    });
}

std::vector<std::string> SqliteStore::paused_queues()
{
    return serialized("reading paused queues",
                      [&] { return texts("SELECT queue FROM paused_queues ORDER BY queue"); });
}

RemoveResult SqliteStore::remove(model::JobId job)
{
    return serialized("removing a job", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        const auto state = state_of(job);
        if (!state) return RemoveResult::not_found;
        if (!model::is_final(*state)) return RemoveResult::not_finished;
        // As purge: a job still to run needs its state and result.
        static const std::string needed =
            "SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id WHERE d.depends_on = ? AND " + unfinished_condition("w.state");
        if (first_int(needed, job)) return RemoveResult::needed;
        // Its bytes are overwritten where they were, not left in free pages until reused: one
        // job is deleted by hand when its data must not stay. Purges and retention, which delete
        // many, do not pay for it.
        struct SecureDelete {
            Connection& db;
            explicit SecureDelete(Connection& c) : db(c) { db.execute("PRAGMA secure_delete = ON"); }
            ~SecureDelete()
            {
                try {
                    db.execute("PRAGMA secure_delete = OFF");
                } catch (...) {  // a setting of this connection only: what it deletes next is zeroed too
                }
            }
        } zeroed(m_db);
        delete_jobs({job});
        transaction.commit();
        // The job's earlier versions may still be in the -wal file, in the frames of the
        // commits that wrote it: emptied now, after being copied into the file (whose pages
        // the deletion zeroed), unless another connection keeps the -wal in use for longer
        // than a checkpoint waits. Then its frames go as the -wal file is written anew.
        (void)m_db.empty_wal();
        return RemoveResult::removed;
    });
}

std::size_t SqliteStore::purge(model::JobState state, model::TimePoint older_than)
{
    if (!model::is_final(state)) {
        throw StoreRequestError(std::string("only completed, dead or cancelled jobs can be purged, not ") +
                                to_string(state));
    }
    return serialized("purging jobs", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        // A job that a job still to run depends on stays: its dependent needs its state
        // and its result.
        const auto ids = ints("SELECT id FROM jobs j WHERE state = ? AND updated_at < ? AND NOT EXISTS ("
                              "SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id "
                              "WHERE d.depends_on = j.id AND w.state NOT IN ('completed', 'dead', 'cancelled'))",
                              to_string(state), to_millis(older_than));
        delete_jobs(ids);
        transaction.commit();
        return ids.size();
    });
}

void SqliteStore::delete_jobs(const std::vector<std::int64_t>& ids)
{
    if (ids.empty()) return;
    const std::string doomed = json_ids(ids);
    run("DELETE FROM attempts WHERE job_id IN (SELECT value FROM json_each(?))", doomed);
    run("DELETE FROM job_dependencies WHERE job_id IN (SELECT value FROM json_each(?))", doomed);
    run("DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))", doomed);
}

std::size_t SqliteStore::trim(const std::string& queue, model::JobState state, const model::RetentionLimit& limit,
                              model::TimePoint now, std::size_t batch)
{
    if (!model::is_final(state)) {
        throw StoreRequestError(std::string("only completed, dead or cancelled jobs have a retention, not ") + to_string(state));
    }
    if (!limit.limits() || batch == 0) return 0;
    // The state is spelled in the statement (it is one of three names) so that SQLite can use
    // the partial index jobs_finished, which holds final jobs only.
    const std::string in_state = std::string("queue = ? AND state = '") + to_string(state) + "'";
    return serialized("trimming finished jobs", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        std::int64_t left = 0;
        if (limit.count) left = first_int("SELECT count(*) FROM jobs WHERE " + in_state, queue).value_or(0);
        const std::int64_t older = limit.age ? to_millis(now - *limit.age) : 0;
        const auto max_count = static_cast<std::int64_t>(limit.count.value_or(0));
        std::vector<std::int64_t> doomed;
        std::int64_t kept = 0;
        {
            Query row = m_db.query("SELECT id, updated_at, EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id "
                                   "WHERE d.depends_on = jobs.id AND w.state NOT IN ('completed', 'dead', 'cancelled')) "
                                   "FROM jobs WHERE " + in_state + " ORDER BY updated_at, id LIMIT ?");
            row.bind(queue, static_cast<std::int64_t>(batch) * 4);
            // Oldest first: a job goes while it is too old or too many newer ones are kept.
            while (doomed.size() < batch && row.step()) {
                const bool too_old = limit.age && row.int64(1) < older;
                const bool too_many = limit.count && left - kept > max_count;
                if (!too_old && !too_many) break;
                if (row.int64(2) != 0) {
                    ++kept;  // a job still to run needs its state and result
                    continue;
                }
                doomed.push_back(row.int64(0));
                --left;
            }
        }
        delete_jobs(doomed);
        transaction.commit();
        return doomed.size();
    });
}

} // namespace sandhost::store::sqlite
