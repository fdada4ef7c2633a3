// What a worker process is granted: its user and groups, its environment, capabilities, the
// no-new-privileges flag, its network, its system-call filter and its view of the filesystem. Plain data with the name
// tables the configuration, the sandbox and the documentation share; the sandbox resolves it
// (users to ids, names to numbers) and the worker applies it before it loads a plugin.
#pragma once

#include "model/enum_names.h"

#include <compare>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandhost::model {

// host: the host's network, as today. none: a network namespace of the worker's own with
// nothing but a loopback device (a fork server enters it once; its children inherit it).
enum class Network { host, none };
inline constexpr EnumName<Network> k_network_names[] = {{"host", Network::host}, {"none", Network::none}};

// default: deny k_default_denied_syscalls; off: no filter; custom: `deny` (each EPERM) and,
// when not empty, `allow_only` (everything else EPERM, beyond what the worker itself needs).
enum class SyscallFilter { default_list, off, custom };

struct SyscallSettings {
    SyscallFilter filter = SyscallFilter::default_list;
    std::vector<std::string> deny;
    std::vector<std::string> allow_only;

    auto operator<=>(const SyscallSettings&) const = default;
};

// inherit: names (or NAME_* prefixes) of the host's environment the worker gets beyond
// k_default_environment; set: variables given to the worker whatever the host has.
struct EnvironmentSettings {
    std::vector<std::string> inherit;
    std::map<std::string, std::string> set;

    auto operator<=>(const EnvironmentSettings&) const = default;
};

// Every attempt gets a private folder of its own (TMPDIR), removed after it, whatever these say.
// workdir: the attempt's working folder (unset: that private folder). read_only: every mount
// read-only in a mount namespace of the worker's own, but the private folder and /proc. hide:
// each path covered (an empty read-only tmpfs over a folder, /dev/null over a file) in that
// namespace. Paths are absolute (the configuration resolves relative ones).
struct FilesystemSettings {
    std::optional<std::string> workdir;
    bool read_only = false;
    std::vector<std::string> hide;

    auto operator<=>(const FilesystemSettings&) const = default;
};

struct Privileges {
    std::optional<std::string> user;   // name or number; unset: the host's user
    std::optional<std::string> group;  // unset: the user's primary group
    EnvironmentSettings environment;
    bool no_new_privileges = true;
    // unset: the host's capabilities, none when `user` is set; a list keeps only those.
    std::optional<std::vector<std::string>> capabilities;
    Network network = Network::host;
    SyscallSettings syscalls;
    FilesystemSettings filesystem;

    auto operator<=>(const Privileges&) const = default;
};

// Whether a worker granted `privileges` gets a mount namespace of its own: for read_only and
// hide, and with network none (a fresh sysfs that lists only the worker's own devices).
bool wants_mount_namespace(const Privileges& privileges);

// `path` (absolute) as filesystem settings keep it: lexically normal, without a trailing '/'
// ("/a/./b/" is "/a/b"), so that one path has one spelling.
std::string filesystem_path(const std::filesystem::path& path);

// The host variables every worker inherits: exact names, or prefixes ending in '*'.
extern const std::vector<std::string_view> k_default_environment;

// What syscalls: default denies, each with EPERM: calls that change the machine (modules,
// mounts, swap, clocks, reboot) or reach into other processes (ptrace, namespaces, keys, BPF,
// perf events).
extern const std::vector<std::string_view> k_default_denied_syscalls;

// What a worker calls itself after its filter is in place (loading the plugin, the channel,
// forking job children, limits, exiting): always allowed under allow_only.
extern const std::vector<std::string_view> k_worker_syscalls;

// The capability names (lower case, without CAP_), index = capability number.
extern const std::vector<std::string_view> k_capability_names;

// The number of a capability named "net_bind_service", "CAP_NET_BIND_SERVICE" or in any case;
// nullopt for an unknown name.
std::optional<int> capability_number(std::string_view name);

// Whether `name` (a variable of the host) is one the worker inherits under `settings`.
bool inherits_variable(const EnvironmentSettings& settings, std::string_view name);

} // namespace sandhost::model
