/*
 * test_dlv_backoff — retry schedule parsing (accepted and refused forms)
 * and the delay by attempt: the step index, the cap at the last step, and
 * the jitter bounds over many random values.
 */
#include <stdio.h>
#include <string.h>

#include "mgmt_dlv_backoff.h"
#include "mx_test.h"

#define S 1000000000ull

static const struct {
	const char *in;
	unsigned steps;
	uint64_t first_ns, last_ns;
} ok_cases[] = {
    {"5m,10m,20m,40m,80m,160m,4h", 7, 300 * S, 14400 * S},
    {"1s", 1, S, S},
    {"30s,30s,1m", 3, 30 * S, 60 * S},
    {" 1s , 2s ", 2, S, 2 * S},
    {"1d", 1, 86400 * S, 86400 * S},
};

static const char *const bad_cases[] = {
    "",
    "0s",
    "5",
    "m",
    "5x",
    "1s,,2s",
    "2s,1s",
    "1s,",
    "-1s",
    "1.5s",
    "1s,2s,3s,4s,5s,6s,7s,8s,9s,10s,11s,12s,13s,14s,15s,16s,17s,18s,19s,"
    "20s,21s,22s,23s,24s,25s,26s,27s,28s,29s,30s,31s,32s,33s",
};

int main(void)
{
	struct mgmt_dlv_backoff b;
	char err[128];

	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		int rc = mgmt_dlv_backoff_parse(ok_cases[i].in, 0, &b, err,
						sizeof(err));

		CHECK(rc == 0);
		if (rc)
			continue;
		CHECK_EQ_U64(b.step_count, ok_cases[i].steps);
		CHECK_EQ_U64(b.step_ns[0], ok_cases[i].first_ns);
		CHECK_EQ_U64(b.step_ns[b.step_count - 1], ok_cases[i].last_ns);
	}
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		err[0] = 0;
		CHECK(mgmt_dlv_backoff_parse(bad_cases[i], 0, &b, err,
					     sizeof(err)) == -22);
		CHECK(err[0] != 0);
	}
	CHECK(mgmt_dlv_backoff_parse("1s", 51, &b, err, sizeof(err)) == -22);

	/* Without jitter: exact steps, the last repeats, attempt 0 = first. */
	CHECK(mgmt_dlv_backoff_parse("1m,2m,4m", 0, &b, err, sizeof(err)) == 0);
	CHECK_EQ_U64(mgmt_dlv_backoff_delay_ns(&b, 0, 12345), 60 * S);
	CHECK_EQ_U64(mgmt_dlv_backoff_delay_ns(&b, 1, 12345), 60 * S);
	CHECK_EQ_U64(mgmt_dlv_backoff_delay_ns(&b, 2, 12345), 120 * S);
	CHECK_EQ_U64(mgmt_dlv_backoff_delay_ns(&b, 3, 12345), 240 * S);
	CHECK_EQ_U64(mgmt_dlv_backoff_delay_ns(&b, 4, 12345), 240 * S);
	CHECK_EQ_U64(mgmt_dlv_backoff_delay_ns(&b, 4000000000u, 1), 240 * S);

	/* With 10% jitter: within bounds, deterministic per rnd, and
	 * actually spread (both halves of the range are hit). */
	CHECK(mgmt_dlv_backoff_parse("100s", 10, &b, err, sizeof(err)) == 0);
	uint64_t x = 88172645463325252ull, lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t d = mgmt_dlv_backoff_delay_ns(&b, 1, x);
		CHECK(d >= 90 * S && d <= 110 * S);
		CHECK_EQ_U64(d, mgmt_dlv_backoff_delay_ns(&b, 1, x));
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	CHECK(lo < 92 * S);
	CHECK(hi > 108 * S);

	uint64_t ns;
	CHECK(mgmt_dlv_duration_parse("90s", 3, &ns) == 0 && ns == 90 * S);
	CHECK(mgmt_dlv_duration_parse("2h", 2, &ns) == 0 && ns == 7200 * S);
	CHECK(mgmt_dlv_duration_parse("2hx", 3, &ns) == -22);
	return TEST_EXIT();
}
