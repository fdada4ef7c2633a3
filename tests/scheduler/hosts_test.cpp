// Several hosts in one process on one store: each runs only what its own configuration allows,
// publishes its catalog and heartbeat, and shuts down cleanly.
#include "config/load.h"
#include "host_harness.h"
#include "scheduler/host.h"
#include "scheduler/store_factory.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace sandhost::scheduler {
namespace {

using namespace std::chrono_literals;
namespace t = sandhost::testing;

// A host served on a thread of this process, with a configuration of its own.
class ServedHost {
public:
    // `queue`: more settings of the queue, as ", key: value" pairs of a flow mapping.
    ServedHost(const t::TempDir& dir, const std::string& name, const std::string& tasks, const std::filesystem::path& plugins = t::plugin_dir(),
               const std::string& queue = "")
    {
        const auto file = dir / (name + ".yaml");
        std::ofstream(file) << "host:\n  name: " << name << "\n  store: sqlite:jobs.db\n  plugin_dirs: [\"" << plugins.string()
                            << "\"]\n  max_workers: 4\n  lease: 900ms\nqueues:\n  default: {tasks: [" << tasks << "], concurrency: 2" << queue << "}\n";
        auto loaded = config::load_config(file);
        if (!loaded.ok()) throw std::runtime_error(loaded.errors.front().to_string());
        m_settings = loaded.settings;
        m_store = open_configured_store(m_settings->host);
        HostOptions options;
        options.worker = t::worker_config(process::LauncherKind::posix_spawn);
        options.idle_poll = 20ms;
        options.housekeeping = 100ms;
        m_host = std::make_unique<Host>(m_settings, m_store, options);
    }
    ~ServedHost() { stop(); }
    void start()
    {
        m_thread = std::thread([this] { m_host->run(); });
    }
    void stop()
    {
        if (!m_thread.joinable()) return;
        m_host->stop();
        m_thread.join();
    }
    Host& host() { return *m_host; }
    store::Store& store() { return *m_store; }

private:
    std::shared_ptr<const config::Settings> m_settings;
    std::shared_ptr<store::Store> m_store;
    std::unique_ptr<Host> m_host;
    std::thread m_thread;
};

model::JobId enqueue(store::Store& store, const std::string& task, const std::string& payload)
{
    model::NewJob job;
    job.queue = "default";
    job.task = task;
    job.payload = payload;
    return store.enqueue(job, std::chrono::system_clock::now());
}

class HostsTest : public ::testing::Test {
protected:
    void TearDown() override
    {
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }
    t::TempDir m_dir;
};

TEST_F(HostsTest, EachHostRunsOnlyWhatItsOwnQueueSettingsAllow)
{
    t::LogCapture log;

    ServedHost hellos(m_dir, "hellos", "\"hello.*\"");
    ServedHost misbehaves(m_dir, "misbehaves", "\"misbehave.*\"");
    std::vector<model::JobId> hello_jobs, misbehave_jobs;
    for (int i = 0; i < 10; ++i) {
        misbehave_jobs.push_back(enqueue(hellos.store(), "misbehave.sleep", R"({"ms":10})"));
        hello_jobs.push_back(enqueue(hellos.store(), "hello.echo", "{\"i\":" + std::to_string(i) + "}"));
    }
    // Alone, the hello host runs its jobs and leaves the others waiting, uncharged, behind them.
    hellos.start();
    ASSERT_TRUE(t::eventually([&] {
        for (auto id : hello_jobs) {
            if (hellos.store().get(id)->state != model::JobState::completed) return false;
        }
        return true;
    }, 60s));
    for (auto id : misbehave_jobs) {
        const auto job = hellos.store().get(id);
        EXPECT_EQ(job->state, model::JobState::waiting);
        EXPECT_EQ(job->attempts, 0u);
    }
    ASSERT_TRUE(t::eventually([&] { return log.count("jobs left to other hosts") > 0; }));
    // The other host takes them.
    misbehaves.start();
    ASSERT_TRUE(t::eventually([&] {
        for (auto id : misbehave_jobs) {
            if (misbehaves.store().get(id)->state != model::JobState::completed) return false;
        }
        return true;
    }, 60s));
    for (auto id : hello_jobs) EXPECT_EQ(hellos.store().attempts(id).at(0).host, hellos.host().holder());
    for (auto id : misbehave_jobs) EXPECT_EQ(misbehaves.store().attempts(id).at(0).host, misbehaves.host().holder());
    hellos.stop();
    misbehaves.stop();
    // Said once per queue and task, not once per look.
    EXPECT_EQ(log.count("jobs left to other hosts"), 1u) << log.text();
}

TEST_F(HostsTest, AHostPublishesItsCatalogAndWhatItRunsThenSaysItStopped)
{
    ServedHost served(m_dir, "solo", "\"misbehave.*\"");
    served.start();
    const auto id = enqueue(served.store(), "misbehave.sleep", R"({"ms":3000})");
    std::optional<model::HostRecord> seen;
    ASSERT_TRUE(t::eventually([&] {
        for (const auto& h : served.store().hosts()) {
            if (h.name == "solo" && !h.status.running.empty() && h.status.running[0].pid > 0) seen = h;
        }
        return seen.has_value();
    }, 20s));
    EXPECT_EQ(seen->holder, served.host().holder());
    EXPECT_FALSE(seen->version.empty());
    ASSERT_EQ(seen->queues.size(), 1u);
    EXPECT_EQ(seen->queues[0].tasks, std::vector<std::string>{"misbehave.*"});
    const auto* misbehave = seen->catalog.find("misbehave");
    ASSERT_TRUE(misbehave);
    EXPECT_TRUE(misbehave->has_task("segfault"));
    EXPECT_EQ(seen->status.running[0].job, id);
    const auto worker = std::find_if(seen->status.workers.begin(), seen->status.workers.end(),
                                     [&](const model::WorkerInfo& w) { return w.pid == seen->status.running[0].pid; });
    ASSERT_NE(worker, seen->status.workers.end());
    EXPECT_EQ(worker->role, model::WorkerInfo::Role::job);
    served.stop();
    const auto hosts = served.store().hosts();
    ASSERT_EQ(hosts.size(), 1u);
    EXPECT_TRUE(hosts[0].stopped_at.has_value());
    EXPECT_TRUE(hosts[0].status.running.empty());
    EXPECT_TRUE(hosts[0].catalog.find("misbehave")) << "a stopped host's catalog stays for enqueue checks";
}

TEST_F(HostsTest, AHostPublishesItsCatalogAgainWhenAPluginFileChanges)
{
    t::LogCapture log;
    const auto plugins = m_dir / "plugins";
    std::filesystem::create_directory(plugins);
    t::install_library(t::plugin("misbehave"), plugins / "misbehave.so");
    ServedHost served(m_dir, "solo", "\"misbehave.*\"", plugins);
    served.start();
    auto catalog = [&]() -> std::optional<model::PluginCatalog> {
        for (const auto& h : served.store().hosts()) {
            if (h.name == "solo" && h.catalog_at.time_since_epoch().count() != 0) return h.catalog;
        }
        return std::nullopt;
    };
    ASSERT_TRUE(t::eventually([&] { return catalog() && catalog()->find("misbehave"); }, 20s));
    ASSERT_EQ(catalog()->plugins.size(), 1u);

    // A new library added beside it, then the first replaced by another build: each is
    // described and published within a housekeeping round or so.
    t::install_library(t::plugin("hello"), plugins / "hello.so");
    ASSERT_TRUE(t::eventually([&] { return catalog() && catalog()->find("hello"); }, 20s)) << log.text();
    EXPECT_TRUE(catalog()->find("misbehave"));
    t::install_library(t::plugin("hello"), plugins / "misbehave.so");
    ASSERT_TRUE(t::eventually([&] { return catalog() && !catalog()->find("misbehave"); }, 20s)) << log.text();
    const auto replaced = catalog();
    ASSERT_EQ(replaced->plugins.size(), 2u);
    for (const auto& plugin : replaced->plugins) EXPECT_EQ(plugin.name, "hello") << plugin.path;

    // And one removed.
    std::filesystem::remove(plugins / "hello.so");
    ASSERT_TRUE(t::eventually([&] { return catalog() && catalog()->plugins.size() == 1u; }, 20s)) << log.text();
    served.stop();
    EXPECT_GE(log.count("plugins changed"), 3u) << log.text();
    EXPECT_NE(log.text().find("hello.so removed"), std::string::npos) << log.text();
    EXPECT_NE(log.text().find("misbehave.so replaced"), std::string::npos) << log.text();
}

// A job of `task` run to its end on `served`: its result.
std::optional<std::string> run_job(ServedHost& served, const std::string& task, const std::string& payload = "{}")
{
    const auto id = enqueue(served.store(), task, payload);
    std::optional<model::Job> job;
    const bool ended = t::eventually([&] {
        job = served.store().get(id);
        return job && (job->state == model::JobState::completed || job->state == model::JobState::dead);
    }, 30s);
    if (!ended || job->state != model::JobState::completed) {
        ADD_FAILURE() << task << ": " << (job ? std::string(model::to_string(job->state)) + " " + job->error.value_or("") : "no job");
        return std::nullopt;
    }
    return job->result;
}

// A new version of a plugin renamed over the old one on a running host, whose queue runs in
// `mode`: its catalog says so, and the next jobs run the new version, its new task too.
void a_new_version_runs_without_a_restart(const t::TempDir& dir, const std::string& mode)
{
    const auto plugins = dir / "plugins";
    std::filesystem::create_directory(plugins);
    const auto versions = t::fixture_plugin_dir() / "versions";
    t::install_library(versions / "versioned_v1.so", plugins / "versioned.so");
    ServedHost served(dir, "solo", "\"versioned.*\"", plugins, ", sandbox: {mode: " + mode + "}");
    served.start();
    auto published_version = [&]() -> std::string {
        for (const auto& h : served.store().hosts()) {
            if (const auto* plugin = h.catalog.find("versioned")) return plugin->version;
        }
        return "";
    };
    ASSERT_TRUE(t::eventually([&] { return published_version() == "1.0.0"; }, 20s));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(run_job(served, "versioned.version"), "\"1.0.0\"");

    t::install_library(versions / "versioned_v2.so", plugins / "versioned.so");
    ASSERT_TRUE(t::eventually([&] { return published_version() == "2.0.0"; }, 20s));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(run_job(served, "versioned.version"), "\"2.0.0\"");
        EXPECT_EQ(run_job(served, "versioned.added", R"({"n":1})"), R"({"n":1})");
    }
    served.stop();
}

TEST_F(HostsTest, ANewPluginVersionRunsWithoutARestartInForkMode) { a_new_version_runs_without_a_restart(m_dir, "fork"); }

TEST_F(HostsTest, ANewPluginVersionRunsWithoutARestartInReuseMode) { a_new_version_runs_without_a_restart(m_dir, "reuse"); }

} // namespace
} // namespace sandhost::scheduler
