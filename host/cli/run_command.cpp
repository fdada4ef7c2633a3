#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/host_context.h"
#include "config/load.h"
#include "os/signal_watch.h"
#include "sandbox/sandbox.h"
#include "scheduler/event_log.h"
#include "scheduler/host.h"
#include "scheduler/store_factory.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <mutex>

namespace sandhost::cli {

int run_command(const std::vector<std::string>& raw)
{
    const std::vector<OptionSpec> options = {
        config_option(),
        {"drain", "DUR", "on SIGTERM/SIGINT, how long running attempts may finish (default 30s)"},
        {"help", "", "show this help"},
    };
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        std::cout << "usage: sandhost run --config FILE [--drain DUR]\n\nServes the configuration's queues in the foreground until "
                     "SIGTERM or SIGINT,\nwhich stop claiming, let running attempts finish until the drain deadline, then\nstop their "
                     "workers (their jobs run again later). SIGHUP reloads the configuration;\nan invalid file is refused and the "
                     "running settings stay.\n\n"
                  << describe_options(options);
        return k_exit_ok;
    }
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    scheduler::HostOptions host_options;
    if (auto v = args.get("drain")) host_options.drain = parse_duration_flag("drain", *v);

    // Signals first, before any thread exists, so that every thread inherits them blocked.
    std::mutex host_mutex;
    scheduler::Host* host = nullptr;
    bool stop_early = false;
    std::shared_ptr<const config::Settings> settings;
    os::SignalWatch signals({SIGINT, SIGTERM, SIGHUP}, [&](int sig) {
        std::lock_guard lock(host_mutex);
        if (sig != SIGHUP) {
            if (host) host->stop();
            else stop_early = true;
            return;
        }
        scheduler::log_event(spdlog::level::info, "config reload requested",
                             {{"file", settings ? settings->source_file.string() : std::string("?")}});
        // Refused reloads are log events too: in a JSON log, one object with every error.
        config::LoadOptions load;
        sandbox::Sandbox scanner;
        load.catalog = [&scanner](const std::vector<std::filesystem::path>& dirs) { return scanner.scan_plugins(dirs); };
        auto reloaded = config::load_config(config_file(args), load);
        if (!reloaded.ok()) {
            std::string errors;
            for (const auto& error : reloaded.errors) errors += (errors.empty() ? "" : "\n") + error.to_string();
            scheduler::log_event(spdlog::level::err, "config reload refused",
                                 {{"errors", errors}, {"count", std::int64_t(reloaded.errors.size())}});
            return;
        }
        if (host) host->reload(std::move(reloaded.settings));
    });

    settings = load_settings(args, true);
    scheduler::configure_logging(settings->host.log);
    auto store = scheduler::open_configured_store(settings->host.store);
    scheduler::Host served(settings, store, host_options);
    {
        std::lock_guard lock(host_mutex);
        host = &served;
        if (stop_early) served.stop();
    }
    served.run();
    {
        std::lock_guard lock(host_mutex);
        host = nullptr;
    }
    return k_exit_ok;
}

} // namespace sandhost::cli
