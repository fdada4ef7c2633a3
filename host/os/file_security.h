// Whether a file someone else could replace is about to be trusted: a plugin library, or the
// folder it sits in, that users other than its owner and root may write; and which file a path
// names right now, so that a library replaced on disk is told from the one loaded before.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>

namespace sandhost::os {

// Which file a path names: its device, inode, size and modification time. A library installed
// by renaming a new file over the old one, or written over in place, is another file. All zero
// when the path names nothing that can be examined.
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const FileIdentity&) const = default;
    static FileIdentity of(const std::filesystem::path& path);
};

// Whether `now` is `before` written over in place: the same file (device and inode) with another
// size or modification time. A process that has it mapped reads the new bytes where it expects
// the old ones (or gets SIGBUS past a shorter end).
bool written_in_place(const FileIdentity& before, const FileIdentity& now);

// What a look at a library before it is loaded finds: whether to trust it, and which file it is.
struct LibraryCheck {
    // Why it must not be trusted (as writable_by_others says), or nullopt.
    std::optional<std::string> unsafe;
    FileIdentity file;
};

// One look at `library` and its folder (two stat calls, nothing allocated unless the answer is
// a refusal): runs before every attempt.
LibraryCheck check_library(const std::filesystem::path& library);

// Why `library` must not be trusted: "PATH is writable by others (mode 0777)" for the file
// itself or its folder (not the folders above); nullopt when neither is writable by anyone but
// its owner and root (group root may write). A file that cannot be examined is not reported:
// loading it fails on its own.
std::optional<std::string> writable_by_others(const std::filesystem::path& library);

} // namespace sandhost::os
