/*
 * mgmt_dlv_backoff — when a deferred recipient is tried again: a schedule
 * of delays by attempt number (the last one repeats), each spread by a
 * random jitter so that a burst deferred together does not return
 * together.  Pure functions; any thread.
 *
 * The schedule text is a comma-separated list of durations with a unit
 * (s, m, h, d), non-decreasing: "5m,10m,20m,40m,80m,160m,4h" (the default:
 * doubling from five minutes, capped at four hours).
 */
#ifndef MGMT_DLV_BACKOFF_H
#define MGMT_DLV_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

#define MGMT_DLV_BACKOFF_STEPS_MAX 32
#define MGMT_DLV_BACKOFF_DEFAULT "5m,10m,20m,40m,80m,160m,4h"

struct mgmt_dlv_backoff {
	uint64_t step_ns[MGMT_DLV_BACKOFF_STEPS_MAX];
	unsigned step_count;
	unsigned jitter_pct; /* 0..50: delay varies by +-jitter_pct% */
};

/* 0 or -EINVAL with the reason in err. */
int mgmt_dlv_backoff_parse(const char *text, unsigned jitter_pct,
			   struct mgmt_dlv_backoff *b, char *err,
			   size_t err_size);

/* "90s", "5m", "2h", "3d" -> ns; 0 or -EINVAL.  Shared with config. */
int mgmt_dlv_duration_parse(const char *text, size_t len, uint64_t *ns);

/*
 * Delay before the next try after `attempts` failed attempts (1 = the
 * first failed).  `rnd` is any random 64-bit value; the same rnd gives the
 * same delay, which is what the tests rely on.
 */
uint64_t mgmt_dlv_backoff_delay_ns(const struct mgmt_dlv_backoff *b,
				   uint32_t attempts, uint64_t rnd);

/* The nominal delay of that step, without jitter. */
uint64_t mgmt_dlv_backoff_base_ns(const struct mgmt_dlv_backoff *b,
				  uint32_t attempts);

#endif
