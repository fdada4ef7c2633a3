// What the store tests share: temporary directories, fixed clocks, jobs and attempt records
// made in one line, the fixture of the tests that hold for every Store implementation, and raw
// SQLite access to look at (or tamper with) a store file.
#pragma once

#include "redis_server.h"
#include "store/redis_store.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

struct sqlite3;

namespace sandhost::store::testing {

using sandhost::testing::TempDir;  // from tests/support

// Tests run on a fixed clock: t(0) is a moment in 2023, t(n) n milliseconds later.
model::TimePoint t(std::int64_t millis);
inline model::Duration ms(std::int64_t millis) { return model::Duration(millis); }

model::NewJob new_job(const std::string& queue = "q", int priority = 0);
std::vector<QueueAllowance> allow(const std::vector<std::string>& queues);
// `queue`, for the tasks that `patterns` allow.
QueueAllowance allow_tasks(const std::string& queue, const std::vector<std::string>& patterns);

// The record of the attempt `claim` started, ending with `kind` at `ended`.
model::AttemptRecord record_of(const Claim& claim, model::OutcomeKind kind, model::TimePoint ended);
Transition to(model::JobState next);
Transition completed_with(const std::string& result);

// Claims from `queues` and finishes as completed; false when nothing was runnable.
bool claim_and_complete(Store& store, const std::vector<std::string>& queues, model::TimePoint now);

// The job as stored; throws when there is none.
model::Job job_of(Store& store, model::JobId id);
// Claims from `queue` (any task) with a 10 s lease; throws when nothing is runnable.
Claim claim_one(Store& store, const std::string& queue, model::TimePoint now, const std::string& holder = "host/1");

// A Store implementation the contract tests run on: its name in the test names, and how to
// open it in a fresh directory. Opened again on the same directory, it is another client of
// the same store (another process, another host).
struct StoreKind {
    std::string name;
    std::function<std::unique_ptr<Store>(const std::filesystem::path& dir)> open;
    // Records events and honours idempotency keys (both stores do).
    bool events_and_keys = true;
    // Runs on the test process's redis-server: skipped when none is installed.
    bool needs_redis_server = false;
};
// SQLite, and Redis on a server of this test process's own.
std::vector<StoreKind> store_kinds();
// The one named `name` of store_kinds().
std::vector<StoreKind> store_kind(const std::string& name);

// The Redis server of this test process, started on first use; and the options of a store
// whose keys live under a prefix of `dir`'s own (so that two stores opened on one `dir` are
// two clients of one store, as two SQLite stores on one file are).
sandhost::testing::RedisServer& test_redis_server();
RedisOptions redis_options_for(const std::filesystem::path& dir);
// By name, in gtest's messages and in the test names ("Stores/Suite.Test/sqlite"), so that
// `ctest -R /redis` runs one store's tests.
inline void PrintTo(const StoreKind& kind, std::ostream* out) { *out << kind.name; }
inline std::string store_kind_name(const ::testing::TestParamInfo<StoreKind>& info) { return info.param.name; }

// Tests of the contract in store.h, through Store& alone, on a fresh store of each kind and a
// fixed clock. A suite derives from it and is instantiated with
// INSTANTIATE_TEST_SUITE_P(Stores, Suite, ::testing::ValuesIn(store_kinds()), store_kind_name).
class StoreTest : public ::testing::TestWithParam<StoreKind> {
protected:
    // Opens the store; a suite's own SetUp calls it first and returns when the test IsSkipped().
    void SetUp() override
    {
        if (GetParam().needs_redis_server) SANDHOST_SKIP_WITHOUT_REDIS_SERVER();
        m_store = GetParam().open(m_dir.path());
    }
    Store& store() { return *m_store; }
    std::unique_ptr<Store> open_another() { return GetParam().open(m_dir.path()); }
    model::Job job(model::JobId id) { return job_of(*m_store, id); }
    Claim claim_one(const std::string& queue, model::TimePoint now, const std::string& holder = "host/1")
    {
        return testing::claim_one(*m_store, queue, now, holder);
    }

    TempDir m_dir;
    std::unique_ptr<Store> m_store;
};

// The message of the StoreError `action` throws; fails the test when it throws none.
std::string store_error_of(const std::function<void()>& action);

std::string read_bytes(const std::filesystem::path& file);
void write_bytes(const std::filesystem::path& file, const std::string& bytes);

// A plain SQLite connection, without the store in between. Fails the test on errors.
class RawDb {
public:
    explicit RawDb(const std::filesystem::path& file);
    ~RawDb();
    RawDb(const RawDb&) = delete;
    RawDb& operator=(const RawDb&) = delete;

    // SQLite's result code.
    int exec(const std::string& sql);
    std::int64_t integer(const std::string& sql);
    std::string text(const std::string& sql);

private:
    sqlite3* m_db = nullptr;
};

} // namespace sandhost::store::testing

namespace sandhost::model {
// gtest prints states by name.
inline void PrintTo(JobState state, std::ostream* out) { *out << to_string(state); }
} // namespace sandhost::model
