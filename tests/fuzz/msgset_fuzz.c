/*
 * libFuzzer target for proto/msgset.c: the message sets of old producers
 * (Produce v0-2) come from the network.
 *
 * Input: one flags byte, then bytes.  Properties:
 *   1. ms_upconvert never crashes and answers 0 or one of its documented
 *      errors; on 0 the batch passes rb_validate (what every produced
 *      batch must pass before it is stored);
 *   2. that batch down-converted to magic (flags & 1) and up-converted
 *      again gives the same records: keys, values and (magic 1)
 *      timestamps, in order;
 *   3. ms_downconvert on the raw bytes (as if they were stored batches)
 *      never crashes and answers 0 or SL_ECORRUPT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/compression.h"
#include "proto/msgset.h"
#include "proto/record_batch.h"
#include "sluice/error.h"

/* The records of batch b, uncompressed into *records when needed. */
static void iter(const uint8_t *b, size_t len, struct rb_iter *it,
		 uint8_t **records)
{
	*records = NULL;
	int rc = rb_iter_init(it, b, len);
	if (rc == -ENOTSUP) {
		size_t n;
		FUZZ_CHECK(sl_decompress(rb_be16(b + RB_OFF_ATTRIBUTES) &
						 RB_ATTR_COMPRESSION_MASK,
					 b + RB_HEADER_BYTES,
					 len - RB_HEADER_BYTES, 1u << 28,
					 records, &n) == 0);
		rb_iter_init_records(it, b, *records, n);
	} else {
		FUZZ_CHECK(rc == 0);
	}
}

static void same_records(const uint8_t *a, size_t alen, const uint8_t *b,
			 size_t blen, int magic)
{
	struct rb_iter ia, ib;
	uint8_t *ra, *rbuf;
	iter(a, alen, &ia, &ra);
	iter(b, blen, &ib, &rbuf);
	struct rb_record x, y;
	int ka, kb;
	while ((ka = rb_iter_next(&ia, &x)) == 1) {
		kb = rb_iter_next(&ib, &y);
		FUZZ_CHECK(kb == 1);
		FUZZ_CHECK((x.key == NULL) == (y.key == NULL));
		if (x.key)
			FUZZ_CHECK(x.klen == y.klen &&
				   !memcmp(x.key, y.key, (size_t)x.klen));
		FUZZ_CHECK(x.vlen == y.vlen);
		if (x.vlen > 0)
			FUZZ_CHECK(!memcmp(x.value, y.value, (size_t)x.vlen));
		FUZZ_CHECK(!magic || x.timestamp == y.timestamp);
	}
	FUZZ_CHECK(ka == 0);
	FUZZ_CHECK(rb_iter_next(&ib, &y) == 0);
	free(ra);
	free(rbuf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int magic = data[0] & 1;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	uint8_t *b, *set;
	size_t blen, slen;
	int rc = ms_upconvert(in, len, &b, &blen);
	if (rc == 0) {
		FUZZ_CHECK(rb_validate(b, blen) == 0);
		FUZZ_CHECK(ms_downconvert(b, blen, magic, 0, SIZE_MAX, &set,
					  &slen) == 0);
		uint8_t *b2;
		size_t b2len;
		FUZZ_CHECK(ms_upconvert(set, slen, &b2, &b2len) == 0);
		same_records(b, blen, b2, b2len, magic);
		free(b2);
		free(set);
		free(b);
	} else {
		FUZZ_CHECK(rc == SL_ECRC || rc == SL_EMAGIC || rc == SL_ELENGTH ||
			   rc == SL_EATTRIBUTES || rc == SL_ERECORDS ||
			   rc == -ENOMEM);
		FUZZ_CHECK(b == NULL && blen == 0);
	}
	rc = ms_downconvert(in, len, magic, 0, 1u << 20, &set, &slen);
	FUZZ_CHECK(rc == 0 || rc == SL_ECORRUPT || rc == -ENOMEM);
	if (rc == 0)
		free(set);
	return 0;
}
