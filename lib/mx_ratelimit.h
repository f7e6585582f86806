/*
 * mx_ratelimit — a fixed-window limiter: at most `burst` events per
 * `interval`, counting what it refused so the next allowed event can say
 * how much was dropped.  Plain struct, no locking: one owner per limiter.
 */
#ifndef MX_RATELIMIT_H
#define MX_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct mx_ratelimit {
	uint64_t interval_ns;
	uint64_t window_start_ns;
	uint64_t suppressed;	/* refused since the last allowed event */
	uint32_t burst;
	uint32_t used;		/* allowed in the current window */
};

#define MX_RATELIMIT_INIT(interval_ms, burst_)                                 \
	{ .interval_ns = (uint64_t)(interval_ms) * 1000000u,                   \
	  .burst = (burst_) }

void mx_ratelimit_init(struct mx_ratelimit *rl, uint64_t interval_ms,
		       uint32_t burst);

/*
 * true if the event at `now_ns` may proceed.  When it may, and events were
 * refused before it, *suppressed (if not NULL) receives their number and the
 * count starts again from zero; otherwise *suppressed is set to 0.
 */
bool mx_ratelimit_allow(struct mx_ratelimit *rl, uint64_t now_ns,
			uint64_t *suppressed);

#endif
