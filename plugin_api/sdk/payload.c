/* Reading the payload: validate the whole text once per read, then walk to the key's value. */
#include "json_scan.h"
#include "numbers.h"

#include <sandhost/sdk.h>

#include <stdlib.h>
#include <string.h>

/* Where a key's value is: [begin, end) of its raw text, and what it is. */
typedef struct sh_found {
    const char *begin;
    const char *end;
    sh_json_kind_t kind;
} sh_found_t;

/* The next member of the object being walked (it->pos inside it, after '{' or a member). The
 * text is known to be valid. Returns 0 after the last member. */
static int sh_object_next(sh_json_scan_t *it, const char **raw_name, size_t *raw_name_size,
                          sh_found_t *value)
{
    sh_json_skip_space(it);
    if (*it->pos == ',') {
        ++it->pos;
        sh_json_skip_space(it);
    }
    if (*it->pos == '}') {
        return 0;
    }
    *raw_name = it->pos;
    sh_json_string(it, NULL, NULL);
    *raw_name_size = (size_t)(it->pos - *raw_name);
    sh_json_skip_space(it);
    ++it->pos; /* ':' */
    sh_json_skip_space(it);
    value->begin = it->pos;
    sh_json_value(it, 0, &value->kind);
    value->end = it->pos;
    return 1;
}

/* The next element of the array being walked, as sh_object_next. */
static int sh_array_next(sh_json_scan_t *it, sh_found_t *element)
{
    sh_json_skip_space(it);
    if (*it->pos == ',') {
        ++it->pos;
        sh_json_skip_space(it);
    }
    if (*it->pos == ']') {
        return 0;
    }
    element->begin = it->pos;
    sh_json_value(it, 0, &element->kind);
    element->end = it->pos;
    return 1;
}

static void sh_walk_begin(sh_json_scan_t *it, const sh_found_t *container)
{
    it->pos = container->begin + 1;
    it->end = container->end;
}

/* Replaces *at with the member `name` of the object at *at (the last one of that name). */
static sh_payload_status_t sh_step_member(sh_found_t *at, const char *name, size_t name_size)
{
    sh_json_scan_t it;
    const char *raw_name;
    size_t raw_name_size;
    sh_found_t value;
    int found = 0;
    int no_memory = 0;
    sh_found_t match = *at;

    sh_walk_begin(&it, at);
    while (sh_object_next(&it, &raw_name, &raw_name_size, &value)) {
        if (sh_json_key_equals(raw_name, raw_name_size, name, name_size, &no_memory)) {
            match = value;
            found = 1;
        }
        if (no_memory) {
            return SH_PAYLOAD_NO_MEMORY;
        }
    }
    if (!found) {
        return SH_PAYLOAD_MISSING;
    }
    *at = match;
    return SH_PAYLOAD_OK;
}

/* Replaces *at with the element at the index written in `index` of the array at *at. */
static sh_payload_status_t sh_step_element(sh_found_t *at, const char *index, size_t index_size)
{
    sh_json_scan_t it;
    sh_found_t element;
    size_t wanted = 0;
    size_t i;

    /* RFC 6901: decimal digits, no leading zero, no sign. */
    if (index_size == 0 || (index_size > 1 && index[0] == '0')) {
        return SH_PAYLOAD_MISSING;
    }
    for (i = 0; i < index_size; ++i) {
        if (index[i] < '0' || index[i] > '9' || wanted > (SIZE_MAX - 9) / 10) {
            return SH_PAYLOAD_MISSING;
        }
        wanted = wanted * 10 + (size_t)(index[i] - '0');
    }
    sh_walk_begin(&it, at);
    for (i = 0; sh_array_next(&it, &element); ++i) {
        if (i == wanted) {
            *at = element;
            return SH_PAYLOAD_OK;
        }
    }
    return SH_PAYLOAD_MISSING;
}

/* Follows the JSON Pointer key (starting with '/') from the object at *at. */
static sh_payload_status_t sh_follow_pointer(sh_found_t *at, const char *key)
{
    const char *segment = key + 1;
    char *name = (char *)malloc(strlen(key) + 1);
    sh_payload_status_t status = SH_PAYLOAD_OK;

    if (name == NULL) {
        return SH_PAYLOAD_NO_MEMORY;
    }
    for (;;) {
        const char *segment_end = strchr(segment, '/');
        size_t name_size = 0;
        const char *p;

        if (segment_end == NULL) {
            segment_end = segment + strlen(segment);
        }
        for (p = segment; p < segment_end; ++p) {
            if (*p == '~' && p + 1 < segment_end && (p[1] == '0' || p[1] == '1')) {
                name[name_size++] = (char)(p[1] == '0' ? '~' : '/');
                ++p;
            } else {
                name[name_size++] = *p;
            }
        }
        if (at->kind == SH_JSON_OBJECT) {
            status = sh_step_member(at, name, name_size);
        } else if (at->kind == SH_JSON_ARRAY) {
            status = sh_step_element(at, name, name_size);
        } else {
            status = SH_PAYLOAD_MISSING;
        }
        if (status != SH_PAYLOAD_OK || *segment_end == '\0') {
            break;
        }
        segment = segment_end + 1;
    }
    free(name);
    return status;
}

/* Validates the whole payload, then finds key in it. */
static sh_payload_status_t sh_locate(const char *payload, size_t payload_size, const char *key,
                                     sh_found_t *found, size_t *error_offset)
{
    sh_json_scan_t scan;
    sh_found_t root;
    sh_payload_status_t status;

    scan.pos = payload;
    scan.end = payload + payload_size;
    sh_json_skip_space(&scan);
    root.begin = scan.pos;
    if (!sh_json_value(&scan, 0, &root.kind)) {
        goto invalid;
    }
    root.end = scan.pos;
    sh_json_skip_space(&scan);
    if (scan.pos != scan.end) {
        goto invalid;
    }
    if (root.kind != SH_JSON_OBJECT) {
        return SH_PAYLOAD_NOT_OBJECT;
    }
    status = key[0] == '/' ? sh_follow_pointer(&root, key) : sh_step_member(&root, key, strlen(key));
    if (status == SH_PAYLOAD_OK) {
        *found = root;
    }
    return status;

invalid:
    if (error_offset != NULL) {
        *error_offset = (size_t)(scan.pos - payload);
    }
    return SH_PAYLOAD_INVALID;
}

/* sh_locate, then the value must be of `kind`. */
static sh_payload_status_t sh_locate_kind(const char *payload, size_t payload_size,
                                          const char *key, sh_json_kind_t kind, sh_found_t *found)
{
    sh_payload_status_t status = sh_locate(payload, payload_size, key, found, NULL);

    if (status == SH_PAYLOAD_OK && found->kind != kind) {
        return SH_PAYLOAD_WRONG_TYPE;
    }
    return status;
}

sh_payload_status_t sh_payload_find(const char *payload, size_t payload_size, const char *key,
                                    const char **value, sh_json_kind_t *kind, size_t *error_offset)
{
    sh_found_t found;
    sh_payload_status_t status = sh_locate(payload, payload_size, key, &found, error_offset);

    if (status == SH_PAYLOAD_OK) {
        *value = found.begin;
        *kind = found.kind;
    }
    return status;
}

/* Decodes the string value at found into a new buffer. */
static sh_payload_status_t sh_decode_string(const sh_found_t *found, char **out, size_t *size)
{
    sh_json_scan_t scan;
    /* The decoded string is never longer than its raw text without the quotes. */
    char *text = (char *)malloc((size_t)(found->end - found->begin));

    if (text == NULL) {
        return SH_PAYLOAD_NO_MEMORY;
    }
    scan.pos = found->begin;
    scan.end = found->end;
    sh_json_string(&scan, text, size);
    text[*size] = '\0';
    *out = text;
    return SH_PAYLOAD_OK;
}

sh_payload_status_t sh_payload_string(const char *payload, size_t payload_size, const char *key,
                                      char **out, size_t *out_size)
{
    sh_found_t found;
    sh_payload_status_t status = sh_locate_kind(payload, payload_size, key, SH_JSON_STRING, &found);
    size_t size = 0;

    *out = NULL;
    if (status != SH_PAYLOAD_OK) {
        return status;
    }
    status = sh_decode_string(&found, out, &size);
    if (status != SH_PAYLOAD_OK) {
        return status;
    }
    if (out_size != NULL) {
        *out_size = size;
    } else if (strlen(*out) != size) {
        free(*out);
        *out = NULL;
        return SH_PAYLOAD_WRONG_TYPE;
    }
    return SH_PAYLOAD_OK;
}

sh_payload_status_t sh_payload_integer(const char *payload, size_t payload_size, const char *key,
                                       long long *out)
{
    sh_found_t found;
    sh_payload_status_t status =
        sh_locate_kind(payload, payload_size, key, SH_JSON_INTEGER, &found);

    if (status != SH_PAYLOAD_OK) {
        return status;
    }
    return sh_parse_integer(found.begin, found.end, out);
}

sh_payload_status_t sh_payload_double(const char *payload, size_t payload_size, const char *key,
                                      double *out)
{
    sh_found_t found;
    sh_payload_status_t status = sh_locate(payload, payload_size, key, &found, NULL);

    if (status != SH_PAYLOAD_OK) {
        return status;
    }
    if (found.kind != SH_JSON_INTEGER && found.kind != SH_JSON_NUMBER) {
        return SH_PAYLOAD_WRONG_TYPE;
    }
    return sh_parse_double(found.begin, found.end, out);
}

sh_payload_status_t sh_payload_boolean(const char *payload, size_t payload_size, const char *key,
                                       int *out)
{
    sh_found_t found;
    sh_payload_status_t status =
        sh_locate_kind(payload, payload_size, key, SH_JSON_BOOLEAN, &found);

    if (status == SH_PAYLOAD_OK) {
        *out = found.begin[0] == 't';
    }
    return status;
}

/* The array at key and how many elements it has; with `numbers`, every element must be a
 * number (any, or an integer when integers is set). */
static sh_payload_status_t sh_locate_array(const char *payload, size_t payload_size,
                                           const char *key, sh_found_t *array, size_t *count,
                                           int numbers, int integers)
{
    sh_payload_status_t status = sh_locate_kind(payload, payload_size, key, SH_JSON_ARRAY, array);
    sh_json_scan_t it;
    sh_found_t element;

    *count = 0;
    if (status != SH_PAYLOAD_OK) {
        return status;
    }
    sh_walk_begin(&it, array);
    while (sh_array_next(&it, &element)) {
        if (numbers && element.kind != SH_JSON_INTEGER &&
            (integers || element.kind != SH_JSON_NUMBER)) {
            *count = 0;
            return SH_PAYLOAD_WRONG_TYPE;
        }
        ++*count;
    }
    return SH_PAYLOAD_OK;
}

sh_payload_status_t sh_payload_doubles(const char *payload, size_t payload_size, const char *key,
                                       double **out, size_t *count)
{
    sh_found_t array;
    sh_json_scan_t it;
    sh_found_t element;
    double *values;
    size_t n = 0;
    sh_payload_status_t status = sh_locate_array(payload, payload_size, key, &array, count, 1, 0);

    *out = NULL;
    if (status != SH_PAYLOAD_OK || *count == 0) {
        return status;
    }
    values = (double *)malloc(*count * sizeof(double));
    if (values == NULL) {
        *count = 0;
        return SH_PAYLOAD_NO_MEMORY;
    }
    sh_walk_begin(&it, &array);
    while (sh_array_next(&it, &element)) {
        status = sh_parse_double(element.begin, element.end, &values[n++]);
        if (status != SH_PAYLOAD_OK) {
            free(values);
            *count = 0;
            return status;
        }
    }
    *out = values;
    return SH_PAYLOAD_OK;
}

sh_payload_status_t sh_payload_integers(const char *payload, size_t payload_size,
                                        const char *key, long long **out, size_t *count)
{
    sh_found_t array;
    sh_json_scan_t it;
    sh_found_t element;
    long long *values;
    size_t n = 0;
    sh_payload_status_t status = sh_locate_array(payload, payload_size, key, &array, count, 1, 1);

    *out = NULL;
    if (status != SH_PAYLOAD_OK || *count == 0) {
        return status;
    }
    values = (long long *)malloc(*count * sizeof(long long));
    if (values == NULL) {
        *count = 0;
        return SH_PAYLOAD_NO_MEMORY;
    }
    sh_walk_begin(&it, &array);
    while (sh_array_next(&it, &element)) {
        status = sh_parse_integer(element.begin, element.end, &values[n++]);
        if (status != SH_PAYLOAD_OK) {
            free(values);
            *count = 0;
            return status;
        }
    }
    *out = values;
    return SH_PAYLOAD_OK;
}

sh_payload_status_t sh_payload_strings(const char *payload, size_t payload_size, const char *key,
                                       char ***out, size_t *count)
{
    sh_found_t array;
    sh_json_scan_t it;
    sh_found_t element;
    size_t text_bytes = 0;
    size_t n = 0;
    char **strings;
    char *text;
    sh_payload_status_t status = sh_locate_array(payload, payload_size, key, &array, count, 0, 0);

    *out = NULL;
    if (status != SH_PAYLOAD_OK) {
        return status;
    }
    sh_walk_begin(&it, &array);
    while (sh_array_next(&it, &element)) {
        if (element.kind != SH_JSON_STRING) {
            *count = 0;
            return SH_PAYLOAD_WRONG_TYPE;
        }
        /* Raw length bounds the decoded length plus its NUL (the quotes make room). */
        text_bytes += (size_t)(element.end - element.begin);
    }
    strings = (char **)malloc((*count + 1) * sizeof(char *) + text_bytes);
    if (strings == NULL) {
        *count = 0;
        return SH_PAYLOAD_NO_MEMORY;
    }
    text = (char *)(strings + *count + 1);
    sh_walk_begin(&it, &array);
    while (sh_array_next(&it, &element)) {
        sh_json_scan_t scan;
        size_t size = 0;

        scan.pos = element.begin;
        scan.end = element.end;
        sh_json_string(&scan, text, &size);
        text[size] = '\0';
        if (strlen(text) != size) {
            free(strings);
            *count = 0;
            return SH_PAYLOAD_WRONG_TYPE;
        }
        strings[n++] = text;
        text += size + 1;
    }
    strings[n] = NULL;
    *out = strings;
    return SH_PAYLOAD_OK;
}

sh_payload_status_t sh_payload_array_length(const char *payload, size_t payload_size,
                                            const char *key, size_t *count)
{
    sh_found_t array;

    return sh_locate_array(payload, payload_size, key, &array, count, 0, 0);
}

sh_payload_status_t sh_payload_object(const char *payload, size_t payload_size, const char *key,
                                      const char **object, size_t *object_size)
{
    sh_found_t found;
    sh_payload_status_t status = sh_locate_kind(payload, payload_size, key, SH_JSON_OBJECT, &found);

    if (status == SH_PAYLOAD_OK) {
        *object = found.begin;
        *object_size = (size_t)(found.end - found.begin);
    }
    return status;
}

sh_status_t sh_payload_report(const sh_services_t *services, sh_context_t *ctx,
                              sh_payload_status_t status, const char *key, const char *expected)
{
    switch (status) {
    case SH_PAYLOAD_OK:
        return SH_STATUS_OK;
    case SH_PAYLOAD_INVALID:
        return sh_error_printf(services, ctx, SH_RETRY_NEVER, "payload is not valid JSON");
    case SH_PAYLOAD_NOT_OBJECT:
        return sh_error_printf(services, ctx, SH_RETRY_NEVER, "payload is not a JSON object");
    case SH_PAYLOAD_MISSING:
        return sh_error_printf(services, ctx, SH_RETRY_NEVER, "payload has no field \"%s\"", key);
    case SH_PAYLOAD_WRONG_TYPE:
        return sh_error_printf(services, ctx, SH_RETRY_NEVER, "payload field \"%s\" is not %s", key,
                               expected);
    case SH_PAYLOAD_OUT_OF_RANGE:
        return sh_error_printf(services, ctx, SH_RETRY_NEVER,
                               "payload field \"%s\" is out of range", key);
    case SH_PAYLOAD_NO_MEMORY: {
        char *what = sh_format("reading payload field \"%s\"", key);
        sh_status_t reported = sh_error_out_of_memory(services, ctx, 0, what != NULL ? what : key);

        free(what);
        return reported;
    }
    default:
        break;
    }
    return sh_error_printf(services, ctx, SH_RETRY_NEVER, "payload field \"%s\": unknown error",
                           key);
}

sh_status_t sh_payload_require_string(const sh_services_t *services, sh_context_t *ctx,
                                      const char *payload, size_t payload_size, const char *key,
                                      char **out, size_t *out_size)
{
    return sh_payload_report(services, ctx,
                             sh_payload_string(payload, payload_size, key, out, out_size), key,
                             out_size == NULL ? "a string without NUL bytes" : "a string");
}

sh_status_t sh_payload_require_integer(const sh_services_t *services, sh_context_t *ctx,
                                       const char *payload, size_t payload_size, const char *key,
                                       long long *out)
{
    return sh_payload_report(services, ctx, sh_payload_integer(payload, payload_size, key, out),
                             key, "an integer");
}

sh_status_t sh_payload_require_double(const sh_services_t *services, sh_context_t *ctx,
                                      const char *payload, size_t payload_size, const char *key,
                                      double *out)
{
    return sh_payload_report(services, ctx, sh_payload_double(payload, payload_size, key, out),
                             key, "a number");
}

sh_status_t sh_payload_require_boolean(const sh_services_t *services, sh_context_t *ctx,
                                       const char *payload, size_t payload_size, const char *key,
                                       int *out)
{
    return sh_payload_report(services, ctx, sh_payload_boolean(payload, payload_size, key, out),
                             key, "a boolean");
}

sh_status_t sh_payload_require_doubles(const sh_services_t *services, sh_context_t *ctx,
                                       const char *payload, size_t payload_size, const char *key,
                                       double **out, size_t *count)
{
    return sh_payload_report(services, ctx,
                             sh_payload_doubles(payload, payload_size, key, out, count), key,
                             "an array of numbers");
}

sh_status_t sh_payload_require_integers(const sh_services_t *services, sh_context_t *ctx,
                                        const char *payload, size_t payload_size,
                                        const char *key, long long **out, size_t *count)
{
    return sh_payload_report(services, ctx,
                             sh_payload_integers(payload, payload_size, key, out, count), key,
                             "an array of integers");
}

sh_status_t sh_payload_require_strings(const sh_services_t *services, sh_context_t *ctx,
                                       const char *payload, size_t payload_size, const char *key,
                                       char ***out, size_t *count)
{
    return sh_payload_report(services, ctx,
                             sh_payload_strings(payload, payload_size, key, out, count), key,
                             "an array of strings without NUL bytes");
}

sh_status_t sh_payload_require_array_length(const sh_services_t *services, sh_context_t *ctx,
                                            const char *payload, size_t payload_size,
                                            const char *key, size_t *count)
{
    return sh_payload_report(services, ctx,
                             sh_payload_array_length(payload, payload_size, key, count), key,
                             "an array");
}

sh_status_t sh_payload_require_object(const sh_services_t *services, sh_context_t *ctx,
                                      const char *payload, size_t payload_size, const char *key,
                                      const char **object, size_t *object_size)
{
    return sh_payload_report(services, ctx,
                             sh_payload_object(payload, payload_size, key, object, object_size),
                             key, "an object");
}
