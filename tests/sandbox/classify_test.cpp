// The outcome table's rules, without processes.
#include "process/child_process.h"
#include "sandbox/classify.h"
#include "model/outcome.h"
#include "protocol/worker_exit.h"

#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>

namespace sandhost::sandbox {
namespace {

using process::ExitStatus;

process::Termination signalled(int sig, std::uint64_t rss_kb = 1000, long cpu_ms = 0)
{
    process::Termination t;
    t.status.kind = ExitStatus::Kind::signalled;
    t.status.signal_number = sig;
    t.usage.max_rss_kb = rss_kb;
    t.usage.user_cpu = std::chrono::milliseconds(cpu_ms);
    return t;
}

process::Termination exited(int code)
{
    process::Termination t;
    t.status.kind = ExitStatus::Kind::exited;
    t.status.exit_code = code;
    return t;
}

AttemptFacts running()
{
    AttemptFacts f;
    f.hello_seen = true;
    f.ready_seen = true;
    f.baseline = protocol::Ready{20000, 5000};
    return f;
}

TEST(ExitStatus, ASignalIsNeverFoldedIntoAnExitCode)
{
    // What Poco's wait() would report as 256 + 11.
    const auto s = ExitStatus::from_wait_status(SIGSEGV);
    EXPECT_EQ(s.kind, ExitStatus::Kind::signalled);
    EXPECT_EQ(s.signal_number, SIGSEGV);
    const auto e = ExitStatus::from_wait_status(3 << 8);
    EXPECT_EQ(e.kind, ExitStatus::Kind::exited);
    EXPECT_EQ(e.exit_code, 3);
    EXPECT_EQ(e.describe(), "exit code 3");
    EXPECT_EQ(ExitStatus::from_wait_status(SIGKILL).describe(), "signal SIGKILL");
}

TEST(Classify, DoneWins)
{
    auto f = running();
    f.done = protocol::Done{protocol::Done::Status::ok, false, "r", 0};
    f.termination = exited(0);
    const auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::succeeded);
    EXPECT_EQ(o.result, "r");
}

TEST(Classify, AStopDecidesEvenIfTheTaskReturnedAfterIt)
{
    auto f = running();
    f.stop = StopReason{StopReason::Kind::timeout, std::nullopt, "late"};
    f.done = protocol::Done{protocol::Done::Status::ok, false, "r", 0};
    f.termination = signalled(SIGTERM);
    const auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::timed_out);
    EXPECT_EQ(o.signal_number, SIGTERM);
    EXPECT_FALSE(o.killed);
}

TEST(Classify, SignalsByKind)
{
    auto f = running();
    f.termination = signalled(SIGSEGV);
    EXPECT_EQ(classify(f).kind, model::OutcomeKind::crashed);
    f.termination = signalled(SIGXCPU);
    EXPECT_EQ(classify(f).limit, model::LimitKind::cpu);
    f.termination = signalled(SIGXFSZ);
    EXPECT_EQ(classify(f).limit, model::LimitKind::file_size);
    f.limits.cpu = std::chrono::seconds(1);
    f.termination = signalled(SIGKILL, 1000, 1200);
    EXPECT_EQ(classify(f).limit, model::LimitKind::cpu) << "the kernel's hard CPU limit kills with SIGKILL";
}

TEST(Classify, AKernelKillNearTheMemoryLimitIsMemoryNotABareSigkill)
{
    auto f = running();
    f.limits.memory_bytes = 64ull << 20;
    f.termination = signalled(SIGKILL, 60 * 1024);
    auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::resource_limit);
    EXPECT_EQ(o.limit, model::LimitKind::memory);
    EXPECT_EQ(o.signal_number, SIGKILL);
    f.termination = signalled(SIGABRT, 50 * 1024);  // 50 MiB resident + 15 MiB never touched
    EXPECT_EQ(classify(f).limit, model::LimitKind::memory);
    f.termination = signalled(SIGABRT, 10 * 1024);
    EXPECT_EQ(classify(f).kind, model::OutcomeKind::crashed);
}

TEST(Classify, InAControlGroupItsOomCountDecidesTheMemoryLimitNotThePeak)
{
    auto f = running();
    f.limits.memory_bytes = 64ull << 20;
    f.group = GroupFacts{1, 0, true, true};
    f.termination = signalled(SIGKILL, 10 * 1024);  // a low peak: the kernel said so, no guess needed
    auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::resource_limit);
    EXPECT_EQ(o.limit, model::LimitKind::memory);
    EXPECT_EQ(o.signal_number, SIGKILL);
    EXPECT_NE(o.error.find("memory limit of 64MiB reached: the kernel killed 1 process in the attempt's control group"), std::string::npos)
        << o.error;

    // No OOM kill counted: a death near the limit is what it is, not a guess at the memory.
    f.group = GroupFacts{0, 0, true, true};
    f.termination = signalled(SIGKILL, 60 * 1024);
    EXPECT_EQ(classify(f).kind, model::OutcomeKind::crashed);
    f.termination = exited(1);
    EXPECT_EQ(classify(f).kind, model::OutcomeKind::exited);

    // A task that reports failure because the kernel killed one of its children.
    f.termination.reset();
    f.group = GroupFacts{2, 0, true, true};
    f.done = protocol::Done{};
    f.done->status = protocol::Done::Status::error;
    f.done->data = "child died";
    f.done->permanent = true;
    o = classify(f);
    EXPECT_EQ(o.limit, model::LimitKind::memory);
    EXPECT_FALSE(o.permanent) << "a limit is the limit's, whatever the task says";
    EXPECT_NE(o.error.find("killed 2 processes"), std::string::npos) << o.error;
    EXPECT_NE(o.error.find("(child died)"), std::string::npos) << o.error;

    // A success stands, whatever happened on the way.
    f.done->status = protocol::Done::Status::ok;
    EXPECT_EQ(classify(f).kind, model::OutcomeKind::succeeded);
}

TEST(Classify, InAControlGroupARefusedForkIsTheProcessLimit)
{
    auto f = running();
    f.limits.processes = 4;
    f.group = GroupFacts{0, 1, true, true};
    f.done = protocol::Done{};
    f.done->status = protocol::Done::Status::error;
    f.done->data = "fork: Resource temporarily unavailable";
    auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::resource_limit);
    EXPECT_EQ(o.limit, model::LimitKind::processes);
    EXPECT_EQ(o.error, "process limit of 4 reached: the kernel refused 1 fork in the attempt's control group "
                       "(fork: Resource temporarily unavailable)");
    // A task that coped with the refusal succeeded.
    f.done->status = protocol::Done::Status::ok;
    EXPECT_EQ(classify(f).kind, model::OutcomeKind::succeeded);
    // A timeout stays a timeout.
    f.done.reset();
    f.stop = StopReason{StopReason::Kind::timeout, std::nullopt, "too slow"};
    f.termination = signalled(SIGKILL);
    EXPECT_EQ(classify(f).kind, model::OutcomeKind::timed_out);
}

TEST(Classify, AnUncappedAddressSpaceSaysNothingAboutTheMemoryLimit)
{
    // An AddressSanitizer worker maps terabytes when ready: its limit is watched on RSS, and
    // a crash with a small peak is a crash.
    auto f = running();
    f.limits.memory_bytes = 64ull << 20;
    f.baseline = protocol::Ready{20ull << 30, 5000};
    f.termination = signalled(SIGSEGV, 30 * 1024);
    EXPECT_EQ(classify(f).kind, model::OutcomeKind::crashed);
}

TEST(Classify, ExitsKeepTheirCode)
{
    auto f = running();
    f.termination = exited(0);
    auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::exited);
    EXPECT_EQ(o.exit_code, 0);
    EXPECT_FALSE(o.signal_number);
}

TEST(Classify, AWorkerExitCodeSaysWhatItMeans)
{
    using protocol::WorkerExit;
    auto f = running();
    f.termination = exited(protocol::exit_code(WorkerExit::host_died));
    auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::exited);
    EXPECT_EQ(o.exit_code, 112);
    EXPECT_EQ(o.error, std::string("worker exited with code 112 (") + protocol::describe(WorkerExit::host_died) + ") without reporting a result");
    f.termination = exited(protocol::exit_code(WorkerExit::broken_frame));
    o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::exited);
    EXPECT_NE(o.error.find(protocol::describe(WorkerExit::broken_frame)), std::string::npos) << o.error;
}

TEST(Classify, AnExitCodeNotTheWorkersIsOnlyANumber)
{
    auto f = running();
    f.termination = exited(3);
    EXPECT_EQ(classify(f).error, "worker exited with code 3 without reporting a result");
    f.termination = exited(110);
    EXPECT_EQ(classify(f).error, "worker exited with code 110 without reporting a result");
    f.termination = exited(119);
    EXPECT_EQ(classify(f).error, "worker exited with code 119 without reporting a result");
}

TEST(Classify, AWorkerThatStoppedItselfOnItsLeaseIsWorkerLost)
{
    auto f = running();
    f.termination = exited(protocol::exit_code(protocol::WorkerExit::lease_expired));
    const auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::worker_lost);
    EXPECT_TRUE(lease_ran_out(o));
    EXPECT_NE(o.error.find("lease ran out"), std::string::npos) << o.error;
    f.termination = exited(protocol::exit_code(protocol::WorkerExit::host_died));
    EXPECT_FALSE(lease_ran_out(classify(f)));
}

TEST(Classify, AForkServersChildEndedOnItsLeaseIsWorkerLost)
{
    auto f = running();
    f.termination = signalled(SIGKILL);
    EXPECT_FALSE(lease_ran_out(classify(f))) << "a SIGKILL alone says nothing of the lease";
    f.lease_overdue_ms = 4;
    const auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::worker_lost);
    EXPECT_TRUE(lease_ran_out(o));
    EXPECT_EQ(o.signal_number, SIGKILL);
    EXPECT_FALSE(o.killed) << "the host did not have to";
    EXPECT_NE(o.error.find("fork server stopped the worker and everything it started 4 ms after the attempt's lease ran out"), std::string::npos)
        << o.error;
    // A task that returned before the server ended it keeps its result.
    f.done = protocol::Done{};
    EXPECT_EQ(classify(f).kind, model::OutcomeKind::succeeded);
}

TEST(Classify, DyingWhileLoadingThePluginIsLoadFailedNamingTheSignal)
{
    AttemptFacts f;
    f.hello_seen = true;
    f.loading = true;
    f.termination = signalled(SIGSEGV);
    auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::load_failed);
    EXPECT_TRUE(o.plugin_unusable);
    EXPECT_EQ(o.signal_number, SIGSEGV);
    EXPECT_EQ(o.error, "the worker died by SIGSEGV while loading the plugin (in its library's constructors or its init hook)");
    EXPECT_FALSE(model::retryable(o));
    f.termination = exited(1);
    o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::load_failed);
    EXPECT_EQ(o.error, "the worker exited with code 1 while loading the plugin (in its library's constructors or its init hook)");
    // Once loaded, a death is the task's.
    f.loading = false;
    f.termination = signalled(SIGSEGV);
    EXPECT_EQ(classify(f).kind, model::OutcomeKind::crashed);
}

TEST(Classify, AWorkerExitBeforeHelloIsSpawnFailedWithItsMeaningAndStderr)
{
    using protocol::WorkerExit;
    AttemptFacts f;
    f.worker_executable = "/x/sandhost-worker";
    f.termination = exited(protocol::exit_code(WorkerExit::setup_failed));
    f.stderr_tail = "sandhost-worker: prctl(PR_SET_PDEATHSIG): Invalid argument";
    const auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::spawn_failed);
    EXPECT_EQ(o.error, std::string("worker /x/sandhost-worker ended with exit code 117 (") + protocol::describe(WorkerExit::setup_failed) +
                           ") before its first message: sandhost-worker: prctl(PR_SET_PDEATHSIG): Invalid argument");
}

TEST(Classify, DyingBeforeHelloIsSpawnFailed)
{
    AttemptFacts f;
    f.worker_executable = "/x/sandhost-worker";
    f.termination = exited(72);
    auto o = classify(f);
    EXPECT_EQ(o.kind, model::OutcomeKind::spawn_failed);
    EXPECT_NE(o.error.find("cannot execute /x/sandhost-worker"), std::string::npos);
    f.termination = signalled(SIGKILL);
    EXPECT_EQ(classify(f).kind, model::OutcomeKind::spawn_failed);
}

} // namespace
} // namespace sandhost::sandbox
