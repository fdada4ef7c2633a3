// The messages of the host-worker protocol and their body encodings (see frame.h).
// decode_* return nullopt for a body that does not decode: the sender broke the protocol.
#pragma once

#include "protocol/frame.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sandhost::protocol {

struct Hello {
    std::int64_t pid = 0;
    // getrusage's ru_maxrss when the worker started: what it inherited from the address space
    // it was exec'd over (its launcher's), which the kernel keeps counting in every later
    // ru_maxrss. A reported peak at or below it says nothing about the worker.
    std::uint64_t inherited_max_rss_kb = 0;
};

// Limits the worker applies to itself (setrlimit) before it loads the plugin.
struct WorkerLimits {
    std::optional<std::uint64_t> memory_bytes;
    std::optional<std::uint64_t> cpu_ms;
    std::optional<std::uint64_t> open_files;
    std::optional<std::uint64_t> file_size_bytes;
    std::optional<std::uint64_t> processes;
};

struct Job {
    std::string plugin_path;
    std::string task;         // empty for a describe job
    std::string payload;
    std::uint64_t max_result = 0;
    WorkerLimits limits;
    bool describe = false;    // only load the plugin and send its description
    // What the task's job_info service reports: the job's id, attempt and queue (0, 0 and ""
    // outside a queue) and its timeout, from which the worker computes the deadline when the
    // job's clock starts (0: none).
    std::int64_t job_id = 0;
    std::uint32_t attempt = 0;
    std::string queue;
    std::uint64_t timeout_ms = 0;
    // The job's lease: how long the worker may run it without hearing a renewal (a Lease
    // message) before it stops itself and everything it started (0: no lease, as for
    // `sandhost exec`). A lease that runs out means the host was stopped or cut off from its
    // store, and another host may already be running the job.
    std::uint64_t lease_ms = 0;
    // The attempt's private folder, which the worker makes its TMPDIR, and the folder it
    // works in (empty: the private folder). Both empty for a describe job: nothing changes.
    std::string tmpdir;
    std::string workdir;
};

// host -> worker while a job runs: its lease was renewed; the worker may go on until `until_ms`
// on CLOCK_MONOTONIC (os::monotonic_ms: host and worker read the same clock, one machine and
// no time namespace of the worker's own). A point, not a length: a renewal read late, by a
// worker that looks only when its lease would run out, extends it no further than the host
// meant.
struct Lease {
    std::int64_t until_ms = 0;
};

struct Ready {
    std::uint64_t vm_size_kb = 0;
    std::uint64_t rss_kb = 0;
};

struct LoadFailed {
    std::string message;
    bool task_missing = false;  // the plugin loaded but has no such task (the plugin itself is fine)
};

// host -> fork server: fork a child for a job. Attached: the job's channel, stdout, stderr and
// status pipe, then `cgroup_fds` descriptors open for writing on the files a process enters
// the attempt's group by (v1: `tasks`, v2: cgroup.procs): the server hands them to the child
// with its job's descriptors, and the child writes "0" into each (itself) before it reads its
// job, so it runs the job inside the attempt's group while the server stays out of it, and
// exits without running it when it cannot enter. With `lease_ms`, the
// server keeps the job's lease: it kills the child and everything it started once that many
// milliseconds pass without a child_lease renewal (the child runs no thread of its own to
// watch it). An empty body: neither.
struct ForkJob {
    std::uint32_t cgroup_fds = 0;
    std::uint64_t lease_ms = 0;
};

// host -> spawned or reused worker, before its first job, with `files` descriptors attached
// (SCM_RIGHTS): the files to enter the attempt's control group by (v1 `tasks`, one per
// hierarchy; v2 `cgroup.procs`), opened by the host. The worker, single-threaded then, writes
// "0" into each before it reads its job, and exits as setup_failed when it cannot: the
// kernel's global lock that a write of another process's pid into `cgroup.procs` takes (on
// v1, a wait for every CPU) is not taken.
struct EnterGroup {
    std::uint32_t files = 0;
};
std::string encode(const EnterGroup& m);
std::optional<EnterGroup> decode_enter_group(std::string_view body);

// host -> fork server: the lease of job child `pid` was renewed; it may go on until `until_ms`
// (as in Lease).
struct ChildLease {
    std::int64_t pid = 0;
    std::int64_t until_ms = 0;
};
std::string encode(const ChildLease& m);
std::optional<ChildLease> decode_child_lease(std::string_view body);

// fork server -> host, answering fork_job: the child's pid, or why there is none.
struct Forked {
    std::int64_t pid = -1;
    std::string error;
};

// fork server -> host, on the job's status pipe when the child has been reaped.
struct ChildStatus {
    std::int32_t wait_status = 0;
    std::uint64_t max_rss_kb = 0;
    std::uint64_t user_cpu_us = 0;
    std::uint64_t system_cpu_us = 0;
    // The server killed the child (and its descendants) this many milliseconds after its lease
    // ran out unrenewed; -1 when it did not.
    std::int64_t lease_overdue_ms = -1;
};
constexpr std::size_t k_child_status_size = 4 + 4 * 8;
std::string encode(const ChildStatus& m);
std::optional<ChildStatus> decode_child_status(std::string_view bytes);

struct Log {
    std::uint8_t level = 2;
    std::string message;
};

struct Progress {
    double percent = 0;
    std::string message;
};

struct Done {
    // out_of_memory: the task said memory ran out (the out_of_memory service) and returned an
    // error.
    enum class Status : std::uint8_t { ok = 0, error = 1, result_too_large = 2, out_of_memory = 3 };
    Status status = Status::ok;
    bool permanent = false;       // the task said retrying cannot help
    std::string data;             // the result (ok) or the error message (error, out_of_memory)
    std::uint64_t result_size = 0; // result_too_large: the size the task tried to set;
                                   // out_of_memory: the failed allocation's size (0: unknown)
    // The worker's own usage so far (getrusage): lets the host account a long-lived worker's
    // jobs without reading /proc.
    std::uint64_t cpu_us = 0;
    std::uint64_t max_rss_kb = 0;
};

struct Description {
    struct Task {
        std::string name;
        std::string description;
    };
    std::string name;
    std::string version;
    std::vector<Task> tasks;
};

std::string encode(const Hello& m);
std::string encode(const Job& m);
std::string encode(const Ready& m);
std::string encode(const LoadFailed& m);
std::string encode(const Log& m);
std::string encode(const Progress& m);
std::string encode(const Done& m);
std::string encode(const Description& m);
std::string encode(const Forked& m);
std::string encode(const Lease& m);
std::string encode(const ForkJob& m);

std::optional<Hello> decode_hello(std::string_view body);
std::optional<Job> decode_job(std::string_view body);
std::optional<Ready> decode_ready(std::string_view body);
std::optional<LoadFailed> decode_load_failed(std::string_view body);
std::optional<Log> decode_log(std::string_view body);
std::optional<Progress> decode_progress(std::string_view body);
std::optional<Done> decode_done(std::string_view body);
std::optional<Description> decode_description(std::string_view body);
std::optional<Forked> decode_forked(std::string_view body);
std::optional<Lease> decode_lease(std::string_view body);
std::optional<ForkJob> decode_fork_job(std::string_view body);

} // namespace sandhost::protocol
