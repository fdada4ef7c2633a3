// The one JSON shape of a job, shared by every front door: `sandhost job show --json`,
// `jobs --json`, `wait --json`, `enqueue --wait --json`, the HTTP API and the client library.
// docs/api.md ("The job") describes every field.
#pragma once

#include "model/job.h"

#include <string>
#include <vector>

namespace sandhost::model {

// The job as one JSON object. Every member is present (null when it does not apply); payload
// and result are JSON values (a result that is not JSON is a string); times are RFC 3339 UTC
// with milliseconds. With `attempts`, the member "attempts" lists them (see below); without it
// (lists of jobs) the member is left out.
std::string to_json(const Job& job, const std::vector<AttemptRecord>* attempts);

// One ended attempt as a job shows it: number, attempt_id and host, then the outcome's
// members as to_json(Outcome) writes them (those that do not apply left out).
std::string to_json(const AttemptRecord& attempt);

} // namespace sandhost::model
