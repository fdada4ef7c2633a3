// The embedded store's floor: what SQLite alone can do of a queue's work on this machine.
#pragma once

#include <filesystem>

namespace sandhost::bench {

struct StoreFloor {
    double jobs_per_s = 0;
    double cpu_us_per_job = 0;  // this process's CPU (both threads) per job
};

// One producer thread commits each job alone (BEGIN IMMEDIATE, INSERT, COMMIT), as a producer
// awaiting each enqueue; one consumer thread records the previous job's result and claims the
// next in one transaction, running the task (the payload plus one) in between. WAL with
// synchronous NORMAL and pages of `page_size` bytes, as the store's defaults: each commit is
// in the log when it returns, a kill -9 loses nothing. A minimal table (id, state, payload, result, one index on state): no
// attempts, events, leases or hosts. The least a store of SQLite pays per job for a durable
// enqueue and a durable result, here; `folder` holds the database while it runs.
StoreFloor measure_store_floor(const std::filesystem::path& folder, int jobs, int page_size);

} // namespace sandhost::bench
