// `sandhost hosts`: every host that serves this store, from the records hosts publish there.
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/host_context.h"
#include "cli/job_format.h"
#include "model/host_record.h"
#include "model/text.h"
#include "scheduler/host.h"

#include <iostream>
#include <sstream>

namespace sandhost::cli {
namespace {

std::string age(model::TimePoint then, model::TimePoint now)
{
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - then).count();
    if (seconds < 120) return std::to_string(std::max<long long>(seconds, 0)) + "s ago";
    if (seconds < 7200) return std::to_string(seconds / 60) + "m ago";
    return std::to_string(seconds / 3600) + "h ago";
}

} // namespace

int hosts_command(const std::vector<std::string>& raw)
{
    const std::vector<OptionSpec> options = {config_option(), {"json", "", "print a JSON array of host records"}, {"help", "", "show this help"}};
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        std::cout << "usage: sandhost hosts [--json]\n\nLists the hosts that serve this store: whether each is alive (its heartbeat is\n"
                     "younger than the lease), when it last beat, what it runs, its workers and plugins.\n\n"
                  << describe_options(options);
        return k_exit_ok;
    }
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    auto context = open_host_context(args);
    const auto hosts = context.store->hosts();
    const auto now = std::chrono::system_clock::now();
    const auto stale_after = context.settings->host.lease;
    if (args.has("json")) {
        std::string list = "[";
        for (const auto& host : hosts) list += (list.size() > 1 ? "," : "") + model::to_json(host, now, stale_after);
        std::cout << list << "]" << std::endl;
        return k_exit_ok;
    }
    if (hosts.empty()) {
        std::cout << "no host has served this store yet\n";
        return k_exit_ok;
    }
    for (const auto& host : hosts) {
        const char* state = host.stopped_at ? "stopped" : host.alive(now, stale_after) ? "alive" : "silent";
        std::cout << model::printable(host.name) << "  " << state << "  " << model::printable(host.holder) << "  sandhost "
                  << model::printable(host.version) << "\n";
        std::cout << "    heartbeat " << age(host.heartbeat_at, now) << (host.stopped_at ? ", stopped " + age(*host.stopped_at, now) : "")
                  << "; running " << host.status.running.size() << ", workers " << host.status.workers.size() << "\n";
        for (const auto& r : host.status.running) {
            std::cout << "    job " << r.job << " attempt " << r.attempt << "  " << model::printable(r.queue) << "  " << model::printable(r.task)
                      << "  pid " << r.pid << "\n";
        }
        for (const auto& w : host.status.workers) {
            std::cout << "    worker " << w.pid << "  " << model::to_string(w.mode) << " " << model::name_in(model::k_worker_role_names, w.role)
                      << "  " << model::printable(w.plugin) << "  " << w.rss_kb << " KiB\n";
        }
        std::size_t tasks = 0;
        for (const auto& p : host.catalog.plugins) tasks += p.tasks.size();
        std::cout << "    plugins " << host.catalog.plugins.size() << " (" << tasks << " tasks)";
        for (const auto& b : host.status.broken_plugins) std::cout << "; broken: " << model::printable(b.path);
        std::cout << "\n";
    }
    return k_exit_ok;
}

} // namespace sandhost::cli
