#include "store/sqlite_store.h"

#include "store/attempt_codec.h"
#include "store/sqlite_connection.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_statement.h"

#include <algorithm>
#include <limits>
#include <mutex>
#include <set>
#include <utility>

namespace sandhost::store {
namespace {

using sqlite::Blob;
using sqlite::Connection;
using sqlite::from_millis;
using sqlite::optional_blob;
using sqlite::Query;
using sqlite::to_millis;
using sqlite::Transaction;
using sqlite::TransactionKind;

constexpr const char* k_expired = "expired: not started within its ttl";
const std::string k_not_started = "('waiting', 'delayed', 'blocked')";

// Every statement below is prepared once per connection (list builds one of four texts).
const std::string k_job_columns =
    "id, queue, task, payload, priority, state, created_at, updated_at, run_at, ttl_ms, expires_at, timeout_ms, "
    "max_attempts, attempts, attempts_since_retry, lost, result, error, progress_percent, progress_message, "
    "attempt_id, lease_holder, lease_expires_at, cancel_requested, schedule";
const std::string k_select_jobs = "SELECT " + k_job_columns + " FROM jobs ";

// Claim: the waiting jobs of a queue in claim order, from the first entry of its (queue,
// 'waiting') range. A claim reads only as far as the first job whose task it may run: one row
// when it may run them all. The task is checked here with model::task_allowed rather than in
// SQL: a `task IN (SELECT value FROM json_each(?))` measured five times slower than the plain
// query on every claim, and a correlated json_each parses the patterns for every job passed
// over, slower than stepping past it here.
constexpr const char* k_waiting_in_order =
    "SELECT id, priority, run_at, expires_at, attempts, task FROM jobs INDEXED BY jobs_by_queue_state "
    "WHERE queue = ? AND state = 'waiting' ORDER BY priority DESC, run_at, id";
// Claim: the delayed jobs below a priority bound in claim order, due or not. Within a priority
// the index runs by run_at, so when the first allowed job is not due, no allowed job of its
// priority is: the next step looks below that priority. One index seek per distinct priority,
// however many delayed jobs wait.
constexpr const char* k_delayed_below_in_order =
    "SELECT id, priority, run_at, expires_at, attempts, task FROM jobs INDEXED BY jobs_by_queue_state "
    "WHERE queue = ? AND state = 'delayed' AND priority < ? ORDER BY priority DESC, run_at, id";
// Rate limits: attempts of a queue started in a window, counted no further than the limit.
constexpr const char* k_started_in_window =
    "SELECT count(*) FROM (SELECT 1 FROM attempts WHERE queue = ? AND started_at > ? LIMIT ?)";

// A JSON array of ids, for `IN (SELECT value FROM json_each(?))`: one bound parameter
// however many ids there are.
std::string json_ids(const std::vector<model::JobId>& ids)
{
    std::string out = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(ids[i]);
    }
    return out + "]";
}

std::string joined(const std::vector<model::JobId>& ids)
{
    std::string out;
    for (model::JobId id : ids) out += (out.empty() ? "" : ", ") + std::to_string(id);
    return out;
}

std::vector<model::JobId> without_duplicates(const std::vector<model::JobId>& ids)
{
    std::vector<model::JobId> out;
    for (model::JobId id : ids) {
        if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    }
    return out;
}

std::string dependency_error(model::JobId dependency, model::JobState state)
{
    return "dependency " + std::to_string(dependency) + (state == model::JobState::cancelled ? " was cancelled" : " is dead");
}

// A row of `jobs` read in the order of k_job_columns.
model::Job job_from_row(const Query& row)
{
    model::Job job;
    job.id = row.int64(0);
    job.queue = row.bytes(1);
    job.task = row.bytes(2);
    job.payload = row.bytes(3);
    job.priority = static_cast<int>(row.int64(4));
    // The CHECK constraint admits only the seven names.
    job.state = model::job_state_from_string(row.bytes(5)).value_or(model::JobState::dead);
    job.created_at = from_millis(row.int64(6));
    job.updated_at = from_millis(row.int64(7));
    job.run_at = from_millis(row.int64(8));
    if (auto expires_at = row.optional_int64(10)) job.expires_at = from_millis(*expires_at);
    if (auto timeout_ms = row.optional_int64(11)) job.timeout = model::Duration(*timeout_ms);
    if (auto max_attempts = row.optional_int64(12)) job.max_attempts = static_cast<std::uint32_t>(*max_attempts);
    job.attempts = static_cast<std::uint32_t>(row.int64(13));
    job.attempts_since_retry = static_cast<std::uint32_t>(row.int64(14));
    job.lost = static_cast<std::uint32_t>(row.int64(15));
    job.result = row.optional_bytes(16);
    job.error = row.optional_bytes(17);
    if (auto percent = row.optional_real(18)) job.progress = model::Progress{*percent, row.bytes(19)};
    const auto attempt_id = row.optional_int64(20);
    const auto holder = row.optional_bytes(21);
    const auto lease_expires_at = row.optional_int64(22);
    if (job.state == model::JobState::active && attempt_id && holder && lease_expires_at) {
        job.lease = model::Lease{*holder, from_millis(*lease_expires_at), *attempt_id};
    }
    job.cancel_requested = row.int64(23) != 0;
    job.schedule = row.bytes(24);
    return job;
}

// Which of waiting and delayed candidates runs first: priority, then FIFO by run_at and id.
struct Candidate {
    model::JobId id = 0;
    std::string queue;
    std::int64_t priority = 0;
    std::int64_t run_at = 0;
    std::optional<std::int64_t> expires_at;
    std::int64_t attempts = 0;

    bool before(const Candidate& other) const
    {
        if (priority != other.priority) return priority > other.priority;
        if (run_at != other.run_at) return run_at < other.run_at;
        return id < other.id;
    }
};

// The next row of k_waiting_in_order or k_delayed_below_in_order whose task `allowance` allows,
// or nullopt when the rows run out first.
std::optional<Candidate> next_allowed(Query& row, const QueueAllowance& allowance)
{
    while (row.step()) {
        if (allowance.tasks.empty() || model::task_allowed(allowance.tasks, row.bytes(5))) {
            return Candidate{row.int64(0), allowance.queue, row.int64(1), row.int64(2), row.optional_int64(3),
                             row.int64(4)};
        }
    }
    return std::nullopt;
}

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

    model::JobId enqueue(const model::NewJob& job, model::TimePoint now) override
    {
        return serialized("enqueueing a job", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const model::JobId id = insert_job(job, now);
            transaction.commit();
            return id;
        });
    }

    std::optional<Claim> claim(const std::vector<QueueAllowance>& queues, const std::string& holder, model::Duration lease,
                               model::TimePoint now) override
    {
        return serialized("claiming a job", [&]() -> std::optional<Claim> {
            Transaction transaction(m_db, TransactionKind::write);
            auto claimed = claim_in_transaction(queues, holder, lease, now);
            transaction.commit();  // also keeps the expired jobs found on the way
            return claimed;
        });
    }

    FinishAndClaim finish_and_claim(const model::AttemptRecord& attempt, const Transition& transition, model::TimePoint now,
                                    const std::vector<QueueAllowance>& queues, const std::string& holder, model::Duration lease) override
    {
        return serialized("finishing an attempt", [&] {
            FinishAndClaim result;
            Transaction transaction(m_db, TransactionKind::write);
            result.applied = end_attempt_in_transaction(attempt, transition, now);
            // The claim may fail on its own (a corrupt page, a full disk) without taking the
            // finished attempt with it: it runs inside a savepoint.
            run("SAVEPOINT claim");
            try {
                result.claim = claim_in_transaction(queues, holder, lease, now);
                run("RELEASE claim");
            } catch (const std::exception& e) {
                result.claim.reset();
                result.claim_error = std::string("claiming a job: ") + e.what();
                if (!m_db.in_transaction()) throw;  // SQLite rolled it all back: nothing was finished
                run("ROLLBACK TO claim");
                run("RELEASE claim");
                m_db.forget_failure();
            }
            transaction.commit();
            return result;
        });
    }

    bool renew(model::JobId job, model::AttemptId attempt, model::TimePoint expires_at) override
    {
        return serialized("renewing a lease", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const auto changed =
                run("UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND state = 'active' AND attempt_id = ?",
                    to_millis(expires_at), job, attempt);
            transaction.commit();
            return changed == 1;
        });
    }

    bool set_progress(model::JobId job, model::AttemptId attempt, const model::Progress& progress) override
    {
        return serialized("recording progress", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const auto changed = run("UPDATE jobs SET progress_percent = ?, progress_message = ? "
                                     "WHERE id = ? AND state = 'active' AND attempt_id = ?",
                                     progress.percent, Blob{progress.message}, job, attempt);
            transaction.commit();
            return changed == 1;
        });
    }

    std::optional<model::JobState> finish(const model::AttemptRecord& attempt, const Transition& transition,
                                          model::TimePoint now) override
    {
        return serialized("finishing an attempt", [&] { return end_attempt(attempt, transition, now); });
    }

    std::vector<LostAttempt> lost_attempts(const std::string& host_name, const std::string& holder,
                                           model::TimePoint now) override
    {
        return serialized("looking for lost attempts", [&] {
            Transaction transaction(m_db, TransactionKind::read);
            const std::string prefix = host_name + "/";
            static const std::string sql =
                k_select_jobs +
                "WHERE state = 'active' AND (lease_expires_at < ? OR "
                "(substr(lease_holder, 1, length(?)) = ? AND lease_holder <> ?)) ORDER BY id";
            std::vector<model::Job> jobs = select_jobs(sql, to_millis(now), prefix, prefix, holder);
            transaction.commit();
            std::vector<LostAttempt> lost;
            for (auto& job : jobs) {
                if (!job.lease) continue;
                const model::AttemptId attempt_id = job.lease->attempt_id;
                // A claim numbers its attempt attempts + 1 and counts it: the running attempt's
                // number is the job's count.
                const std::uint32_t number = job.attempts;
                lost.push_back(LostAttempt{std::move(job), attempt_id, number});
            }
            return lost;
        });
    }

    std::optional<model::JobState> recover(const model::AttemptRecord& attempt, const Transition& transition,
                                           model::TimePoint now) override
    {
        return serialized("recovering a lost attempt", [&] { return end_attempt(attempt, transition, now); });
    }

    std::vector<model::JobId> cancel_requests(const std::string& holder) override
    {
        return serialized("reading cancel requests", [&] {
            return ints("SELECT id FROM jobs WHERE state = 'active' AND cancel_requested = 1 AND lease_holder = ? "
                        "ORDER BY id",
                        holder);
        });
    }

    CancelResult cancel(model::JobId job, model::TimePoint now) override
    {
        return serialized("cancelling a job", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const auto state = state_of(job);
            if (!state) return CancelResult::not_found;
            if (model::is_final(*state)) return CancelResult::already_final;
            if (*state == model::JobState::active) {
                run("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?", to_millis(now), job);
                transaction.commit();
                return CancelResult::requested;
            }
            run("UPDATE jobs SET state = 'cancelled', updated_at = ? WHERE id = ?", to_millis(now), job);
            kill_dependents(job, model::JobState::cancelled, now);
            transaction.commit();
            return CancelResult::cancelled;
        });
    }

    bool retry(model::JobId job, model::TimePoint now) override
    {
        return serialized("retrying a job", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const auto state = state_of(job);
            if (!state) throw StoreRequestError("no job " + std::to_string(job));
            if (*state != model::JobState::dead && *state != model::JobState::cancelled) return false;
            const std::vector<model::JobId> dependencies = dependencies_of(job);
            const auto states = states_of(dependencies);
            bool all_completed = true;
            for (model::JobId dependency : dependencies) {
                const auto found = states.find(dependency);
                if (found == states.end()) {
                    throw StoreRequestError("job " + std::to_string(job) + " cannot run again: its dependency " +
                                            std::to_string(dependency) + " was purged");
                }
                if (found->second == model::JobState::dead || found->second == model::JobState::cancelled) {
                    throw StoreRequestError("job " + std::to_string(job) + " cannot run again while its " +
                                            dependency_error(dependency, found->second) + "; retry that job first");
                }
                if (found->second != model::JobState::completed) all_completed = false;
            }
            run("UPDATE jobs SET state = ?, run_at = ?, "
                "expires_at = CASE WHEN ttl_ms IS NULL THEN NULL ELSE ? + ttl_ms END, "
                "attempts_since_retry = 0, lost = 0, error = NULL, result = NULL, cancel_requested = 0, "
                "progress_percent = NULL, progress_message = NULL, updated_at = ? WHERE id = ?",
                all_completed ? "waiting" : "blocked", to_millis(now), to_millis(now), to_millis(now), job);
            transaction.commit();
            return true;
        });
    }

    std::size_t expire(model::TimePoint now) override
    {
        return serialized("expiring jobs", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            static const std::string sql =
                "SELECT id FROM jobs INDEXED BY jobs_expiring WHERE expires_at <= ? AND state IN " + k_not_started +
                " ORDER BY id";
            std::size_t expired = 0;
            for (model::JobId id : ints(sql, to_millis(now))) {
                if (make_dead(id, k_expired, now)) ++expired;
            }
            transaction.commit();
            return expired;
        });
    }

    std::optional<model::Job> get(model::JobId job) override
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

    std::vector<model::AttemptRecord> attempts(model::JobId job) override
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

    std::vector<model::Job> list(const JobFilter& filter) override
    {
        return serialized("listing jobs", [&] {
            Transaction transaction(m_db, TransactionKind::read);
            std::string sql = k_select_jobs + "WHERE 1 = 1";
            if (filter.queue) sql += " AND queue = ?";
            if (filter.state) sql += " AND state = ?";
            // limit 0: no limit.
            sql += " ORDER BY id DESC LIMIT ?";
            std::vector<model::Job> jobs;
            {
                Query row = m_db.query(sql);
                if (filter.queue) row.bind(*filter.queue);
                if (filter.state) row.bind(to_string(*filter.state));
                row.bind(filter.limit == 0 ? std::int64_t(-1) : static_cast<std::int64_t>(filter.limit));
                while (row.step()) jobs.push_back(job_from_row(row));
            }
            load_dependencies(jobs);
            return jobs;
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
            return counts;
        });
    }

    std::map<model::JobId, std::string> results(const std::vector<model::JobId>& jobs) override
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

    void set_paused(const std::string& queue, bool paused) override
    {
        serialized("pausing or resuming a queue", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            run(paused ? "INSERT OR IGNORE INTO paused_queues (queue) VALUES (?)"
                       : "DELETE FROM paused_queues WHERE queue = ?",
                queue);
            transaction.commit();
        });
    }

    std::vector<std::string> paused_queues() override
    {
        return serialized("reading paused queues",
                          [&] { return texts("SELECT queue FROM paused_queues ORDER BY queue"); });
    }

    std::optional<model::JobId> fire_schedule(const std::string& name, model::TimePoint fire_time, const model::NewJob& job,
                                       model::TimePoint now) override
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

    std::size_t purge(model::JobState state, model::TimePoint older_than) override
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
            if (!ids.empty()) {
                const std::string doomed = json_ids(ids);
                run("DELETE FROM attempts WHERE job_id IN (SELECT value FROM json_each(?))", doomed);
                run("DELETE FROM job_dependencies WHERE job_id IN (SELECT value FROM json_each(?))", doomed);
                run("DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))", doomed);
            }
            transaction.commit();
            return ids.size();
        });
    }

    std::vector<std::pair<std::string, std::string>> unclaimable_tasks(const std::vector<QueueAllowance>& queues) override
    {
        return serialized("looking for tasks no allowance takes", [&] {
            Transaction transaction(m_db, TransactionKind::read);
            std::vector<std::pair<std::string, std::string>> out;
            std::set<std::string> seen;
            for (const auto& allowance : queues) {
                // As a claim reads them: the first allowance of a queue counts.
                if (!seen.insert(allowance.queue).second || allowance.tasks.empty()) continue;
                for (auto& task : texts("SELECT DISTINCT task FROM jobs INDEXED BY jobs_by_queue_state "
                                        "WHERE queue = ? AND state IN ('waiting', 'delayed') ORDER BY task",
                                        allowance.queue)) {
                    if (!model::task_allowed(allowance.tasks, task)) out.emplace_back(allowance.queue, std::move(task));
                }
            }
            transaction.commit();
            return out;
        });
    }

    bool register_host(const std::string& host_name, const std::string& holder, model::TimePoint now,
                       model::Duration stale_after) override
    {
        return serialized("registering the host", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            {
                Query row = m_db.query("SELECT holder, heartbeat_at, stopped_at IS NULL FROM hosts WHERE name = ?");
                row.bind(host_name);
                if (row.step() && row.bytes(0) != holder && row.int64(2) != 0 &&
                    to_millis(now) - row.int64(1) < stale_after.count()) {
                    return false;
                }
            }
            start_host(host_name, holder, now);
            transaction.commit();
            return true;
        });
    }

    void take_over_host(const std::string& host_name, const std::string& holder, model::TimePoint now) override
    {
        serialized("taking over the host registration", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            start_host(host_name, holder, now);
            transaction.commit();
        });
    }

    std::optional<std::pair<std::string, model::TimePoint>> host_registration(const std::string& host_name) override
    {
        return serialized("reading the host registration", [&]() -> std::optional<std::pair<std::string, model::TimePoint>> {
            Query row = m_db.query("SELECT holder, heartbeat_at FROM hosts WHERE name = ?");
            row.bind(host_name);
            if (!row.step()) return std::nullopt;
            return std::make_pair(row.bytes(0), from_millis(row.int64(1)));
        });
    }

    bool publish_host(const std::string& host_name, const std::string& holder, const std::string& version,
                      const std::vector<model::ServedQueue>& queues, const model::PluginCatalog& catalog,
                      model::TimePoint now) override
    {
        return serialized("publishing the host's catalog", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const auto changed = run("UPDATE hosts SET version = ?, queues = ?, catalog = ?, catalog_at = ? "
                                     "WHERE name = ? AND holder = ? AND stopped_at IS NULL",
                                     version, model::to_json(queues), model::to_json(catalog), to_millis(now),
                                     host_name, holder);
            transaction.commit();
            return changed == 1;
        });
    }

    bool heartbeat(const std::string& host_name, const std::string& holder, const model::HostStatus& status,
                   model::TimePoint now) override
    {
        return serialized("recording the host's heartbeat", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            const auto changed = run("UPDATE hosts SET heartbeat_at = ?, status = ? "
                                     "WHERE name = ? AND holder = ? AND stopped_at IS NULL",
                                     to_millis(now), model::to_json(status), host_name, holder);
            transaction.commit();
            return changed == 1;
        });
    }

    void unregister_host(const std::string& host_name, const std::string& holder, model::TimePoint now) override
    {
        serialized("unregistering the host", [&] {
            Transaction transaction(m_db, TransactionKind::write);
            run("UPDATE hosts SET stopped_at = ?, status = NULL WHERE name = ? AND holder = ? AND stopped_at IS NULL",
                to_millis(now), host_name, holder);
            transaction.commit();
        });
    }

    std::vector<model::HostRecord> hosts() override
    {
        return serialized("reading the host records", [&] {
            std::vector<model::HostRecord> records;
            Query row = m_db.query("SELECT name, holder, version, started_at, heartbeat_at, stopped_at, queues, "
                                   "catalog, catalog_at, status FROM hosts ORDER BY name");
            while (row.step()) records.push_back(host_from_row(row));
            return records;
        });
    }

    std::optional<model::TimePoint> schedule_last_fire(const std::string& name) override
    {
        return serialized("reading a schedule", [&]() -> std::optional<model::TimePoint> {
            const auto last = first_int("SELECT last_fire_time FROM schedules WHERE name = ?", name);
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

    // Runs `sql` with `values` to its end; the rows it changed.
    template <class... Values>
    std::size_t run(std::string_view sql, const Values&... values)
    {
        Query statement = m_db.query(sql);
        statement.bind(values...);
        return statement.run();
    }

    // The first column of the first row; nullopt when there is no row or it is NULL.
    template <class... Values>
    std::optional<std::int64_t> first_int(std::string_view sql, const Values&... values)
    {
        Query row = m_db.query(sql);
        row.bind(values...);
        if (!row.step()) return std::nullopt;
        return row.optional_int64(0);
    }

    // The first column of every row. Read whole before the caller changes anything.
    template <class... Values>
    std::vector<std::int64_t> ints(std::string_view sql, const Values&... values)
    {
        std::vector<std::int64_t> out;
        Query row = m_db.query(sql);
        row.bind(values...);
        while (row.step()) out.push_back(row.int64(0));
        return out;
    }

    template <class... Values>
    std::vector<std::string> texts(std::string_view sql, const Values&... values)
    {
        std::vector<std::string> out;
        Query row = m_db.query(sql);
        row.bind(values...);
        while (row.step()) out.push_back(row.bytes(0));
        return out;
    }

    // `sql` selects k_job_columns.
    template <class... Values>
    std::vector<model::Job> select_jobs(std::string_view sql, const Values&... values)
    {
        std::vector<model::Job> jobs;
        {
            Query row = m_db.query(sql);
            row.bind(values...);
            while (row.step()) jobs.push_back(job_from_row(row));
        }
        load_dependencies(jobs);
        return jobs;
    }

    void load_dependencies(std::vector<model::Job>& jobs)
    {
        if (jobs.size() == 1) {
            jobs.front().depends_on = dependencies_of(jobs.front().id);
            return;
        }
        if (jobs.empty()) return;
        std::vector<model::JobId> ids;
        for (const auto& job : jobs) ids.push_back(job.id);
        std::map<model::JobId, std::vector<model::JobId>> by_job;
        {
            Query row = m_db.query("SELECT job_id, depends_on FROM job_dependencies "
                                   "WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY job_id, position");
            row.bind(json_ids(ids));
            while (row.step()) by_job[row.int64(0)].push_back(row.int64(1));
        }
        for (auto& job : jobs) {
            if (auto found = by_job.find(job.id); found != by_job.end()) job.depends_on = found->second;
        }
    }

    // Inside a write transaction: `holder` is the host's running instance from now on. What
    // the previous instance published stays until this one publishes; what it ran does not.
    void start_host(const std::string& host_name, const std::string& holder, model::TimePoint now)
    {
        run("INSERT INTO hosts (name, holder, started_at, heartbeat_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, started_at = excluded.started_at, "
            "heartbeat_at = excluded.heartbeat_at, stopped_at = NULL, status = NULL",
            host_name, holder, to_millis(now), to_millis(now));
    }

    // A row of hosts(). The JSON columns were written by the store; one that does not read is
    // a StoreError rather than a host that seems to serve nothing.
    model::HostRecord host_from_row(const Query& row) const
    {
        model::HostRecord host;
        host.name = row.bytes(0);
        host.holder = row.bytes(1);
        host.version = row.bytes(2);
        host.started_at = from_millis(row.int64(3));
        host.heartbeat_at = from_millis(row.int64(4));
        if (auto stopped_at = row.optional_int64(5)) host.stopped_at = from_millis(*stopped_at);
        auto unreadable = [&](const char* what) {
            return StoreError(m_db.file().string() + ": the " + what + " of host " + host.name +
                              " in the store cannot be read");
        };
        if (auto queues = row.optional_bytes(6)) {
            auto decoded = model::served_queues_from_json(*queues);
            if (!decoded) throw unreadable("served queues");
            host.queues = std::move(*decoded);
        }
        if (auto catalog = row.optional_bytes(7)) {
            auto decoded = model::catalog_from_json(*catalog);
            if (!decoded) throw unreadable("plugin catalog");
            host.catalog = std::move(*decoded);
        }
        if (auto catalog_at = row.optional_int64(8)) host.catalog_at = from_millis(*catalog_at);
        if (auto status = row.optional_bytes(9)) {
            auto decoded = model::host_status_from_json(*status);
            if (!decoded) throw unreadable("status");
            host.status = std::move(*decoded);
        }
        return host;
    }

    std::optional<model::JobState> state_of(model::JobId job)
    {
        Query row = m_db.query("SELECT state FROM jobs WHERE id = ?");
        row.bind(job);
        if (!row.step()) return std::nullopt;
        return model::job_state_from_string(row.bytes(0));
    }

    std::map<model::JobId, model::JobState> states_of(const std::vector<model::JobId>& jobs)
    {
        std::map<model::JobId, model::JobState> out;
        if (jobs.empty()) return out;
        Query row = m_db.query("SELECT id, state FROM jobs WHERE id IN (SELECT value FROM json_each(?))");
        row.bind(json_ids(jobs));
        while (row.step()) {
            if (auto state = model::job_state_from_string(row.bytes(1))) out[row.int64(0)] = *state;
        }
        return out;
    }

    std::vector<model::JobId> dependencies_of(model::JobId job)
    {
        return ints("SELECT depends_on FROM job_dependencies WHERE job_id = ? ORDER BY position", job);
    }

    // Inside a write transaction.
    model::JobId insert_job(const model::NewJob& job, model::TimePoint now)
    {
        const std::vector<model::JobId> dependencies = without_duplicates(job.depends_on);
        const auto states = states_of(dependencies);
        std::vector<model::JobId> unknown;
        for (model::JobId dependency : dependencies) {
            if (!states.count(dependency)) unknown.push_back(dependency);
        }
        if (!unknown.empty()) {
            throw StoreRequestError(
                (unknown.size() == 1 ? "unknown dependency: no job " : "unknown dependencies: no jobs ") +
                joined(unknown) + "; nothing was enqueued");
        }
        model::JobState state = model::JobState::waiting;
        std::optional<std::string> error;
        for (model::JobId dependency : dependencies) {
            const model::JobState dependency_state = states.at(dependency);
            if (dependency_state == model::JobState::dead || dependency_state == model::JobState::cancelled) {
                state = model::JobState::dead;
                error = dependency_error(dependency, dependency_state);
                break;
            }
            if (dependency_state != model::JobState::completed) state = model::JobState::blocked;
        }
        const model::Duration delay = std::max(job.delay.value_or(model::Duration(0)), model::Duration(0));
        if (state == model::JobState::waiting && delay > model::Duration(0)) state = model::JobState::delayed;
        std::optional<std::int64_t> expires_at;
        if (job.ttl) expires_at = to_millis(now + *job.ttl);
        std::optional<std::int64_t> ttl_ms;
        if (job.ttl) ttl_ms = job.ttl->count();
        std::optional<std::int64_t> timeout_ms;
        if (job.timeout) timeout_ms = job.timeout->count();

        run("INSERT INTO jobs (queue, task, payload, priority, state, created_at, updated_at, run_at, ttl_ms, "
            "expires_at, timeout_ms, max_attempts, error, schedule) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            job.queue, job.task, Blob{job.payload}, job.priority, to_string(state), to_millis(now), to_millis(now),
            to_millis(now + delay), ttl_ms, expires_at, timeout_ms, job.max_attempts, optional_blob(error),
            job.schedule);
        const model::JobId id = m_db.last_insert_id();
        for (std::size_t i = 0; i < dependencies.size(); ++i) {
            run("INSERT INTO job_dependencies (job_id, depends_on, position) VALUES (?, ?, ?)", id, dependencies[i],
                i);
        }
        return id;
    }

    // The queues among `queues` a claim may take from now: not paused, not over their rate.
    // A queue named twice is claimed from as the first allowance says.
    std::vector<const QueueAllowance*> claimable_queues(const std::vector<QueueAllowance>& queues, model::TimePoint now)
    {
        const auto paused_list = texts("SELECT queue FROM paused_queues");
        const std::set<std::string> paused(paused_list.begin(), paused_list.end());
        std::set<std::string> seen;
        std::vector<const QueueAllowance*> eligible;
        for (const auto& allowance : queues) {
            if (!seen.insert(allowance.queue).second || paused.count(allowance.queue)) continue;
            if (allowance.rate_jobs && allowance.rate_per) {
                // Attempts started in the last `per` (now - per, now], and any a host with a
                // clock ahead of ours started "later": the window never lets a burst through.
                const auto limit = static_cast<std::int64_t>(
                    std::min<std::uint64_t>(*allowance.rate_jobs, std::numeric_limits<std::int64_t>::max()));
                const auto started = first_int(k_started_in_window, allowance.queue,
                                               to_millis(now - *allowance.rate_per), limit)
                                         .value_or(0);
                if (started >= limit) continue;
            }
            eligible.push_back(&allowance);
        }
        return eligible;
    }

    std::optional<Candidate> best_candidate(const std::vector<const QueueAllowance*>& queues, model::TimePoint now)
    {
        const std::int64_t now_ms = to_millis(now);
        std::optional<Candidate> best;
        for (const QueueAllowance* allowance : queues) {
            {
                Query row = m_db.query(k_waiting_in_order);
                row.bind(allowance->queue);
                if (auto waiting = next_allowed(row, *allowance)) {
                    if (!best || waiting->before(*best)) best = std::move(waiting);
                }
            }
            // The delayed jobs of this queue, priority by priority from the highest, only as
            // far as one could still run before the best candidate so far.
            std::int64_t below = std::numeric_limits<std::int64_t>::max();
            while (true) {
                Query row = m_db.query(k_delayed_below_in_order);
                row.bind(allowance->queue, below);
                auto delayed = next_allowed(row, *allowance);
                if (!delayed || (best && !delayed->before(*best))) break;
                if (delayed->run_at <= now_ms) {
                    best = std::move(delayed);
                    break;
                }
                below = delayed->priority;
            }
        }
        return best;
    }

    // Inside a write transaction: `candidate` is runnable; start its next attempt.
    Claim take(const Candidate& candidate, const std::string& holder, model::Duration lease, model::TimePoint now)
    {
        const model::JobId id = candidate.id;
        const std::int64_t number = candidate.attempts + 1;
        run("INSERT INTO attempts (job_id, queue, number, host, started_at) VALUES (?, ?, ?, ?, ?)", id,
            candidate.queue, number, holder, to_millis(now));
        const model::AttemptId attempt_id = m_db.last_insert_id();
        run("UPDATE jobs SET state = 'active', attempts = attempts + 1, "
            "attempts_since_retry = attempts_since_retry + 1, attempt_id = ?, lease_holder = ?, "
            "lease_expires_at = ?, progress_percent = NULL, progress_message = NULL, cancel_requested = 0, "
            "updated_at = ? WHERE id = ?",
            attempt_id, holder, to_millis(now + lease), to_millis(now), id);
        // Read back rather than with UPDATE ... RETURNING, which costs more than this read:
        // SQLite collects the returned rows in a temporary table it opens on every run.
        static const std::string sql = k_select_jobs + "WHERE id = ?";
        auto jobs = select_jobs(sql, id);
        if (jobs.empty()) {
            throw StoreError(m_db.file().string() + ": job " + std::to_string(id) + " vanished while it was claimed");
        }
        return Claim{std::move(jobs.front()), attempt_id, static_cast<std::uint32_t>(number)};
    }

    // Inside a write transaction: the next runnable job (see claim), taken.
    std::optional<Claim> claim_in_transaction(const std::vector<QueueAllowance>& queues, const std::string& holder, model::Duration lease,
                                              model::TimePoint now)
    {
        const std::vector<const QueueAllowance*> eligible = claimable_queues(queues, now);
        while (true) {
            const std::optional<Candidate> best = best_candidate(eligible, now);
            if (!best) return std::nullopt;
            if (best->expires_at && *best->expires_at <= to_millis(now)) {
                make_dead(best->id, k_expired, now);
                continue;
            }
            return take(*best, holder, lease, now);
        }
    }

    // finish and recover: compare-and-set on (job, attempt id, active), then the record, the
    // transition and its cascade in one transaction. The state applied, or nullopt when stale.
    std::optional<model::JobState> end_attempt(const model::AttemptRecord& attempt, const Transition& transition,
                                               model::TimePoint now)
    {
        Transaction transaction(m_db, TransactionKind::write);
        const auto applied = end_attempt_in_transaction(attempt, transition, now);
        if (applied) transaction.commit();
        return applied;
    }

    std::optional<model::JobState> end_attempt_in_transaction(const model::AttemptRecord& attempt,
                                                               const Transition& transition, model::TimePoint now)
    {
        switch (transition.next) {
        case model::JobState::completed:
        case model::JobState::waiting:
        case model::JobState::delayed:
        case model::JobState::dead:
        case model::JobState::cancelled:
            break;
        default:
            throw StoreRequestError(std::string("an attempt cannot leave its job ") + to_string(transition.next));
        }
        std::optional<std::string> holder;
        bool cancel_requested = false;
        {
            Query row = m_db.query("SELECT lease_holder, cancel_requested FROM jobs "
                                   "WHERE id = ? AND state = 'active' AND attempt_id = ?");
            row.bind(attempt.job_id, attempt.attempt_id);
            if (!row.step()) return std::nullopt;  // stale: another attempt holds the job, or none does
            holder = row.optional_bytes(0);
            cancel_requested = row.int64(1) != 0;
        }
        model::JobState next = transition.next;
        // A cancel request outlives the attempt it interrupted: the job does not run again.
        if (cancel_requested && (next == model::JobState::waiting || next == model::JobState::delayed)) next = model::JobState::cancelled;

        const bool completed = next == model::JobState::completed;
        const auto& outcome = attempt.outcome;
        // The result the job keeps is not stored a second time in the attempt.
        const bool result_in_job = completed && transition.result && *transition.result == outcome.result;
        const std::optional<std::string> attempt_result =
            result_in_job || outcome.result.empty() ? std::nullopt : std::optional<std::string>(outcome.result);
        const model::TimePoint ended_at = outcome.ended_at.time_since_epoch().count() != 0 ? outcome.ended_at : now;
        const std::string host = attempt.host.empty() && holder ? *holder : attempt.host;
        const std::size_t recorded =
            run("UPDATE attempts SET host = ?, ended_at = ?, outcome = ?, record = ?, result = ?, "
                "result_in_job = ? WHERE attempt_id = ? AND job_id = ?",
                host, to_millis(ended_at), to_string(outcome.kind), Blob{encode_outcome(outcome)},
                optional_blob(attempt_result), result_in_job, attempt.attempt_id, attempt.job_id);
        if (recorded != 1) {
            // The claim wrote this row in the same transaction as the lease; a store where it
            // is missing was edited behind our back. Refuse rather than lose the record.
            throw StoreError(m_db.file().string() + ": attempt " + std::to_string(attempt.attempt_id) + " of job " +
                             std::to_string(attempt.job_id) + " holds the lease but has no attempt row");
        }

        const bool runs_again = next == model::JobState::waiting || next == model::JobState::delayed;
        run("UPDATE jobs SET state = ?, run_at = CASE WHEN ? THEN ? ELSE run_at END, result = ?, "
            "error = CASE WHEN ? THEN ? WHEN ? THEN NULL ELSE error END, lost = lost + ?, "
            "attempts_since_retry = max(attempts_since_retry - ?, 0), attempt_id = NULL, lease_holder = NULL, "
            "lease_expires_at = NULL, cancel_requested = 0, updated_at = ? WHERE id = ?",
            to_string(next), runs_again, to_millis(transition.run_at.value_or(now)),
            optional_blob(completed ? transition.result : std::nullopt), transition.error.has_value(),
            optional_blob(transition.error), completed, transition.counts_as_lost, transition.refund_attempt,
            to_millis(now), attempt.job_id);
        if (completed) unblock_dependents(attempt.job_id, now);
        if (next == model::JobState::dead || next == model::JobState::cancelled) kill_dependents(attempt.job_id, next, now);
        return next;
    }

    // Inside a write transaction: a job not started yet becomes dead, and so do its blocked
    // dependents. false when it had started or ended meanwhile.
    bool make_dead(model::JobId job, const std::string& error, model::TimePoint now)
    {
        static const std::string sql =
            "UPDATE jobs SET state = 'dead', error = ?, updated_at = ? WHERE id = ? AND state IN " + k_not_started;
        if (run(sql, Blob{error}, to_millis(now), job) == 0) return false;
        kill_dependents(job, model::JobState::dead, now);
        return true;
    }

    // Inside a write transaction: `job` became dead or cancelled; its blocked dependents can
    // never run, nor theirs.
    void kill_dependents(model::JobId job, model::JobState why, model::TimePoint now)
    {
        std::vector<std::pair<model::JobId, model::JobState>> pending{{job, why}};
        while (!pending.empty()) {
            const auto [ended, state] = pending.back();
            pending.pop_back();
            const auto dependents = ints("SELECT d.job_id FROM job_dependencies d JOIN jobs j ON j.id = d.job_id "
                                         "WHERE d.depends_on = ? AND j.state = 'blocked' ORDER BY d.job_id",
                                         ended);
            for (model::JobId dependent : dependents) {
                run("UPDATE jobs SET state = 'dead', error = ?, updated_at = ? WHERE id = ? AND state = 'blocked'",
                    Blob{dependency_error(ended, state)}, to_millis(now), dependent);
                pending.emplace_back(dependent, model::JobState::dead);
            }
        }
    }

    // Inside a write transaction: `job` completed; dependents whose dependencies have all
    // completed may run (delayed when their own delay has not passed yet).
    void unblock_dependents(model::JobId job, model::TimePoint now)
    {
        // Most jobs have no dependents: one index probe instead of the UPDATE's subqueries.
        if (!first_int("SELECT 1 FROM job_dependencies WHERE depends_on = ? LIMIT 1", job)) return;
        run("UPDATE jobs SET state = CASE WHEN run_at > ? THEN 'delayed' ELSE 'waiting' END, updated_at = ? "
            "WHERE state = 'blocked' AND id IN (SELECT job_id FROM job_dependencies WHERE depends_on = ?) "
            "AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on "
            "WHERE d.job_id = jobs.id AND j.state <> 'completed')",
            to_millis(now), to_millis(now), job);
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
