#include "scheduler/counted_store.h"

#include <utility>

namespace sandhost::scheduler {

CountedStore::CountedStore(std::shared_ptr<store::Store> store, std::shared_ptr<Metrics> metrics)
    : m_store(std::move(store)), m_metrics(std::move(metrics))
{
}

store::EnqueueResult CountedStore::enqueue_job(const model::NewJob& job, model::TimePoint now)
{
    return counted([&] { return m_store->enqueue_job(job, now); });
}

std::vector<store::EnqueueResult> CountedStore::enqueue_jobs(const std::vector<model::NewJob>& jobs, model::TimePoint now)
{
    return counted([&] { return m_store->enqueue_jobs(jobs, now); });
}

std::optional<store::Claim> CountedStore::claim(const std::vector<store::QueueAllowance>& queues,
                                                const std::string& holder, model::Duration lease, model::TimePoint now)
{
    return counted([&] { return m_store->claim(queues, holder, lease, now); });
}

bool CountedStore::renew(model::JobId job, model::AttemptId attempt, model::TimePoint expires_at)
{
    return counted([&] { return m_store->renew(job, attempt, expires_at); });
}

bool CountedStore::set_progress(model::JobId job, model::AttemptId attempt, const model::Progress& progress)
{
    return counted([&] { return m_store->set_progress(job, attempt, progress); });
}

std::optional<model::JobState> CountedStore::finish(const model::AttemptRecord& attempt,
                                                    const store::Transition& transition, model::TimePoint now)
{
    return counted([&] { return m_store->finish(attempt, transition, now); });
}

store::Store::FinishAndClaim CountedStore::finish_and_claim(const model::AttemptRecord& attempt,
                                                            const store::Transition& transition, model::TimePoint now,
                                                            const std::vector<store::QueueAllowance>& queues,
                                                            const std::string& holder, model::Duration lease)
{
    return counted([&] { return m_store->finish_and_claim(attempt, transition, now, queues, holder, lease); });
}

std::vector<store::Claim> CountedStore::claim_batch(const std::vector<store::QueueAllowance>& queues, const std::string& holder,
                                                    model::Duration lease, model::TimePoint now, std::size_t max)
{
    return counted([&] { return m_store->claim_batch(queues, holder, lease, now, max); });
}

store::Store::FinishBatch CountedStore::finish_batch(const std::vector<Ending>& endings, model::TimePoint now,
                                                     const std::vector<store::QueueAllowance>& queues, const std::string& holder,
                                                     model::Duration lease, std::size_t max_claims)
{
    return counted([&] { return m_store->finish_batch(endings, now, queues, holder, lease, max_claims); });
}

std::vector<store::LostAttempt> CountedStore::lost_attempts(const std::string& host_name, const std::string& holder,
                                                            model::TimePoint now)
{
    return counted([&] { return m_store->lost_attempts(host_name, holder, now); });
}

std::optional<model::JobState> CountedStore::recover(const model::AttemptRecord& attempt,
                                                     const store::Transition& transition, model::TimePoint now)
{
    return counted([&] { return m_store->recover(attempt, transition, now); });
}

std::vector<model::JobId> CountedStore::cancel_requests(const std::string& holder)
{
    return counted([&] { return m_store->cancel_requests(holder); });
}

store::CancelResult CountedStore::cancel(model::JobId job, model::TimePoint now)
{
    return counted([&] { return m_store->cancel(job, now); });
}

bool CountedStore::retry(model::JobId job, model::TimePoint now)
{
    return counted([&] { return m_store->retry(job, now); });
}

bool CountedStore::promote(model::JobId job, model::TimePoint now)
{
    return counted([&] { return m_store->promote(job, now); });
}

std::size_t CountedStore::expire(model::TimePoint now)
{
    return counted([&] { return m_store->expire(now); });
}

std::optional<model::Job> CountedStore::get(model::JobId job)
{
    return counted([&] { return m_store->get(job); });
}

std::vector<model::AttemptRecord> CountedStore::attempts(model::JobId job)
{
    return counted([&] { return m_store->attempts(job); });
}

std::vector<model::Job> CountedStore::list(const store::JobFilter& filter)
{
    return counted([&] { return m_store->list(filter); });
}

std::vector<model::JobId> CountedStore::job_ids(const std::string& queue, model::JobState state, const std::optional<std::string>& task,
                                                std::optional<model::TimePoint> changed_since)
{
    return counted([&] { return m_store->job_ids(queue, state, task, changed_since); });
}

std::map<std::string, store::QueueCounts> CountedStore::queue_counts(const std::vector<std::string>& queues)
{
    return counted([&] { return m_store->queue_counts(queues); });
}

std::map<model::JobId, std::string> CountedStore::results(const std::vector<model::JobId>& jobs)
{
    return counted([&] { return m_store->results(jobs); });
}

void CountedStore::set_paused(const std::string& queue, bool paused)
{
    counted([&] { m_store->set_paused(queue, paused); });
}

std::vector<std::string> CountedStore::paused_queues()
{
    return counted([&] { return m_store->paused_queues(); });
}

std::optional<model::JobId> CountedStore::fire_schedule(const std::string& name, model::TimePoint fire_time,
                                                        const model::NewJob& job, model::TimePoint now)
{
    return counted([&] { return m_store->fire_schedule(name, fire_time, job, now); });
}

std::optional<model::TimePoint> CountedStore::schedule_last_fire(const std::string& name)
{
    return counted([&] { return m_store->schedule_last_fire(name); });
}

std::vector<store::ActionResult> CountedStore::change_jobs(store::JobAction action, const std::vector<model::JobId>& jobs, model::TimePoint now)
{
    return counted([&] { return m_store->change_jobs(action, jobs, now); });
}

void CountedStore::import_jobs(const std::vector<store::JobCopy>& jobs, model::TimePoint now)
{
    counted([&] { m_store->import_jobs(jobs, now); });
}

void CountedStore::import_schedule(const std::string& name, model::TimePoint last_fire)
{
    counted([&] { m_store->import_schedule(name, last_fire); });
}

store::RemoveResult CountedStore::remove(model::JobId job)
{
    return counted([&] { return m_store->remove(job); });
}

std::int64_t CountedStore::continue_events(std::int64_t after, const std::string& from, model::TimePoint now)
{
    return counted([&] { return m_store->continue_events(after, from, now); });
}

std::size_t CountedStore::purge(model::JobState state, model::TimePoint older_than)
{
    return counted([&] { return m_store->purge(state, older_than); });
}

std::size_t CountedStore::trim(const std::string& queue, model::JobState state, const model::RetentionLimit& limit,
                               model::TimePoint now, std::size_t batch)
{
    return counted([&] { return m_store->trim(queue, state, limit, now, batch); });
}

std::vector<std::pair<std::string, std::string>> CountedStore::unclaimable_tasks(const std::vector<store::QueueAllowance>& queues)
{
    return counted([&] { return m_store->unclaimable_tasks(queues); });
}

bool CountedStore::register_host(const std::string& host_name, const std::string& holder, model::TimePoint now,
                                 model::Duration stale_after)
{
    return counted([&] { return m_store->register_host(host_name, holder, now, stale_after); });
}

void CountedStore::take_over_host(const std::string& host_name, const std::string& holder, model::TimePoint now)
{
    counted([&] { m_store->take_over_host(host_name, holder, now); });
}

std::optional<std::pair<std::string, model::TimePoint>> CountedStore::host_registration(const std::string& host_name)
{
    return counted([&] { return m_store->host_registration(host_name); });
}

bool CountedStore::publish_host(const std::string& host_name, const std::string& holder, const std::string& version,
                                const std::vector<model::ServedQueue>& queues, const model::PluginCatalog& catalog,
                                model::TimePoint now)
{
    return counted([&] { return m_store->publish_host(host_name, holder, version, queues, catalog, now); });
}

bool CountedStore::heartbeat(const std::string& host_name, const std::string& holder, const model::HostStatus& status,
                             model::TimePoint now)
{
    return counted([&] { return m_store->heartbeat(host_name, holder, status, now); });
}

void CountedStore::unregister_host(const std::string& host_name, const std::string& holder, model::TimePoint now)
{
    counted([&] { m_store->unregister_host(host_name, holder, now); });
}

std::vector<model::HostRecord> CountedStore::hosts()
{
    return counted([&] { return m_store->hosts(); });
}

std::vector<store::Event> CountedStore::events_after(std::int64_t after, std::size_t limit)
{
    return counted([&] { return m_store->events_after(after, limit); });
}

} // namespace sandhost::scheduler
