// The Sandbox as an owned object: several in one process, every spawn path leaves the host's
// descriptors as they were, the host's own shortages are HostError (not an outcome charged to
// the job), the stop procedure on real workers, and where the worker executable is found.
#include "os/fd.h"
#include "os/proc.h"
#include "sandbox/host_error.h"
#include "sandbox/sandbox.h"
#include "sandbox/stop_policy.h"
#include "sandbox/worker_locator.h"
#include "sandbox/worker_session.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sys/resource.h>
#include <sys/wait.h>
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

WorkerConfig worker() { return t::worker_config(process::LauncherKind::posix_spawn); }

class SandboxTest : public ::testing::Test {
protected:
    void TearDown() override
    {
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }
};

TEST_F(SandboxTest, TwoSandboxesInOneProcessRunEveryModeAtOnceAndShutDownCleanly)
{
    auto first = std::make_unique<Sandbox>(worker());
    auto second = std::make_unique<Sandbox>(worker());
    std::vector<std::thread> threads;
    std::atomic<int> succeeded{0};
    for (Sandbox* sandbox : {first.get(), second.get()}) {
        for (auto mode : {model::Mode::spawn, model::Mode::fork, model::Mode::reuse}) {
            threads.emplace_back([&, sandbox, mode] {
                for (int i = 0; i < 5; ++i) {
                    const std::string payload = "[" + std::to_string(i) + "]";
                    const auto o = sandbox->run_attempt(spec(mode, "echo", payload));
                    if (o.succeeded() && o.result == payload) ++succeeded;
                }
            });
        }
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(succeeded.load(), 30);
    // Each keeps its own fork server and reuse worker.
    const auto servers = [](const Sandbox& s) {
        const auto w = s.workers();
        return std::count_if(w.begin(), w.end(), [](const model::WorkerInfo& i) { return i.role == model::WorkerInfo::Role::fork_server; });
    };
    EXPECT_GE(servers(*first), 1);
    EXPECT_GE(servers(*second), 1);
    // One shuts down while the other still works.
    first.reset();
    EXPECT_TRUE(second->run_attempt(spec(model::Mode::fork, "echo", "[9]")).succeeded());
    second.reset();
}

TEST_F(SandboxTest, WorkersListsJobWorkersForkServersAndIdleReuseWorkers)
{
    Sandbox sandbox(worker());
    ASSERT_TRUE(sandbox.run_attempt(spec(model::Mode::fork, "echo")).succeeded());
    ASSERT_TRUE(sandbox.run_attempt(spec(model::Mode::reuse, "echo")).succeeded());
    std::vector<model::WorkerInfo> during;
    std::thread job([&] { sandbox.run_attempt(spec(model::Mode::spawn, "sleep", R"({"ms":3000})")); });
    ASSERT_TRUE(t::eventually([&] {
        during = sandbox.workers();
        return std::any_of(during.begin(), during.end(), [](const model::WorkerInfo& w) { return w.role == model::WorkerInfo::Role::job; });
    }));
    auto find = [&](model::WorkerInfo::Role role, model::Mode mode) {
        return std::find_if(during.begin(), during.end(), [&](const model::WorkerInfo& w) { return w.role == role && w.mode == mode; });
    };
    const auto server = find(model::WorkerInfo::Role::fork_server, model::Mode::fork);
    const auto idle = find(model::WorkerInfo::Role::idle, model::Mode::reuse);
    const auto running = find(model::WorkerInfo::Role::job, model::Mode::spawn);
    ASSERT_NE(server, during.end());
    ASSERT_NE(idle, during.end());
    ASSERT_NE(running, during.end());
    EXPECT_EQ(running->plugin, "misbehave.so");
    EXPECT_GT(running->rss_kb, 0u);
    EXPECT_EQ(os::read_cmdline(static_cast<pid_t>(server->pid)).find("--role fork-server") != std::string::npos, true);
    job.join();
    const auto after = sandbox.workers();
    EXPECT_TRUE(std::none_of(after.begin(), after.end(), [](const model::WorkerInfo& w) { return w.role == model::WorkerInfo::Role::job; }));
}

// Every way a worker comes to be, and ends, gives back every descriptor the host opened for it.
TEST_F(SandboxTest, NoSpawnPathLeaksADescriptor)
{
    const auto before = t::open_descriptors();
    {
        Sandbox sandbox(worker());
        for (auto mode : {model::Mode::spawn, model::Mode::fork, model::Mode::reuse}) {
            for (const char* task : {"echo", "segfault", "hang", "spawn_children", "garble", "flood_stdout"}) {
                auto s = spec(mode, task, std::string(task) == "flood_stdout" ? R"({"mib":2})" : "{}");
                s.settings.timeout = 300ms;
                s.settings.limits.output_bytes = 64 * 1024;
                sandbox.run_attempt(s);
            }
        }
        auto missing = spec(model::Mode::spawn, "echo");
        missing.plugin_path = t::fixture_plugin_dir() / "not_a_library.so";
        sandbox.run_attempt(missing);
        sandbox.scan_plugins({t::plugin_dir(), t::fixture_plugin_dir()});
        auto no_sandbox = spec(model::Mode::spawn, "echo");
        no_sandbox.settings.enabled = false;
        EXPECT_TRUE(sandbox.run_attempt(no_sandbox).succeeded());
    }
    EXPECT_EQ(t::open_descriptors(), before);
}

// The host running out of descriptors is not the job's fault: no outcome is charged, the
// caller gets HostError. Run in a child process, whose descriptor limit the test may lower.
TEST_F(SandboxTest, RunningOutOfDescriptorsIsAHostErrorNotAnOutcome)
{
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        int code = 0;
        {
            Sandbox sandbox(worker());
            // A group of the pool keeps its files open once used (counted among those open
            // below), and gives them up when the host runs short: the limit is set anew
            // before each attempt, so that it leaves room for nothing but 3 of the attempt's
            // own (and the sanitizers' pipe) whatever the attempt before gave up.
            if (!sandbox.run_attempt(spec(model::Mode::spawn, "echo")).succeeded()) code = 1;
            rlimit given{};
            ::getrlimit(RLIMIT_NOFILE, &given);
            for (auto mode : {model::Mode::spawn, model::Mode::reuse, model::Mode::fork}) {
                ::setrlimit(RLIMIT_NOFILE, &given);
                const rlimit low{os::open_descriptors().size() + 3, given.rlim_max};  // the soft limit only
                ::setrlimit(RLIMIT_NOFILE, &low);
                try {
                    const auto o = sandbox.run_attempt(spec(mode, "echo"));
                    std::fprintf(stderr, "%s: got outcome %s: %s\n", model::to_string(mode), model::to_string(o.kind), o.error.c_str());
                    code = 1;
                } catch (const HostError& e) {
                    if (e.error().code.value() != EMFILE) {
                        std::fprintf(stderr, "%s: unexpected error %s\n", model::to_string(mode), e.what());
                        code = 1;
                    }
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "%s: not a HostError: %s %s\n", model::to_string(mode), typeid(e).name(), e.what());
                    code = 1;
                }
            }
            ::setrlimit(RLIMIT_NOFILE, &given);
            if (!sandbox.run_attempt(spec(model::Mode::spawn, "echo", "[1]")).succeeded()) code = 1;
        }
        std::fflush(nullptr);
        ::_exit(code);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "the child died by a signal";
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(SandboxTest, AMissingWorkerExecutableIsSpawnFailedNotAHostError)
{
    auto w = worker();
    w.executable = "/nonexistent/sandhost-worker";
    Sandbox sandbox(w);
    const auto o = sandbox.run_attempt(spec(model::Mode::spawn, "echo"));
    EXPECT_EQ(o.kind, model::OutcomeKind::spawn_failed);
    EXPECT_NE(o.error.find("No such file or directory"), std::string::npos) << o.error;
}

// The one stop procedure, on real idle workers: the shutdown steps let a worker leave on its
// own; the kill steps end one that does not listen.
TEST_F(SandboxTest, StopAndReapEndsAnIdleWorkerByMessageOrByKill)
{
    process::Spawner spawner;
    for (bool deaf : {false, true}) {
        auto launched = launch_worker(spawner, worker(), WorkerRole::reuse, model::Privileges{});
        ASSERT_TRUE(launched.ok()) << launched.error().message();
        auto process = spawned_process(std::move(launched->child));
        if (deaf) ::kill(process->pid(), SIGSTOP);
        int messages = 0;
        const auto started = std::chrono::steady_clock::now();
        const auto ended = stop_and_reap(*process, shutdown_steps(300ms), [&](StopStep::Action action) {
            EXPECT_EQ(action, StopStep::Action::request_shutdown);
            ++messages;
            launched->channel.reset();  // a closed channel: the worker leaves as if told to
        });
        EXPECT_EQ(messages, 1);
        EXPECT_FALSE(process->running());
        if (deaf) {
            EXPECT_EQ(ended.status.kind, process::ExitStatus::Kind::signalled);
            EXPECT_EQ(ended.status.signal_number, SIGKILL);
            EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms) << "the grace must pass before the kill";
        } else {
            EXPECT_EQ(ended.status.kind, process::ExitStatus::Kind::exited) << ended.status.describe();
        }
    }
}

TEST(StopSteps, AreDataForEveryReason)
{
    using A = StopStep::Action;
    const auto grace = std::chrono::milliseconds(700);
    const std::vector<StopStep> deadline{{A::request_cancel, 0ms}, {A::terminate, grace}, {A::kill, 0ms}};
    EXPECT_EQ(stop_steps({StopReason::Kind::timeout, std::nullopt, ""}, grace), deadline);
    EXPECT_EQ(stop_steps({StopReason::Kind::startup_timeout, std::nullopt, ""}, grace), deadline);
    EXPECT_EQ(stop_steps({StopReason::Kind::cancel, std::nullopt, ""}, grace),
              (std::vector<StopStep>{{A::request_cancel, grace}, {A::terminate, grace}, {A::kill, 0ms}}));
    EXPECT_EQ(stop_steps({StopReason::Kind::limit, model::LimitKind::memory, ""}, grace), kill_steps());
    EXPECT_EQ(stop_steps({StopReason::Kind::cancel_now, std::nullopt, ""}, grace), kill_steps()) << "a lost lease waits for nothing";
    EXPECT_EQ(shutdown_steps(grace), (std::vector<StopStep>{{A::request_shutdown, grace}, {A::kill, 0ms}}));
}

TEST(WorkerLocator, LooksBesideTheBuildTreeAndTheInstalledLayouts)
{
    const auto candidates = worker_candidates("/opt/sandhost/bin");
    ASSERT_EQ(candidates.size(), 4u);
    EXPECT_EQ(candidates[0], "/opt/sandhost/bin/sandhost-worker");
    EXPECT_EQ(candidates[1], "/opt/sandhost/lib/sandhost/sandhost-worker");
    EXPECT_EQ(candidates[2], "/opt/sandhost/bin/sandhost/sandhost-worker");
    // The client library in a build's lib/ finds the worker in its bin/.
    EXPECT_EQ(worker_candidates("/opt/sandhost/lib").back(), "/opt/sandhost/bin/sandhost-worker");
}

TEST(WorkerLocator, FindsTheWorkerBesideTheRunningBinaryOrWhereSandhostWorkerSays)
{
    // This test executable lives in the build's bin/, beside sandhost-worker.
    ::unsetenv("SANDHOST_WORKER");
    const auto found = locate_worker();
    ASSERT_TRUE(found);
    EXPECT_EQ(std::filesystem::canonical(*found), std::filesystem::canonical(t::worker_executable()));
    ::setenv("SANDHOST_WORKER", "/somewhere/else", 1);
    EXPECT_EQ(locate_worker(), std::filesystem::path("/somewhere/else"));
    ::unsetenv("SANDHOST_WORKER");
}

} // namespace
} // namespace sandhost::sandbox
