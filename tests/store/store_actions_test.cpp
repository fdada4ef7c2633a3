// Retry, cancel and promote of many jobs in one step (Store::change_jobs): each job as the single
// call changes it, in order, a refusal naming why while the others go on. Through Store& only:
// every Store implementation runs these.
#include "store_test_support.h"

#include <gtest/gtest.h>

namespace sandhost::store {
namespace {

using namespace testing;
using model::JobState;
using model::OutcomeKind;
using Kind = ActionResult::Kind;

class StoreActionsTest : public StoreTest {
protected:
    // A job of `queue` that ran once and is dead.
    model::JobId dead_job(const std::string& queue, model::TimePoint at)
    {
        model::NewJob once = new_job(queue);
        once.max_attempts = 1;
        const model::JobId id = store().enqueue(once, at);
        const Claim claim = claim_one(queue, at);
        EXPECT_EQ(claim.job.id, id);
        Transition gone = to(JobState::dead);
        gone.error = "failed";
        EXPECT_TRUE(store().finish(record_of(claim, OutcomeKind::failed, at), gone, at));
        return id;
    }
    static std::vector<Kind> kinds(const std::vector<ActionResult>& results)
    {
        std::vector<Kind> out;
        for (const auto& r : results) out.push_back(r.kind);
        return out;
    }
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreActionsTest, ::testing::ValuesIn(store_kinds()), store_kind_name);

TEST_P(StoreActionsTest, ManyJobsAreRetriedInOneStepAndARefusalStopsNoOther)
{
    const model::JobId dead = dead_job("q", t(0));
    const model::JobId dependency = dead_job("deps", t(1));
    model::NewJob after = new_job("q");
    after.depends_on = {dependency};
    const model::JobId born_dead = store().enqueue(after, t(2));
    ASSERT_EQ(job(born_dead).state, JobState::dead);
    const model::JobId waiting = store().enqueue(new_job("q"), t(3));
    const model::JobId unknown = waiting + 1000;

    const auto results = store().change_jobs(JobAction::retry, {born_dead, dead, waiting, unknown}, t(10));
    EXPECT_EQ(kinds(results), (std::vector<Kind>{Kind::refused, Kind::changed, Kind::skipped, Kind::skipped}));
    EXPECT_NE(results[0].why.find("dependency " + std::to_string(dependency) + " is dead"), std::string::npos) << results[0].why;
    EXPECT_EQ(job(born_dead).state, JobState::dead) << "a refused job is left as it was";
    EXPECT_EQ(job(dead).state, JobState::waiting);
    EXPECT_EQ(job(dead).run_at, t(10));
    EXPECT_EQ(job(dead).attempts_since_retry, 0u);
    // In order: the dependency retried first in the step lets its dependent run again too.
    const auto both = store().change_jobs(JobAction::retry, {dependency, born_dead}, t(20));
    EXPECT_EQ(kinds(both), (std::vector<Kind>{Kind::changed, Kind::changed}));
    EXPECT_EQ(job(born_dead).state, JobState::blocked);
    EXPECT_TRUE(store().change_jobs(JobAction::retry, {}, t(21)).empty());
    EXPECT_THROW(store().change_jobs(JobAction::retry, std::vector<model::JobId>(k_max_action_batch + 1, dead), t(22)), StoreRequestError);
}

TEST_P(StoreActionsTest, ManyJobsAreCancelledOrPromotedInOneStepAsOneAtATime)
{
    const model::JobId first = store().enqueue(new_job(), t(0));
    model::NewJob after = new_job();
    after.depends_on = {first};
    const model::JobId dependent = store().enqueue(after, t(1));
    const model::JobId running = store().enqueue(new_job("busy"), t(2));
    const Claim claim = claim_one("busy", t(3));
    ASSERT_EQ(claim.job.id, running);
    const model::JobId done = store().enqueue(new_job("done"), t(4));
    ASSERT_TRUE(claim_and_complete(store(), {"done"}, t(5)));

    // Cancelling the first makes its dependent dead before the step reaches it.
    const auto cancelled = store().change_jobs(JobAction::cancel, {first, dependent, running, done, done + 1000}, t(10));
    EXPECT_EQ(kinds(cancelled), (std::vector<Kind>{Kind::changed, Kind::skipped, Kind::requested, Kind::skipped, Kind::skipped}));
    EXPECT_EQ(job(first).state, JobState::cancelled);
    EXPECT_EQ(job(dependent).state, JobState::dead);
    EXPECT_TRUE(job(running).cancel_requested);
    EXPECT_EQ(store().cancel_requests("host/1"), std::vector<model::JobId>{running});

    model::NewJob later = new_job("later");
    later.delay = ms(60'000);
    const model::JobId delayed = store().enqueue(later, t(20));
    model::NewJob soon = new_job("later");
    soon.delay = ms(5);
    const model::JobId due = store().enqueue(soon, t(21));
    const auto promoted = store().change_jobs(JobAction::promote, {delayed, due, first, delayed + 1000}, t(100));
    EXPECT_EQ(kinds(promoted), (std::vector<Kind>{Kind::changed, Kind::changed, Kind::skipped, Kind::skipped}));
    EXPECT_EQ(job(delayed).state, JobState::waiting);
    EXPECT_EQ(job(delayed).run_at, t(100));
    EXPECT_EQ(job(due).run_at, t(26)) << "a job due already keeps its place";
    EXPECT_EQ(claim_one("later", t(101)).job.id, due);

    // The same events as the single calls.
    int promotions = 0, cancels = 0;
    for (const auto& event : store().events_after(0, 1000)) {
        if (event.type == "job.enqueued" && event.detail == "promoted") ++promotions;
        if (event.type == "job.finished" && event.detail == "cancelled") ++cancels;
    }
    EXPECT_EQ(promotions, 2);
    EXPECT_EQ(cancels, 1);
}

TEST_P(StoreActionsTest, AFinishedJobIsRemovedWithItsAttemptsUnlessAJobStillToRunNeedsIt)
{
    const model::JobId done = store().enqueue(new_job("gone"), t(0));
    ASSERT_TRUE(claim_and_complete(store(), {"gone"}, t(1)));
    ASSERT_EQ(store().attempts(done).size(), 1u);
    const model::JobId waiting = store().enqueue(new_job(), t(2));
    const model::JobId needed = store().enqueue(new_job(), t(3));
    ASSERT_TRUE(claim_and_complete(store(), {"q"}, t(4)));  // the waiting one, first in
    ASSERT_TRUE(claim_and_complete(store(), {"q"}, t(5)));
    model::NewJob after = new_job("later");
    after.depends_on = {needed};
    after.delay = ms(60'000);
    const model::JobId dependent = store().enqueue(after, t(6));
    ASSERT_EQ(job(dependent).state, JobState::delayed) << "its dependency completed: it waits out its delay";
    const model::JobId running = store().enqueue(new_job("busy"), t(7));
    claim_one("busy", t(8));
    const model::JobId dead = dead_job("dead", t(9));

    EXPECT_EQ(store().remove(done), RemoveResult::removed);
    EXPECT_FALSE(store().get(done));
    EXPECT_TRUE(store().attempts(done).empty());
    EXPECT_EQ(store().remove(done), RemoveResult::not_found);
    EXPECT_EQ(store().queue_counts({}).count("gone"), 0u) << "a queue left without jobs is no longer listed";
    EXPECT_EQ(store().remove(needed), RemoveResult::needed) << "a job still to run depends on it";
    EXPECT_EQ(store().remove(running), RemoveResult::not_finished);
    EXPECT_EQ(store().remove(dependent), RemoveResult::not_finished);
    EXPECT_EQ(store().remove(dead), RemoveResult::removed);
    EXPECT_EQ(store().remove(waiting), RemoveResult::removed) << "completed, nobody waiting on it";
    // Once its dependent ended, it goes too.
    ASSERT_EQ(store().cancel(dependent, t(10)), CancelResult::cancelled);
    EXPECT_EQ(store().remove(needed), RemoveResult::removed);
    EXPECT_EQ(store().remove(dependent), RemoveResult::removed);
    JobFilter all;
    all.limit = 0;
    const auto left = store().list(all);
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left.front().id, running);
    bool named = false;
    for (const auto& event : store().events_after(0, 1000)) named = named || event.job == done;
    EXPECT_TRUE(named) << "its events stay";
}

} // namespace
} // namespace sandhost::store
