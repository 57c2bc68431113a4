/*
 * The latency histogram (omb.h): log-linear buckets, HdrHistogram's idea
 * in a fixed array.  Values below 64 ns have a bucket each; above, each
 * power of two [2^k, 2^(k+1)) is split into 64 equal sub-buckets, so a
 * value is known to within 1/64 of itself.  Recording is one relaxed
 * atomic increment (several library threads may record into one
 * histogram) and a compare-and-swap loop for the max.
 */
#include <assert.h>

#include "omb.h"

static unsigned bucket_of(uint64_t ns)
{
	unsigned k, idx;

	if (ns < HIST_SUB)
		return (unsigned)ns;
	k = 63u - (unsigned)__builtin_clzll(ns); /* ns in [2^k, 2^(k+1)) */
	if (k > HIST_POW_MAX)
		return HIST_BUCKETS - 1;
	idx = (k - HIST_SUB_BITS + 1) * HIST_SUB +
	      (unsigned)((ns >> (k - HIST_SUB_BITS)) & (HIST_SUB - 1));
	assert(idx < HIST_BUCKETS);
	return idx;
}

/* The largest value that falls in bucket i. */
static uint64_t bucket_top(unsigned i)
{
	unsigned k, sub;

	if (i < HIST_SUB)
		return i;
	k = i / HIST_SUB + HIST_SUB_BITS - 1;
	sub = i % HIST_SUB;
	return (1ull << k) + ((uint64_t)(sub + 1) << (k - HIST_SUB_BITS)) - 1;
}

void hist_record(struct hist *h, uint64_t ns)
{
	uint64_t m = __atomic_load_n(&h->max_ns, __ATOMIC_RELAXED);

	__atomic_fetch_add(&h->count[bucket_of(ns)], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->total, 1, __ATOMIC_RELAXED);
	while (ns > m && !__atomic_compare_exchange_n(&h->max_ns, &m, ns, true,
						      __ATOMIC_RELAXED,
						      __ATOMIC_RELAXED))
		;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->count[i] += src->count[i];
	dst->total += src->total;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	assert(q >= 0.0 && q <= 1.0);
	if (h->total == 0)
		return 0;
	if (q >= 1.0)
		return h->max_ns;
	rank = (uint64_t)(q * (double)h->total + 0.999999);
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= rank) {
			uint64_t top = bucket_top(i);
			return top < h->max_ns ? top : h->max_ns;
		}
	}
	return h->max_ns;
}
