/*
 * Kafka's AlterPartitionReassignments (v0-1, KIP-455 and KIP-860) and
 * ListPartitionReassignments (v0): the answers made here, the decisions
 * the caller's, one callback per partition (control/cluster.c's active
 * controller turns each into a PARTITION_REASSIGN record,
 * cluster_image.h sl_ci_reassign; a single broker answers from its one
 * node).
 *
 * AlterPartitionReassignments, as Kafka's controller answers it:
 *   - results topic by topic and partition by partition in the order
 *     asked: NONE with a null message, or the callback's error and
 *     message (UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT,
 *     INVALID_REPLICATION_FACTOR, NO_REASSIGNMENT_IN_PROGRESS ...);
 *   - a partition named a second time in one request: INVALID_REQUEST
 *     for that entry, the first one decided (two decisions on one
 *     partition cannot share a metadata entry);
 *   - replicas null cancels; v1's AllowReplicationFactorChange is handed
 *     on (v0: allowed) and echoed in the answer;
 *   - more than 65,536 partitions named: INVALID_REQUEST at the top level,
 *     no results.
 *
 * ListPartitionReassignments: the partitions whose reassignment runs,
 * among those named (topics and partitions that do not exist, or are not
 * being reassigned, are left out) or among all (topics null), each with
 * its replicas and the ones being added and removed; a topic without any
 * is left out.
 *
 * Pure functions: no I/O.
 */
#ifndef SLUICE_CONTROL_KREASSIGN_H
#define SLUICE_CONTROL_KREASSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_KREASSIGN_REPLICAS_MAX 8 /* = SL_CI_RF_MAX */

/* A partition being reassigned, as ListPartitionReassignments shows it. */
struct sl_kreassign_state {
	int32_t replicas[SL_KREASSIGN_REPLICAS_MAX];
	int32_t adding[SL_KREASSIGN_REPLICAS_MAX];
	int32_t removing[SL_KREASSIGN_REPLICAS_MAX];
	uint8_t nreplicas, nadding, nremoving;
};

struct sl_kreassign_ops {
	/* Move partition of topic (len bytes) to replicas[0 .. n), or
	 * cancel its reassignment (replicas NULL, n -1).  The Kafka error
	 * (0: done or under way), with msg (NUL-terminated, msglen bytes)
	 * saying why when it is not 0.  NULL: Alter is not served. */
	int16_t (*reassign)(void *ctx, const char *topic, size_t len,
			    int32_t partition, const int32_t *replicas,
			    int32_t n, bool allow_rf_change, char *msg,
			    size_t msglen);
	/* The i-th topic (0..): its name, length and partition count;
	 * false past the last. */
	bool (*topic)(void *ctx, uint32_t i, const char **name, size_t *len,
		      int32_t *partitions);
	/* 1 and *out filled when partition of topic is being reassigned, 0
	 * when not or when there is no such partition. */
	int (*ongoing)(void *ctx, const char *topic, size_t len,
		       int32_t partition, struct sl_kreassign_state *out);
	void *ctx;
};

/* Whether api_key is AlterPartitionReassignments or
 * ListPartitionReassignments; the first alone. */
bool sl_kreassign_serves(int16_t api_key);
bool sl_kreassign_alters(int16_t api_key);

/* The ops' topic and ongoing over a cluster image (cluster_image.h),
 * for callers whose ctx leads to one. */
struct sl_ci_image;
bool sl_kreassign_image_topic(const struct sl_ci_image *img, uint32_t i,
			      const char **name, size_t *len,
			      int32_t *partitions);
int sl_kreassign_image_ongoing(const struct sl_ci_image *img,
			       const char *topic, size_t len,
			       int32_t partition,
			       struct sl_kreassign_state *out);

/*
 * Answer the whole Kafka request req (len bytes, header included, no size
 * prefix) into resp (cap bytes): the response's length, or -EINVAL (not
 * one of the two requests, or it does not decode), -EMSGSIZE (the answer
 * does not fit cap), -ENOMEM.
 */
long sl_kreassign_handle(const uint8_t *req, size_t len,
			 const struct sl_kreassign_ops *ops, uint8_t *resp,
			 size_t cap);

#endif
