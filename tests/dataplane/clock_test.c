/*
 * A storage core's deadlines on a fake clock: the core is driven one duty
 * cycle at a time (dp_store_step) on the test's thread, with typed
 * requests submitted from a stand-in net core (only its completion ring is
 * used), and time moves only when the test moves it.
 *
 *   - a long-poll fetch on an empty partition is answered, empty, exactly
 *     when its max_wait_ms has passed on the fake clock, not before;
 *   - a long-poll fetch is answered as soon as a batch is written, with
 *     the fake clock standing still;
 *   - an acks=all produce whose deadline passes while its batch is not
 *     durable (group commit held back 10 s of real time) is answered
 *     REQUEST_TIMED_OUT when the fake clock passes its timeout, not a
 *     millisecond before; acks=1 is answered once written, in time;
 *   - acks=0 frees the message without completing it.
 *
 * Real files (a temporary directory) and the real io_uring writer; only
 * the clock is fake.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tl.h"
#include "dataplane/dp.h"
#include "dataplane/msg.h"
#include "dataplane/net.h"

#define MS 1000000ull

struct fixture {
	char dir[512];
	struct tl_clock clk;
	struct dp dp;
	struct dp_net net;
	struct dp_topic topic;
	struct dp_partition part;
	struct dp_store_core *core;
	unsigned done_calls;
};

static struct fixture fx;

static void count_done(struct dp_net *n, struct dp_msg *m)
{
	(void)n;
	(void)m;
	fx.done_calls++;
}

/* Up to max completed messages from the stand-in net core's ring. */
static unsigned completions(struct dp_msg **out, unsigned max)
{
	return dp_ring_dequeue_burst(fx.net.completions, (void **)out, max);
}

/* Step the core until it has no work left (bounded), without moving the
 * fake clock. */
static void settle(void)
{
	for (int i = 0; i < 1000 && dp_store_step(fx.core) > 0; i++)
		;
}

/* Step until the partition's written offset reaches want (real I/O
 * completes in real time: bounded to 5 s). */
static int wait_written(int64_t want)
{
	for (int i = 0; i < 5000; i++) {
		dp_store_step(fx.core);
		if (slog_written_offset(fx.part.log) >= want)
			return 0;
		usleep(1000);
	}
	return -1;
}

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	if (tl_tmpdir(fx.dir, "dpclock"))
		return -1;
	tl_clock_init(&fx.clk);
	struct dp *dp = &fx.dp;
	sl_config_defaults(&dp->cfg);
	snprintf(dp->cfg.data_dir, sizeof(dp->cfg.data_dir), "%s", fx.dir);
	dp->clock = &fx.clk.sl;
	dp->mem_limit = 64u << 20;
	atomic_init(&dp->mem_used, 0);
	if (dp_msgpool_create(&dp->msgpool, sizeof(struct dp_msg),
			      dp->mem_limit))
		return -1;
	dp->nstore = 1;
	if (dp_store_create(dp, 0))
		return -1;
	fx.core = dp->store[0];
	/* the stand-in net core: its completion ring only */
	fx.net.dp = dp;
	fx.net.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dp_ring_create(1024, &fx.net.completions))
		return -1;
	/* one topic of one partition, opened on the core */
	fx.topic.id = 1;
	snprintf(fx.topic.name, sizeof(fx.topic.name), "clock");
	fx.topic.partitions = 1;
	fx.topic.durability = 0; /* every append fdatasynced */
	fx.topic.parts = &fx.part;
	atomic_init(&fx.topic.live, 1);
	fx.part.topic = &fx.topic;
	fx.part.index = 0;
	fx.part.core = 0;
	struct dp_cmd cmd = { .op = DPC_OPEN, .part = &fx.part };
	atomic_init(&cmd.done, 0);
	atomic_store(&fx.core->cmd, &cmd);
	dp_store_step(fx.core);
	if (!atomic_load(&cmd.done) || cmd.rc)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	struct dp_cmd cmd = { .op = DPC_FORGET, .part = &fx.part };
	atomic_init(&cmd.done, 0);
	atomic_store(&fx.core->cmd, &cmd);
	dp_store_step(fx.core);
	struct dp_msg *m[64];
	unsigned n;
	while ((n = completions(m, 64)))
		for (unsigned i = 0; i < n; i++)
			dp_msg_free(m[i]);
	struct dp_ring *r = atomic_load(&fx.part.ring);
	if (r)
		dp_ring_destroy(r);
	dp_ring_destroy(fx.net.completions);
	close(fx.net.wake_fd);
	scleaner_destroy(fx.core->cleaner);
	swriter_destroy(fx.core->w);
	close(fx.core->wake_fd);
	free(fx.core->parts);
	free(fx.core);
	dp_msgpool_destroy(&fx.dp.msgpool);
	tl_rmrf(fx.dir);
	return 0;
}

/* A request message from the stand-in net core. */
static struct dp_msg *request(int op, size_t data)
{
	struct dp_msg *m = dp_msg_alloc(&fx.dp, data);
	assert_non_null(m);
	m->op = (uint8_t)op;
	m->net = &fx.net;
	m->done = count_done;
	return m;
}

static struct dp_msg *long_poll(int64_t offset, uint32_t wait_ms)
{
	struct dp_msg *m = request(DP_FETCH, 0);
	m->rq.fetch = (struct dp_fetch){
		.offset = offset, .max_bytes = 1 << 20,
		.hard_max = DP_FETCH_MAX_BYTES, .min_bytes = 1,
		.max_wait_ms = wait_ms, .headroom = 16,
	};
	TL_OK(dp_store_submit(&fx.net, &fx.part, m));
	return m;
}

static struct dp_msg *produce(int16_t acks, uint32_t timeout_ms,
			      uint64_t fill)
{
	uint8_t b[256];
	long len = tl_make_sized(b, 200, 3, 1700000000000, fill);
	TL_EQ(len, 200);
	struct dp_msg *m = request(DP_PRODUCE, (size_t)len);
	m->req = m->data;
	m->req_len = (uint32_t)len;
	memcpy(m->req, b, (size_t)len);
	m->rq.produce.acks = acks;
	m->rq.produce.timeout_ms = timeout_ms;
	if (acks == 0)
		m->done = NULL;
	TL_OK(dp_store_submit(&fx.net, &fx.part, m));
	return m;
}

static void test_long_poll_deadline(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	long_poll(0, 500);
	settle();
	TL_EQ(completions(got, 4), 0);
	TL_EQ(fx.core->parked, 1);
	fx.clk.mono_ns += 499 * MS;
	settle();
	TL_EQ(completions(got, 4), 0); /* 1 ms early: still waiting */
	fx.clk.mono_ns += 2 * MS;
	settle();
	TL_EQ(completions(got, 4), 1);
	TL_EQ(got[0]->op, DP_FETCH);
	TL_EQ(got[0]->res.error, 0);
	TL_EQ(got[0]->res.bytes_len, 0);
	TL_EQ(got[0]->res.high_watermark, 0);
	TL_EQ(fx.core->parked, 0);
	dp_msg_free(got[0]);
}

static void test_long_poll_woken_by_data(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	long_poll(0, 10000);
	settle();
	TL_EQ(completions(got, 4), 0);
	uint64_t before = fx.clk.mono_ns;
	produce(-1, 30000, 7);
	TL_OK(wait_written(3));
	/* durable too (every append is fdatasynced): the fetch reads it */
	unsigned n = 0;
	for (int i = 0; i < 5000 && n < 2; i++) {
		dp_store_step(fx.core);
		n += completions(got + n, 4 - n);
		if (n < 2)
			usleep(1000);
	}
	TL_EQ(n, 2);
	TL_EQ(fx.clk.mono_ns, before); /* no time passed on the clock */
	struct dp_msg *f = got[0]->op == DP_FETCH ? got[0] : got[1];
	struct dp_msg *p = got[0]->op == DP_FETCH ? got[1] : got[0];
	TL_EQ(p->op, DP_PRODUCE);
	TL_EQ(p->res.error, 0);
	TL_EQ(p->res.base_offset, 0);
	TL_EQ(p->res.last_offset, 2);
	TL_EQ(f->res.error, 0);
	TL_EQ(f->res.bytes_len, 200);
	TL_EQ(f->res.high_watermark, 3);
	/* the records sit after the headroom the front-end asked for */
	TL_TRUE(f->res.bytes == f->resp + 16);
	dp_msg_free(f);
	dp_msg_free(p);
}

/* Group commit that waits 10 s of real time: an acks=all produce is
 * appended and written but not made durable within the test. */
static void slow_sync(void)
{
	struct dp_cmd cmd = { .op = DPC_CLOSE, .part = &fx.part };
	atomic_init(&cmd.done, 0);
	atomic_store(&fx.core->cmd, &cmd);
	dp_store_step(fx.core);
	TL_TRUE(atomic_load(&cmd.done));
	/* DPC_CLOSE leaves it in the core's list: forget, then open again */
	cmd = (struct dp_cmd){ .op = DPC_FORGET, .part = &fx.part };
	atomic_store(&fx.core->cmd, &cmd);
	dp_store_step(fx.core);
	fx.topic.durability = 1; /* group commit */
	fx.dp.cfg.group_commit_us = 10000000;
	fx.dp.cfg.group_commit_bytes = 64u << 20;
	cmd = (struct dp_cmd){ .op = DPC_OPEN, .part = &fx.part };
	atomic_store(&fx.core->cmd, &cmd);
	dp_store_step(fx.core);
	TL_TRUE(atomic_load(&cmd.done));
	TL_OK(cmd.rc);
}

static void test_ack_timeout(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	slow_sync();
	produce(-1, 100, 9);
	/* 20 ms of real time stepping: appended, not durable */
	for (int i = 0; i < 20; i++) {
		settle();
		usleep(1000);
	}
	TL_EQ(slog_end_offset(fx.part.log), 3);
	TL_TRUE(slog_durable_offset(fx.part.log) < 3);
	TL_EQ(completions(got, 4), 0); /* waiting for durability */
	TL_EQ(fx.part.acks_pending, 1);
	fx.clk.mono_ns += 99 * MS;
	settle();
	TL_EQ(completions(got, 4), 0); /* 1 ms before its deadline */
	fx.clk.mono_ns += 2 * MS;
	settle();
	TL_EQ(completions(got, 4), 1);
	TL_EQ(got[0]->res.error, SN_ERR_REQUEST_TIMED_OUT);
	TL_EQ(got[0]->res.base_offset, -1);
	TL_EQ(fx.core->st.timeouts, 1);
	TL_EQ(fx.part.acks_pending, 0);
	dp_msg_free(got[0]);
}

static void test_acks_one_timeout(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	/* acks=1 is answered once written: before its deadline */
	slow_sync();
	produce(1, 100, 11);
	unsigned n = 0;
	for (int i = 0; i < 5000 && !n; i++) {
		dp_store_step(fx.core);
		n = completions(got, 4);
		if (!n)
			usleep(1000);
	}
	TL_EQ(n, 1);
	TL_EQ(got[0]->res.error, 0);
	TL_EQ(got[0]->res.last_offset, 2);
	TL_EQ(fx.core->st.timeouts, 0);
	dp_msg_free(got[0]);
}

static void test_acks_zero_freed(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	/* the partition's ring is charged to the budget once, at first use */
	TL_TRUE(dp_part_ring(&fx.dp, &fx.part) != NULL);
	uint64_t used = atomic_load(&fx.dp.mem_used);
	produce(0, 100, 13);
	TL_OK(wait_written(3));
	settle();
	TL_EQ(completions(got, 4), 0);
	TL_EQ(fx.done_calls, 0);
	TL_EQ(atomic_load(&fx.dp.mem_used), used); /* freed, not leaked */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_long_poll_deadline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_long_poll_woken_by_data,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_acks_one_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_acks_zero_freed, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
