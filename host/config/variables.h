// `${VAR}` and `${VAR:-default}` in config values. `$$` stands for one `$`; any other `$` is
// literal.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "model/parse_result.h"

namespace sandhost::config {

// The value of an environment variable, or nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// getenv(3).
std::optional<std::string> process_environment(const std::string& name);

// Replaces every reference in `text`. `${VAR:-default}` takes the default when VAR is unset or
// empty (as the shell does); an unset `${VAR}`, an unterminated `${` or a bad name is an error
// quoting the reference. The default is taken literally (no nested references).
model::ParseResult<std::string> expand_variables(std::string_view text, const EnvLookup& env);

// The inverse for printing: text that expand_variables turns back into `text`.
std::string escape_variables(std::string_view text);

} // namespace sandhost::config
