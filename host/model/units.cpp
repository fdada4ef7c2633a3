#include "model/units.h"

#include <array>
#include <cstdint>
#include <limits>

namespace sandhost::model {
namespace {

struct Unit {
    std::string_view name;
    std::uint64_t scale;
};

// Longest names first is not needed: a unit is the whole suffix after the number.
constexpr std::array k_duration_units{
    Unit{"ms", 1},
    Unit{"s", 1000},
    Unit{"m", 60 * 1000},
    Unit{"h", 60 * 60 * 1000},
    Unit{"d", 24 * 60 * 60 * 1000},
};

constexpr std::array k_size_units{
    Unit{"B", 1},
    Unit{"KiB", 1ull << 10},
    Unit{"MiB", 1ull << 20},
    Unit{"GiB", 1ull << 30},
    Unit{"TiB", 1ull << 40},
    Unit{"KB", 1000ull},
    Unit{"MB", 1000ull * 1000},
    Unit{"GB", 1000ull * 1000 * 1000},
    Unit{"TB", 1000ull * 1000 * 1000 * 1000},
};

// Durations longer than a century are typos, and staying far below the int64 range of
// std::chrono::milliseconds keeps arithmetic on them (deadline = now + timeout) safe.
constexpr std::uint64_t k_max_duration_ms = 100ull * 366 * 24 * 60 * 60 * 1000;

std::string in_quotes(std::string_view text)
{
    return "\"" + std::string(text) + "\"";
}

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

struct Number {
    std::string_view integer;
    std::string_view fraction;  // digits after the dot, possibly empty
    std::string_view unit;
};

// Splits "12.5MiB" into its parts; false when the text does not start with digits.
bool split_number(std::string_view text, Number& number)
{
    std::size_t i = 0;
    while (i < text.size() && is_digit(text[i])) ++i;
    if (i == 0) return false;
    number.integer = text.substr(0, i);
    if (i < text.size() && text[i] == '.') {
        std::size_t start = ++i;
        while (i < text.size() && is_digit(text[i])) ++i;
        if (i == start) return false;
        number.fraction = text.substr(start, i - start);
    }
    number.unit = text.substr(i);
    return true;
}

// integer.fraction * scale, when exact and no larger than max.
enum class Scaled { ok, too_large, not_whole };

Scaled scale_number(const Number& number, std::uint64_t scale, std::uint64_t max, std::uint64_t& out)
{
    std::uint64_t whole = 0;
    for (char c : number.integer) {
        auto digit = static_cast<std::uint64_t>(c - '0');
        if (whole > (max - digit) / 10) return Scaled::too_large;
        whole = whole * 10 + digit;
    }
    if (scale != 0 && whole > max / scale) return Scaled::too_large;
    std::uint64_t result = whole * scale;
    // The fraction must come out whole: scale * fraction / 10^digits without a remainder.
    std::uint64_t numerator = 0;
    std::uint64_t denominator = 1;
    for (char c : number.fraction) {
        if (denominator > std::numeric_limits<std::uint64_t>::max() / 10 / scale) {
            if (c != '0') return Scaled::not_whole;
            continue;
        }
        numerator = numerator * 10 + static_cast<std::uint64_t>(c - '0');
        denominator *= 10;
    }
    if (numerator != 0) {
        if ((numerator * scale) % denominator != 0) return Scaled::not_whole;
        std::uint64_t part = numerator * scale / denominator;
        if (result > max - part) return Scaled::too_large;
        result += part;
    }
    out = result;
    return Scaled::ok;
}

template <std::size_t n>
const Unit* find_unit(const std::array<Unit, n>& units, std::string_view name)
{
    for (const auto& unit : units) {
        if (unit.name == name) return &unit;
    }
    return nullptr;
}

} // namespace

ParseResult<Duration> parse_duration(std::string_view text)
{
    constexpr std::string_view units = "ms, s, m, h or d";
    Number number;
    if (!split_number(text, number)) {
        return ParseResult<Duration>::failure(in_quotes(text) + " is not a duration (a number and a unit: " +
                                              std::string(units) + ", e.g. \"30s\")");
    }
    if (number.unit.empty()) {
        return ParseResult<Duration>::failure(in_quotes(text) + " has no unit (durations take " + std::string(units) +
                                              ", e.g. \"" + std::string(text) + "s\")");
    }
    const Unit* unit = find_unit(k_duration_units, number.unit);
    if (unit == nullptr) {
        return ParseResult<Duration>::failure(in_quotes(text) + " has an unknown unit " + in_quotes(number.unit) +
                                              " (durations take " + std::string(units) + ")");
    }
    std::uint64_t ms = 0;
    switch (scale_number(number, unit->scale, k_max_duration_ms, ms)) {
    case Scaled::ok:
        break;
    case Scaled::too_large:
        return ParseResult<Duration>::failure(in_quotes(text) + " is too long (at most 100 years)");
    case Scaled::not_whole:
        return ParseResult<Duration>::failure(in_quotes(text) + " is not a whole number of milliseconds");
    }
    return ParseResult<Duration>::success(Duration(static_cast<Duration::rep>(ms)));
}

ParseResult<std::uint64_t> parse_size(std::string_view text)
{
    constexpr std::string_view units = "B, KiB, MiB, GiB, TiB, KB, MB, GB or TB";
    Number number;
    if (!split_number(text, number)) {
        return ParseResult<std::uint64_t>::failure(in_quotes(text) + " is not a size (a number and a unit: " +
                                                   std::string(units) + ", e.g. \"64MiB\")");
    }
    if (number.unit.empty()) {
        return ParseResult<std::uint64_t>::failure(in_quotes(text) + " has no unit (sizes take " + std::string(units) +
                                                   ", e.g. \"64MiB\")");
    }
    const Unit* unit = find_unit(k_size_units, number.unit);
    if (unit == nullptr) {
        return ParseResult<std::uint64_t>::failure(in_quotes(text) + " has an unknown unit " + in_quotes(number.unit) +
                                                   " (sizes take " + std::string(units) + ")");
    }
    std::uint64_t bytes = 0;
    switch (scale_number(number, unit->scale, std::numeric_limits<std::uint64_t>::max(), bytes)) {
    case Scaled::ok:
        break;
    case Scaled::too_large:
        return ParseResult<std::uint64_t>::failure(in_quotes(text) + " is too large");
    case Scaled::not_whole:
        return ParseResult<std::uint64_t>::failure(in_quotes(text) + " is not a whole number of bytes");
    }
    return ParseResult<std::uint64_t>::success(bytes);
}

std::string format_duration(Duration duration)
{
    const auto ms = duration.count();
    if (ms == 0) return "0s";
    for (auto it = k_duration_units.rbegin(); it != k_duration_units.rend(); ++it) {
        const auto scale = static_cast<Duration::rep>(it->scale);
        if (ms % scale == 0) return std::to_string(ms / scale) + std::string(it->name);
    }
    return std::to_string(ms) + "ms";
}

std::string format_size(std::uint64_t bytes)
{
    if (bytes == 0) return "0B";
    constexpr std::array binary{k_size_units[4], k_size_units[3], k_size_units[2], k_size_units[1]};
    for (const auto& unit : binary) {
        if (bytes % unit.scale == 0) return std::to_string(bytes / unit.scale) + std::string(unit.name);
    }
    return std::to_string(bytes) + "B";
}

} // namespace sandhost::model
