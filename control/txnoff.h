/*
 * What the two keepers of transactional offsets share in answering
 * TxnOffsetCommit: the transaction coordinator on a single broker
 * (control/txn.h) and a cluster's group coordinator (control/gtxn.h).
 * Both answer every partition asked, in the order asked: a partition is
 * checked on its own first (an unknown topic or partition, metadata too
 * long), then the request as a whole gives one code to every partition
 * that passed.
 *
 * Pure functions of their arguments: any thread.
 */
#ifndef SLUICE_CONTROL_TXNOFF_H
#define SLUICE_CONTROL_TXNOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/kafka/kcodec.h"

/* Whether topic's partition exists (the topic name as the request has
 * it, not checked yet). */
typedef bool (*sl_txnoff_exists_fn)(void *ctx, struct kc_str topic,
				    int32_t partition);

/* r's topics and partitions for q, from a: each partition NONE, or
 * UNKNOWN_TOPIC_OR_PARTITION (3) where exists says no, or
 * OFFSET_METADATA_TOO_LARGE (12) for metadata longer than meta_max.
 * Returns how many passed, or -EMSGSIZE when a has no room. */
long sl_txnoff_answer(const struct kc_txn_offset_commit_req *q,
		      struct kc_txn_offset_commit_resp *r, struct kc_arena *a,
		      sl_txnoff_exists_fn exists, void *ctx, int32_t meta_max);

/* Every partition of r still NONE is answered err (err 0: none). */
void sl_txnoff_fail(struct kc_txn_offset_commit_resp *r, int16_t err);

#endif
