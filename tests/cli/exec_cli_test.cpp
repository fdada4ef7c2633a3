// `sandhost exec` and `sandhost plugins` as a user runs them: the real executable, real
// workers, the exit status and what is printed.
#include "os/proc.h"
#include "sandbox/isolation_support.h"
#include "test_support.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <unistd.h>

namespace sandhost {
namespace {

namespace t = sandhost::testing;

t::CommandResult sandhost(std::vector<std::string> args)
{
    args.insert(args.begin(), t::sandhost_executable().string());
    return t::run_command(args, {"SANDHOST_PLUGIN_DIR=" + t::plugin_dir().string()});
}

Poco::JSON::Object::Ptr json_of(const std::string& text)
{
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

TEST(ExecCli, SucceededPrintsTheRecordAndExitsZero)
{
    const auto r = sandhost({"exec", "misbehave", "echo", "--payload", R"({"a":1})", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto record = json_of(r.out);
    EXPECT_EQ(record->getValue<std::string>("outcome"), "succeeded");
    ASSERT_TRUE(record->getObject("result")) << "a JSON value, not a string holding one: " << r.out;
    EXPECT_EQ(record->getObject("result")->getValue<int>("a"), 1);
    EXPECT_TRUE(record->has("pid"));
    EXPECT_TRUE(record->has("duration_ms"));
    EXPECT_TRUE(record->has("max_rss_kb"));
    EXPECT_FALSE(record->has("signal"));
    EXPECT_FALSE(record->has("exit_code"));
}

TEST(ExecCli, PrivilegeFlagsGrantTheWorkerWhatTheySay)
{
    const std::string plugin = (t::fixture_plugin_dir() / "privileges.so").string();
    auto run = [&](std::vector<std::string> flags) {
        flags.insert(flags.begin(), {t::sandhost_executable().string(), "exec", plugin, "report", "--json"});
        return t::run_command(flags, {"SANDHOST_TEST_SECRET=the host's", "SANDHOST_TEST_SHARED=passed on"});
    };
    auto plain = run({});
    ASSERT_EQ(plain.exit_code, 0) << plain.out << plain.err;
    auto report = json_of(plain.out)->getObject("result");
    EXPECT_FALSE(report->getObject("environment")->has("SANDHOST_TEST_SECRET")) << plain.out;
    EXPECT_EQ(report->getValue<int>("seccomp"), 2);
    EXPECT_EQ(report->getValue<int>("no_new_privs"), 1);

    auto flagged = run({"--inherit-env", "SANDHOST_TEST_SHARED", "--env", "OMP_NUM_THREADS=1", "--syscalls", "off",
                        "--allow-new-privileges", "--mode", "fork"});
    ASSERT_EQ(flagged.exit_code, 0) << flagged.out << flagged.err;
    report = json_of(flagged.out)->getObject("result");
    EXPECT_EQ(report->getObject("environment")->getValue<std::string>("SANDHOST_TEST_SHARED"), "passed on");
    EXPECT_EQ(report->getObject("environment")->getValue<std::string>("OMP_NUM_THREADS"), "1");
    EXPECT_FALSE(report->getObject("environment")->has("SANDHOST_TEST_SECRET"));
    EXPECT_EQ(report->getValue<int>("seccomp"), 0);
    EXPECT_EQ(report->getValue<int>("no_new_privs"), 0);

    if (t::cannot_run_as_nobody().empty() && sandbox::isolation_support().network_namespace) {
        auto locked = run({"--user", "nobody", "--network", "none"});
        ASSERT_EQ(locked.exit_code, 0) << locked.out << locked.err;
        report = json_of(locked.out)->getObject("result");
        EXPECT_NE(report->getValue<int>("uid"), 0);
        EXPECT_EQ(report->getValue<std::string>("cap_eff"), "0000000000000000");
        EXPECT_EQ(report->getArray("interfaces")->size(), 1u);
    }

    for (const auto& [flags, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"--deny-syscall", "ptrac"}, "--deny-syscall: 'ptrac' is not a system call"},
             {{"--capabilities", "net_bind"}, "--capabilities: 'net_bind' is not a capability"},
             {{"--network", "off"}, "--network: expected host or none"},
             {{"--env", "A B=c"}, "--env: expected NAME=VALUE"}}) {
        const auto r = run(flags);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    }
}

TEST(ExecCli, FilesystemFlagsSetTheWorkingFolderAndWhatTheTaskSees)
{
    const std::string plugin = (t::fixture_plugin_dir() / "privileges.so").string();
    const t::TempDir dir;
    std::ofstream(dir / "secret") << "the host's";
    auto run = [&](const std::string& task, const std::string& payload, std::vector<std::string> flags) {
        flags.insert(flags.begin(), {t::sandhost_executable().string(), "exec", plugin, task, "--payload", payload, "--json"});
        return t::run_command(flags);
    };
    const auto plain = run("report", "{}", {});
    ASSERT_EQ(plain.exit_code, 0) << plain.out << plain.err;
    auto report = json_of(plain.out)->getObject("result");
    const std::string tmpdir = report->getValue<std::string>("tmpdir");
    EXPECT_EQ(report->getValue<std::string>("cwd"), tmpdir);
    EXPECT_FALSE(std::filesystem::exists(tmpdir)) << "the attempt's folder outlived `sandhost exec`";

    const auto in_dir = run("report", "{}", {"--workdir", dir.path().string()});
    ASSERT_EQ(in_dir.exit_code, 0) << in_dir.out << in_dir.err;
    EXPECT_EQ(json_of(in_dir.out)->getObject("result")->getValue<std::string>("cwd"), dir.path().string());

    if (sandbox::isolation_support().mount_namespace) {
        const std::string secret = (dir / "secret").string();
        const auto hidden = run("probe", "{\"read\": [\"" + secret + "\"], \"write\": [\"" + dir.path().string() + "\"]}",
                                {"--hide", secret, "--read-only"});
        ASSERT_EQ(hidden.exit_code, 0) << hidden.out << hidden.err;
        auto tried = json_of(hidden.out)->getObject("result");
        EXPECT_EQ(tried->getObject("write")->getValue<std::string>(dir.path().string()), "EROFS") << hidden.out;
    }
    for (const auto& [flags, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"--workdir", (dir / "nowhere").string()}, "is not a folder"},
             {{"--hide", (dir / "nowhere").string()}, "does not exist"},
             {{"--hide", "/"}, "hiding / leaves the worker nothing to run"}}) {
        const auto r = run("report", "{}", flags);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    }
}

// The packaged service runs without CAP_SYS_ADMIN: read_only and hide cannot be had there, and
// say so; the private folder needs no privilege at all.
TEST(ExecCli, WithoutAMountNamespaceReadOnlyIsASpawnFailureNamingTheCallAndTheFolderStillWorks)
{
    if (::geteuid() != 0 || !std::filesystem::exists("/usr/bin/setpriv")) GTEST_SKIP() << "needs root and setpriv to drop CAP_SYS_ADMIN";
    const std::string plugin = (t::fixture_plugin_dir() / "privileges.so").string();
    auto run = [&](std::vector<std::string> flags) {
        flags.insert(flags.begin(), {"/usr/bin/setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--",
                                     t::sandhost_executable().string(), "exec", plugin, "report", "--json"});
        return t::run_command(flags);
    };
    const auto refused = run({"--read-only"});
    EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
    const auto record = json_of(refused.out);
    EXPECT_EQ(record->getValue<std::string>("outcome"), "spawn_failed");
    EXPECT_NE(record->getValue<std::string>("error").find("unshare(CLONE_NEWNS"), std::string::npos) << refused.out;

    const auto plain = run({});
    ASSERT_EQ(plain.exit_code, 0) << plain.out << plain.err;
    const auto report = json_of(plain.out)->getObject("result");
    EXPECT_EQ(report->getValue<std::string>("cwd"), report->getValue<std::string>("tmpdir"));

    const auto support = t::run_command({"/usr/bin/setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--",
                                         t::sandhost_executable().string(), "plugins", "--isolation", "--json"});
    ASSERT_EQ(support.exit_code, 0) << support.err;
    EXPECT_FALSE(json_of(support.out)->getValue<bool>("mount_namespace")) << support.out;
    EXPECT_TRUE(json_of(support.out)->getValue<bool>("filesystem")) << support.out;
}

TEST(PluginsCli, IsolationSaysWhatThisMachineSupports)
{
    const auto r = sandhost({"plugins", "--isolation", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto support = json_of(r.out);
    for (const char* key : {"syscalls", "no_new_privileges", "user", "capabilities", "network_none", "cgroups", "filesystem", "mount_namespace"}) {
        EXPECT_TRUE(support->has(key)) << key << " in " << r.out;
    }
    EXPECT_TRUE(support->getValue<bool>("syscalls")) << "every kernel sandhost supports has seccomp";
    EXPECT_EQ(support->getValue<bool>("user"), ::geteuid() == 0);
    EXPECT_TRUE(support->getValue<bool>("filesystem")) << "the private folder needs no privilege";
    // Which cgroups, where, and what of them; or why none.
    auto cgroup = support->getObject("cgroup");
    ASSERT_TRUE(cgroup) << r.out;
    EXPECT_EQ(cgroup->getValue<bool>("usable"), support->getValue<bool>("cgroups"));
    if (cgroup->getValue<bool>("usable")) {
        for (const char* key : {"version", "memory", "pids", "cpu", "kill", "where"}) EXPECT_TRUE(cgroup->has(key)) << key << " in " << r.out;
    } else {
        EXPECT_FALSE(cgroup->getValue<std::string>("why_not").empty()) << r.out;
    }
    const auto text = sandhost({"plugins", "--isolation"});
    EXPECT_NE(text.out.find("cgroups: "), std::string::npos) << text.out;
}

TEST(ExecCli, ModeChoosesHowTheWorkerComesToBe)
{
    for (const char* mode : {"spawn", "fork", "reuse"}) {
        const auto r = sandhost({"exec", "misbehave", "echo", "--mode", mode, "--json"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(json_of(r.out)->getValue<std::string>("isolation"), mode);
    }
    const auto bad = sandhost({"exec", "misbehave", "echo", "--mode", "forks"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("--mode: expected spawn, fork or reuse, got 'forks'"), std::string::npos) << bad.err;
}

TEST(ExecCli, StdoutIsTheJsonAloneEvenWhenTheHostLogs)
{
    // The fallback logs a warning as it runs the task in this process: on stderr.
    const auto r = t::run_command({t::sandhost_executable().string(), "exec", "misbehave", "echo", "--fallback", "inline", "--json"},
                                  {"SANDHOST_PLUGIN_DIR=" + t::plugin_dir().string(), "SANDHOST_WORKER=/nonexistent/sandhost-worker"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json_of(r.out)->getValue<std::string>("fallback"), "inline");
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line of JSON: " << r.out;
    EXPECT_NE(r.err.find("fallback"), std::string::npos) << r.err;
}

TEST(ExecCli, BadValuesSayWhatIsWrongWithThem)
{
    const auto payload = sandhost({"exec", "misbehave", "echo", "--payload", "{\"a\": 1,\n}"});
    EXPECT_EQ(payload.exit_code, 2);
    EXPECT_NE(payload.err.find("--payload is not valid JSON: line 2, column 1: "), std::string::npos) << payload.err;
    const auto zero = sandhost({"exec", "misbehave", "echo", "--timeout", "0s"});
    EXPECT_EQ(zero.exit_code, 2);
    EXPECT_NE(zero.err.find("--timeout: must be more than 0"), std::string::npos) << zero.err;
    const auto help = sandhost({"help", "exec"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_EQ(help.out.rfind("usage: sandhost exec", 0), 0u) << help.out;
    const auto run_help = sandhost({"help", "run"});
    EXPECT_EQ(run_help.exit_code, 0);
    EXPECT_EQ(run_help.out.rfind("usage: sandhost run", 0), 0u) << "run's own help, not the general usage:\n" << run_help.out;
}

TEST(ExecCli, ACrashIsReportedWithItsSignalAndExitsNonZero)
{
    const auto r = sandhost({"exec", "misbehave", "segfault", "--json"});
    EXPECT_EQ(r.exit_code, 1);
    auto record = json_of(r.out);
    EXPECT_EQ(record->getValue<std::string>("outcome"), "crashed");
    EXPECT_EQ(record->getValue<std::string>("signal"), "SIGSEGV");
    EXPECT_EQ(record->getValue<int>("signal_number"), SIGSEGV);

    const auto human = sandhost({"exec", "misbehave", "segfault"});
    EXPECT_EQ(human.exit_code, 1);
    EXPECT_NE(human.out.find("crashed by SIGSEGV"), std::string::npos) << human.out;
}

TEST(ExecCli, ExitZeroWithoutAResultIsNotSuccess)
{
    const auto r = sandhost({"exec", "misbehave", "exit", "--payload", R"({"code":0})", "--json"});
    EXPECT_EQ(r.exit_code, 1);
    auto record = json_of(r.out);
    EXPECT_EQ(record->getValue<std::string>("outcome"), "exited");
    EXPECT_EQ(record->getValue<int>("exit_code"), 0);
}

TEST(ExecCli, TimeoutAndLimitsFromFlags)
{
    auto r = sandhost({"exec", "misbehave", "ignore_term", "--timeout", "200ms", "--grace", "100ms", "--json"});
    EXPECT_EQ(r.exit_code, 1);
    auto record = json_of(r.out);
    EXPECT_EQ(record->getValue<std::string>("outcome"), "timed_out");
    EXPECT_TRUE(record->getValue<bool>("killed"));

    r = sandhost({"exec", "misbehave", "leak", "--memory", "96MiB", "--json"});
    record = json_of(r.out);
    EXPECT_EQ(record->getValue<std::string>("outcome"), "resource_limit") << r.out;
    // The kernel's count decides where there are cgroups; --cgroup off leaves the old limits.
    const bool cgroups = sandhost({"plugins", "--isolation", "--json"}).out.find("\"cgroups\":true") != std::string::npos;
    EXPECT_EQ(record->getValue<std::string>("error").find("control group") != std::string::npos, cgroups) << r.out;
    r = sandhost({"exec", "misbehave", "leak", "--memory", "96MiB", "--cgroup", "off", "--json"});
    record = json_of(r.out);
    EXPECT_EQ(record->getValue<std::string>("outcome"), "resource_limit") << r.out;
    EXPECT_EQ(record->getValue<std::string>("error").find("control group"), std::string::npos) << r.out;
    EXPECT_EQ(record->getValue<std::string>("limit"), "memory");
}

TEST(ExecCli, PayloadFromAFile)
{
    t::TempDir dir;
    std::ofstream(dir / "payload.json") << R"({"from":"file"})";
    const auto r = sandhost({"exec", "misbehave", "echo", "--payload", "@" + (dir / "payload.json").string(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json_of(r.out)->getObject("result")->getValue<std::string>("from"), "file");
}

TEST(ExecCli, NoSandboxIsMarked)
{
    const auto r = sandhost({"exec", "misbehave", "echo", "--no-sandbox", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json_of(r.out)->getValue<std::string>("isolation"), "none");
}

TEST(ExecCli, BadArgumentsAreRefusedWithAClearMessage)
{
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"exec", "misbehave", "echo", "--payload", "not json"}, "--payload is not valid JSON"},
        {{"exec", "misbehave", "echo", "--timout", "1s"}, "unknown option '--timout' (did you mean '--timeout'?)"},
        {{"exec", "misbehave", "echo", "--timeout", "5"}, "--timeout:"},
        {{"exec", "misbehave", "echo", "--memory", "lots"}, "--memory:"},
        {{"exec", "misbehave", "echo", "--processes", "-3"}, "--processes:"},
        {{"exec", "misbehave", "echo", "--cgroup", "on"}, "--cgroup: expected auto or off, got 'on'"},
        {{"exec", "misbehave"}, "expected PLUGIN and TASK"},
        {{"exec", "nosuchplugin", "echo"}, "no plugin named 'nosuchplugin'"},
        {{"exec", "misbehave", "echo", "--fallback-on-timeout"}, "needs --fallback inline"},
        {{"exce"}, "did you mean 'exec'?"},
    };
    for (const auto& c : cases) {
        const auto r = sandhost(c.args);
        EXPECT_EQ(r.exit_code, 2) << c.args.back() << "\n" << r.err;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << c.message << "\n" << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    }
}

TEST(PluginsCli, ListsPluginsAndTasks)
{
    const auto r = sandhost({"plugins", "--plugin-dir", t::plugin_dir().string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("misbehave.segfault"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("hello.word_count"), std::string::npos);
    EXPECT_NE(r.out.find("legacy_c.checksum"), std::string::npos);
}

TEST(PluginsCli, ABrokenLibraryIsListedWithTheReason)
{
    const auto r = sandhost({"plugins", "--plugin-dir", t::fixture_plugin_dir().string(), "--json"});
    EXPECT_EQ(r.exit_code, 1);
    Poco::JSON::Parser parser;
    auto list = parser.parse(r.out).extract<Poco::JSON::Array::Ptr>();
    std::map<std::string, std::string> errors;
    for (std::size_t i = 0; i < list->size(); ++i) {
        auto entry = list->getObject(static_cast<unsigned>(i));
        errors[entry->getValue<std::string>("name")] = entry->has("error") ? entry->getValue<std::string>("error") : "";
    }
    EXPECT_NE(errors["bad_abi"].find("ABI version 99"), std::string::npos);
    EXPECT_NE(errors["no_entry"].find("does not export"), std::string::npos);
    EXPECT_NE(errors["not_a_library"].find("cannot be loaded"), std::string::npos);
    EXPECT_NE(errors["unresolved"].find("undefined symbol"), std::string::npos);
    EXPECT_EQ(errors["minimal_abi"], "");
}

// kill -9 of the host: its worker dies with it, and so does everything the task started,
// including a child that moved to its own session.
TEST(HostDeath, WorkersAndTheirChildrenDieWithTheHost)
{
    t::BackgroundCommand host({t::sandhost_executable().string(), "exec", "misbehave", "spawn_children", "--payload",
                               R"({"count":2,"setsid":true})", "--timeout", "60s"},
                              {"SANDHOST_PLUGIN_DIR=" + t::plugin_dir().string()});
    // The worker and its two children all carry the host's pid on their command line.
    ASSERT_TRUE(t::eventually([&] { return t::workers_of(host.pid()).size() == 3; })) << t::workers_of(host.pid()).size();
    ::kill(host.pid(), SIGKILL);
    host.wait();
    EXPECT_TRUE(t::eventually([&] { return t::workers_of(host.pid()).empty(); }))
        << ::testing::PrintToString(t::workers_of(host.pid()));
}

TEST(HostDeath, CtrlCCancelsTheAttemptAndCleansUp)
{
    t::BackgroundCommand host({t::sandhost_executable().string(), "exec", "misbehave", "spawn_children", "--payload",
                               R"({"count":2,"setsid":true})", "--timeout", "60s", "--grace", "200ms", "--json"},
                              {"SANDHOST_PLUGIN_DIR=" + t::plugin_dir().string()});
    ASSERT_TRUE(t::eventually([&] { return t::workers_of(host.pid()).size() == 3; }));
    ::kill(host.pid(), SIGINT);
    const auto& r = host.wait();
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(json_of(r.out)->getValue<std::string>("outcome"), "cancelled") << r.out;
    EXPECT_TRUE(t::workers_of(host.pid()).empty());
}

} // namespace
} // namespace sandhost

namespace sandhost {
namespace {

namespace t = sandhost::testing;

t::CommandResult validate(const std::string& file)
{
    return t::run_command({t::sandhost_executable().string(), "validate", file}, {"SANDHOST_PLUGIN_DIR=" + t::plugin_dir().string()});
}

TEST(PluginsCli, TheOldPluginPathVariableStillWorksWithAWarning)
{
    const auto plugins = [](std::vector<std::string> env) {
        return t::run_command({t::sandhost_executable().string(), "plugins", "--json"}, env);
    };
    const auto current = plugins({"SANDHOST_PLUGIN_DIR=" + t::plugin_dir().string()});
    EXPECT_EQ(current.exit_code, 0) << current.err;
    EXPECT_NE(current.out.find("misbehave"), std::string::npos) << current.out;
    EXPECT_EQ(current.err.find("SANDHOST_PLUGIN_PATH"), std::string::npos) << current.err;

    const auto old = plugins({"SANDHOST_PLUGIN_PATH=/nonexistent:" + t::plugin_dir().string()});
    EXPECT_EQ(old.exit_code, 0) << old.err;
    EXPECT_NE(old.out.find("misbehave"), std::string::npos) << old.out;
    EXPECT_NE(old.err.find("SANDHOST_PLUGIN_PATH is deprecated: set SANDHOST_PLUGIN_DIR"), std::string::npos) << old.err;
    EXPECT_NO_THROW(Poco::JSON::Parser().parse(old.out)) << "the warning goes to stderr, stdout stays JSON:\n" << old.out;

    const auto both = plugins({"SANDHOST_PLUGIN_DIR=" + t::plugin_dir().string(), "SANDHOST_PLUGIN_PATH=/nonexistent"});
    EXPECT_NE(both.out.find("misbehave"), std::string::npos) << both.out;
    EXPECT_NE(both.err.find("SANDHOST_PLUGIN_PATH is ignored"), std::string::npos) << both.err;
}

TEST(ValidateCli, TheShippedConfigsValidateAgainstTheRealPlugins)
{
    const auto support = sandbox::isolation_support();
    // example.yaml's locked-down queue asks for user, network: none and read_only, which
    // validate refuses where this process could not grant them (the test below checks that).
    const bool grants_all = support.switch_user && support.network_namespace && support.mount_namespace;
    for (const char* name : {"demo.yaml", "example.yaml", "hosts.yaml"}) {
        if (!grants_all && std::string(name) == "example.yaml") continue;
        const auto r = validate((std::filesystem::path(SANDHOST_TEST_SOURCE_DIR) / "config" / name).string());
        EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.out << r.err;
        EXPECT_NE(r.out.find(": OK: "), std::string::npos) << r.out;
    }
}

TEST(ValidateCli, AnUnknownTaskIsReportedAtItsPositionWithWhatExists)
{
    t::TempDir dir;
    std::ofstream(dir / "bad.yaml") << "host:\n  plugin_dirs: [\"" << t::plugin_dir().string()
                                     << "\"]\nqueues:\n  q:\n    tasks: [misbehave.segfalt]\n";
    const auto r = validate((dir / "bad.yaml").string());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("bad.yaml:5:13: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("segfault"), std::string::npos) << r.err;
}

TEST(ValidateCli, NoPluginsChecksTheConfigurationWithoutRunningPluginCode)
{
    t::TempDir dir;
    std::ofstream(dir / "c.yaml") << "host:\n  plugin_dirs: [\"" << t::plugin_dir().string()
                                   << "\"]\nqueues:\n  q:\n    tasks: [misbehave.segfalt]\n";
    const auto checked = validate((dir / "c.yaml").string());
    EXPECT_EQ(checked.exit_code, 2) << "with plugins, the unknown task is found";
    const auto r = t::run_command({t::sandhost_executable().string(), "validate", "--no-plugins", (dir / "c.yaml").string()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find(": OK: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("no plugin code ran"), std::string::npos) << r.out;
    const auto with = validate((std::filesystem::path(SANDHOST_TEST_SOURCE_DIR) / "config" / "demo.yaml").string());
    EXPECT_NE(with.out.find("its constructors ran; no init hook and no task did"), std::string::npos) << with.out;
}

// validate checks the privilege settings against what its own process could grant a worker:
// as a user without capabilities, a queue's `user` and `network: none` are refused where they
// are written, and the same file validates for root.
TEST(ValidateCli, PrivilegesThisProcessCannotGrantAreRefusedWhereTheyAreWritten)
{
    if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run validate both as root and as nobody";
    if (::access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs setpriv (util-linux)";
    if (!sandbox::isolation_support().network_namespace) GTEST_SKIP() << "this root cannot grant network: none either (a chroot?)";
    t::TempDir dir;
    std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
    const auto file = dir / "c.yaml";
    std::ofstream(file) << "sandbox:\n  network: none\nqueues:\n  q:\n    tasks: [misbehave.echo]\n    sandbox:\n"
                           "      user: daemon\n";
    std::filesystem::permissions(file, std::filesystem::perms(0644));
    const auto as_root = t::run_command({t::sandhost_executable().string(), "validate", "--no-plugins", file.string()});
    EXPECT_EQ(as_root.exit_code, 0) << as_root.out << as_root.err;

    const auto as_nobody = t::run_command({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                           t::sandhost_executable().string(), "validate", "--no-plugins", file.string()});
    EXPECT_EQ(as_nobody.exit_code, 2) << as_nobody.out << as_nobody.err;
    EXPECT_NE(as_nobody.err.find("c.yaml:2:12: network: none needs a network namespace"), std::string::npos) << as_nobody.err;
    EXPECT_NE(as_nobody.err.find("c.yaml:7:13: user: this process cannot switch"), std::string::npos) << as_nobody.err;
}

TEST(ValidateCli, ReadOnlyAndHideAreRefusedWhereTheProcessCannotMakeAMountNamespace)
{
    if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run validate both with and without CAP_SYS_ADMIN";
    if (::access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs setpriv (util-linux)";
    if (!sandbox::isolation_support().mount_namespace) GTEST_SKIP() << "this root cannot make a mount namespace either (a chroot?)";
    t::TempDir dir;
    const auto file = dir / "c.yaml";
    std::ofstream(file) << "queues:\n  q:\n    tasks: [misbehave.echo]\n    sandbox:\n      filesystem: {read_only: true, hide: ["
                        << dir.path().string() << "], workdir: " << dir.path().string() << "}\n";
    const auto as_root = t::run_command({t::sandhost_executable().string(), "validate", "--no-plugins", file.string()});
    EXPECT_EQ(as_root.exit_code, 0) << as_root.out << as_root.err;

    const auto without = t::run_command({"/usr/bin/setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--",
                                         t::sandhost_executable().string(), "validate", "--no-plugins", file.string()});
    EXPECT_EQ(without.exit_code, 2) << without.out << without.err;
    EXPECT_NE(without.err.find("c.yaml:5:31: read_only: true needs a mount namespace"), std::string::npos) << without.err;
    EXPECT_NE(without.err.find("c.yaml:5:43: hide needs a mount namespace"), std::string::npos) << without.err;
    EXPECT_EQ(without.err.find("workdir"), std::string::npos) << "a workdir needs no privilege: " << without.err;
}

} // namespace
} // namespace sandhost
