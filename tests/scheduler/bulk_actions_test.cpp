// Retrying, cancelling and promoting many jobs of a queue on a real store: pages of jobs walked to the end
// or to the limit, the states and tasks asked for and no other, and selections refused.
#include "config/load.h"
#include "scheduler/bulk_actions.h"
#include "store/sqlite_store.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sandhost::scheduler {
namespace {

model::TimePoint t(int seconds) { return model::TimePoint(std::chrono::seconds(1'000'000 + seconds)); }

model::NewJob job(const std::string& queue, const std::string& task)
{
    model::NewJob job;
    job.queue = queue;
    job.task = task;
    job.payload = "{}";
    return job;
}

class BulkActions : public ::testing::Test {
protected:
    sandhost::testing::TempDir m_dir;
    std::unique_ptr<store::Store> m_store = store::open_sqlite_store(m_dir.path() / "jobs.db");

    std::uint64_t count(const std::string& queue, model::JobState state)
    {
        return m_store->queue_counts({queue}).at(queue).by_state.at(state);
    }
    BulkSelection select(std::vector<model::JobState> states, std::size_t limit = 0)
    {
        BulkSelection selection;
        selection.queue = "q";
        selection.states = std::move(states);
        selection.limit = limit;
        return selection;
    }
};

// More jobs than a page: every one is reached, newest first, and a limit stops where it says.
TEST_F(BulkActions, WalksEveryPageAndStopsAtTheLimit)
{
    std::vector<model::NewJob> jobs(250, job("q", "p.a"));
    for (int i = 0; i < 30; ++i) jobs.push_back(job("q", "p.b"));
    m_store->enqueue_jobs(jobs, t(0));
    m_store->enqueue_jobs(std::vector<model::NewJob>(7, job("other", "p.a")), t(0));

    const auto dry = cancel_jobs(*m_store, [&] { auto s = select(default_cancel_states()); s.dry_run = true; return s; }(), t(1));
    EXPECT_EQ(dry.changed, 280u);
    EXPECT_EQ(count("q", model::JobState::waiting), 280u);

    auto of_b = select(default_cancel_states());
    of_b.task = "p.b";
    EXPECT_EQ(cancel_jobs(*m_store, of_b, t(1)).changed, 30u);
    const auto first = cancel_jobs(*m_store, select(default_cancel_states(), 120), t(2));
    EXPECT_EQ(first.changed, 120u);
    EXPECT_TRUE(first.more);
    // The newest went first.
    EXPECT_EQ(m_store->get(250)->state, model::JobState::cancelled) << "job 250 is the newest of task p.a";
    EXPECT_EQ(m_store->get(1)->state, model::JobState::waiting);
    const auto rest = cancel_jobs(*m_store, select(default_cancel_states()), t(3));
    EXPECT_EQ(rest.changed, 130u);
    EXPECT_FALSE(rest.more);
    EXPECT_EQ(count("q", model::JobState::cancelled), 280u);
    EXPECT_EQ(count("other", model::JobState::waiting), 7u) << "another queue is left alone";

    const auto exact = retry_jobs(*m_store, select({model::JobState::cancelled}, 280), t(4));
    EXPECT_EQ(exact.changed, 280u);
    EXPECT_FALSE(exact.more) << "the limit reached exactly, with nothing left";
    EXPECT_EQ(count("q", model::JobState::waiting), 280u);
    EXPECT_EQ(retry_jobs(*m_store, select({model::JobState::cancelled}), t(5)).changed, 0u);
}

// The jobs of an outage: only those that died since a time run again.
TEST_F(BulkActions, SinceTakesOnlyTheJobsThatChangedFromThen)
{
    const auto old = m_store->enqueue(job("q", "p.a"), t(0));
    const auto recent = m_store->enqueue(job("q", "p.a"), t(0));
    ASSERT_EQ(m_store->cancel(old, t(10)), store::CancelResult::cancelled);
    ASSERT_EQ(m_store->cancel(recent, t(100)), store::CancelResult::cancelled);
    auto since = select({model::JobState::cancelled});
    since.changed_since = t(50);
    const auto outcome = retry_jobs(*m_store, since, t(200));
    EXPECT_EQ(outcome.changed, 1u);
    EXPECT_EQ(m_store->get(recent)->state, model::JobState::waiting);
    EXPECT_EQ(m_store->get(old)->state, model::JobState::cancelled);
}

// A running job is stopped only when asked for by name: its host ends it cancelled.
TEST_F(BulkActions, ARunningJobIsAskedToStopOnlyWhenActiveIsNamed)
{
    m_store->enqueue_jobs(std::vector<model::NewJob>(3, job("q", "p.a")), t(0));
    store::QueueAllowance allowance;
    allowance.queue = "q";
    const auto claim = m_store->claim({allowance}, "host/1", std::chrono::seconds(30), t(1));
    ASSERT_TRUE(claim);
    EXPECT_EQ(cancel_jobs(*m_store, select(default_cancel_states()), t(2)).changed, 2u);
    EXPECT_EQ(m_store->get(claim->job.id)->state, model::JobState::active);
    const auto stopped = cancel_jobs(*m_store, select({model::JobState::active}), t(3));
    EXPECT_EQ(stopped.changed, 0u);
    EXPECT_EQ(stopped.requested, 1u);
    EXPECT_EQ(m_store->cancel_requests("host/1"), std::vector<model::JobId>{claim->job.id});
}

// Delayed jobs run now, newest first to a limit; others stay delayed, and no job of another
// state is touched.
TEST_F(BulkActions, PromotesTheDelayedJobsOfAQueue)
{
    auto later = job("q", "p.a");
    later.delay = std::chrono::hours(1);
    const auto delayed = m_store->enqueue_jobs(std::vector<model::NewJob>(5, later), t(0));
    m_store->enqueue(job("q", "p.a"), t(0));
    auto elsewhere = later;
    elsewhere.queue = "other";
    m_store->enqueue(elsewhere, t(0));
    auto selection = select({model::JobState::delayed}, 2);
    selection.dry_run = true;
    EXPECT_EQ(promote_jobs(*m_store, selection, t(1)).changed, 2u);
    EXPECT_EQ(count("q", model::JobState::delayed), 5u);
    selection.dry_run = false;
    const auto first = promote_jobs(*m_store, selection, t(1));
    EXPECT_EQ(first.changed, 2u);
    EXPECT_TRUE(first.more);
    EXPECT_EQ(m_store->get(delayed.back().id)->state, model::JobState::waiting) << "newest first";
    EXPECT_EQ(m_store->get(delayed.back().id)->run_at, t(1));
    EXPECT_EQ(promote_jobs(*m_store, select({model::JobState::delayed}), t(2)).changed, 3u);
    EXPECT_EQ(count("q", model::JobState::waiting), 6u);
    EXPECT_EQ(count("other", model::JobState::delayed), 1u);
    EXPECT_THROW(promote_jobs(*m_store, select({model::JobState::waiting}), t(3)), std::invalid_argument);
}

TEST_F(BulkActions, RefusesASelectionWithoutAQueueOrWithAStateTheActionDoesNotTake)
{
    EXPECT_THROW(retry_jobs(*m_store, select({model::JobState::waiting}), t(0)), std::invalid_argument);
    EXPECT_THROW(cancel_jobs(*m_store, select({model::JobState::completed}), t(0)), std::invalid_argument);
    EXPECT_THROW(cancel_jobs(*m_store, select({}), t(0)), std::invalid_argument);
    auto nameless = select(default_retry_states());
    nameless.queue.clear();
    EXPECT_THROW(retry_jobs(*m_store, nameless, t(0)), std::invalid_argument);

    const auto loaded = config::load_config_text("queues:\n  q: {tasks: [\"p.*\"]}\n", "/tmp/bulk.yaml");
    ASSERT_TRUE(loaded.ok());
    EXPECT_FALSE(unknown_queue(*m_store, *loaded.settings, "q"));
    m_store->enqueue(job("gone", "p.a"), t(0));
    EXPECT_FALSE(unknown_queue(*m_store, *loaded.settings, "gone")) << "a queue removed from the configuration that still holds jobs";
    const auto unknown = unknown_queue(*m_store, *loaded.settings, "gnoe");
    ASSERT_TRUE(unknown);
    EXPECT_NE(unknown->find("did you mean 'gone'"), std::string::npos) << *unknown;
}

} // namespace
} // namespace sandhost::scheduler
