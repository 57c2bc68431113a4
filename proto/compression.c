/*
 * Kafka's batch compression codecs over zlib, libsnappy, liblz4 and
 * libzstd (compression.h says how Kafka frames each).
 *
 * Decompression writes into a buffer that doubles as it fills, up to the
 * caller's max_out, so a stream's claimed size is never trusted for an
 * allocation.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "proto/compression.h"

const char *sl_codec_name(int codec)
{
	switch (codec) {
	case SL_CODEC_NONE: return "none";
	case SL_CODEC_GZIP: return "gzip";
	case SL_CODEC_SNAPPY: return "snappy";
	case SL_CODEC_LZ4: return "lz4";
	case SL_CODEC_ZSTD: return "zstd";
	default: return "unknown";
	}
}

/* ---- the output buffer ---- */

struct obuf {
	uint8_t *p;
	size_t len, cap, max;
};

/* Room for at least one more byte, doubling up to max. */
static int ob_grow(struct obuf *o)
{
	if (o->len < o->cap)
		return 0;
	if (o->cap >= o->max)
		return -EMSGSIZE;
	size_t ncap = o->cap ? 2 * o->cap : 4096;
	if (ncap > o->max || ncap < o->cap)
		ncap = o->max;
	uint8_t *np = realloc(o->p, ncap ? ncap : 1);
	if (!np)
		return -ENOMEM;
	o->p = np;
	o->cap = ncap;
	return 0;
}

static int ob_reserve(struct obuf *o, size_t n)
{
	if (n > o->max - o->len)
		return -EMSGSIZE;
	if (o->len + n <= o->cap && o->p)
		return 0;
	size_t ncap = o->cap ? o->cap : 4096;
	while (ncap < o->len + n)
		ncap = ncap > SIZE_MAX / 2 ? o->len + n : 2 * ncap;
	if (ncap > o->max)
		ncap = o->max;
	uint8_t *np = realloc(o->p, ncap ? ncap : 1);
	if (!np)
		return -ENOMEM;
	o->p = np;
	o->cap = ncap;
	return 0;
}

/* ---- gzip ---- */

static int gunzip(const uint8_t *in, size_t len, struct obuf *o)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* 15 + 32: a gzip or zlib header, found by inflate */
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return -ENOMEM;
	int rc = 0;
	z.next_in = (Bytef *)in;
	for (;;) {
		/* zlib counts in uInt: feed large inputs in pieces */
		if (z.avail_in == 0) {
			size_t left = len - (size_t)((const uint8_t *)z.next_in - in);
			z.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
		}
		if ((rc = ob_grow(o)) < 0)
			break;
		size_t room = o->cap - o->len;
		z.next_out = o->p + o->len;
		z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
		uInt before = z.avail_out;
		int zr = inflate(&z, Z_NO_FLUSH);
		o->len += before - z.avail_out;
		size_t used = (size_t)((const uint8_t *)z.next_in - in);
		if (zr == Z_STREAM_END) {
			if (used == len)
				break;
			/* concatenated gzip members, as Java's reader takes */
			if (inflateReset(&z) != Z_OK) {
				rc = -EINVAL;
				break;
			}
			continue;
		}
		if (zr == Z_BUF_ERROR && used == len) {
			rc = -EINVAL; /* truncated */
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			rc = zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
			break;
		}
	}
	inflateEnd(&z);
	return rc;
}

static int gzip(const uint8_t *in, size_t len, struct obuf *o)
{
	if (len > UINT_MAX)
		return -EINVAL;
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip header and trailer */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	size_t bound = deflateBound(&z, (uLong)len) + 32;
	int rc = ob_reserve(o, bound);
	if (rc == 0) {
		z.next_in = (Bytef *)in;
		z.avail_in = (uInt)len;
		z.next_out = o->p;
		z.avail_out = (uInt)bound;
		rc = deflate(&z, Z_FINISH) == Z_STREAM_END ? 0 : -EINVAL;
		o->len = bound - z.avail_out;
	}
	deflateEnd(&z);
	return rc;
}

/* ---- snappy ---- */

static const uint8_t xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };

static int unsnappy_block(const uint8_t *in, size_t len, struct obuf *o)
{
	size_t n;
	if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK)
		return -EINVAL;
	int rc = ob_reserve(o, n);
	if (rc < 0)
		return rc;
	size_t got = n;
	if (snappy_uncompress((const char *)in, len, (char *)o->p + o->len,
			      &got) != SNAPPY_OK || got != n)
		return -EINVAL;
	o->len += n;
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int unsnappy(const uint8_t *in, size_t len, struct obuf *o)
{
	if (len < 16 || memcmp(in, xerial_magic, sizeof(xerial_magic)))
		return unsnappy_block(in, len, o);
	/* the Java framing: 16 bytes of header, then length-prefixed blocks */
	size_t pos = 16;
	while (pos < len) {
		if (len - pos < 4)
			return -EINVAL;
		size_t n = be32(in + pos);
		pos += 4;
		if (n > len - pos)
			return -EINVAL;
		int rc = unsnappy_block(in + pos, n, o);
		if (rc < 0)
			return rc;
		pos += n;
	}
	return 0;
}

static int snappy(const uint8_t *in, size_t len, struct obuf *o)
{
	size_t bound = snappy_max_compressed_length(len);
	int rc = ob_reserve(o, bound);
	if (rc < 0)
		return rc;
	size_t n = bound;
	if (snappy_compress((const char *)in, len, (char *)o->p, &n) !=
	    SNAPPY_OK)
		return -EINVAL;
	o->len = n;
	return 0;
}

/* ---- lz4 ---- */

static int unlz4(const uint8_t *in, size_t len, struct obuf *o)
{
	LZ4F_dctx *d;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
		return -ENOMEM;
	int rc = 0;
	size_t pos = 0;
	for (;;) {
		if ((rc = ob_grow(o)) < 0)
			break;
		size_t out_n = o->cap - o->len, in_n = len - pos;
		size_t hint = LZ4F_decompress(d, o->p + o->len, &out_n,
					      in + pos, &in_n, NULL);
		if (LZ4F_isError(hint)) {
			rc = -EINVAL;
			break;
		}
		o->len += out_n;
		pos += in_n;
		if (hint == 0 && pos == len)
			break; /* the last frame ended with the input */
		/* hint == 0 before the end: another frame follows */
		if (in_n == 0 && out_n == 0) {
			rc = -EINVAL; /* the frame does not end */
			break;
		}
	}
	LZ4F_freeDecompressionContext(d);
	return rc;
}

static int lz4(const uint8_t *in, size_t len, struct obuf *o)
{
	/* independent 64 KiB blocks: what Kafka's Java reader takes */
	LZ4F_preferences_t prefs;
	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	size_t bound = LZ4F_compressFrameBound(len, &prefs);
	int rc = ob_reserve(o, bound);
	if (rc < 0)
		return rc;
	size_t n = LZ4F_compressFrame(o->p, bound, in, len, &prefs);
	if (LZ4F_isError(n))
		return -EINVAL;
	o->len = n;
	return 0;
}

/* ---- zstd ---- */

static int unzstd(const uint8_t *in, size_t len, struct obuf *o)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	if (!d)
		return -ENOMEM;
	ZSTD_inBuffer ib = { in, len, 0 };
	int rc = 0;
	size_t last = 1;
	while (ib.pos < ib.size || last != 0) {
		if ((rc = ob_grow(o)) < 0)
			break;
		ZSTD_outBuffer ob = { o->p + o->len, o->cap - o->len, 0 };
		size_t in_before = ib.pos;
		last = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(last)) {
			rc = -EINVAL;
			break;
		}
		o->len += ob.pos;
		/* no input left, no output made, and a frame not ended */
		if (last != 0 && ib.pos == ib.size && ob.pos == 0 &&
		    ib.pos == in_before) {
			rc = -EINVAL;
			break;
		}
	}
	ZSTD_freeDCtx(d);
	return rc;
}

static int zstd(const uint8_t *in, size_t len, struct obuf *o)
{
	size_t bound = ZSTD_compressBound(len);
	int rc = ob_reserve(o, bound);
	if (rc < 0)
		return rc;
	size_t n = ZSTD_compress(o->p, bound, in, len, ZSTD_CLEVEL_DEFAULT);
	if (ZSTD_isError(n))
		return -EINVAL;
	o->len = n;
	return 0;
}

/* ---- the entry points ---- */

int sl_decompress(int codec, const uint8_t *in, size_t len, size_t max_out,
		  uint8_t **out, size_t *out_len)
{
	/* one byte more than allowed: a decoder always has room to show
	 * that its stream is longer than max_out (even when it is 0) */
	struct obuf o = { NULL, 0, 0, max_out < SIZE_MAX ? max_out + 1 : max_out };
	int rc;
	switch (codec) {
	case SL_CODEC_GZIP: rc = gunzip(in, len, &o); break;
	case SL_CODEC_SNAPPY: rc = unsnappy(in, len, &o); break;
	case SL_CODEC_LZ4: rc = unlz4(in, len, &o); break;
	case SL_CODEC_ZSTD: rc = unzstd(in, len, &o); break;
	default: rc = -EINVAL; break;
	}
	if (rc == 0 && o.len > max_out)
		rc = -EMSGSIZE;
	if (rc < 0) {
		free(o.p);
		*out = NULL;
		*out_len = 0;
		return rc;
	}
	if (!o.p && !(o.p = malloc(1)))
		return -ENOMEM;
	*out = o.p;
	*out_len = o.len;
	return 0;
}

int sl_compress(int codec, const uint8_t *in, size_t len, uint8_t **out,
		size_t *out_len)
{
	struct obuf o = { NULL, 0, 0, SIZE_MAX };
	int rc;
	switch (codec) {
	case SL_CODEC_GZIP: rc = gzip(in, len, &o); break;
	case SL_CODEC_SNAPPY: rc = snappy(in, len, &o); break;
	case SL_CODEC_LZ4: rc = lz4(in, len, &o); break;
	case SL_CODEC_ZSTD: rc = zstd(in, len, &o); break;
	default: rc = -EINVAL; break;
	}
	if (rc < 0) {
		free(o.p);
		*out = NULL;
		*out_len = 0;
		return rc;
	}
	*out = o.p;
	*out_len = o.len;
	return 0;
}
