// Header-only C++ layer over the sandhost C ABI (plugin.h). C++17 or later.
//
// A C++ task is a plain function:
//     std::string word_count(std::string_view payload, sandhost::plugin::Context& ctx);
// and a plugin lists its tasks with SH_CPP_TASK:
//     static const sh_task_t tasks[] = {SH_CPP_TASK("word_count", "counts words", word_count)};
//     SH_DEFINE_PLUGIN("hello", "1.0.0", tasks, nullptr, nullptr)
//
// The returned string is the job's result. Exceptions never cross the C boundary: a TaskError
// becomes a failed attempt with its message and retry hint; std::bad_alloc is reported through
// the out_of_memory service (the attempt ends as resource_limit, memory); any other
// std::exception becomes a failed attempt with what(); anything else thrown becomes
// "unknown exception".
#ifndef SANDHOST_PLUGIN_HPP
#define SANDHOST_PLUGIN_HPP

#include "plugin.h"

#include <chrono>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sandhost::plugin {

enum class Level { trace = SH_LOG_TRACE, debug = SH_LOG_DEBUG, info = SH_LOG_INFO, warn = SH_LOG_WARN, error = SH_LOG_ERROR };
enum class Retry { allowed = SH_RETRY_ALLOWED, never = SH_RETRY_NEVER };

// Thrown by a task to fail with a message; Retry::never sends the job straight to dead.
class TaskError : public std::runtime_error {
public:
    explicit TaskError(const std::string& message, Retry retry = Retry::allowed)
        : std::runtime_error(message), m_retry(retry) {}
    Retry retry() const noexcept { return m_retry; }

private:
    Retry m_retry;
};

// What a task runs for (the job_info service). The strings view the host's copies: valid only
// during the task call.
struct JobInfo {
    std::int64_t job_id = 0;   // 0 outside a queue
    std::uint32_t attempt = 0; // from 1; 0 outside a queue
    std::string_view queue;
    std::string_view task;
    std::optional<std::chrono::system_clock::time_point> deadline;
};

// The services of one task call. Valid only during that call; safe from any thread of it.
class Context {
public:
    Context(const sh_services_t* services, sh_context_t* ctx) noexcept : m_services(services), m_ctx(ctx) {}

    void log(Level level, const std::string& message) const { m_services->log(m_ctx, static_cast<sh_log_level_t>(level), message.c_str()); }
    void progress(double percent, const std::string& message = {}) const { m_services->progress(m_ctx, percent, message.c_str()); }
    bool cancel_requested() const { return m_services->cancel_requested(m_ctx) != 0; }
    void heartbeat() const { m_services->heartbeat(m_ctx); }

    // The job, attempt, queue and deadline this call runs for. Outside a queue (sandhost exec)
    // the id and attempt are 0 and the queue is empty.
    JobInfo job() const
    {
        JobInfo info;
        if (!SH_HAS_SERVICE(m_services, job_info)) return info;
        const sh_job_info_t* raw = m_services->job_info(m_ctx);
        if (raw == nullptr) return info;
        info.job_id = raw->job_id;
        info.attempt = raw->attempt;
        info.queue = raw->queue ? raw->queue : "";
        info.task = raw->task ? raw->task : "";
        if (SH_HAS_FIELD(sh_job_info_t, raw, deadline_ms) && raw->deadline_ms != 0) {
            info.deadline = std::chrono::system_clock::time_point(std::chrono::milliseconds(raw->deadline_ms));
        }
        return info;
    }

    // The raw C view, for code that calls C helpers.
    const sh_services_t* services() const noexcept { return m_services; }
    sh_context_t* raw() const noexcept { return m_ctx; }

private:
    const sh_services_t* m_services;
    sh_context_t* m_ctx;
};

using TaskFunction = std::string (*)(std::string_view payload, Context& ctx);

namespace detail {

inline sh_status_t report_error(const sh_services_t* services, sh_context_t* ctx, const char* message, Retry retry) noexcept
{
    services->set_error(ctx, message, static_cast<sh_retry_t>(retry));
    return SH_STATUS_ERROR;
}

// std::bad_alloc: the attempt ends as resource_limit (memory) on a host that offers the
// service, as a failed attempt elsewhere.
inline sh_status_t report_out_of_memory(const sh_services_t* services, sh_context_t* ctx) noexcept
{
    if (SH_HAS_SERVICE(services, out_of_memory)) {
        services->out_of_memory(ctx, 0);
        return SH_STATUS_ERROR;
    }
    return report_error(services, ctx, "out of memory (std::bad_alloc)", Retry::allowed);
}

// Adapts a TaskFunction to the C signature; instantiated once per task function.
template <TaskFunction Fn>
sh_status_t run_task(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    try {
        Context context(services, ctx);
        const std::string result = Fn(std::string_view(payload, payload_size), context);
        if (services->set_result(ctx, result.data(), result.size()) != SH_RESULT_STORED) {
            return report_error(services, ctx, "result exceeds the job's result cap", Retry::never);
        }
        return SH_STATUS_OK;
    } catch (const TaskError& e) {
        return report_error(services, ctx, e.what(), e.retry());
    } catch (const std::bad_alloc&) {
        return report_out_of_memory(services, ctx);
    } catch (const std::exception& e) {
        return report_error(services, ctx, e.what(), Retry::allowed);
    } catch (...) {
        return report_error(services, ctx, "unknown exception", Retry::allowed);
    }
}

} // namespace detail
} // namespace sandhost::plugin

// One entry of a task table for a C++ task function.
#define SH_CPP_TASK(task_name, task_description, function) \
    sh_task_t { task_name, task_description, &::sandhost::plugin::detail::run_task<function> }

#endif // SANDHOST_PLUGIN_HPP
