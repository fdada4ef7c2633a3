// What this process did, counted for the HTTP API's /metrics: attempts by queue, task and
// outcome; their durations and how long jobs waited to start, as histograms by queue; jobs
// enqueued by queue; failures of the store. The host and the API count into one Metrics;
// /metrics reads a snapshot. Thread-safe: one short lock per count.
#pragma once

#include "model/outcome.h"
#include "model/units.h"

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace sandhost::scheduler {

class Metrics {
public:
    // Upper bounds of the histograms' buckets, in seconds (the +Inf bucket is implied).
    static constexpr std::array<double, 14> k_duration_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                               1,     2.5,  5,     10,   30,  60,  300};
    static constexpr std::array<double, 14> k_wait_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                           1,     2.5,  5,     10,   60,  600, 3600};

    struct Histogram {
        std::vector<std::uint64_t> counts;  // per bucket, not cumulative; one more for +Inf
        double sum = 0;                     // seconds
        std::uint64_t count = 0;
    };
    struct Snapshot {
        std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> attempts;  // (queue, task, outcome)
        std::map<std::string, std::uint64_t> enqueued;                                      // by queue
        std::map<std::string, Histogram> attempt_duration;                                  // by queue
        std::map<std::string, Histogram> queue_wait;                                        // by queue
        std::uint64_t store_errors = 0;
    };

    // An attempt of `queue` ended with `outcome` after `duration`.
    void attempt_ended(const std::string& queue, const std::string& task, model::OutcomeKind outcome, model::Duration duration);
    // An attempt of `queue` started `waited` after its job could first run.
    void attempt_started(const std::string& queue, model::Duration waited);
    // This process stored a new job in `queue` (an API call, a schedule).
    void enqueued(const std::string& queue);
    // A store call of this process failed (StoreError).
    void store_error();

    Snapshot snapshot() const;

private:
    mutable std::mutex m_mutex;
    Snapshot m_counts;
};

} // namespace sandhost::scheduler
