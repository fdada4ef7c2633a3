// TaskCall: one call of a plugin's task (or init hook) with the services table behind it.
// Used by the worker process (reports go over the channel) and by the in-host runner of the
// no-sandbox and inline-fallback modes (reports go straight to the host).
#pragma once

#include <sandhost/plugin.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sandhost::plugin {

// Where the reports of a running task go. Called from whichever thread the task used.
class TaskSink {
public:
    virtual ~TaskSink() = default;
    virtual void log(sh_log_level_t level, std::string_view message) = 0;
    virtual void progress(double percent, std::string_view message) = 0;
    virtual void heartbeat() = 0;
    // True once the host asked the task to stop. May read pending control messages.
    virtual bool poll_cancel() = 0;
};

// What the job_info service tells a task about the attempt it runs.
struct JobInfo {
    std::int64_t job_id = 0;     // 0 outside a queue
    std::uint32_t attempt = 0;   // from 1; 0 outside a queue
    std::string queue;
    std::string task;            // the task's name within its plugin
    std::int64_t deadline_ms = 0; // Unix epoch milliseconds; 0: none
};

struct TaskReport {
    enum class Status { ok, error, result_too_large, out_of_memory };
    Status status = Status::ok;
    bool permanent = false;        // set_error(..., SH_RETRY_NEVER)
    std::string data;              // result when ok; error message when error or out_of_memory
    std::uint64_t result_size = 0; // the refused size when result_too_large; the failed
                                   // allocation's size (0: unknown) when out_of_memory
};

class TaskCall {
public:
    // max_result: the largest result set_result accepts, in bytes.
    TaskCall(TaskSink& sink, std::uint64_t max_result);
    ~TaskCall();
    TaskCall(const TaskCall&) = delete;
    TaskCall& operator=(const TaskCall&) = delete;

    // Calls the task with payload (passed NUL-terminated) and returns what it reported; the
    // job_info service answers with `job`. Blocks for as long as the task runs. A TaskCall runs
    // one call; make a new one per call.
    TaskReport run(const sh_task_t& task, const std::string& payload, const JobInfo& job);
    // Calls a plugin's init hook; an error report carries the plugin's message.
    TaskReport run_init(sh_init_fn init);

private:
    TaskReport finish(sh_status_t status);
    std::unique_ptr<sh_context> m_ctx;
};

// The services table every call receives (static, valid for the process's lifetime).
const sh_services_t* services_table();

} // namespace sandhost::plugin
