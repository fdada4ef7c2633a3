// Durations and sizes as people write them in config files and on the command line: always
// with a unit, so that "30" can never silently mean 30 ms or 30 bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "model/parse_result.h"

namespace sandhost::model {

using Duration = std::chrono::milliseconds;

// "250ms", "5s", "2m", "1h", "7d" (days of 24 hours), also with a decimal fraction ("1.5s") when the result is a whole
// number of milliseconds. A bare number, a negative value or an unknown unit is refused; the
// error quotes the text and names the accepted units.
ParseResult<Duration> parse_duration(std::string_view text);

// "512B", "64KiB", "64MiB", "1GiB", "1TiB" (powers of 1024) and "1KB", "1MB", "1GB", "1TB"
// (powers of 1000), with an optional decimal fraction when the result is whole bytes. A bare
// number is refused like a bare duration.
ParseResult<std::uint64_t> parse_size(std::string_view text);

// The shortest exact spelling, in the largest unit that divides the value ("90s", "5m",
// "1500ms", "0s"); parse_duration(format_duration(d)) == d.
std::string format_duration(Duration duration);

// The largest binary unit that divides the value ("64MiB", "1000B"); parse_size round-trips.
std::string format_size(std::uint64_t bytes);

// Whether `bytes` is a page size SQLite takes for a store file: a power of two from 512 to
// 65,536 (it silently keeps the size it has for any other).
constexpr bool is_store_page_size(std::uint64_t bytes)
{
    return bytes >= 512 && bytes <= 65536 && (bytes & (bytes - 1)) == 0;
}

} // namespace sandhost::model
