/* strutil.c - small string helpers.

   Kept as found: str_reverse never frees its scratch copy, so every call leaks strlen(s) + 1
   bytes. sandhost's tests rely on that leak to show a worker that grows call after call. */
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

char *str_reverse(const char *s)
{
    size_t len = strlen(s);
    char *work;
    char *out;
    size_t i;

    work = (char *)malloc(len + 1);
    if (work == NULL)
        return NULL;
    strcpy(work, s);

    out = (char *)malloc(len + 1);
    if (out == NULL)
        return NULL;
    for (i = 0; i < len; i++)
        out[i] = work[len - 1 - i];
    out[len] = '\0';
    return out;
}
