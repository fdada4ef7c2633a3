#include "model/job_json.h"
#include "model/json_text.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <csignal>

namespace sandhost::model {
namespace {

TimePoint at(std::int64_t ms) { return TimePoint(std::chrono::milliseconds(1'700'000'000'000 + ms)); }

Poco::JSON::Object::Ptr parsed(const std::string& json)
{
    EXPECT_FALSE(json_syntax_error(json)) << json;
    Poco::JSON::Parser parser;
    return parser.parse(json).extract<Poco::JSON::Object::Ptr>();
}

Job running_job()
{
    Job job;
    job.id = 12;
    job.queue = "legacy";
    job.task = "legacy_c.checksum";
    job.payload = "{\n  \"path\": \"/data\",\n  \"n\": [1, 2]\n}";
    job.priority = -3;
    job.state = JobState::active;
    job.created_at = at(0);
    job.updated_at = at(1500);
    job.run_at = at(1000);
    job.expires_at = at(60'000);
    job.timeout = std::chrono::milliseconds(5000);
    job.max_attempts = 4;
    job.depends_on = {3, 9};
    job.attempts = 2;
    job.attempts_since_retry = 1;
    job.lost = 1;
    job.error = "checksum mismatch";
    job.progress = Progress{42.5, "half \"way\""};
    job.lease = Lease{"host-a/m:1:x", at(16'500), 77};
    job.cancel_requested = true;
    job.schedule = "nightly";
    job.key = "order-17";
    return job;
}

TEST(JobJson, EveryMemberWithItsType)
{
    const auto o = parsed(to_json(running_job(), nullptr));
    EXPECT_EQ(o->getValue<std::int64_t>("id"), 12);
    EXPECT_EQ(o->getValue<std::string>("queue"), "legacy");
    EXPECT_EQ(o->getValue<std::string>("task"), "legacy_c.checksum");
    EXPECT_EQ(o->getValue<std::string>("state"), "active");
    EXPECT_EQ(o->getValue<int>("priority"), -3);
    EXPECT_EQ(o->getValue<std::string>("key"), "order-17");
    ASSERT_TRUE(o->getObject("payload")) << "a JSON value, not a string holding one";
    EXPECT_EQ(o->getObject("payload")->getValue<std::string>("path"), "/data");
    EXPECT_EQ(o->getObject("payload")->getArray("n")->size(), 2u);
    EXPECT_TRUE(o->isNull("result"));
    EXPECT_EQ(o->getValue<std::string>("error"), "checksum mismatch");
    EXPECT_EQ(o->getValue<int>("attempt_count"), 2);
    EXPECT_EQ(o->getValue<int>("attempts_since_retry"), 1);
    EXPECT_EQ(o->getValue<int>("max_attempts"), 4);
    EXPECT_EQ(o->getValue<int>("lost"), 1);
    EXPECT_EQ(o->getValue<std::string>("created_at"), "2023-11-14T22:13:20.000Z");
    EXPECT_EQ(o->getValue<std::string>("updated_at"), "2023-11-14T22:13:21.500Z");
    EXPECT_EQ(o->getValue<std::string>("run_at"), "2023-11-14T22:13:21.000Z");
    EXPECT_EQ(o->getValue<std::string>("expires_at"), "2023-11-14T22:14:20.000Z");
    EXPECT_EQ(o->getValue<int>("timeout_ms"), 5000);
    EXPECT_EQ(o->getArray("depends_on")->getElement<int>(1), 9);
    EXPECT_EQ(o->getObject("progress")->getValue<double>("percent"), 42.5);
    EXPECT_EQ(o->getObject("progress")->getValue<std::string>("message"), "half \"way\"");
    EXPECT_EQ(o->getObject("lease")->getValue<std::string>("holder"), "host-a/m:1:x");
    EXPECT_EQ(o->getObject("lease")->getValue<std::string>("expires_at"), "2023-11-14T22:13:36.500Z");
    EXPECT_EQ(o->getObject("lease")->getValue<int>("attempt_id"), 77);
    EXPECT_TRUE(o->getValue<bool>("cancel_requested"));
    EXPECT_EQ(o->getValue<std::string>("schedule"), "nightly");
    EXPECT_FALSE(o->has("attempts")) << "lists leave the attempts out";
}

TEST(JobJson, AbsentValuesAreNullAndNonJsonResultsStayStrings)
{
    Job job;
    job.id = 1;
    job.queue = "q";
    job.task = "p.t";
    job.payload = "{}";
    job.state = JobState::completed;
    job.result = "plain words, not JSON";
    const auto o = parsed(to_json(job, nullptr));
    EXPECT_EQ(o->getValue<std::string>("result"), "plain words, not JSON");
    for (const char* name : {"key", "error", "max_attempts", "expires_at", "timeout_ms", "progress", "lease", "schedule"}) {
        EXPECT_TRUE(o->has(name)) << name;
        EXPECT_TRUE(o->isNull(name)) << name;
    }
    EXPECT_EQ(o->getArray("depends_on")->size(), 0u);

    job.result = R"({"in": 23, "out": [true, null]})";
    EXPECT_EQ(parsed(to_json(job, nullptr))->getObject("result")->getValue<int>("in"), 23);
    job.result = "\"quoted\"";
    EXPECT_EQ(parsed(to_json(job, nullptr))->getValue<std::string>("result"), "quoted");
    job.error = "bad \xFF byte";
    EXPECT_EQ(parsed(to_json(job, nullptr))->getValue<std::string>("error"), "bad \xEF\xBF\xBD byte");
}

TEST(JobJson, AttemptsCarryTheirOutcomeFields)
{
    AttemptRecord crashed;
    crashed.job_id = 12;
    crashed.attempt_id = 70;
    crashed.number = 1;
    crashed.host = "host-a/m:1:x";
    crashed.outcome.kind = OutcomeKind::crashed;
    crashed.outcome.error = "worker died by SIGSEGV";
    crashed.outcome.signal_number = SIGSEGV;
    crashed.outcome.pid = 4242;
    crashed.outcome.max_rss_kb = 2048;
    crashed.outcome.duration = std::chrono::milliseconds(13);
    crashed.outcome.stderr_tail = "segfault\n";
    crashed.outcome.started_at = at(0);
    crashed.outcome.ended_at = at(13);
    AttemptRecord succeeded = crashed;
    succeeded.attempt_id = 71;
    succeeded.number = 2;
    succeeded.outcome = Outcome{};
    succeeded.outcome.kind = OutcomeKind::succeeded;
    succeeded.outcome.result = R"({"sum": 99})";
    succeeded.outcome.exit_code = std::nullopt;
    const std::vector<AttemptRecord> attempts{crashed, succeeded};

    const auto o = parsed(to_json(running_job(), &attempts));
    const auto list = o->getArray("attempts");
    ASSERT_EQ(list->size(), 2u);
    const auto first = list->getObject(0);
    EXPECT_EQ(first->getValue<int>("number"), 1);
    EXPECT_EQ(first->getValue<int>("attempt_id"), 70);
    EXPECT_EQ(first->getValue<std::string>("host"), "host-a/m:1:x");
    EXPECT_EQ(first->getValue<std::string>("outcome"), "crashed");
    EXPECT_EQ(first->getValue<std::string>("signal"), "SIGSEGV");
    EXPECT_EQ(first->getValue<int>("signal_number"), SIGSEGV);
    EXPECT_EQ(first->getValue<int>("pid"), 4242);
    EXPECT_EQ(first->getValue<int>("max_rss_kb"), 2048);
    EXPECT_EQ(first->getValue<int>("duration_ms"), 13);
    EXPECT_EQ(first->getValue<std::string>("stderr_tail"), "segfault\n");
    EXPECT_EQ(first->getValue<std::string>("ended_at"), "2023-11-14T22:13:20.013Z");
    EXPECT_FALSE(first->has("exit_code"));
    EXPECT_FALSE(first->has("result"));
    const auto second = list->getObject(1);
    EXPECT_EQ(second->getValue<std::string>("outcome"), "succeeded");
    ASSERT_TRUE(second->getObject("result"));
    EXPECT_EQ(second->getObject("result")->getValue<int>("sum"), 99);
}

} // namespace
} // namespace sandhost::model
