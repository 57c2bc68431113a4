/*
 * The net core's private interface between net.c (connections, the native
 * protocol, the response window) and kafka.c (the Kafka protocol on the
 * same connections machinery).  Net core thread only.
 */
#ifndef SLUICE_DATAPLANE_NET_H
#define SLUICE_DATAPLANE_NET_H

#include "dataplane/dp.h"

/* A TCP connection: requests take sequence numbers; responses wait in the
 * window until every earlier one was sent. */
struct dp_conn {
	uint32_t id;        /* driver id; 0 = free */
	uint32_t next_seq;  /* next request */
	uint32_t send_seq;  /* next response to send */
	uint8_t poisoned;   /* close after the responses before this */
	uint8_t paused;
	uint8_t kafka;      /* accepted on kafka_port: Kafka framing */
	uint64_t reserved;  /* response bytes promised to requests in flight
			       (fetches), not yet handed to the driver */
	struct dp_msg *window[DP_CONN_WINDOW];
};

/* The live connection with this driver id, or NULL. */
struct dp_conn *dp_conn_of(uint32_t id);
/* Send what is ready in order; close a poisoned connection at its end. */
void dp_conn_flush(struct dp *dp, struct dp_conn *c);
/* May another request of c be read?  1, or 0 after pausing c: its window
 * is full, or what it is owed (response bytes queued in the driver plus
 * c->reserved) reached conn_max_unsent_bytes.  Read again once responses
 * drain (dp_conn_flush, the driver's conn_sent). */
int dp_conn_room(struct dp *dp, struct dp_conn *c);
/* Count bytes of the response to m against c's unsent cap from now on
 * (a fetch, before its answer exists). */
void dp_conn_reserve(struct dp_conn *c, struct dp_msg *m, uint64_t bytes);
/* A message for a request on (transport, conn): charged to the budget,
 * and on TCP it takes the connection's next sequence number.  NULL when
 * the budget is spent. */
struct dp_msg *dp_net_msg(struct dp *dp, int transport, uint32_t conn,
			  const struct drv_peer *peer, uint32_t corr,
			  size_t data);
/* A finished message (resp set): into its connection's window (or out on
 * UDP); a Kafka partition share goes to its parent instead. */
void dp_net_deliver(struct dp *dp, struct dp_msg *m);
/* Push m to partition p's ring.  0, or -ENOBUFS when the ring is full. */
int dp_net_to_core(struct dp *dp, struct dp_partition *p, struct dp_msg *m);

/* kafka.c */
/* Bytes at p from a Kafka connection: frames handled, bytes consumed
 * returned (0: wait for more), < 0 to close the connection. */
long dp_kafka_conn_data(struct dp *dp, struct dp_conn *c, const uint8_t *p,
			size_t len);
/* A partition's share of a Kafka request came back from its core. */
void dp_kafka_sub_done(struct dp *dp, struct dp_msg *sub);
/* Long-poll fetches: recheck the waiting ones; returns work done. */
int dp_kafka_do_work(struct dp *dp);
/* Fetches are waiting (the net core then sleeps at most 1 ms). */
int dp_kafka_waiting(void);
/* Send a response made of pieces (m->chain: a zero-copy Fetch answer). */
void dp_kafka_chain_send(struct dp *dp, uint32_t conn, struct dp_msg *m);
/* Kafka request frames larger than this are refused (connection closed). */
#define DP_KAFKA_MAX_REQUEST (100u << 20)

#endif
