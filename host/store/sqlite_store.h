// The embedded store: one SQLite file (WAL mode) shared by the host and the CLI processes on
// one machine. Implements store.h; see there for what each method does.
#pragma once

#include "store/store.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

namespace sandhost::store {

// The schema this code writes. Files with a lower user_version are migrated on open; files
// with a higher one are refused.
constexpr int k_sqlite_schema_version = 5;
// PRAGMA application_id of a sandhost store ("shst"): a SQLite file with another id is not ours.
constexpr std::int32_t k_sqlite_application_id = 0x73687374;

struct SqliteOptions {
    // How long a call waits for another connection's write lock before it fails with
    // StoreError ("locked"). Transactions are short, so waiting this long means something
    // holds the file.
    model::Duration busy_timeout = std::chrono::seconds(10);

    // normal: every commit survives a crash of any process (kill -9); a power loss or an OS
    // crash may lose the last commits but never corrupts the file. full: a commit also
    // survives a power loss, at the cost of an fsync per commit.
    enum class Sync { normal, full };
    Sync sync = Sync::normal;

    // Refuse to let the database grow past this many bytes (its -wal file aside, which grows
    // to 10,000 pages between checkpoints, about 10 MiB at 1 KiB pages): the write that would
    // fails with StoreError as on a full disk (SQLITE_FULL) and changes nothing.
    std::optional<std::uint64_t> max_file_size;

    // The page size of a store file created now (a power of two, 512 to 65,536); a file that
    // exists keeps its own. Every change writes each page it touches to the -wal file whole,
    // and a job's enqueue, claim and finish touch about a dozen pages (the row, its indexes,
    // the attempt and the event): at 1 KiB they write a quarter of the bytes they write at
    // SQLite's default of 4 KiB, and a store of small jobs commits about a fifth faster.
    // Large payloads and results pay: they fill four times as many overflow pages, each written
    // on its own (docs/operating.md has figures).
    int page_size = 1024;

    // Create the file's folder (mode 0700) when it is missing. Only the host does; a command
    // that finds no folder fails, so a mistyped path never starts a store nobody serves.
    bool create_folder = false;
};

// Opens the store in `file`, creating it (mode 0600, schema included) when missing, and
// migrating an older schema. A new file appears at its path complete or not at all: it is built
// beside it and linked into place, so an empty file is never a store being born. Throws
// StoreError, leaving the file as it was, when its folder is missing (and not
// options.create_folder), the file is empty, is not a SQLite database or is corrupt, belongs to
// something else than sandhost, was written by a newer sandhost, or is locked past the busy
// timeout. The store is
// thread-safe: its calls are serialized on one connection. Any number of stores, in one
// process or many, may have the same file open.
std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& file, const SqliteOptions& options = {});

// What backup_sqlite_store and compact_sqlite_store wrote.
struct SqliteFileReport {
    std::uint64_t bytes_before = 0;  // the store file (its -wal file aside) before
    std::uint64_t bytes = 0;         // the file written, after
    int page_size = 0;               // the file written's
    int schema_version = 0;          // the file written's (a copy keeps the source's)
    std::int64_t jobs = 0;           // in the file written
};

// Writes a consistent copy of the store in `source` to `destination` while hosts and commands
// keep using the source: one read transaction (SQLite's VACUUM INTO), so writers go on and a
// checkpoint of the source waits for the copy to end. The copy is a store file complete on its
// own (no -wal file beside it), mode 0600, with `page_size` when given (else the source's), and
// it is checked (SQLite's quick_check, the schema) and synced to disk before it appears at
// `destination`; until then it is a hidden file beside it, removed on any failure. Any sandhost
// opens the copy as a store (a host migrates an older schema). Throws StoreError, writing
// nothing at `destination`, when it exists (a backup never replaces a file) or its folder does
// not, when `source` is missing or not a sandhost store, or the page size is not one SQLite
// takes. Needs free space about the size of the source in the destination's folder.
SqliteFileReport backup_sqlite_store(const std::filesystem::path& source, const std::filesystem::path& destination,
                                     std::optional<int> page_size = std::nullopt);

// backup_sqlite_store into `folder` (which must exist), as STEM-YYYYMMDDTHHMMSSZ.db (STEM: the
// store file's name without its extension; -2, -3... added for more in one second). With
// `keep`, the oldest such backups of the same store in the folder beyond the newest `keep` are
// then deleted (never another file, never the one just written): a timer's rotation.
struct SqliteFolderBackup {
    std::filesystem::path file;                  // the copy written
    SqliteFileReport report;
    std::vector<std::filesystem::path> deleted;  // older backups deleted for `keep`
};
SqliteFolderBackup backup_sqlite_store_in_folder(const std::filesystem::path& source, const std::filesystem::path& folder,
                                                 std::optional<std::size_t> keep = std::nullopt,
                                                 std::optional<int> page_size = std::nullopt);

// Rebuilds the store file in place (SQLite's VACUUM): the pages that deleted jobs freed are
// given back (a store file does not shrink after a purge by itself) and the file takes
// `page_size` when given (else it keeps its own). It needs the file to itself, and checks
// that: while any other process has it open (a host, `sandhost serve`, a command) it throws
// StoreError and changes nothing. Crash-safe: an interruption leaves the file as it was
// (SQLite's rollback journal, replayed by the next open). Also throws StoreError, changing
// nothing, when the file is missing or not a sandhost store, or the page size is not one
// SQLite takes. Needs free space about twice the file's size (a temporary copy, then the
// journal).
SqliteFileReport compact_sqlite_store(const std::filesystem::path& file, std::optional<int> page_size = std::nullopt);

// What restore_sqlite_store did.
struct SqliteRestoreReport {
    SqliteFileReport copy;                         // the file now at the store's path
    std::optional<std::filesystem::path> replaced;  // where the store it replaced is kept; none when there was none
    std::int64_t event = 0;                         // the id of the store.restored event that starts its feed again
};

// Puts a copy of the store in `backup` (a file backup_sqlite_store wrote, or any sandhost store)
// at `file`, leaving `backup` as it was. The store found at `file`, if any, is kept beside it as
// FILE.replaced-YYYYMMDDTHHMMSSZ, complete (its -wal file checkpointed into it), and the copy
// never hands out again a job or attempt id that it handed out. Needs `file` to itself, as
// compact_sqlite_store does: while any other process has it open it throws StoreError and
// changes nothing. The copy is made and checked beside `file` first and then renamed over it;
// run as root, it takes the replaced store's owner. Also throws StoreError, changing nothing,
// when `backup` is missing, is the store itself, is not a sandhost store or fails SQLite's
// check, or the store at `file` is not one (move a damaged store away first). The copy's event
// feed goes on from a store.restored event (its id in the report) above every event the
// replaced store wrote: a reader resuming by event id misses nothing written after the restore.
SqliteRestoreReport restore_sqlite_store(const std::filesystem::path& backup, const std::filesystem::path& file);

// For a process that is sandhost's alone (the `sandhost` command, the bench), called before it
// opens any store: SQLite then takes no mutex around each call on a connection (multi-thread
// mode: every store connection is used by one thread at a time, under its store's lock) and
// keeps no memory statistics (a global lock around each of its allocations). Both settings are
// the whole process's, so a program embedding sandhost (the client library) never makes this
// call: its own SQLite connections may be shared between threads. Returns false, changing
// nothing, when SQLite was already in use in the process.
bool sqlite_for_this_process_alone();

} // namespace sandhost::store
