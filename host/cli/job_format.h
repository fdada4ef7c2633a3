// How jobs and queues are shown: JSON for --json, short tables for people.
#pragma once

#include "store/store.h"

#include <Poco/JSON/Object.h>

#include <map>
#include <string>
#include <vector>

namespace sandhost::cli {

std::string format_time(model::TimePoint t);  // RFC 3339 UTC with milliseconds

// The job as a JSON object. With attempts given, "attempts" is the array of attempt records
// (each the outcome's fields as `exec --json` prints them, plus number, attempt_id and host);
// without, "attempts" is the count.
Poco::JSON::Object::Ptr job_to_json(const model::Job& job, const std::vector<model::AttemptRecord>* attempts = nullptr);

std::string jobs_table(const std::vector<model::Job>& jobs);
std::string job_details(const model::Job& job, const std::vector<model::AttemptRecord>& attempts);
std::string queues_table(const std::map<std::string, store::QueueCounts>& queues);
Poco::JSON::Object::Ptr queues_to_json(const std::map<std::string, store::QueueCounts>& queues);

std::string to_json_text(const Poco::Dynamic::Var& value);

} // namespace sandhost::cli
