#include "scheduler/enqueue_policy.h"

#include "config/suggest.h"
#include "model/json_text.h"
#include "model/text.h"
#include "model/units.h"
#include "scheduler/payload.h"

#include <algorithm>
#include <set>

namespace sandhost::scheduler {
namespace {

using Kind = EnqueueError::Kind;

// What a request is checked against: a queue of the configuration, or one that hosts
// published to the store.
struct QueueRule {
    std::string name;
    std::vector<std::string> tasks;  // "plugin.task" or "plugin.*"
    std::optional<model::Duration> ttl;
    std::uint64_t max_payload = config::HostSettings{}.max_payload;  // the configuration's, or the default
};

QueueRule rule_of(const config::QueueSettings& queue, std::uint64_t max_payload)
{
    QueueRule rule{queue.name, {}, queue.ttl, max_payload};
    for (const auto& pattern : queue.tasks) rule.tasks.push_back(pattern.to_string());
    return rule;
}

// The queue as the hosts that published it serve it: any of them may run the tasks one of them
// allows; the ttl is the one most recently published.
std::optional<QueueRule> published_rule(const std::vector<model::HostRecord>& hosts, const std::string& name)
{
    std::optional<QueueRule> rule;
    model::TimePoint ttl_at{};
    for (const auto& host : hosts) {
        for (const auto& served : host.queues) {
            if (served.name != name) continue;
            if (!rule) rule = QueueRule{name, {}, std::nullopt};
            rule->tasks.insert(rule->tasks.end(), served.tasks.begin(), served.tasks.end());
            if (!rule->ttl || host.catalog_at >= ttl_at) {
                rule->ttl = served.ttl;
                ttl_at = host.catalog_at;
            }
        }
    }
    return rule;
}

// What a valid JSON text is, from its first character.
const char* json_kind(std::string_view text)
{
    const auto first = text.find_first_not_of(" \t\r\n");
    switch (first == std::string_view::npos ? '\0' : text[first]) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
    }
}

void check_payload(const EnqueueRequest& request, std::uint64_t max_payload)
{
    if (request.payload.size() > max_payload) {
        throw EnqueueError(Kind::payload_too_large, "the payload is " + std::to_string(request.payload.size()) +
                                                        " bytes, more than enqueue accepts (host.max_payload: " +
                                                        model::format_size(max_payload) + ")");
    }
    // The same checker and wording as the HTTP API's bad_json.
    if (const auto error = model::json_syntax_error(request.payload)) {
        throw EnqueueError(Kind::bad_payload, "the payload is not valid JSON: " + error->to_string());
    }
    const std::string kind = json_kind(request.payload);
    if (kind != "an object") {
        std::string message = "the payload must be a JSON object, not " + kind;
        if (!request.depends_on.empty()) message += std::string(" (its dependencies' results are added to it under \"") + k_dependencies_key + "\")";
        throw EnqueueError(Kind::bad_payload, message);
    }
}

// Throws unless a published catalog has the task; a note when none can tell.
void check_against_catalogs(const config::TaskRef& ref, const std::vector<model::HostRecord>& hosts, std::vector<std::string>& notes)
{
    std::vector<std::string> plugins;
    std::vector<std::string> tasks;
    bool any_catalog = false;
    bool plugin_seen = false;
    for (const auto& host : hosts) {
        if (host.catalog_at.time_since_epoch().count() == 0) continue;
        any_catalog = true;
        for (const auto& plugin : host.catalog.plugins) {
            if (!plugin.ok()) continue;
            plugins.push_back(plugin.name);
            if (plugin.name != ref.plugin) continue;
            plugin_seen = true;
            if (plugin.has_task(ref.task)) return;
            for (const auto& task : plugin.tasks) tasks.push_back(task.name);
        }
    }
    if (!any_catalog) {
        notes.push_back("no host has published its plugins to this store yet: the task " + ref.to_string() + " was not checked");
        return;
    }
    if (!plugin_seen) {
        throw EnqueueError(Kind::unknown_plugin, "no host on this store has a plugin named '" + ref.plugin + "'" +
                                                     config::suggestion(ref.plugin, plugins, "plugins"));
    }
    throw EnqueueError(Kind::unknown_task,
                       "plugin " + ref.plugin + " has no task '" + ref.task + "'" + config::suggestion(ref.task, tasks, "its tasks"));
}

void check_key(const std::string& key)
{
    if (key.empty()) throw EnqueueError(Kind::bad_key, "the key must not be empty");
    if (key.size() > k_max_key_bytes) {
        throw EnqueueError(Kind::bad_key, "the key is " + std::to_string(key.size()) + " bytes long; at most " +
                                              std::to_string(k_max_key_bytes) + " are allowed");
    }
    if (!model::is_valid_utf8(key)) throw EnqueueError(Kind::bad_key, "the key is not valid UTF-8");
    for (const char c : key) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) throw EnqueueError(Kind::bad_key, "the key must not hold control characters");
    }
}

// The checks every front door shares, once the queue is known.
CheckedJob check_against(const QueueRule& queue, const std::vector<model::HostRecord>& hosts, const EnqueueRequest& request)
{
    auto ref = config::TaskRef::parse(request.task);
    if (!ref) throw EnqueueError(Kind::bad_task, "task: " + ref.error());
    if (!model::task_allowed(queue.tasks, ref.value().to_string())) {
        throw EnqueueError(Kind::task_not_allowed,
                           "queue '" + queue.name + "' may not run " + ref.value().to_string() + " (it runs " + config::join(queue.tasks) + ")");
    }
    CheckedJob checked;
    check_against_catalogs(ref.value(), hosts, checked.notes);
    check_payload(request, queue.max_payload);
    if (request.key) check_key(*request.key);
    if (request.max_attempts && *request.max_attempts == 0) throw EnqueueError(Kind::bad_dependency, "max_attempts must be at least 1");

    model::NewJob& job = checked.job;
    job.queue = queue.name;
    job.task = ref.value().to_string();
    job.payload = request.payload;
    job.priority = request.priority;
    job.delay = request.delay;
    job.timeout = request.timeout;
    job.max_attempts = request.max_attempts;
    job.ttl = queue.ttl;
    job.depends_on = request.depends_on;
    job.schedule = request.schedule;
    job.key = request.key;
    return checked;
}

Enqueued store_checked(store::Store& store, CheckedJob checked, model::TimePoint now)
{
    Enqueued enqueued;
    try {
        const auto stored = store.enqueue_job(checked.job, now);
        enqueued.id = stored.id;
        enqueued.created = stored.created;
    } catch (const store::StoreRequestError& e) {
        throw EnqueueError(Kind::bad_dependency, e.what());
    }
    enqueued.notes = std::move(checked.notes);
    return enqueued;
}

// Checks every request with `check`, then stores them in one step.
template <typename Check>
std::vector<Enqueued> store_batch(store::Store& store, const std::vector<EnqueueRequest>& requests, model::TimePoint now, Check check)
{
    if (requests.size() > store::k_max_enqueue_batch) {
        throw EnqueueError(Kind::too_many_jobs, std::to_string(requests.size()) + " jobs in one batch: at most " +
                                                     std::to_string(store::k_max_enqueue_batch) + " are taken at once; nothing was enqueued");
    }
    std::vector<model::NewJob> jobs;
    std::vector<Enqueued> enqueued(requests.size());
    std::set<std::string> said;  // the same note for every job of a batch (no catalog published yet) is said once
    jobs.reserve(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
        try {
            CheckedJob checked = check(requests[i]);
            jobs.push_back(std::move(checked.job));
            for (auto& note : checked.notes) {
                if (said.insert(note).second) enqueued[i].notes.push_back(std::move(note));
            }
        } catch (const EnqueueError& e) {
            throw EnqueueError(e.kind(), "job " + std::to_string(i) + ": " + e.what() + "; nothing was enqueued");
        }
    }
    std::vector<store::EnqueueResult> stored;
    try {
        stored = store.enqueue_jobs(jobs, now);
    } catch (const store::StoreRequestError& e) {
        throw EnqueueError(Kind::bad_dependency, e.what());
    }
    for (std::size_t i = 0; i < stored.size() && i < enqueued.size(); ++i) {
        enqueued[i].id = stored[i].id;
        enqueued[i].created = stored[i].created;
    }
    return enqueued;
}

} // namespace

const config::ScheduleSettings& schedule_named(const config::Settings& settings, const std::string& name)
{
    std::vector<std::string> names;
    for (const auto& schedule : settings.schedules) {
        if (schedule.name == name) return schedule;
        names.push_back(schedule.name);
    }
    throw std::invalid_argument("unknown schedule '" + name + "'" + config::suggestion(name, names, "schedules"));
}

EnqueueRequest schedule_request(const config::ScheduleSettings& schedule)
{
    EnqueueRequest request;
    request.queue = schedule.queue;
    request.task = schedule.task.to_string();
    request.payload = schedule.payload_json;
    request.schedule = schedule.name;
    return request;
}

CheckedJob check_enqueue(const config::Settings& settings, const std::vector<model::HostRecord>& hosts, const EnqueueRequest& request)
{
    const config::QueueSettings* queue = settings.find_queue(request.queue);
    if (!queue) {
        std::vector<std::string> names;
        for (const auto& q : settings.queues) names.push_back(q.name);
        throw EnqueueError(Kind::unknown_queue, "unknown queue '" + request.queue + "'" + config::suggestion(request.queue, names, "queues"));
    }
    return check_against(rule_of(*queue, settings.host.max_payload), hosts, request);
}

CheckedJob check_enqueue(const std::vector<model::HostRecord>& hosts, const EnqueueRequest& request)
{
    auto rule = published_rule(hosts, request.queue);
    if (!rule) {
        std::vector<std::string> names;
        for (const auto& host : hosts) {
            for (const auto& served : host.queues) {
                if (std::find(names.begin(), names.end(), served.name) == names.end()) names.push_back(served.name);
            }
        }
        if (names.empty()) {
            throw EnqueueError(Kind::unknown_queue, "unknown queue '" + request.queue +
                                                        "': no host has published the queues it serves to this store yet (enqueue with "
                                                        "the configuration instead to check against it)");
        }
        throw EnqueueError(Kind::unknown_queue,
                           "no host on this store serves a queue '" + request.queue + "'" + config::suggestion(request.queue, names, "queues"));
    }
    return check_against(*rule, hosts, request);
}

Enqueued enqueue(store::Store& store, const config::Settings& settings, const EnqueueRequest& request, model::TimePoint now)
{
    return store_checked(store, check_enqueue(settings, store.hosts(), request), now);
}

Enqueued enqueue(store::Store& store, const EnqueueRequest& request, model::TimePoint now)
{
    return store_checked(store, check_enqueue(store.hosts(), request), now);
}

std::vector<Enqueued> enqueue_batch(store::Store& store, const config::Settings& settings, const std::vector<EnqueueRequest>& requests,
                                    model::TimePoint now)
{
    if (requests.empty()) return {};
    const auto hosts = store.hosts();
    return store_batch(store, requests, now, [&](const EnqueueRequest& request) { return check_enqueue(settings, hosts, request); });
}

std::vector<Enqueued> enqueue_batch(store::Store& store, const std::vector<EnqueueRequest>& requests, model::TimePoint now)
{
    if (requests.empty()) return {};
    const auto hosts = store.hosts();
    return store_batch(store, requests, now, [&](const EnqueueRequest& request) { return check_enqueue(hosts, request); });
}

} // namespace sandhost::scheduler
