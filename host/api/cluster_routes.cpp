// What the store knows beyond jobs: /api/v1/hosts (each host's record, heartbeat, running
// attempts and workers), /api/v1/plugins (the published catalogs and broken plugins, by
// plugin), /api/v1/schedules (each schedule with its last and next fire times, and running one
// by hand).
#include "api/routes.h"

#include "model/host_record.h"
#include "model/json_text.h"
#include "model/text.h"
#include "os/time_format.h"
#include "scheduler/enqueue_policy.h"
#include "scheduler/schedule_clock.h"

#include <map>

namespace sandhost::api {
namespace {

using Clock = std::chrono::system_clock;

// A host whose heartbeat is older than the lease is not alive (as `sandhost hosts` says).
model::Duration stale_after(const Context& context) { return context.settings()->host.lease; }

} // namespace

void get_hosts(Context& context, Exchange& exchange)
{
    const auto now = Clock::now();
    std::string list = "[";
    for (const auto& host : context.store().hosts()) list += (list.size() > 1 ? "," : "") + model::to_json(host, now, stale_after(context));
    exchange.reply_json(200, model::JsonObject().raw("hosts", list + "]").str());
}

void get_plugins(Context& context, Exchange& exchange)
{
    const auto now = Clock::now();
    // By plugin name: what each host that published a catalog found, and whether it has the
    // plugin on its broken list now.
    struct Seen {
        std::string version;
        std::map<std::string, std::string> tasks;  // name -> description, every host's together
        std::vector<std::string> hosts;            // one JSON object per host
        bool loadable_somewhere = false;
        bool broken_somewhere = false;
    };
    std::map<std::string, Seen> plugins;
    for (const auto& host : context.store().hosts()) {
        if (host.catalog_at.time_since_epoch().count() == 0) continue;
        for (const auto& plugin : host.catalog.plugins) {
            Seen& seen = plugins[plugin.name];
            if (seen.version.empty()) seen.version = plugin.version;
            for (const auto& task : plugin.tasks) seen.tasks.emplace(task.name, task.description);
            seen.loadable_somewhere = seen.loadable_somewhere || plugin.ok();
            model::JsonObject on_host;
            on_host.text("host", host.name).boolean("alive", host.alive(now, stale_after(context))).text("path", plugin.path.string());
            on_host.text("version", plugin.version);
            if (plugin.ok()) on_host.null("error");
            else on_host.text("error", plugin.error);
            const model::BrokenPlugin* broken = nullptr;
            for (const auto& b : host.status.broken_plugins) {
                if (b.path == plugin.path.string()) broken = &b;
            }
            if (broken) {
                seen.broken_somewhere = true;
                on_host.raw("broken", model::JsonObject()
                                          .text("error", broken->error)
                                          .number("failures", std::int64_t(broken->failures))
                                          .text("until", os::format_utc(broken->until))
                                          .str());
            } else {
                on_host.null("broken");
            }
            seen.hosts.push_back(on_host.str());
        }
    }
    std::string list = "[";
    for (const auto& [name, seen] : plugins) {
        std::string tasks = "[";
        for (const auto& [task, description] : seen.tasks) {
            tasks += (tasks.size() > 1 ? "," : "") + model::JsonObject().text("name", task).text("description", description).str();
        }
        std::string hosts = "[";
        for (const auto& host : seen.hosts) hosts += (hosts.size() > 1 ? "," : "") + host;
        const char* health = !seen.loadable_somewhere ? "unloadable" : seen.broken_somewhere ? "broken" : "ok";
        list += (list.size() > 1 ? "," : "") + model::JsonObject()
                                                   .text("name", name)
                                                   .text("version", seen.version)
                                                   .text("health", health)
                                                   .raw("tasks", tasks + "]")
                                                   .raw("hosts", hosts + "]")
                                                   .str();
    }
    exchange.reply_json(200, model::JsonObject().raw("plugins", list + "]").str());
}

void get_schedules(Context& context, Exchange& exchange)
{
    const auto settings = context.settings();
    const auto now = Clock::now();
    std::string list = "[";
    for (const auto& schedule : settings->schedules) {
        list += (list.size() > 1 ? "," : "") + scheduler::schedule_json(schedule, context.store().schedule_last_fire(schedule.name), now);
    }
    exchange.reply_json(200, model::JsonObject().raw("schedules", list + "]").str());
}

void post_schedule_run(Context& context, Exchange& exchange)
{
    const auto settings = context.settings();
    const config::ScheduleSettings* schedule = nullptr;
    try {
        schedule = &scheduler::schedule_named(*settings, exchange.path()[3]);
    } catch (const std::invalid_argument& e) {
        throw ApiError(404, "not_found", e.what());
    }
    scheduler::Enqueued enqueued;
    try {
        enqueued = scheduler::enqueue(context.store(), *settings, scheduler::schedule_request(*schedule), Clock::now());
    } catch (const scheduler::EnqueueError& e) {
        throw ApiError(422, "invalid_job", e.what());
    }
    if (context.options.metrics) context.options.metrics->enqueued(schedule->queue);
    for (const auto& note : enqueued.notes) exchange.response().add("Sandhost-Note", note);
    exchange.response().set("Location", "/api/v1/jobs/" + std::to_string(enqueued.id));
    exchange.reply_json(201, job_json(context, enqueued.id));
}

} // namespace sandhost::api
