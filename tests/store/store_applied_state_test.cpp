// finish, recover and finish_and_claim say which state they left the job in, or that they
// were refused. Through Store& only: every Store implementation runs these.
#include "store_test_support.h"

#include <gtest/gtest.h>

namespace sandhost::store {
namespace {

using namespace testing;
using model::JobState;
using model::OutcomeKind;

class StoreAppliedStateTest : public StoreTest {
protected:
    Transition lost_again()
    {
        Transition transition = to(JobState::waiting);
        transition.counts_as_lost = true;
        transition.error = "worker lost";
        return transition;
    }
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreAppliedStateTest, ::testing::ValuesIn(store_kinds()), store_kind_name);

TEST_P(StoreAppliedStateTest, FinishReturnsTheStateItApplied)
{
    for (const JobState next : {JobState::completed, JobState::waiting, JobState::delayed, JobState::dead, JobState::cancelled}) {
        const model::JobId id = store().enqueue(new_job(), t(0));
        const Claim c = claim_one("q", t(1));
        ASSERT_EQ(c.job.id, id);
        Transition transition = to(next);
        if (next == JobState::delayed) transition.run_at = t(1'000'000);
        EXPECT_EQ(store().finish(record_of(c, OutcomeKind::failed, t(2)), transition, t(2)), next);
        EXPECT_EQ(job(id).state, next);
        if (next == JobState::waiting) {
            ASSERT_EQ(store().cancel(id, t(3)), CancelResult::cancelled);  // or the next round claims it
        }
    }
}

TEST_P(StoreAppliedStateTest, AfterACancelRequestARetryComesBackAsCancelled)
{
    for (const JobState asked : {JobState::waiting, JobState::delayed}) {
        const model::JobId id = store().enqueue(new_job(), t(0));
        const Claim c = claim_one("q", t(1));
        ASSERT_EQ(store().cancel(id, t(2)), CancelResult::requested);
        Transition transition = to(asked);
        transition.run_at = t(5000);
        EXPECT_EQ(store().finish(record_of(c, OutcomeKind::failed, t(3)), transition, t(3)), JobState::cancelled)
            << to_string(asked);
        EXPECT_EQ(job(id).state, JobState::cancelled);
        EXPECT_FALSE(job(id).cancel_requested);
    }
    EXPECT_FALSE(store().claim(allow({"q"}), "host/1", ms(1000), t(10'000)));

    // An attempt that ended otherwise keeps its own end.
    for (const JobState asked : {JobState::completed, JobState::dead}) {
        const model::JobId id = store().enqueue(new_job(), t(20'000));
        const Claim c = claim_one("q", t(20'001));
        ASSERT_EQ(store().cancel(id, t(20'002)), CancelResult::requested);
        EXPECT_EQ(store().finish(record_of(c, OutcomeKind::succeeded, t(20'003)), to(asked), t(20'003)), asked);
        EXPECT_EQ(job(id).state, asked);
    }
}

TEST_P(StoreAppliedStateTest, AStaleFinishReturnsNothingAndChangesNothing)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(1));
    model::AttemptRecord stale = record_of(c, OutcomeKind::succeeded, t(2));
    stale.attempt_id += 1000;
    EXPECT_EQ(store().finish(stale, completed_with("late"), t(2)), std::nullopt);
    EXPECT_EQ(job(id).state, JobState::active);
    EXPECT_EQ(job(id).lease->attempt_id, c.attempt_id);
    EXPECT_TRUE(store().attempts(id).empty());
}

TEST_P(StoreAppliedStateTest, OfTwoRecoverersTheWinnerGetsTheStateAndTheLoserNothing)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(0), "dead-host/1");
    auto other = open_another();
    ASSERT_EQ(store().lost_attempts("host-a", "host-a/1", t(20'000)).size(), 1u);
    ASSERT_EQ(other->lost_attempts("host-b", "host-b/1", t(20'000)).size(), 1u);

    const model::AttemptRecord r = record_of(c, OutcomeKind::worker_lost, t(20'000));
    EXPECT_EQ(store().recover(r, lost_again(), t(20'000)), JobState::waiting);
    EXPECT_EQ(other->recover(r, lost_again(), t(20'001)), std::nullopt);
    const model::Job j = job(id);
    EXPECT_EQ(j.state, JobState::waiting);
    EXPECT_EQ(j.lost, 1u);
    EXPECT_EQ(j.updated_at, t(20'000)) << "the loser changed nothing";
    ASSERT_EQ(store().attempts(id).size(), 1u);
    EXPECT_EQ(store().attempts(id)[0].outcome.kind, OutcomeKind::worker_lost);
}

TEST_P(StoreAppliedStateTest, RecoverAfterACancelRequestReturnsCancelled)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(0), "dead-host/1");
    ASSERT_EQ(store().cancel(id, t(1)), CancelResult::requested);
    EXPECT_EQ(store().recover(record_of(c, OutcomeKind::worker_lost, t(20'000)), lost_again(), t(20'000)),
              JobState::cancelled);
    EXPECT_EQ(job(id).state, JobState::cancelled);
}

TEST_P(StoreAppliedStateTest, FinishAndClaimReportsTheAppliedState)
{
    const model::JobId first = store().enqueue(new_job(), t(0));
    const model::JobId second = store().enqueue(new_job(), t(1));
    const model::JobId third = store().enqueue(new_job(), t(2));
    const Claim c = claim_one("q", t(10));
    ASSERT_EQ(c.job.id, first);
    ASSERT_EQ(store().cancel(first, t(11)), CancelResult::requested);

    const auto both = store().finish_and_claim(record_of(c, OutcomeKind::failed, t(12)), to(JobState::waiting), t(12),
                                               allow({"q"}), "host/1", ms(10'000));
    EXPECT_EQ(both.applied, JobState::cancelled);
    EXPECT_EQ(job(first).state, JobState::cancelled);
    ASSERT_TRUE(both.claim);
    EXPECT_EQ(both.claim->job.id, second);

    // Stale: nothing applied, and the slot is still filled.
    const auto again = store().finish_and_claim(record_of(c, OutcomeKind::succeeded, t(13)), completed_with("late"), t(13),
                                                allow({"q"}), "host/1", ms(10'000));
    EXPECT_EQ(again.applied, std::nullopt);
    ASSERT_TRUE(again.claim);
    EXPECT_EQ(again.claim->job.id, third);
    EXPECT_EQ(job(first).state, JobState::cancelled);
}

} // namespace
} // namespace sandhost::store
