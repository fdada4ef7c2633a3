// `sandhost copy`: a deployment that ran on the embedded store moves to a Redis server with its
// jobs and their history, and hosts on the server go on where the host on the file stopped.
#include "redis_deployment.h"

#include "model/job_json.h"
#include "store/sqlite_store.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <fstream>

namespace sandhost {
namespace {

using namespace std::chrono_literals;
namespace t = sandhost::testing;
using model::JobState;

class CopyCliTest : public ::testing::Test {
protected:
    void SetUp() override { SANDHOST_SKIP_WITHOUT_REDIS_SERVER(); }
    void TearDown() override
    {
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }
};

std::string read_file(const std::filesystem::path& file)
{
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

model::JobId id_of(const t::CommandResult& r)
{
    return Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>()->getValue<std::int64_t>("id");
}

TEST_F(CopyCliTest, AnEmbeddedDeploymentMovesToRedisWithItsJobsAndGoesOnThere)
{
    t::RedisDeployment d("  default:\n    tasks: [\"misbehave.*\"]\n    retry: {max_attempts: 1}\n");
    // The same deployment on a file: the Redis configuration with its store swapped.
    std::string text = read_file(d.config_for("file-host"));
    const std::string redis_line = "  store: \"" + d.server().url() + "\"\n";
    ASSERT_NE(text.find(redis_line), std::string::npos) << text;
    text.replace(text.find(redis_line), redis_line.size(), "  store: \"sqlite:" + (d.dir() / "jobs.db").string() + "\"\n");
    const auto file_config = d.dir() / "file.yaml";
    std::ofstream(file_config) << text;
    auto on_file = [&](std::vector<std::string> args) {
        args.insert(args.begin(), t::sandhost_executable().string());
        args.push_back("--config");
        args.push_back(file_config.string());
        return t::run_command(args);
    };

    // A host on the file runs a job to its end and one to its crash; one is left delayed, with
    // a job blocked on it; the queue is paused.
    std::vector<model::JobId> ran;
    {
        t::HostProcess host(file_config, d.dir() / "file-host.log");
        for (const char* task : {"misbehave.echo", "misbehave.segfault"}) {
            const auto r = on_file({"enqueue", "default", task, "--payload", R"({"x": 7})", "--wait", "--json"});
            ASSERT_NE(r.out.find("\"id\""), std::string::npos) << r.out << r.err;
            ran.push_back(id_of(r));
        }
        const auto refused = on_file({"copy", "--to", d.server().url(), "--to-prefix", "chaos:"});
        EXPECT_EQ(refused.exit_code, 1);
        EXPECT_NE(refused.err.find("a host serves"), std::string::npos) << refused.err;
        EXPECT_TRUE(d.store().list(store::JobFilter{}).empty()) << "nothing was copied while a host ran";
        EXPECT_EQ(host.stop(), 0);
    }
    const auto delayed = on_file({"enqueue", "default", "misbehave.echo", "--delay", "1h", "--key", "nightly-7", "--json"});
    ASSERT_EQ(delayed.exit_code, 0) << delayed.err;
    const auto blocked = on_file({"enqueue", "default", "misbehave.echo", "--depends-on", std::to_string(id_of(delayed)), "--json"});
    ASSERT_EQ(blocked.exit_code, 0) << blocked.err;
    ASSERT_EQ(on_file({"pause", "default"}).exit_code, 0);

    const auto copied = on_file({"copy", "--to", d.server().url(), "--to-prefix", "chaos:", "--json"});
    ASSERT_EQ(copied.exit_code, 0) << copied.err;
    const auto report = Poco::JSON::Parser().parse(copied.out).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(report->getValue<int>("jobs"), 4);
    EXPECT_EQ(report->getValue<int>("attempts"), 2);
    EXPECT_EQ(report->getValue<int>("not_copied"), 0);
    EXPECT_GT(report->getValue<std::int64_t>("event"), 0) << "the server's feed goes on from a store.copied event";
    EXPECT_NE(copied.out.find("\"paused\":[\"default\"]"), std::string::npos) << copied.out;
    // Job for job, as `job show --json` prints them from either store.
    for (model::JobId id : {ran[0], ran[1], id_of(delayed), id_of(blocked)}) {
        const auto there = d.cli({"job", "show", std::to_string(id), "--json"});
        const auto here = on_file({"job", "show", std::to_string(id), "--json"});
        ASSERT_EQ(there.exit_code, 0) << there.err;
        EXPECT_EQ(there.out, here.out);
    }
    EXPECT_NE(d.cli({"job", "show", std::to_string(ran[1]), "--json"}).out.find("SIGSEGV"), std::string::npos);
    // Again: the server holds jobs now.
    const auto twice = on_file({"copy", "--to", d.server().url(), "--to-prefix", "chaos:"});
    EXPECT_EQ(twice.exit_code, 1);
    EXPECT_NE(twice.err.find("holds jobs already"), std::string::npos) << twice.err;

    // A host on the server goes on: the key is held, the delayed job runs when promoted and
    // releases the job blocked on it, and new jobs are numbered after the copied ones.
    auto host = d.start_host("redis-host");
    const auto same_key = d.cli({"enqueue", "default", "misbehave.echo", "--key", "nightly-7", "--json"});
    EXPECT_EQ(id_of(same_key), id_of(delayed));
    ASSERT_EQ(d.cli({"resume", "default"}).exit_code, 0);
    ASSERT_EQ(d.cli({"job", "promote", std::to_string(id_of(delayed))}).exit_code, 0);
    ASSERT_TRUE(t::eventually([&] {
        const auto job = d.store().get(id_of(blocked));
        return job && job->state == JobState::completed;
    }, 60s)) << d.log_text("redis-host");
    const auto fresh = d.cli({"enqueue", "default", "misbehave.echo", "--wait", "--json"});
    EXPECT_GT(id_of(fresh), id_of(blocked));
    EXPECT_EQ(host->stop(), 0);
    // The file is as it was.
    EXPECT_NE(on_file({"job", "show", std::to_string(id_of(blocked)), "--json"}).out.find("\"state\":\"blocked\""), std::string::npos);
}

TEST_F(CopyCliTest, BadRequestsAreRefusedBeforeAnythingIsWritten)
{
    t::RedisDeployment d("  default:\n    tasks: [\"misbehave.*\"]\n");
    d.enqueue("default", "misbehave.echo");
    // A running job: refused, and the file made for the copy goes again.
    const auto now = std::chrono::system_clock::now();
    store::QueueAllowance any;
    any.queue = "default";
    const auto claim = d.store().claim({any}, "other/1", std::chrono::seconds(30), now);
    ASSERT_TRUE(claim);
    const auto busy = d.cli({"copy", "--to", "sqlite:" + (d.dir() / "busy.db").string()});
    EXPECT_EQ(busy.exit_code, 1);
    EXPECT_NE(busy.err.find("holds running jobs"), std::string::npos) << busy.err;
    EXPECT_FALSE(std::filesystem::exists(d.dir() / "busy.db"));
    model::AttemptRecord ended;
    ended.job_id = claim->job.id;
    ended.attempt_id = claim->attempt_id;
    ended.number = claim->number;
    ended.outcome.kind = model::OutcomeKind::succeeded;
    ended.outcome.started_at = now;
    ended.outcome.ended_at = now;
    store::Transition completed;
    completed.result = "\"done\"";
    ASSERT_TRUE(d.store().finish(ended, completed, now));
    auto missing = d.cli({"copy"});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("--to STORE is required"), std::string::npos) << missing.err;
    auto itself = d.cli({"copy", "--to", d.server().url(), "--to-prefix", "chaos:"});
    EXPECT_EQ(itself.exit_code, 2);
    EXPECT_NE(itself.err.find("the configured store itself"), std::string::npos) << itself.err;
    auto scheme = d.cli({"copy", "--to", "mysql://db"});
    EXPECT_EQ(scheme.exit_code, 2);
    EXPECT_NE(scheme.err.find("--to: unknown store scheme"), std::string::npos) << scheme.err;
    const auto file = d.dir() / "copy.db";
    auto prefix = d.cli({"copy", "--to", "sqlite:" + file.string(), "--to-prefix", "x:"});
    EXPECT_EQ(prefix.exit_code, 2);
    EXPECT_NE(prefix.err.find("--to-prefix is for a Redis server"), std::string::npos) << prefix.err;
    EXPECT_FALSE(std::filesystem::exists(file));
    // A configuration whose store file is not there has nothing to copy; none is made.
    const auto nowhere = d.dir() / "nowhere.yaml";
    std::ofstream(nowhere) << "host:\n  store: \"sqlite:" << (d.dir() / "missing.db").string() << "\"\nqueues: {}\n";
    const auto no_store = t::run_command({t::sandhost_executable().string(), "copy", "--to", "sqlite:" + file.string(), "--config", nowhere.string()});
    EXPECT_EQ(no_store.exit_code, 1);
    EXPECT_NE(no_store.err.find("there is no store at"), std::string::npos) << no_store.err;
    EXPECT_FALSE(std::filesystem::exists(d.dir() / "missing.db"));
    EXPECT_FALSE(std::filesystem::exists(file));
    // Into a file, and back into another prefix of the server: the same job each time.
    auto into_file = d.cli({"copy", "--to", "sqlite:" + file.string()});
    ASSERT_EQ(into_file.exit_code, 0) << into_file.err;
    EXPECT_NE(into_file.out.find("copied 1 job and 1 attempt "), std::string::npos) << into_file.out;
    auto store = store::open_sqlite_store(file);
    ASSERT_EQ(store->list(store::JobFilter{}).size(), 1u);
    EXPECT_EQ(model::to_json(store->list(store::JobFilter{}).front(), nullptr),
              model::to_json(d.store().list(store::JobFilter{}).front(), nullptr));
}

TEST_F(CopyCliTest, ACopyThatStopsPartWaySaysWhatTheTargetHoldsAndGoesOnWithResume)
{
    t::RedisDeployment d("  default:\n    tasks: [\"misbehave.*\"]\n");
    // A file of 3,000 jobs of 1 KiB, into a server that runs out of memory after about three MiB.
    const auto file = d.dir() / "jobs.db";
    {
        auto source = store::open_sqlite_store(file);
        std::vector<model::NewJob> batch;
        for (int i = 0; i < 1'000; ++i) {
            model::NewJob job;
            job.queue = "default";
            job.task = "misbehave.echo";
            job.payload = "{\"pad\": \"" + std::string(1024, 'x') + "\"}";
            batch.push_back(job);
        }
        for (int round = 0; round < 3; ++round) source->enqueue_jobs(batch, std::chrono::system_clock::now());
    }
    std::string text = read_file(d.config_for("file-host"));
    const std::string redis_line = "  store: \"" + d.server().url() + "\"\n";
    text.replace(text.find(redis_line), redis_line.size(), "  store: \"sqlite:" + file.string() + "\"\n");
    const auto file_config = d.dir() / "file.yaml";
    std::ofstream(file_config) << text;
    const std::string info = d.server().command("INFO memory");
    const auto at = info.find("used_memory:");
    ASSERT_NE(at, std::string::npos) << info;
    const long used = std::stol(info.substr(at + 12));
    d.server().command("CONFIG SET maxmemory " + std::to_string(used + (3 << 20)));

    const auto r = t::run_command({t::sandhost_executable().string(), "copy", "--to", d.server().url(), "--to-prefix", "chaos:", "--config",
                                   file_config.string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("OOM"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("jobs copied before that, a part of the store: run the same command with --resume to copy the rest"), std::string::npos)
        << r.err;
    d.server().command("CONFIG SET maxmemory 0");
    const auto held = d.store().list(store::JobFilter{});
    EXPECT_FALSE(held.empty());
    // Whole steps: every job there is in its hash and its indexes alike.
    EXPECT_EQ(std::stoul(d.server().command("KEYS chaos:job:*").substr(1)), d.store().queue_counts({}).at("default").by_state.at(JobState::waiting));
    EXPECT_NE(r.err.find("holds the " + std::to_string(d.store().queue_counts({}).at("default").by_state.at(JobState::waiting)) + " jobs"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(store::open_sqlite_store(file)->queue_counts({}).at("default").by_state.at(JobState::waiting), 3'000u) << "the file is as it was";

    // With room again: the same command is refused (the server holds jobs), and with --resume
    // it copies the rest, leaving what was there as it was.
    const std::uint64_t held_count = d.store().queue_counts({}).at("default").by_state.at(JobState::waiting);
    auto copy = [&](std::vector<std::string> extra) {
        std::vector<std::string> args{t::sandhost_executable().string(), "copy", "--to", d.server().url(), "--to-prefix", "chaos:", "--config",
                                      file_config.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return t::run_command(args);
    };
    const auto again = copy({});
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_NE(again.err.find("holds jobs already"), std::string::npos) << again.err;
    const auto resumed = copy({"--resume", "--json"});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    const auto said = Poco::JSON::Parser().parse(resumed.out).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(said->getValue<std::uint64_t>("already_there"), held_count);
    EXPECT_EQ(said->getValue<std::uint64_t>("jobs"), 3'000u - held_count);
    store::JobFilter all;
    all.limit = 0;
    const auto copied = d.store().list(all);
    const auto original = store::open_sqlite_store(file)->list(all);
    ASSERT_EQ(copied.size(), 3'000u);
    ASSERT_EQ(original.size(), 3'000u);
    for (std::size_t i = 0; i < copied.size(); ++i) ASSERT_EQ(model::to_json(copied[i], nullptr), model::to_json(original[i], nullptr)) << i;
}

} // namespace
} // namespace sandhost
