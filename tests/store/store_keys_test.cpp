// Idempotency keys: while a job with a key has not finished, enqueuing the same key in the same
// queue returns that job and stores nothing; jobs are listed by task and paged by id. Through
// Store& only: every Store implementation runs these.
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

model::NewJob keyed(const std::string& key, const std::string& queue = "q")
{
    model::NewJob job = new_job(queue);
    job.key = key;
    return job;
}

class StoreKeysTest : public StoreTest {
protected:
    std::size_t job_count()
    {
        JobFilter everything;
        everything.limit = 0;
        return store().list(everything).size();
    }
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreKeysTest, ::testing::ValuesIn(store_kinds()), store_kind_name);

TEST_P(StoreKeysTest, AnUnfinishedJobWithTheKeyIsReturnedInsteadOfANewOne)
{
    const EnqueueResult first = store().enqueue_job(keyed("order-17"), t(0));
    EXPECT_TRUE(first.created);
    EXPECT_EQ(job(first.id).key, "order-17");

    model::NewJob again = keyed("order-17");
    again.payload = R"({"other": true})";
    again.priority = 9;
    const EnqueueResult second = store().enqueue_job(again, t(1));
    EXPECT_FALSE(second.created);
    EXPECT_EQ(second.id, first.id);
    EXPECT_EQ(job(first.id).payload, "{}") << "the stored job is not changed";
    EXPECT_EQ(job(first.id).priority, 0);
    EXPECT_EQ(job_count(), 1u);

    // Another queue, another key, or no key: new jobs.
    EXPECT_TRUE(store().enqueue_job(keyed("order-17", "other"), t(2)).created);
    EXPECT_TRUE(store().enqueue_job(keyed("order-18"), t(3)).created);
    EXPECT_TRUE(store().enqueue_job(new_job(), t(4)).created);
    EXPECT_TRUE(store().enqueue_job(new_job(), t(5)).created);
    EXPECT_FALSE(job(store().enqueue(new_job(), t(6))).key);
    EXPECT_EQ(job_count(), 6u);
    EXPECT_EQ(store().enqueue(keyed("order-17"), t(7)), first.id);
}

TEST_P(StoreKeysTest, TheKeyIsHeldUntilTheJobFinishes)
{
    // Not finished: waiting, delayed, blocked, active.
    const model::JobId waiting = store().enqueue(keyed("w"), t(0));
    model::NewJob later = keyed("d");
    later.delay = ms(60'000);
    const model::JobId delayed = store().enqueue(later, t(0));
    model::NewJob dependent = keyed("b");
    dependent.depends_on = {waiting};
    const model::JobId blocked = store().enqueue(dependent, t(0));
    ASSERT_EQ(job(delayed).state, JobState::delayed);
    ASSERT_EQ(job(blocked).state, JobState::blocked);
    for (const auto& [key, id] : std::vector<std::pair<std::string, model::JobId>>{{"w", waiting}, {"d", delayed}, {"b", blocked}}) {
        EXPECT_EQ(store().enqueue_job(keyed(key), t(1)).id, id) << key;
    }
    const Claim claim = claim_one("q", t(2));
    ASSERT_EQ(claim.job.id, waiting);
    EXPECT_EQ(store().enqueue_job(keyed("w"), t(3)).id, waiting) << "active";

    // Finished: completed, dead, cancelled. The key is free again.
    ASSERT_EQ(store().finish(record_of(claim, OutcomeKind::succeeded, t(4)), completed_with("{}"), t(4)), JobState::completed);
    const EnqueueResult after_completed = store().enqueue_job(keyed("w"), t(5));
    EXPECT_TRUE(after_completed.created);
    EXPECT_NE(after_completed.id, waiting);
    ASSERT_EQ(store().cancel(delayed, t(6)), CancelResult::cancelled);
    EXPECT_TRUE(store().enqueue_job(keyed("d"), t(7)).created);
    ASSERT_EQ(job(blocked).state, JobState::waiting) << "its dependency completed";
    ASSERT_EQ(store().cancel(blocked, t(8)), CancelResult::cancelled);
    EXPECT_TRUE(store().enqueue_job(keyed("b"), t(9)).created);
}

TEST_P(StoreKeysTest, ARetriedJobTakesItsKeyBackOnlyWhenNoOtherJobHoldsIt)
{
    const model::JobId first = store().enqueue(keyed("k"), t(0));
    ASSERT_EQ(store().cancel(first, t(1)), CancelResult::cancelled);
    const model::JobId second = store().enqueue(keyed("k"), t(2));
    ASSERT_NE(second, first);

    EXPECT_THROW(store().retry(first, t(3)), StoreRequestError);
    EXPECT_EQ(job(first).state, JobState::cancelled) << "refused and unchanged";

    ASSERT_EQ(store().cancel(second, t(4)), CancelResult::cancelled);
    EXPECT_TRUE(store().retry(first, t(5)));
    EXPECT_EQ(job(first).state, JobState::waiting);
    EXPECT_EQ(store().enqueue_job(keyed("k"), t(6)).id, first);
}

TEST_P(StoreKeysTest, ConcurrentEnqueuesOfOneKeyStoreOneJob)
{
    constexpr int k_threads = 4;
    constexpr int k_each = 25;
    std::vector<std::unique_ptr<Store>> clients;
    for (int i = 0; i < k_threads; ++i) clients.push_back(open_another());
    std::atomic<int> created{0};
    std::set<model::JobId> ids;
    std::mutex ids_mutex;
    std::vector<std::thread> threads;
    for (int i = 0; i < k_threads; ++i) {
        threads.emplace_back([&, i] {
            for (int n = 0; n < k_each; ++n) {
                const EnqueueResult result = clients[static_cast<std::size_t>(i)]->enqueue_job(keyed("once"), t(n));
                if (result.created) ++created;
                std::lock_guard lock(ids_mutex);
                ids.insert(result.id);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(created.load(), 1);
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_EQ(job_count(), 1u);
}

TEST_P(StoreKeysTest, ListFiltersByTaskAndPagesByIdNewestFirst)
{
    std::vector<model::JobId> ids;
    for (int i = 0; i < 7; ++i) {
        model::NewJob job = new_job(i < 5 ? "a" : "b");
        job.task = i % 2 ? "p.odd" : "p.even";
        ids.push_back(store().enqueue(job, t(i)));
    }
    JobFilter odd;
    odd.task = "p.odd";
    std::vector<model::JobId> listed;
    for (const auto& j : store().list(odd)) listed.push_back(j.id);
    EXPECT_EQ(listed, (std::vector<model::JobId>{ids[5], ids[3], ids[1]}));

    // Pages of two: each page starts below the last id of the one before.
    JobFilter page;
    page.limit = 2;
    std::vector<model::JobId> paged;
    for (int round = 0; round < 10; ++round) {
        const auto jobs = store().list(page);
        for (const auto& j : jobs) paged.push_back(j.id);
        if (jobs.size() < page.limit) break;
        page.before = jobs.back().id;
    }
    EXPECT_EQ(paged, (std::vector<model::JobId>{ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}));

    JobFilter combined;
    combined.queue = "a";
    combined.task = "p.even";
    combined.state = JobState::waiting;
    combined.before = ids[4];
    listed.clear();
    for (const auto& j : store().list(combined)) listed.push_back(j.id);
    EXPECT_EQ(listed, (std::vector<model::JobId>{ids[2], ids[0]}));
}

} // namespace
} // namespace sandhost::store
