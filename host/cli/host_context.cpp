#include "cli/host_context.h"

#include "config/load.h"
#include "config/suggest.h"
#include "sandbox/isolation_support.h"
#include "sandbox/sandbox.h"
#include "sandbox/worker_locator.h"
#include "scheduler/store_factory.h"

#include <cstdlib>
#include <iostream>

namespace sandhost::cli {

OptionSpec config_option() { return {"config", "FILE", "the configuration (default: $SANDHOST_CONFIG)"}; }

std::string config_file(const ParsedArgs& args)
{
    std::string file;
    if (auto flag = args.get("config")) file = *flag;
    else if (const char* env = std::getenv("SANDHOST_CONFIG"); env && *env) file = env;
    if (file.empty()) throw UsageError("--config FILE is required (or set SANDHOST_CONFIG)");
    return file;
}

config::LoadOptions host_load_options(sandbox::Sandbox* scanner)
{
    config::LoadOptions options;
    options.default_plugin_dirs = sandbox::shipped_plugin_dirs();
    if (scanner) options.catalog = [scanner](const std::vector<std::filesystem::path>& dirs) { return scanner->scan_plugins(dirs); };
    const auto support = sandbox::isolation_support();
    options.rights = config::WorkerRights{support.switch_user, support.network_namespace, support.mount_namespace};
    return options;
}

std::shared_ptr<const config::Settings> load_settings(const ParsedArgs& args, bool as_host)
{
    const std::string file = config_file(args);
    config::LoadOptions options;
    options.default_plugin_dirs = sandbox::shipped_plugin_dirs();
    std::optional<sandbox::Sandbox> sandbox;
    if (as_host) {
        sandbox.emplace();
        options = host_load_options(&*sandbox);
    }
    auto loaded = config::load_config(file, options);
    if (!loaded.ok()) {
        for (const auto& error : loaded.errors) std::cerr << error.to_string() << "\n";
        throw ConfigInvalid(file + " is not valid");
    }
    return loaded.settings;
}

HostContext open_host_context(const ParsedArgs& args)
{
    HostContext context;
    context.settings = load_settings(args, false);
    context.store = scheduler::open_configured_store(context.settings->host);
    return context;
}

const config::QueueSettings& require_queue(const config::Settings& settings, const std::string& name)
{
    if (const auto* queue = settings.find_queue(name)) return *queue;
    std::vector<std::string> names;
    for (const auto& q : settings.queues) names.push_back(q.name);
    throw UsageError("unknown queue '" + name + "'" + config::suggestion(name, names, "queues"));
}

} // namespace sandhost::cli
