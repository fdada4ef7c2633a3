#include "config/loader.h"

#include "config/payload_json.h"

namespace sandhost::config {
namespace {

using Kind = YamlNode::Kind;

const std::vector<std::string> k_schedule_keys{"name", "queue", "task", "payload", "cron", "every"};

} // namespace

void Loader::read_schedules(const YamlEntry& entry)
{
    const YamlNode* list = sequence_value(entry);
    if (list == nullptr) return;
    for (std::size_t i = 0; i < list->items.size(); ++i) {
        const YamlNode& item = *list->items[i];
        if (item.kind != Kind::mapping) {
            report(item, "schedules: expected a mapping (name, queue, task, payload, cron or every), got " +
                             describe(item));
            continue;
        }
        read_schedule(item, i);
    }
}

void Loader::read_schedule(const YamlNode& map, std::size_t index)
{
    ScheduleDraft draft;
    ScheduleSettings& schedule = draft.settings;
    schedule.defined_at = where(map);
    std::string label = "schedule " + std::to_string(index + 1);
    if (const auto* name = map.find("name"); name != nullptr && name->value->kind == Kind::scalar) {
        label = "schedule " + in_quotes(name->value->text);
    }
    Section fields = section(map, "in " + label, k_schedule_keys);

    if (const auto* e = fields.get("name")) {
        if (read_string(*e, schedule.name)) {
            label = "schedule " + in_quotes(schedule.name);
            if (!is_name(schedule.name)) {
                report(*e->value, "name: schedule name " + in_quotes(schedule.name) +
                                      " may only contain letters, digits, '_' and '-'");
            } else if (auto first = m_schedule_names.find(schedule.name); first != m_schedule_names.end()) {
                report(*e->value, "schedule " + in_quotes(schedule.name) + " is defined twice (first at " +
                                      first->second.to_string() + ")");
            } else {
                m_schedule_names.emplace(schedule.name, where(*e->value));
            }
        }
    } else {
        report(map, label + " has no name:");
    }
    if (const auto* e = fields.get("queue")) {
        if (read_string(*e, schedule.queue)) {
            draft.has_queue = true;
            draft.queue_at = where(*e->value);
        }
    } else {
        report(map, label + " has no queue:");
    }
    if (const auto* e = fields.get("task")) {
        if (auto text = scalar(*e, "plugin.task")) {
            auto task = TaskRef::parse(*text);
            if (task) {
                schedule.task = task.value();
                draft.has_task = true;
                draft.task_at = where(*e->value);
            } else {
                report(*e->value, "task: " + task.error());
            }
        }
    } else {
        report(map, label + " has no task:");
    }
    if (const auto* e = fields.get("payload")) {
        std::string json;
        if (payload_to_json(*this, *e->value, json)) schedule.payload_json = std::move(json);
    }
    const auto* cron = fields.get("cron");
    const auto* every = fields.get("every");
    if (cron != nullptr && every != nullptr) {
        const YamlEntry* second = cron->key->line > every->key->line ||
                                          (cron->key->line == every->key->line && cron->key->column > every->key->column)
                                      ? cron
                                      : every;
        report(*second->key, label + " has both cron: and every:; keep one");
    } else if (cron != nullptr) {
        if (auto text = scalar(*cron, "a cron expression")) {
            auto expression = CronExpression::parse(*text);
            if (expression) {
                schedule.trigger = expression.value();
            } else {
                report(*cron->value, "cron: " + expression.error());
            }
        }
    } else if (every != nullptr) {
        Every interval;
        if (read_duration(*every, model::Duration(1), interval.interval)) schedule.trigger = interval;
    } else {
        report(map, label + " has neither cron: nor every:");
    }
    m_schedules.push_back(std::move(draft));
}

} // namespace sandhost::config
