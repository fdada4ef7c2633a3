// Text as it crosses into JSON, logs and terminals: UTF-8 checks and JSON string escaping.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sandhost::model {

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
bool is_valid_utf8(std::string_view text);
// The length of the longest well-formed UTF-8 prefix of `text`: where the first bad byte is.
std::size_t valid_utf8_prefix(std::string_view text);

// `text` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD. JSON
// carries only UTF-8, and output tails and error texts from a task carry anything.
std::string valid_utf8(std::string_view text);

// Appends `text` as a JSON string literal, quotes included: `"`, `\` and every control
// character (DEL too) escaped. The bytes are copied as they are otherwise: pass valid UTF-8.
void append_json_string(std::string& out, std::string_view text);
std::string json_string(std::string_view text);

// `text` safe to print on a terminal: control characters (and DEL) shown as \xNN escapes.
std::string printable(std::string_view text);

} // namespace sandhost::model
