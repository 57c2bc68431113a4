/*
 * The committed-offsets table of the consumer group coordinator (private
 * to control/: groups.c is its one caller).
 *
 * Each group holds a struct sl_commit_set: its committed offsets, sorted,
 * and what the offsets file says of its state.  The struct sl_commits
 * ties every set to the offsets file (control/offsets.h), counts what a
 * rewrite of the file would hold (its live size) and so when a compaction
 * is due, and holds the retention rule of expiry.
 *
 * The coordinator owns the decisions: what is committed, when a group's
 * offsets expire (its state), in which order groups are visited.  This
 * table owns the records that say so in the file and keeps memory in step
 * with them: records first, made durable in one batch, then memory is
 * changed to match (sl_commits_put, _logged, _drop, _expire_apply), so
 * that nothing is known in memory that a restart would not read back.
 *
 * Single-threaded, like the coordinator.
 */
#ifndef SLUICE_CONTROL_COMMITS_H
#define SLUICE_CONTROL_COMMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/offsets.h"

struct sdisk;

/* struct sl_commit_set.logged_ms: the file holds no state record of the
 * group. */
#define SL_COMMITS_LOGGED_NONE INT64_MIN

/* since_ms of the expiry functions for a group that never had members (a
 * "simple" consumer's): each offset expires retention after its own
 * commit. */
#define SL_COMMITS_EACH (-1)

/* One committed offset. */
struct sl_commit {
	uint8_t *blob;                 /* topic, then metadata */
	uint16_t topic_len;
	int32_t meta_len;              /* -1: null */
	int32_t partition;
	int32_t leader_epoch;
	int64_t offset;
	int64_t commit_ms;             /* wall ms of the commit */
};

/* One group's committed offsets.  Read items and n directly; change them
 * only through the functions below. */
struct sl_commit_set {
	const char *group;             /* the group's id: the caller's memory,
					  unchanged for the set's life */
	uint16_t group_len;            /* 1..SL_OFFSETS_GROUP_MAX */
	struct sl_commit *items;       /* by topic, then partition */
	uint32_t n, cap;
	int64_t logged_ms;             /* what the group's last state record
					  in the file says: wall ms it became
					  Empty, -1 (it had members), or
					  SL_COMMITS_LOGGED_NONE (no record) */
};

/*
 * A store other than the offsets file: a cluster's __consumer_offsets
 * partitions (control/gstore.h).  Each batch is begin (may be NULL), add
 * for each record in order, then end, which returns 0 when the store took
 * the batch (it becomes durable later: the coordinator's answers wait for
 * it) or a negative errno (none of it was taken).  Compaction is the
 * log's (its cleaner), so the table never rewrites; a DELETE is preceded
 * by a tombstone of each of the group's offsets.
 */
struct sl_commits_sink {
	void (*begin)(void *ctx);
	void (*add)(void *ctx, const struct sl_offsets_rec *r);
	int (*end)(void *ctx);
	void *ctx;
};

/* The table: every set's file and totals. */
struct sl_commits {
	struct sl_offsets *store;      /* the offsets file (NULL: sink) */
	const struct sl_commits_sink *sink; /* NULL: the file */
	uint64_t live_bytes;           /* what a rewrite of the store would
					  hold: a record per offset and per
					  state, header not counted */
	uint32_t n;                    /* offsets, all sets */
	int64_t retention_ms;          /* offsets.retention.minutes; > 0 */
};

/*
 * Open the offsets file in dir on disk d (sl_offsets_open) and hand each
 * of its records, in file order, to replay(arg, record): the caller finds
 * or makes the group's set, forgets the group on a DELETE record, and
 * passes the other records to sl_commits_replay.  Returns 0, or what
 * sl_offsets_open returns (err holding one line naming the file).  On
 * error c holds no file, and sets replay filled are still counted:
 * sl_commits_drop them before sl_commits_close.
 */
int sl_commits_open(struct sl_commits *c, const struct sdisk *d,
		    const char *dir, int64_t retention_ms, int64_t now_wall_ms,
		    sl_offsets_apply_fn replay, void *arg, char *err,
		    size_t errlen);

/* The table over sink instead of a file: nothing is read; the caller
 * hands what it loads to sl_commits_replay as the open would. */
void sl_commits_open_sink(struct sl_commits *c, int64_t retention_ms,
			  const struct sl_commits_sink *sink);

/* Close the file.  Every set must have been dropped (sl_commits_drop). */
void sl_commits_close(struct sl_commits *c);

/* The file read at the open was version 1: rewrite it (sl_commits_rewrite_*)
 * before anything is appended. */
bool sl_commits_must_rewrite(const struct sl_commits *c);

/* What is on disk is unknown (offsets.h): every batch fails with -EIO and
 * nothing should expire until the coordinator is reopened. */
bool sl_commits_broken(const struct sl_commits *c);

/* An empty set of the group id group (group_len bytes, kept by the
 * caller). */
void sl_commit_set_init(struct sl_commit_set *s, const char *group,
			size_t group_len);

/* The open: apply one record of the file to s, the set of its group (a
 * later commit replaces the earlier, a state replaces the earlier state,
 * an expiry removes the offset it names if present).  Not for DELETE
 * records (the caller drops the set).  Returns 0, -ENOMEM or -EOVERFLOW
 * (more than SL_GROUPS_OFFSETS_MAX offsets). */
int sl_commits_replay(struct sl_commits *c, struct sl_commit_set *s,
		      const struct sl_offsets_rec *r);

/* The index of (topic, partition) in s, or -(insertion point)-1. */
int64_t sl_commits_find(const struct sl_commit_set *s, const char *topic,
			size_t topic_len, int32_t partition);

/* Insert or replace an offset in memory (its record already durable, or
 * read back at the open).  topic_len 1..SL_OFFSETS_TOPIC_MAX, meta_len
 * -1..SL_OFFSETS_META_MAX.  Returns 0, -ENOMEM or -EOVERFLOW (a new offset
 * beyond SL_GROUPS_OFFSETS_MAX). */
int sl_commits_put(struct sl_commits *c, struct sl_commit_set *s,
		   const char *topic, size_t topic_len, int32_t partition,
		   int64_t offset, int32_t leader_epoch, const char *meta,
		   int32_t meta_len, int64_t commit_ms);

/* Forget every offset of s and its state record (the DELETE record that
 * says so on disk is the caller's, or s goes with a close). */
void sl_commits_drop(struct sl_commits *c, struct sl_commit_set *s);

/* The file now says ms of s's group (a state record made durable). */
void sl_commits_logged(struct sl_commits *c, struct sl_commit_set *s,
		       int64_t ms);

/*
 * Appending records durably together (offsets.h sl_offsets_batch_*):
 * sl_commits_batch_begin, the records in the order they are to be applied
 * at the next open, then sl_commits_batch_end, which returns 0 or a
 * negative errno (none of the batch is in the file, or the store is
 * broken).  Memory is not changed: after a 0, the caller says what became
 * durable (sl_commits_put, _logged, _drop, _expire_apply).
 *   _add_state   s's group became Empty at ms (wall), or has members (-1);
 *   _add_commit  an offset committed at time_ms (wall), as sl_commits_put;
 *   _add_delete  s's group is gone, its offsets and state with it;
 *   _add_remove  the offset at index i of s is gone (OffsetDelete): the
 *                same tombstone as an expiry's, so a restart does not
 *                bring it back; once durable, sl_commits_remove forgets it.
 */
void sl_commits_batch_begin(struct sl_commits *c);
void sl_commits_add_state(struct sl_commits *c, const struct sl_commit_set *s,
			  int64_t ms);
void sl_commits_add_commit(struct sl_commits *c, const struct sl_commit_set *s,
			   const char *topic, size_t topic_len,
			   int32_t partition, int64_t offset,
			   int32_t leader_epoch, const char *meta,
			   int32_t meta_len, int64_t time_ms);
void sl_commits_add_delete(struct sl_commits *c,
			   const struct sl_commit_set *s);
void sl_commits_add_remove(struct sl_commits *c,
			   const struct sl_commit_set *s, uint32_t i);
int sl_commits_batch_end(struct sl_commits *c);

/* Forget the offset at index i of s (its removal record durable). */
void sl_commits_remove(struct sl_commits *c, struct sl_commit_set *s,
		       uint32_t i);

/*
 * Expiry (Kafka's offsets.retention.minutes, KIP-211), for a group that is
 * Empty; since_ms is when it became Empty when it has had members (all its
 * offsets expire together, retention_ms after that), or SL_COMMITS_EACH
 * when it never had members (each offset retention_ms after its commit).
 *
 * sl_commits_expires_at: when something stamped ms expires (never past
 * INT64_MAX).
 * sl_commits_expire_add: during a batch, add the tombstones of what of s
 * is expired at wall ms (one DELETE record for a whole group, an EXPIRE
 * record per offset otherwise) and lower *next to when the rest will be;
 * returns the records added.
 * sl_commits_expire_apply: once that batch is durable, with the same
 * since_ms and wall, forget what it said; returns how many records that
 * was (the sum over the sets equals the sum of _expire_add).
 */
int64_t sl_commits_expires_at(const struct sl_commits *c, int64_t ms);
uint32_t sl_commits_expire_add(struct sl_commits *c,
			       const struct sl_commit_set *s, int64_t since_ms,
			       int64_t wall, int64_t *next);
uint32_t sl_commits_expire_apply(struct sl_commits *c,
				 struct sl_commit_set *s, int64_t since_ms,
				 int64_t wall);

/*
 * Compaction: sl_commits_compact_due says whether the file has grown to
 * SL_OFFSETS_COMPACT_RATIO times the live size (offsets.h
 * sl_offsets_compact_due).  A rewrite holds only what is live:
 * sl_commits_rewrite_begin, sl_commits_rewrite_add for every set (its
 * state record, if it has one, then its offsets), sl_commits_rewrite_end,
 * which returns 0 or a negative errno (offsets.h: the old file stays, or
 * the store is broken).  Not during a batch.
 */
bool sl_commits_compact_due(const struct sl_commits *c);
void sl_commits_rewrite_begin(struct sl_commits *c);
void sl_commits_rewrite_add(struct sl_commits *c,
			    const struct sl_commit_set *s);
int sl_commits_rewrite_end(struct sl_commits *c);

#endif
