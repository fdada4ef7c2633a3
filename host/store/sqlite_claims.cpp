// Which job runs next: claims, in priority and FIFO order, of the tasks the claimer may run.
#include "store/sqlite_store_impl.h"

#include <algorithm>
#include <limits>
#include <set>

namespace sandhost::store::sqlite {

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

namespace {

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
// Global concurrency: the active jobs of a queue, whoever holds them, counted no further than
// the limit.
constexpr const char* k_active_in_queue =
    "SELECT count(*) FROM (SELECT 1 FROM jobs INDEXED BY jobs_by_queue_state WHERE queue = ? AND state = 'active' LIMIT ?)";

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

} // namespace

std::optional<Claim> SqliteStore::claim(const std::vector<QueueAllowance>& queues, const std::string& holder,
                                        model::Duration lease, model::TimePoint now)
{
    return serialized("claiming a job", [&]() -> std::optional<Claim> {
        Transaction transaction(m_db, TransactionKind::write);
        auto claimed = claim_in_transaction(queues, holder, lease, now);
        transaction.commit();  // also keeps the expired jobs found on the way
        return claimed;
    });
}

std::vector<Claim> SqliteStore::claim_batch(const std::vector<QueueAllowance>& queues, const std::string& holder,
                                            model::Duration lease, model::TimePoint now, std::size_t max)
{
    return serialized("claiming jobs", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        auto claimed = claims_in_transaction(queues, holder, lease, now, max);
        transaction.commit();
        return claimed;
    });
}

std::vector<Claim> SqliteStore::claims_in_transaction(const std::vector<QueueAllowance>& queues, const std::string& holder,
                                                      model::Duration lease, model::TimePoint now, std::size_t max)
{
    // Each claim reads the limits again: the rate and global_concurrency counts see the
    // attempts this transaction started.
    return claim_in_turn(queues, max, [&](const std::vector<QueueAllowance>& open) {
        return claim_in_transaction(open, holder, lease, now);
    });
}

std::vector<std::pair<std::string, std::string>> SqliteStore::unclaimable_tasks(const std::vector<QueueAllowance>& queues)
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

std::optional<Claim> SqliteStore::claim_in_transaction(const std::vector<QueueAllowance>& queues,
                                                       const std::string& holder, model::Duration lease,
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

std::vector<const QueueAllowance*> SqliteStore::claimable_queues(const std::vector<QueueAllowance>& queues,
                                                                 model::TimePoint now)
{
    const std::set<std::string>& paused = paused_queue_set();
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
        if (allowance.global_concurrency) {
            const std::int64_t limit = *allowance.global_concurrency;
            if (first_int(k_active_in_queue, allowance.queue, limit).value_or(0) >= limit) continue;
        }
        eligible.push_back(&allowance);
    }
    return eligible;
}

std::optional<Candidate> SqliteStore::best_candidate(const std::vector<const QueueAllowance*>& queues,
                                                     model::TimePoint now)
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

Claim SqliteStore::take(const Candidate& candidate, const std::string& holder, model::Duration lease,
                        model::TimePoint now)
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
    job_event(EventType::job_started, id, now, JobEventFacts{holder, true, {}});
    // Read back rather than with UPDATE ... RETURNING, which costs more than this read:
    // SQLite collects the returned rows in a temporary table it opens on every run.
    static const std::string sql = k_select_jobs + "WHERE id = ?";
    auto jobs = select_jobs(sql, id);
    if (jobs.empty()) {
        throw StoreError(m_db.file().string() + ": job " + std::to_string(id) + " vanished while it was claimed");
    }
    return Claim{std::move(jobs.front()), attempt_id, static_cast<std::uint32_t>(number)};
}

} // namespace sandhost::store::sqlite
