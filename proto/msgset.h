/*
 * Kafka's message formats v0 and v1 (magic 0 and 1, a "message set"),
 * which Produce v0-2 carry and Fetch v0-3 clients expect, converted to and
 * from the one format sluice stores, RecordBatch v2 (proto/record_batch.h).
 *
 * A message set is a sequence of
 *     int64 offset | int32 size | message
 * and a message
 *     uint32 crc     CRC-32 (IEEE, zlib's crc32) of the rest of the message
 *     int8   magic   0 or 1
 *     int8   attributes  bits 0-2 codec, bit 3 (magic 1) LogAppendTime
 *     int64  timestamp   magic 1 only
 *     bytes  key     int32 length, -1 null
 *     bytes  value   int32 length, -1 null
 * A compressed message (codec != 0) is a wrapper: its value is a message
 * set of uncompressed messages, compressed with the codec.
 *
 * Up-conversion (a producer's message set to one batch): every message
 * becomes a record in order (a wrapper's inner messages in its place),
 * with its key, value and timestamp (magic 0 has none: -1, which Kafka
 * stores too); the batch is compressed with the codec of the last
 * wrapper (none when there is none: Kafka's "source compression"), has
 * no producer id, and base offset
 * 0 (the log assigns offsets).  As Kafka does when it converts.
 *
 * Down-conversion (stored batches to what an old consumer reads): every
 * record becomes an uncompressed message of the magic asked for, with its
 * offset; control batches are left out; record headers are dropped (the
 * old formats have none).
 *
 * Pure functions apart from allocation; every length is checked against
 * the bytes there.
 */
#ifndef SLUICE_PROTO_MSGSET_H
#define SLUICE_PROTO_MSGSET_H

#include <stddef.h>
#include <stdint.h>

/* A message set's first message's magic at p (len bytes there), or -1 when
 * not even its header is there. */
int ms_magic(const uint8_t *p, size_t len);

/*
 * Convert the message set set[0, len) (magic 0 or 1, as a producer sends
 * it: whole messages) into one RecordBatch v2 in a malloc'd buffer
 * (*out, *out_len bytes).  Returns 0, or SL_ECRC (a message's CRC-32),
 * SL_EMAGIC (a magic other than 0 or 1), SL_ELENGTH (a length beyond the
 * bytes there, a partial message, nothing at all), SL_EATTRIBUTES (an
 * unknown codec, a compressed message inside a wrapper), SL_ERECORDS (a
 * wrapper whose stream its codec refuses, more than RB_RECORDS_MAX
 * records), or -ENOMEM.
 */
int ms_upconvert(const uint8_t *set, size_t len, uint8_t **out,
		 size_t *out_len);

/*
 * Convert the stored batches batches[0, len) (whole RecordBatch v2
 * batches, as a fetch reads them) into an uncompressed message set of
 * magic (0 or 1) in a malloc'd buffer.  Records below from_offset are left
 * out (the first batch may start before the fetch offset).  Messages are
 * added while the set stays within max_bytes, but the first one always
 * (an old consumer cannot skip a message larger than its fetch size).
 * Returns 0 (possibly with an empty set), SL_ECORRUPT for a batch that
 * cannot be read, or -ENOMEM.
 */
int ms_downconvert(const uint8_t *batches, size_t len, int magic,
		   int64_t from_offset, size_t max_bytes, uint8_t **out,
		   size_t *out_len);

#endif
