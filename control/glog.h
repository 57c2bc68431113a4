/*
 * A small Kafka client of one topic for sluice-control: appends records to
 * its partitions with acks=-1 and reads partitions back, through the local
 * sluiced's Kafka listener (127.0.0.1:port).  The group coordinator's store
 * (control/gstore.h) keeps __consumer_offsets with it.
 *
 * Appends (sl_glog_append) are queued per partition and sent as Produce v7
 * requests, acks=-1: the appends of a partition queued together go out as
 * one RecordBatch v2, so the broker takes all of them or none.  Each
 * append is answered once through the appended callback, in the order of
 * its partition's appends: err 0 and the offset of its first record once
 * the batch is durable on min.insync.replicas in-sync replicas, or a Kafka
 * error code (NETWORK_EXCEPTION when the connection was lost or the answer
 * could not be read or did not come in SL_GLOG_TIMEOUT_MS).  When a batch
 * of a partition fails, every append of that partition queued behind it
 * fails with it (answered the same error, never sent): a later append
 * never lands after an earlier one failed unless the caller appends anew.
 *
 * Reads (sl_glog_read) fetch a partition (Fetch v11, read uncommitted: up
 * to the high watermark) from its log start up to an end offset, handing
 * each record below end to the record callback in offset order (a control
 * batch's marker to the marker callback when one is set, compressed
 * batches decompressed), then the read_done
 * callback with 0, or a Kafka error code when the read cannot go on (the
 * partition not led there any more, the connection lost).
 *
 * sl_glog_forget(p) drops everything of partition p: its queued appends
 * and its read are dropped and nothing more of them is answered, even for
 * a request already in flight.  Callbacks may call any function here.
 *
 * One connection, one request in flight (a Produce or a Fetch, taking
 * turns when both are wanted).  A connection that fails is made again
 * after a back-off (SL_GLOG_BACKOFF_MIN_MS doubling to _MAX_MS).
 *
 * Single-threaded: the control plane's event loop owns it.  Nothing here
 * blocks.
 */
#ifndef SLUICE_CONTROL_GLOG_H
#define SLUICE_CONTROL_GLOG_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_GLOG_PARTITIONS_MAX 1000     /* offsets_topic_partitions' max */
#define SL_GLOG_BATCH_MAX (1u << 20)    /* appends merged up to this */
#define SL_GLOG_FETCH_MAX (8u << 20)    /* bytes a Fetch asks for */
#define SL_GLOG_RESPONSE_MAX (64u << 20)
#define SL_GLOG_TIMEOUT_MS 15000        /* an answer, or the connection
					   is dropped */
#define SL_GLOG_PRODUCE_TIMEOUT_MS 10000 /* the Produce's timeout_ms */
#define SL_GLOG_BACKOFF_MIN_MS 100
#define SL_GLOG_BACKOFF_MAX_MS 2000
#define SL_GLOG_EMPTY_READS_MAX 20      /* empty fetches below the end
					   before a read fails */

#define SL_GLOG_ERR_NETWORK 13          /* NETWORK_EXCEPTION */
#define SL_GLOG_HEADERS_MAX 32          /* headers of an appended record */

struct rb_header_kv;

struct sl_glog;

/* One record: key and value bytes; a length of -1 is null (a null value
 * is a tombstone). */
struct sl_glog_rec {
	const uint8_t *key;
	int32_t key_len;
	const uint8_t *value;
	int32_t value_len;
	const struct rb_header_kv *headers; /* appends: its headers */
	uint32_t nheaders;                  /* at most SL_GLOG_HEADERS_MAX */
};

/* An append is durable (err 0; offset: its first record's) or failed
 * (err: a Kafka error code; offset -1). */
typedef void (*sl_glog_appended_fn)(void *ctx, uint64_t seq,
				    int32_t partition, int16_t err,
				    int64_t offset);
/* A record of a read (its pointers valid during the call only). */
typedef void (*sl_glog_record_fn)(void *ctx, int32_t partition,
				  int64_t offset,
				  const struct sl_glog_rec *r);
/* A transaction's marker read (a control batch at offset): producer
 * id and epoch, commit or abort. */
typedef void (*sl_glog_marker_fn)(void *ctx, int32_t partition,
				  int64_t offset, int64_t producer_id,
				  int16_t producer_epoch, bool commit);
/* A read ended: err 0 (every record below its end was handed) or a Kafka
 * error code. */
typedef void (*sl_glog_read_fn)(void *ctx, int32_t partition, int16_t err);
/* A stored batch a read met (whole, its CRC checked; data or control),
 * handed as it is before its records are (valid during the call only). */
typedef void (*sl_glog_batch_fn)(void *ctx, int32_t partition,
				 const uint8_t *batch, size_t len);

struct sl_glog_stats {
	uint64_t connects;
	uint64_t produces;        /* Produce requests sent */
	uint64_t fetches;         /* Fetch requests sent */
	uint64_t appends_done;    /* answered durable */
	uint64_t appends_failed;  /* answered an error */
	uint64_t records_read;    /* handed to the record callback */
	uint64_t failures;        /* connections dropped on an error */
};

/* A client of topic (copied) at 127.0.0.1:port.  Returns 0 and *out,
 * -EINVAL (no topic, or longer than 249 bytes) or -ENOMEM. */
int sl_glog_create(const char *topic, uint16_t port, struct sl_glog **out);
/* Closes the connection; nothing more is answered.  NULL allowed. */
void sl_glog_destroy(struct sl_glog *g);

/* Markers met by a read go to marker (NULL, the default: skipped). */
void sl_glog_set_marker_callback(struct sl_glog *g, sl_glog_marker_fn marker);

/* Batches met by a read go to batch too (NULL, the default: not). */
void sl_glog_set_batch_callback(struct sl_glog *g, sl_glog_batch_fn batch);

/* Connect to IPv4 address addr (network order) instead of 127.0.0.1:
 * sluiced's listen_host when it is not 0.0.0.0. */
void sl_glog_set_addr(struct sl_glog *g, uint32_t addr);

/* Reads wait up to ms (a Fetch's MaxWaitMs, MinBytes 1) for a record
 * when there is none yet, instead of answering at once (0, the
 * default); below SL_GLOG_TIMEOUT_MS / 2.  A Produce waits behind such a
 * Fetch: for clients that read only. */
void sl_glog_set_read_wait(struct sl_glog *g, int32_t ms);
void sl_glog_set_callbacks(struct sl_glog *g, sl_glog_appended_fn appended,
			   sl_glog_record_fn record, sl_glog_read_fn read_done,
			   void *ctx);

/* Queue n records (copied) for partition p, stamped wall_ms; *seq: the
 * append's number (rising by one each append, never 0).  Returns 0,
 * -EINVAL (p out of range, n 0 or a record too large for a batch) or
 * -ENOMEM; the appended callback answers only appends that returned 0. */
int sl_glog_append(struct sl_glog *g, int32_t p,
		   const struct sl_glog_rec *recs, uint32_t n, int64_t wall_ms,
		   uint64_t *seq);

/* Read partition p from its start up to end (exclusive), replacing a read
 * of p under way.  Returns 0 or -EINVAL. */
int sl_glog_read(struct sl_glog *g, int32_t p, int64_t end);

/* One Fetch of partition p from offset from (replacing a read of p under
 * way): the batches and records of its answer from there on are handed
 * as a read's, then read_done (0, or a Kafka error code), whatever came
 * (nothing, when from is the high watermark).  After it,
 * sl_glog_read_next says where the next read starts (past the last batch
 * handed; the log's start when it moved past from; the high watermark
 * when from was past it) and sl_glog_high_watermark what the answer
 * said (-1: it said none, as an OFFSET_OUT_OF_RANGE answer may).  Returns 0 or -EINVAL. */
int sl_glog_read_once(struct sl_glog *g, int32_t p, int64_t from);
int64_t sl_glog_read_next(const struct sl_glog *g, int32_t p);
int64_t sl_glog_high_watermark(const struct sl_glog *g, int32_t p);

/* Drop everything of partition p (see the top). */
void sl_glog_forget(struct sl_glog *g, int32_t p);

/* Event loop: as control/markers.h. */
int sl_glog_fd(const struct sl_glog *g);
/* Its socket as a pollfd (fd and events): false while it has none. */
bool sl_glog_pollfd(const struct sl_glog *g, struct pollfd *out);
short sl_glog_events(const struct sl_glog *g);
int sl_glog_timeout_ms(const struct sl_glog *g, int64_t now_ms);
int sl_glog_do_work(struct sl_glog *g, int64_t now_ms);

void sl_glog_get_stats(const struct sl_glog *g, struct sl_glog_stats *out);

#endif
