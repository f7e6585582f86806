/*
 * ml_msg — the message pool: every message mxload sends is built here once,
 * before the workers start, so the send path never formats or allocates.
 *
 * Each message is kept twice: raw (CRLF lines, for BDAT, RFC 3030) and
 * dot-stuffed (RFC 5321 §4.5.2, for DATA; the terminating ".\r\n" is not
 * included).  For generated content the two are the same bytes, since no
 * generated line starts with a dot.  A pool holds clean messages and, when
 * an EICAR rate is asked for, a smaller set carrying the EICAR test file as
 * a base64 attachment; the worker draws between them at that rate.
 *
 * Built and freed by the main thread; read-only (and shared by all workers)
 * in between.  ml_pool_build() returns -errno and prints why on failure.
 */
#ifndef ML_MSG_H
#define ML_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_opts.h"

struct ml_msg {
	const char *raw;
	size_t raw_len;
	const char *stuffed;
	size_t stuffed_len;
	bool eicar;
};

struct ml_pool {
	struct ml_msg *clean;
	unsigned clean_count;
	struct ml_msg *eicar;
	unsigned eicar_count;
	uint64_t bytes; /* sum of raw sizes, for the report */
};

int ml_pool_build(struct ml_pool *p, const struct ml_opts *o);
void ml_pool_free(struct ml_pool *p);

/* xorshift64* — the generator every random choice in mxload uses. */
static inline uint64_t ml_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, 1). */
static inline double ml_rand01(uint64_t *s)
{
	return (double)(ml_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
