// /api/v1/jobs: enqueue through the one enqueue policy, list with filters and a cursor, read one
// job with its attempts, cancel, retry.
#include "api/routes.h"

#include "config/suggest.h"
#include "model/job_json.h"
#include "model/json_text.h"
#include "scheduler/enqueue_policy.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <charconv>
#include <limits>

namespace sandhost::api {
namespace {

using Clock = std::chrono::system_clock;

const std::vector<std::string> k_job_members{"queue", "task", "payload", "priority", "delay", "timeout", "max_attempts", "depends_on", "key"};

constexpr std::size_t k_default_limit = 50;
constexpr std::size_t k_max_limit = 1000;

ApiError invalid(const std::string& message) { return ApiError(422, "invalid_job", message); }

const char* kind_of(const Poco::Dynamic::Var& value)
{
    if (value.isEmpty()) return "null";
    if (value.type() == typeid(Poco::JSON::Object::Ptr)) return "an object";
    if (value.type() == typeid(Poco::JSON::Array::Ptr)) return "an array";
    if (value.isString()) return "a string";
    if (value.isBoolean()) return "a boolean";
    return "a number";
}

std::string text_member(const Poco::JSON::Object& body, const std::string& name)
{
    const Poco::Dynamic::Var value = body.get(name);
    if (!value.isString()) throw invalid(name + ": expected a string, got " + kind_of(value));
    return value.extract<std::string>();
}

std::int64_t whole_member(const Poco::JSON::Object& body, const std::string& name, std::int64_t min, std::int64_t max)
{
    const Poco::Dynamic::Var value = body.get(name);
    if (!value.isInteger() || value.isBoolean()) throw invalid(name + ": expected a whole number, got " + kind_of(value));
    std::int64_t number = 0;
    try {
        number = value.convert<std::int64_t>();
    } catch (const Poco::Exception&) {
        throw invalid(name + ": must be from " + std::to_string(min) + " to " + std::to_string(max));
    }
    if (number < min || number > max) throw invalid(name + ": must be from " + std::to_string(min) + " to " + std::to_string(max) + ", got " + std::to_string(number));
    return number;
}

model::Duration duration_member(const Poco::JSON::Object& body, const std::string& name)
{
    const Poco::Dynamic::Var value = body.get(name);
    if (!value.isString()) throw invalid(name + ": expected a duration with a unit such as \"5s\", got " + kind_of(value));
    auto parsed = model::parse_duration(value.extract<std::string>());
    if (!parsed) throw invalid(name + ": " + parsed.error());
    return parsed.value();
}

// The request a POST /api/v1/jobs body asks for. The payload is taken as written.
scheduler::EnqueueRequest request_from(const std::string& text)
{
    if (const auto error = model::json_syntax_error(text)) throw ApiError(400, "bad_json", "the body is not valid JSON: " + error->to_string());
    const auto members = model::json_object_members(text);
    if (!members) throw invalid("the body must be a JSON object with at least queue and task");
    Poco::JSON::Parser parser;
    const auto body = parser.parse(text).extract<Poco::JSON::Object::Ptr>();

    scheduler::EnqueueRequest request;
    for (const auto& [name, value] : *members) {
        if (std::find(k_job_members.begin(), k_job_members.end(), name) == k_job_members.end()) {
            throw invalid("unknown member \"" + name + "\"" + config::suggestion(name, k_job_members, "members"));
        }
        if (name == "payload") request.payload = model::compact_json(value).value_or(std::string(value));
    }
    if (!body->has("queue")) throw invalid("queue is missing");
    if (!body->has("task")) throw invalid("task is missing");
    request.queue = text_member(*body, "queue");
    request.task = text_member(*body, "task");
    if (body->has("priority")) {
        request.priority = static_cast<int>(whole_member(*body, "priority", std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
    }
    if (body->has("delay")) request.delay = duration_member(*body, "delay");
    if (body->has("timeout")) request.timeout = duration_member(*body, "timeout");
    if (body->has("max_attempts")) request.max_attempts = static_cast<std::uint32_t>(whole_member(*body, "max_attempts", 1, 1'000'000));
    if (body->has("depends_on")) {
        const Poco::Dynamic::Var value = body->get("depends_on");
        if (value.type() != typeid(Poco::JSON::Array::Ptr)) throw invalid(std::string("depends_on: expected an array of job ids, got ") + kind_of(value));
        const auto ids = value.extract<Poco::JSON::Array::Ptr>();
        for (std::size_t i = 0; i < ids->size(); ++i) {
            const Poco::Dynamic::Var id = ids->get(static_cast<unsigned>(i));
            if (!id.isInteger() || id.isBoolean() || id.convert<std::int64_t>() <= 0) {
                throw invalid("depends_on: element " + std::to_string(i) + " is not a job id");
            }
            request.depends_on.push_back(id.convert<std::int64_t>());
        }
    }
    if (body->has("key")) request.key = text_member(*body, "key");
    return request;
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
            requests.push_back(request_from(std::string((*elements)[i])));
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

} // namespace sandhost::api
