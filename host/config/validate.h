// `sandhost validate CONFIG [--print]`, as a function the CLI calls.
#pragma once

#include <filesystem>
#include <ostream>

#include "config/load.h"

namespace sandhost::config {

inline constexpr int k_validate_ok = 0;
inline constexpr int k_validate_invalid = 2;

// Loads `file`. Valid: writes one summary line to `out` (and to `err` a warning when it has
// no queue at all) ("FILE: OK: 3 queues, 1 schedule,
// 2 plugin dirs"), or with `print` the resolved settings as YAML (the summary as its first,
// comment, line), and returns k_validate_ok. Invalid: writes every error to `err`, one per
// line as FILE:LINE:COLUMN: message, and returns k_validate_invalid.
int run_validate(const std::filesystem::path& file, bool print, std::ostream& out, std::ostream& err,
                 const LoadOptions& options);

// The summary line without its newline.
std::string summary_line(const std::filesystem::path& file, const Settings& settings);

} // namespace sandhost::config
