/*
 * The SDK's JSON scanner (internal, not installed): validates JSON text and finds values in it
 * without building a tree. Every function takes a position in the text and moves it past what
 * it read; on malformed text it returns 0 and leaves the position at the fault.
 */
#ifndef SANDHOST_SDK_JSON_SCAN_H
#define SANDHOST_SDK_JSON_SCAN_H

#include <sandhost/payload.h>

#include <stddef.h>

typedef struct sh_json_scan {
    const char *pos;
    const char *end;
} sh_json_scan_t;

void sh_json_skip_space(sh_json_scan_t *scan);

/* Scans the string starting at scan->pos (its opening quote). When out is not NULL, writes the
 * decoded bytes there: never more than the raw text's length, so a buffer of that size is
 * enough. Stores the decoded length in *size when size is not NULL. A lone UTF-16 surrogate
 * decodes as U+FFFD. */
int sh_json_string(sh_json_scan_t *scan, char *out, size_t *size);

/* Scans one value (after optional white space) nested at depth and sets *kind. Nesting deeper
 * than SH_JSON_MAX_DEPTH is malformed. */
int sh_json_value(sh_json_scan_t *scan, int depth, sh_json_kind_t *kind);

/* Whether the raw JSON string at raw (raw_size bytes, quotes included) decodes to the key_size
 * bytes at key. Sets *no_memory when it could not tell for lack of memory. */
int sh_json_key_equals(const char *raw, size_t raw_size, const char *key, size_t key_size,
                       int *no_memory);

/* Writes code point code as UTF-8 at out (when out is not NULL). Returns the byte count. */
size_t sh_utf8_encode(unsigned long code, char *out);

/* Length of the valid UTF-8 sequence at text (1 to 4), or 0 when the bytes there are not one. */
size_t sh_utf8_sequence_length(const unsigned char *text, size_t available);

#endif /* SANDHOST_SDK_JSON_SCAN_H */
