/*
 * A coordinator's partitions of its internal topic, as leadership moves:
 * what control/gstore.h (__consumer_offsets) and control/tstore.h
 * (__transaction_state) share.  It follows the metadata image:
 *
 *   - a partition this broker starts to lead (or leads at a new leader
 *     epoch) is loaded: the mark (a record of the caller's choosing) is
 *     appended with acks=-1 through the local Kafka listener
 *     (control/glog.h); once it is acknowledged the high watermark is past
 *     everything an earlier leader acknowledged, so the partition is read
 *     from its start up to the mark, each record (and transaction marker)
 *     handed to the caller, then loaded(p).  An append or read that fails
 *     starts the load again after a back-off (SL_PLOAD_RETRY_MIN_MS
 *     doubling to _MAX_MS);
 *   - a partition it stops leading, or one whose memory the caller cannot
 *     trust any more (sl_pload_reload: an append of it failed), is
 *     dropped: what the log client had queued or in flight of it is
 *     forgotten and drop(p) tells the caller to forget its memory of it
 *     (and what waited for its appends); a reload then loads it again.
 *
 * The caller appends its own records through sl_pload_log; their answers
 * come to appended (the mark's do not).
 *
 * Single-threaded: the control plane's event loop owns it.
 */
#ifndef SLUICE_CONTROL_PLOAD_H
#define SLUICE_CONTROL_PLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "control/glog.h"

#define SL_PLOAD_RETRY_MIN_MS 100
#define SL_PLOAD_RETRY_MAX_MS 2000

struct sl_pload;
struct sl_ci_image;

struct sl_pload_ops {
	/* forget partition p's memory (p -1: every partition's) */
	void (*drop)(void *ctx, int32_t p);
	/* a record read by p's load, in offset order */
	void (*record)(void *ctx, int32_t p, int64_t offset,
		       const struct sl_glog_rec *r);
	/* a transaction marker read by p's load (NULL: skipped) */
	void (*marker)(void *ctx, int32_t p, int64_t offset,
		       int64_t producer_id, int16_t producer_epoch,
		       bool commit);
	/* p is read whole up to its mark: its memory is the log's */
	void (*loaded)(void *ctx, int32_t p, int64_t now_ms);
	/* one of the caller's appends answered (sl_glog_appended_fn) */
	void (*appended)(void *ctx, uint64_t seq, int32_t p, int16_t err);
	void *ctx;
};

struct sl_pload_config {
	const char *topic;         /* the internal topic */
	const char *what;          /* its keys, for the log: "groups" */
	const uint8_t *mark_key;   /* the mark: this key, a null value */
	int32_t mark_key_len;
	int32_t node_id;           /* this broker */
	uint16_t kafka_port;       /* sluiced's Kafka listener */
	uint32_t kafka_addr;       /* its IPv4, network order (0: loopback) */
};

/* Returns 0 and *out, or -ENOMEM.  cfg's strings and mark are kept (they
 * must outlive it). */
int sl_pload_create(const struct sl_pload_config *cfg,
		    const struct sl_pload_ops *ops, struct sl_pload **out);
void sl_pload_destroy(struct sl_pload *pl);

/* The image changed: load and drop partitions as leadership says. */
void sl_pload_image(struct sl_pload *pl, const struct sl_ci_image *img,
		    int64_t now_ms);

/* The topic's partitions (0: not known yet). */
int32_t sl_pload_partitions(const struct sl_pload *pl);
/* p loaded here: 0; loading: COORDINATOR_LOAD_IN_PROGRESS (14); not led
 * here (or out of range): NOT_COORDINATOR (16). */
int16_t sl_pload_state(const struct sl_pload *pl, int32_t p);
/* The leader epoch at which p is loaded or loading here (a transaction
 * coordinator's epoch, Kafka's coordinatorEpoch); -1 when p is not led
 * here. */
int32_t sl_pload_epoch(const struct sl_pload *pl, int32_t p);
/* Rises each time p is dropped: a loaded p of the same generation has
 * kept its memory since. */
uint64_t sl_pload_gen(const struct sl_pload *pl, int32_t p);
/* p's memory cannot be trusted (why, with a Kafka error or 0): dropped,
 * and loaded again after a back-off.  Nothing when p is not led here. */
void sl_pload_reload(struct sl_pload *pl, int32_t p, int64_t now_ms,
		     const char *why, int16_t err);
/* The log client, for the caller's appends. */
struct sl_glog *sl_pload_log(struct sl_pload *pl);
/* Partitions loaded since the start. */
uint64_t sl_pload_loads(const struct sl_pload *pl);

/* Event loop: as control/markers.h. */
int sl_pload_fd(const struct sl_pload *pl);
short sl_pload_events(const struct sl_pload *pl);
int sl_pload_timeout_ms(const struct sl_pload *pl, int64_t now_ms);
int sl_pload_do_work(struct sl_pload *pl, int64_t now_ms);

#endif
