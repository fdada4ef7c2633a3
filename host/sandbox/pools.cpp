#include "sandbox/pools.h"

#include "sandbox/fork_server.h"
#include "sandbox/worker_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <sys/stat.h>
#include <thread>

namespace sandhost::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

model::Outcome failure(model::OutcomeKind kind, std::string error, const char* isolation)
{
    model::Outcome o;
    o.kind = kind;
    o.error = std::move(error);
    o.isolation = isolation;
    o.started_at = o.ended_at = std::chrono::system_clock::now();
    return o;
}

// Which file a path names right now: a changed library is a new chance.
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const FileIdentity&) const = default;

    static FileIdentity of(const std::filesystem::path& path)
    {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) return {};
        return {st.st_dev, st.st_ino, st.st_size, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    }
};

class PluginHealth {
public:
    static constexpr int k_failures_before_broken = 3;

    std::optional<model::Outcome> refuse(const std::filesystem::path& plugin, const char* isolation)
    {
        std::lock_guard lock(m_mutex);
        auto it = m_entries.find(plugin);
        if (it == m_entries.end() || it->second.failures < k_failures_before_broken) return std::nullopt;
        const auto now = Clock::now();
        if (now >= it->second.broken_until || !(FileIdentity::of(plugin) == it->second.file)) return std::nullopt;  // try for real
        const auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second.broken_until - now).count() + 1;
        model::Outcome o = failure(model::OutcomeKind::load_failed,
                            it->second.last_error + " (plugin marked broken after " + std::to_string(it->second.failures) +
                                " consecutive load failures; tried again in " + std::to_string(left) + "s or when the file changes)",
                            isolation);
        o.plugin_unusable = true;
        return o;
    }

    void record(const std::filesystem::path& plugin, const model::Outcome& outcome)
    {
        std::lock_guard lock(m_mutex);
        if (!(outcome.kind == model::OutcomeKind::load_failed && outcome.plugin_unusable)) {
            // Anything that got past loading proves the library loads.
            if (outcome.kind != model::OutcomeKind::spawn_failed && outcome.kind != model::OutcomeKind::load_failed) m_entries.erase(plugin);
            return;
        }
        auto& entry = m_entries[plugin];
        ++entry.failures;
        entry.last_error = outcome.error;
        entry.file = FileIdentity::of(plugin);
        if (entry.failures >= k_failures_before_broken) {
            entry.backoff = entry.backoff.count() == 0 ? std::chrono::seconds(5) : std::min(entry.backoff * 2, std::chrono::seconds(300));
            entry.broken_until = Clock::now() + entry.backoff;
            spdlog::warn("plugin {} marked broken for {}s after {} consecutive load failures: {}", plugin.string(), entry.backoff.count(),
                         entry.failures, entry.last_error);
        }
    }

    void clear()
    {
        std::lock_guard lock(m_mutex);
        m_entries.clear();
    }

private:
    struct Entry {
        int failures = 0;
        std::string last_error;
        FileIdentity file;
        Clock::time_point broken_until{};
        std::chrono::seconds backoff{0};
    };
    std::mutex m_mutex;
    std::map<std::filesystem::path, Entry> m_entries;
};

struct ReuseKey {
    std::string executable;
    std::string plugin;
    model::Limits limits;
    bool operator<(const ReuseKey& other) const
    {
        auto tie = [](const ReuseKey& k) {
            const auto& l = k.limits;
            return std::make_tuple(k.executable, k.plugin, l.memory_bytes, l.cpu ? std::optional(l.cpu->count()) : std::nullopt, l.open_files,
                                   l.file_size_bytes, l.processes, l.output_bytes);
        };
        return tie(*this) < tie(other);
    }
};

struct IdleWorker {
    std::unique_ptr<WorkerSession> session;
    Clock::time_point since;
    model::Duration idle_timeout;
    std::thread::id last_thread;  // who ran its last job
};

struct ForkKey {
    std::string executable;
    std::string plugin;
    bool operator<(const ForkKey& other) const { return std::tie(executable, plugin) < std::tie(other.executable, other.plugin); }
};

struct ForkEntry {
    std::shared_ptr<ForkServer> server;
    Clock::time_point last_used;
    model::Duration idle_timeout;
};

// A plugin's fork servers: one forks at a time, so concurrent attempts get more of them, up
// to sandbox.fork_servers (by default one per CPU: more could not fork in parallel anyway).
struct ForkGroup {
    std::vector<ForkEntry> servers;
    int starting = 0;  // extra servers being started in the background
};

std::size_t max_fork_servers(const model::SandboxSettings& settings)
{
    static const std::size_t cpus = std::max(1u, std::thread::hardware_concurrency());
    return settings.fork_servers > 0 ? settings.fork_servers : cpus;
}

class Pools {
public:
    static Pools& instance()
    {
        static Pools* const pools = new Pools();  // leaked: its janitor thread runs for the process's life
        return *pools;
    }

    model::Outcome run(const AttemptSpec& spec, const WorkerConfig& worker, AttemptObserver* observer, CancelToken* cancel)
    {
        const char* isolation = to_string(spec.settings.mode);
        if (auto refused = m_health.refuse(spec.plugin_path, isolation)) return *refused;
        model::Outcome outcome;
        switch (spec.settings.mode) {
        case model::Mode::spawn: outcome = run_spawn(spec, worker, observer, cancel); break;
        case model::Mode::fork: outcome = run_fork(spec, worker, observer, cancel); break;
        case model::Mode::reuse: outcome = run_reuse(spec, worker, observer, cancel); break;
        }
        m_health.record(spec.plugin_path, outcome);
        return outcome;
    }

    void shutdown()
    {
        std::map<ReuseKey, std::vector<IdleWorker>> idle;
        std::map<ForkKey, ForkGroup> servers;
        {
            std::unique_lock lock(m_mutex);
            // A server still starting would outlive the shutdown.
            m_started.wait(lock, [this] { return m_starts == 0; });
            idle.swap(m_idle);
            servers.swap(m_servers);
        }
        for (auto& [key, workers] : idle) {
            for (auto& w : workers) w.session->shutdown(std::chrono::seconds(1));
        }
        servers.clear();
        m_health.clear();
    }

private:
    Pools()
    {
        std::thread([this] { janitor(); }).detach();
    }

    static model::Outcome run_spawn(const AttemptSpec& spec, const WorkerConfig& worker, AttemptObserver* observer, CancelToken* cancel)
    {
        auto session = WorkerSession::start(worker, WorkerRole::spawn);
        if (!session) return failure(model::OutcomeKind::spawn_failed, "cannot start the worker: " + session.error().message(), "spawn");
        return session->run(spec, observer, cancel);
    }

    model::Outcome run_fork(const AttemptSpec& spec, const WorkerConfig& worker, AttemptObserver* observer, CancelToken* cancel)
    {
        const ForkKey key{worker.executable.string(), spec.plugin_path.string()};
        // One replacement per attempt: a server that dies or stops answering is replaced, and
        // the job is forked again from the new one.
        for (int round = 0; round < 2; ++round) {
            std::shared_ptr<ForkServer> server = pick_fork_server(key, worker, spec.settings);
            if (!server) {
                // This attempt starts the plugin's first server; the others wait for it.
                auto started = ForkServer::start(worker, spec.plugin_path, spec.settings);
                std::lock_guard lock(m_mutex);
                auto& group = m_servers[key];
                --group.starting;
                --m_starts;
                m_started.notify_all();
                if (auto* outcome = std::get_if<model::Outcome>(&started)) return *outcome;
                server = std::move(std::get<std::unique_ptr<ForkServer>>(started));
                group.servers.push_back(ForkEntry{server, Clock::now(), spec.settings.reuse.idle_timeout});
            }
            auto session = server->fork_session(spec);
            if (auto* session_value = std::get_if<WorkerSession>(&session)) return session_value->run(spec, observer, cancel);
            spdlog::warn("fork server for {} replaced: {}", spec.plugin_path.string(), std::get<std::string>(session));
        }
        return failure(model::OutcomeKind::spawn_failed, "the fork server for " + spec.plugin_path.string() + " failed twice in a row", "fork");
    }

    // The least busy live server of the plugin, or null when it has none and the caller is
    // to start it (counted in `starting`; while one attempt starts it, the others wait). When
    // every server is busy forking, another one is started in the background for the attempts
    // to come: this one waits its turn rather than for a new server's start-up and init hook.
    std::shared_ptr<ForkServer> pick_fork_server(const ForkKey& key, const WorkerConfig& worker, const model::SandboxSettings& settings)
    {
        std::unique_lock lock(m_mutex);
        for (;;) {
            // Looked up again after each wait: a shutdown may have emptied the pools meanwhile.
            auto& group = m_servers[key];
            std::erase_if(group.servers, [](ForkEntry& e) { return e.server->dead(); });
            if (!group.servers.empty()) break;
            if (group.starting == 0) {
                ++group.starting;
                ++m_starts;
                return nullptr;
            }
            m_started.wait(lock);
        }
        auto& group = m_servers[key];
        // Least busy first, then least recently used: a server forks its next spare child
        // right after handing one out, so the one that rested longest is the likeliest ready.
        auto best = std::min_element(group.servers.begin(), group.servers.end(), [](const ForkEntry& a, const ForkEntry& b) {
            return std::make_pair(a.server->in_flight(), a.last_used) < std::make_pair(b.server->in_flight(), b.last_used);
        });
        if (best->server->in_flight() > 0 && group.servers.size() + static_cast<std::size_t>(group.starting) < max_fork_servers(settings)) {
            ++group.starting;
            ++m_starts;
            std::thread([this, key, worker, plugin = std::filesystem::path(key.plugin), settings] {
                auto started = ForkServer::start(worker, plugin, settings);
                std::lock_guard inner(m_mutex);
                auto& g = m_servers[key];
                --g.starting;
                if (auto* server = std::get_if<std::unique_ptr<ForkServer>>(&started)) {
                    g.servers.push_back(ForkEntry{std::move(*server), Clock::now(), settings.reuse.idle_timeout});
                }
                --m_starts;
                m_started.notify_all();
            }).detach();
        }
        best->last_used = Clock::now();
        return best->server;
    }

    model::Outcome run_reuse(const AttemptSpec& spec, const WorkerConfig& worker, AttemptObserver* observer, CancelToken* cancel)
    {
        const ReuseKey key{worker.executable.string(), spec.plugin_path.string(), spec.settings.limits};
        std::unique_ptr<WorkerSession> session;
        {
            std::lock_guard lock(m_mutex);
            auto& idle = m_idle[key];
            if (!idle.empty()) {
                // The worker this thread used last, if it is idle: a thread and its worker
                // that keep to each other keep to one CPU too, and their wakeups stay cheap.
                auto it = std::find_if(idle.begin(), idle.end(), [](const IdleWorker& w) { return w.last_thread == std::this_thread::get_id(); });
                if (it == idle.end()) it = std::prev(idle.end());
                session = std::move(it->session);
                idle.erase(it);
            }
        }
        if (!session) {
            auto started = WorkerSession::start(worker, WorkerRole::reuse);
            if (!started) return failure(model::OutcomeKind::spawn_failed, "cannot start the worker: " + started.error().message(), "reuse");
            session = std::make_unique<WorkerSession>(std::move(started.value()));
        }
        model::Outcome outcome = session->run(spec, observer, cancel);
        const auto& reuse = spec.settings.reuse;
        const bool worn_out = session->jobs_run() >= reuse.max_jobs_per_worker ||
                              session->peak_rss_kb() * 1024 > reuse.max_rss_bytes;
        if (!session->reusable()) return outcome;  // ended with its job (or is killed by its destructor)
        if (worn_out) {
            session->shutdown(spec.settings.grace);
            return outcome;
        }
        std::lock_guard lock(m_mutex);
        m_idle[key].push_back(IdleWorker{std::move(session), Clock::now(), reuse.idle_timeout, std::this_thread::get_id()});
        return outcome;
    }

    // Shuts down reuse workers and fork servers that have been idle too long.
    void janitor()
    {
        for (;;) {
            std::this_thread::sleep_for(std::chrono::seconds(1));
            std::vector<std::unique_ptr<WorkerSession>> expired;
            std::vector<std::shared_ptr<ForkServer>> servers;
            {
                std::lock_guard lock(m_mutex);
                const auto now = Clock::now();
                for (auto& [key, workers] : m_idle) {
                    for (auto it = workers.begin(); it != workers.end();) {
                        if (now - it->since >= it->idle_timeout) {
                            expired.push_back(std::move(it->session));
                            it = workers.erase(it);
                        } else {
                            ++it;
                        }
                    }
                }
                for (auto& [key, group] : m_servers) {
                    for (auto it = group.servers.begin(); it != group.servers.end();) {
                        const bool idle = now - it->last_used >= it->idle_timeout && it->server.use_count() == 1;
                        if (idle || it->server->dead()) {
                            servers.push_back(std::move(it->server));
                            it = group.servers.erase(it);
                        } else {
                            ++it;
                        }
                    }
                }
            }
            for (auto& session : expired) session->shutdown(std::chrono::seconds(1));
        }
    }

    std::mutex m_mutex;
    std::map<ReuseKey, std::vector<IdleWorker>> m_idle;
    std::map<ForkKey, ForkGroup> m_servers;
    int m_starts = 0;  // fork servers being started, in the background or by an attempt
    std::condition_variable m_started;
    PluginHealth m_health;
};

} // namespace

model::Outcome run_in_pool(const AttemptSpec& spec, const WorkerConfig& worker, AttemptObserver* observer, CancelToken* cancel)
{
    return Pools::instance().run(spec, worker, observer, cancel);
}

void shutdown_pools() { Pools::instance().shutdown(); }

} // namespace sandhost::sandbox
