// The misbehave plugin: a test fixture of tasks that crash, hang, leak, flood and escape in
// every way a worker process must contain. Never load it in a process you care about.
#include "tasks.h"

#include <sandhost/plugin.hpp>

namespace {

// Present so the host's init path runs for this plugin; there is nothing to set up.
sh_status_t init_plugin(const sh_services_t*, sh_context_t*)
{
    return SH_STATUS_OK;
}

// Present so the host's shutdown path runs for this plugin; there is nothing to release.
void shutdown_plugin() {}

const sh_task_t k_tasks[] = {
    {"echo", "returns its payload unchanged", misbehave::run_echo},
    {"fail", "fails with {\"message\"}; never retried when {\"permanent\": true}", misbehave::run_fail},
    {"segfault", "stores through a null pointer (SIGSEGV)", misbehave::run_segfault},
    {"abort", "calls abort() (SIGABRT)", misbehave::run_abort},
    {"stack_overflow", "recurses without end until the stack overflows (SIGSEGV)", misbehave::run_stack_overflow},
    {"exit", "calls exit({\"code\"}) without reporting", misbehave::run_exit},
    {"hang", "busy-loops for ever", misbehave::run_hang},
    {"sleep", "sleeps {\"ms\"} milliseconds, then returns \"slept\"", misbehave::run_sleep},
    {"ignore_term", "ignores SIGTERM, then sleeps for ever", misbehave::run_ignore_term},
    {"leak", "allocates and touches 1 MiB blocks for ever; aborts when malloc fails", misbehave::run_leak},
    {"cpu_spin", "burns CPU for ever", misbehave::run_cpu_spin},
    {"write_file", "writes {\"mib\"} MiB to {\"path\"}", misbehave::run_write_file},
    {"log_lines", "logs {\"count\"} lines \"line N\" (info and warn in turn), then returns \"logged\"", misbehave::run_log_lines},
    {"big_result", "returns {\"bytes\"} bytes of text", misbehave::run_big_result},
    {"flood_stdout", "writes {\"mib\"} MiB to stdout", misbehave::run_flood_stdout},
    SH_CPP_TASK("throw", "throws std::runtime_error(\"boom from throw\")", misbehave::run_throw),
    {"spawn_children", "forks {\"count\"} children that sleep for ever (the first in its own session when {\"setsid\": true}), logs their pids, sleeps for ever", misbehave::run_spawn_children},
    {"escape", "stops being its descendants' subreaper, double-forks a grandchild in its own session (re-parented out of the worker's tree) that sleeps for ever, logs its pid; returns {\"pid\"}, or sleeps for ever when {\"hang\": true}", misbehave::run_escape},
    {"garble", "writes junk on every descriptor above 2, then succeeds", misbehave::run_garble},
    {"lie", "writes a protocol header claiming a 4 GiB result on the channel, then waits", misbehave::run_lie},
    {"fds", "returns its open descriptors as [{\"fd\", \"target\"}]", misbehave::run_fds},
    {"progress", "reports {\"steps\"} progress steps {\"ms\"} apart; fails with \"cancelled\" when asked to stop", misbehave::run_progress},
    SH_CPP_TASK("job_info", "returns what the job_info service says: {\"job_id\", \"attempt\", \"queue\", \"task\", \"deadline_ms\"}", misbehave::run_job_info),
    SH_CPP_TASK("out_of_memory", "allocates {\"mib\"} MiB at once; std::bad_alloc is reported as out of memory", misbehave::run_out_of_memory),
};

} // namespace

SH_DEFINE_PLUGIN("misbehave", "1.0.0", k_tasks, init_plugin, shutdown_plugin)
