// Copying a live store file, and rebuilding one in place (sqlite_store.h).
#include "store/sqlite_connection.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <random>

namespace sandhost::store {
namespace {

using sqlite::errno_text;
using sqlite::stat_of;

std::filesystem::path absolute_path(const std::filesystem::path& path)
{
    std::error_code ec;
    auto absolute = std::filesystem::absolute(path, ec);
    if (ec) throw StoreError(path.string() + ": cannot make the path absolute: " + ec.message());
    // Absolute, so that SQLite never reads a relative name such as "file:x" as a URI.
    return absolute.lexically_normal();
}

// The size of an existing, non-empty regular file: what a store file is before it is opened
// (SQLite would create a missing one, and take an empty one for a new database).
std::uint64_t existing_store_size(const std::filesystem::path& file)
{
    int error = 0;
    const auto st = stat_of(file, error);
    if (!st) throw StoreError(file.string() + ": no store here: " + errno_text(error));
    if (!S_ISREG(st->st_mode)) throw StoreError(file.string() + " is not a file");
    if (st->st_size == 0) throw StoreError(file.string() + " is empty (0 bytes), so it is not a sandhost store");
    return static_cast<std::uint64_t>(st->st_size);
}

void sync_path(const std::filesystem::path& path, int flags)
{
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        const int error = errno;
        if (fd >= 0) ::close(fd);
        throw StoreError(path.string() + ": cannot sync it to disk: " + errno_text(error));
    }
    ::close(fd);
}

// What a store file written here holds, read on a connection of its own.
void read_report(sqlite::Connection& connection, SqliteFileReport& report)
{
    report.page_size = static_cast<int>(connection.query_int("PRAGMA page_size").value_or(0));
    report.schema_version = static_cast<int>(connection.query_int("PRAGMA user_version").value_or(0));
    report.jobs = connection.query_int("SELECT count(*) FROM jobs").value_or(0);
}

// A hidden file beside `destination`, removed unless kept.
class Scratch {
public:
    explicit Scratch(const std::filesystem::path& destination)
    {
        std::random_device random;
        m_path = destination.parent_path() / ("." + destination.filename().string() + ".partial-" + std::to_string(::getpid()) +
                                              "-" + std::to_string(random()));
        // Made here, empty, so that the copy has mode 0600 (a store holds every job's payload):
        // SQLite writes into an empty file it is given.
        const int fd = ::open(m_path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0) throw StoreError(destination.string() + ": cannot create the copy beside it: " + errno_text(errno));
        ::close(fd);
    }
    ~Scratch()
    {
        std::error_code ignored;
        for (const char* suffix : {"", "-journal", "-wal", "-shm"}) std::filesystem::remove(m_path.string() + suffix, ignored);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    const std::filesystem::path& path() const { return m_path; }

private:
    std::filesystem::path m_path;
};

} // namespace

SqliteFileReport backup_sqlite_store(const std::filesystem::path& source_path, const std::filesystem::path& destination_path,
                                     std::optional<int> page_size)
{
    const auto source = absolute_path(source_path);
    const auto destination = absolute_path(destination_path);
    if (page_size) sqlite::check_page_size(destination, *page_size);
    SqliteFileReport report;
    report.bytes_before = existing_store_size(source);
    struct stat st{};
    if (::lstat(destination.c_str(), &st) == 0) {
        throw StoreError(destination.string() + " exists; a backup never replaces a file (remove it, or name another)");
    }
    if (errno != ENOENT) throw StoreError(destination.string() + ": cannot look at it: " + errno_text(errno));
    int error = 0;
    const auto folder = stat_of(destination.parent_path(), error);
    if (!folder || !S_ISDIR(folder->st_mode)) {
        throw StoreError(destination.string() + ": its folder " + destination.parent_path().string() + " is not there" +
                         (folder ? "" : ": " + errno_text(error)));
    }

    const SqliteOptions options;
    sqlite::Connection connection(source, options);
    sqlite::check_schema(connection);
    Scratch copy(destination);
    try {
        // Only a file made now takes it: the source keeps its own.
        if (page_size) connection.execute("PRAGMA page_size = " + std::to_string(*page_size));
        connection.query("VACUUM INTO ?").bind(copy.path().string()).run();
    } catch (...) {
        connection.rethrow_as_store_error("copying the store to " + copy.path().string());
    }
    {
        sqlite::Connection written(copy.path(), options);
        sqlite::check_schema(written);
        std::optional<std::string> check;
        try {
            check = written.query_text("PRAGMA quick_check");
            read_report(written, report);
        } catch (...) {
            written.rethrow_as_store_error("checking the copy");
        }
        if (check != "ok") {
            throw StoreError(copy.path().string() + ": the copy failed SQLite's check (" + check.value_or("no answer") +
                             "); nothing was written at " + destination.string());
        }
    }
    // SQLite writes the copy without syncing it.
    sync_path(copy.path(), O_RDONLY);
    if (::link(copy.path().c_str(), destination.c_str()) != 0) {
        throw StoreError(destination.string() + ": cannot put the copy in place: " + errno_text(errno));
    }
    sync_path(destination.parent_path(), O_RDONLY | O_DIRECTORY);
    report.bytes = existing_store_size(destination);
    return report;
}

SqliteFileReport compact_sqlite_store(const std::filesystem::path& path, std::optional<int> page_size)
{
    const auto file = absolute_path(path);
    if (page_size) sqlite::check_page_size(file, *page_size);
    SqliteFileReport report;
    report.bytes_before = existing_store_size(file);
    {
        // Another process that has the file open keeps it open: waiting long for it is pointless.
        SqliteOptions options;
        options.busy_timeout = std::chrono::seconds(1);
        sqlite::Connection connection(file, options);
        sqlite::check_schema(connection);
        try {
            // Held from the first read to the close, so that no process starts using the file
            // between the steps.
            connection.execute("PRAGMA locking_mode = EXCLUSIVE");
            // Leaving WAL mode checkpoints the -wal file, and needs every other connection gone.
            sqlite::Query mode = connection.query("PRAGMA journal_mode = DELETE");
            if (!mode.step() || mode.bytes(0) != "delete") {
                throw StoreError(file.string() + ": SQLite kept the file in WAL mode; nothing was changed");
            }
        } catch (const sqlite::SqliteError& e) {
            if ((e.code() & 0xff) != SQLITE_BUSY && (e.code() & 0xff) != SQLITE_LOCKED) {
                connection.rethrow_as_store_error("taking the file for itself");
            }
            throw StoreError(file.string() + " is open in another process (a host, `sandhost serve` or another command): "
                             "compacting needs the file to itself, so stop them first; nothing was changed");
        } catch (...) {
            connection.rethrow_as_store_error(
                "taking the file for itself (every host, `sandhost serve` and command using it must be stopped first)");
        }
        try {
            if (page_size) connection.execute("PRAGMA page_size = " + std::to_string(*page_size));
            connection.execute("VACUUM");
            connection.query_text("PRAGMA journal_mode = WAL");
            read_report(connection, report);
        } catch (...) {
            // SQLite rolled the rebuild back; the file goes back to WAL mode as hosts leave it.
            try {
                connection.query_text("PRAGMA journal_mode = WAL");
            } catch (...) {
                // A host that opens the file sets it.
            }
            connection.rethrow_as_store_error("rebuilding the file");
        }
    }
    report.bytes = existing_store_size(file);
    return report;
}

} // namespace sandhost::store
