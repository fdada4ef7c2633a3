// A queue's prefetch: jobs claimed ahead of a free slot, held by the host until one frees, and
// handed back untouched when they cannot start. Run for real: a host on a SQLite store, real
// workers, real plugins.
#include "host_harness.h"
#include "redis_server.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include <unistd.h>

namespace sandhost::scheduler {
namespace {

using namespace std::chrono_literals;
using model::JobState;
using testing::HostHarness;
using testing::path_payload;
namespace t = sandhost::testing;

std::size_t in_state(store::Store& store, const std::vector<model::JobId>& ids, JobState state)
{
    std::size_t count = 0;
    for (auto id : ids) count += store.get(id)->state == state;
    return count;
}

// Starts a job that takes the queue's one slot and hangs there until it is cancelled.
// A job of `queue` running `task` of the marker fixture, which marks `marks`.
model::NewJob marker_job(const std::string& queue, const std::string& task, const std::string& marks, int priority = 0)
{
    model::NewJob job;
    job.queue = queue;
    job.task = task;
    job.payload = path_payload(marks);
    job.priority = priority;
    return job;
}

model::JobId occupy_the_slot(HostHarness& h)
{
    const auto marks = h.marker("blocker");
    const auto id = h.enqueue("q", "marker.hang", path_payload(marks));
    EXPECT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 1; }));
    return id;
}

// Held jobs go through the store as every claim does: each test runs on SQLite and on Redis.
class PrefetchTest : public testing::NoLeftoversTest, public ::testing::WithParamInterface<std::string> {
protected:
    void SetUp() override
    {
        if (GetParam() == "redis") SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    }
};

// The test's store: a SQLite file in the harness's folder, or a redis-server of its own (made
// before the harness, so that it outlives the host).
struct StoreUnderTest {
    explicit StoreUnderTest(const std::string& kind)
    {
        if (kind == "redis") url = server.emplace().url();
    }
    std::optional<t::RedisServer> server;
    std::string url = "sqlite:jobs.db";
};

TEST_P(PrefetchTest, HeldJobsWaitForTheSlotAndRunInClaimOrder)
{
    StoreUnderTest store(GetParam());
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n    concurrency: 1\n    prefetch: 2\n", "", 4, "", store.url);
    std::mutex recorded_mutex;
    std::map<model::JobId, RecordedAttempt> recorded;
    h.options().on_recorded = [&](const RecordedAttempt& attempt) {
        std::lock_guard lock(recorded_mutex);
        recorded.emplace(attempt.job, attempt);
    };
    h.start();
    const auto order = h.marker("order");
    const auto blocker = occupy_the_slot(h);
    std::vector<model::JobId> rest;
    for (int i = 0; i < 4; ++i) rest.push_back(h.enqueue("q", "marker.succeed", path_payload(order, R"(,"n":)" + std::to_string(i))));
    // One running, two held ahead (active in the store, not started), the rest waiting.
    ASSERT_TRUE(t::eventually([&] { return h.host().stats().claimed_ahead == 2; }));
    EXPECT_EQ(h.host().stats().running, 1u);
    EXPECT_EQ(in_state(h.store(), rest, JobState::active), 2u);
    EXPECT_EQ(in_state(h.store(), rest, JobState::waiting), 2u);
    EXPECT_EQ(HostHarness::marks(order), 0u) << "a held job must not start while the slot is taken";
    EXPECT_EQ(t::workers_of(::getpid()).size(), 1u);

    EXPECT_EQ(h.store().cancel(blocker, std::chrono::system_clock::now()), store::CancelResult::requested);
    EXPECT_EQ(h.wait_final(blocker).state, JobState::cancelled);
    model::TimePoint previous{};
    for (auto id : rest) {
        const auto job = h.wait_final(id);
        EXPECT_EQ(job.state, JobState::completed);
        EXPECT_EQ(job.attempts, 1u);
        const auto attempts = h.store().attempts(id);
        ASSERT_EQ(attempts.size(), 1u);
        EXPECT_GE(attempts[0].outcome.started_at, previous) << "the jobs start in the order they were claimed";
        previous = attempts[0].outcome.started_at;
    }
    EXPECT_EQ(HostHarness::marks(order), 4u);
    const auto stats = h.host().stats();
    EXPECT_EQ(stats.peak_running_by_queue.at("q"), 1u) << "held jobs never run beyond the queue's concurrency";
    EXPECT_EQ(stats.claimed_ahead, 0u);
    // What the host tells of each record (HostOptions::on_recorded): the two jobs held while
    // the blocker ran started well after their claim.
    ASSERT_TRUE(t::eventually([&] {
        std::lock_guard lock(recorded_mutex);
        return recorded.size() == rest.size() + 1;
    }));
    std::lock_guard lock(recorded_mutex);
    const auto& first = recorded.at(blocker);
    EXPECT_GE(first.started, first.claimed);
    EXPECT_LE(first.started, first.recorded);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& held = recorded.at(rest[i]);
        EXPECT_GT(held.started, held.claimed) << "held ahead: started after its claim";
        EXPECT_LE(held.started, held.recorded);
    }
}

TEST_P(PrefetchTest, CancellingAHeldJobEndsItWithoutRunningIt)
{
    StoreUnderTest store(GetParam());
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n    concurrency: 1\n    prefetch: 1\n", "", 4, "", store.url);
    h.start();
    const auto held_marks = h.marker("held");
    const auto blocker = occupy_the_slot(h);
    const auto held = h.enqueue("q", "marker.succeed", path_payload(held_marks));
    ASSERT_TRUE(t::eventually([&] { return h.host().stats().claimed_ahead == 1; }));
    EXPECT_EQ(h.store().get(held)->state, JobState::active);

    EXPECT_EQ(h.store().cancel(held, std::chrono::system_clock::now()), store::CancelResult::requested);
    const auto job = h.wait_final(held);
    EXPECT_EQ(job.state, JobState::cancelled);
    const auto attempts = h.store().attempts(held);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].outcome.kind, model::OutcomeKind::cancelled);
    EXPECT_EQ(HostHarness::marks(held_marks), 0u) << "a held job that is cancelled never runs";
    EXPECT_EQ(h.store().get(blocker)->state, JobState::active) << "the running job is not touched";
    EXPECT_EQ(h.host().stats().claimed_ahead, 0u);

    EXPECT_EQ(h.store().cancel(blocker, std::chrono::system_clock::now()), store::CancelResult::requested);
    EXPECT_EQ(h.wait_final(blocker).state, JobState::cancelled);
}

TEST_P(PrefetchTest, StoppingHandsHeldJobsBackUnchargedWhileTheRunningOneDrains)
{
    StoreUnderTest store(GetParam());
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n    concurrency: 1\n    prefetch: 2\n    retry: {max_attempts: 1}\n", "", 4, "", store.url);
    h.start();
    const auto first = h.marker("first");
    const auto held_marks = h.marker("held");
    const auto running = h.enqueue("q", "marker.sleep", path_payload(first, R"(,"ms":300)"));
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(first) == 1; }));
    const std::vector<model::JobId> held{h.enqueue("q", "marker.succeed", path_payload(held_marks)),
                                         h.enqueue("q", "marker.succeed", path_payload(held_marks))};
    ASSERT_TRUE(t::eventually([&] { return h.host().stats().claimed_ahead == 2; }));
    h.stop();
    EXPECT_EQ(h.store().get(running)->state, JobState::completed) << "the running attempt drains as without prefetch";
    EXPECT_EQ(HostHarness::marks(held_marks), 0u);
    for (auto id : held) {
        const auto job = h.store().get(id);
        EXPECT_EQ(job->state, JobState::waiting) << "a held job goes back for any host to run";
        EXPECT_EQ(job->attempts_since_retry, 0u) << "without using up its only attempt";
        EXPECT_EQ(job->lost, 0u) << "nor counting as lost";
        const auto attempts = h.store().attempts(id);
        ASSERT_EQ(attempts.size(), 1u);
        EXPECT_EQ(attempts[0].outcome.kind, model::OutcomeKind::worker_lost);
        EXPECT_NE(attempts[0].outcome.error.find("before the attempt started"), std::string::npos) << attempts[0].outcome.error;
    }
}

TEST_P(PrefetchTest, HeldJobsCountAgainstGlobalConcurrency)
{
    // Held jobs are active in the store, so a limit across hosts counts them: claiming ahead
    // never lets more jobs run at once than global_concurrency allows.
    StoreUnderTest store(GetParam());
    HostHarness h("  q:\n    tasks: [\"marker.*\", \"misbehave.*\"]\n    concurrency: 1\n    prefetch: 5\n    global_concurrency: 2\n", "", 4, "", store.url);
    h.start();
    const auto blocker = occupy_the_slot(h);
    std::vector<model::JobId> rest;
    for (int i = 0; i < 3; ++i) rest.push_back(h.enqueue("q", "misbehave.echo"));
    ASSERT_TRUE(t::eventually([&] { return h.host().stats().claimed_ahead == 1; }));
    EXPECT_EQ(in_state(h.store(), rest, JobState::active), 1u);
    EXPECT_EQ(in_state(h.store(), rest, JobState::waiting), 2u);
    EXPECT_EQ(h.store().cancel(blocker, std::chrono::system_clock::now()), store::CancelResult::requested);
    for (auto id : rest) EXPECT_EQ(h.wait_final(id).state, JobState::completed);
}

TEST_P(PrefetchTest, AQueueWithoutPrefetchHasNoJobHeldForTheHostsWorkers)
{
    // One worker for the host, busy with a job of b. b may hold two more; a, without prefetch,
    // must leave its job waiting for any host rather than hold it for this one's worker.
    StoreUnderTest store(GetParam());
    HostHarness h("  b:\n    tasks: [\"marker.*\", \"misbehave.*\"]\n    prefetch: 2\n  a:\n    tasks: [\"misbehave.*\"]\n", "", 1, "", store.url);
    h.start();
    const auto marks = h.marker("blocker");
    const auto blocker = h.enqueue("b", "marker.hang", path_payload(marks));
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 1; }));
    const auto of_a = h.enqueue("a", "misbehave.echo");
    const std::vector<model::JobId> of_b{h.enqueue("b", "misbehave.echo"), h.enqueue("b", "misbehave.echo")};
    // b's jobs, enqueued after a's, are held: the host claimed since a's job was stored.
    ASSERT_TRUE(t::eventually([&] { return h.host().stats().claimed_ahead == 2; }));
    EXPECT_EQ(h.store().get(of_a)->state, JobState::waiting);
    EXPECT_EQ(h.store().cancel(blocker, std::chrono::system_clock::now()), store::CancelResult::requested);
    EXPECT_EQ(h.wait_final(of_a).state, JobState::completed);
    for (auto id : of_b) EXPECT_EQ(h.wait_final(id).state, JobState::completed);
}

TEST_P(PrefetchTest, HeldJobsFollowEachOtherWithinEveryLimit)
{
    // An ended attempt's thread starts the next held job of its queue in the slot it freed,
    // without waiting for the run loop; the queue's concurrency and the host's workers still
    // bound what runs at once. Two queues on a host of two workers: a (2 at once) and b (1).
    StoreUnderTest store(GetParam());
    HostHarness h("  a:\n    tasks: [\"misbehave.*\"]\n    concurrency: 2\n    prefetch: 6\n"
                  "  b:\n    tasks: [\"misbehave.*\"]\n    concurrency: 1\n    prefetch: 3\n",
                  "", 2, "", store.url);
    h.start();
    std::vector<model::JobId> of_a;
    std::vector<model::JobId> of_b;
    for (int i = 0; i < 30; ++i) {
        of_a.push_back(h.enqueue("a", "misbehave.echo"));
        if (i % 2 == 0) of_b.push_back(h.enqueue("b", "misbehave.echo"));
    }
    for (auto id : of_a) EXPECT_EQ(h.wait_final(id).state, JobState::completed);
    model::TimePoint previous{};
    for (auto id : of_b) {
        EXPECT_EQ(h.wait_final(id).state, JobState::completed);
        const auto attempts = h.store().attempts(id);
        ASSERT_EQ(attempts.size(), 1u);
        EXPECT_GE(attempts[0].outcome.started_at, previous) << "one at a time, in the order they were claimed";
        previous = attempts[0].outcome.started_at;
    }
    for (auto id : of_a) EXPECT_EQ(h.store().attempts(id).size(), 1u);
    ASSERT_TRUE(t::eventually([&] { return h.host().stats().running == 0 && h.host().stats().claimed_ahead == 0; }));
    const auto stats = h.host().stats();
    EXPECT_LE(stats.peak_running, 2u) << "never more than the host's workers";
    EXPECT_LE(stats.peak_running_by_queue.at("a"), 2u);
    EXPECT_EQ(stats.peak_running_by_queue.at("b"), 1u);
    EXPECT_EQ(stats.finished, of_a.size() + of_b.size());
}

TEST_P(PrefetchTest, AcrossQueuesTheJobClaimedFirstTakesTheFreeWorker)
{
    // One worker for the host. Whichever attempt frees it, the held job claimed first starts
    // next: a queue whose attempts keep ending does not keep the other's held jobs waiting.
    StoreUnderTest store(GetParam());
    HostHarness h("  a:\n    tasks: [\"marker.*\"]\n    prefetch: 3\n  b:\n    tasks: [\"marker.*\"]\n    prefetch: 3\n", "", 1, "",
                  store.url);
    h.start();
    const auto marks = h.marker("blocker");
    const auto blocker = h.enqueue("a", "marker.hang", path_payload(marks));
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 1; }));
    const auto slept = h.marker("slept");
    std::vector<model::JobId> in_claim_order;
    for (const char* queue : {"a", "b", "a", "b"}) {
        in_claim_order.push_back(h.enqueue(queue, "marker.sleep", path_payload(slept, R"(,"ms":20)")));
        ASSERT_TRUE(t::eventually([&] { return h.host().stats().claimed_ahead == in_claim_order.size(); }));
    }
    EXPECT_EQ(h.store().cancel(blocker, std::chrono::system_clock::now()), store::CancelResult::requested);
    model::TimePoint previous{};
    for (auto id : in_claim_order) {
        EXPECT_EQ(h.wait_final(id).state, JobState::completed);
        const auto attempts = h.store().attempts(id);
        ASSERT_EQ(attempts.size(), 1u);
        EXPECT_GT(attempts[0].outcome.started_at, previous) << "job " << id << " started out of claim order";
        previous = attempts[0].outcome.started_at;
    }
    EXPECT_EQ(h.host().stats().peak_running, 1u);
}

TEST_P(PrefetchTest, AJobOfAQueueWithoutPrefetchTakesTheFreeWorkerBeforeOneThatMayBeHeld)
{
    // One worker for the host, free. b may hold jobs, a may not. One claim takes a job of each
    // (b's first: a higher priority): a's job starts, and b's is the one held.
    StoreUnderTest store(GetParam());
    HostHarness h("  b:\n    tasks: [\"marker.*\"]\n    prefetch: 2\n  a:\n    tasks: [\"marker.*\"]\n", "", 1, "", store.url);
    h.start();
    const auto b_marks = h.marker("b");
    // One transaction: the host's next claim sees both.
    const auto stored = h.store().enqueue_jobs({marker_job("b", "marker.hang", b_marks, 9), marker_job("a", "marker.succeed", h.marker("a"))},
                                               std::chrono::system_clock::now());
    ASSERT_EQ(stored.size(), 2u);
    EXPECT_EQ(h.wait_final(stored[1].id).state, JobState::completed) << "a's job waited held behind b's";
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(b_marks) == 1; })) << "b's job starts once the worker is free";
    EXPECT_EQ(h.store().cancel(stored[0].id, std::chrono::system_clock::now()), store::CancelResult::requested);
    EXPECT_EQ(h.wait_final(stored[0].id).state, JobState::cancelled);
}

TEST_P(PrefetchTest, TwoQueuesWithoutPrefetchAreNeverClaimedForMoreWorkersThanAreFree)
{
    // One worker for the host, free. a and c may hold no job, p may (and has none). One claim
    // step sees a job of a and one of c: it takes a's, for the one worker, and leaves c's
    // waiting for any host instead of holding it here until a's ends.
    StoreUnderTest store(GetParam());
    HostHarness h("  p:\n    tasks: [\"marker.*\"]\n    prefetch: 2\n  a:\n    tasks: [\"marker.*\"]\n  c:\n    tasks: [\"marker.*\"]\n", "",
                  1, "", store.url);
    h.start();
    const auto a_marks = h.marker("a");
    // One transaction: the host's next claim sees both.
    const auto stored = h.store().enqueue_jobs({marker_job("a", "marker.hang", a_marks, 9), marker_job("c", "marker.succeed", h.marker("c"))},
                                               std::chrono::system_clock::now());
    ASSERT_EQ(stored.size(), 2u);
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(a_marks) == 1; })) << "a's job runs";
    EXPECT_EQ(h.store().get(stored[1].id)->state, JobState::waiting) << "c's job was claimed to be held";
    EXPECT_EQ(h.host().stats().claimed_ahead, 0u);
    EXPECT_EQ(h.store().cancel(stored[0].id, std::chrono::system_clock::now()), store::CancelResult::requested);
    EXPECT_EQ(h.wait_final(stored[0].id).state, JobState::cancelled);
    EXPECT_EQ(h.wait_final(stored[1].id).state, JobState::completed);
}

INSTANTIATE_TEST_SUITE_P(Stores, PrefetchTest, ::testing::Values("sqlite", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& param) { return param.param; });

} // namespace
} // namespace sandhost::scheduler
