// Faults of the machine under real `sandhost run` processes on one SQLite store: a host stopped
// (SIGSTOP) past its lease while another takes its job over, the store's folder taken away
// and given back, a host with few descriptors, and a store on a full disk. Each asserts that no
// job is lost, none completes twice, and no process is left; ctest runs them under the label
// `chaos`.
#include "os/proc.h"
#include "redis_deployment.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

namespace sandhost {
namespace {

using namespace std::chrono_literals;
namespace t = sandhost::testing;
using model::JobState;
using model::OutcomeKind;

// Hosts of one configuration, each with a name of its own, on one SQLite store in `store_dir`.
class SqliteDeployment {
public:
    SqliteDeployment(std::filesystem::path store_dir, std::string queues_yaml, std::string host_extra, std::string sandbox)
        : m_store_dir(std::move(store_dir)), m_queues(std::move(queues_yaml)), m_host_extra(std::move(host_extra)),
          m_sandbox(std::move(sandbox))
    {
        std::filesystem::create_directories(m_store_dir);
        std::filesystem::permissions(m_store_dir, std::filesystem::perms::owner_all);
        auto loaded = config::load_config(config_for("test-client"));
        if (!loaded.ok()) throw std::runtime_error("bad test config: " + loaded.errors.front().to_string());
        m_host = loaded.settings->host;
    }

    std::filesystem::path config_for(const std::string& name)
    {
        const auto file = m_dir / (name + ".yaml");
        if (!std::filesystem::exists(file)) {
            std::ofstream(file) << "host:\n  name: " << name << "\n  store: \"sqlite:" << (m_store_dir / "jobs.db").string() << "\"\n"
                                << "  plugin_dirs: [\"" << t::plugin_dir().string() << "\", \"" << t::fixture_plugin_dir().string() << "\"]\n"
                                << "  log: {level: info}\n"
                                << m_host_extra << "sandbox: " << m_sandbox << "\nqueues:\n" << m_queues;
        }
        return file;
    }
    std::unique_ptr<t::HostProcess> start_host(const std::string& name, std::vector<std::string> prefix = {})
    {
        return std::make_unique<t::HostProcess>(config_for(name), log_of(name), std::move(prefix));
    }
    std::filesystem::path log_of(const std::string& name) const { return m_dir / (name + ".log"); }
    std::string log_text(const std::string& name) const
    {
        std::ifstream in(log_of(name));
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    // A connection of the test's own; the store is opened again after it was taken away.
    store::Store& store()
    {
        if (!m_store) m_store = scheduler::open_configured_store(m_host);
        return *m_store;
    }
    void close_store() { m_store.reset(); }
    const std::filesystem::path& dir() const { return m_dir.path(); }

    model::JobId enqueue(const std::string& queue, const std::string& task, const std::string& payload)
    {
        model::NewJob job;
        job.queue = queue;
        job.task = task;
        job.payload = payload;
        return store().enqueue(job, std::chrono::system_clock::now());
    }
    bool all_final(const std::vector<model::JobId>& ids)
    {
        try {
            for (auto id : ids) {
                const auto job = store().get(id);
                if (!job || (job->state != JobState::completed && job->state != JobState::dead && job->state != JobState::cancelled)) {
                    return false;
                }
            }
            return true;
        } catch (const store::StoreError&) {
            return false;
        }
    }
    // Every job of ids completed, by exactly one succeeded attempt; and no attempt was charged
    // to a job for the host's own fault.
    void expect_each_completed_once(const std::vector<model::JobId>& ids)
    {
        for (auto id : ids) {
            const auto job = store().get(id);
            ASSERT_TRUE(job) << id;
            EXPECT_EQ(job->state, JobState::completed) << "job " << id << ": " << job->error.value_or("");
            int succeeded = 0;
            for (const auto& attempt : store().attempts(id)) {
                if (attempt.outcome.kind == OutcomeKind::succeeded) ++succeeded;
            }
            EXPECT_EQ(succeeded, 1) << "job " << id;
        }
    }

private:
    t::TempDir m_dir;
    std::filesystem::path m_store_dir;
    std::string m_queues;
    std::string m_host_extra;
    std::string m_sandbox;
    config::HostSettings m_host;
    std::shared_ptr<store::Store> m_store;
};

std::size_t marks(const std::filesystem::path& file)
{
    std::ifstream in(file);
    std::size_t lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    return lines;
}

class MachineChaos : public ::testing::Test {
protected:
    void TearDown() override
    {
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }
};

class StoppedHost : public MachineChaos, public ::testing::WithParamInterface<const char*> {};

// A host stopped past its lease cannot have its task finish after another host took the job
// over: its worker stopped itself, so the task's side effect happens once.
TEST_P(StoppedHost, ItsWorkerStopsItselfAndTheTaskTakesEffectOnce)
{
    t::TempDir data;
    SqliteDeployment d(data / "store", "  q:\n    tasks: [\"marker.*\"]\n", "  lease: 2s\n",
                       std::string("{mode: ") + GetParam() + ", timeout: 60s, grace: 300ms}");
    const auto mark = d.dir() / "mark";
    const auto id = d.enqueue("q", "marker.sleep_then_mark", R"({"ms":6000,"path":")" + mark.string() + R"("})");
    auto a = d.start_host("host-a");
    // The attempt's worker, as host-a's heartbeat publishes it.
    pid_t worker = 0;
    ASSERT_TRUE(t::eventually([&] {
        for (const auto& record : d.store().hosts()) {
            for (const auto& running : record.status.running) {
                if (record.name == "host-a" && running.job == id && running.pid > 0) worker = static_cast<pid_t>(running.pid);
            }
        }
        return worker > 0;
    }, 30s)) << d.log_text("host-a");
    ASSERT_EQ(::kill(a->pid(), SIGSTOP), 0);

    auto b = d.start_host("host-b");
    ASSERT_TRUE(t::eventually([&] { return d.all_final({id}); }, 60s)) << d.log_text("host-b");
    // host-a's worker ended while its host was stopped (a zombie, or reaped by the fork server
    // it was forked from): it cannot leave a mark after this.
    const auto state = os::process_state(worker);
    EXPECT_TRUE(!state || *state == 'Z') << "host-a's worker " << worker << " outlived its lease";
    EXPECT_EQ(marks(mark), 1u) << "the task took effect twice";

    ASSERT_EQ(::kill(a->pid(), SIGCONT), 0);
    ASSERT_TRUE(t::eventually([&] { return d.log_text("host-a").find("attempt ended") != std::string::npos; }, 30s))
        << d.log_text("host-a");
    EXPECT_EQ(a->stop(), 0) << d.log_text("host-a");
    EXPECT_EQ(b->stop(), 0) << d.log_text("host-b");
    EXPECT_EQ(marks(mark), 1u);
    d.expect_each_completed_once({id});
    const auto attempts = d.store().attempts(id);
    ASSERT_EQ(attempts.size(), 2u);
    EXPECT_EQ(attempts[0].outcome.kind, OutcomeKind::worker_lost);
    EXPECT_EQ(attempts[0].host.substr(0, 6), "host-a");
    EXPECT_EQ(attempts[1].host.substr(0, 6), "host-b");
}

INSTANTIATE_TEST_SUITE_P(Modes, StoppedHost, ::testing::Values("spawn", "fork", "reuse"),
                         [](const ::testing::TestParamInfo<const char*>& param) { return std::string(param.param); });

// The store's folder taken away while a host runs: the host stops its workers and exits naming
// why, and creates nothing; given back, a host started again finishes every job, each once.
TEST_F(MachineChaos, TheStoresFolderTakenAwayAndGivenBack)
{
    t::TempDir data;
    SqliteDeployment d(data / "store", "  q:\n    tasks: [\"marker.*\"]\n    concurrency: 4\n", "  lease: 2s\n",
                       "{mode: spawn, timeout: 60s, grace: 300ms}");
    const auto mark = d.dir() / "mark";
    std::vector<model::JobId> ids;
    for (int i = 0; i < 40; ++i) ids.push_back(d.enqueue("q", "marker.sleep", R"({"ms":200,"path":")" + mark.string() + R"("})"));
    d.close_store();
    auto a = d.start_host("host-a");
    ASSERT_TRUE(t::eventually([&] { return marks(mark) >= 8; }, 60s));
    std::filesystem::rename(data / "store", data / "away");
    ASSERT_TRUE(t::eventually([&] { return ::kill(a->pid(), 0) == 0 && t::workers_of(a->pid()).empty() &&
                                           d.log_text("host-a").find("store vanished") != std::string::npos; }, 30s))
        << d.log_text("host-a");
    EXPECT_NE(a->stop(), 0) << "a host whose store vanished exits non-zero";
    EXPECT_FALSE(std::filesystem::exists(data / "store")) << "nothing may recreate the store behind the host";

    std::filesystem::rename(data / "away", data / "store");
    auto again = d.start_host("host-a");
    ASSERT_TRUE(t::eventually([&] { return d.all_final(ids); }, 120s)) << d.log_text("host-a");
    EXPECT_EQ(again->stop(), 0);
    d.expect_each_completed_once(ids);
}

// A host with few descriptors for its workers: the jobs it could not start go back uncharged,
// it runs fewer workers at once, and every job completes once.
TEST_F(MachineChaos, AHostWithFewDescriptorsLosesNothingAndChargesNoJob)
{
#if defined(SANDHOST_SANITIZED)
    // UndefinedBehaviorSanitizer checks a virtual call's object by writing it to a pipe: in a
    // host out of descriptors that fails, and it reports a valid object as a bad one.
    GTEST_SKIP() << "the sanitizers' runtime needs descriptors of its own (UBSan's vptr check)";
#endif
    t::TempDir data;
    SqliteDeployment d(data / "store", "  q:\n    tasks: [\"misbehave.*\"]\n    concurrency: 16\n    retry: {max_attempts: 1}\n",
                       "  lease: 5s\n  max_workers: 16\n", "{mode: spawn, timeout: 60s, grace: 300ms}");
    std::vector<model::JobId> ids;
    for (int i = 0; i < 100; ++i) ids.push_back(d.enqueue("q", "misbehave.sleep", R"({"ms":20})"));
    auto a = d.start_host("host-a", {"/usr/bin/prlimit", "--nofile=48:48", "--"});
    ASSERT_TRUE(t::eventually([&] { return d.all_final(ids); }, 150s)) << d.log_text("host-a");
    EXPECT_EQ(a->stop(), 0);
    d.expect_each_completed_once(ids);
    const auto log = d.log_text("host-a");
    EXPECT_NE(log.find("descriptor"), std::string::npos) << "the host warns that its limit is low\n" << log;
}

// A full disk under the store: results of attempts that end meanwhile are kept by the host and
// written once there is room again; nothing runs twice. Needs a tmpfs of its own (root).
TEST_F(MachineChaos, AFullDiskUnderTheStoreLosesNoResult)
{
    t::TempDir data;
    const auto disk = data / "disk";
    t::SmallDisk small_disk(disk, "4m");
    if (!small_disk.mounted()) GTEST_SKIP() << small_disk.why();
    const auto mark = data / "mark";
    std::vector<model::JobId> ids;
    {
        SqliteDeployment d(disk / "store", "  q:\n    tasks: [\"marker.*\"]\n    concurrency: 4\n", "  lease: 30s\n",
                           "{mode: spawn, timeout: 60s, grace: 300ms}");
        const std::string padding(2000, 'x');
        for (int i = 0; i < 24; ++i) {
            ids.push_back(d.enqueue("q", "marker.sleep", R"({"ms":300,"pad":")" + padding + R"(","path":")" + mark.string() + R"("})"));
        }
        d.close_store();
        auto a = d.start_host("host-a");
        ASSERT_TRUE(t::eventually([&] { return marks(mark) >= 4; }, 60s));
        // Fill the disk to the last byte.
        {
            std::ofstream filler(disk / "filler", std::ios::binary);
            const std::string block(64 * 1024, '\0');
            while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
            }
        }
        {
            std::ofstream small(disk / "filler-small", std::ios::binary);
            while (small.put('\0')) small.flush();
        }
        ASSERT_TRUE(t::eventually([&] { return d.log_text("host-a").find("store failing") != std::string::npos; }, 60s))
            << d.log_text("host-a");
        std::this_thread::sleep_for(1s);  // attempts end while the disk is full, and wait in the host
        std::filesystem::remove(disk / "filler");
        std::filesystem::remove(disk / "filler-small");
        ASSERT_TRUE(t::eventually([&] { return d.all_final(ids); }, 120s)) << d.log_text("host-a");
        EXPECT_EQ(a->stop(), 0) << d.log_text("host-a");
        d.expect_each_completed_once(ids);
        const auto log = d.log_text("host-a");
        EXPECT_NE(log.find("store answers again"), std::string::npos) << log;
        d.close_store();
    }
    EXPECT_EQ(marks(mark), ids.size()) << "a job ran twice";
}

} // namespace
} // namespace sandhost
