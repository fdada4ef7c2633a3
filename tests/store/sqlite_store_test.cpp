// What the SQLite store leaves in its file, beyond what the contract tests see through Store&:
// refused requests leave no row and no open transaction, a result is kept once, a purge takes
// the attempt rows with the job.
#include "store/sqlite_store.h"
#include "store_test_support.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace sandhost::store {
namespace {

using namespace testing;
using model::OutcomeKind;

class SqliteStoreTest : public ::testing::Test {
protected:
    std::filesystem::path file() const { return m_dir / "store.db"; }
    Store& store() { return *m_store; }

    // A job whose payload holds `secret`.
    static model::NewJob job_holding(const std::string& secret)
    {
        model::NewJob job = new_job();
        job.payload = "{\"card\": \"" + secret + "\"}";
        return job;
    }
    // `job` enqueued, run and completed with `secret` in its result and its attempt's stdout.
    model::JobId completed_holding(const model::NewJob& job, const std::string& secret)
    {
        const model::JobId id = store().enqueue(job, t(0));
        const Claim c = claim_one(store(), "q", t(1));
        auto record = record_of(c, OutcomeKind::succeeded, t(2));
        record.outcome.stdout_tail = "charged " + secret + "\n";
        record.outcome.result = "{\"charged\": \"" + secret + "\"}";
        EXPECT_EQ(store().finish(record, completed_with(record.outcome.result), t(2)), model::JobState::completed);
        return id;
    }

    TempDir m_dir;
    std::unique_ptr<Store> m_store = open_sqlite_store(file());
};

TEST_F(SqliteStoreTest, RefusedRequestsLeaveNoRowsAndNoTransactionOpen)
{
    const model::JobId id = store().enqueue(new_job(), t(0));
    model::NewJob orphan = new_job();
    orphan.depends_on = {id, id + 40};
    EXPECT_THROW(store().enqueue(orphan, t(1)), StoreRequestError);
    const Claim c = claim_one(store(), "q", t(2));
    model::AttemptRecord stale = record_of(c, OutcomeKind::succeeded, t(3));
    stale.attempt_id += 1000;
    EXPECT_FALSE(store().finish(stale, completed_with("no"), t(3)));
    ASSERT_EQ(store().finish(record_of(c, OutcomeKind::succeeded, t(4)), completed_with("ok"), t(4)), model::JobState::completed);

    RawDb raw(file());
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs"), 1);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM job_dependencies"), 0);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM attempts WHERE outcome = 'succeeded'"), 1);
    EXPECT_EQ(raw.exec("BEGIN IMMEDIATE; ROLLBACK"), SQLITE_OK) << "no transaction left open";
}

TEST_F(SqliteStoreTest, AResultIsKeptOnceInTheJob)
{
    store().enqueue(new_job(), t(0));
    const Claim c = claim_one(store(), "q", t(1));
    model::AttemptRecord r = record_of(c, OutcomeKind::succeeded, t(2));
    r.outcome.result = std::string(1 << 20, 'r');
    ASSERT_EQ(store().finish(r, completed_with(r.outcome.result), t(2)), model::JobState::completed);
    RawDb raw(file());
    EXPECT_EQ(raw.integer("SELECT count(*) FROM attempts WHERE result IS NULL AND result_in_job = 1"), 1);
    EXPECT_EQ(store().attempts(c.job.id).at(0).outcome.result, r.outcome.result);
}

TEST_F(SqliteStoreTest, PurgeDeletesTheAttemptRowsWithTheJob)
{
    store().enqueue(new_job(), t(0));
    const Claim c = claim_one(store(), "q", t(1));
    ASSERT_EQ(store().finish(record_of(c, OutcomeKind::succeeded, t(2)), completed_with("r"), t(2)), model::JobState::completed);
    ASSERT_EQ(store().purge(model::JobState::completed, t(50)), 1u);
    RawDb raw(file());
    EXPECT_EQ(raw.integer("SELECT count(*) FROM attempts"), 0);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs"), 0);
}

TEST_F(SqliteStoreTest, ADeletedJobsBytesAreOverwrittenInTheFileNotLeftInFreePages)
{
    const std::string secret = "sekrit-4111-1111-1111-1111";
    const model::NewJob job = job_holding(secret);
    const model::JobId id = completed_holding(job, secret);
    // Into the file itself, so that what follows is read there and not in the -wal.
    auto on_disk = [&] {
        RawDb raw(file());
        EXPECT_EQ(raw.exec("PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
        return read_bytes(file());
    };
    ASSERT_NE(on_disk().find(secret), std::string::npos) << "the test looks where the bytes are";
    ASSERT_EQ(store().remove(id), RemoveResult::removed);
    EXPECT_EQ(on_disk().find(secret), std::string::npos) << "zeroed where they were";
    // A purge (many jobs at a time) leaves them to be reused, as SQLite does by default.
    const model::JobId purged = store().enqueue(job, t(3));
    ASSERT_EQ(store().cancel(purged, t(4)), CancelResult::cancelled);
    ASSERT_EQ(store().purge(model::JobState::cancelled, t(50)), 1u);
    EXPECT_NE(on_disk().find(secret), std::string::npos);
}

// Before the deletion the job's bytes were in the -wal file too, in the frames of the commits
// that wrote it; with no other connection reading, the deletion empties it.
TEST_F(SqliteStoreTest, ADeletedJobLeavesNoEarlierVersionInTheWalFile)
{
    const std::string secret = "sekrit-5500-0000-0000-0004";
    const model::NewJob job = job_holding(secret);
    const model::JobId id = completed_holding(job, secret);
    const std::filesystem::path wal = file().string() + "-wal";
    ASSERT_NE(read_bytes(wal).find(secret), std::string::npos) << "the test looks where the bytes are";
    ASSERT_EQ(store().remove(id), RemoveResult::removed);
    EXPECT_EQ(read_bytes(wal).find(secret), std::string::npos);
    EXPECT_EQ(read_bytes(file()).find(secret), std::string::npos);
    EXPECT_EQ(std::filesystem::file_size(wal), 0u) << "emptied, not only written anew from its start";
    // The store goes on as before.
    const model::JobId next = store().enqueue(job, t(3));
    EXPECT_EQ(store().get(next)->payload, job.payload);
}

TEST_F(SqliteStoreTest, TheEventFeedKeepsTheNewestTenThousandAndTrimsInSteps)
{
    // Pausing and resuming: the cheapest write that records an event.
    constexpr int k_events = 12'345;
    for (int i = 0; i < k_events; ++i) store().set_paused("q", i % 2 == 0);
    RawDb raw(file());
    const std::int64_t rows = raw.integer("SELECT count(*) FROM events");
    EXPECT_GE(rows, 10'000);
    EXPECT_LE(rows, 11'000) << "trimmed every thousand events";
    EXPECT_EQ(raw.integer("SELECT max(id) FROM events"), k_events);
    EXPECT_EQ(raw.integer("SELECT max(id) - min(id) + 1 FROM events"), rows) << "no gap among the kept";

    // A reader that fell behind learns it from the first id it gets.
    const auto from_start = store().events_after(0, 3);
    ASSERT_EQ(from_start.size(), 3u);
    EXPECT_EQ(from_start[0].id, k_events - rows + 1);
    const auto newest = store().events_after(k_events - 1, 10);
    ASSERT_EQ(newest.size(), 1u);
    EXPECT_EQ(newest[0].type, k_events % 2 ? "queue.paused" : "queue.resumed");
}

} // namespace
} // namespace sandhost::store
