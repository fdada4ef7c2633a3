// The hello plugin: an example of tasks written with the C++ layer (sandhost/plugin.hpp).
// Each task takes its JSON payload as text and returns its result as text; a thrown TaskError
// fails the attempt with its message.
#include <sandhost/plugin.hpp>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>

namespace {

using sandhost::plugin::Context;
using sandhost::plugin::Retry;
using sandhost::plugin::TaskError;

constexpr auto k_progress_interval = std::chrono::milliseconds(100);
constexpr double k_max_long_seconds = 24 * 60 * 60;

// The payload as a JSON object. A payload that is not one can never succeed: Retry::never.
Poco::JSON::Object::Ptr parse_object(std::string_view payload)
{
    try {
        Poco::JSON::Parser parser;
        const Poco::Dynamic::Var value = parser.parse(std::string(payload));
        if (value.type() != typeid(Poco::JSON::Object::Ptr)) {
            throw TaskError("payload is not a JSON object", Retry::never);
        }
        return value.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        throw TaskError("payload is not valid JSON: " + e.displayText(), Retry::never);
    }
}

std::string string_field(const Poco::JSON::Object& object, const std::string& key)
{
    const Poco::Dynamic::Var value = object.get(key);
    if (value.isEmpty()) {
        throw TaskError("payload has no field \"" + key + "\"", Retry::never);
    }
    if (!value.isString()) {
        throw TaskError("payload field \"" + key + "\" is not a string", Retry::never);
    }
    return value.extract<std::string>();
}

double number_field(const Poco::JSON::Object& object, const std::string& key)
{
    const Poco::Dynamic::Var value = object.get(key);
    if (value.isEmpty()) {
        throw TaskError("payload has no field \"" + key + "\"", Retry::never);
    }
    // Poco reports a boolean as numeric too.
    if (!value.isNumeric() || value.isBoolean()) {
        throw TaskError("payload field \"" + key + "\" is not a number", Retry::never);
    }
    return value.convert<double>();
}

std::string echo(std::string_view payload, Context&)
{
    return std::string(payload);
}

// {"text": "..."} -> {"words": n}: words are runs of characters other than ASCII white space.
std::string word_count(std::string_view payload, Context&)
{
    const std::string text = string_field(*parse_object(payload), "text");
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    std::size_t words = 0;
    bool in_word = false;
    for (const char c : text) {
        if (is_space(c)) {
            in_word = false;
        } else if (!in_word) {
            in_word = true;
            ++words;
        }
    }
    return "{\"words\":" + std::to_string(words) + "}";
}

// {"seconds": s} -> works for s seconds, reporting progress every 100 ms and stopping early
// when the host asks it to.
std::string long_task(std::string_view payload, Context& ctx)
{
    const double seconds = number_field(*parse_object(payload), "seconds");
    if (!(seconds >= 0 && seconds <= k_max_long_seconds)) {
        throw TaskError("payload field \"seconds\" must be between 0 and 86400", Retry::never);
    }
    using Clock = std::chrono::steady_clock;
    const auto total = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    const auto start = Clock::now();
    const auto deadline = start + total;
    int reports = 0;
    for (;;) {
        if (ctx.cancel_requested()) {
            throw TaskError("cancelled", Retry::never);
        }
        const auto now = Clock::now();
        const double elapsed = std::chrono::duration<double>(now - start).count();
        const double percent = seconds > 0 ? std::min(100.0, 100.0 * elapsed / seconds) : 100.0;
        char message[64];
        std::snprintf(message, sizeof message, "%.1f s of %.1f s", std::min(elapsed, seconds), seconds);
        ctx.progress(percent, message);
        ++reports;
        if (now >= deadline) {
            break;
        }
        std::this_thread::sleep_for(std::min<Clock::duration>(k_progress_interval, deadline - now));
    }
    char result[96];
    std::snprintf(result, sizeof result, "{\"seconds\":%g,\"reports\":%d}", seconds, reports);
    return result;
}

const sh_task_t k_tasks[] = {
    SH_CPP_TASK("echo", "returns its payload unchanged", echo),
    SH_CPP_TASK("word_count", "counts the words of {\"text\"}", word_count),
    SH_CPP_TASK("long", "works {\"seconds\"}, reporting progress; stops when cancelled", long_task),
};

} // namespace

SH_DEFINE_PLUGIN("hello", "1.0.0", k_tasks, nullptr, nullptr)
