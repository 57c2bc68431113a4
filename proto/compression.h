/*
 * Whole-buffer compression with Kafka's batch codecs, for callers that do
 * not know how large the output is: the buffer is allocated here.  The
 * codecs themselves, and how Kafka frames each (gzip, snappy raw or in the
 * Java client's framing, the LZ4 frame format, zstd), are proto/codec.h's,
 * over zlib, libsnappy, liblz4 and libzstd.
 *
 * The codec numbers are the low three bits of a batch's attributes
 * (proto/record_batch.h).  Thread-safe.
 */
#ifndef SLUICE_PROTO_COMPRESSION_H
#define SLUICE_PROTO_COMPRESSION_H

#include <stddef.h>
#include <stdint.h>

enum sl_codec {
	SL_CODEC_NONE = 0,
	SL_CODEC_GZIP = 1,
	SL_CODEC_SNAPPY = 2,
	SL_CODEC_LZ4 = 3,
	SL_CODEC_ZSTD = 4,
};

/* "none", "gzip", "snappy", "lz4", "zstd", or "unknown". */
const char *sl_codec_name(int codec);

/*
 * Decompress in[0, len) of codec into a buffer allocated with malloc
 * (*out, *out_len bytes; free it with free).  At most max_out bytes come
 * out: a stream that would give more is refused (a small batch must not
 * expand into gigabytes).  Returns 0, -EINVAL for an unknown codec or a
 * damaged stream, -EMSGSIZE above max_out, -ENOMEM.
 */
int sl_decompress(int codec, const uint8_t *in, size_t len, size_t max_out,
		  uint8_t **out, size_t *out_len);

struct rb_iter;
/*
 * Ready it to walk the records of the whole RecordBatch v2 at batch (len
 * bytes, its header checked by the caller): an uncompressed batch in
 * place; a compressed one decompressed (at most max_plain bytes) into
 * *plain, which the caller frees once done with the records (NULL when
 * nothing was allocated).  Returns 0, -EINVAL (a batch rb_iter_init
 * refuses, or a stream its codec refuses), -EMSGSIZE, -ENOMEM.
 */
int sl_batch_records(struct rb_iter *it, const uint8_t *batch, size_t len,
		     size_t max_plain, uint8_t **plain);

/*
 * Compress in[0, len) with codec into a malloc'd buffer (*out, *out_len);
 * snappy is written raw (as librdkafka writes it; Java clients read it).  Returns 0, -EINVAL for an unknown codec or a library
 * failure, -ENOMEM.
 */
int sl_compress(int codec, const uint8_t *in, size_t len, uint8_t **out,
		size_t *out_len);

#endif
