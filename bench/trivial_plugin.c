/* The benchmark's task: the payload is a whole number, the result is that number plus one.
 * The baselines call the same function, so every figure does the same work. */
#include <sandhost/plugin.h>

#include <stdio.h>
#include <stdlib.h>

static sh_status_t run_plus_one(const sh_services_t *services, sh_context_t *ctx, const char *payload, size_t size)
{
    char out[32];
    const long long value = strtoll(payload, NULL, 10);
    const int length = snprintf(out, sizeof out, "%lld", value + 1);
    (void)size;
    services->set_result(ctx, out, (size_t)length);
    return SH_STATUS_OK;
}

static sh_status_t run_hang(const sh_services_t *services, sh_context_t *ctx, const char *payload, size_t size)
{
    volatile unsigned long spins = 0;
    (void)ctx; (void)payload; (void)size;
    while (services != NULL) ++spins;
    return SH_STATUS_OK;
}

static const sh_task_t tasks[] = {
    {"plus_one", "returns its payload, a number, plus one", run_plus_one},
    {"hang", "busy-loops for ever (for timeout measurements)", run_hang},
};
SH_DEFINE_PLUGIN("trivial", "1.0", tasks, NULL, NULL)
