#include "model/outcome.h"

#include "os/signals.h"
#include "os/time_format.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
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
    Poco::JSON::Object json(Poco::JSON_PRESERVE_KEY_ORDER);
    json.set("outcome", to_string(o.kind));
    if (o.kind == OutcomeKind::succeeded) json.set("result", o.result);
    if (!o.error.empty()) json.set("error", o.error);
    if (o.permanent) json.set("permanent", true);
    if (o.signal_number) {
        json.set("signal", os::signal_name(*o.signal_number));
        json.set("signal_number", *o.signal_number);
        json.set("core_dumped", o.core_dumped);
    }
    if (o.exit_code) json.set("exit_code", *o.exit_code);
    if (o.limit) json.set("limit", to_string(*o.limit));
    if (o.kind == OutcomeKind::timed_out || o.kind == OutcomeKind::cancelled || o.kind == OutcomeKind::resource_limit ||
        o.killed) {
        json.set("killed", o.killed);
    }
    json.set("isolation", o.isolation);
    if (o.fallback) json.set("fallback", *o.fallback);
    json.set("duration_ms", static_cast<Poco::Int64>(o.duration.count()));
    if (o.startup_ms) json.set("startup_ms", static_cast<Poco::Int64>(o.startup_ms->count()));
    if (o.pid) json.set("pid", static_cast<Poco::Int64>(*o.pid));
    if (o.max_rss_kb) json.set("max_rss_kb", static_cast<Poco::UInt64>(*o.max_rss_kb));
    if (o.cpu_ms) json.set("cpu_ms", static_cast<Poco::UInt64>(*o.cpu_ms));
    json.set("stdout_tail", o.stdout_tail);
    json.set("stderr_tail", o.stderr_tail);
    if (o.stdout_dropped) json.set("stdout_dropped", static_cast<Poco::UInt64>(o.stdout_dropped));
    if (o.stderr_dropped) json.set("stderr_dropped", static_cast<Poco::UInt64>(o.stderr_dropped));
    if (!o.log.empty() || o.log_dropped) {
        Poco::JSON::Array log;
        for (const auto& line : o.log) {
            Poco::JSON::Object entry(Poco::JSON_PRESERVE_KEY_ORDER);
            entry.set("level", name_in(k_log_level_names, line.level));
            entry.set("time", os::format_utc(line.time));
            entry.set("message", line.message);
            log.add(entry);
        }
        json.set("log", log);
        if (o.log_dropped) json.set("log_dropped", static_cast<Poco::UInt64>(o.log_dropped));
    }
    if (o.progress) {
        Poco::JSON::Object progress(Poco::JSON_PRESERVE_KEY_ORDER);
        progress.set("percent", o.progress->percent);
        progress.set("message", o.progress->message);
        json.set("progress", progress);
    }
    if (o.started_at.time_since_epoch().count() != 0) json.set("started_at", os::format_utc(o.started_at));
    if (o.ended_at.time_since_epoch().count() != 0) json.set("ended_at", os::format_utc(o.ended_at));
    std::ostringstream out;
    json.stringify(out);
    return out.str();
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
        if (object->has("result")) o.result = object->getValue<std::string>("result");
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
