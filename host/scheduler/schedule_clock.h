// When schedules fire: the period a host fires now, and the next fire time the API and
// `sandhost schedules` show. Pure functions of a schedule's trigger and the last fire time the
// store recorded.
#pragma once

#include "config/settings.h"
#include "model/job.h"

#include <optional>
#include <string>

namespace sandhost::scheduler {

// The latest trigger time in (last, now], or nullopt. Only the most recent missed period
// counts: a host that was down does not fire every period it missed.
std::optional<model::TimePoint> due_time(const config::ScheduleSettings& schedule, model::TimePoint last, model::TimePoint now);

// The first trigger time after `last` (due at once when it is not after now), or nullopt when
// the trigger never fires again (a cron date that does not exist).
std::optional<model::TimePoint> next_fire_time(const config::ScheduleSettings& schedule, model::TimePoint last);

// The schedule as JSON, as GET /api/v1/schedules and `sandhost schedules --json` show it:
// {"name", "queue", "task", "payload", "trigger": {"every": DUR} or {"cron": TEXT}, "last_fire",
// "next_fire"}, the times RFC 3339 or null. `last`: the store's last fire time; before any host
// saw the schedule its periods count from `now`.
std::string schedule_json(const config::ScheduleSettings& schedule, std::optional<model::TimePoint> last, model::TimePoint now);

} // namespace sandhost::scheduler
