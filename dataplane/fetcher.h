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
	uint64_t fetches;       /* Fetch answers read */
	uint64_t fetch_errors;  /* partitions answered with an error */
	uint64_t records_bytes; /* appended (durable) */
	uint64_t appends, truncations;
	uint64_t connects, connect_failures, malformed_responses;
	uint64_t partitions;    /* followed now */
	uint64_t malformed_batches; /* fetched batches that failed their
				       check (dropped, with what followed) */
	uint64_t alloc_failures; /* no message memory: retried */
	uint64_t ring_full;     /* a storage core's ring was full: retried */
	uint64_t timeouts;      /* connections closed: no answer in time */
	uint64_t disconnects;   /* connections lost after they were up */
	uint64_t starts_over;   /* partitions that started over at the
				   leader's log start (behind it) */
	uint64_t throttled_bytes; /* fetched for partitions caught up on
				     under follower_replication_throttled_rate */
	uint64_t throttle_waits;  /* passes that held such a partition back */
};

/* Start the fetcher thread (sl-fetch): only in a cluster.  0 or -errno. */
int dp_fetcher_start(struct dp *dp);
/* The views or brokers changed (main): look again (soon: at most every
 * 10 ms).  Cheap: an atomic add and an eventfd write.  Main, which
 * starts and stops the fetcher; any thread while it runs. */
void dp_fetcher_kick(struct dp *dp);
/* Stop and join it (before the storage cores stop). */
void dp_fetcher_stop(struct dp *dp);
/* Its counters since the process started (any thread, also while it
 * stops; each exact, not taken at one instant). */
void dp_fetcher_stats(struct dp *dp, struct dp_fetcher_stats *out);

#endif
