/* Compiles sdk.h and payload.h alone, as C here and as C++ through sdk_h.cpp, calling every
 * reader and helper so that the declarations are checked under the same warnings. */
#include <sandhost/sdk.h>

#include <stdlib.h>

static sh_status_t run_all(const sh_services_t *services, sh_context_t *ctx, const char *payload,
                           size_t payload_size)
{
    char *text = NULL;
    long long integer = 0;
    double number = 0;
    int flag = 0;
    double *numbers = NULL;
    long long *integers = NULL;
    char **strings = NULL;
    size_t count = 0;
    const char *object = NULL;
    size_t object_size = 0;
    const char *value = NULL;
    sh_json_kind_t kind = SH_JSON_OTHER;
    char formatted[32];

    if (sh_payload_require_string(services, ctx, payload, payload_size, "s", &text, NULL) !=
            SH_STATUS_OK ||
        sh_payload_require_integer(services, ctx, payload, payload_size, "i", &integer) !=
            SH_STATUS_OK ||
        sh_payload_require_double(services, ctx, payload, payload_size, "/o/d", &number) !=
            SH_STATUS_OK ||
        sh_payload_require_boolean(services, ctx, payload, payload_size, "b", &flag) !=
            SH_STATUS_OK ||
        sh_payload_require_object(services, ctx, payload, payload_size, "o", &object,
                                  &object_size) != SH_STATUS_OK ||
        sh_payload_require_array_length(services, ctx, payload, payload_size, "n", &count) !=
            SH_STATUS_OK) {
        free(text);
        return SH_STATUS_ERROR;
    }
    free(text);
    if (sh_payload_require_doubles(services, ctx, payload, payload_size, "n", &numbers, &count) ==
        SH_STATUS_OK) {
        free(numbers);
    }
    if (sh_payload_require_integers(services, ctx, payload, payload_size, "n", &integers,
                                    &count) == SH_STATUS_OK) {
        free(integers);
    }
    if (sh_payload_require_strings(services, ctx, payload, payload_size, "t", &strings, &count) ==
        SH_STATUS_OK) {
        free(strings);
    }
    if (sh_payload_find(object, object_size, "d", &value, &kind, NULL) != SH_PAYLOAD_OK ||
        kind != SH_JSON_NUMBER) {
        return sh_payload_report(services, ctx, SH_PAYLOAD_WRONG_TYPE, "/o/d", "a number");
    }
    if (!sh_json_format_double(number, formatted, sizeof formatted)) {
        return sh_error_out_of_memory(services, ctx, 0, "formatting");
    }
    if (flag) {
        return sh_result_double(services, ctx, number + (double)integer);
    }
    return sh_result_printf(services, ctx, "\"%s %s\"", formatted, sh_sdk_version());
}

static const sh_task_t sdk_tasks[] = {
    {"all", "uses every SDK function", run_all},
};

SH_DEFINE_PLUGIN("sdk_check", "0.0.0", sdk_tasks, NULL, NULL)
