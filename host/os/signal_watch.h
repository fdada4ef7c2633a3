// SignalWatch: delivers process signals (SIGINT, SIGTERM, SIGHUP, ...) to a callback on a
// thread of its own, instead of in an async signal handler.
#pragma once

#include "os/unique_fd.h"

#include <functional>
#include <initializer_list>
#include <thread>

namespace sandhost::os {

class SignalWatch {
public:
    // Blocks the signals in the calling thread, so construct it in main before any other
    // thread starts (threads inherit the mask; a thread that does not block them would take
    // the default action instead). on_signal runs on the watch's thread, one call at a time.
    SignalWatch(std::initializer_list<int> signals, std::function<void(int)> on_signal);
    // Stops the thread. The signals stay blocked.
    ~SignalWatch();
    SignalWatch(const SignalWatch&) = delete;
    SignalWatch& operator=(const SignalWatch&) = delete;

private:
    UniqueFd m_signal_fd;
    UniqueFd m_stop_fd;
    std::thread m_thread;
};

} // namespace sandhost::os
