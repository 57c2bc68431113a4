/*
 * The consumer group coordinator of sluice-control: Kafka's classic group
 * protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and committed
 * offsets (OffsetCommit, OffsetFetch), plus DescribeGroups and ListGroups.
 * sluiced forwards each such request's bytes unchanged and sends back the
 * response bytes it is given; this module is the whole of the logic.
 *
 * A pure core: no sockets and no clock of its own.  Time is the now_ms the
 * caller passes (any monotonic millisecond clock, the same one throughout);
 * the only I/O is the offsets file in the directory given to
 * sl_groups_open() (format and recovery rules at the top of groups.c).
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
 * Deviations from Kafka, on purpose: static membership (group_instance_id)
 * is accepted and reported but handled as dynamic membership; ClientHost is
 * empty in DescribeGroups (sluiced does not forward the peer address);
 * offsets never expire; the limits below.
 *
 * Single-threaded: one event loop calls every function.  reply() must not
 * call back into this module.
 */
#ifndef SLUICE_CONTROL_GROUPS_H
#define SLUICE_CONTROL_GROUPS_H

#include <stddef.h>
#include <stdint.h>

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
 *     POLICY_VIOLATION (44) for the JoinGroup or the partition committed;
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

/* The offsets file in dir, and its rewrite: compacted once it is both
 * SL_GROUPS_COMPACT_RATIO times its live size and SL_GROUPS_COMPACT_MIN_BYTES
 * long. */
#define SL_GROUPS_OFFSETS_FILE "offsets.log"
#define SL_GROUPS_OFFSETS_TMP "offsets.log.tmp"
#define SL_GROUPS_COMPACT_RATIO 4
#define SL_GROUPS_COMPACT_MIN_BYTES 16384

struct sl_groups;

/* A response for the request given token: the whole Kafka response
 * (response header included, no 4-byte size prefix), at most
 * SL_GROUPS_MAX_RESPONSE bytes.  resp is valid only during the call. */
typedef void (*sl_groups_reply_fn)(void *ctx, uint64_t token,
				   const uint8_t *resp, size_t len);

/*
 * Open (creating dir and its parents if needed) and load the committed
 * offsets from dir/offsets.log.  A torn or corrupt tail is cut off (the
 * file is truncated after its last valid record).  Returns 0 and *out, or
 * -errno: -ENOMEM, an I/O error, -EBADMSG when the file's header is not an
 * offsets file header (the file is left alone), -EOVERFLOW when the file
 * holds more groups or offsets than the limits above.
 */
int sl_groups_open(const char *dir, sl_groups_reply_fn reply, void *ctx,
		   int64_t now_ms, struct sl_groups **out);

/* Close the file and free everything; pending requests are dropped without
 * reply.  NULL is allowed. */
void sl_groups_close(struct sl_groups *g);

/*
 * One whole Kafka request (no size prefix) for OffsetCommit, OffsetFetch,
 * JoinGroup, Heartbeat, LeaveGroup, SyncGroup, DescribeGroups or
 * ListGroups.  Timers due at now_ms run first.  Replies exactly once through
 * reply(), now or later (JoinGroup and SyncGroup wait for the rebalance),
 * unless the requester is dropped first (sl_groups_drop_conn, close).
 * A malformed body is answered with INVALID_REQUEST (42) in the API's error
 * response.  Returns 0, or without any reply:
 *   -EINVAL    shorter than a request header, not one of these APIs, or a
 *              version outside the supported windows (the API table of
 *              proto/kafka/schemas_group.c): Kafka closes the connection
 *              there, so should the caller; also a malformed OffsetCommit
 *              or OffsetFetch v1, whose responses answer partition by
 *              partition and have no field for a request that cannot be
 *              read (an empty answer would read as success);
 *   -EMSGSIZE  an OffsetCommit, or an OffsetFetch v1, whose answer would be
 *              longer than SL_GROUPS_MAX_RESPONSE, for the same reason
 *              (nothing was committed);
 *   -ENOMEM.
 */
int sl_groups_request(struct sl_groups *g, uint64_t token, const uint8_t *req,
		      size_t len, int64_t now_ms);

/* Timers (session timeouts, rebalance timeouts, the initial rebalance
 * delay): run what is due at now_ms; returns the ms until the next
 * deadline, or -1 when there is none.  Call it again after each request. */
int sl_groups_tick(struct sl_groups *g, int64_t now_ms);

/* Forget a requester (its connection went away): pending replies for
 * tokens with (token >> 32) == conn are dropped.  A member whose JoinGroup
 * is dropped stays in the rebalance, as in Kafka: it rejoins, or its
 * session expires. */
void sl_groups_drop_conn(struct sl_groups *g, uint32_t conn);

#endif
