// Stopping a worker is data: a list of steps, each an action and how long to let the worker
// end before the next. StopDriver applies such a list, one step at a time, for the poll loop of
// a running job; stop_and_reap() applies one and waits, for an idle worker's shutdown and for
// the end-of-life rule of every owner of a worker.
#pragma once

#include "model/outcome.h"
#include "model/sandbox_settings.h"
#include "process/child_process.h"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sandhost::sandbox {

class WorkerProcess;

struct StopStep {
    enum class Action {
        request_cancel,    // a cancel message: the task's cancel_requested() turns true
        request_shutdown,  // a shutdown message: an idle worker runs its plugin's shutdown hook and exits
        terminate,         // SIGTERM to the worker's process group
        kill,              // SIGKILL to the worker and every descendant, whatever its group
    };
    Action action;
    model::Duration wait{0};  // how long to let the worker end before the next step

    bool operator==(const StopStep&) const = default;
};

// Why the host stops a worker during a job; decides the outcome and the steps.
struct StopReason {
    // cancel_now: the attempt lost its lease to another; it is killed at once, as its result
    // would be refused and its side effects only repeat the other attempt's.
    enum class Kind { startup_timeout, timeout, cancel, cancel_now, limit, protocol_error, result_too_large, shutdown };
    Kind kind;
    std::optional<model::LimitKind> limit;  // when kind == limit
    std::string message;                    // for the outcome's error
};

// The steps for a reason. A deadline: cancel request and SIGTERM, grace, SIGKILL. A user's
// cancel: the cancel request alone first, grace, then as a deadline. A limit or a broken
// protocol: SIGKILL at once (a runaway gets no grace).
std::vector<StopStep> stop_steps(const StopReason& reason, model::Duration grace);
// An idle worker that is no longer needed: the shutdown message, grace, SIGKILL.
std::vector<StopStep> shutdown_steps(model::Duration grace);
// A worker nobody waits for any more (an owner's end of life): SIGKILL at once.
std::vector<StopStep> kill_steps();

// Sends a message step on the worker's channel (request_cancel, request_shutdown).
using StopMessenger = std::function<void(StopStep::Action)>;

// Applies a list of steps to one worker, as time passes. Not thread-safe.
class StopDriver {
public:
    using Clock = std::chrono::steady_clock;

    // Starts the list: performs its first steps up to the first that waits.
    void begin(std::vector<StopStep> steps, WorkerProcess& process, const StopMessenger& send);
    // Performs the steps that are due at `now`.
    void advance(Clock::time_point now, WorkerProcess& process, const StopMessenger& send);
    // When the next step is due; nullopt when none is left (or none was begun).
    std::optional<Clock::time_point> next_at() const { return m_next_at; }
    bool active() const { return m_active; }
    // Whether SIGKILL was sent.
    bool killed() const { return m_killed; }

private:
    void run_steps(WorkerProcess& process, const StopMessenger& send);

    std::vector<StopStep> m_steps;
    std::size_t m_next = 0;
    std::optional<Clock::time_point> m_next_at;
    bool m_active = false;
    bool m_killed = false;
};

// Applies `steps` until the worker has ended, then reaps it and returns how it ended. The last
// step should be kill: after the last wait a worker still running is killed anyway. Blocks.
process::Termination stop_and_reap(WorkerProcess& process, std::vector<StopStep> steps, const StopMessenger& send = {});

} // namespace sandhost::sandbox
