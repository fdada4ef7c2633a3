// The enqueue policy on its own: configuration and published catalogs in, a job or a refusal out.
#include "config/load.h"
#include "scheduler/enqueue_policy.h"
#include "store/sqlite_store.h"
#include "test_support.h"

#include <gtest/gtest.h>

namespace sandhost::scheduler {
namespace {

using Kind = EnqueueError::Kind;

std::shared_ptr<const config::Settings> settings()
{
    static const auto loaded = config::load_config_text("queues:\n"
                                                        "  legacy: {tasks: [\"acme.*\", hello.echo], ttl: 1h}\n"
                                                        "  other: {tasks: [hello.word_count]}\n",
                                                        "/tmp/policy.yaml");
    EXPECT_TRUE(loaded.ok());
    return loaded.settings;
}

model::HostRecord host_with(std::vector<model::PluginInfo> plugins)
{
    model::HostRecord host;
    host.name = "a";
    host.catalog.plugins = std::move(plugins);
    host.catalog_at = model::TimePoint(std::chrono::seconds(1));
    return host;
}

model::PluginInfo plugin(const std::string& name, std::vector<std::string> tasks)
{
    model::PluginInfo info;
    info.name = name;
    for (auto& t : tasks) info.tasks.push_back({t, ""});
    return info;
}

EnqueueRequest request(const std::string& queue, const std::string& task, const std::string& payload = "{}")
{
    EnqueueRequest r;
    r.queue = queue;
    r.task = task;
    r.payload = payload;
    return r;
}

Kind refusal(const std::vector<model::HostRecord>& hosts, const EnqueueRequest& r, std::string* message = nullptr)
{
    try {
        check_enqueue(*settings(), hosts, r);
    } catch (const EnqueueError& e) {
        if (message) *message = e.what();
        return e.kind();
    }
    ADD_FAILURE() << "accepted: " << r.queue << " " << r.task << " " << r.payload;
    return Kind::bad_task;
}

const std::vector<model::HostRecord> k_published = {host_with({plugin("acme", {"parse", "checksum"}), plugin("hello", {"echo", "word_count"})})};

TEST(EnqueuePolicy, AcceptsAnAllowedPublishedTaskAndFillsInTheQueuesTtl)
{
    auto r = request("legacy", "acme.parse", R"({"line":"a=b"})");
    r.priority = 3;
    const auto checked = check_enqueue(*settings(), k_published, r);
    EXPECT_EQ(checked.job.queue, "legacy");
    EXPECT_EQ(checked.job.task, "acme.parse");
    EXPECT_EQ(checked.job.priority, 3);
    EXPECT_EQ(checked.job.ttl, std::chrono::hours(1));
    EXPECT_TRUE(checked.notes.empty());
}

TEST(EnqueuePolicy, RefusesAnUnknownTaskBehindAWildcardWithADidYouMean)
{
    std::string message;
    EXPECT_EQ(refusal(k_published, request("legacy", "acme.prase"), &message), Kind::unknown_task);
    EXPECT_NE(message.find("plugin acme has no task 'prase' (did you mean 'parse'?)"), std::string::npos) << message;
    EXPECT_NE(message.find("checksum, parse"), std::string::npos) << message;
}

TEST(EnqueuePolicy, RefusesAPluginNoHostHas)
{
    std::string message;
    const std::vector<model::HostRecord> hosts = {host_with({plugin("hello", {"echo"})})};
    EXPECT_EQ(refusal(hosts, request("legacy", "acme.parse"), &message), Kind::unknown_plugin);
    EXPECT_NE(message.find("no host on this store has a plugin named 'acme'"), std::string::npos) << message;
}

TEST(EnqueuePolicy, AcceptsWithANoteWhenNoHostPublishedACatalog)
{
    const auto checked = check_enqueue(*settings(), {}, request("legacy", "acme.prase"));
    ASSERT_EQ(checked.notes.size(), 1u);
    EXPECT_NE(checked.notes[0].find("was not checked"), std::string::npos);
}

TEST(EnqueuePolicy, AnyPublishedCatalogCountsAndABrokenPluginDoesNot)
{
    auto broken = plugin("acme", {"parse"});
    broken.error = "not a library";
    const std::vector<model::HostRecord> hosts = {host_with({broken}), host_with({plugin("acme", {"parse"})})};
    EXPECT_NO_THROW(check_enqueue(*settings(), hosts, request("legacy", "acme.parse")));
    EXPECT_EQ(refusal({host_with({broken})}, request("legacy", "acme.parse")), Kind::unknown_plugin);
}

TEST(EnqueuePolicy, RefusesWhatTheQueueDoesNotAllow)
{
    std::string message;
    EXPECT_EQ(refusal(k_published, request("other", "hello.echo"), &message), Kind::task_not_allowed);
    EXPECT_EQ(message, "queue 'other' may not run hello.echo (it runs hello.word_count)");
    EXPECT_EQ(refusal(k_published, request("legacy", "hello.word_count")), Kind::task_not_allowed);
}

TEST(EnqueuePolicy, RefusesAnUnknownQueueAndABadTaskName)
{
    std::string message;
    EXPECT_EQ(refusal(k_published, request("legcy", "acme.parse"), &message), Kind::unknown_queue);
    EXPECT_EQ(message, "unknown queue 'legcy' (did you mean 'legacy'?); queues: legacy, other");
    EXPECT_EQ(refusal(k_published, request("legacy", "acme")), Kind::bad_task);
    EXPECT_EQ(refusal(k_published, request("legacy", "acme.a.b")), Kind::bad_task);
}

TEST(EnqueuePolicy, APayloadOverTheHostsCapIsRefusedBeforeItIsParsed)
{
    auto capped = std::make_shared<config::Settings>(*settings());
    capped->host.max_payload = 64;
    const std::string at_cap = "{\"text\":\"" + std::string(64 - 11, 'x') + "\"}";
    ASSERT_EQ(at_cap.size(), 64u);
    EXPECT_NO_THROW(check_enqueue(*capped, k_published, request("legacy", "acme.parse", at_cap)));
    try {
        check_enqueue(*capped, k_published, request("legacy", "acme.parse", at_cap + " "));
        ADD_FAILURE() << "accepted a payload over the cap";
    } catch (const EnqueueError& e) {
        EXPECT_EQ(e.kind(), Kind::payload_too_large);
        EXPECT_STREQ(e.what(), "the payload is 65 bytes, more than enqueue accepts (host.max_payload: 64B)");
    }
    EXPECT_EQ(settings()->host.max_payload, 16u << 20) << "the default cap";
}

TEST(EnqueuePolicy, APayloadMustBeAJsonObject)
{
    std::string message;
    EXPECT_EQ(refusal(k_published, request("legacy", "acme.parse", "[1,2]"), &message), Kind::bad_payload);
    EXPECT_EQ(message, "the payload must be a JSON object, not an array");
    EXPECT_EQ(refusal(k_published, request("legacy", "acme.parse", "\"text\"")), Kind::bad_payload);
    EXPECT_EQ(refusal(k_published, request("legacy", "acme.parse", "3")), Kind::bad_payload);
    EXPECT_EQ(refusal(k_published, request("legacy", "acme.parse", "null")), Kind::bad_payload);
    EXPECT_EQ(refusal(k_published, request("legacy", "acme.parse", "{nope")), Kind::bad_payload);
    auto dependent = request("legacy", "acme.parse", "[1]");
    dependent.depends_on = {4};
    EXPECT_EQ(refusal(k_published, dependent, &message), Kind::bad_payload);
    EXPECT_NE(message.find("_dependencies"), std::string::npos) << message;
}

TEST(EnqueuePolicy, AKeyIsCarriedToTheJobWhenItIsUsable)
{
    EnqueueRequest keyed = request("legacy", "acme.parse");
    keyed.key = "order-17 \xC3\xA9";
    EXPECT_EQ(check_enqueue(*settings(), k_published, keyed).job.key, keyed.key);
    EXPECT_FALSE(check_enqueue(*settings(), k_published, request("legacy", "acme.parse")).job.key);

    std::string message;
    for (const std::string& bad : {std::string(), std::string(k_max_key_bytes + 1, 'k'), std::string("a\nb"), std::string("\xFF")}) {
        keyed.key = bad;
        EXPECT_EQ(refusal(k_published, keyed, &message), Kind::bad_key) << bad;
    }
    keyed.key = std::string(k_max_key_bytes, 'k');
    EXPECT_NO_THROW(check_enqueue(*settings(), k_published, keyed));
}

TEST(EnqueuePolicy, ABadPayloadSaysWhere)
{
    std::string message;
    EXPECT_EQ(refusal(k_published, request("legacy", "acme.parse", "{\"a\": [1, 2}"), &message), Kind::bad_payload);
    EXPECT_EQ(message, "the payload is not valid JSON: line 1, column 12: expected ',' or ']' after an array element, got '}'");
}

// ---- without a configuration: the queues the hosts published -------------------------------

model::HostRecord serving(std::vector<model::ServedQueue> queues, int published_at_s)
{
    auto host = host_with({plugin("acme", {"parse", "checksum"}), plugin("hello", {"echo", "word_count"})});
    host.name = "host-" + std::to_string(published_at_s);
    host.queues = std::move(queues);
    host.catalog_at = model::TimePoint(std::chrono::seconds(published_at_s));
    return host;
}

TEST(EnqueuePolicyPublished, ChecksAgainstTheQueuesHostsServeAndTheirLatestTtl)
{
    const std::vector<model::HostRecord> hosts = {
        serving({{"legacy", {"acme.*"}, std::chrono::minutes(5)}}, 2),
        serving({{"legacy", {"hello.echo"}, std::chrono::hours(1)}, {"other", {"hello.word_count"}}}, 1),
    };
    auto r = request("legacy", "hello.echo");
    r.key = "k-1";
    const auto checked = check_enqueue(hosts, r);
    EXPECT_EQ(checked.job.queue, "legacy");
    EXPECT_EQ(checked.job.ttl, std::chrono::minutes(5)) << "the ttl most recently published";
    EXPECT_EQ(checked.job.key, "k-1");
    EXPECT_NO_THROW(check_enqueue(hosts, request("legacy", "acme.parse"))) << "any serving host's tasks count";

    try {
        check_enqueue(hosts, request("other", "acme.parse"));
        ADD_FAILURE() << "accepted a task the queue does not run";
    } catch (const EnqueueError& e) {
        EXPECT_EQ(e.kind(), Kind::task_not_allowed);
    }
    try {
        check_enqueue(hosts, request("legacyy", "acme.parse"));
        ADD_FAILURE() << "accepted an unknown queue";
    } catch (const EnqueueError& e) {
        EXPECT_EQ(e.kind(), Kind::unknown_queue);
        EXPECT_NE(std::string(e.what()).find("did you mean 'legacy'"), std::string::npos) << e.what();
    }
    try {
        check_enqueue(hosts, request("legacy", "acme.prase"));
        ADD_FAILURE() << "accepted an unknown task";
    } catch (const EnqueueError& e) {
        EXPECT_EQ(e.kind(), Kind::unknown_task);
    }
}

TEST(EnqueuePolicyPublished, NothingPublishedMeansNothingCanBeChecked)
{
    try {
        check_enqueue({}, request("legacy", "acme.parse"));
        ADD_FAILURE() << "accepted without any published queue";
    } catch (const EnqueueError& e) {
        EXPECT_EQ(e.kind(), Kind::unknown_queue);
        EXPECT_NE(std::string(e.what()).find("no host has published the queues it serves"), std::string::npos) << e.what();
    }
}

} // namespace
} // namespace sandhost::scheduler

namespace sandhost::scheduler {
namespace {

// enqueue_batch checks every request before it stores any, then stores them in one step.
class EnqueueBatch : public ::testing::Test {
protected:
    sandhost::testing::TempDir m_dir;
    std::unique_ptr<store::Store> m_store = store::open_sqlite_store(m_dir.path() / "jobs.db");
    std::uint64_t waiting(const std::string& queue)
    {
        return m_store->queue_counts({queue}).at(queue).by_state.at(model::JobState::waiting);
    }
};

TEST_F(EnqueueBatch, StoresEveryCheckedJobInOrderAndSaysEachNoteOnce)
{
    std::vector<EnqueueRequest> requests{request("legacy", "acme.parse", R"({"n":0})"), request("other", "hello.word_count", R"({"n":1})"),
                                         request("legacy", "acme.parse", R"({"n":2})")};
    requests[2].key = "k";
    const auto enqueued = enqueue_batch(*m_store, *settings(), requests, model::TimePoint(std::chrono::seconds(5)));
    ASSERT_EQ(enqueued.size(), 3u);
    for (std::size_t i = 0; i < enqueued.size(); ++i) {
        const auto job = m_store->get(enqueued[i].id);
        ASSERT_TRUE(job) << i;
        EXPECT_EQ(job->queue, requests[i].queue);
        EXPECT_EQ(job->payload, requests[i].payload);
        EXPECT_TRUE(enqueued[i].created);
    }
    EXPECT_EQ(m_store->get(enqueued[0].id)->expires_at, model::TimePoint(std::chrono::seconds(5) + std::chrono::hours(1))) << "the queue's ttl, as for one job";
    EXPECT_EQ(m_store->get(enqueued[2].id)->key, "k");
    // No host published a catalog to this store: each task is taken with a note, said once.
    EXPECT_EQ(enqueued[0].notes.size(), 1u);
    EXPECT_EQ(enqueued[1].notes.size(), 1u) << "another task";
    EXPECT_TRUE(enqueued[2].notes.empty()) << "the same task as the first job";
    EXPECT_TRUE(enqueue_batch(*m_store, *settings(), {}, model::TimePoint(std::chrono::seconds(6))).empty());
}

TEST_F(EnqueueBatch, OneRefusedRequestStoresNoneAndNamesItsPlace)
{
    std::vector<EnqueueRequest> requests{request("legacy", "acme.parse"), request("legacy", "acme.parse"), request("legacy", "hello.word_count")};
    try {
        enqueue_batch(*m_store, *settings(), requests, model::TimePoint(std::chrono::seconds(5)));
        FAIL() << "a task the queue does not allow was taken";
    } catch (const EnqueueError& e) {
        EXPECT_EQ(e.kind(), Kind::task_not_allowed);
        EXPECT_EQ(std::string(e.what()).rfind("job 2: ", 0), 0u) << e.what();
        EXPECT_NE(std::string(e.what()).find("nothing was enqueued"), std::string::npos) << e.what();
    }
    requests[2] = request("legacy", "acme.parse");
    requests[1].depends_on = {424242};
    try {
        enqueue_batch(*m_store, *settings(), requests, model::TimePoint(std::chrono::seconds(5)));
        FAIL() << "an unknown dependency was taken";
    } catch (const EnqueueError& e) {
        EXPECT_EQ(e.kind(), Kind::bad_dependency);
        EXPECT_NE(std::string(e.what()).find("job 1: unknown dependency: no job 424242"), std::string::npos) << e.what();
    }
    EXPECT_EQ(waiting("legacy"), 0u);
    requests.assign(store::k_max_enqueue_batch + 1, request("legacy", "acme.parse"));
    try {
        enqueue_batch(*m_store, *settings(), requests, model::TimePoint(std::chrono::seconds(5)));
        FAIL() << "a batch over the limit was taken";
    } catch (const EnqueueError& e) {
        EXPECT_EQ(e.kind(), Kind::too_many_jobs);
    }
    EXPECT_EQ(waiting("legacy"), 0u);
}

} // namespace
} // namespace sandhost::scheduler
