/*
 * JSON numbers to and from C numbers (internal to the SDK, not installed). Every function works
 * whatever the process's locale says a decimal point is.
 */
#ifndef SANDHOST_SDK_NUMBERS_H
#define SANDHOST_SDK_NUMBERS_H

#include <sandhost/payload.h>

/* The integer written in [begin, end) (a valid JSON integer) into *out, or
 * SH_PAYLOAD_OUT_OF_RANGE when it does not fit in long long. */
sh_payload_status_t sh_parse_integer(const char *begin, const char *end, long long *out);

/* The number written in [begin, end) (a valid JSON number) as the nearest double, or
 * SH_PAYLOAD_OUT_OF_RANGE when it is beyond the range of double (SH_PAYLOAD_NO_MEMORY when a
 * very long number cannot be copied). */
sh_payload_status_t sh_parse_double(const char *begin, const char *end, double *out);

#endif /* SANDHOST_SDK_NUMBERS_H */
