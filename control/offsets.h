/*
 * The consumer-group offsets store: <dir>/offsets.log, an append-only log
 * of records (committed offsets, groups' states, tombstones) that the
 * committed-offsets table of the group coordinator (commits.c, for
 * groups.c) writes and reads back whole at its open.
 * Its format and recovery rules are at the top of offsets.c.
 *
 * What the store promises:
 *   - a batch of records (sl_offsets_batch_*) is durable together: once
 *     sl_offsets_batch_end returned 0 it survives a crash or a power cut;
 *     when it failed, none of it is in the file, or the store is broken
 *     (below);
 *   - a rewrite (sl_offsets_rewrite_*) replaces the whole file atomically
 *     and durably (storage/disk.h sd_replace: offsets.log.tmp, fdatasync,
 *     rename, fsync of dir): after a power cut the file is the old one or
 *     the new one, never a mix;
 *   - the open hands back every record of the file in order, up to the
 *     first that is not valid, and cuts the file there (a torn append).
 *
 * Broken: after a failed fdatasync (the kernel may have dropped the dirty
 * pages), a failed truncation of a failed append, or a rewrite whose
 * rename may not survive a power cut, what is on disk is unknown: every
 * later batch fails with -EIO and no rewrite is due, until the store is
 * closed and opened again (which reads back what survived).
 *
 * The caller owns what the records mean: which are live, how many bytes
 * they take (sl_offsets_rec_bytes) and so when a compaction is due.
 *
 * All I/O goes through the struct sdisk handed to the open (sdisk_posix for
 * the process, the simulated disk of tests/lib/simdisk.h in tests).
 * Single-threaded: one struct, one thread.
 */
#ifndef SLUICE_CONTROL_OFFSETS_H
#define SLUICE_CONTROL_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sdisk;
struct sl_offsets;

#define SL_OFFSETS_FILE "offsets.log"
#define SL_OFFSETS_TMP "offsets.log.tmp" /* sd_replace's temporary */
#define SL_OFFSETS_HEADER_BYTES 16

/* Bounds of the format: longer names or metadata cannot be stored. */
#define SL_OFFSETS_GROUP_MAX 255
#define SL_OFFSETS_TOPIC_MAX 249
#define SL_OFFSETS_META_MAX 4096

/* A compaction is due once the file is both SL_OFFSETS_COMPACT_RATIO times
 * the size a rewrite would give it and SL_OFFSETS_COMPACT_MIN_BYTES long. */
#define SL_OFFSETS_COMPACT_RATIO 4
#define SL_OFFSETS_COMPACT_MIN_BYTES 16384

enum sl_offsets_type {
	SL_OFFSETS_COMMIT = 1, /* an offset committed */
	SL_OFFSETS_STATE = 2,  /* a group's state: when it became Empty */
	SL_OFFSETS_EXPIRE = 3, /* tombstone: one offset expired */
	SL_OFFSETS_DELETE = 4, /* tombstone: a group, offsets and state */
	/* a cluster's store only (control/gtxn.h), never the file: */
	SL_OFFSETS_TXN = 5,    /* an offset of a transaction not yet ended
				  (TxnOffsetCommit): COMMIT's fields and the
				  producer's id and epoch */
	SL_OFFSETS_TXN_END = 6, /* tombstone: that transaction's offset was
				   committed or dropped */
};

/* One record, decoded.  The pointers point into the caller's memory when
 * appending, into the store's buffer during the open's apply callback
 * (valid only during the call). */
struct sl_offsets_rec {
	uint8_t type;          /* enum sl_offsets_type */
	uint16_t group_len;    /* 1..SL_OFFSETS_GROUP_MAX */
	const char *group;
	uint16_t topic_len;    /* COMMIT, EXPIRE: 1..SL_OFFSETS_TOPIC_MAX */
	const char *topic;
	int32_t partition;     /* COMMIT, EXPIRE: >= 0 */
	int64_t offset;        /* COMMIT: any value the client sent */
	int32_t leader_epoch;  /* COMMIT: -1 none */
	int32_t meta_len;      /* COMMIT: 0..SL_OFFSETS_META_MAX, -1 null */
	const char *meta;
	int64_t time_ms;       /* COMMIT: commit time (wall ms); STATE: wall ms
				  the group became Empty, or -1: it has
				  members */
	int64_t producer_id;   /* TXN, TXN_END: the transactional producer */
	int16_t producer_epoch; /* TXN: its epoch */
};

/* The bytes r takes in the file (its N).  r must be valid as above. */
size_t sl_offsets_rec_bytes(const struct sl_offsets_rec *r);

/* Called by the open for each valid record, in file order; a negative
 * return stops the open, which returns it. */
typedef int (*sl_offsets_apply_fn)(void *arg, const struct sl_offsets_rec *r);

/*
 * Open the store in dir on disk d: create dir and its parents (durably,
 * sd_mkdir_p), remove a stale offsets.log.tmp, then either create
 * offsets.log (its header, durably: sd_replace) or read it and call
 * apply(arg, record) for each valid record in order.  A torn or damaged
 * tail is cut off (truncated after the last valid record, fdatasync'ed).
 * A file of version 1 (commit times of a monotonic clock) hands its
 * commits with time_ms = now_wall_ms, and must be rewritten (see
 * sl_offsets_must_rewrite) before anything is appended.
 *
 * Returns 0 and *out, or a negative errno with err (errlen bytes, always
 * NUL-terminated) holding one line a person can act on, naming the file:
 *   -EBADMSG   offsets.log's header is not an offsets file header (the
 *              file is left alone: move it away or restore it);
 *   -ENOMEM, an I/O error of d, or what apply returned.
 */
int sl_offsets_open(const struct sdisk *d, const char *dir,
		    int64_t now_wall_ms, sl_offsets_apply_fn apply, void *arg,
		    struct sl_offsets **out, char *err, size_t errlen);

/* Close the file and free the store.  NULL is allowed. */
void sl_offsets_close(struct sl_offsets *s);

/* The file read at the open was version 1: rewrite it (sl_offsets_rewrite_*)
 * before the first batch; batches assert that this is false. */
bool sl_offsets_must_rewrite(const struct sl_offsets *s);

/* Disk state unknown (see the top): every batch fails with -EIO. */
bool sl_offsets_broken(const struct sl_offsets *s);

/* The file's length: where the next record goes. */
uint64_t sl_offsets_size(const struct sl_offsets *s);

/*
 * Appending records durably together: sl_offsets_batch_begin, then
 * sl_offsets_batch_add for each record (in the order they are to be
 * applied at the next open; any number: the store writes them out through
 * its buffer as it fills), then sl_offsets_batch_end, which writes the
 * rest and fdatasyncs.  One batch at a time.
 *
 * sl_offsets_batch_end returns 0 (a batch without records: 0 at once,
 * nothing written), or a negative errno, then: -EIO at once when the
 * store is broken; a failed write: the file is truncated back (and that
 * fdatasync'ed) so none of the batch is there, or the store is broken
 * when that fails; a failed fdatasync: the store is broken.
 */
void sl_offsets_batch_begin(struct sl_offsets *s);
void sl_offsets_batch_add(struct sl_offsets *s, const struct sl_offsets_rec *r);
int sl_offsets_batch_end(struct sl_offsets *s);

/* Whether the file should be compacted now: its size against live_bytes
 * (the sum of sl_offsets_rec_bytes of what a rewrite would hold), not when
 * broken, and not again until the file has doubled after a rewrite that
 * failed with the old file still in place. */
bool sl_offsets_compact_due(const struct sl_offsets *s, uint64_t live_bytes);

/*
 * Rewriting the file with only the given records (a compaction, or the
 * version 1 file after the open): sl_offsets_rewrite_begin, then
 * sl_offsets_rewrite_add for each record (built in memory), then
 * sl_offsets_rewrite_end, which replaces offsets.log with them (header
 * first, current version) through sd_replace and reopens it for appends.
 * Not during a batch.
 *
 * sl_offsets_rewrite_end returns 0, or a negative errno: -ENOMEM (the
 * image), an I/O error.  On error the old file is still in place and
 * appends go on there (a compaction is then not due again until the file
 * has doubled), unless the new file may have taken its place without the
 * directory fsync (the store is then broken).
 */
void sl_offsets_rewrite_begin(struct sl_offsets *s);
void sl_offsets_rewrite_add(struct sl_offsets *s,
			    const struct sl_offsets_rec *r);
int sl_offsets_rewrite_end(struct sl_offsets *s);

#endif
