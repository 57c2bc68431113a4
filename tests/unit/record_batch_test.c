/*
 * proto/record_batch: build, validate, stamp, iterate, varints.
 *
 * Every single-byte corruption of the CRC-covered range must be refused;
 * corruptions of the stamped fields (base offset, leader epoch) must not
 * be, since the broker rewrites them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"

#define NREC 7
/* a base timestamp for build(): its records are up to 20 ms before it */
#define TS0 1700000000000ll

struct rec {
	char key[32];
	int klen; /* -1: null */
	uint8_t val[300];
	int vlen;
	int64_t ts;
};

static struct rec recs[NREC];

static long build(uint8_t *buf, size_t cap, int64_t base_ts)
{
	struct rb_builder b;
	rb_builder_init(&b, buf, cap, base_ts);
	for (int i = 0; i < NREC; i++) {
		struct rec *r = &recs[i];
		if (i == 2) {
			r->klen = -1;
		} else {
			snprintf(r->key, sizeof(r->key), "key-%d", i * 37);
			r->klen = (int)strlen(r->key);
		}
		/* sizes crossing the one- and two-byte varint boundaries */
		static const int vl[NREC] = { 0, 1, 63, 64, 65, 200, 300 };
		r->vlen = vl[i];
		for (int k = 0; k < r->vlen; k++)
			r->val[k] = (uint8_t)(i * 31 + k);
		/* timestamps not in order: max must still be the largest */
		static const int64_t dt[NREC] = { 0, 5, 3, 1000, -20, 70000, 7 };
		r->ts = base_ts + dt[i];
		int rc = rb_builder_add(&b, r->klen < 0 ? NULL : r->key,
					r->klen, r->val, r->vlen, r->ts);
		if (rc)
			return rc;
	}
	return rb_builder_finish(&b);
}

static void test_round_trip(void **state)
{
	(void)state;
	uint8_t buf[4096];
	int64_t base_ts = 1700000000123ll;
	long len = build(buf, sizeof(buf), base_ts);
	TL_TRUE(len > RB_HEADER_BYTES);
	TL_OK(rb_validate(buf, (size_t)len));

	struct rb_header h;
	rb_header_decode(buf, &h);
	TL_EQ(h.base_offset, 0);
	TL_EQ(h.length, len - RB_LOG_OVERHEAD);
	TL_EQ(h.leader_epoch, -1);
	TL_EQ(h.magic, 2);
	TL_EQ(h.attributes, 0);
	TL_EQ(h.last_offset_delta, NREC - 1);
	TL_EQ(h.base_timestamp, base_ts);
	TL_EQ(h.max_timestamp, base_ts + 70000);
	TL_EQ(h.producer_id, -1);
	TL_EQ(h.producer_epoch, -1);
	TL_EQ(h.base_sequence, -1);
	TL_EQ(h.record_count, NREC);
	TL_EQ(h.crc, rb_crc32c(buf + RB_CRC_START, (size_t)len - RB_CRC_START));
	TL_EQ(rb_frame_size(buf, (size_t)len, (size_t)len), len);
	TL_EQ(rb_last_offset(buf), NREC - 1);
}

static void test_iterator(void **state)
{
	(void)state;
	uint8_t buf[4096];
	int64_t base_ts = 1000;
	long len = build(buf, sizeof(buf), base_ts);
	TL_TRUE(len > 0);
	for (int pass = 0; pass < 2; pass++) {
		int64_t base = pass ? 987654321012ll : 0;
		if (pass)
			rb_stamp(buf, base, 9);
		struct rb_iter it;
		struct rb_record r;
		TL_OK(rb_iter_init(&it, buf, (size_t)len));
		for (int i = 0; i < NREC; i++) {
			TL_EQ(rb_iter_next(&it, &r), 1);
			TL_EQ(r.offset, base + i);
			TL_EQ(r.timestamp, recs[i].ts);
			if (recs[i].klen < 0) {
				assert_null(r.key);
				TL_EQ(r.klen, -1);
			} else {
				assert_non_null(r.key);
				TL_EQ(r.klen, recs[i].klen);
				assert_memory_equal(r.key, recs[i].key,
						    (size_t)r.klen);
			}
			TL_EQ(r.vlen, recs[i].vlen);
			assert_non_null(r.value);
			if (r.vlen)
				assert_memory_equal(r.value, recs[i].val,
						    (size_t)r.vlen);
		}
		TL_EQ(rb_iter_next(&it, &r), 0);
		TL_EQ(rb_iter_next(&it, &r), 0);
	}
}

static void test_null_key_and_value(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct rb_builder b;
	rb_builder_init(&b, buf, sizeof(buf), 42);
	TL_OK(rb_builder_add(&b, NULL, 0, NULL, 0, 42));
	TL_OK(rb_builder_add(&b, "", 0, "", 0, 43)); /* empty, not null */
	TL_OK(rb_builder_add(&b, NULL, 5, "v", 1, 44)); /* NULL wins over klen */
	long len = rb_builder_finish(&b);
	TL_TRUE(len > 0);
	TL_OK(rb_validate(buf, (size_t)len));
	struct rb_iter it;
	struct rb_record r;
	TL_OK(rb_iter_init(&it, buf, (size_t)len));
	TL_EQ(rb_iter_next(&it, &r), 1);
	assert_null(r.key);
	TL_EQ(r.klen, -1);
	assert_null(r.value);
	TL_EQ(r.vlen, -1);
	TL_EQ(r.timestamp, 42);
	TL_EQ(rb_iter_next(&it, &r), 1);
	assert_non_null(r.key);
	TL_EQ(r.klen, 0);
	assert_non_null(r.value);
	TL_EQ(r.vlen, 0);
	TL_EQ(rb_iter_next(&it, &r), 1);
	assert_null(r.key);
	TL_EQ(r.klen, -1);
	TL_EQ(r.vlen, 1);
	TL_EQ(r.value[0], 'v');
	TL_EQ(r.offset, 2);
	TL_EQ(rb_iter_next(&it, &r), 0);
}

static void test_every_byte_corruption(void **state)
{
	(void)state;
	uint8_t buf[4096], bad[4096];
	long len = build(buf, sizeof(buf), TS0);
	TL_TRUE(len > 0);
	static const uint8_t masks[] = { 0x01, 0x80, 0xff, 0x5a };
	for (size_t pos = RB_CRC_START; pos < (size_t)len; pos++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			memcpy(bad, buf, (size_t)len);
			bad[pos] ^= masks[m];
			/* the CRC is checked before any field it covers */
			int rc = rb_validate(bad, (size_t)len);
			if (rc != SL_ECRC)
				fail_msg("byte %zu ^ 0x%02x: rb_validate %d (%s),"
					 " want SL_ECRC", pos, masks[m], rc,
					 tl_errname(rc));
		}
	}
	/* the CRC field itself */
	for (size_t pos = RB_OFF_CRC; pos < RB_CRC_START; pos++) {
		memcpy(bad, buf, (size_t)len);
		bad[pos] ^= 0x10;
		TL_EQ(rb_validate(bad, (size_t)len), SL_ECRC);
	}
	/* stamped fields are outside the CRC: still valid */
	for (size_t pos = 0; pos < RB_OFF_LENGTH; pos++) {
		memcpy(bad, buf, (size_t)len);
		bad[pos] ^= 0xff;
		TL_OK(rb_validate(bad, (size_t)len));
	}
	for (size_t pos = RB_OFF_LEADER_EPOCH; pos < RB_OFF_MAGIC; pos++) {
		memcpy(bad, buf, (size_t)len);
		bad[pos] ^= 0xff;
		TL_OK(rb_validate(bad, (size_t)len));
	}
	/* every length byte changed: the size no longer matches */
	for (size_t pos = RB_OFF_LENGTH; pos < RB_OFF_LEADER_EPOCH; pos++) {
		memcpy(bad, buf, (size_t)len);
		bad[pos] ^= 0x01;
		TL_EQ(rb_validate(bad, (size_t)len), SL_ELENGTH);
	}
}

static void test_magic_and_length(void **state)
{
	(void)state;
	uint8_t buf[4096], bad[4096];
	long len = build(buf, sizeof(buf), TS0);
	TL_TRUE(len > 0);

	for (int magic = 0; magic < 256; magic++) {
		if (magic == RB_MAGIC)
			continue;
		memcpy(bad, buf, (size_t)len);
		bad[RB_OFF_MAGIC] = (uint8_t)magic;
		TL_EQ(rb_validate(bad, (size_t)len), SL_EMAGIC);
	}
	/* too short for a header */
	for (size_t n = 0; n < RB_HEADER_BYTES; n++)
		TL_EQ(rb_validate(buf, n), SL_ELENGTH);
	/* one byte short, one byte long */
	TL_EQ(rb_validate(buf, (size_t)len - 1), SL_ELENGTH);
	memcpy(bad, buf, (size_t)len);
	bad[len] = 0;
	TL_EQ(rb_validate(bad, (size_t)len + 1), SL_ELENGTH);
	/* length field below 49 */
	memcpy(bad, buf, (size_t)len);
	rb_put32(bad + RB_OFF_LENGTH, 48);
	TL_EQ(rb_validate(bad, 60), SL_ELENGTH);
	TL_EQ(rb_frame_size(bad, (size_t)len, 1 << 20), SL_ELENGTH);
	rb_put32(bad + RB_OFF_LENGTH, (uint32_t)-1);
	TL_EQ(rb_frame_size(bad, (size_t)len, 1 << 20), SL_ELENGTH);
	TL_EQ(rb_validate(bad, (size_t)len), SL_ELENGTH);

	/* rb_frame_size: too few bytes, max, exact */
	for (size_t n = 0; n < RB_LOG_OVERHEAD; n++)
		TL_EQ(rb_frame_size(buf, n, 1 << 20), 0);
	TL_EQ(rb_frame_size(buf, RB_LOG_OVERHEAD, 1 << 20), len);
	TL_EQ(rb_frame_size(buf, RB_LOG_OVERHEAD, (size_t)len), len);
	TL_EQ(rb_frame_size(buf, RB_LOG_OVERHEAD, (size_t)len - 1), SL_ELENGTH);

}

/* ---- the field rules (record_batch.c rules 2-6) ----
 * Each case changes fields of a good batch, recomputes the CRC (so that
 * only the rule under test can refuse it) and expects one error. */

static void recrc(uint8_t *p, size_t len)
{
	rb_put32(p + RB_OFF_CRC,
		 rb_crc32c(p + RB_CRC_START, len - RB_CRC_START));
}

static void set_counts(uint8_t *p, size_t len, int32_t count, int32_t delta)
{
	rb_put32(p + RB_OFF_RECORD_COUNT, (uint32_t)count);
	rb_put32(p + RB_OFF_LAST_OFFSET_DELTA, (uint32_t)delta);
	recrc(p, len);
}

static void set_producer(uint8_t *p, size_t len, int64_t id, int32_t seq)
{
	rb_put64(p + RB_OFF_PRODUCER_ID, (uint64_t)id);
	rb_put32(p + RB_OFF_BASE_SEQUENCE, (uint32_t)seq);
	recrc(p, len);
}

static void set_times(uint8_t *p, size_t len, int64_t base, int64_t max)
{
	rb_put64(p + RB_OFF_BASE_TIMESTAMP, (uint64_t)base);
	rb_put64(p + RB_OFF_MAX_TIMESTAMP, (uint64_t)max);
	recrc(p, len);
}

static void set_attributes(uint8_t *p, size_t len, uint16_t a)
{
	rb_put16(p + RB_OFF_ATTRIBUTES, a);
	recrc(p, len);
}

static void test_offsets_rule(void **state)
{
	(void)state;
	uint8_t buf[4096], bad[4096];
	long len = build(buf, sizeof(buf), TS0);
	TL_TRUE(len > 0);
	size_t n = (size_t)len;
	static const struct {
		int32_t count, delta;
	} refused[] = {
		{ 0, -1 },          /* no records */
		{ 0, 0 },
		{ -1, NREC - 1 },   /* negative count */
		{ NREC, -1 },       /* negative delta */
		{ NREC, NREC },     /* one offset more than records: a jump */
		{ NREC, NREC - 2 }, /* one fewer: offsets reused */
		{ NREC, INT32_MAX },
		{ INT32_MAX, NREC - 1 },
		{ INT32_MIN, INT32_MIN },
		{ RB_RECORDS_MAX + 1, RB_RECORDS_MAX },
		{ INT32_MAX, INT32_MAX - 1 },
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		memcpy(bad, buf, n);
		set_counts(bad, n, refused[i].count, refused[i].delta);
		if (rb_validate(bad, n) != SL_EOFFSETS)
			fail_msg("count %d delta %d: %s", refused[i].count,
				 refused[i].delta,
				 tl_errname(rb_validate(bad, n)));
		/* compressed: the header alone refuses it */
		set_attributes(bad, n, 4);
		TL_EQ(rb_validate(bad, n), SL_EOFFSETS);
	}
	/* a compressed batch may claim up to RB_RECORDS_MAX records (the
	 * records are not read); one more is refused above */
	memcpy(bad, buf, n);
	set_attributes(bad, n, 4);
	set_counts(bad, n, RB_RECORDS_MAX, RB_RECORDS_MAX - 1);
	TL_OK(rb_validate(bad, n));
	set_counts(bad, n, 1, 0);
	TL_OK(rb_validate(bad, n));
	/* uncompressed, the records must agree with the count: rule 6 */
	memcpy(bad, buf, n);
	set_counts(bad, n, NREC + 1, NREC);
	TL_EQ(rb_validate(bad, n), SL_ERECORDS);
	memcpy(bad, buf, n);
	set_counts(bad, n, NREC - 1, NREC - 2);
	TL_EQ(rb_validate(bad, n), SL_ERECORDS);
}

static void test_sequence_rule(void **state)
{
	(void)state;
	uint8_t buf[4096], bad[4096];
	long len = build(buf, sizeof(buf), TS0);
	TL_TRUE(len > 0);
	size_t n = (size_t)len;
	static const struct {
		int64_t id;
		int32_t seq;
		int want;
	} cases[] = {
		{ -1, -1, 0 },
		{ 0, 0, 0 },
		{ 7, 0, 0 },
		{ 7, INT32_MAX, 0 }, /* the last sequence wraps: allowed */
		{ INT64_MAX, 5, 0 },
		/* without a producer the sequence is not read (Kafka does
		 * not check it; kafkajs sends 0) */
		{ -1, 0, 0 },
		{ -1, 99, 0 },
		{ -1, -2, 0 },
		{ 7, -1, SL_ESEQUENCE },   /* producer without a sequence */
		{ 7, INT32_MIN, SL_ESEQUENCE },
		{ -2, -1, SL_ESEQUENCE },  /* ids are -1 or >= 0 */
		{ INT64_MIN, 0, SL_ESEQUENCE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, buf, n);
		set_producer(bad, n, cases[i].id, cases[i].seq);
		int rc = rb_validate(bad, n);
		if (rc != cases[i].want)
			fail_msg("producer %lld sequence %d: %s, want %s",
				 (long long)cases[i].id, cases[i].seq,
				 tl_errname(rc), tl_errname(cases[i].want));
	}
}

/* A batch of one record per timestamp, built with the builder. */
static long build_times(uint8_t *buf, size_t cap, int64_t base,
			const int64_t *ts, int n)
{
	struct rb_builder b;
	rb_builder_init(&b, buf, cap, base);
	for (int i = 0; i < n; i++)
		if (rb_builder_add(&b, "k", 1, "v", 1, ts[i]))
			return -1;
	return rb_builder_finish(&b);
}

static void test_timestamp_rule(void **state)
{
	(void)state;
	uint8_t buf[4096], bad[4096];
	long len = build(buf, sizeof(buf), TS0);
	TL_TRUE(len > 0);
	size_t n = (size_t)len;
	int64_t max = TS0 + 70000; /* build()'s largest */
	static const int64_t out[] = { -2, INT64_MIN, RB_TIMESTAMP_MAX + 1,
				       INT64_MAX };
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		/* base, then max, out of range */
		memcpy(bad, buf, n);
		set_times(bad, n, out[i], max);
		TL_EQ(rb_validate(bad, n), SL_ETIMESTAMP);
		memcpy(bad, buf, n);
		set_times(bad, n, TS0, out[i]);
		TL_EQ(rb_validate(bad, n), SL_ETIMESTAMP);
		/* compressed batches too */
		set_attributes(bad, n, 1);
		TL_EQ(rb_validate(bad, n), SL_ETIMESTAMP);
	}
	/* a max timestamp in range that is not the records' largest is
	 * kept as written (kafkajs sends such batches; Kafka corrects it) */
	int64_t other[] = { max - 1, max + 1, -1, 0, RB_TIMESTAMP_MAX };
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		memcpy(bad, buf, n);
		set_times(bad, n, TS0, other[i]);
		TL_OK(rb_validate(bad, n));
		set_attributes(bad, n, RB_ATTR_LOG_APPEND_TIME);
		TL_OK(rb_validate(bad, n));
		set_attributes(bad, n, 3);
		TL_OK(rb_validate(bad, n));
	}
	/* a record's own timestamp out of range (base + delta) */
	int64_t ts1[] = { 10, -2, 20 };
	long l = build_times(bad, sizeof(bad), 10, ts1, 3);
	TL_TRUE(l > 0);
	TL_EQ(rb_validate(bad, (size_t)l), SL_ETIMESTAMP);
	set_attributes(bad, (size_t)l, RB_ATTR_LOG_APPEND_TIME);
	TL_EQ(rb_validate(bad, (size_t)l), SL_ETIMESTAMP);
	int64_t ts2[] = { RB_TIMESTAMP_MAX, 0 };
	l = build_times(bad, sizeof(bad), RB_TIMESTAMP_MAX, ts2, 2);
	TL_TRUE(l > 0);
	TL_OK(rb_validate(bad, (size_t)l)); /* the bounds themselves */
	set_times(bad, (size_t)l, RB_TIMESTAMP_MAX - 1, RB_TIMESTAMP_MAX);
	/* base one lower: record 1 is now -1 (allowed), record 0 MAX - 1 */
	TL_OK(rb_validate(bad, (size_t)l));
	int64_t ts3[] = { 1000, RB_TIMESTAMP_MAX + 1 };
	l = build_times(bad, sizeof(bad), 1000, ts3, 2);
	TL_TRUE(l > 0);
	TL_EQ(rb_validate(bad, (size_t)l), SL_ETIMESTAMP);
	/* records all before the builder's base timestamp (a producer that
	 * opened the batch at "now" and was given older timestamps): the max
	 * is theirs, not the base */
	int64_t ts5[] = { 900, 950, 920 };
	l = build_times(bad, sizeof(bad), 1000, ts5, 3);
	TL_TRUE(l > 0);
	TL_EQ((int64_t)rb_be64(bad + RB_OFF_MAX_TIMESTAMP), 950);
	TL_OK(rb_validate(bad, (size_t)l));
	/* no timestamps at all (-1) is valid */
	int64_t ts4[] = { -1, -1 };
	l = build_times(bad, sizeof(bad), -1, ts4, 2);
	TL_TRUE(l > 0);
	TL_OK(rb_validate(bad, (size_t)l));
}

static void test_records_rule(void **state)
{
	(void)state;
	uint8_t buf[4096], bad[4096];
	long len = build(buf, sizeof(buf), TS0);
	TL_TRUE(len > 0);
	size_t n = (size_t)len;
	/* record 0: length (1 byte), attributes, timestamp delta 0, offset
	 * delta 0 at byte 64 */
	TL_EQ(buf[RB_HEADER_BYTES + 2], 0);
	TL_EQ(buf[RB_HEADER_BYTES + 3], 0);
	static const uint8_t deltas[] = { 0x02, 0x01, 0x0c, 0x7e };
	for (size_t i = 0; i < sizeof(deltas); i++) {
		memcpy(bad, buf, n);
		bad[RB_HEADER_BYTES + 3] = deltas[i]; /* 1, -1, 6, 63 */
		recrc(bad, n);
		TL_EQ(rb_validate(bad, n), SL_ERECORDS);
	}
	/* a key length past the record */
	memcpy(bad, buf, n);
	bad[RB_HEADER_BYTES + 4] = 0x7e;
	recrc(bad, n);
	TL_EQ(rb_validate(bad, n), SL_ERECORDS);
	/* a first record length that runs past the batch */
	memcpy(bad, buf, n);
	bad[RB_HEADER_BYTES] = 0x7e;
	recrc(bad, n);
	TL_EQ(rb_validate(bad, n), SL_ERECORDS);
	/* a byte after the last record, length field and CRC kept right */
	memcpy(bad, buf, n);
	bad[n] = 0;
	rb_put32(bad + RB_OFF_LENGTH, (uint32_t)(n + 1 - RB_LOG_OVERHEAD));
	recrc(bad, n + 1);
	TL_EQ(rb_validate(bad, n + 1), SL_ERECORDS);
	/* a header with no records claiming one */
	memcpy(bad, buf, RB_HEADER_BYTES);
	rb_put32(bad + RB_OFF_LENGTH, RB_HEADER_BYTES - RB_LOG_OVERHEAD);
	set_counts(bad, RB_HEADER_BYTES, 1, 0);
	TL_EQ(rb_validate(bad, RB_HEADER_BYTES), SL_ERECORDS);
	/* the same bytes compressed: records not read, accepted */
	set_attributes(bad, RB_HEADER_BYTES, 2);
	TL_OK(rb_validate(bad, RB_HEADER_BYTES));
}

static void test_attributes_rule(void **state)
{
	(void)state;
	uint8_t buf[4096], bad[4096];
	long len = build(buf, sizeof(buf), TS0);
	TL_TRUE(len > 0);
	size_t n = (size_t)len;
	for (uint16_t codec = 0; codec < 8; codec++) {
		memcpy(bad, buf, n);
		set_attributes(bad, n, codec);
		int rc = rb_validate(bad, n);
		TL_EQ(rc, codec <= RB_CODEC_MAX ? 0 : SL_EATTRIBUTES);
		set_attributes(bad, n, (uint16_t)(codec | RB_ATTR_CONTROL));
		TL_EQ(rb_validate(bad, n), SL_EATTRIBUTES);
	}
	/* transactional and log-append-time bits alone are not refused */
	memcpy(bad, buf, n);
	set_attributes(bad, n, RB_ATTR_TRANSACTIONAL | RB_ATTR_LOG_APPEND_TIME);
	TL_OK(rb_validate(bad, n));
}

static void test_error_codes(void **state)
{
	(void)state;
	TL_EQ(rb_error_code(0), 0);
	TL_EQ(rb_error_code(SL_ELENGTH), 2);
	TL_EQ(rb_error_code(SL_EMAGIC), 2);
	TL_EQ(rb_error_code(SL_ECRC), 2);
	TL_EQ(rb_error_code(SL_ETIMESTAMP), 32);
	TL_EQ(rb_error_code(SL_EOFFSETS), 87);
	TL_EQ(rb_error_code(SL_ESEQUENCE), 87);
	TL_EQ(rb_error_code(SL_ERECORDS), 87);
	TL_EQ(rb_error_code(SL_EATTRIBUTES), 87);
	/* each rule has its own message */
	const int codes[] = { SL_ELENGTH, SL_EMAGIC, SL_ECRC, SL_EOFFSETS,
			      SL_ESEQUENCE, SL_ETIMESTAMP, SL_ERECORDS,
			      SL_EATTRIBUTES };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		for (size_t j = 0; j < i; j++)
			TL_TRUE(strcmp(sl_strerror(codes[i]),
				       sl_strerror(codes[j])) != 0);
}

static void test_stamp(void **state)
{
	(void)state;
	uint8_t buf[4096], orig[4096];
	long len = build(buf, sizeof(buf), TS0);
	TL_TRUE(len > 0);
	memcpy(orig, buf, (size_t)len);
	static const int64_t bases[] = { 0, 1, 4095, 1ll << 32,
					 INT64_MAX - NREC };
	static const int32_t epochs[] = { -1, 0, 7, INT32_MAX, INT32_MIN };
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		rb_stamp(buf, bases[i], epochs[i]);
		TL_OK(rb_validate(buf, (size_t)len));
		struct rb_header h;
		rb_header_decode(buf, &h);
		TL_EQ(h.base_offset, bases[i]);
		TL_EQ(h.leader_epoch, epochs[i]);
		TL_EQ(rb_last_offset(buf), bases[i] + NREC - 1);
		/* nothing else moved */
		assert_memory_equal(buf + RB_OFF_LENGTH, orig + RB_OFF_LENGTH, 4);
		assert_memory_equal(buf + RB_OFF_MAGIC, orig + RB_OFF_MAGIC,
				    (size_t)len - RB_OFF_MAGIC);
	}
}

static void test_varints(void **state)
{
	(void)state;
	static const struct {
		int64_t v;
		int bytes;
		uint8_t first;
	} cases[] = {
		{ 0, 1, 0x00 },  { -1, 1, 0x01 },  { 1, 1, 0x02 },
		{ 63, 1, 0x7e }, { -64, 1, 0x7f }, { 64, 2, 0x80 },
		{ -65, 2, 0x81 }, { 8191, 2, 0xfe }, { -8192, 2, 0xff },
		{ 8192, 3, 0x80 }, { INT32_MAX, 5, 0xfe },
		{ INT32_MIN, 5, 0xff }, { INT64_MAX, 10, 0xfe },
		{ INT64_MIN, 10, 0xff },
	};
	uint8_t p[16];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = rb_varint_put(p, sizeof(p), cases[i].v);
		TL_EQ(n, cases[i].bytes);
		TL_EQ(p[0], cases[i].first);
		int64_t back = 12345;
		TL_EQ(rb_varint_get(p, p + n, &back), n);
		TL_EQ(back, cases[i].v);
		/* truncated input */
		TL_EQ(rb_varint_get(p, p + n - 1, &back), -1);
		/* no room */
		TL_EQ(rb_varint_put(p, (size_t)n - 1, cases[i].v), -1);
	}
	/* all 1- and 2-byte values, and a sweep of larger ones */
	for (int64_t v = -70000; v <= 70000; v++) {
		int n = rb_varint_put(p, sizeof(p), v);
		int64_t back;
		TL_EQ(rb_varint_get(p, p + n, &back), n);
		TL_EQ(back, v);
	}
	struct tl_rng r;
	tl_rng_init(&r, 99);
	for (int i = 0; i < 100000; i++) {
		int64_t v = (int64_t)tl_rng_next(&r) >> tl_rng_below(&r, 64);
		int n = rb_varint_put(p, sizeof(p), v);
		TL_TRUE(n >= 1 && n <= 10);
		int64_t back;
		TL_EQ(rb_varint_get(p, p + n, &back), n);
		TL_EQ(back, v);
	}
	/* 11 continuation bytes: over-long */
	memset(p, 0x80, sizeof(p));
	int64_t back;
	TL_EQ(rb_varint_get(p, p + sizeof(p), &back), -1);
	TL_EQ(rb_varint_get(p, p, &back), -1);
}

static void test_crc32c_known(void **state)
{
	(void)state;
	/* The CRC-32C check value (RFC 3720 / iSCSI). */
	TL_EQ(rb_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
	uint8_t zeros[32] = { 0 };
	TL_EQ(rb_crc32c(zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
}

static void test_builder_limits(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct rb_builder b;
	/* no records */
	rb_builder_init(&b, buf, sizeof(buf), 0);
	TL_EQ(rb_builder_finish(&b), -EINVAL);
	/* capacity below a header */
	rb_builder_init(&b, buf, RB_HEADER_BYTES - 1, 0);
	TL_EQ(rb_builder_add(&b, "k", 1, "v", 1, 0), -ENOBUFS);
	TL_EQ(rb_builder_finish(&b), -ENOBUFS);
	/* a record that does not fit, then nothing more is accepted */
	uint8_t big[300];
	memset(big, 'x', sizeof(big));
	rb_builder_init(&b, buf, sizeof(buf), 0);
	TL_OK(rb_builder_add(&b, "k", 1, "v", 1, 0));
	TL_EQ(rb_builder_add(&b, "k", 1, big, sizeof(big), 0), -ENOBUFS);
	TL_EQ(rb_builder_add(&b, "k", 1, "v", 1, 0), -ENOBUFS);
	TL_EQ(rb_builder_finish(&b), -ENOBUFS);
	/* exact fit */
	rb_builder_init(&b, buf, sizeof(buf), 0);
	TL_OK(rb_builder_add(&b, "k", 1, "v", 1, 0));
	size_t exact = b.len;
	rb_builder_init(&b, buf, exact, 0);
	TL_OK(rb_builder_add(&b, "k", 1, "v", 1, 0));
	TL_EQ(rb_builder_finish(&b), (long)exact);
	TL_OK(rb_validate(buf, exact));
	/* producer fields */
	rb_builder_init(&b, buf, sizeof(buf), 0);
	rb_builder_set_producer(&b, 1234567890123ll, 17, 99);
	TL_OK(rb_builder_add(&b, "k", 1, "v", 1, 0));
	long len = rb_builder_finish(&b);
	TL_OK(rb_validate(buf, (size_t)len));
	struct rb_header h;
	rb_header_decode(buf, &h);
	TL_EQ(h.producer_id, 1234567890123ll);
	TL_EQ(h.producer_epoch, 17);
	TL_EQ(h.base_sequence, 99);
}

static void test_iterator_rejects(void **state)
{
	(void)state;
	uint8_t buf[4096], bad[4096];
	long len = build(buf, sizeof(buf), TS0);
	TL_TRUE(len > 0);
	struct rb_iter it;
	struct rb_record r;
	/* compressed */
	memcpy(bad, buf, (size_t)len);
	rb_put16(bad + RB_OFF_ATTRIBUTES, 1);
	TL_EQ(rb_iter_init(&it, bad, (size_t)len), -ENOTSUP);
	TL_EQ(rb_iter_init(&it, buf, RB_HEADER_BYTES - 1), SL_ELENGTH);
	/* first record's length runs past the end */
	memcpy(bad, buf, (size_t)len);
	int n = rb_varint_put(bad + RB_HEADER_BYTES, 10, 1 << 20);
	TL_TRUE(n > 0);
	TL_OK(rb_iter_init(&it, bad, (size_t)len));
	TL_EQ(rb_iter_next(&it, &r), SL_ECORRUPT);
	/* record count larger than the records present */
	memcpy(bad, buf, (size_t)len);
	rb_put32(bad + RB_OFF_RECORD_COUNT, NREC + 1);
	TL_OK(rb_iter_init(&it, bad, (size_t)len));
	int rc;
	int got = 0;
	while ((rc = rb_iter_next(&it, &r)) == 1)
		got++;
	TL_EQ(got, NREC);
	TL_EQ(rc, SL_ECORRUPT);
	/* every truncation of the records: the iterator never reads past
	 * len (ASan checks) and fails or stops */
	for (long cut = RB_HEADER_BYTES; cut < len; cut++) {
		uint8_t *copy = malloc((size_t)cut);
		memcpy(copy, buf, (size_t)cut);
		TL_OK(rb_iter_init(&it, copy, (size_t)cut));
		int k = 0;
		while ((rc = rb_iter_next(&it, &r)) == 1)
			k++;
		TL_EQ(rc, SL_ECORRUPT);
		TL_TRUE(k < NREC);
		free(copy);
	}
}

/* Headers written by rb_builder_add_h come back through rb_iter_next
 * and rb_header_find: names, values, a null value, a missing name; the
 * batch passes rb_validate. */
static void test_headers(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct rb_builder b;
	rb_builder_init(&b, buf, sizeof(buf), 1000);
	struct rb_header_kv h[3] = {
		{"sl-priority", 11, "7", 1},
		{"sl-group", 8, "order-42", 8},
		{"empty", 5, NULL, 0},
	};
	assert_int_equal(rb_builder_add_h(&b, "k", 1, "v1", 2, 1000, h, 3), 0);
	assert_int_equal(rb_builder_add(&b, NULL, 0, "v2", 2, 1001), 0);
	long len = rb_builder_finish(&b);
	assert_true(len > 0);
	assert_int_equal(rb_validate(buf, (size_t)len), 0);
	struct rb_iter it;
	struct rb_record r;
	assert_int_equal(rb_iter_init(&it, buf, (size_t)len), 0);
	assert_int_equal(rb_iter_next(&it, &r), 1);
	assert_int_equal(r.nheaders, 3);
	const uint8_t *v;
	int32_t vlen;
	assert_int_equal(rb_header_find(&r, "sl-group", 8, &v, &vlen), 1);
	assert_int_equal(vlen, 8);
	assert_memory_equal(v, "order-42", 8);
	assert_int_equal(rb_header_find(&r, "sl-priority", 11, &v, &vlen), 1);
	assert_int_equal(vlen, 1);
	assert_int_equal(v[0], '7');
	assert_int_equal(rb_header_find(&r, "empty", 5, &v, &vlen), 1);
	assert_null(v);
	assert_int_equal(vlen, -1);
	assert_int_equal(rb_header_find(&r, "sl-group2", 9, &v, &vlen), 0);
	assert_int_equal(rb_header_find(&r, "sl-grou", 7, &v, &vlen), 0);
	assert_memory_equal(r.value, "v1", 2);
	assert_int_equal(rb_iter_next(&it, &r), 1);
	assert_int_equal(r.nheaders, 0);
	assert_int_equal(rb_header_find(&r, "sl-group", 8, &v, &vlen), 0);
	assert_int_equal(rb_iter_next(&it, &r), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_iterator),
		cmocka_unit_test(test_null_key_and_value),
		cmocka_unit_test(test_every_byte_corruption),
		cmocka_unit_test(test_magic_and_length),
		cmocka_unit_test(test_stamp),
		cmocka_unit_test(test_varints),
		cmocka_unit_test(test_crc32c_known),
		cmocka_unit_test(test_builder_limits),
		cmocka_unit_test(test_iterator_rejects),
		cmocka_unit_test(test_offsets_rule),
		cmocka_unit_test(test_sequence_rule),
		cmocka_unit_test(test_timestamp_rule),
		cmocka_unit_test(test_records_rule),
		cmocka_unit_test(test_attributes_rule),
		cmocka_unit_test(test_error_codes),
		cmocka_unit_test(test_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
