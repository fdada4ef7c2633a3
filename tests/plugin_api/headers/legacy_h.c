/* Compiles legacy.h alone, as C here and as C++ through legacy_h.cpp, and expands every shape
 * macro and helper so that they are checked under the same warnings. */
#include <sandhost/legacy.h>

static unsigned long sum_bytes(const unsigned char *data, size_t size)
{
    unsigned long sum = 0;
    size_t i;

    for (i = 0; i < size; ++i) {
        sum += data[i];
    }
    return sum;
}

static long length_of(const char *text)
{
    return (long)strlen(text);
}

static char *duplicate(const char *text)
{
    char *copy = (char *)malloc(strlen(text) + 1);

    if (copy != NULL) {
        strcpy(copy, text);
    }
    return copy;
}

SH_LEGACY_BUFFER_TO_UINT(run_sum, "data", sum_bytes)
SH_LEGACY_STRING_TO_INT(run_length, "text", length_of)
SH_LEGACY_STRING_TO_STRING(run_duplicate, "text", duplicate)

static sh_status_t run_by_hand(const sh_services_t *services, sh_context_t *ctx,
                               const char *payload, size_t payload_size)
{
    long long count = 0;
    char *name = NULL;
    char *quoted;
    sh_status_t status;

    if (sh_payload_require_integer(services, ctx, payload, payload_size, "count", &count) !=
            SH_STATUS_OK ||
        sh_payload_require_string(services, ctx, payload, payload_size, "name", &name, NULL) !=
            SH_STATUS_OK) {
        return SH_STATUS_ERROR;
    }
    if (count < 0) {
        free(name);
        return sh_error_printf(services, ctx, SH_RETRY_NEVER, "count %lld is negative", count);
    }
    quoted = sh_json_quote(name, strlen(name));
    free(name);
    if (quoted == NULL) {
        return sh_error_printf(services, ctx, SH_RETRY_ALLOWED, "out of memory");
    }
    status = sh_result_printf(services, ctx, "{\"name\":%s,\"count\":%lld}", quoted, count);
    free(quoted);
    if (status == SH_STATUS_OK && count == 0) {
        status = sh_result_string(services, ctx, "{}");
    }
    if (status == SH_STATUS_OK && count == 1) {
        status = sh_result_json_string(services, ctx, "one");
    }
    if (status == SH_STATUS_OK && count == 2) {
        status = sh_result_bytes(services, ctx, "two", 3);
    }
    return status;
}

static const sh_task_t legacy_tasks[] = {
    {"sum", "buffer in, integer out", run_sum},
    {"length", "string in, integer out", run_length},
    {"duplicate", "string in, string out", run_duplicate},
    {"by_hand", "helpers used directly", run_by_hand},
};

SH_DEFINE_PLUGIN("legacy_check", "0.0.0", legacy_tasks, NULL, NULL)
