// Tasks that return normally, with a result or an error.
#include "support.h"
#include "tasks.h"

#include <sandhost/plugin.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace misbehave {
namespace {

constexpr std::int64_t k_max_result_bytes = std::int64_t{4} << 30;
constexpr std::int64_t k_max_sleep_ms = std::int64_t{24} * 60 * 60 * 1000;
constexpr std::int64_t k_max_steps = 1'000'000;

} // namespace

sh_status_t run_echo(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    return guarded(services, ctx, [&] { return succeed_with(services, ctx, std::string_view(payload, payload_size)); });
}

sh_status_t run_fail(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    return guarded(services, ctx, [&] {
        const Payload fields = Payload::parse(std::string_view(payload, payload_size));
        const std::string message = fields.string("message");
        const bool permanent = fields.boolean_or("permanent", false);
        return fail_with(services, ctx, message, permanent ? SH_RETRY_NEVER : SH_RETRY_ALLOWED);
    });
}

sh_status_t run_log_lines(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    return guarded(services, ctx, [&] {
        const auto count = Payload::parse(std::string_view(payload, payload_size)).integer("count", 0, k_max_steps);
        for (std::int64_t i = 0; i < count; ++i) {
            const std::string line = "line " + std::to_string(i);
            services->log(ctx, i % 2 ? SH_LOG_WARN : SH_LOG_INFO, line.c_str());
        }
        return succeed_with(services, ctx, "logged");
    });
}

sh_status_t run_big_result(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    return guarded(services, ctx, [&] {
        const auto bytes = Payload::parse(std::string_view(payload, payload_size)).integer("bytes", 0, k_max_result_bytes);
        // A repeating alphabet rather than one letter, so a lost or doubled chunk shows.
        std::string text(static_cast<std::size_t>(bytes), '\0');
        for (std::size_t i = 0; i < text.size(); ++i) {
            text[i] = static_cast<char>('a' + i % 26);
        }
        return succeed_with(services, ctx, text);
    });
}

sh_status_t run_sleep(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    return guarded(services, ctx, [&] {
        sleep_ms(Payload::parse(std::string_view(payload, payload_size)).integer("ms", 0, k_max_sleep_ms));
        return succeed_with(services, ctx, "slept");
    });
}

sh_status_t run_progress(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    return guarded(services, ctx, [&] {
        const Payload fields = Payload::parse(std::string_view(payload, payload_size));
        const auto steps = fields.integer("steps", 0, k_max_steps);
        const auto ms = fields.integer("ms", 0, k_max_sleep_ms);
        for (std::int64_t i = 1; i <= steps; ++i) {
            if (services->cancel_requested(ctx) != 0) {
                return fail_with(services, ctx, "cancelled", SH_RETRY_NEVER);
            }
            const std::string message = "step " + std::to_string(i) + "/" + std::to_string(steps);
            services->progress(ctx, 100.0 * static_cast<double>(i) / static_cast<double>(steps), message.c_str());
            if (i < steps) {
                sleep_ms(ms);
            }
        }
        if (services->cancel_requested(ctx) != 0) {
            return fail_with(services, ctx, "cancelled", SH_RETRY_NEVER);
        }
        return succeed_with(services, ctx, "done");
    });
}

std::string run_throw(std::string_view, sandhost::plugin::Context&)
{
    throw std::runtime_error("boom from throw");
}

std::string run_job_info(std::string_view, sandhost::plugin::Context& ctx)
{
    const auto job = ctx.job();
    const auto deadline_ms =
        job.deadline ? std::chrono::duration_cast<std::chrono::milliseconds>(job.deadline->time_since_epoch()).count() : 0;
    return "{\"job_id\":" + std::to_string(job.job_id) + ",\"attempt\":" + std::to_string(job.attempt) +
           ",\"queue\":" + json_quote(job.queue) + ",\"task\":" + json_quote(job.task) +
           ",\"deadline_ms\":" + std::to_string(deadline_ms) + "}";
}

std::string run_out_of_memory(std::string_view payload, sandhost::plugin::Context&)
{
    const auto mib = Payload::parse(payload).integer("mib", 1, std::int64_t{1} << 30);
    // One allocation too large for the worker's memory limit: new throws std::bad_alloc, and
    // the C++ layer reports it through the out_of_memory service.
    std::string block(static_cast<std::size_t>(mib) << 20, 'x');
    return std::to_string(block.size());
}

} // namespace misbehave
