#include "sandbox/host_error.h"

#include <cerrno>

namespace sandhost::sandbox {

bool is_resource_shortage(const os::SysError& error)
{
    const int code = error.code.value();
    return error.code.category() == std::generic_category() && (code == EMFILE || code == ENFILE || code == EAGAIN || code == ENOMEM);
}

void throw_if_shortage(const os::SysError& error)
{
    if (is_resource_shortage(error)) throw HostError(error);
}

} // namespace sandhost::sandbox
