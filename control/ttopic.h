/*
 * The records of __transaction_state, the transaction coordinators'
 * replicated log in a cluster (control/tstore.h): one record per change of
 * a transactional id, keyed by the id and holding its whole state, as
 * Kafka's own coordinator writes them, so that compaction keeping the last
 * record of each key keeps exactly what a coordinator needs, and a
 * partition reads the same to sluice and to Kafka's tools.
 *
 * Key:   TransactionLogKey v0: int16 version 0, string transactional id.
 * Value: TransactionLogValue v1 (flexible): producer id, producer epoch,
 *        timeout, status (Kafka's numbers: Empty 0, Ongoing 1,
 *        PrepareCommit 2, PrepareAbort 3, CompleteCommit 4,
 *        CompleteAbort 5), the partitions of the transaction grouped by
 *        topic, the last update and start timestamps; tagged fields:
 *        PreviousProducerId (tag 0, written when not -1), and two of
 *        sluice's own that Kafka's readers skip: the last epoch a
 *        transaction completed with (SL_TTOPIC_TAG_LAST_EPOCH, int16,
 *        written when not -1) and the consumer groups whose offsets joined
 *        the transaction (SL_TTOPIC_TAG_GROUPS, a compact array of compact
 *        strings, written when there are some).
 * A null value (a tombstone) forgets the id.  The key of an empty id with
 * a null value is the mark a coordinator appends when it loads a partition
 * (no transactional id is empty).
 *
 * What is read: key version 0; values v0 (not flexible) and v1, with any
 * tagged fields (unknown ones skipped).  A key of another version or a
 * value of a later version, or a status sluice has no state for (Kafka's
 * Dead and PrepareEpochFence), is another kind of record: skipped.
 *
 * Pure functions of their arguments: any thread, no allocation.
 */
#ifndef SLUICE_CONTROL_TTOPIC_H
#define SLUICE_CONTROL_TTOPIC_H

#include <stddef.h>
#include <stdint.h>

#include "control/txnlog.h"
#include "proto/config.h"

#define SL_TTOPIC SL_TXN_TOPIC
#define SL_TTOPIC_KEY_MAX (2 + 2 + SL_TXNLOG_ID_MAX)
#define SL_TTOPIC_TAG_LAST_EPOCH 32512
#define SL_TTOPIC_TAG_GROUPS 32513

/* A topic partition or a group (partition unused) of a transaction. */
struct sl_ttopic_name {
	const char *name;
	uint16_t len;
	int32_t partition;
};

/* An id's whole state: state's STATE fields (its id included), the
 * partitions (grouped by topic: a topic's partitions next to each other)
 * and the groups. */
struct sl_ttopic_state {
	const struct sl_txnlog_rec *state;
	const struct sl_ttopic_name *parts;
	uint32_t nparts;
	const struct sl_ttopic_name *groups;
	uint32_t ngroups;
};

/* The key of id (1..SL_TXNLOG_ID_MAX bytes; 0: the load mark) into key
 * (SL_TTOPIC_KEY_MAX bytes); returns its length. */
int32_t sl_ttopic_key(const char *id, uint16_t len, uint8_t *key);

/* The bytes the value of s takes (s valid as txnlog.h says of its
 * records). */
size_t sl_ttopic_value_bytes(const struct sl_ttopic_state *s);

/* Encode the value of s into value (sl_ttopic_value_bytes(s) bytes);
 * returns that length. */
size_t sl_ttopic_value(const struct sl_ttopic_state *s, uint8_t *value);

/*
 * Decode one record of the topic (key klen bytes, value vlen bytes or -1
 * for null; untrusted: nothing outside them is read) into the records of
 * the transaction state log, handed to apply(arg, r) in the order a load
 * applies them: a DELETE of the id (the state replaces what was known of
 * it), then for a value its STATE, a PARTITION per partition and a GROUP
 * per group.  The whole record is checked before anything is handed.
 * Returns 0, 1 for the load mark (nothing handed), -ENOTSUP for another
 * kind of record, -EBADMSG for bytes that are not a valid record, or what
 * apply returned (negative: the records after it are not handed).
 */
int sl_ttopic_decode(const uint8_t *key, int32_t klen, const uint8_t *value,
		     int32_t vlen, sl_txnlog_apply_fn apply, void *arg);

#endif
