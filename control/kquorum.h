/*
 * Kafka's DescribeQuorum (v0-2): the metadata log's Raft quorum described
 * as KRaft describes its own, topic __cluster_metadata partition 0.
 *
 * The answer is made from a view (struct sl_kquorum_view) that the caller
 * fills: control/cluster.c from its Raft node (sl_kquorum_from_status,
 * plus the registered brokers that are not voters as observers), a single
 * broker with sl_kquorum_single.  The mapping of Raft onto Kafka's fields:
 *
 *   LeaderId       the Raft leader once caught up (quorum.h "Leadership")
 *   LeaderEpoch    the Raft term
 *   HighWatermark  the commit index (Raft's indexes start at 1, so index
 *                  n committed is n entries, Kafka's exclusive end)
 *   CurrentVoters  the Raft configuration; LogEndOffset the leader's match
 *                  index of each (its own last index), LastFetchTimestamp
 *                  its latest AppendEntries reply (a Raft follower answers
 *                  the leader's pushes where a Kafka follower fetches),
 *                  LastCaughtUpTimestamp when it last held the leader's
 *                  last entry; -1 where unknown, as Kafka
 *   Observers      registered brokers that are not voters (-1 offsets:
 *                  the leader does not follow them)
 *   Nodes (v2)     each voter's Raft endpoint, listener "CONTROLLER", as
 *                  controller_quorum_voters names it (its controller RPC
 *                  is that port + 1)
 *
 * Only the Raft leader knows the voters' progress, which is why brokers
 * forward the request to the active controller (control/cluster.c); a
 * node that cannot reach one answers with its own view and the partition
 * error NOT_LEADER_OR_FOLLOWER, as a KRaft controller that is not the
 * leader does.  A request that does not name exactly __cluster_metadata
 * partition 0 is answered UNKNOWN_TOPIC_OR_PARTITION at the top level,
 * with no topics (Kafka's rule).
 *
 * Pure functions: no I/O; any thread, one view per caller.
 */
#ifndef SLUICE_CONTROL_KQUORUM_H
#define SLUICE_CONTROL_KQUORUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/quorum.h"
#include "proto/config.h" /* SL_VOTERS_MAX */

#define SL_KQUORUM_TOPIC "__cluster_metadata"
#define SL_KQUORUM_LISTENER "CONTROLLER"
#define SL_KQUORUM_OBSERVERS_MAX 256 /* = SL_CI_BROKERS_MAX */
#define SL_KQUORUM_HOST_MAX 64       /* with its NUL, as sl_voter.host */

/* One replica of the quorum (Kafka's ReplicaState). */
struct sl_kquorum_replica {
	int32_t id;
	int64_t log_end_offset;    /* -1: unknown */
	int64_t last_fetch_ms;     /* wall clock, -1: unknown */
	int64_t last_caught_up_ms; /* wall clock, -1: unknown */
};

/* A voter's endpoint (v2 Nodes). */
struct sl_kquorum_node {
	int32_t id;
	char host[SL_KQUORUM_HOST_MAX];
	uint16_t port;
};

struct sl_kquorum_view {
	int16_t error;            /* the partition's: 0 when this node is the
				     leader, else NOT_LEADER_OR_FOLLOWER */
	int32_t leader_id;        /* -1: none known */
	int32_t leader_epoch;
	int64_t high_watermark;
	unsigned n_voters, n_nodes, n_observers;
	struct sl_kquorum_replica voters[SL_VOTERS_MAX];
	struct sl_kquorum_node nodes[SL_VOTERS_MAX];
	struct sl_kquorum_replica observers[SL_KQUORUM_OBSERVERS_MAX];
};

/* True for DescribeQuorum. */
bool sl_kquorum_serves(int16_t api_key);

/* v from a Raft node's status (no observers: the caller adds them).
 * A voter address that is not "host:port" gets no node entry. */
void sl_kquorum_from_status(const struct sl_quorum_status *st,
			    struct sl_kquorum_view *v);

/* A single broker's view: a quorum of one, itself, leading epoch 0 with
 * high watermark hw (its metadata's save count), caught up at now_ms;
 * no nodes (it has no controller listener). */
void sl_kquorum_single(int32_t node_id, uint64_t hw, int64_t now_ms,
		       struct sl_kquorum_view *v);

/*
 * Answer one whole DescribeQuorum request (no size prefix) from v: the
 * whole response (header included, no size prefix) in resp.  Returns its
 * length (> 0), or -EINVAL (not DescribeQuorum), -SN_ERR_INVALID_REQUEST /
 * -SN_ERR_UNSUPPORTED_VERSION (undecodable: the caller closes the
 * client's connection), -ENOBUFS (cap too small; 16 KiB always holds a
 * full view).
 */
long sl_kquorum_handle(const struct sl_kquorum_view *v, const uint8_t *req,
		       size_t len, uint8_t *resp, size_t cap);

#endif
