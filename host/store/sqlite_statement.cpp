#include "store/sqlite_statement.h"

#include <sqlite3.h>

#include <climits>
#include <utility>

namespace sandhost::store::sqlite {

SqliteError::SqliteError(int code, const std::string& message) : std::runtime_error(message), m_code(code) {}

std::optional<Blob> optional_blob(const std::optional<std::string>& bytes)
{
    if (!bytes) return std::nullopt;
    return Blob{*bytes};
}

PreparedStatement::PreparedStatement(sqlite3* db, std::string_view sql) : m_db(db)
{
    if (sql.size() > static_cast<std::size_t>(INT_MAX)) throw SqliteError(SQLITE_TOOBIG, "SQL text too long");
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                      &m_statement, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(m_statement);
        m_statement = nullptr;
        throw SqliteError(sqlite3_extended_errcode(db),
                          std::string(sqlite3_errmsg(db)) + " (preparing \"" + std::string(sql) + "\")");
    }
    if (!m_statement) throw SqliteError(SQLITE_MISUSE, "no statement in \"" + std::string(sql) + "\"");
}

PreparedStatement::~PreparedStatement()
{
    sqlite3_finalize(m_statement);
}

PreparedStatement::PreparedStatement(PreparedStatement&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)),
      m_statement(std::exchange(other.m_statement, nullptr)),
      m_running(std::exchange(other.m_running, false))
{
}

PreparedStatement& PreparedStatement::operator=(PreparedStatement&& other) noexcept
{
    if (this != &other) {
        sqlite3_finalize(m_statement);
        m_db = std::exchange(other.m_db, nullptr);
        m_statement = std::exchange(other.m_statement, nullptr);
        m_running = std::exchange(other.m_running, false);
    }
    return *this;
}

Query::Query(PreparedStatement& statement) : m_statement(statement)
{
    if (!m_statement.m_statement) throw std::logic_error("running a statement that was moved from");
    if (m_statement.m_running) {
        throw std::logic_error(std::string("statement already running: ") + sqlite3_sql(m_statement.m_statement));
    }
    m_statement.m_running = true;
}

Query::~Query()
{
    // Both only report the last step's failure again, already thrown.
    sqlite3_reset(m_statement.m_statement);
    sqlite3_clear_bindings(m_statement.m_statement);
    m_statement.m_running = false;
}

bool Query::step()
{
    if (!m_stepped) {
        const int parameters = sqlite3_bind_parameter_count(m_statement.m_statement);
        if (m_bound != parameters) {
            throw std::logic_error(std::to_string(m_bound) + " values bound to " + std::to_string(parameters) +
                                   " parameters of: " + sqlite3_sql(m_statement.m_statement));
        }
        m_stepped = true;
    }
    const int rc = sqlite3_step(m_statement.m_statement);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail();
}

std::size_t Query::run()
{
    while (step()) {
    }
    // sqlite3_changes64 counts the last INSERT, UPDATE or DELETE run on the connection.
    if (sqlite3_stmt_readonly(m_statement.m_statement)) return 0;
    return static_cast<std::size_t>(sqlite3_changes64(m_statement.m_db));
}

bool Query::is_null(int column) const
{
    return sqlite3_column_type(m_statement.m_statement, column) == SQLITE_NULL;
}

std::int64_t Query::int64(int column) const
{
    return sqlite3_column_int64(m_statement.m_statement, column);
}

std::optional<std::int64_t> Query::optional_int64(int column) const
{
    if (is_null(column)) return std::nullopt;
    return int64(column);
}

double Query::real(int column) const
{
    return sqlite3_column_double(m_statement.m_statement, column);
}

std::optional<double> Query::optional_real(int column) const
{
    if (is_null(column)) return std::nullopt;
    return real(column);
}

std::string Query::bytes(int column) const
{
    // The pointer first, then the size: asking for the size first may convert the value.
    const void* data = sqlite3_column_blob(m_statement.m_statement, column);
    const int size = sqlite3_column_bytes(m_statement.m_statement, column);
    if (!data || size <= 0) return {};
    return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

std::optional<std::string> Query::optional_bytes(int column) const
{
    if (is_null(column)) return std::nullopt;
    return bytes(column);
}

void Query::bind_next(double value)
{
    check_bind(sqlite3_bind_double(m_statement.m_statement, m_bound + 1, value));
}

void Query::bind_next(std::string_view text)
{
    // A text of length 0 needs a pointer that is not null, or it is bound as NULL.
    check_bind(sqlite3_bind_text64(m_statement.m_statement, m_bound + 1, text.empty() ? "" : text.data(),
                                   text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

void Query::bind_next(Blob blob)
{
    if (blob.bytes.empty()) {
        check_bind(sqlite3_bind_zeroblob(m_statement.m_statement, m_bound + 1, 0));
    } else {
        check_bind(sqlite3_bind_blob64(m_statement.m_statement, m_bound + 1, blob.bytes.data(), blob.bytes.size(),
                                       SQLITE_TRANSIENT));
    }
}

void Query::bind_next(std::nullopt_t)
{
    check_bind(sqlite3_bind_null(m_statement.m_statement, m_bound + 1));
}

void Query::bind_int64(std::int64_t value)
{
    check_bind(sqlite3_bind_int64(m_statement.m_statement, m_bound + 1, value));
}

void Query::check_bind(int rc)
{
    if (rc != SQLITE_OK) fail();
    ++m_bound;
}

void Query::fail() const
{
    throw SqliteError(sqlite3_extended_errcode(m_statement.m_db), sqlite3_errmsg(m_statement.m_db));
}

} // namespace sandhost::store::sqlite
