#include "cli/cli.h"

#include "cli/args.h"
#include "cli/host_context.h"
#include "config/suggest.h"
#include "model/version.h"
#include "scheduler/event_log.h"

#include "store/sqlite_store.h"
#include "store/store.h"

#include <Poco/Exception.h>

#include <functional>
#include <iostream>
#include <map>

namespace sandhost::cli {
namespace {

struct Command {
    std::function<int(const std::vector<std::string>&)> run;
    const char* summary;
};

const std::map<std::string, Command>& commands()
{
    static const std::map<std::string, Command> table = {
        {"exec", {exec_command, "run one task once in a sandboxed worker and print its outcome"}},
        {"plugins", {plugins_command, "list plugins and their tasks (each loaded in a worker)"}},
        {"validate", {validate_command, "check a configuration file"}},
        {"run", {run_command, "serve the configuration's queues (the host, in the foreground)"}},
        {"enqueue", {enqueue_command, "store a job: QUEUE PLUGIN.TASK"}},
        {"jobs", {jobs_command, "list jobs; retry, cancel or promote many of a queue"}},
        {"job", {job_command, "show, cancel, retry or promote one job"}},
        {"queues", {queues_command, "count jobs per state and show the latency of every queue"}},
        {"pause", {pause_command, "stop claiming a queue's jobs"}},
        {"resume", {resume_command, "claim a queue's jobs again"}},
        {"wait", {wait_command, "follow a job to its end"}},
        {"purge", {purge_command, "delete ended jobs"}},
        {"backup", {backup_command, "copy the embedded store to a file while hosts run"}},
        {"compact", {compact_command, "rebuild the embedded store's file (its free room, its page size)"}},
        {"copy", {copy_command, "copy every job of the store into another store (embedded to Redis, or back)"}},
        {"restore", {restore_command, "put a backup in the embedded store's place, keeping the store it replaces"}},
        {"hosts", {hosts_command, "list the hosts serving the store, their heartbeats and workers"}},
        {"schedules", {schedules_command, "list the schedules and when they fire; run one now"}},
        {"serve", {serve_command, "serve the HTTP API and the dashboard of the store, without running jobs"}},
    };
    return table;
}

void print_usage(std::ostream& out)
{
    out << "usage: sandhost COMMAND [ARGS...]\n\ncommands:\n";
    for (const auto& [name, command] : commands()) {
        std::string left = "  " + name;
        left.resize(14, ' ');
        out << left << command.summary << "\n";
    }
    out << "\n`sandhost COMMAND --help` describes a command.\n";
}

} // namespace

int run_cli(int argc, char** argv)
{
    // The process is sandhost's alone: SQLite without the locks its stores do not need.
    store::sqlite_for_this_process_alone();
    // Diagnostics go to stderr, whatever the command: stdout carries only what a command
    // prints as its answer (the JSON of `exec --json`, for one).
    scheduler::configure_logging(spdlog::level::info, scheduler::LogFormat::text);
    std::vector<std::string> args(argv + 1, argv + argc);
    // `sandhost help COMMAND` is `sandhost COMMAND --help`.
    if (args.size() == 2 && args[0] == "help" && commands().count(args[1])) args = {args[1], "--help"};
    if (args.empty() || args[0] == "--help" || args[0] == "help" || args[0] == "-h") {
        print_usage(args.empty() ? std::cerr : std::cout);
        return args.empty() ? k_exit_usage : k_exit_ok;
    }
    if (args[0] == "--version") {
        std::cout << "sandhost " << model::version() << "\n";
        return k_exit_ok;
    }
    const std::string name = args[0];
    auto it = commands().find(name);
    if (it == commands().end()) {
        std::vector<std::string> names;
        for (const auto& [n, c] : commands()) names.push_back(n);
        std::cerr << "sandhost: unknown command '" << name << "'";
        if (auto close = config::closest_match(name, names)) std::cerr << " (did you mean '" << *close << "'?)";
        std::cerr << "\n";
        print_usage(std::cerr);
        return k_exit_usage;
    }
    args.erase(args.begin());
    // What a usage error points to: `jobs retry|cancel|promote` have help of their own.
    std::string command = name;
    if (name == "jobs" && !args.empty() && (args[0] == "retry" || args[0] == "cancel" || args[0] == "promote")) command += " " + args[0];
    if (name == "schedules" && !args.empty() && args[0] == "run") command += " run";
    try {
        return it->second.run(args);
    } catch (const ConfigInvalid& e) {
        std::cerr << "sandhost " << name << ": " << e.what() << "\n";
        return k_exit_usage;
    } catch (const UsageError& e) {
        std::cerr << "sandhost " << command << ": " << e.what() << "\n(see `sandhost " << command << " --help`)\n";
        return k_exit_usage;
    } catch (const store::StoreError& e) {
        std::cerr << "sandhost " << name << ": store: " << e.what() << "\n";
        return k_exit_failed;
    } catch (const Poco::Exception& e) {
        std::cerr << "sandhost " << name << ": " << e.displayText() << "\n";
        return k_exit_failed;
    } catch (const std::exception& e) {
        std::cerr << "sandhost " << name << ": " << e.what() << "\n";
        return k_exit_failed;
    }
}

} // namespace sandhost::cli
