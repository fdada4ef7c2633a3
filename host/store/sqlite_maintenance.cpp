// Copying a live store file (into a folder of dated copies too), and rebuilding or replacing one
// in place (sqlite_store.h).
#include "store/sqlite_connection.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_store.h"
#include "store/sqlite_store_impl.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <random>
#include <string_view>
#include <tuple>
#include <vector>

namespace sandhost::store {
namespace {

using sqlite::check_still_there;
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
    if (!st) throw StoreError(file.string() + (error == ENOENT ? ": no store here: " : ": cannot read the file: ") + errno_text(error));
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

// What the pages in use of `connection`'s store take: about what a copy of it writes (VACUUM
// INTO, or the temporary database of VACUUM).
std::uint64_t used_bytes(sqlite::Connection& connection)
{
    const auto pages = connection.query_int("PRAGMA page_count").value_or(0) - connection.query_int("PRAGMA freelist_count").value_or(0);
    return static_cast<std::uint64_t>(std::max<std::int64_t>(pages, 0)) *
           static_cast<std::uint64_t>(connection.query_int("PRAGMA page_size").value_or(0));
}

// Room for a copy of `bytes`, with a margin for what SQLite writes beside the pages.
std::uint64_t with_margin(std::uint64_t bytes) { return bytes + bytes / 50 + (64u << 10); }

// `bytes` for a person: 512B, 3.4KiB, 4.0MiB, 1.2GiB.
std::string about_size(std::uint64_t bytes)
{
    static constexpr std::array units{"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) return std::to_string(bytes) + "B";
    double value = static_cast<double>(bytes) / 1024;
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < units.size()) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.1f%s", value, units[unit]);
    return text;
}

// Refuses, before anything is written, when the file system of `folder` has less free space
// than `needed` for an ordinary user (a store's copy must not eat the space kept for root). A
// file system that cannot say is left to SQLite, which fails cleanly when it runs out.
void check_room(const std::filesystem::path& folder, std::uint64_t needed, const std::string& what)
{
    struct statvfs fs{};
    if (::statvfs(folder.c_str(), &fs) != 0) return;
    const auto room = static_cast<std::uint64_t>(fs.f_bavail) * static_cast<std::uint64_t>(fs.f_frsize);
    if (room >= needed) return;
    throw StoreError(folder.string() + " has " + about_size(room) + " free, and " + what + " needs about " + about_size(needed) +
                     "; nothing was changed");
}

// The folder SQLite puts its temporary files in (VACUUM's copy of the database), found as
// SQLite finds it: SQLITE_TMPDIR, TMPDIR, /var/tmp, /usr/tmp, /tmp, the working folder; the
// first that is a folder this process may write.
std::filesystem::path sqlite_temp_folder()
{
    std::vector<std::string> candidates;
    for (const char* name : {"SQLITE_TMPDIR", "TMPDIR"}) {
        if (const char* value = std::getenv(name)) candidates.emplace_back(value);
    }
    for (const char* folder : {"/var/tmp", "/usr/tmp", "/tmp", "."}) candidates.emplace_back(folder);
    for (const auto& folder : candidates) {
        struct stat st{};
        if (::stat(folder.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && ::access(folder.c_str(), W_OK | X_OK) == 0) return folder;
    }
    return ".";
}

// Refuses to compact `file` when its file systems lack room. VACUUM writes the rebuilt database
// in SQLite's folder for temporary files, then copies it over the file through the rollback
// journal, which takes the pages it overwrites.
void check_room_to_compact(sqlite::Connection& connection, const std::filesystem::path& file)
{
    const auto needed = with_margin(used_bytes(connection));
    const auto temp = sqlite_temp_folder();
    int error = 0;
    const auto temp_st = stat_of(temp, error);
    const auto file_st = stat_of(file.parent_path(), error);
    if (temp_st && file_st && temp_st->st_dev == file_st->st_dev) {
        check_room(file.parent_path(), 2 * needed, "compacting (a rebuilt copy in " + temp.string() + " and a journal beside the store)");
    } else {
        check_room(file.parent_path(), needed, "compacting (a journal beside the store)");
        check_room(temp, needed, "compacting (a rebuilt copy, in SQLite's folder for temporary files)");
    }
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

// Copies the store in `source` (checked to be a sandhost store) into the empty file `scratch`
// (SQLite's VACUUM INTO: one read transaction of the source), lets `adjust` change the copy, then
// checks it (SQLite's quick_check, the schema), fills `report` from it and syncs it to disk.
void copy_store(const std::filesystem::path& source, const std::filesystem::path& scratch, std::optional<int> page_size,
                SqliteFileReport& report, const std::function<void(sqlite::Connection&)>& adjust = {})
{
    const SqliteOptions options;
    {
        sqlite::Connection connection(source, options);
        check_still_there(connection, source);
        sqlite::check_schema(connection);
        try {
            check_room(scratch.parent_path(), with_margin(used_bytes(connection)), "a copy of " + source.string());
            // Only a file made now takes it: the source keeps its own.
            if (page_size) connection.execute("PRAGMA page_size = " + std::to_string(*page_size));
            connection.query("VACUUM INTO ?").bind(scratch.string()).run();
        } catch (...) {
            connection.rethrow_as_store_error("copying the store to " + scratch.string());
        }
    }
    sqlite::Connection written(scratch, options);
    sqlite::check_schema(written);
    std::optional<std::string> check;
    try {
        if (adjust) adjust(written);
        check = written.query_text("PRAGMA quick_check");
        read_report(written, report);
    } catch (...) {
        written.rethrow_as_store_error("checking the copy");
    }
    if (check != "ok") throw StoreError(scratch.string() + ": the copy failed SQLite's check (" + check.value_or("no answer") + ")");
    // SQLite writes the copy without syncing it.
    sync_path(scratch, O_RDONLY);
}

// Takes `connection`'s file for itself until the connection closes: exclusive locking, out of
// WAL mode (its -wal file checkpointed into it and removed), which SQLite refuses while any
// other connection has the file open.
void take_for_itself(sqlite::Connection& connection, const std::filesystem::path& file, const std::string& doing)
{
    try {
        // Held from the first read to the close, so that no process starts using the file
        // between the steps.
        connection.execute("PRAGMA locking_mode = EXCLUSIVE");
        sqlite::Query mode = connection.query("PRAGMA journal_mode = DELETE");
        if (!mode.step() || mode.bytes(0) != "delete") {
            throw StoreError(file.string() + ": SQLite kept the file in WAL mode; nothing was changed");
        }
    } catch (const sqlite::SqliteError& e) {
        if ((e.code() & 0xff) != SQLITE_BUSY && (e.code() & 0xff) != SQLITE_LOCKED) {
            connection.rethrow_as_store_error("taking the file for itself");
        }
        throw StoreError(file.string() + " is open in another process (a host, `sandhost serve` or another command): " + doing +
                         " needs the file to itself, so stop them first; nothing was changed");
    } catch (...) {
        connection.rethrow_as_store_error("taking the file for itself");
    }
}

// Now in UTC as YYYYMMDDTHHMMSSZ: names that sort by time.
std::string utc_stamp()
{
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    return stamp;
}

// The backups backup_sqlite_store_in_folder names STEM-STAMP[-N].db, oldest first, by stamp
// and number.
struct DatedBackup {
    std::string stamp;
    int number = 1;
    std::filesystem::path file;
    bool operator<(const DatedBackup& other) const { return std::tie(stamp, number) < std::tie(other.stamp, other.number); }
};
// "-YYYYMMDDTHHMMSSZ.db" or "-YYYYMMDDTHHMMSSZ-N.db": the stamp and N (1 without one).
std::optional<std::pair<std::string, int>> parse_dated_suffix(std::string_view rest)
{
    const auto digits = [](std::string_view text) {
        return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (rest.size() < 20 || rest[0] != '-' || !rest.ends_with(".db")) return std::nullopt;
    const std::string_view stamp = rest.substr(1, 16);
    if (!digits(stamp.substr(0, 8)) || stamp[8] != 'T' || !digits(stamp.substr(9, 6)) || stamp[15] != 'Z') return std::nullopt;
    const std::string_view number = rest.substr(17, rest.size() - 20);
    if (number.empty()) return std::pair{std::string(stamp), 1};
    if (number[0] != '-' || !digits(number.substr(1)) || number.size() > 6) return std::nullopt;
    return std::pair{std::string(stamp), std::stoi(std::string(number.substr(1)))};
}

std::vector<DatedBackup> dated_backups(const std::filesystem::path& folder, const std::string& stem)
{
    std::vector<DatedBackup> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
        const std::string file = entry.path().filename().string();
        if (file.rfind(stem, 0) != 0 || !entry.is_regular_file(ec)) continue;
        const auto dated = parse_dated_suffix(std::string_view(file).substr(stem.size()));
        if (!dated) continue;
        found.push_back({dated->first, dated->second, entry.path()});
    }
    if (ec) throw StoreError(folder.string() + ": cannot list it: " + ec.message());
    std::sort(found.begin(), found.end());
    return found;
}

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

    Scratch copy(destination);
    copy_store(source, copy.path(), page_size, report);
    if (::link(copy.path().c_str(), destination.c_str()) != 0) {
        throw StoreError(destination.string() + ": cannot put the copy in place: " + errno_text(errno));
    }
    sync_path(destination.parent_path(), O_RDONLY | O_DIRECTORY);
    report.bytes = existing_store_size(destination);
    return report;
}

SqliteFolderBackup backup_sqlite_store_in_folder(const std::filesystem::path& source_path, const std::filesystem::path& folder_path,
                                                 std::optional<std::size_t> keep, std::optional<int> page_size)
{
    const auto source = absolute_path(source_path);
    const auto folder = absolute_path(folder_path);
    if (keep && *keep == 0) throw StoreError(folder.string() + ": keeping no backup would delete the one just written");
    int error = 0;
    const auto st = stat_of(folder, error);
    if (!st || !S_ISDIR(st->st_mode)) {
        throw StoreError(folder.string() + (st ? " is not a folder" : " is not there: " + errno_text(error)));
    }
    const std::string stem = source.stem().string();
    SqliteFolderBackup out;
    const std::string stamp = utc_stamp();
    // A second backup within the second takes a number above every one of that second, so that
    // the names keep their order when older ones are deleted.
    int first = 1;
    for (const auto& backup : dated_backups(folder, stem)) {
        if (backup.stamp == stamp) first = std::max(first, backup.number + 1);
    }
    out.file = folder / (stem + "-" + stamp + (first == 1 ? "" : "-" + std::to_string(first)) + ".db");
    out.report = backup_sqlite_store(source, out.file, page_size);
    if (keep) {
        auto dated = dated_backups(folder, stem);
        const std::size_t excess = dated.size() > *keep ? dated.size() - *keep : 0;
        for (std::size_t i = 0; i < excess; ++i) {
            if (dated[i].file == out.file) continue;
            std::error_code ec;
            if (!std::filesystem::remove(dated[i].file, ec) && ec) {
                throw StoreError(dated[i].file.string() + ": cannot delete this older backup: " + ec.message());
            }
            out.deleted.push_back(dated[i].file);
        }
    }
    return out;
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
        check_still_there(connection, file);
        sqlite::check_schema(connection);
        try {
            check_room_to_compact(connection, file);
        } catch (...) {
            connection.rethrow_as_store_error("measuring the room compacting needs");
        }
        take_for_itself(connection, file, "compacting");
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

SqliteRestoreReport restore_sqlite_store(const std::filesystem::path& backup_path, const std::filesystem::path& file_path)
{
    const auto backup = absolute_path(backup_path);
    const auto file = absolute_path(file_path);
    SqliteRestoreReport report;
    report.copy.bytes_before = existing_store_size(backup);
    int error = 0;
    const auto st = stat_of(file, error);
    if (!st && error != ENOENT) throw StoreError(file.string() + ": cannot look at it: " + errno_text(error));
    if (const auto copy_st = stat_of(backup, error); st && copy_st && st->st_dev == copy_st->st_dev && st->st_ino == copy_st->st_ino) {
        throw StoreError(backup.string() + " is the store itself; nothing was changed");
    }
    const auto folder = stat_of(file.parent_path(), error);
    if (!folder || !S_ISDIR(folder->st_mode)) throw StoreError(file.string() + ": its folder " + file.parent_path().string() + " is not there");

    // The store there now, held until the copy has taken its place: nobody may use it meanwhile.
    std::optional<sqlite::Connection> current;
    std::map<std::string, std::int64_t> handed_out;  // AUTOINCREMENT tables: the last id each gave
    std::int64_t last_event = 0;                     // the newest event a reader may have seen
    if (st) {
        SqliteOptions options;
        options.busy_timeout = std::chrono::seconds(1);
        current.emplace(file, options);
        check_still_there(*current, file);
        sqlite::check_schema(*current);
        take_for_itself(*current, file, "restoring");
        try {
            sqlite::Query row = current->query("SELECT name, seq FROM sqlite_sequence");
            while (row.step()) handed_out[row.bytes(0)] = row.int64(1);
            last_event = current->query_int("SELECT coalesce(max(id), 0) FROM events").value_or(0);
        } catch (...) {
            current->rethrow_as_store_error("reading the ids the store handed out");
        }
    }

    Scratch copy(file);
    copy_store(backup, copy.path(), std::nullopt, report.copy, [&](sqlite::Connection& written) {
        // A job or attempt id handed out since the backup was taken is never handed out again:
        // a command or host holding one must not find another job by it.
        for (const auto& [table, last] : handed_out) {
            written.query("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?").bind(last, table).run();
            written.query("INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS "
                          "(SELECT 1 FROM sqlite_sequence WHERE name = ?)")
                .bind(table, last, table)
                .run();
        }
        // The feed goes on above every event the replaced store wrote, from an event that says
        // what happened: a reader resuming after an event it saw there misses nothing written
        // from now on, and learns that the jobs it knew may have gone back in time. (Event ids
        // are rowids: the next one is above the largest.)
        written.query("INSERT INTO events (id, at, type, detail) "
                      "VALUES (max(?, (SELECT coalesce(max(id), 0) FROM events)) + 1, ?, ?, ?)")
            .bind(last_event, sqlite::to_millis(std::chrono::system_clock::now()), sqlite::to_string(sqlite::EventType::store_restored),
                  backup.string())
            .run();
        report.event = written.last_insert_id();
        // In WAL mode from the start, as a host leaves it: nobody opens it with a rollback journal.
        written.query_text("PRAGMA journal_mode = WAL");
    });
    if (st && ::geteuid() == 0 && ::chown(copy.path().c_str(), st->st_uid, st->st_gid) != 0) {
        throw StoreError(copy.path().string() + ": cannot give it the store's owner: " + errno_text(errno));
    }
    if (!current) {
        if (::link(copy.path().c_str(), file.c_str()) != 0) {
            throw StoreError(file.string() + ": cannot put the copy in place: " + errno_text(errno));
        }
    } else {
        const std::string stamp = utc_stamp();
        // link never replaces: a second restore within the second takes the next free name.
        for (int n = 1;; ++n) {
            report.replaced = file.string() + ".replaced-" + stamp + (n == 1 ? "" : "-" + std::to_string(n));
            if (::link(file.c_str(), report.replaced->c_str()) == 0) break;
            if (errno != EEXIST || n == 100) {
                throw StoreError(file.string() + ": cannot keep the store it replaces as " + report.replaced->string() + ": " +
                                 errno_text(errno) + "; nothing was changed");
            }
        }
        if (::rename(copy.path().c_str(), file.c_str()) != 0) {
            const int rename_error = errno;
            ::unlink(report.replaced->c_str());
            throw StoreError(file.string() + ": cannot put the copy in place: " + errno_text(rename_error) + "; nothing was changed");
        }
    }
    sync_path(file.parent_path(), O_RDONLY | O_DIRECTORY);
    if (current) {
        current.reset();
        // The replaced store's journal, kept by its exclusive connection under the store's name.
        std::error_code ignored;
        std::filesystem::remove(file.string() + "-journal", ignored);
    }
    report.copy.bytes = existing_store_size(file);
    return report;
}

} // namespace sandhost::store
