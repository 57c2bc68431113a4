/*
 * The share groups' state file: <dir>/shares.log, a record log
 * (control/reclog.h) of what the share partitions' journals said
 * (control/sharep.h): for each (share group, topic, partition), where its
 * window starts and the persistent part of each entry that changed; and
 * each group's share.auto.offset.reset when set.  Its
 * records are at the top of sstore.c, with the rules that make one valid.
 *
 * Reading it back (sl_sstore_open) hands every valid record to the
 * callbacks in file order; the last START of a share partition and the
 * last CHANGE of each offset at or above it are its state.  A batch
 * (sl_sstore_begin, puts, sl_sstore_end) is durable together once
 * sl_sstore_end returned 0 (fdatasync'ed); a rewrite (begin_rewrite,
 * puts, end_rewrite) replaces the whole file atomically with the live
 * state the caller puts, when sl_sstore_compact_due says the file is
 * mostly dead records.
 *
 * Single-threaded; every file operation goes through storage/disk.h.
 */
#ifndef SLUICE_CONTROL_SSTORE_H
#define SLUICE_CONTROL_SSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/sharep.h"

#define SL_SSTORE_FILE "shares.log"
#define SL_SSTORE_GROUP_MAX 255
#define SL_SSTORE_COMPACT_MIN_BYTES (1u << 20)
#define SL_SSTORE_COMPACT_RATIO 4

struct sdisk;
struct sl_sstore;

/* A share partition. */
struct sl_sstore_key {
	const char *group; /* not NUL-terminated */
	size_t glen;       /* 1..SL_SSTORE_GROUP_MAX */
	uint32_t topic_id;
	int32_t partition;
};

/* Records read at the open (pointers valid during the call): 0, or
 * -errno to stop the open. */
typedef int (*sl_sstore_start_fn)(void *arg, const struct sl_sstore_key *k,
				  int64_t start);
typedef int (*sl_sstore_change_fn)(void *arg, const struct sl_sstore_key *k,
				   const struct sl_sp_change *c);
/* A group's share.auto.offset.reset: 0 latest, 1 earliest, 2 the
 * broker's default. */
typedef int (*sl_sstore_reset_fn)(void *arg, const char *group, size_t glen,
				  int reset);

/* Open (creating it) dir/shares.log and read it back.  0 with *out, or
 * -errno with err saying what to do. */
int sl_sstore_open(const struct sdisk *d, const char *dir,
		   sl_sstore_start_fn start, sl_sstore_change_fn change,
		   sl_sstore_reset_fn reset, void *arg, struct sl_sstore **out,
		   char *err, size_t errlen);
void sl_sstore_close(struct sl_sstore *s);

/* A batch of puts, durable at sl_sstore_end (0 or -errno: none of it
 * counts).  A put is -EINVAL for a key out of the rules, else 0. */
void sl_sstore_begin(struct sl_sstore *s);
int sl_sstore_put_start(struct sl_sstore *s, const struct sl_sstore_key *k,
			int64_t start);
int sl_sstore_put_change(struct sl_sstore *s, const struct sl_sstore_key *k,
			 const struct sl_sp_change *c);
int sl_sstore_put_reset(struct sl_sstore *s, const char *group, size_t glen,
			int reset);
int sl_sstore_end(struct sl_sstore *s);

/* The encoded size of a START and of a CHANGE record of key k. */
size_t sl_sstore_start_bytes(const struct sl_sstore_key *k);
size_t sl_sstore_change_bytes(const struct sl_sstore_key *k);

/* Whether a rewrite is due, the live state taking live_bytes. */
bool sl_sstore_compact_due(const struct sl_sstore *s, uint64_t live_bytes);
/* A rewrite: the puts between these two replace the file (0 or -errno:
 * the old file stays). */
void sl_sstore_begin_rewrite(struct sl_sstore *s);
int sl_sstore_end_rewrite(struct sl_sstore *s);

uint64_t sl_sstore_size(const struct sl_sstore *s);

/* The record at p (avail bytes): its length when valid, else 0. */
size_t sl_sstore_check(const uint8_t *p, size_t avail);
/* Decode a record sl_sstore_check accepted: 1 START (*start), 2 CHANGE
 * (*c), 3 RESET (*start: the value; *k has the group alone); *k points
 * into p. */
int sl_sstore_decode(const uint8_t *p, size_t len, struct sl_sstore_key *k,
		     int64_t *start, struct sl_sp_change *c);

#endif
