/* stats.c - descriptive statistics over arrays of doubles. */
#include "stats.h"

double mean(const double *v, size_t n)
{
    double sum = 0.0;
    size_t i;

    for (i = 0; i < n; i++)
        sum += v[i];
    return sum / (double)n;
}
