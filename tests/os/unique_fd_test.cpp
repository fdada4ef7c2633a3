#include "os/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include <gtest/gtest.h>

namespace sandhost::os {
namespace {

bool is_open(int fd)
{
    return ::fcntl(fd, F_GETFD) >= 0;
}

// A descriptor of our own to hand to a UniqueFd.
int open_null()
{
    return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

TEST(UniqueFd, DefaultHoldsNothing)
{
    UniqueFd fd;
    EXPECT_FALSE(fd.valid());
    EXPECT_FALSE(fd);
    EXPECT_EQ(fd.get(), -1);
}

TEST(UniqueFd, ClosesOnDestruction)
{
    const int raw = open_null();
    ASSERT_GE(raw, 0);
    {
        UniqueFd fd(raw);
        EXPECT_TRUE(fd.valid());
        EXPECT_EQ(fd.get(), raw);
    }
    EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, MoveConstructionTransfersOwnership)
{
    const int raw = open_null();
    ASSERT_GE(raw, 0);
    UniqueFd from(raw);
    {
        UniqueFd to(std::move(from));
        EXPECT_FALSE(from.valid());
        EXPECT_EQ(to.get(), raw);
    }
    EXPECT_FALSE(is_open(raw)) << "the new owner closes it";
}

TEST(UniqueFd, MoveAssignmentClosesWhatTheTargetHeld)
{
    const int first = open_null();
    const int second = open_null();
    ASSERT_GE(first, 0);
    ASSERT_GE(second, 0);
    UniqueFd target(first);
    UniqueFd source(second);
    target = std::move(source);
    EXPECT_FALSE(is_open(first));
    EXPECT_TRUE(is_open(second));
    EXPECT_EQ(target.get(), second);
    EXPECT_FALSE(source.valid());
}

TEST(UniqueFd, ReleaseGivesUpOwnershipWithoutClosing)
{
    const int raw = open_null();
    ASSERT_GE(raw, 0);
    {
        UniqueFd fd(raw);
        EXPECT_EQ(fd.release(), raw);
        EXPECT_FALSE(fd.valid());
    }
    EXPECT_TRUE(is_open(raw));
    ::close(raw);
}

TEST(UniqueFd, ResetClosesTheOldDescriptorAndTakesTheNew)
{
    const int first = open_null();
    const int second = open_null();
    ASSERT_GE(first, 0);
    ASSERT_GE(second, 0);
    UniqueFd fd(first);
    fd.reset(second);
    EXPECT_FALSE(is_open(first));
    EXPECT_EQ(fd.get(), second);
    fd.reset();
    EXPECT_FALSE(is_open(second));
    EXPECT_FALSE(fd.valid());
}

TEST(UniqueFd, ResetToTheSameDescriptorKeepsItOpen)
{
    const int raw = open_null();
    ASSERT_GE(raw, 0);
    UniqueFd fd(raw);
    fd.reset(raw);
    EXPECT_TRUE(is_open(raw));
    EXPECT_EQ(fd.get(), raw);
}

} // namespace
} // namespace sandhost::os
