#include "sandbox/reuse_pool.h"

#include "os/proc.h"
#include "sandbox/host_error.h"

#include <algorithm>
#include <tuple>

namespace sandhost::sandbox {

bool ReusePool::Key::operator<(const Key& other) const
{
    auto tie = [](const Key& k) {
        const auto& l = k.limits;
        return std::make_tuple(k.plugin, l.memory_bytes, l.cpu ? std::optional(l.cpu->count()) : std::nullopt, l.open_files,
                               l.file_size_bytes, l.processes, l.output_bytes, l.output_action);
    };
    if (tie(*this) != tie(other)) return tie(*this) < tie(other);
    if (cgroup != other.cgroup) return cgroup < other.cgroup;
    return privileges < other.privileges;
}

ReusePool::ReusePool(process::Spawner& spawner, WorkerConfig worker, CgroupPool* cgroups)
    : m_spawner(spawner), m_worker(std::move(worker)), m_cgroups(cgroups)
{
}

ReusePool::~ReusePool() { shutdown(); }

model::Outcome ReusePool::run(const AttemptSpec& spec, AttemptObserver* observer, CancelToken* cancel)
{
    const Key key{spec.plugin_path.string(), spec.settings.limits, spec.settings.privileges, spec.settings.cgroup};
    std::unique_ptr<WorkerSession> session;
    {
        std::lock_guard lock(m_mutex);
        auto& idle = m_idle[key];
        if (!idle.empty()) {
            auto it = std::find_if(idle.begin(), idle.end(), [](const Idle& w) { return w.last_thread == std::this_thread::get_id(); });
            if (it == idle.end()) it = std::prev(idle.end());
            session = std::move(it->session);
            idle.erase(it);
        }
    }
    if (!session) {
        auto failed = [](const std::string& error) {
            model::Outcome o;
            o.kind = model::OutcomeKind::spawn_failed;
            o.error = error;
            o.isolation = model::to_string(model::Mode::reuse);
            o.started_at = o.ended_at = std::chrono::system_clock::now();
            return o;
        };
        // Leases are a host's: a reused worker's jobs all have one or none.
        auto group = CgroupPool::lease_for(m_cgroups, spec.settings, spec.lease.count() > 0);
        if (!group) {
            throw_if_shortage(group.error());
            return failed("cannot prepare the worker's control group: " + group.error().message());
        }
        auto started = WorkerSession::start(m_spawner, m_worker, WorkerRole::reuse, spec.settings.privileges);
        if (!started) {
            throw_if_shortage(started.error());
            return failed("cannot start the worker: " + started.error().message());
        }
        session = std::make_unique<WorkerSession>(std::move(started.value()));
        if (*group) {
            if (auto added = (*group)->add(session->pid()); !added) {
                throw_if_shortage(added.error());
                return failed("cannot put the worker in its control group: " + added.error().message());
            }
            session->attach_group(std::move(group.value()));
        }
    }
    model::Outcome outcome = session->run(spec, observer, cancel);
    const auto& reuse = spec.settings.reuse;
    const bool worn_out = session->jobs_run() >= reuse.max_jobs_per_worker || session->peak_rss_kb() * 1024 > reuse.max_rss_bytes;
    if (!session->reusable()) return outcome;  // ended with its job (or is killed by its destructor)
    if (worn_out) {
        session->shutdown(spec.settings.grace);
        return outcome;
    }
    std::lock_guard lock(m_mutex);
    m_idle[key].push_back(Idle{std::move(session), Clock::now(), reuse.idle_timeout, std::this_thread::get_id()});
    return outcome;
}

void ReusePool::retire_idle(Clock::time_point now)
{
    std::vector<std::unique_ptr<WorkerSession>> retired;
    {
        std::lock_guard lock(m_mutex);
        for (auto& [key, workers] : m_idle) {
            for (auto it = workers.begin(); it != workers.end();) {
                if (now - it->since >= it->idle_timeout) {
                    retired.push_back(std::move(it->session));
                    it = workers.erase(it);
                } else {
                    ++it;
                }
            }
        }
    }
    for (auto& session : retired) session->shutdown(std::chrono::seconds(1));
}

std::vector<model::WorkerInfo> ReusePool::workers() const
{
    std::vector<model::WorkerInfo> out;
    std::lock_guard lock(m_mutex);
    for (const auto& [key, workers] : m_idle) {
        for (const auto& idle : workers) {
            model::WorkerInfo w;
            w.pid = idle.session->pid();
            w.mode = model::Mode::reuse;
            w.role = model::WorkerInfo::Role::idle;
            w.plugin = std::filesystem::path(key.plugin).filename().string();
            if (auto memory = os::read_memory(idle.session->pid())) w.rss_kb = memory->rss_kb;
            out.push_back(std::move(w));
        }
    }
    return out;
}

void ReusePool::shutdown()
{
    std::map<Key, std::vector<Idle>> idle;
    {
        std::lock_guard lock(m_mutex);
        idle.swap(m_idle);
    }
    for (auto& [key, workers] : idle) {
        for (auto& w : workers) w.session->shutdown(std::chrono::seconds(1));
    }
}

} // namespace sandhost::sandbox
