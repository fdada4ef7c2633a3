// sandhost-bench: what a job costs in each isolation mode, beside the raw baselines measured
// in the same run, as ratios. Not a test: it asserts nothing about speed.
//
//   sandhost-bench [--quick] [--json] [--jobs N] [--long N] [--only MODE|redis] [--no-redis]
//   sandhost-bench --row ROW [--repeat N] [--parallel N]   (one row alone, for A/B runs)
#include "api/server.h"
#include "config/load.h"
#include "os/fd.h"
#include "os/proc.h"
#include "sandbox/cgroups.h"
#include "sandbox/isolation_support.h"
#include "sandbox/sandbox.h"
#include "scheduler/host.h"
#include "scheduler/store_factory.h"
#include "store/sqlite_store.h"
#include "store_floor.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace sb = sandhost::sandbox;
namespace md = sandhost::model;

const std::string k_bench_dir = SANDHOST_BENCH_DIR;
const std::string k_plugin = k_bench_dir + "/plugins/trivial.so";
const std::string k_static_child = k_bench_dir + "/bench-static-child";
const std::string k_dynamic_child = k_bench_dir + "/bench-dynamic-child";
const std::string k_fork_server = k_bench_dir + "/bench-fork-server";
const std::string k_supervised = k_bench_dir + "/bench-supervised";
// An open dashboard refreshes about this often at most; each poll is two API calls.
constexpr int k_api_polls_per_s = 10;

struct Figures {
    double jobs_per_s = 0;
    double p50_us = 0;
    double p99_us = 0;
    // Queue rows: p50_us and p99_us are of claim to result (the claim's commit to the commit of
    // the attempt's record); these of enqueue to result (the enqueue call to that commit).
    std::optional<double> enqueue_p50_us;
    std::optional<double> enqueue_p99_us;
    // Queue rows with prefetch: of start to result (the attempt's start, after the job was
    // held ahead of a free slot, to the commit of its record).
    std::optional<double> start_p50_us;
    std::optional<double> start_p99_us;
    // Queue rows: the producer's time in its enqueue calls, per job (one at a time, or
    // enqueue_jobs of a batch), while the hosts claimed and recorded beside it.
    std::optional<double> producer_us_per_job;
    // Redis queue rows: commands the server ran per job (those run by scripts included, as INFO
    // commandstats counts them), and of those the EVALSHA calls, one round trip each.
    std::optional<double> redis_commands_per_job;
    std::optional<double> redis_evalsha_per_job;
    // Queue rows with a backlog: finished jobs the hosts' retention deleted during the run.
    std::optional<std::uint64_t> trimmed_during_run;
    // Baseline and mode rows: the CPU time (user and system) the whole row took per job, in
    // this process and in every process it started (each reaped before the row ends).
    std::optional<double> cpu_us_per_job;
};

// CPU time used so far by this process and by the children it reaped (and theirs).
double cpu_used_us()
{
    double total = 0;
    for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
        rusage usage{};
        ::getrusage(who, &usage);
        for (const timeval& t : {usage.ru_utime, usage.ru_stime}) total += static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
    }
    return total;
}

[[noreturn]] void fail(const std::string& what)
{
    std::cerr << "sandhost-bench: " << what << "\n";
    std::exit(1);
}

void check_reply(const std::string& reply, long long request)
{
    if (std::strtoll(reply.c_str(), nullptr, 10) != request + 1) fail("wrong reply '" + reply + "' to " + std::to_string(request));
}

// Runs `jobs` jobs on each of `parallel` threads; job(thread, index) does one and checks it.
Figures measure(int parallel, int jobs, const std::function<void(int, int)>& job)
{
    std::vector<std::vector<double>> latencies(static_cast<size_t>(parallel));
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int t = 0; t < parallel; ++t) {
        threads.emplace_back([&, t] {
            auto& mine = latencies[static_cast<size_t>(t)];
            mine.reserve(static_cast<size_t>(jobs));
            for (int i = 0; i < jobs; ++i) {
                const auto before = Clock::now();
                job(t, i);
                mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
            }
        });
    }
    for (auto& thread : threads) thread.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> all;
    for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    Figures f;
    f.jobs_per_s = static_cast<double>(all.size()) / seconds;
    f.p50_us = all[all.size() / 2];
    f.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
    return f;
}

// A child with stdin and stdout on pipes.
struct Child {
    pid_t pid = -1;
    int in = -1;
    int out = -1;
};

Child spawn_child(const std::vector<std::string>& argv)
{
    int to_child[2];
    int from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) fail("pipe2 failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    Child child;
    const int rc = ::posix_spawn(&child.pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(to_child[0]);
    ::close(from_child[1]);
    if (rc != 0) fail("posix_spawn " + argv[0] + ": " + std::strerror(rc));
    child.in = to_child[1];
    child.out = from_child[0];
    return child;
}

std::string round_trip(const Child& child, long long request)
{
    const std::string text = std::to_string(request) + "\n";
    if (::write(child.in, text.data(), text.size()) != static_cast<ssize_t>(text.size())) fail("write to a baseline failed");
    char reply[64];
    const ssize_t n = ::read(child.out, reply, sizeof reply - 1);
    if (n <= 0) fail("a baseline did not answer");
    return std::string(reply, static_cast<size_t>(n));
}

void end_child(Child& child)
{
    ::close(child.in);
    ::close(child.out);
    int status = 0;
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
}

Figures spawn_baseline(int parallel, int jobs, const std::vector<std::string>& argv)
{
    const double cpu_before = cpu_used_us();
    auto f = measure(parallel, jobs, [&](int t, int i) {
        Child child = spawn_child(argv);
        const long long request = t * 1000000LL + i;
        check_reply(round_trip(child, request), request);
        end_child(child);
    });
    f.cpu_us_per_job = (cpu_used_us() - cpu_before) / (parallel * jobs);
    return f;
}

Figures server_baseline(int parallel, int jobs, const std::string& how)
{
    const double cpu_before = cpu_used_us();
    std::vector<Child> servers;
    for (int t = 0; t < parallel; ++t) servers.push_back(spawn_child({k_fork_server, k_plugin, how}));
    auto f = measure(parallel, jobs, [&](int t, int i) {
        const long long request = t * 1000000LL + i;
        check_reply(round_trip(servers[static_cast<size_t>(t)], request), request);
    });
    for (auto& server : servers) end_child(server);
    f.cpu_us_per_job = (cpu_used_us() - cpu_before) / (parallel * jobs);
    return f;
}

// A baseline's server for one thread: asked a number, it answers that number plus one.
class BaselineServer {
public:
    virtual ~BaselineServer() = default;
    virtual std::string ask(long long request) = 0;
};

// A server of baselines/fork_server.c on the child's standard input and output.
class PipedServer final : public BaselineServer {
public:
    explicit PipedServer(const std::vector<std::string>& argv) : m_child(spawn_child(argv)) {}
    ~PipedServer() override { end_child(m_child); }
    std::string ask(long long request) override { return round_trip(m_child, request); }

private:
    Child m_child;
};

// Servers whose children enter a group of their own, as fork mode's defaults put every job
// (cgroup: auto): every thread's server has a group from a pool of the sandbox's own making,
// so the same controllers and folders are used. `start(thread, folders)` starts a thread's
// server given its group's folders (none where this machine's cgroups are not usable).
Figures grouped_servers(int parallel, int jobs,
                        const std::function<std::unique_ptr<BaselineServer>(int, const std::vector<std::filesystem::path>&)>& start)
{
    std::unique_ptr<sb::CgroupPool> pool;
    if (sb::cgroup_support().usable) {
        auto opened = sb::CgroupPool::open(sb::cgroup_support());
        if (!opened) fail("cannot make a grouped baseline's groups: " + opened.error().message());
        pool = std::move(opened.value());
    }
    std::vector<sb::CgroupLease> groups;
    std::vector<std::unique_ptr<BaselineServer>> servers;
    const double cpu_before = cpu_used_us();
    for (int t = 0; t < parallel; ++t) {
        std::vector<std::filesystem::path> folders;
        if (pool) {
            auto lease = pool->acquire(std::nullopt, std::nullopt);
            if (!lease) fail("cannot lend a grouped baseline a group: " + lease.error().message());
            for (const auto& folder : lease.value()->folders().folders()) folders.push_back(folder.path);
            groups.push_back(std::move(lease.value()));
        }
        servers.push_back(start(t, folders));
    }
    auto f = measure(parallel, jobs, [&](int t, int i) {
        const long long request = t * 1000000LL + i;
        check_reply(servers[static_cast<size_t>(t)]->ask(request), request);
    });
    servers.clear();
    f.cpu_us_per_job = (cpu_used_us() - cpu_before) / (parallel * jobs);
    groups.clear();  // back to the pool, which removes them
    return f;
}

// v1 has a folder per hierarchy, each with `tasks`; v2 one folder, without.
bool v1_folders(const std::vector<std::filesystem::path>& folders)
{
    return !folders.empty() && std::filesystem::exists(folders.front() / "tasks");
}

// fork_no_exec with each child in a group of its own: the child moves itself into each
// hierarchy's folder of the group (v1: "0" into each controller's `tasks`, as a fork-mode child
// enters its group) before it answers. What sandhost's fork mode can reach with groups on;
// nullopt when this machine's cgroups are not usable.
std::optional<Figures> grouped_baseline(int parallel, int jobs)
{
    if (!sb::cgroup_support().usable) return std::nullopt;
    return grouped_servers(parallel, jobs, [](int, const std::vector<std::filesystem::path>& folders) {
        std::vector<std::string> argv{k_fork_server, k_plugin, "grouped"};
        // The files a fork-mode child enters its group by (AttemptGroup::files_to_enter_by_oneself).
        const char* file = v1_folders(folders) ? "tasks" : "cgroup.procs";
        for (const auto& folder : folders) argv.push_back((folder / file).string());
        return std::make_unique<PipedServer>(argv);
    });
}

int open_or_fail(const std::filesystem::path& file, int flags)
{
    const int fd = ::open(file.c_str(), flags | O_CLOEXEC);
    if (fd < 0) fail("cannot open " + file.string() + ": " + std::strerror(errno));
    return fd;
}

// A process of baselines/supervised.c, its standard input a unix socket whose other end is
// kept here; ended by closing it.
class SupervisedProcess {
public:
    explicit SupervisedProcess(const std::vector<std::string>& argv)
    {
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) fail("socketpair failed");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, pair[1], 0);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        const int rc = ::posix_spawn(&m_pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(pair[1]);
        m_channel = pair[0];
        if (rc != 0) fail(argv[0] + ": " + std::strerror(rc));
    }
    ~SupervisedProcess()
    {
        ::close(m_channel);
        int status = 0;
        while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    SupervisedProcess(const SupervisedProcess&) = delete;
    SupervisedProcess& operator=(const SupervisedProcess&) = delete;
    int channel() const { return m_channel; }

private:
    pid_t m_pid = -1;
    int m_channel = -1;
};

// The group's counters an attempt's group is read for after each job: OOM kills, refused
// forks, processes left, CPU; for a reused worker alone in its group (`lone`), whose OOM kill
// its own exit would show, all but the first.
std::vector<int> open_counters(const std::vector<std::filesystem::path>& groups, bool lone)
{
    const bool v1 = v1_folders(groups);
    std::vector<const char*> names = v1 ? std::vector<const char*>{"memory.oom_control", "pids.events", "pids.current", "cpuacct.usage"}
                                        : std::vector<const char*>{"memory.events", "pids.events", "pids.current", "cpu.stat"};
    if (lone) names.erase(names.begin());
    std::vector<int> counters;
    for (const auto& group : groups) {
        for (const char* name : names) {
            if (std::filesystem::exists(group / name)) counters.push_back(open_or_fail(group / name, O_RDONLY));
        }
    }
    return counters;
}

void read_counters(const std::vector<int>& counters)
{
    char text[512];
    for (int fd : counters) [[maybe_unused]] auto n = ::pread(fd, text, sizeof text, 0);
}

// The host's side of fork_no_exec_supervised, in the thread that asks, as fork mode's is in
// the attempt's thread; the server's and the child's are baselines/supervised.c's. For each
// job: five pipes (the job in, the result out, stdout, stderr, the exit status), the request
// put in the first, the child's ends and the group's entry files handed to the server in one
// message, the child's pid awaited, then its result and its status (a clean exit, or the
// baseline fails), its output read to its end, the group's counters read and the job's folder
// looked into (still empty?).
class SupervisedFork final : public BaselineServer {
public:
    SupervisedFork(const std::filesystem::path& folder, const std::vector<std::filesystem::path>& groups)
        : m_folder(folder), m_counters(open_counters(groups, false)), m_server({k_supervised, k_plugin, folder.string(), "fork"})
    {
        const char* entry = v1_folders(groups) ? "tasks" : "cgroup.procs";
        for (const auto& group : groups) m_entries.push_back(open_or_fail(group / entry, O_WRONLY));
    }
    ~SupervisedFork() override
    {
        for (int fd : m_entries) ::close(fd);
        for (int fd : m_counters) ::close(fd);
    }
    std::string ask(long long request) override
    {
        int in[2], result[2], out[2], err[2], status[2];
        if (::pipe2(in, O_CLOEXEC | O_NONBLOCK) != 0 || ::pipe2(result, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
            ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(status, O_CLOEXEC) != 0) {
            fail("pipe2 failed");
        }
        const std::string text = std::to_string(request) + "\n";
        if (::write(in[1], text.data(), text.size()) != static_cast<ssize_t>(text.size())) fail("write to a job's pipe failed");
        std::vector<int> passed{in[0], result[1], out[1], err[1], status[1]};
        passed.insert(passed.end(), m_entries.begin(), m_entries.end());
        if (!sandhost::os::send_with_fds(m_server.channel(), "j", passed)) fail("the supervised fork server is gone");
        for (int i = 0; i < 5; ++i) ::close(passed[static_cast<size_t>(i)]);
        pid_t child = 0;
        if (::read(m_server.channel(), &child, sizeof child) != sizeof child || child <= 0) fail("the supervised fork server did not fork");
        char reply[64];
        ssize_t got = 0;
        bool have_status = false;
        while (got == 0 || !have_status) {
            pollfd fds[2] = {{got ? -1 : result[0], POLLIN, 0}, {have_status ? -1 : status[0], POLLIN, 0}};
            if (::poll(fds, 2, -1) < 0) continue;
            if (fds[0].revents) {
                got = ::read(result[0], reply, sizeof reply);
                if (got <= 0) fail("a supervised fork child did not answer");
            }
            if (fds[1].revents) {
                struct {
                    int wait_status;
                    long max_rss_kb, user_us, system_us;
                } record{};
                if (::read(status[0], &record, sizeof record) != sizeof record) fail("a supervised fork child has no status");
                if (!WIFEXITED(record.wait_status) || WEXITSTATUS(record.wait_status) != 0) fail("a supervised fork child failed");
                have_status = true;
            }
        }
        char scrap[512];
        while (::read(out[0], scrap, sizeof scrap) > 0) {
        }
        while (::read(err[0], scrap, sizeof scrap) > 0) {
        }
        read_counters(m_counters);
        const int folder = ::open(m_folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat about{};
        if (folder < 0 || ::fstat(folder, &about) != 0) fail("cannot look into " + m_folder.string());
        char entries[4096];
        while (::syscall(SYS_getdents64, folder, entries, sizeof entries) > 0) {
        }
        ::close(folder);
        for (int fd : {in[1], result[0], out[0], err[0], status[0]}) ::close(fd);
        return std::string(reply, static_cast<std::size_t>(got));
    }

private:
    std::filesystem::path m_folder;
    std::vector<int> m_entries;
    std::vector<int> m_counters;
    SupervisedProcess m_server;
};

// The host's side of pipe_roundtrip_supervised, as reuse mode's is in the attempt's thread; the
// worker's is baselines/supervised.c's. For each job: a look at the channel for anything the
// worker sent unasked, the group's counters read (the reused worker is alone in it, so they
// are its job's), a look at a watch of the plugin's folder and two at the plugin's file (has
// it been replaced?), then the request sent and the answer awaited.
class SupervisedReuse final : public BaselineServer {
public:
    SupervisedReuse(const std::filesystem::path& folder, const std::vector<std::filesystem::path>& groups)
        : m_counters(open_counters(groups, true)), m_worker(worker_argv(folder, groups))
    {
        m_watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (m_watch < 0 || ::inotify_add_watch(m_watch, std::filesystem::path(k_plugin).parent_path().c_str(), IN_CREATE | IN_MOVED_TO | IN_DELETE) < 0) {
            fail("cannot watch the plugin's folder");
        }
    }
    ~SupervisedReuse() override
    {
        ::close(m_watch);
        for (int fd : m_counters) ::close(fd);
    }
    std::string ask(long long request) override
    {
        pollfd unasked{m_worker.channel(), POLLIN, 0};
        if (::poll(&unasked, 1, 0) != 0) fail("the supervised reused worker spoke unasked");
        read_counters(m_counters);
        char events[4096];
        [[maybe_unused]] auto n = ::read(m_watch, events, sizeof events);
        struct stat about{};
        for (int i = 0; i < 2; ++i) {
            if (::stat(k_plugin.c_str(), &about) != 0) fail("the plugin is gone");
        }
        const std::string text = std::to_string(request) + "\n";
        if (::send(m_worker.channel(), text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) fail("the supervised reused worker is gone");
        pollfd answer{m_worker.channel(), POLLIN, 0};
        while (::poll(&answer, 1, -1) < 0) {
        }
        char reply[64];
        const ssize_t got = ::recv(m_worker.channel(), reply, sizeof reply, 0);
        if (got <= 0) fail("the supervised reused worker did not answer");
        return std::string(reply, static_cast<std::size_t>(got));
    }

private:
    static std::vector<std::string> worker_argv(const std::filesystem::path& folder, const std::vector<std::filesystem::path>& groups)
    {
        std::vector<std::string> argv{k_supervised, k_plugin, folder.string(), "reuse"};
        const char* entry = v1_folders(groups) ? "tasks" : "cgroup.procs";
        for (const auto& group : groups) argv.push_back((group / entry).string());
        return argv;
    }
    std::vector<int> m_counters;
    SupervisedProcess m_worker;
    int m_watch = -1;
};

// fork_no_exec_grouped and pipe_roundtrip with the steps a fork-mode or reuse-mode job's
// supervision takes, in plain C and system calls (SupervisedFork, SupervisedReuse,
// baselines/supervised.c): what those steps cost, apart from sandhost's code. In groups where
// this machine's cgroups are usable, as the modes' defaults are; each thread's jobs in a folder
// of their own.
Figures supervised_baseline(int parallel, int jobs, md::Mode mode)
{
    char folder_template[] = "/tmp/sandhost-bench-supervised-XXXXXX";
    if (!::mkdtemp(folder_template)) fail("mkdtemp failed");
    const std::filesystem::path top = folder_template;
    const auto f = grouped_servers(parallel, jobs, [&](int t, const std::vector<std::filesystem::path>& groups) -> std::unique_ptr<BaselineServer> {
        const auto folder = top / std::to_string(t);
        std::filesystem::create_directory(folder);
        if (mode == md::Mode::reuse) return std::make_unique<SupervisedReuse>(folder, groups);
        return std::make_unique<SupervisedFork>(folder, groups);
    });
    std::filesystem::remove_all(top);
    return f;
}

// SQLite alone doing the least a queue does per job (store_floor.h), in a folder of its own.
Figures store_floor_figures(int jobs)
{
    char floor_template[] = "/tmp/sandhost-bench-floor-XXXXXX";
    if (!::mkdtemp(floor_template)) fail("mkdtemp failed");
    Figures f;
    try {
        const auto floor = sandhost::bench::measure_store_floor(floor_template, jobs, sandhost::store::SqliteOptions{}.page_size);
        f.jobs_per_s = floor.jobs_per_s;
        f.cpu_us_per_job = floor.cpu_us_per_job;
    } catch (const std::exception& e) {
        std::filesystem::remove_all(floor_template);
        fail(e.what());
    }
    std::filesystem::remove_all(floor_template);
    return f;
}

sb::AttemptSpec trivial_spec(md::Mode mode, long long request)
{
    sb::AttemptSpec spec;
    spec.plugin_path = k_plugin;
    spec.task = "plus_one";
    spec.payload = std::to_string(request);
    spec.settings.mode = mode;
    return spec;
}

// The largest peak RSS a worker reported (RUSAGE_CHILDREN cannot tell: a child started with
// posix_spawn shares the host's memory until it execs, and reports the host's size).
std::atomic<std::uint64_t> g_worker_peak_rss_kb{0};

// The privilege settings a mode row runs with: the defaults (environment filtered,
// no_new_privileges, the default syscall filter), none at all, or locked down.
enum class Grant { defaults, bare, locked };

// What the locked-down rows grant: user nobody (when the bench runs as root), network: none and
// the default syscall filter, the queue docs/security.md recommends.
md::Privileges locked_down_privileges()
{
    md::Privileges p;
    const auto support = sb::isolation_support();
    if (support.switch_user) p.user = "nobody";
    if (support.network_namespace) p.network = md::Network::none;
    return p;
}

// leased: each attempt has a lease and a cancel token, as every attempt a host runs has (the
// rows without are what Sandbox::run_attempt costs on its own).
Figures mode_figures(int parallel, int jobs, md::Mode mode, Grant grant = Grant::defaults, md::CgroupUse cgroup = md::CgroupUse::automatic,
                     bool leased = false)
{
    const double cpu_before = cpu_used_us();
    auto sandbox = std::make_unique<sb::Sandbox>();  // its workers are reaped when it goes
    md::Privileges privileges;
    if (grant == Grant::bare) {
        privileges.no_new_privileges = false;
        privileges.syscalls.filter = md::SyscallFilter::off;
    } else if (grant == Grant::locked) {
        privileges = locked_down_privileges();
    }
    auto f = measure(parallel, jobs, [&](int t, int i) {
        const long long request = t * 1000000LL + i;
        auto spec = trivial_spec(mode, request);
        spec.settings.privileges = privileges;
        spec.settings.cgroup = cgroup;
        std::optional<sb::CancelToken> token;
        if (leased) {
            spec.lease = 60s;
            token.emplace();
        }
        const auto outcome = sandbox->run_attempt(spec, nullptr, token ? &*token : nullptr);
        if (!outcome.succeeded()) fail(std::string(md::to_string(mode)) + ": " + md::to_json(outcome));
        check_reply(outcome.result, request);
        const auto rss = outcome.max_rss_kb.value_or(0);
        for (auto seen = g_worker_peak_rss_kb.load(); rss > seen && !g_worker_peak_rss_kb.compare_exchange_weak(seen, rss);) {
        }
    });
    sandbox.reset();
    f.cpu_us_per_job = (cpu_used_us() - cpu_before) / (parallel * jobs);
    return f;
}

// A redis-server of the bench's own, on a free loopback port in a temporary folder, with the
// append-only file on (everysec) as a deployment that keeps its jobs would run it. It is the child
// of a thread of its own (a Spawner ends the main thread's children as a dead worker's orphans),
// and dies with it.
class BenchRedis {
public:
    BenchRedis()
    {
        char dir_template[] = "/tmp/sandhost-bench-redis-XXXXXX";
        if (!::mkdtemp(dir_template)) fail("mkdtemp failed");
        m_dir = dir_template;
        const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (probe < 0 || ::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            fail("no free port for redis-server");
        }
        ::close(probe);
        m_port = ntohs(address.sin_port);
        std::promise<pid_t> forked;
        auto pid = forked.get_future();
        m_keeper = std::thread([this, &forked] {
            std::vector<std::string> args = {"redis-server", "--port", std::to_string(m_port), "--bind", "127.0.0.1",
                                             "--dir", m_dir.string(), "--logfile", (m_dir / "redis.log").string(),
                                             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"};
            std::vector<char*> argv;
            for (auto& arg : args) argv.push_back(arg.data());
            argv.push_back(nullptr);
            const pid_t child = ::fork();
            if (child == 0) {
                ::prctl(PR_SET_PDEATHSIG, SIGKILL);
                ::execvp(argv[0], argv.data());
                ::_exit(127);
            }
            forked.set_value(child);
            if (child < 0) return;
            std::unique_lock lock(m_mutex);
            m_told.wait(lock, [this] { return m_stop; });
            ::kill(child, SIGKILL);
            int status = 0;
            while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
            }
        });
        if (pid.get() < 0) fail("cannot fork redis-server");
        for (int i = 0; i < 2000 && info("server").empty(); ++i) std::this_thread::sleep_for(5ms);
        if (info("server").empty()) fail("redis-server did not start (is it installed? see .ci/setup)");
    }
    ~BenchRedis()
    {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_told.notify_all();
        m_keeper.join();
        std::filesystem::remove_all(m_dir);
    }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(m_port) + "/0"; }

    // INFO SECTION as the server answers it, or empty.
    std::string info(const std::string& section) const
    {
        try {
            Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", m_port));
            const std::string request = "INFO " + section + "\r\n";
            socket.sendBytes(request.data(), static_cast<int>(request.size()));
            std::string reply;
            char buffer[65536];
            // A bulk string: "$LENGTH\r\n" then the text.
            while (true) {
                const int n = socket.receiveBytes(buffer, sizeof buffer);
                if (n <= 0) break;
                reply.append(buffer, static_cast<std::size_t>(n));
                const auto header_end = reply.find("\r\n");
                if (header_end != std::string::npos && reply.size() >= header_end + 2 + std::stoul(reply.substr(1, header_end - 1))) break;
            }
            return reply;
        } catch (const std::exception&) {
            return {};
        }
    }

    // Every command's calls, and EVALSHA's, as INFO commandstats counts them.
    std::pair<std::uint64_t, std::uint64_t> calls() const
    {
        const std::string stats = info("commandstats");
        std::uint64_t all = 0;
        std::uint64_t evalsha = 0;
        for (std::size_t at = stats.find("cmdstat_"); at != std::string::npos; at = stats.find("cmdstat_", at + 1)) {
            const auto calls_at = stats.find("calls=", at);
            if (calls_at == std::string::npos) break;
            const std::uint64_t calls = std::strtoull(stats.c_str() + calls_at + 6, nullptr, 10);
            all += calls;
            if (stats.compare(at, 16, "cmdstat_evalsha:") == 0) evalsha += calls;
        }
        return {all, evalsha};
    }

private:
    std::filesystem::path m_dir;
    std::uint16_t m_port = 0;
    std::thread m_keeper;
    std::mutex m_mutex;
    std::condition_variable m_told;
    bool m_stop = false;
};

// Where a queue figure keeps its jobs: a fresh SQLite file, or a fresh prefix on the bench's
// Redis server, served by `hosts` hosts.
struct QueueStore {
    const BenchRedis* redis = nullptr;  // null: SQLite
    int hosts = 1;
    // Completed jobs in the queue before the run, and a retention that keeps only `keep` of
    // them: the hosts trim the backlog in the background while they claim (0: neither).
    int backlog = 0;
    int keep = 0;
    // Jobs per enqueue call of the producer: 1 is enqueue_job, more is enqueue_jobs.
    std::size_t batch = 1;
    // The queue's prefetch: jobs each host claims ahead of a free slot.
    std::uint32_t prefetch = 0;
};

// The producer's batch in the rows that enqueue many jobs per call.
constexpr std::size_t k_producer_batch = 100;
// The queue's prefetch in the rows that claim ahead of free slots.
constexpr std::uint32_t k_prefetch = 16;

// `count` completed jobs of queue q, written through the store as hosts would write them.
void fill_backlog(sandhost::store::Store& store, int count)
{
    const auto now = std::chrono::system_clock::now();
    for (int i = 0; i < count; ++i) {
        sandhost::model::NewJob job;
        job.queue = "q";
        job.task = "trivial.plus_one";
        job.payload = std::to_string(i);
        store.enqueue(job, now);
    }
    std::vector<sandhost::store::QueueAllowance> queues(1);
    queues.front().queue = "q";
    auto claim = store.claim(queues, "backlog/0", 60s, now);
    while (claim) {
        sandhost::model::AttemptRecord record{claim->job.id, claim->attempt_id, claim->number, "backlog/0", {}};
        record.outcome.kind = sandhost::model::OutcomeKind::succeeded;
        record.outcome.result = "0";
        sandhost::store::Transition done;
        done.result = "0";
        claim = store.finish_and_claim(record, done, now, queues, "backlog/0", 60s).claim;
    }
}

// What a dashboard does on every refresh, `polls_per_s` times a second until `stop`: the
// queues with their counts and the newest page of jobs, over one kept-alive connection.
void poll_api(std::uint16_t port, int polls_per_s, const std::atomic<bool>& stop, std::atomic<int>& polls)
{
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    const auto period = std::chrono::microseconds(1'000'000 / polls_per_s);
    auto next = Clock::now();
    while (!stop) {
        for (const char* path : {"/api/v1/queues", "/api/v1/jobs?limit=25"}) {
            Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
            session.sendRequest(request);
            Poco::Net::HTTPResponse response;
            std::string body;
            Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
            if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) fail(std::string("API poll: ") + path + ": " + body);
        }
        ++polls;
        next += period;
        std::this_thread::sleep_until(next);
    }
}

// Enqueue `jobs`, time until every one completed, through hosts (in this process) on a fresh
// store. sandboxed = false runs the tasks in the host (sandbox.enabled: false): what the store and
// the host's scheduling cost with no process at all, the ceiling of every queue figure.
// api_polls_per_s > 0 serves the HTTP API beside the first host (as `sandhost run` with
// api.listen) and polls it that often meanwhile, as an open dashboard would.
Figures queue_figures(int parallel, int jobs, md::Mode mode, bool sandboxed = true, QueueStore where = {}, int api_polls_per_s = 0)
{
    static int run = 0;
    ++run;
    char dir_template[] = "/tmp/sandhost-bench-XXXXXX";
    if (!::mkdtemp(dir_template)) fail("mkdtemp failed");
    const std::filesystem::path dir = dir_template;
    const std::string store = where.redis ? where.redis->url() : "sqlite:jobs.db";
    std::vector<std::shared_ptr<sandhost::store::Store>> stores;
    std::vector<std::unique_ptr<sandhost::scheduler::Host>> hosts;
    std::shared_ptr<const sandhost::config::Settings> first_settings;
    const std::size_t total = static_cast<std::size_t>(jobs) * static_cast<std::size_t>(parallel);
    // What the hosts say as each attempt's record is committed, by job.
    std::mutex recorded_mutex;
    std::condition_variable recorded_cv;
    std::map<sandhost::model::JobId, sandhost::scheduler::RecordedAttempt> recorded;
    for (int h = 0; h < where.hosts; ++h) {
        const auto file = dir / ("bench-" + std::to_string(h) + ".yaml");
        std::ofstream(file) << "host: {name: bench-" << h << ", store: \"" << store << "\", store_prefix: \"bench-" << run
                            << ":\", plugin_dirs: [\"" << k_bench_dir << "/plugins\"], max_workers: " << parallel
                            << ", log: {level: warn}}\n"
                            << "sandbox: {mode: " << md::to_string(mode) << ", enabled: " << (sandboxed ? "true" : "false") << "}\n"
                            << "queues:\n  q: {tasks: [trivial.plus_one], concurrency: " << parallel
                            << (where.prefetch > 0 ? ", prefetch: " + std::to_string(where.prefetch) : std::string())
                            << (where.keep > 0 ? ", retention: {completed: {count: " + std::to_string(where.keep) + "}}" : std::string())
                            << "}\n"
                            << (api_polls_per_s > 0 && h == 0 ? "api: {listen: \"127.0.0.1:0\"}\n" : "");
        auto loaded = sandhost::config::load_config(file);
        if (!loaded.ok()) fail("bench config: " + loaded.errors.front().to_string());
        if (h == 0) first_settings = loaded.settings;
        stores.push_back(sandhost::scheduler::open_configured_store(loaded.settings->host));
        if (h == 0 && where.backlog > 0) fill_backlog(*stores.back(), where.backlog);
        sandhost::scheduler::HostOptions options;
        options.idle_poll = 5ms;
        options.retention = 100ms;  // trimming starts at once and goes on through the whole run
        options.on_recorded = [&](const sandhost::scheduler::RecordedAttempt& attempt) {
            std::lock_guard lock(recorded_mutex);
            recorded.emplace(attempt.job, attempt);
            // The bench's thread wakes once, at the last record: woken at every record, it
            // took CPU from the host it measures.
            if (recorded.size() >= total) recorded_cv.notify_all();
        };
        hosts.push_back(std::make_unique<sandhost::scheduler::Host>(loaded.settings, stores.back(), options));
    }
    // The producer: a connection of its own, as another process enqueueing would have.
    auto client = sandhost::scheduler::open_configured_store(first_settings->host);
    const auto calls_before = where.redis ? where.redis->calls() : std::pair<std::uint64_t, std::uint64_t>{};
    std::vector<std::thread> serving;
    for (auto& host : hosts) {
        serving.emplace_back([&host] {
            sandhost::os::name_this_thread("sh-run-loop");  // as `sandhost run`'s main thread is not named
            host->run();
        });
    }
    std::unique_ptr<sandhost::api::ApiServer> api;
    std::atomic<bool> stop_polling{false};
    std::atomic<int> polls{0};
    std::thread poller;
    if (api_polls_per_s > 0) {
        sandhost::api::ApiOptions api_options;
        api_options.settings = first_settings;
        api_options.store = sandhost::scheduler::open_configured_store(first_settings->host);
        api_options.host = hosts.front().get();
        api_options.metrics = hosts.front()->metrics();
        api = std::make_unique<sandhost::api::ApiServer>(std::move(api_options));
        poller = std::thread([&] { poll_api(api->port(), api_polls_per_s, stop_polling, polls); });
    }
    const auto start = Clock::now();
    std::vector<sandhost::model::JobId> ids;
    std::vector<Clock::time_point> enqueued;
    std::vector<sandhost::model::NewJob> batch;
    Clock::duration producing{};
    for (std::size_t i = 0; i < total; ++i) {
        sandhost::model::NewJob job;
        job.queue = "q";
        job.task = "trivial.plus_one";
        job.payload = std::to_string(i);
        if (where.batch <= 1) {
            const auto before = Clock::now();
            enqueued.push_back(before);
            ids.push_back(client->enqueue(job, std::chrono::system_clock::now()));
            producing += Clock::now() - before;
            continue;
        }
        batch.push_back(std::move(job));
        if (batch.size() < where.batch && i + 1 < total) continue;
        const auto before = Clock::now();
        enqueued.insert(enqueued.end(), batch.size(), before);
        for (const auto& stored : client->enqueue_jobs(batch, std::chrono::system_clock::now())) ids.push_back(stored.id);
        producing += Clock::now() - before;
        batch.clear();
    }
    {
        std::unique_lock lock(recorded_mutex);
        if (!recorded_cv.wait_for(lock, 600s, [&] { return recorded.size() >= ids.size(); })) fail("queue: the jobs did not finish in 10 minutes");
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const auto calls_after = where.redis ? where.redis->calls() : std::pair<std::uint64_t, std::uint64_t>{};
    if (api) {
        stop_polling = true;
        poller.join();
        api->stop();
        if (polls < static_cast<int>(seconds * api_polls_per_s / 2)) fail("API polls fell behind: " + std::to_string(polls.load()));
    }
    std::uint64_t trimmed = 0;
    for (auto& host : hosts) trimmed += host->stats().trimmed;
    for (auto& host : hosts) host->stop();
    for (auto& thread : serving) thread.join();
    std::vector<double> latencies;
    std::vector<double> since_enqueue;
    std::vector<double> since_start;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto job = client->get(ids[i]);
        if (!job || job->state != sandhost::model::JobState::completed) fail("queue: job " + std::to_string(ids[i]) + " did not complete");
        check_reply(*job->result, static_cast<long long>(i));
        const auto& attempt = recorded.at(ids[i]);
        latencies.push_back(std::chrono::duration<double, std::micro>(attempt.recorded - attempt.claimed).count());
        since_enqueue.push_back(std::chrono::duration<double, std::micro>(attempt.recorded - enqueued[i]).count());
        since_start.push_back(std::chrono::duration<double, std::micro>(attempt.recorded - attempt.started).count());
    }
    std::sort(since_start.begin(), since_start.end());
    std::sort(since_enqueue.begin(), since_enqueue.end());
    std::sort(latencies.begin(), latencies.end());
    hosts.clear();
    stores.clear();
    client.reset();
    std::filesystem::remove_all(dir);
    Figures figures;
    figures.jobs_per_s = static_cast<double>(ids.size()) / seconds;
    figures.p50_us = latencies[latencies.size() / 2];
    figures.p99_us = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
    figures.enqueue_p50_us = since_enqueue[since_enqueue.size() / 2];
    figures.enqueue_p99_us = since_enqueue[std::min(since_enqueue.size() - 1, since_enqueue.size() * 99 / 100)];
    figures.producer_us_per_job = std::chrono::duration<double, std::micro>(producing).count() / static_cast<double>(ids.size());
    if (where.prefetch > 0) {
        figures.start_p50_us = since_start[since_start.size() / 2];
        figures.start_p99_us = since_start[std::min(since_start.size() - 1, since_start.size() * 99 / 100)];
    }
    if (where.backlog > 0) figures.trimmed_during_run = trimmed;
    if (where.redis) {
        // Less the one INFO that read the counts.
        const double jobs_done = static_cast<double>(ids.size());
        figures.redis_commands_per_job = static_cast<double>(calls_after.first - calls_before.first - 1) / jobs_done;
        figures.redis_evalsha_per_job = static_cast<double>(calls_after.second - calls_before.second) / jobs_done;
    }
    return figures;
}

// How far past its deadline a hanging task's attempt ends, p99 over `runs`.
double timeout_overshoot_p99_ms(md::Mode mode, int runs)
{
    sb::Sandbox sandbox;
    std::vector<double> overshoot;
    for (int i = 0; i < runs; ++i) {
        auto spec = trivial_spec(mode, 0);
        spec.task = "hang";
        spec.settings.timeout = 50ms;
        spec.settings.grace = 1s;
        const auto outcome = sandbox.run_attempt(spec);
        if (outcome.kind != md::OutcomeKind::timed_out || !outcome.startup_ms) fail("timeout run: " + md::to_json(outcome));
        overshoot.push_back(static_cast<double>(outcome.duration.count() - outcome.startup_ms->count() - 50));
    }
    std::sort(overshoot.begin(), overshoot.end());
    return overshoot[std::min(overshoot.size() - 1, overshoot.size() * 99 / 100)];
}

std::size_t open_fd_count() { return sandhost::os::open_descriptors().size(); }
std::uint64_t rss_kb() { return sandhost::os::read_memory(::getpid()).value_or(sandhost::os::MemorySample{}).rss_kb; }

Poco::JSON::Object::Ptr to_json(const Figures& f)
{
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("jobs_per_s", std::round(f.jobs_per_s * 10) / 10);
    o->set("p50_us", std::round(f.p50_us));
    o->set("p99_us", std::round(f.p99_us));
    if (f.enqueue_p50_us) o->set("enqueue_p50_us", std::round(*f.enqueue_p50_us));
    if (f.enqueue_p99_us) o->set("enqueue_p99_us", std::round(*f.enqueue_p99_us));
    if (f.start_p50_us) o->set("start_p50_us", std::round(*f.start_p50_us));
    if (f.start_p99_us) o->set("start_p99_us", std::round(*f.start_p99_us));
    if (f.producer_us_per_job) o->set("producer_us_per_job", std::round(*f.producer_us_per_job * 10) / 10);
    if (f.redis_commands_per_job) o->set("redis_commands_per_job", std::round(*f.redis_commands_per_job * 10) / 10);
    if (f.redis_evalsha_per_job) o->set("redis_evalsha_per_job", std::round(*f.redis_evalsha_per_job * 100) / 100);
    if (f.trimmed_during_run) o->set("trimmed_during_run", static_cast<Poco::UInt64>(*f.trimmed_during_run));
    if (f.cpu_us_per_job) o->set("cpu_us_per_job", std::round(*f.cpu_us_per_job));
    return o;
}

void print_row(const std::string& name, const Figures& f, const Figures* baseline = nullptr, const std::string& baseline_name = {})
{
    // A row that times no job on its own (the store floor) shows no latencies.
    if (f.p99_us > 0) std::printf("  %-28s %10.0f jobs/s   p50 %8.0f us   p99 %8.0f us", name.c_str(), f.jobs_per_s, f.p50_us, f.p99_us);
    else std::printf("  %-28s %10.0f jobs/s   %33s", name.c_str(), f.jobs_per_s, "");
    if (f.cpu_us_per_job) std::printf("   cpu %6.0f us/job", *f.cpu_us_per_job);
    if (baseline) std::printf("   %.2f x %s", f.jobs_per_s / baseline->jobs_per_s, baseline_name.c_str());
    if (f.enqueue_p50_us) {
        std::printf("\n  %-28s %10s          enqueue to result: p50 %8.0f us   p99 %8.0f us   producer %5.1f us/job", "", "",
                    *f.enqueue_p50_us, f.enqueue_p99_us.value_or(0), f.producer_us_per_job.value_or(0));
    }
    if (f.start_p50_us) {
        std::printf("\n  %-28s %10s            start to result: p50 %8.0f us   p99 %8.0f us", "", "", *f.start_p50_us,
                    f.start_p99_us.value_or(0));
    }
    if (f.redis_commands_per_job) {
        std::printf("\n  %-28s %10.1f Redis commands/job (%.2f EVALSHA)", "", *f.redis_commands_per_job, f.redis_evalsha_per_job.value_or(0));
    }
    if (f.trimmed_during_run) std::printf("\n  %-28s %10llu finished jobs trimmed meanwhile", "", static_cast<unsigned long long>(*f.trimmed_during_run));
    std::printf("\n");
}

// One row alone, measured `repeat` times with `parallel` threads: for A/B comparisons of a
// change, where the full run's other rows only add time and noise. Names: a mode (spawn, fork,
// reuse: the mode rows, reuse with 10 times the jobs; MODE-leased: the same, each attempt with
// a lease as a host gives it; MODE-ungrouped: with no control group), queue-<mode>, queue-none (no sandbox),
// queue-fork-prefetch or queue-none-prefetch (batches of 100 and prefetch 16), and
// queue-fork-prefetch-single or queue-none-prefetch-single (one job per enqueue, prefetch 16),
// or a baseline (fork_no_exec, fork_no_exec_grouped, fork_no_exec_supervised, pipe_roundtrip,
// pipe_roundtrip_supervised, store-floor). A queue
// row's CPU is the whole process's and its children's, the producer's included.
int measure_one_row(const std::string& row, int parallel, int jobs, int repeat, bool json)
{
    std::function<Figures()> measure;
    std::string mode_name = row;
    auto strip = [&](std::string_view suffix) {
        if (!mode_name.ends_with(suffix)) return false;
        mode_name.resize(mode_name.size() - suffix.size());
        return true;
    };
    const bool leased = strip("-leased");
    const bool ungrouped = !leased && strip("-ungrouped");
    if (auto m = md::mode_from_string(mode_name)) {
        const auto cgroup = ungrouped ? md::CgroupUse::off : md::CgroupUse::automatic;
        measure = [=] { return mode_figures(parallel, *m == md::Mode::reuse ? jobs * 10 : jobs, *m, Grant::defaults, cgroup, leased); };
    } else if (row == "fork_no_exec" || row == "pipe_roundtrip") {
        measure = [=] { return server_baseline(parallel, row == "pipe_roundtrip" ? jobs * 10 : jobs, row == "pipe_roundtrip" ? "pipe" : "fork"); };
    } else if (row == "fork_no_exec_grouped") {
        if (!sb::cgroup_support().usable) {
            std::cerr << "sandhost-bench: fork_no_exec_grouped needs usable cgroups: " << sb::cgroup_support().describe() << "\n";
            return 2;
        }
        measure = [=] { return *grouped_baseline(parallel, jobs); };
    } else if (row == "fork_no_exec_supervised" || row == "pipe_roundtrip_supervised") {
        const bool reused = row == "pipe_roundtrip_supervised";
        measure = [=] { return supervised_baseline(parallel, reused ? jobs * 10 : jobs, reused ? md::Mode::reuse : md::Mode::fork); };
    } else if (row == "store-floor") {
        measure = [=] { return store_floor_figures(parallel * jobs); };
    } else if (row.starts_with("queue-")) {
        std::string rest = row.substr(6);
        QueueStore where;
        if (rest.ends_with("-prefetch-single")) {
            rest.resize(rest.size() - std::string("-prefetch-single").size());
            where.prefetch = k_prefetch;
        } else if (rest.ends_with("-prefetch")) {
            rest.resize(rest.size() - std::string("-prefetch").size());
            where.batch = k_producer_batch;
            where.prefetch = k_prefetch;
        }
        const bool sandboxed = rest != "none";
        const auto queue_mode = sandboxed ? md::mode_from_string(rest) : std::optional(md::Mode::spawn);
        if (queue_mode) {
            measure = [=] {
                const double before = cpu_used_us();
                Figures f = queue_figures(parallel, jobs, *queue_mode, sandboxed, where);
                f.cpu_us_per_job = (cpu_used_us() - before) / (parallel * jobs);
                return f;
            };
        }
    }
    if (!measure) {
        std::cerr << "sandhost-bench: --row names spawn, fork, reuse (each also as MODE-leased or MODE-ungrouped), queue-spawn, queue-fork, queue-reuse, queue-none, "
                     "queue-fork-prefetch, queue-none-prefetch (each also as -prefetch-single), or a baseline: fork_no_exec, fork_no_exec_grouped, fork_no_exec_supervised, "
                     "pipe_roundtrip, pipe_roundtrip_supervised, store-floor; not '" << row << "'\n";
        return 2;
    }
    Poco::JSON::Array runs;
    for (int i = 0; i < repeat; ++i) {
        const Figures f = measure();
        if (json) runs.add(to_json(f));
        else print_row(row, f);
        std::fflush(stdout);
    }
    if (json) {
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("row", row);
        out.set("parallel", parallel);
        out.set("runs", runs);
        out.stringify(std::cout);
        std::cout << "\n";
    }
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    // As the `sandhost` command does: the bench measures the host as it runs there.
    sandhost::store::sqlite_for_this_process_alone();
    bool quick = false;
    bool json = false;
    int jobs = 1000;
    int long_run = 0;
    bool redis = true;
    bool redis_only = false;
    bool queues = true;
    std::optional<md::Mode> only;
    std::optional<std::string> row;
    int repeat = 5;
    int parallel_for_row = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--quick") quick = true;
        else if (arg == "--json") json = true;
        else if (arg == "--jobs" && i + 1 < argc) jobs = std::atoi(argv[++i]);
        else if (arg == "--long" && i + 1 < argc) long_run = std::atoi(argv[++i]);
        else if (arg == "--only" && i + 1 < argc && md::mode_from_string(argv[i + 1])) only = md::mode_from_string(argv[++i]);
        else if (arg == "--only" && i + 1 < argc && std::string(argv[i + 1]) == "redis") {
            redis_only = true;
            ++i;
        } else if (arg == "--row" && i + 1 < argc) row = argv[++i];
        else if (arg == "--repeat" && i + 1 < argc && std::atoi(argv[i + 1]) > 0) repeat = std::atoi(argv[++i]);
        else if (arg == "--parallel" && i + 1 < argc && std::atoi(argv[i + 1]) > 0) parallel_for_row = std::atoi(argv[++i]);
        else if (arg == "--no-redis") redis = false;
        else if (arg == "--no-queue") queues = redis = false;
        else {
            std::cerr << "usage: sandhost-bench [--quick] [--json] [--jobs N] [--long N] [--only spawn|fork|reuse|redis] [--no-redis] [--no-queue]\n"
                         "       sandhost-bench --row ROW [--repeat N] [--parallel N] [--quick] [--jobs N] [--json]\n";
            return 2;
        }
    }
    if (quick) jobs = std::min(jobs, 300);
    spdlog::set_level(spdlog::level::warn);  // the hosts below log every attempt at info
    if (row) return measure_one_row(*row, parallel_for_row, jobs, repeat, json);
    std::vector<md::Mode> modes = {md::Mode::spawn, md::Mode::fork, md::Mode::reuse};
    if (only) modes = {*only};
    if (redis_only) modes.clear();
    // --only measures one mode (or the Redis queue) and the baseline it is compared with.
    auto wanted = [&](const char* baseline_name) {
        const std::string name = baseline_name;
        if (redis_only) return name == "fork_no_exec";
        if (!only) return true;
        switch (*only) {
        case md::Mode::spawn: return name == "posix_spawn_dynamic_dlopen";
        case md::Mode::fork: return name == "fork_no_exec" || name == "fork_no_exec_supervised";
        case md::Mode::reuse: return name == "pipe_roundtrip" || name == "pipe_roundtrip_supervised" || name == "fork_no_exec";
        }
        return true;
    };
    std::map<int, std::map<std::string, Figures>> baseline;
    std::map<int, std::map<std::string, Figures>> mode;
    std::map<int, std::map<std::string, Figures>> queue;
    // The Redis rows run fork mode and compare with fork_no_exec.
    if (only && *only != md::Mode::fork) redis = false;
    std::optional<BenchRedis> redis_server;
    if (redis) redis_server.emplace();
    // The API-polled figure is of the first mode measured (fork unless --only says otherwise).
    const md::Mode polled_mode = only ? *only : md::Mode::fork;
    const std::string k_polled = "api_polled";
    const std::string k_bare = "_no_privilege_settings";
    const std::string k_locked = "_locked_down";
    const std::string k_no_cgroup = "_no_cgroup";
    const std::string k_leased = "_leased";
    const bool cgroups = sb::cgroup_support().usable;
    const std::string k_retained = "retained";
    const int k_backlog = quick ? 10'000 : 100'000;
    std::optional<Figures> store_floor;  // SQLite alone, doing the least a queue does per job
    const std::size_t fds_at_start = open_fd_count();
    const std::uint64_t rss_at_start = rss_kb();
    for (int parallel : {1, 2}) {
        auto& b = baseline[parallel];
        if (wanted("posix_spawn_static")) b["posix_spawn_static"] = spawn_baseline(parallel, jobs, {k_static_child});
        if (wanted("posix_spawn_dynamic_dlopen")) b["posix_spawn_dynamic_dlopen"] = spawn_baseline(parallel, jobs, {k_dynamic_child, k_plugin});
        if (wanted("fork_no_exec")) b["fork_no_exec"] = server_baseline(parallel, jobs, "fork");
        if (wanted("fork_no_exec") && !redis_only) {
            if (auto grouped = grouped_baseline(parallel, jobs)) b["fork_no_exec_grouped"] = *grouped;
        }
        if (wanted("fork_no_exec_supervised") && !redis_only) b["fork_no_exec_supervised"] = supervised_baseline(parallel, jobs, md::Mode::fork);
        if (wanted("pipe_roundtrip")) b["pipe_roundtrip"] = server_baseline(parallel, jobs * 10, "pipe");
        if (wanted("pipe_roundtrip_supervised")) b["pipe_roundtrip_supervised"] = supervised_baseline(parallel, jobs * 10, md::Mode::reuse);
        for (auto m : modes) mode[parallel][md::to_string(m)] = mode_figures(parallel, m == md::Mode::reuse ? jobs * 10 : jobs, m);
        // What a lease costs each attempt: a host gives every attempt one.
        for (auto m : modes) {
            mode[parallel][std::string(md::to_string(m)) + k_leased] =
                mode_figures(parallel, m == md::Mode::reuse ? jobs * 10 : jobs, m, Grant::defaults, md::CgroupUse::automatic, true);
        }
        // What the privilege settings cost in the modes that start a process per job.
        for (auto m : modes) {
            if (m == md::Mode::reuse) continue;
            mode[parallel][std::string(md::to_string(m)) + k_bare] = mode_figures(parallel, jobs, m, Grant::bare);
            mode[parallel][std::string(md::to_string(m)) + k_locked] = mode_figures(parallel, jobs, m, Grant::locked);
            // What a group of its own costs each attempt (a free group is lent, not made).
            if (cgroups) {
                mode[parallel][std::string(md::to_string(m)) + k_no_cgroup] =
                    mode_figures(parallel, jobs, m, Grant::defaults, md::CgroupUse::off);
            }
        }
        if (!queues) continue;
        if (parallel == 2 && !redis_only) store_floor = store_floor_figures(std::max(jobs * parallel, 4000));
        for (auto m : modes) queue[parallel][md::to_string(m)] = queue_figures(parallel, jobs, m);
        if (!redis_only) queue[parallel]["no_sandbox"] = queue_figures(parallel, jobs, md::Mode::spawn, false);
        // The same two rows with a producer that enqueues k_producer_batch jobs per call.
        if (!redis_only) {
            QueueStore batched;
            batched.batch = k_producer_batch;
            if (!only || *only == md::Mode::fork) queue[parallel]["fork_batched"] = queue_figures(parallel, jobs, md::Mode::fork, true, batched);
            queue[parallel]["no_sandbox_batched"] = queue_figures(parallel, jobs, md::Mode::spawn, false, batched);
            // And claiming ahead of free slots (a queue's prefetch).
            batched.prefetch = k_prefetch;
            if (!only || *only == md::Mode::fork) queue[parallel]["fork_prefetch"] = queue_figures(parallel, jobs, md::Mode::fork, true, batched);
            queue[parallel]["no_sandbox_prefetch"] = queue_figures(parallel, jobs, md::Mode::spawn, false, batched);
            // Prefetch with the producer enqueueing one job per call, as the first rows.
            QueueStore ahead;
            ahead.prefetch = k_prefetch;
            if (!only || *only == md::Mode::fork) queue[parallel]["fork_prefetch_single"] = queue_figures(parallel, jobs, md::Mode::fork, true, ahead);
            queue[parallel]["no_sandbox_prefetch_single"] = queue_figures(parallel, jobs, md::Mode::spawn, false, ahead);
        }
        if (redis_server) {
            queue[parallel]["redis"] = queue_figures(parallel, jobs, md::Mode::fork, true, {&*redis_server, 1});
            queue[parallel]["redis_2hosts"] = queue_figures(parallel, jobs, md::Mode::fork, true, {&*redis_server, 2});
            queue[parallel]["redis_no_sandbox"] = queue_figures(parallel, jobs, md::Mode::spawn, false, {&*redis_server, 1});
            QueueStore batched{&*redis_server, 1};
            batched.batch = k_producer_batch;
            queue[parallel]["redis_no_sandbox_batched"] = queue_figures(parallel, jobs, md::Mode::spawn, false, batched);
        }
        // The same queue with a dashboard's worth of API polling beside it, in the same run.
        if (!redis_only) queue[parallel][k_polled] = queue_figures(parallel, jobs, polled_mode, true, {}, k_api_polls_per_s);
        // The same queue over a backlog of finished jobs that retention trims meanwhile.
        if (!redis_only) {
            QueueStore backlog;
            backlog.backlog = k_backlog;
            backlog.keep = std::max(10'000, 2 * jobs * parallel);  // the run's own jobs are never trimmed
            queue[parallel][k_retained] = queue_figures(parallel, jobs, polled_mode, true, backlog);
        }
    }
    std::map<std::string, double> overshoot;
    for (auto m : modes) overshoot[md::to_string(m)] = timeout_overshoot_p99_ms(m, quick ? 10 : 30);

    std::uint64_t long_rss_start = 0, long_rss_end = 0;
    std::size_t long_fds_start = 0, long_fds_end = 0;
    if (long_run > 0) {
        long_rss_start = rss_kb();
        long_fds_start = open_fd_count();
        mode_figures(1, long_run, md::Mode::spawn);
        long_rss_end = rss_kb();
        long_fds_end = open_fd_count();
    }
    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);
    const auto worker_peak = static_cast<long>(g_worker_peak_rss_kb.load());

    if (json) {
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("parallel", 2);
        Poco::JSON::Object b, m, q, o;
        for (auto& [name, f] : baseline[2]) b.set(name, to_json(f));
        for (auto& [name, f] : mode[2]) m.set(name, to_json(f));
        for (auto& [name, f] : queue[2]) {
            if (!name.starts_with("no_sandbox") && name != k_polled && name != k_retained && !name.starts_with("redis")) q.set(name, to_json(f));
        }
        if (queue[2].count("no_sandbox")) out.set("queue_no_sandbox", to_json(queue[2]["no_sandbox"]));
        if (store_floor) out.set("store_floor", to_json(*store_floor));
        if (queue[2].count("no_sandbox_batched")) out.set("queue_no_sandbox_batched", to_json(queue[2]["no_sandbox_batched"]));
        if (queue[2].count("no_sandbox_prefetch")) out.set("queue_no_sandbox_prefetch", to_json(queue[2]["no_sandbox_prefetch"]));
        if (queue[2].count("no_sandbox_prefetch_single")) out.set("queue_no_sandbox_prefetch_single", to_json(queue[2]["no_sandbox_prefetch_single"]));
        for (const char* name : {"redis", "redis_2hosts", "redis_no_sandbox", "redis_no_sandbox_batched"}) {
            if (queue[2].count(name)) out.set(std::string("queue_") + name, to_json(queue[2][name]));
        }
        if (queue[2].count(k_polled)) {
            auto polled = to_json(queue[2][k_polled]);
            polled->set("mode", md::to_string(polled_mode));
            polled->set("api_polls_per_s", k_api_polls_per_s);
            out.set("queue_api_polled", polled);
        }
        if (queue[2].count(k_retained)) {
            auto retained = to_json(queue[2][k_retained]);
            retained->set("mode", md::to_string(polled_mode));
            retained->set("backlog", k_backlog);
            out.set("queue_retention", retained);
        }
        for (auto& [name, ms] : overshoot) o.set(name, ms);
        out.set("baseline", b);
        out.set("modes", m);
        out.set("queue", q);
        out.set("timeout_overshoot_p99_ms", o);
        out.set("host_peak_rss_kb", static_cast<Poco::Int64>(self.ru_maxrss));
        out.set("worker_peak_rss_kb", static_cast<Poco::Int64>(worker_peak));
        if (long_run > 0) {
            Poco::JSON::Object l;
            l.set("jobs", long_run);
            l.set("rss_kb_start", static_cast<Poco::UInt64>(long_rss_start));
            l.set("rss_kb_end", static_cast<Poco::UInt64>(long_rss_end));
            l.set("fds_start", static_cast<Poco::UInt64>(long_fds_start));
            l.set("fds_end", static_cast<Poco::UInt64>(long_fds_end));
            out.set("long_run", l);
        }
        out.stringify(std::cout);
        std::cout << std::endl;
        return 0;
    }
    for (int parallel : {1, 2}) {
        auto& b = baseline[parallel];
        std::printf("\n%d in parallel, %d jobs per thread (x10 for pipe_roundtrip and reuse)\n baselines:\n", parallel, jobs);
        for (auto& [name, f] : b) print_row(name, f);
        if (!modes.empty()) std::printf(" modes (Sandbox::run_attempt):\n");
        auto& figures = mode[parallel];
        if (figures.count("spawn")) print_row("spawn", figures["spawn"], &b["posix_spawn_dynamic_dlopen"], "posix_spawn_dynamic_dlopen (target >= 0.8)");
        if (figures.count("fork")) print_row("fork", figures["fork"], &b["fork_no_exec"], "fork_no_exec (target >= 0.8)");
        if (figures.count("fork") && b.count("fork_no_exec_grouped")) {
            std::printf(" what the defaults' groups alone cost a bare fork (each child moved into a group of its own):\n");
            print_row("fork_no_exec_grouped", b["fork_no_exec_grouped"], &b["fork_no_exec"], "fork_no_exec (the ceiling of fork with cgroups on)");
            print_row("fork", figures["fork"], &b["fork_no_exec_grouped"], "fork_no_exec_grouped");
        }
        if (figures.count("fork") && b.count("fork_no_exec_supervised")) {
            std::printf(" what the kernel charges for fork mode's supervision of a bare fork (baselines/supervised_fork.c):\n");
            print_row("fork_no_exec_supervised", b["fork_no_exec_supervised"], &b["fork_no_exec"], "fork_no_exec");
            print_row("fork", figures["fork"], &b["fork_no_exec_supervised"], "fork_no_exec_supervised");
        }
        if (figures.count("reuse")) print_row("reuse", figures["reuse"], &b["pipe_roundtrip"], "pipe_roundtrip (target >= 0.3)");
        if (figures.count("reuse") && b.count("pipe_roundtrip_supervised")) {
            std::printf(" what the kernel charges for reuse mode's supervision of a bare round trip (baselines/supervised.c):\n");
            print_row("pipe_roundtrip_supervised", b["pipe_roundtrip_supervised"], &b["pipe_roundtrip"], "pipe_roundtrip");
            print_row("reuse", figures["reuse"], &b["pipe_roundtrip_supervised"], "pipe_roundtrip_supervised");
        }
        for (auto m : modes) {
            const std::string name = md::to_string(m);
            if (!figures.count(name + k_leased)) continue;
            if (m == modes.front()) std::printf(" with a lease and a cancel token, as a host runs every attempt:\n");
            print_row(name + ", leased", figures[name + k_leased], &figures[name], name + " without");
        }
        for (const char* name : {"spawn", "fork"}) {
            const std::string bare = name + k_bare;
            if (!figures.count(bare)) continue;
            if (name == std::string("spawn") || !figures.count(std::string("spawn") + k_bare)) {
                const auto locked = locked_down_privileges();
                std::printf(" privilege settings: none (no_new_privileges and the syscall filter off), the defaults (both on), locked "
                            "down (the defaults%s%s):\n",
                            locked.user ? " + user nobody" : "", locked.network == md::Network::none ? " + network none" : "");
            }
            print_row(std::string(name) + ", defaults", figures[name], &figures[bare], std::string(name) + ", none");
            print_row(std::string(name) + ", locked down", figures[name + k_locked], &figures[bare],
                      std::string(name) + ", none" + (name == std::string("fork") ? " (target >= 0.7)" : ""));
        }
        for (const char* name : {"spawn", "fork"}) {
            const std::string off = name + k_no_cgroup;
            if (!figures.count(off)) continue;
            if (name == std::string("spawn") || !figures.count(std::string("spawn") + k_no_cgroup)) {
                std::printf(" cgroups (%s): each attempt in a group of its own (cgroup: auto) against cgroup: off:\n",
                            sb::cgroup_support().describe().c_str());
            }
            print_row(std::string(name) + ", cgroup", figures[name], &figures[off], std::string(name) + ", cgroup off");
        }
        if (!redis_only && queues) std::printf(" queue (enqueue N through SQLite until all completed; latency: claim to result, then enqueue to result):\n");
        for (auto m : modes) {
            const std::string name = md::to_string(m);
            if (!queue[parallel].count(name)) continue;
            const bool compared = b.count("fork_no_exec") > 0;
            print_row(name, queue[parallel][name], compared ? &b["fork_no_exec"] : nullptr,
                      m == md::Mode::fork ? "fork_no_exec (target >= 0.5)" : "fork_no_exec");
        }
        if (queue[parallel].count("no_sandbox")) print_row("no sandbox (store + host)", queue[parallel]["no_sandbox"]);
        if (parallel == 2 && store_floor) {
            print_row("SQLite alone (store floor)", *store_floor, b.count("fork_no_exec") ? &b["fork_no_exec"] : nullptr,
                      "fork_no_exec (the ceiling of the store + host target, >= 2)");
        }
        if (queue[parallel].count("fork_batched") || queue[parallel].count("no_sandbox_batched")) {
            std::printf(" queue, the producer enqueueing %zu jobs per call (enqueue_jobs, one transaction each):\n", k_producer_batch);
            const bool compared = b.count("fork_no_exec") > 0;
            if (queue[parallel].count("fork_batched")) {
                print_row("fork", queue[parallel]["fork_batched"], compared ? &b["fork_no_exec"] : nullptr, "fork_no_exec");
            }
            print_row("no sandbox (store + host)", queue[parallel]["no_sandbox_batched"], compared ? &b["fork_no_exec"] : nullptr,
                      "fork_no_exec");
        }
        if (queue[parallel].count("fork_prefetch") || queue[parallel].count("no_sandbox_prefetch")) {
            std::printf(" queue, %zu jobs per enqueue and prefetch: %u (each host claims up to %u jobs ahead of a free slot):\n",
                        k_producer_batch, k_prefetch, k_prefetch);
            const bool compared = b.count("fork_no_exec") > 0;
            if (queue[parallel].count("fork_prefetch")) {
                print_row("fork", queue[parallel]["fork_prefetch"], compared ? &b["fork_no_exec"] : nullptr, "fork_no_exec");
            }
            print_row("no sandbox (store + host)", queue[parallel]["no_sandbox_prefetch"], compared ? &b["fork_no_exec"] : nullptr,
                      "fork_no_exec");
        }
        if (queue[parallel].count("fork_prefetch_single") || queue[parallel].count("no_sandbox_prefetch_single")) {
            std::printf(" queue, one job per enqueue and prefetch: %u:\n", k_prefetch);
            const bool compared = b.count("fork_no_exec") > 0;
            if (queue[parallel].count("fork_prefetch_single")) {
                print_row("fork", queue[parallel]["fork_prefetch_single"], compared ? &b["fork_no_exec"] : nullptr, "fork_no_exec");
            }
            print_row("no sandbox (store + host)", queue[parallel]["no_sandbox_prefetch_single"], compared ? &b["fork_no_exec"] : nullptr,
                      "fork_no_exec");
        }
        if (queue[parallel].count("redis")) {
            std::printf(" queue on Redis (a redis-server of its own, append-only file on, on the same cores):\n");
            const Figures* fork_baseline = b.count("fork_no_exec") ? &b["fork_no_exec"] : nullptr;
            print_row("fork, 1 host", queue[parallel]["redis"], fork_baseline, "fork_no_exec (target >= 0.35)");
            print_row("fork, 2 hosts", queue[parallel]["redis_2hosts"], fork_baseline, "fork_no_exec");
            print_row("no sandbox, 1 host", queue[parallel]["redis_no_sandbox"], fork_baseline, "fork_no_exec (target >= 1)");
            print_row("no sandbox, 100 per enqueue", queue[parallel]["redis_no_sandbox_batched"], fork_baseline, "fork_no_exec");
        }
        if (queue[parallel].count(k_polled)) {
            const std::string polled_name = md::to_string(polled_mode);
            print_row(polled_name + " + " + std::to_string(k_api_polls_per_s) + " API polls/s", queue[parallel][k_polled],
                      &queue[parallel][polled_name], polled_name + " without the API");
        }
        if (queue[parallel].count(k_retained)) {
            const std::string name = md::to_string(polled_mode);
            print_row(name + " + " + std::to_string(k_backlog / 1000) + "k finished, trimmed", queue[parallel][k_retained],
                      &queue[parallel][name], name + " on an empty store");
        }
    }
    if (!overshoot.empty()) std::printf("\ntimeout overshoot past the deadline, p99:");
    for (auto& [name, ms] : overshoot) std::printf("  %s %.0f ms", name.c_str(), ms);
    std::printf("\npeak RSS: host %ld KiB, largest worker %ld KiB; open descriptors %zu at start, %zu at end\n", self.ru_maxrss, worker_peak,
                fds_at_start, open_fd_count());
    std::printf("host RSS %llu KiB at start, %llu KiB at end\n", static_cast<unsigned long long>(rss_at_start),
                static_cast<unsigned long long>(rss_kb()));
    if (long_run > 0) {
        std::printf("long run of %d spawn jobs: RSS %llu -> %llu KiB, descriptors %zu -> %zu\n", long_run,
                    static_cast<unsigned long long>(long_rss_start), static_cast<unsigned long long>(long_rss_end), long_fds_start,
                    long_fds_end);
    }
    return 0;
}
