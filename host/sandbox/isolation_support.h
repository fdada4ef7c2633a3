// Which of the worker privilege settings this machine can apply, found from this process's
// rights and the kernel's interfaces, without starting a worker. For `sandhost plugins
// --isolation` and the host's startup log.
#pragma once

#include "sandbox/cgroups.h"

#include <string>

namespace sandhost::sandbox {

struct IsolationSupport {
    bool syscall_filter = false;     // seccomp filters (syscalls:)
    bool no_new_privileges = false;  // PR_SET_NO_NEW_PRIVS
    bool switch_user = false;        // user:, group: (CAP_SETUID and CAP_SETGID)
    bool drop_capabilities = false;  // capabilities: from the bounding set too (CAP_SETPCAP)
    bool network_namespace = false;  // network: none (CAP_SYS_ADMIN, network namespaces, and mount_namespace for its sysfs)
    bool cgroups = false;            // cgroup: auto puts each attempt in a group of its own
    CgroupSupport cgroup;            // which cgroup features, where, or why none
    bool private_tmp = true;         // a private TMPDIR and workdir per attempt: always
    bool mount_namespace = false;    // filesystem read_only and hide, a fresh sysfs for network: none (CAP_SYS_ADMIN; a root that is a mount point)

    // {"syscalls":true,...,"cgroups":true,"cgroup":{...CgroupSupport::to_json()},...}
    std::string to_json() const;
    // "syscalls: yes, no_new_privileges: yes, user: no (needs CAP_SETUID and CAP_SETGID), ..."
    std::string describe() const;
};

// Never fails: what cannot be checked counts as unsupported.
IsolationSupport isolation_support();

} // namespace sandhost::sandbox
