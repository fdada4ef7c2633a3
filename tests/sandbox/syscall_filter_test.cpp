// The workers' system-call filter as the host compiles it: loaded into a real child process,
// it denies what the lists deny and lets the rest through; the same lists give the same
// program without compiling again.
#include "sandbox/syscall_filter.h"

#include "model/privileges.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

model::SyscallSettings custom(std::vector<std::string> deny, std::vector<std::string> allow_only)
{
    return {model::SyscallFilter::custom, std::move(deny), std::move(allow_only)};
}

std::vector<sock_filter> decoded(const std::string& hex)
{
    std::vector<unsigned char> bytes;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<unsigned char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    std::vector<sock_filter> program(bytes.size() / sizeof(sock_filter));
    std::memcpy(program.data(), bytes.data(), program.size() * sizeof(sock_filter));
    return program;
}

// Runs `probe` in a child under the program; its exit code is what the probe returned (0-125),
// 126 when the filter could not be loaded.
int under_filter(const CompiledFilter& filter, int (*probe)())
{
    const auto program = decoded(filter.program_hex);
    const pid_t child = ::fork();
    if (child == 0) {
        sock_fprog fprog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(126);
        if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog) != 0) ::_exit(126);
        ::_exit(probe());
    }
    int status = 0;
    EXPECT_EQ(::waitpid(child, &status, 0), child);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// 1: the call failed with EPERM; 0: it did not.
int unshare_denied() { return ::unshare(0) != 0 && errno == EPERM ? 1 : 0; }
int socket_denied() { return ::socket(AF_UNIX, SOCK_STREAM, 0) < 0 && errno == EPERM ? 1 : 0; }
int getcwd_denied()
{
    char buffer[4096];
    return ::getcwd(buffer, sizeof buffer) == nullptr && errno == EPERM ? 1 : 0;
}

TEST(SyscallFilter, TheDefaultListDeniesItsCallsAndNothingElse)
{
    auto filter = compiled_filter(model::SyscallSettings{});
    ASSERT_TRUE(filter) << filter.error().message();
    EXPECT_GT(filter->instructions, 46u);
    EXPECT_EQ(filter->program_hex.size(), filter->instructions * 16);
    EXPECT_TRUE(filter->denies_ptrace);
    EXPECT_EQ(under_filter(*filter, unshare_denied), 1);
    EXPECT_EQ(under_filter(*filter, socket_denied), 0);
    EXPECT_EQ(under_filter(*filter, getcwd_denied), 0);
}

TEST(SyscallFilter, AnAllowListDeniesEverythingElseAndWhatIsAlsoDenied)
{
    auto filter = compiled_filter(custom({"unshare"}, {"unshare", "ptrace"}));
    ASSERT_TRUE(filter) << filter.error().message();
    EXPECT_FALSE(filter->denies_ptrace);
    EXPECT_EQ(under_filter(*filter, unshare_denied), 1);  // named in both: denied
    EXPECT_EQ(under_filter(*filter, socket_denied), 1);   // not named
    EXPECT_EQ(under_filter(*filter, getcwd_denied), 0);   // the worker's own
    auto without_ptrace = compiled_filter(custom({}, {"getcwd"}));
    ASSERT_TRUE(without_ptrace);
    EXPECT_TRUE(without_ptrace->denies_ptrace);
}

TEST(SyscallFilter, TheSameListsGiveTheSameProgramAndNamesOfOtherArchitecturesAreSkipped)
{
    auto first = compiled_filter(model::SyscallSettings{});
    auto again = compiled_filter(model::SyscallSettings{});
    ASSERT_TRUE(first);
    ASSERT_TRUE(again);
    EXPECT_EQ(first->program_hex, again->program_hex);
    // A name this architecture has no number for is skipped: a list of only such a name still
    // compiles, and denies nothing.
    auto others = compiled_filter(custom({"no_such_call_anywhere"}, {}));
    ASSERT_TRUE(others) << others.error().message();
    EXPECT_EQ(under_filter(*others, unshare_denied), 0);
}

} // namespace
} // namespace sandhost::sandbox
