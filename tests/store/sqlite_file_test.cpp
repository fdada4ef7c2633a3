// The SQLite file itself: created with its schema, reopened, and every way it can be unusable
// (newer, foreign, not SQLite, corrupt, full, locked) is a StoreError that leaves it alone.
#include "store/sqlite_connection.h"
#include "store/sqlite_store.h"
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

namespace sandhost::store {
namespace {

using namespace testing;
using ::testing::HasSubstr;

TEST(SqliteFile, IsCreatedWithItsFolderAndSchemaInWalModeAndIsPrivate)
{
    TempDir dir;
    const auto file = dir / "data/nested/store.db";
    SqliteOptions options;
    options.create_folder = true;
    const model::JobId id = open_sqlite_store(file, options)->enqueue(new_job(), t(0));
    ASSERT_TRUE(std::filesystem::exists(file));
    using std::filesystem::perms;
    EXPECT_EQ(std::filesystem::status(file).permissions() & perms::all, perms::owner_read | perms::owner_write);
    EXPECT_EQ(std::filesystem::status(file.parent_path()).permissions() & perms::all, perms::owner_all);
    for (const auto& entry : std::filesystem::directory_iterator(file.parent_path())) {
        EXPECT_EQ(entry.path().filename().string().rfind(".store.db.new-", 0), std::string::npos)
            << "a half-built store was left behind: " << entry.path();
    }
    RawDb raw(file);
    EXPECT_EQ(raw.integer("PRAGMA user_version"), k_sqlite_schema_version);
    EXPECT_EQ(raw.integer("PRAGMA application_id"), k_sqlite_application_id);
    EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(raw.integer("SELECT id FROM jobs"), id);
}

TEST(SqliteFile, JobsSurviveReopening)
{
    TempDir dir;
    model::JobId id = 0;
    {
        auto store = open_sqlite_store(dir / "store.db");
        id = store->enqueue(new_job("kept"), t(0));
    }
    auto store = open_sqlite_store(dir / "store.db");
    ASSERT_TRUE(store->get(id));
    EXPECT_EQ(store->get(id)->queue, "kept");
    EXPECT_GT(store->enqueue(new_job(), t(1)), id);
}

TEST(SqliteFile, ANewFileTakesTheChosenPageSizeAndAnOldFileKeepsItsOwn)
{
    TempDir dir;
    open_sqlite_store(dir / "small.db")->enqueue(new_job(), t(0));
    EXPECT_EQ(RawDb(dir / "small.db").integer("PRAGMA page_size"), 1024);  // the default

    SqliteOptions four_k;
    four_k.page_size = 4096;
    model::JobId id = 0;
    {
        auto store = open_sqlite_store(dir / "old.db", four_k);
        auto job = new_job("kept");
        job.payload = std::string(100'000, 'p');
        id = store->enqueue(job, t(0));
    }
    // Opened with the default, the older file stays as it was made, and works.
    auto store = open_sqlite_store(dir / "old.db");
    ASSERT_TRUE(store->get(id));
    EXPECT_EQ(store->get(id)->payload, std::string(100'000, 'p'));
    EXPECT_GT(store->enqueue(new_job(), t(1)), id);
    RawDb raw(dir / "old.db");
    EXPECT_EQ(raw.integer("PRAGMA page_size"), 4096);
    EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}

TEST(SqliteFile, TheSyncSettingIsTheConnectionsSynchronousLevel)
{
    TempDir dir;
    for (const auto& [sync, level] : {std::pair{SqliteOptions::Sync::normal, 1}, std::pair{SqliteOptions::Sync::full, 2}}) {
        SqliteOptions options;
        options.sync = sync;
        sqlite::Connection connection(dir / "store.db", options);
        connection.configure_for_writing();
        EXPECT_EQ(connection.query_int("PRAGMA synchronous"), level);
    }
}

TEST(SqliteFile, APageSizeSqliteWouldIgnoreIsAnErrorAndCreatesNothing)
{
    TempDir dir;
    for (const int size : {0, 256, 1000, 131072}) {
        SqliteOptions options;
        options.page_size = size;
        EXPECT_THAT(store_error_of([&] { open_sqlite_store(dir / "store.db", options); }),
                    HasSubstr("page size " + std::to_string(size) + " is not a power of two from 512 to 65536"));
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "store.db"));
}

TEST(SqliteFile, AMissingFolderIsAnErrorUnlessAskedToCreateIt)
{
    TempDir dir;
    EXPECT_THAT(store_error_of([&] { open_sqlite_store(dir / "typo/store.db"); }),
                AllOf(HasSubstr("typo"), HasSubstr("does not exist")));
    EXPECT_FALSE(std::filesystem::exists(dir / "typo")) << "a command must not create folders";
}

TEST(SqliteFile, AnEmptyFileIsRefusedAndLeftAlone)
{
    TempDir dir;
    write_bytes(dir / "store.db", "");
    EXPECT_THAT(store_error_of([&] { open_sqlite_store(dir / "store.db"); }),
                AllOf(HasSubstr("store.db"), HasSubstr("empty (0 bytes)"), HasSubstr("backup")));
    EXPECT_EQ(std::filesystem::file_size(dir / "store.db"), 0u) << "an empty file must never be initialized as a store";
}

TEST(SqliteFile, ManyOpeningANewStoreAtOnceShareOneFile)
{
    TempDir dir;
    std::vector<std::thread> threads;
    std::vector<model::JobId> ids(8);
    std::atomic<int> failures{0};
    for (std::size_t i = 0; i < ids.size(); ++i) {
        threads.emplace_back([&, i] {
            try {
                ids[i] = open_sqlite_store(dir / "store.db")->enqueue(new_job(), t(0));
            } catch (const std::exception& e) {
                ++failures;
                ADD_FAILURE() << e.what();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0);
    RawDb raw(dir / "store.db");
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs"), static_cast<std::int64_t>(ids.size())) << "every enqueue went to the one store";
}

// A process that is sandhost's alone runs SQLite without a mutex per connection and without
// memory statistics (a global lock around every allocation): each store connection is used by
// one thread at a time, under its store's lock. A connection opened after it is the witness:
// in multi-thread mode it has no mutex, and with no statistics no memory is counted.
TEST(SqliteFile, InAProcessOfItsOwnSqliteTakesNoLockPerCallOrAllocation)
{
    if (!sqlite_for_this_process_alone()) GTEST_SKIP() << "SQLite was in use in this process already (run alone, as ctest does)";
    TempDir dir;
    auto store = open_sqlite_store(dir / "store.db");
    for (int i = 0; i < 10; ++i) store->enqueue(new_job(), t(0));
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2((dir / "store.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_db_mutex(db), nullptr) << "a connection has a mutex: SQLite runs serialized";
    sqlite3_close(db);
    sqlite3_int64 used = -1;
    sqlite3_int64 highest = -1;
    ASSERT_EQ(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &used, &highest, 0), SQLITE_OK);
    EXPECT_EQ(highest, 0) << "SQLite counts its memory: every allocation takes its lock";
}

// Without the call (a program embedding sandhost), SQLite keeps its defaults: the program's
// own connections may be shared between threads.
TEST(SqliteFile, AStoreAloneLeavesTheProcesssSqliteAsItWas)
{
    TempDir dir;
    auto store = open_sqlite_store(dir / "store.db");
    store->enqueue(new_job(), t(0));
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2((dir / "store.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    EXPECT_NE(sqlite3_db_mutex(db), nullptr) << "opening a store made SQLite multi-thread for the whole process";
    sqlite3_close(db);
}

TEST(SqliteFile, AStoreKnowsWhenItsFileWasDeletedReplacedEmptiedOrItsFolderRemoved)
{
    TempDir dir;
    std::filesystem::create_directory(dir / "d");
    const auto file = dir / "d/store.db";
    {
        auto store = open_sqlite_store(file);
        EXPECT_EQ(store->vanished(), std::nullopt);
        std::filesystem::remove(file);
        EXPECT_THAT(store->vanished().value_or(""), HasSubstr("the file was deleted"));
        std::filesystem::remove_all(dir / "d");
        EXPECT_THAT(store->vanished().value_or(""), HasSubstr("was removed"));
    }
    std::filesystem::create_directory(dir / "d");
    {
        auto store = open_sqlite_store(file);
        open_sqlite_store(dir / "other.db");
        std::filesystem::rename(dir / "other.db", file);
        EXPECT_THAT(store->vanished().value_or(""), HasSubstr("replaced by another one"));
    }
    std::filesystem::remove(file);
    {
        auto store = open_sqlite_store(file);
        std::filesystem::resize_file(file, 0);
        EXPECT_THAT(store->vanished().value_or(""), HasSubstr("emptied"));
    }
}

TEST(SqliteFile, NewerSchemaIsRefusedAndTheFileLeftAsItWas)
{
    TempDir dir;
    const auto file = dir / "store.db";
    open_sqlite_store(file)->enqueue(new_job(), t(0));
    {
        RawDb raw(file);
        ASSERT_EQ(raw.exec("PRAGMA user_version = " + std::to_string(k_sqlite_schema_version + 1)), SQLITE_OK);
    }
    const std::string before = read_bytes(file);
    const std::string message = store_error_of([&] { open_sqlite_store(file); });
    EXPECT_EQ(message, file.string() + " was written by a newer sandhost (schema " +
                           std::to_string(k_sqlite_schema_version + 1) + "; this one knows up to " +
                           std::to_string(k_sqlite_schema_version) + ")");
    EXPECT_TRUE(read_bytes(file) == before) << "the file changed";
}

TEST(SqliteFile, TextFilePosingAsTheStoreIsRefusedAndLeftAsItWas)
{
    TempDir dir;
    const auto file = dir / "store.db";
    std::string text;
    for (int i = 0; i < 100; ++i) text += "this is a text file, not a database; line " + std::to_string(i) + "\n";
    write_bytes(file, text);
    const std::string message = store_error_of([&] { open_sqlite_store(file); });
    EXPECT_THAT(message, HasSubstr(file.string()));
    EXPECT_THAT(message, HasSubstr("file is not a database"));
    EXPECT_THAT(message, HasSubstr("code 26"));
    EXPECT_TRUE(read_bytes(file) == text);
    EXPECT_FALSE(std::filesystem::exists(dir / "store.db-wal"));
}

TEST(SqliteFile, AnotherApplicationsDatabaseIsRefusedAndLeftAsItWas)
{
    TempDir dir;
    const auto file = dir / "other.db";
    {
        RawDb raw(file);
        ASSERT_EQ(raw.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')"), SQLITE_OK);
    }
    const std::string before = read_bytes(file);
    EXPECT_THAT(store_error_of([&] { open_sqlite_store(file); }), HasSubstr("not a sandhost store"));
    EXPECT_TRUE(read_bytes(file) == before);

    {
        RawDb raw(file);
        ASSERT_EQ(raw.exec("PRAGMA application_id = 1234"), SQLITE_OK);
    }
    const std::string marked = read_bytes(file);
    EXPECT_THAT(store_error_of([&] { open_sqlite_store(file); }), HasSubstr("another application"));
    EXPECT_TRUE(read_bytes(file) == marked);
}

TEST(SqliteFile, CorruptPagesAreAStoreError)
{
    TempDir dir;
    const auto file = dir / "store.db";
    {
        auto store = open_sqlite_store(file);
        for (int i = 0; i < 50; ++i) store->enqueue(new_job(), t(i));
    }
    std::string bytes = read_bytes(file);
    const std::size_t page = 4096;
    ASSERT_GT(bytes.size(), 3 * page);
    // Every page but the first (the header and the schema) becomes garbage.
    for (std::size_t i = page; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0xA5 ^ (i * 7));
    write_bytes(file, bytes);
    const std::string message = store_error_of([&] {
        auto store = open_sqlite_store(file);
        store->list(JobFilter{});
        store->enqueue(new_job(), t(100));
    });
    EXPECT_THAT(message, HasSubstr(file.string()));
    EXPECT_THAT(message, HasSubstr("corrupt"));
}

TEST(SqliteFile, FullDiskIsAStoreErrorAndTheStoreStaysConsistentAndUsable)
{
    TempDir dir;
    const auto file = dir / "store.db";
    SqliteOptions small;
    small.max_file_size = 256 * 1024;
    auto store = open_sqlite_store(file, small);
    model::NewJob heavy = new_job();
    heavy.payload = "\"" + std::string(20'000, 'p') + "\"";
    std::vector<model::JobId> stored;
    std::string message;
    for (int i = 0; i < 100 && message.empty(); ++i) {
        try {
            stored.push_back(store->enqueue(heavy, t(i)));
        } catch (const StoreError& e) {
            message = e.what();
        }
    }
    ASSERT_FALSE(message.empty()) << "the store never filled up";
    EXPECT_THAT(message, HasSubstr("disk is full"));
    EXPECT_THAT(message, HasSubstr("rolled back"));
    EXPECT_THAT(message, HasSubstr("code 13"));
    ASSERT_FALSE(stored.empty());

    // Nothing half-written: exactly the acknowledged jobs, whole.
    JobFilter everything;
    everything.limit = 0;
    EXPECT_EQ(store->list(everything).size(), stored.size());
    EXPECT_EQ(store->get(stored.back())->payload, heavy.payload);
    EXPECT_FALSE(store->get(stored.back() + 1));
    {
        RawDb raw(file);
        EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
        EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs"), static_cast<std::int64_t>(stored.size()));
    }
    // Still usable: it reads, it refuses the next write the same way, and it takes writes
    // again once there is room.
    EXPECT_EQ(store->queue_counts({})["q"].by_state[model::JobState::waiting], stored.size());
    EXPECT_THROW(store->enqueue(heavy, t(200)), StoreError);
    store.reset();
    auto roomy = open_sqlite_store(file);
    const model::JobId next = roomy->enqueue(heavy, t(300));
    EXPECT_GT(next, stored.back());
    EXPECT_EQ(roomy->cancel(stored.front(), t(301)), CancelResult::cancelled);
    auto claimed = roomy->claim(allow({"q"}), "host/1", ms(1000), t(302));
    ASSERT_TRUE(claimed);
    EXPECT_EQ(claimed->job.id, stored[1]);
}

TEST(SqliteFile, LockedPastTheBusyTimeoutIsAStoreError)
{
    TempDir dir;
    const auto file = dir / "store.db";
    SqliteOptions impatient;
    impatient.busy_timeout = ms(100);
    auto store = open_sqlite_store(file, impatient);
    const model::JobId id = store->enqueue(new_job(), t(0));

    RawDb other(file);
    ASSERT_EQ(other.exec("BEGIN EXCLUSIVE"), SQLITE_OK);
    ASSERT_EQ(other.exec("UPDATE jobs SET priority = 5"), SQLITE_OK);
    const std::string message = store_error_of([&] { store->enqueue(new_job(), t(1)); });
    EXPECT_THAT(message, HasSubstr(file.string()));
    EXPECT_THAT(message, HasSubstr("locked"));
    EXPECT_THAT(message, HasSubstr("100 ms"));
    EXPECT_THAT(message, HasSubstr("code 5"));
    EXPECT_THAT(store_error_of([&] { store->claim(allow({"q"}), "host/1", ms(1000), t(1)); }), HasSubstr("locked"));
    // WAL: readers are not held up by a writer.
    EXPECT_EQ(store->get(id)->priority, 0);
    ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);

    EXPECT_EQ(store->list(JobFilter{}).size(), 1u) << "the refused enqueue stored nothing";
    EXPECT_TRUE(store->claim(allow({"q"}), "host/1", ms(1000), t(2)));
}

TEST(SqliteFile, EveryWriteMeetingALockIsAStoreErrorAndWorksOnceTheLockIsGone)
{
    TempDir dir;
    const auto file = dir / "store.db";
    SqliteOptions impatient;
    impatient.busy_timeout = ms(50);
    auto store = open_sqlite_store(file, impatient);
    // Every statement below runs once before the lock, so that the calls under the lock and
    // after it reuse statements prepared earlier.
    const model::JobId id = store->enqueue(new_job(), t(0));
    auto claim = store->claim(allow({"q"}), "host/1", ms(10'000), t(1));
    ASSERT_TRUE(claim);
    ASSERT_TRUE(store->renew(id, claim->attempt_id, t(20'000)));
    ASSERT_TRUE(store->set_progress(id, claim->attempt_id, model::Progress{10, "started"}));
    ASSERT_TRUE(store->register_host("host", "host/1", t(1), ms(30'000)));
    EXPECT_EQ(store->expire(t(1)), 0u);
    const model::JobId next = store->enqueue(new_job(), t(2));

    RawDb other(file);
    ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
    const std::vector<std::pair<std::string, std::function<void()>>> writes{
        {"enqueue", [&] { store->enqueue(new_job(), t(3)); }},
        {"claim", [&] { store->claim(allow({"q"}), "host/1", ms(10'000), t(3)); }},
        {"renew", [&] { store->renew(id, claim->attempt_id, t(30'000)); }},
        {"set_progress", [&] { store->set_progress(id, claim->attempt_id, model::Progress{20, "locked"}); }},
        {"finish",
         [&] { store->finish(record_of(*claim, model::OutcomeKind::succeeded, t(3)), completed_with("x"), t(3)); }},
        {"register_host", [&] { store->register_host("host", "host/1", t(3), ms(30'000)); }},
        {"expire", [&] { store->expire(t(3)); }},
        {"cancel", [&] { store->cancel(next, t(3)); }},
    };
    for (const auto& [name, write] : writes) {
        const std::string message = store_error_of(write);
        EXPECT_THAT(message, HasSubstr("locked")) << name;
        EXPECT_THAT(message, HasSubstr("code 5")) << name;
    }
    // Readers are not held up (WAL).
    EXPECT_EQ(store->get(id)->progress->message, "started");
    EXPECT_TRUE(store->cancel_requests("host/1").empty());
    EXPECT_TRUE(store->lost_attempts("host", "host/1", t(3)).empty());
    ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);

    EXPECT_TRUE(store->renew(id, claim->attempt_id, t(30'000)));
    EXPECT_TRUE(store->set_progress(id, claim->attempt_id, model::Progress{20, "free"}));
    EXPECT_TRUE(store->register_host("host", "host/1", t(4), ms(30'000)));
    EXPECT_EQ(store->expire(t(4)), 0u);
    EXPECT_TRUE(store->finish(record_of(*claim, model::OutcomeKind::succeeded, t(4)), completed_with("done"), t(4)));
    const model::Job finished = *store->get(id);
    EXPECT_EQ(finished.state, model::JobState::completed);
    EXPECT_EQ(finished.result, "done");
    EXPECT_EQ(finished.progress->message, "free");
    auto second = store->claim(allow({"q"}), "host/1", ms(10'000), t(5));
    ASSERT_TRUE(second);
    EXPECT_EQ(second->job.id, next);
    EXPECT_EQ(store->cancel(next, t(6)), CancelResult::requested);
    EXPECT_EQ(store->cancel_requests("host/1"), std::vector<model::JobId>{next});
    const model::JobId third = store->enqueue(new_job(), t(7));
    EXPECT_GT(third, next);
    EXPECT_EQ(store->list(JobFilter{}).size(), 3u) << "nothing written under the lock";
}

TEST(SqliteFile, StatementsPreparedBeforeAnotherConnectionChangedTheSchemaStillWork)
{
    TempDir dir;
    const auto file = dir / "store.db";
    auto store = open_sqlite_store(file);
    ASSERT_FALSE(claim_and_complete(*store, {"q"}, t(0)));
    store->enqueue(new_job(), t(0));
    ASSERT_TRUE(claim_and_complete(*store, {"q"}, t(1)));
    {
        RawDb other(file);
        ASSERT_EQ(other.exec("CREATE INDEX jobs_by_task ON jobs (task)"), SQLITE_OK);
        ASSERT_EQ(other.exec("ALTER TABLE hosts ADD COLUMN note TEXT"), SQLITE_OK);
    }
    const model::JobId id = store->enqueue(new_job(), t(2));
    EXPECT_TRUE(claim_and_complete(*store, {"q"}, t(3)));
    EXPECT_EQ(store->get(id)->state, model::JobState::completed);
    EXPECT_TRUE(store->register_host("host", "host/1", t(4), ms(1000)));
    EXPECT_EQ(store->host_registration("host")->first, "host/1");
}

TEST(SqliteFile, AnUnopenablePathIsAStoreError)
{
    TempDir dir;
    write_bytes(dir / "plain-file", "x");
    EXPECT_THAT(store_error_of([&] { open_sqlite_store(dir / "plain-file" / "store.db"); }),
                HasSubstr("plain-file"));
    std::filesystem::create_directory(dir / "a-directory");
    EXPECT_THAT(store_error_of([&] { open_sqlite_store(dir / "a-directory"); }), HasSubstr("a-directory"));
}

} // namespace
} // namespace sandhost::store
