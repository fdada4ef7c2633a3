#include "store/attempt_record.h"

#include <cstdint>

namespace sandhost::store {

std::string valid_utf8(std::string_view text)
{
    static constexpr std::string_view k_replacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto byte = static_cast<unsigned char>(text[i]);
        std::size_t length = 0;
        std::uint32_t min = 0;
        if (byte < 0x80) {
            out.push_back(text[i++]);
            continue;
        } else if (byte >= 0xC2 && byte <= 0xDF) {
            length = 2;
            min = 0x80;
        } else if (byte >= 0xE0 && byte <= 0xEF) {
            length = 3;
            min = 0x800;
        } else if (byte >= 0xF0 && byte <= 0xF4) {
            length = 4;
            min = 0x10000;
        }
        bool valid = length != 0 && i + length <= text.size();
        std::uint32_t code_point = length == 2 ? (byte & 0x1Fu) : length == 3 ? (byte & 0x0Fu) : (byte & 0x07u);
        for (std::size_t k = 1; valid && k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0) != 0x80) valid = false;
            code_point = (code_point << 6) | (next & 0x3Fu);
        }
        // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
        if (valid && (code_point < min || (code_point >= 0xD800 && code_point <= 0xDFFF) || code_point > 0x10FFFF)) {
            valid = false;
        }
        if (valid) {
            out.append(text.substr(i, length));
            i += length;
        } else {
            out.append(k_replacement);
            ++i;
        }
    }
    return out;
}

std::string encode_outcome(const sandbox::Outcome& outcome)
{
    sandbox::Outcome stored = outcome;
    stored.result.clear();
    stored.error = valid_utf8(stored.error);
    stored.isolation = valid_utf8(stored.isolation);
    if (stored.fallback) stored.fallback = valid_utf8(*stored.fallback);
    stored.stdout_tail = valid_utf8(stored.stdout_tail);
    stored.stderr_tail = valid_utf8(stored.stderr_tail);
    if (stored.progress) stored.progress->message = valid_utf8(stored.progress->message);
    return sandbox::to_json(stored);
}

std::optional<sandbox::Outcome> decode_outcome(const std::string& json)
{
    return sandbox::outcome_from_json(json);
}

} // namespace sandhost::store
