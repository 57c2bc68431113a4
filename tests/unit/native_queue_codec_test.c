/*
 * proto/native.c's queue frames: QUEUE_RECEIVE (0x09) and QUEUE_ACK (0x0A),
 * their requests and responses, and the builder of a QUEUE_RECEIVE answer.
 *
 * Each encoder's bytes are compared with the layout written out by hand
 * here (so an encoder and a decoder that agree on a wrong layout still
 * fail); every frame goes encode -> decode with its fields intact, with
 * names, counts and values at their limits; and each decoder refuses, with
 * its exact error code, what proto/native.h says it refuses: every shorter
 * cut of a valid frame (the header's length field left alone and set to
 * the cut), a byte more, a garbled magic, version, opcode or length field,
 * and the cases particular to each frame.  Decoders run on a copy that ends
 * where an unmapped page begins, so a decoder that reads past the length
 * it was given crashes the test.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tl.h"
#include "proto/native.h"

#define BAD (-SN_ERR_INVALID_REQUEST)
#define BAD_VERSION (-SN_ERR_UNSUPPORTED_VERSION)
#define BAD_GROUP (-SN_ERR_INVALID_GROUP_ID)
#define BAD_TOPIC (-SN_ERR_INVALID_TOPIC_EXCEPTION)

/* A decoder's result against the one expected, by protocol error name. */
#define SN_EQ(rc, want)                                                      \
	do {                                                                 \
		long sn_a_ = (long)(rc), sn_b_ = (long)(want);               \
		if (sn_a_ != sn_b_)                                          \
			fail_msg("%s:%d: %s = %ld (%s), expected %ld (%s)",  \
				 __FILE__, __LINE__, #rc, sn_a_,             \
				 sn_error_name((int)-sn_a_), sn_b_,          \
				 sn_error_name((int)-sn_b_));                \
	} while (0)

/* The largest frame built here: 65535 empty parts of one answer. */
#define FRAME_MAX (SN_QRECV_RESP_BYTES + 65536u * SN_QRECV_PART_BYTES)
static uint8_t frame[FRAME_MAX];

/* GUARDED bytes of memory followed by an unmapped page. */
#define GUARDED (2u << 20)
static uint8_t *guarded;

static int map_guard(void **state)
{
	(void)state;
	guarded = tl_guarded(GUARDED);
	return guarded ? 0 : -1;
}

/* n bytes of src copied to end right before the unmapped page. */
static uint8_t *at_edge(const uint8_t *src, size_t n)
{
	assert_true(n <= GUARDED);
	return tl_at_edge(guarded, GUARDED, src, n);
}

/* The 16-byte header as proto/native.h lays it out. */
static void header(uint8_t *p, uint8_t opcode, uint32_t length, uint32_t corr,
		   int16_t error)
{
	tl_native_header(p, opcode, length, corr, error);
}

static void set_length(uint8_t *p, uint32_t length)
{
	rb_put32(p + 4, length);
}

/* Names at their limits: a group of any bytes, a topic of the legal ones. */
static char group255[SN_GROUP_MAX + 1], topic201[SN_NAME_MAX + 1];

static void fill_names(void)
{
	for (unsigned i = 0; i < sizeof(group255); i++)
		group255[i] = (char)(i * 7 + 1); /* no rule but the length */
	static const char legal[] = "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	for (unsigned i = 0; i < sizeof(topic201); i++)
		topic201[i] = legal[i % (sizeof(legal) - 1)];
}

static const uint8_t member_a[SN_MEMBER_BYTES] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
/* one bit set, in the last byte: the least a member id may be */
static const uint8_t member_last[SN_MEMBER_BYTES] = { [15] = 0x01 };
static const uint8_t member_ff[SN_MEMBER_BYTES] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- decoders behind one signature, for the table of refusals ---- */

static int dec_qrecv(const uint8_t *f, size_t len)
{
	struct sn_queue_receive r;
	return sn_decode_queue_receive(f, len, &r);
}

static int dec_qrecv_resp(const uint8_t *f, size_t len)
{
	struct sn_qrecv_resp r;
	return sn_decode_qrecv_resp(f, len, &r);
}

static int dec_qack(const uint8_t *f, size_t len)
{
	struct sn_queue_ack r;
	return sn_decode_queue_ack(f, len, &r);
}

static int dec_qack_resp(const uint8_t *f, size_t len)
{
	uint32_t count;
	const uint8_t *errors;
	return sn_decode_queue_ack_resp(f, len, &count, &errors);
}

/* ---- samples: small valid frames of each kind, into buf ---- */

static long sample_qrecv(uint8_t *buf, size_t cap)
{
	struct sn_queue_receive r = { .max_messages = 100, .max_wait_ms = 500,
				      .group = "g", .group_len = 1,
				      .topic = "orders", .topic_len = 6 };
	memcpy(r.member, member_a, SN_MEMBER_BYTES);
	return sn_encode_queue_receive(buf, cap, 7, &r);
}

static const uint8_t abc[3] = { 'a', 'b', 'c' };

/* Three partitions: ranges and records, an error alone, records alone. */
static long sample_qrecv_resp(uint8_t *buf, size_t cap)
{
	struct sn_qrecv_builder b;
	const struct sn_qrange rg[2] = { { 5, 7, 3 }, { 9, 9, 1 } };
	sn_qrecv_resp_begin(&b, buf, cap);
	if (sn_qrecv_resp_part(&b, 2, 0, rg, 2, abc, 3) ||
	    sn_qrecv_resp_part(&b, 9, SN_ERR_NOT_LEADER_OR_FOLLOWER, NULL, 0,
			       NULL, 0) ||
	    sn_qrecv_resp_part(&b, 4, 0, NULL, 0, abc, 2))
		return -ENOBUFS;
	return sn_qrecv_resp_finish(&b, 8, 0, 5, 30000);
}

static const struct sn_qack_entry two_acks[2] = {
	{ .first = 10, .last = 12, .partition = 1, .delay_ms = 0,
	  .type = SN_ACK_ACCEPT },
	{ .first = 0x0102030405060708ll, .last = 0x0102030405060708ll,
	  .partition = 3, .delay_ms = 1000, .type = SN_ACK_RELEASE },
};

static long sample_qack(uint8_t *buf, size_t cap)
{
	struct sn_queue_ack a = { .group = "g", .group_len = 1,
				  .topic = "orders", .topic_len = 6,
				  .count = 2 };
	memcpy(a.member, member_a, SN_MEMBER_BYTES);
	return sn_encode_queue_ack(buf, cap, 9, &a, two_acks);
}

static const int16_t three_errors[3] = { 0, SN_ERR_INVALID_RECORD_STATE, -1 };

static long sample_qack_resp(uint8_t *buf, size_t cap)
{
	return sn_encode_queue_ack_resp(buf, cap, 10, 0, three_errors, 3);
}

/* ---- layouts ---- */

static void test_qrecv_layout(void **state)
{
	(void)state;
	uint8_t want[SN_QRECV_REQ_BYTES + 7];
	header(want, 0x09, sizeof(want), 7, 0);
	const uint8_t body[32] = {
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, /* id */
		0, 0, 0, 100,      /* max messages */
		0, 0, 0x01, 0xF4,  /* max wait 500 ms */
		0, 1, 0, 6,        /* group length, topic length */
		0, 0, 0, 0,
	};
	memcpy(want + 16, body, sizeof(body));
	memcpy(want + 48, "gorders", 7);
	TL_EQ(sample_qrecv(frame, sizeof(frame)), sizeof(want));
	TL_OK(memcmp(frame, want, sizeof(want)));
	TL_EQ(sample_qrecv(frame, sizeof(want) - 1), -ENOBUFS);

	struct sn_queue_receive r;
	uint8_t *f = at_edge(want, sizeof(want));
	SN_EQ(sn_decode_queue_receive(f, sizeof(want), &r), 0);
	TL_OK(memcmp(r.member, member_a, SN_MEMBER_BYTES));
	TL_EQ(r.max_messages, 100);
	TL_EQ(r.max_wait_ms, 500);
	TL_EQ(r.group_len, 1);
	TL_EQ(r.topic_len, 6);
	TL_TRUE(r.group == (const char *)f + 48);
	TL_TRUE(r.topic == (const char *)f + 49);
}

static void test_qrecv_resp_layout(void **state)
{
	(void)state;
	uint8_t want[32 + (16 + 48 + 3) + 16 + (16 + 2)];
	header(want, 0x89, sizeof(want), 8, 0);
	const uint8_t body[] = {
		0, 0, 0, 5,             /* topic id */
		0, 0, 0x75, 0x30,       /* lock 30000 ms */
		0, 3, 0, 0, 0, 0, 0, 0, /* 3 partitions */
		/* partition 2: 2 ranges, 3 bytes of records */
		0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 7,
		0, 3, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 9,
		0, 1, 0, 0, 0, 0, 0, 0,
		'a', 'b', 'c',
		/* partition 9: NOT_LEADER_OR_FOLLOWER, nothing */
		0, 0, 0, 9, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		/* partition 4: records, no range */
		0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0,
		'a', 'b',
	};
	_Static_assert(sizeof(body) + 16 == sizeof(want), "layout size");
	memcpy(want + 16, body, sizeof(body));
	TL_EQ(sample_qrecv_resp(frame, sizeof(frame)), sizeof(want));
	TL_OK(memcmp(frame, want, sizeof(want)));

	struct sn_qrecv_resp r;
	uint8_t *f = at_edge(want, sizeof(want));
	SN_EQ(sn_decode_qrecv_resp(f, sizeof(want), &r), 0);
	TL_EQ(r.topic_id, 5);
	TL_EQ(r.lock_ms, 30000);
	TL_EQ(r.npartitions, 3);
	TL_TRUE(r.parts == f + 32);
	TL_EQ(r.parts_len, sizeof(want) - 32);
	size_t pos = 0;
	struct sn_qrecv_part p;
	struct sn_qrange g;
	SN_EQ(sn_qrecv_next(&r, &pos, &p), 1);
	TL_EQ(p.partition, 2);
	TL_EQ(p.error, 0);
	TL_EQ(p.nranges, 2);
	TL_TRUE(p.ranges == f + 48);
	TL_TRUE(p.records == f + 96);
	TL_EQ(p.records_len, 3);
	sn_qrecv_range(&p, 1, &g);
	TL_EQ(g.first, 9);
	TL_EQ(g.last, 9);
	TL_EQ(g.delivery_count, 1);
	SN_EQ(sn_qrecv_next(&r, &pos, &p), 1);
	TL_EQ(p.partition, 9);
	TL_EQ(p.error, SN_ERR_NOT_LEADER_OR_FOLLOWER);
	TL_EQ(p.nranges, 0);
	TL_EQ(p.records_len, 0);
	SN_EQ(sn_qrecv_next(&r, &pos, &p), 1);
	TL_EQ(p.partition, 4);
	TL_TRUE(p.records == f + sizeof(want) - 2);
	TL_EQ(p.records_len, 2);
	SN_EQ(sn_qrecv_next(&r, &pos, &p), 0);
	TL_EQ(pos, r.parts_len);
}

static void test_qack_layout(void **state)
{
	(void)state;
	uint8_t want[SN_QACK_REQ_BYTES + 7 + 2 * SN_QACK_ENTRY_BYTES];
	header(want, 0x0A, sizeof(want), 9, 0);
	const uint8_t body[] = {
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, /* id */
		0, 1, 0, 6,  /* group length, topic length */
		0, 0, 0, 2,  /* count */
		'g', 'o', 'r', 'd', 'e', 'r', 's',
		0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 12,
		0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
		0, 0, 0, 3, 0, 0, 0x03, 0xE8, 2, 0, 0, 0, 0, 0, 0, 0,
	};
	_Static_assert(sizeof(body) + 16 == sizeof(want), "layout size");
	memcpy(want + 16, body, sizeof(body));
	TL_EQ(sample_qack(frame, sizeof(frame)), sizeof(want));
	TL_OK(memcmp(frame, want, sizeof(want)));
	TL_EQ(sample_qack(frame, sizeof(want) - 1), -ENOBUFS);

	struct sn_queue_ack a;
	uint8_t *f = at_edge(want, sizeof(want));
	SN_EQ(sn_decode_queue_ack(f, sizeof(want), &a), 0);
	TL_OK(memcmp(a.member, member_a, SN_MEMBER_BYTES));
	TL_EQ(a.count, 2);
	TL_TRUE(a.group == (const char *)f + 40);
	TL_TRUE(a.topic == (const char *)f + 41);
	TL_TRUE(a.entries == f + 47);
	struct sn_qack_entry e;
	sn_qack_get(&a, 1, &e);
	TL_EQ(e.first, 0x0102030405060708ll);
	TL_EQ(e.partition, 3);
	TL_EQ(e.delay_ms, 1000);
	TL_EQ(e.type, SN_ACK_RELEASE);
}

static void test_qack_resp_layout(void **state)
{
	(void)state;
	uint8_t want[SN_QACK_RESP_BYTES + 12];
	header(want, 0x8A, sizeof(want), 10, 0);
	const uint8_t body[] = { 0, 0, 0, 3,
				 0, 0, 0, 0, 0, 121, 0, 0, 0xFF, 0xFF, 0, 0 };
	memcpy(want + 16, body, sizeof(body));
	TL_EQ(sample_qack_resp(frame, sizeof(frame)), sizeof(want));
	TL_OK(memcmp(frame, want, sizeof(want)));
	TL_EQ(sample_qack_resp(frame, sizeof(want) - 1), -ENOBUFS);

	uint32_t count = 0;
	const uint8_t *errors = NULL;
	uint8_t *f = at_edge(want, sizeof(want));
	SN_EQ(sn_decode_queue_ack_resp(f, sizeof(want), &count, &errors), 0);
	TL_EQ(count, 3);
	TL_TRUE(errors == f + 20);
	TL_EQ((int16_t)rb_be16(errors + 4), SN_ERR_INVALID_RECORD_STATE);
	TL_EQ((int16_t)rb_be16(errors + 8), -1);
	/* errors not wanted */
	count = 0;
	SN_EQ(sn_decode_queue_ack_resp(f, sizeof(want), &count, NULL), 0);
	TL_EQ(count, 3);
}

/* An error answer: the header and a zeroed fixed body, which decodes as
 * an answer of nothing. */
static void test_error_resp(void **state)
{
	(void)state;
	uint8_t want[SN_QRECV_RESP_BYTES] = {0};
	header(want, 0x89, 32, 5, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	for (unsigned k = 0; k < 2; k++) {
		uint8_t op = k ? SN_QUEUE_RECEIVE | SN_RESPONSE :
				 SN_QUEUE_RECEIVE;
		memset(frame, 0xEE, 64);
		TL_EQ(sn_encode_error_resp(frame, sizeof(frame), op, 5,
					   SN_ERR_UNKNOWN_TOPIC_OR_PARTITION),
		      32);
		TL_OK(memcmp(frame, want, 32));
		TL_EQ(frame[32], 0xEE);
	}
	TL_EQ(sn_encode_error_resp(frame, 31, SN_QUEUE_RECEIVE, 5, 3),
	      -ENOBUFS);
	TL_EQ(sn_encode_error_resp(frame, sizeof(frame), SN_QUEUE_RECEIVE, 5,
				   SN_ERR_UNKNOWN_TOPIC_OR_PARTITION), 32);
	struct sn_qrecv_resp r;
	memset(&r, 0xA5, sizeof(r));
	uint8_t *f = at_edge(frame, 32);
	SN_EQ(sn_decode_qrecv_resp(f, 32, &r), 0);
	TL_EQ(r.npartitions, 0);
	TL_EQ(r.topic_id, 0);
	TL_EQ(r.lock_ms, 0);
	TL_EQ(r.parts_len, 0);
	size_t pos = 0;
	struct sn_qrecv_part p;
	SN_EQ(sn_qrecv_next(&r, &pos, &p), 0);

	uint8_t want_ack[SN_QACK_RESP_BYTES] = {0};
	header(want_ack, 0x8A, 20, 6, SN_ERR_COORDINATOR_NOT_AVAILABLE);
	for (unsigned k = 0; k < 2; k++) {
		uint8_t op = k ? SN_QUEUE_ACK | SN_RESPONSE : SN_QUEUE_ACK;
		memset(frame, 0xEE, 64);
		TL_EQ(sn_encode_error_resp(frame, sizeof(frame), op, 6,
					   SN_ERR_COORDINATOR_NOT_AVAILABLE),
		      20);
		TL_OK(memcmp(frame, want_ack, 20));
		TL_EQ(frame[20], 0xEE);
	}
	TL_EQ(sn_encode_error_resp(frame, 19, SN_QUEUE_ACK, 6, 15), -ENOBUFS);
	TL_EQ(sn_encode_error_resp(frame, sizeof(frame), SN_QUEUE_ACK, 6,
				   SN_ERR_COORDINATOR_NOT_AVAILABLE), 20);
	uint32_t count = 99;
	const uint8_t *errors = NULL;
	f = at_edge(frame, 20);
	SN_EQ(sn_decode_queue_ack_resp(f, 20, &count, &errors), 0);
	TL_EQ(count, 0);
	TL_TRUE(errors == f + 20);
}

/* ---- round trips ---- */

static void qrecv_round_trip(const uint8_t *member, uint32_t max,
			     uint32_t wait_ms, const char *group,
			     uint16_t group_len, const char *topic,
			     uint16_t topic_len)
{
	struct sn_queue_receive r = { .max_messages = max,
				      .max_wait_ms = wait_ms,
				      .group = group, .group_len = group_len,
				      .topic = topic, .topic_len = topic_len };
	memcpy(r.member, member, SN_MEMBER_BYTES);
	size_t len = SN_QRECV_REQ_BYTES + (size_t)group_len + topic_len;
	TL_EQ(sn_encode_queue_receive(frame, len - 1, 0xdeadbeef, &r),
	      -ENOBUFS);
	TL_EQ(sn_encode_queue_receive(frame, len, 0xdeadbeef, &r), len);
	uint8_t *f = at_edge(frame, len);
	TL_EQ(f[3], SN_QUEUE_RECEIVE);
	TL_EQ(rb_be32(f + 4), len);
	TL_EQ(rb_be32(f + 8), 0xdeadbeef);
	struct sn_queue_receive back;
	memset(&back, 0xA5, sizeof(back));
	SN_EQ(sn_decode_queue_receive(f, len, &back), 0);
	TL_OK(memcmp(back.member, member, SN_MEMBER_BYTES));
	TL_EQ(back.max_messages, max);
	TL_EQ(back.max_wait_ms, wait_ms);
	TL_EQ(back.group_len, group_len);
	TL_EQ(back.topic_len, topic_len);
	TL_TRUE(back.group == (const char *)f + SN_QRECV_REQ_BYTES);
	TL_TRUE(back.topic == back.group + group_len);
	TL_OK(memcmp(back.group, group, group_len));
	TL_OK(memcmp(back.topic, topic, topic_len));
}

static void test_qrecv_round_trips(void **state)
{
	(void)state;
	qrecv_round_trip(member_a, 1, 0, "g", 1, "t", 1);
	qrecv_round_trip(member_last, SN_QRECV_MAX, UINT32_MAX, group255,
			 SN_GROUP_MAX, topic201, SN_NAME_MAX);
	qrecv_round_trip(member_ff, 1, 1, group255, SN_GROUP_MAX, "t", 1);
	qrecv_round_trip(member_a, SN_QRECV_MAX, 500, "g", 1, topic201,
			 SN_NAME_MAX);
	qrecv_round_trip(member_ff, 4096, 30000, "workers", 7, "a.b_c-D9",
			 8);
	qrecv_round_trip(member_a, 2, 0, "\0", 1, "...", 3); /* legal both */
}

/* One partition of an answer, as given to the builder. */
struct part_in {
	int32_t partition;
	int16_t error;
	const struct sn_qrange *ranges;
	uint16_t nranges;
	const uint8_t *records;
	uint32_t records_len;
};

/* Build an answer of n parts, decode it at the edge, and walk it back. */
static void qrecv_resp_round_trip(const struct part_in *in, unsigned n,
				  int16_t error, uint32_t topic_id,
				  uint32_t lock_ms)
{
	size_t len = SN_QRECV_RESP_BYTES;
	for (unsigned i = 0; i < n; i++)
		len += SN_QRECV_PART_BYTES +
		       (size_t)in[i].nranges * SN_QRANGE_BYTES +
		       in[i].records_len;
	assert_true(len <= sizeof(frame));
	struct sn_qrecv_builder b;
	sn_qrecv_resp_begin(&b, frame, len);
	for (unsigned i = 0; i < n; i++)
		TL_OK(sn_qrecv_resp_part(&b, in[i].partition, in[i].error,
					 in[i].ranges, in[i].nranges,
					 in[i].records, in[i].records_len));
	TL_EQ(sn_qrecv_resp_finish(&b, 77, error, topic_id, lock_ms), len);

	uint8_t *f = at_edge(frame, len);
	TL_EQ(f[3], SN_QUEUE_RECEIVE | SN_RESPONSE);
	TL_EQ((int16_t)rb_be16(f + 12), error);
	struct sn_qrecv_resp r;
	SN_EQ(sn_decode_qrecv_resp(f, len, &r), 0);
	TL_EQ(r.topic_id, topic_id);
	TL_EQ(r.lock_ms, lock_ms);
	TL_EQ(r.npartitions, n);
	size_t pos = 0;
	struct sn_qrecv_part p;
	for (unsigned i = 0; i < n; i++) {
		SN_EQ(sn_qrecv_next(&r, &pos, &p), 1);
		TL_EQ(p.partition, in[i].partition);
		TL_EQ(p.error, in[i].error);
		TL_EQ(p.nranges, in[i].nranges);
		TL_EQ(p.records_len, in[i].records_len);
		TL_TRUE(p.records >= f && p.records + p.records_len <= f + len);
		if (in[i].records_len)
			TL_OK(memcmp(p.records, in[i].records,
				     in[i].records_len));
		for (uint16_t k = 0; k < p.nranges; k++) {
			struct sn_qrange g;
			sn_qrecv_range(&p, k, &g);
			TL_EQ(g.first, in[i].ranges[k].first);
			TL_EQ(g.last, in[i].ranges[k].last);
			TL_EQ(g.delivery_count, in[i].ranges[k].delivery_count);
		}
	}
	SN_EQ(sn_qrecv_next(&r, &pos, &p), 0);
	TL_EQ(pos, r.parts_len);
	TL_EQ(pos, len - SN_QRECV_RESP_BYTES);
}

static void test_qrecv_resp_round_trips(void **state)
{
	(void)state;
	static uint8_t records[4096];
	for (unsigned i = 0; i < sizeof(records); i++)
		records[i] = (uint8_t)(i * 31 + 7);
	static const struct sn_qrange three[3] = {
		{ 0, 0, 1 }, { 2, 5, 2 }, { 100, 199, 65535 } };
	static const struct sn_qrange extremes[2] = {
		{ 0, 0, 0 }, { INT64_MAX - 1, INT64_MAX, 65535 } };
	static const struct sn_qrange one = { 1ll << 40, (1ll << 40) + 7, 3 };
	const struct part_in several[] = {
		{ 0, 0, three, 3, records, 100 },
		{ 7, SN_ERR_NOT_LEADER_OR_FOLLOWER, NULL, 0, NULL, 0 },
		{ SN_PARTITIONS_MAX - 1, 0, &one, 1, records + 100, 1 },
		{ 2, 0, extremes, 2, NULL, 0 },         /* ranges alone */
		{ -1, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION, NULL, 0, records,
		  sizeof(records) },                   /* records alone */
	};
	qrecv_resp_round_trip(several, 5, 0, 0x01020304, 30000);
	qrecv_resp_round_trip(several, 1, 0, 1, 0);
	qrecv_resp_round_trip(several + 1, 4, SN_ERR_COORDINATOR_NOT_AVAILABLE,
			      UINT32_MAX, UINT32_MAX);
	qrecv_resp_round_trip(NULL, 0, 0, 9, 1000);

	/* the most messages one receive hands out, each its own range */
	static struct sn_qrange each[SN_QRECV_MAX];
	for (unsigned i = 0; i < SN_QRECV_MAX; i++)
		each[i] = (struct sn_qrange){ 2 * (int64_t)i, 2 * (int64_t)i,
					      (uint16_t)(i % 7 + 1) };
	const struct part_in most[] = {
		{ 3, 0, each, SN_QRECV_MAX / 2, records, 512 },
		{ 4, 0, each + SN_QRECV_MAX / 2, SN_QRECV_MAX / 2, records,
		  1024 },
	};
	qrecv_resp_round_trip(most, 2, 0, 2, 60000);
}

/* Ranges a client would walk offset by offset: refused. */
static void test_qrecv_resp_bad_ranges(void **state)
{
	(void)state;
	static const struct sn_qrange bad[][2] = {
		{ { -1, 0, 1 }, { 0, 0, 1 } },             /* first < 0 */
		{ { 5, 4, 1 }, { 0, 0, 1 } },              /* last < first */
		{ { 0, SN_QRECV_MAX, 1 }, { 0, 0, 1 } },   /* 8193 offsets */
		{ { 0, INT64_MAX, 1 }, { 0, 0, 1 } },
		{ { 0, SN_QRECV_MAX - 1, 1 }, { 9, 9, 1 } }, /* 8192 + 1 */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sn_qrecv_builder b;
		sn_qrecv_resp_begin(&b, frame, sizeof(frame));
		TL_OK(sn_qrecv_resp_part(&b, 0, 0, bad[i], 2, NULL, 0));
		long len = sn_qrecv_resp_finish(&b, 1, 0, 1, 1000);
		TL_TRUE(len > 0);
		struct sn_qrecv_resp r;
		SN_EQ(sn_decode_qrecv_resp(frame, (size_t)len, &r),
		      -SN_ERR_INVALID_REQUEST);
	}
	/* exactly SN_QRECV_MAX offsets in all: fine */
	static const struct sn_qrange full[2] = {
		{ 0, SN_QRECV_MAX - 2, 1 }, { 1 << 20, 1 << 20, 2 } };
	struct sn_qrecv_builder b;
	sn_qrecv_resp_begin(&b, frame, sizeof(frame));
	TL_OK(sn_qrecv_resp_part(&b, 0, 0, full, 2, NULL, 0));
	long len = sn_qrecv_resp_finish(&b, 1, 0, 1, 1000);
	struct sn_qrecv_resp r;
	SN_EQ(sn_decode_qrecv_resp(frame, (size_t)len, &r), 0);
}

static void qack_round_trip(const uint8_t *member, const char *group,
			    uint16_t group_len, const char *topic,
			    uint16_t topic_len, const struct sn_qack_entry *e,
			    uint32_t count)
{
	struct sn_queue_ack a = { .group = group, .group_len = group_len,
				  .topic = topic, .topic_len = topic_len,
				  .count = count };
	memcpy(a.member, member, SN_MEMBER_BYTES);
	size_t at = SN_QACK_REQ_BYTES + (size_t)group_len + topic_len;
	size_t len = at + (size_t)count * SN_QACK_ENTRY_BYTES;
	assert_true(len <= sizeof(frame));
	TL_EQ(sn_encode_queue_ack(frame, len - 1, 3, &a, e), -ENOBUFS);
	TL_EQ(sn_encode_queue_ack(frame, len, 3, &a, e), len);
	uint8_t *f = at_edge(frame, len);
	TL_EQ(f[3], SN_QUEUE_ACK);
	TL_EQ(rb_be32(f + 4), len);
	struct sn_queue_ack back;
	memset(&back, 0xA5, sizeof(back));
	SN_EQ(sn_decode_queue_ack(f, len, &back), 0);
	TL_OK(memcmp(back.member, member, SN_MEMBER_BYTES));
	TL_EQ(back.group_len, group_len);
	TL_EQ(back.topic_len, topic_len);
	TL_EQ(back.count, count);
	TL_TRUE(back.group == (const char *)f + SN_QACK_REQ_BYTES);
	TL_TRUE(back.topic == back.group + group_len);
	TL_TRUE(back.entries == f + at);
	TL_OK(memcmp(back.group, group, group_len));
	TL_OK(memcmp(back.topic, topic, topic_len));
	for (uint32_t i = 0; i < count; i++) {
		struct sn_qack_entry g;
		memset(&g, 0xA5, sizeof(g));
		sn_qack_get(&back, i, &g);
		if (g.first != e[i].first || g.last != e[i].last ||
		    g.partition != e[i].partition ||
		    g.delay_ms != e[i].delay_ms || g.type != e[i].type)
			fail_msg("entry %u of %u read back differently", i,
				 count);
	}
}

static void test_qack_round_trips(void **state)
{
	(void)state;
	static struct sn_qack_entry many[SN_QACK_MAX];
	for (uint32_t i = 0; i < SN_QACK_MAX; i++)
		many[i] = (struct sn_qack_entry){
			.first = (int64_t)i * 1000003, .last =
				(int64_t)i * 1000003 + (int64_t)(i % 5),
			.partition = (int32_t)(i % SN_PARTITIONS_MAX),
			.delay_ms = i % 4 == 1 ? i * 977u : 0,
			.type = (uint8_t)(SN_ACK_ACCEPT + i % 4) };
	const struct sn_qack_entry edge = { INT64_MIN, INT64_MAX, INT32_MIN,
					    UINT32_MAX, SN_ACK_EXTEND };
	qack_round_trip(member_a, "g", 1, topic201, SN_NAME_MAX, &edge, 1);
	qack_round_trip(member_last, group255, SN_GROUP_MAX, "t", 1, many,
			SN_QACK_MAX);
	qack_round_trip(member_ff, group255, SN_GROUP_MAX, topic201,
			SN_NAME_MAX, many + 17, 4);
	qack_round_trip(member_a, "workers", 7, "orders", 6, two_acks, 2);
}

static void qack_resp_round_trip(const int16_t *errors, uint32_t count,
				 int16_t error)
{
	size_t len = SN_QACK_RESP_BYTES + 4 * (size_t)count;
	TL_EQ(sn_encode_queue_ack_resp(frame, len - 1, 4, error, errors,
				       count), -ENOBUFS);
	TL_EQ(sn_encode_queue_ack_resp(frame, len, 4, error, errors, count),
	      len);
	uint8_t *f = at_edge(frame, len);
	TL_EQ(f[3], SN_QUEUE_ACK | SN_RESPONSE);
	TL_EQ((int16_t)rb_be16(f + 12), error);
	uint32_t n = UINT32_MAX;
	const uint8_t *e = NULL;
	SN_EQ(sn_decode_queue_ack_resp(f, len, &n, &e), 0);
	TL_EQ(n, count);
	TL_TRUE(e == f + SN_QACK_RESP_BYTES);
	for (uint32_t i = 0; i < count; i++) {
		if ((int16_t)rb_be16(e + 4 * i) != errors[i] ||
		    rb_be16(e + 4 * i + 2) != 0)
			fail_msg("error %u of %u read back differently", i,
				 count);
	}
}

static void test_qack_resp_round_trips(void **state)
{
	(void)state;
	static int16_t errors[SN_QACK_MAX];
	static const int16_t codes[] = { 0, SN_ERR_INVALID_RECORD_STATE,
					 SN_ERR_INVALID_REQUEST, -1,
					 INT16_MIN, INT16_MAX };
	for (unsigned i = 0; i < SN_QACK_MAX; i++)
		errors[i] = codes[i % (sizeof(codes) / sizeof(codes[0]))];
	qack_resp_round_trip(NULL, 0, 0);
	qack_resp_round_trip(errors + 1, 1, 0);
	qack_resp_round_trip(errors, SN_QACK_MAX, 0);
	qack_resp_round_trip(errors + 3, 3, SN_ERR_UNKNOWN_SERVER_ERROR);
}

/* ---- the answer's builder: out of room ---- */

static void test_qrecv_builder_overflow(void **state)
{
	(void)state;
	struct sn_qrecv_builder b;
	const struct sn_qrange rg[2] = { { 1, 2, 1 }, { 4, 4, 2 } };
	const size_t part = SN_QRECV_PART_BYTES + 2 * SN_QRANGE_BYTES + 3;

	/* no room for the fixed part: nothing can be added or finished */
	sn_qrecv_resp_begin(&b, frame, SN_QRECV_RESP_BYTES - 1);
	TL_EQ(sn_qrecv_resp_part(&b, 0, 0, NULL, 0, NULL, 0), -ENOBUFS);
	TL_EQ(sn_qrecv_resp_finish(&b, 1, 0, 1, 1), -ENOBUFS);
	sn_qrecv_resp_begin(&b, frame, SN_QRECV_RESP_BYTES - 1);
	TL_EQ(sn_qrecv_resp_finish(&b, 1, 0, 1, 1), -ENOBUFS);
	/* the fixed part alone fits */
	sn_qrecv_resp_begin(&b, frame, SN_QRECV_RESP_BYTES);
	TL_EQ(sn_qrecv_resp_finish(&b, 1, 0, 1, 1), SN_QRECV_RESP_BYTES);

	/* a part one byte too big: refused, nothing written past the cap,
	 * and the builder stays failed for a part that would fit */
	size_t cap = SN_QRECV_RESP_BYTES + part - 1;
	memset(frame, 0xEE, cap + part);
	sn_qrecv_resp_begin(&b, frame, cap);
	TL_EQ(sn_qrecv_resp_part(&b, 1, 0, rg, 2, abc, 3), -ENOBUFS);
	for (size_t i = SN_QRECV_RESP_BYTES; i < cap + part; i++)
		if (frame[i] != 0xEE)
			fail_msg("byte %zu written by a refused part", i);
	TL_EQ(sn_qrecv_resp_part(&b, 1, 0, NULL, 0, NULL, 0), -ENOBUFS);
	TL_EQ(sn_qrecv_resp_finish(&b, 1, 0, 1, 1), -ENOBUFS);

	/* records or ranges alone one byte over */
	sn_qrecv_resp_begin(&b, frame, SN_QRECV_RESP_BYTES +
				       SN_QRECV_PART_BYTES + 2);
	TL_EQ(sn_qrecv_resp_part(&b, 1, 0, NULL, 0, abc, 3), -ENOBUFS);
	TL_EQ(sn_qrecv_resp_finish(&b, 1, 0, 1, 1), -ENOBUFS);
	sn_qrecv_resp_begin(&b, frame, SN_QRECV_RESP_BYTES +
				       SN_QRECV_PART_BYTES +
				       2 * SN_QRANGE_BYTES - 1);
	TL_EQ(sn_qrecv_resp_part(&b, 1, 0, rg, 2, NULL, 0), -ENOBUFS);
	TL_EQ(sn_qrecv_resp_finish(&b, 1, 0, 1, 1), -ENOBUFS);

	/* a second part that does not fit fails the whole answer */
	cap = SN_QRECV_RESP_BYTES + part + SN_QRECV_PART_BYTES - 1;
	sn_qrecv_resp_begin(&b, frame, cap);
	TL_OK(sn_qrecv_resp_part(&b, 1, 0, rg, 2, abc, 3));
	TL_EQ(sn_qrecv_resp_part(&b, 2, 0, NULL, 0, NULL, 0), -ENOBUFS);
	TL_EQ(sn_qrecv_resp_finish(&b, 1, 0, 1, 1), -ENOBUFS);
	/* and with the byte it lacked, both fit exactly */
	sn_qrecv_resp_begin(&b, frame, cap + 1);
	TL_OK(sn_qrecv_resp_part(&b, 1, 0, rg, 2, abc, 3));
	TL_OK(sn_qrecv_resp_part(&b, 2, 0, NULL, 0, NULL, 0));
	TL_EQ(sn_qrecv_resp_finish(&b, 1, 0, 1, 1), cap + 1);
}

/* The partition count is 16 bits: the 65536th part is refused however
 * much room there is, and 65535 decode. */
static void test_qrecv_builder_count(void **state)
{
	(void)state;
	struct sn_qrecv_builder b;
	sn_qrecv_resp_begin(&b, frame, sizeof(frame));
	for (unsigned i = 0; i < UINT16_MAX; i++)
		if (sn_qrecv_resp_part(&b, (int32_t)i, 0, NULL, 0, NULL, 0))
			fail_msg("part %u refused", i);
	size_t len = SN_QRECV_RESP_BYTES +
		     (size_t)UINT16_MAX * SN_QRECV_PART_BYTES;
	TL_EQ(b.len, len);
	TL_EQ(sn_qrecv_resp_finish(&b, 1, 0, 1, 1), len);
	uint8_t *f = at_edge(frame, len);
	struct sn_qrecv_resp r;
	SN_EQ(sn_decode_qrecv_resp(f, len, &r), 0);
	TL_EQ(r.npartitions, UINT16_MAX);
	size_t pos = 0;
	struct sn_qrecv_part p;
	unsigned n = 0;
	while (sn_qrecv_next(&r, &pos, &p) == 1)
		TL_EQ(p.partition, n++);
	TL_EQ(n, UINT16_MAX);

	TL_TRUE(b.len + SN_QRECV_PART_BYTES <= b.cap);
	TL_EQ(sn_qrecv_resp_part(&b, 0, 0, NULL, 0, NULL, 0), -ENOBUFS);
	TL_EQ(sn_qrecv_resp_finish(&b, 1, 0, 1, 1), -ENOBUFS);
}

/* ---- refusals common to every frame ---- */

struct kind {
	const char *name;
	int (*dec)(const uint8_t *, size_t);
	long (*sample)(uint8_t *, size_t);
};

static const struct kind kinds[] = {
	{ "QUEUE_RECEIVE", dec_qrecv, sample_qrecv },
	{ "QUEUE_RECEIVE response", dec_qrecv_resp, sample_qrecv_resp },
	{ "QUEUE_ACK", dec_qack, sample_qack },
	{ "QUEUE_ACK response", dec_qack_resp, sample_qack_resp },
};

/* Every cut, a byte more, and each garbled header field of a valid frame
 * is refused with the error the header rule gives; every frame's size is
 * fixed by its contents. */
static void refusals(const struct kind *k)
{
	static uint8_t good[4096], tmp[4096];
	long n = k->sample(good, sizeof(good));
	assert_true(n > 0 && (size_t)n < sizeof(good));
	size_t len = (size_t)n;
	uint8_t *f;
	SN_EQ(k->dec(at_edge(good, len), len), 0);
	for (size_t cut = 0; cut < len; cut++) {
		memcpy(tmp, good, len);
		int rc = k->dec(at_edge(tmp, cut), cut); /* header: len */
		if (rc != BAD)
			fail_msg("%s: a cut to %zu bytes gave %d, not %d",
				 k->name, cut, rc, BAD);
		if (cut < SN_HEADER_BYTES)
			continue;
		set_length(tmp, (uint32_t)cut);
		rc = k->dec(at_edge(tmp, cut), cut);
		if (rc != BAD)
			fail_msg("%s: a cut to %zu bytes, its length field "
				 "too, gave %d, not %d", k->name, cut, rc, BAD);
	}
	memcpy(tmp, good, len);
	tmp[len] = 0;
	f = at_edge(tmp, len + 1);
	SN_EQ(k->dec(f, len + 1), BAD); /* the header says len */
	set_length(f, (uint32_t)len + 1);
	SN_EQ(k->dec(f, len + 1), BAD);
	const struct {
		size_t at;
		uint8_t x;
		int want;
	} flips[] = {
		{ 0, 0x01, BAD },         /* magic */
		{ 1, 0x80, BAD },
		{ 2, 0x03, BAD_VERSION }, /* version 2 */
		{ 2, 0x01, BAD_VERSION }, /* version 0 */
		{ 2, 0xFE, BAD_VERSION }, /* version 255 */
		{ 3, 0x80, BAD },         /* request <-> response */
		{ 3, 0x03, BAD },         /* 0x09 <-> 0x0A */
		{ 3, 0x01, BAD },         /* LEADERS (0x08), ROUTE (0x0B) */
		{ 4, 0x01, BAD },         /* length field */
		{ 7, 0x01, BAD },
	};
	for (unsigned i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		f = at_edge(good, len);
		f[flips[i].at] ^= flips[i].x;
		int rc = k->dec(f, len);
		if (rc != flips[i].want)
			fail_msg("%s: byte %zu ^ 0x%02x gave %d, not %d",
				 k->name, flips[i].at, flips[i].x, rc,
				 flips[i].want);
	}
	SN_EQ(k->dec(NULL, 0), BAD);
	/* each other kind's frame is the wrong opcode here */
	for (unsigned j = 0; j < sizeof(kinds) / sizeof(kinds[0]); j++) {
		if (kinds[j].dec == k->dec)
			continue;
		long m = kinds[j].sample(tmp, sizeof(tmp));
		assert_true(m > 0);
		int rc = k->dec(at_edge(tmp, (size_t)m), (size_t)m);
		if (rc != BAD)
			fail_msg("%s: a %s frame gave %d, not %d", k->name,
				 kinds[j].name, rc, BAD);
	}
}

static void test_refusals_common(void **state)
{
	(void)state;
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		refusals(&kinds[i]);
}

/* ---- refusals particular to each frame ---- */

static int qrecv_with(const uint8_t *member, uint32_t max, const char *group,
		      uint16_t group_len, const char *topic,
		      uint16_t topic_len)
{
	struct sn_queue_receive r = { .max_messages = max, .max_wait_ms = 10,
				      .group = group, .group_len = group_len,
				      .topic = topic, .topic_len = topic_len };
	memcpy(r.member, member, SN_MEMBER_BYTES);
	long n = sn_encode_queue_receive(frame, sizeof(frame), 1, &r);
	assert_true(n == (long)(SN_QRECV_REQ_BYTES + group_len + topic_len));
	return dec_qrecv(at_edge(frame, (size_t)n), (size_t)n);
}

/* Topic names the rule refuses, and some it does not. */
static const struct {
	const char *name;
	uint16_t len;
} bad_topics[] = {
	{ "", 0 }, { ".", 1 }, { "..", 2 }, { "a/b", 3 }, { "a b", 3 },
	{ "a\0b", 3 }, { "\xc3\xa9t\xc3\xa9", 5 }, { "a+b", 3 }, { "a*", 2 },
	{ "a:b", 3 }, { "\x7f", 1 },
}, good_topics[] = {
	{ "...", 3 }, { "-", 1 }, { "_", 1 }, { ".a", 2 }, { "a..", 3 },
};

static void test_qrecv_refusals(void **state)
{
	(void)state;
	static const uint8_t zero[SN_MEMBER_BYTES];
	static const uint8_t first_only[SN_MEMBER_BYTES] = { 0x80 };
	SN_EQ(qrecv_with(zero, 1, "g", 1, "t", 1), BAD);
	SN_EQ(qrecv_with(member_last, 1, "g", 1, "t", 1), 0);
	SN_EQ(qrecv_with(first_only, 1, "g", 1, "t", 1), 0);

	SN_EQ(qrecv_with(member_a, 0, "g", 1, "t", 1), BAD);
	SN_EQ(qrecv_with(member_a, SN_QRECV_MAX + 1, "g", 1, "t", 1), BAD);
	SN_EQ(qrecv_with(member_a, UINT32_MAX, "g", 1, "t", 1), BAD);
	SN_EQ(qrecv_with(member_a, 0x80000001u, "g", 1, "t", 1), BAD);
	SN_EQ(qrecv_with(member_a, SN_QRECV_MAX, "g", 1, "t", 1), 0);

	SN_EQ(qrecv_with(member_a, 1, "", 0, "t", 1), BAD_GROUP);
	SN_EQ(qrecv_with(member_a, 1, group255, SN_GROUP_MAX + 1, "t", 1),
	      BAD_GROUP);
	SN_EQ(qrecv_with(member_a, 1, group255, SN_GROUP_MAX, "t", 1), 0);

	SN_EQ(qrecv_with(member_a, 1, "g", 1, topic201, SN_NAME_MAX + 1),
	      BAD_TOPIC);
	for (unsigned i = 0; i < sizeof(bad_topics) / sizeof(bad_topics[0]);
	     i++)
		if (qrecv_with(member_a, 1, "g", 1, bad_topics[i].name,
			       bad_topics[i].len) != BAD_TOPIC)
			fail_msg("topic %u (%.*s) not refused as a name", i,
				 (int)bad_topics[i].len, bad_topics[i].name);
	for (unsigned i = 0; i < sizeof(good_topics) / sizeof(good_topics[0]);
	     i++)
		SN_EQ(qrecv_with(member_a, 1, "g", 1, good_topics[i].name,
				 good_topics[i].len), 0);

	/* name lengths that disagree with the frame's */
	long n = sample_qrecv(frame, sizeof(frame));
	assert_true(n > 0);
	const struct {
		size_t at;
		uint16_t v;
	} lens[] = {
		{ 40, 2 }, { 40, 0 }, { 40, 0xFFFF }, /* group length */
		{ 42, 7 }, { 42, 5 }, { 42, 0xFFFF }, /* topic length */
	};
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *f = at_edge(frame, (size_t)n);
		rb_put16(f + lens[i].at, lens[i].v);
		int rc = dec_qrecv(f, (size_t)n);
		if (rc != BAD)
			fail_msg("length %u at %zu gave %d, not %d",
				 lens[i].v, lens[i].at, rc, BAD);
	}
}

static int qack_with(const uint8_t *member, const char *group,
		     uint16_t group_len, const char *topic, uint16_t topic_len,
		     const struct sn_qack_entry *e, uint32_t count)
{
	struct sn_queue_ack a = { .group = group, .group_len = group_len,
				  .topic = topic, .topic_len = topic_len,
				  .count = count };
	memcpy(a.member, member, SN_MEMBER_BYTES);
	long n = sn_encode_queue_ack(frame, sizeof(frame), 1, &a, e);
	assert_true(n == (long)(SN_QACK_REQ_BYTES + group_len + topic_len +
				(size_t)count * SN_QACK_ENTRY_BYTES));
	return dec_qack(at_edge(frame, (size_t)n), (size_t)n);
}

static void test_qack_refusals(void **state)
{
	(void)state;
	static const uint8_t zero[SN_MEMBER_BYTES];
	static struct sn_qack_entry e[SN_QACK_MAX + 1];
	for (unsigned i = 0; i <= SN_QACK_MAX; i++)
		e[i] = (struct sn_qack_entry){ i, i, 0, 0, SN_ACK_ACCEPT };

	SN_EQ(qack_with(member_a, "g", 1, "t", 1, e, 0), BAD);
	SN_EQ(qack_with(member_a, "g", 1, "t", 1, e, SN_QACK_MAX + 1), BAD);
	SN_EQ(qack_with(member_a, "g", 1, "t", 1, e, SN_QACK_MAX), 0);
	SN_EQ(qack_with(zero, "g", 1, "t", 1, e, 1), BAD);
	SN_EQ(qack_with(member_last, "g", 1, "t", 1, e, 1), 0);
	SN_EQ(qack_with(member_a, "", 0, "t", 1, e, 1), BAD_GROUP);
	SN_EQ(qack_with(member_a, group255, SN_GROUP_MAX + 1, "t", 1, e, 1),
	      BAD_GROUP);
	SN_EQ(qack_with(member_a, group255, SN_GROUP_MAX, "t", 1, e, 1), 0);
	SN_EQ(qack_with(member_a, "g", 1, topic201, SN_NAME_MAX + 1, e, 1),
	      BAD_TOPIC);
	for (unsigned i = 0; i < sizeof(bad_topics) / sizeof(bad_topics[0]);
	     i++)
		if (qack_with(member_a, "g", 1, bad_topics[i].name,
			      bad_topics[i].len, e, 1) != BAD_TOPIC)
			fail_msg("topic %u (%.*s) not refused as a name", i,
				 (int)bad_topics[i].len, bad_topics[i].name);

	/* entries that do not fill the frame exactly: the count field one
	 * off, or the frame a byte or a whole entry longer than it says */
	long n = sample_qack(frame, sizeof(frame));
	assert_true(n > 0);
	size_t len = (size_t)n;
	const uint32_t counts[] = { 1, 3, 0, 0x08000000u, UINT32_MAX };
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		uint8_t *f = at_edge(frame, len);
		rb_put32(f + 36, counts[i]);
		int rc = dec_qack(f, len);
		if (rc != BAD)
			fail_msg("count %u in a frame of 2 gave %d, not %d",
				 counts[i], rc, BAD);
	}
	const struct {
		size_t at;
		uint16_t v;
	} lens[] = { { 32, 2 }, { 32, 0xFFFF }, { 34, 5 }, { 34, 7 } };
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *f = at_edge(frame, len);
		rb_put16(f + lens[i].at, lens[i].v);
		int rc = dec_qack(f, len);
		if (rc != BAD)
			fail_msg("length %u at %zu gave %d, not %d",
				 lens[i].v, lens[i].at, rc, BAD);
	}
	for (size_t more = 1; more <= SN_QACK_ENTRY_BYTES; more++) {
		memset(frame + len, 0, more);
		uint8_t *f = at_edge(frame, len + more);
		set_length(f, (uint32_t)(len + more));
		int rc = dec_qack(f, len + more);
		if (rc != BAD)
			fail_msg("%zu bytes after the entries gave %d, not %d",
				 more, rc, BAD);
	}
	/* with the count saying so, the extra entry is one */
	uint8_t *f = at_edge(frame, len + SN_QACK_ENTRY_BYTES);
	set_length(f, (uint32_t)(len + SN_QACK_ENTRY_BYTES));
	SN_EQ(dec_qack(f, len + SN_QACK_ENTRY_BYTES), BAD);
	rb_put32(f + 36, 3);
	SN_EQ(dec_qack(f, len + SN_QACK_ENTRY_BYTES), 0);

	/* each entry's fields are the caller's to check (native.h) */
	const struct sn_qack_entry odd[3] = {
		{ 9, 3, -1, 0, 0 },      /* last before first, type 0 */
		{ -5, -5, 0, 0, SN_ACK_EXTEND + 1 },
		{ 0, 0, 0, 0, 0xFF },
	};
	SN_EQ(qack_with(member_a, "g", 1, "t", 1, odd, 3), 0);
	struct sn_queue_ack a;
	f = at_edge(frame, SN_QACK_REQ_BYTES + 2 + 3 * SN_QACK_ENTRY_BYTES);
	SN_EQ(sn_decode_queue_ack(f, SN_QACK_REQ_BYTES + 2 +
				  3 * SN_QACK_ENTRY_BYTES, &a), 0);
	struct sn_qack_entry g;
	sn_qack_get(&a, 0, &g);
	TL_EQ(g.first, 9);
	TL_EQ(g.last, 3);
	TL_EQ(g.type, 0);
	sn_qack_get(&a, 2, &g);
	TL_EQ(g.type, 0xFF);
}

static void test_qrecv_resp_refusals(void **state)
{
	(void)state;
	static uint8_t good[4096];
	long n = sample_qrecv_resp(good, sizeof(good));
	assert_true(n > 0);
	size_t len = (size_t)n;
	/* offsets of the sample's parts (test_qrecv_resp_layout) */
	const size_t part0 = 32, part1 = 32 + 67, part2 = 32 + 67 + 16;
	uint8_t *f;

	/* a partition count that disagrees with the parts */
	const uint16_t counts[] = { 0, 2, 4, 0xFFFF };
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		f = at_edge(good, len);
		rb_put16(f + 24, counts[i]);
		int rc = dec_qrecv_resp(f, len);
		if (rc != BAD)
			fail_msg("%u partitions over 3 parts gave %d, not %d",
				 counts[i], rc, BAD);
	}
	/* the last part's ranges or records past the frame */
	const struct {
		size_t at;
		int bits;
		uint32_t v;
		const char *what;
	} past[] = {
		{ part2 + 6, 16, 1, "a range past the frame" },
		{ part2 + 6, 16, 0xFFFF, "65535 ranges" },
		{ part2 + 8, 32, 3, "a record byte past the frame" },
		{ part2 + 8, 32, 0xFFFFFFFFu, "records of 4 GiB" },
		{ part0 + 6, 16, 0xFFFF, "the first part's 65535 ranges" },
		{ part0 + 8, 32, 0x7FFFFFFFu, "the first part's 2 GiB" },
		/* a middle part swallowing the next: two parts, not three */
		{ part1 + 8, 32, 18, "the middle part over the last" },
		/* a first part one byte short: the rest out of step */
		{ part0 + 8, 32, 2, "the first part a byte short" },
	};
	for (unsigned i = 0; i < sizeof(past) / sizeof(past[0]); i++) {
		f = at_edge(good, len);
		if (past[i].bits == 16)
			rb_put16(f + past[i].at, (uint16_t)past[i].v);
		else
			rb_put32(f + past[i].at, past[i].v);
		int rc = dec_qrecv_resp(f, len);
		if (rc != BAD)
			fail_msg("%s gave %d, not %d", past[i].what, rc, BAD);
	}
	/* bytes after the last part, fewer than a part's fixed size */
	static uint8_t tmp[4096];
	for (size_t more = 1; more < SN_QRECV_PART_BYTES; more++) {
		memcpy(tmp, good, len);
		memset(tmp + len, 0, more);
		set_length(tmp, (uint32_t)(len + more));
		int rc = dec_qrecv_resp(at_edge(tmp, len + more), len + more);
		if (rc != BAD)
			fail_msg("%zu bytes after the parts gave %d, not %d",
				 more, rc, BAD);
	}
	/* a whole empty part more: refused unless counted */
	memcpy(tmp, good, len);
	memset(tmp + len, 0, SN_QRECV_PART_BYTES);
	set_length(tmp, (uint32_t)(len + SN_QRECV_PART_BYTES));
	f = at_edge(tmp, len + SN_QRECV_PART_BYTES);
	SN_EQ(dec_qrecv_resp(f, len + SN_QRECV_PART_BYTES), BAD);
	rb_put16(f + 24, 4);
	SN_EQ(dec_qrecv_resp(f, len + SN_QRECV_PART_BYTES), 0);

	/* the walk refuses a position past the parts */
	struct sn_qrecv_resp r;
	f = at_edge(good, len);
	SN_EQ(sn_decode_qrecv_resp(f, len, &r), 0);
	struct sn_qrecv_part p;
	size_t pos = r.parts_len + 1;
	SN_EQ(sn_qrecv_next(&r, &pos, &p), BAD);
	pos = r.parts_len - 1;
	SN_EQ(sn_qrecv_next(&r, &pos, &p), BAD);
	pos = r.parts_len;
	SN_EQ(sn_qrecv_next(&r, &pos, &p), 0);
}

static void test_qack_resp_refusals(void **state)
{
	(void)state;
	static uint8_t good[256];
	long n = sample_qack_resp(good, sizeof(good));
	assert_true(n > 0);
	size_t len = (size_t)n;
	uint8_t *f;
	/* counts that disagree with the frame; in 32 bits 0x40000003 * 4 +
	 * 20 would wrap to 32, this frame's length */
	const uint32_t counts[] = { 0, 2, 4, 0x40000000u, 0x40000003u,
				    0x3FFFFFFDu, UINT32_MAX };
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		f = at_edge(good, len);
		rb_put32(f + 16, counts[i]);
		int rc = dec_qack_resp(f, len);
		if (rc != BAD)
			fail_msg("count %u over 3 errors gave %d, not %d",
				 counts[i], rc, BAD);
	}
	/* an empty answer saying it has some (0x40000000 * 4 + 20 would
	 * wrap to 20 in 32 bits) */
	uint8_t empty[SN_QACK_RESP_BYTES];
	TL_EQ(sn_encode_queue_ack_resp(empty, sizeof(empty), 1, 0, NULL, 0),
	      SN_QACK_RESP_BYTES);
	const uint32_t wrap[] = { 1, 0x40000000u, UINT32_MAX };
	for (unsigned i = 0; i < sizeof(wrap) / sizeof(wrap[0]); i++) {
		f = at_edge(empty, sizeof(empty));
		rb_put32(f + 16, wrap[i]);
		int rc = dec_qack_resp(f, sizeof(empty));
		if (rc != BAD)
			fail_msg("count %u in an empty answer gave %d, not %d",
				 wrap[i], rc, BAD);
	}
	/* half an error more */
	static uint8_t tmp[256];
	for (size_t more = 1; more < 4; more++) {
		memcpy(tmp, good, len);
		memset(tmp + len, 0, more);
		set_length(tmp, (uint32_t)(len + more));
		int rc = dec_qack_resp(at_edge(tmp, len + more), len + more);
		if (rc != BAD)
			fail_msg("%zu bytes after the errors gave %d, not %d",
				 more, rc, BAD);
	}
}

int main(void)
{
	fill_names();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qrecv_layout),
		cmocka_unit_test(test_qrecv_resp_layout),
		cmocka_unit_test(test_qack_layout),
		cmocka_unit_test(test_qack_resp_layout),
		cmocka_unit_test(test_error_resp),
		cmocka_unit_test(test_qrecv_round_trips),
		cmocka_unit_test(test_qrecv_resp_round_trips),
		cmocka_unit_test(test_qrecv_resp_bad_ranges),
		cmocka_unit_test(test_qack_round_trips),
		cmocka_unit_test(test_qack_resp_round_trips),
		cmocka_unit_test(test_qrecv_builder_overflow),
		cmocka_unit_test(test_qrecv_builder_count),
		cmocka_unit_test(test_refusals_common),
		cmocka_unit_test(test_qrecv_refusals),
		cmocka_unit_test(test_qack_refusals),
		cmocka_unit_test(test_qrecv_resp_refusals),
		cmocka_unit_test(test_qack_resp_refusals),
	};
	return cmocka_run_group_tests(tests, map_guard, NULL);
}
