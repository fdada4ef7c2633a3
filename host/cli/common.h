// Pieces several subcommands share: value parsing with the flag's name in the error, the
// default plugin directories, payload reading.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sandhost::cli {

std::chrono::milliseconds parse_duration_flag(const std::string& flag, const std::string& text);
// The same, for a deadline or a limit: 0 is refused (it would end every attempt at once).
std::chrono::milliseconds parse_positive_duration_flag(const std::string& flag, const std::string& text);
// A whole number in int's range, e.g. a priority.
int parse_int_flag(const std::string& flag, const std::string& text);
std::uint64_t parse_size_flag(const std::string& flag, const std::string& text);
std::uint64_t parse_count_flag(const std::string& flag, const std::string& text, std::uint64_t minimum);

// --plugin-dir values, else the folder SANDHOST_PLUGIN_DIR names (the variable the shipped
// configurations read; SANDHOST_PLUGIN_PATH, colon-separated, is still read with a deprecation
// warning on stderr when SANDHOST_PLUGIN_DIR is not set), else the plugins shipped
// with sandhost, found beside the running executable (sandbox::shipped_plugin_dirs: the build
// tree's plugins/ or an installed lib/sandhost/plugins/).
std::vector<std::filesystem::path> plugin_dirs_from(const std::vector<std::string>& flags);

// A payload given as JSON text or as @FILE, checked to be JSON. Throws UsageError.
std::string read_payload(const std::string& flag_value);

} // namespace sandhost::cli
