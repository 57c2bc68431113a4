/* A partition's leader epochs (dataplane/epoch_cache.h): Kafka's
 * endOffsetFor answers against hand-worked logs, the follower's
 * truncation point by KIP-101/279's cases, cuts from both ends, the cap,
 * and a randomised run against a model (the epoch of every offset of a
 * log kept as an array).  SLUICE_SEED=N replays a run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"
#include "dataplane/epoch_cache.h"

static void end_for(const struct epoch_cache *c, int32_t epoch, int64_t end,
		    int32_t want_epoch, int64_t want_end)
{
	int32_t e;
	int64_t o;
	epc_end_offset_for(c, epoch, end, &e, &o);
	if (e != want_epoch || o != want_end)
		fail_msg("epoch %d (log end %lld): got (%d, %lld), want "
			 "(%d, %lld)", epoch, (long long)end, e, (long long)o,
			 want_epoch, (long long)want_end);
}

/* epochs 1 at 0, 3 at 10, 4 at 25; log end 30 */
static void three(struct epoch_cache *c)
{
	epc_init(c);
	TL_EQ(epc_assign(c, 1, 0), 1);
	TL_EQ(epc_assign(c, 1, 5), 0);  /* the latest again */
	TL_EQ(epc_assign(c, 3, 10), 1);
	TL_EQ(epc_assign(c, 4, 25), 1);
}

static void test_end_offset_for(void **state)
{
	(void)state;
	struct epoch_cache c;
	epc_init(&c);
	end_for(&c, 0, 7, -1, -1);      /* nothing known: undefined */
	epc_fini(&c);
	three(&c);
	TL_EQ(epc_latest(&c), 4);
	end_for(&c, 4, 30, 4, 30);      /* the latest: the log end */
	end_for(&c, 3, 30, 3, 25);      /* ends where 4 starts */
	end_for(&c, 2, 30, 1, 10);      /* unknown: the one below, its end */
	end_for(&c, 1, 30, 1, 10);
	end_for(&c, 0, 30, 0, 0);       /* below all: where the first starts */
	end_for(&c, -5, 30, -5, 0);
	end_for(&c, -1, 30, -1, -1);    /* undefined */
	end_for(&c, 5, 30, -1, -1);     /* above the latest */
	TL_EQ(epc_epoch_at(&c, 0), 1);
	TL_EQ(epc_epoch_at(&c, 9), 1);
	TL_EQ(epc_epoch_at(&c, 10), 3);
	TL_EQ(epc_epoch_at(&c, 29), 4);
	/* older epochs and negative ones are not kept */
	TL_EQ(epc_assign(&c, 2, 30), 0);
	TL_EQ(c.refused, 1);
	TL_EQ(epc_assign(&c, -1, 30), 0);
	TL_EQ(c.n, 3);
	/* a newer epoch starting below entries drops them */
	TL_EQ(epc_assign(&c, 7, 12), 1);
	TL_EQ(c.n, 3);
	end_for(&c, 3, 40, 3, 12);
	end_for(&c, 4, 40, 3, 12);
	epc_fini(&c);
}

static void test_truncate(void **state)
{
	(void)state;
	struct epoch_cache c;
	three(&c);
	epc_truncate_end(&c, 26);       /* 4 keeps its start */
	TL_EQ(epc_latest(&c), 4);
	epc_truncate_end(&c, 25);       /* 4 goes */
	TL_EQ(epc_latest(&c), 3);
	end_for(&c, 3, 25, 3, 25);
	epc_truncate_end(&c, 0);
	TL_EQ(c.n, 0);
	epc_fini(&c);
	three(&c);
	epc_truncate_start(&c, 5);      /* inside epoch 1 */
	TL_EQ(c.n, 3);
	TL_EQ(c.e[0].start_offset, 5);
	epc_truncate_start(&c, 10);     /* epoch 1 ends there: gone */
	TL_EQ(c.n, 2);
	TL_EQ(c.e[0].epoch, 3);
	epc_truncate_start(&c, 40);     /* past the last: it starts there */
	TL_EQ(c.n, 1);
	TL_EQ(c.e[0].epoch, 4);
	TL_EQ(c.e[0].start_offset, 40);
	epc_fini(&c);
}

/* The follower's cut, by the cases of epoch_cache.h. */
static void test_truncation_point(void **state)
{
	(void)state;
	struct epoch_cache c;
	bool done;
	three(&c); /* follower: 1@0, 3@10, 4@25, end 30 */
	/* the leader knows epoch 4 and it ends at 28 there: cut at 28 */
	TL_EQ(epc_truncation_point(&c, 30, 20, 4, 28, &done), 28);
	TL_TRUE(done);
	/* it ends past our end: nothing to cut */
	TL_EQ(epc_truncation_point(&c, 30, 20, 4, 35, &done), 30);
	TL_TRUE(done);
	/* the leader's epoch 4 ended at 20, below where ours began (the
	 * leader's end is below ours for that epoch) */
	TL_EQ(epc_truncation_point(&c, 30, 20, 4, 20, &done), 20);
	TL_TRUE(done);
	/* the leader never had 4: its largest below is 3, ending at 22;
	 * ours ends at 25: the smaller */
	TL_EQ(epc_truncation_point(&c, 30, 20, 3, 22, &done), 22);
	TL_TRUE(done);
	/* its largest is 2, which we never had: cut to the end of ours
	 * below it (1, ending at 10) and ask again */
	TL_EQ(epc_truncation_point(&c, 30, 20, 2, 15, &done), 10);
	TL_TRUE(!done);
	/* undefined (the leader knows no epoch up to ours): the high
	 * watermark, as before epochs */
	TL_EQ(epc_truncation_point(&c, 30, 20, -1, -1, &done), 20);
	TL_TRUE(done);
	TL_EQ(epc_truncation_point(&c, 30, -1, -1, -1, &done), 0);
	/* no epoch but an end (an old leader) */
	TL_EQ(epc_truncation_point(&c, 30, 20, -1, 17, &done), 17);
	/* an epoch above ours (no leader answers so): as unknown */
	TL_EQ(epc_truncation_point(&c, 30, 20, 9, 27, &done), 27);
	TL_TRUE(done);
	/* an epoch below every one we know: where our first starts, or
	 * the leader's end if smaller */
	TL_EQ(epc_truncation_point(&c, 30, 20, 0, 4, &done), 0);
	TL_TRUE(done);
	epc_fini(&c);
	/* we know nothing: the leader's end */
	epc_init(&c);
	TL_EQ(epc_truncation_point(&c, 30, 20, 4, 12, &done), 12);
	TL_TRUE(done);
	TL_EQ(epc_truncation_point(&c, 5, 20, 4, 12, &done), 5);
	epc_fini(&c);
}

static void test_cap(void **state)
{
	(void)state;
	struct epoch_cache c;
	epc_init(&c);
	for (int32_t e = 0; e < EPC_MAX + 10; e++)
		epc_assign(&c, e, (int64_t)e * 3);
	TL_EQ(c.n, EPC_MAX);
	TL_EQ(c.dropped, 10);
	TL_EQ(c.e[0].epoch, 10);
	TL_EQ(epc_latest(&c), EPC_MAX + 9);
	/* the oldest known starts later than the epoch asked about */
	end_for(&c, 3, 1000000, 3, 30);
	epc_reset(&c);
	TL_EQ(c.n, 0);
	epc_fini(&c);
}

/* A model: the epoch of each offset of a log of at most N offsets, grown
 * by appends of batches, cut at random; the cache must answer the same
 * as a scan of the array. */
#define N 4096
static int32_t model[N];

static void model_end_for(int64_t end, int32_t epoch, int32_t *e, int64_t *o)
{
	/* Kafka's rules, on the array: the largest epoch <= epoch, ending
	 * where the first offset of a larger epoch is */
	int32_t latest = end ? model[end - 1] : -1;
	*e = -1;
	*o = -1;
	if (epoch == -1 || end == 0 || epoch > latest)
		return;
	if (epoch == latest) {
		*e = epoch;
		*o = end;
		return;
	}
	int64_t first_above = -1;
	int32_t floor = -1;
	for (int64_t i = 0; i < end; i++) {
		if (model[i] > epoch && first_above < 0)
			first_above = i;
		if (model[i] <= epoch)
			floor = model[i];
	}
	*e = floor < 0 ? epoch : floor;
	*o = first_above;
}

static void test_model(void **state)
{
	(void)state;
	uint64_t seed = tl_seed("epoch_cache model");
	struct tl_rng rng;
	tl_rng_init(&rng, seed);
#define rand() ((int)tl_rng_below(&rng, 1u << 30))
	struct epoch_cache c;
	epc_init(&c);
	int64_t end = 0;
	int32_t epoch = 0;
	for (unsigned step = 0; step < 20000; step++) {
		int r = rand() % 100;
		if (r < 60 && end < N - 16) {
			int n = 1 + rand() % 8;
			if (rand() % 10 == 0)
				epoch += 1 + rand() % 3;
			epc_assign(&c, epoch, end);
			for (int i = 0; i < n; i++)
				model[end++] = epoch;
		} else if (r < 70 && end) {
			end = rand() % (end + 1);
			epc_truncate_end(&c, end);
			/* the next epoch may not be below what is left */
			if (end && model[end - 1] > epoch)
				epoch = model[end - 1];
		} else {
			int32_t ask = (int32_t)(rand() % (epoch + 3)) - 1;
			int32_t e, me;
			int64_t o, mo;
			epc_end_offset_for(&c, ask, end, &e, &o);
			model_end_for(end, ask, &me, &mo);
			if (e != me || o != mo)
				fail_msg("seed %llu step %u: epoch %d, end %lld: "
					 "got (%d, %lld), model (%d, %lld)",
					 (unsigned long long)seed, step, ask, (long long)end, e,
					 (long long)o, me, (long long)mo);
			if (end) {
				int64_t at = rand() % end;
				TL_EQ(epc_epoch_at(&c, at), model[at]);
			}
		}
	}
	epc_fini(&c);
#undef rand
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_end_offset_for),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_truncation_point),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
