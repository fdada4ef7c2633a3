// A task that leaves processes behind: the host must stop the worker's whole tree, including a
// child that escaped into its own session.
#include "support.h"
#include "tasks.h"

#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace misbehave {
namespace {

constexpr std::int64_t k_max_children = 4096;

// Runs in the forked child, which may have been forked from a multi-threaded process: it calls
// only async-signal-safe functions and never returns into the worker's code.
[[noreturn]] void child_sleep_for_ever(bool own_session)
{
    if (own_session) {
        ::setsid();
    }
    for (;;) {
        ::pause();
    }
}

} // namespace

sh_status_t run_spawn_children(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    const sh_status_t status = guarded(services, ctx, [&] {
        const Payload fields = Payload::parse(std::string_view(payload, payload_size));
        const auto count = fields.integer("count", 0, k_max_children);
        const bool first_in_own_session = fields.boolean_or("setsid", false);
        for (std::int64_t i = 0; i < count; ++i) {
            const bool own_session = first_in_own_session && i == 0;
            const pid_t pid = ::fork();
            if (pid < 0) {
                return fail_with(services, ctx,
                                 errno_message("fork of child " + std::to_string(i + 1) + " of " + std::to_string(count), errno),
                                 SH_RETRY_ALLOWED);
            }
            if (pid == 0) {
                child_sleep_for_ever(own_session);
            }
            const std::string line = "child pid " + std::to_string(pid) + (own_session ? " (own session)" : "");
            services->log(ctx, SH_LOG_INFO, line.c_str());
        }
        return SH_STATUS_OK;
    });
    if (status != SH_STATUS_OK) {
        return status;
    }
    for (;;) {
        ::pause();
    }
}

} // namespace misbehave
