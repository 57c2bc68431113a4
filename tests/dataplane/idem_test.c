/* Idempotence rules (dataplane/idem.h). */
#include "tl.h"
#include "dataplane/idem.h"
#include "proto/native.h"

static void test_rules(void **state)
{
	struct idem_table t;
	struct idem_batch d;
	TL_OK(idem_init(&t, 16));
	/* not idempotent */
	TL_EQ(idem_check(&t, -1, 0, 7, 7, &d), IDEM_APPEND);
	/* unknown producer: any first sequence */
	TL_EQ(idem_check(&t, 42, 0, 100, 104, &d), IDEM_APPEND);
	idem_record(&t, 42, 0, 100, 104, 10, 14);
	/* duplicate */
	TL_EQ(idem_check(&t, 42, 0, 100, 104, &d), IDEM_DUPLICATE);
	TL_EQ(d.base_offset, 10);
	TL_EQ(d.last_offset, 14);
	/* next in order */
	TL_EQ(idem_check(&t, 42, 0, 105, 105, &d), IDEM_APPEND);
	/* gap and overlap */
	TL_EQ(idem_check(&t, 42, 0, 107, 107, &d),
	      -SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	TL_EQ(idem_check(&t, 42, 0, 102, 104, &d),
	      -SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	/* the last five are remembered, the sixth-oldest is not */
	for (int i = 0; i < 5; i++)
		idem_record(&t, 42, 0, 105 + i, 105 + i, 15 + i, 15 + i);
	TL_EQ(idem_check(&t, 42, 0, 100, 104, &d),
	      -SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	TL_EQ(idem_check(&t, 42, 0, 105, 105, &d), IDEM_DUPLICATE);
	TL_EQ(d.base_offset, 15);
	/* epochs */
	TL_EQ(idem_check(&t, 42, 1, 0, 0, &d), IDEM_APPEND);
	idem_record(&t, 42, 1, 0, 0, 30, 30);
	TL_EQ(idem_check(&t, 42, 0, 110, 110, &d),
	      -SN_ERR_INVALID_PRODUCER_EPOCH);
	/* wrap at 2^31 */
	TL_EQ(idem_last_seq(INT32_MAX - 1, 3), 1);
	idem_record(&t, 43, 0, INT32_MAX - 1, INT32_MAX, 40, 41);
	TL_EQ(idem_check(&t, 43, 0, 0, 0, &d), IDEM_APPEND);
	idem_reset(&t);
	TL_EQ(idem_check(&t, 42, 0, 500, 500, &d), IDEM_APPEND);
	idem_fini(&t);
}

/* A transaction marker's epoch (idem_fence): a newer one fences the
 * older epoch even before the producer's first batch of it; the same
 * epoch keeps the sequence going. */
static void test_marker_epochs(void **state)
{
	(void)state;
	struct idem_table t;
	struct idem_batch d;
	TL_OK(idem_init(&t, 64));
	/* a marker for a producer never seen: its epoch alone is known */
	idem_fence(&t, 7, 3, 0);
	TL_EQ(idem_check(&t, 7, 2, 0, 0, &d), -SN_ERR_INVALID_PRODUCER_EPOCH);
	TL_EQ(idem_check(&t, 7, 3, 40, 40, &d), IDEM_APPEND);
	/* a commit marker of the same epoch: the sequence goes on */
	idem_record(&t, 9, 1, 0, 4, 0, 4);
	idem_fence(&t, 9, 1, 0);
	TL_EQ(idem_check(&t, 9, 1, 5, 5, &d), IDEM_APPEND);
	TL_EQ(idem_check(&t, 9, 1, 0, 4, &d), IDEM_DUPLICATE);
	/* an older marker changes nothing */
	idem_fence(&t, 9, 0, 0);
	TL_EQ(idem_check(&t, 9, 1, 5, 5, &d), IDEM_APPEND);
	/* an abort with a bumped epoch: the old epoch is fenced, the new
	 * one starts anywhere, then keeps its own order */
	idem_fence(&t, 9, 2, 0);
	TL_EQ(idem_check(&t, 9, 1, 5, 5, &d), -SN_ERR_INVALID_PRODUCER_EPOCH);
	TL_EQ(idem_check(&t, 9, 2, 0, 0, &d), IDEM_APPEND);
	idem_record(&t, 9, 2, 0, 0, 10, 10);
	TL_EQ(idem_check(&t, 9, 2, 2, 2, &d),
	      -SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	idem_fini(&t);
}

/* The coordinator epoch of a producer's markers: unknown (-1) until the
 * first, then the highest seen, kept across an epoch bump by a batch,
 * forgotten with the producer (reset). */
static void test_coord_epoch(void **state)
{
	(void)state;
	struct idem_table t;
	TL_OK(idem_init(&t, 64));
	TL_EQ(idem_coord_epoch(&t, 5), -1);
	idem_record(&t, 5, 0, 0, 0, 0, 0);
	TL_EQ(idem_coord_epoch(&t, 5), -1);
	idem_fence(&t, 5, 0, 4);
	TL_EQ(idem_coord_epoch(&t, 5), 4);
	/* a lower one (a marker read back out of order) does not lower it */
	idem_fence(&t, 5, 0, 2);
	TL_EQ(idem_coord_epoch(&t, 5), 4);
	/* a new producer epoch through a batch keeps it */
	idem_record(&t, 5, 1, 0, 0, 3, 3);
	TL_EQ(idem_coord_epoch(&t, 5), 4);
	/* a producer first known from a marker */
	idem_fence(&t, 6, 2, 9);
	TL_EQ(idem_coord_epoch(&t, 6), 9);
	idem_fence(&t, 6, 3, 11);
	TL_EQ(idem_coord_epoch(&t, 6), 11);
	TL_EQ(idem_coord_epoch(&t, -1), -1);
	idem_reset(&t);
	TL_EQ(idem_coord_epoch(&t, 5), -1);
	TL_EQ(idem_coord_epoch(&t, 6), -1);
	idem_fini(&t);
}

static void test_eviction_bounded(void **state)
{
	struct idem_table t;
	struct idem_batch d;
	TL_OK(idem_init(&t, 8));
	for (int64_t p = 0; p < 10000; p++)
		idem_record(&t, p, 0, 0, 0, p, p);
	TL_TRUE(t.evictions >= 10000 - 8);
	/* the latest is there */
	TL_EQ(idem_check(&t, 9999, 0, 0, 0, &d), IDEM_DUPLICATE);
	idem_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_marker_epochs),
		cmocka_unit_test(test_coord_epoch),
		cmocka_unit_test(test_eviction_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
