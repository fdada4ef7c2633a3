#include "store/attempt_codec.h"

#include "model/text.h"


namespace sandhost::store {

std::string encode_outcome(const model::Outcome& outcome)
{
    model::Outcome stored = outcome;
    stored.result.clear();
    stored.error = model::valid_utf8(stored.error);
    stored.isolation = model::valid_utf8(stored.isolation);
    if (stored.fallback) stored.fallback = model::valid_utf8(*stored.fallback);
    stored.stdout_tail = model::valid_utf8(stored.stdout_tail);
    stored.stderr_tail = model::valid_utf8(stored.stderr_tail);
    if (stored.progress) stored.progress->message = model::valid_utf8(stored.progress->message);
    for (auto& line : stored.log) line.message = model::valid_utf8(line.message);
    return model::to_json(stored);
}

std::optional<model::Outcome> decode_outcome(const std::string& json)
{
    return model::outcome_from_json(json);
}

} // namespace sandhost::store
