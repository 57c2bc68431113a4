/*
 * The compression codecs of Kafka's RecordBatch v2 (attributes bits 0-2),
 * over the well-kept libraries for each: zlib (gzip), libsnappy, liblz4
 * (LZ4 frame format) and libzstd.  Nothing here parses or writes a codec's
 * bytes by hand except snappy's xerial framing, which is a container of
 * plain snappy blocks (below).
 *
 * What clients send, and so what is accepted and written back:
 *   1 gzip    a gzip stream (RFC 1952); zlib also reads a zlib stream.
 *   2 snappy  either raw snappy (librdkafka, kafkajs) or the xerial
 *             framing of the Java client's snappy-java: a 16-byte header
 *             (0x82 "SNAPPY" 0x00, version 1, compatible version 1, both
 *             int32 big-endian) then blocks of int32 big-endian length +
 *             a raw snappy block.  Recompression keeps the framing the
 *             batch came with (scodec_compress's xerial flag).
 *   3 lz4     an LZ4 frame (Kafka since KIP-57); written with independent
 *             blocks of at most 64 KiB, no checksums, no content size,
 *             as the Java client writes it.
 *   4 zstd    one zstd frame, with or without its content size (the Java
 *             client's streaming encoder omits it).
 *
 * Contexts are made once by scodec_create() and reused for every call: no
 * allocation per batch beyond what zlib and zstd keep in their contexts.
 * Single thread per struct scodec.
 */
#ifndef SLUICE_PROTO_CODEC_H
#define SLUICE_PROTO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum scodec_kind {
	SCODEC_NONE = 0,
	SCODEC_GZIP = 1,
	SCODEC_SNAPPY = 2,
	SCODEC_LZ4 = 3,
	SCODEC_ZSTD = 4,
};

struct scodec;

/* Returns 0 and *out, or -ENOMEM. */
int scodec_create(struct scodec **out);
void scodec_destroy(struct scodec *c);

/*
 * Decompress len bytes of codec kind into out (capacity cap).  Returns the
 * decompressed size, -ENOBUFS when it would exceed cap, SL_ECORRUPT when
 * the data does not decode (truncated, bad checksum, trailing garbage), or
 * -ENOTSUP for an unknown kind (0 and 5-7).
 */
long scodec_decompress(struct scodec *c, int kind, const uint8_t *in,
		       size_t len, uint8_t *out, size_t cap);

/*
 * Compress len bytes with codec kind into out (capacity cap; at least
 * scodec_bound(kind, len) never fails for lack of room).  xerial: for
 * snappy, write the Java client's framing; ignored by the others.
 * Returns the compressed size, -ENOBUFS, SL_ECORRUPT (the library
 * refused), or -ENOTSUP.
 */
long scodec_compress(struct scodec *c, int kind, bool xerial,
		     const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* Largest output of scodec_compress for len bytes of input. */
size_t scodec_bound(int kind, size_t len);

/* The snappy data starts with the xerial header. */
bool scodec_snappy_is_xerial(const uint8_t *in, size_t len);

#endif
