/*
 * ml_hist — a small log-linear latency histogram (HdrHistogram-style; Debian
 * has no HdrHistogram package, so mxload carries its own).
 *
 * Values are nanoseconds.  Below 128 ns every value has its own bucket;
 * above, each power of two is split into 64 linear buckets, so a bucket is
 * at most 1/64 of its lower bound wide and a reported percentile (the
 * bucket's midpoint) is within about 0.8% of the true value — "~1%
 * precision".  Values up to 2^41 ns (~36 min) are kept; larger ones are
 * clamped into the top bucket and counted in `clamped`.
 *
 * Storage is a fixed array inside the struct: no allocation, so a worker
 * thread owns one and the main thread merges them after the threads are
 * joined.  Not thread-safe; no function fails.
 */
#ifndef ML_HIST_H
#define ML_HIST_H

#include <stdint.h>

#define ML_HIST_SUB_BITS 6
#define ML_HIST_MAX_BITS 41
#define ML_HIST_BUCKETS (128 + (ML_HIST_MAX_BITS - ML_HIST_SUB_BITS - 1) * 64)

struct ml_hist {
	uint64_t count;
	uint64_t clamped;
	uint64_t min_ns;
	uint64_t max_ns;
	uint64_t sum_ns;
	uint64_t bucket[ML_HIST_BUCKETS];
};

void ml_hist_init(struct ml_hist *h);
void ml_hist_record(struct ml_hist *h, uint64_t value_ns);
/* Adds every count of src into dst. */
void ml_hist_merge(struct ml_hist *dst, const struct ml_hist *src);
/* Value at percentile pct (0..100); 0 for an empty histogram. */
uint64_t ml_hist_percentile(const struct ml_hist *h, double pct);
/* Index of the bucket holding v, and the [lo, hi) range of bucket i. */
unsigned ml_hist_index(uint64_t v);
void ml_hist_range(unsigned i, uint64_t *lo, uint64_t *hi);

#endif
