#include "config/variables.h"

#include <cstdlib>

namespace sandhost::config {
namespace {

bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

} // namespace

std::optional<std::string> process_environment(const std::string& name)
{
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
}

model::ParseResult<std::string> expand_variables(std::string_view text, const EnvLookup& env)
{
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (c != '$' || i + 1 == text.size()) {
            out += c;
            ++i;
            continue;
        }
        if (text[i + 1] == '$') {
            out += '$';
            i += 2;
            continue;
        }
        if (text[i + 1] != '{') {
            out += c;
            ++i;
            continue;
        }
        std::size_t close = text.find('}', i + 2);
        if (close == std::string_view::npos) {
            return model::ParseResult<std::string>::failure("unterminated \"${\" in \"" + std::string(text) + "\"");
        }
        std::string_view reference = text.substr(i, close + 1 - i);
        std::string_view inner = text.substr(i + 2, close - i - 2);
        std::size_t separator = inner.find(":-");
        std::string name(inner.substr(0, separator));
        bool valid = !name.empty() && is_name_start(name[0]);
        for (char n : name) valid = valid && is_name_char(n);
        if (!valid) {
            return model::ParseResult<std::string>::failure("invalid variable reference \"" + std::string(reference) +
                                                     "\" (write ${NAME} or ${NAME:-default})");
        }
        std::optional<std::string> value = env ? env(name) : std::nullopt;
        if (separator != std::string_view::npos) {
            if (!value || value->empty()) value = std::string(inner.substr(separator + 2));
        } else if (!value) {
            return model::ParseResult<std::string>::failure("environment variable " + name + " is not set (in \"" +
                                                     std::string(text) + "\"; write ${" + name +
                                                     ":-default} to give a default)");
        }
        out += *value;
        i = close + 1;
    }
    return model::ParseResult<std::string>::success(std::move(out));
}

std::string escape_variables(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        out += c;
        if (c == '$') out += '$';
    }
    return out;
}

} // namespace sandhost::config
