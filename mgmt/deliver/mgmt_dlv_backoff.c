/*
 * mgmt_dlv_backoff — retry schedule parsing and the delay computation.
 */
#include "mgmt_dlv_backoff.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int mgmt_dlv_duration_parse(const char *text, size_t len, uint64_t *ns)
{
	uint64_t v = 0, unit;
	size_t i = 0;

	while (i < len && text[i] == ' ')
		i++;
	while (len > i && text[len - 1] == ' ')
		len--;
	if (i == len)
		return -EINVAL;
	size_t start = i;
	while (i < len && text[i] >= '0' && text[i] <= '9') {
		v = v * 10 + (uint64_t)(text[i] - '0');
		if (v > 1000000000u)
			return -EINVAL;
		i++;
	}
	if (i == start || i + 1 != len)
		return -EINVAL;
	switch (text[i]) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return -EINVAL;
	}
	*ns = v * unit * 1000000000ull;
	return 0;
}

int mgmt_dlv_backoff_parse(const char *text, unsigned jitter_pct,
			   struct mgmt_dlv_backoff *b, char *err,
			   size_t err_size)
{
	const char *p = text;

	memset(b, 0, sizeof(*b));
	if (jitter_pct > 50) {
		snprintf(err, err_size, "jitter %u%% out of range 0-50",
			 jitter_pct);
		return -EINVAL;
	}
	b->jitter_pct = jitter_pct;
	if (text == NULL || *text == '\0') {
		snprintf(err, err_size, "empty retry schedule");
		return -EINVAL;
	}
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		uint64_t ns;

		if (b->step_count == MGMT_DLV_BACKOFF_STEPS_MAX) {
			snprintf(err, err_size, "more than %d retry steps",
				 MGMT_DLV_BACKOFF_STEPS_MAX);
			return -EINVAL;
		}
		if (mgmt_dlv_duration_parse(p, len, &ns) < 0 || ns == 0) {
			snprintf(
			    err, err_size,
			    "bad duration \"%.*s\" (want e.g. 30s, 5m, 1h)",
			    (int)len, p);
			return -EINVAL;
		}
		if (b->step_count > 0 && ns < b->step_ns[b->step_count - 1]) {
			snprintf(err, err_size,
				 "retry steps must not decrease: \"%.*s\"",
				 (int)len, p);
			return -EINVAL;
		}
		b->step_ns[b->step_count++] = ns;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}

uint64_t mgmt_dlv_backoff_base_ns(const struct mgmt_dlv_backoff *b,
				  uint32_t attempts)
{
	unsigned idx;

	if (b->step_count == 0)
		return 0;
	idx = attempts == 0 ? 0 : attempts - 1;
	if (idx >= b->step_count)
		idx = b->step_count - 1;
	return b->step_ns[idx];
}

uint64_t mgmt_dlv_backoff_delay_ns(const struct mgmt_dlv_backoff *b,
				   uint32_t attempts, uint64_t rnd)
{
	uint64_t base = mgmt_dlv_backoff_base_ns(b, attempts), span;

	span = base / 100 * b->jitter_pct;
	if (span == 0)
		return base;
	/* Uniform in [base - span, base + span]. */
	return base - span + rnd % (2 * span + 1);
}
