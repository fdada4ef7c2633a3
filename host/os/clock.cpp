#include "os/clock.h"

#include <ctime>

namespace sandhost::os {

std::int64_t monotonic_ms() noexcept
{
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);  // cannot fail for CLOCK_MONOTONIC
    return static_cast<std::int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

} // namespace sandhost::os
