/*
 * libFuzzer target for the control protocol's decoders (proto/ipc.c) by
 * themselves and on both ends of the control socket:
 *   - sluice-control's link (control/ipc.c): what it does with every
 *     message from sluiced (HELLO and TOPIC_PUT/DELETE replies, ADMIN and
 *     KAFKA requests, which reach the topic store and the group
 *     coordinator), through the real sl_link_do_work on a socketpair;
 *   - sluiced's control socket (dataplane/control.c, dp_control_handle):
 *     what it does with every message from control (HELLO, TOPIC_PUT,
 *     TOPIC_DELETE, SYNC_DONE, ADMIN/KAFKA replies), with the topic table
 *     replaced by a check of what the decoder hands it.
 *
 * Input: a sequence of messages, each
 *     u8 ctl | u16 length | length bytes
 * sent to both ends in turn.  ctl bit 0 repairs the native header (magic,
 * version, length field = length); bit 1 sets the correlation id to the
 * one the link waits for (HELLO's, then the oldest op in flight), so the
 * link's state machine gets past HELLO into SYNC and READY; bits 2-3 move
 * the clock (0, 100 ms, past SL_LINK_TIMEOUT_MS).
 *
 * Properties:
 *   1. neither end crashes, reads outside a message, leaks, or asserts;
 *   2. everything either end sends back is a well-formed message: a
 *      native header whose length is the packet's, within
 *      SIPC_MAX_MESSAGE; sluiced's replies carry the request's opcode
 *      with bit 7 and its correlation id;
 *   3. sluiced drops the connection (-1) exactly when the header does not
 *      parse or its length is not the packet's, after answering a HELLO
 *      that is not exactly one of ipc version 1, or on a SYNC_DONE with a
 *      body; a TOPIC_PUT it accepts hands the topic table a name inside
 *      the message;
 *   4. the link drops (and is reconnected by this target) only as ipc.h
 *      says: it never sends after closing;
 *   5. every sipc_decode_* returns 0, -SN_ERR_INVALID_REQUEST or
 *      -SN_ERR_UNSUPPORTED_VERSION; the header-only and HELLO decoders
 *      accept exactly what proto/ipc.h's rule allows (checked here from
 *      the bytes, independently); what any decoder accepts points only
 *      into the message and, encoded again with its sipc_encode_*, gives a
 *      message the decoder accepts with the same contents; a reply's
 *      piece (SIPC_FLAG_MORE) is taken by sluiced and joined with the
 *      last one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/groups.h"
#include "control/ipc.h"
#include "control/metadata.h"
#include "dataplane/dp.h"
#include "dataplane/fetcher.h"
#include "proto/config.h"
#include "proto/ipc.h"
#include "proto/native.h"
#include "proto/record_batch.h"
#include "fuzz_util.h"

#define INPUT_MAX (256u * 1024)
#define MESSAGES_MAX 64

static struct sl_config cfg;
static struct sl_meta *meta;
static struct sl_link *lk;
static struct sl_groups *groups;
static struct dp *dp;
static char meta_dir[PATH_MAX], groups_dir[PATH_MAX];
static int lsv[2] = { -1, -1 };  /* link end, sluiced end */
static int dsv[2] = { -1, -1 };  /* sluiced end, control end */
static int64_t now_ms;
static uint8_t rbuf[SIPC_MAX_MESSAGE + 1];

/* the message dp_control_handle is working on */
static const uint8_t *cur_msg;
static size_t cur_len;

/* ---- what dataplane/control.c calls in sluiced ---- */

void dp_log(const char *fmt, ...)
{
	(void)fmt;
}

int dp_topic_put(struct dp *d, const struct sn_topic_info *t)
{
	FUZZ_CHECK(d == dp);
	const uint8_t *name = (const uint8_t *)t->name;
	FUZZ_CHECK(name >= cur_msg && name + t->name_len <= cur_msg + cur_len);
	/* dataplane/topics.c's checks, without the logs behind them */
	if (!sn_topic_name_valid(t->name, t->name_len) || t->topic_id == 0 ||
	    t->partitions < 1 || t->partitions > SN_PARTITIONS_MAX)
		return -SN_ERR_INVALID_REQUEST;
	return 0;
}

int dp_topic_delete(struct dp *d, uint32_t topic_id)
{
	FUZZ_CHECK(d == dp);
	(void)topic_id;
	return 0;
}

/* A cluster's messages (BROKERS, PARTITION_STATE): this dataplane has
 * no broker table (BROKERS is refused) and no partition (PARTITION_STATE
 * is answered UNKNOWN_TOPIC_OR_PARTITION); no storage core queues an
 * in-sync set change. */
struct dp_partition *dp_partition_get(struct dp *d, uint32_t topic_id,
				      int32_t partition)
{
	FUZZ_CHECK(d == dp);
	(void)topic_id;
	(void)partition;
	return NULL;
}

int dp_store_cmd(struct dp *d, uint32_t core, int op, struct dp_partition *p)
{
	(void)d;
	(void)core;
	(void)op;
	(void)p;
	FUZZ_CHECK(!"dp_store_cmd without a partition");
	return 0;
}

void dp_fetcher_kick(struct dp *d)
{
	FUZZ_CHECK(d == dp);
}

int dp_cluster_next_alter(struct dp *d, struct sipc_alter_isr *out)
{
	FUZZ_CHECK(d == dp);
	(void)out;
	return 0;
}

/* Only reachable with requests waiting for control, which need the
 * net core's admin ring: not here. */
void dp_admin_complete(struct dp *d, struct dp_msg *m, const uint8_t *answer,
		       size_t len, int16_t err)
{
	(void)d;
	(void)m;
	(void)answer;
	(void)len;
	(void)err;
	FUZZ_CHECK(!"dp_admin_complete without a pending request");
}

unsigned dp_ring_dequeue_burst(struct dp_ring *r, void **objs, unsigned n)
{
	(void)r;
	(void)objs;
	(void)n;
	return 0;
}

/* ---- the decoders by themselves (property 5) ---- */

static void check_rc(int rc)
{
	FUZZ_CHECK(rc == 0 || rc == -SN_ERR_INVALID_REQUEST ||
		   rc == -SN_ERR_UNSUPPORTED_VERSION);
}

/* p[0..n) lies inside m[0..len) */
static bool inside(const void *p, size_t n, const uint8_t *m, size_t len)
{
	const uint8_t *b = p;
	return b >= m && n <= len && b - m <= (ptrdiff_t)(len - n);
}

/* A body decoder's result encoded again: the same header and body. */
static void same_body(const uint8_t *m, size_t len, const uint8_t *out,
		      long olen)
{
	FUZZ_CHECK(olen == (long)len);
	FUZZ_CHECK(memcmp(out, m, 12) == 0); /* magic .. correlation id */
	FUZZ_CHECK(memcmp(out + 16, m + 16, len - 16) == 0);
}

static void decoders(const uint8_t *m, size_t len)
{
	static uint8_t out[SIPC_MAX_MESSAGE];
	struct sn_header h = { 0 };
	long flen = sn_header_parse(m, len, SIPC_MAX_MESSAGE, &h);
	bool framed = flen > 0 && (size_t)flen == len;
	const uint8_t *body;
	size_t body_len;
	int rc;

	/* header-only messages: accepted exactly when framed and empty */
	rc = sipc_decode_sync_done(m, len);
	check_rc(rc);
	FUZZ_CHECK((rc == 0) == (framed && h.opcode == SIPC_SYNC_DONE &&
				 len == SN_HEADER_BYTES));
	for (uint8_t op = SIPC_HELLO; op <= SIPC_KAFKA; op++) {
		rc = sipc_decode_reply(m, len, op);
		check_rc(rc);
		FUZZ_CHECK((rc == 0) == (framed &&
					 h.opcode == (op | SN_RESPONSE) &&
					 len == SN_HEADER_BYTES));
	}

	uint32_t pid = 0;
	rc = sipc_decode_hello(m, len, &pid);
	check_rc(rc);
	FUZZ_CHECK((rc == 0) == (framed && h.opcode == SIPC_HELLO &&
				 len == SIPC_HELLO_BYTES &&
				 rb_be32(m + 16) == SIPC_VERSION));
	if (rc == 0) {
		FUZZ_CHECK(pid == rb_be32(m + 20));
		same_body(m, len, out,
			  sipc_encode_hello(out, sizeof(out), h.corr, pid));
	}

	struct sipc_hello_reply hr;
	rc = sipc_decode_hello_reply(m, len, &hr);
	check_rc(rc);
	FUZZ_CHECK((rc == 0) == (framed &&
				 h.opcode == (SIPC_HELLO | SN_RESPONSE) &&
				 h.error == 0 &&
				 len == SIPC_HELLO_REPLY_BYTES &&
				 rb_be32(m + 16) == SIPC_VERSION));
	if (rc == 0)
		same_body(m, len, out,
			  sipc_encode_hello_reply(out, sizeof(out), h.corr,
						  &hr));

	struct sn_topic_info t, t2;
	rc = sipc_decode_topic_put(m, len, &t);
	check_rc(rc);
	if (rc == 0) {
		FUZZ_CHECK(framed && h.opcode == SIPC_TOPIC_PUT);
		FUZZ_CHECK(len == SIPC_TOPIC_PUT_BYTES + (size_t)t.name_len);
		FUZZ_CHECK(inside(t.name, t.name_len, m, len));
		long n = sipc_encode_topic_put(out, sizeof(out), h.corr, &t);
		FUZZ_CHECK(n == (long)len);
		FUZZ_CHECK(sipc_decode_topic_put(out, (size_t)n, &t2) == 0);
		FUZZ_CHECK(t2.topic_id == t.topic_id &&
			   t2.partitions == t.partitions &&
			   t2.error == t.error &&
			   t2.durability == t.durability &&
			   t2.retention_ms == t.retention_ms &&
			   t2.retention_bytes == t.retention_bytes &&
			   t2.segment_bytes == t.segment_bytes &&
			   t2.name_len == t.name_len &&
			   !memcmp(t2.name, t.name, t.name_len));
	}

	struct sipc_topic_delete d, d2;
	rc = sipc_decode_topic_delete(m, len, &d);
	check_rc(rc);
	if (rc == 0) {
		FUZZ_CHECK(framed && h.opcode == SIPC_TOPIC_DELETE);
		FUZZ_CHECK(len == SIPC_TOPIC_DELETE_BYTES + (size_t)d.name_len);
		FUZZ_CHECK(inside(d.name, d.name_len, m, len));
		long n = sipc_encode_topic_delete(out, sizeof(out), h.corr,
						  d.topic_id, d.name,
						  d.name_len);
		FUZZ_CHECK(n == (long)len);
		FUZZ_CHECK(sipc_decode_topic_delete(out, (size_t)n, &d2) == 0);
		FUZZ_CHECK(d2.topic_id == d.topic_id &&
			   d2.name_len == d.name_len &&
			   !memcmp(d2.name, d.name, d.name_len));
	}

	/* opaque bodies: the body is all of the message after the header */
	rc = sipc_decode_admin(m, len, &body, &body_len);
	check_rc(rc);
	FUZZ_CHECK((rc == 0) == (framed && h.opcode == SIPC_ADMIN));
	if (rc == 0) {
		FUZZ_CHECK(body == m + 16 && body_len == len - 16);
		same_body(m, len, out,
			  sipc_encode_admin(out, sizeof(out), h.corr, body,
					    body_len));
	}
	rc = sipc_decode_kafka(m, len, &body, &body_len);
	check_rc(rc);
	FUZZ_CHECK((rc == 0) == (framed && h.opcode == SIPC_KAFKA));
	if (rc == 0) {
		FUZZ_CHECK(body == m + 16 && body_len == len - 16);
		same_body(m, len, out,
			  sipc_encode_kafka(out, sizeof(out), h.corr, body,
					    body_len));
	}
	rc = sipc_decode_admin_reply(m, len, &body, &body_len);
	check_rc(rc);
	if (rc == 0) {
		FUZZ_CHECK(framed && h.opcode == (SIPC_ADMIN | SN_RESPONSE));
		FUZZ_CHECK(body == m + 16 && body_len == len - 16);
		FUZZ_CHECK((h.error != 0) == (body_len == 0));
		if (body_len) {
			struct sn_header inner;
			FUZZ_CHECK(sn_header_parse(body, body_len,
						   SIPC_MAX_MESSAGE,
						   &inner) == (long)body_len);
			FUZZ_CHECK(inner.opcode & SN_RESPONSE);
			same_body(m, len, out,
				  sipc_encode_admin_reply(out, sizeof(out),
							  h.corr, body,
							  body_len));
		}
	}
	rc = sipc_decode_kafka_reply(m, len, &body, &body_len);
	check_rc(rc);
	FUZZ_CHECK((rc == 0) == (framed &&
				 h.opcode == (SIPC_KAFKA | SN_RESPONSE) &&
				 (h.error != 0) == (len == SN_HEADER_BYTES)));
	if (rc == 0 && body_len) {
		FUZZ_CHECK(body == m + 16 && body_len == len - 16);
		same_body(m, len, out,
			  sipc_encode_kafka_reply(out, sizeof(out), h.corr,
						  body, body_len));
	}
	/* a reply's piece: error 0, a body, no flag but MORE; encoded
	 * again to the same bytes, flags included */
	for (int k = 0; k < 2; k++) {
		uint8_t op = k ? SIPC_KAFKA : SIPC_ADMIN;
		int more = -1;
		rc = sipc_decode_reply_piece(m, len, op, &body, &body_len,
					     &more);
		check_rc(rc);
		FUZZ_CHECK((rc == 0) ==
			   (framed && h.opcode == (op | SN_RESPONSE) &&
			    !h.error && len > SN_HEADER_BYTES &&
			    !(h.flags & ~SIPC_FLAG_MORE)));
		if (rc)
			continue;
		FUZZ_CHECK(body == m + 16 && body_len == len - 16);
		FUZZ_CHECK(more == ((h.flags & SIPC_FLAG_MORE) != 0));
		long n = sipc_encode_reply_piece(out, sizeof(out), op, h.corr,
						 body, body_len, more);
		FUZZ_CHECK(n == (long)len && !memcmp(out, m, len));
	}
}

/* ---- set-up ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_control_log();
	const char *tmp = fz_tmpdir();
	snprintf(meta_dir, sizeof(meta_dir), "%s/control", tmp);
	snprintf(groups_dir, sizeof(groups_dir), "%s/groups", tmp);
	sl_config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s/data", tmp);
	snprintf(cfg.control_dir, sizeof(cfg.control_dir), "%s", meta_dir);
	snprintf(cfg.control_socket, sizeof(cfg.control_socket),
		 "%s/no-such.ctl", tmp);
	meta = malloc(sizeof(*meta));
	lk = malloc(sizeof(*lk));
	dp = calloc(1, sizeof(*dp));
	FUZZ_CHECK(meta && lk && dp);
	dp->cfg = cfg;
	dp->udp_port = 9093;
	dp->tcp_port = 9093;
	return 0;
}

static void pair(int sv[2])
{
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
			      SOCK_CLOEXEC, 0, sv) == 0);
	int big = 4 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
}

/* What try_connect does, on a socketpair instead of the socket path. */
static void link_connect(void)
{
	if (lsv[1] >= 0)
		close(lsv[1]);
	pair(lsv);
	lk->fd = lsv[0];
	lk->connects++;
	lk->hello_corr = lk->next_corr++;
	lk->state = SL_LINK_HELLO;
	lk->waiting_since_ms = now_ms;
}

/* Read everything the link sent: well-formed messages only. */
static void drain_link(void)
{
	for (unsigned i = 0; i < 4 * SL_LINK_QUEUE; i++) {
		ssize_t n = recv(lsv[1], rbuf, sizeof(rbuf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			return; /* the link closed its end */
		struct sn_header h;
		long flen = sn_header_parse(rbuf, (size_t)n, SIPC_MAX_MESSAGE,
					    &h);
		FUZZ_CHECK(flen == n);
	}
	FUZZ_CHECK(!"the link sent more than its queue holds");
}

static void drain_dp(uint8_t opcode, uint32_t corr, bool any)
{
	for (unsigned i = 0; i < 16; i++) {
		ssize_t n = recv(dsv[1], rbuf, sizeof(rbuf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return;
		FUZZ_CHECK(n > 0);
		struct sn_header h;
		long flen = sn_header_parse(rbuf, (size_t)n, SIPC_MAX_MESSAGE,
					    &h);
		FUZZ_CHECK(flen == n);
		FUZZ_CHECK(any || (h.opcode == (opcode | SN_RESPONSE) &&
				   h.corr == corr));
	}
	FUZZ_CHECK(!"sluiced answered one message more than once");
}

static uint32_t wanted_corr(void)
{
	if (lk->state == SL_LINK_HELLO)
		return lk->hello_corr;
	for (uint64_t i = lk->head; i < lk->send; i++) {
		const struct sl_link_op *op = &lk->ops[i % SL_LINK_QUEUE];
		if (op->sent && !op->done)
			return op->corr;
	}
	return lk->next_corr;
}

static void to_link(const uint8_t *m, size_t len)
{
	if (lk->fd < 0)
		link_connect();
	FUZZ_CHECK(send(lsv[1], m, len, MSG_NOSIGNAL) == (ssize_t)len);
	(void)sl_link_do_work(lk, now_ms);
	if (lk->fd < 0) {
		/* dropped: its end is closed and nothing more comes */
		drain_link();
		return;
	}
	drain_link();
	/* the group coordinator's timers, as control's loop runs them */
	(void)sl_groups_tick(groups, now_ms);
	drain_link();
}

static void to_dp(const uint8_t *m, size_t len)
{
	struct sn_header h;
	long flen = sn_header_parse(m, len, SIPC_MAX_MESSAGE, &h);
	bool well_formed = flen > 0 && (size_t)flen == len;
	cur_msg = m;
	cur_len = len;
	int rc = dp_control_handle(dp, dsv[0], m, len);
	cur_msg = NULL;
	/* a HELLO of another ipc version (or size) is answered, then
	 * dropped; a SYNC_DONE with a body is dropped */
	bool bad_hello = well_formed && h.opcode == SIPC_HELLO &&
			 (len != SIPC_HELLO_BYTES ||
			  rb_be32(m + 16) != SIPC_VERSION);
	bool bad_sync = well_formed && h.opcode == SIPC_SYNC_DONE &&
			len != SN_HEADER_BYTES;
	FUZZ_CHECK(rc == (well_formed && !bad_hello && !bad_sync ? 0 : -1));
	if (!well_formed) {
		drain_dp(0, 0, true);
		return;
	}
	bool answered = h.opcode != SIPC_SYNC_DONE &&
			h.opcode != (SIPC_ADMIN | SN_RESPONSE) &&
			h.opcode != (SIPC_KAFKA | SN_RESPONSE);
	/* one reply, to this request */
	ssize_t n = recv(dsv[1], rbuf, sizeof(rbuf), MSG_DONTWAIT);
	if (answered) {
		FUZZ_CHECK(n > 0);
		struct sn_header r;
		FUZZ_CHECK(sn_header_parse(rbuf, (size_t)n, SIPC_MAX_MESSAGE,
					   &r) == n);
		FUZZ_CHECK(r.opcode == (h.opcode | SN_RESPONSE) &&
			   r.corr == h.corr);
	} else {
		FUZZ_CHECK(n < 0 && errno == EAGAIN);
	}
	drain_dp(h.opcode, h.corr, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char err[4096];
	static uint8_t msg[SIPC_MAX_MESSAGE];
	if (size > INPUT_MAX)
		return 0;
	fz_clear_dir(fz_tmpdir());
	now_ms = 1000000;
	FUZZ_CHECK(sl_meta_open(meta, meta_dir, err, sizeof(err)) == 0);
	FUZZ_CHECK(sl_link_create(lk, &cfg, meta) == 0);
	FUZZ_CHECK(sl_groups_open(groups_dir, NULL, sl_link_kafka_reply, lk,
				  now_ms, &groups, err, sizeof(err)) == 0);
	lk->groups = groups;
	link_connect();
	pair(dsv);

	struct fz_reader r;
	fz_init(&r, data, size);
	for (unsigned i = 0; i < MESSAGES_MAX && fz_left(&r) >= 3; i++) {
		uint8_t ctl = fz_u8(&r);
		size_t len;
		const uint8_t *src = fz_bytes(&r, fz_u16(&r), &len);
		memcpy(msg, src, len);
		if ((ctl & 1) && len >= SN_HEADER_BYTES) {
			rb_put16(msg, SN_MAGIC);
			msg[2] = SN_VERSION;
			rb_put32(msg + 4, (uint32_t)len);
		}
		if ((ctl & 2) && len >= SN_HEADER_BYTES)
			rb_put32(msg + 8, wanted_corr());
		static const int64_t steps[] = { 0, 100,
						 SL_LINK_TIMEOUT_MS + 1, 0 };
		now_ms += steps[(ctl >> 2) & 3];
		decoders(msg, len);
		to_link(msg, len);
		to_dp(msg, len);
	}

	sl_link_destroy(lk);
	sl_groups_close(groups);
	sl_meta_close(meta);
	close(lsv[1]);
	close(dsv[0]);
	close(dsv[1]);
	lsv[0] = lsv[1] = dsv[0] = dsv[1] = -1;
	return 0;
}
