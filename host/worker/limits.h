// Applying a job's limits to the worker process itself (setrlimit), before its plugin loads.
#pragma once

#include "protocol/messages.h"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/resource.h>

namespace sandhost::worker {

// CPU time (user + system) in a getrusage() result, in microseconds.
std::uint64_t cpu_us_of(const rusage& usage);

// Applies a job's limits to this process. It remembers the hard limits it was given and the
// soft CPU limit it set, so a reused worker's next job (or a fork server's child, which
// inherits this object) costs one getrusage() rather than a getrlimit/setrlimit per resource:
// the memory, open files and file size limits are set for the first job only, and the CPU
// limit again only when its soft limit in whole seconds moves.
class Limiter {
public:
    // Reads the hard limits we were given, once (a fork server does it before forking).
    void prime();

    // Applies `limits`; on failure returns "setrlimit(RLIMIT_X): <errno text>" and the
    // limits applied so far stay. A hard limit we were given is never raised: a limit
    // above it is lowered to it.
    std::optional<std::string> apply(const protocol::WorkerLimits& limits);

    // What the process had used when it reported its last result: the next job's CPU limit
    // counts from there.
    void note_cpu_used(std::uint64_t used_us) { m_used_cpu_us = used_us; }

private:
    rlim_t given_hard(int resource);
    std::optional<std::string> set(int resource, const char* name, rlim_t soft, rlim_t hard);

    bool m_applied = false;
    rlim_t m_cpu_soft = RLIM_INFINITY;
    std::uint64_t m_used_cpu_us = 0;
    std::optional<rlim_t> m_hard[RLIM_NLIMITS];
};

} // namespace sandhost::worker
