// Signal names and the clean signal state a new worker starts from.
#pragma once

#include <optional>
#include <string>

namespace sandhost::os {

// "SIGSEGV" for 11; "SIG45" for a number without a name.
std::string signal_name(int signal_number);
// 11 for "SIGSEGV" or "SEGV"; nullopt when unknown.
std::optional<int> signal_number(const std::string& name);

// Empties the signal mask and sets every catchable signal to its default action. A new
// process inherits both the mask of the thread that launched it and ignored dispositions,
// so a worker calls this first.
void reset_signal_state();

} // namespace sandhost::os
