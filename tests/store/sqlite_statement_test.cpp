// Statements prepared once and run many times (sqlite_statement.h): values go in and come back
// byte for byte, a run always leaves its statement clean for the next one (after rows left
// unread, a failed step, a rollback or an exception), and SQLite's failures keep their codes.
#include "store/sqlite_statement.h"
#include "store/sqlite_connection.h"
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

namespace sandhost::store::sqlite {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

// A raw connection to a fresh file with one table, closed with sqlite3_close (not _v2): the
// close fails while any statement is left unfinalized.
class Db {
public:
    explicit Db(const std::filesystem::path& file, int busy_timeout_ms = 5000)
    {
        if (sqlite3_open(file.c_str(), &m_db) != SQLITE_OK) throw std::runtime_error("sqlite3_open");
        sqlite3_busy_timeout(m_db, busy_timeout_ms);
        exec("PRAGMA journal_mode = WAL");
        exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB, "
             "u TEXT UNIQUE)");
    }
    ~Db() { close(); }
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    int close()
    {
        if (!m_db) return SQLITE_OK;
        const int rc = sqlite3_close(m_db);
        if (rc == SQLITE_OK) m_db = nullptr;
        return rc;
    }
    int exec(const std::string& sql) { return sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, nullptr); }
    std::int64_t count() { return scalar("SELECT count(*) FROM t"); }
    std::int64_t scalar(const std::string& sql)
    {
        PreparedStatement statement(m_db, sql);
        Query row(statement);
        return row.step() ? row.int64(0) : -1;
    }
    sqlite3* handle() { return m_db; }

private:
    sqlite3* m_db = nullptr;
};

TEST(SqliteStatement, ValuesOfEveryKindReadBackByteForByte)
{
    TempDir dir;
    Db db(dir / "t.db");
    PreparedStatement insert(db.handle(), "INSERT INTO t (n, r, s, b, u) VALUES (?, ?, ?, ?, ?)");
    PreparedStatement select(db.handle(), "SELECT n, r, s, b, u, typeof(b), typeof(u) FROM t WHERE id = ?");
    const std::string bytes("a\0b\xff", 4);
    {
        Query run(insert);
        run.bind(std::numeric_limits<std::int64_t>::min(), 0.25, std::string("text"), Blob{bytes}, std::nullopt);
        EXPECT_EQ(run.run(), 1u);
    }
    {
        Query run(insert);
        run.bind(std::optional<std::int64_t>(), std::optional<double>(), "", Blob{""},
                 std::optional<std::string>("u"));
        EXPECT_EQ(run.run(), 1u);
    }
    {
        Query row(select);
        row.bind(1);
        ASSERT_TRUE(row.step());
        EXPECT_EQ(row.int64(0), std::numeric_limits<std::int64_t>::min());
        EXPECT_EQ(row.real(1), 0.25);
        EXPECT_EQ(row.bytes(2), "text");
        EXPECT_EQ(row.bytes(3), bytes);
        EXPECT_EQ(row.optional_bytes(4), std::nullopt);
        EXPECT_EQ(row.bytes(5), "blob");
        EXPECT_EQ(row.bytes(6), "null");
        EXPECT_FALSE(row.step());
    }
    Query row(select);
    row.bind(2);
    ASSERT_TRUE(row.step());
    EXPECT_EQ(row.optional_int64(0), std::nullopt);
    EXPECT_EQ(row.optional_real(1), std::nullopt);
    EXPECT_EQ(row.optional_bytes(2), std::optional<std::string>("")) << "empty text is not NULL";
    EXPECT_EQ(row.optional_bytes(3), std::optional<std::string>("")) << "an empty BLOB is not NULL";
    EXPECT_EQ(row.bytes(5), "blob");
    EXPECT_EQ(row.optional_bytes(4), std::optional<std::string>("u"));
}

TEST(SqliteStatement, AStatementRunsAgainAfterItsRowsWereLeftUnread)
{
    TempDir dir;
    Db db(dir / "t.db");
    ASSERT_EQ(db.exec("INSERT INTO t (n) VALUES (1), (2), (3)"), SQLITE_OK);
    PreparedStatement select(db.handle(), "SELECT n FROM t WHERE n >= ? ORDER BY n");
    for (int round = 0; round < 100; ++round) {
        Query row(select);
        row.bind(round % 3 + 1);
        ASSERT_TRUE(row.step());
        EXPECT_EQ(row.int64(0), round % 3 + 1) << "round " << round;
    }
    // No read transaction is left open by the unfinished runs: another connection can write
    // and the file can be checkpointed whole.
    Db other(dir / "t.db");
    EXPECT_EQ(other.exec("INSERT INTO t (n) VALUES (4)"), SQLITE_OK);
    EXPECT_EQ(sqlite3_wal_checkpoint_v2(other.handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr),
              SQLITE_OK);
}

TEST(SqliteStatement, AFailedStepKeepsSqlitesCodeAndTheStatementRunsAgain)
{
    TempDir dir;
    Db db(dir / "t.db");
    PreparedStatement insert(db.handle(), "INSERT INTO t (n, u) VALUES (?, ?)");
    {
        Query run(insert);
        run.bind(1, "taken");
        run.run();
    }
    try {
        Query run(insert);
        run.bind(2, "taken");
        run.run();
        ADD_FAILURE() << "a duplicate was inserted";
    } catch (const SqliteError& e) {
        EXPECT_EQ(e.code(), SQLITE_CONSTRAINT_UNIQUE);
        EXPECT_THAT(e.what(), HasSubstr("UNIQUE constraint failed: t.u"));
    }
    for (int i = 0; i < 10; ++i) {
        Query run(insert);
        run.bind(3 + i, "free " + std::to_string(i));
        EXPECT_EQ(run.run(), 1u);
    }
    EXPECT_EQ(db.count(), 11);
}

TEST(SqliteStatement, AnExceptionInTheMiddleOfARunResetsTheStatement)
{
    TempDir dir;
    Db db(dir / "t.db");
    ASSERT_EQ(db.exec("INSERT INTO t (n) VALUES (1), (2), (3)"), SQLITE_OK);
    PreparedStatement select(db.handle(), "SELECT n FROM t ORDER BY n");
    EXPECT_THROW(
        {
            Query row(select);
            row.step();
            throw std::runtime_error("the caller gives up");
        },
        std::runtime_error);
    std::vector<std::int64_t> all;
    Query row(select);
    while (row.step()) all.push_back(row.int64(0));
    EXPECT_EQ(all, (std::vector<std::int64_t>{1, 2, 3})) << "the second run starts at the first row";
}

TEST(SqliteStatement, StatementsReusedAcrossARollbackKeepWorking)
{
    TempDir dir;
    Db db(dir / "t.db");
    PreparedStatement begin(db.handle(), "BEGIN IMMEDIATE");
    PreparedStatement commit(db.handle(), "COMMIT");
    PreparedStatement insert(db.handle(), "INSERT INTO t (n) VALUES (?)");
    for (int round = 0; round < 20; ++round) {
        Query(begin).run();
        {
            Query run(insert);
            run.bind(round);
            run.run();
        }
        if (round % 2) {
            ASSERT_EQ(db.exec("ROLLBACK"), SQLITE_OK);
        } else {
            Query(commit).run();
        }
    }
    EXPECT_EQ(db.count(), 10);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM t WHERE n % 2 = 1"), 0);
}

TEST(SqliteStatement, ALockedFileIsSqliteBusyAndTheStatementWorksOnceItIsFree)
{
    TempDir dir;
    Db db(dir / "t.db", 50);
    Db other(dir / "t.db");
    PreparedStatement begin(db.handle(), "BEGIN IMMEDIATE");
    PreparedStatement rollback(db.handle(), "ROLLBACK");
    ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
    try {
        Query(begin).run();
        ADD_FAILURE() << "took the write lock twice";
    } catch (const SqliteError& e) {
        EXPECT_EQ(e.code(), SQLITE_BUSY);
        EXPECT_THAT(e.what(), HasSubstr("database is locked"));
    }
    ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
    Query(begin).run();
    Query(rollback).run();
}

TEST(SqliteStatement, MisuseIsALogicErrorAndLeavesTheStatementUsable)
{
    TempDir dir;
    Db db(dir / "t.db");
    PreparedStatement insert(db.handle(), "INSERT INTO t (n, s) VALUES (?, ?)");
    {
        Query run(insert);
        run.bind(1);
        EXPECT_THROW(run.run(), std::logic_error) << "a parameter left unbound";
    }
    {
        Query run(insert);
        EXPECT_THROW(Query{insert}, std::logic_error) << "two runs of one statement at once";
        EXPECT_THROW(run.bind(1, "x", 3), SqliteError) << "more values than parameters";
    }
    Query run(insert);
    run.bind(1, "x");
    EXPECT_EQ(run.run(), 1u);
}

TEST(SqliteStatement, SqlThatDoesNotCompileIsAnErrorNamingIt)
{
    TempDir dir;
    Db db(dir / "t.db");
    try {
        PreparedStatement statement(db.handle(), "SELECT nope FROM t");
        ADD_FAILURE() << "compiled";
    } catch (const SqliteError& e) {
        EXPECT_EQ(e.code(), SQLITE_ERROR);
        EXPECT_THAT(e.what(), HasSubstr("no such column: nope"));
        EXPECT_THAT(e.what(), HasSubstr("SELECT nope FROM t"));
    }
}

TEST(SqliteStatement, RunCountsChangedRowsOnlyForStatementsThatChangeRows)
{
    TempDir dir;
    Db db(dir / "t.db");
    ASSERT_EQ(db.exec("INSERT INTO t (n) VALUES (1), (2), (3)"), SQLITE_OK);
    PreparedStatement update(db.handle(), "UPDATE t SET n = n + 1 WHERE n >= ?");
    PreparedStatement select(db.handle(), "SELECT n FROM t");
    Query run(update);
    run.bind(2);
    EXPECT_EQ(run.run(), 2u);
    EXPECT_EQ(Query(select).run(), 0u);
}

TEST(SqliteStatement, MovedStatementsAreFinalizedOnceAndTheConnectionCloses)
{
    TempDir dir;
    Db db(dir / "t.db");
    {
        PreparedStatement first(db.handle(), "SELECT 1");
        PreparedStatement second(std::move(first));
        PreparedStatement third(db.handle(), "SELECT 2");
        third = std::move(second);
        Query row(third);
        ASSERT_TRUE(row.step());
        EXPECT_EQ(row.int64(0), 1);
        EXPECT_THROW(Query{first}, std::logic_error);
        EXPECT_EQ(db.close(), SQLITE_BUSY) << "statements still open";
    }
    EXPECT_EQ(db.close(), SQLITE_OK);
}

// A connection finds a statement it prepared again by where its text is; another text at the
// same place is another statement.
TEST(SqliteStatement, AConnectionRunsTheTextItIsGivenWhereverTheTextIs)
{
    TempDir dir;
    Db db(dir / "t.db");
    db.close();
    Connection connection(dir / "t.db", SqliteOptions{});
    std::string text = "SELECT 1";
    auto first = [&] {
        Query row = connection.query(text);
        return row.step() ? row.int64(0) : -1;
    };
    EXPECT_EQ(first(), 1);
    EXPECT_EQ(first(), 1);
    text[7] = '2';  // the same place, another text
    EXPECT_EQ(first(), 2);
    const std::string elsewhere = "SELECT 1";
    Query row = connection.query(elsewhere);
    ASSERT_TRUE(row.step());
    EXPECT_EQ(row.int64(0), 1);
}

} // namespace
} // namespace sandhost::store::sqlite
