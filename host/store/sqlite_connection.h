// One connection to a store file, opened and owned by Poco::Data::SQLite, the statements
// prepared on it, the transactions the store runs on it, and the translation of SQLite's
// failures into StoreError. Internal to the store.
#pragma once

#include "store/sqlite_statement.h"
#include "store/sqlite_store.h"
#include "store/store.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;

namespace sandhost::store::sqlite {

// strerror(error) with the number, for messages.
std::string errno_text(int error);
// stat(2) of `path`, or nullopt with errno in `error`.
std::optional<struct stat> stat_of(const std::filesystem::path& path, int& error);
// Throws StoreError naming `file` unless `size` is a page size SQLite takes (a power of two
// from 512 to 65,536): SQLite would silently keep the size it has.
void check_page_size(const std::filesystem::path& file, int size);

// Times are stored as integer milliseconds since the Unix epoch (system_clock).
std::int64_t to_millis(model::TimePoint time);
model::TimePoint from_millis(std::int64_t millis);

// An open connection with the busy timeout and foreign keys set. Touches nothing in the file:
// a file that is not SQLite, or one written by a newer sandhost, is left byte for byte as it
// was. Not thread-safe; the store serializes calls on it. Throws StoreError.
class Connection {
public:
    Connection(std::filesystem::path file, const SqliteOptions& options);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // WAL mode, the synchronous level and the size limit: the first writes to the file, made
    // only once the schema check passed. Throws StoreError.
    void configure_for_writing();

    Poco::Data::Session& session() { return m_session; }
    sqlite3* handle() const { return m_handle; }
    const std::filesystem::path& file() const { return m_file; }

    // A run of `sql`, prepared on this connection the first time it is asked for and kept
    // (prepared) as long as the connection: pass one of a fixed set of texts, with values as
    // parameters, never in the text. Throws SqliteError when `sql` does not compile.
    Query query(std::string_view sql);

    // Through Poco, prepared on every call: for the schema and the connection's set-up.
    // Runs one statement with `binds` and returns the rows it changed. Throws Poco's exceptions
    // (see rethrow_as_store_error).
    std::size_t execute(const std::string& sql, Poco::Data::AbstractBindingVec binds = {});
    // The first column of the first row, nullopt when there is no row or it is NULL.
    std::optional<Poco::Int64> query_int(const std::string& sql, Poco::Data::AbstractBindingVec binds = {});
    std::optional<std::string> query_text(const std::string& sql, Poco::Data::AbstractBindingVec binds = {});
    std::int64_t last_insert_id() const;

    // Call inside a catch block: turns the exception in flight (SqliteError, Poco's, or a
    // filesystem error) into a StoreError naming the file, what was being done, SQLite's
    // message and its extended result code. StoreError and StoreRequestError pass through
    // unchanged.
    [[noreturn]] void rethrow_as_store_error(const std::string& doing) const;
    // Copies the -wal file into the database file and empties it (a TRUNCATE checkpoint),
    // waiting at most k_checkpoint_wait for other connections' transactions, outside any
    // transaction of this one. False when it could not (another connection read or wrote
    // throughout): the -wal file is then left as it was, to be checkpointed as usual.
    bool empty_wal();
    // Forgets a failure code kept from an earlier call (see m_code_before_rollback).
    void forget_failure() { m_code_before_rollback.reset(); }
    // Whether a transaction is open (SQLite ends one by itself after some errors).
    bool in_transaction() const;
    // Which transaction is open, or 0 when none is: a number no other transaction of this
    // connection had, for what may be read once per transaction (the store's TransactionFacts).
    std::uint64_t transaction_serial() const { return in_transaction() ? m_transactions : 0; }

private:
    friend class Transaction;
    // The busy handler: tries again after a short, growing pause until the busy timeout.
    static int wait_while_busy(void* connection, int tries);
    // The WAL hook: checkpoints the -wal file when a commit left it long.
    static int after_commit(void* connection, sqlite3* handle, const char* schema, int pages);
    bool m_checkpointing = false;  // the busy handler waits at most k_checkpoint_wait
    int m_next_checkpoint_at = 0;  // -wal pages a commit leaves before it checkpoints again
    std::chrono::steady_clock::time_point m_busy_since{};  // when the current wait began
    // The extended code of the failure a Transaction rolled back after: the ROLLBACK resets
    // the connection's own before the exception reaches rethrow_as_store_error.
    std::optional<int> m_code_before_rollback;
    std::uint64_t m_transactions = 0;  // begun on this connection

    struct SqlHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view sql) const noexcept { return std::hash<std::string_view>{}(sql); }
    };

    std::filesystem::path m_file;
    SqliteOptions m_options;
    Poco::Data::Session m_session;
    sqlite3* m_handle = nullptr;
    // By SQL text. A node container: a running Query refers to its statement while other
    // statements are added. Declared after the session, so that the statements are finalized
    // before it closes the connection (SQLite does not close a connection with statements left).
    std::unordered_map<std::string, PreparedStatement, SqlHash, std::equal_to<>> m_statements;
    // The same statements by where their text was when asked for: hashing a text of a few
    // hundred bytes at each of the 20-odd statements of a job took about 4 % of a host's CPU.
    std::unordered_map<const char*, std::pair<const std::string, PreparedStatement>*> m_by_address;
};

// A transaction on a connection. `write` starts with BEGIN IMMEDIATE: it takes the file's
// write lock up front (waiting up to the busy timeout), so a read-modify-write never finds
// its snapshot stale and two processes never both act on the same row. `read` is a deferred
// BEGIN: one consistent snapshot for a multi-statement read. The destructor rolls back
// whatever was not committed, also when SQLite already did (after SQLITE_FULL, for one).
enum class TransactionKind { read, write };

class Transaction {
public:
    Transaction(Connection& connection, TransactionKind kind);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit();

private:
    Connection& m_connection;
    bool m_open = false;
};

// For a file that was there, nonempty, when it was looked at and has been opened since: a file
// removed in between is one SQLite has just made, with no page. Throws StoreError naming `file`
// rather than let a maintenance command copy or replace nothing.
void check_still_there(Connection& connection, const std::filesystem::path& file);

} // namespace sandhost::store::sqlite
