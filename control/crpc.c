/*
 * The controller RPC's transport (the frame is specified in crpc.h).
 *
 * Connection slot 0 is the outgoing one; slots 1..SL_CRPC_CONNS hold
 * accepted connections.  Each slot has a generation, bumped when it is
 * closed, so a token (slot, generation, correlation id) taken by a request
 * handler never answers a later connection in the same slot.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/crpc.h"

#define HDR 12
#define OUT 0
#define NSLOTS (SL_CRPC_CONNS + 1)
#define LISTEN_TAG 0xffffffffu
#define RECONNECT_MS 200
#define READ_BURST 64

struct conn {
	int fd;           /* -1: free */
	int connecting;   /* outgoing: connect() in progress */
	uint32_t gen;
	uint8_t *rbuf;
	size_t rlen, rcap;
	uint8_t *wbuf;
	size_t woff, wlen, wcap;
};

struct call {
	int used;
	uint32_t corr;
	int64_t deadline_ms;
	sl_crpc_reply_fn cb;
	void *ctx;
};

struct sl_crpc {
	int ep;
	int lfd;
	sl_crpc_request_fn on_request;
	void *ctx;
	struct conn c[NSLOTS];
	char host[64];
	uint16_t port;    /* target; 0: none */
	int64_t retry_at_ms;
	uint32_t next_corr;
	struct call calls[SL_CRPC_INFLIGHT];
	struct sl_crpc_stats st;
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void ep_set(struct sl_crpc *r, int slot, int add)
{
	struct conn *c = &r->c[slot];
	struct epoll_event ev = {
		.events = EPOLLIN | (c->connecting || c->wlen > c->woff ?
				     EPOLLOUT : 0),
		.data.u32 = (uint32_t)slot,
	};
	(void)epoll_ctl(r->ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev);
}

/* Fail every outgoing call: the connection they went on is gone. */
static void fail_calls(struct sl_crpc *r)
{
	for (unsigned i = 0; i < SL_CRPC_INFLIGHT; i++) {
		struct call *k = &r->calls[i];
		if (!k->used)
			continue;
		k->used = 0;
		r->st.lost++;
		k->cb(k->ctx, SL_CRPC_ELOST, NULL, 0);
	}
}

static void conn_close(struct sl_crpc *r, int slot)
{
	struct conn *c = &r->c[slot];
	if (c->fd >= 0) {
		(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->connecting = 0;
	c->gen++;
	c->rlen = 0;
	c->woff = c->wlen = 0;
	if (slot == OUT)
		fail_calls(r);
}

int sl_crpc_create(const char *listen_host, uint16_t listen_port,
		   sl_crpc_request_fn on_request, void *ctx,
		   struct sl_crpc **out, char *err, size_t errlen)
{
	struct sl_crpc *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->on_request = on_request;
	r->ctx = ctx;
	r->lfd = -1;
	for (unsigned i = 0; i < NSLOTS; i++)
		r->c[i].fd = -1;
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	int rc;
	if (r->ep < 0) {
		rc = -errno;
		snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
		goto out_free;
	}
	if (!listen_port) {
		*out = r;
		return 0;
	}
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(listen_port)};
	if (inet_pton(AF_INET, listen_host, &a.sin_addr) != 1) {
		rc = -EINVAL;
		snprintf(err, errlen, "controller RPC: '%s' is not an IPv4 "
			 "address", listen_host);
		goto out_ep;
	}
	r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (r->lfd < 0 ||
	    setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(r->lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(r->lfd, 64)) {
		rc = -errno;
		snprintf(err, errlen, "controller RPC on %s:%u: %s (is another "
			 "sluice-control using the port? the controller RPC "
			 "listens on the Raft port + 1)", listen_host,
			 listen_port, strerror(errno));
		goto out_lfd;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = LISTEN_TAG};
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, r->lfd, &ev)) {
		rc = -errno;
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		goto out_lfd;
	}
	*out = r;
	return 0;
out_lfd:
	if (r->lfd >= 0)
		close(r->lfd);
out_ep:
	close(r->ep);
out_free:
	free(r);
	return rc;
}

void sl_crpc_destroy(struct sl_crpc *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < NSLOTS; i++) {
		conn_close(r, (int)i);
		free(r->c[i].rbuf);
		free(r->c[i].wbuf);
	}
	if (r->lfd >= 0)
		close(r->lfd);
	close(r->ep);
	free(r);
}

int sl_crpc_fd(const struct sl_crpc *r)
{
	return r->ep;
}

void sl_crpc_stats(const struct sl_crpc *r, struct sl_crpc_stats *s)
{
	*s = r->st;
}

void sl_crpc_target(struct sl_crpc *r, const char *host, uint16_t port)
{
	if (host && port && r->port == port && !strcmp(r->host, host))
		return;
	conn_close(r, OUT);
	if (!host || !port) {
		r->port = 0;
		r->host[0] = 0;
		return;
	}
	snprintf(r->host, sizeof(r->host), "%s", host);
	r->port = port;
	r->retry_at_ms = 0;
}

static int start_connect(struct sl_crpc *r, int64_t now_ms)
{
	struct conn *c = &r->c[OUT];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(r->port)};
	if (inet_pton(AF_INET, r->host, &a.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
		int rc = -errno;
		close(fd);
		r->retry_at_ms = now_ms + RECONNECT_MS;
		return rc;
	}
	c->fd = fd;
	c->connecting = 1;
	r->st.connects++;
	ep_set(r, OUT, 1);
	return 0;
}

/* Append one frame to slot's send buffer. */
static int queue_frame(struct sl_crpc *r, int slot, uint8_t type,
		       uint8_t flags, uint16_t status, uint32_t corr,
		       const uint8_t *body, size_t len)
{
	struct conn *c = &r->c[slot];
	if (len > SL_CRPC_FRAME_MAX - 8)
		return -EMSGSIZE;
	size_t need = c->wlen - c->woff + HDR + len;
	if (c->woff) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	if (need > c->wcap) {
		if (need > 64 * (size_t)SL_CRPC_FRAME_MAX)
			return -ENOBUFS; /* a peer that does not read */
		size_t cap = c->wcap ? c->wcap : 4096;
		while (cap < need)
			cap *= 2;
		uint8_t *b = realloc(c->wbuf, cap);
		if (!b)
			return -ENOMEM;
		c->wbuf = b;
		c->wcap = cap;
	}
	uint8_t *h = c->wbuf + c->wlen;
	put32(h, (uint32_t)(len + 8));
	h[4] = type;
	h[5] = flags;
	h[6] = (uint8_t)(status >> 8);
	h[7] = (uint8_t)status;
	put32(h + 8, corr);
	if (len)
		memcpy(h + HDR, body, len);
	c->wlen += HDR + len;
	return 0;
}

static int flush(struct sl_crpc *r, int slot)
{
	struct conn *c = &r->c[slot];
	while (c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff,
				 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		c->woff += (size_t)n;
	}
	if (c->woff == c->wlen)
		c->woff = c->wlen = 0;
	ep_set(r, slot, 0);
	return 0;
}

int sl_crpc_call(struct sl_crpc *r, uint8_t type, const uint8_t *body,
		 size_t len, sl_crpc_reply_fn cb, void *cb_ctx, int64_t now_ms)
{
	assert(type && cb);
	if (!r->port)
		return -ENOTCONN;
	unsigned i = 0;
	while (i < SL_CRPC_INFLIGHT && r->calls[i].used)
		i++;
	if (i == SL_CRPC_INFLIGHT)
		return -EBUSY;
	struct conn *c = &r->c[OUT];
	if (c->fd < 0) {
		if (now_ms < r->retry_at_ms)
			return -ENOTCONN;
		int rc = start_connect(r, now_ms);
		if (rc)
			return -ENOTCONN;
	}
	uint32_t corr = ++r->next_corr;
	int rc = queue_frame(r, OUT, type, 0, 0, corr, body, len);
	if (rc)
		return rc;
	r->calls[i] = (struct call){1, corr, now_ms + SL_CRPC_TIMEOUT_MS, cb,
				    cb_ctx};
	r->st.calls++;
	if (!c->connecting && flush(r, OUT)) {
		conn_close(r, OUT); /* its callback included */
		r->retry_at_ms = now_ms + RECONNECT_MS;
	}
	return 0;
}

int sl_crpc_reply(struct sl_crpc *r, uint64_t token, uint16_t status,
		  const uint8_t *body, size_t len)
{
	unsigned slot = (unsigned)(token >> 56);
	uint32_t gen = (uint32_t)(token >> 32) & 0xffffff;
	if (slot == OUT || slot >= NSLOTS || r->c[slot].fd < 0 ||
	    (r->c[slot].gen & 0xffffff) != gen)
		return -ENOTCONN;
	int rc = queue_frame(r, (int)slot, 0xff, 1, status, (uint32_t)token,
			     body, len);
	if (!rc && flush(r, (int)slot)) {
		conn_close(r, (int)slot);
		return -ENOTCONN;
	}
	if (rc == -ENOBUFS)
		conn_close(r, (int)slot);
	return rc;
}

static void on_reply(struct sl_crpc *r, uint16_t status, uint32_t corr,
		     const uint8_t *body, size_t len)
{
	for (unsigned i = 0; i < SL_CRPC_INFLIGHT; i++) {
		struct call *k = &r->calls[i];
		if (!k->used || k->corr != corr)
			continue;
		k->used = 0;
		r->st.replies++;
		k->cb(k->ctx, status, body, len);
		return;
	}
	/* late: the call already timed out */
}

/* Read what slot has and dispatch whole frames.  Returns frames handled,
 * -1 when the connection must be closed, -2 when a callback closed it. */
static int do_read(struct sl_crpc *r, int slot)
{
	struct conn *c = &r->c[slot];
	int frames = 0;
	for (int burst = 0; burst < READ_BURST; burst++) {
		if (c->rcap - c->rlen < 65536) {
			size_t cap = c->rcap ? c->rcap * 2 : 65536 * 2;
			if (cap > 2 * (size_t)SL_CRPC_FRAME_MAX + 65536)
				cap = 2 * (size_t)SL_CRPC_FRAME_MAX + 65536;
			if (cap > c->rcap) {
				uint8_t *b = realloc(c->rbuf, cap);
				if (!b)
					return -1;
				c->rbuf = b;
				c->rcap = cap;
			}
		}
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? frames : -1;
		c->rlen += (size_t)n;
		size_t off = 0;
		while (c->rlen - off >= 4) {
			uint32_t flen = get32(c->rbuf + off);
			if (flen < 8 || flen > SL_CRPC_FRAME_MAX) {
				r->st.bad_frames++;
				return -1;
			}
			if (c->rlen - off < 4 + (size_t)flen)
				break;
			const uint8_t *h = c->rbuf + off;
			uint8_t type = h[4], flags = h[5];
			uint16_t status = (uint16_t)(h[6] << 8 | h[7]);
			uint32_t corr = get32(h + 8);
			size_t blen = flen - 8;
			uint32_t gen = c->gen;
			if ((flags & 1) && slot == OUT) {
				on_reply(r, status, corr, h + HDR, blen);
			} else if (!(flags & 1) && slot != OUT && type) {
				uint64_t token = (uint64_t)slot << 56 |
						 (uint64_t)(c->gen & 0xffffff)
							 << 32 | corr;
				r->on_request(r->ctx, token, type, h + HDR, blen);
			} else {
				r->st.bad_frames++;
				return -1;
			}
			if (c->fd < 0 || c->gen != gen)
				return -2; /* closed by a callback */
			off += 4 + (size_t)flen;
			frames++;
		}
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	return frames;
}

static void do_accept(struct sl_crpc *r)
{
	for (int i = 0; i < 16; i++) {
		int fd = accept4(r->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		unsigned s = 1;
		while (s < NSLOTS && r->c[s].fd >= 0)
			s++;
		if (s == NSLOTS) {
			close(fd); /* full: the peer retries */
			continue;
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		r->c[s].fd = fd;
		r->st.accepted++;
		ep_set(r, (int)s, 1);
	}
}

int sl_crpc_timeout_ms(const struct sl_crpc *r, int64_t now_ms)
{
	int64_t t = -1;
	for (unsigned i = 0; i < SL_CRPC_INFLIGHT; i++) {
		if (!r->calls[i].used)
			continue;
		int64_t d = r->calls[i].deadline_ms - now_ms;
		if (t < 0 || d < t)
			t = d < 0 ? 0 : d;
	}
	return (int)t;
}

int sl_crpc_do_work(struct sl_crpc *r, int64_t now_ms)
{
	struct epoll_event evs[32];
	int work = 0;
	int n = epoll_wait(r->ep, evs, 32, 0);
	for (int i = 0; i < n; i++) {
		uint32_t tag = evs[i].data.u32;
		if (tag == LISTEN_TAG) {
			do_accept(r);
			work++;
			continue;
		}
		int slot = (int)tag;
		struct conn *c = &r->c[slot];
		if (c->fd < 0)
			continue;
		if (c->connecting) {
			int e = 0;
			socklen_t el = sizeof(e);
			if (!(evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
				continue;
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) ||
			    e) {
				conn_close(r, slot);
				r->retry_at_ms = now_ms + RECONNECT_MS;
				work++;
				continue;
			}
			c->connecting = 0;
		}
		if ((evs[i].events & EPOLLOUT) && flush(r, slot)) {
			conn_close(r, slot);
			work++;
			continue;
		}
		if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
			int got = do_read(r, slot);
			if (got == -1) {
				conn_close(r, slot);
				if (slot == OUT)
					r->retry_at_ms = now_ms + RECONNECT_MS;
			}
			work += got < 0 ? 1 : got;
		} else if (c->fd >= 0) {
			ep_set(r, slot, 0);
		}
	}
	for (unsigned i = 0; i < SL_CRPC_INFLIGHT; i++) {
		struct call *k = &r->calls[i];
		if (!k->used || k->deadline_ms > now_ms)
			continue;
		/* the connection may be stuck: start over */
		conn_close(r, OUT);
		r->retry_at_ms = now_ms + RECONNECT_MS;
		work++;
		break;
	}
	return work;
}
