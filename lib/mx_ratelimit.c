/*
 * mx_ratelimit.c — fixed-window rate limiter (see mx_ratelimit.h).
 */
#include "mx_ratelimit.h"

void mx_ratelimit_init(struct mx_ratelimit *rl, uint64_t interval_ms,
		       uint32_t burst)
{
	*rl = (struct mx_ratelimit)MX_RATELIMIT_INIT(interval_ms, burst);
}

bool mx_ratelimit_allow(struct mx_ratelimit *rl, uint64_t now_ns,
			uint64_t *suppressed)
{
	/* A new window starts when the old one has fully elapsed; a clock
	 * that goes backwards (it cannot, monotonic) would simply keep the
	 * current window. */
	if (rl->used == 0 || now_ns - rl->window_start_ns >= rl->interval_ns) {
		rl->window_start_ns = now_ns;
		rl->used = 0;
	}
	if (rl->used >= rl->burst) {
		rl->suppressed++;
		if (suppressed)
			*suppressed = 0;
		return false;
	}
	rl->used++;
	if (suppressed)
		*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}
