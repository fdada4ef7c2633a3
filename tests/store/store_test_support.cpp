#include "store_test_support.h"

#include "redis_server.h"
#include "store/redis_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sandhost::store::testing {

model::TimePoint t(std::int64_t millis)
{
    return model::TimePoint(std::chrono::milliseconds(1'700'000'000'000 + millis));
}

model::NewJob new_job(const std::string& queue, int priority)
{
    model::NewJob job;
    job.queue = queue;
    job.task = "plugin.task";
    job.payload = "{}";
    job.priority = priority;
    return job;
}

std::vector<QueueAllowance> allow(const std::vector<std::string>& queues)
{
    std::vector<QueueAllowance> out;
    for (const auto& queue : queues) out.push_back(QueueAllowance{queue, {}, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
    return out;
}

QueueAllowance allow_tasks(const std::string& queue, const std::vector<std::string>& patterns)
{
    return QueueAllowance{queue, patterns, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
}

model::AttemptRecord record_of(const Claim& claim, model::OutcomeKind kind, model::TimePoint ended)
{
    model::AttemptRecord record;
    record.job_id = claim.job.id;
    record.attempt_id = claim.attempt_id;
    record.number = claim.number;
    record.host = claim.job.lease ? claim.job.lease->holder : "";
    record.outcome.kind = kind;
    record.outcome.started_at = claim.job.updated_at;
    record.outcome.ended_at = ended;
    record.outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(ended - claim.job.updated_at);
    record.outcome.pid = 4242;
    return record;
}

Transition to(model::JobState next)
{
    Transition transition;
    transition.next = next;
    return transition;
}

Transition completed_with(const std::string& result)
{
    Transition transition;
    transition.next = model::JobState::completed;
    transition.result = result;
    return transition;
}

bool claim_and_complete(Store& store, const std::vector<std::string>& queues, model::TimePoint now)
{
    auto claim = store.claim(allow(queues), "host/1", ms(30'000), now);
    if (!claim) return false;
    auto record = record_of(*claim, model::OutcomeKind::succeeded, now);
    record.outcome.result = "done " + std::to_string(claim->job.id);
    if (!store.finish(record, completed_with(record.outcome.result), now)) {
        throw std::runtime_error("finish refused a live lease");
    }
    return true;
}

model::Job job_of(Store& store, model::JobId id)
{
    auto found = store.get(id);
    if (!found) throw std::runtime_error("no job " + std::to_string(id));
    return *found;
}

Claim claim_one(Store& store, const std::string& queue, model::TimePoint now, const std::string& holder)
{
    auto claimed = store.claim(allow({queue}), holder, ms(10'000), now);
    if (!claimed) throw std::runtime_error("nothing to claim in " + queue);
    return *claimed;
}

sandhost::testing::RedisServer& test_redis_server()
{
    // One server for the whole test process (started on first use, killed at exit); each test
    // keeps its keys under a prefix of its own.
    static sandhost::testing::RedisServer server;
    return server;
}

RedisOptions redis_options_for(const std::filesystem::path& dir)
{
    RedisOptions options;
    options.port = test_redis_server().port();
    options.prefix = "test-" + dir.filename().string() + ":";
    return options;
}

std::vector<StoreKind> store_kinds()
{
    return {StoreKind{"sqlite", [](const std::filesystem::path& dir) { return open_sqlite_store(dir / "store.db"); }, true},
            StoreKind{"redis", [](const std::filesystem::path& dir) -> std::unique_ptr<Store> {
                          return open_redis_store(redis_options_for(dir));
                      }, true, true}};
}

std::vector<StoreKind> store_kind(const std::string& name)
{
    std::vector<StoreKind> kinds;
    for (auto& kind : store_kinds()) {
        if (kind.name == name) kinds.push_back(std::move(kind));
    }
    return kinds;
}

std::string store_error_of(const std::function<void()>& action)
{
    try {
        action();
    } catch (const StoreError& e) {
        return e.what();
    }
    ADD_FAILURE() << "no StoreError";
    return {};
}

std::string read_bytes(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_bytes(const std::filesystem::path& file, const std::string& bytes)
{
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << bytes;
}

RawDb::RawDb(const std::filesystem::path& file)
{
    if (sqlite3_open(file.c_str(), &m_db) != SQLITE_OK) ADD_FAILURE() << "sqlite3_open " << file;
    sqlite3_busy_timeout(m_db, 5000);
}

RawDb::~RawDb()
{
    sqlite3_close(m_db);
}

int RawDb::exec(const std::string& sql)
{
    char* error = nullptr;
    const int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &error);
    sqlite3_free(error);
    return rc;
}

std::int64_t RawDb::integer(const std::string& sql)
{
    sqlite3_stmt* statement = nullptr;
    std::int64_t value = -1;
    if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
        ADD_FAILURE() << sql << ": " << sqlite3_errmsg(m_db);
        return value;
    }
    if (sqlite3_step(statement) == SQLITE_ROW) value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return value;
}

std::string RawDb::text(const std::string& sql)
{
    sqlite3_stmt* statement = nullptr;
    std::string value;
    if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
        ADD_FAILURE() << sql << ": " << sqlite3_errmsg(m_db);
        return value;
    }
    if (sqlite3_step(statement) == SQLITE_ROW) {
        if (auto text = sqlite3_column_text(statement, 0)) value = reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(statement);
    return value;
}

} // namespace sandhost::store::testing
