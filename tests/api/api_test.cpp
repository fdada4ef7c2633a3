// The HTTP API against a real host: every endpoint and every error status, over real
// connections to a server on a free loopback port.
#include "api_harness.h"
#include "redis_server.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SocketStream.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <cctype>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

namespace sandhost::api {
namespace {

using namespace std::chrono_literals;
using testing::ApiHarness;
using testing::Reply;
namespace t = sandhost::testing;

const std::string k_queues = "  default:\n    tasks: [\"misbehave.*\"]\n  other:\n    tasks: [\"misbehave.echo\"]\n";

// Every test runs on both stores: the embedded SQLite file, and a redis-server of its own.
class ApiTest : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override
    {
        if (std::string(GetParam()) == "redis") {
            SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
            m_redis = std::make_unique<t::RedisServer>();
            ApiHarness::store_url() = m_redis->url();
        }
    }
    void TearDown() override
    {
        ApiHarness::store_url() = "sqlite:jobs.db";
        // The host and the API kept what they wrote in the test's redis-server.
        if (m_redis) {
            EXPECT_NE(m_redis->command("DBSIZE"), ":0\r\n") << "nothing reached the redis-server";
        }
        m_redis.reset();
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }

private:
    std::unique_ptr<t::RedisServer> m_redis;
};

// A request written by hand on a plain socket: what the first line of the reply says.
std::string raw_exchange(std::uint16_t port, const std::string& request)
{
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    std::string reply;
    char buffer[4096];
    for (int n; (n = socket.receiveBytes(buffer, sizeof buffer)) > 0;) reply.append(buffer, static_cast<std::size_t>(n));
    return reply;
}

TEST_P(ApiTest, ProbesAndTheDashboardAnswerWithoutTheToken)
{
    ApiHarness api(k_queues);
    api.start();
    const auto health = api.call("GET", "/healthz", std::nullopt, std::nullopt);
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.json()->getValue<std::string>("status"), "ok");
    const auto ready = api.call("GET", "/readyz", std::nullopt, std::nullopt);
    EXPECT_EQ(ready.status, 200) << ready.body;
    const auto page = api.call("GET", "/", std::nullopt, std::nullopt);
    EXPECT_EQ(page.status, 200);
    EXPECT_NE(page.header("Content-Type").find("text/html"), std::string::npos);
    EXPECT_NE(page.body.find("dashboard.js"), std::string::npos);
    EXPECT_NE(page.header("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
    EXPECT_EQ(api.call("GET", "/dashboard.js", std::nullopt, std::nullopt).status, 200);
    EXPECT_EQ(api.call("GET", "/dashboard.css", std::nullopt, std::nullopt).status, 200);
    // /metrics asks for no token unless api.metrics_auth says so.
    EXPECT_EQ(api.call("GET", "/metrics", std::nullopt, std::nullopt).status, 200);
}

TEST_P(ApiTest, CallsWithoutTheRightTokenGet401AndChangeNothing)
{
    ApiHarness api(k_queues, "", "  metrics_auth: true\n");
    api.start(false);
    const std::string body = R"({"queue":"default","task":"misbehave.echo","payload":{}})";
    for (const std::optional<std::string>& token : {std::optional<std::string>(), std::optional<std::string>("not-the-token-at-all")}) {
        const auto enqueued = api.call("POST", "/api/v1/jobs", body, token);
        EXPECT_EQ(enqueued.status, 401);
        EXPECT_EQ(enqueued.code(), "unauthorized");
        EXPECT_EQ(enqueued.header("WWW-Authenticate"), "Bearer realm=\"sandhost\"");
        EXPECT_EQ(api.call("GET", "/api/v1/jobs", std::nullopt, token).status, 401);
        EXPECT_EQ(api.call("POST", "/api/v1/queues/default/pause", std::string(), token).status, 401);
        EXPECT_EQ(api.call("POST", "/api/v1/jobs/1/cancel", std::string(), token).status, 401);
        EXPECT_EQ(api.call("GET", "/api/v1/events", std::nullopt, token).status, 401);
        EXPECT_EQ(api.call("GET", "/metrics", std::nullopt, token).status, 401);
    }
    // The scheme's name is read without regard to case.
    EXPECT_EQ(api.call("GET", "/api/v1/jobs", std::nullopt, std::nullopt, {{"Authorization", "bearer " + t::k_api_token}}).status, 200);
    EXPECT_EQ(api.call("GET", "/metrics").status, 200);
    EXPECT_EQ(api.job_count(), 0u);
    EXPECT_TRUE(api.host().store().paused_queues().empty());
}

TEST_P(ApiTest, AJobEnqueuedOverHttpRunsAndReadsBackInTheJobSchema)
{
    ApiHarness api(k_queues);
    api.start();
    const auto reply = api.post("/api/v1/jobs", R"({"queue":"default","task":"misbehave.echo","payload":{"n":12345678901234567890,"s":"é"},)"
                                                R"("priority":3,"max_attempts":2,"timeout":"10s"})");
    ASSERT_EQ(reply.status, 201) << reply.body;
    const auto id = reply.json()->getValue<std::int64_t>("id");
    EXPECT_EQ(reply.header("Location"), "/api/v1/jobs/" + std::to_string(id));
    EXPECT_EQ(reply.json()->getValue<int>("priority"), 3);
    EXPECT_EQ(reply.json()->getValue<int>("max_attempts"), 2);
    EXPECT_EQ(reply.json()->getValue<std::int64_t>("timeout_ms"), 10000);
    // The payload is kept as written, digits and all.
    EXPECT_NE(reply.body.find(R"("payload":{"n":12345678901234567890,"s":"é"})"), std::string::npos) << reply.body;

    const auto job = api.wait_final(id);
    EXPECT_EQ(job->getValue<std::string>("state"), "completed");
    // The result is a JSON value, not a string holding JSON.
    ASSERT_FALSE(job->getObject("result").isNull());
    EXPECT_EQ(job->getObject("result")->getValue<std::string>("s"), "é");
    const auto attempts = job->getArray("attempts");
    ASSERT_EQ(attempts->size(), 1u);
    EXPECT_EQ(attempts->getObject(0)->getValue<std::string>("outcome"), "succeeded");
}

TEST_P(ApiTest, AKeyWhileItsJobIsNotFinishedReturnsThatJob)
{
    ApiHarness api(k_queues);
    api.start(false);
    const std::string body = R"({"queue":"default","task":"misbehave.echo","payload":{},"key":"order-7"})";
    const auto first = api.post("/api/v1/jobs", body);
    ASSERT_EQ(first.status, 201) << first.body;
    const auto again = api.post("/api/v1/jobs", body);
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.json()->getValue<std::int64_t>("id"), first.json()->getValue<std::int64_t>("id"));
    EXPECT_EQ(again.json()->getValue<std::string>("key"), "order-7");
    // Another queue is another key space.
    EXPECT_EQ(api.post("/api/v1/jobs", R"({"queue":"other","task":"misbehave.echo","payload":{},"key":"order-7"})").status, 201);
    EXPECT_EQ(api.job_count(), 2u);
    // Once the job ended, the key enqueues anew.
    ASSERT_EQ(api.post("/api/v1/jobs/" + std::to_string(first.json()->getValue<std::int64_t>("id")) + "/cancel").status, 200);
    EXPECT_EQ(api.post("/api/v1/jobs", body).status, 201);
}

TEST_P(ApiTest, ABatchOfJobsIsStoredWholeOrNotAtAll)
{
    ApiHarness api(k_queues);
    api.start();
    const auto reply = api.post("/api/v1/jobs/batch", R"({"jobs":[{"queue":"default","task":"misbehave.echo","payload":{"n":12345678901234567890}},)"
                                                      R"({"queue":"other","task":"misbehave.echo","payload":{"i":1},"key":"order-1"},)"
                                                      R"({"queue":"default","task":"misbehave.echo","payload":{"i":2},"priority":4}]})");
    ASSERT_EQ(reply.status, 201) << reply.body;
    const auto answers = reply.json()->getArray("jobs");
    ASSERT_EQ(answers->size(), 3u) << reply.body;
    std::vector<std::int64_t> ids;
    for (unsigned i = 0; i < answers->size(); ++i) {
        EXPECT_TRUE(answers->getObject(i)->getValue<bool>("created"));
        ids.push_back(answers->getObject(i)->getValue<std::int64_t>("id"));
    }
    EXPECT_LT(ids[0], ids[1]) << "in the order asked";
    EXPECT_LT(ids[1], ids[2]);
    // Each is a job like one enqueued alone: kept as written, run, and read back.
    EXPECT_NE(api.get("/api/v1/jobs/" + std::to_string(ids[0])).body.find(R"("payload":{"n":12345678901234567890})"), std::string::npos);
    EXPECT_EQ(api.get("/api/v1/jobs/" + std::to_string(ids[2])).json()->getValue<int>("priority"), 4);
    for (const auto id : ids) EXPECT_EQ(api.wait_final(id)->getValue<std::string>("state"), "completed") << id;

    // A key already held returns its job; a batch that created nothing is a 200.
    const auto again = api.post("/api/v1/jobs/batch", R"({"jobs":[{"queue":"default","task":"misbehave.echo","key":"order-2"},)"
                                                      R"({"queue":"default","task":"misbehave.echo","key":"order-2"}]})");
    ASSERT_EQ(again.status, 201) << again.body;
    const auto pair = again.json()->getArray("jobs");
    EXPECT_EQ(pair->getObject(1)->getValue<std::int64_t>("id"), pair->getObject(0)->getValue<std::int64_t>("id"));
    EXPECT_FALSE(pair->getObject(1)->getValue<bool>("created"));
    const auto held = api.post("/api/v1/jobs/batch", R"({"jobs":[{"queue":"default","task":"misbehave.echo","key":"order-2"}]})");
    EXPECT_EQ(held.status, 200) << held.body;
    EXPECT_EQ(api.post("/api/v1/jobs/batch", R"({"jobs":[]})").status, 200);
    const std::size_t stored = api.job_count();
    EXPECT_EQ(stored, 4u);

    // One bad job refuses them all, and says which.
    std::string too_many = R"({"jobs":[)";
    for (std::size_t i = 0; i <= store::k_max_enqueue_batch; ++i) too_many += std::string(i ? "," : "") + R"({"queue":"default","task":"misbehave.echo"})";
    too_many += "]}";
    struct Case {
        std::string body;
        std::string says;
    };
    const std::vector<Case> invalid = {
        {"[1,2]", "a member jobs"},
        {R"({"jobz":[]})", "unknown member \"jobz\""},
        {R"({})", "jobs is missing"},
        {R"({"jobs":{"queue":"default"}})", "jobs: expected an array"},
        {R"({"jobs":[{"queue":"default","task":"misbehave.echo"},{"queue":"default","task":"misbehave.echo","payloda":{}}]})",
         "job 1: unknown member \"payloda\""},
        {R"({"jobs":[{"queue":"default","task":"misbehave.echo"},{"queue":"default","task":"misbehave.echo"},7]})", "job 2: a job must be a JSON object"},
        {R"({"jobs":[{"queue":"default","task":"misbehave.echo"},{"queue":"nope","task":"misbehave.echo"}]})", "job 1: unknown queue 'nope'"},
        {R"({"jobs":[{"queue":"default","task":"misbehave.echo","depends_on":[999999]}]})", "job 0: unknown dependency: no job 999999"},
        {too_many, "at most 1000"},
    };
    for (const auto& c : invalid) {
        const auto bad = api.post("/api/v1/jobs/batch", c.body);
        EXPECT_EQ(bad.status, 422) << c.body.substr(0, 200) << " -> " << bad.body;
        EXPECT_EQ(bad.code(), "invalid_job");
        EXPECT_NE(bad.message().find(c.says), std::string::npos) << c.body.substr(0, 200) << " -> " << bad.message();
    }
    EXPECT_EQ(api.post("/api/v1/jobs/batch", "{\"jobs\": [").status, 400);
    EXPECT_EQ(api.job_count(), stored) << "nothing of a refused batch was stored";
}

TEST_P(ApiTest, ListsJobsWithFiltersAndACursor)
{
    ApiHarness api(k_queues);
    api.start(false);
    std::set<std::int64_t> in_default;
    for (int i = 0; i < 5; ++i) in_default.insert(api.enqueue(R"({"queue":"default","task":"misbehave.echo","payload":{}})"));
    api.enqueue(R"({"queue":"other","task":"misbehave.echo","payload":{}})");
    api.enqueue(R"({"queue":"default","task":"misbehave.sleep","payload":{"ms":1}})");

    std::set<std::int64_t> seen;
    std::string cursor;
    int pages = 0;
    for (;; ++pages) {
        const auto reply = api.get("/api/v1/jobs?queue=default&task=misbehave.echo&limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
        ASSERT_EQ(reply.status, 200) << reply.body;
        const auto jobs = reply.json()->getArray("jobs");
        EXPECT_LE(jobs->size(), 2u);
        for (std::size_t i = 0; i < jobs->size(); ++i) {
            const auto job = jobs->getObject(static_cast<unsigned>(i));
            EXPECT_EQ(job->getValue<std::string>("queue"), "default");
            EXPECT_TRUE(seen.insert(job->getValue<std::int64_t>("id")).second);
            EXPECT_FALSE(job->has("attempts"));  // a list shows jobs without their attempts
        }
        if (reply.json()->isNull("next")) break;
        cursor = reply.json()->getValue<std::string>("next");
    }
    EXPECT_EQ(seen, in_default);
    EXPECT_EQ(pages, 2);
    EXPECT_EQ(api.get("/api/v1/jobs?state=waiting").json()->getArray("jobs")->size(), 7u);
    EXPECT_EQ(api.get("/api/v1/jobs?state=completed").json()->getArray("jobs")->size(), 0u);

    const auto bad_state = api.get("/api/v1/jobs?state=finished");
    EXPECT_EQ(bad_state.status, 400);
    EXPECT_EQ(bad_state.code(), "bad_request");
    EXPECT_EQ(api.get("/api/v1/jobs?limit=0").status, 400);
    EXPECT_EQ(api.get("/api/v1/jobs?limit=1001").status, 400);
    EXPECT_EQ(api.get("/api/v1/jobs?cursor=x").status, 400);
}

TEST_P(ApiTest, CancelAndRetryAnswerWithTheJobOr404Or409)
{
    ApiHarness api(k_queues);
    api.start(false);
    const auto id = api.enqueue(R"({"queue":"default","task":"misbehave.echo","payload":{}})");
    const std::string path = "/api/v1/jobs/" + std::to_string(id);
    const auto cancelled = api.post(path + "/cancel");
    ASSERT_EQ(cancelled.status, 200) << cancelled.body;
    EXPECT_EQ(cancelled.json()->getValue<std::string>("state"), "cancelled");
    const auto again = api.post(path + "/cancel");
    EXPECT_EQ(again.status, 409);
    EXPECT_EQ(again.code(), "conflict");
    const auto retried = api.post(path + "/retry");
    ASSERT_EQ(retried.status, 200) << retried.body;
    EXPECT_EQ(retried.json()->getValue<std::string>("state"), "waiting");
    EXPECT_EQ(api.post(path + "/retry").status, 409);

    EXPECT_EQ(api.post("/api/v1/jobs/999999/cancel").code(), "not_found");
    EXPECT_EQ(api.post("/api/v1/jobs/999999/retry").status, 404);
    EXPECT_EQ(api.get("/api/v1/jobs/999999").status, 404);
    EXPECT_EQ(api.get("/api/v1/jobs/abc").status, 404);
}

// Many jobs of a queue cancelled, then retried, as many at a time as a caller asks; a job the
// store may not retry is named; other queues are left alone; bad requests change nothing.
TEST_P(ApiTest, AFinishedJobIsDeletedUnlessAJobStillToRunNeedsIt)
{
    ApiHarness api(k_queues);
    api.start(false);
    const auto waiting = api.enqueue(R"({"queue":"default","task":"misbehave.echo","payload":{"card":"4111"}})");
    const auto refused = api.call("DELETE", "/api/v1/jobs/" + std::to_string(waiting));
    EXPECT_EQ(refused.status, 409) << refused.body;
    EXPECT_NE(refused.body.find("cancel it first"), std::string::npos) << refused.body;
    ASSERT_EQ(api.post("/api/v1/jobs/" + std::to_string(waiting) + "/cancel").status, 200);
    const auto deleted = api.call("DELETE", "/api/v1/jobs/" + std::to_string(waiting));
    EXPECT_EQ(deleted.status, 204) << deleted.body;
    EXPECT_TRUE(deleted.body.empty());
    EXPECT_EQ(api.get("/api/v1/jobs/" + std::to_string(waiting)).status, 404);
    EXPECT_EQ(api.call("DELETE", "/api/v1/jobs/" + std::to_string(waiting)).status, 404);
    EXPECT_EQ(api.call("DELETE", "/api/v1/jobs/nope").status, 404) << "as GET answers it";
    EXPECT_EQ(api.call("PUT", "/api/v1/jobs/1").status, 405);
}

TEST_P(ApiTest, DelayedJobsArePromotedOneOrManyAtOnce)
{
    ApiHarness api(k_queues);
    api.start(false);
    const std::string later = R"({"queue":"default","task":"misbehave.echo","payload":{},"delay":"1h"})";
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(api.enqueue(later));
    const auto waiting = api.enqueue(R"({"queue":"default","task":"misbehave.echo","payload":{}})");
    const auto elsewhere = api.enqueue(R"({"queue":"other","task":"misbehave.echo","payload":{},"delay":"1h"})");
    const auto state_of = [&](std::int64_t id) { return api.get("/api/v1/jobs/" + std::to_string(id)).json()->getValue<std::string>("state"); };

    // One job: waiting now, its run_at now; a second promotion is a conflict.
    const auto one = api.post("/api/v1/jobs/" + std::to_string(ids.front()) + "/promote");
    ASSERT_EQ(one.status, 200) << one.body;
    EXPECT_EQ(one.json()->getValue<std::string>("state"), "waiting");
    EXPECT_EQ(api.post("/api/v1/jobs/" + std::to_string(ids.front()) + "/promote").status, 409);
    EXPECT_EQ(api.post("/api/v1/jobs/" + std::to_string(waiting) + "/promote").status, 409);
    EXPECT_EQ(api.post("/api/v1/jobs/99999999/promote").status, 404);

    // The queue's delayed jobs, to a limit, then the rest; another queue's stay delayed.
    const auto dry = api.post("/api/v1/queues/default/promote", R"({"dry_run": true})");
    ASSERT_EQ(dry.status, 200) << dry.body;
    EXPECT_EQ(dry.json()->getValue<int>("promoted"), 3);
    const auto first = api.post("/api/v1/queues/default/promote", R"({"limit": 2})");
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_EQ(first.json()->getValue<int>("promoted"), 2);
    EXPECT_TRUE(first.json()->getValue<bool>("more"));
    EXPECT_EQ(state_of(ids.back()), "waiting") << "newest first";
    EXPECT_EQ(state_of(ids[1]), "delayed");
    const auto rest = api.post("/api/v1/queues/default/promote");
    ASSERT_EQ(rest.status, 200) << rest.body;
    EXPECT_EQ(rest.json()->getValue<int>("promoted"), 1);
    EXPECT_FALSE(rest.json()->getValue<bool>("more"));
    EXPECT_EQ(state_of(ids[1]), "waiting");
    EXPECT_EQ(state_of(elsewhere), "delayed");

    EXPECT_EQ(api.post("/api/v1/queues/default/promote", R"({"state": "waiting"})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/nowhere/promote").status, 404);
    EXPECT_EQ(api.post("/api/v1/queues/other/promote", "[]").status, 400);
    EXPECT_EQ(state_of(elsewhere), "delayed") << "a refused request changes nothing";
}

TEST_P(ApiTest, RetryAndCancelManyJobsOfAQueueAtOnce)
{
    ApiHarness api(k_queues);
    api.start(false);
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(api.enqueue(R"({"queue":"default","task":"misbehave.echo","payload":{}})"));
    const auto dependent =
        api.enqueue(R"({"queue":"default","task":"misbehave.echo","payload":{},"depends_on":[)" + std::to_string(ids.front()) + "]}");
    const auto elsewhere = api.enqueue(R"({"queue":"other","task":"misbehave.echo","payload":{}})");
    const auto state_of = [&](std::int64_t id) { return api.get("/api/v1/jobs/" + std::to_string(id)).json()->getValue<std::string>("state"); };

    const auto dry = api.post("/api/v1/queues/default/cancel", R"({"dry_run": true})");
    ASSERT_EQ(dry.status, 200) << dry.body;
    EXPECT_EQ(dry.json()->getValue<int>("cancelled"), 6);
    EXPECT_TRUE(dry.json()->getValue<bool>("dry_run"));
    EXPECT_EQ(state_of(ids.back()), "waiting");

    // State by state, newest first.
    const auto first = api.post("/api/v1/queues/default/cancel", R"({"limit": 2, "state": ["waiting", "blocked"]})");
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_EQ(first.json()->getValue<int>("cancelled"), 2);
    EXPECT_TRUE(first.json()->getValue<bool>("more"));
    EXPECT_EQ(state_of(ids[4]), "cancelled");
    EXPECT_EQ(state_of(ids[3]), "cancelled");
    EXPECT_EQ(state_of(ids[2]), "waiting");
    const auto rest = api.post("/api/v1/queues/default/cancel");
    ASSERT_EQ(rest.status, 200) << rest.body;
    EXPECT_EQ(rest.json()->getValue<int>("cancelled"), 3);
    EXPECT_FALSE(rest.json()->getValue<bool>("more"));
    for (const auto id : ids) EXPECT_EQ(state_of(id), "cancelled");
    EXPECT_EQ(state_of(dependent), "dead") << "its dependency was cancelled";
    EXPECT_EQ(state_of(elsewhere), "waiting");

    // The dependent may not run while the job it waits for is cancelled: refused, and named.
    const auto refused = api.post("/api/v1/queues/default/retry");
    ASSERT_EQ(refused.status, 200) << refused.body;
    EXPECT_EQ(refused.json()->getValue<int>("retried"), 0);
    EXPECT_EQ(refused.json()->getValue<int>("refused_count"), 1);
    EXPECT_EQ(refused.json()->getArray("refused")->getObject(0)->getValue<std::int64_t>("id"), dependent);
    EXPECT_EQ(state_of(dependent), "dead");
    const auto retried = api.post("/api/v1/queues/default/retry", R"({"state": "cancelled", "task": "misbehave.echo", "since": "1h"})");
    ASSERT_EQ(retried.status, 200) << retried.body;
    EXPECT_EQ(retried.json()->getValue<int>("retried"), 5);
    EXPECT_EQ(retried.json()->getValue<int>("refused_count"), 0);
    for (const auto id : ids) EXPECT_EQ(state_of(id), "waiting");
    const auto dependent_too = api.post("/api/v1/queues/default/retry", R"({"state": ["dead", "cancelled"]})");
    EXPECT_EQ(dependent_too.json()->getValue<int>("retried"), 1) << dependent_too.body;
    EXPECT_EQ(state_of(dependent), "blocked");
    EXPECT_EQ(api.post("/api/v1/queues/default/retry").json()->getValue<int>("retried"), 0) << "no dead job";

    // Bad requests: nothing changes.
    EXPECT_EQ(api.post("/api/v1/queues/nope/retry").status, 404);
    EXPECT_EQ(api.post("/api/v1/queues/default/retry", R"({"state": "waiting"})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", R"({"state": "dead"})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", R"({"state": []})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", R"({"limit": 0})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", R"({"limit": 10001})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", R"({"limit": true})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", R"({"limit": 18446744073709551615})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", R"({"limit": 2.5})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", R"({"task": 7})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", R"({"since": "soon"})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", R"({"since": 60})").status, 422);
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", "[1, 2]").status, 400);
    const auto misspelt = api.post("/api/v1/queues/default/cancel", R"({"dryrun": true})");
    EXPECT_EQ(misspelt.status, 422);
    EXPECT_NE(misspelt.message().find("dry_run"), std::string::npos) << misspelt.body;
    EXPECT_EQ(api.post("/api/v1/queues/default/cancel", "not json").status, 400);
    for (const auto id : ids) EXPECT_EQ(state_of(id), "waiting");
}

TEST_P(ApiTest, BadRequestsGetClearErrorsAndNeverChangeStoredJobs)
{
    ApiHarness api(k_queues, "", "  max_body: 1KiB\n");
    api.start(false);
    const auto id = api.enqueue(R"({"queue":"default","task":"misbehave.echo","payload":{"keep":true}})");
    const std::string before = api.get("/api/v1/jobs/" + std::to_string(id)).body;

    const auto bad_json = api.post("/api/v1/jobs", "{\"queue\": \"default\",\n \"task\": }");
    EXPECT_EQ(bad_json.status, 400);
    EXPECT_EQ(bad_json.code(), "bad_json");
    EXPECT_NE(bad_json.message().find("line 2, column"), std::string::npos) << bad_json.message();

    struct Case {
        std::string body;
        std::string says;
    };
    const std::vector<Case> invalid = {
        {"[1,2]", "JSON object"},
        {R"({"task":"misbehave.echo"})", "queue is missing"},
        {R"({"queue":"default","task":"misbehave.echo","payloda":{}})", "unknown member \"payloda\""},
        {R"({"queue":"nope","task":"misbehave.echo"})", "nope"},
        {R"({"queue":"other","task":"misbehave.fail"})", "misbehave.fail"},
        {R"({"queue":"default","task":"misbehave.echo","payload":[1]})", "must be a JSON object"},
        {R"({"queue":"default","task":"misbehave.echo","priority":"high"})", "priority: expected a whole number"},
        {R"({"queue":"default","task":"misbehave.echo","delay":5})", "delay: expected a duration"},
        {R"({"queue":"default","task":"misbehave.echo","max_attempts":0})", "max_attempts"},
        {R"({"queue":"default","task":"misbehave.echo","depends_on":[999999]})", "999999"},
        {R"({"queue":"default","task":"misbehave.echo","key":7})", "key: expected a string"},
    };
    for (const auto& c : invalid) {
        const auto reply = api.post("/api/v1/jobs", c.body);
        EXPECT_EQ(reply.status, 422) << c.body << " -> " << reply.body;
        EXPECT_EQ(reply.code(), "invalid_job") << c.body;
        EXPECT_NE(reply.message().find(c.says), std::string::npos) << c.body << " -> " << reply.message();
    }

    const auto unknown = api.get("/api/v1/nothing");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.code(), "not_found");
    const auto method = api.call("DELETE", "/api/v1/jobs");
    EXPECT_EQ(method.status, 405);
    EXPECT_EQ(method.code(), "method_not_allowed");
    EXPECT_EQ(method.header("Allow"), "POST, GET");

    // A body over max_body, by its declared length: answered before a byte of it is sent.
    const std::string declared = raw_exchange(api.port(), "POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + t::k_api_token +
                                                               "\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n");
    EXPECT_EQ(declared.substr(0, 12), "HTTP/1.1 413") << declared;
    EXPECT_NE(declared.find("payload_too_large"), std::string::npos);
    // And one sent in chunks, with no length declared: refused once it grows past the limit.
    {
        auto session = api.session();
        Poco::Net::HTTPRequest request("POST", "/api/v1/jobs", Poco::Net::HTTPMessage::HTTP_1_1);
        request.set("Authorization", "Bearer " + t::k_api_token);
        request.setChunkedTransferEncoding(true);
        std::ostream& out = session->sendRequest(request);
        out << "{\"queue\":\"default\",\"task\":\"misbehave.echo\",\"payload\":{\"pad\":\"" << std::string(4096, 'x') << "\"}}";
        Poco::Net::HTTPResponse response;
        std::istream& in = session->receiveResponse(response);
        std::string text;
        Poco::StreamCopier::copyToString(in, text);
        EXPECT_EQ(static_cast<int>(response.getStatus()), 413) << text;
    }

    EXPECT_EQ(api.job_count(), 1u);
    EXPECT_EQ(api.get("/api/v1/jobs/" + std::to_string(id)).body, before);
}

TEST_P(ApiTest, QueuesHostsPluginsAndSchedules)
{
    ApiHarness api(k_queues, "schedules:\n  - {name: tick, queue: other, task: misbehave.echo, payload: {}, every: 1h}\n");
    api.start();
    api.enqueue(R"({"queue":"other","task":"misbehave.echo","payload":{}})");

    const auto paused = api.post("/api/v1/queues/default/pause");
    ASSERT_EQ(paused.status, 200) << paused.body;
    EXPECT_TRUE(paused.json()->getValue<bool>("paused"));
    const auto queues = api.get("/api/v1/queues").json()->getArray("queues");
    ASSERT_EQ(queues->size(), 2u);
    std::map<std::string, Poco::JSON::Object::Ptr> by_name;
    for (std::size_t i = 0; i < queues->size(); ++i) {
        const auto queue = queues->getObject(static_cast<unsigned>(i));
        by_name[queue->getValue<std::string>("name")] = queue;
    }
    EXPECT_TRUE(by_name["default"]->getValue<bool>("paused"));
    EXPECT_FALSE(by_name["other"]->getValue<bool>("paused"));
    EXPECT_TRUE(by_name["other"]->getObject("counts")->has("waiting"));
    EXPECT_GE(by_name["other"]->getValue<int>("total"), 1);
    EXPECT_EQ(by_name["other"]->getValue<int>("concurrency"), 1);
    EXPECT_EQ(by_name["other"]->getValue<int>("prefetch"), 0);
    // No retention configured: every state kept (null), as `sandhost queues --json` shows it.
    const auto retention = by_name["other"]->getObject("retention");
    ASSERT_TRUE(retention);
    EXPECT_TRUE(retention->isNull("completed"));
    EXPECT_TRUE(retention->isNull("dead"));
    EXPECT_TRUE(retention->isNull("cancelled"));
    // The paused queue's job waits: its latency grows from its enqueue, in the API and the
    // metrics, and is 0 again once the job ran.
    const auto held = api.enqueue(R"({"queue":"default","task":"misbehave.echo","payload":{}})");
    const auto default_queue = [&] {
        const auto all = api.get("/api/v1/queues").json()->getArray("queues");
        for (std::size_t i = 0; i < all->size(); ++i) {
            if (all->getObject(static_cast<unsigned>(i))->getValue<std::string>("name") == "default") return all->getObject(static_cast<unsigned>(i));
        }
        return Poco::JSON::Object::Ptr();
    };
    EXPECT_TRUE(t::eventually([&] { return default_queue()->getValue<std::int64_t>("latency_ms") > 0; }, std::chrono::seconds(60)));
    EXPECT_EQ(default_queue()->getValue<std::string>("earliest_due"),
              api.get("/api/v1/jobs/" + std::to_string(held)).json()->getValue<std::string>("run_at"));
    const auto latency_metric = [&] {
        const std::string text = api.call("GET", "/metrics", std::nullopt, std::nullopt).body;
        const std::string sample = "\nsandhost_queue_latency_seconds{queue=\"default\"} ";
        const auto at = text.find(sample);
        return at == std::string::npos ? -1.0 : std::stod(text.substr(at + sample.size()));
    };
    EXPECT_GT(latency_metric(), 0.0);
    EXPECT_EQ(api.post("/api/v1/queues/default/resume").json()->getValue<bool>("paused"), false);
    api.wait_final(held);
    EXPECT_EQ(default_queue()->getValue<std::int64_t>("latency_ms"), 0);
    EXPECT_TRUE(default_queue()->isNull("earliest_due"));
    EXPECT_EQ(latency_metric(), 0.0);
    const auto unknown = api.post("/api/v1/queues/defualt/pause");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_NE(unknown.message().find("default"), std::string::npos) << unknown.message();

    ASSERT_TRUE(t::eventually([&] { return api.get("/api/v1/hosts").json()->getArray("hosts")->size() == 1; }));
    const auto host = api.get("/api/v1/hosts").json()->getArray("hosts")->getObject(0);
    EXPECT_EQ(host->getValue<std::string>("name"), "test-host");

    ASSERT_TRUE(t::eventually([&] { return api.get("/api/v1/plugins").json()->getArray("plugins")->size() > 0; }));
    const auto plugins = api.get("/api/v1/plugins").json()->getArray("plugins");
    bool misbehave = false;
    for (std::size_t i = 0; i < plugins->size(); ++i) {
        const auto plugin = plugins->getObject(static_cast<unsigned>(i));
        if (plugin->getValue<std::string>("name") != "misbehave") continue;
        misbehave = true;
        EXPECT_EQ(plugin->getValue<std::string>("health"), "ok");
        EXPECT_GT(plugin->getArray("tasks")->size(), 5u);
    }
    EXPECT_TRUE(misbehave);

    const auto schedules = api.get("/api/v1/schedules").json()->getArray("schedules");
    ASSERT_EQ(schedules->size(), 1u);
    EXPECT_EQ(schedules->getObject(0)->getValue<std::string>("name"), "tick");
    EXPECT_FALSE(schedules->getObject(0)->isNull("next_fire"));
    EXPECT_EQ(schedules->getObject(0)->getObject("trigger")->getValue<std::string>("every"), "1h");

    // Run by hand: its job now, as the schedule would enqueue it; its periods go on as before.
    const auto last_fire = [&] { return api.get("/api/v1/schedules").json()->getArray("schedules")->getObject(0)->get("last_fire").toString(); };
    const auto before = last_fire();
    const auto ran = api.post("/api/v1/schedules/tick/run");
    ASSERT_EQ(ran.status, 201) << ran.body;
    EXPECT_EQ(ran.json()->getValue<std::string>("queue"), "other");
    EXPECT_EQ(ran.json()->getValue<std::string>("task"), "misbehave.echo");
    EXPECT_EQ(ran.json()->getValue<std::string>("schedule"), "tick");
    EXPECT_EQ(ran.header("Location"), "/api/v1/jobs/" + std::to_string(ran.json()->getValue<std::int64_t>("id")));
    EXPECT_EQ(api.wait_final(ran.json()->getValue<std::int64_t>("id"))->getValue<std::string>("state"), "completed");
    EXPECT_EQ(last_fire(), before);
    const auto misspelt = api.post("/api/v1/schedules/tikc/run");
    EXPECT_EQ(misspelt.status, 404);
    EXPECT_NE(misspelt.message().find("did you mean 'tick'"), std::string::npos) << misspelt.message();
}

// Reads a Server-Sent Events stream until `done` says so or it ends.
struct SseEvent {
    std::int64_t id = 0;
    std::string type;
    Poco::JSON::Object::Ptr data;
};
void read_events(std::istream& in, const std::function<bool(const SseEvent&)>& done)
{
    SseEvent event;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("id: ", 0) == 0) event.id = std::stoll(line.substr(4));
        else if (line.rfind("event: ", 0) == 0) event.type = line.substr(7);
        else if (line.rfind("data: ", 0) == 0) {
            Poco::JSON::Parser parser;
            event.data = parser.parse(line.substr(6)).extract<Poco::JSON::Object::Ptr>();
        } else if (line.empty()) {
            if (!event.type.empty() && done(event)) return;
            event = SseEvent{};
        }
    }
}

TEST_P(ApiTest, TheEventStreamCarriesEveryFinishedJobOfManyEnqueuedAtOnce)
{
    ApiHarness api("  default:\n    tasks: [\"misbehave.echo\"]\n    concurrency: 4\n    sandbox: {mode: reuse}\n");
    api.start();
    constexpr int k_jobs = 2000;
    constexpr int k_connections = 8;

    auto stream = api.session();
    Poco::Net::HTTPRequest request("GET", "/api/v1/events?types=job.finished,job.enqueued", Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + t::k_api_token);
    stream->sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& events = stream->receiveResponse(response);
    ASSERT_EQ(response.getStatus(), Poco::Net::HTTPResponse::HTTP_OK);
    EXPECT_EQ(response.getContentType(), "text/event-stream; charset=utf-8");

    std::set<std::int64_t> finished;
    std::set<std::int64_t> enqueued_seen;
    std::int64_t middle_event = 0;
    std::atomic<int> enqueued{0};
    std::thread reader([&] {
        read_events(events, [&](const SseEvent& event) {
            const auto job = event.data->getValue<std::int64_t>("job");
            if (event.type == "job.enqueued") enqueued_seen.insert(job);
            if (event.type == "job.finished") {
                EXPECT_EQ(event.data->getValue<std::string>("outcome"), "succeeded");
                finished.insert(job);
                if (finished.size() == k_jobs / 2) middle_event = event.id;
            }
            return finished.size() == static_cast<std::size_t>(k_jobs);
        });
    });
    std::vector<std::thread> clients;
    for (int c = 0; c < k_connections; ++c) {
        clients.emplace_back([&, c] {
            auto session = api.session();  // one kept-alive connection each
            for (int i = c; i < k_jobs; i += k_connections) {
                const auto reply = testing::http_call(*session, "POST", "/api/v1/jobs",
                                                      R"({"queue":"default","task":"misbehave.echo","payload":{"i":)" + std::to_string(i) + "}}");
                if (reply.status == 201) ++enqueued;
                else ADD_FAILURE() << reply.status << " " << reply.body;
            }
        });
    }
    for (auto& client : clients) client.join();
    EXPECT_EQ(enqueued.load(), k_jobs);
    reader.join();
    EXPECT_EQ(finished.size(), static_cast<std::size_t>(k_jobs));
    EXPECT_EQ(enqueued_seen.size(), static_cast<std::size_t>(k_jobs));
    stream->reset();

    // Resuming with Last-Event-ID starts right after that event.
    auto resumed = api.session();
    Poco::Net::HTTPRequest again("GET", "/api/v1/events", Poco::Net::HTTPMessage::HTTP_1_1);
    again.set("Authorization", "Bearer " + t::k_api_token);
    again.set("Last-Event-ID", std::to_string(middle_event));
    resumed->sendRequest(again);
    Poco::Net::HTTPResponse again_response;
    std::istream& again_events = resumed->receiveResponse(again_response);
    std::int64_t first = 0;
    read_events(again_events, [&](const SseEvent& event) {
        first = event.id;
        return true;
    });
    EXPECT_EQ(first, middle_event + 1);
    resumed->reset();
}

TEST_P(ApiTest, MetricsAreValidPrometheusTextAndCountWhatHappened)
{
    ApiHarness api(k_queues, "schedules:\n  - {name: tick, queue: other, task: misbehave.echo, payload: {}, every: 1h}\n");
    api.start();
    // The host records a schedule's start when it first sees it: its last fire from then on.
    EXPECT_TRUE(t::eventually([&] { return !api.get("/api/v1/schedules").json()->getArray("schedules")->getObject(0)->isNull("last_fire"); },
                              std::chrono::seconds(60)));
    const auto ok = api.enqueue(R"({"queue":"default","task":"misbehave.echo","payload":{}})");
    const auto bad = api.enqueue(R"({"queue":"default","task":"misbehave.fail","payload":{"message":"no","permanent":true}})");
    api.wait_final(ok);
    api.wait_final(bad);
    const auto reply = api.call("GET", "/metrics", std::nullopt, std::nullopt);
    ASSERT_EQ(reply.status, 200);
    EXPECT_EQ(reply.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    const std::string& text = reply.body;
    for (const std::string line : {
             R"(sandhost_attempts_total{queue="default",task="misbehave.echo",outcome="succeeded"} 1)",
             R"(sandhost_attempts_total{queue="default",task="misbehave.fail",outcome="failed"} 1)",
             R"(sandhost_jobs_enqueued_total{queue="default"} 2)",
             R"(sandhost_jobs{queue="default",state="completed"} 1)",
             R"(sandhost_jobs{queue="default",state="dead"} 1)",
             R"(sandhost_attempt_duration_seconds_count{queue="default"} 2)",
             R"(sandhost_queue_wait_seconds_bucket{queue="default",le="+Inf"} 2)",
             R"(sandhost_queue_latency_seconds{queue="default"} 0)",
             "# TYPE sandhost_schedule_last_fire_timestamp_seconds gauge",
             "sandhost_store_errors_total 0",
             "sandhost_store_up 1",
             R"(sandhost_hosts{state="alive"} 1)",
             "# TYPE sandhost_workers gauge",
             "sandhost_running_attempts 0",
             "sandhost_claimed_ahead 0",
             "sandhost_jobs_trimmed_total 0",
             "sandhost_attempts_recovered_total 0",
             "sandhost_host_errors_total 0",
             "sandhost_leases_expired_total 0",
             "sandhost_results_refused_total 0",
             "sandhost_records_dropped_total 0",
             "sandhost_records_waiting 0",
             "# TYPE sandhost_plugin_broken gauge",
             "# TYPE process_resident_memory_bytes gauge",
         }) {
        EXPECT_NE(text.find(line + "\n"), std::string::npos) << "missing: " << line << "\n" << text;
    }
    // The schedule's last fire, and its next one, the next hour's start after it.
    const auto sample = [&](const std::string& series) {
        const auto at = text.find("\n" + series + " ");
        return at == std::string::npos ? -1.0 : std::stod(text.substr(at + series.size() + 2));
    };
    const double last_fire = sample(R"(sandhost_schedule_last_fire_timestamp_seconds{schedule="tick"})");
    const double next_fire = sample(R"(sandhost_schedule_next_fire_timestamp_seconds{schedule="tick"})");
    EXPECT_GT(last_fire, 1.7e9) << text;
    EXPECT_GT(next_fire, last_fire);
    EXPECT_LE(next_fire - last_fire, 3600.0);
    // The embedded store's files: the file and its -wal file hold the jobs, and few of the
    // file's pages are free. A Redis store has no file here.
    std::map<std::string, double> sizes;
    for (const std::string family : {"sandhost_store_file_bytes", "sandhost_store_wal_bytes", "sandhost_store_free_bytes"}) {
        const auto at = text.find("\n" + family + " ");
        if (std::string(GetParam()) != "sqlite") {
            EXPECT_EQ(at, std::string::npos) << family << "\n" << text;
            continue;
        }
        ASSERT_NE(at, std::string::npos) << family << "\n" << text;
        sizes[family] = std::stod(text.substr(at + family.size() + 2));
    }
    if (std::string(GetParam()) == "sqlite") {
        EXPECT_EQ(sizes["sandhost_store_file_bytes"], static_cast<double>(std::filesystem::file_size(std::get<config::SqliteStore>(api.settings()->host.store).path)));
        EXPECT_GT(sizes["sandhost_store_wal_bytes"], 0);
        EXPECT_LT(sizes["sandhost_store_free_bytes"], sizes["sandhost_store_file_bytes"] / 2);
    }
    // Every metric the shipped alerting rules name is one this serves.
    std::ifstream rules_file(SANDHOST_ALERT_RULES);
    const std::string rules((std::istreambuf_iterator<char>(rules_file)), std::istreambuf_iterator<char>());
    std::set<std::string> named;
    for (std::size_t at = rules.find("sandhost_"); at != std::string::npos; at = rules.find("sandhost_", at + 1)) {
        if (at > 0 && (std::isalnum(static_cast<unsigned char>(rules[at - 1])) || rules[at - 1] == '_')) continue;
        std::size_t end = at;
        while (end < rules.size() && (std::islower(static_cast<unsigned char>(rules[end])) || rules[end] == '_')) ++end;
        named.insert(rules.substr(at, end - at));
    }
    EXPECT_GE(named.size(), 7u) << rules;
    const std::set<std::string> embedded_only{"sandhost_store_file_bytes", "sandhost_store_wal_bytes", "sandhost_store_free_bytes"};
    for (const auto& name : named) {
        if (std::string(GetParam()) != "sqlite" && embedded_only.count(name)) continue;
        EXPECT_NE(text.find("# TYPE " + name + " "), std::string::npos) << name << " is named by the alerting rules";
    }

    if (!std::filesystem::exists("/usr/bin/promtool")) GTEST_SKIP() << "promtool is not installed (Debian: apt-get install prometheus)";
    const auto check = t::run_command({"/usr/bin/promtool", "check", "metrics"}, {}, text);
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
    EXPECT_EQ(check.out + check.err, "") << "promtool's remarks on the metrics' names";
}

TEST_P(ApiTest, TheServerStopsWithOpenStreamsAndRefusesATakenAddress)
{
    ApiHarness api(k_queues);
    api.start(false);
    auto stream = api.session();
    Poco::Net::HTTPRequest request("GET", "/api/v1/events", Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + t::k_api_token);
    stream->sendRequest(request);
    Poco::Net::HTTPResponse response;
    stream->receiveResponse(response);
    ASSERT_EQ(response.getStatus(), Poco::Net::HTTPResponse::HTTP_OK);

    // The same port again: refused with the address in the message.
    auto settings = std::make_shared<config::Settings>(*api.settings());
    settings->api.listen->port = api.port();
    ApiOptions options;
    options.settings = settings;
    options.store = scheduler::open_configured_store(settings->host);
    try {
        ApiServer second(options);
        ADD_FAILURE() << "a second server bound " << second.url();
    } catch (const ApiStartError& e) {
        EXPECT_NE(std::string(e.what()).find(std::to_string(api.port())), std::string::npos) << e.what();
    }

    const auto start = std::chrono::steady_clock::now();
    api.server().stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_P(ApiTest, ServesHttpsWithTheConfiguredCertificate)
{
    t::TempDir keys;
    const auto made = t::run_command({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                                      "-keyout", (keys / "key.pem").string(), "-out", (keys / "cert.pem").string()});
    if (made.exit_code != 0) GTEST_SKIP() << "openssl could not make a certificate: " << made.err;
    ApiHarness api(k_queues, "", "  tls: {cert: \"" + (keys / "cert.pem").string() + "\", key: \"" + (keys / "key.pem").string() + "\"}\n");
    api.start(false);
    EXPECT_EQ(api.server().url().substr(0, 8), "https://");
    Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_NONE);
    Poco::Net::HTTPSClientSession session("127.0.0.1", api.port(), context);
    session.setTimeout(Poco::Timespan(10, 0));
    const auto reply = testing::http_call(session, "POST", "/api/v1/jobs", R"({"queue":"default","task":"misbehave.echo","payload":{}})");
    EXPECT_EQ(reply.status, 201) << reply.body;
    EXPECT_EQ(testing::http_call(session, "GET", "/api/v1/jobs/1").json()->getValue<std::string>("state"), "waiting");
    // Plain HTTP on the TLS port gets no answer a client could take for the API's.
    EXPECT_THROW(api.call("GET", "/healthz"), Poco::Exception);
}

INSTANTIATE_TEST_SUITE_P(Stores, ApiTest, ::testing::Values("sqlite", "redis"),
                         [](const ::testing::TestParamInfo<const char*>& param) { return std::string(param.param); });

} // namespace
} // namespace sandhost::api
