/*
 * The transaction coordinator's store in a cluster: Kafka's design, each
 * transactional id's state in the replicated, compacted internal topic
 * __transaction_state (its records: control/ttopic.h), so that losing a
 * coordinator's broker costs a leader election and not the transactions
 * it was running.
 *
 * The coordinator of a transactional id is the leader of partition
 * sl_offsets_partition(id) of __transaction_state (Java's hashCode of the
 * id modulo the partitions, as Kafka); every broker's sluiced answers
 * FindCoordinator so.  As control/gstore.h does for the groups:
 *
 *   - a partition this broker starts to lead (or leads at a new leader
 *     epoch) is loaded: a mark is appended with acks=-1 through the local
 *     Kafka listener (control/glog.h), then the partition is read from its
 *     start up to the mark, each record handed to the coordinator
 *     (sl_txn_load_record), then sl_txn_loaded, which hands the markers
 *     of transactions being ended again.  Meanwhile the partition's ids
 *     are answered COORDINATOR_LOAD_IN_PROGRESS (14);
 *   - a partition it stops leading is unloaded (sl_txn_unload): its ids
 *     are answered NOT_COORDINATOR (16) from then on;
 *   - the coordinator's batches (struct sl_txn_sink) become one record per
 *     transactional id they change, holding the id's whole state after
 *     the batch (this module keeps a copy of each loaded id's state for
 *     that), appended to the id's partition with acks=-1;
 *   - every answer the coordinator gives (sl_tstore_reply) and every
 *     markers job it hands on (sl_tstore_markers) waits until every batch
 *     appended before it is durable, so no client hears of a state, and
 *     no partition gets a marker, that a failover could lose; they leave
 *     in the order they were given (control/hold.h);
 *   - a batch that fails makes its partition be unloaded and loaded again
 *     from the log, and what waited for it is dropped: answers withheld
 *     (the client's connection closed: it asks again), markers not handed
 *     (the load hands them again if the decision was durable).
 *
 * Single-threaded: the control plane's event loop owns it.
 */
#ifndef SLUICE_CONTROL_TSTORE_H
#define SLUICE_CONTROL_TSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/txn.h"

#define SL_TSTORE_OUTSTANDING_MAX 65536 /* batches not yet durable */

struct sl_tstore;
struct sl_ci_image;

struct sl_tstore_config {
	int32_t node_id;           /* this broker */
	uint16_t kafka_port;       /* sluiced's Kafka listener */
	uint32_t kafka_addr;       /* its IPv4 address, network order (0:
				      127.0.0.1) */
	sl_txn_reply_fn reply;     /* where answers go (the link's) */
	void *reply_ctx;
	sl_txn_markers_fn markers; /* the marker writer (markers.h) */
	void (*markers_cancel)(void *markers_ctx, uint64_t id);
	void *markers_ctx;
};

struct sl_tstore_stats {
	uint64_t loads;            /* partitions loaded */
	uint64_t records_loaded;   /* records handed to the coordinator */
	uint64_t records_skipped;  /* not the coordinator's, or bad */
	uint64_t batches;          /* appended */
	uint64_t batch_failures;   /* failed appends */
	uint64_t held;             /* answers and markers jobs that waited */
	uint64_t withheld;         /* dropped: their batch failed */
};

/* Returns 0 and *out, or -ENOMEM. */
int sl_tstore_create(const struct sl_tstore_config *cfg,
		     struct sl_tstore **out);
/* What is still held is dropped.  NULL allowed. */
void sl_tstore_destroy(struct sl_tstore *s);

/* The coordinator it loads into (after sl_txn_open). */
void sl_tstore_set_txn(struct sl_tstore *s, struct sl_txn *t);

/* The coordinator's configuration: sink, coordinates and
 * coordinator_epoch (ctx s: the leader epoch at which the id's partition
 * of __transaction_state is loaded here), reply and markers functions
 * (ctx s). */
const struct sl_txn_sink *sl_tstore_sink(struct sl_tstore *s);
int16_t sl_tstore_coordinates(void *ctx, const char *id, size_t len);
int32_t sl_tstore_coordinator_epoch(void *ctx, const char *id, size_t len);
void sl_tstore_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len);
void sl_tstore_markers(void *ctx, const struct sl_txn_markers *m);
void sl_tstore_markers_cancel(void *ctx, uint64_t id);

/* The metadata image changed: load and unload partitions as leadership
 * says. */
void sl_tstore_image(struct sl_tstore *s, const struct sl_ci_image *img,
		     int64_t now_ms);

/* Event loop: as control/markers.h. */
int sl_tstore_fd(const struct sl_tstore *s);
short sl_tstore_events(const struct sl_tstore *s);
int sl_tstore_timeout_ms(const struct sl_tstore *s, int64_t now_ms);
int sl_tstore_do_work(struct sl_tstore *s, int64_t now_ms);

void sl_tstore_stats(const struct sl_tstore *s, struct sl_tstore_stats *out);

#endif
