/*
 * Kafka admin requests answered by the control plane: CreateTopics (v0-7),
 * DeleteTopics (v0-6), DescribeConfigs (v0-4), CreatePartitions (v0-3),
 * AlterConfigs (v0-2) and IncrementalAlterConfigs (v0-1),
 * decoded and encoded with
 * the Kafka codec (proto/kafka/kcodec.h) and applied with the same rules
 * and transactions as the native CREATE_TOPIC / DELETE_TOPIC requests
 * (control/admin.h), so that a topic created by a Kafka client is exactly
 * like one created by sluice-control.
 *
 * What a Kafka client sees of this single-node broker:
 *   - CreateTopics: num_partitions -1 is the configured default_partitions;
 *     replication factor -1 or 1 (anything larger is
 *     INVALID_REPLICATION_FACTOR: there is one broker); a manual assignment
 *     is accepted only when every partition 0..n-1 is listed once with this
 *     broker (node_id) as its one replica; configs retention.ms,
 *     retention.bytes, segment.bytes, cleanup.policy,
 *     min.cleanable.dirty.ratio, min.compaction.lag.ms,
 *     max.compaction.lag.ms and delete.retention.ms in Kafka's ranges
 *     (anything else is INVALID_CONFIG naming the key); validate_only
 *     checks without creating.  v5+ answers with the topic's partitions,
 *     replication factor and configs, v7 with its topic id
 *     (proto/topic_uuid.h).
 *   - CreatePartitions: a higher count is saved (the caller pushes the
 *     topic to sluiced); the same or a lower count INVALID_PARTITIONS, an
 *     assignment not naming this broker alone INVALID_REPLICA_ASSIGNMENT,
 *     with Kafka's messages.  A name given twice in one request is INVALID_REQUEST.
 *   - DeleteTopics: UNKNOWN_TOPIC_OR_PARTITION for a name that does not
 *     exist; INVALID_REQUEST for a name given twice; v6 names topics by
 *     id too, UNKNOWN_TOPIC_ID (100) for an id no live topic has.
 *   - DescribeConfigs: a topic's retention.ms, retention.bytes,
 *     segment.bytes, cleanup.policy, the compaction settings and read-only compression.type,
 *     message.timestamp.type, min.insync.replicas; this broker's (resource
 *     name "" or its node_id) broker.id, num.partitions,
 *     default.replication.factor, log.dirs, log.retention.ms,
 *     log.retention.bytes, log.segment.bytes; only the keys asked for when
 *     the request lists some; v1+ synonyms when asked (the override,
 *     then the broker config it falls back to).  Other resource types:
 *     INVALID_REQUEST.
 *   - AlterConfigs replaces a topic's whole set of writable configs (the
 *     ones not given back to their defaults); IncrementalAlterConfigs SET,
 *     DELETE, and APPEND/SUBTRACT for cleanup.policy; each resource one
 *     sl_admin_modify transaction (*changed: the caller pushes the topic).
 *     Broker configs are sluice.conf's: setting one is INVALID_REQUEST
 *     ("Cannot update these configs dynamically", as Kafka says of a
 *     static config).
 *
 * Control-plane thread only (it uses m, which is not thread-safe).
 */
#ifndef SLUICE_CONTROL_KADMIN_H
#define SLUICE_CONTROL_KADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/metadata.h"
#include "proto/config.h"

/* True for the APIs sl_kadmin_handle answers. */
bool sl_kadmin_serves(int16_t api_key);

/*
 * Handle one whole Kafka request (without the 4-byte size prefix) whose API
 * is CreateTopics, DeleteTopics or DescribeConfigs, against the control
 * plane's metadata m; write the whole Kafka response (response header
 * included, no size prefix) to resp.
 *
 * Returns the response length (> 0), or:
 *   -ENOBUFS  cap is too small.  For CreateTopics and DeleteTopics this is
 *             decided before anything changes (cap must hold 16 bytes plus,
 *             per topic, its name and 20 bytes; error messages are dropped
 *             rather than overflow), so a caller that retries with a larger
 *             buffer never creates or deletes twice;
 *   -EINVAL   the API is none of the three;
 *   -SN_ERR_INVALID_REQUEST, -SN_ERR_UNSUPPORTED_VERSION  the request
 *             cannot be decoded (the caller closes the client's connection,
 *             as a Kafka broker does);
 *   -ENOMEM   no memory for the decoded request.
 * Every per-topic or per-resource failure is an error code inside a normal
 * response, with an error message a person can act on (v1+ of
 * CreateTopics; DescribeConfigs).
 *
 * *changed is set to 1 when topics were created or deleted (the caller
 * pushes them to sluiced before the response is sent), else 0.  Each
 * creation and deletion is its own metadata transaction, durable before
 * this returns.  resp need not be aligned; req must not overlap it.
 */
long sl_kadmin_handle(struct sl_meta *m, const struct sl_config *c,
		      const uint8_t *req, size_t len, uint8_t *resp,
		      size_t cap, int *changed);

/*
 * sl_kadmin_handle for the active controller of a cluster of `brokers`
 * registered, unfenced brokers (docs/cluster.md), on a copy of the cluster's
 * topics: CreateTopics takes a replication factor of 1 .. brokers (-1: the
 * configured default, sl_config_default_rf) and records it in the created
 * topic's replication_factor; the caller turns the changes into metadata
 * records.  brokers 0 is sl_kadmin_handle.
 */
long sl_kadmin_handle_in(struct sl_meta *m, const struct sl_config *c,
			 int32_t brokers, const uint8_t *req, size_t len,
			 uint8_t *resp, size_t cap, int *changed);

/* A cluster's brokers for a manual replica assignment: state(ctx, id) is
 * 0 for an id not registered, 1 for a fenced broker, 2 for a live one. */
struct sl_kadmin_brokers {
	int32_t live;     /* registered, unfenced */
	int (*state)(void *ctx, int32_t id);
	void *ctx;
};

/*
 * sl_kadmin_handle_in with the brokers' states, so that CreateTopics also
 * takes a manual assignment (Kafka's CreatableReplicaAssignment, with
 * num_partitions and replication_factor -1): partitions 0..n-1 once each,
 * lists of 1..SL_KADMIN_RF_MAX distinct registered brokers, all as long
 * as the first, each with a live one; the created topic's
 * replication_factor is the lists' length, and the caller places the
 * replicas as the request lists them (the first live one leads).  Anything
 * else is INVALID_REPLICA_ASSIGNMENT (39) with a message, or
 * INVALID_REQUEST with partitions or a factor given too.
 */
long sl_kadmin_handle_brokers(struct sl_meta *m, const struct sl_config *c,
			      const struct sl_kadmin_brokers *b,
			      const uint8_t *req, size_t len, uint8_t *resp,
			      size_t cap, int *changed);

#endif
