/*
 * libsluice: the C client library of sluice's native protocol
 * (docs/protocol.md), used by the `sluice` CLI, perf and the tests.
 * docs/client.md is the reference with examples.
 *
 * Three objects, each with its own connection(s) to the broker:
 *   sl_client    admin: create, delete, list and describe topics (METADATA)
 *   sl_producer  batching, partitioning, pipelining, idempotent retries,
 *                backpressure, delivery reports; over TCP or UDP
 *   sl_consumer  one (topic, partition): long-poll fetch loop, seek,
 *                records one at a time
 *
 * Threads: an object is used by one thread at a time (no internal locks, no
 * background thread).  Different objects may be used from different
 * threads at once.  The pure helpers (sl_murmur2, sl_partition_for_key,
 * sl_error_message, sl_broker_error_message) are thread-safe.
 *
 * Errors: every function that can fail returns an int (or long) >= 0 on
 * success, and a negative code on failure:
 *   -errno               an operating-system error (-ECONNREFUSED, -ETIMEDOUT,
 *                        -EAGAIN ...)
 *   SL_E* (-10001...)    a project code from sluice/error.h
 *   sl_err_broker(code)  an error code the broker answered with (Kafka's
 *                        numbers, docs/protocol.md); range
 *                        SL_EBROKER_BASE - 89 ... SL_EBROKER_BASE + 1;
 *                        sl_broker_code(rc) gives the code back.
 * sl_error_message(rc) turns any of them into a sentence.
 *
 * Addresses: "host:port", "host" (port 9093) or NULL (127.0.0.1:9093).
 */
#ifndef SLUICE_SLUICE_H
#define SLUICE_SLUICE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_DEFAULT_HOST "127.0.0.1"
#define SL_DEFAULT_PORT 9093

/* ---- errors ---- */

#define SL_EBROKER_BASE (-20000)
/* The library's return code for a broker error code (0 stays 0). */
static inline int sl_err_broker(int code)
{
	return code ? SL_EBROKER_BASE - code : 0;
}
/* 1 when rc came from sl_err_broker(). */
static inline int sl_is_broker_err(int rc)
{
	return rc <= SL_EBROKER_BASE + 1 && rc >= SL_EBROKER_BASE - 1000 &&
	       rc != SL_EBROKER_BASE;
}
/* The broker's error code inside rc (0 when rc is not a broker error). */
static inline int sl_broker_code(int rc)
{
	return sl_is_broker_err(rc) ? SL_EBROKER_BASE - rc : 0;
}
/*
 * A sentence for any return code of this library: broker errors with what
 * to do ("the topic or partition does not exist: refresh metadata or create
 * the topic"), project codes, -errno.  Static string, never NULL.
 */
const char *sl_error_message(int rc);
/* The same for a raw native protocol error code (0, 1, 3, ..., 89, -1). */
const char *sl_broker_error_message(int code);

/* ---- partitioner (pure) ---- */

/* Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): seed
 * 0x9747b28c, the same 32-bit result as Java's int. */
int32_t sl_murmur2(const void *key, size_t len);
/* Kafka's DefaultPartitioner for a non-null key:
 * (murmur2(key) & 0x7fffffff) % partitions.  partitions >= 1. */
int32_t sl_partition_for_key(const void *key, size_t len, int32_t partitions);

/* ---- admin ---- */

struct sl_client;

/* Connect to the broker over TCP.  timeout_ms bounds the connect (0: 5000).
 * Returns 0 with *out set, or -errno (-ECONNREFUSED when no broker listens,
 * -EINVAL for a bad address). */
int sl_client_create(const char *addr, int timeout_ms, struct sl_client **out);
/* Close and free; NULL is fine. */
void sl_client_destroy(struct sl_client *c);
/* "127.0.0.1:9093": what the client connects to.  Owned by c. */
const char *sl_client_addr(const struct sl_client *c);

enum sl_durability {
	SL_DURABILITY_EVERY_APPEND = 0, /* fdatasync every append */
	SL_DURABILITY_GROUP = 1,        /* group commit */
};

struct sl_topic_config {
	int32_t partitions;      /* 1..1024; 0 = 1 */
	int durability;          /* enum sl_durability */
	int64_t retention_ms;    /* -1 forever, 0 broker default */
	int64_t retention_bytes; /* -1 unlimited, 0 broker default */
	int64_t segment_bytes;   /* 0 broker default */
};

struct sl_topic_info {
	char name[201];
	uint32_t topic_id;
	int32_t partitions;
	int durability; /* enum sl_durability */
	int64_t retention_ms;
	int64_t retention_bytes;
	int64_t segment_bytes;
	int error; /* sl_err_broker(code) for a name asked that failed, or 0 */
};

/* Create a topic.  cfg NULL: defaults.  Returns the topic id (>= 0) or
 * sl_err_broker(TOPIC_ALREADY_EXISTS / INVALID_TOPIC_EXCEPTION /
 * INVALID_PARTITIONS), -EINVAL (name not valid, checked locally), -errno. */
long sl_topic_create(struct sl_client *c, const char *name,
		     const struct sl_topic_config *cfg);
/* Delete a topic and its data.  0 or sl_err_broker(UNKNOWN_TOPIC...). */
int sl_topic_delete(struct sl_client *c, const char *name);
/* All topics: fills up to cap entries, returns how many exist (may be >
 * cap) or a negative code. */
int sl_topic_list(struct sl_client *c, struct sl_topic_info *out, int cap);
/* One topic.  0, sl_err_broker(UNKNOWN_TOPIC_OR_PARTITION), -errno. */
int sl_topic_describe(struct sl_client *c, const char *name,
		      struct sl_topic_info *out);
/* Broker ports from the last METADATA answer (0 before any). */
void sl_client_ports(const struct sl_client *c, uint16_t *udp_port,
		     uint16_t *tcp_port, uint32_t *udp_max_frame);
/*
 * LIST_OFFSETS: timestamp SL_OFFSET_BEGINNING (-2), SL_OFFSET_END (-1) or a
 * time in ms.  Returns 0 with *offset (-1 when no record is that recent).
 */
#define SL_OFFSET_BEGINNING (-2)
#define SL_OFFSET_END (-1)
int sl_list_offset(struct sl_client *c, const char *topic, int32_t partition,
		   int64_t timestamp, int64_t *offset);

/* ---- producer ---- */

enum sl_transport { SL_TCP = 0, SL_UDP = 1 };

/*
 * Delivery report, called from sl_producer_poll/flush/produce on the
 * calling thread, once per message: offset >= 0 on success (-1 with acks=0,
 * where nothing is answered), err 0 or a negative code.  opaque is what
 * sl_produce was given.
 */
typedef void (*sl_delivery_cb)(void *opaque, int32_t partition, int64_t offset,
			       int err, void *cb_arg);

struct sl_producer_opts {
	int transport;           /* enum sl_transport, SL_TCP */
	int acks;                /* 0, 1 or -1 (all); default -1 */
	uint32_t batch_bytes;    /* close a batch at this size; 256 KiB
				    (UDP: at most the broker's largest
				    frame - 32).  Each open batch reserves
				    this much of buffer_bytes. */
	uint32_t linger_ms;      /* close a batch this old; 5 */
	uint32_t max_in_flight;  /* batches awaiting an answer per partition;
				    5 (idempotence keeps Kafka's limit) */
	uint64_t buffer_bytes;   /* queued + in-flight bytes before
				    backpressure; 64 MiB */
	int nonblocking;         /* 1: sl_produce returns -EAGAIN when full;
				    0: it blocks (up to block_ms) */
	uint32_t block_ms;       /* 0 = 60000 */
	uint32_t request_timeout_ms; /* resend (UDP) / reconnect and resend
					(TCP) after this; 1000 UDP, 30000 TCP */
	uint32_t delivery_timeout_ms; /* give up on a message; 120000.  Its
					 report carries the last retriable
					 broker error (e.g. KAFKA_STORAGE_ERROR)
					 or -ETIMEDOUT */
	int idempotence;         /* 1 (default) unless acks=0; -1 = off */
	int sticky;              /* null keys: 0 round robin per message (default),
				    1 sticky partition per batch */
	sl_delivery_cb cb;
	void *cb_arg;
	/* SL_UDP: send datagrams to this "host:port" instead of the broker's
	 * address and the UDP port it advertises (a NAT, a relay, a test
	 * proxy).  NULL (default): the broker's own. */
	const char *udp_addr;
};

/* Defaults as documented above. */
void sl_producer_opts_default(struct sl_producer_opts *o);

struct sl_producer;

/* Connects (TCP always: metadata and INIT_PRODUCER_ID; plus a UDP socket
 * with SL_UDP), asks a producer id when idempotent.  Returns 0 or
 * a negative code. */
int sl_producer_create(const char *addr, const struct sl_producer_opts *o,
		       struct sl_producer **out);
/* Flush (bounded by delivery_timeout_ms), close, free.  Messages still
 * undelivered get a report with -ECANCELED.  NULL is fine. */
void sl_producer_destroy(struct sl_producer *p);

/*
 * Queue one message.  partition -1: by key (murmur2) or, for a NULL key,
 * round robin / sticky.  key NULL = null key.  Bytes are copied.  May send
 * batches and run delivery callbacks.  Returns the partition chosen, or
 * sl_err_broker(UNKNOWN_TOPIC_OR_PARTITION), -EAGAIN (nonblocking and
 * buffer_bytes reached, or the broker asked to throttle), -ETIMEDOUT
 * (blocked longer than block_ms), -EMSGSIZE (one message larger than
 * batch_bytes allows), -errno.
 */
int sl_produce(struct sl_producer *p, const char *topic, int32_t partition,
	       const void *key, size_t klen, const void *value, size_t vlen,
	       void *opaque);

/* A record header: a name and a value (NULL: a null value). */
struct sl_header {
	const char *key;
	size_t klen;
	const void *value;
	size_t vlen;
};

/* sl_produce with nh headers (copied). */
int sl_produce_h(struct sl_producer *p, const char *topic, int32_t partition,
		 const void *key, size_t klen, const void *value, size_t vlen,
		 const struct sl_header *h, size_t nh, void *opaque);
/* Send due batches (linger), read answers, resend what timed out, run
 * callbacks; waits up to timeout_ms for an answer when something is in
 * flight.  Returns the number of delivery reports made, or a negative
 * code for a broken connection that could not be re-established. */
int sl_producer_poll(struct sl_producer *p, int timeout_ms);
/* Send everything queued and wait for every answer, up to timeout_ms
 * (< 0: delivery_timeout_ms).  0, or -ETIMEDOUT with messages left. */
int sl_producer_flush(struct sl_producer *p, int timeout_ms);
/* Messages queued or in flight (not yet reported). */
uint64_t sl_producer_outstanding(const struct sl_producer *p);

struct sl_producer_stats {
	uint64_t messages;     /* reported delivered */
	uint64_t errors;       /* reported failed */
	uint64_t batches_sent; /* first sends */
	uint64_t resends;      /* retransmissions (timeouts, retriable errors) */
	uint64_t throttles;    /* answers with a throttle time */
	uint64_t route_refreshes; /* partition leaders asked again (a leader
				     moved, or its broker went) */
	int64_t producer_id;
	int16_t epoch;
};
void sl_producer_stats(const struct sl_producer *p,
		       struct sl_producer_stats *s);

/* ---- consumer ---- */

struct sl_consumer_opts {
	uint32_t max_bytes;   /* per fetch; 1 MiB */
	uint32_t max_wait_ms; /* long poll; 500 */
	uint32_t min_bytes;   /* 1 */
	int isolation;        /* 0 durable only (default), 1 everything */
};
void sl_consumer_opts_default(struct sl_consumer_opts *o);

struct sl_consumer;

/* A consumer of one (topic, partition), positioned at the beginning.
 * o NULL: defaults.  Returns 0, sl_err_broker(UNKNOWN_TOPIC_OR_PARTITION)
 * when the topic or partition does not exist, -errno. */
int sl_consumer_create(const char *addr, const char *topic, int32_t partition,
		       const struct sl_consumer_opts *o,
		       struct sl_consumer **out);
void sl_consumer_destroy(struct sl_consumer *c);

/* Seek to an offset (>= 0), SL_OFFSET_BEGINNING or SL_OFFSET_END
 * (resolved with LIST_OFFSETS).  0 or a negative code. */
int sl_consumer_seek(struct sl_consumer *c, int64_t offset);
/* Seek to the first record with timestamp >= ts_ms; past the end when none
 * is that recent. */
int sl_consumer_seek_timestamp(struct sl_consumer *c, int64_t ts_ms);
/* The offset of the next record to deliver. */
int64_t sl_consumer_position(const struct sl_consumer *c);
/* The log end offset and high watermark of the last fetch (-1 before). */
int64_t sl_consumer_end_offset(const struct sl_consumer *c);
int64_t sl_consumer_high_watermark(const struct sl_consumer *c);

struct sl_message {
	int32_t partition;
	int64_t offset;
	int64_t timestamp_ms;
	const void *key; /* NULL for a null key */
	size_t klen;
	const void *value; /* NULL for a null value */
	size_t vlen;
	size_t nheaders;   /* read them with sl_message_header(_at) */
	const void *hdr_;  /* the library's */
	const void *hdr_end_;
};

/* The first header of m named key: 1 with *value (NULL for a null
 * value) and *vlen, or 0 when m has none. */
int sl_message_header(const struct sl_message *m, const char *key,
		      const void **value, size_t *vlen);
/* Header i (< m->nheaders) of m: 1 with h filled, or 0. */
int sl_message_header_at(const struct sl_message *m, size_t i,
			 struct sl_header *h);

/*
 * The next record at or after the position.  Fetches (long poll up to
 * min(timeout_ms, max_wait_ms) per request) when nothing is buffered.
 * Returns 1 with *m filled (pointers valid until the next call on c),
 * 0 when nothing arrived within timeout_ms (timeout 0: one fetch without
 * waiting), sl_err_broker(OFFSET_OUT_OF_RANGE) etc., -errno.
 */
int sl_consume(struct sl_consumer *c, struct sl_message *m, int timeout_ms);

/* ---- routing rules (docs/queues.md#routing-rules) ----
 *
 * A rule copies the messages of the topics its pattern matches, and whose
 * headers match its conditions, to a topic: "from=orders.*.eu to=eu-orders
 * header:priority=high".  Put (add or replace by name), delete, list.
 * err (errlen bytes, may be NULL) gets the broker's explanation of a
 * refusal.  0 (list: the number of rules) or a negative code:
 * sl_err_broker(INVALID_REQUEST) for a rule it refused,
 * sl_err_broker(UNKNOWN_TOPIC_OR_PARTITION) for a destination that does
 * not exist, sl_err_broker(UNSUPPORTED_VERSION) from a broker that does
 * not route (a cluster's, for now).
 */
typedef void (*sl_route_cb)(void *arg, const char *name, const char *rule,
			    uint64_t copied);
int sl_route_put(struct sl_client *c, const char *name, const char *rule,
		 char *err, size_t errlen);
int sl_route_delete(struct sl_client *c, const char *name, char *err,
		    size_t errlen);
int sl_route_list(struct sl_client *c, sl_route_cb cb, void *arg);

/* ---- queues (docs/queues.md) ----
 *
 * A queue is a topic consumed by a queue group: each message goes to one
 * of the group's consumers at a time, locked for it until it answers
 * (accept, release, reject) or the lock lapses (then it is handed out
 * again, its delivery count one higher).  After the broker's
 * share_delivery_count_limit deliveries, or when rejected, it is a dead
 * letter (copied to "<topic>.dlq").  Kafka share consumers of the same
 * group (its name) take part in the same queue.
 */

struct sl_queue_opts {
	uint32_t prefetch;    /* messages handed to this consumer and not
				 yet answered, at most (its credit: with
				 that many held, sl_queue_receive returns
				 0 at once); 100, at most 8192 */
	uint32_t max_wait_ms; /* long poll per request; 500 */
};
void sl_queue_opts_default(struct sl_queue_opts *o);

struct sl_queue;

/* A consumer of topic in queue group `group` (both created as needed:
 * the group on first use, starting where share_auto_offset_reset says).
 * Returns 0, sl_err_broker(UNKNOWN_TOPIC_OR_PARTITION), -errno. */
int sl_queue_create(const char *addr, const char *group, const char *topic,
		    const struct sl_queue_opts *o, struct sl_queue **out);
/* Releases the messages it holds (handed out again at once), closes,
 * frees.  NULL is fine. */
void sl_queue_destroy(struct sl_queue *q);

struct sl_queue_message {
	struct sl_message msg;   /* partition, offset, key, value, headers */
	uint16_t delivery_count; /* 1 the first time it is handed out */
};

/*
 * The next message handed to this consumer; receives more (long poll up
 * to min(timeout_ms, max_wait_ms) per request) when none is held.
 * Returns 1 with *m (valid until the next sl_queue_receive on q), 0 when
 * none came within timeout_ms, or a negative code.  Each message is this
 * consumer's until answered with sl_queue_ack or its lock lapses
 * (sl_queue_lock_ms).
 */
int sl_queue_receive(struct sl_queue *q, struct sl_queue_message *m,
		     int timeout_ms);

enum sl_ack {
	SL_ACK_ACCEPT = 1,  /* done with: never handed out again */
	SL_ACK_RELEASE = 2, /* hand it out again, after delay_ms */
	SL_ACK_REJECT = 3,  /* a dead letter now */
	SL_ACK_EXTEND = 4,  /* keep it: its lock starts again */
};

/* Answer one received message (its partition and offset).  Returns 0
 * when the broker has made it durable, sl_err_broker(INVALID_RECORD_STATE)
 * when the message is no longer this consumer's (its lock lapsed), or
 * another negative code. */
int sl_queue_ack(struct sl_queue *q, int32_t partition, int64_t offset,
		 enum sl_ack type, uint32_t delay_ms);
/*
 * The same answer, queued: sent with the next request this consumer makes
 * to that partition's broker (the next sl_queue_receive that asks the
 * broker for more, sl_queue_ack, sl_queue_flush or sl_queue_destroy), many
 * in one QUEUE_ACK, consecutive offsets of one partition and type as one
 * entry.  Its credit is free at once.  What the broker refuses (the lock
 * lapsed) is counted (sl_queue_ack_refused) and the first such error is
 * what sl_queue_flush returns.  Queued answers not sent before the lock
 * lapses do not count: the message goes out again.  0, -EINVAL, -ENOMEM.
 */
int sl_queue_ack_async(struct sl_queue *q, int32_t partition, int64_t offset,
		       enum sl_ack type, uint32_t delay_ms);
/* Send every queued answer and wait up to timeout_ms for the broker to
 * have made them durable.  0, or the first error since the last flush
 * (a refused answer, a connection lost with answers in flight). */
int sl_queue_flush(struct sl_queue *q, int timeout_ms);
/* Queued answers the broker refused or whose fate is unknown, so far. */
uint64_t sl_queue_ack_refused(const struct sl_queue *q);
/* How long a lock lasts (the broker's), 0 before the first receive. */
uint32_t sl_queue_lock_ms(const struct sl_queue *q);

/* ---- request-reply ---- */

/* The headers a request carries (and its reply repeats). */
#define SL_HEADER_REPLY_TO "sl-reply-to"
#define SL_HEADER_CORRELATION_ID "sl-correlation-id"

/*
 * Send a request (value, vlen) to topic and wait up to timeout_ms for
 * replies: the request carries the headers sl-reply-to (a temporary
 * reply topic made for this call and deleted after it) and
 * sl-correlation-id; a responder replies to the sl-reply-to topic with
 * the same sl-correlation-id (sl_reply does).  Waits for `want` replies
 * (1: request-reply; more: scatter-gather to several responders); each
 * is given to cb.  Returns the number of replies (0..want: fewer when the
 * time ran out), or a negative code.
 */
typedef void (*sl_reply_cb)(void *arg, const struct sl_message *reply);
int sl_request(const char *addr, const char *topic, const void *value,
	       size_t vlen, int want, int timeout_ms, sl_reply_cb cb,
	       void *arg);
/* Reply to a request message m (one sl_queue_receive or sl_consume gave)
 * with value: queued on p (as sl_produce: its delivery report says when
 * the broker has it) for m's sl-reply-to topic, with m's
 * sl-correlation-id.  0, sl_err_broker(INVALID_REQUEST) when m carries no
 * sl-reply-to, or a negative code of sl_produce. */
int sl_reply(struct sl_producer *p, const struct sl_message *m,
	     const void *value, size_t vlen, void *opaque);

#ifdef __cplusplus
}
#endif

#endif
