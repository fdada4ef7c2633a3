#include "config/cron.h"

#include <array>
#include <cctype>
#include <charconv>
#include <vector>

namespace sandhost::config {
namespace {

struct Field {
    const char* name;
    int min;
    int max;
    const char* const* names;  // spelled values, names[i] is min + i; nullptr when none
    int name_count;
};

constexpr const char* k_month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* k_weekday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

// Day of week accepts 7 for Sunday (as Vixie cron does); it folds onto 0 after parsing.
constexpr std::array<Field, 5> k_fields{
    Field{"minute", 0, 59, nullptr, 0},
    Field{"hour", 0, 23, nullptr, 0},
    Field{"day-of-month", 1, 31, nullptr, 0},
    Field{"month", 1, 12, k_month_names, 12},
    Field{"day-of-week", 0, 7, k_weekday_names, 7},
};

struct Macro {
    std::string_view name;
    std::string_view expansion;
};

constexpr std::array k_macros{
    Macro{"@yearly", "0 0 1 1 *"},  Macro{"@annually", "0 0 1 1 *"}, Macro{"@monthly", "0 0 1 * *"},
    Macro{"@weekly", "0 0 * * 0"},  Macro{"@daily", "0 0 * * *"},    Macro{"@midnight", "0 0 * * *"},
    Macro{"@hourly", "0 * * * *"},
};

std::string in_quotes(std::string_view text)
{
    return "\"" + std::string(text) + "\"";
}

std::vector<std::string_view> split(std::string_view text, char separator)
{
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        std::size_t end = text.find(separator, start);
        parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

std::vector<std::string_view> split_whitespace(std::string_view text)
{
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        std::size_t start = i;
        while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (i > start) words.push_back(text.substr(start, i - start));
    }
    return words;
}

// One value of a field: a number, or a name for months and weekdays. Empty on failure, with
// the reason in `error`.
std::optional<int> parse_value(const Field& field, std::string_view text, std::string& error)
{
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) {
        if (value < field.min || value > field.max) {
            error = std::string(field.name) + " " + in_quotes(text) + " is out of range " + std::to_string(field.min) +
                    "-" + std::to_string(field.max);
            return std::nullopt;
        }
        return value;
    }
    if (field.names != nullptr && text.size() == 3) {
        std::string lower;
        for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (int i = 0; i < field.name_count; ++i) {
            if (lower == field.names[i]) return field.min + i;
        }
    }
    error = std::string(field.name) + " " + in_quotes(text) + " is not a " +
            (field.names != nullptr ? "number or a name" : "number");
    return std::nullopt;
}

// Sets the bits one field's text selects.
bool parse_field(const Field& field, std::string_view text, std::vector<bool>& bits, std::string& error)
{
    bits.assign(static_cast<std::size_t>(field.max + 1), false);
    for (std::string_view item : split(text, ',')) {
        if (item.empty()) {
            error = std::string(field.name) + " field " + in_quotes(text) + " has an empty list item";
            return false;
        }
        std::string_view range = item;
        int step = 1;
        if (auto slash = item.find('/'); slash != std::string_view::npos) {
            range = item.substr(0, slash);
            std::string_view step_text = item.substr(slash + 1);
            auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
            if (ec != std::errc() || end != step_text.data() + step_text.size() || step_text.empty() || step < 1 ||
                step > field.max - field.min + 1) {
                error = std::string(field.name) + " step " + in_quotes(step_text) + " in " + in_quotes(item) +
                        " must be a number from 1 to " + std::to_string(field.max - field.min + 1);
                return false;
            }
        }
        int first = field.min;
        int last = field.max;
        if (range == "*") {
            if (field.names == k_weekday_names) last = 6;  // "*" must not select Sunday twice
        } else if (auto dash = range.find('-'); dash != std::string_view::npos) {
            auto from = parse_value(field, range.substr(0, dash), error);
            if (!from) return false;
            auto to = parse_value(field, range.substr(dash + 1), error);
            if (!to) return false;
            if (*from > *to) {
                error = std::string(field.name) + " range " + in_quotes(range) + " runs backwards";
                return false;
            }
            first = *from;
            last = *to;
        } else {
            auto value = parse_value(field, range, error);
            if (!value) return false;
            first = *value;
            // "5/15" means from 5 to the end in steps of 15; a lone "5" is just 5.
            if (item.find('/') == std::string_view::npos) last = *value;
        }
        for (int v = first; v <= last; v += step) bits[static_cast<std::size_t>(v)] = true;
    }
    return true;
}

template <std::size_t n>
std::bitset<n> to_bitset(const std::vector<bool>& bits)
{
    std::bitset<n> set;
    for (std::size_t i = 0; i < n && i < bits.size(); ++i) set[i] = bits[i];
    return set;
}

} // namespace

model::ParseResult<CronExpression> CronExpression::parse(std::string_view text)
{
    std::vector<std::string_view> words = split_whitespace(text);
    CronExpression expression;
    std::string normalized;
    for (auto word : words) normalized += (normalized.empty() ? "" : " ") + std::string(word);
    expression.m_text = normalized;

    if (words.size() == 1 && words[0].starts_with('@')) {
        for (const auto& macro : k_macros) {
            if (macro.name == words[0]) {
                auto expanded = parse(macro.expansion);
                expression = expanded.value();
                expression.m_text = normalized;
                return model::ParseResult<CronExpression>::success(std::move(expression));
            }
        }
        return model::ParseResult<CronExpression>::failure(
            in_quotes(normalized) + " is not a known macro (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)");
    }
    if (words.size() != 5) {
        return model::ParseResult<CronExpression>::failure(
            in_quotes(normalized) + " has " + std::to_string(words.size()) +
            (words.size() == 1 ? " field" : " fields") + "; a cron expression has 5 (minute hour day-of-month month day-of-week)");
    }
    std::array<std::vector<bool>, 5> bits;
    for (std::size_t i = 0; i < 5; ++i) {
        std::string error;
        if (!parse_field(k_fields[i], words[i], bits[i], error)) {
            return model::ParseResult<CronExpression>::failure(in_quotes(normalized) + ": " + error);
        }
    }
    if (bits[4][7]) bits[4][0] = true;  // 7 is Sunday too
    expression.m_minutes = to_bitset<60>(bits[0]);
    expression.m_hours = to_bitset<24>(bits[1]);
    expression.m_days_of_month = to_bitset<32>(bits[2]);
    expression.m_months = to_bitset<13>(bits[3]);
    expression.m_days_of_week = to_bitset<7>(bits[4]);
    expression.m_any_day_of_month = words[2].starts_with('*');
    expression.m_any_day_of_week = words[4].starts_with('*');

    // "0 0 30 2 *" parses but never fires, and "0 0 29 2 */7" (Feb 29 on a Sunday) fires only
    // every 28 years: searching one full calendar cycle tells them apart.
    if (!expression.next_after(std::chrono::sys_days{std::chrono::year{2000} / 1 / 1})) {
        return model::ParseResult<CronExpression>::failure(in_quotes(normalized) + " never fires");
    }
    return model::ParseResult<CronExpression>::success(std::move(expression));
}

bool CronExpression::day_matches(std::chrono::sys_days day) const
{
    std::chrono::year_month_day date{day};
    std::chrono::weekday weekday{day};
    bool dom = m_days_of_month[static_cast<unsigned>(date.day())];
    bool dow = m_days_of_week[weekday.c_encoding()];
    if (m_any_day_of_month || m_any_day_of_week) return dom && dow;
    return dom || dow;
}

bool CronExpression::matches(std::chrono::sys_seconds minute) const
{
    using namespace std::chrono;
    sys_days day = floor<days>(minute);
    year_month_day date{day};
    hh_mm_ss time{minute - day};
    return m_months[static_cast<unsigned>(date.month())] && day_matches(day) &&
           m_hours[static_cast<std::size_t>(time.hours().count())] &&
           m_minutes[static_cast<std::size_t>(time.minutes().count())];
}

std::optional<std::chrono::sys_seconds> CronExpression::next_after(std::chrono::system_clock::time_point after) const
{
    using namespace std::chrono;
    sys_seconds candidate = floor<minutes>(after) + minutes(1);
    // The Gregorian calendar repeats every 400 years, weekdays included: an expression that
    // does not fire within one cycle never fires. Each step skips a whole month, day, hour or
    // minute, so even that search stays short.
    const year limit = year_month_day{floor<days>(candidate)}.year() + years(400);
    while (true) {
        sys_days day = floor<days>(candidate);
        year_month_day date{day};
        if (date.year() > limit) return std::nullopt;
        if (!m_months[static_cast<unsigned>(date.month())]) {
            year_month next = date.year() / date.month() + months(1);
            candidate = sys_days{next / 1};
            continue;
        }
        if (!day_matches(day)) {
            candidate = day + days(1);
            continue;
        }
        hh_mm_ss time{candidate - day};
        if (!m_hours[static_cast<std::size_t>(time.hours().count())]) {
            candidate = floor<hours>(candidate) + hours(1);
            continue;
        }
        if (!m_minutes[static_cast<std::size_t>(time.minutes().count())]) {
            candidate += minutes(1);
            continue;
        }
        return candidate;
    }
}

} // namespace sandhost::config
