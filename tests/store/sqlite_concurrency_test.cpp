// Several processes and threads on one store file: claims are exclusive, schedules fire once,
// and a process killed in the middle of its work leaves a consistent store behind.
#include "store/sqlite_store.h"
#include "store_test_support.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace sandhost::store {
namespace {

using namespace testing;
using model::OutcomeKind;

// Runs `body` in a child process whose exit status says whether it threw.
pid_t spawn_child(const std::function<void()>& body)
{
    const pid_t pid = fork();
    if (pid == 0) {
        int status = 0;
        try {
            body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child %d: %s\n", static_cast<int>(getpid()), e.what());
            status = 3;
        }
        std::fflush(stderr);
        _exit(status);  // no atexit handlers, no gtest teardown in the child
    }
    return pid;
}

int exit_status_of(pid_t pid)
{
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

bool eventually(const std::function<bool()>& condition, std::chrono::seconds limit = std::chrono::seconds(20))
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return condition();
}

// What the -wal file's header says: its checkpoint sequence number, which grows by one each
// time the file is started anew (https://www.sqlite.org/fileformat.html, "WAL File Format").
std::uint32_t wal_restarts(const std::filesystem::path& file)
{
    std::ifstream in(file.string() + "-wal", std::ios::binary);
    unsigned char header[16] = {};
    in.read(reinterpret_cast<char*>(header), sizeof header);
    return (std::uint32_t{header[12]} << 24) | (std::uint32_t{header[13]} << 16) | (std::uint32_t{header[14]} << 8) | header[15];
}

// A producer enqueueing job by job beside a host claiming and finishing them, as the two
// connections of two processes: one of them nearly always has a transaction open. The -wal
// file is still taken whole by a checkpoint and written again from its start, so it never
// holds much more than the 10,000 pages that start a checkpoint (1 KiB each, and a 24-byte
// header per page).
TEST(SqliteConcurrency, CommitsFromTwoConnectionsInTurnStillStartTheWalAnew)
{
    TempDir dir;
    const auto file = dir / "store.db";
    constexpr int k_jobs = 4'000;
    auto producer = open_sqlite_store(file);
    auto host = open_sqlite_store(file);
    std::thread producing([&] {
        for (int i = 0; i < k_jobs; ++i) producer->enqueue(new_job(), t(i));
    });
    int done = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (done < k_jobs && std::chrono::steady_clock::now() < deadline) {
        if (claim_and_complete(*host, {"q"}, t(k_jobs))) ++done;
    }
    producing.join();
    ASSERT_EQ(done, k_jobs);
    const auto wal_bytes = std::filesystem::file_size(file.string() + "-wal");
    EXPECT_LE(wal_bytes, 2u * 10'000 * (1024 + 24)) << "the -wal file kept growing: it was never started anew";
    EXPECT_GE(wal_restarts(file), 2u);
    RawDb raw(file);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs WHERE state = 'completed'"), k_jobs);
    EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}

// A transaction of another connection that stays open keeps a checkpoint from taking the
// -wal file whole. Commits past the mark wait for it only briefly and all succeed; once it
// ends, the file is started anew.
TEST(SqliteConcurrency, AReaderHoldingItsSnapshotNeitherFailsCommitsNorKeepsTheWalForever)
{
    TempDir dir;
    const auto file = dir / "store.db";
    auto store = open_sqlite_store(file);
    store->enqueue(new_job(), t(0));
    const auto restarts_before = wal_restarts(file);
    {
        RawDb reader(file);
        ASSERT_EQ(reader.exec("BEGIN"), 0);
        ASSERT_EQ(reader.integer("SELECT count(*) FROM jobs"), 1);  // the snapshot is taken here
        for (int i = 1; i <= 3'000; ++i) store->enqueue(new_job(), t(i));
        EXPECT_EQ(wal_restarts(file), restarts_before) << "started anew while a transaction still read it";
        EXPECT_EQ(reader.integer("SELECT count(*) FROM jobs"), 1);
        ASSERT_EQ(reader.exec("COMMIT"), 0);
    }
    for (int i = 3'001; wal_restarts(file) == restarts_before && i <= 9'000; ++i) store->enqueue(new_job(), t(i));
    EXPECT_GT(wal_restarts(file), restarts_before);
    RawDb raw(file);
    EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}

TEST(SqliteConcurrency, FourProcessesClaimEveryJobExactlyOnce)
{
    TempDir dir;
    const auto file = dir / "store.db";
    constexpr int k_jobs = 500;
    {
        auto store = open_sqlite_store(file);
        for (int i = 0; i < k_jobs; ++i) store->enqueue(new_job("q", i % 3), t(i));
    }
    // The parent holds no connection across fork: each child opens its own store.
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::vector<pid_t> children;
    for (int child = 0; child < 4; ++child) {
        children.push_back(spawn_child([&, child] {
            close(fds[0]);
            auto store = open_sqlite_store(file);
            const std::string holder = "host-" + std::to_string(child) + "/1";
            while (auto claimed = store->claim(allow({"q"}), holder, ms(60'000), t(1000))) {
                const model::JobId id = claimed->job.id;
                if (write(fds[1], &id, sizeof id) != sizeof id) throw std::runtime_error("write to the pipe failed");
                const auto record = record_of(*claimed, OutcomeKind::succeeded, t(1001));
                if (!store->finish(record, completed_with("ok"), t(1001))) {
                    throw std::runtime_error("finish refused its own live lease");
                }
            }
        }));
    }
    close(fds[1]);
    std::vector<model::JobId> claimed;
    model::JobId id = 0;
    while (read(fds[0], &id, sizeof id) == sizeof id) claimed.push_back(id);
    close(fds[0]);
    for (pid_t child : children) EXPECT_EQ(exit_status_of(child), 0);

    EXPECT_EQ(claimed.size(), static_cast<std::size_t>(k_jobs));
    EXPECT_EQ(std::set<model::JobId>(claimed.begin(), claimed.end()).size(), static_cast<std::size_t>(k_jobs))
        << "a job was claimed twice";
    RawDb raw(file);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs WHERE state = 'completed' AND attempts = 1"), k_jobs);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM attempts"), k_jobs);
}

TEST(SqliteConcurrency, ProcessesCreatingTheFileAtOnceShareOneSchema)
{
    TempDir dir;
    const auto file = dir / "new.db";
    std::vector<pid_t> children;
    for (int child = 0; child < 4; ++child) {
        children.push_back(spawn_child([&] {
            auto store = open_sqlite_store(file);
            for (int i = 0; i < 25; ++i) store->enqueue(new_job(), t(i));
        }));
    }
    for (pid_t child : children) EXPECT_EQ(exit_status_of(child), 0);
    RawDb raw(file);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs"), 100);
    EXPECT_EQ(raw.integer("PRAGMA user_version"), k_sqlite_schema_version);
    EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}

TEST(SqliteConcurrency, ScheduleFiresOncePerPeriodWhenTwoStoresRace)
{
    TempDir dir;
    const auto file = dir / "store.db";
    constexpr int k_periods = 60;
    std::vector<std::unique_ptr<Store>> stores;
    stores.push_back(open_sqlite_store(file));
    stores.push_back(open_sqlite_store(file));
    std::vector<std::vector<std::pair<int, model::JobId>>> fired(2);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
        threads.emplace_back([&, i] {
            ++ready;
            while (ready.load() < 2) std::this_thread::yield();
            for (int period = 0; period < k_periods; ++period) {
                if (auto id = stores[static_cast<std::size_t>(i)]->fire_schedule("race", t(period * 60'000),
                                                                                 new_job(), t(period * 60'000))) {
                    fired[static_cast<std::size_t>(i)].emplace_back(period, *id);
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();

    std::map<int, int> firings;
    std::set<model::JobId> ids;
    for (const auto& list : fired) {
        for (const auto& [period, id] : list) {
            ++firings[period];
            ids.insert(id);
        }
    }
    EXPECT_EQ(firings.count(0), 0u) << "the first sight fired";
    for (int period = 1; period < k_periods; ++period) EXPECT_EQ(firings[period], 1) << "period " << period;
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(k_periods - 1));
    JobFilter everything;
    everything.limit = 0;
    EXPECT_EQ(stores[0]->list(everything).size(), static_cast<std::size_t>(k_periods - 1));
}

// What must hold in a store file whatever was interrupted.
void expect_consistent(const std::filesystem::path& file, int jobs)
{
    RawDb raw(file);
    EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(raw.text("PRAGMA foreign_key_check"), "");
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs"), jobs);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs WHERE state = 'completed' AND "
                          "(result IS NULL OR attempt_id IS NOT NULL OR lease_holder IS NOT NULL)"),
              0);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs j WHERE state = 'completed' AND "
                          "(SELECT count(*) FROM attempts a WHERE a.job_id = j.id AND a.outcome = 'succeeded') <> 1"),
              0)
        << "a completed job without exactly one succeeded attempt";
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs j WHERE state = 'active' AND NOT EXISTS "
                          "(SELECT 1 FROM attempts a WHERE a.attempt_id = j.attempt_id AND a.outcome IS NULL)"),
              0)
        << "an active job whose running attempt is not recorded";
    EXPECT_EQ(raw.integer("SELECT count(*) FROM attempts a LEFT JOIN jobs j ON j.id = a.job_id "
                          "WHERE a.outcome IS NULL AND (j.state IS NOT 'active' OR j.attempt_id <> a.attempt_id)"),
              0)
        << "an attempt still running for a job that is not running it";
    EXPECT_EQ(raw.integer("SELECT count(*) FROM jobs j WHERE attempts <> "
                          "(SELECT count(*) FROM attempts a WHERE a.job_id = j.id)"),
              0)
        << "attempt counters and attempt rows disagree";
}

TEST(SqliteConcurrency, AProcessKilledMidWorkLeavesAConsistentStore)
{
    TempDir dir;
    const auto file = dir / "store.db";
    constexpr int k_jobs = 300;
    {
        auto store = open_sqlite_store(file);
        for (int i = 0; i < k_jobs; ++i) store->enqueue(new_job(), t(i));
    }
    for (int round = 0; round < 3; ++round) {
        std::int64_t attempts_before = 0;
        {
            RawDb raw(file);
            attempts_before = raw.integer("SELECT count(*) FROM attempts");
        }
        const pid_t child = spawn_child([&] {
            auto store = open_sqlite_store(file);
            const std::string holder = "crasher/" + std::to_string(round);
            for (int n = 0;; ++n) {
                auto claimed = store->claim(allow({"q"}), holder, ms(10'000), t(1000 + round));
                if (!claimed) break;
                if (n % 7 == 6) continue;  // left running, as a crash leaves it
                if (n % 3 == 2) {
                    store->finish(record_of(*claimed, OutcomeKind::failed, t(1001)), to(model::JobState::waiting), t(1001));
                } else {
                    auto record = record_of(*claimed, OutcomeKind::succeeded, t(1001));
                    record.outcome.result = std::string(2000, 'r');
                    store->finish(record, completed_with(record.outcome.result), t(1001));
                }
            }
            pause();  // ran out of work before the kill: wait for it
        });
        ASSERT_GT(child, 0);
        const bool busy = eventually([&] {
            RawDb raw(file);
            return raw.integer("SELECT count(*) FROM attempts") >= attempts_before + 40;
        });
        kill(child, SIGKILL);
        EXPECT_EQ(exit_status_of(child), 128 + SIGKILL);
        ASSERT_TRUE(busy) << "the child made no progress";
        expect_consistent(file, k_jobs);
    }

    // And usable: the lost attempts are recovered and every job ends.
    auto store = open_sqlite_store(file);
    const model::TimePoint later = t(1'000'000);
    for (const auto& lost : store->lost_attempts("checker", "checker/1", later)) {
        model::AttemptRecord record;
        record.job_id = lost.job.id;
        record.attempt_id = lost.attempt_id;
        record.number = lost.number;
        record.host = lost.job.lease->holder;
        record.outcome.kind = OutcomeKind::worker_lost;
        Transition again = to(model::JobState::waiting);
        again.counts_as_lost = true;
        EXPECT_TRUE(store->recover(record, again, later));
    }
    while (claim_and_complete(*store, {"q"}, later)) {
    }
    EXPECT_EQ(store->queue_counts({})["q"].by_state[model::JobState::completed], static_cast<std::uint64_t>(k_jobs));
    expect_consistent(file, k_jobs);
}

// A store reads some facts once per transaction (whether any job has dependencies, the paused
// queues): what another connection changes between two of its transactions is seen by the next.
TEST(SqliteConcurrency, WhatAnotherStoreChangedIsSeenByTheNextTransaction)
{
    TempDir dir;
    const auto file = dir / "store.db";
    auto host = open_sqlite_store(file);
    auto other = open_sqlite_store(file);
    const model::JobId parent = host->enqueue(new_job(), t(0));
    const Claim claimed = claim_one(*host, "q", t(1));  // a transaction that found no dependencies
    ASSERT_EQ(claimed.job.id, parent);
    EXPECT_TRUE(claimed.job.depends_on.empty());

    model::NewJob child_job = new_job();
    child_job.depends_on = {parent};
    const model::JobId child = other->enqueue(child_job, t(2));
    EXPECT_EQ(job_of(*host, child).state, model::JobState::blocked);
    host->finish(record_of(claimed, OutcomeKind::succeeded, t(3)), completed_with("1"), t(3));
    EXPECT_EQ(job_of(*host, child).state, model::JobState::waiting) << "the parent's end unblocked its new dependent";

    other->set_paused("q", true);
    EXPECT_FALSE(host->claim(allow({"q"}), "host/1", ms(10'000), t(4))) << "the queue paused since the last claim";
    other->set_paused("q", false);
    const auto batch = host->claim_batch(allow({"q"}), "host/1", ms(10'000), t(5), 4);
    ASSERT_EQ(batch.size(), 1u);
    EXPECT_EQ(batch.front().job.id, child);
    EXPECT_EQ(batch.front().job.depends_on, std::vector<model::JobId>{parent}) << "a claim reads its job's dependencies";
}

} // namespace
} // namespace sandhost::store
