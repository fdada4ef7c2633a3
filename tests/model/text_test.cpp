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

} // namespace
} // namespace sandhost::model
