/* strutil.h - small string helpers. */
#ifndef LEGACY_STRUTIL_H
#define LEGACY_STRUTIL_H

/* Returns a newly allocated copy of s with its bytes in reverse order; the caller frees it.
   Returns NULL when out of memory. */
char *str_reverse(const char *s);

#endif
