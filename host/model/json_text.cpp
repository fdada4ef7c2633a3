#include "model/json_text.h"

#include "model/text.h"

#include <charconv>
#include <cmath>

namespace sandhost::model {
namespace {

// A recursive descent over one JSON text that stops at the first mistake.
class Checker {
public:
    explicit Checker(std::string_view text) : m_text(text) {}

    std::optional<JsonSyntaxError> run()
    {
        if (const std::size_t valid = valid_utf8_prefix(m_text); valid < m_text.size()) {
            m_at = valid;
            fail("the text is not valid UTF-8");
            return m_error;
        }
        skip_space();
        if (!value(0)) return m_error;
        skip_space();
        if (m_at < m_text.size()) fail("unexpected " + seen() + " after the JSON value");
        return m_error;
    }

private:
    bool value(int depth)
    {
        if (m_at >= m_text.size()) return fail("expected a JSON value, got the end of the text");
        switch (m_text[m_at]) {
        case '{': return object(depth + 1);
        case '[': return array(depth + 1);
        case '"': return string();
        case 't': return literal("true");
        case 'f': return literal("false");
        case 'n': return literal("null");
        default:
            if (m_text[m_at] == '-' || is_digit(m_text[m_at])) return number();
            return fail("expected a JSON value, got " + seen());
        }
    }

    bool object(int depth)
    {
        if (depth > k_max_json_depth) return fail("nested deeper than " + std::to_string(k_max_json_depth) + " levels");
        ++m_at;
        skip_space();
        if (peek('}')) return ++m_at, true;
        for (;;) {
            if (!peek('"')) return fail("expected a member name in double quotes, got " + seen());
            if (!string()) return false;
            skip_space();
            if (!peek(':')) return fail("expected ':' after a member name, got " + seen());
            ++m_at;
            skip_space();
            if (!value(depth)) return false;
            skip_space();
            if (peek('}')) return ++m_at, true;
            if (!peek(',')) return fail("expected ',' or '}' after an object member, got " + seen());
            ++m_at;
            skip_space();
        }
    }

    bool array(int depth)
    {
        if (depth > k_max_json_depth) return fail("nested deeper than " + std::to_string(k_max_json_depth) + " levels");
        ++m_at;
        skip_space();
        if (peek(']')) return ++m_at, true;
        for (;;) {
            if (!value(depth)) return false;
            skip_space();
            if (peek(']')) return ++m_at, true;
            if (!peek(',')) return fail("expected ',' or ']' after an array element, got " + seen());
            ++m_at;
            skip_space();
        }
    }

    bool string()
    {
        ++m_at;  // the opening quote
        while (m_at < m_text.size()) {
            const unsigned char c = static_cast<unsigned char>(m_text[m_at]);
            if (c == '"') return ++m_at, true;
            if (c < 0x20) return fail("a control character must be escaped inside a string");
            if (c != '\\') {
                ++m_at;
                continue;
            }
            ++m_at;
            if (m_at >= m_text.size()) break;
            const char e = m_text[m_at];
            if (e == 'u') {
                for (int i = 1; i <= 4; ++i) {
                    if (m_at + static_cast<std::size_t>(i) >= m_text.size() || !is_hex(m_text[m_at + static_cast<std::size_t>(i)])) {
                        m_at += static_cast<std::size_t>(i);
                        return fail("expected four hexadecimal digits after \\u");
                    }
                }
                m_at += 5;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                ++m_at;
            } else {
                return fail(std::string("unknown escape \\") + printable(std::string_view(&m_text[m_at], 1)) + " in a string");
            }
        }
        return fail("the string is not closed");
    }

    bool number()
    {
        if (peek('-')) ++m_at;
        if (m_at >= m_text.size() || !is_digit(m_text[m_at])) return fail("expected a digit, got " + seen());
        if (m_text[m_at] == '0') {
            ++m_at;
            if (m_at < m_text.size() && is_digit(m_text[m_at])) return fail("a number must not start with 0");
        } else {
            digits();
        }
        if (peek('.')) {
            ++m_at;
            if (m_at >= m_text.size() || !is_digit(m_text[m_at])) return fail("expected a digit after '.', got " + seen());
            digits();
        }
        if (peek('e') || peek('E')) {
            ++m_at;
            if (peek('+') || peek('-')) ++m_at;
            if (m_at >= m_text.size() || !is_digit(m_text[m_at])) return fail("expected a digit in the exponent, got " + seen());
            digits();
        }
        return true;
    }

    bool literal(std::string_view word)
    {
        if (m_text.substr(m_at, word.size()) != word) return fail("expected a JSON value, got " + seen());
        m_at += word.size();
        return true;
    }

    void digits()
    {
        while (m_at < m_text.size() && is_digit(m_text[m_at])) ++m_at;
    }
    void skip_space()
    {
        while (m_at < m_text.size() && (m_text[m_at] == ' ' || m_text[m_at] == '\t' || m_text[m_at] == '\n' || m_text[m_at] == '\r')) ++m_at;
    }
    bool peek(char c) const { return m_at < m_text.size() && m_text[m_at] == c; }
    static bool is_digit(char c) { return c >= '0' && c <= '9'; }
    static bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

    // What stands at the current position, for messages.
    std::string seen() const
    {
        if (m_at >= m_text.size()) return "the end of the text";
        std::size_t length = 1;
        const unsigned char c = static_cast<unsigned char>(m_text[m_at]);
        if (c >= 0xF0) length = 4;
        else if (c >= 0xE0) length = 3;
        else if (c >= 0xC0) length = 2;
        return "'" + printable(m_text.substr(m_at, length)) + "'";
    }

    bool fail(std::string message)
    {
        JsonSyntaxError error;
        error.offset = m_at;
        error.message = std::move(message);
        for (std::size_t i = 0; i < m_at && i < m_text.size(); ++i) {
            if (m_text[i] == '\n') {
                ++error.line;
                error.column = 1;
            } else {
                ++error.column;
            }
        }
        m_error = std::move(error);
        return false;
    }

    std::string_view m_text;
    std::size_t m_at = 0;
    std::optional<JsonSyntaxError> m_error;
};

} // namespace

std::string JsonSyntaxError::to_string() const
{
    return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + message;
}

std::optional<JsonSyntaxError> json_syntax_error(std::string_view text) { return Checker(text).run(); }

std::optional<std::string> compact_json(std::string_view text)
{
    if (json_syntax_error(text)) return std::nullopt;
    std::string out;
    out.reserve(text.size());
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            out += c;
            if (c == '\\') out += text[++i];
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
            out += c;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            out += c;
        }
    }
    return out;
}

namespace {

std::size_t skip_space(std::string_view text, std::size_t at)
{
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r')) ++at;
    return at;
}

// Past the string literal that starts at `at`.
std::size_t skip_string(std::string_view text, std::size_t at)
{
    for (++at; at < text.size() && text[at] != '"'; ++at) {
        if (text[at] == '\\') ++at;
    }
    return at + 1;
}

// Past the value that starts at `at`, in text known to be valid JSON.
std::size_t skip_value(std::string_view text, std::size_t at)
{
    if (text[at] == '"') return skip_string(text, at);
    if (text[at] != '{' && text[at] != '[') {
        while (at < text.size() && text[at] != ',' && text[at] != '}' && text[at] != ']' && text[at] != ' ' &&
               text[at] != '\t' && text[at] != '\n' && text[at] != '\r') {
            ++at;
        }
        return at;
    }
    int depth = 0;
    while (at < text.size()) {
        const char c = text[at];
        if (c == '"') {
            at = skip_string(text, at);
            continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') --depth;
        ++at;
        if (depth == 0) break;
    }
    return at;
}

void append_utf8(std::string& out, std::uint32_t code_point)
{
    if (code_point < 0x80) {
        out += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
        out += static_cast<char>(0xC0 | (code_point >> 6));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else if (code_point < 0x10000) {
        out += static_cast<char>(0xE0 | (code_point >> 12));
        out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code_point >> 18));
        out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    }
}

} // namespace

std::optional<std::vector<std::pair<std::string, std::string_view>>> json_object_members(std::string_view text)
{
    if (json_syntax_error(text)) return std::nullopt;
    std::size_t at = skip_space(text, 0);
    if (text[at] != '{') return std::nullopt;
    std::vector<std::pair<std::string, std::string_view>> members;
    at = skip_space(text, at + 1);
    while (text[at] != '}') {
        const std::size_t name_end = skip_string(text, at);
        auto name = json_string_value(text.substr(at, name_end - at));
        at = skip_space(text, skip_space(text, name_end) + 1);  // past the ':'
        const std::size_t value_end = skip_value(text, at);
        members.emplace_back(name.value_or(""), text.substr(at, value_end - at));
        at = skip_space(text, value_end);
        if (text[at] == ',') at = skip_space(text, at + 1);
    }
    return members;
}

std::optional<std::vector<std::string_view>> json_array_elements(std::string_view text)
{
    if (json_syntax_error(text)) return std::nullopt;
    std::size_t at = skip_space(text, 0);
    if (text[at] != '[') return std::nullopt;
    std::vector<std::string_view> elements;
    at = skip_space(text, at + 1);
    while (text[at] != ']') {
        const std::size_t value_end = skip_value(text, at);
        elements.push_back(text.substr(at, value_end - at));
        at = skip_space(text, value_end);
        if (text[at] == ',') at = skip_space(text, at + 1);
    }
    return elements;
}

std::optional<std::string> json_string_value(std::string_view literal)
{
    if (literal.size() < 2 || literal.front() != '"' || json_syntax_error(literal)) return std::nullopt;
    std::string out;
    const auto hex4 = [&](std::size_t at) {
        std::uint32_t value = 0;
        for (std::size_t i = at; i < at + 4; ++i) {
            const char c = literal[i];
            value = value * 16 + static_cast<std::uint32_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        return value;
    };
    for (std::size_t i = 1; i + 1 < literal.size(); ++i) {
        if (literal[i] != '\\') {
            out += literal[i];
            continue;
        }
        const char e = literal[++i];
        switch (e) {
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
            std::uint32_t code_point = hex4(i + 1);
            i += 4;
            // A surrogate pair is one code point; a lone surrogate is not text.
            if (code_point >= 0xD800 && code_point <= 0xDBFF && i + 6 < literal.size() && literal[i + 1] == '\\' &&
                literal[i + 2] == 'u') {
                const std::uint32_t low = hex4(i + 3);
                if (low >= 0xDC00 && low <= 0xDFFF) {
                    code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                }
            }
            append_utf8(out, code_point >= 0xD800 && code_point <= 0xDFFF ? 0xFFFD : code_point);
            break;
        }
        default: out += e;  // " \ /
        }
    }
    return out;
}

std::string json_value_or_string(std::string_view text)
{
    if (auto compact = compact_json(text)) return std::move(*compact);
    return json_string(valid_utf8(text));
}

void JsonObject::name(std::string_view name)
{
    if (m_out.size() > 1) m_out += ',';
    m_out += '"';
    m_out += name;
    m_out += "\":";
}

JsonObject& JsonObject::text(std::string_view name, std::string_view value)
{
    this->name(name);
    if (is_valid_utf8(value)) append_json_string(m_out, value);
    else append_json_string(m_out, valid_utf8(value));
    return *this;
}

JsonObject& JsonObject::number(std::string_view name, std::int64_t value)
{
    this->name(name);
    m_out += std::to_string(value);
    return *this;
}

JsonObject& JsonObject::number(std::string_view name, double value)
{
    this->name(name);
    char text[32];
    const auto [end, ec] = std::to_chars(text, text + sizeof text, value);
    if (!std::isfinite(value) || ec != std::errc()) m_out += "null";
    else m_out.append(text, end);
    return *this;
}

JsonObject& JsonObject::boolean(std::string_view name, bool value)
{
    this->name(name);
    m_out += value ? "true" : "false";
    return *this;
}

JsonObject& JsonObject::null(std::string_view name)
{
    this->name(name);
    m_out += "null";
    return *this;
}

JsonObject& JsonObject::raw(std::string_view name, std::string_view json)
{
    this->name(name);
    m_out += json;
    return *this;
}

} // namespace sandhost::model
