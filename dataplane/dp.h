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
 * A struct dp_msg carries one typed request (dataplane/request.h) from a
 * front-end on a net core to a storage core (or to control, through the
 * main thread) and its typed result back, through the completion ring of
 * the net core that made it.  No storage core or control path reads or
 * writes a client protocol's bytes: the front-end that made the request
 * decodes it and encodes the answer (its done callback, on its net core).
 * Memory for messages comes from a preallocated pool and is accounted
 * against memory_budget_bytes (dataplane/msg.h); when the budget is spent
 * producers are throttled.
 */
#ifndef SLUICE_DATAPLANE_DP_H
#define SLUICE_DATAPLANE_DP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dataplane/cluster.h"
#include "dataplane/epoch_cache.h"
#include "dataplane/idem.h"
#include "dataplane/isr.h"
#include "dataplane/log.h"
#include "dataplane/msg.h"
#include "dataplane/producer_ids.h"
#include "dataplane/request.h"
#include "dataplane/txn_part.h"
#include "dataplane/ring.h"
#include "drivers/driver.h"
#include "proto/config.h"
#include "proto/native.h"
#include "storage/cleaner.h"
#include "storage/log.h"

#define DP_MAX_TOPICS 1024
#define DP_MAX_STORAGE_CORES 64
#define DP_MAX_NET_CORES 16
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

/* Storage core counters (single writer: that core). */
struct dp_store_stats {
	uint64_t batches, batch_bytes, duplicates, appends;
	uint64_t log_full;        /* SL_EFULL answered with throttling */
	struct swriter_stats pool; /* the write buffer pool (storage/log.h):
				      pool.empty = appends refused because
				      no buffer was free */
	uint64_t storage_errors;  /* acks answered KAFKA_STORAGE_ERROR */
	uint64_t timeouts;        /* acks answered REQUEST_TIMED_OUT */
	uint64_t fetches, fetch_bytes, parked, list_offsets, delete_records;
	uint64_t retention_runs, segments_deleted;
	/* compaction: the core's cleaner's counters (scleaner_get_stats),
	 * refreshed each tick, and refusals of keyless records */
	struct scleaner_stats cleaner;
	uint64_t cleaner_calls, cleaner_errors, keyless_refused;
	/* idempotence refusals, found here rather than on the net core;
	 * telemetry adds them to net0's bad_ counters of the same names */
	uint64_t out_of_order, fenced_epoch;
	/* transactions: markers written, refused for an older epoch, for
	 * an older coordinator epoch; a transactional batch refused
	 * because its partition has TXN_OPEN_MAX transactions open */
	uint64_t markers, markers_fenced, markers_coordinator_fenced;
	uint64_t txn_refused;
	uint64_t loops, idle_waits;
} __attribute__((aligned(64)));

struct dp_topic;
struct dp_msg;

struct dp_partition {
	struct dp_topic *topic;
	int32_t index;
	uint32_t core;          /* owning storage core */
	struct dp_store_core *sc; /* that core, once opened there */
	/* net cores -> owner; NULL until the first message (dp_part_ring),
	 * then kept until the topic is freed */
	_Atomic(struct dp_ring *) ring;
	/* owner-only from here */
	struct slog *log;       /* NULL: closed (topic deleted) */
	struct idem_table idem;
	struct txn_part txn;    /* its transactions (txn_part.h) */
	uint64_t txn_bad_markers; /* control batches whose key could not be
				     read when the log was read again */
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
	uint64_t clean_check_ns; /* owner: when the cleaner next asks whether
				    a pass is due (compacted topics) */
	struct slog_stats log_stats;
	uint64_t ring_occupancy;
	/* the cluster (dataplane/cluster.h): the view main keeps (under
	 * dp->cluster_lock), and the owner's copy that decides */
	struct dp_pview view;
	struct isr_set isr;     /* owner */
	struct epoch_cache epc; /* owner: the log's leader epochs */
	int64_t hw;             /* owner: the high watermark */
	int64_t hw_saved;       /* owner: the one in its checkpoint file
				   (storage_core.c), -1: none written */
	struct dp_msg *rep_pending; /* owner: a follower's append waiting
				       to be durable */
	uint64_t alter_after_ns; /* owner: no ALTER_ISR before this */
	uint64_t isr_asked_ns;  /* owner: a replica counted in sync before
				   control agreed (0: none); asked for
				   again every 2 s until a new state */
	int64_t high_watermark; /* counter copy of hw, read by telemetry */
};

struct dp_topic {
	uint32_t id;
	char name[SN_NAME_MAX + 1];
	int32_t partitions;
	uint8_t durability;
	int64_t retention_ms, retention_bytes, segment_bytes;
	_Atomic int live;       /* 1: served; 0: deleted */
	struct dp_partition *parts;
	/* compaction: written by main (dp_topic_put), read by the storage
	 * cores (relaxed: each is a setting on its own; a core may clean one
	 * step with a mix of the old and new settings) */
	_Atomic uint8_t cleanup_policy;   /* SN_CLEANUP_* bits */
	_Atomic uint64_t clean_dirty_ratio_bits; /* a double's bits */
	_Atomic int64_t clean_min_lag_ms, clean_max_lag_ms,
		clean_delete_retention_ms;
	/* retention as last put (relaxed, as the compaction settings): the
	 * storage cores apply it at their next retention pass */
	_Atomic int64_t live_retention_ms, live_retention_bytes;
};

struct dp_net;
struct dp_chain;

struct dp_msg {
	struct drv_buf out;     /* the response as a driver buffer (TCP) */
	struct dp_msg *next;    /* storage core: ack and park lists */
	uint8_t op;             /* enum dp_op (request.h); 0: an answer
				   made on the net core */
	uint8_t close_after;    /* close the connection after this answer */
	uint8_t no_seq;         /* TCP: takes no place in the answer order */
	uint8_t udp;            /* a datagram's: answered to peer */
	struct dp_net *net;     /* the net core that made it; the result
				   comes back to it */
	/* Called on that net core with the result filled in (the storage
	 * core or control is done with m); the front-end encodes its
	 * protocol's answer and hands m on (conn.h) or frees it.  NULL for
	 * requests nobody waits for (acks=0 produce): freed where done. */
	void (*done)(struct dp_net *n, struct dp_msg *m);
	/* the front-end's */
	uint32_t conn, seq;     /* TCP: connection (any value, 0 too), place
				   in the answer order */
	uint32_t corr;          /* the client's correlation id */
	struct drv_peer peer;   /* UDP: where the answer goes */
	uint32_t udp_req_bytes; /* UDP: the request datagram's length; the
				   reply may not be longer */
	void *owner;            /* the request this is a share of (Kafka) */
	uint32_t owner_idx;     /* its index there */
	/* the storage core's */
	struct dp_partition *part;
	uint64_t deadline_ns;   /* acks timeout, long-poll end (monotonic) */
	/* the request and its result */
	union {
		struct dp_produce produce;
		struct dp_fetch fetch;
		struct dp_list_offsets list;
		struct dp_producers prod;
		struct dp_admin admin;
		struct dp_delete_records del;
		struct dp_write_marker marker;
		struct dp_epoch_end epoch_end;
		struct dp_replica_truncate rtrunc;
		struct dp_replica_append rappend;
	} rq;
	struct dp_result res;
	uint8_t *req;           /* produce: the batch; admin: the request */
	uint32_t req_len;
	void *req_token;        /* req lives in a driver buffer (an mbuf):
				   req_release(req_token) gives it back
				   (dp_msg_release_req) */
	void (*req_release)(void *token);
	/* the answer, as the front-end encoded it */
	uint8_t *resp;
	uint32_t resp_len;
	struct dp_chain *chain; /* the answer is resp plus pieces kept
				   elsewhere (conn.h); sent and freed by the
				   connection layer */
	uint8_t *resp_heap;     /* separately allocated response */
	struct dp *dp;          /* whose pool and budget it came from */
	size_t accounted;       /* bytes charged to the budget, in all */
	uint32_t reserved;      /* TCP: response bytes counted against the
				   connection's unsent cap until sent */
	uint8_t inline_resp[64];
	/* request bytes (or a front-end's request state: aligned for any
	 * struct) */
	_Alignas(16) uint8_t data[];
};

struct dp_cmd {
	int op; /* DPC_OPEN, DPC_CLOSE, DPC_FORGET, DPC_STATE, DPC_WIPE */
	struct dp_partition *part;
	int rc;
	_Atomic int done;
};
/* DPC_FORGET: the partition of a deleted topic (closed already) leaves
 * the core: its ring is drained one last time and the core keeps no
 * pointer to it (topics.c frees it next). */
/* DPC_STATE: the partition's new place in the cluster: the core takes
 * p->view (main, its only writer, waits meanwhile). */
/* DPC_WIPE: a partition this broker no longer replicates (a reassignment
 * moved it away, maybe while the broker was down): its log is closed,
 * its directory removed and made again, and an empty log opened at
 * offset 0 (producer state, epochs and high watermark with it), as
 * Kafka deletes a replica it stops hosting; rc 1.  An empty log (start
 * and end 0) is left alone: rc 0.  Should it become a replica again, it
 * fetches everything from its leader. */
enum { DPC_OPEN = 1, DPC_CLOSE = 2, DPC_FORGET = 3, DPC_STATE = 4,
       DPC_WIPE = 5 };

struct dp_store_core {
	uint32_t id;
	struct dp *dp;
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
	uint64_t next_tick_ns, next_retention_ns; /* monotonic */
	uint64_t next_hw_save_ns;    /* monotonic: the next checkpoints */
	/* compaction (storage/cleaner.h): one cleaner per core, one log at a
	 * time; cleaning is the log a pass is under way on (NULL: none),
	 * clean_next the round robin over parts[] */
	struct scleaner *cleaner;
	struct dp_partition *cleaning;
	uint32_t clean_next;
	uint64_t next_clean_ns;      /* monotonic: next step while busy */
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
	pthread_mutex_t topics_lock; /* telemetry's walks vs. main's frees */
	uint64_t topics_freed, topics_leaked;
	/* cores */
	uint32_t nstore;
	struct dp_store_core *store[DP_MAX_STORAGE_CORES];
	/* net cores (net.h): each a driver instance and its connections */
	uint32_t nnet;
	struct dp_net *net[DP_MAX_NET_CORES];
	uint16_t udp_port, tcp_port, kafka_port; /* as bound */
	/* the largest UDP frame served and advertised (native METADATA):
	 * cfg.udp_max_frame, lowered to what the driver takes whole (DPDK:
	 * one MTU); set before the net cores run */
	_Atomic uint32_t udp_frame_max;
	/* time: monotonic for deadlines, wall for timestamps (tests hand
	 * in a fake one) */
	const struct sl_clock *clock;
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
	/* the cluster (cluster.h): brokers and partition views, written
	 * by main; ALTER_ISR requests, storage cores -> main */
	pthread_rwlock_t cluster_lock;
	struct dp_broker *brokers; /* SIPC_BROKERS_MAX, node id order */
	unsigned nbrokers;
	/* this broker is fenced (BROKERS says so): it answers as no
	 * partition's leader until unfenced (docs/cluster.md) */
	_Atomic int self_fenced;
	struct dp_ring *alter_ring;
	/* the follower fetcher (fetcher.h): NULL when none runs; its epoch
	 * moves at the top of each of its cycles, as a net core's (topics.c
	 * waits for it before freeing a deleted topic) */
	struct dp_fetcher *fetcher;
	_Atomic uint64_t fetch_epoch;
	int fetch_wake_fd;         /* wakes it (set while it runs) */
};


/* 1 when this sluiced is a cluster's broker (controller_quorum_voters
 * set), 0 for a single broker (dataplane/cluster.h). */
static inline bool dp_clustered(const struct dp *dp)
{
	return dp->cfg.controller_quorum_voters[0] != '\0';
}

/* The monotonic clock of deadlines, in nanoseconds. */
static inline uint64_t dp_now_ns(const struct dp *dp)
{
	return dp->clock->mono_ns(dp->clock->ctx);
}

/* Messages: dataplane/msg.h. */
/* The storage core or control is done with m (its result is filled in):
 * back to the net core that made it (any thread); a message nobody waits
 * for (m->done NULL) is freed. */
void dp_complete(struct dp_msg *m);
/* Control's answer to an admin request (main thread): its len bytes at
 * answer (the client protocol's answer, which control encoded) into m's
 * answer buffer after the front-end's headroom, or an error (err, or no
 * bytes: UNKNOWN_SERVER_ERROR); then dp_complete. */
void dp_admin_complete(struct dp *dp, struct dp_msg *m,
		       const uint8_t *answer, size_t len, int16_t err);
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
/* What one partition ring costs the memory budget. */
size_t dp_ring_bytes(const struct dp *dp);
int dp_topic_put(struct dp *dp, const struct sn_topic_info *t);
int dp_topic_delete(struct dp *dp, uint32_t topic_id);
int dp_topics_load_cache(struct dp *dp);

/* storage cores */
/* Core id, ready to run on the calling thread (dp_store_step: tests). */
int dp_store_create(struct dp *dp, uint32_t id);
/* Core id on a thread of its own (sl-store<id>). */
int dp_store_start(struct dp *dp, uint32_t id);
void dp_store_join(struct dp *dp, uint32_t id);
/* Run a command on the owning core and wait for it (main thread). */
int dp_store_cmd(struct dp *dp, uint32_t core, int op,
		 struct dp_partition *p);
void dp_store_wake(struct dp_store_core *c);
/* One duty cycle of core c on the calling thread (store_main's loop, and
 * tests that drive a core under a fake clock).  Returns the work done. */
int dp_store_step(struct dp_store_core *c);

/* Submit m (a typed request, m->op set) to partition p's storage core
 * from net core n.  0, or -ENOBUFS when the ring is full or the budget
 * for rings is spent (m untouched: the caller answers). */
int dp_store_submit(struct dp_net *n, struct dp_partition *p,
		    struct dp_msg *m);
/* Submit an admin request (m->op DP_ADMIN, made with at least len data
 * bytes) to control through the main thread: the client's len bytes at
 * req, of protocol (enum dp_admin_protocol); control's answer comes back
 * after headroom bytes of m's answer buffer.  0, or -EAGAIN when control
 * is not synchronised, -ENOBUFS when the queue is full (m is not sent:
 * the caller answers). */
int dp_admin_submit(struct dp *dp, struct dp_msg *m, uint8_t protocol,
		    uint32_t headroom, const uint8_t *req, size_t len);


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
/* Stop serving telemetry (before the drivers and cores it reads go). */
void dp_stats_stop(void);

#endif
