// How jobs and queues are shown to people, queue counts as JSON for --json, and the --help and
// --json printing every command shares. A job's JSON is model/job_json.h's, the same in every
// front door.
#pragma once

#include "cli/args.h"
#include "model/retention.h"
#include "store/store.h"

#include <Poco/JSON/Object.h>

#include <map>
#include <string>
#include <vector>

namespace sandhost::cli {

std::string format_time(model::TimePoint t);  // RFC 3339 UTC with milliseconds

std::string jobs_table(const std::vector<model::Job>& jobs);
std::string job_details(const model::Job& job, const std::vector<model::AttemptRecord>& attempts);
// `retention`: the configured queues' retention; a queue not in it shows none. Latencies are
// counted at `now`.
std::string queues_table(const std::map<std::string, store::QueueCounts>& queues, model::TimePoint now,
                         const std::map<std::string, model::Retention>& retention = {});
Poco::JSON::Object::Ptr queues_to_json(const std::map<std::string, store::QueueCounts>& queues, model::TimePoint now,
                                       const std::map<std::string, model::Retention>& retention = {});

// Schedules as `sandhost schedules` shows them, from their JSON (scheduler::schedule_json).
std::string schedules_table(const Poco::JSON::Array& schedules);

std::string to_json_text(const Poco::Dynamic::Var& value);
// A command's answer as JSON on stdout, one line.
void print_json(const Poco::Dynamic::Var& value);
// A command's --help on stdout: usage, what it does, its options. Returns k_exit_ok.
int print_help(const std::string& usage, const std::string& what, const std::vector<OptionSpec>& options);

} // namespace sandhost::cli
