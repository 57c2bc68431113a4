/*
 * What a follower says to its leader and reads back (dataplane/fetcher.c):
 * Kafka's Fetch v12 with replica_id and OffsetForLeaderEpoch v4, built
 * with and read by the table-driven codec (proto/kafka/kcodec.h), and the
 * records of each fetched partition cut into whole, checked batches.
 *
 * On the wire every request and response is a frame: an int32 big-endian
 * size, then that many bytes (a header, then the body).  A response frame
 * is malformed when its size is negative or above RW_FRAME_MAX, when it
 * does not decode as the answer to the request it follows, or when its
 * correlation id is not that request's: the fetcher then closes the
 * connection.
 *
 * A partition's records in a Fetch answer are RecordBatch v2 batches back
 * to back (proto/record_batch.c).  The last one may be cut short (Kafka
 * fills partition_max_bytes with a prefix of the next batch): that partial
 * batch is dropped, as every Kafka follower does.  Every whole batch is
 * checked with rb_check_stored (length, magic, CRC32C); the first that
 * fails is dropped with everything after it, and said (bad_rc): what came
 * before it is still appended.
 *
 * Pure: no I/O, no allocation, no dataplane state; thread-safe (the arenas
 * are the caller's).
 */
#ifndef SLUICE_DATAPLANE_REPLICA_WIRE_H
#define SLUICE_DATAPLANE_REPLICA_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/kafka/kcodec.h"

#define RW_FETCH_VERSION 12 /* topic names, flexible, diverging epochs */
#define RW_EPOCH_VERSION 4  /* flexible, replica_id */
#define RW_FRAME_MAX (64u << 20) /* a larger response frame is malformed */
#define RW_SIZE_BYTES 4     /* the frame's size prefix */

/* One partition of a request.  Partitions of the same topic must be next
 * to each other (one topic entry each run of them). */
struct rw_part_req {
	const char *topic;      /* not NUL-terminated */
	uint16_t topic_len;     /* 1 .. SN_NAME_MAX */
	int32_t partition;
	int32_t current_leader_epoch; /* the epoch the follower follows */
	int64_t fetch_offset;   /* Fetch */
	int32_t leader_epoch;   /* OffsetForLeaderEpoch: the epoch asked */
};

struct rw_fetch_params {
	int32_t replica_id;     /* this node */
	int32_t max_wait_ms, min_bytes, max_bytes, partition_max_bytes;
};

/*
 * A whole Fetch v12 frame (size prefix included) into buf: replica_id,
 * isolation 0, no fetch session (session 0, epoch -1), per partition
 * last_fetched_epoch -1 and log_start_offset -1.  scratch holds the
 * request's arrays while it is encoded (n partitions and their topics).
 * Returns the frame's bytes, -ENOBUFS (buf or scratch too small) or
 * -EINVAL (n is 0, a name is empty or too long).
 */
long rw_encode_fetch(uint8_t *buf, size_t cap, int32_t corr,
		     const char *client_id, const struct rw_fetch_params *fp,
		     const struct rw_part_req *parts, size_t n,
		     struct kc_arena *scratch);

/* A whole OffsetForLeaderEpoch v4 frame: the same contract. */
long rw_encode_epoch_query(uint8_t *buf, size_t cap, int32_t corr,
			   const char *client_id, int32_t replica_id,
			   const struct rw_part_req *parts, size_t n,
			   struct kc_arena *scratch);

/*
 * The frame at p (avail bytes): its whole size, prefix included; 0 when
 * fewer than RW_SIZE_BYTES bytes are there; -EMSGSIZE when the size is
 * negative or above RW_FRAME_MAX (malformed).
 */
long rw_frame_size(const uint8_t *p, size_t avail);

/* ---- Fetch answers ---- */

/* A decoded Fetch answer, walked with rw_fetch_next.  Points into the
 * frame and the arena, which must outlive it. */
struct rw_fetch_resp {
	struct kc_fetch_resp body;
	int32_t topic, part;    /* the walk's place */
};

/* One partition of a Fetch answer. */
struct rw_part_outcome {
	const char *topic;      /* into the frame, not NUL-terminated */
	uint16_t topic_len;     /* 0: a null or oversized name (matches no
				   partition) */
	int32_t partition;
	int16_t error;          /* the partition's error code */
	int64_t high_watermark, log_start_offset;
	int32_t diverging_epoch; /* -1: none */
	int64_t diverging_end_offset;
	/* the whole batches that passed rb_check_stored, back to back, a
	 * prefix of the partition's records */
	const uint8_t *records;
	uint32_t records_len;
	uint32_t batches;
	int64_t next_offset;    /* after the last of them (its last offset
				   + 1), -1: none */
	uint32_t fetched_bytes; /* the partition's records, all of them:
				   records_len + partial_bytes +
				   dropped_bytes */
	uint32_t partial_bytes; /* a cut batch at the end, dropped */
	uint32_t dropped_bytes; /* from the first bad batch on, dropped */
	int bad_rc;             /* that batch's rb_check_stored code, 0: none */
};

/*
 * Decode frame[0, len) (after the size prefix) as the answer to the Fetch
 * v12 with correlation id corr; the arrays go into a.  Returns 0, -EPROTO
 * (malformed, or another correlation id) or -ENOBUFS (a too small: the
 * answer holds more than the caller can take; treat it as malformed).
 */
int rw_decode_fetch(const uint8_t *frame, size_t len, int32_t corr,
		    struct kc_arena *a, struct rw_fetch_resp *r);

/* The next partition of r into o: 1, or 0 after the last one. */
int rw_fetch_next(struct rw_fetch_resp *r, struct rw_part_outcome *o);

/*
 * Cut records[0, len) into the checked prefix of whole batches (o's
 * records, records_len, batches, next_offset, fetched_bytes,
 * partial_bytes, dropped_bytes, bad_rc; the other fields untouched).  rw_fetch_next does
 * it for every partition; here for tests.  len is below 2^31 (a Kafka
 * bytes field).
 */
void rw_split_records(const uint8_t *records, size_t len,
		      struct rw_part_outcome *o);

/* ---- OffsetForLeaderEpoch answers ---- */

struct rw_epoch_resp {
	struct kc_offset_for_leader_epoch_resp body;
	int32_t topic, part;
};

struct rw_epoch_outcome {
	const char *topic;
	uint16_t topic_len;     /* 0: matches no partition */
	int32_t partition;
	int16_t error;
	int32_t leader_epoch;   /* the epoch found, -1: undefined */
	int64_t end_offset;     /* where it ends, -1: undefined */
};

/* As rw_decode_fetch, for the answer to an OffsetForLeaderEpoch v4. */
int rw_decode_epoch(const uint8_t *frame, size_t len, int32_t corr,
		    struct kc_arena *a, struct rw_epoch_resp *r);
int rw_epoch_next(struct rw_epoch_resp *r, struct rw_epoch_outcome *o);

#endif
