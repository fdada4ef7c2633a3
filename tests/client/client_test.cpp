// The client library as a program links it (libsandhost-client.so): the C++ and C APIs against
// a real store served by a real host, embedded through the same library, and a sandbox run from
// it. Every test checks that no worker is left behind.
#include "test_support.h"

#include <sandhost/client.h>
#include <sandhost/client.hpp>
#include <sandhost/embed.hpp>

#include <gtest/gtest.h>

#include <functional>

#include <csignal>
#include <fstream>
#include <thread>

namespace {

using namespace std::chrono_literals;
namespace t = sandhost::testing;
using sandhost::client::Client;
using sandhost::client::Error;
using sandhost::client::JobState;

// A configuration in a fresh folder: a SQLite store beside it and the build's plugins.
// `call` names the queue "defualt": it throws not_found, naming "default".
void expect_misspelt_queue(const std::function<void()>& call)
{
    try {
        call();
        ADD_FAILURE() << "an unknown queue";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), Error::Kind::not_found);
        EXPECT_NE(std::string(e.what()).find("did you mean 'default'"), std::string::npos) << e.what();
    }
}

class ClientTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        m_config = m_dir.path() / "sandhost.yaml";
        std::ofstream(m_config) << "host:\n"
                                   "  name: client-test\n"
                                   "  store: sqlite:store.db\n"
                                   "  plugin_dirs: [\""
                                << t::plugin_dir().string()
                                << "\"]\n"
                                   "  log: {level: warn}\n"
                                   "sandbox: {timeout: 10s}\n"
                                   "queues:\n"
                                   "  default:\n"
                                   "    tasks: [\"misbehave.*\", \"hello.*\", \"legacy_c.*\"]\n"
                                   "    concurrency: 2\n"
                                   "    retry: {max_attempts: 1}\n"
                                   "  other:\n"
                                   "    tasks: [hello.echo]\n"
                                   "    ttl: 1h\n";
    }
    void TearDown() override
    {
        stop_host();
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }
    // Serves the configuration from a thread of this process, through the embedding API.
    void start_host()
    {
        m_host = std::make_unique<sandhost::embed::Host>(m_config.string());
        m_serving = std::thread([this] { m_host->run(5s); });
    }
    void stop_host()
    {
        if (!m_host) return;
        m_host->stop();
        m_serving.join();
        m_host.reset();
    }
    std::string config() const { return m_config.string(); }
    std::string store_url() const { return "sqlite:" + (m_dir.path() / "store.db").string(); }

    t::TempDir m_dir;
    std::filesystem::path m_config;
    std::unique_ptr<sandhost::embed::Host> m_host;
    std::thread m_serving;
};

TEST_F(ClientTest, EnqueuesAndWaitsForTheResultWhileAHostRuns)
{
    start_host();
    auto client = Client::open_config(config());
    const auto enqueued = client.enqueue("default", "hello.word_count", R"({"text": "one two three"})");
    EXPECT_TRUE(enqueued.created);
    const auto job = client.wait(enqueued.id, 60s);
    ASSERT_EQ(job.state, JobState::completed) << job.error.value_or("");
    EXPECT_EQ(job.result, R"({"words":3})");
    EXPECT_EQ(job.outcome, "succeeded");
    EXPECT_EQ(job.attempts, 1u);
    EXPECT_EQ(job.queue, "default");
    EXPECT_EQ(job.task, "hello.word_count");
}

TEST_F(ClientTest, AJobThatCrashesIsDeadWithItsOutcome)
{
    start_host();
    auto client = Client::open_config(config());
    const auto id = client.enqueue("default", "misbehave.segfault").id;
    const auto job = client.wait(id, 60s);
    EXPECT_EQ(job.state, JobState::dead);
    EXPECT_EQ(job.outcome, "crashed");
    ASSERT_TRUE(job.error.has_value());
    EXPECT_NE(job.error->find("SIGSEGV"), std::string::npos) << *job.error;
}

TEST_F(ClientTest, TheEnqueuePolicyRefusesWhatTheCliRefuses)
{
    auto client = Client::open_config(config());
    try {
        client.enqueue("defualt", "hello.echo");
        FAIL() << "an unknown queue was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), Error::Kind::refused);
        EXPECT_NE(std::string(e.what()).find("did you mean 'default'"), std::string::npos) << e.what();
    }
    EXPECT_THROW(client.enqueue("other", "hello.word_count"), Error) << "the queue does not allow it";
    try {
        client.enqueue("default", "hello.echo", "[1, 2]");
        FAIL() << "a payload that is not an object was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), Error::Kind::refused);
    }
    // Before any host published its plugins, a well-formed job is accepted with a note.
    const auto enqueued = client.enqueue("default", "hello.echo");
    ASSERT_EQ(enqueued.notes.size(), 1u);
    EXPECT_NE(enqueued.notes[0].find("not checked"), std::string::npos);
}

TEST_F(ClientTest, AnInvalidConfigurationListsEveryError)
{
    std::ofstream(m_config) << "host:\n  store: nosuch:x\n  max_workers: lots\nqueues: {}\n";
    try {
        Client::open_config(config());
        FAIL() << "an invalid configuration was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), Error::Kind::config);
        const std::string message = e.what();
        EXPECT_NE(message.find("sandhost.yaml:2:"), std::string::npos) << message;
        EXPECT_NE(message.find("sandhost.yaml:3:"), std::string::npos) << message;
    }
}

TEST_F(ClientTest, GetWaitCancelAndRetry)
{
    auto client = Client::open_config(config());
    sandhost::client::EnqueueOptions later;
    later.delay = 1h;
    const auto first = client.enqueue("default", "hello.echo", "{}", later);
    EXPECT_EQ(client.get(first.id)->state, JobState::delayed);

    const auto waited = client.wait(first.id, 50ms);
    EXPECT_EQ(waited.state, JobState::delayed) << "wait returns the job as it is when time is up";

    EXPECT_EQ(client.cancel(first.id), sandhost::client::CancelResult::cancelled);
    EXPECT_EQ(client.get(first.id)->state, JobState::cancelled);
    EXPECT_EQ(client.cancel(first.id), sandhost::client::CancelResult::already_final);
    EXPECT_TRUE(client.retry(first.id));
    EXPECT_EQ(client.get(first.id)->state, JobState::waiting);
    EXPECT_FALSE(client.retry(first.id)) << "only a dead or cancelled job is retried";

    EXPECT_EQ(client.get(987654), std::nullopt);
    EXPECT_THROW(client.wait(987654, 1s), Error);
    EXPECT_THROW(client.cancel(987654), Error);
}

// A finished job deleted with its record, in C++ and in C; one that has not ended is kept.
TEST_F(ClientTest, AFinishedJobIsRemovedInCppAndC)
{
    auto client = Client::open_config(config());
    const auto first = client.enqueue("default", "hello.echo", R"({"card":"4111"})").id;
    const auto second = client.enqueue("default", "hello.echo", "{}").id;
    EXPECT_FALSE(client.remove(first)) << "it has not ended";
    EXPECT_EQ(client.get(first)->state, JobState::waiting);
    ASSERT_EQ(client.cancel(first), sandhost::client::CancelResult::cancelled);
    EXPECT_TRUE(client.remove(first));
    EXPECT_EQ(client.get(first), std::nullopt);
    EXPECT_THROW(client.remove(first), Error);

    sh_client_t* c = sh_client_open_config(config().c_str());
    ASSERT_NE(c, nullptr) << sh_client_last_error();
    EXPECT_EQ(sh_client_remove(c, second), SH_CLIENT_WRONG_STATE);
    ASSERT_EQ(sh_client_cancel(c, second), SH_CLIENT_OK);
    EXPECT_EQ(sh_client_remove(c, second), SH_CLIENT_OK) << sh_client_last_error();
    EXPECT_EQ(sh_client_remove(c, second), SH_CLIENT_NOT_FOUND);
    EXPECT_EQ(sh_client_remove(nullptr, second), SH_CLIENT_INVALID_ARGUMENT);
    sh_client_close(c);
}

// Many jobs of a queue cancelled and retried with one call, in C++ and in C, with what the
// store refused named.
TEST_F(ClientTest, DelayedJobsArePromotedOneOrManyAtOnceInCppAndC)
{
    auto client = Client::open_config(config());
    sandhost::client::EnqueueOptions later;
    later.delay = 1h;
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(client.enqueue("default", "hello.echo", "{}", later).id);
    const auto now = client.enqueue("default", "hello.echo", "{}").id;

    EXPECT_TRUE(client.promote(ids[0]));
    EXPECT_EQ(client.get(ids[0])->state, JobState::waiting);
    EXPECT_FALSE(client.promote(ids[0])) << "waiting already";
    EXPECT_FALSE(client.promote(now));
    EXPECT_THROW(client.promote(99'999'999), Error);
    sandhost::client::BulkOptions one;
    one.limit = 1;
    const auto first = client.promote_jobs("default", one);
    EXPECT_EQ(first.changed, 1u);
    EXPECT_TRUE(first.more);
    EXPECT_EQ(client.get(ids[3])->state, JobState::waiting) << "newest first";
    sandhost::client::BulkOptions cancelled;
    cancelled.states = {JobState::cancelled};
    EXPECT_THROW(client.promote_jobs("default", cancelled), Error);

    sh_client_t* c = sh_client_open_config(config().c_str());
    ASSERT_NE(c, nullptr) << sh_client_last_error();
    EXPECT_EQ(sh_client_promote(c, ids[1]), SH_CLIENT_OK) << sh_client_last_error();
    EXPECT_EQ(sh_client_promote(c, ids[1]), SH_CLIENT_WRONG_STATE);
    EXPECT_EQ(sh_client_promote(c, 99'999'999), SH_CLIENT_NOT_FOUND);
    sh_bulk_result_t result{};
    ASSERT_EQ(sh_client_promote_jobs(c, "default", nullptr, &result), SH_CLIENT_OK) << sh_client_last_error();
    EXPECT_EQ(result.changed, 1u) << "the last one still delayed";
    EXPECT_EQ(result.more, 0);
    for (const auto id : ids) EXPECT_EQ(client.get(id)->state, JobState::waiting);
    sh_bulk_options_t options = SH_BULK_OPTIONS_INIT;
    options.states = SH_JOB_STATE_BIT(SH_JOB_WAITING);
    EXPECT_EQ(sh_client_promote_jobs(c, "default", &options, nullptr), SH_CLIENT_INVALID_ARGUMENT);
    sh_client_close(c);
}

// A producer can watch a queue's backlog: its counts and latency, in C++ and C.
TEST_F(ClientTest, AQueuesCountsAndLatencyAreReadInCppAndC)
{
    auto client = Client::open_config(config());
    EXPECT_EQ(client.queue("default").count(JobState::waiting), 0u);
    EXPECT_EQ(client.queue("default").latency, std::chrono::milliseconds(0));
    EXPECT_FALSE(client.queue("default").earliest_due);
    const auto first = client.enqueue("default", "hello.echo", "{}").id;
    client.enqueue("default", "hello.echo", "{}");
    sandhost::client::EnqueueOptions later;
    later.delay = 1h;
    client.enqueue("default", "hello.echo", "{}", later);
    // No host runs here: the waiting jobs wait, and the latency grows from the first's enqueue.
    EXPECT_TRUE(t::eventually([&] { return client.queue("default").latency > std::chrono::milliseconds(0); }, 60s));
    const auto stats = client.queue("default");
    EXPECT_EQ(stats.count(JobState::waiting), 2u);
    EXPECT_EQ(stats.count(JobState::delayed), 1u);
    EXPECT_FALSE(stats.paused);
    ASSERT_TRUE(stats.earliest_due);
    EXPECT_EQ(*stats.earliest_due, client.get(first)->created_at);
    const auto all = client.queues();
    EXPECT_TRUE(std::any_of(all.begin(), all.end(), [](const auto& q) { return q.name == "default" && q.count(JobState::waiting) == 2u; }));
    expect_misspelt_queue([&] { client.queue("defualt"); });

    sh_client_t* c = sh_client_open_config(config().c_str());
    ASSERT_NE(c, nullptr) << sh_client_last_error();
    sh_queue_stats_t queue = SH_QUEUE_STATS_INIT;
    ASSERT_EQ(sh_client_queue_stats(c, "default", &queue), SH_CLIENT_OK) << sh_client_last_error();
    EXPECT_EQ(queue.counts[SH_JOB_WAITING], 2u);
    EXPECT_EQ(queue.counts[SH_JOB_DELAYED], 1u);
    EXPECT_GT(queue.latency_ms, 0);
    EXPECT_EQ(queue.earliest_due_ms, std::chrono::duration_cast<std::chrono::milliseconds>(stats.earliest_due->time_since_epoch()).count());
    EXPECT_EQ(sh_client_queue_stats(c, "nosuch", &queue), SH_CLIENT_NOT_FOUND);
    sh_queue_stats_t small = SH_QUEUE_STATS_INIT;
    small.struct_size = 8;
    EXPECT_EQ(sh_client_queue_stats(c, "default", &small), SH_CLIENT_INVALID_ARGUMENT);
    EXPECT_EQ(sh_client_queue_stats(c, "default", nullptr), SH_CLIENT_INVALID_ARGUMENT);
    sh_client_close(c);
}

TEST_F(ClientTest, ManyJobsOfAQueueAreCancelledAndRetriedAtOnceInCppAndC)
{
    auto client = Client::open_config(config());
    sandhost::client::EnqueueOptions later;
    later.delay = 1h;
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(client.enqueue("default", "hello.echo", "{}", later).id);

    const auto cancelled = client.cancel_jobs("default");
    EXPECT_EQ(cancelled.changed, 4u);
    for (const auto id : ids) EXPECT_EQ(client.get(id)->state, JobState::cancelled);
    sandhost::client::BulkOptions three;
    three.states = {JobState::cancelled};
    three.limit = 3;
    three.since = 1h;
    const auto retried = client.retry_jobs("default", three);
    EXPECT_EQ(retried.changed, 3u);
    EXPECT_TRUE(retried.more);
    EXPECT_EQ(client.get(ids.front())->state, JobState::cancelled) << "the oldest is left for the next call";
    sandhost::client::BulkOptions dry;
    dry.states = {JobState::cancelled};
    dry.dry_run = true;
    EXPECT_EQ(client.retry_jobs("default", dry).changed, 1u);
    EXPECT_EQ(client.get(ids.front())->state, JobState::cancelled);
    sandhost::client::BulkOptions waiting;
    waiting.states = {JobState::waiting};
    EXPECT_THROW(client.retry_jobs("default", waiting), Error);
    expect_misspelt_queue([&] { client.cancel_jobs("defualt"); });

    sh_client_t* c = sh_client_open_config(config().c_str());
    ASSERT_NE(c, nullptr) << sh_client_last_error();
    sh_bulk_result_t result{};
    ASSERT_EQ(sh_client_cancel_jobs(c, "default", nullptr, &result), SH_CLIENT_OK) << sh_client_last_error();
    EXPECT_EQ(result.changed, 3u) << "the three retried, waiting again";
    sh_bulk_options_t options = SH_BULK_OPTIONS_INIT;
    options.states = SH_JOB_STATE_BIT(SH_JOB_CANCELLED);
    options.task = "hello.echo";
    ASSERT_EQ(sh_client_retry_jobs(c, "default", &options, &result), SH_CLIENT_OK) << sh_client_last_error();
    EXPECT_EQ(result.changed, 4u);
    EXPECT_EQ(result.more, 0);

    // A job whose dependency was cancelled is dead, and may not run while it stays so.
    sh_enqueue_options_t after = SH_ENQUEUE_OPTIONS_INIT;
    after.depends_on = &ids.front();
    after.depends_on_count = 1;
    ASSERT_EQ(sh_client_cancel(c, ids.front()), SH_CLIENT_OK);
    std::int64_t dependent = 0;
    ASSERT_EQ(sh_client_enqueue(c, "default", "hello.echo", "{}", &after, &dependent), SH_CLIENT_OK) << sh_client_last_error();
    EXPECT_EQ(client.get(dependent)->state, JobState::dead);
    EXPECT_EQ(sh_client_retry_jobs(c, "default", nullptr, &result), SH_CLIENT_REFUSED);
    EXPECT_EQ(result.refused, 1u);
    EXPECT_EQ(result.changed, 0u);
    EXPECT_NE(std::string(sh_client_last_error()).find("job " + std::to_string(dependent) + ": "), std::string::npos) << sh_client_last_error();

    options.since_ms = -1;
    EXPECT_EQ(sh_client_retry_jobs(c, "default", &options, nullptr), SH_CLIENT_INVALID_ARGUMENT);
    options.since_ms = 3600000;
    options.states = SH_JOB_STATE_BIT(SH_JOB_WAITING);
    EXPECT_EQ(sh_client_retry_jobs(c, "default", &options, nullptr), SH_CLIENT_INVALID_ARGUMENT);
    options.states = 1u << 12;
    EXPECT_EQ(sh_client_cancel_jobs(c, "default", &options, nullptr), SH_CLIENT_INVALID_ARGUMENT);
    EXPECT_EQ(sh_client_cancel_jobs(c, "nosuch", nullptr, nullptr), SH_CLIENT_NOT_FOUND);
    EXPECT_EQ(sh_client_cancel_jobs(c, nullptr, nullptr, nullptr), SH_CLIENT_INVALID_ARGUMENT);
    sh_client_close(c);
}

TEST_F(ClientTest, OpenedOnAStoreUrlItChecksAgainstThePublishedQueues)
{
    {
        auto before = Client::open_store(store_url());
        try {
            before.enqueue("default", "hello.echo");
            FAIL() << "accepted before any host published its queues";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), Error::Kind::refused);
            EXPECT_NE(std::string(e.what()).find("no host has published"), std::string::npos) << e.what();
        }
    }
    start_host();
    auto client = Client::open_store(store_url());
    std::int64_t id = 0;
    ASSERT_TRUE(t::eventually([&] {
        try {
            id = client.enqueue("other", "hello.echo", R"({"via": "url"})").id;
            return true;
        } catch (const Error&) {
            return false;  // the host has not published yet
        }
    }));
    const auto job = client.wait(id, 60s);
    EXPECT_EQ(job.state, JobState::completed);
    EXPECT_EQ(job.result, R"({"via": "url"})");
    EXPECT_THROW(client.enqueue("other", "hello.word_count"), Error) << "the published queue does not allow it";
    EXPECT_THROW(client.enqueue("nosuch", "hello.echo"), Error);
    EXPECT_THROW(Client::open_store("ftp://example.org/x"), Error);
}

TEST_F(ClientTest, TheCApiEnqueuesWaitsAndReportsErrorsInWords)
{
    EXPECT_EQ(sh_client_open_config((m_dir.path() / "missing.yaml").c_str()), nullptr);
    EXPECT_NE(std::string(sh_client_last_error()).find("missing.yaml"), std::string::npos) << sh_client_last_error();

    start_host();
    sh_client_t* client = sh_client_open_config(config().c_str());
    ASSERT_NE(client, nullptr) << sh_client_last_error();
    int64_t id = 0;
    ASSERT_EQ(sh_client_enqueue(client, "default", "legacy_c.mean", R"({"values": [1, 2, 4.5]})", nullptr, &id), SH_CLIENT_OK)
        << sh_client_last_error();
    sh_job_t* job = nullptr;
    ASSERT_EQ(sh_client_wait(client, id, 60000, &job), SH_CLIENT_OK) << sh_client_last_error();
    ASSERT_NE(job, nullptr);
    EXPECT_EQ(job->state, SH_JOB_COMPLETED);
    EXPECT_STREQ(job->result, "2.5");
    EXPECT_STREQ(job->outcome, "succeeded");
    EXPECT_STREQ(job->task, "legacy_c.mean");
    EXPECT_STREQ(sh_job_state_name(job->state), "completed");
    EXPECT_GT(job->created_at_ms, 0);
    sh_job_free(job);
    // The same job in the one JSON shape of every front door: payload and result as values.
    char* json = nullptr;
    ASSERT_EQ(sh_client_get_json(client, id, &json), SH_CLIENT_OK) << sh_client_last_error();
    ASSERT_NE(json, nullptr);
    const std::string text = json;
    sh_client_free_text(json);
    EXPECT_NE(text.find("\"result\":2.5"), std::string::npos) << text;
    EXPECT_NE(text.find("\"payload\":{\"values\":[1,2,4.5]}"), std::string::npos) << text;
    EXPECT_NE(text.find("\"attempts\":[{"), std::string::npos) << text;
    json = nullptr;
    EXPECT_EQ(sh_client_get_json(client, 987654, &json), SH_CLIENT_NOT_FOUND);
    EXPECT_EQ(json, nullptr);

    sh_enqueue_options_t options = SH_ENQUEUE_OPTIONS_INIT;
    options.delay_ms = 3600000;
    ASSERT_EQ(sh_client_enqueue(client, "default", "hello.echo", nullptr, &options, &id), SH_CLIENT_OK);
    job = nullptr;
    EXPECT_EQ(sh_client_wait(client, id, 10, &job), SH_CLIENT_TIMEOUT);
    ASSERT_NE(job, nullptr);
    EXPECT_EQ(job->state, SH_JOB_DELAYED);
    EXPECT_EQ(job->result, nullptr);
    sh_job_free(job);
    EXPECT_EQ(sh_client_cancel(client, id), SH_CLIENT_OK);
    EXPECT_EQ(sh_client_cancel(client, id), SH_CLIENT_WRONG_STATE);
    EXPECT_EQ(sh_client_retry(client, id), SH_CLIENT_OK);

    EXPECT_EQ(sh_client_enqueue(client, "nosuch", "hello.echo", "{}", nullptr, &id), SH_CLIENT_REFUSED);
    EXPECT_NE(std::string(sh_client_last_error()).find("unknown queue 'nosuch'"), std::string::npos) << sh_client_last_error();
    EXPECT_EQ(sh_client_get(client, 987654, &job), SH_CLIENT_NOT_FOUND);
    EXPECT_EQ(job, nullptr);
    EXPECT_EQ(sh_client_enqueue(client, nullptr, "hello.echo", "{}", nullptr, &id), SH_CLIENT_INVALID_ARGUMENT);
    sh_client_close(client);
}

TEST_F(ClientTest, ABatchIsStoredWholeOrNotAtAllInCppAndC)
{
    start_host();
    auto client = Client::open_config(config());
    std::vector<sandhost::client::NewJob> jobs(3);
    jobs[0] = {"default", "hello.word_count", R"({"text": "a b"})", {}};
    jobs[1] = {"other", "hello.echo", R"({"x": 1})", {}};
    jobs[2] = {"default", "hello.word_count", R"({"text": "a b c"})", {}};
    jobs[2].options.key = "k-1";
    const auto enqueued = client.enqueue_batch(jobs);
    ASSERT_EQ(enqueued.size(), 3u);
    EXPECT_EQ(client.wait(enqueued[0].id, 60s).result, R"({"words":2})");
    EXPECT_EQ(client.wait(enqueued[1].id, 60s).state, JobState::completed);
    EXPECT_EQ(client.wait(enqueued[2].id, 60s).result, R"({"words":3})");
    EXPECT_EQ(client.get(enqueued[1].id)->queue, "other");

    // A refused job anywhere stores none, and is named.
    jobs[1].task = "hello.word_count";  // not allowed in `other`
    try {
        client.enqueue_batch(jobs);
        FAIL() << "a task the queue does not allow was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), Error::Kind::refused);
        EXPECT_EQ(std::string(e.what()).rfind("job 1: ", 0), 0u) << e.what();
    }
    jobs[1].task = "hello.echo";
    jobs[0].options.timeout = std::chrono::milliseconds(0);
    try {
        client.enqueue_batch(jobs);
        FAIL() << "a zero timeout was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), Error::Kind::invalid_argument);
        EXPECT_EQ(std::string(e.what()).rfind("job 0: ", 0), 0u) << e.what();
    }
    EXPECT_THROW(client.enqueue_batch(std::vector<sandhost::client::NewJob>(sandhost::client::k_max_batch + 1, jobs[1])), Error);
    EXPECT_TRUE(client.enqueue_batch({}).empty());

    // The C API: an array of requests, the ids and whether each was created.
    sh_client_t* c = sh_client_open_config(config().c_str());
    ASSERT_NE(c, nullptr) << sh_client_last_error();
    sh_enqueue_options_t keyed = SH_ENQUEUE_OPTIONS_INIT;
    keyed.key = "k-2";
    sh_enqueue_request_t requests[3] = {SH_ENQUEUE_REQUEST_INIT, SH_ENQUEUE_REQUEST_INIT, SH_ENQUEUE_REQUEST_INIT};
    for (auto& request : requests) {
        request.queue = "default";
        request.task = "legacy_c.mean";
        request.payload_json = R"({"values": [1, 3]})";
        request.options = &keyed;
    }
    requests[2].options = nullptr;
    requests[2].payload_json = R"({"values": [2, 4]})";
    int64_t ids[3] = {0, 0, 0};
    int created[3] = {-1, -1, -1};
    ASSERT_EQ(sh_client_enqueue_batch(c, requests, 3, ids, created), SH_CLIENT_OK) << sh_client_last_error();
    EXPECT_EQ(created[0], 1);
    EXPECT_EQ(created[1], 0) << "the same key: the first job's";
    EXPECT_EQ(ids[1], ids[0]);
    EXPECT_EQ(created[2], 1);
    sh_job_t* job = nullptr;
    ASSERT_EQ(sh_client_wait(c, ids[2], 60000, &job), SH_CLIENT_OK) << sh_client_last_error();
    EXPECT_STREQ(job->result, "3");
    sh_job_free(job);

    requests[1].queue = "nosuch";
    EXPECT_EQ(sh_client_enqueue_batch(c, requests, 3, ids, nullptr), SH_CLIENT_REFUSED);
    EXPECT_NE(std::string(sh_client_last_error()).find("job 1: unknown queue 'nosuch'"), std::string::npos) << sh_client_last_error();
    requests[1].queue = nullptr;
    EXPECT_EQ(sh_client_enqueue_batch(c, requests, 3, ids, nullptr), SH_CLIENT_INVALID_ARGUMENT);
    EXPECT_NE(std::string(sh_client_last_error()).find("job 1: "), std::string::npos) << sh_client_last_error();
    requests[1].queue = "default";
    requests[0].struct_size = 4;
    EXPECT_EQ(sh_client_enqueue_batch(c, requests, 3, ids, nullptr), SH_CLIENT_INVALID_ARGUMENT);
    requests[0].struct_size = static_cast<uint32_t>(sizeof(sh_enqueue_request_t));
    EXPECT_EQ(sh_client_enqueue_batch(c, requests, SH_CLIENT_MAX_BATCH + 1, ids, nullptr), SH_CLIENT_INVALID_ARGUMENT);
    EXPECT_EQ(sh_client_enqueue_batch(c, nullptr, 0, ids, nullptr), SH_CLIENT_OK);
    sh_client_close(c);
}

// ---- embedding a sandbox ------------------------------------------------------------------

TEST(EmbedSandbox, RunsAnAttemptOfAPluginFoundByName)
{
    {
        sandhost::embed::Sandbox sandbox;
        sandhost::embed::AttemptSettings settings;
        settings.plugin_dirs = {t::plugin_dir().string()};
        const auto ok = sandbox.run_attempt("legacy_c", "checksum", R"({"data": "Wikipedia"})", settings);
        ASSERT_TRUE(ok.succeeded()) << ok.json;
        EXPECT_EQ(ok.result, "300286872");
        EXPECT_TRUE(ok.pid.has_value());
        EXPECT_NE(ok.json.find(R"("outcome":"succeeded")"), std::string::npos) << ok.json;

        const auto crashed = sandbox.run_attempt("legacy_c", "parse", R"({"line": "speed"})", settings);
        EXPECT_EQ(crashed.outcome, "crashed") << crashed.json;
        EXPECT_EQ(crashed.signal_number, SIGSEGV);

        settings.limits.memory_bytes = 128ull << 20;
        const auto oom = sandbox.run_attempt(t::plugin("misbehave").string(), "out_of_memory", R"({"mib": 512})", settings);
        EXPECT_EQ(oom.outcome, "resource_limit") << oom.json;
        EXPECT_EQ(oom.limit, "memory");

        const auto missing = sandbox.run_attempt("nosuch", "x", "{}", settings);
        EXPECT_EQ(missing.outcome, "load_failed");

        settings.isolation = sandhost::embed::Isolation::fork;
        sandhost::embed::Cancel cancel;
        std::thread canceller([&] {
            std::this_thread::sleep_for(200ms);
            cancel.request();
        });
        const auto cancelled = sandbox.run_attempt(t::plugin("misbehave").string(), "hang", "{}", settings, &cancel);
        canceller.join();
        EXPECT_EQ(cancelled.outcome, "cancelled") << cancelled.json;
    }
    const auto leftovers = t::leftover_processes();
    EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
}

} // namespace
