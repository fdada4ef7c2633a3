#include "config/validate.h"

#include <sstream>

#include <gtest/gtest.h>

#include "config_test_support.h"

namespace sandhost::config {
namespace {

using testing::TempDir;
using testing::test_options;

TEST(RunValidate, ValidFilePrintsOneSummaryLine)
{
    const std::filesystem::path demo = std::filesystem::path(SANDHOST_SOURCE_DIR) / "config/demo.yaml";
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_validate(demo, false, out, err, test_options()), k_validate_ok);
    EXPECT_EQ(out.str(), demo.string() + ": OK: 3 queues, 1 schedule, 1 plugin dir\n");
    EXPECT_EQ(err.str(), "");
}

TEST(RunValidate, PrintWritesLoadableYaml)
{
    TempDir dir;
    auto file = dir.write("config.yaml", "queues:\n  q:\n    tasks: [hello.echo]\n");
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_validate(file, true, out, err, test_options()), k_validate_ok);
    EXPECT_EQ(err.str(), "");
    const std::string printed = out.str();
    EXPECT_TRUE(printed.starts_with("# " + file.string() + ": OK: 1 queue, 0 schedules, 0 plugin dirs\nhost:\n"))
        << printed;
    EXPECT_NE(printed.find("    sandbox:\n      enabled: true\n"), std::string::npos) << printed;
    LoadResult reloaded = load_config(dir.write("printed.yaml", printed), test_options());
    EXPECT_TRUE(reloaded.ok()) << testing::error_lines(reloaded);
}

TEST(RunValidate, AConfigWithNoQueuesIsValidButWarned)
{
    TempDir dir;
    auto file = dir.write("config.yaml", "host:\n  max_workers: 2\n");
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_validate(file, false, out, err, test_options()), k_validate_ok);
    EXPECT_EQ(err.str(), file.string() + ": warning: no queues: a host serving this configuration runs nothing\n");
    EXPECT_EQ(out.str(), file.string() + ": OK: 0 queues, 0 schedules, 0 plugin dirs\n");
}

TEST(RunValidate, InvalidFileListsEveryErrorAndExitsTwo)
{
    TempDir dir;
    auto file = dir.write("config.yaml", "sandbox:\n  timeout: 30\nqueues:\n  q:\n    tasks: [hello.nope]\n");
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_validate(file, true, out, err, test_options()), k_validate_invalid);
    EXPECT_EQ(out.str(), "");
    const std::string name = file.string();
    EXPECT_EQ(err.str(), name + ":2:12: timeout: \"30\" has no unit (durations take ms, s, m, h or d, e.g. \"30s\")\n" +
                             name +
                             ":5:13: plugin \"hello\" has no task \"nope\" (in \"hello.nope\") (its tasks: echo, long, "
                             "word_count)\n");
}

TEST(RunValidate, MissingFileExitsTwo)
{
    TempDir dir;
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_validate(dir.path() / "nope.yaml", false, out, err, test_options()), k_validate_invalid);
    EXPECT_EQ(err.str(), (dir.path() / "nope.yaml").string() + ": cannot read: No such file or directory\n");
}

} // namespace
} // namespace sandhost::config
