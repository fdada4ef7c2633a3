#include "scheduler/bulk_actions.h"

#include "config/suggest.h"

#include <functional>
#include <stdexcept>

namespace sandhost::scheduler {
namespace {

enum class Step { changed, requested, skipped, refused };

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

// Walks the selected jobs state by state, newest first, calling `act` on each until the limit.
// The ids of a state are read at once (ids only: a job's payload may be large); a job that
// changed since is what `act` finds and skips.
BulkOutcome walk(store::Store& store, const BulkSelection& selection, const std::function<Step(model::JobId)>& act)
{
    BulkOutcome outcome;
    for (model::JobState state : selection.states) {
        for (model::JobId id : store.job_ids(selection.queue, state, selection.task, selection.changed_since)) {
            if (selection.limit && outcome.changed + outcome.requested >= selection.limit) {
                outcome.more = true;
                return outcome;
            }
            switch (selection.dry_run ? (state == model::JobState::active ? Step::requested : Step::changed) : act(id)) {
            case Step::changed: ++outcome.changed; break;
            case Step::requested: ++outcome.requested; break;
            case Step::skipped: ++outcome.skipped; break;
            case Step::refused: ++outcome.refused_count; break;
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
    std::vector<std::pair<model::JobId, std::string>> refused;
    auto outcome = walk(store, selection, [&](model::JobId id) {
        try {
            return store.retry(id, now) ? Step::changed : Step::skipped;
        } catch (const store::StoreRequestError& e) {
            // Purged since it was listed: nothing to retry. Otherwise the store says why not.
            if (!store.get(id)) return Step::skipped;
            if (refused.size() < k_max_named_refusals) refused.emplace_back(id, e.what());
            return Step::refused;
        }
    });
    outcome.refused = std::move(refused);
    return outcome;
}

BulkOutcome cancel_jobs(store::Store& store, const BulkSelection& selection, model::TimePoint now)
{
    check(selection, is_cancel_state, "cancelling jobs", "waiting, delayed, blocked or active");
    return walk(store, selection, [&](model::JobId id) {
        switch (store.cancel(id, now)) {
        case store::CancelResult::cancelled: return Step::changed;
        case store::CancelResult::requested: return Step::requested;
        case store::CancelResult::already_final:
        case store::CancelResult::not_found: break;
        }
        return Step::skipped;
    });
}

BulkOutcome promote_jobs(store::Store& store, const BulkSelection& selection, model::TimePoint now)
{
    check(selection, is_promote_state, "promoting jobs", "delayed");
    return walk(store, selection, [&](model::JobId id) {
        try {
            return store.promote(id, now) ? Step::changed : Step::skipped;
        } catch (const store::StoreRequestError&) {
            return Step::skipped;  // purged since it was listed
        }
    });
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
