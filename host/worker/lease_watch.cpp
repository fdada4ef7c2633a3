#include "worker/lease_watch.h"

#include "worker/failure.h"
#include "worker/host_death.h"

#include "os/clock.h"
#include "os/proc.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace sandhost::worker {
namespace {

// Enough for the channel's read buffer and kill_descendants() over a deep tree, and small
// enough to be had under a tight address-space limit.
constexpr std::size_t k_stack_size = 1u << 20;

} // namespace

os::Result<std::unique_ptr<LeaseWatch>> LeaseWatch::start(WorkerChannel& channel)
{
    os::UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake) return os::SysError::from_errno("eventfd", "lease watch");
    std::unique_ptr<LeaseWatch> watch(new LeaseWatch(channel, std::move(wake)));
    pthread_attr_t attr;
    if (int e = ::pthread_attr_init(&attr); e != 0) return os::SysError::from_code(e, "pthread_attr_init", "lease watch");
    ::pthread_attr_setstacksize(&attr, k_stack_size);  // a valid size: cannot fail
    // Every signal is blocked on this thread, so that the task's handlers run on the task's
    // threads, as they would without it.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &previous);
    const int e = ::pthread_create(&watch->m_thread, &attr, &LeaseWatch::thread_main, watch.get());
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    ::pthread_attr_destroy(&attr);
    if (e != 0) return os::SysError::from_code(e, "pthread_create", "lease watch");
    return watch;
}

LeaseWatch::~LeaseWatch()
{
    m_stop.store(true, std::memory_order_release);
    wake();
    ::pthread_join(m_thread, nullptr);
}

void LeaseWatch::wake() noexcept
{
    const std::uint64_t one = 1;
    // The counter cannot overflow from these writes; the thread reads it down each time.
    [[maybe_unused]] auto n = ::write(m_wake.get(), &one, sizeof one);
}

void* LeaseWatch::thread_main(void* self)
{
    os::name_this_thread(k_thread_name);
    static_cast<LeaseWatch*>(self)->watch();
    return nullptr;
}

void LeaseWatch::job_began() noexcept
{
    // Seq_cst on both sides (the deadline stored by begin_job and read by the thread, the
    // thread's wake time stored by it and read here): either this sees the wake time of a
    // thread that did not see the deadline, or the thread sees the deadline.
    const auto deadline = m_channel.lease_deadline();
    if (deadline && m_sleeps_until.load(std::memory_order_seq_cst) > *deadline) wake();
}

void LeaseWatch::watch()
{
    constexpr std::int64_t k_longest_sleep_ms = 60'000;
    while (!m_stop.load(std::memory_order_acquire)) {
        std::int64_t now = os::monotonic_ms();
        auto deadline = m_channel.lease_deadline();
        if (deadline && now >= *deadline) {
            // The host's renewals are read only now, when the lease would run out: each names
            // the point it extends the lease to, so one read late extends it no further. An
            // ended channel is the host's to notice (it closed it, or died: the death signal
            // comes); this thread keeps the deadline.
            m_channel.take_in();
            deadline = m_channel.lease_deadline();
            now = os::monotonic_ms();
            if (deadline && now >= *deadline) expire(now - *deadline);
        }
        const std::int64_t wake_at = deadline ? std::min(*deadline, now + k_longest_sleep_ms) : std::numeric_limits<std::int64_t>::max();
        m_sleeps_until.store(wake_at, std::memory_order_seq_cst);
        // A job that began (or ended) since the deadline was read: look again.
        if (m_channel.lease_deadline() != deadline) continue;
        pollfd wake{m_wake.get(), POLLIN, 0};
        const int ready = ::poll(&wake, 1, deadline ? static_cast<int>(wake_at - now) : -1);
        if (ready < 0 && errno != EINTR) {
            report_failure("poll", "the lease watch", errno);
            ::_exit(protocol::exit_code(protocol::WorkerExit::setup_failed));
        }
        if (ready > 0) {
            std::uint64_t count;
            [[maybe_unused]] auto n = ::read(m_wake.get(), &count, sizeof count);
        }
    }
}

void LeaseWatch::expire(std::int64_t overdue_ms)
{
    char line[160];
    std::snprintf(line, sizeof line, "the job's lease ran out %lld ms ago without a renewal from the host: stopping the task",
                  static_cast<long long>(overdue_ms));
    report(line);
    // No stdio flush: the task may hold a stream's lock on the main thread.
    kill_descendants(::getpid());
    exit_with(protocol::WorkerExit::lease_expired);
}

} // namespace sandhost::worker
