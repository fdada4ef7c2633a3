#include "os/time_format.h"

#include <chrono>

#include <gtest/gtest.h>

namespace sandhost::os {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

system_clock::time_point at(long long millis_since_epoch)
{
    return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(milliseconds(millis_since_epoch)));
}

TEST(FormatUtc, IsRfc3339WithMilliseconds)
{
    EXPECT_EQ(format_utc(at(0)), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_utc(at(1'795'687'629'123)), "2026-11-26T10:07:09.123Z");
    EXPECT_EQ(format_utc(at(1'709'164'800'000)), "2024-02-29T00:00:00.000Z") << "a leap day";
    EXPECT_EQ(format_utc(at(1'704'067'199'999)), "2023-12-31T23:59:59.999Z");
}

TEST(FormatUtc, DropsWhatIsBelowAMillisecond)
{
    const auto time = at(1'000) + std::chrono::microseconds(999);
    EXPECT_EQ(format_utc(time), "1970-01-01T00:00:01.000Z");
}

TEST(FormatUtc, BeforeTheEpochCountsBackwards)
{
    EXPECT_EQ(format_utc(at(-1)), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(format_utc(at(-1'000)), "1969-12-31T23:59:59.000Z");
    EXPECT_EQ(format_utc(at(-1'001)), "1969-12-31T23:59:58.999Z");
}

TEST(FormatUtc, AgreesWithTheClock)
{
    const auto now = system_clock::now();
    const std::string text = format_utc(now);
    ASSERT_EQ(text.size(), 24u) << text;
    const std::time_t seconds = system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(now));
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char prefix[32];
    std::strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S.", &utc);
    EXPECT_EQ(text.substr(0, 20), prefix);
}

} // namespace
} // namespace sandhost::os
