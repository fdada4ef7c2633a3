#include "config/to_yaml.h"

#include <gtest/gtest.h>

#include "config/load.h"
#include "config_test_support.h"

namespace sandhost::config {
namespace {

using testing::TempDir;
using testing::test_options;

// Where things were written differs between a file and its printed form; everything else
// must not.
Settings without_provenance(Settings settings)
{
    settings.source_file.clear();
    settings.included_files.clear();
    for (auto& q : settings.queues) q.defined_at = {};
    for (auto& s : settings.schedules) s.defined_at = {};
    return settings;
}

std::string without_comments(const std::string& yaml)
{
    std::string out;
    std::size_t start = 0;
    while (start < yaml.size()) {
        std::size_t end = yaml.find('\n', start);
        std::string line = yaml.substr(start, end - start + 1);
        if (line.find("# defined at ") == std::string::npos) out += line;
        start = end + 1;
    }
    return out;
}

// Loads `file`, prints it, loads the print from another directory, and expects equal settings.
void expect_round_trip(const std::filesystem::path& file, const LoadOptions& options = test_options())
{
    LoadResult first = load_config(file, options);
    ASSERT_TRUE(first.ok()) << testing::error_lines(first);
    std::string printed = to_yaml(*first.settings);

    TempDir elsewhere;
    LoadResult second = load_config(elsewhere.write("printed.yaml", printed), options);
    ASSERT_TRUE(second.ok()) << testing::error_lines(second) << printed;
    EXPECT_EQ(without_provenance(*first.settings), without_provenance(*second.settings)) << printed;
    // Printing is stable: the second print is the first, but for the "defined at" comments.
    EXPECT_EQ(without_comments(to_yaml(*second.settings)), without_comments(printed));
}

TEST(ToYaml, PrintsEveryDefault)
{
    TempDir dir;
    LoadResult result = load_config_text("queues:\n  q:\n    tasks: [hello.echo]\n", "/etc/sandhost/host.yaml",
                                         test_options());
    ASSERT_TRUE(result.ok()) << testing::error_lines(result);
    Settings settings = *result.settings;
    settings.host.name = "host-a";
    const std::string expected_sandbox = R"(enabled: true
mode: spawn
timeout: 30s
startup_timeout: 5s
grace: 2s
limits: {memory: 512MiB, cpu: 1m, open_files: 256, file_size: 64MiB, processes: 64, output: 1MiB, output_action: drop}
max_result: 64MiB
fallback: none
fallback_on_timeout: false
fork_servers: auto
reuse: {max_jobs_per_worker: 1000, max_rss: 256MiB, idle_timeout: 1m}
cgroup: auto
# user: not set, the host's user
environment: {inherit: [], set: {}}
no_new_privileges: true
# capabilities: not set, the host's (none for another user)
network: host
syscalls: default
filesystem: {workdir: null, read_only: false, hide: []}
)";
    auto indent = [](const std::string& text, const std::string& prefix) {
        std::string out;
        std::size_t start = 0;
        while (start < text.size()) {
            std::size_t end = text.find('\n', start);
            out += prefix + text.substr(start, end - start + 1);
            start = end + 1;
        }
        return out;
    };
    EXPECT_EQ(to_yaml(settings), "host:\n"
                                 "  name: \"host-a\"\n"
                                 "  store: \"sqlite:/etc/sandhost/sandhost.db\"\n"
                                 "  store_prefix: \"sandhost:\"\n"
                                 "  store_page_size: 1KiB\n"
                                 "  store_sync: normal\n"
                                 "  lease: 15s\n"
                                 "  plugin_dirs: []\n"
                                 "  max_workers: 8\n"
                                 "  max_payload: 16MiB\n"
                                 "  retention: {completed: {}, dead: {}, cancelled: {}}\n"
                                 "  allow_insecure_plugins: false\n"
                                 "  log: {level: info, format: text}\n"
                                 "sandbox:\n" +
                                     indent(expected_sandbox, "  ") +
                                     "api:\n"
                                     "  # listen: not set, the API is off\n"
                                     "  max_body: 16MiB\n"
                                     "  metrics_auth: false\n"
                                     "queues:\n"
                                     "  # defined at /etc/sandhost/host.yaml:2:3\n"
                                     "  \"q\":\n"
                                     "    tasks: [\"hello.echo\"]\n"
                                     "    concurrency: 1\n"
                                     "    retry: {max_attempts: 3, backoff: {type: exponential, delay: 1s, factor: 2, "
                                     "max: 5m, jitter: 0.1}}\n"
                                     "    max_lost: 3\n"
                                     "    retention: {completed: {}, dead: {}, cancelled: {}}\n"
                                     "    sandbox:\n" +
                                     indent(expected_sandbox, "      ") + "schedules: []\n");
}

TEST(ToYaml, RoundTripsARichConfig)
{
    TempDir dir;
    dir.write("queues.d/extra.yaml", "queues:\n  extra:\n    tasks: [legacy_c.parse]\n    ttl: 90s\n");
    dir.write("token.txt", "a-token-of-twenty-chars\n");
    dir.write("cert.pem", "-----BEGIN CERTIFICATE-----\n");
    dir.write("key.pem", "-----BEGIN PRIVATE KEY-----\n");
    dir.write("work $dir/.keep", "");
    dir.write("data/store.db", "");
    auto file = dir.write("config.yaml", R"(
host:
  name: "host \"quoted\" $$HOME"
  store: redis://[::1]:7000/2
  store_prefix: "staging:"
  lease: 2500ms
  plugin_dirs: [plugins, /opt/p]
  max_workers: 3
  log: {level: trace, format: json}
sandbox:
  enabled: false
  mode: reuse
  timeout: 1500ms
  startup_timeout: 1h
  grace: 0s
  limits: {memory: 1GB, cpu: unlimited, open_files: 10, file_size: 0B, processes: unlimited, output: 10KB}
  max_result: 3000B
  fallback: inline
  fallback_on_timeout: true
  fork_servers: 3
  reuse: {max_jobs_per_worker: 7, max_rss: 1GiB, idle_timeout: 250ms}
  cgroup: off
  user: nobody
  group: "0"
  environment: {inherit: [HOME, "LC_*"], set: {OMP_NUM_THREADS: "1", EMPTY: ""}}
  no_new_privileges: false
  capabilities: [net_bind_service]
  network: none
  syscalls: {deny: [ptrace], allow_only: [read, write]}
  filesystem: {workdir: "work $$dir", read_only: true, hide: [data, /etc/hostname]}
api:
  listen: "[::1]:0"
  token_file: token.txt
  tls: {cert: cert.pem, key: key.pem}
  max_body: 3MiB
  metrics_auth: true
queues:
  q-1:
    tasks: ["hello.*", misbehave.leak]
    concurrency: 9
    prefetch: 18
    global_concurrency: 20
    rate_limit: {jobs: 3, per: 2m}
    retry: {max_attempts: 10, backoff: {type: fixed, delay: 0s, factor: 1.25, max: 1ms, jitter: 0.3333333333333333}}
    ttl: 2h
    max_lost: 1
    sandbox: {mode: spawn, limits: {cpu: 2s, memory: unlimited}, filesystem: {hide: [data/store.db]}}
schedules:
  - name: tricky
    queue: q-1
    task: hello.echo
    payload: {"text": "line\nbreak \"quote\" tab\t$$dollar ${X}", "unicode": "Grüße ✓", "nested": [[], {}, {"a": [1, -2.5e3, null, false]}], "": "empty key", "del": "\x7f"}
    cron: "*/5  9-17 * * mon-fri"
  - {name: plain, queue: q-1, task: misbehave.leak, payload: 12, every: 36h}
  - {name: text, queue: q-1, task: misbehave.leak, payload: "just text", every: 1s}
  - {name: nothing, queue: q-1, task: misbehave.leak, payload: ~, every: 1s}
include: ["queues.d/*.yaml"]
)");
    expect_round_trip(file, test_options({{"X", "x-value"}}));
}

TEST(ToYaml, NeverPrintsTheStorePassword)
{
    TempDir dir;
    LoadResult result = load_config_text("host:\n  store: redis://app:hunter2@cache/1\nqueues:\n  q: {tasks: [hello.echo]}\n",
                                         (dir.path() / "host.yaml").string(), test_options());
    ASSERT_TRUE(result.ok()) << testing::error_lines(result);
    const std::string printed = to_yaml(*result.settings);
    EXPECT_EQ(printed.find("hunter2"), std::string::npos) << printed;
    EXPECT_NE(printed.find("store: \"redis://app:***@cache:6379/1\""), std::string::npos) << printed;
}

TEST(ToYaml, RoundTripsAnInlineToken)
{
    TempDir dir;
    auto file = dir.write("config.yaml", "api: {listen: \"0.0.0.0:7450\", token: \"${T}$$-and-more\"}\n");
    expect_round_trip(file, test_options({{"T", "sixteen-chars-or"}}));
}

TEST(ToYaml, RoundTripsTheExamples)
{
    const std::filesystem::path source = SANDHOST_SOURCE_DIR;
    expect_round_trip(source / "config/demo.yaml");
    expect_round_trip(source / "config/example.yaml");
    expect_round_trip(source / "config/hosts.yaml");
}

} // namespace
} // namespace sandhost::config
