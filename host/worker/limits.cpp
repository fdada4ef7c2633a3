#include "worker/limits.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sandhost::worker {

std::uint64_t cpu_us_of(const rusage& usage)
{
    return static_cast<std::uint64_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
           static_cast<std::uint64_t>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

namespace {

std::uint64_t cpu_used_us()
{
    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);  // cannot fail for RUSAGE_SELF and a valid buffer
    return cpu_us_of(self);
}

} // namespace

void Limiter::prime()
{
    for (int resource : {RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_FSIZE}) (void)given_hard(resource);
}

std::optional<std::string> Limiter::apply(const protocol::WorkerLimits& limits)
{
    if (!m_applied) {
        m_applied = true;
        if (limits.memory_bytes) {
#if defined(SANDHOST_SANITIZED)
            // AddressSanitizer and ThreadSanitizer reserve terabytes of address space for their
            // shadow memory, so an address-space limit would stop them from starting; the
            // host's RSS watch enforces the memory limit in such builds.
#else
            if (auto e = set(RLIMIT_AS, "RLIMIT_AS", *limits.memory_bytes, *limits.memory_bytes)) return e;
#endif
        }
        if (limits.open_files) {
            if (auto e = set(RLIMIT_NOFILE, "RLIMIT_NOFILE", *limits.open_files, *limits.open_files)) return e;
        }
        if (limits.file_size_bytes) {
            if (auto e = set(RLIMIT_FSIZE, "RLIMIT_FSIZE", *limits.file_size_bytes, *limits.file_size_bytes)) return e;
        }
        // The process limit is enforced by the host over the worker's whole tree:
        // RLIMIT_NPROC counts every process of the user (and nothing at all for root).
    }
    if (limits.cpu_ms) {
        // RLIMIT_CPU counts whole seconds of this process: SIGXCPU once the soft limit is
        // reached, SIGKILL a second later. Each job's soft limit counts from what the
        // process has already used (as of its last result, if it had one: nothing of note
        // runs between a result and the next job), rounded up to the next whole second.
        std::uint64_t used_us = m_used_cpu_us;
        if (used_us == 0) used_us = cpu_used_us();
        const rlim_t soft = static_cast<rlim_t>((used_us + *limits.cpu_ms * 1000 + 999'999) / 1'000'000);
        if (soft != m_cpu_soft) {
            if (auto e = set(RLIMIT_CPU, "RLIMIT_CPU", soft, RLIM_INFINITY)) return e;
            m_cpu_soft = soft;
        }
    }
    return std::nullopt;
}

rlim_t Limiter::given_hard(int resource)
{
    auto& known = m_hard[resource];
    if (!known) {
        // getrlimit cannot fail for these resources and a valid buffer; were it to, the
        // limit counts as unbounded and a later setrlimit says what is wrong.
        rlimit current{RLIM_INFINITY, RLIM_INFINITY};
        ::getrlimit(resource, &current);
        known = current.rlim_max;
    }
    return *known;
}

std::optional<std::string> Limiter::set(int resource, const char* name, rlim_t soft, rlim_t hard)
{
    // Never try to raise a hard limit we were given: an unprivileged process cannot.
    const rlim_t given = given_hard(resource);
    if (given != RLIM_INFINITY) {
        hard = std::min(hard, given);
        soft = std::min(soft, hard);
    }
    const rlimit wanted{soft, hard};
    if (::setrlimit(resource, &wanted) != 0) return std::string("setrlimit(") + name + "): " + std::strerror(errno);
    m_hard[resource] = hard;
    return std::nullopt;
}

} // namespace sandhost::worker
