// The cgroup file formats, parsed from text as the kernel writes it (v1 as on a machine with a
// tree per controller, v2 as on a unified one), one group's files in a folder that only looks
// like a cgroup, and, where the test may mount one, a real v2 tree: on a machine whose
// controllers are all on v1 it has none of them, but its groups hold, list and kill processes.
#include "os/cgroup.h"

#include "os_test_support.h"

#include <gtest/gtest.h>

#include <sys/mount.h>

#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace sandhost::os {
namespace {

namespace fs = std::filesystem;

const char* const k_v1_proc_cgroup = "9:name=systemd:/\n8:pids:/\n6:freezer:/\n4:memory:/process_api/952ad3\n2:cpuacct:/\n1:cpu:/\n0::/\n";
const char* const k_v1_mountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
    "50 23 8:1 / /data rw,relatime - ext4 /dev/sda1 rw\n";

TEST(Cgroup, ParsesProcSelfCgroupOfBothVersions)
{
    const auto m = parse_proc_cgroup(k_v1_proc_cgroup);
    ASSERT_EQ(m.size(), 7u);
    EXPECT_EQ(m[0].hierarchy, 9);
    EXPECT_EQ(m[0].controllers, std::vector<std::string>{"name=systemd"});
    EXPECT_EQ(m[3].controllers, std::vector<std::string>{"memory"});
    EXPECT_EQ(m[3].path, "/process_api/952ad3");
    EXPECT_EQ(m[6].hierarchy, 0);
    EXPECT_TRUE(m[6].controllers.empty());
    EXPECT_EQ(m[6].path, "/");

    const auto joined = parse_proc_cgroup("5:cpu,cpuacct:/a/b\ngarbage\n7:x:relative\n");
    ASSERT_EQ(joined.size(), 1u) << "lines without an id or an absolute path are skipped";
    EXPECT_EQ(joined[0].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
}

TEST(Cgroup, ParsesTheCgroupMountsOnly)
{
    const auto mounts = parse_cgroup_mounts(k_v1_mountinfo);
    ASSERT_EQ(mounts.size(), 6u) << "tmpfs and ext4 are not cgroups";
    EXPECT_EQ(mounts[0].version, CgroupVersion::v1);
    EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpuacct");
    EXPECT_EQ(mounts[0].controllers, std::vector<std::string>{"cpuacct"});
    EXPECT_TRUE(mounts[4].controllers.empty()) << "name= is not a controller";
    EXPECT_EQ(mounts[5].version, CgroupVersion::v2);
    EXPECT_EQ(mounts[5].mount_point, "/sys/fs/cgroup/unified");
    EXPECT_TRUE(mounts[5].controllers.empty());

    const auto escaped = parse_cgroup_mounts("1 0 0:1 /sub /mnt/with\\040blank rw - cgroup2 cgroup2 rw\n");
    ASSERT_EQ(escaped.size(), 1u);
    EXPECT_EQ(escaped[0].mount_point, "/mnt/with blank");
    EXPECT_EQ(escaped[0].root, "/sub");
}

TEST(Cgroup, FindsTheOwnGroupOfEachController)
{
    const auto memberships = parse_proc_cgroup(k_v1_proc_cgroup);
    const auto mounts = parse_cgroup_mounts(k_v1_mountinfo);
    EXPECT_EQ(own_group_folder(memberships, mounts, "memory"), fs::path("/sys/fs/cgroup/memory/process_api/952ad3"));
    EXPECT_EQ(own_group_folder(memberships, mounts, "pids"), fs::path("/sys/fs/cgroup/pids"));
    EXPECT_EQ(own_group_folder(memberships, mounts, ""), fs::path("/sys/fs/cgroup/unified"));
    EXPECT_FALSE(own_group_folder(memberships, mounts, "blkio")) << "not mounted";

    // A v2 container that sees only its own part of the tree: the mount's root is cut off.
    const auto inside = parse_proc_cgroup("0::/system.slice/sandhost.service\n");
    const auto mounted = parse_cgroup_mounts("30 20 0:26 /system.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    EXPECT_EQ(own_group_folder(inside, mounted, ""), fs::path("/sys/fs/cgroup/sandhost.service"));
    const auto outside = parse_proc_cgroup("0::/user.slice\n");
    EXPECT_FALSE(own_group_folder(outside, mounted, "")) << "a group outside the mounted part is not visible";
}

TEST(Cgroup, ReadsTheCountersOfBothVersions)
{
    EXPECT_EQ(counter_in("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), 3u);
    EXPECT_EQ(counter_in("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n", "oom_kill"), 2u);
    EXPECT_EQ(counter_in("max 7\n", "max"), 7u);
    EXPECT_EQ(counter_in("usage_usec 12345\nuser_usec 10000\nsystem_usec 2345\n", "usage_usec"), 12345u);
    EXPECT_EQ(counter_in("oom_kill_disable 5\n", "oom_kill"), 0u) << "a longer key is another key";
    EXPECT_EQ(counter_in("", "max"), 0u);
    EXPECT_EQ(parse_pids("12\n345\n\n"), (std::vector<pid_t>{12, 345}));
}

// A folder laid out like a v2 group, with the files the kernel would have made.
struct FakeGroup {
    FakeGroup()
    {
        char pattern[] = "/tmp/sandhost-cgroup-XXXXXX";
        root = ::mkdtemp(pattern);
        for (const char* file : {"cgroup.procs", "cgroup.kill", "memory.max"}) std::ofstream(root / file) << "";
    }
    ~FakeGroup() { fs::remove_all(root); }
    fs::path root;
};

TEST(Cgroup, WritesAGroupsFilesAndMakesAndRemovesItsFolders)
{
    FakeGroup fake;
    const CgroupFolders group(CgroupVersion::v2, {{"", fake.root}});
    EXPECT_EQ(group.folder_of("memory"), fake.root) << "v2 has every controller in one folder";
    ASSERT_TRUE(group.add(4242).ok());
    EXPECT_EQ(read_text_file(fake.root / "cgroup.procs").value(), "4242");
    ASSERT_TRUE(write_kernel_file(fake.root / "memory.max", "1048576").ok());
    EXPECT_EQ(read_text_file(fake.root / "memory.max").value(), "1048576");

    const auto missing = write_kernel_file(fake.root / "pids.max", "4");
    ASSERT_FALSE(missing.ok()) << "a kernel file is never created";
    EXPECT_EQ(missing.error().code, std::errc::no_such_file_or_directory);
    EXPECT_NE(missing.error().message().find("pids.max"), std::string::npos) << missing.error().message();

    const CgroupFolders v1(CgroupVersion::v1, {{"memory", fake.root / "memory"}, {"pids", fake.root / "pids"}});
    EXPECT_EQ(v1.folder_of("pids"), fake.root / "pids");
    EXPECT_FALSE(v1.folder_of("freezer"));
    ASSERT_TRUE(v1.make().ok());
    ASSERT_TRUE(v1.make().ok()) << "an existing folder is fine";
    EXPECT_TRUE(fs::is_directory(fake.root / "pids"));
    ASSERT_TRUE(v1.remove().ok());
    ASSERT_TRUE(v1.remove().ok()) << "a folder already gone is fine";
    EXPECT_FALSE(fs::exists(fake.root / "memory"));
}

TEST(Cgroup, KillAllOfAnEmptyGroupReturnsAtOnce)
{
    FakeGroup fake;
    const CgroupFolders group(CgroupVersion::v2, {{"", fake.root}});
    ASSERT_TRUE(group.kill_all(std::chrono::milliseconds(100)).ok());
    EXPECT_EQ(read_text_file(fake.root / "cgroup.kill").value(), "1") << "v2 kills through cgroup.kill where there is one";
    ASSERT_TRUE(group.processes().ok());
    EXPECT_TRUE(group.processes()->empty());
}

// A v2 tree of the kernel's own, mounted for the test (root only) and unmounted after.
class RealV2Tree : public testing::ProcessTest {
protected:
    void SetUp() override
    {
        testing::ProcessTest::SetUp();
        char templ[] = "/tmp/sandhost-cgroup2-XXXXXX";
        ASSERT_NE(::mkdtemp(templ), nullptr);
        m_root = templ;
        if (::mount("none", m_root.c_str(), "cgroup2", 0, nullptr) != 0) {
            const std::string why = std::strerror(errno);
            fs::remove(m_root);
            m_root.clear();
            GTEST_SKIP() << "cannot mount a cgroup2 tree (" << why << "): needs root with CAP_SYS_ADMIN";
        }
    }
    void TearDown() override
    {
        if (!m_root.empty()) {
            ::umount2(m_root.c_str(), MNT_DETACH);
            fs::remove(m_root);
        }
        testing::ProcessTest::TearDown();
    }
    fs::path m_root;
};

// What a timeout does to an attempt's group: a worker, its child and a grandchild that left
// for a session of its own are all killed through cgroup.kill, the group is seen empty, and
// its folder goes.
TEST_F(RealV2Tree, KillAllEmptiesAGroupOfAProcessTreeAndItsFolderGoes)
{
    const CgroupFolders group(CgroupVersion::v2, {{"", m_root / "attempt"}});
    ASSERT_TRUE(group.make().ok());
    auto go = make_pipe();
    auto started = make_pipe();
    ASSERT_TRUE(go && started);
    const int go_read = go->read.get();
    const int go_write = go->write.get();
    const int started_write = started->write.get();
    testing::ForkedChild worker([go_read, go_write, started_write] {
        ::close(go_write);  // the test's end: closed there, it lets this one go
        testing::block_until_released(go_read);
        if (::fork() == 0) {
            ::setsid();
            if (::fork() == 0) {
                testing::announce(started_write, ::getpid());
                ::pause();
                ::_exit(0);
            }
            testing::announce(started_write, ::getpid());
            ::pause();
            ::_exit(0);
        }
        ::pause();
        return 0;
    });
    ASSERT_GT(worker.pid(), 0);
    started->write.reset();
    ASSERT_TRUE(group.add(worker.pid()).ok());
    go->write.reset();  // it forks once it is in the group: its descendants are born there
    const auto descendants = testing::read_pids(started->read.get(), 2);
    ASSERT_EQ(descendants.size(), 2u);
    ASSERT_TRUE(group.processes().ok());
    EXPECT_EQ(group.processes()->size(), 3u);

    const auto killed = group.kill_all(testing::k_patience);
    ASSERT_TRUE(killed.ok()) << killed.error().message();
    EXPECT_TRUE(group.processes()->empty());
    EXPECT_EQ(read_text_file(m_root / "attempt" / "cgroup.events").value().find("populated 0"), 0u);
    const auto status = worker.wait();
    ASSERT_TRUE(status && WIFSIGNALED(*status)) << testing::describe_status(status);
    EXPECT_EQ(WTERMSIG(*status), SIGKILL);
    for (const pid_t pid : descendants) {
        const auto ended = testing::reap(pid);  // orphans: this process is their subreaper
        ASSERT_TRUE(ended && WIFSIGNALED(*ended)) << pid << " " << testing::describe_status(ended);
    }
    ASSERT_TRUE(group.remove().ok());
    EXPECT_FALSE(fs::exists(m_root / "attempt"));
}

} // namespace
} // namespace sandhost::os
