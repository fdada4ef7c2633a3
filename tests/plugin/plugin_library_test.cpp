// Loading plugins in-process with each loader: the descriptor checks, and the two traps a
// naive loader falls into (lazy binding, global symbols).
#include "plugin/library_loader.h"
#include "plugin/plugin_library.h"
#include "test_support.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

namespace sandhost::plugin {
namespace {

namespace t = sandhost::testing;

class Loaders : public ::testing::TestWithParam<const LibraryLoader*> {};

TEST_P(Loaders, LoadsAPluginAndFindsItsTasks)
{
    auto opened = PluginLibrary::open(t::plugin("misbehave").string(), *GetParam());
    ASSERT_TRUE(std::holds_alternative<PluginLibrary>(opened)) << std::get<std::string>(opened);
    const auto& library = std::get<PluginLibrary>(opened);
    EXPECT_STREQ(library.name(), "misbehave");
    EXPECT_NE(library.find_task("segfault"), nullptr);
    EXPECT_EQ(library.find_task("nope"), nullptr);
    EXPECT_NE(library.init_hook(), nullptr);
}

TEST_P(Loaders, AnUnresolvedSymbolFailsTheLoadNotTheCall)
{
    auto opened = PluginLibrary::open((t::fixture_plugin_dir() / "unresolved.so").string(), *GetParam());
    ASSERT_TRUE(std::holds_alternative<std::string>(opened)) << "a lazy load would have succeeded here";
    EXPECT_NE(std::get<std::string>(opened).find("undefined symbol"), std::string::npos) << std::get<std::string>(opened);
}

TEST_P(Loaders, APluginsSymbolsStayLocal)
{
    auto opened = PluginLibrary::open(t::plugin("misbehave").string(), *GetParam());
    ASSERT_TRUE(std::holds_alternative<PluginLibrary>(opened));
    // Loaded globally, the entry point would now resolve for everyone (and clash with the next
    // plugin's).
    EXPECT_EQ(::dlsym(RTLD_DEFAULT, SH_ENTRY_SYMBOL), nullptr);
}

TEST_P(Loaders, TheOptionalHooksOfAnOldDescriptorAreNotRead)
{
    auto opened = PluginLibrary::open((t::fixture_plugin_dir() / "minimal_abi.so").string(), *GetParam());
    ASSERT_TRUE(std::holds_alternative<PluginLibrary>(opened));
    EXPECT_EQ(std::get<PluginLibrary>(opened).init_hook(), nullptr);
    EXPECT_EQ(std::get<PluginLibrary>(opened).shutdown_hook(), nullptr);
}

TEST_P(Loaders, APluginOfTheReleasedMinorLoadsAndRuns)
{
    auto opened = PluginLibrary::open((t::fixture_plugin_dir() / "abi_1_0.so").string(), *GetParam());
    ASSERT_TRUE(std::holds_alternative<PluginLibrary>(opened)) << std::get<std::string>(opened);
    const auto& library = std::get<PluginLibrary>(opened);
    ASSERT_NE(library.find_task("hello"), nullptr);
    EXPECT_EQ(library.extension("org.sandhost.test.greeting/1"), nullptr) << "it has no extension lookup";
}

TEST_P(Loaders, APluginOfANewerMinorLoadsAndOnlyWhatTheHostKnowsIsRead)
{
    auto opened = PluginLibrary::open((t::fixture_plugin_dir() / "abi_newer_minor.so").string(), *GetParam());
    ASSERT_TRUE(std::holds_alternative<PluginLibrary>(opened)) << std::get<std::string>(opened);
    const auto& library = std::get<PluginLibrary>(opened);
    // Its task entries are larger than this host's: the second is found at the plugin's stride.
    EXPECT_EQ(library.task_names(), "first, second");
    const sh_task_t* second = library.find_task("second");
    ASSERT_NE(second, nullptr);
    EXPECT_STREQ(second->description, "read at the plugin's own entry size");
    const auto* greeting = static_cast<const char*>(library.extension("org.sandhost.test.greeting/1"));
    ASSERT_NE(greeting, nullptr);
    EXPECT_STREQ(greeting, "org.sandhost.test.greeting/1: hello");
    EXPECT_EQ(library.extension("org.sandhost.test.other/1"), nullptr);
}

TEST_P(Loaders, APluginOfANewerMajorIsRefusedNamingBothVersions)
{
    auto opened = PluginLibrary::open((t::fixture_plugin_dir() / "abi_newer_major.so").string(), *GetParam());
    ASSERT_TRUE(std::holds_alternative<std::string>(opened));
    EXPECT_NE(std::get<std::string>(opened).find("was built for plugin ABI version 2.0; this host speaks version 1.0 and loads plugins "
                                                 "built for 1.x"),
              std::string::npos)
        << std::get<std::string>(opened);
}

INSTANTIATE_TEST_SUITE_P(Each, Loaders, ::testing::Values(&dlopen_loader(), &poco_loader()),
                         [](const ::testing::TestParamInfo<const LibraryLoader*>& param) {
                             return std::string(param.param == &dlopen_loader() ? "dlopen" : "poco");
                         });

TEST(AbiVersions, TheMajorDecidesWhateverTheMinors)
{
    // A 1.3 host loads what was built for 1.0 (an older minor) and 1.7 (a newer one).
    EXPECT_EQ(abi_mismatch(SH_ABI_MAKE_VERSION(1u, 0u), SH_ABI_MAKE_VERSION(1u, 3u)), std::nullopt);
    EXPECT_EQ(abi_mismatch(SH_ABI_MAKE_VERSION(1u, 7u), SH_ABI_MAKE_VERSION(1u, 3u)), std::nullopt);
    EXPECT_EQ(abi_mismatch(SH_ABI_MAKE_VERSION(2u, 0u), SH_ABI_MAKE_VERSION(1u, 3u)),
              "plugin ABI version 2.0; this host speaks version 1.3 and loads plugins built for 1.x");
    EXPECT_EQ(abi_mismatch(SH_ABI_MAKE_VERSION(1u, 0u), SH_ABI_MAKE_VERSION(2u, 0u)),
              "plugin ABI version 1.0; this host speaks version 2.0 and loads plugins built for 2.x");
    // What every plugin built before versions had minors carries, 1, is 1.0.
    EXPECT_EQ(abi_version_string(1u), "1.0");
    EXPECT_EQ(abi_version_string(SH_ABI_VERSION), "1.0");
}

} // namespace
} // namespace sandhost::plugin
