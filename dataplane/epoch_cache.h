/*
 * A partition's leader epochs (Kafka's leader-epoch cache, KIP-101): for
 * each leader epoch that wrote to the log, the offset its first batch got.
 * The storage core rebuilds it from the batches' partition leader epochs
 * when it opens the log (every batch carries the epoch of the leader that
 * appended it: storage stamps it, a follower keeps the leader's), keeps
 * it as batches are appended and cut, and answers OffsetForLeaderEpoch
 * from it; a follower decides where to truncate with it (KIP-279).
 *
 * Entries are kept in increasing epoch and increasing start offset; an
 * epoch starts where the previous one ends.  Epochs below 0 (no epoch)
 * are never recorded.
 *
 * Memory: nothing until the first entry, then an array grown by doubling
 * up to EPC_MAX entries; past the cap the oldest entry is forgotten (an
 * epoch that old only matters to a replica that far behind, which then
 * truncates to where the next known epoch starts) and counted in
 * dropped.  An allocation that fails keeps the array as it was and is
 * counted the same way.
 *
 * Pure: no I/O, no clock.  Single thread (the partition's storage core).
 */
#ifndef SLUICE_DATAPLANE_EPOCH_CACHE_H
#define SLUICE_DATAPLANE_EPOCH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#define EPC_MAX 4096 /* epochs remembered per partition */

struct epc_entry {
	int32_t epoch;
	int64_t start_offset; /* the epoch's first offset */
};

struct epoch_cache {
	struct epc_entry *e;  /* NULL until needed */
	uint32_t n, cap;
	uint64_t dropped;     /* entries forgotten (cap, no memory) */
	uint64_t refused;     /* epochs older than the latest, not kept */
};

void epc_init(struct epoch_cache *c);
/* Free its memory (c may be used again after epc_init). */
void epc_fini(struct epoch_cache *c);
/* Forget every entry (the log is read again); keeps the memory. */
void epc_reset(struct epoch_cache *c);

/*
 * A batch of leader epoch epoch starts at start_offset (appended, or read
 * at open).  A newer epoch than the latest becomes an entry (entries that
 * start at or after start_offset are dropped first: they cannot be right
 * any more); the latest epoch again changes nothing; an older epoch is
 * refused (counted) and so is an epoch below 0.  Returns 1 when an entry
 * was added, 0 otherwise.
 */
int epc_assign(struct epoch_cache *c, int32_t epoch, int64_t start_offset);

/* The latest epoch, or -1 when there is none. */
int32_t epc_latest(const struct epoch_cache *c);

/*
 * Kafka's endOffsetFor: where epoch ends in this log, whose end is
 * log_end.  *out_epoch is the largest known epoch <= epoch and *out_end the
 * start of the first epoch after it (log_end for the latest).  epoch -1,
 * an epoch above the latest, or an empty cache: both -1 (undefined).  An
 * epoch below every known one: (epoch, first entry's start).
 */
void epc_end_offset_for(const struct epoch_cache *c, int32_t epoch,
			int64_t log_end, int32_t *out_epoch, int64_t *out_end);

/* The epoch of offset: the entry with the largest start <= offset, or
 * -1 when offset is below every entry (or there is none). */
int32_t epc_epoch_at(const struct epoch_cache *c, int64_t offset);

/* The log was cut at end_offset: epochs that start at or after it go. */
void epc_truncate_end(struct epoch_cache *c, int64_t end_offset);

/* The log now starts at start_offset (retention, DeleteRecords): entries
 * that end at or below it go, and the first one left starts there. */
void epc_truncate_start(struct epoch_cache *c, int64_t start_offset);

/*
 * Where a follower whose log ends at log_end cuts it, given the leader's
 * answer to OffsetForLeaderEpoch for the follower's latest epoch
 * (leader_epoch, leader_end: Kafka's rules, KIP-101 and KIP-279):
 *   - leader_end -1 (undefined: the leader knows no epoch up to ours):
 *     at hw (the follower's high watermark; 0 when not known), as before
 *     epochs;
 *   - leader_epoch -1 with an end: at the leader's end;
 *   - the leader's epoch is one we know: at the smaller of both logs'
 *     ends for it;
 *   - it is one we do not know: at our end of the largest epoch below it,
 *     and *complete is false: ask the leader again with our latest epoch
 *     after that cut;
 *   - we know no epoch at all (or the leader names one above our latest,
 *     which a leader never does): at the leader's end.
 * Never above log_end, never below 0.  *complete is true when the
 * follower may fetch from the returned offset.
 */
int64_t epc_truncation_point(const struct epoch_cache *c, int64_t log_end,
			     int64_t hw, int32_t leader_epoch,
			     int64_t leader_end, bool *complete);

#endif
