/*
 * libFuzzer target for the control protocol's decoders (proto/ipc.h) on
 * both ends of the control socket:
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
 *      parse or its length is not the packet's, or after answering a
 *      HELLO of another ipc version; a TOPIC_PUT it accepts hands the
 *      topic table a name inside the message;
 *   4. the link drops (and is reconnected by this target) only as ipc.h
 *      says: it never sends after closing.
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

/* Only reachable with requests waiting for control, which need the
 * net core's admin ring: not here. */
int dp_msg_resp(struct dp *d, struct dp_msg *m, size_t bytes)
{
	(void)d;
	(void)m;
	(void)bytes;
	FUZZ_CHECK(!"dp_msg_resp without a pending request");
	return -1;
}

void dp_complete(struct dp *d, struct dp_msg *m)
{
	(void)d;
	(void)m;
	FUZZ_CHECK(!"dp_complete without a pending request");
}

unsigned dp_ring_dequeue_burst(struct dp_ring *r, void **objs, unsigned n)
{
	(void)r;
	(void)objs;
	(void)n;
	return 0;
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
	/* a HELLO of another ipc version is answered, then dropped */
	bool bad_hello = well_formed && h.opcode == SIPC_HELLO &&
			 (len < SIPC_HELLO_BYTES ||
			  rb_be32(m + 16) != SIPC_VERSION);
	FUZZ_CHECK(rc == (well_formed && !bad_hello ? 0 : -1));
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
