#include "store/sqlite_store.h"

#include "store/attempt_record.h"
#include "store/sqlite_connection.h"
#include "store/sqlite_schema.h"

#include <Poco/Data/LOB.h>
#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <utility>

namespace sandhost::store {
namespace {

namespace kw = Poco::Data::Keywords;
using Poco::Data::AbstractBindingVec;
using Poco::Data::Statement;
using sqlite::bind_bytes;
using sqlite::bind_nullable_bytes;
using sqlite::Connection;
using sqlite::from_blob;
using sqlite::from_millis;
using sqlite::nullable_millis;
using sqlite::to_millis;
using sqlite::Transaction;
using sqlite::TransactionKind;

constexpr const char* k_expired = "expired: not started within its ttl";
constexpr const char* k_not_started = "('waiting', 'delayed', 'blocked')";

const std::string k_job_columns =
    "id, queue, task, payload, priority, state, created_at, updated_at, run_at, ttl_ms, expires_at, timeout_ms, "
    "max_attempts, attempts, attempts_since_retry, lost, result, error, progress_percent, progress_message, "
    "attempt_id, lease_holder, lease_expires_at, cancel_requested, schedule";

// One row of `jobs` as Poco extracts it, in the order of k_job_columns.
struct JobRow {
    Poco::Int64 id = 0;
    std::string queue;
    std::string task;
    Poco::Data::BLOB payload;
    Poco::Int64 priority = 0;
    std::string state;
    Poco::Int64 created_at = 0;
    Poco::Int64 updated_at = 0;
    Poco::Int64 run_at = 0;
    Poco::Nullable<Poco::Int64> ttl_ms;
    Poco::Nullable<Poco::Int64> expires_at;
    Poco::Nullable<Poco::Int64> timeout_ms;
    Poco::Nullable<Poco::Int64> max_attempts;
    Poco::Int64 attempts = 0;
    Poco::Int64 attempts_since_retry = 0;
    Poco::Int64 lost = 0;
    Poco::Nullable<Poco::Data::BLOB> result;
    Poco::Nullable<Poco::Data::BLOB> error;
    Poco::Nullable<double> progress_percent;
    Poco::Nullable<Poco::Data::BLOB> progress_message;
    Poco::Nullable<Poco::Int64> attempt_id;
    Poco::Nullable<std::string> lease_holder;
    Poco::Nullable<Poco::Int64> lease_expires_at;
    Poco::Int64 cancel_requested = 0;
    std::string schedule;

    void extract_into(Statement& statement)
    {
        statement, kw::into(id), kw::into(queue), kw::into(task), kw::into(payload), kw::into(priority),
            kw::into(state), kw::into(created_at), kw::into(updated_at), kw::into(run_at), kw::into(ttl_ms),
            kw::into(expires_at), kw::into(timeout_ms), kw::into(max_attempts), kw::into(attempts),
            kw::into(attempts_since_retry), kw::into(lost), kw::into(result), kw::into(error),
            kw::into(progress_percent), kw::into(progress_message), kw::into(attempt_id), kw::into(lease_holder),
            kw::into(lease_expires_at), kw::into(cancel_requested), kw::into(schedule);
    }

    Job to_job() const
    {
        Job job;
        job.id = id;
        job.queue = queue;
        job.task = task;
        job.payload = from_blob(payload);
        job.priority = static_cast<int>(priority);
        // The CHECK constraint admits only the seven names.
        job.state = job_state_from_string(state).value_or(JobState::dead);
        job.created_at = from_millis(created_at);
        job.updated_at = from_millis(updated_at);
        job.run_at = from_millis(run_at);
        if (!expires_at.isNull()) job.expires_at = from_millis(expires_at.value());
        if (!timeout_ms.isNull()) job.timeout = Duration(timeout_ms.value());
        if (!max_attempts.isNull()) job.max_attempts = static_cast<std::uint32_t>(max_attempts.value());
        job.attempts = static_cast<std::uint32_t>(attempts);
        job.attempts_since_retry = static_cast<std::uint32_t>(attempts_since_retry);
        job.lost = static_cast<std::uint32_t>(lost);
        job.result = from_blob(result);
        job.error = from_blob(error);
        if (!progress_percent.isNull()) {
            job.progress = Progress{progress_percent.value(), from_blob(progress_message).value_or("")};
        }
        if (job.state == JobState::active && !attempt_id.isNull() && !lease_holder.isNull() &&
            !lease_expires_at.isNull()) {
            job.lease = Lease{lease_holder.value(), from_millis(lease_expires_at.value()), attempt_id.value()};
        }
        job.cancel_requested = cancel_requested != 0;
        job.schedule = schedule;
        return job;
    }
};

// A JSON array of ids, for `IN (SELECT value FROM json_each(?))`: one bound parameter
// however many ids there are.
std::string json_ids(const std::vector<JobId>& ids)
{
    std::string out = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(ids[i]);
    }
    return out + "]";
}

std::string joined(const std::vector<JobId>& ids)
{
    std::string out;
    for (JobId id : ids) out += (out.empty() ? "" : ", ") + std::to_string(id);
    return out;
}

std::vector<JobId> without_duplicates(const std::vector<JobId>& ids)
{
    std::vector<JobId> out;
    for (JobId id : ids) {
        if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    }
    return out;
}

std::string dependency_error(JobId dependency, JobState state)
{
    return "dependency " + std::to_string(dependency) + (state == JobState::cancelled ? " was cancelled" : " is dead");
}

// Which of waiting and delayed candidates runs first: priority, then FIFO by run_at and id.
struct Candidate {
    JobId id = 0;
    Poco::Int64 priority = 0;
    Poco::Int64 run_at = 0;
    std::optional<Poco::Int64> expires_at;
    Poco::Int64 attempts = 0;

    bool before(const Candidate& other) const
    {
        if (priority != other.priority) return priority > other.priority;
        if (run_at != other.run_at) return run_at < other.run_at;
        return id < other.id;
    }
};

class SqliteStore final : public Store {
public:
    SqliteStore(std::filesystem::path file, const SqliteOptions& options) : m_db(std::move(file), options)
    {
        sqlite::check_schema(m_db);
        try {
            m_db.configure_for_writing();
        } catch (...) {
            m_db.rethrow_as_store_error("setting up the connection");
        }
        sqlite::migrate_schema(m_db);
    }

    JobId enqueue(const NewJob& job, TimePoint now) override
    {
        return serialized("enqueueing a job", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const JobId id = insert_job(job, now);
            transaction.commit();
            return id;
        });
    }

    std::optional<Claim> claim(const std::vector<QueueAllowance>& queues, const std::string& holder, Duration lease,
                               TimePoint now) override
    {
        return serialized("claiming a job", [&]() -> std::optional<Claim> {
            Transaction transaction(m_db, TransactionKind::write);
            const std::vector<std::string> eligible = claimable_queues(queues, now);
            while (true) {
                const std::optional<Candidate> best = best_candidate(eligible, now);
                if (!best) {
                    transaction.commit();  // keeps the expired jobs found on the way
                    return std::nullopt;
                }
                if (best->expires_at && *best->expires_at <= to_millis(now)) {
                    make_dead(best->id, k_expired, now);
                    continue;
                }
                Claim claimed = take(*best, holder, lease, now);
                transaction.commit();
                return claimed;
            }
        });
    }

    bool renew(JobId job, AttemptId attempt, TimePoint expires_at) override
    {
        return serialized("renewing a lease", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const auto changed = m_db.execute(
                "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND state = 'active' AND attempt_id = ?",
                {kw::bind(to_millis(expires_at)), kw::bind(job), kw::bind(attempt)});
            transaction.commit();
            return changed == 1;
        });
    }

    bool set_progress(JobId job, AttemptId attempt, const Progress& progress) override
    {
        return serialized("recording progress", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const auto changed = m_db.execute("UPDATE jobs SET progress_percent = ?, progress_message = ? "
                                              "WHERE id = ? AND state = 'active' AND attempt_id = ?",
                                              {kw::bind(progress.percent), bind_bytes(progress.message), kw::bind(job),
                                               kw::bind(attempt)});
            transaction.commit();
            return changed == 1;
        });
    }

    bool finish(const AttemptRecord& attempt, const Transition& transition, TimePoint now) override
    {
        return serialized("finishing an attempt", [&] { return end_attempt(attempt, transition, now); });
    }

    std::vector<LostAttempt> lost_attempts(const std::string& host_name, const std::string& holder,
                                           TimePoint now) override
    {
        return serialized("looking for lost attempts", [&] {
            Transaction transaction(m_db, TransactionKind::read);
            const std::string prefix = host_name + "/";
            std::vector<Job> jobs = select_jobs(
                "WHERE state = 'active' AND (lease_expires_at < ? OR "
                "(substr(lease_holder, 1, length(?)) = ? AND lease_holder <> ?)) ORDER BY id",
                {kw::bind(to_millis(now)), kw::bind(prefix), kw::bind(prefix), kw::bind(holder)});
            std::vector<LostAttempt> lost;
            for (auto& job : jobs) {
                if (!job.lease) continue;
                const AttemptId attempt_id = job.lease->attempt_id;
                // A claim numbers its attempt attempts + 1 and counts it: the running attempt's
                // number is the job's count.
                const std::uint32_t number = job.attempts;
                lost.push_back(LostAttempt{std::move(job), attempt_id, number});
            }
            return lost;
        });
    }

    bool recover(const AttemptRecord& attempt, const Transition& transition, TimePoint now) override
    {
        return serialized("recovering a lost attempt", [&] { return end_attempt(attempt, transition, now); });
    }

    std::vector<JobId> cancel_requests(const std::string& holder) override
    {
        return serialized("reading cancel requests", [&] {
            return m_db.query_ints(
                "SELECT id FROM jobs WHERE state = 'active' AND cancel_requested = 1 AND lease_holder = ? ORDER BY id",
                {kw::bind(holder)});
        });
    }

    CancelResult cancel(JobId job, TimePoint now) override
    {
        return serialized("cancelling a job", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const auto state = state_of(job);
            if (!state) return CancelResult::not_found;
            if (is_final(*state)) return CancelResult::already_final;
            if (*state == JobState::active) {
                m_db.execute("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?",
                             {kw::bind(to_millis(now)), kw::bind(job)});
                transaction.commit();
                return CancelResult::requested;
            }
            m_db.execute("UPDATE jobs SET state = 'cancelled', updated_at = ? WHERE id = ?",
                         {kw::bind(to_millis(now)), kw::bind(job)});
            kill_dependents(job, JobState::cancelled, now);
            transaction.commit();
            return CancelResult::cancelled;
        });
    }

    bool retry(JobId job, TimePoint now) override
    {
        return serialized("retrying a job", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const auto state = state_of(job);
            if (!state) throw StoreRequestError("no job " + std::to_string(job));
            if (*state != JobState::dead && *state != JobState::cancelled) return false;
            const std::vector<JobId> dependencies = dependencies_of(job);
            const auto states = states_of(dependencies);
            bool all_completed = true;
            for (JobId dependency : dependencies) {
                const auto found = states.find(dependency);
                if (found == states.end()) {
                    throw StoreRequestError("job " + std::to_string(job) + " cannot run again: its dependency " +
                                            std::to_string(dependency) + " was purged");
                }
                if (found->second == JobState::dead || found->second == JobState::cancelled) {
                    throw StoreRequestError("job " + std::to_string(job) + " cannot run again while its " +
                                            dependency_error(dependency, found->second) + "; retry that job first");
                }
                if (found->second != JobState::completed) all_completed = false;
            }
            m_db.execute(
                "UPDATE jobs SET state = ?, run_at = ?, "
                "expires_at = CASE WHEN ttl_ms IS NULL THEN NULL ELSE ? + ttl_ms END, "
                "attempts_since_retry = 0, lost = 0, error = NULL, result = NULL, cancel_requested = 0, "
                "progress_percent = NULL, progress_message = NULL, updated_at = ? WHERE id = ?",
                {kw::bind(std::string(all_completed ? "waiting" : "blocked")), kw::bind(to_millis(now)),
                 kw::bind(to_millis(now)), kw::bind(to_millis(now)), kw::bind(job)});
            transaction.commit();
            return true;
        });
    }

    std::size_t expire(TimePoint now) override
    {
        return serialized("expiring jobs", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const auto ids = m_db.query_ints(
                std::string("SELECT id FROM jobs INDEXED BY jobs_expiring WHERE expires_at <= ? AND state IN ") +
                    k_not_started + " ORDER BY id",
                {kw::bind(to_millis(now))});
            std::size_t expired = 0;
            for (JobId id : ids) {
                if (make_dead(id, k_expired, now)) ++expired;
            }
            transaction.commit();
            return expired;
        });
    }

    std::optional<Job> get(JobId job) override
    {
        return serialized("reading a job", [&]() -> std::optional<Job> {
            Transaction transaction(m_db, TransactionKind::read);
            auto jobs = select_jobs("WHERE id = ?", {kw::bind(job)});
            if (jobs.empty()) return std::nullopt;
            return std::move(jobs.front());
        });
    }

    std::vector<AttemptRecord> attempts(JobId job) override
    {
        return serialized("reading attempts", [&] {
            Transaction transaction(m_db, TransactionKind::read);
            std::vector<AttemptRecord> records;
            Poco::Int64 attempt_id = 0;
            Poco::Int64 number = 0;
            std::string host;
            std::string outcome;
            Poco::Int64 started_at = 0;
            Poco::Nullable<Poco::Data::BLOB> record;
            Poco::Nullable<Poco::Data::BLOB> result;
            Statement statement(m_db.session());
            statement << "SELECT a.attempt_id, a.number, a.host, a.outcome, a.started_at, a.record, "
                         "CASE WHEN a.result_in_job THEN j.result ELSE a.result END "
                         "FROM attempts a JOIN jobs j ON j.id = a.job_id "
                         "WHERE a.job_id = ? AND a.outcome IS NOT NULL ORDER BY a.number",
                kw::into(attempt_id), kw::into(number), kw::into(host), kw::into(outcome), kw::into(started_at),
                kw::into(record), kw::into(result), kw::bind(job), kw::range(0, 1);
            while (!statement.done()) {
                if (statement.execute() == 0) break;
                AttemptRecord out;
                out.job_id = job;
                out.attempt_id = attempt_id;
                out.number = static_cast<std::uint32_t>(number);
                out.host = host;
                if (auto decoded = decode_outcome(from_blob(record).value_or(""))) {
                    out.outcome = std::move(*decoded);
                } else {
                    // Not expected (the store wrote it); keep what the indexed columns know.
                    out.outcome.kind =
                        sandbox::outcome_kind_from_string(outcome).value_or(sandbox::OutcomeKind::worker_lost);
                    out.outcome.error = "the stored attempt record could not be read";
                    out.outcome.started_at = from_millis(started_at);
                }
                out.outcome.result = from_blob(result).value_or("");
                records.push_back(std::move(out));
            }
            return records;
        });
    }

    std::vector<Job> list(const JobFilter& filter) override
    {
        return serialized("listing jobs", [&] {
            Transaction transaction(m_db, TransactionKind::read);
            std::string where = "WHERE 1 = 1";
            AbstractBindingVec binds;
            if (filter.queue) {
                where += " AND queue = ?";
                binds.push_back(kw::bind(*filter.queue));
            }
            if (filter.state) {
                where += " AND state = ?";
                binds.push_back(kw::bind(std::string(to_string(*filter.state))));
            }
            // limit 0: no limit.
            where += " ORDER BY id DESC LIMIT ?";
            binds.push_back(kw::bind(filter.limit == 0 ? Poco::Int64(-1) : static_cast<Poco::Int64>(filter.limit)));
            return select_jobs(where, std::move(binds));
        });
    }

    std::map<std::string, QueueCounts> queue_counts(const std::vector<std::string>& queues) override
    {
        return serialized("counting jobs", [&] {
            Transaction transaction(m_db, TransactionKind::read);
            std::map<std::string, QueueCounts> counts;
            auto entry = [&](const std::string& queue) -> QueueCounts& {
                auto [it, inserted] = counts.try_emplace(queue);
                if (inserted) {
                    for (JobState state : all_job_states()) it->second.by_state[state] = 0;
                }
                return it->second;
            };
            for (const auto& queue : queues) entry(queue);
            for (const auto& queue : m_db.query_texts("SELECT queue FROM paused_queues")) entry(queue).paused = true;
            std::vector<std::string> names;
            std::vector<std::string> states;
            std::vector<Poco::Int64> numbers;
            Statement statement(m_db.session());
            statement << "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state", kw::into(names),
                kw::into(states), kw::into(numbers);
            statement.execute();
            for (std::size_t i = 0; i < names.size(); ++i) {
                if (auto state = job_state_from_string(states[i])) {
                    entry(names[i]).by_state[*state] = static_cast<std::uint64_t>(numbers[i]);
                }
            }
            return counts;
        });
    }

    std::map<JobId, std::string> results(const std::vector<JobId>& jobs) override
    {
        return serialized("reading results", [&] {
            std::map<JobId, std::string> out;
            Poco::Int64 id = 0;
            Poco::Nullable<Poco::Data::BLOB> result;
            Statement statement(m_db.session());
            statement << "SELECT id, result FROM jobs WHERE state = 'completed' AND "
                         "id IN (SELECT value FROM json_each(?))",
                kw::into(id), kw::into(result), kw::bind(json_ids(jobs)), kw::range(0, 1);
            while (!statement.done()) {
                if (statement.execute() == 0) break;
                out[id] = from_blob(result).value_or("");
            }
            return out;
        });
    }

    void set_paused(const std::string& queue, bool paused) override
    {
        serialized("pausing or resuming a queue", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            m_db.execute(paused ? "INSERT OR IGNORE INTO paused_queues (queue) VALUES (?)"
                                : "DELETE FROM paused_queues WHERE queue = ?",
                         {kw::bind(queue)});
            transaction.commit();
        });
    }

    std::vector<std::string> paused_queues() override
    {
        return serialized("reading paused queues",
                          [&] { return m_db.query_texts("SELECT queue FROM paused_queues ORDER BY queue"); });
    }

    std::optional<JobId> fire_schedule(const std::string& name, TimePoint fire_time, const NewJob& job,
                                       TimePoint now) override
    {
        return serialized("firing a schedule", [&]() -> std::optional<JobId> {
            Transaction transaction(m_db, TransactionKind::write);
            const auto last = m_db.query_int("SELECT last_fire_time FROM schedules WHERE name = ?", {kw::bind(name)});
            if (!last) {
                m_db.execute("INSERT INTO schedules (name, last_fire_time, updated_at) VALUES (?, ?, ?)",
                             {kw::bind(name), kw::bind(to_millis(fire_time)), kw::bind(to_millis(now))});
                transaction.commit();
                return std::nullopt;
            }
            if (*last >= to_millis(fire_time)) return std::nullopt;
            NewJob fired = job;
            if (fired.schedule.empty()) fired.schedule = name;
            const JobId id = insert_job(fired, now);
            m_db.execute("UPDATE schedules SET last_fire_time = ?, last_job_id = ?, updated_at = ? WHERE name = ?",
                         {kw::bind(to_millis(fire_time)), kw::bind(id), kw::bind(to_millis(now)), kw::bind(name)});
            transaction.commit();
            return id;
        });
    }

    std::size_t purge(JobState state, TimePoint older_than) override
    {
        if (!is_final(state)) {
            throw StoreRequestError(std::string("only completed, dead or cancelled jobs can be purged, not ") +
                                    to_string(state));
        }
        return serialized("purging jobs", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            // A job that a job still to run depends on stays: its dependent needs its state
            // and its result.
            const auto ids = m_db.query_ints(
                "SELECT id FROM jobs j WHERE state = ? AND updated_at < ? AND NOT EXISTS ("
                "SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id "
                "WHERE d.depends_on = j.id AND w.state NOT IN ('completed', 'dead', 'cancelled'))",
                {kw::bind(std::string(to_string(state))), kw::bind(to_millis(older_than))});
            if (!ids.empty()) {
                const std::string doomed = json_ids(ids);
                m_db.execute("DELETE FROM attempts WHERE job_id IN (SELECT value FROM json_each(?))",
                             {kw::bind(doomed)});
                m_db.execute("DELETE FROM job_dependencies WHERE job_id IN (SELECT value FROM json_each(?))",
                             {kw::bind(doomed)});
                m_db.execute("DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))", {kw::bind(doomed)});
            }
            transaction.commit();
            return ids.size();
        });
    }

    bool register_host(const std::string& host_name, const std::string& holder, TimePoint now,
                       Duration stale_after) override
    {
        return serialized("registering the host", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            std::optional<std::string> current;
            Poco::Int64 heartbeat = 0;
            {
                Poco::Nullable<std::string> found;
                Statement statement(m_db.session());
                statement << "SELECT holder, heartbeat_at FROM hosts WHERE name = ?", kw::into(found),
                    kw::into(heartbeat), kw::bind(host_name), kw::limit(1);
                if (statement.execute() == 1 && !found.isNull()) current = found.value();
            }
            if (current && *current != holder && to_millis(now) - heartbeat < stale_after.count()) return false;
            upsert_host(host_name, holder, now);
            transaction.commit();
            return true;
        });
    }

    void unregister_host(const std::string& host_name, const std::string& holder) override
    {
        serialized("unregistering the host", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            m_db.execute("DELETE FROM hosts WHERE name = ? AND holder = ?", {kw::bind(host_name), kw::bind(holder)});
            transaction.commit();
        });
    }

    std::optional<std::pair<std::string, TimePoint>> host_registration(const std::string& host_name) override
    {
        return serialized("reading the host registration", [&]() -> std::optional<std::pair<std::string, TimePoint>> {
            Poco::Nullable<std::string> holder;
            Poco::Int64 heartbeat = 0;
            Statement statement(m_db.session());
            statement << "SELECT holder, heartbeat_at FROM hosts WHERE name = ?", kw::into(holder), kw::into(heartbeat),
                kw::bind(host_name), kw::limit(1);
            if (statement.execute() == 0 || holder.isNull()) return std::nullopt;
            return std::make_pair(holder.value(), from_millis(heartbeat));
        });
    }

    void take_over_host(const std::string& host_name, const std::string& holder, TimePoint now) override
    {
        serialized("taking over the host registration", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            upsert_host(host_name, holder, now);
            transaction.commit();
        });
    }

    std::optional<TimePoint> schedule_last_fire(const std::string& name) override
    {
        return serialized("reading a schedule", [&]() -> std::optional<TimePoint> {
            const auto last = m_db.query_int("SELECT last_fire_time FROM schedules WHERE name = ?", {kw::bind(name)});
            if (!last) return std::nullopt;
            return from_millis(*last);
        });
    }

private:
    // Runs `body` alone on the connection (one call at a time per Store object) and turns
    // SQLite's failures into StoreError. Transactions opened by `body` are rolled back by
    // their guards while the exception travels.
    template <class Body>
    auto serialized(const std::string& doing, Body&& body) -> decltype(body())
    {
        std::lock_guard lock(m_mutex);
        m_db.forget_failure();
        try {
            return body();
        } catch (...) {
            m_db.rethrow_as_store_error(doing);
        }
    }

    void upsert_host(const std::string& host_name, const std::string& holder, TimePoint now)
    {
        m_db.execute("INSERT INTO hosts (name, holder, heartbeat_at) VALUES (?, ?, ?) "
                     "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, heartbeat_at = excluded.heartbeat_at",
                     {kw::bind(host_name), kw::bind(holder), kw::bind(to_millis(now))});
    }

    std::vector<Job> select_jobs(const std::string& tail, AbstractBindingVec binds)
    {
        std::vector<Job> jobs;
        JobRow row;
        Statement statement(m_db.session());
        statement << "SELECT " + k_job_columns + " FROM jobs " + tail;
        row.extract_into(statement);
        for (auto& bind : binds) statement.addBind(bind);
        statement, kw::range(0, 1);
        while (!statement.done()) {
            if (statement.execute() == 0) break;
            jobs.push_back(row.to_job());
        }
        load_dependencies(jobs);
        return jobs;
    }

    void load_dependencies(std::vector<Job>& jobs)
    {
        if (jobs.empty()) return;
        std::vector<JobId> ids;
        for (const auto& job : jobs) ids.push_back(job.id);
        std::vector<Poco::Int64> dependents;
        std::vector<Poco::Int64> dependencies;
        Statement statement(m_db.session());
        statement << "SELECT job_id, depends_on FROM job_dependencies "
                     "WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY job_id, position",
            kw::into(dependents), kw::into(dependencies), kw::bind(json_ids(ids));
        statement.execute();
        std::map<JobId, std::vector<JobId>> by_job;
        for (std::size_t i = 0; i < dependents.size(); ++i) by_job[dependents[i]].push_back(dependencies[i]);
        for (auto& job : jobs) {
            if (auto found = by_job.find(job.id); found != by_job.end()) job.depends_on = found->second;
        }
    }

    std::optional<JobState> state_of(JobId job)
    {
        const auto state = m_db.query_text("SELECT state FROM jobs WHERE id = ?", {kw::bind(job)});
        if (!state) return std::nullopt;
        return job_state_from_string(*state);
    }

    std::map<JobId, JobState> states_of(const std::vector<JobId>& jobs)
    {
        std::map<JobId, JobState> out;
        if (jobs.empty()) return out;
        std::vector<Poco::Int64> ids;
        std::vector<std::string> states;
        Statement statement(m_db.session());
        statement << "SELECT id, state FROM jobs WHERE id IN (SELECT value FROM json_each(?))", kw::into(ids),
            kw::into(states), kw::bind(json_ids(jobs));
        statement.execute();
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (auto state = job_state_from_string(states[i])) out[ids[i]] = *state;
        }
        return out;
    }

    std::vector<JobId> dependencies_of(JobId job)
    {
        return m_db.query_ints("SELECT depends_on FROM job_dependencies WHERE job_id = ? ORDER BY position",
                               {kw::bind(job)});
    }

    // Inside a write transaction.
    JobId insert_job(const NewJob& job, TimePoint now)
    {
        const std::vector<JobId> dependencies = without_duplicates(job.depends_on);
        const auto states = states_of(dependencies);
        std::vector<JobId> unknown;
        for (JobId dependency : dependencies) {
            if (!states.count(dependency)) unknown.push_back(dependency);
        }
        if (!unknown.empty()) {
            throw StoreRequestError(
                (unknown.size() == 1 ? "unknown dependency: no job " : "unknown dependencies: no jobs ") +
                joined(unknown) + "; nothing was enqueued");
        }
        JobState state = JobState::waiting;
        std::optional<std::string> error;
        for (JobId dependency : dependencies) {
            const JobState dependency_state = states.at(dependency);
            if (dependency_state == JobState::dead || dependency_state == JobState::cancelled) {
                state = JobState::dead;
                error = dependency_error(dependency, dependency_state);
                break;
            }
            if (dependency_state != JobState::completed) state = JobState::blocked;
        }
        const Duration delay = std::max(job.delay.value_or(Duration(0)), Duration(0));
        if (state == JobState::waiting && delay > Duration(0)) state = JobState::delayed;
        std::optional<TimePoint> expires_at;
        if (job.ttl) expires_at = now + *job.ttl;

        m_db.execute(
            "INSERT INTO jobs (queue, task, payload, priority, state, created_at, updated_at, run_at, ttl_ms, "
            "expires_at, timeout_ms, max_attempts, error, schedule) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {kw::bind(job.queue), kw::bind(job.task), bind_bytes(job.payload),
             kw::bind(static_cast<Poco::Int64>(job.priority)), kw::bind(std::string(to_string(state))),
             kw::bind(to_millis(now)), kw::bind(to_millis(now)), kw::bind(to_millis(now + delay)),
             kw::bind(nullable_millis(job.ttl)), kw::bind(nullable_millis(expires_at)),
             kw::bind(nullable_millis(job.timeout)),
             kw::bind(job.max_attempts ? Poco::Nullable<Poco::Int64>(*job.max_attempts)
                                       : Poco::Nullable<Poco::Int64>()),
             bind_nullable_bytes(error), kw::bind(job.schedule)});
        const JobId id = m_db.last_insert_id();
        for (std::size_t i = 0; i < dependencies.size(); ++i) {
            m_db.execute("INSERT INTO job_dependencies (job_id, depends_on, position) VALUES (?, ?, ?)",
                         {kw::bind(id), kw::bind(dependencies[i]), kw::bind(static_cast<Poco::Int64>(i))});
        }
        return id;
    }

    // The queues among `queues` a claim may take from now: not paused, not over their rate.
    std::vector<std::string> claimable_queues(const std::vector<QueueAllowance>& queues, TimePoint now)
    {
        const auto paused_list = m_db.query_texts("SELECT queue FROM paused_queues");
        const std::set<std::string> paused(paused_list.begin(), paused_list.end());
        std::set<std::string> seen;
        std::vector<std::string> eligible;
        for (const auto& allowance : queues) {
            if (!seen.insert(allowance.queue).second || paused.count(allowance.queue)) continue;
            if (allowance.rate_jobs && allowance.rate_per) {
                // Attempts started in the last `per` (now - per, now], and any a host with a
                // clock ahead of ours started "later": the window never lets a burst through.
                const auto started =
                    m_db.query_int("SELECT count(*) FROM attempts WHERE queue = ? AND started_at > ?",
                                   {kw::bind(allowance.queue), kw::bind(to_millis(now - *allowance.rate_per))})
                        .value_or(0);
                if (static_cast<std::uint64_t>(started) >= *allowance.rate_jobs) continue;
            }
            eligible.push_back(allowance.queue);
        }
        return eligible;
    }

    std::optional<Candidate> best_candidate(const std::vector<std::string>& queues, TimePoint now)
    {
        std::optional<Candidate> best;
        auto consider = [&](const std::string& sql, AbstractBindingVec binds) {
            Candidate candidate;
            Poco::Nullable<Poco::Int64> expires_at;
            Statement statement(m_db.session());
            statement << sql, kw::into(candidate.id), kw::into(candidate.priority), kw::into(candidate.run_at),
                kw::into(expires_at), kw::into(candidate.attempts), kw::limit(1);
            for (auto& bind : binds) statement.addBind(bind);
            if (statement.execute() == 0) return;
            if (!expires_at.isNull()) candidate.expires_at = expires_at.value();
            if (!best || candidate.before(*best)) best = candidate;
        };
        for (const auto& queue : queues) {
            // Each is the first entry of an index range: no sort over the waiting jobs.
            consider("SELECT id, priority, run_at, expires_at, attempts FROM jobs INDEXED BY jobs_by_queue_state "
                     "WHERE queue = ? AND state = 'waiting' ORDER BY priority DESC, run_at, id LIMIT 1",
                     {kw::bind(queue)});
            consider("SELECT id, priority, run_at, expires_at, attempts FROM jobs INDEXED BY jobs_delayed "
                     "WHERE queue = ? AND state = 'delayed' AND run_at <= ? ORDER BY priority DESC, run_at, id LIMIT 1",
                     {kw::bind(queue), kw::bind(to_millis(now))});
        }
        return best;
    }

    // Inside a write transaction: `candidate` is runnable; start its next attempt.
    Claim take(const Candidate& candidate, const std::string& holder, Duration lease, TimePoint now)
    {
        const JobId id = candidate.id;
        const Poco::Int64 number = candidate.attempts + 1;
        m_db.execute("INSERT INTO attempts (job_id, queue, number, host, started_at) "
                     "SELECT id, queue, ?, ?, ? FROM jobs WHERE id = ?",
                     {kw::bind(number), kw::bind(holder), kw::bind(to_millis(now)), kw::bind(id)});
        const AttemptId attempt_id = m_db.last_insert_id();
        m_db.execute("UPDATE jobs SET state = 'active', attempts = attempts + 1, "
                     "attempts_since_retry = attempts_since_retry + 1, attempt_id = ?, lease_holder = ?, "
                     "lease_expires_at = ?, progress_percent = NULL, progress_message = NULL, cancel_requested = 0, "
                     "updated_at = ? WHERE id = ?",
                     {kw::bind(attempt_id), kw::bind(holder), kw::bind(to_millis(now + lease)),
                      kw::bind(to_millis(now)), kw::bind(id)});
        auto jobs = select_jobs("WHERE id = ?", {kw::bind(id)});
        return Claim{std::move(jobs.at(0)), attempt_id, static_cast<std::uint32_t>(number)};
    }

    // finish and recover: compare-and-set on (job, attempt id, active), then the record, the
    // transition and its cascade in one transaction.
    bool end_attempt(const AttemptRecord& attempt, const Transition& transition, TimePoint now)
    {
        switch (transition.next) {
        case JobState::completed:
        case JobState::waiting:
        case JobState::delayed:
        case JobState::dead:
        case JobState::cancelled:
            break;
        default:
            throw StoreRequestError(std::string("an attempt cannot leave its job ") + to_string(transition.next));
        }
        Transaction transaction(m_db, TransactionKind::write);
        Poco::Nullable<std::string> holder;
        Poco::Int64 cancel_requested = 0;
        {
            Statement statement(m_db.session());
            statement << "SELECT lease_holder, cancel_requested FROM jobs "
                         "WHERE id = ? AND state = 'active' AND attempt_id = ?",
                kw::into(holder), kw::into(cancel_requested), kw::bind(attempt.job_id), kw::bind(attempt.attempt_id),
                kw::limit(1);
            if (statement.execute() == 0) return false;  // stale: another attempt holds the job, or none does
        }
        JobState next = transition.next;
        // A cancel request outlives the attempt it interrupted: the job does not run again.
        if (cancel_requested && (next == JobState::waiting || next == JobState::delayed)) next = JobState::cancelled;

        const bool completed = next == JobState::completed;
        const auto& outcome = attempt.outcome;
        // The result the job keeps is not stored a second time in the attempt.
        const bool result_in_job = completed && transition.result && *transition.result == outcome.result;
        const std::optional<std::string> attempt_result =
            result_in_job || outcome.result.empty() ? std::nullopt : std::optional<std::string>(outcome.result);
        const TimePoint ended_at = outcome.ended_at.time_since_epoch().count() != 0 ? outcome.ended_at : now;
        const std::string host = attempt.host.empty() && !holder.isNull() ? holder.value() : attempt.host;
        const std::size_t recorded = m_db.execute(
            "UPDATE attempts SET host = ?, ended_at = ?, outcome = ?, record = ?, result = ?, "
            "result_in_job = ? WHERE attempt_id = ? AND job_id = ?",
            {kw::bind(host), kw::bind(to_millis(ended_at)), kw::bind(std::string(to_string(outcome.kind))),
             bind_bytes(encode_outcome(outcome)), bind_nullable_bytes(attempt_result),
             kw::bind(Poco::Int64(result_in_job ? 1 : 0)), kw::bind(attempt.attempt_id), kw::bind(attempt.job_id)});
        if (recorded != 1) {
            // The claim wrote this row in the same transaction as the lease; a store where it
            // is missing was edited behind our back. Refuse rather than lose the record.
            throw StoreError(m_db.file().string() + ": attempt " + std::to_string(attempt.attempt_id) + " of job " +
                             std::to_string(attempt.job_id) + " holds the lease but has no attempt row");
        }

        const bool runs_again = next == JobState::waiting || next == JobState::delayed;
        m_db.execute(
            "UPDATE jobs SET state = ?, run_at = CASE WHEN ? THEN ? ELSE run_at END, result = ?, "
            "error = CASE WHEN ? THEN ? WHEN ? THEN NULL ELSE error END, lost = lost + ?, "
            "attempts_since_retry = max(attempts_since_retry - ?, 0), attempt_id = NULL, lease_holder = NULL, "
            "lease_expires_at = NULL, cancel_requested = 0, updated_at = ? WHERE id = ?",
            {kw::bind(std::string(to_string(next))), kw::bind(Poco::Int64(runs_again ? 1 : 0)),
             kw::bind(to_millis(transition.run_at.value_or(now))),
             bind_nullable_bytes(completed ? transition.result : std::nullopt),
             kw::bind(Poco::Int64(transition.error ? 1 : 0)), bind_nullable_bytes(transition.error),
             kw::bind(Poco::Int64(completed ? 1 : 0)), kw::bind(Poco::Int64(transition.counts_as_lost ? 1 : 0)),
             kw::bind(Poco::Int64(transition.refund_attempt ? 1 : 0)), kw::bind(to_millis(now)),
             kw::bind(attempt.job_id)});
        if (completed) unblock_dependents(attempt.job_id, now);
        if (next == JobState::dead || next == JobState::cancelled) kill_dependents(attempt.job_id, next, now);
        transaction.commit();
        return true;
    }

    // Inside a write transaction: a job not started yet becomes dead, and so do its blocked
    // dependents. false when it had started or ended meanwhile.
    bool make_dead(JobId job, const std::string& error, TimePoint now)
    {
        const auto changed = m_db.execute(std::string("UPDATE jobs SET state = 'dead', error = ?, updated_at = ? "
                                                      "WHERE id = ? AND state IN ") +
                                              k_not_started,
                                          {bind_bytes(error), kw::bind(to_millis(now)), kw::bind(job)});
        if (changed == 0) return false;
        kill_dependents(job, JobState::dead, now);
        return true;
    }

    // Inside a write transaction: `job` became dead or cancelled; its blocked dependents can
    // never run, nor theirs.
    void kill_dependents(JobId job, JobState why, TimePoint now)
    {
        std::vector<std::pair<JobId, JobState>> pending{{job, why}};
        while (!pending.empty()) {
            const auto [ended, state] = pending.back();
            pending.pop_back();
            const auto dependents = m_db.query_ints(
                "SELECT d.job_id FROM job_dependencies d JOIN jobs j ON j.id = d.job_id "
                "WHERE d.depends_on = ? AND j.state = 'blocked' ORDER BY d.job_id",
                {kw::bind(ended)});
            for (JobId dependent : dependents) {
                m_db.execute(
                    "UPDATE jobs SET state = 'dead', error = ?, updated_at = ? WHERE id = ? AND state = 'blocked'",
                    {bind_bytes(dependency_error(ended, state)), kw::bind(to_millis(now)), kw::bind(dependent)});
                pending.emplace_back(dependent, JobState::dead);
            }
        }
    }

    // Inside a write transaction: `job` completed; dependents whose dependencies have all
    // completed may run (delayed when their own delay has not passed yet).
    void unblock_dependents(JobId job, TimePoint now)
    {
        // Most jobs have no dependents, and the UPDATE below costs more to prepare than
        // this look costs to run.
        if (!m_db.query_int("SELECT 1 FROM job_dependencies WHERE depends_on = ? LIMIT 1", {kw::bind(job)})) return;
        m_db.execute("UPDATE jobs SET state = CASE WHEN run_at > ? THEN 'delayed' ELSE 'waiting' END, updated_at = ? "
                     "WHERE state = 'blocked' AND id IN (SELECT job_id FROM job_dependencies WHERE depends_on = ?) "
                     "AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on "
                     "WHERE d.job_id = jobs.id AND j.state <> 'completed')",
                     {kw::bind(to_millis(now)), kw::bind(to_millis(now)), kw::bind(job)});
    }

    std::mutex m_mutex;
    Connection m_db;
};

} // namespace

std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& file, const SqliteOptions& options)
{
    std::error_code ec;
    auto absolute = std::filesystem::absolute(file, ec);
    if (ec) {
        throw StoreError(file.string() + ": cannot make the path absolute: " + ec.message() + " (errno " +
                         std::to_string(ec.value()) + ")");
    }
    // Absolute, so that SQLite never reads a relative name such as "file:x" as a URI.
    return std::make_unique<SqliteStore>(absolute.lexically_normal(), options);
}

} // namespace sandhost::store
