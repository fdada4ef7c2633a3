// The host: serves the queues of a configuration from a store. Claims runnable jobs that its
// own queue settings allow while slots are free (per-queue concurrency, the host's
// max_workers), runs each attempt in its sandbox on a thread of its own, keeps its lease alive,
// stops it when it is cancelled, records its outcome and decides where the job goes next;
// recovers lost attempts; fires schedules; publishes its plugin catalog and a heartbeat to the
// store; drains on stop.
#pragma once

#include "config/settings.h"
#include "sandbox/sandbox.h"
#include "scheduler/metrics.h"
#include "store/store.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

namespace sandhost::scheduler {

struct HostOptions {
    sandbox::WorkerConfig worker = sandbox::WorkerConfig::defaults();  // the host's sandbox starts this worker
    model::Duration lease = std::chrono::seconds(15);       // how long a silent host keeps a job
    model::Duration drain = std::chrono::seconds(30);       // running attempts' time to finish on stop
    model::Duration idle_poll = std::chrono::milliseconds(50);   // store polling when idle
    model::Duration cancel_poll = std::chrono::milliseconds(200); // how fast a cancel reaches a worker
    model::Duration housekeeping = std::chrono::seconds(1); // recovery, expiry, schedules
    model::Duration host_error_backoff = std::chrono::seconds(1);  // no claims for this long after a HostError
    std::string instance;  // empty: random; the lease holder is "NAME/INSTANCE"
    std::shared_ptr<Metrics> metrics;  // what the host counts for /metrics; null: a Metrics of its own
};

struct HostStats {
    std::uint64_t claimed = 0;
    std::uint64_t finished = 0;
    std::uint64_t refused = 0;      // results refused on a stale lease
    std::uint64_t recovered = 0;    // lost attempts recorded
    std::uint64_t host_errors = 0;  // attempts put back because the host itself failed
    std::size_t running = 0;
    std::size_t peak_running = 0;
    std::map<std::string, std::size_t> peak_running_by_queue;
};

class Host {
public:
    // Creates the host's sandbox (options.worker); nothing runs until run().
    Host(std::shared_ptr<const config::Settings> settings, std::shared_ptr<store::Store> store, HostOptions options = {});
    // Stops (without drain), waits for running attempts if run() is still going, and shuts the
    // sandbox down: every worker it started is ended and reaped.
    ~Host();
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    // Serves until stop() and the drain complete. Throws StoreError when the store fails at
    // start (or when another live instance uses this host's name); later store failures are
    // logged and retried. Call once, from one thread.
    void run();

    // Thread-safe. Stops claiming, lets running attempts finish until the drain deadline,
    // then stops their workers; their jobs go back to waiting without using up an attempt.
    void stop();

    // Thread-safe. New and changed queues apply to new claims; running attempts keep the
    // settings they started with; the catalog is published again. The store URL cannot
    // change (it is ignored, with a warning).
    void reload(std::shared_ptr<const config::Settings> settings);

    const std::string& holder() const { return m_holder; }
    HostStats stats() const;
    sandbox::Sandbox& sandbox() { return *m_sandbox; }
    const std::shared_ptr<Metrics>& metrics() const { return m_options.metrics; }

private:
    struct Running;
    void start_serving();
    void publish();
    void heartbeat(model::TimePoint now);
    void housekeeping(model::TimePoint now);
    void recover_lost(model::TimePoint now);
    void fire_schedules(model::TimePoint now);
    void note_unclaimable();
    // The queues a claim may take from now, each with the tasks this host lets it run (empty
    // when no slot is free).
    std::vector<store::QueueAllowance> claimable_now();
    void claim_jobs();
    void start_attempt(store::Claim claim);
    void collect_finished();
    // Records the attempt; with may_claim, claims for the slot it freed in the same store
    // step and returns that claim, for the caller to start.
    std::optional<store::Claim> finish_attempt(Running& running, bool may_claim);
    store::Transition host_error_transition(Running& running, model::Outcome& outcome, model::TimePoint now);
    void poll_cancels_and_renew(model::TimePoint now);
    sandbox::AttemptSpec build_spec(const store::Claim& claim, const config::QueueSettings& queue, std::optional<model::Outcome>& early);
    std::shared_ptr<const config::Settings> settings() const;
    double random01();

    std::shared_ptr<const config::Settings> m_settings;
    std::shared_ptr<store::Store> m_store;
    HostOptions m_options;
    std::unique_ptr<sandbox::Sandbox> m_sandbox;
    std::string m_host_name;
    std::string m_holder;

    mutable std::mutex m_mutex;   // guards everything below
    std::condition_variable m_wake;
    bool m_stopping = false;
    bool m_republish = false;     // a reload asks the run loop to publish the catalog again
    std::map<model::JobId, std::unique_ptr<Running>> m_running;
    std::deque<model::JobId> m_finished;
    std::map<std::string, std::size_t> m_running_by_queue;
    HostStats m_stats;
    std::mt19937_64 m_rng;
    std::map<std::string, model::TimePoint> m_schedule_last;
    std::set<std::pair<std::string, std::string>> m_unclaimable_noted;  // (queue, task) logged once
    model::TimePoint m_claims_paused_until{};  // after a HostError
};

} // namespace sandhost::scheduler
