/* The shout plugin: an example of a plugin built outside the sandhost tree, in C with the SDK.
 *   shout  {"text": "hello", "times": 2}  -> "HELLO HELLO"  ("times" is optional, 1 to 100)
 * It also reports which job and attempt it ran for in the job's log. */
#include <sandhost/sdk.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static sh_status_t run_shout(const sh_services_t *services, sh_context_t *ctx, const char *payload,
                             size_t payload_size)
{
    char *text = NULL;
    long long times = 1;
    sh_payload_status_t found;
    const sh_job_info_t *job = services->job_info(ctx);
    char *loud;
    size_t length;
    long long i;
    sh_status_t status;

    if (sh_payload_require_string(services, ctx, payload, payload_size, "text", &text, NULL) != SH_STATUS_OK) {
        return SH_STATUS_ERROR;
    }
    found = sh_payload_integer(payload, payload_size, "times", &times);
    if (found != SH_PAYLOAD_MISSING && sh_payload_report(services, ctx, found, "times", "an integer") != SH_STATUS_OK) {
        free(text);
        return SH_STATUS_ERROR;
    }
    if (times < 1 || times > 100) {
        free(text);
        return sh_error_printf(services, ctx, SH_RETRY_NEVER, "payload field \"times\" must be between 1 and 100");
    }
    if (job != NULL && job->job_id != 0) {
        char *line = sh_format("job %lld, attempt %u, queue %s", (long long)job->job_id, (unsigned)job->attempt, job->queue);
        if (line != NULL) {
            services->log(ctx, SH_LOG_INFO, line);
            free(line);
        }
    }
    length = strlen(text);
    loud = (char *)malloc((length + 1) * (size_t)times);
    if (loud == NULL) {
        free(text);
        return sh_error_out_of_memory(services, ctx, (length + 1) * (size_t)times, "shouting");
    }
    loud[0] = '\0';
    for (i = 0; i < times; ++i) {
        size_t k;
        char *end = loud + strlen(loud);

        if (i > 0) {
            *end++ = ' ';
        }
        for (k = 0; k < length; ++k) {
            end[k] = (char)toupper((unsigned char)text[k]);
        }
        end[length] = '\0';
    }
    free(text);
    status = sh_result_json_string(services, ctx, loud);
    free(loud);
    return status;
}

static const sh_task_t tasks[] = {
    {"shout", "the string field \"text\" in capitals, \"times\" times", run_shout},
};

SH_DEFINE_PLUGIN("shout", "1.0.0", tasks, NULL, NULL)
