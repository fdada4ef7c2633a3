// The sandhost client library for C++ programs (libsandhost-client.so, sandhost::client in
// CMake, sandhost-client in pkg-config): enqueue jobs on a store and follow them, with the same
// checks as `sandhost enqueue`. It runs no task and needs no worker executable. The C API is
// client.h; embedding a sandbox or a whole host is embed.hpp.
//
//     auto client = sandhost::client::Client::open_config("/etc/sandhost/sandhost.yaml");
//     const auto id = client.enqueue("default", "legacy_c.checksum", R"({"data":"hello"})").id;
//     const auto job = client.wait(id, std::chrono::seconds(30));
//     if (job.state == sandhost::client::JobState::completed) std::cout << *job.result << "\n";
//
// Errors: every function throws sandhost::client::Error, whose kind() says what went wrong and
// whose what() says it in words; a job that does not exist is nullopt (get) or not_found.
// Threads: a Client may be used from several threads at once. Every call blocks on the store.
#ifndef SANDHOST_CLIENT_HPP
#define SANDHOST_CLIENT_HPP

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sandhost::client {

// Where a job is (see `sandhost jobs`). completed, dead and cancelled are final.
enum class JobState { waiting, delayed, blocked, active, completed, dead, cancelled };
const char* to_string(JobState state);
bool is_final(JobState state);

class Error : public std::runtime_error {
public:
    enum class Kind {
        config,            // the configuration file is missing or invalid: what() lists every error
        store,             // the store cannot be opened or failed (locked, corrupt, unreachable)
        refused,           // the enqueue policy refused the job: unknown queue, task not allowed or
                           // not found, payload not a JSON object, unknown dependency
        not_found,         // no job with that id
        invalid_argument,  // a malformed argument (a store URL, a negative timeout)
    };
    Error(Kind kind, const std::string& message) : std::runtime_error(message), m_kind(kind) {}
    Kind kind() const noexcept { return m_kind; }

private:
    Kind m_kind;
};

struct EnqueueOptions {
    int priority = 0;                                  // higher runs first
    std::optional<std::chrono::milliseconds> delay;    // not before now + delay
    std::optional<std::chrono::milliseconds> timeout;  // per attempt, instead of the queue's
    std::optional<std::uint32_t> max_attempts;         // instead of the queue's retry policy
    std::vector<std::int64_t> depends_on;              // runs once these completed, with their results
    // Idempotency: while an unfinished job of the queue carries this key, enqueuing it again
    // returns that job (Enqueued::created false) instead of a new one.
    std::optional<std::string> key;
};

// One job of Client::enqueue_batch.
struct NewJob {
    std::string queue;
    std::string task;              // "plugin.task"
    std::string payload = "{}";    // a JSON object
    EnqueueOptions options;
};

// The most jobs one enqueue_batch call takes.
inline constexpr std::size_t k_max_batch = 1000;

struct Enqueued {
    std::int64_t id = 0;
    bool created = true;             // false: an unfinished job with the same key was returned
    std::vector<std::string> notes;  // e.g. that no host has published its plugins yet
};

struct Job {
    std::int64_t id = 0;
    std::string queue;
    std::string task;                  // "plugin.task"
    std::string payload;               // JSON text, as enqueued
    JobState state = JobState::waiting;
    int priority = 0;
    std::uint32_t attempts = 0;        // attempts started
    std::optional<std::string> result; // the task's result (JSON text) once completed
    std::optional<std::string> error;  // the last attempt's error, or why the job is dead
    std::optional<std::string> outcome;  // the last finished attempt's outcome ("succeeded",
                                         // "crashed", "timed_out", ...)
    std::optional<double> progress;    // percent reported by the running (or last) attempt
    std::chrono::system_clock::time_point created_at{};
    std::chrono::system_clock::time_point updated_at{};
};

enum class CancelResult {
    cancelled,      // it was waiting: it is cancelled now
    requested,      // it is running: its host stops the worker and records it as cancelled
    already_final,  // it had already ended
};

// Which jobs of a queue Client::retry_jobs, cancel_jobs and promote_jobs take.
struct BulkOptions {
    // retry: dead, cancelled (none given: dead); cancel: waiting, delayed, blocked, active (none
    // given: the first three; a running job is stopped only when active is named); promote:
    // delayed (the only one it takes).
    std::vector<JobState> states;
    std::optional<std::string> task;  // "plugin.task": only its jobs
    // Only jobs last changed within this long before the call (a retry: that died since).
    std::optional<std::chrono::milliseconds> since;
    std::size_t limit = 0;            // change at most this many, newest first; 0: every one
    bool dry_run = false;             // count them, change nothing
};

// What retry_jobs, cancel_jobs or promote_jobs did.
struct BulkResult {
    std::size_t changed = 0;    // retried, cancelled at once or promoted (a dry run: would be)
    std::size_t requested = 0;  // cancel: running jobs asked to stop; each ends cancelled once its host stops it
    std::size_t skipped = 0;    // in another state by the time they were reached
    // retry: the jobs the store refused (a dead dependency, a key another job holds), with why:
    // the first 100 of refused_count.
    std::vector<std::pair<std::int64_t, std::string>> refused;
    std::size_t refused_count = 0;
    bool more = false;  // the limit stopped it while more jobs match
};

// A queue as the store holds it now (as `sandhost queues` shows it).
struct QueueStats {
    std::string name;
    bool paused = false;
    std::array<std::uint64_t, 7> counts{};  // jobs by state, indexed by JobState
    // How long the job that may run and has waited longest has waited (0 when none is due):
    // the backlog a producer can watch before it enqueues more.
    std::chrono::milliseconds latency{0};
    // The earliest run_at of its waiting and delayed jobs; ahead of now when none is due yet.
    std::optional<std::chrono::system_clock::time_point> earliest_due;

    std::uint64_t count(JobState state) const { return counts[static_cast<std::size_t>(state)]; }
};

class Client {
public:
    // Opens the store the configuration file names; enqueue checks against its queues. Throws
    // Error (config) listing every error of the file, or Error (store).
    static Client open_config(const std::string& config_file);
    // Opens a store by URL ("sqlite:PATH", relative to the working directory, or
    // "redis://HOST[:PORT][/DB]"); enqueue checks against the queues the store's hosts published
    // (refused while no host has published any). Throws Error (invalid_argument, store).
    static Client open_store(const std::string& store_url);

    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    ~Client();

    // Checks the job as every front door does (the scheduler's enqueue policy), then stores it.
    // task is "plugin.task"; payload a JSON object. Throws Error (refused, store).
    Enqueued enqueue(const std::string& queue, const std::string& task, const std::string& payload = "{}",
                     const EnqueueOptions& options = {});
    // Checks each job as enqueue does, then stores all of them in one step of the store (one
    // transaction, one round trip), or none: much cheaper than one enqueue per job. An Enqueued
    // per job, in order. At most k_max_batch jobs (invalid_argument beyond). A refused job
    // throws Error (refused) whose message names it from 0 ("job 3: ..."); nothing is stored.
    std::vector<Enqueued> enqueue_batch(const std::vector<NewJob>& jobs);

    // The job as it is now, or nullopt when there is none of that id.
    std::optional<Job> get(std::int64_t id);

    // The job with its attempts as JSON text in the one job shape every front door prints
    // (docs/api.md: the HTTP API, `sandhost job show --json`), or nullopt when there is none.
    std::optional<std::string> get_json(std::int64_t id);

    // Follows the job until it is final or `timeout` has passed, and returns it as it is then:
    // check is_final(job.state). Throws Error (not_found) when there is no such job.
    Job wait(std::int64_t id, std::chrono::milliseconds timeout);

    // Cancels the job. Throws Error (not_found).
    CancelResult cancel(std::int64_t id);

    // Runs a dead or cancelled job again with a fresh attempt budget; false when it is in
    // another state. Throws Error (not_found; refused when a dependency is dead or gone).
    bool retry(std::int64_t id);

    // Lets a delayed job (a delay, or a retry's backoff) run now; its attempts so far still
    // count. false when it is in another state. Throws Error (not_found).
    bool promote(std::int64_t id);

    // Deletes a completed, dead or cancelled job with its attempts (its payload, result and
    // output). false when it has not ended, or a job still to run depends on it. Throws Error
    // (not_found).
    bool remove(std::int64_t id);

    // Many jobs of a queue at once (as `sandhost jobs retry|cancel|promote`), each as retry(id),
    // cancel(id) or promote(id) would, state by state and newest first: a job that changed state meanwhile is
    // skipped, one the store refuses is named in the result. Throws Error (invalid_argument: a
    // state the action does not take; not_found: a queue neither configured nor holding jobs;
    // store).
    BulkResult retry_jobs(const std::string& queue, const BulkOptions& options = {});
    BulkResult cancel_jobs(const std::string& queue, const BulkOptions& options = {});
    BulkResult promote_jobs(const std::string& queue, const BulkOptions& options = {});

    // Every queue of the configuration (on a store URL: none) and every other one that holds
    // jobs, by name. Throws Error (store).
    std::vector<QueueStats> queues();
    // One queue. Throws Error (not_found: neither configured nor holding jobs; store).
    QueueStats queue(const std::string& name);

private:
    struct Impl;
    explicit Client(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// The library's version ("0.1.0").
const char* version();

} // namespace sandhost::client

#endif // SANDHOST_CLIENT_HPP
