// Every attempt's private folder (its TMPDIR, and its working folder by default): created
// before the attempt, 0700 and owned by the worker's user, removed after the worker and what it
// started are gone. They live in one folder per sandbox under the system's temporary folder,
// named after the process (pid and start time) that made it: a sandbox sweeps away the folders
// of processes that are gone (a host killed with -9 removes nothing itself).
#pragma once

#include "os/result.h"
#include "sandbox/worker_grant.h"

#include <filesystem>
#include <mutex>
#include <optional>
#include <set>

namespace sandhost::sandbox {

class AttemptFolders {
public:
    // Sweeps `temp` (default: the system's temporary folder) of what dead processes left;
    // creates nothing yet. Never throws: a folder that cannot be swept stays.
    explicit AttemptFolders(const std::filesystem::path& temp = {});
    // Removes the root and what is left in it. Every attempt must have ended.
    ~AttemptFolders();
    AttemptFolders(const AttemptFolders&) = delete;
    AttemptFolders& operator=(const AttemptFolders&) = delete;

    // Where the attempts' folders go: TEMP/sandhost-attempts.PID.START.N, absolute and
    // without symbolic links (a worker's mount namespace matches it against its mounts).
    const std::filesystem::path& root() const { return m_root; }

    // A new, empty folder for one attempt, 0700, owned by `owner` when set (which needs
    // CAP_CHOWN). Creates the root first (0711: workers of another user reach their own
    // folder by its name, and list none). Fails with the call and errno. Thread-safe.
    os::Result<std::filesystem::path> create(const std::optional<FolderOwner>& owner);

    // Removes an attempt's folder and everything in it (whatever its modes). What cannot be
    // removed now (a process that outlived its attempt still writing there) is tried again
    // by retry(). Thread-safe.
    void remove(const std::filesystem::path& folder);
    // Tries again to remove what remove() could not. Thread-safe.
    void retry();
    // The folders remove() could not remove yet.
    std::size_t left_over() const;

private:
    std::filesystem::path m_root;
    mutable std::mutex m_mutex;
    bool m_root_made = false;
    std::set<std::filesystem::path> m_left_over;
};

// Removes `path` and everything under it, making folders the owner may not enter or change
// enterable first. Nothing there: success.
os::Status remove_tree(const std::filesystem::path& path);

} // namespace sandhost::sandbox
