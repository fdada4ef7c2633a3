#include "config/store_url.h"

#include <gtest/gtest.h>

namespace sandhost::config {
namespace {

TEST(StoreUrl, SqlitePathsResolveAgainstTheBaseDirectory)
{
    auto relative = parse_store_url("sqlite:data/../jobs.db", "/etc/sandhost");
    ASSERT_TRUE(relative) << relative.error();
    EXPECT_EQ(std::get<SqliteStore>(relative.value()).path, "/etc/sandhost/jobs.db");
    auto absolute = parse_store_url("sqlite:/var/lib/sandhost.db", "/etc/sandhost");
    EXPECT_EQ(std::get<SqliteStore>(absolute.value()).path, "/var/lib/sandhost.db");
    EXPECT_EQ(to_string(absolute.value()), "sqlite:/var/lib/sandhost.db");
}

TEST(StoreUrl, RedisHostPortAndDatabase)
{
    auto full = parse_store_url("redis://cache.local:6380/2", "/");
    ASSERT_TRUE(full) << full.error();
    EXPECT_EQ(std::get<RedisStore>(full.value()), (RedisStore{"cache.local", 6380, 2}));
    EXPECT_EQ(std::get<RedisStore>(parse_store_url("redis://localhost", "/").value()), (RedisStore{"localhost", 6379, 0}));
    auto v6 = parse_store_url("redis://[::1]:7000/1", "/");
    ASSERT_TRUE(v6) << v6.error();
    EXPECT_EQ(std::get<RedisStore>(v6.value()), (RedisStore{"::1", 7000, 1}));
    EXPECT_EQ(to_string(v6.value()), "redis://[::1]:7000/1");
    EXPECT_EQ(to_string(full.value()), "redis://cache.local:6380/2");
}

TEST(StoreUrl, RefusesOtherSchemesByName)
{
    EXPECT_EQ(parse_store_url("postgres://db/x", "/").error(),
              "unknown store scheme \"postgres\" in \"postgres://db/x\" (expected sqlite:PATH or redis://HOST:PORT/DB)");
    EXPECT_EQ(parse_store_url("jobs.db", "/").error(),
              "store \"jobs.db\" has no scheme (expected sqlite:PATH or redis://HOST:PORT/DB)");
    EXPECT_EQ(parse_store_url("sqlite:", "/").error(), "store \"sqlite:\" has no path (e.g. sqlite:data/jobs.db)");
    EXPECT_EQ(parse_store_url("sqlite:///x.db", "/").error(),
              "store \"sqlite:///x.db\": write sqlite:PATH, without \"//\" (e.g. sqlite:data/jobs.db)");
    EXPECT_EQ(parse_store_url("redis://h:0/1", "/").error(),
              "store \"redis://h:0/1\": port \"0\" is not a number from 1 to 65535 (expected sqlite:PATH or "
              "redis://HOST:PORT/DB)");
    EXPECT_FALSE(parse_store_url("redis://h:80/x", "/"));
    EXPECT_FALSE(parse_store_url("redis://user:pw@h:80/1", "/"));
    EXPECT_FALSE(parse_store_url("redis://:80/1", "/"));
    EXPECT_FALSE(parse_store_url("redis:h", "/"));
}

} // namespace
} // namespace sandhost::config
