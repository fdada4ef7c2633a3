// Control groups for running attempts: what this machine allows (CgroupSupport), and the pool
// of groups a Sandbox keeps, one per worker slot (CgroupPool), made once and reused, so that a
// job pays for no group creation. Each group carries an attempt's memory limit (the kernel
// kills inside it and counts the kill), its exact process limit, its CPU time, and is killed
// whole on stop: a process that left the worker's tree is still in its group.
#pragma once

#include "model/sandbox_settings.h"
#include "os/cgroup.h"
#include "os/result.h"
#include "os/unique_fd.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sandhost::sandbox {

// What this machine's cgroups allow this process, found without changing anything.
struct CgroupSupport {
    bool usable = false;           // groups can be made, with at least the memory and pids controllers
    os::CgroupVersion version = os::CgroupVersion::v2;
    bool memory = false;           // memory limit, OOM kills counted in the group
    bool pids = false;             // exact process limit, refused forks counted
    bool cpu = false;              // CPU time accounted (v1 cpuacct, v2 cpu.stat)
    bool kill = false;             // the group killed at once (v2 cgroup.kill) or frozen first (a freezer)
    // Where groups are made: this process's own group, per v1 controller (or v2's one folder).
    std::vector<os::CgroupFolders::Folder> bases;
    std::string why_not;           // when not usable

    // {"usable":true,"version":"v1","memory":true,...,"where":"..."} (why_not when not usable).
    std::string to_json() const;
    // "v1 under /sys/fs/cgroup/memory/x (memory, pids, cpu, kill)" or "no (WHY)".
    std::string describe() const;
};

// Reads PROC/self/cgroup and PROC/self/mountinfo and looks at the folders they name. Never
// fails: what cannot be used says why.
CgroupSupport detect_cgroups(const std::filesystem::path& proc = "/proc");

// This process's answer, found once.
const CgroupSupport& cgroup_support();

// One group of the pool: its folders and the counters an attempt is judged by.
class AttemptGroup {
public:
    struct Counters {
        std::uint64_t oom_kills = 0;     // processes the kernel killed for the memory limit
        std::uint64_t forks_refused = 0; // forks refused at the process limit
        std::uint64_t cpu_us = 0;        // CPU time of everything that ran in it
        bool operator==(const Counters&) const = default;
    };

    AttemptGroup(os::CgroupFolders folders, const CgroupSupport& support) : m_folders(std::move(folders)), m_support(&support) {}

    const os::CgroupFolders& folders() const { return m_folders; }
    // Sets the memory limit (nullopt: none) and the process limit (nullopt: none); no write
    // when they are the ones set last. Fails when the kernel refuses one (a memory limit below
    // what is charged already).
    os::Status limit(std::optional<std::uint64_t> memory_bytes, std::optional<std::uint64_t> processes);
    // The counters now; a counter the kernel does not keep stays 0.
    Counters counters() const;
    // The counters now of a group that never held more than the threads of one process, which
    // is still running (only_ever_held): nothing in it was killed for memory, since its only
    // process lives, so the OOM count stands as `before` and only the refused forks and the
    // CPU time are read. Two reads instead of three, the costliest (v1's memory.oom_control)
    // spared.
    Counters counters_of_a_lone_process(const Counters& before) const;
    // Whether no more than `tasks` threads were ever in the group at once: the kernel's
    // pids.peak, kept since the group was made. Then nothing but the process that holds them
    // ran in it, and nothing is left in it to end. False when the kernel keeps no peak (Linux
    // before 6.1) or it cannot be read, and when anything else ever ran in the group (a peak
    // never goes down: the group is read in full from then on).
    bool only_ever_held(std::uint64_t tasks) const;
    bool enforces_memory() const { return m_memory_limited; }
    bool enforces_processes() const { return m_processes_limited; }

    // The files a single-threaded process writes "0" to, one each, to enter the group itself,
    // open for writing and kept open: what a spawned or reused worker and a fork server's child
    // are given (nothing else puts a process in a group). v1: each folder's `tasks` (a thread
    // that moves itself is moved without the global lock the kernel takes for a move through
    // cgroup.procs or of another thread: a wait for every CPU, which cost a bare fork moved in
    // four hierarchies 15-45 % of its throughput on a 2-core machine, and a spawned job up to
    // 15 ms at p99); v2: cgroup.procs. Fails with the file that would not open.
    os::Result<std::vector<int>> files_to_enter_by_oneself() const;
    // Every process in the group, killed; waits until it is empty (a few seconds at most).
    os::Status kill_all() const;
    // The processes in it now (empty when that cannot be read).
    std::vector<pid_t> processes() const;
    // Whether no process is in it now (true when that cannot be read), most often in one read.
    bool empty() const;
    // The threads of every process in it (and processes exited but not reaped yet), from
    // pids.current in one read; nullopt without the pids controller.
    std::optional<std::uint64_t> tasks() const;
    // Closes the files kept open (counters, the files to enter by); later reads open them
    // again. Only while no process uses the group (a free group in the pool).
    void close_files();
    // How many descriptors it keeps open now.
    std::size_t open_files() const { return m_kept.size() + m_entries_for_oneself.size(); }

private:
    // A file of the group read again and again: opened at its first read and kept open, so that
    // each later read is one pread (a job reads its group's counters and processes several
    // times).
    // Named by the file alone (each of these names is in one controller's folder), so that a
    // read builds no path.
    struct KeptFile {
        const char* file;  // a string literal
        os::UniqueFd fd;
    };
    // The file of the folder of `controller` ("" for v2's one folder); nullopt when the group
    // has no such folder, or the file cannot be opened or read.
    std::optional<std::string> read_kept(std::string_view controller, const char* file) const;
    // The file `file_name` of each folder, opened into `kept` when it is empty; their descriptors.
    os::Result<std::vector<int>> files_to_enter_by(std::vector<os::UniqueFd>& kept, const char* file_name) const;
    // CPU time of everything that ran in it (cpuacct.usage or cpu.stat); 0 when not kept.
    std::uint64_t cpu_us() const;

    os::CgroupFolders m_folders;
    mutable std::vector<KeptFile> m_kept;
    mutable bool m_read_failed = false;  // a read_kept since counters() began failed
    mutable bool m_no_peak = false;      // pids.peak could not be read: not asked again
    // Seen without processes (pids.current 0) since files_to_enter_by_oneself() last handed
    // out the files to enter by: nothing can enter, so nothing is counted.
    mutable bool m_known_empty = false;
    // The counters read while known empty: they stand until a process may enter.
    mutable std::optional<Counters> m_counters_while_empty;
    mutable std::vector<os::UniqueFd> m_entries_for_oneself;
    const CgroupSupport* m_support;
    bool m_memory_limited = false;
    bool m_processes_limited = false;
    bool m_limits_set = false;  // the kernel has the two below
    std::optional<std::uint64_t> m_memory_limit;
    std::optional<std::uint64_t> m_process_limit;
};

class CgroupPool;

// The pids.max of a job's group: limits.processes, plus the worker's own lease-watch thread
// when it runs one (the kernel's pids controller counts threads too): a spawned or reused
// worker does for a job with a lease; a fork server keeps its children's leases itself.
std::optional<std::uint64_t> group_process_limit(const model::Limits& limits, bool lease_thread);

// A group lent to one worker (spawn and fork: one attempt; reuse: the worker's life). On
// destruction whatever is left in it is killed and the group goes back to the pool.
class CgroupLease {
public:
    CgroupLease() = default;
    CgroupLease(CgroupPool* pool, std::unique_ptr<AttemptGroup> group)
        : m_pool(pool), m_group(std::move(group)), m_counted(m_group->counters())
    {
    }
    CgroupLease(CgroupLease&& other) noexcept = default;
    CgroupLease& operator=(CgroupLease&& other) noexcept;
    ~CgroupLease();

    explicit operator bool() const { return m_group != nullptr; }
    AttemptGroup* operator->() const { return m_group.get(); }
    AttemptGroup& operator*() const { return *m_group; }
    AttemptGroup* get() const { return m_group.get(); }
    // The group's counters when it was lent, before any process of the borrower was in it:
    // what the borrower's first job is measured from.
    const AttemptGroup::Counters& counted_at_lending() const { return m_counted; }

private:
    void give_back();
    CgroupPool* m_pool = nullptr;
    std::unique_ptr<AttemptGroup> m_group;
    AttemptGroup::Counters m_counted;
};

class CgroupPool {
public:
    // Makes this pool's folder (NAME "sandhost.PID.N") in each of support's bases, after
    // removing the folders a host that died left there (PID no longer alive), killing what
    // still ran in them. Fails, saying why, when the folder cannot be made.
    static os::Result<std::unique_ptr<CgroupPool>> open(const CgroupSupport& support);
    // Kills what is left in every group and removes them and the pool's folder. Every lease
    // must have been given back.
    ~CgroupPool();
    CgroupPool(const CgroupPool&) = delete;
    CgroupPool& operator=(const CgroupPool&) = delete;

    // A group for a worker with `limits`: a free one, or a new one. Its counters carry what
    // earlier attempts left: the caller reads them as a baseline. Thread-safe.
    os::Result<CgroupLease> acquire(std::optional<std::uint64_t> memory_bytes, std::optional<std::uint64_t> processes);

    const CgroupSupport& support() const { return m_support; }
    // The pool's own folders (for tests and the startup log).
    const os::CgroupFolders& folders() const { return m_top; }
    // Groups made so far, and free now.
    std::size_t made() const;
    std::size_t free() const;
    // The descriptors the free groups keep open now.
    std::size_t free_open_files() const;
    // Closes the files every free group keeps open: for a host short of descriptors. Returns
    // how many were closed.
    std::size_t close_free_files();

    // Free groups that keep their files open, the ones lent next; older free groups close
    // theirs, so that a host whose concurrency fell after a burst does not hold a burst's
    // worth of descriptors.
    static constexpr std::size_t k_free_groups_with_files = 4;

    // Removes what hosts that died left under `support`'s bases: every "sandhost.PID.N"
    // folder whose PID is not alive, what ran in it killed. Returns how many were removed.
    static std::size_t sweep_leftovers(const CgroupSupport& support);

    // A group for a job of `settings` (its memory and process limits), or an empty lease when
    // `pool` is null or the settings turn cgroups off.
    static os::Result<CgroupLease> lease_for(CgroupPool* pool, const model::SandboxSettings& settings, bool lease_thread);

private:
    friend class CgroupLease;
    CgroupPool(const CgroupSupport& support, os::CgroupFolders top) : m_support(support), m_top(std::move(top)) {}
    void give_back(std::unique_ptr<AttemptGroup> group);

    CgroupSupport m_support;
    os::CgroupFolders m_top;
    mutable std::mutex m_mutex;
    std::vector<std::unique_ptr<AttemptGroup>> m_free;
    std::size_t m_made = 0;
};

} // namespace sandhost::sandbox
