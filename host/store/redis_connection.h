// Talking to the Redis server: one connection (a Poco::Net socket, Poco::Redis's types), the
// replies it reads, the scripts it runs by SHA1, and the pool a store keeps them in. Internal to
// the Redis store.
#pragma once

#include "store/redis_scripts.h"
#include "store/redis_store.h"

#include <Poco/Net/StreamSocket.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/RedisStream.h>
#include <Poco/Redis/Type.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sandhost::store::redis {

using Value = Poco::Redis::RedisType::Ptr;

// The server answered with an error (the connection is still good). Errors a script raises for
// a request that makes no sense start with k_request_error.
class ServerError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
inline constexpr std::string_view k_request_error = "SANDHOST_REQUEST ";

// A reply of another shape than expected: the server or the keys are not what this code wrote.
class ReplyError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reading replies. Each throws ReplyError when the value is of another type.
bool is_nil(const Value& value);                          // a nil bulk string or array
std::string bytes(const Value& value);                    // a bulk or simple string
std::optional<std::string> optional_bytes(const Value& value);  // nil: nullopt
std::int64_t integer(const Value& value);                 // an integer, or a string holding one
const Poco::Redis::Array& array(const Value& value);      // an array (a nil one is empty)
std::vector<Value> elements(const Value& value);          // an array's elements; nil: none

// The arguments of a script after its key prefix and clock, as text.
class ScriptArgs {
public:
    ScriptArgs& add(std::string_view text);
    ScriptArgs& add(std::int64_t number);
    // A presence flag, then the value: what lib_base.lua's opt() reads.
    ScriptArgs& add_optional(const std::optional<std::string>& text);
    ScriptArgs& add_optional(std::optional<std::int64_t> number);
    const Poco::Redis::Array& array() const { return m_array; }

private:
    Poco::Redis::Array m_array;
};

// "redis HOST:PORT/DB" or "redis unix:PATH/DB": how messages name the server (no password).
std::string describe_server(const RedisOptions& options);

// One connection, used by one thread at a time. Any exception but ServerError leaves it broken:
// the caller drops it. It owns its socket (Poco::Redis::Client's is out of reach): a command is
// sent in one write with TCP_NODELAY set. Through the client's 1 KiB buffer and Nagle's
// algorithm, a command longer than that (a batch of jobs, attempts with their output) waited
// for the server's delayed acknowledgement, tens of milliseconds, between its pieces.
class Connection {
public:
    // Connects, authenticates and selects the database; throws Poco::Exception or ServerError.
    explicit Connection(const RedisOptions& options);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Sends a command and reads its reply; an error reply throws ServerError.
    Value command(const Poco::Redis::Array& command);
    // Runs `script` with ARGV = prefix, now (ms), then `args`, by its SHA1; when the server does
    // not know it (a restart, SCRIPT FLUSH), loads it and runs it again.
    Value run(Script script, const std::string& prefix, std::int64_t now_ms, const ScriptArgs& args);
    // Whether TCP_NODELAY is set (always, over TCP; a Unix socket has no such delay).
    bool no_delay() const { return m_tcp && const_cast<Poco::Net::StreamSocket&>(m_socket).getNoDelay(); }

private:
    Poco::Net::StreamSocket m_socket;
    bool m_tcp = false;
    std::unique_ptr<Poco::Redis::RedisInputStream> m_input;  // replies, read through its buffer
};

// The connections of a store: taken by a call, given back after it unless it failed.
class ConnectionPool {
public:
    explicit ConnectionPool(RedisOptions options) : m_options(std::move(options)) {}

    // An idle connection, or a new one (which may throw as Connection's constructor does).
    std::unique_ptr<Connection> take();
    void give_back(std::unique_ptr<Connection> connection);
    // After a connection failed: the idle ones went through the same server and are likely
    // dead too (a restart), so they go, and the next calls connect afresh.
    void drop_idle();

private:
    RedisOptions m_options;
    std::mutex m_mutex;
    std::vector<std::unique_ptr<Connection>> m_idle;
};

} // namespace sandhost::store::redis
