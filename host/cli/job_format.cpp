#include "cli/job_format.h"

#include "os/time_format.h"

#include <Poco/JSON/Stringifier.h>

#include <sstream>

namespace sandhost::cli {
namespace {

std::string pad(std::string text, std::size_t width)
{
    if (text.size() > width) text = text.substr(0, width - 1) + "~";
    text.resize(width, ' ');
    return text;
}

const model::JobState k_states[] = {model::JobState::waiting, model::JobState::delayed, model::JobState::blocked, model::JobState::active,
                                    model::JobState::completed, model::JobState::dead, model::JobState::cancelled};

} // namespace

std::string format_time(model::TimePoint t) { return os::format_utc(t); }

std::string to_json_text(const Poco::Dynamic::Var& value)
{
    std::ostringstream out;
    Poco::JSON::Stringifier::stringify(value, out);
    return out.str();
}

std::string jobs_table(const std::vector<model::Job>& jobs)
{
    std::string text = pad("ID", 8) + pad("QUEUE", 12) + pad("TASK", 26) + pad("STATE", 11) + pad("TRIES", 6) + "LAST ERROR / RESULT\n";
    for (const auto& job : jobs) {
        std::string note = job.error.value_or(job.result.value_or(""));
        for (char& c : note) {
            if (c == '\n') c = ' ';
        }
        text += pad(std::to_string(job.id), 8) + pad(job.queue, 12) + pad(job.task, 26) + pad(model::to_string(job.state), 11) +
                pad(std::to_string(job.attempts), 6) + note.substr(0, 60) + "\n";
    }
    return text;
}

std::string job_details(const model::Job& job, const std::vector<model::AttemptRecord>& attempts)
{
    std::string text = "job " + std::to_string(job.id) + ": " + job.task + " on queue " + job.queue + ", " + model::to_string(job.state) +
                       "\n  created " + format_time(job.created_at) + ", updated " + format_time(job.updated_at) + "\n  payload " +
                       job.payload.substr(0, 200) + "\n";
    if (job.result) text += "  result  " + job.result->substr(0, 500) + "\n";
    if (job.error) text += "  error   " + *job.error + "\n";
    if (job.progress) text += "  progress " + std::to_string(static_cast<int>(job.progress->percent)) + "% " + job.progress->message + "\n";
    for (const auto& attempt : attempts) {
        const auto& o = attempt.outcome;
        text += "  attempt " + std::to_string(attempt.number) + ": " + model::to_string(o.kind);
        if (!o.error.empty()) text += " (" + o.error + ")";
        text += " in " + std::to_string(o.duration.count()) + " ms";
        if (o.pid) text += ", pid " + std::to_string(*o.pid);
        text += ", " + attempt.host + "\n";
    }
    return text;
}

std::string queues_table(const std::map<std::string, store::QueueCounts>& queues)
{
    std::string text = pad("QUEUE", 14) + pad("PAUSED", 8);
    for (auto state : k_states) text += pad(model::to_string(state), 11);
    text += "\n";
    for (const auto& [name, counts] : queues) {
        text += pad(name, 14) + pad(counts.paused ? "yes" : "no", 8);
        for (auto state : k_states) {
            auto it = counts.by_state.find(state);
            text += pad(std::to_string(it == counts.by_state.end() ? 0 : it->second), 11);
        }
        text += "\n";
    }
    return text;
}

Poco::JSON::Object::Ptr queues_to_json(const std::map<std::string, store::QueueCounts>& queues)
{
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [name, counts] : queues) {
        Poco::JSON::Object::Ptr q = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        q->set("paused", counts.paused);
        for (auto state : k_states) {
            auto it = counts.by_state.find(state);
            q->set(model::to_string(state), static_cast<Poco::UInt64>(it == counts.by_state.end() ? 0 : it->second));
        }
        o->set(name, q);
    }
    return o;
}

} // namespace sandhost::cli
