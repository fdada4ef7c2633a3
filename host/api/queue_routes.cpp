// /api/v1/queues: every queue with its counts by state and its pause, and pausing and
// resuming a configured queue on every host of the store.
#include "api/routes.h"

#include "config/suggest.h"
#include "model/json_text.h"
#include "model/retention.h"
#include "model/text.h"

namespace sandhost::api {
namespace {

void set_paused(Context& context, Exchange& exchange, bool paused)
{
    const std::string& name = exchange.path()[3];
    const auto settings = context.settings();
    if (!settings->find_queue(name)) {
        std::vector<std::string> names;
        for (const auto& queue : settings->queues) names.push_back(queue.name);
        throw ApiError(404, "not_found", "unknown queue '" + name + "'" + config::suggestion(name, names, "queues"));
    }
    context.store().set_paused(name, paused);
    exchange.reply_json(200, model::JsonObject().text("name", name).boolean("paused", paused).str());
}

std::string tasks_json(const config::QueueSettings& queue)
{
    std::string list = "[";
    for (const auto& pattern : queue.tasks) list += (list.size() > 1 ? "," : "") + model::json_string(pattern.to_string());
    return list + "]";
}

} // namespace

void get_queues(Context& context, Exchange& exchange)
{
    const auto settings = context.settings();
    std::vector<std::string> names;
    for (const auto& queue : settings->queues) names.push_back(queue.name);
    std::string list = "[";
    for (const auto& [name, counts] : context.store().queue_counts(names)) {
        model::JsonObject counts_json;
        std::uint64_t total = 0;
        for (const auto& [state, count] : counts.by_state) {
            counts_json.number(model::to_string(state), static_cast<std::int64_t>(count));
            total += count;
        }
        model::JsonObject queue;
        queue.text("name", name).boolean("paused", counts.paused).raw("counts", counts_json.str()).number("total", static_cast<std::int64_t>(total));
        const config::QueueSettings* configured = settings->find_queue(name);
        queue.boolean("configured", configured != nullptr);
        if (configured) {
            queue.raw("tasks", tasks_json(*configured));
            queue.number("concurrency", std::int64_t(configured->concurrency));
            queue.number("prefetch", std::int64_t(configured->prefetch));
            if (configured->rate_limit) {
                queue.raw("rate_limit", model::JsonObject()
                                            .number("jobs", static_cast<std::int64_t>(configured->rate_limit->jobs))
                                            .text("per", model::format_duration(configured->rate_limit->per))
                                            .str());
            } else {
                queue.null("rate_limit");
            }
            queue.number("max_attempts", std::int64_t(configured->retry.max_attempts));
            if (configured->ttl) queue.text("ttl", model::format_duration(*configured->ttl));
            else queue.null("ttl");
            queue.text("mode", model::to_string(configured->sandbox.mode));
            queue.raw("retention", model::retention_json(configured->retention));
        }
        list += (list.size() > 1 ? "," : "") + queue.str();
    }
    exchange.reply_json(200, model::JsonObject().raw("queues", list + "]").str());
}

void post_queue_pause(Context& context, Exchange& exchange) { set_paused(context, exchange, true); }
void post_queue_resume(Context& context, Exchange& exchange) { set_paused(context, exchange, false); }

} // namespace sandhost::api
