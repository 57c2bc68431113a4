/*
 * sl_consumer: one (topic, partition) read over TCP.  A fetch loop with a
 * long poll; the answer's batches are walked record by record in place and
 * records below the position are skipped (the first batch of an answer
 * may begin before the offset asked).
 *
 * The fetch answer stays in the connection's receive buffer until the next
 * fetch, so messages point into it and are valid until the next call.
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_pvt.h"
#include "proto/native.h"
#include "proto/compression.h"
#include "proto/record_batch.h"

/* A compressed batch's records decompress to at most this (Kafka's
 * message.max.bytes is 1 MiB compressed; ratios above 64 are rare). */
#define SLC_RECORDS_MAX (64u << 20)

struct sl_consumer {
	struct slc_conn conn;
	struct sockaddr_in sin;   /* where conn goes: the partition's leader */
	struct sockaddr_in boot;  /* the address it was created with */
	char topic[SN_NAME_MAX + 1];
	struct sl_consumer_opts o;
	uint32_t topic_id;
	int32_t partition;
	int64_t position;       /* next offset to deliver */
	int64_t end_offset, hw; /* from the last fetch */
	/* the current fetch answer (points into conn.rbuf) */
	const uint8_t *rec, *rec_end; /* batches not yet walked */
	struct rb_iter it;
	uint8_t *records;       /* the batch being walked, decompressed */
	int64_t batch_last;     /* last offset of the batch being walked */
	int in_batch;
};

void sl_consumer_opts_default(struct sl_consumer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_bytes = 1u << 20;
	o->max_wait_ms = 500;
	o->min_bytes = 1;
	o->isolation = 0;
}

/* Follow the partition's leader (LEADERS, asked of the broker c is
 * connected to, else of the one it was created with): c->sin and the
 * connection move there when it is another broker.  An older broker
 * without LEADERS, or a partition without a leader for the moment,
 * leave c where it is.  0 or -errno. */
static int reroute(struct sl_consumer *c)
{
	struct slc_route *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = -ENOTCONN;
	if (c->conn.fd >= 0)
		rc = slc_route_get(&c->conn, &c->sin, c->topic, r);
	if (rc && rc != -EOPNOTSUPP) {
		/* this broker is gone or answers nothing useful: ask the
		 * one the consumer was given */
		slc_conn_close(&c->conn);
		slc_conn_init(&c->conn);
		c->sin = c->boot;
		rc = slc_conn_open(&c->conn, &c->sin, 5000);
		if (!rc)
			rc = slc_route_get(&c->conn, &c->sin, c->topic, r);
	}
	if (rc == -EOPNOTSUPP)
		rc = 0; /* an older broker: it serves everything itself */
	else if (!rc && c->partition < r->partitions &&
		 r->leader[c->partition] >= 0) {
		const struct sockaddr_in *to =
			&r->brokers[r->leader[c->partition]].tcp;
		if (to->sin_addr.s_addr != c->sin.sin_addr.s_addr ||
		    to->sin_port != c->sin.sin_port) {
			uint32_t corr = c->conn.next_corr;
			slc_conn_close(&c->conn);
			slc_conn_init(&c->conn);
			c->conn.next_corr = corr;
			c->sin = *to;
			rc = slc_conn_open(&c->conn, &c->sin, 5000);
		}
	}
	free(r);
	return rc;
}

int sl_consumer_create(const char *addr, const char *topic, int32_t partition,
		       const struct sl_consumer_opts *o,
		       struct sl_consumer **out)
{
	struct sockaddr_in sin;
	int rc = slc_parse_addr(addr, &sin, NULL, 0);
	if (rc)
		return rc;
	struct sl_consumer *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	slc_conn_init(&c->conn);
	if (o)
		c->o = *o;
	else
		sl_consumer_opts_default(&c->o);
	if (!c->o.max_bytes)
		c->o.max_bytes = 1u << 20;
	c->partition = partition;
	c->end_offset = c->hw = -1;
	c->sin = c->boot = sin;
	snprintf(c->topic, sizeof(c->topic), "%s", topic);
	rc = slc_conn_open(&c->conn, &sin, 5000);
	if (rc)
		goto free_c;
	struct sl_topic_info t;
	rc = slc_metadata_one(&c->conn, topic, &t, NULL, NULL);
	if (rc)
		goto close_conn;
	if (partition < 0 || partition >= t.partitions) {
		rc = sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		goto close_conn;
	}
	c->topic_id = t.topic_id;
	if ((rc = reroute(c)))
		goto close_conn;
	rc = sl_consumer_seek(c, SL_OFFSET_BEGINNING);
	if (rc)
		goto close_conn;
	*out = c;
	return 0;
close_conn:
	slc_conn_close(&c->conn);
free_c:
	free(c);
	return rc;
}

void sl_consumer_destroy(struct sl_consumer *c)
{
	if (!c)
		return;
	slc_conn_close(&c->conn);
	free(c->records);
	free(c);
}

static void drop_buffered(struct sl_consumer *c)
{
	c->rec = c->rec_end = NULL;
	c->in_batch = 0;
}

/* Walk a compressed batch: its records decompressed into c->records (the
 * last message's key and value pointed into the previous batch, which the
 * caller has moved past).  SL_ECORRUPT for a stream its codec refuses. */
static int open_compressed(struct sl_consumer *c, const uint8_t *b, size_t bl)
{
	int codec = rb_be16(b + RB_OFF_ATTRIBUTES) & RB_ATTR_COMPRESSION_MASK;
	uint8_t *out;
	size_t n;
	int rc = sl_decompress(codec, b + RB_HEADER_BYTES, bl - RB_HEADER_BYTES,
			       SLC_RECORDS_MAX, &out, &n);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0)
		return SL_ECORRUPT;
	free(c->records);
	c->records = out;
	rb_iter_init_records(&c->it, b, out, n);
	return 0;
}

int sl_consumer_seek(struct sl_consumer *c, int64_t offset)
{
	drop_buffered(c);
	if (offset >= 0) {
		c->position = offset;
		return 0;
	}
	if (offset != SL_OFFSET_BEGINNING && offset != SL_OFFSET_END)
		return -EINVAL;
	int64_t off;
	int rc = slc_list_offset(&c->conn, c->topic_id, c->partition, offset,
				 &off);
	if (rc)
		return rc;
	c->position = off < 0 ? 0 : off;
	return 0;
}

int sl_consumer_seek_timestamp(struct sl_consumer *c, int64_t ts_ms)
{
	if (ts_ms < 0)
		return -EINVAL;
	drop_buffered(c);
	int64_t off;
	int rc = slc_list_offset(&c->conn, c->topic_id, c->partition, ts_ms,
				 &off);
	if (rc)
		return rc;
	if (off < 0) /* nothing that recent: the end */
		return sl_consumer_seek(c, SL_OFFSET_END);
	c->position = off;
	return 0;
}

int64_t sl_consumer_position(const struct sl_consumer *c)
{
	return c->position;
}

int64_t sl_consumer_end_offset(const struct sl_consumer *c)
{
	return c->end_offset;
}

int64_t sl_consumer_high_watermark(const struct sl_consumer *c)
{
	return c->hw;
}

/* Next record >= position from the buffered answer: 1, 0 when exhausted,
 * SL_ECORRUPT. */
static int next_buffered(struct sl_consumer *c, struct sl_message *m)
{
	for (;;) {
		if (c->in_batch) {
			struct rb_record r;
			int rc = rb_iter_next(&c->it, &r);
			if (rc < 0)
				return rc;
			if (rc == 0) {
				/* past the batch, also one without records
				 * (offsets the log skipped, docs/storage.md) */
				c->in_batch = 0;
				if (c->position <= c->batch_last)
					c->position = c->batch_last + 1;
				continue;
			}
			if (r.offset < c->position)
				continue;
			m->partition = c->partition;
			m->offset = r.offset;
			m->timestamp_ms = r.timestamp;
			m->key = r.key;
			m->klen = r.key ? (size_t)r.klen : 0;
			m->value = r.vlen >= 0 ? r.value : NULL;
			m->vlen = r.vlen > 0 ? (size_t)r.vlen : 0;
			slc_message_headers(m, &r);
			c->position = r.offset + 1;
			return 1;
		}
		if (!c->rec || c->rec >= c->rec_end)
			return 0;
		size_t avail = (size_t)(c->rec_end - c->rec);
		long bl = rb_frame_size(c->rec, avail, avail);
		if (bl <= 0 || (size_t)bl > avail || bl < RB_HEADER_BYTES) {
			/* a partial batch at the end (max bytes) */
			c->rec = c->rec_end = NULL;
			return 0;
		}
		const uint8_t *b = c->rec;
		c->rec += bl;
		if (rb_last_offset(b) < c->position)
			continue;
		int rc = rb_iter_init(&c->it, b, (size_t)bl);
		if (rc == -ENOTSUP)
			rc = open_compressed(c, b, (size_t)bl);
		else if (rc < 0)
			rc = SL_ECORRUPT;
		if (rc < 0)
			return rc;
		c->batch_last = rb_last_offset(b);
		c->in_batch = 1;
	}
}

static int fetch(struct sl_consumer *c, uint32_t wait_ms)
{
	uint8_t req[SN_FETCH_REQ_BYTES];
	struct sn_fetch fr = { .topic_id = c->topic_id,
			       .partition = c->partition,
			       .offset = c->position,
			       .max_bytes = c->o.max_bytes,
			       .max_wait_ms = wait_ms,
			       .min_bytes = c->o.min_bytes ? c->o.min_bytes : 1,
			       .isolation = (uint8_t)c->o.isolation };
	long n = sn_encode_fetch(req, sizeof(req), c->conn.next_corr++, &fr);
	assert(n == SN_FETCH_REQ_BYTES);
	const uint8_t *f;
	size_t len;
	drop_buffered(c); /* the receive buffer is about to move */
	int rc = c->conn.fd < 0 ? -ENOTCONN :
		 slc_conn_call(&c->conn, req, (size_t)n, (int)wait_ms + 10000,
			       &f, &len);
	if (rc < 0) {
		/* the stream is out of step, or the broker went: start over
		 * at the partition's leader on the next call */
		slc_conn_close(&c->conn);
		slc_conn_init(&c->conn);
		c->sin = c->boot;
		if (slc_conn_open(&c->conn, &c->sin, 5000) == 0)
			(void)reroute(c);
		return rc;
	}
	if ((rc = slc_frame_error(f))) {
		if (slc_not_leader(sl_broker_code(rc)))
			(void)reroute(c); /* the next call asks the leader */
		return rc;
	}
	struct sn_fetch_resp r;
	if ((rc = sn_decode_fetch_resp(f, len, &r)))
		return slc_decode_error(rc);
	c->hw = r.high_watermark;
	c->end_offset = r.log_end_offset;
	c->rec = r.records;
	c->rec_end = r.records + r.records_len;
	return (int)r.records_len;
}

int sl_consume(struct sl_consumer *c, struct sl_message *m, int timeout_ms)
{
	uint64_t deadline = slc_now_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000u;
	for (;;) {
		int rc = next_buffered(c, m);
		if (rc)
			return rc;
		uint64_t now = slc_now_us();
		uint32_t wait = 0;
		if (now < deadline) {
			uint64_t left_ms = (deadline - now) / 1000u;
			wait = left_ms < c->o.max_wait_ms ? (uint32_t)left_ms :
							    c->o.max_wait_ms;
		}
		rc = fetch(c, wait);
		if (rc < 0) {
			/* a leader that moved, or a broker that went: asked
			 * again (at the new leader) while time is left */
			int again = sl_is_broker_err(rc) ?
					    slc_not_leader(sl_broker_code(rc)) :
					    rc != -ENOMEM && rc != -EINVAL &&
						    rc != SL_ECORRUPT;
			if (!again || slc_now_us() + 100000 >= deadline)
				return rc;
			poll(NULL, 0, 100);
			continue;
		}
		rc = next_buffered(c, m);
		if (rc)
			return rc;
		if (slc_now_us() >= deadline)
			return 0;
	}
}

void slc_message_headers(struct sl_message *m, const struct rb_record *r)
{
	m->nheaders = r->nheaders > 0 ? (size_t)r->nheaders : 0;
	m->hdr_ = r->headers;
	m->hdr_end_ = r->headers_end;
}

static struct rb_record record_of(const struct sl_message *m)
{
	struct rb_record r;
	memset(&r, 0, sizeof(r));
	r.headers = m->hdr_;
	r.headers_end = m->hdr_end_;
	r.nheaders = (int32_t)m->nheaders;
	return r;
}

int sl_message_header(const struct sl_message *m, const char *key,
		      const void **value, size_t *vlen)
{
	struct rb_record r = record_of(m);
	const uint8_t *v;
	int32_t vl;
	if (!m->nheaders || !rb_header_find(&r, key, strlen(key), &v, &vl))
		return 0;
	*value = v;
	*vlen = vl > 0 ? (size_t)vl : 0;
	return 1;
}

int sl_message_header_at(const struct sl_message *m, size_t i,
			 struct sl_header *h)
{
	struct rb_record r = record_of(m);
	const uint8_t *v;
	int32_t vl;
	if (i >= m->nheaders ||
	    !rb_header_at(&r, (int32_t)i, &h->key, &h->klen, &v, &vl))
		return 0;
	h->value = v;
	h->vlen = vl > 0 ? (size_t)vl : 0;
	return 1;
}
