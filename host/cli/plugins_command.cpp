#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "sandbox/sandbox.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <iostream>

namespace sandhost::cli {

int plugins_command(const std::vector<std::string>& raw)
{
    static const std::vector<OptionSpec> options = {
        {"plugin-dir", "DIR", "a directory to list (repeatable)", true},
        {"json", "", "print a JSON array"},
        {"help", "", "show this help"},
    };
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        std::cout << "usage: sandhost plugins [--plugin-dir DIR]... [--json]\n\nLists every plugin library and its tasks, each "
                     "loaded in a worker process;\na library that cannot be loaded is listed with the reason.\n\n"
                  << describe_options(options);
        return k_exit_ok;
    }
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    const auto catalog = sandbox::scan_plugins(plugin_dirs_from(args.all("plugin-dir")), sandbox::WorkerConfig::defaults());
    bool all_ok = true;
    if (args.has("json")) {
        Poco::JSON::Array list;
        for (const auto& plugin : catalog.plugins) {
            Poco::JSON::Object entry(Poco::JSON_PRESERVE_KEY_ORDER);
            entry.set("name", plugin.name);
            entry.set("path", plugin.path.string());
            entry.set("version", plugin.version);
            Poco::JSON::Array tasks;
            for (const auto& task : plugin.tasks) {
                Poco::JSON::Object t(Poco::JSON_PRESERVE_KEY_ORDER);
                t.set("name", task.name);
                t.set("description", task.description);
                tasks.add(t);
            }
            entry.set("tasks", tasks);
            if (!plugin.ok()) entry.set("error", plugin.error);
            all_ok = all_ok && plugin.ok();
            list.add(entry);
        }
        list.stringify(std::cout);
        std::cout << std::endl;
    } else {
        if (catalog.plugins.empty()) std::cout << "no plugins found\n";
        for (const auto& plugin : catalog.plugins) {
            if (!plugin.ok()) {
                all_ok = false;
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
