/*
 * This node's part in a cluster (docs/cluster.md): the metadata log's Raft
 * node (control/quorum.h) applying entries to the cluster image
 * (control/cluster_image.h), the controller RPC (control/crpc.h,
 * control/cmsg.h), and, while this node is the active controller (the
 * Raft leader, caught up), the controller's decisions.
 *
 * As a broker it
 *   - heartbeats the active controller every broker_heartbeat_interval_ms
 *     with its endpoints and whether its sluiced is ready;
 *   - forwards topic-changing requests (Kafka CreateTopics, DeleteTopics,
 *     CreatePartitions, AlterConfigs, IncrementalAlterConfigs; native
 *     CREATE_TOPIC / DELETE_TOPIC) from its sluiced's clients to the
 *     active controller, and answers the client once its own image has
 *     applied the change;
 *   - calls hooks.changed after applying entries, so that the link pushes
 *     topics, brokers and partition states to sluiced.
 * As the active controller it
 *   - registers a broker at its first heartbeat (or a new incarnation),
 *     unfences it when it reports ready, and fences a broker whose
 *     heartbeats stop for broker_session_timeout_ms (its partitions get
 *     new leaders from their in-sync replicas) or that shuts down;
 *   - runs each topic request against a copy of the image's topics with
 *     the single-broker rules (control/kadmin.h, control/admin.h), turns
 *     the differences into records (placing replicas over the unfenced
 *     brokers), proposes them as one entry and answers once it is
 *     committed.  Topic requests are handled one at a time, in arrival
 *     order (at most SL_CLUSTER_QUEUE wait).
 *
 * Single-threaded: the control plane's event loop owns it.
 */
#ifndef SLUICE_CONTROL_CLUSTER_H
#define SLUICE_CONTROL_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/metadata.h"
#include "proto/config.h"

#define SL_CLUSTER_QUEUE 64 /* topic requests waiting for the controller */

struct sl_cluster;
struct sl_ci_image;

struct sl_cluster_hooks {
	void *ctx;
	/* entries were applied: push what changed to sluiced */
	void (*changed)(void *ctx);
	/* the answer to a topic request taken by sl_cluster_kafka (native
	 * 0) or sl_cluster_admin (native 1); len 0: close the client */
	void (*reply)(void *ctx, uint64_t token, int native,
		      const uint8_t *resp, size_t len);
	/* the answer to sl_cluster_alter_isr: a Kafka error or 0 */
	void (*alter_isr_reply)(void *ctx, uint64_t token, int16_t error);
	/* whether this broker must stop acting as a leader changed: the
	 * controller says it is fenced, or no heartbeat of it has been
	 * answered for a session timeout (it may have been fenced without
	 * hearing of it); sluiced then answers as no partition's leader
	 * until it hears otherwise, ahead of its image catching up */
	void (*self_fenced)(void *ctx, int fenced);
};

/*
 * Open the Raft node (<control_dir>/raft) and the RPC.  c must outlive
 * the cluster.  Returns 0, or -errno with err saying what.
 */
int sl_cluster_create(const struct sl_config *c,
		      const struct sl_cluster_hooks *hooks,
		      struct sl_cluster **out, char *err, size_t errlen);
void sl_cluster_destroy(struct sl_cluster *cl);

/* The cluster's topics as this node has applied them (changes only
 * through the metadata log: never begin/commit on it). */
struct sl_meta *sl_cluster_meta(struct sl_cluster *cl);
const struct sl_ci_image *sl_cluster_image(const struct sl_cluster *cl);

/* The descriptors to poll for POLLIN (2), and the poll timeout. */
void sl_cluster_fds(const struct sl_cluster *cl, int fds[2]);
int sl_cluster_timeout_ms(struct sl_cluster *cl, int64_t now_ms);
/* One duty cycle.  Returns the work done, or -EIO when the Raft node
 * stopped (the daemon exits: a restart recovers from its log). */
int sl_cluster_do_work(struct sl_cluster *cl, int64_t now_ms);

/* Whether this broker's sluiced is connected and has every topic. */
void sl_cluster_set_ready(struct sl_cluster *cl, bool ready);

/* True for the Kafka APIs that change topics (forwarded). */
bool sl_cluster_takes_kafka(int16_t api_key);
/* A client's topic request through the local sluiced; answered through
 * hooks.reply with the token. */
void sl_cluster_kafka(struct sl_cluster *cl, uint64_t token,
		      const uint8_t *req, size_t len, int64_t now_ms);
void sl_cluster_admin(struct sl_cluster *cl, uint64_t token,
		      const uint8_t *req, size_t len, int64_t now_ms);

/* A partition leader's request (from the local sluiced) for a new in-sync
 * set, decided by the active controller (Kafka's AlterPartition rules,
 * sl_ci_alter_isr); answered through hooks.alter_isr_reply. */
void sl_cluster_alter_isr(struct sl_cluster *cl, uint64_t token,
			  uint32_t topic_id, int32_t partition,
			  int32_t leader_epoch, int32_t partition_epoch,
			  const int32_t *isr, unsigned n, int64_t now_ms);

/*
 * Controlled shutdown: from now on heartbeats (every 100 ms) say the broker
 * is shutting down, so the controller fences it and its partitions get
 * other leaders before it goes.  sl_cluster_shut_down answers 1 once the
 * controller has it fenced (the daemon may exit), else 0.
 */
void sl_cluster_shutdown(struct sl_cluster *cl);
int sl_cluster_shut_down(const struct sl_cluster *cl);

/* The active controller's id as this node knows it, -1 when unknown. */
int32_t sl_cluster_controller(struct sl_cluster *cl);

#endif
