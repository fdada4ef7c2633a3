#include "config/loader.h"

namespace sandhost::config {
namespace {

using Kind = YamlNode::Kind;

const std::vector<std::string> k_queue_keys{"tasks", "concurrency", "global_concurrency", "prefetch",  "rate_limit",
                                            "retry", "ttl",         "max_lost",           "retention", "sandbox"};
const std::vector<std::string> k_retention_keys{"completed", "dead", "cancelled"};
const std::vector<std::string> k_retention_limit_keys{"age", "count"};
const std::vector<std::string> k_rate_limit_keys{"jobs", "per"};
const std::vector<std::string> k_retry_keys{"max_attempts", "backoff"};
const std::vector<std::string> k_backoff_keys{"type", "delay", "factor", "max", "jitter"};

using model::EnumName;
constexpr EnumName<BackoffType> k_backoff_types[] = {{"fixed", BackoffType::fixed},
                                                     {"exponential", BackoffType::exponential}};

} // namespace

void Loader::read_queues(const YamlEntry& entry)
{
    const YamlNode* map = mapping_value(entry);
    if (map == nullptr) return;
    for (const auto& queue : map->entries) {
        if (queue.key->kind != Kind::scalar) {
            report(*queue.key, "queue names must be strings, got " + describe(*queue.key));
            continue;
        }
        read_queue(queue);
    }
}

void Loader::read_queue(const YamlEntry& entry)
{
    QueueSettings queue;
    queue.name = entry.key->text;
    queue.defined_at = where(*entry.key);
    queue.sandbox = m_settings.sandbox;
    queue.retention = m_settings.host.retention;
    const std::string path = "queues." + queue.name;
    if (!is_name(queue.name)) {
        report(*entry.key, "queue name " + in_quotes(queue.name) + " may only contain letters, digits, '_' and '-'");
    }
    // A second definition is still read: its own mistakes are worth reporting in the same pass.
    bool duplicate = false;
    if (auto first = m_queues.find(queue.name); first != m_queues.end()) {
        report(*entry.key, "queue " + in_quotes(queue.name) + " is defined twice (first at " +
                               first->second.defined_at.to_string() + ")");
        duplicate = true;
    }

    const YamlNode* map = nullptr;
    if (entry.value->kind == Kind::mapping) {
        map = entry.value.get();
    } else if (entry.value->kind == Kind::null) {
        report(*entry.key, "queue " + in_quotes(queue.name) + " has no settings (it needs at least tasks:)");
    } else {
        report(*entry.value, "queue " + in_quotes(queue.name) + ": expected a mapping, got " + describe(*entry.value));
    }
    Section fields = map != nullptr ? section(*map, "in " + path, k_queue_keys) : Section{};

    if (const auto* e = fields.get("tasks")) {
        if (const YamlNode* list = sequence_value(*e)) {
            if (list->items.empty()) report(*list, "tasks: a queue must allow at least one task");
            for (const auto& item : list->items) {
                auto text = scalar_item(*item, "tasks", "plugin.task or plugin.*");
                if (!text) continue;
                auto pattern = TaskPattern::parse(*text);
                if (!pattern) {
                    report(*item, "tasks: " + pattern.error());
                    continue;
                }
                queue.tasks.push_back(pattern.value());
                m_patterns.push_back(PatternUse{pattern.value(), where(*item)});
            }
        } else if (e->value->kind == Kind::null) {
            report(*e->key, "tasks: missing value (expected a sequence of plugin.task or plugin.*)");
        }
    } else if (map != nullptr) {
        report(*entry.key, "queue " + in_quotes(queue.name) + " has no tasks: (add tasks: [plugin.task or plugin.*])");
    }
    if (const auto* e = fields.get("concurrency")) read_count_as(*e, 1, 10000, queue.concurrency);
    if (const auto* e = fields.get("prefetch")) read_count_as(*e, 0, 10000, queue.prefetch);
    if (const auto* e = fields.get("global_concurrency")) {
        std::uint32_t limit = 0;
        if (read_count_as(*e, 1, 1'000'000, limit)) queue.global_concurrency = limit;
    }
    if (const auto* e = fields.get("rate_limit")) {
        if (const YamlNode* rate = mapping_value(*e)) {
            Section r = section(*rate, "in " + path + ".rate_limit", k_rate_limit_keys);
            RateLimit limit;
            if (const auto* jobs = r.get("jobs")) {
                read_count(*jobs, 1, 1'000'000'000, limit.jobs);
            } else {
                report(*e->key, "rate_limit: missing key \"jobs\" (how many jobs may start per period)");
            }
            if (const auto* per = r.get("per")) read_duration(*per, model::Duration(1), limit.per);
            queue.rate_limit = limit;
        }
    }
    if (const auto* e = fields.get("retry")) {
        if (const YamlNode* retry = mapping_value(*e)) read_retry(*retry, path + ".retry", queue.retry);
    }
    if (const auto* e = fields.get("ttl")) {
        model::Duration ttl{};
        if (read_duration(*e, model::Duration(1), ttl)) queue.ttl = ttl;
    }
    if (const auto* e = fields.get("max_lost")) read_count_as(*e, 1, 1000, queue.max_lost);
    if (const auto* e = fields.get("retention")) {
        if (const YamlNode* retention = mapping_value(*e)) read_retention(*retention, path + ".retention", queue.retention);
    }
    if (const auto* e = fields.get("sandbox")) {
        if (const YamlNode* sandbox = mapping_value(*e)) read_sandbox(*sandbox, path + ".sandbox", queue.sandbox);
    }
    if (!duplicate) m_queues.emplace(queue.name, std::move(queue));
}

void Loader::read_retry(const YamlNode& map, const std::string& path, RetryPolicy& out)
{
    Section fields = section(map, "in " + path, k_retry_keys);
    if (const auto* e = fields.get("max_attempts")) read_count_as(*e, 1, 1000, out.max_attempts);
    const auto* backoff_entry = fields.get("backoff");
    if (backoff_entry == nullptr) return;
    const YamlNode* backoff = mapping_value(*backoff_entry);
    if (backoff == nullptr) return;
    Section b = section(*backoff, "in " + path + ".backoff", k_backoff_keys);
    Backoff& out_backoff = out.backoff;
    if (const auto* e = b.get("type")) read_enum(*e, k_backoff_types, out_backoff.type);
    bool delay_ok = true;
    bool max_ok = true;
    if (const auto* e = b.get("delay")) delay_ok = read_duration(*e, model::Duration(0), out_backoff.delay);
    if (const auto* e = b.get("factor")) read_number(*e, 1.0, 1000.0, out_backoff.factor);
    if (const auto* e = b.get("max")) max_ok = read_duration(*e, model::Duration(1), out_backoff.max);
    if (const auto* e = b.get("jitter")) read_number(*e, 0.0, 1.0, out_backoff.jitter);
    if (delay_ok && max_ok && out_backoff.max < out_backoff.delay) {
        const auto* at = b.get("max") != nullptr ? b.get("max") : b.get("delay");
        report(*at->value, "backoff: max " + model::format_duration(out_backoff.max) + " is shorter than delay " +
                               model::format_duration(out_backoff.delay));
    }
}

void Loader::read_retention(const YamlNode& map, const std::string& path, model::Retention& out)
{
    Section states = section(map, "in " + path, k_retention_keys);
    for (const auto& name : k_retention_keys) {
        const auto* e = states.get(name);
        if (e == nullptr) continue;
        const auto state = model::job_state_from_string(name);
        model::RetentionLimit& limit = *out.limit(*state);
        limit = {};
        const YamlNode* fields_map = mapping_value(*e);
        if (fields_map == nullptr) continue;
        Section fields = section(*fields_map, "in " + path + "." + name, k_retention_limit_keys);
        if (const auto* age = fields.get("age")) {
            model::Duration value{};
            if (read_duration(*age, model::Duration(0), value)) limit.age = value;
        }
        if (const auto* count = fields.get("count")) {
            std::uint64_t value = 0;
            if (read_count(*count, 0, 1'000'000'000'000, value)) limit.count = value;
        }
    }
}

} // namespace sandhost::config
