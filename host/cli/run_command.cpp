#include "api/server.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/serving.h"
#include "cli/common.h"
#include "cli/host_context.h"
#include "config/load.h"
#include "os/fd.h"
#include "os/signal_watch.h"
#include "sandbox/sandbox.h"
#include "scheduler/counted_store.h"
#include "scheduler/event_log.h"
#include "scheduler/host.h"
#include "scheduler/store_factory.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <mutex>

namespace sandhost::cli {
namespace {

// Descriptors a running worker holds open in the host (its channel, output pipes, process
// handle, and its control group's files, kept open: up to 8 on cgroup v1) with room to spare,
// and what the host needs besides.
constexpr std::uint64_t k_descriptors_per_worker = 16;
constexpr std::uint64_t k_descriptors_base = 64;

// Raises the soft descriptor limit to the hard one, and warns when even that is short for
// max_workers: starts failing for want of descriptors are then the host's (they use no attempt
// and lower its concurrency), but the operator should know.
void check_descriptor_limit(std::uint32_t max_workers)
{
    const auto limit = os::raise_descriptor_limit();
    const std::uint64_t wanted = k_descriptors_base + k_descriptors_per_worker * max_workers;
    if (limit.now < wanted) {
        scheduler::log_event(spdlog::level::warn, "descriptor limit low",
                             {{"limit", std::int64_t(limit.now)}, {"wanted", std::int64_t(wanted)},
                              {"max_workers", std::int64_t(max_workers)},
                              {"hint", std::string("raise LimitNOFILE (systemd) or ulimit -n; the host lowers its concurrency when short")}});
    } else if (limit.now != limit.before) {
        spdlog::debug("descriptor limit raised from {} to {}", limit.before, limit.now);
    }
}

} // namespace

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
                     "running settings stay. With api.listen set, it also\nserves the HTTP API, the dashboard and /metrics "
                     "(docs/api.md).\n\n"
                  << describe_options(options);
        return k_exit_ok;
    }
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    scheduler::HostOptions host_options;
    if (auto v = args.get("drain")) host_options.drain = parse_duration_flag("drain", *v);

    // Signals first, before any thread exists, so that every thread inherits them blocked.
    std::mutex host_mutex;
    scheduler::Host* host = nullptr;
    api::ApiServer* api_server = nullptr;
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
        sandbox::Sandbox scanner;
        const config::LoadOptions load = host_load_options(&scanner);
        auto reloaded = config::load_config(config_file(args), load);
        if (!reloaded.ok()) {
            std::string errors;
            for (const auto& error : reloaded.errors) errors += (errors.empty() ? "" : "\n") + error.to_string();
            scheduler::log_event(spdlog::level::err, "config reload refused",
                                 {{"errors", errors}, {"count", std::int64_t(reloaded.errors.size())}});
            return;
        }
        if (api_server) api_server->reload(reloaded.settings);
        if (host) host->reload(std::move(reloaded.settings));
    });

    settings = load_settings(args, true);
    configure_logging(settings->host.log);
    check_descriptor_limit(settings->host.max_workers);
    host_options.metrics = std::make_shared<scheduler::Metrics>();
    auto store = std::make_shared<scheduler::CountedStore>(scheduler::open_configured_store(settings->host, scheduler::StoreUser::host),
                                                           host_options.metrics);
    scheduler::Host served(settings, store, host_options);
    // Serving before the host runs: /readyz and the dashboard answer while it starts.
    const auto served_api = start_api(settings, &served, host_options.metrics);
    {
        std::lock_guard lock(host_mutex);
        host = &served;
        api_server = served_api.get();
        if (stop_early) served.stop();
    }
    served.run();
    {
        std::lock_guard lock(host_mutex);
        host = nullptr;
        api_server = nullptr;
    }
    if (served_api) served_api->stop();
    return k_exit_ok;
}

} // namespace sandhost::cli
