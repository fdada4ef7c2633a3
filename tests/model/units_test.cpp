#include "model/units.h"

#include <gtest/gtest.h>

namespace sandhost::model {
namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, AcceptsEveryUnit)
{
    EXPECT_EQ(parse_duration("250ms").value(), 250ms);
    EXPECT_EQ(parse_duration("5s").value(), 5s);
    EXPECT_EQ(parse_duration("2m").value(), 2min);
    EXPECT_EQ(parse_duration("1h").value(), 1h);
    EXPECT_EQ(parse_duration("30d").value(), 30 * 24h);
    EXPECT_EQ(format_duration(7 * 24h), "7d");
    EXPECT_EQ(parse_duration("0s").value(), 0ms);
    EXPECT_EQ(parse_duration("1.5s").value(), 1500ms);
    EXPECT_EQ(parse_duration("0.25h").value(), 15min);
}

TEST(ParseDuration, RefusesWhatIsNotADuration)
{
    EXPECT_EQ(parse_duration("30").error(), "\"30\" has no unit (durations take ms, s, m, h or d, e.g. \"30s\")");
    EXPECT_EQ(parse_duration("5sec").error(), "\"5sec\" has an unknown unit \"sec\" (durations take ms, s, m, h or d)");
    EXPECT_EQ(parse_duration("-5s").error(),
              "\"-5s\" is not a duration (a number and a unit: ms, s, m, h or d, e.g. \"30s\")");
    EXPECT_FALSE(parse_duration(""));
    EXPECT_FALSE(parse_duration("s"));
    EXPECT_FALSE(parse_duration("1.s"));
    EXPECT_FALSE(parse_duration(" 5s"));
    EXPECT_FALSE(parse_duration("5 s"));
    EXPECT_EQ(parse_duration("1.5ms").error(), "\"1.5ms\" is not a whole number of milliseconds");
    EXPECT_EQ(parse_duration("99999999999h").error(), "\"99999999999h\" is too long (at most 100 years)");
    EXPECT_FALSE(parse_duration("99999999999999999999999999ms"));
}

TEST(ParseSize, AcceptsBinaryAndDecimalUnits)
{
    EXPECT_EQ(parse_size("512B").value(), 512u);
    EXPECT_EQ(parse_size("64KiB").value(), 64u << 10);
    EXPECT_EQ(parse_size("64MiB").value(), 64u << 20);
    EXPECT_EQ(parse_size("1GiB").value(), 1ull << 30);
    EXPECT_EQ(parse_size("2TiB").value(), 2ull << 40);
    EXPECT_EQ(parse_size("1KB").value(), 1000u);
    EXPECT_EQ(parse_size("3MB").value(), 3'000'000u);
    EXPECT_EQ(parse_size("1GB").value(), 1'000'000'000u);
    EXPECT_EQ(parse_size("1.5KiB").value(), 1536u);
}

TEST(ParseSize, RefusesWhatIsNotASize)
{
    EXPECT_EQ(parse_size("1024").error(),
              "\"1024\" has no unit (sizes take B, KiB, MiB, GiB, TiB, KB, MB, GB or TB, e.g. \"64MiB\")");
    EXPECT_EQ(parse_size("64mb").error(),
              "\"64mb\" has an unknown unit \"mb\" (sizes take B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)");
    EXPECT_EQ(parse_size("1.3B").error(), "\"1.3B\" is not a whole number of bytes");
    EXPECT_EQ(parse_size("20000000TiB").error(), "\"20000000TiB\" is too large");
    EXPECT_FALSE(parse_size("MiB"));
    EXPECT_FALSE(parse_size("-1MiB"));
}

TEST(Format, PicksTheLargestExactUnitAndRoundTrips)
{
    EXPECT_EQ(format_duration(0ms), "0s");
    EXPECT_EQ(format_duration(1500ms), "1500ms");
    EXPECT_EQ(format_duration(90s), "90s");
    EXPECT_EQ(format_duration(5min), "5m");
    EXPECT_EQ(format_duration(2h), "2h");
    EXPECT_EQ(format_size(0), "0B");
    EXPECT_EQ(format_size(1000), "1000B");
    EXPECT_EQ(format_size(64u << 20), "64MiB");
    EXPECT_EQ(format_size(3ull << 40), "3TiB");
    for (Duration d : {Duration(1), Duration(999), Duration(61s), Duration(3600s), Duration(86400s)}) EXPECT_EQ(parse_duration(format_duration(d)).value(), d);
    for (std::uint64_t s : {1ull, 1023ull, 1536ull, 1ull << 20, 5ull << 30}) EXPECT_EQ(parse_size(format_size(s)).value(), s);
}

} // namespace
} // namespace sandhost::model
