/*
 * sl_producer: batching, partitioning, pipelining and idempotent retries
 * over TCP or UDP, driven by the caller's thread (no background thread:
 * sl_produce, sl_producer_poll and sl_producer_flush do the work).
 *
 * Happy path: sl_produce picks a partition (murmur2 of the key, round robin
 * for null keys), appends the record to the partition's open batch; a batch
 * closes when full (batch_bytes) or old (linger_ms), gets the partition's
 * next sequence and joins the partition's queue; up to max_in_flight
 * batches per partition are on the wire at once; each answer is matched by
 * correlation id, the batch's messages are reported with their offsets and
 * the batch is freed.
 *
 * Failure modes and what they do:
 *   - UDP datagram lost (either way): the batch is sent again, same bytes
 *     and sequence, after request_timeout_ms; the broker answers a copy
 *     with the original offsets.
 *   - TCP connection broken or silent for request_timeout_ms: reconnect,
 *     resend every unanswered batch in sequence order.
 *   - REQUEST_TIMED_OUT, KAFKA_STORAGE_ERROR, UNKNOWN_SERVER_ERROR: resend
 *     the batch.  OUT_OF_ORDER_SEQUENCE_NUMBER: resend the partition's
 *     queue from its first unacknowledged batch.
 *     THROTTLING_QUOTA_EXCEEDED (or any answer's throttle ms): the partition
 *     sends nothing for throttle ms, then resends.
 *   - Any other error: the batch is not in the log; its messages are
 *     reported failed and the partition's later batches are renumbered
 *     (they cannot have been appended across the gap) and resent.
 *   - delivery_timeout_ms passed: the partition's batches are reported
 *     -ETIMEDOUT; since some may have been appended, the producer takes a
 *     new producer id and renumbers everything still queued.
 *   - Backpressure: queued + in-flight bytes are bounded by buffer_bytes.
 *   - A cluster (the broker answers LEADERS): each partition's batches go
 *     to its leader, over a TCP connection to that broker or in datagrams
 *     to its UDP port; NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
 *     UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION and a leader's
 *     connection lost ask LEADERS again (at most every 100 ms) and resend
 *     there (the same sequence: idempotence keeps a copy out of the log).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client_pvt.h"
#include "proto/native.h"
#include "proto/record_batch.h"

struct pbatch {
	struct pbatch *next;  /* partition queue, sequence order */
	struct ptopic *topic;
	int32_t partition;
	uint8_t *buf;         /* produce frame: 32-byte head + batch */
	size_t cap;
	struct rb_builder b;
	int32_t count;
	void **opaques;       /* count entries */
	size_t opq_cap;
	size_t frame_len;     /* 0 while open */
	int32_t base_seq;
	uint32_t corr;        /* of the latest send */
	uint64_t created_us, sent_us;
	int in_flight;        /* sent, unanswered */
	int sends;
	int last_err;         /* the last retriable broker error, reported
				 if the delivery timeout runs out */
	int appended;         /* answered and reported; stays queued until
				 every batch before it is too */
	int16_t via;          /* in flight to brokers[via], -1: p->conn or
				 the UDP address it was created with */
};

#define TOPICS_MAX 65536 /* topics one producer writes to */

struct ppart {
	struct pbatch *open;
	struct pbatch *head, *tail; /* closed batches */
	int in_flight;
	int acked; /* an answer came: until then one batch at a time, so
		      that a lost first datagram cannot let a later batch
		      define the broker's first sequence */
	int32_t next_seq;
	uint64_t resume_us; /* throttled until */
};

struct ptopic {
	char name[SN_NAME_MAX + 1];
	uint32_t id;
	int32_t partitions;
	struct ppart *parts;
	int16_t *leader;        /* per partition: index into brokers, -1:
				   p->conn (no LEADERS, or no leader) */
	uint32_t rr;
	int32_t sticky;
};

/* A partition leader, as LEADERS names it. */
struct pbroker {
	int32_t node_id;
	struct sockaddr_in tcp, udp;
	struct slc_conn conn;   /* TCP: to it (opened when first used) */
	uint64_t reconnect_after_us;
};

struct sl_producer {
	struct sl_producer_opts o;
	struct sockaddr_in sin, udp_sin;
	struct slc_conn conn;   /* the broker it was created with */
	struct pbroker brokers[SLC_BROKERS_MAX];
	int nbrokers;
	int routing;            /* the broker answers LEADERS */
	int route_stale;        /* ask LEADERS again (a leader moved) */
	uint64_t route_after_us;
	int udp_fd;
	int idempotent;
	int64_t pid;
	int16_t epoch;
	uint32_t next_corr;
	uint32_t batch_bytes;  /* effective */
	uint32_t max_frame;    /* of the transport */
	struct ptopic **topics;  /* each its own allocation */
	int ntopics, topics_cap;
	struct pbatch **sent;  /* in flight, any order */
	int nsent, sent_cap;
	uint64_t buffered_bytes, outstanding;
	uint64_t reconnect_after_us;
	int reports; /* delivery reports during this call */
	struct sl_producer_stats st;
	uint8_t rx[SN_UDP_MAX_FRAME];
};

void sl_producer_opts_default(struct sl_producer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->transport = SL_TCP;
	o->acks = -1;
	o->batch_bytes = 256u << 10; /* acks=all waits for an fdatasync
					per batch in flight: small batches
					cap a partition's rate */
	o->linger_ms = 5;
	o->max_in_flight = 5;
	o->buffer_bytes = 64u << 20;
	o->block_ms = 60000;
	o->delivery_timeout_ms = 120000;
	o->idempotence = 1;
}

/* ---- bookkeeping ---- */

static void report(struct sl_producer *p, struct pbatch *b, int64_t base,
		   int err)
{
	for (int32_t i = 0; i < b->count; i++) {
		if (p->o.cb)
			p->o.cb(b->opaques[i], b->partition,
				err ? -1 : base < 0 ? -1 : base + i, err,
				p->o.cb_arg);
	}
	if (err)
		p->st.errors += (uint64_t)b->count;
	else
		p->st.messages += (uint64_t)b->count;
	assert(p->outstanding >= (uint64_t)b->count);
	p->outstanding -= (uint64_t)b->count;
	p->reports += b->count;
}

static void unsend(struct sl_producer *p, struct pbatch *b)
{
	if (!b->in_flight)
		return;
	for (int i = 0; i < p->nsent; i++) {
		if (p->sent[i] == b) {
			p->sent[i] = p->sent[--p->nsent];
			break;
		}
	}
	b->in_flight = 0;
	b->topic->parts[b->partition].in_flight--;
	assert(b->topic->parts[b->partition].in_flight >= 0);
}

static void batch_free(struct sl_producer *p, struct pbatch *b)
{
	p->buffered_bytes -= b->cap;
	free(b->buf);
	free(b->opaques);
	free(b);
}

/* Take b out of its partition queue (anywhere in it) and free it. */
static void batch_done(struct sl_producer *p, struct pbatch *b)
{
	struct ppart *pp = &b->topic->parts[b->partition];
	unsend(p, b);
	struct pbatch **pn = &pp->head, *prev = NULL;
	while (*pn && *pn != b) {
		prev = *pn;
		pn = &(*pn)->next;
	}
	assert(*pn == b);
	*pn = b->next;
	if (pp->tail == b)
		pp->tail = prev;
	batch_free(p, b);
}

/*
 * A batch was appended: report it now, but keep it in the queue while an
 * earlier batch is still unanswered.  The send window counts positions
 * from the oldest unanswered batch, so at most max_in_flight batches from
 * there are ever out: a batch whose answer was lost is still among the
 * broker's last five when it is resent (over UDP answers come out of
 * order).
 */
static void batch_appended(struct sl_producer *p, struct pbatch *b,
			   int64_t base_offset)
{
	struct ppart *pp = &b->topic->parts[b->partition];
	report(p, b, base_offset, 0);
	unsend(p, b);
	b->appended = 1;
	while (pp->head && pp->head->appended)
		batch_done(p, pp->head);
}

/* Put producer id, epoch and sequence into a closed batch and redo its
 * CRC (they are inside it). */
static void restamp(struct sl_producer *p, struct pbatch *b, int32_t seq)
{
	uint8_t *batch = b->buf + SN_PRODUCE_REQ_BYTES;
	size_t blen = b->frame_len - SN_PRODUCE_REQ_BYTES;
	b->base_seq = seq;
	rb_put64(batch + RB_OFF_PRODUCER_ID, (uint64_t)p->pid);
	rb_put16(batch + RB_OFF_PRODUCER_EPOCH, (uint16_t)p->epoch);
	rb_put32(batch + RB_OFF_BASE_SEQUENCE,
		 (uint32_t)(p->pid >= 0 ? seq : -1));
	rb_put32(batch + RB_OFF_CRC,
		 rb_crc32c(batch + RB_CRC_START, blen - RB_CRC_START));
}

/* ---- the wire ---- */

static int init_pid(struct sl_producer *p)
{
	uint8_t req[SN_INIT_PID_REQ_BYTES];
	long n = sn_encode_init_pid(req, sizeof(req), p->conn.next_corr++);
	assert(n == SN_INIT_PID_REQ_BYTES);
	const uint8_t *f;
	size_t len;
	int rc = slc_conn_call(&p->conn, req, (size_t)n, 10000, &f, &len);
	if (rc < 0)
		return rc;
	if ((rc = slc_frame_error(f)))
		return rc;
	if ((rc = sn_decode_init_pid_resp(f, len, &p->pid, &p->epoch)))
		return slc_decode_error(rc);
	p->st.producer_id = p->pid;
	p->st.epoch = p->epoch;
	return 0;
}

static void handle_answer(void *arg, const uint8_t *f, size_t len);

/* The connection of brokers[via] (-1: p->conn). */
static struct slc_conn *conn_of(struct sl_producer *p, int via)
{
	return via < 0 ? &p->conn : &p->brokers[via].conn;
}

/* c closed and made ready to open again: its correlation ids go on,
 * frames it does not wait for go to handle_answer. */
static void conn_reset(struct sl_producer *p, struct slc_conn *c)
{
	slc_conn_close(c);
	uint32_t corr = c->next_corr;
	slc_conn_init(c);
	c->next_corr = corr;
	c->other = handle_answer;
	c->other_arg = p;
}

/* brokers[via]'s connection, opened when it is not (with a back-off
 * after a failure).  0 or -errno. */
static int broker_conn(struct sl_producer *p, int via)
{
	struct pbroker *pb = &p->brokers[via];
	if (pb->conn.fd >= 0)
		return 0;
	uint64_t now = slc_now_us();
	if (now < pb->reconnect_after_us)
		return -ENOTCONN;
	conn_reset(p, &pb->conn);
	int rc = slc_conn_open(&pb->conn, &pb->tcp, 2000);
	if (rc) {
		pb->reconnect_after_us = now + 200000; /* back off 200 ms */
		p->route_stale = 1; /* the leader may have moved */
	}
	return rc;
}

/* The connection to brokers[via] (-1: p->conn) failed: closed, and every
 * batch in flight on it goes back to "to send". */
static void conn_lost(struct sl_producer *p, int via)
{
	conn_reset(p, conn_of(p, via));
	for (int i = p->nsent - 1; i >= 0; i--)
		if (p->sent[i]->via == via)
			unsend(p, p->sent[i]);
	if (via >= 0) {
		p->brokers[via].reconnect_after_us = slc_now_us() + 200000;
		p->route_stale = 1;
	}
}

static int send_batch(struct sl_producer *p, struct pbatch *b, uint64_t now)
{
	struct ppart *pp = &b->topic->parts[b->partition];
	int via = p->routing ? b->topic->leader[b->partition] : -1;
	if (via >= 0 && p->o.transport == SL_UDP && p->o.udp_addr)
		via = -1; /* every datagram to the address given */
	/* one sequence of correlation ids for every connection: p->conn's,
	 * whose LEADERS calls take theirs from it too */
	b->corr = p->conn.next_corr++;
	rb_put32(b->buf + 8, b->corr);
	int rc;
	if (p->o.transport == SL_UDP) {
		const struct sockaddr_in *to = via >= 0 ?
			&p->brokers[via].udp : &p->udp_sin;
		ssize_t w = sendto(p->udp_fd, b->buf, b->frame_len,
				   MSG_DONTWAIT, (const struct sockaddr *)to,
				   sizeof(*to));
		/* a datagram the kernel would not take is a lost datagram:
		 * resent after the timeout */
		rc = (w < 0 && errno != EAGAIN && errno != ENOBUFS &&
		      errno != ECONNREFUSED) ? -errno : 0;
	} else if (via >= 0) {
		rc = broker_conn(p, via);
		if (rc)
			return 0; /* stays queued: sent once it connects */
		rc = slc_conn_send(&p->brokers[via].conn, b->buf, b->frame_len,
				   10000);
		if (rc) {
			conn_lost(p, via);
			return 0;
		}
	} else {
		rc = slc_conn_send(&p->conn, b->buf, b->frame_len, 10000);
	}
	if (rc)
		return rc;
	b->via = (int16_t)via;
	if (b->sends++)
		p->st.resends++;
	else
		p->st.batches_sent++;
	b->sent_us = now;
	if (p->o.acks == 0) {
		report(p, b, -1, 0);
		batch_done(p, b);
		return 0;
	}
	b->in_flight = 1;
	pp->in_flight++;
	if (p->nsent == p->sent_cap) {
		int cap = p->sent_cap ? p->sent_cap * 2 : 64;
		struct pbatch **ns = realloc(p->sent, (size_t)cap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		p->sent = ns;
		p->sent_cap = cap;
	}
	p->sent[p->nsent++] = b;
	return 0;
}

/* Every unanswered batch goes back to "to send" (after a reconnect). */
static void unsend_all(struct sl_producer *p)
{
	while (p->nsent)
		unsend(p, p->sent[p->nsent - 1]);
}

static int reconnect(struct sl_producer *p)
{
	uint64_t now = slc_now_us();
	if (now < p->reconnect_after_us)
		return -ENOTCONN;
	conn_reset(p, &p->conn);
	int rc = slc_conn_open(&p->conn, &p->sin, 2000);
	if (rc) {
		p->reconnect_after_us = now + 200000; /* back off 200 ms */
		return rc;
	}
	if (p->o.transport == SL_TCP)
		for (int i = p->nsent - 1; i >= 0; i--)
			if (p->sent[i]->via < 0)
				unsend(p, p->sent[i]);
	return 0;
}

/* Send what may go: per partition, queued batches in order while fewer
 * than max_in_flight are out and the partition is not throttled. */
static int send_ready(struct sl_producer *p, uint64_t now)
{
	for (int t = 0; t < p->ntopics; t++) {
		struct ptopic *tp = p->topics[t];
		for (int32_t i = 0; i < tp->partitions; i++) {
			struct ppart *pp = &tp->parts[i];
			if (pp->resume_us > now)
				continue;
			struct pbatch *b = pp->head, *next;
			int limit = pp->acked ? (int)p->o.max_in_flight : 1;
			/* the first `limit` batches of the queue, by position */
			for (int pos = 0; b && pos < limit; b = next, pos++) {
				next = b->next;
				if (b->in_flight || b->appended)
					continue;
				int rc = send_batch(p, b, now);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

/* Close a partition's open batch: sequence it, queue it. */
static void close_batch(struct sl_producer *p, struct ppart *pp)
{
	struct pbatch *b = pp->open;
	if (!b)
		return;
	pp->open = NULL;
	long bl = rb_builder_finish(&b->b);
	assert(bl > 0);
	b->frame_len = (size_t)slc_produce_frame(
		b->buf, 0, b->topic->id, b->partition, (int16_t)p->o.acks,
		p->o.request_timeout_ms, (size_t)bl);
	if (p->pid >= 0) {
		restamp(p, b, pp->next_seq);
		pp->next_seq = slc_seq_add(pp->next_seq, b->count);
	}
	b->next = NULL;
	if (pp->tail)
		pp->tail->next = b;
	else
		pp->head = b;
	pp->tail = b;
}

static void close_due(struct sl_producer *p, uint64_t now, int all)
{
	for (int t = 0; t < p->ntopics; t++) {
		struct ptopic *tp = p->topics[t];
		for (int32_t i = 0; i < tp->partitions; i++) {
			struct pbatch *b = tp->parts[i].open;
			if (b && (all || slc_batch_due(b->b.len, p->batch_bytes,
						       now - b->created_us,
						       p->o.linger_ms)))
				close_batch(p, &tp->parts[i]);
		}
	}
}

static struct pbatch *find_sent(struct sl_producer *p, uint32_t corr)
{
	for (int i = 0; i < p->nsent; i++)
		if (p->sent[i]->corr == corr)
			return p->sent[i];
	return NULL;
}

/* Renumber the queue of a partition from its head (after a batch left it
 * without being appended, or under a new producer id). */
static void renumber(struct sl_producer *p, struct ppart *pp, int32_t seq)
{
	for (struct pbatch *b = pp->head; b; b = b->next) {
		if (b->appended)
			continue; /* already in the log with its sequence */
		unsend(p, b);
		restamp(p, b, seq);
		seq = slc_seq_add(seq, b->count);
	}
	pp->next_seq = seq;
}

static void handle_answer(void *arg, const uint8_t *f, size_t len)
{
	struct sl_producer *p = arg;
	struct pbatch *b = find_sent(p, rb_be32(f + 8));
	if (!b || f[3] != (SN_PRODUCE | SN_RESPONSE))
		return; /* a stale answer to an earlier send */
	struct ppart *pp = &b->topic->parts[b->partition];
	int code = (int16_t)rb_be16(f + 12);
	struct sn_produce_resp r;
	memset(&r, 0, sizeof(r));
	r.base_offset = -1;
	int drc = sn_decode_produce_resp(f, len, &r);
	uint64_t now = slc_now_us();
	if (r.throttle_ms) {
		p->st.throttles++;
		pp->resume_us = now + (uint64_t)r.throttle_ms * 1000u;
	}
	if (code == 0 && drc == 0) {
		pp->acked = 1;
		batch_appended(p, b, r.base_offset);
		return;
	}
	if (code == 0)
		code = SN_ERR_INVALID_REQUEST;
	if (slc_not_leader(code)) {
		/* the leader moved: resent where LEADERS says, soon */
		b->last_err = sl_err_broker(code);
		p->route_stale = 1;
		pp->resume_us = now + 100000;
		unsend(p, b);
		return;
	}
	if (slc_retriable(code)) {
		b->last_err = sl_err_broker(code);
		if (code == SN_ERR_THROTTLING_QUOTA_EXCEEDED && !r.throttle_ms)
			pp->resume_us = now + 100000;
		if (code == SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER) {
			for (struct pbatch *q = pp->head; q; q = q->next)
				unsend(p, q);
		} else {
			unsend(p, b);
		}
		return;
	}
	/* not appended: report, close the gap in the sequence */
	int32_t seq = b->base_seq;
	report(p, b, -1, sl_err_broker(code));
	batch_done(p, b);
	if (p->pid >= 0)
		renumber(p, pp, seq);
	if (!pp->head && p->pid >= 0)
		pp->next_seq = seq;
	while (pp->head && pp->head->appended)
		batch_done(p, pp->head);
}

static int read_answers(struct sl_producer *p, int timeout_ms)
{
	int got = 0;
	if (p->o.transport == SL_UDP) {
		struct pollfd pfd = { .fd = p->udp_fd, .events = POLLIN };
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return 0;
		for (int i = 0; i < 1024; i++) {
			ssize_t r = recv(p->udp_fd, p->rx, sizeof(p->rx),
					 MSG_DONTWAIT);
			if (r < 0)
				break;
			struct sn_header h;
			if (sn_header_parse(p->rx, (size_t)r, SN_UDP_MAX_FRAME,
					    &h) != r)
				continue;
			handle_answer(p, p->rx, (size_t)r);
			got++;
		}
		/* answers to METADATA etc. never come over UDP */
		return got;
	}
	/* TCP: p->conn and the leaders' connections; frames already read
	 * first, then a wait for any of them */
	struct pollfd pfd[SLC_BROKERS_MAX + 1];
	int via[SLC_BROKERS_MAX + 1];
	for (int pass = 0; pass < 2 && !got; pass++) {
		int n = 0;
		if (p->conn.fd >= 0) {
			pfd[n] = (struct pollfd){ p->conn.fd, POLLIN, 0 };
			via[n++] = -1;
		}
		for (int i = 0; i < p->nbrokers; i++)
			if (p->brokers[i].conn.fd >= 0) {
				pfd[n] = (struct pollfd){
					p->brokers[i].conn.fd, POLLIN, 0 };
				via[n++] = i;
			}
		if (!n)
			return 0;
		if (pass == 1 && poll(pfd, (nfds_t)n, timeout_ms) <= 0)
			return 0;
		for (int k = 0; k < n; k++) {
			if (pass == 1 && !pfd[k].revents)
				continue;
			struct slc_conn *c = conn_of(p, via[k]);
			for (int i = 0; i < 1024; i++) {
				const uint8_t *f;
				size_t len;
				int rc = slc_conn_recv(c, 0, &f, &len);
				if (rc < 0) {
					if (via[k] < 0)
						return rc;
					conn_lost(p, via[k]);
					break;
				}
				if (rc == 0)
					break;
				handle_answer(p, f, len);
				got++;
			}
		}
	}
	return got;
}

/* Resends for lost datagrams or a stuck connection; delivery timeouts. */
static int check_timeouts(struct sl_producer *p, uint64_t now)
{
	uint64_t rto = (uint64_t)p->o.request_timeout_ms * 1000u;
	for (int i = p->nsent - 1; i >= 0; i--) {
		struct pbatch *b = p->sent[i];
		if (now - b->sent_us < rto)
			continue;
		if (p->o.transport == SL_UDP) {
			unsend(p, b);
			if (p->routing)
				p->route_stale = 1; /* the leader may be gone */
		} else if (b->via >= 0) {
			conn_lost(p, b->via);
			i = p->nsent; /* the list changed: look again */
		} else {
			int rc = reconnect(p);
			return rc;
		}
	}
	uint64_t dto = (uint64_t)p->o.delivery_timeout_ms * 1000u;
	int expired = 0;
	for (int t = 0; t < p->ntopics; t++) {
		struct ptopic *tp = p->topics[t];
		for (int32_t i = 0; i < tp->partitions; i++) {
			struct ppart *pp = &tp->parts[i];
			while (pp->head && now - pp->head->created_us >= dto) {
				/* "disk full" says more than "timed out" */
				report(p, pp->head, -1,
				       pp->head->last_err ? pp->head->last_err
							  : -ETIMEDOUT);
				batch_done(p, pp->head);
				expired = 1;
			}
		}
	}
	if (expired && p->pid >= 0) {
		/* some of them may be in the log: a new id, fresh sequences */
		unsend_all(p);
		if (init_pid(p) == 0) {
			for (int t = 0; t < p->ntopics; t++)
				for (int32_t i = 0; i < p->topics[t]->partitions; i++)
					renumber(p, &p->topics[t]->parts[i], 0);
		}
	}
	return 0;
}

/* ---- routing ---- */

/* r's leaders into tp (brokers found or added by node id; one whose
 * address changed starts over). */
static void route_apply(struct sl_producer *p, struct ptopic *tp,
			const struct slc_route *r)
{
	int16_t map[SLC_BROKERS_MAX];
	for (int i = 0; i < r->nbrokers; i++) {
		const struct slc_broker *rb = &r->brokers[i];
		/* the broker it was created with: p->conn, and no second
		 * connection to sit idle beside it */
		if (rb->tcp.sin_addr.s_addr == p->sin.sin_addr.s_addr &&
		    rb->tcp.sin_port == p->sin.sin_port) {
			map[i] = -1;
			/* its datagrams go where the cluster says its UDP
			 * port is (a DPDK broker's dpdk_ip), unless given */
			if (!p->o.udp_addr)
				p->udp_sin = rb->udp;
			continue;
		}
		int j = 0;
		while (j < p->nbrokers && p->brokers[j].node_id != rb->node_id)
			j++;
		if (j == p->nbrokers) {
			if (p->nbrokers == SLC_BROKERS_MAX) {
				map[i] = -1;
				continue;
			}
			struct pbroker *pb = &p->brokers[p->nbrokers++];
			memset(pb, 0, sizeof(*pb));
			slc_conn_init(&pb->conn);
			pb->node_id = rb->node_id;
			pb->tcp = rb->tcp;
			pb->udp = rb->udp;
		} else if (memcmp(&p->brokers[j].tcp, &rb->tcp,
				  sizeof(rb->tcp)) ||
			   memcmp(&p->brokers[j].udp, &rb->udp,
				  sizeof(rb->udp))) {
			conn_lost(p, j);
			p->brokers[j].tcp = rb->tcp;
			p->brokers[j].udp = rb->udp;
			p->brokers[j].reconnect_after_us = 0;
		}
		map[i] = (int16_t)j;
	}
	for (int32_t q = 0; q < tp->partitions; q++)
		tp->leader[q] = q < r->partitions && r->leader[q] >= 0 ?
					map[r->leader[q]] : -1;
}

/* LEADERS for tp, asked of p->conn's broker, else of a leader's: 0,
 * -EOPNOTSUPP (a broker without it), or an error. */
static int route_topic(struct sl_producer *p, struct ptopic *tp)
{
	struct slc_route *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = p->conn.fd >= 0 ? 0 : reconnect(p);
	if (!rc)
		rc = slc_route_get(&p->conn, &p->sin, tp->name, r);
	for (int i = 0; rc && rc != -EOPNOTSUPP && i < p->nbrokers; i++)
		if (broker_conn(p, i) == 0)
			rc = slc_route_get(&p->brokers[i].conn,
					   &p->brokers[i].tcp, tp->name, r);
	if (!rc)
		route_apply(p, tp, r);
	free(r);
	return rc;
}

/* A leader moved (or a broker went, or LEADERS could not be asked yet):
 * every topic's leaders asked again, at most every 100 ms.  A broker that
 * does not serve LEADERS ends it: everything goes to it. */
static void route_refresh(struct sl_producer *p, uint64_t now)
{
	if (!p->route_stale || now < p->route_after_us)
		return;
	p->route_after_us = now + 100000;
	int ok = 1;
	for (int t = 0; t < p->ntopics; t++) {
		int rc = route_topic(p, p->topics[t]);
		if (rc == -EOPNOTSUPP) {
			p->route_stale = 0;
			return;
		}
		ok &= rc == 0;
	}
	if (ok) {
		p->routing = 1;
		p->route_stale = 0;
		p->st.route_refreshes++;
	}
}

static int work(struct sl_producer *p, int timeout_ms, int close_all)
{
	uint64_t now = slc_now_us();
	p->reports = 0;
	if (p->conn.fd < 0) {
		int rc = reconnect(p);
		/* routed, the leaders' connections carry on without it */
		if (rc && p->o.transport == SL_TCP && !p->routing)
			goto timeouts;
	}
	route_refresh(p, now);
	close_due(p, now, close_all);
	int rc = send_ready(p, now);
	if (rc && p->o.transport == SL_TCP)
		reconnect(p);
	if (p->nsent || (p->o.transport == SL_TCP && p->conn.fd >= 0)) {
		rc = read_answers(p, p->nsent ? timeout_ms : 0);
		if (rc < 0 && p->o.transport == SL_TCP)
			reconnect(p);
	}
	now = slc_now_us();
	send_ready(p, now);
timeouts:
	check_timeouts(p, slc_now_us());
	return p->reports;
}

/* ---- topics ---- */

static int topic_get(struct sl_producer *p, const char *name,
		     struct ptopic **out)
{
	for (int i = 0; i < p->ntopics; i++) {
		if (!strcmp(p->topics[i]->name, name)) {
			*out = p->topics[i];
			return 0;
		}
	}
	if (!sn_topic_name_valid(name, strlen(name)))
		return sl_err_broker(SN_ERR_INVALID_TOPIC_EXCEPTION);
	struct sl_topic_info ti;
	uint16_t ports[2];
	uint32_t umax;
	if (p->conn.fd < 0) {
		int rc = reconnect(p);
		if (rc)
			return rc;
	}
	int rc = slc_metadata_one(&p->conn, name, &ti, ports, &umax);
	if (rc)
		return rc;
	if (p->ntopics == p->topics_cap) {
		/* each topic is allocated on its own (batches point at it):
		 * only the array of pointers grows */
		if (p->topics_cap >= TOPICS_MAX)
			return -ENOSPC;
		int c = p->topics_cap * 2;
		struct ptopic **n = realloc(p->topics, (size_t)c * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->topics = n;
		p->topics_cap = c;
	}
	struct ptopic *tp = calloc(1, sizeof(*tp));
	if (!tp)
		return -ENOMEM;
	snprintf(tp->name, sizeof(tp->name), "%s", name);
	tp->id = ti.topic_id;
	tp->partitions = ti.partitions;
	tp->sticky = -1;
	tp->parts = calloc((size_t)ti.partitions, sizeof(*tp->parts));
	tp->leader = malloc((size_t)ti.partitions * sizeof(*tp->leader));
	if (!tp->parts || !tp->leader) {
		free(tp->parts);
		free(tp->leader);
		free(tp);
		return -ENOMEM;
	}
	for (int32_t i = 0; i < ti.partitions; i++)
		tp->leader[i] = -1;
	/* a cluster's broker names each partition's leader */
	rc = route_topic(p, tp);
	if (rc == 0)
		p->routing = 1;
	else if (rc != -EOPNOTSUPP)
		p->route_stale = 1; /* asked again; p->conn meanwhile */
	p->topics[p->ntopics++] = tp;
	*out = tp;
	return 0;
}

/* ---- public ---- */

int sl_producer_create(const char *addr, const struct sl_producer_opts *o,
		       struct sl_producer **out)
{
	struct sl_producer *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (o)
		p->o = *o;
	else
		sl_producer_opts_default(&p->o);
	struct sl_producer_opts d;
	sl_producer_opts_default(&d);
	if (p->o.acks != 0 && p->o.acks != 1 && p->o.acks != -1) {
		free(p);
		return -EINVAL;
	}
	if (!p->o.batch_bytes)
		p->o.batch_bytes = d.batch_bytes;
	if (!p->o.max_in_flight)
		p->o.max_in_flight = d.max_in_flight;
	if (!p->o.buffer_bytes)
		p->o.buffer_bytes = d.buffer_bytes;
	if (!p->o.block_ms)
		p->o.block_ms = d.block_ms;
	if (!p->o.delivery_timeout_ms)
		p->o.delivery_timeout_ms = d.delivery_timeout_ms;
	if (!p->o.request_timeout_ms)
		p->o.request_timeout_ms = p->o.transport == SL_UDP ? 1000 : 30000;
	p->udp_fd = -1;
	p->pid = -1;
	p->epoch = -1;
	p->st.producer_id = -1;
	p->st.epoch = -1;
	p->topics_cap = 256;
	p->topics = calloc((size_t)p->topics_cap, sizeof(*p->topics));
	slc_conn_init(&p->conn);
	p->conn.other = handle_answer;
	p->conn.other_arg = p;
	int rc = p->topics ? 0 : -ENOMEM;
	if (rc)
		goto free_p;
	rc = slc_parse_addr(addr, &p->sin, NULL, 0);
	if (rc)
		goto free_p;
	rc = slc_conn_open(&p->conn, &p->sin, 5000);
	if (rc)
		goto free_p;
	/* the broker's UDP port and largest datagram */
	uint16_t ports[2] = { 0, 0 };
	uint32_t umax = SN_UDP_MAX_FRAME;
	rc = slc_metadata_one(&p->conn, NULL, NULL, ports, &umax);
	if (rc)
		goto close_conn;
	p->max_frame = SN_TCP_MAX_FRAME;
	p->batch_bytes = p->o.batch_bytes;
	if (p->o.transport == SL_UDP) {
		if (!ports[0]) {
			rc = -EPROTONOSUPPORT; /* the broker has UDP off */
			goto close_conn;
		}
		p->udp_sin = p->sin;
		p->udp_sin.sin_port = htons(ports[0]);
		if (p->o.udp_addr &&
		    (rc = slc_parse_addr(p->o.udp_addr, &p->udp_sin, NULL, 0)))
			goto close_conn;
		p->max_frame = umax && umax < SN_UDP_MAX_FRAME ? umax :
								  SN_UDP_MAX_FRAME;
		if (p->batch_bytes > p->max_frame - SN_PRODUCE_REQ_BYTES)
			p->batch_bytes = p->max_frame - SN_PRODUCE_REQ_BYTES;
		p->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (p->udp_fd < 0) {
			rc = -errno;
			goto close_conn;
		}
		int sz = 4 << 20;
		setsockopt(p->udp_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(p->udp_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		/* not connected: datagrams go to each partition's leader,
		 * answers come from any of them (matched by correlation
		 * id) */
	}
	p->idempotent = p->o.acks != 0 && p->o.idempotence >= 0;
	if (p->idempotent) {
		rc = init_pid(p);
		/* a broker without INIT_PRODUCER_ID: retries may duplicate */
		if (rc == sl_err_broker(SN_ERR_UNSUPPORTED_VERSION)) {
			p->idempotent = 0;
			rc = 0;
		}
		if (rc)
			goto close_udp;
	}
	*out = p;
	return 0;
close_udp:
	if (p->udp_fd >= 0)
		close(p->udp_fd);
close_conn:
	slc_conn_close(&p->conn);
free_p:
	free(p->topics);
	free(p);
	return rc;
}

int sl_produce(struct sl_producer *p, const char *topic, int32_t partition,
	       const void *key, size_t klen, const void *value, size_t vlen,
	       void *opaque)
{
	return sl_produce_h(p, topic, partition, key, klen, value, vlen, NULL,
			    0, opaque);
}

#define HEADERS_MAX 64

int sl_produce_h(struct sl_producer *p, const char *topic, int32_t partition,
		 const void *key, size_t klen, const void *value, size_t vlen,
		 const struct sl_header *h, size_t nh, void *opaque)
{
	struct rb_header_kv kv[HEADERS_MAX];
	size_t hbytes = 0;
	if (nh > HEADERS_MAX)
		return -E2BIG;
	for (size_t i = 0; i < nh; i++) {
		if (h[i].klen > INT32_MAX || h[i].vlen > INT32_MAX)
			return -EMSGSIZE;
		kv[i] = (struct rb_header_kv){
			h[i].key, h[i].klen, h[i].value,
			h[i].value ? (int32_t)h[i].vlen : -1};
		hbytes += 10 + h[i].klen + (h[i].value ? h[i].vlen : 0);
	}
	struct ptopic *tp;
	int rc = topic_get(p, topic, &tp);
	if (rc)
		return rc;
	if (partition < 0) {
		if (key)
			partition = sl_partition_for_key(key, klen, tp->partitions);
		else if (p->o.sticky && tp->sticky >= 0 &&
			 tp->parts[tp->sticky].open)
			partition = tp->sticky;
		else
			partition = tp->sticky = slc_next_rr(&tp->rr, tp->partitions);
	}
	if (partition >= tp->partitions)
		return sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	/* headers: each name and value length a varint of at most 5,
	 * their count one of at most 5 */
	size_t need = slc_record_bound(klen, vlen) + hbytes + (nh ? 5 : 0);
	if (need + RB_HEADER_BYTES + SN_PRODUCE_REQ_BYTES > p->max_frame)
		return -EMSGSIZE;
	struct ppart *pp = &tp->parts[partition];
	/* close a batch the record would overflow */
	if (pp->open && pp->open->b.len + need > pp->open->b.cap)
		close_batch(p, pp);
	if (!pp->open) {
		size_t bcap = RB_HEADER_BYTES + need > p->batch_bytes ?
				      RB_HEADER_BYTES + need : p->batch_bytes;
		size_t cap = SN_PRODUCE_REQ_BYTES + bcap;
		/* backpressure */
		uint64_t deadline = slc_now_us() + (uint64_t)p->o.block_ms * 1000u;
		while (p->buffered_bytes + cap > p->o.buffer_bytes &&
		       p->buffered_bytes) {
			work(p, 0, 1);
			if (p->buffered_bytes + cap <= p->o.buffer_bytes)
				break;
			if (p->o.nonblocking)
				return -EAGAIN;
			if (slc_now_us() >= deadline)
				return -ETIMEDOUT;
			work(p, 10, 0);
		}
		if (pp->open) /* work() cannot open batches, but be sure */
			close_batch(p, pp);
		struct pbatch *b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		b->buf = malloc(cap);
		if (!b->buf) {
			free(b);
			return -ENOMEM;
		}
		b->cap = cap;
		b->topic = tp;
		b->partition = partition;
		b->created_us = slc_now_us();
		rb_builder_init(&b->b, b->buf + SN_PRODUCE_REQ_BYTES, bcap,
				slc_wall_ms());
		p->buffered_bytes += cap;
		pp->open = b;
	}
	struct pbatch *b = pp->open;
	if ((size_t)b->count == b->opq_cap) {
		size_t nc = b->opq_cap ? b->opq_cap * 2 : 64;
		void **no = realloc(b->opaques, nc * sizeof(*no));
		if (!no)
			return -ENOMEM;
		b->opaques = no;
		b->opq_cap = nc;
	}
	rc = rb_builder_add_h(&b->b, key, (int32_t)klen, value,
			      value ? (int32_t)vlen : -1, slc_wall_ms(), kv,
			      (uint32_t)nh);
	assert(rc == 0); /* need is an upper bound */
	if (rc)
		return rc;
	b->opaques[b->count++] = opaque;
	p->outstanding++;
	if (b->b.len >= p->batch_bytes)
		close_batch(p, pp);
	/* send what is ready without waiting */
	if (pp->head && !pp->head->in_flight)
		work(p, 0, 0);
	return partition;
}

int sl_producer_poll(struct sl_producer *p, int timeout_ms)
{
	return work(p, timeout_ms, 0);
}

int sl_producer_flush(struct sl_producer *p, int timeout_ms)
{
	uint64_t t = timeout_ms < 0 ? p->o.delivery_timeout_ms : (uint64_t)timeout_ms;
	uint64_t deadline = slc_now_us() + t * 1000u;
	while (p->outstanding) {
		uint64_t now = slc_now_us();
		if (now >= deadline)
			return -ETIMEDOUT;
		uint64_t left = (deadline - now) / 1000u;
		work(p, left < 50 ? (int)left : 50, 1);
	}
	return 0;
}

uint64_t sl_producer_outstanding(const struct sl_producer *p)
{
	return p->outstanding;
}

void sl_producer_stats(const struct sl_producer *p,
		       struct sl_producer_stats *s)
{
	*s = p->st;
}

void sl_producer_destroy(struct sl_producer *p)
{
	if (!p)
		return;
	sl_producer_flush(p, -1);
	for (int t = 0; t < p->ntopics; t++) {
		struct ptopic *tp = p->topics[t];
		for (int32_t i = 0; i < tp->partitions; i++) {
			struct ppart *pp = &tp->parts[i];
			if (pp->open)
				close_batch(p, pp);
			while (pp->head) {
				report(p, pp->head, -1, -ECANCELED);
				batch_done(p, pp->head);
			}
		}
		free(tp->parts);
		free(tp->leader);
		free(tp);
	}
	if (p->udp_fd >= 0)
		close(p->udp_fd);
	for (int i = 0; i < p->nbrokers; i++)
		slc_conn_close(&p->brokers[i].conn);
	slc_conn_close(&p->conn);
	free(p->sent);
	free(p->topics);
	free(p);
}
