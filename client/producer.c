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
};

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
	uint32_t rr;
	int32_t sticky;
};

struct sl_producer {
	struct sl_producer_opts o;
	struct sockaddr_in sin, udp_sin;
	struct slc_conn conn;
	int udp_fd;
	int idempotent;
	int64_t pid;
	int16_t epoch;
	uint32_t next_corr;
	uint32_t batch_bytes;  /* effective */
	uint32_t max_frame;    /* of the transport */
	struct ptopic *topics;
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

static int send_batch(struct sl_producer *p, struct pbatch *b, uint64_t now)
{
	struct ppart *pp = &b->topic->parts[b->partition];
	b->corr = p->conn.next_corr++;
	rb_put32(b->buf + 8, b->corr);
	int rc;
	if (p->o.transport == SL_UDP) {
		ssize_t w = send(p->udp_fd, b->buf, b->frame_len, MSG_DONTWAIT);
		/* a datagram the kernel would not take is a lost datagram:
		 * resent after the timeout */
		rc = (w < 0 && errno != EAGAIN && errno != ENOBUFS &&
		      errno != ECONNREFUSED) ? -errno : 0;
	} else {
		rc = slc_conn_send(&p->conn, b->buf, b->frame_len, 10000);
	}
	if (rc)
		return rc;
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
	slc_conn_close(&p->conn);
	uint32_t corr = p->conn.next_corr;
	slc_conn_init(&p->conn);
	p->conn.next_corr = corr;
	p->conn.other = handle_answer;
	p->conn.other_arg = p;
	int rc = slc_conn_open(&p->conn, &p->sin, 2000);
	if (rc) {
		p->reconnect_after_us = now + 200000; /* back off 200 ms */
		return rc;
	}
	if (p->o.transport == SL_TCP)
		unsend_all(p);
	return 0;
}

/* Send what may go: per partition, queued batches in order while fewer
 * than max_in_flight are out and the partition is not throttled. */
static int send_ready(struct sl_producer *p, uint64_t now)
{
	for (int t = 0; t < p->ntopics; t++) {
		struct ptopic *tp = &p->topics[t];
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
		struct ptopic *tp = &p->topics[t];
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
	for (int i = 0; i < 1024; i++) {
		const uint8_t *f;
		size_t len;
		int rc = slc_conn_recv(&p->conn, i ? 0 : timeout_ms, &f, &len);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		handle_answer(p, f, len);
		got++;
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
		} else {
			int rc = reconnect(p);
			return rc;
		}
	}
	uint64_t dto = (uint64_t)p->o.delivery_timeout_ms * 1000u;
	int expired = 0;
	for (int t = 0; t < p->ntopics; t++) {
		struct ptopic *tp = &p->topics[t];
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
				for (int32_t i = 0; i < p->topics[t].partitions; i++)
					renumber(p, &p->topics[t].parts[i], 0);
		}
	}
	return 0;
}

static int work(struct sl_producer *p, int timeout_ms, int close_all)
{
	uint64_t now = slc_now_us();
	p->reports = 0;
	if (p->conn.fd < 0) {
		int rc = reconnect(p);
		if (rc && p->o.transport == SL_TCP)
			goto timeouts;
	}
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
		if (!strcmp(p->topics[i].name, name)) {
			*out = &p->topics[i];
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
		/* topics are referenced by batches: never move them */
		return -ENOSPC;
	}
	struct ptopic *tp = &p->topics[p->ntopics];
	memset(tp, 0, sizeof(*tp));
	snprintf(tp->name, sizeof(tp->name), "%s", name);
	tp->id = ti.topic_id;
	tp->partitions = ti.partitions;
	tp->sticky = -1;
	tp->parts = calloc((size_t)ti.partitions, sizeof(*tp->parts));
	if (!tp->parts)
		return -ENOMEM;
	p->ntopics++;
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
		if (connect(p->udp_fd, (struct sockaddr *)&p->udp_sin,
			    sizeof(p->udp_sin)) < 0) {
			rc = -errno;
			goto close_udp;
		}
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
	size_t need = slc_record_bound(klen, vlen);
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
	rc = rb_builder_add(&b->b, key, (int32_t)klen, value, (int32_t)vlen,
			    slc_wall_ms());
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
		struct ptopic *tp = &p->topics[t];
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
	}
	if (p->udp_fd >= 0)
		close(p->udp_fd);
	slc_conn_close(&p->conn);
	free(p->sent);
	free(p->topics);
	free(p);
}
