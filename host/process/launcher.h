// How a worker process is started. One interface, one implementation per platform API: the
// portable Poco::Process one and, on Linux, a posix_spawn one that neither forks the host's
// address space nor closes descriptors one by one.
#pragma once

#include "os/result.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sandhost::process {

struct LaunchRequest {
    std::filesystem::path executable;
    std::vector<std::string> args;  // argv[1..]; the launcher prepends "--channel-fd N" (and what it guarantees)
    int channel_fd = -1;            // the child's end of the channel socket
    int stdout_fd = -1;             // write end of the stdout capture pipe
    int stderr_fd = -1;             // write end of the stderr capture pipe
    // NAME=VALUE: the child's whole environment; unset: the host's.
    std::optional<std::vector<std::string>> environment;
};

enum class LauncherKind { poco, posix_spawn };

class Launcher {
public:
    virtual ~Launcher() = default;
    // Starts the process. On success the child runs the executable with stdin on /dev/null or
    // on the channel, stdout and stderr on the given pipes, in its own process group where
    // the API allows (the worker makes sure of it either way). Failure carries errno.
    // Not thread-safe: the Spawner calls it from its one launch thread.
    virtual os::Result<pid_t> launch(const LaunchRequest& request) = 0;
    virtual LauncherKind kind() const = 0;
};

std::unique_ptr<Launcher> make_launcher(LauncherKind kind);
const char* to_string(LauncherKind kind);

} // namespace sandhost::process
