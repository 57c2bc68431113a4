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
