/* A partition's transactions (dataplane/txn_part.h): the LSO, the aborted
 * list, markers, trimming and the caps, against hand-worked offsets and a
 * trivially correct model. */
#include <errno.h>
#include <stdlib.h>

#include "tl.h"
#include "dataplane/txn_part.h"
#include "proto/record_batch.h"

#define TX RB_ATTR_TRANSACTIONAL
#define CTL (RB_ATTR_TRANSACTIONAL | RB_ATTR_CONTROL)

static void test_lso_and_markers(void **state)
{
	(void)state;
	struct txn_part t;
	struct txn_aborted a[8];
	txn_part_init(&t);
	/* nothing transactional: LSO = high watermark */
	txn_part_on_batch(&t, -1, -1, 0, 0, 4);
	txn_part_on_batch(&t, 7, 0, 0, 5, 9); /* idempotent, not txn */
	TL_EQ(txn_part_lso(&t, 10), 10);
	TL_EQ(t.nopen, 0);
	/* producer 100 opens at 10, producer 200 at 12 */
	TL_TRUE(txn_part_begin_ok(&t, 100));
	txn_part_on_batch(&t, 100, 3, TX, 10, 11);
	txn_part_on_batch(&t, 200, 1, TX, 12, 12);
	txn_part_on_batch(&t, 100, 3, TX, 13, 14);
	TL_EQ(txn_part_lso(&t, 15), 10);
	/* never above the high watermark */
	TL_EQ(txn_part_lso(&t, 8), 8);
	TL_EQ(txn_part_epoch(&t, 100), 3);
	TL_EQ(txn_part_epoch(&t, 200), 1);
	TL_EQ(txn_part_epoch(&t, 300), -1);
	/* 100 aborts at 15: still holding the LSO until the marker is
	 * durable */
	TL_EQ(txn_part_on_marker(&t, 100, 3, TXN_ABORT, 15), 1);
	TL_EQ(txn_part_lso(&t, 15), 10);
	TL_EQ(txn_part_lso(&t, 16), 12); /* 200's first offset */
	txn_part_durable(&t, 16);
	TL_EQ(t.nopen, 1);
	TL_EQ(txn_part_lso(&t, 16), 12);
	/* the aborted list: overlaps by [first, last] */
	TL_EQ(txn_part_aborted_in(&t, 0, 16, a, 8), 1);
	TL_EQ(a[0].producer_id, 100);
	TL_EQ(a[0].first_offset, 10);
	TL_EQ(a[0].last_offset, 15);
	TL_EQ(txn_part_aborted_in(&t, 0, 10, a, 8), 0);  /* ends before */
	TL_EQ(txn_part_aborted_in(&t, 16, 30, a, 8), 0); /* begins after */
	TL_EQ(txn_part_aborted_in(&t, 15, 16, a, 8), 1);
	TL_EQ(txn_part_aborted_in(&t, 0, 11, NULL, 0), 1); /* count only */
	/* 200 commits at 16: nothing aborted, LSO back to the watermark */
	TL_EQ(txn_part_on_marker(&t, 200, 1, TXN_COMMIT, 16), 1);
	txn_part_durable(&t, 17);
	TL_EQ(t.nopen, 0);
	TL_EQ(txn_part_lso(&t, 17), 17);
	TL_EQ(txn_part_aborted_in(&t, 0, 100, a, 8), 1);
	/* a marker without a transaction: as Kafka, an empty one */
	TL_EQ(txn_part_on_marker(&t, 300, 0, TXN_ABORT, 17), 0);
	TL_EQ(txn_part_aborted_in(&t, 17, 18, a, 8), 1);
	TL_EQ(a[0].first_offset, 17);
	TL_EQ(txn_part_on_marker(&t, 300, 0, 2, 18), -EINVAL);
	TL_EQ(t.markers, 3);
	/* the same producer's next transaction while the last marker is
	 * not durable yet: two entries, the open one extended */
	txn_part_on_batch(&t, 100, 4, TX, 20, 20);
	TL_EQ(txn_part_on_marker(&t, 100, 4, TXN_COMMIT, 21), 1);
	txn_part_on_batch(&t, 100, 4, TX, 22, 23);
	TL_EQ(t.nopen, 2);
	TL_EQ(txn_part_lso(&t, 21), 20);
	TL_EQ(txn_part_lso(&t, 24), 22);
	TL_EQ(txn_part_epoch(&t, 100), 4);
	/* control batches and producer id -1 begin nothing */
	txn_part_on_batch(&t, 500, 0, CTL, 24, 24);
	txn_part_on_batch(&t, -1, 0, TX, 25, 25);
	TL_EQ(t.nopen, 2);
	txn_part_reset(&t);
	TL_EQ(t.nopen, 0);
	TL_EQ(t.naborted, 0);
	TL_EQ(txn_part_lso(&t, 30), 30);
	txn_part_fini(&t);
}

static void test_trim(void **state)
{
	(void)state;
	struct txn_part t;
	struct txn_aborted a[4];
	txn_part_init(&t);
	txn_part_on_batch(&t, 1, 0, TX, 0, 0);
	TL_EQ(txn_part_on_marker(&t, 1, 0, TXN_ABORT, 1), 1);
	txn_part_on_batch(&t, 2, 0, TX, 2, 2);
	TL_EQ(txn_part_on_marker(&t, 2, 0, TXN_ABORT, 3), 1);
	txn_part_on_batch(&t, 3, 0, TX, 4, 5);
	txn_part_durable(&t, 6);
	TL_EQ(txn_part_lso(&t, 6), 4);
	/* the log starts at 2: the first abort ended below it */
	txn_part_trim(&t, 2);
	TL_EQ(txn_part_aborted_in(&t, 0, 10, a, 4), 1);
	TL_EQ(a[0].producer_id, 2);
	/* the log starts at 5, inside the open transaction */
	txn_part_trim(&t, 5);
	TL_EQ(txn_part_aborted_in(&t, 0, 10, a, 4), 0);
	TL_EQ(txn_part_lso(&t, 6), 5);
	txn_part_fini(&t);
}

/* The caps: aborted ones beyond TXN_ABORTED_MAX forget the oldest,
 * counted; a transaction beyond TXN_OPEN_MAX is refused first. */
static void test_caps(void **state)
{
	(void)state;
	struct txn_part t;
	struct txn_aborted a[2];
	txn_part_init(&t);
	int64_t off = 0;
	for (int64_t i = 0; i < TXN_ABORTED_MAX + 10; i++) {
		txn_part_on_batch(&t, i, 0, TX, off, off);
		TL_EQ(txn_part_on_marker(&t, i, 0, TXN_ABORT, off + 1), 1);
		off += 2;
		txn_part_durable(&t, off);
	}
	TL_EQ(t.naborted, TXN_ABORTED_MAX);
	TL_EQ(t.aborted_dropped, 10);
	TL_EQ(t.nopen, 0);
	/* the oldest kept is the 11th */
	TL_EQ(txn_part_aborted_in(&t, 0, off, a, 1), TXN_ABORTED_MAX);
	TL_EQ(a[0].producer_id, 10);
	TL_EQ(txn_part_aborted_in(&t, off - 1, off, a, 2), 1);
	TL_EQ(a[0].producer_id, TXN_ABORTED_MAX + 9);
	for (int64_t i = 0; i < TXN_OPEN_MAX; i++) {
		TL_TRUE(txn_part_begin_ok(&t, 100000 + i));
		txn_part_on_batch(&t, 100000 + i, 0, TX, off, off);
		off++;
	}
	TL_EQ(t.nopen, TXN_OPEN_MAX);
	TL_TRUE(!txn_part_begin_ok(&t, 1));
	TL_EQ(t.open_refused, 1);
	TL_TRUE(txn_part_begin_ok(&t, 100000)); /* open already */
	/* begun anyway (found in the log): not tracked, counted */
	txn_part_on_batch(&t, 1, 0, TX, off, off);
	TL_EQ(t.open_lost, 1);
	TL_EQ(t.nopen, TXN_OPEN_MAX);
	txn_part_fini(&t);
}

/* Random interleavings of producers against a model: arrays of every
 * transaction with its offsets, scanned in full. */
struct model_txn {
	int64_t pid, first, last, end;
	int aborted;
};

static void test_model(void **state)
{
	(void)state;
	struct tl_rng r;
	tl_rng_init(&r, tl_seed("txn_part_model"));
	enum { NP = 6, STEPS = 3000, MAXT = 4000 };
	struct txn_part t;
	struct txn_aborted got[64];
	struct model_txn *m = calloc(MAXT, sizeof(*m));
	TL_TRUE(m != NULL);
	int open_of[NP];
	for (int i = 0; i < NP; i++)
		open_of[i] = -1;
	int nt = 0;
	int64_t off = 0, hw = 0, start = 0;
	txn_part_init(&t);
	for (int s = 0; s < STEPS && nt < MAXT; s++) {
		int pid = (int)tl_rng_below(&r, NP);
		int what = (int)tl_rng_below(&r, 10);
		if (what < 5) {
			int64_t n = 1 + (int64_t)tl_rng_below(&r, 3);
			txn_part_on_batch(&t, pid, 0, TX, off, off + n - 1);
			if (open_of[pid] < 0) {
				open_of[pid] = nt;
				m[nt++] = (struct model_txn){ pid, off, 0, -1, 0 };
			}
			m[open_of[pid]].last = off + n - 1;
			off += n;
		} else if (what < 8) {
			int type = (int)tl_rng_below(&r, 2);
			int rc = txn_part_on_marker(&t, pid, 0, type, off);
			TL_EQ(rc, open_of[pid] >= 0);
			if (open_of[pid] < 0) {
				open_of[pid] = nt;
				m[nt++] = (struct model_txn){ pid, off, off, -1, 0 };
			}
			m[open_of[pid]].end = off;
			m[open_of[pid]].aborted = type == TXN_ABORT;
			open_of[pid] = -1;
			off++;
		} else if (what < 9) {
			hw += (int64_t)tl_rng_below(&r, (uint64_t)(off - hw + 1));
			txn_part_durable(&t, hw);
		} else if (start < hw) {
			start += (int64_t)tl_rng_below(&r, (uint64_t)(hw - start + 1));
			txn_part_trim(&t, start);
		}
		/* the model's LSO: the lowest first offset (at least the
		 * start) of those not settled below hw */
		int64_t lso = hw;
		for (int i = 0; i < nt; i++) {
			int64_t f = m[i].first > start ? m[i].first : start;
			if (m[i].end >= 0 && m[i].end < hw)
				continue;
			if (f < lso)
				lso = f;
		}
		TL_EQ(txn_part_lso(&t, hw), lso);
		/* a fetch reads from the log start on */
		int64_t from = start + (int64_t)tl_rng_below(&r, (uint64_t)(off - start + 1));
		int64_t to = from + 1 + (int64_t)tl_rng_below(&r, 20);
		uint32_t want = 0;
		for (int i = 0; i < nt; i++)
			if (m[i].aborted && m[i].end >= start &&
			    m[i].end >= from && m[i].first < to)
				want++;
		uint32_t n = txn_part_aborted_in(&t, from, to, got, 64);
		TL_EQ(n, want);
		for (uint32_t k = 0; k < n && k < 64; k++) {
			TL_TRUE(got[k].last_offset >= from);
			TL_TRUE(got[k].first_offset < to);
			TL_TRUE(k == 0 ||
				got[k].last_offset > got[k - 1].last_offset);
		}
	}
	TL_EQ(t.aborted_dropped, 0);
	txn_part_fini(&t);
	free(m);
}

static void test_marker_key(void **state)
{
	(void)state;
	int type = -1;
	const uint8_t abort_key[4] = { 0, 0, 0, 0 };
	const uint8_t commit_key[4] = { 0, 0, 0, 1 };
	const uint8_t later_version[6] = { 0, 1, 0, 1, 9, 9 };
	const uint8_t bad_type[4] = { 0, 0, 0, 2 };
	const uint8_t bad_version[4] = { 0xff, 0xff, 0, 1 };
	TL_OK(txn_marker_key(abort_key, 4, &type));
	TL_EQ(type, TXN_ABORT);
	TL_OK(txn_marker_key(commit_key, 4, &type));
	TL_EQ(type, TXN_COMMIT);
	TL_OK(txn_marker_key(later_version, 6, &type));
	TL_EQ(type, TXN_COMMIT);
	TL_EQ(txn_marker_key(bad_type, 4, &type), -EINVAL);
	TL_EQ(txn_marker_key(bad_version, 4, &type), -EINVAL);
	TL_EQ(txn_marker_key(commit_key, 3, &type), -EINVAL);
	TL_EQ(txn_marker_key(NULL, -1, &type), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lso_and_markers),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_marker_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
