/*
 * Transactions on the partition side, byte by byte against the real broker
 * (suite 'integration'): sluiced and sluice-control started by
 * tests/lib/broker.h, requests built and answers read with the codec.
 *   - two transactional producers (A, B) and a plain one write to one
 *     partition; while both transactions are open, Fetch at isolation 1
 *     (v4 and v17, the lowest and highest that carry the last stable
 *     offset) returns nothing and the LSO is A's first offset, ListOffsets
 *     latest at isolation 1 answers it too;
 *   - WriteTxnMarkers v0 aborts A (an unknown topic in the same request is
 *     UNKNOWN_TOPIC_OR_PARTITION): read_committed reads up to B's first
 *     offset with A in the aborted list; WriteTxnMarkers v2 with an older
 *     epoch of B, or B's epoch at transaction version 2 (KIP-1228: it
 *     must be newer), is INVALID_PRODUCER_EPOCH, with B's own epoch at
 *     version 1 commits: every
 *     batch readable, the control batches as Kafka writes them, the
 *     aborted list only where the fetch overlaps A;
 *   - a control batch produced by a client is INVALID_RECORD;
 *   - A opens another transaction, sluiced is killed (SIGKILL) and
 *     started again: the same answers (the state read back from the log),
 *     then A's abort adds to the list.
 * Exit 77 when binaries are missing.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "kwire.h"
#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h"
#include "proto/topic_uuid.h"

static struct tb b;
static int conn = -1;
static uint8_t uuid[16]; /* of "tx" */

#define PID_A ((INT64_C(1) << 40) + 7)
#define PID_B ((INT64_C(1) << 40) + 8)
#define EPOCH_B 1
#define TS0 1700000000000LL

/* A batch of count records of producer pid (-1: plain) with attributes
 * attr (the CRC made for them) into buf: its size. */
static long batch(uint8_t *buf, size_t cap, int64_t pid, int16_t epoch,
		  int32_t seq, int count, int16_t attr)
{
	struct rb_builder rb;
	rb_builder_init(&rb, buf, cap, TS0);
	if (pid >= 0)
		rb_builder_set_producer(&rb, pid, epoch, seq);
	for (int i = 0; i < count; i++)
		if (rb_builder_add(&rb, "k", 1, "v", 1, TS0 + i))
			return -1;
	long len = rb_builder_finish(&rb);
	if (len < 0)
		return len;
	rb_put16(buf + RB_OFF_ATTRIBUTES, (uint16_t)attr);
	rb_put32(buf + RB_OFF_CRC,
		 rb_crc32c(buf + RB_CRC_START, (size_t)len - RB_CRC_START));
	return len;
}

/* Produce v11 of one batch to tx-0: its error (and *base), or -1. */
static int produce(const char *txn_id, const uint8_t *rec, long len,
		   int64_t *base)
{
	struct kc_produce_req_partition pp = { 0, { rec, (int32_t)len } };
	struct kc_produce_req_topic pt = { { "tx", 2 }, { { 0 } }, { &pp, 1 } };
	struct kc_produce_req q = {
		{ txn_id, txn_id ? (int32_t)strlen(txn_id) : -1 }, -1, 5000,
		{ &pt, 1 } };
	union kc_response r;
	if (kw_call(conn, KC_API_PRODUCE, 11, &q, &r))
		return -1;
	const struct kc_produce_resp *pr = (const void *)&r;
	if (pr->responses.count != 1)
		return -1;
	const struct kc_produce_resp_topic *t = pr->responses.items;
	if (t->partition_responses.count != 1)
		return -1;
	const struct kc_produce_resp_partition *p =
		t->partition_responses.items;
	*base = p->base_offset;
	return p->error_code;
}

static int produce_ok(const char *txn_id, int64_t pid, int16_t epoch,
		      int32_t seq, int count, int16_t attr, int64_t want_base)
{
	static uint8_t buf[4096];
	int64_t base = -2;
	long len = batch(buf, sizeof(buf), pid, epoch, seq, count, attr);
	CHECK(len > 0);
	int err = produce(txn_id, buf, len, &base);
	if (err || base != want_base)
		fprintf(stderr, "produce: error %d base %lld, want %lld\n",
			err, (long long)base, (long long)want_base);
	CHECK(err == 0 && base == want_base);
	return 0;
}

/* What a fetch answered about tx-0, the batches parsed. */
struct fetched {
	int16_t error;
	int64_t hw, lso;
	int32_t naborted;      /* -1: null */
	struct kc_fetch_aborted_txn aborted[8];
	int nbatches;
	struct {
		int64_t base, last, pid;
		int16_t attr;
		int marker;    /* control batches: 0 ABORT, 1 COMMIT; -1 */
		int32_t coordinator_epoch;
	} b[32];
};

/* Fetch of tx-0 from offset at version v and isolation level iso. */
static int fetch(int16_t v, int8_t iso, int64_t offset, struct fetched *f)
{
	struct kc_fetch_req_partition fp = { .partition = 0,
					     .current_leader_epoch = -1,
					     .fetch_offset = offset,
					     .last_fetched_epoch = -1,
					     .log_start_offset = -1,
					     .partition_max_bytes = 1 << 20 };
	struct kc_fetch_req_topic ft = { .topic = { "tx", 2 },
					 .partitions = { &fp, 1 } };
	memcpy(ft.topic_id.b, uuid, 16);
	struct kc_fetch_req q = { .replica_id = -1, .max_wait_ms = 0,
				  .min_bytes = 0, .max_bytes = 50 << 20,
				  .isolation_level = iso,
				  .session_epoch = -1, .topics = { &ft, 1 },
				  .forgotten_topics_data = { NULL, 0 },
				  .rack_id = { "", 0 },
				  .cluster_id = { NULL, -1 },
				  .replica_state = { -1, -1 } };
	union kc_response r;
	CHECK(kw_call(conn, KC_API_FETCH, v, &q, &r) == 0);
	const struct kc_fetch_resp *fr = (const void *)&r;
	CHECK(fr->error_code == 0 && fr->responses.count == 1);
	const struct kc_fetch_resp_topic *t = fr->responses.items;
	CHECK(t->partitions.count == 1);
	const struct kc_fetch_resp_partition *p = t->partitions.items;
	memset(f, 0, sizeof(*f));
	f->error = p->error_code;
	f->hw = p->high_watermark;
	f->lso = p->last_stable_offset;
	f->naborted = p->aborted_transactions.count;
	CHECK(f->naborted <= 8);
	if (f->naborted > 0)
		memcpy(f->aborted, p->aborted_transactions.items,
		       (size_t)f->naborted * sizeof(f->aborted[0]));
	const uint8_t *s = p->records.ptr, *end = s + (p->records.len > 0 ?
						      p->records.len : 0);
	while (s < end) {
		CHECK(f->nbatches < 32 && end - s >= RB_HEADER_BYTES);
		long bl = rb_frame_size(s, (size_t)(end - s), (size_t)(end - s));
		CHECK(bl > 0);
		struct rb_header h;
		rb_header_decode(s, &h);
		CHECK(rb_crc32c(s + RB_CRC_START, (size_t)bl - RB_CRC_START) ==
		      h.crc);
		int k = f->nbatches++;
		f->b[k].base = h.base_offset;
		f->b[k].last = h.base_offset + h.last_offset_delta;
		f->b[k].pid = h.producer_id;
		f->b[k].attr = h.attributes;
		f->b[k].marker = -1;
		f->b[k].coordinator_epoch = -1;
		if (h.attributes & RB_ATTR_CONTROL) {
			/* one record: key int16 0 + int16 type, value int16
			 * 0 + int32 coordinator epoch; base sequence -1 */
			struct rb_iter it;
			struct rb_record rec;
			CHECK(h.record_count == 1 && h.base_sequence == -1);
			CHECK(rb_iter_init(&it, s, (size_t)bl) == 0);
			CHECK(rb_iter_next(&it, &rec) == 1);
			CHECK(rec.klen == 4 && rb_be16(rec.key) == 0);
			CHECK(rec.vlen == 6 && rb_be16(rec.value) == 0);
			f->b[k].marker = rb_be16(rec.key + 2);
			f->b[k].coordinator_epoch =
				(int32_t)rb_be32(rec.value + 2);
		}
		s += bl;
	}
	return 0;
}

/* ListOffsets v2 latest of tx-0 at isolation iso: the offset, or -2. */
static int64_t latest(int8_t iso)
{
	struct kc_list_offsets_req_partition lp = { 0, -1, -1, 1 };
	struct kc_list_offsets_req_topic lt = { { "tx", 2 }, { &lp, 1 } };
	struct kc_list_offsets_req q = { -1, iso, { &lt, 1 }, 1000 };
	union kc_response r;
	if (kw_call(conn, KC_API_LIST_OFFSETS, 2, &q, &r) ||
	    r.list_offsets.topics.count != 1)
		return -2;
	const struct kc_list_offsets_resp_topic *t = r.list_offsets.topics.items;
	const struct kc_list_offsets_resp_partition *p = t->partitions.items;
	if (t->partitions.count != 1 || p->error_code)
		return -2;
	return p->offset;
}

/* One WriteTxnMarkers marker's answer, flattened: (topic, partition,
 * error) in order. */
struct marker_answer {
	int n;
	struct {
		char topic[8];
		int32_t partition;
		int16_t error;
	} e[8];
	int64_t pid[4];
	int npid;
};

/* WriteTxnMarkers v with the markers given (each to the topics and
 * partitions it names). */
static int markers(int16_t v,
		   const struct kc_write_txn_markers_req_writable_txn_marker *ms,
		   int count, struct marker_answer *a)
{
	struct kc_write_txn_markers_req q = { { (void *)ms, count } };
	union kc_response r;
	CHECK(kw_call(conn, KC_API_WRITE_TXN_MARKERS, v, &q, &r) == 0);
	const struct kc_write_txn_markers_resp *wr = (const void *)&r;
	memset(a, 0, sizeof(*a));
	CHECK(wr->markers.count == count && count <= 4);
	const struct kc_write_txn_markers_resp_writable_txn_marker_result *mr =
		wr->markers.items;
	for (int i = 0; i < count; i++) {
		a->pid[a->npid++] = mr[i].producer_id;
		const struct kc_write_txn_markers_resp_writable_txn_marker_topic_result
			*ts = mr[i].topics.items;
		for (int j = 0; j < mr[i].topics.count; j++) {
			const struct kc_write_txn_markers_resp_writable_txn_marker_partition_result
				*ps = ts[j].partitions.items;
			for (int k = 0; k < ts[j].partitions.count; k++) {
				CHECK(a->n < 8 && ts[j].name.len < 8);
				memcpy(a->e[a->n].topic, ts[j].name.ptr,
				       (size_t)ts[j].name.len);
				a->e[a->n].partition = ps[k].partition_index;
				a->e[a->n].error = ps[k].error_code;
				a->n++;
			}
		}
	}
	return 0;
}

static const int32_t part0 = 0;

/* DescribeProducers v0 of tx-0: producer pid's state into *out; 0, 1
 * when the producer is not listed, -1 on a failed call. */
static int producer_of(int64_t pid,
		       struct kc_describe_producers_resp_producer_state *out)
{
	union kc_response u;
	int32_t parts[1] = { part0 };
	struct kc_describe_producers_req_topic_request dt = {
		{ "tx", 2 }, { parts, 1 } };
	struct kc_describe_producers_req q = { { &dt, 1 } };
	if (kw_call(conn, KC_API_DESCRIBE_PRODUCERS, 0, &q, &u))
		return -1;
	const struct kc_describe_producers_resp *r = (const void *)&u;
	if (r->topics.count != 1)
		return -1;
	const struct kc_describe_producers_resp_topic_response *t =
		r->topics.items;
	if (t->partitions.count != 1)
		return -1;
	const struct kc_describe_producers_resp_partition_response *p =
		t->partitions.items;
	const struct kc_describe_producers_resp_producer_state *st =
		p->active_producers.items;
	for (int32_t i = 0; i < p->active_producers.count; i++)
		if (st[i].producer_id == pid) {
			*out = st[i];
			return 0;
		}
	return 1;
}

/* Producer pid's CurrentTxnStartOffset (-2 when it is not listed, -3 on
 * a failed call). */
static int64_t txn_start(int64_t pid)
{
	struct kc_describe_producers_resp_producer_state st;
	int rc = producer_of(pid, &st);
	return rc < 0 ? -3 : rc ? -2 : st.current_txn_start_offset;
}

/* Producer pid's coordinator epoch (-2 when it is not listed, -3 on a
 * failed call). */
static int32_t coord_epoch(int64_t pid)
{
	struct kc_describe_producers_resp_producer_state st;
	int rc = producer_of(pid, &st);
	return rc < 0 ? -3 : rc ? -2 : st.coordinator_epoch;
}

/* While A (offsets 0-1) and B (2) are open, with a plain batch at 3. */
static int t_open(void)
{
	CHECK(produce_ok("ta", PID_A, 0, 0, 2, RB_ATTR_TRANSACTIONAL, 0) == 0);
	CHECK(produce_ok("tb", PID_B, EPOCH_B, 0, 1, RB_ATTR_TRANSACTIONAL,
			 2) == 0);
	CHECK(produce_ok(NULL, -1, -1, -1, 1, 0, 3) == 0);
	struct fetched f;
	for (int16_t v = 4; v <= 17; v += 13) {
		CHECK(fetch(v, 1, 0, &f) == 0);
		CHECK(f.error == 0 && f.hw == 4 && f.lso == 0);
		CHECK(f.nbatches == 0 && f.naborted == 0);
		/* read_uncommitted: everything, the LSO still said, the
		 * aborted list null */
		CHECK(fetch(v, 0, 0, &f) == 0);
		CHECK(f.error == 0 && f.hw == 4 && f.lso == 0);
		CHECK(f.nbatches == 3 && f.naborted == -1);
		CHECK(f.b[0].attr == RB_ATTR_TRANSACTIONAL &&
		      f.b[0].pid == PID_A && f.b[2].attr == 0);
	}
	CHECK(latest(1) == 0);
	CHECK(latest(0) == 4);
	/* DescribeProducers: where each open transaction began */
	CHECK(txn_start(PID_A) == 0);
	CHECK(txn_start(PID_B) == 2);
	return 0;
}

/* A aborted by WriteTxnMarkers v0 (marker at 4), with a partition that
 * does not exist in the same marker. */
static int t_abort_a(void)
{
	struct kc_write_txn_markers_req_writable_txn_marker_topic tp[2] = {
		{ { "tx", 2 }, { (void *)&part0, 1 } },
		{ { "nope", 4 }, { (void *)&part0, 1 } },
	};
	struct kc_write_txn_markers_req_writable_txn_marker m = {
		.producer_id = PID_A, .producer_epoch = 0,
		.transaction_result = false, .topics = { tp, 2 },
		.coordinator_epoch = 5 };
	struct marker_answer a;
	CHECK(markers(0, &m, 1, &a) == 0);
	CHECK(a.npid == 1 && a.pid[0] == PID_A && a.n == 2);
	CHECK(!strcmp(a.e[0].topic, "tx") && a.e[0].partition == 0 &&
	      a.e[0].error == 0);
	CHECK(!strcmp(a.e[1].topic, "nope") && a.e[1].error == 3);
	/* v0: corr, [pid, [name, [index, error]]] and nothing else */
	CHECK(kw_resp_len() == 4 + 4 + 8 + 4 + (2 + 2 + 4 + 6) +
				       (2 + 4 + 4 + 6));
	struct fetched f;
	for (int16_t v = 4; v <= 17; v += 13) {
		/* B (from 2) is still open: A's batch only, and A aborted */
		CHECK(fetch(v, 1, 0, &f) == 0);
		CHECK(f.error == 0 && f.hw == 5 && f.lso == 2);
		CHECK(f.nbatches == 1 && f.b[0].base == 0 && f.b[0].last == 1);
		CHECK(f.naborted == 1 && f.aborted[0].producer_id == PID_A &&
		      f.aborted[0].first_offset == 0);
	}
	CHECK(latest(1) == 2);
	return 0;
}

/* The committed state after B's commit (marker at 5): everything up to
 * 6 readable, A aborted where a fetch overlaps it. */
static int check_settled(int64_t hw, int64_t lso)
{
	struct fetched f;
	for (int16_t v = 4; v <= 17; v += 13) {
		CHECK(fetch(v, 1, 0, &f) == 0);
		CHECK(f.error == 0 && f.hw == hw && f.lso == lso);
		CHECK(f.nbatches == 5);
		CHECK(f.b[3].base == 4 && f.b[3].pid == PID_A &&
		      f.b[3].attr == (RB_ATTR_TRANSACTIONAL | RB_ATTR_CONTROL) &&
		      f.b[3].marker == 0 && f.b[3].coordinator_epoch == 5);
		CHECK(f.b[4].base == 5 && f.b[4].pid == PID_B &&
		      f.b[4].attr == (RB_ATTR_TRANSACTIONAL | RB_ATTR_CONTROL) &&
		      f.b[4].marker == 1 && f.b[4].coordinator_epoch == 6);
		CHECK(f.naborted == 1 && f.aborted[0].producer_id == PID_A &&
		      f.aborted[0].first_offset == 0);
		/* from B's batch on: A's abort (at 4) is still in range */
		CHECK(fetch(v, 1, 2, &f) == 0);
		CHECK(f.naborted == 1);
		/* from B's commit on: none, an empty list (not null) */
		CHECK(fetch(v, 1, 5, &f) == 0);
		CHECK(f.nbatches == 1 && f.naborted == 0);
	}
	CHECK(latest(1) == lso);
	return 0;
}

/* B's commit by WriteTxnMarkers v2, after a marker of B's older epoch
 * and one of B's epoch at transaction version 2 (KIP-1228: a version 2
 * coordinator bumps the epoch at the end of each transaction, so its
 * marker must carry a newer epoch than the partition knows; the same one
 * is fenced, as Kafka's partition leader fences it). */
static int t_commit_b(void)
{
	struct kc_write_txn_markers_req_writable_txn_marker_topic tp = {
		{ "tx", 2 }, { (void *)&part0, 1 } };
	struct kc_write_txn_markers_req_writable_txn_marker m[3] = {
		{ .producer_id = PID_B, .producer_epoch = EPOCH_B - 1,
		  .transaction_result = true, .topics = { &tp, 1 },
		  .coordinator_epoch = 6, .transaction_version = 1 },
		{ .producer_id = PID_B, .producer_epoch = EPOCH_B,
		  .transaction_result = true, .topics = { &tp, 1 },
		  .coordinator_epoch = 6, .transaction_version = 2 },
		{ .producer_id = PID_B, .producer_epoch = EPOCH_B,
		  .transaction_result = true, .topics = { &tp, 1 },
		  .coordinator_epoch = 6, .transaction_version = 1 },
	};
	struct marker_answer a;
	CHECK(markers(2, m, 3, &a) == 0);
	CHECK(a.npid == 3 && a.pid[0] == PID_B && a.pid[1] == PID_B &&
	      a.pid[2] == PID_B && a.n == 3);
	/* fenced, fenced (version 2, the same epoch), done */
	CHECK(a.e[0].error == 47 && a.e[1].error == 47 && a.e[2].error == 0);
	/* v2 (flexible, as v1): header tags, then per marker pid, [name,
	 * [index, error, tags], tags], tags; the body's tags */
	CHECK(kw_resp_len() == 5 + 1 + 3 * (8 + 1 + (1 + 2 + 1 + 7 + 1) + 1) +
				       1);
	CHECK(check_settled(6, 6) == 0);
	/* counted: A's abort and B's commit written, B's older one and its
	 * version 2 one fenced */
	static char tel[65536];
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%.4000s/run/telemetry.sock", b.dir);
	CHECK(tb_tel_ask(path, "/sluice/cores", tel, sizeof(tel)) == 0);
	CHECK(tb_json_i64(tel, "storage0", "txn_markers") == 2);
	CHECK(tb_json_i64(tel, "storage0", "txn_markers_fenced") == 2);
	CHECK(tb_json_i64(tel, "storage0", "txn_refused") == 0);
	return 0;
}

/* A control batch from a client is refused, as Kafka refuses it. */
static int t_control_refused(void)
{
	static uint8_t buf[256];
	long len = batch(buf, sizeof(buf), PID_A, 0, 2, 1,
			 RB_ATTR_TRANSACTIONAL | RB_ATTR_CONTROL);
	int64_t base = -2;
	CHECK(len > 0);
	CHECK(produce("ta", buf, len, &base) == 87 && base == -1);
	return 0;
}

/* sluiced killed (SIGKILL) and started again, the connection anew. */
static int kill_restart(void)
{
	close(conn);
	conn = -1;
	tb_stop_pid(&b.sluiced, SIGKILL);
	CHECK(tb_start_sluiced(&b) == 0);
	CHECK(tb_wait_sluiced(&b, 20000) == 0);
	conn = kw_connect(b.kport);
	CHECK(conn >= 0);
	return 0;
}

/* A opens another transaction (6), sluiced is killed and started again:
 * the same answers; then A's abort (7) adds to the list. */
static int t_restart(void)
{
	CHECK(produce_ok("ta", PID_A, 0, 2, 1, RB_ATTR_TRANSACTIONAL, 6) == 0);
	CHECK(latest(1) == 6);
	CHECK(kill_restart() == 0);
	CHECK(check_settled(7, 6) == 0);
	struct kc_write_txn_markers_req_writable_txn_marker_topic tp = {
		{ "tx", 2 }, { (void *)&part0, 1 } };
	struct kc_write_txn_markers_req_writable_txn_marker m = {
		.producer_id = PID_A, .producer_epoch = 0,
		.transaction_result = false, .topics = { &tp, 1 },
		.coordinator_epoch = 5 };
	struct marker_answer a;
	CHECK(markers(1, &m, 1, &a) == 0);
	CHECK(a.n == 1 && a.e[0].error == 0);
	struct fetched f;
	for (int16_t v = 4; v <= 17; v += 13) {
		CHECK(fetch(v, 1, 0, &f) == 0);
		CHECK(f.hw == 8 && f.lso == 8 && f.nbatches == 7);
		CHECK(f.naborted == 2 && f.aborted[0].first_offset == 0 &&
		      f.aborted[1].producer_id == PID_A &&
		      f.aborted[1].first_offset == 6);
		CHECK(fetch(v, 1, 5, &f) == 0);
		CHECK(f.naborted == 1 && f.aborted[0].first_offset == 6);
	}
	CHECK(latest(1) == 8);
	/* killed again with A's marker its last batch: A's next batch of
	 * the same epoch is in sequence (the marker read back took no
	 * place among its sequences), and the aborted list is the same */
	CHECK(kill_restart() == 0);
	CHECK(fetch(17, 1, 0, &f) == 0);
	CHECK(f.lso == 8 && f.naborted == 2);
	CHECK(produce_ok(NULL, PID_A, 0, 3, 1, 0, 8) == 0);
	return 0;
}

/* B's transaction aborted by the coordinator with a bumped epoch (its
 * timeout, or a new producer of its transactional id): the marker (9)
 * fences B's old epoch at once, across a restart too, and the new epoch
 * starts at any sequence. */
static int t_zombie(void)
{
	struct kc_write_txn_markers_req_writable_txn_marker_topic tp = {
		{ "tx", 2 }, { (void *)&part0, 1 } };
	struct kc_write_txn_markers_req_writable_txn_marker m = {
		.producer_id = PID_B, .producer_epoch = EPOCH_B + 1,
		.transaction_result = false, .topics = { &tp, 1 },
		.coordinator_epoch = 7 };
	struct marker_answer a;
	CHECK(markers(1, &m, 1, &a) == 0);
	CHECK(a.n == 1 && a.e[0].error == 0);
	static uint8_t buf[512];
	int64_t base = -2;
	long len = batch(buf, sizeof(buf), PID_B, EPOCH_B, 1, 1,
			 RB_ATTR_TRANSACTIONAL);
	CHECK(len > 0);
	CHECK(produce("tb", buf, len, &base) == 47 && base == -1);
	CHECK(kill_restart() == 0);
	CHECK(produce("tb", buf, len, &base) == 47 && base == -1);
	CHECK(produce_ok("tb", PID_B, EPOCH_B + 1, 0, 1,
			 RB_ATTR_TRANSACTIONAL, 10) == 0);
	CHECK(latest(1) == 10);
	return 0;
}

/* One WriteTxnMarkers v1 marker of B's current epoch for tx-0 at
 * coordinator epoch ce: its error (-1 on a failed call). */
static int marker_b(int32_t ce, bool commit)
{
	struct kc_write_txn_markers_req_writable_txn_marker_topic tp = {
		{ "tx", 2 }, { (void *)&part0, 1 } };
	struct kc_write_txn_markers_req_writable_txn_marker m = {
		.producer_id = PID_B, .producer_epoch = EPOCH_B + 1,
		.transaction_result = commit, .topics = { &tp, 1 },
		.coordinator_epoch = ce };
	struct marker_answer a;
	if (markers(1, &m, 1, &a) || a.n != 1)
		return -1;
	return a.e[0].error;
}

/* B's transaction of epoch EPOCH_B + 1 (open at 10) and a marker from a
 * coordinator older than the one that wrote B's last marker (epoch 7):
 * refused TRANSACTION_COORDINATOR_FENCED (52), nothing written, counted;
 * the same after a restart (the epoch read back from the marker in the
 * log); a newer coordinator's is written and becomes B's. */
static int t_coordinator_fenced(void)
{
	CHECK(coord_epoch(PID_B) == 7);
	CHECK(coord_epoch(PID_A) == 5);
	CHECK(marker_b(6, true) == 52);
	CHECK(latest(1) == 10);
	static char tel[65536];
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%.4000s/run/telemetry.sock", b.dir);
	CHECK(tb_tel_ask(path, "/sluice/cores", tel, sizeof(tel)) == 0);
	CHECK(tb_json_i64(tel, "storage0", "txn_markers_coordinator_fenced") ==
	      1);
	CHECK(tb_json_i64(tel, "storage0", "txn_markers") == 0);
	CHECK(kill_restart() == 0);
	CHECK(coord_epoch(PID_B) == 7);
	CHECK(marker_b(6, false) == 52);
	CHECK(latest(1) == 10);
	CHECK(marker_b(8, true) == 0);
	CHECK(latest(1) == 12);
	CHECK(coord_epoch(PID_B) == 8);
	CHECK(marker_b(7, true) == 52);
	CHECK(tb_tel_ask(path, "/sluice/cores", tel, sizeof(tel)) == 0);
	CHECK(tb_json_i64(tel, "storage0", "txn_markers_coordinator_fenced") ==
	      2);
	CHECK(tb_json_i64(tel, "storage0", "txn_markers") == 1);
	return 0;
}

int main(void)
{
	kw_init("txn-test");
	int rc = kw_broker_start(&b, "ktxn", &conn);
	if (rc)
		return rc;
	long id = kw_topic_create(&b, "tx", 1);
	if (id <= 0) {
		tb_destroy(&b, 1);
		return 1;
	}
	sl_topic_uuid((uint32_t)id, uuid);
	static const struct kw_test tests[] = {
		{ "open", t_open },
		{ "abort_a", t_abort_a },
		{ "commit_b", t_commit_b },
		{ "control_refused", t_control_refused },
		{ "restart", t_restart },
		{ "zombie", t_zombie },
		{ "coordinator_fenced", t_coordinator_fenced },
	};
	kw_run(&b, tests, KW_COUNT(tests), &conn);
	return kw_finish(&b, &conn);
}
