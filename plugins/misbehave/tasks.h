// The misbehave tasks: a test fixture whose tasks fail in every way a worker must survive.
// Each is an sh_task_fn (plugin.h). Payload fields are listed with each task; a missing or
// mistyped field fails the task with a message naming it, never retried. Tasks said to run
// "for ever" never return: the host has to stop them.
#pragma once

#include <sandhost/plugin.h>

#include <string>
#include <string_view>

namespace sandhost::plugin {
class Context;
}

namespace misbehave {

#define MISBEHAVE_TASK(name) \
    sh_status_t name(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept

// outcome_tasks.cpp: tasks that return, with a result or an error.
MISBEHAVE_TASK(run_echo);         // result: the payload bytes, unchanged
MISBEHAVE_TASK(run_fail);         // {"message", "permanent"?}: fails with message; never retried when permanent
MISBEHAVE_TASK(run_big_result);   // {"bytes"}: result of exactly that many bytes of text
MISBEHAVE_TASK(run_log_lines);    // {"count"}: logs "line 0".. (info, warn alternating), then result "logged"
MISBEHAVE_TASK(run_sleep);        // {"ms"}: sleeps, then result "slept"
MISBEHAVE_TASK(run_progress);     // {"steps", "ms"}: reports progress; error "cancelled" when asked to stop
std::string run_throw(std::string_view payload, sandhost::plugin::Context& ctx); // C++ layer: throws
std::string run_job_info(std::string_view payload, sandhost::plugin::Context& ctx); // C++ layer: the job_info service as JSON
std::string run_out_of_memory(std::string_view payload, sandhost::plugin::Context& ctx); // C++ layer: {"mib"}: one allocation; std::bad_alloc

// crash_tasks.cpp: tasks that end the process without reporting.
MISBEHAVE_TASK(run_segfault);       // stores through a null pointer: SIGSEGV
MISBEHAVE_TASK(run_abort);          // abort(): SIGABRT
MISBEHAVE_TASK(run_stack_overflow); // unbounded recursion: SIGSEGV on the stack guard
MISBEHAVE_TASK(run_exit);           // {"code"}: exit(code)

// resource_tasks.cpp: tasks that use up a resource.
MISBEHAVE_TASK(run_hang);         // busy loop for ever
MISBEHAVE_TASK(run_cpu_spin);     // arithmetic for ever
MISBEHAVE_TASK(run_ignore_term);  // ignores SIGTERM, then sleeps for ever
MISBEHAVE_TASK(run_leak);         // mallocs and touches 1 MiB blocks for ever; abort() when malloc fails
MISBEHAVE_TASK(run_write_file);   // {"path", "mib"}: writes that many MiB; errno text on failure
MISBEHAVE_TASK(run_flood_stdout); // {"mib"}: writes that many MiB to stdout

// process_tasks.cpp
MISBEHAVE_TASK(run_spawn_children); // {"count", "setsid"?}: forks children that sleep for ever, then sleeps for ever
MISBEHAVE_TASK(run_escape);         // {"hang"?}: leaves a grandchild outside the worker's tree, returns its pid or hangs

// fd_tasks.cpp
MISBEHAVE_TASK(run_garble); // writes junk on every descriptor above 2 ready for writing, then succeeds
MISBEHAVE_TASK(run_lie);    // writes a 'done' header claiming 4 GiB on every socket above 2, then waits
MISBEHAVE_TASK(run_fds);    // result: [{"fd": n, "target": "..."}] for each open descriptor

#undef MISBEHAVE_TASK

} // namespace misbehave
