// The Redis store's values as the scripts keep them (hashes of short field names) and as the
// contract hands them out. Each reader throws ReplyError on a value it cannot read. Internal to
// the Redis store.
#pragma once

#include "store/redis_connection.h"
#include "store/store.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sandhost::store::redis {

std::int64_t to_millis(model::TimePoint time);
model::TimePoint from_millis(std::int64_t millis);

// A hash as HGETALL returns it (field, value, field, value, ...).
using Hash = std::map<std::string, std::string>;
Hash hash_of(const Value& flat);

// A job from its hash (PREFIXjob:ID, see lib_jobs.lua for the fields).
model::Job job_from_hash(const Hash& hash);
// A claim as claim.lua returns it: {attempt id, number, the job's hash}.
Claim claim_from_reply(const Value& reply);
// What finish and recover return: the state applied, or nil when the lease was stale.
std::optional<model::JobState> applied_state(const Value& reply);
// A job's attempts from PREFIXatt:ID (see lib_attempt.lua) and the job's result, by number.
std::vector<model::AttemptRecord> attempts_from_hash(model::JobId job, const Hash& hash, const std::optional<std::string>& job_result);
// A host record from its hash (PREFIXhost:NAME).
model::HostRecord host_from_hash(const std::string& name, const Hash& hash);
// An entry of the event stream: {"0-ID", {field, value, ...}}.
Event event_from_entry(const Value& entry);

} // namespace sandhost::store::redis
