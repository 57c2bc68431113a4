/*
 * proto/msgset.c: message formats v0 and v1 up-converted to RecordBatch v2
 * (records, timestamps, null keys and values, compressed wrappers) and
 * stored batches down-converted for old consumers, with the refusals.
 * Message sets are written here by hand from the format's definition.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "proto/compression.h"
#include "proto/msgset.h"
#include "proto/record_batch.h"
#include "sluice/error.h"
#include "tl.h"

struct set {
	uint8_t b[1 << 16];
	size_t len;
};

/* Append one message; key/value NULL are null. */
static void add(struct set *s, int magic, int attributes, int64_t offset,
		int64_t ts, const char *key, const char *value)
{
	uint8_t *e = s->b + s->len, *q = e + 12;
	size_t klen = key ? strlen(key) : 0, vlen = value ? strlen(value) : 0;
	uint8_t *w = q + 4;
	*w++ = (uint8_t)magic;
	*w++ = (uint8_t)attributes;
	if (magic == 1) {
		rb_put64(w, (uint64_t)ts);
		w += 8;
	}
	rb_put32(w, key ? (uint32_t)klen : (uint32_t)-1);
	w += 4;
	if (klen)
		memcpy(w, key, klen);
	w += klen;
	rb_put32(w, value ? (uint32_t)vlen : (uint32_t)-1);
	w += 4;
	if (vlen)
		memcpy(w, value, vlen);
	w += vlen;
	size_t size = (size_t)(w - q);
	rb_put64(e, (uint64_t)offset);
	rb_put32(e + 8, (uint32_t)size);
	rb_put32(q, (uint32_t)crc32(0, q + 4, (uInt)(size - 4)));
	s->len += 12 + size;
}

/* Append a wrapper of codec around inner's messages. */
static void add_wrapper(struct set *s, int magic, int codec,
			const struct set *inner)
{
	uint8_t *c;
	size_t clen;
	TL_OK(sl_compress(codec, inner->b, inner->len, &c, &clen));
	char *v = malloc(clen + 1);
	assert_non_null(v);
	/* add() takes a C string: write the wrapper by hand instead */
	uint8_t *e = s->b + s->len, *q = e + 12, *w = q + 4;
	*w++ = (uint8_t)magic;
	*w++ = (uint8_t)codec;
	if (magic == 1) {
		rb_put64(w, 1700000000000ull);
		w += 8;
	}
	rb_put32(w, (uint32_t)-1);
	w += 4;
	rb_put32(w, (uint32_t)clen);
	w += 4;
	memcpy(w, c, clen);
	w += clen;
	size_t size = (size_t)(w - q);
	rb_put64(e, 0);
	rb_put32(e + 8, (uint32_t)size);
	rb_put32(q, (uint32_t)crc32(0, q + 4, (uInt)(size - 4)));
	s->len += 12 + size;
	free(v);
	free(c);
}

struct rec {
	int64_t offset, ts;
	const char *key, *value;
};

/* Check the records of batch b (any codec) against want. */
static void check_batch(const uint8_t *b, size_t len, const struct rec *want,
			int n)
{
	TL_OK(rb_validate(b, len));
	struct rb_iter it;
	uint8_t *records = NULL;
	int rc = rb_iter_init(&it, b, len);
	if (rc == -ENOTSUP) {
		size_t rn;
		TL_OK(sl_decompress(rb_be16(b + RB_OFF_ATTRIBUTES) & 7,
				    b + RB_HEADER_BYTES, len - RB_HEADER_BYTES,
				    1 << 20, &records, &rn));
		rb_iter_init_records(&it, b, records, rn);
	} else {
		TL_OK(rc);
	}
	struct rb_record r;
	for (int i = 0; i < n; i++) {
		TL_EQ(rb_iter_next(&it, &r), 1);
		TL_EQ(r.offset - (int64_t)rb_be64(b), want[i].offset);
		TL_EQ(r.timestamp, want[i].ts);
		if (want[i].key) {
			TL_TRUE(r.key && r.klen == (int32_t)strlen(want[i].key) &&
				!memcmp(r.key, want[i].key, (size_t)r.klen));
		} else {
			TL_TRUE(r.key == NULL);
		}
		if (want[i].value) {
			TL_TRUE(r.value && r.vlen == (int32_t)strlen(want[i].value) &&
				!memcmp(r.value, want[i].value, (size_t)r.vlen));
		} else {
			TL_TRUE(r.vlen == -1);
		}
	}
	TL_EQ(rb_iter_next(&it, &r), 0);
	free(records);
}

static void test_up_v0(void **state)
{
	(void)state;
	static struct set s;
	s.len = 0;
	add(&s, 0, 0, 0, 0, "k1", "v1");
	add(&s, 0, 0, 1, 0, NULL, "no key");
	add(&s, 0, 0, 2, 0, "tombstone", NULL);
	TL_EQ(ms_magic(s.b, s.len), 0);
	uint8_t *b;
	size_t n;
	TL_OK(ms_upconvert(s.b, s.len, &b, &n));
	const struct rec want[] = { { 0, -1, "k1", "v1" },
				    { 1, -1, NULL, "no key" },
				    { 2, -1, "tombstone", NULL } };
	check_batch(b, n, want, 3);
	TL_EQ((int64_t)rb_be64(b + RB_OFF_PRODUCER_ID), -1);
	TL_EQ(rb_be16(b + RB_OFF_ATTRIBUTES) & 7, 0);
	free(b);
}

static void test_up_v1(void **state)
{
	(void)state;
	static struct set s;
	s.len = 0;
	add(&s, 1, 0, 0, 1700000000500ll, "a", "1");
	add(&s, 1, 0, 1, 1700000000100ll, "b", "2");
	uint8_t *b;
	size_t n;
	TL_OK(ms_upconvert(s.b, s.len, &b, &n));
	const struct rec want[] = { { 0, 1700000000500ll, "a", "1" },
				    { 1, 1700000000100ll, "b", "2" } };
	check_batch(b, n, want, 2);
	TL_EQ((int64_t)rb_be64(b + RB_OFF_MAX_TIMESTAMP), 1700000000500ll);
	free(b);
}

/* A compressed wrapper of each codec: the batch keeps the codec. */
static void test_up_wrapper(void **state)
{
	(void)state;
	static struct set inner, s;
	for (int codec = 1; codec <= 4; codec++) {
		inner.len = s.len = 0;
		add(&inner, 1, 0, 0, 1700000000001ll, "x", "first");
		add(&inner, 1, 0, 1, 1700000000002ll, "y", "second");
		add(&inner, 1, 0, 2, 1700000000003ll, "x", "third");
		add_wrapper(&s, 1, codec, &inner);
		add(&s, 1, 0, 3, 1700000000004ll, "z", "plain after");
		uint8_t *b;
		size_t n;
		TL_OK(ms_upconvert(s.b, s.len, &b, &n));
		TL_EQ(rb_be16(b + RB_OFF_ATTRIBUTES) & 7, codec);
		const struct rec want[] = {
			{ 0, 1700000000001ll, "x", "first" },
			{ 1, 1700000000002ll, "y", "second" },
			{ 2, 1700000000003ll, "x", "third" },
			{ 3, 1700000000004ll, "z", "plain after" } };
		check_batch(b, n, want, 4);
		free(b);
	}
}

static void test_up_refusals(void **state)
{
	(void)state;
	static struct set s, inner;
	uint8_t *b;
	size_t n;
	TL_EQ(ms_upconvert(s.b, 0, &b, &n), SL_ELENGTH);
	s.len = 0;
	add(&s, 1, 0, 0, 5, "k", "v");
	/* a flipped byte in the value */
	s.b[s.len - 1] ^= 1;
	TL_EQ(ms_upconvert(s.b, s.len, &b, &n), SL_ECRC);
	TL_TRUE(b == NULL && n == 0);
	s.b[s.len - 1] ^= 1;
	/* cut short */
	TL_EQ(ms_upconvert(s.b, s.len - 1, &b, &n), SL_ELENGTH);
	/* magic 2 where a message should be */
	s.b[12 + 4] = 2;
	TL_EQ(ms_upconvert(s.b, s.len, &b, &n), SL_EMAGIC);
	/* a codec beyond zstd */
	s.len = 0;
	add(&s, 1, 5, 0, 5, "k", "v");
	TL_EQ(ms_upconvert(s.b, s.len, &b, &n), SL_EATTRIBUTES);
	/* compression inside a wrapper */
	inner.len = s.len = 0;
	add(&inner, 1, 1, 0, 5, "k", "v");
	add_wrapper(&s, 1, 1, &inner);
	TL_EQ(ms_upconvert(s.b, s.len, &b, &n), SL_EATTRIBUTES);
	/* a wrapper whose stream gzip refuses */
	s.len = 0;
	add(&s, 1, 1, 0, 5, NULL, "not gzip at all");
	TL_EQ(ms_upconvert(s.b, s.len, &b, &n), SL_ERECORDS);
	/* a key length past the message */
	s.len = 0;
	add(&s, 0, 0, 0, 0, "kk", "v");
	rb_put32(s.b + 12 + 6, 1000);
	rb_put32(s.b + 12, (uint32_t)crc32(0, s.b + 16, (uInt)(s.len - 16)));
	TL_EQ(ms_upconvert(s.b, s.len, &b, &n), SL_ELENGTH);
}

/* Stored batches (one plain, one compressed, one control) down to each
 * magic, from an offset inside the first batch. */
static void test_down(void **state)
{
	(void)state;
	static uint8_t stored[8192];
	size_t len = 0;
	struct rb_builder rb;
	rb_builder_init(&rb, stored, sizeof(stored), 1700000000000ll);
	TL_OK(rb_builder_add(&rb, "a", 1, "va", 2, 1700000000000ll));
	TL_OK(rb_builder_add(&rb, NULL, 0, "vb", 2, 1700000000001ll));
	TL_OK(rb_builder_add(&rb, "c", 1, NULL, 0, 1700000000002ll));
	long n1 = rb_builder_finish(&rb);
	TL_TRUE(n1 > 0);
	rb_stamp(stored, 10, 0);
	len = (size_t)n1;
	/* a control batch at 13 */
	rb_builder_init(&rb, stored + len, sizeof(stored) - len, 1700000000003ll);
	TL_OK(rb_builder_add(&rb, "\0\0\0\1", 4, "\0\0\0\0\0\0", 6,
			     1700000000003ll));
	long nc = rb_builder_finish(&rb);
	TL_TRUE(nc > 0);
	uint8_t *cb = stored + len;
	rb_put16(cb + RB_OFF_ATTRIBUTES, RB_ATTR_CONTROL | RB_ATTR_TRANSACTIONAL);
	rb_put32(cb + RB_OFF_CRC, rb_crc32c(cb + RB_CRC_START,
					    (size_t)nc - RB_CRC_START));
	rb_stamp(cb, 13, 0);
	len += (size_t)nc;
	/* a compressed batch at 14, from a zstd wrapper */
	static struct set inner, s;
	inner.len = s.len = 0;
	add(&inner, 1, 0, 0, 1700000000004ll, "d", "vd");
	add(&inner, 1, 0, 1, 1700000000005ll, "e", "ve");
	add_wrapper(&s, 1, SL_CODEC_ZSTD, &inner);
	uint8_t *zb;
	size_t zn;
	TL_OK(ms_upconvert(s.b, s.len, &zb, &zn));
	memcpy(stored + len, zb, zn);
	rb_stamp(stored + len, 14, 0);
	len += zn;
	free(zb);

	for (int magic = 0; magic <= 1; magic++) {
		uint8_t *set;
		size_t sn;
		TL_OK(ms_downconvert(stored, len, magic, 11, 1 << 20, &set, &sn));
		TL_EQ(ms_magic(set, sn), magic);
		/* read it back through the up-converter, offsets by hand */
		uint8_t *b;
		size_t bn;
		TL_OK(ms_upconvert(set, sn, &b, &bn));
		int64_t ts1 = magic ? 1700000000001ll : -1;
		int64_t ts2 = magic ? 1700000000002ll : -1;
		int64_t ts4 = magic ? 1700000000004ll : -1;
		int64_t ts5 = magic ? 1700000000005ll : -1;
		const struct rec want[] = { { 0, ts1, NULL, "vb" },
					    { 1, ts2, "c", NULL },
					    { 2, ts4, "d", "vd" },
					    { 3, ts5, "e", "ve" } };
		check_batch(b, bn, want, 4);
		free(b);
		/* the offsets are the stored ones: 11, 12, 14, 15 */
		static const int64_t offs[] = { 11, 12, 14, 15 };
		size_t pos = 0;
		for (int i = 0; i < 4; i++) {
			TL_EQ((int64_t)rb_be64(set + pos), offs[i]);
			pos += 12 + rb_be32(set + pos + 8);
		}
		TL_EQ(pos, sn);
		/* a small max: the first message alone */
		free(set);
		TL_OK(ms_downconvert(stored, len, magic, 0, 10, &set, &sn));
		TL_EQ((int64_t)rb_be64(set), 10);
		TL_EQ(sn, 12 + (size_t)rb_be32(set + 8));
		free(set);
	}
	/* a damaged stored batch */
	uint8_t *set;
	size_t sn;
	TL_EQ(ms_downconvert(stored, 30, 1, 0, 1 << 20, &set, &sn),
	      SL_ECORRUPT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_up_v0),
		cmocka_unit_test(test_up_v1),
		cmocka_unit_test(test_up_wrapper),
		cmocka_unit_test(test_up_refusals),
		cmocka_unit_test(test_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
