// What the store tests share: temporary directories, fixed clocks, jobs and attempt records
// made in one line, and raw SQLite access to look at (or tamper with) a store file.
#pragma once

#include "store/sqlite_store.h"
#include "store/store.h"
#include "test_support.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
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

// The record of the attempt `claim` started, ending with `kind` at `ended`.
model::AttemptRecord record_of(const Claim& claim, model::OutcomeKind kind, model::TimePoint ended);
Transition to(model::JobState next);
Transition completed_with(const std::string& result);

// Claims from `queues` and finishes as completed; false when nothing was runnable.
bool claim_and_complete(Store& store, const std::vector<std::string>& queues, model::TimePoint now);

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
