#include "model/privileges.h"

#include <algorithm>
#include <cctype>

namespace sandhost::model {

const std::vector<std::string_view> k_default_environment{"PATH", "LANG", "LC_*", "TZ"};

const std::vector<std::string_view> k_default_denied_syscalls{
    "ptrace",        "process_vm_readv", "process_vm_writev", "mount",         "umount2",      "pivot_root",
    "chroot",        "move_mount",       "open_tree",         "fsopen",        "fsconfig",     "fsmount",
    "fspick",        "mount_setattr",    "kexec_load",        "kexec_file_load", "init_module", "finit_module",
    "delete_module", "bpf",              "perf_event_open",   "keyctl",        "add_key",      "request_key",
    "setns",         "unshare",          "reboot",            "swapon",        "swapoff",      "acct",
    "settimeofday",  "clock_settime",    "clock_adjtime",     "adjtimex",      "sethostname",  "setdomainname",
    "syslog",        "quotactl",         "open_by_handle_at", "name_to_handle_at", "userfaultfd", "iopl",
    "ioperm",        "vhangup",          "lookup_dcookie",    "nfsservctl",
};

const std::vector<std::string_view> k_worker_syscalls{
    // the process itself: memory, threads, signals, time, exit
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "futex", "set_robust_list", "get_robust_list", "rseq",
    "set_tid_address", "arch_prctl", "prctl", "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid",
    "getpgid", "getpgrp", "setpgid", "getrusage", "getrlimit", "setrlimit", "prlimit64", "rt_sigaction",
    "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack", "tgkill", "kill", "clock_gettime",
    "clock_nanosleep", "nanosleep", "gettimeofday", "sched_yield", "sched_getaffinity", "getrandom", "exit",
    "exit_group", "restart_syscall", "uname", "sysinfo",
    // files: loading the plugin, /proc, output
    "openat", "open", "close", "read", "write", "pread64", "readv", "writev", "lseek", "fstat", "newfstatat", "stat",
    "lstat", "statx", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64", "fcntl", "dup",
    "dup2", "dup3", "pipe2", "ioctl", "close_range", "getcwd", "chdir",
    // the channel and the fork server
    "socketpair", "sendmsg", "recvmsg", "sendto", "recvfrom", "poll", "ppoll", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "signalfd4", "eventfd2", "clone", "clone3", "fork", "vfork", "wait4", "waitid",
};

const std::vector<std::string_view> k_capability_names{
    "chown",           "dac_override",    "dac_read_search", "fowner",       "fsetid",          "kill",
    "setgid",          "setuid",          "setpcap",         "linux_immutable", "net_bind_service", "net_broadcast",
    "net_admin",       "net_raw",         "ipc_lock",        "ipc_owner",    "sys_module",      "sys_rawio",
    "sys_chroot",      "sys_ptrace",      "sys_pacct",       "sys_admin",    "sys_boot",        "sys_nice",
    "sys_resource",    "sys_time",        "sys_tty_config",  "mknod",        "lease",           "audit_write",
    "audit_control",   "setfcap",         "mac_override",    "mac_admin",    "syslog",          "wake_alarm",
    "block_suspend",   "audit_read",      "perfmon",         "bpf",          "checkpoint_restore",
};

std::optional<int> capability_number(std::string_view name)
{
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view bare = lower;
    if (bare.rfind("cap_", 0) == 0) bare.remove_prefix(4);
    const auto it = std::find(k_capability_names.begin(), k_capability_names.end(), bare);
    if (it == k_capability_names.end()) return std::nullopt;
    return static_cast<int>(it - k_capability_names.begin());
}

namespace {

bool matches(std::string_view pattern, std::string_view name)
{
    if (!pattern.empty() && pattern.back() == '*') return name.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
    return pattern == name;
}

} // namespace

bool wants_mount_namespace(const Privileges& p)
{
    return p.filesystem.read_only || !p.filesystem.hide.empty() || p.network == Network::none;
}

std::string filesystem_path(const std::filesystem::path& path)
{
    std::filesystem::path normal = path.lexically_normal();
    if (!normal.has_filename() && normal != normal.root_path()) normal = normal.parent_path();
    return normal.string();
}

bool inherits_variable(const EnvironmentSettings& settings, std::string_view name)
{
    for (auto pattern : k_default_environment) {
        if (matches(pattern, name)) return true;
    }
#if defined(SANDHOST_SANITIZED)
    // A sanitized build's workers run under the options the test run chose for the host.
    for (std::string_view option : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"}) {
        if (name == option) return true;
    }
#endif
    for (const auto& pattern : settings.inherit) {
        if (matches(pattern, name)) return true;
    }
    return false;
}

} // namespace sandhost::model
