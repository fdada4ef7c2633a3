// Where a host keeps its jobs: `sqlite:PATH` (embedded, default), or a Redis server shared by
// several hosts: `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]` over TCP or
// `unix://[[USER]:PASSWORD@]/PATH[?db=N]` over a local socket.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>

#include "model/parse_result.h"

namespace sandhost::config {

struct SqliteStore {
    std::filesystem::path path;  // absolute when parsed with an absolute base directory

    bool operator==(const SqliteStore&) const = default;
};

struct RedisStore {
    std::string host;            // a name, an IPv4 address or an IPv6 address (no brackets); empty with a socket
    std::uint16_t port = 6379;
    std::uint32_t db = 0;
    std::filesystem::path socket;  // unix://: the server's socket (absolute); host and port unused
    std::string user;            // an ACL user; empty: the default user
    std::string password;        // empty: no AUTH. Never printed: to_string shows "***"

    bool operator==(const RedisStore&) const = default;
};

using StoreUrl = std::variant<SqliteStore, RedisStore>;

// `sqlite:PATH` with PATH relative to base_dir unless absolute (lexically normalized);
// `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]` with port 6379 and db 0 when left out;
// `unix://[[USER]:PASSWORD@]/PATH[?db=N]`. The user and password may be percent-encoded
// (%40 for '@', %25 for '%'); a password may also hold ':', '/' and '@' as they are. Any
// other scheme, a missing scheme, a user without a password or another query is refused; the
// error names what it saw, with the password masked.
model::ParseResult<StoreUrl> parse_store_url(std::string_view text, const std::filesystem::path& base_dir);

// The URL that parse_store_url reads back as the same store, except that a password is
// written "***": this is what logs, errors and `validate --print` show.
std::string to_string(const StoreUrl& store);

} // namespace sandhost::config
