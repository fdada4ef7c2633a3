// The outcome of parsing one value: the value, or a sentence saying what is wrong with the text.
// The config loader adds the position; callers outside config (CLI flags) add their own context.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace sandhost::model {

template <class T>
class ParseResult {
public:
    static ParseResult success(T value)
    {
        ParseResult r;
        r.m_value = std::move(value);
        return r;
    }
    static ParseResult failure(std::string why)
    {
        ParseResult r;
        r.m_error = std::move(why);
        return r;
    }

    explicit operator bool() const { return m_value.has_value(); }
    // Only when the parse succeeded.
    const T& value() const& { return *m_value; }
    T&& value() && { return std::move(*m_value); }
    // Only when the parse failed: quotes the offending text.
    const std::string& error() const { return m_error; }

private:
    ParseResult() = default;

    std::optional<T> m_value;
    std::string m_error;
};

} // namespace sandhost::model
