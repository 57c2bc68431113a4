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
 *   - acks=0 frees the message without completing it;
 *   - replication (a cluster's partition, dataplane/isr.h): a node that is
 *     not told it leads answers NOT_LEADER_OR_FOLLOWER; as leader with an
 *     in-sync follower, acks=all waits for the follower's fetch past the
 *     batch (durable here is not enough) and consumers read only below
 *     that high watermark; fewer in sync than min.insync.replicas refuses
 *     acks=all before the append, and a set that shrank after it answers
 *     NOT_ENOUGH_REPLICAS_AFTER_APPEND; losing leadership answers what
 *     waits NOT_LEADER_OR_FOLLOWER; stale and future leader epochs are
 *     fenced; a follower lagging past replica_lag_time_max_ms on the fake
 *     clock is asked out of the in-sync set (ALTER_ISR queued for
 *     control); as follower, the fetcher's appends keep the leader's
 *     offsets and epochs and are answered once durable, and truncation
 *     cuts at the leader's end of our latest epoch.
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
#include "proto/record_batch.h"

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

/* setup with fx.dp.cfg already set */
static int setup_cfg(void **state)
{
	(void)state;
	if (tl_tmpdir(fx.dir, "dpclock"))
		return -1;
	tl_clock_init(&fx.clk);
	struct dp *dp = &fx.dp;
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

/* The same, as broker 1 of a three-broker cluster (no state yet). */
static int setup(void **state)
{
	memset(&fx, 0, sizeof(fx));
	sl_config_defaults(&fx.dp.cfg);
	return setup_cfg(state);
}

static int setup_cluster(void **state)
{
	memset(&fx, 0, sizeof(fx));
	sl_config_defaults(&fx.dp.cfg);
	snprintf(fx.dp.cfg.controller_quorum_voters,
		 sizeof(fx.dp.cfg.controller_quorum_voters),
		 "1@127.0.0.1:1,2@127.0.0.1:3,3@127.0.0.1:5");
	fx.dp.cfg.node_id = 1;
	if (dp_cluster_init(&fx.dp))
		return -1;
	return setup_cfg(state);
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
	if (fx.dp.alter_ring)
		dp_cluster_fini(&fx.dp);
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

/* ---- replication ---- */

/* Control's state for the partition: leader, epoch, replicas 1..3, the
 * in-sync set isr[0..ni), min.insync.replicas 2. */
static int put_state(int32_t leader, int32_t epoch, int32_t pepoch,
		     const int32_t *isr, uint8_t ni)
{
	struct dp_pview *v = &fx.part.view;
	*v = (struct dp_pview){ .leader = leader, .leader_epoch = epoch,
				.partition_epoch = pepoch, .nreplicas = 3,
				.nisr = ni, .min_isr = 2,
				.replicas = { 1, 2, 3 } };
	memcpy(v->isr, isr, ni * sizeof(*isr));
	struct dp_cmd cmd = { .op = DPC_STATE, .part = &fx.part };
	atomic_init(&cmd.done, 0);
	atomic_store(&fx.core->cmd, &cmd);
	dp_store_step(fx.core);
	TL_TRUE(atomic_load(&cmd.done));
	return cmd.rc;
}

/* Step until n completions arrived (real I/O: bounded to 5 s). */
static unsigned wait_completions(struct dp_msg **got, unsigned n)
{
	unsigned have = 0;
	for (int i = 0; i < 5000 && have < n; i++) {
		dp_store_step(fx.core);
		have += completions(got + have, n - have);
		if (have < n)
			usleep(1000);
	}
	return have;
}

/* A fetch from follower node at offset (answered at once). */
static struct dp_msg *replica_fetch(int32_t node, int64_t offset)
{
	struct dp_msg *m = request(DP_FETCH, 0);
	m->rq.fetch = (struct dp_fetch){
		.offset = offset, .max_bytes = 1 << 20,
		.hard_max = DP_FETCH_MAX_BYTES, .headroom = 16,
		.replica_id = node,
	};
	TL_OK(dp_store_submit(&fx.net, &fx.part, m));
	return m;
}

static void test_repl_not_leader(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	produce(-1, 1000, 1);
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.error, SN_ERR_NOT_LEADER_OR_FOLLOWER);
	dp_msg_free(got[0]);
	/* a follower of 2 answers consumers the same */
	const int32_t all[] = { 2, 1, 3 };
	TL_OK(put_state(2, 4, 7, all, 3));
	long_poll(0, 0);
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.error, SN_ERR_NOT_LEADER_OR_FOLLOWER);
	dp_msg_free(got[0]);
	TL_EQ(slog_end_offset(fx.part.log), 0);
}

static void test_repl_acks_all_waits_for_follower(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	const int32_t isr[] = { 1, 2 };
	TL_OK(put_state(1, 3, 5, isr, 2));
	produce(-1, 30000, 1);
	TL_OK(wait_written(3));
	for (int i = 0; i < 200 && slog_durable_offset(fx.part.log) < 3; i++) {
		settle();
		usleep(1000);
	}
	TL_EQ(slog_durable_offset(fx.part.log), 3);
	settle();
	/* durable here, not yet on the in-sync follower: no answer, and
	 * consumers see nothing */
	TL_EQ(completions(got, 4), 0);
	long_poll(0, 0);
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.bytes_len, 0);
	TL_EQ(got[0]->res.high_watermark, 0);
	TL_EQ(got[0]->res.leader_epoch, 3);
	dp_msg_free(got[0]);
	/* the follower reads the batch (to the log end, past the high
	 * watermark); its epoch is the leader's */
	replica_fetch(2, 0);
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.error, 0);
	TL_EQ(got[0]->res.bytes_len, 200);
	TL_EQ(rb_be32(got[0]->res.bytes + RB_OFF_LEADER_EPOCH), 3);
	dp_msg_free(got[0]);
	/* then fetches from 3: it holds 0..2 durably; the ack goes out */
	replica_fetch(2, 3);
	TL_EQ(wait_completions(got, 2), 2);
	struct dp_msg *p = got[0]->op == DP_PRODUCE ? got[0] : got[1];
	TL_EQ(p->res.error, 0);
	TL_EQ(p->res.last_offset, 2);
	TL_EQ(fx.part.hw, 3);
	dp_msg_free(got[0]);
	dp_msg_free(got[1]);
}

static void test_repl_min_isr(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	const int32_t alone[] = { 1 }, two[] = { 1, 2 };
	TL_OK(put_state(1, 1, 1, alone, 1));
	produce(-1, 30000, 1);
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.error, SN_ERR_NOT_ENOUGH_REPLICAS);
	dp_msg_free(got[0]);
	TL_EQ(slog_end_offset(fx.part.log), 0); /* refused before the append */
	produce(1, 30000, 2); /* acks=1 is not held to it */
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.error, 0);
	dp_msg_free(got[0]);
	/* appended with two in sync, the set shrinks before the follower
	 * fetched it: answered, but not as a success */
	TL_OK(put_state(1, 1, 2, two, 2));
	produce(-1, 30000, 3);
	TL_OK(wait_written(6));
	settle();
	TL_EQ(completions(got, 4), 0);
	TL_OK(put_state(1, 1, 3, alone, 1));
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.error, SN_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
	dp_msg_free(got[0]);
	/* an older state is refused by the view's owner, not here: the core
	 * takes what it is given; a leader that loses leadership answers
	 * what waits */
	TL_OK(put_state(1, 1, 4, two, 2));
	produce(-1, 30000, 4);
	TL_OK(wait_written(9));
	settle();
	TL_EQ(completions(got, 4), 0);
	const int32_t other[] = { 2 };
	TL_OK(put_state(2, 2, 5, other, 1));
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.error, SN_ERR_NOT_LEADER_OR_FOLLOWER);
	dp_msg_free(got[0]);
}

static void test_repl_epoch_fencing(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	const int32_t alone[] = { 1 };
	TL_OK(put_state(1, 6, 1, alone, 1));
	for (int32_t e = 5; e <= 7; e++) {
		struct dp_msg *m = long_poll(0, 0);
		m->rq.fetch.check_epoch = 1;
		m->rq.fetch.current_leader_epoch = e;
		TL_EQ(wait_completions(got, 1), 1);
		TL_EQ(got[0]->res.error,
		      e == 5 ? SN_ERR_FENCED_LEADER_EPOCH :
		      e == 6 ? 0 : SN_ERR_UNKNOWN_LEADER_EPOCH);
		dp_msg_free(got[0]);
	}
}

static void test_repl_isr_shrink_on_lag(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	const int32_t isr[] = { 1, 2, 3 };
	fx.dp.cfg.replica_lag_time_max_ms = 1000;
	TL_OK(put_state(1, 2, 9, isr, 3));
	produce(1, 30000, 1);
	TL_EQ(wait_completions(got, 1), 1);
	dp_msg_free(got[0]);
	/* follower 2 keeps up, follower 3 never fetches */
	fx.clk.mono_ns += 600 * MS;
	replica_fetch(2, 3);
	TL_EQ(wait_completions(got, 1), 1);
	dp_msg_free(got[0]);
	struct sipc_alter_isr a;
	TL_EQ(dp_cluster_next_alter(&fx.dp, &a), 0);
	fx.clk.mono_ns += 600 * MS; /* 1.2 s since the state */
	replica_fetch(2, 3);
	TL_EQ(wait_completions(got, 1), 1);
	dp_msg_free(got[0]);
	settle();
	TL_EQ(dp_cluster_next_alter(&fx.dp, &a), 1);
	TL_EQ(a.leader_epoch, 2);
	TL_EQ(a.partition_epoch, 9);
	TL_EQ(a.nisr, 2);
	TL_EQ(a.isr[0], 1);
	TL_EQ(a.isr[1], 2);
}

static void test_repl_isr_expand(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	const int32_t isr[] = { 1, 2 };
	TL_OK(put_state(1, 2, 3, isr, 2));
	produce(1, 30000, 1);
	TL_EQ(wait_completions(got, 1), 1);
	dp_msg_free(got[0]);
	replica_fetch(2, 3); /* the high watermark moves to 3, once durable */
	TL_EQ(wait_completions(got, 1), 1);
	dp_msg_free(got[0]);
	for (int i = 0; i < 5000 && fx.part.hw < 3; i++) {
		dp_store_step(fx.core);
		usleep(1000);
	}
	TL_EQ(fx.part.hw, 3);
	/* 3, outside the set, reaches the high watermark: asked in, and
	 * counted at once */
	replica_fetch(3, 3);
	TL_EQ(wait_completions(got, 1), 1);
	dp_msg_free(got[0]);
	struct sipc_alter_isr a;
	TL_EQ(dp_cluster_next_alter(&fx.dp, &a), 1);
	TL_EQ(a.nisr, 3);
	TL_EQ(a.isr[2], 3);
	TL_EQ(fx.part.isr.nisr, 3);
	/* no new state for 2 s (an answer lost, this broker cut off from
	 * the controller, which may have taken 3 in): 3 stays counted and
	 * is asked for again; only a refusal at these epochs or a new
	 * state takes it back */
	fx.clk.mono_ns += 2100 * MS;
	settle();
	TL_EQ(fx.part.isr.nisr, 3);
	TL_EQ(dp_cluster_next_alter(&fx.dp, &a), 1);
	TL_EQ(a.nisr, 3);
	TL_EQ(a.isr[2], 3);
	TL_EQ(a.partition_epoch, 3);
	/* a refusal at the epochs the partition has (INELIGIBLE_REPLICA:
	 * dataplane/control.c applies the state again): back to control's
	 * set; asked again at 3's first fetch 2 s after the last request
	 * (a refusal is not asked again at once) */
	TL_OK(put_state(1, 2, 3, isr, 2));
	TL_EQ(fx.part.isr.nisr, 2);
	fx.clk.mono_ns += 2100 * MS;
	replica_fetch(3, 3);
	TL_EQ(wait_completions(got, 1), 1);
	dp_msg_free(got[0]);
	TL_EQ(dp_cluster_next_alter(&fx.dp, &a), 1);
	TL_EQ(a.nisr, 3);
	TL_EQ(fx.part.isr.nisr, 3);
	/* so an acks=all batch waits for 3 as well */
	produce(-1, 30000, 2);
	TL_OK(wait_written(6));
	replica_fetch(2, 6);
	TL_EQ(wait_completions(got, 1), 1);
	dp_msg_free(got[0]);
	for (int i = 0; i < 50; i++) {
		settle();
		usleep(1000);
	}
	TL_EQ(completions(got, 4), 0);
	replica_fetch(3, 6);
	TL_EQ(wait_completions(got, 2), 2);
	struct dp_msg *pm = got[0]->op == DP_PRODUCE ? got[0] : got[1];
	TL_EQ(pm->res.error, 0);
	TL_EQ(pm->res.last_offset, 5);
	dp_msg_free(got[0]);
	dp_msg_free(got[1]);
}

/* A batch of 3 records as a leader of epoch would have it at base. */
static long leader_batch(uint8_t *b, int64_t base, int32_t epoch,
			 uint64_t fill)
{
	long len = tl_make_sized(b, 200, 3, 1700000000000, fill);
	rb_put64(b + RB_OFF_BASE_OFFSET, (uint64_t)base);
	rb_put32(b + RB_OFF_LEADER_EPOCH, (uint32_t)epoch);
	return len;
}

/* What the fetcher hands the storage core: batches fetched at at, the
 * leader's high watermark and log start, and whether at is the leader's
 * log start past this log's end (start_over). */
static struct dp_msg *replica_append_from(int32_t state_epoch, int64_t at,
					  const uint8_t *b, size_t len,
					  int64_t leader_hw,
					  int64_t leader_start, int start_over)
{
	struct dp_msg *m = request(DP_REPLICA_APPEND, len);
	m->req = m->data;
	m->req_len = (uint32_t)len;
	memcpy(m->req, b, len);
	m->rq.rappend = (struct dp_replica_append){
		.state_epoch = state_epoch, .fetch_offset = at,
		.leader_hw = leader_hw, .leader_start = leader_start,
		.start_over = (uint8_t)start_over };
	TL_OK(dp_store_submit(&fx.net, &fx.part, m));
	return m;
}

static struct dp_msg *replica_append(int32_t state_epoch, int64_t at,
				     const uint8_t *b, size_t len,
				     int64_t leader_hw)
{
	return replica_append_from(state_epoch, at, b, len, leader_hw, 0, 0);
}

static void test_repl_follower(void **state)
{
	(void)state;
	struct dp_msg *got[4];
	const int32_t all[] = { 2, 1, 3 };
	TL_OK(put_state(2, 4, 1, all, 3));
	uint8_t b[600];
	/* epochs 3 and 4, as the leader has them */
	long l1 = leader_batch(b, 0, 3, 1);
	long l2 = leader_batch(b + l1, 3, 3, 2);
	long l3 = leader_batch(b + l1 + l2, 6, 4, 3);
	size_t all_len = (size_t)(l1 + l2 + l3);
	replica_append(4, 0, b, all_len, 5);
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.error, 0);
	TL_EQ(got[0]->res.log_end_offset, 9);
	dp_msg_free(got[0]);
	TL_TRUE(slog_durable_offset(fx.part.log) >= 9); /* answered durable */
	TL_EQ(fx.part.hw, 5);
	/* appending from the wrong offset, or under another epoch: refused */
	replica_append(4, 3, b + l1, (size_t)l2, 5);
	replica_append(3, 9, b, (size_t)l1, 5);
	TL_EQ(wait_completions(got, 2), 2);
	TL_EQ(got[0]->res.error, SN_ERR_OFFSET_OUT_OF_RANGE);
	TL_EQ(got[1]->res.error, SN_ERR_FENCED_LEADER_EPOCH);
	dp_msg_free(got[0]);
	dp_msg_free(got[1]);
	/* the follower's state: end 9, latest epoch 4 */
	struct dp_msg *m = request(DP_REPLICA_STATE, 0);
	TL_OK(dp_store_submit(&fx.net, &fx.part, m));
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.log_end_offset, 9);
	TL_EQ(got[0]->res.offset, 4);
	dp_msg_free(got[0]);
	/* a new leader (epoch 5) whose log ends epoch 4 at 7... ours ends
	 * it at 9: the whole batch holding 7 goes (6..8) */
	const int32_t two[] = { 3, 1 };
	TL_OK(put_state(3, 5, 2, two, 2));
	m = request(DP_REPLICA_TRUNCATE, 0);
	m->rq.rtrunc = (struct dp_replica_truncate){ .state_epoch = 5,
						     .leader_epoch = 4,
						     .leader_end = 7 };
	TL_OK(dp_store_submit(&fx.net, &fx.part, m));
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.error, 0);
	TL_EQ(got[0]->res.complete, 1);
	TL_EQ(got[0]->res.offset, 6);
	dp_msg_free(got[0]);
	TL_EQ(slog_end_offset(fx.part.log), 6);
	/* OffsetForLeaderEpoch here now: epoch 3 ends at 6, 4 is gone */
	m = request(DP_EPOCH_END, 0);
	m->rq.epoch_end = (struct dp_epoch_end){ .epoch = 3,
						 .current_leader_epoch = -1,
						 .replica_id = 2 };
	TL_OK(dp_store_submit(&fx.net, &fx.part, m));
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.error, 0);
	TL_EQ(got[0]->res.timestamp, 3);
	TL_EQ(got[0]->res.offset, 6);
	dp_msg_free(got[0]);
}

/* The one answer expected next: its error and, on success, the log end
 * it says. */
static void expect_answer(int16_t err, int64_t end)
{
	struct dp_msg *got[1];
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.error, err);
	if (!err)
		TL_EQ(got[0]->res.log_end_offset, end);
	dp_msg_free(got[0]);
}

/* A follower whose leader's log starts (100) past its end (3) starts
 * over at the first batch fetched from there (98: the start is inside
 * it), keeps the leader's start, and follows it as it moves. */
static void test_repl_follower_starts_over(void **state)
{
	(void)state;
	struct dp_msg *got[1];
	const int32_t all[] = { 2, 1, 3 };
	TL_OK(put_state(2, 4, 1, all, 3));
	uint8_t b[600];
	long l1 = leader_batch(b, 0, 3, 1);
	replica_append(4, 0, b, (size_t)l1, 3);
	expect_answer(0, 3);
	/* without start_over, a fetch offset past the end is refused */
	long l2 = leader_batch(b, 98, 4, 2);
	replica_append_from(4, 100, b, (size_t)l2, 101, 100, 0);
	expect_answer(SN_ERR_OFFSET_OUT_OF_RANGE, 0);
	replica_append_from(4, 100, b, (size_t)l2, 101, 100, 1);
	expect_answer(0, 101);
	TL_EQ(slog_start_offset(fx.part.log), 100);
	TL_EQ(slog_end_offset(fx.part.log), 101);
	TL_TRUE(slog_durable_offset(fx.part.log) >= 101);
	TL_EQ(fx.part.hw, 101);
	/* the leader's start moves on (DeleteRecords there): so does ours */
	long l3 = leader_batch(b, 101, 4, 3);
	replica_append_from(4, 101, b, (size_t)l3, 104, 102, 0);
	expect_answer(0, 104);
	TL_EQ(slog_start_offset(fx.part.log), 102);
	/* the state a new leader's truncation asks for: epoch 4 latest */
	struct dp_msg *m = request(DP_REPLICA_STATE, 0);
	TL_OK(dp_store_submit(&fx.net, &fx.part, m));
	TL_EQ(wait_completions(got, 1), 1);
	TL_EQ(got[0]->res.log_end_offset, 104);
	TL_EQ(got[0]->res.offset, 4);
	dp_msg_free(got[0]);
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
		cmocka_unit_test_setup_teardown(test_repl_not_leader,
						setup_cluster, teardown),
		cmocka_unit_test_setup_teardown(
			test_repl_acks_all_waits_for_follower, setup_cluster,
			teardown),
		cmocka_unit_test_setup_teardown(test_repl_min_isr,
						setup_cluster, teardown),
		cmocka_unit_test_setup_teardown(test_repl_epoch_fencing,
						setup_cluster, teardown),
		cmocka_unit_test_setup_teardown(test_repl_isr_shrink_on_lag,
						setup_cluster, teardown),
		cmocka_unit_test_setup_teardown(test_repl_isr_expand,
						setup_cluster, teardown),
		cmocka_unit_test_setup_teardown(test_repl_follower,
						setup_cluster, teardown),
		cmocka_unit_test_setup_teardown(test_repl_follower_starts_over,
						setup_cluster, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
