/*
 * libFuzzer target for the records of __transaction_state
 * (control/ttopic.c): keys and values read back from a partition another
 * coordinator, or Kafka itself, wrote.
 *
 * Input: one flags byte, a 2-byte big-endian key length (cut to what is
 * left), the key, then the value (the rest).  Flag bit 0: the value is
 * null (the rest is ignored); bits 1-7: which record a second decode's
 * apply fails on (property 4).  Key and value are copied to buffers of
 * their own size, so that ASan sees any read past either.
 *
 * Properties:
 *   1. decoding (with an apply that answers 0) returns 0, 1 (the load
 *      mark), -ENOTSUP or -EBADMSG, and hands nothing unless it returns 0;
 *   2. on 0 the records handed are a DELETE, then for a non-null value
 *      exactly one STATE, then PARTITIONs, then GROUPs, all of the key's
 *      id (pointing into the key), each valid as control/txnlog.c's rec_ok
 *      says (ids 1..SL_TXNLOG_ID_MAX, topics 1..SL_TXNLOG_TOPIC_MAX with a
 *      partition >= 0, groups 1..SL_TXNLOG_GROUP_MAX, producer id >= 0,
 *      previous producer id and epochs >= -1, timeout > 0, state <= 5),
 *      topics and groups pointing into the value;
 *   3. what was handed, made a struct sl_ttopic_state again (partitions
 *      and groups in the order handed), encodes to the same key bytes and
 *      to a value of sl_ttopic_value_bytes (in a buffer of exactly that
 *      size) that decodes to the same records, and encoding those gives
 *      the same bytes again;
 *   4. an apply that fails on the k-th record stops the decode there: it
 *      returns the failure, having handed k records.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "control/ttopic.h"
#include "fuzz_util.h"

#define INPUT_MAX (64u * 1024)
/* every PARTITION takes 4 bytes of the value, every GROUP 2 */
#define RECS_MAX (2 + INPUT_MAX / 2)
#define FAIL_RC (-EXDEV) /* property 4's apply: nothing ttopic.c returns */

struct recs {
	struct sl_txnlog_rec r[RECS_MAX];
	size_t n;
};

static struct recs handed;
static struct sl_ttopic_name parts[RECS_MAX], groups[RECS_MAX];
static uint8_t k2[SL_TTOPIC_KEY_MAX], k3[SL_TTOPIC_KEY_MAX];

static bool inside(const void *p, size_t n, const uint8_t *buf, int32_t len)
{
	const uint8_t *b = p;
	return b && len >= 0 && b >= buf && n <= (size_t)len &&
	       b - buf <= (ptrdiff_t)((size_t)len - n);
}

static int collect(void *arg, const struct sl_txnlog_rec *r)
{
	struct recs *c = arg;
	FUZZ_CHECK(c->n < RECS_MAX);
	c->r[c->n++] = *r;
	return 0;
}

/* Property 2: one record, the idx-th of n handed. */
static void check_rec(const struct sl_txnlog_rec *r, size_t idx,
		      const uint8_t *key, int32_t klen, const uint8_t *value,
		      int32_t vlen)
{
	FUZZ_CHECK(r->id_len >= 1 && r->id_len <= SL_TXNLOG_ID_MAX);
	FUZZ_CHECK(r->id_len == klen - 4 && r->id == (const char *)key + 4);
	if (idx == 0) {
		FUZZ_CHECK(r->type == SL_TXNLOG_DELETE);
		return;
	}
	FUZZ_CHECK(vlen >= 0);
	if (idx == 1) {
		FUZZ_CHECK(r->type == SL_TXNLOG_STATE);
		FUZZ_CHECK(r->producer_id >= 0 && r->prev_producer_id >= -1);
		FUZZ_CHECK(r->epoch >= -1 && r->last_epoch >= -1);
		FUZZ_CHECK(r->timeout_ms > 0 && r->state <= 5);
		return;
	}
	if (r->type == SL_TXNLOG_PARTITION) {
		FUZZ_CHECK(r->topic_len >= 1 &&
			   r->topic_len <= SL_TXNLOG_TOPIC_MAX);
		FUZZ_CHECK(inside(r->topic, r->topic_len, value, vlen));
		FUZZ_CHECK(r->partition >= 0);
	} else {
		FUZZ_CHECK(r->type == SL_TXNLOG_GROUP);
		FUZZ_CHECK(r->group_len >= 1 &&
			   r->group_len <= SL_TXNLOG_GROUP_MAX);
		FUZZ_CHECK(inside(r->group, r->group_len, value, vlen));
	}
}

/* Property 2: the records in order. */
static void check_recs(const struct recs *c, const uint8_t *key,
		       int32_t klen, const uint8_t *value, int32_t vlen)
{
	FUZZ_CHECK(c->n >= 1);
	FUZZ_CHECK(vlen >= 0 ? c->n >= 2 : c->n == 1);
	bool in_groups = false;
	for (size_t i = 0; i < c->n; i++) {
		check_rec(&c->r[i], i, key, klen, value, vlen);
		if (i < 2)
			continue;
		if (c->r[i].type == SL_TXNLOG_GROUP)
			in_groups = true;
		else
			FUZZ_CHECK(!in_groups); /* no PARTITION after a GROUP */
	}
}

static bool same_str(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && !memcmp(a, b, alen);
}

static bool same(const struct sl_txnlog_rec *a, const struct sl_txnlog_rec *b)
{
	if (a->type != b->type || !same_str(a->id, a->id_len, b->id, b->id_len))
		return false;
	switch (a->type) {
	case SL_TXNLOG_STATE:
		return a->producer_id == b->producer_id &&
		       a->prev_producer_id == b->prev_producer_id &&
		       a->epoch == b->epoch && a->last_epoch == b->last_epoch &&
		       a->timeout_ms == b->timeout_ms &&
		       a->state == b->state && a->start_ms == b->start_ms &&
		       a->update_ms == b->update_ms;
	case SL_TXNLOG_PARTITION:
		return same_str(a->topic, a->topic_len, b->topic,
				b->topic_len) &&
		       a->partition == b->partition;
	case SL_TXNLOG_GROUP:
		return same_str(a->group, a->group_len, b->group,
				b->group_len);
	default:
		return true;
	}
}

/* The value of s in a heap buffer of exactly its size (*n bytes). */
static uint8_t *encode_value(const struct sl_ttopic_state *s, int32_t *n)
{
	size_t bytes = sl_ttopic_value_bytes(s);
	FUZZ_CHECK(bytes >= 17 && bytes <= INT32_MAX);
	uint8_t *v = malloc(bytes);
	FUZZ_CHECK(v);
	FUZZ_CHECK(sl_ttopic_value(s, v) == bytes);
	*n = (int32_t)bytes;
	return v;
}

/* Property 3. */
static void check_round_trip(const struct recs *c, const uint8_t *key,
			     int32_t klen, bool has_value)
{
	int32_t kl2 = sl_ttopic_key(c->r[0].id, c->r[0].id_len, k2);
	FUZZ_CHECK(kl2 == klen && !memcmp(k2, key, (size_t)klen));
	if (!has_value)
		return;
	struct sl_ttopic_state s = { .state = &c->r[1] };
	for (size_t i = 2; i < c->n; i++) {
		const struct sl_txnlog_rec *r = &c->r[i];
		if (r->type == SL_TXNLOG_PARTITION)
			parts[s.nparts++] = (struct sl_ttopic_name){
				.name = r->topic, .len = r->topic_len,
				.partition = r->partition };
		else
			groups[s.ngroups++] = (struct sl_ttopic_name){
				.name = r->group, .len = r->group_len };
	}
	s.parts = parts;
	s.groups = groups;
	int32_t vl2;
	uint8_t *v2 = encode_value(&s, &vl2);

	static struct recs again;
	again.n = 0;
	FUZZ_CHECK(sl_ttopic_decode(k2, kl2, v2, vl2, collect, &again) == 0);
	check_recs(&again, k2, kl2, v2, vl2);
	FUZZ_CHECK(again.n == c->n);
	for (size_t i = 0; i < c->n; i++)
		FUZZ_CHECK(same(&c->r[i], &again.r[i]));

	/* again's records point into k2 and v2: encoding them gives the
	 * same bytes (the names in parts and groups are still theirs) */
	struct sl_ttopic_state s3 = {
		.state = &again.r[1], .parts = parts, .nparts = s.nparts,
		.groups = groups, .ngroups = s.ngroups,
	};
	for (size_t i = 2, p = 0, g = 0; i < again.n; i++) {
		const struct sl_txnlog_rec *r = &again.r[i];
		if (r->type == SL_TXNLOG_PARTITION)
			parts[p++].name = r->topic;
		else
			groups[g++].name = r->group;
	}
	int32_t kl3 = sl_ttopic_key(again.r[0].id, again.r[0].id_len, k3);
	FUZZ_CHECK(kl3 == kl2 && !memcmp(k3, k2, (size_t)kl2));
	int32_t vl3;
	uint8_t *v3 = encode_value(&s3, &vl3);
	FUZZ_CHECK(vl3 == vl2 && !memcmp(v3, v2, (size_t)vl2));
	free(v3);
	free(v2);
}

/* Property 4's apply: answers FAIL_RC on record fail_at. */
struct stop {
	size_t n, fail_at;
};

static int stop_at(void *arg, const struct sl_txnlog_rec *r)
{
	struct stop *s = arg;
	(void)r;
	return s->n++ == s->fail_at ? FAIL_RC : 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size > INPUT_MAX)
		return 0;
	uint8_t flags = data[0];
	size_t kn = (size_t)data[1] << 8 | data[2];
	if (kn > size - 3)
		kn = size - 3;
	size_t vn = size - 3 - kn;
	/* copies of their own size (at least one byte, for malloc) */
	uint8_t *key = malloc(kn ? kn : 1), *value = malloc(vn ? vn : 1);
	FUZZ_CHECK(key && value);
	memcpy(key, data + 3, kn);
	memcpy(value, data + 3 + kn, vn);
	int32_t klen = (int32_t)kn;
	int32_t vlen = flags & 1 ? -1 : (int32_t)vn;
	const uint8_t *v = vlen < 0 ? NULL : value;

	handed.n = 0;
	int rc = sl_ttopic_decode(key, klen, v, vlen, collect, &handed);
	FUZZ_CHECK(rc == 0 || rc == 1 || rc == -ENOTSUP || rc == -EBADMSG);
	if (rc != 0) {
		FUZZ_CHECK(handed.n == 0);
	} else {
		check_recs(&handed, key, klen, v, vlen);
		check_round_trip(&handed, key, klen, vlen >= 0);
		struct stop st = { .fail_at = (size_t)(flags >> 1) % handed.n };
		FUZZ_CHECK(sl_ttopic_decode(key, klen, v, vlen, stop_at,
					    &st) == FAIL_RC);
		FUZZ_CHECK(st.n == st.fail_at + 1);
	}
	free(key);
	free(value);
	return 0;
}
