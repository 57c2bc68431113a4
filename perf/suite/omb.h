/*
 * The benchmark driver's private interface: the workload it runs, the
 * latency histogram every thread records into, and the backend interface
 * each system (sluice's native protocol, its Kafka listener, Redis
 * Streams, NATS JetStream, RabbitMQ quorum queues, Mosquitto) implements
 * in its own file with that system's own client library.
 *
 * A run, driven by omb.c:
 *   1. backend->setup() creates the topic: `partitions` partitions (a
 *      stream, subject, queue or MQTT topic per partition for systems
 *      without partitions).
 *   2. Each consumer thread creates its consumer (partitions split round
 *      robin between consumers), positioned at the end of the log: it sees
 *      only what is published after it.
 *   3. Each producer thread publishes `size`-byte messages whose first 8
 *      bytes are their intended send time (CLOCK_MONOTONIC ns): at the
 *      fixed rate, the time the schedule said (so a stall shows up in every
 *      message behind it: no coordinated omission); at max throughput, the
 *      time of the publish call.  Acks report that stamp back
 *      (omb_acked()); consumers hand each payload to omb_consumed(), which
 *      takes the stamp from the payload: publish-to-consume latency.
 *   4. Only messages stamped inside the measured window (after the
 *      warm-up) count, in throughput and in the histograms.
 *
 * The queue workload (queue.c, --workload queue) reuses setup and the
 * producer, and consumes through the backend's queue_consumer_*: a fixed
 * count of messages, each received and acknowledged on its own by
 * competing consumers.
 *
 * Threads: producer and consumer objects are used by their own thread;
 * some libraries call back from their own threads (NATS, Mosquitto), so
 * omb_acked() and omb_consumed() are thread-safe (relaxed atomics).
 */
#ifndef SLUICE_PERF_OMB_H
#define SLUICE_PERF_OMB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OMB_PARTITIONS_MAX 64
#define OMB_THREADS_MAX 16
#define OMB_STAMP_BYTES 8 /* the payload's head: intended send time, ns */
#define OMB_SEQ_BYTES 8   /* queue workload: then the message's number */
#define OMB_QUEUE_MESSAGES_MAX (100u * 1000 * 1000)
#define OMB_PREFETCH_MAX 8192

/* ---- latency histogram: log-linear, 64 sub-buckets per power of 2 ---- */

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_POW_MAX 40 /* 2^40 ns = 18 minutes: anything longer is clamped */
#define HIST_BUCKETS ((HIST_POW_MAX - HIST_SUB_BITS + 2) * HIST_SUB)

struct hist {
	uint64_t count[HIST_BUCKETS];
	uint64_t total;
	uint64_t max_ns;
};

/* Thread-safe (relaxed atomics); relative error under 1/64. */
void hist_record(struct hist *h, uint64_t ns);
/* Adds src into dst (single-threaded, after the recorders stopped). */
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at quantile q in [0, 1] (upper edge of its bucket, capped by
 * the max), in ns; 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

/* ---- the workload ---- */

enum omb_workload {
	OMB_LOG = 0,   /* a log read by every consumer, for a time */
	OMB_QUEUE = 1, /* a queue worked off by competing consumers, N msgs */
};

struct omb_conf {
	int workload;          /* enum omb_workload */
	const char *system;    /* backend name */
	const char *addr;      /* "host:port" of the system */
	const char *addr2;     /* a second address (sluice's native port for
				  the Kafka backend's topic creation) or NULL */
	char topic[128];       /* unique per run */
	int partitions;        /* 1..OMB_PARTITIONS_MAX */
	int producers;         /* 1..OMB_THREADS_MAX */
	int consumers;         /* 0..OMB_THREADS_MAX */
	uint32_t size;         /* message bytes, >= OMB_STAMP_BYTES */
	double rate;           /* total msgs/s; 0: as fast as acks allow */
	double warmup_s;
	double duration_s;     /* measured, after the warm-up */
	const char *opt;       /* backend option string (e.g. "qos=1"), or "" */
	/* OMB_QUEUE: rate 0 publishes everything before consuming (drain) */
	uint64_t messages;     /* published in all, 1..OMB_QUEUE_MESSAGES_MAX */
	uint32_t prefetch;     /* unacknowledged messages per consumer */
};

/* One producer's or consumer's figures, filled by the callbacks. */
struct omb_side {
	const struct omb_conf *conf;
	int id;
	uint64_t window_start_ns, window_end_ns; /* stamps that count */
	uint64_t sent;     /* publish calls accepted (all, warm-up included) */
	uint64_t acked;    /* acks of any stamp */
	uint64_t errors;   /* failed acks */
	uint64_t counted;  /* acked (or consumed) inside the window */
	uint64_t bytes;    /* their bytes */
	uint64_t received; /* consumer: all messages */
	struct hist *lat;  /* publish-to-ack or publish-to-consume */
	/* the queue workload's consumers (queue.c) */
	uint64_t redelivered; /* deliveries after the first (not in lat) */
	uint64_t duplicates;  /* successful acks of a message acked before */
	uint64_t first_ns;    /* producer: first publish call; consumer: first
				 receipt */
	uint64_t last_ns;     /* producer: every publish acked; consumer: its
				 last successful ack returned */
	struct hist *call;    /* consumer: one ack call's duration */
	char err[256];     /* the first error, for the report */
};

/* A backend calls these: thread-safe. */
void omb_acked(struct omb_side *s, uint64_t stamp_ns, int err);
void omb_consumed(struct omb_side *s, const void *payload, size_t len);
/* Records the first error message of a side (printf-like). */
void omb_error(struct omb_side *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t omb_now_ns(void);
/* The stamp in a payload (0 when shorter than OMB_STAMP_BYTES). */
uint64_t omb_payload_stamp(const void *payload, size_t len);
/* One latency histogram as a JSON member "name":{...} on stdout. */
void omb_print_lat(const char *name, const struct hist *h);

/* ---- the queue workload (queue.c) ---- */

struct omb_backend;

/* Runs it with backend be (which has queue_consumer_*): prints one JSON
 * line; 0, or 1 when something failed (the line says what). */
int omb_queue_run(const struct omb_backend *be, const struct omb_conf *c);
/* A queue consumer received a message (before acknowledging it):
 * redelivered when it was handed out before.  Thread-safe. */
void omb_queue_received(struct omb_side *s, const void *payload, size_t len,
			bool redelivered);
/* Its acknowledgement returned after call_ns: err 0 (done) or the
 * error.  payload is the message's (its number marks it acked). */
void omb_queue_acked(struct omb_side *s, const void *payload, size_t len,
		     uint64_t call_ns, int err);

/* ---- the backend interface ---- */

struct omb_backend {
	const char *name;
	const char *client; /* the client library, for the report */
	/* Create the topic and its partitions.  0 or -errno/negative. */
	int (*setup)(const struct omb_conf *c);
	/* Remove what setup made (best effort). */
	void (*teardown)(const struct omb_conf *c);

	int (*producer_create)(const struct omb_conf *c, struct omb_side *s,
			       void **out);
	/*
	 * Publish one message to a partition.  Its ack (or failure) is
	 * reported through omb_acked(s, stamp_ns, err) from a later
	 * producer_poll/flush (or a library thread).  Returns 0, -EAGAIN when
	 * the backend's window of messages in flight is full (poll, then try
	 * again), or another negative code (the run fails).
	 */
	int (*produce)(void *p, int partition, const void *buf, size_t len,
		       uint64_t stamp_ns);
	/* Process acks, waiting up to timeout_ms for one when any are
	 * outstanding.  >= 0 or a negative code. */
	int (*producer_poll)(void *p, int timeout_ms);
	/* Wait up to timeout_ms for every outstanding ack. */
	int (*producer_flush)(void *p, int timeout_ms);
	void (*producer_destroy)(void *p);

	/* A consumer of the given partitions, positioned at their ends. */
	int (*consumer_create)(const struct omb_conf *c, struct omb_side *s,
			       const int *partitions, int n, void **out);
	/* Deliver what arrives within about timeout_ms to omb_consumed(). */
	int (*consumer_poll)(void *cn, int timeout_ms);
	void (*consumer_destroy)(void *cn);

	/* The queue workload; NULL when the backend has none.  A consumer
	 * competing with the others for the queue setup() made (with
	 * c->workload OMB_QUEUE), holding at most c->prefetch messages
	 * unacknowledged. */
	int (*queue_consumer_create)(const struct omb_conf *c,
				     struct omb_side *s, void **out);
	/* Receive what comes within about timeout_ms; for each message
	 * omb_queue_received(), then one acknowledgement of that message
	 * alone (accept: done), then omb_queue_acked().  Returns the
	 * messages handled, or a negative code (the consumer stops). */
	int (*queue_consumer_poll)(void *q, int timeout_ms);
	void (*queue_consumer_destroy)(void *q);
};

/* Each backend's file defines one; a backend whose library was not found
 * at configure time is not linked, and its symbol is NULL (weak). */
extern const struct omb_backend omb_backend_sluice __attribute__((weak));
extern const struct omb_backend omb_backend_kafka __attribute__((weak));
extern const struct omb_backend omb_backend_redis __attribute__((weak));
extern const struct omb_backend omb_backend_nats __attribute__((weak));
extern const struct omb_backend omb_backend_rabbitmq __attribute__((weak));
extern const struct omb_backend omb_backend_mqtt __attribute__((weak));

/* "host:port" split; port defaults to def_port.  0 or -EINVAL. */
int omb_split_addr(const char *addr, char *host, size_t cap, int *port,
		   int def_port);

#endif
