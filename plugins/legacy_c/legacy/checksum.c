/* checksum.c - Adler-32 checksum of a memory buffer. */
#include "checksum.h"

#define ADLER_MOD 65521UL
/* Largest n such that 255n(n+1)/2 + (n+1)(ADLER_MOD-1) fits in 32 bits: the sums can run that
   many bytes before they must be reduced. */
#define ADLER_NMAX 5552

unsigned long checksum_adler32(const unsigned char *data, size_t len)
{
    unsigned long a = 1;
    unsigned long b = 0;
    size_t chunk;

    while (len > 0) {
        chunk = len < ADLER_NMAX ? len : ADLER_NMAX;
        len -= chunk;
        while (chunk-- > 0) {
            a += *data++;
            b += a;
        }
        a %= ADLER_MOD;
        b %= ADLER_MOD;
    }
    return (b << 16) | a;
}
