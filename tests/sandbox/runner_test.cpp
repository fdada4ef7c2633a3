// The misbehaviour catalogue, run for real: one test per misbehave task, each asserting the
// outcome and its fields, that the host carries on, and that nothing is left running.
// Parameterised by launcher (Poco::Process and posix_spawn) so both defeat the same traps.
#include "os/fd.h"
#include "os/proc.h"
#include "process/spawner.h"
#include "sandbox/classify.h"
#include "sandbox/sandbox.h"
#include "sandbox/worker_session.h"
#include "test_support.h"

#include <Poco/Runnable.h>
#include <Poco/Thread.h>
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

using namespace std::chrono_literals;
using process::LauncherKind;
namespace t = sandhost::testing;

class Recorder final : public AttemptObserver {
public:
    void on_started(pid_t pid) override { started_pid = pid; }
    void on_ready() override { ready = true; }
    void on_progress(const model::ProgressReport& p) override { progress.push_back(p); }
    void on_log(int, std::string_view message) override
    {
        logs.emplace_back(message);
        ++logged;
    }
    // Read by the tests' other threads while the attempt runs.
    std::atomic<pid_t> started_pid{-1};
    std::atomic<bool> ready{false};
    std::atomic<int> logged{0};
    std::vector<model::ProgressReport> progress;
    std::vector<std::string> logs;
};

// How a test runs its attempts: which launcher starts processes, which isolation mode.
struct Setup {
    LauncherKind launcher;
    model::Mode mode;
    bool poco_loader = false;  // the worker built with Poco::SharedLibrary instead of dlopen
};

class Runner : public ::testing::TestWithParam<Setup> {
protected:
    AttemptSpec spec(const std::string& task, const std::string& payload = "{}", const std::string& plugin = "misbehave")
    {
        AttemptSpec s;
        s.plugin_path = t::plugin(plugin);
        s.task = task;
        s.payload = payload;
        s.settings.timeout = 30s;
        s.settings.grace = 1s;
        s.settings.mode = GetParam().mode;
        return s;
    }
    WorkerConfig config() const
    {
        auto worker = t::worker_config(GetParam().launcher);
        if (GetParam().poco_loader) worker.executable = t::poco_worker_executable();
        return worker;
    }
    void SetUp() override { m_sandbox = std::make_unique<Sandbox>(config()); }
    Sandbox& sandbox() { return *m_sandbox; }
    model::Outcome run(const AttemptSpec& s, AttemptObserver* observer = nullptr, CancelToken* cancel = nullptr)
    {
        return sandbox().run_attempt(s, observer, cancel);
    }
    // An attempt on a sandbox of its own, whose worker is `worker`.
    static model::Outcome run_with(const WorkerConfig& worker, const AttemptSpec& s) { return Sandbox(worker).run_attempt(s); }
    void TearDown() override
    {
        // Every attempt must leave nothing behind: no child (zombie or not), no escapee. The
        // long-lived workers of the fork and reuse modes are stopped first: they are meant to
        // outlive an attempt, not a test.
        m_sandbox.reset();
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }

private:
    std::unique_ptr<Sandbox> m_sandbox;
};

TEST_P(Runner, EchoSucceedsWithThePayload)
{
    Recorder recorder;
    const auto o = run(spec("echo", R"({"hello":"world"})"), &recorder);
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << o.error << o.stderr_tail;
    EXPECT_EQ(o.result, R"({"hello":"world"})");
    EXPECT_EQ(o.isolation, to_string(GetParam().mode));
    EXPECT_FALSE(o.killed);
    ASSERT_TRUE(o.pid);
    EXPECT_EQ(*o.pid, recorder.started_pid);
    EXPECT_TRUE(recorder.ready);
    EXPECT_GT(o.max_rss_kb.value_or(0), 0u);
    EXPECT_TRUE(o.cpu_ms.has_value());
    EXPECT_LE(o.started_at, o.ended_at);
}

TEST_P(Runner, FailReportsTheMessageAndIsRetryable)
{
    const auto o = run(spec("fail", R"({"message":"disk on fire"})"));
    ASSERT_EQ(o.kind, model::OutcomeKind::failed);
    EXPECT_EQ(o.error, "disk on fire");
    EXPECT_FALSE(o.permanent);
    EXPECT_TRUE(model::retryable(o));
}

TEST_P(Runner, PermanentFailureIsNotRetryable)
{
    const auto o = run(spec("fail", R"({"message":"bad input","permanent":true})"));
    ASSERT_EQ(o.kind, model::OutcomeKind::failed);
    EXPECT_TRUE(o.permanent);
    EXPECT_FALSE(model::retryable(o));
}

TEST_P(Runner, SegfaultIsCrashedBySigsegv)
{
    const auto o = run(spec("segfault"));
    ASSERT_EQ(o.kind, model::OutcomeKind::crashed) << o.error;
    EXPECT_EQ(o.signal_number, SIGSEGV);
    EXPECT_FALSE(o.exit_code.has_value());
    EXPECT_NE(to_json(o).find(R"("signal":"SIGSEGV")"), std::string::npos);
}

TEST_P(Runner, AbortIsCrashedBySigabrt)
{
    const auto o = run(spec("abort"));
    ASSERT_EQ(o.kind, model::OutcomeKind::crashed) << o.error;
    EXPECT_EQ(o.signal_number, SIGABRT);
}

TEST_P(Runner, StackOverflowIsCrashedBySigsegv)
{
    const auto o = run(spec("stack_overflow"));
    ASSERT_EQ(o.kind, model::OutcomeKind::crashed) << o.error;
    EXPECT_EQ(o.signal_number, SIGSEGV);
}

TEST_P(Runner, ExitKeepsItsCodeEvenZero)
{
    for (int code : {0, 3, 72}) {
        const auto o = run(spec("exit", R"({"code":)" + std::to_string(code) + "}"));
        ASSERT_EQ(o.kind, model::OutcomeKind::exited) << code << " " << o.error;
        EXPECT_EQ(o.exit_code, code);
        EXPECT_FALSE(o.signal_number.has_value());
    }
}

TEST_P(Runner, HangTimesOutAndSigtermSuffices)
{
    auto s = spec("hang");
    s.settings.timeout = 300ms;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::timed_out) << o.error;
    EXPECT_FALSE(o.killed);
    EXPECT_EQ(o.signal_number, SIGTERM);
    EXPECT_NE(o.error.find("300ms"), std::string::npos) << o.error;
}

TEST_P(Runner, SleepSucceeds)
{
    const auto o = run(spec("sleep", R"({"ms":20})"));
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << o.error;
    EXPECT_EQ(o.result, "slept");
}

TEST_P(Runner, IgnoreTermNeedsSigkill)
{
    auto s = spec("ignore_term");
    s.settings.timeout = 300ms;
    s.settings.grace = 300ms;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::timed_out) << o.error;
    EXPECT_TRUE(o.killed);
    EXPECT_EQ(o.signal_number, SIGKILL);
}

TEST_P(Runner, LeakHitsTheMemoryLimit)
{
    auto s = spec("leak");
    s.settings.limits.memory_bytes = 128ull << 20;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::resource_limit) << to_json(o);
    EXPECT_EQ(o.limit, model::LimitKind::memory);
}

TEST_P(Runner, OutOfMemoryReportedByTheTaskIsTheMemoryLimit)
{
    // One allocation of 512 MiB under a 128 MiB limit: new throws std::bad_alloc, which the C++
    // layer reports through the out_of_memory service. (Under a sanitizer the worker has no
    // address-space limit: the allocation succeeds and the host stops the worker on its size.)
    auto s = spec("out_of_memory", R"({"mib":512})");
    s.settings.limits.memory_bytes = 128ull << 20;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::resource_limit) << to_json(o);
    EXPECT_EQ(o.limit, model::LimitKind::memory);
#if !defined(SANDHOST_SANITIZED)
    EXPECT_EQ(o.error, "the task ran out of memory") << to_json(o);
    EXPECT_FALSE(o.killed);
#endif
    EXPECT_TRUE(model::retryable(o));
}

TEST_P(Runner, TheTaskKnowsItsJobAttemptQueueAndDeadline)
{
    // Twice: in reuse mode the second job runs in the same process, which must not see the
    // first job's facts (nothing travels by environment variable).
    for (const std::int64_t id : {41, 42}) {
        auto s = spec("job_info");
        s.job_id = id;
        s.attempt = static_cast<std::uint32_t>(id - 39);
        s.queue = "queue-" + std::to_string(id);
        const auto before = std::chrono::system_clock::now();
        const auto o = run(s);
        ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << to_json(o);
        const std::string expected_prefix = R"({"job_id":)" + std::to_string(id) + R"(,"attempt":)" + std::to_string(id - 39) +
                                            R"(,"queue":"queue-)" + std::to_string(id) + R"(","task":"job_info","deadline_ms":)";
        ASSERT_EQ(o.result.substr(0, expected_prefix.size()), expected_prefix) << o.result;
        const auto deadline_ms = std::stoll(o.result.substr(expected_prefix.size()));
        const auto from = std::chrono::duration_cast<std::chrono::milliseconds>((before + s.settings.timeout).time_since_epoch()).count();
        EXPECT_GE(deadline_ms, from - 1000) << "the deadline is the timeout after the job's clock started";
        EXPECT_LE(deadline_ms, from + 10000);
    }
}

TEST_P(Runner, CpuSpinHitsTheCpuLimit)
{
    auto s = spec("cpu_spin");
    s.settings.limits.cpu = 1s;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::resource_limit) << to_json(o);
    EXPECT_EQ(o.limit, model::LimitKind::cpu);
    EXPECT_GE(o.cpu_ms.value_or(0), 900u);
}

TEST_P(Runner, WriteFileHitsTheFileSizeLimit)
{
    t::TempDir dir;
    auto s = spec("write_file", R"({"path":")" + (dir / "big.bin").string() + R"(","mib":4})");
    s.settings.limits.file_size_bytes = 1ull << 20;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::resource_limit) << to_json(o);
    EXPECT_EQ(o.limit, model::LimitKind::file_size);
    EXPECT_LE(std::filesystem::file_size(dir / "big.bin"), 1ull << 20);
}

TEST_P(Runner, WriteFileWithinTheLimitSucceeds)
{
    t::TempDir dir;
    const auto o = run(spec("write_file", R"({"path":")" + (dir / "small.bin").string() + R"(","mib":1})"));
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << to_json(o);
    EXPECT_EQ(std::filesystem::file_size(dir / "small.bin"), 1ull << 20);
}

TEST_P(Runner, ResultsOfEverySizeComeBackWhole)
{
    for (std::uint64_t bytes : {0ull, 65535ull, 65536ull, 65537ull, 10ull << 20}) {
        const auto o = run(spec("big_result", R"({"bytes":)" + std::to_string(bytes) + "}"));
        ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << bytes << " " << o.error;
        EXPECT_EQ(o.result.size(), bytes);
    }
}

TEST_P(Runner, ResultOverTheCapIsResultTooLarge)
{
    auto s = spec("big_result", R"({"bytes":2097152})");
    s.settings.max_result_bytes = 1ull << 20;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::result_too_large) << o.error;
    EXPECT_FALSE(model::retryable(o));
    EXPECT_TRUE(o.result.empty());
}

TEST_P(Runner, AFrameClaimingMoreThanAResultMayBeIsAProtocolError)
{
    const auto o = run(spec("lie"));
    ASSERT_EQ(o.kind, model::OutcomeKind::protocol_error) << to_json(o);
    EXPECT_NE(o.error.find("'done' message claims 4294967295 bytes"), std::string::npos) << o.error;
    EXPECT_TRUE(model::retryable(o));
}

TEST_P(Runner, FloodBeyondTheOutputLimitIsDroppedAndCountedAndTheTaskGoesOn)
{
    auto s = spec("flood_stdout", R"({"mib":4})");
    s.settings.limits.output_bytes = 1ull << 20;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << to_json(o);
    EXPECT_EQ(o.stdout_tail.size(), 1u << 20);
    EXPECT_EQ(o.stdout_dropped + o.stdout_tail.size(), 4u << 20);
    EXPECT_EQ(o.stderr_dropped, 0u);
    EXPECT_NE(to_json(o).find(R"("stdout_dropped":3145728)"), std::string::npos);
}

TEST_P(Runner, FloodBeyondTheOutputLimitIsResourceLimitWhenTheQueueKillsForIt)
{
    auto s = spec("flood_stdout", R"({"mib":4})");
    s.settings.limits.output_bytes = 1ull << 20;
    s.settings.limits.output_action = model::OutputAction::kill;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::resource_limit) << o.error;
    EXPECT_EQ(o.limit, model::LimitKind::output);
    EXPECT_EQ(o.stdout_tail.size(), 1ull << 20);
}

TEST_P(Runner, FloodWithinTheOutputLimitSucceedsWithItsTail)
{
    auto s = spec("flood_stdout", R"({"mib":1})");
    s.settings.limits.output_bytes = 2ull << 20;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << o.error;
    EXPECT_EQ(o.stdout_tail.size(), 1ull << 20);
}

TEST_P(Runner, ThrowIsFailedWithTheExceptionMessage)
{
    const auto o = run(spec("throw"));
    ASSERT_EQ(o.kind, model::OutcomeKind::failed);
    EXPECT_EQ(o.error, "boom from throw");
}

TEST_P(Runner, SpawnedChildrenEndWithTheAttemptEvenAfterSetsid)
{
    auto s = spec("spawn_children", R"({"count":3,"setsid":true})");
    s.settings.timeout = 500ms;
    s.settings.grace = 200ms;
    Recorder recorder;
    const auto o = run(s, &recorder);
    ASSERT_EQ(o.kind, model::OutcomeKind::timed_out) << o.error;
    ASSERT_EQ(recorder.logs.size(), 3u) << ::testing::PrintToString(recorder.logs);
    // TearDown checks that none of them survived.
}

TEST_P(Runner, TooManyProcessesIsResourceLimit)
{
    auto s = spec("spawn_children", R"({"count":6,"setsid":false})");
    s.settings.limits.processes = 4;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::resource_limit) << o.error;
    EXPECT_EQ(o.limit, model::LimitKind::processes);
    // In a control group the kernel refuses the fifth process and the task reports the failed
    // fork; without one, the host's sampling of the tree kills it.
    EXPECT_EQ(o.killed, sandbox().cgroups() == nullptr) << o.error;
}

TEST_P(Runner, TooManyProcessesWithoutACgroupIsStoppedByTheHost)
{
    auto s = spec("spawn_children", R"({"count":6,"setsid":false})");
    s.settings.limits.processes = 4;
    s.settings.cgroup = model::CgroupUse::off;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::resource_limit) << o.error;
    EXPECT_EQ(o.limit, model::LimitKind::processes);
    EXPECT_TRUE(o.killed);
}

TEST_P(Runner, GarbleIsProtocolError)
{
    const auto o = run(spec("garble"));
    ASSERT_EQ(o.kind, model::OutcomeKind::protocol_error) << o.error;
    EXPECT_TRUE(model::retryable(o));
}

TEST_P(Runner, InheritedDescriptorsNeverReachTheTask)
{
    // A descriptor the host opened without close-on-exec: a launch must not leak it.
    const int leaked = ::open("/dev/zero", O_RDONLY);
    ASSERT_GE(leaked, 0);
    const auto o = run(spec("fds"));
    ::close(leaked);
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << o.error;
    EXPECT_EQ(o.result.find("/dev/zero"), std::string::npos) << o.result;
    // Exactly stdin, stdout, stderr and the channel: a socket, or for a fork server's child
    // two pipes (its channel travels in SCM_RIGHTS, where a unix socket would set the kernel's
    // collector of unix sockets going at every close of one), at the numbers the server got
    // them at: none of the server's own descriptors is left to the job.
    EXPECT_NE(o.result.find(R"("fd":0)"), std::string::npos) << o.result;
    EXPECT_NE(o.result.find(R"("fd":1)"), std::string::npos);
    EXPECT_NE(o.result.find(R"("fd":2)"), std::string::npos);
    if (GetParam().mode == model::Mode::fork) {
        EXPECT_EQ(o.result.find("socket:"), std::string::npos) << o.result;
        std::size_t pipes = 0;
        for (auto at = o.result.find(R"("target":"pipe:)"); at != std::string::npos; at = o.result.find(R"("target":"pipe:)", at + 1)) ++pipes;
        EXPECT_EQ(pipes, 4u) << "stdout, stderr and the channel's two pipes: " << o.result;
        EXPECT_EQ(std::count(o.result.begin(), o.result.end(), '{'), 5) << o.result;
    } else {
        EXPECT_NE(o.result.find("socket:"), std::string::npos);
        EXPECT_EQ(std::count(o.result.begin(), o.result.end(), '{'), 4) << o.result;
    }
}

TEST_P(Runner, ProgressReportsArriveInOrder)
{
    Recorder recorder;
    const auto o = run(spec("progress", R"({"steps":5,"ms":1})"), &recorder);
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << o.error;
    ASSERT_EQ(recorder.progress.size(), 5u);
    EXPECT_DOUBLE_EQ(recorder.progress.back().percent, 100.0);
    ASSERT_TRUE(o.progress);
    EXPECT_EQ(o.progress->message, "step 5/5");
}

TEST_P(Runner, CancelStopsARunningTask)
{
    CancelToken cancel;
    Recorder recorder;
    auto s = spec("progress", R"({"steps":100000,"ms":10})");
    std::thread canceller([&] {
        t::eventually([&] { return recorder.ready.load(); });
        cancel.request();
    });
    const auto o = run(s, &recorder, &cancel);
    canceller.join();
    ASSERT_EQ(o.kind, model::OutcomeKind::cancelled) << o.error;
    EXPECT_FALSE(o.killed);  // the task saw cancel_requested() and returned
}

TEST_P(Runner, CancelOfATaskThatIgnoresItEscalates)
{
    CancelToken cancel;
    Recorder recorder;
    auto s = spec("ignore_term");
    s.settings.grace = 200ms;
    std::thread canceller([&] {
        t::eventually([&] { return recorder.ready.load(); });
        cancel.request();
    });
    const auto o = run(s, &recorder, &cancel);
    canceller.join();
    ASSERT_EQ(o.kind, model::OutcomeKind::cancelled);
    EXPECT_TRUE(o.killed);
}

// ---- leases: a worker never outlives its lease -----------------------------------------

TEST_P(Runner, AWorkerWhoseLeaseRunsOutUnrenewedStopsItselfAndEverythingItStarted)
{
    CancelToken token;
    Recorder recorder;
    // Children in sessions of their own, which hang: only the worker's own stop ends them
    // before the long timeout.
    auto s = spec("spawn_children", R"({"count":3,"setsid":true})");
    s.settings.timeout = 120s;
    s.lease = 500ms;
    const auto o = run(s, &recorder, &token);
    ASSERT_EQ(o.kind, model::OutcomeKind::worker_lost) << to_json(o);
    EXPECT_TRUE(lease_ran_out(o)) << to_json(o);
    EXPECT_NE(o.error.find("lease ran out"), std::string::npos) << o.error;
    EXPECT_FALSE(o.killed) << "the worker's side stopped it; the host did not have to";
    if (GetParam().mode == model::Mode::fork) {
        // A fork server's child runs no watch of its own: its server keeps the lease.
        EXPECT_NE(o.error.find("fork server stopped the worker"), std::string::npos) << o.error;
        EXPECT_EQ(o.signal_number, SIGKILL) << to_json(o);
    } else {
        EXPECT_NE(o.stderr_tail.find("lease ran out"), std::string::npos) << o.stderr_tail;
    }
    EXPECT_EQ(recorder.logs.size(), 3u) << ::testing::PrintToString(recorder.logs);
    // TearDown checks that none of the children survived.
}

// A job with a lease costs a forked child no second thread: its server keeps the lease (a
// thread per child cost about a fifth of a fork attempt's CPU). A spawned or reused worker
// watches its own lease on a thread of its own.
TEST_P(Runner, OnlyAWorkerThatKeepsItsOwnLeaseRunsASecondThread)
{
    // The worker's lease-watch threads (by name: a sanitizer may keep threads of its own in a
    // worker) while its task runs, with or without a lease.
    auto threads_while_running = [&](bool leased) -> std::optional<int> {
        CancelToken token;
        Recorder recorder;
        auto s = spec("spawn_children", R"({"count":1})");
        s.settings.timeout = 120s;
        if (leased) s.lease = 30s;
        const int expected = leased && GetParam().mode != model::Mode::fork ? 1 : 0;
        std::optional<int> threads;
        std::thread reader([&] {
            // The task logs once its child runs: the worker started its job's threads before
            // that, but a new thread names itself only once it first runs, which may be later.
            t::eventually([&] { return recorder.logged.load() > 0; });
            const std::filesystem::path tasks = "/proc/" + std::to_string(recorder.started_pid.load()) + "/task";
            t::eventually([&] {
                std::error_code error;
                int watching = 0;
                for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
                    std::ifstream comm(task.path() / "comm");
                    std::string name;
                    std::getline(comm, name);
                    if (name == "sh-lease-watch") ++watching;
                }
                threads = error ? std::nullopt : std::optional<int>(watching);
                return threads == expected;
            });
            token.request(CancelToken::Stop::at_once);
        });
        const auto o = run(s, &recorder, &token);
        reader.join();
        EXPECT_EQ(o.kind, model::OutcomeKind::cancelled) << to_json(o);
        return threads;
    };
    const auto plain = threads_while_running(false);
    const auto leased = threads_while_running(true);
    ASSERT_TRUE(plain && leased);
    EXPECT_EQ(*plain, 0);
    EXPECT_EQ(*leased, GetParam().mode == model::Mode::fork ? 0 : 1);
}

TEST_P(Runner, RenewedLeasesKeepAWorkerGoingPastItsFirstLease)
{
    CancelToken token;
    auto s = spec("sleep", R"({"ms":1500})");
    s.lease = 300ms;
    std::atomic<bool> over{false};
    std::thread renewer([&] {
        while (!over.load()) {
            token.renew_lease(std::chrono::steady_clock::now() + 300ms);
            std::this_thread::sleep_for(50ms);
        }
    });
    const auto o = run(s, nullptr, &token);
    over = true;
    renewer.join();
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << to_json(o);
    EXPECT_EQ(o.result, "slept");
}

TEST_P(Runner, AReusedWorkerWhoseLeaseRanOutIsNotReused)
{
    CancelToken token;
    auto s = spec("hang");
    s.settings.timeout = 120s;
    s.lease = 300ms;
    const auto lost = run(s, nullptr, &token);
    ASSERT_TRUE(lease_ran_out(lost)) << to_json(lost);
    // The next attempt, with no lease, runs in a worker of its own and succeeds.
    const auto next = run(spec("echo", "7"));
    ASSERT_EQ(next.kind, model::OutcomeKind::succeeded) << to_json(next);
    EXPECT_NE(next.pid, lost.pid);
}

TEST_P(Runner, AnAttemptThatLostItsLeaseIsKilledAtOnce)
{
    CancelToken cancel;
    Recorder recorder;
    auto s = spec("ignore_term");
    s.settings.grace = 2s;
    std::thread canceller([&] {
        t::eventually([&] { return recorder.ready.load(); });
        cancel.request(CancelToken::Stop::at_once);
    });
    const auto o = run(s, &recorder, &cancel);
    canceller.join();
    ASSERT_EQ(o.kind, model::OutcomeKind::cancelled) << to_json(o);
    EXPECT_TRUE(o.killed);
    EXPECT_EQ(o.signal_number, SIGKILL);
    EXPECT_NE(o.error.find("stopped at once"), std::string::npos) << "no cancel request, no grace: " << o.error;
}

TEST_P(Runner, AnAttemptKeepsTheLastLinesTheTaskLogged)
{
    const auto o = run(spec("log_lines", R"({"count":250})"));
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << o.error;
    ASSERT_EQ(o.log.size(), model::k_kept_log_lines);
    EXPECT_EQ(o.log_dropped, 50u);
    EXPECT_EQ(o.log.front().message, "line 50");
    EXPECT_EQ(o.log.back().message, "line 249");
    EXPECT_EQ(o.log.back().level, model::LogLevel::warn);
    EXPECT_EQ(o.log.front().level, model::LogLevel::info);
    EXPECT_GE(o.log.back().time, o.started_at);
    EXPECT_LE(o.log.back().time, o.ended_at);
}

TEST_P(Runner, TwentyJobsAtOnce)
{
#if defined(__SANITIZE_ADDRESS__)
    // Poco's child calls putenv, which allocates, between fork and exec; AddressSanitizer's
    // allocator is not reset at fork, so a child forked while another of the twenty threads
    // held its lock spins for ever (glibc's allocator is reset: a build without ASan runs this).
    if (GetParam().launcher == LauncherKind::poco) GTEST_SKIP() << "AddressSanitizer's allocator is not fork-safe for Poco's child";
#endif
    std::vector<model::Outcome> outcomes(20);
    std::vector<std::thread> threads;
    for (int i = 0; i < 20; ++i) {
        threads.emplace_back([&, i] {
            auto s = spec("echo", "[" + std::to_string(i) + "]");
            // Twenty sanitized workers starting at once on two cores: a generous bound, not a speed check.
            s.settings.startup_timeout = std::chrono::seconds(60);
            outcomes[static_cast<size_t>(i)] = run(s);
        });
    }
    for (auto& thread : threads) thread.join();
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(outcomes[static_cast<size_t>(i)].kind, model::OutcomeKind::succeeded) << i << outcomes[static_cast<size_t>(i)].error;
        EXPECT_EQ(outcomes[static_cast<size_t>(i)].result, "[" + std::to_string(i) + "]");
    }
}

// ---- the plugin loader's refusals -------------------------------------------------------

class LoadFailures : public Runner {};

TEST_P(LoadFailures, EachIsLoadFailedWithAPreciseMessage)
{
    struct Case {
        std::filesystem::path library;
        std::string task;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {t::fixture_plugin_dir() / "missing.so", "x", "No such file or directory"},
        {t::fixture_plugin_dir() / "not_a_library.so", "x", "cannot be loaded"},
        {t::fixture_plugin_dir() / "no_entry.so", "x", "does not export sh_plugin_entry"},
        {t::fixture_plugin_dir() / "bad_abi.so", "nothing", "built for plugin ABI version 99.0; this host speaks version 1.0 and loads plugins built for 1.x"},
        {t::fixture_plugin_dir() / "unresolved.so", "call", "undefined symbol: sandhost_fixture_function_that_does_not_exist"},
        {t::fixture_plugin_dir() / "init_fails.so", "nothing", "failed to initialise: license file /nonexistent/license.key not found"},
        {t::plugin("misbehave"), "no_such_task", "has no task 'no_such_task' (its tasks: echo, fail,"},
    };
    for (const auto& c : cases) {
        AttemptSpec s = spec(c.task);
        s.plugin_path = c.library;
        const auto o = run(s);
        EXPECT_EQ(o.kind, model::OutcomeKind::load_failed) << c.library << ": " << to_json(o);
        EXPECT_NE(o.error.find(c.expected), std::string::npos) << c.library << ": " << o.error;
        EXPECT_FALSE(model::retryable(o));
    }
}

TEST_P(LoadFailures, ALibraryWhoseConstructorKillsTheWorkerIsLoadFailedNamingTheSignal)
{
    const std::vector<std::pair<std::string, std::string>> cases = {{"ctor_crash", "SIGSEGV"}, {"ctor_abort", "SIGABRT"}};
    for (const auto& [name, signal] : cases) {
        AttemptSpec s = spec("nothing");
        s.plugin_path = t::fixture_plugin_dir() / (name + ".so");
        const auto o = run(s);
        ASSERT_EQ(o.kind, model::OutcomeKind::load_failed) << name << ": " << to_json(o);
        EXPECT_NE(o.error.find(signal), std::string::npos) << o.error;
        EXPECT_NE(o.error.find("while loading the plugin"), std::string::npos) << o.error;
        EXPECT_TRUE(o.plugin_unusable) << name;
        EXPECT_FALSE(model::retryable(o)) << name;
    }
}

TEST_P(LoadFailures, APluginWhoseConstructorCrashesIsMarkedBrokenAfterThreeLoads)
{
    AttemptSpec s = spec("nothing");
    s.plugin_path = t::fixture_plugin_dir() / "ctor_crash.so";
    for (int i = 0; i < PluginHealth::k_failures_before_broken; ++i) {
        const auto o = run(s);
        ASSERT_EQ(o.kind, model::OutcomeKind::load_failed) << to_json(o);
        EXPECT_TRUE(o.pid) << "a real load, in a worker";
    }
    const auto refused = run(s);
    ASSERT_EQ(refused.kind, model::OutcomeKind::load_failed) << to_json(refused);
    EXPECT_NE(refused.error.find("marked broken"), std::string::npos) << refused.error;
    EXPECT_FALSE(refused.pid) << "refused without starting a process";
    ASSERT_EQ(sandbox().broken_plugins().size(), 1u);
}

TEST_P(LoadFailures, AWorkerNotReadyInTimeIsStoppedByTheStartupTimeout)
{
    // The job clock starts at ready: a plugin whose init hangs meets the startup timeout,
    // however long the task's own timeout is.
    AttemptSpec s = spec("nothing");
    s.plugin_path = t::fixture_plugin_dir() / "slow_init.so";
    s.settings.startup_timeout = 300ms;
    s.settings.timeout = 60s;
    s.settings.grace = 200ms;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::timed_out) << to_json(o);
    EXPECT_NE(o.error.find("startup timeout of 300ms"), std::string::npos) << o.error;
    EXPECT_TRUE(model::retryable(o));
}

TEST_P(LoadFailures, DescribingAPluginDoesNotRunItsInit)
{
    // slow_init's init takes 10 s, twice the default startup timeout: were it run, the
    // description would end timed out. init_fails's init fails: were it run, the plugin would
    // be listed as broken.
    for (const std::string name : {"slow_init", "init_fails"}) {
        const auto info = sandbox().describe_plugin(t::fixture_plugin_dir() / (name + ".so"));
        EXPECT_TRUE(info.ok()) << name << ": " << info.error;
        EXPECT_EQ(info.name, name);
        EXPECT_EQ(info.version, "1.0");
        EXPECT_TRUE(info.has_task("nothing")) << name;
    }
    // A job runs init, and init's failure still ends it.
    AttemptSpec s = spec("nothing");
    s.plugin_path = t::fixture_plugin_dir() / "init_fails.so";
    const auto o = run(s);
    EXPECT_EQ(o.kind, model::OutcomeKind::load_failed) << to_json(o);
    EXPECT_EQ(o.error, "plugin init_fails failed to initialise: license file /nonexistent/license.key not found");
}

TEST_P(LoadFailures, APluginOfTheReleasedAbiRunsWithItsJobInfo)
{
    AttemptSpec s = spec("hello");
    s.plugin_path = t::fixture_plugin_dir() / "abi_1_0.so";
    s.job_id = 5;
    s.attempt = 2;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << to_json(o);
    EXPECT_EQ(o.result, R"({"abi":"1.0","job_id":5,"attempt":2})");
}

TEST_P(LoadFailures, APluginOfANewerMajorIsLoadFailedNamingBothVersions)
{
    AttemptSpec s = spec("nothing");
    s.plugin_path = t::fixture_plugin_dir() / "abi_newer_major.so";
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::load_failed) << to_json(o);
    EXPECT_NE(o.error.find("built for plugin ABI version 2.0; this host speaks version 1.0"), std::string::npos) << o.error;
    EXPECT_FALSE(model::retryable(o));
}

TEST_P(LoadFailures, APluginBuiltBeforeNewFieldsStillLoads)
{
    AttemptSpec s = spec("echo", "[1]");
    s.plugin_path = t::fixture_plugin_dir() / "minimal_abi.so";
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << o.error;
    EXPECT_EQ(o.result, "[1]");
}

TEST_P(LoadFailures, AMissingWorkerIsSpawnFailedWithErrno)
{
    auto worker = config();
    worker.executable = "/nonexistent/sandhost-worker";
    const auto o = run_with(worker, spec("echo"));
    ASSERT_EQ(o.kind, model::OutcomeKind::spawn_failed);
    EXPECT_NE(o.error.find("No such file or directory"), std::string::npos) << o.error;
    EXPECT_TRUE(model::retryable(o));
}

TEST_P(LoadFailures, AWorkerThatCannotBeExecutedIsSpawnFailed)
{
    // A directory passes the executable check but exec fails: Poco's child exits 72.
    t::TempDir dir;
    auto worker = config();
    worker.executable = dir.path();
    const auto o = run_with(worker, spec("echo"));
    ASSERT_EQ(o.kind, model::OutcomeKind::spawn_failed) << to_json(o);
    EXPECT_FALSE(o.exit_code.has_value());
}

TEST_P(LoadFailures, InlineFallbackRunsTheTaskWhenTheWorkerCannotStart)
{
    auto worker = config();
    worker.executable = "/nonexistent/sandhost-worker";
    auto s = spec("echo", "[7]");
    s.settings.fallback = model::Fallback::inline_run;
    const auto o = run_with(worker, s);
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << o.error;
    EXPECT_EQ(o.result, "[7]");
    EXPECT_EQ(o.fallback, "inline");
    EXPECT_EQ(o.isolation, "none");
    EXPECT_EQ(o.pid, ::getpid());
}

TEST_P(LoadFailures, InlineFallbackOnTimeoutRunsOnceMore)
{
    auto s = spec("progress", R"({"steps":3,"ms":100})");
    s.settings.timeout = 100ms;
    s.settings.grace = 2s;
    s.settings.fallback = model::Fallback::inline_run;
    s.settings.fallback_on_timeout = true;
    Recorder recorder;
    const auto o = run(s, &recorder);
    // The inline run also passes its deadline, sees cancel_requested() and stops.
    EXPECT_EQ(o.kind, model::OutcomeKind::timed_out) << to_json(o);
    EXPECT_EQ(o.fallback, "inline");
    EXPECT_EQ(o.isolation, "none");
}

TEST_P(LoadFailures, NoSandboxRunsInTheHost)
{
    auto s = spec("echo", "[9]");
    s.settings.enabled = false;
    const auto o = run(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded);
    EXPECT_EQ(o.result, "[9]");
    EXPECT_EQ(o.isolation, "none");
    EXPECT_FALSE(o.fallback.has_value());

    auto info = spec("job_info");
    info.settings.enabled = false;
    info.job_id = 9;
    info.attempt = 1;
    info.queue = "trusted";
    const auto with_info = run(info);
    ASSERT_EQ(with_info.kind, model::OutcomeKind::succeeded) << with_info.error;
    EXPECT_EQ(with_info.result.rfind(R"({"job_id":9,"attempt":1,"queue":"trusted","task":"job_info","deadline_ms":)", 0), 0u)
        << with_info.result;
}

// ---- Poco traps -------------------------------------------------------------------------

class PocoTraps : public Runner {};

// A Poco::Thread blocks SIGTERM (and more) in itself; a child it launches inherits that mask.
TEST_P(PocoTraps, AWorkerStartedFromAPocoThreadStillObeysSigterm)
{
    auto s = spec("hang");
    s.settings.timeout = 200ms;
    s.settings.grace = 5s;
    model::Outcome o;
    struct Job : Poco::Runnable {
        std::function<void()> body;
        void run() override { body(); }
    } job;
    job.body = [&] { o = run(s); };
    Poco::Thread thread;
    thread.start(job);
    thread.join();
    ASSERT_EQ(o.kind, model::OutcomeKind::timed_out);
    EXPECT_FALSE(o.killed) << "SIGTERM did not stop the worker: its signal mask was inherited";
}

// PR_SET_PDEATHSIG fires when the launching thread exits: a worker started by a thread that
// then ends must keep running.
TEST_P(PocoTraps, AWorkerOutlivesTheThreadThatAskedForIt)
{
    process::Spawner spawner;
    std::optional<WorkerSession> session;
    std::thread([&] {
        auto started = WorkerSession::start(spawner, config(), WorkerRole::reuse, model::Privileges{});
        ASSERT_TRUE(started.ok());
        session.emplace(std::move(started.value()));
    }).join();
    ASSERT_TRUE(session);
    const auto o = session->run(spec("sleep", R"({"ms":100})"), nullptr, nullptr);
    EXPECT_EQ(o.kind, model::OutcomeKind::succeeded) << to_json(o);
    session->shutdown(1s);
}

TEST_P(PocoTraps, TheHostSurvivesEveryMisbehaviourInARow)
{
    for (const char* task : {"segfault", "abort", "garble", "throw"}) {
        const auto o = run(spec(task));
        EXPECT_NE(o.kind, model::OutcomeKind::succeeded) << task;
    }
    EXPECT_EQ(run(spec("echo", "1")).result, "1");
}

std::string setup_name(const ::testing::TestParamInfo<Setup>& param)
{
    return std::string(process::to_string(param.param.launcher)) + "_" + to_string(param.param.mode) +
           (param.param.poco_loader ? "_poco_loader" : "");
}

// The whole catalogue in every mode, spawn under both launchers, and a worker that loads
// plugins with Poco::SharedLibrary.
const auto k_setups =
    ::testing::Values(Setup{LauncherKind::poco, model::Mode::spawn}, Setup{LauncherKind::posix_spawn, model::Mode::spawn},
                      Setup{LauncherKind::posix_spawn, model::Mode::fork}, Setup{LauncherKind::posix_spawn, model::Mode::reuse},
                      Setup{LauncherKind::posix_spawn, model::Mode::spawn, true});
INSTANTIATE_TEST_SUITE_P(Modes, Runner, k_setups, setup_name);
INSTANTIATE_TEST_SUITE_P(Modes, LoadFailures, k_setups, setup_name);
INSTANTIATE_TEST_SUITE_P(Launchers, PocoTraps,
                         ::testing::Values(Setup{LauncherKind::poco, model::Mode::spawn}, Setup{LauncherKind::posix_spawn, model::Mode::spawn}), setup_name);

} // namespace
} // namespace sandhost::sandbox
