// The fork mode's servers: per plugin, the first started by the first attempt that needs it
// (the others wait for it), more started in the background while every one is busy forking
// (up to sandbox.fork_servers, by default one per CPU), each replaced when it dies or stops
// answering (the job that found it so is forked again from a new one), each ended after
// idle_timeout without work. Servers serve the library file they loaded only: once another
// file is at the plugin's path (a new version renamed over the old one), the next attempt
// starts a new server, and the old ones are ended once the attempts forking from them are
// done.
#pragma once

#include "model/host_record.h"
#include "model/outcome.h"
#include "os/file_security.h"
#include "process/spawner.h"
#include "sandbox/attempt.h"
#include "sandbox/fork_server.h"
#include "sandbox/housekeeper.h"

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <variant>
#include <vector>

namespace sandhost::sandbox {

class ForkPool {
public:
    // `spawner`, `background` and `cgroups` (null: no groups) must outlive the pool. Each
    // job's child runs in a group of its own; the servers stay out of them.
    ForkPool(process::Spawner& spawner, WorkerConfig worker, Housekeeper& background, CgroupPool* cgroups = nullptr);
    ~ForkPool();  // shutdown()

    // Runs one attempt on a child of one of the plugin's servers that loaded `library` (the
    // file at the plugin's path as the attempt found it). Thread-safe. Throws HostError when
    // the host is short of descriptors or processes.
    model::Outcome run(const AttemptSpec& spec, const os::FileIdentity& library, AttemptObserver* observer, CancelToken* cancel);

    // Ends the servers idle for longer than their idle_timeout, the dead ones, and those of a
    // replaced library that no attempt uses any more.
    void retire_idle(std::chrono::steady_clock::time_point now);

    // The live servers.
    std::vector<model::WorkerInfo> workers() const;

    // From now on no server starts in the background (posted starts are dropped).
    void stop_starting();
    // Waits for the servers being started, then ends every server. Attempts still running on
    // their children finish on their own. Idempotent.
    void shutdown();

private:
    using Clock = std::chrono::steady_clock;
    struct Key {
        std::string executable;
        std::string plugin;
        // A server's privileges are fixed at its start and inherited by its children.
        model::Privileges privileges;
        bool operator<(const Key& other) const
        {
            return std::tie(executable, plugin, privileges) < std::tie(other.executable, other.plugin, other.privileges);
        }
    };
    struct Entry {
        std::shared_ptr<ForkServer> server;
        Clock::time_point last_used;
        model::Duration idle_timeout;
    };
    // A plugin's servers: one forks at a time, so concurrent attempts get more of them.
    struct Group {
        std::vector<Entry> servers;
        int starting = 0;         // servers being started, in the background or by an attempt
        os::FileIdentity library;  // the file its servers loaded (as the attempts that started them found it)
    };
    // A server of a replaced library, ended once no attempt holds it.
    struct Retiring {
        std::shared_ptr<ForkServer> server;
        std::string plugin;
    };

    std::shared_ptr<ForkServer> pick(const Key& key, const os::FileIdentity& library, const model::SandboxSettings& settings);
    void start_in_background(const Key& key, const os::FileIdentity& library, const model::SandboxSettings& settings);
    // Starts the plugin's first server on the calling thread: the server, or why it could not.
    std::variant<std::shared_ptr<ForkServer>, model::Outcome> start_first(const Key& key, const os::FileIdentity& library,
                                                                          const model::SandboxSettings& settings);
    // Counts a start as done and adds its server, if any, when its library is still the
    // group's. Caller holds m_mutex.
    void started(const Key& key, std::shared_ptr<ForkServer> server, const os::FileIdentity& library, const model::SandboxSettings& settings);
    // Makes `library` the group's: servers of another file stop being picked. Caller holds m_mutex.
    void serve_library(const Key& key, Group& group, const os::FileIdentity& library);

    process::Spawner& m_spawner;
    WorkerConfig m_worker;
    Housekeeper& m_background;
    CgroupPool* m_cgroups;
    mutable std::mutex m_mutex;
    std::condition_variable m_started;
    std::map<Key, Group> m_groups;
    std::vector<Retiring> m_retiring;
    int m_starts = 0;  // servers being started, all plugins
    bool m_stop_starting = false;
};

} // namespace sandhost::sandbox
