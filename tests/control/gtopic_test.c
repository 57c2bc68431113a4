/*
 * Tests of the records of __consumer_offsets (control/gtopic.c): every
 * record type encoded and decoded back, at the bounds too; the bytes of a
 * commit and of a state against Kafka's definitions, written out by hand;
 * values of every version as Kafka writes them, built here field by field
 * (groups with members, static ones among them); the records that are
 * skipped; and the ones refused: every cut of a valid key and value, a
 * byte too many, lengths out of range, nulls where Kafka has none.
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

#include "control/gtopic.h"

/* cmocka prints integers as unsigned hex: these print signed decimals. */
#define EQ(a, b)                                                             \
	do {                                                                 \
		long long eq_a_ = (long long)(a), eq_b_ = (long long)(b);    \
		if (eq_a_ != eq_b_)                                          \
			fail_msg("%s:%d: %s = %lld, expected %s = %lld",     \
				 __FILE__, __LINE__, #a, eq_a_, #b, eq_b_);  \
	} while (0)

/* ---- building Kafka's bytes by hand ---- */

struct buf {
	uint8_t b[SL_GTOPIC_VALUE_MAX + 512];
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

/* A string (NULL: null), int16 length or, flexible, compact. */
static void b_str(struct buf *b, bool flexible, const char *s)
{
	int32_t n = s ? (int32_t)strlen(s) : -1;
	if (flexible)
		b_uvarint(b, (uint32_t)(n + 1));
	else
		b_16(b, (int16_t)n);
	if (n > 0)
		b_raw(b, s, (size_t)n);
}

/* Bytes: int32 length or, flexible, compact. */
static void b_bytes(struct buf *b, bool flexible, const void *p, int32_t n)
{
	if (flexible)
		b_uvarint(b, (uint32_t)n + 1);
	else
		b_32(b, n);
	b_raw(b, p, (size_t)n);
}

/* OffsetCommitKey of a version, or GroupMetadataKey (version 2). */
static void b_commit_key(struct buf *b, int16_t version, const char *group,
			 const char *topic, int32_t partition)
{
	b_16(b, version);
	b_str(b, false, group);
	b_str(b, false, topic);
	b_32(b, partition);
}

static void b_group_key(struct buf *b, const char *group)
{
	b_16(b, 2);
	b_str(b, false, group);
}

/* OffsetCommitValue of any version 0..4. */
static void b_commit_value(struct buf *b, int16_t version, int64_t offset,
			   int32_t epoch, const char *meta, int64_t ts)
{
	bool flexible = version >= 4;
	b_16(b, version);
	b_64(b, offset);
	if (version >= 3)
		b_32(b, epoch);
	b_str(b, flexible, meta);
	b_64(b, ts);
	if (version == 1)
		b_64(b, ts + 86400000); /* expire_timestamp */
	if (flexible) {
		/* one unknown tagged field, to be skipped */
		b_uvarint(b, 1);
		b_uvarint(b, 0);
		b_uvarint(b, 3);
		b_raw(b, "abc", 3);
	}
}

struct member {
	const char *id, *instance, *client, *host;
};

/* GroupMetadataValue of any version 0..4 with members. */
static void b_group_value(struct buf *b, int16_t version, int64_t ts,
			  const struct member *m, int n)
{
	static const uint8_t sub[] = { 0, 1, 0, 0, 0, 1, 0, 1, 't' };
	static const uint8_t asg[] = { 0, 1, 0, 0, 0, 0 };
	bool flexible = version >= 4;
	b_16(b, version);
	b_str(b, flexible, "consumer");
	b_32(b, 7);                       /* generation */
	b_str(b, flexible, n ? "range" : NULL);
	b_str(b, flexible, n ? m[0].id : NULL);
	if (version >= 2)
		b_64(b, ts);
	if (flexible)
		b_uvarint(b, (uint32_t)n + 1);
	else
		b_32(b, n);
	for (int i = 0; i < n; i++) {
		b_str(b, flexible, m[i].id);
		if (version >= 3)
			b_str(b, flexible, m[i].instance);
		b_str(b, flexible, m[i].client);
		b_str(b, flexible, m[i].host);
		if (version >= 1)
			b_32(b, 300000);  /* rebalance_timeout */
		b_32(b, 45000);           /* session_timeout */
		b_bytes(b, flexible, sub, sizeof(sub));
		b_bytes(b, flexible, asg, sizeof(asg));
		if (flexible)
			b_uvarint(b, 0);  /* no tagged fields */
	}
	if (flexible)
		b_uvarint(b, 0);
}

/* ---- helpers ---- */

static int decode(const struct buf *k, const struct buf *v,
		  struct sl_offsets_rec *out)
{
	return sl_gtopic_decode(k->b, k->n, v ? v->b : NULL, v ? v->n : -1,
				out);
}

static void expect_str(const char *p, int32_t n, const char *want)
{
	EQ(n, strlen(want));
	assert_non_null(p);
	assert_memory_equal(p, want, (size_t)n);
}

/* encode r, decode it back into out; both lengths returned */
static void round_trip(const struct sl_offsets_rec *r,
		       struct sl_offsets_rec *out, uint8_t *key,
		       uint8_t *value, int32_t *klen, int32_t *vlen)
{
	*klen = -2;
	*vlen = -2;
	sl_gtopic_encode(r, key, klen, value, vlen);
	assert_true(*klen > 0 && *klen <= SL_GTOPIC_KEY_MAX);
	assert_true(*vlen >= -1 && *vlen <= SL_GTOPIC_VALUE_MAX);
	EQ(sl_gtopic_decode(key, *klen, *vlen < 0 ? NULL : value, *vlen, out),
	   0);
	EQ(out->type, r->type);
	EQ(out->group_len, r->group_len);
	assert_memory_equal(out->group, r->group, r->group_len);
	/* the pointers are into the bytes handed to the decoder */
	assert_true((const uint8_t *)out->group > key &&
		    (const uint8_t *)out->group < key + *klen);
}

static struct sl_offsets_rec commit_rec(const char *group, const char *topic,
					int32_t partition, const char *meta,
					int32_t meta_len)
{
	return (struct sl_offsets_rec){
		.type = SL_OFFSETS_COMMIT,
		.group = group, .group_len = (uint16_t)strlen(group),
		.topic = topic, .topic_len = (uint16_t)strlen(topic),
		.partition = partition, .offset = 0x0102030405060708ll,
		.leader_epoch = 5, .meta = meta, .meta_len = meta_len,
		.time_ms = 1700000000000ll,
	};
}

static uint8_t K[SL_GTOPIC_KEY_MAX], V[SL_GTOPIC_VALUE_MAX];

/* ---- round trips ---- */

static void test_round_trip_commit(void **state)
{
	(void)state;
	struct sl_offsets_rec r = commit_rec("orders-app", "orders", 17,
					     "worker-3", 8), out;
	int32_t kl, vl;
	round_trip(&r, &out, K, V, &kl, &vl);
	EQ(kl, 10 + 10 + 6);
	EQ(vl, 24 + 8);
	expect_str(out.topic, out.topic_len, "orders");
	EQ(out.partition, 17);
	EQ(out.offset, 0x0102030405060708ll);
	EQ(out.leader_epoch, 5);
	expect_str(out.meta, out.meta_len, "worker-3");
	EQ(out.time_ms, 1700000000000ll);
	assert_true((const uint8_t *)out.meta >= V &&
		    (const uint8_t *)out.meta + out.meta_len <= V + vl);

	/* no leader epoch, a negative offset and time survive too */
	r.leader_epoch = -1;
	r.offset = -1;
	r.time_ms = -5;
	round_trip(&r, &out, K, V, &kl, &vl);
	EQ(out.leader_epoch, -1);
	EQ(out.offset, -1);
	EQ(out.time_ms, -5);
}

static void test_round_trip_null_and_empty_meta(void **state)
{
	(void)state;
	struct sl_offsets_rec r = commit_rec("g", "t", 0, NULL, -1), out;
	int32_t kl, vl;
	round_trip(&r, &out, K, V, &kl, &vl);
	EQ(vl, 24);
	/* written as "", as Kafka stores a null metadata */
	EQ(V[14], 0);
	EQ(V[15], 0);
	EQ(out.meta_len, 0);
	assert_non_null(out.meta);
	EQ(out.partition, 0);

	r.meta = "";
	r.meta_len = 0;
	round_trip(&r, &out, K, V, &kl, &vl);
	EQ(vl, 24);
	EQ(out.meta_len, 0);
}

static void test_round_trip_max(void **state)
{
	(void)state;
	static char group[SL_OFFSETS_GROUP_MAX + 1];
	static char topic[SL_OFFSETS_TOPIC_MAX + 1];
	static char meta[SL_OFFSETS_META_MAX];
	memset(group, 'g', SL_OFFSETS_GROUP_MAX);
	memset(topic, 't', SL_OFFSETS_TOPIC_MAX);
	for (int i = 0; i < SL_OFFSETS_META_MAX; i++)
		meta[i] = (char)(i * 7);
	struct sl_offsets_rec r = commit_rec(group, topic, INT32_MAX, meta,
					     SL_OFFSETS_META_MAX), out;
	int32_t kl, vl;
	round_trip(&r, &out, K, V, &kl, &vl);
	/* a transaction's offset takes 8 bytes more of key (its producer
	 * id) and 2 of value (its epoch): see test_round_trip_txn_max */
	EQ(kl, SL_GTOPIC_KEY_MAX - 8);
	EQ(vl, SL_GTOPIC_VALUE_MAX - 2);
	EQ(out.topic_len, SL_OFFSETS_TOPIC_MAX);
	assert_memory_equal(out.topic, topic, SL_OFFSETS_TOPIC_MAX);
	EQ(out.meta_len, SL_OFFSETS_META_MAX);
	assert_memory_equal(out.meta, meta, SL_OFFSETS_META_MAX);
	EQ(out.partition, INT32_MAX);

	r.type = SL_OFFSETS_STATE;
	r.time_ms = INT64_MAX;
	round_trip(&r, &out, K, V, &kl, &vl);
	EQ(kl, 4 + SL_OFFSETS_GROUP_MAX);
	EQ(out.time_ms, INT64_MAX);
}

static struct sl_offsets_rec txn_rec(const char *group, const char *topic,
				     int32_t partition, const char *meta,
				     int32_t meta_len)
{
	struct sl_offsets_rec r = commit_rec(group, topic, partition, meta,
					     meta_len);
	r.type = SL_OFFSETS_TXN;
	r.producer_id = 0x0a0b0c0d0e0f1011ll;
	r.producer_epoch = 0x1234;
	return r;
}

static void test_round_trip_txn(void **state)
{
	(void)state;
	struct sl_offsets_rec r = txn_rec("orders-app", "orders", 17,
					  "worker-3", 8), out;
	int32_t kl, vl;
	round_trip(&r, &out, K, V, &kl, &vl);
	/* key: version 0x7f00, producer id, group, topic, partition */
	EQ(kl, 2 + 8 + 12 + 8 + 4);
	EQ(K[0], 0x7f);
	EQ(K[1], 0x00);
	EQ(K[2], 0x0a);
	EQ(K[9], 0x11);
	/* value: version 0, epoch, offset, leader epoch, metadata, time */
	EQ(vl, 2 + 2 + 8 + 4 + 2 + 8 + 8);
	EQ(V[0], 0);
	EQ(V[1], 0);
	EQ(V[2], 0x12);
	EQ(V[3], 0x34);
	EQ(out.producer_id, 0x0a0b0c0d0e0f1011ll);
	EQ(out.producer_epoch, 0x1234);
	expect_str(out.topic, out.topic_len, "orders");
	EQ(out.partition, 17);
	EQ(out.offset, 0x0102030405060708ll);
	EQ(out.leader_epoch, 5);
	expect_str(out.meta, out.meta_len, "worker-3");
	EQ(out.time_ms, 1700000000000ll);

	/* a null metadata stays null (a commit's becomes "") */
	r = txn_rec("g", "t", 0, NULL, -1);
	round_trip(&r, &out, K, V, &kl, &vl);
	EQ(out.meta_len, -1);
	EQ(vl, 2 + 2 + 8 + 4 + 2 + 8);

	/* the tombstone: the same key, a null value */
	r.type = SL_OFFSETS_TXN_END;
	r.producer_epoch = 0;
	round_trip(&r, &out, K, V, &kl, &vl);
	EQ(vl, -1);
	EQ(kl, 2 + 8 + 3 + 3 + 4);
	EQ(out.producer_id, 0x0a0b0c0d0e0f1011ll);
	expect_str(out.topic, out.topic_len, "t");
	EQ(out.partition, 0);
}

static void test_round_trip_txn_max(void **state)
{
	(void)state;
	static char group[SL_OFFSETS_GROUP_MAX + 1];
	static char topic[SL_OFFSETS_TOPIC_MAX + 1];
	static char meta[SL_OFFSETS_META_MAX];
	memset(group, 'g', SL_OFFSETS_GROUP_MAX);
	memset(topic, 't', SL_OFFSETS_TOPIC_MAX);
	memset(meta, 'm', SL_OFFSETS_META_MAX);
	struct sl_offsets_rec r = txn_rec(group, topic, INT32_MAX, meta,
					  SL_OFFSETS_META_MAX), out;
	r.producer_id = INT64_MAX;
	r.producer_epoch = INT16_MAX;
	int32_t kl, vl;
	round_trip(&r, &out, K, V, &kl, &vl);
	/* the largest fills the room the header promises, exactly */
	EQ(kl, SL_GTOPIC_KEY_MAX);
	EQ(vl, SL_GTOPIC_VALUE_MAX);
	EQ(out.producer_id, INT64_MAX);
	EQ(out.producer_epoch, INT16_MAX);
	EQ(out.meta_len, SL_OFFSETS_META_MAX);
}

static void test_txn_refused(void **state)
{
	(void)state;
	struct sl_offsets_rec r = txn_rec("g", "t", 3, "m", 1), out;
	int32_t kl, vl;
	round_trip(&r, &out, K, V, &kl, &vl);
	struct buf k = { .n = 0 }, val = { .n = 0 };
	b_raw(&k, K, (size_t)kl);
	b_raw(&val, V, (size_t)vl);
	EQ(decode(&k, &val, &out), 0);
	/* every cut of the key and of the value, and a byte too many */
	for (int32_t n = 0; n < kl; n++)
		EQ(sl_gtopic_decode(K, n, V, vl, &out), -EBADMSG);
	for (int32_t n = 0; n < vl; n++)
		EQ(sl_gtopic_decode(K, kl, V, n, &out), -EBADMSG);
	val.b[val.n++] = 0;
	EQ(decode(&k, &val, &out), -EBADMSG);
	val.n--;
	/* a negative producer id (key), a negative epoch (value) */
	k.b[2] = 0x80;
	EQ(decode(&k, &val, &out), -EBADMSG);
	EQ(decode(&k, NULL, &out), -EBADMSG);
	k.b[2] = 0x0a;
	val.b[2] = 0x80;
	EQ(decode(&k, &val, &out), -EBADMSG);
	val.b[2] = 0x12;
	EQ(decode(&k, &val, &out), 0);
	/* a later value version: another kind of record, skipped */
	val.b[1] = 1;
	EQ(decode(&k, &val, &out), 1);
	/* key versions between 3 and 0x7f00, and past it: skipped */
	val.b[1] = 0;
	k.b[0] = 0x7e;
	k.b[1] = 0xff;
	EQ(decode(&k, &val, &out), 1);
	k.b[0] = 0x7f;
	k.b[1] = 0x01;
	EQ(decode(&k, &val, &out), 1);
}

static void test_round_trip_expire(void **state)
{
	(void)state;
	struct sl_offsets_rec r = commit_rec("g1", "payments", 9, NULL, -1),
			      out;
	r.type = SL_OFFSETS_EXPIRE;
	int32_t kl, vl;
	round_trip(&r, &out, K, V, &kl, &vl);
	EQ(vl, -1);
	EQ(kl, 10 + 2 + 8);
	EQ(K[1], 1); /* OffsetCommitKey v1, as a commit's */
	expect_str(out.topic, out.topic_len, "payments");
	EQ(out.partition, 9);
	EQ(out.offset, -1);
	EQ(out.leader_epoch, -1);
	EQ(out.meta_len, -1);
	assert_null(out.meta);
	EQ(out.time_ms, -1);
}

static void test_round_trip_state(void **state)
{
	(void)state;
	struct sl_offsets_rec r = {
		.type = SL_OFFSETS_STATE, .group = "billing",
		.group_len = 7, .time_ms = 1700000123456ll,
	}, out;
	int32_t kl, vl;
	round_trip(&r, &out, K, V, &kl, &vl);
	EQ(kl, 4 + 7);
	EQ(vl, 32);
	EQ(out.time_ms, 1700000123456ll);
	EQ(out.topic_len, 0);
	assert_null(out.topic);
	EQ(out.partition, -1);

	r.time_ms = -1; /* it has members */
	round_trip(&r, &out, K, V, &kl, &vl);
	EQ(out.time_ms, -1);
	EQ(out.type, SL_OFFSETS_STATE);
}

static void test_round_trip_delete(void **state)
{
	(void)state;
	struct sl_offsets_rec r = {
		.type = SL_OFFSETS_DELETE, .group = "old-group",
		.group_len = 9, .time_ms = 12345,
	}, out;
	int32_t kl, vl;
	round_trip(&r, &out, K, V, &kl, &vl);
	EQ(vl, -1);
	EQ(kl, 4 + 9);
	EQ(K[1], 2); /* GroupMetadataKey */
	EQ(out.topic_len, 0);
	EQ(out.partition, -1);
	EQ(out.time_ms, -1);
}

/* ---- the bytes, against Kafka's definitions ---- */

static void test_commit_bytes(void **state)
{
	(void)state;
	static const uint8_t key[] = {
		0x00, 0x01,                     /* OffsetCommitKey v1 */
		0x00, 0x02, 'g', '1',           /* group */
		0x00, 0x01, 't',                /* topic */
		0x00, 0x00, 0x00, 0x03,         /* partition */
	};
	static const uint8_t value[] = {
		0x00, 0x03,                     /* OffsetCommitValue v3 */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* offset */
		0x00, 0x00, 0x00, 0x05,         /* leader_epoch */
		0x00, 0x01, 'm',                /* metadata */
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,
						/* commit_timestamp */
	};
	struct sl_offsets_rec r = commit_rec("g1", "t", 3, "m", 1);
	int32_t kl = 0, vl = 0;
	sl_gtopic_encode(&r, K, &kl, V, &vl);
	EQ(kl, sizeof(key));
	assert_memory_equal(K, key, sizeof(key));
	EQ(vl, sizeof(value));
	assert_memory_equal(V, value, sizeof(value));

	/* the expiry of that offset: the same key, a null value */
	r.type = SL_OFFSETS_EXPIRE;
	sl_gtopic_encode(&r, K, &kl, V, &vl);
	EQ(kl, sizeof(key));
	assert_memory_equal(K, key, sizeof(key));
	EQ(vl, -1);
}

static void test_state_bytes(void **state)
{
	(void)state;
	static const uint8_t key[] = {
		0x00, 0x02,                     /* GroupMetadataKey v2 */
		0x00, 0x03, 'a', 'p', 'p',      /* group */
	};
	static const uint8_t value[] = {
		0x00, 0x03,                     /* GroupMetadataValue v3 */
		0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
		0x00, 0x00, 0x00, 0x00,         /* generation */
		0xff, 0xff,                     /* protocol: null */
		0xff, 0xff,                     /* leader: null */
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,
						/* current_state_timestamp */
		0x00, 0x00, 0x00, 0x00,         /* members: none */
	};
	struct sl_offsets_rec r = {
		.type = SL_OFFSETS_STATE, .group = "app", .group_len = 3,
		.time_ms = 1700000000000ll,
	};
	int32_t kl = 0, vl = 0;
	sl_gtopic_encode(&r, K, &kl, V, &vl);
	EQ(kl, sizeof(key));
	assert_memory_equal(K, key, sizeof(key));
	EQ(vl, sizeof(value));
	assert_memory_equal(V, value, sizeof(value));

	r.type = SL_OFFSETS_DELETE;
	sl_gtopic_encode(&r, K, &kl, V, &vl);
	EQ(kl, sizeof(key));
	assert_memory_equal(K, key, sizeof(key));
	EQ(vl, -1);
}

/* ---- Kafka's values, every version ---- */

static void test_commit_values_every_version(void **state)
{
	(void)state;
	struct buf k = { .n = 0 };
	b_commit_key(&k, 1, "grp", "topic-a", 4);
	for (int16_t v = 0; v <= 4; v++) {
		struct buf val = { .n = 0 };
		struct sl_offsets_rec out;
		b_commit_value(&val, v, 1000 + v, 42, "meta", 1700000000000ll);
		EQ(decode(&k, &val, &out), 0);
		EQ(out.type, SL_OFFSETS_COMMIT);
		expect_str(out.group, out.group_len, "grp");
		expect_str(out.topic, out.topic_len, "topic-a");
		EQ(out.partition, 4);
		EQ(out.offset, 1000 + v);
		EQ(out.leader_epoch, v >= 3 ? 42 : -1);
		expect_str(out.meta, out.meta_len, "meta");
		EQ(out.time_ms, 1700000000000ll);

		/* empty metadata: length 0, not null */
		val.n = 0;
		b_commit_value(&val, v, 1, 0, "", 2);
		EQ(decode(&k, &val, &out), 0);
		EQ(out.meta_len, 0);
		EQ(out.time_ms, 2);
	}
	/* a key of version 0 is an OffsetCommitKey too */
	struct buf k0 = { .n = 0 }, val = { .n = 0 };
	struct sl_offsets_rec out;
	b_commit_key(&k0, 0, "grp", "t", 0);
	b_commit_value(&val, 0, 77, -1, "x", 5);
	EQ(decode(&k0, &val, &out), 0);
	EQ(out.type, SL_OFFSETS_COMMIT);
	EQ(out.offset, 77);
	EQ(decode(&k0, NULL, &out), 0);
	EQ(out.type, SL_OFFSETS_EXPIRE);
	EQ(out.partition, 0);
}

static const struct member members[] = {
	{ "consumer-1-5a1b", NULL, "consumer-1", "/10.0.0.1" },
	{ "static-2-77c0", "instance-2", "consumer-2", "/10.0.0.2" },
};

static void test_group_values_every_version(void **state)
{
	(void)state;
	struct buf k = { .n = 0 };
	b_group_key(&k, "grp");
	for (int16_t v = 0; v <= 4; v++) {
		struct sl_offsets_rec out;
		/* with members: one without, one with group_instance_id
		 * (written from v3 on) */
		for (int n = 1; n <= 2; n++) {
			struct buf val = { .n = 0 };
			b_group_value(&val, v, 1700000000000ll, members, n);
			EQ(decode(&k, &val, &out), 0);
			EQ(out.type, SL_OFFSETS_STATE);
			expect_str(out.group, out.group_len, "grp");
			/* members: the timestamp is not when it became
			 * Empty */
			EQ(out.time_ms, -1);
			EQ(out.partition, -1);
		}
		/* Empty: the timestamp says since when (v2+) */
		struct buf val = { .n = 0 };
		b_group_value(&val, v, 1700000000000ll, NULL, 0);
		EQ(decode(&k, &val, &out), 0);
		EQ(out.type, SL_OFFSETS_STATE);
		EQ(out.time_ms, v >= 2 ? 1700000000000ll : -1);
	}
	struct sl_offsets_rec out;
	EQ(decode(&k, NULL, &out), 0);
	EQ(out.type, SL_OFFSETS_DELETE);
	expect_str(out.group, out.group_len, "grp");
}

/* A flexible value's tagged fields are skipped, wherever they are. */
static void test_group_value_v4_tagged_fields(void **state)
{
	(void)state;
	struct buf k = { .n = 0 }, val = { .n = 0 };
	struct sl_offsets_rec out;
	b_group_key(&k, "grp");
	b_16(&val, 4);
	b_str(&val, true, "consumer");
	b_32(&val, 1);
	b_str(&val, true, "range");
	b_str(&val, true, NULL);
	b_64(&val, 99);
	b_uvarint(&val, 2);              /* one member */
	b_str(&val, true, "m");
	b_str(&val, true, NULL);
	b_str(&val, true, "c");
	b_str(&val, true, "h");
	b_32(&val, 1);
	b_32(&val, 2);
	b_bytes(&val, true, "", 0);
	b_bytes(&val, true, "zz", 2);
	b_uvarint(&val, 2);              /* the member's tagged fields */
	b_uvarint(&val, 0);
	b_uvarint(&val, 1);
	b_u8(&val, 0xaa);
	b_uvarint(&val, 300);            /* a two-byte tag */
	b_uvarint(&val, 0);
	b_uvarint(&val, 1);              /* the value's */
	b_uvarint(&val, 5);
	b_uvarint(&val, 2);
	b_raw(&val, "xy", 2);
	EQ(decode(&k, &val, &out), 0);
	EQ(out.type, SL_OFFSETS_STATE);
	EQ(out.time_ms, -1);

	/* a tagged field longer than what is left */
	val.b[val.n - 3] = 3;
	EQ(decode(&k, &val, &out), -EBADMSG);
}

/* ---- skipped ---- */

static void test_skipped(void **state)
{
	(void)state;
	struct sl_offsets_rec out;
	struct buf k = { .n = 0 }, val = { .n = 0 };
	/* Kafka's newer coordinators' records: a key of version 3+ */
	b_16(&k, 3);
	b_raw(&k, "anything", 8);
	b_raw(&val, "\x00\x00", 2);
	EQ(decode(&k, &val, &out), 1);
	EQ(out.type, 0);
	EQ(out.partition, 0); /* cleared */
	EQ(out.time_ms, 0);
	EQ(decode(&k, NULL, &out), 1);
	k.n = 0;
	b_16(&k, INT16_MAX);
	EQ(decode(&k, &val, &out), 1);
	k.n = 2; /* nothing behind the version: still another kind */
	EQ(decode(&k, NULL, &out), 1);

	/* values of a later version behind a valid key */
	k.n = 0;
	b_commit_key(&k, 1, "g", "t", 0);
	val.n = 0;
	b_16(&val, 5);
	b_raw(&val, "future", 6);
	EQ(decode(&k, &val, &out), 1);
	EQ(out.type, 0);
	assert_null(out.group);
	k.n = 0;
	b_group_key(&k, "g");
	EQ(decode(&k, &val, &out), 1);
	val.n = 2; /* the version alone */
	EQ(decode(&k, &val, &out), 1);

	/* but a bad key behind it is refused, not skipped */
	k.n = 0;
	b_group_key(&k, "");
	EQ(decode(&k, &val, &out), -EBADMSG);
}

/* ---- refused ---- */

/* every cut of k and of v is refused, and a byte more too */
static void expect_cuts_refused(const struct buf *k, const struct buf *v)
{
	struct sl_offsets_rec out;
	struct buf kk = *k, vv;
	for (int32_t n = 0; n < k->n; n++) {
		kk.n = n;
		EQ(decode(&kk, v, &out), -EBADMSG);
		EQ(out.type, 0);
	}
	kk.n = k->n;
	b_u8(&kk, 0);
	EQ(decode(&kk, v, &out), -EBADMSG);
	if (!v)
		return;
	vv = *v;
	for (int32_t n = 0; n < v->n; n++) {
		vv.n = n;
		EQ(decode(k, &vv, &out), -EBADMSG);
		assert_null(out.group);
	}
	vv.n = v->n;
	b_u8(&vv, 0);
	EQ(decode(k, &vv, &out), -EBADMSG);
	/* and the whole is fine */
	EQ(decode(k, v, &out), 0);
}

static void test_cuts_and_trailing(void **state)
{
	(void)state;
	struct buf k = { .n = 0 }, val = { .n = 0 };
	/* what this writes */
	struct sl_offsets_rec r = commit_rec("group", "topic", 1, "meta", 4);
	sl_gtopic_encode(&r, k.b, &k.n, val.b, &val.n);
	expect_cuts_refused(&k, &val);
	expect_cuts_refused(&k, NULL);
	r.type = SL_OFFSETS_STATE;
	sl_gtopic_encode(&r, k.b, &k.n, val.b, &val.n);
	expect_cuts_refused(&k, &val);
	expect_cuts_refused(&k, NULL);

	/* and what Kafka writes, every version */
	k.n = 0;
	b_commit_key(&k, 1, "g", "t", 2);
	for (int16_t v = 0; v <= 4; v++) {
		val.n = 0;
		b_commit_value(&val, v, 1, 2, "m", 3);
		expect_cuts_refused(&k, &val);
	}
	k.n = 0;
	b_group_key(&k, "g");
	for (int16_t v = 0; v <= 4; v++) {
		val.n = 0;
		b_group_value(&val, v, 5, members, 2);
		expect_cuts_refused(&k, &val);
	}
}

static void test_lengths_out_of_range(void **state)
{
	(void)state;
	static char name[SL_OFFSETS_META_MAX + 2];
	struct sl_offsets_rec out;
	struct buf k = { .n = 0 }, val = { .n = 0 };
	b_commit_value(&val, 3, 1, 2, "m", 3);

	/* group: 0 and 256 bytes refused, 1 and 255 read */
	memset(name, 'a', sizeof(name) - 1);
	for (int i = 0; i < 4; i++) {
		static const size_t len[] = { 0, 1, SL_OFFSETS_GROUP_MAX,
					      SL_OFFSETS_GROUP_MAX + 1 };
		name[len[i]] = 0;
		k.n = 0;
		b_commit_key(&k, 1, name, "t", 0);
		EQ(decode(&k, &val, &out), i == 1 || i == 2 ? 0 : -EBADMSG);
		k.n = 0;
		b_group_key(&k, name);
		EQ(decode(&k, NULL, &out), i == 1 || i == 2 ? 0 : -EBADMSG);
		name[len[i]] = 'a';
	}
	/* topic: 0 and 250 refused, 249 read */
	for (int i = 0; i < 3; i++) {
		static const size_t len[] = { 0, SL_OFFSETS_TOPIC_MAX,
					      SL_OFFSETS_TOPIC_MAX + 1 };
		name[len[i]] = 0;
		k.n = 0;
		b_commit_key(&k, 1, "g", name, 0);
		EQ(decode(&k, &val, &out), i == 1 ? 0 : -EBADMSG);
		EQ(decode(&k, NULL, &out), i == 1 ? 0 : -EBADMSG);
		name[len[i]] = 'a';
	}
	/* metadata: 4096 read, 4097 refused (v3 and v4) */
	k.n = 0;
	b_commit_key(&k, 1, "g", "t", 0);
	for (int16_t v = 3; v <= 4; v++) {
		name[SL_OFFSETS_META_MAX] = 0;
		val.n = 0;
		b_commit_value(&val, v, 1, 2, name, 3);
		EQ(decode(&k, &val, &out), 0);
		EQ(out.meta_len, SL_OFFSETS_META_MAX);
		name[SL_OFFSETS_META_MAX] = 'a';
		val.n = 0;
		b_commit_value(&val, v, 1, 2, name, 3);
		EQ(decode(&k, &val, &out), -EBADMSG);
	}
	/* a negative string length other than -1 */
	k.n = 0;
	b_16(&k, 2);
	b_16(&k, -2);
	EQ(decode(&k, NULL, &out), -EBADMSG);
}

static void test_refused(void **state)
{
	(void)state;
	struct sl_offsets_rec out;
	struct buf k = { .n = 0 }, val = { .n = 0 };
	b_commit_key(&k, 1, "g", "t", 0);
	b_commit_value(&val, 3, 1, 2, "m", 3);
	EQ(decode(&k, &val, &out), 0);

	/* a null key, a negative key or value version, a value length
	 * below -1 */
	EQ(sl_gtopic_decode(k.b, -1, val.b, val.n, &out), -EBADMSG);
	EQ(sl_gtopic_decode(NULL, -1, NULL, -1, &out), -EBADMSG);
	EQ(out.type, 0);
	EQ(sl_gtopic_decode(k.b, k.n, val.b, -2, &out), -EBADMSG);
	struct buf neg = { .n = 0 };
	b_16(&neg, -1);
	b_str(&neg, false, "g");
	EQ(decode(&neg, NULL, &out), -EBADMSG);
	neg.n = 0;
	b_16(&neg, -1);
	EQ(decode(&k, &neg, &out), -EBADMSG);

	/* a negative partition, of a commit and of a tombstone */
	struct buf kp = { .n = 0 };
	b_commit_key(&kp, 1, "g", "t", -1);
	EQ(decode(&kp, &val, &out), -EBADMSG);
	EQ(decode(&kp, NULL, &out), -EBADMSG);
	kp.n = 0;
	b_commit_key(&kp, 0, "g", "t", INT32_MIN);
	EQ(decode(&kp, NULL, &out), -EBADMSG);

	/* null strings where Kafka's schema has none */
	struct buf kn = { .n = 0 };
	b_commit_key(&kn, 1, NULL, "t", 0);
	EQ(decode(&kn, NULL, &out), -EBADMSG);
	kn.n = 0;
	b_commit_key(&kn, 1, "g", NULL, 0);
	EQ(decode(&kn, NULL, &out), -EBADMSG);
	for (int16_t v = 0; v <= 4; v++) {
		val.n = 0;
		b_commit_value(&val, v, 1, 2, NULL, 3); /* null metadata */
		EQ(decode(&k, &val, &out), -EBADMSG);
	}
	struct buf kg = { .n = 0 };
	b_group_key(&kg, "g");
	for (int16_t v = 0; v <= 4; v++) {
		struct member m = members[0];
		m.client = NULL;
		val.n = 0;
		b_group_value(&val, v, 1, &m, 1);
		EQ(decode(&kg, &val, &out), -EBADMSG);
		/* group_instance_id may be null, member_id not */
		m = members[0];
		m.id = NULL;
		val.n = 0;
		b_group_value(&val, v, 1, &m, 1);
		EQ(decode(&kg, &val, &out), -EBADMSG);
	}
	/* a null protocol_type */
	val.n = 0;
	b_16(&val, 3);
	b_str(&val, false, NULL);
	b_32(&val, 0);
	b_16(&val, -1);
	b_16(&val, -1);
	b_64(&val, 5);
	b_32(&val, 0);
	EQ(decode(&kg, &val, &out), -EBADMSG);
	val.b[3] = 0; /* "" is fine */
	val.b[2] = 0;
	EQ(decode(&kg, &val, &out), 0);
	EQ(out.time_ms, 5);

	/* a current_state_timestamp below -1 */
	val.n = 0;
	b_group_value(&val, 3, -2, NULL, 0);
	EQ(decode(&kg, &val, &out), -EBADMSG);
	val.n = 0;
	b_group_value(&val, 3, -1, NULL, 0);
	EQ(decode(&kg, &val, &out), 0);
	EQ(out.time_ms, -1);

	/* a negative member count, or one past the bytes */
	val.n = 0;
	b_group_value(&val, 2, 1, NULL, 0);
	memcpy(val.b + val.n - 4, "\xff\xff\xff\xff", 4);
	EQ(decode(&kg, &val, &out), -EBADMSG);
	memcpy(val.b + val.n - 4, "\x7f\xff\xff\xff", 4);
	EQ(decode(&kg, &val, &out), -EBADMSG);
	/* a null compact array (0) */
	val.n = 0;
	b_group_value(&val, 4, 1, NULL, 0);
	EQ(decode(&kg, &val, &out), 0);
	val.b[val.n - 2] = 0;
	EQ(decode(&kg, &val, &out), -EBADMSG);
	/* a uvarint of 5 bytes is read (2, padded as Kafka's reader
	 * allows), one of more than 32 bits is not (its bits past 32 are
	 * not dropped into a small length), nor one never ending */
	for (int over = 0; over <= 1; over++) {
		val.n = 0;
		b_16(&val, 4);
		b_raw(&val, over ? "\x82\x80\x80\x80\x10" :
				   "\x82\x80\x80\x80\x00", 5);
		b_u8(&val, 'c');      /* protocol_type "c" */
		b_32(&val, 0);
		b_uvarint(&val, 0);
		b_uvarint(&val, 0);
		b_64(&val, 8);
		b_uvarint(&val, 1);
		b_uvarint(&val, 0);
		EQ(decode(&kg, &val, &out), over ? -EBADMSG : 0);
		EQ(out.time_ms, over ? 0 : 8);
	}
	val.n = 0;
	b_16(&val, 4);
	b_raw(&val, "\xff\xff\xff\xff\x7f", 5);
	EQ(decode(&kg, &val, &out), -EBADMSG);
	val.n = 0;
	b_16(&val, 4);
	b_raw(&val, "\x80\x80\x80\x80\x80\x80", 6);
	EQ(decode(&kg, &val, &out), -EBADMSG);
	/* a compact string length past what an int16 holds (the largest
	 * a uvarint holds, and the first past 0x7fff), the rest valid */
	for (int i = 0; i < 2; i++) {
		val.n = 0;
		b_16(&val, 4);
		b_str(&val, true, "c");
		b_32(&val, 0);
		b_uvarint(&val, i ? 0x7fff + 2 : UINT32_MAX); /* protocol */
		b_uvarint(&val, 0);
		b_64(&val, 8);
		b_uvarint(&val, 1);
		b_uvarint(&val, 0);
		EQ(decode(&kg, &val, &out), -EBADMSG);
	}
	/* a group value behind a commit key, and the other way around */
	val.n = 0;
	b_group_value(&val, 3, 1, NULL, 0);
	EQ(decode(&k, &val, &out), -EBADMSG);
	val.n = 0;
	b_commit_value(&val, 3, 1, 2, "m", 3);
	EQ(decode(&kg, &val, &out), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_commit),
		cmocka_unit_test(test_round_trip_null_and_empty_meta),
		cmocka_unit_test(test_round_trip_max),
		cmocka_unit_test(test_round_trip_txn),
		cmocka_unit_test(test_round_trip_txn_max),
		cmocka_unit_test(test_txn_refused),
		cmocka_unit_test(test_round_trip_expire),
		cmocka_unit_test(test_round_trip_state),
		cmocka_unit_test(test_round_trip_delete),
		cmocka_unit_test(test_commit_bytes),
		cmocka_unit_test(test_state_bytes),
		cmocka_unit_test(test_commit_values_every_version),
		cmocka_unit_test(test_group_values_every_version),
		cmocka_unit_test(test_group_value_v4_tagged_fields),
		cmocka_unit_test(test_skipped),
		cmocka_unit_test(test_cuts_and_trailing),
		cmocka_unit_test(test_lengths_out_of_range),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
