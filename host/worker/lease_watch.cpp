#include "worker/lease_watch.h"

#include "worker/failure.h"
#include "worker/host_death.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
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
    static_cast<LeaseWatch*>(self)->watch();
    return nullptr;
}

void LeaseWatch::watch()
{
    bool channel_open = true;
    while (!m_stop.load(std::memory_order_acquire)) {
        const auto deadline = m_channel.lease_deadline();
        int timeout = -1;
        if (deadline) {
            const std::int64_t left = *deadline - monotonic_ms();
            if (left <= 0) expire(-left);
            timeout = static_cast<int>(std::min<std::int64_t>(left, 60'000));
        }
        // Only while a lease runs is the channel this thread's to read: between jobs the main
        // thread waits on it for the next job.
        pollfd fds[2] = {{m_wake.get(), POLLIN, 0}, {deadline && channel_open ? m_channel.fd() : -1, POLLIN, 0}};
        const int ready = ::poll(fds, 2, timeout);
        if (ready < 0 && errno != EINTR) {
            report_failure("poll", "the lease watch", errno);
            ::_exit(protocol::exit_code(protocol::WorkerExit::setup_failed));
        }
        if (ready <= 0) continue;
        if (fds[0].revents) {
            std::uint64_t count;
            [[maybe_unused]] auto n = ::read(m_wake.get(), &count, sizeof count);
        }
        // An ended channel is the host's to notice (it closed it, or died: the death signal
        // comes); this thread keeps the deadline.
        if (fds[1].revents && !m_channel.take_in()) channel_open = false;
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
