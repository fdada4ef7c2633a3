// HostError: the host itself could not do its part of an attempt (no descriptors left, no
// memory, too many processes, a poll that failed). Not the job's fault: the sandbox throws it
// instead of charging the job an outcome, and the caller puts the job back and backs off.
// Everything a task or a worker does is an Outcome instead, never an exception.
#pragma once

#include "os/result.h"

#include <stdexcept>

namespace sandhost::sandbox {

class HostError : public std::runtime_error {
public:
    explicit HostError(os::SysError error) : std::runtime_error(error.message()), m_error(std::move(error)) {}
    const os::SysError& error() const noexcept { return m_error; }

private:
    os::SysError m_error;
};

// Whether a failure is the host running short of something (EMFILE, ENFILE, EAGAIN, ENOMEM):
// the caller should wait and try again, not blame the job.
bool is_resource_shortage(const os::SysError& error);

// Throws HostError for a resource shortage; returns otherwise.
void throw_if_shortage(const os::SysError& error);

} // namespace sandhost::sandbox
