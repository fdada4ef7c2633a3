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

} // namespace
} // namespace sandhost::store
