/*
 * The transaction marker writer of sluice-control: a non-blocking Kafka
 * client that sends WriteTxnMarkers v1 requests for the transactions the
 * coordinator (control/txn.h) ended to the Kafka listener of each
 * partition's leader, until every partition of each has its marker; then
 * it says so (the done callback: sl_txn_markers_done).
 *
 * Where a marker goes: the route callback names the leader's listener
 * (in a cluster: sluice-control's metadata image), asked again at every
 * pass, so a marker answered NOT_LEADER_OR_FOLLOWER follows the
 * partition's new leader; without a route, or for a topic the route does
 * not know, sluiced's own listener (127.0.0.1:kafka_port, or the address
 * of sl_markers_set_addr) answers.
 *
 * One connection per listener (at most SL_MARKERS_CONNS_MAX), each with
 * one request in flight carrying every pending transaction's partitions
 * routed to it that still need a marker (as many as fit
 * SL_MARKERS_REQUEST_MAX).  Per partition, as Kafka's coordinator treats
 * the answers: NONE is written; UNKNOWN_TOPIC_OR_PARTITION (the topic is
 * gone) and INVALID_PRODUCER_EPOCH (the partition has seen a newer epoch
 * of the producer: this marker is moot) count as done; any other error
 * (KAFKA_STORAGE_ERROR, NOT_ENOUGH_REPLICAS ...) is retried after a
 * back-off.  A refused connection, a closed one, an answer that cannot be
 * read or none within SL_MARKERS_TIMEOUT_MS: reconnect after a back-off
 * (SL_MARKERS_BACKOFF_MIN_MS doubling to _MAX_MS) and send again (a
 * marker written twice is harmless: the partition's second control batch
 * closes nothing).
 *
 * Single-threaded: the control plane's event loop owns it.  Nothing here
 * blocks.
 */
#ifndef SLUICE_CONTROL_MARKERS_H
#define SLUICE_CONTROL_MARKERS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/txn.h"

#define SL_MARKERS_JOBS_MAX SL_TXN_IDS_MAX
#define SL_MARKERS_REQUEST_MAX (256 * 1024) /* bytes */
#define SL_MARKERS_RESPONSE_MAX (256 * 1024)
#define SL_MARKERS_TIMEOUT_MS 30000
#define SL_MARKERS_BACKOFF_MIN_MS 100
#define SL_MARKERS_BACKOFF_MAX_MS 2000
#define SL_MARKERS_CONNS_MAX 16      /* brokers written to at once */

struct sl_markers;

/* The Kafka listener of the leader of topic's partition: 0 with *addr
 * (IPv4, network order) and *port; -EAGAIN when it has no leader now
 * (asked again later); another negative error when the topic is unknown
 * (the default listener answers for it). */
typedef int (*sl_markers_route_fn)(void *ctx, const char *topic,
				   uint16_t topic_len, int32_t partition,
				   uint32_t *addr, uint16_t *port);

/* Every marker of job id is written. */
typedef void (*sl_markers_done_fn)(void *ctx, uint64_t id, int64_t now_ms);

/* Counters, for logs and tests. */
struct sl_markers_stats {
	uint64_t connects;        /* connections made */
	uint64_t requests;        /* WriteTxnMarkers sent */
	uint64_t partitions_done; /* markers written (or moot) */
	uint64_t retries;         /* partitions answered a retriable error */
	uint64_t failures;        /* connections dropped on an error */
};

/* A writer whose default listener is 127.0.0.1:port.  Returns 0 and
 * *out, or -ENOMEM. */
int sl_markers_create(uint16_t port, struct sl_markers **out);

/* Close the connection and free everything (pending jobs are dropped:
 * the coordinator hands them again after its restart).  NULL allowed. */
void sl_markers_destroy(struct sl_markers *m);

/* The default listener at IPv4 address addr (network order) instead of
 * 127.0.0.1: sluiced's listen_host when it is not 0.0.0.0. */
void sl_markers_set_addr(struct sl_markers *m, uint32_t addr);

/* Route each marker to its partition's leader (see above). */
void sl_markers_set_route(struct sl_markers *m, sl_markers_route_fn route,
			  void *ctx);

void sl_markers_set_done(struct sl_markers *m, sl_markers_done_fn done,
			 void *ctx);

/* The coordinator's markers callback (sl_txn_markers_fn; ctx is the
 * writer): queue the job, replacing a queued job of the same producer
 * id.  Copies what it keeps; a job that cannot be kept (-ENOMEM, the
 * queue full) is logged and dropped: the transaction then completes at
 * the coordinator's next restart. */
void sl_markers_submit(void *ctx, const struct sl_txn_markers *job);

/* Forget job id (the coordinator stopped coordinating its transaction):
 * its markers not yet sent never are, and it is not reported done; one
 * in flight finishes (ctx: the writer, as sl_markers_submit). */
void sl_markers_cancel(void *ctx, uint64_t id);

/* What to poll: one entry per open connection (fd and events), at most
 * cap of them into out; returns how many. */
unsigned sl_markers_pollfds(const struct sl_markers *m, struct pollfd *out,
			    unsigned cap);

/* The ms until something is due (a reconnect, a timeout), -1: nothing. */
int sl_markers_timeout_ms(const struct sl_markers *m, int64_t now_ms);

/* One duty cycle: connect when due, write what is pending, read and apply
 * answers, check the timeout.  Returns the work done. */
int sl_markers_do_work(struct sl_markers *m, int64_t now_ms);

/* Jobs queued (not yet all written). */
uint32_t sl_markers_pending(const struct sl_markers *m);

void sl_markers_get_stats(const struct sl_markers *m,
			  struct sl_markers_stats *out);

#endif
