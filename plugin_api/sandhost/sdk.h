/*
 * The sandhost plugin SDK: a small static C library (sandhost::sdk, libsandhost-sdk.a) of
 * helpers for writing tasks against the C ABI (plugin.h). It reads the JSON payload
 * (payload.h), formats and quotes text, and sets results and errors. It is linked into the
 * plugin, so it is not part of the ABI between plugin and host: a plugin built with any SDK
 * version loads in any host of its ABI major. sandhost_add_plugin() links it; with pkg-config it
 * comes with sandhost-plugin.
 *
 * Rules that hold for the whole SDK:
 * - Memory: every char * (or array) a function returns is allocated with malloc and owned by
 *   the caller, who frees it with free(). Nothing is freed across the plugin boundary.
 * - Threads: the functions keep no state, so any thread may call them. Those taking a services
 *   table and a context are bound by the services' rules (plugin.h): only while the task call
 *   that received them is running.
 * - Errors: functions returning sh_status_t have already reported the failure (set_error, and
 *   out_of_memory when memory ran out) when they return SH_STATUS_ERROR, so a task can return
 *   their value as it is.
 *
 * Valid C99 and C++17/20.
 */
#ifndef SANDHOST_SDK_H
#define SANDHOST_SDK_H

#include "payload.h"
#include "plugin.h"

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The SDK version this header describes: a minor adds functions, a major changes them. */
#define SH_SDK_VERSION_MAJOR 1
#define SH_SDK_VERSION_MINOR 0
#define SH_SDK_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH" of the library actually linked. Static storage. */
const char *sh_sdk_version(void);

#if defined(__GNUC__) || defined(__clang__)
#define SH_PRINTF_LIKE(format_index, first_arg) __attribute__((format(printf, format_index, first_arg)))
#else
#define SH_PRINTF_LIKE(format_index, first_arg)
#endif

/* ---------------------------------------------------------------------------------------------
 * Text
 */

/* Formats like vsprintf into a new buffer. Returns it (caller frees), or NULL when out of
 * memory or the format is invalid. Like vsnprintf, it consumes args. */
SH_PRINTF_LIKE(1, 0) char *sh_vformat(const char *format, va_list args);

/* Formats like sprintf into a new buffer. Returns it (caller frees), or NULL on failure. */
SH_PRINTF_LIKE(1, 2) char *sh_format(const char *format, ...);

/* Returns size bytes of text as a quoted JSON string (caller frees), or NULL when out of memory.
 * text may hold any bytes: control characters are escaped and bytes that are not valid UTF-8
 * become U+FFFD, so the result is always valid JSON. text may be NULL when size is 0. */
char *sh_json_quote(const char *text, size_t size);

/* Formats a finite double as the shortest JSON number that reads back as the same value
 * ("2.5", "0.1", "1e+300") into out (at least 32 bytes). Returns 1, or 0 (out untouched) when
 * value is NaN or infinite, which JSON cannot carry. */
int sh_json_format_double(double value, char *out, size_t out_size);

/* ---------------------------------------------------------------------------------------------
 * Results and errors
 */

/* Sets the result to a copy of size bytes at data. Returns SH_STATUS_OK, or SH_STATUS_ERROR
 * after set_error when the result is over the job's cap (the job then ends as
 * result_too_large, whatever the task returns). */
sh_status_t sh_result_bytes(const sh_services_t *services, sh_context_t *ctx, const void *data,
                            size_t size);

/* Sets the result to text, without its NUL (text NULL: empty). Returns as sh_result_bytes. */
sh_status_t sh_result_string(const sh_services_t *services, sh_context_t *ctx, const char *text);

/* Sets the result to text as a quoted JSON string (see sh_json_quote). Returns as
 * sh_result_bytes, or SH_STATUS_ERROR after reporting out of memory. */
sh_status_t sh_result_json_string(const sh_services_t *services, sh_context_t *ctx,
                                  const char *text);

/* Sets the result to value as a JSON number (sh_json_format_double). A NaN or infinite value
 * fails the task, never retried: the same input gives the same value. */
sh_status_t sh_result_double(const sh_services_t *services, sh_context_t *ctx, double value);

/* Sets the result to the formatted text. Returns as sh_result_bytes, or SH_STATUS_ERROR after
 * set_error when formatting fails or memory runs out. */
SH_PRINTF_LIKE(3, 4)
sh_status_t sh_result_printf(const sh_services_t *services, sh_context_t *ctx, const char *format,
                             ...);

/* Sets the error message to the formatted text with the given retry hint (SH_RETRY_*). Always
 * returns SH_STATUS_ERROR, so a task can end with `return sh_error_printf(...)`. When
 * formatting fails, the format string itself becomes the message. */
SH_PRINTF_LIKE(4, 5)
sh_status_t sh_error_printf(const sh_services_t *services, sh_context_t *ctx, sh_retry_t retry,
                            const char *format, ...);

/* Reports that memory ran out while doing `what` (e.g. "copying the input"): through the
 * out_of_memory service when the host has it (the attempt ends as resource_limit, memory), and
 * as an error that may be retried. requested: the failed allocation's size, 0 when unknown.
 * Always returns SH_STATUS_ERROR. */
sh_status_t sh_error_out_of_memory(const sh_services_t *services, sh_context_t *ctx,
                                   size_t requested, const char *what);

#ifdef __cplusplus
}
#endif

#endif /* SANDHOST_SDK_H */
