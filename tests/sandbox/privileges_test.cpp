// What a worker is granted, seen from a task (the `privileges` fixture) in every mode: with no
// privilege settings (only the documented environment, no new privileges, the default syscall
// filter: no ptrace, no mount) and locked down (another user, no capabilities, a network of its
// own, the store out of reach); pools never share a worker between different grants.
#include "sandbox/isolation_support.h"
#include "sandbox/sandbox.h"
#include "sandbox/worker_grant.h"
#include "test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace sandhost::sandbox {
namespace {

using namespace std::chrono_literals;
namespace t = sandhost::testing;
using nlohmann::json;

// Set once, before any thread of a test reads the environment.
const bool g_environment_set = [] {
    ::setenv("SANDHOST_TEST_SECRET", "the host's secret", 1);
    ::setenv("SANDHOST_TEST_SHARED", "named by the queue", 1);
    return true;
}();

// A listening TCP socket on a free loopback port of the host's network.
class LoopbackListener {
public:
    LoopbackListener() : m_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0))
    {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t size = sizeof address;
        if (::bind(m_fd, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(m_fd, 16) != 0 ||
            ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
            ADD_FAILURE() << "cannot listen on loopback: " << std::strerror(errno);
        }
        m_port = ntohs(address.sin_port);
    }
    ~LoopbackListener() { ::close(m_fd); }
    int port() const { return m_port; }

private:
    int m_fd;
    int m_port = 0;
};

class PrivilegesTest : public ::testing::TestWithParam<model::Mode> {
protected:
    void SetUp() override
    {
        ASSERT_TRUE(g_environment_set);
        m_dir = std::filesystem::temp_directory_path() / ("sandhost-privileges-" + std::to_string(::getpid()));
        std::filesystem::create_directories(m_dir);
        std::filesystem::permissions(m_dir, std::filesystem::perms(0755));
        m_store = m_dir / "store.db";
        std::ofstream(m_store) << "the store";
        std::filesystem::permissions(m_store, std::filesystem::perms(0600));
    }
    void TearDown() override
    {
        m_sandbox.reset();
        std::filesystem::remove_all(m_dir);
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }

    AttemptSpec spec(const std::string& task, const std::string& payload = "{}")
    {
        AttemptSpec s;
        s.plugin_path = t::fixture_plugin_dir() / "privileges.so";
        s.task = task;
        s.payload = payload;
        s.settings.mode = GetParam();
        s.settings.timeout = 20s;
        s.settings.grace = 500ms;
        s.job_id = 42;
        s.attempt = 3;
        s.queue = "locked";
        return s;
    }

    json run(const AttemptSpec& s)
    {
        if (!m_sandbox) m_sandbox = std::make_unique<Sandbox>(t::worker_config(m_launcher));
        const auto outcome = m_sandbox->run_attempt(s);
        EXPECT_TRUE(outcome.succeeded()) << model::to_string(outcome.kind) << ": " << outcome.error << " stderr: " << outcome.stderr_tail;
        if (!outcome.succeeded()) return json::object();
        return json::parse(outcome.result);
    }

    json attempt(const model::Privileges& privileges, int port)
    {
        auto s = spec("attempt", json{{"port", port}, {"path", m_store.string()}}.dump());
        s.settings.privileges = privileges;
        return run(s);
    }

    static model::Privileges locked_down()
    {
        model::Privileges p;
        p.user = "nobody";
        p.network = model::Network::none;
        p.environment.inherit = {"SANDHOST_TEST_SHARED"};
        p.environment.set = {{"OMP_NUM_THREADS", "1"}};
        return p;
    }

    process::LauncherKind m_launcher = process::LauncherKind::posix_spawn;
    std::filesystem::path m_dir;
    std::filesystem::path m_store;
    std::unique_ptr<Sandbox> m_sandbox;
};

TEST_P(PrivilegesTest, WithNoSettingsATaskSeesOnlyTheDocumentedEnvironmentAndGainsNothing)
{
    const json report = run(spec("report"));
    const json& env = report["environment"];
    EXPECT_FALSE(env.contains("SANDHOST_TEST_SECRET")) << env.dump();
    EXPECT_FALSE(env.contains("SANDHOST_TEST_SHARED")) << env.dump();
    if (const char* path = std::getenv("PATH")) {
        EXPECT_EQ(env.value("PATH", ""), path);
    }
    for (const auto& [name, value] : env.items()) {
        const bool documented = name == "PATH" || name == "LANG" || name.rfind("LC_", 0) == 0 || name == "TZ" || name == "TMPDIR" ||
                                name.rfind("SANDHOST_", 0) == 0 || name.find("SAN_OPTIONS") != std::string::npos;
        EXPECT_TRUE(documented) << name << " reached the task";
    }
    // The job's own variables, in spawn mode (a fork server or reused worker serves many jobs).
    if (GetParam() == model::Mode::spawn) {
        EXPECT_EQ(env.value("SANDHOST_JOB_ID", ""), "42");
        EXPECT_EQ(env.value("SANDHOST_ATTEMPT", ""), "3");
        EXPECT_EQ(env.value("SANDHOST_QUEUE", ""), "locked");
    } else {
        EXPECT_FALSE(env.contains("SANDHOST_JOB_ID"));
    }
    EXPECT_EQ(report["uid"], ::getuid());
    EXPECT_EQ(report["no_new_privs"], 1);
    EXPECT_EQ(report["seccomp"], 2);  // a filter
}

// A fork server starts with LD_BIND_NOW, so that the dynamic linker binds the C library's
// functions once, as it starts, rather than in each of its children. The variable is the
// linker's alone: no task sees it, unless its queue sets it, and then with the queue's value.
TEST_P(PrivilegesTest, TheLinkersBindNowReachesNoTaskUnlessTheQueueSetsIt)
{
    const json report = run(spec("report"));
    EXPECT_FALSE(report["environment"].contains("LD_BIND_NOW")) << report["environment"].dump();
    std::size_t servers = 0;
    for (const auto& worker : m_sandbox->workers()) {
        if (worker.role != model::WorkerInfo::Role::fork_server) continue;
        ++servers;
        // What the server was started with; the worker took the variable out of its own
        // environment since.
        std::ifstream file("/proc/" + std::to_string(worker.pid) + "/environ");
        std::vector<std::string> started_with;
        for (std::string entry; std::getline(file, entry, '\0');) started_with.push_back(entry);
        EXPECT_NE(std::find(started_with.begin(), started_with.end(), "LD_BIND_NOW=1"), started_with.end())
            << "fork server " << worker.pid;
    }
    if (GetParam() == model::Mode::fork) {
        EXPECT_GE(servers, 1u);
    } else {
        EXPECT_EQ(servers, 0u);
    }

    auto named = spec("report");
    named.settings.privileges.environment.set = {{"LD_BIND_NOW", "yes"}};
    const json seen = run(named);
    EXPECT_EQ(seen["environment"].value("LD_BIND_NOW", ""), "yes") << seen["environment"].dump();
}

// A queue's user is looked up in the user database once for many attempts, not for each; a
// name the database does not know is asked again each time, so that adding it takes effect.
TEST_P(PrivilegesTest, AQueuesUserIsLookedUpOnceForManyAttemptsAndAnUnknownOneEachTime)
{
    if (const auto why = t::cannot_run_as_nobody(); !why.empty()) GTEST_SKIP() << why;
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    auto as_nobody = spec("report");
    as_nobody.settings.privileges.user = "nobody";
    (void)run(as_nobody);
    const auto lookups = user_database_lookups();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(run(as_nobody)["uid"], nobody->pw_uid);
    EXPECT_EQ(user_database_lookups(), lookups);

    auto unknown = spec("report");
    unknown.settings.privileges.user = "sandhost-no-such-user";
    if (!m_sandbox) m_sandbox = std::make_unique<Sandbox>(t::worker_config(m_launcher));
    for (int i = 1; i <= 3; ++i) {
        const auto outcome = m_sandbox->run_attempt(unknown);
        EXPECT_EQ(outcome.kind, model::OutcomeKind::spawn_failed) << outcome.error;
        EXPECT_NE(outcome.error.find("sandhost-no-such-user"), std::string::npos) << outcome.error;
        EXPECT_EQ(user_database_lookups(), lookups + static_cast<std::uint64_t>(i));
    }
}

TEST_P(PrivilegesTest, WithNoSettingsATaskCannotPtraceItsHostOrMount)
{
    const LoopbackListener listener;
    const json tried = attempt(model::Privileges{}, listener.port());
    EXPECT_EQ(tried["ptrace"], "EPERM");
    EXPECT_EQ(tried["mount"], "EPERM");
    // Everything else as today.
    EXPECT_EQ(tried["connect"], "ok");
    if (::getuid() == 0) {
        EXPECT_EQ(tried["open"], "ok");
    }
}

TEST_P(PrivilegesTest, ALockedDownQueueSeesNoSecretReachesNoPortReadsNoStoreAndCallsNoPtraceOrMount)
{
    if (const auto why = t::cannot_run_as_nobody(); !why.empty()) GTEST_SKIP() << why;
    if (!isolation_support().network_namespace) GTEST_SKIP() << "network: none needs network and mount namespaces here";
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    const LoopbackListener listener;
    auto s = spec("report");
    s.settings.privileges = locked_down();
    const json report = run(s);
    EXPECT_EQ(report["uid"], nobody->pw_uid);
    EXPECT_EQ(report["gid"], nobody->pw_gid);
    EXPECT_EQ(report["cap_eff"], "0000000000000000");
    EXPECT_EQ(report["no_new_privs"], 1);
    EXPECT_EQ(report["seccomp"], 2);
    EXPECT_EQ(report["interfaces"], json::array({"lo"}));
    const json& env = report["environment"];
    EXPECT_FALSE(env.contains("SANDHOST_TEST_SECRET"));
    EXPECT_EQ(env.value("SANDHOST_TEST_SHARED", ""), "named by the queue");
    EXPECT_EQ(env.value("OMP_NUM_THREADS", ""), "1");

    const json tried = attempt(locked_down(), listener.port());
    EXPECT_EQ(tried["ptrace"], "EPERM");
    EXPECT_EQ(tried["mount"], "EPERM");
    EXPECT_EQ(tried["connect"], "ECONNREFUSED");  // its own loopback, where nothing listens
    EXPECT_EQ(tried["open"], "EACCES");
}

TEST_P(PrivilegesTest, CapabilitiesKeepOnlyTheNamedOnesAndTheFilterAndFlagCanBeTurnedOff)
{
    if (::geteuid() != 0) GTEST_SKIP() << "needs the capabilities of root";
    auto s = spec("report");
    s.settings.privileges.capabilities = std::vector<std::string>{"net_bind_service"};
    s.settings.privileges.syscalls.filter = model::SyscallFilter::off;
    s.settings.privileges.no_new_privileges = false;
    const json kept = run(s);
    EXPECT_EQ(kept["cap_eff"], "0000000000000400");
    EXPECT_EQ(kept["seccomp"], 0);
    EXPECT_EQ(kept["no_new_privs"], 0);

    auto none = spec("report");
    none.settings.privileges.capabilities = std::vector<std::string>{};
    EXPECT_EQ(run(none)["cap_eff"], "0000000000000000");
}

// A worker that becomes another user keeps the capabilities named, and only those: permitted
// and effective across the change of user, gone from the bounding set.
TEST_P(PrivilegesTest, AnotherUserKeepsOnlyTheNamedCapabilities)
{
    if (const auto why = t::cannot_run_as_nobody(); !why.empty()) GTEST_SKIP() << why;
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    auto s = spec("report");
    s.settings.privileges.user = "nobody";
    s.settings.privileges.capabilities = std::vector<std::string>{"net_bind_service", "CAP_KILL"};
    const json kept = run(s);
    EXPECT_EQ(kept["uid"], nobody->pw_uid);
    EXPECT_EQ(kept["cap_eff"], "0000000000000420");  // kill (5) and net_bind_service (10)
    EXPECT_EQ(kept["no_new_privs"], 1);

    auto none = spec("report");
    none.settings.privileges.user = "nobody";
    EXPECT_EQ(run(none)["cap_eff"], "0000000000000000") << "another user keeps none unless named";
}

TEST_P(PrivilegesTest, AnAllowListLetsTheWorkerRunButDeniesTheRest)
{
    auto s = spec("attempt", json{{"port", 1}, {"path", m_store.string()}}.dump());
    s.settings.privileges.syscalls = {model::SyscallFilter::custom, {"connect"}, {"socket", "getsockname", "munmap"}};
    const json tried = run(s);
    EXPECT_EQ(tried["ptrace"], "EPERM");
    EXPECT_EQ(tried["mount"], "EPERM");
    EXPECT_EQ(tried["connect"], "EPERM");  // denied by name, though its socket was allowed
}

TEST_P(PrivilegesTest, WorkersWithDifferentGrantsAreNeverShared)
{
    if (::geteuid() != 0 || !isolation_support().network_namespace) GTEST_SKIP() << "a network namespace needs root (and a mount namespace)";
    auto host_network = spec("report");
    auto own_network = spec("report");
    own_network.settings.privileges.network = model::Network::none;
    // Twice each, alternating: a pooled worker (fork server or reused worker) of one grant
    // must not serve the other.
    for (int round = 0; round < 2; ++round) {
        EXPECT_EQ(run(own_network)["interfaces"], json::array({"lo"}));
        EXPECT_NE(run(host_network)["interfaces"], json::array({"lo"}));
    }
}

TEST_P(PrivilegesTest, ThePocoLauncherGivesTheSameEnvironment)
{
    m_launcher = process::LauncherKind::poco;
    const json report = run(spec("report"));
    const json& env = report["environment"];
    EXPECT_FALSE(env.contains("SANDHOST_TEST_SECRET")) << env.dump();
    EXPECT_TRUE(env.contains("PATH")) << env.dump();
}

TEST_P(PrivilegesTest, APluginOthersMayWriteIsRefusedUnlessAllowed)
{
    const std::filesystem::path shared = m_dir / "shared";
    std::filesystem::create_directories(shared);
    std::filesystem::copy_file(t::fixture_plugin_dir() / "privileges.so", shared / "privileges.so");
    std::filesystem::permissions(shared / "privileges.so", std::filesystem::perms(0755));
    std::filesystem::permissions(shared, std::filesystem::perms(0777));
    auto s = spec("report");
    s.plugin_path = shared / "privileges.so";
    m_sandbox = std::make_unique<Sandbox>(t::worker_config(m_launcher));
    const auto refused = m_sandbox->run_attempt(s);
    EXPECT_EQ(refused.kind, model::OutcomeKind::load_failed);
    EXPECT_NE(refused.error.find("writable by every user (mode 0777)"), std::string::npos) << refused.error;
    s.allow_insecure_plugin = true;
    EXPECT_TRUE(m_sandbox->run_attempt(s).succeeded());
    // The folder made safe, and the library itself writable by others: refused again.
    std::filesystem::permissions(shared, std::filesystem::perms(0755));
    std::filesystem::permissions(shared / "privileges.so", std::filesystem::perms(0757));
    s.allow_insecure_plugin = false;
    EXPECT_EQ(m_sandbox->run_attempt(s).kind, model::OutcomeKind::load_failed);
}

TEST_P(PrivilegesTest, AnUnknownUserIsASpawnFailureThatSaysWho)
{
    auto s = spec("report");
    s.settings.privileges.user = "no-such-user-here";
    m_sandbox = std::make_unique<Sandbox>(t::worker_config(m_launcher));
    const auto outcome = m_sandbox->run_attempt(s);
    EXPECT_EQ(outcome.kind, model::OutcomeKind::spawn_failed);
    EXPECT_NE(outcome.error.find("no-such-user-here"), std::string::npos) << outcome.error;
}

INSTANTIATE_TEST_SUITE_P(EveryMode, PrivilegesTest, ::testing::Values(model::Mode::spawn, model::Mode::fork, model::Mode::reuse),
                         [](const auto& param_info) { return std::string(model::to_string(param_info.param)); });

} // namespace
} // namespace sandhost::sandbox
