#include "config/store_url.h"

#include <charconv>

namespace sandhost::config {
namespace {

constexpr std::string_view k_expected = "expected sqlite:PATH, redis://HOST:PORT/DB or unix:///PATH";
constexpr std::string_view k_mask = "***";

std::string in_quotes(std::string_view text)
{
    return "\"" + std::string(text) + "\"";
}

template <class T>
bool parse_number(std::string_view text, T& out)
{
    if (text.empty()) return false;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
}

// Where the user information of `rest` (what follows "scheme://") ends: at the last '@' for
// redis:// (a host, a port and a database never hold one, a password may), at the last "@/"
// for unix:// (the path starts with '/'); npos when there is none.
std::size_t userinfo_end(std::string_view scheme, std::string_view rest)
{
    if (scheme == "unix") return rest.starts_with('/') ? std::string_view::npos : rest.rfind("@/");
    return rest.rfind('@');
}

// `text` with the password of its user information replaced by "***", for error messages.
std::string masked(std::string_view text)
{
    const auto separator = text.find("://");
    if (separator == std::string_view::npos) return std::string(text);
    const std::string_view scheme = text.substr(0, separator);
    const std::string_view rest = text.substr(separator + 3);
    const auto at = userinfo_end(scheme, rest);
    if (at == std::string_view::npos) return std::string(text);
    const auto colon = rest.substr(0, at).find(':');
    if (colon == std::string_view::npos) return std::string(text);
    return std::string(text.substr(0, separator + 3)) + std::string(rest.substr(0, colon + 1)) + std::string(k_mask) +
           std::string(rest.substr(at));
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// %XX sequences decoded; anything else as it is.
std::string percent_decoded(std::string_view text)
{
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            const int high = hex_value(text[i + 1]);
            const int low = hex_value(text[i + 2]);
            if (high >= 0 && low >= 0) {
                out += static_cast<char>(high * 16 + low);
                i += 2;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

// Reads "[USER]:PASSWORD" into `redis`; an error message, or empty.
std::string read_userinfo(std::string_view userinfo, RedisStore& redis)
{
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) return "a user needs a password (write USER:PASSWORD@ or :PASSWORD@)";
    redis.user = percent_decoded(userinfo.substr(0, colon));
    redis.password = percent_decoded(userinfo.substr(colon + 1));
    if (redis.password.empty()) return "empty password";
    return {};
}

// Percent-encodes what would end the user information early, so that to_string reads back.
std::string percent_encoded_user(std::string_view text)
{
    std::string out;
    for (char c : text) {
        if (c == '%' || c == '@' || c == ':' || c == '/') {
            static const char k_hex[] = "0123456789ABCDEF";
            out += '%';
            out += k_hex[static_cast<unsigned char>(c) >> 4];
            out += k_hex[static_cast<unsigned char>(c) & 15];
        } else {
            out += c;
        }
    }
    return out;
}

model::ParseResult<StoreUrl> parse_redis(std::string_view text, std::string_view rest)
{
    auto fail = [&](const std::string& why) {
        return model::ParseResult<StoreUrl>::failure("store " + in_quotes(masked(text)) + ": " + why + " (" +
                                                     std::string(k_expected) + ")");
    };
    RedisStore redis;
    if (const auto at = userinfo_end("redis", rest); at != std::string_view::npos) {
        if (auto error = read_userinfo(rest.substr(0, at), redis); !error.empty()) return fail(error);
        rest = rest.substr(at + 1);
    }
    if (rest.find_first_of("?#") != std::string_view::npos) return fail("queries and fragments are not supported");
    std::string_view authority = rest.substr(0, rest.find('/'));
    std::string_view path = authority.size() < rest.size() ? rest.substr(authority.size() + 1) : std::string_view{};
    std::string_view port;
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return fail("unterminated IPv6 address");
        redis.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (!after.starts_with(':')) return fail("unexpected " + in_quotes(after) + " after the IPv6 address");
            port = after.substr(1);
            if (port.empty()) return fail("empty port");
        }
        for (char c : redis.host) {
            bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex && c != ':' && c != '.') return fail("invalid IPv6 address " + in_quotes(redis.host));
        }
    } else {
        auto colon = authority.find(':');
        redis.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) return fail("empty port");
        }
        for (char c : redis.host) {
            if (!is_host_char(c)) return fail("invalid host " + in_quotes(redis.host));
        }
    }
    if (redis.host.empty()) return fail("no host");
    if (!port.empty()) {
        std::uint16_t number = 0;
        if (!parse_number(port, number) || number == 0) {
            return fail("port " + in_quotes(port) + " is not a number from 1 to 65535");
        }
        redis.port = number;
    }
    if (!path.empty()) {
        std::uint32_t db = 0;
        if (!parse_number(path, db) || db > 0x7fffffff) {
            return fail("database " + in_quotes(path) + " is not a number from 0 to 2147483647");
        }
        redis.db = db;
    }
    return model::ParseResult<StoreUrl>::success(StoreUrl{redis});
}

model::ParseResult<StoreUrl> parse_unix(std::string_view text, std::string_view rest)
{
    auto fail = [&](const std::string& why) {
        return model::ParseResult<StoreUrl>::failure("store " + in_quotes(masked(text)) + ": " + why +
                                                     " (expected unix:///PATH or unix://:PASSWORD@/PATH, with ?db=N)");
    };
    RedisStore redis;
    redis.host.clear();
    if (const auto at = userinfo_end("unix", rest); at != std::string_view::npos) {
        if (auto error = read_userinfo(rest.substr(0, at), redis); !error.empty()) return fail(error);
        rest = rest.substr(at + 1);
    }
    if (!rest.starts_with('/')) return fail("the socket's path must be absolute");
    const auto question = rest.find('?');
    const std::string_view path = rest.substr(0, question);
    if (path.size() < 2) return fail("no socket path");
    if (question != std::string_view::npos) {
        const std::string_view query = rest.substr(question + 1);
        if (!query.starts_with("db=")) return fail("unknown query " + in_quotes(query) + " (only db=N)");
        std::uint32_t db = 0;
        if (!parse_number(query.substr(3), db) || db > 0x7fffffff) {
            return fail("database " + in_quotes(query.substr(3)) + " is not a number from 0 to 2147483647");
        }
        redis.db = db;
    }
    redis.socket = std::filesystem::path(std::string(path)).lexically_normal();
    return model::ParseResult<StoreUrl>::success(StoreUrl{redis});
}

} // namespace

model::ParseResult<StoreUrl> parse_store_url(std::string_view text, const std::filesystem::path& base_dir)
{
    auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return model::ParseResult<StoreUrl>::failure("store " + in_quotes(masked(text)) + " has no scheme (" +
                                                     std::string(k_expected) + ")");
    }
    std::string_view scheme = text.substr(0, colon);
    std::string_view rest = text.substr(colon + 1);
    if (scheme == "sqlite") {
        if (rest.starts_with("//")) {
            return model::ParseResult<StoreUrl>::failure("store " + in_quotes(text) +
                                                  ": write sqlite:PATH, without \"//\" (e.g. sqlite:data/jobs.db)");
        }
        if (rest.empty()) {
            return model::ParseResult<StoreUrl>::failure("store " + in_quotes(text) + " has no path (e.g. sqlite:data/jobs.db)");
        }
        std::filesystem::path path(rest);
        if (path.is_relative()) path = base_dir / path;
        return model::ParseResult<StoreUrl>::success(StoreUrl{SqliteStore{path.lexically_normal()}});
    }
    if (scheme == "redis" || scheme == "unix") {
        if (!rest.starts_with("//")) {
            return model::ParseResult<StoreUrl>::failure("store " + in_quotes(masked(text)) + ": write " +
                                                         (scheme == "redis" ? "redis://HOST:PORT/DB" : "unix:///PATH"));
        }
        return scheme == "redis" ? parse_redis(text, rest.substr(2)) : parse_unix(text, rest.substr(2));
    }
    return model::ParseResult<StoreUrl>::failure("unknown store scheme " + in_quotes(scheme) + " in " + in_quotes(masked(text)) +
                                                 " (" + std::string(k_expected) + ")");
}

std::string to_string(const StoreUrl& store)
{
    if (const auto* sqlite = std::get_if<SqliteStore>(&store)) return "sqlite:" + sqlite->path.string();
    const auto& redis = std::get<RedisStore>(store);
    std::string userinfo;
    if (!redis.password.empty()) userinfo = percent_encoded_user(redis.user) + ":" + std::string(k_mask) + "@";
    if (!redis.socket.empty()) {
        return "unix://" + userinfo + redis.socket.string() + (redis.db != 0 ? "?db=" + std::to_string(redis.db) : "");
    }
    std::string host = redis.host.find(':') != std::string::npos ? "[" + redis.host + "]" : redis.host;
    return "redis://" + userinfo + host + ":" + std::to_string(redis.port) + "/" + std::to_string(redis.db);
}

} // namespace sandhost::config
