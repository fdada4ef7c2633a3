// Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in UTC.
// Follows Vixie cron: lists, ranges, steps ("*/15", "1-5", "mon-fri"), names for months and
// weekdays, 0 or 7 for Sunday, and "either day field matches" when both day fields are
// restricted. Also @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "model/parse_result.h"

namespace sandhost::config {

class CronExpression {
public:
    // Refuses a wrong field count, out-of-range values, malformed lists, ranges and steps, and
    // an expression that can never fire ("0 0 30 2 *"); the error names the field and quotes it.
    static model::ParseResult<CronExpression> parse(std::string_view text);

    // The first whole minute strictly after `after` at which the expression fires, in UTC.
    // Never empty for a parsed expression (parse refuses one that never fires).
    std::optional<std::chrono::sys_seconds> next_after(std::chrono::system_clock::time_point after) const;

    // True when the expression fires at that minute (seconds are ignored).
    bool matches(std::chrono::sys_seconds minute) const;

    // The text it was parsed from, whitespace-normalized (a macro stays a macro).
    const std::string& text() const { return m_text; }

    bool operator==(const CronExpression&) const = default;

private:
    CronExpression() = default;
    bool day_matches(std::chrono::sys_days day) const;

    std::string m_text;
    std::bitset<60> m_minutes;
    std::bitset<24> m_hours;
    std::bitset<32> m_days_of_month;  // bit 0 unused
    std::bitset<13> m_months;         // bit 0 unused
    std::bitset<7> m_days_of_week;    // 0 = Sunday
    // Vixie cron: a day field starting with '*' does not restrict; when neither is '*', a day
    // matching either field fires.
    bool m_any_day_of_month = true;
    bool m_any_day_of_week = true;
};

} // namespace sandhost::config
