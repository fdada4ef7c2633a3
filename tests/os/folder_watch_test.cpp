#include "os/folder_watch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace sandhost::os {
namespace {

namespace fs = std::filesystem;

class FolderWatchTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string name = (fs::temp_directory_path() / "folder-watch.XXXXXX").string();
        ASSERT_NE(::mkdtemp(name.data()), nullptr);
        m_root = name;
        m_folder = m_root / "watched";
        fs::create_directory(m_folder);
        fs::permissions(m_folder, fs::perms::owner_all);
    }
    void TearDown() override { fs::remove_all(m_root); }

    // A watch on the folder, asked once: nothing changed since it was made.
    int watched()
    {
        const auto watch = m_watch.watch(m_folder);
        if (!watch) ADD_FAILURE() << "cannot watch " << m_folder;
        EXPECT_TRUE(m_watch.unchanged(watch.value_or(-1)));
        return watch.value_or(-1);
    }

    fs::path m_root;
    fs::path m_folder;
    FolderWatch m_watch;
};

TEST_F(FolderWatchTest, AnEntryMadeInTheFolderIsAChangeReportedOnce)
{
    const int watch = watched();
    std::ofstream(m_folder / "left") << "x";
    EXPECT_FALSE(m_watch.unchanged(watch));
    EXPECT_TRUE(m_watch.unchanged(watch)) << "reported once; the caller looked at the folder meanwhile";
    fs::create_directory(m_folder / "dir");
    EXPECT_FALSE(m_watch.unchanged(watch));
}

TEST_F(FolderWatchTest, WhatIsWrittenInAnEntryItMadeIsNoNewChange)
{
    // Only what can leave the folder other than empty counts: an existing file's writes came
    // after its creation, which was reported.
    const int watch = watched();
    std::ofstream file(m_folder / "file");
    EXPECT_FALSE(m_watch.unchanged(watch));
    file << std::string(100000, 'x') << std::flush;
    EXPECT_TRUE(m_watch.unchanged(watch));
}

TEST_F(FolderWatchTest, EntriesMovedOrLinkedInAreChanges)
{
    const int watch = watched();
    std::ofstream(m_root / "outside") << "x";
    ASSERT_EQ(::link((m_root / "outside").c_str(), (m_folder / "linked").c_str()), 0);
    EXPECT_FALSE(m_watch.unchanged(watch));
    fs::rename(m_root / "outside", m_folder / "moved");
    EXPECT_FALSE(m_watch.unchanged(watch));
    fs::create_symlink("/etc", m_folder / "link");
    EXPECT_FALSE(m_watch.unchanged(watch));
}

TEST_F(FolderWatchTest, TheFoldersModeChangedIsAChange)
{
    const int watch = watched();
    fs::permissions(m_folder, fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
    EXPECT_FALSE(m_watch.unchanged(watch));
}

TEST_F(FolderWatchTest, TheFolderMovedOrRemovedIsAChange)
{
    int watch = watched();
    fs::rename(m_folder, m_root / "elsewhere");
    EXPECT_FALSE(m_watch.unchanged(watch));
    fs::rename(m_root / "elsewhere", m_folder);
    m_watch.forget(watch);

    watch = watched();
    fs::remove(m_folder);
    EXPECT_FALSE(m_watch.unchanged(watch));
    EXPECT_FALSE(m_watch.unchanged(watch)) << "its watch is gone with it: it can say nothing more";
}

TEST_F(FolderWatchTest, FoldersAreToldApartAndAForgottenOneIsNeverUnchanged)
{
    const fs::path other = m_root / "other";
    fs::create_directory(other);
    const int first = watched();
    const auto second = m_watch.watch(other);
    ASSERT_TRUE(second);
    std::ofstream(other / "file") << "x";
    EXPECT_TRUE(m_watch.unchanged(first));
    EXPECT_FALSE(m_watch.unchanged(*second));
    m_watch.forget(first);
    EXPECT_FALSE(m_watch.unchanged(first)) << "not watched: nothing is known";
}

TEST_F(FolderWatchTest, ALinkOrAFileIsNotWatched)
{
    std::ofstream(m_root / "file") << "x";
    fs::create_directory_symlink(m_folder, m_root / "link");
    EXPECT_FALSE(m_watch.watch(m_root / "file"));
    EXPECT_FALSE(m_watch.watch(m_root / "link"));
    EXPECT_FALSE(m_watch.watch(m_root / "missing"));
}

} // namespace
} // namespace sandhost::os
