/* stats.h - descriptive statistics over arrays of doubles. */
#ifndef LEGACY_STATS_H
#define LEGACY_STATS_H

#include <stddef.h>

/* Returns the arithmetic mean of the n values at v. n must not be 0 (the result is then NaN). */
double mean(const double *v, size_t n);

#endif
