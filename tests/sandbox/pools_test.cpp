// The long-lived workers of the fork and reuse modes, and plugins that keep failing.
#include "os/file_security.h"
#include "os/proc.h"
#include "sandbox/sandbox.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <thread>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

using namespace std::chrono_literals;
namespace t = sandhost::testing;

AttemptSpec spec(model::Mode mode, const std::string& task, const std::string& payload = "{}")
{
    AttemptSpec s;
    s.plugin_path = t::plugin("misbehave");
    s.task = task;
    s.payload = payload;
    s.settings.mode = mode;
    s.settings.timeout = 20s;
    s.settings.grace = 500ms;
    return s;
}


// The worker processes we started with `role` on their command line (not the children a fork
// server forked, which carry its command line).
std::vector<pid_t> with_role(const std::string& role)
{
    std::vector<pid_t> found;
    for (pid_t pid : os::children_of(::getpid())) {
        const auto state = os::process_state(pid);
        if (state && *state != 'Z' && os::read_cmdline(pid).find("--role " + role) != std::string::npos) found.push_back(pid);
    }
    return found;
}

class Pools : public ::testing::Test {
public:
    model::Outcome run(const AttemptSpec& s) { return m_sandbox->run_attempt(s); }

protected:
    Sandbox& sandbox() { return *m_sandbox; }
    void TearDown() override
    {
        m_sandbox.reset();
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }

    std::unique_ptr<Sandbox> m_sandbox = std::make_unique<Sandbox>(t::worker_config(process::LauncherKind::posix_spawn));
};

TEST_F(Pools, ReuseServesSeveralJobsFromOneWorkerThenRecyclesIt)
{
    auto s = spec(model::Mode::reuse, "echo", "[1]");
    s.settings.reuse.max_jobs_per_worker = 3;
    std::vector<std::int64_t> pids;
    for (int i = 0; i < 4; ++i) {
        const auto o = run(s);
        ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << to_json(o);
        EXPECT_EQ(o.isolation, "reuse");
        pids.push_back(*o.pid);
    }
    EXPECT_EQ(pids[0], pids[1]);
    EXPECT_EQ(pids[1], pids[2]);
    EXPECT_NE(pids[2], pids[3]) << "a worker past max_jobs_per_worker must be replaced";
}

// How often a process's threads slept waiting (their voluntary context switches).
std::uint64_t sleeps_of(pid_t pid)
{
    std::uint64_t sleeps = 0;
    const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
        std::ifstream status(task.path() / "status");
        std::string line;
        bool found = false;
        while (std::getline(status, line)) {
            if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
                sleeps += std::stoull(line.substr(line.find(':') + 1));
                found = true;
            }
        }
        if (!found) ADD_FAILURE() << "no voluntary_ctxt_switches for " << task.path();
    }
    return sleeps;
}

// How often one reused worker's threads slept over `jobs` jobs of `s` after its first.
std::optional<std::uint64_t> sleeps_over_jobs(Sandbox& sandbox, const AttemptSpec& s, int jobs)
{
    CancelToken token;  // as a host passes one
    const auto first = sandbox.run_attempt(s, nullptr, &token);
    EXPECT_TRUE(first.succeeded()) << first.error;
    if (!first.succeeded() || !first.pid) return std::nullopt;
    const auto worker = static_cast<pid_t>(*first.pid);
    const auto before = sleeps_of(worker);
    for (int i = 0; i < jobs; ++i) {
        const auto o = sandbox.run_attempt(s, nullptr, &token);
        EXPECT_TRUE(o.succeeded()) << o.error;
        EXPECT_EQ(o.pid, first.pid);
        if (!o.succeeded() || o.pid != first.pid) return std::nullopt;
    }
    return sleeps_of(worker) - before;
}

TEST_F(Pools, AReusedWorkerSleepsAtMostOnceAJob)
{
    // Between two jobs a reused worker sleeps until the next one arrives: once at most (not at
    // all when the next job is already there). Sleeping in recv on its channel, it was also
    // woken each time the host read its result, only to sleep again: 1.1-1.7 sleeps a job.
    auto s = spec(model::Mode::reuse, "echo");
    s.settings.reuse.max_jobs_per_worker = 1000;
    constexpr int jobs = 300;
    const auto sleeps = sleeps_over_jobs(sandbox(), s, jobs);
    ASSERT_TRUE(sleeps);
    EXPECT_LE(*sleeps, std::uint64_t{jobs});
}

TEST_F(Pools, AReusedWorkersLeaseWatchSleepsThroughShortJobs)
{
    // Every job a host runs has a lease, which a thread of the worker watches. Woken as each
    // job began and ended, it slept twice a job more and halved reuse's throughput; now it
    // sleeps until a lease would run out (or, with none running, until a job wakes it).
    auto s = spec(model::Mode::reuse, "echo");
    s.settings.reuse.max_jobs_per_worker = 1000;
    s.lease = std::chrono::seconds(60);
    constexpr int jobs = 300;
    const auto sleeps = sleeps_over_jobs(sandbox(), s, jobs);
    ASSERT_TRUE(sleeps);
    // The main thread's one sleep a job, and a few of the watch's (a job that began while it
    // slept without a lease).
    EXPECT_LE(*sleeps, std::uint64_t{jobs} + jobs / 10);
}

TEST_F(Pools, ReuseNeverHandsOnAWorkerAfterAFailure)
{
    const auto first = run(spec(model::Mode::reuse, "echo"));
    const auto failed = run(spec(model::Mode::reuse, "fail", R"({"message":"x"})"));
    const auto after = run(spec(model::Mode::reuse, "echo"));
    ASSERT_EQ(failed.kind, model::OutcomeKind::failed);
    EXPECT_EQ(first.pid, failed.pid) << "the idle worker took the failing job";
    EXPECT_NE(failed.pid, after.pid) << "a worker whose task failed must not get another job";
    const auto crashed = run(spec(model::Mode::reuse, "segfault"));
    EXPECT_NE(crashed.pid, run(spec(model::Mode::reuse, "echo")).pid);
}

TEST_F(Pools, ReuseRecyclesAWorkerAboveMaxRss)
{
    auto s = spec(model::Mode::reuse, "big_result", R"({"bytes":8388608})");
    s.settings.reuse.max_rss_bytes = 4ull << 20;  // any worker that held 8 MiB is over it
    const auto a = run(s);
    const auto b = run(spec(model::Mode::reuse, "echo"));
    ASSERT_EQ(a.kind, model::OutcomeKind::succeeded);
    EXPECT_NE(a.pid, b.pid);
}

TEST_F(Pools, IdleReuseWorkersAreShutDown)
{
    auto s = spec(model::Mode::reuse, "echo");
    s.settings.reuse.idle_timeout = 200ms;
    ASSERT_TRUE(run(s).succeeded());
    EXPECT_EQ(with_role("reuse").size(), 1u);
    // Gone means reaped, not just exiting.
    EXPECT_TRUE(t::eventually([] { return t::leftover_processes().empty(); }, 10s)) << "the idle worker was never shut down";
}

TEST_F(Pools, ReuseOutputBelongsToItsOwnJob)
{
    const auto flood = run(spec(model::Mode::reuse, "flood_stdout", R"({"mib":0})"));
    auto s = spec(model::Mode::reuse, "flood_stdout", R"({"mib":1})");
    const auto one = run(s);
    const auto quiet = run(spec(model::Mode::reuse, "echo"));
    ASSERT_EQ(one.kind, model::OutcomeKind::succeeded);
    EXPECT_EQ(one.stdout_tail.size(), 1u << 20);
    EXPECT_EQ(one.pid, quiet.pid);
    EXPECT_TRUE(quiet.stdout_tail.empty()) << quiet.stdout_tail.size() << " bytes of the previous job's output";
    (void)flood;
}

// A posix_spawn child's getrusage peak starts at its parent's: the record must hold the
// worker's own peak, not the host's.
TEST_F(Pools, AWorkersPeakRssIsItsOwnNotTheHosts)
{
    std::vector<char> ballast(96u << 20);
    for (std::size_t i = 0; i < ballast.size(); i += 4096) ballast[i] = static_cast<char>(i);
    const auto host_rss_kb = os::read_memory(::getpid())->rss_kb;
    ASSERT_GT(host_rss_kb, 96u * 1024);
    for (model::Mode mode : {model::Mode::spawn, model::Mode::reuse, model::Mode::fork}) {
        const auto o = run(spec(mode, "echo", "[1]"));
        ASSERT_TRUE(o.succeeded()) << to_json(o);
        ASSERT_TRUE(o.max_rss_kb) << to_string(mode);
        EXPECT_GT(*o.max_rss_kb, 0u) << to_string(mode);
        EXPECT_LT(*o.max_rss_kb + 48u * 1024, host_rss_kb) << to_string(mode) << ": the host has " << host_rss_kb << " KiB";
    }
    // A worker that died without a result: its peak is what was measured of it, never 0.
    const auto crashed = run(spec(model::Mode::spawn, "segfault"));
    ASSERT_EQ(crashed.kind, model::OutcomeKind::crashed) << to_json(crashed);
    ASSERT_TRUE(crashed.max_rss_kb);
    EXPECT_GT(*crashed.max_rss_kb, 0u);
    EXPECT_LT(*crashed.max_rss_kb + 48u * 1024, host_rss_kb);
    EXPECT_NE(ballast[4096], 1);  // keeps the ballast alive until here
}

TEST_F(Pools, ForkGivesEveryJobAFreshProcessFromOneServer)
{
    std::set<std::int64_t> pids;
    for (int i = 0; i < 5; ++i) {
        const auto o = run(spec(model::Mode::fork, "echo", "[" + std::to_string(i) + "]"));
        ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << to_json(o);
        EXPECT_EQ(o.isolation, "fork");
        EXPECT_EQ(o.result, "[" + std::to_string(i) + "]");
        pids.insert(*o.pid);
    }
    EXPECT_EQ(pids.size(), 5u);
    EXPECT_EQ(with_role("fork-server").size(), 1u);
}

TEST_F(Pools, ADeadForkServerIsReplacedAndItsJobsAreNotLost)
{
    ASSERT_TRUE(run(spec(model::Mode::fork, "echo")).succeeded());
    const auto servers = with_role("fork-server");
    ASSERT_EQ(servers.size(), 1u);
    // Kill the server while a job runs: that attempt is worker_lost (retryable), not lost.
    model::Outcome during;
    std::thread job([&] { during = run(spec(model::Mode::fork, "sleep", R"({"ms":5000})")); });
    // The server's child: the job's process.
    ASSERT_TRUE(t::eventually([&] { return os::children_of(servers[0]).size() == 1; }));
    ::kill(servers[0], SIGKILL);
    job.join();
    EXPECT_EQ(during.kind, model::OutcomeKind::worker_lost) << to_json(during);
    EXPECT_TRUE(model::retryable(during));
    // The next job gets a new server.
    const auto after = run(spec(model::Mode::fork, "echo", "[2]"));
    ASSERT_EQ(after.kind, model::OutcomeKind::succeeded) << to_json(after);
    const auto now = with_role("fork-server");
    ASSERT_EQ(now.size(), 1u);
    EXPECT_NE(now[0], servers[0]);
}

// Runs 4 threads of 25 fork jobs with `fork_servers` and returns the most servers seen.
std::size_t peak_servers_under_load(Sandbox& sandbox, std::uint32_t fork_servers)
{
    std::vector<std::thread> threads;
    std::atomic<int> succeeded{0};
    std::atomic<std::size_t> peak_servers{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                const std::string payload = "[" + std::to_string(t * 100 + i) + "]";
                auto s = spec(model::Mode::fork, "echo", payload);
                s.settings.fork_servers = fork_servers;
                const auto o = sandbox.run_attempt(s);
                if (o.succeeded() && o.result == payload) ++succeeded;
                const auto servers = with_role("fork-server").size();
                for (auto seen = peak_servers.load(); servers > seen && !peak_servers.compare_exchange_weak(seen, servers);) {
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(succeeded.load(), 100);
    return peak_servers.load();
}

TEST_F(Pools, ConcurrentForkJobsShareAtMostOneServerPerCpu)
{
    const auto peak = peak_servers_under_load(sandbox(), 0);
    EXPECT_GE(peak, 1u);
    EXPECT_LE(peak, std::max(1u, std::thread::hardware_concurrency()));
}

TEST_F(Pools, ForkServersCapsTheServersOfAPlugin)
{
    EXPECT_EQ(peak_servers_under_load(sandbox(), 1), 1u);
}

TEST_F(Pools, AForkServerThatStopsAnsweringIsReplaced)
{
    auto s = spec(model::Mode::fork, "echo", "[1]");
    s.settings.startup_timeout = 500ms;
    ASSERT_TRUE(run(s).succeeded());
    const auto servers = with_role("fork-server");
    ASSERT_EQ(servers.size(), 1u);
    ::kill(servers[0], SIGSTOP);  // alive, but deaf
    const auto o = run(s);
    EXPECT_EQ(o.kind, model::OutcomeKind::succeeded) << "the job must run on a new server: " << to_json(o);
    const auto now = with_role("fork-server");
    ASSERT_EQ(now.size(), 1u) << "the stuck server must be gone";
    EXPECT_NE(now[0], servers[0]);
}

TEST_F(Pools, APluginThatKeepsFailingToLoadFailsFastUntilItsFileChanges)
{
    t::TempDir dir;
    const auto library = dir / "flaky.so";
    std::ofstream(library) << "not a library\n";
    auto s = spec(model::Mode::spawn, "echo");
    s.plugin_path = library;
    for (int i = 0; i < 3; ++i) {
        const auto o = run(s);
        ASSERT_EQ(o.kind, model::OutcomeKind::load_failed);
        EXPECT_TRUE(o.pid.has_value()) << "the first failures are real attempts, in a worker";
    }
    const auto fast = run(s);
    EXPECT_EQ(fast.kind, model::OutcomeKind::load_failed);
    EXPECT_FALSE(fast.pid.has_value()) << "a broken plugin must not cost a process per job";
    EXPECT_NE(fast.error.find("marked broken after 3 consecutive load failures"), std::string::npos) << fast.error;
    // A new library file: tried for real at once.
    std::filesystem::copy_file(t::plugin("misbehave"), library, std::filesystem::copy_options::overwrite_existing);
    const auto fixed = run(s);
    EXPECT_EQ(fixed.kind, model::OutcomeKind::succeeded) << to_json(fixed);
}

bool listed(const std::vector<pid_t>& pids, pid_t pid) { return std::find(pids.begin(), pids.end(), pid) != pids.end(); }

// In `mode`, the long-lived process that loaded a plugin (a reused worker, a fork server, as
// `role` names it) serves no attempt once another library is at the plugin's path, and ends.
void a_replaced_library_is_loaded_again(Pools& pools, model::Mode mode, const std::string& role)
{
    t::LogCapture log;
    t::TempDir dir;
    const auto path = dir / "task.so";
    t::install_library(t::plugin("misbehave"), path);
    auto s = spec(mode, "echo", "[1]");
    s.plugin_path = path;
    s.settings.reuse.idle_timeout = 60s;  // nothing ends for being idle here
    const auto first = pools.run(s);
    ASSERT_EQ(first.kind, model::OutcomeKind::succeeded) << to_json(first);
    const auto old_servers = with_role(role);
    ASSERT_EQ(old_servers.size(), 1u);

    // The new version has a task the old one lacks: only a process that loaded it runs it.
    t::install_library(t::plugin("hello"), path);
    auto counted = s;
    counted.task = "word_count";
    counted.payload = R"({"text":"one two three"})";
    for (int i = 0; i < 3; ++i) {
        const auto o = pools.run(counted);
        ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << "attempt " << i << ": " << to_json(o);
        EXPECT_EQ(o.result, R"({"words":3})");
    }
    // The old one is ended (on the sandbox's next tick) and reaped; one new one serves on.
    EXPECT_TRUE(t::eventually([&] { return !listed(with_role(role), old_servers[0]); }, 10s))
        << "the " << role << " that loaded the old library is still running";
    const auto now = with_role(role);
    EXPECT_EQ(now.size(), 1u) << ::testing::PrintToString(now);

    // And back: the old task runs again on a process of its own.
    t::install_library(t::plugin("misbehave"), path);
    const auto again = pools.run(s);
    EXPECT_EQ(again.kind, model::OutcomeKind::succeeded) << to_json(again);
    EXPECT_EQ(log.count("written over in place"), 0u) << "a library renamed into place is not one written over: " << log.text();
}

// A library written over in place (copied onto, not renamed) is another file too: what loaded
// the old one serves no attempt, and the host says once that processes still running the old
// bytes may crash. (The same bytes are written here, so that none does.)
void a_library_written_in_place_is_said_once(Pools& pools, model::Mode mode)
{
    t::LogCapture log;
    t::TempDir dir;
    const auto path = dir / "task.so";
    t::install_library(t::plugin("misbehave"), path);
    auto s = spec(mode, "echo", "[1]");
    s.plugin_path = path;
    s.settings.reuse.idle_timeout = 60s;  // nothing ends for being idle here
    ASSERT_EQ(pools.run(s).kind, model::OutcomeKind::succeeded);
    const auto before = os::FileIdentity::of(path);
    {
        std::ifstream in(t::plugin("misbehave"), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << bytes;
    }
    std::filesystem::last_write_time(path, std::filesystem::last_write_time(path) + 2s);
    const auto after = os::FileIdentity::of(path);
    ASSERT_EQ(after.inode, before.inode) << "not written in place";
    ASSERT_FALSE(after == before);
    for (int i = 0; i < 3; ++i) {
        const auto o = pools.run(s);
        ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << "attempt " << i << ": " << to_json(o);
    }
    EXPECT_EQ(log.count("was written over in place"), 1u) << log.text();
}

TEST_F(Pools, AReusedWorkersLibraryWrittenInPlaceIsSaidOnce) { a_library_written_in_place_is_said_once(*this, model::Mode::reuse); }

TEST_F(Pools, AForkServersLibraryWrittenInPlaceIsSaidOnce) { a_library_written_in_place_is_said_once(*this, model::Mode::fork); }

TEST_F(Pools, AReusedWorkerNeverServesALibraryReplacedOnDisk) { a_replaced_library_is_loaded_again(*this, model::Mode::reuse, "reuse"); }

TEST_F(Pools, AForkServerNeverServesALibraryReplacedOnDisk) { a_replaced_library_is_loaded_again(*this, model::Mode::fork, "fork-server"); }

TEST_F(Pools, ALibraryReplacedUnderTasksRunInTheHostIsKeptAndSaidOnce)
{
    t::LogCapture log;
    t::TempDir dir;
    const auto path = dir / "task.so";
    t::install_library(t::plugin("misbehave"), path);
    auto s = spec(model::Mode::spawn, "job_info");
    s.settings.enabled = false;
    s.plugin_path = path;
    ASSERT_EQ(run(s).kind, model::OutcomeKind::succeeded);
    t::install_library(t::plugin("hello"), path);
    for (int i = 0; i < 3; ++i) {
        const auto o = run(s);
        EXPECT_EQ(o.kind, model::OutcomeKind::succeeded) << "the version loaded first runs on: " << to_json(o);
        EXPECT_EQ(o.isolation, "none");
    }
    EXPECT_EQ(log.count("was replaced on disk"), 1u) << log.text();
}

TEST_F(Pools, AMissingTaskDoesNotMarkThePluginBroken)
{
    for (int i = 0; i < 4; ++i) {
        const auto o = run(spec(model::Mode::spawn, "no_such_task"));
        EXPECT_EQ(o.kind, model::OutcomeKind::load_failed);
        EXPECT_TRUE(o.pid.has_value());
    }
    EXPECT_TRUE(run(spec(model::Mode::spawn, "echo")).succeeded());
}

} // namespace
} // namespace sandhost::sandbox
