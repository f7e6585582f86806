/*
 * ml_hist_test — unit test of mxload's log-linear histogram: bucket
 * boundaries are contiguous and contain their values, and percentiles of
 * known distributions come back within the documented ~1%.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ml_hist.h"

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);            \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
			failures++;                                            \
		}                                                              \
	} while (0)

/* Every bucket starts where the previous one ended, and holds its own. */
static void test_buckets(void)
{
	uint64_t prev_hi = 0, lo, hi;
	unsigned i;

	for (i = 0; i < ML_HIST_BUCKETS; i++) {
		ml_hist_range(i, &lo, &hi);
		CHECK(lo == prev_hi, "bucket %u starts at %llu, not %llu", i,
		      (unsigned long long)lo, (unsigned long long)prev_hi);
		CHECK(ml_hist_index(lo) == i && ml_hist_index(hi - 1) == i,
		      "bucket %u does not hold [%llu, %llu)", i,
		      (unsigned long long)lo, (unsigned long long)hi);
		/* Width at most 1/64 of the lower bound above 128. */
		CHECK(lo < 128 || (hi - lo) * 64 <= lo,
		      "bucket %u too wide: [%llu, %llu)", i,
		      (unsigned long long)lo, (unsigned long long)hi);
		prev_hi = hi;
	}
	CHECK(ml_hist_index(UINT64_MAX) == ML_HIST_BUCKETS - 1,
	      "huge values go to the top bucket");
}

struct pct_case {
	const char *name;
	uint64_t lo_ns, step_ns; /* values lo, lo+step, ... */
	unsigned count;
	double pct;
};

static const struct pct_case pct_cases[] = {
    {"tiny exact", 0, 1, 100, 50},
    {"uniform 1us-1ms p50", 1000, 1000, 1000, 50},
    {"uniform 1us-1ms p99", 1000, 1000, 1000, 99},
    {"uniform 1us-1ms p99.9", 1000, 1000, 1000, 99.9},
    {"uniform 10ms-20ms p90", 10000000, 10000, 1000, 90},
    {"uniform 1s-2s p99", 1000000000, 1000000, 1000, 99},
    {"single value 12345", 12345, 0, 10, 50},
};

static void test_percentiles(void)
{
	static struct ml_hist h;
	unsigned c, i;

	for (c = 0; c < sizeof(pct_cases) / sizeof(pct_cases[0]); c++) {
		const struct pct_case *t = &pct_cases[c];
		uint64_t rank, want, got;

		ml_hist_init(&h);
		for (i = 0; i < t->count; i++)
			ml_hist_record(&h, t->lo_ns + i * t->step_ns);
		rank = (uint64_t)ceil(t->pct / 100.0 * t->count);
		want = t->lo_ns + (rank - 1) * t->step_ns;
		got = ml_hist_percentile(&h, t->pct);
		CHECK(fabs((double)got - (double)want) <=
			  0.01 * (double)want + 1.0,
		      "%s: p%g = %llu, want %llu within 1%%", t->name, t->pct,
		      (unsigned long long)got, (unsigned long long)want);
		CHECK(h.count == t->count, "%s: count", t->name);
	}
}

static void test_merge(void)
{
	static struct ml_hist a, b;
	unsigned i;

	ml_hist_init(&a);
	ml_hist_init(&b);
	for (i = 1; i <= 500; i++)
		ml_hist_record(&a, i * 1000);
	for (i = 501; i <= 1000; i++)
		ml_hist_record(&b, i * 1000);
	ml_hist_merge(&a, &b);
	CHECK(a.count == 1000 && a.min_ns == 1000 && a.max_ns == 1000000,
	      "merge keeps count, min and max");
	CHECK(fabs((double)ml_hist_percentile(&a, 50) - 500000.0) <= 5000.0,
	      "merged p50");
	CHECK(ml_hist_percentile(&a, 100) == 1000000, "p100 is the max");
	ml_hist_init(&b);
	CHECK(ml_hist_percentile(&b, 99) == 0, "empty histogram");
}

int main(void)
{
	test_buckets();
	test_percentiles();
	test_merge();
	printf("%s\n", failures ? "ml_hist: FAILED" : "ml_hist: ok");
	return failures ? 1 : 0;
}
