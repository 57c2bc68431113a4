/*
 * Share groups (Kafka's KIP-932): queues over topics.  A share group's
 * members consume the partitions of the topics they subscribe to
 * together, each message handed to one of them at a time, acknowledged,
 * released or rejected, handed out again when its lock lapses, a dead
 * letter after max deliveries.  This module serves the four Kafka APIs
 * (ShareGroupHeartbeat v1, ShareGroupDescribe v1, ShareFetch v1-2,
 * ShareAcknowledge v1-2) that sluiced forwards to sluice-control, and
 * holds:
 *
 *   - the groups: members (the ids their clients make), their
 *     subscriptions, epochs and sessions; every member is assigned every
 *     partition of the topics it subscribes to (a share group lets
 *     several members consume one partition), and a member whose
 *     heartbeats stop for session_timeout_ms leaves, its messages
 *     released;
 *   - the share sessions of ShareFetch/ShareAcknowledge, one per member;
 *   - a share partition (control/sharep.h) per group, topic and
 *     partition, filled from the partition's log, read through the local
 *     sluiced's Kafka listener (control/glog.h, one client per group and
 *     topic), with the stored batches of its window kept to hand out as
 *     they are (never re-encoded); a record's headers give it a priority
 *     ("sl-priority": "0".."9"), a delivery time ("sl-deliver-at": Unix
 *     ms; "sl-delay-ms": ms after its timestamp) and a FIFO group
 *     ("sl-group": any bytes, hashed);
 *   - the share partitions' state, in the share state file
 *     (control/sstore.h): every answer that changed a share partition is
 *     sent only after its changes are fdatasync'ed, so an acknowledged
 *     message is never handed out again after a crash, and each handed
 *     out message's delivery count survives it.
 *
 * A new share partition starts at the log's end (auto_offset_reset
 * "latest", Kafka's default) or at its start ("earliest").
 *
 * Single-threaded: the control plane's event loop owns it.
 */
#ifndef SLUICE_CONTROL_SHARE_H
#define SLUICE_CONTROL_SHARE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/sharep.h"

#define SL_SHARE_ANSWER_BYTES (1u << 20) /* records in one answer (Kafka's
					    max.partition.fetch.bytes);
					    it goes to sluiced in pieces */
#define SL_SHARE_POLL_MS 50                /* a waiting fetch re-reads
					      after a failed read */
#define SL_SHARE_READ_WAIT_MS 100          /* a read at the log's end
					      waits for more */
#define SL_SHARE_GROUPS_MAX 1024
#define SL_SHARE_MEMBERS_MAX 1024          /* per group */
#define SL_SHARE_CONNS_MAX 64              /* log readers polled */

struct sdisk;
struct sl_clock;
struct sl_share;

/* The topic called name: true with its id and partition count. */
typedef bool (*sl_share_topic_fn)(void *ctx, const char *name, size_t len,
				  uint32_t *id, int32_t *partitions);
/* The topic of id: true with its name (valid until the next call into
 * this module) and partition count. */
typedef bool (*sl_share_topic_id_fn)(void *ctx, uint32_t id,
				     const char **name, size_t *len,
				     int32_t *partitions);
/* A whole Kafka response (header included, no size prefix) for token; an
 * empty one (len 0): close the client's connection. */
typedef void (*sl_share_reply_fn)(void *ctx, uint64_t token,
				  const uint8_t *resp, size_t len);

struct sl_share_config {
	const struct sdisk *disk; /* NULL: sdisk_posix */
	/* the share partitions' clock (wall_ms; delivery times in headers
	 * are Unix ms); NULL: the system's */
	const struct sl_clock *clock;
	const char *dir;          /* where shares.log lives */
	uint16_t kafka_port;      /* the local sluiced's Kafka listener */
	uint32_t kafka_addr;      /* its IPv4 address (0: 127.0.0.1) */
	struct sl_sp_config sp;   /* every share partition's */
	int32_t heartbeat_interval_ms; /* > 0 */
	int32_t session_timeout_ms;    /* > 0 */
	bool earliest;            /* auto_offset_reset: earliest, not latest */
	sl_share_topic_fn topic;
	sl_share_topic_id_fn topic_id;
	void *topic_ctx;
	sl_share_reply_fn reply;
	/* a whole native answer frame (proto/native.h) for token, through
	 * the same ctx */
	sl_share_reply_fn native_reply;
	void *reply_ctx;
};

struct sl_share_stats {
	uint64_t acquired;     /* messages handed out (deliveries) */
	uint64_t accepted;
	uint64_t released;     /* by a consumer or a lapsed lock */
	uint64_t rejected;
	uint64_t dead_letters; /* archived: rejected or out of deliveries */
	uint64_t dead_letters_copied; /* to their dead-letter topic */
	uint64_t bad_acks;     /* INVALID_RECORD_STATE answered */
	uint64_t store_failures;
	uint64_t oversized;    /* a batch too big for an answer met */
};

/* 0 with *out, or -errno with err saying what to do (the state file). */
int sl_share_create(const struct sl_share_config *cfg, int64_t now_ms,
		    struct sl_share **out, char *err, size_t errlen);
/* Pending answers are dropped.  NULL allowed. */
void sl_share_destroy(struct sl_share *s);

/* Whether api key is one of the four this module serves. */
bool sl_share_serves(int16_t key);

/* One whole Kafka request of those APIs (no size prefix), answered once
 * through reply, now or later (a ShareFetch waits up to its MaxWaitMs for
 * messages).  Returns 0, or -EINVAL when it is not one this module can
 * answer at all (nothing replied: the caller closes the connection). */
int sl_share_request(struct sl_share *s, uint64_t token, const uint8_t *req,
		     size_t len, int64_t now_ms);

/* Whether a native opcode is a queue operation (QUEUE_RECEIVE,
 * QUEUE_ACK) this module answers. */
bool sl_share_native_serves(uint8_t opcode);
/* One whole native frame of those (docs/protocol.md), answered once
 * through native_reply, now or later (a receive waits up to its
 * max_wait_ms).  The answer's correlation id is (uint32_t)token.  Every
 * native consumer is a member of its queue group (a share group: the
 * same messages as Kafka's share consumers of that group), its session
 * the partitions it receives from.  Returns 0, or -EINVAL when the frame
 * is not one of those (nothing replied). */
int sl_share_native(struct sl_share *s, uint64_t token, const uint8_t *req,
		    size_t len, int64_t now_ms);

/* A DescribeConfigs or IncrementalAlterConfigs whose every resource is a
 * group (type 32): the groups' share.auto.offset.reset (latest, earliest;
 * DELETE: the broker's share_auto_offset_reset), persisted before the
 * answer.  Returns 0 (answered through reply), or -ENOENT when the
 * request is not one of those (the caller's admin module answers it). */
int sl_share_configs(struct sl_share *s, uint64_t token, const uint8_t *req,
		     size_t len, int64_t now_ms);

/* Event loop: the log readers' sockets (up to max), the time to the next
 * deadline (-1: none), one duty cycle. */
uint32_t sl_share_pollfds(const struct sl_share *s, struct pollfd *pfd,
			  uint32_t max);
int sl_share_timeout_ms(const struct sl_share *s, int64_t now_ms);
void sl_share_do_work(struct sl_share *s, int64_t now_ms);

void sl_share_get_stats(const struct sl_share *s, struct sl_share_stats *out);

#endif
