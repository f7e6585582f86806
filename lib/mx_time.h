/*
 * mx_time — clocks.  Monotonic time for timeouts and latency, wall time
 * for records and headers.  vDSO-backed, cheap enough for the hot path.
 */
#ifndef MX_TIME_H
#define MX_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t mx_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t mx_now_ms(void)
{
	return mx_now_ns() / 1000000u;
}

/* Nanoseconds since the Unix epoch. */
static inline uint64_t mx_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * RFC 5322 §3.3 date-time in UTC ("Wed, 25 Nov 2026 16:57:50 +0000") into
 * buf; returns the length written (always < size), or 0 if size is too
 * small (32 bytes is enough).
 */
size_t mx_time_fmt_rfc5322(char *buf, size_t size, uint64_t wall_ns);

/* ISO 8601 UTC with milliseconds ("2026-11-25T16:57:50.123Z"); as above. */
size_t mx_time_fmt_iso8601(char *buf, size_t size, uint64_t wall_ns);

#endif
