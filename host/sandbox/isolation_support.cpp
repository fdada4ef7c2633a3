#include "sandbox/isolation_support.h"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

std::uint64_t effective_capabilities()
{
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0) return 0;
    return data[0].effective | (std::uint64_t{data[1].effective} << 32);
}

bool has(std::uint64_t capabilities, int cap) { return (capabilities & (std::uint64_t{1} << cap)) != 0; }

const char* yes_no(bool value) { return value ? "true" : "false"; }

// Whether this process's root is a mount point (it is not in a chroot into a plain folder): a
// worker's mount namespace starts by making "/" private, which the kernel refuses otherwise.
bool root_is_mount_point()
{
    std::ifstream mountinfo("/proc/self/mountinfo");
    for (std::string line; std::getline(mountinfo, line);) {
        // "ID PARENT MAJOR:MINOR ROOT MOUNT_POINT ...": the fifth field.
        std::istringstream fields(line);
        std::string field;
        for (int i = 0; i < 5 && fields >> field; ++i) {
        }
        if (field == "/") return true;
    }
    return false;
}

} // namespace

IsolationSupport isolation_support()
{
    IsolationSupport s;
    const std::uint64_t caps = effective_capabilities();
    // PR_GET_SECCOMP fails with EINVAL on a kernel built without seccomp.
    s.syscall_filter = ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
    s.no_new_privileges = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) >= 0;
    s.switch_user = has(caps, CAP_SETUID) && has(caps, CAP_SETGID);
    s.drop_capabilities = has(caps, CAP_SETPCAP);
    struct stat ns {};
    // network: none mounts a fresh sysfs in a mount namespace of the worker's own too.
    s.mount_namespace = has(caps, CAP_SYS_ADMIN) && ::stat("/proc/self/ns/mnt", &ns) == 0 && root_is_mount_point();
    s.network_namespace = s.mount_namespace && ::stat("/proc/self/ns/net", &ns) == 0;
    s.cgroup = cgroup_support();
    s.cgroups = s.cgroup.usable;
    return s;
}

std::string IsolationSupport::to_json() const
{
    return std::string("{\"syscalls\":") + yes_no(syscall_filter) + ",\"no_new_privileges\":" + yes_no(no_new_privileges) +
           ",\"user\":" + yes_no(switch_user) + ",\"capabilities\":" + yes_no(drop_capabilities) +
           ",\"network_none\":" + yes_no(network_namespace) + ",\"cgroups\":" + yes_no(cgroups) + ",\"cgroup\":" + cgroup.to_json() +
           ",\"filesystem\":" + yes_no(private_tmp) + ",\"mount_namespace\":" + yes_no(mount_namespace) + "}";
}

std::string IsolationSupport::describe() const
{
    auto item = [](const char* name, bool value, const char* why) {
        return std::string(name) + ": " + (value ? "yes" : std::string("no (") + why + ")");
    };
    return item("syscalls", syscall_filter, "the kernel has no seccomp") + ", " +
           item("no_new_privileges", no_new_privileges, "the kernel is too old") + ", " +
           item("user", switch_user, "needs CAP_SETUID and CAP_SETGID") + ", " +
           item("capabilities", drop_capabilities, "needs CAP_SETPCAP to drop from the bounding set") + ", " +
           item("network: none", network_namespace, "needs CAP_SYS_ADMIN and a mount namespace") + ", " + "cgroups: " + (cgroups ? "yes, " + cgroup.describe() : cgroup.describe()) +
           ", " + item("filesystem (private TMPDIR, workdir)", private_tmp, "not in this version") + ", " +
           item("filesystem read_only, hide (a mount namespace)", mount_namespace, "needs CAP_SYS_ADMIN and a root that is a mount point, not a chroot");
}

} // namespace sandhost::sandbox
