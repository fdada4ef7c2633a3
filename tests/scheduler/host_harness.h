// A host served in-process on a thread, on a real store (SQLite in a temp dir unless told
// otherwise), with real workers and plugins: the scheduler's integration tests drive it through
// the store.
#pragma once

#include "config/load.h"
#include "scheduler/host.h"
#include "scheduler/store_factory.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

namespace sandhost::testing {

// The payload of the marker plugin's tasks: the file each appends its line to, and more fields.
inline std::string path_payload(const std::string& path, const std::string& extra = "")
{
    return R"({"path":")" + path + "\"" + extra + "}";
}

// A test that fails when it leaves a process behind.
class NoLeftoversTest : public ::testing::Test {
protected:
    void TearDown() override
    {
        const auto leftovers = leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }
};

class HostHarness {
public:
    // queues_yaml: the `queues:` mapping's body (indented two spaces); extra: more top-level YAML;
    // host_extra: more keys of `host:` (indented two spaces); store: host.store.
    explicit HostHarness(const std::string& queues_yaml, const std::string& extra = "", std::uint32_t max_workers = 4,
                         const std::string& host_extra = "", const std::string& store = "sqlite:jobs.db")
    {
        m_config = m_dir / "sandhost.yaml";
        std::ofstream(m_config) << "host:\n  name: test-host\n  store: \"" << store << "\"\n  plugin_dirs: [\"" << plugin_dir().string()
                                << "\", \"" << fixture_plugin_dir().string() << "\"]\n  max_workers: " << max_workers << "\n"
                                << host_extra << "sandbox: {timeout: 20s, grace: 300ms}\nqueues:\n"
                                << queues_yaml << extra;
        auto loaded = config::load_config(m_config);
        if (!loaded.ok()) {
            for (const auto& e : loaded.errors) ADD_FAILURE() << e.to_string();
            throw std::runtime_error("bad test config");
        }
        m_settings = loaded.settings;
        m_store = scheduler::open_configured_store(m_settings->host);
        m_options.worker = worker_config(process::LauncherKind::posix_spawn);
        m_options.housekeeping = std::chrono::milliseconds(100);
        m_options.idle_poll = std::chrono::milliseconds(20);
        m_options.cancel_poll = std::chrono::milliseconds(50);
        m_options.drain = std::chrono::seconds(5);
    }
    ~HostHarness() { stop(); }

    scheduler::HostOptions& options() { return m_options; }
    store::Store& store() { return *m_store; }
    const std::shared_ptr<store::Store>& store_ptr() const { return m_store; }
    // The host uses `store` instead (one that wraps store_ptr(), say); before start().
    void use_store(std::shared_ptr<store::Store> store) { m_store = std::move(store); }
    const config::Settings& settings() const { return *m_settings; }
    const std::filesystem::path& dir() const { return m_dir.path(); }
    const std::filesystem::path& config_file() const { return m_config; }
    scheduler::Host& host() { return *m_host; }

    void start()
    {
        m_host = std::make_unique<scheduler::Host>(m_settings, m_store, m_options);
        m_thread = std::thread([this] {
            try {
                m_host->run();
            } catch (const std::exception& e) {
                std::lock_guard lock(m_run_mutex);
                m_run_error = e.what();
            }
            m_run_ended = true;
        });
    }
    // Whether run() returned (or threw: run_error says what).
    bool run_ended() const { return m_run_ended; }
    std::optional<std::string> run_error() const
    {
        std::lock_guard lock(m_run_mutex);
        return m_run_error;
    }
    void stop()
    {
        if (!m_host) return;
        m_host->stop();
        if (m_thread.joinable()) m_thread.join();
        m_host.reset();
    }

    model::JobId enqueue(const std::string& queue, const std::string& task, const std::string& payload = "{}",
                         const std::function<void(model::NewJob&)>& adjust = {})
    {
        model::NewJob job;
        job.queue = queue;
        job.task = task;
        job.payload = payload;
        if (const auto* q = m_settings->find_queue(queue)) job.ttl = q->ttl;
        if (adjust) adjust(job);
        return m_store->enqueue(job, std::chrono::system_clock::now());
    }

    // The job once it reached a final state (fails the test after the limit).
    model::Job wait_final(model::JobId id, std::chrono::milliseconds limit = std::chrono::seconds(60))
    {
        std::optional<model::Job> job;
        const bool done = eventually(
            [&] {
                job = m_store->get(id);
                return job && model::is_final(job->state);
            },
            limit);
        EXPECT_TRUE(done) << "job " << id << " is still " << (job ? model::to_string(job->state) : "missing");
        return *job;
    }

    std::string marker(const std::string& name) const { return (m_dir / name).string(); }
    static std::size_t marks(const std::string& path)
    {
        std::ifstream in(path);
        std::size_t lines = 0;
        for (std::string line; std::getline(in, line);) ++lines;
        return lines;
    }

private:
    TempDir m_dir;
    std::filesystem::path m_config;
    std::shared_ptr<const config::Settings> m_settings;
    std::shared_ptr<store::Store> m_store;
    scheduler::HostOptions m_options;
    std::unique_ptr<scheduler::Host> m_host;
    std::thread m_thread;
    std::atomic<bool> m_run_ended{false};
    mutable std::mutex m_run_mutex;
    std::optional<std::string> m_run_error;
};

} // namespace sandhost::testing
