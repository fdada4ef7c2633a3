// How an attempt's outcome is kept in the store: the JSON of model::to_json, so that a
// record reads back field for field. Shared by the store implementations.
#pragma once

#include "model/outcome.h"

#include <optional>
#include <string>

namespace sandhost::store {

// The outcome as JSON without its result (the store keeps results as bytes, next to the
// record) and with its texts made valid UTF-8.
std::string encode_outcome(const model::Outcome& outcome);

// Reads what encode_outcome wrote; nullopt when it is not such a record.
std::optional<model::Outcome> decode_outcome(const std::string& json);

} // namespace sandhost::store
