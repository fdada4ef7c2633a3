#include "worker/privileges.h"

#include "os/unique_fd.h"
#include "worker/failure.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char** environ;

namespace sandhost::worker {
namespace {

using protocol::WorkerExit;

#if defined(SANDHOST_SANITIZED)
// LeakSanitizer stops the process's threads with ptrace to look for leaks at exit; under a
// filter that denies ptrace it would fail, and turn a task's exit() into a sanitizer error.
bool g_ptrace_denied = false;
#endif

std::vector<std::string> split(const char* text)
{
    std::vector<std::string> out;
    std::string current;
    for (const char* p = text; *p; ++p) {
        if (*p == ',') {
            if (!current.empty()) out.push_back(current);
            current.clear();
        } else {
            current += *p;
        }
    }
    if (!current.empty()) out.push_back(current);
    return out;
}

template <class T>
bool parse_unsigned(const char* text, T& out, int base = 10)
{
    errno = 0;
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, base);
    if (errno != 0 || end == text || *end != '\0' || value > static_cast<unsigned long long>(static_cast<T>(~T{0}))) return false;
    out = static_cast<T>(value);
    return true;
}

void enter_own_network()
{
    if (::unshare(CLONE_NEWNET) != 0) fail(WorkerExit::setup_failed, "unshare", "CLONE_NEWNET (network: none)", errno);
    // The new namespace's loopback device starts down.
    const os::UniqueFd socket(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!socket) fail(WorkerExit::setup_failed, "socket", "AF_INET, to bring loopback up", errno);
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(socket.get(), SIOCGIFFLAGS, &request) != 0) fail(WorkerExit::setup_failed, "ioctl(SIOCGIFFLAGS)", "lo", errno);
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    if (::ioctl(socket.get(), SIOCSIFFLAGS, &request) != 0) fail(WorkerExit::setup_failed, "ioctl(SIOCSIFFLAGS)", "lo", errno);
}

struct CapabilitySets {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};

    std::uint64_t effective() const { return data[0].effective | (std::uint64_t{data[1].effective} << 32); }
    void keep_only(std::uint64_t kept)
    {
        for (int i = 0; i < 2; ++i) {
            const auto mask = static_cast<std::uint32_t>(kept >> (32 * i));
            data[i].effective &= mask;
            data[i].permitted &= mask;
            data[i].inheritable &= mask;
        }
    }
    void raise_permitted()
    {
        for (auto& d : data) d.effective = d.permitted;
    }
};

CapabilitySets read_capabilities()
{
    CapabilitySets sets;
    if (::syscall(SYS_capget, &sets.header, sets.data) != 0) fail(WorkerExit::setup_failed, "capget", "this process", errno);
    return sets;
}

void drop_from_bounding_set(std::uint64_t kept)
{
    if ((read_capabilities().effective() & (std::uint64_t{1} << CAP_SETPCAP)) == 0) return;  // nothing to drop it with
    for (int cap = 0; cap < 64; ++cap) {
        if (kept & (std::uint64_t{1} << cap)) continue;
        const int present = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (present < 0) break;  // past the kernel's last capability
        if (present == 1 && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            fail(WorkerExit::setup_failed, "prctl(PR_CAPBSET_DROP)", "a capability not kept", errno);
        }
    }
}

void become_user(const WorkerPrivileges& p, bool keep_capabilities)
{
    if (keep_capabilities && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail(WorkerExit::setup_failed, "prctl", "PR_SET_KEEPCAPS", errno);
    if (p.uid && ::setgroups(p.groups.size(), p.groups.data()) != 0) fail(WorkerExit::setup_failed, "setgroups", "the user's groups", errno);
    if (p.gid && ::setresgid(*p.gid, *p.gid, *p.gid) != 0) fail(WorkerExit::setup_failed, "setresgid", "the worker's group", errno);
    if (p.uid && ::setresuid(*p.uid, *p.uid, *p.uid) != 0) fail(WorkerExit::setup_failed, "setresuid", "the worker's user", errno);
    if (keep_capabilities && ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) fail(WorkerExit::setup_failed, "prctl", "PR_SET_KEEPCAPS", errno);
    // A change of user makes the process undumpable, which takes away its core dumps and
    // makes its own /proc entries root's; the filter and the user already keep others out.
    if (p.uid && ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) fail(WorkerExit::setup_failed, "prctl", "PR_SET_DUMPABLE", errno);
}

void keep_capabilities(std::uint64_t kept)
{
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        fail(WorkerExit::setup_failed, "prctl", "PR_CAP_AMBIENT_CLEAR_ALL", errno);
    }
    CapabilitySets sets = read_capabilities();
    sets.raise_permitted();  // after a change of user, the kept ones are permitted, not effective
    sets.keep_only(kept);
    if (::syscall(SYS_capset, &sets.header, sets.data) != 0) fail(WorkerExit::setup_failed, "capset", "the capabilities kept", errno);
}

void install_filter(const WorkerPrivileges& p)
{
    sock_fprog program{static_cast<unsigned short>(p.program.size()), const_cast<sock_filter*>(p.program.data())};
    // Every thread, sanitizers' own included. A positive answer names a thread that could not
    // take it.
    const long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program);
    if (rc != 0) {
        fail(WorkerExit::setup_failed, "seccomp(SECCOMP_SET_MODE_FILTER)",
             p.no_new_privileges ? "the worker's filter" : "the worker's filter (without no_new_privileges it needs CAP_SYS_ADMIN)",
             rc > 0 ? ESRCH : errno);
    }
#if defined(SANDHOST_SANITIZED)
    g_ptrace_denied = p.denies_ptrace;
#endif
}

// Two hex digits per byte, 8 bytes per instruction.
bool parse_program(const char* text, std::vector<sock_filter>& out)
{
    const std::size_t length = std::strlen(text);
    constexpr std::size_t digits_per_entry = 2 * sizeof(sock_filter);
    if (length == 0 || length % digits_per_entry != 0 || length / digits_per_entry > BPF_MAXINSNS) return false;
    auto value = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    std::vector<unsigned char> bytes(length / 2);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const int high = value(text[2 * i]);
        const int low = value(text[2 * i + 1]);
        if (high < 0 || low < 0) return false;
        bytes[i] = static_cast<unsigned char>(high << 4 | low);
    }
    out.resize(bytes.size() / sizeof(sock_filter));
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return true;
}

} // namespace

bool parse_privilege_argument(const char* key, const char* value, WorkerPrivileges& out, bool& known)
{
    known = true;
    if (std::strcmp(key, "--uid") == 0) return parse_unsigned(value, out.uid.emplace());
    if (std::strcmp(key, "--gid") == 0) return parse_unsigned(value, out.gid.emplace());
    if (std::strcmp(key, "--groups") == 0) {
        out.groups.clear();
        for (const auto& text : split(value)) {
            if (!parse_unsigned(text.c_str(), out.groups.emplace_back())) return false;
        }
        return true;
    }
    if (std::strcmp(key, "--capabilities") == 0) return parse_unsigned(value, out.capabilities.emplace(), 16);
    if (std::strcmp(key, "--no-new-privileges") == 0) {
        out.no_new_privileges = std::strcmp(value, "1") == 0;
        return out.no_new_privileges || std::strcmp(value, "0") == 0;
    }
    if (std::strcmp(key, "--network") == 0) {
        out.own_network = std::strcmp(value, "none") == 0;
        return out.own_network || std::strcmp(value, "host") == 0;
    }
    if (std::strcmp(key, "--read-only") == 0) {
        out.read_only = std::strcmp(value, "1") == 0;
        return out.read_only || std::strcmp(value, "0") == 0;
    }
    if (std::strcmp(key, "--writable") == 0 || std::strcmp(key, "--hide") == 0) {
        if (value[0] != '/') return false;
        (key[2] == 'w' ? out.writable : out.hide).emplace_back(value);
        return true;
    }
    if (std::strcmp(key, "--syscalls-filter") == 0) {
        out.filter = true;
        return parse_program(value, out.program);
    }
    if (std::strcmp(key, "--syscalls-denies-ptrace") == 0) {
        out.denies_ptrace = std::strcmp(value, "1") == 0;
        return out.denies_ptrace || std::strcmp(value, "0") == 0;
    }
    if (std::strcmp(key, "--environment-names") == 0) {
        out.environment_names = split(value);
        return true;
    }
    known = false;
    return false;
}

void restrict_environment(const WorkerPrivileges& privileges)
{
    if (!privileges.environment_names) return;
    const auto& wanted = *privileges.environment_names;
    std::vector<std::string> unwanted;
    for (char** entry = environ; entry && *entry; ++entry) {
        const char* equals = std::strchr(*entry, '=');
        std::string name = equals ? std::string(*entry, static_cast<std::size_t>(equals - *entry)) : std::string(*entry);
        if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) unwanted.push_back(std::move(name));
    }
    for (const auto& name : unwanted) ::unsetenv(name.c_str());
}

void apply_privileges(const WorkerPrivileges& p)
{
    if (p.own_network) enter_own_network();
    // After the network's: a fresh sysfs shows the namespace it was mounted from.
    if (p.own_network || p.read_only || !p.hide.empty()) enter_own_mounts(MountPlan{p.own_network, p.read_only, p.writable, p.hide});
    // A worker that becomes another user keeps no capability unless some are named.
    std::optional<std::uint64_t> kept = p.capabilities;
    if (!kept && p.uid && *p.uid != ::geteuid()) kept = 0;
    if (kept) drop_from_bounding_set(*kept);
    become_user(p, kept && *kept != 0 && p.uid);
    if (kept) keep_capabilities(*kept);
    if (p.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        fail(WorkerExit::setup_failed, "prctl", "PR_SET_NO_NEW_PRIVS", errno);
    }
    if (p.filter) install_filter(p);
}

} // namespace sandhost::worker

#if defined(SANDHOST_SANITIZED)
// Read by LeakSanitizer at exit (a weak symbol of its runtime).
extern "C" int __lsan_is_turned_off() { return sandhost::worker::g_ptrace_denied ? 1 : 0; }
#endif
