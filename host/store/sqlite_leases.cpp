// Running attempts and jobs not started yet: leases, progress, lost attempts, cancel, retry, promote,
// expiry.
#include "store/sqlite_store_impl.h"

namespace sandhost::store::sqlite {

bool SqliteStore::renew(model::JobId job, model::AttemptId attempt, model::TimePoint expires_at)
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

bool SqliteStore::set_progress(model::JobId job, model::AttemptId attempt, const model::Progress& progress)
{
    return serialized("recording progress", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        const auto changed = run("UPDATE jobs SET progress_percent = ?, progress_message = ? "
                                 "WHERE id = ? AND state = 'active' AND attempt_id = ?",
                                 progress.percent, Blob{progress.message}, job, attempt);
        // set_progress takes no time: the event is stamped with the store's clock.
        if (changed == 1) progress_event(job, std::chrono::system_clock::now(), progress.percent);
        transaction.commit();
        return changed == 1;
    });
}

std::vector<LostAttempt> SqliteStore::lost_attempts(const std::string& host_name, const std::string& holder,
                                                    model::TimePoint now)
{
    return serialized("looking for lost attempts", [&] {
        Transaction transaction(m_db, TransactionKind::read);
        const std::string prefix = host_name + "/";
        static const std::string sql =
            k_select_jobs +
            "WHERE state = 'active' AND (lease_expires_at < ? OR "
            "(substr(lease_holder, 1, length(?)) = ? AND lease_holder <> ?)) ORDER BY id";
        std::vector<model::Job> jobs = select_jobs(sql, to_millis(now), prefix, prefix, holder);
        std::vector<LostAttempt> lost;
        for (auto& job : jobs) {
            if (!job.lease) continue;
            const model::AttemptId attempt_id = job.lease->attempt_id;
            // A claim numbers its attempt attempts + 1 and counts it: the running attempt's
            // number is the job's count.
            const std::uint32_t number = job.attempts;
            const auto started = first_int("SELECT started_at FROM attempts WHERE attempt_id = ?", attempt_id);
            const model::TimePoint started_at = started ? from_millis(*started) : job.updated_at;
            lost.push_back(LostAttempt{std::move(job), attempt_id, number, started_at});
        }
        transaction.commit();
        return lost;
    });
}

std::optional<model::JobState> SqliteStore::recover(const model::AttemptRecord& attempt, const Transition& transition,
                                                    model::TimePoint now)
{
    return serialized("recovering a lost attempt", [&] { return end_attempt(attempt, transition, now); });
}

std::vector<model::JobId> SqliteStore::cancel_requests(const std::string& holder)
{
    return serialized("reading cancel requests", [&] {
        return ints("SELECT id FROM jobs WHERE state = 'active' AND cancel_requested = 1 AND lease_holder = ? "
                    "ORDER BY id",
                    holder);
    });
}

CancelResult SqliteStore::cancel(model::JobId job, model::TimePoint now)
{
    return serialized("cancelling a job", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        const CancelResult result = cancel_in_transaction(job, now);
        transaction.commit();
        return result;
    });
}

CancelResult SqliteStore::cancel_in_transaction(model::JobId job, model::TimePoint now)
{
    const auto state = state_of(job);
    if (!state) return CancelResult::not_found;
    if (model::is_final(*state)) return CancelResult::already_final;
    if (*state == model::JobState::active) {
        run("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?", to_millis(now), job);
        return CancelResult::requested;
    }
    run("UPDATE jobs SET state = 'cancelled', updated_at = ? WHERE id = ?", to_millis(now), job);
    job_event(EventType::job_finished, job, now, JobEventFacts{std::nullopt, false, "cancelled"});
    kill_dependents(job, model::JobState::cancelled, now);
    return CancelResult::cancelled;
}

bool SqliteStore::retry(model::JobId job, model::TimePoint now)
{
    return serialized("retrying a job", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        const bool retried = retry_in_transaction(job, now);
        if (retried) transaction.commit();
        return retried;
    });
}

// Every refusal comes before the first write: a refused job is left as it was, also in a step
// that goes on with other jobs.
bool SqliteStore::retry_in_transaction(model::JobId job, model::TimePoint now)
{
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
    // Its key is taken again: refused while another job holds it (the unique index would
    // refuse it too, as a failure of the store rather than of the request).
    static const std::string holder_of_key = "SELECT o.id FROM jobs j JOIN jobs o ON o.queue = j.queue "
                                             "AND o.idempotency_key = j.idempotency_key AND o.id <> j.id AND " +
                                             unfinished_condition("o.state") + " WHERE j.id = ?";
    if (const auto holder = first_int(holder_of_key, job)) {
        throw StoreRequestError("job " + std::to_string(job) + " cannot run again while job " +
                                std::to_string(*holder) + ", which has the same key, has not finished");
    }
    run("UPDATE jobs SET state = ?, run_at = ?, "
        "expires_at = CASE WHEN ttl_ms IS NULL THEN NULL ELSE ? + ttl_ms END, "
        "attempts_since_retry = 0, lost = 0, error = NULL, result = NULL, cancel_requested = 0, "
        "progress_percent = NULL, progress_message = NULL, updated_at = ? WHERE id = ?",
        all_completed ? "waiting" : "blocked", to_millis(now), to_millis(now), to_millis(now), job);
    job_event(EventType::job_enqueued, job, now, JobEventFacts{std::nullopt, false, "retried"});
    return true;
}

bool SqliteStore::promote(model::JobId job, model::TimePoint now)
{
    return serialized("promoting a job", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        const bool promoted = promote_in_transaction(job, now);
        if (promoted) transaction.commit();
        return promoted;
    });
}

bool SqliteStore::promote_in_transaction(model::JobId job, model::TimePoint now)
{
    const auto state = state_of(job);
    if (!state) throw StoreRequestError("no job " + std::to_string(job));
    if (*state != model::JobState::delayed) return false;
    // Due already: it keeps its place in the claim order.
    run("UPDATE jobs SET state = 'waiting', run_at = MIN(run_at, ?), updated_at = ? WHERE id = ?", to_millis(now), to_millis(now), job);
    job_event(EventType::job_enqueued, job, now, JobEventFacts{std::nullopt, false, "promoted"});
    return true;
}

std::vector<ActionResult> SqliteStore::change_jobs(JobAction action, const std::vector<model::JobId>& jobs, model::TimePoint now)
{
    check_action_size(jobs.size());
    return serialized("changing jobs", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        std::vector<ActionResult> results;
        results.reserve(jobs.size());
        for (model::JobId job : jobs) {
            try {
                switch (action) {
                case JobAction::retry: results.push_back(ActionResult::of(retry_in_transaction(job, now))); break;
                case JobAction::cancel: results.push_back(ActionResult::of(cancel_in_transaction(job, now))); break;
                case JobAction::promote: results.push_back(ActionResult::of(promote_in_transaction(job, now))); break;
                }
            } catch (const StoreRequestError& e) {
                results.push_back(state_of(job) ? ActionResult{ActionResult::Kind::refused, e.what()} : ActionResult{});
            }
        }
        transaction.commit();
        return results;
    });
}

std::size_t SqliteStore::expire(model::TimePoint now)
{
    return serialized("expiring jobs", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        static const std::string sql =
            "SELECT id FROM jobs INDEXED BY jobs_expiring WHERE expires_at <= ? AND " + not_started_condition() + " ORDER BY id";
        std::size_t expired = 0;
        for (model::JobId id : ints(sql, to_millis(now))) {
            if (make_dead(id, k_expired, now)) ++expired;
        }
        transaction.commit();
        return expired;
    });
}

} // namespace sandhost::store::sqlite
