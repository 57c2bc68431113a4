/*
 * The control protocol's messages, both directions: one encoder and one
 * decoder per message, side by side.  proto/ipc.h lays out every message
 * byte by byte and gives the rule a decoder checks ("valid if and only
 * if"); this file is that rule in code.  sluice-control (control/ipc.c)
 * and sluiced (dataplane/control.c) both build and read messages only
 * through these functions.
 *
 * Every decoder starts with check(): the native header must parse, its
 * length must be the message's and its opcode the expected one.  The body
 * sizes are then exact: a message with trailing bytes is as malformed as
 * a short one.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "proto/ipc.h"
#include "proto/record_batch.h"

#define ERR(name) (-SN_ERR_##name)

_Static_assert(SIPC_HELLO_BYTES == SN_HEADER_BYTES + 8, "HELLO layout");
_Static_assert(SIPC_HELLO_REPLY_BYTES == SN_HEADER_BYTES + 12,
	       "HELLO reply layout");
_Static_assert(SIPC_TOPIC_DELETE_BYTES == SN_HEADER_BYTES + 8,
	       "TOPIC_DELETE layout");
_Static_assert(SIPC_TOPIC_PUT_BYTES == 56, "TOPIC_PUT layout");
_Static_assert(SIPC_BROKERS_BYTES == SN_HEADER_BYTES + 2, "BROKERS layout");
_Static_assert(SIPC_PARTITION_STATE_BYTES == SN_HEADER_BYTES + 20 + 3,
	       "PARTITION_STATE layout");
_Static_assert(SIPC_ALTER_ISR_BYTES == SN_HEADER_BYTES + 16 + 1,
	       "ALTER_ISR layout");

/* ---- encoders ---- */

/* The room for a len-byte message: 0, -ENOBUFS or -EMSGSIZE. */
static int room(size_t cap, size_t len)
{
	if (len > SIPC_MAX_MESSAGE)
		return -EMSGSIZE;
	if (cap < len)
		return -ENOBUFS;
	return 0;
}

/* Header plus an opaque body (ADMIN, KAFKA and their replies). */
static long encode_body(uint8_t *buf, size_t cap, uint8_t opcode,
			uint32_t corr, const uint8_t *body, size_t body_len)
{
	size_t len = SN_HEADER_BYTES + body_len;
	int rc = room(cap, len);
	if (rc)
		return rc;
	sn_header_put(buf, opcode, (uint32_t)len, corr, 0);
	memcpy(buf + SN_HEADER_BYTES, body, body_len);
	return (long)len;
}

long sipc_encode_hello(uint8_t *buf, size_t cap, uint32_t corr, uint32_t pid)
{
	if (cap < SIPC_HELLO_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, SIPC_HELLO, SIPC_HELLO_BYTES, corr, 0);
	rb_put32(buf + 16, SIPC_VERSION);
	rb_put32(buf + 20, pid);
	return SIPC_HELLO_BYTES;
}

long sipc_encode_hello_reply(uint8_t *buf, size_t cap, uint32_t corr,
			     const struct sipc_hello_reply *r)
{
	if (cap < SIPC_HELLO_REPLY_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, SIPC_HELLO | SN_RESPONSE, SIPC_HELLO_REPLY_BYTES,
		      corr, 0);
	rb_put32(buf + 16, SIPC_VERSION);
	rb_put32(buf + 20, r->pid);
	rb_put16(buf + 24, r->udp_port);
	rb_put16(buf + 26, r->tcp_port);
	return SIPC_HELLO_REPLY_BYTES;
}

long sipc_encode_topic_put(uint8_t *buf, size_t cap, uint32_t corr,
			   const struct sn_topic_info *t)
{
	size_t name_end = SIPC_TOPIC_PUT_BYTES + (size_t)t->name_len;
	size_t len = name_end + (t->cleanup_policy ? SIPC_COMPACTION_BYTES : 0);
	int rc = room(cap, len);
	if (rc)
		return rc;
	/* the entry exactly as sn_metadata_resp_add lays it out, at 16 */
	struct sn_metadata_builder b = { .buf = buf, .cap = cap,
					 .len = SN_HEADER_BYTES };
	rc = sn_metadata_resp_add(&b, t);
	assert(rc == 0 && b.len == name_end); /* room() saw to it */
	(void)rc;
	if (t->cleanup_policy) {
		uint8_t *p = buf + name_end;
		uint64_t ratio;
		memcpy(&ratio, &t->min_cleanable_dirty_ratio, sizeof(ratio));
		memset(p, 0, 8);
		p[0] = t->cleanup_policy;
		rb_put64(p + 8, ratio);
		rb_put64(p + 16, (uint64_t)t->min_compaction_lag_ms);
		rb_put64(p + 24, (uint64_t)t->max_compaction_lag_ms);
		rb_put64(p + 32, (uint64_t)t->delete_retention_ms);
	}
	sn_header_put(buf, SIPC_TOPIC_PUT, (uint32_t)len, corr, 0);
	return (long)len;
}

long sipc_encode_topic_delete(uint8_t *buf, size_t cap, uint32_t corr,
			      uint32_t topic_id, const char *name,
			      uint16_t name_len)
{
	size_t len = SIPC_TOPIC_DELETE_BYTES + (size_t)name_len;
	int rc = room(cap, len);
	if (rc)
		return rc;
	sn_header_put(buf, SIPC_TOPIC_DELETE, (uint32_t)len, corr, 0);
	rb_put32(buf + 16, topic_id);
	rb_put16(buf + 20, name_len);
	rb_put16(buf + 22, 0);
	memcpy(buf + 24, name, name_len);
	return (long)len;
}

long sipc_encode_sync_done(uint8_t *buf, size_t cap, uint32_t corr)
{
	if (cap < SN_HEADER_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, SIPC_SYNC_DONE, SN_HEADER_BYTES, corr, 0);
	return SN_HEADER_BYTES;
}

long sipc_encode_admin(uint8_t *buf, size_t cap, uint32_t corr,
		       const uint8_t *req, size_t req_len)
{
	return encode_body(buf, cap, SIPC_ADMIN, corr, req, req_len);
}

long sipc_encode_admin_reply(uint8_t *buf, size_t cap, uint32_t corr,
			     const uint8_t *resp, size_t resp_len)
{
	assert(resp_len >= SN_HEADER_BYTES); /* a whole native frame */
	return encode_body(buf, cap, SIPC_ADMIN | SN_RESPONSE, corr, resp,
			   resp_len);
}

long sipc_encode_reply_piece(uint8_t *buf, size_t cap, uint8_t opcode,
			     uint32_t corr, const uint8_t *piece, size_t len,
			     int more)
{
	if ((opcode != SIPC_ADMIN && opcode != SIPC_KAFKA) || len < 1 ||
	    len > SIPC_PIECE_MAX)
		return -EINVAL;
	long n = encode_body(buf, cap, opcode | SN_RESPONSE, corr, piece,
			     len);
	if (n > 0 && more)
		rb_put16(buf + 14, SIPC_FLAG_MORE);
	return n;
}

long sipc_encode_kafka(uint8_t *buf, size_t cap, uint32_t corr,
		       const uint8_t *req, size_t req_len)
{
	return encode_body(buf, cap, SIPC_KAFKA, corr, req, req_len);
}

long sipc_encode_kafka_reply(uint8_t *buf, size_t cap, uint32_t corr,
			     const uint8_t *resp, size_t resp_len)
{
	assert(resp_len > 0); /* empty means "close": sipc_encode_reply */
	return encode_body(buf, cap, SIPC_KAFKA | SN_RESPONSE, corr, resp,
			   resp_len);
}

long sipc_encode_brokers(uint8_t *buf, size_t cap, uint32_t corr,
			 const struct sipc_broker *b, unsigned n)
{
	if (n > SIPC_BROKERS_MAX)
		return -EINVAL;
	size_t len = SIPC_BROKERS_BYTES;
	for (unsigned i = 0; i < n; i++) {
		if (b[i].host_len < 1 || b[i].host_len > SIPC_HOST_MAX ||
		    b[i].fenced > 1)
			return -EINVAL;
		len += SIPC_BROKER_ENTRY_BYTES + b[i].host_len;
	}
	int rc = room(cap, len);
	if (rc)
		return rc;
	sn_header_put(buf, SIPC_BROKERS, (uint32_t)len, corr, 0);
	rb_put16(buf + 16, (uint16_t)n);
	uint8_t *p = buf + SIPC_BROKERS_BYTES;
	for (unsigned i = 0; i < n; i++) {
		rb_put32(p, (uint32_t)b[i].node_id);
		rb_put16(p + 4, b[i].kafka_port);
		rb_put16(p + 6, b[i].native_port);
		p[8] = b[i].fenced;
		rb_put16(p + 9, b[i].host_len);
		rb_put16(p + 11, b[i].udp_port);
		memcpy(p + 13, &b[i].udp_addr, 4);
		memcpy(p + 17, b[i].host, b[i].host_len);
		p += SIPC_BROKER_ENTRY_BYTES + b[i].host_len;
	}
	assert(p == buf + len);
	return (long)len;
}

/* n node ids at p (big-endian i32 each); returns the byte after them. */
static uint8_t *put_ids(uint8_t *p, const int32_t *ids, uint8_t n)
{
	for (unsigned i = 0; i < n; i++, p += 4)
		rb_put32(p, (uint32_t)ids[i]);
	return p;
}

static const uint8_t *get_ids(const uint8_t *p, int32_t *ids, uint8_t n)
{
	for (unsigned i = 0; i < n; i++, p += 4)
		ids[i] = (int32_t)rb_be32(p);
	return p;
}

long sipc_encode_partition_state(uint8_t *buf, size_t cap, uint32_t corr,
				 const struct sipc_partition_state *s)
{
	size_t len = SIPC_PARTITION_STATE_BYTES +
		     4 * ((size_t)s->nreplicas + s->nisr);
	int rc = room(cap, len);
	if (rc)
		return rc;
	sn_header_put(buf, SIPC_PARTITION_STATE, (uint32_t)len, corr, 0);
	rb_put32(buf + 16, s->topic_id);
	rb_put32(buf + 20, (uint32_t)s->partition);
	rb_put32(buf + 24, (uint32_t)s->leader);
	rb_put32(buf + 28, (uint32_t)s->leader_epoch);
	rb_put32(buf + 32, (uint32_t)s->partition_epoch);
	uint8_t *p = buf + 36;
	*p++ = s->nreplicas;
	p = put_ids(p, s->replicas, s->nreplicas);
	*p++ = s->nisr;
	p = put_ids(p, s->isr, s->nisr);
	*p++ = s->min_isr;
	assert(p == buf + len);
	return (long)len;
}

long sipc_encode_alter_isr(uint8_t *buf, size_t cap, uint32_t corr,
			   const struct sipc_alter_isr *a)
{
	size_t len = SIPC_ALTER_ISR_BYTES + 4 * (size_t)a->nisr;
	int rc = room(cap, len);
	if (rc)
		return rc;
	sn_header_put(buf, SIPC_ALTER_ISR, (uint32_t)len, corr, 0);
	rb_put32(buf + 16, a->topic_id);
	rb_put32(buf + 20, (uint32_t)a->partition);
	rb_put32(buf + 24, (uint32_t)a->leader_epoch);
	rb_put32(buf + 28, (uint32_t)a->partition_epoch);
	buf[32] = a->nisr;
	uint8_t *p = put_ids(buf + 33, a->isr, a->nisr);
	assert(p == buf + len);
	(void)p;
	return (long)len;
}

long sipc_encode_reply(uint8_t *buf, size_t cap, uint8_t opcode,
		       uint32_t corr, int16_t error)
{
	if (cap < SN_HEADER_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, opcode | SN_RESPONSE, SN_HEADER_BYTES, corr, error);
	return SN_HEADER_BYTES;
}

/* ---- decoders ---- */

/* The header parses, covers exactly len bytes and carries opcode. */
static int check(const uint8_t *f, size_t len, uint8_t opcode,
		 struct sn_header *h)
{
	long flen = sn_header_parse(f, len, SIPC_MAX_MESSAGE, h);
	if (flen < 0)
		return (int)flen;
	if (flen == 0 || (size_t)flen != len || h->opcode != opcode)
		return ERR(INVALID_REQUEST);
	return 0;
}

int sipc_decode_hello(const uint8_t *f, size_t len, uint32_t *pid)
{
	struct sn_header h;
	int rc = check(f, len, SIPC_HELLO, &h);
	if (rc)
		return rc;
	if (len != SIPC_HELLO_BYTES)
		return ERR(INVALID_REQUEST);
	if (rb_be32(f + 16) != SIPC_VERSION)
		return ERR(UNSUPPORTED_VERSION);
	*pid = rb_be32(f + 20);
	return 0;
}

int sipc_decode_hello_reply(const uint8_t *f, size_t len,
			    struct sipc_hello_reply *r)
{
	struct sn_header h;
	int rc = check(f, len, SIPC_HELLO | SN_RESPONSE, &h);
	if (rc)
		return rc;
	if (h.error || len != SIPC_HELLO_REPLY_BYTES)
		return ERR(INVALID_REQUEST);
	if (rb_be32(f + 16) != SIPC_VERSION)
		return ERR(UNSUPPORTED_VERSION);
	r->pid = rb_be32(f + 20);
	r->udp_port = rb_be16(f + 24);
	r->tcp_port = rb_be16(f + 26);
	return 0;
}

int sipc_decode_topic_put(const uint8_t *f, size_t len,
			  struct sn_topic_info *t)
{
	struct sn_header h;
	int rc = check(f, len, SIPC_TOPIC_PUT, &h);
	if (rc)
		return rc;
	struct sn_metadata_resp r = { .entries = f + SN_HEADER_BYTES,
				      .entries_len = len - SN_HEADER_BYTES };
	size_t pos = 0;
	if (sn_metadata_next(&r, &pos, t) != 1)
		return ERR(INVALID_REQUEST); /* none or cut short */
	t->cleanup_policy = 0;
	t->min_cleanable_dirty_ratio = 0;
	t->min_compaction_lag_ms = t->max_compaction_lag_ms = 0;
	t->delete_retention_ms = 0;
	if (pos == r.entries_len)
		return 0;
	const uint8_t *p = r.entries + pos;
	if (r.entries_len - pos != SIPC_COMPACTION_BYTES || p[0] < 1 ||
	    p[0] > 3 || p[1] || p[2] || p[3] || p[4] || p[5] || p[6] || p[7])
		return ERR(INVALID_REQUEST); /* a second entry, or a bad block */
	uint64_t ratio = rb_be64(p + 8);
	t->cleanup_policy = p[0];
	memcpy(&t->min_cleanable_dirty_ratio, &ratio, sizeof(ratio));
	t->min_compaction_lag_ms = (int64_t)rb_be64(p + 16);
	t->max_compaction_lag_ms = (int64_t)rb_be64(p + 24);
	t->delete_retention_ms = (int64_t)rb_be64(p + 32);
	return 0;
}

int sipc_decode_topic_delete(const uint8_t *f, size_t len,
			     struct sipc_topic_delete *r)
{
	struct sn_header h;
	int rc = check(f, len, SIPC_TOPIC_DELETE, &h);
	if (rc)
		return rc;
	if (len < SIPC_TOPIC_DELETE_BYTES)
		return ERR(INVALID_REQUEST);
	uint16_t name_len = rb_be16(f + 20);
	if (SIPC_TOPIC_DELETE_BYTES + (size_t)name_len != len)
		return ERR(INVALID_REQUEST);
	r->topic_id = rb_be32(f + 16);
	r->name = (const char *)f + SIPC_TOPIC_DELETE_BYTES;
	r->name_len = name_len;
	return 0;
}

int sipc_decode_sync_done(const uint8_t *f, size_t len)
{
	struct sn_header h;
	int rc = check(f, len, SIPC_SYNC_DONE, &h);
	if (rc)
		return rc;
	return len == SN_HEADER_BYTES ? 0 : ERR(INVALID_REQUEST);
}

int sipc_decode_reply(const uint8_t *f, size_t len, uint8_t opcode)
{
	struct sn_header h;
	int rc = check(f, len, opcode | SN_RESPONSE, &h);
	if (rc)
		return rc;
	return len == SN_HEADER_BYTES ? 0 : ERR(INVALID_REQUEST);
}

/* ADMIN and KAFKA requests: the body is the client's, judged by control. */
static int decode_request(const uint8_t *f, size_t len, uint8_t opcode,
			  const uint8_t **req, size_t *req_len)
{
	struct sn_header h;
	int rc = check(f, len, opcode, &h);
	if (rc)
		return rc;
	*req = f + SN_HEADER_BYTES;
	*req_len = len - SN_HEADER_BYTES;
	return 0;
}

int sipc_decode_admin(const uint8_t *f, size_t len, const uint8_t **req,
		      size_t *req_len)
{
	return decode_request(f, len, SIPC_ADMIN, req, req_len);
}

int sipc_decode_kafka(const uint8_t *f, size_t len, const uint8_t **req,
		      size_t *req_len)
{
	return decode_request(f, len, SIPC_KAFKA, req, req_len);
}

int sipc_decode_admin_reply(const uint8_t *f, size_t len,
			    const uint8_t **resp, size_t *resp_len)
{
	struct sn_header h, inner;
	int rc = check(f, len, SIPC_ADMIN | SN_RESPONSE, &h);
	if (rc)
		return rc;
	const uint8_t *body = f + SN_HEADER_BYTES;
	size_t body_len = len - SN_HEADER_BYTES;
	if (h.error) {
		if (body_len)
			return ERR(INVALID_REQUEST);
	} else {
		long ilen = sn_header_parse(body, body_len, SIPC_MAX_MESSAGE,
					    &inner);
		if (ilen <= 0 || (size_t)ilen != body_len ||
		    !(inner.opcode & SN_RESPONSE))
			return ERR(INVALID_REQUEST);
	}
	*resp = body;
	*resp_len = body_len;
	return 0;
}

int sipc_decode_kafka_reply(const uint8_t *f, size_t len,
			    const uint8_t **resp, size_t *resp_len)
{
	struct sn_header h;
	int rc = check(f, len, SIPC_KAFKA | SN_RESPONSE, &h);
	if (rc)
		return rc;
	size_t body_len = len - SN_HEADER_BYTES;
	if ((h.error != 0) != (body_len == 0))
		return ERR(INVALID_REQUEST); /* an answer xor an error */
	*resp = f + SN_HEADER_BYTES;
	*resp_len = body_len;
	return 0;
}

int sipc_decode_reply_piece(const uint8_t *f, size_t len, uint8_t opcode,
			    const uint8_t **piece, size_t *piece_len,
			    int *more)
{
	struct sn_header h;
	if (opcode != SIPC_ADMIN && opcode != SIPC_KAFKA)
		return ERR(INVALID_REQUEST);
	int rc = check(f, len, opcode | SN_RESPONSE, &h);
	if (rc)
		return rc;
	if (h.error || len == SN_HEADER_BYTES ||
	    (h.flags & ~SIPC_FLAG_MORE))
		return ERR(INVALID_REQUEST);
	*piece = f + SN_HEADER_BYTES;
	*piece_len = len - SN_HEADER_BYTES;
	*more = (h.flags & SIPC_FLAG_MORE) != 0;
	return 0;
}

int sipc_decode_brokers(const uint8_t *f, size_t len, struct sipc_broker *out,
			unsigned *n)
{
	struct sn_header h;
	int rc = check(f, len, SIPC_BROKERS, &h);
	if (rc)
		return rc;
	if (len < SIPC_BROKERS_BYTES)
		return ERR(INVALID_REQUEST);
	unsigned count = rb_be16(f + 16);
	if (count > SIPC_BROKERS_MAX)
		return ERR(INVALID_REQUEST);
	size_t pos = SIPC_BROKERS_BYTES;
	/* bounded: count <= SIPC_BROKERS_MAX */
	for (unsigned i = 0; i < count; i++) {
		if (len - pos < SIPC_BROKER_ENTRY_BYTES)
			return ERR(INVALID_REQUEST);
		const uint8_t *p = f + pos;
		uint16_t hl = rb_be16(p + 9);
		if (p[8] > 1 || hl < 1 || hl > SIPC_HOST_MAX ||
		    len - pos - SIPC_BROKER_ENTRY_BYTES < hl)
			return ERR(INVALID_REQUEST);
		out[i] = (struct sipc_broker){
			.node_id = (int32_t)rb_be32(p),
			.kafka_port = rb_be16(p + 4),
			.native_port = rb_be16(p + 6),
			.fenced = p[8],
			.host = (const char *)p + 17,
			.host_len = hl,
			.udp_port = rb_be16(p + 11),
		};
		memcpy(&out[i].udp_addr, p + 13, 4);
		pos += SIPC_BROKER_ENTRY_BYTES + hl;
	}
	if (pos != len)
		return ERR(INVALID_REQUEST); /* bytes after the last entry */
	*n = count;
	return 0;
}

int sipc_decode_partition_state(const uint8_t *f, size_t len,
				struct sipc_partition_state *s)
{
	struct sn_header h;
	int rc = check(f, len, SIPC_PARTITION_STATE, &h);
	if (rc)
		return rc;
	if (len < SIPC_PARTITION_STATE_BYTES)
		return ERR(INVALID_REQUEST);
	uint8_t nr = f[36];
	/* the in-sync count sits after the replicas */
	if (len < SIPC_PARTITION_STATE_BYTES + 4 * (size_t)nr)
		return ERR(INVALID_REQUEST);
	uint8_t ni = f[37 + 4 * (size_t)nr];
	if (len != SIPC_PARTITION_STATE_BYTES + 4 * ((size_t)nr + ni))
		return ERR(INVALID_REQUEST);
	s->topic_id = rb_be32(f + 16);
	s->partition = (int32_t)rb_be32(f + 20);
	s->leader = (int32_t)rb_be32(f + 24);
	s->leader_epoch = (int32_t)rb_be32(f + 28);
	s->partition_epoch = (int32_t)rb_be32(f + 32);
	s->nreplicas = nr;
	const uint8_t *p = get_ids(f + 37, s->replicas, nr);
	s->nisr = *p++;
	p = get_ids(p, s->isr, ni);
	s->min_isr = *p++;
	assert(p == f + len);
	return 0;
}

int sipc_decode_alter_isr(const uint8_t *f, size_t len,
			  struct sipc_alter_isr *a)
{
	struct sn_header h;
	int rc = check(f, len, SIPC_ALTER_ISR, &h);
	if (rc)
		return rc;
	if (len < SIPC_ALTER_ISR_BYTES ||
	    len != SIPC_ALTER_ISR_BYTES + 4 * (size_t)f[32])
		return ERR(INVALID_REQUEST);
	a->topic_id = rb_be32(f + 16);
	a->partition = (int32_t)rb_be32(f + 20);
	a->leader_epoch = (int32_t)rb_be32(f + 24);
	a->partition_epoch = (int32_t)rb_be32(f + 28);
	a->nisr = f[32];
	get_ids(f + 33, a->isr, a->nisr);
	return 0;
}
