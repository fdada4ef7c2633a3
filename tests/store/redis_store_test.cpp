// What only the Redis store has: a server that goes away and comes back, scripts the server
// forgot, passwords, sockets, databases and prefixes, its layout version, its persistence
// settings, the trimming of its event feed, and many clients at once. Each test runs its own
// redis-server.
#include "redis_server.h"
#include "store/redis_connection.h"
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <set>
#include <thread>

namespace sandhost::store {
namespace {

using namespace testing;
using model::JobState;
using model::OutcomeKind;
using sandhost::testing::RedisServer;
using ::testing::HasSubstr;
using ::testing::Not;

RedisOptions options_of(const RedisServer& server, const std::string& prefix = "t:")
{
    RedisOptions options;
    options.port = server.port();
    options.prefix = prefix;
    options.reply_timeout = std::chrono::seconds(2);
    return options;
}

TEST(RedisStore, AServerRestartIsAnErrorOfOneCallAndTheAppendOnlyFileKeepsEverything)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    // With everysec, a server whose background fsync is slow (a busy disk) holds its writes
    // back for up to 2 s while it still acknowledges them, and a kill then loses them
    // (docs/redis.md). This test is of what the file keeps, once written: every write is.
    ASSERT_EQ(server.command("CONFIG SET appendfsync always"), "+OK\r\n");
    auto store = open_redis_store(options_of(server));
    const model::JobId done = store->enqueue(new_job(), t(0));
    const Claim c = claim_one(*store, "q", t(1));
    ASSERT_EQ(store->finish(record_of(c, OutcomeKind::succeeded, t(2)), completed_with("kept"), t(2)), JobState::completed);
    const model::JobId waiting = store->enqueue(new_job(), t(3));

    server.kill();
    const std::string error = store_error_of([&] { store->get(done); });
    EXPECT_THAT(error, HasSubstr("redis 127.0.0.1:" + std::to_string(server.port()) + "/0: reading a job: "));
    EXPECT_THAT(store_error_of([&] { store->enqueue(new_job(), t(4)); }), HasSubstr("enqueueing a job"));

    server.start();
    // The next call connects again; the scripts are loaded again on the way.
    ASSERT_EQ(job_of(*store, done).result, "kept");
    EXPECT_EQ(store->attempts(done).size(), 1u);
    EXPECT_EQ(claim_one(*store, "q", t(5)).job.id, waiting);
    EXPECT_NE(store->enqueue(new_job(), t(6)), waiting);
}

TEST(RedisStore, ScriptsTheServerForgotAreLoadedAgain)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    auto store = open_redis_store(options_of(server));
    store->enqueue(new_job(), t(0));
    EXPECT_EQ(server.command("SCRIPT FLUSH"), "+OK\r\n");
    EXPECT_TRUE(store->claim(allow({"q"}), "host/1", ms(1000), t(1)));
    EXPECT_EQ(server.command("SCRIPT FLUSH"), "+OK\r\n");
    EXPECT_EQ(store->list(JobFilter{}).size(), 1u);
}

// Past maxmemory (with the default noeviction policy) a step is refused whole or runs whole:
// Redis refuses a script's first write past the limit and lets one that has written go on to
// its end, and every script checks what it refuses before it writes. A step stopped half way
// would leave a job in its hash but in no index.
TEST(RedisStore, PastMaxmemoryAStepIsRefusedWholeNeverHalfApplied)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    auto store = open_redis_store(options_of(server));
    store->enqueue(new_job(), t(0));
    auto used_memory = [&] {
        const std::string info = server.command("INFO memory");
        const auto at = info.find("used_memory:");
        return at == std::string::npos ? 0L : std::stol(info.substr(at + 12));
    };
    // How many job hashes there are, indexed or not ("*N" heads the reply).
    auto job_hashes = [&] { return std::stoul(server.command("KEYS t:job:*").substr(1)); };
    auto indexed = [&] { return store->queue_counts({}).at("q").by_state.at(JobState::waiting); };
    std::vector<model::NewJob> batch(1'000, new_job());
    for (auto& job : batch) job.payload = "{\"pad\": \"" + std::string(2048, 'x') + "\"}";
    // Room for more and more of the batch: each try is refused whole until one runs whole (its
    // jobs, stored while its request is still held, take it past the limit before it ends).
    const long base = used_memory();
    long limit = 0;
    bool ran = false;
    for (long room = 1 << 20; room <= 32 << 20 && !ran; room += 256 << 10) {
        limit = base + room;
        ASSERT_EQ(server.command("CONFIG SET maxmemory " + std::to_string(limit)), "+OK\r\n");
        try {
            store->enqueue_jobs(batch, t(1));
            ran = true;
        } catch (const StoreError& e) {
            ASSERT_THAT(e.what(), HasSubstr("OOM"));
        }
        // Read past the limit too: the scripts that only read write nothing, and run.
        ASSERT_EQ(job_hashes(), indexed()) << "with " << room << " bytes of room";
        ASSERT_EQ(indexed(), ran ? 1'001u : 1u) << "with " << room << " bytes of room";
    }
    ASSERT_TRUE(ran);
    EXPECT_GT(used_memory(), limit) << "it ended past the limit, and ran whole";
    ASSERT_EQ(server.command("CONFIG SET maxmemory 0"), "+OK\r\n");
    JobFilter all;
    all.limit = 0;
    EXPECT_EQ(store->list(all).size(), 1'001u);
    EXPECT_EQ(store->job_ids("q", JobState::waiting, std::nullopt).size(), 1'001u);
}

TEST(RedisStore, APasswordIsSentAndNeverShown)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer::Options secured;
    secured.password = "s3cret-pw";
    RedisServer server(secured);
    RedisOptions options = options_of(server);
    const std::string missing = store_error_of([&] { open_redis_store(options); });
    EXPECT_THAT(missing, HasSubstr("NOAUTH"));
    options.password = "wrong-pw";
    const std::string wrong = store_error_of([&] { open_redis_store(options); });
    EXPECT_THAT(wrong, HasSubstr("authentication refused"));
    EXPECT_THAT(wrong, Not(HasSubstr("wrong-pw")));
    options.password = "s3cret-pw";
    auto store = open_redis_store(options);
    EXPECT_GT(store->enqueue(new_job(), t(0)), 0);
    EXPECT_THAT(store->server(), Not(HasSubstr("s3cret")));
}

TEST(RedisStore, AUnixSocketAndADatabaseNumber)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    RedisOptions options;
    options.socket = server.socket();
    options.db = 3;
    auto store = open_redis_store(options);
    EXPECT_EQ(store->server(), "redis unix:" + server.socket().string() + "/3");
    store->enqueue(new_job(), t(0));
    EXPECT_EQ(server.command("DBSIZE"), ":0\r\n") << "nothing in database 0";
    EXPECT_NE(server.command("SELECT 3\r\nDBSIZE"), "+OK\r\n:0\r\n");
    EXPECT_EQ(job_of(*store, 1).state, JobState::waiting);
}

// A command longer than any buffer on the way goes out whole at once (TCP_NODELAY: no wait for
// the server's delayed acknowledgement between its pieces), and a long reply is read whole.
TEST(RedisStore, LongCommandsAndRepliesGoWholeOverTcpAndUnixSockets)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    const std::string value = [] {
        std::string v(1 << 20, 'x');
        for (std::size_t i = 0; i < v.size(); i += 97) v[i] = static_cast<char>('a' + i % 26);
        return v;
    }();
    RedisOptions unix_socket;
    unix_socket.socket = server.socket();
    for (const RedisOptions& options : {options_of(server), unix_socket}) {
        redis::Connection connection(options);
        EXPECT_EQ(connection.no_delay(), options.socket.empty());
        Poco::Redis::Array set;
        set << "SET" << "big" << value;
        EXPECT_EQ(redis::bytes(connection.command(set)), "OK");
        Poco::Redis::Array get;
        get << "GET" << "big";
        EXPECT_TRUE(redis::bytes(connection.command(get)) == value) << "the reply read whole";
    }
    // A batch of jobs with payloads of a few KiB: one script call of about 3 MiB.
    auto store = open_redis_store(options_of(server));
    std::vector<model::NewJob> jobs(k_max_enqueue_batch, new_job());
    for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i].payload = "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(3000, 'p') + "\"}";
    const auto results = store->enqueue_jobs(jobs, t(0));
    ASSERT_EQ(results.size(), jobs.size());
    EXPECT_EQ(job_of(*store, results.back().id).payload, jobs.back().payload);
}

TEST(RedisStore, PrefixesKeepDeploymentsApart)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    auto production = open_redis_store(options_of(server, "prod:"));
    auto staging = open_redis_store(options_of(server, "staging:"));
    const model::JobId id = production->enqueue(new_job(), t(0));
    production->set_paused("q", true);
    EXPECT_FALSE(staging->get(id));
    EXPECT_TRUE(staging->list(JobFilter{}).empty());
    EXPECT_TRUE(staging->paused_queues().empty());
    EXPECT_EQ(staging->enqueue(new_job(), t(0)), id) << "ids count per deployment";
    EXPECT_THAT(server.command("KEYS *"), Not(HasSubstr("\r\nsandhost:")));
}

TEST(RedisStore, KeysOfANewerLayoutAreRefused)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    open_redis_store(options_of(server))->enqueue(new_job(), t(0));
    EXPECT_EQ(server.command("HSET t:meta layout 99"), ":0\r\n");
    EXPECT_THAT(store_error_of([&] { open_redis_store(options_of(server)); }), HasSubstr("newer sandhost (layout 99"));
    EXPECT_NO_THROW(open_redis_store(options_of(server, "other:")));
}

// Layout 2 indexes finished jobs by when they finished (for retention); a layout 1 store gets
// that index built from its finished jobs when a host of layout 2 first opens it.
TEST(RedisStore, ALayoutOneStoreGetsItsFinishedJobsIndexedForRetention)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    std::vector<model::JobId> done;
    {
        auto store = open_redis_store(options_of(server));
        for (int i = 0; i < 3; ++i) {
            done.push_back(store->enqueue(new_job(), t(i)));
            const Claim c = claim_one(*store, "q", t(10 + i));
            ASSERT_EQ(store->finish(record_of(c, OutcomeKind::succeeded, t(20 + i)), completed_with("r"), t(20 + i)), JobState::completed);
        }
    }
    // As a layout 1 store left it: no index of finished jobs.
    EXPECT_EQ(server.command("DEL t:done:q:completed"), ":1\r\n");
    EXPECT_EQ(server.command("HSET t:meta layout 1"), ":0\r\n");
    auto store = open_redis_store(options_of(server));
    EXPECT_EQ(server.command("HGET t:meta layout"), "$1\r\n2\r\n");
    model::RetentionLimit limit;
    limit.count = 1;
    EXPECT_EQ(store->trim("q", JobState::completed, limit, t(100), 10), 2u);
    EXPECT_FALSE(store->get(done[0]));
    EXPECT_FALSE(store->get(done[1]));
    EXPECT_TRUE(store->get(done[2])) << "the one that finished last stays";
}

TEST(RedisStore, PersistenceSettingsAreRead)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer durable;
    const auto with_file = open_redis_store(options_of(durable))->persistence();
    EXPECT_TRUE(with_file.known);
    EXPECT_TRUE(with_file.append_only);
    EXPECT_EQ(with_file.appendfsync, "everysec");
    EXPECT_FALSE(with_file.snapshots);
    EXPECT_THAT(with_file.version, ::testing::MatchesRegex("[0-9]+\\.[0-9]+.*"));

    RedisServer::Options forgetful;
    forgetful.append_only = false;
    RedisServer volatile_server(forgetful);
    const auto without = open_redis_store(options_of(volatile_server))->persistence();
    EXPECT_TRUE(without.known);
    EXPECT_FALSE(without.append_only);
    EXPECT_FALSE(without.snapshots);
}

TEST(RedisStore, AServerThatStopsAnsweringIsAnErrorAfterTheReplyTimeout)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    RedisOptions options = options_of(server);
    options.reply_timeout = std::chrono::milliseconds(300);
    auto store = open_redis_store(options);
    const model::JobId id = store->enqueue(new_job(), t(0));
    ASSERT_EQ(::kill(server.pid(), SIGSTOP), 0);
    const auto before = std::chrono::steady_clock::now();
    EXPECT_THAT(store_error_of([&] { store->get(id); }), HasSubstr("reading a job"));
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
    ASSERT_EQ(::kill(server.pid(), SIGCONT), 0);
    EXPECT_EQ(job_of(*store, id).state, JobState::waiting);
}

TEST(RedisStore, TheEventFeedKeepsTheNewestTenThousandAndShowsTheGap)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    auto store = open_redis_store(options_of(server));
    constexpr int k_events = 12'000;
    for (int i = 0; i < k_events / 2; ++i) {
        store->set_paused("q", true);
        store->set_paused("q", false);
    }
    const auto oldest = store->events_after(0, 1);
    ASSERT_EQ(oldest.size(), 1u);
    EXPECT_GT(oldest[0].id, 1) << "the oldest were trimmed: a reader from 0 sees the gap";
    EXPECT_LE(oldest[0].id, k_events - 10'000 + 1) << "at least 10,000 are kept";
    const auto newest = store->events_after(k_events - 10'000, 100'000);
    ASSERT_EQ(newest.size(), 10'000u);
    EXPECT_EQ(newest.front().id, k_events - 10'000 + 1);
    EXPECT_EQ(newest.back().id, k_events);
    EXPECT_EQ(newest.back().type, "queue.resumed");
}

TEST(RedisStore, ManyClientsClaimEveryJobExactlyOnce)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    auto store = open_redis_store(options_of(server));
    constexpr int k_jobs = 400;
    for (int i = 0; i < k_jobs; ++i) store->enqueue(new_job("q", i % 3), t(0));
    std::vector<std::vector<model::JobId>> claimed(4);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < claimed.size(); ++i) {
        threads.emplace_back([&, i] {
            auto client = open_redis_store(options_of(server));
            const std::string holder = "host-" + std::to_string(i) + "/1";
            while (auto c = client->claim(allow({"q"}), holder, ms(60'000), t(1))) {
                claimed[i].push_back(c->job.id);
                client->finish(record_of(*c, OutcomeKind::succeeded, t(2)), completed_with("ok"), t(2));
            }
        });
    }
    for (auto& thread : threads) thread.join();
    std::set<model::JobId> all;
    std::size_t total = 0;
    for (const auto& ids : claimed) {
        total += ids.size();
        all.insert(ids.begin(), ids.end());
        EXPECT_FALSE(ids.empty()) << "every client got some";
    }
    EXPECT_EQ(total, static_cast<std::size_t>(k_jobs));
    EXPECT_EQ(all.size(), static_cast<std::size_t>(k_jobs));
    EXPECT_EQ(store->queue_counts({})["q"].by_state[JobState::completed], static_cast<std::uint64_t>(k_jobs));
}

TEST(RedisStore, AFinishSentAgainAfterItsReplyWasLostIsNotRefused)
{
    SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
    RedisServer server;
    auto store = open_redis_store(options_of(server));
    store->enqueue(new_job(), t(0));
    const Claim c = claim_one(*store, "q", t(1));
    const model::AttemptRecord record = record_of(c, OutcomeKind::succeeded, t(2));
    ASSERT_EQ(store->finish(record, completed_with("ok"), t(2)), JobState::completed);
    EXPECT_EQ(store->finish(record, completed_with("ok"), t(3)), JobState::completed) << "the same finish again";
    EXPECT_EQ(store->attempts(c.job.id).size(), 1u);
    model::AttemptRecord other = record;
    other.outcome.kind = OutcomeKind::failed;
    EXPECT_FALSE(store->finish(other, to(JobState::waiting), t(3))) << "another result on that lease is stale";
}

} // namespace
} // namespace sandhost::store
