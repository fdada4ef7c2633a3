// `sandhost run` processes sharing one Redis server: they split the jobs, every command works
// against the server as against a SQLite file, and a host killed with SIGKILL has its attempts
// recovered by another host within the lease.
#include "redis_deployment.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

namespace sandhost {
namespace {

// Every job in `state`, any queue.
store::JobFilter state_filter(model::JobState state)
{
    store::JobFilter filter;
    filter.state = state;
    filter.limit = 0;
    return filter;
}

using namespace std::chrono_literals;
namespace t = sandhost::testing;
using model::JobState;
using model::OutcomeKind;

class RedisHostsTest : public ::testing::Test {
protected:
    void SetUp() override { SANDHOST_SKIP_WITHOUT_REDIS_SERVER(); }
    void TearDown() override
    {
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }
};

TEST_F(RedisHostsTest, HostsShareTheJobsAndEveryCommandWorksAgainstTheServer)
{
    t::RedisDeployment d("  default:\n    tasks: [\"misbehave.*\", \"marker.*\"]\n    concurrency: 2\n");
    auto a = d.start_host("host-a");
    auto b = d.start_host("host-b");
    ASSERT_TRUE(t::eventually([&] {
        const auto out = d.cli({"hosts"}).out;
        return out.find("host-a  alive") != std::string::npos && out.find("host-b  alive") != std::string::npos;
    }, 30s)) << d.cli({"hosts"}).out;
    // Each registers, then publishes the catalog of its plugin folders.
    ASSERT_TRUE(t::eventually([&] {
        const auto hosts = d.store().hosts();
        return hosts.size() == 2 && !hosts[0].catalog.plugins.empty() && !hosts[1].catalog.plugins.empty();
    }, 30s));

    // Enqueue through the CLI, checked against the catalogs the hosts published to the server.
    const auto typo = d.cli({"enqueue", "default", "misbehave.slep"});
    EXPECT_EQ(typo.exit_code, 2);
    EXPECT_NE(typo.err.find("did you mean 'sleep'?"), std::string::npos) << typo.err;
    std::vector<model::JobId> ids;
    for (int i = 0; i < 24; ++i) {
        const auto r = d.cli({"enqueue", "default", "misbehave.sleep", "--payload", R"({"ms":100})", "--json"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        ids.push_back(Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>()->getValue<std::int64_t>("id"));
    }
    ASSERT_TRUE(t::eventually([&] { return d.all_final(ids); }, 60s));
    std::map<std::string, int> by_host;
    for (auto id : ids) {
        const auto job = d.store().get(id);
        ASSERT_TRUE(job);
        EXPECT_EQ(job->state, JobState::completed) << id;
        const auto attempts = d.store().attempts(id);
        ASSERT_EQ(attempts.size(), 1u) << id;
        ++by_host[attempts[0].host.substr(0, attempts[0].host.find('/'))];
    }
    EXPECT_EQ(by_host.size(), 2u) << "both hosts took jobs";

    const auto shown = d.cli({"job", "show", std::to_string(ids.front())});
    EXPECT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_NE(shown.out.find("completed"), std::string::npos) << shown.out;
    const auto listed = d.cli({"jobs", "--state", "completed", "--limit", "100"});
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    const auto queues = d.cli({"queues", "--json"});
    EXPECT_EQ(queues.exit_code, 0) << queues.err;
    EXPECT_NE(queues.out.find("\"completed\":24"), std::string::npos) << queues.out;
    EXPECT_EQ(d.cli({"pause", "default"}).exit_code, 0);
    EXPECT_EQ(d.store().paused_queues(), std::vector<std::string>{"default"});
    EXPECT_EQ(d.cli({"resume", "default"}).exit_code, 0);
    const auto waited = d.cli({"enqueue", "default", "misbehave.echo", "--payload", R"({"x":1})", "--wait"});
    EXPECT_EQ(waited.exit_code, 0) << waited.err;
    EXPECT_EQ(d.cli({"purge", "--state", "completed"}).exit_code, 0);
    EXPECT_TRUE(d.store().list(state_filter(JobState::completed)).empty());

    EXPECT_EQ(a->stop(), 0);
    EXPECT_EQ(b->stop(), 0);
    const auto hosts = d.cli({"hosts", "--json"});
    auto records = Poco::JSON::Parser().parse(hosts.out).extract<Poco::JSON::Array::Ptr>();
    ASSERT_EQ(records->size(), 2u) << hosts.out;
    for (std::size_t i = 0; i < records->size(); ++i) {
        EXPECT_FALSE(records->getObject(static_cast<unsigned>(i))->getValue<bool>("alive")) << hosts.out;
    }
    EXPECT_EQ(d.log_text("host-a").find("store persists"), std::string::npos) << "the test server keeps an append-only file";
}

TEST_F(RedisHostsTest, AHostKilledWithSigkillHasItsAttemptsRecoveredWithinTheLease)
{
    t::RedisDeployment d("  default:\n    tasks: [\"misbehave.*\"]\n    concurrency: 2\n"
                         "    retry: {max_attempts: 3, backoff: {type: fixed, delay: 10ms}}\n",
                         "  lease: 2s\n");
    auto doomed = d.start_host("doomed");
    std::vector<model::JobId> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(d.enqueue("default", "misbehave.sleep", R"({"ms":1500})"));
    // The doomed host runs two of them.
    std::string holder;
    ASSERT_TRUE(t::eventually([&] {
        const auto active = d.store().list(state_filter(JobState::active));
        if (active.size() < 2) return false;
        holder = active.front().lease->holder;
        return true;
    }, 30s));
    const pid_t doomed_pid = doomed->pid();
    auto survivor = d.start_host("survivor");
    // Killed while the survivor runs the others.
    ASSERT_TRUE(t::eventually([&] { return d.store().list(state_filter(JobState::active)).size() >= 3; }, 30s));
    doomed->kill();
    const auto killed_at = std::chrono::system_clock::now();
    EXPECT_TRUE(t::eventually([&] { return t::workers_of(doomed_pid).empty(); })) << "a worker outlived its host";

    ASSERT_TRUE(t::eventually([&] { return d.all_final(ids); }, 60s));
    int lost = 0;
    for (auto id : ids) {
        EXPECT_EQ(d.store().get(id)->state, JobState::completed) << id;
        int succeeded = 0;
        for (const auto& attempt : d.store().attempts(id)) {
            if (attempt.outcome.kind == OutcomeKind::succeeded) ++succeeded;
            if (attempt.host != holder || attempt.outcome.kind != OutcomeKind::worker_lost) continue;
            ++lost;
            // Recovered once the lease ran out (2 s), by the survivor's next look (every second).
            EXPECT_LE(attempt.outcome.ended_at - killed_at, 2s + 1500ms) << "job " << id;
        }
        EXPECT_EQ(succeeded, 1) << "job " << id;
    }
    EXPECT_GE(lost, 1) << "the kill must have interrupted something for this test to mean anything";
    EXPECT_EQ(survivor->stop(), 0);
}

} // namespace
} // namespace sandhost
