/*
 * The follower fetcher (docs/cluster.md): one thread of sluiced that
 * replicates the partitions this broker follows from their leaders, with
 * Kafka's Fetch (replica_id = this node) and OffsetForLeaderEpoch over a
 * TCP connection to each leader's Kafka listener; what it fetches goes to
 * the partition's storage core as DP_REPLICA_APPEND, truncation as
 * DP_REPLICA_STATE + DP_REPLICA_TRUNCATE (dataplane/request.h).
 */
#ifndef SLUICE_DATAPLANE_FETCHER_H
#define SLUICE_DATAPLANE_FETCHER_H

#include <stdint.h>

struct dp;

struct dp_fetcher_stats {
	uint64_t fetches, fetch_errors, records_bytes, appends, truncations;
	uint64_t connects, connect_failures, malformed_responses;
	uint64_t partitions;    /* followed now */
};

/* Start the fetcher thread (sl-fetch): only in a cluster.  0 or -errno. */
int dp_fetcher_start(struct dp *dp);
/* The views or brokers changed (main): look again.  Any thread. */
void dp_fetcher_kick(struct dp *dp);
/* Stop and join it (before the storage cores stop). */
void dp_fetcher_stop(struct dp *dp);
/* Its counters (any thread; a snapshot). */
void dp_fetcher_stats(struct dp *dp, struct dp_fetcher_stats *out);

#endif
