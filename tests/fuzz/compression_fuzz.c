/*
 * libFuzzer target for proto/compression.c, which unwraps batches from the
 * network (the client, the storage cleaner, old message formats).
 *
 * Input: one byte (codec = byte % 5), then a stream.  Properties:
 *   1. sl_decompress of the stream never crashes, never writes beyond its
 *      buffer (the sanitizers), and gives 0 with at most max_out bytes or
 *      a negative error with no buffer;
 *   2. for a known codec, compressing the stream itself and decompressing
 *      the result gives the stream back, byte for byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/compression.h"

#define MAX_OUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int codec = data[0] % 5;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	uint8_t *out;
	size_t out_len;
	int rc = sl_decompress(codec, in, len, MAX_OUT, &out, &out_len);
	if (rc == 0) {
		FUZZ_CHECK(out != NULL && out_len <= MAX_OUT);
		free(out);
	} else {
		FUZZ_CHECK(rc == -EINVAL || rc == -EMSGSIZE || rc == -ENOMEM);
		FUZZ_CHECK(out == NULL && out_len == 0);
		FUZZ_CHECK(codec != 0 || rc == -EINVAL);
	}
	if (codec == 0)
		return 0;
	uint8_t *c, *d;
	size_t clen, dlen;
	FUZZ_CHECK(sl_compress(codec, in, len, &c, &clen) == 0);
	FUZZ_CHECK(sl_decompress(codec, c, clen, len, &d, &dlen) == 0);
	FUZZ_CHECK(dlen == len && (len == 0 || !memcmp(d, in, len)));
	free(c);
	free(d);
	return 0;
}
