/*
 * The link from sluice-control to sluiced (proto/ipc.h is the protocol).
 *
 * States: DOWN (not connected; a connect is tried when the backoff, 100 ms
 * doubling to 2 s, has passed) -> HELLO (HELLO sent, waiting for its
 * reply) -> SYNC (TOPIC_DELETE for each tombstone whose name is not live,
 * then TOPIC_PUT for every topic, at most SL_LINK_WINDOW unanswered, then
 * SYNC_DONE) -> READY.  Any error, a closed socket or a reply that takes
 * longer than SL_LINK_TIMEOUT_MS drops the link to DOWN, forgets the queue
 * and starts over: every sync pushes everything again, so restarting either
 * process keeps every topic.
 *
 * The link keeps "pushed", a copy of the topic set as sluiced has been (or
 * is being) told; sl_link_changed() diffs the store against it and queues
 * TOPIC_PUT / TOPIC_DELETE for the differences.  An ADMIN request's reply
 * waits in the queue behind the op for the topic it changed.
 *
 * Single-threaded: the control plane's event loop owns it.
 */
#ifndef SLUICE_CONTROL_IPC_H
#define SLUICE_CONTROL_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "control/metadata.h"
#include "proto/config.h"
#include "proto/ipc.h"

#define SL_LINK_WINDOW 32
#define SL_LINK_QUEUE 40000 /* > topics + tombstones + partitions + admin */
#define SL_LINK_TIMEOUT_MS 10000
#define SL_LINK_BACKOFF_MIN_MS 100
#define SL_LINK_BACKOFF_MAX_MS 2000
#define SL_LINK_BURST 64   /* messages read per sl_link_do_work */

enum sl_link_state { SL_LINK_DOWN, SL_LINK_HELLO, SL_LINK_SYNC,
		     SL_LINK_READY };

struct sl_link_op {
	uint8_t opcode;       /* SIPC_TOPIC_PUT / _DELETE / SYNC_DONE /
				 BROKERS / PARTITION_STATE */
	uint8_t sent, done;
	uint8_t has_admin;    /* send admin_resp as an ADMIN reply when done */
	uint32_t corr;        /* ours, when sent */
	uint32_t admin_corr;  /* sluiced's ADMIN correlation id */
	uint16_t admin_len;
	uint8_t admin_resp[64];
	uint32_t topic_id;    /* PARTITION_STATE: encoded when sent */
	int32_t partition;
	struct sl_topic topic;
};

/* A partition's state as sluiced was told it (PARTITION_STATE). */
struct sl_link_pstate {
	uint32_t topic_id;
	int32_t partition;
	int32_t leader, leader_epoch, partition_epoch, min_isr;
	uint8_t nreplicas, nisr;
	int32_t replicas[8], isr[8];
};

/* A Kafka admin response held until sluiced has applied the change. */
struct sl_kafka_deferred {
	uint64_t op_seq;      /* the last op the change queued */
	uint32_t corr;        /* sluiced's KAFKA correlation id */
	uint32_t len;
	uint8_t native;       /* 1: an ADMIN reply (a native frame) */
	uint8_t *resp;        /* NULL: slot free */
};
#define SL_KAFKA_DEFERRED 64

struct sl_groups;
struct sl_txn;
struct sl_gtxn;
struct sl_cluster;
struct sl_ci_image;

struct sl_link {
	char path[PATH_MAX];
	const struct sl_config *cfg;
	struct sl_meta *meta;   /* the store (not owned) */
	struct sl_meta *pushed; /* owned: what sluiced was told */
	int fd;
	enum sl_link_state state;
	uint32_t next_corr;
	uint32_t hello_corr;
	int64_t retry_at_ms, backoff_ms, waiting_since_ms;
	int down_logged;
	uint32_t peer_pid;
	/* FIFO of ops: [head, tail) queued, [head, send) sent */
	struct sl_link_op *ops;
	uint64_t head, send, tail;
	uint8_t buf[SIPC_MAX_MESSAGE];  /* sending */
	uint8_t rbuf[SIPC_MAX_MESSAGE]; /* receiving */
	/* Kafka requests (group coordinator: not owned, may be NULL) */
	struct sl_groups *groups;
	struct sl_txn *txn;     /* transaction coordinator (not owned) */
	struct sl_share *share; /* share groups (not owned, may be NULL) */
	struct sl_route *route; /* routing rules (not owned, may be NULL) */
	struct sl_gtxn *gtxn;   /* a cluster's transactional offsets (not
				   owned, NULL on a single broker): served
				   before txn */
	struct sl_cluster *cluster; /* a cluster's broker (not owned, NULL
				       on a single broker): topic changes go
				       to the active controller */
	/* a cluster's brokers and partition states, pushed after the
	 * topics (image not owned; NULL on a single broker) */
	const struct sl_ci_image *image;
	struct sl_link_pstate *ppushed; /* sorted by topic id, partition */
	uint32_t ppushed_count;
	uint64_t bpushed_hash;          /* of the broker list last queued */
	int self_fenced;                /* this broker pushed as fenced
					   whatever the image says
					   (sl_link_self_fenced) */
	int broken;             /* -errno of a failed send, dropped later */
	struct sl_kafka_deferred deferred[SL_KAFKA_DEFERRED];
	uint8_t kbuf[SIPC_MAX_MESSAGE]; /* a Kafka response being built */
	/* counters */
	uint64_t connects, syncs, admin_requests, bad_messages;
	uint64_t kafka_requests;
	uint64_t peers_refused; /* control_socket served by another uid */
};

/* Allocates the queue and the pushed copy.  Returns 0 or -ENOMEM. */
int sl_link_create(struct sl_link *l, const struct sl_config *cfg,
		   struct sl_meta *meta);
void sl_link_destroy(struct sl_link *l);

/* The fd to poll for input (-1 when down) and the poll timeout in ms it
 * needs (a reconnect or a timeout due), at most max_ms. */
int sl_link_fd(const struct sl_link *l);
int sl_link_timeout_ms(const struct sl_link *l, int64_t now_ms, int max_ms);

/* One duty cycle: connect if due, read up to SL_LINK_BURST messages, send
 * what the window allows, check timeouts.  Returns the work done. */
int sl_link_do_work(struct sl_link *l, int64_t now_ms);

/* The store changed (re-read or written): queue the differences. */
void sl_link_changed(struct sl_link *l, int64_t now_ms);

/* Drop the connection (shutdown). */
void sl_link_close(struct sl_link *l);

/* The group and transaction coordinators' reply function
 * (control/groups.h, control/txn.h): ctx is the link, token the link generation (high 32 bits) and sluiced's
 * correlation id. */
void sl_link_kafka_reply(void *ctx, uint64_t token, const uint8_t *resp,
			 size_t len);

/*
 * The cluster's answer to a topic request it took (control/cluster.h):
 * token as above; native 1 for an ADMIN request (resp a native frame),
 * 0 for a Kafka one; len 0 closes the client's connection (it retries).
 * The answer waits until sluiced has applied the topic changes queued so
 * far.
 */
void sl_link_cluster_reply(void *ctx, uint64_t token, int native,
			   const uint8_t *resp, size_t len);

/* The answer to sluiced's ALTER_ISR (token as above): a Kafka error
 * number or 0. */
/* A cluster's broker must stop (fenced 1) or may resume (0) acting as a
 * leader (control/cluster.h hooks.self_fenced): BROKERS is pushed again
 * with this broker marked fenced (or as the image has it). */
/* A native answer frame of the share groups (token: as given to
 * sl_share_native). */
void sl_link_native_reply(void *ctx, uint64_t token, const uint8_t *resp,
			  size_t len);
void sl_link_self_fenced(void *ctx, int fenced);
void sl_link_alter_isr_reply(void *ctx, uint64_t token, int16_t error);

#endif
