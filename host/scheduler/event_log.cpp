#include "scheduler/event_log.h"

#include "os/time_format.h"

#include "model/text.h"

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

namespace sandhost::scheduler {
namespace {

std::atomic<LogFormat> g_format{LogFormat::text};

// spdlog creates its registry on first use. Two hosts started at once in
// one process would race to create it, so it is created while the library
// loads, before any thread exists.
[[maybe_unused]] const spdlog::logger* const k_default_logger = spdlog::default_logger_raw();

// Task messages carry any bytes: a log line is valid UTF-8 whatever they hold.
void append_json_string(std::string& out, std::string_view text) { model::append_json_string(out, model::valid_utf8(text)); }

void append_value(std::string& out, const FieldValue& value, bool json)
{
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) {
                if (json || v.empty() || v.find_first_of(" \"=\n") != std::string::npos) append_json_string(out, v);
                else out += v;
            } else if constexpr (std::is_same_v<T, bool>) {
                out += v ? "true" : "false";
            } else {
                out += std::to_string(v);
            }
        },
        value);
}

// Every line as one JSON object: an event's own object gets time and level in front; a plain
// message is wrapped as {"time","level","event":"message","message"}, so that every line
// has an event.
class JsonFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override
    {
        std::string line = R"({"time":")" + os::format_utc(msg.time) + R"(","level":")" +
                           std::string(spdlog::level::to_string_view(msg.level).data(), spdlog::level::to_string_view(msg.level).size()) + "\"";
        const std::string_view payload(msg.payload.data(), msg.payload.size());
        if (payload.size() >= 2 && payload.front() == '{' && payload.back() == '}') {
            if (payload.size() > 2) line += ",";
            line.append(payload.substr(1));
        } else {
            line += R"(,"event":"message","message":)";
            append_json_string(line, payload);
            line += "}";
        }
        line += '\n';
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

} // namespace

void configure_logging(spdlog::level::level_enum level, LogFormat format)
{
    g_format = format;
    auto logger = std::make_shared<spdlog::logger>("sandhost", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    if (format == LogFormat::json) {
        logger->set_formatter(std::make_unique<JsonFormatter>());
    } else {
        logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
    }
    logger->set_level(level);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

void configure_logging(const config::LogSettings& log)
{
    spdlog::level::level_enum level = spdlog::level::info;
    switch (log.level) {
    case config::LogLevel::trace: level = spdlog::level::trace; break;
    case config::LogLevel::debug: level = spdlog::level::debug; break;
    case config::LogLevel::info: level = spdlog::level::info; break;
    case config::LogLevel::warn: level = spdlog::level::warn; break;
    case config::LogLevel::error: level = spdlog::level::err; break;
    }
    configure_logging(level, log.format == config::LogFormat::json ? LogFormat::json : LogFormat::text);
}

void log_event(spdlog::level::level_enum level, const char* event, std::initializer_list<Field> fields)
{
    if (!spdlog::default_logger_raw()->should_log(level)) return;
    const bool json = g_format.load() == LogFormat::json;
    std::string line;
    if (json) {
        line = R"({"event":)";
        append_json_string(line, event);
        for (const auto& [key, value] : fields) {
            line += ",";
            append_json_string(line, key);
            line += ":";
            append_value(line, value, true);
        }
        line += "}";
    } else {
        line = event;
        for (const auto& [key, value] : fields) {
            line += ' ';
            line += key;
            line += '=';
            append_value(line, value, false);
        }
    }
    spdlog::log(level, "{}", line);
}

} // namespace sandhost::scheduler
