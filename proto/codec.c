/*
 * Kafka's batch codecs over zlib, libsnappy, liblz4 and libzstd: see
 * codec.h for what each client sends and how it is written back.  Every
 * library call's result is checked; a library error is SL_ECORRUPT (bad
 * data) or -ENOBUFS (no room), never a crash.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "proto/record_batch.h"
#include "sluice/error.h"
#include "proto/codec.h"

#define XERIAL_HEADER_BYTES 16
#define XERIAL_BLOCK_BYTES (32u << 10) /* snappy-java's default */
static const uint8_t xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };

struct scodec {
	z_stream inflate;
	z_stream deflate;
	bool inflate_ok, deflate_ok;
	LZ4F_dctx *lz4d;
	ZSTD_DCtx *zstdd;
	ZSTD_CCtx *zstdc;
};

int scodec_create(struct scodec **out)
{
	struct scodec *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* 15 + 32: a gzip or a zlib header, detected */
	if (inflateInit2(&c->inflate, 15 + 32) != Z_OK)
		goto fail;
	c->inflate_ok = true;
	/* 15 + 16: write a gzip header and trailer */
	if (deflateInit2(&c->deflate, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
			 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		goto fail;
	c->deflate_ok = true;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&c->lz4d,
							 LZ4F_VERSION)))
		goto fail;
	c->zstdd = ZSTD_createDCtx();
	c->zstdc = ZSTD_createCCtx();
	if (!c->zstdd || !c->zstdc)
		goto fail;
	*out = c;
	return 0;
fail:
	scodec_destroy(c);
	return -ENOMEM;
}

void scodec_destroy(struct scodec *c)
{
	if (!c)
		return;
	if (c->inflate_ok)
		inflateEnd(&c->inflate);
	if (c->deflate_ok)
		deflateEnd(&c->deflate);
	if (c->lz4d)
		LZ4F_freeDecompressionContext(c->lz4d);
	ZSTD_freeDCtx(c->zstdd);
	ZSTD_freeCCtx(c->zstdc);
	free(c);
}

bool scodec_snappy_is_xerial(const uint8_t *in, size_t len)
{
	return len >= XERIAL_HEADER_BYTES &&
	       !memcmp(in, xerial_magic, sizeof(xerial_magic));
}

/* ---- gzip ---- */

static long gzip_decompress(struct scodec *c, const uint8_t *in, size_t len,
			    uint8_t *out, size_t cap)
{
	z_stream *z = &c->inflate;
	if (len > UINT_MAX || cap > UINT_MAX || inflateReset(z) != Z_OK)
		return SL_ECORRUPT;
	z->next_in = (Bytef *)in;
	z->avail_in = (uInt)len;
	z->next_out = out;
	z->avail_out = (uInt)cap;
	int rc = inflate(z, Z_FINISH);
	if (rc == Z_STREAM_END)
		return z->avail_in ? SL_ECORRUPT : (long)z->total_out;
	if ((rc == Z_BUF_ERROR || rc == Z_OK) && z->avail_out == 0)
		return -ENOBUFS;
	return SL_ECORRUPT; /* truncated, bad data or bad checksum */
}

static long gzip_compress(struct scodec *c, const uint8_t *in, size_t len,
			  uint8_t *out, size_t cap)
{
	z_stream *z = &c->deflate;
	if (len > UINT_MAX || cap > UINT_MAX || deflateReset(z) != Z_OK)
		return SL_ECORRUPT;
	z->next_in = (Bytef *)in;
	z->avail_in = (uInt)len;
	z->next_out = out;
	z->avail_out = (uInt)cap;
	int rc = deflate(z, Z_FINISH);
	if (rc == Z_STREAM_END)
		return (long)z->total_out;
	return rc == Z_OK || rc == Z_BUF_ERROR ? -ENOBUFS : SL_ECORRUPT;
}

/* ---- snappy ---- */

static long snappy_raw_decompress(const uint8_t *in, size_t len,
				  uint8_t *out, size_t cap)
{
	size_t n;
	if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK)
		return SL_ECORRUPT;
	if (n > cap)
		return -ENOBUFS;
	if (snappy_uncompress((const char *)in, len, (char *)out, &n) !=
	    SNAPPY_OK)
		return SL_ECORRUPT;
	return (long)n;
}

static long snappy_decompress(const uint8_t *in, size_t len, uint8_t *out,
			      size_t cap)
{
	if (!scodec_snappy_is_xerial(in, len))
		return snappy_raw_decompress(in, len, out, cap);
	size_t pos = XERIAL_HEADER_BYTES, done = 0;
	/* bounded: each block consumes at least 4 bytes of input */
	while (pos < len) {
		if (len - pos < 4)
			return SL_ECORRUPT;
		uint32_t blen = rb_be32(in + pos);
		pos += 4;
		if (blen > len - pos)
			return SL_ECORRUPT;
		long n = snappy_raw_decompress(in + pos, blen, out + done,
					       cap - done);
		if (n < 0)
			return n;
		done += (size_t)n;
		pos += blen;
	}
	return (long)done;
}

static long snappy_compress_to(bool xerial, const uint8_t *in, size_t len,
			       uint8_t *out, size_t cap)
{
	if (!xerial) {
		size_t n = cap;
		if (cap < snappy_max_compressed_length(len))
			return -ENOBUFS;
		if (snappy_compress((const char *)in, len, (char *)out, &n) !=
		    SNAPPY_OK)
			return SL_ECORRUPT;
		return (long)n;
	}
	if (cap < XERIAL_HEADER_BYTES)
		return -ENOBUFS;
	memcpy(out, xerial_magic, sizeof(xerial_magic));
	rb_put32(out + 8, 1);  /* version */
	rb_put32(out + 12, 1); /* compatible version */
	size_t pos = XERIAL_HEADER_BYTES;
	for (size_t at = 0; at < len; at += XERIAL_BLOCK_BYTES) {
		size_t chunk = len - at < XERIAL_BLOCK_BYTES ?
				       len - at : XERIAL_BLOCK_BYTES;
		size_t n = cap - pos;
		if (cap - pos < 4 + snappy_max_compressed_length(chunk))
			return -ENOBUFS;
		n -= 4;
		if (snappy_compress((const char *)in + at, chunk,
				    (char *)out + pos + 4, &n) != SNAPPY_OK)
			return SL_ECORRUPT;
		rb_put32(out + pos, (uint32_t)n);
		pos += 4 + n;
	}
	return (long)pos;
}

/* ---- lz4 ---- */

static long lz4_decompress(struct scodec *c, const uint8_t *in, size_t len,
			   uint8_t *out, size_t cap)
{
	LZ4F_resetDecompressionContext(c->lz4d);
	size_t in_pos = 0, out_pos = 0;
	/* bounded: every round consumes input or produces output, or ends */
	for (;;) {
		size_t src = len - in_pos, dst = cap - out_pos;
		size_t rc = LZ4F_decompress(c->lz4d, out + out_pos, &dst,
					    in + in_pos, &src, NULL);
		if (LZ4F_isError(rc))
			return SL_ECORRUPT;
		in_pos += src;
		out_pos += dst;
		if (rc == 0) /* the frame is complete */
			return in_pos == len ? (long)out_pos : SL_ECORRUPT;
		if (out_pos == cap)
			return -ENOBUFS;
		if (in_pos == len)
			return SL_ECORRUPT; /* truncated */
		if (src == 0 && dst == 0)
			return SL_ECORRUPT;
	}
}

static void lz4_prefs(LZ4F_preferences_t *p)
{
	memset(p, 0, sizeof(*p));
	p->frameInfo.blockSizeID = LZ4F_max64KB;
	p->frameInfo.blockMode = LZ4F_blockIndependent;
	p->frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
}

static long lz4_compress(const uint8_t *in, size_t len, uint8_t *out,
			 size_t cap)
{
	LZ4F_preferences_t p;
	lz4_prefs(&p);
	if (cap < LZ4F_compressFrameBound(len, &p))
		return -ENOBUFS;
	size_t rc = LZ4F_compressFrame(out, cap, in, len, &p);
	return LZ4F_isError(rc) ? SL_ECORRUPT : (long)rc;
}

/* ---- zstd ---- */

static long zstd_decompress(struct scodec *c, const uint8_t *in, size_t len,
			    uint8_t *out, size_t cap)
{
	ZSTD_DCtx_reset(c->zstdd, ZSTD_reset_session_only);
	ZSTD_inBuffer ib = { in, len, 0 };
	ZSTD_outBuffer ob = { out, cap, 0 };
	/* bounded: every round consumes input or produces output, or ends */
	for (;;) {
		size_t before_in = ib.pos, before_out = ob.pos;
		size_t rc = ZSTD_decompressStream(c->zstdd, &ob, &ib);
		if (ZSTD_isError(rc))
			return SL_ECORRUPT;
		if (rc == 0) /* a frame is complete */
			return ib.pos == len ? (long)ob.pos : SL_ECORRUPT;
		if (ob.pos == cap)
			return -ENOBUFS;
		if (ib.pos == len && ob.pos == before_out)
			return SL_ECORRUPT; /* truncated */
		if (ib.pos == before_in && ob.pos == before_out)
			return SL_ECORRUPT;
	}
}

static long zstd_compress(struct scodec *c, const uint8_t *in, size_t len,
			  uint8_t *out, size_t cap)
{
	size_t rc = ZSTD_compressCCtx(c->zstdc, out, cap, in, len, 3);
	if (ZSTD_isError(rc))
		return ZSTD_getErrorCode(rc) == ZSTD_error_dstSize_tooSmall ?
			       -ENOBUFS : SL_ECORRUPT;
	return (long)rc;
}

/* ---- the interface ---- */

long scodec_decompress(struct scodec *c, int kind, const uint8_t *in,
		       size_t len, uint8_t *out, size_t cap)
{
	if (cap > LONG_MAX)
		cap = LONG_MAX;
	switch (kind) {
	case SCODEC_GZIP:
		return gzip_decompress(c, in, len, out, cap);
	case SCODEC_SNAPPY:
		return snappy_decompress(in, len, out, cap);
	case SCODEC_LZ4:
		return lz4_decompress(c, in, len, out, cap);
	case SCODEC_ZSTD:
		return zstd_decompress(c, in, len, out, cap);
	default:
		return -ENOTSUP;
	}
}

long scodec_compress(struct scodec *c, int kind, bool xerial,
		     const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	if (cap > LONG_MAX)
		cap = LONG_MAX;
	switch (kind) {
	case SCODEC_GZIP:
		return gzip_compress(c, in, len, out, cap);
	case SCODEC_SNAPPY:
		return snappy_compress_to(xerial, in, len, out, cap);
	case SCODEC_LZ4:
		return lz4_compress(in, len, out, cap);
	case SCODEC_ZSTD:
		return zstd_compress(c, in, len, out, cap);
	default:
		return -ENOTSUP;
	}
}

size_t scodec_bound(int kind, size_t len)
{
	LZ4F_preferences_t p;
	size_t blocks = len / XERIAL_BLOCK_BYTES + 1;
	switch (kind) {
	case SCODEC_GZIP:
		return compressBound(len) + 32; /* + gzip header, trailer */
	case SCODEC_SNAPPY:
		return XERIAL_HEADER_BYTES + blocks * 4 +
		       snappy_max_compressed_length(len) +
		       blocks * 64; /* per-block slack */
	case SCODEC_LZ4:
		lz4_prefs(&p);
		return LZ4F_compressFrameBound(len, &p);
	case SCODEC_ZSTD:
		return ZSTD_compressBound(len);
	default:
		return len;
	}
}
