// Control groups (Linux): where this process's groups are, and one group's files. Version 2
// (one unified tree) and version 1 (a tree per controller: memory, pids, cpuacct, freezer) are
// both read and written here; what to do with a group is the sandbox's business. Every call
// that touches the kernel returns a Result whose SysError names the file.
#pragma once

#include "os/result.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace sandhost::os {

enum class CgroupVersion { v1, v2 };

// One line of /proc/PID/cgroup: "ID:CONTROLLERS:PATH" (v2: "0::PATH").
struct CgroupMembership {
    int hierarchy = 0;
    std::vector<std::string> controllers;  // empty for v2; "name=systemd" kept as written
    std::string path;                      // inside the hierarchy, starting with '/'
};
// Malformed lines are skipped.
std::vector<CgroupMembership> parse_proc_cgroup(std::string_view text);

// A mounted cgroup file system, from /proc/self/mountinfo.
struct CgroupMount {
    CgroupVersion version = CgroupVersion::v1;
    std::filesystem::path mount_point;
    std::string root;                      // the part of the hierarchy mounted there ("/" usually)
    std::vector<std::string> controllers;  // v1: from the super options (memory, pids, ...)
};
// Only "cgroup" and "cgroup2" file systems; malformed lines are skipped.
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo);

// The folder of this process's own group for a v1 controller ("memory") or, with an empty
// controller, of its v2 group: mount point + (membership path - mount root). nullopt when the
// controller is not mounted or the group is not visible in the mount.
std::optional<std::filesystem::path> own_group_folder(const std::vector<CgroupMembership>& memberships,
                                                      const std::vector<CgroupMount>& mounts, std::string_view controller);

// Counters of a v1 memory.oom_control, a v2 memory.events or a pids.events file: the value of
// the line that starts with `key` ("oom_kill", "max"); 0 when absent.
std::uint64_t counter_in(std::string_view text, std::string_view key);

// The pids listed in a cgroup.procs file.
std::vector<pid_t> parse_pids(std::string_view text);

// Reads a small file whole.
Result<std::string> read_text_file(const std::filesystem::path& path);
// Reads an open file whole from its start, whatever its offset (pread: a cgroup file is
// generated afresh on each read from the start). `path` names it in an error.
Result<std::string> read_from_start(int fd, std::string_view path);
// Writes `text` to an existing kernel file in one write() (a cgroup file takes one value per
// write): open for writing without creating, write, close.
Status write_kernel_file(const std::filesystem::path& path, std::string_view text);

// The files of one group, in either version: one folder (v2) or one per controller (v1).
// Holds paths only; the folders are made and removed by make() and remove().
class CgroupFolders {
public:
    struct Folder {
        std::string controller;  // "memory", "pids", "cpuacct", "freezer"; "" for v2's one folder
        std::filesystem::path path;
    };

    CgroupFolders() = default;
    CgroupFolders(CgroupVersion version, std::vector<Folder> folders) : m_version(version), m_folders(std::move(folders)) {}

    CgroupVersion version() const { return m_version; }
    const std::vector<Folder>& folders() const { return m_folders; }
    // The folder that holds `controller`'s files (v2: the one folder); nullopt when absent.
    std::optional<std::filesystem::path> folder_of(std::string_view controller) const;

    // Creates every folder (an existing one is fine).
    Status make() const;
    // Removes every folder (rmdir: the group must be empty). A folder already gone is fine.
    Status remove() const;
    // Moves process `pid` (0: the caller) into the group: its pid written to each cgroup.procs.
    Status add(pid_t pid) const;
    // The processes in the group, as its first folder lists them: add() puts a process in
    // every folder, and a process it forks is in all of its parent's.
    Result<std::vector<pid_t>> processes() const;
    // Kills every process in the group and waits, up to `patience`, until it is empty: v2's
    // cgroup.kill where the kernel has it, else freeze (when a freezer is there), SIGKILL
    // each listed process, thaw, and again while any is left. Killed processes that are
    // still to be reaped by their parent have left the group. Fails when some remain.
    Status kill_all(std::chrono::milliseconds patience) const;

private:
    Status write_each(std::string_view file, std::string_view text) const;

    CgroupVersion m_version = CgroupVersion::v2;
    std::vector<Folder> m_folders;
};

} // namespace sandhost::os
