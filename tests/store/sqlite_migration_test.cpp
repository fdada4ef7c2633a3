// Files of an older schema migrate on open and keep everything in them: a version 1 store
// written by an older sandhost (data/store_v1.sql) opens as the current version with every job,
// attempt, dependency, pause, schedule and host registration, a version 2 store
// (data/store_v2.sql) with its host records too, and then each works as a new store does.
#include "store/sqlite_schema.h"
#include "store/sqlite_store.h"
#include "store_test_support.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace sandhost::store {
namespace {

using namespace testing;
using model::JobState;
using model::OutcomeKind;

// Every schema object of the file, one line each, by name.
std::string schema_of(const std::filesystem::path& file)
{
    RawDb raw(file);
    return raw.text("SELECT group_concat(type || ' ' || name || ': ' || coalesce(sql, ''), char(10)) "
                    "FROM (SELECT * FROM sqlite_master ORDER BY name)");
}

// A store file written by an older sandhost, from its dump in data/.
class OldStoreFile : public ::testing::Test {
protected:
    void load(const std::string& dump, int version, std::int64_t jobs)
    {
        RawDb raw(file());
        ASSERT_EQ(raw.exec(read_bytes(std::filesystem::path(SANDHOST_STORE_TEST_DATA) / dump)), SQLITE_OK);
        ASSERT_EQ(raw.integer("PRAGMA user_version"), version);
        ASSERT_EQ(raw.integer("SELECT count(*) FROM jobs"), jobs);
    }

    std::filesystem::path file() const { return m_dir / "store.db"; }

    TempDir m_dir;
};

class SqliteMigrationTest : public OldStoreFile {
protected:
    void SetUp() override { load("store_v1.sql", 1, 8); }
};

TEST_F(SqliteMigrationTest, AVersion1FileBecomesTheSchemaOfANewFile)
{
    open_sqlite_store(file());
    RawDb raw(file());
    EXPECT_EQ(raw.integer("PRAGMA user_version"), k_sqlite_schema_version);
    EXPECT_EQ(raw.integer("PRAGMA application_id"), k_sqlite_application_id);
    EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_master WHERE name = 'jobs_delayed'"), 0);
    open_sqlite_store(m_dir / "new.db");
    EXPECT_EQ(schema_of(file()), schema_of(m_dir / "new.db"));
    // Opening it again migrates nothing.
    open_sqlite_store(file())->get(1);
    EXPECT_EQ(schema_of(file()), schema_of(m_dir / "new.db"));
}

TEST_F(SqliteMigrationTest, EveryJobAttemptAndDependencyIsKept)
{
    auto store = open_sqlite_store(file());
    JobFilter everything;
    everything.limit = 0;
    std::vector<std::pair<model::JobId, JobState>> states;
    for (const auto& job : store->list(everything)) states.emplace_back(job.id, job.state);
    EXPECT_EQ(states, (std::vector<std::pair<model::JobId, JobState>>{
                          {9, JobState::dead},
                          {8, JobState::waiting},
                          {7, JobState::cancelled},
                          {6, JobState::active},
                          {5, JobState::blocked},
                          {4, JobState::delayed},
                          {3, JobState::waiting},
                          {1, JobState::completed}}));

    const model::Job done = *store->get(1);
    EXPECT_EQ(done.task, "hello.greet");
    EXPECT_EQ(done.priority, 3);
    EXPECT_EQ(done.payload, "{\"n\": 1}");
    EXPECT_EQ(done.result, "{\"greeting\": \"hi\"}");
    EXPECT_EQ(done.updated_at, t(20));
    const auto attempts = store->attempts(1);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].attempt_id, 2);
    EXPECT_EQ(attempts[0].host, "host-a/m:1:x");
    EXPECT_EQ(attempts[0].outcome.kind, OutcomeKind::succeeded);
    EXPECT_EQ(attempts[0].outcome.stdout_tail, "said hi");
    EXPECT_EQ(attempts[0].outcome.result, "{\"greeting\": \"hi\"}") << "kept once, in the job";
    EXPECT_EQ(attempts[0].outcome.ended_at, t(20));

    const model::Job retried = *store->get(3);
    EXPECT_EQ(retried.error, "checksum mismatch");
    EXPECT_EQ(retried.lost, 1u);
    EXPECT_EQ(retried.max_attempts, 5u);
    EXPECT_EQ(retried.depends_on, std::vector<model::JobId>{1});
    EXPECT_EQ(store->attempts(3).at(0).outcome.kind, OutcomeKind::crashed);

    const model::Job delayed = *store->get(4);
    EXPECT_EQ(delayed.priority, -2);
    EXPECT_EQ(delayed.run_at, t(600'040));
    EXPECT_EQ(delayed.expires_at, t(3'600'040));
    EXPECT_EQ(delayed.timeout, ms(5000));
    EXPECT_EQ(store->get(5)->depends_on, (std::vector<model::JobId>{3, 1}));

    const model::Job active = *store->get(6);
    ASSERT_TRUE(active.lease);
    EXPECT_EQ(active.lease->holder, "host-a/m:1:x");
    EXPECT_EQ(active.lease->attempt_id, 4);
    EXPECT_EQ(active.lease->expires_at, t(30'043));
    ASSERT_TRUE(active.progress);
    EXPECT_EQ(active.progress->message, "almost half");
    EXPECT_EQ(store->get(8)->schedule, "nightly");
    EXPECT_EQ(store->get(9)->error, "expired: not started within its ttl");
    EXPECT_FALSE(store->get(2)) << "purged before the migration";

    EXPECT_EQ(store->paused_queues(), std::vector<std::string>{"slow"});
    EXPECT_EQ(store->schedule_last_fire("nightly"), t(50));
}

TEST_F(SqliteMigrationTest, HostRegistrationsBecomeRecordsOfRunningHosts)
{
    auto store = open_sqlite_store(file());
    EXPECT_EQ(store->host_registration("host-a"), std::make_pair(std::string("host-a/m:1:x"), t(46)));
    const auto hosts = store->hosts();
    ASSERT_EQ(hosts.size(), 2u);
    EXPECT_EQ(hosts[0].name, "host-a");
    EXPECT_EQ(hosts[0].started_at, t(46)) << "as far as anyone knows";
    EXPECT_EQ(hosts[0].heartbeat_at, t(46));
    EXPECT_FALSE(hosts[0].stopped_at);
    EXPECT_EQ(hosts[0].version, "");
    EXPECT_TRUE(hosts[0].queues.empty());
    EXPECT_TRUE(hosts[0].catalog.plugins.empty());
    EXPECT_EQ(hosts[0].status, model::HostStatus{});
    EXPECT_EQ(hosts[1].name, "host-b");
    EXPECT_EQ(hosts[1].holder, "host-b/m:2:y");

    // The instance registered under version 1 still holds its name.
    EXPECT_FALSE(store->register_host("host-a", "host-a/m:3:z", t(50), ms(30'000)));
    EXPECT_TRUE(store->heartbeat("host-a", "host-a/m:1:x", {}, t(51)));
    EXPECT_TRUE(store->publish_host("host-a", "host-a/m:1:x", "0.1.0", {{"default", {"hello.*"}}}, {}, t(52)));
    store->unregister_host("host-a", "host-a/m:1:x", t(53));
    EXPECT_EQ(store->hosts().at(0).stopped_at, t(53));
}

TEST_F(SqliteMigrationTest, TheMigratedStoreWorksOnWhereVersion1LeftOff)
{
    auto store = open_sqlite_store(file());
    // Ids go on from version 1's counters: purged job 2 and attempt 1 never come back.
    EXPECT_EQ(store->enqueue(new_job("fresh"), t(100)), 10);

    // The running attempt finishes under its version 1 lease.
    const model::Job active = *store->get(6);
    model::AttemptRecord running;
    running.job_id = 6;
    running.attempt_id = active.lease->attempt_id;
    running.number = 1;
    running.outcome.kind = OutcomeKind::succeeded;
    running.outcome.ended_at = t(101);
    EXPECT_EQ(store->finish(running, completed_with("slept"), t(101)), JobState::completed);

    // Job 3 comes first in its queue, and completing it unblocks job 5.
    auto claimed = store->claim(allow({"default"}), "host-a/m:1:x", ms(10'000), t(102));
    ASSERT_TRUE(claimed);
    EXPECT_EQ(claimed->job.id, 3);
    EXPECT_EQ(claimed->number, 2u);
    EXPECT_GT(claimed->attempt_id, 4);
    EXPECT_EQ(store->finish(record_of(*claimed, OutcomeKind::succeeded, t(103)), completed_with("ok"), t(103)),
              JobState::completed);
    EXPECT_EQ(store->get(5)->state, JobState::waiting);
    EXPECT_EQ(store->results({1, 3}), (std::map<model::JobId, std::string>{{1, "{\"greeting\": \"hi\"}"}, {3, "ok"}}));

    // The paused queue stays paused; its delayed job runs once resumed and due.
    EXPECT_FALSE(store->claim(allow({"slow"}), "host-a/m:1:x", ms(10'000), t(600'040)));
    store->set_paused("slow", false);
    claimed = store->claim(allow({"slow"}), "host-a/m:1:x", ms(10'000), t(600'040));
    ASSERT_TRUE(claimed);
    EXPECT_EQ(claimed->job.id, 4);
}

class SqliteMigrationFrom2Test : public OldStoreFile {
protected:
    void SetUp() override { load("store_v2.sql", 2, 8); }
};

TEST_F(SqliteMigrationFrom2Test, AVersion2FileBecomesTheSchemaOfANewFile)
{
    open_sqlite_store(file());
    RawDb raw(file());
    EXPECT_EQ(raw.integer("PRAGMA user_version"), k_sqlite_schema_version);
    EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
    open_sqlite_store(m_dir / "new.db");
    EXPECT_EQ(schema_of(file()), schema_of(m_dir / "new.db"));
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs WHERE idempotency_key IS NOT NULL"), 0);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM events"), 0) << "the past is not made up";
}

TEST_F(SqliteMigrationFrom2Test, EveryJobAttemptAndHostRecordIsKept)
{
    auto store = open_sqlite_store(file());
    JobFilter everything;
    everything.limit = 0;
    std::vector<std::pair<model::JobId, JobState>> states;
    for (const auto& job : store->list(everything)) {
        states.emplace_back(job.id, job.state);
        EXPECT_FALSE(job.key) << job.id;
    }
    EXPECT_EQ(states, (std::vector<std::pair<model::JobId, JobState>>{
                          {8, JobState::waiting},
                          {7, JobState::cancelled},
                          {6, JobState::active},
                          {5, JobState::delayed},
                          {4, JobState::blocked},
                          {3, JobState::delayed},
                          {2, JobState::dead},
                          {1, JobState::completed}}));
    const model::Job done = *store->get(1);
    EXPECT_EQ(done.payload, "{\"name\": \"v2\"}");
    EXPECT_EQ(done.result, "{\"greeting\": \"hello v2\"}");
    EXPECT_EQ(done.priority, 2);
    const auto attempts = store->attempts(1);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].outcome.stdout_tail, "out 1");
    EXPECT_EQ(attempts[0].outcome.result, "{\"greeting\": \"hello v2\"}");
    EXPECT_EQ(store->attempts(2).at(0).outcome.error, "it failed");
    EXPECT_EQ(store->attempts(3).at(0).outcome.signal_number, 11);
    EXPECT_EQ(store->get(3)->lost, 1u);
    EXPECT_EQ(store->get(4)->depends_on, std::vector<model::JobId>{3});
    EXPECT_EQ(store->get(5)->expires_at, t(18 + 3'600'000));
    ASSERT_TRUE(store->get(6)->progress);
    EXPECT_EQ(store->get(6)->progress->message, "forty");
    EXPECT_EQ(store->get(8)->schedule, "hourly");
    EXPECT_EQ(store->paused_queues(), std::vector<std::string>{"slow"});

    const auto hosts = store->hosts();
    ASSERT_EQ(hosts.size(), 2u);
    EXPECT_EQ(hosts[0].name, "host-a");
    EXPECT_EQ(hosts[0].version, "0.1.0");
    ASSERT_EQ(hosts[0].catalog.plugins.size(), 1u);
    EXPECT_EQ(hosts[0].catalog.plugins[0].tasks.at(0).name, "greet");
    EXPECT_EQ(hosts[0].queues.at(1).name, "slow");
    ASSERT_EQ(hosts[0].status.running.size(), 1u);
    EXPECT_EQ(hosts[0].status.running[0].job, 6);
    EXPECT_EQ(hosts[1].stopped_at, t(27));
}

TEST_F(SqliteMigrationFrom2Test, KeysAndEventsWorkOnAMigratedStore)
{
    auto store = open_sqlite_store(file());
    model::NewJob keyed = new_job("default");
    keyed.key = "k";
    const EnqueueResult first = store->enqueue_job(keyed, t(100));
    EXPECT_EQ(first.id, 9) << "ids go on from version 2's counters";
    EXPECT_FALSE(store->enqueue_job(keyed, t(101)).created);

    // The attempt running under version 2 ends, and its end is the second event.
    const model::Job active = *store->get(6);
    ASSERT_TRUE(active.lease);
    model::AttemptRecord running;
    running.job_id = 6;
    running.attempt_id = active.lease->attempt_id;
    running.number = active.attempts;
    running.outcome.kind = OutcomeKind::succeeded;
    EXPECT_EQ(store->finish(running, completed_with("{}"), t(102)), JobState::completed);
    const auto events = store->events_after(0, 0);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].id, 1);
    EXPECT_EQ(events[0].type, "job.enqueued");
    EXPECT_EQ(events[1].type, "job.finished");
    EXPECT_EQ(events[1].job, 6);
    EXPECT_EQ(events[1].host, "host-a/m:7:v2");
    EXPECT_EQ(events[1].attempt, 1u);
}

} // namespace
} // namespace sandhost::store

namespace sandhost::store {
namespace {

using namespace testing;

// Version 5 writes the partial indexes' conditions as comparisons. A version 4 file (made here
// from a new file by putting back version 4's indexes) gets them, keeps its jobs and keys, and
// every condition a statement names lets SQLite use its index.
TEST(SqliteMigrationFrom4, ThePartialIndexesTakeConditionsWithoutInLists)
{
    TempDir dir;
    const auto file = dir.path() / "store.db";
    {
        auto store = open_sqlite_store(file);
        model::NewJob keyed = new_job();
        keyed.key = "k";
        keyed.ttl = std::chrono::hours(1);
        store->enqueue(keyed, t(0));
        const Claim done = claim_one(*store, "q", t(1));
        ASSERT_EQ(store->finish(record_of(done, model::OutcomeKind::succeeded, t(2)), completed_with("r"), t(2)), model::JobState::completed);
        store->enqueue(keyed, t(3));
    }
    {
        RawDb raw(file);
        for (const char* sql : {"DROP INDEX jobs_expiring", "DROP INDEX jobs_by_key", "DROP INDEX jobs_finished",
                                "CREATE INDEX jobs_expiring ON jobs (expires_at) WHERE expires_at IS NOT NULL AND state IN ('waiting', 'delayed', 'blocked')",
                                "CREATE UNIQUE INDEX jobs_by_key ON jobs (queue, idempotency_key) WHERE idempotency_key IS NOT NULL AND state NOT IN ('completed', 'dead', 'cancelled')",
                                "CREATE INDEX jobs_finished ON jobs (queue, state, updated_at, id) WHERE state IN ('completed', 'dead', 'cancelled')",
                                "PRAGMA user_version = 4"}) {
            ASSERT_EQ(raw.exec(sql), SQLITE_OK) << sql;
        }
        ASSERT_EQ(raw.integer("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql LIKE '%IN (%'"), 3);
    }
    auto store = open_sqlite_store(file);
    RawDb raw(file);
    EXPECT_EQ(raw.integer("PRAGMA user_version"), k_sqlite_schema_version);
    EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql LIKE '%IN (%'"), 0);
    open_sqlite_store(dir.path() / "new.db");
    EXPECT_EQ(schema_of(file), schema_of(dir.path() / "new.db"));
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs"), 2);

    // The unfinished job still holds its key; the index still refuses a second holder.
    model::NewJob keyed = new_job();
    keyed.key = "k";
    const auto again = store->enqueue_job(keyed, t(4));
    EXPECT_FALSE(again.created);
    EXPECT_EQ(again.id, 2);
    EXPECT_NE(raw.exec("UPDATE jobs SET state = 'waiting' WHERE id = 1"), SQLITE_OK) << "two unfinished jobs with one key";

    // What SQLite plans for `sql`: the details of EXPLAIN QUERY PLAN, joined.
    const auto plan = [&](const std::string& sql) {
        sqlite3* db = nullptr;
        EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
        sqlite3_stmt* statement = nullptr;
        std::string details;
        if (sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &statement, nullptr) == SQLITE_OK) {
            while (sqlite3_step(statement) == SQLITE_ROW) details += reinterpret_cast<const char*>(sqlite3_column_text(statement, 3)) + std::string("; ");
        } else {
            ADD_FAILURE() << sqlite3_errmsg(db) << ": " << sql;
        }
        sqlite3_finalize(statement);
        sqlite3_close(db);
        return details;
    };
    using sqlite::finished_condition;
    using sqlite::not_started_condition;
    using sqlite::unfinished_condition;
    EXPECT_NE(plan("SELECT id FROM jobs WHERE queue = 'q' AND idempotency_key = 'k' AND " + unfinished_condition()).find("jobs_by_key"),
              std::string::npos);
    EXPECT_NE(plan("SELECT o.id FROM jobs j JOIN jobs o ON o.queue = j.queue AND o.idempotency_key = j.idempotency_key AND o.id <> j.id AND " +
                   unfinished_condition("o.state") + " WHERE j.id = 1")
                  .find("jobs_by_key"),
              std::string::npos);
    EXPECT_NE(plan("SELECT id FROM jobs INDEXED BY jobs_expiring WHERE expires_at <= 5 AND " + not_started_condition() + " ORDER BY id").find("jobs_expiring"),
              std::string::npos);
    EXPECT_NE(plan("SELECT id, updated_at FROM jobs WHERE queue = 'q' AND state = 'completed' ORDER BY updated_at, id").find("jobs_finished"),
              std::string::npos)
        << "a state named in the statement implies the index's condition";
    EXPECT_EQ(store->expire(t(4'000'000)), 1u) << "the statement that names jobs_expiring runs";
}

} // namespace
} // namespace sandhost::store
