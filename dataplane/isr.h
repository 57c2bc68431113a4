/*
 * A partition's replicas as its leader sees them (Kafka's Partition and
 * its followers' replica state): who replicates it, who is in sync, how
 * far each follower has fetched, and from that the high watermark and
 * the changes to the in-sync set to ask the controller for.
 *
 *   - a follower's fetch offset is what it holds durably (it fetches from
 *     its log end after fdatasyncing what it appended), so the high
 *     watermark is the smallest of the in-sync followers' fetch offsets
 *     and the leader's own durable end;
 *   - a follower is caught up when it fetches at or past the leader's log
 *     end, or at or past the log end the leader had at its previous fetch
 *     (then it was caught up at that fetch's time), as Kafka reckons it;
 *   - an in-sync follower not caught up for lag_ns leaves the set; a
 *     replica outside it whose fetch offset reaches the high watermark and
 *     the start of the leader's epoch joins it (isr_shrink, isr_expand:
 *     the leader asks control, and keeps its set until the new state);
 *   - a new leader epoch (or this node just becoming leader) forgets every
 *     follower's progress: until a follower fetches in this epoch its
 *     offset is unknown and the high watermark waits for it; in-sync
 *     followers count as caught up at that moment.
 *
 * Pure: no I/O; time is handed in.  Single thread (the storage core).
 */
#ifndef SLUICE_DATAPLANE_ISR_H
#define SLUICE_DATAPLANE_ISR_H

#include <stdbool.h>
#include <stdint.h>

#define ISR_REPLICAS_MAX 16 /* replicas of one partition */

struct isr_replica {
	int32_t node;
	int64_t fetch_offset;       /* -1: not fetched in this epoch */
	uint64_t last_caught_up_ns; /* 0: never */
	uint64_t last_fetch_ns;
	int64_t last_fetch_leo;     /* the leader's log end at that fetch,
				       -1: none */
};

struct isr_set {
	int32_t self;               /* this broker's node id */
	int32_t leader;             /* -1: none */
	int32_t leader_epoch, partition_epoch;
	uint8_t nreplicas, nisr;
	uint8_t min_isr;            /* min.insync.replicas */
	struct isr_replica r[ISR_REPLICAS_MAX]; /* control's order */
	int32_t isr[ISR_REPLICAS_MAX];
	int64_t epoch_start;        /* the leader's log end when its epoch
				       began here (a joiner must reach it) */
};

/* The state of a partition that never got one: this broker alone leads
 * it at epoch 0 (one node). */
void isr_init_single(struct isr_set *s, int32_t self);

/*
 * Take control's state (replicas[0..nr), isr[0..ni)).  Refused with
 * -EINVAL (s unchanged): more than ISR_REPLICAS_MAX replicas, a node twice,
 * an in-sync node that is not a replica, a leader that is not a replica.
 * Progress is kept for replicas that stay, unless the leader epoch moved
 * or self just became the leader (then forgotten, as above); log_end is
 * the local log's end, the new epoch's start when self leads it.
 * Returns 1 when self leads in a new leader epoch, 0 otherwise.
 */
int isr_apply(struct isr_set *s, int32_t leader, int32_t leader_epoch,
	      int32_t partition_epoch, const int32_t *replicas, uint8_t nr,
	      const int32_t *isr, uint8_t ni, uint8_t min_isr,
	      int64_t log_end, uint64_t now_ns);

bool isr_is_replica(const struct isr_set *s, int32_t node);
bool isr_in_sync(const struct isr_set *s, int32_t node);

/* The high watermark the in-sync set allows: the smallest of own_end
 * (self's durable end) and every other in-sync member's fetch offset;
 * -1 while one of them has not fetched in this epoch. */
int64_t isr_high_watermark(const struct isr_set *s, int64_t own_end);

/* Follower node fetched at fetch_offset while the leader's log ended at
 * leader_end.  -ENOENT when node is not a replica (or is self). */
int isr_on_fetch(struct isr_set *s, int32_t node, int64_t fetch_offset,
		 int64_t leader_end, uint64_t now_ns);

/* The in-sync set without the followers not caught up for lag_ns, into
 * out (ISR_REPLICAS_MAX); returns how many left it (0: no change). */
int isr_shrink(const struct isr_set *s, uint64_t now_ns, uint64_t lag_ns,
	       int32_t *out, uint8_t *nout);

/* The in-sync set with node added when node may join it (a replica
 * outside it whose fetch offset reached hw and the epoch's start), into
 * out; returns 1 then, else 0. */
int isr_expand(const struct isr_set *s, int32_t node, int64_t hw,
	       int32_t *out, uint8_t *nout);

#endif
