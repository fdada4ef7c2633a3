// JSON text as it comes from users and tasks: payloads, request bodies and results are checked
// here, with the place of the first mistake, and carried on as JSON values where they are JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandhost::model {

// Where and why a text is not JSON. Lines and columns count from 1; a column counts bytes.
struct JsonSyntaxError {
    std::size_t offset = 0;
    int line = 1;
    int column = 1;
    std::string message;  // "expected ',' or '}' after an object member, got 'x'"

    std::string to_string() const;  // "line 1, column 5: MESSAGE"
};

// Deeper nesting than this is refused, whatever the parser behind would take.
inline constexpr int k_max_json_depth = 512;

// nullopt when `text` is exactly one JSON value (RFC 8259: any value, whitespace around it) in
// well-formed UTF-8; else the first mistake. Allocates nothing on success.
std::optional<JsonSyntaxError> json_syntax_error(std::string_view text);

// `text` without the whitespace between its tokens when it is one JSON value; else nullopt.
std::optional<std::string> compact_json(std::string_view text);

// `text` as a JSON value: itself, compacted, when it is one; else a JSON string holding it
// (bytes that are not UTF-8 replaced by U+FFFD). What a job's payload and result become in
// every JSON sandhost prints: a task's result need not be JSON.
std::string json_value_or_string(std::string_view text);

// The members of a JSON object, in the order written: each name decoded and the text of its
// value as written (a member named twice is listed twice). nullopt when `text` is not one JSON
// object. For taking a member's value (a payload) as the caller wrote it, digits and all.
std::optional<std::vector<std::pair<std::string, std::string_view>>> json_object_members(std::string_view text);

// The elements of a JSON array, each as written, in order; nullopt when `text` is not one JSON
// array.
std::optional<std::vector<std::string_view>> json_array_elements(std::string_view text);

// The text a JSON string literal (quotes included) stands for; nullopt when it is not one.
std::optional<std::string> json_string_value(std::string_view literal);

// Writes one JSON object member by member, in the order given. Names are written as they are
// (pass plain ASCII); text values are escaped, their bytes that are not UTF-8 replaced.
class JsonObject {
public:
    JsonObject& text(std::string_view name, std::string_view value);
    JsonObject& number(std::string_view name, std::int64_t value);
    JsonObject& number(std::string_view name, double value);  // not finite: null
    JsonObject& boolean(std::string_view name, bool value);
    JsonObject& null(std::string_view name);
    // `json` must be one JSON value (a nested object, an array, a checked payload).
    JsonObject& raw(std::string_view name, std::string_view json);
    // The object, closed.
    std::string str() const { return m_out + "}"; }

private:
    void name(std::string_view name);
    std::string m_out = "{";
};

} // namespace sandhost::model
