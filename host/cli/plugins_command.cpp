#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "sandbox/isolation_support.h"
#include "sandbox/sandbox.h"

#include <iostream>

namespace sandhost::cli {

int plugins_command(const std::vector<std::string>& raw)
{
    static const std::vector<OptionSpec> options = {
        {"plugin-dir", "DIR", "a directory to list (repeatable)", true},
        {"json", "", "print a JSON array (with --isolation, an object)"},
        {"isolation", "", "say which worker privilege settings this machine supports, instead of listing plugins"},
        {"help", "", "show this help"},
    };
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        std::cout << "usage: sandhost plugins [--plugin-dir DIR]... [--json] [--isolation]\n\nLists every plugin library and its tasks, each "
                     "loaded in a worker process;\na library that cannot be loaded is listed with the reason.\n\n"
                  << describe_options(options);
        return k_exit_ok;
    }
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    if (args.has("isolation")) {
        const auto support = sandbox::isolation_support();
        std::cout << (args.has("json") ? support.to_json() : support.describe()) << std::endl;
        return k_exit_ok;
    }
    const auto catalog = sandbox::Sandbox().scan_plugins(plugin_dirs_from(args.all("plugin-dir")));
    bool all_ok = true;
    for (const auto& plugin : catalog.plugins) all_ok = all_ok && plugin.ok();
    if (args.has("json")) {
        std::string list = "[";
        for (const auto& plugin : catalog.plugins) list += (list.size() > 1 ? "," : "") + model::to_json(plugin);
        std::cout << list << "]" << std::endl;
    } else {
        if (catalog.plugins.empty()) std::cout << "no plugins found\n";
        for (const auto& plugin : catalog.plugins) {
            if (!plugin.ok()) {
                std::cout << plugin.name << "  BROKEN  " << plugin.path.string() << "\n    " << plugin.error << "\n";
                continue;
            }
            std::cout << plugin.name << " " << plugin.version << "  " << plugin.path.string() << "\n";
            for (const auto& task : plugin.tasks) {
                std::string name = "    " + plugin.name + "." + task.name;
                if (name.size() < 34) name.resize(34, ' ');
                std::cout << name << "  " << task.description << "\n";
            }
        }
    }
    return all_ok ? k_exit_ok : k_exit_failed;
}

} // namespace sandhost::cli
