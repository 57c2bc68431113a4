/*
 * The messages of the controller RPC (control/crpc.h carries them), between
 * a broker's sluice-control and the active controller (docs/cluster.md).
 *
 * Types and bodies (big-endian):
 *
 *   1 HEARTBEAT, broker -> controller, every broker_heartbeat_interval_ms:
 *       0  i32 node id (1..65535)
 *       4  u64 incarnation (random per process start, never 0)
 *       12 u16 Kafka port (advertised)
 *       14 u16 native port
 *       16 u8  flags: bit 0 ready (its sluiced is connected and has every
 *              topic), bit 1 shutting down; other bits 0
 *       17 u8  host length (1..SL_CMSG_HOST_MAX)
 *       18 host (the advertised Kafka host)
 *     reply, status 0:
 *       0  i32 the controller's node id
 *       4  u8  1 when the broker is fenced, else 0
 *       5  u64 the controller's applied metadata index
 *   2 KAFKA, broker -> controller: a client's whole Kafka request (header
 *     and body, no size prefix) of a topic-changing API, forwarded; or a
 *     DescribeQuorum, answered at once from the controller's Raft state
 *     (index 0).
 *   3 ADMIN, broker -> controller: a client's whole native CREATE_TOPIC or
 *     DELETE_TOPIC frame, forwarded.
 *     reply to KAFKA and ADMIN, status 0:
 *       0  u64 the metadata index that holds the change (0: nothing
 *              changed); the broker answers its client once it has
 *              applied that index
 *       8  the whole response to give the client
 *     a non-zero status: no answer (the broker closes the client's
 *     connection, and the client retries).
 *
 *   4 ALTER_ISR, broker -> controller: a partition leader's request for a
 *     new in-sync set (Kafka's AlterPartition):
 *       0  u32 topic id
 *       4  i32 partition
 *       8  i32 the leader's node id
 *       12 i32 leader epoch
 *       16 i32 partition epoch
 *       20 u8  n (1..SL_CMSG_ISR_MAX), then n i32 node ids
 *     reply: status 0 or the Kafka error the controller decided; no body.
 *
 *   5 METADATA, broker -> controller, from a broker that is not a voter
 *     (it runs no Raft node: the controller's image is its metadata),
 *     every 100 ms:
 *       0  u64 the metadata index its image has applied
 *     reply, status 0:
 *       0  u64 the controller's applied metadata index
 *       8  its image's snapshot (cluster_image.h), when that index is not
 *          the broker's; nothing when it is
 *     status EFBIG: the snapshot does not fit a frame.
 *
 * Every reply may instead carry status SL_CMSG_NOT_CONTROLLER with body
 * i32 the node the replier believes is the controller (-1: unknown),
 * then, when the replier knows it, that node's Raft address ("a.b.c.d:
 * port", 1 to SL_CMSG_ADDRESS_MAX - 1 bytes, no NUL; its controller RPC
 * is port + 1): a voter added after a broker started is in no
 * controller_quorum_voters that broker read.
 *
 * Pure functions: no I/O, no allocation.  Decoders take the body and its
 * length, never read past it, and return 0 or -EINVAL.
 */
#ifndef SLUICE_CONTROL_CMSG_H
#define SLUICE_CONTROL_CMSG_H

#include <stddef.h>
#include <stdint.h>

enum sl_cmsg_type {
	SL_CMSG_HEARTBEAT = 1,
	SL_CMSG_KAFKA = 2,
	SL_CMSG_ADMIN = 3,
	SL_CMSG_ALTER_ISR = 4,
	SL_CMSG_METADATA = 5,
};

#define SL_CMSG_ISR_MAX 16

struct sl_cmsg_alter_isr {
	uint32_t topic_id;
	int32_t partition, from, leader_epoch, partition_epoch;
	uint8_t n;
	int32_t isr[SL_CMSG_ISR_MAX];
};

#define SL_CMSG_NOT_CONTROLLER 41 /* Kafka's NOT_CONTROLLER */
#define SL_CMSG_HOST_MAX 63
#define SL_CMSG_ADDRESS_MAX 80
#define SL_CMSG_READY 1
#define SL_CMSG_SHUTDOWN 2

struct sl_cmsg_heartbeat {
	int32_t node_id;
	uint64_t incarnation;
	uint16_t kafka_port, native_port;
	uint8_t flags;
	char host[SL_CMSG_HOST_MAX + 1]; /* NUL-terminated */
	uint16_t udp_port;  /* native UDP port, 0: none */
	uint32_t udp_addr;  /* its IPv4, network order; 0: at host */
};

struct sl_cmsg_heartbeat_reply {
	int32_t controller_id;
	uint8_t fenced;
	uint64_t applied_index;
};

/* Encoders return the body's length, or -ENOBUFS / -EINVAL (a field out
 * of its range). */
long sl_cmsg_encode_heartbeat(uint8_t *buf, size_t cap,
			      const struct sl_cmsg_heartbeat *h);
long sl_cmsg_encode_heartbeat_reply(uint8_t *buf, size_t cap,
				    const struct sl_cmsg_heartbeat_reply *r);
/* The reply head of KAFKA / ADMIN: 8 bytes, the response follows. */
void sl_cmsg_put_index(uint8_t *buf, uint64_t index);
/* NOT_CONTROLLER's body: 4 bytes, then address when not NULL or ""
 * (its bytes, at most SL_CMSG_ADDRESS_MAX - 1; buf holds 4 + that).
 * Returns the body's length. */
size_t sl_cmsg_put_leader(uint8_t *buf, int32_t leader_id,
			  const char *address);

long sl_cmsg_encode_alter_isr(uint8_t *buf, size_t cap,
			      const struct sl_cmsg_alter_isr *a);
int sl_cmsg_decode_alter_isr(const uint8_t *b, size_t len,
			     struct sl_cmsg_alter_isr *a);
int sl_cmsg_decode_heartbeat(const uint8_t *b, size_t len,
			     struct sl_cmsg_heartbeat *h);
int sl_cmsg_decode_heartbeat_reply(const uint8_t *b, size_t len,
				   struct sl_cmsg_heartbeat_reply *r);
/* A KAFKA / ADMIN reply: *index and the response (pointing into b). */
int sl_cmsg_decode_forward_reply(const uint8_t *b, size_t len,
				 uint64_t *index, const uint8_t **resp,
				 size_t *resp_len);
/* NOT_CONTROLLER's body: *leader_id, and address (SL_CMSG_ADDRESS_MAX
 * bytes, NUL-terminated; "" when the body has none). */
int sl_cmsg_decode_leader(const uint8_t *b, size_t len, int32_t *leader_id,
			  char *address);

#endif
