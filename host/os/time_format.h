// Wall-clock times as sandhost prints and stores them.
#pragma once

#include <chrono>
#include <string>

namespace sandhost::os {

// RFC 3339 in UTC with milliseconds: "2026-11-26T10:07:09.123Z".
std::string format_utc(std::chrono::system_clock::time_point time);

} // namespace sandhost::os
