// Finding which cgroups this process can use, and one group's limits and counters, on trees
// laid out in a temporary folder: a fake /proc/self and cgroup folders holding the files the
// kernel would show. This is how the v2 code is checked on a machine that has only v1 groups.
#include "sandbox/cgroups.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

namespace fs = std::filesystem;

class FakeTree : public ::testing::Test {
protected:
    void SetUp() override
    {
        char pattern[] = "/tmp/sandhost-cgroups-XXXXXX";
        m_root = ::mkdtemp(pattern);
        fs::create_directories(m_root / "proc" / "self");
    }
    void TearDown() override { fs::remove_all(m_root); }
    void write(const fs::path& file, const std::string& text)
    {
        fs::create_directories(file.parent_path());
        std::ofstream(file) << text;
    }
    std::string read(const fs::path& file)
    {
        std::ifstream in(file);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    fs::path proc() const { return m_root / "proc"; }
    // A v2 machine with every controller a group reads.
    static CgroupSupport v2_with_everything()
    {
        CgroupSupport support;
        support.usable = support.memory = support.pids = support.cpu = true;
        support.version = os::CgroupVersion::v2;
        return support;
    }
    fs::path m_root;
};

TEST_F(FakeTree, AV2GroupWithMemoryAndPidsToGiveIsUsed)
{
    const fs::path own = m_root / "unified" / "system.slice" / "sandhost.service";
    write(proc() / "self" / "cgroup", "0::/system.slice/sandhost.service\n");
    write(proc() / "self" / "mountinfo", "30 20 0:26 / " + (m_root / "unified").string() + " rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
    write(own / "cgroup.controllers", "cpuset cpu io memory pids\n");
    write(own / "cgroup.subtree_control", "");
    write(own / "cgroup.procs", "1234\n");
    write(own / "cgroup.kill", "");
    const auto s = detect_cgroups(proc());
    ASSERT_TRUE(s.usable) << s.why_not;
    EXPECT_EQ(s.version, os::CgroupVersion::v2);
    EXPECT_TRUE(s.memory && s.pids && s.cpu && s.kill);
    ASSERT_EQ(s.bases.size(), 1u);
    EXPECT_EQ(s.bases[0].path, own);
    EXPECT_EQ(s.describe(), "v2 under " + own.string() + " (memory, pids, cpu, kill)");
    EXPECT_NE(s.to_json().find(R"("usable":true,"version":"v2","memory":true,"pids":true,"cpu":true,"kill":true)"), std::string::npos)
        << s.to_json();
}

TEST_F(FakeTree, AV2GroupSharedWithOtherProcessesIsLeftAlone)
{
    // v2 lets only a group without processes give controllers to its children: the host would
    // have to move every process of its group into a leaf, which it does only for itself.
    const fs::path own = m_root / "unified" / "session.scope";
    write(own / "cgroup.controllers", "memory pids\n");
    write(own / "cgroup.subtree_control", "");
    write(own / "cgroup.procs", std::to_string(::getpid()) + "\n1\n");
    CgroupSupport support;
    support.usable = support.memory = support.pids = true;
    support.version = os::CgroupVersion::v2;
    support.bases.push_back({"", own});
    auto pool = CgroupPool::open(support);
    ASSERT_FALSE(pool.ok());
    EXPECT_NE(pool.error().message().find("holds other processes than this host"), std::string::npos) << pool.error().message();
    EXPECT_EQ(read(own / "cgroup.subtree_control"), "") << "nothing was enabled";
    for (const auto& entry : fs::directory_iterator(own)) {
        EXPECT_FALSE(entry.is_directory()) << entry.path() << " was left behind";
    }
}

TEST_F(FakeTree, AV2GroupWithoutTheControllersIsNotUsedAndSaysWhy)
{
    const fs::path own = m_root / "unified" / "user.slice";
    write(proc() / "self" / "cgroup", "0::/user.slice\n");
    write(proc() / "self" / "mountinfo", "30 20 0:26 / " + (m_root / "unified").string() + " rw - cgroup2 cgroup2 rw\n");
    write(own / "cgroup.controllers", "cpu io\n");
    write(own / "cgroup.subtree_control", "");
    const auto s = detect_cgroups(proc());
    EXPECT_FALSE(s.usable);
    EXPECT_EQ(s.why_not, "cgroup v2 group " + own.string() + " has no memory and pids controllers to give");
    EXPECT_EQ(s.describe(), "no (" + s.why_not + ")");
    EXPECT_EQ(s.to_json(), R"({"usable":false,"why_not":")" + s.why_not + R"("})");
}

TEST_F(FakeTree, V1UsesTheMemoryAndPidsTreesAndWhateverElseIsThere)
{
    write(proc() / "self" / "cgroup", "8:pids:/\n4:memory:/process_api/abc\n0::/\n");
    write(proc() / "self" / "mountinfo", "35 31 0:32 / " + (m_root / "memory").string() + " rw - cgroup cgroup rw,memory\n" +
                                             "39 31 0:36 / " + (m_root / "pids").string() + " rw - cgroup cgroup rw,pids\n");
    fs::create_directories(m_root / "memory" / "process_api" / "abc");
    fs::create_directories(m_root / "pids");
    const auto s = detect_cgroups(proc());
    ASSERT_TRUE(s.usable) << s.why_not;
    EXPECT_EQ(s.version, os::CgroupVersion::v1);
    EXPECT_FALSE(s.cpu) << "no cpuacct tree";
    EXPECT_FALSE(s.kill) << "no freezer tree";
    ASSERT_EQ(s.bases.size(), 2u);
    EXPECT_EQ(s.bases[0].controller, "memory");
    EXPECT_EQ(s.bases[0].path, m_root / "memory" / "process_api" / "abc");
    EXPECT_EQ(s.bases[1].path, m_root / "pids");
}

TEST_F(FakeTree, NoCgroupsAtAllIsSaidOnce)
{
    write(proc() / "self" / "cgroup", "");
    write(proc() / "self" / "mountinfo", "");
    const auto s = detect_cgroups(proc());
    EXPECT_FALSE(s.usable);
    EXPECT_EQ(s.why_not, "no writable cgroup v1 memory and pids groups and no delegated cgroup v2 group");
    EXPECT_FALSE(detect_cgroups(m_root / "nowhere").usable);
}

TEST_F(FakeTree, AV2GroupTakesItsLimitsAndReportsItsCounters)
{
    const fs::path slot = m_root / "slot-0";
    for (const char* file : {"memory.max", "memory.swap.max", "pids.max", "cgroup.procs"}) write(slot / file, "");
    write(slot / "memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n");
    write(slot / "pids.events", "max 3\n");
    write(slot / "cpu.stat", "usage_usec 5000\nuser_usec 4000\nsystem_usec 1000\n");
    const CgroupSupport support = v2_with_everything();
    AttemptGroup group(os::CgroupFolders(os::CgroupVersion::v2, {{"", slot}}), support);

    ASSERT_TRUE(group.limit(64ull << 20, 5).ok());
    EXPECT_EQ(read(slot / "memory.max"), "67108864");
    EXPECT_EQ(read(slot / "memory.swap.max"), "0") << "swap would let the group past its limit";
    EXPECT_EQ(read(slot / "pids.max"), "5");
    EXPECT_TRUE(group.enforces_memory());
    EXPECT_TRUE(group.enforces_processes());
    EXPECT_EQ(group.counters(), (AttemptGroup::Counters{2, 3, 5000}));

    ASSERT_TRUE(group.limit(std::nullopt, std::nullopt).ok());
    EXPECT_EQ(read(slot / "memory.max"), "max");
    EXPECT_EQ(read(slot / "pids.max"), "max");
    EXPECT_FALSE(group.enforces_memory());

    fs::remove(slot / "pids.max");
    EXPECT_FALSE(group.limit(1 << 20, 5).ok()) << "a limit the kernel does not take is an error";
}

// A group whose peak never passed one process's threads is read in two files: the refused
// forks and the CPU time; the OOM count stands. A kernel without pids.peak is asked once.
TEST_F(FakeTree, AGroupThatOnlyEverHeldOneProcessIsReadInTwoFiles)
{
    const fs::path slot = m_root / "slot-0";
    write(slot / "memory.events", "oom_kill 7\n");
    write(slot / "pids.events", "max 3\n");
    write(slot / "cpu.stat", "usage_usec 5000\n");
    write(slot / "pids.peak", "2\n");
    const CgroupSupport support = v2_with_everything();
    AttemptGroup group(os::CgroupFolders(os::CgroupVersion::v2, {{"", slot}}), support);

    EXPECT_TRUE(group.only_ever_held(2));
    EXPECT_FALSE(group.only_ever_held(1)) << "a second thread was there at some time";
    const AttemptGroup::Counters before{1, 0, 100};
    EXPECT_EQ(group.counters_of_a_lone_process(before), (AttemptGroup::Counters{1, 3, 5000}))
        << "the OOM count is not read: its only process lives";
    write(slot / "pids.peak", "3\n");
    EXPECT_FALSE(group.only_ever_held(2)) << "a peak is read afresh each time";

    fs::remove(slot / "pids.peak");
    EXPECT_FALSE(group.only_ever_held(2));
    write(slot / "pids.peak", "1\n");
    EXPECT_FALSE(group.only_ever_held(2)) << "a kernel that keeps no peak is not asked again";
    EXPECT_EQ(group.counters(), (AttemptGroup::Counters{7, 3, 5000})) << "the full read, as before";
}

TEST(CgroupLimits, TheLeaseWatchThreadIsNotCountedAgainstTheTask)
{
    model::Limits limits;
    limits.processes = 4;
    EXPECT_EQ(group_process_limit(limits, false), 4u);
    EXPECT_EQ(group_process_limit(limits, true), 5u);
    limits.processes.reset();
    EXPECT_FALSE(group_process_limit(limits, true));
}

} // namespace
} // namespace sandhost::sandbox
