// The machine's monotonic clock in milliseconds, as every process on it reads it: a lease's
// deadline passes from the host to its workers as a point on this clock.
#pragma once

#include <cstdint>

namespace sandhost::os {

// CLOCK_MONOTONIC in milliseconds. Async-signal-safe.
std::int64_t monotonic_ms() noexcept;

} // namespace sandhost::os
