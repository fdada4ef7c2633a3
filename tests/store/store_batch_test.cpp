// Store::enqueue_jobs, through Store& only, on every store: one step, all of the jobs or none.
#include "store_test_support.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sandhost::store {
namespace {

using namespace testing;
using model::JobState;
using model::OutcomeKind;

class StoreBatchTest : public StoreTest {};

INSTANTIATE_TEST_SUITE_P(Stores, StoreBatchTest, ::testing::ValuesIn(store_kinds()), store_kind_name);

std::vector<model::NewJob> numbered(std::size_t count, const std::string& queue = "q")
{
    std::vector<model::NewJob> jobs;
    for (std::size_t i = 0; i < count; ++i) {
        model::NewJob job = new_job(queue);
        job.payload = "{\"n\":" + std::to_string(i) + "}";
        jobs.push_back(job);
    }
    return jobs;
}

TEST_P(StoreBatchTest, EveryJobIsStoredInOrderAndRunsAsIfEnqueuedOneByOne)
{
    std::vector<model::NewJob> jobs = numbered(3);
    jobs[1].priority = 5;
    jobs[2].delay = ms(1000);
    const auto results = store().enqueue_jobs(jobs, t(0));
    ASSERT_EQ(results.size(), 3u);
    std::set<model::JobId> ids;
    for (std::size_t i = 0; i < results.size(); ++i) {
        EXPECT_TRUE(results[i].created);
        ids.insert(results[i].id);
        const model::Job stored = job(results[i].id);
        EXPECT_EQ(stored.payload, jobs[i].payload) << "job " << i;
        EXPECT_EQ(stored.created_at, t(0));
    }
    EXPECT_EQ(ids.size(), 3u) << "an id each";
    EXPECT_LT(results[0].id, results[1].id) << "ids in the order given";
    EXPECT_LT(results[1].id, results[2].id);
    EXPECT_EQ(job(results[2].id).state, JobState::delayed);
    EXPECT_EQ(claim_one("q", t(1)).job.id, results[1].id) << "the higher priority first";
    EXPECT_EQ(claim_one("q", t(2)).job.id, results[0].id);
    EXPECT_FALSE(store().claim(allow({"q"}), "host/1", ms(1000), t(3))) << "the delayed one is not due yet";
    EXPECT_EQ(claim_one("q", t(1000)).job.id, results[2].id);
}

TEST_P(StoreBatchTest, AnEmptyBatchStoresNothingAndAFullOneIsTaken)
{
    EXPECT_TRUE(store().enqueue_jobs({}, t(0)).empty());
    const auto results = store().enqueue_jobs(numbered(k_max_enqueue_batch), t(0));
    ASSERT_EQ(results.size(), k_max_enqueue_batch);
    EXPECT_EQ(store().queue_counts({"q"}).at("q").by_state.at(JobState::waiting), k_max_enqueue_batch);
}

TEST_P(StoreBatchTest, ABatchOverTheLimitIsRefusedWhole)
{
    try {
        store().enqueue_jobs(numbered(k_max_enqueue_batch + 1), t(0));
        FAIL() << "a batch over the limit was taken";
    } catch (const StoreRequestError& e) {
        EXPECT_NE(std::string(e.what()).find("at most 1000"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("nothing was enqueued"), std::string::npos) << e.what();
    }
    EXPECT_EQ(store().queue_counts({"q"}).at("q").by_state.at(JobState::waiting), 0u);
}

TEST_P(StoreBatchTest, AnUnknownDependencyAnywhereStoresNoneAndNamesTheJob)
{
    const model::JobId before = store().enqueue(new_job(), t(0));
    std::vector<model::NewJob> jobs = numbered(4);
    jobs[1].depends_on = {before};
    jobs[2].depends_on = {before, 999'999};
    try {
        store().enqueue_jobs(jobs, t(1));
        FAIL() << "a job with an unknown dependency was taken";
    } catch (const StoreRequestError& e) {
        EXPECT_NE(std::string(e.what()).find("job 2: unknown dependency: no job 999999"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("nothing was enqueued"), std::string::npos) << e.what();
    }
    EXPECT_EQ(store().queue_counts({"q"}).at("q").by_state.at(JobState::waiting), 1u) << "only the job from before";
    const auto events = store().events_after(0, 1000);
    EXPECT_EQ(events.size(), 1u) << "no event of a job that was not stored";

    // The store goes on as before, and the next batch gets ids as if none were refused.
    jobs[2].depends_on = {before};
    const auto results = store().enqueue_jobs(jobs, t(2));
    ASSERT_EQ(results.size(), 4u);
    EXPECT_EQ(job(results[1].id).state, JobState::blocked);
    EXPECT_EQ(job(results[1].id).depends_on, (std::vector<model::JobId>{before}));
}

TEST_P(StoreBatchTest, AKeyHeldBeforeOrEarlierInTheBatchReturnsItsJob)
{
    model::NewJob held = new_job();
    held.key = "order-1";
    const model::JobId holder = store().enqueue(held, t(0));
    std::vector<model::NewJob> jobs = numbered(4);
    jobs[0].key = "order-1";
    jobs[1].key = "order-2";
    jobs[3].key = "order-2";
    const auto results = store().enqueue_jobs(jobs, t(1));
    ASSERT_EQ(results.size(), 4u);
    EXPECT_EQ(results[0].id, holder);
    EXPECT_FALSE(results[0].created);
    EXPECT_TRUE(results[1].created);
    EXPECT_TRUE(results[2].created);
    EXPECT_EQ(results[3].id, results[1].id) << "the batch's own earlier job holds the key";
    EXPECT_FALSE(results[3].created);
    EXPECT_EQ(store().queue_counts({"q"}).at("q").by_state.at(JobState::waiting), 3u);
}

TEST_P(StoreBatchTest, EachStoredJobHasItsEnqueueEventAndABornDeadOneItsEnd)
{
    const model::JobId doomed = store().enqueue(new_job("other"), t(0));
    ASSERT_EQ(store().cancel(doomed, t(1)), CancelResult::cancelled);
    std::vector<model::NewJob> jobs = numbered(2);
    jobs[1].depends_on = {doomed};
    const auto results = store().enqueue_jobs(jobs, t(2));
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(job(results[1].id).state, JobState::dead);
    std::vector<std::pair<std::string, model::JobId>> seen;
    for (const auto& event : store().events_after(0, 1000)) {
        if (event.job != 0 && event.job != doomed) seen.emplace_back(event.type, event.job);
    }
    EXPECT_EQ(seen, (std::vector<std::pair<std::string, model::JobId>>{
                        {"job.enqueued", results[0].id}, {"job.enqueued", results[1].id}, {"job.finished", results[1].id}}));
}

} // namespace
} // namespace sandhost::store
