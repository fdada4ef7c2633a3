#include "scheduler/bulk_actions.h"

#include "config/suggest.h"

#include <algorithm>
#include <stdexcept>

namespace sandhost::scheduler {
namespace {

void check(const BulkSelection& selection, bool (*takes)(model::JobState), const char* action, const char* states)
{
    if (selection.queue.empty()) throw std::invalid_argument(std::string(action) + " needs a queue");
    if (selection.states.empty()) throw std::invalid_argument(std::string(action) + " needs at least one state");
    for (model::JobState state : selection.states) {
        if (!takes(state)) {
            throw std::invalid_argument(std::string(action) + " takes jobs that are " + states + ", not " + model::to_string(state));
        }
    }
}

// Walks the selected jobs state by state, newest first, changing them up to k_max_action_batch
// in one store step (Store::change_jobs), until the limit. The ids of a state are read at once
// (ids only: a job's payload may be large); a job that changed since is what the step finds
// and skips.
BulkOutcome walk(store::Store& store, const BulkSelection& selection, store::JobAction action, model::TimePoint now)
{
    BulkOutcome outcome;
    auto room = [&]() -> std::size_t {
        if (!selection.limit) return store::k_max_action_batch;
        return std::min(store::k_max_action_batch, selection.limit - (outcome.changed + outcome.requested));
    };
    for (model::JobState state : selection.states) {
        const auto ids = store.job_ids(selection.queue, state, selection.task, selection.changed_since);
        for (std::size_t at = 0; at < ids.size();) {
            if (room() == 0) {
                outcome.more = true;
                return outcome;
            }
            const std::vector<model::JobId> step(ids.begin() + static_cast<std::ptrdiff_t>(at),
                                                 ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), at + room())));
            at += step.size();
            if (selection.dry_run) {
                (state == model::JobState::active ? outcome.requested : outcome.changed) += step.size();
                continue;
            }
            const auto results = store.change_jobs(action, step, now);
            for (std::size_t i = 0; i < results.size(); ++i) {
                switch (results[i].kind) {
                case store::ActionResult::Kind::changed: ++outcome.changed; break;
                case store::ActionResult::Kind::requested: ++outcome.requested; break;
                case store::ActionResult::Kind::skipped: ++outcome.skipped; break;
                case store::ActionResult::Kind::refused:
                    ++outcome.refused_count;
                    if (outcome.refused.size() < k_max_named_refusals) outcome.refused.emplace_back(step[i], results[i].why);
                    break;
                }
            }
        }
    }
    return outcome;
}

} // namespace

bool is_retry_state(model::JobState state) { return state == model::JobState::dead || state == model::JobState::cancelled; }

bool is_cancel_state(model::JobState state)
{
    return state == model::JobState::waiting || state == model::JobState::delayed || state == model::JobState::blocked ||
           state == model::JobState::active;
}

bool is_promote_state(model::JobState state) { return state == model::JobState::delayed; }

std::vector<model::JobState> default_retry_states() { return {model::JobState::dead}; }

std::vector<model::JobState> default_cancel_states()
{
    return {model::JobState::waiting, model::JobState::delayed, model::JobState::blocked};
}

std::optional<std::string> unknown_queue(store::Store& store, const config::Settings& settings, const std::string& queue)
{
    if (settings.find_queue(queue)) return std::nullopt;
    std::vector<std::string> names;
    for (const auto& configured : settings.queues) names.push_back(configured.name);
    for (const auto& [name, counts] : store.queue_counts({})) {
        if (name == queue) return std::nullopt;
        if (!settings.find_queue(name)) names.push_back(name);
    }
    return "unknown queue '" + queue + "'" + config::suggestion(queue, names, "queues");
}

BulkOutcome retry_jobs(store::Store& store, const BulkSelection& selection, model::TimePoint now)
{
    check(selection, is_retry_state, "retrying jobs", "dead or cancelled");
    return walk(store, selection, store::JobAction::retry, now);
}

BulkOutcome cancel_jobs(store::Store& store, const BulkSelection& selection, model::TimePoint now)
{
    check(selection, is_cancel_state, "cancelling jobs", "waiting, delayed, blocked or active");
    return walk(store, selection, store::JobAction::cancel, now);
}

BulkOutcome promote_jobs(store::Store& store, const BulkSelection& selection, model::TimePoint now)
{
    check(selection, is_promote_state, "promoting jobs", "delayed");
    return walk(store, selection, store::JobAction::promote, now);
}

bool takes(BulkAction action, model::JobState state)
{
    switch (action) {
    case BulkAction::retry: return is_retry_state(state);
    case BulkAction::cancel: return is_cancel_state(state);
    case BulkAction::promote: return is_promote_state(state);
    }
    return false;
}

std::vector<model::JobState> default_states(BulkAction action)
{
    switch (action) {
    case BulkAction::retry: return default_retry_states();
    case BulkAction::cancel: return default_cancel_states();
    case BulkAction::promote: return {model::JobState::delayed};
    }
    return {};
}

const char* taken_states(BulkAction action)
{
    switch (action) {
    case BulkAction::retry: return "dead or cancelled";
    case BulkAction::cancel: return "waiting, delayed, blocked or active";
    case BulkAction::promote: return "delayed";
    }
    return "";
}

BulkOutcome act_on_jobs(BulkAction action, store::Store& store, const BulkSelection& selection, model::TimePoint now)
{
    switch (action) {
    case BulkAction::retry: return retry_jobs(store, selection, now);
    case BulkAction::cancel: return cancel_jobs(store, selection, now);
    case BulkAction::promote: return promote_jobs(store, selection, now);
    }
    return {};
}

} // namespace sandhost::scheduler
