/*
 * sluiced's view of the cluster (docs/cluster.md): the brokers and each
 * partition's replicas, leader, leader epoch and in-sync set, as
 * sluice-control pushes them (proto/ipc.h BROKERS, PARTITION_STATE).
 *
 *   - main (control.c, from BROKERS and PARTITION_STATE) writes both
 *     under dp->cluster_lock and hands each
 *     partition's new state to its storage core (DPC_STATE), which keeps
 *     its own copy (dp_partition.isr) and is the one that decides: who
 *     leads, what the high watermark is, who may append;
 *   - Metadata (kafka.c) and the follower fetcher (fetcher.c) read the
 *     view under the lock (rare: never on a produce or fetch's path);
 *   - a storage core that wants another in-sync set queues an ALTER_ISR
 *     (dp_cluster_alter_isr) that main sends to control.
 *
 * One broker (controller_quorum_voters empty): no view is pushed; every
 * partition is led by this node at epoch 0, alone in its in-sync set.
 */
#ifndef SLUICE_DATAPLANE_CLUSTER_H
#define SLUICE_DATAPLANE_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/ipc.h"

struct dp;
struct dp_partition;

#define DP_REPLICAS_MAX 16 /* = ISR_REPLICAS_MAX = SIPC_REPLICAS_MAX */

/* One partition's place in the cluster. */
struct dp_pview {
	int32_t leader;           /* node id, -1: none */
	int32_t leader_epoch;     /* -1: no state pushed yet */
	int32_t partition_epoch;
	uint8_t nreplicas, nisr, min_isr;
	int32_t replicas[DP_REPLICAS_MAX];
	int32_t isr[DP_REPLICAS_MAX];
};

struct dp_broker {
	int32_t node_id;
	uint16_t kafka_port, native_port;
	uint8_t fenced;
	char host[SIPC_HOST_MAX + 1];
	uint16_t udp_port;          /* native UDP, 0: none */
	char udp_host[16];          /* dotted IPv4 when not at host, or "" */
};

/* dp_clustered (dp.h): 1 when this sluiced is a cluster's broker. */

/* The view a partition starts with: in a cluster, no leader until
 * control says (epoch -1); alone, this node at epoch 0. */
void dp_pview_init(const struct dp *dp, struct dp_pview *v);

/* p's view, copied under the lock (any thread). */
void dp_pview_get(struct dp *dp, const struct dp_partition *p,
		  struct dp_pview *out);

/* Broker node's entry (any thread): 0, or -ENOENT. */
int dp_broker_get(struct dp *dp, int32_t node, struct dp_broker *out);

/* The unfenced brokers, up to cap of them, in node id order (any
 * thread).  Returns how many. */
unsigned dp_brokers_live(struct dp *dp, struct dp_broker *out, unsigned cap);
/* Every broker control pushed, fenced ones included, as above. */
unsigned dp_brokers_all(struct dp *dp, struct dp_broker *out, unsigned cap);

/* A storage core asks control for a new in-sync set (copied; main sends
 * it).  0, or -ENOBUFS (dropped: the core asks again later). */
int dp_cluster_alter_isr(struct dp *dp, const struct sipc_alter_isr *a);

/* Main: take the next queued ALTER_ISR into out: 1, or 0 when none. */
int dp_cluster_next_alter(struct dp *dp, struct sipc_alter_isr *out);

/* Set up / free the cluster state of dp (main, at start and end). */
int dp_cluster_init(struct dp *dp);
void dp_cluster_fini(struct dp *dp);

#endif
