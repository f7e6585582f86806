/*
 * ml_hist — log-linear histogram: bucket arithmetic and percentiles.
 * See ml_hist.h for the layout and its precision.
 */
#include "ml_hist.h"

#include <string.h>

void ml_hist_init(struct ml_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

unsigned ml_hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < 128)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb >= ML_HIST_MAX_BITS)
		return ML_HIST_BUCKETS - 1;
	/* v >> shift lands in [64, 127]: the 64 linear steps of this octave. */
	shift = msb - ML_HIST_SUB_BITS;
	return 128 + (shift - 1) * 64 + (unsigned)((v >> shift) - 64);
}

void ml_hist_range(unsigned i, uint64_t *lo, uint64_t *hi)
{
	unsigned shift;
	uint64_t sub;

	if (i < 128) {
		*lo = i;
		*hi = (uint64_t)i + 1;
		return;
	}
	shift = (i - 128) / 64 + 1;
	sub = (i - 128) % 64 + 64;
	*lo = sub << shift;
	*hi = (sub + 1) << shift;
}

void ml_hist_record(struct ml_hist *h, uint64_t v)
{
	if (v >> ML_HIST_MAX_BITS)
		h->clamped++;
	h->bucket[ml_hist_index(v)]++;
	h->count++;
	h->sum_ns += v;
	if (v < h->min_ns)
		h->min_ns = v;
	if (v > h->max_ns)
		h->max_ns = v;
}

void ml_hist_merge(struct ml_hist *dst, const struct ml_hist *src)
{
	unsigned i;

	for (i = 0; i < ML_HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->clamped += src->clamped;
	dst->sum_ns += src->sum_ns;
	if (src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

uint64_t ml_hist_percentile(const struct ml_hist *h, double pct)
{
	uint64_t rank, seen = 0, lo, hi;
	unsigned i;

	if (h->count == 0)
		return 0;
	if (pct >= 100.0)
		return h->max_ns;
	/* The smallest value that at least pct% of the samples do not exceed.
	 */
	rank = (uint64_t)((pct / 100.0) * (double)h->count + 0.5);
	if (rank == 0)
		rank = 1;
	for (i = 0; i < ML_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			ml_hist_range(i, &lo, &hi);
			lo = lo + (hi - lo) / 2;
			if (lo > h->max_ns)
				lo = h->max_ns;
			if (lo < h->min_ns)
				lo = h->min_ns;
			return lo;
		}
	}
	return h->max_ns;
}
