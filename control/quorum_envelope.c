/*
 * The metadata log's envelopes: the bytes quorum.c puts around each
 * state machine entry it proposes and each snapshot it hands libraft.
 * They are on disk (raft_uv's segments and snapshot files under
 * <control_dir>/raft) and on the wire between voters (raft_uv_tcp).
 *
 * Entry envelope, big-endian:
 *
 *   0   u32  length L of the state machine's entry, 1..SL_QUORUM_ENTRY_MAX
 *   4   u32  CRC32C (Kafka's, rb_crc32c) of those L bytes
 *   8   the entry, then zero bytes up to a multiple of 8
 *
 * Why: libraft 0.15's TCP transport sends an entry's bytes as they are,
 * but the receiver steps over them as if each were padded to a multiple
 * of 8 (uvEncodeMessage against uvDecodeEntriesBatch), so an entry of any
 * other length arrives shifted into its neighbours.  The CRC makes such a
 * fault, or a damaged segment, visible instead of applied.
 *
 * An entry envelope is valid if and only if its size is a multiple of 8
 * and at least 16, L is 1..SL_QUORUM_ENTRY_MAX, the size is 8 + L rounded
 * up to a multiple of 8, and the CRC matches (the padding is not read).
 *
 * Snapshot envelope, big-endian:
 *
 *   0   u32  magic 0x534c5153 ("SLQS")
 *   4   u32  version, 1
 *   8   u64  index: the last log index the state covers
 *   16  u64  length of the state that follows the header
 *   24  u32  CRC32C of the state bytes
 *   28  u32  CRC32C of bytes 0..27
 *   32  the state (the state machine's snapshot() bytes)
 *
 * A snapshot is valid if and only if it is at least 32 bytes, the magic,
 * version and header CRC match, 32 + length is its exact size, and the
 * state CRC matches.  (raft_uv checksums only a snapshot's metadata file,
 * hence the state CRC; the index travels inside because libraft does not
 * tell the state machine which index it restores.)
 *
 * What happens to invalid ones is quorum.c's: see its failure modes.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "control/quorum.h"
#include "control/quorum_pvt.h"
#include "proto/record_batch.h" /* rb_crc32c */

#define SNAP_MAGIC 0x534c5153u
#define SNAP_VERSION 1u

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

size_t sl_quorum_entry_size(size_t len)
{
	return (SL_QUORUM_ENTRY_HDR + len + 7) & ~(size_t)7;
}

void sl_quorum_entry_encode(uint8_t *out, const void *entry, size_t len)
{
	assert(len >= 1 && len <= SL_QUORUM_ENTRY_MAX);
	size_t size = sl_quorum_entry_size(len);
	put32(out, (uint32_t)len);
	put32(out + 4, rb_crc32c(entry, len));
	memcpy(out + SL_QUORUM_ENTRY_HDR, entry, len);
	memset(out + SL_QUORUM_ENTRY_HDR + len, 0,
	       size - SL_QUORUM_ENTRY_HDR - len);
}

int sl_quorum_entry_decode(const uint8_t *buf, size_t len,
			   const uint8_t **entry, size_t *entry_len)
{
	if (len < 2 * SL_QUORUM_ENTRY_HDR || len % 8 != 0)
		return -EBADMSG;
	uint32_t n = get32(buf);
	if (n == 0 || n > SL_QUORUM_ENTRY_MAX ||
	    sl_quorum_entry_size(n) != len ||
	    get32(buf + 4) != rb_crc32c(buf + SL_QUORUM_ENTRY_HDR, n))
		return -EBADMSG;
	*entry = buf + SL_QUORUM_ENTRY_HDR;
	*entry_len = n;
	return 0;
}

void sl_quorum_snap_header(uint8_t hdr[SL_QUORUM_SNAP_HDR], uint64_t index,
			   const void *state, size_t len)
{
	put32(hdr, SNAP_MAGIC);
	put32(hdr + 4, SNAP_VERSION);
	put64(hdr + 8, index);
	put64(hdr + 16, len);
	put32(hdr + 24, rb_crc32c(state, len));
	put32(hdr + 28, rb_crc32c(hdr, 28));
}

int sl_quorum_snap_decode(const uint8_t *buf, size_t len, uint64_t *index,
			  const uint8_t **state, size_t *state_len)
{
	if (len < SL_QUORUM_SNAP_HDR || get32(buf) != SNAP_MAGIC ||
	    get32(buf + 4) != SNAP_VERSION ||
	    get32(buf + 28) != rb_crc32c(buf, 28) ||
	    get64(buf + 16) != len - SL_QUORUM_SNAP_HDR ||
	    get32(buf + 24) != rb_crc32c(buf + SL_QUORUM_SNAP_HDR,
					 len - SL_QUORUM_SNAP_HDR))
		return -EBADMSG;
	*index = get64(buf + 8);
	*state = buf + SL_QUORUM_SNAP_HDR;
	*state_len = len - SL_QUORUM_SNAP_HDR;
	return 0;
}
