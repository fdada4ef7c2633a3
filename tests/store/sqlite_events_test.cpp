// The event feed: every change of a job, a pause or a host registration is an event, recorded
// with the change, read back in order and resumable from an id. Through Store& only: every
// Store implementation runs these.
#include "store_test_support.h"

#include <gtest/gtest.h>

namespace sandhost::store {
namespace {

using namespace testing;
using model::JobState;
using model::OutcomeKind;

// An event as one line, for comparisons that show every field.
std::string line(const Event& e)
{
    std::string out = e.type;
    if (e.job) out += " job=" + std::to_string(e.job);
    if (!e.queue.empty()) out += " queue=" + e.queue;
    if (!e.task.empty()) out += " task=" + e.task;
    if (!e.host.empty()) out += " host=" + e.host;
    if (e.state) out += std::string(" state=") + model::to_string(*e.state);
    if (e.attempt) out += " attempt=" + std::to_string(e.attempt);
    if (!e.detail.empty()) out += " detail=" + e.detail;
    return out;
}

class SqliteEventsTest : public StoreTest {
protected:
    // The events after the last one read here, as lines.
    std::vector<std::string> news()
    {
        std::vector<std::string> out;
        for (const Event& e : store().events_after(m_seen, 0)) {
            EXPECT_GT(e.id, m_seen) << "ids increase";
            m_seen = e.id;
            m_last = e;
            out.push_back(line(e));
        }
        return out;
    }
    using Lines = std::vector<std::string>;

    std::int64_t m_seen = 0;
    Event m_last;
};

INSTANTIATE_TEST_SUITE_P(Stores, SqliteEventsTest, ::testing::ValuesIn(store_kind("sqlite")), store_kind_name);

TEST_P(SqliteEventsTest, AJobsLifeIsEnqueuedStartedProgressAndFinished)
{
    model::NewJob n = new_job("q");
    n.task = "hello.greet";
    const model::JobId id = store().enqueue(n, t(10));
    const std::string job = " job=" + std::to_string(id) + " queue=q task=hello.greet";
    EXPECT_EQ(news(), Lines{"job.enqueued" + job + " state=waiting"});
    EXPECT_EQ(m_last.at, t(10));

    const Claim c = claim_one("q", t(20), "host-a/m:1:x");
    EXPECT_EQ(news(), Lines{"job.started" + job + " host=host-a/m:1:x state=active attempt=1"});
    EXPECT_EQ(m_last.at, t(20));
    ASSERT_TRUE(store().set_progress(id, c.attempt_id, model::Progress{42.5, "halfway"}));
    EXPECT_EQ(news(), Lines{"job.progress" + job + " host=host-a/m:1:x state=active attempt=1 detail=42.5"});

    ASSERT_EQ(store().finish(record_of(c, OutcomeKind::succeeded, t(30)), completed_with("{}"), t(30)), JobState::completed);
    EXPECT_EQ(news(), Lines{"job.finished" + job + " host=host-a/m:1:x state=completed attempt=1 detail=succeeded"});
    EXPECT_EQ(m_last.at, t(30));

    // Nothing changed, nothing recorded: a refused finish, a read, a stale progress report.
    EXPECT_FALSE(store().finish(record_of(c, OutcomeKind::succeeded, t(31)), completed_with("{}"), t(31)));
    EXPECT_FALSE(store().set_progress(id, c.attempt_id, model::Progress{50, ""}));
    store().get(id);
    EXPECT_EQ(news(), Lines{});
}

TEST_P(SqliteEventsTest, RetriesAndRecoveriesFinishAnAttemptWithTheStateTheJobGoesTo)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    const std::string job = " job=" + std::to_string(id) + " queue=q task=plugin.task";
    news();
    Claim c = claim_one("q", t(1), "host-a/1");
    Transition again = to(JobState::delayed);
    again.run_at = t(100);
    ASSERT_EQ(store().finish(record_of(c, OutcomeKind::crashed, t(2)), again, t(2)), JobState::delayed);
    c = claim_one("q", t(100), "host-a/1");
    model::AttemptRecord lost = record_of(c, OutcomeKind::worker_lost, t(200));
    ASSERT_EQ(store().recover(lost, to(JobState::dead), t(200)), JobState::dead);
    ASSERT_TRUE(store().retry(id, t(300)));
    EXPECT_EQ(news(), (Lines{
                          "job.started" + job + " host=host-a/1 state=active attempt=1",
                          "job.finished" + job + " host=host-a/1 state=delayed attempt=1 detail=crashed",
                          "job.started" + job + " host=host-a/1 state=active attempt=2",
                          "job.finished" + job + " host=host-a/1 state=dead attempt=2 detail=worker_lost",
                          "job.enqueued" + job + " state=waiting detail=retried",
                      }));

    // finish_and_claim: the end and the next start, in that order.
    const model::JobId next = store().enqueue(new_job(), t(301));
    news();
    c = claim_one("q", t(302), "host-a/1");
    const auto both = store().finish_and_claim(record_of(c, OutcomeKind::succeeded, t(303)), completed_with("{}"), t(303),
                                               allow({"q"}), "host-a/1", ms(1000));
    ASSERT_TRUE(both.claim);
    EXPECT_EQ(news(), (Lines{
                          "job.started" + job + " host=host-a/1 state=active attempt=3",
                          "job.finished" + job + " host=host-a/1 state=completed attempt=3 detail=succeeded",
                          "job.started job=" + std::to_string(next) + " queue=q task=plugin.task host=host-a/1 state=active attempt=1",
                      }));
}

TEST_P(SqliteEventsTest, JobsThatEndWithoutAnAttemptFinishToo)
{
    const model::JobId parent = store().enqueue(new_job(), t(0));
    model::NewJob child = new_job();
    child.depends_on = {parent};
    const model::JobId dependent = store().enqueue(child, t(1));
    model::NewJob expiring = new_job("x");
    expiring.ttl = ms(10);
    const model::JobId expired = store().enqueue(expiring, t(2));
    news();

    ASSERT_EQ(store().cancel(parent, t(3)), CancelResult::cancelled);
    const std::string dependency_error = "dependency " + std::to_string(parent) + " was cancelled";
    EXPECT_EQ(news(), (Lines{
                          "job.finished job=" + std::to_string(parent) + " queue=q task=plugin.task state=cancelled detail=cancelled",
                          "job.finished job=" + std::to_string(dependent) + " queue=q task=plugin.task state=dead detail=" +
                              dependency_error,
                      }));
    ASSERT_EQ(store().expire(t(100)), 1u);
    ASSERT_EQ(news().size(), 1u);
    EXPECT_EQ(m_last.type, "job.finished");
    EXPECT_EQ(m_last.job, expired);
    EXPECT_EQ(m_last.state, JobState::dead);
    EXPECT_EQ(m_last.attempt, 0u);
    EXPECT_EQ(m_last.detail, job(expired).error);

    // Born dead: enqueued and finished in one step.
    model::NewJob orphan = new_job();
    orphan.depends_on = {parent};
    const model::JobId born_dead = store().enqueue(orphan, t(200));
    const std::string job = "job=" + std::to_string(born_dead) + " queue=q task=plugin.task state=dead";
    EXPECT_EQ(news(), (Lines{"job.enqueued " + job, "job.finished " + job + " detail=" + dependency_error}));

    // A request refused stores no event; a cancel request of a running job waits for its end.
    model::NewJob unknown = new_job();
    unknown.depends_on = {99'999};
    EXPECT_THROW(store().enqueue(unknown, t(300)), StoreRequestError);
    const model::JobId running = store().enqueue(new_job(), t(301));
    news();
    claim_one("q", t(302));
    ASSERT_EQ(store().cancel(running, t(303)), CancelResult::requested);
    EXPECT_EQ(news().size(), 1u) << "only the start";
    EXPECT_EQ(m_last.type, "job.started");
}

TEST_P(SqliteEventsTest, PausesAndHostRegistrationsAreEvents)
{
    store().set_paused("q", true);
    store().set_paused("q", true);
    store().set_paused("q", false);
    store().set_paused("never-paused", false);
    EXPECT_EQ(news(), (Lines{"queue.paused queue=q", "queue.resumed queue=q"}));

    ASSERT_TRUE(store().register_host("host-a", "host-a/m:1:x", t(0), ms(30'000)));
    EXPECT_FALSE(store().register_host("host-a", "host-a/m:2:y", t(1), ms(30'000)));
    store().take_over_host("host-a", "host-a/m:3:z", t(2));
    store().unregister_host("host-a", "host-a/m:1:x", t(3));
    store().unregister_host("host-a", "host-a/m:3:z", t(4));
    EXPECT_EQ(news(), (Lines{
                          "host.up host=host-a detail=host-a/m:1:x",
                          "host.up host=host-a detail=host-a/m:3:z",
                          "host.gone host=host-a detail=host-a/m:3:z",
                      }));
    EXPECT_EQ(m_last.at, t(4));
}

TEST_P(SqliteEventsTest, ReadersPageFromAnIdAndSeeTheEventsOfOtherClients)
{
    auto other = open_another();
    for (int i = 0; i < 5; ++i) other->enqueue(new_job(), t(i));
    const auto all = store().events_after(0, 0);
    ASSERT_EQ(all.size(), 5u);
    const auto first_two = store().events_after(0, 2);
    ASSERT_EQ(first_two.size(), 2u);
    EXPECT_EQ(first_two[0].id, all[0].id);
    EXPECT_EQ(first_two[1].id, all[1].id);
    const auto rest = store().events_after(first_two[1].id, 10);
    ASSERT_EQ(rest.size(), 3u);
    EXPECT_EQ(rest[0].id, all[2].id);
    EXPECT_TRUE(store().events_after(all.back().id, 10).empty());
    for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].job, static_cast<model::JobId>(i + 1));
}

} // namespace
} // namespace sandhost::store
