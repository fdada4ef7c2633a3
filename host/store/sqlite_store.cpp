// Opening the SQLite store, and reading jobs as every part of it does.
#include "store/sqlite_store_impl.h"

#include "store/sqlite_schema.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

namespace sandhost::store {
namespace sqlite {

const std::string k_expired = "expired: not started within its ttl";

namespace {

const std::string k_job_columns =
    "id, queue, task, payload, priority, state, created_at, updated_at, run_at, ttl_ms, expires_at, timeout_ms, "
    "max_attempts, attempts, attempts_since_retry, lost, result, error, progress_percent, progress_message, "
    "attempt_id, lease_holder, lease_expires_at, cancel_requested, schedule, idempotency_key";
} // namespace

const std::string k_select_jobs = "SELECT " + k_job_columns + " FROM jobs ";

model::Job job_from_row(const Query& row)
{
    model::Job job;
    job.id = row.int64(0);
    job.queue = row.bytes(1);
    job.task = row.bytes(2);
    job.payload = row.bytes(3);
    job.priority = static_cast<int>(row.int64(4));
    // The CHECK constraint admits only the seven names.
    job.state = model::job_state_from_string(row.bytes(5)).value_or(model::JobState::dead);
    job.created_at = from_millis(row.int64(6));
    job.updated_at = from_millis(row.int64(7));
    job.run_at = from_millis(row.int64(8));
    if (auto ttl_ms = row.optional_int64(9)) job.ttl = model::Duration(*ttl_ms);
    if (auto expires_at = row.optional_int64(10)) job.expires_at = from_millis(*expires_at);
    if (auto timeout_ms = row.optional_int64(11)) job.timeout = model::Duration(*timeout_ms);
    if (auto max_attempts = row.optional_int64(12)) job.max_attempts = static_cast<std::uint32_t>(*max_attempts);
    job.attempts = static_cast<std::uint32_t>(row.int64(13));
    job.attempts_since_retry = static_cast<std::uint32_t>(row.int64(14));
    job.lost = static_cast<std::uint32_t>(row.int64(15));
    job.result = row.optional_bytes(16);
    job.error = row.optional_bytes(17);
    if (auto percent = row.optional_real(18)) job.progress = model::Progress{*percent, row.bytes(19)};
    const auto attempt_id = row.optional_int64(20);
    const auto holder = row.optional_bytes(21);
    const auto lease_expires_at = row.optional_int64(22);
    if (job.state == model::JobState::active && attempt_id && holder && lease_expires_at) {
        job.lease = model::Lease{*holder, from_millis(*lease_expires_at), *attempt_id};
    }
    job.cancel_requested = row.int64(23) != 0;
    job.schedule = row.bytes(24);
    job.key = row.optional_bytes(25);
    return job;
}

std::string json_ids(const std::vector<model::JobId>& ids)
{
    std::string out = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(ids[i]);
    }
    return out + "]";
}

SqliteStore::SqliteStore(std::filesystem::path file, const SqliteOptions& options) : m_db(std::move(file), options)
{
    int error = 0;
    if (const auto st = stat_of(m_db.file(), error)) {
        m_identity = {static_cast<std::uint64_t>(st->st_dev), static_cast<std::uint64_t>(st->st_ino)};
    } else {
        throw StoreError(m_db.file().string() + ": cannot read the file's status: " + errno_text(error));
    }
    check_schema(m_db);
    try {
        m_db.configure_for_writing();
    } catch (...) {
        m_db.rethrow_as_store_error("setting up the connection");
    }
    migrate_schema(m_db);
}

SqliteStore::TransactionFacts& SqliteStore::transaction_facts()
{
    const std::uint64_t serial = m_db.transaction_serial();
    if (serial == 0 || serial != m_facts.serial) m_facts = TransactionFacts{serial, std::nullopt, std::nullopt};
    return m_facts;
}

bool SqliteStore::any_dependencies()
{
    auto& facts = transaction_facts();
    if (facts.serial == 0) return true;  // no snapshot to keep the answer in: ask per job
    if (!facts.any_dependencies) facts.any_dependencies = first_int("SELECT 1 FROM job_dependencies LIMIT 1").has_value();
    return *facts.any_dependencies;
}

const std::set<std::string>& SqliteStore::paused_queue_set()
{
    auto& facts = transaction_facts();
    if (!facts.paused) {
        const auto paused = texts("SELECT queue FROM paused_queues");
        facts.paused.emplace(paused.begin(), paused.end());
    }
    return *facts.paused;
}

void SqliteStore::load_dependencies(std::vector<model::Job>& jobs)
{
    if (jobs.empty() || !any_dependencies()) return;
    if (jobs.size() == 1) {
        jobs.front().depends_on = dependencies_of(jobs.front().id);
        return;
    }
    std::vector<model::JobId> ids;
    for (const auto& job : jobs) ids.push_back(job.id);
    std::map<model::JobId, std::vector<model::JobId>> by_job;
    {
        Query row = m_db.query("SELECT job_id, depends_on FROM job_dependencies "
                               "WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY job_id, position");
        row.bind(json_ids(ids));
        while (row.step()) by_job[row.int64(0)].push_back(row.int64(1));
    }
    for (auto& job : jobs) {
        if (auto found = by_job.find(job.id); found != by_job.end()) job.depends_on = found->second;
    }
}

std::optional<std::string> SqliteStore::vanished()
{
    const auto& file = m_db.file();
    int error = 0;
    const auto st = stat_of(file, error);
    if (!st) {
        if (error != ENOENT) return std::nullopt;  // unreadable for a moment is not gone
        int folder_error = 0;
        if (!stat_of(file.parent_path(), folder_error)) {
            return file.string() + ": its folder " + file.parent_path().string() + " was removed";
        }
        return file.string() + ": the file was deleted";
    }
    if (std::pair<std::uint64_t, std::uint64_t>{static_cast<std::uint64_t>(st->st_dev), static_cast<std::uint64_t>(st->st_ino)} !=
        m_identity) {
        return file.string() + ": the file was replaced by another one";
    }
    if (st->st_size == 0) return file.string() + ": the file was emptied (0 bytes)";
    return std::nullopt;
}

std::optional<StoreSize> SqliteStore::size()
{
    return serialized("reading the store's size", [&]() -> std::optional<StoreSize> {
        StoreSize out;
        int error = 0;
        if (const auto st = stat_of(m_db.file(), error)) out.file_bytes = static_cast<std::uint64_t>(st->st_size);
        if (const auto st = stat_of(m_db.file().string() + "-wal", error)) out.wal_bytes = static_cast<std::uint64_t>(st->st_size);
        // Both from the file's header, in one snapshot.
        Transaction transaction(m_db, TransactionKind::read);
        const auto free_pages = first_int("PRAGMA freelist_count").value_or(0);
        const auto page_size = first_int("PRAGMA page_size").value_or(0);
        transaction.commit();
        out.free_bytes = static_cast<std::uint64_t>(free_pages * page_size);
        return out;
    });
}

std::optional<model::JobState> SqliteStore::state_of(model::JobId job)
{
    Query row = m_db.query("SELECT state FROM jobs WHERE id = ?");
    row.bind(job);
    if (!row.step()) return std::nullopt;
    return model::job_state_from_string(row.bytes(0));
}

} // namespace sqlite

namespace {

void make_folder(const std::filesystem::path& file, const SqliteOptions& options)
{
    const auto folder = file.parent_path();
    int error = 0;
    if (const auto st = sqlite::stat_of(folder, error)) {
        if (!S_ISDIR(st->st_mode)) throw StoreError(file.string() + ": " + folder.string() + " is not a folder");
        return;
    }
    if (error != ENOENT) throw StoreError(file.string() + ": cannot read its folder " + folder.string() + ": " + sqlite::errno_text(error));
    if (!options.create_folder) {
        throw StoreError(file.string() + ": its folder " + folder.string() +
                         " does not exist (sandhost run creates it on first start; other commands do not)");
    }
    std::error_code ec;
    std::filesystem::create_directories(folder.parent_path(), ec);
    if (!ec && ::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) ec = std::error_code(errno, std::generic_category());
    if (ec) {
        throw StoreError(file.string() + ": cannot create its folder " + folder.string() + ": " + ec.message() + " (errno " +
                         std::to_string(ec.value()) + ")");
    }
}

// A new store is built beside its path and linked into place (link never replaces): the path
// holds a complete store or nothing, whoever else is creating it at the same moment.
void create_store_file(const std::filesystem::path& file, const SqliteOptions& options)
{
    std::random_device random;
    const auto temporary = file.parent_path() / ("." + file.filename().string() + ".new-" + std::to_string(::getpid()) + "-" +
                                                 std::to_string(random()));
    const int fd = ::open(temporary.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) throw StoreError(file.string() + ": cannot create the store: " + sqlite::errno_text(errno));
    ::close(fd);
    try {
        sqlite::SqliteStore built(temporary, options);
    } catch (...) {
        std::error_code ignored;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(temporary.string() + suffix, ignored);
        throw;
    }
    const int linked = ::link(temporary.c_str(), file.c_str());
    const int link_error = errno;
    ::unlink(temporary.c_str());
    if (linked != 0 && link_error != EEXIST) {
        throw StoreError(file.string() + ": cannot put the new store in place: " + sqlite::errno_text(link_error));
    }
}

void prepare_file(const std::filesystem::path& file, const SqliteOptions& options)
{
    make_folder(file, options);
    int error = 0;
    const auto st = sqlite::stat_of(file, error);
    if (!st) {
        if (error != ENOENT) throw StoreError(file.string() + ": cannot read the file: " + sqlite::errno_text(error));
        create_store_file(file, options);
        return;
    }
    if (st->st_size == 0) {
        throw StoreError(file.string() + " is empty (0 bytes), so it is not a sandhost store; a store is never created in place, "
                                         "so if it was one it was truncated: restore it from a backup, or delete it to start "
                                         "an empty store");
    }
}

} // namespace

std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& file, const SqliteOptions& options)
{
    std::error_code ec;
    auto absolute = std::filesystem::absolute(file, ec);
    if (ec) {
        throw StoreError(file.string() + ": cannot make the path absolute: " + ec.message() + " (errno " +
                         std::to_string(ec.value()) + ")");
    }
    sqlite::check_page_size(file, options.page_size);
    // Absolute, so that SQLite never reads a relative name such as "file:x" as a URI.
    const auto path = absolute.lexically_normal();
    prepare_file(path, options);
    return std::make_unique<sqlite::SqliteStore>(path, options);
}

bool sqlite_for_this_process_alone()
{
    // Each is refused (SQLITE_MISUSE) once SQLite is initialised, and then changes nothing.
    const bool threads = sqlite3_config(SQLITE_CONFIG_MULTITHREAD) == SQLITE_OK;
    const bool statistics = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
    return threads && statistics;
}

} // namespace sandhost::store
