// What monitoring reads: /healthz (the process answers), /readyz (the configuration is loaded
// and the store answers) and /metrics (Prometheus text: what this process counted, job states
// read from the store, this host's workers, and the usual process figures).
#include "api/prometheus.h"
#include "api/routes.h"

#include "model/host_record.h"
#include "model/json_text.h"
#include "model/version.h"
#include "os/fd.h"
#include "os/proc.h"
#include "scheduler/schedule_clock.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <map>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

namespace sandhost::api {
namespace {

using Clock = std::chrono::system_clock;

// When this process started, in seconds since the epoch: boot time plus its start in clock ticks.
std::optional<double> process_start_seconds()
{
    std::ifstream stat_file("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    // After "pid (comm) ": state is field 3; starttime is field 22.
    for (int i = 3; i <= 22 && fields >> field; ++i) {
        if (i < 22) continue;
        std::ifstream proc_stat("/proc/stat");
        for (std::string line; std::getline(proc_stat, line);) {
            if (line.rfind("btime ", 0) == 0) {
                return std::stod(line.substr(6)) + std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
            }
        }
    }
    return std::nullopt;
}

void histogram(PrometheusText& text, const std::string& name, const std::string& queue, const scheduler::Metrics::Histogram& h,
               const double* bounds, std::size_t bound_count)
{
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bound_count; ++i) {
        cumulative += i < h.counts.size() ? h.counts[i] : 0;
        const std::string le = i < bound_count ? PrometheusText::number(bounds[i]) : "+Inf";
        text.sample(name + "_bucket", {{"queue", queue}, {"le", le}}, static_cast<double>(cumulative));
    }
    text.sample(name + "_sum", {{"queue", queue}}, h.sum);
    text.sample(name + "_count", {{"queue", queue}}, static_cast<double>(h.count));
}

void counted_metrics(PrometheusText& text, const scheduler::Metrics::Snapshot& counts)
{
    text.family("sandhost_attempts_total", "counter", "Attempts this process ran, by queue, task and outcome.");
    for (const auto& [labels, count] : counts.attempts) {
        const auto& [queue, task, outcome] = labels;
        text.sample("sandhost_attempts_total", {{"queue", queue}, {"task", task}, {"outcome", outcome}}, static_cast<double>(count));
    }
    text.family("sandhost_attempt_duration_seconds", "histogram", "How long the attempts this process ran took, by queue.");
    for (const auto& [queue, h] : counts.attempt_duration) {
        histogram(text, "sandhost_attempt_duration_seconds", queue, h, scheduler::Metrics::k_duration_buckets.data(),
                  scheduler::Metrics::k_duration_buckets.size());
    }
    text.family("sandhost_queue_wait_seconds", "histogram",
                "How long jobs waited from when they could run until this process started them, by queue.");
    for (const auto& [queue, h] : counts.queue_wait) {
        histogram(text, "sandhost_queue_wait_seconds", queue, h, scheduler::Metrics::k_wait_buckets.data(),
                  scheduler::Metrics::k_wait_buckets.size());
    }
    text.family("sandhost_jobs_enqueued_total", "counter", "Jobs this process stored (API calls and schedules), by queue.");
    for (const auto& [queue, count] : counts.enqueued) text.sample("sandhost_jobs_enqueued_total", {{"queue", queue}}, static_cast<double>(count));
}

// Read from the store, so that `sandhost serve` shows them too. False when the store failed.
bool store_metrics(PrometheusText& text, Context& context)
{
    const auto settings = context.settings();
    std::vector<std::string> names;
    for (const auto& queue : settings->queues) names.push_back(queue.name);
    std::map<std::string, store::QueueCounts> counts;
    std::vector<model::HostRecord> hosts;
    std::optional<store::StoreSize> size;
    std::vector<std::pair<const config::ScheduleSettings*, std::optional<model::TimePoint>>> schedules;
    try {
        counts = context.store().queue_counts(names);
        hosts = context.store().hosts();
        size = context.store().size();
        for (const auto& schedule : settings->schedules) schedules.emplace_back(&schedule, context.store().schedule_last_fire(schedule.name));
    } catch (const std::exception& e) {
        spdlog::warn("api: /metrics cannot read the store: {}", e.what());
        return false;
    }
    text.family("sandhost_jobs", "gauge", "Jobs in the store, by queue and state.");
    for (const auto& [queue, by_queue] : counts) {
        for (const auto& [state, count] : by_queue.by_state) {
            text.sample("sandhost_jobs", {{"queue", queue}, {"state", model::to_string(state)}}, static_cast<double>(count));
        }
    }
    text.family("sandhost_queue_paused", "gauge", "Whether the queue is paused on every host (1) or not (0).");
    for (const auto& [queue, by_queue] : counts) text.sample("sandhost_queue_paused", {{"queue", queue}}, by_queue.paused ? 1 : 0);
    const auto read_at = Clock::now();
    text.family("sandhost_queue_latency_seconds", "gauge",
                "How long the queue's job that may run and has waited longest has waited (0 when no job is due).");
    for (const auto& [queue, by_queue] : counts) {
        text.sample("sandhost_queue_latency_seconds", {{"queue", queue}}, static_cast<double>(store::latency(by_queue, read_at).count()) / 1000.0);
    }
    if (size) {
        text.family("sandhost_store_file_bytes", "gauge", "Size of the SQLite store file, its -wal file apart.");
        text.sample("sandhost_store_file_bytes", {}, static_cast<double>(size->file_bytes));
        text.family("sandhost_store_wal_bytes", "gauge", "Size of the SQLite store's -wal file (commits not yet checkpointed into the file).");
        text.sample("sandhost_store_wal_bytes", {}, static_cast<double>(size->wal_bytes));
        text.family("sandhost_store_free_bytes", "gauge",
                    "Bytes of free pages in the SQLite store file: reused by new jobs, given back by sandhost compact.");
        text.sample("sandhost_store_free_bytes", {}, static_cast<double>(size->free_bytes));
    }

    const auto now = Clock::now();
    // A schedule that stopped firing (no host serves the store) shows as a last fire that grows
    // old: time() - sandhost_schedule_last_fire_timestamp_seconds.
    const auto seconds = [](model::TimePoint t) { return static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count()) / 1000.0; };
    text.family("sandhost_schedule_last_fire_timestamp_seconds", "gauge",
                "When the schedule last fired (or was first seen by a host), in seconds since the Unix epoch.");
    for (const auto& [schedule, last] : schedules) {
        if (last) text.sample("sandhost_schedule_last_fire_timestamp_seconds", {{"schedule", schedule->name}}, seconds(*last));
    }
    text.family("sandhost_schedule_next_fire_timestamp_seconds", "gauge", "When the schedule fires next, in seconds since the Unix epoch.");
    for (const auto& [schedule, last] : schedules) {
        if (const auto next = scheduler::next_fire_time(*schedule, last.value_or(now))) {
            text.sample("sandhost_schedule_next_fire_timestamp_seconds", {{"schedule", schedule->name}}, seconds(*next));
        }
    }

    const auto stale_after = context.settings()->host.lease;
    std::map<std::string, int> host_states{{"alive", 0}, {"silent", 0}, {"stopped", 0}};
    for (const auto& host : hosts) ++host_states[host.stopped_at ? "stopped" : host.alive(now, stale_after) ? "alive" : "silent"];
    text.family("sandhost_hosts", "gauge", "Hosts that registered with the store, by state (alive: a heartbeat within the lease).");
    for (const auto& [state, count] : host_states) text.sample("sandhost_hosts", {{"state", state}}, count);

    // Broken plugins: this host's own record when it runs here, else every live host's.
    const scheduler::Host* local = context.options.host;
    std::map<std::string, int> broken;
    for (const auto& host : hosts) {
        const bool counts_here = local ? host.name == settings->host.name : host.alive(now, stale_after);
        if (!counts_here) continue;
        std::vector<model::BrokenPlugin> refused = host.status.broken_plugins;
        if (local) refused = context.options.host->sandbox().broken_plugins();
        for (const auto& plugin : host.catalog.plugins) {
            int& value = broken[plugin.name];
            for (const auto& b : refused) {
                if (b.path == plugin.path.string()) value = 1;
            }
        }
    }
    text.family("sandhost_plugin_broken", "gauge", "Whether the plugin is refused for now after failing to load (1) or not (0).");
    for (const auto& [plugin, value] : broken) text.sample("sandhost_plugin_broken", {{"plugin", plugin}}, value);
    return true;
}

void host_metrics(PrometheusText& text, Context& context)
{
    scheduler::Host* host = context.options.host;
    std::map<std::pair<std::string, std::string>, int> workers;
    if (host) {
        for (const auto& worker : host->sandbox().workers()) {
            ++workers[{model::to_string(worker.mode), model::name_in(model::k_worker_role_names, worker.role)}];
        }
    }
    text.family("sandhost_workers", "gauge", "Worker processes of this host, by isolation mode and state (job, fork_server, idle).");
    for (const auto& [labels, count] : workers) text.sample("sandhost_workers", {{"mode", labels.first}, {"state", labels.second}}, count);
    text.family("sandhost_running_attempts", "gauge", "Attempts this host runs now.");
    text.family("sandhost_claimed_ahead", "gauge", "Jobs this host claimed ahead of a free slot (a queue's prefetch), not started yet.");
    if (!host) return;
    const auto stats = host->stats();
    text.sample("sandhost_running_attempts", {}, static_cast<double>(stats.running));
    text.sample("sandhost_claimed_ahead", {}, static_cast<double>(stats.claimed_ahead));
    const struct {
        const char* name;
        const char* help;
        std::uint64_t value;
    } counters[] = {
        {"sandhost_jobs_trimmed_total", "Finished jobs this host's retention deleted.", stats.trimmed},
        {"sandhost_attempts_recovered_total", "Lost attempts (of a host that stopped or died) this host recorded.", stats.recovered},
        {"sandhost_host_errors_total", "Attempts this host put back uncharged because it was short of resources itself.", stats.host_errors},
        {"sandhost_leases_expired_total", "Attempts stopped because their lease ran out unrenewed.", stats.leases_expired},
        {"sandhost_results_refused_total", "Results the store refused because their lease was no longer held.", stats.refused},
        {"sandhost_records_dropped_total", "Attempt records given up: more waited for a failing store than the host keeps.", stats.records_dropped},
    };
    for (const auto& counter : counters) {
        text.family(counter.name, "counter", counter.help);
        text.sample(counter.name, {}, static_cast<double>(counter.value));
    }
    text.family("sandhost_records_waiting", "gauge", "Attempt records waiting for a failing store to answer again.");
    text.sample("sandhost_records_waiting", {}, static_cast<double>(stats.unrecorded));
}

void process_metrics(PrometheusText& text)
{
    const pid_t self = ::getpid();
    text.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    text.sample("process_cpu_seconds_total", {}, static_cast<double>(os::read_cpu_ms(self).value_or(0)) / 1000.0);
    const auto memory = os::read_memory(self).value_or(os::MemorySample{});
    text.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    text.sample("process_resident_memory_bytes", {}, static_cast<double>(memory.rss_kb) * 1024);
    text.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    text.sample("process_virtual_memory_bytes", {}, static_cast<double>(memory.size_kb) * 1024);
    text.family("process_open_fds", "gauge", "Number of open file descriptors.");
    text.sample("process_open_fds", {}, static_cast<double>(os::open_descriptors().size()));
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        text.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
        text.sample("process_max_fds", {}, static_cast<double>(limit.rlim_cur));
    }
    if (const auto start = process_start_seconds()) {
        text.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
        text.sample("process_start_time_seconds", {}, *start);
    }
}

} // namespace

void get_healthz(Context&, Exchange& exchange) { exchange.reply_json(200, model::JsonObject().text("status", "ok").str()); }

void get_readyz(Context& context, Exchange& exchange)
{
    if (!context.settings()) throw ApiError(503, "unavailable", "no configuration is loaded");
    try {
        context.store().paused_queues();
    } catch (const std::exception& e) {
        throw ApiError(503, "unavailable", std::string("the store does not answer: ") + e.what());
    }
    exchange.reply_json(200, model::JsonObject().text("status", "ready").str());
}

void get_metrics(Context& context, Exchange& exchange)
{
    PrometheusText text;
    text.family("sandhost_build_info", "gauge", "The running sandhost's version (always 1).");
    text.sample("sandhost_build_info", {{"version", model::version()}}, 1);
    const bool store_up = store_metrics(text, context);
    text.family("sandhost_store_up", "gauge", "Whether this scrape could read the store (1) or not (0).");
    text.sample("sandhost_store_up", {}, store_up ? 1 : 0);
    const auto counts = context.options.metrics ? context.options.metrics->snapshot() : scheduler::Metrics::Snapshot{};
    counted_metrics(text, counts);
    text.family("sandhost_store_errors_total", "counter", "Store calls of this process that failed.");
    text.sample("sandhost_store_errors_total", {}, static_cast<double>(counts.store_errors));
    host_metrics(text, context);
    text.family("sandhost_event_streams", "gauge", "Open /api/v1/events streams.");
    text.sample("sandhost_event_streams", {}, context.event_streams.load());
    process_metrics(text);
    exchange.reply(200, "text/plain; version=0.0.4; charset=utf-8", text.str());
}

} // namespace sandhost::api
