// UniqueFd: the one owner of a file descriptor. Move-only; closes on destruction.
#pragma once

#include <utility>

namespace sandhost::os {

class UniqueFd {
public:
    UniqueFd() noexcept = default;
    explicit UniqueFd(int fd) noexcept : m_fd(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : m_fd(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept
    {
        if (this != &other) reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return m_fd; }
    bool valid() const noexcept { return m_fd >= 0; }
    explicit operator bool() const noexcept { return valid(); }

    // Gives up ownership without closing.
    int release() noexcept { return std::exchange(m_fd, -1); }
    // Closes the held descriptor (errors are ignored: nothing useful can be done with them
    // for the pipes and sockets we own) and takes fd.
    void reset(int fd = -1) noexcept;

private:
    int m_fd = -1;
};

} // namespace sandhost::os
