// /api/v1/queues: every queue with its counts by state and its pause, pausing and resuming a
// configured queue on every host of the store, and retrying or cancelling many of a queue's
// jobs at once.
#include "api/routes.h"

#include "config/suggest.h"
#include "model/json_text.h"
#include "model/retention.h"
#include "model/text.h"
#include "model/units.h"
#include "os/time_format.h"
#include "scheduler/bulk_actions.h"

#include <Poco/JSON/Parser.h>

#include <algorithm>

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

using Clock = std::chrono::system_clock;

// A bulk action changes at most this many jobs per request unless asked for fewer or more (up
// to the most): a request stays short, and "more" says when to call again.
constexpr std::int64_t k_default_bulk_limit = 1000;
constexpr std::int64_t k_max_bulk_limit = 10000;

ApiError invalid(const std::string& message) { return ApiError(422, "invalid_request", message); }

using scheduler::BulkAction;

model::JobState state_in(const Poco::Dynamic::Var& value, BulkAction action)
{
    const char* allowed = scheduler::taken_states(action);
    if (!value.isString()) throw invalid(std::string("state: expected ") + allowed + " (or an array of them)");
    const std::string text = value.extract<std::string>();
    const auto state = model::job_state_from_string(text);
    if (!state || !scheduler::takes(action, *state)) throw invalid(std::string("state: expected ") + allowed + ", got \"" + text + "\"");
    return *state;
}

// The body of POST .../retry, .../cancel or .../promote, all of it optional: {"state": S or
// [S, ...], "task": "plugin.task", "since": "1h", "limit": N, "dry_run": bool}.
scheduler::BulkSelection selection_from(const std::string& queue, const std::string& body, BulkAction action)
{
    scheduler::BulkSelection selection;
    selection.queue = queue;
    selection.limit = static_cast<std::size_t>(k_default_bulk_limit);
    if (body.find_first_not_of(" \t\r\n") != std::string::npos) {
        Poco::JSON::Object::Ptr object;
        try {
            object = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
        } catch (const Poco::Exception& e) {
            throw ApiError(400, "bad_json", "the body is not a JSON object: " + e.displayText());
        } catch (const std::exception& e) {
            throw ApiError(400, "bad_json", std::string("the body is not a JSON object: ") + e.what());
        }
        if (!object) throw ApiError(400, "bad_json", "the body is not a JSON object");
        static const std::vector<std::string> members{"state", "task", "since", "limit", "dry_run"};
        for (const auto& [name, value] : *object) {
            if (std::find(members.begin(), members.end(), name) == members.end()) {
                throw invalid("unknown member \"" + name + "\"" + config::suggestion(name, members, "members"));
            }
            if (name == "state") {
                if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
                    const auto list = value.extract<Poco::JSON::Array::Ptr>();
                    for (std::size_t i = 0; list && i < list->size(); ++i) {
                        const auto state = state_in(list->get(static_cast<unsigned>(i)), action);
                        if (std::find(selection.states.begin(), selection.states.end(), state) == selection.states.end()) {
                            selection.states.push_back(state);
                        }
                    }
                    if (selection.states.empty()) throw invalid("state: an empty array selects no job");
                } else {
                    selection.states.push_back(state_in(value, action));
                }
            } else if (name == "task") {
                if (!value.isString() || value.extract<std::string>().empty()) throw invalid("task: expected \"plugin.task\"");
                selection.task = value.extract<std::string>();
            } else if (name == "since") {
                if (!value.isString()) throw invalid("since: expected a duration such as \"90m\"");
                auto since = model::parse_duration(value.extract<std::string>());
                if (!since) throw invalid("since: " + since.error());
                selection.changed_since = Clock::now() - since.value();
            } else if (name == "limit") {
                std::int64_t limit = 0;
                bool number = value.isInteger() && !value.isBoolean();
                try {
                    if (number) limit = value.convert<std::int64_t>();
                } catch (const Poco::Exception&) {
                    number = false;  // beyond 64 bits
                }
                if (!number || limit < 1 || limit > k_max_bulk_limit) {
                    throw invalid("limit: expected a number from 1 to " + std::to_string(k_max_bulk_limit));
                }
                selection.limit = static_cast<std::size_t>(limit);
            } else {
                if (!value.isBoolean()) throw invalid("dry_run: expected true or false");
                selection.dry_run = value.extract<bool>();
            }
        }
    }
    if (selection.states.empty()) selection.states = scheduler::default_states(action);
    return selection;
}

void bulk(Context& context, Exchange& exchange, BulkAction action)
{
    const std::string& queue = exchange.path()[3];
    const auto selection = selection_from(queue, exchange.body(), action);
    const bool retry = action == BulkAction::retry;
    if (auto unknown = scheduler::unknown_queue(context.store(), *context.settings(), queue)) throw ApiError(404, "not_found", *unknown);
    const auto outcome = scheduler::act_on_jobs(action, context.store(), selection, Clock::now());
    std::string states = "[";
    for (model::JobState state : selection.states) states += (states.size() > 1 ? "," : "") + model::json_string(model::to_string(state));
    model::JsonObject json;
    json.text("queue", queue).raw("states", states + "]").boolean("dry_run", selection.dry_run);
    json.number(retry ? "retried" : action == BulkAction::cancel ? "cancelled" : "promoted", static_cast<std::int64_t>(outcome.changed));
    if (action == BulkAction::cancel) json.number("requested", static_cast<std::int64_t>(outcome.requested));
    json.number("skipped", static_cast<std::int64_t>(outcome.skipped));
    if (retry) {
        std::string refused = "[";
        for (const auto& [id, why] : outcome.refused) {
            refused += (refused.size() > 1 ? "," : "") + model::JsonObject().number("id", id).text("error", why).str();
        }
        json.raw("refused", refused + "]").number("refused_count", static_cast<std::int64_t>(outcome.refused_count));
    }
    json.boolean("more", outcome.more);
    exchange.reply_json(200, json.str());
}

} // namespace

void get_queues(Context& context, Exchange& exchange)
{
    const auto settings = context.settings();
    std::vector<std::string> names;
    for (const auto& queue : settings->queues) names.push_back(queue.name);
    std::string list = "[";
    const auto now = Clock::now();
    for (const auto& [name, counts] : context.store().queue_counts(names)) {
        model::JsonObject counts_json;
        std::uint64_t total = 0;
        for (const auto& [state, count] : counts.by_state) {
            counts_json.number(model::to_string(state), static_cast<std::int64_t>(count));
            total += count;
        }
        model::JsonObject queue;
        queue.text("name", name).boolean("paused", counts.paused).raw("counts", counts_json.str()).number("total", static_cast<std::int64_t>(total));
        queue.number("latency_ms", store::latency(counts, now).count());
        if (counts.earliest_due) queue.text("earliest_due", os::format_utc(*counts.earliest_due));
        else queue.null("earliest_due");
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
void post_queue_retry(Context& context, Exchange& exchange) { bulk(context, exchange, BulkAction::retry); }
void post_queue_cancel(Context& context, Exchange& exchange) { bulk(context, exchange, BulkAction::cancel); }
void post_queue_promote(Context& context, Exchange& exchange) { bulk(context, exchange, BulkAction::promote); }

} // namespace sandhost::api
