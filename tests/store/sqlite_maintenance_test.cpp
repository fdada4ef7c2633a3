// A store file copied while another connection commits to it, and rebuilt or replaced in place
// only when nothing else has it open; every refusal leaves the files as they were.
#include "store/sqlite_connection.h"
#include "store/sqlite_store.h"
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sandhost::store {
namespace {

using namespace testing;
using ::testing::HasSubstr;

// The names in `dir` other than `expected`: what a failed or finished call left behind.
std::vector<std::string> leftovers(const std::filesystem::path& dir, const std::set<std::string>& expected)
{
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const auto name = entry.path().filename().string();
        if (!expected.count(name)) out.push_back(name);
    }
    return out;
}

model::NewJob job_with_payload(std::size_t bytes, char fill)
{
    auto job = new_job();
    job.payload = "{\"p\": \"" + std::string(bytes, fill) + "\"}";
    return job;
}

TEST(SqliteBackup, ACopyTakenWhileAnotherConnectionCommitsHoldsEveryJobCommittedBeforeIt)
{
    TempDir dir;
    const auto source = dir / "store.db";
    auto store = open_sqlite_store(source);
    for (int i = 0; i < 50; ++i) store->enqueue(job_with_payload(3'000, 'a'), t(i));
    ASSERT_TRUE(claim_and_complete(*store, {"q"}, t(100)));

    // Another connection keeps committing jobs before, during and after the copy.
    std::atomic<bool> stop{false};
    std::atomic<int> committed{0};
    std::thread producer([&] {
        auto other = open_sqlite_store(source);
        while (!stop) {
            other->enqueue(job_with_payload(500, 'b'), t(200));
            ++committed;
        }
    });
    while (committed < 20) std::this_thread::yield();
    const int before = 50 + committed.load();
    const auto report = backup_sqlite_store(source, dir / "copy.db");
    stop = true;
    producer.join();

    EXPECT_EQ(leftovers(dir.path(), {"store.db", "store.db-wal", "store.db-shm", "copy.db"}), std::vector<std::string>{});
    using std::filesystem::perms;
    EXPECT_EQ(std::filesystem::status(dir / "copy.db").permissions() & perms::all, perms::owner_read | perms::owner_write);
    EXPECT_FALSE(std::filesystem::exists(dir / "copy.db-wal")) << "the copy is complete in one file";
    {
        RawDb raw(dir / "copy.db");
        EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
        EXPECT_EQ(raw.integer("PRAGMA application_id"), k_sqlite_application_id);
        // A snapshot: the jobs committed before the copy began, and no gap after them.
        EXPECT_GE(raw.integer("SELECT count(*) FROM jobs"), before);
        EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs"), raw.integer("SELECT max(id) FROM jobs"));
        EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs"), report.jobs);
        EXPECT_EQ(raw.integer("PRAGMA page_size"), report.page_size);
    }
    EXPECT_EQ(report.page_size, 1024);
    EXPECT_EQ(report.schema_version, k_sqlite_schema_version);
    EXPECT_EQ(report.bytes, std::filesystem::file_size(dir / "copy.db"));
    EXPECT_GT(report.bytes_before, 0u);

    // The copy is a store, with the completed job's attempt and every payload byte.
    auto copy = open_sqlite_store(dir / "copy.db");
    EXPECT_EQ(job_of(*copy, 1).state, model::JobState::completed);
    EXPECT_EQ(copy->attempts(1).size(), 1u);
    EXPECT_EQ(job_of(*copy, 50).payload, job_with_payload(3'000, 'a').payload);
    // And the source went on.
    EXPECT_GT(store->enqueue(new_job(), t(300)), report.jobs);
}

TEST(SqliteBackup, TheCopyTakesThePageSizeItIsGivenAndTheSourceKeepsItsOwn)
{
    TempDir dir;
    open_sqlite_store(dir / "store.db")->enqueue(job_with_payload(10'000, 'x'), t(0));
    const auto report = backup_sqlite_store(dir / "store.db", dir / "copy.db", 4096);
    EXPECT_EQ(report.page_size, 4096);
    EXPECT_EQ(RawDb(dir / "copy.db").integer("PRAGMA page_size"), 4096);
    EXPECT_EQ(RawDb(dir / "store.db").integer("PRAGMA page_size"), 1024);
    EXPECT_EQ(job_of(*open_sqlite_store(dir / "copy.db"), 1).payload, job_with_payload(10'000, 'x').payload);
}

TEST(SqliteBackup, NeverReplacesAFileAndLeavesNothingWhenItCannotCopy)
{
    TempDir dir;
    open_sqlite_store(dir / "store.db")->enqueue(new_job(), t(0));
    write_bytes(dir / "taken.db", "someone's file");
    EXPECT_THAT(store_error_of([&] { backup_sqlite_store(dir / "store.db", dir / "taken.db"); }),
                AllOf(HasSubstr("taken.db exists"), HasSubstr("never replaces")));
    EXPECT_EQ(read_bytes(dir / "taken.db"), "someone's file");

    EXPECT_THAT(store_error_of([&] { backup_sqlite_store(dir / "store.db", dir / "typo/copy.db"); }),
                AllOf(HasSubstr("typo"), HasSubstr("is not there")));
    EXPECT_THAT(store_error_of([&] { backup_sqlite_store(dir / "store.db", dir / "copy.db", 3000); }),
                HasSubstr("page size 3000 is not a power of two"));

    EXPECT_THAT(store_error_of([&] { backup_sqlite_store(dir / "missing.db", dir / "copy.db"); }),
                AllOf(HasSubstr("missing.db"), HasSubstr("no store here")));
    EXPECT_FALSE(std::filesystem::exists(dir / "missing.db")) << "a backup must not create its source";

    {
        RawDb foreign(dir / "foreign.db");
        ASSERT_EQ(foreign.exec("CREATE TABLE t (x)"), 0);
    }
    EXPECT_THAT(store_error_of([&] { backup_sqlite_store(dir / "foreign.db", dir / "copy.db"); }),
                HasSubstr("not a sandhost store"));
    write_bytes(dir / "garbage.db", std::string(4096, 'g'));
    EXPECT_THAT(store_error_of([&] { backup_sqlite_store(dir / "garbage.db", dir / "copy.db"); }),
                HasSubstr("not a SQLite database"));
    EXPECT_EQ(leftovers(dir.path(), {"store.db", "store.db-wal", "store.db-shm", "taken.db", "foreign.db", "garbage.db"}), std::vector<std::string>{});
}

TEST(SqliteBackup, IntoAFolderKeepsTheNewestCopiesOfThisStoreAndTouchesNothingElse)
{
    TempDir dir;
    open_sqlite_store(dir / "store.db")->enqueue(new_job(), t(0));
    const auto folder = dir / "backups";
    std::filesystem::create_directory(folder);
    // What the rotation must leave alone, and an old dated copy of this store it must not.
    for (const char* name : {"notes.txt", "store-manual.db", "other-20200101T000000Z.db", "store-20200101T000000Z.db.txt", "store-20200101T000000Z-x.db"}) {
        write_bytes(folder / name, "keep me");
    }
    write_bytes(folder / "store-20200101T000000Z.db", "an old copy");
    std::vector<std::filesystem::path> written;
    std::vector<std::filesystem::path> deleted;
    for (int i = 0; i < 4; ++i) {
        auto backup = backup_sqlite_store_in_folder(dir / "store.db", folder, 2);
        EXPECT_EQ(backup.file.parent_path(), folder);
        EXPECT_EQ(backup.file.filename().string().rfind("store-", 0), 0u) << backup.file;
        EXPECT_EQ(backup.report.jobs, 1);
        written.push_back(backup.file);
        deleted.insert(deleted.end(), backup.deleted.begin(), backup.deleted.end());
    }
    // Four copies within a few seconds or one: names that sort by time, the newest two kept.
    EXPECT_EQ(std::set<std::filesystem::path>(written.begin(), written.end()).size(), 4u);
    EXPECT_EQ(deleted, (std::vector<std::filesystem::path>{folder / "store-20200101T000000Z.db", written[0], written[1]}));
    EXPECT_EQ(leftovers(folder, {"notes.txt", "store-manual.db", "other-20200101T000000Z.db", "store-20200101T000000Z.db.txt", "store-20200101T000000Z-x.db",
                                 written[2].filename().string(), written[3].filename().string()}),
              std::vector<std::string>{});
    EXPECT_EQ(read_bytes(folder / "store-manual.db"), "keep me");
    EXPECT_EQ(job_of(*open_sqlite_store(written[3]), 1).state, model::JobState::waiting);

    EXPECT_THAT(store_error_of([&] { backup_sqlite_store_in_folder(dir / "store.db", folder, 0); }), HasSubstr("keeping no backup"));
    EXPECT_THAT(store_error_of([&] { backup_sqlite_store_in_folder(dir / "store.db", dir / "missing"); }), HasSubstr("is not there"));
}

TEST(SqliteCompact, GivesBackTheRoomOfPurgedJobsAndKeepsEveryOtherWithThePageSizeAsked)
{
    TempDir dir;
    const auto file = dir / "store.db";
    model::JobId kept = 0;
    {
        SqliteOptions four_k;
        four_k.page_size = 4096;
        auto store = open_sqlite_store(file, four_k);
        std::vector<model::NewJob> batch(500, job_with_payload(2'000, 'c'));
        for (int round = 0; round < 4; ++round) store->enqueue_jobs(batch, t(round));
        for (model::JobId id = 1; id <= 2'000; ++id) ASSERT_EQ(store->cancel(id, t(10)), CancelResult::cancelled);
        kept = store->enqueue(job_with_payload(5'000, 'k'), t(20));
        ASSERT_EQ(store->purge(model::JobState::cancelled, t(30)), 2'000u);
    }
    const auto before = std::filesystem::file_size(file);
    const auto report = compact_sqlite_store(file, 1024);
    EXPECT_EQ(report.bytes_before, before);
    EXPECT_EQ(report.bytes, std::filesystem::file_size(file));
    EXPECT_LT(report.bytes * 10, before) << "the purged jobs' pages stayed in the file";
    EXPECT_EQ(report.page_size, 1024);
    EXPECT_EQ(report.jobs, 1);
    EXPECT_EQ(leftovers(dir.path(), {"store.db"}), std::vector<std::string>{}) << "no journal or -wal file is left";
    {
        RawDb raw(file);
        EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
        EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
        EXPECT_EQ(raw.integer("PRAGMA page_size"), 1024);
    }
    auto store = open_sqlite_store(file);
    EXPECT_EQ(job_of(*store, kept).payload, job_with_payload(5'000, 'k').payload);
    // Ids handed out before are never handed out again.
    EXPECT_GT(store->enqueue(new_job(), t(40)), kept);
}

TEST(SqliteSize, FreePagesAppearWhenJobsAreDeletedAndGoWhenTheFileIsCompacted)
{
    TempDir dir;
    const auto file = dir / "store.db";
    StoreSize after_purge;
    {
        auto store = open_sqlite_store(file);
        store->enqueue_jobs(std::vector<model::NewJob>(300, job_with_payload(3'000, 'f')), t(0));
        for (model::JobId id = 1; id <= 300; ++id) store->cancel(id, t(1));
        const auto full = store->size();
        ASSERT_TRUE(full);
        EXPECT_GT(full->wal_bytes, 300u * 3'000) << "the jobs are in the -wal file until a checkpoint";
        store->purge(model::JobState::cancelled, t(2));
        // A checkpoint, as the commits of a busy store make: the file takes the pages over.
        ASSERT_EQ(RawDb(file).exec("PRAGMA wal_checkpoint(TRUNCATE)"), 0);
        after_purge = store->size().value();
    }
    EXPECT_EQ(after_purge.file_bytes, std::filesystem::file_size(file));
    EXPECT_EQ(after_purge.wal_bytes, 0u);
    EXPECT_GT(after_purge.free_bytes, 300u * 3'000) << "the purged payloads' pages are free";
    EXPECT_LT(after_purge.free_bytes, after_purge.file_bytes);

    compact_sqlite_store(file);
    const auto compacted = open_sqlite_store(file)->size().value();
    EXPECT_EQ(compacted.free_bytes, 0u);
    EXPECT_LT(compacted.file_bytes, after_purge.file_bytes - after_purge.free_bytes / 2);
}

TEST(SqliteCompact, RefusesWhileAnotherConnectionHasTheFileOpenAndChangesNothing)
{
    TempDir dir;
    const auto file = dir / "store.db";
    auto store = open_sqlite_store(file);
    const auto id = store->enqueue(new_job(), t(0));
    EXPECT_THAT(store_error_of([&] { compact_sqlite_store(file, 4096); }),
                AllOf(HasSubstr("store.db is open in another process"), HasSubstr("nothing was changed")));
    EXPECT_EQ(job_of(*store, id).state, model::JobState::waiting);
    EXPECT_GT(store->enqueue(new_job(), t(1)), id) << "the open store still writes";
    RawDb raw(file);
    EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(raw.integer("PRAGMA page_size"), 1024);

    EXPECT_THAT(store_error_of([&] { compact_sqlite_store(dir / "missing.db"); }), HasSubstr("no store here"));
    EXPECT_FALSE(std::filesystem::exists(dir / "missing.db"));
    EXPECT_THAT(store_error_of([&] { compact_sqlite_store(file, 100); }), HasSubstr("page size 100 is not a power of two"));
}

TEST(SqliteRestore, PutsTheCopyInPlaceKeepsTheStoreItReplacesAndNeverHandsAnIdOutTwice)
{
    TempDir dir;
    const auto file = dir / "store.db";
    model::AttemptId last_attempt = 0;
    {
        auto store = open_sqlite_store(file);
        for (int i = 0; i < 3; ++i) store->enqueue(new_job(), t(i));
        ASSERT_TRUE(claim_and_complete(*store, {"q"}, t(10)));
        backup_sqlite_store(file, dir / "copy.db");
        // After the backup: two more jobs, another attempt.
        store->enqueue(new_job(), t(20));
        store->enqueue(new_job(), t(21));
        last_attempt = claim_one(*store, "q", t(30)).attempt_id;
    }
    const auto copy_bytes = read_bytes(dir / "copy.db");
    // As root, the restored file keeps the owner of the store it replaces (a service's user).
    const bool root = ::geteuid() == 0;
    if (root) {
        ASSERT_EQ(::chown(file.c_str(), 65534, 65534), 0);
    }
    const auto report = restore_sqlite_store(dir / "copy.db", file);
    if (root) {
        struct stat st{};
        ASSERT_EQ(::stat(file.c_str(), &st), 0);
        EXPECT_EQ(st.st_uid, 65534u);
        EXPECT_EQ(st.st_gid, 65534u);
    }
    ASSERT_TRUE(report.replaced);
    EXPECT_EQ(report.replaced->parent_path(), dir.path());
    EXPECT_EQ(report.replaced->filename().string().rfind("store.db.replaced-", 0), 0u) << *report.replaced;
    EXPECT_EQ(report.copy.jobs, 3);
    EXPECT_EQ(read_bytes(dir / "copy.db"), copy_bytes) << "the backup is left as it was";
    EXPECT_EQ(leftovers(dir.path(), {"store.db", "copy.db", report.replaced->filename().string()}), std::vector<std::string>{});
    {
        RawDb raw(file);
        EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
        EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
    }

    auto restored = open_sqlite_store(file);
    EXPECT_EQ(restored->list({}).size(), 3u);
    EXPECT_EQ(job_of(*restored, 1).state, model::JobState::completed);
    EXPECT_GT(restored->enqueue(new_job(), t(40)), 5) << "ids 4 and 5 were handed out after the backup";
    EXPECT_GT(claim_one(*restored, "q", t(50)).attempt_id, last_attempt);
    // The replaced store is whole: its last commits were in its -wal file.
    auto replaced = open_sqlite_store(*report.replaced);
    EXPECT_EQ(replaced->list({}).size(), 5u);
    EXPECT_EQ(job_of(*replaced, 2).state, model::JobState::active);
}

TEST(SqliteRestore, RefusesWhileTheStoreIsOpenOrWhatIsNotACopyAndChangesNothing)
{
    TempDir dir;
    const auto file = dir / "store.db";
    auto store = open_sqlite_store(file);
    const auto id = store->enqueue(new_job(), t(0));
    backup_sqlite_store(file, dir / "copy.db");
    const std::set<std::string> files{"store.db", "store.db-wal", "store.db-shm", "copy.db", "foreign.db"};
    {
        RawDb foreign(dir / "foreign.db");
        ASSERT_EQ(foreign.exec("CREATE TABLE t (x)"), 0);
    }
    EXPECT_THAT(store_error_of([&] { restore_sqlite_store(dir / "copy.db", file); }),
                AllOf(HasSubstr("store.db is open in another process"), HasSubstr("nothing was changed")));
    EXPECT_EQ(leftovers(dir.path(), files), std::vector<std::string>{});
    EXPECT_EQ(job_of(*store, id).state, model::JobState::waiting);
    EXPECT_GT(store->enqueue(new_job(), t(1)), id) << "the open store still writes";
    store.reset();

    EXPECT_THAT(store_error_of([&] { restore_sqlite_store(dir / "foreign.db", file); }), HasSubstr("not a sandhost store"));
    EXPECT_THAT(store_error_of([&] { restore_sqlite_store(file, file); }), HasSubstr("is the store itself"));
    EXPECT_THAT(store_error_of([&] { restore_sqlite_store(dir / "missing.db", file); }), HasSubstr("no store here"));
    EXPECT_EQ(leftovers(dir.path(), files), std::vector<std::string>{});
    EXPECT_EQ(open_sqlite_store(file)->list({}).size(), 2u);
}

TEST(SqliteRestore, MakesTheStoreWhereThereIsNone)
{
    TempDir dir;
    open_sqlite_store(dir / "old.db")->enqueue(new_job("kept"), t(0));
    backup_sqlite_store(dir / "old.db", dir / "copy.db");
    const auto report = restore_sqlite_store(dir / "copy.db", dir / "new.db");
    EXPECT_FALSE(report.replaced);
    auto restored = open_sqlite_store(dir / "new.db");
    EXPECT_EQ(job_of(*restored, 1).queue, "kept");
    const auto events = restored->events_after(0, 0);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].type, "job.enqueued");
    EXPECT_EQ(events[1].type, "store.restored");
    EXPECT_EQ(events[1].id, report.event);
}

// A reader that follows the feed by event id (the API's /events, a dashboard) and saw events
// that the backup does not hold: after the restore it resumes where it was and misses nothing
// written since, and the first thing it reads says the store was put back.
TEST(SqliteRestore, TheEventFeedGoesOnAboveEveryEventTheReplacedStoreWrote)
{
    TempDir dir;
    const auto file = dir / "store.db";
    std::int64_t seen = 0;
    std::int64_t in_backup = 0;
    {
        auto store = open_sqlite_store(file);
        store->enqueue(new_job(), t(0));
        backup_sqlite_store(file, dir / "copy.db");
        in_backup = store->events_after(0, 0).back().id;
        for (int i = 0; i < 3; ++i) store->enqueue(new_job(), t(1 + i));
        ASSERT_TRUE(claim_and_complete(*store, {"q"}, t(10)));
        seen = store->events_after(0, 0).back().id;
        ASSERT_GT(seen, in_backup + 3);
    }
    const auto report = restore_sqlite_store(dir / "copy.db", file);
    EXPECT_EQ(report.event, seen + 1);

    auto restored = open_sqlite_store(file);
    const auto id = restored->enqueue(new_job("after"), t(20));
    const auto news = restored->events_after(seen, 0);
    ASSERT_EQ(news.size(), 2u);
    EXPECT_EQ(news[0].id, seen + 1);
    EXPECT_EQ(news[0].type, "store.restored");
    EXPECT_EQ(news[0].detail, (dir / "copy.db").string());
    EXPECT_EQ(news[0].job, 0);
    EXPECT_EQ(news[1].type, "job.enqueued");
    EXPECT_EQ(news[1].job, id);
    EXPECT_EQ(news[1].queue, "after");
    // From the start: the backup's history, then the restore.
    const auto all = restored->events_after(0, 0);
    ASSERT_EQ(all.size(), static_cast<std::size_t>(in_backup) + 2);
    EXPECT_EQ(all[static_cast<std::size_t>(in_backup) - 1].id, in_backup);
    EXPECT_EQ(all[static_cast<std::size_t>(in_backup)].type, "store.restored");
}

// A store file removed between a maintenance command's look at it and its open: SQLite makes
// an empty file in its place, and the guard that follows every such open refuses it, naming the
// file, rather than copy or replace nothing. (The race itself is not forced: what the open
// leaves is.) A store that is there passes.
TEST(SqliteMaintenance, AFileThatWentAwayBeforeItWasOpenedIsRefusedNotTakenForAStore)
{
    TempDir dir;
    const auto file = dir / "store.db";
    {
        auto store = open_sqlite_store(file);
        store->enqueue_jobs({new_job()}, t(0));
    }
    {
        sqlite::Connection connection(file, SqliteOptions{});
        EXPECT_NO_THROW(sqlite::check_still_there(connection, file));
    }
    const auto gone = dir / "gone.db";
    sqlite::Connection connection(gone, SqliteOptions{});
    EXPECT_THAT(store_error_of([&] { sqlite::check_still_there(connection, gone); }),
                AllOf(HasSubstr(gone.string()), HasSubstr("no store here any more")));
}

// A file system of 2 MiB: a store of more than that is copied, put back and rebuilt into it.
// Each command says how much room it needs before it writes anything. Needs a tmpfs of its own
// (root).
TEST(SqliteMaintenance, SaysWhenTheFileSystemIsShortOfRoomBeforeWritingAnything)
{
    TempDir dir;
    const auto small = dir / "small";
    sandhost::testing::SmallDisk disk(small, "2m");
    if (!disk.mounted()) GTEST_SKIP() << disk.why();

    const auto file = dir / "store.db";
    {
        auto store = open_sqlite_store(file);
        std::vector<model::NewJob> jobs;
        for (int i = 0; i < 60; ++i) jobs.push_back(job_with_payload(50'000, 'b'));
        store->enqueue_jobs(jobs, t(0));
    }
    EXPECT_THAT(store_error_of([&] { backup_sqlite_store(file, small / "copy.db"); }),
                AllOf(HasSubstr(small.string() + " has "), HasSubstr("a copy of " + file.string() + " needs about 3.0MiB"),
                      HasSubstr("nothing was changed")));
    EXPECT_EQ(leftovers(small, {}), std::vector<std::string>{});
    backup_sqlite_store(file, dir / "copy.db");
    EXPECT_THAT(store_error_of([&] { restore_sqlite_store(dir / "copy.db", small / "store.db"); }),
                AllOf(HasSubstr(small.string() + " has "), HasSubstr("needs about")));
    EXPECT_EQ(leftovers(small, {}), std::vector<std::string>{});

    // A store of about 0.8 MiB in the 2 MiB, and a file that leaves less than that free: rebuilt,
    // the store would need a journal as large as itself beside it.
    const auto inside = small / "store.db";
    {
        auto store = open_sqlite_store(inside);
        std::vector<model::NewJob> jobs;
        for (int i = 0; i < 16; ++i) jobs.push_back(job_with_payload(50'000, 'c'));
        store->enqueue_jobs(jobs, t(0));
    }
    ASSERT_EQ(leftovers(small, {"store.db"}), std::vector<std::string>{}) << "the store's -wal was checkpointed";
    {
        std::ofstream filler(small / "filler", std::ios::binary);
        filler << std::string(std::size_t{700} << 10, 'f');
        ASSERT_TRUE(filler.flush());
    }
    const auto before = read_bytes(inside);
    EXPECT_THAT(store_error_of([&] { compact_sqlite_store(inside); }),
                AllOf(HasSubstr(small.string() + " has "), HasSubstr("compacting"), HasSubstr("needs about")));
    EXPECT_EQ(read_bytes(inside), before);
    EXPECT_EQ(leftovers(small, {"store.db", "filler"}), std::vector<std::string>{});
    EXPECT_EQ(open_sqlite_store(inside)->list({}).size(), 16u);
}

} // namespace
} // namespace sandhost::store
