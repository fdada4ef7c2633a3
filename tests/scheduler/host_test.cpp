// The job lifecycle, run for real: a host on a SQLite store, real workers, real plugins.
#include "host_harness.h"
#include "os/proc.h"
#include "scheduler/payload.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <pthread.h>
#include <set>
#include <unistd.h>

namespace sandhost::scheduler {
namespace {

using namespace std::chrono_literals;
using model::JobState;
using testing::HostHarness;
namespace t = sandhost::testing;

using testing::path_payload;

class HostTest : public testing::NoLeftoversTest {};

TEST_F(HostTest, AJobCompletesWithItsResultAndOneAttemptRecord)
{
    HostHarness h("  default:\n    tasks: [\"misbehave.*\"]\n");
    h.start();
    const auto id = h.enqueue("default", "misbehave.echo", R"({"hello":1})");
    const auto job = h.wait_final(id);
    EXPECT_EQ(job.state, JobState::completed);
    EXPECT_EQ(job.result, R"({"hello":1})");
    EXPECT_EQ(job.attempts, 1u);
    const auto attempts = h.store().attempts(id);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].outcome.kind, model::OutcomeKind::succeeded);
    EXPECT_EQ(attempts[0].host, h.host().holder());
    EXPECT_TRUE(attempts[0].outcome.pid.has_value());
}

// By default the thread of an attempt that ended records it, with the claim for the slot it
// freed, and runs that claim itself: no wakeup of the run loop, none of another thread. Every
// attempt is still recorded once, after its commit.
TEST_F(HostTest, AnAttemptsThreadRecordsItsEndingAndRunsTheNextJobItself)
{
    HostHarness h("  default:\n    tasks: [\"misbehave.*\"]\n    concurrency: 1\n");
    std::mutex mutex;
    std::map<model::JobId, int> records;
    std::size_t on_attempt_threads = 0;
    h.options().on_recorded = [&](const RecordedAttempt& attempt) {
        char name[16] = {};
        ::pthread_getname_np(::pthread_self(), name, sizeof name);
        std::lock_guard lock(mutex);
        ++records[attempt.job];
        if (std::string(name) == "sh-attempt") ++on_attempt_threads;
    };
    std::vector<model::JobId> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(h.enqueue("default", "misbehave.echo", R"({"n":)" + std::to_string(i) + "}"));
    h.start();
    for (auto id : ids) EXPECT_EQ(h.wait_final(id).state, JobState::completed);
    ASSERT_TRUE(t::eventually([&] {
        std::lock_guard lock(mutex);
        return records.size() == ids.size();
    }));
    std::lock_guard lock(mutex);
    for (const auto& [id, count] : records) EXPECT_EQ(count, 1) << "job " << id << " recorded more than once";
    EXPECT_GE(on_attempt_threads, 1u) << "every ending was recorded on the run loop";
}

TEST_F(HostTest, RetentionTrimsFinishedJobsInTheBackgroundQueueByQueue)
{
    // The host's default keeps one cancelled job; queue q keeps two completed jobs and no dead
    // one; queue all has no retention of its own for completed jobs and keeps them.
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n    retention: {completed: {count: 2}, dead: {age: 0s}}\n"
                  "  all:\n    tasks: [\"misbehave.*\"]\n",
                  "", 4, "  retention: {cancelled: {count: 1}}\n");
    h.options().retention = 50ms;
    h.options().retention_batch = 2;  // several batches per round
    std::vector<model::JobId> q_jobs;
    for (int i = 0; i < 7; ++i) q_jobs.push_back(h.enqueue("q", "misbehave.echo", "{}"));
    const auto dead = h.enqueue("q", "misbehave.fail", R"({"message":"no","permanent":true})");
    for (int i = 0; i < 3; ++i) h.enqueue("all", "misbehave.echo", "{}");
    for (int i = 0; i < 3; ++i) h.store().cancel(h.enqueue("all", "misbehave.echo", "{}", [](model::NewJob& j) { j.delay = 1h; }), std::chrono::system_clock::now());
    h.start();
    const auto counts = [&](const std::string& queue, JobState state) {
        const auto all = h.store().queue_counts({queue});
        return all.at(queue).by_state.at(state);
    };
    const auto ran_all = [&](const std::string& queue) {
        return counts(queue, JobState::waiting) == 0 && counts(queue, JobState::active) == 0 && counts(queue, JobState::delayed) == 0;
    };
    EXPECT_TRUE(t::eventually([&] { return ran_all("q") && counts("q", JobState::completed) == 2 && counts("q", JobState::dead) == 0; }, 60s))
        << counts("q", JobState::completed) << " completed, " << counts("q", JobState::dead) << " dead";
    EXPECT_TRUE(t::eventually([&] { return counts("all", JobState::cancelled) == 1; }, 60s)) << counts("all", JobState::cancelled);
    EXPECT_TRUE(t::eventually([&] { return ran_all("all") && counts("all", JobState::completed) == 3; }, 60s));
    EXPECT_FALSE(h.store().get(dead));
    EXPECT_FALSE(h.store().get(q_jobs.front())) << "the oldest went first";
    EXPECT_TRUE(t::eventually([&] { return h.host().stats().trimmed == 8; }, 60s)) << h.host().stats().trimmed;
    h.stop();
    EXPECT_EQ(counts("all", JobState::completed), 3u) << "no retention: every job kept";
}

TEST_F(HostTest, RetentionCountsEachBatchAsItGoesAndAHostStoppedHalfwayCountsWhatItDeleted)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n    retention: {completed: {count: 1}}\n");
    h.options().retention = 10ms;
    h.options().retention_batch = 1;  // one job per batch, 20 ms between batches: 4 s for all
    // A backlog of finished jobs, written as a host would have written them.
    const auto now = std::chrono::system_clock::now();
    for (int i = 0; i < 200; ++i) h.enqueue("q", "misbehave.echo", "{}");
    std::vector<store::QueueAllowance> queues(1);
    queues.front().queue = "q";
    auto claim = h.store().claim(queues, "backlog/0", 60s, now);
    while (claim) {
        model::AttemptRecord record{claim->job.id, claim->attempt_id, claim->number, "backlog/0", {}};
        record.outcome.kind = model::OutcomeKind::succeeded;
        store::Transition done;
        done.result = "{}";
        claim = h.store().finish_and_claim(record, done, now, queues, "backlog/0", 60s).claim;
    }
    const auto completed = [&] { return h.store().queue_counts({"q"}).at("q").by_state.at(JobState::completed); };
    ASSERT_EQ(completed(), 200u);
    h.start();
    EXPECT_TRUE(t::eventually([&] { return h.host().stats().trimmed >= 3; }, 60s)) << "batches are counted while the trim goes on";
    h.host().stop();  // run() joins the retention thread before it returns
    ASSERT_TRUE(t::eventually([&] { return h.run_ended(); }, 60s));
    const auto left = completed();
    EXPECT_GT(left, 1u) << "stopped before the backlog was gone";
    EXPECT_EQ(h.host().stats().trimmed, 200u - left) << "every deleted job is counted";
}

TEST_F(HostTest, ATimeoutWithThreeAttemptsRunsExactlyThreeTimes)
{
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n    retry: {max_attempts: 3, backoff: {type: fixed, delay: 10ms, jitter: 0}}\n"
                  "    sandbox: {timeout: 200ms, grace: 100ms}\n");
    h.start();
    const auto marks = h.marker("hang.marks");
    const auto id = h.enqueue("q", "marker.hang", path_payload(marks));
    const auto job = h.wait_final(id);
    EXPECT_EQ(job.state, JobState::dead);
    EXPECT_EQ(job.attempts, 3u);
    EXPECT_EQ(HostHarness::marks(marks), 3u) << "the task must have really run three times";
    for (const auto& a : h.store().attempts(id)) EXPECT_EQ(a.outcome.kind, model::OutcomeKind::timed_out);
    EXPECT_NE(job.error->find("no attempts left"), std::string::npos) << *job.error;
}

TEST_F(HostTest, BackoffDelaysStayWithinTheirJitter)
{
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n    retry: {max_attempts: 3, backoff: {type: fixed, delay: 300ms, jitter: 0.5}}\n");
    h.start();
    const auto id = h.enqueue("q", "marker.fail", path_payload(h.marker("m")));
    h.wait_final(id);
    const auto attempts = h.store().attempts(id);
    ASSERT_EQ(attempts.size(), 3u);
    for (std::size_t i = 1; i < attempts.size(); ++i) {
        const auto gap = attempts[i].outcome.started_at - attempts[i - 1].outcome.ended_at;
        EXPECT_GE(gap, 150ms) << "attempt " << i + 1 << " started before its backoff";
        EXPECT_LE(gap, 450ms + 2s) << "attempt " << i + 1 << " waited far longer than its backoff";
    }
}

TEST_F(HostTest, ACrashingJobIsDeadAfterMaxLost)
{
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n    max_lost: 2\n    retry: {max_attempts: 10, backoff: {type: fixed, delay: 10ms}}\n");
    h.start();
    const auto marks = h.marker("crash.marks");
    const auto job = h.wait_final(h.enqueue("q", "marker.crash", path_payload(marks)));
    EXPECT_EQ(job.state, JobState::dead);
    EXPECT_EQ(HostHarness::marks(marks), 2u);
    EXPECT_NE(job.error->find("max_lost 2"), std::string::npos) << *job.error;
}

TEST_F(HostTest, APermanentErrorIsDeadAtOnce)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n");
    h.start();
    const auto job = h.wait_final(h.enqueue("q", "misbehave.fail", R"({"message":"no","permanent":true})"));
    EXPECT_EQ(job.state, JobState::dead);
    EXPECT_EQ(job.attempts, 1u);
}

TEST_F(HostTest, TtlExpiresJobsThatDidNotStart)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n    ttl: 200ms\n");
    h.store().set_paused("q", true);
    h.start();
    const auto job = h.wait_final(h.enqueue("q", "misbehave.echo"));
    EXPECT_EQ(job.state, JobState::dead);
    EXPECT_EQ(job.attempts, 0u);
    EXPECT_NE(job.error->find("expired"), std::string::npos) << *job.error;
}

TEST_F(HostTest, HigherPriorityFirstThenFifo)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n    concurrency: 1\n", "", 1);
    h.store().set_paused("q", true);
    const auto low1 = h.enqueue("q", "misbehave.echo", "[1]", [](auto& j) { j.priority = 0; });
    const auto high = h.enqueue("q", "misbehave.echo", "[2]", [](auto& j) { j.priority = 10; });
    const auto low2 = h.enqueue("q", "misbehave.echo", "[3]", [](auto& j) { j.priority = 0; });
    const auto mid = h.enqueue("q", "misbehave.echo", "[4]", [](auto& j) { j.priority = 5; });
    h.start();
    h.store().set_paused("q", false);
    std::vector<std::pair<model::TimePoint, model::JobId>> starts;
    for (auto id : {low1, high, low2, mid}) {
        h.wait_final(id);
        starts.emplace_back(h.store().attempts(id).at(0).outcome.started_at, id);
    }
    std::sort(starts.begin(), starts.end());
    std::vector<model::JobId> order;
    for (auto& s : starts) order.push_back(s.second);
    EXPECT_EQ(order, (std::vector<model::JobId>{high, mid, low1, low2}));
}

TEST_F(HostTest, ADelayedJobWaitsItsDelay)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n");
    h.start();
    const auto before = std::chrono::system_clock::now();
    const auto id = h.enqueue("q", "misbehave.echo", "{}", [](auto& j) { j.delay = 300ms; });
    EXPECT_EQ(h.store().get(id)->state, JobState::delayed);
    h.wait_final(id);
    EXPECT_GE(h.store().attempts(id).at(0).outcome.started_at - before, 300ms);
}

TEST_F(HostTest, DependentsSeeTheirDependenciesResults)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n");
    h.store().set_paused("q", true);
    const auto first = h.enqueue("q", "misbehave.echo", R"({"v":1})");
    const auto second = h.enqueue("q", "misbehave.echo", R"({"w":2})");
    const auto dependent = h.enqueue("q", "misbehave.echo", R"({"own":true})", [&](auto& j) { j.depends_on = {first, second}; });
    EXPECT_EQ(h.store().get(dependent)->state, JobState::blocked);
    h.start();
    h.store().set_paused("q", false);
    const auto job = h.wait_final(dependent);
    ASSERT_EQ(job.state, JobState::completed);
    Poco::JSON::Parser parser;
    auto payload = parser.parse(*job.result).extract<Poco::JSON::Object::Ptr>();
    EXPECT_TRUE(payload->getValue<bool>("own"));
    auto deps = payload->getObject(k_dependencies_key);
    ASSERT_TRUE(deps) << *job.result;
    EXPECT_EQ(deps->getObject(std::to_string(first))->getValue<int>("v"), 1);
    EXPECT_EQ(deps->getObject(std::to_string(second))->getValue<int>("w"), 2);
    // Each step ran in its own worker.
    EXPECT_NE(h.store().attempts(first).at(0).outcome.pid, h.store().attempts(dependent).at(0).outcome.pid);
}

TEST_F(HostTest, ADeadDependencyKillsItsDependents)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n");
    h.start();
    const auto failing = h.enqueue("q", "misbehave.fail", R"({"message":"x","permanent":true})", [](auto& j) { j.delay = 200ms; });
    const auto dependent = h.enqueue("q", "misbehave.echo", "{}", [&](auto& j) { j.depends_on = {failing}; });
    const auto grandchild = h.enqueue("q", "misbehave.echo", "{}", [&](auto& j) { j.depends_on = {dependent}; });
    EXPECT_EQ(h.wait_final(failing).state, JobState::dead);
    EXPECT_EQ(h.wait_final(dependent).state, JobState::dead);
    EXPECT_EQ(h.wait_final(grandchild).state, JobState::dead);
    EXPECT_EQ(h.store().get(dependent)->attempts, 0u);
}

TEST_F(HostTest, CancellingAWaitingJob)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n");
    h.store().set_paused("q", true);
    h.start();
    const auto id = h.enqueue("q", "misbehave.echo");
    EXPECT_EQ(h.store().cancel(id, std::chrono::system_clock::now()), store::CancelResult::cancelled);
    h.store().set_paused("q", false);
    EXPECT_EQ(h.wait_final(id).state, JobState::cancelled);
    EXPECT_EQ(h.store().get(id)->attempts, 0u);
}

TEST_F(HostTest, CancellingARunningJobStopsItsWorker)
{
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n");
    h.start();
    const auto marks = h.marker("m");
    const auto id = h.enqueue("q", "marker.hang", path_payload(marks));
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 1; }));
    EXPECT_EQ(h.store().cancel(id, std::chrono::system_clock::now()), store::CancelResult::requested);
    const auto job = h.wait_final(id);
    EXPECT_EQ(job.state, JobState::cancelled);
    const auto attempts = h.store().attempts(id);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].outcome.kind, model::OutcomeKind::cancelled);
    EXPECT_TRUE(t::workers_of(::getpid()).empty());
}

TEST_F(HostTest, RetryingADeadJobRunsItAgain)
{
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n    retry: {max_attempts: 1}\n");
    h.start();
    const auto marks = h.marker("m");
    const auto id = h.enqueue("q", "marker.fail", path_payload(marks));
    EXPECT_EQ(h.wait_final(id).state, JobState::dead);
    ASSERT_TRUE(h.store().retry(id, std::chrono::system_clock::now()));
    const auto job = h.wait_final(id);
    EXPECT_EQ(job.state, JobState::dead);
    EXPECT_EQ(HostHarness::marks(marks), 2u);
    EXPECT_EQ(job.attempts, 2u);
}

TEST_F(HostTest, APausedQueueKeepsItsJobsUntilResumed)
{
    HostHarness h("  paused:\n    tasks: [\"misbehave.*\"]\n  other:\n    tasks: [\"misbehave.*\"]\n");
    h.store().set_paused("paused", true);
    h.start();
    const auto held = h.enqueue("paused", "misbehave.echo");
    const auto other = h.enqueue("other", "misbehave.echo");
    EXPECT_EQ(h.wait_final(other).state, JobState::completed);
    // The host has claimed since the held job was stored, and left it alone.
    EXPECT_EQ(h.store().get(held)->state, JobState::waiting);
    h.store().set_paused("paused", false);
    EXPECT_EQ(h.wait_final(held).state, JobState::completed);
}

TEST_F(HostTest, ConcurrencyLimitsAreNeverExceeded)
{
    HostHarness h("  a:\n    tasks: [\"misbehave.*\"]\n    concurrency: 2\n  b:\n    tasks: [\"misbehave.*\"]\n    concurrency: 2\n", "", 3);
    h.start();
    // The host describes its plugins in workers of its own before it claims: not jobs.
    ASSERT_TRUE(t::eventually([&] {
        const auto hosts = h.store().hosts();
        return !hosts.empty() && hosts[0].catalog_at.time_since_epoch().count() != 0;
    }));
    std::atomic<bool> sampling{true};
    std::size_t peak_workers = 0;
    std::thread sampler([&] {
        while (sampling) {
            std::size_t workers = 0;
            for (pid_t pid : os::children_of(::getpid())) {
                if (os::read_cmdline(pid).find("sandhost-worker") != std::string::npos) ++workers;
            }
            peak_workers = std::max(peak_workers, workers);
            std::this_thread::sleep_for(1ms);
        }
    });
    std::vector<model::JobId> ids;
    for (int i = 0; i < 8; ++i) {
        ids.push_back(h.enqueue(i % 2 ? "a" : "b", "misbehave.sleep", R"({"ms":100})"));
    }
    for (auto id : ids) EXPECT_EQ(h.wait_final(id).state, JobState::completed);
    sampling = false;
    sampler.join();
    const auto stats = h.host().stats();
    EXPECT_LE(peak_workers, 3u);
    EXPECT_GE(peak_workers, 2u) << "the limit must have been reached for the test to mean anything";
    EXPECT_LE(stats.peak_running, 3u);
    EXPECT_LE(stats.peak_running_by_queue.at("a"), 2u);
    EXPECT_LE(stats.peak_running_by_queue.at("b"), 2u);
}

TEST_F(HostTest, RateLimitsSpaceOutClaims)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n    concurrency: 4\n    rate_limit: {jobs: 2, per: 500ms}\n");
    std::vector<model::JobId> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(h.enqueue("q", "misbehave.echo"));
    h.start();
    std::vector<model::TimePoint> starts;
    for (auto id : ids) {
        h.wait_final(id);
        starts.push_back(h.store().attempts(id).at(0).outcome.started_at);
    }
    std::sort(starts.begin(), starts.end());
    // In any 500 ms window, at most 2 starts.
    for (std::size_t i = 2; i < starts.size(); ++i) EXPECT_GE(starts[i] - starts[i - 2], 450ms) << i;
}

// Jobs wait before the hosts start, so that each claims several in one store step: the step
// takes no more than the host's slots of the queue, and global_concurrency counts the jobs
// the other host holds and those the step itself took.
TEST_F(HostTest, BatchedClaimsHonourConcurrencyAndGlobalConcurrencyAcrossTwoHosts)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n    concurrency: 3\n    global_concurrency: 4\n", "", 8);
    std::vector<model::JobId> ids;
    for (int i = 0; i < 16; ++i) ids.push_back(h.enqueue("q", "misbehave.sleep", R"({"ms":150})"));
    auto settings = std::make_shared<config::Settings>(h.settings());
    settings->host.name = "second-host";
    scheduler::Host second(settings, scheduler::open_configured_store(settings->host), h.options());
    auto observer = scheduler::open_configured_store(h.settings().host);
    std::atomic<bool> sampling{true};
    std::uint64_t peak_active = 0;
    std::thread sampler([&] {
        while (sampling) {
            peak_active = std::max(peak_active, observer->queue_counts({"q"})["q"].by_state[JobState::active]);
            std::this_thread::sleep_for(2ms);
        }
    });
    h.start();
    std::thread second_thread([&] { second.run(); });
    for (auto id : ids) EXPECT_EQ(h.wait_final(id).state, JobState::completed);
    sampling = false;
    sampler.join();
    second.stop();
    second_thread.join();
    const auto first_stats = h.host().stats();
    const auto second_stats = second.stats();
    EXPECT_LE(peak_active, 4u) << "global_concurrency";
    EXPECT_GE(peak_active, 3u) << "the limits must have been reached for the test to mean anything";
    EXPECT_LE(first_stats.peak_running_by_queue.at("q"), 3u);
    if (second_stats.peak_running_by_queue.count("q")) {
        EXPECT_LE(second_stats.peak_running_by_queue.at("q"), 3u);
    }
    EXPECT_EQ(first_stats.claimed + second_stats.claimed, ids.size()) << "one attempt each";
}

TEST_F(HostTest, SchedulesFireOncePerPeriodWithTwoHosts)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n",
                  "schedules:\n  - {name: tick, queue: q, task: misbehave.echo, payload: {t: 1}, every: 300ms}\n");
    h.start();
    // A second host on the same store, same schedules, another name.
    auto settings = std::make_shared<config::Settings>(h.settings());
    settings->host.name = "second-host";
    scheduler::HostOptions options = h.options();
    scheduler::Host second(settings, scheduler::open_configured_store(settings->host), options);
    std::thread second_thread([&] { second.run(); });
    ASSERT_TRUE(t::eventually([&] {
        store::JobFilter f;
        f.state = JobState::completed;
        return h.store().list(f).size() >= 5;
    }));
    second.stop();
    second_thread.join();
    h.stop();
    store::JobFilter all;
    all.limit = 1000;
    const auto jobs = h.store().list(all);
    std::set<model::TimePoint> created;
    for (const auto& j : jobs) {
        EXPECT_EQ(j.schedule, "tick");
        created.insert(j.created_at);
    }
    // Fired once per 300 ms period: no two jobs closer than a period apart.
    std::vector<model::TimePoint> times(created.begin(), created.end());
    for (std::size_t i = 1; i < times.size(); ++i) EXPECT_GE(times[i] - times[i - 1], 150ms) << "double firing";
}

TEST_F(HostTest, AResultOnAStaleLeaseIsRefused)
{
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n", "", 4, "  lease: 600ms\n");
    h.start();
    const auto marks = h.marker("m");
    const auto id = h.enqueue("q", "marker.sleep", path_payload(marks, R"(,"ms":400)"));
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 1; }));
    // Another host takes the job over as if this one had died: the running attempt's lease is
    // stale from now on and its result must be refused.
    const auto claim_holder = h.store().get(id)->lease->holder;
    auto lost = h.store().lost_attempts("test-host", "test-host/someone-else", std::chrono::system_clock::now());
    ASSERT_EQ(lost.size(), 1u);
    model::Outcome o;
    o.kind = model::OutcomeKind::worker_lost;
    store::Transition tr;
    tr.next = JobState::cancelled;
    ASSERT_TRUE(h.store().recover({id, lost[0].attempt_id, lost[0].number, claim_holder, o}, tr, std::chrono::system_clock::now()));
    ASSERT_TRUE(t::eventually([&] { return h.host().stats().refused == 1; }));
    EXPECT_EQ(h.store().get(id)->state, JobState::cancelled);
    EXPECT_EQ(h.store().attempts(id).size(), 1u);
}

// The run loop renews leases, and attempts' threads record their own endings and claims: with
// the recorder's turn passed from one ending to the next without a gap, the run loop must
// still get it. Four slots end trivial jobs run in the host, back to back, for as long as a
// fifth runs a job of three leases' length, whose lease only the run loop renews: it completes
// in its first attempt. The lease is long enough for a loaded machine under the sanitizers.
// Which waiting thread gets the turn next is the kernel's to decide: a build without the run
// loop's precedence passes here too. This holds the renewals under the load that precedence is
// for.
TEST_F(HostTest, ALongAttemptsLeaseIsRenewedWhileOtherAttemptsEndWithoutPause)
{
    // What the host's threads touch lives longer than the host: `h` stops it first.
    std::mutex mutex;
    std::condition_variable recorded_more;
    std::size_t churn_recorded = 0;
    std::size_t churn_recorded_while_long_ran = 0;
    bool long_running = false;
    model::JobId long_job = 0;
    HostHarness h("  long:\n    tasks: [\"misbehave.*\"]\n    concurrency: 1\n"
                  "  churn:\n    tasks: [\"misbehave.*\"]\n    concurrency: 4\n    sandbox: {enabled: false}\n",
                  "", 6, "  lease: 1500ms\n");
    long_job = h.enqueue("long", "misbehave.sleep", R"({"ms":4500})");
    h.options().on_recorded = [&](const RecordedAttempt& attempt) {
        std::lock_guard lock(mutex);
        if (attempt.job == long_job) return;
        ++churn_recorded;
        if (long_running) ++churn_recorded_while_long_ran;
        recorded_more.notify_all();
    };
    // Keeps about a thousand churn jobs waiting until the long job has ended.
    bool done = false;
    std::size_t enqueued = 0;
    std::thread producer([&] {
        std::unique_lock lock(mutex);
        while (!done) {
            if (enqueued - churn_recorded < 1000) {
                lock.unlock();
                std::vector<model::NewJob> jobs(500);
                for (auto& job : jobs) {
                    job.queue = "churn";
                    job.task = "misbehave.echo";
                    job.payload = "{}";
                }
                h.store().enqueue_jobs(jobs, std::chrono::system_clock::now());
                lock.lock();
                enqueued += jobs.size();
                continue;
            }
            recorded_more.wait(lock);
        }
    });
    struct StopProducer {
        std::mutex& mutex;
        std::condition_variable& cv;
        bool& done;
        std::thread& producer;
        ~StopProducer()
        {
            {
                std::lock_guard lock(mutex);
                done = true;
            }
            cv.notify_all();
            producer.join();
        }
    } stop_producer{mutex, recorded_more, done, producer};
    h.start();
    ASSERT_TRUE(t::eventually([&] { return h.store().get(long_job)->state == JobState::active; }));
    {
        std::lock_guard lock(mutex);
        long_running = true;
    }
    const auto ended = h.wait_final(long_job);
    {
        std::lock_guard lock(mutex);
        long_running = false;
    }
    EXPECT_EQ(ended.state, JobState::completed) << ended.error.value_or("");
    EXPECT_EQ(h.store().attempts(long_job).size(), 1u);
    std::lock_guard lock(mutex);
    EXPECT_GT(churn_recorded_while_long_ran, 0u) << "nothing else ended while the long job ran";
}

TEST_F(HostTest, DrainLetsRunningAttemptsFinish)
{
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n");
    h.start();
    const auto marks = h.marker("m");
    const auto id = h.enqueue("q", "marker.sleep", path_payload(marks, R"(,"ms":300)"));
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 1; }));
    h.stop();
    EXPECT_EQ(h.store().get(id)->state, JobState::completed);
}

TEST_F(HostTest, PastTheDrainDeadlineAttemptsAreStoppedAndRunAgainLater)
{
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n    retry: {max_attempts: 1}\n");
    h.options().drain = 200ms;
    h.start();
    const auto marks = h.marker("m");
    const auto id = h.enqueue("q", "marker.hang", path_payload(marks));
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 1; }));
    h.stop();
    const auto job = h.store().get(id);
    EXPECT_EQ(job->state, JobState::waiting) << "not the job's fault: it must run again";
    EXPECT_EQ(job->attempts_since_retry, 0u) << "and without using up its only attempt";
    const auto attempts = h.store().attempts(id);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].outcome.kind, model::OutcomeKind::worker_lost);
}

TEST_F(HostTest, ALostAttemptRecordsHowLongItRanSinceItsClaim)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n");
    const auto id = h.enqueue("q", "misbehave.echo", "{}");
    // Another host claimed it 90 s ago with a lease of 1 s, and died.
    const auto claimed_at = std::chrono::system_clock::now() - 90s;
    store::QueueAllowance allowance;
    allowance.queue = "q";
    const auto claim = h.store().claim({allowance}, "gone/elsewhere:1:1", 1s, std::chrono::time_point_cast<model::Duration>(claimed_at));
    ASSERT_TRUE(claim);
    h.start();
    h.wait_final(id);
    const auto attempts = h.store().attempts(id);
    ASSERT_GE(attempts.size(), 1u);
    const auto& lost = attempts[0].outcome;
    EXPECT_EQ(lost.kind, model::OutcomeKind::worker_lost);
    EXPECT_EQ(lost.started_at, std::chrono::time_point_cast<model::Duration>(claimed_at));
    EXPECT_GE(lost.duration, 90s) << "not \"in 0 ms\": from its claim to its recovery";
}

TEST_F(HostTest, AHostWhoseStoreFileIsDeletedStopsItsWorkersAndFailsNamingWhy)
{
    HostHarness h("  q:\n    tasks: [\"marker.*\"]\n");
    h.start();
    const auto marks = h.marker("m");
    h.enqueue("q", "marker.hang", path_payload(marks));
    ASSERT_TRUE(t::eventually([&] { return HostHarness::marks(marks) == 1; }));
    std::filesystem::remove(h.dir() / "jobs.db");
    ASSERT_TRUE(t::eventually([&] { return h.run_ended(); }, std::chrono::seconds(30))) << "the host went on with a deleted store";
    const std::string error = h.run_error().value_or("");
    EXPECT_NE(error.find("jobs.db"), std::string::npos) << error;
    EXPECT_NE(error.find("the file was deleted"), std::string::npos) << error;
    EXPECT_FALSE(std::filesystem::exists(h.dir() / "jobs.db")) << "nothing may recreate the store behind the host";
    EXPECT_TRUE(t::eventually([&] { return t::leftover_processes().empty(); })) << "the hanging worker must be stopped";
}

TEST_F(HostTest, APluginThatCrashesWhileLoadingIsLoadFailedAndNotRetriedLikeATaskCrash)
{
    HostHarness h("  q:\n    tasks: [\"ctor_crash.*\", \"init_fails.*\", \"marker.*\"]\n    retry: {max_attempts: 3}\n");
    h.start();
    const auto crashing = h.enqueue("q", "ctor_crash.nothing");
    const auto failing_init = h.enqueue("q", "init_fails.nothing");
    const auto marks = h.marker("m");
    const auto healthy = h.enqueue("q", "marker.succeed", path_payload(marks));
    EXPECT_EQ(h.wait_final(healthy).state, JobState::completed) << "the other plugins' jobs run";
    for (const auto id : {crashing, failing_init}) {
        EXPECT_EQ(h.wait_final(id).state, JobState::dead) << id;
        const auto attempts = h.store().attempts(id);
        ASSERT_EQ(attempts.size(), 1u) << "not retried";
        EXPECT_EQ(attempts[0].outcome.kind, model::OutcomeKind::load_failed);
    }
    const auto crashed = h.store().attempts(crashing).at(0).outcome;
    EXPECT_NE(crashed.error.find("SIGSEGV while loading the plugin"), std::string::npos) << crashed.error;
}

TEST_F(HostTest, ReloadAddsQueuesForNewClaims)
{
    HostHarness h("  q:\n    tasks: [\"misbehave.*\"]\n");
    h.start();
    auto settings = std::make_shared<config::Settings>(h.settings());
    auto added = settings->queues.front();
    added.name = "added";
    settings->queues.insert(settings->queues.begin(), added);  // the loader keeps queues sorted by name
    h.host().reload(settings);
    EXPECT_EQ(h.wait_final(h.enqueue("added", "misbehave.echo")).state, JobState::completed);
}

} // namespace
} // namespace sandhost::scheduler
