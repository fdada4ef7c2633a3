// Opening the Redis store, and calling the server as every part of it does.
#include "store/redis_store_impl.h"

namespace sandhost::store {
namespace redis {

RedisStore::RedisStore(const RedisOptions& options)
    : m_options(options), m_server(describe_server(options)), m_pool(options)
{
    ScriptArgs args;
    args.add(std::int64_t{k_redis_layout_version});
    const auto layout = run("opening the store", Script::layout, model::TimePoint{}, args, integer);
    if (layout > k_redis_layout_version) {
        throw StoreError(m_server + ": the keys under \"" + m_options.prefix + "\" were written by a newer sandhost (layout " +
                         std::to_string(layout) + ", this one knows " + std::to_string(k_redis_layout_version) +
                         "); upgrade sandhost or use another store_prefix");
    }
}

RedisPersistence RedisStore::persistence()
{
    RedisPersistence out;
    const auto config = [&](const char* name) -> std::optional<std::string> {
        Poco::Redis::Array get;
        get << "CONFIG" << "GET" << name;
        try {
            return command("reading the server's persistence settings", get, [](const Value& reply) -> std::optional<std::string> {
                const auto pair = elements(reply);
                if (pair.size() != 2) return std::nullopt;
                return bytes(pair[1]);
            });
        } catch (const StoreError&) {
            // CONFIG may be renamed or refused (hosted servers): unknown.
        }
        return std::nullopt;
    };
    Poco::Redis::Array info;
    info << "INFO" << "server";
    const std::string server_info = command("reading the server's version", info, bytes);
    if (const auto at = server_info.find("redis_version:"); at != std::string::npos) {
        const auto start = at + 14;
        out.version = server_info.substr(start, server_info.find_first_of("\r\n", start) - start);
    }
    const auto append_only = config("appendonly");
    const auto save = config("save");
    if (!append_only || !save) return out;
    out.known = true;
    out.append_only = *append_only == "yes";
    out.appendfsync = config("appendfsync").value_or("");
    out.snapshots = !save->empty();
    return out;
}

std::optional<model::Job> RedisStore::get(model::JobId job)
{
    Poco::Redis::Array hgetall;
    hgetall << "HGETALL" << key("job:" + std::to_string(job));
    return command("reading a job", hgetall, [](const Value& reply) -> std::optional<model::Job> {
        const Hash hash = hash_of(reply);
        if (hash.empty()) return std::nullopt;
        return job_from_hash(hash);
    });
}

void add_new_job(ScriptArgs& args, const model::NewJob& job)
{
    auto millis = [](const std::optional<model::Duration>& duration) -> std::optional<std::int64_t> {
        if (!duration) return std::nullopt;
        return duration->count();
    };
    args.add(job.queue).add(job.task).add(job.payload).add(std::int64_t{job.priority});
    args.add_optional(millis(job.delay)).add_optional(millis(job.timeout));
    args.add_optional(job.max_attempts ? std::optional<std::int64_t>(*job.max_attempts) : std::nullopt);
    args.add_optional(millis(job.ttl)).add(job.schedule).add_optional(job.key);
    args.add(static_cast<std::int64_t>(job.depends_on.size()));
    for (model::JobId dependency : job.depends_on) args.add(dependency);
}

void add_allowances(ScriptArgs& args, const std::vector<QueueAllowance>& queues)
{
    args.add(static_cast<std::int64_t>(queues.size()));
    for (const auto& allowance : queues) {
        args.add(allowance.queue).add(static_cast<std::int64_t>(allowance.tasks.size()));
        for (const auto& pattern : allowance.tasks) args.add(pattern);
        const bool limited = allowance.rate_jobs && allowance.rate_per;
        args.add(limited ? std::to_string(*allowance.rate_jobs) : std::string());
        args.add(limited ? std::to_string(allowance.rate_per->count()) : std::string());
        args.add(allowance.global_concurrency ? std::to_string(*allowance.global_concurrency) : std::string());
    }
}

} // namespace redis

std::unique_ptr<RedisStoreHandle> open_redis_store(const RedisOptions& options)
{
    return std::make_unique<redis::RedisStore>(options);
}

} // namespace sandhost::store
