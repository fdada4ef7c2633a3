// How a worker process enters its attempt's control group by itself: through files the host
// opened (v1 `tasks`, one per hierarchy; v2 `cgroup.procs`) and passed to it, before any code
// of the job runs. A single-threaded process that writes "0" into `tasks` moves whole, without
// the kernel's global lock that moving another process's pid through `cgroup.procs` takes.
#pragma once

#include "os/unique_fd.h"

#include <cstddef>
#include <vector>

namespace sandhost::worker {

// At most this many files to enter a group by: one per hierarchy of cgroup v1 (memory, pids,
// cpuacct, freezer).
constexpr std::size_t k_max_group_files = 4;

// Writes "0" (this process) into each file and closes them all. A process that cannot must
// not run its job (the group's limits would not hold): it exits as setup_failed, saying why on
// stderr. Async-signal-safe: a fork server's child calls it.
void enter_group(std::vector<os::UniqueFd>& group_files);

} // namespace sandhost::worker
