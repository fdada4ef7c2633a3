// Ending a whole process tree, whatever sessions and groups its members moved to.
#pragma once

#include <sys/types.h>

namespace sandhost::os {

enum class IncludeRoot { yes, no };

// Stops every descendant of root (SIGSTOP, repeated until no new process appears, so nothing
// can fork its way out), then SIGKILLs them all, and root too when asked. Does not reap: the
// killed processes' parents (or the nearest subreaper) do. Returns how many were killed.
// Non-blocking apart from reading /proc; bounded even against a fork bomb.
int kill_tree(pid_t root, IncludeRoot include_root);

} // namespace sandhost::os
