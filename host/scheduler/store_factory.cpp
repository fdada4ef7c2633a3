#include "scheduler/store_factory.h"

#include "scheduler/event_log.h"
#include "store/redis_store.h"
#include "store/sqlite_store.h"

namespace sandhost::scheduler {
namespace {

// What the Redis server keeps when it restarts, said once when a host starts: nothing without
// the append-only file or snapshots, the changes since the last snapshot with snapshots alone.
void log_durability(store::RedisStoreHandle& redis)
{
    using spdlog::level::level_enum;
    const store::RedisPersistence persistence = redis.persistence();
    if (!persistence.known) {
        log_event(level_enum::info, "store durability unknown",
                  {{"store", redis.server()},
                   {"why", std::string("the server does not answer CONFIG GET; jobs survive its restart only with appendonly yes")}});
    } else if (!persistence.append_only && !persistence.snapshots) {
        log_event(level_enum::warn, "store persists nothing",
                  {{"store", redis.server()},
                   {"why", std::string("the Redis server has neither appendonly nor save rules: a restart of it loses every job; "
                                       "set appendonly yes")}});
    } else if (!persistence.append_only) {
        log_event(level_enum::warn, "store persists snapshots only",
                  {{"store", redis.server()},
                   {"why", std::string("a restart of the Redis server loses every change since its last snapshot; "
                                       "set appendonly yes")}});
    } else if (persistence.appendfsync == "no") {
        log_event(level_enum::info, "store syncs when the OS does",
                  {{"store", redis.server()},
                   {"why", std::string("appendfsync no: a crash of the machine may lose the last 30 s or so; everysec loses at most 1 s")}});
    }
}

// What a commit to the SQLite file survives, said once when a host starts.
void log_durability(const std::filesystem::path& file, const store::SqliteOptions& options)
{
    using spdlog::level::level_enum;
    if (options.sync == store::SqliteOptions::Sync::full) {
        log_event(level_enum::info, "store syncs every commit",
                  {{"store", file.string()}, {"why", std::string("store_sync full: a commit survives a power loss, at a disk flush each")}});
    } else {
        log_event(level_enum::info, "store syncs at checkpoints",
                  {{"store", file.string()},
                   {"why", std::string("store_sync normal: a commit survives a crash of any process; a power loss may lose the "
                                       "commits since the last checkpoint (store_sync: full keeps those too)")}});
    }
}

} // namespace

std::shared_ptr<store::Store> open_configured_store(const config::HostSettings& host, StoreUser user)
{
    if (const auto* sqlite = std::get_if<config::SqliteStore>(&host.store)) {
        store::SqliteOptions options;
        options.create_folder = user == StoreUser::host;
        options.page_size = static_cast<int>(host.store_page_size);
        options.sync = host.store_sync == config::StoreSync::full ? store::SqliteOptions::Sync::full : store::SqliteOptions::Sync::normal;
        auto store = store::open_sqlite_store(sqlite->path, options);
        if (user == StoreUser::host) log_durability(sqlite->path, options);
        return store;
    }
    const auto& url = std::get<config::RedisStore>(host.store);
    store::RedisOptions options;
    options.host = url.host;
    options.port = url.port;
    options.socket = url.socket;
    options.db = url.db;
    options.user = url.user;
    options.password = url.password;
    options.prefix = host.store_prefix;
    std::shared_ptr<store::RedisStoreHandle> redis = store::open_redis_store(options);
    if (user == StoreUser::host) log_durability(*redis);
    return redis;
}

} // namespace sandhost::scheduler
