// Outcome: how one attempt ended, as a value. A closed set of kinds, each with its own fields;
// a signal is never folded into an exit code and a timeout never looks like a crash.
#pragma once

#include "model/enum_names.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandhost::model {

enum class OutcomeKind {
    succeeded,        // result
    failed,           // error, permanent
    timed_out,        // killed (SIGKILL was needed), error says which clock ran out
    crashed,          // signal_number, core_dumped
    exited,           // exit_code
    resource_limit,   // limit
    load_failed,      // error
    protocol_error,   // error
    result_too_large, // error (the sizes)
    spawn_failed,     // error (with errno text)
    cancelled,
    worker_lost,
};

enum class LimitKind { memory, cpu, file_size, processes, output };

inline constexpr EnumName<OutcomeKind> k_outcome_kind_names[] = {
    {"succeeded", OutcomeKind::succeeded},         {"failed", OutcomeKind::failed},
    {"timed_out", OutcomeKind::timed_out},         {"crashed", OutcomeKind::crashed},
    {"exited", OutcomeKind::exited},               {"resource_limit", OutcomeKind::resource_limit},
    {"load_failed", OutcomeKind::load_failed},     {"protocol_error", OutcomeKind::protocol_error},
    {"result_too_large", OutcomeKind::result_too_large}, {"spawn_failed", OutcomeKind::spawn_failed},
    {"cancelled", OutcomeKind::cancelled},         {"worker_lost", OutcomeKind::worker_lost},
};
inline constexpr EnumName<LimitKind> k_limit_kind_names[] = {
    {"memory", LimitKind::memory},       {"cpu", LimitKind::cpu},         {"file_size", LimitKind::file_size},
    {"processes", LimitKind::processes}, {"output", LimitKind::output},
};

struct ProgressReport {
    double percent = 0;
    std::string message;
    bool operator==(const ProgressReport&) const = default;
};

// The task's log levels (the plugin ABI's SH_LOG_*), by number.
enum class LogLevel { trace = 0, debug = 1, info = 2, warn = 3, error = 4 };
inline constexpr EnumName<LogLevel> k_log_level_names[] = {
    {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info}, {"warn", LogLevel::warn}, {"error", LogLevel::error}};
// The level for an ABI level number; out of range is clamped.
LogLevel log_level_from_number(int level);

// A line the task logged through its services.
struct LogLine {
    LogLevel level = LogLevel::info;
    std::chrono::system_clock::time_point time{};
    std::string message;
    bool operator==(const LogLine&) const = default;
};

// An attempt keeps the last this many of its task's log lines, each cut to this many bytes;
// the lines before them are counted in log_dropped.
inline constexpr std::size_t k_kept_log_lines = 200;
inline constexpr std::size_t k_kept_log_line_bytes = 4096;

struct Outcome {
    OutcomeKind kind = OutcomeKind::spawn_failed;
    std::string result;                  // succeeded only
    std::string error;                   // failed, timed_out, load_failed, protocol_error, ...
    bool permanent = false;              // the task said retrying cannot help
    std::optional<int> signal_number;    // crashed (and timed_out/cancelled: the signal that ended it)
    bool core_dumped = false;
    std::optional<int> exit_code;        // exited
    std::optional<LimitKind> limit;      // resource_limit
    bool killed = false;                 // SIGKILL was needed to stop the worker
    std::string isolation = "spawn";     // spawn | fork | reuse | none
    std::optional<std::string> fallback; // "inline" when the attempt ran in the host as a fallback
    std::chrono::milliseconds duration{0};              // from launch (or, reused, from the job's start) to the end
    std::optional<std::chrono::milliseconds> startup_ms; // from launch to the worker's ready
    std::optional<std::int64_t> pid;
    std::optional<std::uint64_t> max_rss_kb;
    std::optional<std::uint64_t> cpu_ms;
    std::string stdout_tail;
    std::string stderr_tail;
    std::uint64_t stdout_dropped = 0;    // bytes of stdout beyond its tail (not kept)
    std::uint64_t stderr_dropped = 0;
    std::optional<ProgressReport> progress;
    std::vector<LogLine> log;            // the task's last log lines (k_kept_log_lines)
    std::uint64_t log_dropped = 0;       // lines logged before them
    std::chrono::system_clock::time_point started_at{};
    std::chrono::system_clock::time_point ended_at{};
    // Not recorded: a load_failed that says the plugin itself is broken (not just a missing
    // task), which feeds the plugin's failing-fast back-off.
    bool plugin_unusable = false;
    // Not recorded: a worker_lost that the worker's side ended because the attempt's lease ran
    // out unrenewed (the host lost track, not the job): sandbox::lease_ran_out.
    bool lease_ran_out = false;

    bool succeeded() const { return kind == OutcomeKind::succeeded; }
};

// Adds a line to an attempt's log, keeping the last k_kept_log_lines (the older ones are
// counted in log_dropped) and cutting a long message to k_kept_log_line_bytes.
void keep_log_line(Outcome& outcome, LogLine line);

const char* to_string(OutcomeKind kind);
std::optional<OutcomeKind> outcome_kind_from_string(std::string_view text);
const char* to_string(LimitKind kind);
std::optional<LimitKind> limit_kind_from_string(std::string_view text);

// Whether another attempt may help: the outcome table's default, overridden by a task that
// reported a permanent error.
bool retryable(const Outcome& outcome);

// The attempt record as one JSON object, fields absent when they do not apply (the format of
// `sandhost exec --json`). Timestamps are RFC 3339 UTC with milliseconds.
std::string to_json(const Outcome& outcome);
// Parses what to_json wrote; nullopt when it is not such a record.
std::optional<Outcome> outcome_from_json(const std::string& json);

} // namespace sandhost::model
