#include "store/store.h"

#include <array>
#include <exception>
#include <utility>

namespace sandhost::store {
namespace {

constexpr std::array<std::pair<JobState, const char*>, 7> k_states{{
    {JobState::waiting, "waiting"},
    {JobState::delayed, "delayed"},
    {JobState::blocked, "blocked"},
    {JobState::active, "active"},
    {JobState::completed, "completed"},
    {JobState::dead, "dead"},
    {JobState::cancelled, "cancelled"},
}};

} // namespace

Store::FinishAndClaim Store::finish_and_claim(const AttemptRecord& attempt, const Transition& transition, TimePoint now,
                                              const std::vector<QueueAllowance>& queues, const std::string& holder, Duration lease)
{
    FinishAndClaim result;
    result.finished = finish(attempt, transition, now);
    try {
        result.claim = claim(queues, holder, lease, now);
    } catch (const std::exception& e) {
        result.claim_error = e.what();
    }
    return result;
}

const char* to_string(JobState state)
{
    for (const auto& [s, name] : k_states) {
        if (s == state) return name;
    }
    return "unknown";
}

std::optional<JobState> job_state_from_string(const std::string& text)
{
    for (const auto& [s, name] : k_states) {
        if (text == name) return s;
    }
    return std::nullopt;
}

bool is_final(JobState state)
{
    return state == JobState::completed || state == JobState::dead || state == JobState::cancelled;
}

const std::vector<JobState>& all_job_states()
{
    static const std::vector<JobState> states = [] {
        std::vector<JobState> out;
        for (const auto& entry : k_states) out.push_back(entry.first);
        return out;
    }();
    return states;
}

} // namespace sandhost::store
