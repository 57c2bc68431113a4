/*
 * Typed requests and results between the front-ends (native.c, kafka.c,
 * and every protocol after them) and the places that serve them: the
 * storage cores (produce, fetch, list offsets, delete records, transaction
 * markers) and control (admin).
 *
 * A front-end decodes its protocol's bytes into one of these, per
 * partition, and encodes its protocol's answer from the result.  Nothing
 * behind the front-ends reads or writes a client protocol: a storage core
 * fills in a struct dp_result and hands the message back (dp_complete).
 * The only bytes that travel through are record batches (validated once,
 * by the front-end, with rb_validate: stored as they came, fetched as they
 * are stored) and an admin request's bytes, which control reads.
 *
 * Errors are the shared error numbers of include/sluice/error.h (Kafka's);
 * a front-end maps them to what its clients expect.
 */
#ifndef SLUICE_DATAPLANE_REQUEST_H
#define SLUICE_DATAPLANE_REQUEST_H

#include <stdint.h>

enum dp_op {
	DP_PRODUCE = 1,  /* storage core: append one batch */
	DP_FETCH,        /* storage core: read from an offset */
	DP_LIST_OFFSETS, /* storage core: an offset for a time */
	DP_ADMIN,        /* control: a topic or group request */
	DP_DELETE_RECORDS, /* storage core: move the log start */
	DP_LOG_SIZE,       /* storage core: the log's bytes */
	DP_PRODUCERS,      /* storage core: its idempotent producers */
	DP_WRITE_MARKER,   /* storage core: end a transaction (a control
			      batch), answered once durable */
	DP_EPOCH_END,      /* storage core: OffsetForLeaderEpoch */
	DP_REPLICA_STATE,  /* storage core: a follower's log end and
			      latest epoch (dataplane/fetcher.c) */
	DP_REPLICA_TRUNCATE, /* storage core: a follower cuts its log */
	DP_REPLICA_APPEND, /* storage core: a follower appends what it
			      fetched, answered once durable */
};
#define DP_OP_LAST DP_REPLICA_APPEND

/* DP_PRODUCERS: the share's data area (m->data) holds up to
 * dp_producers.max of these, filled by the storage core; the result's
 * offset is how many. */
struct dp_producer_state {
	int64_t producer_id;
	int64_t txn_start_offset; /* its open transaction's first offset
				     here, -1: none */
	int32_t last_sequence;
	int32_t coordinator_epoch; /* its markers' highest, -1: none */
	int16_t epoch;
};
struct dp_producers {
	uint32_t max;
};

/* Append the batch in m->req (m->req_len bytes, rb_validate()d). */
struct dp_produce {
	int16_t acks;           /* 0: nobody waits; 1: written; -1: durable */
	uint32_t timeout_ms;    /* the answer's deadline once appended */
	uint8_t may_stall;      /* 1: wait up to DP_STALL_MAX_MS for room
				   in the write buffer rather than refuse
				   (clients that do not back off) */
};

/* Whole batches from offset on, up to max_bytes (at least one batch). */
struct dp_fetch {
	int64_t offset;
	uint32_t max_bytes;     /* of records */
	uint32_t hard_max;      /* a first batch larger than this is
				   answered MESSAGE_TOO_LARGE */
	uint32_t min_bytes;     /* wait for this much ... */
	uint32_t max_wait_ms;   /* ... at most this long */
	uint32_t headroom;      /* bytes left free before the records in the
				   answer buffer (the front-end's header) */
	uint8_t isolation;      /* 0: up to the high watermark; 1: the end */
	int32_t replica_id;     /* 0 or below: a consumer; a follower's node
				   id (node ids start at 1): read to the
				   log end, and its fetch offset moves the
				   high watermark */
	int32_t current_leader_epoch; /* checked when >= 0 and check_epoch */
	uint8_t check_epoch;
	uint8_t read_committed; /* 1 (Kafka's isolation_level 1): up to the
				   last stable offset, with the aborted
				   transactions of the range (dp_result) */
};

/* An aborted transaction overlapping a read_committed fetch's range: the
 * consumer drops producer_id's records from first_offset on until that
 * producer's ABORT marker.  Laid out as Kafka's FetchResponse
 * AbortedTransaction (kafka.c asserts it). */
struct dp_aborted_txn {
	int64_t producer_id;
	int64_t first_offset;
};

/* The offset of the first record at or after timestamp (and its
 * timestamp); -1: the durable end, -2: the log start, -3: the first
 * record with the largest timestamp (Kafka's MAX_TIMESTAMP). */
struct dp_list_offsets {
	int64_t timestamp;
	uint8_t read_committed; /* -1 answers the last stable offset */
	uint8_t check_epoch;    /* current_leader_epoch is the client's */
	int32_t current_leader_epoch;
};

/* Kafka's WriteTxnMarkers for one partition: append a control batch (one
 * record: key int16 0 + int16 type, 0 ABORT / 1 COMMIT; value int16 0 +
 * int32 coordinator epoch) of producer_id and epoch, transactional and
 * control attributes, base sequence -1.  Answered once it is durable,
 * with its offset in base_offset; INVALID_PRODUCER_EPOCH when the
 * partition knows a newer epoch of producer_id (transaction version 2+:
 * the same epoch or a newer one, KIP-1228); KAFKA_STORAGE_ERROR when the
 * write fails; REQUEST_TIMED_OUT past timeout_ms. */
struct dp_write_marker {
	int64_t producer_id;
	int16_t epoch;
	uint8_t commit;         /* 1: COMMIT, 0: ABORT */
	uint8_t txn_version;    /* the coordinator's transaction version
				   (WriteTxnMarkers v2+; 0 before) */
	int32_t coordinator_epoch;
	uint32_t timeout_ms;
};

/* Kafka's DeleteRecords for one partition: no offset below offset is
 * served again; -1: the high watermark.  The result's offset is the new
 * log start (Kafka's low watermark). */
struct dp_delete_records {
	int64_t offset;
};

/* Leader epochs (a cluster, docs/cluster.md).  Every request that names
 * a client's current_leader_epoch is fenced by the storage core against
 * the partition's state: -1 is not checked, below the partition's
 * FENCED_LEADER_EPOCH, above it UNKNOWN_LEADER_EPOCH.  A request that
 * only a leader serves (produce, a consumer's fetch, list offsets, delete
 * records, markers, epoch end) is answered NOT_LEADER_OR_FOLLOWER on any
 * other replica. */

/* Kafka's OffsetForLeaderEpoch for one partition: where epoch ends here
 * (dataplane/epoch_cache.h epc_end_offset_for).  Result: offset = the end
 * offset, timestamp = the epoch found (both -1: undefined). */
struct dp_epoch_end {
	int32_t epoch;
	int32_t current_leader_epoch; /* -1: not checked */
	int32_t replica_id;     /* 0 or below: a consumer (must ask the
				   leader); a follower may ask any replica */
};

/* DP_REPLICA_STATE (no arguments): result log_end_offset, high_watermark
 * (what the follower knows of it), log_start_offset, and offset = the
 * latest leader epoch in the log (-1: none). */

/* DP_REPLICA_TRUNCATE: cut a follower's log where the leader's answer
 * to OffsetForLeaderEpoch for our latest epoch says
 * (epoch_cache.h epc_truncation_point).  Result: offset = the log end
 * after the cut, complete = 1 when fetching may start there (0: ask the
 * leader again with the new latest epoch).  NOT_LEADER_OR_FOLLOWER when
 * this node leads the partition, FENCED_LEADER_EPOCH when the partition
 * is at another leader epoch than state_epoch. */
struct dp_replica_truncate {
	int32_t state_epoch;    /* the leader epoch the fetcher follows */
	int32_t leader_epoch;   /* the leader's answer */
	int64_t leader_end;
};

/* DP_REPLICA_APPEND: the batches in m->req (m->req_len bytes, whole
 * batches, each rb_validate()d by the fetcher), fetched from the leader at
 * fetch_offset, appended with the leader's offsets and epochs; batches
 * wholly below the log end are skipped.  Answered once durable: result
 * log_end_offset = the new log end.  Errors: NOT_LEADER_OR_FOLLOWER and
 * FENCED_LEADER_EPOCH as DP_REPLICA_TRUNCATE; OFFSET_OUT_OF_RANGE when
 * fetch_offset is not the log end (fetch again from it);
 * KAFKA_STORAGE_ERROR when the write failed. */
struct dp_replica_append {
	int32_t state_epoch;
	int64_t fetch_offset;
	int64_t leader_hw;      /* the leader's high watermark */
	int64_t leader_start;   /* the leader's log start: ours follows */
	uint8_t start_over;     /* fetch_offset is the leader's log start,
				   past our end: the log starts over at the
				   first batch (or fetch_offset) */
};

/* A request for control: the client's bytes in m->req, of protocol. */
enum dp_admin_protocol { DP_ADMIN_NATIVE = 1, DP_ADMIN_KAFKA = 2 };
struct dp_admin {
	uint8_t protocol;
	uint32_t headroom;      /* bytes left free before the answer */
};

/* What came back.  Offsets are -1 when they do not apply. */
struct dp_result {
	int16_t error;          /* 0 or an error number (sluice/error.h) */
	uint32_t throttle_ms;   /* ask the client to wait this long */
	int64_t base_offset, last_offset;     /* produce: where it went */
	int64_t offset;                       /* list offsets: found */
	int64_t timestamp;                    /* list offsets: the found
						 record's, -1: not known */
	int64_t high_watermark;               /* durable end */
	int64_t size_bytes;                   /* log size: the log's bytes */
	int64_t log_start_offset, log_end_offset;
	int64_t last_stable_offset;           /* fetch: the partition's LSO;
						 list offsets: likewise */
	/* fetch: the records; admin: control's answer.  Inside m->resp,
	 * after the request's headroom. */
	uint8_t *bytes;
	uint32_t bytes_len;
	/* fetch with read_committed: the aborted transactions overlapping
	 * the records returned, oldest marker first, inside m->resp after
	 * the records (at the next multiple of 8 bytes); naborted 0 (and
	 * aborted NULL) otherwise.  Valid as long as m->resp. */
	struct dp_aborted_txn *aborted;
	uint32_t naborted;
	/* the partition's leader epoch (fetch, list offsets, produce) */
	int32_t leader_epoch;
	uint8_t complete;       /* DP_REPLICA_TRUNCATE */
};

#endif
