// The job store: where jobs, their attempts, leases, pauses and schedule firings live, shared
// by every host and every CLI process that points at it.
//
// Delivery is at least once. A host claims a job atomically together with a lease (holder and
// expiry) and a fresh attempt id, which fences everything it does later: renewing, reporting
// progress and finishing succeed only while that attempt id still holds a live lease, so a
// result arriving on a stale lease is refused. Leases that expire (or that belong to a dead
// instance of a host) are recovered by whoever looks next, as worker_lost.
//
// Every method is atomic and thread-safe, may be called from several processes at once, and
// blocks on I/O. Failures of the store itself (locked past the busy timeout, corrupt, full
// disk, written by a newer version) throw StoreError and change nothing; a request that makes
// no sense (unknown job, unknown dependency) throws StoreRequestError and changes nothing.
// SQLite implements it now (sqlite_store.h); a Redis implementation will follow.
#pragma once

#include "model/host_record.h"
#include "model/job.h"
#include "model/retention.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sandhost::store {

class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
class StoreRequestError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What the host claims with.
struct QueueAllowance {
    std::string queue;
    // The tasks this host may run from the queue: "plugin.task" or "plugin.*" (see
    // model::task_allowed). A claim passes over the jobs of other tasks, which stay waiting
    // for a host that may run them, without holding up the jobs behind them. Empty: any task
    // (for callers with no task list, such as tests and benchmarks; a host always gives one).
    std::vector<std::string> tasks;
    // Global rate limit of the queue: at most `jobs` claims in any window of `per`, counted
    // across every host of the store.
    std::optional<std::uint64_t> rate_jobs;
    std::optional<model::Duration> rate_per;
    // At most this many jobs of the queue active at once across every host of the store (the
    // queue's global_concurrency); none: no such limit.
    std::optional<std::uint32_t> global_concurrency;
    // At most this many jobs of the queue taken by one claim_batch or finish_batch (the
    // claiming host's free slots for the queue); none: as many as the call takes.
    std::optional<std::size_t> slots;
    // Slots shared with the call's other allowances that have them: at most this many jobs of
    // all those queues together in one claim_batch or finish_batch, each claim of one of them
    // taking a slot from every one (a host's free workers, shared by its queues that never
    // hold a job ahead of a worker). None: the queue takes no part.
    std::optional<std::size_t> shared_slots;
};


// A change the store records in the same step as it makes it: the live feed of the HTTP API's
// Server-Sent Events, resumable from an event's id.
struct Event {
    std::int64_t id = 0;        // increases with every event of a store; 0 is never an id
    // The `now` of the method that made the change, or the store's clock for the methods that
    // take no time (set_progress, set_paused).
    model::TimePoint at{};
    // job.enqueued (a new job, or one retried), job.started (a claim), job.progress,
    // job.finished (an attempt's end, or a job that ended without one: cancelled while
    // waiting, expired, dead with a dependency), queue.paused, queue.resumed, host.up,
    // host.gone, store.restored (an embedded store put back from a backup: the events
    // before it are the backup's; detail names the backup) and store.copied.
    std::string type;
    model::JobId job = 0;       // job.*
    std::string queue;          // job.* and queue.*
    std::string task;           // job.*
    std::string host;           // host.*: the host's name; job.started and job.finished: the lease holder, if any
    std::optional<model::JobState> state;  // job.*: the job's state after the event
    std::uint32_t attempt = 0;  // job.started, job.progress, job.finished: the attempt's number, if any
    // job.finished: the outcome ("succeeded", ...) or why it ended; job.progress: the percent;
    // job.enqueued: "retried" for a job that runs again, "promoted" for a delayed job made to
    // run now; host.*: the instance ("NAME/MACHINE:PID:RANDOM"); store.copied: the store the
    // jobs were copied from (`sandhost copy`: the events before it are not this store's).
    std::string detail;
};

// The most jobs one enqueue_jobs call takes: a bound on the step's size (one transaction, one
// script call), not on how many jobs a producer may store.
inline constexpr std::size_t k_max_enqueue_batch = 1000;

// Throws StoreRequestError when `jobs` is more than one enqueue_jobs call takes.
void check_batch_size(std::size_t jobs);

struct EnqueueResult {
    model::JobId id = 0;
    bool created = true;  // false: an unfinished job with the same key was returned
};

struct Claim {
    model::Job job;                    // as it is now: state active, lease set
    model::AttemptId attempt_id = 0;
    std::uint32_t number = 0;   // this attempt's number within the job
};

// Where a job goes after an attempt; decided by the scheduler from the outcome and the
// queue's policy, applied by the store atomically with the attempt record.
struct Transition {
    model::JobState next = model::JobState::completed;   // completed, waiting, delayed, dead or cancelled
    std::optional<model::TimePoint> run_at;       // for delayed
    std::optional<std::string> result;     // for completed
    std::optional<std::string> error;      // kept on the job
    bool counts_as_lost = false;           // worker_lost or crashed: adds to Job::lost
    bool refund_attempt = false;           // the attempt does not count against max_attempts
};

struct LostAttempt {
    model::Job job;                     // still active, with the stale lease
    model::AttemptId attempt_id = 0;
    std::uint32_t number = 0;
    model::TimePoint started_at{};      // when it was claimed: a lost attempt ran from then until its recovery
};

enum class CancelResult { cancelled, requested, already_final, not_found };
enum class RemoveResult { removed, not_finished, needed, not_found };

// What retry, cancel and promote did to one job of a step of many (Store::change_jobs).
enum class JobAction { retry, cancel, promote };
struct ActionResult {
    enum class Kind {
        changed,    // retried, cancelled at once, promoted
        requested,  // cancel of an active job: its host is asked to stop it
        skipped,    // in another state, or no such job (purged)
        refused,    // retry: the single call would throw StoreRequestError; `why` says what it says
    };
    Kind kind = Kind::skipped;
    std::string why;
    static ActionResult of(bool changed) { return ActionResult{changed ? Kind::changed : Kind::skipped, {}}; }
    static ActionResult of(CancelResult result);
};

// The most jobs one change_jobs call takes.
inline constexpr std::size_t k_max_action_batch = 500;
// Throws StoreRequestError when `jobs` is more than one change_jobs call takes.
void check_action_size(std::size_t jobs);

struct JobFilter {
    std::optional<std::string> queue;
    std::optional<model::JobState> state;
    std::optional<std::string> task;       // "plugin.task"
    std::optional<model::JobId> before;    // only jobs with a lower id: the next page after that job
    std::size_t limit = 100;     // newest first; 0: no limit
};

struct QueueCounts {
    std::map<model::JobState, std::uint64_t> by_state;  // every state present, zeros included
    bool paused = false;
    // The earliest run_at of the queue's waiting and delayed jobs: when it is past, the job that
    // may run and has waited longest came due then (the queue's latency is the time since);
    // when it is ahead, no job is due before it. nullopt when the queue has neither. A job's
    // run_at is when it may run: its enqueue, the end of its delay or retry backoff, its retry
    // by hand, or its release by its dependencies, whichever came last.
    std::optional<model::TimePoint> earliest_due;
};

// A queue's latency at `now`: how long the job that may run and has waited longest has waited
// (0 when no job is due).
model::Duration latency(const QueueCounts& counts, model::TimePoint now);

// claim_batch's loop, for a store to run in whatever step it has: up to `max` claims, each made
// by `claim_one` from the allowances that have a slot left, each taking a slot of its queue (of
// the queue's first allowance, the one a claim reads). Stops at the first nullopt.
std::vector<Claim> claim_in_turn(const std::vector<QueueAllowance>& queues, std::size_t max,
                                 const std::function<std::optional<Claim>(const std::vector<QueueAllowance>&)>& claim_one);

// A job as a store holds it, with the attempts that ended: what `sandhost copy` carries from
// one store to another.
struct JobCopy {
    model::Job job;
    std::vector<model::AttemptRecord> attempts;
};

// The most jobs one import_jobs call takes.
inline constexpr std::size_t k_max_import_batch = 500;

// Throws StoreRequestError when `jobs` is more than one import_jobs call takes.
void check_import_size(std::size_t jobs);

// Whether a copied attempt's result is its completed job's: a store keeps it once.
bool result_is_the_jobs(const model::Job& job, const model::AttemptRecord& attempt);

// The room a store takes on this machine's disk.
struct StoreSize {
    std::uint64_t file_bytes = 0;  // the store file
    std::uint64_t wal_bytes = 0;   // its -wal file; 0 when there is none
    std::uint64_t free_bytes = 0;  // free pages inside the store file: reused by new jobs, given back by a compaction
};

class Store {
public:
    virtual ~Store() = default;

    // The room the store takes on this machine's disk (a SQLite store's files), or nullopt for
    // a store kept elsewhere (a Redis server reports its own memory).
    virtual std::optional<StoreSize> size() { return std::nullopt; }

    // Why the store this object opened is no longer the one at its address (its file deleted
    // or replaced, its folder gone), or nothing while it still is. A host asks every few
    // seconds and stops rather than write on into a store nobody else can see.
    virtual std::optional<std::string> vanished() { return std::nullopt; }

    // Stores a new job and returns its id. waiting, delayed, or blocked when a dependency is
    // not completed yet; dead at once (error names it) when a dependency is dead or cancelled.
    // An unknown dependency throws StoreRequestError and stores nothing.
    // With a key (NewJob::key): while a job of the same queue with that key is not finished
    // (completed, dead or cancelled), stores nothing and returns that job, created false. The
    // check and the insert are one step: two concurrent enqueues of one key store one job.
    virtual EnqueueResult enqueue_job(const model::NewJob& job, model::TimePoint now) = 0;
    // enqueue_job's id.
    model::JobId enqueue(const model::NewJob& job, model::TimePoint now) { return enqueue_job(job, now).id; }
    // enqueue_job for each of `jobs` (at most k_max_enqueue_batch), in one step of the store:
    // all of them are stored, or none. A result per job, in order; a key met twice in `jobs`
    // gives the second the first's job (created false). An unknown dependency of any job throws
    // StoreRequestError ("job N: ...", N counting from 0) and stores nothing. A producer with
    // many jobs pays one transaction (SQLite) or one round trip (Redis) instead of one per job.
    virtual std::vector<EnqueueResult> enqueue_jobs(const std::vector<model::NewJob>& jobs, model::TimePoint now) = 0;

    // Atomically takes the next runnable job of the first eligible queue in priority order
    // (higher priority first, then FIFO by run_at and id) among `queues`, skipping paused and
    // rate-limited queues: state waiting, or delayed with run_at <= now. The job becomes
    // active with a lease for `holder` until now + lease and a new attempt id; attempts and
    // attempts_since_retry go up by one. Jobs past their expires_at found on the way are made
    // dead (expired) instead. nullopt when nothing is runnable.
    virtual std::optional<Claim> claim(const std::vector<QueueAllowance>& queues, const std::string& holder, model::Duration lease,
                                       model::TimePoint now) = 0;

    // Extends the lease of a running attempt; false when the attempt no longer holds it.
    virtual bool renew(model::JobId job, model::AttemptId attempt, model::TimePoint expires_at) = 0;

    // Records progress of a running attempt; false when the attempt no longer holds the lease.
    virtual bool set_progress(model::JobId job, model::AttemptId attempt, const model::Progress& progress) = 0;

    // Records the attempt and applies the transition, only while `attempt` still holds the
    // job's lease. Completing a job unblocks dependents whose dependencies are all completed;
    // a job that becomes dead or cancelled makes its blocked dependents dead, transitively.
    // Returns the state the job was actually left in (a job whose cancel was requested does
    // not run again: waiting or delayed become cancelled), or nullopt (and nothing changed)
    // when the lease is stale: the result is refused. The attempt id is the fence: a lease
    // past its expiry still holds until a recover takes it over.
    virtual std::optional<model::JobState> finish(const model::AttemptRecord& attempt, const Transition& transition, model::TimePoint now) = 0;

    // finish, then claim for the slot it freed, in one step where the store can (SQLite: one
    // transaction, so one commit per job instead of two). The finish stands even when the
    // claim fails: its error comes back in claim_error, not as an exception. A failed finish
    // throws as finish does, and nothing is claimed.
    struct FinishAndClaim {
        std::optional<model::JobState> applied;  // as finish returns it
        std::optional<Claim> claim;
        std::optional<std::string> claim_error;
    };
    virtual FinishAndClaim finish_and_claim(const model::AttemptRecord& attempt, const Transition& transition, model::TimePoint now,
                                            const std::vector<QueueAllowance>& queues, const std::string& holder, model::Duration lease);

    // Up to `max` claims, each as claim() would take it after the ones before it (the rate
    // limits and global_concurrency count the jobs this call claimed first), at most
    // QueueAllowance::slots of each queue, in one step where the store can (SQLite: one
    // transaction, one commit for all). Fewer, or none, when fewer jobs are runnable. Throws as
    // claim does; a store that did it in one step then claimed nothing.
    virtual std::vector<Claim> claim_batch(const std::vector<QueueAllowance>& queues, const std::string& holder, model::Duration lease,
                                           model::TimePoint now, std::size_t max);

    // An attempt that ended and where its job goes, as finish takes them.
    struct Ending {
        model::AttemptRecord attempt;
        Transition transition;
    };
    struct FinishBatch {
        std::size_t recorded = 0;  // the first `recorded` endings were applied or refused; the others were not written
        std::optional<std::string> finish_error;  // why not, when recorded < endings
        std::vector<std::optional<model::JobState>> applied;  // for each recorded ending, as finish returns it
        std::vector<Claim> claims;
        std::optional<std::string> claim_error;
    };
    // finish for each ending in order, then claim_batch(queues, holder, lease, now, max_claims)
    // for the slots they freed, in one step where the store can (SQLite: one transaction, so
    // that attempts that ended together are committed together, by one commit). Nothing of an
    // ending is visible to others before the call returned it as recorded. The endings stand
    // even when the claims fail: their error comes back in claim_error. A failure before any
    // ending was recorded throws as finish does, and nothing is claimed; a store that writes
    // them one by one may instead stop part way (recorded, finish_error). SQLite records all or
    // none.
    virtual FinishBatch finish_batch(const std::vector<Ending>& endings, model::TimePoint now, const std::vector<QueueAllowance>& queues,
                                     const std::string& holder, model::Duration lease, std::size_t max_claims);

    // Active jobs whose lease expired before now, or whose holder is `host_name` with another
    // instance than `holder` (a previous run of this host that died). Changes nothing.
    virtual std::vector<LostAttempt> lost_attempts(const std::string& host_name, const std::string& holder, model::TimePoint now) = 0;

    // Records a lost attempt (outcome worker_lost) and applies the transition, only if that
    // attempt still holds the (stale) lease: of several recoverers exactly one wins. Returns
    // the state applied, as finish does, or nullopt when another recoverer won.
    virtual std::optional<model::JobState> recover(const model::AttemptRecord& attempt, const Transition& transition, model::TimePoint now) = 0;

    // Jobs the running attempts of `holder` should stop: cancel_requested and active.
    virtual std::vector<model::JobId> cancel_requests(const std::string& holder) = 0;

    // waiting/delayed/blocked: cancelled at once (dependents made dead). active: marks
    // cancel_requested; the host running it stops it and finishes it as cancelled.
    virtual CancelResult cancel(model::JobId job, model::TimePoint now) = 0;

    // A dead or cancelled job runs again: waiting (or blocked on its dependencies), with a
    // fresh attempt budget. false when the job is in another state; unknown throws.
    // run_at is now and a ttl counts again from now. A job with a dead, cancelled or purged
    // dependency throws StoreRequestError and stays as it is: retry the dependency first.
    virtual bool retry(model::JobId job, model::TimePoint now) = 0;

    // A delayed job (a delay, or a retry's backoff) may run now: waiting, its run_at brought
    // forward to now (an earlier one stays), its attempts and ttl as they were. false when the
    // job is in another state; unknown throws.
    virtual bool promote(model::JobId job, model::TimePoint now) = 0;

    // retry, cancel or promote each of `jobs` (at most k_max_action_batch) in one step, each as
    // the single call does it, in order: a job the single call would refuse is `refused` and
    // left as it was while the others go on. The default makes the single calls.
    virtual std::vector<ActionResult> change_jobs(JobAction action, const std::vector<model::JobId>& jobs, model::TimePoint now);

    // Dead as expired: every waiting/delayed/blocked job whose expires_at passed. Returns how
    // many (their dependents, made dead too, are not counted).
    virtual std::size_t expire(model::TimePoint now) = 0;

    virtual std::optional<model::Job> get(model::JobId job) = 0;
    // The attempts that ended, by number (a running attempt has no record yet).
    virtual std::vector<model::AttemptRecord> attempts(model::JobId job) = 0;
    virtual std::vector<model::Job> list(const JobFilter& filter) = 0;
    // The ids of every job of `queue` in `state` (of `task`, and last changed at or after
    // `changed_since`, when given), newest first, without the jobs themselves: for walking many
    // jobs whatever their payloads weigh. The default pages through list(); a store may read
    // them in one go.
    virtual std::vector<model::JobId> job_ids(const std::string& queue, model::JobState state, const std::optional<std::string>& task,
                                              std::optional<model::TimePoint> changed_since = std::nullopt);
    // Counts for every queue that has jobs or a pause flag, plus those named in `queues`, with
    // each queue's earliest due job (QueueCounts::earliest_due).
    virtual std::map<std::string, QueueCounts> queue_counts(const std::vector<std::string>& queues) = 0;
    // The results of completed jobs among `jobs` (for dependents' payloads).
    virtual std::map<model::JobId, std::string> results(const std::vector<model::JobId>& jobs) = 0;

    virtual void set_paused(const std::string& queue, bool paused) = 0;
    virtual std::vector<std::string> paused_queues() = 0;

    // Fires schedule `name` for its period starting at `fire_time`: enqueues `job` and records
    // the firing atomically, only when no firing at or after fire_time is recorded. The first
    // call for a name only records `fire_time` as its start (nothing is enqueued): a new
    // schedule does not fire for periods before it was first seen. Returns the job id when
    // this caller fired it.
    virtual std::optional<model::JobId> fire_schedule(const std::string& name, model::TimePoint fire_time, const model::NewJob& job, model::TimePoint now) = 0;

    // The latest fire time recorded for schedule `name` (first sight included), or nullopt.
    virtual std::optional<model::TimePoint> schedule_last_fire(const std::string& name) = 0;

    // Copying a store into another (`sandhost copy`). import_jobs adds, in one step, jobs as
    // another store held them: ids, states, times, payloads, results, errors, keys, ttls,
    // dependencies (a dependency may come before or after its dependents, in this call or
    // another) and the attempts that ended, each with its id. It refuses (StoreRequestError,
    // nothing added) an active job, an id this store already holds and more jobs than
    // k_max_import_batch. It writes no event; `now` decides which delayed jobs are due. The store's next job and attempt ids are above
    // every copied one.
    virtual void import_jobs(const std::vector<JobCopy>& jobs, model::TimePoint now) = 0;
    // Records `last_fire` as schedule `name`'s last fire, as another store had it: the schedule
    // goes on from there rather than starting anew.
    virtual void import_schedule(const std::string& name, model::TimePoint last_fire) = 0;
    // Appends a store.copied event (its detail: `from`, the store the jobs came from) above both
    // `after` (the other store's last event) and every event of this one, so that a reader who
    // resumes by event id from the other store's feed misses none of this one's. Returns its id.
    virtual std::int64_t continue_events(std::int64_t after, const std::string& from, model::TimePoint now) = 0;

    // Deletes the completed, dead or cancelled job `job` with its attempts, as purge deletes
    // jobs: its payload, result, error and its attempts' output are gone (its events stay; they
    // name it but hold none of those). not_finished: it has not ended (cancel it first);
    // needed: a job still to run depends on it (on its state and result).
    virtual RemoveResult remove(model::JobId job) = 0;

    // Deletes final jobs in `state` (completed, dead or cancelled) last updated before
    // `older_than`, with their attempts. Returns how many. A job that a job not final yet
    // depends on is kept.
    virtual std::size_t purge(model::JobState state, model::TimePoint older_than) = 0;

    // Retention: deletes, with their attempts, at most `batch` of the jobs of `queue` in the
    // final `state` that `limit` no longer keeps: last updated before now - age, or older (by
    // last update, then id) than the newest `count`. A job that a job not final yet depends on
    // is kept. Examines at most a few batches' worth of jobs, so that a call is short and
    // claims are never held up for long; returns how many it deleted (a caller calls again
    // while it gets `batch`).
    virtual std::size_t trim(const std::string& queue, model::JobState state, const model::RetentionLimit& limit,
                             model::TimePoint now, std::size_t batch) = 0;

    // Which tasks wait in vain here: the distinct (queue, task) pairs of waiting or delayed
    // jobs in `queues` whose task the queue's allowance does not allow. For a host to say
    // once that it leaves them to others.
    virtual std::vector<std::pair<std::string, std::string>> unclaimable_tasks(const std::vector<QueueAllowance>& queues) = 0;

    // Hosts. A host instance (`holder`, "NAME/MACHINE:PID:RANDOM") registers its name at
    // start, publishes its catalog at start and on every reload, beats while it runs, and
    // unregisters when it stops. Records stay after a host stops (stopped_at set): its catalog
    // keeps serving enqueue checks, and `sandhost hosts` shows when it stopped. An instance
    // holds its name from its registration until it unregisters or another one registers.

    // Registers `holder` for `host_name` (started_at and heartbeat now, stopped_at cleared);
    // false, and nothing changed, when another holder of that name beat less than
    // `stale_after` ago and has not stopped (two hosts must not share a name).
    virtual bool register_host(const std::string& host_name, const std::string& holder, model::TimePoint now,
                               model::Duration stale_after) = 0;

    // Registers `holder` for `host_name` whatever is registered: for a host that knows the
    // previous holder is dead (a process of this machine that no longer exists).
    virtual void take_over_host(const std::string& host_name, const std::string& holder, model::TimePoint now) = 0;

    // Who registered `host_name` last and when they last beat, or nullopt.
    virtual std::optional<std::pair<std::string, model::TimePoint>> host_registration(const std::string& host_name) = 0;

    // Records what the host serves: its version, its queues with the tasks it lets them run,
    // and its plugin catalog (catalog_at = now). false, and nothing changed, when `holder` no
    // longer holds the name.
    virtual bool publish_host(const std::string& host_name, const std::string& holder, const std::string& version,
                              const std::vector<model::ServedQueue>& queues, const model::PluginCatalog& catalog,
                              model::TimePoint now) = 0;

    // The host is alive: heartbeat_at = now, and what it runs. false, and nothing changed, when
    // `holder` no longer holds the name (another instance took it over).
    virtual bool heartbeat(const std::string& host_name, const std::string& holder, const model::HostStatus& status,
                           model::TimePoint now) = 0;

    // The host stopped: stopped_at = now and its status emptied, when `holder` still holds it.
    virtual void unregister_host(const std::string& host_name, const std::string& holder, model::TimePoint now) = 0;

    // Every host record, by name.
    virtual std::vector<model::HostRecord> hosts() = 0;

    // The events after `after` (0: from the oldest kept), oldest first, at most `limit`. Every
    // method that changes a job, a pause or a host registration records its events in the same
    // step. A store keeps at least the newest 10,000 events; a reader that fell further behind
    // learns it from the first id it gets (greater than after + 1).
    virtual std::vector<Event> events_after(std::int64_t after, std::size_t limit) = 0;
};

// What copy_store carried.
struct CopyReport {
    std::uint64_t jobs = 0;
    std::uint64_t attempts = 0;
    std::vector<std::string> paused;     // the queues paused in both
    std::vector<std::string> schedules;  // the schedules whose last fire was carried
    std::int64_t event = 0;              // the store.copied event `to`'s feed goes on from
    model::JobId newest = 0;             // the newest job copied (0: none): a newer one was enqueued meanwhile
    std::uint64_t already = 0;           // jobs `to` held already, the same as in `from` (CopyStart::resume)
};

enum class CopyStart {
    into_empty,  // `to` must hold no job
    resume,      // `to` may hold a part of an earlier copy of `from` that stopped part way: jobs
                 // the same as in `from` (every field a listing shows), and nothing else; they
                 // are left as they are, and the rest is copied
};

// Copies every job of `from`, with its attempts, its paused queues and the last fires of the
// `schedules` named into `to`, newest job first, through import_jobs (at most
// k_max_import_batch jobs or about 32 MiB at a time). `to` must hold no job (or, to resume, only
// jobs copied before, see CopyStart) and `from` no active one (StoreRequestError before anything
// is written; a job that starts during the copy makes it stop there). `from` is only read.
// `progress` is told after each step. Events are not copied: `to`'s feed goes on above
// `from`'s last one, from a store.copied event naming `from_name`. A resumed copy carries the
// paused queues and schedules again (the same values) and appends its own store.copied event.
CopyReport copy_store(Store& from, Store& to, const std::string& from_name, const std::vector<std::string>& schedules, model::TimePoint now,
                      const std::function<void(const CopyReport&)>& progress = {}, CopyStart start = CopyStart::into_empty);

} // namespace sandhost::store
