// Tasks that end the worker process without reporting a result. Each must do exactly what its
// name says even when optimised and when built with ASan and UBSan, because the runner's tests
// check the signal or exit code the worker dies with.
#include "support.h"
#include "tasks.h"

#include <climits>
#include <cstdlib>

namespace misbehave {
namespace {

// Read through a volatile, so the optimiser cannot see the pointer is null: a store through a
// known null pointer would be replaced with a trap instruction, which raises SIGILL instead.
int* volatile g_null_target = nullptr;

// A sink the recursion writes to, so no frame can be optimised away.
volatile unsigned g_depth_sink = 0;

// UBSan would report the null store and abort (SIGABRT): the store must reach the hardware.
__attribute__((no_sanitize("undefined", "address"))) void store_through_null()
{
    *static_cast<int volatile*>(g_null_target) = 1;
}

// Unbounded recursion the compiler cannot turn into a loop: each frame holds a volatile buffer
// that is read again after the recursive call, so the call is never in tail position.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
__attribute__((noinline)) unsigned recurse(unsigned depth)
{
    volatile unsigned char frame[512];
    frame[0] = static_cast<unsigned char>(depth);
    frame[sizeof frame - 1] = frame[0];
    const unsigned below = recurse(depth + 1);
    return below + frame[sizeof frame - 1];
}
#pragma GCC diagnostic pop

} // namespace

sh_status_t run_segfault(const sh_services_t* services, sh_context_t* ctx, const char*, size_t) noexcept
{
    store_through_null();
    return fail_with(services, ctx, "the store through a null pointer did not crash", SH_RETRY_NEVER);
}

sh_status_t run_abort(const sh_services_t*, sh_context_t*, const char*, size_t) noexcept
{
    std::abort();
}

sh_status_t run_stack_overflow(const sh_services_t* services, sh_context_t* ctx, const char*, size_t) noexcept
{
    g_depth_sink = recurse(0);
    return fail_with(services, ctx, "unbounded recursion returned", SH_RETRY_NEVER);
}

sh_status_t run_exit(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    return guarded(services, ctx, [&]() -> sh_status_t {
        const auto code = Payload::parse(std::string_view(payload, payload_size)).integer("code", INT_MIN, INT_MAX);
        std::exit(static_cast<int>(code));
    });
}

} // namespace misbehave
