// The values a job is made of: its state, what an enqueue asks for, the job as stored, and the
// record of one attempt. Plain data shared by the store, the scheduler and every front door.
#pragma once

#include "model/outcome.h"
#include "model/units.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandhost::model {

using TimePoint = std::chrono::system_clock::time_point;
using JobId = std::int64_t;
using AttemptId = std::int64_t;  // unique per claim in the whole store: the fencing token

enum class JobState { waiting, delayed, blocked, active, completed, dead, cancelled };
inline constexpr EnumName<JobState> k_job_state_names[] = {
    {"waiting", JobState::waiting},     {"delayed", JobState::delayed}, {"blocked", JobState::blocked},
    {"active", JobState::active},       {"completed", JobState::completed}, {"dead", JobState::dead},
    {"cancelled", JobState::cancelled},
};
const char* to_string(JobState state);
std::optional<JobState> job_state_from_string(std::string_view text);
bool is_final(JobState state);  // completed, dead, cancelled
const std::vector<JobState>& all_job_states();  // in the order of the enum

// Whether one of `patterns` ("plugin.task", or "plugin.*" for every task of a plugin) allows
// `task` ("plugin.task").
bool task_allowed(const std::vector<std::string>& patterns, std::string_view task);

struct NewJob {
    std::string queue;
    std::string task;      // "plugin.task"
    std::string payload;   // JSON text, already checked
    int priority = 0;      // higher first
    std::optional<Duration> delay;         // not runnable before now + delay (state delayed)
    std::optional<Duration> timeout;       // overrides the queue's sandbox timeout
    std::optional<std::uint32_t> max_attempts;  // overrides the queue's retry.max_attempts
    std::optional<Duration> ttl;           // dead as expired when not started by created + ttl
    std::vector<JobId> depends_on;         // must exist; blocked until all completed
    std::string schedule;                  // the schedule that fired it, if any
    // The caller's idempotency key: while a job of the queue with this key is not finished,
    // enqueuing the same key again returns that job instead of a new one.
    std::optional<std::string> key;
};

struct Progress {
    double percent = 0;
    std::string message;
};

struct Lease {
    std::string holder;    // "HOSTNAME/INSTANCE"
    TimePoint expires_at{};
    AttemptId attempt_id = 0;
};

struct Job {
    JobId id = 0;
    std::string queue;
    std::string task;
    std::string payload;
    int priority = 0;
    JobState state = JobState::waiting;
    TimePoint created_at{};
    TimePoint updated_at{};
    TimePoint run_at{};                    // earliest start (delay, retry backoff)
    std::optional<TimePoint> expires_at;   // from ttl
    std::optional<Duration> ttl;           // as enqueued: a retry by hand gives the job this long again
    std::optional<Duration> timeout;
    std::optional<std::uint32_t> max_attempts;
    std::vector<JobId> depends_on;
    std::uint32_t attempts = 0;            // attempts started, in all
    std::uint32_t attempts_since_retry = 0; // attempts counted against max_attempts
    std::uint32_t lost = 0;                // worker_lost + crashed attempts since the last manual retry
    std::optional<std::string> result;     // when completed
    std::optional<std::string> error;      // the last attempt's error, or why the job is dead
    std::optional<Progress> progress;      // of the running (or last) attempt
    std::optional<Lease> lease;            // when active
    bool cancel_requested = false;         // a cancel is waiting for the running attempt to stop
    std::string schedule;
    std::optional<std::string> key;        // as enqueued
};

struct AttemptRecord {
    JobId job_id = 0;
    AttemptId attempt_id = 0;
    std::uint32_t number = 0;   // 1-based within the job
    std::string host;           // the lease holder that ran it
    Outcome outcome;         // pid, times, usage, tails, ... inside
};

} // namespace sandhost::model
