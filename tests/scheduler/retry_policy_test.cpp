#include "scheduler/payload.h"
#include "scheduler/retry_policy.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

namespace sandhost::scheduler {
namespace {

using namespace std::chrono_literals;
using model::OutcomeKind;

config::QueueSettings queue_with(std::uint32_t max_attempts, std::uint32_t max_lost = 3)
{
    config::QueueSettings q;
    q.name = "q";
    q.retry.max_attempts = max_attempts;
    q.retry.backoff = config::Backoff{config::BackoffType::fixed, 1s, 2.0, 5min, 0.0};
    q.max_lost = max_lost;
    return q;
}

model::Job job_after(std::uint32_t attempts, std::uint32_t lost = 0)
{
    model::Job j;
    j.attempts = attempts;
    j.attempts_since_retry = attempts;
    j.lost = lost;
    return j;
}

model::Outcome outcome(OutcomeKind kind, bool permanent = false)
{
    model::Outcome o;
    o.kind = kind;
    o.error = "why";
    o.permanent = permanent;
    return o;
}

TEST(Backoff, ExponentialGrowsAndIsCapped)
{
    const config::Backoff b{config::BackoffType::exponential, 1s, 2.0, 5s, 0.0};
    EXPECT_EQ(backoff_delay(b, 1, 0.5), 1s);
    EXPECT_EQ(backoff_delay(b, 2, 0.5), 2s);
    EXPECT_EQ(backoff_delay(b, 3, 0.5), 4s);
    EXPECT_EQ(backoff_delay(b, 4, 0.5), 5s);
    EXPECT_EQ(backoff_delay(b, 30, 0.5), 5s);
}

TEST(Backoff, JitterStaysWithinItsFraction)
{
    const config::Backoff b{config::BackoffType::fixed, 1000ms, 2.0, 5s, 0.2};
    EXPECT_EQ(backoff_delay(b, 1, 0.0), 800ms);
    EXPECT_EQ(backoff_delay(b, 1, 0.5), 1000ms);
    EXPECT_EQ(backoff_delay(b, 1, 0.999999), 1200ms);
}

TEST(Decide, SucceededCompletesWithTheResult)
{
    auto o = outcome(OutcomeKind::succeeded);
    o.result = "r";
    const auto t = decide(job_after(1), o, queue_with(3), {}, 0.5);
    EXPECT_EQ(t.next, model::JobState::completed);
    EXPECT_EQ(t.result, "r");
}

TEST(Decide, RetryableOutcomesWaitForTheBackoff)
{
    const model::TimePoint now{std::chrono::seconds(1000)};
    for (auto kind : {OutcomeKind::failed, OutcomeKind::timed_out, OutcomeKind::exited, OutcomeKind::resource_limit,
                      OutcomeKind::protocol_error, OutcomeKind::spawn_failed}) {
        const auto t = decide(job_after(1), outcome(kind), queue_with(3), now, 0.5);
        EXPECT_EQ(t.next, model::JobState::delayed) << model::to_string(kind);
        EXPECT_EQ(t.run_at, now + 1s);
        EXPECT_FALSE(t.counts_as_lost);
    }
}

TEST(Decide, NoAttemptsLeftIsDead)
{
    const auto t = decide(job_after(3), outcome(OutcomeKind::timed_out), queue_with(3), {}, 0.5);
    EXPECT_EQ(t.next, model::JobState::dead);
    EXPECT_NE(t.error->find("no attempts left: 3 of 3"), std::string::npos) << *t.error;
}

TEST(Decide, AJobsOwnMaxAttemptsWins)
{
    auto j = job_after(2);
    j.max_attempts = 5;
    EXPECT_EQ(decide(j, outcome(OutcomeKind::failed), queue_with(2), {}, 0.5).next, model::JobState::delayed);
}

TEST(Decide, NonRetryableOutcomesAreDeadAtOnce)
{
    for (auto kind : {OutcomeKind::load_failed, OutcomeKind::result_too_large}) {
        EXPECT_EQ(decide(job_after(1), outcome(kind), queue_with(3), {}, 0.5).next, model::JobState::dead) << model::to_string(kind);
    }
    EXPECT_EQ(decide(job_after(1), outcome(OutcomeKind::failed, true), queue_with(3), {}, 0.5).next, model::JobState::dead);
    EXPECT_EQ(decide(job_after(1), outcome(OutcomeKind::cancelled), queue_with(3), {}, 0.5).next, model::JobState::cancelled);
}

TEST(Decide, PoisonPillsStopAtMaxLost)
{
    auto t = decide(job_after(2, 1), outcome(OutcomeKind::crashed), queue_with(10, 2), {}, 0.5);
    EXPECT_EQ(t.next, model::JobState::dead);
    EXPECT_TRUE(t.counts_as_lost);
    EXPECT_NE(t.error->find("max_lost 2"), std::string::npos);
    t = decide(job_after(2, 0), outcome(OutcomeKind::worker_lost), queue_with(10, 2), {}, 0.5);
    EXPECT_EQ(t.next, model::JobState::delayed);
    EXPECT_TRUE(t.counts_as_lost);
}

TEST(Payload, DependenciesAreAddedUnderTheirKey)
{
    const auto text = payload_with_dependencies(R"({"a":1,"_dependencies":"old"})", {{7, R"({"v":2})"}, {9, "plain text"}});
    Poco::JSON::Parser parser;
    auto object = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(object->getValue<int>("a"), 1);
    auto deps = object->getObject(k_dependencies_key);
    ASSERT_TRUE(deps);
    EXPECT_EQ(deps->getObject("7")->getValue<int>("v"), 2);
    EXPECT_EQ(deps->getValue<std::string>("9"), "plain text");
}

} // namespace
} // namespace sandhost::scheduler
