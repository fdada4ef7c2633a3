#include "config/cron.h"

#include <gtest/gtest.h>

namespace sandhost::config {
namespace {

using namespace std::chrono;

sys_seconds at(int y, unsigned mo, unsigned d, int h, int mi, int s = 0)
{
    return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

sys_seconds next(std::string_view expression, sys_seconds after)
{
    auto parsed = CronExpression::parse(expression);
    EXPECT_TRUE(parsed) << parsed.error();
    auto fire = parsed.value().next_after(after);
    EXPECT_TRUE(fire.has_value());
    return fire.value_or(sys_seconds{});
}

TEST(CronNextAfter, DailyAtThree)
{
    EXPECT_EQ(next("0 3 * * *", at(2024, 5, 10, 1, 0)), at(2024, 5, 10, 3, 0));
    // Strictly after: at 03:00:00 the next fire is tomorrow.
    EXPECT_EQ(next("0 3 * * *", at(2024, 5, 10, 3, 0)), at(2024, 5, 11, 3, 0));
    EXPECT_EQ(next("0 3 * * *", at(2024, 12, 31, 4, 0)), at(2025, 1, 1, 3, 0));
}

TEST(CronNextAfter, StepsRangesAndLists)
{
    EXPECT_EQ(next("*/15 * * * *", at(2024, 1, 1, 10, 7, 30)), at(2024, 1, 1, 10, 15));
    EXPECT_EQ(next("*/15 * * * *", at(2024, 1, 1, 10, 45, 0)), at(2024, 1, 1, 11, 0));
    EXPECT_EQ(next("5,35 9-17/4 * * *", at(2024, 1, 1, 17, 36)), at(2024, 1, 2, 9, 5));
    EXPECT_EQ(next("0 0 1 */3 *", at(2024, 2, 15, 0, 0)), at(2024, 4, 1, 0, 0));
}

TEST(CronNextAfter, WeekdaysByNumberAndName)
{
    // 2024-05-10 is a Friday.
    EXPECT_EQ(next("30 6 * * mon", at(2024, 5, 10, 12, 0)), at(2024, 5, 13, 6, 30));
    EXPECT_EQ(next("0 9 * * MON-FRI", at(2024, 5, 11, 0, 0)), at(2024, 5, 13, 9, 0));
    EXPECT_EQ(next("0 0 * * 7", at(2024, 5, 10, 0, 0)), at(2024, 5, 12, 0, 0));
    EXPECT_EQ(next("0 0 * * 0", at(2024, 5, 10, 0, 0)), at(2024, 5, 12, 0, 0));
}

TEST(CronNextAfter, EitherDayFieldWhenBothAreRestricted)
{
    // The 13th or any Friday, whichever comes first (Vixie cron semantics).
    EXPECT_EQ(next("0 0 13 * fri", at(2024, 5, 1, 0, 0)), at(2024, 5, 3, 0, 0));
    EXPECT_EQ(next("0 0 13 * fri", at(2024, 5, 10, 0, 0)), at(2024, 5, 13, 0, 0));
    // A '*'-led day-of-month does not restrict: both must match.
    EXPECT_EQ(next("0 0 */2 * fri", at(2024, 5, 1, 0, 0)), at(2024, 5, 3, 0, 0));
}

TEST(CronNextAfter, LeapDayAndMacros)
{
    EXPECT_EQ(next("0 12 29 feb *", at(2025, 1, 1, 0, 0)), at(2028, 2, 29, 12, 0));
    // Feb 29 that is also a Sunday, with the weekday field '*'-led: 2032 is the next.
    EXPECT_EQ(next("0 0 29 2 */7", at(2024, 3, 1, 0, 0)), at(2032, 2, 29, 0, 0));
    EXPECT_EQ(next("@hourly", at(2024, 5, 10, 3, 59, 59)), at(2024, 5, 10, 4, 0));
    EXPECT_EQ(next("@daily", at(2024, 5, 10, 3, 0)), at(2024, 5, 11, 0, 0));
    EXPECT_EQ(next("@weekly", at(2024, 5, 10, 3, 0)), at(2024, 5, 12, 0, 0));
    EXPECT_EQ(next("@monthly", at(2024, 5, 10, 3, 0)), at(2024, 6, 1, 0, 0));
    EXPECT_EQ(next("@yearly", at(2024, 5, 10, 3, 0)), at(2025, 1, 1, 0, 0));
}

TEST(CronMatches, IgnoresSeconds)
{
    auto cron = CronExpression::parse("15 10 * * *").value();
    EXPECT_TRUE(cron.matches(at(2024, 1, 1, 10, 15, 42)));
    EXPECT_FALSE(cron.matches(at(2024, 1, 1, 10, 16)));
}

TEST(CronParse, RefusesMalformedExpressions)
{
    struct Case {
        const char* text;
        const char* error;
    };
    const Case cases[] = {
        {"0 3 * *", "\"0 3 * *\" has 4 fields; a cron expression has 5 (minute hour day-of-month month day-of-week)"},
        {"61 * * * *", "\"61 * * * *\": minute \"61\" is out of range 0-59"},
        {"* 24 * * *", "\"* 24 * * *\": hour \"24\" is out of range 0-23"},
        {"* * 0 * *", "\"* * 0 * *\": day-of-month \"0\" is out of range 1-31"},
        {"* * * 13 *", "\"* * * 13 *\": month \"13\" is out of range 1-12"},
        {"* * * * 8", "\"* * * * 8\": day-of-week \"8\" is out of range 0-7"},
        {"* * * foo *", "\"* * * foo *\": month \"foo\" is not a number or a name"},
        {"5-1 * * * *", "\"5-1 * * * *\": minute range \"5-1\" runs backwards"},
        {"*/0 * * * *", "\"*/0 * * * *\": minute step \"0\" in \"*/0\" must be a number from 1 to 60"},
        {"1,,2 * * * *", "\"1,,2 * * * *\": minute field \"1,,2\" has an empty list item"},
        {"0 0 30 2 *", "\"0 0 30 2 *\" never fires"},
        {"@reboot", "\"@reboot\" is not a known macro (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)"},
        {"", "\"\" has 0 fields; a cron expression has 5 (minute hour day-of-month month day-of-week)"},
    };
    for (const auto& c : cases) {
        auto parsed = CronExpression::parse(c.text);
        ASSERT_FALSE(parsed) << c.text;
        EXPECT_EQ(parsed.error(), c.error);
    }
}

TEST(CronParse, NormalizesWhitespaceAndComparesByMeaning)
{
    auto a = CronExpression::parse("  0   3 * *  * ").value();
    EXPECT_EQ(a.text(), "0 3 * * *");
    EXPECT_EQ(a, CronExpression::parse("0 3 * * *").value());
}

} // namespace
} // namespace sandhost::config
