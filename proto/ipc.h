/*
 * The control protocol between sluice-control and sluiced, version 1.
 *
 * sluiced listens on a Unix SOCK_SEQPACKET socket (config key
 * control_socket, default <data_dir>/run/sluiced.ctl); sluice-control
 * connects to it, and reconnects whenever the connection drops (either
 * process restarting).  One message per packet.  Every message is a native
 * frame (proto/native.h: the same 16-byte header, magic "SL", version 1)
 * with an opcode from the range below; a reply has bit 7 set, carries the
 * request's correlation id and an error code (native error numbers).
 *
 *   opcode  direction           body (offsets from the frame start)
 *   0x41    control -> sluiced  HELLO: 16 u32 ipc version (1), 20 u32 pid
 *           reply 0xC1          16 u32 ipc version, 20 u32 pid,
 *                               24 u16 udp port, 26 u16 tcp port
 *   0x42    control -> sluiced  TOPIC_PUT: 16 one topic entry exactly as in
 *                               a METADATA response (40 bytes + name,
 *                               sn_metadata_resp_add layout), then
 *                               optionally the compaction block (32
 *                               bytes): +0 u8 cleanup policy (1 delete,
 *                               2 compact, 3 both), +1 u8[7] 0, +8 f64
 *                               (IEEE bits) min.cleanable.dirty.ratio,
 *                               +16 i64 min.compaction.lag.ms, +24 i64
 *                               max.compaction.lag.ms; and +32 i64
 *                               delete.retention.ms (40 bytes in all).
 *                               Without it: cleanup policy delete.
 *                               Creates the topic's partition logs if
 *                               missing (and those of partitions added
 *                               since), or updates retention, durability
 *                               and compaction.  Idempotent.
 *           reply 0xC2          header only; error != 0 if the logs could
 *                               not be opened (e.g. KAFKA_STORAGE_ERROR)
 *   0x43    control -> sluiced  TOPIC_DELETE: 16 u32 topic id, 20 u16 name
 *                               length, 22 u16 0, 24 name.  Closes the logs
 *                               and deletes the topic's data.
 *           reply 0xC3          header only
 *   0x44    control -> sluiced  SYNC_DONE: header only.  After HELLO,
 *                               control sends TOPIC_PUT for every topic,
 *                               then SYNC_DONE; sluiced serves admin
 *                               requests only after it.
 *   0x45    sluiced -> control  ADMIN: 16 a whole native CREATE_TOPIC or
 *                               DELETE_TOPIC request frame from a client.
 *           reply 0xC5          16 the whole native response frame to send
 *                               back to the client.  Control persists the
 *                               change and pushes TOPIC_PUT / TOPIC_DELETE
 *                               before it replies.
 *   0x46    sluiced -> control  KAFKA: 16 a whole Kafka request (header and
 *                               body, without the 4-byte size prefix) of a
 *                               group, offset, transaction or admin API
 *                               (JoinGroup, SyncGroup, Heartbeat,
 *                               LeaveGroup, OffsetCommit, OffsetFetch,
 *                               DescribeGroups, ListGroups,
 *                               ConsumerGroupHeartbeat,
 *                               ConsumerGroupDescribe, CreateTopics,
 *                               DeleteTopics, DescribeConfigs;
 *                               InitProducerId with a transactional id,
 *                               AddPartitionsToTxn, AddOffsetsToTxn,
 *                               TxnOffsetCommit, EndTxn,
 *                               DescribeTransactions, ListTransactions).
 *           reply 0xC6          16 the whole Kafka response (without the
 *                               size prefix), sent when it is ready: a
 *                               JoinGroup is answered when its rebalance
 *                               completes, so replies come in any order
 *                               (matched by correlation id).  error != 0
 *                               and no body: close the client's
 *                               connection.
 *   0x47    control -> sluiced  BROKERS: the cluster's brokers, replacing
 *                               the list sent before (docs/cluster.md):
 *                               16 u16 count (at most SIPC_BROKERS_MAX),
 *                               then count entries, each
 *                                 +0  i32 node id
 *                                 +4  u16 Kafka port
 *                                 +6  u16 native port
 *                                 +8  u8  fenced (0 or 1)
 *                                 +9  u16 host length (1..SIPC_HOST_MAX)
 *                                 +11 u16 native UDP port (0: none)
 *                                 +13 u32 its IPv4 address, network
 *                                         order (0: at host)
 *                                 +17 host bytes
 *                               back to back (no padding).  sluiced lists
 *                               the unfenced ones in Metadata and reaches
 *                               partition leaders at their Kafka port.
 *           reply 0xC7          header only
 *   0x48    control -> sluiced  PARTITION_STATE: one partition's place in
 *                               the cluster, after TOPIC_PUT and on every
 *                               change:
 *                                 16 u32 topic id
 *                                 20 i32 partition
 *                                 24 i32 leader (node id; -1: none)
 *                                 28 i32 leader epoch
 *                                 32 i32 partition epoch
 *                                 36 u8  n replicas, then n i32 node ids
 *                                    u8  n in-sync, then n i32 node ids
 *                                    u8  min.insync.replicas
 *                               (39 + 4 * (replicas + in-sync) bytes).
 *           reply 0xC8          header only; error UNKNOWN_TOPIC_OR_PARTITION
 *                               when sluiced has no such partition;
 *                               FENCED_LEADER_EPOCH (74) for a state
 *                               older than the one it has (a lower leader
 *                               epoch, or the same with a lower partition
 *                               epoch: not applied); INVALID_REQUEST for
 *                               one it cannot take (an in-sync replica
 *                               that is not a replica, a leader outside
 *                               the in-sync set, more than 16 replicas).
 *                               The same state again is applied again
 *                               (a no-op), so control may resend.
 *   0x49    sluiced -> control  ALTER_ISR: a partition leader asks for a
 *                               new in-sync set (Kafka's AlterPartition):
 *                                 16 u32 topic id
 *                                 20 i32 partition
 *                                 24 i32 leader epoch (the leader's)
 *                                 28 i32 partition epoch (the state the
 *                                        change is made from)
 *                                 32 u8  n, then n i32 node ids
 *                               (33 + 4 * n bytes).
 *           reply 0xC9          header only; error 0 or a Kafka error
 *                               number (FENCED_LEADER_EPOCH 74,
 *                               INVALID_UPDATE_VERSION 108, ...).  The
 *                               new state comes back as PARTITION_STATE;
 *                               until then the leader keeps its in-sync
 *                               set.
 *
 * While no control connection is up, sluiced keeps serving the topics it
 * has (it caches the last topic set in <data_dir>/run/topics.cache) and
 * answers admin requests with UNKNOWN_SERVER_ERROR.
 *
 * A refused request (HELLO of another ipc version, an opcode the peer does
 * not know) is answered with the header alone: the request's opcode with
 * bit 7, its correlation id and the error.
 *
 * A message is valid if and only if its native header is (magic "SL",
 * version 1, length field = the packet's length, at most SIPC_MAX_MESSAGE),
 * its opcode is the one the decoder expects, and its body is:
 *   HELLO              exactly 8 bytes with ipc version 1 (another version
 *                      is -SN_ERR_UNSUPPORTED_VERSION);
 *   HELLO reply        error 0 and exactly 12 bytes with ipc version 1; a
 *                      refused HELLO is a header-only reply;
 *   TOPIC_PUT          exactly one topic entry: 40 bytes + its name length,
 *                      then nothing or the 40-byte compaction block with
 *                      a policy of 1..3 and zero padding;
 *   TOPIC_DELETE       exactly 8 bytes + its name length;
 *   SYNC_DONE, TOPIC_PUT reply, TOPIC_DELETE reply: empty;
 *   ADMIN, KAFKA       anything (control's admin module and group
 *                      coordinator judge the client's request and answer
 *                      malformed ones themselves);
 *   ADMIN reply        error 0 and a whole native response frame (valid
 *                      header, bit 7 set, its length the body's), or
 *                      error != 0 and empty;
 *   KAFKA reply        error 0 and a non-empty body, or error != 0 and
 *                      empty.
 *   BROKERS            count <= SIPC_BROKERS_MAX entries filling the
 *                      body exactly, each fenced 0 or 1 and host length
 *                      1..SIPC_HOST_MAX;
 *   PARTITION_STATE    exactly 39 + 4 * (replicas + in-sync) bytes;
 *   ALTER_ISR          exactly 33 + 4 * n bytes;
 *   BROKERS, PARTITION_STATE and ALTER_ISR replies: empty.
 * Decoders check exactly this; they do not judge the values (a topic name,
 * a partition count: the receiver does).
 *
 * proto/ipc.c holds the encoders and decoders.  Pure functions: no I/O, no
 * allocation, thread-safe.  Decoders take the whole message (header
 * included, as read from the socket) and its length, never read past it,
 * and return 0 or a negative native error (-SN_ERR_INVALID_REQUEST,
 * -SN_ERR_UNSUPPORTED_VERSION); pointers they fill point into the message.
 * Encoders write a whole message into buf and return its length, or
 * -ENOBUFS when cap is too small, -EMSGSIZE when the message would exceed
 * SIPC_MAX_MESSAGE.
 */
#ifndef SLUICE_PROTO_IPC_H
#define SLUICE_PROTO_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/native.h"

#define SIPC_VERSION 1
#define SIPC_MAX_MESSAGE 65536
/* An ADMIN or KAFKA reply longer than a message goes in pieces: each an
 * ADMIN/KAFKA reply message with error 0, a non-empty body of at most
 * SIPC_PIECE_MAX bytes and SIPC_FLAG_MORE in its flags, then the last
 * piece, an ordinary reply without the flag; the receiver joins the
 * bodies (the whole answer: at most SIPC_REPLY_MAX bytes), and judges the
 * joined answer as it would one message's body. */
#define SIPC_FLAG_MORE 0x0001
#define SIPC_PIECE_MAX (SIPC_MAX_MESSAGE - SN_HEADER_BYTES)
#define SIPC_REPLY_MAX (16u << 20)

enum sipc_opcode {
	SIPC_HELLO = 0x41,
	SIPC_TOPIC_PUT = 0x42,
	SIPC_TOPIC_DELETE = 0x43,
	SIPC_SYNC_DONE = 0x44,
	SIPC_ADMIN = 0x45,
	SIPC_KAFKA = 0x46,
	SIPC_BROKERS = 0x47,
	SIPC_PARTITION_STATE = 0x48,
	SIPC_ALTER_ISR = 0x49,
};

#define SIPC_HELLO_BYTES 24
#define SIPC_HELLO_REPLY_BYTES 28
#define SIPC_TOPIC_PUT_BYTES (SN_HEADER_BYTES + SN_TOPIC_ENTRY_BYTES) /* + name */
#define SIPC_TOPIC_DELETE_BYTES 24 /* + name */
#define SIPC_COMPACTION_BYTES 40  /* TOPIC_PUT's optional block */
#define SIPC_BROKERS_BYTES 18      /* + entries */
#define SIPC_BROKER_ENTRY_BYTES 17 /* + host */
#define SIPC_BROKERS_MAX 256
#define SIPC_HOST_MAX 255
#define SIPC_PARTITION_STATE_BYTES 39 /* + 4 per replica and in-sync id */
#define SIPC_ALTER_ISR_BYTES 33       /* + 4 per in-sync id */
#define SIPC_REPLICAS_MAX 255         /* a u8 count */

/* HELLO reply: who answered. */
struct sipc_hello_reply {
	uint32_t pid;      /* sluiced's process id */
	uint16_t udp_port; /* its native listeners */
	uint16_t tcp_port;
};

struct sipc_topic_delete {
	uint32_t topic_id;
	const char *name;  /* into the message (decode), not NUL-terminated */
	uint16_t name_len;
};

/* One broker of BROKERS. */
struct sipc_broker {
	int32_t node_id;
	uint16_t kafka_port;
	uint16_t native_port;
	uint8_t fenced;    /* 1: its session lapsed (docs/cluster.md) */
	const char *host;  /* into the message (decode), not NUL-terminated */
	uint16_t host_len;
	uint16_t udp_port; /* its native UDP port, 0: none */
	uint32_t udp_addr; /* where that is, network order; 0: at host */
};

/* PARTITION_STATE: node ids in the order control gives them. */
struct sipc_partition_state {
	uint32_t topic_id;
	int32_t partition;
	int32_t leader;          /* -1: no leader */
	int32_t leader_epoch;
	int32_t partition_epoch;
	uint8_t nreplicas, nisr;
	uint8_t min_isr;         /* min.insync.replicas */
	int32_t replicas[SIPC_REPLICAS_MAX];
	int32_t isr[SIPC_REPLICAS_MAX];
};

/* ALTER_ISR. */
struct sipc_alter_isr {
	uint32_t topic_id;
	int32_t partition;
	int32_t leader_epoch;
	int32_t partition_epoch;
	uint8_t nisr;
	int32_t isr[SIPC_REPLICAS_MAX];
};

/* ---- encoders ---- */

/* control -> sluiced */
long sipc_encode_hello(uint8_t *buf, size_t cap, uint32_t corr, uint32_t pid);
/* t->error is sent as given (0); t->name need not be NUL-terminated. */
long sipc_encode_topic_put(uint8_t *buf, size_t cap, uint32_t corr,
			   const struct sn_topic_info *t);
long sipc_encode_topic_delete(uint8_t *buf, size_t cap, uint32_t corr,
			      uint32_t topic_id, const char *name,
			      uint16_t name_len);
long sipc_encode_sync_done(uint8_t *buf, size_t cap, uint32_t corr);
/* resp: a whole native response frame, resp_len > 0. */
long sipc_encode_admin_reply(uint8_t *buf, size_t cap, uint32_t corr,
			     const uint8_t *resp, size_t resp_len);
/* resp: the Kafka response without its size prefix, resp_len > 0.  To
 * have sluiced close the client's connection instead, send
 * sipc_encode_reply(SIPC_KAFKA, corr, error). */
/* A piece of an ADMIN or KAFKA reply (opcode SIPC_ADMIN or SIPC_KAFKA):
 * len (1..SIPC_PIECE_MAX) bytes of it, SIPC_FLAG_MORE set when more
 * follow.  The last piece of an ADMIN reply is not a whole native frame
 * on its own: its receiver joins the pieces first. */
long sipc_encode_reply_piece(uint8_t *buf, size_t cap, uint8_t opcode,
			     uint32_t corr, const uint8_t *piece, size_t len,
			     int more);
/* A reply message's piece: error 0 and a body of 1..SIPC_PIECE_MAX
 * bytes; *more whether its flags say more follow. */
int sipc_decode_reply_piece(const uint8_t *f, size_t len, uint8_t opcode,
			    const uint8_t **piece, size_t *piece_len,
			    int *more);
long sipc_encode_kafka_reply(uint8_t *buf, size_t cap, uint32_t corr,
			     const uint8_t *resp, size_t resp_len);
/* n brokers (n <= SIPC_BROKERS_MAX, hosts 1..SIPC_HOST_MAX bytes, else
 * -EINVAL). */
long sipc_encode_brokers(uint8_t *buf, size_t cap, uint32_t corr,
			 const struct sipc_broker *b, unsigned n);
long sipc_encode_partition_state(uint8_t *buf, size_t cap, uint32_t corr,
				 const struct sipc_partition_state *s);

/* sluiced -> control */
long sipc_encode_hello_reply(uint8_t *buf, size_t cap, uint32_t corr,
			     const struct sipc_hello_reply *r);
/* req: the client's native frame / Kafka request (without size prefix). */
long sipc_encode_admin(uint8_t *buf, size_t cap, uint32_t corr,
		       const uint8_t *req, size_t req_len);
long sipc_encode_kafka(uint8_t *buf, size_t cap, uint32_t corr,
		       const uint8_t *req, size_t req_len);
long sipc_encode_alter_isr(uint8_t *buf, size_t cap, uint32_t corr,
			   const struct sipc_alter_isr *a);

/* Either way: a reply with the header alone to a request of opcode (bit 7
 * is set here): TOPIC_PUT / TOPIC_DELETE / BROKERS / PARTITION_STATE /
 * ALTER_ISR replies, refusals. */
long sipc_encode_reply(uint8_t *buf, size_t cap, uint8_t opcode,
		       uint32_t corr, int16_t error);

/* ---- decoders (f: the whole message, len: its length) ---- */

/* sluiced decodes */
int sipc_decode_hello(const uint8_t *f, size_t len, uint32_t *pid);
/* t->name points into f; t->error is whatever was sent. */
int sipc_decode_topic_put(const uint8_t *f, size_t len,
			  struct sn_topic_info *t);
int sipc_decode_topic_delete(const uint8_t *f, size_t len,
			     struct sipc_topic_delete *r);
int sipc_decode_sync_done(const uint8_t *f, size_t len);
/* *resp_len is 0 when the reply carries an error instead. */
int sipc_decode_admin_reply(const uint8_t *f, size_t len,
			    const uint8_t **resp, size_t *resp_len);
int sipc_decode_kafka_reply(const uint8_t *f, size_t len,
			    const uint8_t **resp, size_t *resp_len);
/* Up to SIPC_BROKERS_MAX brokers into out (room for that many); *n
 * how many.  Hosts point into f. */
int sipc_decode_brokers(const uint8_t *f, size_t len, struct sipc_broker *out,
			unsigned *n);
int sipc_decode_partition_state(const uint8_t *f, size_t len,
				struct sipc_partition_state *s);

/* sluice-control decodes */
int sipc_decode_hello_reply(const uint8_t *f, size_t len,
			    struct sipc_hello_reply *r);
int sipc_decode_admin(const uint8_t *f, size_t len, const uint8_t **req,
		      size_t *req_len);
int sipc_decode_kafka(const uint8_t *f, size_t len, const uint8_t **req,
		      size_t *req_len);
int sipc_decode_alter_isr(const uint8_t *f, size_t len,
			  struct sipc_alter_isr *a);

/* A header-only reply to a request of opcode (without bit 7): the
 * TOPIC_PUT / TOPIC_DELETE / BROKERS / PARTITION_STATE / ALTER_ISR
 * replies and refusals.  The error is the
 * header's. */
int sipc_decode_reply(const uint8_t *f, size_t len, uint8_t opcode);

#endif
