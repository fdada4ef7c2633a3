// A store that fails while a host runs: no claims meanwhile, no result lost, the records kept
// and written once it answers, leases renewed at once, one log line per change of state, and a
// worker that does not outlive its lease. On any store (a switch in front of SQLite), and on a
// Redis server killed and started again.
#include "host_harness.h"
#include "redis_server.h"

#include <gtest/gtest.h>

#include <atomic>

namespace sandhost::scheduler {
namespace {

using namespace std::chrono_literals;
using model::JobState;
using testing::HostHarness;
using testing::LogCapture;
namespace t = sandhost::testing;

// A store that fails every call, as a full disk or a server gone would, while it is switched
// off. Everything else goes to the store it wraps.
class SwitchedStore final : public store::Store {
public:
    explicit SwitchedStore(std::shared_ptr<store::Store> inner) : m_inner(std::move(inner)) {}
    void set_failing(bool failing) { m_failing = failing; }
    std::uint64_t refused_calls() const { return m_refused; }

    store::EnqueueResult enqueue_job(const model::NewJob& job, model::TimePoint now) override { return on()->enqueue_job(job, now); }
    std::vector<store::EnqueueResult> enqueue_jobs(const std::vector<model::NewJob>& jobs, model::TimePoint now) override
    {
        return on()->enqueue_jobs(jobs, now);
    }
    std::optional<store::Claim> claim(const std::vector<store::QueueAllowance>& queues, const std::string& holder,
                                      model::Duration lease, model::TimePoint now) override
    {
        return on()->claim(queues, holder, lease, now);
    }
    bool renew(model::JobId job, model::AttemptId attempt, model::TimePoint expires_at) override
    {
        return on()->renew(job, attempt, expires_at);
    }
    bool set_progress(model::JobId job, model::AttemptId attempt, const model::Progress& progress) override
    {
        return on()->set_progress(job, attempt, progress);
    }
    std::optional<JobState> finish(const model::AttemptRecord& attempt, const store::Transition& transition, model::TimePoint now) override
    {
        return on()->finish(attempt, transition, now);
    }
    FinishAndClaim finish_and_claim(const model::AttemptRecord& attempt, const store::Transition& transition, model::TimePoint now,
                                    const std::vector<store::QueueAllowance>& queues, const std::string& holder,
                                    model::Duration lease) override
    {
        return on()->finish_and_claim(attempt, transition, now, queues, holder, lease);
    }
    std::vector<store::LostAttempt> lost_attempts(const std::string& host_name, const std::string& holder, model::TimePoint now) override
    {
        return on()->lost_attempts(host_name, holder, now);
    }
    std::optional<JobState> recover(const model::AttemptRecord& attempt, const store::Transition& transition, model::TimePoint now) override
    {
        return on()->recover(attempt, transition, now);
    }
    std::vector<model::JobId> cancel_requests(const std::string& holder) override { return on()->cancel_requests(holder); }
    store::CancelResult cancel(model::JobId job, model::TimePoint now) override { return on()->cancel(job, now); }
    bool retry(model::JobId job, model::TimePoint now) override { return on()->retry(job, now); }
    void import_jobs(const std::vector<store::JobCopy>& jobs, model::TimePoint now) override { on()->import_jobs(jobs, now); }
    void import_schedule(const std::string& name, model::TimePoint last_fire) override { on()->import_schedule(name, last_fire); }
    store::RemoveResult remove(model::JobId job) override { return on()->remove(job); }
    std::int64_t continue_events(std::int64_t after, const std::string& from, model::TimePoint now) override { return on()->continue_events(after, from, now); }
    bool promote(model::JobId job, model::TimePoint now) override { return on()->promote(job, now); }
    std::size_t expire(model::TimePoint now) override { return on()->expire(now); }
    std::optional<model::Job> get(model::JobId job) override { return on()->get(job); }
    std::vector<model::AttemptRecord> attempts(model::JobId job) override { return on()->attempts(job); }
    std::vector<model::Job> list(const store::JobFilter& filter) override { return on()->list(filter); }
    std::map<std::string, store::QueueCounts> queue_counts(const std::vector<std::string>& queues) override
    {
        return on()->queue_counts(queues);
    }
    std::map<model::JobId, std::string> results(const std::vector<model::JobId>& jobs) override { return on()->results(jobs); }
    void set_paused(const std::string& queue, bool paused) override { on()->set_paused(queue, paused); }
    std::vector<std::string> paused_queues() override { return on()->paused_queues(); }
    std::optional<model::JobId> fire_schedule(const std::string& name, model::TimePoint fire_time, const model::NewJob& job,
                                              model::TimePoint now) override
    {
        return on()->fire_schedule(name, fire_time, job, now);
    }
    std::optional<model::TimePoint> schedule_last_fire(const std::string& name) override { return on()->schedule_last_fire(name); }
    std::size_t purge(JobState state, model::TimePoint older_than) override { return on()->purge(state, older_than); }
    std::size_t trim(const std::string& queue, JobState state, const model::RetentionLimit& limit, model::TimePoint now,
                     std::size_t batch) override
    {
        return on()->trim(queue, state, limit, now, batch);
    }
    std::vector<std::pair<std::string, std::string>> unclaimable_tasks(const std::vector<store::QueueAllowance>& queues) override
    {
        return on()->unclaimable_tasks(queues);
    }
    bool register_host(const std::string& host_name, const std::string& holder, model::TimePoint now, model::Duration stale_after) override
    {
        return on()->register_host(host_name, holder, now, stale_after);
    }
    void take_over_host(const std::string& host_name, const std::string& holder, model::TimePoint now) override
    {
        on()->take_over_host(host_name, holder, now);
    }
    std::optional<std::pair<std::string, model::TimePoint>> host_registration(const std::string& host_name) override
    {
        return on()->host_registration(host_name);
    }
    bool publish_host(const std::string& host_name, const std::string& holder, const std::string& version,
                      const std::vector<model::ServedQueue>& queues, const model::PluginCatalog& catalog, model::TimePoint now) override
    {
        return on()->publish_host(host_name, holder, version, queues, catalog, now);
    }
    bool heartbeat(const std::string& host_name, const std::string& holder, const model::HostStatus& status, model::TimePoint now) override
    {
        return on()->heartbeat(host_name, holder, status, now);
    }
    void unregister_host(const std::string& host_name, const std::string& holder, model::TimePoint now) override
    {
        on()->unregister_host(host_name, holder, now);
    }
    std::vector<model::HostRecord> hosts() override { return on()->hosts(); }
    std::vector<store::Event> events_after(std::int64_t after, std::size_t limit) override { return on()->events_after(after, limit); }

private:
    store::Store* on()
    {
        if (m_failing) {
            ++m_refused;
            throw store::StoreError("switched off: database or disk is full");
        }
        return m_inner.get();
    }

    std::shared_ptr<store::Store> m_inner;
    std::atomic<bool> m_failing{false};
    std::atomic<std::uint64_t> m_refused{0};
};

std::string sleep_payload(const std::string& marks, int ms)
{
    return R"({"path":")" + marks + R"(","ms":)" + std::to_string(ms) + "}";
}

class StoreOutageTest : public ::testing::Test {
protected:
    void TearDown() override
    {
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }
};

TEST_F(StoreOutageTest, WhileTheStoreFailsNothingIsClaimedAndNoResultIsLost)
{
    LogCapture log;
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n    concurrency: 2\n");
    auto store = std::make_shared<SwitchedStore>(h.store_ptr());
    h.use_store(store);
    const auto marks = h.marker("m");
    std::vector<model::JobId> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(h.enqueue("q", "marker.sleep", sleep_payload(marks, 300)));
    h.start();
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 2; }));
    store->set_failing(true);
    // The two running attempts end; their records wait in the host, and nothing more starts
    // while the host keeps trying the store.
    ASSERT_TRUE(t::eventually([&] { return h.host().stats().unrecorded == 2; }));
    const auto tries = store->refused_calls();
    ASSERT_TRUE(t::eventually([&] { return store->refused_calls() >= tries + 3; }));
    EXPECT_EQ(h.host().stats().claimed, 2u);
    EXPECT_TRUE(h.host().stats().store_failing);
    EXPECT_EQ(HostHarness::marks(marks), 2u);

    store->set_failing(false);
    for (auto id : ids) EXPECT_EQ(h.wait_final(id).state, JobState::completed);
    for (auto id : ids) EXPECT_EQ(h.store().attempts(id).size(), 1u) << "job " << id << " ran once";
    const auto stats = h.host().stats();
    EXPECT_EQ(stats.recorded_late, 2u);
    EXPECT_EQ(stats.refused, 0u);
    EXPECT_EQ(stats.unrecorded, 0u);
    EXPECT_FALSE(stats.store_failing);
    h.stop();
    EXPECT_EQ(HostHarness::marks(marks), 5u);
    EXPECT_EQ(log.count("store failing"), 1u) << log.text();
    EXPECT_EQ(log.count("store answers again"), 1u) << log.text();
}

TEST_F(StoreOutageTest, AWorkerDoesNotOutliveItsLeaseAndItsJobRunsAgainUncharged)
{
    LogCapture log;
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n", "", 4, "  lease: 900ms\n");
    auto store = std::make_shared<SwitchedStore>(h.store_ptr());
    h.use_store(store);
    const auto marks = h.marker("m");
    const auto id = h.enqueue("q", "marker.sleep", sleep_payload(marks, 20'000));
    h.start();
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 1; }));
    store->set_failing(true);
    // No renewal for a lease's time: the attempt stops (another host may take the job now).
    ASSERT_TRUE(t::eventually([&] { return h.host().stats().leases_expired == 1; }, 10s));
    ASSERT_TRUE(t::eventually([&] { return h.host().stats().running == 0 && h.host().stats().unrecorded == 1; }, 10s));
    store->set_failing(false);
    // Nobody took it over meanwhile: the record is written, as lost and not charged, and the
    // job runs again.
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 2; }, 20s));
    const auto attempts = h.store().attempts(id);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].outcome.kind, model::OutcomeKind::worker_lost);
    EXPECT_EQ(h.store().get(id)->attempts_since_retry, 1u) << "the lost attempt was refunded";
    EXPECT_EQ(h.store().cancel(id, std::chrono::system_clock::now()), store::CancelResult::requested);
    EXPECT_EQ(h.wait_final(id).state, JobState::cancelled);
    h.stop();
    EXPECT_EQ(log.count("lease expired"), 1u) << log.text();
}

TEST_F(StoreOutageTest, ARedisServerKilledAndStartedAgainLosesNoResult)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    t::RedisServer server;
    LogCapture log;
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n    concurrency: 3\n", "", 4, "", server.url());
    const auto marks = h.marker("m");
    std::vector<model::JobId> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(h.enqueue("q", "marker.sleep", sleep_payload(marks, 500)));
    h.start();
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 3; }));
    server.kill();
    ASSERT_TRUE(t::eventually([&] { return h.host().stats().unrecorded == 3; }));
    EXPECT_EQ(h.host().stats().claimed, 3u);
    server.start();
    for (auto id : ids) EXPECT_EQ(h.wait_final(id).state, JobState::completed);
    for (auto id : ids) EXPECT_EQ(h.store().attempts(id).size(), 1u) << "job " << id << " ran once";
    EXPECT_EQ(h.host().stats().recorded_late, 3u);
    h.stop();
    EXPECT_EQ(HostHarness::marks(marks), 6u);
    EXPECT_EQ(log.count("store failing"), 1u) << log.text();
    EXPECT_EQ(log.count("store answers again"), 1u) << log.text();
}

} // namespace
} // namespace sandhost::scheduler
