/*
 * scan_test.h — what the scan tests share: checks that report file:line
 * and keep going, and an exit status that says whether any failed.
 */
#ifndef SCAN_TEST_H
#define SCAN_TEST_H

#include <stdio.h>
#include <string.h>

static int scan_test_failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			scan_test_failures++;                                  \
		}                                                              \
	} while (0)

#define CHECKF(cond, ...)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			scan_test_failures++;                                  \
		}                                                              \
	} while (0)

#define TEST_EXIT()                                                            \
	(scan_test_failures                                                    \
	     ? (fprintf(stderr, "%d check(s) failed\n", scan_test_failures),   \
		1)                                                             \
	     : 0)

#endif
