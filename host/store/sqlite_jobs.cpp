// A job enters the store (enqueue) and an attempt ends (finish, finish_and_claim).
#include "store/sqlite_store_impl.h"

#include "store/attempt_codec.h"

#include <algorithm>
#include <exception>

namespace sandhost::store::sqlite {
namespace {

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

} // namespace

EnqueueResult SqliteStore::enqueue_job(const model::NewJob& job, model::TimePoint now)
{
    return serialized("enqueueing a job", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        const EnqueueResult result = enqueue_in_transaction(job, now);
        transaction.commit();
        return result;
    });
}

std::vector<EnqueueResult> SqliteStore::enqueue_jobs(const std::vector<model::NewJob>& jobs, model::TimePoint now)
{
    check_batch_size(jobs.size());
    if (jobs.empty()) return {};
    return serialized("enqueueing jobs", [&] {
        std::vector<EnqueueResult> results;
        results.reserve(jobs.size());
        // One transaction: a refused job rolls back the ones stored before it.
        Transaction transaction(m_db, TransactionKind::write);
        for (std::size_t i = 0; i < jobs.size(); ++i) {
            try {
                results.push_back(enqueue_in_transaction(jobs[i], now));
            } catch (const StoreRequestError& e) {
                throw StoreRequestError("job " + std::to_string(i) + ": " + e.what());
            }
        }
        transaction.commit();
        return results;
    });
}

EnqueueResult SqliteStore::enqueue_in_transaction(const model::NewJob& job, model::TimePoint now)
{
    if (job.key) {
        // The same terms as jobs_by_key's WHERE, so that the lookup reads that index.
        static const std::string by_key = "SELECT id FROM jobs WHERE queue = ? AND idempotency_key = ? AND " + unfinished_condition();
        if (const auto existing = first_int(by_key, job.queue, *job.key)) {
            return EnqueueResult{*existing, false};
        }
    }
    return EnqueueResult{insert_job(job, now), true};
}

std::optional<model::JobState> SqliteStore::finish(const model::AttemptRecord& attempt, const Transition& transition,
                                                   model::TimePoint now)
{
    return serialized("finishing an attempt", [&] { return end_attempt(attempt, transition, now); });
}

Store::FinishAndClaim SqliteStore::finish_and_claim(const model::AttemptRecord& attempt, const Transition& transition,
                                                    model::TimePoint now, const std::vector<QueueAllowance>& queues,
                                                    const std::string& holder, model::Duration lease)
{
    return serialized("finishing an attempt", [&] {
        FinishAndClaim result;
        Transaction transaction(m_db, TransactionKind::write);
        result.applied = end_attempt_in_transaction(attempt, transition, now);
        auto claims = claims_in_savepoint(queues, holder, lease, now, 1, result.claim_error);
        if (!claims.empty()) result.claim = std::move(claims.front());
        transaction.commit();
        return result;
    });
}

Store::FinishBatch SqliteStore::finish_batch(const std::vector<Ending>& endings, model::TimePoint now,
                                            const std::vector<QueueAllowance>& queues, const std::string& holder,
                                            model::Duration lease, std::size_t max_claims)
{
    return serialized("finishing attempts", [&] {
        FinishBatch result;
        Transaction transaction(m_db, TransactionKind::write);
        for (const auto& ending : endings) {
            result.applied.push_back(end_attempt_in_transaction(ending.attempt, ending.transition, now));
        }
        result.recorded = endings.size();
        if (max_claims > 0) result.claims = claims_in_savepoint(queues, holder, lease, now, max_claims, result.claim_error);
        transaction.commit();
        return result;
    });
}

std::vector<Claim> SqliteStore::claims_in_savepoint(const std::vector<QueueAllowance>& queues, const std::string& holder,
                                                    model::Duration lease, model::TimePoint now, std::size_t max,
                                                    std::optional<std::string>& error)
{
    // The claims may fail on their own (a corrupt page, a full disk) without taking what the
    // transaction did before them (the finished attempts) with them.
    run("SAVEPOINT claim");
    try {
        auto claims = claims_in_transaction(queues, holder, lease, now, max);
        run("RELEASE claim");
        return claims;
    } catch (const std::exception& e) {
        error = std::string("claiming a job: ") + e.what();
        if (!m_db.in_transaction()) throw;  // SQLite rolled it all back: nothing was finished
        run("ROLLBACK TO claim");
        run("RELEASE claim");
        m_db.forget_failure();
        return {};
    }
}

model::JobId SqliteStore::insert_job(const model::NewJob& job, model::TimePoint now)
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
        "expires_at, timeout_ms, max_attempts, error, schedule, idempotency_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        job.queue, job.task, Blob{job.payload}, job.priority, to_string(state), to_millis(now), to_millis(now),
        to_millis(now + delay), ttl_ms, expires_at, timeout_ms, job.max_attempts, optional_blob(error),
        job.schedule, job.key);
    const model::JobId id = m_db.last_insert_id();
    for (std::size_t i = 0; i < dependencies.size(); ++i) {
        run("INSERT INTO job_dependencies (job_id, depends_on, position) VALUES (?, ?, ?)", id, dependencies[i],
            i);
    }
    if (!dependencies.empty()) transaction_facts().any_dependencies = true;
    job_event(EventType::job_enqueued, id, now);
    // Born dead (a dependency is): it ended too, without an attempt.
    if (error) job_event(EventType::job_finished, id, now, JobEventFacts{std::nullopt, false, *error});
    return id;
}

std::optional<model::JobState> SqliteStore::end_attempt(const model::AttemptRecord& attempt,
                                                        const Transition& transition, model::TimePoint now)
{
    Transaction transaction(m_db, TransactionKind::write);
    const auto applied = end_attempt_in_transaction(attempt, transition, now);
    if (applied) transaction.commit();
    return applied;
}

std::optional<model::JobState> SqliteStore::end_attempt_in_transaction(const model::AttemptRecord& attempt,
                                                                       const Transition& transition,
                                                                       model::TimePoint now)
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
    job_event(EventType::job_finished, attempt.job_id, now, JobEventFacts{host, true, to_string(outcome.kind)});
    if (completed) unblock_dependents(attempt.job_id, now);
    if (next == model::JobState::dead || next == model::JobState::cancelled) kill_dependents(attempt.job_id, next, now);
    return next;
}

} // namespace sandhost::store::sqlite
