/*
 * libFuzzer target for the metadata log's envelopes
 * (control/quorum_envelope.c): the bytes around each Raft entry and
 * snapshot, read back from raft_uv's files and from other voters.
 *
 * Input: one flags byte, then the envelope.  Flag bit 0: a snapshot (else
 * an entry).  Flag bit 1 repairs the length and CRC fields (a random input
 * almost never has right CRCs, and everything past them lies behind).
 *
 * Properties:
 *   1. decoding answers 0 or -EBADMSG, and on 0 points inside the input
 *      (an entry: 1..SL_QUORUM_ENTRY_MAX bytes; a snapshot: the rest after
 *      the header);
 *   2. what decodes encodes back to the same bytes (an entry's padding
 *      aside: encoding writes zeros, decoding does not read it);
 *   3. the input's own bytes, encoded as an entry and as a snapshot state,
 *      decode to themselves; one flipped bit in the envelope is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/quorum.h"
#include "control/quorum_pvt.h"
#include "proto/record_batch.h"
#include "fuzz_util.h"

#define INPUT_MAX (SL_QUORUM_ENTRY_MAX + 64)

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void check_entry(const uint8_t *b, size_t n)
{
	const uint8_t *e;
	size_t len;
	int rc = sl_quorum_entry_decode(b, n, &e, &len);
	FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
	if (rc != 0)
		return;
	FUZZ_CHECK(len >= 1 && len <= SL_QUORUM_ENTRY_MAX);
	FUZZ_CHECK(e == b + SL_QUORUM_ENTRY_HDR && e + len <= b + n);
	FUZZ_CHECK(sl_quorum_entry_size(len) == n);
	uint8_t *again = malloc(n);
	FUZZ_CHECK(again);
	sl_quorum_entry_encode(again, e, len);
	FUZZ_CHECK(!memcmp(again, b, SL_QUORUM_ENTRY_HDR + len));
	free(again);
}

static void check_snapshot(const uint8_t *b, size_t n)
{
	uint64_t index;
	const uint8_t *s;
	size_t len;
	int rc = sl_quorum_snap_decode(b, n, &index, &s, &len);
	FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
	if (rc != 0)
		return;
	FUZZ_CHECK(s == b + SL_QUORUM_SNAP_HDR &&
		   len == n - SL_QUORUM_SNAP_HDR);
	uint8_t hdr[SL_QUORUM_SNAP_HDR];
	sl_quorum_snap_header(hdr, index, s, len);
	FUZZ_CHECK(!memcmp(hdr, b, SL_QUORUM_SNAP_HDR));
}

/* Property 3 on the input's own bytes. */
static void round_trip(const uint8_t *p, size_t n)
{
	if (n >= 1 && n <= SL_QUORUM_ENTRY_MAX) {
		size_t size = sl_quorum_entry_size(n);
		uint8_t *b = malloc(size);
		FUZZ_CHECK(b);
		sl_quorum_entry_encode(b, p, n);
		const uint8_t *e;
		size_t len;
		FUZZ_CHECK(sl_quorum_entry_decode(b, size, &e, &len) == 0);
		FUZZ_CHECK(len == n && !memcmp(e, p, n));
		size_t bit = (n * 7919u) % ((SL_QUORUM_ENTRY_HDR + n) * 8);
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		FUZZ_CHECK(sl_quorum_entry_decode(b, size, &e, &len) ==
			   -EBADMSG);
		free(b);
	}
	uint8_t *s = malloc(SL_QUORUM_SNAP_HDR + n);
	FUZZ_CHECK(s);
	sl_quorum_snap_header(s, n * 31u, p, n);
	if (n)
		memcpy(s + SL_QUORUM_SNAP_HDR, p, n);
	uint64_t index;
	const uint8_t *st;
	size_t len;
	FUZZ_CHECK(sl_quorum_snap_decode(s, SL_QUORUM_SNAP_HDR + n, &index,
					 &st, &len) == 0);
	FUZZ_CHECK(index == n * 31u && len == n && !memcmp(st, p, n));
	size_t bit = (n * 104729u) % ((SL_QUORUM_SNAP_HDR + n) * 8);
	s[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	FUZZ_CHECK(sl_quorum_snap_decode(s, SL_QUORUM_SNAP_HDR + n, &index,
					 &st, &len) == -EBADMSG);
	free(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > INPUT_MAX)
		return 0;
	uint8_t flags = data[0];
	size_t n = size - 1;
	uint8_t *b = malloc(n ? n : 1); /* a copy of its own size: ASan sees
					   any read past the end */
	FUZZ_CHECK(b);
	memcpy(b, data + 1, n);
	if (flags & 2) {
		if (!(flags & 1) && n >= SL_QUORUM_ENTRY_HDR) {
			size_t len = n - SL_QUORUM_ENTRY_HDR;
			if (len > SL_QUORUM_ENTRY_MAX)
				len = SL_QUORUM_ENTRY_MAX;
			put32(b, (uint32_t)len);
			put32(b + 4, rb_crc32c(b + SL_QUORUM_ENTRY_HDR, len));
		} else if ((flags & 1) && n >= SL_QUORUM_SNAP_HDR) {
			uint64_t index = 0;
			for (int i = 0; i < 8; i++)
				index = index << 8 | b[8 + i];
			sl_quorum_snap_header(b, index, b + SL_QUORUM_SNAP_HDR,
					      n - SL_QUORUM_SNAP_HDR);
		}
	}
	if (flags & 1)
		check_snapshot(b, n);
	else
		check_entry(b, n);
	round_trip(data + 1, n);
	free(b);
	return 0;
}
