#include "os/signals.h"

#include <csignal>
#include <cstring>
#include <string.h>

namespace sandhost::os {

std::string signal_name(int signal_number)
{
    if (const char* abbrev = ::sigabbrev_np(signal_number)) return std::string("SIG") + abbrev;
    return "SIG" + std::to_string(signal_number);
}

std::optional<int> signal_number(const std::string& name)
{
    const std::string bare = name.rfind("SIG", 0) == 0 ? name.substr(3) : name;
    for (int sig = 1; sig < NSIG; ++sig) {
        const char* abbrev = ::sigabbrev_np(sig);
        if (abbrev && bare == abbrev) return sig;
    }
    return std::nullopt;
}

void reset_signal_state()
{
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        // Fails harmlessly (EINVAL) for the signals glibc reserves for itself.
        ::sigaction(sig, &action, nullptr);
    }
    sigset_t empty;
    sigemptyset(&empty);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
}

} // namespace sandhost::os
