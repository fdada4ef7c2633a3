// What a host tells the store about itself, so that every other process on the store (the CLI,
// another host, the HTTP API) can see it: who it is, whether it is alive, what it serves, its
// plugin catalog, what it is running and with which workers.
#pragma once

#include "model/job.h"
#include "model/plugin_catalog.h"
#include "model/sandbox_settings.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandhost::model {

// A worker process the host supervises right now.
struct WorkerInfo {
    enum class Role { job, fork_server, idle };
    std::int64_t pid = 0;
    Mode mode = Mode::spawn;
    Role role = Role::job;
    std::string plugin;          // the plugin's file name
    std::uint64_t rss_kb = 0;    // resident size when sampled

    bool operator==(const WorkerInfo&) const = default;
};

inline constexpr EnumName<WorkerInfo::Role> k_worker_role_names[] = {
    {"job", WorkerInfo::Role::job}, {"fork_server", WorkerInfo::Role::fork_server}, {"idle", WorkerInfo::Role::idle}};

// An attempt the host is running.
struct RunningAttempt {
    JobId job = 0;
    std::uint32_t attempt = 0;   // the attempt's number within its job
    std::string queue;
    std::string task;
    std::int64_t pid = 0;        // 0 while the worker starts
    TimePoint started_at{};

    bool operator==(const RunningAttempt&) const = default;
};

// A plugin the host stopped loading for a while (the broken-plugin rule).
struct BrokenPlugin {
    std::string path;
    std::string error;
    std::uint32_t failures = 0;
    TimePoint until{};

    bool operator==(const BrokenPlugin&) const = default;
};

// What a heartbeat carries.
struct HostStatus {
    std::vector<RunningAttempt> running;
    std::vector<WorkerInfo> workers;
    std::vector<BrokenPlugin> broken_plugins;

    bool operator==(const HostStatus&) const = default;
};

// A queue as one host serves it: its name, the tasks this host lets it run, and what an enqueue
// without the configuration needs to know (the ttl).
struct ServedQueue {
    std::string name;
    std::vector<std::string> tasks;  // "plugin.task" or "plugin.*"
    std::optional<Duration> ttl{};

    bool operator==(const ServedQueue&) const = default;
};

// One host as the store knows it. A host that stopped keeps its record (stopped_at set), so
// that its catalog still serves enqueue checks until it, or another host, publishes again.
struct HostRecord {
    std::string name;                   // host.name
    std::string holder;                 // "NAME/MACHINE:PID:RANDOM" of the running instance
    std::string version;                // sandhost's version
    TimePoint started_at{};
    TimePoint heartbeat_at{};
    std::optional<TimePoint> stopped_at;
    std::vector<ServedQueue> queues;
    PluginCatalog catalog;
    TimePoint catalog_at{};
    HostStatus status;

    // Not stopped, and its last heartbeat is less than `stale_after` old.
    bool alive(TimePoint now, Duration stale_after) const
    {
        return !stopped_at && now - heartbeat_at < stale_after;
    }
};

// The whole record as JSON, as `sandhost hosts --json` and the HTTP API show it: name, holder,
// version, started_at, heartbeat_at, stopped_at (RFC 3339 UTC), alive (as of `now`, with
// `stale_after`), queues, catalog, and the status's running, workers and broken_plugins.
std::string to_json(const HostRecord& record, TimePoint now, Duration stale_after);

// JSON codecs for what the stores keep as text (and the API and `sandhost hosts --json`
// print). The readers return nullopt for text that is not such a value.
std::string to_json(const HostStatus& status);
std::optional<HostStatus> host_status_from_json(const std::string& json);
std::string to_json(const std::vector<ServedQueue>& queues);
std::optional<std::vector<ServedQueue>> served_queues_from_json(const std::string& json);

// A lease holder ("NAME/MACHINE:PID:RANDOM") as a person reads it: "NAME (pid PID)" when the
// host is named after its machine, else "NAME (pid PID on MACHINE)"; any other text as it is.
std::string describe_holder(std::string_view holder);

} // namespace sandhost::model
