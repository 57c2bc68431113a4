/*
 * libFuzzer target for what a follower reads from its leader
 * (dataplane/replica_wire.c): any bytes a leader, or whatever answers in
 * its place, sends must give a result or an error, never a crash, a read
 * out of bounds, an endless loop or a batch that breaks the rules.
 *
 * Input: one flags byte, then a response frame's bytes (after the size
 * prefix).  Flags bit 0: read as an OffsetForLeaderEpoch v4 answer, else
 * as a Fetch v12 answer.  The correlation id asked for is the frame's own
 * first four bytes, so that a well-formed answer decodes.
 *
 * Properties:
 *   1. rw_frame_size on the input: 0, -EMSGSIZE, or the size prefix + 4
 *      (at most RW_FRAME_MAX + 4);
 *   2. decoding returns 0, -EPROTO or -ENOBUFS; with another correlation
 *      id it never returns 0;
 *   3. every partition of a Fetch answer: its records lie inside the
 *      input; records_len + partial_bytes + dropped_bytes is what came;
 *      the records are whole batches back to back, each passing
 *      rb_check_stored, offsets rising, next_offset after the last; a
 *      dropped part says why (bad_rc) and only then;
 *   4. the input as a partition's records (rw_split_records): the same;
 *   5. requests built from the input (names cut from it, partitions,
 *      epochs, offsets) decode on a leader's side (kc_decode_request) to
 *      what was put in.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/replica_wire.h"
#include "proto/record_batch.h"
#include "sluice/error.h"
#include "fuzz_util.h"

static _Alignas(8) uint8_t arena_mem[1 << 20];
static uint8_t req_buf[1 << 16];

static int inside(const uint8_t *p, size_t n, const uint8_t *lo, size_t len)
{
	return n == 0 || (p >= lo && p + n <= lo + len);
}

/* Property 3 (and 4) for one outcome. */
static void check_records(const struct rw_part_outcome *o, const uint8_t *in,
			  size_t len)
{
	FUZZ_CHECK((uint64_t)o->records_len + o->partial_bytes +
			   o->dropped_bytes == o->fetched_bytes);
	FUZZ_CHECK(inside(o->records, o->fetched_bytes, in, len));
	FUZZ_CHECK((o->bad_rc != 0) == (o->dropped_bytes != 0));
	FUZZ_CHECK(o->partial_bytes == 0 || o->dropped_bytes == 0);
	size_t pos = 0;
	int64_t next = -1;
	uint32_t batches = 0;
	/* bounded: each batch is at least RB_HEADER_BYTES */
	while (pos < o->records_len) {
		const uint8_t *b = o->records + pos;
		FUZZ_CHECK(o->records_len - pos >= RB_HEADER_BYTES);
		long size = rb_frame_size(b, o->records_len - pos,
					  o->records_len - pos);
		FUZZ_CHECK(size >= RB_HEADER_BYTES);
		FUZZ_CHECK(rb_check_stored(b, (size_t)size) == 0);
		int64_t base = (int64_t)rb_be64(b + RB_OFF_BASE_OFFSET);
		FUZZ_CHECK(base >= 0 && base >= next);
		FUZZ_CHECK(rb_last_offset(b) >= base);
		next = rb_last_offset(b) + 1;
		pos += (size_t)size;
		batches++;
	}
	FUZZ_CHECK(pos == o->records_len);
	FUZZ_CHECK(batches == o->batches);
	FUZZ_CHECK(next == o->next_offset);
}

static void fuzz_fetch(const uint8_t *p, size_t len, int32_t corr)
{
	struct kc_arena a = { arena_mem, sizeof(arena_mem), 0 };
	struct rw_fetch_resp r;
	int rc = rw_decode_fetch(p, len, corr, &a, &r);
	FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -ENOBUFS);
	if (rc == 0) {
		struct rw_part_outcome o;
		/* bounded: the partitions the arena holds */
		while (rw_fetch_next(&r, &o)) {
			FUZZ_CHECK(inside((const uint8_t *)o.topic, o.topic_len,
					  p, len));
			check_records(&o, p, len);
		}
	}
	a.used = 0;
	FUZZ_CHECK(rw_decode_fetch(p, len, (int32_t)((uint32_t)corr + 1), &a,
				   &r) != 0);
}

static void fuzz_epoch(const uint8_t *p, size_t len, int32_t corr)
{
	struct kc_arena a = { arena_mem, sizeof(arena_mem), 0 };
	struct rw_epoch_resp r;
	int rc = rw_decode_epoch(p, len, corr, &a, &r);
	FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -ENOBUFS);
	if (rc == 0) {
		struct rw_epoch_outcome o;
		while (rw_epoch_next(&r, &o))
			FUZZ_CHECK(inside((const uint8_t *)o.topic, o.topic_len,
					  p, len));
	}
	a.used = 0;
	FUZZ_CHECK(rw_decode_epoch(p, len, (int32_t)((uint32_t)corr + 1), &a,
				   &r) != 0);
}

/* Property 5: up to 8 partitions from the input, named by its bytes. */
static void fuzz_requests(const uint8_t *data, size_t size)
{
	struct fz_reader in;
	fz_init(&in, data, size);
	struct rw_part_req parts[8];
	size_t n = 1 + fz_u8(&in) % 8;
	for (size_t i = 0; i < n; i++) {
		size_t got;
		size_t want = 1 + fz_u8(&in) % 16;
		const char *name = (const char *)fz_bytes(&in, want, &got);
		if (got == 0 || (i > 0 && fz_u8(&in) & 1)) {
			/* the partition before's topic again */
			name = i ? parts[i - 1].topic : "t";
			got = i ? parts[i - 1].topic_len : 1;
		}
		parts[i] = (struct rw_part_req){
			.topic = name,
			.topic_len = (uint16_t)got,
			.partition = (int32_t)fz_u32(&in),
			.current_leader_epoch = (int32_t)fz_u32(&in),
			.fetch_offset = (int64_t)fz_u64(&in),
			.leader_epoch = (int32_t)fz_u32(&in),
		};
	}
	/* runs of one topic are one topic entry: a name seen before a run
	 * of another is fine for the encoder (a second entry) */
	struct rw_fetch_params fp = { 2, 500, 1, 32 << 20, 1 << 20 };
	int fetch = fz_u8(&in) & 1;
	struct kc_arena s = { arena_mem, sizeof(arena_mem), 0 };
	long len = fetch ? rw_encode_fetch(req_buf, sizeof(req_buf), 9,
					   "sluice-follower-2", &fp, parts, n,
					   &s) :
			   rw_encode_epoch_query(req_buf, sizeof(req_buf), 9,
						 "sluice-follower-2", 2, parts,
						 n, &s);
	FUZZ_CHECK(len > RW_SIZE_BYTES);
	FUZZ_CHECK(rw_frame_size(req_buf, (size_t)len) == len);
	_Alignas(8) static uint8_t mem[1 << 16];
	struct kc_arena a = { mem, sizeof(mem), 0 };
	struct kc_request_header h;
	union kc_request u;
	FUZZ_CHECK(kc_decode_request(req_buf + RW_SIZE_BYTES,
				     (size_t)len - RW_SIZE_BYTES, &h, &u,
				     &a) == len - RW_SIZE_BYTES);
	FUZZ_CHECK(h.correlation_id == 9);
	size_t k = 0;
	if (fetch) {
		const struct kc_fetch_req *q = (const void *)u.raw;
		FUZZ_CHECK(q->replica_id == 2);
		const struct kc_fetch_req_topic *ts = q->topics.items;
		for (int32_t t = 0; t < q->topics.count; t++) {
			const struct kc_fetch_req_partition *ps =
				ts[t].partitions.items;
			for (int32_t j = 0; j < ts[t].partitions.count; j++, k++) {
				FUZZ_CHECK(k < n);
				FUZZ_CHECK(kc_str_is(ts[t].topic, parts[k].topic,
						     parts[k].topic_len));
				FUZZ_CHECK(ps[j].partition == parts[k].partition);
				FUZZ_CHECK(ps[j].fetch_offset ==
					   parts[k].fetch_offset);
				FUZZ_CHECK(ps[j].current_leader_epoch ==
					   parts[k].current_leader_epoch);
			}
		}
	} else {
		const struct kc_offset_for_leader_epoch_req *q =
			(const void *)u.raw;
		const struct kc_offset_for_leader_epoch_req_offset_for_leader_topic
			*ts = q->topics.items;
		for (int32_t t = 0; t < q->topics.count; t++) {
			const struct kc_offset_for_leader_epoch_req_offset_for_leader_partition
				*ps = ts[t].partitions.items;
			for (int32_t j = 0; j < ts[t].partitions.count; j++, k++) {
				FUZZ_CHECK(k < n);
				FUZZ_CHECK(ps[j].partition == parts[k].partition);
				FUZZ_CHECK(ps[j].leader_epoch ==
					   parts[k].leader_epoch);
			}
		}
	}
	FUZZ_CHECK(k == n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t flags = data[0];
	const uint8_t *p = data + 1;
	size_t len = size - 1;
	long fs = rw_frame_size(p, len);
	FUZZ_CHECK(fs == 0 || fs == -EMSGSIZE ||
		   (fs >= RW_SIZE_BYTES &&
		    (unsigned long)fs <= RW_FRAME_MAX + RW_SIZE_BYTES));
	int32_t corr = len >= 4 ? (int32_t)rb_be32(p) : 0;
	if (flags & 1)
		fuzz_epoch(p, len, corr);
	else
		fuzz_fetch(p, len, corr);
	if (len < (1u << 31)) {
		struct rw_part_outcome o;
		rw_split_records(p, len, &o);
		check_records(&o, p, len);
	}
	fuzz_requests(data, size);
	return 0;
}
