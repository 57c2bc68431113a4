/*
 * libFuzzer target for the RecordBatch v2 parser (proto/record_batch.c):
 * the code that reads bytes straight from the network and from the tail
 * of a segment file, so any input must give an error code, never a crash,
 * a read out of bounds or an endless loop.
 *
 * Each input is used four ways:
 *   1. as received: rb_frame_size, rb_validate, rb_header_decode, and the
 *      record iterator (which must stay inside the bytes given even when
 *      the CRC is wrong);
 *   2. as a valid batch: a copy whose length, magic, attributes (made
 *      compressed, so its records are not read), count, delta, producer
 *      id and sequence, timestamps and CRC are repaired must validate,
 *      survive rb_stamp (outside the CRC) and iterate; one flipped bit
 *      under the CRC must then give SL_ECRC (checked before any field);
 *   3. when rb_validate accepted the input itself: stamp and re-validate;
 *   4. as records: the input is cut into keys and values, built with
 *      rb_builder, validated and iterated back, and must compare equal.
 *
 * A broken property prints what broke and aborts, which libFuzzer reports
 * as a crash with the input saved for replay:
 *   build-fuzz/tests/fuzz/record_batch_fuzz CRASH-FILE
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/record_batch.h"
#include "sluice/error.h"

#define FUZZ_INPUT_BYTES_MAX (1u << 20)
#define FUZZ_FRAME_BYTES_MAX (1u << 20)
#define FUZZ_BUILD_RECORDS_MAX 64

#define FUZZ_CHECK(cond)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: property broken: %s\n",      \
				__FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int validate_rc_known(int rc)
{
	return rc == 0 || rc == SL_ELENGTH || rc == SL_EMAGIC || rc == SL_ECRC ||
	       rc == SL_EATTRIBUTES || rc == SL_EOFFSETS ||
	       rc == SL_ESEQUENCE || rc == SL_ETIMESTAMP || rc == SL_ERECORDS;
}

/*
 * Walk the records of p[0, len).  Every record must lie inside the batch
 * and the walk ends within a bound: a record takes at least two bytes (its
 * length varint and a non-empty body).  Returns the records seen, or the
 * iterator's negative code.
 */
static long iterate(const uint8_t *p, size_t len)
{
	struct rb_iter it;
	struct rb_record r;
	int rc = rb_iter_init(&it, p, len);
	if (rc == -ENOTSUP)
		return rc; /* compressed: not decoded here */
	FUZZ_CHECK(rc == 0);
	const uint8_t *records = p + RB_HEADER_BYTES, *end = p + len;
	long seen = 0;
	for (size_t bound = len / 2 + 1; bound > 0; bound--) {
		rc = rb_iter_next(&it, &r);
		if (rc <= 0) {
			FUZZ_CHECK(rc == 0 || rc == SL_ECORRUPT);
			return rc < 0 ? rc : seen;
		}
		FUZZ_CHECK(r.klen >= -1 && r.vlen >= -1);
		FUZZ_CHECK((r.key == NULL) == (r.klen == -1));
		FUZZ_CHECK((r.value == NULL) == (r.vlen == -1));
		if (r.key) {
			FUZZ_CHECK(r.key >= records);
			FUZZ_CHECK(r.key + r.klen <= end);
		}
		if (r.value) {
			FUZZ_CHECK(r.value >= records);
			FUZZ_CHECK(r.value + r.vlen <= end);
		}
		seen++;
	}
	FUZZ_CHECK(!"record iterator did not stop within len / 2 records");
	return -1;
}

/* 1: the bytes as they arrived. */
static int check_as_received(const uint8_t *data, size_t size)
{
	long frame = rb_frame_size(data, size, FUZZ_FRAME_BYTES_MAX);
	if (size < RB_LOG_OVERHEAD)
		FUZZ_CHECK(frame == 0);
	else
		FUZZ_CHECK(frame == SL_ELENGTH ||
			   (frame >= RB_HEADER_BYTES &&
			    frame <= (long)FUZZ_FRAME_BYTES_MAX));

	int rc = rb_validate(data, size);
	FUZZ_CHECK(validate_rc_known(rc));
	if (rc == 0)
		FUZZ_CHECK(rb_frame_size(data, size, size) == (long)size);

	if (size >= RB_HEADER_BYTES) {
		struct rb_header h;
		rb_header_decode(data, &h);
		FUZZ_CHECK(h.magic == (int8_t)data[RB_OFF_MAGIC]);
		FUZZ_CHECK(h.crc == rb_be32(data + RB_OFF_CRC));
		(void)iterate(data, size);
	}
	return rc;
}

/* Make copy[0, size) a batch that rb_validate must accept. */
static void repair(uint8_t *copy, size_t size)
{
	rb_put32(copy + RB_OFF_LENGTH, (uint32_t)(size - RB_LOG_OVERHEAD));
	copy[RB_OFF_MAGIC] = RB_MAGIC;
	/* codec 1 to 4 (records not read), control bit off */
	uint16_t attr = rb_be16(copy + RB_OFF_ATTRIBUTES);
	attr = (uint16_t)((attr & ~(RB_ATTR_CONTROL | RB_ATTR_COMPRESSION_MASK)) |
			  (1 + attr % RB_CODEC_MAX));
	rb_put16(copy + RB_OFF_ATTRIBUTES, attr);
	int32_t count = 1 + (int32_t)(rb_be32(copy + RB_OFF_RECORD_COUNT) %
				      RB_RECORDS_MAX);
	rb_put32(copy + RB_OFF_RECORD_COUNT, (uint32_t)count);
	rb_put32(copy + RB_OFF_LAST_OFFSET_DELTA, (uint32_t)(count - 1));
	if ((int64_t)rb_be64(copy + RB_OFF_PRODUCER_ID) < 0) {
		rb_put64(copy + RB_OFF_PRODUCER_ID, (uint64_t)-1);
		rb_put32(copy + RB_OFF_BASE_SEQUENCE, (uint32_t)-1);
	} else {
		copy[RB_OFF_BASE_SEQUENCE] &= 0x7f;
	}
	for (int off = RB_OFF_BASE_TIMESTAMP; off <= RB_OFF_MAX_TIMESTAMP;
	     off += 8)
		rb_put64(copy + off, rb_be64(copy + off) &
					     (uint64_t)RB_TIMESTAMP_MAX);
	rb_put32(copy + RB_OFF_CRC,
		 rb_crc32c(copy + RB_CRC_START, size - RB_CRC_START));
}

/* 2 and 3: valid batches, stamping, and a one-bit corruption. */
static void check_valid_paths(const uint8_t *data, size_t size, int rc)
{
	if (size < RB_HEADER_BYTES)
		return;
	uint8_t *copy = malloc(size);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);

	if (rc != 0)
		repair(copy, size);
	FUZZ_CHECK(rb_validate(copy, size) == 0);

	/* Any offset and epoch from the input: rb_last_offset() wraps
	 * instead of overflowing. */
	int64_t base = (int64_t)rb_be64(data + RB_OFF_BASE_TIMESTAMP);
	int32_t epoch = (int32_t)rb_be32(data + RB_OFF_BASE_SEQUENCE);
	rb_stamp(copy, base, epoch);
	FUZZ_CHECK(rb_validate(copy, size) == 0);
	FUZZ_CHECK((int64_t)rb_be64(copy + RB_OFF_BASE_OFFSET) == base);
	FUZZ_CHECK((int32_t)rb_be32(copy + RB_OFF_LEADER_EPOCH) == epoch);
	FUZZ_CHECK(rb_last_offset(copy) ==
		   (int64_t)((uint64_t)base +
			     (uint64_t)(int64_t)(int32_t)rb_be32(
				     copy + RB_OFF_LAST_OFFSET_DELTA)));
	(void)iterate(copy, size);

	/* CRC32C detects every single-bit error in what it covers. */
	size_t bit = (size_t)rb_be32(data + RB_OFF_PRODUCER_ID) %
		     ((size - RB_CRC_START) * 8);
	copy[RB_CRC_START + bit / 8] ^= (uint8_t)(1u << (bit % 8));
	FUZZ_CHECK(rb_validate(copy, size) == SL_ECRC);
	free(copy);
}

/* 4: build a batch from slices of the input and read it back. */
static void check_build_round_trip(const uint8_t *data, size_t size)
{
	struct slice {
		const uint8_t *key;
		int32_t klen;
		const uint8_t *value;
		int32_t vlen;
		int64_t timestamp_ms;
	} in[FUZZ_BUILD_RECORDS_MAX];
	int n = 0;
	size_t at = 0;

	/* Each record: one control byte (bit 0 null key, bit 1 null value,
	 * bits 2-7 key length), one value-length byte, a timestamp byte, then
	 * the key and value bytes themselves. */
	while (n < FUZZ_BUILD_RECORDS_MAX && size - at >= 3) {
		uint8_t ctl = data[at], vl = data[at + 1], ts = data[at + 2];
		at += 3;
		size_t klen = ctl >> 2;
		if (klen + vl > size - at)
			break;
		in[n].key = (ctl & 1) ? NULL : data + at;
		in[n].klen = (ctl & 1) ? -1 : (int32_t)klen;
		at += klen;
		in[n].value = (ctl & 2) ? NULL : data + at;
		in[n].vlen = (ctl & 2) ? -1 : (int32_t)vl;
		at += vl;
		in[n].timestamp_ms = 1700000000000 + (int64_t)(int8_t)ts;
		n++;
	}
	if (n == 0)
		return;

	size_t cap = RB_HEADER_BYTES + (size_t)n * 32 + size;
	uint8_t *buf = malloc(cap);
	FUZZ_CHECK(buf != NULL);
	struct rb_builder b;
	rb_builder_init(&b, buf, cap, 1700000000000);
	for (int i = 0; i < n; i++)
		FUZZ_CHECK(rb_builder_add(&b, in[i].key, in[i].klen,
					  in[i].value, in[i].vlen,
					  in[i].timestamp_ms) == 0);
	long len = rb_builder_finish(&b);
	FUZZ_CHECK(len >= RB_HEADER_BYTES && (size_t)len <= cap);
	FUZZ_CHECK(rb_validate(buf, (size_t)len) == 0);

	struct rb_iter it;
	struct rb_record r;
	FUZZ_CHECK(rb_iter_init(&it, buf, (size_t)len) == 0);
	for (int i = 0; i < n; i++) {
		FUZZ_CHECK(rb_iter_next(&it, &r) == 1);
		FUZZ_CHECK(r.offset == i);
		FUZZ_CHECK(r.timestamp == in[i].timestamp_ms);
		FUZZ_CHECK(r.klen == (in[i].key ? in[i].klen : -1));
		FUZZ_CHECK(r.vlen == (in[i].value ? in[i].vlen : -1));
		FUZZ_CHECK(r.klen <= 0 ||
			   memcmp(r.key, in[i].key, (size_t)r.klen) == 0);
		FUZZ_CHECK(r.vlen <= 0 ||
			   memcmp(r.value, in[i].value, (size_t)r.vlen) == 0);
	}
	FUZZ_CHECK(rb_iter_next(&it, &r) == 0);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_INPUT_BYTES_MAX)
		return 0;
	int rc = check_as_received(data, size);
	check_valid_paths(data, size, rc);
	check_build_round_trip(data, size);
	return 0;
}
