#include "store_floor.h"

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>

namespace sandhost::bench {
namespace {

double cpu_us()
{
    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);
    return static_cast<double>(self.ru_utime.tv_sec + self.ru_stime.tv_sec) * 1e6 + static_cast<double>(self.ru_utime.tv_usec + self.ru_stime.tv_usec);
}

class Db {
public:
    // page_size: for the connection that makes the file (0 for the others).
    Db(const std::filesystem::path& file, int page_size)
    {
        if (sqlite3_open(file.c_str(), &m_db) != SQLITE_OK) throw std::runtime_error("store floor: cannot open " + file.string());
        sqlite3_busy_timeout(m_db, 5000);
        if (page_size > 0) exec(("PRAGMA page_size = " + std::to_string(page_size)).c_str());
        exec("PRAGMA journal_mode = WAL");
        exec("PRAGMA synchronous = NORMAL");
    }
    ~Db()
    {
        for (auto* s : m_statements) sqlite3_finalize(s);
        sqlite3_close(m_db);
    }
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    void exec(const char* sql)
    {
        char* error = nullptr;
        if (sqlite3_exec(m_db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
            const std::string message = error ? error : "?";
            sqlite3_free(error);
            throw std::runtime_error(std::string("store floor: ") + sql + ": " + message);
        }
    }
    sqlite3_stmt* prepare(const char* sql)
    {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
            throw std::runtime_error(std::string("store floor: ") + sql + ": " + sqlite3_errmsg(m_db));
        }
        m_statements.push_back(s);
        return s;
    }
    // Runs s to its end; the value of its first column in its first row, if any.
    bool run(sqlite3_stmt* s, long long* first = nullptr, std::string* second = nullptr)
    {
        bool row = false;
        for (;;) {
            const int rc = sqlite3_step(s);
            if (rc == SQLITE_ROW) {
                if (!row && first) *first = sqlite3_column_int64(s, 0);
                if (!row && second) *second = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
                row = true;
                continue;
            }
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            if (rc != SQLITE_DONE) throw std::runtime_error(std::string("store floor: ") + sqlite3_errmsg(m_db));
            return row;
        }
    }

private:
    sqlite3* m_db = nullptr;
    std::vector<sqlite3_stmt*> m_statements;
};

} // namespace

StoreFloor measure_store_floor(const std::filesystem::path& folder, int jobs, int page_size)
{
    const auto file = folder / "floor.db";
    Db producer(file, page_size);
    producer.exec("CREATE TABLE jobs (id INTEGER PRIMARY KEY, state INTEGER NOT NULL, payload TEXT NOT NULL, result TEXT)");
    producer.exec("CREATE INDEX jobs_by_state ON jobs (state, id)");
    Db consumer(file, 0);
    auto* begin_p = producer.prepare("BEGIN IMMEDIATE");
    auto* insert = producer.prepare("INSERT INTO jobs (state, payload) VALUES (0, ?1)");
    auto* commit_p = producer.prepare("COMMIT");
    auto* begin_c = consumer.prepare("BEGIN IMMEDIATE");
    auto* finish = consumer.prepare("UPDATE jobs SET state = 2, result = ?2 WHERE id = ?1");
    auto* claim = consumer.prepare(
        "UPDATE jobs SET state = 1 WHERE id = (SELECT id FROM jobs WHERE state = 0 ORDER BY id LIMIT 1) RETURNING id, payload");
    auto* commit_c = consumer.prepare("COMMIT");

    std::mutex mutex;
    std::condition_variable enqueued;
    int produced = 0;
    const double cpu_before = cpu_us();
    const auto start = std::chrono::steady_clock::now();
    std::thread producing([&] {
        for (int i = 0; i < jobs; ++i) {
            const std::string payload = std::to_string(i);
            producer.run(begin_p);
            sqlite3_bind_text(insert, 1, payload.c_str(), -1, SQLITE_TRANSIENT);
            producer.run(insert);
            producer.run(commit_p);
            std::lock_guard lock(mutex);
            ++produced;
            enqueued.notify_one();
        }
    });
    long long held = 0;  // the job whose result is not recorded yet
    std::string result;
    int done = 0;
    while (done < jobs) {
        consumer.run(begin_c);
        if (held) {
            sqlite3_bind_int64(finish, 1, held);
            sqlite3_bind_text(finish, 2, result.c_str(), -1, SQLITE_TRANSIENT);
            consumer.run(finish);
            ++done;
            held = 0;
        }
        long long id = 0;
        std::string payload;
        const bool claimed = done < jobs && consumer.run(claim, &id, &payload);
        consumer.run(commit_c);
        if (claimed) {
            held = id;
            result = std::to_string(std::strtoll(payload.c_str(), nullptr, 10) + 1);
            if (result != std::to_string(id)) throw std::runtime_error("store floor: job " + std::to_string(id) + " answered " + result);
            continue;
        }
        std::unique_lock lock(mutex);
        enqueued.wait_for(lock, std::chrono::milliseconds(5), [&] { return produced > done; });
    }
    producing.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return {jobs / seconds, (cpu_us() - cpu_before) / jobs};
}

} // namespace sandhost::bench
