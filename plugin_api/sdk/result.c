#include <sandhost/sdk.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

sh_status_t sh_result_bytes(const sh_services_t *services, sh_context_t *ctx, const void *data,
                            size_t size)
{
    if (services->set_result(ctx, data, size) != SH_RESULT_STORED) {
        services->set_error(ctx, "result exceeds the job's result cap", SH_RETRY_NEVER);
        return SH_STATUS_ERROR;
    }
    return SH_STATUS_OK;
}

sh_status_t sh_result_string(const sh_services_t *services, sh_context_t *ctx, const char *text)
{
    return sh_result_bytes(services, ctx, text, text == NULL ? 0 : strlen(text));
}

sh_status_t sh_result_json_string(const sh_services_t *services, sh_context_t *ctx,
                                  const char *text)
{
    const size_t size = text == NULL ? 0 : strlen(text);
    char *quoted = sh_json_quote(text, size);
    sh_status_t status;

    if (quoted == NULL) {
        return sh_error_out_of_memory(services, ctx, size * 6 + 3, "quoting the result");
    }
    status = sh_result_string(services, ctx, quoted);
    free(quoted);
    return status;
}

sh_status_t sh_result_double(const sh_services_t *services, sh_context_t *ctx, double value)
{
    char text[32];

    if (!sh_json_format_double(value, text, sizeof text)) {
        return sh_error_printf(services, ctx, SH_RETRY_NEVER,
                               "the result is %s, which JSON cannot carry",
                               isnan(value) ? "not a number (NaN)" : "infinite");
    }
    return sh_result_string(services, ctx, text);
}

sh_status_t sh_result_printf(const sh_services_t *services, sh_context_t *ctx, const char *format,
                             ...)
{
    va_list args;
    char *text;
    sh_status_t status;

    va_start(args, format);
    text = sh_vformat(format, args);
    va_end(args);
    if (text == NULL) {
        return sh_error_out_of_memory(services, ctx, 0, "formatting the result");
    }
    status = sh_result_string(services, ctx, text);
    free(text);
    return status;
}

sh_status_t sh_error_printf(const sh_services_t *services, sh_context_t *ctx, sh_retry_t retry,
                            const char *format, ...)
{
    va_list args;
    char *text;

    va_start(args, format);
    text = sh_vformat(format, args);
    va_end(args);
    services->set_error(ctx, text != NULL ? text : format, retry);
    free(text);
    return SH_STATUS_ERROR;
}

sh_status_t sh_error_out_of_memory(const sh_services_t *services, sh_context_t *ctx,
                                   size_t requested, const char *what)
{
    /* Formatting needs memory too: a fixed buffer does not. */
    char message[256];
    const char *prefix = "out of memory ";
    size_t prefix_size = strlen(prefix);
    size_t what_size = what == NULL ? 0 : strlen(what);

    if (what_size > sizeof message - prefix_size - 1) {
        what_size = sizeof message - prefix_size - 1;
    }
    memcpy(message, prefix, prefix_size);
    if (what_size > 0) {
        memcpy(message + prefix_size, what, what_size);
    }
    message[prefix_size + what_size] = '\0';
    if (what_size == 0) {
        message[prefix_size - 1] = '\0';
    }
    services->set_error(ctx, message, SH_RETRY_ALLOWED);
    if (SH_HAS_SERVICE(services, out_of_memory)) {
        services->out_of_memory(ctx, requested);
    }
    return SH_STATUS_ERROR;
}
