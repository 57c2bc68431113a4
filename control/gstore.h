/*
 * The group coordinator's store in a cluster: Kafka's design, the
 * committed offsets and group states in the replicated, compacted internal
 * topic __consumer_offsets (its records: control/gtopic.h), so that losing
 * a coordinator's broker costs a leader election and not the offsets.
 *
 * The coordinator of a group is the leader of partition
 * sl_offsets_partition(group) (proto/config.h); every broker's sluiced
 * answers FindCoordinator so.  This module follows the metadata image:
 *
 *   - a partition this broker starts to lead (or leads at a new leader
 *     epoch) is loaded: a marker record is appended with acks=-1 through
 *     the local Kafka listener (control/glog.h); once it is acknowledged
 *     the high watermark is past everything an earlier leader
 *     acknowledged, so the partition is read from its start up to the
 *     marker and each record handed to the coordinator
 *     (sl_groups_load_record), then sl_groups_loaded.  Meanwhile requests
 *     about its groups are answered COORDINATOR_LOAD_IN_PROGRESS (14);
 *   - a partition it stops leading is unloaded (sl_groups_unload) and its
 *     groups are answered NOT_COORDINATOR (16) from then on, as are the
 *     groups of partitions led elsewhere;
 *   - the coordinator's batches (struct sl_commits_sink) are appended to
 *     the partitions of the groups they are about, acks=-1: durable on
 *     min.insync.replicas in-sync replicas;
 *   - every answer the coordinator gives (sl_gstore_reply, its reply
 *     function) waits until every batch appended before it is durable, so
 *     no client hears of an offset, a deletion or a group state a
 *     failover could lose; answers go out in the order they were given;
 *   - a batch that fails (not leader any more, not enough replicas, a
 *     timeout, the connection lost) makes its partition be unloaded and
 *     loaded again from the log (memory is then what the log says), and
 *     every answer waiting when it failed is withheld: the client's
 *     connection is closed (an empty reply), so the client asks again and
 *     never takes the unacknowledged change for done;
 *   - transactions' offsets (control/gtxn.h) are records of the same
 *     partitions: a load hands their records and the partition's
 *     transaction markers to that module, in log order, and an unload
 *     tells it to forget the partition's.
 *
 * Single-threaded: the control plane's event loop owns it.
 */
#ifndef SLUICE_CONTROL_GSTORE_H
#define SLUICE_CONTROL_GSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/commits.h"
#include "control/groups.h"

#define SL_GSTORE_OUTSTANDING_MAX 65536 /* batches not yet durable */

struct sl_gstore;
struct sl_groups;
struct sl_gtxn;
struct sl_ci_image;

struct sl_gstore_config {
	int32_t node_id;           /* this broker */
	uint16_t kafka_port;       /* sluiced's Kafka listener */
	uint32_t kafka_addr;       /* its IPv4 address, network order (0:
				      127.0.0.1) */
	sl_groups_reply_fn reply;  /* where answers go (the link's) */
	void *reply_ctx;
};

struct sl_gstore_stats {
	uint64_t loads;            /* partitions loaded */
	uint64_t records_loaded;   /* records handed to the coordinator */
	uint64_t records_skipped;  /* not group offsets records, or bad */
	uint64_t batches;          /* appended */
	uint64_t batch_failures;   /* failed appends of the coordinator's */
	uint64_t replies_held;     /* answers that waited for durability */
	uint64_t replies_withheld; /* answers dropped: their batch failed */
};

/* Returns 0 and *out, or -ENOMEM. */
int sl_gstore_create(const struct sl_gstore_config *cfg,
		     struct sl_gstore **out);
/* Answers still held are dropped.  NULL allowed. */
void sl_gstore_destroy(struct sl_gstore *s);

/* The coordinator it loads into (after sl_groups_open). */
void sl_gstore_set_groups(struct sl_gstore *s, struct sl_groups *g);

/* Where a load's transaction records and markers go (NULL: skipped). */
void sl_gstore_set_gtxn(struct sl_gstore *s, struct sl_gtxn *t);

/* The coordinator's configuration: sink, coordinates (its ctx: s) and
 * reply function (sl_gstore_reply, ctx s). */
const struct sl_commits_sink *sl_gstore_sink(struct sl_gstore *s);
int16_t sl_gstore_coordinates(void *ctx, const char *group, size_t len);
void sl_gstore_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len);
/* For control/gtxn.h (ctx s): the partition of __consumer_offsets a group
 * is in (-1: the topic is not known yet), and whether partition p is
 * loaded here (0), loading (COORDINATOR_LOAD_IN_PROGRESS) or not led here
 * (NOT_COORDINATOR). */
int32_t sl_gstore_partition_of(void *ctx, const char *group, size_t len);
int16_t sl_gstore_partition_state(void *ctx, int32_t p);

/* The metadata image changed: load and unload partitions as leadership
 * says. */
void sl_gstore_image(struct sl_gstore *s, const struct sl_ci_image *img,
		     int64_t now_ms);

/* Event loop: as control/markers.h. */
int sl_gstore_fd(const struct sl_gstore *s);
short sl_gstore_events(const struct sl_gstore *s);
int sl_gstore_timeout_ms(const struct sl_gstore *s, int64_t now_ms);
int sl_gstore_do_work(struct sl_gstore *s, int64_t now_ms);

void sl_gstore_stats(const struct sl_gstore *s, struct sl_gstore_stats *out);

#endif
