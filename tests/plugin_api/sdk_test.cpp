// The plugin SDK (libsandhost-sdk.a) through its C API: reading every kind of payload field,
// keys as names and as JSON Pointers, the messages a failure reports, and the text helpers.
#include "recording_services.h"

#include <sandhost/sdk.h>

#include <gtest/gtest.h>

#include <clocale>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

sh_payload_status_t read_double(const std::string& payload, const char* key, double* out)
{
    return sh_payload_double(payload.data(), payload.size(), key, out);
}

sh_payload_status_t read_integer(const std::string& payload, const char* key, long long* out)
{
    return sh_payload_integer(payload.data(), payload.size(), key, out);
}

std::optional<std::string> read_string(const std::string& payload, const char* key)
{
    char* text = nullptr;
    std::size_t size = 0;
    if (sh_payload_string(payload.data(), payload.size(), key, &text, &size) != SH_PAYLOAD_OK) return std::nullopt;
    std::string copy(text, size);
    std::free(text);
    return copy;
}

TEST(SdkPayload, ReadsStringsIntegersDoublesAndBooleans)
{
    const std::string payload = R"({"s": "caf\u00e9", "i": -42, "d": 2.5e3, "t": true, "f": false, "n": null})";
    EXPECT_EQ(read_string(payload, "s"), "caf\xc3\xa9");
    long long i = 0;
    EXPECT_EQ(read_integer(payload, "i", &i), SH_PAYLOAD_OK);
    EXPECT_EQ(i, -42);
    double d = 0;
    EXPECT_EQ(read_double(payload, "d", &d), SH_PAYLOAD_OK);
    EXPECT_EQ(d, 2500.0);
    EXPECT_EQ(read_double(payload, "i", &d), SH_PAYLOAD_OK) << "an integer is a number too";
    EXPECT_EQ(d, -42.0);
    int b = -1;
    EXPECT_EQ(sh_payload_boolean(payload.data(), payload.size(), "t", &b), SH_PAYLOAD_OK);
    EXPECT_EQ(b, 1);
    EXPECT_EQ(sh_payload_boolean(payload.data(), payload.size(), "f", &b), SH_PAYLOAD_OK);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(sh_payload_boolean(payload.data(), payload.size(), "n", &b), SH_PAYLOAD_WRONG_TYPE);
    EXPECT_EQ(read_double(payload, "s", &d), SH_PAYLOAD_WRONG_TYPE);
    EXPECT_EQ(read_integer(payload, "d", &i), SH_PAYLOAD_WRONG_TYPE);
    EXPECT_EQ(read_integer(payload, "missing", &i), SH_PAYLOAD_MISSING);
}

TEST(SdkPayload, NumbersOutOfRangeAreRefused)
{
    long long i = 0;
    EXPECT_EQ(read_integer(R"({"i": 9223372036854775807})", "i", &i), SH_PAYLOAD_OK);
    EXPECT_EQ(i, 9223372036854775807LL);
    EXPECT_EQ(read_integer(R"({"i": -9223372036854775808})", "i", &i), SH_PAYLOAD_OK);
    EXPECT_EQ(i, -9223372036854775807LL - 1);
    EXPECT_EQ(read_integer(R"({"i": 9223372036854775808})", "i", &i), SH_PAYLOAD_OUT_OF_RANGE);
    double d = 0;
    EXPECT_EQ(read_double(R"({"d": 1e400})", "d", &d), SH_PAYLOAD_OUT_OF_RANGE);
    EXPECT_EQ(read_double(R"({"d": 1e-400})", "d", &d), SH_PAYLOAD_OK) << "underflow is the nearest double";
    EXPECT_EQ(d, 0.0);
}

TEST(SdkPayload, DoublesDoNotDependOnTheLocale)
{
    // A plugin may switch to a locale whose decimal point is a comma; JSON's is not.
    const char* previous = std::setlocale(LC_NUMERIC, nullptr);
    const std::string saved = previous ? previous : "C";
    bool switched = false;
    for (const char* name : {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "C.UTF-8"}) {
        if (std::setlocale(LC_NUMERIC, name) && std::strcmp(std::localeconv()->decimal_point, ",") == 0) {
            switched = true;
            break;
        }
    }
    double d = 0;
    EXPECT_EQ(read_double(R"({"d": 0.25})", "d", &d), SH_PAYLOAD_OK);
    EXPECT_EQ(d, 0.25);
    char text[32];
    ASSERT_TRUE(sh_json_format_double(0.25, text, sizeof text));
    EXPECT_STREQ(text, "0.25");
    std::setlocale(LC_NUMERIC, saved.c_str());
    if (!switched) GTEST_SKIP() << "no locale with a decimal comma installed; checked in the C locale only";
}

TEST(SdkPayload, ReadsArraysOfNumbersIntegersAndStrings)
{
    const std::string payload = R"({"v": [1, 2.5, -3e1], "n": [1, 2, 3], "s": ["a", "", "\u00e9\n"], "e": [], "mixed": [1, "x"]})";
    double* values = nullptr;
    std::size_t count = 0;
    ASSERT_EQ(sh_payload_doubles(payload.data(), payload.size(), "v", &values, &count), SH_PAYLOAD_OK);
    ASSERT_EQ(count, 3u);
    EXPECT_EQ(values[0], 1.0);
    EXPECT_EQ(values[1], 2.5);
    EXPECT_EQ(values[2], -30.0);
    std::free(values);

    long long* integers = nullptr;
    ASSERT_EQ(sh_payload_integers(payload.data(), payload.size(), "n", &integers, &count), SH_PAYLOAD_OK);
    ASSERT_EQ(count, 3u);
    EXPECT_EQ(integers[2], 3);
    std::free(integers);
    EXPECT_EQ(sh_payload_integers(payload.data(), payload.size(), "v", &integers, &count), SH_PAYLOAD_WRONG_TYPE);
    EXPECT_EQ(integers, nullptr);
    EXPECT_EQ(count, 0u);

    char** strings = nullptr;
    ASSERT_EQ(sh_payload_strings(payload.data(), payload.size(), "s", &strings, &count), SH_PAYLOAD_OK);
    ASSERT_EQ(count, 3u);
    EXPECT_STREQ(strings[0], "a");
    EXPECT_STREQ(strings[1], "");
    EXPECT_STREQ(strings[2], "\xc3\xa9\n");
    EXPECT_EQ(strings[3], nullptr);
    std::free(strings);  // one allocation

    ASSERT_EQ(sh_payload_doubles(payload.data(), payload.size(), "e", &values, &count), SH_PAYLOAD_OK);
    EXPECT_EQ(count, 0u);
    EXPECT_EQ(values, nullptr);
    EXPECT_EQ(sh_payload_doubles(payload.data(), payload.size(), "mixed", &values, &count), SH_PAYLOAD_WRONG_TYPE);
    EXPECT_EQ(sh_payload_strings(payload.data(), payload.size(), "mixed", &strings, &count), SH_PAYLOAD_WRONG_TYPE);
    const std::string with_nul = R"({"s": ["a\u0000b"]})";
    EXPECT_EQ(sh_payload_strings(with_nul.data(), with_nul.size(), "s", &strings, &count), SH_PAYLOAD_WRONG_TYPE)
        << "a C string cannot hold a NUL byte";
    EXPECT_EQ(sh_payload_array_length(payload.data(), payload.size(), "mixed", &count), SH_PAYLOAD_OK);
    EXPECT_EQ(count, 2u);
}

TEST(SdkPayload, PointersReachIntoNestedObjectsAndArrays)
{
    const std::string payload =
        R"({"loan": {"principal": 1000, "terms": {"months": 12}}, "points": [{"x": 1}, {"x": 2.5}], "a/b": {"~c": 7}, "loan/principal": 3})";
    double d = 0;
    EXPECT_EQ(read_double(payload, "/loan/principal", &d), SH_PAYLOAD_OK);
    EXPECT_EQ(d, 1000.0);
    long long months = 0;
    EXPECT_EQ(read_integer(payload, "/loan/terms/months", &months), SH_PAYLOAD_OK);
    EXPECT_EQ(months, 12);
    EXPECT_EQ(read_double(payload, "/points/1/x", &d), SH_PAYLOAD_OK);
    EXPECT_EQ(d, 2.5);
    EXPECT_EQ(read_double(payload, "/points/2/x", &d), SH_PAYLOAD_MISSING);
    EXPECT_EQ(read_double(payload, "/points/01/x", &d), SH_PAYLOAD_MISSING) << "no leading zeros in an index";
    EXPECT_EQ(read_integer(payload, "/a~1b/~0c", &months), SH_PAYLOAD_OK) << "~1 is '/', ~0 is '~'";
    EXPECT_EQ(months, 7);
    EXPECT_EQ(read_integer(payload, "loan/principal", &months), SH_PAYLOAD_OK) << "without a leading '/', a key is a name";
    EXPECT_EQ(months, 3);
    EXPECT_EQ(read_double(payload, "/loan/principal/cents", &d), SH_PAYLOAD_MISSING);

    const char* object = nullptr;
    std::size_t object_size = 0;
    ASSERT_EQ(sh_payload_object(payload.data(), payload.size(), "loan", &object, &object_size), SH_PAYLOAD_OK);
    const std::string view(object, object_size);
    EXPECT_EQ(view, R"({"principal": 1000, "terms": {"months": 12}})");
    EXPECT_EQ(sh_payload_double(object, object_size, "principal", &d), SH_PAYLOAD_OK) << "a view is a payload in its own right";
    EXPECT_EQ(sh_payload_object(payload.data(), payload.size(), "points", &object, &object_size), SH_PAYLOAD_WRONG_TYPE);
}

TEST(SdkPayload, TheWholePayloadIsCheckedAndTheLastOccurrenceWins)
{
    long long i = 0;
    EXPECT_EQ(read_integer(R"({"i": 1, "i": 2})", "i", &i), SH_PAYLOAD_OK);
    EXPECT_EQ(i, 2);
    EXPECT_EQ(read_integer(R"({"i": 1, "j": [1,}})", "i", &i), SH_PAYLOAD_INVALID);
    EXPECT_EQ(read_integer(R"([1, 2])", "i", &i), SH_PAYLOAD_NOT_OBJECT);
    EXPECT_EQ(read_integer(R"({"\u0069": 5})", "i", &i), SH_PAYLOAD_OK) << "names are compared decoded";
    EXPECT_EQ(i, 5);
    std::string deep = "{\"a\":";
    for (int k = 0; k < SH_JSON_MAX_DEPTH + 1; ++k) deep += "[";
    for (int k = 0; k < SH_JSON_MAX_DEPTH + 1; ++k) deep += "]";
    deep += ", \"i\": 1}";
    EXPECT_EQ(read_integer(deep, "i", &i), SH_PAYLOAD_INVALID) << "nesting beyond the limit";
    const char* value = nullptr;
    sh_json_kind_t kind = SH_JSON_OTHER;
    std::size_t offset = 0;
    const std::string broken = R"({"i": tru})";
    EXPECT_EQ(sh_payload_find(broken.data(), broken.size(), "i", &value, &kind, &offset), SH_PAYLOAD_INVALID);
    EXPECT_EQ(offset, 6u);
}

TEST(SdkPayload, RequireReportsAPermanentMessageNamingTheField)
{
    struct Case {
        const char* payload;
        const char* key;
        const char* message;
    };
    const Case cases[] = {
        {"{", "x", "payload is not valid JSON"},
        {"[]", "x", "payload is not a JSON object"},
        {R"({"y": 1})", "x", "payload has no field \"x\""},
        {R"({"x": "1"})", "x", "payload field \"x\" is not a number"},
        {R"({"p": {"x": true}})", "/p/x", "payload field \"/p/x\" is not a number"},
        {R"({"x": 1e999})", "x", "payload field \"x\" is out of range"},
    };
    for (const Case& c : cases) {
        sh_context ctx;
        double d = 0;
        EXPECT_EQ(sh_payload_require_double(&k_recording_services, &ctx, c.payload, std::strlen(c.payload), c.key, &d), SH_STATUS_ERROR);
        EXPECT_EQ(ctx.error, c.message) << c.payload;
        EXPECT_EQ(ctx.retry, SH_RETRY_NEVER) << c.payload;
        EXPECT_FALSE(ctx.out_of_memory.has_value());
    }
    sh_context ctx;
    char** strings = nullptr;
    std::size_t count = 0;
    const std::string payload = R"({"s": [1]})";
    EXPECT_EQ(sh_payload_require_strings(&k_recording_services, &ctx, payload.data(), payload.size(), "s", &strings, &count), SH_STATUS_ERROR);
    EXPECT_EQ(ctx.error, "payload field \"s\" is not an array of strings without NUL bytes");
}

TEST(SdkPayload, RunningOutOfMemoryIsReportedAsSuchAndMayBeRetried)
{
    sh_context ctx;
    EXPECT_EQ(sh_payload_report(&k_recording_services, &ctx, SH_PAYLOAD_NO_MEMORY, "values", "an array"), SH_STATUS_ERROR);
    EXPECT_EQ(ctx.error, "out of memory reading payload field \"values\"");
    EXPECT_EQ(ctx.retry, SH_RETRY_ALLOWED);
    EXPECT_EQ(ctx.out_of_memory, std::optional<std::size_t>(0));
    sh_context direct;
    EXPECT_EQ(sh_error_out_of_memory(&k_recording_services, &direct, 4096, "copying"), SH_STATUS_ERROR);
    EXPECT_EQ(direct.error, "out of memory copying");
    EXPECT_EQ(direct.out_of_memory, std::optional<std::size_t>(4096));
}

TEST(SdkText, DoublesFormatAsTheShortestNumberThatReadsBack)
{
    char text[32];
    const std::pair<double, const char*> cases[] = {{2.5, "2.5"}, {0.1, "0.1"}, {100.0, "100"}, {-0.0, "-0"},
                                                    {1e300, "1e+300"}, {1.0 / 3.0, "0.3333333333333333"},
                                                    {1e16, "10000000000000000"}, {123456.0, "123456"}, {1.5e-7, "1.5e-07"}};
    for (const auto& [value, expected] : cases) {
        ASSERT_TRUE(sh_json_format_double(value, text, sizeof text));
        EXPECT_STREQ(text, expected);
    }
    EXPECT_FALSE(sh_json_format_double(std::nan(""), text, sizeof text));
    EXPECT_FALSE(sh_json_format_double(HUGE_VAL, text, sizeof text));
    sh_context ctx;
    EXPECT_EQ(sh_result_double(&k_recording_services, &ctx, 0.5), SH_STATUS_OK);
    EXPECT_EQ(ctx.result, "0.5");
}

TEST(SdkText, QuoteAndFormat)
{
    char* quoted = sh_json_quote("a\"b\\\n\x01\xff", 7);
    ASSERT_NE(quoted, nullptr);
    EXPECT_STREQ(quoted, "\"a\\\"b\\\\\\n\\u0001\\ufffd\"");
    std::free(quoted);
    char* text = sh_format("%d-%s", 7, "x");
    EXPECT_STREQ(text, "7-x");
    std::free(text);
    EXPECT_STREQ(sh_sdk_version(), "1.0.0");
}

} // namespace
