/*
 * Wrapping existing C code as sandhost tasks (see docs/plugins.md).
 *
 * A legacy routine usually has one of a few shapes: a buffer in and an integer out, a string in
 * and a malloc'd string out, an array of numbers in and a number out. The SH_LEGACY_* macros
 * below turn such a routine into a task in one line. Anything else takes a few lines more with
 * the plugin SDK, which this header includes (sdk.h: reading the payload, setting results and
 * errors; link sandhost::sdk, which sandhost_add_plugin() does for you).
 *
 * Rules that hold for the whole header:
 * - Memory: the tasks the macros define free everything they allocate, including what the
 *   routine returns when its shape says the caller frees it.
 * - Errors: a payload field that is missing or of the wrong type fails the attempt with a
 *   message naming it, never retried (running the same input again cannot help).
 *
 * Valid C99 and C++17/20.
 */
#ifndef SANDHOST_LEGACY_H
#define SANDHOST_LEGACY_H

#include "plugin.h"
#include "sdk.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Shapes of legacy routines. Each macro defines, at file scope, a static task function named
 * task_fn (an sh_task_fn) to list in the plugin's task table. key names the payload field
 * that holds the routine's input: a name, or a JSON Pointer such as "/input/text" (payload.h).
 * Failures to read it become failed attempts that are never retried, with a message naming the
 * field.
 */

/* Buffer in, integer out:  unsigned long legacy_fn(const unsigned char *data, size_t size)
 * (any unsigned integer return type and size type do). The result is the integer in decimal,
 * which is also valid JSON. The buffer may hold NUL bytes. */
#define SH_LEGACY_BUFFER_TO_UINT(task_fn, key, legacy_fn)                                        \
    static sh_status_t task_fn(const sh_services_t *sh_services_, sh_context_t *sh_ctx_,         \
                               const char *sh_payload_, size_t sh_payload_size_)                 \
    {                                                                                            \
        char *sh_input_ = NULL;                                                                  \
        size_t sh_input_size_ = 0;                                                               \
        unsigned long long sh_value_;                                                            \
        if (sh_payload_require_string(sh_services_, sh_ctx_, sh_payload_, sh_payload_size_, (key), \
                                      &sh_input_, &sh_input_size_) != SH_STATUS_OK) {            \
            return SH_STATUS_ERROR;                                                              \
        }                                                                                        \
        sh_value_ = (unsigned long long)legacy_fn((const unsigned char *)sh_input_, sh_input_size_); \
        free(sh_input_);                                                                         \
        return sh_result_printf(sh_services_, sh_ctx_, "%llu", sh_value_);                       \
    }

/* String in, integer out:  long legacy_fn(const char *text)  (any signed integer type does).
 * The result is the integer in decimal. */
#define SH_LEGACY_STRING_TO_INT(task_fn, key, legacy_fn)                                         \
    static sh_status_t task_fn(const sh_services_t *sh_services_, sh_context_t *sh_ctx_,         \
                               const char *sh_payload_, size_t sh_payload_size_)                 \
    {                                                                                            \
        char *sh_input_ = NULL;                                                                  \
        long long sh_value_;                                                                     \
        if (sh_payload_require_string(sh_services_, sh_ctx_, sh_payload_, sh_payload_size_, (key), \
                                      &sh_input_, NULL) != SH_STATUS_OK) {                       \
            return SH_STATUS_ERROR;                                                              \
        }                                                                                        \
        sh_value_ = (long long)legacy_fn(sh_input_);                                             \
        free(sh_input_);                                                                         \
        return sh_result_printf(sh_services_, sh_ctx_, "%lld", sh_value_);                       \
    }

/* String in, malloc'd string out:  char *legacy_fn(const char *text)  returning a string the
 * caller frees with free(), or NULL on failure (the task then fails, retry allowed). The result
 * is the returned string as a quoted JSON string (see sh_json_quote). */
#define SH_LEGACY_STRING_TO_STRING(task_fn, key, legacy_fn)                                      \
    static sh_status_t task_fn(const sh_services_t *sh_services_, sh_context_t *sh_ctx_,         \
                               const char *sh_payload_, size_t sh_payload_size_)                 \
    {                                                                                            \
        char *sh_input_ = NULL;                                                                  \
        char *sh_output_;                                                                        \
        sh_status_t sh_status_;                                                                  \
        if (sh_payload_require_string(sh_services_, sh_ctx_, sh_payload_, sh_payload_size_, (key), \
                                      &sh_input_, NULL) != SH_STATUS_OK) {                       \
            return SH_STATUS_ERROR;                                                              \
        }                                                                                        \
        sh_output_ = legacy_fn(sh_input_);                                                       \
        free(sh_input_);                                                                         \
        if (sh_output_ == NULL) {                                                                \
            return sh_error_printf(sh_services_, sh_ctx_, SH_RETRY_ALLOWED,                      \
                                   "%s returned no string", #legacy_fn);                         \
        }                                                                                        \
        sh_status_ = sh_result_json_string(sh_services_, sh_ctx_, sh_output_);                   \
        free(sh_output_);                                                                        \
        return sh_status_;                                                                       \
    }

/* Numbers in, number out:  double legacy_fn(const double *values, size_t count)  (for example
 * a mean). key names an array of numbers; the result is the returned value as a JSON number. A
 * NaN or infinite return fails the attempt, never retried. */
#define SH_LEGACY_DOUBLES_TO_DOUBLE(task_fn, key, legacy_fn)                                     \
    static sh_status_t task_fn(const sh_services_t *sh_services_, sh_context_t *sh_ctx_,         \
                               const char *sh_payload_, size_t sh_payload_size_)                 \
    {                                                                                            \
        double *sh_values_ = NULL;                                                               \
        size_t sh_count_ = 0;                                                                    \
        double sh_value_;                                                                        \
        if (sh_payload_require_doubles(sh_services_, sh_ctx_, sh_payload_, sh_payload_size_, (key), \
                                       &sh_values_, &sh_count_) != SH_STATUS_OK) {               \
            return SH_STATUS_ERROR;                                                              \
        }                                                                                        \
        sh_value_ = (double)legacy_fn(sh_values_, sh_count_);                                    \
        free(sh_values_);                                                                        \
        return sh_result_double(sh_services_, sh_ctx_, sh_value_);                               \
    }

#endif /* SANDHOST_LEGACY_H */
