// Whether folders may have changed since they were last seen: an inotify watch per folder on
// everything that can put something in it or change its mode (an entry made, moved or linked in;
// its own attributes or an entry's; the folder itself moved or removed). Asking costs one read
// of the shared inotify descriptor instead of opening and listing the folder. Without inotify,
// out of watches, or after the kernel dropped events (its queue overflowed), every folder may
// have changed, which is always a safe answer.
#pragma once

#include "os/unique_fd.h"

#include <filesystem>
#include <mutex>
#include <optional>
#include <set>

namespace sandhost::os {

class FolderWatch {
public:
    FolderWatch() = default;
    FolderWatch(const FolderWatch&) = delete;
    FolderWatch& operator=(const FolderWatch&) = delete;

    // Starts watching `folder`, as it is now (a directory, not a link). nullopt when it cannot
    // be watched; the caller then looks at the folder itself. The inotify descriptor is made
    // by the first call. Thread-safe.
    std::optional<int> watch(const std::filesystem::path& folder);
    // False when anything may have changed in the folder of `watch` since watch() or since the
    // last call that returned false: the caller looks at the folder itself then, and what
    // changes after this call is reported by the next one. Thread-safe.
    bool unchanged(int watch);
    // Stops watching (the folder is about to be removed). Thread-safe.
    void forget(int watch);

private:
    // Takes in every event queued. Caller holds m_mutex.
    void take_events();

    std::mutex m_mutex;
    UniqueFd m_inotify;
    bool m_unavailable = false;  // inotify_init1 failed once: no watches
    std::set<int> m_watched;
    std::set<int> m_changed;  // watched, and changed since last asked
};

} // namespace sandhost::os
