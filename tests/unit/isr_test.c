/* A leader's view of its replicas (dataplane/isr.h): what a state from
 * control is refused for, the high watermark as followers fetch, caught-up
 * times by Kafka's two rules, who leaves and who joins the in-sync set,
 * and what a new leader epoch forgets. */
#include <errno.h>

#include "tl.h"
#include "dataplane/isr.h"

#define MS 1000000ull

static const int32_t R3[] = { 1, 2, 3 };

/* self 1 leads {1,2,3}, all in sync, epoch 5, at log end 100, time 1 s */
static void lead3(struct isr_set *s)
{
	isr_init_single(s, 1);
	TL_EQ(isr_apply(s, 1, 5, 0, R3, 3, R3, 3, 2, 100, 1000 * MS), 1);
}

static void test_apply_refusals(void **state)
{
	(void)state;
	struct isr_set s;
	isr_init_single(&s, 1);
	TL_EQ(isr_high_watermark(&s, 42), 42); /* alone */
	const int32_t dup[] = { 1, 2, 2 }, two[] = { 1, 2 }, out[] = { 4 };
	int32_t many[ISR_REPLICAS_MAX + 1];
	for (int i = 0; i <= ISR_REPLICAS_MAX; i++)
		many[i] = i + 1;
	TL_EQ(isr_apply(&s, 1, 1, 0, dup, 3, two, 2, 1, 0, 0), -EINVAL);
	TL_EQ(isr_apply(&s, 1, 1, 0, two, 2, out, 1, 1, 0, 0), -EINVAL);
	TL_EQ(isr_apply(&s, 4, 1, 0, two, 2, two, 2, 1, 0, 0), -EINVAL);
	TL_EQ(isr_apply(&s, 1, 1, 0, two, 2, R3, 3, 1, 0, 0), -EINVAL);
	TL_EQ(isr_apply(&s, 1, 1, 0, many, ISR_REPLICAS_MAX + 1, two, 2, 1,
			0, 0), -EINVAL);
	TL_EQ(s.nreplicas, 1); /* untouched */
	/* no leader is a state */
	TL_EQ(isr_apply(&s, -1, 1, 0, two, 2, two, 2, 1, 0, 0), 0);
	TL_EQ(s.leader, -1);
	/* a follower's state is not a new leadership */
	TL_EQ(isr_apply(&s, 2, 2, 0, two, 2, two, 2, 1, 0, 0), 0);
	TL_TRUE(isr_is_replica(&s, 2) && isr_in_sync(&s, 1));
	TL_TRUE(!isr_is_replica(&s, 3));
}

static void test_high_watermark(void **state)
{
	(void)state;
	struct isr_set s;
	lead3(&s);
	TL_EQ(s.epoch_start, 100);
	/* followers have not fetched in this epoch: unknown */
	TL_EQ(isr_high_watermark(&s, 120), -1);
	TL_OK(isr_on_fetch(&s, 2, 110, 120, 1001 * MS));
	TL_EQ(isr_high_watermark(&s, 120), -1);
	TL_OK(isr_on_fetch(&s, 3, 105, 120, 1001 * MS));
	TL_EQ(isr_high_watermark(&s, 120), 105);
	/* the leader's own durable end bounds it */
	TL_EQ(isr_high_watermark(&s, 90), 90);
	/* 3 leaves the set (control says so): 2 alone counts */
	TL_EQ(isr_apply(&s, 1, 5, 1, R3, 3, (const int32_t[]){ 1, 2 }, 2, 2,
			120, 1002 * MS), 0);
	TL_EQ(isr_high_watermark(&s, 120), 110);
	/* progress kept across a partition epoch */
	TL_EQ(s.r[1].fetch_offset, 110);
	TL_EQ(isr_on_fetch(&s, 1, 0, 0, 0), -ENOENT); /* self */
	TL_EQ(isr_on_fetch(&s, 9, 0, 0, 0), -ENOENT);
	/* a new leader epoch forgets it */
	TL_EQ(isr_apply(&s, 1, 6, 2, R3, 3, R3, 3, 2, 130, 1003 * MS), 1);
	TL_EQ(s.r[1].fetch_offset, -1);
	TL_EQ(s.epoch_start, 130);
	TL_EQ(isr_high_watermark(&s, 140), -1);
}

static void test_shrink_and_expand(void **state)
{
	(void)state;
	struct isr_set s;
	int32_t out[ISR_REPLICAS_MAX];
	uint8_t n;
	uint64_t lag = 30000 * MS;
	lead3(&s); /* in sync at 1 s: caught up then */
	TL_EQ(isr_shrink(&s, 30000 * MS, lag, out, &n), 0);
	TL_EQ(n, 3);
	/* 2 catches up at 20 s (fetches at the leader's end), 3 does not */
	TL_OK(isr_on_fetch(&s, 2, 150, 150, 20000 * MS));
	TL_OK(isr_on_fetch(&s, 3, 100, 150, 20000 * MS));
	TL_EQ(isr_shrink(&s, 31001 * MS, lag, out, &n), 1);
	TL_EQ(n, 2);
	TL_EQ(out[0], 1);
	TL_EQ(out[1], 2);
	/* 3 fetches at the end the leader had at its previous fetch: it
	 * was caught up then (20 s), as Kafka reckons it */
	TL_OK(isr_on_fetch(&s, 3, 150, 170, 25000 * MS));
	TL_EQ(s.r[2].last_caught_up_ns, 20000 * MS);
	TL_EQ(isr_shrink(&s, 45000 * MS, lag, out, &n), 0);
	TL_EQ(isr_shrink(&s, 50001 * MS, lag, out, &n), 2);
	TL_EQ(n, 1); /* self stays */
	/* control shrinks to {1}: 3 may come back once it reaches the
	 * high watermark and the epoch's start */
	TL_EQ(isr_apply(&s, 1, 5, 1, R3, 3, (const int32_t[]){ 1 }, 1, 2, 170,
			51000 * MS), 0);
	TL_EQ(isr_expand(&s, 3, 160, out, &n), 0);   /* at 150 */
	TL_OK(isr_on_fetch(&s, 3, 160, 170, 52000 * MS));
	TL_EQ(isr_expand(&s, 3, 160, out, &n), 1);
	TL_EQ(n, 2);
	TL_EQ(out[1], 3);
	TL_EQ(isr_expand(&s, 1, 0, out, &n), 0);     /* self */
	TL_EQ(isr_expand(&s, 7, 0, out, &n), 0);     /* not a replica */
	/* below the epoch's start it may not join, whatever the watermark */
	TL_EQ(isr_apply(&s, 1, 6, 2, R3, 3, (const int32_t[]){ 1 }, 1, 2, 200,
			53000 * MS), 1);
	TL_OK(isr_on_fetch(&s, 2, 190, 200, 54000 * MS));
	TL_EQ(isr_expand(&s, 2, 150, out, &n), 0);
	TL_OK(isr_on_fetch(&s, 2, 200, 200, 55000 * MS));
	TL_EQ(isr_expand(&s, 2, 150, out, &n), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_refusals),
		cmocka_unit_test(test_high_watermark),
		cmocka_unit_test(test_shrink_and_expand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
