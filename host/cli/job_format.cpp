#include "cli/job_format.h"

#include "cli/cli.h"

#include "model/host_record.h"
#include "model/text.h"
#include "os/time_format.h"

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <iostream>
#include <sstream>

namespace sandhost::cli {
namespace {

// Characters as a terminal counts them: UTF-8 lead bytes (a sequence counts once).
std::size_t characters(std::string_view text)
{
    std::size_t count = 0;
    for (const char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return count;
}

// `text` made printable (control characters escaped, bad UTF-8 replaced) and, when longer than
// `width` characters, cut to width - 1 of them and an ellipsis, never inside a character.
std::string cut(std::string_view raw, std::size_t width)
{
    std::string text = model::printable(model::valid_utf8(raw));
    if (characters(text) <= width) return text;
    std::size_t kept = 0;
    std::size_t end = 0;
    for (; end < text.size(); ++end) {
        if ((static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) continue;
        if (kept == width - 1) break;
        ++kept;
    }
    return text.substr(0, end) + "\u2026";
}

// A column `width` characters wide: cut (see cut()) and padded with a space at least.
std::string pad(std::string_view raw, std::size_t width)
{
    std::string text = cut(raw, width - 1);
    text.append(width - characters(text), ' ');
    return text;
}

// "850 ms", "1.5 s", "2 m 5 s": how long an attempt ran.
std::string duration_text(model::Duration duration)
{
    const auto ms = duration.count();
    if (ms < 1000) return std::to_string(ms) + " ms";
    if (ms < 60'000) {
        const auto tenths = (ms + 50) / 100;
        return std::to_string(tenths / 10) + (tenths % 10 != 0 ? "." + std::to_string(tenths % 10) : std::string()) + " s";
    }
    const auto seconds = (ms + 500) / 1000;
    return std::to_string(seconds / 60) + " m " + std::to_string(seconds % 60) + " s";
}

const model::JobState k_states[] = {model::JobState::waiting, model::JobState::delayed, model::JobState::blocked, model::JobState::active,
                                    model::JobState::completed, model::JobState::dead, model::JobState::cancelled};

// A duration as people read it in a table: 850ms, 4.2s, 95s, 12m, 30h.
std::string short_duration(model::Duration duration)
{
    const auto ms = duration.count();
    if (ms < 1'000) return std::to_string(ms) + "ms";
    if (ms < 10'000) return std::to_string(ms / 1'000) + "." + std::to_string(ms % 1'000 / 100) + "s";
    if (ms < 120'000) return std::to_string(ms / 1'000) + "s";
    if (ms < 7'200'000) return std::to_string(ms / 60'000) + "m";
    return std::to_string(ms / 3'600'000) + "h";
}

} // namespace

std::string format_time(model::TimePoint t) { return os::format_utc(t); }

std::string to_json_text(const Poco::Dynamic::Var& value)
{
    std::ostringstream out;
    Poco::JSON::Stringifier::stringify(value, out);
    return out.str();
}

void print_json(const Poco::Dynamic::Var& value) { std::cout << to_json_text(value) << std::endl; }

int print_help(const std::string& usage, const std::string& what, const std::vector<OptionSpec>& options)
{
    std::cout << "usage: " << usage << "\n\n" << what << "\n\n" << describe_options(options);
    return k_exit_ok;
}

std::string jobs_table(const std::vector<model::Job>& jobs)
{
    std::string text = pad("ID", 8) + pad("QUEUE", 12) + pad("TASK", 26) + pad("STATE", 11) + pad("TRIES", 6) + "LAST ERROR / RESULT\n";
    for (const auto& job : jobs) {
        std::string note = job.error.value_or(job.result.value_or(""));
        for (char& c : note) {
            if (c == '\n' || c == '\r' || c == '\t') c = ' ';
        }
        text += pad(std::to_string(job.id), 8) + pad(job.queue, 12) + pad(job.task, 26) + pad(model::to_string(job.state), 11) +
                pad(std::to_string(job.attempts), 6) + cut(note, 60) + "\n";
    }
    return text;
}

std::string job_details(const model::Job& job, const std::vector<model::AttemptRecord>& attempts)
{
    std::string text = "job " + std::to_string(job.id) + ": " + model::printable(job.task) + " on queue " + model::printable(job.queue) +
                       ", " + model::to_string(job.state) + "\n  created " + format_time(job.created_at) + ", updated " +
                       format_time(job.updated_at) + "\n  payload " + cut(job.payload, 200) + "\n";
    if (job.result) text += "  result  " + cut(*job.result, 500) + "\n";
    if (job.error) text += "  error   " + model::printable(model::valid_utf8(*job.error)) + "\n";
    if (job.progress) {
        text += "  progress " + std::to_string(static_cast<int>(job.progress->percent)) + "% " + model::printable(job.progress->message) + "\n";
    }
    for (const auto& attempt : attempts) {
        const auto& o = attempt.outcome;
        text += "  attempt " + std::to_string(attempt.number) + ": " + model::to_string(o.kind);
        if (!o.error.empty()) text += " (" + model::printable(model::valid_utf8(o.error)) + ")";
        text += " in " + duration_text(o.duration);
        if (o.pid) text += ", pid " + std::to_string(*o.pid);
        if (!attempt.host.empty()) text += ", on " + model::printable(model::describe_holder(attempt.host));
        text += "\n";
        if (!o.log.empty()) {
            text += "    log" + (o.log_dropped ? " (" + std::to_string(o.log_dropped) + " earlier lines dropped)" : std::string()) + ":\n";
            for (const auto& line : o.log) {
                text += "      " + format_time(line.time) + " [" + std::string(model::name_in(model::k_log_level_names, line.level)) + "] " +
                        model::printable(model::valid_utf8(line.message)) + "\n";
            }
        }
    }
    return text;
}

std::string queues_table(const std::map<std::string, store::QueueCounts>& queues, model::TimePoint now,
                         const std::map<std::string, model::Retention>& retention)
{
    std::string text = pad("QUEUE", 14) + pad("PAUSED", 8);
    for (auto state : k_states) text += pad(model::to_string(state), 11);
    text += pad("LATENCY", 9) + "RETENTION\n";
    for (const auto& [name, counts] : queues) {
        text += pad(name, 14) + pad(counts.paused ? "yes" : "no", 8);
        for (auto state : k_states) {
            auto it = counts.by_state.find(state);
            text += pad(std::to_string(it == counts.by_state.end() ? 0 : it->second), 11);
        }
        const bool due = counts.earliest_due && *counts.earliest_due <= now;
        text += pad(due ? short_duration(store::latency(counts, now)) : "-", 9);
        const auto kept = retention.find(name);
        text += (kept == retention.end() ? "-" : model::describe(kept->second)) + "\n";
    }
    return text;
}

std::string schedules_table(const Poco::JSON::Array& schedules)
{
    std::string text = pad("NAME", 16) + pad("QUEUE", 14) + pad("TASK", 26) + pad("TRIGGER", 18) + pad("LAST FIRE", 26) + "NEXT FIRE\n";
    for (std::size_t i = 0; i < schedules.size(); ++i) {
        const auto schedule = schedules.getObject(static_cast<unsigned>(i));
        const auto trigger = schedule->getObject("trigger");
        const std::string when = trigger->has("every") ? "every " + trigger->getValue<std::string>("every") : trigger->getValue<std::string>("cron");
        const auto time = [&](const std::string& name) { return schedule->isNull(name) ? std::string("-") : schedule->getValue<std::string>(name); };
        text += pad(schedule->getValue<std::string>("name"), 16) + pad(schedule->getValue<std::string>("queue"), 14) +
                pad(schedule->getValue<std::string>("task"), 26) + pad(when, 18) + pad(time("last_fire"), 26) + time("next_fire") + "\n";
    }
    return text;
}

Poco::JSON::Object::Ptr queues_to_json(const std::map<std::string, store::QueueCounts>& queues, model::TimePoint now,
                                       const std::map<std::string, model::Retention>& retention)
{
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [name, counts] : queues) {
        Poco::JSON::Object::Ptr q = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        q->set("paused", counts.paused);
        for (auto state : k_states) {
            auto it = counts.by_state.find(state);
            q->set(model::to_string(state), static_cast<Poco::UInt64>(it == counts.by_state.end() ? 0 : it->second));
        }
        q->set("latency_ms", static_cast<Poco::Int64>(store::latency(counts, now).count()));
        if (counts.earliest_due) q->set("earliest_due", format_time(*counts.earliest_due));
        else q->set("earliest_due", Poco::Dynamic::Var());
        const auto kept = retention.find(name);
        if (kept != retention.end()) q->set("retention", Poco::JSON::Parser().parse(model::retention_json(kept->second)));
        else q->set("retention", Poco::Dynamic::Var());
        o->set(name, q);
    }
    return o;
}

} // namespace sandhost::cli
