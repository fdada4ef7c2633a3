#include "config/store_url.h"

#include <gtest/gtest.h>

namespace sandhost::config {
namespace {

RedisStore tcp(const std::string& host, std::uint16_t port = 6379, std::uint32_t db = 0)
{
    RedisStore store;
    store.host = host;
    store.port = port;
    store.db = db;
    return store;
}

RedisStore unix_socket(const std::filesystem::path& socket, std::uint32_t db = 0)
{
    RedisStore store;
    store.host.clear();
    store.socket = socket;
    store.db = db;
    return store;
}

RedisStore with_password(RedisStore store, const std::string& user, const std::string& password)
{
    store.user = user;
    store.password = password;
    return store;
}

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
    EXPECT_EQ(std::get<RedisStore>(full.value()), tcp("cache.local", 6380, 2));
    EXPECT_EQ(std::get<RedisStore>(parse_store_url("redis://localhost", "/").value()), tcp("localhost"));
    auto v6 = parse_store_url("redis://[::1]:7000/1", "/");
    ASSERT_TRUE(v6) << v6.error();
    EXPECT_EQ(std::get<RedisStore>(v6.value()), tcp("::1", 7000, 1));
    EXPECT_EQ(to_string(v6.value()), "redis://[::1]:7000/1");
    EXPECT_EQ(to_string(full.value()), "redis://cache.local:6380/2");
}

TEST(StoreUrl, RedisCredentialsAreReadAndNeverPrinted)
{
    auto with_user = parse_store_url("redis://app:s3cr%40t:x@cache:6380/2", "/");
    ASSERT_TRUE(with_user) << with_user.error();
    EXPECT_EQ(std::get<RedisStore>(with_user.value()),
              with_password(tcp("cache", 6380, 2), "app", "s3cr@t:x"));
    EXPECT_EQ(to_string(with_user.value()), "redis://app:***@cache:6380/2");
    // As ${REDIS_PASSWORD} pastes it: '@', ':' and '/' need no encoding.
    auto raw = parse_store_url("redis://:p@ss/w:rd@localhost", "/");
    ASSERT_TRUE(raw) << raw.error();
    EXPECT_EQ(std::get<RedisStore>(raw.value()).password, "p@ss/w:rd");
    EXPECT_EQ(std::get<RedisStore>(raw.value()).user, "");
    EXPECT_EQ(std::get<RedisStore>(raw.value()).host, "localhost");
    EXPECT_EQ(to_string(raw.value()), "redis://:***@localhost:6379/0");

    const auto bad_port = parse_store_url("redis://:hunter2@cache:99999/0", "/");
    ASSERT_FALSE(bad_port);
    EXPECT_EQ(bad_port.error().find("hunter2"), std::string::npos) << bad_port.error();
    EXPECT_NE(bad_port.error().find("redis://:***@cache:99999/0"), std::string::npos) << bad_port.error();
    const auto no_password = parse_store_url("redis://app@cache", "/");
    ASSERT_FALSE(no_password);
    EXPECT_NE(no_password.error().find("a user needs a password"), std::string::npos) << no_password.error();
    EXPECT_FALSE(parse_store_url("redis://app:@cache", "/"));
}

TEST(StoreUrl, UnixSocketsWithDatabaseAndPassword)
{
    auto plain = parse_store_url("unix:///run/redis/redis.sock", "/etc");
    ASSERT_TRUE(plain) << plain.error();
    EXPECT_EQ(std::get<RedisStore>(plain.value()), unix_socket("/run/redis/redis.sock"));
    EXPECT_EQ(to_string(plain.value()), "unix:///run/redis/redis.sock");
    auto full = parse_store_url("unix://:pw@/run/redis.sock?db=3", "/etc");
    ASSERT_TRUE(full) << full.error();
    EXPECT_EQ(std::get<RedisStore>(full.value()), with_password(unix_socket("/run/redis.sock", 3), "", "pw"));
    EXPECT_EQ(to_string(full.value()), "unix://:***@/run/redis.sock?db=3");
    EXPECT_FALSE(parse_store_url("unix://run/redis.sock", "/"));
    EXPECT_FALSE(parse_store_url("unix:///run/redis.sock?database=1", "/"));
    EXPECT_FALSE(parse_store_url("unix:///run/redis.sock?db=x", "/"));
    EXPECT_FALSE(parse_store_url("unix:/run/redis.sock", "/"));
}

TEST(StoreUrl, RefusesOtherSchemesByName)
{
    EXPECT_EQ(parse_store_url("postgres://db/x", "/").error(),
              "unknown store scheme \"postgres\" in \"postgres://db/x\" (expected sqlite:PATH, redis://HOST:PORT/DB or "
              "unix:///PATH)");
    EXPECT_EQ(parse_store_url("jobs.db", "/").error(),
              "store \"jobs.db\" has no scheme (expected sqlite:PATH, redis://HOST:PORT/DB or unix:///PATH)");
    EXPECT_EQ(parse_store_url("sqlite:", "/").error(), "store \"sqlite:\" has no path (e.g. sqlite:data/jobs.db)");
    EXPECT_EQ(parse_store_url("sqlite:///x.db", "/").error(),
              "store \"sqlite:///x.db\": write sqlite:PATH, without \"//\" (e.g. sqlite:data/jobs.db)");
    EXPECT_EQ(parse_store_url("redis://h:0/1", "/").error(),
              "store \"redis://h:0/1\": port \"0\" is not a number from 1 to 65535 (expected sqlite:PATH, "
              "redis://HOST:PORT/DB or unix:///PATH)");
    EXPECT_FALSE(parse_store_url("redis://h:80/x", "/"));
    EXPECT_FALSE(parse_store_url("redis://h:80/1?x=1", "/"));
    EXPECT_FALSE(parse_store_url("redis://:80/1", "/"));
    EXPECT_FALSE(parse_store_url("redis:h", "/"));
}

} // namespace
} // namespace sandhost::config
