/*
 * The server-side partition assignors of the consumer group protocol
 * (KIP-848), private to control/: consumer_group.c is the one caller.
 *
 * An assignor maps every partition of the topics the members subscribe to
 * onto one member subscribed to its topic (a partition of a topic nobody
 * subscribes to goes nowhere; a topic without subscribers assigns nothing).
 * It is a pure function of its input: topics, members (their
 * subscriptions and the target assignment each had before), no clock, no
 * randomness, so the same input gives the same assignment.
 *
 *   uniform  (Kafka's default) spreads the partitions so that the counts of
 *            any two members subscribed to a common topic differ by at most
 *            one where a move can make them so, and keeps each partition
 *            with the member that had it in the previous target while that
 *            keeps the balance (sticky);
 *   range    per topic, the members subscribed to it in order of instance
 *            id (member id when none) take contiguous ranges: each
 *            partitions / members, the first partitions % members one more;
 *            not sticky (Kafka's sticky refinements of range are not done).
 */
#ifndef SLUICE_CONTROL_ASSIGNOR_H
#define SLUICE_CONTROL_ASSIGNOR_H

#include <stddef.h>
#include <stdint.h>

enum sl_assignor { SL_ASSIGNOR_UNIFORM, SL_ASSIGNOR_RANGE, SL_ASSIGNOR_COUNT };

/* The assignor called name (Kafka's ServerAssignor: "uniform", "range"),
 * or -1. */
int sl_assignor_find(const char *name, size_t len);
/* Its name, NUL-terminated. */
const char *sl_assignor_name(enum sl_assignor a);

/* One partition: a topic (sluice's topic id, control/metadata.h) and its
 * index.  Arrays of them are kept sorted by topic id, then partition. */
struct sl_tp {
	uint32_t topic_id;
	int32_t partition;
};

/* -1, 0 or 1 as a sorts before, with or after b. */
int sl_tp_cmp(const struct sl_tp *a, const struct sl_tp *b);

struct sl_assign_topic {
	uint32_t id;          /* >= 1 */
	int32_t partitions;   /* >= 0 */
};

struct sl_assign_member {
	const char *key;      /* range's order: instance id, else member id */
	size_t key_len;
	const uint32_t *topics;   /* indexes into the topic array it is
				     subscribed to (existing topics only) */
	uint32_t ntopics;
	const struct sl_tp *prev; /* its previous target, sorted */
	uint32_t nprev;
	/* out: its new target, sorted, malloc'ed (NULL when empty); the
	 * caller frees it */
	struct sl_tp *out;
	uint32_t nout;
};

/*
 * Assign every partition of topics (ntopics, each with partitions >= 0)
 * to members (nmembers >= 0).  Fills each member's out / nout.  Returns 0,
 * or -ENOMEM (every out is NULL then).  O(partitions x members) per pass
 * of the uniform balancing, each pass making the counts strictly more
 * even.
 */
int sl_assign(enum sl_assignor a, const struct sl_assign_topic *topics,
	      uint32_t ntopics, struct sl_assign_member *members,
	      uint32_t nmembers);

#endif
