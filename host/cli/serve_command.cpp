// `sandhost serve`: the HTTP API and the dashboard over a store, without running jobs (a
// dashboard apart from the workers). Also what `run` uses to serve the API beside its host.
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/host_context.h"
#include "cli/serving.h"
#include "os/signal_watch.h"
#include "scheduler/counted_store.h"
#include "scheduler/event_log.h"
#include "scheduler/store_factory.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <csignal>
#include <iostream>
#include <mutex>

namespace sandhost::cli {

void configure_logging(const config::LogSettings& log)
{
    spdlog::level::level_enum level = spdlog::level::info;
    switch (log.level) {
    case config::LogLevel::trace: level = spdlog::level::trace; break;
    case config::LogLevel::debug: level = spdlog::level::debug; break;
    case config::LogLevel::info: level = spdlog::level::info; break;
    case config::LogLevel::warn: level = spdlog::level::warn; break;
    case config::LogLevel::error: level = spdlog::level::err; break;
    }
    scheduler::configure_logging(level, log.format == config::LogFormat::json ? scheduler::LogFormat::json : scheduler::LogFormat::text);
}

std::unique_ptr<api::ApiServer> start_api(const std::shared_ptr<const config::Settings>& settings, scheduler::Host* host,
                                          const std::shared_ptr<scheduler::Metrics>& metrics)
{
    if (!settings->api.listen) return nullptr;
    api::ApiOptions options;
    options.settings = settings;
    // A connection of its own: the API's reads never wait for the host's calls, nor the host's for them.
    options.store = std::make_shared<scheduler::CountedStore>(scheduler::open_configured_store(settings->host), metrics);
    options.host = host;
    options.metrics = metrics;
    return std::make_unique<api::ApiServer>(std::move(options));
}

int serve_command(const std::vector<std::string>& raw)
{
    const std::vector<OptionSpec> options = {config_option(), {"help", "", "show this help"}};
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        std::cout << "usage: sandhost serve --config FILE\n\nServes the HTTP API, the dashboard and /metrics of the configuration's "
                     "store\n(api.listen) without running any job, until SIGTERM or SIGINT. SIGHUP reloads\nthe configuration. "
                     "See docs/api.md.\n\n"
                  << describe_options(options);
        return k_exit_ok;
    }
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");

    // Signals first, before any thread exists, so that every thread inherits them blocked.
    std::mutex mutex;
    std::condition_variable stopped;
    bool stop = false;
    api::ApiServer* server = nullptr;
    os::SignalWatch signals({SIGINT, SIGTERM, SIGHUP}, [&](int sig) {
        std::lock_guard lock(mutex);
        if (sig != SIGHUP) {
            stop = true;
            stopped.notify_all();
            return;
        }
        try {
            auto reloaded = load_settings(args, false);
            if (server) server->reload(std::move(reloaded));
        } catch (const std::exception& e) {
            spdlog::error("reload refused, the running settings stay: {}", e.what());
        }
    });

    const auto settings = load_settings(args, false);
    if (!settings->api.listen) throw UsageError(settings->source_file.string() + " sets no api.listen: there is nothing to serve");
    configure_logging(settings->host.log);
    const auto served = start_api(settings, nullptr, std::make_shared<scheduler::Metrics>());
    std::unique_lock lock(mutex);
    server = served.get();
    stopped.wait(lock, [&] { return stop; });
    server = nullptr;
    lock.unlock();
    served->stop();
    scheduler::log_event(spdlog::level::info, "api stopped", {});
    return k_exit_ok;
}

} // namespace sandhost::cli
