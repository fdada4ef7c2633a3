// A worker never outlives its job's lease. The host renews the lease on the channel while the
// job runs (protocol::Lease); a thread of the worker reads the channel meanwhile (the task has
// the main thread) and, when the lease runs out unrenewed, kills every descendant of the
// worker and exits with WorkerExit::lease_expired. A lease runs out when the host was stopped
// (SIGSTOP, a stalled machine) or could not reach its store: another host may already run the
// job, and this attempt's side effects must end before that one's begin.
#pragma once

#include "os/result.h"
#include "os/unique_fd.h"
#include "worker/worker_channel.h"

#include <atomic>
#include <memory>
#include <pthread.h>

namespace sandhost::worker {

class LeaseWatch {
public:
    // Starts the watching thread, idle until a job with a lease begins on `channel`
    // (WorkerChannel::begin_job). Fails when no eventfd or thread can be had. The channel
    // must outlive the watch.
    static os::Result<std::unique_ptr<LeaseWatch>> start(WorkerChannel& channel);
    // Stops and joins the thread.
    ~LeaseWatch();
    LeaseWatch(const LeaseWatch&) = delete;
    LeaseWatch& operator=(const LeaseWatch&) = delete;

    // The channel's lease changed (a job began or ended): the thread looks again. Never blocks.
    void wake() noexcept;

private:
    explicit LeaseWatch(WorkerChannel& channel, os::UniqueFd&& wake_fd) : m_channel(channel), m_wake(std::move(wake_fd)) {}
    static void* thread_main(void* self);
    void watch();
    [[noreturn]] void expire(std::int64_t overdue_ms);

    WorkerChannel& m_channel;
    os::UniqueFd m_wake;  // an eventfd
    std::atomic<bool> m_stop{false};
    pthread_t m_thread{};
};

} // namespace sandhost::worker
