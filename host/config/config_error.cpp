#include "config/config_error.h"

namespace sandhost::config {

std::string ConfigError::to_string() const
{
    if (line <= 0) return file.string() + ": " + message;
    return file.string() + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

namespace {

std::string join_errors(const std::vector<ConfigError>& errors)
{
    std::string text;
    for (const auto& e : errors) {
        if (!text.empty()) text += '\n';
        text += e.to_string();
    }
    return text;
}

} // namespace

ConfigLoadError::ConfigLoadError(std::vector<ConfigError> errors)
    : std::runtime_error(join_errors(errors)), m_errors(std::move(errors))
{
}

} // namespace sandhost::config
