// Where a host keeps its jobs: `sqlite:PATH` (embedded, default) or `redis://HOST:PORT/DB`.
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
    std::string host;            // a name, an IPv4 address or an IPv6 address (no brackets)
    std::uint16_t port = 6379;
    std::uint32_t db = 0;

    bool operator==(const RedisStore&) const = default;
};

using StoreUrl = std::variant<SqliteStore, RedisStore>;

// `sqlite:PATH` with PATH relative to base_dir unless absolute (lexically normalized);
// `redis://HOST[:PORT][/DB]` with port 6379 and db 0 when left out. Any other scheme, a
// missing scheme, credentials or a query are refused; the error names the scheme it saw.
model::ParseResult<StoreUrl> parse_store_url(std::string_view text, const std::filesystem::path& base_dir);

// The URL that parse_store_url reads back as the same store.
std::string to_string(const StoreUrl& store);

} // namespace sandhost::config
