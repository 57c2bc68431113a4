/*
 * `sluice cluster status`: what the brokers said, the verdict on it, and
 * how both are printed.  Pure: no I/O but the FILE * it prints to, so
 * that the verdict and the output are tested on hand-made clusters
 * (tests/tools/cluster_health_test.c); tools/sluice/cluster.c fills the
 * struct from Kafka requests.
 *
 * The verdict (exit code 0 healthy, 1 not):
 *   - a partition without a leader (leader -1) is leaderless;
 *   - a partition whose in-sync set is smaller than its replica list is
 *     under-replicated (while it is being reassigned, the replicas being
 *     added are not counted, as Kafka counts it);
 *   - a broker named as a replica or a voter but not among the brokers
 *     the cluster lists, or listed as fenced, is down;
 *   - the quorum is unhealthy when it has no leader (or answered with an
 *     error), or when a voter is behind: its log end unknown in the
 *     leader's term, or no reply for CH_VOTER_STALE_MS by the leader's
 *     clock (the leader's caught-up time is its "now").
 * Any of these makes the cluster unhealthy.  A quorum the broker cannot
 * describe (DescribeQuorum not served) is shown as unknown and does not.
 */
#ifndef SLUICE_TOOLS_CLUSTER_HEALTH_H
#define SLUICE_TOOLS_CLUSTER_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CH_BROKERS_MAX 256
#define CH_VOTERS_MAX 16
#define CH_REPLICAS_MAX 16
#define CH_HOST_MAX 256          /* with its NUL */
#define CH_NAME_MAX 256          /* a topic name, with its NUL */
#define CH_VOTER_STALE_MS 5000   /* a voter silent this long is behind */

struct ch_broker {
	int32_t id;
	char host[CH_HOST_MAX];
	int32_t port;
	bool fenced;
};

struct ch_voter {
	int32_t id;
	int64_t log_end_offset;    /* -1: unknown */
	int64_t last_fetch_ms;     /* leader's wall clock, -1: unknown */
	int64_t last_caught_up_ms; /* -1: unknown */
};

struct ch_quorum {
	bool known;              /* false: not described (not served) */
	int16_t error;           /* the partition's (or the top level's) */
	int32_t leader_id;       /* -1: none */
	int32_t epoch;
	int64_t high_watermark;
	unsigned n_voters;
	struct ch_voter voters[CH_VOTERS_MAX];
};

struct ch_partition {
	int32_t index;
	int32_t leader;          /* -1: none */
	uint8_t n_replicas, n_isr;
	int32_t replicas[CH_REPLICAS_MAX];
	int32_t isr[CH_REPLICAS_MAX];
	int64_t high_watermark;  /* its leader's answer; -1: unknown */
	/* a reassignment that runs (ListPartitionReassignments): the
	 * replicas being added and removed; both 0 when none */
	uint8_t n_adding, n_removing;
	int32_t adding[CH_REPLICAS_MAX];
	int32_t removing[CH_REPLICAS_MAX];
};

struct ch_topic {
	char name[CH_NAME_MAX];
	unsigned n_partitions;
	struct ch_partition *partitions; /* caller's memory */
};

struct ch_cluster {
	char via[CH_HOST_MAX];   /* the broker that answered, host:port */
	unsigned n_brokers;
	struct ch_broker brokers[CH_BROKERS_MAX];
	struct ch_quorum quorum;
	unsigned n_topics;
	struct ch_topic *topics; /* caller's memory */
};

/* The verdict's counts (ch_assess). */
struct ch_health {
	unsigned brokers_down;     /* fenced, or named but not listed */
	unsigned topics, partitions;
	unsigned leaderless, under_replicated;
	unsigned voters_behind;
	bool quorum_ok;            /* a leader, no voter behind (or unknown) */
	bool healthy;
};

/* The verdict on c (see the top of this file). */
void ch_assess(const struct ch_cluster *c, struct ch_health *h);

/* 0 healthy, 1 not. */
int ch_exit_code(const struct ch_health *h);

/* c for a person: brokers, quorum, the partitions in trouble, every
 * partition (leader, replicas, in-sync replicas, high watermark, a
 * reassignment that runs), then one summary line that names the brokers
 * down and counts the rest. */
void ch_print_text(FILE *f, const struct ch_cluster *c,
		   const struct ch_health *h);

/* c as one JSON object (docs/client.md, "sluice cluster status"). */
void ch_print_json(FILE *f, const struct ch_cluster *c,
		   const struct ch_health *h);

#endif
