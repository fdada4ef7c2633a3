#include "cli/args.h"
#include "cli/cli.h"
#include "config/validate.h"
#include "sandbox/sandbox.h"
#include "sandbox/worker_locator.h"

#include <iostream>

namespace sandhost::cli {

int validate_command(const std::vector<std::string>& raw)
{
    static const std::vector<OptionSpec> options = {
        {"print", "", "print the fully resolved settings as YAML"},
        {"config", "FILE", "the configuration file (or give it as the argument)"},
        {"help", "", "show this help"},
    };
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        std::cout << "usage: sandhost validate CONFIG [--print]\n\nChecks a configuration, plugins included (each loaded in a "
                     "worker), and reports every\nerror as FILE:LINE:COLUMN: message. Exit status 0 when valid, 2 otherwise.\n\n"
                  << describe_options(options);
        return k_exit_ok;
    }
    std::string file;
    if (auto flag = args.get("config")) file = *flag;
    if (args.positional.size() == 1 && file.empty()) file = args.positional[0];
    if (file.empty() || args.positional.size() > 1) throw UsageError("expected one CONFIG file");
    config::LoadOptions load;
    load.default_plugin_dirs = sandbox::shipped_plugin_dirs();
    sandbox::Sandbox sandbox;
    load.catalog = [&sandbox](const std::vector<std::filesystem::path>& dirs) { return sandbox.scan_plugins(dirs); };
    return config::run_validate(file, args.has("print"), std::cout, std::cerr, load);
}

} // namespace sandhost::cli
