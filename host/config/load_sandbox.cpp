#include "config/loader.h"
#include "config/syscall_names.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>

namespace sandhost::config {
namespace {

using Kind = YamlNode::Kind;

const std::vector<std::string> k_sandbox_keys{"enabled", "mode",       "timeout",  "startup_timeout",     "grace",
                                              "limits",  "max_result", "fallback", "fallback_on_timeout", "reuse",
                                              "fork_servers", "user",  "group",    "environment",         "no_new_privileges",
                                              "capabilities", "network", "syscalls", "filesystem", "cgroup"};
const std::vector<std::string> k_limits_keys{"memory", "cpu", "open_files", "file_size", "processes", "output", "output_action"};
// idle_timeout is not in the design's example, but sandbox::ReuseSettings has it and a value
// nobody can set is a value nobody can fix.
const std::vector<std::string> k_reuse_keys{"max_jobs_per_worker", "max_rss", "idle_timeout"};
const std::vector<std::string> k_environment_keys{"inherit", "set"};
const std::vector<std::string> k_syscalls_keys{"deny", "allow_only"};
const std::vector<std::string> k_filesystem_keys{"workdir", "read_only", "hide"};

bool is_number(const std::string& text)
{
    return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

const std::string k_cannot_switch =
    "this process cannot switch a worker's user or group (it needs CAP_SETUID and CAP_SETGID, as root has): every attempt of "
    "this queue would fail to start";

bool known_user(const std::string& name)
{
    if (is_number(name)) return true;
    passwd entry{};
    passwd* found = nullptr;
    char buffer[16384];
    return ::getpwnam_r(name.c_str(), &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr;
}

bool known_group(const std::string& name)
{
    if (is_number(name)) return true;
    group entry{};
    group* found = nullptr;
    char buffer[16384];
    return ::getgrnam_r(name.c_str(), &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr;
}

// A variable name as a shell takes it: a letter or '_', then letters, digits and '_'.
bool is_variable_name(const std::string& text)
{
    if (text.empty() || std::isdigit(static_cast<unsigned char>(text[0]))) return false;
    return std::all_of(text.begin(), text.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}


} // namespace

bool is_syscall_name(const std::string& name) { return ::seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR; }

void Loader::read_sandbox(const YamlNode& map, const std::string& path, model::SandboxSettings& out)
{
    Section fields = section(map, "in " + path, k_sandbox_keys);
    if (const auto* e = fields.get("enabled")) read_bool(*e, out.enabled);
    if (const auto* e = fields.get("mode")) read_enum(*e, model::k_mode_names, out.mode);
    if (const auto* e = fields.get("timeout")) read_duration(*e, model::Duration(1), out.timeout);
    if (const auto* e = fields.get("startup_timeout")) read_duration(*e, model::Duration(1), out.startup_timeout);
    if (const auto* e = fields.get("grace")) read_duration(*e, model::Duration(0), out.grace);
    if (const auto* e = fields.get("limits")) {
        if (const YamlNode* limits = mapping_value(*e)) {
            Section l = section(*limits, "in " + path + ".limits", k_limits_keys);
            // A worker does not start in less than a MiB of address space; CPU time is limited
            // in whole seconds by the OS.
            read_limit_size(l.get("memory"), 1 << 20, out.limits.memory_bytes);
            read_limit_duration(l.get("cpu"), std::chrono::seconds(1), out.limits.cpu);
            read_limit_count(l.get("open_files"), 1 << 20, out.limits.open_files);
            read_limit_size(l.get("file_size"), 0, out.limits.file_size_bytes);
            read_limit_count(l.get("processes"), 1 << 22, out.limits.processes);
            read_limit_size(l.get("output"), 0, out.limits.output_bytes);
            if (const auto* a = l.get("output_action")) read_enum(*a, model::k_output_action_names, out.limits.output_action);
        }
    }
    if (const auto* e = fields.get("max_result")) read_size(*e, 1, out.max_result_bytes);
    if (const auto* e = fields.get("fallback")) read_enum(*e, model::k_fallback_names, out.fallback);
    if (const auto* e = fields.get("fallback_on_timeout")) read_bool(*e, out.fallback_on_timeout);
    if (const auto* e = fields.get("fork_servers")) {
        if (e->value->kind == Kind::scalar && e->value->text == "auto") {
            out.fork_servers = 0;
        } else {
            read_count_as(*e, 1, 1024, out.fork_servers);
        }
    }
    if (const auto* e = fields.get("cgroup")) read_enum(*e, model::k_cgroup_use_names, out.cgroup);
    if (const auto* e = fields.get("reuse")) {
        if (const YamlNode* reuse = mapping_value(*e)) {
            Section r = section(*reuse, "in " + path + ".reuse", k_reuse_keys);
            if (const auto* x = r.get("max_jobs_per_worker")) {
                read_count(*x, 1, 1'000'000'000, out.reuse.max_jobs_per_worker);
            }
            if (const auto* x = r.get("max_rss")) read_size(*x, 1 << 20, out.reuse.max_rss_bytes);
            if (const auto* x = r.get("idle_timeout")) read_duration(*x, model::Duration(1), out.reuse.idle_timeout);
        }
    }
    read_privileges(fields, path, out.privileges);
}

void Loader::read_privileges(const FieldReader::Section& fields, const std::string& path, model::Privileges& out)
{
    if (const auto* e = fields.get("user")) {
        std::string name;
        if (read_string(*e, name)) {
            if (!known_user(name)) report(*e->value, "user: no user " + in_quotes(name) + " on this machine");
            else if (m_options.rights && !m_options.rights->switch_user) report(*e->value, "user: " + k_cannot_switch);
            else out.user = name;
        }
    }
    if (const auto* e = fields.get("group")) {
        std::string name;
        if (read_string(*e, name)) {
            if (!known_group(name)) report(*e->value, "group: no group " + in_quotes(name) + " on this machine");
            else if (m_options.rights && !m_options.rights->switch_user) report(*e->value, "group: " + k_cannot_switch);
            else out.group = name;
        }
    }
    if (const auto* e = fields.get("no_new_privileges")) read_bool(*e, out.no_new_privileges);
    if (const auto* e = fields.get("network")) {
        if (read_enum(*e, model::k_network_names, out.network) && out.network == model::Network::none && m_options.rights &&
            !m_options.rights->network_namespace) {
            report(*e->value, "network: none needs a network namespace of the worker's own, and this process cannot create one "
                              "(it needs CAP_SYS_ADMIN, and a root that is a mount point: not a chroot): every attempt of this "
                              "queue would fail to start");
        }
    }
    if (const auto* e = fields.get("environment")) {
        model::EnvironmentSettings environment;
        if (const YamlNode* map = mapping_value(*e)) {
            Section env = section(*map, "in " + path + ".environment", k_environment_keys);
            if (const auto* inherit = env.get("inherit")) {
                if (const YamlNode* list = sequence_value(*inherit)) {
                    for (const auto& item : list->items) {
                        auto name = scalar_item(*item, "inherit", "a variable name or NAME_*");
                        if (!name) continue;
                        const std::string bare = !name->empty() && name->back() == '*' ? name->substr(0, name->size() - 1) : *name;
                        if (bare.empty() || (!is_variable_name(bare) && !(bare.back() == '_' && is_variable_name(bare + "x")))) {
                            report(*item, "inherit: " + in_quotes(*name) + " is not a variable name (or a prefix ending in *)");
                            continue;
                        }
                        environment.inherit.push_back(*name);
                    }
                }
            }
            if (const auto* set = env.get("set")) {
                if (const YamlNode* vars = mapping_value(*set)) {
                    for (const auto& var : vars->entries) {
                        if (var.key->kind != Kind::scalar || !is_variable_name(var.key->text)) {
                            report(*var.key, "set: " + in_quotes(var.key->text) + " is not a variable name");
                            continue;
                        }
                        if (var.value->kind == Kind::scalar) {
                            if (auto value = expand(*var.value, var.key->text)) environment.set[var.key->text] = *value;
                        } else if (var.value->kind == Kind::null) {
                            environment.set[var.key->text] = "";
                        } else {
                            report(*var.value, var.key->text + ": expected a string, got " + describe(*var.value));
                        }
                    }
                }
            }
        }
        out.environment = std::move(environment);
    }
    if (const auto* e = fields.get("capabilities")) {
        std::vector<std::string> kept;
        if (const YamlNode* list = sequence_value(*e)) {
            for (const auto& item : list->items) {
                auto name = scalar_item(*item, "capabilities", "a capability name");
                if (!name) continue;
                const auto number = model::capability_number(*name);
                if (!number) {
                    std::vector<std::string> names(model::k_capability_names.begin(), model::k_capability_names.end());
                    std::string message = "capabilities: " + in_quotes(*name) + " is not a capability";
                    if (auto suggestion = closest_match(*name, names)) message += "; did you mean " + in_quotes(*suggestion) + "?";
                    report(*item, std::move(message));
                    continue;
                }
                kept.push_back(std::string(model::k_capability_names[static_cast<std::size_t>(*number)]));
            }
        }
        out.capabilities = std::move(kept);  // `capabilities: []` or `capabilities:` keeps none
    }
    if (const auto* e = fields.get("syscalls")) read_syscalls(*e, path, out.syscalls);
    if (const auto* e = fields.get("filesystem")) {
        if (const YamlNode* map = mapping_value(*e)) read_filesystem(*map, path, out.filesystem);
    }
}

std::optional<std::string> Loader::existing_path(const YamlNode& node, std::string_view key, std::string_view expected)
{
    auto text = scalar_item(node, key, expected);
    if (!text) return std::nullopt;
    if (text->empty()) {
        report(node, std::string(key) + ": a path must not be empty");
        return std::nullopt;
    }
    std::filesystem::path given(*text);
    const std::string full = model::filesystem_path(given.is_relative() ? m_dir / given : given);
    std::error_code ec;
    if (!std::filesystem::exists(full, ec)) {
        report(node, std::string(key) + ": " + in_quotes(full) + " does not exist on this machine");
        return std::nullopt;
    }
    return full;
}

void Loader::read_filesystem(const YamlNode& map, const std::string& path, model::FilesystemSettings& out)
{
    Section fields = section(map, "in " + path + ".filesystem", k_filesystem_keys);
    if (const auto* e = fields.get("workdir")) {
        if (e->value->kind == Kind::null) {
            out.workdir.reset();
        } else if (auto dir = existing_path(*e->value, "workdir", "a folder, or null for the attempt's own")) {
            std::error_code ec;
            if (std::filesystem::is_directory(*dir, ec)) out.workdir = *dir;
            else report(*e->value, "workdir: " + in_quotes(*dir) + " is not a folder");
        }
    }
    const bool no_mounts = m_options.rights && !m_options.rights->mount_namespace;
    const std::string cannot_mount = " needs a mount namespace of the worker's own, and this process cannot create one (it needs "
                                     "CAP_SYS_ADMIN, and a root that is a mount point: not a chroot): every attempt of this queue "
                                     "would fail to start";
    if (const auto* e = fields.get("read_only")) {
        if (read_bool(*e, out.read_only) && out.read_only && no_mounts) report(*e->value, "read_only: true" + cannot_mount);
    }
    if (const auto* e = fields.get("hide")) {
        std::vector<std::string> hidden;
        if (const YamlNode* list = sequence_value(*e)) {
            for (const auto& item : list->items) {
                auto hide = existing_path(*item, "hide", "a path");
                if (!hide) continue;
                if (*hide == "/") {
                    report(*item, "hide: hiding / leaves the worker nothing to run");
                    continue;
                }
                hidden.push_back(*hide);
            }
        }
        if (!hidden.empty() && no_mounts) report(*e->value, "hide" + cannot_mount);
        out.hide = std::move(hidden);  // `hide: []` hides nothing
    }
}

void Loader::read_syscalls(const YamlEntry& entry, const std::string& path, model::SyscallSettings& out)
{
    if (entry.value->kind == Kind::scalar) {
        auto text = scalar(entry, "default, off or {deny: [...], allow_only: [...]}");
        if (!text) return;
        if (*text == "default") out = model::SyscallSettings{};
        else if (*text == "off") out = model::SyscallSettings{model::SyscallFilter::off, {}, {}};
        else report(*entry.value, "syscalls: " + in_quotes(*text) + " is not default, off or {deny: [...], allow_only: [...]}");
        return;
    }
    const YamlNode* map = mapping_value(entry);
    if (map == nullptr) return;
    Section lists = section(*map, "in " + path + ".syscalls", k_syscalls_keys);
    model::SyscallSettings custom{model::SyscallFilter::custom, {}, {}};
    for (const char* key : {"deny", "allow_only"}) {
        const auto* e = lists.get(key);
        if (e == nullptr) continue;
        const YamlNode* list = sequence_value(*e);
        if (list == nullptr) continue;
        for (const auto& item : list->items) {
            auto name = scalar_item(*item, key, "a system call name");
            if (!name) continue;
            if (!is_syscall_name(*name)) {
                report(*item, std::string(key) + ": " + in_quotes(*name) + " is not a system call of this machine");
                continue;
            }
            (std::string_view(key) == "deny" ? custom.deny : custom.allow_only).push_back(*name);
        }
    }
    out = std::move(custom);
}

} // namespace sandhost::config
