/*
 * mig_print.h - a readable dump of a saved device-state blob, for
 * operators debugging a failed migration (`virtiofsd --print-state FILE`).
 */
#ifndef MIG_PRINT_H
#define MIG_PRINT_H

#include <stdio.h>

/*
 * Decode the state stream read from fd up to EOF and print every part of
 * it to out: the header, each section with its decoded content, the
 * checksum verdict and a summary.  Independent of the loader: a blob the
 * loader would refuse is shown as far as it can be decoded, with one
 * "error: ..." line per problem.  Never trusts the input.
 * Returns 0 when the blob is valid, 1 when any error was found.
 */
int mig_print(int fd, FILE *out);

#endif
