// A problem found in a configuration file, as a value. The loader collects every problem of a
// file (and of the files it includes) before it reports; ConfigLoadError carries the list to
// callers that prefer an exception.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace sandhost::config {

struct ConfigError {
    std::filesystem::path file;  // as the user named it (or as an include resolved it)
    int line = 0;                // 1-based; 0 when the problem concerns the whole file
    int column = 0;              // 1-based; 0 when line is 0
    std::string message;         // quotes the offending key or value

    // "FILE:LINE:COLUMN: message", or "FILE: message" when there is no position.
    std::string to_string() const;

    bool operator==(const ConfigError&) const = default;
};

// Thrown by load_config_or_throw; what() is every error, one per line.
class ConfigLoadError : public std::runtime_error {
public:
    explicit ConfigLoadError(std::vector<ConfigError> errors);

    const std::vector<ConfigError>& errors() const { return m_errors; }

private:
    std::vector<ConfigError> m_errors;
};

} // namespace sandhost::config
