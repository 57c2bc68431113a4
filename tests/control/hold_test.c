/*
 * Tests of control/hold.c, what a coordinator holds until the appends it
 * follows are durable: items leave at once when nothing is outstanding,
 * in the order they were put once every append before them is answered
 * (whatever order the answers come in), tainted when an append before
 * them failed (and only those after it), when a partition's appends are
 * failed together, and all of them tainted at a clear; the rings grow past
 * their first size with items and appends interleaved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control/hold.h"

#define FIRED_MAX 4096

/* What fired, in order: the item's number, tainted or not. */
static int fired[FIRED_MAX];
static bool fired_tainted[FIRED_MAX];
static int nfired;
static int items[FIRED_MAX]; /* item i is &items[i], holding i */

static void on_fire(void *ctx, void *item, bool tainted)
{
	(void)ctx;
	assert_true(nfired < FIRED_MAX);
	fired[nfired] = *(int *)item;
	fired_tainted[nfired] = tainted;
	nfired++;
}

static struct sl_hold H;

static int setup(void **state)
{
	(void)state;
	nfired = 0;
	for (int i = 0; i < FIRED_MAX; i++)
		items[i] = i;
	sl_hold_init(&H, on_fire, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sl_hold_clear(&H);
	return 0;
}

static void put(int i)
{
	assert_int_equal(sl_hold_put(&H, &items[i]), 0);
}

static void test_idle_fires_at_once(void **state)
{
	(void)state;
	assert_true(sl_hold_idle(&H));
	put(1);
	assert_int_equal(nfired, 1);
	assert_int_equal(fired[0], 1);
	assert_false(fired_tainted[0]);
	/* an append answered before anything waits for it */
	assert_int_equal(sl_hold_track(&H, 10, 0), 0);
	assert_false(sl_hold_idle(&H));
	assert_true(sl_hold_done(&H, 10, false));
	assert_true(sl_hold_idle(&H));
	put(2);
	assert_int_equal(nfired, 2);
	/* an unknown or repeated answer is not taken */
	assert_false(sl_hold_done(&H, 10, false));
	assert_false(sl_hold_done(&H, 99, true));
}

static void test_waits_in_order(void **state)
{
	(void)state;
	assert_int_equal(sl_hold_track(&H, 1, 0), 0);
	put(1);
	assert_int_equal(sl_hold_track(&H, 2, 1), 0);
	put(2);
	put(3);
	assert_int_equal(sl_hold_held(&H), 3);
	assert_int_equal(sl_hold_outstanding(&H), 2);
	/* the later append answered first: nothing is due yet */
	assert_true(sl_hold_done(&H, 2, false));
	assert_int_equal(nfired, 0);
	/* the first: everything is */
	assert_true(sl_hold_done(&H, 1, false));
	assert_int_equal(nfired, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fired[i], i + 1);
		assert_false(fired_tainted[i]);
	}
	assert_true(sl_hold_idle(&H));
}

static void test_failure_taints_what_follows(void **state)
{
	(void)state;
	assert_int_equal(sl_hold_track(&H, 1, 0), 0);
	put(1); /* needs 1 */
	assert_int_equal(sl_hold_track(&H, 2, 0), 0);
	put(2); /* needs 2 */
	assert_int_equal(sl_hold_track(&H, 3, 1), 0);
	put(3); /* needs 3 */
	assert_true(sl_hold_done(&H, 1, false));
	assert_int_equal(nfired, 1);
	assert_false(fired_tainted[0]);
	/* 2 fails: item 2 and 3 were made after it */
	assert_true(sl_hold_done(&H, 2, true));
	assert_int_equal(nfired, 2);
	assert_int_equal(fired[1], 2);
	assert_true(fired_tainted[1]);
	assert_true(sl_hold_done(&H, 3, false));
	assert_int_equal(nfired, 3);
	assert_int_equal(fired[2], 3);
	assert_true(fired_tainted[2]);
	/* after that, nothing is tainted any more */
	assert_int_equal(sl_hold_track(&H, 4, 0), 0);
	put(4);
	assert_true(sl_hold_done(&H, 4, false));
	assert_int_equal(nfired, 4);
	assert_false(fired_tainted[3]);
}

static void test_fail_partition(void **state)
{
	(void)state;
	assert_int_equal(sl_hold_track(&H, 1, 7), 0);
	put(1);
	assert_int_equal(sl_hold_track(&H, 2, 8), 0);
	put(2);
	assert_int_equal(sl_hold_track(&H, 3, 7), 0);
	put(3);
	/* partition 7's appends are forgotten by the log */
	sl_hold_fail_partition(&H, 7);
	/* item 1 is due (append 1 answered, failed) but 2 waits for 8 */
	assert_int_equal(nfired, 1);
	assert_true(fired_tainted[0]);
	/* the log's late answer of a failed append is not taken */
	assert_false(sl_hold_done(&H, 3, false));
	assert_true(sl_hold_done(&H, 2, false));
	assert_int_equal(nfired, 3);
	assert_true(fired_tainted[1]); /* made after append 1 failed */
	assert_true(fired_tainted[2]);
	assert_true(sl_hold_idle(&H));
}

static void test_clear_taints_all(void **state)
{
	(void)state;
	assert_int_equal(sl_hold_track(&H, 1, 0), 0);
	put(1);
	put(2);
	sl_hold_clear(&H);
	assert_int_equal(nfired, 2);
	assert_true(fired_tainted[0] && fired_tainted[1]);
	assert_true(sl_hold_idle(&H));
	put(3); /* usable again, and idle */
	assert_int_equal(nfired, 3);
	assert_false(fired_tainted[2]);
}

/* Many appends and items interleaved, answered out of order: the rings
 * grow (and wrap) and every item leaves once, in order, when due. */
static void test_rings_grow(void **state)
{
	(void)state;
	const int n = 1000;
	uint64_t seq = 100;
	for (int i = 0; i < n; i++) {
		assert_int_equal(sl_hold_track(&H, seq + (uint64_t)i,
					       i % 5), 0);
		put(i);
	}
	assert_int_equal(sl_hold_outstanding(&H), n);
	/* answer the odd ones, then the even ones from the end */
	for (int i = 1; i < n; i += 2)
		assert_true(sl_hold_done(&H, seq + (uint64_t)i, false));
	assert_int_equal(nfired, 0);
	for (int i = n - 2; i >= 0; i -= 2)
		assert_true(sl_hold_done(&H, seq + (uint64_t)i, false));
	assert_int_equal(nfired, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(fired[i], i);
		assert_false(fired_tainted[i]);
	}
	/* and again from a wrapped position */
	for (int i = 0; i < 300; i++) {
		assert_int_equal(sl_hold_track(&H, 5000 + (uint64_t)i, 0), 0);
		put(i);
		if (i % 3 == 0)
			assert_true(sl_hold_done(&H, 5000 + (uint64_t)i,
						 false));
	}
	for (int i = 0; i < 300; i++)
		(void)sl_hold_done(&H, 5000 + (uint64_t)i, false);
	assert_int_equal(nfired, n + 300);
	assert_true(sl_hold_idle(&H));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_fires_at_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_waits_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_failure_taints_what_follows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_partition, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_clear_taints_all, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rings_grow, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
