#include "model/retention.h"

#include "model/json_text.h"

namespace sandhost::model {

const RetentionLimit* Retention::limit(JobState state) const
{
    switch (state) {
    case JobState::completed:
        return &completed;
    case JobState::dead:
        return &dead;
    case JobState::cancelled:
        return &cancelled;
    default:
        return nullptr;
    }
}

std::string describe(const RetentionLimit& limit)
{
    std::string text;
    if (limit.age) text = "age " + format_duration(*limit.age);
    if (limit.count) text += (text.empty() ? "" : ", ") + std::string("count ") + std::to_string(*limit.count);
    return text.empty() ? "keep" : text;
}

std::string describe(const Retention& retention)
{
    std::string text;
    for (const JobState state : {JobState::completed, JobState::dead, JobState::cancelled}) {
        const RetentionLimit& limit = *retention.limit(state);
        if (!limit.limits()) continue;
        text += (text.empty() ? "" : "; ") + std::string(to_string(state)) + ": " + describe(limit);
    }
    return text.empty() ? "keep all" : text;
}

std::string retention_json(const Retention& retention)
{
    JsonObject out;
    for (const JobState state : {JobState::completed, JobState::dead, JobState::cancelled}) {
        const RetentionLimit& limit = *retention.limit(state);
        if (!limit.limits()) {
            out.null(to_string(state));
            continue;
        }
        JsonObject fields;
        if (limit.age) fields.text("age", format_duration(*limit.age));
        if (limit.count) fields.number("count", static_cast<std::int64_t>(*limit.count));
        out.raw(to_string(state), fields.str());
    }
    return out.str();
}

} // namespace sandhost::model
