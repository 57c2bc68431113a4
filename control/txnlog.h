/*
 * The transaction state log of the transaction coordinator (control/txn.h):
 * <dir>/txn.log, an append-only sequence of records, one per change of a
 * transactional id's state, which txn.c writes and reads back whole at its
 * open.  Its format and recovery rules are at the top of txnlog.c.
 *
 * What the store promises (the same as the offsets store, offsets.h):
 *   - a batch of records (sl_txnlog_batch_*) is durable together once
 *     sl_txnlog_batch_end returned 0; when it failed, none of it is in the
 *     file, or the store is broken;
 *   - a rewrite (sl_txnlog_rewrite_*) replaces the whole file atomically
 *     and durably (storage/disk.h sd_replace);
 *   - the open hands back every record of the file in order, up to the
 *     first that is not valid, and cuts the file there (a torn append).
 *
 * Broken: after a failed fdatasync, a failed truncation of a failed append
 * or a rewrite whose rename may not survive a power cut, what is on disk is
 * unknown: every later batch fails with -EIO until the store is reopened.
 *
 * All I/O goes through the struct sdisk handed to the open.
 * Single-threaded: one struct, one thread.
 */
#ifndef SLUICE_CONTROL_TXNLOG_H
#define SLUICE_CONTROL_TXNLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sdisk;
struct sl_txnlog;

#define SL_TXNLOG_FILE "txn.log"
#define SL_TXNLOG_TMP "txn.log.tmp" /* sd_replace's temporary */
#define SL_TXNLOG_HEADER_BYTES 16

/* Bounds of the format. */
#define SL_TXNLOG_ID_MAX 512     /* transactional id */
#define SL_TXNLOG_GROUP_MAX 255
#define SL_TXNLOG_TOPIC_MAX 249
#define SL_TXNLOG_META_MAX 4096

/* A compaction is due once the file is both SL_TXNLOG_COMPACT_RATIO times
 * the size a rewrite would give it and SL_TXNLOG_COMPACT_MIN_BYTES long. */
#define SL_TXNLOG_COMPACT_RATIO 4
#define SL_TXNLOG_COMPACT_MIN_BYTES 16384

enum sl_txnlog_type {
	SL_TXNLOG_STATE = 1,        /* an id's producer, epochs and state */
	SL_TXNLOG_PARTITION = 2,    /* a partition joined its transaction */
	SL_TXNLOG_GROUP = 3,        /* a group's offsets joined it */
	SL_TXNLOG_OFFSET = 4,       /* a pending transactional offset */
	SL_TXNLOG_PRODUCER_IDS = 5, /* the next producer id to hand out */
	SL_TXNLOG_DELETE = 6,       /* tombstone: the id is forgotten */
};

/* One record, decoded.  Pointers point into the caller's memory when
 * appending, into the store's buffer during the open's apply callback. */
struct sl_txnlog_rec {
	uint8_t type;             /* enum sl_txnlog_type */
	uint16_t id_len;          /* 1..SL_TXNLOG_ID_MAX; 0: PRODUCER_IDS */
	const char *id;
	/* STATE */
	int64_t producer_id;      /* >= 0 */
	int64_t prev_producer_id; /* before a rotation, or -1 */
	int16_t epoch;            /* -1..32767 */
	int16_t last_epoch;       /* -1: none */
	int32_t timeout_ms;       /* > 0 */
	uint8_t state;            /* txn.c's enum: 0..5 */
	int64_t start_ms;         /* wall ms the transaction began, or -1 */
	int64_t update_ms;        /* wall ms of this change */
	/* PARTITION, OFFSET */
	uint16_t topic_len;       /* 1..SL_TXNLOG_TOPIC_MAX */
	const char *topic;
	int32_t partition;        /* >= 0 */
	/* GROUP, OFFSET */
	uint16_t group_len;       /* 1..SL_TXNLOG_GROUP_MAX */
	const char *group;
	/* OFFSET */
	int64_t offset;
	int32_t leader_epoch;     /* -1: none */
	int32_t meta_len;         /* -1 (null)..SL_TXNLOG_META_MAX */
	const char *meta;
	/* PRODUCER_IDS */
	int64_t next_producer_id; /* >= 0 */
};

/* The bytes r takes in the file.  r must be valid as above. */
size_t sl_txnlog_rec_bytes(const struct sl_txnlog_rec *r);

/* Called by the open for each valid record, in file order; a negative
 * return stops the open, which returns it. */
typedef int (*sl_txnlog_apply_fn)(void *arg, const struct sl_txnlog_rec *r);

/*
 * Open the store in dir on disk d: create dir (durably), remove a stale
 * txn.log.tmp, then create txn.log (its header, durably) or read it and
 * call apply(arg, record) for each valid record in order; a torn or
 * damaged tail is cut off (and the cut fdatasync'ed).  Returns 0 and *out,
 * or a negative errno with err (errlen bytes) holding one line naming the
 * file: -EBADMSG (the header is not a transaction log's: the file is left
 * alone), -ENOMEM, an I/O error of d, or what apply returned.
 */
int sl_txnlog_open(const struct sdisk *d, const char *dir,
		   sl_txnlog_apply_fn apply, void *arg,
		   struct sl_txnlog **out, char *err, size_t errlen);

/* Close the file and free the store.  NULL is allowed. */
void sl_txnlog_close(struct sl_txnlog *s);

/* Disk state unknown: every batch fails with -EIO. */
bool sl_txnlog_broken(const struct sl_txnlog *s);

/* The file's length. */
uint64_t sl_txnlog_size(const struct sl_txnlog *s);

/* Appending records durably together: _begin, _add for each record (in
 * the order they are to be applied at the next open), _end, which writes
 * and fdatasyncs and returns 0 or a negative errno (none of the batch is
 * in the file, or the store is broken).  A batch without records: 0. */
void sl_txnlog_batch_begin(struct sl_txnlog *s);
void sl_txnlog_batch_add(struct sl_txnlog *s, const struct sl_txnlog_rec *r);
int sl_txnlog_batch_end(struct sl_txnlog *s);

/* Whether a compaction is due: the file's size against live_bytes (the
 * sum of sl_txnlog_rec_bytes of what a rewrite would hold); not when
 * broken, nor until the file has doubled after a failed rewrite. */
bool sl_txnlog_compact_due(const struct sl_txnlog *s, uint64_t live_bytes);

/* Rewriting the file with only the records given (not during a batch):
 * _begin, _add each, _end, which replaces txn.log through sd_replace and
 * returns 0 or a negative errno (-ENOMEM, an I/O error: the old file
 * stays, unless the store is now broken). */
void sl_txnlog_rewrite_begin(struct sl_txnlog *s);
void sl_txnlog_rewrite_add(struct sl_txnlog *s, const struct sl_txnlog_rec *r);
int sl_txnlog_rewrite_end(struct sl_txnlog *s);

#endif
