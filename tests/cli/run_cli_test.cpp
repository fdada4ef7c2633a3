// `sandhost run` and the job commands as a user runs them: real processes on one SQLite file.
#include "os/proc.h"
#include "test_support.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace sandhost {
namespace {

namespace t = sandhost::testing;

class Deployment {
public:
    explicit Deployment(const std::string& queues, std::uint32_t max_workers = 4, const std::string& log_format = "text")
    {
        m_config = m_dir / "sandhost.yaml";
        write_config(queues, max_workers, log_format);
    }
    void write_config(const std::string& queues, std::uint32_t max_workers = 4, const std::string& log_format = "text")
    {
        std::ofstream(m_config) << "host:\n  name: cli-host\n  store: sqlite:jobs.db\n  plugin_dirs: [\"" << t::plugin_dir().string() << "\", \""
                                << t::fixture_plugin_dir().string() << "\"]\n  max_workers: " << max_workers << "\n  log: {format: "
                                << log_format << "}\nsandbox: {timeout: 20s, grace: 300ms}\nqueues:\n"
                                << queues;
    }
    // From now on the job commands read a copy of the current file, while the host's file changes.
    void freeze_cli_config()
    {
        m_cli_config = m_dir / "cli.yaml";
        std::filesystem::copy_file(m_config, m_cli_config, std::filesystem::copy_options::overwrite_existing);
    }
    t::CommandResult cli(std::vector<std::string> args) const
    {
        args.insert(args.begin(), t::sandhost_executable().string());
        args.push_back("--config");
        args.push_back(m_cli_config.empty() ? m_config.string() : m_cli_config.string());
        return t::run_command(args);
    }
    std::unique_ptr<t::BackgroundCommand> start_host(const std::vector<std::string>& extra = {}) const
    {
        std::vector<std::string> args{t::sandhost_executable().string(), "run", "--config", m_config.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return std::make_unique<t::BackgroundCommand>(args);
    }
    Poco::Dynamic::Var json(std::vector<std::string> args) const
    {
        args.push_back("--json");
        const auto r = cli(args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        Poco::JSON::Parser parser;
        return parser.parse(r.out);
    }
    Poco::JSON::Object::Ptr job(std::int64_t id) const { return json({"job", "show", std::to_string(id)}).extract<Poco::JSON::Object::Ptr>(); }
    std::size_t job_count() const { return json({"jobs", "--limit", "100000"}).extract<Poco::JSON::Array::Ptr>()->size(); }
    std::int64_t enqueue(const std::vector<std::string>& args) const
    {
        std::vector<std::string> full{"enqueue"};
        full.insert(full.end(), args.begin(), args.end());
        return json(full).extract<Poco::JSON::Object::Ptr>()->getValue<std::int64_t>("id");
    }
    bool final_state(std::int64_t id) const
    {
        const auto state = job(id)->getValue<std::string>("state");
        return state == "completed" || state == "dead" || state == "cancelled";
    }
    std::filesystem::path path(const std::string& name) const { return m_dir / name; }

private:
    t::TempDir m_dir;
    std::filesystem::path m_config;
    std::filesystem::path m_cli_config;
};

const char* const k_queues = "  default:\n    tasks: [\"misbehave.*\", \"marker.*\", \"hello.*\"]\n    concurrency: 4\n"
                             "    retry: {max_attempts: 3, backoff: {type: fixed, delay: 50ms}}\n";

// The page size a SQLite file says in its header (bytes 16-17, big-endian; 1 means 65536).
int page_size_of(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    unsigned char header[18] = {};
    in.read(reinterpret_cast<char*>(header), sizeof header);
    const int size = (header[16] << 8) | header[17];
    return size == 1 ? 65536 : size;
}

TEST(JobCli, TheStoreFileIsMadeWithTheConfiguredPageSize)
{
    t::TempDir dir;
    std::ofstream(dir / "chosen.yaml") << "host:\n  store: sqlite:chosen.db\n  store_page_size: 4KiB\nqueues:\n  q: {tasks: [hello.echo]}\n";
    std::ofstream(dir / "default.yaml") << "host:\n  store: sqlite:default.db\nqueues:\n  q: {tasks: [hello.echo]}\n";
    for (const char* name : {"chosen", "default"}) {
        const auto r = t::run_command({t::sandhost_executable().string(), "jobs", "--config", (dir / (std::string(name) + ".yaml")).string()});
        EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    EXPECT_EQ(page_size_of(dir / "chosen.db"), 4096);
    EXPECT_EQ(page_size_of(dir / "default.db"), 1024);
}

// A backup taken while a host runs jobs is a store the commands read; compact and restore wait
// for the host to stop, then rebuild the file with the page size asked, and put the copy back.
TEST(JobCli, ABackupIsTakenWhileAHostRunsAndCompactAndRestoreWaitForItToStop)
{
    Deployment d(k_queues);
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(d.enqueue({"default", "misbehave.echo", "--payload", "{\"n\": " + std::to_string(i) + "}"}));
    auto host = d.start_host();
    EXPECT_EQ(d.cli({"wait", std::to_string(ids.back())}).exit_code, 0);
    // More jobs arrive and run while the copy is taken.
    for (int i = 0; i < 20; ++i) d.enqueue({"default", "misbehave.echo"});
    const auto backup = d.json({"backup", d.path("copy.db").string()}).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(backup->getValue<std::string>("file"), d.path("copy.db").string());
    EXPECT_GE(backup->getValue<std::int64_t>("jobs"), 20);
    EXPECT_EQ(backup->getValue<int>("page_size"), 1024);
    const auto again = d.cli({"backup", d.path("copy.db").string()});
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_NE(again.err.find("copy.db exists; a backup never replaces a file"), std::string::npos) << again.err;

    // Into a folder, as the backup timer does: dated copies, the newest kept.
    std::filesystem::create_directory(d.path("backups"));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(d.cli({"backup", "--keep", "2", d.path("backups").string()}).exit_code, 0);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(d.path("backups")), std::filesystem::directory_iterator()), 2);
    const auto not_a_folder = d.cli({"backup", "--keep", "2", d.path("other.db").string()});
    EXPECT_EQ(not_a_folder.exit_code, 2);
    EXPECT_NE(not_a_folder.err.find("--keep needs DEST to be a folder"), std::string::npos) << not_a_folder.err;

    const auto refused = d.cli({"compact", "--page-size", "4KiB"});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("is open in another process"), std::string::npos) << refused.err;
    EXPECT_EQ(page_size_of(d.path("jobs.db")), 1024);
    const auto refused_restore = d.cli({"restore", d.path("copy.db").string()});
    EXPECT_EQ(refused_restore.exit_code, 1);
    EXPECT_NE(refused_restore.err.find("restoring needs the file to itself"), std::string::npos) << refused_restore.err;
    const auto bad = d.cli({"compact", "--page-size", "3KiB"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("--page-size: expected a power of two from 512B to 64KiB, got 3KiB"), std::string::npos) << bad.err;
    ::kill(host->pid(), SIGTERM);
    EXPECT_EQ(host->wait().exit_code, 0);

    const std::size_t jobs = d.job_count();
    const auto compacted = d.json({"compact", "--page-size", "4KiB"}).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(compacted->getValue<int>("page_size"), 4096);
    EXPECT_EQ(compacted->getValue<std::size_t>("jobs"), jobs);
    EXPECT_EQ(page_size_of(d.path("jobs.db")), 4096);
    EXPECT_EQ(d.job_count(), jobs);
    EXPECT_EQ(d.job(ids.front())->getValue<std::string>("state"), "completed");

    // The copy put back: the jobs it held, the job that ran before it was taken with its
    // result, and the store it replaced kept beside it.
    const auto restored = d.json({"restore", d.path("copy.db").string()}).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(restored->getValue<std::int64_t>("jobs"), backup->getValue<std::int64_t>("jobs"));
    const auto replaced = restored->getValue<std::string>("replaced");
    EXPECT_EQ(replaced.rfind(d.path("jobs.db").string() + ".replaced-", 0), 0u) << replaced;
    EXPECT_TRUE(std::filesystem::exists(replaced));
    EXPECT_GT(restored->getValue<std::int64_t>("event"), 0);
    EXPECT_EQ(d.job_count(), static_cast<std::size_t>(backup->getValue<std::int64_t>("jobs")));
    EXPECT_EQ(d.job(ids.back())->getValue<std::string>("state"), "completed");
    EXPECT_GT(d.enqueue({"default", "misbehave.echo"}), static_cast<std::int64_t>(jobs)) << "an id handed out before is not handed out again";
}

// Backup, compact and restore work on the embedded store only, and say so for a Redis one.
TEST(JobCli, BackupCompactAndRestoreSayWhatARedisStoreNeeds)
{
    t::TempDir dir;
    std::ofstream(dir / "redis.yaml") << "host:\n  store: redis://127.0.0.1:1/0\nqueues:\n  q: {tasks: [hello.echo]}\n";
    for (const std::vector<std::string>& command : {std::vector<std::string>{"backup", (dir / "copy.db").string()}, std::vector<std::string>{"compact"},
                                                    std::vector<std::string>{"restore", (dir / "copy.db").string()}}) {
        std::vector<std::string> args{t::sandhost_executable().string()};
        args.insert(args.end(), command.begin(), command.end());
        args.insert(args.end(), {"--config", (dir / "redis.yaml").string()});
        const auto r = t::run_command(args);
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_NE(r.err.find("the store is a Redis server (redis://127.0.0.1:1/0)"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("BGSAVE"), std::string::npos) << r.err;
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "copy.db"));
}

TEST(JobCli, BadRequestsAreRefusedAndNothingIsStored)
{
    Deployment d(k_queues);
    const auto good = d.enqueue({"default", "misbehave.echo"});
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"enqueue", "defualt", "misbehave.echo"}, "unknown queue 'defualt' (did you mean 'default'?)"},
        {{"enqueue", "default", "other.task"}, "queue 'default' may not run other.task"},
        {{"enqueue", "default", "misbehave"}, "task:"},
        {{"enqueue", "default", "misbehave.echo", "--payload", "{nope"}, "--payload is not valid JSON"},
        {{"enqueue", "default", "misbehave.echo", "--depends-on", "999"}, "999"},
        {{"enqueue", "default", "misbehave.echo", "--depends-on", std::to_string(good), "--payload", "[1]"},
         "the payload must be a JSON object, not an array (its dependencies' results are added to it"},
        {{"enqueue", "default", "misbehave.echo", "--payload", "[1]"}, "the payload must be a JSON object, not an array"},
        {{"enqueue", "default", "misbehave.echo", "--priority", "high"}, "--priority"},
        {{"enqueue", "default", "misbehave.echo", "--priority", "2147483648"}, "--priority: 2147483648 is out of range (-2147483648 to 2147483647)"},
        {{"enqueue", "default", "misbehave.echo", "--delay", "10"}, "--delay"},
        {{"enqueue", "default", "misbehave.echo", "--max-attempts", "0"}, "--max-attempts"},
        {{"enqueue", "default", "misbehave.echo", "--payload", "{\"a\": 1,}"}, "--payload is not valid JSON: line 1, column 9:"},
        {{"enqueue", "default", "misbehave.echo", "--key", ""}, "the key must not be empty"},
        {{"job", "show", "abc"}, "not a job id"},
        {{"purge", "--state", "waiting"}, "expected dead, completed or cancelled"},
        {{"pause", "nope"}, "unknown queue 'nope'"},
    };
    for (const auto& c : cases) {
        const auto r = d.cli(c.args);
        EXPECT_EQ(r.exit_code, 2) << c.message << "\n" << r.err;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << c.message << "\n" << r.err;
    }
    EXPECT_EQ(d.job_count(), 1u);
    const auto r = t::run_command({t::sandhost_executable().string(), "jobs"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--config FILE is required"), std::string::npos);
}

// Waiting on a queue nobody serves says so and stops when told; the same condition exits the
// same way in every command (no such job: 1; bad arguments: 2).
TEST(JobCli, WaitingSaysWhenNoLiveHostServesTheQueueAndStopsAtTheWaitTimeout)
{
    Deployment d(k_queues);
    const auto id = d.enqueue({"default", "misbehave.echo"});
    const auto waited = d.cli({"wait", std::to_string(id), "--wait-timeout", "1s"});
    EXPECT_EQ(waited.exit_code, 1) << waited.err;
    EXPECT_NE(waited.err.find("no live host serves queue default with task misbehave.echo"), std::string::npos) << waited.err;
    EXPECT_NE(waited.err.find("stopped waiting after 1s (--wait-timeout); job " + std::to_string(id) + " is waiting"), std::string::npos)
        << waited.err;
    const auto enqueued = d.cli({"enqueue", "default", "misbehave.echo", "--wait", "--wait-timeout", "500ms", "--json"});
    EXPECT_EQ(enqueued.exit_code, 1) << enqueued.err;
    EXPECT_EQ(enqueued.out, "") << "stdout holds the job only once it ended";
    EXPECT_NE(enqueued.err.find("no live host serves queue default"), std::string::npos) << enqueued.err;
    EXPECT_EQ(d.cli({"wait", "1", "--wait-timeout", "soon"}).exit_code, 2);

    for (const std::vector<std::string>& missing : {std::vector<std::string>{"wait", "999"}, {"job", "show", "999"}, {"job", "cancel", "999"},
                                                    {"job", "retry", "999"}}) {
        const auto r = d.cli(missing);
        EXPECT_EQ(r.exit_code, 1) << missing[0] << " " << missing[1] << "\n" << r.err;
        EXPECT_NE(r.err.find("no job 999"), std::string::npos) << r.err;
    }
    for (const std::vector<std::string>& bad : {std::vector<std::string>{"wait", "abc"}, {"job", "show", "abc"}, {"job", "cancel", "0"},
                                                {"job", "retry", "-1"}, {"wait"}}) {
        EXPECT_EQ(d.cli(bad).exit_code, 2) << bad[0];
    }

    // Once a host serves the queue, the job runs and waiting ends with it.
    auto host = d.start_host();
    const auto done = d.cli({"wait", std::to_string(id), "--json"});
    EXPECT_EQ(done.exit_code, 0) << done.err;
    EXPECT_EQ(Poco::JSON::Parser().parse(done.out).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("state"), "completed");
    ::kill(host->pid(), SIGTERM);
    host->wait();
}

// `queues` shows each queue's retention, and the host keeps the queue to it.
TEST(JobCli, QueuesShowTheRetentionTheHostsKeep)
{
    Deployment d("  default:\n    tasks: [\"misbehave.*\"]\n    concurrency: 2\n    retention: {completed: {count: 2}, dead: {age: 30d}}\n"
                 "  other:\n    tasks: [\"misbehave.*\"]\n");
    const auto table = d.cli({"queues"});
    EXPECT_EQ(table.exit_code, 0) << table.err;
    EXPECT_NE(table.out.find("RETENTION"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("completed: count 2; dead: age 30d"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("keep all"), std::string::npos) << table.out;
    const auto json = d.json({"queues"}).extract<Poco::JSON::Object::Ptr>();
    const auto retention = json->getObject("default")->getObject("retention");
    ASSERT_TRUE(retention);
    EXPECT_EQ(retention->getObject("completed")->getValue<int>("count"), 2);
    EXPECT_EQ(retention->getObject("dead")->getValue<std::string>("age"), "30d");
    EXPECT_TRUE(retention->isNull("cancelled"));

    std::vector<std::int64_t> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(d.enqueue({"default", "misbehave.echo"}));
    // No host yet: the jobs wait, and the queue's latency grows from the first enqueue.
    const auto queue = [&](const std::string& name) { return d.json({"queues"}).extract<Poco::JSON::Object::Ptr>()->getObject(name); };
    EXPECT_TRUE(t::eventually([&] { return queue("default")->getValue<std::int64_t>("latency_ms") > 0; }, std::chrono::seconds(60)));
    EXPECT_EQ(queue("default")->getValue<std::string>("earliest_due"), d.json({"job", "show", std::to_string(ids.front())})
                                                                             .extract<Poco::JSON::Object::Ptr>()
                                                                             ->getValue<std::string>("run_at"));
    EXPECT_EQ(queue("other")->getValue<std::int64_t>("latency_ms"), 0);
    EXPECT_TRUE(queue("other")->isNull("earliest_due"));
    const auto waiting = d.cli({"queues"});
    EXPECT_NE(waiting.out.find("LATENCY"), std::string::npos) << waiting.out;
    auto host = d.start_host();
    const auto completed = [&] { return queue("default")->getValue<int>("completed"); };
    // Hosts trim every few seconds: wait for all five to run, then for three of them to go.
    EXPECT_TRUE(t::eventually([&] { return d.cli({"wait", std::to_string(ids.back())}).exit_code == 0; }, std::chrono::seconds(60)));
    EXPECT_TRUE(t::eventually([&] { return completed() == 2; }, std::chrono::seconds(60))) << completed();
    EXPECT_EQ(d.cli({"job", "show", std::to_string(ids.front())}).exit_code, 1) << "the oldest went";
    EXPECT_EQ(queue("default")->getValue<std::int64_t>("latency_ms"), 0) << "nothing waits";
    EXPECT_TRUE(queue("default")->isNull("earliest_due"));
    ::kill(host->pid(), SIGTERM);
    host->wait();
}

// What a task said reaches a terminal escaped, and a table cuts long text with an ellipsis.
TEST(JobCli, JobRecordsReadRightOnATerminal)
{
    Deployment d(k_queues);
    auto host = d.start_host();
    const std::string long_error = std::string("\\u001b[31mred\\u001b[0m ") + std::string(100, 'x') + " end";
    const auto id = d.enqueue({"default", "misbehave.fail", "--payload", "{\"message\":\"" + long_error + "\",\"permanent\":true}"});
    EXPECT_EQ(d.cli({"wait", std::to_string(id)}).exit_code, 1);
    const auto shown = d.cli({"job", "show", std::to_string(id)});
    EXPECT_EQ(shown.out.find('\x1b'), std::string::npos) << "no raw escape reaches the terminal:\n" << shown.out;
    EXPECT_NE(shown.out.find("\\x1b[31mred"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find(" end"), std::string::npos) << "job show keeps the whole error:\n" << shown.out;
    EXPECT_NE(shown.out.find("on cli-host (pid "), std::string::npos) << "the host read as a name and a pid:\n" << shown.out;
    const auto table = d.cli({"jobs"});
    EXPECT_EQ(table.out.find('\x1b'), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("xxx\u2026\n"), std::string::npos) << "cut with an ellipsis:\n" << table.out;
    EXPECT_EQ(table.out.find(" end"), std::string::npos) << table.out;
    ::kill(host->pid(), SIGTERM);
    host->wait();
}

// Enqueue checks task names against the catalogs hosts published, without loading a plugin;
// `sandhost hosts` shows who serves the store.
TEST(JobCli, EnqueueChecksTasksAgainstThePublishedCatalogs)
{
    Deployment d(k_queues);
    auto unchecked = d.cli({"enqueue", "default", "misbehave.segfalt"});
    EXPECT_EQ(unchecked.exit_code, 0) << unchecked.err;
    EXPECT_NE(unchecked.err.find("no host has published its plugins to this store yet"), std::string::npos) << unchecked.err;
    auto host = d.start_host();
    // The host registers, then publishes the catalog of what it found in its plugin folders.
    ASSERT_TRUE(t::eventually([&] { return d.cli({"hosts"}).out.find("cli-host  alive") != std::string::npos; }, std::chrono::seconds(30)));
    ASSERT_TRUE(t::eventually([&] { return d.cli({"hosts"}).out.find("plugins 0 ") == std::string::npos; }, std::chrono::seconds(30)));
    const auto typo = d.cli({"enqueue", "default", "misbehave.segfalt"});
    EXPECT_EQ(typo.exit_code, 2);
    EXPECT_NE(typo.err.find("plugin misbehave has no task 'segfalt' (did you mean 'segfault'?)"), std::string::npos) << typo.err;
    const auto plugin = d.cli({"enqueue", "default", "hello.word_cont"});
    EXPECT_NE(plugin.err.find("did you mean 'word_count'?"), std::string::npos) << plugin.err;
    const auto good = d.cli({"enqueue", "default", "misbehave.echo"});
    EXPECT_EQ(good.exit_code, 0) << good.err;
    EXPECT_EQ(good.err, "") << "a checked task needs no note";
    const auto hosts = d.json({"hosts"}).extract<Poco::JSON::Array::Ptr>();
    ASSERT_EQ(hosts->size(), 1u);
    const auto record = hosts->getObject(0);
    EXPECT_EQ(record->getValue<std::string>("name"), "cli-host");
    EXPECT_TRUE(record->getValue<bool>("alive"));
    EXPECT_GE(record->getObject("catalog")->getArray("plugins")->size(), 3u);
    ::kill(host->pid(), SIGTERM);
    EXPECT_EQ(host->wait().exit_code, 0);
    EXPECT_NE(d.cli({"hosts"}).out.find("cli-host  stopped"), std::string::npos);
    // A stopped host's catalog still checks.
    EXPECT_EQ(d.cli({"enqueue", "default", "misbehave.segfalt"}).exit_code, 2);
}

// enqueue --payloads: a job per line, a thousand per transaction, checked before any is stored.
TEST(JobCli, EnqueuePayloadsStoresAJobPerLine)
{
    Deployment d(k_queues);
    const auto file = d.path("payloads.jsonl");
    {
        std::ofstream out(file);
        for (int i = 0; i < 1'205; ++i) out << "{\"n\": " << i << "}\n" << (i == 3 ? "\n" : "");
    }
    const auto stored = d.cli({"enqueue", "default", "misbehave.echo", "--payloads", file.string(), "--priority", "2"});
    ASSERT_EQ(stored.exit_code, 0) << stored.err;
    std::istringstream printed(stored.out);
    std::vector<std::int64_t> ids;
    for (std::int64_t id; printed >> id;) ids.push_back(id);
    ASSERT_EQ(ids.size(), 1'205u) << "an id per line, the empty one skipped";
    EXPECT_EQ(d.job_count(), 1'205u);
    const auto last = d.job(ids.back());
    EXPECT_EQ(last->getObject("payload")->getValue<int>("n"), 1'204);
    EXPECT_EQ(last->getValue<int>("priority"), 2) << "the flags apply to every job";

    // A line that is not JSON stores nothing, and is named.
    {
        std::ofstream out(file);
        out << "{\"n\": 1}\n{\"n\": \n";
    }
    const auto broken = d.cli({"enqueue", "default", "misbehave.echo", "--payloads", file.string()});
    EXPECT_EQ(broken.exit_code, 2);
    EXPECT_NE(broken.err.find("--payloads: line 2: not valid JSON"), std::string::npos) << broken.err;
    // A refused line refuses its batch; batches before it stay, and the error says which.
    {
        std::ofstream out(file);
        for (int i = 0; i < 1'002; ++i) out << (i == 1'001 ? "[1]" : "{}") << "\n";
    }
    const auto refused = d.cli({"enqueue", "default", "misbehave.echo", "--payloads", file.string()});
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.err.find("line 1002: "), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("nothing from line 1001 on was stored, the jobs of lines 1-1000 were"), std::string::npos) << refused.err;
    EXPECT_EQ(d.job_count(), 1'205u + 1'000u);
    EXPECT_EQ(std::count(refused.out.begin(), refused.out.end(), '\n'), 1'000) << "the stored jobs' ids, as the error says";
    const auto refused_json = d.cli({"enqueue", "default", "misbehave.echo", "--payloads", file.string(), "--json"});
    EXPECT_EQ(refused_json.exit_code, 2);
    Poco::JSON::Parser parser;
    EXPECT_EQ(parser.parse(refused_json.out).extract<Poco::JSON::Object::Ptr>()->getArray("ids")->size(), 1'000u) << refused_json.out;
    EXPECT_EQ(d.job_count(), 1'205u + 2'000u);
    EXPECT_EQ(d.cli({"enqueue", "default", "misbehave.echo", "--payloads", file.string(), "--key", "k"}).exit_code, 2);
    EXPECT_EQ(d.cli({"enqueue", "default", "misbehave.echo", "--payloads", d.path("missing").string()}).exit_code, 2);
    EXPECT_EQ(d.job_count(), 1'205u + 2'000u);
}

// enqueue --jobs: a whole job per line, as the API takes it, each with its own queue and task.
TEST(JobCli, EnqueueJobsTakesAJobObjectPerLine)
{
    Deployment d(k_queues);
    const auto file = d.path("jobs.jsonl");
    {
        std::ofstream out(file);
        out << R"({"queue": "default", "task": "misbehave.echo", "payload": {"n": 1}, "priority": 5, "key": "first"})" << "\n\n"
            << R"({"queue": "default", "task": "misbehave.echo", "delay": "1h", "max_attempts": 2, "timeout": "3s"})" << "\n"
            << R"({"queue": "default", "task": "misbehave.echo", "depends_on": [1]})" << "\n";
    }
    const auto stored = d.cli({"enqueue", "--jobs", file.string(), "--json"});
    ASSERT_EQ(stored.exit_code, 0) << stored.err;
    Poco::JSON::Parser parser;
    const auto ids = parser.parse(stored.out).extract<Poco::JSON::Object::Ptr>()->getArray("ids");
    ASSERT_EQ(ids->size(), 3u) << stored.out;
    const auto first = d.job(ids->getElement<std::int64_t>(0));
    EXPECT_EQ(first->getObject("payload")->getValue<int>("n"), 1);
    EXPECT_EQ(first->getValue<int>("priority"), 5);
    EXPECT_EQ(first->getValue<std::string>("key"), "first");
    const auto second = d.job(ids->getElement<std::int64_t>(1));
    EXPECT_EQ(second->getValue<std::string>("state"), "delayed");
    EXPECT_EQ(second->getValue<int>("max_attempts"), 2);
    const auto third = d.job(ids->getElement<std::int64_t>(2));
    EXPECT_EQ(third->getValue<std::string>("state"), "blocked") << "it waits for job 1";

    // A line that is not a job stores nothing, and is named with what is wrong.
    const std::pair<std::string, std::string> bad[] = {
        {R"({"queue": "default", "task": "misbehave.echo", "priorty": 1})", "line 2: unknown member \"priorty\" (did you mean 'priority'?)"},
        {R"({"queue": "default"})", "line 2: task is missing"},
        {R"({"queue": "default", "task": "misbehave.echo", "delay": 5})", "line 2: delay: expected a duration"},
        {R"([1, 2])", "line 2: a job must be a JSON object"},
        {R"({"queue": "default", "task": )", "line 2: not valid JSON"},
        {R"({"queue": "nope", "task": "misbehave.echo"})", "line 2: "},
    };
    for (const auto& [line, why] : bad) {
        {
            std::ofstream out(file);
            out << R"({"queue": "default", "task": "misbehave.echo"})" << "\n" << line << "\n";
        }
        const auto refused = d.cli({"enqueue", "--jobs", file.string()});
        EXPECT_EQ(refused.exit_code, 2) << line;
        EXPECT_NE(refused.err.find("--jobs: " + why), std::string::npos) << refused.err;
        EXPECT_NE(refused.err.find("nothing was stored"), std::string::npos) << refused.err;
    }
    EXPECT_EQ(d.job_count(), 3u);
    // The job's own flags and positional arguments do not go with --jobs.
    EXPECT_EQ(d.cli({"enqueue", "default", "misbehave.echo", "--jobs", file.string()}).exit_code, 2);
    EXPECT_EQ(d.cli({"enqueue", "--jobs", file.string(), "--priority", "1"}).exit_code, 2);
    EXPECT_EQ(d.cli({"enqueue", "--jobs", d.path("missing").string()}).exit_code, 2);
    EXPECT_EQ(d.job_count(), 3u);
}

TEST(JobCli, TheWholeCycleThroughTheCommands)
{
    Deployment d(k_queues);
    auto host = d.start_host();
    const auto ok = d.enqueue({"default", "misbehave.echo", "--payload", R"({"x":1})"});
    const auto crash = d.enqueue({"default", "misbehave.segfault", "--max-attempts", "2"});
    const auto waited = d.cli({"wait", std::to_string(ok)});
    EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
    const auto waited_crash = d.cli({"wait", std::to_string(crash), "--json"});
    EXPECT_EQ(waited_crash.exit_code, 1);

    auto job = d.job(crash);
    EXPECT_EQ(job->getValue<std::string>("state"), "dead");
    auto attempts = job->getArray("attempts");
    ASSERT_EQ(attempts->size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        auto a = attempts->getObject(static_cast<unsigned>(i));
        EXPECT_EQ(a->getValue<std::string>("outcome"), "crashed");
        EXPECT_EQ(a->getValue<std::string>("signal"), "SIGSEGV");
        EXPECT_EQ(a->getValue<int>("number"), static_cast<int>(i + 1));
        EXPECT_TRUE(a->has("pid"));
    }

    auto list = d.json({"jobs", "--state", "completed"}).extract<Poco::JSON::Array::Ptr>();
    ASSERT_EQ(list->size(), 1u);
    auto entry = list->getObject(0);
    for (const char* key : {"id", "queue", "task", "state", "attempt_count", "created_at", "updated_at"}) EXPECT_TRUE(entry->has(key)) << key;
    EXPECT_EQ(entry->getValue<int>("attempt_count"), 1);
    EXPECT_FALSE(entry->has("attempts")) << "lists leave the attempts out";
    EXPECT_EQ(entry->getObject("payload")->getValue<int>("x"), 1) << "a JSON value";

    EXPECT_EQ(d.cli({"job", "retry", std::to_string(crash)}).exit_code, 0);
    EXPECT_EQ(d.cli({"wait", std::to_string(crash)}).exit_code, 1);
    EXPECT_EQ(d.job(crash)->getArray("attempts")->size(), 4u);

    EXPECT_EQ(d.cli({"pause", "default"}).exit_code, 0);
    const auto held = d.enqueue({"default", "misbehave.echo"});
    auto queues = d.json({"queues"}).extract<Poco::JSON::Object::Ptr>()->getObject("default");
    EXPECT_TRUE(queues->getValue<bool>("paused"));
    EXPECT_EQ(queues->getValue<int>("completed"), 1);
    EXPECT_EQ(queues->getValue<int>("dead"), 1);
    EXPECT_EQ(d.cli({"job", "cancel", std::to_string(held)}).exit_code, 0);
    EXPECT_EQ(d.job(held)->getValue<std::string>("state"), "cancelled");
    EXPECT_EQ(d.cli({"resume", "default"}).exit_code, 0);

    const auto purged = d.json({"purge", "--state", "dead"}).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(purged->getValue<int>("purged"), 1);
    EXPECT_EQ(d.cli({"job", "show", std::to_string(crash)}).exit_code, 1);

    ::kill(host->pid(), SIGTERM);
    EXPECT_EQ(host->wait().exit_code, 0) << host->wait().err;
}

// After an outage the dead jobs of a queue run again with one command, each with a fresh attempt
// budget, while a host serves the queue; a cancel of the queue's waiting jobs leaves other
// queues alone. A job the store may not retry (its dependency is dead) is named, exit status 1.
TEST(JobCli, RetryAndCancelTheJobsOfAQueueAtOnce)
{
    Deployment d(k_queues + std::string("  other:\n    tasks: [\"misbehave.*\"]\n"));
    auto host = d.start_host();
    std::vector<std::int64_t> crashed;
    for (int i = 0; i < 4; ++i) crashed.push_back(d.enqueue({"default", "misbehave.segfault", "--max-attempts", "1"}));
    const auto blocked = d.enqueue({"default", "misbehave.echo", "--depends-on", std::to_string(crashed.front())});
    for (const auto id : crashed) EXPECT_EQ(d.cli({"wait", std::to_string(id)}).exit_code, 1);
    EXPECT_EQ(d.job(blocked)->getValue<std::string>("state"), "dead") << "its dependency died";

    const auto dry = d.json({"jobs", "retry", "--queue", "default", "--since", "1h", "--dry-run"}).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(dry->getValue<int>("retried"), 5) << "they died within the hour";
    EXPECT_EQ(d.cli({"jobs", "retry", "--queue", "default", "--since", "soon"}).exit_code, 2);
    EXPECT_EQ(d.job(crashed.back())->getValue<std::string>("state"), "dead") << "a dry run changes nothing";

    // Newest first: the blocked job comes before its dependency, and is refused.
    const auto refused = d.cli({"jobs", "retry", "--queue", "default", "--json"});
    EXPECT_EQ(refused.exit_code, 1) << refused.err;
    const auto outcome = Poco::JSON::Parser().parse(refused.out).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(outcome->getValue<int>("retried"), 4);
    EXPECT_EQ(outcome->getValue<int>("refused_count"), 1);
    EXPECT_EQ(outcome->getArray("refused")->getObject(0)->getValue<std::int64_t>("id"), blocked);
    EXPECT_NE(outcome->getArray("refused")->getObject(0)->getValue<std::string>("error").find("retry that job first"), std::string::npos);
    for (const auto id : crashed) {
        EXPECT_EQ(d.cli({"wait", std::to_string(id)}).exit_code, 1);
        EXPECT_EQ(d.job(id)->getArray("attempts")->size(), 2u) << "job " << id << " ran once more";
    }
    // Of one task, at most one: the newest.
    const auto again = d.cli({"jobs", "retry", "--queue", "default", "--task", "misbehave.segfault", "--limit", "1"});
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("retried 1 job of queue default (dead, task misbehave.segfault)"), std::string::npos) << again.out;
    EXPECT_NE(again.out.find("more jobs match"), std::string::npos) << again.out;
    EXPECT_EQ(d.cli({"wait", std::to_string(crashed.back())}).exit_code, 1);
    EXPECT_EQ(d.job(crashed.back())->getArray("attempts")->size(), 3u);
    EXPECT_EQ(d.job(crashed.front())->getArray("attempts")->size(), 2u);

    EXPECT_EQ(d.cli({"pause", "default"}).exit_code, 0);
    EXPECT_EQ(d.cli({"pause", "other"}).exit_code, 0);
    std::vector<std::int64_t> held;
    for (int i = 0; i < 3; ++i) held.push_back(d.enqueue({"default", "misbehave.echo"}));
    const auto elsewhere = d.enqueue({"other", "misbehave.echo"});
    const auto cancelled = d.json({"jobs", "cancel", "--queue", "default"}).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(cancelled->getValue<int>("cancelled"), 3);
    for (const auto id : held) EXPECT_EQ(d.job(id)->getValue<std::string>("state"), "cancelled");
    EXPECT_EQ(d.job(elsewhere)->getValue<std::string>("state"), "waiting");

    const auto unknown = d.cli({"jobs", "cancel", "--queue", "defualt"});
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_NE(unknown.err.find("did you mean 'default'"), std::string::npos) << unknown.err;
    EXPECT_EQ(d.cli({"jobs", "retry", "--queue", "default", "--state", "waiting"}).exit_code, 2);
    EXPECT_EQ(d.cli({"jobs", "retry"}).exit_code, 2);

    ::kill(host->pid(), SIGTERM);
    EXPECT_EQ(host->wait().exit_code, 0) << host->wait().err;
}

// A job in a long retry backoff, or enqueued with a delay, runs now when promoted; one at a
// time or a queue's delayed jobs at once.
TEST(JobCli, PromotedDelayedJobsRunNow)
{
    Deployment d("  slow:\n    tasks: [\"misbehave.*\"]\n    retry: {max_attempts: 3, backoff: {type: fixed, delay: 1h, max: 1h}}\n");
    auto host = d.start_host();
    const auto failing = d.enqueue({"slow", "misbehave.fail", "--payload", R"({"message":"not yet"})"});
    EXPECT_TRUE(t::eventually([&] { return d.job(failing)->getValue<std::string>("state") == "delayed"; }, std::chrono::seconds(60)));
    const auto promoted = d.json({"job", "promote", std::to_string(failing)}).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(promoted->getValue<std::string>("result"), "promoted");
    // Its second attempt runs now, not in an hour, and fails into the backoff again.
    EXPECT_TRUE(t::eventually([&] { return d.job(failing)->getArray("attempts")->size() == 2u; }, std::chrono::seconds(60)));

    std::vector<std::int64_t> later;
    for (int i = 0; i < 2; ++i) later.push_back(d.enqueue({"slow", "misbehave.echo", "--delay", "1h"}));
    const auto dry = d.json({"jobs", "promote", "--queue", "slow", "--task", "misbehave.echo", "--dry-run"}).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(dry->getValue<int>("promoted"), 2);
    const auto all = d.cli({"jobs", "promote", "--queue", "slow", "--task", "misbehave.echo"});
    EXPECT_EQ(all.exit_code, 0) << all.err;
    EXPECT_NE(all.out.find("promoted 2 jobs of queue slow (delayed, task misbehave.echo)"), std::string::npos) << all.out;
    for (const auto id : later) EXPECT_EQ(d.cli({"wait", std::to_string(id)}).exit_code, 0);

    const auto done = d.cli({"job", "promote", std::to_string(later.front())});
    EXPECT_EQ(done.exit_code, 1);
    EXPECT_NE(done.err.find("only delayed jobs can be promoted"), std::string::npos) << done.err;
    EXPECT_EQ(d.cli({"job", "promote", "999999"}).exit_code, 1);
    const auto usage = d.cli({"jobs", "promote", "--queue", "slow", "--state", "waiting"});
    EXPECT_EQ(usage.exit_code, 2) << "promote takes delayed jobs only";
    EXPECT_NE(usage.err.find("(see `sandhost jobs promote --help`)"), std::string::npos) << usage.err;
    const auto help = d.cli({"jobs", "promote", "--help"});
    EXPECT_NE(help.out.find("retry backoff"), std::string::npos) << help.out;
    ::kill(host->pid(), SIGTERM);
    EXPECT_EQ(host->wait().exit_code, 0);
}

// `schedules` lists them with their fire times; `schedules run` enqueues one's job now and
// leaves its periods as they were.
TEST(JobCli, AFinishedJobIsDeletedWithItsRecordUnlessAJobStillToRunNeedsIt)
{
    Deployment d("  q:\n    tasks: [\"misbehave.*\"]\n");
    auto host = d.start_host();
    const auto secret = d.enqueue({"q", "misbehave.echo", "--payload", R"({"card":"4111 1111"})"});
    ASSERT_EQ(d.cli({"wait", std::to_string(secret)}).exit_code, 0);
    const auto later = d.enqueue({"q", "misbehave.echo", "--delay", "1h", "--depends-on", std::to_string(secret)});
    // Its delayed dependent still needs it; a job that has not ended is not deleted.
    const auto needed = d.cli({"job", "delete", std::to_string(secret)});
    EXPECT_EQ(needed.exit_code, 1);
    EXPECT_NE(needed.err.find("a job still to run depends on it"), std::string::npos) << needed.err;
    const auto refused = d.cli({"job", "delete", std::to_string(later), "--json"});
    EXPECT_EQ(refused.exit_code, 1);
    const auto waiting = Poco::JSON::Parser().parse(refused.out).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(waiting->getValue<std::string>("result"), "refused");
    EXPECT_EQ(waiting->getValue<std::string>("state"), "delayed");
    ASSERT_EQ(d.cli({"job", "cancel", std::to_string(later)}).exit_code, 0);

    const auto deleted = d.cli({"job", "delete", std::to_string(secret)});
    EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
    EXPECT_NE(deleted.out.find("job " + std::to_string(secret) + " deleted"), std::string::npos) << deleted.out;
    EXPECT_EQ(d.cli({"job", "show", std::to_string(secret)}).exit_code, 1);
    EXPECT_EQ(d.cli({"jobs", "--json"}).out.find("4111"), std::string::npos) << "its payload is gone";
    const auto gone = d.cli({"job", "delete", std::to_string(secret), "--json"});
    EXPECT_EQ(gone.exit_code, 1);
    EXPECT_EQ(Poco::JSON::Parser().parse(gone.out).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("result"), "not_found");
    EXPECT_EQ(d.cli({"job", "delete", "x"}).exit_code, 2);
    EXPECT_EQ(d.cli({"job", "delete", std::to_string(later)}).exit_code, 0);
}

TEST(JobCli, SchedulesAreListedAndRunByHand)
{
    Deployment d(k_queues + std::string("schedules:\n  - {name: nightly, queue: default, task: misbehave.echo, payload: {n: 7}, cron: \"0 3 * * *\"}\n"));
    auto host = d.start_host();
    const auto table = d.cli({"schedules"});
    EXPECT_EQ(table.exit_code, 0) << table.err;
    EXPECT_NE(table.out.find("nightly"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("0 3 * * *"), std::string::npos) << table.out;
    const auto listed = [&] { return d.json({"schedules"}).extract<Poco::JSON::Array::Ptr>(); };
    ASSERT_EQ(listed()->size(), 1u);
    EXPECT_FALSE(listed()->getObject(0)->isNull("next_fire"));
    // The host records a schedule's start the first time it sees it.
    EXPECT_TRUE(t::eventually([&] { return !listed()->getObject(0)->isNull("last_fire"); }, std::chrono::seconds(60)));
    const auto last_fire = listed()->getObject(0)->getValue<std::string>("last_fire");

    const auto ran = d.json({"schedules", "run", "nightly"}).extract<Poco::JSON::Object::Ptr>();
    const auto id = ran->getValue<std::int64_t>("id");
    EXPECT_EQ(ran->getValue<std::string>("schedule"), "nightly");
    EXPECT_EQ(d.cli({"wait", std::to_string(id)}).exit_code, 0);
    const auto job = d.job(id);
    EXPECT_EQ(job->getValue<std::string>("schedule"), "nightly");
    EXPECT_EQ(job->getObject("result")->getValue<int>("n"), 7) << "the schedule's payload";
    EXPECT_EQ(listed()->getObject(0)->getValue<std::string>("last_fire"), last_fire) << "its periods go on as before";

    const auto misspelt = d.cli({"schedules", "run", "nighty"});
    EXPECT_EQ(misspelt.exit_code, 2);
    EXPECT_NE(misspelt.err.find("did you mean 'nightly'"), std::string::npos) << misspelt.err;
    EXPECT_NE(misspelt.err.find("(see `sandhost schedules run --help`)"), std::string::npos) << misspelt.err;
    EXPECT_EQ(d.cli({"schedules", "run"}).exit_code, 2);
    ::kill(host->pid(), SIGTERM);
    EXPECT_EQ(host->wait().exit_code, 0);
}

TEST(JobCli, EnqueueWaitExitsLikeExec)
{
    Deployment d(k_queues);
    auto host = d.start_host();
    auto r = d.cli({"enqueue", "default", "hello.word_count", "--payload", R"({"text":"one two three"})", "--wait"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("completed"), std::string::npos) << r.out;
    r = d.cli({"enqueue", "default", "misbehave.fail", "--payload", R"({"message":"nope","permanent":true})", "--wait"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("nope"), std::string::npos) << r.out;
    ::kill(host->pid(), SIGTERM);
    host->wait();
}

TEST(JobCli, EveryJsonOfAJobIsTheOneJobSchema)
{
    Deployment d(k_queues);
    auto host = d.start_host();
    // enqueue --json alone: the id and nothing else.
    const auto plain = d.cli({"enqueue", "default", "misbehave.echo", "--payload", R"({"n": 1})", "--json"});
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    Poco::JSON::Parser parser;
    const auto id = parser.parse(plain.out).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(id->size(), 1u) << plain.out;
    ASSERT_TRUE(id->has("id"));

    // enqueue --wait --json, wait --json and job show --json: the job with its attempts.
    const auto waited = d.cli({"enqueue", "default", "misbehave.echo", "--payload", R"({"n": 2})", "--wait", "--json"});
    ASSERT_EQ(waited.exit_code, 0) << waited.err;
    const auto job = parser.parse(waited.out).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(job->getValue<std::string>("state"), "completed");
    EXPECT_EQ(job->getObject("payload")->getValue<int>("n"), 2);
    EXPECT_EQ(job->getObject("result")->getValue<int>("n"), 2) << "the echo's result, as a JSON value";
    ASSERT_EQ(job->getArray("attempts")->size(), 1u);
    EXPECT_EQ(job->getArray("attempts")->getObject(0)->getObject("result")->getValue<int>("n"), 2);
    const auto job_id = std::to_string(job->getValue<std::int64_t>("id"));
    const auto again = d.cli({"wait", job_id, "--json"});
    EXPECT_EQ(again.out, waited.out);
    EXPECT_EQ(d.cli({"job", "show", job_id, "--json"}).out, waited.out);
    for (const char* name : {"key", "error", "max_attempts", "expires_at", "timeout_ms", "progress", "lease", "schedule"}) {
        EXPECT_TRUE(job->has(name)) << name;
    }
    ::kill(host->pid(), SIGTERM);
    host->wait();
}

TEST(JobCli, AKeyReturnsTheUnfinishedJobThatHasIt)
{
    Deployment d(k_queues);
    const auto first = d.enqueue({"default", "misbehave.echo", "--key", "order-17"});
    const auto second = d.cli({"enqueue", "default", "misbehave.echo", "--key", "order-17", "--payload", R"({"other": 1})"});
    EXPECT_EQ(second.exit_code, 0) << second.err;
    EXPECT_EQ(second.out, std::to_string(first) + "\n");
    EXPECT_NE(second.err.find("job " + std::to_string(first) + " has the key order-17 and has not finished: nothing was stored"),
              std::string::npos)
        << second.err;
    EXPECT_EQ(d.job(first)->getValue<std::string>("key"), "order-17");
    EXPECT_NE(d.enqueue({"default", "misbehave.echo", "--key", "order-18"}), first);
    EXPECT_EQ(d.job_count(), 2u);
    ASSERT_EQ(d.cli({"job", "cancel", std::to_string(first)}).exit_code, 0);
    EXPECT_NE(d.enqueue({"default", "misbehave.echo", "--key", "order-17"}), first) << "a finished job frees its key";
}

TEST(HostCli, DrainOnSigtermLetsTheRunningJobFinish)
{
    Deployment d(k_queues);
    auto host = d.start_host({"--drain", "20s"});
    const auto marks = d.path("m").string();
    const auto id = d.enqueue({"default", "marker.sleep", "--payload", R"({"path":")" + marks + R"(","ms":500})"});
    ASSERT_TRUE(t::eventually([&] { return std::filesystem::exists(marks); }));
    ::kill(host->pid(), SIGTERM);
    const auto& result = host->wait();
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(d.job(id)->getValue<std::string>("state"), "completed");
    EXPECT_TRUE(t::workers_of(host->pid()).empty());
}

TEST(HostCli, OnlyTheHostCreatesTheStoresFolderAndItStopsWhenTheFolderIsRemoved)
{
    Deployment d(k_queues);
    {
        std::ifstream in(d.path("sandhost.yaml"));
        std::stringstream text;
        text << in.rdbuf();
        std::string config = text.str();
        config.replace(config.find("sqlite:jobs.db"), 14, "sqlite:data/jobs.db");
        std::ofstream(d.path("sandhost.yaml")) << config;
    }
    const auto refused = d.cli({"enqueue", "default", "hello.echo"});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.err.find("does not exist"), std::string::npos) << refused.err;
    EXPECT_FALSE(std::filesystem::exists(d.path("data"))) << "a command must not create the store's folder";

    auto host = d.start_host();
    ASSERT_TRUE(t::eventually([&] { return std::filesystem::exists(d.path("data/jobs.db")); }));
    const auto marks = d.path("m").string();
    d.enqueue({"default", "marker.hang", "--payload", R"({"path":")" + marks + R"("})"});
    ASSERT_TRUE(t::eventually([&] { return std::filesystem::exists(marks); }));
    std::filesystem::remove_all(d.path("data"));
    const auto& result = host->wait();
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("was removed"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("store vanished"), std::string::npos) << result.err;
    EXPECT_FALSE(std::filesystem::exists(d.path("data"))) << "the host must not recreate what was removed";
    EXPECT_TRUE(t::workers_of(host->pid()).empty());
}

TEST(HostCli, SighupReloadsAndRefusesABadFile)
{
    Deployment d(k_queues);
    auto host = d.start_host();
    // Once a job has run, the host is up and listening for signals.
    const auto first = d.enqueue({"default", "misbehave.echo"});
    ASSERT_TRUE(t::eventually([&] { return d.final_state(first); }));
    d.write_config(std::string(k_queues) + "  added:\n    tasks: [\"misbehave.echo\"]\n");
    ::kill(host->pid(), SIGHUP);
    const auto id = d.enqueue({"added", "misbehave.echo"});
    EXPECT_TRUE(t::eventually([&] { return d.final_state(id); }));
    EXPECT_EQ(d.job(id)->getValue<std::string>("state"), "completed");

    // A broken file: the host keeps serving with what it had.
    d.freeze_cli_config();
    const std::string good = std::string(k_queues) + "  added:\n    tasks: [\"misbehave.echo\"]\n";
    d.write_config(good + "  broken:\n    tasks: [\"misbehave.echo\"]\n    concurrency: many\n");
    ::kill(host->pid(), SIGHUP);
    const auto after = d.enqueue({"added", "misbehave.echo"});
    EXPECT_TRUE(t::eventually([&] { return d.final_state(after); }));
    ::kill(host->pid(), SIGTERM);
    const auto& result = host->wait();
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_NE(result.err.find("reload refused"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("concurrency"), std::string::npos) << result.err;
}

TEST(HostCli, JsonLogsAreOneObjectPerLineWithTheAttemptsFacts)
{
    Deployment d(k_queues, 4, "json");
    auto host = d.start_host();
    const auto id = d.enqueue({"default", "misbehave.echo"});
    EXPECT_TRUE(t::eventually([&] { return d.final_state(id); }));
    // A refused reload is an event like the others, its errors inside it.
    d.freeze_cli_config();
    d.write_config(std::string(k_queues) + "  broken:\n    tasks: [\"misbehave.echo\"]\n    concurrency: many\n", 4, "json");
    ::kill(host->pid(), SIGHUP);
    ::kill(host->pid(), SIGTERM);
    const auto& result = host->wait();
    std::istringstream lines(result.err);
    int started = 0;
    int ended = 0;
    int refused = 0;
    for (std::string line; std::getline(lines, line);) {
        Poco::JSON::Parser parser;
        Poco::JSON::Object::Ptr object;
        ASSERT_NO_THROW(object = parser.parse(line).extract<Poco::JSON::Object::Ptr>()) << line;
        EXPECT_TRUE(object->has("time") && object->has("level")) << line;
        const auto event = object->optValue<std::string>("event", "");
        EXPECT_FALSE(event.empty()) << "every line is an event: " << line;
        if (event == "config reload refused") {
            EXPECT_NE(object->getValue<std::string>("errors").find("concurrency"), std::string::npos) << line;
            ++refused;
        }
        if (event == "attempt started" || event == "attempt ended") {
            for (const char* key : {"job", "queue", "task", "attempt", "pid"}) EXPECT_TRUE(object->has(key)) << key << " in " << line;
            if (event == "attempt ended") {
                EXPECT_EQ(object->getValue<std::string>("outcome"), "succeeded");
                ++ended;
            } else {
                ++started;
            }
        }
    }
    EXPECT_EQ(started, 1);
    EXPECT_EQ(ended, 1);
    EXPECT_EQ(refused, 1);
}

TEST(HostCli, ForkAndReuseQueuesServeJobsAndTheirWorkersEndWithTheHost)
{
    Deployment d("  forked:\n    tasks: [\"misbehave.*\"]\n    concurrency: 2\n    sandbox: {mode: fork}\n"
                 "  reused:\n    tasks: [\"misbehave.*\"]\n    concurrency: 2\n    sandbox: {mode: reuse}\n");
    auto host = d.start_host();
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 6; ++i) {
        ids.push_back(d.enqueue({i % 2 ? "forked" : "reused", "misbehave.echo", "--payload", "{\"i\":" + std::to_string(i) + "}"}));
    }
    const auto crash = d.enqueue({"forked", "misbehave.segfault", "--max-attempts", "1"});
    for (auto id : ids) {
        ASSERT_TRUE(t::eventually([&] { return d.final_state(id); }));
        auto job = d.job(id);
        EXPECT_EQ(job->getValue<std::string>("state"), "completed");
        const auto isolation = job->getArray("attempts")->getObject(0)->getValue<std::string>("isolation");
        EXPECT_EQ(isolation, job->getValue<std::string>("queue") == "forked" ? "fork" : "reuse");
    }
    ASSERT_TRUE(t::eventually([&] { return d.final_state(crash); }));
    EXPECT_EQ(d.job(crash)->getArray("attempts")->getObject(0)->getValue<std::string>("signal"), "SIGSEGV");
    EXPECT_FALSE(t::workers_of(host->pid()).empty()) << "the fork server and reuse workers live between jobs";
    ::kill(host->pid(), SIGTERM);
    EXPECT_EQ(host->wait().exit_code, 0);
    EXPECT_TRUE(t::workers_of(host->pid()).empty()) << ::testing::PrintToString(t::workers_of(host->pid()));
}

// A host with far too few descriptors for its workers: the starts that fail are the host's
// fault, so they use no attempt (every job has one), the host runs fewer workers until starts
// succeed, and every job completes.
TEST(HostCli, AHostShortOfDescriptorsChargesNoJob)
{
#if defined(SANDHOST_SANITIZED)
    // UndefinedBehaviorSanitizer checks a virtual call's object by writing it to a pipe: in a
    // host out of descriptors that fails, and it reports a valid object as a bad one.
    GTEST_SKIP() << "the sanitizers' runtime needs descriptors of its own (UBSan's vptr check)";
#endif
    Deployment d("  default:\n    tasks: [\"hello.*\"]\n    concurrency: 16\n    retry: {max_attempts: 1}\n", 16);
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 40; ++i) ids.push_back(d.enqueue({"default", "hello.echo", "--payload", "{\"i\":" + std::to_string(i) + "}"}));
    std::vector<std::string> args{"/bin/sh", "-c", "ulimit -n 40 && exec \"$0\" run --config \"$1\"", t::sandhost_executable().string(),
                                  d.path("sandhost.yaml").string()};
    t::BackgroundCommand host(args);
    for (auto id : ids) {
        ASSERT_TRUE(t::eventually([&] { return d.final_state(id); }, std::chrono::seconds(120))) << "job " << id;
        EXPECT_EQ(d.job(id)->getValue<std::string>("state"), "completed") << "job " << id;
    }
    ::kill(host.pid(), SIGTERM);
    const auto& result = host.wait();
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("descriptor limit low"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("host short of resources"), std::string::npos) << "the limit was not tight enough to test anything\n"
                                                                             << result.err;
    EXPECT_TRUE(t::workers_of(host.pid()).empty());
}

// A host that cannot use cgroups runs its jobs with the per-process limits and says so once,
// at start; one that can says where. The first runs in a mount namespace of its own without
// the cgroup file systems.
TEST(HostCli, SaysAtStartWhetherItCanUseCgroups)
{
    if (t::run_command({"/usr/bin/unshare", "-m", "/bin/true"}).exit_code != 0) GTEST_SKIP() << "no mount namespace for this test (unshare -m)";
    Deployment d("  default:\n    tasks: [\"misbehave.*\"]\n    retry: {max_attempts: 1}\n");
    const auto first = d.enqueue({"default", "misbehave.echo", "--payload", "{}"});
    std::vector<std::string> args{"/usr/bin/unshare", "-m", "/bin/sh", "-c", "umount -R /sys/fs/cgroup 2>/dev/null; exec \"$0\" run --config \"$1\"",
                                  t::sandhost_executable().string(), d.path("sandhost.yaml").string()};
    {
        t::BackgroundCommand host(args);
        ASSERT_TRUE(t::eventually([&] { return d.final_state(first); }, std::chrono::seconds(60)));
        EXPECT_EQ(d.job(first)->getValue<std::string>("state"), "completed");
        ::kill(host.pid(), SIGTERM);
        const auto& result = host.wait();
        EXPECT_EQ(result.exit_code, 0) << result.err;
        const auto warned = result.err.find("cgroups unavailable");
        ASSERT_NE(warned, std::string::npos) << result.err;
        EXPECT_EQ(result.err.find("cgroups unavailable", warned + 1), std::string::npos) << "said once\n" << result.err;
        EXPECT_NE(result.err.find("per-process limits"), std::string::npos) << result.err;
    }
    const auto second = d.enqueue({"default", "misbehave.echo", "--payload", "{}"});
    auto host = d.start_host();
    ASSERT_TRUE(t::eventually([&] { return d.final_state(second); }, std::chrono::seconds(60)));
    ::kill(host->pid(), SIGTERM);
    const auto& result = host->wait();
    EXPECT_EQ(result.err.find("cgroups unavailable"), std::string::npos) << result.err;
    const auto support = t::run_command({t::sandhost_executable().string(), "plugins", "--isolation", "--json"});
    if (support.out.find("\"cgroups\":true") != std::string::npos) {
        EXPECT_NE(result.err.find("cgroups: yes"), std::string::npos) << result.err;
    }
}

TEST(HostCli, SaysAtStartWhatACommitToTheStoreSurvives)
{
    Deployment d("  default:\n    tasks: [\"misbehave.*\"]\n");
    for (const std::string sync : {"full", "normal"}) {
        std::stringstream config;
        config << std::ifstream(d.path("sandhost.yaml")).rdbuf();
        std::string text = config.str();
        text.replace(text.find("host:\n"), 6, "host:\n  store_sync: " + sync + "\n");
        std::ofstream(d.path(sync + ".yaml")) << text;
        t::BackgroundCommand host({t::sandhost_executable().string(), "run", "--config", d.path(sync + ".yaml").string()});
        const auto id = d.enqueue({"default", "misbehave.echo", "--payload", "{}"});
        ASSERT_TRUE(t::eventually([&] { return d.final_state(id); }, std::chrono::seconds(60)));
        ::kill(host.pid(), SIGTERM);
        const auto& result = host.wait();
        EXPECT_EQ(result.exit_code, 0) << result.err;
        const std::string said = sync == "full" ? "store syncs every commit" : "store syncs at checkpoints";
        EXPECT_NE(result.err.find(said), std::string::npos) << result.err;
    }
}

// kill -9 of the host in the middle of 100 jobs, then a restart: every job ends, none is lost
// or run to completion twice, the interrupted attempts are worker_lost, and no worker
// outlived the host that started it.
TEST(HostCli, KillNineAndRestartLosesNothing)
{
    Deployment d("  default:\n    tasks: [\"marker.*\"]\n    concurrency: 4\n    retry: {max_attempts: 5, backoff: {type: fixed, delay: 10ms}}\n");
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 100; ++i) {
        const auto marks = d.path("m" + std::to_string(i)).string();
        ids.push_back(d.enqueue({"default", "marker.sleep", "--payload", R"({"path":")" + marks + R"(","ms":60})"}));
    }
    auto first = d.start_host();
    // Kill it while some jobs are done and some are running.
    ASSERT_TRUE(t::eventually([&] {
        std::size_t done = 0;
        for (int i = 0; i < 100; ++i) done += std::filesystem::exists(d.path("m" + std::to_string(i)));
        return done >= 20;
    }));
    const pid_t first_pid = first->pid();
    ::kill(first_pid, SIGKILL);
    const auto& killed = first->wait();
    EXPECT_TRUE(t::eventually([&] { return t::workers_of(first_pid).empty(); })) << "a worker outlived its host";
    // What the killed host said it completed was committed before it said so (attempts that
    // end together are written in one commit, and only then logged): none of it is lost.
    std::set<std::int64_t> reported;
    std::istringstream lines(killed.out + killed.err);
    for (std::string line; std::getline(lines, line);) {
        const auto job_at = line.find(" job=");
        if (line.find("attempt ended") == std::string::npos || line.find("next=completed") == std::string::npos || job_at == std::string::npos) {
            continue;
        }
        reported.insert(std::stoll(line.substr(job_at + 5)));
    }
    EXPECT_GE(reported.size(), 10u) << "20 tasks had run: most of them were reported\n" << killed.err;
    for (const auto id : reported) {
        const auto job = d.job(id);
        EXPECT_EQ(job->getValue<std::string>("state"), "completed") << "job " << id << " was reported completed before the kill";
        EXPECT_EQ(job->getArray("attempts")->size(), 1u) << "job " << id;
    }

    auto second = d.start_host();
    for (auto id : ids) ASSERT_TRUE(t::eventually([&] { return d.final_state(id); }, std::chrono::seconds(120))) << id;
    ::kill(second->pid(), SIGTERM);
    EXPECT_EQ(second->wait().exit_code, 0);

    int lost = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto job = d.job(ids[i]);
        ASSERT_EQ(job->getValue<std::string>("state"), "completed") << ids[i];
        auto attempts = job->getArray("attempts");
        int succeeded = 0;
        for (std::size_t a = 0; a < attempts->size(); ++a) {
            const auto outcome = attempts->getObject(static_cast<unsigned>(a))->getValue<std::string>("outcome");
            if (outcome == "succeeded") ++succeeded;
            else if (outcome == "worker_lost") ++lost;
            else ADD_FAILURE() << "job " << ids[i] << " attempt " << a + 1 << ": " << outcome;
        }
        EXPECT_EQ(succeeded, 1) << "job " << ids[i];
        // Every run of the task left one mark, and every run is recorded as an attempt (an
        // attempt the kill interrupted before its task started has no mark).
        std::ifstream in(d.path("m" + std::to_string(i)));
        std::size_t marks = 0;
        for (std::string line; std::getline(in, line);) ++marks;
        EXPECT_GE(marks, 1u) << "job " << ids[i];
        EXPECT_LE(marks, attempts->size()) << "job " << ids[i] << " ran more often than its attempts say";
    }
    EXPECT_GE(lost, 1) << "the kill must have interrupted something for this test to mean anything";
}

} // namespace
} // namespace sandhost
