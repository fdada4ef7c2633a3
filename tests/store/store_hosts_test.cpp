// Host records: one live instance per host name, what a host publishes and beats, and a
// record that stays when its host stops. Through Store& only: every Store implementation runs
// these.
#include "store_test_support.h"

#include <gtest/gtest.h>

namespace sandhost::store {
namespace {

using namespace testing;

constexpr auto k_stale = std::chrono::milliseconds(30'000);

model::PluginCatalog catalog()
{
    model::PluginCatalog c;
    c.dirs = {"/opt/sandhost/plugins", "/srv/plugins"};
    model::PluginInfo hello;
    hello.name = "hello";
    hello.path = "/opt/sandhost/plugins/libhello.so";
    hello.version = "1.2.0";
    hello.tasks = {{"greet", "says hello"}, {"fail", "always fails \"on purpose\""}};
    model::PluginInfo broken;
    broken.name = "broken";
    broken.path = "/srv/plugins/libbroken.so";
    broken.error = "undefined symbol: sh_plugin_entry";
    c.plugins = {broken, hello};
    return c;
}

model::HostStatus status()
{
    model::HostStatus s;
    s.running = {model::RunningAttempt{42, 2, "default", "hello.greet", 3131, t(5)}};
    s.workers = {model::WorkerInfo{3131, model::Mode::fork, model::WorkerInfo::Role::job, "libhello.so", 2048},
                 model::WorkerInfo{3000, model::Mode::fork, model::WorkerInfo::Role::fork_server, "libhello.so", 1024}};
    s.broken_plugins = {model::BrokenPlugin{"/srv/plugins/libbroken.so", "undefined symbol", 3, t(60'000)}};
    return s;
}

const std::vector<model::ServedQueue> k_queues{{"default", {"hello.*"}}, {"legacy", {"legacy_c.checksum", "hello.greet"}}};

class StoreHostsTest : public StoreTest {
protected:
    model::HostRecord record(const std::string& name)
    {
        for (auto& host : store().hosts()) {
            if (host.name == name) return host;
        }
        throw std::runtime_error("no host record " + name);
    }
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreHostsTest, ::testing::ValuesIn(store_kinds()), store_kind_name);

TEST_P(StoreHostsTest, ASecondLiveInstanceIsRefusedUntilTheFirstGoesStale)
{
    EXPECT_TRUE(store().register_host("host-a", "host-a/m:1:x", t(0), k_stale));
    EXPECT_FALSE(store().register_host("host-a", "host-a/m:2:y", t(29'999), k_stale));
    EXPECT_EQ(store().host_registration("host-a"), std::make_pair(std::string("host-a/m:1:x"), t(0)));
    EXPECT_TRUE(store().heartbeat("host-a", "host-a/m:1:x", {}, t(20'000)));
    EXPECT_FALSE(store().register_host("host-a", "host-a/m:2:y", t(49'999), k_stale)) << "it beat at t(20'000)";
    EXPECT_TRUE(store().register_host("host-b", "host-b/m:1:z", t(49'999), k_stale)) << "another name";

    EXPECT_TRUE(store().register_host("host-a", "host-a/m:2:y", t(50'000), k_stale)) << "the first went stale";
    const model::HostRecord a = record("host-a");
    EXPECT_EQ(a.holder, "host-a/m:2:y");
    EXPECT_EQ(a.started_at, t(50'000));
    EXPECT_EQ(a.heartbeat_at, t(50'000));
    EXPECT_FALSE(a.stopped_at);
    EXPECT_FALSE(store().heartbeat("host-a", "host-a/m:1:x", status(), t(50'001))) << "the first instance lost the name";
    EXPECT_EQ(record("host-a").heartbeat_at, t(50'000));
    EXPECT_TRUE(record("host-a").status.running.empty());
}

TEST_P(StoreHostsTest, TakeOverReplacesALiveHolder)
{
    ASSERT_TRUE(store().register_host("host-a", "host-a/m:1:x", t(0), k_stale));
    ASSERT_TRUE(store().heartbeat("host-a", "host-a/m:1:x", status(), t(1)));
    store().take_over_host("host-a", "host-a/m:2:y", t(2));
    EXPECT_EQ(store().host_registration("host-a"), std::make_pair(std::string("host-a/m:2:y"), t(2)));
    const model::HostRecord a = record("host-a");
    EXPECT_EQ(a.started_at, t(2));
    EXPECT_TRUE(a.status.running.empty()) << "what the previous instance ran is not the new one's";
    EXPECT_FALSE(store().heartbeat("host-a", "host-a/m:1:x", status(), t(3)));
    EXPECT_FALSE(store().publish_host("host-a", "host-a/m:1:x", "0.1.0", k_queues, catalog(), t(3)));
    EXPECT_TRUE(store().heartbeat("host-a", "host-a/m:2:y", status(), t(4)));
}

TEST_P(StoreHostsTest, HostsRoundTripsWhatWasPublishedAndBeaten)
{
    EXPECT_TRUE(store().hosts().empty());
    ASSERT_TRUE(store().register_host("host-b", "host-b/m:7:q", t(0), k_stale));
    ASSERT_TRUE(store().register_host("host-a", "host-a/m:1:x", t(1), k_stale));
    EXPECT_TRUE(store().publish_host("host-a", "host-a/m:1:x", "0.1.0", k_queues, catalog(), t(2)));
    EXPECT_TRUE(store().heartbeat("host-a", "host-a/m:1:x", status(), t(3)));
    EXPECT_FALSE(store().publish_host("host-a", "host-a/m:9:other", "9.9.9", {}, {}, t(4))) << "not the holder";
    EXPECT_FALSE(store().publish_host("host-c", "host-c/m:1:x", "0.1.0", k_queues, catalog(), t(4))) << "not registered";

    const auto hosts = store().hosts();
    ASSERT_EQ(hosts.size(), 2u);
    const model::HostRecord& a = hosts[0];
    EXPECT_EQ(a.name, "host-a");
    EXPECT_EQ(a.holder, "host-a/m:1:x");
    EXPECT_EQ(a.version, "0.1.0");
    EXPECT_EQ(a.started_at, t(1));
    EXPECT_EQ(a.heartbeat_at, t(3));
    EXPECT_FALSE(a.stopped_at);
    EXPECT_EQ(a.queues, k_queues);
    EXPECT_EQ(a.catalog_at, t(2));
    EXPECT_EQ(model::to_json(a.catalog), model::to_json(catalog()));
    ASSERT_EQ(a.catalog.plugins.size(), 2u);
    EXPECT_EQ(a.catalog.plugins[1].tasks[1].description, "always fails \"on purpose\"");
    EXPECT_EQ(a.catalog.plugins[0].error, "undefined symbol: sh_plugin_entry");
    EXPECT_EQ(a.status, status());

    const model::HostRecord& b = hosts[1];
    EXPECT_EQ(b.name, "host-b");
    EXPECT_EQ(b.version, "");
    EXPECT_TRUE(b.queues.empty());
    EXPECT_TRUE(b.catalog.plugins.empty());
    EXPECT_EQ(b.catalog_at, model::TimePoint{});
    EXPECT_EQ(b.status, model::HostStatus{});

    // A second publish replaces the first.
    const std::vector<model::ServedQueue> fewer{{"default", {"hello.greet"}}};
    EXPECT_TRUE(store().publish_host("host-a", "host-a/m:1:x", "0.2.0", fewer, {}, t(5)));
    EXPECT_EQ(record("host-a").queues, fewer);
    EXPECT_EQ(record("host-a").version, "0.2.0");
    EXPECT_TRUE(record("host-a").catalog.plugins.empty());
    EXPECT_EQ(record("host-a").catalog_at, t(5));
    EXPECT_EQ(record("host-a").status, status()) << "a publish leaves the status alone";
}

TEST_P(StoreHostsTest, UnregisterKeepsTheRecordWithWhenItStopped)
{
    ASSERT_TRUE(store().register_host("host-a", "host-a/m:1:x", t(0), k_stale));
    ASSERT_TRUE(store().publish_host("host-a", "host-a/m:1:x", "0.1.0", k_queues, catalog(), t(1)));
    ASSERT_TRUE(store().heartbeat("host-a", "host-a/m:1:x", status(), t(2)));

    store().unregister_host("host-a", "host-a/m:9:other", t(3));  // not the holder: no effect
    EXPECT_FALSE(record("host-a").stopped_at);
    store().unregister_host("host-a", "host-a/m:1:x", t(4));
    model::HostRecord a = record("host-a");
    EXPECT_EQ(a.stopped_at, t(4));
    EXPECT_EQ(a.holder, "host-a/m:1:x");
    EXPECT_EQ(a.heartbeat_at, t(2));
    EXPECT_EQ(a.status, model::HostStatus{}) << "a stopped host runs nothing";
    EXPECT_EQ(a.queues, k_queues) << "its catalog keeps serving enqueue checks";
    EXPECT_EQ(model::to_json(a.catalog), model::to_json(catalog()));
    EXPECT_EQ(store().host_registration("host-a"), std::make_pair(std::string("host-a/m:1:x"), t(2)));
    EXPECT_FALSE(a.alive(t(5), k_stale));

    // A stopped instance holds the name no more.
    EXPECT_FALSE(store().heartbeat("host-a", "host-a/m:1:x", status(), t(5)));
    EXPECT_FALSE(store().publish_host("host-a", "host-a/m:1:x", "0.1.0", k_queues, catalog(), t(5)));
    store().unregister_host("host-a", "host-a/m:1:x", t(6));
    EXPECT_EQ(record("host-a").stopped_at, t(4)) << "stopped once";

    // Another instance starts at once: the stopped one is not in its way, however recent.
    EXPECT_TRUE(store().register_host("host-a", "host-a/m:2:y", t(7), k_stale));
    a = record("host-a");
    EXPECT_FALSE(a.stopped_at);
    EXPECT_EQ(a.holder, "host-a/m:2:y");
    EXPECT_EQ(a.started_at, t(7));
    EXPECT_EQ(a.queues, k_queues) << "kept until the new instance publishes";
    EXPECT_TRUE(a.alive(t(8), k_stale));
}

} // namespace
} // namespace sandhost::store
