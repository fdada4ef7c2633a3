// Stopping a worker is data: a list of steps, each an action and how long to wait for the
// worker to end before the next. One function (WorkerSession's stop driver) applies it.
#pragma once

#include "model/outcome.h"
#include "model/sandbox_settings.h"

#include <optional>
#include <string>
#include <vector>

namespace sandhost::sandbox {

struct StopStep {
    enum class Action {
        request_cancel,  // a cancel message: the task's cancel_requested() turns true
        terminate,       // SIGTERM to the worker's process group
        kill,            // SIGKILL to the worker and every descendant, whatever its group
    };
    Action action;
    model::Duration wait{0};  // how long to let the worker end before the next step
};

// Why the host stops a worker; decides the outcome and the steps.
struct StopReason {
    enum class Kind { startup_timeout, timeout, cancel, limit, protocol_error, result_too_large, shutdown };
    Kind kind;
    std::optional<model::LimitKind> limit;  // when kind == limit
    std::string message;             // for the outcome's error
};

// The steps for a reason. A deadline: cancel request and SIGTERM, grace, SIGKILL. A user's
// cancel: the cancel request alone first, grace, then as a deadline. A limit or a broken
// protocol: SIGKILL at once (a runaway gets no grace).
std::vector<StopStep> stop_steps(const StopReason& reason, model::Duration grace);

} // namespace sandhost::sandbox
