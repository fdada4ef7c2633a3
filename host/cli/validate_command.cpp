#include "cli/args.h"
#include "cli/cli.h"
#include "cli/host_context.h"
#include "config/validate.h"
#include "sandbox/sandbox.h"
#include "sandbox/worker_locator.h"

#include <iostream>
#include <optional>

namespace sandhost::cli {

int validate_command(const std::vector<std::string>& raw)
{
    static const std::vector<OptionSpec> options = {
        {"print", "", "print the fully resolved settings as YAML"},
        {"no-plugins", "", "check the configuration alone: load no plugin, run no plugin code"},
        {"config", "FILE", "the configuration file (or give it as the argument)"},
        {"help", "", "show this help"},
    };
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        std::cout << "usage: sandhost validate CONFIG [--print] [--no-plugins]\n\nChecks a configuration and reports every error as "
                     "FILE:LINE:COLUMN: message.\nExit status 0 when valid, 2 otherwise.\n\nTo check the tasks that queues and schedules "
                     "name, each library in the plugin dirs is\nloaded in a worker process of its own and asked for its tasks: its "
                     "constructors run,\nits init hook and its tasks never do. With --no-plugins no plugin is loaded and\nno plugin "
                     "code runs; task names are then checked for their form only.\n\nPrivilege settings are checked against what "
                     "this process could grant its\nworkers (user and group need CAP_SETUID and CAP_SETGID, network: none needs\n"
                     "CAP_SYS_ADMIN): run validate as the user the host runs as.\n\n"
                  << describe_options(options);
        return k_exit_ok;
    }
    std::string file;
    if (auto flag = args.get("config")) file = *flag;
    if (args.positional.size() == 1 && file.empty()) file = args.positional[0];
    if (file.empty() || args.positional.size() > 1) throw UsageError("expected one CONFIG file");
    const bool plugins = !args.has("no-plugins");
    std::optional<sandbox::Sandbox> sandbox;
    if (plugins) sandbox.emplace();
    const config::LoadOptions load = host_load_options(plugins ? &*sandbox : nullptr);
    const int status = config::run_validate(file, args.has("print"), std::cout, std::cerr, load);
    if (status == config::k_validate_ok) {
        // What ran on the way, so that nobody is surprised by a plugin's side effects.
        std::cout << (args.has("print") ? "# " : "")
                  << (plugins ? "plugins: each library in the plugin dirs was loaded in a worker process to list its tasks (its "
                                "constructors ran; no init hook and no task did)\n"
                              : "plugins: not loaded (--no-plugins): no plugin code ran, and the tasks named were checked for their form "
                                "only\n");
    }
    return status;
}

} // namespace sandhost::cli
