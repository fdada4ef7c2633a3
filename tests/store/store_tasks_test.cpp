// Claims honour the tasks a host may run (QueueAllowance::tasks), and unclaimable_tasks names
// the ones it leaves to others. Through Store& only: every Store implementation runs these.
#include "store_test_support.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace sandhost::store {
namespace {

using namespace testing;
using model::OutcomeKind;

class StoreTasksTest : public StoreTest {
protected:
    model::JobId enqueue_task(const std::string& queue, const std::string& task, int priority, model::TimePoint now)
    {
        model::NewJob n = new_job(queue, priority);
        n.task = task;
        return store().enqueue(n, now);
    }

    // The job is as it was enqueued at `at`: waiting, never claimed, no attempt recorded.
    void expect_untouched(model::JobId id, model::TimePoint at)
    {
        const model::Job j = job(id);
        EXPECT_EQ(j.state, model::JobState::waiting) << "job " << id;
        EXPECT_EQ(j.attempts, 0u) << "job " << id;
        EXPECT_EQ(j.attempts_since_retry, 0u) << "job " << id;
        EXPECT_EQ(j.updated_at, at) << "job " << id;
        EXPECT_FALSE(j.lease) << "job " << id;
        EXPECT_TRUE(store().attempts(id).empty()) << "job " << id;
    }
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreTasksTest, ::testing::ValuesIn(store_kinds()), store_kind_name);

TEST_P(StoreTasksTest, AClaimPassesOverAJobOfAnotherTaskAndTakesTheOneBehindIt)
{
    const model::JobId foreign_first = enqueue_task("q", "other.run", 9, t(0));
    const model::JobId foreign_fifo = enqueue_task("q", "other.run", 0, t(1));
    const model::JobId mine = enqueue_task("q", "hello.greet", 0, t(2));
    const model::JobId mine_later = enqueue_task("q", "hello.greet", 0, t(3));

    auto claimed = store().claim({allow_tasks("q", {"hello.greet"})}, "host-a/1", ms(10'000), t(10));
    ASSERT_TRUE(claimed);
    EXPECT_EQ(claimed->job.id, mine) << "neither a higher priority nor an earlier job of another task holds it up";
    EXPECT_EQ(claimed->job.task, "hello.greet");
    EXPECT_EQ(claimed->number, 1u);
    expect_untouched(foreign_first, t(0));
    expect_untouched(foreign_fifo, t(1));

    claimed = store().claim({allow_tasks("q", {"hello.greet"})}, "host-a/1", ms(10'000), t(11));
    ASSERT_TRUE(claimed);
    EXPECT_EQ(claimed->job.id, mine_later);
    EXPECT_FALSE(store().claim({allow_tasks("q", {"hello.greet"})}, "host-a/1", ms(10'000), t(12)));

    // A host that may run them takes them, in the queue's order.
    const auto other = store().claim({allow_tasks("q", {"other.run"})}, "host-b/1", ms(10'000), t(13));
    ASSERT_TRUE(other);
    EXPECT_EQ(other->job.id, foreign_first);
    EXPECT_EQ(other->number, 1u);
}

TEST_P(StoreTasksTest, AQueueOfOnlyOtherTasksClaimsNothingAndLeavesItsJobsWaiting)
{
    const model::JobId a = enqueue_task("q", "other.run", 0, t(0));
    const model::JobId b = enqueue_task("q", "third.run", 5, t(1));
    model::NewJob due = new_job("q", 7);
    due.task = "other.run";
    due.delay = ms(5);
    const model::JobId delayed = store().enqueue(due, t(2));
    model::NewJob short_lived = new_job("q", 9);
    short_lived.task = "other.run";
    short_lived.ttl = ms(10);
    const model::JobId expiring = store().enqueue(short_lived, t(3));

    EXPECT_FALSE(store().claim({allow_tasks("q", {"hello.*", "legacy_c.checksum"})}, "host-a/1", ms(10'000), t(100)));
    expect_untouched(a, t(0));
    expect_untouched(b, t(1));
    EXPECT_EQ(job(delayed).state, model::JobState::delayed);
    EXPECT_EQ(job(delayed).attempts, 0u);
    expect_untouched(expiring, t(3));  // past its ttl, but a claim that may not run it leaves it alone
    EXPECT_EQ(store().queue_counts({})["q"].by_state[model::JobState::waiting], 3u);
}

TEST_P(StoreTasksTest, PatternsAllowExactlyWhatModelTaskAllowedAllows)
{
    const std::vector<std::string> patterns{"hello.*", "legacy_c.checksum", "a.b.*", "he\"llo\\.*", "p%.*"};
    const std::vector<std::string> tasks{
        "hello.greet", "hello.fail", "hello.", "hello.a.b", "hello", "hellox.greet", "xhello.greet", "Hello.greet",
        "legacy_c.checksum", "legacy_c.other", "legacy_c.checksum.x", "a.b.c", "a.b.*", "a.c", "he\"llo\\.x",
        "p%.x", "px.x", "other.hello"};
    std::map<model::JobId, std::string> task_of;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        task_of[enqueue_task("q", tasks[i], 0, t(static_cast<std::int64_t>(i)))] = tasks[i];
    }

    std::set<std::string> claimed;
    while (auto c = store().claim({allow_tasks("q", patterns)}, "host-a/1", ms(10'000), t(100))) {
        claimed.insert(c->job.task);
    }
    std::set<std::string> expected;
    for (const auto& task : tasks) {
        if (model::task_allowed(patterns, task)) expected.insert(task);
    }
    EXPECT_EQ(claimed, expected);
    // Spelled out, so that a change to task_allowed is seen here too.
    EXPECT_EQ(expected, (std::set<std::string>{"hello.greet", "hello.fail", "hello.", "hello.a.b", "legacy_c.checksum",
                                               "a.b.*", "he\"llo\\.x", "p%.x"}));
    for (const auto& [id, task] : task_of) {
        EXPECT_EQ(job(id).state, expected.count(task) ? model::JobState::active : model::JobState::waiting) << task;
    }
}

TEST_P(StoreTasksTest, NoTaskPatternsAllowEveryTask)
{
    enqueue_task("q", "hello.greet", 0, t(0));
    enqueue_task("q", "other.run", 0, t(1));
    std::set<std::string> claimed;
    while (auto c = store().claim({allow_tasks("q", {})}, "host-a/1", ms(10'000), t(10))) claimed.insert(c->job.task);
    EXPECT_EQ(claimed, (std::set<std::string>{"hello.greet", "other.run"}));
}

TEST_P(StoreTasksTest, DelayedJobsOfOtherTasksDoNotHideDueOnesBehindThem)
{
    auto delayed = [&](const std::string& task, int priority, std::int64_t due) {
        model::NewJob n = new_job("q", priority);
        n.task = task;
        n.delay = ms(due);
        return store().enqueue(n, t(0));
    };
    // Priority 5: a due job of another task comes first; the allowed one behind it is due too.
    delayed("other.run", 5, 1);
    const model::JobId mine_due = delayed("hello.greet", 5, 2);
    // Priority 7: the first allowed job is not due, so none of its priority is; an earlier
    // other-task job that is due does not count.
    delayed("other.run", 7, 1);
    const model::JobId mine_not_due = delayed("hello.greet", 7, 1000);
    const model::JobId mine_waiting_low = enqueue_task("q", "hello.greet", 1, t(0));

    const auto allowance = std::vector<QueueAllowance>{allow_tasks("q", {"hello.*"})};
    std::vector<model::JobId> order;
    while (auto c = store().claim(allowance, "host-a/1", ms(10'000), t(10))) order.push_back(c->job.id);
    EXPECT_EQ(order, (std::vector<model::JobId>{mine_due, mine_waiting_low}));
    EXPECT_EQ(job(mine_not_due).state, model::JobState::delayed);
    auto later = store().claim(allowance, "host-a/1", ms(10'000), t(1000));
    ASSERT_TRUE(later);
    EXPECT_EQ(later->job.id, mine_not_due);
    EXPECT_FALSE(store().claim(allowance, "host-a/1", ms(10'000), t(5000)));
    EXPECT_EQ(store().queue_counts({})["q"].by_state[model::JobState::delayed], 2u) << "the other tasks' jobs";
}

TEST_P(StoreTasksTest, EachQueueClaimsWithItsOwnTasksInPriorityOrderAcrossQueues)
{
    const model::JobId a_other = enqueue_task("a", "y.run", 9, t(0));
    const model::JobId a_mine = enqueue_task("a", "x.run", 1, t(1));
    const model::JobId b_mine = enqueue_task("b", "y.run", 5, t(2));
    const model::JobId b_other = enqueue_task("b", "x.run", 8, t(3));
    const std::vector<QueueAllowance> allowances{allow_tasks("a", {"x.*"}), allow_tasks("b", {"y.run"})};

    std::vector<model::JobId> order;
    while (auto c = store().claim(allowances, "host-a/1", ms(10'000), t(10))) order.push_back(c->job.id);
    EXPECT_EQ(order, (std::vector<model::JobId>{b_mine, a_mine}));
    expect_untouched(a_other, t(0));
    expect_untouched(b_other, t(3));
}

TEST_P(StoreTasksTest, FinishAndClaimClaimsOnlyAllowedTasks)
{
    enqueue_task("q", "hello.greet", 0, t(0));
    const model::JobId other = enqueue_task("q", "other.run", 0, t(1));
    const model::JobId next = enqueue_task("q", "hello.greet", 0, t(2));
    const std::vector<QueueAllowance> allowance{allow_tasks("q", {"hello.*"})};
    auto first = store().claim(allowance, "host-a/1", ms(10'000), t(10));
    ASSERT_TRUE(first);
    const auto both = store().finish_and_claim(record_of(*first, OutcomeKind::succeeded, t(11)), completed_with("ok"),
                                               t(11), allowance, "host-a/1", ms(10'000));
    EXPECT_EQ(both.applied, model::JobState::completed);
    ASSERT_TRUE(both.claim);
    EXPECT_EQ(both.claim->job.id, next);
    expect_untouched(other, t(1));
}

TEST_P(StoreTasksTest, UnclaimableTasksAreTheWaitingAndDelayedTasksNoPatternAllows)
{
    enqueue_task("a", "hello.greet", 0, t(0));
    enqueue_task("a", "other.run", 0, t(1));
    enqueue_task("a", "other.run", 3, t(2));
    model::NewJob later = new_job("a");
    later.task = "late.run";
    later.delay = ms(60'000);
    store().enqueue(later, t(3));
    // Not waiting for a claim: blocked, running, final. Not reported.
    const model::JobId dependency = enqueue_task("a", "hello.greet", 9, t(4));
    model::NewJob blocked = new_job("a");
    blocked.task = "blocked.run";
    blocked.depends_on = {dependency};
    store().enqueue(blocked, t(5));
    const model::JobId cancelled = enqueue_task("a", "gone.run", 0, t(6));
    ASSERT_EQ(store().cancel(cancelled, t(7)), CancelResult::cancelled);
    const model::JobId running = enqueue_task("a", "busy.run", 0, t(8));
    const auto busy = store().claim({allow_tasks("a", {"busy.run"})}, "host-b/1", ms(10'000), t(9));
    ASSERT_TRUE(busy);
    ASSERT_EQ(busy->job.id, running);
    // Queue b: no patterns, every task allowed. Queue c: not asked about.
    enqueue_task("b", "other.run", 0, t(10));
    enqueue_task("c", "other.run", 0, t(11));

    const std::vector<QueueAllowance> allowances{allow_tasks("a", {"hello.*"}), allow_tasks("b", {})};
    EXPECT_EQ(store().unclaimable_tasks(allowances),
              (std::vector<std::pair<std::string, std::string>>{{"a", "late.run"}, {"a", "other.run"}}));
    EXPECT_TRUE(store().unclaimable_tasks({allow_tasks("a", {"hello.*", "other.*", "late.run"})}).empty());
    EXPECT_EQ(store().unclaimable_tasks({allow_tasks("c", {"x.*"})}),
              (std::vector<std::pair<std::string, std::string>>{{"c", "other.run"}}));
    EXPECT_TRUE(store().unclaimable_tasks({allow_tasks("empty", {"x.*"})}).empty());
    // Asking changes nothing.
    EXPECT_EQ(store().queue_counts({})["a"].by_state[model::JobState::waiting], 4u);
}

} // namespace
} // namespace sandhost::store
