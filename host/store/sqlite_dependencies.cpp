// What a job's end does to the jobs that depend on it.
#include "store/sqlite_store_impl.h"

namespace sandhost::store::sqlite {

std::string dependency_error(model::JobId dependency, model::JobState state)
{
    return "dependency " + std::to_string(dependency) + (state == model::JobState::cancelled ? " was cancelled" : " is dead");
}

std::map<model::JobId, model::JobState> SqliteStore::states_of(const std::vector<model::JobId>& jobs)
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

std::vector<model::JobId> SqliteStore::dependencies_of(model::JobId job)
{
    if (!any_dependencies()) return {};
    return ints("SELECT depends_on FROM job_dependencies WHERE job_id = ? ORDER BY position", job);
}

bool SqliteStore::make_dead(model::JobId job, const std::string& error, model::TimePoint now)
{
    static const std::string sql =
        "UPDATE jobs SET state = 'dead', error = ?, updated_at = ? WHERE id = ? AND " + not_started_condition();
    if (run(sql, Blob{error}, to_millis(now), job) == 0) return false;
    job_event(EventType::job_finished, job, now, JobEventFacts{std::nullopt, false, error});
    kill_dependents(job, model::JobState::dead, now);
    return true;
}

void SqliteStore::kill_dependents(model::JobId job, model::JobState why, model::TimePoint now)
{
    if (!any_dependencies()) return;
    std::vector<std::pair<model::JobId, model::JobState>> pending{{job, why}};
    while (!pending.empty()) {
        const auto [ended, state] = pending.back();
        pending.pop_back();
        const auto dependents = ints("SELECT d.job_id FROM job_dependencies d JOIN jobs j ON j.id = d.job_id "
                                     "WHERE d.depends_on = ? AND j.state = 'blocked' ORDER BY d.job_id",
                                     ended);
        for (model::JobId dependent : dependents) {
            const std::string error = dependency_error(ended, state);
            run("UPDATE jobs SET state = 'dead', error = ?, updated_at = ? WHERE id = ? AND state = 'blocked'",
                Blob{error}, to_millis(now), dependent);
            job_event(EventType::job_finished, dependent, now, JobEventFacts{std::nullopt, false, error});
            pending.emplace_back(dependent, model::JobState::dead);
        }
    }
}

void SqliteStore::unblock_dependents(model::JobId job, model::TimePoint now)
{
    // Most jobs have no dependents: one index probe instead of the UPDATE's subqueries, and
    // none in a transaction that found no dependencies at all.
    if (!any_dependencies() || !first_int("SELECT 1 FROM job_dependencies WHERE depends_on = ? LIMIT 1", job)) return;
    // A released job may run from now (or the end of its delay): it queues behind the jobs
    // that came due before it, and its latency counts from now, not from its enqueue.
    run("UPDATE jobs SET state = CASE WHEN run_at > ? THEN 'delayed' ELSE 'waiting' END, run_at = MAX(run_at, ?), "
        "updated_at = ? WHERE state = 'blocked' AND id IN (SELECT job_id FROM job_dependencies WHERE depends_on = ?) "
        "AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on "
        "WHERE d.job_id = jobs.id AND j.state <> 'completed')",
        to_millis(now), to_millis(now), to_millis(now), job);
}

} // namespace sandhost::store::sqlite
