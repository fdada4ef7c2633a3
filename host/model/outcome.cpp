#include "model/outcome.h"

#include "model/json_text.h"
#include "os/signals.h"
#include "os/time_format.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <sstream>

namespace sandhost::model {
namespace {

std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& text)
{
    try {
        int tz = 0;
        const Poco::DateTime parsed = Poco::DateTimeParser::parse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, text, tz);
        const auto micros = parsed.timestamp().epochMicroseconds() - static_cast<Poco::Timestamp::TimeDiff>(tz) * 1000000;
        return std::chrono::system_clock::time_point(std::chrono::microseconds(micros));
    } catch (const Poco::Exception&) {
        return std::nullopt;
    }
}

} // namespace

const char* to_string(OutcomeKind kind) { return name_in(k_outcome_kind_names, kind); }
std::optional<OutcomeKind> outcome_kind_from_string(std::string_view text) { return value_in(k_outcome_kind_names, text); }
const char* to_string(LimitKind kind) { return name_in(k_limit_kind_names, kind); }
std::optional<LimitKind> limit_kind_from_string(std::string_view text) { return value_in(k_limit_kind_names, text); }

LogLevel log_level_from_number(int level)
{
    return static_cast<LogLevel>(std::clamp(level, static_cast<int>(LogLevel::trace), static_cast<int>(LogLevel::error)));
}

void keep_log_line(Outcome& outcome, LogLine line)
{
    if (line.message.size() > k_kept_log_line_bytes) {
        line.message.resize(k_kept_log_line_bytes);
        line.message += "...";
    }
    if (outcome.log.size() >= k_kept_log_lines) {
        outcome.log.erase(outcome.log.begin());
        ++outcome.log_dropped;
    }
    outcome.log.push_back(std::move(line));
}

bool retryable(const Outcome& outcome)
{
    if (outcome.permanent) return false;
    switch (outcome.kind) {
    case OutcomeKind::succeeded:
    case OutcomeKind::load_failed:
    case OutcomeKind::result_too_large:
    case OutcomeKind::cancelled:
        return false;
    default:
        return true;
    }
}

std::string to_json(const Outcome& o)
{
    JsonObject json;
    json.text("outcome", to_string(o.kind));
    if (o.kind == OutcomeKind::succeeded) json.raw("result", json_value_or_string(o.result));
    if (!o.error.empty()) json.text("error", o.error);
    if (o.permanent) json.boolean("permanent", true);
    if (o.signal_number) {
        json.text("signal", os::signal_name(*o.signal_number));
        json.number("signal_number", std::int64_t(*o.signal_number));
        json.boolean("core_dumped", o.core_dumped);
    }
    if (o.exit_code) json.number("exit_code", std::int64_t(*o.exit_code));
    if (o.limit) json.text("limit", to_string(*o.limit));
    if (o.kind == OutcomeKind::timed_out || o.kind == OutcomeKind::cancelled || o.kind == OutcomeKind::resource_limit ||
        o.killed) {
        json.boolean("killed", o.killed);
    }
    json.text("isolation", o.isolation);
    if (o.fallback) json.text("fallback", *o.fallback);
    json.number("duration_ms", std::int64_t(o.duration.count()));
    if (o.startup_ms) json.number("startup_ms", std::int64_t(o.startup_ms->count()));
    if (o.pid) json.number("pid", std::int64_t(*o.pid));
    if (o.max_rss_kb) json.number("max_rss_kb", static_cast<std::int64_t>(*o.max_rss_kb));
    if (o.cpu_ms) json.number("cpu_ms", static_cast<std::int64_t>(*o.cpu_ms));
    json.text("stdout_tail", o.stdout_tail);
    json.text("stderr_tail", o.stderr_tail);
    if (o.stdout_dropped) json.number("stdout_dropped", static_cast<std::int64_t>(o.stdout_dropped));
    if (o.stderr_dropped) json.number("stderr_dropped", static_cast<std::int64_t>(o.stderr_dropped));
    if (!o.log.empty() || o.log_dropped) {
        std::string log = "[";
        for (const auto& line : o.log) {
            log += (log.size() > 1 ? "," : "") + JsonObject()
                                                     .text("level", name_in(k_log_level_names, line.level))
                                                     .text("time", os::format_utc(line.time))
                                                     .text("message", line.message)
                                                     .str();
        }
        json.raw("log", log + "]");
        if (o.log_dropped) json.number("log_dropped", static_cast<std::int64_t>(o.log_dropped));
    }
    if (o.progress) json.raw("progress", JsonObject().number("percent", o.progress->percent).text("message", o.progress->message).str());
    if (o.started_at.time_since_epoch().count() != 0) json.text("started_at", os::format_utc(o.started_at));
    if (o.ended_at.time_since_epoch().count() != 0) json.text("ended_at", os::format_utc(o.ended_at));
    return json.str();
}

std::optional<Outcome> outcome_from_json(const std::string& text)
{
    try {
        Poco::JSON::Parser parser;
        auto object = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
        if (!object) return std::nullopt;
        Outcome o;
        auto kind = outcome_kind_from_string(object->getValue<std::string>("outcome"));
        if (!kind) return std::nullopt;
        o.kind = *kind;
        if (object->has("result")) {
            // A JSON value, or a string when the result was not JSON (or when an older sandhost wrote it).
            const Poco::Dynamic::Var result = object->get("result");
            if (result.isString()) {
                o.result = result.extract<std::string>();
            } else {
                std::ostringstream value;
                Poco::JSON::Stringifier::condense(result, value);
                o.result = value.str();
            }
        }
        if (object->has("error")) o.error = object->getValue<std::string>("error");
        if (object->has("permanent")) o.permanent = object->getValue<bool>("permanent");
        if (object->has("signal_number")) o.signal_number = object->getValue<int>("signal_number");
        if (object->has("core_dumped")) o.core_dumped = object->getValue<bool>("core_dumped");
        if (object->has("exit_code")) o.exit_code = object->getValue<int>("exit_code");
        if (object->has("limit")) o.limit = limit_kind_from_string(object->getValue<std::string>("limit"));
        if (object->has("killed")) o.killed = object->getValue<bool>("killed");
        if (object->has("isolation")) o.isolation = object->getValue<std::string>("isolation");
        if (object->has("fallback")) o.fallback = object->getValue<std::string>("fallback");
        if (object->has("duration_ms")) o.duration = std::chrono::milliseconds(object->getValue<Poco::Int64>("duration_ms"));
        if (object->has("startup_ms")) o.startup_ms = std::chrono::milliseconds(object->getValue<Poco::Int64>("startup_ms"));
        if (object->has("pid")) o.pid = object->getValue<Poco::Int64>("pid");
        if (object->has("max_rss_kb")) o.max_rss_kb = object->getValue<Poco::UInt64>("max_rss_kb");
        if (object->has("cpu_ms")) o.cpu_ms = object->getValue<Poco::UInt64>("cpu_ms");
        if (object->has("stdout_tail")) o.stdout_tail = object->getValue<std::string>("stdout_tail");
        if (object->has("stderr_tail")) o.stderr_tail = object->getValue<std::string>("stderr_tail");
        if (object->has("stdout_dropped")) o.stdout_dropped = object->getValue<Poco::UInt64>("stdout_dropped");
        if (object->has("stderr_dropped")) o.stderr_dropped = object->getValue<Poco::UInt64>("stderr_dropped");
        if (const auto log = object->getArray("log")) {
            for (unsigned i = 0; i < log->size(); ++i) {
                const auto entry = log->getObject(i);
                if (!entry) return std::nullopt;
                LogLine line;
                line.level = value_in(k_log_level_names, entry->getValue<std::string>("level")).value_or(LogLevel::info);
                line.time = parse_time(entry->getValue<std::string>("time")).value_or(line.time);
                line.message = entry->getValue<std::string>("message");
                o.log.push_back(std::move(line));
            }
        }
        if (object->has("log_dropped")) o.log_dropped = object->getValue<Poco::UInt64>("log_dropped");
        if (auto progress = object->getObject("progress")) {
            o.progress = ProgressReport{progress->getValue<double>("percent"), progress->getValue<std::string>("message")};
        }
        if (object->has("started_at")) o.started_at = parse_time(object->getValue<std::string>("started_at")).value_or(o.started_at);
        if (object->has("ended_at")) o.ended_at = parse_time(object->getValue<std::string>("ended_at")).value_or(o.ended_at);
        return o;
    } catch (const Poco::Exception&) {
        return std::nullopt;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

} // namespace sandhost::model
