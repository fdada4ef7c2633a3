#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/terminal.h"
#include "config/syscall_names.h"
#include "os/signal_watch.h"
#include "sandbox/sandbox.h"

#include <csignal>
#include <filesystem>
#include <iostream>

namespace sandhost::cli {
namespace {

const std::vector<OptionSpec>& exec_options()
{
    static const std::vector<OptionSpec> options = {
        {"payload", "JSON|@FILE", "the task's input (default {})"},
        {"timeout", "DUR", "deadline from the worker's ready (default 30s; more than 0: every attempt has a deadline, 0s is refused)"},
        {"startup-timeout", "DUR", "deadline for launch and plugin load (default 5s)"},
        {"grace", "DUR", "SIGTERM to SIGKILL (default 2s)"},
        {"memory", "SIZE", "address space limit (default 512MiB)"},
        {"cpu", "DUR", "CPU time limit (default 60s)"},
        {"open-files", "N", "descriptor limit (default 256)"},
        {"file-size", "SIZE", "largest file the task may write (default 64MiB)"},
        {"processes", "N", "processes in the worker's tree (default 64)"},
        {"output", "SIZE", "stdout + stderr kept (default 1MiB); beyond it output is dropped and counted"},
        {"kill-on-output", "", "kill the task when its output passes --output (resource_limit output)"},
        {"max-result", "SIZE", "largest result (default 64MiB)"},
        {"fallback", "inline", "run in this process if the worker cannot start"},
        {"fallback-on-timeout", "", "with --fallback inline: also once more after a timeout"},
        {"mode", "spawn|fork|reuse", "how the worker comes to be (default spawn)"},
        {"no-sandbox", "", "run the task in this process (trusted code only)"},
        {"user", "NAME", "run the worker as this user, with its groups (default: this process's user)"},
        {"group", "NAME", "run the worker in this group (default: the user's)"},
        {"inherit-env", "NAME", "pass this variable of ours (or NAME_* ones) to the worker, beyond PATH, LANG, LC_*, TZ (repeatable)", true},
        {"env", "NAME=VALUE", "set a variable in the worker's environment (repeatable)", true},
        {"allow-new-privileges", "", "do not set the worker's no-new-privileges flag"},
        {"capabilities", "LIST", "keep only these capabilities, comma-separated ('' for none; default: ours, none with --user)"},
        {"network", "host|none", "none: a network namespace with only loopback (default host)"},
        {"syscalls", "default|off", "the system-call filter (default: default, which denies ptrace, mount, ...)"},
        {"deny-syscall", "NAME", "deny this system call with EPERM (repeatable; replaces the default list)", true},
        {"allow-only-syscall", "NAME", "deny every system call not named, beyond the worker's own (repeatable)", true},
        {"workdir", "DIR", "the task's working folder (default: its private TMPDIR, made for the attempt and removed after it)"},
        {"read-only", "", "every mount read-only for the worker but its TMPDIR and /proc (a mount namespace: needs CAP_SYS_ADMIN)"},
        {"hide", "PATH", "cover this folder (an empty tmpfs) or file (/dev/null) for the worker (repeatable; a mount namespace)", true},
        {"plugin-dir", "DIR", "where to find plugins by name (repeatable)", true},
        {"allow-insecure-plugin", "", "load the plugin even if others than its owner and root may write it or its folder"},
        {"json", "", "print the attempt record as one JSON object"},
        {"help", "", "show this help"},
    };
    return options;
}

class ExecObserver final : public sandbox::AttemptObserver {
public:
    void on_progress(const model::ProgressReport& progress) override { m_bar.update(progress.percent, progress.message); }
    void on_log(int level, std::string_view message) override
    {
        static const char* const k_levels[] = {"trace", "debug", "info", "warn", "error"};
        m_bar.clear();
        std::cerr << "[task " << (level >= 0 && level <= 4 ? k_levels[level] : "log") << "] " << message << "\n";
    }
    void finish() { m_bar.clear(); }

private:
    ProgressBar m_bar;
};

std::vector<std::string> comma_list(const std::string& text)
{
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto end = std::min(text.find(',', start), text.size());
        if (end > start) items.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return items;
}

bool is_variable_name(const std::string& text)
{
    if (text.empty() || (text[0] >= '0' && text[0] <= '9')) return false;
    return text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
}

// The same settings as a queue's `sandbox:` privilege keys; throws UsageError for a bad value.
void read_privilege_flags(const ParsedArgs& args, model::Privileges& p)
{
    if (auto v = args.get("user")) p.user = *v;
    if (auto v = args.get("group")) p.group = *v;
    for (const auto& name : args.all("inherit-env")) {
        const std::string bare = !name.empty() && name.back() == '*' ? name.substr(0, name.size() - 1) : name;
        if (!is_variable_name(bare) && !(bare.size() > 1 && bare.back() == '_' && is_variable_name(bare.substr(0, bare.size() - 1)))) {
            throw UsageError("--inherit-env: '" + name + "' is not a variable name (or a prefix ending in *)");
        }
        p.environment.inherit.push_back(name);
    }
    for (const auto& assignment : args.all("env")) {
        const auto equals = assignment.find('=');
        const std::string name = assignment.substr(0, equals);
        if (equals == std::string::npos || !is_variable_name(name)) throw UsageError("--env: expected NAME=VALUE, got '" + assignment + "'");
        p.environment.set[name] = assignment.substr(equals + 1);
    }
    if (args.has("allow-new-privileges")) p.no_new_privileges = false;
    if (auto v = args.get("capabilities")) {
        std::vector<std::string> kept;
        for (const auto& name : comma_list(*v)) {
            const auto number = model::capability_number(name);
            if (!number) throw UsageError("--capabilities: '" + name + "' is not a capability");
            kept.emplace_back(model::k_capability_names[static_cast<std::size_t>(*number)]);
        }
        p.capabilities = std::move(kept);
    }
    if (auto v = args.get("network")) {
        const auto network = model::value_in(model::k_network_names, *v);
        if (!network) throw UsageError("--network: expected host or none, got '" + *v + "'");
        p.network = *network;
    }
    if (auto v = args.get("syscalls")) {
        if (*v == "off") p.syscalls = {model::SyscallFilter::off, {}, {}};
        else if (*v != "default") throw UsageError("--syscalls: expected default or off, got '" + *v + "'");
    }
    if (auto v = args.get("workdir")) {
        std::error_code ec;
        if (v->empty() || !std::filesystem::is_directory(*v, ec)) throw UsageError("--workdir: '" + *v + "' is not a folder");
        p.filesystem.workdir = model::filesystem_path(std::filesystem::absolute(*v));
    }
    if (args.has("read-only")) p.filesystem.read_only = true;
    for (const auto& path : args.all("hide")) {
        std::error_code ec;
        if (path.empty() || !std::filesystem::exists(path, ec)) throw UsageError("--hide: '" + path + "' does not exist");
        const std::string full = model::filesystem_path(std::filesystem::absolute(path));
        if (full == "/") throw UsageError("--hide: hiding / leaves the worker nothing to run");
        p.filesystem.hide.push_back(full);
    }
    const auto deny = args.all("deny-syscall");
    const auto allow_only = args.all("allow-only-syscall");
    if (!deny.empty() || !allow_only.empty()) {
        if (p.syscalls.filter == model::SyscallFilter::off) throw UsageError("--syscalls off cannot go with --deny-syscall or --allow-only-syscall");
        p.syscalls = {model::SyscallFilter::custom, deny, allow_only};
        for (const auto& name : deny) {
            if (!config::is_syscall_name(name)) throw UsageError("--deny-syscall: '" + name + "' is not a system call of this machine");
        }
        for (const auto& name : allow_only) {
            if (!config::is_syscall_name(name)) throw UsageError("--allow-only-syscall: '" + name + "' is not a system call of this machine");
        }
    }
}

} // namespace

int exec_command(const std::vector<std::string>& raw)
{
    const auto args = parse_args(raw, exec_options());
    if (args.has("help")) {
        std::cout << "usage: sandhost exec PLUGIN TASK [options]\n\nRuns one task once in a fresh worker process and "
                     "reports its outcome.\nPLUGIN is a library path or a plugin name found in the plugin directories.\n"
                     "Exit status 0 only when the outcome is succeeded.\n\n"
                  << describe_options(exec_options());
        return k_exit_ok;
    }
    if (args.positional.size() != 2) throw UsageError("expected PLUGIN and TASK, got " + std::to_string(args.positional.size()) + " arguments");

    sandbox::AttemptSpec spec;
    spec.task = args.positional[1];
    spec.payload = args.has("payload") ? read_payload(*args.get("payload")) : "{}";
    auto& s = spec.settings;
    if (auto v = args.get("timeout")) s.timeout = parse_positive_duration_flag("timeout", *v);
    if (auto v = args.get("startup-timeout")) s.startup_timeout = parse_positive_duration_flag("startup-timeout", *v);
    if (auto v = args.get("grace")) s.grace = parse_duration_flag("grace", *v);
    if (auto v = args.get("memory")) s.limits.memory_bytes = parse_size_flag("memory", *v);
    if (auto v = args.get("cpu")) s.limits.cpu = parse_positive_duration_flag("cpu", *v);
    if (auto v = args.get("open-files")) s.limits.open_files = parse_count_flag("open-files", *v, 4);
    if (auto v = args.get("file-size")) s.limits.file_size_bytes = parse_size_flag("file-size", *v);
    if (auto v = args.get("processes")) s.limits.processes = parse_count_flag("processes", *v, 1);
    if (auto v = args.get("output")) s.limits.output_bytes = parse_size_flag("output", *v);
    if (args.has("kill-on-output")) s.limits.output_action = model::OutputAction::kill;
    if (auto v = args.get("max-result")) s.max_result_bytes = parse_size_flag("max-result", *v);
    if (auto v = args.get("fallback")) {
        const auto fallback = model::fallback_from_string(*v);
        if (!fallback) throw UsageError("--fallback: expected 'inline' or 'none', got '" + *v + "'");
        s.fallback = *fallback;
    }
    if (args.has("fallback-on-timeout")) {
        if (s.fallback != model::Fallback::inline_run) throw UsageError("--fallback-on-timeout needs --fallback inline");
        s.fallback_on_timeout = true;
    }
    if (auto v = args.get("mode")) {
        const auto mode = model::mode_from_string(*v);
        if (!mode) throw UsageError("--mode: expected spawn, fork or reuse, got '" + *v + "'");
        s.mode = *mode;
    }
    if (args.has("no-sandbox")) s.enabled = false;
    read_privilege_flags(args, s.privileges);

    const auto dirs = plugin_dirs_from(args.all("plugin-dir"));
    auto library = sandbox::resolve_plugin(args.positional[0], dirs);
    if (!library) {
        std::string searched;
        for (const auto& d : dirs) searched += (searched.empty() ? "" : ", ") + d.string();
        throw UsageError("no plugin named '" + args.positional[0] + "' in " + (searched.empty() ? "(no plugin directories)" : searched));
    }
    spec.plugin_path = *library;
    spec.allow_insecure_plugin = args.has("allow-insecure-plugin");

    // Ctrl-C or SIGTERM cancels the attempt: the worker is stopped and reaped before we exit.
    sandbox::CancelToken cancel;
    os::SignalWatch signals({SIGINT, SIGTERM}, [&](int) { cancel.request(); });
    ExecObserver observer;
    sandbox::Sandbox sandbox;
    const auto outcome = sandbox.run_attempt(spec, &observer, &cancel);
    observer.finish();
    if (args.has("json")) {
        std::cout << model::to_json(outcome) << std::endl;
    } else {
        std::cout << describe_outcome(outcome) << std::flush;
    }
    return outcome.succeeded() ? k_exit_ok : k_exit_failed;
}

} // namespace sandhost::cli
