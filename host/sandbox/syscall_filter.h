// A worker's system-call filter, compiled in the host: the deny and allow-only lists turned
// into the classic BPF program the kernel runs, once per distinct pair of lists in the
// host's life, instead of once in every worker process that starts (a spawned job's worker
// would otherwise build it with libseccomp before its hello).
#pragma once

#include "model/privileges.h"
#include "os/result.h"

#include <string>
#include <vector>

namespace sandhost::sandbox {

struct CompiledFilter {
    // The program, as hex text of its struct sock_filter entries in this machine's byte
    // order, for the worker's --syscalls-filter argument.
    std::string program_hex;
    std::size_t instructions = 0;
    // Whether ptrace fails under it (LeakSanitizer's builds of the worker need to know).
    bool denies_ptrace = false;
};

// The filter of `settings` (not off): the default list, or a custom one. Every call it
// denies fails with EPERM; with `allow_only`, so does every call not named there nor among
// the worker's own calls (model::k_worker_syscalls); a name both allowed and denied is denied.
// Names this architecture lacks are skipped. The numbers are tested as a binary tree, not a
// list: the kernel runs a filter once per system call number when it loads it, so a list of
// the default 46 costs every worker that loads it about 60 us more. Cached: the same settings
// return the same program, without building the lists again. Fails with the libseccomp call
// and its error.
os::Result<CompiledFilter> compiled_filter(const model::SyscallSettings& settings);

} // namespace sandhost::sandbox
