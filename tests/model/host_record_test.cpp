#include "model/host_record.h"

#include <gtest/gtest.h>

namespace sandhost::model {
namespace {

TimePoint at(std::int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

TEST(TaskAllowed, MatchesNamesAndPluginWildcards)
{
    const std::vector<std::string> patterns{"hello.echo", "legacy_c.*"};
    EXPECT_TRUE(task_allowed(patterns, "hello.echo"));
    EXPECT_TRUE(task_allowed(patterns, "legacy_c.parse"));
    EXPECT_FALSE(task_allowed(patterns, "hello.word_count"));
    EXPECT_FALSE(task_allowed(patterns, "legacy.parse"));     // a plugin whose name is a prefix
    EXPECT_FALSE(task_allowed(patterns, "legacy_cc.parse"));
    EXPECT_FALSE(task_allowed(patterns, "misbehave.sleep"));
    EXPECT_FALSE(task_allowed({}, "hello.echo"));
}

TEST(PluginCatalogJson, ReadsBackEveryField)
{
    PluginCatalog catalog;
    catalog.dirs = {"/usr/lib/sandhost/plugins", "/opt/p"};
    PluginInfo hello;
    hello.name = "hello";
    hello.path = "/opt/p/hello.so";
    hello.version = "1.0.0";
    hello.tasks = {{"echo", "returns its payload"}, {"word_count", "counts \"words\""}};
    PluginInfo broken;
    broken.name = "broken";
    broken.path = "/opt/p/broken.so";
    broken.error = "not a library";
    catalog.plugins = {broken, hello};
    const auto back = catalog_from_json(to_json(catalog));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->dirs, catalog.dirs);
    ASSERT_EQ(back->plugins.size(), 2u);
    EXPECT_EQ(back->plugins[0].error, "not a library");
    EXPECT_FALSE(back->plugins[0].ok());
    EXPECT_EQ(back->plugins[1].path, hello.path);
    EXPECT_EQ(back->plugins[1].version, "1.0.0");
    ASSERT_EQ(back->plugins[1].tasks.size(), 2u);
    EXPECT_EQ(back->plugins[1].tasks[1].description, "counts \"words\"");
    EXPECT_TRUE(back->find("hello"));
    EXPECT_FALSE(back->find("broken"));  // not loadable
    EXPECT_FALSE(catalog_from_json("[1,2]"));
    EXPECT_FALSE(catalog_from_json("{\"plugins\": [3]}"));
}

TEST(HostStatusJson, ReadsBackEveryField)
{
    HostStatus status;
    status.running = {{12, 2, "default", "hello.echo", 4242, at(1700000000123)}};
    status.workers = {{4242, Mode::fork, WorkerInfo::Role::job, "hello.so", 2048},
                      {4000, Mode::fork, WorkerInfo::Role::fork_server, "hello.so", 4096},
                      {4100, Mode::reuse, WorkerInfo::Role::idle, "legacy_c.so", 1024}};
    status.broken_plugins = {{"/p/bad.so", "no entry symbol", 3, at(1700000005000)}};
    const auto back = host_status_from_json(to_json(status));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, status);
    EXPECT_FALSE(host_status_from_json("not json"));
}

TEST(ServedQueuesJson, ReadsBack)
{
    const std::vector<ServedQueue> queues{{"default", {"hello.*", "legacy_c.checksum"}}, {"empty", {}}, {"ttl", {"a.b"}, Duration(90000)}};
    EXPECT_EQ(served_queues_from_json(to_json(queues)), queues);
    EXPECT_FALSE(served_queues_from_json("{}"));
}

TEST(HostRecord, IsAliveWhileItsHeartbeatIsFreshAndItHasNotStopped)
{
    HostRecord record;
    record.heartbeat_at = at(10'000);
    EXPECT_TRUE(record.alive(at(14'000), std::chrono::seconds(5)));
    EXPECT_FALSE(record.alive(at(15'000), std::chrono::seconds(5)));
    record.stopped_at = at(12'000);
    EXPECT_FALSE(record.alive(at(12'500), std::chrono::seconds(5)));
}

TEST(DescribeHolder, NamesTheHostAndItsProcess)
{
    EXPECT_EQ(describe_holder("vm/vm:27314:a9702338"), "vm (pid 27314)");
    EXPECT_EQ(describe_holder("worker-a/box7:12:ffff0000"), "worker-a (pid 12 on box7)");
    EXPECT_EQ(describe_holder("host/1"), "host/1") << "not an instance this code makes: as it is";
    EXPECT_EQ(describe_holder("h/m:x:1"), "h/m:x:1");
}

} // namespace
} // namespace sandhost::model
