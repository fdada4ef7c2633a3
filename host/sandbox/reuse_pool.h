// The reuse mode's long-lived workers: idle workers per plugin and limits, each serving one job
// at a time, recycled after max_jobs_per_worker jobs or above max_rss, never given another job
// after anything but a success, ended after idle_timeout without work. Each worker has a private
// folder of its own (see attempt_folders.h) that each of its jobs starts in, emptied between
// jobs (one job at a time, and nothing a job started outlives it) and removed with the worker:
// a folder made and removed per job would cost a reused worker's job several times over. The
// folder is watched for changes (os::FolderWatch): one that its job left as it was is not
// listed. An idle worker goes back to the thread that used it last: a thread and its worker
// that keep to each other keep to one CPU too, and their wakeups stay cheap. A worker serves
// the library file it loaded only: once another file is at the plugin's path (a new version
// renamed over the old one), the next attempt starts a new worker, and the idle ones that hold
// the old library are ended on the next tick.
#pragma once

#include "model/host_record.h"
#include "model/outcome.h"
#include "process/spawner.h"
#include "os/file_security.h"
#include "os/folder_watch.h"
#include "sandbox/attempt.h"
#include "sandbox/attempt_folders.h"
#include "sandbox/worker_session.h"

#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace sandhost::sandbox {

class ReusePool {
public:
    // `spawner`, `folders` and `cgroups` (null: no groups) must outlive the pool. A worker
    // stays in its group for its whole life.
    ReusePool(process::Spawner& spawner, WorkerConfig worker, AttemptFolders& folders, CgroupPool* cgroups = nullptr);
    ~ReusePool();  // shutdown()

    // Runs one attempt on an idle worker that loaded `library` (the file at the plugin's path
    // as the attempt found it), or a new one. Thread-safe. Throws HostError when the host is
    // short of descriptors or processes.
    model::Outcome run(const AttemptSpec& spec, const os::FileIdentity& library, AttemptObserver* observer, CancelToken* cancel);

    // Ends the workers idle for longer than their idle_timeout.
    void retire_idle(std::chrono::steady_clock::time_point now);

    // The idle workers.
    std::vector<model::WorkerInfo> workers() const;

    // Ends every idle worker. Idempotent; workers running a job end with it.
    void shutdown();

private:
    using Clock = std::chrono::steady_clock;
    // What a worker was started for; an attempt looks its workers up by a view of its own
    // settings, without copying them (a reused worker's job costs a few microseconds).
    struct KeyView {
        std::string_view plugin;
        const model::Limits& limits;
        const model::Privileges& privileges;
        model::CgroupUse cgroup;
    };
    struct Key {
        std::string plugin;
        model::Limits limits;
        model::Privileges privileges;  // a worker's privileges are fixed at its start
        model::CgroupUse cgroup = model::CgroupUse::automatic;  // and so is its group
        KeyView view() const { return {plugin, limits, privileges, cgroup}; }
    };
    struct KeyLess {
        using is_transparent = void;
        static bool less(const KeyView& a, const KeyView& b);
        bool operator()(const Key& a, const Key& b) const { return less(a.view(), b.view()); }
        bool operator()(const Key& a, const KeyView& b) const { return less(a.view(), b); }
        bool operator()(const KeyView& a, const Key& b) const { return less(a, b.view()); }
    };
    struct Idle {
        std::unique_ptr<WorkerSession> session;
        std::filesystem::path folder;  // its jobs' private folder, empty
        std::optional<int> watch;      // the folder's watch in m_watch, when it has one
        Clock::time_point since;
        model::Duration idle_timeout;
        std::thread::id last_thread;  // who ran its last job
        os::FileIdentity library;     // the file at the plugin's path when it started
    };

    // Ends an idle worker, then removes its folder.
    void end(Idle& idle, model::Duration grace);
    // Whether the worker's folder is as its next job must find it: unchanged since it was
    // last seen so (one read of m_watch), or emptied now.
    bool left_empty(const Idle& worker);
    // Removes the worker's folder, and its watch.
    void remove_folder(Idle& worker);

    process::Spawner& m_spawner;
    WorkerConfig m_worker;
    AttemptFolders& m_folders;
    os::FolderWatch m_watch;  // the workers' folders
    CgroupPool* m_cgroups;
    mutable std::mutex m_mutex;
    std::map<Key, std::vector<Idle>, KeyLess> m_idle;
    // By plugin path: the file last said to have been written over in place.
    std::map<std::string, os::FileIdentity> m_said_written_in_place;
};

} // namespace sandhost::sandbox
