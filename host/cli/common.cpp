#include "cli/common.h"

#include "cli/args.h"
#include "model/json_text.h"
#include "model/units.h"
#include "sandbox/worker_locator.h"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

namespace sandhost::cli {

std::chrono::milliseconds parse_duration_flag(const std::string& flag, const std::string& text)
{
    auto parsed = model::parse_duration(text);
    if (!parsed) throw UsageError("--" + flag + ": " + parsed.error());
    return parsed.value();
}

std::chrono::milliseconds parse_positive_duration_flag(const std::string& flag, const std::string& text)
{
    const auto value = parse_duration_flag(flag, text);
    if (value.count() == 0) throw UsageError("--" + flag + ": must be more than 0 (" + text + " would end every attempt at once)");
    return value;
}

int parse_int_flag(const std::string& flag, const std::string& text)
{
    int value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) {
        throw UsageError("--" + flag + ": " + text + " is out of range (" + std::to_string(std::numeric_limits<int>::min()) + " to " +
                         std::to_string(std::numeric_limits<int>::max()) + ")");
    }
    if (ec != std::errc() || end != text.data() + text.size()) throw UsageError("--" + flag + ": '" + text + "' is not a whole number");
    return value;
}

std::uint64_t parse_size_flag(const std::string& flag, const std::string& text)
{
    auto parsed = model::parse_size(text);
    if (!parsed) throw UsageError("--" + flag + ": " + parsed.error());
    return parsed.value();
}

std::uint64_t parse_count_flag(const std::string& flag, const std::string& text, std::uint64_t minimum)
{
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) throw UsageError("--" + flag + ": " + text + " is out of range");
    if (ec != std::errc() || end != text.data() + text.size()) throw UsageError("--" + flag + ": '" + text + "' is not a whole number");
    if (value < minimum) throw UsageError("--" + flag + ": must be at least " + std::to_string(minimum) + ", got " + text);
    return value;
}

std::vector<std::filesystem::path> plugin_dirs_from(const std::vector<std::string>& flags)
{
    std::vector<std::filesystem::path> dirs;
    for (const auto& flag : flags) dirs.emplace_back(std::filesystem::absolute(flag));
    if (!dirs.empty()) return dirs;
    const char* dir = std::getenv("SANDHOST_PLUGIN_DIR");
    const char* old = std::getenv("SANDHOST_PLUGIN_PATH");
    if (dir && *dir) {
        if (old && *old) std::cerr << "sandhost: warning: SANDHOST_PLUGIN_PATH is ignored: SANDHOST_PLUGIN_DIR is set (unset the old one)\n";
        dirs.emplace_back(std::filesystem::absolute(dir));
        return dirs;
    }
    if (old && *old) {
        // The old name, still read as it was (colon-separated) until it goes.
        std::cerr << "sandhost: warning: SANDHOST_PLUGIN_PATH is deprecated: set SANDHOST_PLUGIN_DIR, the variable the configurations read too\n";
        std::stringstream list(old);
        for (std::string entry; std::getline(list, entry, ':');) {
            if (!entry.empty()) dirs.emplace_back(std::filesystem::absolute(entry));
        }
        return dirs;
    }
    return sandbox::shipped_plugin_dirs();
}

std::string read_payload(const std::string& flag_value)
{
    std::string text = flag_value;
    if (!flag_value.empty() && flag_value[0] == '@') {
        std::ifstream file(flag_value.substr(1), std::ios::binary);
        if (!file) throw UsageError("--payload: cannot read " + flag_value.substr(1));
        std::ostringstream content;
        content << file.rdbuf();
        text = content.str();
    }
    // The same checker and wording as the enqueue policy and the HTTP API's bad_json.
    if (const auto error = model::json_syntax_error(text)) throw UsageError("--payload is not valid JSON: " + error->to_string());
    return text;
}

} // namespace sandhost::cli
