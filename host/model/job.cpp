#include "model/job.h"

namespace sandhost::model {

const char* to_string(JobState state) { return name_in(k_job_state_names, state); }

std::optional<JobState> job_state_from_string(std::string_view text) { return value_in(k_job_state_names, text); }

bool is_final(JobState state)
{
    return state == JobState::completed || state == JobState::dead || state == JobState::cancelled;
}

const std::vector<JobState>& all_job_states()
{
    static const std::vector<JobState> states = [] {
        std::vector<JobState> out;
        for (const auto& entry : k_job_state_names) out.push_back(entry.value);
        return out;
    }();
    return states;
}

} // namespace sandhost::model
