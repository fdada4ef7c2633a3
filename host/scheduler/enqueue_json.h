// A job to enqueue written as JSON: one element of what POST /api/v1/jobs and
// POST /api/v1/jobs/batch take, and one line of `sandhost enqueue --jobs`.
#pragma once

#include "scheduler/enqueue_policy.h"

#include <stdexcept>
#include <string>
#include <string_view>

namespace sandhost::scheduler {

// Why a text is not a job: not JSON at all (syntax), or JSON that is not a job object.
class BadJobJson : public std::runtime_error {
public:
    BadJobJson(bool syntax, const std::string& message) : std::runtime_error(message), m_syntax(syntax) {}
    bool syntax() const { return m_syntax; }

private:
    bool m_syntax;
};

// The members a job object may have.
const std::vector<std::string>& job_json_members();

// The request a JSON object asks for: queue and task (strings) and, optionally, payload (any
// JSON, taken as written), priority (a whole number), delay and timeout (durations such as
// "5s"), max_attempts (1 to 1,000,000), depends_on (an array of job ids) and key (a string).
// Throws BadJobJson naming the first member that is wrong, with a likely spelling for an
// unknown one. What the enqueue policy checks (the queue exists, the task is allowed) is left
// to it.
EnqueueRequest enqueue_request_from_json(std::string_view text);

} // namespace sandhost::scheduler
