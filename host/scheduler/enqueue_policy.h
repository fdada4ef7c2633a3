// The enqueue policy: what every front door (the CLI, schedules, the HTTP API, the client
// library) checks before a job is stored, in one place. It runs no plugin code: task names are
// checked against the plugin catalogs the hosts published to the store.
#pragma once

#include "config/settings.h"
#include "model/host_record.h"
#include "model/job.h"
#include "store/store.h"

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sandhost::scheduler {

// A job as a front door asks for it, before any check.
struct EnqueueRequest {
    std::string queue;
    std::string task;                 // "plugin.task"
    std::string payload = "{}";       // JSON text
    int priority = 0;
    std::optional<model::Duration> delay;
    std::optional<model::Duration> timeout;
    std::optional<std::uint32_t> max_attempts;
    std::vector<model::JobId> depends_on;
    std::string schedule;             // the schedule that fires it, if any
    // The caller's idempotency key: while an unfinished job of the queue has it, enqueuing
    // again returns that job (Enqueued::created false).
    std::optional<std::string> key;
};

// The job `schedule` enqueues when it fires, or when it is run by hand: its queue, task and
// payload, with its name on the job.
EnqueueRequest schedule_request(const config::ScheduleSettings& schedule);
// The schedule `name` of `settings`. Throws std::invalid_argument saying there is none, with
// the likely name.
const config::ScheduleSettings& schedule_named(const config::Settings& settings, const std::string& name);

// The longest key enqueue takes, in bytes.
inline constexpr std::size_t k_max_key_bytes = 256;

// Why a request is refused. The message says what is wrong and, where it can, what would be
// right (the queues there are, a task's likely spelling).
class EnqueueError : public std::runtime_error {
public:
    enum class Kind {
        unknown_queue,       // no queue of that name in the configuration
        bad_task,            // not "plugin.task"
        task_not_allowed,    // the queue's `tasks` do not allow it
        unknown_plugin,      // no published catalog has the plugin
        unknown_task,        // the plugin has no such task
        bad_payload,         // not a JSON object
        payload_too_large,   // over host.max_payload
        bad_dependency,      // a dependency that does not exist, or options that cannot go together
        bad_key,             // empty, longer than k_max_key_bytes, not UTF-8, or with control characters
        too_many_jobs,       // a batch of more than store::k_max_enqueue_batch
    };
    EnqueueError(Kind kind, const std::string& message) : std::runtime_error(message), m_kind(kind) {}
    Kind kind() const noexcept { return m_kind; }

private:
    Kind m_kind;
};

// A request that passed: the job to store, and what a person should know (e.g. that the task
// could not be checked because no host has published its plugins yet).
struct CheckedJob {
    model::NewJob job;
    std::vector<std::string> notes;
};

// Checks `request` against the configuration and the catalogs of `hosts` (any host that ever
// published one, stopped or not): the queue exists; the task is "plugin.task" and the queue
// allows it; a published catalog has that plugin and task (when none is published the job is
// accepted with a note); the payload is a JSON object; and fills in what the queue decides
// (ttl). Throws EnqueueError. Pure: no I/O.
CheckedJob check_enqueue(const config::Settings& settings, const std::vector<model::HostRecord>& hosts, const EnqueueRequest& request);

// The same checks for a front door that has no configuration, only a store (the client library
// opened on a store URL): the queue is one that a host published (model::ServedQueue), its
// tasks those any publishing host lets it run, its ttl the one last published. A queue no host
// published is unknown_queue.
CheckedJob check_enqueue(const std::vector<model::HostRecord>& hosts, const EnqueueRequest& request);

struct Enqueued {
    model::JobId id = 0;
    bool created = true;  // false: an unfinished job with the request's key was returned
    std::vector<std::string> notes;
};

// check_enqueue with the store's host records, then stores the job, or finds the unfinished
// job with the request's key. An unknown dependency is an EnqueueError (bad_dependency) and
// stores nothing; failures of the store throw StoreError.
Enqueued enqueue(store::Store& store, const config::Settings& settings, const EnqueueRequest& request, model::TimePoint now);
// The same against the queues the store's hosts published (see check_enqueue above).
Enqueued enqueue(store::Store& store, const EnqueueRequest& request, model::TimePoint now);

// enqueue for each of `requests` (at most store::k_max_enqueue_batch), checked first, then stored
// in one step of the store: all of them, or none. A refused request throws EnqueueError whose
// message starts "job N: " (N counting from 0) and stores nothing. An Enqueued per request, in
// order; notes that every job shares are given once, on the first.
std::vector<Enqueued> enqueue_batch(store::Store& store, const config::Settings& settings, const std::vector<EnqueueRequest>& requests,
                                    model::TimePoint now);
// The same against the queues the store's hosts published.
std::vector<Enqueued> enqueue_batch(store::Store& store, const std::vector<EnqueueRequest>& requests, model::TimePoint now);

} // namespace sandhost::scheduler
