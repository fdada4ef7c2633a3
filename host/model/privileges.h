// What a worker process is granted: its user and groups, its environment, capabilities, the
// no-new-privileges flag, its network and its system-call filter. Plain data with the name
// tables the configuration, the sandbox and the documentation share; the sandbox resolves it
// (users to ids, names to numbers) and the worker applies it before it loads a plugin.
#pragma once

#include "model/enum_names.h"

#include <compare>
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

struct Privileges {
    std::optional<std::string> user;   // name or number; unset: the host's user
    std::optional<std::string> group;  // unset: the user's primary group
    EnvironmentSettings environment;
    bool no_new_privileges = true;
    // unset: the host's capabilities, none when `user` is set; a list keeps only those.
    std::optional<std::vector<std::string>> capabilities;
    Network network = Network::host;
    SyscallSettings syscalls;

    auto operator<=>(const Privileges&) const = default;
};

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
