/*
 * Helpers for wrapping existing C code as sandhost tasks (see docs/plugins.md).
 *
 * A legacy routine usually has one of a few shapes: a buffer in and an integer out, a string in
 * and a malloc'd string out. The SH_LEGACY_* macros below turn such a routine into a task in one
 * line; the functions under them (reading a field of the JSON payload, setting a formatted
 * result or error) cover the rest in a few lines more.
 *
 * Rules that hold for the whole header:
 * - Header-only: every function is static inline and needs only the C standard library.
 * - Memory: every char * a helper returns is allocated with malloc and owned by the caller, who
 *   frees it with free(). Nothing is freed across the plugin boundary: the host copies what the
 *   services receive, and the helpers free their own temporaries before returning.
 * - Threads: the helpers keep no state of their own, so they may be called from any thread.
 *   Those taking a services table and a context are bound by the services' rules (plugin.h):
 *   only while the task call that received them is running.
 * - Errors: helpers returning sh_status_t have already called set_error when they return
 *   SH_STATUS_ERROR, so a task can return their value as it is.
 * - Payload: the JSON payload must be an object; its fields are looked up by name, the last
 *   occurrence of a repeated name wins. Malformed JSON anywhere in the payload is an error.
 *
 * Valid C99 and C++17/20.
 */
#ifndef SANDHOST_LEGACY_H
#define SANDHOST_LEGACY_H

#include "plugin.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SH_PRINTF_LIKE(format_index, first_arg) __attribute__((format(printf, format_index, first_arg)))
#else
#define SH_PRINTF_LIKE(format_index, first_arg)
#endif

/* ---------------------------------------------------------------------------------------------
 * Strings
 */

/* Formats like vsprintf into a new buffer. Returns it (caller frees), or NULL when out of
 * memory or the format is invalid. Like vsnprintf, it consumes args. */
SH_PRINTF_LIKE(1, 0)
static inline char *sh_vformat(const char *format, va_list args)
{
    va_list measure;
    int needed;
    char *text;

    va_copy(measure, args);
    needed = vsnprintf(NULL, 0, format, measure);
    va_end(measure);
    if (needed < 0) {
        return NULL;
    }
    text = (char *)malloc((size_t)needed + 1);
    if (text == NULL) {
        return NULL;
    }
    vsnprintf(text, (size_t)needed + 1, format, args);
    return text;
}

/* Formats like sprintf into a new buffer. Returns it (caller frees), or NULL on failure. */
SH_PRINTF_LIKE(1, 2)
static inline char *sh_format(const char *format, ...)
{
    va_list args;
    char *text;

    va_start(args, format);
    text = sh_vformat(format, args);
    va_end(args);
    return text;
}

/* Length of the valid UTF-8 sequence at text (1 to 4), or 0 when the bytes there are not one.
 * Internal to sh_json_quote. */
static inline size_t sh_utf8_sequence_length(const unsigned char *text, size_t available)
{
    unsigned char lead = text[0];
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    size_t length;
    size_t i;

    if (lead < 0x80) {
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        /* Overlong forms and UTF-16 surrogates are not valid UTF-8. */
        if (lead == 0xE0) {
            low = 0xA0;
        } else if (lead == 0xED) {
            high = 0x9F;
        }
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) {
            low = 0x90;
        } else if (lead == 0xF4) {
            high = 0x8F; /* nothing above U+10FFFF */
        }
    } else {
        return 0;
    }
    if (available < length || text[1] < low || text[1] > high) {
        return 0;
    }
    for (i = 2; i < length; ++i) {
        if (text[i] < 0x80 || text[i] > 0xBF) {
            return 0;
        }
    }
    return length;
}

/* Returns size bytes of text as a quoted JSON string (caller frees), or NULL when out of memory.
 * text may hold any bytes: control characters are escaped and bytes that are not valid UTF-8
 * become U+FFFD, so the result is always valid JSON. text may be NULL when size is 0. */
static inline char *sh_json_quote(const char *text, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *in = (const unsigned char *)text;
    char *quoted;
    char *out;
    size_t i = 0;

    /* The longest expansion of one input byte is a six-character escape. */
    if (size > (SIZE_MAX - 3) / 6) {
        return NULL;
    }
    quoted = (char *)malloc(size * 6 + 3);
    if (quoted == NULL) {
        return NULL;
    }
    out = quoted;
    *out++ = '"';
    while (i < size) {
        unsigned char c = in[i];
        size_t length;

        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (c == '\n') {
            *out++ = '\\';
            *out++ = 'n';
        } else if (c == '\r') {
            *out++ = '\\';
            *out++ = 'r';
        } else if (c == '\t') {
            *out++ = '\\';
            *out++ = 't';
        } else if (c < 0x20) {
            memcpy(out, "\\u00", 4);
            out[4] = hex[c >> 4];
            out[5] = hex[c & 0x0F];
            out += 6;
        } else if (c < 0x80) {
            *out++ = (char)c;
        } else {
            length = sh_utf8_sequence_length(in + i, size - i);
            if (length == 0) {
                memcpy(out, "\\ufffd", 6);
                out += 6;
                ++i;
                continue;
            }
            memcpy(out, in + i, length);
            out += length;
            i += length;
            continue;
        }
        ++i;
    }
    *out++ = '"';
    *out = '\0';
    return quoted;
}

/* ---------------------------------------------------------------------------------------------
 * Results and errors
 */

/* Sets the result to a copy of size bytes at data. Returns SH_STATUS_OK, or SH_STATUS_ERROR
 * after set_error when the result is over the job's cap (the job then ends as
 * result_too_large, whatever the task returns). */
static inline sh_status_t sh_result_bytes(const sh_services_t *services, sh_context_t *ctx,
                                          const void *data, size_t size)
{
    if (services->set_result(ctx, data, size) != SH_RESULT_STORED) {
        services->set_error(ctx, "result exceeds the job's result cap", SH_RETRY_NEVER);
        return SH_STATUS_ERROR;
    }
    return SH_STATUS_OK;
}

/* Sets the result to text, without its NUL (text NULL: empty). Returns as sh_result_bytes. */
static inline sh_status_t sh_result_string(const sh_services_t *services, sh_context_t *ctx,
                                           const char *text)
{
    return sh_result_bytes(services, ctx, text, text == NULL ? 0 : strlen(text));
}

/* Sets the result to text as a quoted JSON string (see sh_json_quote). Returns as
 * sh_result_bytes, or SH_STATUS_ERROR after set_error when out of memory. */
static inline sh_status_t sh_result_json_string(const sh_services_t *services, sh_context_t *ctx,
                                                const char *text)
{
    char *quoted = sh_json_quote(text, text == NULL ? 0 : strlen(text));
    sh_status_t status;

    if (quoted == NULL) {
        services->set_error(ctx, "out of memory quoting the result", SH_RETRY_ALLOWED);
        return SH_STATUS_ERROR;
    }
    status = sh_result_string(services, ctx, quoted);
    free(quoted);
    return status;
}

/* Sets the result to the formatted text. Returns as sh_result_bytes, or SH_STATUS_ERROR after
 * set_error when formatting fails or memory runs out. */
SH_PRINTF_LIKE(3, 4)
static inline sh_status_t sh_result_printf(const sh_services_t *services, sh_context_t *ctx,
                                           const char *format, ...)
{
    va_list args;
    char *text;
    sh_status_t status;

    va_start(args, format);
    text = sh_vformat(format, args);
    va_end(args);
    if (text == NULL) {
        services->set_error(ctx, "out of memory formatting the result", SH_RETRY_ALLOWED);
        return SH_STATUS_ERROR;
    }
    status = sh_result_string(services, ctx, text);
    free(text);
    return status;
}

/* Sets the error message to the formatted text with the given retry hint. Always returns
 * SH_STATUS_ERROR, so a task can end with `return sh_error_printf(...)`. When formatting fails,
 * the format string itself becomes the message. */
SH_PRINTF_LIKE(4, 5)
static inline sh_status_t sh_error_printf(const sh_services_t *services, sh_context_t *ctx,
                                          sh_retry_t retry, const char *format, ...)
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

/* ---------------------------------------------------------------------------------------------
 * Reading the JSON payload
 */

typedef enum sh_payload_status {
    SH_PAYLOAD_OK = 0,
    SH_PAYLOAD_INVALID = 1,      /* not valid JSON */
    SH_PAYLOAD_NOT_OBJECT = 2,   /* valid JSON, but not an object */
    SH_PAYLOAD_MISSING = 3,      /* no such field */
    SH_PAYLOAD_WRONG_TYPE = 4,   /* the field holds another JSON type */
    SH_PAYLOAD_OUT_OF_RANGE = 5, /* an integer that does not fit in long long */
    SH_PAYLOAD_NO_MEMORY = 6
} sh_payload_status_t;

/* Deepest nesting of arrays and objects the scanner follows; deeper payloads are invalid. It
 * bounds the scanner's recursion, so a hostile payload cannot overflow the stack. */
#define SH_JSON_MAX_DEPTH 128

/* What the scanner found at a value. */
typedef enum sh_json_kind {
    SH_JSON_STRING = 0,
    SH_JSON_INTEGER = 1, /* a number without fraction or exponent */
    SH_JSON_NUMBER = 2,
    SH_JSON_OTHER = 3 /* object, array, true, false, null */
} sh_json_kind_t;

/* A position in the JSON text being scanned. Internal to the functions below. */
typedef struct sh_json_scan {
    const char *pos;
    const char *end;
} sh_json_scan_t;

static inline void sh_json_skip_space(sh_json_scan_t *scan)
{
    while (scan->pos < scan->end &&
           (*scan->pos == ' ' || *scan->pos == '\t' || *scan->pos == '\n' || *scan->pos == '\r')) {
        ++scan->pos;
    }
}

/* Reads four hex digits at scan->pos into *code. Returns 1, or 0 when they are not there. */
static inline int sh_json_hex4(sh_json_scan_t *scan, unsigned long *code)
{
    int i;

    if (scan->end - scan->pos < 4) {
        return 0;
    }
    *code = 0;
    for (i = 0; i < 4; ++i) {
        char c = scan->pos[i];
        unsigned long digit;

        if (c >= '0' && c <= '9') {
            digit = (unsigned long)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            digit = (unsigned long)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            digit = (unsigned long)(c - 'A' + 10);
        } else {
            return 0;
        }
        *code = *code * 16 + digit;
    }
    scan->pos += 4;
    return 1;
}

/* Writes code point code as UTF-8 at out (when out is not NULL). Returns the byte count. */
static inline size_t sh_utf8_encode(unsigned long code, char *out)
{
    if (code < 0x80) {
        if (out != NULL) {
            out[0] = (char)code;
        }
        return 1;
    }
    if (code < 0x800) {
        if (out != NULL) {
            out[0] = (char)(0xC0 | (code >> 6));
            out[1] = (char)(0x80 | (code & 0x3F));
        }
        return 2;
    }
    if (code < 0x10000) {
        if (out != NULL) {
            out[0] = (char)(0xE0 | (code >> 12));
            out[1] = (char)(0x80 | ((code >> 6) & 0x3F));
            out[2] = (char)(0x80 | (code & 0x3F));
        }
        return 3;
    }
    if (out != NULL) {
        out[0] = (char)(0xF0 | (code >> 18));
        out[1] = (char)(0x80 | ((code >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((code >> 6) & 0x3F));
        out[3] = (char)(0x80 | (code & 0x3F));
    }
    return 4;
}

/* Scans the string starting at scan->pos (its opening quote). When out is not NULL, writes the
 * decoded bytes there: never more than the raw text's length, so a buffer of that size is
 * enough. Stores the decoded length in *size when size is not NULL. Returns 1, or 0 when the
 * string is malformed (scan->pos then points at the fault). A lone UTF-16 surrogate decodes as
 * U+FFFD. */
static inline int sh_json_string(sh_json_scan_t *scan, char *out, size_t *size)
{
    size_t length = 0;

    ++scan->pos;
    while (scan->pos < scan->end) {
        unsigned char c = (unsigned char)*scan->pos;
        unsigned long code;
        char plain;

        if (c == '"') {
            ++scan->pos;
            if (size != NULL) {
                *size = length;
            }
            return 1;
        }
        if (c < 0x20) {
            return 0;
        }
        if (c != '\\') {
            if (out != NULL) {
                out[length] = (char)c;
            }
            ++length;
            ++scan->pos;
            continue;
        }
        if (scan->end - scan->pos < 2) {
            return 0;
        }
        switch (scan->pos[1]) {
        case '"':
        case '\\':
        case '/':
            plain = scan->pos[1];
            break;
        case 'b':
            plain = '\b';
            break;
        case 'f':
            plain = '\f';
            break;
        case 'n':
            plain = '\n';
            break;
        case 'r':
            plain = '\r';
            break;
        case 't':
            plain = '\t';
            break;
        case 'u':
            scan->pos += 2;
            if (!sh_json_hex4(scan, &code)) {
                return 0;
            }
            if (code >= 0xD800 && code <= 0xDBFF) {
                sh_json_scan_t next = *scan;
                unsigned long low;

                if (next.end - next.pos >= 2 && next.pos[0] == '\\' && next.pos[1] == 'u') {
                    next.pos += 2;
                    if (sh_json_hex4(&next, &low) && low >= 0xDC00 && low <= 0xDFFF) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        *scan = next;
                    } else {
                        code = 0xFFFD;
                    }
                } else {
                    code = 0xFFFD;
                }
            } else if (code >= 0xDC00 && code <= 0xDFFF) {
                code = 0xFFFD;
            }
            length += sh_utf8_encode(code, out != NULL ? out + length : NULL);
            continue;
        default:
            return 0;
        }
        if (out != NULL) {
            out[length] = plain;
        }
        ++length;
        scan->pos += 2;
    }
    return 0;
}

/* Scans a number at scan->pos. Sets *kind to SH_JSON_INTEGER or SH_JSON_NUMBER. Returns 1, or 0
 * when it is malformed. */
static inline int sh_json_number(sh_json_scan_t *scan, sh_json_kind_t *kind)
{
    const char *p = scan->pos;
    const char *end = scan->end;

    *kind = SH_JSON_INTEGER;
    if (p < end && *p == '-') {
        ++p;
    }
    if (p < end && *p == '0') {
        ++p;
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            ++p;
        }
    } else {
        scan->pos = p;
        return 0;
    }
    if (p < end && *p == '.') {
        *kind = SH_JSON_NUMBER;
        ++p;
        if (!(p < end && *p >= '0' && *p <= '9')) {
            scan->pos = p;
            return 0;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            ++p;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *kind = SH_JSON_NUMBER;
        ++p;
        if (p < end && (*p == '+' || *p == '-')) {
            ++p;
        }
        if (!(p < end && *p >= '0' && *p <= '9')) {
            scan->pos = p;
            return 0;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            ++p;
        }
    }
    scan->pos = p;
    return 1;
}

static inline int sh_json_container(sh_json_scan_t *scan, int depth);

/* Scans one value (after optional white space) and sets *kind. Returns 1, or 0 when malformed. */
static inline int sh_json_value(sh_json_scan_t *scan, int depth, sh_json_kind_t *kind)
{
    static const char *const literals[] = {"true", "false", "null"};
    size_t i;

    sh_json_skip_space(scan);
    if (scan->pos >= scan->end) {
        return 0;
    }
    *kind = SH_JSON_OTHER;
    if (*scan->pos == '"') {
        *kind = SH_JSON_STRING;
        return sh_json_string(scan, NULL, NULL);
    }
    if (*scan->pos == '{' || *scan->pos == '[') {
        return sh_json_container(scan, depth + 1);
    }
    for (i = 0; i < sizeof(literals) / sizeof(literals[0]); ++i) {
        size_t length = strlen(literals[i]);

        if (*scan->pos == literals[i][0]) {
            if ((size_t)(scan->end - scan->pos) < length ||
                memcmp(scan->pos, literals[i], length) != 0) {
                return 0;
            }
            scan->pos += length;
            return 1;
        }
    }
    return sh_json_number(scan, kind);
}

/* Scans the object or array starting at scan->pos. Returns 1, or 0 when malformed or nested
 * deeper than SH_JSON_MAX_DEPTH. */
static inline int sh_json_container(sh_json_scan_t *scan, int depth)
{
    const char closing = *scan->pos == '{' ? '}' : ']';
    sh_json_kind_t kind;

    if (depth > SH_JSON_MAX_DEPTH) {
        return 0;
    }
    ++scan->pos;
    sh_json_skip_space(scan);
    if (scan->pos < scan->end && *scan->pos == closing) {
        ++scan->pos;
        return 1;
    }
    for (;;) {
        if (closing == '}') {
            sh_json_skip_space(scan);
            if (scan->pos >= scan->end || *scan->pos != '"' || !sh_json_string(scan, NULL, NULL)) {
                return 0;
            }
            sh_json_skip_space(scan);
            if (scan->pos >= scan->end || *scan->pos != ':') {
                return 0;
            }
            ++scan->pos;
        }
        if (!sh_json_value(scan, depth, &kind)) {
            return 0;
        }
        sh_json_skip_space(scan);
        if (scan->pos >= scan->end) {
            return 0;
        }
        if (*scan->pos == ',') {
            ++scan->pos;
        } else if (*scan->pos == closing) {
            ++scan->pos;
            return 1;
        } else {
            return 0;
        }
    }
}

/* Whether the raw JSON string at raw (raw_size bytes, quotes included) decodes to key. Sets
 * *no_memory when it could not tell for lack of memory. */
static inline int sh_json_key_equals(const char *raw, size_t raw_size, const char *key,
                                     int *no_memory)
{
    const size_t key_size = strlen(key);
    sh_json_scan_t scan;
    char *decoded;
    size_t decoded_size = 0;
    int equal;

    if (memchr(raw, '\\', raw_size) == NULL) {
        return raw_size - 2 == key_size && memcmp(raw + 1, key, key_size) == 0;
    }
    decoded = (char *)malloc(raw_size);
    if (decoded == NULL) {
        *no_memory = 1;
        return 0;
    }
    scan.pos = raw;
    scan.end = raw + raw_size;
    equal = sh_json_string(&scan, decoded, &decoded_size) && decoded_size == key_size &&
            memcmp(decoded, key, key_size) == 0;
    free(decoded);
    return equal;
}

/* Validates the whole payload and finds the field key of its top-level object. On
 * SH_PAYLOAD_OK, *value points at the field's raw JSON text (inside payload) and *kind says what
 * it is. On SH_PAYLOAD_INVALID, *error_offset (when not NULL) is the byte offset of the fault. */
static inline sh_payload_status_t sh_payload_find(const char *payload, size_t payload_size,
                                                  const char *key, const char **value,
                                                  sh_json_kind_t *kind, size_t *error_offset)
{
    sh_json_scan_t scan;
    sh_json_kind_t value_kind;
    int found = 0;
    int no_memory = 0;

    scan.pos = payload;
    scan.end = payload + payload_size;
    sh_json_skip_space(&scan);
    if (scan.pos < scan.end && *scan.pos != '{') {
        if (sh_json_value(&scan, 0, &value_kind)) {
            sh_json_skip_space(&scan);
            if (scan.pos == scan.end) {
                return SH_PAYLOAD_NOT_OBJECT;
            }
        }
        goto invalid;
    }
    if (scan.pos >= scan.end) {
        goto invalid;
    }
    ++scan.pos;
    sh_json_skip_space(&scan);
    if (scan.pos < scan.end && *scan.pos == '}') {
        ++scan.pos;
    } else {
        for (;;) {
            const char *key_begin;
            const char *key_end;
            const char *value_begin;

            sh_json_skip_space(&scan);
            key_begin = scan.pos;
            if (scan.pos >= scan.end || *scan.pos != '"' || !sh_json_string(&scan, NULL, NULL)) {
                goto invalid;
            }
            key_end = scan.pos;
            sh_json_skip_space(&scan);
            if (scan.pos >= scan.end || *scan.pos != ':') {
                goto invalid;
            }
            ++scan.pos;
            sh_json_skip_space(&scan);
            value_begin = scan.pos;
            if (!sh_json_value(&scan, 1, &value_kind)) {
                goto invalid;
            }
            if (sh_json_key_equals(key_begin, (size_t)(key_end - key_begin), key, &no_memory)) {
                found = 1;
                *value = value_begin;
                *kind = value_kind;
            }
            if (no_memory) {
                return SH_PAYLOAD_NO_MEMORY;
            }
            sh_json_skip_space(&scan);
            if (scan.pos < scan.end && *scan.pos == ',') {
                ++scan.pos;
                continue;
            }
            if (scan.pos < scan.end && *scan.pos == '}') {
                ++scan.pos;
                break;
            }
            goto invalid;
        }
    }
    sh_json_skip_space(&scan);
    if (scan.pos != scan.end) {
        goto invalid;
    }
    return found ? SH_PAYLOAD_OK : SH_PAYLOAD_MISSING;

invalid:
    if (error_offset != NULL) {
        *error_offset = (size_t)(scan.pos - payload);
    }
    return SH_PAYLOAD_INVALID;
}

/* Reads the string field key of the payload into a new NUL-terminated buffer *out (caller
 * frees) and its length into *out_size (when not NULL: the string may then hold NUL bytes).
 * When out_size is NULL the caller wants a C string, and a value holding a NUL byte is
 * SH_PAYLOAD_WRONG_TYPE. *out is NULL on every status but SH_PAYLOAD_OK. */
static inline sh_payload_status_t sh_payload_string(const char *payload, size_t payload_size,
                                                    const char *key, char **out, size_t *out_size)
{
    const char *value = NULL;
    sh_json_kind_t kind = SH_JSON_OTHER;
    sh_payload_status_t status = sh_payload_find(payload, payload_size, key, &value, &kind, NULL);
    sh_json_scan_t scan;
    size_t size = 0;
    char *text;

    *out = NULL;
    if (status != SH_PAYLOAD_OK) {
        return status;
    }
    if (kind != SH_JSON_STRING) {
        return SH_PAYLOAD_WRONG_TYPE;
    }
    scan.pos = value;
    scan.end = payload + payload_size;
    /* The decoded string is never longer than the rest of the payload. */
    text = (char *)malloc((size_t)(scan.end - value) + 1);
    if (text == NULL) {
        return SH_PAYLOAD_NO_MEMORY;
    }
    sh_json_string(&scan, text, &size);
    text[size] = '\0';
    if (out_size != NULL) {
        *out_size = size;
    } else if (strlen(text) != size) {
        free(text);
        return SH_PAYLOAD_WRONG_TYPE;
    }
    *out = text;
    return SH_PAYLOAD_OK;
}

/* Reads the integer field key of the payload into *out. A number with a fraction or exponent
 * is SH_PAYLOAD_WRONG_TYPE; one outside long long is SH_PAYLOAD_OUT_OF_RANGE. */
static inline sh_payload_status_t sh_payload_integer(const char *payload, size_t payload_size,
                                                     const char *key, long long *out)
{
    const char *value = NULL;
    sh_json_kind_t kind = SH_JSON_OTHER;
    sh_payload_status_t status = sh_payload_find(payload, payload_size, key, &value, &kind, NULL);
    const char *p;
    int negative;
    unsigned long long magnitude = 0;
    unsigned long long limit;

    if (status != SH_PAYLOAD_OK) {
        return status;
    }
    if (kind != SH_JSON_INTEGER) {
        return SH_PAYLOAD_WRONG_TYPE;
    }
    p = value;
    negative = *p == '-';
    if (negative) {
        ++p;
    }
    limit = negative ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    while (*p >= '0' && *p <= '9') {
        unsigned long long digit = (unsigned long long)(*p - '0');

        if (magnitude > (limit - digit) / 10) {
            return SH_PAYLOAD_OUT_OF_RANGE;
        }
        magnitude = magnitude * 10 + digit;
        ++p;
    }
    if (negative) {
        /* -(LLONG_MAX + 1) written without overflowing. */
        *out = magnitude == 0 ? 0 : -(long long)(magnitude - 1) - 1;
    } else {
        *out = (long long)magnitude;
    }
    return SH_PAYLOAD_OK;
}

/* Turns a payload status into set_error with a message naming the field, and returns
 * SH_STATUS_ERROR (SH_STATUS_OK for SH_PAYLOAD_OK, without calling anything). Retrying cannot
 * fix a bad payload, so those errors are SH_RETRY_NEVER; running out of memory is not. */
static inline sh_status_t sh_payload_report(const sh_services_t *services, sh_context_t *ctx,
                                            sh_payload_status_t status, const char *key,
                                            const char *expected)
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
    case SH_PAYLOAD_NO_MEMORY:
        return sh_error_printf(services, ctx, SH_RETRY_ALLOWED,
                               "out of memory reading payload field \"%s\"", key);
    }
    return sh_error_printf(services, ctx, SH_RETRY_NEVER, "payload field \"%s\": unknown error",
                           key);
}

/* sh_payload_string, reporting any failure through set_error (see sh_payload_report). With
 * out_size NULL, a string holding a NUL byte is refused. */
static inline sh_status_t sh_payload_require_string(const sh_services_t *services,
                                                    sh_context_t *ctx, const char *payload,
                                                    size_t payload_size, const char *key,
                                                    char **out, size_t *out_size)
{
    return sh_payload_report(services, ctx,
                             sh_payload_string(payload, payload_size, key, out, out_size), key,
                             out_size == NULL ? "a string without NUL bytes" : "a string");
}

/* sh_payload_integer, reporting any failure through set_error (see sh_payload_report). */
static inline sh_status_t sh_payload_require_integer(const sh_services_t *services,
                                                     sh_context_t *ctx, const char *payload,
                                                     size_t payload_size, const char *key,
                                                     long long *out)
{
    return sh_payload_report(services, ctx, sh_payload_integer(payload, payload_size, key, out),
                             key, "an integer");
}

/* ---------------------------------------------------------------------------------------------
 * Shapes of legacy routines. Each macro defines, at file scope, a static task function named
 * task_fn (an sh_task_fn) to list in the plugin's task table. key names the payload's string
 * field that holds the routine's input. Failures to read it become failed attempts that are
 * never retried, with a message naming the field.
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

#ifdef __cplusplus
}
#endif

#endif /* SANDHOST_LEGACY_H */
