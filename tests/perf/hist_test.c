/*
 * The latency histograms behind every published percentile:
 *
 *   tools/sluice/lat_hist.h  `sluice perf` and perf/kafka_bench.c: 1 us
 *                            buckets below 100 ms, 1 ms buckets above, the
 *                            last bucket taking everything beyond; a
 *                            percentile is its bucket's lower edge.
 *   perf/suite/hist.c        sluice-omb (perf/suite): log-linear buckets,
 *                            64 per power of two (relative error < 1/64),
 *                            clamped at 2^40 ns; a percentile is its
 *                            bucket's upper edge capped by the exact max.
 *
 * Both must report the nearest-rank percentile: the value of the sample of
 * rank ceil(q * n) (1-based) in sorted order, to within the bucket.  The
 * expected values below are worked out by hand from the distributions, not
 * computed by a second copy of the code under test; the seeded random
 * case derives the exact percentile from a sorted array with integer
 * arithmetic and checks each histogram's answer against its stated
 * precision.  SLUICE_SEED=N replays the random case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tools/sluice/lat_hist.h"
#include "omb.h"

/* ---- tools/sluice/lat_hist.h ---- */

static struct lat_hist lh_new(void)
{
	struct lat_hist h = { .b = calloc(LAT_HIST_BUCKETS, sizeof(uint32_t)) };
	assert_non_null(h.b);
	return h;
}

static void lh_free(struct lat_hist *h)
{
	free(h->b);
	h->b = NULL;
}

static void lh_empty(void **state)
{
	(void)state;
	struct lat_hist h = lh_new();
	assert_int_equal(lat_hist_pct(&h, 0.0), 0);
	assert_int_equal(lat_hist_pct(&h, 0.5), 0);
	assert_int_equal(lat_hist_pct(&h, 0.999), 0);
	assert_int_equal(lat_hist_pct(&h, 1.0), 0);
	lh_free(&h);
}

static void lh_one_value(void **state)
{
	(void)state;
	static const uint64_t vals[] = { 0, 1, 1234, 99999, 100000, 250000 };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct lat_hist h = lh_new();
		lat_hist_add(&h, vals[i]);
		assert_int_equal(h.n, 1);
		assert_int_equal(lat_hist_pct(&h, 0.0), vals[i]);
		assert_int_equal(lat_hist_pct(&h, 0.5), vals[i]);
		assert_int_equal(lat_hist_pct(&h, 0.99), vals[i]);
		assert_int_equal(lat_hist_pct(&h, 0.999), vals[i]);
		assert_int_equal(lat_hist_pct(&h, 1.0), vals[i]);
		lh_free(&h);
	}
}

/* 1..1000 us once each: the k-th smallest is k, so the nearest-rank
 * p50/p99/p99.9 are 500/990/999 and the max 1000. */
static void lh_uniform_1000(void **state)
{
	(void)state;
	struct lat_hist h = lh_new();
	for (uint64_t v = 1000; v >= 1; v--) /* order must not matter */
		lat_hist_add(&h, v);
	assert_int_equal(h.n, 1000);
	assert_int_equal(lat_hist_pct(&h, 0.50), 500);
	assert_int_equal(lat_hist_pct(&h, 0.99), 990);
	assert_int_equal(lat_hist_pct(&h, 0.999), 999);
	assert_int_equal(lat_hist_pct(&h, 1.0), 1000);
	assert_int_equal(lat_hist_pct(&h, 0.0), 1);
	lh_free(&h);
}

/* 1..10000 us: p50 5000, p99 9900, p99.9 9990, max 10000; 0.0001 -> 1. */
static void lh_uniform_10000(void **state)
{
	(void)state;
	struct lat_hist h = lh_new();
	for (uint64_t v = 1; v <= 10000; v++)
		lat_hist_add(&h, v);
	assert_int_equal(lat_hist_pct(&h, 0.50), 5000);
	assert_int_equal(lat_hist_pct(&h, 0.99), 9900);
	assert_int_equal(lat_hist_pct(&h, 0.999), 9990);
	assert_int_equal(lat_hist_pct(&h, 1.0), 10000);
	assert_int_equal(lat_hist_pct(&h, 0.0001), 1);
	lh_free(&h);
}

/* A tail: 9989 samples at 100 us and 11 at 2.5 s (n = 10000).  The
 * 9900th and 9990th smallest are 100 us and 2.5 s. */
static void lh_tail(void **state)
{
	(void)state;
	struct lat_hist h = lh_new();
	for (int i = 0; i < 9989; i++)
		lat_hist_add(&h, 100);
	for (int i = 0; i < 11; i++)
		lat_hist_add(&h, 2500000);
	assert_int_equal(lat_hist_pct(&h, 0.50), 100);
	assert_int_equal(lat_hist_pct(&h, 0.99), 100);
	assert_int_equal(lat_hist_pct(&h, 0.9989), 100);
	assert_int_equal(lat_hist_pct(&h, 0.999), 2500000);
	assert_int_equal(lat_hist_pct(&h, 1.0), 2500000);
	lh_free(&h);
}

/* Bucket edges: exact below 100 ms, the 1 ms bucket's lower edge above. */
static void lh_edges(void **state)
{
	(void)state;
	static const uint64_t in_out[][2] = {
		{ 99998, 99998 },   { 99999, 99999 },   { 100000, 100000 },
		{ 100001, 100000 }, { 100999, 100000 }, { 101000, 101000 },
		{ 123456, 123000 }, { 5000999, 5000000 },
		/* the last bucket's own edge: FINE + (BUCKETS-1-FINE) ms */
		{ 100098999, 100098000 }, { 100099000, 100099000 },
	};
	for (size_t i = 0; i < sizeof(in_out) / sizeof(in_out[0]); i++) {
		struct lat_hist h = lh_new();
		lat_hist_add(&h, in_out[i][0]);
		if (lat_hist_pct(&h, 0.5) != in_out[i][1])
			fail_msg("%llu us reported as %llu, expected %llu",
				 (unsigned long long)in_out[i][0],
				 (unsigned long long)lat_hist_pct(&h, 0.5),
				 (unsigned long long)in_out[i][1]);
		lh_free(&h);
	}
}

/* Beyond the range: everything from 100.099 s on lands in the last
 * bucket and reads as its lower edge, never wraps or overflows. */
static void lh_beyond_range(void **state)
{
	(void)state;
	const uint64_t last_edge = 100099000; /* us */
	assert_int_equal(LAT_HIST_FINE + (uint64_t)(LAT_HIST_BUCKETS - 1 -
		LAT_HIST_FINE) * 1000u, last_edge);
	struct lat_hist h = lh_new();
	lat_hist_add(&h, 10);
	lat_hist_add(&h, 1000000000ull);    /* 1000 s */
	lat_hist_add(&h, UINT64_MAX);
	lat_hist_add(&h, UINT64_MAX - 1);
	assert_int_equal(h.n, 4);
	assert_int_equal(h.b[LAT_HIST_BUCKETS - 1], 3);
	assert_int_equal(lat_hist_pct(&h, 0.25), 10);
	assert_int_equal(lat_hist_pct(&h, 0.5), last_edge);
	assert_int_equal(lat_hist_pct(&h, 1.0), last_edge);
	lh_free(&h);
}

/* ---- perf/suite/hist.c ---- */

static struct hist *sh_new(void)
{
	struct hist *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	return h;
}

static void sh_empty(void **state)
{
	(void)state;
	struct hist *h = sh_new();
	assert_int_equal(hist_quantile(h, 0.0), 0);
	assert_int_equal(hist_quantile(h, 0.5), 0);
	assert_int_equal(hist_quantile(h, 1.0), 0);
	free(h);
}

static void sh_one_value(void **state)
{
	(void)state;
	static const uint64_t vals[] = { 0, 1, 63, 64, 1000, 1234567, 1ull << 39 };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct hist *h = sh_new();
		hist_record(h, vals[i]);
		/* the upper edge is capped by the max, so one value is exact */
		assert_int_equal(hist_quantile(h, 0.0), vals[i]);
		assert_int_equal(hist_quantile(h, 0.5), vals[i]);
		assert_int_equal(hist_quantile(h, 0.999), vals[i]);
		assert_int_equal(hist_quantile(h, 1.0), vals[i]);
		free(h);
	}
}

/* 1..1000 ns: the nearest-rank values are 500, 990, 999 and the max 1000;
 * the buckets holding them are [500, 503] (4 ns wide in [256, 512)),
 * [984, 991] and [992, 999] (8 ns wide in [512, 1024)), reported by their
 * upper edges. */
static void sh_uniform_1000(void **state)
{
	(void)state;
	struct hist *h = sh_new();
	for (uint64_t v = 1; v <= 1000; v++)
		hist_record(h, v);
	assert_int_equal(h->total, 1000);
	assert_int_equal(h->max_ns, 1000);
	assert_int_equal(hist_quantile(h, 0.50), 503);
	assert_int_equal(hist_quantile(h, 0.99), 991);
	assert_int_equal(hist_quantile(h, 0.999), 999);
	assert_int_equal(hist_quantile(h, 1.0), 1000);
	/* below 64 ns every value has a bucket of its own */
	assert_int_equal(hist_quantile(h, 0.05), 50);
	free(h);
}

/* The tail as above, in ns: 9989 at 100 us, 11 at 2.5 ms.  2.5 ms lies in
 * [2^21, 2^22) whose buckets are 2^15 ns wide: [2490368, 2523135],
 * capped by the max 2500000; 100 us lies in [99328, 100351]. */
static void sh_tail(void **state)
{
	(void)state;
	struct hist *h = sh_new();
	for (int i = 0; i < 9989; i++)
		hist_record(h, 100000);
	for (int i = 0; i < 11; i++)
		hist_record(h, 2500000);
	assert_int_equal(hist_quantile(h, 0.50), 100351);
	assert_int_equal(hist_quantile(h, 0.99), 100351);
	assert_int_equal(hist_quantile(h, 0.999), 2500000);
	assert_int_equal(hist_quantile(h, 1.0), 2500000);
	free(h);
}

/* Beyond 2^41 ns the values are clamped into the last bucket, whose upper
 * edge is 2^41 - 1; the max stays exact. */
static void sh_beyond_range(void **state)
{
	(void)state;
	struct hist *h = sh_new();
	hist_record(h, 5);
	hist_record(h, 1ull << 45);
	hist_record(h, UINT64_MAX);
	assert_int_equal(h->max_ns, UINT64_MAX);
	assert_int_equal(hist_quantile(h, 0.3), 5);
	assert_int_equal(hist_quantile(h, 0.5), (1ull << 41) - 1);
	assert_int_equal(hist_quantile(h, 1.0), UINT64_MAX);
	free(h);
}

static void sh_merge(void **state)
{
	(void)state;
	struct hist *a = sh_new(), *b = sh_new(), *all = sh_new();
	for (uint64_t v = 1; v <= 1000; v++)
		hist_record(v % 2 ? a : b, v);
	hist_merge(all, a);
	hist_merge(all, b);
	assert_int_equal(all->total, 1000);
	assert_int_equal(all->max_ns, 1000);
	assert_int_equal(hist_quantile(all, 0.50), 503);
	assert_int_equal(hist_quantile(all, 0.99), 991);
	free(a);
	free(b);
	free(all);
}

/* ---- both, against the exact percentile of random samples ---- */

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void both_random(void **state)
{
	(void)state;
	const char *env = getenv("SLUICE_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	printf("seed %llu (SLUICE_SEED=%llu replays)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	uint64_t s = seed * 2654435761u + 1;
	/* q as num/den so that the rank ceil(q n) is integer arithmetic */
	static const struct { double q; uint64_t num, den; } qs[] = {
		{ 0.5, 1, 2 }, { 0.9, 9, 10 }, { 0.99, 99, 100 },
		{ 0.999, 999, 1000 }, { 0.9999, 9999, 10000 }, { 1.0, 1, 1 },
	};
	static const uint64_t sizes[] = { 1, 2, 7, 100, 999, 1000, 4321, 20000 };
	for (int round = 0; round < 40; round++) {
		uint64_t n = sizes[round % 8];
		uint64_t *v = malloc(n * sizeof(*v));
		assert_non_null(v);
		struct lat_hist lh = lh_new();
		struct hist *sh = sh_new();
		for (uint64_t i = 0; i < n; i++) {
			/* log-uniform over 1 us .. ~60 s, in us */
			unsigned shift = (unsigned)(rnd(&s) % 26);
			v[i] = 1 + rnd(&s) % (1ull << shift);
			lat_hist_add(&lh, v[i]);
			hist_record(sh, v[i] * 1000u); /* the suite records ns */
		}
		qsort(v, n, sizeof(*v), cmp_u64);
		for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
			uint64_t rank = (n * qs[k].num + qs[k].den - 1) / qs[k].den;
			uint64_t exact = v[(rank ? rank : 1) - 1];
			uint64_t got = lat_hist_pct(&lh, qs[k].q);
			int ok = exact < LAT_HIST_FINE ? got == exact :
				 got <= exact && exact - got < 1000;
			if (!ok)
				fail_msg("seed %llu n %llu q %g: lat_hist says %llu "
					 "us, the exact value is %llu us",
					 (unsigned long long)seed,
					 (unsigned long long)n, qs[k].q,
					 (unsigned long long)got,
					 (unsigned long long)exact);
			uint64_t ns = exact * 1000u;
			got = hist_quantile(sh, qs[k].q);
			ok = got >= ns && got - ns <= ns / 64 &&
			     got <= v[n - 1] * 1000u;
			if (!ok)
				fail_msg("seed %llu n %llu q %g: hist says %llu "
					 "ns, the exact value is %llu ns",
					 (unsigned long long)seed,
					 (unsigned long long)n, qs[k].q,
					 (unsigned long long)got,
					 (unsigned long long)ns);
		}
		assert_int_equal(hist_quantile(sh, 1.0), v[n - 1] * 1000u);
		lh_free(&lh);
		free(sh);
		free(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lh_empty),
		cmocka_unit_test(lh_one_value),
		cmocka_unit_test(lh_uniform_1000),
		cmocka_unit_test(lh_uniform_10000),
		cmocka_unit_test(lh_tail),
		cmocka_unit_test(lh_edges),
		cmocka_unit_test(lh_beyond_range),
		cmocka_unit_test(sh_empty),
		cmocka_unit_test(sh_one_value),
		cmocka_unit_test(sh_uniform_1000),
		cmocka_unit_test(sh_tail),
		cmocka_unit_test(sh_beyond_range),
		cmocka_unit_test(sh_merge),
		cmocka_unit_test(both_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
