// Dying with the host. A worker asks for a signal when its parent dies; the handler kills
// every descendant of the worker first (they would outlive it otherwise: the subreaper that
// would have ended them was the host), then exits with WorkerExit::host_died.
#pragma once

#include <sys/types.h>

namespace sandhost::worker {

// The signal a worker asks to receive when its parent dies.
int host_death_signal();

// Installs the handler and asks for host_death_signal() when the parent dies. Exits with
// WorkerExit::host_died if the parent is no longer `expected_parent` (it died before we
// could ask), and with WorkerExit::setup_failed, after a line on stderr, if a call fails.
// Async-signal-safe, for a child forked from a threaded fork server.
void install_host_death_handler(pid_t expected_parent) noexcept;

// Stops, then SIGKILLs, every descendant of `pid` (children after their own descendants, so
// none can fork its way out between the two), from /proc/PID/task/PID/children. Does not
// reap. Async-signal-safe; bounded to a tree 64 levels deep.
void kill_descendants(pid_t pid) noexcept;

// kill_descendants(root), and root itself.
void kill_with_descendants(pid_t root) noexcept;

} // namespace sandhost::worker
