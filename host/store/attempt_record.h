// How an attempt's outcome is kept in the store: the JSON of sandbox::to_json, so that a
// record reads back field for field. Shared by the store implementations.
#pragma once

#include "sandbox/outcome.h"

#include <optional>
#include <string>
#include <string_view>

namespace sandhost::store {

// `text` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD. JSON
// carries only UTF-8, and stdout/stderr tails and error texts from a task carry anything.
std::string valid_utf8(std::string_view text);

// The outcome as JSON without its result (the store keeps results as bytes, next to the
// record) and with its texts made valid UTF-8.
std::string encode_outcome(const sandbox::Outcome& outcome);

// Reads what encode_outcome wrote; nullopt when it is not such a record.
std::optional<sandbox::Outcome> decode_outcome(const std::string& json);

} // namespace sandhost::store
