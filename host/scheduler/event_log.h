// Structured log lines through spdlog: `event key=value ...` as text, or one JSON object per
// line ({"time","level","event",...}) when the host's log format is json.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <variant>

#include "config/settings.h"

#include <spdlog/common.h>

namespace sandhost::scheduler {

using FieldValue = std::variant<std::int64_t, std::string, double, bool>;
using Field = std::pair<const char*, FieldValue>;

enum class LogFormat { text, json };

// Sets up the default spdlog logger: stderr, the level, and the line format (json: every line,
// events and plain messages alike, is one JSON object). Call once, early, from the main thread.
void configure_logging(spdlog::level::level_enum level, LogFormat format);
// The same as a configuration's host.log says.
void configure_logging(const config::LogSettings& log);

// Logs one event with its fields at level.
void log_event(spdlog::level::level_enum level, const char* event, std::initializer_list<Field> fields);

} // namespace sandhost::scheduler
