// What the host tells a worker it is granted: model::Privileges resolved on this machine
// (users and groups to numbers, capability names to a mask, the syscall lists) into the
// worker's arguments, and the environment it starts with.
#pragma once

#include "model/privileges.h"
#include "os/result.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sandhost::sandbox {

// The job a spawned worker runs, for its environment (SANDHOST_JOB_ID, SANDHOST_ATTEMPT,
// SANDHOST_QUEUE); fork servers and reused workers serve many jobs and get none.
struct JobIdentity {
    std::int64_t job_id = 0;
    std::uint32_t attempt = 0;
    std::string queue;
};

struct WorkerGrant {
    std::vector<std::string> args;         // appended to the worker's command line
    std::vector<std::string> environment;  // NAME=VALUE, all of it
};

// Resolves `privileges` (reading the user and group databases and this process's
// environment). What the databases said of a name found in them is used again for 10
// seconds. `attempts_root` is the folder that holds the attempts' private folders (see
// attempt_folders.h; empty: none), kept writable under filesystem.read_only. Fails with
// ENOENT (call getpwnam or getgrnam) for a user or group this machine does not know, and with
// EINVAL (call filesystem.hide) for a hidden path that holds the attempts' folders.
os::Result<WorkerGrant> grant_for(const model::Privileges& privileges, const JobIdentity* job,
                                  const std::filesystem::path& attempts_root = {});

// Who owns an attempt's private folder: the worker's `user` (and `group`, or the user's
// primary group); nullopt when the worker runs as the host's user. Fails as grant_for does
// for an unknown user or group.
struct FolderOwner {
    uid_t uid = 0;
    gid_t gid = 0;
    bool operator==(const FolderOwner&) const = default;
};
os::Result<std::optional<FolderOwner>> folder_owner(const model::Privileges& privileges);

// How many times this process asked the user and group databases for a name, for tests.
std::uint64_t user_database_lookups();

} // namespace sandhost::sandbox
