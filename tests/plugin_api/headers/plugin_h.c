/* Compiles plugin.h alone, as C here and as C++ through plugin_h.cpp, and expands its macros so
 * that they are checked under the same warnings. */
#include <sandhost/plugin.h>

static sh_status_t run_check(const sh_services_t *services, sh_context_t *ctx, const char *payload,
                             size_t payload_size)
{
    if (SH_HAS_SERVICE(services, get_extension) &&
        services->get_extension(ctx, "org.sandhost.check/1") != NULL) {
        services->log(ctx, SH_LOG_DEBUG, "extension found");
    }
    if (services->cancel_requested(ctx)) {
        services->set_error(ctx, "cancelled", SH_RETRY_NEVER);
        return SH_STATUS_ERROR;
    }
    if (SH_HAS_SERVICE(services, job_info)) {
        const sh_job_info_t *job = services->job_info(ctx);

        if (job != NULL && SH_HAS_FIELD(sh_job_info_t, job, deadline_ms) && job->deadline_ms != 0 &&
            job->attempt > 1 && job->job_id > 0 && job->queue[0] != '\0' && job->task[0] != '\0') {
            services->log(ctx, SH_LOG_INFO, "a later attempt with a deadline");
        }
    }
    if (payload_size > ((size_t)1 << 40) && SH_HAS_SERVICE(services, out_of_memory)) {
        services->out_of_memory(ctx, payload_size);
        return SH_STATUS_ERROR;
    }
    services->progress(ctx, 50.0, NULL);
    services->heartbeat(ctx);
    if (services->set_result(ctx, payload, payload_size) != SH_RESULT_STORED) {
        return SH_STATUS_ERROR;
    }
    return SH_STATUS_OK;
}

static sh_status_t init_check(const sh_services_t *services, sh_context_t *ctx)
{
    services->log(ctx, SH_LOG_INFO, "init");
    return SH_STATUS_OK;
}

static void shutdown_check(void) {}

static const int check_capability = 1;

static const void *check_extension(const char *id)
{
    return id[0] == 'o' ? &check_capability : NULL;
}

#if SH_ABI_VERSION < SH_ABI_MAKE_VERSION(1u, 0u) || SH_ABI_MAJOR(SH_ABI_VERSION) != 1u
#error "the version macros must work in #if"
#endif

static const sh_task_t check_tasks[] = {
    {"check", "uses every service", run_check},
};

SH_DEFINE_PLUGIN_WITH_EXTENSIONS("check", "0.0.0", check_tasks, init_check, shutdown_check,
                                 check_extension)
