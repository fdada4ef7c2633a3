// A Store that forwards every call to another and counts the calls that fail with StoreError
// in a Metrics (sandhost_store_errors_total), without anything above it catching them first.
// Whatever the store throws goes on to the caller unchanged.
#pragma once

#include "scheduler/metrics.h"
#include "store/store.h"

#include <memory>

namespace sandhost::scheduler {

class CountedStore final : public store::Store {
public:
    CountedStore(std::shared_ptr<store::Store> store, std::shared_ptr<Metrics> metrics);

    store::EnqueueResult enqueue_job(const model::NewJob& job, model::TimePoint now) override;
    std::vector<store::EnqueueResult> enqueue_jobs(const std::vector<model::NewJob>& jobs, model::TimePoint now) override;
    std::optional<store::Claim> claim(const std::vector<store::QueueAllowance>& queues, const std::string& holder,
                                      model::Duration lease, model::TimePoint now) override;
    bool renew(model::JobId job, model::AttemptId attempt, model::TimePoint expires_at) override;
    bool set_progress(model::JobId job, model::AttemptId attempt, const model::Progress& progress) override;
    std::optional<model::JobState> finish(const model::AttemptRecord& attempt, const store::Transition& transition,
                                          model::TimePoint now) override;
    FinishAndClaim finish_and_claim(const model::AttemptRecord& attempt, const store::Transition& transition,
                                    model::TimePoint now, const std::vector<store::QueueAllowance>& queues,
                                    const std::string& holder, model::Duration lease) override;
    std::vector<store::Claim> claim_batch(const std::vector<store::QueueAllowance>& queues, const std::string& holder,
                                          model::Duration lease, model::TimePoint now, std::size_t max) override;
    FinishBatch finish_batch(const std::vector<Ending>& endings, model::TimePoint now, const std::vector<store::QueueAllowance>& queues,
                             const std::string& holder, model::Duration lease, std::size_t max_claims) override;
    std::vector<store::LostAttempt> lost_attempts(const std::string& host_name, const std::string& holder,
                                                  model::TimePoint now) override;
    std::optional<model::JobState> recover(const model::AttemptRecord& attempt, const store::Transition& transition,
                                           model::TimePoint now) override;
    std::vector<model::JobId> cancel_requests(const std::string& holder) override;
    store::CancelResult cancel(model::JobId job, model::TimePoint now) override;
    bool retry(model::JobId job, model::TimePoint now) override;
    bool promote(model::JobId job, model::TimePoint now) override;
    std::vector<store::ActionResult> change_jobs(store::JobAction action, const std::vector<model::JobId>& jobs, model::TimePoint now) override;
    std::size_t expire(model::TimePoint now) override;
    std::optional<model::Job> get(model::JobId job) override;
    std::vector<model::AttemptRecord> attempts(model::JobId job) override;
    std::vector<model::Job> list(const store::JobFilter& filter) override;
    std::vector<model::JobId> job_ids(const std::string& queue, model::JobState state, const std::optional<std::string>& task,
                                      std::optional<model::TimePoint> changed_since) override;
    std::map<std::string, store::QueueCounts> queue_counts(const std::vector<std::string>& queues) override;
    std::map<model::JobId, std::string> results(const std::vector<model::JobId>& jobs) override;
    void set_paused(const std::string& queue, bool paused) override;
    std::vector<std::string> paused_queues() override;
    std::optional<model::JobId> fire_schedule(const std::string& name, model::TimePoint fire_time, const model::NewJob& job,
                                              model::TimePoint now) override;
    std::optional<model::TimePoint> schedule_last_fire(const std::string& name) override;
    void import_jobs(const std::vector<store::JobCopy>& jobs, model::TimePoint now) override;
    void import_schedule(const std::string& name, model::TimePoint last_fire) override;
    std::int64_t continue_events(std::int64_t after, const std::string& from, model::TimePoint now) override;
    store::RemoveResult remove(model::JobId job) override;
    std::size_t purge(model::JobState state, model::TimePoint older_than) override;
    std::size_t trim(const std::string& queue, model::JobState state, const model::RetentionLimit& limit,
                     model::TimePoint now, std::size_t batch) override;
    std::vector<std::pair<std::string, std::string>> unclaimable_tasks(const std::vector<store::QueueAllowance>& queues) override;
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
    std::vector<store::Event> events_after(std::int64_t after, std::size_t limit) override;
    std::optional<std::string> vanished() override { return m_store->vanished(); }
    std::optional<store::StoreSize> size() override
    {
        return counted([&] { return m_store->size(); });
    }

private:
    template <class Call>
    auto counted(Call&& call) -> decltype(call())
    {
        try {
            return call();
        } catch (const store::StoreError&) {
            m_metrics->store_error();
            throw;
        }
    }

    std::shared_ptr<store::Store> m_store;
    std::shared_ptr<Metrics> m_metrics;
};

} // namespace sandhost::scheduler
