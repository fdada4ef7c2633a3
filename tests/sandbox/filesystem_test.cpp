// A worker's view of the filesystem, seen from a task (the `privileges` fixture) in every mode:
// a private TMPDIR per attempt, its working folder, gone after the attempt however it ended;
// read_only, hide and a fresh sysfs through a mount namespace that never leaks a mount to
// the host; pools never share a worker between different filesystem settings.
#include "os/proc.h"
#include "sandbox/isolation_support.h"
#include "sandbox/sandbox.h"
#include "test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <pwd.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace t = sandhost::testing;
using nlohmann::json;

std::string read_text(const fs::path& path)
{
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// What this process sees mounted: it must be the same before and after any attempt.
std::string host_mounts() { return read_text("/proc/self/mountinfo"); }

std::vector<fs::path> entries_of(const fs::path& folder)
{
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder, ec)) out.push_back(entry.path());
    return out;
}

bool mount_namespaces() { return isolation_support().mount_namespace; }

// An attempt's folder is taken back right after the attempt, by the sandbox's housekeeping
// thread: removed, or kept for a later attempt when the task left it empty.
bool gone(const fs::path& folder)
{
    return t::eventually([&] { return !fs::exists(folder); });
}

// Nothing of the attempt's is left in its folder: it is gone, or empty and 0700 again.
bool taken_back(const fs::path& folder)
{
    return t::eventually([&] {
        std::error_code ec;
        const auto status = fs::symlink_status(folder, ec);
        if (ec || !fs::exists(status)) return true;
        return fs::is_directory(status) && status.permissions() == fs::perms(0700) && entries_of(folder).empty();
    });
}

class FilesystemTest : public ::testing::TestWithParam<model::Mode> {
protected:
    void SetUp() override
    {
        m_mounts_before = host_mounts();
        // The store's folder, as the host keeps it: 0700, its file 0600.
        std::filesystem::permissions(m_dir.path(), fs::perms(0700));
        m_store = m_dir / "store.db";
        std::ofstream(m_store) << "the store";
        fs::permissions(m_store, fs::perms(0600));
        m_sandbox = std::make_unique<Sandbox>(t::worker_config(process::LauncherKind::posix_spawn));
    }
    void TearDown() override
    {
        const fs::path root = m_sandbox->attempts_root();
        m_sandbox.reset();
        EXPECT_FALSE(fs::exists(root)) << "the attempts' folders outlived their sandbox";
        EXPECT_EQ(host_mounts(), m_mounts_before) << "a mount reached the host";
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }

    AttemptSpec spec(const std::string& task, const json& payload = json::object())
    {
        AttemptSpec s;
        s.plugin_path = t::fixture_plugin_dir() / "privileges.so";
        s.task = task;
        s.payload = payload.dump();
        s.settings.mode = GetParam();
        s.settings.timeout = 20s;
        s.settings.grace = 500ms;
        return s;
    }

    model::Outcome attempt(const AttemptSpec& s) { return m_sandbox->run_attempt(s); }

    json run(const AttemptSpec& s)
    {
        const auto outcome = attempt(s);
        EXPECT_TRUE(outcome.succeeded()) << model::to_string(outcome.kind) << ": " << outcome.error << " stderr: " << outcome.stderr_tail;
        if (!outcome.succeeded()) return json::object();
        return json::parse(outcome.result);
    }

    // What the fixture's probe says of reading `read` and writing in `write`.
    json probe(const model::Privileges& privileges, const std::vector<std::string>& read, const std::vector<std::string>& write)
    {
        auto s = spec("probe", json{{"read", read}, {"write", write}});
        s.settings.privileges = privileges;
        return run(s);
    }

    // The attempt's folder a `litter` task printed on its stdout.
    static fs::path littered_folder(const model::Outcome& outcome)
    {
        const auto at = outcome.stdout_tail.find("TMPDIR=");
        if (at == std::string::npos) return {};
        const auto end = outcome.stdout_tail.find('\n', at);
        return outcome.stdout_tail.substr(at + 7, end - at - 7);
    }

    std::string m_mounts_before;
    t::TempDir m_dir;
    fs::path m_store;
    std::unique_ptr<Sandbox> m_sandbox;
};

TEST_P(FilesystemTest, EveryAttemptGetsAPrivateWritableTmpdirOfItsOwnThatIsAlsoItsWorkingFolder)
{
    const fs::path root = m_sandbox->attempts_root();
    std::set<std::string> seen;
    for (int round = 0; round < 3; ++round) {
        const json report = run(spec("report"));
        ASSERT_TRUE(report["tmpdir"].is_string()) << report.dump();
        const fs::path tmpdir = report["tmpdir"].get<std::string>();
        EXPECT_EQ(tmpdir.parent_path(), root);
        EXPECT_EQ(report["cwd"], tmpdir.string());
        EXPECT_EQ(report["tmpdir_mode"], 0700);
        EXPECT_EQ(report["tmpdir_uid"], ::geteuid());
        seen.insert(tmpdir.string());
        // Reuse: the worker's own folder, emptied for its next job. Spawn and fork: the
        // attempt's, kept (empty) for the next attempt.
        EXPECT_TRUE(taken_back(tmpdir)) << "left as the attempt left it";
    }
    EXPECT_LE(seen.size(), 3u) << ::testing::PrintToString(seen);
    // Workers of another user reach their own folder by its name, and list none.
    EXPECT_EQ(fs::status(root).permissions(), fs::perms(0711));

    const json wrote = probe({}, {}, {"."});
    EXPECT_EQ(wrote["write"]["."], "ok");
}

TEST_P(FilesystemTest, WorkdirSetsTheWorkingFolderAndTmpdirStaysPrivate)
{
    auto s = spec("report");
    s.settings.privileges.filesystem.workdir = m_dir.path().string();
    const json report = run(s);
    EXPECT_EQ(report["cwd"], m_dir.path().string());
    ASSERT_TRUE(report["tmpdir"].is_string());
    EXPECT_EQ(fs::path(report["tmpdir"].get<std::string>()).parent_path(), m_sandbox->attempts_root());
}

TEST_P(FilesystemTest, TheFolderIsGoneAfterASuccessACrashAndATimeoutWhateverTheTaskLeftInIt)
{
    struct Case {
        const char* then;
        model::OutcomeKind kind;
    };
    for (const Case c : {Case{"return", model::OutcomeKind::succeeded}, Case{"crash", model::OutcomeKind::crashed},
                         Case{"hang", model::OutcomeKind::timed_out}}) {
        auto s = spec("litter", json{{"then", c.then}});
        s.settings.timeout = c.kind == model::OutcomeKind::timed_out ? 1s : 20s;
        const auto outcome = attempt(s);
        EXPECT_EQ(outcome.kind, c.kind) << c.then << ": " << outcome.error;
        const fs::path folder = littered_folder(outcome);
        ASSERT_FALSE(folder.empty()) << c.then << ": " << outcome.stdout_tail;
        if (GetParam() == model::Mode::reuse && c.kind == model::OutcomeKind::succeeded) {
            // Its worker waits for the next job there: nothing of this one's is left.
            EXPECT_TRUE(entries_of(folder).empty()) << ::testing::PrintToString(entries_of(folder));
            EXPECT_EQ(fs::status(folder).permissions(), fs::perms(0700));
            const json next = run(spec("report"));
            EXPECT_EQ(next["tmpdir"], folder.string());
            EXPECT_EQ(next["cwd"], folder.string());
        } else {
            // What the task left there makes it a folder no later attempt gets.
            EXPECT_TRUE(gone(folder)) << c.then;
        }
    }
    if (GetParam() == model::Mode::reuse) m_sandbox->shutdown();  // the idle worker goes, and its folder
    // What is left are empty folders kept for the next attempts.
    EXPECT_TRUE(t::eventually([&] {
        for (const auto& entry : entries_of(m_sandbox->attempts_root())) {
            if (!entries_of(entry).empty()) return false;
        }
        return true;
    })) << ::testing::PrintToString(entries_of(m_sandbox->attempts_root()));
}

TEST_P(FilesystemTest, AFolderLeftEmptyIsKeptForTheNextAttemptAndOneTheTaskOpenedUpIsNot)
{
    if (GetParam() == model::Mode::reuse) GTEST_SKIP() << "a reused worker keeps one folder for its life";
    const auto& folders = m_sandbox->attempt_folders();
    // Taken back on the housekeeping thread, after the attempt returned.
    auto settled = [&](std::size_t kept) { return t::eventually([&] { return folders.left_over() == 0 && folders.kept() == kept; }); };
    const json first = run(spec("report"));
    const fs::path kept = first["tmpdir"].get<std::string>();
    ASSERT_TRUE(settled(1)) << "an empty folder is kept";
    EXPECT_TRUE(fs::exists(kept));
    const json second = run(spec("report"));
    EXPECT_EQ(second["tmpdir"], kept.string()) << "the kept folder goes to the next attempt";
    EXPECT_EQ(second["tmpdir_mode"], 0700);
    ASSERT_TRUE(settled(1));
    // A task that changes its folder's mode loses it: no later attempt gets a folder it opened.
    auto opened = spec("chmod_tmpdir");
    const auto outcome = attempt(opened);
    ASSERT_TRUE(outcome.succeeded()) << outcome.error << " " << outcome.stderr_tail;
    ASSERT_TRUE(settled(0));
    EXPECT_FALSE(fs::exists(kept)) << "a folder the task opened up was kept";
    const json third = run(spec("report"));
    EXPECT_NE(third["tmpdir"], kept.string());
    EXPECT_EQ(third["tmpdir_mode"], 0700);
}

TEST_P(FilesystemTest, ReadOnlyLeavesOnlyTmpdirWritable)
{
    if (!mount_namespaces()) GTEST_SKIP() << "this process cannot create a mount namespace (needs CAP_SYS_ADMIN)";
    model::Privileges read_only;
    read_only.filesystem.read_only = true;
    const std::string folder = m_dir.path().string();
    const json before = probe({}, {}, {folder});
    EXPECT_EQ(before["write"][folder], "ok");
    const json after = probe(read_only, {m_store.string()}, {folder, "/tmp", "."});
    EXPECT_EQ(after["write"][folder], "EROFS");
    EXPECT_EQ(after["write"]["/tmp"], "EROFS");
    EXPECT_EQ(after["write"]["."], "ok") << "its TMPDIR stays writable";
    EXPECT_EQ(after["read"][m_store.string()], "ok") << "read-only, not hidden";
}

TEST_P(FilesystemTest, HidingTheStoresFolderKeepsTheStoreFromTheTask)
{
    if (!mount_namespaces()) GTEST_SKIP() << "this process cannot create a mount namespace (needs CAP_SYS_ADMIN)";
    const std::string store = m_store.string();
    EXPECT_EQ(probe({}, {store}, {})["read"][store], "ok") << "the task's user may read the store: the test would prove nothing";
    model::Privileges hidden;
    hidden.filesystem.hide = {m_dir.path().string()};
    const json tried = probe(hidden, {store, m_dir.path().string()}, {m_dir.path().string()});
    EXPECT_NE(tried["read"][store], "ok");
    EXPECT_NE(tried["write"][m_dir.path().string()], "ok");
    // A file is hidden too: it reads as empty.
    model::Privileges hidden_file;
    hidden_file.filesystem.hide = {store};
    auto s = spec("probe", json{{"read", {store}}});
    s.settings.privileges = hidden_file;
    EXPECT_EQ(run(s)["read"][store], "ok");
}

TEST_P(FilesystemTest, HidingTheAttemptsFoldersIsASpawnFailureThatSaysWhy)
{
    auto s = spec("report");
    s.settings.privileges.filesystem.hide = {m_sandbox->attempts_root().parent_path().string()};
    const auto outcome = attempt(s);
    EXPECT_EQ(outcome.kind, model::OutcomeKind::spawn_failed);
    EXPECT_NE(outcome.error.find("holds the attempts' folders"), std::string::npos) << outcome.error;
}

TEST_P(FilesystemTest, WithNetworkNoneSysfsListsOnlyTheWorkersLoopback)
{
    if (!mount_namespaces() || !isolation_support().network_namespace) GTEST_SKIP() << "needs CAP_SYS_ADMIN";
    const json host = run(spec("report"));
    auto s = spec("report");
    s.settings.privileges.network = model::Network::none;
    const json own = run(s);
    EXPECT_EQ(own["sys_class_net"], json::array({"lo"}));
    EXPECT_EQ(own["interfaces"], json::array({"lo"}));
    EXPECT_NE(host["sys_class_net"], json::array({"lo"})) << "this machine has only a loopback: the test proves less";
    // With read_only too: what was mounted below the host's /sys (cgroups) goes with it.
    s.settings.privileges.filesystem.read_only = true;
    EXPECT_EQ(run(s)["sys_class_net"], json::array({"lo"}));
}

TEST_P(FilesystemTest, WorkersWithDifferentFilesystemSettingsAreNeverShared)
{
    if (!mount_namespaces()) GTEST_SKIP() << "this process cannot create a mount namespace (needs CAP_SYS_ADMIN)";
    model::Privileges read_only;
    read_only.filesystem.read_only = true;
    const std::string folder = m_dir.path().string();
    for (int round = 0; round < 2; ++round) {
        EXPECT_EQ(probe(read_only, {}, {folder})["write"][folder], "EROFS");
        EXPECT_EQ(probe({}, {}, {folder})["write"][folder], "ok");
    }
}

TEST_P(FilesystemTest, AnotherUserOwnsItsFolder)
{
    if (const auto why = t::cannot_run_as_nobody(); !why.empty()) GTEST_SKIP() << why;
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    auto s = spec("report");
    s.settings.privileges.user = "nobody";
    const json report = run(s);
    EXPECT_EQ(report["uid"], nobody->pw_uid);
    EXPECT_EQ(report["tmpdir_uid"], nobody->pw_uid);
    EXPECT_EQ(report["tmpdir_mode"], 0700);
    model::Privileges as_nobody;
    as_nobody.user = "nobody";
    EXPECT_EQ(probe(as_nobody, {}, {"."})["write"]["."], "ok");
    auto litter = spec("litter", json{{"then", "return"}});
    litter.settings.privileges = as_nobody;
    const auto outcome = attempt(litter);
    EXPECT_TRUE(outcome.succeeded()) << outcome.error;
    m_sandbox->shutdown();
    EXPECT_TRUE(gone(littered_folder(outcome)));
}

INSTANTIATE_TEST_SUITE_P(EveryMode, FilesystemTest, ::testing::Values(model::Mode::spawn, model::Mode::fork, model::Mode::reuse),
                         [](const auto& param_info) { return std::string(model::to_string(param_info.param)); });

TEST(AttemptFoldersTest, ASandboxSweepsAwayWhatProcessesNowGoneLeft)
{
    t::TempDir temp;
    const auto self = os::start_time(::getpid());
    ASSERT_TRUE(self);
    // pid_max is at most 2^22: no process has this pid.
    const fs::path dead = temp / "sandhost-attempts.99999999.12345.0";
    const fs::path alive = temp / ("sandhost-attempts." + std::to_string(::getpid()) + "." + std::to_string(*self) + ".77");
    const fs::path reused_pid = temp / ("sandhost-attempts." + std::to_string(::getpid()) + "." + std::to_string(*self + 1) + ".0");
    const fs::path other = temp / "sandhost-attempts.not-ours";
    for (const auto& folder : {dead, alive, reused_pid, other}) {
        fs::create_directories(folder / "attempt.abcdef" / "closed");
        std::ofstream(folder / "attempt.abcdef" / "closed" / "file") << "left";
        fs::permissions(folder / "attempt.abcdef" / "closed", fs::perms::none);
    }
    {
        AttemptFolders folders(temp.path());
        EXPECT_FALSE(fs::exists(dead));
        EXPECT_FALSE(fs::exists(reused_pid)) << "its pid lives on in another process";
        EXPECT_TRUE(fs::exists(alive));
        EXPECT_TRUE(fs::exists(other));
        EXPECT_EQ(folders.root().parent_path(), temp.path());

        auto made = folders.create(std::nullopt);
        ASSERT_TRUE(made) << made.error().message();
        std::ofstream(made.value() / "file") << "x";
        folders.remove(made.value());
        EXPECT_FALSE(fs::exists(made.value()));
        EXPECT_EQ(folders.left_over(), 0u);
        EXPECT_TRUE(fs::exists(folders.root()));

        // Given back empty, a folder is kept for the next create() of the same owner; given
        // back with something in it, it is removed.
        auto empty = folders.create(std::nullopt);
        auto littered = folders.create(std::nullopt);
        ASSERT_TRUE(empty && littered);
        std::ofstream(littered.value() / "file") << "x";
        EXPECT_TRUE(folders.remove_later(empty.value(), std::nullopt)) << "the first queued asks for remove_pending()";
        EXPECT_FALSE(folders.remove_later(littered.value(), std::nullopt)) << "asked already";
        folders.remove_pending();
        EXPECT_EQ(folders.left_over(), 0u);
        EXPECT_EQ(folders.kept(), 1u);
        EXPECT_TRUE(fs::exists(empty.value()));
        EXPECT_FALSE(fs::exists(littered.value()));
        auto again = folders.create(std::nullopt);
        ASSERT_TRUE(again);
        EXPECT_EQ(again.value(), empty.value());
        EXPECT_EQ(folders.kept(), 0u);
        folders.remove(again.value());
    }
    for (const auto& folder : {alive, other}) {
        fs::permissions(folder / "attempt.abcdef" / "closed", fs::perms::owner_all);
    }
}

// An attempt that left its folder as it was handed out gives it back there and then, with no
// work for the housekeeper; one that changed it (something left in it, another mode) does not,
// and is queued for removal as before.
TEST(AttemptFoldersTest, AFolderLeftAsItWasIsKeptAtOnceAndAChangedOneIsNot)
{
    t::TempDir temp;
    AttemptFolders folders(temp.path());
    auto left_alone = folders.create(std::nullopt);
    auto littered = folders.create(std::nullopt);
    auto opened_up = folders.create(std::nullopt);
    ASSERT_TRUE(left_alone && littered && opened_up);
    std::ofstream(littered.value() / "file") << "x";
    fs::permissions(opened_up.value(), fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);

    EXPECT_TRUE(folders.keep_if_unchanged(left_alone.value(), std::nullopt));
    EXPECT_EQ(folders.kept(), 1u);
    EXPECT_EQ(folders.left_over(), 0u) << "nothing queued for the housekeeper";
    EXPECT_FALSE(folders.keep_if_unchanged(littered.value(), std::nullopt));
    EXPECT_FALSE(folders.keep_if_unchanged(opened_up.value(), std::nullopt));
    EXPECT_EQ(folders.kept(), 1u);
    EXPECT_TRUE(fs::exists(littered.value() / "file")) << "not kept is not removed: that is remove_later()'s";

    auto again = folders.create(std::nullopt);
    ASSERT_TRUE(again);
    EXPECT_EQ(again.value(), left_alone.value());
    folders.remove(again.value());
    folders.remove(littered.value());
    folders.remove(opened_up.value());
}

// No more than k_kept folders are kept: the one past them goes to remove_later().
TEST(AttemptFoldersTest, KeepsNoMoreFoldersAtOnceThanItsLimit)
{
    t::TempDir temp;
    AttemptFolders folders(temp.path());
    std::vector<fs::path> made;
    for (std::size_t i = 0; i <= AttemptFolders::k_kept; ++i) {
        auto folder = folders.create(std::nullopt);
        ASSERT_TRUE(folder);
        made.push_back(folder.value());
    }
    for (std::size_t i = 0; i < AttemptFolders::k_kept; ++i) EXPECT_TRUE(folders.keep_if_unchanged(made[i], std::nullopt));
    EXPECT_FALSE(folders.keep_if_unchanged(made.back(), std::nullopt));
    EXPECT_EQ(folders.kept(), AttemptFolders::k_kept);
    folders.remove(made.back());
}

} // namespace
} // namespace sandhost::sandbox
