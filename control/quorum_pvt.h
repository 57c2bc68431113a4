/*
 * The metadata log's envelopes (formats in quorum_envelope.c): what
 * quorum.c hands libraft around each state machine entry and snapshot.
 * Internal to control/quorum.c and its fuzz target.
 */
#ifndef SLUICE_CONTROL_QUORUM_PVT_H
#define SLUICE_CONTROL_QUORUM_PVT_H

#include <stddef.h>
#include <stdint.h>

#define SL_QUORUM_ENTRY_HDR 8
#define SL_QUORUM_SNAP_HDR 32

/* Bytes of the envelope around an entry of len bytes (a multiple of 8). */
size_t sl_quorum_entry_size(size_t len);

/* Write the envelope of entry[0..len) to out (sl_quorum_entry_size(len)
 * bytes).  len is 1..SL_QUORUM_ENTRY_MAX. */
void sl_quorum_entry_encode(uint8_t *out, const void *entry, size_t len);

/* The entry inside buf[0..len): 0 with *entry pointing into buf and
 * *entry_len, or -EBADMSG when buf is not a valid envelope. */
int sl_quorum_entry_decode(const uint8_t *buf, size_t len,
			   const uint8_t **entry, size_t *entry_len);

/* The header of a snapshot of state[0..len) taken at index. */
void sl_quorum_snap_header(uint8_t hdr[SL_QUORUM_SNAP_HDR], uint64_t index,
			   const void *state, size_t len);

/* The state inside buf[0..len): 0 with *index, *state pointing into buf
 * and *state_len, or -EBADMSG when buf is not a valid snapshot. */
int sl_quorum_snap_decode(const uint8_t *buf, size_t len, uint64_t *index,
			  const uint8_t **state, size_t *state_len);

#endif
