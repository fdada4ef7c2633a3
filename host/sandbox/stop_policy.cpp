#include "sandbox/stop_policy.h"

#include "os/process_tree.h"
#include "sandbox/worker_process.h"

#include <algorithm>
#include <csignal>
#include <poll.h>
#include <thread>

namespace sandhost::sandbox {

using Action = StopStep::Action;

std::vector<StopStep> stop_steps(const StopReason& reason, model::Duration grace)
{
    switch (reason.kind) {
    case StopReason::Kind::startup_timeout:
    case StopReason::Kind::timeout:
    case StopReason::Kind::shutdown:
        return {{Action::request_cancel, model::Duration(0)}, {Action::terminate, grace}, {Action::kill, model::Duration(0)}};
    case StopReason::Kind::cancel:
        return {{Action::request_cancel, grace}, {Action::terminate, grace}, {Action::kill, model::Duration(0)}};
    case StopReason::Kind::cancel_now:
    case StopReason::Kind::limit:
    case StopReason::Kind::protocol_error:
    case StopReason::Kind::result_too_large:
        return kill_steps();
    }
    return kill_steps();
}

std::vector<StopStep> shutdown_steps(model::Duration grace)
{
    return {{Action::request_shutdown, grace}, {Action::kill, model::Duration(0)}};
}

std::vector<StopStep> kill_steps() { return {{Action::kill, model::Duration(0)}}; }

void StopDriver::begin(std::vector<StopStep> steps, WorkerProcess& process, const StopMessenger& send)
{
    m_steps = std::move(steps);
    m_next = 0;
    m_active = true;
    run_steps(process, send);
}

void StopDriver::advance(Clock::time_point now, WorkerProcess& process, const StopMessenger& send)
{
    if (m_next_at && now >= *m_next_at) run_steps(process, send);
}

void StopDriver::run_steps(WorkerProcess& process, const StopMessenger& send)
{
    m_next_at.reset();
    while (m_next < m_steps.size() && process.running()) {
        const StopStep step = m_steps[m_next++];
        switch (step.action) {
        case Action::request_cancel:
        case Action::request_shutdown:
            if (send) send(step.action);
            break;
        case Action::terminate:
            process.signal_group(SIGTERM);
            break;
        case Action::kill:
            os::kill_tree(process.pid(), os::IncludeRoot::yes);
            m_killed = true;
            break;
        }
        if (step.wait.count() > 0) {
            m_next_at = Clock::now() + step.wait;
            return;
        }
    }
}

process::Termination stop_and_reap(WorkerProcess& process, std::vector<StopStep> steps, const StopMessenger& send)
{
    if (!process.running()) return process.termination() ? *process.termination() : process.reap();
    StopDriver driver;
    driver.begin(std::move(steps), process, send);
    while (process.running()) {
        if (process.try_reap()) break;
        const auto next = driver.next_at();
        if (!next) {
            // Every step is done and the worker still runs: the end-of-life rule kills it.
            if (!driver.killed()) os::kill_tree(process.pid(), os::IncludeRoot::yes);
            return process.reap();
        }
        const auto now = StopDriver::Clock::now();
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(std::max(*next - now, StopDriver::Clock::duration(0)));
        if (process.exit_fd() >= 0) {
            pollfd fd{process.exit_fd(), POLLIN, 0};
            ::poll(&fd, 1, static_cast<int>(std::min<long long>(wait.count(), 60'000)));
        } else {
            std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(2)));
        }
        driver.advance(StopDriver::Clock::now(), process, send);
    }
    return *process.termination();
}

} // namespace sandhost::sandbox
