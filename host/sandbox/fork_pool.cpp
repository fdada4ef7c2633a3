#include "sandbox/fork_pool.h"

#include "os/proc.h"
#include "sandbox/host_error.h"
#include "sandbox/plugin_health.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace sandhost::sandbox {
namespace {

std::size_t max_servers(const model::SandboxSettings& settings)
{
    static const std::size_t cpus = std::max(1u, std::thread::hardware_concurrency());
    return settings.fork_servers > 0 ? settings.fork_servers : cpus;
}

model::Outcome failure(model::OutcomeKind kind, std::string error)
{
    model::Outcome o;
    o.kind = kind;
    o.error = std::move(error);
    o.isolation = model::to_string(model::Mode::fork);
    o.started_at = o.ended_at = std::chrono::system_clock::now();
    return o;
}

} // namespace

ForkPool::ForkPool(process::Spawner& spawner, WorkerConfig worker, Housekeeper& background, CgroupPool* cgroups)
    : m_spawner(spawner), m_worker(std::move(worker)), m_background(background), m_cgroups(cgroups)
{
}

ForkPool::~ForkPool() { shutdown(); }

model::Outcome ForkPool::run(const AttemptSpec& spec, const os::FileIdentity& library, AttemptObserver* observer, CancelToken* cancel)
{
    const Key key{m_worker.executable.string(), spec.plugin_path.string(), spec.settings.privileges};
    // No lease-watch thread in the child: its server keeps its lease.
    auto group = CgroupPool::lease_for(m_cgroups, spec.settings, false);
    if (!group) {
        throw_if_shortage(group.error());
        return failure(model::OutcomeKind::spawn_failed, "cannot prepare the attempt's control group: " + group.error().message());
    }
    // One replacement per attempt: a server that dies or stops answering is replaced, and the
    // job is forked again from the new one.
    for (int round = 0; round < 2; ++round) {
        std::shared_ptr<ForkServer> server = pick(key, library, spec.settings);
        if (!server) {
            // This attempt starts the plugin's first server; the others wait for it.
            auto first = start_first(key, library, spec.settings);
            if (auto* outcome = std::get_if<model::Outcome>(&first)) return *outcome;
            server = std::get<std::shared_ptr<ForkServer>>(first);
        }
        auto session = server->fork_session(spec, group->get());
        if (auto* forked = std::get_if<WorkerSession>(&session)) {
            forked->attach_group(std::move(group.value()));
            return forked->run(spec, observer, cancel);
        }
        spdlog::warn("fork server for {} replaced: {}", spec.plugin_path.string(), std::get<std::string>(session));
    }
    return failure(model::OutcomeKind::spawn_failed, "the fork server for " + spec.plugin_path.string() + " failed twice in a row");
}

void ForkPool::started(const Key& key, std::shared_ptr<ForkServer> server, const os::FileIdentity& library, const model::SandboxSettings& settings)
{
    auto& group = m_groups[key];
    // One started for a file replaced meanwhile serves the attempt that started it, if any, and no other.
    if (server && group.library == library) group.servers.push_back(Entry{std::move(server), Clock::now(), settings.reuse.idle_timeout});
    else if (server) m_retiring.push_back(Retiring{std::move(server), std::filesystem::path(key.plugin).filename().string()});
    --group.starting;
    --m_starts;
    m_started.notify_all();
}

std::variant<std::shared_ptr<ForkServer>, model::Outcome> ForkPool::start_first(const Key& key, const os::FileIdentity& library,
                                                                                 const model::SandboxSettings& settings)
{
    std::shared_ptr<ForkServer> server;
    std::optional<model::Outcome> refused;
    try {
        auto result = ForkServer::start(m_spawner, m_worker, key.plugin, settings);
        if (auto* outcome = std::get_if<model::Outcome>(&result)) refused = std::move(*outcome);
        else server = std::move(std::get<std::unique_ptr<ForkServer>>(result));
    } catch (...) {
        std::lock_guard lock(m_mutex);
        started(key, nullptr, library, settings);
        throw;
    }
    std::lock_guard lock(m_mutex);
    started(key, server, library, settings);
    if (refused) return *refused;
    return server;
}

// The least busy live server of the plugin, or null when it has none and the caller is to
// start it (counted in `starting`; while one attempt starts it, the others wait). When every
// server is busy forking, another one is started in the background for the attempts to come:
// this one waits its turn rather than for a new server's start-up and init hook.
void ForkPool::serve_library(const Key& key, Group& group, const os::FileIdentity& library)
{
    if (group.library == library) return;
    warn_if_written_in_place(key.plugin, group.library, library);
    // Another file is at the plugin's path: its servers hold the old library. The attempts
    // forking from them now finish there; no other one does.
    for (auto& entry : group.servers) m_retiring.push_back(Retiring{std::move(entry.server), std::filesystem::path(key.plugin).filename().string()});
    group.servers.clear();
    group.library = library;
}

std::shared_ptr<ForkServer> ForkPool::pick(const Key& key, const os::FileIdentity& library, const model::SandboxSettings& settings)
{
    std::unique_lock lock(m_mutex);
    for (;;) {
        // Looked up again after each wait: a shutdown may have emptied the pool meanwhile.
        auto& group = m_groups[key];
        serve_library(key, group, library);
        std::erase_if(group.servers, [](Entry& e) { return e.server->dead(); });
        if (!group.servers.empty()) break;
        if (group.starting == 0) {
            ++group.starting;
            ++m_starts;
            return nullptr;
        }
        m_started.wait(lock);
    }
    auto& group = m_groups[key];
    // Least busy first, then least recently used: a server still reaps and reports the child of
    // its last job after answering for it, so the one that rested longest is the likeliest idle.
    auto best = std::min_element(group.servers.begin(), group.servers.end(), [](const Entry& a, const Entry& b) {
        return std::make_pair(a.server->in_flight(), a.last_used) < std::make_pair(b.server->in_flight(), b.last_used);
    });
    if (best->server->in_flight() > 0 && !m_stop_starting &&
        group.servers.size() + static_cast<std::size_t>(group.starting) < max_servers(settings)) {
        ++group.starting;
        ++m_starts;
        start_in_background(key, library, settings);
    }
    best->last_used = Clock::now();
    return best->server;
}

void ForkPool::start_in_background(const Key& key, const os::FileIdentity& library, const model::SandboxSettings& settings)
{
    m_background.post([this, key, library, settings] {
        std::shared_ptr<ForkServer> server;
        bool wanted;
        {
            std::lock_guard lock(m_mutex);
            wanted = !m_stop_starting;
        }
        if (wanted) {
            try {
                auto result = ForkServer::start(m_spawner, m_worker, key.plugin, settings);
                if (auto* started_server = std::get_if<std::unique_ptr<ForkServer>>(&result)) server = std::move(*started_server);
            } catch (const std::exception& e) {
                spdlog::warn("cannot start another fork server for {}: {}", key.plugin, e.what());
            }
        }
        std::lock_guard lock(m_mutex);
        started(key, std::move(server), library, settings);
    });
}

void ForkPool::retire_idle(Clock::time_point now)
{
    std::vector<std::shared_ptr<ForkServer>> retired;  // ended outside the lock
    std::lock_guard lock(m_mutex);
    for (auto& [key, group] : m_groups) {
        for (auto it = group.servers.begin(); it != group.servers.end();) {
            const bool idle = now - it->last_used >= it->idle_timeout && it->server.use_count() == 1;
            if (idle || it->server->dead()) {
                retired.push_back(std::move(it->server));
                it = group.servers.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto it = m_retiring.begin(); it != m_retiring.end();) {
        if (it->server.use_count() == 1 || it->server->dead()) {
            retired.push_back(std::move(it->server));
            it = m_retiring.erase(it);
        } else {
            ++it;
        }
    }
}

std::vector<model::WorkerInfo> ForkPool::workers() const
{
    std::vector<model::WorkerInfo> out;
    auto add = [&out](const ForkServer& server, std::string plugin) {
        model::WorkerInfo w;
        w.pid = server.pid();
        w.mode = model::Mode::fork;
        w.role = model::WorkerInfo::Role::fork_server;
        w.plugin = std::move(plugin);
        if (auto memory = os::read_memory(static_cast<pid_t>(w.pid))) w.rss_kb = memory->rss_kb;
        out.push_back(std::move(w));
    };
    std::lock_guard lock(m_mutex);
    for (const auto& [key, group] : m_groups) {
        for (const auto& entry : group.servers) add(*entry.server, std::filesystem::path(key.plugin).filename().string());
    }
    for (const auto& retiring : m_retiring) add(*retiring.server, retiring.plugin);
    return out;
}

void ForkPool::stop_starting()
{
    std::lock_guard lock(m_mutex);
    m_stop_starting = true;
}

void ForkPool::shutdown()
{
    std::map<Key, Group> groups;
    std::vector<Retiring> retiring;
    {
        std::unique_lock lock(m_mutex);
        m_stop_starting = true;
        // A server still starting would outlive the shutdown.
        m_started.wait(lock, [this] { return m_starts == 0; });
        groups.swap(m_groups);
        retiring.swap(m_retiring);
    }
    retiring.clear();
    groups.clear();  // each server's destructor asks it to exit, then kills and reaps it
}

} // namespace sandhost::sandbox
