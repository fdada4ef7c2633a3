// The worker's own view of the filesystem: a mount namespace whose mounts stay private (nothing
// mounted or unmounted here reaches the host, or the other way), a fresh sysfs for a worker in
// a network namespace of its own, paths hidden, everything made read-only but the folders it
// must write. Needs CAP_SYS_ADMIN: applied before the user changes and the filter (which denies
// mount and unshare) is installed.
#pragma once

#include <string>
#include <vector>

namespace sandhost::worker {

struct MountPlan {
    bool fresh_sysfs = false;  // network: none: /sys lists the worker's own network devices
    bool read_only = false;
    // Kept writable under read_only (the attempts' folders): bound onto themselves first.
    std::vector<std::string> writable;
    // Covered: a folder by an empty read-only tmpfs, a file by /dev/null. A path that does
    // not exist is left alone: there is nothing to hide.
    std::vector<std::string> hide;
};

// Enters a mount namespace of the worker's own and applies `plan` in it: the namespace's
// mounts made private (recursively) first, then a fresh sysfs in place of the host's (and of
// what was mounted below it), the writable binds, the hidden paths,
// and last every other mount remounted read-only (all but /proc and the writable folders).
// Exits with WorkerExit::setup_failed, naming the call, the path and errno, when any step
// fails (without CAP_SYS_ADMIN, unshare fails with EPERM).
void enter_own_mounts(const MountPlan& plan);

} // namespace sandhost::worker
