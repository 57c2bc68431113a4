/*
 * The controller RPC: framed request/reply messages between sluice-control
 * processes over TCP (a broker to the active controller: heartbeats,
 * forwarded topic requests, in-sync replica changes).
 *
 * Frame (big-endian):
 *   0  u32 length of what follows (8 .. SL_CRPC_FRAME_MAX)
 *   4  u8  type (the caller's; 0 is never sent)
 *   5  u8  flags: bit 0 reply
 *   6  u16 status (replies: 0 or an error of the caller's; requests: 0)
 *   8  u32 correlation id (a reply carries its request's)
 *   12 body (length - 8 bytes)
 * A frame whose length is out of range closes the connection (counted).
 *
 * One struct sl_crpc is a node's whole RPC: an optional listener (voters
 * listen on their Raft port + 1) with its accepted connections, and one
 * outgoing connection to wherever sl_crpc_target() points (the active
 * controller).  Every socket is non-blocking and registered in one
 * internal epoll instance, so the owner polls a single descriptor
 * (sl_crpc_fd) and calls sl_crpc_do_work when it is readable, or when
 * sl_crpc_timeout_ms passes.
 *
 * Requests on the outgoing connection: at most SL_CRPC_INFLIGHT wait for
 * replies; each gets its callback exactly once: with the reply, or with
 * status SL_CRPC_ELOST when the connection drops, the target changes or
 * SL_CRPC_TIMEOUT_MS passes.  Requests on accepted connections go to the
 * on_request callback, which answers now or later with sl_crpc_reply()
 * and the request's token (a reply to a connection that closed meanwhile
 * is dropped).
 *
 * Single-threaded: the control plane's event loop owns it.
 */
#ifndef SLUICE_CONTROL_CRPC_H
#define SLUICE_CONTROL_CRPC_H

#include <stddef.h>
#include <stdint.h>

/* a frame's largest length: a cluster image's snapshot at its bounds
 * (SL_CI_PARTITIONS_MAX partitions, about 3.5 MiB) fits, for a broker that
 * is not a voter (cmsg.h METADATA); buffers grow to what is sent */
#define SL_CRPC_FRAME_MAX (8u << 20)
#define SL_CRPC_CONNS 64        /* accepted connections at once */
#define SL_CRPC_INFLIGHT 256    /* outgoing requests awaiting replies */
#define SL_CRPC_TIMEOUT_MS 5000
#define SL_CRPC_ELOST 0xffff    /* status: no reply will come */

struct sl_crpc;

/* A request from a peer: answer with sl_crpc_reply(token, ...). */
typedef void (*sl_crpc_request_fn)(void *ctx, uint64_t token, uint8_t type,
				   const uint8_t *body, size_t len);
/* A reply to our request (status SL_CRPC_ELOST: none came; body empty). */
typedef void (*sl_crpc_reply_fn)(void *ctx, uint16_t status,
				 const uint8_t *body, size_t len);

/*
 * Create the RPC.  listen_host/listen_port: where to accept (port 0: no
 * listener).  Returns 0, or -errno with err saying what (e.g. the port is
 * taken).
 */
int sl_crpc_create(const char *listen_host, uint16_t listen_port,
		   sl_crpc_request_fn on_request, void *ctx,
		   struct sl_crpc **out, char *err, size_t errlen);
void sl_crpc_destroy(struct sl_crpc *r);

/* Where outgoing requests go: host:port, or host NULL for nowhere.  A new
 * target closes the old connection (its requests get SL_CRPC_ELOST). */
void sl_crpc_target(struct sl_crpc *r, const char *host, uint16_t port);

/*
 * Send a request to the target.  Returns 0 (cb will be called), -ENOTCONN
 * (no target), -EBUSY (SL_CRPC_INFLIGHT waiting), -EMSGSIZE, -ENOMEM.
 * On error cb is not called.
 */
int sl_crpc_call(struct sl_crpc *r, uint8_t type, const uint8_t *body,
		 size_t len, sl_crpc_reply_fn cb, void *cb_ctx, int64_t now_ms);

/* Answer a peer's request.  Returns 0, or -ENOTCONN when its connection is
 * gone (dropped), -EMSGSIZE, -ENOMEM. */
int sl_crpc_reply(struct sl_crpc *r, uint64_t token, uint16_t status,
		  const uint8_t *body, size_t len);

int sl_crpc_fd(const struct sl_crpc *r);
/* Milliseconds until a request times out or a reconnect is due, or -1. */
int sl_crpc_timeout_ms(const struct sl_crpc *r, int64_t now_ms);
/* Accept, read, write, time out.  Returns the work done. */
int sl_crpc_do_work(struct sl_crpc *r, int64_t now_ms);

struct sl_crpc_stats {
	uint64_t calls, replies, lost, bad_frames, accepted, connects;
};
void sl_crpc_stats(const struct sl_crpc *r, struct sl_crpc_stats *s);

#endif
