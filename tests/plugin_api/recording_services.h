// A services table that plays the host for tests that call plugin code in their own process:
// every service records what the task did in the context (sh_context is the host's to define).
#pragma once

#include <sandhost/plugin.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct sh_context {
    std::vector<std::pair<sh_log_level_t, std::string>> logs;
    std::vector<std::pair<double, std::string>> progress;
    std::optional<std::string> result;
    std::optional<std::string> error;
    sh_retry_t retry = SH_RETRY_ALLOWED;
    int heartbeats = 0;
    bool cancel = false;                 // what cancel_requested answers
    std::size_t result_cap = SIZE_MAX;   // set_result refuses more
    sh_job_info_t job{static_cast<std::uint32_t>(sizeof(sh_job_info_t)), 2, 41, "tests", "", 0};  // job_info's answer
    std::optional<std::size_t> out_of_memory;  // what out_of_memory was told
};

inline const sh_services_t k_recording_services = {
    SH_ABI_VERSION,
    static_cast<std::uint32_t>(sizeof(sh_services_t)),
    [](sh_context_t* ctx, sh_log_level_t level, const char* message) { ctx->logs.emplace_back(level, message); },
    [](sh_context_t* ctx, double percent, const char* message) {
        ctx->progress.emplace_back(percent, message != nullptr ? message : "");
    },
    [](sh_context_t* ctx) -> std::int32_t { return ctx->cancel ? 1 : 0; },
    [](sh_context_t* ctx) { ++ctx->heartbeats; },
    [](sh_context_t* ctx, const void* data, std::size_t size) -> std::int32_t {
        if (size > ctx->result_cap) {
            return SH_RESULT_TOO_LARGE;
        }
        ctx->result = std::string(static_cast<const char*>(data), size);
        return SH_RESULT_STORED;
    },
    [](sh_context_t* ctx, const char* message, sh_retry_t retry) {
        ctx->error = message;
        ctx->retry = retry;
    },
    [](sh_context_t*, const char*) -> const void* { return nullptr; },
    [](sh_context_t* ctx) -> const sh_job_info_t* { return &ctx->job; },
    [](sh_context_t* ctx, std::size_t requested) { ctx->out_of_memory = requested; },
};
