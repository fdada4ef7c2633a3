// The typed, resolved form of a configuration file: every default applied, every relative path
// made absolute, every queue's sandbox merged over the host's. Produced only by the loader
// (load.h), shared read-only (std::shared_ptr<const Settings>) by the parts that obey it.
//
// Defaults where the design leaves a value open (each documented at its field): queue
// concurrency 1, retry 3 attempts with exponential backoff 1s x2 up to 5m with 10% jitter,
// max_lost 3, no rate limit, no global concurrency limit, no ttl, log info/text, max_workers 8,
// store sqlite:sandhost.db next to the file, store prefix "sandhost:", lease 15s, no plugin
// directories.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/cron.h"
#include "model/parse_result.h"
#include "config/store_url.h"
#include "model/retention.h"
#include "model/units.h"
#include "model/sandbox_settings.h"

namespace sandhost::config {

// Where something was written: file as loaded, 1-based line and column.
struct SourceLocation {
    std::filesystem::path file;
    int line = 0;
    int column = 0;

    std::string to_string() const;  // "FILE:LINE:COLUMN"

    bool operator==(const SourceLocation&) const = default;
};

enum class LogLevel { trace, debug, info, warn, error };
enum class LogFormat { text, json };
enum class BackoffType { fixed, exponential };
// SQLite: normal, a commit survives a crash of any process; full, a power loss too (a disk
// flush per commit).
enum class StoreSync { normal, full };

struct LogSettings {
    LogLevel level = LogLevel::info;
    LogFormat format = LogFormat::text;

    bool operator==(const LogSettings&) const = default;
};

struct HostSettings {
    std::string name;                                // default: the machine's hostname
    StoreUrl store;                                  // default: sqlite:sandhost.db next to the file
    std::string store_prefix = "sandhost:";          // Redis: what every key starts with; one per deployment
    std::uint64_t store_page_size = 1024;            // SQLite: the page size of a store file made now (a file keeps its own)
    StoreSync store_sync = StoreSync::normal;        // SQLite: whether a commit waits for the disk
    model::Duration lease = std::chrono::seconds(15);  // how long a job stays with a host that stopped renewing it
    std::vector<std::filesystem::path> plugin_dirs;  // absolute, in the order written; default none
    std::uint32_t max_workers = 8;                   // worker processes at once, all queues
    std::uint64_t max_payload = 16 << 20;            // bytes of a job's payload that enqueue accepts
    model::Retention retention;                      // every queue's default; default: keep every finished job
    bool allow_insecure_plugins = false;             // load plugins (or folders) writable by others, with a warning
    LogSettings log;

    bool operator==(const HostSettings&) const = default;
};

// `plugin.task`: one task of one plugin. Both parts are [A-Za-z0-9_-]+.
struct TaskRef {
    std::string plugin;
    std::string task;

    // Refuses anything but two names joined by one dot (so also a pattern).
    static model::ParseResult<TaskRef> parse(std::string_view text);
    std::string to_string() const;

    bool operator==(const TaskRef&) const = default;
};

// `plugin.task` or `plugin.*`: what a queue may run.
struct TaskPattern {
    std::string plugin;
    std::string task;  // "*" matches every task of the plugin

    static model::ParseResult<TaskPattern> parse(std::string_view text);
    std::string to_string() const;
    bool is_wildcard() const { return task == "*"; }
    bool matches(const TaskRef& ref) const;

    bool operator==(const TaskPattern&) const = default;
};

struct RateLimit {
    std::uint64_t jobs = 1;  // at most this many job starts ...
    model::Duration per = std::chrono::seconds(1);      // ... in any window this long

    bool operator==(const RateLimit&) const = default;
};

// Delay before attempt n+1: delay * factor^(n-1) (exponential) or delay (fixed), capped at
// max, then moved by up to +-jitter of itself at random.
struct Backoff {
    BackoffType type = BackoffType::exponential;
    model::Duration delay = std::chrono::seconds(1);
    double factor = 2.0;     // >= 1; ignored by fixed
    model::Duration max = std::chrono::minutes(5);     // >= delay
    double jitter = 0.1;     // 0..1

    bool operator==(const Backoff&) const = default;
};

struct RetryPolicy {
    std::uint32_t max_attempts = 3;  // attempts in all, the first included; >= 1
    Backoff backoff;

    bool operator==(const RetryPolicy&) const = default;
};

struct QueueSettings {
    std::string name;                  // [A-Za-z0-9_-]+
    std::vector<TaskPattern> tasks;    // never empty
    std::uint32_t concurrency = 1;     // jobs of this queue running at once on one host
    std::optional<std::uint32_t> global_concurrency;  // ... and on every host of the store together
    // Jobs a host claims ahead of a free slot, so that the next starts the moment one ends,
    // without waiting for the store (0: claim only for free slots).
    std::uint32_t prefetch = 0;
    std::optional<RateLimit> rate_limit;
    RetryPolicy retry;
    std::optional<model::Duration> ttl;       // a job not started by then is dead
    std::uint32_t max_lost = 3;        // worker_lost + crashed attempts before the job is dead
    model::Retention retention;        // host.retention, each state named here replacing the host's
    model::SandboxSettings sandbox;  // the host's defaults overridden key by key
    SourceLocation defined_at;         // the queue's name in its file

    // True when one of the patterns matches.
    bool may_run(const TaskRef& task) const;

    bool operator==(const QueueSettings&) const = default;
};

struct Every {
    model::Duration interval{};

    bool operator==(const Every&) const = default;
};

struct ScheduleSettings {
    std::string name;                  // [A-Za-z0-9_-]+, unique
    std::string queue;                 // a queue of these settings that may run `task`
    TaskRef task;
    std::string payload_json = "{}";   // compact JSON; YAML scalars typed as YAML 1.2 core
    std::variant<Every, CronExpression> trigger;
    SourceLocation defined_at;         // the schedule's mapping in its file

    bool operator==(const ScheduleSettings&) const = default;
};

// Where the HTTP API listens: a host (an IP address or a name; IPv6 without brackets) and a
// port (0: any free port, for tests).
struct ApiListen {
    std::string host;
    std::uint16_t port = 0;

    // "HOST:PORT", or "[HOST]:PORT" for an IPv6 address. Refuses anything else.
    static model::ParseResult<ApiListen> parse(std::string_view text);
    std::string to_string() const;
    // 127.0.0.0/8, ::1 or "localhost": only this machine can connect.
    bool is_loopback() const;

    bool operator==(const ApiListen&) const = default;
};

struct TlsFiles {
    std::filesystem::path cert;  // PEM certificate chain, absolute
    std::filesystem::path key;   // PEM private key, absolute

    bool operator==(const TlsFiles&) const = default;
};

// The `api:` section: the HTTP API, the dashboard and /metrics. Off without `listen`.
struct ApiSettings {
    std::optional<ApiListen> listen;
    // The bearer token every call but /healthz and /readyz (and /metrics unless metrics_auth)
    // needs; none: no token asked for, allowed only on a loopback address.
    std::optional<std::string> token;
    std::optional<std::filesystem::path> token_file;  // where `token` was read from, absolute
    std::optional<TlsFiles> tls;
    std::uint64_t max_body = 16 * 1024 * 1024;        // bytes of a request body; larger is 413
    bool metrics_auth = false;                        // /metrics asks for the token too

    bool operator==(const ApiSettings&) const = default;
};

struct Settings {
    std::filesystem::path source_file;             // as passed to the loader
    std::vector<std::filesystem::path> included_files;  // in load order
    HostSettings host;
    model::SandboxSettings sandbox;              // host defaults; queues hold their own copy
    std::vector<QueueSettings> queues;             // sorted by name
    std::vector<ScheduleSettings> schedules;       // in definition order, main file first
    ApiSettings api;

    // nullptr when there is no queue of that name.
    const QueueSettings* find_queue(std::string_view name) const;

    bool operator==(const Settings&) const = default;
};

const char* to_string(LogLevel level);
const char* to_string(LogFormat format);
const char* to_string(StoreSync sync);
const char* to_string(BackoffType type);

} // namespace sandhost::config
