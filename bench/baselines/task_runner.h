/* Calls the trivial plugin's task the way a worker does, with a minimal services table: the
 * baselines pay for the same function call as sandhost's modes, and nothing else. */
#ifndef SANDHOST_BENCH_TASK_RUNNER_H
#define SANDHOST_BENCH_TASK_RUNNER_H

#include <sandhost/plugin.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

struct sh_context {
    char result[64];
    size_t size;
};

static void bench_log(sh_context_t *c, sh_log_level_t l, const char *m) { (void)c; (void)l; (void)m; }
static void bench_progress(sh_context_t *c, double p, const char *m) { (void)c; (void)p; (void)m; }
static int32_t bench_cancel(sh_context_t *c) { (void)c; return 0; }
static void bench_heartbeat(sh_context_t *c) { (void)c; }
static int32_t bench_set_result(sh_context_t *c, const void *data, size_t size)
{
    if (size >= sizeof c->result) return SH_RESULT_TOO_LARGE;
    memcpy(c->result, data, size);
    c->size = size;
    return SH_RESULT_STORED;
}
static void bench_set_error(sh_context_t *c, const char *m, sh_retry_t r) { (void)c; (void)m; (void)r; }
static const void *bench_extension(sh_context_t *c, const char *id) { (void)c; (void)id; return NULL; }
static const sh_job_info_t *bench_job_info(sh_context_t *c) { (void)c; return NULL; }
static void bench_out_of_memory(sh_context_t *c, size_t requested) { (void)c; (void)requested; }

static const sh_services_t bench_services = {SH_ABI_VERSION, sizeof(sh_services_t), bench_log, bench_progress, bench_cancel,
                                             bench_heartbeat, bench_set_result, bench_set_error, bench_extension,
                                             bench_job_info, bench_out_of_memory};

/* Loads the plugin and returns its first task, or NULL. */
static const sh_task_t *bench_load_task(const char *path)
{
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    sh_entry_fn entry;
    if (!library) return NULL;
    entry = (sh_entry_fn)dlsym(library, SH_ENTRY_SYMBOL);
    return entry ? &entry()->tasks[0] : NULL;
}

/* Runs the task on a NUL-terminated request; the reply (with a newline) goes to out. */
static size_t bench_run(const sh_task_t *task, const char *request, char *out, size_t capacity)
{
    struct sh_context ctx;
    ctx.size = 0;
    task->run(&bench_services, &ctx, request, strlen(request));
    if (ctx.size + 1 > capacity) return 0;
    memcpy(out, ctx.result, ctx.size);
    out[ctx.size] = '\n';
    return ctx.size + 1;
}

#endif
