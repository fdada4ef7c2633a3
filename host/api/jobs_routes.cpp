// /api/v1/jobs: enqueue through the one enqueue policy, list with filters and a cursor, read one
// job with its attempts, cancel, retry.
#include "api/routes.h"

#include "config/suggest.h"
#include "model/job_json.h"
#include "model/json_text.h"
#include "scheduler/enqueue_json.h"
#include "scheduler/enqueue_policy.h"

#include <charconv>

namespace sandhost::api {
namespace {

using Clock = std::chrono::system_clock;

constexpr std::size_t k_default_limit = 50;
constexpr std::size_t k_max_limit = 1000;

ApiError invalid(const std::string& message) { return ApiError(422, "invalid_job", message); }

// The request a POST /api/v1/jobs body (or an element of a batch) asks for: 400 when it is not
// JSON, 422 when it is not a job.
scheduler::EnqueueRequest request_from(std::string_view text)
{
    try {
        return scheduler::enqueue_request_from_json(text);
    } catch (const scheduler::BadJobJson& e) {
        if (e.syntax()) throw ApiError(400, "bad_json", std::string("the body is ") + e.what());
        throw invalid(e.what());
    }
}

std::optional<std::int64_t> positive_number(const std::string& text)
{
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
    return value;
}

} // namespace

model::JobId job_id_in(const std::string& segment)
{
    const auto id = positive_number(segment);
    if (!id) throw ApiError(404, "not_found", "no job " + segment);
    return *id;
}

std::string job_json(Context& context, model::JobId id)
{
    const auto job = context.store().get(id);
    if (!job) throw ApiError(404, "not_found", "no job " + std::to_string(id));
    const auto attempts = context.store().attempts(id);
    return model::to_json(*job, &attempts);
}

void post_job(Context& context, Exchange& exchange)
{
    const scheduler::EnqueueRequest request = request_from(exchange.body());
    scheduler::Enqueued enqueued;
    try {
        enqueued = scheduler::enqueue(context.store(), *context.settings(), request, Clock::now());
    } catch (const scheduler::EnqueueError& e) {
        throw invalid(e.what());
    }
    if (enqueued.created && context.options.metrics) context.options.metrics->enqueued(request.queue);
    for (const auto& note : enqueued.notes) exchange.response().add("Sandhost-Note", note);
    exchange.response().set("Location", "/api/v1/jobs/" + std::to_string(enqueued.id));
    exchange.reply_json(enqueued.created ? 201 : 200, job_json(context, enqueued.id));
}

void post_jobs_batch(Context& context, Exchange& exchange)
{
    const std::string& text = exchange.body();
    if (const auto error = model::json_syntax_error(text)) throw ApiError(400, "bad_json", "the body is not valid JSON: " + error->to_string());
    const auto members = model::json_object_members(text);
    if (!members) throw invalid("the body must be a JSON object with a member jobs, an array of jobs");
    std::optional<std::string_view> jobs_text;
    for (const auto& [name, value] : *members) {
        if (name != "jobs") throw invalid("unknown member \"" + name + "\"" + config::suggestion(name, {"jobs"}, "members"));
        jobs_text = value;
    }
    if (!jobs_text) throw invalid("jobs is missing");
    const auto elements = model::json_array_elements(*jobs_text);
    if (!elements) throw invalid("jobs: expected an array of jobs");
    if (elements->size() > store::k_max_enqueue_batch) {
        throw invalid("jobs: " + std::to_string(elements->size()) + " jobs, at most " + std::to_string(store::k_max_enqueue_batch) +
                      " are taken in one request; nothing was enqueued");
    }
    std::vector<scheduler::EnqueueRequest> requests;
    requests.reserve(elements->size());
    for (std::size_t i = 0; i < elements->size(); ++i) {
        try {
            requests.push_back(request_from((*elements)[i]));
        } catch (const ApiError& e) {
            throw invalid("job " + std::to_string(i) + ": " + e.what() + "; nothing was enqueued");
        }
    }
    std::vector<scheduler::Enqueued> enqueued;
    try {
        enqueued = scheduler::enqueue_batch(context.store(), *context.settings(), requests, Clock::now());
    } catch (const scheduler::EnqueueError& e) {
        throw invalid(e.what());
    }
    // Ids and whether each was created, in the order asked: the jobs themselves are a GET away.
    bool any_created = false;
    std::string body = "{\"jobs\":[";
    for (std::size_t i = 0; i < enqueued.size(); ++i) {
        if (enqueued[i].created && context.options.metrics) context.options.metrics->enqueued(requests[i].queue);
        any_created = any_created || enqueued[i].created;
        for (const auto& note : enqueued[i].notes) exchange.response().add("Sandhost-Note", note);
        body += (i == 0 ? "" : ",") + std::string("{\"id\":") + std::to_string(enqueued[i].id) +
                ",\"created\":" + (enqueued[i].created ? "true" : "false") + "}";
    }
    body += "]}";
    exchange.reply_json(any_created ? 201 : 200, body);
}

void get_jobs(Context& context, Exchange& exchange)
{
    store::JobFilter filter;
    filter.limit = k_default_limit;
    if (auto queue = exchange.query("queue"); queue && !queue->empty()) filter.queue = *queue;
    if (auto task = exchange.query("task"); task && !task->empty()) filter.task = *task;
    if (auto state = exchange.query("state"); state && !state->empty()) {
        filter.state = model::job_state_from_string(*state);
        if (!filter.state) {
            throw ApiError(400, "bad_request", "state: unknown state \"" + *state +
                                                   "\" (waiting, delayed, blocked, active, completed, dead, cancelled)");
        }
    }
    if (auto limit = exchange.query("limit")) {
        const auto value = positive_number(*limit);
        if (!value || *value > static_cast<std::int64_t>(k_max_limit)) {
            throw ApiError(400, "bad_request", "limit: expected a number from 1 to " + std::to_string(k_max_limit) + ", got \"" + *limit + "\"");
        }
        filter.limit = static_cast<std::size_t>(*value);
    }
    if (auto cursor = exchange.query("cursor"); cursor && !cursor->empty()) {
        const auto value = positive_number(*cursor);
        if (!value) throw ApiError(400, "bad_request", "cursor: \"" + *cursor + "\" is not a cursor this API gave");
        filter.before = *value;
    }
    // One more than asked for tells whether there is a next page.
    const std::size_t asked = filter.limit;
    filter.limit = asked + 1;
    auto jobs = context.store().list(filter);
    std::optional<model::JobId> next;
    if (jobs.size() > asked) {
        jobs.resize(asked);
        next = jobs.back().id;
    }
    std::string list = "[";
    for (const auto& job : jobs) list += (list.size() > 1 ? "," : "") + model::to_json(job, nullptr);
    model::JsonObject json;
    json.raw("jobs", list + "]");
    if (next) json.text("next", std::to_string(*next));
    else json.null("next");
    exchange.reply_json(200, json.str());
}

void get_job(Context& context, Exchange& exchange)
{
    exchange.reply_json(200, job_json(context, job_id_in(exchange.path()[3])));
}

void post_job_cancel(Context& context, Exchange& exchange)
{
    const model::JobId id = job_id_in(exchange.path()[3]);
    switch (context.store().cancel(id, Clock::now())) {
    case store::CancelResult::not_found: throw ApiError(404, "not_found", "no job " + std::to_string(id));
    case store::CancelResult::already_final: {
        const auto job = context.store().get(id);
        throw ApiError(409, "conflict", "job " + std::to_string(id) + " has already ended (" + (job ? model::to_string(job->state) : "purged") + ")");
    }
    case store::CancelResult::cancelled:
    case store::CancelResult::requested: break;
    }
    exchange.reply_json(200, job_json(context, id));
}

void post_job_retry(Context& context, Exchange& exchange)
{
    const model::JobId id = job_id_in(exchange.path()[3]);
    const auto job = context.store().get(id);
    if (!job) throw ApiError(404, "not_found", "no job " + std::to_string(id));
    bool retried = false;
    try {
        retried = context.store().retry(id, Clock::now());
    } catch (const store::StoreRequestError& e) {
        throw ApiError(409, "conflict", e.what());
    }
    if (!retried) {
        const auto now = context.store().get(id);
        throw ApiError(409, "conflict", "job " + std::to_string(id) + " is " + (now ? model::to_string(now->state) : "purged") +
                                            "; only dead or cancelled jobs can be retried");
    }
    exchange.reply_json(200, job_json(context, id));
}

void post_job_promote(Context& context, Exchange& exchange)
{
    const model::JobId id = job_id_in(exchange.path()[3]);
    bool promoted = false;
    try {
        promoted = context.store().promote(id, Clock::now());
    } catch (const store::StoreRequestError&) {
        throw ApiError(404, "not_found", "no job " + std::to_string(id));
    }
    if (!promoted) {
        const auto now = context.store().get(id);
        throw ApiError(409, "conflict", "job " + std::to_string(id) + " is " + (now ? model::to_string(now->state) : "purged") +
                                            "; only delayed jobs can be promoted");
    }
    exchange.reply_json(200, job_json(context, id));
}

void delete_job(Context& context, Exchange& exchange)
{
    const model::JobId id = job_id_in(exchange.path()[3]);
    switch (context.store().remove(id)) {
    case store::RemoveResult::removed: exchange.reply(204, "application/json", ""); return;
    case store::RemoveResult::not_found: throw ApiError(404, "not_found", "no job " + std::to_string(id));
    case store::RemoveResult::needed:
        throw ApiError(409, "conflict", "job " + std::to_string(id) + " is kept: a job still to run depends on it (its state and result)");
    case store::RemoveResult::not_finished: {
        const auto job = context.store().get(id);
        throw ApiError(409, "conflict", "job " + std::to_string(id) + " is " + (job ? model::to_string(job->state) : "gone") +
                                            "; only completed, dead or cancelled jobs are deleted (cancel it first)");
    }
    }
}

} // namespace sandhost::api
