#include "model/job_json.h"

#include "model/json_text.h"
#include "os/time_format.h"

namespace sandhost::model {
namespace {

std::string time_text(TimePoint time) { return os::format_utc(time); }

JsonObject& optional_time(JsonObject& json, std::string_view name, const std::optional<TimePoint>& time)
{
    return time ? json.text(name, time_text(*time)) : json.null(name);
}

JsonObject& optional_text(JsonObject& json, std::string_view name, const std::optional<std::string>& text)
{
    return text ? json.text(name, *text) : json.null(name);
}

} // namespace

std::string to_json(const Job& job, const std::vector<AttemptRecord>* attempts)
{
    JsonObject json;
    json.number("id", std::int64_t(job.id));
    json.text("queue", job.queue);
    json.text("task", job.task);
    json.text("state", to_string(job.state));
    json.number("priority", std::int64_t(job.priority));
    optional_text(json, "key", job.key);
    json.raw("payload", json_value_or_string(job.payload));
    if (job.result) json.raw("result", json_value_or_string(*job.result));
    else json.null("result");
    optional_text(json, "error", job.error);
    json.number("attempt_count", std::int64_t(job.attempts));
    json.number("attempts_since_retry", std::int64_t(job.attempts_since_retry));
    if (job.max_attempts) json.number("max_attempts", std::int64_t(*job.max_attempts));
    else json.null("max_attempts");
    json.number("lost", std::int64_t(job.lost));
    json.text("created_at", time_text(job.created_at));
    json.text("updated_at", time_text(job.updated_at));
    json.text("run_at", time_text(job.run_at));
    optional_time(json, "expires_at", job.expires_at);
    if (job.timeout) json.number("timeout_ms", std::int64_t(job.timeout->count()));
    else json.null("timeout_ms");
    std::string depends_on = "[";
    for (const JobId id : job.depends_on) depends_on += (depends_on.size() > 1 ? "," : "") + std::to_string(id);
    json.raw("depends_on", depends_on + "]");
    if (job.progress) json.raw("progress", JsonObject().number("percent", job.progress->percent).text("message", job.progress->message).str());
    else json.null("progress");
    if (job.lease) {
        json.raw("lease", JsonObject()
                              .text("holder", job.lease->holder)
                              .text("expires_at", time_text(job.lease->expires_at))
                              .number("attempt_id", std::int64_t(job.lease->attempt_id))
                              .str());
    } else {
        json.null("lease");
    }
    json.boolean("cancel_requested", job.cancel_requested);
    if (job.schedule.empty()) json.null("schedule");
    else json.text("schedule", job.schedule);
    if (attempts) {
        std::string list = "[";
        for (const auto& attempt : *attempts) list += (list.size() > 1 ? "," : "") + to_json(attempt);
        json.raw("attempts", list + "]");
    }
    return json.str();
}

std::string to_json(const AttemptRecord& attempt)
{
    const std::string outcome = to_json(attempt.outcome);
    JsonObject json;
    json.number("number", std::int64_t(attempt.number));
    json.number("attempt_id", std::int64_t(attempt.attempt_id));
    json.text("host", attempt.host);
    // The outcome's members follow, in their own order: its object without the opening brace.
    std::string out = json.str();
    out.pop_back();
    return out + "," + outcome.substr(1);
}

} // namespace sandhost::model
