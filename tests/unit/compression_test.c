/*
 * proto/compression.c over proto/codec.c: each codec round-trips, reads
 * the framings Kafka's clients write (raw snappy and the Java client's
 * framing), and refuses damaged, oversized or trailing bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>
#include <zlib.h>

#include "proto/compression.h"
#include "tl.h"

static const int codecs[] = { SL_CODEC_GZIP, SL_CODEC_SNAPPY, SL_CODEC_LZ4,
			      SL_CODEC_ZSTD };
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

/* Text-like bytes (compressible) then random ones (not). */
static uint8_t *sample(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	uint64_t x = seed | 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = i < len / 2 ? (uint8_t)("key=value;"[i % 10])
				   : (uint8_t)x;
	}
	return p;
}

static void roundtrip(int codec, const uint8_t *in, size_t len)
{
	uint8_t *c, *d;
	size_t clen, dlen;
	TL_OK(sl_compress(codec, in, len, &c, &clen));
	TL_OK(sl_decompress(codec, c, clen, len + 1, &d, &dlen));
	TL_EQ(dlen, len);
	TL_TRUE(len == 0 || !memcmp(d, in, len));
	free(c);
	free(d);
}

static void test_roundtrip(void **state)
{
	(void)state;
	static const size_t sizes[] = { 0, 1, 61, 4096, 65537, 1 << 20 };
	for (size_t i = 0; i < NCODECS; i++)
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			uint8_t *in = sample(sizes[j], 7 + j);
			roundtrip(codecs[i], in, sizes[j]);
			free(in);
		}
}

/* Compressible input shrinks: the library really compressed it. */
static void test_compresses(void **state)
{
	(void)state;
	size_t len = 100000;
	uint8_t *in = malloc(len);
	assert_non_null(in);
	for (size_t i = 0; i < len; i++)
		in[i] = (uint8_t)("0123456789"[i % 10]);
	for (size_t i = 0; i < NCODECS; i++) {
		uint8_t *c;
		size_t clen;
		TL_OK(sl_compress(codecs[i], in, len, &c, &clen));
		TL_TRUE(clen < len / 10);
		free(c);
	}
	free(in);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The Java client's snappy framing: magic, two versions, then blocks of
 * int32 length + raw snappy. */
static void test_snappy_java_framing(void **state)
{
	(void)state;
	uint8_t *in = sample(3000, 3);
	size_t max = snappy_max_compressed_length(1500);
	uint8_t *f = malloc(16 + 2 * (4 + max));
	assert_non_null(f);
	static const uint8_t magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
	memcpy(f, magic, 8);
	put32(f + 8, 1);
	put32(f + 12, 1);
	size_t pos = 16;
	for (int b = 0; b < 2; b++) {
		size_t n = max;
		assert_int_equal(snappy_compress((const char *)in + b * 1500, 1500,
						 (char *)f + pos + 4, &n),
				 SNAPPY_OK);
		put32(f + pos, (uint32_t)n);
		pos += 4 + n;
	}
	uint8_t *d;
	size_t dlen;
	TL_OK(sl_decompress(SL_CODEC_SNAPPY, f, pos, 1 << 20, &d, &dlen));
	TL_EQ(dlen, 3000);
	TL_TRUE(!memcmp(d, in, 3000));
	free(d);
	/* a block length past the end */
	put32(f + 16, 1u << 30);
	TL_EQ(sl_decompress(SL_CODEC_SNAPPY, f, pos, 1 << 20, &d, &dlen),
	      -EINVAL);
	free(f);
	free(in);
}

/* One stream per batch, as every client writes it: bytes after the end of
 * the stream (a second gzip member, lz4 frame or zstd frame) are refused
 * as damage, not silently dropped. */
static void test_trailing_refused(void **state)
{
	(void)state;
	uint8_t *a = sample(5000, 11), *b = sample(7000, 12);
	for (size_t i = 0; i < NCODECS; i++) {
		if (codecs[i] == SL_CODEC_SNAPPY)
			continue; /* raw snappy has no end marker */
		uint8_t *ca, *cb, *d;
		size_t la, lb, dlen;
		TL_OK(sl_compress(codecs[i], a, 5000, &ca, &la));
		TL_OK(sl_compress(codecs[i], b, 7000, &cb, &lb));
		uint8_t *both = malloc(la + lb);
		assert_non_null(both);
		memcpy(both, ca, la);
		memcpy(both + la, cb, lb);
		TL_EQ(sl_decompress(codecs[i], both, la + lb, 1 << 20, &d,
				    &dlen), -EINVAL);
		TL_OK(sl_decompress(codecs[i], both, la, 1 << 20, &d, &dlen));
		TL_EQ(dlen, 5000);
		TL_TRUE(!memcmp(d, a, 5000));
		free(d);
		free(both);
		free(ca);
		free(cb);
	}
	free(a);
	free(b);
}

/* Truncated, corrupted, empty, too large, unknown codec. */
static void test_refusals(void **state)
{
	(void)state;
	size_t len = 20000;
	uint8_t *in = sample(len, 5);
	for (size_t i = 0; i < NCODECS; i++) {
		int codec = codecs[i];
		uint8_t *c, *d;
		size_t clen, dlen;
		TL_OK(sl_compress(codec, in, len, &c, &clen));
		/* a decompressed size above the bound */
		TL_EQ(sl_decompress(codec, c, clen, len - 1, &d, &dlen),
		      -EMSGSIZE);
		TL_TRUE(d == NULL && dlen == 0);
		/* cut in the middle */
		TL_EQ(sl_decompress(codec, c, clen / 2, 1 << 20, &d, &dlen),
		      -EINVAL);
		/* nothing at all */
		TL_EQ(sl_decompress(codec, c, 0, 1 << 20, &d, &dlen), -EINVAL);
		/* garbage */
		memset(c, 0xa5, clen);
		TL_EQ(sl_decompress(codec, c, clen, 1 << 20, &d, &dlen),
		      -EINVAL);
		free(c);
	}
	uint8_t *d;
	size_t dlen;
	TL_EQ(sl_decompress(7, in, 10, 100, &d, &dlen), -EINVAL);
	uint8_t *c;
	size_t clen;
	TL_EQ(sl_compress(0, in, 10, &c, &clen), -EINVAL);
	free(in);
	TL_TRUE(!strcmp(sl_codec_name(SL_CODEC_LZ4), "lz4"));
	TL_TRUE(!strcmp(sl_codec_name(9), "unknown"));
}

/* What zlib's own gzip writer makes is read (not only our writer's). */
static void test_gzip_from_zlib(void **state)
{
	(void)state;
	uint8_t *in = sample(9000, 9);
	uLongf n = compressBound(9000);
	uint8_t *z = malloc(n);
	assert_non_null(z);
	/* a zlib (not gzip) stream: inflate's automatic header detection */
	assert_int_equal(compress(z, &n, in, 9000), Z_OK);
	uint8_t *d;
	size_t dlen;
	TL_OK(sl_decompress(SL_CODEC_GZIP, z, n, 9000, &d, &dlen));
	TL_EQ(dlen, 9000);
	TL_TRUE(!memcmp(d, in, 9000));
	free(d);
	free(z);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_compresses),
		cmocka_unit_test(test_snappy_java_framing),
		cmocka_unit_test(test_trailing_refused),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_gzip_from_zlib),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
