// Results of OS-facing calls: a value or a SysError that keeps errno, the failing call and the
// object it was applied to. Orchestration code above turns these into typed exceptions.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace sandhost::os {

struct SysError {
    std::error_code code;
    std::string call;    // the failing syscall or library function, e.g. "posix_spawn"
    std::string object;  // what it was applied to, e.g. a path or "pid 1234"

    // "posix_spawn(/usr/bin/x): No such file or directory"
    std::string message() const;

    // From the current errno, captured at the failing call.
    static SysError from_errno(std::string call, std::string object = {})
    {
        return SysError{std::error_code(errno, std::generic_category()), std::move(call), std::move(object)};
    }
    static SysError from_code(int err, std::string call, std::string object = {})
    {
        return SysError{std::error_code(err, std::generic_category()), std::move(call), std::move(object)};
    }
};

// A value or a SysError. Move-friendly; test with ok() before value().
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : m_state(std::move(value)) {}
    Result(SysError error) : m_state(std::move(error)) {}

    bool ok() const noexcept { return m_state.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { return std::get<0>(m_state); }
    T&& value() && { return std::get<0>(std::move(m_state)); }
    const T& value() const& { return std::get<0>(m_state); }
    const SysError& error() const { return std::get<1>(m_state); }

    T* operator->() { return &value(); }
    T& operator*() & { return value(); }

private:
    std::variant<T, SysError> m_state;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(SysError error) : m_error(std::move(error)), m_failed(true) {}

    bool ok() const noexcept { return !m_failed; }
    explicit operator bool() const noexcept { return ok(); }
    const SysError& error() const { return m_error; }

private:
    SysError m_error;
    bool m_failed = false;
};

using Status = Result<void>;

} // namespace sandhost::os
