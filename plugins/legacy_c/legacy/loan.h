/* loan.h - repayment of a fixed-rate loan. */
#ifndef LEGACY_LOAN_H
#define LEGACY_LOAN_H

struct loan {
    double principal;   /* amount borrowed */
    double annual_rate; /* e.g. 0.05 for 5 % a year, compounded monthly */
    int months;         /* number of monthly payments, at least 1 */
};

/* Returns the monthly payment that repays the loan in full. */
double loan_payment(const struct loan *loan);

#endif
