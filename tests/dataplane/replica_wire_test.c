/* A follower's requests and its leader's answers
 * (dataplane/replica_wire.h): Fetch v12 and OffsetForLeaderEpoch v4 built
 * and read back through the codec; Fetch answers made by the codec's
 * encoder as a leader would send them, with records cut mid-batch, a
 * batch with a bad CRC, batches only a broker writes (a transaction
 * marker, the empty batch over skipped offsets), a diverging epoch and
 * errors; frames of the wrong size or correlation id. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"
#include "dataplane/replica_wire.h"
#include "proto/record_batch.h"
#include "sluice/error.h"

static _Alignas(8) uint8_t arena_mem[1 << 16];
static uint8_t frame_buf[1 << 16];

static struct kc_arena arena(void)
{
	return (struct kc_arena){ arena_mem, sizeof(arena_mem), 0 };
}

/* A batch of n records at base offset base and leader epoch epoch into
 * buf; its size. */
static size_t batch(uint8_t *buf, size_t cap, int64_t base, int32_t epoch,
		    int n)
{
	struct rb_builder b;
	rb_builder_init(&b, buf, cap, 1700000000000ll);
	for (int i = 0; i < n; i++)
		TL_OK(rb_builder_add(&b, "k", 1, "value", 5,
				     1700000000000ll + i));
	long len = rb_builder_finish(&b);
	TL_TRUE(len > 0);
	rb_stamp(buf, base, epoch);
	return (size_t)len;
}

/* What only a broker writes: a control batch (a marker) ... */
static size_t marker(uint8_t *buf, size_t cap, int64_t base)
{
	size_t len = batch(buf, cap, base, 1, 1);
	uint16_t attrs = rb_be16(buf + RB_OFF_ATTRIBUTES);
	rb_put16(buf + RB_OFF_ATTRIBUTES,
		 (uint16_t)(attrs | RB_ATTR_CONTROL | RB_ATTR_TRANSACTIONAL));
	rb_put32(buf + RB_OFF_CRC,
		 rb_crc32c(buf + RB_CRC_START, len - RB_CRC_START));
	TL_EQ(rb_validate(buf, len), SL_EATTRIBUTES);
	return len;
}

/* ... and the empty batch over gap skipped offsets (storage/log.c). */
static size_t skipped(uint8_t *buf, int64_t base, int32_t gap)
{
	memset(buf, 0, RB_HEADER_BYTES);
	rb_put32(buf + RB_OFF_LENGTH, RB_HEADER_BYTES - RB_LOG_OVERHEAD);
	buf[RB_OFF_MAGIC] = RB_MAGIC;
	rb_put32(buf + RB_OFF_LAST_OFFSET_DELTA, (uint32_t)(gap - 1));
	rb_put64(buf + RB_OFF_PRODUCER_ID, (uint64_t)-1);
	rb_put32(buf + RB_OFF_BASE_SEQUENCE, (uint32_t)-1);
	rb_put32(buf + RB_OFF_CRC, rb_crc32c(buf + RB_CRC_START,
					     RB_HEADER_BYTES - RB_CRC_START));
	rb_stamp(buf, base, 1);
	TL_EQ(rb_validate(buf, RB_HEADER_BYTES), SL_EOFFSETS);
	return RB_HEADER_BYTES;
}

static const struct rw_part_req parts3[] = {
	{ "orders", 6, 0, 7, 100, 3 },
	{ "orders", 6, 2, 7, 250, 5 },
	{ "audit", 5, 1, 9, 0, -1 },
};

static void test_encode_fetch(void **state)
{
	(void)state;
	struct kc_arena s = arena();
	struct rw_fetch_params fp = { 2, 500, 1, 32 << 20, 1 << 20 };
	long n = rw_encode_fetch(frame_buf, sizeof(frame_buf), 41,
				 "sluice-follower-2", &fp, parts3, 3, &s);
	TL_TRUE(n > RW_SIZE_BYTES);
	TL_EQ(rw_frame_size(frame_buf, (size_t)n), n);
	/* the leader's side reads it */
	_Alignas(8) static uint8_t mem[1 << 14];
	struct kc_arena a = { mem, sizeof(mem), 0 };
	struct kc_request_header h;
	union kc_request u;
	TL_EQ(kc_decode_request(frame_buf + 4, (size_t)n - 4, &h, &u, &a),
	      n - 4);
	TL_EQ(h.api_key, KC_API_FETCH);
	TL_EQ(h.api_version, 12);
	TL_EQ(h.correlation_id, 41);
	TL_TRUE(kc_str_is(h.client_id, "sluice-follower-2", 17));
	const struct kc_fetch_req *q = (const void *)u.raw;
	TL_EQ(q->replica_id, 2);
	TL_EQ(q->max_wait_ms, 500);
	TL_EQ(q->min_bytes, 1);
	TL_EQ(q->max_bytes, 32 << 20);
	TL_EQ(q->isolation_level, 0);
	TL_EQ(q->session_id, 0);
	TL_EQ(q->session_epoch, -1);
	TL_EQ(q->cluster_id.len, -1);
	TL_EQ(q->topics.count, 2);
	const struct kc_fetch_req_topic *t = q->topics.items;
	TL_TRUE(kc_str_is(t[0].topic, "orders", 6));
	TL_TRUE(kc_str_is(t[1].topic, "audit", 5));
	TL_EQ(t[0].partitions.count, 2);
	TL_EQ(t[1].partitions.count, 1);
	const struct kc_fetch_req_partition *p = t[0].partitions.items;
	TL_EQ(p[1].partition, 2);
	TL_EQ(p[1].current_leader_epoch, 7);
	TL_EQ(p[1].fetch_offset, 250);
	TL_EQ(p[1].last_fetched_epoch, -1);
	TL_EQ(p[1].log_start_offset, -1);
	TL_EQ(p[1].partition_max_bytes, 1 << 20);
	p = t[1].partitions.items;
	TL_EQ(p[0].partition, 1);
	TL_EQ(p[0].current_leader_epoch, 9);
}

static void test_encode_epoch_query(void **state)
{
	(void)state;
	struct kc_arena s = arena();
	long n = rw_encode_epoch_query(frame_buf, sizeof(frame_buf), 7, "f",
				       3, parts3, 3, &s);
	TL_TRUE(n > RW_SIZE_BYTES);
	_Alignas(8) static uint8_t mem[1 << 14];
	struct kc_arena a = { mem, sizeof(mem), 0 };
	struct kc_request_header h;
	union kc_request u;
	TL_EQ(kc_decode_request(frame_buf + 4, (size_t)n - 4, &h, &u, &a),
	      n - 4);
	TL_EQ(h.api_key, KC_API_OFFSET_FOR_LEADER_EPOCH);
	TL_EQ(h.api_version, 4);
	const struct kc_offset_for_leader_epoch_req *q = (const void *)u.raw;
	TL_EQ(q->replica_id, 3);
	TL_EQ(q->topics.count, 2);
	const struct kc_offset_for_leader_epoch_req_offset_for_leader_topic *t =
		q->topics.items;
	const struct kc_offset_for_leader_epoch_req_offset_for_leader_partition
		*p = t[0].partitions.items;
	TL_EQ(p[0].current_leader_epoch, 7);
	TL_EQ(p[0].leader_epoch, 3);
	TL_EQ(p[1].leader_epoch, 5);
	p = t[1].partitions.items;
	TL_EQ(p[0].leader_epoch, -1);
}

static void test_encode_errors(void **state)
{
	(void)state;
	struct rw_fetch_params fp = { 2, 500, 1, 1 << 20, 1 << 20 };
	struct kc_arena s = arena();
	TL_EQ(rw_encode_fetch(frame_buf, sizeof(frame_buf), 1, "f", &fp,
			      parts3, 0, &s), -EINVAL);
	struct rw_part_req bad = parts3[0];
	bad.topic_len = 0;
	TL_EQ(rw_encode_fetch(frame_buf, sizeof(frame_buf), 1, "f", &fp, &bad,
			      1, &s), -EINVAL);
	bad.topic_len = SN_NAME_MAX + 1;
	TL_EQ(rw_encode_epoch_query(frame_buf, sizeof(frame_buf), 1, "f", 1,
				    &bad, 1, &s), -EINVAL);
	s = arena();
	TL_EQ(rw_encode_fetch(frame_buf, 3, 1, "f", &fp, parts3, 3, &s),
	      -ENOBUFS);
	s = arena();
	TL_EQ(rw_encode_fetch(frame_buf, 40, 1, "f", &fp, parts3, 3, &s),
	      -ENOBUFS);
	_Alignas(8) uint8_t tiny[16];
	struct kc_arena t = { tiny, sizeof(tiny), 0 };
	TL_EQ(rw_encode_fetch(frame_buf, sizeof(frame_buf), 1, "f", &fp,
			      parts3, 3, &t), -ENOBUFS);
}

static void test_frame_size(void **state)
{
	(void)state;
	uint8_t b[4] = { 0 };
	TL_EQ(rw_frame_size(b, 3), 0);
	rb_put32(b, 10);
	TL_EQ(rw_frame_size(b, 4), 14);
	rb_put32(b, 0);
	TL_EQ(rw_frame_size(b, 4), 4);
	rb_put32(b, RW_FRAME_MAX);
	TL_EQ(rw_frame_size(b, 4), (long)RW_FRAME_MAX + 4);
	rb_put32(b, RW_FRAME_MAX + 1);
	TL_EQ(rw_frame_size(b, 4), -EMSGSIZE);
	rb_put32(b, 0x80000000u);
	TL_EQ(rw_frame_size(b, 4), -EMSGSIZE);
}

static struct kc_fetch_resp_partition resp_part(int32_t index, int16_t err,
						const uint8_t *rec,
						size_t len)
{
	return (struct kc_fetch_resp_partition){
		.partition_index = index,
		.error_code = err,
		.high_watermark = 90,
		.last_stable_offset = 90,
		.log_start_offset = 4,
		.diverging_epoch = { -1, -1 },
		.current_leader = { -1, -1 },
		.snapshot_id = { -1, -1 },
		.aborted_transactions = { NULL, -1 },
		.preferred_read_replica = -1,
		.records = { rec ? rec : (const uint8_t *)"", rec ?
					 (int32_t)len : 0 },
	};
}

/* A Fetch v12 answer of partitions ps (one topic, "orders") with
 * correlation id corr into frame_buf, after no size prefix; its length. */
static size_t fetch_answer(int32_t corr, struct kc_fetch_resp_partition *ps,
			   int32_t n)
{
	union kc_response u;
	kc_response_init(&u, KC_API_FETCH);
	struct kc_fetch_resp *r = (void *)u.raw;
	struct kc_fetch_resp_topic t = { 0 };
	t.topic = (struct kc_str){ "orders", 6 };
	t.partitions = (struct kc_array){ ps, n };
	r->responses = (struct kc_array){ &t, 1 };
	struct kc_response_header h = { corr };
	long len = kc_encode_response(KC_API_FETCH, 12, &h, &u, frame_buf,
				      sizeof(frame_buf));
	TL_TRUE(len > 0);
	return (size_t)len;
}

static void test_fetch_answer(void **state)
{
	(void)state;
	static uint8_t r0[4096], r1[4096], r4[4096];
	/* 0: two whole batches (offsets 10-12, 13-14), then a third cut */
	size_t a = batch(r0, sizeof(r0), 10, 3, 3);
	a += batch(r0 + a, sizeof(r0) - a, 13, 3, 2);
	size_t whole0 = a;
	size_t c = batch(r0 + a, sizeof(r0) - a, 15, 3, 4);
	size_t len0 = a + c / 2;
	/* 1: a good batch, then one whose CRC is wrong, then a good one */
	size_t b = batch(r1, sizeof(r1), 50, 4, 1);
	size_t good1 = b;
	size_t d = batch(r1 + b, sizeof(r1) - b, 51, 4, 2);
	r1[b + d - 1] ^= 0x40;
	b += d;
	b += batch(r1 + b, sizeof(r1) - b, 53, 4, 1);
	/* 4: a marker and the empty batch over offsets 61..70 */
	size_t e = marker(r4, sizeof(r4), 60);
	e += skipped(r4 + e, 61, 10);
	struct kc_fetch_resp_partition ps[5] = {
		resp_part(0, 0, r0, len0),
		resp_part(1, 0, r1, b),
		resp_part(2, 6, NULL, 0), /* NOT_LEADER_OR_FOLLOWER */
		resp_part(3, 0, NULL, 0),
		resp_part(4, 0, r4, e),
	};
	ps[3].diverging_epoch = (struct kc_fetch_resp_epoch_end_offset){ 3, 40 };
	ps[2].records = (struct kc_bytes){ NULL, -1 };
	size_t len = fetch_answer(77, ps, 5);

	struct kc_arena ar = arena();
	struct rw_fetch_resp r;
	TL_OK(rw_decode_fetch(frame_buf, len, 77, &ar, &r));
	struct rw_part_outcome o;

	TL_EQ(rw_fetch_next(&r, &o), 1);
	TL_EQ(o.topic_len, 6);
	TL_TRUE(!memcmp(o.topic, "orders", 6));
	TL_EQ(o.partition, 0);
	TL_EQ(o.error, 0);
	TL_EQ(o.high_watermark, 90);
	TL_EQ(o.log_start_offset, 4);
	TL_EQ(o.diverging_epoch, -1);
	TL_EQ(o.batches, 2);
	TL_EQ(o.records_len, whole0);
	TL_EQ(o.partial_bytes, len0 - whole0);
	TL_EQ(o.fetched_bytes, len0);
	TL_EQ(o.dropped_bytes, 0);
	TL_EQ(o.bad_rc, 0);
	TL_EQ(o.next_offset, 15);
	TL_TRUE(!memcmp(o.records, r0, whole0));

	TL_EQ(rw_fetch_next(&r, &o), 1);
	TL_EQ(o.partition, 1);
	TL_EQ(o.batches, 1);
	TL_EQ(o.records_len, good1);
	TL_EQ(o.bad_rc, SL_ECRC);
	TL_EQ(o.dropped_bytes, b - good1);
	TL_EQ(o.next_offset, 51);

	TL_EQ(rw_fetch_next(&r, &o), 1);
	TL_EQ(o.partition, 2);
	TL_EQ(o.error, 6);
	TL_EQ(o.records_len, 0);
	TL_EQ(o.batches, 0);
	TL_EQ(o.next_offset, -1);

	TL_EQ(rw_fetch_next(&r, &o), 1);
	TL_EQ(o.partition, 3);
	TL_EQ(o.diverging_epoch, 3);
	TL_EQ(o.diverging_end_offset, 40);
	TL_EQ(o.records_len, 0);

	TL_EQ(rw_fetch_next(&r, &o), 1);
	TL_EQ(o.partition, 4);
	TL_EQ(o.batches, 2);
	TL_EQ(o.records_len, e);
	TL_EQ(o.bad_rc, 0);
	TL_EQ(o.next_offset, 71);

	TL_EQ(rw_fetch_next(&r, &o), 0);
	TL_EQ(rw_fetch_next(&r, &o), 0);
}

static void test_fetch_malformed(void **state)
{
	(void)state;
	static uint8_t rec[1024];
	size_t n = batch(rec, sizeof(rec), 0, 1, 2);
	struct kc_fetch_resp_partition ps[2] = {
		resp_part(0, 0, rec, n),
		resp_part(1, 0, NULL, 0),
	};
	size_t len = fetch_answer(5, ps, 2);
	struct kc_arena ar = arena();
	struct rw_fetch_resp r;
	/* another request's answer */
	TL_EQ(rw_decode_fetch(frame_buf, len, 6, &ar, &r), -EPROTO);
	/* cut anywhere: never decodes */
	for (size_t cut = 0; cut < len; cut += 7) {
		ar = arena();
		TL_EQ(rw_decode_fetch(frame_buf, cut, 5, &ar, &r), -EPROTO);
	}
	/* a byte too many */
	ar = arena();
	TL_EQ(rw_decode_fetch(frame_buf, len + 1, 5, &ar, &r), -EPROTO);
	/* more partitions than the arena takes */
	_Alignas(8) uint8_t small[64];
	struct kc_arena sa = { small, sizeof(small), 0 };
	TL_EQ(rw_decode_fetch(frame_buf, len, 5, &sa, &r), -ENOBUFS);
	/* as an OffsetForLeaderEpoch answer: malformed */
	ar = arena();
	struct rw_epoch_resp er;
	TL_EQ(rw_decode_epoch(frame_buf, len, 5, &ar, &er), -EPROTO);
}

static void test_split(void **state)
{
	(void)state;
	static uint8_t rec[4096];
	struct rw_part_outcome o;
	rw_split_records(NULL, 0, &o);
	TL_EQ(o.batches, 0);
	TL_EQ(o.next_offset, -1);
	/* fewer bytes than a batch's log overhead: a cut */
	size_t a = batch(rec, sizeof(rec), 0, 1, 1);
	rw_split_records(rec, 11, &o);
	TL_EQ(o.batches, 0);
	TL_EQ(o.partial_bytes, 11);
	/* offsets that go back: the second batch and after are dropped */
	size_t b = batch(rec + a, sizeof(rec) - a, 0, 1, 1);
	rw_split_records(rec, a + b, &o);
	TL_EQ(o.batches, 1);
	TL_EQ(o.bad_rc, SL_EOFFSETS);
	TL_EQ(o.dropped_bytes, b);
	/* a negative base offset */
	rb_stamp(rec, -5, 1);
	rw_split_records(rec, a, &o);
	TL_EQ(o.bad_rc, SL_EOFFSETS);
	/* a negative or too small length is not a cut: malformed */
	rb_stamp(rec, 0, 1);
	rb_put32(rec + RB_OFF_LENGTH, 0xffffff00u);
	rw_split_records(rec, a, &o);
	TL_EQ(o.bad_rc, SL_ELENGTH);
	TL_EQ(o.dropped_bytes, a);
	rb_put32(rec + RB_OFF_LENGTH, 20);
	rw_split_records(rec, a, &o);
	TL_EQ(o.bad_rc, SL_ELENGTH);
	/* a wrong magic */
	a = batch(rec, sizeof(rec), 0, 1, 1);
	rec[RB_OFF_MAGIC] = 1;
	rw_split_records(rec, a, &o);
	TL_EQ(o.bad_rc, SL_EMAGIC);
	TL_EQ(o.records_len, 0);
}

static void test_epoch_answer(void **state)
{
	(void)state;
	union kc_response u;
	kc_response_init(&u, KC_API_OFFSET_FOR_LEADER_EPOCH);
	struct kc_offset_for_leader_epoch_resp *r = (void *)u.raw;
	struct kc_offset_for_leader_epoch_resp_epoch_end_offset ps[2] = {
		{ 0, 0, 4, 120 },
		{ 74, 1, -1, -1 }, /* FENCED_LEADER_EPOCH */
	};
	struct kc_offset_for_leader_epoch_resp_offset_for_leader_topic_result
		t = { { "orders", 6 }, { ps, 2 } };
	r->topics = (struct kc_array){ &t, 1 };
	struct kc_response_header h = { 9 };
	long len = kc_encode_response(KC_API_OFFSET_FOR_LEADER_EPOCH, 4, &h, &u,
				      frame_buf, sizeof(frame_buf));
	TL_TRUE(len > 0);
	struct kc_arena ar = arena();
	struct rw_epoch_resp er;
	TL_EQ(rw_decode_epoch(frame_buf, (size_t)len, 8, &ar, &er), -EPROTO);
	ar = arena();
	TL_OK(rw_decode_epoch(frame_buf, (size_t)len, 9, &ar, &er));
	struct rw_epoch_outcome o;
	TL_EQ(rw_epoch_next(&er, &o), 1);
	TL_EQ(o.topic_len, 6);
	TL_EQ(o.partition, 0);
	TL_EQ(o.error, 0);
	TL_EQ(o.leader_epoch, 4);
	TL_EQ(o.end_offset, 120);
	TL_EQ(rw_epoch_next(&er, &o), 1);
	TL_EQ(o.partition, 1);
	TL_EQ(o.error, 74);
	TL_EQ(o.leader_epoch, -1);
	TL_EQ(rw_epoch_next(&er, &o), 0);
	/* as a Fetch answer: malformed */
	ar = arena();
	struct rw_fetch_resp fr;
	TL_EQ(rw_decode_fetch(frame_buf, (size_t)len, 9, &ar, &fr), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_fetch),
		cmocka_unit_test(test_encode_epoch_query),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_frame_size),
		cmocka_unit_test(test_fetch_answer),
		cmocka_unit_test(test_fetch_malformed),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_epoch_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
