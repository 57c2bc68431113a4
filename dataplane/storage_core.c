/*
 * A storage core: owns the partitions hashed to it (their slog, idempotence
 * table, pending acks and parked fetches), drains their rings, appends and
 * releases acks.  One swriter (io_uring) per core.
 *
 * Memory per partition: the write buffer comes from the core's pool
 * (storage/pool.c; log_buffer_pool_mb / storage_cores, at least one
 * buffer) only while the partition has data on its way to the disk; the
 * ring and the idempotence table are made on first use.  docs/storage.md
 * ("Memory and descriptors per partition") has the figures.
 *
 * Duty cycle (bounded): a command from main (open/close a partition), then
 * up to DP_BURST messages per owned partition, swriter_do_work() (which
 * calls durable_cb), then deadlines (acks=-1 timeouts, long-poll fetches)
 * and retention every retention_check_ms (config).  Idle strategy: spin a
 * little, then block: in swriter_wait() while I/O is in flight, else in
 * poll() on the core's eventfd, never longer than the nearest deadline.
 *
 * Acks: acks=1 queued in offset order on the partition and released by
 * written_cb once the batch is in the segment file (a crash of sluiced
 * does not lose it; docs/storage.md); acks=-1 queued likewise and
 * released once the high watermark passes the last offset (repl_advance:
 * fdatasynced here and, in a cluster, on every in-sync replica);
 * durable_cb(err<0) answers every queued ack the rollback cut
 * KAFKA_STORAGE_ERROR; acks=0 answered never.  Both queues time out.
 *
 * Replication (a cluster, docs/cluster.md): the core keeps each
 * partition's isr_set (dataplane/isr.h) from control's state (DPC_STATE)
 * and its leader epochs (epoch_cache.h).  As leader it serves followers'
 * fetches (their fetch offset is what they hold durably), moves the high
 * watermark and asks control to shrink or grow the in-sync set
 * (dp_cluster_alter_isr); as follower it takes the fetcher's appends
 * (DP_REPLICA_APPEND, answered once durable) and truncations.  Only the
 * leader takes produce, consumers' fetches, list offsets, delete records
 * and markers; the others answer NOT_LEADER_OR_FOLLOWER.
 *
 * Fetch: the core copies whole batches into the response buffer (one
 * copy): from the tail cache (slog_read's pointer is only valid on this
 * thread until the next append, so it cannot be handed to the net core),
 * or with pread() from the segment's page-cache descriptor.  Handing
 * fd/pos/len to the net core for splice/sendfile would save that copy for
 * cold reads but needs segment lifetime pinning against retention; later.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dataplane/batch.h"
#include "dataplane/dp.h"
#include "dataplane/partition_dir.h"
#include "proto/record_batch.h"
#include "storage/disk.h"

/* Compaction (storage/cleaner.h): bytes of cleaning I/O per step, and how
 * often a compacted partition with no pass under way is asked whether one
 * is due.  A step runs when the core is idle, and between bursts at most
 * every DP_CLEAN_BUSY_EVERY_MS with the smaller budget, so appends wait
 * for at most one small step. */
#define DP_CLEAN_IDLE_BYTES (1u << 20)
#define DP_CLEAN_BUSY_BYTES (256u << 10)
#define DP_CLEAN_BUSY_EVERY_MS 10
#define DP_CLEAN_CHECK_MS 1000
#define DP_CLEAN_ERROR_BACKOFF_MS 60000
#define DP_CLEAN_SCAN_MAX 64 /* partitions looked at per step */
/* A cluster's partitions checkpoint their high watermark (hw_save) */
#define DP_HW_FILE "high_watermark"
#define DP_HW_SAVE_MS 1000

/* What a read_committed fetch keeps free after its records for the
 * aborted transactions (every one a partition remembers, and alignment);
 * its records are read up to DP_FETCH_MAX_BYTES less this. */
#define DP_ABORTED_ROOM (TXN_ABORTED_MAX * sizeof(struct txn_aborted) + 64)
_Static_assert(DP_ABORTED_ROOM < DP_FETCH_MAX_BYTES / 8,
	       "the aborted list takes a small part of a fetch");

static void idem_rebuild(struct dp *dp, struct dp_partition *p);
static void txn_rebuild(struct dp *dp, struct dp_partition *p);
struct rb_header;
static void idem_walk(void *ctx, const struct rb_header *h, const uint8_t *b,
		      size_t have);
static void txn_walk(void *ctx, const struct rb_header *h, const uint8_t *b,
		     size_t have);

/* A produce's (or a marker's) answer: its result, back to its net core
 * (nobody waits for acks=0: freed). */
static void produce_answer(struct dp_msg *m, int16_t err, int64_t base,
			   int64_t last, uint32_t throttle_ms)
{
	assert(m->op == DP_PRODUCE || m->op == DP_WRITE_MARKER);
	if (m->op == DP_PRODUCE && m->rq.produce.acks == 0) {
		dp_msg_free(m);
		return;
	}
	struct dp_partition *p = m->part;
	m->res.error = err;
	m->res.base_offset = err ? -1 : base;
	m->res.last_offset = err ? -1 : last;
	m->res.log_start_offset = p->log ? slog_start_offset(p->log) : -1;
	m->res.throttle_ms = throttle_ms;
	dp_complete(m);
}

static void answer_error(struct dp_msg *m, int16_t err)
{
	assert(err != 0);
	if (m->op == DP_PRODUCE || m->op == DP_WRITE_MARKER) {
		produce_answer(m, err, -1, -1,
			       err == SN_ERR_THROTTLING_QUOTA_EXCEEDED ?
				       DP_THROTTLE_MS : 0);
		return;
	}
	m->res.error = err;
	m->res.bytes = NULL;
	m->res.bytes_len = 0;
	dp_complete(m);
}

/* ---- replication ---- */

static void recheck_parked(struct dp *dp, struct dp_store_core *c,
			   struct dp_partition *p, uint64_t now);

static bool leads(const struct dp_partition *p)
{
	return p->isr.leader >= 0 && p->isr.leader == p->isr.self;
}

/* Leads p and may act on it: a fenced broker (dp->self_fenced) answers
 * as no partition's leader, for the controller has moved or will move
 * its partitions. */
static bool serves(const struct dp_partition *p)
{
	/* relaxed: a flag main sets; the next request sees it */
	return leads(p) && !atomic_load_explicit(&p->sc->dp->self_fenced,
						 memory_order_relaxed);
}

/* The leader epoch stamped into the batches this node appends as leader
 * (0 for a single broker). */
static int32_t own_epoch(const struct dp_partition *p)
{
	return p->isr.leader_epoch > 0 ? p->isr.leader_epoch : 0;
}

/* 0 when this node leads p and a client's current_leader_epoch (-1: not
 * checked) is p's, else the error to answer. */
static int16_t leader_check(const struct dp_partition *p, int32_t cur)
{
	if (!serves(p))
		return SN_ERR_NOT_LEADER_OR_FOLLOWER;
	/* -1 is "not checked" (Kafka's empty Optional); any other value
	 * below the partition's epoch is fenced */
	if (cur != -1 && cur < p->isr.leader_epoch)
		return SN_ERR_FENCED_LEADER_EPOCH;
	if (cur > p->isr.leader_epoch)
		return SN_ERR_UNKNOWN_LEADER_EPOCH;
	return 0;
}

/* Ask control for the in-sync set isr[0..n) of p, at most every 2 s for
 * one partition (control answers with a new state or an error).  true
 * when the request was queued. */
static bool alter_isr(struct dp *dp, struct dp_partition *p,
		      const int32_t *isr, uint8_t n, uint64_t now)
{
	if (now < p->alter_after_ns)
		return false;
	struct sipc_alter_isr a = { .topic_id = p->topic->id,
				    .partition = p->index,
				    .leader_epoch = p->isr.leader_epoch,
				    .partition_epoch = p->isr.partition_epoch,
				    .nisr = n };
	memcpy(a.isr, isr, n * sizeof(*isr));
	if (dp_cluster_alter_isr(dp, &a) != 0)
		return false;
	p->alter_after_ns = now + 2000000000ull;
	return true;
}

/* The high watermark as the in-sync set allows it now (never backwards),
 * then every acks=-1 answer below it: an error when the in-sync set fell
 * under min.insync.replicas after the append (Kafka's
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND), else success. */
static void produce_answer(struct dp_msg *m, int16_t err, int64_t base,
			   int64_t last, uint32_t throttle_ms);
static void repl_advance(struct dp_store_core *c, struct dp_partition *p)
{
	if (!p->log)
		return;
	if (leads(p)) {
		int64_t hw = isr_high_watermark(&p->isr,
						slog_durable_offset(p->log));
		if (hw > p->hw)
			p->hw = hw;
	}
	if (p->txn.nopen)
		txn_part_durable(&p->txn, p->hw);
	while (p->acks_head && p->acks_head->res.last_offset < p->hw) {
		struct dp_msg *m = p->acks_head;
		p->acks_head = m->next;
		assert(p->acks_pending > 0);
		p->acks_pending--;
		if (m->op == DP_PRODUCE && p->isr.nisr < p->isr.min_isr) {
			produce_answer(m, SN_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
				       -1, -1, 0);
			continue;
		}
		produce_answer(m, 0, m->res.base_offset, m->res.last_offset, 0);
	}
	if (!p->acks_head)
		p->acks_tail = NULL;
	p->high_watermark = p->hw;
	(void)c;
}

/* ---- durability ---- */

static void durable_cb(void *ctx, struct slog *log, int64_t durable_end,
		       int err)
{
	struct dp_partition *p = ctx;
	struct dp_store_core *c = p->sc;
	c->durable_cb_calls++;
	if (err < 0) {
		/* rolled back to durable_end: everything queued is gone */
		if (p->rep_pending) {
			struct dp_msg *m = p->rep_pending;
			p->rep_pending = NULL;
			c->st.storage_errors++;
			answer_error(m, SN_ERR_KAFKA_STORAGE_ERROR);
		}
		if (p->hw > durable_end)
			p->hw = durable_end; /* a follower's: never above */
		epc_truncate_end(&p->epc, durable_end);
		while (p->acks_head) {
			struct dp_msg *m = p->acks_head;
			p->acks_head = m->next;
			if (m->res.last_offset < durable_end) {
				produce_answer(m, 0, m->res.base_offset,
					       m->res.last_offset, 0);
				continue;
			}
			c->st.storage_errors++;
			produce_answer(m, SN_ERR_KAFKA_STORAGE_ERROR, -1, -1,
				       DP_STORAGE_THROTTLE_MS);
		}
		p->acks_tail = NULL;
		p->acks_pending = 0;
		/* acks=1 still waiting were not written: cut with the rest */
		while (p->w1_head) {
			struct dp_msg *m = p->w1_head;
			p->w1_head = m->next;
			c->st.storage_errors++;
			produce_answer(m, SN_ERR_KAFKA_STORAGE_ERROR, -1, -1,
				       DP_STORAGE_THROTTLE_MS);
		}
		p->w1_tail = NULL;
		/* the producers' state as the log now has it: a batch that
		 * is still durable must keep being recognised as a duplicate */
		idem_reset(&p->idem);
		idem_rebuild(c->dp, p);
		/* and the transactions: a marker cut is an open
		 * transaction again (the coordinator writes it again) */
		txn_rebuild(c->dp, p);
		return;
	}
	/* a follower's append waits for this */
	if (p->rep_pending &&
	    durable_end >= p->rep_pending->res.log_end_offset) {
		struct dp_msg *m = p->rep_pending;
		p->rep_pending = NULL;
		m->res.error = 0;
		dp_complete(m);
	}
	repl_advance(c, p);
	(void)log;
}

static void written_cb(void *ctx, struct slog *log, int64_t written_end)
{
	struct dp_partition *p = ctx;
	while (p->w1_head && p->w1_head->res.last_offset < written_end) {
		struct dp_msg *m = p->w1_head;
		p->w1_head = m->next;
		produce_answer(m, 0, m->res.base_offset, m->res.last_offset, 0);
	}
	if (!p->w1_head)
		p->w1_tail = NULL;
	(void)log;
}

/* Hold an acks=1 answer until written_cb: the batch is in the file. */
/* The answer's deadline of a produce or a marker once appended. */
static uint64_t ack_deadline_ns(struct dp *dp, const struct dp_msg *m)
{
	uint32_t ms = m->op == DP_WRITE_MARKER ? m->rq.marker.timeout_ms :
						 m->rq.produce.timeout_ms;
	return dp_now_ns(dp) + (uint64_t)ms * 1000000ull;
}

static void written_queue(struct dp_store_core *c, struct dp_partition *p,
			  struct dp_msg *m, int64_t base, int64_t last)
{
	m->res.base_offset = base;
	m->res.last_offset = last;
	m->next = NULL;
	m->deadline_ns = ack_deadline_ns(c->dp, m);
	if (p->w1_tail)
		p->w1_tail->next = m;
	else
		p->w1_head = m;
	p->w1_tail = m;
	slog_request_flush(p->log);
}

static void ack_queue(struct dp_store_core *c, struct dp_partition *p,
		      struct dp_msg *m, int64_t base, int64_t last)
{
	m->res.base_offset = base;
	m->res.last_offset = last;
	m->next = NULL;
	m->deadline_ns = ack_deadline_ns(c->dp, m);
	if (p->acks_tail)
		p->acks_tail->next = m;
	else
		p->acks_head = m;
	p->acks_tail = m;
	p->acks_pending++;
}

/* ---- produce ---- */

/* Returns 1 when m was not consumed (a Kafka produce waiting for room in
 * the write buffer), else 0. */
static int do_produce(struct dp *dp, struct dp_store_core *c,
		      struct dp_partition *p, struct dp_msg *m)
{
	struct rb_header h;
	rb_header_decode(m->req, &h);
	/* relaxed: see dp_topic */
	if ((atomic_load_explicit(&p->topic->cleanup_policy,
				  memory_order_relaxed) & SN_CLEANUP_COMPACT)) {
		int16_t err = dp_batch_check_keys(m->req, m->req_len);
		if (err) {
			/* Kafka: a compacted topic's records need keys */
			c->st.keyless_refused++;
			dp_msg_release_req(m);
			produce_answer(m, err, -1, -1, 0);
			return 0;
		}
	}
	int16_t lerr = leader_check(p, -1);
	if (!lerr && m->rq.produce.acks == -1 && p->isr.nisr < p->isr.min_isr)
		lerr = SN_ERR_NOT_ENOUGH_REPLICAS; /* Kafka: before the append */
	if (lerr) {
		dp_msg_release_req(m);
		produce_answer(m, lerr, -1, -1, 0);
		return 0;
	}
	int32_t last_seq = idem_last_seq(h.base_sequence, h.last_offset_delta);
	struct idem_batch dup;
	int v = idem_check(&p->idem, h.producer_id, h.producer_epoch,
			   h.base_sequence, last_seq, &dup);
	if (v == IDEM_DUPLICATE) {
		c->st.duplicates++;
		p->duplicates++;
		if (m->rq.produce.acks == -1 && dup.last_offset >= p->hw) {
			ack_queue(c, p, m, dup.base_offset, dup.last_offset);
			return 0;
		}
		if (m->rq.produce.acks == 1 &&
		    dup.last_offset >= slog_written_offset(p->log)) {
			written_queue(c, p, m, dup.base_offset, dup.last_offset);
			return 0;
		}
		produce_answer(m, 0, dup.base_offset, dup.last_offset, 0);
		return 0;
	}
	if (v < 0) {
		if (v == -SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER)
			c->st.out_of_order++;
		else
			c->st.fenced_epoch++;
		produce_answer(m, (int16_t)-v, -1, -1, 0);
		return 0;
	}
	if ((h.attributes & RB_ATTR_TRANSACTIONAL) &&
	    !txn_part_begin_ok(&p->txn, h.producer_id)) {
		/* TXN_OPEN_MAX transactions open here: retriable, as a
		 * full write buffer */
		c->st.txn_refused++;
		dp_msg_release_req(m);
		produce_answer(m, SN_ERR_NOT_ENOUGH_REPLICAS, -1, -1,
			       DP_THROTTLE_MS);
		return 0;
	}
	struct slog_append_result res;
	int rc = slog_append_validated(p->log, m->req, m->req_len, &res);
	if (rc == SL_EFULL) {
		/* reap completions once and retry; then push back */
		swriter_do_work(c->w);
		rc = slog_append_validated(p->log, m->req, m->req_len, &res);
	}
	if (rc == SL_EFULL && m->rq.produce.may_stall && !m->req_token) {
		/* a Kafka producer: hold the partition until the writer has
		 * room (Kafka clients wait for a slow broker, and answer a
		 * refusal with a 100 ms back-off); bounded by
		 * DP_STALL_MAX_MS, then refused like the native protocol */
		uint64_t now = dp_now_ns(dp);
		if (!p->stalled_since_ns)
			p->stalled_since_ns = now;
		if (now - p->stalled_since_ns < DP_STALL_MAX_MS * 1000000ull)
			return 1; /* not consumed: the caller keeps it first */
	}
	p->stalled_since_ns = 0;
	/* the bytes are in the write buffer (or refused): a kept mbuf goes
	 * back to the pool now, not when the ack leaves */
	dp_msg_release_req(m);
	if (rc == SL_EFULL) {
		c->st.log_full++;
		produce_answer(m, SN_ERR_THROTTLING_QUOTA_EXCEEDED, -1, -1,
				DP_THROTTLE_MS);
		return 0;
	}
	if (rc == SL_ETOOBIG) {
		produce_answer(m, SN_ERR_MESSAGE_TOO_LARGE, -1, -1, 0);
		return 0;
	}
	if (rc <= SL_ECORRUPT && rc >= SL_ELENGTH) {
		produce_answer(m, SN_ERR_CORRUPT_MESSAGE, -1, -1, 0);
		return 0;
	}
	if (rc < 0) {
		c->st.storage_errors++;
		produce_answer(m, SN_ERR_KAFKA_STORAGE_ERROR, -1, -1,
				DP_STORAGE_THROTTLE_MS);
		return 0;
	}
	epc_assign(&p->epc, own_epoch(p), res.base_offset);
	idem_record(&p->idem, h.producer_id, h.producer_epoch, h.base_sequence,
		    last_seq, res.base_offset, res.last_offset);
	txn_part_on_batch(&p->txn, h.producer_id, h.producer_epoch,
			  h.attributes, res.base_offset, res.last_offset);
	c->st.batches++;
	c->st.appends++;
	c->st.batch_bytes += m->req_len;
	p->batches++;
	p->bytes += m->req_len;
	if (m->rq.produce.acks == -1) {
		ack_queue(c, p, m, res.base_offset, res.last_offset);
		return 0;
	}
	if (m->rq.produce.acks == 1) {
		written_queue(c, p, m, res.base_offset, res.last_offset);
		return 0;
	}
	produce_answer(m, 0, res.base_offset, res.last_offset, 0);
	return 0;
}

/* ---- transaction markers ---- */

/* The control batch of a marker into buf (cap bytes): one record, key
 * int16 0 + int16 type, value int16 0 + int32 coordinator epoch (Kafka's
 * EndTransactionMarker), producer id and epoch the transaction's, base
 * sequence -1, attributes transactional and control.  Returns its size,
 * or < 0 (buf too small). */
static long marker_batch(uint8_t *buf, size_t cap,
			 const struct dp_write_marker *w, int64_t now_ms)
{
	uint8_t key[4], value[6];
	rb_put16(key, 0);
	rb_put16(key + 2, w->commit ? TXN_COMMIT : TXN_ABORT);
	rb_put16(value, 0);
	rb_put32(value + 2, (uint32_t)w->coordinator_epoch);
	struct rb_builder b;
	rb_builder_init(&b, buf, cap, now_ms);
	rb_builder_set_producer(&b, w->producer_id, w->epoch, -1);
	if (rb_builder_add(&b, key, sizeof(key), value, sizeof(value), now_ms))
		return -ENOBUFS;
	long len = rb_builder_finish(&b);
	if (len < 0)
		return len;
	/* the builder writes data batches: the attributes, then the CRC
	 * that covers them, again */
	rb_put16(buf + RB_OFF_ATTRIBUTES,
		 RB_ATTR_TRANSACTIONAL | RB_ATTR_CONTROL);
	rb_put32(buf + RB_OFF_CRC,
		 rb_crc32c(buf + RB_CRC_START, (size_t)len - RB_CRC_START));
	return len;
}

/* Kafka's WriteTxnMarkers for one partition (request.h): the marker is
 * appended, recorded (txn_part) and answered from the acks=-1 queue
 * once durable.  The epoch is fenced against what the partition knows of
 * the producer: its transactions here and its idempotent batches.  As
 * Kafka's ProducerAppendInfo: a marker of transaction version 0 or 1
 * needs an epoch at least the known one, of version 2+ (whose
 * coordinator bumps the epoch at each transaction's end) above it; then
 * a coordinator epoch at least the highest of the producer's markers
 * here (idem_coord_epoch), else TRANSACTION_COORDINATOR_FENCED: the
 * request comes from a coordinator that has lost the transactional id
 * to a newer one (a marker of its still on the wire when its
 * __transaction_state partition moved). */
static void do_write_marker(struct dp *dp, struct dp_store_core *c,
			    struct dp_partition *p, struct dp_msg *m)
{
	const struct dp_write_marker *w = &m->rq.marker;
	struct idem_batch dup;
	int16_t lerr = leader_check(p, -1);
	if (lerr) {
		answer_error(m, lerr);
		return;
	}
	if (w->producer_id < 0) {
		answer_error(m, SN_ERR_INVALID_REQUEST);
		return;
	}
	/* only the epoch verdict of idem_check is wanted: a sequence of -1
	 * is never in order, so any other answer is "not older".  Version
	 * 2+: epoch - 1 must not be older, i.e. epoch above the known one
	 * (an unknown producer's is -1: epoch 0 passes, INT16_MIN never) */
	bool strict = w->txn_version >= 2;
	int16_t at_least = strict ? (int16_t)(w->epoch - 1) : w->epoch;
	if ((strict && w->epoch == INT16_MIN) ||
	    at_least < txn_part_epoch(&p->txn, w->producer_id) ||
	    idem_check(&p->idem, w->producer_id, at_least, -1, -1, &dup) ==
		    -SN_ERR_INVALID_PRODUCER_EPOCH) {
		c->st.markers_fenced++;
		answer_error(m, SN_ERR_INVALID_PRODUCER_EPOCH);
		return;
	}
	if (w->coordinator_epoch < idem_coord_epoch(&p->idem, w->producer_id)) {
		c->st.markers_coordinator_fenced++;
		answer_error(m, SN_ERR_TRANSACTION_COORDINATOR_FENCED);
		return;
	}
	uint8_t batch[128];
	long len = marker_batch(batch, sizeof(batch), w,
				dp->clock->wall_ms(dp->clock->ctx));
	assert(len > 0 && (size_t)len <= sizeof(batch));
	struct slog_append_result res;
	int rc = slog_append_validated(p->log, batch, (size_t)len, &res);
	if (rc == SL_EFULL) {
		swriter_do_work(c->w);
		rc = slog_append_validated(p->log, batch, (size_t)len, &res);
	}
	if (rc == SL_EFULL) {
		c->st.log_full++;
		answer_error(m, SN_ERR_THROTTLING_QUOTA_EXCEEDED);
		return;
	}
	if (rc < 0) {
		c->st.storage_errors++;
		answer_error(m, SN_ERR_KAFKA_STORAGE_ERROR);
		return;
	}
	assert(res.base_offset == res.last_offset);
	epc_assign(&p->epc, own_epoch(p), res.base_offset);
	int ended = txn_part_on_marker(&p->txn, w->producer_id, w->epoch,
				       w->commit ? TXN_COMMIT : TXN_ABORT,
				       res.base_offset);
	assert(ended >= 0);
	(void)ended;
	idem_fence(&p->idem, w->producer_id, w->epoch, w->coordinator_epoch);
	c->st.markers++;
	c->st.batches++;
	c->st.appends++;
	c->st.batch_bytes += (uint64_t)len;
	p->batches++;
	p->bytes += (uint64_t)len;
	/* a transaction's end is waited for: sync now, not at the next
	 * group commit */
	slog_request_sync(p->log);
	ack_queue(c, p, m, res.base_offset, res.last_offset);
}

/* ---- fetch ---- */

/* Answer the fetch if it is ready (or forced); returns 1 if answered.
 * The records go into m's answer buffer after the front-end's headroom
 * (one copy: from the tail cache or the segment file). */
static int try_fetch(struct dp *dp, struct dp_store_core *c,
		     struct dp_msg *m, int force)
{
	struct dp_partition *p = m->part;
	const struct dp_fetch *f = &m->rq.fetch;
	int64_t start = slog_start_offset(p->log), end = slog_end_offset(p->log);
	/* consumers read below the high watermark; a follower to the end */
	int64_t hw = p->hw;
	int64_t lso = txn_part_lso(&p->txn, hw);
	int64_t limit = f->replica_id > 0 || f->isolation ? end :
			f->read_committed			  ? lso :
								    hw;
	if (f->offset < start || f->offset > end) {
		/* where the log starts: a follower below it starts over
		 * there (kafka.c passes it on to followers only) */
		m->res.log_start_offset = start;
		answer_error(m, SN_ERR_OFFSET_OUT_OF_RANGE);
		return 1;
	}
	size_t cap = f->hard_max < DP_FETCH_MAX_BYTES ? f->hard_max :
							 DP_FETCH_MAX_BYTES;
	size_t max = f->max_bytes < cap ? f->max_bytes : cap;
	/* read_committed: room for the aborted list in the largest answer
	 * buffer there is (msg.c's largest class) */
	if (f->read_committed && max > DP_FETCH_MAX_BYTES - DP_ABORTED_ROOM)
		max = DP_FETCH_MAX_BYTES - DP_ABORTED_ROOM;
	if (max == 0)
		max = 1;
	struct slog_read_view v = { 0 };
	int rc = f->offset >= limit ? 0 :
				      slog_read(p->log, f->offset, max, limit, &v);
	if (rc < 0) {
		m->res.log_start_offset = slog_start_offset(p->log);
		answer_error(m, rc == SL_EOFFSET ? SN_ERR_OFFSET_OUT_OF_RANGE :
						   SN_ERR_KAFKA_STORAGE_ERROR);
		return 1;
	}
	if (!force && v.len < (f->min_bytes ? f->min_bytes : 1) &&
	    f->max_wait_ms > 0)
		return 0;
	if (v.len > cap) {
		answer_error(m, SN_ERR_MESSAGE_TOO_LARGE);
		return 1;
	}
	/* read_committed: the aborted transactions of the batches read go
	 * after them, at the next multiple of 8 (request.h); written as
	 * struct txn_aborted, then packed into struct dp_aborted_txn */
	uint32_t naborted = 0;
	size_t aborted_at = (f->headroom + v.len + 7) & ~(size_t)7;
	if (f->read_committed && v.len)
		naborted = txn_part_aborted_in(&p->txn, v.first_offset,
					       v.next_offset, NULL, 0);
	if (dp_msg_resp(dp, m, naborted ? aborted_at + naborted *
					  sizeof(struct txn_aborted) :
					  f->headroom + v.len)) {
		/* budget spent: an empty answer the client retries (the
		 * headroom alone fits the message's inline buffer) */
		v.len = 0;
		naborted = 0;
		int r = dp_msg_resp(dp, m, f->headroom);
		assert(r == 0);
		(void)r;
	}
	uint8_t *rec = m->resp + f->headroom;
	if (v.len) {
		if (v.mem) {
			memcpy(rec, v.mem, v.len);
		} else {
			ssize_t r = pread(v.fd, rec, v.len, (off_t)v.file_pos);
			if (r != (ssize_t)v.len) {
				answer_error(m, SN_ERR_KAFKA_STORAGE_ERROR);
				return 1;
			}
			/* a reader behind the tail cache reads on: have the
			 * kernel fetch what follows while this answer
			 * travels, so that the next read finds it in the page
			 * cache instead of waiting on the disk (1 MiB Kafka
			 * fetches read cold at a fifth of the disk's speed
			 * without it).  Reads as large as the window get
			 * the kernel's own read-ahead: advising on top of
			 * them measured slower. */
			if (v.len < DP_FETCH_READAHEAD)
				posix_fadvise(v.fd, (off_t)(v.file_pos + v.len),
					      DP_FETCH_READAHEAD,
					      POSIX_FADV_WILLNEED);
		}
	}
	m->res.aborted = NULL;
	m->res.naborted = 0;
	if (naborted) {
		struct txn_aborted *a = (void *)(m->resp + aborted_at);
		struct dp_aborted_txn *out = (void *)a;
		uint32_t got = txn_part_aborted_in(&p->txn, v.first_offset,
						   v.next_offset, a, naborted);
		assert(got == naborted);
		/* packed in place, in order: entry i is read whole before
		 * its smaller copy overwrites the start of its bytes */
		for (uint32_t i = 0; i < got; i++) {
			struct txn_aborted e = a[i];
			out[i] = (struct dp_aborted_txn){ e.producer_id,
							  e.first_offset };
		}
		m->res.aborted = out;
		m->res.naborted = got;
	}
	m->res.error = 0;
	m->res.high_watermark = hw;
	m->res.leader_epoch = p->isr.leader_epoch;
	m->res.last_stable_offset = lso;
	m->res.log_start_offset = start;
	m->res.log_end_offset = end;
	m->res.bytes = rec;
	m->res.bytes_len = (uint32_t)v.len;
	c->st.fetches++;
	c->st.fetch_bytes += v.len;
	p->fetch_bytes += v.len;
	dp_complete(m);
	return 1;
}

/* Ask control to take follower node into the in-sync set when it has
 * caught up (isr_expand). */
static void try_expand(struct dp *dp, struct dp_partition *p, int32_t node,
		       uint64_t now)
{
	if (isr_in_sync(&p->isr, node))
		return;
	int32_t isr[ISR_REPLICAS_MAX];
	uint8_t n = 0;
	if (isr_expand(&p->isr, node, p->hw, isr, &n) &&
	    alter_isr(dp, p, isr, n, now)) {
		/* counted from now on, before control agrees (Kafka's
		 * maximal in-sync set, KIP-497): once the controller has it
		 * in sync it may make it leader, so nothing is acknowledged
		 * that it lacks.  A new state replaces the set; until one
		 * comes (a refusal, a replica still fenced, say, or an
		 * answer lost) check_isr keeps it counted and asks
		 * again. */
		memcpy(p->isr.isr, isr, n * sizeof(isr[0]));
		p->isr.nisr = n;
		p->isr_asked_ns = now;
	}
}

/* A follower's fetch (replica_id set): its fetch offset is what it holds
 * durably, so it moves the high watermark, and may bring it back into
 * the in-sync set. */
static int16_t replica_fetched(struct dp *dp, struct dp_store_core *c,
			       struct dp_partition *p, const struct dp_fetch *f)
{
	int32_t node = f->replica_id;
	uint64_t now = dp_now_ns(dp);
	if (isr_on_fetch(&p->isr, node, f->offset, slog_end_offset(p->log),
			 now) < 0)
		return SN_ERR_NOT_LEADER_OR_FOLLOWER; /* not a replica */
	repl_advance(c, p);
	try_expand(dp, p, node, now);
	if (p->parked)
		recheck_parked(dp, c, p, now);
	return 0;
}

static void do_fetch(struct dp *dp, struct dp_store_core *c,
		     struct dp_partition *p, struct dp_msg *m)
{
	const struct dp_fetch *f = &m->rq.fetch;
	int16_t err = leader_check(p, f->check_epoch ? f->current_leader_epoch
						     : -1);
	if (!err && f->replica_id > 0)
		err = replica_fetched(dp, c, p, &m->rq.fetch);
	if (err) {
		m->res.leader_epoch = p->isr.leader_epoch;
		answer_error(m, err);
		return;
	}
	if (try_fetch(dp, c, m, c->parked >= DP_MAX_PARKED))
		return;
	m->deadline_ns = dp_now_ns(dp) +
			 (uint64_t)m->rq.fetch.max_wait_ms * 1000000ull;
	m->next = p->parked;
	p->parked = m;
	c->parked++;
	c->st.parked++;
}

static void recheck_parked(struct dp *dp, struct dp_store_core *c,
			   struct dp_partition *p, uint64_t now)
{
	struct dp_msg **pp = &p->parked;
	while (*pp) {
		struct dp_msg *m = *pp;
		int force = now >= m->deadline_ns || !p->log;
		assert(c->parked > 0);
		if (!p->log || !leads(p)) {
			*pp = m->next;
			c->parked--;
			answer_error(m, p->log ? SN_ERR_NOT_LEADER_OR_FOLLOWER :
						 SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
			continue;
		}
		/* try_fetch may answer (and hand m away) */
		struct dp_msg *next = m->next;
		if (try_fetch(dp, c, m, force)) {
			*pp = next;
			c->parked--;
		} else {
			pp = &m->next;
		}
	}
}

static void do_list(struct dp_store_core *c, struct dp_partition *p,
		    struct dp_msg *m)
{
	int64_t off, found = -1;
	int64_t ts = m->rq.list.timestamp;
	int16_t err = leader_check(p, m->rq.list.check_epoch ?
					      m->rq.list.current_leader_epoch :
					      -1);
	if (err) {
		answer_error(m, err);
		return;
	}
	if (ts == -2) {
		off = slog_start_offset(p->log);
	} else if (ts == -1) {
		off = p->hw;
		if (m->rq.list.read_committed)
			off = txn_part_lso(&p->txn, off);
	} else {
		if (ts == -3) {
			found = slog_max_timestamp(p->log, &off);
			if (found < 0)
				off = found;
		} else {
			off = slog_lookup_time(p->log, ts, &found);
		}
		if (off == SL_ENOTFOUND) {
			off = -1;
			found = -1;
		} else if (off < 0) {
			answer_error(m, SN_ERR_KAFKA_STORAGE_ERROR);
			return;
		}
	}
	c->st.list_offsets++;
	m->res.error = 0;
	m->res.offset = off;
	m->res.timestamp = found;
	m->res.log_start_offset = slog_start_offset(p->log);
	m->res.high_watermark = p->hw;
	m->res.leader_epoch = p->isr.leader_epoch;
	m->res.last_stable_offset = txn_part_lso(&p->txn,
						 m->res.high_watermark);
	m->res.log_end_offset = slog_end_offset(p->log);
	dp_complete(m);
}

/* Kafka's DeleteRecords: up to the high watermark (-1: to it), never
 * above; the new start is durable before the answer (storage/log.h). */
static void do_delete_records(struct dp_store_core *c, struct dp_partition *p,
			      struct dp_msg *m)
{
	int64_t hw = p->hw;
	int16_t err = leader_check(p, -1);
	if (err) {
		answer_error(m, err);
		return;
	}
	int64_t to = m->rq.del.offset == -1 ? hw : m->rq.del.offset;
	if (to < 0 || to > hw) {
		answer_error(m, SN_ERR_OFFSET_OUT_OF_RANGE);
		return;
	}
	int64_t start = slog_delete_records(p->log, to);
	if (start < 0) {
		answer_error(m, SN_ERR_KAFKA_STORAGE_ERROR);
		return;
	}
	txn_part_trim(&p->txn, start);
	c->st.delete_records++;
	m->res.error = 0;
	m->res.offset = start;
	m->res.log_start_offset = start;
	m->res.high_watermark = hw;
	dp_complete(m);
}

/* Kafka's DescribeLogDirs: the partition's bytes on disk. */
static void do_log_size(struct dp_store_core *c, struct dp_partition *p,
			struct dp_msg *m)
{
	(void)c;
	m->res.error = 0;
	m->res.size_bytes = (int64_t)slog_size_bytes(p->log);
	m->res.log_start_offset = slog_start_offset(p->log);
	m->res.log_end_offset = slog_end_offset(p->log);
	assert(m->res.size_bytes >= 0);
	dp_complete(m);
}

/* Kafka's DescribeProducers: the idempotence table's producers, at most
 * m->rq.prod.max of them, into m->data (struct dp_producer_state);
 * res.offset = how many. */
static void do_producers(struct dp_store_core *c, struct dp_partition *p,
			 struct dp_msg *m)
{
	(void)c;
	struct dp_producer_state *out = (void *)m->data;
	uint32_t n = 0;
	const struct idem_table *t = &p->idem;
	/* bounded: the table's slots */
	for (uint32_t i = 0; t->slots && i < t->cap && n < m->rq.prod.max; i++) {
		const struct idem_producer *q = &t->slots[i];
		if (q->producer_id < 0)
			continue;
		out[n++] = (struct dp_producer_state){
			.producer_id = q->producer_id,
			.epoch = q->epoch,
			.last_sequence = q->count ? q->b[q->newest].last_seq : -1,
			.coordinator_epoch = q->coord_epoch,
			.txn_start_offset =
				txn_part_open_start(&p->txn, q->producer_id),
		};
	}
	assert(n <= m->rq.prod.max);
	m->res.error = 0;
	m->res.offset = n;
	dp_complete(m);
}

/* Kafka's OffsetForLeaderEpoch: where the asked epoch ends here.  A
 * follower (replica_id set) may ask any replica; a consumer asks the
 * leader. */
static void do_epoch_end(struct dp_store_core *c, struct dp_partition *p,
			 struct dp_msg *m)
{
	const struct dp_epoch_end *e = &m->rq.epoch_end;
	int16_t err = e->replica_id > 0 ? 0 : leader_check(p, -1);
	int32_t cur = e->current_leader_epoch;
	if (!err && cur != -1 && cur < p->isr.leader_epoch)
		err = SN_ERR_FENCED_LEADER_EPOCH;
	else if (!err && cur > p->isr.leader_epoch)
		err = SN_ERR_UNKNOWN_LEADER_EPOCH;
	if (err) {
		answer_error(m, err);
		return;
	}
	int32_t epoch;
	int64_t end;
	epc_end_offset_for(&p->epc, e->epoch, slog_end_offset(p->log), &epoch,
			   &end);
	(void)c;
	m->res.error = 0;
	m->res.offset = end;
	m->res.timestamp = epoch;
	m->res.leader_epoch = p->isr.leader_epoch;
	dp_complete(m);
}

/* A follower's request is made under the leader epoch its fetcher
 * follows: 0 when this node follows p in that epoch. */
static int16_t follower_check(const struct dp_partition *p, int32_t epoch)
{
	/* a broker that is not a replica (a reassignment took it off, and
	 * its copy was removed) takes nothing a late fetch brings */
	if (leads(p) || p->isr.leader < 0 ||
	    !isr_is_replica(&p->isr, p->isr.self))
		return SN_ERR_NOT_LEADER_OR_FOLLOWER;
	if (epoch != p->isr.leader_epoch)
		return SN_ERR_FENCED_LEADER_EPOCH;
	return 0;
}

static void do_replica_state(struct dp_partition *p, struct dp_msg *m)
{
	m->res.error = 0;
	m->res.log_start_offset = slog_start_offset(p->log);
	m->res.log_end_offset = slog_end_offset(p->log);
	m->res.high_watermark = p->hw;
	m->res.offset = epc_latest(&p->epc);
	m->res.leader_epoch = p->isr.leader_epoch;
	dp_complete(m);
}

/* The log was cut at (or rolled back to) its end: what the partition
 * derives from it follows. */
static void after_cut(struct dp *dp, struct dp_partition *p)
{
	int64_t end = slog_end_offset(p->log);
	epc_truncate_end(&p->epc, end);
	if (p->hw > end)
		p->hw = end;
	idem_reset(&p->idem);
	idem_rebuild(dp, p);
	txn_rebuild(dp, p);
}

static void do_replica_truncate(struct dp *dp, struct dp_store_core *c,
				struct dp_partition *p, struct dp_msg *m)
{
	const struct dp_replica_truncate *t = &m->rq.rtrunc;
	int16_t err = follower_check(p, t->state_epoch);
	if (!err && p->rep_pending)
		err = SN_ERR_REQUEST_TIMED_OUT; /* an append in flight: later */
	if (err) {
		answer_error(m, err);
		return;
	}
	int64_t end = slog_end_offset(p->log);
	bool complete = true;
	int64_t to = epc_truncation_point(&p->epc, end, p->hw, t->leader_epoch,
					  t->leader_end, &complete);
	if (to < end) {
		int64_t got = slog_truncate(p->log, to);
		if (got < 0) {
			c->st.storage_errors++;
			answer_error(m, SN_ERR_KAFKA_STORAGE_ERROR);
			return;
		}
		after_cut(dp, p);
		dp_log("%s-%d: follower truncated %lld..%lld (leader epoch %d "
		       "ends at %lld)", p->topic->name, p->index, (long long)got,
		       (long long)end, t->leader_epoch,
		       (long long)t->leader_end);
	}
	m->res.error = 0;
	m->res.offset = slog_end_offset(p->log);
	m->res.complete = complete;
	dp_complete(m);
}

/* The leader's log starts at start, past ours: so does ours (Kafka's
 * followers follow the leader's log start: DeleteRecords and retention
 * there reach every replica).  Past our end the log starts over there
 * (slog_start_at: a follower the leader's retention left behind), and
 * what is derived from the log follows.  0 or the error to answer. */
static int16_t follow_start(struct dp *dp, struct dp_store_core *c,
			    struct dp_partition *p, int64_t start)
{
	int64_t end = slog_end_offset(p->log);
	int32_t epoch = epc_latest(&p->epc);
	int64_t rc = slog_start_at(p->log, start, epoch);
	if (rc == SL_EFULL) {
		swriter_do_work(c->w);
		rc = slog_start_at(p->log, start, epoch);
	}
	if (rc == SL_EFULL)
		return SN_ERR_THROTTLING_QUOTA_EXCEEDED;
	if (rc < 0) {
		c->st.storage_errors++;
		return SN_ERR_KAFKA_STORAGE_ERROR;
	}
	epc_truncate_start(&p->epc, slog_start_offset(p->log));
	if (start > end) {
		idem_reset(&p->idem);
		idem_rebuild(dp, p);
		txn_rebuild(dp, p);
		dp_log("%s-%d: follower starts over at the leader's log start "
		       "%lld (its log ended at %lld)", p->topic->name,
		       p->index, (long long)start, (long long)end);
	}
	return 0;
}

/* The fetcher's batches, appended with the leader's offsets; answered
 * once durable (durable_cb), or at once when nothing was new. */
static void do_replica_append(struct dp *dp, struct dp_store_core *c,
			      struct dp_partition *p, struct dp_msg *m)
{
	const struct dp_replica_append *a = &m->rq.rappend;
	int16_t err = follower_check(p, a->state_epoch);
	int64_t end = slog_end_offset(p->log);
	if (!err && !p->rep_pending && a->start_over && a->fetch_offset > end) {
		/* at the first batch fetched: the leader's log start may be
		 * inside it */
		int64_t first = a->fetch_offset;
		if (m->req_len >= RB_LOG_OVERHEAD) {
			struct rb_header h;
			rb_header_decode(m->req, &h);
			if (h.base_offset < first)
				first = h.base_offset;
		}
		if (first > end) {
			err = follow_start(dp, c, p, first);
		} else if (first < end) {
			/* the batch begins inside our log: from there on
			 * ours is the leader's again */
			if (slog_truncate(p->log, first) < 0) {
				c->st.storage_errors++;
				err = SN_ERR_KAFKA_STORAGE_ERROR;
			} else {
				after_cut(dp, p);
			}
		}
		end = slog_end_offset(p->log);
	} else if (!err && (p->rep_pending || a->fetch_offset != end)) {
		err = SN_ERR_OFFSET_OUT_OF_RANGE;
	}
	if (err) {
		m->res.log_end_offset = end;
		answer_error(m, err);
		return;
	}
	size_t pos = 0;
	unsigned appended = 0;
	/* bounded: each step moves past one whole batch (the fetcher sent
	 * whole, validated batches) */
	while (pos + RB_LOG_OVERHEAD <= m->req_len) {
		struct rb_header h;
		rb_header_decode(m->req + pos, &h);
		size_t len = (size_t)RB_LOG_OVERHEAD + (size_t)h.length;
		if (h.length < 0 || len > m->req_len - pos)
			break;
		int64_t last = h.base_offset + h.last_offset_delta;
		if (last < slog_end_offset(p->log)) {
			pos += len;
			continue; /* had it already */
		}
		if (h.base_offset < slog_end_offset(p->log))
			break; /* straddles our end: not the leader's batches */
		struct slog_append_result res;
		int rc = slog_append_replica(p->log, m->req + pos, len, &res);
		if (rc == SL_EFULL) {
			swriter_do_work(c->w);
			rc = slog_append_replica(p->log, m->req + pos, len, &res);
		}
		if (rc < 0) {
			if (rc != SL_EFULL)
				c->st.storage_errors++;
			if (!appended) {
				m->res.log_end_offset = end;
				answer_error(m, rc == SL_EFULL ?
						 SN_ERR_THROTTLING_QUOTA_EXCEEDED :
						 SN_ERR_KAFKA_STORAGE_ERROR);
				return;
			}
			break; /* what went in is answered; fetched again */
		}
		idem_walk(p, &h, m->req + pos, len); /* txn_walk: epochs too */
		txn_walk(p, &h, m->req + pos, len);
		appended++;
		c->st.batches++;
		c->st.appends++;
		c->st.batch_bytes += len;
		p->batches++;
		p->bytes += len;
		pos += len;
	}
	int64_t now_end = slog_end_offset(p->log);
	/* the leader's log start, ours too where we have it (DeleteRecords
	 * and retention there reach every replica) */
	if (a->leader_start > slog_start_offset(p->log) &&
	    a->leader_start <= now_end)
		(void)follow_start(dp, c, p, a->leader_start); /* counted */
	int64_t hw = a->leader_hw < now_end ? a->leader_hw : now_end;
	if (hw > p->hw)
		p->hw = hw;
	p->high_watermark = p->hw;
	m->res.log_end_offset = now_end;
	m->res.error = 0;
	if (slog_durable_offset(p->log) >= now_end) {
		dp_complete(m);
		return;
	}
	slog_request_sync(p->log);
	p->rep_pending = m;
}

/* Returns 1 when m must wait (first in line, see do_produce). */
static int handle_msg(struct dp *dp, struct dp_store_core *c,
		      struct dp_partition *p, struct dp_msg *m)
{
	assert(m->part == p);
	if (!p->log) {
		answer_error(m, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		return 0;
	}
	switch (m->op) {
	case DP_PRODUCE:
		return do_produce(dp, c, p, m);
	case DP_FETCH:
		do_fetch(dp, c, p, m);
		break;
	case DP_LIST_OFFSETS:
		do_list(c, p, m);
		break;
	case DP_DELETE_RECORDS:
		do_delete_records(c, p, m);
		break;
	case DP_LOG_SIZE:
		do_log_size(c, p, m);
		break;
	case DP_PRODUCERS:
		do_producers(c, p, m);
		break;
	case DP_WRITE_MARKER:
		do_write_marker(dp, c, p, m);
		break;
	case DP_EPOCH_END:
		do_epoch_end(c, p, m);
		break;
	case DP_REPLICA_STATE:
		do_replica_state(p, m);
		break;
	case DP_REPLICA_TRUNCATE:
		do_replica_truncate(dp, c, p, m);
		break;
	case DP_REPLICA_APPEND:
		do_replica_append(dp, c, p, m);
		break;
	default:
		/* front-ends submit nothing else to a storage core */
		assert(!"storage core: unknown request");
		answer_error(m, SN_ERR_INVALID_REQUEST);
	}
	return 0;
}

/* ---- open / close ---- */

/*
 * Every batch of p's log from offset from to the end, in order, handed to
 * fn with its header and its first `have` bytes at b: the whole batch
 * when it is a control batch of at most DP_WALK_WHOLE_MAX bytes (a marker,
 * whose record key fn reads), else at least its RB_HEADER_BYTES.  Reads
 * the files in chunks of DP_WALK_CHUNK bytes.  Returns 0, or the first
 * error (the walk stops there).
 */
#define DP_WALK_CHUNK (16u << 10)
#define DP_WALK_WHOLE_MAX 1024u
typedef void (*walk_fn)(void *ctx, const struct rb_header *h,
			const uint8_t *b, size_t have);

static int log_walk(struct dp_partition *p, int64_t from, walk_fn fn,
		    void *ctx)
{
	uint8_t chunk[DP_WALK_CHUNK], whole[DP_WALK_WHOLE_MAX];
	int64_t end = slog_end_offset(p->log);
	int64_t off = from;
	/* bounded: each step moves past at least one batch */
	for (unsigned steps = 0; off < end && steps < (1u << 26); steps++) {
		struct slog_read_view v;
		int rc = slog_read(p->log, off, 4u << 20, end, &v);
		if (rc)
			return rc;
		if (v.len == 0)
			break;
		size_t pos = 0, cpos = 0, clen = 0; /* chunk: [cpos, +clen) */
		while (pos + RB_HEADER_BYTES <= v.len) {
			const uint8_t *b;
			size_t have;
			if (v.mem) {
				b = v.mem + pos;
				have = v.len - pos;
			} else {
				if (pos < cpos || pos + RB_HEADER_BYTES > cpos + clen) {
					size_t want = v.len - pos < sizeof(chunk) ?
							      v.len - pos : sizeof(chunk);
					ssize_t r = pread(v.fd, chunk, want,
							  (off_t)(v.file_pos + pos));
					if (r < (ssize_t)RB_HEADER_BYTES)
						return r < 0 ? -errno : -EIO;
					cpos = pos;
					clen = (size_t)r;
				}
				b = chunk + (pos - cpos);
				have = cpos + clen - pos;
			}
			struct rb_header h;
			rb_header_decode(b, &h);
			if (h.length < RB_HEADER_BYTES - RB_LOG_OVERHEAD)
				return SL_ECORRUPT; /* recovery would not keep it */
			size_t size = RB_LOG_OVERHEAD + (size_t)h.length;
			if (have > size)
				have = size;
			if (have < size && (h.attributes & RB_ATTR_CONTROL) &&
			    size <= sizeof(whole) && !v.mem) {
				if (pread(v.fd, whole, size,
					  (off_t)(v.file_pos + pos)) != (ssize_t)size)
					return -EIO;
				b = whole;
				have = size;
			}
			fn(ctx, &h, b, have);
			pos += size;
		}
		if (v.next_offset <= off)
			break;
		off = v.next_offset;
	}
	return 0;
}

/* The one record of control batch h when b holds it whole (have bytes):
 * true with *r. */
static bool control_record(const struct rb_header *h, const uint8_t *b,
			   size_t have, struct rb_record *r)
{
	struct rb_iter it;
	return have >= (size_t)RB_LOG_OVERHEAD + (size_t)h->length &&
	       !rb_iter_init(&it, b, have) && rb_iter_next(&it, r) == 1;
}

static void idem_walk(void *ctx, const struct rb_header *h, const uint8_t *b,
		      size_t have)
{
	struct dp_partition *p = ctx;
	/* a marker's base sequence is -1 and belongs to no sequence of the
	 * producer's: remembering it would refuse the producer's next batch
	 * of the same epoch as out of order; its epoch counts (idem_fence),
	 * and its coordinator epoch (a marker read whole: log_walk) */
	if (h->attributes & RB_ATTR_CONTROL) {
		struct rb_record r;
		int32_t coord = control_record(h, b, have, &r) ?
			txn_marker_coord_epoch(r.value, r.vlen) : -1;
		idem_fence(&p->idem, h->producer_id, h->producer_epoch, coord);
		return;
	}
	idem_record(&p->idem, h->producer_id, h->producer_epoch,
		    h->base_sequence,
		    idem_last_seq(h->base_sequence, h->last_offset_delta),
		    h->base_offset, h->base_offset + h->last_offset_delta);
}

/* Rebuild idempotence state from the last segment(s): every batch header
 * from the base offset of the second-to-last segment on. */
static void idem_rebuild(struct dp *dp, struct dp_partition *p)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%.3800s/%s-%d", dp->cfg.data_dir, p->topic->name,
		 p->index);
	int64_t bases[2] = { -1, -1 };
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			size_t l = strlen(e->d_name);
			if (l != 24 || strcmp(e->d_name + 20, ".log"))
				continue;
			int64_t b = strtoll(e->d_name, NULL, 10);
			if (b > bases[1]) {
				bases[0] = bases[1];
				bases[1] = b;
			} else if (b > bases[0]) {
				bases[0] = b;
			}
		}
		closedir(d);
	}
	int64_t off = bases[0] >= 0 ? bases[0] : bases[1];
	int64_t start = slog_start_offset(p->log);
	if (off < start)
		off = start;
	int rc = log_walk(p, off, idem_walk, p);
	if (rc)
		dp_log("%s-%d: producer state not read past an error: %s",
		       p->topic->name, p->index, sl_strerror(rc));
}

static void txn_walk(void *ctx, const struct rb_header *h, const uint8_t *b,
		     size_t have)
{
	struct dp_partition *p = ctx;
	int64_t last = h->base_offset + h->last_offset_delta;
	/* the leader epochs ride along: every batch carries its own */
	epc_assign(&p->epc, h->leader_epoch, h->base_offset);
	if (!(h->attributes & RB_ATTR_CONTROL)) {
		txn_part_on_batch(&p->txn, h->producer_id, h->producer_epoch,
				  h->attributes, h->base_offset, last);
		return;
	}
	/* a control batch: its one record's key says COMMIT or ABORT */
	struct rb_record r;
	int type;
	if (!control_record(h, b, have, &r) ||
	    txn_marker_key(r.key, r.klen, &type)) {
		p->txn_bad_markers++;
		return;
	}
	txn_part_on_marker(&p->txn, h->producer_id, h->producer_epoch, type,
			   last);
}

/* Rebuild p's transactions from its whole log (the aborted list must
 * cover every offset a consumer can read), then settle what is durable. */
static void txn_rebuild(struct dp *dp, struct dp_partition *p)
{
	txn_part_reset(&p->txn);
	epc_reset(&p->epc);
	int rc = log_walk(p, slog_start_offset(p->log), txn_walk, p);
	if (rc)
		dp_log("%s-%d: transactions not read past an error: %s",
		       p->topic->name, p->index, sl_strerror(rc));
	txn_part_durable(&p->txn, p->hw);
	/* a single broker leads at epoch 0 from the log start, batches or
	 * not (Kafka's cache gains the epoch when its leader starts) */
	if (!dp_clustered(dp) && epc_latest(&p->epc) < 0)
		epc_assign(&p->epc, 0, slog_start_offset(p->log));
}

/*
 * The high watermark checkpoint of a cluster's partition, as Kafka's
 * replication-offset-checkpoint: <dir>/high_watermark holds
 * "sluice-hw 1\n<offset>\n", rewritten (a new file renamed over it) at
 * most every DP_HW_SAVE_MS while the high watermark moves.  Without an
 * fsync: a checkpoint lost to a power cut, torn or absent, only means an
 * older one or none (0), and a checkpoint is never above what was
 * committed when it was written, so a restarted partition may serve up to
 * it at once (below its durable end) instead of waiting for its followers.
 */
static void hw_path(const struct dp *dp, const struct dp_partition *p,
		    const char *suffix, char *out, size_t cap)
{
	snprintf(out, cap, "%.3800s/%s-%d/%s%s", dp->cfg.data_dir,
		 p->topic->name, p->index, DP_HW_FILE, suffix);
}

static int64_t hw_load(const struct dp *dp, const struct dp_partition *p)
{
	char path[PATH_MAX], buf[64];
	hw_path(dp, p, "", path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	long long v;
	char end;
	if (sscanf(buf, "sluice-hw 1\n%lld%c", &v, &end) != 2 ||
	    end != '\n' || v < 0)
		return 0; /* torn or foreign: as if none */
	return (int64_t)v;
}

static void hw_save(struct dp *dp, struct dp_partition *p)
{
	char tmp[PATH_MAX], path[PATH_MAX], buf[64];
	hw_path(dp, p, ".tmp", tmp, sizeof(tmp));
	hw_path(dp, p, "", path, sizeof(path));
	int n = snprintf(buf, sizeof(buf), "sluice-hw 1\n%lld\n",
			 (long long)p->hw);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok = fd >= 0 && write(fd, buf, (size_t)n) == n;
	if (fd >= 0)
		close(fd);
	if (ok && rename(tmp, path) == 0) {
		p->hw_saved = p->hw;
		return;
	}
	/* not fatal: the next pass tries again; said once per partition */
	if (p->hw_saved != -2)
		dp_log("%s-%d: the high watermark checkpoint cannot be "
		       "written (%s): a restart waits for the followers "
		       "instead", p->topic->name, p->index, strerror(errno));
	p->hw_saved = -2;
}

static void log_line(void *ctx, int level, const char *line)
{
	struct dp_partition *p = ctx;
	dp_log("%s-%d: %s%s", p->topic->name, p->index,
	       level == 0 ? "error: " : level == 1 ? "warning: " : "", line);
}

static int part_open(struct dp *dp, struct dp_store_core *c,
		     struct dp_partition *p)
{
	if (c->nparts >= DP_CORE_MAX_PARTITIONS)
		return -ENOSPC;
	/* a partition is opened once, on the core it hashes to */
	assert(!p->log && p->core == c->id);
	struct slog_config lc;
	slog_config_defaults(&lc);
	struct dp_topic *t = p->topic;
	lc.topic = t->name;
	lc.partition = p->index;
	if (t->segment_bytes > 0)
		lc.segment_bytes = (uint64_t)t->segment_bytes;
	lc.retention_ms = t->retention_ms;
	lc.retention_bytes = t->retention_bytes;
	lc.durability = t->durability ? SLOG_SYNC_GROUP : SLOG_SYNC_EVERY_APPEND;
	lc.group_commit_bytes = dp->cfg.group_commit_bytes;
	lc.group_commit_us = dp->cfg.group_commit_us;
	lc.buffer_bytes = dp->cfg.log_buffer_bytes;
	lc.durable_cb = durable_cb;
	lc.written_cb = written_cb;
	lc.cb_ctx = p;
	lc.log_fn = log_line;
	lc.log_ctx = p;
	lc.clock = dp->clock;
	/* a cluster's log keeps its leader's offsets (storage/log.h) */
	lc.keep_offsets = dp_clustered(dp);
	int rc = idem_init(&p->idem, DP_IDEM_PRODUCERS);
	if (rc)
		return rc;
	txn_part_init(&p->txn);
	rc = slog_open(c->w, dp->cfg.data_dir, &lc, &p->log);
	if (rc == -EMFILE || rc == -ENFILE)
		dp_log("cannot open %s-%d: out of file descriptors (an idle "
		       "partition holds one per segment; raise LimitNOFILE "
		       "or ulimit -n)", t->name, p->index);
	if (rc) {
		idem_fini(&p->idem);
		p->log = NULL;
		return rc;
	}
	/* in a cluster no leader until control says, and the high
	 * watermark unknown (0) until this node leads and its followers
	 * fetched, or its leader tells it; alone: this node, epoch 0 */
	epc_init(&p->epc);
	isr_init_single(&p->isr, dp->cfg.node_id);
	p->hw = slog_durable_offset(p->log);
	p->hw_saved = -1;
	if (dp_clustered(dp)) {
		p->isr.leader = p->isr.leader_epoch = -1;
		p->isr.partition_epoch = -1;
		p->isr.nreplicas = p->isr.nisr = 0;
		/* the checkpoint, never past what this log holds */
		int64_t ck = hw_load(dp, p);
		int64_t end = slog_durable_offset(p->log);
		int64_t start = slog_start_offset(p->log);
		p->hw = ck < end ? ck : end;
		if (p->hw < start)
			p->hw = start;
		p->hw_saved = p->hw;
	}
	p->high_watermark = p->hw;
	idem_rebuild(dp, p);
	txn_rebuild(dp, p);
	p->sc = c;
	c->parts[c->nparts++] = p;
	if (c->nparts <= 64 || c->nparts % 1000 == 0)
		dp_log("opened %s-%d on storage core %u: offsets %lld..%lld "
		       "(%u partitions here)", t->name, p->index, c->id,
		       (long long)slog_start_offset(p->log),
		       (long long)slog_end_offset(p->log), c->nparts);
	return 0;
}

static void part_close(struct dp *dp, struct dp_store_core *c,
		       struct dp_partition *p)
{
	if (!p->log)
		return;
	if (c->cleaning == p)
		c->cleaning = NULL; /* slog_close abandons the pass */
	int rc = slog_close(p->log);
	if (rc)
		dp_log("closing %s-%d: %s", p->topic->name, p->index,
		       sl_strerror(rc));
	p->log = NULL;
	/* answers whatever still waits, including acks the close made
	 * durable (durable_cb ran inside slog_close) */
	while (p->acks_head) {
		struct dp_msg *m = p->acks_head;
		p->acks_head = m->next;
		produce_answer(m, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION, -1,
				-1, 0);
	}
	p->acks_tail = NULL;
	p->acks_pending = 0;
	while (p->w1_head) {
		struct dp_msg *m = p->w1_head;
		p->w1_head = m->next;
		produce_answer(m, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION, -1,
				-1, 0);
	}
	p->w1_tail = NULL;
	if (p->rep_pending) {
		answer_error(p->rep_pending, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		p->rep_pending = NULL;
	}
	recheck_parked(dp, c, p, 0);
	epc_fini(&p->epc);
	idem_fini(&p->idem);
	txn_part_fini(&p->txn);
	/* the partition stays in parts[] so its ring keeps being drained
	 * (answered UNKNOWN_TOPIC_OR_PARTITION) until DPC_FORGET */
}

/* A closed partition leaves the core: whatever reached its ring is
 * answered, and no pointer to it is kept (the net core no longer routes
 * to it: topics.c waits for that before sending this). */
static void part_forget(struct dp *dp, struct dp_store_core *c,
			struct dp_partition *p)
{
	part_close(dp, c, p);
	for (uint32_t k = 0; k < p->nstalled; k++)
		handle_msg(dp, c, p, p->stalled[k]); /* answered: no log */
	p->nstalled = 0;
	struct dp_ring *r = atomic_load_explicit(&p->ring,
						 memory_order_acquire);
	void *objs[DP_BURST];
	unsigned n;
	/* bounded: the ring holds at most ring_slots messages and nobody
	 * adds to it any more */
	for (unsigned k = 0; r && k < (1u << 20) / DP_BURST &&
	     (n = dp_ring_dequeue_burst(r, objs, DP_BURST)); k++)
		for (unsigned j = 0; j < n; j++)
			handle_msg(dp, c, p, objs[j]);
	for (uint32_t i = 0; i < c->nparts; i++) {
		if (c->parts[i] != p)
			continue;
		c->parts[i] = c->parts[--c->nparts];
		break;
	}
}

/* Control's new state for p (p->view; main waits meanwhile).  A node
 * that stops leading answers what waited on its leadership
 * NOT_LEADER_OR_FOLLOWER; one that starts leading stamps its epoch into
 * what it appends from now on. */
static int part_state(struct dp *dp, struct dp_store_core *c,
		      struct dp_partition *p)
{
	if (!p->log)
		return -ENOENT;
	const struct dp_pview *v = &p->view;
	bool was_leader = leads(p);
	int32_t was_epoch = p->isr.partition_epoch;
	int64_t end = slog_end_offset(p->log);
	int r = isr_apply(&p->isr, v->leader, v->leader_epoch,
			  v->partition_epoch, v->replicas, v->nreplicas, v->isr,
			  v->nisr, v->min_isr, end, dp_now_ns(dp));
	if (r < 0)
		return r;
	p->isr_asked_ns = 0;
	/* a new partition state answers the in-sync change asked for (or
	 * overtook it): the next one may be asked at once, as a second
	 * follower catching up on a reassignment is (the pause between
	 * requests is for those that get no answer) */
	if (v->partition_epoch != was_epoch)
		p->alter_after_ns = 0;
	if (r == 1) {
		slog_set_leader_epoch(p->log, v->leader_epoch);
		epc_assign(&p->epc, v->leader_epoch, end);
		p->alter_after_ns = 0;
		dp_log("%s-%d: leader at epoch %d from offset %lld (high "
		       "watermark %lld)", p->topic->name, p->index,
		       v->leader_epoch, (long long)end, (long long)p->hw);
	}
	if (was_leader && !leads(p)) {
		while (p->acks_head) {
			struct dp_msg *m = p->acks_head;
			p->acks_head = m->next;
			produce_answer(m, SN_ERR_NOT_LEADER_OR_FOLLOWER, -1, -1,
				       0);
		}
		p->acks_tail = NULL;
		p->acks_pending = 0;
		recheck_parked(dp, c, p, 0);
		dp_log("%s-%d: follows %d at epoch %d", p->topic->name,
		       p->index, v->leader, v->leader_epoch);
	}
	repl_advance(c, p);
	/* a follower that caught up while the last change was being
	 * decided (a reassignment adding two) is asked in now, not at its
	 * next fetch, which the leader may hold for its max wait */
	if (leads(p) && v->partition_epoch != was_epoch && r != 1) {
		uint64_t now = dp_now_ns(dp);
		for (unsigned i = 0; i < p->isr.nreplicas; i++)
			if (p->isr.r[i].node != p->isr.self)
				try_expand(dp, p, p->isr.r[i].node, now);
	}
	return 0;
}

/* A leader's in-sync followers that have not caught up within
 * replica_lag_time_max_ms: ask control to drop them. */
static void check_isr(struct dp *dp, struct dp_partition *p, uint64_t now)
{
	if (p->isr_asked_ns && p->log && leads(p) &&
	    now >= p->isr_asked_ns + 2000000000ull) {
		/* asked in, and no new state since: the answer may be lost
		 * (this broker cut off from the controller) as well as a
		 * refusal, and the controller may have taken the replica
		 * in and may make it leader, so it stays counted (Kafka's
		 * maximal in-sync set, KIP-497) and is asked for again
		 * until a new state settles it.  Taking it back here let a
		 * leader cut off from the controller expose, and with
		 * min.insync.replicas 1 acknowledge, what that replica
		 * lacked (tests/dataplane/replication_sim_test.c found
		 * it). */
		if (alter_isr(dp, p, p->isr.isr, p->isr.nisr, now))
			p->isr_asked_ns = now;
	}
	if (!p->log || !leads(p) || p->isr.nisr <= 1 || now < p->alter_after_ns)
		return;
	int32_t isr[ISR_REPLICAS_MAX];
	uint8_t n = 0;
	if (isr_shrink(&p->isr, now,
		       dp->cfg.replica_lag_time_max_ms * 1000000ull, isr, &n) > 0)
		alter_isr(dp, p, isr, n, now);
}

/* DPC_WIPE (dp.h). */
static int part_wipe(struct dp *dp, struct dp_store_core *c,
		     struct dp_partition *p)
{
	if (!p->log)
		return -ENOENT;
	int64_t start = slog_start_offset(p->log);
	int64_t end = slog_end_offset(p->log);
	if (start == 0 && end == 0)
		return 0; /* nothing here */
	part_close(dp, c, p);
	/* part_open adds it to parts[] again */
	for (uint32_t i = 0; i < c->nparts; i++)
		if (c->parts[i] == p) {
			c->parts[i] = c->parts[--c->nparts];
			break;
		}
	char err[PATH_MAX + 128];
	const struct dp_topic *t = p->topic;
	int rc = pdir_remove(&sdisk_posix, dp->cfg.data_dir, t->name,
			     p->index, t->id, err, sizeof(err));
	if (rc >= 0)
		rc = pdir_claim(&sdisk_posix, dp->cfg.data_dir, t->name,
				p->index, t->id, err, sizeof(err));
	if (rc < 0)
		dp_log("%s-%d: its copy cannot be removed: %s", t->name,
		       p->index, err);
	else
		dp_log("%s-%d: not a replica here any more: its copy "
		       "(offsets %lld..%lld) removed", t->name, p->index,
		       (long long)start, (long long)end);
	/* an empty log either way (over the old files when they could not
	 * be removed: they are opened as they are) */
	int orc = part_open(dp, c, p);
	return rc < 0 ? rc : orc < 0 ? orc : 1;
}

static void run_cmd(struct dp *dp, struct dp_store_core *c)
{
	/* acquire: pairs with dp_store_cmd's release store of the command */
	struct dp_cmd *cmd = atomic_load_explicit(&c->cmd, memory_order_acquire);
	if (!cmd)
		return;
	atomic_store_explicit(&c->cmd, NULL, memory_order_relaxed);
	if (cmd->op == DPC_OPEN)
		cmd->rc = part_open(dp, c, cmd->part);
	else if (cmd->op == DPC_FORGET)
		part_forget(dp, c, cmd->part), cmd->rc = 0;
	else if (cmd->op == DPC_STATE)
		cmd->rc = part_state(dp, c, cmd->part);
	else if (cmd->op == DPC_WIPE)
		cmd->rc = part_wipe(dp, c, cmd->part);
	else
		part_close(dp, c, cmd->part), cmd->rc = 0;
	/* release: the result and the partition state are visible to main
	 * when it sees done; pairs with its acquire load */
	atomic_store_explicit(&cmd->done, 1, memory_order_release);
}

int dp_store_cmd(struct dp *dp, uint32_t core, int op, struct dp_partition *p)
{
	struct dp_store_core *c = dp->store[core];
	struct dp_cmd cmd = { .op = op, .part = p };
	atomic_init(&cmd.done, 0);
	/* release: cmd's fields before the pointer; pairs with run_cmd */
	atomic_store_explicit(&c->cmd, &cmd, memory_order_release);
	dp_wake_fd(c->wake_fd);
	/* bounded: opening a log recovers at most a few segments */
	for (unsigned i = 0; i < 600000; i++) {
		if (atomic_load_explicit(&cmd.done, memory_order_acquire))
			return cmd.rc;
		usleep(100);
	}
	dp_log("storage core %u did not answer a command in 60 s", core);
	abort();
}

/* ---- the loop ---- */

static void refresh_counters(struct dp_partition *p)
{
	if (!p->log)
		return;
	p->start_offset = slog_start_offset(p->log);
	p->end_offset = slog_end_offset(p->log);
	p->durable_offset = slog_durable_offset(p->log);
	slog_get_stats(p->log, &p->log_stats);
	struct dp_ring *r = atomic_load_explicit(&p->ring,
						 memory_order_acquire);
	if (!r)
		return;
	p->ring_occupancy = dp_ring_count(r);
	/* relaxed: a statistic */
	p->ring_drops = atomic_load_explicit(&r->full_drops,
					     memory_order_relaxed);
}

static void check_ack_timeouts(struct dp *dp, struct dp_store_core *c,
			       struct dp_partition *p, uint64_t now)
{
	/* timeouts are not ordered by offset; answer expired heads only so
	 * the list stays in offset order (later ones wait their turn) */
	while (p->acks_head && now >= p->acks_head->deadline_ns) {
		struct dp_msg *m = p->acks_head;
		p->acks_head = m->next;
		assert(p->acks_pending > 0);
		p->acks_pending--;
		c->st.timeouts++;
		produce_answer(m, SN_ERR_REQUEST_TIMED_OUT, -1, -1, 0);
	}
	if (!p->acks_head)
		p->acks_tail = NULL;
	while (p->w1_head && now >= p->w1_head->deadline_ns) {
		struct dp_msg *m = p->w1_head;
		p->w1_head = m->next;
		c->st.timeouts++;
		produce_answer(m, SN_ERR_REQUEST_TIMED_OUT, -1, -1, 0);
	}
	if (!p->w1_head)
		p->w1_tail = NULL;
}

/* ---- compaction ---- */

static uint8_t cleanup_policy(const struct dp_partition *p)
{
	/* relaxed: see dp_topic */
	return atomic_load_explicit(&p->topic->cleanup_policy,
				    memory_order_relaxed);
}

/* One bounded step of log compaction: on the partition a pass is under way
 * on, else on the next compacted partition whose check is due.  Returns 1
 * when it did cleaning I/O. */
static int clean_step(struct dp_store_core *c, uint64_t now, uint64_t budget)
{
	struct dp_partition *p = c->cleaning;
	for (uint32_t k = 0; !p && k < DP_CLEAN_SCAN_MAX && k < c->nparts;
	     k++) {
		if (c->clean_next >= c->nparts)
			c->clean_next = 0;
		struct dp_partition *q = c->parts[c->clean_next++];
		if (q->log && (cleanup_policy(q) & SN_CLEANUP_COMPACT) &&
		    now >= q->clean_check_ns)
			p = q;
	}
	if (!p)
		return 0;
	assert(p->log && p->sc == c);
	struct dp_topic *t = p->topic;
	struct slog_clean_config cc;
	uint64_t bits = atomic_load_explicit(&t->clean_dirty_ratio_bits,
					     memory_order_relaxed);
	memcpy(&cc.min_cleanable_dirty_ratio, &bits, sizeof(bits));
	cc.min_compaction_lag_ms = atomic_load_explicit(&t->clean_min_lag_ms,
							memory_order_relaxed);
	cc.max_compaction_lag_ms = atomic_load_explicit(&t->clean_max_lag_ms,
							memory_order_relaxed);
	cc.delete_retention_ms = atomic_load_explicit(
		&t->clean_delete_retention_ms, memory_order_relaxed);
	struct slog_clean_progress prog = {0};
	int rc = slog_clean(c->cleaner, p->log, &cc, budget, &prog);
	c->st.cleaner_calls++;
	if (rc < 0) {
		c->st.cleaner_errors++;
		c->cleaning = NULL;
		p->clean_check_ns = now + DP_CLEAN_ERROR_BACKOFF_MS * 1000000ull;
		dp_log("%s-%d: compaction stopped for %d s: %s", t->name,
		       p->index, DP_CLEAN_ERROR_BACKOFF_MS / 1000,
		       sl_strerror(rc));
		return 0;
	}
	c->cleaning = prog.in_pass ? p : NULL;
	if (!prog.in_pass)
		p->clean_check_ns = now + DP_CLEAN_CHECK_MS * 1000000ull;
	return rc > 0;
}

/* One duty cycle (bounded): a command, the rings, the writer, deadlines,
 * retention, a step of compaction.  Returns the work done; 0 when idle. */
int dp_store_step(struct dp_store_core *c)
{
	struct dp *dp = c->dp;
	int work = 0;
	c->st.loops++;
	run_cmd(dp, c);
	for (uint32_t i = 0; i < c->nparts; i++) {
		struct dp_partition *p = c->parts[i];
		/* messages held behind a stalled produce go first,
		 * in order; the ring waits until they are gone */
		while (p->nstalled) {
			if (handle_msg(dp, c, p, p->stalled[0]))
				break;
			p->nstalled--;
			memmove(p->stalled, p->stalled + 1,
				p->nstalled * sizeof(p->stalled[0]));
			work++;
		}
		if (p->nstalled)
			continue;
		void *objs[DP_BURST];
		/* acquire: pairs with dp_part_ring's CAS */
		struct dp_ring *r = atomic_load_explicit(
			&p->ring, memory_order_acquire);
		if (!r)
			continue;
		unsigned n = dp_ring_dequeue_burst(r, objs, DP_BURST);
		for (unsigned k = 0; k < n; k++) {
			if (!handle_msg(dp, c, p, objs[k]))
				continue;
			/* stalled: it and the rest of the burst wait */
			assert(n - k <= DP_BURST);
			p->nstalled = n - k;
			memcpy(p->stalled, objs + k,
			       p->nstalled * sizeof(objs[0]));
			break;
		}
		work += (int)n;
	}
	int w = swriter_do_work(c->w);
	if (w > 0)
		work += w;
	uint64_t now = dp_now_ns(dp);
	if (work || now >= c->next_tick_ns) {
		for (uint32_t i = 0; i < c->nparts; i++) {
			struct dp_partition *p = c->parts[i];
			if (p->parked)
				recheck_parked(dp, c, p, now);
			if (p->acks_head || p->w1_head)
				check_ack_timeouts(dp, c, p, now);
			if (p->isr.nisr > 1 || p->isr_asked_ns)
				check_isr(dp, p, now);
		}
		/* counters for telemetry: up to 256 partitions per
		 * tick, round robin (every one each tick when there
		 * are fewer; within 40 ms with 10,000) */
		for (uint32_t k = 0; k < 256 && k < c->nparts; k++) {
			if (c->refresh_next >= c->nparts)
				c->refresh_next = 0;
			refresh_counters(c->parts[c->refresh_next++]);
		}
		swriter_get_stats(c->w, &c->st.pool);
		scleaner_get_stats(c->cleaner, &c->st.cleaner);
		c->next_tick_ns = now + 1000000ull; /* 1 ms */
	}
	if (now >= c->next_retention_ns) {
		for (uint32_t i = 0; i < c->nparts; i++) {
			struct dp_partition *p = c->parts[i];
			/* cleanup.policy=compact alone: no retention */
			if (!p->log || !(cleanup_policy(p) & SN_CLEANUP_DELETE))
				continue;
			/* relaxed: see dp_topic */
			slog_set_retention(p->log,
				atomic_load_explicit(&p->topic->live_retention_ms,
						     memory_order_relaxed),
				atomic_load_explicit(&p->topic->live_retention_bytes,
						     memory_order_relaxed));
			int r = slog_apply_retention(p->log);
			if (r > 0)
				txn_part_trim(&p->txn,
					      slog_start_offset(p->log));
			if (r > 0) {
				c->st.segments_deleted += (uint64_t)r;
				dp_log("%s-%d: retention deleted %d "
				       "segment(s)", p->topic->name,
				       p->index, r);
			}
		}
		c->st.retention_runs++;
		c->next_retention_ns = now +
			dp->cfg.retention_check_ms * 1000000ull;
	}
	if (dp_clustered(dp) && now >= c->next_hw_save_ns) {
		for (uint32_t i = 0; i < c->nparts; i++) {
			struct dp_partition *p = c->parts[i];
			if (p->log && p->hw != p->hw_saved)
				hw_save(dp, p);
		}
		c->next_hw_save_ns = now + DP_HW_SAVE_MS * 1000000ull;
	}
	if (!work || now >= c->next_clean_ns) {
		work += clean_step(c, now, work ? DP_CLEAN_BUSY_BYTES
						: DP_CLEAN_IDLE_BYTES);
		c->next_clean_ns = now + DP_CLEAN_BUSY_EVERY_MS * 1000000ull;
	}
	return work;
}

static void *store_main(void *arg)
{
	struct dp_store_core *c = arg;
	struct dp *dp = c->dp;
	unsigned idle = 0;
	while (!atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
		if (dp_store_step(c)) {
			idle = 0;
			continue;
		}
		if (++idle < 200)
			continue;
		c->st.idle_waits++;
		/* I/O in flight (acks waiting for durability): wait on the
		 * ring briefly; else sleep on the eventfd */
		int inflight = 0;
		for (uint32_t i = 0; i < c->nparts && !inflight; i++) {
			struct dp_partition *p = c->parts[i];
			inflight = p->log && (p->acks_head || p->w1_head ||
					      p->nstalled ||
					      slog_durable_offset(p->log) <
						      slog_end_offset(p->log));
		}
		if (inflight) {
			swriter_wait(c->w, 200);
			continue;
		}
		/* seq_cst: pairs with dp_store_wake's load (see there) */
		atomic_store(&c->sleeping, 1);
		int pending = atomic_load_explicit(&c->cmd,
						   memory_order_relaxed) != NULL;
		for (uint32_t i = 0; i < c->nparts && !pending; i++) {
			struct dp_ring *r = atomic_load_explicit(
				&c->parts[i]->ring, memory_order_acquire);
			pending = r && dp_ring_count(r) > 0;
		}
		if (!pending) {
			int timeout_ms = c->parked ? 1 : 100;
			struct pollfd pfd = { c->wake_fd, POLLIN, 0 };
			if (poll(&pfd, 1, timeout_ms) > 0) {
				uint64_t v;
				if (read(c->wake_fd, &v, sizeof(v)) < 0) {
					/* EAGAIN: someone else drained it */
				}
			}
		}
		atomic_store(&c->sleeping, 0);
		idle = 0;
	}
	/* clean shutdown: the cleaner first (it abandons its pass on a log
	 * that is still open), then every log so the next open is clean */
	scleaner_destroy(c->cleaner);
	c->cleaner = NULL;
	c->cleaning = NULL;
	for (uint32_t i = 0; i < c->nparts; i++)
		part_close(dp, c, c->parts[i]);
	for (uint32_t i = 0; i < c->nparts; i++) {
		struct dp_partition *p = c->parts[i];
		for (uint32_t k = 0; k < p->nstalled; k++)
			dp_msg_free(p->stalled[k]);
		p->nstalled = 0;
	}
	for (uint32_t i = 0; i < c->nparts; i++) {
		/* answer (or free) whatever is still in the rings */
		void *objs[DP_BURST];
		unsigned n;
		struct dp_ring *r = atomic_load_explicit(&c->parts[i]->ring,
							 memory_order_acquire);
		for (unsigned k = 0; r && k < 1024 &&
		     (n = dp_ring_dequeue_burst(r, objs, DP_BURST));
		     k++)
			for (unsigned j = 0; j < n; j++)
				dp_msg_free(objs[j]);
	}
	swriter_destroy(c->w);
	c->w = NULL;
	return NULL;
}

int dp_store_create(struct dp *dp, uint32_t id)
{
	struct dp_store_core *c;
	if (posix_memalign((void **)&c, 64, sizeof(*c)))
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->dp = dp;
	c->parts = calloc(DP_CORE_MAX_PARTITIONS, sizeof(*c->parts));
	if (!c->parts) {
		free(c);
		return -ENOMEM;
	}
	atomic_init(&c->sleeping, 0);
	atomic_init(&c->cmd, NULL);
	c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->wake_fd < 0) {
		int err = -errno;
		free(c->parts);
		free(c);
		return err;
	}
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	wc.max_logs = DP_CORE_MAX_PARTITIONS;
	/* this core's share of the pool, at least one buffer */
	uint64_t share = dp->cfg.log_buffer_pool_bytes / dp->nstore;
	if (share < dp->cfg.log_buffer_bytes)
		share = dp->cfg.log_buffer_bytes;
	uint64_t nbuf = share / dp->cfg.log_buffer_bytes;
	wc.buffers = nbuf > 4096 ? 4096 : (unsigned)nbuf;
	wc.buffer_pool_bytes = share;
	int rc = swriter_create(&wc, &c->w);
	if (rc) {
		close(c->wake_fd);
		free(c->parts);
		free(c);
		return rc;
	}
	struct scleaner_config cc;
	scleaner_config_defaults(&cc);
	cc.io_bytes_per_sec = dp->cfg.cleaner_io_bytes_per_sec;
	cc.clock = dp->clock;
	rc = scleaner_create(&cc, &c->cleaner);
	if (rc) {
		swriter_destroy(c->w);
		close(c->wake_fd);
		free(c->parts);
		free(c);
		return rc;
	}
	c->next_retention_ns = dp_now_ns(dp) +
			       dp->cfg.retention_check_ms * 1000000ull;
	dp->store[id] = c;
	return 0;
}

int dp_store_start(struct dp *dp, uint32_t id)
{
	int rc = dp_store_create(dp, id);
	if (rc)
		return rc;
	struct dp_store_core *c = dp->store[id];
	rc = pthread_create(&c->thread, NULL, store_main, c);
	if (rc) {
		scleaner_destroy(c->cleaner);
		swriter_destroy(c->w);
		close(c->wake_fd);
		dp->store[id] = NULL;
		free(c->parts);
		free(c);
		return -rc;
	}
	char name[16];
	snprintf(name, sizeof(name), "sl-store%u", id);
	pthread_setname_np(c->thread, name);
	return 0;
}

void dp_store_join(struct dp *dp, uint32_t id)
{
	struct dp_store_core *c = dp->store[id];
	if (!c)
		return;
	dp_wake_fd(c->wake_fd);
	pthread_join(c->thread, NULL);
}
