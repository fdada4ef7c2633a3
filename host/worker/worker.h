// The worker process's runtime: everything sandhost-worker does between exec and exit.
//
// Start-up, in this order, before any plugin code runs: reset the signal mask and
// dispositions, lead its own process group, die with the host (a parent-death signal whose
// handler first kills the worker's descendants), close every inherited descriptor but the
// channel and stdio, become a child subreaper (so nothing the task starts can escape the
// attempt), say hello. Then, per job: apply the limits, load the plugin, run init, report
// ready, run the task, report done, kill what the task left running.
#pragma once

#include "plugin/library_loader.h"

namespace sandhost::worker {

// argv: --channel-fd N --host-pid P [--role spawn|reuse|fork-server]. Loads plugins with
// `loader`. Returns the process exit status (it usually _exits itself).
int worker_main(int argc, char** argv, const plugin::LibraryLoader& loader);

// The signal a worker asks to receive when the host dies.
int host_death_signal();

} // namespace sandhost::worker
