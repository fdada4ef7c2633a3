#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/terminal.h"
#include "os/signal_watch.h"
#include "sandbox/sandbox.h"

#include <csignal>
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
        {"plugin-dir", "DIR", "where to find plugins by name (repeatable)", true},
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

    const auto dirs = plugin_dirs_from(args.all("plugin-dir"));
    auto library = sandbox::resolve_plugin(args.positional[0], dirs);
    if (!library) {
        std::string searched;
        for (const auto& d : dirs) searched += (searched.empty() ? "" : ", ") + d.string();
        throw UsageError("no plugin named '" + args.positional[0] + "' in " + (searched.empty() ? "(no plugin directories)" : searched));
    }
    spec.plugin_path = *library;

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
