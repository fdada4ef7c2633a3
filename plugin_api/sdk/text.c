#include "json_scan.h"

#include <sandhost/sdk.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sh_vformat(const char *format, va_list args)
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

char *sh_format(const char *format, ...)
{
    va_list args;
    char *text;

    va_start(args, format);
    text = sh_vformat(format, args);
    va_end(args);
    return text;
}

char *sh_json_quote(const char *text, size_t size)
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
