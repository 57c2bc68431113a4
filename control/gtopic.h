/*
 * The records of __consumer_offsets: the group coordinator's records
 * (struct sl_offsets_rec, control/offsets.h) as the keys and values Kafka
 * itself writes to that compacted topic, so that a partition reads the
 * same to sluice and to Kafka's tools.  Its bytes are at the top of
 * gtopic.c.
 *
 * What is written (one version of each: those Kafka writes from 2.3 on):
 *   COMMIT  OffsetCommitKey v1 (group, topic, partition), with an
 *           OffsetCommitValue v3 (offset, leader epoch, metadata, commit
 *           timestamp = time_ms); a null metadata is written as "", as
 *           Kafka stores it;
 *   EXPIRE  the same key, with a null value (a tombstone);
 *   STATE   GroupMetadataKey v2 (group), with a GroupMetadataValue v3 of
 *           an Empty "consumer" group: generation 0, no protocol, no
 *           leader, no members, current_state_timestamp = time_ms;
 *   DELETE  the same key, with a null value;
 *   TXN     a transaction's offset not yet committed or aborted
 *           (control/gtxn.h): sluice's own key of version
 *           SL_GTOPIC_KEY_TXN (producer id, group, topic, partition) with
 *           a value of version 0 (producer epoch, offset, leader epoch,
 *           metadata, commit timestamp).  Kafka writes such an offset as
 *           an OffsetCommit record in a transactional batch; the store
 *           here appends plain batches, so the producer goes in the key.
 *           Kafka's readers skip the key as one of a later version;
 *   TXN_END the same key, with a null value: the offset was committed
 *           (an OffsetCommit record written before it) or dropped.
 * Compaction keeps the last record of each key, which is what the
 * coordinator's replay wants: a commit replaces the earlier one of its
 * partition, a tombstone removes it, a state replaces the earlier state.
 *
 * What is read: every version of those keys (OffsetCommitKey 0-1,
 * GroupMetadataKey 2) and values (OffsetCommitValue 0-4,
 * GroupMetadataValue 0-4, flexible from 4 on), as Kafka wrote them, and
 * the TXN key and its value 0.  Other keys of versions 3 and up (Kafka's
 * newer coordinators' records) and values of versions past 4 (past 0 for
 * TXN) are another kind of record, skipped.
 *
 * Pure functions of their arguments: any thread, no allocation.
 */
#ifndef SLUICE_CONTROL_GTOPIC_H
#define SLUICE_CONTROL_GTOPIC_H

#include <stdint.h>

#include "control/offsets.h"

/* The largest key encoded: a transaction's offset with the longest group
 * id and topic (version, producer id, two strings, partition). */
#define SL_GTOPIC_KEY_MAX \
	(2 + 8 + 2 + SL_OFFSETS_GROUP_MAX + 2 + SL_OFFSETS_TOPIC_MAX + 4)
/* The key version of a transaction's offset (TXN, TXN_END). */
#define SL_GTOPIC_KEY_TXN 0x7f00
/* The largest value encoded: a transaction's offset with the longest
 * metadata (version, producer epoch, offset, leader epoch, metadata,
 * commit timestamp); OffsetCommitValue v3 is that without the epoch. */
#define SL_GTOPIC_VALUE_MAX (2 + 2 + 8 + 4 + 2 + SL_OFFSETS_META_MAX + 8)

/*
 * Encode r (valid as offsets.h says: its group, and topic and partition
 * for COMMIT and EXPIRE, within the bounds) as Kafka's key and value: the
 * key into key (SL_GTOPIC_KEY_MAX bytes), its length into *klen; the value
 * into value (SL_GTOPIC_VALUE_MAX bytes), its length into *vlen, or -1
 * (nothing written) for a tombstone (EXPIRE, DELETE).  Cannot fail: an
 * invalid r is an assertion.
 */
void sl_gtopic_encode(const struct sl_offsets_rec *r, uint8_t *key,
		      int32_t *klen, uint8_t *value, int32_t *vlen);

/*
 * Decode one record of the topic: key (klen bytes) and value (vlen bytes,
 * or -1: a null value).  Untrusted bytes: nothing outside [key, key+klen)
 * and [value, value+vlen) is read, whatever they hold.
 *
 * Returns
 *   0         *out is the record; its group, topic and meta point into key
 *             and value (valid as long as they are).  COMMIT: the value's
 *             fields, leader_epoch -1 for value versions 0-2 (which have
 *             none), time_ms its commit timestamp, meta_len 0..4096 (never
 *             -1: a null metadata string is refused, below).  EXPIRE:
 *             topic and partition.  STATE: time_ms the value's
 *             current_state_timestamp when the group has no members, -1
 *             when it has members or the value is of version 0 or 1
 *             (neither says when the group became Empty).  Fields a type
 *             does not use are 0, NULL or -1 (partition, offset,
 *             leader_epoch, meta_len, time_ms).  TXN: COMMIT's fields
 *             (meta_len -1 for a null metadata), producer_id (>= 0) and
 *             producer_epoch (>= 0); TXN_END: producer_id, topic and
 *             partition;
 *   1         a record of another kind, to be skipped: a key of version 3
 *             or more other than SL_GTOPIC_KEY_TXN, or a value of a later
 *             version (past 4, past 0 for TXN) after a valid key;
 *   -EBADMSG  not a record this topic may hold: a null key, bytes cut
 *             short or left over, a negative version, a length out of
 *             range (a group id of 0 or more than SL_OFFSETS_GROUP_MAX
 *             bytes, a topic of 0 or more than SL_OFFSETS_TOPIC_MAX,
 *             metadata of more than SL_OFFSETS_META_MAX), a null string
 *             where Kafka's schema has none (an OffsetCommitValue's
 *             metadata included), a negative partition or member count, a
 *             current_state_timestamp below -1.
 * On anything but 0, *out is cleared (type 0) and must not be used.
 */
int sl_gtopic_decode(const uint8_t *key, int32_t klen, const uint8_t *value,
		     int32_t vlen, struct sl_offsets_rec *out);

#endif
