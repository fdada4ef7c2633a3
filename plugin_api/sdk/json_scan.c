#include "json_scan.h"

#include <stdlib.h>
#include <string.h>

void sh_json_skip_space(sh_json_scan_t *scan)
{
    while (scan->pos < scan->end &&
           (*scan->pos == ' ' || *scan->pos == '\t' || *scan->pos == '\n' || *scan->pos == '\r')) {
        ++scan->pos;
    }
}

/* Reads four hex digits at scan->pos into *code. Returns 1, or 0 when they are not there. */
static int sh_json_hex4(sh_json_scan_t *scan, unsigned long *code)
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

size_t sh_utf8_encode(unsigned long code, char *out)
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

size_t sh_utf8_sequence_length(const unsigned char *text, size_t available)
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

int sh_json_string(sh_json_scan_t *scan, char *out, size_t *size)
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

/* Scans a number at scan->pos. Sets *kind to SH_JSON_INTEGER or SH_JSON_NUMBER. */
static int sh_json_number(sh_json_scan_t *scan, sh_json_kind_t *kind)
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

/* Scans the object or array starting at scan->pos. */
static int sh_json_container(sh_json_scan_t *scan, int depth)
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

int sh_json_value(sh_json_scan_t *scan, int depth, sh_json_kind_t *kind)
{
    static const struct {
        const char *text;
        sh_json_kind_t kind;
    } literals[] = {{"true", SH_JSON_BOOLEAN}, {"false", SH_JSON_BOOLEAN}, {"null", SH_JSON_NULL}};
    size_t i;

    sh_json_skip_space(scan);
    if (scan->pos >= scan->end) {
        return 0;
    }
    if (*scan->pos == '"') {
        *kind = SH_JSON_STRING;
        return sh_json_string(scan, NULL, NULL);
    }
    if (*scan->pos == '{' || *scan->pos == '[') {
        *kind = *scan->pos == '{' ? SH_JSON_OBJECT : SH_JSON_ARRAY;
        return sh_json_container(scan, depth + 1);
    }
    for (i = 0; i < sizeof(literals) / sizeof(literals[0]); ++i) {
        size_t length = strlen(literals[i].text);

        if (*scan->pos == literals[i].text[0]) {
            if ((size_t)(scan->end - scan->pos) < length ||
                memcmp(scan->pos, literals[i].text, length) != 0) {
                return 0;
            }
            scan->pos += length;
            *kind = literals[i].kind;
            return 1;
        }
    }
    return sh_json_number(scan, kind);
}

int sh_json_key_equals(const char *raw, size_t raw_size, const char *key, size_t key_size,
                       int *no_memory)
{
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
