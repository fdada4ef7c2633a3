#include "sandbox/reuse_pool.h"

#include "os/proc.h"
#include "sandbox/host_error.h"
#include "sandbox/plugin_health.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace sandhost::sandbox {

bool ReusePool::KeyLess::less(const KeyView& a, const KeyView& b)
{
    auto tie = [](const KeyView& k) {
        const auto& l = k.limits;
        return std::make_tuple(k.plugin, l.memory_bytes, l.cpu ? std::optional(l.cpu->count()) : std::nullopt, l.open_files,
                               l.file_size_bytes, l.processes, l.output_bytes, l.output_action);
    };
    if (tie(a) != tie(b)) return tie(a) < tie(b);
    if (a.cgroup != b.cgroup) return a.cgroup < b.cgroup;
    return a.privileges < b.privileges;
}

ReusePool::ReusePool(process::Spawner& spawner, WorkerConfig worker, AttemptFolders& folders, CgroupPool* cgroups)
    : m_spawner(spawner), m_worker(std::move(worker)), m_folders(folders), m_cgroups(cgroups)
{
}

ReusePool::~ReusePool() { shutdown(); }

namespace {

model::Outcome spawn_failed(std::string error)
{
    model::Outcome o;
    o.kind = model::OutcomeKind::spawn_failed;
    o.error = std::move(error);
    o.isolation = model::to_string(model::Mode::reuse);
    o.started_at = o.ended_at = std::chrono::system_clock::now();
    return o;
}

} // namespace

model::Outcome ReusePool::run(const AttemptSpec& spec, const os::FileIdentity& library, AttemptObserver* observer, CancelToken* cancel)
{
    const KeyView key{spec.plugin_path.native(), spec.settings.limits, spec.settings.privileges, spec.settings.cgroup};
    Idle worker;
    {
        std::lock_guard lock(m_mutex);
        auto found = m_idle.find(key);
        if (found != m_idle.end() && !found->second.empty()) {
            auto& idle = found->second;
            // Those that loaded another file end on the next tick: nothing will ask for them.
            for (auto& w : idle) {
                if (w.library == library) continue;
                // Said once per new file, whatever number of workers held the old one.
                auto& said = m_said_written_in_place[spec.plugin_path.native()];
                if (!(said == library) && warn_if_written_in_place(spec.plugin_path, w.library, library)) said = library;
                w.idle_timeout = model::Duration(0);
            }
            auto usable = [&](const Idle& w) { return w.library == library; };
            auto it = std::find_if(idle.begin(), idle.end(), [&](const Idle& w) { return usable(w) && w.last_thread == std::this_thread::get_id(); });
            if (it == idle.end()) {
                // Else the one idle for the shortest time.
                const auto last = std::find_if(idle.rbegin(), idle.rend(), usable);
                if (last != idle.rend()) it = std::prev(last.base());
            }
            if (it != idle.end()) {
                worker = std::move(*it);
                idle.erase(it);
            }
        }
    }
    if (!worker.session) {
        worker.library = library;
        // Leases are a host's: a reused worker's jobs all have one or none.
        auto group = CgroupPool::lease_for(m_cgroups, spec.settings, spec.lease.count() > 0);
        if (!group) {
            throw_if_shortage(group.error());
            return spawn_failed("cannot prepare the worker's control group: " + group.error().message());
        }
        auto owner = folder_owner(spec.settings.privileges);
        if (!owner) return spawn_failed("cannot start the worker: " + owner.error().message());
        auto folder = m_folders.create(owner.value());
        if (!folder) {
            throw_if_shortage(folder.error());
            return spawn_failed("cannot start the worker: " + folder.error().message());
        }
        worker.folder = folder.value();
        worker.watch = m_watch.watch(worker.folder);  // new and empty
        auto started = WorkerSession::start(m_spawner, m_worker, WorkerRole::reuse, spec.settings.privileges);
        if (!started) {
            remove_folder(worker);
            throw_if_shortage(started.error());
            return spawn_failed("cannot start the worker: " + started.error().message());
        }
        worker.session = std::make_unique<WorkerSession>(std::move(started.value()));
        if (*group) {
            if (auto handed = worker.session->hand_group(std::move(group.value())); !handed) {
                worker.session.reset();
                remove_folder(worker);
                throw_if_shortage(handed.error());
                return spawn_failed("cannot hand the worker its control group: " + handed.error().message());
            }
        }
    }
    // Removed on every way out but back to the idle list (a HostError among them), once the
    // worker is gone.
    struct EndWorker {
        ReusePool& pool;
        Idle& worker;
        ~EndWorker()
        {
            if (!worker.session) return;
            worker.session.reset();
            pool.remove_folder(worker);
        }
    } end_worker{*this, worker};
    model::Outcome outcome = worker.session->run(spec, observer, cancel, &worker.folder);
    const auto& reuse = spec.settings.reuse;
    if (!worker.session->reusable()) return outcome;  // ended with its job (or is killed by its destructor)
    const bool worn_out = worker.session->jobs_run() >= reuse.max_jobs_per_worker || worker.session->peak_rss_kb() * 1024 > reuse.max_rss_bytes;
    if (worn_out || !left_empty(worker)) {
        worker.session->shutdown(spec.settings.grace);
        return outcome;
    }
    std::lock_guard lock(m_mutex);
    worker.since = Clock::now();
    worker.idle_timeout = reuse.idle_timeout;
    worker.last_thread = std::this_thread::get_id();
    auto found = m_idle.find(key);
    if (found == m_idle.end()) {
        found = m_idle.emplace(Key{std::string(key.plugin), key.limits, key.privileges, key.cgroup}, std::vector<Idle>{}).first;
    }
    found->second.push_back(std::move(worker));
    return outcome;
}

void ReusePool::end(Idle& idle, model::Duration grace)
{
    idle.session->shutdown(grace);
    idle.session.reset();
    remove_folder(idle);
}

bool ReusePool::left_empty(const Idle& worker)
{
    if (worker.watch && m_watch.unchanged(*worker.watch)) return true;
    return m_folders.empty(worker.folder).ok();
}

void ReusePool::remove_folder(Idle& worker)
{
    if (worker.watch) m_watch.forget(*std::exchange(worker.watch, std::nullopt));
    m_folders.remove(worker.folder);
}

void ReusePool::retire_idle(Clock::time_point now)
{
    std::vector<Idle> retired;
    {
        std::lock_guard lock(m_mutex);
        for (auto& [key, workers] : m_idle) {
            for (auto it = workers.begin(); it != workers.end();) {
                if (now - it->since >= it->idle_timeout) {
                    retired.push_back(std::move(*it));
                    it = workers.erase(it);
                } else {
                    ++it;
                }
            }
        }
    }
    for (auto& idle : retired) end(idle, std::chrono::seconds(1));
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
    decltype(m_idle) idle;
    {
        std::lock_guard lock(m_mutex);
        idle.swap(m_idle);
    }
    for (auto& [key, workers] : idle) {
        for (auto& w : workers) end(w, std::chrono::seconds(1));
    }
}

} // namespace sandhost::sandbox
