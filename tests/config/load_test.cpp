// Valid configurations: defaults, overrides, includes, variables, and the examples in config/.
#include "config/load.h"

#include <unistd.h>

#include <climits>

#include <gtest/gtest.h>

#include "config_test_support.h"

namespace sandhost::config {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
using testing::test_options;

std::shared_ptr<const Settings> load_ok(const std::filesystem::path& file, const LoadOptions& options = test_options())
{
    LoadResult result = load_config(file, options);
    EXPECT_TRUE(result.ok()) << testing::error_lines(result);
    EXPECT_TRUE(result.errors.empty());
    return result.settings;
}

std::string hostname()
{
    char buffer[HOST_NAME_MAX + 1] = {};
    ::gethostname(buffer, sizeof buffer - 1);
    return buffer;
}

TEST(LoadConfig, AppliesEveryDefault)
{
    TempDir dir;
    auto settings = load_ok(dir.write("config.yaml", "queues:\n  q:\n    tasks: [hello.echo]\n"));
    ASSERT_TRUE(settings);

    EXPECT_EQ(settings->source_file, dir.path() / "config.yaml");
    EXPECT_TRUE(settings->included_files.empty());
    EXPECT_EQ(settings->host.name, hostname());
    EXPECT_EQ(settings->host.store, StoreUrl{SqliteStore{dir.path() / "sandhost.db"}});
    EXPECT_EQ(settings->host.store_prefix, "sandhost:");
    EXPECT_EQ(settings->host.store_page_size, 1024u);
    EXPECT_EQ(settings->host.store_sync, StoreSync::normal);
    EXPECT_EQ(settings->host.lease, 15s);
    EXPECT_TRUE(settings->host.plugin_dirs.empty());
    EXPECT_EQ(settings->host.max_workers, 8u);
    EXPECT_EQ(settings->host.log, (LogSettings{LogLevel::info, LogFormat::text}));
    EXPECT_EQ(settings->sandbox, model::SandboxSettings{});
    EXPECT_EQ(settings->sandbox.limits.memory_bytes, 512ull << 20);

    ASSERT_EQ(settings->queues.size(), 1u);
    const QueueSettings& q = settings->queues[0];
    EXPECT_EQ(q.name, "q");
    EXPECT_EQ(q.tasks, (std::vector<TaskPattern>{{"hello", "echo"}}));
    EXPECT_EQ(q.concurrency, 1u);
    EXPECT_EQ(q.global_concurrency, std::nullopt);
    EXPECT_EQ(q.prefetch, 0u);
    EXPECT_FALSE(q.rate_limit.has_value());
    EXPECT_EQ(q.retry.max_attempts, 3u);
    EXPECT_EQ(q.retry.backoff, (Backoff{BackoffType::exponential, 1s, 2.0, 5min, 0.1}));
    EXPECT_FALSE(q.ttl.has_value());
    EXPECT_EQ(q.max_lost, 3u);
    EXPECT_EQ(q.sandbox, settings->sandbox);
    EXPECT_EQ(q.defined_at, (SourceLocation{dir.path() / "config.yaml", 2, 3}));
    EXPECT_TRUE(settings->schedules.empty());
    EXPECT_EQ(settings->api, ApiSettings{}) << "the API is off";
    EXPECT_FALSE(settings->api.listen);
    EXPECT_EQ(settings->api.max_body, 16u << 20);
}

const std::string k_one_queue = "queues:\n  q:\n    tasks: [hello.echo]\n";

TEST(LoadConfig, ReadsWorkerPrivilegesWithQueueOverrides)
{
    TempDir dir;
    auto settings = load_ok(dir.write("config.yaml",
                                      "sandbox:\n"
                                      "  user: nobody\n"
                                      "  group: \"0\"\n"
                                      "  environment: {inherit: [HOME, \"XDG_*\"], set: {OMP_NUM_THREADS: \"1\"}}\n"
                                      "  network: none\n"
                                      "  capabilities: [CAP_NET_BIND_SERVICE, kill]\n"
                                      "queues:\n"
                                      "  q:\n"
                                      "    tasks: [hello.echo]\n"
                                      "  open:\n"
                                      "    tasks: [hello.echo]\n"
                                      "    sandbox: {syscalls: off, no_new_privileges: false, network: host, capabilities: []}\n"
                                      "  custom:\n"
                                      "    tasks: [hello.echo]\n"
                                      "    sandbox: {syscalls: {deny: [ptrace], allow_only: [read, write]}}\n"));
    ASSERT_TRUE(settings);
    const model::Privileges& p = settings->sandbox.privileges;
    EXPECT_EQ(p.user, "nobody");
    EXPECT_EQ(p.group, "0");
    EXPECT_EQ(p.environment.inherit, (std::vector<std::string>{"HOME", "XDG_*"}));
    EXPECT_EQ(p.environment.set, (std::map<std::string, std::string>{{"OMP_NUM_THREADS", "1"}}));
    EXPECT_EQ(p.network, model::Network::none);
    EXPECT_EQ(p.capabilities, (std::vector<std::string>{"net_bind_service", "kill"}));
    EXPECT_TRUE(p.no_new_privileges);
    EXPECT_EQ(p.syscalls.filter, model::SyscallFilter::default_list);
    ASSERT_EQ(settings->queues.size(), 3u);
    for (const auto& q : settings->queues) {
        if (q.name == "q") {
            EXPECT_EQ(q.sandbox.privileges, p);
        }
        if (q.name == "open") {
            EXPECT_EQ(q.sandbox.privileges.syscalls.filter, model::SyscallFilter::off);
            EXPECT_FALSE(q.sandbox.privileges.no_new_privileges);
            EXPECT_EQ(q.sandbox.privileges.network, model::Network::host);
            EXPECT_EQ(q.sandbox.privileges.capabilities, std::vector<std::string>{});
            EXPECT_EQ(q.sandbox.privileges.user, "nobody") << "what the queue does not say comes from the host's";
        }
        if (q.name == "custom") {
            EXPECT_EQ(q.sandbox.privileges.syscalls,
                      (model::SyscallSettings{model::SyscallFilter::custom, {"ptrace"}, {"read", "write"}}));
        }
    }
}

TEST(LoadConfig, ReadsTheFilesystemWithRelativePathsAndQueueOverridesKeyByKey)
{
    TempDir dir;
    dir.write("data/store.db", "the store");
    dir.write("work/.keep", "");
    auto settings = load_ok(dir.write("config.yaml",
                                      "sandbox:\n"
                                      "  filesystem: {workdir: work/, hide: [data, /etc/hostname]}\n"
                                      "queues:\n"
                                      "  q:\n"
                                      "    tasks: [hello.echo]\n"
                                      "  locked:\n"
                                      "    tasks: [hello.echo]\n"
                                      "    sandbox: {filesystem: {read_only: true, workdir: null}}\n"
                                      "  open:\n"
                                      "    tasks: [hello.echo]\n"
                                      "    sandbox: {filesystem: {hide: []}}\n"));
    ASSERT_TRUE(settings);
    const model::FilesystemSettings& fs = settings->sandbox.privileges.filesystem;
    const std::string base = dir.path().lexically_normal().string();
    EXPECT_EQ(fs.workdir, base + "/work");
    EXPECT_FALSE(fs.read_only);
    EXPECT_EQ(fs.hide, (std::vector<std::string>{base + "/data", "/etc/hostname"}));
    for (const auto& q : settings->queues) {
        const auto& qfs = q.sandbox.privileges.filesystem;
        if (q.name == "q") {
            EXPECT_EQ(qfs, fs);
        }
        if (q.name == "locked") {
            EXPECT_TRUE(qfs.read_only);
            EXPECT_FALSE(qfs.workdir);
            EXPECT_EQ(qfs.hide, fs.hide) << "what the queue does not say comes from the host's";
        }
        if (q.name == "open") {
            EXPECT_TRUE(qfs.hide.empty());
            EXPECT_EQ(qfs.workdir, fs.workdir);
        }
    }
    EXPECT_EQ(model::FilesystemSettings{}, load_ok(dir.write("plain.yaml", "queues: {q: {tasks: [hello.echo]}}\n"))->sandbox.privileges.filesystem);
}

TEST(LoadConfig, ReadsTheApiSection)
{
    TempDir dir;
    dir.write("secrets/token", "0123456789abcdef-token\n");
    dir.write("tls/cert.pem", "-----BEGIN CERTIFICATE-----\n");
    dir.write("tls/key.pem", "-----BEGIN PRIVATE KEY-----\n");
    auto settings = load_ok(dir.write("config.yaml", "api:\n  listen: 0.0.0.0:7450\n  token_file: secrets/token\n"
                                                     "  tls: {cert: tls/cert.pem, key: tls/key.pem}\n  max_body: 1MiB\n"
                                                     "  metrics_auth: true\n" + k_one_queue));
    ASSERT_TRUE(settings);
    const ApiSettings& api = settings->api;
    EXPECT_EQ(api.listen, (ApiListen{"0.0.0.0", 7450}));
    EXPECT_EQ(api.token, "0123456789abcdef-token") << "without the file's newline";
    EXPECT_EQ(api.token_file, dir.path() / "secrets/token");
    EXPECT_EQ(api.tls, (TlsFiles{dir.path() / "tls/cert.pem", dir.path() / "tls/key.pem"}));
    EXPECT_EQ(api.max_body, 1u << 20);
    EXPECT_TRUE(api.metrics_auth);

    // A token from the environment; an IPv6 loopback needs none.
    settings = load_ok(dir.write("env.yaml", "api: {listen: \"[::1]:0\", token: \"${API_TOKEN}\"}\n" + k_one_queue),
                       test_options({{"API_TOKEN", "from-the-environment"}}));
    ASSERT_TRUE(settings);
    EXPECT_EQ(settings->api.listen, (ApiListen{"::1", 0}));
    EXPECT_EQ(settings->api.listen->to_string(), "[::1]:0");
    EXPECT_EQ(settings->api.token, "from-the-environment");
    EXPECT_FALSE(settings->api.token_file);
    settings = load_ok(dir.write("open.yaml", "api: {listen: \"127.0.0.2:7450\"}\n" + k_one_queue));
    ASSERT_TRUE(settings);
    EXPECT_FALSE(settings->api.token);
}

TEST(ApiListen, ParsesAndTellsLoopbackAddresses)
{
    for (const char* loopback : {"127.0.0.1:7450", "127.1.2.3:1", "[::1]:7450", "localhost:80"}) {
        const auto listen = ApiListen::parse(loopback);
        ASSERT_TRUE(listen) << loopback;
        EXPECT_TRUE(listen.value().is_loopback()) << loopback;
        EXPECT_EQ(listen.value().to_string(), loopback);
    }
    for (const char* open : {"0.0.0.0:7450", "[::]:7450", "192.168.1.4:7450", "[::ffff:127.0.0.1]:1", "localhost.example:1"}) {
        const auto listen = ApiListen::parse(open);
        ASSERT_TRUE(listen) << open;
        EXPECT_FALSE(listen.value().is_loopback()) << open;
    }
    for (const char* bad : {"", ":80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:-1", "127.0.0.1:65536", "[::1:80", "[nope]:80", "::1:80"}) {
        EXPECT_FALSE(ApiListen::parse(bad)) << bad;
    }
}

TEST(LoadConfig, QueueSandboxOverridesTheHostKeyByKey)
{
    TempDir dir;
    auto settings = load_ok(dir.write("config.yaml", R"(
sandbox:
  timeout: 10s
  mode: fork
  limits: {memory: 256MiB, cpu: 30s, processes: unlimited}
  reuse: {max_rss: 128MiB}
queues:
  plain:
    tasks: [hello.echo]
  tight:
    tasks: [hello.echo]
    sandbox:
      timeout: 5s
      limits: {memory: 128MiB, open_files: unlimited}
      reuse: {max_jobs_per_worker: 10}
      fork_servers: 1
)"));
    ASSERT_TRUE(settings);
    model::SandboxSettings host;
    host.timeout = 10s;
    host.mode = model::Mode::fork;
    host.limits.memory_bytes = 256ull << 20;
    host.limits.cpu = 30s;
    host.limits.processes.reset();
    host.reuse.max_rss_bytes = 128ull << 20;
    EXPECT_EQ(settings->sandbox, host);

    ASSERT_EQ(settings->queues.size(), 2u);
    EXPECT_EQ(settings->queues[0].name, "plain");
    EXPECT_EQ(settings->queues[0].sandbox, host);

    const auto& tight = settings->queues[1].sandbox;
    EXPECT_EQ(tight.timeout, 5s);
    EXPECT_EQ(tight.mode, model::Mode::fork);                 // from the host
    EXPECT_EQ(tight.grace, 2s);                                 // built-in default
    EXPECT_EQ(tight.limits.memory_bytes, 128ull << 20);         // overridden
    EXPECT_EQ(tight.limits.cpu, std::optional<model::Duration>(30s));  // from the host
    EXPECT_FALSE(tight.limits.open_files.has_value());          // lifted
    EXPECT_FALSE(tight.limits.processes.has_value());           // lifted by the host
    EXPECT_EQ(tight.limits.file_size_bytes, 64ull << 20);       // built-in default
    EXPECT_EQ(tight.reuse.max_jobs_per_worker, 10u);
    EXPECT_EQ(tight.fork_servers, 1u);
    EXPECT_EQ(settings->sandbox.fork_servers, 0u) << "auto: one per CPU";
    EXPECT_EQ(tight.reuse.max_rss_bytes, 128ull << 20);
}

TEST(LoadConfig, CgroupIsAutoByDefaultAndAQueueMayTurnItOff)
{
    TempDir dir;
    auto settings = load_ok(dir.write("config.yaml", R"(
queues:
  plain:
    tasks: [hello.echo]
  trusted:
    tasks: [hello.echo]
    sandbox: {cgroup: off}
)"));
    ASSERT_TRUE(settings);
    EXPECT_EQ(settings->sandbox.cgroup, model::CgroupUse::automatic);
    ASSERT_EQ(settings->queues.size(), 2u);
    EXPECT_EQ(settings->queues[0].sandbox.cgroup, model::CgroupUse::automatic);
    EXPECT_EQ(settings->queues[1].sandbox.cgroup, model::CgroupUse::off);
}

TEST(LoadConfig, ReadsEveryQueueAndScheduleKey)
{
    TempDir dir;
    auto settings = load_ok(dir.write("config.yaml", R"(
host:
  name: host-a
  store: redis://cache:6380/3
  store_prefix: "prod:"
  store_page_size: 4KiB
  store_sync: full
  lease: 5s
  plugin_dirs: [plugins, /opt/sandhost/plugins, ../shared/./plugins]
  max_workers: 16
  log: {level: debug, format: json}
queues:
  legacy:
    tasks: [legacy_c.checksum, "legacy_c.*"]
    concurrency: 2
    global_concurrency: 6
    prefetch: 4
    rate_limit: {jobs: 100, per: 1s}
    retry: {max_attempts: 5, backoff: {type: fixed, delay: 250ms, factor: 1.5, max: 1m, jitter: 0}}
    ttl: 1h
    max_lost: 2
schedules:
  - {name: nightly, queue: legacy, task: legacy_c.checksum, payload: {path: /data, n: 3, ok: true, none: ~, list: [1.5, "2"]}, cron: "0 3 * * *"}
  - name: tick
    queue: legacy
    task: legacy_c.reverse
    every: 90s
)"));
    ASSERT_TRUE(settings);
    EXPECT_EQ(settings->host.name, "host-a");
    RedisStore cache;
    cache.host = "cache";
    cache.port = 6380;
    cache.db = 3;
    EXPECT_EQ(settings->host.store, StoreUrl{cache});
    EXPECT_EQ(settings->host.store_prefix, "prod:");
    EXPECT_EQ(settings->host.store_page_size, 4096u);
    EXPECT_EQ(settings->host.store_sync, StoreSync::full);
    EXPECT_EQ(settings->host.lease, 5s);
    EXPECT_EQ(settings->host.plugin_dirs,
              (std::vector<std::filesystem::path>{dir.path() / "plugins", "/opt/sandhost/plugins",
                                                  dir.path().parent_path() / "shared/plugins"}));
    EXPECT_EQ(settings->host.max_workers, 16u);
    EXPECT_EQ(settings->host.log, (LogSettings{LogLevel::debug, LogFormat::json}));

    const QueueSettings* legacy = settings->find_queue("legacy");
    ASSERT_NE(legacy, nullptr);
    EXPECT_EQ(settings->find_queue("nope"), nullptr);
    EXPECT_EQ(legacy->tasks, (std::vector<TaskPattern>{{"legacy_c", "checksum"}, {"legacy_c", "*"}}));
    EXPECT_EQ(legacy->concurrency, 2u);
    EXPECT_EQ(legacy->global_concurrency, std::optional<std::uint32_t>(6));
    EXPECT_EQ(legacy->prefetch, 4u);
    EXPECT_EQ(legacy->rate_limit, (RateLimit{100, 1s}));
    EXPECT_EQ(legacy->retry, (RetryPolicy{5, Backoff{BackoffType::fixed, 250ms, 1.5, 1min, 0.0}}));
    EXPECT_EQ(legacy->ttl, std::optional<model::Duration>(1h));
    EXPECT_EQ(legacy->max_lost, 2u);
    EXPECT_TRUE(legacy->may_run(TaskRef{"legacy_c", "parse"}));
    EXPECT_FALSE(legacy->may_run(TaskRef{"hello", "echo"}));

    ASSERT_EQ(settings->schedules.size(), 2u);
    const ScheduleSettings& nightly = settings->schedules[0];
    EXPECT_EQ(nightly.name, "nightly");
    EXPECT_EQ(nightly.queue, "legacy");
    EXPECT_EQ(nightly.task, (TaskRef{"legacy_c", "checksum"}));
    EXPECT_EQ(nightly.payload_json, R"({"path":"/data","n":3,"ok":true,"none":null,"list":[1.5,"2"]})");
    ASSERT_TRUE(std::holds_alternative<CronExpression>(nightly.trigger));
    EXPECT_EQ(std::get<CronExpression>(nightly.trigger).text(), "0 3 * * *");
    EXPECT_EQ(nightly.defined_at, (SourceLocation{dir.path() / "config.yaml", 23, 5}));

    const ScheduleSettings& tick = settings->schedules[1];
    EXPECT_EQ(tick.payload_json, "{}");
    EXPECT_EQ(tick.trigger, (std::variant<Every, CronExpression>{Every{90s}}));
    EXPECT_EQ(tick.defined_at.line, 24);
}

TEST(LoadConfig, QueueRetentionReplacesTheHostDefaultStateByState)
{
    TempDir dir;
    auto settings = load_ok(dir.write("config.yaml", "host:\n  retention: {completed: {age: 7d}, dead: {age: 30d, count: 50}}\n"
                                                     "queues:\n  a:\n    tasks: [hello.echo]\n"
                                                     "  b:\n    tasks: [hello.echo]\n    retention: {completed: {count: 1000}, cancelled: {age: 0s}}\n"));
    ASSERT_TRUE(settings);
    EXPECT_EQ(settings->host.retention.completed, (model::RetentionLimit{7 * 24h, std::nullopt}));
    const auto& a = *settings->find_queue("a");
    EXPECT_EQ(a.retention, settings->host.retention);
    const auto& b = *settings->find_queue("b");
    EXPECT_EQ(b.retention.completed, (model::RetentionLimit{std::nullopt, 1000}));
    EXPECT_EQ(b.retention.dead, (model::RetentionLimit{30 * 24h, 50}));
    EXPECT_EQ(b.retention.cancelled, (model::RetentionLimit{0ms, std::nullopt}));
    EXPECT_EQ(model::describe(b.retention), "completed: count 1000; dead: age 30d, count 50; cancelled: age 0s");
    EXPECT_FALSE(load_ok(dir.write("plain.yaml", "queues:\n  q:\n    tasks: [hello.echo]\n"))->queues[0].retention.limits())
        << "no retention by default: every finished job is kept";
}

TEST(LoadConfig, IncludesAddQueuesAndSchedulesInNameOrder)
{
    TempDir dir;
    auto main = dir.write("main.yaml", R"(
sandbox: {timeout: 7s}
queues:
  main:
    tasks: [hello.echo]
include: [queues.d/*.yaml, extra/one.yaml]
)");
    dir.write("queues.d/b.yaml", "queues:\n  b:\n    tasks: [hello.long]\n    sandbox: {grace: 1s}\n");
    dir.write("queues.d/a.yaml", "schedules:\n  - {name: from-a, queue: b, task: hello.long, every: 1h}\n");
    dir.write("queues.d/empty.yaml", "# nothing yet\n");
    dir.write("queues.d/notes.txt", "not yaml: [");
    std::filesystem::create_directories(dir.path() / "queues.d/subdir.yaml");
    // Nested includes resolve against the including file.
    dir.write("extra/one.yaml", "queues:\n  one:\n    tasks: [legacy_c.parse]\ninclude: [two.yaml]\n");
    dir.write("extra/two.yaml", "queues:\n  two:\n    tasks: [legacy_c.reverse]\n");

    auto settings = load_ok(main);
    ASSERT_TRUE(settings);
    std::vector<std::string> names;
    for (const auto& q : settings->queues) names.push_back(q.name);
    EXPECT_EQ(names, (std::vector<std::string>{"b", "main", "one", "two"}));
    EXPECT_EQ(settings->included_files,
              (std::vector<std::filesystem::path>{dir.path() / "queues.d/a.yaml", dir.path() / "queues.d/b.yaml",
                                                  dir.path() / "queues.d/empty.yaml", dir.path() / "extra/one.yaml",
                                                  dir.path() / "extra/two.yaml"}));
    const QueueSettings* b = settings->find_queue("b");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->defined_at, (SourceLocation{dir.path() / "queues.d/b.yaml", 2, 3}));
    // Included queues build on the main file's sandbox too.
    EXPECT_EQ(b->sandbox.timeout, 7s);
    EXPECT_EQ(b->sandbox.grace, 1s);
    ASSERT_EQ(settings->schedules.size(), 1u);
    EXPECT_EQ(settings->schedules[0].defined_at, (SourceLocation{dir.path() / "queues.d/a.yaml", 2, 5}));
    EXPECT_EQ(settings->find_queue("two")->defined_at.file, dir.path() / "extra/two.yaml");
}

TEST(LoadConfig, ExpandsEnvironmentVariablesInValues)
{
    TempDir dir;
    auto file = dir.write("config.yaml", R"(
host:
  name: ${HOST_NAME}
  store: sqlite:${DATA_DIR:-data}/jobs.db
  plugin_dirs: ["${PLUGINS}"]
  max_workers: ${WORKERS:-4}
queues:
  q:
    tasks: ["hello.${TASK:-echo}"]
    sandbox: {timeout: "${TIMEOUT:-5s}"}
schedules:
  - name: s
    queue: ${QUEUE}
    task: hello.echo
    every: 1m
    payload:
      n: "${N}"
      m: ${N}
      price: $$5
      empty: ${EMPTY}
      ${KEY}: keys are literal
)");
    auto settings = load_ok(file, test_options({{"HOST_NAME", "from-env"},
                                                {"PLUGINS", "/srv/plugins"},
                                                {"N", "42"},
                                                {"EMPTY", ""},
                                                {"TIMEOUT", "3s"},
                                                {"QUEUE", "q"}}));
    ASSERT_TRUE(settings);
    EXPECT_EQ(settings->host.name, "from-env");
    EXPECT_EQ(settings->host.store, StoreUrl{SqliteStore{dir.path() / "data/jobs.db"}});
    EXPECT_EQ(settings->host.plugin_dirs, (std::vector<std::filesystem::path>{"/srv/plugins"}));
    EXPECT_EQ(settings->host.max_workers, 4u);
    ASSERT_EQ(settings->queues.size(), 1u);
    EXPECT_EQ(settings->queues[0].tasks, (std::vector<TaskPattern>{{"hello", "echo"}}));
    EXPECT_EQ(settings->queues[0].sandbox.timeout, 3s);
    ASSERT_EQ(settings->schedules.size(), 1u);
    EXPECT_EQ(settings->schedules[0].queue, "q");
    // Quoted stays a string; plain scalars are typed after expansion; an empty plain one is null.
    EXPECT_EQ(settings->schedules[0].payload_json,
              R"({"n":"42","m":42,"price":"$5","empty":null,"${KEY}":"keys are literal"})");
}

TEST(LoadConfig, TextEntryPointResolvesAgainstTheNamedFile)
{
    LoadResult result = load_config_text("host:\n  plugin_dirs: [p]\nqueues:\n  q:\n    tasks: [hello.echo]\n",
                                         "/etc/sandhost/host.yaml", test_options());
    ASSERT_TRUE(result.ok()) << testing::error_lines(result);
    EXPECT_EQ(result.settings->host.plugin_dirs, (std::vector<std::filesystem::path>{"/etc/sandhost/p"}));
    EXPECT_EQ(result.settings->host.store, StoreUrl{SqliteStore{"/etc/sandhost/sandhost.db"}});
}

TEST(LoadConfig, CatalogProviderSeesTheResolvedPluginDirs)
{
    TempDir dir;
    std::vector<std::filesystem::path> seen;
    int calls = 0;
    LoadOptions options = test_options();
    options.catalog = [&](const std::vector<std::filesystem::path>& dirs) {
        ++calls;
        seen = dirs;
        return testing::build_catalog(dirs);
    };
    load_ok(dir.write("config.yaml", "host:\n  plugin_dirs: [a, /b]\nqueues:\n  q:\n    tasks: [hello.echo]\n"),
            options);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(seen, (std::vector<std::filesystem::path>{dir.path() / "a", "/b"}));
}

TEST(LoadConfig, WithoutCatalogTaskReferencesAreOnlyCheckedForForm)
{
    TempDir dir;
    LoadOptions options = test_options();
    options.catalog = nullptr;
    auto file = dir.write("config.yaml", "queues:\n  q:\n    tasks: [nosuch.task]\n");
    EXPECT_TRUE(load_config(file, options).ok());
    EXPECT_FALSE(load_config(file, test_options()).ok());
}

TEST(LoadConfig, ExampleConfigsAreValid)
{
    const std::filesystem::path source = SANDHOST_SOURCE_DIR;
    for (const char* name : {"config/demo.yaml", "config/example.yaml", "config/hosts.yaml"}) {
        SCOPED_TRACE(name);
        auto settings = load_ok(source / name, test_options());
        ASSERT_TRUE(settings);
        EXPECT_FALSE(settings->queues.empty());
        EXPECT_FALSE(settings->schedules.empty());
        EXPECT_EQ(settings->host.plugin_dirs, (std::vector<std::filesystem::path>{source / "build/plugins"}));
    }
}

TEST(LoadConfig, DemoConfigKeepsTheChaosQueueFast)
{
    auto settings = load_ok(std::filesystem::path(SANDHOST_SOURCE_DIR) / "config/demo.yaml");
    ASSERT_TRUE(settings);
    const QueueSettings* chaos = settings->find_queue("chaos");
    ASSERT_NE(chaos, nullptr);
    EXPECT_TRUE(chaos->may_run(TaskRef{"misbehave", "segfault"}));
    EXPECT_EQ(chaos->sandbox.timeout, 2s);
    EXPECT_EQ(chaos->sandbox.limits.memory_bytes, 64ull << 20);
    EXPECT_EQ(chaos->retry.max_attempts, 2u);
    EXPECT_EQ(chaos->retry.backoff.delay, 100ms);
    const QueueSettings* def = settings->find_queue("default");
    ASSERT_NE(def, nullptr);
    EXPECT_TRUE(def->may_run(TaskRef{"hello", "echo"}));
    EXPECT_TRUE(def->may_run(TaskRef{"legacy_c", "checksum"}));
}

} // namespace
} // namespace sandhost::config
