/*
 * libsluice's queue consumer (QUEUE_RECEIVE, QUEUE_ACK) and request-reply
 * over it and the producer and consumer.
 *
 * A queue consumer is a member of its queue group, named by a random
 * 16-byte id.  Its partitions are led by brokers (LEADERS); it keeps one
 * connection per broker that leads one of them and asks them in turn.
 * Each answer is copied out of the connection's buffer, so acknowledging
 * (which reads the connection) leaves the messages given out valid.  The
 * messages handed out and not yet answered are remembered, so that
 * destroy releases them to the other consumers at once instead of after
 * their locks lapse.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_pvt.h"
#include "proto/compression.h"
#include "proto/native.h"
#include "proto/record_batch.h"

#define CALL_SLACK_MS 10000
#define RECORDS_MAX (64u << 20) /* a compressed batch, decompressed */

struct qconn {
	struct slc_conn c;
	struct sockaddr_in sin;
	int open;
	struct sl_queue *q;
	/* answers queued by sl_queue_ack_async, sent with the next request
	 * to this broker */
	struct sn_qack_entry *acks;
	uint32_t nacks, acks_cap;
	uint32_t acks_in_flight;     /* sent, answer not read yet */
};

struct held {
	int32_t partition;
	int64_t offset;
	uint64_t until_us;           /* its lock's end, as far as we know */
};

struct sl_queue {
	struct sockaddr_in boot;
	char group[SN_GROUP_MAX + 1];
	char topic[SN_NAME_MAX + 1];
	uint8_t member[SN_MEMBER_BYTES];
	struct sl_queue_opts o;
	struct slc_route *route;     /* NULL: the boot broker serves all */
	struct qconn conns[SLC_BROKERS_MAX];
	uint32_t rr;
	uint32_t lock_ms;
	/* the answer being walked (a copy) */
	uint8_t *ans;
	size_t ans_cap;
	struct sn_qrecv_resp resp;
	size_t pos;
	struct sn_qrecv_part part;
	int in_part;
	const uint8_t *rec, *rec_end;
	struct rb_iter it;
	int in_batch;
	uint8_t *records;
	/* handed out, not answered */
	struct held *held;
	size_t nheld, held_cap;
	uint64_t ack_refused;        /* async answers the broker refused */
	int ack_error;               /* the first of them, or a send's */
};

void sl_queue_opts_default(struct sl_queue_opts *o)
{
	o->prefetch = 100;
	o->max_wait_ms = 500;
}

static int random_bytes(uint8_t *p, size_t n)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t r = read(fd, p, n);
	close(fd);
	return r == (ssize_t)n ? 0 : -EIO;
}

static void on_other(void *arg, const uint8_t *f, size_t len);

static struct qconn *conn_at(struct sl_queue *q, int i)
{
	struct qconn *c = &q->conns[i];
	if (c->open)
		return c;
	slc_conn_init(&c->c);
	c->q = q;
	c->c.other = on_other;
	c->c.other_arg = c;
	c->sin = q->route ? q->route->brokers[i].tcp : q->boot;
	if (slc_conn_open(&c->c, &c->sin, 5000))
		return NULL;
	c->open = 1;
	return c;
}

static void conn_drop(struct qconn *c)
{
	if (!c->open)
		return;
	slc_conn_close(&c->c);
	c->open = 0;
	if (c->acks_in_flight && c->q) {
		/* their answers are lost with the connection: the broker
		 * may or may not have them (a lock lapses either way) */
		c->q->ack_refused += c->acks_in_flight;
		if (!c->q->ack_error)
			c->q->ack_error = -ECONNRESET;
	}
	c->acks_in_flight = 0;
}

/* A frame that is not the one a call waits for: the answer of acks sent
 * ahead of it. */
static void on_other(void *arg, const uint8_t *f, size_t len)
{
	struct qconn *c = arg;
	struct sl_queue *q = c->q;
	if (len < SN_HEADER_BYTES || f[3] != (SN_QUEUE_ACK | SN_RESPONSE) ||
	    !c->acks_in_flight)
		return;
	uint32_t count;
	const uint8_t *errs;
	int rc = slc_frame_error(f);
	if (!rc && (rc = sn_decode_queue_ack_resp(f, len, &count, &errs)))
		rc = slc_decode_error(rc);
	c->acks_in_flight--;
	if (rc) {
		q->ack_refused++;
		if (!q->ack_error)
			q->ack_error = rc;
		return;
	}
	for (uint32_t i = 0; i < count; i++) {
		int16_t e = (int16_t)rb_be16(errs + 4 * i);
		if (!e)
			continue;
		q->ack_refused++;
		if (!q->ack_error)
			q->ack_error = sl_err_broker(e);
	}
}

/* Send c's queued answers without waiting for their answer (read by
 * on_other while the next call waits).  0 or a negative code. */
static int send_queued(struct sl_queue *q, struct qconn *c)
{
	if (!c->nacks)
		return 0;
	size_t cap = SN_QACK_REQ_BYTES + strlen(q->group) + strlen(q->topic) +
		     (size_t)c->nacks * SN_QACK_ENTRY_BYTES;
	uint8_t *req = malloc(cap);
	if (!req)
		return -ENOMEM;
	struct sn_queue_ack a = {
		.group = q->group, .group_len = (uint16_t)strlen(q->group),
		.topic = q->topic, .topic_len = (uint16_t)strlen(q->topic),
		.count = c->nacks};
	memcpy(a.member, q->member, sizeof(a.member));
	long len = sn_encode_queue_ack(req, cap, c->c.next_corr++, &a,
				       c->acks);
	int rc = len > 0 ? slc_conn_send(&c->c, req, (size_t)len,
					 CALL_SLACK_MS) : -EINVAL;
	free(req);
	if (rc) {
		q->ack_refused += c->nacks;
		if (!q->ack_error)
			q->ack_error = rc;
		c->nacks = 0;
		conn_drop(c);
		return rc;
	}
	c->nacks = 0;
	c->acks_in_flight++;
	return 0;
}

/* The partitions' leaders (LEADERS of the boot broker).  0 or -errno. */
static int route(struct sl_queue *q)
{
	struct slc_conn c;
	slc_conn_init(&c);
	int rc = slc_conn_open(&c, &q->boot, 5000);
	if (rc)
		return rc;
	if (!q->route)
		q->route = malloc(sizeof(*q->route));
	rc = q->route ? slc_route_get(&c, &q->boot, q->topic, q->route) :
			-ENOMEM;
	slc_conn_close(&c);
	if (rc == -EOPNOTSUPP) {
		free(q->route);
		q->route = NULL; /* an older broker: it serves everything */
		return 0;
	}
	if (rc)
		return rc;
	/* connections to brokers whose address changed start again */
	for (int i = 0; i < SLC_BROKERS_MAX; i++)
		if (q->conns[i].open &&
		    (i >= q->route->nbrokers ||
		     q->conns[i].sin.sin_addr.s_addr !=
			     q->route->brokers[i].tcp.sin_addr.s_addr ||
		     q->conns[i].sin.sin_port !=
			     q->route->brokers[i].tcp.sin_port))
			conn_drop(&q->conns[i]);
	return 0;
}

int sl_queue_create(const char *addr, const char *group, const char *topic,
		    const struct sl_queue_opts *o, struct sl_queue **out)
{
	size_t gl = strlen(group), tl = strlen(topic);
	if (gl < 1 || gl > SN_GROUP_MAX || !sn_topic_name_valid(topic, tl))
		return -EINVAL;
	struct sl_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	int rc = slc_parse_addr(addr, &q->boot, NULL, 0);
	if (rc || (rc = random_bytes(q->member, sizeof(q->member)))) {
		free(q);
		return rc;
	}
	q->member[0] |= 1; /* never all zero */
	memcpy(q->group, group, gl);
	memcpy(q->topic, topic, tl);
	if (o)
		q->o = *o;
	else
		sl_queue_opts_default(&q->o);
	if (!q->o.prefetch)
		q->o.prefetch = 100;
	if (q->o.prefetch > SN_QRECV_MAX)
		q->o.prefetch = SN_QRECV_MAX;
	if ((rc = route(q))) {
		sl_queue_destroy(q);
		return rc;
	}
	*out = q;
	return 0;
}

/* The broker index that leads partition (0 without a route). */
static int leader_of(const struct sl_queue *q, int32_t partition)
{
	if (!q->route)
		return 0;
	if (partition < 0 || partition >= q->route->partitions)
		return -1;
	return q->route->leader[partition];
}

static int send_acks(struct sl_queue *q, int broker,
		     const struct sn_qack_entry *e, uint32_t n,
		     int16_t *errors)
{
	struct qconn *c = conn_at(q, broker);
	if (!c)
		return -ECONNREFUSED;
	size_t cap = SN_QACK_REQ_BYTES + strlen(q->group) + strlen(q->topic) +
		     (size_t)n * SN_QACK_ENTRY_BYTES;
	uint8_t *req = malloc(cap);
	if (!req)
		return -ENOMEM;
	struct sn_queue_ack a = {
		.group = q->group, .group_len = (uint16_t)strlen(q->group),
		.topic = q->topic, .topic_len = (uint16_t)strlen(q->topic),
		.count = n};
	memcpy(a.member, q->member, sizeof(a.member));
	long len = sn_encode_queue_ack(req, cap, c->c.next_corr++, &a, e);
	assert(len == (long)cap);
	const uint8_t *f;
	size_t fl;
	int rc = slc_conn_call(&c->c, req, (size_t)len, CALL_SLACK_MS, &f,
			       &fl);
	free(req);
	if (rc < 0) {
		conn_drop(c);
		return rc;
	}
	if ((rc = slc_frame_error(f)))
		return rc;
	uint32_t count;
	const uint8_t *errs;
	if ((rc = sn_decode_queue_ack_resp(f, fl, &count, &errs)))
		return slc_decode_error(rc);
	if (count != n)
		return -EPROTO;
	for (uint32_t i = 0; i < n && errors; i++)
		errors[i] = (int16_t)rb_be16(errs + 4 * i);
	return 0;
}

static void forget(struct sl_queue *q, int32_t partition, int64_t offset)
{
	for (size_t i = 0; i < q->nheld; i++)
		if (q->held[i].partition == partition &&
		    q->held[i].offset == offset) {
			q->held[i] = q->held[--q->nheld];
			return;
		}
}

static void extend(struct sl_queue *q, int32_t partition, int64_t offset)
{
	for (size_t i = 0; i < q->nheld; i++)
		if (q->held[i].partition == partition &&
		    q->held[i].offset == offset)
			q->held[i].until_us = slc_now_us() +
					      (uint64_t)q->lock_ms * 1000u;
}

/* Messages whose lock has lapsed are another consumer's now: they no
 * longer count against the credit. */
static void prune(struct sl_queue *q)
{
	uint64_t now = slc_now_us();
	for (size_t i = 0; i < q->nheld;)
		if (q->held[i].until_us <= now)
			q->held[i] = q->held[--q->nheld];
		else
			i++;
}

void sl_queue_destroy(struct sl_queue *q)
{
	if (!q)
		return;
	(void)sl_queue_flush(q, CALL_SLACK_MS);
	/* what it holds goes back to the group now (best effort: a lock
	 * lapses anyway) */
	int nb = q->route ? q->route->nbrokers : 1;
	struct sn_qack_entry *e = q->nheld ?
		calloc(q->nheld, sizeof(*e)) : NULL;
	for (int b = 0; e && b < nb; b++) {
		uint32_t n = 0;
		for (size_t i = 0; i < q->nheld; i++) {
			if (leader_of(q, q->held[i].partition) != b)
				continue;
			e[n++] = (struct sn_qack_entry){
				q->held[i].offset, q->held[i].offset,
				q->held[i].partition, 0, SN_ACK_RELEASE};
			if (n == SN_QACK_MAX) {
				(void)send_acks(q, b, e, n, NULL);
				n = 0;
			}
		}
		if (n)
			(void)send_acks(q, b, e, n, NULL);
	}
	free(e);
	for (int i = 0; i < SLC_BROKERS_MAX; i++) {
		conn_drop(&q->conns[i]);
		free(q->conns[i].acks);
	}
	free(q->route);
	free(q->ans);
	free(q->records);
	free(q->held);
	free(q);
}

uint32_t sl_queue_lock_ms(const struct sl_queue *q)
{
	return q->lock_ms;
}

int sl_queue_ack_async(struct sl_queue *q, int32_t partition, int64_t offset,
		       enum sl_ack type, uint32_t delay_ms)
{
	int b = leader_of(q, partition);
	if (b < 0)
		return sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	if (type < SL_ACK_ACCEPT || type > SL_ACK_EXTEND || offset < 0)
		return -EINVAL;
	struct qconn *c = &q->conns[b];
	struct sn_qack_entry *l = c->nacks ? &c->acks[c->nacks - 1] : NULL;
	if (l && l->partition == partition && l->type == type &&
	    l->delay_ms == delay_ms && l->last + 1 == offset) {
		l->last = offset; /* a run of offsets: one entry */
	} else {
		if (c->nacks == c->acks_cap) {
			uint32_t n = c->acks_cap ? c->acks_cap * 2 : 64;
			struct sn_qack_entry *e = realloc(c->acks,
							  n * sizeof(*e));
			if (!e)
				return -ENOMEM;
			c->acks = e;
			c->acks_cap = n;
		}
		c->acks[c->nacks++] = (struct sn_qack_entry){
			offset, offset, partition, delay_ms, (uint8_t)type};
	}
	if (type == SL_ACK_EXTEND)
		extend(q, partition, offset);
	else
		forget(q, partition, offset); /* its credit is free */
	if (c->nacks == SN_QACK_MAX) {
		if (!conn_at(q, b))
			return -ECONNREFUSED;
		return send_queued(q, c);
	}
	return 0;
}

int sl_queue_flush(struct sl_queue *q, int timeout_ms)
{
	uint64_t deadline = slc_now_us() +
		(uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000u;
	for (int b = 0; b < SLC_BROKERS_MAX; b++) {
		struct qconn *c = &q->conns[b];
		if (c->nacks && conn_at(q, b))
			(void)send_queued(q, c);
		while (c->open && c->acks_in_flight) {
			uint64_t now = slc_now_us();
			const uint8_t *f;
			size_t len;
			int rc = now >= deadline ? -ETIMEDOUT :
				 slc_conn_recv(&c->c,
					       (int)((deadline - now) / 1000u) +
					       1, &f, &len);
			if (rc == 1) {
				on_other(c, f, len);
				continue;
			}
			conn_drop(c); /* counts what is lost */
			if (!q->ack_error)
				q->ack_error = rc ? rc : -ETIMEDOUT;
		}
	}
	int rc = q->ack_error;
	q->ack_error = 0;
	return rc;
}

uint64_t sl_queue_ack_refused(const struct sl_queue *q)
{
	return q->ack_refused;
}

int sl_queue_ack(struct sl_queue *q, int32_t partition, int64_t offset,
		 enum sl_ack type, uint32_t delay_ms)
{
	int b = leader_of(q, partition);
	if (b < 0)
		return sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	/* answers queued for that broker go first */
	if (q->conns[b].nacks && conn_at(q, b))
		(void)send_queued(q, &q->conns[b]);
	struct sn_qack_entry e = {offset, offset, partition, delay_ms,
				  (uint8_t)type};
	int16_t err = 0;
	int rc = send_acks(q, b, &e, 1, &err);
	if (rc)
		return rc;
	if (type == SL_ACK_EXTEND && !err)
		extend(q, partition, offset);
	else if (!err || err == SN_ERR_INVALID_RECORD_STATE)
		forget(q, partition, offset); /* no longer ours */
	return sl_err_broker(err);
}

/* The next record of the answer held: 1, 0 when it is exhausted, or a
 * negative code. */
static int next_held(struct sl_queue *q, struct sl_queue_message *m)
{
	for (;;) {
		if (q->in_batch) {
			struct rb_record r;
			int rc = rb_iter_next(&q->it, &r);
			if (rc < 0)
				return SL_ECORRUPT;
			if (rc == 0) {
				q->in_batch = 0;
				continue;
			}
			/* only the offsets handed to us are ours */
			struct sn_qrange g;
			uint16_t i;
			for (i = 0; i < q->part.nranges; i++) {
				sn_qrecv_range(&q->part, i, &g);
				if (g.first <= r.offset && r.offset <= g.last)
					break;
			}
			if (i == q->part.nranges)
				continue;
			memset(m, 0, sizeof(*m));
			m->msg.partition = q->part.partition;
			m->msg.offset = r.offset;
			m->msg.timestamp_ms = r.timestamp;
			m->msg.key = r.key;
			m->msg.klen = r.key ? (size_t)r.klen : 0;
			m->msg.value = r.vlen >= 0 ? r.value : NULL;
			m->msg.vlen = r.vlen > 0 ? (size_t)r.vlen : 0;
			slc_message_headers(&m->msg, &r);
			m->delivery_count = g.delivery_count;
			return 1;
		}
		if (q->in_part && q->rec < q->rec_end) {
			size_t avail = (size_t)(q->rec_end - q->rec);
			long bl = rb_frame_size(q->rec, avail, avail);
			if (bl < RB_HEADER_BYTES || (size_t)bl > avail)
				return SL_ECORRUPT;
			const uint8_t *b = q->rec;
			q->rec += bl;
			/* the last message given out may point into the
			 * records of the batch before: freed only now */
			free(q->records);
			int rc = sl_batch_records(&q->it, b, (size_t)bl,
						  RECORDS_MAX, &q->records);
			if (rc == -ENOMEM)
				return rc;
			if (rc < 0)
				return SL_ECORRUPT;
			q->in_batch = 1;
			continue;
		}
		q->in_part = 0;
		if (!q->ans)
			return 0;
		int rc = sn_qrecv_next(&q->resp, &q->pos, &q->part);
		if (rc <= 0) {
			q->resp.parts_len = q->pos = 0;
			return rc < 0 ? SL_ECORRUPT : 0;
		}
		q->in_part = 1;
		q->rec = q->part.records;
		q->rec_end = q->part.records + q->part.records_len;
	}
}

/* Remember what an answer handed out.  0 or -ENOMEM. */
static int hold_all(struct sl_queue *q)
{
	uint64_t until = slc_now_us() + (uint64_t)q->lock_ms * 1000u;
	size_t pos = 0;
	struct sn_qrecv_part p;
	while (sn_qrecv_next(&q->resp, &pos, &p) == 1)
		for (uint16_t i = 0; i < p.nranges; i++) {
			struct sn_qrange g;
			sn_qrecv_range(&p, i, &g);
			for (int64_t o = g.first; o <= g.last; o++) {
				if (q->nheld == q->held_cap) {
					size_t c = q->held_cap ?
						   q->held_cap * 2 : 256;
					struct held *n = realloc(
						q->held, c * sizeof(*n));
					if (!n)
						return -ENOMEM;
					q->held = n;
					q->held_cap = c;
				}
				q->held[q->nheld++] = (struct held){
					p.partition, o, until};
			}
		}
	return 0;
}

/* One QUEUE_RECEIVE of broker b: 1 when it handed something out, 0 when
 * not, or a negative code. */
static int receive_from(struct sl_queue *q, int b, uint32_t wait_ms,
			uint32_t credit)
{
	struct qconn *c = conn_at(q, b);
	if (!c)
		return -ECONNREFUSED;
	/* answers queued go ahead of the receive, in the same turn */
	(void)send_queued(q, c);
	if (!c->open)
		return -ECONNRESET;
	uint8_t req[SN_QRECV_REQ_BYTES + SN_GROUP_MAX + SN_NAME_MAX];
	struct sn_queue_receive r = {
		.max_messages = credit, .max_wait_ms = wait_ms,
		.group = q->group, .group_len = (uint16_t)strlen(q->group),
		.topic = q->topic, .topic_len = (uint16_t)strlen(q->topic)};
	memcpy(r.member, q->member, sizeof(r.member));
	long len = sn_encode_queue_receive(req, sizeof(req),
					   c->c.next_corr++, &r);
	assert(len > 0);
	const uint8_t *f;
	size_t fl;
	int rc = slc_conn_call(&c->c, req, (size_t)len,
			       (int)wait_ms + CALL_SLACK_MS, &f, &fl);
	if (rc < 0) {
		conn_drop(c);
		return rc;
	}
	if ((rc = slc_frame_error(f)))
		return rc;
	if (fl > q->ans_cap) {
		uint8_t *n = realloc(q->ans, fl);
		if (!n)
			return -ENOMEM;
		q->ans = n;
		q->ans_cap = fl;
	}
	memcpy(q->ans, f, fl);
	if ((rc = sn_decode_qrecv_resp(q->ans, fl, &q->resp)))
		return slc_decode_error(rc);
	q->pos = 0;
	q->in_part = q->in_batch = 0;
	q->lock_ms = q->resp.lock_ms;
	size_t pos = 0;
	struct sn_qrecv_part p;
	int got = 0, moved = 0;
	while (sn_qrecv_next(&q->resp, &pos, &p) == 1) {
		got |= p.nranges > 0;
		moved |= slc_not_leader(p.error);
	}
	if (moved)
		(void)route(q); /* a leader moved: ask LEADERS again */
	if ((rc = hold_all(q)))
		return rc;
	return got;
}

int sl_queue_receive(struct sl_queue *q, struct sl_queue_message *m,
		     int timeout_ms)
{
	uint64_t deadline = slc_now_us() +
		(uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000u;
	for (;;) {
		int rc = next_held(q, m);
		if (rc)
			return rc;
		/* credit: no more than prefetch unanswered at once */
		prune(q);
		if (q->nheld >= q->o.prefetch)
			return 0;
		uint32_t credit = q->o.prefetch - (uint32_t)q->nheld;
		uint64_t now = slc_now_us();
		uint32_t left = now < deadline ?
			(uint32_t)((deadline - now) / 1000u) : 0;
		/* brokers in turn; the long poll only when one broker
		 * serves them all (else a short one each) */
		int nb = q->route ? q->route->nbrokers : 1;
		if (nb < 1)
			nb = 1;
		uint32_t wait = left < q->o.max_wait_ms ? left :
						       q->o.max_wait_ms;
		if (nb > 1 && wait > 100)
			wait = 100;
		int b = (int)(q->rr++ % (uint32_t)nb);
		int leads = !q->route;
		for (int32_t p = 0; q->route && p < q->route->partitions; p++)
			leads |= q->route->leader[p] == b;
		if (leads) {
			rc = receive_from(q, b, wait, credit);
			if (rc < 0 && rc != -ECONNREFUSED)
				return rc;
			if (rc > 0)
				continue;
		}
		if (slc_now_us() >= deadline)
			return 0;
		if (rc == -ECONNREFUSED)
			(void)route(q);
	}
}

/* ---- request-reply ---- */

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

struct sent {
	int err;
	int done;
};

static void on_sent(void *opaque, int32_t partition, int64_t offset, int err,
		    void *arg)
{
	(void)partition;
	(void)offset;
	(void)arg;
	struct sent *s = opaque;
	s->err = err;
	s->done = 1;
}

int sl_request(const char *addr, const char *topic, const void *value,
	       size_t vlen, int want, int timeout_ms, sl_reply_cb cb,
	       void *arg)
{
	if (want < 1)
		return -EINVAL;
	uint8_t id[16];
	int rc = random_bytes(id, sizeof(id));
	if (rc)
		return rc;
	char corr[33], reply_to[64];
	hex(id, 16, corr);
	snprintf(reply_to, sizeof(reply_to), "_sl.reply.%.16s", corr);
	struct sl_client *c = NULL;
	struct sl_producer *p = NULL;
	struct sl_consumer *k = NULL;
	if ((rc = sl_client_create(addr, 5000, &c)))
		return rc;
	struct sl_topic_config tc = {.partitions = 1};
	long t = sl_topic_create(c, reply_to, &tc);
	if (t < 0) {
		rc = (int)t;
		goto out;
	}
	/* the reply topic is read from its start before the request goes
	 * (a cluster's new topic may take a moment to have a leader) */
	uint64_t deadline = slc_now_us() + (uint64_t)timeout_ms * 1000u;
	while ((rc = sl_consumer_create(addr, reply_to, 0, NULL, &k)) &&
	       slc_now_us() < deadline)
		usleep(20000);
	if (rc)
		goto drop;
	struct sl_producer_opts po;
	sl_producer_opts_default(&po);
	po.cb = on_sent;
	po.linger_ms = 0;
	if ((rc = sl_producer_create(addr, &po, &p)))
		goto drop;
	struct sl_header h[2] = {
		{SL_HEADER_REPLY_TO, strlen(SL_HEADER_REPLY_TO), reply_to,
		 strlen(reply_to)},
		{SL_HEADER_CORRELATION_ID, strlen(SL_HEADER_CORRELATION_ID),
		 corr, strlen(corr)}};
	struct sent s = {0, 0};
	rc = sl_produce_h(p, topic, -1, NULL, 0, value, vlen, h, 2, &s);
	if (rc < 0)
		goto drop;
	rc = sl_producer_flush(p, timeout_ms);
	if (!rc && s.done && s.err)
		rc = s.err;
	if (rc)
		goto drop;
	int got = 0;
	while (got < want) {
		uint64_t now = slc_now_us();
		if (now >= deadline)
			break;
		struct sl_message m;
		rc = sl_consume(k, &m, (int)((deadline - now) / 1000u));
		if (rc < 0)
			goto drop;
		if (rc == 0)
			continue;
		const void *v;
		size_t vl;
		if (!sl_message_header(&m, SL_HEADER_CORRELATION_ID, &v,
				       &vl) ||
		    vl != strlen(corr) || memcmp(v, corr, vl))
			continue; /* not a reply to this request */
		got++;
		if (cb)
			cb(arg, &m);
	}
	rc = got;
drop:
	sl_consumer_destroy(k);
	sl_producer_destroy(p);
	(void)sl_topic_delete(c, reply_to);
out:
	sl_client_destroy(c);
	return rc;
}

int sl_reply(struct sl_producer *p, const struct sl_message *m,
	     const void *value, size_t vlen, void *opaque)
{
	const void *to, *corr;
	size_t tl, cl;
	char topic[SN_NAME_MAX + 1];
	if (!sl_message_header(m, SL_HEADER_REPLY_TO, &to, &tl) ||
	    !tl || tl > SN_NAME_MAX)
		return sl_err_broker(SN_ERR_INVALID_REQUEST);
	memcpy(topic, to, tl);
	topic[tl] = 0;
	struct sl_header h[1] = {{SL_HEADER_CORRELATION_ID,
				  strlen(SL_HEADER_CORRELATION_ID), NULL, 0}};
	if (sl_message_header(m, SL_HEADER_CORRELATION_ID, &corr, &cl)) {
		h[0].value = corr;
		h[0].vlen = cl;
	}
	int rc = sl_produce_h(p, topic, -1, NULL, 0, value, vlen, h, 1,
			      opaque);
	return rc < 0 ? rc : 0;
}
