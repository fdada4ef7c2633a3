/*
 * The legacy_c plugin: routines from legacy/, left as they were, wrapped as sandhost tasks with
 * the helpers of sandhost/legacy.h. Each task reads one string field of its JSON payload:
 *   checksum  {"data": "..."}  -> the Adler-32 of the string's bytes, as a JSON number
 *   reverse   {"text": "..."}  -> the string reversed byte by byte, as a JSON string
 *   parse     {"line": "name = 42"} -> {"name": "name", "value": 42}
 *   mean      {"values": [1, 2, 4.5]} -> 2.5
 *   payment   {"loan": {"principal": 1000, "annual_rate": 0.05, "months": 12}} -> 85.6...
 * reverse leaks a little on every call and parse crashes on a line without '=': both are the
 * legacy code's own defects, which the worker process contains.
 */
#include <sandhost/legacy.h>

#include "legacy/cfgparse.h"
#include "legacy/checksum.h"
#include "legacy/loan.h"
#include "legacy/stats.h"
#include "legacy/strutil.h"

SH_LEGACY_BUFFER_TO_UINT(run_checksum, "data", checksum_adler32)

SH_LEGACY_STRING_TO_STRING(run_reverse, "text", str_reverse)

SH_LEGACY_DOUBLES_TO_DOUBLE(run_mean, "values", mean)

/* cfg_parse_line fits no shape (a struct out and a status code), so it is wrapped by hand. */
static sh_status_t run_parse(const sh_services_t *services, sh_context_t *ctx, const char *payload,
                             size_t payload_size)
{
    char *line = NULL;
    char *name;
    struct cfg_entry entry;
    int code;
    sh_status_t status;

    if (sh_payload_require_string(services, ctx, payload, payload_size, "line", &line, NULL) !=
        SH_STATUS_OK) {
        return SH_STATUS_ERROR;
    }
    code = cfg_parse_line(line, &entry);
    free(line);
    if (code != CFG_OK) {
        /* The same line fails the same way on every attempt. */
        return sh_error_printf(services, ctx, SH_RETRY_NEVER, "cannot parse line: %s",
                               cfg_strerror(code));
    }
    name = sh_json_quote(entry.name, strlen(entry.name));
    if (name == NULL) {
        return sh_error_printf(services, ctx, SH_RETRY_ALLOWED, "out of memory");
    }
    status = sh_result_printf(services, ctx, "{\"name\":%s,\"value\":%ld}", name, entry.value);
    free(name);
    return status;
}

/* loan_payment takes a struct: each field comes from the nested object "loan". */
static sh_status_t run_payment(const sh_services_t *services, sh_context_t *ctx,
                               const char *payload, size_t payload_size)
{
    struct loan loan;
    long long months = 0;

    if (sh_payload_require_double(services, ctx, payload, payload_size, "/loan/principal",
                                  &loan.principal) != SH_STATUS_OK ||
        sh_payload_require_double(services, ctx, payload, payload_size, "/loan/annual_rate",
                                  &loan.annual_rate) != SH_STATUS_OK ||
        sh_payload_require_integer(services, ctx, payload, payload_size, "/loan/months",
                                   &months) != SH_STATUS_OK) {
        return SH_STATUS_ERROR;
    }
    if (months < 1 || months > 1200) {
        return sh_error_printf(services, ctx, SH_RETRY_NEVER,
                               "payload field \"/loan/months\" must be between 1 and 1200");
    }
    loan.months = (int)months;
    return sh_result_double(services, ctx, loan_payment(&loan));
}

static const sh_task_t tasks[] = {
    {"checksum", "Adler-32 of the string field \"data\"", run_checksum},
    {"reverse", "reverses the string field \"text\" (leaks a little per call)", run_reverse},
    {"parse", "parses the \"name = value\" field \"line\" (crashes without '=')", run_parse},
    {"mean", "the mean of the array of numbers \"values\" (an empty one fails: the mean is NaN)", run_mean},
    {"payment", "monthly payment of {\"loan\": {\"principal\", \"annual_rate\", \"months\"}}",
     run_payment},
};

SH_DEFINE_PLUGIN("legacy_c", "1.0.0", tasks, NULL, NULL)
