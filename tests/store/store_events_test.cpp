// The event feed and idempotency keys of the contract (store.h), through Store& only, on every
// store that implements them (StoreKind::events_and_keys).
#include "store_test_support.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace sandhost::store {
namespace {

using namespace testing;
using model::JobState;
using model::OutcomeKind;

class StoreEventsTest : public StoreTest {
protected:
    void SetUp() override
    {
        StoreTest::SetUp();
        if (IsSkipped()) return;
        if (!GetParam().events_and_keys) GTEST_SKIP() << GetParam().name << " does not record events and keys yet";
    }
    std::vector<Event> all_events() { return store().events_after(0, 100'000); }
    static std::vector<std::string> types(const std::vector<Event>& events)
    {
        std::vector<std::string> out;
        for (const auto& event : events) out.push_back(event.type);
        return out;
    }
    model::NewJob keyed(const std::string& key, const std::string& queue = "q")
    {
        model::NewJob job = new_job(queue);
        job.key = key;
        return job;
    }
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreEventsTest, ::testing::ValuesIn(store_kinds()), store_kind_name);

TEST_P(StoreEventsTest, AJobsLifeIsRecordedInOrderWithItsFacts)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const Claim c = claim_one("q", t(10), "host-a/1");
    ASSERT_TRUE(store().set_progress(id, c.attempt_id, model::Progress{50, "half"}));
    model::AttemptRecord failed = record_of(c, OutcomeKind::failed, t(20));
    ASSERT_EQ(store().finish(failed, to(JobState::waiting), t(20)), JobState::waiting);
    const Claim again = claim_one("q", t(30), "host-b/1");
    ASSERT_EQ(store().finish(record_of(again, OutcomeKind::succeeded, t(40)), completed_with("ok"), t(40)), JobState::completed);

    const auto events = all_events();
    ASSERT_EQ(types(events), (std::vector<std::string>{"job.enqueued", "job.started", "job.progress", "job.finished",
                                                       "job.started", "job.finished"}));
    for (std::size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(events[i].id, static_cast<std::int64_t>(i + 1)) << "ids count up from 1 without gaps";
        EXPECT_EQ(events[i].job, id);
        EXPECT_EQ(events[i].queue, "q");
        EXPECT_EQ(events[i].task, "plugin.task");
    }
    EXPECT_EQ(events[0].at, t(0));
    EXPECT_EQ(events[0].state, JobState::waiting);
    EXPECT_EQ(events[1].at, t(10));
    EXPECT_EQ(events[1].host, "host-a/1");
    EXPECT_EQ(events[1].state, JobState::active);
    EXPECT_EQ(events[1].attempt, 1u);
    EXPECT_EQ(events[2].detail, "50");
    EXPECT_EQ(events[2].attempt, 1u);
    EXPECT_EQ(events[3].at, t(20));
    EXPECT_EQ(events[3].detail, "failed");
    EXPECT_EQ(events[3].state, JobState::waiting);
    EXPECT_EQ(events[3].host, "host-a/1");
    EXPECT_EQ(events[4].attempt, 2u);
    EXPECT_EQ(events[4].host, "host-b/1");
    EXPECT_EQ(events[5].detail, "succeeded");
    EXPECT_EQ(events[5].state, JobState::completed);
    EXPECT_EQ(events[5].attempt, 2u);

    EXPECT_EQ(store().events_after(4, 100).front().id, 5);
    EXPECT_EQ(store().events_after(2, 2).size(), 2u);
    EXPECT_TRUE(store().events_after(6, 100).empty());
    EXPECT_TRUE(open_another()->events_after(0, 100).size() == events.size()) << "every client reads one feed";
}

TEST_P(StoreEventsTest, JobsThatEndWithoutAnAttemptSayWhy)
{
    const model::JobId waiting = store().enqueue(new_job(), t(0));
    model::NewJob dependent = new_job();
    dependent.depends_on = {waiting};
    const model::JobId blocked = store().enqueue(dependent, t(0));
    model::NewJob short_lived = new_job("other");
    short_lived.ttl = ms(100);
    const model::JobId expiring = store().enqueue(short_lived, t(0));
    const auto before = all_events().size();

    ASSERT_EQ(store().cancel(waiting, t(1)), CancelResult::cancelled);
    ASSERT_EQ(store().expire(t(100)), 1u);
    ASSERT_TRUE(store().retry(expiring, t(200)));
    const auto events = store().events_after(static_cast<std::int64_t>(before), 100);
    ASSERT_EQ(types(events), (std::vector<std::string>{"job.finished", "job.finished", "job.finished", "job.enqueued"}));
    EXPECT_EQ(events[0].job, waiting);
    EXPECT_EQ(events[0].state, JobState::cancelled);
    EXPECT_EQ(events[0].detail, "cancelled");
    EXPECT_EQ(events[1].job, blocked);
    EXPECT_EQ(events[1].state, JobState::dead);
    EXPECT_EQ(events[1].detail, "dependency " + std::to_string(waiting) + " was cancelled");
    EXPECT_EQ(events[2].job, expiring);
    EXPECT_EQ(events[2].detail, "expired: not started within its ttl");
    EXPECT_EQ(events[3].job, expiring);
    EXPECT_EQ(events[3].state, JobState::waiting);
    EXPECT_EQ(events[3].detail, "retried");
}

TEST_P(StoreEventsTest, PausesAndHostsAreRecordedWhenTheyChange)
{
    store().set_paused("q", true);
    store().set_paused("q", true);
    store().set_paused("q", false);
    ASSERT_TRUE(store().register_host("host-a", "host-a/1", t(0), ms(30'000)));
    store().unregister_host("host-a", "host-a/1", t(1));
    store().unregister_host("host-a", "host-a/1", t(2));
    const auto events = all_events();
    ASSERT_EQ(types(events), (std::vector<std::string>{"queue.paused", "queue.resumed", "host.up", "host.gone"}));
    EXPECT_EQ(events[0].queue, "q");
    EXPECT_EQ(events[2].host, "host-a");
    EXPECT_EQ(events[3].at, t(1));
}

TEST_P(StoreEventsTest, AKeyReturnsTheUnfinishedJobThatHoldsIt)
{
    const EnqueueResult first = store().enqueue_job(keyed("order-7"), t(0));
    EXPECT_TRUE(first.created);
    const EnqueueResult again = store().enqueue_job(keyed("order-7"), t(1));
    EXPECT_EQ(again.id, first.id);
    EXPECT_FALSE(again.created);
    EXPECT_EQ(job(first.id).key, "order-7");
    EXPECT_TRUE(store().enqueue_job(keyed("order-7", "other"), t(1)).created) << "keys are per queue";
    EXPECT_TRUE(store().enqueue_job(keyed("order-8"), t(1)).created);

    const Claim c = claim_one("q", t(2));
    ASSERT_EQ(c.job.id, first.id);
    EXPECT_EQ(store().enqueue_job(keyed("order-7"), t(3)).id, first.id) << "running is unfinished";
    ASSERT_EQ(store().finish(record_of(c, OutcomeKind::succeeded, t(4)), completed_with("ok"), t(4)), JobState::completed);
    const EnqueueResult after = store().enqueue_job(keyed("order-7"), t(5));
    EXPECT_TRUE(after.created) << "a finished job holds its key no more";
    EXPECT_NE(after.id, first.id);

    ASSERT_EQ(store().cancel(after.id, t(6)), CancelResult::cancelled);
    EXPECT_TRUE(store().enqueue_job(keyed("order-7"), t(7)).created);

    model::NewJob doomed = keyed("order-9");
    doomed.depends_on = {after.id};
    const EnqueueResult dead = store().enqueue_job(doomed, t(8));
    ASSERT_EQ(job(dead.id).state, JobState::dead);
    EXPECT_TRUE(store().enqueue_job(keyed("order-9"), t(9)).created) << "a job dead at once never held its key";
}

TEST_P(StoreEventsTest, ARetriedJobTakesItsKeyBackUnlessAnotherJobHoldsIt)
{
    const EnqueueResult first = store().enqueue_job(keyed("k"), t(0));
    ASSERT_EQ(store().cancel(first.id, t(1)), CancelResult::cancelled);
    const EnqueueResult second = store().enqueue_job(keyed("k"), t(2));
    ASSERT_TRUE(second.created);
    EXPECT_THROW(store().retry(first.id, t(3)), StoreRequestError);
    EXPECT_EQ(job(first.id).state, JobState::cancelled) << "refused: nothing changed";
    ASSERT_EQ(store().cancel(second.id, t(4)), CancelResult::cancelled);
    ASSERT_TRUE(store().retry(first.id, t(5)));
    EXPECT_EQ(store().enqueue_job(keyed("k"), t(6)).id, first.id);
}

TEST_P(StoreEventsTest, ConcurrentEnqueuesOfOneKeyStoreOneJob)
{
    constexpr int k_clients = 4;
    std::vector<std::unique_ptr<Store>> clients;
    for (int i = 0; i < k_clients; ++i) clients.push_back(open_another());
    std::atomic<int> created{0};
    std::set<model::JobId> ids;
    std::mutex mutex;
    std::vector<std::thread> threads;
    for (int i = 0; i < k_clients; ++i) {
        threads.emplace_back([&, i] {
            for (int round = 0; round < 25; ++round) {
                const auto result = clients[static_cast<std::size_t>(i)]->enqueue_job(keyed("k" + std::to_string(round)), t(round));
                if (result.created) ++created;
                std::lock_guard lock(mutex);
                ids.insert(result.id);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(created.load(), 25);
    EXPECT_EQ(ids.size(), 25u);
    EXPECT_EQ(store().list(JobFilter{}).size(), 25u);
}

} // namespace
} // namespace sandhost::store
