// A task that leaves processes behind: the host must stop the worker's whole tree, including a
// child that escaped into its own session.
#include "support.h"
#include "tasks.h"

#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
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

// The middle process of a double fork: forks the grandchild, which reports its pid on `report`
// and sleeps in a session of its own, then exits so that the grandchild is re-parented.
[[noreturn]] void middle(int report)
{
    const pid_t grandchild = ::fork();
    if (grandchild == 0) {
        ::setsid();
        const pid_t self = ::getpid();
        if (::write(report, &self, sizeof self) != static_cast<ssize_t>(sizeof self)) {
            ::_exit(1);
        }
        ::close(report);
        child_sleep_for_ever(false);
    }
    ::_exit(grandchild < 0 ? 1 : 0);
}

} // namespace

sh_status_t run_escape(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    bool hang = false;
    const sh_status_t status = guarded(services, ctx, [&] {
        hang = Payload::parse(std::string_view(payload, payload_size)).boolean_or("hang", false);
        // The worker is its descendants' subreaper: without that, an orphan goes to whoever is
        // the next subreaper up (the host, a fork server) or to init, out of the worker's tree.
        if (::prctl(PR_SET_CHILD_SUBREAPER, 0) != 0) {
            return fail_with(services, ctx, errno_message("prctl(PR_SET_CHILD_SUBREAPER, 0)", errno), SH_RETRY_NEVER);
        }
        int report[2];
        if (::pipe(report) != 0) {
            return fail_with(services, ctx, errno_message("pipe", errno), SH_RETRY_ALLOWED);
        }
        const pid_t child = ::fork();
        if (child == 0) {
            ::close(report[0]);
            middle(report[1]);
        }
        ::close(report[1]);
        if (child < 0) {
            ::close(report[0]);
            return fail_with(services, ctx, errno_message("fork", errno), SH_RETRY_ALLOWED);
        }
        int child_status = 0;
        while (::waitpid(child, &child_status, 0) < 0 && errno == EINTR) {
        }
        pid_t grandchild = -1;
        const ssize_t n = ::read(report[0], &grandchild, sizeof grandchild);
        ::close(report[0]);
        if (n != static_cast<ssize_t>(sizeof grandchild)) {
            return fail_with(services, ctx, "the grandchild did not report its pid", SH_RETRY_ALLOWED);
        }
        const std::string line = "escaped pid " + std::to_string(grandchild);
        services->log(ctx, SH_LOG_INFO, line.c_str());
        return succeed_with(services, ctx, "{\"pid\":" + std::to_string(grandchild) + "}");
    });
    if (status != SH_STATUS_OK || !hang) {
        return status;
    }
    for (;;) {
        ::pause();
    }
}

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
