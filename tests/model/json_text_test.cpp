#include "model/json_text.h"

#include <gtest/gtest.h>

namespace sandhost::model {
namespace {

std::string where(std::string_view text)
{
    const auto error = json_syntax_error(text);
    return error ? error->to_string() : "ok";
}

TEST(JsonSyntax, AcceptsEveryKindOfValue)
{
    for (const char* text : {"{}", "[]", "0", "-0.5e+10", "1E3", "\"\\u00e9\\n\"", "true", "false", "null", " {\"a\": [1, {\"b\": null}]}\n",
                             "\"caf\xC3\xA9\"", "[\"\\/\", 123456789012345678901234567890]"}) {
        EXPECT_EQ(where(text), "ok") << text;
    }
}

TEST(JsonSyntax, SaysWhereAndWhatIsWrong)
{
    EXPECT_EQ(where(""), "line 1, column 1: expected a JSON value, got the end of the text");
    EXPECT_EQ(where("{\"a\": 1,}"), "line 1, column 9: expected a member name in double quotes, got '}'");
    EXPECT_EQ(where("{\n  \"a\": 1\n  \"b\": 2\n}"), "line 3, column 3: expected ',' or '}' after an object member, got '\"'");
    EXPECT_EQ(where("[1 2]"), "line 1, column 4: expected ',' or ']' after an array element, got '2'");
    EXPECT_EQ(where("{\"a\" 1}"), "line 1, column 6: expected ':' after a member name, got '1'");
    EXPECT_EQ(where("{} x"), "line 1, column 4: unexpected 'x' after the JSON value");
    EXPECT_EQ(where("01"), "line 1, column 2: a number must not start with 0");
    EXPECT_EQ(where("1."), "line 1, column 3: expected a digit after '.', got the end of the text");
    EXPECT_EQ(where("tru"), "line 1, column 1: expected a JSON value, got 't'");
    EXPECT_EQ(where("\"abc"), "line 1, column 5: the string is not closed");
    EXPECT_EQ(where("\"a\tb\""), "line 1, column 3: a control character must be escaped inside a string");
    EXPECT_EQ(where("\"\\x\""), "line 1, column 3: unknown escape \\x in a string");
    EXPECT_EQ(where("\"\\u12g4\""), "line 1, column 6: expected four hexadecimal digits after \\u");
    EXPECT_EQ(where("{'a': 1}"), "line 1, column 2: expected a member name in double quotes, got '''");
    EXPECT_EQ(where("[\"ok\", \"\xC3\xA9\", \"\xFF\"]"), "line 1, column 15: the text is not valid UTF-8");
    EXPECT_EQ(where(std::string(k_max_json_depth, '[') + std::string(k_max_json_depth, ']')), "ok");
    EXPECT_EQ(where(std::string(k_max_json_depth + 1, '[') + std::string(k_max_json_depth + 1, ']')),
              "line 1, column 513: nested deeper than 512 levels");
}

TEST(JsonSyntax, CompactsValuesAndQuotesTheRest)
{
    EXPECT_EQ(compact_json(" {\n \"a b\" : [ 1 , \"x \\\" y\" ] }\n"), R"({"a b":[1,"x \" y"]})");
    EXPECT_FALSE(compact_json("{"));
    EXPECT_EQ(json_value_or_string("{\"in\": 23}"), R"({"in":23})");
    EXPECT_EQ(json_value_or_string("42"), "42");
    EXPECT_EQ(json_value_or_string("plain text\n"), R"("plain text\n")");
    EXPECT_EQ(json_value_or_string(""), R"("")");
    EXPECT_EQ(json_value_or_string("bad \xFF byte"), "\"bad \xEF\xBF\xBD byte\"");
}

TEST(JsonObject, WritesMembersInOrder)
{
    JsonObject json;
    json.text("s", "a\"b\x01").number("i", std::int64_t(-3)).number("d", 0.25).boolean("b", true).null("n").raw("r", "[1]");
    json.number("inf", 1.0 / 0.0);
    EXPECT_EQ(json.str(), R"({"s":"a\"b\u0001","i":-3,"d":0.25,"b":true,"n":null,"r":[1],"inf":null})");
    EXPECT_EQ(JsonObject().str(), "{}");
}

TEST(JsonObjectMembers, TakesEachValueAsWritten)
{
    const auto members = json_object_members(" { \"a\" : 12345678901234567890 , \"p\\u00e9\": {\"x\": [1, \"]\"]}, \"s\":\"}\", \"a\":null } ");
    ASSERT_TRUE(members);
    ASSERT_EQ(members->size(), 4u);
    EXPECT_EQ((*members)[0].first, "a");
    EXPECT_EQ((*members)[0].second, "12345678901234567890");
    EXPECT_EQ((*members)[1].first, "p\xC3\xA9");
    EXPECT_EQ((*members)[1].second, R"({"x": [1, "]"]})");
    EXPECT_EQ((*members)[2].second, R"("}")");
    EXPECT_EQ((*members)[3].second, "null");
    EXPECT_TRUE(json_object_members("{}")->empty());
    EXPECT_FALSE(json_object_members("[1]"));
    EXPECT_FALSE(json_object_members("{\"a\":}"));
}

TEST(JsonArrayElements, TakesEachElementAsWritten)
{
    const auto elements = json_array_elements(" [ {\"a\": [1, \"]\"]} , 12345678901234567890,\"x,y\" ,[] ] ");
    ASSERT_TRUE(elements);
    ASSERT_EQ(elements->size(), 4u);
    EXPECT_EQ((*elements)[0], R"({"a": [1, "]"]})");
    EXPECT_EQ((*elements)[1], "12345678901234567890");
    EXPECT_EQ((*elements)[2], R"("x,y")");
    EXPECT_EQ((*elements)[3], "[]");
    EXPECT_TRUE(json_array_elements("[]")->empty());
    EXPECT_FALSE(json_array_elements("{}"));
    EXPECT_FALSE(json_array_elements("[1,]"));
    EXPECT_FALSE(json_array_elements("[1] [2]"));
}

TEST(JsonObjectMembers, DecodesStringLiterals)
{
    EXPECT_EQ(json_string_value(R"("a\"b\\c\n\u0041")"), "a\"b\\c\nA");
    EXPECT_EQ(json_string_value(R"("\ud83d\ude00")"), "\xF0\x9F\x98\x80");
    EXPECT_EQ(json_string_value(R"("\ud83d")"), "\xEF\xBF\xBD");  // a lone surrogate is not text
    EXPECT_FALSE(json_string_value("12"));
    EXPECT_FALSE(json_string_value("\"open"));
}

} // namespace
} // namespace sandhost::model
