/*
 * The cluster image: the state machine of the metadata log (docs/cluster.md,
 * "The metadata log").  Brokers with their endpoints and fencing, topics
 * with their configs (kept in a struct sl_meta, so the rest of
 * sluice-control finds them with sl_meta_find as before), and each
 * partition's replicas, leader, epochs and in-sync set.
 *
 * Three kinds of functions, all pure (no I/O, no clock, no randomness, no
 * allocation), so the image is the same on every node for the same applied
 * index:
 *
 *   - apply: one committed Raft entry (a batch of records, format at the
 *     top of cluster_image.c) changes the image, all of it or none of it;
 *   - decisions: the active controller turns a request into records
 *     appended to a batch (struct sl_ci_batch), or refuses it with a Kafka
 *     error code; a decision reads the image and never changes it;
 *   - snapshot: the whole image as bytes and back.
 *
 * The image is large (a few MiB at the bounds below) and caller-allocated;
 * it holds its own rollback space, so apply allocates nothing.  Not
 * thread-safe: the control thread owns it.  Fields are public for reading;
 * only the functions here change them.
 */
#ifndef SLUICE_CONTROL_CLUSTER_IMAGE_H
#define SLUICE_CONTROL_CLUSTER_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "control/metadata.h"
#include "proto/native.h"

#define SL_CI_BROKERS_MAX 256
#define SL_CI_RF_MAX 8             /* replicas of a partition */
#define SL_CI_PARTITIONS_MAX 32768 /* partitions of all topics together */
#define SL_CI_HOST_MAX 255         /* bytes of a broker's Kafka host */
#define SL_CI_NODE_ID_MAX 65535    /* node ids are 1..65535 */
#define SL_CI_RECORDS_MAX 65535    /* records of one entry */
/* Bytes of one entry at most: fencing a broker that is in every
 * partition's in-sync set fits (about 58 bytes a partition). */
#define SL_CI_ENTRY_MAX (4u << 20)
/* Partition changes an entry may make before apply saves the whole
 * topic table for its rollback instead of each partition. */
#define SL_CI_JOURNAL_MAX 4096

/* Kafka error codes the decisions answer that proto/native.h has no name
 * for (the others are SN_ERR_*: TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS,
 * INVALID_REQUEST, INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION). */
#define SL_CI_ERR_NOT_LEADER_OR_FOLLOWER 6
#define SL_CI_ERR_INVALID_REPLICATION_FACTOR 38
#define SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT 39
#define SL_CI_ERR_INVALID_CONFIG 40
#define SL_CI_ERR_FENCED_LEADER_EPOCH 74
#define SL_CI_ERR_PREFERRED_LEADER_NOT_AVAILABLE 80
#define SL_CI_ERR_ELECTION_NOT_NEEDED 84
#define SL_CI_ERR_INVALID_UPDATE_VERSION 95
#define SL_CI_ERR_UNKNOWN_TOPIC_ID 100
#define SL_CI_ERR_BROKER_ID_NOT_REGISTERED 102
#define SL_CI_ERR_INELIGIBLE_REPLICA 107
#define SL_CI_ERR_NO_REASSIGNMENT_IN_PROGRESS 85

/* Record types (one byte in the entry). */
enum sl_ci_record_type {
	SL_CI_REGISTER_BROKER = 1,
	SL_CI_FENCE_BROKER = 2,
	SL_CI_UNFENCE_BROKER = 3,
	SL_CI_CREATE_TOPIC = 4,
	SL_CI_DELETE_TOPIC = 5,
	SL_CI_PARTITION_CHANGE = 6,
	SL_CI_CREATE_PARTITIONS = 7,
	SL_CI_ALTER_TOPIC_CONFIG = 8,
	SL_CI_PARTITION_REASSIGN = 9,
	SL_CI_UNREGISTER_BROKER = 10,
};

struct sl_ci_broker {
	int32_t id;            /* 1..SL_CI_NODE_ID_MAX, unique */
	uint16_t kafka_port;   /* 1..65535 */
	uint16_t native_port;  /* 1..65535 */
	uint64_t incarnation;  /* the registering process's; a new one fences */
	uint8_t fenced;        /* 1: not live (new, or its session lapsed) */
	uint8_t registered;    /* 1: REGISTER_BROKER applied (always, in
				  format 1; 0 only from a snapshot) */
	uint8_t host_len;      /* 1..SL_CI_HOST_MAX */
	char host[SL_CI_HOST_MAX + 1]; /* Kafka host, NUL-terminated */
	uint16_t udp_port;     /* native UDP port, 0: none (records without
				  one: native_port) */
	uint32_t udp_addr;     /* IPv4 of the native UDP port, network order,
				  when not at host (a DPDK broker's
				  dpdk_ip); 0: at host */
};

/*
 * A partition's state.  While a reassignment runs (Kafka's
 * AlterPartitionReassignments, KIP-455) replicas holds the target
 * replicas first, then the original ones that are not in the target;
 * adding marks the target replicas that were not original, removing the
 * original ones that are not in the target (bit i: replicas[i]).  The
 * target is the replicas not removing, the original the replicas not
 * adding; both are never empty, and adding and removing never share a
 * bit.  No reassignment: both 0.
 */
struct sl_ci_partition {
	int32_t leader;          /* node id, -1 none */
	int32_t leader_epoch;    /* >= 0, +1 at every leader change */
	int32_t partition_epoch; /* >= 0, +1 at every change */
	uint8_t replica_count;   /* 1..SL_CI_RF_MAX */
	uint8_t isr_count;       /* 1..replica_count */
	uint8_t adding;          /* bit mask over replicas[] */
	uint8_t removing;        /* bit mask over replicas[] */
	int32_t replicas[SL_CI_RF_MAX]; /* distinct brokers; unused slots 0 */
	int32_t isr[SL_CI_RF_MAX];      /* in replica order; unused slots 0 */
};

/* A topic's cluster state.  img->topics[i] belongs to img->meta.topics[i]
 * (same index, same id), its partitions are img->parts[part_first ..
 * part_first + partitions). */
struct sl_ci_topic {
	uint32_t id;
	int32_t partitions;          /* = meta.topics[i].partitions */
	uint32_t part_first;         /* index of partition 0 in parts[] */
	int32_t min_insync_replicas; /* >= 1 (topic config) */
	/* 1..SL_CI_RF_MAX: what new partitions get; set at creation and by
	 * a reassignment of partition 0 when it ends, as Kafka takes a
	 * topic's factor from its first partition */
	uint8_t replication_factor;
	uint8_t unclean_leader_election; /* 0 or 1 */
};

/* Apply's rollback space (private). */
struct sl_ci_undo {
	int brokers_saved, topics_saved;
	uint32_t broker_count;
	uint32_t next_id, topic_count, tomb_count, part_count;
	uint32_t journal_count;
	struct sl_ci_broker brokers[SL_CI_BROKERS_MAX];
	struct sl_topic meta_topics[SL_META_TOPICS_MAX];
	struct sl_tombstone tombs[SL_META_TOMBSTONES_MAX];
	struct sl_ci_topic topics[SL_META_TOPICS_MAX];
	struct sl_ci_partition parts[SL_CI_PARTITIONS_MAX];
	struct {
		uint32_t index;
		struct sl_ci_partition old;
	} journal[SL_CI_JOURNAL_MAX];
};

struct sl_ci_image {
	uint64_t applied_index;  /* of the last entry applied (0: none) */
	uint32_t broker_count;
	uint32_t part_count;     /* partitions of all topics */
	struct sl_ci_broker brokers[SL_CI_BROKERS_MAX]; /* ids ascending */
	/* topics: meta.topics[0 .. meta.count), ids ascending, with their
	 * configs; meta.next_id and meta's tombstones are part of the image
	 * (meta.generation is not and stays 0) */
	struct sl_meta meta;
	struct sl_ci_topic topics[SL_META_TOPICS_MAX];
	struct sl_ci_partition parts[SL_CI_PARTITIONS_MAX];
	struct sl_ci_undo undo;
};

/* The empty image: no brokers, no topics, applied index 0, next topic id
 * 1.  img is caller-allocated (sizeof is several MiB). */
void sl_ci_init(struct sl_ci_image *img);

/* dst = src (the parts in use only, so it costs what the image holds).
 * For simulations and tests that keep an image to compare. */
void sl_ci_copy(struct sl_ci_image *dst, const struct sl_ci_image *src);

/*
 * Apply the committed entry at Raft index `index` (bytes buf[0..len)).
 * Returns:
 *   0        applied; applied_index = index;
 *   -EINVAL  malformed, or a record breaks a validity rule against the
 *            image as the records before it in the entry leave it: nothing
 *            of the entry is applied, but applied_index = index all the
 *            same (a committed entry is consumed once on every node, and
 *            every node refuses it alike); err says which record and why;
 *   -ERANGE  index <= applied_index: nothing changes.
 * Raft entries that are not metadata (barriers, configuration changes)
 * never reach apply, so indexes may skip.  A refused entry is what a
 * decision made on an image that changed before its entry committed gets
 * (its epochs or names are stale): the caller answers the request with a
 * retriable error.
 */
int sl_ci_apply(struct sl_ci_image *img, uint64_t index, const uint8_t *buf,
		size_t len, char *err, size_t errlen);

/*
 * The invariants, checked in full: broker ids unique, ascending and in
 * range; topics as metadata.c's rules with ids below next id; each topic's
 * partitions contiguous and counted; replicas distinct and registered;
 * isr a non-empty subset of replicas in replica order; reassignment
 * masks as struct sl_ci_partition says; leader -1 or in isr; epochs >= 0.  Returns 0, or -1 with err saying what is broken.
 */
int sl_ci_check(const struct sl_ci_image *img, char *err, size_t errlen);

/*
 * What may not happen between an image and a later one: applied index,
 * next topic id and epochs going down, partitions of a topic still there
 * disappearing, a topic id changing name, a partition
 * changing (replicas, masks, leader, in-sync set) without a new partition
 * epoch.  Returns 0, or -1 with err saying what.
 */
int sl_ci_check_step(const struct sl_ci_image *before,
		     const struct sl_ci_image *after, char *err,
		     size_t errlen);

/* ---- reading ---- */

/* The broker with this id, or NULL.  All brokers: img->brokers[0 ..
 * img->broker_count), ids ascending. */
const struct sl_ci_broker *sl_ci_broker_find(const struct sl_ci_image *img,
					     int32_t id);
/* 1 when broker id is registered and not fenced. */
int sl_ci_broker_live(const struct sl_ci_image *img, int32_t id);
/* The ids of the live (registered, unfenced) brokers, ascending, into
 * ids[0 .. max); returns how many there are (may exceed max). */
size_t sl_ci_active_brokers(const struct sl_ci_image *img, int32_t *ids,
			    size_t max);

const struct sl_ci_topic *sl_ci_topic_find(const struct sl_ci_image *img,
					   const char *name, size_t name_len);
const struct sl_ci_topic *sl_ci_topic_find_id(const struct sl_ci_image *img,
					      uint32_t id);
/* The configs and name of topic t (in img->meta). */
const struct sl_topic *sl_ci_topic_meta(const struct sl_ci_image *img,
					const struct sl_ci_topic *t);
/* Partition p of the topic with this id, or NULL.  A topic's partitions
 * are img->parts[t->part_first .. t->part_first + t->partitions). */
const struct sl_ci_partition *
sl_ci_partition_find(const struct sl_ci_image *img, uint32_t topic_id,
		     int32_t partition);

/* ---- decisions ---- */

/* A batch being written: one entry for sl_ci_apply.  Decisions append to
 * it; buf[0 .. len) is a valid entry once count >= 1. */
struct sl_ci_batch {
	uint8_t *buf;
	size_t cap;
	size_t len;     /* bytes so far (3: the header) */
	uint32_t count; /* records so far */
};

/* Start an empty batch in buf.  Returns 0, or -ENOBUFS when cap < 3. */
int sl_ci_batch_init(struct sl_ci_batch *b, uint8_t *buf, size_t cap);

/*
 * Every decision reads img as applied and appends its records to out.  It
 * returns 0 (records appended; some decisions may append none, said
 * below), a Kafka error code > 0 (refused: msg gets one line a person can
 * act on, out is unchanged), -ENOBUFS (out has no room for the records,
 * or would pass SL_CI_RECORDS_MAX records: out is unchanged), or
 * -EOVERFLOW (a partition's epoch would pass INT32_MAX; never in
 * practice: out is unchanged).  msg may be NULL.
 *
 * Two decisions in one batch: each saw the image without the other's
 * records, so when they touch the same partition, topic name or broker the
 * second may be stale and apply refuses the whole entry.  Decide, apply,
 * then decide again; or batch only decisions on different objects.
 *
 * Liveness: a broker is live when registered and not fenced.
 */

/* A manual assignment of one partition's replicas (Kafka's
 * CreatableReplicaAssignment). */
struct sl_ci_assignment {
	int32_t partition;        /* create_topic: 0..n-1, each once */
	int32_t count;            /* replicas */
	const int32_t *broker_ids;
};

struct sl_ci_topic_req {
	const char *name;
	size_t name_len;
	int32_t partitions;         /* 1..SN_PARTITIONS_MAX, -1: default;
				       -1 with an assignment */
	int32_t replication_factor; /* 1..SL_CI_RF_MAX, -1: default; -1 with
				       an assignment */
	int32_t default_partitions;
	int32_t default_replication_factor;
	/* durability, retention, segment and compaction fields (name, id
	 * and partitions ignored); cleanup_policy 0 takes the defaults */
	struct sl_topic config;
	int32_t min_insync_replicas;     /* >= 1 */
	uint8_t unclean_leader_election; /* 0 or 1 */
	const struct sl_ci_assignment *assignment; /* NULL: placement */
	int32_t assignment_count;
	/* placement's random choices, made by the caller (Kafka's start
	 * index and replica shift); taken modulo the live brokers */
	uint32_t start;
	uint32_t shift;
};

/*
 * CREATE_TOPIC.  Without an assignment, Kafka's rack-unaware placement
 * over the live brokers sorted by id (n of them): partition p's first
 * replica is broker (start + p) mod n, the others follow at offsets
 * 1 + (shift + j) mod (n - 1), shift growing by one each time p reaches a
 * multiple of n; every replica is in sync, the first leads.  With an
 * assignment the in-sync set is the live replicas and the first of them
 * leads.  Errors: INVALID_TOPIC_EXCEPTION (name), TOPIC_ALREADY_EXISTS,
 * INVALID_PARTITIONS (count, or the cluster's topic or partition bound
 * reached), INVALID_REPLICATION_FACTOR (not 1..SL_CI_RF_MAX, or more than
 * the live brokers), INVALID_REPLICA_ASSIGNMENT (partitions not 0..n-1
 * once each, a list empty, longer than SL_CI_RF_MAX or not as long as the
 * first, a broker twice or not registered, no live broker in a list),
 * INVALID_REQUEST (an assignment with partitions or replication factor
 * not -1), INVALID_CONFIG (min_insync_replicas < 1, a config out of
 * range).
 */
int sl_ci_create_topic(const struct sl_ci_image *img,
		       const struct sl_ci_topic_req *req,
		       struct sl_ci_batch *out, char *msg, size_t msglen);

/* DELETE_TOPIC (by the topic's id).  Errors: UNKNOWN_TOPIC_OR_PARTITION. */
int sl_ci_delete_topic(const struct sl_ci_image *img, const char *name,
		       size_t name_len, struct sl_ci_batch *out, char *msg,
		       size_t msglen);

/*
 * CREATE_PARTITIONS up to `count` partitions in all, placed as
 * create_topic places them (partition numbers continuing), or as
 * `assignment` says (count - current lists, in partition order; their
 * `partition` field is ignored).  Errors: UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_PARTITIONS (count not above the current one, above
 * SN_PARTITIONS_MAX, or the cluster's bound), INVALID_REPLICATION_FACTOR
 * (fewer live brokers than the topic's replication factor),
 * INVALID_REPLICA_ASSIGNMENT (as create_topic, lists as long as the
 * topic's replication factor).
 */
int sl_ci_create_partitions(const struct sl_ci_image *img, const char *name,
			    size_t name_len, int32_t count,
			    const struct sl_ci_assignment *assignment,
			    int32_t assignment_count, uint32_t start,
			    uint32_t shift, struct sl_ci_batch *out,
			    char *msg, size_t msglen);

/*
 * ALTER_TOPIC_CONFIG: the topic's retention, segment, compaction,
 * min_insync_replicas and unclean election become config's and the
 * arguments' (its durability stays: give the topic's own).  Turning
 * unclean election on also elects a leader for each leaderless partition
 * that has a live replica (PARTITION_CHANGE: a live in-sync replica if
 * one is, else the first live replica with an in-sync set of just it).
 * Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG (a config out of
 * range, or a durability other than the topic's).
 */
int sl_ci_alter_topic_config(const struct sl_ci_image *img, const char *name,
			     size_t name_len, const struct sl_topic *config,
			     int32_t min_insync_replicas,
			     uint8_t unclean_leader_election,
			     struct sl_ci_batch *out, char *msg,
			     size_t msglen);

/*
 * REGISTER_BROKER.  The contract: a broker registers at start with a new
 * incarnation (random, or its start time) and is fenced until the caller,
 * after the broker's first heartbeat, decides sl_ci_unfence_broker.  A
 * known id with the same incarnation is the same process retrying: its
 * endpoints are updated and its fencing stays.  A known id with another
 * incarnation is a restarted process: it is fenced, and what it led or was
 * in sync for changes as sl_ci_fence_broker says (PARTITION_CHANGEs after
 * the REGISTER_BROKER).  Whether the old incarnation's session is still
 * alive (Kafka's DUPLICATE_BROKER_REGISTRATION) is the caller's to check.
 * Errors: INVALID_REQUEST (id not 1..SL_CI_NODE_ID_MAX, host empty, longer
 * than SL_CI_HOST_MAX or not printable ASCII, a port 0, SL_CI_BROKERS_MAX
 * brokers registered already).
 */
int sl_ci_register_broker(const struct sl_ci_image *img, int32_t id,
			  uint64_t incarnation, const char *host,
			  size_t host_len, uint16_t kafka_port,
			  uint16_t native_port, struct sl_ci_batch *out,
			  char *msg, size_t msglen);
/* The same with the native UDP endpoint (sl_ci_register_broker: the
 * native port, at host; udp_port 0: the broker takes no UDP). */
int sl_ci_register_broker_udp(const struct sl_ci_image *img, int32_t id,
			      uint64_t incarnation, const char *host,
			      size_t host_len, uint16_t kafka_port,
			      uint16_t native_port, uint16_t udp_port,
			      uint32_t udp_addr, struct sl_ci_batch *out,
			      char *msg, size_t msglen);

/*
 * FENCE_BROKER, then a PARTITION_CHANGE for each partition the broker
 * leads or is in sync for, in topic id and partition order: it leaves the
 * in-sync set unless it is the last member (which stays); a leader that is
 * still live and in sync stays, else the first replica in replica order
 * that is in the new in-sync set and live leads, else (unclean election
 * allowed) the first live replica leads with an in-sync set of just
 * itself, else none (-1).  leader_epoch + 1 when the leader changes,
 * partition_epoch + 1.  Errors: BROKER_ID_NOT_REGISTERED.
 */
int sl_ci_fence_broker(const struct sl_ci_image *img, int32_t id,
		       struct sl_ci_batch *out, char *msg, size_t msglen);

/*
 * UNFENCE_BROKER, then a PARTITION_CHANGE for each leaderless partition
 * that can now have a leader: the first live in-sync replica in replica
 * order (the broker counted live), or, unclean election allowed and no
 * in-sync replica live, the first live replica (in-sync set just it).
 * leader_epoch + 1, partition_epoch + 1.  Errors:
 * BROKER_ID_NOT_REGISTERED.
 */
int sl_ci_unfence_broker(const struct sl_ci_image *img, int32_t id,
			 struct sl_ci_batch *out, char *msg, size_t msglen);

/*
 * Kafka's AlterPartition from the leader `from`: the in-sync set becomes
 * isr (any order; the record lists it in replica order), partition_epoch
 * + 1, leader and leader epoch unchanged.  Checks in this order:
 * UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION (partition),
 * FENCED_LEADER_EPOCH (leader_epoch is not the partition's),
 * NOT_LEADER_OR_FOLLOWER (from is not its leader), INVALID_UPDATE_VERSION
 * (partition_epoch is not the partition's), INVALID_REQUEST (isr empty,
 * with a broker twice or not a replica, or without the leader),
 * INELIGIBLE_REPLICA (isr adds a broker that is not live).  Appends
 * nothing when isr is the current set (answer with the current state).
 */
int sl_ci_alter_isr(const struct sl_ci_image *img, uint32_t topic_id,
		    int32_t partition, int32_t from, int32_t leader_epoch,
		    int32_t partition_epoch, const int32_t *isr,
		    int32_t isr_count, struct sl_ci_batch *out, char *msg,
		    size_t msglen);

/*
 * Preferred leader election: the first replica leads when it is in sync
 * and live (PARTITION_CHANGE, leader_epoch + 1, partition_epoch + 1).
 * Errors: UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION,
 * ELECTION_NOT_NEEDED (it leads already), PREFERRED_LEADER_NOT_AVAILABLE.
 */
int sl_ci_elect_preferred(const struct sl_ci_image *img, uint32_t topic_id,
			  int32_t partition, struct sl_ci_batch *out,
			  char *msg, size_t msglen);

/*
 * Unclean leader election (ElectLeaders type 1) of a partition without a
 * leader: the first replica in sync and live, else the first live one with
 * an in-sync set of itself (what it lacks of the last leader's log is
 * lost: the operator asked for it), as a PARTITION_CHANGE.  Errors:
 * UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION, ELECTION_NOT_NEEDED (it
 * has a leader), ELIGIBLE_LEADERS_NOT_AVAILABLE (no replica is live).
 */
#define SL_CI_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE 83
int sl_ci_elect_unclean(const struct sl_ci_image *img, uint32_t topic_id,
			int32_t partition, struct sl_ci_batch *out,
			char *msg, size_t msglen);

/*
 * Kafka's AlterPartitionReassignments for one partition: move it to the
 * target replicas (target[0 .. count), in the order given, which is the
 * preferred order), or with target NULL cancel the reassignment that
 * runs.  A PARTITION_REASSIGN record (leader and leader epoch unchanged
 * unless said below, partition epoch + 1):
 *   - replicas become the target followed by the original replicas
 *     (those not adding) that are not in it; adding marks the target
 *     replicas that are not original, removing the original replicas not
 *     in the target; the in-sync set keeps its members that stay.  A
 *     reassignment that runs is so replaced: its adding replicas that
 *     the new target lacks leave at once (KIP-455), and a leader among
 *     them gives way as fencing elects;
 *   - when every target replica is in sync already (a reorder, a smaller
 *     set), it ends at once, as sl_ci_reassign_complete ends it;
 *   - a state that is the partition's already (the same target asked
 *     again, or the replicas as they are): nothing appended (0).
 * Cancel: the replicas become the original ones (the replicas not
 * adding), the in-sync set the original replicas in it, the leader
 * elected as fencing elects when it was an adding replica.
 * allow_rf_change 0 (v1's AllowReplicationFactorChange false) refuses a
 * target whose size is not the original replicas' count.
 * Errors: UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_REPLICA_ASSIGNMENT (an empty list, a broker twice or not
 * registered, more than SL_CI_RF_MAX replicas while it runs, a cancel
 * or a new target that would leave no in-sync replica),
 * INVALID_REPLICATION_FACTOR (allow_rf_change 0 and a new size),
 * NO_REASSIGNMENT_IN_PROGRESS (a cancel with none running).
 */
int sl_ci_reassign(const struct sl_ci_image *img, uint32_t topic_id,
		   int32_t partition, const int32_t *target, int32_t count,
		   int allow_rf_change, struct sl_ci_batch *out, char *msg,
		   size_t msglen);

/*
 * End a partition's reassignment once every target replica is in sync
 * (Kafka's rule): the replicas become the target, the in-sync set the
 * target, the masks 0; a leader that is being removed gives way to the
 * first target replica in sync and live (leader epoch + 1; none: -1).
 * Appends the PARTITION_REASSIGN and returns 0; appends nothing and
 * returns 0 when no reassignment runs or a target replica is not in sync
 * yet.  Errors: UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION.
 */
int sl_ci_reassign_complete(const struct sl_ci_image *img, uint32_t topic_id,
			    int32_t partition, struct sl_ci_batch *out,
			    char *msg, size_t msglen);

/*
 * Kafka's UnregisterBroker: UNREGISTER_BROKER removes a broker that is
 * fenced and a replica of no partition (its partitions moved off it by
 * reassignments) from the image; should it heartbeat again, it registers
 * anew.  Errors: BROKER_ID_NOT_REGISTERED, INVALID_REQUEST (live: stop
 * it first; or still a replica of a partition, named in msg: reassign
 * them first).
 */
int sl_ci_unregister_broker(const struct sl_ci_image *img, int32_t id,
			    struct sl_ci_batch *out, char *msg,
			    size_t msglen);

/* ---- snapshot ---- */

/* Bytes of sl_ci_snapshot_encode's output for img as it is. */
size_t sl_ci_snapshot_bytes(const struct sl_ci_image *img);

/* The whole image (format at the top of cluster_image.c) into buf.
 * Returns its length, or -ENOBUFS when cap is smaller. */
long sl_ci_snapshot_encode(const struct sl_ci_image *img, uint8_t *buf,
			   size_t cap);

/*
 * Replace img with the snapshot in buf[0 .. len).  Everything is checked
 * (length, CRC32C, every field's range, the invariants of sl_ci_check).
 * Returns 0, or -EINVAL with err saying what is wrong and img unchanged.
 */
int sl_ci_snapshot_decode(struct sl_ci_image *img, const uint8_t *buf,
			  size_t len, char *err, size_t errlen);

/* "PARTITION_CHANGE" etc.; "?" for an unknown type. */
const char *sl_ci_record_name(int type);

#endif
