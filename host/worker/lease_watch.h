// A worker never outlives its job's lease. The host renews the lease on the channel while the
// job runs (protocol::Lease, a point on the monotonic clock); a thread of the worker (the task
// has the main thread) sleeps until the lease would run out, reads the renewals that came
// meanwhile, and when none moved the lease on kills every descendant of the worker and exits
// with WorkerExit::lease_expired. Short jobs never wake it: a job that begins wakes it only
// when it sleeps past the new job's deadline (between jobs it sleeps without one). A lease runs out when the host was stopped
// (SIGSTOP, a stalled machine) or could not reach its store: another host may already run the
// job, and this attempt's side effects must end before that one's begin.
#pragma once

#include "os/result.h"
#include "os/unique_fd.h"
#include "worker/worker_channel.h"

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <pthread.h>

namespace sandhost::worker {

class LeaseWatch {
public:
    // The thread's name, as `ps -L` and /proc/PID/task/TID/comm show it.
    static constexpr const char* k_thread_name = "sh-lease-watch";

    // Starts the watching thread, idle until a job with a lease begins on `channel`
    // (WorkerChannel::begin_job). Fails when no eventfd or thread can be had. The channel
    // must outlive the watch.
    static os::Result<std::unique_ptr<LeaseWatch>> start(WorkerChannel& channel);
    // Stops and joins the thread.
    ~LeaseWatch();
    LeaseWatch(const LeaseWatch&) = delete;
    LeaseWatch& operator=(const LeaseWatch&) = delete;

    // A job began on the channel (WorkerChannel::begin_job): the thread is woken if it would
    // sleep past the job's deadline. Never blocks.
    void job_began() noexcept;

private:
    explicit LeaseWatch(WorkerChannel& channel, os::UniqueFd&& wake_fd) : m_channel(channel), m_wake(std::move(wake_fd)) {}
    void wake() noexcept;
    static void* thread_main(void* self);
    void watch();
    [[noreturn]] void expire(std::int64_t overdue_ms);

    WorkerChannel& m_channel;
    os::UniqueFd m_wake;  // an eventfd
    std::atomic<bool> m_stop{false};
    // CLOCK_MONOTONIC ms when the thread wakes next on its own; the largest value: never.
    std::atomic<std::int64_t> m_sleeps_until{std::numeric_limits<std::int64_t>::max()};
    pthread_t m_thread{};
};

} // namespace sandhost::worker
