// Host records: who holds a host name, what the host publishes, and its heartbeats.
#include "store/redis_store_impl.h"

#include <algorithm>

namespace sandhost::store::redis {
namespace {

bool changed(const Value& reply) { return integer(reply) == 1; }

} // namespace

bool RedisStore::register_host(const std::string& host_name, const std::string& holder, model::TimePoint now,
                               model::Duration stale_after)
{
    ScriptArgs args;
    args.add(host_name).add(holder).add(stale_after.count()).add("0");
    return run("registering the host", Script::register_host, now, args, changed);
}

void RedisStore::take_over_host(const std::string& host_name, const std::string& holder, model::TimePoint now)
{
    ScriptArgs args;
    args.add(host_name).add(holder).add(std::int64_t{0}).add("1");
    run("taking over the host registration", Script::register_host, now, args, changed);
}

std::optional<std::pair<std::string, model::TimePoint>> RedisStore::host_registration(const std::string& host_name)
{
    Poco::Redis::Array fields;
    fields << "HMGET" << key("host:" + host_name) << "holder" << "hb";
    return command("reading the host registration", fields,
                   [](const Value& reply) -> std::optional<std::pair<std::string, model::TimePoint>> {
                       const auto values = elements(reply);
                       if (values.size() != 2 || is_nil(values[0])) return std::nullopt;
                       return std::make_pair(bytes(values[0]), from_millis(integer(values[1])));
                   });
}

bool RedisStore::publish_host(const std::string& host_name, const std::string& holder, const std::string& version,
                              const std::vector<model::ServedQueue>& queues, const model::PluginCatalog& catalog,
                              model::TimePoint now)
{
    ScriptArgs args;
    args.add(host_name).add(holder).add(version).add(model::to_json(queues)).add(model::to_json(catalog));
    return run("publishing the host's catalog", Script::publish_host, now, args, changed);
}

bool RedisStore::heartbeat(const std::string& host_name, const std::string& holder, const model::HostStatus& status,
                           model::TimePoint now)
{
    ScriptArgs args;
    args.add(host_name).add(holder).add(model::to_json(status));
    return run("recording the host's heartbeat", Script::heartbeat, now, args, changed);
}

void RedisStore::unregister_host(const std::string& host_name, const std::string& holder, model::TimePoint now)
{
    ScriptArgs args;
    args.add(host_name).add(holder);
    run("unregistering the host", Script::unregister_host, now, args, changed);
}

std::vector<model::HostRecord> RedisStore::hosts()
{
    return run("reading the host records", Script::hosts, model::TimePoint{}, ScriptArgs{}, [](const Value& reply) {
        const auto flat = elements(reply);
        std::vector<model::HostRecord> records;
        for (std::size_t i = 0; i + 1 < flat.size(); i += 2) records.push_back(host_from_hash(bytes(flat[i]), hash_of(flat[i + 1])));
        std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
        return records;
    });
}

} // namespace sandhost::store::redis
