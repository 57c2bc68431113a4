/*
 * Whole-buffer compression for callers that do not know the size of what
 * comes out (the client, the message-set converter): proto/codec.c does the
 * work with the libraries; this file sizes the buffers.
 *
 * Decompression starts from a guess (four times the input, at least
 * 4 KiB) and doubles while the codec says the output does not fit, up to
 * the caller's max_out, so a stream's claimed size never decides an
 * allocation.
 */
#include <errno.h>
#include <stdlib.h>

#include "proto/codec.h"
#include "proto/compression.h"
#include "proto/record_batch.h"
#include "sluice/error.h"

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

static int fail(uint8_t **out, size_t *out_len, int rc)
{
	*out = NULL;
	*out_len = 0;
	return rc;
}

int sl_decompress(int codec, const uint8_t *in, size_t len, size_t max_out,
		  uint8_t **out, size_t *out_len)
{
	if (codec < SL_CODEC_GZIP || codec > SL_CODEC_ZSTD)
		return fail(out, out_len, -EINVAL);
	struct scodec *c;
	if (scodec_create(&c) < 0)
		return fail(out, out_len, -ENOMEM);
	/* one byte more than allowed: a stream longer than max_out shows
	 * itself by filling it */
	size_t limit = max_out < SIZE_MAX ? max_out + 1 : max_out;
	size_t cap = len < SIZE_MAX / 4 ? 4 * len : SIZE_MAX;
	if (cap < 4096)
		cap = 4096;
	if (cap > limit)
		cap = limit;
	uint8_t *buf = NULL;
	long n;
	for (;;) {
		uint8_t *nb = realloc(buf, cap ? cap : 1);
		if (!nb) {
			n = -ENOMEM;
			break;
		}
		buf = nb;
		n = scodec_decompress(c, codec, in, len, buf, cap);
		if (n != -ENOBUFS || cap == limit)
			break;
		cap = cap > limit / 2 ? limit : 2 * cap;
	}
	scodec_destroy(c);
	if (n == -ENOBUFS || (n >= 0 && (size_t)n > max_out))
		n = -EMSGSIZE;
	else if (n < 0 && n != -ENOMEM)
		n = -EINVAL; /* a damaged stream */
	if (n < 0) {
		free(buf);
		return fail(out, out_len, (int)n);
	}
	*out = buf;
	*out_len = (size_t)n;
	return 0;
}

int sl_compress(int codec, const uint8_t *in, size_t len, uint8_t **out,
		size_t *out_len)
{
	if (codec < SL_CODEC_GZIP || codec > SL_CODEC_ZSTD)
		return fail(out, out_len, -EINVAL);
	struct scodec *c;
	if (scodec_create(&c) < 0)
		return fail(out, out_len, -ENOMEM);
	size_t cap = scodec_bound(codec, len);
	uint8_t *buf = malloc(cap ? cap : 1);
	long n = buf ? scodec_compress(c, codec, false, in, len, buf, cap)
		     : -ENOMEM;
	scodec_destroy(c);
	if (n < 0) {
		free(buf);
		return fail(out, out_len, n == -ENOMEM ? -ENOMEM : -EINVAL);
	}
	*out = buf;
	*out_len = (size_t)n;
	return 0;
}

int sl_batch_records(struct rb_iter *it, const uint8_t *batch, size_t len,
		     size_t max_plain, uint8_t **plain)
{
	*plain = NULL;
	if (len < RB_HEADER_BYTES)
		return -EINVAL;
	int codec = rb_be16(batch + RB_OFF_ATTRIBUTES) &
		    RB_ATTR_COMPRESSION_MASK;
	if (!codec)
		return rb_iter_init(it, batch, len) < 0 ? -EINVAL : 0;
	size_t n;
	int rc = sl_decompress(codec, batch + RB_HEADER_BYTES,
			       len - RB_HEADER_BYTES, max_plain, plain, &n);
	if (rc)
		return rc;
	rb_iter_init_records(it, batch, *plain, n);
	return 0;
}
