/*
 * libFuzzer target for the records of __consumer_offsets
 * (control/gtopic.c): keys and values read back from a partition another
 * broker, or Kafka itself, wrote.
 *
 * Input: one flags byte, a 2-byte big-endian key length (cut to what is
 * left), the key, then the value (the rest).  Flag bit 0: the value is
 * null (the rest is ignored); bit 1: the key is null.  Key and value are
 * copied to buffers of their own size, so that ASan sees any read past
 * either.
 *
 * Properties:
 *   1. decoding answers 0, 1 (skip) or -EBADMSG, and on anything but 0
 *      leaves the record cleared;
 *   2. on 0 the record is valid as control/offsets.h says: a type of 1..6,
 *      a tombstone (EXPIRE, DELETE, TXN_END) if and only if the value is
 *      null, the group id (1..255 bytes) and topic (COMMIT, EXPIRE, TXN,
 *      TXN_END: 1..249 bytes, partition >= 0) inside the key, the
 *      metadata (COMMIT: 0..4096 bytes; TXN: null too) inside the value,
 *      a transaction's producer id (and TXN's epoch) >= 0, a state's time
 *      >= -1;
 *   3. what decodes encodes within SL_GTOPIC_KEY_MAX and _VALUE_MAX and
 *      decodes again to the same record (type, group, topic, partition,
 *      offset, leader epoch, time, metadata bytes), and encoding that
 *      gives the same bytes again;
 *   4. a key means the same whatever its value: with a null value it is
 *      the tombstone of the same group (and topic and partition, and
 *      producer).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "control/gtopic.h"
#include "fuzz_util.h"

#define INPUT_MAX (64u * 1024)

static uint8_t k1[SL_GTOPIC_KEY_MAX], v1[SL_GTOPIC_VALUE_MAX];
static uint8_t k2[SL_GTOPIC_KEY_MAX], v2[SL_GTOPIC_VALUE_MAX];

static bool inside(const void *p, size_t n, const uint8_t *buf, int32_t len)
{
	const uint8_t *b = p;
	return len >= 0 && b >= buf && n <= (size_t)len &&
	       b - buf <= (ptrdiff_t)((size_t)len - n);
}

/* Property 1 for a record decoding did not answer 0. */
static void check_cleared(const struct sl_offsets_rec *r)
{
	static const struct sl_offsets_rec zero;
	FUZZ_CHECK(!memcmp(r, &zero, sizeof(zero)));
}

/* Property 2. */
static void check_valid(const struct sl_offsets_rec *r, const uint8_t *key,
			int32_t klen, const uint8_t *value, int32_t vlen)
{
	bool txn = r->type == SL_OFFSETS_TXN || r->type == SL_OFFSETS_TXN_END;
	bool tombstone = r->type == SL_OFFSETS_EXPIRE ||
			 r->type == SL_OFFSETS_DELETE ||
			 r->type == SL_OFFSETS_TXN_END;
	bool commit_key = r->type == SL_OFFSETS_COMMIT ||
			  r->type == SL_OFFSETS_EXPIRE || txn;
	FUZZ_CHECK(r->type >= SL_OFFSETS_COMMIT &&
		   r->type <= SL_OFFSETS_TXN_END);
	if (txn)
		FUZZ_CHECK(r->producer_id >= 0);
	if (r->type == SL_OFFSETS_TXN)
		FUZZ_CHECK(r->producer_epoch >= 0);
	FUZZ_CHECK(tombstone == (vlen < 0));
	FUZZ_CHECK(r->group_len >= 1 && r->group_len <= SL_OFFSETS_GROUP_MAX);
	FUZZ_CHECK(inside(r->group, r->group_len, key, klen));
	if (commit_key) {
		FUZZ_CHECK(r->topic_len >= 1 &&
			   r->topic_len <= SL_OFFSETS_TOPIC_MAX);
		FUZZ_CHECK(inside(r->topic, r->topic_len, key, klen));
		FUZZ_CHECK(r->partition >= 0);
	} else {
		FUZZ_CHECK(!r->topic && r->topic_len == 0 &&
			   r->partition == -1);
	}
	if (r->type == SL_OFFSETS_COMMIT ||
	    (r->type == SL_OFFSETS_TXN && r->meta_len >= 0)) {
		FUZZ_CHECK(r->meta_len >= 0 &&
			   r->meta_len <= SL_OFFSETS_META_MAX);
		FUZZ_CHECK(inside(r->meta, (size_t)r->meta_len, value, vlen));
	} else if (r->type == SL_OFFSETS_TXN) {
		FUZZ_CHECK(!r->meta && r->meta_len == -1);
	} else {
		FUZZ_CHECK(!r->meta && r->meta_len == -1);
		FUZZ_CHECK(r->offset == -1 && r->leader_epoch == -1);
	}
	if (r->type == SL_OFFSETS_STATE)
		FUZZ_CHECK(r->time_ms >= -1);
	if (tombstone)
		FUZZ_CHECK(r->time_ms == -1);
}

static bool same_bytes(const char *a, int32_t alen, const char *b,
		       int32_t blen)
{
	/* a null metadata is written as "" */
	if (alen < 0)
		alen = 0;
	if (blen < 0)
		blen = 0;
	return alen == blen && (alen == 0 || !memcmp(a, b, (size_t)alen));
}

static bool same(const struct sl_offsets_rec *a, const struct sl_offsets_rec *b)
{
	return a->type == b->type &&
	       same_bytes(a->group, a->group_len, b->group, b->group_len) &&
	       same_bytes(a->topic, a->topic_len, b->topic, b->topic_len) &&
	       a->partition == b->partition && a->offset == b->offset &&
	       a->leader_epoch == b->leader_epoch &&
	       a->time_ms == b->time_ms &&
	       a->producer_id == b->producer_id &&
	       (a->type != SL_OFFSETS_TXN ||
		(a->producer_epoch == b->producer_epoch &&
		 (a->meta_len < 0) == (b->meta_len < 0))) &&
	       same_bytes(a->meta, a->meta_len, b->meta, b->meta_len);
}

/* Property 3. */
static void check_round_trip(const struct sl_offsets_rec *r)
{
	int32_t kl1 = -2, vl1 = -2, kl2 = -2, vl2 = -2;
	struct sl_offsets_rec again;
	sl_gtopic_encode(r, k1, &kl1, v1, &vl1);
	FUZZ_CHECK(kl1 > 0 && kl1 <= SL_GTOPIC_KEY_MAX);
	FUZZ_CHECK(vl1 >= -1 && vl1 <= SL_GTOPIC_VALUE_MAX);
	FUZZ_CHECK(sl_gtopic_decode(k1, kl1, vl1 < 0 ? NULL : v1, vl1,
				    &again) == 0);
	check_valid(&again, k1, kl1, vl1 < 0 ? NULL : v1, vl1);
	FUZZ_CHECK(same(r, &again));
	sl_gtopic_encode(&again, k2, &kl2, v2, &vl2);
	FUZZ_CHECK(kl2 == kl1 && !memcmp(k1, k2, (size_t)kl1));
	FUZZ_CHECK(vl2 == vl1 &&
		   (vl1 < 0 || !memcmp(v1, v2, (size_t)vl1)));
}

/* Property 4. */
static void check_key_alone(const struct sl_offsets_rec *r,
			    const uint8_t *key, int32_t klen)
{
	struct sl_offsets_rec t;
	FUZZ_CHECK(sl_gtopic_decode(key, klen, NULL, -1, &t) == 0);
	check_valid(&t, key, klen, NULL, -1);
	FUZZ_CHECK(t.type == (r->type == SL_OFFSETS_STATE ? SL_OFFSETS_DELETE :
			      r->type == SL_OFFSETS_TXN ? SL_OFFSETS_TXN_END :
							  SL_OFFSETS_EXPIRE));
	FUZZ_CHECK(t.group == r->group && t.group_len == r->group_len &&
		   t.topic == r->topic && t.topic_len == r->topic_len &&
		   t.partition == r->partition &&
		   t.producer_id == r->producer_id);
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
	int32_t klen = flags & 2 ? -1 : (int32_t)kn;
	int32_t vlen = flags & 1 ? -1 : (int32_t)vn;

	struct sl_offsets_rec r;
	memset(&r, 0x5a, sizeof(r)); /* nothing left of what was there */
	int rc = sl_gtopic_decode(key, klen, vlen < 0 ? NULL : value, vlen,
				  &r);
	FUZZ_CHECK(rc == 0 || rc == 1 || rc == -EBADMSG);
	if (rc != 0) {
		check_cleared(&r);
	} else {
		check_valid(&r, key, klen, value, vlen);
		check_round_trip(&r);
		if (vlen >= 0)
			check_key_alone(&r, key, klen);
	}
	free(key);
	free(value);
	return 0;
}
