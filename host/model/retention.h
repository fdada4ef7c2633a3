// How many finished jobs a queue keeps, and for how long: `retention` of a queue (and
// `host.retention`, the default of every queue). Hosts apply it in the background
// (scheduler/host.h) through Store::trim.
#pragma once

#include "model/job.h"
#include "model/units.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace sandhost::model {

// The limit for the finished jobs of one state in one queue: a job goes when it was last
// updated longer than `age` ago, or when `count` newer jobs (by id) of that state are kept.
// Neither set: kept until someone purges them.
struct RetentionLimit {
    std::optional<Duration> age;
    std::optional<std::uint64_t> count;

    bool limits() const { return age.has_value() || count.has_value(); }
    bool operator==(const RetentionLimit&) const = default;
};

struct Retention {
    RetentionLimit completed;
    RetentionLimit dead;
    RetentionLimit cancelled;

    // The limit of a final state (completed, dead, cancelled); nullptr for any other state.
    const RetentionLimit* limit(JobState state) const;
    RetentionLimit* limit(JobState state) { return const_cast<RetentionLimit*>(std::as_const(*this).limit(state)); }
    bool limits() const { return completed.limits() || dead.limits() || cancelled.limits(); }
    bool operator==(const Retention&) const = default;
};

// "age 1d, count 1000" ("keep" when there is no limit): for tables.
std::string describe(const RetentionLimit& limit);
// "completed: age 1d; dead: count 100" (the states with a limit), or "keep all".
std::string describe(const Retention& retention);

// {"completed": {"age": "1d", "count": 1000}, "dead": null, "cancelled": {"count": 100}}: null
// for a state kept without limit; an absent limit is left out. For `queues --json` and the API.
std::string retention_json(const Retention& retention);

} // namespace sandhost::model
