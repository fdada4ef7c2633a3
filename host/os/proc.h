// Reading processes from /proc (Linux): children, descendants, memory. Readers return empty
// or nullopt for a process that is gone: processes vanish between any two calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sandhost::os {

// Direct children of pid (all its threads), from /proc/PID/task/*/children.
std::vector<pid_t> children_of(pid_t pid);

// Children of one thread of a process (one file read: cheaper than children_of).
std::vector<pid_t> children_of_thread(pid_t pid, pid_t tid);

// Every descendant of pid, breadth first, pid itself excluded.
std::vector<pid_t> descendants_of(pid_t pid);

struct MemorySample {
    std::uint64_t size_kb = 0;  // virtual size
    std::uint64_t rss_kb = 0;   // resident
};
std::optional<MemorySample> read_memory(pid_t pid);

// The peak resident size of pid's current address space (VmHWM), in KiB. Unlike getrusage's
// ru_maxrss it does not count the address space the process had before its last exec (for a
// posix_spawn child: its parent's).
std::optional<std::uint64_t> read_peak_rss_kb(pid_t pid);

// Sets this process's peak resident size (VmHWM, and so getrusage's ru_maxrss) back to its
// resident size now (/proc/self/clear_refs). A child started with posix_spawn inherits the
// peak of the address space it was exec'd over: after a spike, every child would report at
// least the spike. False when the kernel refused.
bool reset_own_peak_rss();

// CPU time (user + system) of pid so far, in milliseconds.
std::optional<std::uint64_t> read_cpu_ms(pid_t pid);

// The one-letter state from /proc/PID/stat ('R', 'S', 'Z', ...), or nullopt if gone.
std::optional<char> process_state(pid_t pid);

// When pid started, in clock ticks since boot (/proc/PID/stat's starttime): with the pid, it
// names one process for good, where a pid alone may be reused.
std::optional<std::uint64_t> start_time(pid_t pid);

// The parent pid from /proc/PID/stat.
std::optional<pid_t> parent_of(pid_t pid);

// argv of pid joined by spaces (empty for a zombie or a vanished process).
std::string read_cmdline(pid_t pid);

// Every process id on the system.
std::vector<pid_t> all_processes();

// Names the calling thread as `top -H`, `ps -L`, gdb and perf show it (the first 15 bytes).
// Not for a process's main thread, whose name is the process's.
void name_this_thread(std::string_view name);

} // namespace sandhost::os
