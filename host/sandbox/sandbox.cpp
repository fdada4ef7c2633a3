#include "sandbox/sandbox.h"

#include "os/file_security.h"
#include "os/proc.h"
#include "sandbox/host_error.h"
#include "sandbox/worker_locator.h"
#include "sandbox/worker_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <thread>

namespace sandhost::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

// The pool of groups, where this machine has cgroups this process can use; otherwise none,
// said once per process.
std::unique_ptr<CgroupPool> open_cgroups()
{
    const CgroupSupport& support = cgroup_support();
    static std::once_flag said;
    if (!support.usable) {
        // A host says so at its start, for the queues that want them.
        std::call_once(said, [&] { spdlog::debug("cgroups: {}; workers get per-process limits only", support.describe()); });
        return nullptr;
    }
    auto pool = CgroupPool::open(support);
    if (!pool) {
        std::call_once(said, [&] { spdlog::warn("cgroups cannot be used: {}; workers get per-process limits only", pool.error().message()); });
        return nullptr;
    }
    return std::move(pool.value());
}

model::Outcome spawn_failed(const os::SysError& error, model::Mode mode, const char* what = "cannot start the worker: ")
{
    model::Outcome o;
    o.kind = model::OutcomeKind::spawn_failed;
    o.error = what + error.message();
    o.isolation = model::to_string(mode);
    o.started_at = o.ended_at = std::chrono::system_clock::now();
    return o;
}

// Tells the sandbox which worker runs an attempt's job, for workers().
class JobWorkerObserver final : public AttemptObserver {
public:
    JobWorkerObserver(AttemptObserver* inner, std::function<void(pid_t)> started) : m_inner(inner), m_started(std::move(started)) {}
    void on_started(pid_t pid) override
    {
        m_started(pid);
        if (m_inner) m_inner->on_started(pid);
    }
    void on_ready() override
    {
        if (m_inner) m_inner->on_ready();
    }
    void on_progress(const model::ProgressReport& progress) override
    {
        if (m_inner) m_inner->on_progress(progress);
    }
    void on_log(int level, std::string_view message) override
    {
        if (m_inner) m_inner->on_log(level, message);
    }
    void on_heartbeat() override
    {
        if (m_inner) m_inner->on_heartbeat();
    }

private:
    AttemptObserver* m_inner;
    std::function<void(pid_t)> m_started;
};

} // namespace

WorkerConfig WorkerConfig::defaults()
{
    WorkerConfig config;
    config.launcher = process::Spawner::default_launcher();
    // Not found: the bare name, so that the first launch fails with a clear spawn_failed.
    config.executable = locate_worker().value_or("sandhost-worker");
    return config;
}

namespace {

WorkerConfig with_attempts_root(WorkerConfig worker, const std::filesystem::path& root)
{
    worker.attempts_root = root;
    return worker;
}

} // namespace

Sandbox::Sandbox(WorkerConfig worker)
    : m_worker(with_attempts_root(std::move(worker), m_folders.root())),
      m_cgroups(open_cgroups()),
      m_reuse(m_spawner, m_worker, m_folders, m_cgroups.get()),
      m_fork(m_spawner, m_worker, m_housekeeper, m_cgroups.get())
{
    m_housekeeper.start(
        [this](Housekeeper::Clock::time_point now) {
            m_reuse.retire_idle(now);
            m_fork.retire_idle(now);
            m_folders.remove_pending();
        },
        std::chrono::seconds(1));
}

Sandbox::~Sandbox() { shutdown(); }

void Sandbox::shutdown()
{
    {
        std::lock_guard lock(m_mutex);
        if (m_shut_down) return;
        m_shut_down = true;
    }
    m_fork.stop_starting();
    m_housekeeper.stop();
    m_fork.shutdown();
    m_reuse.shutdown();
    m_inline.shutdown();
    m_folders.remove_pending();
    m_health.clear();
    // What is left (nothing, when every attempt ended) the spawner kills and reaps when the
    // sandbox is destroyed; strays can be reaped now.
    m_spawner.reap_strays();
}

model::Outcome Sandbox::run_attempt(const AttemptSpec& spec, AttemptObserver* observer, CancelToken* cancel)
{
    // The library as it is now: which file it is tells a replaced one from the one the
    // long-lived workers loaded.
    const auto library = os::check_library(spec.plugin_path);
    if (const auto& why = library.unsafe) {
        if (!spec.allow_insecure_plugin) {
            model::Outcome refused;
            refused.kind = model::OutcomeKind::load_failed;
            refused.error = "plugin refused: " + *why + " (make it writable by its owner only, or set host.allow_insecure_plugins: true)";
            refused.isolation = spec.settings.enabled ? model::to_string(spec.settings.mode) : "none";
            refused.started_at = refused.ended_at = std::chrono::system_clock::now();
            return refused;
        }
        std::lock_guard lock(m_mutex);
        if (m_insecure_warned.insert(spec.plugin_path).second) {
            spdlog::warn("loading {} though {} (host.allow_insecure_plugins: true)", spec.plugin_path.string(), *why);
        }
    }
    if (!spec.settings.enabled) return m_inline.run(spec, library.file, observer, cancel);
    model::Outcome outcome;
    try {
        outcome = run_isolated(spec, library.file, observer, cancel);
    } catch (const HostError& error) {
        // Short of descriptors: the free groups' kept files are the sandbox's own to give up,
        // so that the attempts the host still runs can start.
        const int code = error.error().code.value();
        if ((code == EMFILE || code == ENFILE) && m_cgroups) {
            if (const auto closed = m_cgroups->close_free_files()) {
                spdlog::info("closed {} control-group files kept open by free groups: the host is short of descriptors", closed);
            }
        }
        throw;
    }
    if (spec.settings.fallback == model::Fallback::inline_run &&
        (outcome.kind == model::OutcomeKind::spawn_failed ||
         (outcome.kind == model::OutcomeKind::timed_out && spec.settings.fallback_on_timeout))) {
        spdlog::warn("running {} in the host as a fallback after {}: {}", spec.task, model::to_string(outcome.kind), outcome.error);
        model::Outcome fallback = m_inline.run(spec, library.file, observer, cancel);
        fallback.fallback = "inline";
        return fallback;
    }
    return outcome;
}

model::Outcome Sandbox::run_isolated(const AttemptSpec& spec, const os::FileIdentity& library, AttemptObserver* observer, CancelToken* cancel)
{
    const char* isolation = model::to_string(spec.settings.mode);
    if (auto refused = m_health.refuse(spec.plugin_path, library, isolation)) return *refused;
    const std::string plugin = spec.plugin_path.filename().string();
    pid_t worker = 0;
    JobWorkerObserver tracking(observer, [&](pid_t pid) {
        std::lock_guard lock(m_mutex);
        worker = pid;
        m_job_workers[pid] = JobWorker{spec.settings.mode, plugin};
    });
    struct Forget {
        Sandbox& sandbox;
        pid_t& pid;
        ~Forget()
        {
            std::lock_guard lock(sandbox.m_mutex);
            if (pid > 0) sandbox.m_job_workers.erase(pid);
        }
    } forget{*this, worker};
    model::Outcome outcome;
    if (spec.settings.mode == model::Mode::reuse) {
        outcome = m_reuse.run(spec, library, &tracking, cancel);  // a folder per worker, emptied between its jobs
    } else {
        auto owner = folder_owner(spec.settings.privileges);
        if (!owner) return spawn_failed(owner.error(), spec.settings.mode);
        auto folder = m_folders.create(owner.value());
        if (!folder) {
            throw_if_shortage(folder.error());
            return spawn_failed(folder.error(), spec.settings.mode);
        }
        // Taken back on every way out, once the attempt's worker is gone (and, when it ran on
        // its own, every process it started). Left as it was handed out, it is kept for a later
        // attempt there and then; any other is removed off the attempt's path, by the
        // housekeeper: removing a folder can take milliseconds on a busy disk, more than a
        // forked job. A sandbox shutting down removes what is still queued.
        struct RemoveFolder {
            Sandbox& sandbox;
            std::filesystem::path folder;
            std::optional<FolderOwner> owner;
            ~RemoveFolder()
            {
                if (sandbox.m_folders.keep_if_unchanged(folder, owner)) return;
                if (sandbox.m_folders.remove_later(folder, owner)) {
                    sandbox.m_housekeeper.post([&folders = sandbox.m_folders] { folders.remove_pending(); });
                }
            }
        } remove_folder{*this, folder.value(), owner.value()};
        AttemptSpec in_folder = spec;
        in_folder.folder = folder.value();
        outcome = spec.settings.mode == model::Mode::spawn ? run_spawned(in_folder, &tracking, cancel)
                                                            : m_fork.run(in_folder, library, &tracking, cancel);
    }
    m_health.record(spec.plugin_path, library, outcome);
    return outcome;
}

model::Outcome Sandbox::run_spawned(const AttemptSpec& spec, AttemptObserver* observer, CancelToken* cancel)
{
    const JobIdentity job{spec.job_id, spec.attempt, spec.queue};
    auto group = CgroupPool::lease_for(m_cgroups.get(), spec.settings, spec.lease.count() > 0);
    if (!group) {
        throw_if_shortage(group.error());
        return spawn_failed(group.error(), model::Mode::spawn, "cannot prepare the attempt's control group: ");
    }
    auto session = WorkerSession::start(m_spawner, m_worker, WorkerRole::spawn, spec.settings.privileges, &job);
    if (!session) {
        throw_if_shortage(session.error());
        return spawn_failed(session.error(), model::Mode::spawn);
    }
    // The worker enters its group itself before it reads its job: it is there before the
    // plugin loads or the task runs.
    if (*group) {
        if (auto handed = session->hand_group(std::move(group.value())); !handed) {
            throw_if_shortage(handed.error());
            return spawn_failed(handed.error(), model::Mode::spawn, "cannot hand the worker its control group: ");
        }
    }
    return session->run(spec, observer, cancel);
}

std::vector<model::WorkerInfo> Sandbox::workers() const
{
    std::vector<model::WorkerInfo> out;
    {
        std::lock_guard lock(m_mutex);
        for (const auto& [pid, job] : m_job_workers) {
            model::WorkerInfo w;
            w.pid = pid;
            w.mode = job.mode;
            w.role = model::WorkerInfo::Role::job;
            w.plugin = job.plugin;
            if (auto memory = os::read_memory(pid)) w.rss_kb = memory->rss_kb;
            out.push_back(std::move(w));
        }
    }
    for (auto& w : m_fork.workers()) out.push_back(std::move(w));
    for (auto& w : m_reuse.workers()) out.push_back(std::move(w));
    return out;
}

model::PluginInfo Sandbox::describe_plugin(const std::filesystem::path& library)
{
    model::PluginInfo info;
    info.path = library;
    info.name = library.stem().string();
    if (info.name.rfind("lib", 0) == 0) info.name = info.name.substr(3);
    // Describing runs no task and no init hook, but loads the plugin: with the default grant.
    auto session = WorkerSession::start(m_spawner, m_worker, WorkerRole::spawn, model::Privileges{});
    if (!session) {
        throw_if_shortage(session.error());
        info.error = spawn_failed(session.error(), model::Mode::spawn).error;
        return info;
    }
    model::SandboxSettings settings;
    settings.limits = model::Limits{};
    auto described = session->describe(library, settings);
    if (auto* outcome = std::get_if<model::Outcome>(&described)) {
        info.error = outcome->error.empty() ? std::string(model::to_string(outcome->kind)) : outcome->error;
        return info;
    }
    const auto& description = std::get<protocol::Description>(described);
    info.name = description.name;
    info.version = description.version;
    for (const auto& task : description.tasks) info.tasks.push_back(model::TaskInfo{task.name, task.description});
    return info;
}

model::PluginCatalog Sandbox::scan_plugins(const std::vector<std::filesystem::path>& dirs) { return scan_plugins(dirs, plugin_files(dirs)); }

model::PluginCatalog Sandbox::scan_plugins(const std::vector<std::filesystem::path>& dirs, const PluginFiles& files)
{
    namespace fs = std::filesystem;
    model::PluginCatalog catalog;
    catalog.dirs = dirs;
    std::vector<fs::path> libraries;
    for (const auto& file : files) libraries.push_back(file.first);
    // One per CPU at a time: each is a worker start and a library load.
    const std::size_t at_once = std::max(2u, std::thread::hardware_concurrency());
    catalog.plugins.resize(libraries.size());
    for (std::size_t first = 0; first < libraries.size(); first += at_once) {
        std::vector<std::future<model::PluginInfo>> batch;
        for (std::size_t i = first; i < std::min(libraries.size(), first + at_once); ++i) {
            batch.push_back(std::async(std::launch::async, [this, library = libraries[i]] { return describe_plugin(library); }));
        }
        for (std::size_t k = 0; k < batch.size(); ++k) catalog.plugins[first + k] = batch[k].get();
    }
    std::stable_sort(catalog.plugins.begin(), catalog.plugins.end(),
                     [](const model::PluginInfo& a, const model::PluginInfo& b) { return a.name < b.name; });
    return catalog;
}

PluginFiles plugin_files(const std::vector<std::filesystem::path>& dirs)
{
    namespace fs = std::filesystem;
    PluginFiles files;
    for (const auto& dir : dirs) {
        std::error_code ec;
        std::vector<fs::path> found;
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            if (entry.path().extension() == ".so" && entry.is_regular_file(ec)) found.push_back(entry.path());
        }
        std::sort(found.begin(), found.end());
        for (auto& library : found) {
            auto identity = os::FileIdentity::of(library);
            files.emplace_back(std::move(library), identity);
        }
    }
    return files;
}

std::optional<std::filesystem::path> resolve_plugin(const std::string& name_or_path, const std::vector<std::filesystem::path>& dirs)
{
    namespace fs = std::filesystem;
    if (name_or_path.find('/') != std::string::npos || fs::path(name_or_path).extension() == ".so") {
        return fs::absolute(name_or_path);
    }
    for (const auto& dir : dirs) {
        for (const std::string& file : {name_or_path + ".so", "lib" + name_or_path + ".so"}) {
            std::error_code ec;
            const fs::path candidate = dir / file;
            if (fs::is_regular_file(candidate, ec)) return fs::absolute(candidate);
        }
    }
    return std::nullopt;
}

} // namespace sandhost::sandbox
