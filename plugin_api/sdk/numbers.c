#include "numbers.h"

#include <sandhost/sdk.h>

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sh_payload_status_t sh_parse_integer(const char *begin, const char *end, long long *out)
{
    const char *p = begin;
    int negative = *p == '-';
    unsigned long long magnitude = 0;
    unsigned long long limit;

    if (negative) {
        ++p;
    }
    limit = negative ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; p < end; ++p) {
        unsigned long long digit = (unsigned long long)(*p - '0');

        if (magnitude > (limit - digit) / 10) {
            return SH_PAYLOAD_OUT_OF_RANGE;
        }
        magnitude = magnitude * 10 + digit;
    }
    if (negative) {
        /* -(LLONG_MAX + 1) written without overflowing. */
        *out = magnitude == 0 ? 0 : -(long long)(magnitude - 1) - 1;
    } else {
        *out = (long long)magnitude;
    }
    return SH_PAYLOAD_OK;
}

/* The locale's decimal point when it is one character other than '.', else '\0'. A plugin may
 * have called setlocale(); strtod and printf follow it, JSON does not. */
static char sh_locale_decimal_point(void)
{
    const char *point = localeconv()->decimal_point;

    return point != NULL && point[0] != '\0' && point[0] != '.' && point[1] == '\0' ? point[0] : '\0';
}

sh_payload_status_t sh_parse_double(const char *begin, const char *end, double *out)
{
    char small[64];
    const size_t length = (size_t)(end - begin);
    char *text = length < sizeof small ? small : (char *)malloc(length + 1);
    const char point = sh_locale_decimal_point();
    double value;
    size_t i;

    if (text == NULL) {
        return SH_PAYLOAD_NO_MEMORY;
    }
    memcpy(text, begin, length);
    text[length] = '\0';
    if (point != '\0') {
        for (i = 0; i < length; ++i) {
            if (text[i] == '.') {
                text[i] = point;
            }
        }
    }
    errno = 0;
    value = strtod(text, NULL);
    if (text != small) {
        free(text);
    }
    /* Underflow gives the nearest double (0 or a subnormal), which is right; overflow is not. */
    if (errno == ERANGE && (value == HUGE_VAL || value == -HUGE_VAL)) {
        return SH_PAYLOAD_OUT_OF_RANGE;
    }
    *out = value;
    return SH_PAYLOAD_OK;
}

int sh_json_format_double(double value, char *out, size_t out_size)
{
    char text[40];
    const char point = sh_locale_decimal_point();
    int precision;
    int exponent;
    size_t i;

    if (isnan(value) || isinf(value) || out_size < 32) {
        return 0;
    }
    /* The fewest significant digits (%.1g .. %.17g) that read back as value; 17 always do. */
    for (precision = 1; precision < 17; ++precision) {
        snprintf(text, sizeof text, "%.*g", precision, value);
        if (strtod(text, NULL) == value) {
            break;
        }
    }
    snprintf(text, sizeof text, "%.*e", precision - 1, value);
    exponent = atoi(strchr(text, 'e') + 1);
    /* %g writes 100 as 1e+02: below 1e17, whole digits read better, and are as exact. */
    if (exponent >= precision && exponent < 17) {
        snprintf(text, sizeof text, "%.0f", value);
    } else {
        snprintf(text, sizeof text, "%.*g", precision, value);
    }
    for (i = 0; text[i] != '\0'; ++i) {
        if (point != '\0' && text[i] == point) {
            text[i] = '.';
        }
    }
    memcpy(out, text, i + 1);
    return 1;
}
