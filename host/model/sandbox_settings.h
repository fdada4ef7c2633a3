// Value types that describe how a job is sandboxed: isolation mode, limits, timeouts, stop
// policy. Plain data with no behaviour; the config loader fills them, the sandbox obeys them.
#pragma once

#include "model/enum_names.h"
#include "model/privileges.h"
#include "model/units.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sandhost::model {

enum class Mode { spawn, fork, reuse };
// What happens to a task whose output passes limits.output: its output beyond is dropped (the
// tails keep its end, the outcome counts the dropped bytes) and it goes on; or it is killed
// as resource_limit output.
enum class OutputAction { drop, kill };
enum class Fallback { none, inline_run };
// Whether each running attempt gets a control group of its own (memory and process limits the
// kernel enforces, CPU accounted, the whole group killed on stop): where the host can use
// cgroups, or never.
enum class CgroupUse { automatic, off };

inline constexpr EnumName<Mode> k_mode_names[] = {{"spawn", Mode::spawn}, {"fork", Mode::fork}, {"reuse", Mode::reuse}};
inline constexpr EnumName<OutputAction> k_output_action_names[] = {{"drop", OutputAction::drop}, {"kill", OutputAction::kill}};
inline constexpr EnumName<Fallback> k_fallback_names[] = {{"none", Fallback::none}, {"inline", Fallback::inline_run}};
inline constexpr EnumName<CgroupUse> k_cgroup_use_names[] = {{"auto", CgroupUse::automatic}, {"off", CgroupUse::off}};

// Per-attempt resource limits. An unset limit is not applied.
struct Limits {
    std::optional<std::uint64_t> memory_bytes;     // address space of the worker
    std::optional<Duration> cpu;                   // CPU time of the worker (user + system)
    std::optional<std::uint64_t> open_files;       // descriptors the worker may hold
    std::optional<std::uint64_t> file_size_bytes;  // largest file the worker may write
    std::optional<std::uint64_t> processes;        // processes in the worker's tree
    std::optional<std::uint64_t> output_bytes;     // stdout + stderr per attempt; each stream's tail keeps this much
    OutputAction output_action = OutputAction::drop;  // what happens past output_bytes

    bool operator==(const Limits&) const = default;
};

struct ReuseSettings {
    std::uint64_t max_jobs_per_worker = 1000;
    std::uint64_t max_rss_bytes = 256ull << 20;
    Duration idle_timeout = std::chrono::seconds(60);

    bool operator==(const ReuseSettings&) const = default;
};

// Everything DESIGN's `sandbox:` section holds, with its defaults.
struct SandboxSettings {
    bool enabled = true;
    Mode mode = Mode::spawn;
    Duration timeout = std::chrono::seconds(30);        // from the worker's "ready"
    Duration startup_timeout = std::chrono::seconds(5); // launch + plugin load
    Duration grace = std::chrono::seconds(2);           // SIGTERM .. SIGKILL
    Limits limits = default_limits();
    std::uint64_t max_result_bytes = 64ull << 20;
    Fallback fallback = Fallback::none;
    bool fallback_on_timeout = false;
    ReuseSettings reuse;
    // fork mode: at most this many fork servers per plugin (0: one per CPU). Each holds the
    // plugin loaded and initialised; more of them fork in parallel under concurrent load.
    std::uint32_t fork_servers = 0;
    CgroupUse cgroup = CgroupUse::automatic;
    // What the worker is granted (user, environment, capabilities, network, syscalls).
    Privileges privileges;

    static Limits default_limits()
    {
        Limits l;
        l.memory_bytes = 512ull << 20;
        l.cpu = std::chrono::seconds(60);
        l.open_files = 256;
        l.file_size_bytes = 64ull << 20;
        l.processes = 64;
        l.output_bytes = 1ull << 20;
        return l;
    }

    bool operator==(const SandboxSettings&) const = default;
};

// The one name table of each: "spawn", "fork", "reuse"; "none", "inline".
const char* to_string(Mode mode);
std::optional<Mode> mode_from_string(std::string_view text);
const char* to_string(Fallback fallback);
std::optional<Fallback> fallback_from_string(std::string_view text);
const char* to_string(CgroupUse use);
std::optional<CgroupUse> cgroup_use_from_string(std::string_view text);

} // namespace sandhost::model
