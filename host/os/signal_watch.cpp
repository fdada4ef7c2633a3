#include "os/signal_watch.h"

#include <csignal>
#include <cstdint>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace sandhost::os {

SignalWatch::SignalWatch(std::initializer_list<int> signals, std::function<void(int)> on_signal)
{
    sigset_t set;
    sigemptyset(&set);
    for (int sig : signals) sigaddset(&set, sig);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    m_signal_fd.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    m_stop_fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    m_thread = std::thread([this, callback = std::move(on_signal)] {
        for (;;) {
            pollfd fds[2] = {{m_signal_fd.get(), POLLIN, 0}, {m_stop_fd.get(), POLLIN, 0}};
            if (::poll(fds, 2, -1) < 0) continue;
            if (fds[1].revents) return;
            signalfd_siginfo info{};
            while (::read(m_signal_fd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
                callback(static_cast<int>(info.ssi_signo));
            }
        }
    });
}

SignalWatch::~SignalWatch()
{
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(m_stop_fd.get(), &one, sizeof one);
    m_thread.join();
}

} // namespace sandhost::os
