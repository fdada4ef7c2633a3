#include "scheduler/schedule_clock.h"

#include "model/json_text.h"
#include "model/text.h"
#include "model/units.h"
#include "os/time_format.h"

namespace sandhost::scheduler {
namespace {

std::int64_t to_ms(model::TimePoint t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count(); }

} // namespace

std::optional<model::TimePoint> due_time(const config::ScheduleSettings& schedule, model::TimePoint last, model::TimePoint now)
{
    if (const auto* every = std::get_if<config::Every>(&schedule.trigger)) {
        const auto interval = every->interval.count();
        if (interval <= 0) return std::nullopt;
        const model::TimePoint slot(std::chrono::milliseconds(to_ms(now) / interval * interval));
        return slot > last ? std::optional(slot) : std::nullopt;
    }
    const auto& cron = std::get<config::CronExpression>(schedule.trigger);
    auto next = cron.next_after(last);
    if (!next || *next > now) return std::nullopt;
    model::TimePoint latest = *next;
    // Only the most recent missed period fires: a host that was down does not burst.
    for (int step = 0; step < 1'000'000; ++step) {
        auto after = cron.next_after(latest);
        if (!after || *after > now) break;
        latest = *after;
    }
    return latest;
}

std::optional<model::TimePoint> next_fire_time(const config::ScheduleSettings& schedule, model::TimePoint last)
{
    if (const auto* every = std::get_if<config::Every>(&schedule.trigger)) {
        const auto interval = every->interval.count();
        if (interval <= 0) return std::nullopt;
        // The periods start at multiples of the interval (see due_time): the first one after last.
        return model::TimePoint(std::chrono::milliseconds((to_ms(last) / interval + 1) * interval));
    }
    const auto next = std::get<config::CronExpression>(schedule.trigger).next_after(last);
    if (!next) return std::nullopt;
    return model::TimePoint(*next);
}

std::string schedule_json(const config::ScheduleSettings& schedule, std::optional<model::TimePoint> last, model::TimePoint now)
{
    const auto time = [](const std::optional<model::TimePoint>& t) { return t ? model::json_string(os::format_utc(*t)) : "null"; };
    model::JsonObject json;
    json.text("name", schedule.name).text("queue", schedule.queue).text("task", schedule.task.to_string());
    json.raw("payload", model::json_value_or_string(schedule.payload_json));
    if (const auto* every = std::get_if<config::Every>(&schedule.trigger)) {
        json.raw("trigger", model::JsonObject().text("every", model::format_duration(every->interval)).str());
    } else {
        json.raw("trigger", model::JsonObject().text("cron", std::get<config::CronExpression>(schedule.trigger).text()).str());
    }
    json.raw("last_fire", time(last)).raw("next_fire", time(next_fire_time(schedule, last.value_or(now))));
    return json.str();
}

} // namespace sandhost::scheduler
