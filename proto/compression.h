/*
 * The compression codecs of Kafka's record batches, through the libraries
 * that implement them: zlib (gzip), libsnappy, liblz4 (frame format) and
 * libzstd.  Nothing here reimplements a codec; this file only knows how
 * Kafka frames each one:
 *
 *   1 gzip    a gzip stream (RFC 1952), zlib's inflate/deflate;
 *   2 snappy  raw snappy, or the Java client's framing (xerial: the 8-byte
 *             magic 82 'S' 'N' 'A' 'P' 'P' 'Y' 00, two int32 versions, then
 *             blocks of int32 length + raw snappy); both are read, raw is
 *             written (as librdkafka writes; Java clients read both);
 *   3 lz4     the LZ4 frame format (Kafka's message format v1 and later);
 *   4 zstd    one or more zstd frames.
 *
 * The codec numbers are the low three bits of a batch's attributes
 * (proto/record_batch.h).  Pure functions apart from allocation;
 * thread-safe.
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

/*
 * Compress in[0, len) with codec into a malloc'd buffer (*out, *out_len),
 * framed as above.  Returns 0, -EINVAL for an unknown codec or a library
 * failure, -ENOMEM.
 */
int sl_compress(int codec, const uint8_t *in, size_t len, uint8_t **out,
		size_t *out_len);

#endif
