// The SQLite store (sqlite_store.h) as a class, for the files that implement it, one concern
// each: sqlite_store.cpp (opening, reading jobs), sqlite_jobs.cpp (enqueue, the end of an
// attempt), sqlite_claims.cpp (which job runs next), sqlite_dependencies.cpp (what a job's
// end does to its dependents), sqlite_leases.cpp (running attempts, cancel, retry, expiry),
// sqlite_queries.cpp (reading jobs and queues, pauses, purges), sqlite_schedules.cpp and
// sqlite_hosts.cpp. Internal to the store.
//
// Every statement is prepared once per connection: the SQL texts are fixed (list builds one of
// sixteen, one per combination of its filters), with values as parameters.
#pragma once

#include "store/sqlite_connection.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_statement.h"
#include "store/sqlite_store.h"
#include "store/store.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandhost::store::sqlite {

// SELECT k_select_jobs ... reads the columns job_from_row reads, in its order.
extern const std::string k_select_jobs;
// The error of a job that expired before it started.
extern const std::string k_expired;

// A row of k_select_jobs, without its dependencies (see SqliteStore::load_dependencies).
model::Job job_from_row(const Query& row);

// A JSON array of ids, for `IN (SELECT value FROM json_each(?))`: one bound parameter
// however many ids there are.
std::string json_ids(const std::vector<model::JobId>& ids);

// Why a job that depends on `dependency`, now in `state` (dead or cancelled), cannot run.
std::string dependency_error(model::JobId dependency, model::JobState state);

// A job a claim may take (sqlite_claims.cpp).
struct Candidate;

// The kinds of Event::type (sqlite_events.cpp).
enum class EventType { job_enqueued, job_started, job_progress, job_finished, queue_paused, queue_resumed, host_up, host_gone, store_restored, store_copied };
const char* to_string(EventType type);

// What a job's event says beyond the job as the change left it (its queue, task and state).
struct JobEventFacts {
    std::optional<std::string> host;  // nullopt: the job's lease holder, if it has one
    bool with_attempt = false;        // the event is about the job's latest attempt
    std::string detail;
};

class SqliteStore final : public Store {
public:
    // Opens `file` (see open_sqlite_store): checks, configures and migrates it.
    SqliteStore(std::filesystem::path file, const SqliteOptions& options);

    // sqlite_jobs.cpp
    EnqueueResult enqueue_job(const model::NewJob& job, model::TimePoint now) override;
    std::vector<EnqueueResult> enqueue_jobs(const std::vector<model::NewJob>& jobs, model::TimePoint now) override;
    std::optional<model::JobState> finish(const model::AttemptRecord& attempt, const Transition& transition,
                                          model::TimePoint now) override;
    FinishAndClaim finish_and_claim(const model::AttemptRecord& attempt, const Transition& transition,
                                    model::TimePoint now, const std::vector<QueueAllowance>& queues,
                                    const std::string& holder, model::Duration lease) override;
    FinishBatch finish_batch(const std::vector<Ending>& endings, model::TimePoint now,
                             const std::vector<QueueAllowance>& queues, const std::string& holder,
                             model::Duration lease, std::size_t max_claims) override;

    // sqlite_claims.cpp
    std::optional<Claim> claim(const std::vector<QueueAllowance>& queues, const std::string& holder,
                               model::Duration lease, model::TimePoint now) override;
    std::vector<Claim> claim_batch(const std::vector<QueueAllowance>& queues, const std::string& holder,
                                   model::Duration lease, model::TimePoint now, std::size_t max) override;
    std::vector<std::pair<std::string, std::string>> unclaimable_tasks(const std::vector<QueueAllowance>& queues) override;

    // sqlite_leases.cpp
    bool renew(model::JobId job, model::AttemptId attempt, model::TimePoint expires_at) override;
    bool set_progress(model::JobId job, model::AttemptId attempt, const model::Progress& progress) override;
    std::vector<LostAttempt> lost_attempts(const std::string& host_name, const std::string& holder,
                                           model::TimePoint now) override;
    std::optional<model::JobState> recover(const model::AttemptRecord& attempt, const Transition& transition,
                                           model::TimePoint now) override;
    std::vector<model::JobId> cancel_requests(const std::string& holder) override;
    CancelResult cancel(model::JobId job, model::TimePoint now) override;
    bool retry(model::JobId job, model::TimePoint now) override;
    bool promote(model::JobId job, model::TimePoint now) override;
    std::vector<ActionResult> change_jobs(JobAction action, const std::vector<model::JobId>& jobs, model::TimePoint now) override;
    std::size_t expire(model::TimePoint now) override;

    // sqlite_queries.cpp
    std::optional<model::Job> get(model::JobId job) override;
    std::vector<model::AttemptRecord> attempts(model::JobId job) override;
    std::vector<model::Job> list(const JobFilter& filter) override;
    std::vector<model::JobId> job_ids(const std::string& queue, model::JobState state, const std::optional<std::string>& task,
                                      std::optional<model::TimePoint> changed_since) override;
    std::map<std::string, QueueCounts> queue_counts(const std::vector<std::string>& queues) override;
    std::map<model::JobId, std::string> results(const std::vector<model::JobId>& jobs) override;
    void set_paused(const std::string& queue, bool paused) override;
    std::vector<std::string> paused_queues() override;
    RemoveResult remove(model::JobId job) override;
    std::size_t purge(model::JobState state, model::TimePoint older_than) override;
    std::size_t trim(const std::string& queue, model::JobState state, const model::RetentionLimit& limit,
                     model::TimePoint now, std::size_t batch) override;

    // sqlite_schedules.cpp
    std::optional<model::JobId> fire_schedule(const std::string& name, model::TimePoint fire_time,
                                              const model::NewJob& job, model::TimePoint now) override;
    std::optional<model::TimePoint> schedule_last_fire(const std::string& name) override;

    // sqlite_copy.cpp
    void import_jobs(const std::vector<JobCopy>& jobs, model::TimePoint now) override;
    void import_schedule(const std::string& name, model::TimePoint last_fire) override;
    std::int64_t continue_events(std::int64_t after, const std::string& from, model::TimePoint now) override;

    // sqlite_hosts.cpp
    bool register_host(const std::string& host_name, const std::string& holder, model::TimePoint now,
                       model::Duration stale_after) override;
    void take_over_host(const std::string& host_name, const std::string& holder, model::TimePoint now) override;
    std::optional<std::pair<std::string, model::TimePoint>> host_registration(const std::string& host_name) override;
    bool publish_host(const std::string& host_name, const std::string& holder, const std::string& version,
                      const std::vector<model::ServedQueue>& queues, const model::PluginCatalog& catalog,
                      model::TimePoint now) override;
    bool heartbeat(const std::string& host_name, const std::string& holder, const model::HostStatus& status,
                   model::TimePoint now) override;
    void unregister_host(const std::string& host_name, const std::string& holder, model::TimePoint now) override;
    std::vector<model::HostRecord> hosts() override;

    // sqlite_events.cpp
    std::vector<Event> events_after(std::int64_t after, std::size_t limit) override;

    // sqlite_store.cpp
    std::optional<std::string> vanished() override;
    std::optional<StoreSize> size() override;

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

    // `sql` selects k_select_jobs's columns.
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

    // sqlite_queries.cpp: inside a write transaction, deletes final jobs with their attempts.
    void delete_jobs(const std::vector<std::int64_t>& ids);

    // sqlite_store.cpp
    void load_dependencies(std::vector<model::Job>& jobs);
    std::optional<model::JobState> state_of(model::JobId job);

    // sqlite_jobs.cpp
    // Inside a write transaction.
    model::JobId insert_job(const model::NewJob& job, model::TimePoint now);
    // The key lookup and insert_job, inside the caller's transaction.
    EnqueueResult enqueue_in_transaction(const model::NewJob& job, model::TimePoint now);
    // finish and recover: compare-and-set on (job, attempt id, active), then the record, the
    // transition and its cascade in one transaction. The state applied, or nullopt when stale.
    std::optional<model::JobState> end_attempt(const model::AttemptRecord& attempt, const Transition& transition,
                                               model::TimePoint now);
    // end_attempt inside a write transaction, which it leaves to the caller to commit.
    // The single calls' bodies, inside the caller's write transaction (change_jobs runs many in one).
    CancelResult cancel_in_transaction(model::JobId job, model::TimePoint now);
    bool retry_in_transaction(model::JobId job, model::TimePoint now);
    bool promote_in_transaction(model::JobId job, model::TimePoint now);

    std::optional<model::JobState> end_attempt_in_transaction(const model::AttemptRecord& attempt,
                                                              const Transition& transition, model::TimePoint now);

    // sqlite_claims.cpp
    // Inside a write transaction: the next runnable job (see claim), taken.
    std::optional<Claim> claim_in_transaction(const std::vector<QueueAllowance>& queues, const std::string& holder,
                                              model::Duration lease, model::TimePoint now);
    // Inside a write transaction: up to `max` claims (see claim_batch).
    std::vector<Claim> claims_in_transaction(const std::vector<QueueAllowance>& queues, const std::string& holder,
                                             model::Duration lease, model::TimePoint now, std::size_t max);
    // Inside a write transaction: claims_in_transaction in a savepoint. When the claims fail,
    // says why in `error` and returns none, and the transaction goes on without them (unless
    // SQLite rolled it all back: then it throws).
    std::vector<Claim> claims_in_savepoint(const std::vector<QueueAllowance>& queues, const std::string& holder,
                                           model::Duration lease, model::TimePoint now, std::size_t max,
                                           std::optional<std::string>& error);
    // The queues among `queues` a claim may take from now: not paused, not over their rate.
    // A queue named twice is claimed from as the first allowance says.
    std::vector<const QueueAllowance*> claimable_queues(const std::vector<QueueAllowance>& queues, model::TimePoint now);
    // The job a claim from `queues` takes, due at `now` or not.
    std::optional<Candidate> best_candidate(const std::vector<const QueueAllowance*>& queues, model::TimePoint now);
    // Inside a write transaction: `candidate` is runnable; start its next attempt.
    Claim take(const Candidate& candidate, const std::string& holder, model::Duration lease, model::TimePoint now);

    // sqlite_dependencies.cpp
    std::map<model::JobId, model::JobState> states_of(const std::vector<model::JobId>& jobs);
    std::vector<model::JobId> dependencies_of(model::JobId job);
    // Inside a write transaction: a job not started yet becomes dead, and so do its blocked
    // dependents. false when it had started or ended meanwhile.
    bool make_dead(model::JobId job, const std::string& error, model::TimePoint now);
    // Inside a write transaction: `job` became dead or cancelled; its blocked dependents can
    // never run, nor theirs.
    void kill_dependents(model::JobId job, model::JobState why, model::TimePoint now);
    // Inside a write transaction: `job` completed; dependents whose dependencies have all
    // completed may run (delayed when their own delay has not passed yet).
    void unblock_dependents(model::JobId job, model::TimePoint now);
    // QueueCounts::earliest_due of `queue`, in a read transaction.
    std::optional<model::TimePoint> earliest_due(const std::string& queue);

    // sqlite_events.cpp. Inside a write transaction, after the change they record.
    // An event about `job` as the change left it.
    void job_event(EventType type, model::JobId job, model::TimePoint at, const JobEventFacts& facts = {});
    void progress_event(model::JobId job, model::TimePoint at, double percent);
    // A queue's or a host's event.
    void other_event(EventType type, model::TimePoint at, std::string_view queue, std::string_view host,
                     std::string_view detail = {});
    // Deletes the oldest events now and then (see k_trim_every).
    void trim_events();

    // sqlite_hosts.cpp
    // Inside a write transaction: `holder` is the host's running instance from now on. What
    // the previous instance published stays until this one publishes; what it ran does not.
    void start_host(const std::string& host_name, const std::string& holder, model::TimePoint now);
    // A row of hosts(). The JSON columns were written by the store; one that does not read is
    // a StoreError rather than a host that seems to serve nothing.
    model::HostRecord host_from_row(const Query& row) const;

    // What a transaction reads once instead of once per job, kept while it is open: whether any
    // job depends on another (most stores have no dependencies, and each claim and each finish
    // asked for its job's own), and the paused queues (each claim of a batch asked). Outside a
    // transaction nothing is kept. A change this store makes inside the transaction keeps them
    // true: a dependency inserted sets any_dependencies; pausing is a transaction of its own.
    struct TransactionFacts {
        std::uint64_t serial = 0;  // Connection::transaction_serial() they were read in
        std::optional<bool> any_dependencies;
        std::optional<std::set<std::string>> paused;
    };
    TransactionFacts& transaction_facts();
    // Whether a job may have dependencies or dependents: false only when the open transaction
    // found none in the whole store.
    bool any_dependencies();
    const std::set<std::string>& paused_queue_set();

    std::mutex m_mutex;
    Connection m_db;
    TransactionFacts m_facts;
    // The file this store opened, as (device, inode): another file at the path is not it.
    std::pair<std::uint64_t, std::uint64_t> m_identity{};
};

} // namespace sandhost::store::sqlite
