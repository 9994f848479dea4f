/*
 * unit_check.h - the smallest assertion helper for the unit tests: CHECK
 * reports the failing expression with its file and line and counts it;
 * a test's main() returns failures != 0.  Include once per test program.
 */
#ifndef UNIT_CHECK_H
#define UNIT_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			__LINE__, #cond); \
		failures++; \
	} \
} while (0)

#endif
