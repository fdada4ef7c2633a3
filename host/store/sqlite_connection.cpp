#include "store/sqlite_connection.h"

#include "model/units.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Exception.h>
#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

namespace sandhost::store::sqlite {
namespace kw = Poco::Data::Keywords;
namespace {

// A commit that leaves this many pages or more in the -wal file checkpoints it (after_commit).
constexpr int k_wal_checkpoint_pages = 10'000;
// How long that checkpoint waits for the other connections' transactions to end before it
// leaves the -wal file for a later commit: it holds the file's write lock meanwhile.
constexpr auto k_checkpoint_wait = std::chrono::milliseconds(10);
// After a checkpoint that could not take the whole -wal, commits add this many pages before
// the next tries.
constexpr int k_checkpoint_retry_pages = 1'000;

std::string describe_failure(const std::filesystem::path& file, const std::string& doing, int code,
                             const std::string& message, model::Duration busy_timeout)
{
    const std::string sqlite = " (SQLite: " + message + ", code " + std::to_string(code) + ")";
    switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return file.string() + ": locked by another connection for longer than the busy timeout (" +
               std::to_string(busy_timeout.count()) + " ms) while " + doing + "; nothing was changed" + sqlite;
    case SQLITE_FULL:
        return file.string() + ": the disk is full or the store reached its size limit while " + doing +
               "; the transaction was rolled back" + sqlite;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return file.string() + ": not a SQLite database, or corrupt, found while " + doing + sqlite;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
        return file.string() + ": cannot write or open the file while " + doing + sqlite;
    default:
        return file.string() + ": " + doing + " failed" + sqlite;
    }
}

int primary_code(const Poco::Data::SQLite::SQLiteException& e)
{
    namespace ps = Poco::Data::SQLite;
    if (dynamic_cast<const ps::DBLockedException*>(&e)) return SQLITE_BUSY;
    if (dynamic_cast<const ps::TableLockedException*>(&e)) return SQLITE_LOCKED;
    if (dynamic_cast<const ps::DatabaseFullException*>(&e)) return SQLITE_FULL;
    if (dynamic_cast<const ps::CorruptImageException*>(&e)) return SQLITE_CORRUPT;
    if (dynamic_cast<const ps::IOErrorException*>(&e)) return SQLITE_IOERR;
    if (dynamic_cast<const ps::ReadOnlyException*>(&e)) return SQLITE_READONLY;
    if (dynamic_cast<const ps::DBAccessDeniedException*>(&e)) return SQLITE_PERM;
    if (dynamic_cast<const ps::CantOpenDBFileException*>(&e)) return SQLITE_CANTOPEN;
    if (dynamic_cast<const ps::NoMemoryException*>(&e)) return SQLITE_NOMEM;
    if (dynamic_cast<const ps::ConstraintViolationException*>(&e)) return SQLITE_CONSTRAINT;
    if (dynamic_cast<const ps::RowTooBigException*>(&e)) return SQLITE_TOOBIG;
    if (dynamic_cast<const ps::LockProtocolException*>(&e)) return SQLITE_PROTOCOL;
    if (dynamic_cast<const ps::InterruptException*>(&e)) return SQLITE_INTERRUPT;
    if (dynamic_cast<const ps::ExecutionAbortedException*>(&e)) return SQLITE_ABORT;
    if (dynamic_cast<const ps::DataTypeMismatchException*>(&e)) return SQLITE_MISMATCH;
    if (dynamic_cast<const ps::InvalidLibraryUseException*>(&e)) return SQLITE_MISUSE;
    if (dynamic_cast<const ps::SchemaDiffersException*>(&e)) return SQLITE_SCHEMA;
    if (dynamic_cast<const ps::InternalDBErrorException*>(&e)) return SQLITE_INTERNAL;
    return SQLITE_ERROR;
}

// Before SQLite's first use in the process (later, SQLite refuses it: the setting is then
// SQLite's own). A page cache starts with no bulk allocation: SQLite's default of 20 pages
// (about 86 KiB) at once is also made by every temporary b-tree a statement opens, and the
// statements that change a job's state open seven (one per list in `state IN (...)` of the
// jobs table's CHECK and partial indexes). Freed at the statement's end, that block left the
// top of a thread's heap, glibc gave it back to the kernel (madvise), and the next statement
// took page faults for it again, every time. Pages are now allocated one at a time.
void configure_sqlite_memory()
{
    sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0);
}

Poco::Data::Session open_session(const std::filesystem::path& file)
{
    static std::once_flag registered;
    std::call_once(registered, [] {
        configure_sqlite_memory();
        Poco::Data::SQLite::Connector::registerConnector();
    });
    try {
        // Login timeout 0: Poco otherwise retries a failing open for a minute.
        return Poco::Data::Session(Poco::Data::SQLite::Connector::KEY, file.string(), 0);
    } catch (const Poco::Exception& e) {
        throw StoreError(file.string() + ": cannot open: " + e.displayText());
    }
}

} // namespace

std::string errno_text(int error)
{
    return std::string(std::strerror(error)) + " (errno " + std::to_string(error) + ")";
}

std::optional<struct stat> stat_of(const std::filesystem::path& path, int& error)
{
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) {
        error = errno;
        return std::nullopt;
    }
    return st;
}

void check_page_size(const std::filesystem::path& file, int size)
{
    if (size < 0 || !model::is_store_page_size(static_cast<std::uint64_t>(size))) {
        throw StoreError(file.string() + ": page size " + std::to_string(size) + " is not a power of two from 512 to 65536");
    }
}

std::int64_t to_millis(model::TimePoint time)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

model::TimePoint from_millis(std::int64_t millis)
{
    return model::TimePoint(std::chrono::duration_cast<model::TimePoint::duration>(std::chrono::milliseconds(millis)));
}

Connection::Connection(std::filesystem::path file, const SqliteOptions& options)
    : m_file(std::move(file)), m_options(options), m_session(open_session(m_file))
{
    try {
        m_handle = Poco::Data::SQLite::Utility::dbHandle(m_session);
        const int rc = sqlite3_busy_handler(m_handle, &Connection::wait_while_busy, this);
        if (rc != SQLITE_OK) {
            throw StoreError(describe_failure(m_file, "setting the busy handler", rc, sqlite3_errstr(rc),
                                              m_options.busy_timeout));
        }
        execute("PRAGMA foreign_keys = ON");
    } catch (...) {
        rethrow_as_store_error("opening the connection");
    }
}

// SQLite's own busy timeout sleeps 1, 2, 5, 10, ... ms between its tries: far longer than a
// transaction of the store holds the lock (tens of microseconds), so a host and a process
// enqueueing beside it lost a millisecond or more every time they met. This tries again after
// 20 µs, doubling up to 640 µs, until the busy timeout.
int Connection::wait_while_busy(void* connection, int tries)
{
    auto& self = *static_cast<Connection*>(connection);
    const auto now = std::chrono::steady_clock::now();
    if (tries == 0) self.m_busy_since = now;
    const auto limit = self.m_checkpointing ? std::min<model::Duration>(self.m_options.busy_timeout, k_checkpoint_wait) : self.m_options.busy_timeout;
    if (now - self.m_busy_since >= limit) return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(20 << std::min(tries, 5)));
    return 1;
}

int Connection::after_commit(void* connection, sqlite3* handle, const char* schema, int pages)
{
    auto& self = *static_cast<Connection*>(connection);
    if (pages < k_wal_checkpoint_pages || pages < self.m_next_checkpoint_at) return SQLITE_OK;
    self.m_checkpointing = true;
    const int rc = sqlite3_wal_checkpoint_v2(handle, schema, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
    self.m_checkpointing = false;
    self.m_next_checkpoint_at = rc == SQLITE_OK ? 0 : pages + k_checkpoint_retry_pages;
    // The commit is made whatever the checkpoint did: an error returned here would make it
    // look failed.
    return SQLITE_OK;
}

bool Connection::empty_wal()
{
    m_checkpointing = true;
    const int rc = sqlite3_wal_checkpoint_v2(m_handle, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    m_checkpointing = false;
    return rc == SQLITE_OK;
}

void Connection::configure_for_writing()
{
    // Only a file with no page yet takes a page size: before its first table, and before WAL
    // mode, in which the size is fixed.
    if (query_int("PRAGMA page_count").value_or(0) == 0) execute("PRAGMA page_size = " + std::to_string(m_options.page_size));
    std::optional<std::string> mode = query_text("PRAGMA journal_mode");
    // Switching a new file to WAL needs an exclusive lock, and SQLite does not call the busy
    // handler for it (it holds a shared lock already: waiting could deadlock). Processes
    // opening a new file together meet here, so wait for each other as a busy timeout would.
    const auto deadline = std::chrono::steady_clock::now() + m_options.busy_timeout;
    auto pause = std::chrono::milliseconds(1);
    while (mode.value_or("") != "wal") {
        try {
            mode = query_text("PRAGMA journal_mode = WAL");
            break;
        } catch (const Poco::Data::SQLite::DBLockedException&) {
            if (std::chrono::steady_clock::now() >= deadline) throw;
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
    if (mode.value_or("") != "wal") {
        throw StoreError(m_file.string() + ": cannot switch to WAL mode (the journal mode stays \"" +
                         mode.value_or("") + "\"); is the file on a network file system?");
    }
    execute(m_options.sync == SqliteOptions::Sync::full ? "PRAGMA synchronous = FULL"
                                                        : "PRAGMA synchronous = NORMAL");
    // Checkpoints sync the -wal file and the database file, and the first commit into a
    // restarted -wal file syncs its header. SQLite's own (wal_autocheckpoint) is PASSIVE: it
    // copies what no open transaction still reads and never waits. While a host and a producer
    // commit in turn one of them nearly always has a transaction open, so the -wal file was
    // never taken whole and started anew: past the mark, every commit checkpointed again,
    // syncing both files for the few pages since the last (about 40 syncs per 1,000 jobs).
    // after_commit instead checkpoints once the -wal file holds 10,000 pages, in RESTART mode:
    // it takes the write lock, copies the rest, and waits (at most k_checkpoint_wait) until no
    // transaction reads the -wal, so that the next commit writes it from its start. No commit is
    // less durable: NORMAL never syncs at a commit, FULL always does.
    sqlite3_wal_hook(m_handle, &Connection::after_commit, this);
    if (m_options.max_file_size) {
        const auto page_size = std::max<Poco::Int64>(query_int("PRAGMA page_size").value_or(4096), 1);
        const auto pages =
            std::max<std::uint64_t>(*m_options.max_file_size / static_cast<std::uint64_t>(page_size), 1);
        query_int("PRAGMA max_page_count = " + std::to_string(pages));
    }
}

Query Connection::query(std::string_view sql)
{
    // Statements' texts are string literals, found again by their address; the text is
    // compared, since another text may come at an address seen before.
    if (const auto seen = m_by_address.find(sql.data()); seen != m_by_address.end() && seen->second->first == sql) {
        return Query(seen->second->second);
    }
    auto found = m_statements.find(sql);
    if (found == m_statements.end()) {
        found = m_statements.emplace(std::string(sql), PreparedStatement(m_handle, sql)).first;
    }
    m_by_address[sql.data()] = &*found;
    return Query(found->second);
}

std::size_t Connection::execute(const std::string& sql, Poco::Data::AbstractBindingVec binds)
{
    Poco::Data::Statement statement(m_session);
    statement << sql;
    for (auto& bind : binds) statement.addBind(bind);
    return statement.execute();
}

std::optional<Poco::Int64> Connection::query_int(const std::string& sql, Poco::Data::AbstractBindingVec binds)
{
    Poco::Nullable<Poco::Int64> value;
    Poco::Data::Statement statement(m_session);
    statement << sql, kw::into(value), kw::limit(1);
    for (auto& bind : binds) statement.addBind(bind);
    if (statement.execute() == 0 || value.isNull()) return std::nullopt;
    return value.value();
}

std::optional<std::string> Connection::query_text(const std::string& sql, Poco::Data::AbstractBindingVec binds)
{
    Poco::Nullable<std::string> value;
    Poco::Data::Statement statement(m_session);
    statement << sql, kw::into(value), kw::limit(1);
    for (auto& bind : binds) statement.addBind(bind);
    if (statement.execute() == 0 || value.isNull()) return std::nullopt;
    return value.value();
}

std::int64_t Connection::last_insert_id() const
{
    return sqlite3_last_insert_rowid(m_handle);
}

void Connection::rethrow_as_store_error(const std::string& doing) const
{
    try {
        throw;
    } catch (const StoreError&) {
        throw;
    } catch (const StoreRequestError&) {
        throw;
    } catch (const SqliteError& e) {
        throw StoreError(describe_failure(m_file, doing, e.code(), e.what(), m_options.busy_timeout));
    } catch (const Poco::Data::SQLite::SQLiteException& e) {
        // Poco keeps SQLite's message but not its code; the class says the primary code. The
        // connection's extended code refines it when it is about the same failure (a
        // rollback run during unwinding may have reset it).
        int code = primary_code(e);
        const int extended =
            m_code_before_rollback.value_or(m_handle ? sqlite3_extended_errcode(m_handle) : SQLITE_OK);
        const int primary = extended & 0xff;
        if (primary == code || (code == SQLITE_CORRUPT && primary == SQLITE_NOTADB)) code = extended;
        throw StoreError(describe_failure(m_file, doing, code, e.message().empty() ? e.displayText() : e.message(),
                                          m_options.busy_timeout));
    } catch (const Poco::Exception& e) {
        throw StoreError(m_file.string() + ": " + doing + " failed: " + e.displayText());
    } catch (const std::filesystem::filesystem_error& e) {
        throw StoreError(m_file.string() + ": " + doing + " failed: " + e.what() + " (errno " +
                         std::to_string(e.code().value()) + ")");
    }
}

bool Connection::in_transaction() const { return sqlite3_get_autocommit(m_handle) == 0; }

Transaction::Transaction(Connection& connection, TransactionKind kind) : m_connection(connection)
{
    m_connection.m_code_before_rollback.reset();
    m_connection.query(kind == TransactionKind::write ? "BEGIN IMMEDIATE" : "BEGIN").run();
    ++m_connection.m_transactions;
    m_open = true;
}

Transaction::~Transaction()
{
    // SQLite rolls a transaction back by itself after some errors (SQLITE_FULL, SQLITE_IOERR,
    // SQLITE_NOMEM); a second ROLLBACK would only fail.
    if (m_open && sqlite3_get_autocommit(m_connection.handle()) == 0) {
        m_connection.m_code_before_rollback = sqlite3_extended_errcode(m_connection.handle());
        sqlite3_exec(m_connection.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void Transaction::commit()
{
    m_connection.query("COMMIT").run();
    m_open = false;
}

void check_still_there(Connection& connection, const std::filesystem::path& file)
{
    std::optional<std::int64_t> pages;
    try {
        pages = connection.query_int("PRAGMA page_count");
    } catch (...) {
        connection.rethrow_as_store_error("reading the file's size");
    }
    if (pages.value_or(0) == 0) throw StoreError(file.string() + ": no store here any more (the file went away while it was opened)");
}

} // namespace sandhost::store::sqlite
