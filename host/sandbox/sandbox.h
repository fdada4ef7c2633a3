// The sandbox: what runs attempts of tasks as their settings say (isolation mode, fallback,
// no sandbox) and finds plugins. One object owns everything that lives longer than an attempt:
// the spawner and its launch thread, the fork servers, the idle reuse workers, the plugins
// loaded in the host, the broken-plugin record and the housekeeping thread. Whoever creates
// it (a host, `sandhost exec`, an application embedding a host) shuts it down in order;
// several may live in one process.
#pragma once

#include "model/host_record.h"
#include "model/outcome.h"
#include "model/plugin_catalog.h"
#include "process/spawner.h"
#include "sandbox/attempt.h"
#include "sandbox/attempt_folders.h"
#include "sandbox/cgroups.h"
#include "sandbox/fork_pool.h"
#include "sandbox/housekeeper.h"
#include "sandbox/inline_runner.h"
#include "sandbox/plugin_health.h"
#include "sandbox/reuse_pool.h"

#include <filesystem>
#include <map>
#include <set>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sandhost::sandbox {

class Sandbox {
public:
    // Starts the spawner's launch thread and the housekeeping thread; no worker yet.
    explicit Sandbox(WorkerConfig worker = WorkerConfig::defaults());
    // shutdown()
    ~Sandbox();
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    // Runs one attempt and returns its outcome. Blocks until the attempt has ended and every
    // process it started is reaped. Never throws for anything the task or the worker does;
    // throws HostError when the host itself is short of descriptors, memory or processes (the
    // job is not to blame: put it back). Thread-safe; call it before shutdown() only.
    //   - settings.enabled false runs the task in the host (isolation "none").
    //   - mode spawn launches a fresh worker; fork forks one from the plugin's fork server;
    //     reuse takes an idle long-lived worker.
    //   - fallback inline runs the task in the host when the worker could not be started,
    //     and, with fallback_on_timeout, once more after a timeout ("fallback": "inline").
    //   - a plugin that failed to load three times in a row fails at once (see plugin_health.h).
    //   - a library (or its folder) writable by others than its owner and root is refused as
    //     load_failed unless spec.allow_insecure_plugin.
    //   - an attempt in a worker starts in a private, empty folder (see attempt_folders.h):
    //     its own, removed by the housekeeping thread right after it ended (spawn, fork), or
    //     its reused worker's, emptied between jobs and removed with the worker (reuse);
    //     spec.folder is ignored.
    model::Outcome run_attempt(const AttemptSpec& spec, AttemptObserver* observer = nullptr, CancelToken* cancel = nullptr);

    // Every *.so in dirs, each described by loading it in a worker without running its init
    // hook (a broken one is listed with its error), several at a time. Sorted by name.
    model::PluginCatalog scan_plugins(const std::vector<std::filesystem::path>& dirs);
    // The same for the libraries plugin_files(dirs) listed.
    model::PluginCatalog scan_plugins(const std::vector<std::filesystem::path>& dirs, const std::vector<std::pair<std::filesystem::path, os::FileIdentity>>& files);
    // Describes one library by loading it in a worker (no init hook).
    model::PluginInfo describe_plugin(const std::filesystem::path& library);

    // The workers alive now: running a job, fork servers, idle reuse workers; with their
    // resident size read from /proc.
    std::vector<model::WorkerInfo> workers() const;
    // The plugins the broken-plugin rule refuses now.
    std::vector<model::BrokenPlugin> broken_plugins() const { return m_health.broken(); }

    const WorkerConfig& worker_config() const { return m_worker; }
    // Where the attempts' private folders are made.
    const std::filesystem::path& attempts_root() const { return m_folders.root(); }
    // The attempts' folders: those queued to be taken back, and those kept empty (for tests).
    const AttemptFolders& attempt_folders() const { return m_folders; }
    // The control groups attempts run in; null where the machine has none this process can use.
    const CgroupPool* cgroups() const { return m_cgroups.get(); }

    // Stops starting fork servers, ends every fork server and idle worker, waits for tasks
    // running in the host (see InlineRunner::shutdown), stops the housekeeping thread, and
    // kills and reaps whatever child is left. Attempts must have ended. Idempotent.
    void shutdown();

private:
    // `library`: which file the plugin's path named when the attempt began.
    model::Outcome run_isolated(const AttemptSpec& spec, const os::FileIdentity& library, AttemptObserver* observer, CancelToken* cancel);
    model::Outcome run_spawned(const AttemptSpec& spec, AttemptObserver* observer, CancelToken* cancel);

    AttemptFolders m_folders;  // first: removed when every worker has gone
    WorkerConfig m_worker;
    process::Spawner m_spawner;  // first: every worker below is its child, and must end before it
    std::unique_ptr<CgroupPool> m_cgroups;  // before the pools: their workers' groups go back to it
    PluginHealth m_health;
    InlineRunner m_inline;
    ReusePool m_reuse;
    Housekeeper m_housekeeper;  // started once the pools exist: its tick retires their idle workers
    ForkPool m_fork;
    mutable std::mutex m_mutex;
    struct JobWorker {
        model::Mode mode;
        std::string plugin;
    };
    std::map<pid_t, JobWorker> m_job_workers;  // workers running a job now
    std::set<std::filesystem::path> m_insecure_warned;  // libraries loaded though others may write them
    bool m_shut_down = false;
};

// The libraries scan_plugins describes (every *.so in dirs, each folder's sorted by name), each
// with which file it is now: a catalog is out of date once this list changes.
using PluginFiles = std::vector<std::pair<std::filesystem::path, os::FileIdentity>>;
PluginFiles plugin_files(const std::vector<std::filesystem::path>& dirs);

// The library for a plugin given as a path (contains a '/' or ends in .so) or as a name
// looked up in dirs as NAME.so, then libNAME.so. nullopt when not found.
std::optional<std::filesystem::path> resolve_plugin(const std::string& name_or_path, const std::vector<std::filesystem::path>& dirs);

} // namespace sandhost::sandbox
