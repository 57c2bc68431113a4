/*
 * The sluice native protocol, version 1: frame codec shared by the broker
 * (sluiced), libsluice and the tools.  docs/protocol.md is the reference;
 * the layout is repeated at the top of native.c.
 *
 * Decoders take a whole frame (header included), check every length
 * against the bytes given and never read past them; they return 0 or
 * SN_ERR_INVALID_REQUEST / SN_ERR_UNSUPPORTED_VERSION etc. as a negative
 * protocol error (-code), so the caller can answer with it.  Pointers in
 * decoded structs point into the frame.  Encoders write a whole frame into
 * buf and return its length, or -ENOBUFS when cap is too small.
 *
 * Pure functions: no I/O, no allocation, thread-safe.
 */
#ifndef SLUICE_PROTO_NATIVE_H
#define SLUICE_PROTO_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#define SN_MAGIC 0x534C
#define SN_VERSION 1
#define SN_HEADER_BYTES 16
#define SN_RESPONSE 0x80
#define SN_UDP_MAX_FRAME 65507u
#define SN_TCP_MAX_FRAME ((16u << 20) + 64)
#define SN_DEFAULT_PORT 9093
#define SN_NAME_MAX 200
#define SN_PARTITIONS_MAX 1024

enum sn_opcode {
	SN_PRODUCE = 0x01,
	SN_FETCH = 0x02,
	SN_LIST_OFFSETS = 0x03,
	SN_METADATA = 0x04,
	SN_CREATE_TOPIC = 0x05,
	SN_DELETE_TOPIC = 0x06,
	SN_INIT_PRODUCER_ID = 0x07,
	SN_LEADERS = 0x08,
	SN_QUEUE_RECEIVE = 0x09,
	SN_QUEUE_ACK = 0x0A,
	SN_ROUTE = 0x0B,
};

/* Fixed sizes: header + fixed body. */
#define SN_PRODUCE_REQ_BYTES 32
#define SN_PRODUCE_RESP_BYTES 56
#define SN_FETCH_REQ_BYTES 48
#define SN_FETCH_RESP_BYTES 56 /* + records */
#define SN_LIST_OFFSETS_REQ_BYTES 32
#define SN_LIST_OFFSETS_RESP_BYTES 40
#define SN_METADATA_REQ_BYTES 20 /* + names */
#define SN_METADATA_RESP_BYTES 28 /* + entries */
#define SN_TOPIC_ENTRY_BYTES 40  /* + name */
#define SN_CREATE_REQ_BYTES 52   /* + name */
#define SN_CREATE_RESP_BYTES 24
#define SN_DELETE_REQ_BYTES 20   /* + name */
#define SN_INIT_PID_REQ_BYTES 24
#define SN_INIT_PID_RESP_BYTES 32
#define SN_LEADERS_REQ_BYTES 20     /* + names, as METADATA */
#define SN_LEADERS_RESP_BYTES 24    /* + brokers + topics */
#define SN_LEADERS_BROKER_BYTES 12  /* + host */
#define SN_LEADERS_TOPIC_BYTES 12   /* + name + 8 per partition */
#define SN_HOST_MAX 255
#define SN_QRECV_REQ_BYTES 48     /* + group + topic */
#define SN_QRECV_RESP_BYTES 32    /* + partitions */
#define SN_QRECV_PART_BYTES 16    /* + ranges + records */
#define SN_QRANGE_BYTES 24
#define SN_QACK_REQ_BYTES 40      /* + group + topic + entries */
#define SN_QACK_ENTRY_BYTES 32
#define SN_QACK_RESP_BYTES 20     /* + 4 per entry */
#define SN_QACK_MAX 4096          /* entries of one QUEUE_ACK */
#define SN_QRECV_MAX 8192         /* messages of one QUEUE_RECEIVE */
#define SN_GROUP_MAX 255
#define SN_ROUTE_REQ_BYTES 24     /* + name + rule */
#define SN_ROUTE_RESP_BYTES 24    /* + message + entries */
#define SN_ROUTE_ENTRY_BYTES 16   /* + name + rule */
#define SN_ROUTE_NAME_MAX 64
#define SN_ROUTE_RULE_MAX 2048
#define SN_MEMBER_BYTES 16

/* Error codes: Kafka's numbers (docs/protocol.md has their meaning). */
#define SN_ERRORS(X)                                         \
	X(NONE, 0, "success")                                 \
	X(UNKNOWN_SERVER_ERROR, -1, "unexpected broker failure") \
	X(OFFSET_OUT_OF_RANGE, 1, "offset out of range")      \
	X(CORRUPT_MESSAGE, 2, "batch failed validation")      \
	X(UNKNOWN_TOPIC_OR_PARTITION, 3, "unknown topic or partition") \
	X(NOT_LEADER_OR_FOLLOWER, 6, "this broker does not lead the partition: refresh metadata") \
	X(REQUEST_TIMED_OUT, 7, "request timed out")          \
	X(MESSAGE_TOO_LARGE, 10, "message too large")         \
	X(COORDINATOR_NOT_AVAILABLE, 15, "coordinator not available") \
	X(INVALID_TOPIC_EXCEPTION, 17, "invalid topic name")  \
	X(INVALID_GROUP_ID, 24, "invalid queue group name: 1..255 bytes") \
	X(INVALID_TIMESTAMP, 32, "record timestamp out of range or max timestamp wrong") \
	X(NOT_ENOUGH_REPLICAS, 19, "not written: broker saturated, retry") \
	X(NOT_ENOUGH_REPLICAS_AFTER_APPEND, 20, "written, but fewer in-sync replicas than min.insync.replicas hold it") \
	X(INVALID_REQUIRED_ACKS, 21, "acks must be 0, 1 or -1") \
	X(UNSUPPORTED_VERSION, 35, "unsupported version or opcode") \
	X(TOPIC_ALREADY_EXISTS, 36, "topic already exists")   \
	X(INVALID_PARTITIONS, 37, "invalid partition count")  \
	X(INVALID_REQUEST, 42, "malformed request")           \
	X(UNSUPPORTED_FOR_MESSAGE_FORMAT, 43, "record batch magic must be 2") \
	X(OUT_OF_ORDER_SEQUENCE_NUMBER, 45, "out of order sequence number") \
	X(INVALID_PRODUCER_EPOCH, 47, "producer fenced by a newer epoch") \
	X(TRANSACTION_COORDINATOR_FENCED, 52, "transaction marker of a coordinator that has lost the transactional id") \
	X(TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 53, "transactions are not supported") \
	X(KAFKA_STORAGE_ERROR, 56, "storage error (disk full or failing)") \
	X(FETCH_SESSION_ID_NOT_FOUND, 70, "fetch session not found (sessions are declined)") \
	X(FENCED_LEADER_EPOCH, 74, "the request's leader epoch is older than the partition's") \
	X(UNKNOWN_LEADER_EPOCH, 75, "the request's leader epoch is newer than the partition's") \
	X(INVALID_RECORD, 87, "record batch refused: not one batch, or its record count, offset deltas, sequence or attributes are wrong") \
	X(THROTTLING_QUOTA_EXCEEDED, 89, "broker saturated: retry after the throttle time") \
	X(GROUP_MAX_SIZE_REACHED, 81, "the queue group has its most members (1024) or the broker its most groups") \
	X(INVALID_RECORD_STATE, 121, "the message is not acquired by this consumer: its lock lapsed and it was handed out again, or it was acknowledged already")

enum sn_error {
#define SN_ERROR_ENUM(name, value, msg) SN_ERR_##name = value,
	SN_ERRORS(SN_ERROR_ENUM)
#undef SN_ERROR_ENUM
};

/* "UNKNOWN_TOPIC_OR_PARTITION: unknown topic or partition" style name and
 * meaning of a protocol error code; never NULL. */
const char *sn_error_name(int code);
const char *sn_error_message(int code);

struct sn_header {
	uint8_t version;
	uint8_t opcode;      /* with SN_RESPONSE for responses */
	uint32_t length;     /* whole frame */
	uint32_t corr;
	int16_t error;
	uint16_t flags;
};

/*
 * Parse and check a header at p (avail bytes readable).  max_frame: the
 * transport's largest frame.  Returns the frame length (>= 16) when the
 * header is valid, 0 when fewer than 16 bytes are available (TCP: read
 * more), or -SN_ERR_INVALID_REQUEST (bad magic or length) /
 * -SN_ERR_UNSUPPORTED_VERSION (bad version).  h is filled whenever 16 bytes
 * were there.
 */
long sn_header_parse(const uint8_t *p, size_t avail, size_t max_frame,
		     struct sn_header *h);

/* Write a 16-byte header. */
void sn_header_put(uint8_t *p, uint8_t opcode, uint32_t length, uint32_t corr,
		   int16_t error);

struct sn_produce {
	uint32_t topic_id;
	int32_t partition;
	int16_t acks;
	uint32_t timeout_ms;
	const uint8_t *batch; /* into the frame */
	uint32_t batch_len;
};

struct sn_produce_resp {
	uint32_t topic_id;
	int32_t partition;
	int64_t base_offset;
	int64_t last_offset;
	int64_t log_start_offset;
	uint32_t throttle_ms;
};

struct sn_fetch {
	uint32_t topic_id;
	int32_t partition;
	int64_t offset;
	uint32_t max_bytes;
	uint32_t max_wait_ms;
	uint32_t min_bytes;
	uint8_t isolation; /* 0 durable, 1 everything appended */
};

struct sn_fetch_resp {
	uint32_t topic_id;
	int32_t partition;
	int64_t high_watermark;
	int64_t log_start_offset;
	int64_t log_end_offset;
	const uint8_t *records; /* into the frame (decode) */
	uint32_t records_len;
};

struct sn_list_offsets {
	uint32_t topic_id;
	int32_t partition;
	int64_t timestamp; /* -2 earliest, -1 latest */
};

struct sn_list_offsets_resp {
	uint32_t topic_id;
	int32_t partition;
	int64_t offset;
	int64_t timestamp;
};

struct sn_topic_info {
	uint32_t topic_id;
	int32_t partitions;
	int16_t error;
	uint8_t durability; /* 0 every append, 1 group commit */
	int64_t retention_ms;
	int64_t retention_bytes;
	int64_t segment_bytes;
	const char *name;   /* not NUL-terminated when decoded */
	uint16_t name_len;
	/* Compaction: carried by the control protocol's TOPIC_PUT only
	 * (proto/ipc.h), not by METADATA entries.  cleanup_policy 0: not
	 * given (delete, and the other fields unused). */
	uint8_t cleanup_policy; /* SN_CLEANUP_* bits */
	double min_cleanable_dirty_ratio;
	int64_t min_compaction_lag_ms;
	int64_t max_compaction_lag_ms;
	int64_t delete_retention_ms;
};

/* cleanup.policy as bits: "delete" 1, "compact" 2, "compact,delete" 3. */
#define SN_CLEANUP_DELETE 1
#define SN_CLEANUP_COMPACT 2

struct sn_metadata_resp {
	uint16_t udp_port;
	uint16_t tcp_port;
	uint32_t udp_max_frame;
	uint32_t topic_count;
	const uint8_t *entries; /* decode: iterate with sn_metadata_next */
	size_t entries_len;
};

/* LEADERS: where each partition is led (a cluster's brokers). */
struct sn_leaders_broker {
	int32_t node_id;
	uint16_t tcp_port, udp_port;
	const char *host;   /* empty: the address the client reached */
	uint16_t host_len;  /* 0 .. SN_HOST_MAX */
	/* where its UDP port listens when not at host (a DPDK broker's
	 * dpdk_ip); empty: at host */
	const char *udp_host;
	uint16_t udp_host_len; /* 0 .. SN_HOST_MAX */
};

struct sn_leaders_topic {
	uint32_t topic_id;  /* 0 when error != 0 */
	int16_t error;
	int32_t partitions; /* 0 when error != 0 */
	const char *name;
	uint16_t name_len;
	const uint8_t *leaders; /* decode: partitions x (i32 leader, i32
				   leader epoch); sn_leaders_partition */
};

struct sn_leaders_resp {
	uint32_t broker_count, topic_count;
	const uint8_t *brokers; /* decode: iterate with sn_leaders_next_* */
	size_t brokers_len;
	const uint8_t *topics;
	size_t topics_len;
};

struct sn_create_topic {
	int32_t partitions;
	uint8_t durability;
	int64_t retention_ms;
	int64_t retention_bytes;
	int64_t segment_bytes;
	const char *name;
	uint16_t name_len;
};

/* QUEUE_RECEIVE: up to max_messages of topic for the consumer member of
 * queue group `group`, waiting up to max_wait_ms for the first. */
struct sn_queue_receive {
	uint8_t member[SN_MEMBER_BYTES]; /* the consumer's id (not all zero) */
	uint32_t max_messages;           /* 1..SN_QRECV_MAX */
	uint32_t max_wait_ms;
	const char *group;
	uint16_t group_len;
	const char *topic;
	uint16_t topic_len;
};

/* One run of consecutive offsets handed out with one delivery count. */
struct sn_qrange {
	int64_t first, last;
	uint16_t delivery_count;
};

/* One partition of a QUEUE_RECEIVE answer: its ranges and the stored
 * batches that hold them (batches may hold other offsets too: only the
 * ranges' offsets are the receiver's). */
struct sn_qrecv_part {
	int32_t partition;
	int16_t error;
	uint16_t nranges;
	const uint8_t *ranges;  /* nranges * SN_QRANGE_BYTES: sn_qrecv_range */
	const uint8_t *records;
	uint32_t records_len;
};

struct sn_qrecv_resp {
	uint32_t topic_id;
	uint32_t lock_ms;       /* how long an acquisition lasts */
	uint16_t npartitions;
	const uint8_t *parts;   /* walk with sn_qrecv_next */
	size_t parts_len;
};

struct sn_qrecv_builder {
	uint8_t *buf;
	size_t cap, len;
	uint16_t count;
	int failed;
};

enum sn_ack_type {
	SN_ACK_ACCEPT = 1,  /* done: never handed out again */
	SN_ACK_RELEASE = 2, /* hand it out again (after delay_ms) */
	SN_ACK_REJECT = 3,  /* a dead letter */
	SN_ACK_EXTEND = 4,  /* keep it: the lock starts again */
};

struct sn_qack_entry {
	int64_t first, last;
	int32_t partition;
	uint32_t delay_ms;  /* RELEASE: available again after this */
	uint8_t type;       /* enum sn_ack_type */
};

/* QUEUE_ACK: count entries follow the names (read with sn_qack_get). */
struct sn_queue_ack {
	uint8_t member[SN_MEMBER_BYTES];
	const char *group;
	uint16_t group_len;
	const char *topic;
	uint16_t topic_len;
	uint32_t count;
	const uint8_t *entries;
};

enum sn_route_op {
	SN_ROUTE_PUT = 1,    /* add or replace the rule of that name */
	SN_ROUTE_DELETE = 2,
	SN_ROUTE_LIST = 3,   /* every rule, with what each has copied */
};

/* ROUTE: a routing rule's name and text (docs/queues.md#routing-rules). */
struct sn_route {
	uint8_t op;             /* enum sn_route_op */
	const char *name;       /* PUT, DELETE: 1..SN_ROUTE_NAME_MAX bytes */
	uint16_t name_len;
	const char *rule;       /* PUT: 1..SN_ROUTE_RULE_MAX bytes */
	uint16_t rule_len;
};

struct sn_route_entry {
	const char *name;
	uint16_t name_len;
	const char *rule;
	uint16_t rule_len;
	uint64_t copied;        /* messages it has routed */
};

struct sn_route_resp {
	const char *message;    /* why, with an error; else empty */
	uint16_t message_len;
	uint32_t count;
	const uint8_t *entries; /* walk with sn_route_next */
	size_t entries_len;
};

struct sn_route_builder {
	uint8_t *buf;
	size_t cap, len;
	uint32_t count;
	int failed;
};

/* Topic names: 1..200 of [A-Za-z0-9._-], not "." or "..".  Returns 1/0. */
int sn_topic_name_valid(const char *name, size_t len);

/* ---- encoders: return frame length or -ENOBUFS ---- */
long sn_encode_produce(uint8_t *buf, size_t cap, uint32_t corr,
		       const struct sn_produce *r);
/* Header + fixed part only; the batch follows (gather I/O, zero copy).
 * Returns SN_PRODUCE_REQ_BYTES. */
long sn_encode_produce_head(uint8_t *buf, uint32_t corr,
			    const struct sn_produce *r);
long sn_encode_produce_resp(uint8_t *buf, size_t cap, uint32_t corr,
			    int16_t error, const struct sn_produce_resp *r);
long sn_encode_fetch(uint8_t *buf, size_t cap, uint32_t corr,
		     const struct sn_fetch *r);
/* Header + fixed part for records_len bytes of records that the caller
 * places right after (or sends from elsewhere).  Returns 56. */
long sn_encode_fetch_resp_head(uint8_t *buf, uint32_t corr, int16_t error,
			       const struct sn_fetch_resp *r);
long sn_encode_list_offsets(uint8_t *buf, size_t cap, uint32_t corr,
			    const struct sn_list_offsets *r);
long sn_encode_list_offsets_resp(uint8_t *buf, size_t cap, uint32_t corr,
				 int16_t error,
				 const struct sn_list_offsets_resp *r);
/* names: count NUL-terminated names (count 0 = all topics). */
long sn_encode_metadata(uint8_t *buf, size_t cap, uint32_t corr,
			const char *const *names, unsigned count);
/* LEADERS request: as METADATA's (names, count 0 = all topics). */
long sn_encode_leaders(uint8_t *buf, size_t cap, uint32_t corr,
		       const char *const *names, unsigned count);
/* A LEADERS response: begin, every broker, then every topic (leaders[i]
 * and epochs[i] for its partitions; NULL with an error), finish. */
struct sn_leaders_builder {
	uint8_t *buf;
	size_t cap, len;
	uint32_t brokers, topics;
	int failed;
};
void sn_leaders_resp_begin(struct sn_leaders_builder *b, uint8_t *buf,
			   size_t cap);
int sn_leaders_resp_broker(struct sn_leaders_builder *b,
			   const struct sn_leaders_broker *br);
int sn_leaders_resp_topic(struct sn_leaders_builder *b,
			  const struct sn_leaders_topic *t,
			  const int32_t *leaders, const int32_t *epochs);
long sn_leaders_resp_finish(struct sn_leaders_builder *b, uint32_t corr,
			    int16_t error);
/* Start a metadata response; add entries; finish writes counts/length. */
struct sn_metadata_builder {
	uint8_t *buf;
	size_t cap, len;
	uint32_t count;
	int failed;
};
void sn_metadata_resp_begin(struct sn_metadata_builder *b, uint8_t *buf,
			    size_t cap, uint16_t udp_port, uint16_t tcp_port,
			    uint32_t udp_max_frame);
int sn_metadata_resp_add(struct sn_metadata_builder *b,
			 const struct sn_topic_info *t);
long sn_metadata_resp_finish(struct sn_metadata_builder *b, uint32_t corr,
			     int16_t error);
long sn_encode_create_topic(uint8_t *buf, size_t cap, uint32_t corr,
			    const struct sn_create_topic *r);
long sn_encode_create_topic_resp(uint8_t *buf, size_t cap, uint32_t corr,
				 int16_t error, uint32_t topic_id);
long sn_encode_delete_topic(uint8_t *buf, size_t cap, uint32_t corr,
			    const char *name, uint16_t name_len);
long sn_encode_delete_topic_resp(uint8_t *buf, size_t cap, uint32_t corr,
				 int16_t error);
long sn_encode_init_pid(uint8_t *buf, size_t cap, uint32_t corr);
long sn_encode_init_pid_resp(uint8_t *buf, size_t cap, uint32_t corr,
			     int16_t error, int64_t producer_id,
			     int16_t epoch);
long sn_encode_queue_receive(uint8_t *buf, size_t cap, uint32_t corr,
			     const struct sn_queue_receive *r);
void sn_qrecv_resp_begin(struct sn_qrecv_builder *b, uint8_t *buf,
			 size_t cap);
/* One partition: its ranges and records.  0 or -ENOBUFS (then finish
 * fails too). */
int sn_qrecv_resp_part(struct sn_qrecv_builder *b, int32_t partition,
		       int16_t error, const struct sn_qrange *ranges,
		       uint16_t nranges, const uint8_t *records,
		       uint32_t records_len);
long sn_qrecv_resp_finish(struct sn_qrecv_builder *b, uint32_t corr,
			  int16_t error, uint32_t topic_id, uint32_t lock_ms);
/* The whole frame: header, fixed part, names and r->count entries. */
long sn_encode_queue_ack(uint8_t *buf, size_t cap, uint32_t corr,
			 const struct sn_queue_ack *r,
			 const struct sn_qack_entry *entries);
long sn_encode_queue_ack_resp(uint8_t *buf, size_t cap, uint32_t corr,
			      int16_t error, const int16_t *errors,
			      uint32_t count);

long sn_encode_route(uint8_t *buf, size_t cap, uint32_t corr,
		     const struct sn_route *r);
/* A ROUTE answer: begin with its message (an explanation with an error,
 * else empty), add entries, finish. */
void sn_route_resp_begin(struct sn_route_builder *b, uint8_t *buf,
			 size_t cap, const char *message, uint16_t len);
int sn_route_resp_add(struct sn_route_builder *b,
		      const struct sn_route_entry *e);
long sn_route_resp_finish(struct sn_route_builder *b, uint32_t corr,
			  int16_t error);

/* Any response with the header alone plus a zeroed fixed body of the
 * opcode's response size (for errors). */
long sn_encode_error_resp(uint8_t *buf, size_t cap, uint8_t opcode,
			  uint32_t corr, int16_t error);

/* ---- decoders: frame = whole frame (header included), len = its size;
 * 0 or a negative protocol error ---- */
int sn_decode_produce(const uint8_t *f, size_t len, struct sn_produce *r);
int sn_decode_produce_resp(const uint8_t *f, size_t len,
			   struct sn_produce_resp *r);
int sn_decode_fetch(const uint8_t *f, size_t len, struct sn_fetch *r);
int sn_decode_fetch_resp(const uint8_t *f, size_t len,
			 struct sn_fetch_resp *r);
int sn_decode_list_offsets(const uint8_t *f, size_t len,
			   struct sn_list_offsets *r);
int sn_decode_list_offsets_resp(const uint8_t *f, size_t len,
				struct sn_list_offsets_resp *r);
/* Request names: call sn_metadata_req_name(i) for i < *count. */
int sn_decode_metadata(const uint8_t *f, size_t len, uint16_t *count);
/* Walk the names of a metadata request: *pos starts at
 * SN_METADATA_REQ_BYTES; returns 1 with name/len, 0 at the end, or
 * -SN_ERR_INVALID_REQUEST. */
int sn_metadata_req_next(const uint8_t *f, size_t len, size_t *pos,
			 const char **name, uint16_t *name_len);
int sn_decode_metadata_resp(const uint8_t *f, size_t len,
			    struct sn_metadata_resp *r);
/* Walk the entries of a decoded metadata response: *pos starts at 0;
 * returns 1 with t filled, 0 at the end, -SN_ERR_INVALID_REQUEST. */
int sn_metadata_next(const struct sn_metadata_resp *r, size_t *pos,
		     struct sn_topic_info *t);
/* A LEADERS request's names: as sn_decode_metadata (walk them with
 * sn_metadata_req_next from SN_LEADERS_REQ_BYTES). */
int sn_decode_leaders(const uint8_t *f, size_t len, uint16_t *count);
/* A LEADERS response, checked whole (every broker and topic inside the
 * frame, the counts matching); then walk it with the next functions
 * (*pos from 0): 1 with the entry, 0 at the end. */
int sn_decode_leaders_resp(const uint8_t *f, size_t len,
			   struct sn_leaders_resp *r);
int sn_leaders_next_broker(const struct sn_leaders_resp *r, size_t *pos,
			   struct sn_leaders_broker *b);
int sn_leaders_next_topic(const struct sn_leaders_resp *r, size_t *pos,
			  struct sn_leaders_topic *t);
/* Partition i (< t->partitions) of a decoded topic entry. */
void sn_leaders_partition(const struct sn_leaders_topic *t, int32_t i,
			  int32_t *leader, int32_t *leader_epoch);
int sn_decode_create_topic(const uint8_t *f, size_t len,
			   struct sn_create_topic *r);
int sn_decode_create_topic_resp(const uint8_t *f, size_t len,
				uint32_t *topic_id);
int sn_decode_delete_topic(const uint8_t *f, size_t len, const char **name,
			   uint16_t *name_len);
int sn_decode_queue_receive(const uint8_t *f, size_t len,
			    struct sn_queue_receive *r);
/* Checked whole: every partition's ranges and records inside the frame,
 * the count matching, every range 0 <= first <= last, and the ranges'
 * offsets SN_QRECV_MAX at most in all (a client walks each). */
int sn_decode_qrecv_resp(const uint8_t *f, size_t len,
			 struct sn_qrecv_resp *r);
/* *pos from 0: 1 with the next partition, 0 at the end. */
int sn_qrecv_next(const struct sn_qrecv_resp *r, size_t *pos,
		  struct sn_qrecv_part *p);
void sn_qrecv_range(const struct sn_qrecv_part *p, uint16_t i,
		    struct sn_qrange *out);
/* Names and entry count checked (1..SN_QACK_MAX, the frame's length);
 * each entry's fields are the caller's to check. */
int sn_decode_queue_ack(const uint8_t *f, size_t len, struct sn_queue_ack *r);
void sn_qack_get(const struct sn_queue_ack *r, uint32_t i,
		 struct sn_qack_entry *e);
/* errors: count codes (NULL: not wanted) after the call. */
int sn_decode_queue_ack_resp(const uint8_t *f, size_t len, uint32_t *count,
			     const uint8_t **errors);
int sn_decode_route(const uint8_t *f, size_t len, struct sn_route *r);
/* Checked whole (every entry inside the frame, the count matching). */
int sn_decode_route_resp(const uint8_t *f, size_t len,
			 struct sn_route_resp *r);
/* *pos from 0: 1 with the next entry, 0 at the end. */
int sn_route_next(const struct sn_route_resp *r, size_t *pos,
		  struct sn_route_entry *e);
int sn_decode_init_pid_resp(const uint8_t *f, size_t len,
			    int64_t *producer_id, int16_t *epoch);

#endif
