// The Store contract (store.h): states, transitions, ordering, leases, dependencies, schedules,
// purges. Through Store& only: every test runs on a fresh store of every kind and a fixed clock.
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

namespace sandhost::store {
namespace {

using namespace testing;
using model::OutcomeKind;
using ::testing::HasSubstr;

class StoreContractTest : public StoreTest {};

INSTANTIATE_TEST_SUITE_P(Stores, StoreContractTest, ::testing::ValuesIn(store_kinds()), store_kind_name);

TEST_P(StoreContractTest, EnqueuedJobReadsBackFieldForField)
{
    model::NewJob n = new_job("legacy", 7);
    n.task = "legacy_c.checksum";
    n.payload = std::string("{\"path\": \"/data\"}\0tail", 22);
    n.timeout = ms(5000);
    n.max_attempts = 3;
    n.ttl = ms(60'000);
    n.schedule = "nightly";
    const model::JobId id = store().enqueue(n, t(0));

    const model::Job j = job(id);
    EXPECT_EQ(j.id, id);
    EXPECT_EQ(j.queue, "legacy");
    EXPECT_EQ(j.task, "legacy_c.checksum");
    EXPECT_EQ(j.payload, n.payload);
    EXPECT_EQ(j.priority, 7);
    EXPECT_EQ(j.state, model::JobState::waiting);
    EXPECT_EQ(j.created_at, t(0));
    EXPECT_EQ(j.updated_at, t(0));
    EXPECT_EQ(j.run_at, t(0));
    EXPECT_EQ(j.expires_at, t(60'000));
    EXPECT_EQ(j.timeout, ms(5000));
    EXPECT_EQ(j.max_attempts, 3u);
    EXPECT_TRUE(j.depends_on.empty());
    EXPECT_EQ(j.attempts, 0u);
    EXPECT_EQ(j.attempts_since_retry, 0u);
    EXPECT_EQ(j.lost, 0u);
    EXPECT_FALSE(j.result);
    EXPECT_FALSE(j.error);
    EXPECT_FALSE(j.progress);
    EXPECT_FALSE(j.lease);
    EXPECT_FALSE(j.cancel_requested);
    EXPECT_EQ(j.schedule, "nightly");
    EXPECT_FALSE(store().get(id + 1000));
}

TEST_P(StoreContractTest, DelayedJobIsNotClaimableBeforeRunAt)
{
    model::NewJob n = new_job();
    n.delay = ms(5000);
    const model::JobId id = store().enqueue(n, t(0));
    EXPECT_EQ(job(id).state, model::JobState::delayed);
    EXPECT_EQ(job(id).run_at, t(5000));

    EXPECT_FALSE(store().claim(allow({"q"}), "host/1", ms(1000), t(4999)));
    EXPECT_EQ(job(id).state, model::JobState::delayed);
    auto claimed = store().claim(allow({"q"}), "host/1", ms(1000), t(5000));
    ASSERT_TRUE(claimed);
    EXPECT_EQ(claimed->job.id, id);
}

TEST_P(StoreContractTest, ClaimMakesTheJobActiveWithALeaseAndAFreshAttempt)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(100), "host-a/instance-1");
    EXPECT_EQ(c.job.id, id);
    EXPECT_EQ(c.job.state, model::JobState::active);
    EXPECT_EQ(c.number, 1u);
    EXPECT_EQ(c.job.attempts, 1u);
    EXPECT_EQ(c.job.attempts_since_retry, 1u);
    ASSERT_TRUE(c.job.lease);
    EXPECT_EQ(c.job.lease->holder, "host-a/instance-1");
    EXPECT_EQ(c.job.lease->expires_at, t(10'100));
    EXPECT_EQ(c.job.lease->attempt_id, c.attempt_id);
    EXPECT_GT(c.attempt_id, 0);
    EXPECT_EQ(job(id).state, model::JobState::active);
    EXPECT_FALSE(store().claim(allow({"q"}), "host-a/instance-1", ms(1000), t(100))) << "claimed twice";
    EXPECT_FALSE(store().claim(allow({"other"}), "host-a/instance-1", ms(1000), t(100)));
}

TEST_P(StoreContractTest, AttemptIdsAreUniqueAcrossTheStoreEvenAfterPurge)
{
    std::set<model::AttemptId> seen;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 3; ++i) store().enqueue(new_job(), t(round * 10));
        for (int i = 0; i < 3; ++i) {
            const Claim c = claim_one("q", t(round * 10 + 1));
            EXPECT_TRUE(seen.insert(c.attempt_id).second) << "attempt id " << c.attempt_id << " handed out twice";
            ASSERT_EQ(store().finish(record_of(c, OutcomeKind::succeeded, t(round * 10 + 2)), completed_with("ok"),
                                     t(round * 10 + 2)),
                      model::JobState::completed);
        }
        EXPECT_EQ(store().purge(model::JobState::completed, t(1'000'000)), 3u);
    }
}

TEST_P(StoreContractTest, HigherPriorityFirstThenFifo)
{
    const model::JobId low1 = store().enqueue(new_job("q", 0), t(0));
    const model::JobId high1 = store().enqueue(new_job("q", 5), t(1));
    const model::JobId low2 = store().enqueue(new_job("q", 0), t(2));
    const model::JobId high2 = store().enqueue(new_job("q", 5), t(3));
    const model::JobId top = store().enqueue(new_job("q", 9), t(4));
    std::vector<model::JobId> order;
    for (int i = 0; i < 5; ++i) order.push_back(claim_one("q", t(10)).job.id);
    EXPECT_EQ(order, (std::vector<model::JobId>{top, high1, high2, low1, low2}));
}

TEST_P(StoreContractTest, PriorityOrderHoldsAcrossQueuesAndDelayedJobs)
{
    const model::JobId a_low = store().enqueue(new_job("a", 1), t(0));
    const model::JobId b_high = store().enqueue(new_job("b", 3), t(1));
    model::NewJob delayed = new_job("a", 3);
    delayed.delay = ms(5);
    const model::JobId a_delayed_high = store().enqueue(delayed, t(0));  // run_at t(5)
    const model::JobId b_low_later = store().enqueue(new_job("b", 1), t(6));

    std::vector<model::JobId> order;
    while (auto c = store().claim(allow({"a", "b"}), "host/1", ms(1000), t(10))) order.push_back(c->job.id);
    // Priority 3: the delayed job became due at t(5), after b_high's run_at t(1).
    EXPECT_EQ(order, (std::vector<model::JobId>{b_high, a_delayed_high, a_low, b_low_later}));
}

TEST_P(StoreContractTest, DelayedJobsOfEveryPriorityTakeTheirTurnOnceDue)
{
    auto delayed = [&](const std::string& queue, int priority, std::int64_t due) {
        model::NewJob n = new_job(queue, priority);
        n.delay = ms(due);
        return store().enqueue(n, t(0));
    };
    const model::JobId a_top_later = delayed("a", 9, 100);
    const model::JobId a_mid_first = delayed("a", 5, 10);
    const model::JobId a_mid_second = delayed("a", 5, 50);
    const model::JobId a_mid_waiting = store().enqueue(new_job("a", 5), t(20));
    const model::JobId a_low_delayed = delayed("a", 1, 5);
    const model::JobId a_lowest = store().enqueue(new_job("a", 0), t(0));
    const model::JobId b_later = delayed("b", 7, 1000);
    const model::JobId b_waiting = store().enqueue(new_job("b", 3), t(0));
    // Many delayed jobs that are not due yet, above and below the ones that are.
    for (int i = 0; i < 50; ++i) delayed(i % 2 ? "a" : "b", i % 2 ? 8 : -1, 10'000 + i);

    std::vector<model::JobId> order;
    while (auto c = store().claim(allow({"a", "b"}), "host/1", ms(1000), t(60))) order.push_back(c->job.id);
    // Not due at t(60): a_top_later (t(100)), b_later and the 50. Within priority 5, FIFO by
    // run_at across delayed and waiting jobs.
    EXPECT_EQ(order, (std::vector<model::JobId>{a_mid_first, a_mid_waiting, a_mid_second, b_waiting, a_low_delayed,
                                         a_lowest}));
    EXPECT_EQ(job(a_top_later).state, model::JobState::delayed);
    auto top = store().claim(allow({"a", "b"}), "host/1", ms(1000), t(100));
    ASSERT_TRUE(top);
    EXPECT_EQ(top->job.id, a_top_later);
    EXPECT_FALSE(store().claim(allow({"a", "b"}), "host/1", ms(1000), t(999)));
    auto last = store().claim(allow({"b"}), "host/1", ms(1000), t(1000));
    ASSERT_TRUE(last);
    EXPECT_EQ(last->job.id, b_later);
}

TEST_P(StoreContractTest, EmptyBytesReadBackEmptyNotMissing)
{
    model::NewJob n = new_job();
    n.payload.clear();
    const model::JobId id = store().enqueue(n, t(0));
    EXPECT_EQ(job(id).payload, "");
    const Claim c = claim_one("q", t(1));
    ASSERT_TRUE(store().set_progress(id, c.attempt_id, model::Progress{1, ""}));
    ASSERT_TRUE(job(id).progress);
    EXPECT_EQ(job(id).progress->message, "");
    Transition done = completed_with("");
    done.error = "";
    ASSERT_EQ(store().finish(record_of(c, OutcomeKind::succeeded, t(2)), done, t(2)), model::JobState::completed);
    EXPECT_EQ(job(id).result, std::optional<std::string>(""));
    EXPECT_EQ(job(id).error, std::optional<std::string>(""));
    EXPECT_EQ(store().results({id}), (std::map<model::JobId, std::string>{{id, ""}}));
    ASSERT_EQ(store().attempts(id).size(), 1u);
    EXPECT_EQ(store().attempts(id)[0].outcome.result, "");
}

TEST_P(StoreContractTest, CallsKeepWorkingAfterRefusedRequestsAndRolledBackTransactions)
{
    std::size_t completed = 0;
    for (int round = 0; round < 50; ++round) {
        // Refused inside a write transaction, after some of its statements ran.
        model::NewJob orphan = new_job();
        orphan.depends_on = {1'000'000 + round};
        EXPECT_THROW(store().enqueue(orphan, t(round)), StoreRequestError);
        EXPECT_THROW(store().retry(2'000'000 + round, t(round)), StoreRequestError);

        const model::JobId id = store().enqueue(new_job(), t(round));
        const Claim c = claim_one("q", t(round));
        ASSERT_EQ(c.job.id, id);
        // A stale attempt: the write transaction ends without a commit.
        model::AttemptRecord stale = record_of(c, OutcomeKind::succeeded, t(round));
        stale.attempt_id += 1000;
        EXPECT_FALSE(store().finish(stale, completed_with("no"), t(round)));
        EXPECT_THROW(store().finish(record_of(c, OutcomeKind::succeeded, t(round)), to(model::JobState::active), t(round)),
                     StoreRequestError);
        ASSERT_TRUE(store().renew(id, c.attempt_id, t(round + 5000)));
        ASSERT_EQ(store().finish(record_of(c, OutcomeKind::succeeded, t(round)), completed_with("ok"), t(round)), model::JobState::completed);
        ++completed;
    }
    EXPECT_EQ(store().queue_counts({})["q"].by_state[model::JobState::completed], completed);
    EXPECT_EQ(store().list(JobFilter{}).size(), completed) << "nothing refused was stored";
}

TEST_P(StoreContractTest, ExpiredJobsFoundByClaimGoDeadAndTheNextOneIsClaimed)
{
    model::NewJob short_lived = new_job("q", 5);
    short_lived.ttl = ms(1000);
    const model::JobId expiring = store().enqueue(short_lived, t(0));
    model::NewJob dependent = new_job("q");
    dependent.depends_on = {expiring};
    const model::JobId blocked = store().enqueue(dependent, t(0));
    const model::JobId fine = store().enqueue(new_job("q", 0), t(0));

    EXPECT_EQ(job(blocked).state, model::JobState::blocked);
    const Claim c = claim_one("q", t(1000));
    EXPECT_EQ(c.job.id, fine);
    EXPECT_EQ(job(expiring).state, model::JobState::dead);
    EXPECT_EQ(job(expiring).error, "expired: not started within its ttl");
    EXPECT_EQ(job(expiring).attempts, 0u);
    EXPECT_EQ(job(blocked).state, model::JobState::dead);
    EXPECT_EQ(job(blocked).error, "dependency " + std::to_string(expiring) + " is dead");
}

TEST_P(StoreContractTest, JobNotYetExpiredIsClaimed)
{
    model::NewJob n = new_job();
    n.ttl = ms(1000);
    const model::JobId id = store().enqueue(n, t(0));
    EXPECT_EQ(claim_one("q", t(999)).job.id, id);
}

TEST_P(StoreContractTest, ExpireKillsNotStartedJobsPastTheirTtl)
{
    model::NewJob n = new_job();
    n.ttl = ms(100);
    const model::JobId running = store().enqueue(n, t(0));
    ASSERT_EQ(claim_one("q", t(1)).job.id, running);
    const model::JobId waiting = store().enqueue(n, t(0));
    n.delay = ms(50);
    const model::JobId delayed = store().enqueue(n, t(0));
    n.delay.reset();
    n.depends_on = {running};
    const model::JobId blocked = store().enqueue(n, t(0));
    n.depends_on = {blocked};
    n.ttl = ms(10'000);
    const model::JobId blocked_on_blocked = store().enqueue(n, t(0));
    model::NewJob later = new_job();
    later.ttl = ms(500);
    const model::JobId not_yet = store().enqueue(later, t(0));
    const model::JobId forever = store().enqueue(new_job(), t(0));

    EXPECT_EQ(store().expire(t(99)), 0u);
    EXPECT_EQ(store().expire(t(100)), 3u);
    for (model::JobId id : {waiting, delayed, blocked}) {
        EXPECT_EQ(job(id).state, model::JobState::dead) << id;
        EXPECT_EQ(job(id).error, "expired: not started within its ttl") << id;
        EXPECT_EQ(job(id).updated_at, t(100)) << id;
    }
    EXPECT_EQ(job(blocked_on_blocked).state, model::JobState::dead) << "the cascade, not counted as expired";
    EXPECT_EQ(job(blocked_on_blocked).error, "dependency " + std::to_string(blocked) + " is dead");
    EXPECT_EQ(job(running).state, model::JobState::active) << "an attempt started in time";
    EXPECT_EQ(job(not_yet).state, model::JobState::waiting);
    EXPECT_EQ(store().expire(t(500)), 1u);
    EXPECT_EQ(job(not_yet).state, model::JobState::dead);
    EXPECT_EQ(store().expire(t(1'000'000)), 0u);
    EXPECT_EQ(job(forever).state, model::JobState::waiting);
}

TEST_P(StoreContractTest, FinishCompletedKeepsResultRecordAndProgress)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(10));
    ASSERT_TRUE(store().set_progress(id, c.attempt_id, model::Progress{50, "half"}));
    EXPECT_EQ(job(id).progress->percent, 50);
    EXPECT_EQ(job(id).progress->message, "half");

    model::AttemptRecord r = record_of(c, OutcomeKind::succeeded, t(30));
    r.outcome.result = std::string("{\"sum\": 1}\0", 11);
    r.outcome.stdout_tail = "printed";
    r.outcome.stderr_tail = "warned \xFF";
    r.outcome.max_rss_kb = 2048;
    r.outcome.cpu_ms = 15;
    ASSERT_EQ(store().finish(r, completed_with(r.outcome.result), t(30)), model::JobState::completed);

    const model::Job j = job(id);
    EXPECT_EQ(j.state, model::JobState::completed);
    EXPECT_EQ(j.result, r.outcome.result);
    EXPECT_FALSE(j.error);
    EXPECT_FALSE(j.lease);
    EXPECT_EQ(j.updated_at, t(30));
    ASSERT_TRUE(j.progress);
    EXPECT_EQ(j.progress->message, "half");

    const auto attempts = store().attempts(id);
    ASSERT_EQ(attempts.size(), 1u);
    const model::AttemptRecord& a = attempts[0];
    EXPECT_EQ(a.job_id, id);
    EXPECT_EQ(a.attempt_id, c.attempt_id);
    EXPECT_EQ(a.number, 1u);
    EXPECT_EQ(a.host, "host/1");
    EXPECT_EQ(a.outcome.kind, OutcomeKind::succeeded);
    EXPECT_EQ(a.outcome.result, r.outcome.result);
    EXPECT_EQ(a.outcome.stdout_tail, "printed");
    EXPECT_EQ(a.outcome.stderr_tail, "warned \xEF\xBF\xBD");
    EXPECT_EQ(a.outcome.pid, 4242);
    EXPECT_EQ(a.outcome.max_rss_kb, 2048u);
    EXPECT_EQ(a.outcome.cpu_ms, 15u);
    EXPECT_EQ(a.outcome.started_at, t(10));
    EXPECT_EQ(a.outcome.ended_at, t(30));
    EXPECT_EQ(store().results({id, id + 1}), (std::map<model::JobId, std::string>{{id, r.outcome.result}}));
}

TEST_P(StoreContractTest, FinishAndClaimRecordsTheAttemptAndTakesTheNextJob)
{
    const model::JobId first = store().enqueue(new_job(), t(0));
    const model::JobId second = store().enqueue(new_job(), t(1));
    const Claim c = claim_one("q", t(10));
    ASSERT_EQ(c.job.id, first);
    const model::AttemptRecord r = record_of(c, OutcomeKind::succeeded, t(20));
    const auto both = store().finish_and_claim(r, completed_with("done"), t(20), allow({"q"}), "host/1", ms(5000));
    EXPECT_EQ(both.applied, model::JobState::completed);
    EXPECT_FALSE(both.claim_error);
    ASSERT_TRUE(both.claim);
    EXPECT_EQ(both.claim->job.id, second);
    EXPECT_EQ(both.claim->number, 1u);
    ASSERT_TRUE(both.claim->job.lease);
    EXPECT_EQ(both.claim->job.lease->expires_at, t(5020));
    EXPECT_EQ(job(first).state, model::JobState::completed);
    EXPECT_EQ(job(first).result, "done");
    EXPECT_EQ(job(second).state, model::JobState::active);
    EXPECT_EQ(store().attempts(first).size(), 1u);

    // Nothing left to claim: the finish still stands.
    const auto last = store().finish_and_claim(record_of(*both.claim, OutcomeKind::succeeded, t(30)), completed_with("again"), t(30),
                                               allow({"q"}), "host/1", ms(5000));
    EXPECT_EQ(last.applied, model::JobState::completed);
    EXPECT_FALSE(last.claim);
    EXPECT_EQ(job(second).state, model::JobState::completed);
}

TEST_P(StoreContractTest, FinishAndClaimOnAStaleLeaseRefusesTheResultButStillClaims)
{
    const model::JobId first = store().enqueue(new_job(), t(0));
    const model::JobId second = store().enqueue(new_job(), t(1));
    const Claim c = claim_one("q", t(10));
    model::AttemptRecord stale = record_of(c, OutcomeKind::succeeded, t(20));
    stale.attempt_id += 1000;  // not the attempt holding the lease
    const auto both = store().finish_and_claim(stale, completed_with("late"), t(20), allow({"q"}), "host/1", ms(5000));
    EXPECT_FALSE(both.applied);
    ASSERT_TRUE(both.claim);
    EXPECT_EQ(both.claim->job.id, second);
    EXPECT_EQ(job(first).state, model::JobState::active) << "the stale result changed nothing";
    EXPECT_FALSE(job(first).result);
}

TEST_P(StoreContractTest, ClaimBatchTakesUpToMaxAndAtMostEachQueuesSlotsInClaimOrder)
{
    std::vector<model::JobId> a, b;
    for (int i = 0; i < 4; ++i) a.push_back(store().enqueue(new_job("a"), t(i)));
    for (int i = 0; i < 4; ++i) b.push_back(store().enqueue(new_job("b"), t(10 + i)));
    auto queues = allow({"a", "b"});
    queues[0].slots = 1;
    const auto claims = store().claim_batch(queues, "host/1", ms(5000), t(100), 3);
    ASSERT_EQ(claims.size(), 3u);
    EXPECT_EQ(claims[0].job.id, a[0]);
    EXPECT_EQ(claims[1].job.id, b[0]) << "queue a had one slot";
    EXPECT_EQ(claims[2].job.id, b[1]) << "the call's max, not b's jobs, ended it";
    std::set<model::AttemptId> attempt_ids;
    for (const auto& claim : claims) {
        attempt_ids.insert(claim.attempt_id);
        EXPECT_EQ(claim.number, 1u);
        EXPECT_EQ(job(claim.job.id).state, model::JobState::active);
        ASSERT_TRUE(claim.job.lease);
        EXPECT_EQ(claim.job.lease->holder, "host/1");
    }
    EXPECT_EQ(attempt_ids.size(), 3u);

    queues[0].slots = 0;
    queues[1].slots = 0;
    EXPECT_TRUE(store().claim_batch(queues, "host/1", ms(5000), t(101), 10).empty()) << "no slot, no claim";
    queues[0].slots.reset();
    queues[1].slots.reset();
    EXPECT_EQ(store().claim_batch(queues, "host/1", ms(5000), t(102), 100).size(), 5u) << "what is runnable, and no more";
    EXPECT_TRUE(store().claim_batch(queues, "host/1", ms(5000), t(103), 100).empty());
}

TEST_P(StoreContractTest, QueuesThatShareSlotsTakeNoMoreOfThemTogether)
{
    // a and c share one slot (a host's one free worker, for its queues that never hold a job);
    // p takes no part.
    std::vector<model::JobId> a, c, p;
    for (int i = 0; i < 2; ++i) a.push_back(store().enqueue(new_job("a"), t(i)));
    for (int i = 0; i < 2; ++i) c.push_back(store().enqueue(new_job("c"), t(2 + i)));
    for (int i = 0; i < 2; ++i) p.push_back(store().enqueue(new_job("p"), t(4 + i)));
    auto queues = allow({"a", "c", "p"});
    queues[0].shared_slots = 1;
    queues[1].shared_slots = 1;
    const auto claims = store().claim_batch(queues, "host/1", ms(5000), t(10), 10);
    ASSERT_EQ(claims.size(), 3u);
    EXPECT_EQ(claims[0].job.id, a[0]);
    EXPECT_EQ(claims[1].job.id, p[0]) << "c's job, next in claim order, shares a's spent slot";
    EXPECT_EQ(claims[2].job.id, p[1]);
    EXPECT_EQ(job(c[0]).state, model::JobState::waiting);

    // The same in a finish's step: its one claim spends the shared slot.
    queues = allow({"c", "a"});
    queues[0].shared_slots = 1;
    queues[1].shared_slots = 1;
    const auto batch = store().finish_batch({{record_of(claims[0], OutcomeKind::succeeded, t(20)), completed_with("a")}}, t(20), queues,
                                            "host/1", ms(5000), 5);
    EXPECT_EQ(batch.recorded, 1u);
    ASSERT_EQ(batch.claims.size(), 1u);
    EXPECT_EQ(batch.claims[0].job.id, a[1]);
    EXPECT_EQ(job(c[0]).state, model::JobState::waiting);
    EXPECT_EQ(job(c[1]).state, model::JobState::waiting);
}

TEST_P(StoreContractTest, ClaimBatchCountsItsOwnClaimsAgainstRateLimitsAndGlobalConcurrency)
{
    for (int i = 0; i < 10; ++i) store().enqueue(new_job("limited"), t(0));
    for (int i = 0; i < 10; ++i) store().enqueue(new_job("shared"), t(0));
    const QueueAllowance rate{"limited", {}, 3, ms(1000), std::nullopt, std::nullopt, std::nullopt};
    EXPECT_EQ(store().claim_batch({rate}, "host-a/1", ms(60'000), t(0), 10).size(), 3u);
    EXPECT_TRUE(store().claim_batch({rate}, "host-a/1", ms(60'000), t(500), 10).empty());
    EXPECT_EQ(store().claim_batch({rate}, "host-a/1", ms(60'000), t(1000), 10).size(), 3u) << "the window moved on";

    auto other = open_another();
    const QueueAllowance shared{"shared", {}, std::nullopt, std::nullopt, 2, std::nullopt, std::nullopt};
    EXPECT_EQ(other->claim_batch({shared}, "host-b/1", ms(60'000), t(1), 10).size(), 2u);
    EXPECT_TRUE(store().claim_batch({shared}, "host-a/1", ms(60'000), t(2), 10).empty()) << "two are active, held by another host";
    EXPECT_EQ(store().queue_counts({})["shared"].by_state[model::JobState::active], 2u);
}

TEST_P(StoreContractTest, FinishBatchRecordsEveryEndingThenClaimsForTheFreedSlots)
{
    std::vector<model::JobId> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(store().enqueue(new_job(), t(i)));
    const auto claims = store().claim_batch(allow({"q"}), "host/1", ms(5000), t(10), 2);
    ASSERT_EQ(claims.size(), 2u);
    model::AttemptRecord stale = record_of(claims[1], OutcomeKind::succeeded, t(20));
    stale.attempt_id += 1000;  // not the attempt holding the lease
    auto queues = allow({"q"});
    queues[0].slots = 1;
    const auto batch = store().finish_batch({{record_of(claims[0], OutcomeKind::succeeded, t(20)), completed_with("one")},
                                             {stale, completed_with("late")}},
                                            t(20), queues, "host/1", ms(5000), 2);
    EXPECT_EQ(batch.recorded, 2u);
    EXPECT_FALSE(batch.finish_error);
    ASSERT_EQ(batch.applied.size(), 2u);
    EXPECT_EQ(batch.applied[0], model::JobState::completed);
    EXPECT_FALSE(batch.applied[1]) << "the stale result is refused";
    EXPECT_FALSE(batch.claim_error);
    ASSERT_EQ(batch.claims.size(), 1u) << "one slot";
    EXPECT_EQ(batch.claims[0].job.id, ids[2]);
    EXPECT_EQ(job(ids[0]).state, model::JobState::completed);
    EXPECT_EQ(job(ids[0]).result, "one");
    EXPECT_EQ(store().attempts(ids[0]).size(), 1u);
    EXPECT_EQ(job(ids[1]).state, model::JobState::active) << "the stale result changed nothing";

    // No claim asked for: the endings alone.
    const auto alone = store().finish_batch({{record_of(claims[1], OutcomeKind::succeeded, t(30)), completed_with("two")},
                                             {record_of(batch.claims[0], OutcomeKind::succeeded, t(30)), completed_with("three")}},
                                            t(30), allow({"q"}), "host/1", ms(5000), 0);
    EXPECT_EQ(alone.recorded, 2u);
    EXPECT_EQ(alone.applied, (std::vector<std::optional<model::JobState>>{model::JobState::completed, model::JobState::completed}));
    EXPECT_TRUE(alone.claims.empty());
    EXPECT_EQ(job(ids[1]).result, "two");
    EXPECT_EQ(job(ids[2]).result, "three");
    EXPECT_EQ(job(ids[3]).state, model::JobState::waiting);
}

TEST_P(StoreContractTest, LargeResultReadsBack)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(1));
    std::string big(64u << 20, 'r');
    big[12345] = '\0';
    big.back() = 'z';
    model::AttemptRecord r = record_of(c, OutcomeKind::succeeded, t(2));
    r.outcome.result = big;
    ASSERT_EQ(store().finish(r, completed_with(big), t(2)), model::JobState::completed);
    EXPECT_TRUE(job(id).result == big);
    const auto attempts = store().attempts(id);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_TRUE(attempts[0].outcome.result == big);
}

TEST_P(StoreContractTest, FailedAttemptGoesBackToWaitingOrDelayedAndCountsAttempts)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const Claim first = claim_one("q", t(10));
    Transition again = to(model::JobState::waiting);
    again.error = "boom";
    model::AttemptRecord r1 = record_of(first, OutcomeKind::failed, t(20));
    r1.outcome.error = "boom";
    ASSERT_EQ(store().finish(r1, again, t(20)), model::JobState::waiting);
    model::Job j = job(id);
    EXPECT_EQ(j.state, model::JobState::waiting);
    EXPECT_EQ(j.error, "boom");
    EXPECT_EQ(j.run_at, t(20));
    EXPECT_FALSE(j.lease);

    const Claim second = claim_one("q", t(30));
    EXPECT_EQ(second.number, 2u);
    EXPECT_NE(second.attempt_id, first.attempt_id);
    EXPECT_EQ(second.job.attempts_since_retry, 2u);
    EXPECT_FALSE(second.job.progress);
    Transition backoff = to(model::JobState::delayed);
    backoff.run_at = t(5000);
    backoff.error = "crashed";
    backoff.counts_as_lost = true;
    ASSERT_EQ(store().finish(record_of(second, OutcomeKind::crashed, t(40)), backoff, t(40)), model::JobState::delayed);
    j = job(id);
    EXPECT_EQ(j.state, model::JobState::delayed);
    EXPECT_EQ(j.run_at, t(5000));
    EXPECT_EQ(j.lost, 1u);
    EXPECT_FALSE(store().claim(allow({"q"}), "host/1", ms(1000), t(4999)));

    const Claim third = claim_one("q", t(5000));
    EXPECT_EQ(third.number, 3u);
    Transition refunded = to(model::JobState::waiting);
    refunded.refund_attempt = true;
    ASSERT_EQ(store().finish(record_of(third, OutcomeKind::spawn_failed, t(5001)), refunded, t(5001)), model::JobState::waiting);
    j = job(id);
    EXPECT_EQ(j.attempts, 3u);
    EXPECT_EQ(j.attempts_since_retry, 2u);
    EXPECT_EQ(j.error, "crashed") << "an error not given is kept";

    const Claim fourth = claim_one("q", t(6000));
    Transition give_up = to(model::JobState::dead);
    give_up.error = "no attempts left";
    ASSERT_EQ(store().finish(record_of(fourth, OutcomeKind::timed_out, t(6001)), give_up, t(6001)), model::JobState::dead);
    j = job(id);
    EXPECT_EQ(j.state, model::JobState::dead);
    EXPECT_EQ(j.error, "no attempts left");
    EXPECT_FALSE(j.result);

    const auto attempts = store().attempts(id);
    ASSERT_EQ(attempts.size(), 4u);
    std::vector<OutcomeKind> kinds;
    for (std::size_t i = 0; i < attempts.size(); ++i) {
        EXPECT_EQ(attempts[i].number, i + 1);
        kinds.push_back(attempts[i].outcome.kind);
    }
    EXPECT_EQ(kinds, (std::vector<OutcomeKind>{OutcomeKind::failed, OutcomeKind::crashed, OutcomeKind::spawn_failed,
                                               OutcomeKind::timed_out}));
}

TEST_P(StoreContractTest, TransitionToANonFinalNonRunnableStateIsRefused)
{
    store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(1));
    const model::AttemptRecord record = record_of(c, OutcomeKind::failed, t(2));
    EXPECT_THROW(store().finish(record, to(model::JobState::active), t(2)), StoreRequestError);
    EXPECT_THROW(store().finish(record, to(model::JobState::blocked), t(2)), StoreRequestError);
    EXPECT_EQ(job(c.job.id).state, model::JobState::active);
}

TEST_P(StoreContractTest, CompletingTheLastDependencyUnblocks)
{
    const model::JobId a = store().enqueue(new_job("deps"), t(0));
    const model::JobId b = store().enqueue(new_job("deps"), t(1));
    model::NewJob n = new_job("q");
    n.depends_on = {a, b, a};
    const model::JobId c = store().enqueue(n, t(2));
    model::NewJob delayed = new_job("q");
    delayed.depends_on = {a};
    delayed.delay = ms(10'000);
    const model::JobId d = store().enqueue(delayed, t(3));

    EXPECT_EQ(job(c).state, model::JobState::blocked);
    EXPECT_EQ(job(c).depends_on, (std::vector<model::JobId>{a, b}));
    EXPECT_FALSE(store().claim(allow({"q"}), "host/1", ms(1000), t(5)));

    const Claim ca = claim_one("deps", t(5));
    ASSERT_EQ(ca.job.id, a);
    ASSERT_EQ(store().finish(record_of(ca, OutcomeKind::succeeded, t(6)), completed_with("A"), t(6)), model::JobState::completed);
    EXPECT_EQ(job(c).state, model::JobState::blocked);
    EXPECT_EQ(job(d).state, model::JobState::delayed) << "its own delay still runs";

    const Claim cb = claim_one("deps", t(7));
    ASSERT_EQ(store().finish(record_of(cb, OutcomeKind::succeeded, t(8)), completed_with("B"), t(8)), model::JobState::completed);
    EXPECT_EQ(job(c).state, model::JobState::waiting);
    EXPECT_EQ(store().results(job(c).depends_on), (std::map<model::JobId, std::string>{{a, "A"}, {b, "B"}}));
    EXPECT_EQ(claim_one("q", t(9)).job.id, c);

    model::NewJob after = new_job("q");
    after.depends_on = {a, b};
    EXPECT_EQ(job(store().enqueue(after, t(10))).state, model::JobState::waiting) << "dependencies already completed";
}

TEST_P(StoreContractTest, ClaimBatchGivesEveryJobItsOwnDependenciesAndSkipsPausedQueues)
{
    // A batch reads the claimed jobs' dependencies together: each job gets its own, in order.
    const model::JobId a = store().enqueue(new_job("deps"), t(0));
    const model::JobId b = store().enqueue(new_job("deps"), t(1));
    for (const Claim& done : {claim_one("deps", t(2)), claim_one("deps", t(2))}) {
        ASSERT_EQ(store().finish(record_of(done, OutcomeKind::succeeded, t(3)), completed_with("r"), t(3)), model::JobState::completed);
    }
    model::NewJob both = new_job("q");
    both.depends_on = {b, a};
    model::NewJob one = new_job("q");
    one.depends_on = {a};
    const model::JobId first = store().enqueue(both, t(4));
    const model::JobId none = store().enqueue(new_job("q"), t(5));
    const model::JobId last = store().enqueue(one, t(6));
    const model::JobId of_paused = store().enqueue(new_job("p", 9), t(4));
    store().set_paused("p", true);

    const auto claims = store().claim_batch(allow({"p", "q"}), "host/1", ms(5000), t(10), 10);
    ASSERT_EQ(claims.size(), 3u) << "nothing of the paused queue";
    EXPECT_EQ(claims[0].job.id, first);
    EXPECT_EQ(claims[0].job.depends_on, (std::vector<model::JobId>{b, a}));
    EXPECT_EQ(claims[1].job.id, none);
    EXPECT_TRUE(claims[1].job.depends_on.empty());
    EXPECT_EQ(claims[2].job.id, last);
    EXPECT_EQ(claims[2].job.depends_on, (std::vector<model::JobId>{a}));
    EXPECT_EQ(job(of_paused).state, model::JobState::waiting);
}

TEST_P(StoreContractTest, DeadJobKillsItsBlockedDependentsTransitively)
{
    const model::JobId a = store().enqueue(new_job("deps"), t(0));
    model::NewJob n = new_job("q");
    n.depends_on = {a};
    const model::JobId b = store().enqueue(n, t(1));
    n.depends_on = {b};
    const model::JobId c = store().enqueue(n, t(2));
    n.depends_on = {c};
    const model::JobId d = store().enqueue(n, t(3));
    const model::JobId unrelated = store().enqueue(new_job("q"), t(4));

    const Claim ca = claim_one("deps", t(5));
    Transition dead = to(model::JobState::dead);
    dead.error = "load_failed";
    ASSERT_EQ(store().finish(record_of(ca, OutcomeKind::load_failed, t(6)), dead, t(6)), model::JobState::dead);

    EXPECT_EQ(job(b).state, model::JobState::dead);
    EXPECT_EQ(job(b).error, "dependency " + std::to_string(a) + " is dead");
    EXPECT_EQ(job(c).state, model::JobState::dead);
    EXPECT_EQ(job(c).error, "dependency " + std::to_string(b) + " is dead");
    EXPECT_EQ(job(d).state, model::JobState::dead);
    EXPECT_EQ(job(d).updated_at, t(6));
    EXPECT_EQ(job(unrelated).state, model::JobState::waiting);

    model::NewJob late = new_job("q");
    late.depends_on = {unrelated, c};
    const model::JobId e = store().enqueue(late, t(7));
    EXPECT_EQ(job(e).state, model::JobState::dead) << "a dead dependency makes the new job dead at once";
    EXPECT_EQ(job(e).error, "dependency " + std::to_string(c) + " is dead");
}

TEST_P(StoreContractTest, CancelledDependencyKillsDependents)
{
    const model::JobId a = store().enqueue(new_job("deps"), t(0));
    model::NewJob n = new_job("q");
    n.depends_on = {a};
    const model::JobId b = store().enqueue(n, t(1));
    n.depends_on = {b};
    const model::JobId c = store().enqueue(n, t(2));

    EXPECT_EQ(store().cancel(a, t(3)), CancelResult::cancelled);
    EXPECT_EQ(job(a).state, model::JobState::cancelled);
    EXPECT_EQ(job(b).state, model::JobState::dead);
    EXPECT_EQ(job(b).error, "dependency " + std::to_string(a) + " was cancelled");
    EXPECT_EQ(job(c).error, "dependency " + std::to_string(b) + " is dead");

    n.depends_on = {a};
    const model::JobId d = store().enqueue(n, t(4));
    EXPECT_EQ(job(d).state, model::JobState::dead);
    EXPECT_EQ(job(d).error, "dependency " + std::to_string(a) + " was cancelled");
}

TEST_P(StoreContractTest, UnknownDependencyStoresNothing)
{
    const model::JobId a = store().enqueue(new_job(), t(0));
    model::NewJob n = new_job();
    n.depends_on = {a, a + 40, a + 41};
    try {
        store().enqueue(n, t(1));
        FAIL() << "enqueued with unknown dependencies";
    } catch (const StoreRequestError& e) {
        EXPECT_THAT(e.what(), HasSubstr(std::to_string(a + 40) + ", " + std::to_string(a + 41)));
    }
    EXPECT_EQ(store().list(JobFilter{}).size(), 1u);
}

TEST_P(StoreContractTest, StaleLeaseIsRefusedAfterRecovery)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const Claim old = claim_one("q", t(0), "host-a/1");  // lease until t(10'000)
    ASSERT_TRUE(store().renew(id, old.attempt_id, t(10'000)));
    ASSERT_TRUE(store().set_progress(id, old.attempt_id, model::Progress{50, "half"}));
    EXPECT_TRUE(store().lost_attempts("host-b", "host-b/1", t(10'000)).empty()) << "not expired yet";
    const auto lost = store().lost_attempts("host-b", "host-b/1", t(10'001));
    ASSERT_EQ(lost.size(), 1u);
    EXPECT_EQ(lost[0].job.id, id);
    EXPECT_EQ(lost[0].attempt_id, old.attempt_id);
    EXPECT_EQ(lost[0].number, 1u);
    EXPECT_EQ(lost[0].started_at, t(0)) << "when it was claimed, for the lost attempt's duration";
    EXPECT_EQ(lost[0].job.lease->holder, "host-a/1");

    model::AttemptRecord lost_record = record_of(old, OutcomeKind::worker_lost, t(10'001));
    Transition again = to(model::JobState::waiting);
    again.counts_as_lost = true;
    again.error = "worker lost";
    ASSERT_EQ(store().recover(lost_record, again, t(10'001)), model::JobState::waiting);
    EXPECT_EQ(job(id).lost, 1u);
    EXPECT_EQ(job(id).state, model::JobState::waiting);

    // The old holder reports late: refused, and nothing changes.
    model::AttemptRecord late = record_of(old, OutcomeKind::succeeded, t(10'002));
    EXPECT_FALSE(store().finish(late, completed_with("late"), t(10'002)));
    EXPECT_FALSE(store().renew(id, old.attempt_id, t(20'000)));
    EXPECT_FALSE(store().set_progress(id, old.attempt_id, model::Progress{99, "late"}));
    EXPECT_EQ(job(id).state, model::JobState::waiting);

    const Claim fresh = claim_one("q", t(10'003), "host-b/1");
    EXPECT_NE(fresh.attempt_id, old.attempt_id);
    const model::Job before = job(id);
    EXPECT_FALSE(store().finish(late, completed_with("late"), t(10'004)));
    EXPECT_FALSE(store().recover(lost_record, again, t(10'004)));
    const model::Job after = job(id);
    EXPECT_EQ(after.state, model::JobState::active);
    EXPECT_EQ(after.lease->attempt_id, fresh.attempt_id);
    EXPECT_EQ(after.updated_at, before.updated_at);
    EXPECT_FALSE(after.result);
    EXPECT_EQ(after.lost, 1u);
    const auto attempts = store().attempts(id);
    ASSERT_EQ(attempts.size(), 1u) << "only the recovered attempt is recorded";
    EXPECT_EQ(attempts[0].outcome.kind, OutcomeKind::worker_lost);
    EXPECT_EQ(attempts[0].host, "host-a/1");
}

TEST_P(StoreContractTest, OfTwoRecoverersExactlyOneWins)
{
    store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(0), "dead-host/1");
    auto other = open_another();
    const auto seen_here = store().lost_attempts("host-a", "host-a/1", t(20'000));
    const auto seen_there = other->lost_attempts("host-b", "host-b/1", t(20'000));
    ASSERT_EQ(seen_here.size(), 1u);
    ASSERT_EQ(seen_there.size(), 1u);

    model::AttemptRecord r = record_of(c, OutcomeKind::worker_lost, t(20'000));
    Transition again = to(model::JobState::waiting);
    again.counts_as_lost = true;
    const auto here = store().recover(r, again, t(20'000));
    const auto there = other->recover(r, again, t(20'000));
    EXPECT_NE(here.has_value(), there.has_value());
    EXPECT_EQ(job(c.job.id).lost, 1u);
    EXPECT_EQ(store().attempts(c.job.id).size(), 1u);
}

TEST_P(StoreContractTest, LostAttemptsIncludeThoseOfAPreviousInstanceOfThisHost)
{
    store().enqueue(new_job(), t(0));
    store().enqueue(new_job(), t(0));
    const Claim mine_before = claim_one("q", t(0), "host-a/old");
    const Claim other_host = claim_one("q", t(0), "host-ab/1");
    const auto lost = store().lost_attempts("host-a", "host-a/new", t(1));
    ASSERT_EQ(lost.size(), 1u);
    EXPECT_EQ(lost[0].job.id, mine_before.job.id);
    EXPECT_TRUE(store().lost_attempts("host-a", "host-a/old", t(1)).empty());
    EXPECT_TRUE(store().lost_attempts("host-c", "host-c/1", t(1)).empty());
    const auto expired = store().lost_attempts("host-c", "host-c/1", t(10'001));
    ASSERT_EQ(expired.size(), 2u);
    EXPECT_EQ(expired[1].job.id, other_host.job.id) << "host-ab is not an instance of host-a";
}

TEST_P(StoreContractTest, RenewExtendsTheLease)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(0));
    ASSERT_TRUE(store().renew(id, c.attempt_id, t(50'000)));
    EXPECT_EQ(job(id).lease->expires_at, t(50'000));
    EXPECT_TRUE(store().lost_attempts("x", "x/1", t(20'000)).empty());
    EXPECT_FALSE(store().renew(id, c.attempt_id + 1, t(60'000)));
    EXPECT_FALSE(store().renew(id + 1, c.attempt_id, t(60'000)));
}

TEST_P(StoreContractTest, RateLimitIsSharedByEveryClientOfTheStore)
{
    for (int i = 0; i < 10; ++i) store().enqueue(new_job("limited"), t(0));
    auto other = open_another();
    std::vector<QueueAllowance> limited{QueueAllowance{"limited", {}, 3, ms(1000), std::nullopt, std::nullopt, std::nullopt}};
    EXPECT_TRUE(store().claim(limited, "host-a/1", ms(60'000), t(0)));
    EXPECT_TRUE(other->claim(limited, "host-b/1", ms(60'000), t(0)));
    EXPECT_TRUE(store().claim(limited, "host-a/1", ms(60'000), t(500)));
    EXPECT_FALSE(other->claim(limited, "host-b/1", ms(60'000), t(500)));
    EXPECT_FALSE(store().claim(limited, "host-a/1", ms(60'000), t(999)));
    // The two claims at t(0) leave the window (t(0), t(1000)] at t(1000).
    EXPECT_TRUE(other->claim(limited, "host-b/1", ms(60'000), t(1000)));
    EXPECT_TRUE(store().claim(limited, "host-a/1", ms(60'000), t(1000)));
    EXPECT_FALSE(other->claim(limited, "host-b/1", ms(60'000), t(1000)));
    // An unlimited queue next to it is not held back.
    store().enqueue(new_job("free"), t(0));
    auto free = store().claim({limited[0], QueueAllowance{"free", {}, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt}}, "host-a/1", ms(1000),
                              t(1000));
    ASSERT_TRUE(free);
    EXPECT_EQ(free->job.queue, "free");
}

TEST_P(StoreContractTest, GlobalConcurrencyCountsTheActiveJobsOfEveryClient)
{
    for (int i = 0; i < 6; ++i) store().enqueue(new_job("shared"), t(0));
    store().enqueue(new_job("free"), t(0));
    auto other = open_another();
    std::vector<QueueAllowance> limited{QueueAllowance{"shared", {}, std::nullopt, std::nullopt, 2, std::nullopt, std::nullopt}};
    const auto a = store().claim(limited, "host-a/1", ms(60'000), t(1));
    const auto b = other->claim(limited, "host-b/1", ms(60'000), t(1));
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    EXPECT_FALSE(store().claim(limited, "host-a/1", ms(60'000), t(2))) << "two are active, held by two hosts";
    EXPECT_FALSE(other->claim(limited, "host-c/1", ms(60'000), t(2)));
    // Another queue is not held back by it.
    auto free = store().claim({limited[0], QueueAllowance{"free", {}, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt}}, "host-a/1",
                              ms(1000), t(3));
    ASSERT_TRUE(free);
    EXPECT_EQ(free->job.queue, "free");
    // A slot frees when an attempt ends, whoever ended it, and a lost one when it is recovered.
    ASSERT_EQ(other->finish(record_of(*a, OutcomeKind::succeeded, t(4)), completed_with("ok"), t(4)), model::JobState::completed);
    const auto c = other->claim(limited, "host-b/1", ms(60'000), t(5));
    ASSERT_TRUE(c);
    EXPECT_FALSE(store().claim(limited, "host-a/1", ms(60'000), t(5)));
    Transition lost = to(model::JobState::waiting);
    lost.counts_as_lost = true;
    ASSERT_EQ(store().recover(record_of(*b, OutcomeKind::worker_lost, t(70'000)), lost, t(70'000)), model::JobState::waiting);
    EXPECT_TRUE(store().claim(limited, "host-a/1", ms(60'000), t(70'001)));
    EXPECT_EQ(store().queue_counts({})["shared"].by_state[model::JobState::active], 2u);
}

TEST_P(StoreContractTest, PauseSkipsTheQueueAndResumeRestoresIt)
{
    const model::JobId a = store().enqueue(new_job("a", 9), t(0));
    const model::JobId b = store().enqueue(new_job("b", 0), t(0));
    store().set_paused("a", true);
    EXPECT_EQ(store().paused_queues(), (std::vector<std::string>{"a"}));
    auto counts = store().queue_counts({});
    EXPECT_TRUE(counts["a"].paused);
    EXPECT_FALSE(counts["b"].paused);

    auto first = store().claim(allow({"a", "b"}), "host/1", ms(1000), t(1));
    ASSERT_TRUE(first);
    EXPECT_EQ(first->job.id, b);
    EXPECT_FALSE(store().claim(allow({"a", "b"}), "host/1", ms(1000), t(1)));

    store().set_paused("a", false);
    EXPECT_TRUE(store().paused_queues().empty());
    auto second = store().claim(allow({"a", "b"}), "host/1", ms(1000), t(2));
    ASSERT_TRUE(second);
    EXPECT_EQ(second->job.id, a);
}

TEST_P(StoreContractTest, CancelWaitingAndActiveJobs)
{
    const model::JobId waiting = store().enqueue(new_job(), t(0));
    EXPECT_EQ(store().cancel(waiting, t(1)), CancelResult::cancelled);
    EXPECT_EQ(job(waiting).state, model::JobState::cancelled);
    EXPECT_EQ(job(waiting).updated_at, t(1));
    EXPECT_EQ(store().cancel(waiting, t(2)), CancelResult::already_final);
    EXPECT_EQ(store().cancel(waiting + 100, t(2)), CancelResult::not_found);

    const model::JobId running = store().enqueue(new_job(), t(3));
    const Claim c = claim_one("q", t(4), "host-a/1");
    ASSERT_EQ(c.job.id, running);
    EXPECT_TRUE(store().cancel_requests("host-a/1").empty());
    EXPECT_EQ(store().cancel(running, t(5)), CancelResult::requested);
    EXPECT_EQ(job(running).state, model::JobState::active);
    EXPECT_TRUE(job(running).cancel_requested);
    EXPECT_EQ(store().cancel_requests("host-a/1"), (std::vector<model::JobId>{running}));
    EXPECT_TRUE(store().cancel_requests("host-b/1").empty());

    ASSERT_EQ(store().finish(record_of(c, OutcomeKind::cancelled, t(6)), to(model::JobState::cancelled), t(6)), model::JobState::cancelled);
    EXPECT_EQ(job(running).state, model::JobState::cancelled);
    EXPECT_FALSE(job(running).cancel_requested);
    EXPECT_TRUE(store().cancel_requests("host-a/1").empty());
    EXPECT_EQ(store().attempts(running).at(0).outcome.kind, OutcomeKind::cancelled);
}

TEST_P(StoreContractTest, CancelDelayedAndBlockedJobs)
{
    model::NewJob later = new_job();
    later.delay = ms(60'000);
    const model::JobId delayed = store().enqueue(later, t(0));
    model::NewJob dependent = new_job();
    dependent.depends_on = {delayed};
    const model::JobId blocked = store().enqueue(dependent, t(0));
    dependent.depends_on = {blocked};
    const model::JobId blocked_too = store().enqueue(dependent, t(0));

    EXPECT_EQ(store().cancel(blocked, t(1)), CancelResult::cancelled);
    EXPECT_EQ(job(blocked).state, model::JobState::cancelled);
    EXPECT_EQ(job(blocked_too).state, model::JobState::dead);
    EXPECT_EQ(job(blocked_too).error, "dependency " + std::to_string(blocked) + " was cancelled");
    EXPECT_EQ(job(delayed).state, model::JobState::delayed) << "a dependency is not touched by its dependent's cancel";

    EXPECT_EQ(store().cancel(delayed, t(2)), CancelResult::cancelled);
    EXPECT_EQ(job(delayed).state, model::JobState::cancelled);
    EXPECT_FALSE(store().claim(allow({"q"}), "host/1", ms(1000), t(60'000)));
}

TEST_P(StoreContractTest, ACancelRequestIsNotLostWhenTheAttemptAsksForARetry)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(1));
    EXPECT_EQ(store().cancel(id, t(2)), CancelResult::requested);
    ASSERT_EQ(store().finish(record_of(c, OutcomeKind::failed, t(3)), to(model::JobState::waiting), t(3)), model::JobState::cancelled);
    EXPECT_EQ(job(id).state, model::JobState::cancelled);
    EXPECT_FALSE(store().claim(allow({"q"}), "host/1", ms(1000), t(4)));
}

TEST_P(StoreContractTest, RetryRunsDeadAndCancelledJobsAgainWithAFreshBudget)
{
    model::NewJob n = new_job();
    n.ttl = ms(1000);
    const model::JobId id = store().enqueue(n, t(0));
    Claim c = claim_one("q", t(1));
    Transition lost = to(model::JobState::waiting);
    lost.counts_as_lost = true;
    ASSERT_EQ(store().finish(record_of(c, OutcomeKind::crashed, t(2)), lost, t(2)), model::JobState::waiting);
    c = claim_one("q", t(3));
    Transition dead = to(model::JobState::dead);
    dead.error = "gave up";
    ASSERT_EQ(store().finish(record_of(c, OutcomeKind::crashed, t(4)), dead, t(4)), model::JobState::dead);
    ASSERT_EQ(job(id).attempts_since_retry, 2u);

    EXPECT_TRUE(store().retry(id, t(50'000)));
    model::Job j = job(id);
    EXPECT_EQ(j.state, model::JobState::waiting);
    EXPECT_EQ(j.attempts, 2u);
    EXPECT_EQ(j.attempts_since_retry, 0u);
    EXPECT_EQ(j.lost, 0u);
    EXPECT_FALSE(j.error);
    EXPECT_EQ(j.run_at, t(50'000));
    EXPECT_EQ(j.expires_at, t(51'000)) << "a fresh ttl, or the retried job would expire at once";
    EXPECT_EQ(claim_one("q", t(50'001)).number, 3u);
    EXPECT_FALSE(store().retry(id, t(50'002))) << "active";

    const model::JobId cancelled = store().enqueue(new_job(), t(60'000));
    ASSERT_EQ(store().cancel(cancelled, t(60'001)), CancelResult::cancelled);
    EXPECT_TRUE(store().retry(cancelled, t(60'002)));
    EXPECT_EQ(job(cancelled).state, model::JobState::waiting);

    EXPECT_FALSE(store().retry(cancelled, t(60'003))) << "waiting";
    EXPECT_THROW(store().retry(cancelled + 100, t(60'003)), StoreRequestError);
}

TEST_P(StoreContractTest, RetryOfADependentWaitsForItsDependenciesOrIsRefused)
{
    const model::JobId a = store().enqueue(new_job("deps"), t(0));
    model::NewJob n = new_job("q");
    n.depends_on = {a};
    const model::JobId b = store().enqueue(n, t(1));
    ASSERT_EQ(store().cancel(a, t(2)), CancelResult::cancelled);
    ASSERT_EQ(job(b).state, model::JobState::dead);

    try {
        store().retry(b, t(3));
        FAIL() << "retried a job whose dependency is cancelled";
    } catch (const StoreRequestError& e) {
        EXPECT_THAT(e.what(), HasSubstr("dependency " + std::to_string(a) + " was cancelled"));
    }
    EXPECT_EQ(job(b).state, model::JobState::dead) << "refused: nothing changed";

    ASSERT_TRUE(store().retry(a, t(4)));
    ASSERT_TRUE(store().retry(b, t(5)));
    EXPECT_EQ(job(b).state, model::JobState::blocked);
    const Claim ca = claim_one("deps", t(6));
    ASSERT_EQ(store().finish(record_of(ca, OutcomeKind::succeeded, t(7)), completed_with("ok"), t(7)), model::JobState::completed);
    EXPECT_EQ(job(b).state, model::JobState::waiting);
}

TEST_P(StoreContractTest, ScheduleFiresOncePerFireTimeAfterFirstSight)
{
    model::NewJob n = new_job();
    EXPECT_FALSE(store().schedule_last_fire("tick"));
    EXPECT_FALSE(store().fire_schedule("tick", t(0), n, t(0))) << "first sight only records";
    EXPECT_EQ(store().schedule_last_fire("tick"), t(0));
    EXPECT_TRUE(store().list(JobFilter{}).empty());
    EXPECT_FALSE(store().fire_schedule("tick", t(0), n, t(1)));

    const auto fired = store().fire_schedule("tick", t(300'000), n, t(300'005));
    ASSERT_TRUE(fired);
    EXPECT_EQ(job(*fired).schedule, "tick");
    EXPECT_EQ(job(*fired).created_at, t(300'005));
    EXPECT_FALSE(open_another()->fire_schedule("tick", t(300'000), n, t(300'006))) << "fired twice";
    EXPECT_FALSE(store().fire_schedule("tick", t(100'000), n, t(300'007))) << "an older period";
    EXPECT_EQ(store().schedule_last_fire("tick"), t(300'000));
    EXPECT_TRUE(store().fire_schedule("tick", t(600'000), n, t(600'000)));
    EXPECT_EQ(store().list(JobFilter{}).size(), 2u);

    model::NewJob bad = new_job();
    bad.depends_on = {999'999};
    EXPECT_THROW(store().fire_schedule("tick", t(900'000), bad, t(900'000)), StoreRequestError);
    EXPECT_EQ(store().schedule_last_fire("tick"), t(600'000)) << "a failed firing is not recorded";
}

TEST_P(StoreContractTest, PurgeDeletesOldFinalJobsWithTheirAttempts)
{
    const model::JobId old_done = store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(1));
    ASSERT_EQ(store().finish(record_of(c, OutcomeKind::succeeded, t(2)), completed_with("r"), t(2)), model::JobState::completed);
    const model::JobId needed = store().enqueue(new_job("deps"), t(3));
    const Claim cn = claim_one("deps", t(3));
    ASSERT_EQ(store().finish(record_of(cn, OutcomeKind::succeeded, t(4)), completed_with("r"), t(4)), model::JobState::completed);
    model::NewJob n = new_job("held");
    n.depends_on = {needed, store().enqueue(new_job("deps"), t(5))};
    const model::JobId blocked = store().enqueue(n, t(5));
    const model::JobId new_done = store().enqueue(new_job("later"), t(100));
    const Claim cl = claim_one("later", t(100));
    ASSERT_EQ(store().finish(record_of(cl, OutcomeKind::succeeded, t(101)), completed_with("r"), t(101)), model::JobState::completed);
    const model::JobId old_cancelled = store().enqueue(new_job("x"), t(0));
    store().cancel(old_cancelled, t(1));

    EXPECT_THROW(store().purge(model::JobState::waiting, t(1000)), StoreRequestError);
    EXPECT_EQ(store().purge(model::JobState::completed, t(50)), 1u);
    EXPECT_FALSE(store().get(old_done));
    EXPECT_TRUE(store().attempts(old_done).empty());
    EXPECT_TRUE(store().get(needed)) << "a blocked job depends on it";
    EXPECT_TRUE(store().get(new_done));
    EXPECT_TRUE(store().get(old_cancelled));
    EXPECT_EQ(job(blocked).state, model::JobState::blocked);
    EXPECT_EQ(store().purge(model::JobState::cancelled, t(50)), 1u);
    EXPECT_EQ(store().purge(model::JobState::completed, t(1000)), 1u);
    EXPECT_TRUE(store().get(needed));
}

// Completes a job of `queue` at `at` (enqueued, claimed and finished then).
model::JobId complete_at(Store& store, const std::string& queue, model::TimePoint at)
{
    const model::JobId id = store.enqueue(new_job(queue), at);
    QueueAllowance allowance;
    allowance.queue = queue;
    const auto c = store.claim({allowance}, "h", ms(1000), at);
    if (!c || c->job.id != id) throw std::logic_error("the job just enqueued was not claimed");
    if (store.finish(record_of(*c, OutcomeKind::succeeded, at), completed_with("r"), at) != model::JobState::completed) {
        throw std::logic_error("the job did not complete");
    }
    return id;
}

TEST_P(StoreContractTest, TrimKeepsTheNewestCountByWhenTheyFinished)
{
    std::vector<model::JobId> done;
    for (int i = 0; i < 7; ++i) done.push_back(complete_at(store(), "q", t(10 * i)));
    const model::JobId other_queue = complete_at(store(), "other", t(0));
    const model::JobId waiting = store().enqueue(new_job("q"), t(0));
    model::RetentionLimit limit;
    limit.count = 3;

    EXPECT_EQ(store().trim("q", model::JobState::completed, limit, t(1000), 2), 2u) << "at most a batch";
    EXPECT_EQ(store().trim("q", model::JobState::completed, limit, t(1000), 2), 2u);
    EXPECT_EQ(store().trim("q", model::JobState::completed, limit, t(1000), 2), 0u) << "three are kept";
    for (std::size_t i = 0; i < 4; ++i) EXPECT_FALSE(store().get(done[i])) << i;
    for (std::size_t i = 4; i < 7; ++i) EXPECT_TRUE(store().get(done[i])) << i;
    EXPECT_TRUE(store().attempts(done[0]).empty());
    EXPECT_TRUE(store().get(other_queue)) << "another queue has its own limit";
    EXPECT_TRUE(store().get(waiting));
    EXPECT_EQ(store().queue_counts({"q"}).at("q").by_state.at(model::JobState::completed), 3u);
    EXPECT_EQ(store().trim("q", model::JobState::dead, limit, t(1000), 10), 0u) << "no dead job";
    EXPECT_THROW(store().trim("q", model::JobState::waiting, limit, t(1000), 10), StoreRequestError);
}

TEST_P(StoreContractTest, TrimDeletesJobsOlderThanTheAgeButNotTheOnesADependentNeeds)
{
    const model::JobId old_needed = complete_at(store(), "q", t(0));
    const model::JobId old_done = complete_at(store(), "q", t(10));
    const model::JobId young = complete_at(store(), "q", t(900));
    model::NewJob dependent = new_job("later");
    dependent.depends_on = {old_needed, store().enqueue(new_job("elsewhere"), t(20))};
    const model::JobId blocked = store().enqueue(dependent, t(20));
    // A retried job that ended again is as old as its last end.
    const model::JobId cancelled_then_retried = store().enqueue(new_job("c"), t(0));
    store().cancel(cancelled_then_retried, t(1));
    ASSERT_TRUE(store().retry(cancelled_then_retried, t(2)));
    store().cancel(cancelled_then_retried, t(950));
    const model::JobId old_cancelled = store().enqueue(new_job("c"), t(0));
    store().cancel(old_cancelled, t(5));

    model::RetentionLimit limit;
    limit.age = ms(500);
    EXPECT_EQ(store().trim("q", model::JobState::completed, limit, t(1000), 100), 1u);
    EXPECT_TRUE(store().get(old_needed)) << "a blocked job depends on it";
    EXPECT_FALSE(store().get(old_done));
    EXPECT_TRUE(store().get(young));
    EXPECT_EQ(job(blocked).state, model::JobState::blocked);
    EXPECT_EQ(store().trim("c", model::JobState::cancelled, limit, t(1000), 100), 1u);
    EXPECT_FALSE(store().get(old_cancelled));
    EXPECT_TRUE(store().get(cancelled_then_retried));

    model::RetentionLimit none;
    EXPECT_EQ(store().trim("q", model::JobState::completed, none, t(100'000), 100), 0u) << "no limit keeps everything";
    EXPECT_TRUE(store().get(young));
}

TEST_P(StoreContractTest, TrimWalksPastTheJobsItMustKeep)
{
    // The oldest jobs are all needed by a dependent: the ones behind them still go.
    std::vector<model::JobId> needed;
    for (int i = 0; i < 3; ++i) needed.push_back(complete_at(store(), "q", t(i)));
    model::NewJob dependent = new_job("later");
    dependent.depends_on = needed;
    dependent.depends_on.push_back(store().enqueue(new_job("elsewhere"), t(5)));
    store().enqueue(dependent, t(5));
    std::vector<model::JobId> rest;
    for (int i = 0; i < 4; ++i) rest.push_back(complete_at(store(), "q", t(10 + i)));
    model::RetentionLimit limit;
    limit.count = 1;
    EXPECT_EQ(store().trim("q", model::JobState::completed, limit, t(100), 100), 3u);
    for (const auto id : needed) EXPECT_TRUE(store().get(id)) << id;
    for (std::size_t i = 0; i < 3; ++i) EXPECT_FALSE(store().get(rest[i])) << i;
    EXPECT_TRUE(store().get(rest[3]));
}

TEST_P(StoreContractTest, QueueCountsListEveryStateForNamedPausedAndUsedQueues)
{
    store().enqueue(new_job("a"), t(0));
    store().enqueue(new_job("a"), t(0));
    model::NewJob d = new_job("b");
    d.delay = ms(100);
    store().enqueue(d, t(0));
    store().set_paused("c", true);
    const auto counts = store().queue_counts({"named"});
    ASSERT_EQ(counts.size(), 4u);
    for (const auto& [queue, entry] : counts) {
        EXPECT_EQ(entry.by_state.size(), 7u) << queue;
    }
    EXPECT_EQ(counts.at("a").by_state.at(model::JobState::waiting), 2u);
    EXPECT_EQ(counts.at("a").by_state.at(model::JobState::dead), 0u);
    EXPECT_EQ(counts.at("b").by_state.at(model::JobState::delayed), 1u);
    EXPECT_TRUE(counts.at("c").paused);
    EXPECT_EQ(counts.at("named").by_state.at(model::JobState::waiting), 0u);
}

TEST_P(StoreContractTest, ListIsNewestFirstWithFilters)
{
    std::vector<model::JobId> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(store().enqueue(new_job(i % 2 ? "odd" : "even"), t(i)));
    store().cancel(ids[4], t(10));

    auto all = store().list(JobFilter{});
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ(all.front().id, ids[4]);
    EXPECT_EQ(all.back().id, ids[0]);

    JobFilter even;
    even.queue = "even";
    auto evens = store().list(even);
    ASSERT_EQ(evens.size(), 3u);
    EXPECT_EQ(evens[0].id, ids[4]);

    even.state = model::JobState::waiting;
    even.limit = 1;
    auto newest_waiting_even = store().list(even);
    ASSERT_EQ(newest_waiting_even.size(), 1u);
    EXPECT_EQ(newest_waiting_even[0].id, ids[2]);

    JobFilter cancelled;
    cancelled.state = model::JobState::cancelled;
    EXPECT_EQ(store().list(cancelled).size(), 1u);
}

// Every id of a queue's jobs in one state, of one task when asked, newest first: more than a
// page of the default implementation's list() (500).
TEST_P(StoreContractTest, JobIdsAreEveryJobOfAQueueInAStateNewestFirst)
{
    // More than a page of each store's walk (500 jobs by default, 5,000 on Redis).
    constexpr int k_jobs = 5'120;
    std::vector<EnqueueResult> stored;
    for (int first = 0; first < k_jobs; first += static_cast<int>(k_max_enqueue_batch)) {
        std::vector<model::NewJob> jobs;
        for (int i = first; i < std::min(k_jobs, first + static_cast<int>(k_max_enqueue_batch)); ++i) {
            auto job = new_job("q");
            if (i % 3 == 0) job.task = "other.task";
            jobs.push_back(job);
        }
        const auto batch = store().enqueue_jobs(jobs, t(0));
        stored.insert(stored.end(), batch.begin(), batch.end());
    }
    store().enqueue(new_job("elsewhere"), t(1));
    ASSERT_EQ(store().cancel(stored[5].id, t(2)), CancelResult::cancelled);

    const auto waiting = store().job_ids("q", model::JobState::waiting, std::nullopt);
    ASSERT_EQ(waiting.size(), static_cast<std::size_t>(k_jobs - 1));
    EXPECT_EQ(waiting.front(), stored.back().id);
    EXPECT_EQ(waiting.back(), stored.front().id);
    EXPECT_TRUE(std::is_sorted(waiting.rbegin(), waiting.rend()));
    EXPECT_EQ(std::set<model::JobId>(waiting.begin(), waiting.end()).size(), waiting.size()) << "no job twice";
    EXPECT_EQ(std::count(waiting.begin(), waiting.end(), stored[5].id), 0);
    const auto of_task = store().job_ids("q", model::JobState::waiting, std::string("other.task"));
    EXPECT_EQ(of_task.size(), static_cast<std::size_t>((k_jobs + 2) / 3));
    EXPECT_EQ(of_task.front(), stored[k_jobs - 2].id) << "the newest of the task (every third from the first)";
    EXPECT_EQ(store().job_ids("q", model::JobState::cancelled, std::nullopt), std::vector<model::JobId>{stored[5].id});
    EXPECT_EQ(store().job_ids("q", model::JobState::dead, std::nullopt), std::vector<model::JobId>{});
    EXPECT_EQ(store().job_ids("nowhere", model::JobState::waiting, std::nullopt), std::vector<model::JobId>{});

    // Last changed at or after a time: the cancel at t(2) is, the enqueues at t(0) are not.
    EXPECT_EQ(store().job_ids("q", model::JobState::cancelled, std::nullopt, t(2)), std::vector<model::JobId>{stored[5].id});
    EXPECT_EQ(store().job_ids("q", model::JobState::cancelled, std::nullopt, t(3)), std::vector<model::JobId>{});
    const auto later = store().enqueue(new_job("q"), t(4));
    EXPECT_EQ(store().job_ids("q", model::JobState::waiting, std::nullopt, t(1)), std::vector<model::JobId>{later});
    EXPECT_EQ(store().job_ids("q", model::JobState::waiting, std::string("other.task"), t(1)), std::vector<model::JobId>{});
}

TEST_P(StoreContractTest, EarliestDueIsTheRunAtOfTheJobThatHasWaitedLongest)
{
    const auto earliest = [&](const std::string& queue) { return store().queue_counts({queue}).at(queue).earliest_due; };
    EXPECT_EQ(earliest("q"), std::nullopt) << "a named queue without jobs";

    // Priorities are bands of the claim order: the earliest of each band counts, whichever
    // band it is in, and of every task of the queue.
    store().enqueue(new_job("q", 5), t(3'000));
    store().enqueue(new_job("q", 0), t(2'000));
    model::NewJob other = new_job("q", -7);
    other.task = "other.task";
    const model::JobId oldest = store().enqueue(other, t(1'000));
    for (int priority = 1; priority < 90; ++priority) store().enqueue(new_job("q", priority), t(4'000 + priority));
    EXPECT_EQ(earliest("q"), t(1'000));
    EXPECT_EQ(earliest("elsewhere"), std::nullopt);

    // Running, blocked and finished jobs do not count; delayed ones do, from the end of their
    // delay, due or not.
    ASSERT_EQ(store().cancel(oldest, t(5'000)), CancelResult::cancelled);
    EXPECT_EQ(earliest("q"), t(2'000));
    model::NewJob later = new_job("later");
    later.delay = ms(60'000);
    store().enqueue(later, t(0));
    EXPECT_EQ(earliest("later"), t(60'000)) << "ahead: nothing is due before it";
    store().enqueue(new_job("later"), t(70'000));
    EXPECT_EQ(earliest("later"), t(60'000));

    // A job released by its dependency may run from its release, not from its enqueue.
    const model::JobId first = store().enqueue(new_job("flow"), t(0));
    model::NewJob dependent = new_job("flow");
    dependent.depends_on = {first};
    const model::JobId second = store().enqueue(dependent, t(0));
    const Claim claim = claim_one("flow", t(100));
    ASSERT_EQ(claim.job.id, first);
    EXPECT_EQ(earliest("flow"), std::nullopt) << "one running, one blocked";
    store().finish(record_of(claim, model::OutcomeKind::succeeded, t(9'000)), completed_with("{}"), t(9'000));
    EXPECT_EQ(job(second).state, model::JobState::waiting);
    EXPECT_EQ(job(second).run_at, t(9'000));
    EXPECT_EQ(earliest("flow"), t(9'000));
    store().enqueue(new_job("flow"), t(8'000));
    EXPECT_EQ(earliest("flow"), t(8'000));
    EXPECT_EQ(claim_one("flow", t(9'001)).job.id, second + 1) << "it queues behind the job due before its release";
}

TEST_P(StoreContractTest, APromotedDelayedJobRunsNowAndKeepsItsAttempts)
{
    // A delay: the job may run from its promotion, and a claim takes it at once.
    model::NewJob later = new_job();
    later.delay = ms(60'000);
    const model::JobId delayed = store().enqueue(later, t(0));
    EXPECT_THROW(claim_one("q", t(1'000)), std::exception) << "not due yet";
    ASSERT_TRUE(store().promote(delayed, t(1'000)));
    EXPECT_EQ(job(delayed).state, model::JobState::waiting);
    EXPECT_EQ(job(delayed).run_at, t(1'000));
    EXPECT_EQ(store().queue_counts({"q"}).at("q").earliest_due, t(1'000));
    EXPECT_FALSE(store().promote(delayed, t(1'001))) << "waiting already";
    const Claim first = claim_one("q", t(1'002));
    EXPECT_EQ(first.job.id, delayed);

    // A retry's backoff: the next attempt runs now, the attempts so far still count.
    Transition backoff = to(model::JobState::delayed);
    backoff.run_at = t(600'000);
    backoff.error = "try later";
    store().finish(record_of(first, model::OutcomeKind::failed, t(1'100)), backoff, t(1'100));
    EXPECT_EQ(job(delayed).state, model::JobState::delayed);
    ASSERT_TRUE(store().promote(delayed, t(2'000)));
    EXPECT_EQ(job(delayed).attempts, 1u);
    const Claim second = claim_one("q", t(2'001));
    EXPECT_EQ(second.job.id, delayed);
    EXPECT_EQ(second.number, 2u);
    store().finish(record_of(second, model::OutcomeKind::succeeded, t(2'100)), completed_with("{}"), t(2'100));
    EXPECT_FALSE(store().promote(delayed, t(3'000))) << "completed";

    // Due already: it keeps its place, ahead of a job enqueued after it came due.
    model::NewJob soon = new_job("due");
    soon.delay = ms(100);
    const model::JobId due = store().enqueue(soon, t(3'000));
    const model::JobId after = store().enqueue(new_job("due"), t(3'500));
    ASSERT_TRUE(store().promote(due, t(4'000)));
    EXPECT_EQ(job(due).run_at, t(3'100));
    EXPECT_EQ(claim_one("due", t(4'001)).job.id, due);
    EXPECT_EQ(claim_one("due", t(4'002)).job.id, after);

    EXPECT_THROW(store().promote(9'999'999, t(5'000)), StoreRequestError);
    if (GetParam().events_and_keys) {
        const auto events = store().events_after(0, 1000);
        const auto promoted = std::count_if(events.begin(), events.end(), [&](const Event& e) {
            return e.type == "job.enqueued" && e.detail == "promoted" && e.state == model::JobState::waiting;
        });
        EXPECT_EQ(promoted, 3);
    }
}

TEST_P(StoreContractTest, HostRegistrationRefusesALiveSecondInstance)
{
    EXPECT_TRUE(store().register_host("host-a", "host-a/1", t(0), ms(30'000)));
    EXPECT_TRUE(store().register_host("host-a", "host-a/1", t(10'000), ms(30'000)));
    EXPECT_FALSE(store().register_host("host-a", "host-a/2", t(39'999), ms(30'000)));
    EXPECT_EQ(store().host_registration("host-a"), std::make_pair(std::string("host-a/1"), t(10'000)));
    EXPECT_TRUE(store().register_host("host-a", "host-a/2", t(40'000), ms(30'000))) << "the first went stale";
    EXPECT_EQ(store().host_registration("host-a")->first, "host-a/2");

    store().unregister_host("host-a", "host-a/1", t(40'000));  // not the registered one: no effect
    EXPECT_FALSE(store().hosts().at(0).stopped_at);
    store().take_over_host("host-a", "host-a/3", t(40'001));
    EXPECT_EQ(store().host_registration("host-a"), std::make_pair(std::string("host-a/3"), t(40'001)));
    store().unregister_host("host-a", "host-a/3", t(40'002));
    EXPECT_EQ(store().host_registration("host-a"), std::make_pair(std::string("host-a/3"), t(40'001)))
        << "the record stays";
    EXPECT_TRUE(store().register_host("host-a", "host-a/4", t(40'002), ms(30'000))) << "the last holder stopped";
}

TEST_P(StoreContractTest, OneStoreServesSeveralThreads)
{
    constexpr int k_jobs = 200;
    for (int i = 0; i < k_jobs; ++i) store().enqueue(new_job(), t(0));
    std::vector<std::vector<model::JobId>> claimed(4);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < claimed.size(); ++i) {
        threads.emplace_back([&, i] {
            const std::string holder = "host/thread-" + std::to_string(i);
            while (auto c = store().claim(allow({"q"}), holder, ms(10'000), t(1))) {
                claimed[i].push_back(c->job.id);
                store().finish(record_of(*c, OutcomeKind::succeeded, t(2)), completed_with("ok"), t(2));
            }
        });
    }
    for (auto& thread : threads) thread.join();
    std::set<model::JobId> all;
    std::size_t total = 0;
    for (const auto& ids : claimed) {
        total += ids.size();
        all.insert(ids.begin(), ids.end());
    }
    EXPECT_EQ(total, static_cast<std::size_t>(k_jobs));
    EXPECT_EQ(all.size(), static_cast<std::size_t>(k_jobs));
    EXPECT_EQ(store().queue_counts({})["q"].by_state[model::JobState::completed], static_cast<std::uint64_t>(k_jobs));
}

} // namespace
} // namespace sandhost::store
