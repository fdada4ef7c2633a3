// The host: serves the queues of a configuration from a store. Claims runnable jobs that its
// own queue settings allow while slots are free (per-queue concurrency and global_concurrency,
// the host's max_workers), runs each attempt in its sandbox on a thread of its own, keeps its
// lease alive (host.lease), stops it when it is cancelled or when its lease ran out unrenewed,
// records its outcome and decides where the job goes next; recovers lost attempts; fires
// schedules; publishes its plugin catalog and a heartbeat to the store; drains on stop. On a
// thread of its own it applies its queues' retention (Store::trim), in small batches with
// pauses between them, so that the claims of the run loop never wait for it for long.
//
// A store that fails (a Redis server restarting, a full disk) never stops the host: it stops
// claiming, keeps the records of the attempts that end meanwhile (at most
// HostOptions::max_unrecorded) and writes them, in order, once the store answers again, with a
// back-off between tries; it renews its leases as soon as the store is back, and logs one line
// when the store fails and one when it is back.
#pragma once

#include "config/settings.h"
#include "sandbox/sandbox.h"
#include "scheduler/attempt_threads.h"
#include "scheduler/metrics.h"
#include "store/store.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>

namespace sandhost::scheduler {

// An attempt whose record the store has committed (see HostOptions::on_recorded).
struct RecordedAttempt {
    model::JobId job = 0;
    std::uint32_t attempt = 0;  // its number within the job
    model::OutcomeKind outcome = model::OutcomeKind::succeeded;
    std::optional<model::JobState> applied;  // nullopt: refused on a stale lease
    std::chrono::steady_clock::time_point claimed;   // when its claim came back committed
    std::chrono::steady_clock::time_point recorded;  // when its record did
    // When the attempt started: later than `claimed` for a job held ahead of a free slot (see
    // QueueSettings::prefetch); `claimed` for one that never started.
    std::chrono::steady_clock::time_point started;
};

struct HostOptions {
    sandbox::WorkerConfig worker = sandbox::WorkerConfig::defaults();  // the host's sandbox starts this worker
    model::Duration drain = std::chrono::seconds(30);       // running attempts' time to finish on stop
    model::Duration idle_poll = std::chrono::milliseconds(50);   // store polling when idle
    model::Duration cancel_poll = std::chrono::milliseconds(200); // how fast a cancel reaches a worker
    model::Duration housekeeping = std::chrono::seconds(1); // recovery, expiry, schedules
    model::Duration retention = std::chrono::seconds(5);    // how often finished jobs beyond a queue's retention go
    std::size_t retention_batch = 100;                      // jobs deleted per store call
    model::Duration host_error_backoff = std::chrono::seconds(1);  // no claims for this long after a HostError
    model::Duration store_retry_first = std::chrono::milliseconds(100);  // a failing store is tried again after this,
    model::Duration store_retry_max = std::chrono::seconds(5);           // doubling up to this
    std::size_t max_unrecorded = 10'000;  // attempt records kept while the store fails; beyond, the oldest go
    std::string instance;  // empty: random; the lease holder is "NAME/INSTANCE"
    std::shared_ptr<Metrics> metrics;  // what the host counts for /metrics; null: a Metrics of its own
    // Called for every attempt record the store answered, after its commit (never before:
    // whoever it tells may read the job from the store), once per attempt, on the thread that
    // recorded it: the run loop, or the thread of an attempt that ended (never two at once).
    // For benchmarks and tests; it must not block or throw.
    std::function<void(const RecordedAttempt&)> on_recorded;
};

struct HostStats {
    std::uint64_t claimed = 0;
    std::uint64_t finished = 0;
    std::uint64_t refused = 0;      // results refused on a stale lease
    std::uint64_t recovered = 0;    // lost attempts recorded
    std::uint64_t host_errors = 0;  // attempts put back because the host itself failed
    std::uint64_t recorded_late = 0;    // records written once a failing store answered again
    std::uint64_t records_dropped = 0;  // records given up (more than max_unrecorded waited)
    std::uint64_t leases_expired = 0;   // attempts stopped (by the host or by their worker) because their lease ran out unrenewed
    std::uint64_t trimmed = 0;          // finished jobs deleted by retention
    std::size_t unrecorded = 0;     // records waiting for the store now
    bool store_failing = false;
    std::size_t running = 0;        // attempts started and not yet collected
    std::size_t claimed_ahead = 0;  // jobs claimed ahead of a free slot, not started yet
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
    // waited out (see above). Call once, from one thread.
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
    struct Unrecorded;
    void start_serving();
    void publish();
    void heartbeat(model::TimePoint now);
    void housekeeping(model::TimePoint now);
    // A library added to the plugin folders, removed or replaced (a new version installed)
    // since the catalog was published makes it published again.
    void notice_plugin_changes();
    void recover_lost(model::TimePoint now);
    void fire_schedules(model::TimePoint now);
    void note_unclaimable();
    // The retention thread: trims every queue with a retention until the host stops.
    void retain();
    // One round over the queues; false when the host is stopping.
    bool retain_once();
    // The queues a claim may take from now, each with the tasks this host lets it run (empty
    // when no slot is free).
    struct Claimable {
        std::vector<store::QueueAllowance> queues;  // with their free slots
        std::size_t max = 0;                        // free slots of the host
    };
    Claimable claimable_now();
    void claim_jobs();
    // Keeps a claimed job: started at once when its queue has a free slot, held ahead of one
    // otherwise (see QueueSettings::prefetch).
    void take_claim(store::Claim claim);
    // take_claim for each of a store step's claims.
    void take_claims(std::vector<store::Claim> claims);
    void launch(Running& running);
    // Counts a job as started and builds its attempt; false when it ended at once (a bad task
    // or plugin, an unknown queue, a host error), already handed to the run loop.
    bool prepare(Running& running);
    // An attempt's thread: runs the attempt, hands its ending to the run loop and starts the
    // next held job that may start in the slot it freed, until none may.
    void run_attempts(Running* running);
    // With m_mutex held: the held job to start next, counted as started (the one claimed first
    // of those whose queue has a slot and the host a worker free), or null.
    Running* take_held();
    // With m_mutex held: a held job that must end without running (cancelled, its lease lost
    // or expired, the host stopping).
    static bool held_stopped(const Running& held);
    // With m_mutex held: whether a job of the queue may start now (a slot of the queue and a
    // worker of the host free).
    bool slot_free(const config::QueueSettings& queue) const;
    // How many workers the host runs at most now: max_workers, or fewer while short of resources.
    std::size_t worker_limit(const config::Settings& settings) const;
    // Attempts started and not yet ended (m_running less the jobs held ahead and the ended ones
    // whose slot is free), with m_mutex held.
    std::size_t started_count() const { return m_running.size() - m_ahead_count - m_released; }
    // Starts held jobs in the slots free now; ends those stopped before they started (a cancel,
    // a lost or expired lease, the host stopping) without running them.
    void launch_ahead(bool stopping);
    // Records every attempt that ended since the last look, in one store step with the claims
    // for the slots they freed (unless the host stops), and starts those claims. With the
    // recorder's turn (RecorderTurn). On the run loop (gather: first waits a little for others
    // to end, see gather_endings), or on the thread of an attempt that ended (record_here).
    void collect_finished(bool gather = true);
    // On the thread of an attempt that ended with no held job to start next: when the turn
    // comes within a commit's time (k_max_gather), records the endings waiting (this
    // attempt's among them) and claims for the free slots on this thread, as the run loop
    // would, and returns the claim this thread runs next (null when there is none). Returns
    // false when the turn did not come: the run loop records them. No wakeup of the run loop
    // and none of another thread for the next job: by default a slot's next job starts as soon
    // as its ending and claim are committed.
    bool record_here(Running*& next);
    // Decides where an ended attempt's job goes: what to record, or nullopt when nothing goes
    // to the store now (a stale lease; a failing store keeps it for later).
    std::optional<Unrecorded> end_attempt(Running& running);
    // Called with m_mutex held, when an attempt ended: waits a little for others to end too,
    // so that their records share one commit (see m_last_commit).
    void gather_endings(std::unique_lock<std::mutex>& lock);
    // Writes the endings in one store step; with may_claim, claims for the free slots in it too.
    void record_endings(std::vector<Unrecorded> endings, bool may_claim);
    void worker_started(model::TimePoint now);
    store::Transition host_error_transition(Running& running, model::Outcome& outcome, model::TimePoint now);
    void poll_cancels_and_renew(model::TimePoint now, bool renew_all = false);
    // Attempts whose lease ran out unrenewed (the store failed, the host was stopped): another
    // host may take their jobs over, so their workers stop.
    void stop_expired_leases(model::TimePoint now);
    // The store failed while doing `doing`: claims stop and calls are spaced out (logged once).
    void store_failed(const char* doing, const std::exception& error, model::TimePoint now);
    // A call succeeded: after a failure, says so and renews the leases at once (unless the call
    // was that renewal).
    void store_answered(model::TimePoint now, bool leases_renewed = false);
    bool store_failing() const { return m_store_failing; }
    // Whether a call may go to the store now: always, unless it is failing and its back-off runs.
    bool store_due(model::TimePoint now) const { return !m_store_failing || now >= m_store_retry_at; }
    void keep_unrecorded(Unrecorded unrecorded);
    // Writes kept records, oldest first, until one fails.
    void write_unrecorded(model::TimePoint now);
    // Tells HostOptions::on_recorded that the store answered an attempt's record.
    void recorded(const store::Claim& claim, model::OutcomeKind outcome, std::optional<model::JobState> applied,
                  std::chrono::steady_clock::time_point claimed, std::chrono::steady_clock::time_point started);
    void log_attempt_end(const store::Claim& claim, const model::Outcome& outcome, const std::string& next);
    sandbox::AttemptSpec build_spec(const store::Claim& claim, const config::QueueSettings& queue, std::optional<model::Outcome>& early);
    std::shared_ptr<const config::Settings> settings() const;
    model::Duration lease() const { return settings()->host.lease; }
    // A worker stops itself this long before its attempt's lease runs out in the store (see
    // worker/lease_watch.h), so that it has ended before another host can take the job over.
    model::Duration worker_lease_margin() const { return lease() / 5; }
    double random01();

    std::shared_ptr<const config::Settings> m_settings;
    std::shared_ptr<store::Store> m_store;
    HostOptions m_options;
    std::unique_ptr<sandbox::Sandbox> m_sandbox;
    std::string m_host_name;
    std::string m_holder;

    // A turn at recording endings and claims (m_recording): the run loop's whole pass but its
    // wait, or record_here on an attempt's thread. The turn guards the store's health below and
    // what else only the run loop touched before attempts' threads recorded too.
    class RecorderTurn;
    // While record_here runs on this thread: where launch() leaves the first claim it starts,
    // for this thread to run, instead of handing it to another.
    static thread_local Running** t_next_here;

    mutable std::mutex m_mutex;   // guards everything below
    bool m_recording = false;     // someone has the recorder's turn
    bool m_loop_waits_to_record = false;  // the run loop waits for the turn: it goes first
    std::condition_variable m_recorder_free;  // m_recording went false
    std::condition_variable m_wake;       // the run loop's: an attempt ended, a stop, a reload
    std::condition_variable m_stop_wake;  // the retention thread's: a stop
    bool m_stopping = false;
    bool m_gathering = false;     // the run loop waits in gather_endings
    bool m_republish = false;     // a reload asks the run loop to publish the catalog again
    std::map<model::JobId, std::unique_ptr<Running>> m_running;
    std::deque<model::JobId> m_finished;
    std::map<std::string, std::size_t> m_running_by_queue;  // started attempts
    // Jobs claimed ahead of a free slot, in claim order per queue (also in m_running).
    std::map<std::string, std::deque<model::JobId>> m_ahead;
    std::size_t m_ahead_count = 0;
    std::uint64_t m_held_count = 0;  // jobs held ahead since the host started
    std::size_t m_released = 0;  // ended attempts in m_running whose slot their thread freed
    HostStats m_stats;
    std::mt19937_64 m_rng;
    std::map<std::string, model::TimePoint> m_schedule_last;
    std::set<std::pair<std::string, std::string>> m_unclaimable_noted;  // (queue, task) logged once
    model::TimePoint m_claims_paused_until{};  // after a HostError
    // While the host is short of resources: how many workers it runs at most (0: max_workers).
    // Halved on every HostError; one more for an attempt that started a back-off or more after
    // the last change.
    std::size_t m_worker_cap = 0;
    model::TimePoint m_worker_cap_changed_at{};
    std::optional<std::string> m_store_vanished;  // why the store is no longer the one opened
    std::thread m_retention_thread;  // started by run(), joined before it returns
    AttemptThreads m_attempt_threads;  // joined by the destructor, before m_running goes

    // The store's health, seen by whoever has the recorder's turn.
    std::deque<Unrecorded> m_unrecorded;  // oldest first
    std::chrono::microseconds m_last_commit{0};  // how long the last record of endings took
    bool m_publish_pending = false;       // a reload's catalog the store did not take yet
    sandbox::PluginFiles m_published_files;  // the libraries the last catalog published described
    bool m_store_failing = false;
    model::TimePoint m_store_failing_since{};
    model::TimePoint m_store_retry_at{};
    model::Duration m_store_backoff{};
    std::uint64_t m_store_failed_calls = 0;
    std::uint64_t m_dropped_since_failure = 0;
};

} // namespace sandhost::scheduler
