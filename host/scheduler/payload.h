// What a task receives as its payload.
#pragma once

#include "store/store.h"

#include <map>
#include <string>

namespace sandhost::scheduler {

// The key under which a dependent job's payload carries its dependencies' results.
inline constexpr const char* k_dependencies_key = "_dependencies";

// The job's payload with its dependencies' results added as
//   "_dependencies": {"<id>": <result>, ...}
// each result embedded as JSON when it is JSON, else as a JSON string. The payload of a job
// with dependencies must be a JSON object (enqueue refuses anything else); any key of that
// name in it is replaced.
std::string payload_with_dependencies(const std::string& payload, const std::map<model::JobId, std::string>& results);

} // namespace sandhost::scheduler
