/*
 * sluiced's internal shared state: topics, partitions, cores, messages and
 * counters.  Private to dataplane/ (docs/dataplane.md draws the picture).
 *
 * Threads:
 *   main        config, control socket (control.c), signals, topic table
 *               changes, topics.cache, telemetry server start/stop;
 *   net core    one driver instance (drivers/driver.h): parses frames,
 *               validates batches, pushes messages into partition rings,
 *               sends completions back (net.c);
 *   storage     each owns the partitions hashed to it: drains their rings,
 *   cores       dedups, appends, releases acks, serves fetches and list
 *               offsets, applies retention (storage_core.c).
 *
 * A struct dp_msg carries one request from the net core to a storage core
 * and its response back (through the net core's completion ring).  Memory
 * for messages comes from a preallocated pool and is accounted against
 * memory_budget_bytes (dataplane/msg.h); when the budget is spent
 * producers are throttled.
 */
#ifndef SLUICE_DATAPLANE_DP_H
#define SLUICE_DATAPLANE_DP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "control/config.h"
#include "dataplane/idem.h"
#include "dataplane/log.h"
#include "dataplane/msg.h"
#include "dataplane/producer_ids.h"
#include "dataplane/ring.h"
#include "drivers/driver.h"
#include "proto/native.h"
#include "storage/log.h"

#define DP_MAX_TOPICS 1024
#define DP_MAX_STORAGE_CORES 64
#define DP_CORE_MAX_PARTITIONS 65536 /* per storage core */
#define DP_BURST 32
#define DP_CONN_WINDOW 32      /* requests in flight per TCP connection */
#define DP_MAX_PARKED 4096     /* long-poll fetches waiting per core */
#define DP_FETCH_MAX_BYTES (8u << 20)
#define DP_FETCH_READAHEAD (4u << 20) /* after a small fetch from the file */
#define DP_THROTTLE_MS 10
/* largest batch accepted: Kafka's message.max.bytes, the log's default
 * batch_max_bytes */
#define DP_BATCH_MAX_BYTES 1048588u
/* after a disk error, producers wait this long before resending */
#define DP_STORAGE_THROTTLE_MS 500
#define DP_IDEM_PRODUCERS 256  /* producers remembered per partition */
/* a Kafka produce waits this long for room in the write buffer before it
 * is refused (NOT_ENOUGH_REPLICAS, retriable) */
#define DP_STALL_MAX_MS 5000

enum dp_msg_kind { DPM_PRODUCE = 1, DPM_FETCH, DPM_LIST, DPM_ADMIN,
		   DPM_READY, DPM_KAFKA };
enum dp_transport { DPT_TCP = 0, DPT_UDP = 1 };

/* Malformed-input reasons, one counter each. */
#define DP_BAD_REASONS(X)                                                    \
	X(BAD_MAGIC_OR_LENGTH, "bad_magic_or_length")                        \
	X(BAD_VERSION, "bad_version")                                        \
	X(UDP_LENGTH_MISMATCH, "udp_length_mismatch")                        \
	X(TRUNCATED_BODY, "truncated_body")                                  \
	X(UNKNOWN_OPCODE, "unknown_opcode")                                  \
	X(BAD_ACKS, "bad_acks")                                              \
	X(BAD_BATCH, "bad_batch")                                            \
	X(BATCH_TOO_LARGE, "batch_too_large")                                \
	X(UNKNOWN_TOPIC, "unknown_topic")                                    \
	X(OUT_OF_ORDER, "out_of_order_sequence")                             \
	X(FENCED_EPOCH, "fenced_epoch")                                      \
	X(RESPONSE_FRAME, "response_frame")                                  \
	X(KAFKA_FRAME, "kafka_bad_frame_size")                               \
	X(KAFKA_REQUEST, "kafka_malformed_request")                          \
	X(KAFKA_VERSION, "kafka_unsupported_version")                        \
	X(KAFKA_FORWARD, "kafka_control_unavailable")                        \
	X(BATCH_ATTRIBUTES, "batch_attributes")                              \
	X(BATCH_OFFSETS, "batch_offsets")                                    \
	X(BATCH_SEQUENCE, "batch_sequence")                                  \
	X(BATCH_TIMESTAMP, "batch_timestamp")                                \
	X(BATCH_RECORDS, "batch_records")

enum dp_bad {
#define DP_BAD_ENUM(n, s) DP_BAD_##n,
	DP_BAD_REASONS(DP_BAD_ENUM)
#undef DP_BAD_ENUM
	DP_BAD_COUNT
};
extern const char *const dp_bad_names[DP_BAD_COUNT];

/* The counter of a batch refused by rb_validate() with rc < 0: bad_batch
 * for length, magic and CRC32C, one of its own for each other rule. */
static inline enum dp_bad dp_bad_of_batch(int rc)
{
	return rc == SL_EATTRIBUTES ? DP_BAD_BATCH_ATTRIBUTES :
	       rc == SL_EOFFSETS    ? DP_BAD_BATCH_OFFSETS :
	       rc == SL_ESEQUENCE   ? DP_BAD_BATCH_SEQUENCE :
	       rc == SL_ETIMESTAMP  ? DP_BAD_BATCH_TIMESTAMP :
	       rc == SL_ERECORDS    ? DP_BAD_BATCH_RECORDS :
				      DP_BAD_BAD_BATCH;
}

/* Net core counters (single writer: the net core). */
struct dp_net_stats {
	uint64_t frames, frame_bytes;
	uint64_t produce, fetch, list_offsets, metadata, admin, init_pid;
	uint64_t kafka_requests, kafka_forwarded, kafka_waits;
	uint64_t bad[DP_BAD_COUNT];
	uint64_t ring_full;        /* produce throttled: partition ring full */
	uint64_t budget_exhausted; /* throttled: memory budget spent */
	uint64_t completions;
	uint64_t conn_paused;
	uint64_t conn_paused_unsent; /* not read: responses owed over
					conn_max_unsent_bytes */
	uint64_t udp_admin_refused;  /* admin opcode over UDP */
	uint64_t udp_reply_limited;  /* a UDP reply larger than its request
					replaced by a header-only error */
	uint64_t loops, idle_waits;
} __attribute__((aligned(64)));

/* Storage core counters (single writer: that core). */
struct dp_store_stats {
	uint64_t batches, batch_bytes, duplicates, appends;
	uint64_t log_full;        /* SL_EFULL answered with throttling */
	struct swriter_stats pool; /* the write buffer pool (storage/log.h):
				      pool.empty = appends refused because
				      no buffer was free */
	uint64_t storage_errors;  /* acks answered KAFKA_STORAGE_ERROR */
	uint64_t timeouts;        /* acks answered REQUEST_TIMED_OUT */
	uint64_t fetches, fetch_bytes, parked, list_offsets;
	uint64_t retention_runs, segments_deleted;
	/* idempotence refusals, found here rather than on the net core;
	 * telemetry adds them to net0's bad_ counters of the same names */
	uint64_t out_of_order, fenced_epoch;
	uint64_t loops, idle_waits;
} __attribute__((aligned(64)));

struct dp_topic;
struct dp_msg;

struct dp_partition {
	struct dp_topic *topic;
	int32_t index;
	uint32_t core;          /* owning storage core */
	/* net cores -> owner; NULL until the first message (dp_part_ring),
	 * then kept until the topic is freed */
	_Atomic(struct dp_ring *) ring;
	/* owner-only from here */
	struct slog *log;       /* NULL: closed (topic deleted) */
	struct idem_table idem;
	struct dp_msg *acks_head, *acks_tail; /* acks=-1 waiting, offset order */
	uint32_t acks_pending;
	struct dp_msg *w1_head, *w1_tail;     /* acks=1 waiting for the write,
						 offset order */
	struct dp_msg *parked;  /* long-poll fetches */
	/* a Kafka produce waiting for room in the write buffer, first, then
	 * the rest of its burst; the ring waits behind them */
	struct dp_msg *stalled[DP_BURST];
	uint32_t nstalled;
	uint64_t stalled_since_ns;
	/* counters: written by the owner, read by telemetry */
	uint64_t batches, bytes, duplicates, ring_drops, fetch_bytes;
	int64_t start_offset, end_offset, durable_offset;
	struct slog_stats log_stats;
	uint64_t ring_occupancy;
};

struct dp_topic {
	uint32_t id;
	char name[SN_NAME_MAX + 1];
	int32_t partitions;
	uint8_t durability;
	int64_t retention_ms, retention_bytes, segment_bytes;
	_Atomic int live;       /* 1: served; 0: deleted */
	struct dp_partition *parts;
};

struct dp_msg {
	struct drv_buf out;     /* the response as a driver buffer (TCP) */
	struct dp_msg *next;    /* ack / park lists */
	uint8_t kind, transport;
	uint8_t isolation;
	uint8_t kafka;          /* admin: a Kafka request for control */
	uint8_t close_after;    /* ready: close the connection after it */
	int16_t acks;
	uint32_t conn, seq, corr;
	struct drv_peer peer;
	struct dp_partition *part;
	struct dp_msg *parent;  /* a partition's share of a Kafka request
				   (dataplane/kafka.c); NULL otherwise */
	uint32_t kidx;          /* its index in the parent */
	uint64_t deadline_ns;   /* acks=-1 timeout, long-poll deadline */
	int64_t last_offset;    /* acks=-1: released when durable beyond */
	struct sn_fetch fetch;
	int64_t timestamp;      /* list offsets */
	uint8_t *req;           /* produce: batch; admin: request frame */
	uint32_t req_len;
	void *req_token;        /* req lives in a driver buffer (an mbuf):
				   dp_msg_release_req() gives it back */
	uint8_t *resp;          /* response frame */
	uint32_t resp_len;
	struct dp_chain *chain; /* the response is resp plus pieces kept
				   elsewhere (dataplane/kafka.c); freed
				   with the message */
	uint8_t *resp_heap;     /* separately allocated response (fetch) */
	size_t accounted;       /* bytes charged to the budget */
	uint32_t reserved;      /* TCP: response bytes counted against the
				   connection's unsent cap until sent */
	uint32_t udp_req_bytes; /* UDP: the request datagram's length; the
				   reply may not be longer */
	uint8_t inline_resp[64];
	uint8_t data[];         /* request bytes */
};

struct dp_cmd {
	int op; /* DPC_OPEN, DPC_CLOSE */
	struct dp_partition *part;
	int rc;
	_Atomic int done;
};
/* DPC_FORGET: the partition of a deleted topic (closed already) leaves
 * the core: its ring is drained one last time and the core keeps no
 * pointer to it (topics.c frees it next). */
enum { DPC_OPEN = 1, DPC_CLOSE = 2, DPC_FORGET = 3 };

struct dp_store_core {
	uint32_t id;
	pthread_t thread;
	struct swriter *w;
	int wake_fd;                 /* eventfd: rings and commands */
	_Atomic int sleeping;        /* 1 while blocked on wake_fd */
	_Atomic(struct dp_cmd *) cmd;
	struct dp_partition **parts; /* DP_CORE_MAX_PARTITIONS */
	uint32_t nparts;
	uint32_t refresh_next;       /* next partition whose counters are
					refreshed (a few per tick) */
	uint32_t parked;
	struct dp_store_stats st;
	uint64_t durable_cb_calls;
};

struct dp {
	struct sl_config cfg;
	_Atomic int stop;
	/* topic table: read-mostly; written by main only (topics.c says
	 * when a deleted topic's memory is freed) */
	_Atomic(struct dp_topic *) topics[DP_MAX_TOPICS];
	_Atomic uint64_t topic_gen;  /* deletes so far */
	_Atomic uint64_t net_epoch;  /* the net core's duty cycles */
	pthread_mutex_t topics_lock; /* telemetry's walks vs. main's frees */
	uint64_t topics_freed, topics_leaked;
	/* cores */
	uint32_t nstore;
	struct dp_store_core *store[DP_MAX_STORAGE_CORES];
	/* net core */
	pthread_t net_thread;
	const struct drv_ops *drv_ops;
	struct drv *drv;
	struct dp_ring *completions; /* storage cores / main -> net core */
	int net_wake_fd;
	_Atomic int net_sleeping;
	struct dp_net_stats net;
	uint16_t udp_port, tcp_port, kafka_port;
	/* admin forwarding: net -> main */
	struct dp_ring *admin_ring;
	int main_wake_fd;
	_Atomic int control_synced;
	/* memory (msg.h): charged by messages and partition rings */
	_Atomic uint64_t mem_used;
	uint64_t mem_limit;
	struct dp_msgpool msgpool; /* where messages' bytes come from */
	struct pid_blocks pids;    /* producer ids (producer_ids.h) */
	uint64_t start_ms;
};

extern struct dp *dp_g;

uint64_t dp_now_ns(void);

struct dp_chain;
/* Free a response chain that was never sent (kafka.c). */
void dp_chain_free(struct dp_chain *ch);

/* Messages: dataplane/msg.h. */
/* Send a finished message back to the net core (any thread). */
void dp_complete(struct dp *dp, struct dp_msg *m);
void dp_wake_fd(int fd);

/* topics */
struct dp_topic *dp_topic_by_id(struct dp *dp, uint32_t id);
/* The live topic named name[0..len), or NULL. */
struct dp_topic *dp_topic_by_name(struct dp *dp, const char *name,
				  size_t len);
struct dp_partition *dp_partition_get(struct dp *dp, uint32_t topic_id,
				      int32_t partition);
/* p's ring, created on first use (charged to the memory budget); NULL
 * when the budget is spent.  Any net core. */
struct dp_ring *dp_part_ring(struct dp *dp, struct dp_partition *p);
int dp_topic_put(struct dp *dp, const struct sn_topic_info *t);
int dp_topic_delete(struct dp *dp, uint32_t topic_id);
int dp_topics_load_cache(struct dp *dp);

/* storage cores */
int dp_store_start(struct dp *dp, uint32_t id);
void dp_store_join(struct dp *dp, uint32_t id);
/* Run a command on the owning core and wait for it (main thread). */
int dp_store_cmd(struct dp *dp, uint32_t core, int op,
		 struct dp_partition *p);
void dp_store_wake(struct dp_store_core *c);

/* net core */
int dp_net_start(struct dp *dp);
void dp_net_join(struct dp *dp);

/* control socket (main thread) */
int dp_control_run(struct dp *dp, int signal_fd);
/* Connections to the control socket refused by the peer check
 * (proto/local_socket.h); any thread. */
uint64_t dp_control_peers_refused(void);
/* One message of len bytes from control, replies sent on cfd; what
 * dp_control_run does with each (public for tests/fuzz/ipc_fuzz.c).
 * Returns 0, or -1 to drop the connection (a malformed message). */
int dp_control_handle(struct dp *dp, int cfd, const uint8_t *f, size_t len);

/* telemetry commands */
void dp_stats_register(struct dp *dp);

#endif
