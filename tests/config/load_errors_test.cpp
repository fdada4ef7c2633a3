// Bad configurations, one per row: each asserts every error's file, line, column and message.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/load.h"
#include "config_test_support.h"

namespace sandhost::config {
namespace {

using testing::TempDir;
using testing::test_options;

struct ExpectedError {
    int line;
    int column;
    std::string message;  // "{dir}" stands for the test's directory
    std::string file = "config.yaml";
};

struct BadConfig {
    std::string name;
    std::string yaml;  // written to config.yaml
    std::vector<ExpectedError> errors;
    std::vector<std::pair<std::string, std::string>> other_files = {};
};

void PrintTo(const BadConfig& config, std::ostream* out)
{
    *out << config.name;
}

std::string replace_dir(std::string text, const std::string& dir)
{
    for (auto at = text.find("{dir}"); at != std::string::npos; at = text.find("{dir}", at + dir.size())) {
        text.replace(at, 5, dir);
    }
    return text;
}

// A queue every row that needs one can start from.
const std::string k_queue = "queues:\n  q:\n    tasks: [hello.echo]\n";

const BadConfig k_bad_configs[] = {
    // Unknown keys, at every level.
    {"unknown_top_level_key", "qeues:\n  q: {tasks: [hello.echo]}\n",
     {{1, 1, "unknown key \"qeues\" at the top level; did you mean \"queues\"?"}}},
    {"unknown_host_key", "host:\n  colour: red\n",
     {{2, 3, "unknown key \"colour\" in host (expected name, store, store_prefix, store_page_size, store_sync, lease, plugin_dirs, max_workers, max_payload, retention, allow_insecure_plugins, log)"}}},
    {"unknown_log_key", "host:\n  log: {levl: info}\n",
     {{2, 9, "unknown key \"levl\" in host.log; did you mean \"level\"?"}}},
    {"unknown_sandbox_key", "sandbox:\n  timout: 5s\n",
     {{2, 3, "unknown key \"timout\" in sandbox; did you mean \"timeout\"?"}}},
    {"unknown_limits_key", "sandbox:\n  limits:\n    memroy: 1GiB\n",
     {{3, 5, "unknown key \"memroy\" in sandbox.limits; did you mean \"memory\"?"}}},
    {"fork_servers_zero", "sandbox:\n  fork_servers: 0\n", {{2, 17, "fork_servers: must be from 1 to 1024, got \"0\""}}},
    {"store_page_size_not_a_power_of_two", "host:\n  store_page_size: 3KiB\n",
     {{2, 20, "store_page_size: must be a power of two from 512B to 64KiB, got \"3KiB\""}}},
    {"store_page_size_too_large", "host:\n  store_page_size: 128KiB\n",
     {{2, 20, "store_page_size: must be a power of two from 512B to 64KiB, got \"128KiB\""}}},
    {"store_page_size_too_small", "host:\n  store_page_size: 256B\n", {{2, 20, "store_page_size: must be at least 512B, got \"256B\""}}},
    {"fork_servers_word", "sandbox:\n  fork_servers: many\n", {{2, 17, "fork_servers: expected an integer, got \"many\""}}},
    {"unknown_reuse_key", "sandbox:\n  reuse: {max_job: 5}\n",
     {{2, 11, "unknown key \"max_job\" in sandbox.reuse (expected max_jobs_per_worker, max_rss, idle_timeout)"}}},
    {"unknown_queue_key", k_queue + "    concurency: 2\n",
     {{4, 5, "unknown key \"concurency\" in queues.q; did you mean \"concurrency\"?"}}},
    {"unknown_queue_sandbox_limits_key", k_queue + "    sandbox: {limits: {cpus: 5s}}\n",
     {{4, 24, "unknown key \"cpus\" in queues.q.sandbox.limits; did you mean \"cpu\"?"}}},
    {"unknown_backoff_key", k_queue + "    retry:\n      backoff:\n        jiter: 0.2\n",
     {{6, 9, "unknown key \"jiter\" in queues.q.retry.backoff; did you mean \"jitter\"?"}}},
    {"unknown_rate_limit_key", k_queue + "    rate_limit:\n      jobs: 5\n      pre: 1s\n",
     {{6, 7, "unknown key \"pre\" in queues.q.rate_limit; did you mean \"per\"?"}}},
    {"unknown_schedule_key",
     k_queue + "schedules:\n  - name: s\n    queue: q\n    task: hello.echo\n    every: 5m\n    paylod: {}\n",
     {{9, 5, "unknown key \"paylod\" in schedule \"s\"; did you mean \"payload\"?"}}},
    {"merge_key", "queues:\n  q:\n    <<: {tasks: [hello.echo]}\n",
     {{2, 3, "queue \"q\" has no tasks: (add tasks: [plugin.task or plugin.*])"},
      {3, 5, "merge keys (\"<<\") are not supported in queues.q; write the keys out"}}},
    {"non_string_key", "? [a]\n: b\n", {{1, 3, "keys must be strings, got a sequence at the top level"}}},

    // Wrong types.
    {"queues_is_a_sequence", "queues: [a, b]\n", {{1, 9, "queues: expected a mapping, got a sequence"}}},
    {"top_level_is_a_sequence", "- a\n- b\n",
     {{1, 1, "expected a mapping with host, sandbox, api, queues, schedules or include, got a sequence"}}},
    {"integer_is_a_word", k_queue + "    concurrency: two\n",
     {{4, 18, "concurrency: expected an integer, got \"two\""}}},
    {"tasks_is_a_scalar", "queues:\n  q:\n    tasks: hello.echo\n",
     {{3, 12, "tasks: expected a sequence, got \"hello.echo\""}}},
    {"bool_is_yes", "sandbox:\n  enabled: yes\n", {{2, 12, "enabled: expected true or false, got \"yes\""}}},
    {"plugin_dirs_is_a_mapping", "host:\n  plugin_dirs: {a: b}\n",
     {{2, 16, "plugin_dirs: expected a sequence, got a mapping"}}},
    {"duration_is_a_mapping", "sandbox:\n  timeout: {s: 5}\n", {{2, 12, "timeout: expected a duration, got a mapping"}}},
    {"missing_value", "sandbox:\n  timeout:\n", {{2, 3, "timeout: missing value (expected a duration)"}}},
    {"unlimited_is_for_limits_only", "sandbox:\n  max_result: unlimited\n",
     {{2, 15,
       "max_result: \"unlimited\" is not a size (a number and a unit: B, KiB, MiB, GiB, TiB, KB, MB, GB or TB, e.g. "
       "\"64MiB\")"}}},

    // Units.
    {"bare_number_duration", "sandbox:\n  timeout: 30\n",
     {{2, 12, "timeout: \"30\" has no unit (durations take ms, s, m, h or d, e.g. \"30s\")"}}},
    {"bare_number_size", "sandbox:\n  max_result: 1024\n",
     {{2, 15,
       "max_result: \"1024\" has no unit (sizes take B, KiB, MiB, GiB, TiB, KB, MB, GB or TB, e.g. \"64MiB\")"}}},
    {"bad_duration_unit", "sandbox:\n  grace: 5sec\n",
     {{2, 10, "grace: \"5sec\" has an unknown unit \"sec\" (durations take ms, s, m, h or d)"}}},
    {"bad_size_unit", "sandbox:\n  limits: {memory: 64mb}\n",
     {{2, 20, "memory: \"64mb\" has an unknown unit \"mb\" (sizes take B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)"}}},

    {"retention_unknown_state", k_queue + "    retention: {finished: {count: 5}}\n",
     {{4, 17, "unknown key \"finished\" in queues.q.retention (expected completed, dead, cancelled)"}}},
    {"retention_limit_typo", "host:\n  retention: {dead: {ages: 30d}}\n",
     {{2, 22, "unknown key \"ages\" in host.retention.dead; did you mean \"age\"?"}}},
    {"retention_bare_count", k_queue + "    retention: {completed: {count: -1}}\n",
     {{4, 36, "count: must be from 0 to 1000000000000, got \"-1\""}}},

    // Ranges.
    {"concurrency_zero", k_queue + "    concurrency: 0\n",
     {{4, 18, "concurrency: must be from 1 to 10000, got \"0\""}}},
    {"jitter_above_one", k_queue + "    retry: {backoff: {jitter: 1.5}}\n",
     {{4, 31, "jitter: must be from 0 to 1, got \"1.5\""}}},
    {"max_attempts_negative", k_queue + "    retry: {max_attempts: -1}\n",
     {{4, 27, "max_attempts: must be from 1 to 1000, got \"-1\""}}},
    {"memory_below_minimum", "sandbox:\n  limits: {memory: 512KiB}\n",
     {{2, 20, "memory: must be at least 1MiB, got \"512KiB\""}}},
    {"max_workers_too_many", "host:\n  max_workers: 100000\n",
     {{2, 16, "max_workers: must be from 1 to 4096, got \"100000\""}}},
    {"backoff_max_below_delay", k_queue + "    retry:\n      backoff: {delay: 10s, max: 5s}\n",
     {{5, 34, "backoff: max 5s is shorter than delay 10s"}}},
    {"zero_timeout", "sandbox:\n  timeout: 0s\n", {{2, 12, "timeout: must be at least 1ms, got \"0s\""}}},

    // Enums.
    {"bad_mode", "sandbox:\n  mode: spwan\n",
     {{2, 9, "mode: \"spwan\" is not one of spawn, fork, reuse; did you mean \"spawn\"?"}}},
    {"bad_store_sync", "host:\n  store_sync: fsync\n", {{2, 15, "store_sync: \"fsync\" is not one of normal, full"}}},
    {"bad_log_format", "host:\n  log: {format: xml}\n", {{2, 17, "format: \"xml\" is not one of text, json"}}},
    {"bad_backoff_type", k_queue + "    retry: {backoff: {type: linear}}\n",
     {{4, 29, "type: \"linear\" is not one of fixed, exponential"}}},
    {"bad_fallback", "sandbox:\n  fallback: inlined\n",
     {{2, 13, "fallback: \"inlined\" is not one of none, inline; did you mean \"inline\"?"}}},
    {"bad_cgroup", "sandbox:\n  cgroup: on\n", {{2, 11, "cgroup: \"on\" is not one of auto, off"}}},
    {"cgroup_not_a_scalar", "sandbox:\n  cgroup: [auto]\n", {{2, 11, "cgroup: expected one of auto, off, got a sequence"}}},

    // Cron and every.
    {"cron_out_of_range", k_queue + "schedules:\n  - {name: s, queue: q, task: hello.echo, cron: \"61 * * * *\"}\n",
     {{5, 49, "cron: \"61 * * * *\": minute \"61\" is out of range 0-59"}}},
    {"cron_four_fields", k_queue + "schedules:\n  - {name: s, queue: q, task: hello.echo, cron: \"0 3 * *\"}\n",
     {{5, 49,
       "cron: \"0 3 * *\" has 4 fields; a cron expression has 5 (minute hour day-of-month month day-of-week)"}}},
    {"cron_and_every", k_queue + "schedules:\n  - {name: s, queue: q, task: hello.echo, cron: \"@daily\", every: 5m}\n",
     {{5, 59, "schedule \"s\" has both cron: and every:; keep one"}}},
    {"no_trigger", k_queue + "schedules:\n  - {name: s, queue: q, task: hello.echo}\n",
     {{5, 5, "schedule \"s\" has neither cron: nor every:"}}},
    {"every_bare_number", k_queue + "schedules:\n  - {name: s, queue: q, task: hello.echo, every: 300}\n",
     {{5, 50, "every: \"300\" has no unit (durations take ms, s, m, h or d, e.g. \"300s\")"}}},

    // Store URLs.
    {"unknown_store_scheme", "host:\n  store: postgres://db/jobs\n",
     {{2, 10,
       "unknown store scheme \"postgres\" in \"postgres://db/jobs\" (expected sqlite:PATH, redis://HOST:PORT/DB or unix:///PATH)"}}},
    {"redis_bad_port", "host:\n  store: redis://localhost:99999/0\n",
     {{2, 10,
       "store \"redis://localhost:99999/0\": port \"99999\" is not a number from 1 to 65535 (expected sqlite:PATH, "
       "redis://HOST:PORT/DB or unix:///PATH)"}}},
    {"redis_password_in_error", "host:\n  store: redis://:hunter2@localhost:0/0\n",
     {{2, 10,
       "store \"redis://:***@localhost:0/0\": port \"0\" is not a number from 1 to 65535 (expected sqlite:PATH, "
       "redis://HOST:PORT/DB or unix:///PATH)"}}},
    {"lease_too_short", "host:\n  lease: 10ms\n", {{2, 10, "lease: must be at least 100ms, got \"10ms\""}}},
    {"prefetch_negative", "queues:\n  q: {tasks: [hello.echo], prefetch: -1}\n", {{2, 38, "prefetch: must be from 0 to 10000, got \"-1\""}}},
    {"prefetch_too_many", "queues:\n  q:\n    tasks: [hello.echo]\n    prefetch: 10001\n", {{4, 15, "prefetch: must be from 0 to 10000, got \"10001\""}}},
    {"global_concurrency_zero", "queues:\n  q: {tasks: [hello.echo], global_concurrency: 0}\n", {{2, 48, "global_concurrency: must be from 1 to 1000000, got \"0\""}}},

    // Variables.
    {"unset_variable", "host:\n  name: ${SANDHOST_TEST_UNSET}\n",
     {{2, 9,
       "name: environment variable SANDHOST_TEST_UNSET is not set (in \"${SANDHOST_TEST_UNSET}\"; write "
       "${SANDHOST_TEST_UNSET:-default} to give a default)"}}},
    {"unset_variable_in_task", "queues:\n  q:\n    tasks: [\"${PLUGIN}.echo\"]\n",
     {{3, 13,
       "tasks: environment variable PLUGIN is not set (in \"${PLUGIN}.echo\"; write ${PLUGIN:-default} to give a "
       "default)"}}},
    {"bad_variable_reference", "host:\n  name: ${1X}\n",
     {{2, 9, "name: invalid variable reference \"${1X}\" (write ${NAME} or ${NAME:-default})"}}},

    // Duplicates.
    {"duplicate_key", "sandbox:\n  timeout: 5s\n  timeout: 6s\n",
     {{3, 3, "duplicate key \"timeout\" (first defined at {dir}/config.yaml:2:3)"}}},
    {"duplicate_queue_in_one_file", k_queue + "  q:\n    tasks: [hello.long]\n",
     {{4, 3, "duplicate key \"q\" (first defined at {dir}/config.yaml:2:3)"}}},
    {"duplicate_queue_across_includes",
     k_queue + "include: [queues.d/*.yaml]\n",
     {{2, 3, "queue \"q\" is defined twice (first at {dir}/config.yaml:2:3)", "queues.d/b.yaml"},
      {4, 3, "queue \"r\" is defined twice (first at {dir}/queues.d/a.yaml:2:3)", "queues.d/b.yaml"},
      {5, 13,
       "plugin \"hello\" has no task \"lng\" (in \"hello.lng\"); did you mean \"long\"? (its tasks: echo, long, "
       "word_count)",
       "queues.d/b.yaml"}},
     {{"queues.d/a.yaml", "queues:\n  r:\n    tasks: [hello.echo]\n"},
      {"queues.d/b.yaml", "queues:\n  q:\n    tasks: [hello.long]\n  r:\n    tasks: [hello.lng]\n"}}},
    {"duplicate_schedule",
     k_queue + "schedules:\n  - {name: s, queue: q, task: hello.echo, every: 1m}\n"
               "  - {name: s, queue: q, task: hello.echo, every: 2m}\n",
     {{6, 12, "schedule \"s\" is defined twice (first at {dir}/config.yaml:5:12)"}}},
    {"schedule_key_in_payload_twice", k_queue + "schedules:\n  - {name: s, queue: q, task: hello.echo, every: 1m, "
                                                "payload: {a: 1, a: 2}}\n",
     {{5, 70, "duplicate key \"a\" (first defined at {dir}/config.yaml:5:64)"}}},

    // Plugins and tasks, against the catalog.
    {"unknown_plugin", "queues:\n  q:\n    tasks: [helo.echo]\n",
     {{3, 13,
       "unknown plugin \"helo\" in \"helo.echo\"; did you mean \"hello\"? (plugins found: hello, legacy_c, "
       "misbehave)"}}},
    {"unknown_task", "queues:\n  q:\n    tasks: [hello.ech]\n",
     {{3, 13,
       "plugin \"hello\" has no task \"ech\" (in \"hello.ech\"); did you mean \"echo\"? (its tasks: echo, long, "
       "word_count)"}}},
    {"bad_task_pattern", "queues:\n  q:\n    tasks: [hello]\n",
     {{3, 13,
       "tasks: \"hello\" is not a task pattern: write plugin.task or plugin.* (names take letters, digits, '_' and "
       "'-')"}}},
    {"no_tasks", "queues:\n  q:\n    concurrency: 2\n",
     {{2, 3, "queue \"q\" has no tasks: (add tasks: [plugin.task or plugin.*])"}}},
    {"bad_queue_name", "queues:\n  \"my queue\":\n    tasks: [hello.echo]\n",
     {{2, 3, "queue name \"my queue\" may only contain letters, digits, '_' and '-'"}}},

    // Schedules against queues.
    {"schedule_unknown_queue",
     "queues:\n  default:\n    tasks: [hello.echo]\nschedules:\n  - {name: s, queue: defualt, task: hello.echo, every: "
     "5m}\n",
     {{5, 22, "schedule \"s\": unknown queue \"defualt\"; did you mean \"default\"? (queues: default)"}}},
    {"schedule_task_not_allowed",
     "queues:\n  q:\n    tasks: [\"hello.*\"]\nschedules:\n  - {name: s, queue: q, task: legacy_c.parse, every: 5m}\n",
     {{5, 31, "schedule \"s\": queue \"q\" may not run \"legacy_c.parse\" (it runs hello.*)"}}},
    {"schedule_task_is_a_pattern", k_queue + "schedules:\n  - {name: s, queue: q, task: \"hello.*\", every: 5m}\n",
     {{5, 31, "task: \"hello.*\" is not a task: write plugin.task (a schedule runs one task, not a pattern)"}}},
    {"schedule_without_name", k_queue + "schedules:\n  - {queue: q, task: hello.echo, every: 5m}\n",
     {{5, 5, "schedule 1 has no name:"}}},

    // Includes.
    {"include_missing_file", "include: [nope.yaml]\n",
     {{1, 11, "include \"nope.yaml\": no such file {dir}/nope.yaml"}}},
    {"include_with_host", "include: [extra.yaml]\n",
     {{1, 1,
       "\"host\" belongs in the main config file; an included file may only hold queues, schedules and include",
       "extra.yaml"}},
     {{"extra.yaml", "host: {name: x}\n"}}},
    {"include_itself", "include: [\"*.yaml\"]\n",
     {{1, 11, "include \"*.yaml\": {dir}/config.yaml is already loaded (as {dir}/config.yaml)"}}},

    // The HTTP API.
    {"unknown_api_key", "api:\n  listn: 127.0.0.1:7450\n", {{2, 3, "unknown key \"listn\" in api; did you mean \"listen\"?"}}},
    {"api_listen_without_port", "api: {listen: localhost}\n",
     {{1, 15, "listen: \"localhost\" is not HOST:PORT (no port; for example 127.0.0.1:7450 or [::1]:7450)"}}},
    {"api_listen_bad_port", "api: {listen: \"127.0.0.1:70000\"}\n",
     {{1, 15, "listen: \"127.0.0.1:70000\" is not HOST:PORT (the port must be a number from 0 to 65535; for example "
              "127.0.0.1:7450 or [::1]:7450)"}}},
    {"api_listen_bare_ipv6", "api: {listen: \"::1:7450\"}\n",
     {{1, 15, "listen: \"::1:7450\" is not HOST:PORT (an IPv6 address goes in brackets; for example 127.0.0.1:7450 or "
              "[::1]:7450)"}}},
    {"api_off_loopback_without_token", "api:\n  listen: 0.0.0.0:7450\n",
     {{2, 11, "listen: 0.0.0.0:7450 is not a loopback address, and anyone who can reach it could run jobs: set api.token "
              "or api.token_file (or listen on 127.0.0.1)"}}},
    {"api_named_host_without_token", "api:\n  listen: myhost.example:7450\n",
     {{2, 11, "listen: myhost.example:7450 is not a loopback address, and anyone who can reach it could run jobs: set "
              "api.token or api.token_file (or listen on 127.0.0.1)"}}},
    {"api_token_and_token_file", "api:\n  token: abcdefghijklmnopq\n  token_file: t\n",
     {{3, 3, "give token or token_file, not both"}}},
    {"api_short_token", "api: {listen: \"[::1]:1\", token: short}\n",
     {{1, 33, "token: the token is shorter than 16 characters"}}},
    {"api_token_with_space", "api: {token: \"abcdefgh ijklmnopq\"}\n",
     {{1, 14, "token: the token may hold only printable ASCII characters, no spaces"}}},
    {"api_missing_token_file", "api: {listen: \"0.0.0.0:1\", token_file: secret}\n",
     {{1, 40, "token_file: cannot read {dir}/secret: No such file or directory"}}},
    {"api_empty_token_file", "api: {token_file: secret}\n", {{1, 19, "token_file: {dir}/secret: the token is empty"}},
     {{"secret", "\n"}}},
    {"api_tls_without_key", "api:\n  tls: {cert: cert.pem}\n", {{2, 3, "tls: key is missing (tls needs cert and key)"}},
     {{"cert.pem", "-----BEGIN CERTIFICATE-----\n"}}},
    {"api_tls_unreadable", "api:\n  tls: {cert: nope.pem, key: nope.key}\n",
     {{2, 15, "cert: cannot read {dir}/nope.pem: No such file or directory"},
      {2, 30, "key: cannot read {dir}/nope.key: No such file or directory"}}},
    {"api_max_body_too_small", "api: {max_body: 10B}\n", {{1, 17, "max_body: must be at least 1KiB, got \"10B\""}}},
    {"api_in_included_file", "include: [extra.yaml]\n",
     {{1, 1,
       "\"api\" belongs in the main config file; an included file may only hold queues, schedules and include",
       "extra.yaml"}},
     {{"extra.yaml", "api: {listen: 127.0.0.1:1}\n"}}},

    // Files that are not a config at all.
    {"empty_file", "",
     {{1, 1, "the file is empty (expected a mapping with host, sandbox, api, queues, schedules or include)"}}},
    {"only_comments", "# nothing here yet\n",
     {{1, 1, "the file is empty (expected a mapping with host, sandbox, api, queues, schedules or include)"}}},
    {"syntax_unclosed_flow", "queues: [a, b\nhost: {}\n", {{2, 5, "YAML syntax error: end of sequence flow not found"}}},
    {"syntax_bad_indentation", "host:\n  name: a\n max_workers: 3\n", {{3, 2, "YAML syntax error: end of map not found"}}},
    {"syntax_map_in_plain_value", "host:\n  name: a: b\n", {{2, 10, "YAML syntax error: illegal map value"}}},
    {"syntax_tab_indentation", "queues:\n\tq:\n\t\ttasks: [hello.echo]\n",
     {{2, 3, "YAML syntax error: illegal map value (YAML does not allow tabs for indentation)"}}},
    {"recursive_alias", "queues:\n  q: &x\n    tasks: [hello.echo]\n    sandbox: *x\n",
     {{4, 14, "alias refers to a node that contains it"}}},
    {"second_document", "queues: {}\n---\nhost: {}\n",
     {{2, 1, "a config file holds one YAML document; found a second one"}}},

    // Worker privileges: unknown names are errors at their position.
    {"privileges_unknown_names",
     "sandbox:\n"
     "  user: no-such-user-here\n"
     "  group: no-such-group-here\n"
     "  network: off\n"
     "  capabilities: [net_bind_servce]\n"
     "  syscalls: {deny: [ptrace, ptrac], allow_only: [read, fly]}\n"
     "queues:\n  q:\n    tasks: [hello.echo]\n    sandbox: {syscalls: sometimes, environment: {inherit: [\"1X\"], set: {\"A B\": c}}}\n",
     {{2, 9, "user: no user \"no-such-user-here\" on this machine"},
      {3, 10, "group: no group \"no-such-group-here\" on this machine"},
      {4, 12, "network: \"off\" is not one of host, none"},
      {5, 18, "capabilities: \"net_bind_servce\" is not a capability; did you mean \"net_bind_service\"?"},
      {6, 29, "deny: \"ptrac\" is not a system call of this machine"},
      {6, 56, "allow_only: \"fly\" is not a system call of this machine"},
      {10, 25, "syscalls: \"sometimes\" is not default, off or {deny: [...], allow_only: [...]}"},
      {10, 60, "inherit: \"1X\" is not a variable name (or a prefix ending in *)"},
      {10, 73, "set: \"A B\" is not a variable name"}}},

    // The worker's filesystem: paths that must exist, a folder for workdir, no hiding of /.
    {"filesystem_errors",
     "sandbox:\n"
     "  filesystem: {workdir: store.db, read_only: maybe, hide: [gone, /, {a: b}, \"\"]}\n"
     "queues:\n  q:\n    tasks: [hello.echo]\n"
     "    sandbox: {filesystem: {workdir: nowhere, hidden: [x]}}\n"
     "  r:\n    tasks: [hello.echo]\n    sandbox: {filesystem: [read_only]}\n",
     {{2, 25, "workdir: \"{dir}/store.db\" is not a folder"},
      {2, 46, "read_only: expected true or false, got \"maybe\""},
      {2, 60, "hide: \"{dir}/gone\" does not exist on this machine"},
      {2, 66, "hide: hiding / leaves the worker nothing to run"},
      {2, 69, "hide: expected a path, got a mapping"},
      {2, 77, "hide: a path must not be empty"},
      {6, 37, "workdir: \"{dir}/nowhere\" does not exist on this machine"},
      {6, 46, "unknown key \"hidden\" in queues.q.sandbox.filesystem; did you mean \"hide\"?"},
      {9, 27, "filesystem: expected a mapping, got a sequence"}},
     {{"store.db", "a file"}}},

    // Several problems: all reported, in file order.
    {"several_errors",
     "host:\n"
     "  max_workers: 0\n"
     "  store: mysql://x\n"
     "sandbox:\n"
     "  timeout: 30\n"
     "  mode: forked\n"
     "queues:\n"
     "  q:\n"
     "    tasks: [hello.nope]\n"
     "    concurrency: -3\n"
     "schedules:\n"
     "  - {name: s, queue: nope, task: hello.echo, cron: \"* * *\"}\n",
     {{2, 16, "max_workers: must be from 1 to 4096, got \"0\""},
      {3, 10, "unknown store scheme \"mysql\" in \"mysql://x\" (expected sqlite:PATH, redis://HOST:PORT/DB or unix:///PATH)"},
      {5, 12, "timeout: \"30\" has no unit (durations take ms, s, m, h or d, e.g. \"30s\")"},
      {6, 9, "mode: \"forked\" is not one of spawn, fork, reuse; did you mean \"fork\"?"},
      {9, 13, "plugin \"hello\" has no task \"nope\" (in \"hello.nope\") (its tasks: echo, long, word_count)"},
      {10, 18, "concurrency: must be from 1 to 10000, got \"-3\""},
      {12, 22, "schedule \"s\": unknown queue \"nope\" (queues: q)"},
      {12, 52,
       "cron: \"* * *\" has 3 fields; a cron expression has 5 (minute hour day-of-month month day-of-week)"}}},
};

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, ReportsEveryErrorWithItsPosition)
{
    const BadConfig& config = GetParam();
    TempDir dir;
    std::filesystem::path file = dir.write("config.yaml", config.yaml);
    for (const auto& [name, text] : config.other_files) dir.write(name, text);

    LoadResult result = load_config(file, test_options());

    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.settings, nullptr);
    ASSERT_EQ(result.errors.size(), config.errors.size()) << testing::error_lines(result);
    for (std::size_t i = 0; i < config.errors.size(); ++i) {
        const ExpectedError& expected = config.errors[i];
        const ConfigError& actual = result.errors[i];
        SCOPED_TRACE(actual.to_string());
        EXPECT_EQ(actual.file, dir.path() / expected.file);
        EXPECT_EQ(actual.line, expected.line);
        EXPECT_EQ(actual.column, expected.column);
        EXPECT_EQ(actual.message, replace_dir(expected.message, dir.path().string()));
    }
}

INSTANTIATE_TEST_SUITE_P(Table, BadConfigTest, ::testing::ValuesIn(k_bad_configs),
                         [](const ::testing::TestParamInfo<BadConfig>& param_info) { return param_info.param.name; });

TEST(BadConfig, DeepNestingIsRefusedBeforeYamlCppRecurses)
{
    TempDir dir;
    // yaml-cpp's parser recurses once per nesting level; 100000 levels would overflow the stack.
    std::string deep = "queues: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
    LoadResult result = load_config(dir.write("config.yaml", deep), test_options());
    ASSERT_EQ(result.errors.size(), 1u) << testing::error_lines(result);
    EXPECT_EQ(result.errors[0].line, 1);
    // The top-level mapping is the first level; "queues: " is 8 columns wide.
    EXPECT_EQ(result.errors[0].column, 8 + k_max_yaml_depth);
    EXPECT_EQ(result.errors[0].message,
              "collections nested deeper than 64 levels (aliases included) are not supported");
}

TEST(BadConfig, AliasChainsCannotBuildADeepTree)
{
    TempDir dir;
    // Each anchor nests the previous one 40 levels deeper: together far beyond the limit.
    std::string yaml = "a0: &a0 x\n";
    for (int i = 1; i < 50; ++i) {
        yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " " + std::string(40, '[') + "*a" +
                std::to_string(i - 1) + std::string(40, ']') + "\n";
    }
    LoadResult result = load_config(dir.write("config.yaml", yaml), test_options());
    ASSERT_EQ(result.errors.size(), 1u) << testing::error_lines(result);
    EXPECT_EQ(result.errors[0].message,
              "collections nested deeper than 64 levels (aliases included) are not supported");
}

TEST(BadConfig, ExponentialAliasesInAPayloadAreCut)
{
    TempDir dir;
    std::string yaml = k_queue + "x: &l0 [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n";
    for (int i = 1; i < 30; ++i) {
        yaml += "x" + std::to_string(i) + ": &l" + std::to_string(i) + " [*l" + std::to_string(i - 1) + ", *l" +
                std::to_string(i - 1) + "]\n";
    }
    yaml += "schedules:\n  - {name: s, queue: q, task: hello.echo, every: 1m, payload: *l29}\n";
    LoadResult result = load_config(dir.write("config.yaml", yaml), test_options());
    ASSERT_FALSE(result.ok());
    bool cut = false;
    for (const auto& e : result.errors) cut = cut || e.message == "payload: larger than 1 MiB as JSON";
    EXPECT_TRUE(cut) << testing::error_lines(result);
}

TEST(BadConfig, UnreadableFileHasNoPosition)
{
    TempDir dir;
    LoadResult result = load_config(dir.path() / "missing.yaml", test_options());
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(result.errors[0].line, 0);
    EXPECT_EQ(result.errors[0].to_string(), (dir.path() / "missing.yaml").string() +
                                                ": cannot read: No such file or directory");
}

TEST(BadConfig, PluginThatFailedToLoadIsNamedWithItsError)
{
    TempDir dir;
    LoadOptions options = test_options();
    options.catalog = [](const std::vector<std::filesystem::path>& dirs) {
        model::PluginCatalog catalog = testing::build_catalog(dirs);
        model::PluginInfo broken;
        broken.name = "broken";
        broken.error = "wrong ABI version 7 (expected 1)";
        catalog.plugins.push_back(broken);
        return catalog;
    };
    LoadResult result = load_config(dir.write("config.yaml", "queues:\n  q:\n    tasks: [broken.run]\n"), options);
    ASSERT_EQ(result.errors.size(), 1u) << testing::error_lines(result);
    EXPECT_EQ(result.errors[0].message,
              "plugin \"broken\" (in \"broken.run\") could not be loaded: wrong ABI version 7 (expected 1)");
}

TEST(BadConfig, CatalogProviderFailureIsReportedAtPluginDirs)
{
    TempDir dir;
    LoadOptions options = test_options();
    options.catalog = [](const std::vector<std::filesystem::path>&) -> model::PluginCatalog {
        throw std::runtime_error("worker did not start");
    };
    LoadResult result =
        load_config(dir.write("config.yaml", "host:\n  plugin_dirs: [plugins]\n" + k_queue), options);
    ASSERT_EQ(result.errors.size(), 1u) << testing::error_lines(result);
    EXPECT_EQ(result.errors[0].to_string(), (dir.path() / "config.yaml").string() +
                                                ":2:3: plugin_dirs: cannot list the plugins: worker did not start");
}

TEST(BadConfig, NoPluginsFoundNamesTheDirectories)
{
    TempDir dir;
    LoadOptions options = test_options();
    options.catalog = [](const std::vector<std::filesystem::path>& dirs) {
        model::PluginCatalog catalog;
        catalog.dirs = dirs;
        return catalog;
    };
    LoadResult result =
        load_config(dir.write("config.yaml", "host:\n  plugin_dirs: [plugins]\n" + k_queue), options);
    ASSERT_EQ(result.errors.size(), 1u) << testing::error_lines(result);
    EXPECT_EQ(result.errors[0].message,
              "unknown plugin \"hello\" in \"hello.echo\": no plugins found in " + (dir.path() / "plugins").string());
}

TEST(BadConfig, APluginOthersMayWriteIsRefusedUnlessAllowed)
{
    TempDir dir;
    const std::filesystem::path shared = dir.path() / "shared";
    std::filesystem::create_directories(shared);
    std::filesystem::permissions(shared, std::filesystem::perms(0777));
    const std::filesystem::path library = dir.write("shared/libhello.so", "not read: only its mode matters");
    std::filesystem::permissions(library, std::filesystem::perms(0644));
    LoadOptions options = test_options();
    options.catalog = [&](const std::vector<std::filesystem::path>& dirs) {
        model::PluginCatalog catalog = testing::build_catalog(dirs);
        catalog.plugins[0].path = library;
        return catalog;
    };
    const std::string queues = "queues:\n  q:\n    tasks: [hello.echo]\n";
    LoadResult refused = load_config(dir.write("config.yaml", "host:\n  plugin_dirs: [shared]\n" + queues), options);
    ASSERT_EQ(refused.errors.size(), 1u) << testing::error_lines(refused);
    EXPECT_EQ(refused.errors[0].line, 2);
    EXPECT_EQ(refused.errors[0].message, "plugin_dirs: plugin \"hello\" refused: " + shared.string() +
                                             " is writable by every user (mode 0777) (make it writable by its owner only, or set "
                                             "host.allow_insecure_plugins: true)");
    LoadResult allowed = load_config(
        dir.write("allowed.yaml", "host:\n  plugin_dirs: [shared]\n  allow_insecure_plugins: true\n" + queues), options);
    EXPECT_TRUE(allowed.ok()) << testing::error_lines(allowed);
    std::filesystem::permissions(shared, std::filesystem::perms(0755));
    LoadResult secure = load_config(dir.path() / "config.yaml", options);
    EXPECT_TRUE(secure.ok()) << testing::error_lines(secure);
}

TEST(BadConfig, ExceptionCarriesEveryError)
{
    TempDir dir;
    auto file = dir.write("config.yaml", "sandbox:\n  timeout: 30\n  grace: 1\n");
    try {
        load_config_or_throw(file, test_options());
        FAIL() << "no exception";
    } catch (const ConfigLoadError& e) {
        ASSERT_EQ(e.errors().size(), 2u);
        EXPECT_EQ(std::string(e.what()), e.errors()[0].to_string() + "\n" + e.errors()[1].to_string());
    }
}

} // namespace
} // namespace sandhost::config
