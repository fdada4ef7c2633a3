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

INSTANTIATE_TEST_SUITE_P(Each, Loaders, ::testing::Values(&dlopen_loader(), &poco_loader()),
                         [](const ::testing::TestParamInfo<const LibraryLoader*>& param) {
                             return std::string(param.param == &dlopen_loader() ? "dlopen" : "poco");
                         });

} // namespace
} // namespace sandhost::plugin
