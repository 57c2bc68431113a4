/*
 * libFuzzer target for the native frame parser (proto/native.c): what a
 * polling core does with every datagram and every TCP frame.
 *
 * Properties checked on every input:
 *   1. sn_header_parse never reads past avail, and a positive result is a
 *      length within [16, max_frame];
 *   2. every decoder, run on the input taken as a whole frame of each
 *      opcode, stays inside the frame (ASan) and, when it accepts, returns
 *      pointers and lengths inside it;
 *   3. metadata and LEADERS request and response walks terminate inside
 *      the frame; a LEADERS response that decodes is rebuilt by the
 *      builder to the same bytes;
 *   4. an accepted frame re-encoded from its decoded fields decodes to the
 *      same fields (round trip);
 *   5. the queue frames (QUEUE_RECEIVE, QUEUE_ACK, ROUTE and their
 *      responses):
 *      what a decoder accepts keeps the rules proto/native.h gives (names,
 *      member, counts), every part, range, record and entry lies inside
 *      the frame, the walk of a QUEUE_RECEIVE answer meets its partition
 *      count and ends at the frame's end, and the encoder or builder
 *      writes the same bytes again but for the reserved ones (which it
 *      writes as 0, and the decoders do not look at).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/native.h"
#include "proto/record_batch.h"

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

static void check_inside(const uint8_t *f, size_t len, const void *p, size_t n)
{
	const uint8_t *q = p;
	CHECK(q >= f && q + n <= f + len);
}

/* A LEADERS response: walked inside the frame, and rebuilt by the
 * builder to the same bytes when every field is one it writes. */
static void leaders_resp(const uint8_t *f, size_t len, uint8_t *out,
			 size_t cap)
{
	struct sn_leaders_resp r;
	if (sn_decode_leaders_resp(f, len, &r))
		return;
	struct sn_leaders_builder b;
	sn_leaders_resp_begin(&b, out, cap);
	size_t pos = 0;
	struct sn_leaders_broker br;
	unsigned nb = 0, nt = 0;
	int same = 1; /* reserved fields 0, as the builder writes them */
	while (sn_leaders_next_broker(&r, &pos, &br) == 1) {
		check_inside(f, len, br.host, br.host_len);
		same &= rb_be16((const uint8_t *)br.host - 2) == 0;
		CHECK(sn_leaders_resp_broker(&b, &br) == 0);
		nb++;
	}
	CHECK(nb == r.broker_count);
	static int32_t ld[SN_PARTITIONS_MAX], ep[SN_PARTITIONS_MAX];
	pos = 0;
	struct sn_leaders_topic t;
	while (sn_leaders_next_topic(&r, &pos, &t) == 1) {
		check_inside(f, len, t.name, t.name_len);
		check_inside(f, len, t.leaders, 8 * (size_t)t.partitions);
		for (int32_t i = 0; i < t.partitions; i++)
			sn_leaders_partition(&t, i, &ld[i], &ep[i]);
		/* the builder writes no partitions and id 0 for an error */
		same &= !t.error || (t.partitions == 0 && t.topic_id == 0);
		CHECK(sn_leaders_resp_topic(&b, &t, ld, ep) == 0);
		nt++;
	}
	CHECK(nt == r.topic_count);
	long n = sn_leaders_resp_finish(&b, rb_be32(f + 8),
					(int16_t)rb_be16(f + 12));
	CHECK(n > 0);
	if (same && rb_be16(f + 14) == 0)
		CHECK((size_t)n == len && !memcmp(out, f, len));
}

/* 0 when n bytes at p are all zero. */
static int nonzero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 1;
	return 0;
}

/* f and out (both len bytes) the same but for the header's error and
 * flags (12..15, written as 0 by a request's encoder) and the reserved
 * bytes [at, at + n). */
static void same_but(const uint8_t *f, const uint8_t *out, size_t len,
		     size_t at, size_t n)
{
	CHECK(!memcmp(out, f, 12) && !nonzero(out + 12, 4));
	CHECK(!memcmp(out + 16, f + 16, at - 16) && !nonzero(out + at, n));
	CHECK(!memcmp(out + at + n, f + at + n, len - at - n));
}

/* QUEUE_RECEIVE: the rules kept, the names inside, the same bytes again
 * but for the reserved u32 at 44. */
static void queue_receive(const uint8_t *f, size_t len, uint8_t *out,
			  size_t cap)
{
	struct sn_queue_receive r;
	if (sn_decode_queue_receive(f, len, &r))
		return;
	check_inside(f, len, r.group, r.group_len);
	check_inside(f, len, r.topic, r.topic_len);
	CHECK(r.group_len >= 1 && r.group_len <= SN_GROUP_MAX);
	CHECK(sn_topic_name_valid(r.topic, r.topic_len));
	CHECK(nonzero(r.member, SN_MEMBER_BYTES));
	CHECK(r.max_messages >= 1 && r.max_messages <= SN_QRECV_MAX);
	CHECK(SN_QRECV_REQ_BYTES + (size_t)r.group_len + r.topic_len == len);
	long n = sn_encode_queue_receive(out, cap, rb_be32(f + 8), &r);
	CHECK(n > 0 && (size_t)n == len);
	same_but(f, out, len, 44, 4);
	struct sn_queue_receive q;
	CHECK(sn_decode_queue_receive(out, len, &q) == 0);
	CHECK(!memcmp(q.member, r.member, SN_MEMBER_BYTES) &&
	      q.max_messages == r.max_messages &&
	      q.max_wait_ms == r.max_wait_ms && q.group_len == r.group_len &&
	      q.topic_len == r.topic_len);
}

/* A QUEUE_RECEIVE answer: every part, range and record inside the frame,
 * as many parts as it says and nothing after them; rebuilt by the builder
 * to the same bytes when its reserved fields are 0. */
static void qrecv_resp(const uint8_t *f, size_t len, uint8_t *out, size_t cap)
{
	struct sn_qrecv_resp r;
	if (sn_decode_qrecv_resp(f, len, &r))
		return;
	check_inside(f, len, r.parts, r.parts_len);
	CHECK(r.parts == f + SN_QRECV_RESP_BYTES &&
	      r.parts_len == len - SN_QRECV_RESP_BYTES);
	/* the input holds at most 70000 / SN_QRANGE_BYTES ranges */
	static struct sn_qrange ranges[70000 / SN_QRANGE_BYTES + 1];
	struct sn_qrecv_builder b;
	sn_qrecv_resp_begin(&b, out, cap);
	int same = !nonzero(f + 14, 2) && !nonzero(f + 26, 6);
	size_t pos = 0;
	struct sn_qrecv_part p;
	unsigned parts = 0;
	int rc;
	while ((rc = sn_qrecv_next(&r, &pos, &p)) == 1) {
		CHECK(parts++ < r.npartitions);
		CHECK(pos <= r.parts_len);
		check_inside(f, len, p.ranges,
			     (size_t)p.nranges * SN_QRANGE_BYTES);
		check_inside(f, len, p.records, p.records_len);
		CHECK(p.ranges == (const uint8_t *)p.records -
				  (size_t)p.nranges * SN_QRANGE_BYTES);
		same &= !nonzero(p.ranges - 4, 4);
		CHECK(p.nranges <= sizeof(ranges) / sizeof(ranges[0]));
		for (uint16_t i = 0; i < p.nranges; i++) {
			sn_qrecv_range(&p, i, &ranges[i]);
			same &= !nonzero(p.ranges + (size_t)i * SN_QRANGE_BYTES +
					 18, 6);
		}
		CHECK(sn_qrecv_resp_part(&b, p.partition, p.error, ranges,
					 p.nranges, p.records,
					 p.records_len) == 0);
	}
	CHECK(rc == 0 && parts == r.npartitions && pos == r.parts_len);
	long n = sn_qrecv_resp_finish(&b, rb_be32(f + 8),
				      (int16_t)rb_be16(f + 12), r.topic_id,
				      r.lock_ms);
	CHECK(n > 0 && (size_t)n == len);
	if (same)
		CHECK(!memcmp(out, f, len));
}

/* QUEUE_ACK: the rules kept, names and entries inside, the same bytes
 * again but for each entry's 7 reserved bytes. */
static void queue_ack(const uint8_t *f, size_t len, uint8_t *out, size_t cap)
{
	struct sn_queue_ack a;
	if (sn_decode_queue_ack(f, len, &a))
		return;
	check_inside(f, len, a.group, a.group_len);
	check_inside(f, len, a.topic, a.topic_len);
	CHECK(a.group_len >= 1 && a.group_len <= SN_GROUP_MAX);
	CHECK(sn_topic_name_valid(a.topic, a.topic_len));
	CHECK(nonzero(a.member, SN_MEMBER_BYTES));
	CHECK(a.count >= 1 && a.count <= SN_QACK_MAX);
	size_t at = SN_QACK_REQ_BYTES + (size_t)a.group_len + a.topic_len;
	CHECK(a.entries == f + at);
	check_inside(f, len, a.entries,
		     (size_t)a.count * SN_QACK_ENTRY_BYTES);
	CHECK(at + (size_t)a.count * SN_QACK_ENTRY_BYTES == len);
	static struct sn_qack_entry e[SN_QACK_MAX];
	int same = !nonzero(f + 12, 4);
	for (uint32_t i = 0; i < a.count; i++) {
		sn_qack_get(&a, i, &e[i]);
		same &= !nonzero(a.entries + (size_t)i * SN_QACK_ENTRY_BYTES +
				 25, 7);
	}
	long n = sn_encode_queue_ack(out, cap, rb_be32(f + 8), &a, e);
	CHECK(n > 0 && (size_t)n == len);
	if (same)
		CHECK(!memcmp(out, f, len));
	struct sn_queue_ack q;
	CHECK(sn_decode_queue_ack(out, len, &q) == 0 && q.count == a.count &&
	      q.group_len == a.group_len && q.topic_len == a.topic_len);
	for (uint32_t i = 0; i < a.count; i++) {
		struct sn_qack_entry g;
		sn_qack_get(&q, i, &g);
		CHECK(g.first == e[i].first && g.last == e[i].last &&
		      g.partition == e[i].partition &&
		      g.delay_ms == e[i].delay_ms && g.type == e[i].type);
	}
}

/* A QUEUE_ACK answer: its errors inside and exactly filling the frame;
 * encoded again to the same bytes when the padding is 0. */
static void queue_ack_resp(const uint8_t *f, size_t len, uint8_t *out,
			   size_t cap)
{
	uint32_t count, again;
	const uint8_t *errors;
	if (sn_decode_queue_ack_resp(f, len, &count, &errors))
		return;
	CHECK(sn_decode_queue_ack_resp(f, len, &again, NULL) == 0 &&
	      again == count);
	CHECK(SN_QACK_RESP_BYTES + 4 * (uint64_t)count == len);
	CHECK(errors == f + SN_QACK_RESP_BYTES);
	check_inside(f, len, errors, 4 * (size_t)count);
	static int16_t e[70000 / 4];
	CHECK(count <= sizeof(e) / sizeof(e[0]));
	int same = !nonzero(f + 14, 2);
	for (uint32_t i = 0; i < count; i++) {
		e[i] = (int16_t)rb_be16(errors + 4 * (size_t)i);
		same &= !nonzero(errors + 4 * (size_t)i + 2, 2);
	}
	long n = sn_encode_queue_ack_resp(out, cap, rb_be32(f + 8),
					  (int16_t)rb_be16(f + 12), e, count);
	CHECK(n > 0 && (size_t)n == len);
	if (same)
		CHECK(!memcmp(out, f, len));
}

/* ROUTE and its answer: names, rules and entries inside; a request
 * encoded again decodes to the same; an answer's walk meets its count
 * and the builder gives its bytes back (reserved bytes 0). */
static void route(const uint8_t *f, size_t len, uint8_t *out, size_t cap)
{
	struct sn_route r;
	if (sn_decode_route(f, len, &r) == 0) {
		check_inside(f, len, r.name, r.name_len);
		check_inside(f, len, r.rule, r.rule_len);
		CHECK(r.op >= SN_ROUTE_PUT && r.op <= SN_ROUTE_LIST);
		long n = sn_encode_route(out, cap, rb_be32(f + 8), &r);
		struct sn_route q;
		CHECK(n > 0 && (size_t)n == len &&
		      sn_decode_route(out, (size_t)n, &q) == 0);
		CHECK(q.op == r.op && q.name_len == r.name_len &&
		      q.rule_len == r.rule_len &&
		      !memcmp(q.name, r.name, r.name_len) &&
		      !memcmp(q.rule, r.rule, r.rule_len));
	}
	struct sn_route_resp a;
	if (sn_decode_route_resp(f, len, &a))
		return;
	check_inside(f, len, a.message, a.message_len);
	struct sn_route_builder b;
	sn_route_resp_begin(&b, out, cap, a.message, a.message_len);
	size_t pos = 0;
	struct sn_route_entry e;
	uint32_t n = 0;
	int rc, same = !nonzero(f + 14, 2) && !nonzero(f + 22, 2);
	while ((rc = sn_route_next(&a, &pos, &e)) == 1) {
		check_inside(f, len, e.name, e.name_len);
		check_inside(f, len, e.rule, e.rule_len);
		same &= !nonzero((const uint8_t *)e.name - 12, 4);
		CHECK(sn_route_resp_add(&b, &e) == 0);
		n++;
	}
	CHECK(rc == 0 && n == a.count && pos == a.entries_len);
	long l = sn_route_resp_finish(&b, rb_be32(f + 8),
				      (int16_t)rb_be16(f + 12));
	CHECK(l > 0 && (size_t)l == len);
	if (same)
		CHECK(!memcmp(out, f, len));
}

static void fuzz_frame(uint8_t *f, size_t len)
{
	uint8_t out[SN_TCP_MAX_FRAME < 70000 ? SN_TCP_MAX_FRAME : 70000];
	struct sn_produce p;
	if (sn_decode_produce(f, len, &p) == 0) {
		check_inside(f, len, p.batch, p.batch_len);
		long n = sn_encode_produce(out, sizeof(out), rb_be32(f + 8), &p);
		if (n > 0) {
			struct sn_produce q;
			CHECK(sn_decode_produce(out, (size_t)n, &q) == 0);
			CHECK(q.topic_id == p.topic_id && q.partition == p.partition &&
			      q.acks == p.acks && q.batch_len == p.batch_len &&
			      !memcmp(q.batch, p.batch, p.batch_len));
		}
		(void)rb_validate(p.batch, p.batch_len);
	}
	struct sn_fetch fe;
	if (sn_decode_fetch(f, len, &fe) == 0) {
		long n = sn_encode_fetch(out, sizeof(out), 1, &fe);
		struct sn_fetch g;
		CHECK(n == SN_FETCH_REQ_BYTES &&
		      sn_decode_fetch(out, (size_t)n, &g) == 0);
		CHECK(g.offset == fe.offset && g.max_bytes == fe.max_bytes &&
		      g.isolation == fe.isolation);
	}
	struct sn_fetch_resp fr;
	if (sn_decode_fetch_resp(f, len, &fr) == 0)
		check_inside(f, len, fr.records, fr.records_len);
	struct sn_list_offsets lo;
	(void)sn_decode_list_offsets(f, len, &lo);
	struct sn_list_offsets_resp lr;
	(void)sn_decode_list_offsets_resp(f, len, &lr);
	struct sn_produce_resp pr;
	(void)sn_decode_produce_resp(f, len, &pr);

	uint16_t count;
	if (sn_decode_metadata(f, len, &count) == 0) {
		size_t pos = SN_METADATA_REQ_BYTES;
		const char *name;
		uint16_t nlen;
		unsigned seen = 0;
		while (sn_metadata_req_next(f, len, &pos, &name, &nlen) == 1) {
			check_inside(f, len, name, nlen);
			seen++;
		}
		CHECK(seen == count);
	}
	struct sn_metadata_resp mr;
	if (sn_decode_metadata_resp(f, len, &mr) == 0) {
		size_t pos = 0;
		struct sn_topic_info t;
		unsigned bound = 0;
		while (sn_metadata_next(&mr, &pos, &t) == 1 && bound++ < 100000)
			check_inside(f, len, t.name, t.name_len);
	}
	if (sn_decode_leaders(f, len, &count) == 0) {
		size_t pos = SN_LEADERS_REQ_BYTES;
		const char *nm;
		uint16_t nl;
		unsigned seen = 0;
		while (sn_metadata_req_next(f, len, &pos, &nm, &nl) == 1) {
			check_inside(f, len, nm, nl);
			seen++;
		}
		CHECK(seen == count);
	}
	leaders_resp(f, len, out, sizeof(out));
	struct sn_create_topic ct;
	if (sn_decode_create_topic(f, len, &ct) == 0) {
		check_inside(f, len, ct.name, ct.name_len);
		CHECK(sn_topic_name_valid(ct.name, ct.name_len));
		long n = sn_encode_create_topic(out, sizeof(out), 7, &ct);
		struct sn_create_topic c2;
		CHECK(n > 0 && sn_decode_create_topic(out, (size_t)n, &c2) == 0);
		CHECK(c2.partitions == ct.partitions &&
		      c2.name_len == ct.name_len &&
		      !memcmp(c2.name, ct.name, ct.name_len));
	}
	const char *name;
	uint16_t nlen;
	if (sn_decode_delete_topic(f, len, &name, &nlen) == 0)
		check_inside(f, len, name, nlen);
	uint32_t id;
	(void)sn_decode_create_topic_resp(f, len, &id);
	int64_t pid;
	int16_t epoch;
	(void)sn_decode_init_pid_resp(f, len, &pid, &epoch);
	queue_receive(f, len, out, sizeof(out));
	qrecv_resp(f, len, out, sizeof(out));
	queue_ack(f, len, out, sizeof(out));
	queue_ack_resp(f, len, out, sizeof(out));
	route(f, len, out, sizeof(out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sn_header h;
	long n = sn_header_parse(data, size, SN_UDP_MAX_FRAME, &h);
	CHECK(n == 0 || n < 0 || (n >= SN_HEADER_BYTES && n <= SN_UDP_MAX_FRAME));
	if (size < SN_HEADER_BYTES || size > 70000)
		return 0;
	/* Take the input as a whole frame of its own opcode and of every
	 * other one: fix magic, version and length so the decoders get past
	 * the header checks and into the bodies. */
	uint8_t *f = malloc(size);
	CHECK(f != NULL);
	static const uint8_t ops[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
				       0x07, 0x08, 0x09, 0x0A, 0x0B, 0x81,
				       0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
				       0x88, 0x89, 0x8A, 0x8B };
	for (unsigned i = 0; i < sizeof(ops); i++) {
		memcpy(f, data, size);
		rb_put16(f, SN_MAGIC);
		f[2] = SN_VERSION;
		f[3] = ops[i];
		rb_put32(f + 4, (uint32_t)size);
		fuzz_frame(f, size);
	}
	/* and as it came */
	memcpy(f, data, size);
	fuzz_frame(f, size);
	free(f);
	return 0;
}
