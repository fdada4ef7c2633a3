// The fork-server role. The server holds the plugin loaded and initialised and forks one child
// per job: the child starts from the server's clean state, gets its own channel and output
// pipes (created by the host, passed over the server's channel), its own process group and
// limits, and serves that one job as a spawned worker would. The server reaps its
// children, writes each job child's wait status and usage to the status pipe the host passed
// with the job, and ends what a finished job left behind.
#pragma once

#include "worker/job_runner.h"
#include "worker/worker_channel.h"

namespace sandhost::worker {

// Serves the host on `channel`: first a job message naming the plugin to preload (answered by
// ready, or load_failed and exit 0), then fork_job messages, each with the job's channel,
// stdout, stderr and status pipe attached (answered by forked). Exits 0 when the host closes
// the channel or says shutdown (after calling the plugin's shutdown hook); with a
// protocol::WorkerExit, after a line on stderr and ending every child, when the host breaks the
// protocol or a call the server depends on fails.
[[noreturn]] void run_fork_server(WorkerChannel& channel, JobRunner& runner);

} // namespace sandhost::worker
