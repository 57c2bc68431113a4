/*
 * Tests of the records of __transaction_state (control/ttopic.c): states
 * encoded and decoded back into the records a load applies, in their
 * order (DELETE, STATE, PARTITIONs, GROUPs); the bytes of a value against
 * Kafka's TransactionLogValue, written out by hand; a v0 value and a v1
 * value with tagged fields of Kafka's that sluice does not know, built
 * here field by field; the records that are skipped (another key or value
 * version, a status sluice has no state for) and the ones refused (every
 * cut of a key and of a value, a byte too many, fields out of range); and
 * an apply that fails.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "control/ttopic.h"

/* cmocka prints integers as unsigned hex: these print signed decimals. */
#define EQ(a, b)                                                             \
	do {                                                                 \
		long long eq_a_ = (long long)(a), eq_b_ = (long long)(b);    \
		if (eq_a_ != eq_b_)                                          \
			fail_msg("%s:%d: %s = %lld, expected %s = %lld",     \
				 __FILE__, __LINE__, #a, eq_a_, #b, eq_b_);  \
	} while (0)

#define VALUE_ROOM 16384
#define UNTOUCHED 0xa5 /* what the encoder must leave past its length */

/* ---- building Kafka's bytes by hand ---- */

struct buf {
	uint8_t b[VALUE_ROOM];
	int32_t n;
};

static void b_raw(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += (int32_t)n;
}

static void b_u8(struct buf *b, uint8_t v)
{
	b_raw(b, &v, 1);
}

static void b_16(struct buf *b, int16_t v)
{
	b_u8(b, (uint8_t)((uint16_t)v >> 8));
	b_u8(b, (uint8_t)v);
}

static void b_32(struct buf *b, int32_t v)
{
	for (int s = 24; s >= 0; s -= 8)
		b_u8(b, (uint8_t)((uint32_t)v >> s));
}

static void b_64(struct buf *b, int64_t v)
{
	for (int s = 56; s >= 0; s -= 8)
		b_u8(b, (uint8_t)((uint64_t)v >> s));
}

static void b_uvarint(struct buf *b, uint32_t v)
{
	while (v >= 0x80) {
		b_u8(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	b_u8(b, (uint8_t)v);
}

/* A string, int16 length or, flexible, compact. */
static void b_str(struct buf *b, bool flexible, const char *s)
{
	size_t n = strlen(s);
	if (flexible)
		b_uvarint(b, (uint32_t)n + 1);
	else
		b_16(b, (int16_t)n);
	b_raw(b, s, n);
}

/* TransactionLogKey v0 of id. */
static void b_key(struct buf *b, int16_t version, const char *id)
{
	b_16(b, version);
	b_str(b, false, id);
}

/* TransactionLogValue's fields up to the partitions (any version). */
static void b_value_head(struct buf *b, int16_t version, int64_t pid,
			 int16_t epoch, int32_t timeout_ms, int8_t status)
{
	b_16(b, version);
	b_64(b, pid);
	b_16(b, epoch);
	b_32(b, timeout_ms);
	b_u8(b, (uint8_t)status);
}

/* ---- what decoding hands ---- */

#define GOT_MAX 1024

struct got {
	struct sl_txnlog_rec r[GOT_MAX];
	int n;
	uint8_t fail_type; /* apply answers fail_rc for this type (0: none) */
	int fail_rc;
};

static int collect(void *arg, const struct sl_txnlog_rec *r)
{
	struct got *g = arg;
	assert_true(g->n < GOT_MAX);
	g->r[g->n++] = *r;
	return r->type == g->fail_type ? g->fail_rc : 0;
}

static struct got G;

static int decode(const uint8_t *key, int32_t klen, const uint8_t *value,
		  int32_t vlen)
{
	memset(&G, 0, sizeof(G));
	return sl_ttopic_decode(key, klen, value, vlen, collect, &G);
}

static int decode_buf(const struct buf *k, const struct buf *v)
{
	return decode(k->b, k->n, v ? v->b : NULL, v ? v->n : -1);
}

static bool inside(const void *p, size_t n, const uint8_t *buf, int32_t len)
{
	const uint8_t *b = p;
	return b && len >= 0 && b >= buf && b + n <= buf + len;
}

/* r is of type and of the id of key (klen bytes), its id inside key. */
static void expect_id(const struct sl_txnlog_rec *r, uint8_t type,
		      const uint8_t *key, int32_t klen)
{
	EQ(r->type, type);
	EQ(r->id_len, klen - 4);
	assert_ptr_equal(r->id, (const char *)key + 4);
}

/* Every field a STATE record carries. */
static void expect_state(const struct sl_txnlog_rec *r,
			 const struct sl_txnlog_rec *want)
{
	EQ(r->type, SL_TXNLOG_STATE);
	EQ(r->id_len, want->id_len);
	assert_memory_equal(r->id, want->id, want->id_len);
	EQ(r->producer_id, want->producer_id);
	EQ(r->prev_producer_id, want->prev_producer_id);
	EQ(r->epoch, want->epoch);
	EQ(r->last_epoch, want->last_epoch);
	EQ(r->timeout_ms, want->timeout_ms);
	EQ(r->state, want->state);
	EQ(r->start_ms, want->start_ms);
	EQ(r->update_ms, want->update_ms);
}

static void expect_part(const struct sl_txnlog_rec *r, const char *topic,
			int32_t partition, const uint8_t *value, int32_t vlen)
{
	EQ(r->type, SL_TXNLOG_PARTITION);
	EQ(r->topic_len, strlen(topic));
	assert_memory_equal(r->topic, topic, r->topic_len);
	assert_true(inside(r->topic, r->topic_len, value, vlen));
	EQ(r->partition, partition);
}

static void expect_group(const struct sl_txnlog_rec *r, const char *group,
			 const uint8_t *value, int32_t vlen)
{
	EQ(r->type, SL_TXNLOG_GROUP);
	EQ(r->group_len, strlen(group));
	assert_memory_equal(r->group, group, r->group_len);
	assert_true(inside(r->group, r->group_len, value, vlen));
}

/* ---- encoding ---- */

static uint8_t K[SL_TTOPIC_KEY_MAX];
static uint8_t V[VALUE_ROOM];

/* s's key into K and value into V; returns the key's length, the value's
 * in *vlen (checked against sl_ttopic_value_bytes, nothing written past
 * it). */
static int32_t encode(const struct sl_ttopic_state *s, int32_t *vlen)
{
	int32_t kl = sl_ttopic_key(s->state->id, s->state->id_len, K);
	EQ(kl, 4 + s->state->id_len);
	size_t bytes = sl_ttopic_value_bytes(s);
	assert_true(bytes < sizeof(V));
	memset(V, UNTOUCHED, sizeof(V));
	size_t n = sl_ttopic_value(s, V);
	EQ(n, bytes);
	EQ(V[n], UNTOUCHED);
	*vlen = (int32_t)n;
	return kl;
}

static struct sl_txnlog_rec state_rec(const char *id)
{
	return (struct sl_txnlog_rec){
		.type = SL_TXNLOG_STATE,
		.id = id, .id_len = (uint16_t)strlen(id),
		.producer_id = 4242, .prev_producer_id = -1,
		.epoch = 3, .last_epoch = -1, .timeout_ms = 60000,
		.state = 4, /* CompleteCommit */
		.start_ms = -1, .update_ms = 1700000000000ll,
	};
}

#define NAME(s, p) { .name = (s), .len = sizeof(s) - 1, .partition = (p) }

static const struct sl_ttopic_name PARTS[] = {
	NAME("orders", 0), NAME("orders", 3), NAME("payments", 1),
};
static const struct sl_ttopic_name GROUPS[] = {
	NAME("g1", 0), NAME("billing-app", 0),
};

static struct sl_txnlog_rec rich_rec(void)
{
	struct sl_txnlog_rec r = state_rec("app-7");
	r.producer_id = 4000;
	r.prev_producer_id = 3999;
	r.epoch = 5;
	r.last_epoch = 4;
	r.state = 1; /* Ongoing */
	r.start_ms = 1700000000000ll;
	r.update_ms = 1700000000500ll;
	return r;
}

/* ---- round trips ---- */

static void test_plain_round_trip(void **state)
{
	(void)state;
	struct sl_txnlog_rec r = state_rec("txn-1");
	struct sl_ttopic_state s = { .state = &r };
	int32_t vl, kl = encode(&s, &vl);

	/* the bytes, as Kafka's TransactionLogKey v0 / Value v1 */
	struct buf k = { .n = 0 }, v = { .n = 0 };
	b_key(&k, 0, "txn-1");
	EQ(kl, k.n);
	assert_memory_equal(K, k.b, (size_t)k.n);
	b_value_head(&v, 1, 4242, 3, 60000, 4);
	b_uvarint(&v, 1);                 /* no topics */
	b_64(&v, 1700000000000ll);        /* last update */
	b_64(&v, -1);                     /* start */
	b_uvarint(&v, 0);                 /* no tagged fields */
	EQ(vl, v.n);
	assert_memory_equal(V, v.b, (size_t)v.n);

	EQ(decode(K, kl, V, vl), 0);
	EQ(G.n, 2);
	expect_id(&G.r[0], SL_TXNLOG_DELETE, K, kl);
	expect_id(&G.r[1], SL_TXNLOG_STATE, K, kl);
	expect_state(&G.r[1], &r);

	/* every state sluice has, and the bounds of each field */
	for (uint8_t st = 0; st <= 5; st++) {
		r.state = st;
		r.producer_id = st % 2 ? 0 : INT64_MAX;
		r.epoch = st % 2 ? -1 : INT16_MAX;
		r.timeout_ms = st % 2 ? 1 : INT32_MAX;
		r.start_ms = st % 2 ? INT64_MIN : INT64_MAX;
		r.update_ms = st % 2 ? -5 : 0;
		kl = encode(&s, &vl);
		EQ(decode(K, kl, V, vl), 0);
		EQ(G.n, 2);
		expect_state(&G.r[1], &r);
	}
}

static void test_parts_groups_round_trip(void **state)
{
	(void)state;
	struct sl_txnlog_rec r = rich_rec();
	struct sl_ttopic_state s = {
		.state = &r, .parts = PARTS, .nparts = 3,
		.groups = GROUPS, .ngroups = 2,
	};
	int32_t vl, kl = encode(&s, &vl);

	/* the value, field by field: the partitions grouped by topic */
	struct buf v = { .n = 0 };
	b_value_head(&v, 1, 4000, 5, 60000, 1);
	b_uvarint(&v, 3);                 /* two topics */
	b_str(&v, true, "orders");
	b_uvarint(&v, 3);                 /* two partitions */
	b_32(&v, 0);
	b_32(&v, 3);
	b_uvarint(&v, 0);                 /* the topic's tagged fields */
	b_str(&v, true, "payments");
	b_uvarint(&v, 2);
	b_32(&v, 1);
	b_uvarint(&v, 0);
	b_64(&v, 1700000000500ll);
	b_64(&v, 1700000000000ll);
	b_uvarint(&v, 3);                 /* three tagged fields */
	b_uvarint(&v, 0);                 /* PreviousProducerId */
	b_uvarint(&v, 8);
	b_64(&v, 3999);
	b_uvarint(&v, SL_TTOPIC_TAG_LAST_EPOCH);
	b_uvarint(&v, 2);
	b_16(&v, 4);
	b_uvarint(&v, SL_TTOPIC_TAG_GROUPS);
	b_uvarint(&v, 1 + 3 + 12);
	b_uvarint(&v, 3);                 /* two groups */
	b_str(&v, true, "g1");
	b_str(&v, true, "billing-app");
	EQ(vl, v.n);
	assert_memory_equal(V, v.b, (size_t)v.n);

	EQ(decode(K, kl, V, vl), 0);
	EQ(G.n, 2 + 3 + 2);
	expect_id(&G.r[0], SL_TXNLOG_DELETE, K, kl);
	expect_id(&G.r[1], SL_TXNLOG_STATE, K, kl);
	expect_state(&G.r[1], &r);
	for (int i = 2; i < G.n; i++)
		expect_id(&G.r[i], G.r[i].type, K, kl);
	expect_part(&G.r[2], "orders", 0, V, vl);
	expect_part(&G.r[3], "orders", 3, V, vl);
	expect_part(&G.r[4], "payments", 1, V, vl);
	expect_group(&G.r[5], "g1", V, vl);
	expect_group(&G.r[6], "billing-app", V, vl);
}

/* A topic's partitions apart from each other are written apart, and come
 * back in the order given. */
static void test_parts_apart(void **state)
{
	(void)state;
	static const struct sl_ttopic_name parts[] = {
		NAME("a", 0), NAME("b", 1), NAME("a", 2),
	};
	struct sl_txnlog_rec r = state_rec("t");
	struct sl_ttopic_state s = { .state = &r, .parts = parts, .nparts = 3 };
	int32_t vl, kl = encode(&s, &vl);
	EQ(V[17], 4); /* three topic entries */
	EQ(decode(K, kl, V, vl), 0);
	EQ(G.n, 5);
	expect_part(&G.r[2], "a", 0, V, vl);
	expect_part(&G.r[3], "b", 1, V, vl);
	expect_part(&G.r[4], "a", 2, V, vl);
}

/* sl_ttopic_value_bytes is what sl_ttopic_value writes, uvarints of two
 * and three bytes included. */
static void test_value_bytes(void **state)
{
	(void)state;
	static char topic[SL_TXNLOG_TOPIC_MAX], id[SL_TXNLOG_ID_MAX];
	static char group[SL_TXNLOG_GROUP_MAX];
	static struct sl_ttopic_name parts[300], groups[40];
	memset(topic, 't', sizeof(topic));
	memset(id, 'i', sizeof(id));
	memset(group, 'g', sizeof(group));
	for (int i = 0; i < 300; i++) /* runs of 200 and 100 */
		parts[i] = (struct sl_ttopic_name){
			.name = topic, .len = i < 200 ? 249 : 127,
			.partition = i };
	for (int i = 0; i < 40; i++)
		groups[i] = (struct sl_ttopic_name){
			.name = group, .len = (uint16_t)(1 + i * 6) };
	struct sl_txnlog_rec r = rich_rec();
	r.id = id;
	r.id_len = SL_TXNLOG_ID_MAX;
	struct sl_ttopic_state s = { .state = &r };
	uint32_t counts[][2] = { { 0, 0 }, { 1, 1 }, { 3, 2 }, { 200, 0 },
				 { 300, 40 }, { 0, 40 }, { 127, 21 } };
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		for (int tags = 0; tags < 4; tags++) {
			r.prev_producer_id = tags & 1 ? 1ll << 40 : -1;
			r.last_epoch = tags & 2 ? 32767 : -1;
			s.parts = counts[c][0] ? parts : NULL;
			s.nparts = counts[c][0];
			s.groups = counts[c][1] ? groups : NULL;
			s.ngroups = counts[c][1];
			int32_t vl, kl = encode(&s, &vl);
			EQ(decode(K, kl, V, vl), 0);
			EQ(G.n, 2 + s.nparts + s.ngroups);
			expect_state(&G.r[1], &r);
			for (uint32_t i = 0; i < s.nparts; i++)
				EQ(G.r[2 + i].partition, (int32_t)i);
			for (uint32_t i = 0; i < s.ngroups; i++)
				EQ(G.r[2 + s.nparts + i].group_len,
				   groups[i].len);
		}
	}
}

/* ---- tombstones and the load mark ---- */

static void test_tombstone(void **state)
{
	(void)state;
	int32_t kl = sl_ttopic_key("txn-1", 5, K);
	EQ(decode(K, kl, NULL, -1), 0);
	EQ(G.n, 1);
	expect_id(&G.r[0], SL_TXNLOG_DELETE, K, kl);
}

static void test_load_mark(void **state)
{
	(void)state;
	int32_t kl = sl_ttopic_key(NULL, 0, K);
	EQ(kl, 4);
	static const uint8_t mark[] = { 0, 0, 0, 0 };
	assert_memory_equal(K, mark, 4);
	EQ(decode(K, kl, NULL, -1), 1);
	EQ(G.n, 0);

	/* with a value it is nothing: no id is empty */
	struct sl_txnlog_rec r = state_rec("x");
	struct sl_ttopic_state s = { .state = &r };
	int32_t vl;
	(void)encode(&s, &vl);
	kl = sl_ttopic_key(NULL, 0, K);
	EQ(decode(K, kl, V, vl), -EBADMSG);
	EQ(G.n, 0);
	EQ(decode(K, kl, V, 0), -EBADMSG);
	EQ(G.n, 0);
}

/* ---- skipped: other kinds of record ---- */

static void test_key_version(void **state)
{
	(void)state;
	struct sl_txnlog_rec r = state_rec("txn-1");
	struct sl_ttopic_state s = { .state = &r };
	int32_t vl, kl = encode(&s, &vl);
	int16_t versions[] = { 1, 2, -1, 0x7fff };
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		K[0] = (uint8_t)((uint16_t)versions[i] >> 8);
		K[1] = (uint8_t)versions[i];
		EQ(decode(K, kl, V, vl), -ENOTSUP);
		EQ(G.n, 0);
		EQ(decode(K, kl, NULL, -1), -ENOTSUP);
		EQ(G.n, 0);
	}
}

static void test_value_version(void **state)
{
	(void)state;
	struct sl_txnlog_rec r = rich_rec();
	struct sl_ttopic_state s = {
		.state = &r, .parts = PARTS, .nparts = 3,
		.groups = GROUPS, .ngroups = 2,
	};
	int32_t vl, kl = encode(&s, &vl);
	int16_t versions[] = { 2, 3, -1, 0x7fff };
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		V[0] = (uint8_t)((uint16_t)versions[i] >> 8);
		V[1] = (uint8_t)versions[i];
		EQ(decode(K, kl, V, vl), -ENOTSUP);
		EQ(G.n, 0);
		/* whatever follows the version */
		EQ(decode(K, kl, V, 2), -ENOTSUP);
		EQ(G.n, 0);
	}
}

/* Kafka's Dead (6) and PrepareEpochFence (7) are not sluice's states. */
static void test_status(void **state)
{
	(void)state;
	struct sl_txnlog_rec r = state_rec("txn-1");
	struct sl_ttopic_state s = { .state = &r };
	int32_t vl, kl = encode(&s, &vl);
	for (uint8_t st = 6; st <= 7; st++) {
		V[16] = st;
		EQ(decode(K, kl, V, vl), -ENOTSUP);
		EQ(G.n, 0);
	}
	V[16] = 5;
	EQ(decode(K, kl, V, vl), 0);
	EQ(G.n, 2);
	EQ(G.r[1].state, 5);
}

/* ---- Kafka's values sluice does not write ---- */

static void test_v0_value(void **state)
{
	(void)state;
	struct buf k = { .n = 0 }, v = { .n = 0 };
	b_key(&k, 0, "legacy");
	b_value_head(&v, 0, 77, 2, 90000, 2); /* PrepareCommit */
	b_32(&v, 2);                          /* two topics */
	b_str(&v, false, "orders");
	b_32(&v, 2);
	b_32(&v, 5);
	b_32(&v, 6);
	b_str(&v, false, "audit");
	b_32(&v, 1);
	b_32(&v, 0);
	b_64(&v, 1700000001000ll);
	b_64(&v, 1700000000000ll);
	EQ(decode_buf(&k, &v), 0);
	EQ(G.n, 5);
	struct sl_txnlog_rec want = {
		.type = SL_TXNLOG_STATE, .id = "legacy", .id_len = 6,
		.producer_id = 77, .prev_producer_id = -1, .epoch = 2,
		.last_epoch = -1, .timeout_ms = 90000, .state = 2,
		.start_ms = 1700000000000ll, .update_ms = 1700000001000ll,
	};
	expect_id(&G.r[0], SL_TXNLOG_DELETE, k.b, k.n);
	expect_state(&G.r[1], &want);
	expect_part(&G.r[2], "orders", 5, v.b, v.n);
	expect_part(&G.r[3], "orders", 6, v.b, v.n);
	expect_part(&G.r[4], "audit", 0, v.b, v.n);

	/* a null partition array (int32 -1) is none */
	v.n = 0;
	b_value_head(&v, 0, 77, 2, 90000, 0);
	b_32(&v, -1);
	b_64(&v, 1);
	b_64(&v, -1);
	EQ(decode_buf(&k, &v), 0);
	EQ(G.n, 2);
	EQ(G.r[1].state, 0);

	/* no tagged fields in v0: a byte more is a byte too many */
	b_u8(&v, 0);
	EQ(decode_buf(&k, &v), -EBADMSG);
	EQ(G.n, 0);
}

/* Kafka's tagged fields sluice has no use for are skipped, wherever they
 * are: NextProducerId (1), ClientTransactionVersion (2), a topic's. */
static void test_unknown_tags(void **state)
{
	(void)state;
	struct buf k = { .n = 0 }, v = { .n = 0 };
	b_key(&k, 0, "kafka-app");
	b_value_head(&v, 1, 5000, 0, 60000, 3); /* PrepareAbort */
	b_uvarint(&v, 2);
	b_str(&v, true, "orders");
	b_uvarint(&v, 2);
	b_32(&v, 9);
	b_uvarint(&v, 1);                 /* a topic's tagged field */
	b_uvarint(&v, 7);
	b_uvarint(&v, 3);
	b_raw(&v, "xyz", 3);
	b_64(&v, 1700000000900ll);
	b_64(&v, 1700000000000ll);
	b_uvarint(&v, 3);
	b_uvarint(&v, 0);                 /* PreviousProducerId */
	b_uvarint(&v, 8);
	b_64(&v, 4999);
	b_uvarint(&v, 1);                 /* NextProducerId */
	b_uvarint(&v, 8);
	b_64(&v, 5001);
	b_uvarint(&v, 2);                 /* ClientTransactionVersion */
	b_uvarint(&v, 2);
	b_16(&v, 2);
	EQ(decode_buf(&k, &v), 0);
	EQ(G.n, 3);
	struct sl_txnlog_rec want = {
		.type = SL_TXNLOG_STATE, .id = "kafka-app", .id_len = 9,
		.producer_id = 5000, .prev_producer_id = 4999, .epoch = 0,
		.last_epoch = -1, .timeout_ms = 60000, .state = 3,
		.start_ms = 1700000000000ll, .update_ms = 1700000000900ll,
	};
	expect_id(&G.r[0], SL_TXNLOG_DELETE, k.b, k.n);
	expect_state(&G.r[1], &want);
	expect_part(&G.r[2], "orders", 9, v.b, v.n);

	/* an unknown tag's size past the end is refused */
	v.b[v.n - 3] = 3;
	EQ(decode_buf(&k, &v), -EBADMSG);
	EQ(G.n, 0);
}

/* ---- refused ---- */

static void test_cuts_and_trailing(void **state)
{
	(void)state;
	struct sl_txnlog_rec r = rich_rec();
	struct sl_ttopic_state s = {
		.state = &r, .parts = PARTS, .nparts = 3,
		.groups = GROUPS, .ngroups = 2,
	};
	int32_t vl, kl = encode(&s, &vl);
	for (int32_t n = 0; n < vl; n++) {
		if (decode(K, kl, V, n) != -EBADMSG)
			fail_msg("value cut at %d of %d: not -EBADMSG", n, vl);
		EQ(G.n, 0);
	}
	for (int32_t n = 0; n < kl; n++) {
		if (decode(K, n, V, vl) != -EBADMSG)
			fail_msg("key cut at %d of %d: not -EBADMSG", n, kl);
		EQ(G.n, 0);
		EQ(decode(K, n, NULL, -1), -EBADMSG);
		EQ(G.n, 0);
	}
	V[vl] = 0;
	EQ(decode(K, kl, V, vl + 1), -EBADMSG);
	EQ(G.n, 0);
	K[kl] = 'x';
	EQ(decode(K, kl + 1, V, vl), -EBADMSG);
	EQ(G.n, 0);
	EQ(decode(K, kl, V, vl), 0);
	EQ(G.n, 7);
}

/* Fields out of the ranges txnlog.h gives its records. */
static void test_fields_refused(void **state)
{
	(void)state;
	struct sl_txnlog_rec r = state_rec("txn-1");
	struct sl_ttopic_state s = { .state = &r };
	int32_t vl, kl;

	r.producer_id = -1;
	kl = encode(&s, &vl);
	EQ(decode(K, kl, V, vl), -EBADMSG);
	r = state_rec("txn-1");
	r.epoch = -2;
	kl = encode(&s, &vl);
	EQ(decode(K, kl, V, vl), -EBADMSG);
	r = state_rec("txn-1");
	r.timeout_ms = 0;
	kl = encode(&s, &vl);
	EQ(decode(K, kl, V, vl), -EBADMSG);
	r = state_rec("txn-1");
	r.prev_producer_id = -2;
	kl = encode(&s, &vl);
	EQ(decode(K, kl, V, vl), -EBADMSG);
	r = state_rec("txn-1");
	r.last_epoch = -2;
	kl = encode(&s, &vl);
	EQ(decode(K, kl, V, vl), -EBADMSG);
	EQ(G.n, 0);

	/* a negative partition, an empty or too long topic or group */
	static char big[SL_TXNLOG_TOPIC_MAX + SL_TXNLOG_GROUP_MAX];
	memset(big, 'n', sizeof(big));
	struct sl_ttopic_name bad[] = {
		{ .name = "t", .len = 1, .partition = -1 },
		{ .name = "", .len = 0, .partition = 0 },
		{ .name = big, .len = SL_TXNLOG_TOPIC_MAX + 1 },
	};
	r = state_rec("txn-1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = (struct sl_ttopic_state){
			.state = &r, .parts = &bad[i], .nparts = 1 };
		kl = encode(&s, &vl);
		EQ(decode(K, kl, V, vl), -EBADMSG);
		EQ(G.n, 0);
	}
	struct sl_ttopic_name bad_groups[] = {
		{ .name = "", .len = 0 },
		{ .name = big, .len = SL_TXNLOG_GROUP_MAX + 1 },
	};
	for (size_t i = 0; i < 2; i++) {
		s = (struct sl_ttopic_state){
			.state = &r, .groups = &bad_groups[i], .ngroups = 1 };
		kl = encode(&s, &vl);
		EQ(decode(K, kl, V, vl), -EBADMSG);
		EQ(G.n, 0);
	}

	/* an id past SL_TXNLOG_ID_MAX */
	static char id[SL_TXNLOG_ID_MAX + 1];
	static uint8_t key[SL_TTOPIC_KEY_MAX + 1];
	memset(id, 'i', sizeof(id));
	key[0] = 0;
	key[1] = 0;
	key[2] = (uint8_t)(sizeof(id) >> 8);
	key[3] = (uint8_t)sizeof(id);
	memcpy(key + 4, id, sizeof(id));
	EQ(decode(key, (int32_t)sizeof(key), NULL, -1), -EBADMSG);
	EQ(G.n, 0);
	key[3]--;
	EQ(decode(key, (int32_t)sizeof(key) - 1, NULL, -1), 0);
	EQ(G.n, 1);
	EQ(G.r[0].id_len, SL_TXNLOG_ID_MAX);
}

/* ---- apply failing ---- */

static void test_apply_error(void **state)
{
	(void)state;
	struct sl_txnlog_rec r = rich_rec();
	struct sl_ttopic_state s = {
		.state = &r, .parts = PARTS, .nparts = 3,
		.groups = GROUPS, .ngroups = 2,
	};
	int32_t vl, kl = encode(&s, &vl);
	struct {
		uint8_t type;
		int handed;
	} at[] = {
		{ SL_TXNLOG_DELETE, 1 }, { SL_TXNLOG_STATE, 2 },
		{ SL_TXNLOG_PARTITION, 3 }, { SL_TXNLOG_GROUP, 6 },
	};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		memset(&G, 0, sizeof(G));
		G.fail_type = at[i].type;
		G.fail_rc = -ENOMEM;
		EQ(sl_ttopic_decode(K, kl, V, vl, collect, &G), -ENOMEM);
		EQ(G.n, at[i].handed); /* the failing one, none after it */
		EQ(G.r[G.n - 1].type, at[i].type);
	}
	/* a tombstone whose DELETE fails */
	memset(&G, 0, sizeof(G));
	G.fail_type = SL_TXNLOG_DELETE;
	G.fail_rc = -EIO;
	EQ(sl_ttopic_decode(K, kl, NULL, -1, collect, &G), -EIO);
	EQ(G.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_round_trip),
		cmocka_unit_test(test_parts_groups_round_trip),
		cmocka_unit_test(test_parts_apart),
		cmocka_unit_test(test_value_bytes),
		cmocka_unit_test(test_tombstone),
		cmocka_unit_test(test_load_mark),
		cmocka_unit_test(test_key_version),
		cmocka_unit_test(test_value_version),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_v0_value),
		cmocka_unit_test(test_unknown_tags),
		cmocka_unit_test(test_cuts_and_trailing),
		cmocka_unit_test(test_fields_refused),
		cmocka_unit_test(test_apply_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
