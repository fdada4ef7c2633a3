// Running a task inside the host process: the no-sandbox mode (sandbox.enabled: false) and
// the inline fallback. No isolation at all: a crash here is the host's crash, limits do not
// apply and output is not captured. For trusted code only.
#pragma once

#include "sandbox/attempt.h"
#include "model/outcome.h"

namespace sandhost::sandbox {

// Runs the task on a thread of the host. At the deadline the task is asked to stop (its
// cancel_requested() turns true); a task that does not return within the grace period is
// abandoned, still running, and the attempt is timed_out. Plugins loaded this way stay
// loaded (and initialised) for the life of the process.
model::Outcome run_inline(const AttemptSpec& spec, AttemptObserver* observer, CancelToken* cancel);

} // namespace sandhost::sandbox
