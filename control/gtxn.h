/*
 * Transactional offsets at a cluster's group coordinator: Kafka's design,
 * where a consume-transform-produce application's TxnOffsetCommit goes to
 * the group's coordinator (the leader of the group's partition of
 * __consumer_offsets, control/gstore.h), which may be another broker than
 * the transaction coordinator (control/txn.h) that decides the outcome.
 *
 *   - TxnOffsetCommit: the offsets are written to the group's partition
 *     as TXN records (control/gtopic.h: producer id and epoch, group,
 *     topic, partition, offset), durably (the answer waits for it, as
 *     every answer of the store does), and held pending in memory: an
 *     OffsetFetch with require_stable answers their partitions
 *     UNSTABLE_OFFSET_COMMIT (88) meanwhile, and they are not committed
 *     offsets yet;
 *   - the transaction coordinator made the group's partition one of the
 *     transaction's (AddOffsetsToTxn adds __consumer_offsets-P, as in
 *     Kafka), so its marker is written there by the partition's leader;
 *     that broker's sluiced then tells this module (a WriteTxnMarkers
 *     request of the offsets partitions alone, after the markers are
 *     durable) and answers the transaction coordinator only after this
 *     module's answer: a COMMIT makes the producer's pending offsets in
 *     that partition committed offsets (OffsetCommit records, then a
 *     TXN_END tombstone of each TXN record), an ABORT drops them (the
 *     tombstones alone).  A partition not loaded here is answered
 *     COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR, and the marker
 *     writer sends the marker again later;
 *   - a load reads the partition in order: TXN records make offsets
 *     pending (one of a newer epoch drops the producer's older ones
 *     there, as its TxnOffsetCommit did), TXN_END tombstones end them, and a marker of a producer
 *     commits (into the groups' memory, as a replayed OffsetCommit record)
 *     or drops its pending offsets: the log alone says what is committed,
 *     so a coordinator that fails between a marker and its records loses
 *     nothing (the cleaner keeps markers, storage/cleaner.h);
 *   - a store that refuses a batch of tombstones leaves memory as the log
 *     is: the offsets stay pending and the request (the marker, the
 *     newer epoch's TxnOffsetCommit) is answered NOT_COORDINATOR;
 *   - fencing: the highest producer epoch seen of each producer (its
 *     offsets, its markers) is kept (up to SL_GTXN_FENCES producers); a
 *     TxnOffsetCommit of a lower epoch is answered PRODUCER_FENCED (90;
 *     INVALID_PRODUCER_EPOCH, 47, before v2), and a TxnOffsetCommit of a
 *     higher epoch drops the producer's pending offsets of older epochs
 *     (a fenced instance's), as does a marker of any epoch at or above
 *     theirs.
 *
 * Checks of TxnOffsetCommit, in order: transactional id empty:
 * INVALID_REQUEST (42); group id empty or too long: INVALID_GROUP_ID (24);
 * the group not coordinated here: NOT_COORDINATOR (16) or
 * COORDINATOR_LOAD_IN_PROGRESS (14); producer id or epoch negative:
 * INVALID_PRODUCER_ID_MAPPING (49); fenced as above; v3+: the member and
 * generation (sl_groups_txn_check); more than SL_GTXN_PENDING_MAX offsets
 * pending: POLICY_VIOLATION (44); per partition: an unknown topic or
 * partition UNKNOWN_TOPIC_OR_PARTITION (3), metadata too long
 * OFFSET_METADATA_TOO_LARGE (12); the store refusing the batch:
 * NOT_COORDINATOR (the client looks the coordinator up again).
 *
 * Deviation from Kafka, on purpose: a committed transaction's offset
 * replaces the group's committed offset even when a plain OffsetCommit of
 * the same partition came between the TxnOffsetCommit and the marker
 * (Kafka keeps the later plain commit); a load replays the same rule, so
 * memory and log agree.  TxnOffsetCommit v5 (KIP-890's transaction
 * version 2, which this broker does not advertise) is handled as v4: the
 * group's partition must have been added with AddOffsetsToTxn.
 *
 * Single-threaded: the control plane's event loop owns it.
 */
#ifndef SLUICE_CONTROL_GTXN_H
#define SLUICE_CONTROL_GTXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/commits.h"
#include "control/groups.h"

#define SL_GTXN_PENDING_MAX 65536  /* offsets pending, every producer */
#define SL_GTXN_FENCES 8192        /* producers whose epoch is kept */

struct sl_gtxn;
struct sl_offsets_rec;

struct sl_gtxn_config {
	struct sl_groups *groups;  /* committed offsets go here */
	const struct sl_commits_sink *sink; /* the TXN records go here */
	sl_groups_reply_fn reply;  /* answers (the store's: held until
				      durable) */
	void *reply_ctx;
	/* the store, with ctx: whether this broker coordinates a group
	 * (0, or the error), the partition of __consumer_offsets a group
	 * is in (-1: the topic is not there), and whether a partition is
	 * loaded here (0, COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR) */
	int16_t (*coordinates)(void *ctx, const char *group, size_t len);
	int32_t (*partition_of)(void *ctx, const char *group, size_t len);
	int16_t (*partition_state)(void *ctx, int32_t partition);
	void *ctx;
	/* whether a topic partition exists; NULL: every one does */
	bool (*exists)(void *exists_ctx, const char *topic, size_t len,
		       int32_t partition);
	void *exists_ctx;
};

struct sl_gtxn_stats {
	uint64_t offsets;          /* TxnOffsetCommit offsets taken */
	uint64_t committed;        /* pending offsets a COMMIT committed */
	uint64_t aborted;          /* dropped by an ABORT or a fence */
	uint64_t markers;          /* markers handled (sluiced's, loads') */
	uint64_t markers_refused;  /* told to try again: not loaded here */
	uint64_t fenced;           /* TxnOffsetCommits fenced */
	uint32_t pending;          /* offsets pending now */
};

/* Returns 0 and *out, or -ENOMEM. */
int sl_gtxn_create(const struct sl_gtxn_config *cfg, struct sl_gtxn **out);
/* NULL allowed. */
void sl_gtxn_destroy(struct sl_gtxn *t);

/* Whether requests of this API key go to sl_gtxn_request (TxnOffsetCommit,
 * and sluiced's WriteTxnMarkers of the offsets partitions). */
bool sl_gtxn_serves(int16_t api_key);

/* One whole Kafka request (no size prefix), answered exactly once through
 * the reply function.  Returns 0, or -EINVAL (not one of these APIs, a
 * version outside the served windows, or a body that cannot be read:
 * answered by closing the connection), -EMSGSIZE (the answer does not
 * fit), -ENOMEM; without a reply then. */
int sl_gtxn_request(struct sl_gtxn *t, uint64_t token, const uint8_t *req,
		    size_t len);

/* OffsetFetch require_stable (sl_groups_set_pending, ctx t): whether an
 * offset of the group for that partition is pending. */
bool sl_gtxn_pending(void *ctx, const char *group, size_t group_len,
		     const char *topic, size_t topic_len, int32_t partition);

/* The store's load of partition p of __consumer_offsets: its TXN and
 * TXN_END records and its markers, in log order (see the top). */
void sl_gtxn_load_record(struct sl_gtxn *t, int32_t p,
			 const struct sl_offsets_rec *r);
void sl_gtxn_load_marker(struct sl_gtxn *t, int32_t p, int64_t producer_id,
			 int16_t producer_epoch, bool commit);
/* Partition p is no longer loaded here (-1: none is): forget its pending
 * offsets and fences. */
void sl_gtxn_unload(struct sl_gtxn *t, int32_t p);

void sl_gtxn_stats(const struct sl_gtxn *t, struct sl_gtxn_stats *out);

#endif
