/*
 * Kafka RecordBatch v2 (magic 2): the one batch format that travels from
 * the NIC to the ring, to the disk and to consumers.  Layout and validity
 * rules are at the top of record_batch.c.
 *
 * Everything here is pure (no I/O, no allocation) and thread-safe.
 */
#ifndef SLUICE_PROTO_RECORD_BATCH_H
#define SLUICE_PROTO_RECORD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#define RB_HEADER_BYTES 61   /* through the record count */
#define RB_LOG_OVERHEAD 12   /* base offset (8) + batch length (4) */
#define RB_CRC_START 21      /* CRC32C covers [21, end) */
#define RB_MAGIC 2

/* Field offsets, big-endian. */
#define RB_OFF_BASE_OFFSET 0
#define RB_OFF_LENGTH 8
#define RB_OFF_LEADER_EPOCH 12
#define RB_OFF_MAGIC 16
#define RB_OFF_CRC 17
#define RB_OFF_ATTRIBUTES 21
#define RB_OFF_LAST_OFFSET_DELTA 23
#define RB_OFF_BASE_TIMESTAMP 27
#define RB_OFF_MAX_TIMESTAMP 35
#define RB_OFF_PRODUCER_ID 43
#define RB_OFF_PRODUCER_EPOCH 51
#define RB_OFF_BASE_SEQUENCE 53
#define RB_OFF_RECORD_COUNT 57

/* attributes */
#define RB_ATTR_COMPRESSION_MASK 0x07 /* 0 none 1 gzip 2 snappy 3 lz4 4 zstd */
#define RB_ATTR_LOG_APPEND_TIME 0x08
#define RB_ATTR_TRANSACTIONAL 0x10
#define RB_ATTR_CONTROL 0x20

struct rb_header {
	int64_t base_offset;
	int32_t length; /* bytes after the length field */
	int32_t leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
};

/* Big-endian loads and stores. */
static inline uint16_t rb_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t rb_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t rb_be64(const uint8_t *p)
{
	return (uint64_t)rb_be32(p) << 32 | rb_be32(p + 4);
}
static inline void rb_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void rb_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void rb_put64(uint8_t *p, uint64_t v)
{
	rb_put32(p, (uint32_t)(v >> 32));
	rb_put32(p + 4, (uint32_t)v);
}

/* Kafka's CRC32C of len bytes (isa-l crc32_iscsi, inverted). */
uint32_t rb_crc32c(const uint8_t *p, size_t len);

/* Decode the 61-byte header; no checks.  p must hold RB_HEADER_BYTES. */
void rb_header_decode(const uint8_t *p, struct rb_header *h);

/*
 * Total size of the batch starting at p from its length field, checking
 * only that the length is sane: 49 <= length <= max_bytes - 12.
 * avail: bytes readable at p (>= 12 needed).  Returns the total size,
 * SL_ELENGTH, or 0 when fewer than 12 bytes are available.
 */
long rb_frame_size(const uint8_t *p, size_t avail, size_t max_bytes);

/* Largest record count of one batch: above what a 1 MiB uncompressed
 * batch can hold (7 bytes per record at least) and librdkafka's
 * batch.num.messages maximum (10^6). */
#define RB_RECORDS_MAX (1 << 20)
/* Largest timestamp accepted (ms since the epoch, about the year 10889):
 * far enough from INT64_MAX that "now - timestamp" and the timestamp
 * arithmetic of the index and retention never wrap. */
#define RB_TIMESTAMP_MAX ((INT64_C(1) << 48) - 1)
#define RB_CODEC_MAX 4 /* zstd */

/*
 * Full validation of one producer's batch occupying exactly len bytes,
 * by the rules at the top of record_batch.c: length, magic, CRC32C,
 * attributes, record count against last offset delta, producer id
 * against base sequence, timestamps, and (uncompressed batches) the
 * records themselves.  Returns 0 or the first rule broken: SL_ELENGTH,
 * SL_EMAGIC, SL_ECRC, SL_EATTRIBUTES, SL_EOFFSETS, SL_ESEQUENCE,
 * SL_ETIMESTAMP or SL_ERECORDS.  Reads only [p, p + len).
 */
int rb_validate(const uint8_t *p, size_t len);

/*
 * The rules of a batch as a log stores it, which a follower checks on what
 * it fetches: rule 1 of record_batch.c (length, magic, CRC32C) and a record
 * count and last offset delta that are not negative.  Not rb_validate's
 * producer rules: a log also holds batches only a broker writes (control
 * batches: transaction markers; the empty batch over skipped offsets,
 * storage/log.c; batches compaction left with gaps in their offsets).
 * Returns 0, SL_ELENGTH, SL_EMAGIC or SL_ECRC.  Reads only [p, p + len).
 */
int rb_check_stored(const uint8_t *p, size_t len);
/* rb_check_stored without the CRC (the log's own check of a batch the
 * dataplane validated already): 0, SL_ELENGTH or SL_EMAGIC. */
int rb_check_shape(const uint8_t *p, size_t len);

/*
 * The Kafka error code (also the native protocol's, proto/native.h) that
 * answers a batch refused by rb_validate with rc: CORRUPT_MESSAGE (2) for
 * length, magic and CRC32C (damaged in transit: a client may resend),
 * INVALID_TIMESTAMP (32), INVALID_RECORD (87) for the other rules (the
 * client built the batch wrong: resending cannot help).  0 for rc 0;
 * CORRUPT_MESSAGE for any other rc.
 */
int16_t rb_error_code(int rc);

/* Stamp base offset and partition leader epoch in place (outside CRC). */
void rb_stamp(uint8_t *p, int64_t base_offset, int32_t leader_epoch);

/* Offset of the last record of a batch based at base_offset. */
static inline int64_t rb_last_offset(const uint8_t *p)
{
	/* unsigned: the base offset is outside the CRC and may be anything */
	return (int64_t)(rb_be64(p + RB_OFF_BASE_OFFSET) +
			 (uint64_t)(int64_t)(int32_t)rb_be32(p + RB_OFF_LAST_OFFSET_DELTA));
}

/*
 * Building batches (clients, tests, benchmarks).  Records carry no headers.
 *   rb_builder_init(&b, buf, cap, base_timestamp_ms);
 *   rb_builder_add(&b, key, klen, value, vlen, timestamp_ms);  repeat
 *   len = rb_builder_finish(&b);
 */
struct rb_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int32_t count;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int failed; /* a record did not fit */
};

void rb_builder_init(struct rb_builder *b, uint8_t *buf, size_t cap,
		     int64_t base_timestamp_ms);
/* Set producer id, epoch and base sequence (idempotent producers). */
void rb_builder_set_producer(struct rb_builder *b, int64_t producer_id,
			     int16_t producer_epoch, int32_t base_sequence);
/* key == NULL encodes a null key (length -1).  Returns 0 or -ENOBUFS. */
int rb_builder_add(struct rb_builder *b, const void *key, int32_t klen,
		   const void *value, int32_t vlen, int64_t timestamp_ms);
/* A record header: a name and a value (NULL: a null value). */
struct rb_header_kv {
	const char *key;
	size_t klen;
	const void *value;
	int32_t vlen;
};
/* As rb_builder_add, with nhdr headers. */
int rb_builder_add_h(struct rb_builder *b, const void *key, int32_t klen,
		     const void *value, int32_t vlen, int64_t timestamp_ms,
		     const struct rb_header_kv *hdr, uint32_t nhdr);
/* Write header and CRC; returns the batch size or -ENOBUFS / -EINVAL
 * (no records). */
long rb_builder_finish(struct rb_builder *b);

/* One decoded record (uncompressed batches only). */
struct rb_record {
	int64_t offset;
	int64_t timestamp;
	const uint8_t *key; /* NULL when the key is null */
	int32_t klen;
	const uint8_t *value;
	int32_t vlen;
	const uint8_t *headers;     /* the first header's bytes */
	const uint8_t *headers_end; /* the record's end */
	int32_t nheaders;
};

struct rb_iter {
	const uint8_t *batch;
	const uint8_t *pos;
	const uint8_t *end;
	int64_t base_offset;
	int64_t base_timestamp;
	int32_t left;
};

/* Returns 0, or -ENOTSUP for compressed batches. */
int rb_iter_init(struct rb_iter *it, const uint8_t *batch, size_t len);
/* The records of a compressed batch, decompressed by the caller into
 * records[0, len) (proto/compression.h); offsets, timestamps and the
 * record count still come from the batch's header, which must be whole. */
void rb_iter_init_records(struct rb_iter *it, const uint8_t *batch,
			  const uint8_t *records, size_t len);
/* Returns 1 with *r filled, 0 at the end, SL_ECORRUPT on bad encoding. */
int rb_iter_next(struct rb_iter *it, struct rb_record *r);

/* The first header of r named key (klen bytes): 1 with *val (NULL for a
 * null value) and *vlen (-1 then), or 0 when r has none of that name. */
int rb_header_find(const struct rb_record *r, const char *key, size_t klen,
		   const uint8_t **val, int32_t *vlen);

/* Header i of r (0 .. nheaders-1): 1 with its name and value (NULL, -1
 * for a null value), or 0. */
int rb_header_at(const struct rb_record *r, int32_t i, const char **key,
		 size_t *klen, const uint8_t **val, int32_t *vlen);

/* Zigzag varints as Kafka encodes them.  Return bytes used, or -1. */
int rb_varint_put(uint8_t *p, size_t cap, int64_t v);
int rb_varint_get(const uint8_t *p, const uint8_t *end, int64_t *v);

#endif
