#include "os/unique_fd.h"

#include <unistd.h>

namespace sandhost::os {

void UniqueFd::reset(int fd) noexcept
{
    if (m_fd >= 0 && m_fd != fd) ::close(m_fd);
    m_fd = fd;
}

} // namespace sandhost::os
