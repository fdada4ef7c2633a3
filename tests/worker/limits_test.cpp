// The Limiter, in forked children: limits are process-wide and cannot be raised back.
#include "worker/limits.h"

#include "child_processes.h"

#include <gtest/gtest.h>

#include <sys/resource.h>

namespace sandhost::worker {
namespace {

using namespace test;

// An AddressSanitizer build sets no address-space limit (see Limiter::apply).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool k_address_space_capped = false;
#else
constexpr bool k_address_space_capped = true;
#endif

rlimit current(int resource)
{
    rlimit r{};
    ::getrlimit(resource, &r);
    return r;
}

// "NAME: soft S hard H, expected soft s hard h\n" when the limit is not (soft, hard).
std::string check(const char* name, int resource, rlim_t soft, rlim_t hard)
{
    const rlimit r = current(resource);
    if (r.rlim_cur == soft && r.rlim_max == hard) return {};
    return std::string(name) + ": soft " + std::to_string(r.rlim_cur) + " hard " + std::to_string(r.rlim_max) + ", expected soft " +
           std::to_string(soft) + " hard " + std::to_string(hard) + "\n";
}

std::string set_soft(int resource, rlim_t soft)
{
    rlimit r = current(resource);
    r.rlim_cur = soft;
    return ::setrlimit(resource, &r) == 0 ? std::string() : "cannot set a soft limit for the test\n";
}

protocol::WorkerLimits job_limits()
{
    protocol::WorkerLimits limits;
    limits.memory_bytes = 2ull << 30;
    limits.open_files = 64;
    limits.file_size_bytes = 1ull << 20;
    limits.cpu_ms = 5000;
    return limits;
}

TEST(Limiter, AppliesTheJobsLimits)
{
    EXPECT_EQ(run_in_child([] {
                  Limiter limiter;
                  limiter.note_cpu_used(1'500'000);
                  if (auto problem = limiter.apply(job_limits())) return "apply: " + *problem;
                  std::string failures;
                  if (k_address_space_capped) failures += check("RLIMIT_AS", RLIMIT_AS, 2ull << 30, 2ull << 30);
                  failures += check("RLIMIT_NOFILE", RLIMIT_NOFILE, 64, 64);
                  failures += check("RLIMIT_FSIZE", RLIMIT_FSIZE, 1u << 20, 1u << 20);
                  // 1.5 s used + 5 s allowed, rounded up to whole seconds; the hard limit stays.
                  failures += check("RLIMIT_CPU", RLIMIT_CPU, 7, RLIM_INFINITY);
                  return failures;
              }),
              "");
}

TEST(Limiter, ALaterJobSetsOnlyACpuLimitThatMoved)
{
    // Each limit is changed behind the Limiter's back after the first job: a second job with
    // the same limits must leave them as they are (no setrlimit), until its CPU limit in
    // whole seconds moves.
    EXPECT_EQ(run_in_child([] {
                  Limiter limiter;
                  limiter.note_cpu_used(1'500'000);
                  if (auto problem = limiter.apply(job_limits())) return "first apply: " + *problem;
                  std::string failures = set_soft(RLIMIT_NOFILE, 32) + set_soft(RLIMIT_FSIZE, 1000) + set_soft(RLIMIT_CPU, 100);
                  limiter.note_cpu_used(1'600'000);
                  if (auto problem = limiter.apply(job_limits())) return "second apply: " + *problem;
                  failures += check("RLIMIT_NOFILE", RLIMIT_NOFILE, 32, 64);
                  failures += check("RLIMIT_FSIZE", RLIMIT_FSIZE, 1000, 1u << 20);
                  failures += check("RLIMIT_CPU", RLIMIT_CPU, 100, RLIM_INFINITY);
                  limiter.note_cpu_used(3'000'000);
                  if (auto problem = limiter.apply(job_limits())) return "third apply: " + *problem;
                  failures += check("RLIMIT_CPU", RLIMIT_CPU, 8, RLIM_INFINITY);
                  failures += check("RLIMIT_NOFILE", RLIMIT_NOFILE, 32, 64);
                  return failures;
              }),
              "");
}

TEST(Limiter, NeverRaisesAHardLimitItWasGiven)
{
    EXPECT_EQ(run_in_child([] {
                  const rlimit given{100, 100};
                  if (::setrlimit(RLIMIT_NOFILE, &given) != 0) return std::string("cannot lower RLIMIT_NOFILE for the test");
                  Limiter limiter;
                  protocol::WorkerLimits limits;
                  limits.open_files = 1000;
                  if (auto problem = limiter.apply(limits)) return "apply: " + *problem;
                  return check("RLIMIT_NOFILE", RLIMIT_NOFILE, 100, 100);
              }),
              "");
}

TEST(Limiter, NoLimitsLeaveTheProcessAlone)
{
    EXPECT_EQ(run_in_child([] {
                  const rlimit nofile = current(RLIMIT_NOFILE);
                  const rlimit cpu = current(RLIMIT_CPU);
                  Limiter limiter;
                  if (auto problem = limiter.apply({})) return "apply: " + *problem;
                  return check("RLIMIT_NOFILE", RLIMIT_NOFILE, nofile.rlim_cur, nofile.rlim_max) +
                         check("RLIMIT_CPU", RLIMIT_CPU, cpu.rlim_cur, cpu.rlim_max);
              }),
              "");
}

} // namespace
} // namespace sandhost::worker
