// Retrying, cancelling or promoting many jobs of a queue at once, for every front door
// (`sandhost jobs retry|cancel|promote`, POST /api/v1/queues/{name}/retry|cancel|promote) and
// every store. Each job is changed exactly as `sandhost job retry|cancel|promote ID` would do
// it, up to Store::k_max_action_batch of them in one store step: a job that changed state
// meanwhile is left alone, one the store refuses (a dead dependency, a key taken again) is
// named with why while the others go on, and no job is ever half changed.
#pragma once

#include "config/settings.h"
#include "model/job.h"
#include "store/store.h"

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sandhost::scheduler {

struct BulkSelection {
    std::string queue;
    std::vector<model::JobState> states;  // the jobs in any of these states; see is_retry_state and the others
    std::optional<std::string> task;      // "plugin.task": only jobs of this task
    // Only jobs that last changed at or after this (a retry: that died since; a cancel: that
    // were enqueued or changed since): the jobs of an outage, not older ones.
    std::optional<model::TimePoint> changed_since;
    std::size_t limit = 0;                // change at most this many jobs; 0: every one that matches
    bool dry_run = false;                 // count what would change, change nothing
};

struct BulkOutcome {
    std::size_t changed = 0;    // retried, cancelled at once or promoted (a dry run: would be)
    std::size_t requested = 0;  // cancel: running jobs asked to stop; each ends cancelled once its host stops it
    std::size_t skipped = 0;    // in another state by the time it was reached (finished, retried, purged meanwhile)
    // retry: the jobs the store refused, with why (the first k_max_named_refusals of them).
    std::vector<std::pair<model::JobId, std::string>> refused;
    std::size_t refused_count = 0;
    bool more = false;  // the limit was reached and more jobs match
};

inline constexpr std::size_t k_max_named_refusals = 100;

// The states a bulk retry takes (dead, cancelled) and a bulk cancel takes (waiting, delayed,
// blocked, active), and the ones each takes when none is given: dead; waiting, delayed and
// blocked (a running job is stopped only when `active` is asked for by name).
bool is_retry_state(model::JobState state);
bool is_cancel_state(model::JobState state);
// A promotion takes delayed jobs only (their delay or backoff ends now).
bool is_promote_state(model::JobState state);
std::vector<model::JobState> default_retry_states();
std::vector<model::JobState> default_cancel_states();

// Why `queue` is not one a bulk action may take, or nullopt when it is: a queue of the
// configuration, or one that still holds jobs in the store (a queue since removed from the
// configuration). The message names the likely queue.
std::optional<std::string> unknown_queue(store::Store& store, const config::Settings& settings, const std::string& queue);

// State by state in the order given, newest first within each, in steps of at most
// store::k_max_action_batch jobs. Throws
// std::invalid_argument for a selection with no queue or a state the action does not take;
// store failures propagate (what was changed before them stays changed, as after as many single
// calls).
BulkOutcome retry_jobs(store::Store& store, const BulkSelection& selection, model::TimePoint now);
BulkOutcome cancel_jobs(store::Store& store, const BulkSelection& selection, model::TimePoint now);
BulkOutcome promote_jobs(store::Store& store, const BulkSelection& selection, model::TimePoint now);

// The three actions by name, for the front doors that take any of them.
enum class BulkAction { retry, cancel, promote };
bool takes(BulkAction action, model::JobState state);
std::vector<model::JobState> default_states(BulkAction action);
const char* taken_states(BulkAction action);  // "dead or cancelled", for errors
BulkOutcome act_on_jobs(BulkAction action, store::Store& store, const BulkSelection& selection, model::TimePoint now);

} // namespace sandhost::scheduler
