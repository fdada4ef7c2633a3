// Compiles plugin.hpp alone and expands SH_CPP_TASK and SH_DEFINE_PLUGIN in C++.
#include <sandhost/plugin.hpp>

namespace {

std::string run_check(std::string_view payload, sandhost::plugin::Context& ctx)
{
    ctx.log(sandhost::plugin::Level::debug, "checking");
    ctx.progress(10.0);
    ctx.progress(20.0, "twenty");
    ctx.heartbeat();
    const sandhost::plugin::JobInfo job = ctx.job();
    if (job.deadline && job.attempt > 1 && job.job_id > 0 && !job.queue.empty() && !job.task.empty()) {
        ctx.log(sandhost::plugin::Level::info, "a later attempt");
    }
    if (ctx.cancel_requested()) {
        throw sandhost::plugin::TaskError("cancelled", sandhost::plugin::Retry::never);
    }
    if (ctx.services() == nullptr || ctx.raw() == nullptr) {
        throw std::runtime_error("no services");
    }
    return std::string(payload);
}

const sh_task_t k_tasks[] = {
    SH_CPP_TASK("check", "uses the C++ layer", run_check),
};

} // namespace

SH_DEFINE_PLUGIN("cpp_check", "0.0.0", k_tasks, nullptr, nullptr)
