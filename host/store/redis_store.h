// The distributed store: one Redis server (7.0 or newer, standalone; not Redis Cluster)
// shared by any number of hosts and CLI processes on any number of machines. Implements
// store.h; see there for what each method does.
//
// Every change that touches more than one key is one Lua script run on the server, atomic like
// a SQLite transaction; the scripts are loaded once per connection and called by their SHA1
// (loaded again after the server forgot them, e.g. on a restart). Scripts take their time from
// the caller (`now`), never from the server, so a host's clock decides its leases as with
// SQLite. A script validates everything before its first write: a refused request
// (StoreRequestError) changes nothing.
//
// Durability is the server's: with the append-only file on (appendonly yes, appendfsync
// everysec) a crash of the server loses at most the last second of changes; without it, or with
// RDB snapshots only, everything since the last snapshot. See README.md, "Several hosts on one
// Redis", and docs/redis.md.
#pragma once

#include "store/store.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace sandhost::store {

struct RedisOptions {
    std::string host = "127.0.0.1";   // TCP, unless `socket` is set
    std::uint16_t port = 6379;
    std::filesystem::path socket;    // a Unix socket of the server: host and port unused
    std::uint32_t db = 0;            // SELECTed on every connection
    std::string user;                // AUTH user (ACL); empty: the default user
    std::string password;            // AUTH password; empty: no AUTH. Never part of a message
    std::string prefix = "sandhost:";  // every key starts with it: deployments on one server stay apart
    model::Duration connect_timeout = std::chrono::seconds(5);
    // How long a call waits for the server's reply before it fails with StoreError (and the
    // connection is dropped: a reply that comes later belongs to no one).
    model::Duration reply_timeout = std::chrono::seconds(10);
};

// The layout of the keys this code writes, kept in PREFIXmeta; a server holding a newer one
// under the same prefix is refused.
constexpr int k_redis_layout_version = 2;

// What the server says about how it keeps its data (CONFIG GET; unknown when the server does not
// allow CONFIG, as some hosted services do not).
struct RedisPersistence {
    bool known = false;
    bool append_only = false;    // appendonly yes
    std::string appendfsync;     // always | everysec | no
    bool snapshots = false;      // a `save` rule is set
    std::string version;         // redis_version
};

class RedisStoreHandle : public Store {
public:
    // The server's persistence settings, read now. Throws StoreError when it cannot be reached.
    virtual RedisPersistence persistence() = 0;
    // "redis HOST:PORT/DB" or "redis unix:PATH/DB" (never the password), as errors name it.
    virtual const std::string& server() const = 0;
};

// Connects (checking the layout version under the prefix, and writing it on an empty server) and
// returns the store. Throws StoreError naming the server when it cannot be reached, refuses the
// password, or holds a newer layout. The store is thread-safe: each call takes a connection of
// its own from a small pool, and a connection that failed is dropped and made again on the next
// call.
std::unique_ptr<RedisStoreHandle> open_redis_store(const RedisOptions& options);

} // namespace sandhost::store
