#include "model/json_check.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace sandhost::model {
namespace {

// Accepts every value and records the first error; nlohmann's own SAX parser does the rest.
class Checker final : public nlohmann::json_sax<nlohmann::json> {
public:
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& error) override
    {
        m_position = position;
        m_what = error.what();
        return false;
    }

    std::optional<std::size_t> position() const { return m_position; }
    const std::string& what() const { return m_what; }

private:
    std::optional<std::size_t> m_position;
    std::string m_what;
};

// nlohmann's message without its "[json.exception...] parse error at line L, column C: " prefix
// (the position is computed here, in this text's own terms).
std::string reason(const std::string& what)
{
    const auto colon = what.find(": ");
    return colon == std::string::npos ? what : what.substr(colon + 2);
}

} // namespace

std::string JsonProblem::describe() const
{
    return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + message;
}

std::optional<JsonProblem> json_problem(std::string_view text)
{
    Checker checker;
    if (nlohmann::json::sax_parse(text.begin(), text.end(), &checker)) return std::nullopt;
    JsonProblem problem;
    problem.message = reason(checker.what());
    // The position nlohmann gives is the count of bytes read, the offending one included.
    const std::size_t at = std::min(checker.position().value_or(text.size()), text.size());
    const std::size_t offset = at > 0 ? at - 1 : 0;
    for (std::size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++problem.line;
            problem.column = 1;
        } else {
            ++problem.column;
        }
    }
    return problem;
}

} // namespace sandhost::model
