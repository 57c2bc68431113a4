/*
 * Kafka RecordBatch v2 (magic 2), as Kafka defines it.  All integers are
 * big-endian; varints are zigzag-encoded base-128, little group first.
 *
 *   offset size field
 *        0    8 base offset           stamped by the broker (not in CRC)
 *        8    4 batch length          bytes after this field
 *       12    4 partition leader epoch stamped by the broker (not in CRC)
 *       16    1 magic                 2
 *       17    4 CRC32C                over bytes [21, 12 + batch length)
 *       21    2 attributes            bits 0-2 compression, 3 timestamp
 *                                     type, 4 transactional, 5 control
 *       23    4 last offset delta
 *       27    8 base timestamp (ms)
 *       35    8 max timestamp (ms)
 *       43    8 producer id           -1 when not idempotent
 *       51    2 producer epoch
 *       53    4 base sequence
 *       57    4 record count
 *       61      records
 *
 * Each record: length varint, attributes int8, timestamp delta varlong,
 * offset delta varint, key length varint (-1 = null), key, value length
 * varint (-1 = null), value, header count varint, headers (key length
 * varint, key, value length varint, value).
 *
 * A producer's batch is valid (rb_validate) if and only if, checked in
 * this order, each rule with its own error:
 *   1. its batch length is at least 49 (a header with no records) and
 *      matches the bytes given (SL_ELENGTH), magic is 2 (SL_EMAGIC), and
 *      the CRC32C of [21, end) equals the CRC field (SL_ECRC);
 *   2. it is not a control batch and its compression codec is 0 to 4
 *      (SL_EATTRIBUTES): only a broker writes control batches;
 *   3. 1 <= record count <= RB_RECORDS_MAX and last offset delta =
 *      record count - 1 (SL_EOFFSETS): the broker hands out exactly
 *      count offsets, so a batch cannot make offsets jump, and no batch
 *      spans more than 2^20 of them, so the 32-bit relative offsets of
 *      the index cannot wrap inside a segment;
 *   4. producer id -1 (not idempotent: the base sequence is not read;
 *      kafkajs, for one, sends 0 there), or producer id >= 0 with base
 *      sequence >= 0 (SL_ESEQUENCE);
 *   5. base and max timestamp are -1 (none) or 0 to RB_TIMESTAMP_MAX
 *      (SL_ETIMESTAMP), so "now - timestamp" in retention and the time
 *      index never wraps;
 *   6. uncompressed batches only (the broker does not decompress): the
 *      records decode, there are exactly record count of them filling
 *      the batch to its end, record i has offset delta i (SL_ERECORDS),
 *      every record's timestamp obeys rule 5 (SL_ETIMESTAMP).
 * These are Kafka's own rules for a client's batch (its LogValidator),
 * except that Kafka rewrites wrong offset deltas where sluice, which
 * never re-encodes, refuses the batch.  A max timestamp that is not the
 * records' largest is kept as the producer wrote it (Kafka corrects it;
 * clients such as kafkajs send one): it only has to be in range, so the
 * time index cannot wrap.  The broker checks a batch, stamps base offset
 * and leader epoch, and keeps the bytes.
 *
 * Batches the log writes itself (the empty batch over skipped offsets,
 * storage/log.c) are not producer batches: recovery checks only rule 1,
 * and so does a follower on the batches it fetches from its leader
 * (rb_check_stored: rule 1, and counts that are not negative).
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <isa-l/crc.h>

#include "proto/record_batch.h"
#include "sluice/error.h"

_Static_assert(RB_OFF_RECORD_COUNT + 4 == RB_HEADER_BYTES,
	       "record batch header is 61 bytes");
_Static_assert(RB_OFF_CRC + 4 == RB_CRC_START, "CRC covers from attributes");

#define RB_MIN_LENGTH (RB_HEADER_BYTES - RB_LOG_OVERHEAD) /* 49 */

uint32_t rb_crc32c(const uint8_t *p, size_t len)
{
	return ~crc32_iscsi((unsigned char *)p, (int)len, 0xFFFFFFFFu);
}

void rb_header_decode(const uint8_t *p, struct rb_header *h)
{
	h->base_offset = (int64_t)rb_be64(p + RB_OFF_BASE_OFFSET);
	h->length = (int32_t)rb_be32(p + RB_OFF_LENGTH);
	h->leader_epoch = (int32_t)rb_be32(p + RB_OFF_LEADER_EPOCH);
	h->magic = (int8_t)p[RB_OFF_MAGIC];
	h->crc = rb_be32(p + RB_OFF_CRC);
	h->attributes = (int16_t)rb_be16(p + RB_OFF_ATTRIBUTES);
	h->last_offset_delta = (int32_t)rb_be32(p + RB_OFF_LAST_OFFSET_DELTA);
	h->base_timestamp = (int64_t)rb_be64(p + RB_OFF_BASE_TIMESTAMP);
	h->max_timestamp = (int64_t)rb_be64(p + RB_OFF_MAX_TIMESTAMP);
	h->producer_id = (int64_t)rb_be64(p + RB_OFF_PRODUCER_ID);
	h->producer_epoch = (int16_t)rb_be16(p + RB_OFF_PRODUCER_EPOCH);
	h->base_sequence = (int32_t)rb_be32(p + RB_OFF_BASE_SEQUENCE);
	h->record_count = (int32_t)rb_be32(p + RB_OFF_RECORD_COUNT);
}

long rb_frame_size(const uint8_t *p, size_t avail, size_t max_bytes)
{
	if (avail < RB_LOG_OVERHEAD)
		return 0;
	int32_t length = (int32_t)rb_be32(p + RB_OFF_LENGTH);
	if (length < RB_MIN_LENGTH)
		return SL_ELENGTH;
	if ((uint64_t)length + RB_LOG_OVERHEAD > max_bytes)
		return SL_ELENGTH;
	return (long)length + RB_LOG_OVERHEAD;
}

/* Rule 5: a timestamp is -1 (none) or 0 to RB_TIMESTAMP_MAX. */
static bool timestamp_ok(int64_t ts)
{
	return ts == -1 || (ts >= 0 && ts <= RB_TIMESTAMP_MAX);
}

/* Rule 6: walk the records of an uncompressed batch whose header passed
 * rules 1-5. */
static int validate_records(const uint8_t *p, size_t len, int32_t count)
{
	struct rb_iter it;
	struct rb_record r;
	int rc = rb_iter_init(&it, p, len);
	assert(rc == 0); /* length checked, compression 0 */
	for (int32_t i = 0; i < count; i++) {
		/* bounded: count <= RB_RECORDS_MAX, each record >= 1 byte */
		if (rb_iter_next(&it, &r) != 1)
			return SL_ERECORDS;
		if ((uint64_t)r.offset - (uint64_t)it.base_offset != (uint64_t)i)
			return SL_ERECORDS;
		if (!timestamp_ok(r.timestamp))
			return SL_ETIMESTAMP;
	}
	if (it.pos != it.end)
		return SL_ERECORDS; /* bytes after the last record */
	assert(it.left == 0);
	return 0;
}

int rb_validate(const uint8_t *p, size_t len)
{
	if (len < RB_HEADER_BYTES)
		return SL_ELENGTH;
	long size = rb_frame_size(p, len, len);
	if (size != (long)len)
		return SL_ELENGTH;
	if (p[RB_OFF_MAGIC] != RB_MAGIC)
		return SL_EMAGIC;
	uint32_t want = rb_be32(p + RB_OFF_CRC);
	if (rb_crc32c(p + RB_CRC_START, len - RB_CRC_START) != want)
		return SL_ECRC;

	struct rb_header h;
	rb_header_decode(p, &h);
	int codec = h.attributes & RB_ATTR_COMPRESSION_MASK;
	if ((h.attributes & RB_ATTR_CONTROL) || codec > RB_CODEC_MAX)
		return SL_EATTRIBUTES;
	if (h.record_count < 1 || h.record_count > RB_RECORDS_MAX ||
	    h.last_offset_delta != h.record_count - 1)
		return SL_EOFFSETS;
	if (h.producer_id != -1 && (h.producer_id < 0 || h.base_sequence < 0))
		return SL_ESEQUENCE;
	if (!timestamp_ok(h.base_timestamp) || !timestamp_ok(h.max_timestamp))
		return SL_ETIMESTAMP;
	if (codec != 0)
		return 0;
	return validate_records(p, len, h.record_count);
}

int rb_check_shape(const uint8_t *p, size_t len)
{
	if (len < RB_HEADER_BYTES || rb_frame_size(p, len, len) != (long)len)
		return SL_ELENGTH;
	if (p[RB_OFF_MAGIC] != RB_MAGIC)
		return SL_EMAGIC;
	if ((int32_t)rb_be32(p + RB_OFF_RECORD_COUNT) < 0 ||
	    (int32_t)rb_be32(p + RB_OFF_LAST_OFFSET_DELTA) < 0)
		return SL_ELENGTH;
	return 0;
}

int rb_check_stored(const uint8_t *p, size_t len)
{
	int rc = rb_check_shape(p, len);
	if (rc)
		return rc;
	if (rb_crc32c(p + RB_CRC_START, len - RB_CRC_START) !=
	    rb_be32(p + RB_OFF_CRC))
		return SL_ECRC;
	return 0;
}

int16_t rb_error_code(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case SL_ELENGTH:
	case SL_EMAGIC:
	case SL_ECRC:
		return 2; /* CORRUPT_MESSAGE */
	case SL_ETIMESTAMP:
		return 32; /* INVALID_TIMESTAMP */
	case SL_EOFFSETS:
	case SL_ESEQUENCE:
	case SL_ERECORDS:
	case SL_EATTRIBUTES:
		return 87; /* INVALID_RECORD */
	default:
		return 2;
	}
}

void rb_stamp(uint8_t *p, int64_t base_offset, int32_t leader_epoch)
{
	rb_put64(p + RB_OFF_BASE_OFFSET, (uint64_t)base_offset);
	rb_put32(p + RB_OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
}

int rb_varint_put(uint8_t *p, size_t cap, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;
	do {
		if (n >= cap)
			return -1;
		uint8_t byte = z & 0x7f;
		z >>= 7;
		p[n++] = byte | (z ? 0x80 : 0);
	} while (z);
	return (int)n;
}

int rb_varint_get(const uint8_t *p, const uint8_t *end, int64_t *v)
{
	uint64_t z = 0;
	for (int i = 0; i < 10; i++) {
		if (p + i >= end)
			return -1;
		z |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
			return i + 1;
		}
	}
	return -1;
}

void rb_builder_init(struct rb_builder *b, uint8_t *buf, size_t cap,
		     int64_t base_timestamp_ms)
{
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap;
	b->len = RB_HEADER_BYTES;
	b->base_timestamp = base_timestamp_ms;
	b->max_timestamp = base_timestamp_ms;
	b->failed = cap < RB_HEADER_BYTES;
	if (!b->failed) {
		memset(buf, 0, RB_HEADER_BYTES);
		rb_put64(buf + RB_OFF_PRODUCER_ID, (uint64_t)-1);
		rb_put16(buf + RB_OFF_PRODUCER_EPOCH, (uint16_t)-1);
		rb_put32(buf + RB_OFF_BASE_SEQUENCE, (uint32_t)-1);
	}
}

void rb_builder_set_producer(struct rb_builder *b, int64_t producer_id,
			     int16_t producer_epoch, int32_t base_sequence)
{
	if (b->failed)
		return;
	rb_put64(b->buf + RB_OFF_PRODUCER_ID, (uint64_t)producer_id);
	rb_put16(b->buf + RB_OFF_PRODUCER_EPOCH, (uint16_t)producer_epoch);
	rb_put32(b->buf + RB_OFF_BASE_SEQUENCE, (uint32_t)base_sequence);
}

int rb_builder_add(struct rb_builder *b, const void *key, int32_t klen,
		   const void *value, int32_t vlen, int64_t timestamp_ms)
{
	return rb_builder_add_h(b, key, klen, value, vlen, timestamp_ms, NULL,
				0);
}

/* Bytes a header takes: varint name length, name, varint value length,
 * value. */
static size_t header_bytes(const struct rb_header_kv *h)
{
	uint8_t tmp[10];
	int32_t vlen = h->value ? h->vlen : -1;
	return (size_t)rb_varint_put(tmp, sizeof(tmp), (int64_t)h->klen) +
	       h->klen + (size_t)rb_varint_put(tmp, sizeof(tmp), vlen) +
	       (vlen > 0 ? (size_t)vlen : 0);
}

int rb_builder_add_h(struct rb_builder *b, const void *key, int32_t klen,
		     const void *value, int32_t vlen, int64_t timestamp_ms,
		     const struct rb_header_kv *hdr, uint32_t nhdr)
{
	uint8_t body_head[64];
	int n = 0, k;
	if (b->failed)
		return -ENOBUFS;
	if (!key)
		klen = -1;
	if (!value)
		vlen = -1;
	body_head[n++] = 0; /* record attributes */
	n += rb_varint_put(body_head + n, sizeof(body_head) - (size_t)n,
			   timestamp_ms - b->base_timestamp);
	n += rb_varint_put(body_head + n, sizeof(body_head) - (size_t)n,
			   b->count);
	n += rb_varint_put(body_head + n, sizeof(body_head) - (size_t)n, klen);
	size_t body = (size_t)n + (klen > 0 ? (size_t)klen : 0);
	uint8_t vlen_buf[10], nh_buf[10];
	int vn = rb_varint_put(vlen_buf, sizeof(vlen_buf), vlen);
	int hn = rb_varint_put(nh_buf, sizeof(nh_buf), (int64_t)nhdr);
	body += (size_t)vn + (vlen > 0 ? (size_t)vlen : 0) + (size_t)hn;
	for (uint32_t i = 0; i < nhdr; i++)
		body += header_bytes(&hdr[i]);
	uint8_t len_buf[10];
	int ln = rb_varint_put(len_buf, sizeof(len_buf), (int64_t)body);
	if (b->len + (size_t)ln + body > b->cap) {
		b->failed = 1;
		return -ENOBUFS;
	}
	uint8_t *p = b->buf + b->len;
	memcpy(p, len_buf, (size_t)ln);
	p += ln;
	memcpy(p, body_head, (size_t)n);
	p += n;
	if (klen > 0) {
		memcpy(p, key, (size_t)klen);
		p += klen;
	}
	memcpy(p, vlen_buf, (size_t)vn);
	p += vn;
	if (vlen > 0) {
		memcpy(p, value, (size_t)vlen);
		p += vlen;
	}
	memcpy(p, nh_buf, (size_t)hn);
	p += hn;
	for (uint32_t i = 0; i < nhdr; i++) {
		int32_t hv = hdr[i].value ? hdr[i].vlen : -1;
		p += rb_varint_put(p, 10, (int64_t)hdr[i].klen);
		memcpy(p, hdr[i].key, hdr[i].klen);
		p += hdr[i].klen;
		p += rb_varint_put(p, 10, hv);
		if (hv > 0) {
			memcpy(p, hdr[i].value, (size_t)hv);
			p += hv;
		}
	}
	k = (int)(p - (b->buf + b->len));
	assert((size_t)k == (size_t)ln + body);
	b->len += (size_t)k;
	/* the largest record timestamp, not the base: rule 6 */
	if (b->count == 0 || timestamp_ms > b->max_timestamp)
		b->max_timestamp = timestamp_ms;
	b->count++;
	return 0;
}

long rb_builder_finish(struct rb_builder *b)
{
	if (b->failed)
		return -ENOBUFS;
	if (b->count == 0)
		return -EINVAL;
	uint8_t *p = b->buf;
	rb_put64(p + RB_OFF_BASE_OFFSET, 0);
	rb_put32(p + RB_OFF_LENGTH, (uint32_t)(b->len - RB_LOG_OVERHEAD));
	rb_put32(p + RB_OFF_LEADER_EPOCH, (uint32_t)-1);
	p[RB_OFF_MAGIC] = RB_MAGIC;
	rb_put16(p + RB_OFF_ATTRIBUTES, 0);
	rb_put32(p + RB_OFF_LAST_OFFSET_DELTA, (uint32_t)(b->count - 1));
	rb_put64(p + RB_OFF_BASE_TIMESTAMP, (uint64_t)b->base_timestamp);
	rb_put64(p + RB_OFF_MAX_TIMESTAMP, (uint64_t)b->max_timestamp);
	rb_put32(p + RB_OFF_RECORD_COUNT, (uint32_t)b->count);
	rb_put32(p + RB_OFF_CRC,
		 rb_crc32c(p + RB_CRC_START, b->len - RB_CRC_START));
	return (long)b->len;
}

int rb_iter_init(struct rb_iter *it, const uint8_t *batch, size_t len)
{
	if (len < RB_HEADER_BYTES)
		return SL_ELENGTH;
	if (rb_be16(batch + RB_OFF_ATTRIBUTES) & RB_ATTR_COMPRESSION_MASK)
		return -ENOTSUP;
	rb_iter_init_records(it, batch, batch + RB_HEADER_BYTES,
			     len - RB_HEADER_BYTES);
	return 0;
}

void rb_iter_init_records(struct rb_iter *it, const uint8_t *batch,
			  const uint8_t *records, size_t len)
{
	it->batch = batch;
	it->pos = records;
	it->end = records + len;
	it->base_offset = (int64_t)rb_be64(batch + RB_OFF_BASE_OFFSET);
	it->base_timestamp = (int64_t)rb_be64(batch + RB_OFF_BASE_TIMESTAMP);
	it->left = (int32_t)rb_be32(batch + RB_OFF_RECORD_COUNT);
}

/* Read a varint into *v, advancing *p; -1 on truncation. */
static int take_varint(const uint8_t **p, const uint8_t *end, int64_t *v)
{
	int n = rb_varint_get(*p, end, v);
	if (n < 0)
		return -1;
	*p += n;
	return 0;
}

int rb_iter_next(struct rb_iter *it, struct rb_record *r)
{
	int64_t len, ts_delta, off_delta, klen, vlen, nhdr, hk, hv;
	if (it->left <= 0)
		return 0;
	const uint8_t *p = it->pos;
	if (take_varint(&p, it->end, &len) || len < 1 || len > it->end - p)
		return SL_ECORRUPT;
	const uint8_t *rend = p + len;
	p++; /* attributes */
	if (take_varint(&p, rend, &ts_delta) ||
	    take_varint(&p, rend, &off_delta) ||
	    take_varint(&p, rend, &klen))
		return SL_ECORRUPT;
	if (klen < -1 || klen > rend - p)
		return SL_ECORRUPT;
	r->key = klen >= 0 ? p : NULL;
	r->klen = (int32_t)klen;
	p += klen > 0 ? klen : 0;
	if (take_varint(&p, rend, &vlen) || vlen < -1 || vlen > rend - p)
		return SL_ECORRUPT;
	r->value = vlen >= 0 ? p : NULL;
	r->vlen = (int32_t)vlen;
	p += vlen > 0 ? vlen : 0;
	if (take_varint(&p, rend, &nhdr) || nhdr < 0 || nhdr > rend - p)
		return SL_ECORRUPT;
	r->headers = p;
	r->headers_end = rend;
	r->nheaders = (int32_t)nhdr;
	for (int64_t i = 0; i < nhdr; i++) {
		if (take_varint(&p, rend, &hk) || hk < 0 || hk > rend - p)
			return SL_ECORRUPT;
		p += hk;
		if (take_varint(&p, rend, &hv) || hv < -1 || hv > rend - p)
			return SL_ECORRUPT;
		p += hv > 0 ? hv : 0;
	}
	if (p != rend)
		return SL_ECORRUPT;
	/* unsigned sums: every field here comes from the network or disk */
	r->offset = (int64_t)((uint64_t)it->base_offset + (uint64_t)off_delta);
	r->timestamp = (int64_t)((uint64_t)it->base_timestamp + (uint64_t)ts_delta);
	it->pos = rend;
	it->left--;
	return 1;
}

int rb_header_find(const struct rb_record *r, const char *key, size_t klen,
		   const uint8_t **val, int32_t *vlen)
{
	const uint8_t *p = r->headers;
	int64_t hk, hv;
	for (int32_t i = 0; i < r->nheaders; i++) {
		/* rb_iter_next checked every length: these cannot fail */
		if (take_varint(&p, r->headers_end, &hk))
			return 0;
		const uint8_t *k = p;
		p += hk;
		if (take_varint(&p, r->headers_end, &hv))
			return 0;
		if ((size_t)hk == klen && !memcmp(k, key, klen)) {
			*val = hv >= 0 ? p : NULL;
			*vlen = (int32_t)hv;
			return 1;
		}
		p += hv > 0 ? hv : 0;
	}
	return 0;
}

int rb_header_at(const struct rb_record *r, int32_t i, const char **key,
		 size_t *klen, const uint8_t **val, int32_t *vlen)
{
	const uint8_t *p = r->headers;
	int64_t hk, hv;
	for (int32_t k = 0; k < r->nheaders; k++) {
		if (take_varint(&p, r->headers_end, &hk))
			return 0;
		const uint8_t *name = p;
		p += hk;
		if (take_varint(&p, r->headers_end, &hv))
			return 0;
		if (k == i) {
			*key = (const char *)name;
			*klen = (size_t)hk;
			*val = hv >= 0 ? p : NULL;
			*vlen = (int32_t)hv;
			return 1;
		}
		p += hv > 0 ? hv : 0;
	}
	return 0;
}
