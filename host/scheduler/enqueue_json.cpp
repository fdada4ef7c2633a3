#include "scheduler/enqueue_json.h"

#include "config/suggest.h"
#include "model/json_text.h"
#include "model/units.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <limits>

namespace sandhost::scheduler {
namespace {

BadJobJson invalid(const std::string& message) { return BadJobJson(false, message); }

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

} // namespace

const std::vector<std::string>& job_json_members()
{
    static const std::vector<std::string> members{"queue", "task", "payload", "priority", "delay", "timeout", "max_attempts", "depends_on", "key"};
    return members;
}

EnqueueRequest enqueue_request_from_json(std::string_view text)
{
    if (const auto error = model::json_syntax_error(text)) throw BadJobJson(true, "not valid JSON: " + error->to_string());
    const auto members = model::json_object_members(text);
    if (!members) throw invalid("a job must be a JSON object with at least queue and task");
    Poco::JSON::Parser parser;
    const auto body = parser.parse(std::string(text)).extract<Poco::JSON::Object::Ptr>();

    const auto& known = job_json_members();
    EnqueueRequest request;
    for (const auto& [name, value] : *members) {
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            throw invalid("unknown member \"" + name + "\"" + config::suggestion(name, known, "members"));
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

} // namespace sandhost::scheduler
