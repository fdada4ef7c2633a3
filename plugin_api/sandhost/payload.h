/*
 * Reading a task's JSON payload: part of the plugin SDK (sdk.h, libsandhost-sdk.a).
 *
 * The payload must be a JSON object. Every reader checks the whole payload first, so malformed
 * JSON anywhere is an error, and nesting deeper than SH_JSON_MAX_DEPTH is refused (a hostile
 * payload cannot exhaust the stack).
 *
 * Keys: a key is the name of a field of the payload object ("values"), or, when it starts with
 * '/', a JSON Pointer (RFC 6901) into nested objects and arrays: "/loan/rate" is the field
 * "rate" of the object in the field "loan", "/points/0/x" the field "x" of the first element of
 * the array "points" ("~1" stands for '/' and "~0" for '~' within a name). When a name occurs
 * more than once in an object, the last occurrence wins.
 *
 * Two tiers: sh_payload_X returns a status and leaves the message to the caller;
 * sh_payload_require_X reads the same way and reports any failure itself, with a message that
 * names the field ("payload has no field \"line\"", "payload field \"/loan/rate\" is not a
 * number", "payload is not valid JSON") and SH_RETRY_NEVER, because running a bad payload again
 * cannot help (running out of memory is reported as such and may be retried). They return the
 * status the task should return.
 *
 * Memory: a string or array a reader returns is allocated with malloc and owned by the caller
 * (free() it); *out is NULL, and nothing is allocated, on every status but SH_PAYLOAD_OK.
 * Views (sh_payload_find, sh_payload_object) point into the payload and live as long as it does.
 *
 * Valid C99 and C++17/20.
 */
#ifndef SANDHOST_PAYLOAD_H
#define SANDHOST_PAYLOAD_H

#include "plugin.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a reader found (constants as in plugin.h: enumerators in C, typed constants in C++). */
typedef int32_t sh_payload_status_t;
#ifdef __cplusplus
static constexpr sh_payload_status_t SH_PAYLOAD_OK = 0;
static constexpr sh_payload_status_t SH_PAYLOAD_INVALID = 1;
static constexpr sh_payload_status_t SH_PAYLOAD_NOT_OBJECT = 2;
static constexpr sh_payload_status_t SH_PAYLOAD_MISSING = 3;
static constexpr sh_payload_status_t SH_PAYLOAD_WRONG_TYPE = 4;
static constexpr sh_payload_status_t SH_PAYLOAD_OUT_OF_RANGE = 5;
static constexpr sh_payload_status_t SH_PAYLOAD_NO_MEMORY = 6;
#else
enum sh_payload_status {
    SH_PAYLOAD_OK = 0,
    SH_PAYLOAD_INVALID = 1,      /* not valid JSON */
    SH_PAYLOAD_NOT_OBJECT = 2,   /* valid JSON, but not an object */
    SH_PAYLOAD_MISSING = 3,      /* no such field (or a pointer through something that is neither
                                    an object nor an array) */
    SH_PAYLOAD_WRONG_TYPE = 4,   /* the field holds another JSON type */
    SH_PAYLOAD_OUT_OF_RANGE = 5, /* a number that does not fit the type asked for */
    SH_PAYLOAD_NO_MEMORY = 6
};
#endif

/* Deepest nesting of arrays and objects a payload may have. */
#define SH_JSON_MAX_DEPTH 128

/* What a JSON value is. */
typedef int32_t sh_json_kind_t;
#ifdef __cplusplus
static constexpr sh_json_kind_t SH_JSON_STRING = 0;
static constexpr sh_json_kind_t SH_JSON_INTEGER = 1;
static constexpr sh_json_kind_t SH_JSON_NUMBER = 2;
static constexpr sh_json_kind_t SH_JSON_OTHER = 3;
static constexpr sh_json_kind_t SH_JSON_OBJECT = 4;
static constexpr sh_json_kind_t SH_JSON_ARRAY = 5;
static constexpr sh_json_kind_t SH_JSON_BOOLEAN = 6;
static constexpr sh_json_kind_t SH_JSON_NULL = 7;
#else
enum sh_json_kind {
    SH_JSON_STRING = 0,
    SH_JSON_INTEGER = 1, /* a number without fraction or exponent */
    SH_JSON_NUMBER = 2,  /* a number with a fraction or an exponent */
    SH_JSON_OTHER = 3,   /* not reported since SDK 1.0: see the kinds below */
    SH_JSON_OBJECT = 4,
    SH_JSON_ARRAY = 5,
    SH_JSON_BOOLEAN = 6,
    SH_JSON_NULL = 7
};
#endif

/* ---------------------------------------------------------------------------------------------
 * Reading, with a status
 */

/* Checks the whole payload and finds key. On SH_PAYLOAD_OK, *value points at the value's raw
 * JSON text (inside payload) and *kind says what it is.
 * On SH_PAYLOAD_INVALID, *error_offset (when not NULL) is the byte offset of the fault. */
sh_payload_status_t sh_payload_find(const char *payload, size_t payload_size, const char *key,
                                    const char **value, sh_json_kind_t *kind, size_t *error_offset);

/* A string, decoded into a new NUL-terminated buffer *out, with its length in *out_size (when
 * not NULL: the string may then hold NUL bytes). When out_size is NULL the caller wants a C
 * string, and a value holding a NUL byte is SH_PAYLOAD_WRONG_TYPE. */
sh_payload_status_t sh_payload_string(const char *payload, size_t payload_size, const char *key,
                                      char **out, size_t *out_size);

/* An integer: a number without fraction or exponent (else SH_PAYLOAD_WRONG_TYPE) that fits in
 * long long (else SH_PAYLOAD_OUT_OF_RANGE). */
sh_payload_status_t sh_payload_integer(const char *payload, size_t payload_size, const char *key,
                                       long long *out);

/* Any number, as the nearest double; one beyond the range of double is
 * SH_PAYLOAD_OUT_OF_RANGE. */
sh_payload_status_t sh_payload_double(const char *payload, size_t payload_size, const char *key,
                                      double *out);

/* true or false, as 1 or 0. */
sh_payload_status_t sh_payload_boolean(const char *payload, size_t payload_size, const char *key,
                                       int *out);

/* An array of numbers, as a new array of *count doubles (NULL when *count is 0). Any element
 * that is not a number is SH_PAYLOAD_WRONG_TYPE. */
sh_payload_status_t sh_payload_doubles(const char *payload, size_t payload_size, const char *key,
                                       double **out, size_t *count);

/* An array of integers, as a new array of *count long longs (NULL when *count is 0). */
sh_payload_status_t sh_payload_integers(const char *payload, size_t payload_size,
                                        const char *key, long long **out, size_t *count);

/* An array of strings, as one allocation (free() it once): *count pointers to NUL-terminated
 * strings, then a NULL pointer, then the strings. A string holding a NUL byte is
 * SH_PAYLOAD_WRONG_TYPE. */
sh_payload_status_t sh_payload_strings(const char *payload, size_t payload_size, const char *key,
                                       char ***out, size_t *count);

/* The number of elements of an array (for arrays of objects: read element i with the pointer
 * "/key/i/field"). */
sh_payload_status_t sh_payload_array_length(const char *payload, size_t payload_size,
                                            const char *key, size_t *count);

/* A nested object, as a view of its JSON text: *object points into payload, *object_size is its
 * length. The view is a payload in its own right: pass it to any reader. */
sh_payload_status_t sh_payload_object(const char *payload, size_t payload_size, const char *key,
                                      const char **object, size_t *object_size);

/* ---------------------------------------------------------------------------------------------
 * Reading, with the failure reported (see the top of this file)
 */

/* Turns a status into set_error with a message naming key, for a field that should have been
 * `expected` ("a number", "an array of strings"), and returns SH_STATUS_ERROR (SH_STATUS_OK for
 * SH_PAYLOAD_OK, without calling anything). */
sh_status_t sh_payload_report(const sh_services_t *services, sh_context_t *ctx,
                              sh_payload_status_t status, const char *key, const char *expected);

sh_status_t sh_payload_require_string(const sh_services_t *services, sh_context_t *ctx,
                                      const char *payload, size_t payload_size, const char *key,
                                      char **out, size_t *out_size);
sh_status_t sh_payload_require_integer(const sh_services_t *services, sh_context_t *ctx,
                                       const char *payload, size_t payload_size, const char *key,
                                       long long *out);
sh_status_t sh_payload_require_double(const sh_services_t *services, sh_context_t *ctx,
                                      const char *payload, size_t payload_size, const char *key,
                                      double *out);
sh_status_t sh_payload_require_boolean(const sh_services_t *services, sh_context_t *ctx,
                                       const char *payload, size_t payload_size, const char *key,
                                       int *out);
sh_status_t sh_payload_require_doubles(const sh_services_t *services, sh_context_t *ctx,
                                       const char *payload, size_t payload_size, const char *key,
                                       double **out, size_t *count);
sh_status_t sh_payload_require_integers(const sh_services_t *services, sh_context_t *ctx,
                                        const char *payload, size_t payload_size,
                                        const char *key, long long **out, size_t *count);
sh_status_t sh_payload_require_strings(const sh_services_t *services, sh_context_t *ctx,
                                       const char *payload, size_t payload_size, const char *key,
                                       char ***out, size_t *count);
sh_status_t sh_payload_require_array_length(const sh_services_t *services, sh_context_t *ctx,
                                            const char *payload, size_t payload_size,
                                            const char *key, size_t *count);
sh_status_t sh_payload_require_object(const sh_services_t *services, sh_context_t *ctx,
                                      const char *payload, size_t payload_size, const char *key,
                                      const char **object, size_t *object_size);

#ifdef __cplusplus
}
#endif

#endif /* SANDHOST_PAYLOAD_H */
