// Several `sandhost run` processes on one redis-server of the test's own, as a team would run
// them on several machines: each host has its own configuration file (its own host.name) and
// writes its log to a file of its own; the test reads and writes the store through a client of
// its own, and runs the CLI against it.
#pragma once

#include "config/load.h"
#include "redis_server.h"
#include "scheduler/store_factory.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace sandhost::testing {

// A `sandhost run --config FILE` whose stdout and stderr go to LOG, started through `prefix`
// when given (a command that runs the rest of its arguments, such as prlimit). The destructor
// kills (SIGKILL) and reaps it unless stop() or kill() did.
class HostProcess {
public:
    HostProcess(const std::filesystem::path& config, const std::filesystem::path& log, std::vector<std::string> prefix = {})
    {
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        std::vector<std::string> args = std::move(prefix);
        for (std::string arg : {sandhost_executable().string(), std::string("run"), std::string("--config"), config.string(),
                                std::string("--drain"), std::string("5s")}) {
            args.push_back(std::move(arg));
        }
        std::vector<char*> argv;
        for (auto& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        const int rc = ::posix_spawn(&m_pid, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) throw std::runtime_error("posix_spawn sandhost: " + std::to_string(rc));
    }
    ~HostProcess() { kill(); }
    HostProcess(const HostProcess&) = delete;
    HostProcess& operator=(const HostProcess&) = delete;

    pid_t pid() const { return m_pid; }
    // SIGTERM (drain) and wait: its exit code.
    int stop()
    {
        if (m_pid <= 0) return m_status;
        ::kill(m_pid, SIGTERM);
        return reap();
    }
    // SIGKILL, as a crash of the machine's process, and reap.
    void kill()
    {
        if (m_pid <= 0) return;
        ::kill(m_pid, SIGKILL);
        reap();
    }

private:
    int reap()
    {
        int status = 0;
        while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
        }
        m_pid = -1;
        m_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return m_status;
    }

    pid_t m_pid = -1;
    int m_status = -1;
};

class RedisDeployment {
public:
    // queues_yaml: the `queues:` body (indented two spaces); host_extra: more `host:` keys.
    explicit RedisDeployment(std::string queues_yaml, std::string host_extra = "  lease: 3s\n",
                             std::string sandbox = "{timeout: 20s, grace: 300ms}")
        : m_queues(std::move(queues_yaml)), m_host_extra(std::move(host_extra)), m_sandbox(std::move(sandbox))
    {
        auto loaded = config::load_config(config_for("test-client"));
        if (!loaded.ok()) throw std::runtime_error("bad test config: " + loaded.errors.front().to_string());
        m_settings = loaded.settings;
        m_store = scheduler::open_configured_store(m_settings->host);
    }

    // The configuration of host `name` (written on first use).
    std::filesystem::path config_for(const std::string& name)
    {
        const auto file = m_dir / (name + ".yaml");
        if (!std::filesystem::exists(file)) {
            std::ofstream(file) << "host:\n  name: " << name << "\n  store: \"" << m_server.url() << "\"\n  store_prefix: \"chaos:\"\n"
                                << "  plugin_dirs: [\"" << plugin_dir().string() << "\", \"" << fixture_plugin_dir().string() << "\"]\n"
                                << "  log: {level: info}\n"
                                << m_host_extra << "sandbox: " << m_sandbox << "\nqueues:\n" << m_queues;
        }
        return file;
    }
    std::unique_ptr<HostProcess> start_host(const std::string& name)
    {
        return std::make_unique<HostProcess>(config_for(name), log_of(name));
    }
    std::filesystem::path log_of(const std::string& name) const { return m_dir / (name + ".log"); }
    std::string log_text(const std::string& name) const
    {
        std::ifstream in(log_of(name));
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    // `sandhost ARGS... --config` with the test client's configuration.
    CommandResult cli(std::vector<std::string> args)
    {
        args.insert(args.begin(), sandhost_executable().string());
        args.push_back("--config");
        args.push_back(config_for("test-client").string());
        return run_command(args);
    }

    store::Store& store() { return *m_store; }
    RedisServer& server() { return m_server; }
    const std::filesystem::path& dir() const { return m_dir.path(); }

    model::JobId enqueue(const std::string& queue, const std::string& task, const std::string& payload = "{}")
    {
        model::NewJob job;
        job.queue = queue;
        job.task = task;
        job.payload = payload;
        return m_store->enqueue(job, std::chrono::system_clock::now());
    }
    // Whether every job of `ids` reached a final state; a store error counts as not yet.
    bool all_final(const std::vector<model::JobId>& ids)
    {
        try {
            auto counts = m_store->queue_counts({});
            std::uint64_t final_jobs = 0;
            for (const auto& [queue, entry] : counts) {
                for (auto state : {model::JobState::completed, model::JobState::dead, model::JobState::cancelled}) {
                    final_jobs += entry.by_state.at(state);
                }
            }
            return final_jobs >= ids.size();
        } catch (const store::StoreError&) {
            return false;
        }
    }

private:
    TempDir m_dir;
    RedisServer m_server;
    std::string m_queues;
    std::string m_host_extra;
    std::string m_sandbox;
    std::shared_ptr<const config::Settings> m_settings;
    std::shared_ptr<store::Store> m_store;
};

} // namespace sandhost::testing
