/* checksum.h - Adler-32 checksum of a memory buffer. */
#ifndef LEGACY_CHECKSUM_H
#define LEGACY_CHECKSUM_H

#include <stddef.h>

/* Returns the Adler-32 checksum (RFC 1950) of the len bytes at data; 1 for an empty buffer. */
unsigned long checksum_adler32(const unsigned char *data, size_t len);

#endif
