/*
 * The socket driver: kernel UDP and TCP through one io_uring per net core
 * (contract in driver.h).
 *
 * Receive path choice: multishot recvmsg (UDP) and multishot recv (TCP),
 * both with provided-buffer rings, rather than batched recvmmsg.  One SQE
 * keeps receiving until the buffers run out, so an idle or busy socket
 * costs no syscall per datagram, TCP and UDP share one completion loop, and
 * 10,000 idle connections pin no buffer at all (a buffer is picked only when
 * bytes arrive, and given back as soon as the dataplane consumed them).
 * liburing 2.3 has no io_uring_setup_buf_ring(): the rings are registered by
 * hand (posix_memalign + io_uring_register_buf_ring + buf_ring_init/add/
 * advance).
 *
 * Happy path: accept (multishot) -> recv (multishot, buffer group TCP) ->
 * cb.conn_data -> conn_send queues drv_bufs -> one send in flight per
 * connection, short sends resubmitted.  UDP: recvmsg (multishot, buffer
 * group UDP) -> cb.datagram -> udp_send is a plain sendto(): a datagram
 * send never blocks long and costs one syscall either way.
 *
 * Failure modes: a buffer ring that runs dry ends the multishot request
 * with -ENOBUFS (counted, re-armed at the next cycle once buffers are
 * back); a peer that closes or errors ends its recv; the connection is
 * closed once no request of it is in flight; an assembly buffer that would
 * exceed max_frame + one receive buffer (or the global budget) closes the
 * connection (assembly_overflow).
 *
 * Limits (driver.h): the source address of each accepted connection is
 * counted in an open-addressing table (linear probing, backward-shift
 * deletion, at most half full); sweep() walks the connections every
 * DRV_SWEEP_NS and closes the idle, the slow (frame deadline) and the
 * stuck (send deadline) ones, and reads again connections that waited for
 * assembly memory.  A connection closed for a deadline is shut down both
 * ways, which ends its receive and any send stuck in the kernel.
 *
 * Listeners: cfg.ntcp of them, one multishot accept each; the accept's
 * user data carries the listener's index, which conn_open() gets.  With
 * cfg.reuse_port every socket is bound with SO_REUSEPORT: instances on
 * several net cores share the ports, each with its own accept queue and
 * its own share of the datagrams (the kernel picks by 4-tuple hash).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "drivers/driver.h"

#define UD_ACCEPT 1ull
#define UD_UDP 2ull
#define UD_RECV 3ull
#define UD_SEND 4ull
#define UD_WAKE 5ull
#define UD_NONE 6ull
#define UD(type, slot, gen) ((type) << 56 | (uint64_t)(gen) << 24 | (slot))
#define UD_TYPE(u) ((u) >> 56)
#define UD_SLOT(u) ((uint32_t)((u) & 0xffffff))
#define UD_GEN(u) ((uint32_t)(((u) >> 24) & 0xffffffff))

#define BGID_UDP 1
#define BGID_TCP 2
#define TCP_BUF_BYTES 16384u
#define CQE_BATCH 256
#define SLOT_BITS 20
/* assembly buffers up to this size use the reserve of the budget */
#define ASM_SMALL_BYTES (64u << 10)

enum conn_state { C_FREE = 0, C_OPEN, C_CLOSING, C_DEAD };

struct conn {
	int fd;
	uint32_t gen;
	uint8_t state;
	uint8_t recv_armed;
	uint8_t send_inflight;
	uint8_t need_rearm;
	uint8_t need_resume;
	uint8_t rx_paused;    /* the dataplane asked: no receive armed */
	uint8_t rx_cancelling; /* a cancel of the receive is in flight */
	uint8_t shut;
	uint8_t asm_wait;     /* not read: waits for assembly memory */
	uint8_t *asm_buf;
	uint32_t asm_len, asm_cap;
	struct drv_buf *txq_head, *txq_tail;
	uint32_t ip;          /* peer address (network order), counted in
				 the per-address table; 0: not counted */
	uint64_t unsent;      /* bytes in txq not sent yet */
	uint64_t active_ns;   /* last byte received or sent */
	uint64_t tx_progress_ns; /* last send progress (or first queued) */
	uint64_t partial_since_ns; /* first byte of an incomplete frame;
				      0: none */
};

/* Connections from one address (n == 0: an empty entry). */
struct ip_count {
	uint32_t ip;
	uint32_t n;
};

struct drv {
	struct io_uring ring;
	struct drv_config cfg;
	struct drv_callbacks cb;
	struct drv_stats st;
	int udp_fd;
	uint32_t ntcp;            /* listeners: cfg.ntcp */
	int tcp_fd[DRV_MAX_LISTENERS];
	uint16_t udp_port, tcp_port[DRV_MAX_LISTENERS]; /* bound */
	uint8_t accept_armed[DRV_MAX_LISTENERS];
	int udp_armed, wake_armed;
	uint64_t wake_val;
	/* UDP buffer ring */
	struct io_uring_buf_ring *udp_br;
	uint8_t *udp_bufs;
	uint32_t udp_buf_bytes, udp_nbufs;
	struct msghdr udp_msgh;
	/* TCP buffer ring */
	struct io_uring_buf_ring *tcp_br;
	uint8_t *tcp_bufs;
	uint32_t tcp_nbufs;
	/* connections */
	struct conn *conns;
	uint32_t nconns;
	uint32_t *free_slots, nfree;
	uint32_t *todo, ntodo; /* slots needing re-arm / resume / close */
	uint64_t asm_bytes, asm_budget;
	uint64_t asm_reserve;  /* kept for small frames (budget / 4) */
	uint32_t asm_waiting;  /* connections with asm_wait */
	/* limits */
	struct ip_count *ips;  /* per-address counts, ips_cap a power of 2 */
	uint32_t ips_cap;
	uint64_t now_ns;       /* read once per do_work */
	uint64_t next_sweep_ns;
};

static uint32_t conn_id(const struct drv *d, uint32_t slot)
{
	return (d->conns[slot].gen & ((1u << (32 - SLOT_BITS)) - 1))
		       << SLOT_BITS |
	       slot;
}

static struct conn *conn_get(struct drv *d, uint32_t id)
{
	uint32_t slot = id & ((1u << SLOT_BITS) - 1);
	if (slot >= d->nconns)
		return NULL;
	struct conn *c = &d->conns[slot];
	if (c->state == C_FREE || conn_id(d, slot) != id)
		return NULL;
	return c;
}

static uint64_t clock_now_ns(const struct drv *d)
{
	if (d->cfg.now_ns)
		return d->cfg.now_ns();
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t ip_home(const struct drv *d, uint32_t ip)
{
	return (ip * 2654435761u) & (d->ips_cap - 1);
}

/* The entry of ip; with insert, a new one (n == 0) when it has none.
 * The table never fills: it has twice as many entries as connections. */
static struct ip_count *ip_find(struct drv *d, uint32_t ip, int insert)
{
	uint32_t mask = d->ips_cap - 1;
	uint32_t i = ip_home(d, ip);
	for (uint32_t n = 0; n < d->ips_cap; n++, i = (i + 1) & mask) {
		struct ip_count *e = &d->ips[i];
		if (e->n && e->ip == ip)
			return e;
		if (!e->n) {
			if (!insert)
				return NULL;
			e->ip = ip;
			return e;
		}
	}
	return NULL;
}

/* One connection of ip fewer; an entry that reaches 0 is deleted by
 * shifting later entries of its probe run back (no tombstones). */
static void ip_release(struct drv *d, uint32_t ip)
{
	struct ip_count *e = ip_find(d, ip, 0);
	assert(e && e->n > 0);
	if (--e->n)
		return;
	uint32_t mask = d->ips_cap - 1;
	uint32_t hole = (uint32_t)(e - d->ips), j = hole;
	for (uint32_t n = 0; n < d->ips_cap; n++) {
		j = (j + 1) & mask;
		if (!d->ips[j].n)
			break;
		uint32_t home = ip_home(d, d->ips[j].ip);
		/* j stays when its home lies cyclically in (hole, j] */
		int stays = hole <= j ? (hole < home && home <= j) :
					(hole < home || home <= j);
		if (stays)
			continue;
		d->ips[hole] = d->ips[j];
		d->ips[j].n = 0;
		hole = j;
	}
	d->ips[hole].n = 0;
}

static struct io_uring_sqe *get_sqe(struct drv *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
	if (!sqe) {
		io_uring_submit(&d->ring);
		sqe = io_uring_get_sqe(&d->ring);
	}
	if (!sqe)
		d->st.ring_errors++;
	return sqe;
}

static uint32_t pow2_clamp(uint64_t n, uint32_t lo, uint32_t hi)
{
	uint32_t p = lo;
	while ((uint64_t)p * 2 <= n && p < hi)
		p <<= 1;
	return p;
}

static int buf_ring_setup(struct drv *d, int bgid, uint32_t nbufs,
			  uint32_t buf_bytes, struct io_uring_buf_ring **br,
			  uint8_t **bufs)
{
	void *mem;
	size_t ring_bytes = (size_t)nbufs * sizeof(struct io_uring_buf);
	if (posix_memalign(&mem, 4096, ring_bytes))
		return -ENOMEM;
	*br = mem;
	io_uring_buf_ring_init(*br);
	struct io_uring_buf_reg reg = {
		.ring_addr = (unsigned long)mem,
		.ring_entries = nbufs,
		.bgid = (uint16_t)bgid,
	};
	int rc = io_uring_register_buf_ring(&d->ring, &reg, 0);
	if (rc)
		return rc;
	if (posix_memalign((void **)bufs, 4096, (size_t)nbufs * buf_bytes))
		return -ENOMEM;
	int mask = io_uring_buf_ring_mask(nbufs);
	for (uint32_t i = 0; i < nbufs; i++)
		io_uring_buf_ring_add(*br, *bufs + (size_t)i * buf_bytes,
				      buf_bytes, (unsigned short)i, mask, (int)i);
	io_uring_buf_ring_advance(*br, (int)nbufs);
	return 0;
}

static void buf_recycle(struct io_uring_buf_ring *br, uint8_t *bufs,
			uint32_t nbufs, uint32_t buf_bytes, unsigned bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * buf_bytes, buf_bytes,
			      (unsigned short)bid, io_uring_buf_ring_mask(nbufs),
			      0);
	io_uring_buf_ring_advance(br, 1);
}

static int bind_socket(struct drv *d, int type, uint16_t port, int *fd_out,
		       uint16_t *bound)
{
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (d->cfg.reuse_port &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	if (inet_pton(AF_INET, d->cfg.listen_host, &a.sin_addr) != 1) {
		close(fd);
		return -EINVAL;
	}
	if (type == SOCK_DGRAM) {
		int sz = 8 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	/* a previous sluiced's io_uring may still hold the port for a
	 * moment after it exited (ring teardown is asynchronous): retry
	 * EADDRINUSE for up to 3 s */
	int brc = -1;
	for (int i = 0; i < 60; i++) {
		brc = bind(fd, (struct sockaddr *)&a, sizeof(a));
		if (brc == 0 || errno != EADDRINUSE)
			break;
		usleep(50000);
	}
	if (brc < 0 || (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
		int e = -errno;
		close(fd);
		return e;
	}
	socklen_t al = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &al);
	*bound = ntohs(a.sin_port);
	*fd_out = fd;
	return 0;
}

static void arm_accept(struct drv *d, uint32_t l)
{
	assert(l < d->ntcp);
	if (d->tcp_fd[l] < 0 || d->accept_armed[l])
		return;
	struct io_uring_sqe *sqe = get_sqe(d);
	if (!sqe)
		return;
	io_uring_prep_multishot_accept(sqe, d->tcp_fd[l], NULL, NULL,
				       SOCK_CLOEXEC);
	/* the slot field carries the listener */
	io_uring_sqe_set_data64(sqe, UD(UD_ACCEPT, l, 0));
	d->accept_armed[l] = 1;
}

static void arm_udp(struct drv *d)
{
	if (d->udp_fd < 0 || d->udp_armed)
		return;
	struct io_uring_sqe *sqe = get_sqe(d);
	if (!sqe)
		return;
	io_uring_prep_recvmsg_multishot(sqe, d->udp_fd, &d->udp_msgh, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID_UDP;
	io_uring_sqe_set_data64(sqe, UD(UD_UDP, 0, 0));
	d->udp_armed = 1;
}

static void arm_wake(struct drv *d)
{
	if (d->cfg.wake_fd < 0 || d->wake_armed)
		return;
	struct io_uring_sqe *sqe = get_sqe(d);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, d->cfg.wake_fd, &d->wake_val,
			   sizeof(d->wake_val), 0);
	io_uring_sqe_set_data64(sqe, UD(UD_WAKE, 0, 0));
	d->wake_armed = 1;
}

static void arm_recv(struct drv *d, uint32_t slot)
{
	struct conn *c = &d->conns[slot];
	if (c->recv_armed || c->state != C_OPEN || c->rx_paused ||
	    c->asm_wait)
		return;
	struct io_uring_sqe *sqe = get_sqe(d);
	if (!sqe) {
		c->need_rearm = 1;
		return;
	}
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID_TCP;
	io_uring_sqe_set_data64(sqe, UD(UD_RECV, slot, c->gen));
	c->recv_armed = 1;
}

static void todo_add(struct drv *d, uint32_t slot)
{
	struct conn *c = &d->conns[slot];
	/* a slot is on the list at most once: need_* flags guard it */
	if (c->need_rearm + c->need_resume > 1)
		return;
	assert(d->ntodo < d->nconns);
	d->todo[d->ntodo++] = slot;
}

static void arm_send(struct drv *d, uint32_t slot)
{
	struct conn *c = &d->conns[slot];
	if (c->send_inflight || !c->txq_head || c->state == C_DEAD)
		return;
	struct io_uring_sqe *sqe = get_sqe(d);
	if (!sqe)
		return;
	struct drv_buf *b = c->txq_head;
	io_uring_prep_send(sqe, c->fd, b->data + b->off, b->len - b->off,
			   MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, UD(UD_SEND, slot, c->gen));
	c->send_inflight = 1;
}

static void txq_release(struct conn *c)
{
	struct drv_buf *b = c->txq_head;
	while (b) {
		struct drv_buf *n = b->next;
		b->release(b);
		b = n;
	}
	c->txq_head = c->txq_tail = NULL;
	c->unsent = 0;
}

/* Stop the multishot receive of slot (a pause): cancelled, and its last
 * completion (-ECANCELED) re-arms it if the pause is over by then. */
static void rx_stop(struct drv *d, uint32_t slot)
{
	struct conn *c = &d->conns[slot];
	if (!c->recv_armed || c->rx_cancelling)
		return;
	struct io_uring_sqe *sqe = get_sqe(d);
	if (!sqe)
		return; /* the receive stays armed: bounded by the assembly
			   limit as before */
	io_uring_prep_cancel64(sqe, UD(UD_RECV, slot, c->gen), 0);
	c->rx_cancelling = 1;
	io_uring_sqe_set_data64(sqe, UD(UD_NONE, 0, 0));
}

/* The incomplete-frame clock: runs while the connection holds bytes the
 * dataplane could not use yet and is not paused by it. */
static void partial_note(struct drv *d, struct conn *c)
{
	if (c->asm_len == 0 || c->rx_paused)
		c->partial_since_ns = 0;
	else if (!c->partial_since_ns)
		c->partial_since_ns = d->now_ns;
}

/* Free the slot once nothing of it is in flight. */
static void conn_maybe_free(struct drv *d, uint32_t slot)
{
	struct conn *c = &d->conns[slot];
	if (c->state == C_CLOSING && !c->txq_head && !c->shut) {
		/* graceful: everything sent, now stop reading too */
		shutdown(c->fd, SHUT_RDWR);
		c->shut = 1;
	}
	if (c->state == C_OPEN || c->recv_armed || c->send_inflight)
		return;
	if (c->state == C_CLOSING && c->txq_head)
		return;
	uint32_t id = conn_id(d, slot);
	txq_release(c);
	close(c->fd);
	c->fd = -1;
	free(c->asm_buf);
	d->asm_bytes -= c->asm_cap;
	c->asm_buf = NULL;
	c->asm_len = c->asm_cap = 0;
	if (c->asm_wait) {
		c->asm_wait = 0;
		d->asm_waiting--;
	}
	if (c->ip) {
		ip_release(d, c->ip);
		c->ip = 0;
	}
	c->state = C_FREE;
	c->gen++;
	c->need_rearm = c->need_resume = 0;
	d->free_slots[d->nfree++] = slot;
	d->st.conns_closed++;
	d->st.conns_open--;
	d->cb.conn_closed(d->cb.ctx, id);
}

static void conn_kill(struct drv *d, uint32_t slot)
{
	struct conn *c = &d->conns[slot];
	if (c->state == C_FREE)
		return;
	c->state = C_DEAD;
	if (!c->shut) {
		shutdown(c->fd, SHUT_RDWR);
		c->shut = 1;
	}
	conn_maybe_free(d, slot);
}

/* Hand the assembled bytes to the dataplane until it stops consuming. */
static void deliver(struct drv *d, uint32_t slot)
{
	struct conn *c = &d->conns[slot];
	uint32_t id = conn_id(d, slot);
	for (unsigned n = 0; n < 4096 && c->state == C_OPEN && c->asm_len;
	     n++) {
		long r = d->cb.conn_data(d->cb.ctx, id, c->asm_buf, c->asm_len);
		if (r < 0) {
			c->state = C_CLOSING;
			conn_maybe_free(d, slot);
			return;
		}
		if (r == 0)
			return;
		assert((uint32_t)r <= c->asm_len);
		memmove(c->asm_buf, c->asm_buf + r, c->asm_len - (uint32_t)r);
		c->asm_len -= (uint32_t)r;
	}
}

static int asm_append(struct drv *d, struct conn *c, const uint8_t *p,
		      uint32_t len)
{
	uint64_t need = (uint64_t)c->asm_len + len;
	uint64_t frame_max = (uint64_t)d->cfg.tcp_max_frame + TCP_BUF_BYTES;
	/* a paused connection still gets what the kernel had received
	 * before the pause took hold (the socket buffer and the receive
	 * buffers already filled): only the global budget bounds it */
	uint64_t limit = c->rx_paused || c->asm_wait ? d->asm_budget :
			 frame_max;
	if (need > limit)
		return -ENOBUFS;
	if (need > c->asm_cap) {
		uint64_t cap = c->asm_cap ? c->asm_cap : 4096;
		while (cap < need)
			cap *= 2;
		/* doubling past the largest frame would hold up to twice
		 * what a frame needs; a paused connection's backlog past it
		 * grows by quarters, never to the byte: a buffer grown
		 * exactly per receive would be copied whole each time
		 * (quadratic, and realloc copies where it cannot remap) */
		if (cap > frame_max && need <= frame_max)
			cap = frame_max;
		else if (cap > frame_max) {
			uint64_t step = (uint64_t)c->asm_cap + c->asm_cap / 4;
			cap = (need > step ? need : step) + TCP_BUF_BYTES - 1;
			cap &= ~(uint64_t)(TCP_BUF_BYTES - 1);
		}
		/* a large buffer grows only up to the reserve kept for small
		 * frames (then at least to what it needs: the connection is
		 * paused right after, asm_budget_check) */
		uint64_t others = d->asm_bytes - c->asm_cap;
		if (cap > ASM_SMALL_BYTES &&
		    others + cap + d->asm_reserve > d->asm_budget) {
			uint64_t exact = (need + TCP_BUF_BYTES - 1) &
					 ~(uint64_t)(TCP_BUF_BYTES - 1);
			uint64_t room = d->asm_budget > others + d->asm_reserve ?
				(d->asm_budget - others - d->asm_reserve) &
					~(uint64_t)(TCP_BUF_BYTES - 1) : 0;
			cap = room > exact ? room : exact;
		}
		if (d->asm_bytes + cap - c->asm_cap > d->asm_budget)
			return -ENOBUFS;
		if (cap > UINT32_MAX)
			return -ENOBUFS;
		uint8_t *nb = realloc(c->asm_buf, cap);
		if (!nb)
			return -ENOMEM;
		d->asm_bytes += cap - c->asm_cap;
		c->asm_buf = nb;
		c->asm_cap = (uint32_t)cap;
	}
	memcpy(c->asm_buf + c->asm_len, p, len);
	c->asm_len += len;
	return 0;
}

/* A large assembly buffer while the free budget is below the reserve:
 * stop reading this connection until memory is freed (sweep). */
static void asm_budget_check(struct drv *d, uint32_t slot)
{
	struct conn *c = &d->conns[slot];
	if (c->asm_wait || c->state != C_OPEN || c->asm_cap <= ASM_SMALL_BYTES ||
	    d->asm_bytes + d->asm_reserve <= d->asm_budget)
		return;
	c->asm_wait = 1;
	d->asm_waiting++;
	d->st.assembly_waits++;
	rx_stop(d, slot);
}

static void shrink_asm(struct drv *d, struct conn *c)
{
	/* an idle connection keeps no buffer */
	if (c->asm_len == 0 && c->asm_buf) {
		free(c->asm_buf);
		d->asm_bytes -= c->asm_cap;
		c->asm_buf = NULL;
		c->asm_cap = 0;
	}
}

static void on_recv(struct drv *d, struct io_uring_cqe *cqe, uint32_t slot)
{
	struct conn *c = &d->conns[slot];
	int more = cqe->flags & IORING_CQE_F_MORE;
	if (!more)
		c->recv_armed = 0;
	if (!more && cqe->res != -ECANCELED)
		c->rx_cancelling = 0; /* ended by itself: the cancel finds
					 nothing */
	if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		const uint8_t *p = d->tcp_bufs + (size_t)bid * TCP_BUF_BYTES;
		uint32_t len = (uint32_t)cqe->res;
		d->st.tcp_rx_bytes += len;
		c->active_ns = d->now_ns;
		if (c->state == C_OPEN) {
			uint32_t id = conn_id(d, slot);
			long r = 0;
			if (c->asm_len == 0 && !c->need_resume) {
				/* zero copy: parse straight from the buffer */
				for (unsigned n = 0; n < 4096 && len &&
						     c->state == C_OPEN;
				     n++) {
					r = d->cb.conn_data(d->cb.ctx, id, p,
							    len);
					if (r <= 0)
						break;
					p += r;
					len -= (uint32_t)r;
				}
				if (r < 0) {
					c->state = C_CLOSING;
					len = 0;
				}
			}
			if (len && c->state == C_OPEN) {
				if (asm_append(d, c, p, len)) {
					d->st.assembly_overflow++;
					c->state = C_DEAD;
				} else if (c->asm_len > len) {
					deliver(d, slot);
				}
			}
			shrink_asm(d, c);
			partial_note(d, c);
			asm_budget_check(d, slot);
		}
		buf_recycle(d->tcp_br, d->tcp_bufs, d->tcp_nbufs, TCP_BUF_BYTES,
			    bid);
	} else if (cqe->res == -ENOBUFS) {
		d->st.rx_no_buffers++;
		if (c->state == C_OPEN && !c->need_rearm) {
			c->need_rearm = 1;
			todo_add(d, slot);
		}
		return;
	} else if (cqe->res == -ECANCELED && c->rx_cancelling && !more) {
		/* the receive we cancelled for a pause: not an error (the
		 * pause may be over already: then receive again) */
		c->rx_cancelling = 0;
		c->recv_armed = 0;
		if (c->state == C_OPEN)
			arm_recv(d, slot);
		conn_maybe_free(d, slot);
		return;
	} else if (cqe->res <= 0 && !more) {
		/* peer closed (0) or error: done with this connection */
		if (c->state == C_OPEN || c->state == C_CLOSING)
			c->state = C_DEAD;
	}
	if (c->state == C_DEAD) {
		conn_kill(d, slot);
		return;
	}
	if (!c->recv_armed && c->state == C_OPEN)
		arm_recv(d, slot);
	conn_maybe_free(d, slot);
}

static void on_send(struct drv *d, struct io_uring_cqe *cqe, uint32_t slot)
{
	struct conn *c = &d->conns[slot];
	c->send_inflight = 0;
	if (cqe->res < 0) {
		d->st.tx_errors++;
		conn_kill(d, slot);
		return;
	}
	struct drv_buf *b = c->txq_head;
	assert(b);
	assert((uint64_t)cqe->res <= c->unsent);
	b->off += (uint32_t)cqe->res;
	d->st.tcp_tx_bytes += (uint64_t)cqe->res;
	c->unsent -= (uint64_t)cqe->res;
	if (cqe->res > 0)
		c->active_ns = c->tx_progress_ns = d->now_ns;
	if (b->off >= b->len) {
		c->txq_head = b->next;
		if (!c->txq_head)
			c->txq_tail = NULL;
		b->release(b);
	}
	if (c->state == C_DEAD) {
		conn_maybe_free(d, slot);
		return;
	}
	arm_send(d, slot);
	if (cqe->res > 0 && d->cb.conn_sent && c->state == C_OPEN)
		d->cb.conn_sent(d->cb.ctx, conn_id(d, slot), c->unsent);
	conn_maybe_free(d, slot);
}

static void on_accept(struct drv *d, struct io_uring_cqe *cqe, uint32_t l)
{
	assert(l < d->ntcp);
	if (!(cqe->flags & IORING_CQE_F_MORE))
		d->accept_armed[l] = 0;
	if (cqe->res < 0)
		return;
	int fd = cqe->res;
	if (d->nfree == 0) {
		d->st.conns_refused++;
		close(fd);
		return;
	}
	struct sockaddr_in peer;
	socklen_t pl = sizeof(peer);
	struct ip_count *ipc = NULL;
	if (d->cfg.max_per_ip &&
	    getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 &&
	    peer.sin_family == AF_INET && peer.sin_addr.s_addr) {
		ipc = ip_find(d, peer.sin_addr.s_addr, 1);
		if (ipc && ipc->n >= d->cfg.max_per_ip) {
			d->st.conns_refused++;
			d->st.conns_refused_per_ip++;
			close(fd);
			return;
		}
	}
	uint32_t slot = d->free_slots[--d->nfree];
	struct conn *c = &d->conns[slot];
	assert(c->state == C_FREE);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->state = C_OPEN;
	c->recv_armed = c->send_inflight = c->shut = 0;
	c->rx_paused = c->rx_cancelling = 0;
	c->need_rearm = c->need_resume = 0;
	c->asm_len = 0;
	c->asm_wait = 0;
	c->unsent = 0;
	c->active_ns = c->tx_progress_ns = d->now_ns;
	c->partial_since_ns = 0;
	c->ip = 0;
	if (ipc) {
		ipc->n++;
		c->ip = peer.sin_addr.s_addr;
	}
	d->st.conns_accepted++;
	d->st.conns_open++;
	if (d->cb.conn_open(d->cb.ctx, conn_id(d, slot), (int)l) < 0) {
		d->st.conns_refused++;
		c->state = C_DEAD;
		conn_kill(d, slot);
		return;
	}
	arm_recv(d, slot);
}

static void on_udp(struct drv *d, struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		d->udp_armed = 0;
	if (cqe->res == -ENOBUFS)
		d->st.rx_no_buffers++;
	if (cqe->res <= 0 || !(cqe->flags & IORING_CQE_F_BUFFER))
		return;
	unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	uint8_t *buf = d->udp_bufs + (size_t)bid * d->udp_buf_bytes;
	struct io_uring_recvmsg_out *o =
		io_uring_recvmsg_validate(buf, cqe->res, &d->udp_msgh);
	if (o) {
		const uint8_t *p = io_uring_recvmsg_payload(o, &d->udp_msgh);
		size_t len = io_uring_recvmsg_payload_length(o, cqe->res,
							     &d->udp_msgh);
		struct sockaddr_in *sa =
			io_uring_recvmsg_name(o);
		struct drv_peer from = { sa->sin_addr.s_addr, sa->sin_port };
		d->st.rx_packets++;
		d->st.rx_bytes += len;
		/* a truncated datagram (MSG_TRUNC) reaches the dataplane with
		 * its frame header claiming more than it holds: malformed */
		d->cb.datagram(d->cb.ctx, p, len, &from);
	}
	buf_recycle(d->udp_br, d->udp_bufs, d->udp_nbufs, d->udp_buf_bytes,
		    bid);
}

static int process_cqes(struct drv *d)
{
	struct io_uring_cqe *cqes[CQE_BATCH];
	unsigned n = io_uring_peek_batch_cqe(&d->ring, cqes, CQE_BATCH);
	for (unsigned i = 0; i < n; i++) {
		struct io_uring_cqe *cqe = cqes[i];
		uint64_t u = cqe->user_data;
		uint32_t slot = UD_SLOT(u);
		switch (UD_TYPE(u)) {
		case UD_ACCEPT:
			if (slot < d->ntcp)
				on_accept(d, cqe, slot);
			break;
		case UD_UDP:
			on_udp(d, cqe);
			break;
		case UD_RECV:
			if (slot < d->nconns && d->conns[slot].gen == UD_GEN(u))
				on_recv(d, cqe, slot);
			break;
		case UD_SEND:
			if (slot < d->nconns && d->conns[slot].gen == UD_GEN(u))
				on_send(d, cqe, slot);
			break;
		case UD_WAKE:
			d->wake_armed = 0;
			d->cb.wakeup(d->cb.ctx);
			break;
		default:
			break;
		}
		io_uring_cqe_seen(&d->ring, cqe);
	}
	return (int)n;
}

static void run_todo(struct drv *d)
{
	uint32_t n = d->ntodo;
	d->ntodo = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = d->todo[i];
		struct conn *c = &d->conns[slot];
		int rearm = c->need_rearm, resume = c->need_resume;
		c->need_rearm = c->need_resume = 0;
		if (c->state != C_OPEN)
			continue;
		if (resume) {
			deliver(d, slot);
			shrink_asm(d, c);
			partial_note(d, c);
			arm_recv(d, slot); /* unless deliver paused it again */
		}
		if (rearm)
			arm_recv(d, slot);
	}
}

/* Close a connection that broke a limit: at once, both ways. */
static void conn_expire(struct drv *d, uint32_t slot, uint64_t *counter)
{
	(*counter)++;
	conn_kill(d, slot);
}

/* Every DRV_SWEEP_NS: deadlines, and connections waiting for assembly
 * memory read again while the budget has room.  Bounded by nconns. */
static int sweep(struct drv *d)
{
	const struct drv_config *k = &d->cfg;
	uint64_t now = d->now_ns;
	int work = 0;
	for (uint32_t slot = 0; slot < d->nconns; slot++) {
		struct conn *c = &d->conns[slot];
		if (c->state != C_OPEN && c->state != C_CLOSING)
			continue;
		if (k->send_timeout_ns && c->unsent &&
		    now - c->tx_progress_ns > k->send_timeout_ns) {
			conn_expire(d, slot, &d->st.conns_send_timeout);
			work++;
			continue;
		}
		if (c->state != C_OPEN)
			continue;
		if (k->frame_timeout_ns && c->partial_since_ns &&
		    now - c->partial_since_ns > k->frame_timeout_ns) {
			conn_expire(d, slot, &d->st.conns_frame_timeout);
			work++;
			continue;
		}
		if (k->idle_timeout_ns && !c->unsent && !c->asm_len &&
		    now - c->active_ns > k->idle_timeout_ns) {
			d->st.conns_idle_closed++;
			c->state = C_CLOSING; /* nothing owed: close gently */
			conn_maybe_free(d, slot);
			work++;
			continue;
		}
		if (c->asm_wait &&
		    d->asm_bytes + d->asm_reserve <= d->asm_budget) {
			c->asm_wait = 0;
			d->asm_waiting--;
			arm_recv(d, slot);
			work++;
		}
	}
	return work;
}

static int sock_do_work(struct drv *d, uint64_t wait_us)
{
	d->now_ns = clock_now_ns(d);
	if ((int64_t)(d->now_ns - d->next_sweep_ns) >= 0) {
		d->next_sweep_ns = d->now_ns + DRV_SWEEP_NS;
		sweep(d);
	}
	for (uint32_t l = 0; l < d->ntcp; l++)
		arm_accept(d, l);
	arm_udp(d);
	arm_wake(d);
	run_todo(d);
	int work = 0;
	for (int round = 0; round < 4; round++) {
		int n = process_cqes(d);
		work += n;
		if (n < CQE_BATCH)
			break;
	}
	if (work == 0 && wait_us > 0) {
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(wait_us / 1000000),
			.tv_nsec = (long long)(wait_us % 1000000) * 1000,
		};
		struct io_uring_cqe *cqe;
		d->st.waits++;
		io_uring_submit_and_wait_timeout(&d->ring, &cqe, 1, &ts, NULL);
		work += process_cqes(d);
	}
	int rc = io_uring_submit(&d->ring);
	if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR)
		return rc;
	return work;
}

static int sock_udp_send(struct drv *d, const struct drv_peer *to,
			 const uint8_t *p, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = to->port };
	a.sin_addr.s_addr = to->ip;
	if (d->udp_fd < 0)
		return -ENOTCONN;
	ssize_t r = sendto(d->udp_fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (struct sockaddr *)&a, sizeof(a));
	if (r < 0) {
		d->st.tx_errors++;
		return -errno;
	}
	d->st.tx_packets++;
	d->st.tx_bytes += (uint64_t)r;
	return 0;
}

static int sock_conn_send(struct drv *d, uint32_t id, struct drv_buf *b)
{
	struct conn *c = conn_get(d, id);
	if (!c || c->state == C_DEAD) {
		b->release(b);
		return -ENOTCONN;
	}
	b->next = NULL;
	b->off = 0;
	if (!c->unsent)
		c->tx_progress_ns = d->now_ns; /* the send clock starts */
	c->unsent += b->len;
	if (c->txq_tail)
		c->txq_tail->next = b;
	else
		c->txq_head = b;
	c->txq_tail = b;
	arm_send(d, id & ((1u << SLOT_BITS) - 1));
	return 0;
}

static void sock_conn_close(struct drv *d, uint32_t id, int hard)
{
	struct conn *c = conn_get(d, id);
	if (!c)
		return;
	uint32_t slot = id & ((1u << SLOT_BITS) - 1);
	if (hard) {
		conn_kill(d, slot);
		return;
	}
	if (c->state == C_OPEN)
		c->state = C_CLOSING;
	conn_maybe_free(d, slot);
}

/* Stop receiving on a connection the dataplane cannot take more from,
 * so that TCP flow control holds the sender back instead of bytes piling
 * up in the assembly buffer; conn_resume starts receiving again. */
static void sock_conn_pause(struct drv *d, uint32_t id)
{
	struct conn *c = conn_get(d, id);
	if (!c || c->state != C_OPEN || c->rx_paused)
		return;
	c->rx_paused = 1;
	rx_stop(d, id & ((1u << SLOT_BITS) - 1));
}

static uint64_t sock_conn_unsent(const struct drv *d, uint32_t id)
{
	const struct conn *c = conn_get((struct drv *)d, id);
	return c ? c->unsent : 0;
}

static void sock_conn_resume(struct drv *d, uint32_t id)
{
	struct conn *c = conn_get(d, id);
	if (c && c->state == C_OPEN)
		c->rx_paused = 0;
	if (!c || c->state != C_OPEN || c->need_resume)
		return;
	c->need_resume = 1;
	todo_add(d, id & ((1u << SLOT_BITS) - 1));
}

static const struct drv_stats *sock_stats(const struct drv *d)
{
	return &d->st;
}

static void sock_ports(const struct drv *d, uint16_t *udp, uint16_t *tcp_out,
		       uint32_t ntcp)
{
	*udp = d->udp_port;
	for (uint32_t l = 0; l < ntcp; l++)
		tcp_out[l] = l < d->ntcp ? d->tcp_port[l] : 0;
}

static void sock_destroy(struct drv *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; d->conns && i < d->nconns; i++) {
		struct conn *c = &d->conns[i];
		if (c->state != C_FREE) {
			txq_release(c);
			close(c->fd);
			free(c->asm_buf);
		}
	}
	io_uring_queue_exit(&d->ring);
	if (d->udp_fd >= 0)
		close(d->udp_fd);
	for (uint32_t l = 0; l < DRV_MAX_LISTENERS; l++)
		if (d->tcp_fd[l] >= 0)
			close(d->tcp_fd[l]);
	free(d->udp_br);
	free(d->udp_bufs);
	free(d->tcp_br);
	free(d->tcp_bufs);
	free(d->conns);
	free(d->free_slots);
	free(d->todo);
	free(d->ips);
	free(d);
}

static int sock_create(const struct drv_config *cfg,
		       const struct drv_callbacks *cb, struct drv **out)
{
	int rc;
	if (cfg->max_connections == 0 ||
	    cfg->max_connections >= (1u << SLOT_BITS) ||
	    cfg->ntcp > DRV_MAX_LISTENERS)
		return -EINVAL;
	struct drv *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	d->cb = *cb;
	d->udp_fd = -1;
	for (uint32_t l = 0; l < DRV_MAX_LISTENERS; l++)
		d->tcp_fd[l] = -1;
	struct io_uring_params p = { 0 };
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
	p.cq_entries = 32768;
	rc = io_uring_queue_init_params(1024, &d->ring, &p);
	if (rc < 0) {
		free(d);
		return rc;
	}
	d->nconns = cfg->max_connections;
	d->conns = calloc(d->nconns, sizeof(*d->conns));
	d->free_slots = calloc(d->nconns, sizeof(uint32_t));
	d->todo = calloc(d->nconns, sizeof(uint32_t));
	if (!d->conns || !d->free_slots || !d->todo) {
		rc = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < d->nconns; i++) {
		d->conns[i].fd = -1;
		d->free_slots[i] = d->nconns - 1 - i;
	}
	d->nfree = d->nconns;
	d->ips_cap = pow2_clamp(2ull * d->nconns, 16, 1u << 22);
	if (d->ips_cap < 2 * d->nconns)
		d->ips_cap *= 2;
	d->ips = calloc(d->ips_cap, sizeof(*d->ips));
	if (!d->ips) {
		rc = -ENOMEM;
		goto fail;
	}
	/* half of the receive memory for UDP buffers, half for TCP; the
	 * assembly budget equals the receive memory */
	uint64_t half = cfg->rx_buffer_bytes / 2;
	d->asm_budget = cfg->rx_buffer_bytes;
	d->asm_reserve = d->asm_budget / 4;
	d->now_ns = clock_now_ns(d);
	if (cfg->udp_port) {
		d->udp_buf_bytes = (uint32_t)((cfg->udp_max_frame +
					       sizeof(struct io_uring_recvmsg_out) +
					       sizeof(struct sockaddr_in) + 63) & ~63u);
		d->udp_nbufs = pow2_clamp(half / d->udp_buf_bytes, 16, 4096);
		rc = buf_ring_setup(d, BGID_UDP, d->udp_nbufs, d->udp_buf_bytes,
				    &d->udp_br, &d->udp_bufs);
		if (rc)
			goto fail;
		rc = bind_socket(d, SOCK_DGRAM, cfg->udp_port,
				 &d->udp_fd, &d->udp_port);
		if (rc)
			goto fail;
		d->udp_msgh.msg_namelen = sizeof(struct sockaddr_in);
	}
	if (cfg->ntcp) {
		d->tcp_nbufs = pow2_clamp(half / TCP_BUF_BYTES, 64, 32768);
		rc = buf_ring_setup(d, BGID_TCP, d->tcp_nbufs, TCP_BUF_BYTES,
				    &d->tcp_br, &d->tcp_bufs);
		if (rc)
			goto fail;
	}
	for (uint32_t l = 0; l < cfg->ntcp; l++) {
		rc = bind_socket(d, SOCK_STREAM, cfg->tcp_ports[l],
				 &d->tcp_fd[l], &d->tcp_port[l]);
		if (rc)
			goto fail;
		d->ntcp = l + 1;
	}
	*out = d;
	return 0;
fail:
	sock_destroy(d);
	return rc;
}

const struct drv_ops drv_socket_ops = {
	.name = "socket",
	.create = sock_create,
	.destroy = sock_destroy,
	.do_work = sock_do_work,
	.udp_send = sock_udp_send,
	.conn_send = sock_conn_send,
	.conn_close = sock_conn_close,
	.conn_resume = sock_conn_resume,
	.conn_pause = sock_conn_pause,
	.conn_unsent = sock_conn_unsent,
	.stats = sock_stats,
	.ports = sock_ports,
};
