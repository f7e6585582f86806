/*
 * mx_test.h — the few macros the lib unit tests share: check a condition,
 * report file:line and keep going, and exit non-zero if anything failed.
 */
#ifndef MX_TEST_H
#define MX_TEST_H

#include <stdio.h>

static int mx_test_failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			mx_test_failures++;                                    \
		}                                                              \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                     \
	do {                                                                   \
		unsigned long long a_ = (a), b_ = (b);                         \
		if (a_ != b_) {                                                \
			fprintf(stderr, "%s:%d: %s == %llu, want %llu\n",      \
				__FILE__, __LINE__, #a, a_, b_);               \
			mx_test_failures++;                                    \
		}                                                              \
	} while (0)

#define TEST_EXIT()                                                            \
	(mx_test_failures ? (fprintf(stderr, "%d check(s) failed\n",           \
				     mx_test_failures),                        \
			     1)                                                \
			  : 0)

#endif
