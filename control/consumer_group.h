/*
 * One group of the consumer group protocol of KIP-848 (a group of type
 * "consumer"), private to control/: groups.c owns the group ids, the
 * committed offsets and the wire, and hands each ConsumerGroupHeartbeat
 * and ConsumerGroupDescribe here once it has found (or made) the group.
 *
 * The coordinator, not a member, computes the assignment.  Three epochs
 * order everything:
 *   group epoch       bumped when a member joins, leaves or is fenced, a
 *                     member's subscribed topic names change, or a
 *                     subscribed topic is created, deleted or gains
 *                     partitions (its id or partition count change);
 *   assignment epoch  the group epoch of the target assignment: when the
 *                     group epoch is ahead, the next heartbeat recomputes
 *                     the target with the group's server assignor;
 *   member epoch      where a member is: it reaches the assignment epoch
 *                     once it holds no partition the target takes away.
 * A member moves to its target incrementally (Kafka's
 * CurrentAssignmentBuilder): partitions the target takes away are revoked
 * first (the member stays at its epoch, state "unrevoked", until a
 * heartbeat's owned partitions no longer list them); a partition it gains
 * is given only once no other member holds it (assigned or pending
 * revocation; until then "unreleased"), so no partition is ever held by
 * two members.  A member that does not finish revoking within its
 * rebalance timeout, or sends no heartbeat within the session timeout, is
 * fenced: removed, its partitions free, the group epoch bumped.
 *
 * Member epochs in a heartbeat: 0 joins (or rejoins: KIP-848's rule that a
 * fenced member comes back with epoch 0 and its member id; its partitions
 * are dropped and it is reconciled again); > 0 must be the member's epoch,
 * or its previous one with owned partitions it still holds (a lost
 * response), else FENCED_MEMBER_EPOCH (110); -1 leaves; -2 a static member
 * leaves for a while (it keeps its partitions until its session expires or
 * a member with the same instance id joins and takes its place).
 *
 * States (ListGroups, ConsumerGroupDescribe): Empty (no members),
 * Assigning (group epoch ahead of the assignment epoch), Reconciling (a
 * member is not at the assignment epoch), Stable.
 *
 * Not done: regular-expression subscriptions (INVALID_REQUEST, as Kafka
 * before 4.0), client-side assignors (the request has no field for them
 * before v1 of KIP-848's later revisions), rack-aware assignment (rack ids
 * are kept and reported only).  Membership is in memory: after a restart
 * every member gets UNKNOWN_MEMBER_ID and joins again.
 *
 * Single-threaded, like groups.c; a pure core (time is now_ms).
 */
#ifndef SLUICE_CONTROL_CONSUMER_GROUP_H
#define SLUICE_CONTROL_CONSUMER_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/kafka/kcodec.h"

/* Kafka's group.consumer.heartbeat.interval.ms and
 * group.consumer.session.timeout.ms. */
#define SL_CG_HEARTBEAT_INTERVAL_MS_DEFAULT 5000
#define SL_CG_SESSION_TIMEOUT_MS_DEFAULT 45000

/* Bounds: a member id longer than SL_CG_MEMBER_ID_MAX, an instance or rack
 * id longer than SL_CG_NAME_MAX, more than SL_CG_SUBSCRIBED_MAX topic
 * names: INVALID_REQUEST.  Partitions beyond the first
 * SL_CG_PARTITIONS_MAX of a group's subscribed topics (in topic id order)
 * are not assigned (an assignment then always fits one response). */
#define SL_CG_MEMBER_ID_MAX 128
#define SL_CG_NAME_MAX 255
#define SL_CG_SUBSCRIBED_MAX 1024
#define SL_CG_PARTITIONS_MAX 2048

/* Kafka error codes of this protocol. */
#define SL_CG_ERR_UNSUPPORTED_VERSION 35
#define SL_CG_ERR_FENCED_INSTANCE_ID 82
#define SL_CG_ERR_FENCED_MEMBER_EPOCH 110
#define SL_CG_ERR_UNRELEASED_INSTANCE_ID 111
#define SL_CG_ERR_UNSUPPORTED_ASSIGNOR 112
#define SL_CG_ERR_STALE_MEMBER_EPOCH 113

/* The topic called name (len bytes): true with its id (>= 1) and
 * partition count, false when there is none. */
typedef bool (*sl_cg_topic_fn)(void *ctx, const char *name, size_t len,
			       uint32_t *id, int32_t *partitions);

/* What every group shares (the coordinator's). */
struct sl_cg_env {
	int32_t heartbeat_interval_ms; /* > 0 */
	int32_t session_timeout_ms;    /* > 0 */
	sl_cg_topic_fn topic;          /* NULL: no topic exists */
	void *topic_ctx;
	int64_t open_ms;               /* in member ids the coordinator makes */
	uint64_t seq;                  /* member ids made so far */
};

struct sl_cgroup;

/* An empty group (group epoch 0), or NULL without memory. */
struct sl_cgroup *sl_cg_create(void);
/* NULL is allowed. */
void sl_cg_destroy(struct sl_cgroup *cg);

uint32_t sl_cg_members(const struct sl_cgroup *cg);
/* "Empty", "Assigning", "Reconciling" or "Stable" (static storage). */
const char *sl_cg_state(const struct sl_cgroup *cg);

/*
 * The checks of a heartbeat that come before its group is looked at
 * (Kafka's order): INVALID_REQUEST (42) for an empty group id, an empty
 * instance or rack id, a regular expression, a member epoch other than
 * -2..0 or > 0, a leave (-1, -2) without member id, -2 without instance
 * id, a join (0) without rebalance timeout, without topic names or with
 * owned partitions, or the bounds above; UNSUPPORTED_ASSIGNOR (112) for
 * a server assignor other than "uniform" or "range".  Returns 0 or the
 * code, *msg a line for error_message.
 */
int16_t sl_cg_validate(const struct kc_consumer_group_heartbeat_req *q,
		       const char **msg);

/*
 * A validated heartbeat (or leave) of group cg at now_ms, answered in r
 * (initialised with the response's defaults by the caller; its strings and
 * arrays point into cg or build and are valid until the next call).
 * Errors go in r->error_code and r->error_message: UNKNOWN_MEMBER_ID (25),
 * FENCED_MEMBER_EPOCH, FENCED_INSTANCE_ID, UNRELEASED_INSTANCE_ID,
 * GROUP_MAX_SIZE_REACHED (81) beyond max_members, UNKNOWN_SERVER_ERROR
 * (-1) without memory (nothing changed).
 */
void sl_cg_heartbeat(struct sl_cgroup *cg, struct sl_cg_env *env,
		     const struct kc_consumer_group_heartbeat_req *q,
		     struct kc_str client_id, uint32_t max_members,
		     int64_t now_ms, struct kc_arena *build,
		     struct kc_consumer_group_heartbeat_resp *r);

/* The group in d (state, epochs, assignor name, members with their
 * assignments and targets, topic names from the topics the group last
 * saw); d's group id, error code and operations are the caller's.
 * Returns 0, or -EMSGSIZE when build is full. */
int sl_cg_describe(const struct sl_cgroup *cg, struct kc_arena *build,
		   struct kc_consumer_group_describe_resp_described_group *d);

/* OffsetCommit (version) by member_id at member epoch (Kafka's
 * ConsumerGroup.validateOffsetCommit): 0 when a negative epoch commits to
 * a group without members, else UNKNOWN_MEMBER_ID,
 * UNSUPPORTED_VERSION below v9, STALE_MEMBER_EPOCH (113) when it is not
 * the member's epoch, 0. */
int16_t sl_cg_check_commit(const struct sl_cgroup *cg, struct kc_str member_id,
			   int32_t epoch, int16_t version);
/* OffsetFetch v9 (validateOffsetFetch): 0 without member id and with a
 * negative epoch, else UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH, 0. */
int16_t sl_cg_check_fetch(const struct sl_cgroup *cg, struct kc_str member_id,
			  int32_t epoch);

/* Whether a member subscribes to topic (OffsetDelete, KIP-496). */
bool sl_cg_subscribed(const struct sl_cgroup *cg, struct kc_str topic);

/* Fence the members whose session or revocation timed out by now_ms;
 * returns how many. */
uint32_t sl_cg_tick(struct sl_cgroup *cg, const struct sl_cg_env *env,
		    int64_t now_ms);
/* The next such deadline, or INT64_MAX. */
int64_t sl_cg_next_deadline(const struct sl_cgroup *cg);

#endif
