/*
 * The latency histogram of `sluice perf` (tools/sluice/perf.c), shared with
 * perf/kafka_bench.c so that the native and the Kafka figures are the same
 * percentiles of the same buckets: 1 us buckets below 100 ms, 1 ms buckets
 * up to 100 s, the last bucket taking everything above.  Single writer;
 * b is LAT_HIST_BUCKETS counters the caller allocates (calloc).
 */
#ifndef SLUICE_TOOLS_SLUICE_LAT_HIST_H
#define SLUICE_TOOLS_SLUICE_LAT_HIST_H

#include <stdint.h>

#define LAT_HIST_FINE 100000u
#define LAT_HIST_BUCKETS (LAT_HIST_FINE + 100000u)

struct lat_hist {
	uint32_t *b;
	uint64_t n;
};

static inline void lat_hist_add(struct lat_hist *h, uint64_t us)
{
	uint64_t i = us < LAT_HIST_FINE ? us :
		     LAT_HIST_FINE + (us - LAT_HIST_FINE) / 1000u;
	if (i >= LAT_HIST_BUCKETS)
		i = LAT_HIST_BUCKETS - 1;
	h->b[i]++;
	h->n++;
}

/* The q-quantile in microseconds, 0 if empty: the nearest rank, the
 * bucket (its lower edge) of the ceil(q * n)-th smallest value, as
 * perf/suite/hist.c counts it (tests/perf/hist_test.c). */
static inline uint64_t lat_hist_pct(const struct lat_hist *h, double q)
{
	if (!h->n)
		return 0;
	/* ceil, tolerant of q * n landing a rounding error above an integer */
	uint64_t rank = (uint64_t)((double)h->n * q + 0.999999);
	if (rank == 0)
		rank = 1;
	if (rank > h->n)
		rank = h->n;
	uint64_t seen = 0;
	for (uint64_t i = 0; i < LAT_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			return i < LAT_HIST_FINE ? i :
			       LAT_HIST_FINE + (i - LAT_HIST_FINE) * 1000u;
	}
	return 0;
}

#endif
