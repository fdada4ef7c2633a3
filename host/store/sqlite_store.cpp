// Opening the SQLite store, and reading jobs as every part of it does.
#include "store/sqlite_store_impl.h"

#include "store/sqlite_schema.h"

#include <utility>

namespace sandhost::store {
namespace sqlite {

const std::string k_expired = "expired: not started within its ttl";
const std::string k_not_started = "('waiting', 'delayed', 'blocked')";

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
    check_schema(m_db);
    try {
        m_db.configure_for_writing();
    } catch (...) {
        m_db.rethrow_as_store_error("setting up the connection");
    }
    migrate_schema(m_db);
}

void SqliteStore::load_dependencies(std::vector<model::Job>& jobs)
{
    if (jobs.size() == 1) {
        jobs.front().depends_on = dependencies_of(jobs.front().id);
        return;
    }
    if (jobs.empty()) return;
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

std::optional<model::JobState> SqliteStore::state_of(model::JobId job)
{
    Query row = m_db.query("SELECT state FROM jobs WHERE id = ?");
    row.bind(job);
    if (!row.step()) return std::nullopt;
    return model::job_state_from_string(row.bytes(0));
}

} // namespace sqlite

std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& file, const SqliteOptions& options)
{
    std::error_code ec;
    auto absolute = std::filesystem::absolute(file, ec);
    if (ec) {
        throw StoreError(file.string() + ": cannot make the path absolute: " + ec.message() + " (errno " +
                         std::to_string(ec.value()) + ")");
    }
    // Absolute, so that SQLite never reads a relative name such as "file:x" as a URI.
    return std::make_unique<sqlite::SqliteStore>(absolute.lexically_normal(), options);
}

} // namespace sandhost::store
