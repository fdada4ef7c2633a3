#include "os/file_security.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace sandhost::os {
namespace {

namespace fs = std::filesystem;

class FileSecurityTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string name = (fs::temp_directory_path() / "file-security.XXXXXX").string();
        ASSERT_NE(::mkdtemp(name.data()), nullptr);
        m_root = name;
        fs::permissions(m_root, fs::perms(0755));
        m_file = m_root / "task.so";
        std::ofstream(m_file) << "not a library: only its mode is looked at";
        fs::permissions(m_file, fs::perms(0755));
    }
    void TearDown() override
    {
        if (!m_cwd.empty()) fs::current_path(m_cwd);
        fs::remove_all(m_root);
    }

    fs::path m_root;
    fs::path m_file;
    fs::path m_cwd;
};

TEST_F(FileSecurityTest, AFileAndFolderOnlyTheirOwnerMayWriteAreTrusted)
{
    EXPECT_EQ(writable_by_others(m_file), std::nullopt);
}

TEST_F(FileSecurityTest, AFileOthersMayWriteIsNamedWithItsMode)
{
    fs::permissions(m_file, fs::perms(0757));
    EXPECT_EQ(writable_by_others(m_file), m_file.string() + " is writable by every user (mode 0757)");
    fs::permissions(m_file, fs::perms(0775));
    // Group-writable counts unless the group is root's.
    const auto why = writable_by_others(m_file);
    if (::getegid() == 0) {
        EXPECT_EQ(why, std::nullopt);
    } else {
        EXPECT_EQ(why, m_file.string() + " is writable by its group (mode 0775)");
    }
}

TEST_F(FileSecurityTest, TheFolderIsFoundHoweverThePathIsSpelled)
{
    fs::permissions(m_root, fs::perms(0777));
    const std::string expected = m_root.string() + " is writable by every user (mode 0777)";
    EXPECT_EQ(writable_by_others(m_file), expected);
    // Doubled separators before the file name name the same folder.
    EXPECT_EQ(writable_by_others(fs::path(m_root.string() + "//task.so")), expected);
    // A bare file name is in the working folder.
    m_cwd = fs::current_path();
    fs::current_path(m_root);
    EXPECT_EQ(writable_by_others("task.so"), ". is writable by every user (mode 0777)");
}

TEST_F(FileSecurityTest, AFileThatCannotBeExaminedIsLeftToTheLoader)
{
    EXPECT_EQ(writable_by_others(m_root / "missing.so"), std::nullopt);
}

TEST_F(FileSecurityTest, ALibraryIsToldFromTheOneThatReplacedIt)
{
    const auto first = check_library(m_file);
    EXPECT_EQ(first.unsafe, std::nullopt);
    EXPECT_NE(first.file.inode, 0u);
    EXPECT_EQ(first.file, FileIdentity::of(m_file));
    EXPECT_EQ(check_library(m_file).file, first.file) << "the same file, looked at again";

    // A new version renamed over it, as a deployment installs one: another inode.
    const auto staged = m_root / ".task.so.new";
    std::ofstream(staged) << "not a library either";
    fs::rename(staged, m_file);
    const auto renamed = check_library(m_file).file;
    EXPECT_NE(renamed, first.file);
    EXPECT_NE(renamed.inode, first.file.inode);

    // Written over in place: the same inode, another size and modification time.
    { std::ofstream(m_file, std::ios::app) << ", and longer now"; }
    EXPECT_NE(check_library(m_file).file, renamed);

    // What cannot be examined has no identity, and is left to the loader.
    const auto missing = check_library(m_root / "missing.so");
    EXPECT_EQ(missing.file, FileIdentity{});
    EXPECT_EQ(missing.unsafe, std::nullopt);
}

TEST_F(FileSecurityTest, AnUnsafeLibraryIsStillIdentified)
{
    fs::permissions(m_file, fs::perms(0777));
    const auto checked = check_library(m_file);
    EXPECT_EQ(checked.unsafe, m_file.string() + " is writable by every user (mode 0777)");
    EXPECT_EQ(checked.file, FileIdentity::of(m_file));
}

} // namespace
} // namespace sandhost::os
