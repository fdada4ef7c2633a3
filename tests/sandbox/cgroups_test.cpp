// Control groups for real, on this machine's cgroups: every attempt in a group of its own in
// every mode, the memory limit held by the kernel and judged by the group's OOM count, the
// process limit exact, an escaped grandchild killed with its group, `cgroup: off` as before,
// the groups reused and removed, and the leftovers of a killed host swept. Skipped, saying why,
// where this process can use no cgroups (no v1 memory and pids groups, no delegated v2 group).
#include "os/cgroup.h"
#include "os/proc.h"
#include "sandbox/cgroups.h"
#include "sandbox/sandbox.h"
#include "sandbox/worker_session.h"
#include "test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace t = sandhost::testing;
using nlohmann::json;

#define SKIP_WITHOUT_CGROUPS()                                                                          \
    do {                                                                                                \
        if (!cgroup_support().usable) GTEST_SKIP() << "no cgroups this process can use: " << cgroup_support().why_not; \
    } while (0)

class Logs final : public AttemptObserver {
public:
    void on_log(int, std::string_view message) override { lines.emplace_back(message); }
    std::vector<std::string> lines;
};

// The path of this process's group in the memory hierarchy (v1) or the unified one (v2), as
// /proc/PID/cgroup says, for a report of the privileges fixture.
std::string group_path_in(const std::string& proc_cgroup)
{
    for (const auto& m : os::parse_proc_cgroup(proc_cgroup)) {
        const bool memory = std::find(m.controllers.begin(), m.controllers.end(), "memory") != m.controllers.end();
        if (cgroup_support().version == os::CgroupVersion::v1 ? memory : m.hierarchy == 0) return m.path;
    }
    return {};
}

bool running(pid_t pid)
{
    const auto state = os::process_state(pid);
    return state && *state != 'Z';
}

class CgroupAttempts : public ::testing::TestWithParam<model::Mode> {
protected:
    void SetUp() override { m_sandbox = std::make_unique<Sandbox>(t::worker_config(process::Spawner::default_launcher())); }
    void TearDown() override
    {
        m_sandbox.reset();
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }
    AttemptSpec spec(const std::string& task, const std::string& payload = "{}", const std::string& plugin = "misbehave")
    {
        AttemptSpec s;
        s.plugin_path = plugin == "privileges" ? t::fixture_plugin_dir() / "privileges.so" : t::plugin(plugin);
        s.task = task;
        s.payload = payload;
        s.settings.timeout = 30s;
        s.settings.grace = 500ms;
        s.settings.mode = GetParam();
        return s;
    }
    Sandbox& sandbox() { return *m_sandbox; }

    std::unique_ptr<Sandbox> m_sandbox;
};

TEST_P(CgroupAttempts, EachAttemptRunsInAGroupOfItsOwn)
{
    SKIP_WITHOUT_CGROUPS();
    ASSERT_NE(sandbox().cgroups(), nullptr);
    std::string own;
    {
        auto text = os::read_text_file("/proc/self/cgroup");
        ASSERT_TRUE(text.ok());
        own = group_path_in(*text);
    }
    const auto o = sandbox().run_attempt(spec("report", "{}", "privileges"));
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << o.error << o.stderr_tail;
    const std::string task_group = group_path_in(json::parse(o.result).at("cgroup").get<std::string>());
    EXPECT_NE(task_group, own) << "the task runs in the host's own group";
    const std::string top = sandbox().cgroups()->folders().folders().front().path.filename().string();
    EXPECT_NE(task_group.find("/" + top + "/slot-"), std::string::npos) << task_group << " is not one of this sandbox's slots (" << top << ")";
    // In every hierarchy of the group, not the memory one alone: the worker (or a fork
    // server's child) entered each by itself, through v1's `tasks`, which moves one thread.
    const std::string cgroup = json::parse(o.result).at("cgroup").get<std::string>();
    std::size_t hierarchies_in_a_slot = 0;
    for (const auto& m : os::parse_proc_cgroup(cgroup)) {
        if (m.path.find("/" + top + "/slot-") != std::string::npos) ++hierarchies_in_a_slot;
    }
    EXPECT_EQ(hierarchies_in_a_slot, sandbox().cgroups()->folders().folders().size()) << cgroup;
    EXPECT_TRUE(o.cpu_ms.has_value());
}

TEST_P(CgroupAttempts, AMemoryHogIsStoppedByTheKernelAndCountedInItsGroup)
{
    SKIP_WITHOUT_CGROUPS();
    auto s = spec("leak");
    s.settings.limits.memory_bytes = 96ull << 20;
    const auto o = sandbox().run_attempt(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::resource_limit) << model::to_json(o);
    EXPECT_EQ(o.limit, model::LimitKind::memory);
    EXPECT_NE(o.error.find("the kernel killed 1 process in the attempt's control group"), std::string::npos) << model::to_json(o);
    EXPECT_EQ(o.signal_number, SIGKILL) << "an OOM kill, not a failed malloc";
    EXPECT_TRUE(model::retryable(o));
}

TEST_P(CgroupAttempts, AForkBombStopsAtExactlyTheProcessLimit)
{
    SKIP_WITHOUT_CGROUPS();
    auto s = spec("spawn_children", R"({"count":10})");
    s.settings.limits.processes = 4;
    Logs logs;
    const auto o = sandbox().run_attempt(s, &logs);
    ASSERT_EQ(o.kind, model::OutcomeKind::resource_limit) << model::to_json(o);
    EXPECT_EQ(o.limit, model::LimitKind::processes);
    // The worker (or a fork server's child) and three children: the fourth fork was refused.
#if defined(SANDHOST_SANITIZED)
    // A sanitizer may keep a thread of its own in the worker, which the kernel counts too.
    // (ThreadSanitizer's background thread, a reused worker's lease watch): at least one child.
    EXPECT_GE(logs.lines.size(), 1u) << ::testing::PrintToString(logs.lines);
    EXPECT_LE(logs.lines.size(), 3u) << ::testing::PrintToString(logs.lines);
    EXPECT_NE(o.error.find("in the attempt's control group"), std::string::npos) << o.error;
#else
    EXPECT_EQ(logs.lines.size(), 3u) << ::testing::PrintToString(logs.lines);
    EXPECT_NE(o.error.find("the kernel refused 1 fork in the attempt's control group"), std::string::npos) << o.error;
#endif
    EXPECT_NE(o.error.find("fork of child " + std::to_string(logs.lines.size() + 1) + " of 10"), std::string::npos)
        << "the task's own words are kept: " << o.error;
}

TEST_P(CgroupAttempts, AGrandchildThatLeftTheWorkersTreeEndsWithTheAttempt)
{
    SKIP_WITHOUT_CGROUPS();
    // The task stops being its descendants' subreaper and double-forks: the grandchild, in a
    // session of its own, is re-parented out of the worker's tree. Its group still holds it.
    const auto o = sandbox().run_attempt(spec("escape"));
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << o.error << o.stderr_tail;
    const pid_t escaped = json::parse(o.result).at("pid").get<pid_t>();
    EXPECT_FALSE(running(escaped)) << "pid " << escaped << " outlived its attempt";

    // Stopped at a timeout, likewise.
    auto s = spec("escape", R"({"hang":true})");
    s.settings.timeout = 300ms;
    Logs logs;
    const auto stopped = sandbox().run_attempt(s, &logs);
    ASSERT_EQ(stopped.kind, model::OutcomeKind::timed_out) << stopped.error;
    ASSERT_EQ(logs.lines.size(), 1u);
    const pid_t hung = std::stoi(logs.lines[0].substr(std::string("escaped pid ").size()));
    EXPECT_FALSE(running(hung)) << "pid " << hung << " outlived its stopped attempt";

    // With a lease, as a host runs every job: a spawned or reused worker's lease watch is a
    // thread of its own in the group, which stays with a reused worker; the grandchild is not.
    auto leased = spec("escape");
    leased.lease = 30s;
    for (int i = 0; i < 2; ++i) {
        const auto o_leased = sandbox().run_attempt(leased);
        ASSERT_EQ(o_leased.kind, model::OutcomeKind::succeeded) << o_leased.error << o_leased.stderr_tail;
        const pid_t escaped_leased = json::parse(o_leased.result).at("pid").get<pid_t>();
        EXPECT_FALSE(running(escaped_leased)) << "pid " << escaped_leased << " outlived its attempt " << i;
    }
}

TEST_P(CgroupAttempts, OffRunsTheAttemptInTheHostsGroupWithTheOldLimits)
{
    auto s = spec("report", "{}", "privileges");
    s.settings.cgroup = model::CgroupUse::off;
    const auto o = sandbox().run_attempt(s);
    ASSERT_EQ(o.kind, model::OutcomeKind::succeeded) << o.error;
    auto own = os::read_text_file("/proc/self/cgroup");
    ASSERT_TRUE(own.ok());
    EXPECT_EQ(json::parse(o.result).at("cgroup").get<std::string>(), *own) << "the worker shares the host's groups";

    auto hog = spec("leak");
    hog.settings.cgroup = model::CgroupUse::off;
    hog.settings.limits.memory_bytes = 96ull << 20;
    const auto limited = sandbox().run_attempt(hog);
    ASSERT_EQ(limited.kind, model::OutcomeKind::resource_limit) << model::to_json(limited);
    EXPECT_EQ(limited.limit, model::LimitKind::memory);
    EXPECT_EQ(limited.error.find("control group"), std::string::npos) << limited.error;
}

INSTANTIATE_TEST_SUITE_P(Modes, CgroupAttempts, ::testing::Values(model::Mode::spawn, model::Mode::fork, model::Mode::reuse),
                         [](const auto& param_info) { return std::string(model::to_string(param_info.param)); });

TEST(CgroupPool, GroupsAreReusedAndRemovedAtShutdown)
{
    SKIP_WITHOUT_CGROUPS();
    std::vector<fs::path> top;
    {
        Sandbox sandbox(t::worker_config(process::Spawner::default_launcher()));
        ASSERT_NE(sandbox.cgroups(), nullptr);
        for (const auto& f : sandbox.cgroups()->folders().folders()) top.push_back(f.path);
        for (const auto& f : top) EXPECT_TRUE(fs::is_directory(f)) << f;
        AttemptSpec s;
        s.plugin_path = t::plugin("misbehave");
        s.task = "echo";
        s.payload = "{}";
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(sandbox.run_attempt(s).succeeded());
        EXPECT_EQ(sandbox.cgroups()->made(), 1u) << "one attempt at a time needs one group";
        EXPECT_EQ(sandbox.cgroups()->free(), 1u);
        const auto slot = sandbox.cgroups()->folders().folder_of("pids").value() / "slot-0";
        EXPECT_EQ(os::read_text_file(slot / "pids.max").value(), "64\n") << "the default limits.processes";
    }
    for (const auto& f : top) EXPECT_FALSE(fs::exists(f)) << f << " outlived its sandbox";
    EXPECT_TRUE(t::leftover_processes().empty());
}

// Free groups keep their files open only while they are among the next few to be lent, and
// give them all up on request (a host short of descriptors); a group lent again opens them anew.
TEST(CgroupPool, FreeGroupsHoldFewDescriptorsAndGiveThemUpOnRequest)
{
    SKIP_WITHOUT_CGROUPS();
    auto pool = CgroupPool::open(cgroup_support());
    ASSERT_TRUE(pool.ok()) << pool.error().message();
    std::size_t per_group = 0;
    {
        std::vector<CgroupLease> leases;
        for (int i = 0; i < 7; ++i) {
            auto lease = (*pool)->acquire(std::nullopt, 16);
            ASSERT_TRUE(lease.ok()) << lease.error().message();
            ASSERT_TRUE((*lease)->files_to_enter_by_oneself().ok());
            (void)(*lease)->counters();
            EXPECT_EQ((*lease)->tasks(), std::optional<std::uint64_t>(0));
            per_group = (*lease)->open_files();
            leases.push_back(std::move(lease.value()));
        }
        ASSERT_GT(per_group, 0u);
    }
    EXPECT_EQ((*pool)->free(), 7u);
    EXPECT_EQ((*pool)->free_open_files(), CgroupPool::k_free_groups_with_files * per_group)
        << "free groups past the next few to be lent close their files";
    EXPECT_EQ((*pool)->close_free_files(), CgroupPool::k_free_groups_with_files * per_group);
    EXPECT_EQ((*pool)->free_open_files(), 0u);
    auto again = (*pool)->acquire(std::nullopt, 16);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)->tasks(), std::optional<std::uint64_t>(0)) << "a group whose files were closed reads them again";
    // The counters of an empty group stand until a process enters: then they are read again.
    const auto before = (*again)->counters();
    EXPECT_EQ((*again)->counters(), before);
    const auto entries = (*again)->files_to_enter_by_oneself();
    ASSERT_TRUE(entries.ok()) << entries.error().message();
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    if (child == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a failed ASSERT below must not leave it running
        char go = 0;
        (void)::read(ready[0], &go, 1);
        for (int fd : entries.value()) (void)::write(fd, "0", 1);
        // 30 ms of CPU, in the group, then wait to be killed.
        timespec start{}, now{};
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
        do {
            ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
        } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < 30);
        for (;;) ::pause();
    }
    ASSERT_GT(child, 0);
    ::close(ready[0]);
    ASSERT_EQ(::write(ready[1], "x", 1), 1);
    ::close(ready[1]);
    EXPECT_TRUE(t::eventually([&] { return (*again)->processes() == std::vector<pid_t>{child}; }, 10s)) << "the child did not enter";
    if (cgroup_support().cpu) {
        EXPECT_TRUE(t::eventually([&] { return (*again)->counters().cpu_us >= before.cpu_us + 20'000; }, 10s))
            << "the CPU time of a process that entered is counted, not the empty group's figure";
    }
    ASSERT_TRUE((*again)->kill_all().ok());
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status));
}

// A worker (or a fork server's child) enters its group itself: "0" written to each file it is
// given (v1's `tasks`) puts it in the group in every hierarchy. The files are opened once and kept.
TEST(CgroupPool, AProcessEntersItsGroupByItselfThroughFilesKeptOpen)
{
    SKIP_WITHOUT_CGROUPS();
    auto pool = CgroupPool::open(cgroup_support());
    ASSERT_TRUE(pool.ok()) << pool.error().message();
    auto lease = (*pool)->acquire(std::nullopt, 16);
    ASSERT_TRUE(lease.ok()) << lease.error().message();
    const auto opened = (*lease)->files_to_enter_by_oneself();
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    const std::vector<int> entries = opened.value();
    const auto& folders = (*lease)->folders().folders();
    ASSERT_EQ(entries.size(), folders.size());
    int entered[2];
    ASSERT_EQ(::pipe(entered), 0);
    const pid_t child = ::fork();
    if (child == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a failed ASSERT below must not leave it running
        char ok = 'y';
        for (int fd : entries) {
            if (::write(fd, "0", 1) != 1) ok = 'n';
        }
        (void)::write(entered[1], &ok, 1);
        for (;;) ::pause();
    }
    ASSERT_GT(child, 0);
    ::close(entered[1]);
    char ok = 0;
    ASSERT_EQ(::read(entered[0], &ok, 1), 1);
    ::close(entered[0]);
    EXPECT_EQ(ok, 'y') << "a write of 0 into the group was refused";
    EXPECT_EQ((*lease)->processes(), std::vector<pid_t>{child});
    const auto read = os::read_text_file("/proc/" + std::to_string(child) + "/cgroup");
    ASSERT_TRUE(read.ok());
    const std::string own_groups = read.value();
    const auto slot = folders.front().path.filename().string();  // the same slot name in every hierarchy
    std::size_t hierarchies_in_slot = 0;
    for (const auto& m : os::parse_proc_cgroup(own_groups)) {
        if (m.path.ends_with("/" + slot)) ++hierarchies_in_slot;
    }
    EXPECT_EQ(hierarchies_in_slot, folders.size()) << own_groups;
    const std::size_t with_entries = (*lease)->open_files();
    ASSERT_TRUE((*lease)->files_to_enter_by_oneself().ok());
    EXPECT_EQ((*lease)->open_files(), with_entries) << "the files to enter by are opened once and kept";
    ASSERT_TRUE((*lease)->kill_all().ok());
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status));
}

// A worker gone before its group reaches it (it failed as it started, before reading
// anything): its attempt reports how the worker ended and what it said, not the host's send.
TEST(CgroupPool, AWorkerGoneBeforeItsGroupReachesItIsReportedByItsOwnEnd)
{
    SKIP_WITHOUT_CGROUPS();
    auto pool = CgroupPool::open(cgroup_support());
    ASSERT_TRUE(pool.ok()) << pool.error().message();
    auto lease = (*pool)->acquire(std::nullopt, 16);
    ASSERT_TRUE(lease.ok()) << lease.error().message();
    t::TempDir dir;
    const auto script = dir.path() / "worker";
    {
        std::ofstream out(script);
        out << "#!/bin/sh\necho 'cannot set up: no mount namespace here' >&2\nexit 74\n";
    }
    fs::permissions(script, fs::perms::owner_all);
    auto config = t::worker_config(process::Spawner::default_launcher());
    config.executable = script;
    process::Spawner spawner;
    auto session = WorkerSession::start(spawner, config, WorkerRole::spawn, model::Privileges{});
    ASSERT_TRUE(session.ok()) << session.error().message();
    // Gone (and left for the session to reap) before the group is handed over.
    siginfo_t gone{};
    ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(session->pid()), &gone, WEXITED | WNOWAIT), 0) << std::strerror(errno);
    const auto handed = session->hand_group(std::move(lease.value()));
    ASSERT_TRUE(handed.ok()) << handed.error().message();
    AttemptSpec s;
    s.plugin_path = t::plugin("misbehave");
    s.task = "echo";
    s.payload = "{}";
    const auto o = session->run(s, nullptr, nullptr);
    EXPECT_EQ(o.kind, model::OutcomeKind::spawn_failed) << model::to_json(o);
    EXPECT_NE(o.error.find("exit code 74"), std::string::npos) << o.error;
    EXPECT_NE(o.error.find("cannot set up: no mount namespace here"), std::string::npos) << o.error;
}

// A group the kernel refuses to let the worker into: its folders removed while the files to
// enter by were open, so each write of "0" fails (ENODEV). The worker exits without running
// its job, the attempt is spawn_failed and says why, and the pool takes the vanished group
// back without harm.
TEST(CgroupPool, AWorkerTheKernelKeepsOutOfItsGroupRunsNoJobAndSaysWhy)
{
    SKIP_WITHOUT_CGROUPS();
    auto pool = CgroupPool::open(cgroup_support());
    ASSERT_TRUE(pool.ok()) << pool.error().message();
    t::TempDir dir;
    const auto ran = dir.path() / "ran";
    {
        auto lease = (*pool)->acquire(std::nullopt, 16);
        ASSERT_TRUE(lease.ok()) << lease.error().message();
        ASSERT_TRUE((*lease)->files_to_enter_by_oneself().ok());  // kept open, and handed over below
        for (const auto& folder : (*lease)->folders().folders()) {
            std::error_code ec;
            ASSERT_TRUE(fs::remove(folder.path, ec)) << folder.path << ": " << ec.message();
        }
        process::Spawner spawner;
        auto session = WorkerSession::start(spawner, t::worker_config(process::Spawner::default_launcher()), WorkerRole::spawn,
                                            model::Privileges{});
        ASSERT_TRUE(session.ok()) << session.error().message();
        ASSERT_TRUE(session->hand_group(std::move(lease.value())).ok());
        AttemptSpec s;
        s.plugin_path = t::plugin("misbehave");
        s.task = "write_file";
        s.payload = json{{"path", ran.string()}, {"mib", 0}}.dump();
        const auto o = session->run(s, nullptr, nullptr);
        EXPECT_EQ(o.kind, model::OutcomeKind::spawn_failed) << model::to_json(o);
        EXPECT_NE(o.error.find(std::strerror(ENODEV)), std::string::npos) << o.error;
    }
    EXPECT_FALSE(fs::exists(ran)) << "the job ran outside its group";
    // The pool goes on lending groups after one vanished under it.
    auto next = (*pool)->acquire(std::nullopt, 16);
    ASSERT_TRUE(next.ok()) << next.error().message();
    for (const auto& folder : (*next)->folders().folders()) EXPECT_TRUE(fs::is_directory(folder.path)) << folder.path;
    EXPECT_TRUE(t::leftover_processes().empty());
}

// The kernel's peak of a real group: one process alone in it is seen alone until it forks
// once, and from then on never again, even after its child is gone. (A reused worker's job is
// judged on fewer reads while its group is so; see WorkerSession::conclude.)
TEST(CgroupPool, AGroupIsSeenToHoldOneProcessOnlyUntilItForks)
{
    SKIP_WITHOUT_CGROUPS();
    auto pool = CgroupPool::open(cgroup_support());
    ASSERT_TRUE(pool.ok()) << pool.error().message();
    auto lease = (*pool)->acquire(std::nullopt, 16);
    ASSERT_TRUE(lease.ok()) << lease.error().message();
    const auto slot = (*lease)->folders().folder_of("pids");
    if (!slot || !fs::exists(*slot / "pids.peak")) GTEST_SKIP() << "this kernel keeps no pids.peak (Linux 6.1 and later do)";
    const auto entries = (*lease)->files_to_enter_by_oneself();
    ASSERT_TRUE(entries.ok()) << entries.error().message();
    int ready[2], go[2], done[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(go), 0);
    ASSERT_EQ(::pipe(done), 0);
    const pid_t child = ::fork();
    if (child == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a failed ASSERT below must not leave it running
        for (int fd : entries.value()) (void)::write(fd, "0", 1);
        (void)::write(ready[1], "r", 1);
        char byte = 0;
        (void)::read(go[0], &byte, 1);
        const pid_t grandchild = ::fork();
        if (grandchild == 0) ::_exit(0);
        ::waitpid(grandchild, nullptr, 0);
        (void)::write(done[1], "x", 1);
        for (;;) ::pause();
    }
    ASSERT_GT(child, 0);
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    // One thread, or two under ThreadSanitizer, whose background thread a forked child starts
    // again at once.
    const auto own = (*lease)->tasks();
    ASSERT_TRUE(own.has_value());
    EXPECT_TRUE((*lease)->only_ever_held(*own)) << "one process, " << *own << " threads";
    ASSERT_EQ(::write(go[1], "f", 1), 1);
    ASSERT_EQ(::read(done[0], &byte, 1), 1);
    EXPECT_EQ((*lease)->tasks(), own) << "the grandchild is gone";
    EXPECT_FALSE((*lease)->only_ever_held(*own)) << "but it was there";
    for (int fd : {ready[0], ready[1], go[0], go[1], done[0], done[1]}) ::close(fd);
    ASSERT_TRUE((*lease)->kill_all().ok());
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
}

TEST(CgroupPool, LeftoversOfAHostThatDiedAreSweptAtTheNextStart)
{
    SKIP_WITHOUT_CGROUPS();
    // A pid that is surely dead: a child of ours, reaped.
    const pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    ASSERT_GT(dead, 0);
    ::waitpid(dead, nullptr, 0);
    const std::string name = "sandhost." + std::to_string(dead) + ".0";
    const auto& support = cgroup_support();
    std::vector<os::CgroupFolders::Folder> top_folders, slot_folders;
    for (const auto& base : support.bases) {
        top_folders.push_back({base.controller, base.path / name});
        slot_folders.push_back({base.controller, base.path / name / "slot-0"});
    }
    const os::CgroupFolders top(support.version, top_folders), slot(support.version, slot_folders);
    // What the dead host's worker left running in its group. It dies with this process, and is
    // killed and reaped on every way out of the test.
    const pid_t stray = ::fork();
    if (stray == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) ::pause();
    }
    ASSERT_GT(stray, 0);
    bool reaped = false;
    struct Reap {
        pid_t pid;
        bool& reaped;
        ~Reap()
        {
            if (reaped) return;
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    } reap{stray, reaped};
    // Any other process starting a Sandbox meanwhile (tests run side by side) sweeps this dead
    // host's groups too, perhaps between their making and the stray's entry: then make them again.
    bool added = false;
    for (int round = 0; round < 20 && !added; ++round) {
        ASSERT_TRUE(top.make().ok());
        ASSERT_TRUE(slot.make().ok());
        added = slot.add(stray).ok();
    }
    ASSERT_TRUE(added) << "the stray could not enter its group";

    Sandbox sandbox(t::worker_config(process::Spawner::default_launcher()));
    for (const auto& f : top_folders) EXPECT_FALSE(fs::exists(f.path)) << f.path << " was not swept";
    int status = 0;
    ASSERT_EQ(::waitpid(stray, &status, 0), stray);
    reaped = true;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "what ran in a swept group is killed";
}

} // namespace
} // namespace sandhost::sandbox
