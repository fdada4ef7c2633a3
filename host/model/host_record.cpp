#include "model/host_record.h"

#include "os/time_format.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

namespace sandhost::model {
namespace {

std::string stringify(const Poco::Dynamic::Var& value)
{
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(value, out);
    return out.str();
}

Poco::Int64 millis(TimePoint t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count(); }
TimePoint from_millis(Poco::Int64 ms) { return TimePoint(std::chrono::milliseconds(ms)); }

Poco::JSON::Object::Ptr parse_object(const std::string& json)
{
    Poco::JSON::Parser parser;
    return parser.parse(json).extract<Poco::JSON::Object::Ptr>();
}

Poco::JSON::Array::Ptr parse_array(const std::string& json)
{
    Poco::JSON::Parser parser;
    return parser.parse(json).extract<Poco::JSON::Array::Ptr>();
}

} // namespace

std::string to_json(const HostRecord& record, TimePoint now, Duration stale_after)
{
    Poco::JSON::Parser parser;
    Poco::JSON::Object root(Poco::JSON_PRESERVE_KEY_ORDER);
    root.set("name", record.name);
    root.set("holder", record.holder);
    root.set("version", record.version);
    root.set("alive", record.alive(now, stale_after));
    root.set("started_at", os::format_utc(record.started_at));
    root.set("heartbeat_at", os::format_utc(record.heartbeat_at));
    if (record.stopped_at) root.set("stopped_at", os::format_utc(*record.stopped_at));
    else root.set("stopped_at", Poco::Dynamic::Var());
    root.set("queues", parser.parse(to_json(record.queues)));
    parser.reset();
    const auto status = parser.parse(to_json(record.status)).extract<Poco::JSON::Object::Ptr>();
    for (const char* key : {"running", "workers", "broken_plugins"}) root.set(key, status->get(key));
    parser.reset();
    auto catalog = parser.parse(to_json(record.catalog)).extract<Poco::JSON::Object::Ptr>();
    catalog->set("published_at", record.catalog_at.time_since_epoch().count() ? Poco::Dynamic::Var(os::format_utc(record.catalog_at)) : Poco::Dynamic::Var());
    root.set("catalog", catalog);
    return stringify(root);
}

std::string to_json(const HostStatus& status)
{
    Poco::JSON::Object root(Poco::JSON_PRESERVE_KEY_ORDER);
    Poco::JSON::Array running;
    for (const auto& r : status.running) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("job", static_cast<Poco::Int64>(r.job));
        o.set("attempt", static_cast<Poco::UInt64>(r.attempt));
        o.set("queue", r.queue);
        o.set("task", r.task);
        o.set("pid", static_cast<Poco::Int64>(r.pid));
        o.set("started_at_ms", millis(r.started_at));
        running.add(o);
    }
    root.set("running", running);
    Poco::JSON::Array workers;
    for (const auto& w : status.workers) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("pid", static_cast<Poco::Int64>(w.pid));
        o.set("mode", to_string(w.mode));
        o.set("role", name_in(k_worker_role_names, w.role));
        o.set("plugin", w.plugin);
        o.set("rss_kb", static_cast<Poco::UInt64>(w.rss_kb));
        workers.add(o);
    }
    root.set("workers", workers);
    Poco::JSON::Array broken;
    for (const auto& b : status.broken_plugins) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("path", b.path);
        o.set("error", b.error);
        o.set("failures", static_cast<Poco::UInt64>(b.failures));
        o.set("until_ms", millis(b.until));
        broken.add(o);
    }
    root.set("broken_plugins", broken);
    return stringify(root);
}

std::optional<HostStatus> host_status_from_json(const std::string& json)
{
    try {
        const auto root = parse_object(json);
        if (!root) return std::nullopt;
        HostStatus status;
        if (const auto running = root->getArray("running")) {
            for (unsigned i = 0; i < running->size(); ++i) {
                const auto o = running->getObject(i);
                if (!o) return std::nullopt;
                RunningAttempt r;
                r.job = o->getValue<Poco::Int64>("job");
                r.attempt = static_cast<std::uint32_t>(o->getValue<Poco::UInt64>("attempt"));
                r.queue = o->getValue<std::string>("queue");
                r.task = o->getValue<std::string>("task");
                r.pid = o->optValue<Poco::Int64>("pid", 0);
                r.started_at = from_millis(o->optValue<Poco::Int64>("started_at_ms", 0));
                status.running.push_back(std::move(r));
            }
        }
        if (const auto workers = root->getArray("workers")) {
            for (unsigned i = 0; i < workers->size(); ++i) {
                const auto o = workers->getObject(i);
                if (!o) return std::nullopt;
                WorkerInfo w;
                w.pid = o->getValue<Poco::Int64>("pid");
                w.mode = mode_from_string(o->getValue<std::string>("mode")).value_or(Mode::spawn);
                w.role = value_in(k_worker_role_names, o->getValue<std::string>("role")).value_or(WorkerInfo::Role::job);
                w.plugin = o->optValue<std::string>("plugin", "");
                w.rss_kb = o->optValue<Poco::UInt64>("rss_kb", 0);
                status.workers.push_back(std::move(w));
            }
        }
        if (const auto broken = root->getArray("broken_plugins")) {
            for (unsigned i = 0; i < broken->size(); ++i) {
                const auto o = broken->getObject(i);
                if (!o) return std::nullopt;
                BrokenPlugin b;
                b.path = o->getValue<std::string>("path");
                b.error = o->optValue<std::string>("error", "");
                b.failures = static_cast<std::uint32_t>(o->optValue<Poco::UInt64>("failures", 0));
                b.until = from_millis(o->optValue<Poco::Int64>("until_ms", 0));
                status.broken_plugins.push_back(std::move(b));
            }
        }
        return status;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string to_json(const std::vector<ServedQueue>& queues)
{
    Poco::JSON::Array array;
    for (const auto& q : queues) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("name", q.name);
        Poco::JSON::Array tasks;
        for (const auto& t : q.tasks) tasks.add(t);
        o.set("tasks", tasks);
        if (q.ttl) o.set("ttl_ms", static_cast<Poco::Int64>(q.ttl->count()));
        array.add(o);
    }
    return stringify(array);
}

std::optional<std::vector<ServedQueue>> served_queues_from_json(const std::string& json)
{
    try {
        const auto array = parse_array(json);
        if (!array) return std::nullopt;
        std::vector<ServedQueue> queues;
        for (unsigned i = 0; i < array->size(); ++i) {
            const auto o = array->getObject(i);
            if (!o) return std::nullopt;
            ServedQueue q;
            q.name = o->getValue<std::string>("name");
            if (const auto tasks = o->getArray("tasks")) {
                for (unsigned k = 0; k < tasks->size(); ++k) q.tasks.push_back(tasks->getElement<std::string>(k));
            }
            if (o->has("ttl_ms")) q.ttl = Duration(o->getValue<Poco::Int64>("ttl_ms"));
            queues.push_back(std::move(q));
        }
        return queues;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string describe_holder(std::string_view holder)
{
    const auto slash = holder.rfind('/');
    if (slash == std::string_view::npos) return std::string(holder);
    const std::string_view name = holder.substr(0, slash);
    const std::string_view instance = holder.substr(slash + 1);
    const auto first = instance.find(':');
    const auto second = first == std::string_view::npos ? first : instance.find(':', first + 1);
    if (second == std::string_view::npos) return std::string(holder);
    const std::string_view machine = instance.substr(0, first);
    const std::string_view pid = instance.substr(first + 1, second - first - 1);
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string_view::npos) return std::string(holder);
    std::string text = std::string(name) + " (pid " + std::string(pid);
    if (machine != name) text += " on " + std::string(machine);
    return text + ")";
}

} // namespace sandhost::model
