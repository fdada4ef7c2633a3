// The worker's exit codes: one enum, each code with its own meaning.
#include "protocol/worker_exit.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sandhost::protocol {
namespace {

TEST(WorkerExit, EveryCodeHasItsOwnMeaning)
{
    std::set<std::string> meanings;
    for (int code = 111; code <= 118; ++code) {
        const auto e = worker_exit_from_code(code);
        ASSERT_TRUE(e) << code;
        EXPECT_EQ(exit_code(*e), code);
        const std::string meaning = describe(*e);
        EXPECT_FALSE(meaning.empty()) << code;
        EXPECT_TRUE(meanings.insert(meaning).second) << code << " says what another code says: " << meaning;
    }
    EXPECT_EQ(std::string(describe(WorkerExit::host_died)), "its host, or the fork server it was forked from, died");
    EXPECT_EQ(std::string(describe(WorkerExit::usage)), "it was started with arguments it does not understand");
}

TEST(WorkerExit, OtherCodesAreNotTheWorkers)
{
    for (int code : {0, 1, 72, 110, 119, 255, -1}) EXPECT_FALSE(worker_exit_from_code(code)) << code;
}

} // namespace
} // namespace sandhost::protocol
