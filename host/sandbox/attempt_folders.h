// Every attempt's private folder (its TMPDIR, and its working folder by default): empty, 0700
// and owned by the worker's user when the attempt starts, taken back after the worker and what
// it started are gone. A folder the attempt left empty, with its mode and owner unchanged, is
// kept for a later attempt of the same owner (making and removing one costs journal writes on
// a disk-backed /tmp, more than a forked job); any other is removed. No two attempts hold one
// folder at once. They live in one folder per sandbox under the system's temporary folder,
// named after the process (pid and start time) that made it: a sandbox sweeps away the folders
// of processes that are gone (a host killed with -9 removes nothing itself).
#pragma once

#include "os/result.h"
#include "sandbox/worker_grant.h"

#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <unistd.h>
#include <vector>

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

    // An empty folder for one attempt, 0700, owned by `owner` when set (which needs
    // CAP_CHOWN): one given back empty by an earlier attempt of the same owner, or a new one.
    // Creates the root first (0711: workers of another user reach their own folder by its
    // name, and list none). Fails with the call and errno. Thread-safe.
    os::Result<std::filesystem::path> create(const std::optional<FolderOwner>& owner);

    // Empties a folder made by create() for its next attempt (a reused worker's next job),
    // whatever modes the task gave what it left there, and gives it back mode 0700. Fails with
    // the call and errno; then remove() it. Thread-safe.
    os::Status empty(const std::filesystem::path& folder);

    // Removes an attempt's folder and everything in it (whatever its modes). What cannot be
    // removed now (a process that outlived its attempt still writing there) is tried again
    // by remove_pending(). Thread-safe.
    void remove(const std::filesystem::path& folder);
    // Takes back an attempt's folder, made by create() for `owner`, at once when the attempt
    // left it as it was handed out (an open, a stat and a read of a folder just used, which
    // finds it in the kernel's caches): kept for create(), true. False when it was not kept
    // (changed, or k_kept are kept already): queue it with remove_later(). Thread-safe.
    bool keep_if_unchanged(const std::filesystem::path& folder, const std::optional<FolderOwner>& owner);
    // Queues an attempt's folder, made by create() for `owner`, for remove_pending(), for a
    // caller that must not wait for the disk. True when the queue was empty: the caller is to
    // have remove_pending() run (else that is asked already). Thread-safe.
    bool remove_later(const std::filesystem::path& folder, const std::optional<FolderOwner>& owner);
    // Takes back what remove_later() queued: a folder left empty, 0700 and owned by its owner
    // is kept for create() (up to k_kept of them), any other removed; tries again what remove()
    // could not. Thread-safe.
    void remove_pending();
    // The folders queued or not removed yet.
    std::size_t left_over() const;
    // The empty folders kept for the next attempts.
    std::size_t kept() const;

    static constexpr std::size_t k_kept = 32;

private:
    std::filesystem::path m_root;
    // Who owns a folder made for no other user: this process's effective user and group,
    // which a host never changes.
    const FolderOwner m_host_owner{::geteuid(), ::getegid()};
    mutable std::mutex m_mutex;
    bool m_root_made = false;
    struct Queued {
        std::filesystem::path folder;
        std::optional<FolderOwner> owner;  // nullopt: removed, never kept
        bool operator<(const Queued& other) const { return folder < other.folder; }
    };
    // Whether `folder` is as create() hands it out: a folder (not a link), owned by `owner`,
    // mode 0700, empty. Never when `owner` is nullopt (a folder queued to be removed).
    static bool reusable(const std::filesystem::path& folder, const std::optional<FolderOwner>& owner);

    std::set<Queued> m_left_over;  // queued, or failed once
    std::size_t m_taking_back = 0; // taken from m_left_over by a remove_pending() still at work
    std::vector<Queued> m_kept;    // empty, ready for create()
};

// Removes `path` and everything under it, making folders the owner may not enter or change
// enterable first. Nothing there: success.
os::Status remove_tree(const std::filesystem::path& path);

} // namespace sandhost::sandbox
