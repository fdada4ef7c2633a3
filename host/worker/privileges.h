// What the worker gives up before it loads a plugin, as the host resolved it (numbers, not
// names) and passed it on the command line. Applied once per process: a fork server's
// children and a reused worker's later jobs keep what its start left them.
#pragma once

#include "worker/mounts.h"

#include <cstdint>
#include <linux/filter.h>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sandhost::worker {

struct WorkerPrivileges {
    // The user and groups to become; unset: stay who we are.
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::vector<gid_t> groups;  // supplementary groups, set with uid
    // The capabilities kept, bit n for capability n; unset: as we were started.
    std::optional<std::uint64_t> capabilities;
    bool no_new_privileges = false;
    bool own_network = false;  // a network namespace with only loopback
    // read_only and hide (see mounts.h); with own_network too, a mount namespace of its own.
    bool read_only = false;
    std::vector<std::string> writable;
    std::vector<std::string> hide;
    // The system-call filter, as the host compiled it (sandbox/syscall_filter.h): the classic
    // BPF program's struct sock_filter entries, loaded as they are. denies_ptrace: ptrace fails
    // under it (LeakSanitizer's builds must then not look for leaks at exit).
    bool filter = false;
    std::vector<sock_filter> program;
    bool denies_ptrace = false;
    // The environment's names the launcher meant to give (the Poco launcher cannot clear the
    // host's environment): every other variable is removed. Unset: keep the environment.
    std::optional<std::vector<std::string>> environment_names;
};

// Takes one worker argument (--uid, --gid, --groups, --capabilities, --no-new-privileges,
// --network, --read-only, --writable, --hide (each --writable and --hide adds a path),
// --syscalls-filter (hex text of the program, at most BPF_MAXINSNS entries),
// --syscalls-denies-ptrace, --environment-names). Returns false for
// a key it does not know or a value that does not parse; `known` says whether the key was one
// of these.
bool parse_privilege_argument(const char* key, const char* value, WorkerPrivileges& out, bool& known);

// Removes the variables the launcher did not mean to give. Call first, before anything reads
// the environment.
void restrict_environment(const WorkerPrivileges& privileges);

// In this order: enters a network namespace of its own (loopback up), a mount namespace of its
// own (for read_only, hide and network none: see mounts.h), drops the capabilities
// not kept from the bounding set, sets groups, group and user, drops the capabilities not
// kept, sets no-new-privileges, installs the system-call filter. Exits with
// WorkerExit::setup_failed, naming the call and errno, when any step fails. The parent-death
// signal is cleared by a change of user: install it after this.
void apply_privileges(const WorkerPrivileges& privileges);

} // namespace sandhost::worker
