#include "store/redis_connection.h"

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Redis/Error.h>
#include <Poco/Timespan.h>

#include <algorithm>
#include <charconv>
#include <string>

namespace sandhost::store::redis {
namespace {

using Poco::Redis::Array;
using Poco::Redis::BulkString;
using Poco::Redis::RedisType;
using Poco::Redis::Type;

// Idle connections kept for the next calls; more are made when more threads call at once.
constexpr std::size_t k_max_idle = 8;

Poco::Timespan timespan(model::Duration duration)
{
    return Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(duration).count());
}

std::string type_name(const Value& value)
{
    switch (value->type()) {
    case RedisType::REDIS_INTEGER: return "an integer";
    case RedisType::REDIS_SIMPLE_STRING: return "a status";
    case RedisType::REDIS_BULK_STRING: return "a string";
    case RedisType::REDIS_ARRAY: return "an array";
    case RedisType::REDIS_ERROR: return "an error";
    }
    return "an unknown reply";
}

[[noreturn]] void unexpected(const Value& value, const char* wanted)
{
    throw ReplyError(std::string("expected ") + wanted + ", got " + type_name(value));
}

// An error reply becomes a ServerError.
Value checked(Value reply)
{
    if (!reply) throw ReplyError("no reply");
    if (reply->isError()) throw ServerError(static_cast<const Type<Poco::Redis::Error>*>(reply.get())->value().getMessage());
    return reply;
}

} // namespace

bool is_nil(const Value& value)
{
    if (value->isBulkString()) return static_cast<const Type<BulkString>*>(value.get())->value().isNull();
    if (value->isArray()) return static_cast<const Type<Array>*>(value.get())->value().isNull();
    return false;
}

std::string bytes(const Value& value)
{
    if (value->isBulkString()) {
        const BulkString& text = static_cast<const Type<BulkString>*>(value.get())->value();
        if (text.isNull()) throw ReplyError("expected a string, got nil");
        return text.value();
    }
    if (value->isSimpleString()) return static_cast<const Type<std::string>*>(value.get())->value();
    unexpected(value, "a string");
}

std::optional<std::string> optional_bytes(const Value& value)
{
    if (is_nil(value)) return std::nullopt;
    return bytes(value);
}

std::int64_t integer(const Value& value)
{
    if (value->isInteger()) return static_cast<const Type<Poco::Int64>*>(value.get())->value();
    if (!value->isBulkString() && !value->isSimpleString()) unexpected(value, "an integer");
    const std::string text = bytes(value);
    std::int64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc() || end != text.data() + text.size()) throw ReplyError("expected an integer, got \"" + text + "\"");
    return number;
}

const Array& array(const Value& value)
{
    if (!value->isArray()) unexpected(value, "an array");
    return static_cast<const Type<Array>*>(value.get())->value();
}

std::vector<Value> elements(const Value& value)
{
    const Array& list = array(value);
    if (list.isNull()) return {};
    return std::vector<Value>(list.begin(), list.end());
}

ScriptArgs& ScriptArgs::add(std::string_view text)
{
    m_array.add(BulkString(std::string(text)));
    return *this;
}

ScriptArgs& ScriptArgs::add(std::int64_t number) { return add(std::to_string(number)); }

ScriptArgs& ScriptArgs::add_optional(const std::optional<std::string>& text)
{
    add(text ? "1" : "0");
    return add(text ? std::string_view(*text) : std::string_view());
}

ScriptArgs& ScriptArgs::add_optional(std::optional<std::int64_t> number)
{
    return add_optional(number ? std::optional<std::string>(std::to_string(*number)) : std::nullopt);
}

std::string describe_server(const RedisOptions& options)
{
    if (!options.socket.empty()) return "redis unix:" + options.socket.string() + "/" + std::to_string(options.db);
    const std::string host = options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
    return "redis " + host + ":" + std::to_string(options.port) + "/" + std::to_string(options.db);
}

Connection::Connection(const RedisOptions& options)
{
    const Poco::Net::SocketAddress address =
        options.socket.empty() ? Poco::Net::SocketAddress(options.host, options.port)
                               : Poco::Net::SocketAddress(Poco::Net::SocketAddress::UNIX_LOCAL, options.socket.string());
    m_socket.connect(address, timespan(options.connect_timeout));
    m_tcp = options.socket.empty();
    if (m_tcp) m_socket.setNoDelay(true);
    m_socket.setReceiveTimeout(timespan(options.reply_timeout));
    m_socket.setSendTimeout(timespan(options.reply_timeout));
    m_input = std::make_unique<Poco::Redis::RedisInputStream>(m_socket);
    if (!options.password.empty()) {
        Array auth;
        auth << "AUTH";
        if (!options.user.empty()) auth << options.user;
        auth << options.password;
        try {
            command(auth);
        } catch (const ServerError& e) {
            // The server's words ("WRONGPASS invalid username-password pair"), never the password.
            throw ServerError(std::string("authentication refused: ") + e.what());
        }
    }
    if (options.db != 0) {
        Array select;
        select << "SELECT" << std::to_string(options.db);
        command(select);
    }
}

Value Connection::command(const Array& command)
{
    // The whole command in one write (RESP, as the array encodes itself).
    const std::string wire = command.toString();
    for (std::size_t sent = 0; sent < wire.size();) {
        const int n = m_socket.sendBytes(wire.data() + sent, static_cast<int>(std::min<std::size_t>(wire.size() - sent, 1u << 30)));
        if (n <= 0) throw Poco::IOException("the server closed the connection while a command was sent");
        sent += static_cast<std::size_t>(n);
    }
    const int marker = m_input->get();
    if (marker == std::char_traits<char>::eof()) throw Poco::IOException("the server closed the connection before it replied");
    Value reply = RedisType::createRedisType(static_cast<char>(marker));
    // Not a reply this code can read to its end: what follows on the connection is unknown.
    if (!reply) throw Poco::IOException("a reply of an unknown type ('" + std::string(1, static_cast<char>(marker)) + "')");
    reply->read(*m_input);
    return checked(reply);
}

Value Connection::run(Script script, const std::string& prefix, std::int64_t now_ms, const ScriptArgs& args)
{
    const ScriptText& text = script_text(script);
    Array call;
    call << "EVALSHA" << text.sha1 << "0" << prefix << std::to_string(now_ms);
    if (!args.array().isNull()) {
        for (const auto& value : args.array()) call.addRedisType(value);
    }
    try {
        return command(call);
    } catch (const ServerError& e) {
        if (std::string_view(e.what()).substr(0, 8) != "NOSCRIPT") throw;
    }
    Array load;
    load << "SCRIPT" << "LOAD" << text.text;
    const std::string sha1 = bytes(command(load));
    if (sha1 != text.sha1) throw ReplyError("the server named script " + text.name + " " + sha1 + ", not " + text.sha1);
    return command(call);
}

std::unique_ptr<Connection> ConnectionPool::take()
{
    {
        std::lock_guard lock(m_mutex);
        if (!m_idle.empty()) {
            auto connection = std::move(m_idle.back());
            m_idle.pop_back();
            return connection;
        }
    }
    return std::make_unique<Connection>(m_options);
}

void ConnectionPool::give_back(std::unique_ptr<Connection> connection)
{
    std::lock_guard lock(m_mutex);
    if (m_idle.size() < k_max_idle) m_idle.push_back(std::move(connection));
}

void ConnectionPool::drop_idle()
{
    std::vector<std::unique_ptr<Connection>> dropped;
    {
        std::lock_guard lock(m_mutex);
        dropped.swap(m_idle);
    }
}

} // namespace sandhost::store::redis
