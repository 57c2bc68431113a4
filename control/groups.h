/*
 * The consumer group coordinator of sluice-control: Kafka's classic group
 * protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and committed
 * offsets (OffsetCommit, OffsetFetch), plus DescribeGroups, ListGroups,
 * DeleteGroups and OffsetDelete, at every version Kafka 3.9 or 4.3 defines
 * (docs/kafka.md says what each version changes; OffsetCommit and
 * OffsetFetch v10 name topics by id, config.topic_name; DescribeGroups v6
 * answers an unknown or consumer group GROUP_ID_NOT_FOUND).
 * sluiced forwards each such request's bytes unchanged and sends back the
 * response bytes it is given; this module is the whole of the logic.
 *
 * A pure core: no sockets and no clock of its own.  Timers (sessions,
 * rebalances) run on the now_ms the caller passes (any monotonic
 * millisecond clock, the same one throughout); commit times and offset
 * expiry use the wall clock of the struct sl_clock in the configuration,
 * because they are written to disk and must mean the same after a restart.
 * The only I/O is the offsets file in the directory given to
 * sl_groups_open(), through the committed-offsets table (control/commits.h)
 * and its offsets store (control/offsets.h; format and recovery rules at
 * the top of offsets.c) on the disk of the configuration.
 *
 * Membership lives in memory only: after a restart every member gets
 * UNKNOWN_MEMBER_ID and joins again, as after a coordinator move in Kafka.
 * Committed offsets are durable: an OffsetCommit is answered only after
 * its records are fdatasync'ed.
 *
 * Group states, as Kafka names them: Empty (no members; may hold offsets),
 * PreparingRebalance (waiting for members to (re)join), CompletingRebalance
 * (joined; waiting for the leader's assignments), Stable.  Dead is what
 * DescribeGroups answers for a group that does not exist.  A group with no
 * members, no pending join and no offsets is forgotten.
 *
 * Group types: a group id is "classic" (the protocol above) or "consumer"
 * (KIP-848's ConsumerGroupHeartbeat, control/consumer_group.h), never
 * both; the committed offsets are the same table for both.  A group
 * without members takes the type of whichever protocol comes: a
 * ConsumerGroupHeartbeat joining a classic group with members gets
 * GROUP_ID_NOT_FOUND (69), any other one for a group that is not a
 * consumer group too; a JoinGroup for a consumer group with members gets
 * INCONSISTENT_GROUP_PROTOCOL (23), a SyncGroup, Heartbeat or LeaveGroup
 * UNKNOWN_MEMBER_ID (no classic member is in it).  DescribeGroups answers
 * Dead for a consumer group (as Kafka 3.9 up to v5),
 * ConsumerGroupDescribe GROUP_ID_NOT_FOUND for a classic or unknown one;
 * ListGroups lists both types with their own state names.  OffsetCommit
 * to a consumer group is checked against the member epoch
 * (STALE_MEMBER_EPOCH, 113; a member below v9: UNSUPPORTED_VERSION, 35),
 * OffsetFetch v9 likewise when it names a member; an OffsetCommit v9 with
 * a member for a group that does not exist gets GROUP_ID_NOT_FOUND (older
 * versions ILLEGAL_GENERATION).  The type is not in the offsets file: after
 * a restart a group holding only offsets is of no type until a member
 * comes.
 *
 * Offset expiry (Kafka's offsets.retention.minutes, KIP-211): the offsets
 * of a group that has had members (it has a protocol type) all expire
 * together, retention_ms after the group last became Empty, and never while
 * it has members or MEMBER_ID_REQUIRED joins outstanding; the offsets of a
 * group that never had members (a "simple" consumer committing with
 * generation -1) expire one by one, retention_ms after each was last
 * committed.  An expired offset, or a group deleted with DeleteGroups, is
 * removed from the offsets file by a tombstone record (fdatasync'ed before
 * anything is forgotten in memory), so it does not come back after a
 * restart.  When a group became Empty is kept in the file too; a group that
 * had members when the coordinator stopped became Empty at the restart.
 *
 * DeleteGroups, per group id as Kafka answers: NONE (the group and its
 * offsets are gone); INVALID_GROUP_ID (24) for an empty id;
 * GROUP_ID_NOT_FOUND (69) for a group that does not exist (or an id longer
 * than SL_GROUPS_NAME_MAX, which cannot); NON_EMPTY_GROUP (68) while it has
 * members (PreparingRebalance, CompletingRebalance, Stable);
 * KAFKA_STORAGE_ERROR (56) when the tombstone could not be made durable
 * (nothing is deleted).  An id given twice is deleted once and answered
 * GROUP_ID_NOT_FOUND the second time.
 *
 * Deviations from Kafka, on purpose: static membership (group_instance_id)
 * is accepted and reported but handled as dynamic membership; ClientHost is
 * empty in DescribeGroups (sluiced does not forward the peer address);
 * the per-request retention of OffsetCommit v2-4 (retention_time_ms) is
 * ignored and the offsets of a Stable group's unsubscribed topics do not
 * expire (KIP-496): retention is the coordinator's alone (OffsetDelete
 * removes them on request); OffsetCommit v0 goes into the same table as
 * the others (Kafka kept v0 commits in ZooKeeper), unchecked against the
 * members as in Kafka; the limits below.
 *
 * Single-threaded: one event loop calls every function.  reply() must not
 * call back into this module.
 */
#ifndef SLUICE_CONTROL_GROUPS_H
#define SLUICE_CONTROL_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/consumer_group.h"
#include "control/offsets.h"

/* A new group waits this long for more members before its first
 * generation (Kafka's group.initial.rebalance.delay.ms), again each time
 * one joins during the wait, up to the rebalance timeout. */
#define SL_GROUPS_INITIAL_DELAY_MS 300

/* Kafka's defaults for group.min/max.session.timeout.ms: a JoinGroup outside
 * them gets INVALID_SESSION_TIMEOUT (26). */
#define SL_GROUPS_SESSION_TIMEOUT_MIN_MS 6000
#define SL_GROUPS_SESSION_TIMEOUT_MAX_MS 1800000

/* Bounds.  Beyond them the request is refused with a Kafka error:
 *   SL_GROUPS_MAX (groups known: with members, a pending join or offsets)
 *     and SL_GROUPS_OFFSETS_MAX (committed partitions, all groups):
 *     POLICY_VIOLATION (44) for the JoinGroup or the partition committed.
 *     Kafka has no such table, so no error means "full"; this one is
 *     chosen because clients give up on it and say so instead of retrying
 *     in silence: librdkafka treats it as permanent and hands the
 *     application a consumer error ("JoinGroup failed: Broker: Policy
 *     violation") or a failed commit, the Java consumer throws it from
 *     poll() or commitSync().  COORDINATOR_LOAD_IN_PROGRESS and
 *     COORDINATOR_NOT_AVAILABLE would be retried without end and nothing
 *     would be seen; GROUP_MAX_SIZE_REACHED is about members of one group
 *     and makes the Java consumer fatal.  A slot comes back when a group
 *     is deleted (DeleteGroups) or its offsets expire;
 *   SL_GROUPS_MEMBERS_MAX (members, counting those told MEMBER_ID_REQUIRED),
 *     or member metadata that would make the leader's JoinGroup response
 *     longer than SL_GROUPS_MAX_RESPONSE: GROUP_MAX_SIZE_REACHED (81);
 *   SL_GROUPS_OFFSET_METADATA_MAX (Kafka's offset.metadata.max.bytes):
 *     OFFSET_METADATA_TOO_LARGE (12) for that partition;
 *   a group id empty or longer than SL_GROUPS_NAME_MAX: INVALID_GROUP_ID
 *     (24) (OffsetFetch and DescribeGroups answer it as an unknown group);
 *   a topic name empty or longer than SL_GROUPS_TOPIC_MAX, a negative
 *     partition: UNKNOWN_TOPIC_OR_PARTITION (3);
 *   a protocol type or name, or a group instance id, longer than
 *     SL_GROUPS_NAME_MAX, more than SL_GROUPS_PROTOCOLS_MAX protocols:
 *     INVALID_REQUEST (42);
 *   a response that would be longer than SL_GROUPS_MAX_RESPONSE: the API's
 *     error response with MESSAGE_TOO_LARGE (10) (ListGroups and OffsetFetch
 *     v2+ at the top, DescribeGroups per group that no longer fits, the
 *     leader's SyncGroup when an assignment is that large). */
#define SL_GROUPS_MAX 1024
#define SL_GROUPS_MEMBERS_MAX 512
#define SL_GROUPS_OFFSETS_MAX 65536
#define SL_GROUPS_PROTOCOLS_MAX 16
#define SL_GROUPS_NAME_MAX 255
#define SL_GROUPS_TOPIC_MAX 249
#define SL_GROUPS_OFFSET_METADATA_MAX 4096
#define SL_GROUPS_MAX_RESPONSE 60000 /* bytes: fits one control message */

/* The offsets file in dir (control/offsets.h), and its rewrite: compacted
 * once it is both SL_GROUPS_COMPACT_RATIO times its live size and
 * SL_GROUPS_COMPACT_MIN_BYTES long. */
#define SL_GROUPS_OFFSETS_FILE SL_OFFSETS_FILE
#define SL_GROUPS_OFFSETS_TMP SL_OFFSETS_TMP
#define SL_GROUPS_COMPACT_RATIO SL_OFFSETS_COMPACT_RATIO
#define SL_GROUPS_COMPACT_MIN_BYTES SL_OFFSETS_COMPACT_MIN_BYTES

struct sl_groups;
struct sl_clock;
struct sl_commits_sink;
struct sdisk;

/* Kafka's default offsets.retention.minutes: 7 days. */
#define SL_GROUPS_RETENTION_MS_DEFAULT (7ll * 24 * 3600 * 1000)

/* The topic with id (>= 1): true and *name (not NUL-terminated, valid
 * until the topics change), *len; false when no topic has that id. */
typedef bool (*sl_groups_topic_name_fn)(void *ctx, uint32_t id,
					const char **name, size_t *len);

struct sl_groups_config {
	int64_t retention_ms;   /* offsets.retention.minutes in ms; > 0 */
	/* wall_ms() stamps commits and decides expiry (mono_ns is unused);
	 * NULL: the system clock */
	const struct sl_clock *clock;
	/* where the offsets file lives (storage/disk.h); NULL: sdisk_posix */
	const struct sdisk *disk;
	/* consumer groups (KIP-848, control/consumer_group.h): Kafka's
	 * group.consumer.heartbeat.interval.ms and .session.timeout.ms
	 * (0: the defaults, 5000 and 45000), and the topics the assignment
	 * is made of (NULL: none exists) */
	int32_t consumer_heartbeat_interval_ms;
	int32_t consumer_session_timeout_ms;
	sl_cg_topic_fn topic;
	void *topic_ctx;
	/* the name of a topic by id (OffsetCommit and OffsetFetch v10 name
	 * topics by id, proto/topic_uuid.h), with topic_ctx; NULL: no topic
	 * has an id (every one is UNKNOWN_TOPIC_ID) */
	sl_groups_topic_name_fn topic_name;
	/* in a cluster, whether this broker coordinates the group id (len
	 * bytes), with coordinates_ctx: 0 when it does, else the error a
	 * request about that group is answered (NOT_COORDINATOR, 16: another
	 * broker's; COORDINATOR_LOAD_IN_PROGRESS, 14: being loaded), per
	 * group where the API has one answer per group; NULL: every group
	 * is this broker's */
	int16_t (*coordinates)(void *coordinates_ctx, const char *group,
			       size_t len);
	void *coordinates_ctx;
	/* in a cluster, the committed offsets' store (control/gstore.h)
	 * instead of the offsets file: nothing is read at the open (the
	 * store loads each partition it leads: sl_groups_load_record) and
	 * each answer that follows a write waits until the store says it is
	 * durable (the store is also the reply function's context); NULL:
	 * the file in dir */
	const struct sl_commits_sink *sink;
};

/* A response for the request given token: the whole Kafka response
 * (response header included, no 4-byte size prefix), at most
 * SL_GROUPS_MAX_RESPONSE bytes.  resp is valid only during the call. */
typedef void (*sl_groups_reply_fn)(void *ctx, uint64_t token,
				   const uint8_t *resp, size_t len);

/*
 * Open (creating dir and its parents if needed, durably) and load the
 * committed offsets from dir/offsets.log (control/offsets.h).  A torn or
 * corrupt tail is cut off (the file is truncated after its last valid
 * record).  A file of version 1 (commit times of a monotonic clock) is read
 * with every commit time set to now and rewritten in the current version.
 * cfg NULL: Kafka's defaults (7 days, the system clock, the kernel's file
 * system).  Returns 0 and *out, or -errno with err (errlen bytes) holding
 * one line a person can act on, naming the file: -ENOMEM, an I/O error,
 * -EBADMSG when the file's header is not an offsets file header (the file
 * is left alone), -EOVERFLOW when the file holds more groups or offsets
 * than the limits above, -EINVAL for a retention that is not > 0.
 */
int sl_groups_open(const char *dir, const struct sl_groups_config *cfg,
		   sl_groups_reply_fn reply, void *ctx, int64_t now_ms,
		   struct sl_groups **out, char *err, size_t errlen);

/* Close the file and free everything; pending requests are dropped without
 * reply.  NULL is allowed. */
void sl_groups_close(struct sl_groups *g);

/*
 * One whole Kafka request (no size prefix) for OffsetCommit, OffsetFetch,
 * JoinGroup, Heartbeat, LeaveGroup, SyncGroup, DescribeGroups, ListGroups,
 * DeleteGroups, OffsetDelete, ConsumerGroupHeartbeat or
 * ConsumerGroupDescribe.  Timers due at now_ms (and offsets expired by the wall
 * clock) run first.  Replies exactly once through
 * reply(), now or later (JoinGroup and SyncGroup wait for the rebalance),
 * unless the requester is dropped first (sl_groups_drop_conn, close).
 * A malformed body is answered with INVALID_REQUEST (42) in the API's error
 * response.  Returns 0, or without any reply:
 *   -EINVAL    shorter than a request header, not one of these APIs, or a
 *              version outside the served windows (proto/kafka/apis.txt):
 *              Kafka closes the connection
 *              there, so should the caller; also a malformed OffsetCommit
 *              or OffsetFetch v1, whose responses answer partition by
 *              partition and have no field for a request that cannot be
 *              read (an empty answer would read as success);
 *   -EMSGSIZE  an OffsetCommit, an OffsetFetch v1 or a DeleteGroups whose
 *              answer would be longer than SL_GROUPS_MAX_RESPONSE, for the
 *              same reason (nothing was committed or deleted);
 *   -ENOMEM.
 */
int sl_groups_request(struct sl_groups *g, uint64_t token, const uint8_t *req,
		      size_t len, int64_t now_ms);

/* Timers (session timeouts, rebalance timeouts, the initial rebalance
 * delay) and offset expiry: run what is due at now_ms (expiry: at the wall
 * clock's now); returns the ms until the next deadline of either, or -1
 * when there is none.  Call it again after each request. */
int sl_groups_tick(struct sl_groups *g, int64_t now_ms);

/* Forget a requester (its connection went away): pending replies for
 * tokens with (token >> 32) == conn are dropped.  A member whose JoinGroup
 * is dropped stays in the rebalance, as in Kafka: it rejoins, or its
 * session expires. */
void sl_groups_drop_conn(struct sl_groups *g, uint32_t conn);

/* ---- for the transaction coordinator (control/txn.h) ---- */

/* One offset of a committed transaction. */
struct sl_groups_txn_offset {
	const char *topic;
	uint16_t topic_len;          /* 1..SL_GROUPS_TOPIC_MAX */
	int32_t partition;           /* >= 0 */
	int64_t offset;
	int32_t leader_epoch;        /* -1: none */
	const char *meta;
	int32_t meta_len;            /* -1 (null)..SL_GROUPS_OFFSET_METADATA_MAX */
};

/*
 * TxnOffsetCommit v3+'s check of the member, as Kafka's group coordinator
 * makes it: anyone (no member id, generation < 0) may commit; a member id
 * the group does not have is UNKNOWN_MEMBER_ID (25), a generation >= 0
 * other than the group's ILLEGAL_GENERATION (22), a group id empty or
 * longer than SL_GROUPS_NAME_MAX INVALID_GROUP_ID (24).  Returns the
 * Kafka error code (0: none).  Changes nothing.
 */
int16_t sl_groups_txn_check(struct sl_groups *g, const char *group,
			    size_t group_len, int32_t generation,
			    const char *member, size_t member_len);

/*
 * The offsets of a committed transaction become group's committed offsets
 * (replacing what was committed before), durably in the offsets file
 * before this returns; the group is created when it does not exist.  The
 * caller checked every field.  Returns 0, or: -EOVERFLOW (the group or
 * offset limits above: it never will), -ENOMEM, or an I/O error (nothing
 * was committed: try again).
 */
int sl_groups_txn_commit(struct sl_groups *g, const char *group,
			 size_t group_len, const struct sl_groups_txn_offset *o,
			 uint32_t n);

/* OffsetFetch with require_stable (v7+): pending(ctx, ...) says whether a
 * transaction holds an offset of group for a partition not yet committed
 * or aborted; such a partition is answered UNSTABLE_OFFSET_COMMIT (88),
 * as Kafka.  NULL (the default): none is ever pending. */
typedef bool (*sl_groups_pending_fn)(void *ctx, const char *group,
				     size_t group_len, const char *topic,
				     size_t topic_len, int32_t partition);
void sl_groups_set_pending(struct sl_groups *g, sl_groups_pending_fn pending,
			   void *ctx);

/*
 * A cluster's store (struct sl_groups_config sink, control/gstore.h): the
 * groups of a partition of __consumer_offsets are loaded when this broker
 * takes its lead and dropped when it loses it.
 *   sl_groups_load_record  one record read back from the log, in order
 *                          (as a record of the offsets file at an open:
 *                          0, -ENOMEM or -EOVERFLOW, the limits);
 *   sl_groups_loaded       the partition's records are all in: the groups
 *                          match says are its become Empty now when they
 *                          had members (as after a restart);
 *   sl_groups_unload       forget the groups match says are the
 *                          partition's, members and offsets; a JoinGroup
 *                          or SyncGroup waiting in one is answered
 *                          NOT_COORDINATOR (the client finds the new one).
 */
typedef bool (*sl_groups_match_fn)(void *ctx, const char *group, size_t len);
int sl_groups_load_record(struct sl_groups *g,
			  const struct sl_offsets_rec *r);
void sl_groups_loaded(struct sl_groups *g, sl_groups_match_fn match,
		      void *ctx);
void sl_groups_unload(struct sl_groups *g, sl_groups_match_fn match,
		      void *ctx);

#endif
