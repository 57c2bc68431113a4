/*
 * The connection layer, shared by every front-end on a net core (conn.c):
 * TCP connections, their answer order, flow control, flushing and
 * per-connection limits; datagram replies never longer than their
 * request.
 *
 * Ordering: every request of a connection that will be answered takes the
 * next sequence number (dp_conn_msg); its answer lands in a window of
 * DP_CONN_WINDOW slots (dp_conn_deliver) and is sent when every earlier
 * one was.  With the window full the connection is not read (the
 * front-end's conn_data stops at dp_conn_room) until answers drain.
 *
 * Flow control: a connection is also not read while what it is owed
 * reaches conn_max_unsent_bytes: answer bytes the driver has not sent yet
 * plus the bytes reserved for fetches in flight (dp_conn_reserve).  It is
 * read again when the window has room and what it is owed fell to half
 * the cap.
 *
 * An answer is one buffer (m->resp, m->resp_len), or a chain of pieces
 * (dp_chain_build: the answer's own bytes around records that stay in the
 * messages that read them; sent without a copy).
 *
 * Net core thread only.
 */
#ifndef SLUICE_DATAPLANE_CONN_H
#define SLUICE_DATAPLANE_CONN_H

#include "dataplane/net.h"

struct dp_conn {
	uint32_t id;        /* driver id */
	uint8_t used;       /* 0: a free slot */
	uint32_t next_seq;  /* next request */
	uint32_t send_seq;  /* next response to send */
	uint8_t poisoned;   /* close after the responses before this */
	uint8_t paused;
	const struct dp_frontend *fe; /* the protocol of its listener */
	uint64_t reserved;  /* response bytes promised to requests in flight
			       (fetches), not yet handed to the driver */
	struct dp_msg *window[DP_CONN_WINDOW];
};

/* The table of n's connections (max_connections slots).  0 or -ENOMEM. */
int dp_conns_init(struct dp_net *n, uint32_t max);
void dp_conns_fini(struct dp_net *n);

/* Driver events (net.c forwards them). */
int dp_conn_opened(struct dp_net *n, uint32_t id,
		   const struct dp_frontend *fe);
void dp_conn_closed(struct dp_net *n, uint32_t id);
void dp_conn_sent(struct dp_net *n, uint32_t id);

/* The live connection with this driver id, or NULL. */
struct dp_conn *dp_conn_of(struct dp_net *n, uint32_t id);

/* A message for a request on connection conn (TCP, peer NULL) that takes
 * its next place in the answer order, or for a datagram from peer of
 * udp_bytes (the answer may not be longer).  Charged to the budget with
 * data bytes of request; NULL when the budget is spent (counted). */
struct dp_msg *dp_conn_msg(struct dp_net *n, uint32_t conn,
			   const struct drv_peer *peer, uint32_t udp_bytes,
			   uint32_t corr, size_t data);
/* m needs no answer (acks=0): give back its place in the order.  Only
 * right after dp_conn_msg, before any other message of the connection. */
void dp_conn_unseq(struct dp_net *n, struct dp_msg *m);

/* An answer is ready in m: into its connection's window and out in
 * order (TCP), or sent at once (UDP; a reply longer than its
 * request is dropped and counted: the front-end cuts it first), then
 * freed. */
void dp_conn_deliver(struct dp_net *n, struct dp_msg *m);
/* Send what is ready in order; close a poisoned connection at its end. */
void dp_conn_flush(struct dp_net *n, struct dp_conn *c);
/* Close c after the answers owed before now. */
void dp_conn_poison(struct dp_net *n, struct dp_conn *c);
/* Close at once (nothing to answer with). */
void dp_conn_abort(struct dp_net *n, uint32_t id);
/* May another request of c be read?  1, or 0 after pausing c. */
int dp_conn_room(struct dp_net *n, struct dp_conn *c);
/* Count bytes of m's answer against c's unsent cap from now on (a fetch,
 * before its answer exists). */
void dp_conn_reserve(struct dp_conn *c, struct dp_msg *m, uint64_t bytes);

/*
 * A chained answer: m->resp holds everything but n holes; hole i is
 * len[i] bytes at offset at[i] of resp (after head bytes), filled by the
 * records piece recs[i] of message owners[i].  The owners are sent as
 * their own driver buffers and freed once sent.  0, or -ENOMEM (nothing
 * changed).
 */
int dp_chain_build(struct dp_msg *m, size_t head, const size_t *at,
		   const size_t *len, struct dp_msg *const *owners,
		   const uint8_t *const *recs, uint32_t n);

#endif
