/* loan.c - repayment of a fixed-rate loan. */
#include "loan.h"

#include <math.h>

double loan_payment(const struct loan *loan)
{
    double r = loan->annual_rate / 12.0;

    if (r == 0.0)
        return loan->principal / loan->months;
    return loan->principal * r / (1.0 - pow(1.0 + r, -loan->months));
}
