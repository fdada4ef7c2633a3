// Checking that text is JSON, and saying where it is not: the front doors (the CLI's
// --payload, the HTTP API's bodies) point a person at the mistake.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sandhost::model {

struct JsonProblem {
    std::size_t line = 1;    // 1-based
    std::size_t column = 1;  // 1-based, in bytes
    std::string message;     // what was expected, what was found

    // "line 1, column 5: MESSAGE"
    std::string describe() const;
};

// nullopt when `text` is exactly one JSON value (RFC 8259, white space around it allowed),
// else where and why it is not. Linear in the size of the text; builds no document.
std::optional<JsonProblem> json_problem(std::string_view text);

} // namespace sandhost::model
