/*
 * Kafka's ElectLeaders (v0-2, KIP-183 and KIP-460): preferred (type 0) or
 * unclean (type 1) leader election for the partitions a request names, or
 * for every partition when it names none (null).
 *
 * The answer is made here; the elections are the caller's, one callback
 * per partition: control/cluster.c's active controller turns each into a
 * PARTITION_CHANGE record (cluster_image.h sl_ci_elect_preferred,
 * sl_ci_elect_unclean), a single broker answers ELECTION_NOT_NEEDED for
 * every partition it has (it leads them all).  As Kafka's controller
 * answers:
 *   - results topic by topic and partition by partition in the order
 *     asked; for a null list, every topic's partitions whose election was
 *     not ELECTION_NOT_NEEDED (a partition already led by its preferred
 *     replica is left out, as KRaft's controller leaves it out);
 *   - per partition: NONE with a null message, or the callback's error and
 *     message (UNKNOWN_TOPIC_OR_PARTITION, ELECTION_NOT_NEEDED (84),
 *     PREFERRED_LEADER_NOT_AVAILABLE (80), ELIGIBLE_LEADERS_NOT_AVAILABLE
 *     (83));
 *   - an election type other than 0 and 1, or more than 65,536
 *     partitions named: INVALID_REQUEST at the top level (v1+; v0 has
 *     none) with no results; v0 has no type (preferred).
 *
 * Pure functions: no I/O.
 */
#ifndef SLUICE_CONTROL_KELECT_H
#define SLUICE_CONTROL_KELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_KELECT_PREFERRED 0
#define SL_KELECT_UNCLEAN 1

struct sl_kelect_ops {
	/* Elect partition of topic (len bytes) by type; the Kafka error
	 * (0: elected), with msg (NUL-terminated, msglen bytes) saying why
	 * when it is not 0. */
	int16_t (*elect)(void *ctx, const char *topic, size_t len,
			 int32_t partition, int8_t type, char *msg,
			 size_t msglen);
	/* The i-th topic (0..): its name, length and partition count;
	 * false past the last (for a request naming no partitions). */
	bool (*topic)(void *ctx, uint32_t i, const char **name, size_t *len,
		      int32_t *partitions);
	void *ctx;
};

/* Whether api_key is ElectLeaders. */
bool sl_kelect_serves(int16_t api_key);

/*
 * Answer the whole Kafka request req (len bytes, header included, no size
 * prefix) into resp (cap bytes): the response's length, or -EINVAL (not
 * an ElectLeaders request that decodes), -EMSGSIZE (the answer does not
 * fit cap), -ENOMEM.
 */
long sl_kelect_handle(const uint8_t *req, size_t len,
		      const struct sl_kelect_ops *ops, uint8_t *resp,
		      size_t cap);

#endif
