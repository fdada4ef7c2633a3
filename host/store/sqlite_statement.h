// SQLite statements prepared once and run many times, straight on the connection's sqlite3
// handle: Poco 1.11 prepares a statement again on every execute, even a reused one, and that
// was most of the cost of a store call. Internal to the store.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace sandhost::store::sqlite {

// A failed SQLite call: SQLite's extended result code and its message, both taken at the call
// that failed. Connection::rethrow_as_store_error turns it into a StoreError.
class SqliteError : public std::runtime_error {
public:
    SqliteError(int code, const std::string& message);
    int code() const { return m_code; }

private:
    int m_code;
};

// Bytes bound as a BLOB (payloads, results, errors, messages): kept byte for byte, NULs
// included; empty bytes are an empty BLOB, not NULL.
struct Blob {
    std::string_view bytes;
};
std::optional<Blob> optional_blob(const std::optional<std::string>& bytes);

// The owner of one prepared statement; finalizes it. Move-only (not while a Query runs it).
// Prepared with SQLITE_PREPARE_PERSISTENT: it is meant to live as long as its connection, and
// must be destroyed before the connection is closed. Run it through a Query. Not thread-safe.
class PreparedStatement {
public:
    // Compiles `sql` (one statement) on `db`. Throws SqliteError when it does not compile or
    // the schema cannot be read (not a database, corrupt, locked).
    PreparedStatement(sqlite3* db, std::string_view sql);
    ~PreparedStatement();
    PreparedStatement(PreparedStatement&& other) noexcept;
    PreparedStatement& operator=(PreparedStatement&& other) noexcept;
    PreparedStatement(const PreparedStatement&) = delete;
    PreparedStatement& operator=(const PreparedStatement&) = delete;

private:
    friend class Query;
    sqlite3* m_db = nullptr;
    sqlite3_stmt* m_statement = nullptr;
    bool m_running = false;  // a Query holds it
};

// One run of a prepared statement: bind the parameters, step through the rows, read the
// columns of the current one. The destructor resets the statement and clears its bindings
// whatever happened, so the next run starts clean, also after an exception or a rollback.
// One run at a time per statement: a second Query on a running statement throws
// std::logic_error (a nested use of the same SQL text is a bug). Failures of SQLite throw
// SqliteError.
class Query {
public:
    explicit Query(PreparedStatement& statement);
    ~Query();
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    // Binds `values` to the next parameters, in order: the first call starts at the first
    // parameter. Values are copied. Integers, double, text (std::string, string_view,
    // const char*), Blob, std::nullopt (NULL) and std::optional of those (NULL when empty).
    template <class... Values>
    Query& bind(const Values&... values)
    {
        (bind_next(values), ...);
        return *this;
    }

    // Runs to the next row: true when there is one to read, false when the statement is
    // done. Every parameter must be bound first (std::logic_error otherwise).
    bool step();
    // Runs the statement to its end and returns how many rows it changed (inserted, updated
    // or deleted; 0 for a query).
    std::size_t run();

    // The columns of the current row, from 0. Reading a NULL as a plain value reads 0 or "".
    bool is_null(int column) const;
    std::int64_t int64(int column) const;
    std::optional<std::int64_t> optional_int64(int column) const;
    double real(int column) const;
    std::optional<double> optional_real(int column) const;
    // TEXT or BLOB, byte for byte.
    std::string bytes(int column) const;
    std::optional<std::string> optional_bytes(int column) const;

private:
    template <std::integral T>
    void bind_next(T value)
    {
        bind_int64(static_cast<std::int64_t>(value));
    }
    void bind_next(double value);
    void bind_next(std::string_view text);
    void bind_next(const std::string& text) { bind_next(std::string_view(text)); }
    void bind_next(const char* text) { bind_next(std::string_view(text)); }
    void bind_next(Blob blob);
    void bind_next(std::nullopt_t);
    template <class T>
    void bind_next(const std::optional<T>& value)
    {
        if (value) {
            bind_next(*value);
        } else {
            bind_next(std::nullopt);
        }
    }
    void bind_int64(std::int64_t value);
    void check_bind(int rc);
    [[noreturn]] void fail() const;

    PreparedStatement& m_statement;
    int m_bound = 0;
    bool m_stepped = false;
};

} // namespace sandhost::store::sqlite
