#include "plugin/task_call.h"

#include <algorithm>
#include <atomic>
#include <mutex>

using sandhost::plugin::TaskReport;
using sandhost::plugin::TaskSink;

// The opaque context of the C ABI: the state one call's services share.
struct sh_context {
    TaskSink* sink = nullptr;
    std::uint64_t max_result = 0;
    std::atomic<bool> active{false};
    std::atomic<bool> cancelled{false};
    std::mutex mutex;  // guards the fields below
    std::string result;
    bool result_too_large = false;
    std::uint64_t refused_size = 0;
    std::string error;
    bool error_set = false;
    bool permanent = false;
    bool out_of_memory = false;
    std::uint64_t oom_requested = 0;
    // What job_info returns (its strings point into `job`); absent during init.
    sandhost::plugin::JobInfo job;
    sh_job_info_t job_info{};
    bool has_job = false;
};

namespace sandhost::plugin {
namespace {

constexpr std::size_t k_max_progress_message = 1024;
constexpr std::size_t k_max_log_message = 64 * 1024;

bool live(sh_context_t* ctx) { return ctx && ctx->active.load(std::memory_order_acquire); }

void svc_log(sh_context_t* ctx, sh_log_level_t level, const char* message)
{
    if (!live(ctx) || !message) return;
    std::string_view text(message);
    ctx->sink->log(level, text.substr(0, k_max_log_message));
}

void svc_progress(sh_context_t* ctx, double percent, const char* message)
{
    if (!live(ctx)) return;
    if (!(percent >= 0)) percent = 0;  // also maps NaN to 0
    percent = std::min(percent, 100.0);
    std::string_view text = message ? std::string_view(message) : std::string_view();
    ctx->sink->progress(percent, text.substr(0, k_max_progress_message));
}

int32_t svc_cancel_requested(sh_context_t* ctx)
{
    if (!ctx) return 0;
    if (ctx->cancelled.load(std::memory_order_acquire)) return 1;
    if (live(ctx) && ctx->sink->poll_cancel()) {
        ctx->cancelled.store(true, std::memory_order_release);
        return 1;
    }
    return 0;
}

void svc_heartbeat(sh_context_t* ctx)
{
    if (live(ctx)) ctx->sink->heartbeat();
}

int32_t svc_set_result(sh_context_t* ctx, const void* data, size_t size)
{
    if (!live(ctx)) return SH_RESULT_STORED;
    std::lock_guard lock(ctx->mutex);
    if (size > ctx->max_result) {
        ctx->result_too_large = true;
        ctx->refused_size = size;
        ctx->result.clear();
        return SH_RESULT_TOO_LARGE;
    }
    ctx->result_too_large = false;
    ctx->result.assign(static_cast<const char*>(data ? data : ""), data ? size : 0);
    return SH_RESULT_STORED;
}

void svc_set_error(sh_context_t* ctx, const char* message, sh_retry_t retry)
{
    if (!live(ctx)) return;
    std::lock_guard lock(ctx->mutex);
    ctx->error = message ? message : "";
    ctx->error_set = true;
    ctx->permanent = retry == SH_RETRY_NEVER;
}

const void* svc_get_extension(sh_context_t*, const char*) { return nullptr; }

const sh_job_info_t* svc_job_info(sh_context_t* ctx)
{
    // Written before the call started and never changed during it: no lock needed.
    return live(ctx) && ctx->has_job ? &ctx->job_info : nullptr;
}

void svc_out_of_memory(sh_context_t* ctx, size_t requested)
{
    if (!live(ctx)) return;
    std::lock_guard lock(ctx->mutex);
    ctx->out_of_memory = true;
    ctx->oom_requested = requested;
}

const sh_services_t k_services = {
    SH_ABI_VERSION,       static_cast<uint32_t>(sizeof(sh_services_t)),
    svc_log,              svc_progress,
    svc_cancel_requested, svc_heartbeat,
    svc_set_result,       svc_set_error,
    svc_get_extension,    svc_job_info,
    svc_out_of_memory,
};

} // namespace

const sh_services_t* services_table() { return &k_services; }

TaskCall::TaskCall(TaskSink& sink, std::uint64_t max_result) : m_ctx(std::make_unique<sh_context>())
{
    m_ctx->sink = &sink;
    m_ctx->max_result = max_result;
}

TaskCall::~TaskCall() = default;

TaskReport TaskCall::run(const sh_task_t& task, const std::string& payload, const JobInfo& job)
{
    m_ctx->job = job;
    m_ctx->job_info.struct_size = static_cast<uint32_t>(sizeof(sh_job_info_t));
    m_ctx->job_info.attempt = m_ctx->job.attempt;
    m_ctx->job_info.job_id = m_ctx->job.job_id;
    m_ctx->job_info.queue = m_ctx->job.queue.c_str();
    m_ctx->job_info.task = m_ctx->job.task.c_str();
    m_ctx->job_info.deadline_ms = m_ctx->job.deadline_ms;
    m_ctx->has_job = true;
    m_ctx->active.store(true, std::memory_order_release);
    const sh_status_t status = task.run(&k_services, m_ctx.get(), payload.c_str(), payload.size());
    return finish(status);
}

TaskReport TaskCall::run_init(sh_init_fn init)
{
    m_ctx->active.store(true, std::memory_order_release);
    const sh_status_t status = init(&k_services, m_ctx.get());
    TaskReport report = finish(status);
    if (report.status == TaskReport::Status::ok) report.data.clear();  // init has no result
    return report;
}

TaskReport TaskCall::finish(sh_status_t status)
{
    m_ctx->active.store(false, std::memory_order_release);
    std::lock_guard lock(m_ctx->mutex);
    TaskReport report;
    if (m_ctx->result_too_large) {
        report.status = TaskReport::Status::result_too_large;
        report.result_size = m_ctx->refused_size;
        report.permanent = true;
    } else if (status == SH_STATUS_OK) {
        report.status = TaskReport::Status::ok;
        report.data = std::move(m_ctx->result);
    } else if (m_ctx->out_of_memory) {
        report.status = TaskReport::Status::out_of_memory;
        report.result_size = m_ctx->oom_requested;
        if (m_ctx->error_set) report.data = std::move(m_ctx->error);
    } else {
        report.status = TaskReport::Status::error;
        report.permanent = m_ctx->permanent;
        report.data = m_ctx->error_set && !m_ctx->error.empty() ? std::move(m_ctx->error)
                                                                 : std::string("task returned an error without a message");
        if (status != SH_STATUS_ERROR) report.data = "task returned an unknown status " + std::to_string(static_cast<int>(status));
    }
    return report;
}

} // namespace sandhost::plugin
