#include "model/json_check.h"
#include "model/text.h"

#include <gtest/gtest.h>

namespace sandhost::model {
namespace {

TEST(ValidUtf8, KeepsValidTextAsIs)
{
    const std::string text = "plain, \xC3\xA9t\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80, tab\t, nul\0end";
    EXPECT_EQ(valid_utf8(text), text);
}

TEST(ValidUtf8, ReplacesEachInvalidByte)
{
    EXPECT_EQ(valid_utf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
    EXPECT_EQ(valid_utf8("\xC3"), "\xEF\xBF\xBD");                       // truncated sequence
    EXPECT_EQ(valid_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");       // overlong '/'
    EXPECT_EQ(valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a UTF-16 surrogate
    // Past U+10FFFF.
    EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80" "x"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "x");
}

TEST(ValidUtf8, TellsValidFromInvalid)
{
    EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xF0\x9F\x98\x80"));
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_FALSE(is_valid_utf8("\xC3"));
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));
}

TEST(JsonString, EscapesQuotesBackslashesAndControlCharacters)
{
    EXPECT_EQ(json_string("plain"), "\"plain\"");
    EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(json_string("line\nnext\ttab\r\b\f"), "\"line\\nnext\\ttab\\r\\b\\f\"");
    EXPECT_EQ(json_string(std::string("nul\0x\x1f\x7f", 7)), "\"nul\\u0000x\\u001f\\u007f\"");
    EXPECT_EQ(json_string("\xC3\xA9"), "\"\xC3\xA9\"");
}

TEST(Printable, ShowsControlCharactersAsEscapes)
{
    EXPECT_EQ(printable("task\x1b[31mred"), "task\\x1b[31mred");
    EXPECT_EQ(printable("a\nb\x7f"), "a\\x0ab\\x7f");
    EXPECT_EQ(printable("caf\xC3\xA9"), "caf\xC3\xA9");
}

TEST(JsonProblem, NoneForOneJsonValue)
{
    for (const char* text : {"{}", " [1, 2.5, \"x\", true, null] ", "\"only a string\"", "-0.5e3", "{\"a\": {\"b\": []}}\n"}) {
        EXPECT_FALSE(json_problem(text)) << text;
    }
}

TEST(JsonProblem, SaysWhereAndWhy)
{
    const auto missing_quote = json_problem("{nope");
    ASSERT_TRUE(missing_quote);
    EXPECT_EQ(missing_quote->line, 1u);
    EXPECT_EQ(missing_quote->column, 3u);  // where the parser gave up: "no" cannot start a literal
    EXPECT_NE(missing_quote->message.find("object key"), std::string::npos) << missing_quote->message;
    const auto trailing_comma = json_problem("{\n  \"a\": 1,\n}");
    ASSERT_TRUE(trailing_comma);
    EXPECT_EQ(trailing_comma->describe().rfind("line 3, column 1: ", 0), 0u) << trailing_comma->describe();
    const auto two_values = json_problem("{} {}");
    ASSERT_TRUE(two_values);
    EXPECT_EQ(two_values->column, 4u);
    const auto empty = json_problem("");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->column, 1u);
    EXPECT_TRUE(json_problem("[1, 2"));
    EXPECT_TRUE(json_problem("{\"a\": tru}"));
}

} // namespace
} // namespace sandhost::model
