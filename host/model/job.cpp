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

bool task_allowed(const std::vector<std::string>& patterns, std::string_view task)
{
    const auto dot = task.find('.');
    for (const auto& pattern : patterns) {
        if (pattern == task) return true;
        if (dot != std::string_view::npos && pattern.size() == dot + 2 && pattern.compare(dot, 2, ".*") == 0 &&
            task.compare(0, dot, pattern, 0, dot) == 0) {
            return true;
        }
    }
    return false;
}

} // namespace sandhost::model
