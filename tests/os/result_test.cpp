#include "os/result.h"

#include <cerrno>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "os/unique_fd.h"

namespace sandhost::os {
namespace {

TEST(SysError, MessageNamesTheCallTheObjectAndTheReason)
{
    const SysError error = SysError::from_code(ENOENT, "posix_spawn", "/usr/bin/x");
    EXPECT_EQ(error.message(), "posix_spawn(/usr/bin/x): No such file or directory");
}

TEST(SysError, MessageLeavesOutWhatIsMissing)
{
    EXPECT_EQ(SysError::from_code(EMFILE, "pipe2").message(), "pipe2: Too many open files");
    EXPECT_EQ((SysError{{}, "handshake", "worker 12"}).message(), "handshake(worker 12)");
}

TEST(SysError, FromErrnoKeepsTheCurrentErrno)
{
    errno = EACCES;
    const SysError error = SysError::from_errno("open", "/etc/shadow");
    EXPECT_EQ(error.code, std::errc::permission_denied);
    EXPECT_EQ(error.code.category(), std::generic_category());
    EXPECT_EQ(error.call, "open");
    EXPECT_EQ(error.object, "/etc/shadow");
}

TEST(Result, HoldsAValue)
{
    Result<std::string> result(std::string("value"));
    ASSERT_TRUE(result.ok());
    EXPECT_TRUE(static_cast<bool>(result));
    EXPECT_EQ(result.value(), "value");
    EXPECT_EQ(result->size(), 5u);
    EXPECT_EQ(*result, "value");
}

TEST(Result, HoldsAnError)
{
    Result<int> result(SysError::from_code(EBADF, "read", "fd 9"));
    EXPECT_FALSE(result.ok());
    EXPECT_FALSE(static_cast<bool>(result));
    EXPECT_EQ(result.error().code, std::errc::bad_file_descriptor);
    EXPECT_EQ(result.error().message(), "read(fd 9): Bad file descriptor");
}

TEST(Result, MovesAMoveOnlyValueOut)
{
    Result<UniqueFd> result(UniqueFd(-1));
    ASSERT_TRUE(result);
    UniqueFd taken = std::move(result).value();
    EXPECT_FALSE(taken.valid());
}

TEST(Status, IsOkUnlessItHoldsAnError)
{
    const Status ok;
    EXPECT_TRUE(ok.ok());
    EXPECT_TRUE(static_cast<bool>(ok));
    const Status failed = SysError::from_code(EPIPE, "write", "fd 4");
    EXPECT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().call, "write");
    EXPECT_EQ(failed.error().code, std::errc::broken_pipe);
}

} // namespace
} // namespace sandhost::os
