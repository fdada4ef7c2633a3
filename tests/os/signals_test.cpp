#include "os/signals.h"

#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "os_test_support.h"

namespace sandhost::os {
namespace {

using testing::describe_status;
using testing::ForkedChild;

TEST(SignalName, NamesTheStandardSignals)
{
    EXPECT_EQ(signal_name(SIGSEGV), "SIGSEGV");
    EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
    EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
    EXPECT_EQ(signal_name(SIGABRT), "SIGABRT");
}

TEST(SignalName, NumbersANumberWithoutAName)
{
    EXPECT_EQ(signal_name(0), "SIG0");
    EXPECT_EQ(signal_name(SIGRTMIN + 3), "SIG" + std::to_string(SIGRTMIN + 3));
    EXPECT_EQ(signal_name(200), "SIG200");
}

TEST(SignalNumber, TakesTheNameWithOrWithoutSig)
{
    EXPECT_EQ(signal_number("SIGTERM"), SIGTERM);
    EXPECT_EQ(signal_number("TERM"), SIGTERM);
    EXPECT_EQ(signal_number("SIGKILL"), SIGKILL);
    EXPECT_EQ(signal_number("HUP"), SIGHUP);
}

TEST(SignalNumber, RefusesWhatIsNotAName)
{
    EXPECT_EQ(signal_number(""), std::nullopt);
    EXPECT_EQ(signal_number("SIG"), std::nullopt);
    EXPECT_EQ(signal_number("SIGNOPE"), std::nullopt);
    EXPECT_EQ(signal_number("sigterm"), std::nullopt) << "names are upper case";
    EXPECT_EQ(signal_number("15"), std::nullopt) << "a name, not a number";
}

TEST(SignalNumber, ReadsBackEveryName)
{
    for (int sig = 1; sig < SIGRTMIN; ++sig) {
        const std::string name = signal_name(sig);
        if (name == "SIG" + std::to_string(sig)) continue;  // no name to read back
        EXPECT_EQ(signal_number(name), sig) << name;
    }
}

using ResetSignalState = testing::ProcessTest;

void on_signal(int) {}

// In a forked child, since it changes the whole process: every disposition the child sets is
// back to the default and its mask is empty, so a TERM it raises ends it.
TEST_F(ResetSignalState, RestoresDefaultsAndUnblocksEverything)
{
    ForkedChild child([] {
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        struct sigaction handle {};
        handle.sa_handler = on_signal;
        if (::sigaction(SIGTERM, &ignore, nullptr) != 0 || ::sigaction(SIGUSR2, &handle, nullptr) != 0 ||
            ::sigaction(SIGPIPE, &ignore, nullptr) != 0) {
            return 2;
        }
        sigset_t blocked;
        sigemptyset(&blocked);
        sigaddset(&blocked, SIGUSR1);
        sigaddset(&blocked, SIGTERM);
        if (::sigprocmask(SIG_BLOCK, &blocked, nullptr) != 0) return 2;

        reset_signal_state();

        for (int sig : {SIGTERM, SIGUSR2, SIGPIPE}) {
            struct sigaction now {};
            if (::sigaction(sig, nullptr, &now) != 0 || now.sa_handler != SIG_DFL) return 3;
        }
        sigset_t mask;
        if (::sigprocmask(SIG_SETMASK, nullptr, &mask) != 0) return 2;
        for (int sig = 1; sig < NSIG; ++sig) {
            if (sigismember(&mask, sig) == 1) return 4;
        }
        ::raise(SIGTERM);
        return 5;
    });
    // 3: a disposition was not reset, 4: a signal stayed blocked, 5: TERM did not end it.
    EXPECT_EQ(describe_status(child.wait()), "killed by signal " + std::to_string(SIGTERM));
}

} // namespace
} // namespace sandhost::os
