// Whether a system call name is one this machine's kernel has (as libseccomp knows them), for
// the configuration's `syscalls:` lists and the command line's flags.
#pragma once

#include <string>

namespace sandhost::config {

bool is_syscall_name(const std::string& name);

} // namespace sandhost::config
