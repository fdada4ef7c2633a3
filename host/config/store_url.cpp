#include "config/store_url.h"

#include <charconv>

namespace sandhost::config {
namespace {

constexpr std::string_view k_expected = "expected sqlite:PATH or redis://HOST:PORT/DB";

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

model::ParseResult<StoreUrl> parse_redis(std::string_view text, std::string_view rest)
{
    auto fail = [&](const std::string& why) {
        return model::ParseResult<StoreUrl>::failure("store " + in_quotes(text) + ": " + why + " (" + std::string(k_expected) +
                                              ")");
    };
    if (rest.find_first_of("@?#") != std::string_view::npos) {
        return fail("credentials, queries and fragments are not supported");
    }
    RedisStore redis;
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

} // namespace

model::ParseResult<StoreUrl> parse_store_url(std::string_view text, const std::filesystem::path& base_dir)
{
    auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return model::ParseResult<StoreUrl>::failure("store " + in_quotes(text) + " has no scheme (" + std::string(k_expected) +
                                              ")");
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
    if (scheme == "redis") {
        if (!rest.starts_with("//")) {
            return model::ParseResult<StoreUrl>::failure("store " + in_quotes(text) + ": write redis://HOST:PORT/DB");
        }
        return parse_redis(text, rest.substr(2));
    }
    return model::ParseResult<StoreUrl>::failure("unknown store scheme " + in_quotes(scheme) + " in " + in_quotes(text) + " (" +
                                          std::string(k_expected) + ")");
}

std::string to_string(const StoreUrl& store)
{
    if (const auto* sqlite = std::get_if<SqliteStore>(&store)) return "sqlite:" + sqlite->path.string();
    const auto& redis = std::get<RedisStore>(store);
    std::string host = redis.host.find(':') != std::string::npos ? "[" + redis.host + "]" : redis.host;
    return "redis://" + host + ":" + std::to_string(redis.port) + "/" + std::to_string(redis.db);
}

} // namespace sandhost::config
