#include "config/variables.h"

#include <map>

#include <gtest/gtest.h>

namespace sandhost::config {
namespace {

EnvLookup fixed(std::map<std::string, std::string> values)
{
    return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
        auto it = values.find(name);
        if (it == values.end()) return std::nullopt;
        return it->second;
    };
}

TEST(ExpandVariables, ReplacesReferencesAndDefaults)
{
    auto env = fixed({{"HOME", "/home/a"}, {"EMPTY", ""}});
    EXPECT_EQ(expand_variables("${HOME}/x", env).value(), "/home/a/x");
    EXPECT_EQ(expand_variables("${MISSING:-fallback}", env).value(), "fallback");
    EXPECT_EQ(expand_variables("${EMPTY:-fallback}", env).value(), "fallback");
    EXPECT_EQ(expand_variables("${HOME:-fallback}", env).value(), "/home/a");
    EXPECT_EQ(expand_variables("${MISSING:-}", env).value(), "");
    EXPECT_EQ(expand_variables("${EMPTY}", env).value(), "");
    EXPECT_EQ(expand_variables("a$b $ $$ $${HOME}", env).value(), "a$b $ $ ${HOME}");
    EXPECT_EQ(expand_variables("${A:-x:-y}", env).value(), "x:-y");
}

TEST(ExpandVariables, RefusesUnsetAndMalformedReferences)
{
    auto env = fixed({});
    EXPECT_EQ(expand_variables("x${NOPE}", env).error(),
              "environment variable NOPE is not set (in \"x${NOPE}\"; write ${NOPE:-default} to give a default)");
    EXPECT_EQ(expand_variables("${NOPE", env).error(), "unterminated \"${\" in \"${NOPE\"");
    EXPECT_EQ(expand_variables("${1X}", env).error(),
              "invalid variable reference \"${1X}\" (write ${NAME} or ${NAME:-default})");
    EXPECT_FALSE(expand_variables("${}", env));
    EXPECT_FALSE(expand_variables("${A-b}", env));
}

TEST(EscapeVariables, IsUndoneByExpansion)
{
    for (std::string text : {"plain", "$", "$$", "${HOME}", "a$b${c}$"}) {
        EXPECT_EQ(expand_variables(escape_variables(text), fixed({})).value(), text);
    }
}

} // namespace
} // namespace sandhost::config
