/*
 * libFuzzer target for the dataplane's front-ends (dataplane/native.c,
 * dataplane/kafka.c) and the connection layer under them (conn.c), driven
 * in-process as a net core drives them, with arbitrary bytes on a native
 * TCP connection, a Kafka TCP connection and native datagrams.
 *
 * What is real: a struct dp with the default configuration (a few limits
 * made small so that the fuzzer reaches them), its message pool, one
 * storage core (dp_store_create) stepped on the fuzzer's thread with its
 * real io_uring writer and real partition logs in a scratch directory, the
 * topic "fz" of FE_PARTITIONS partitions opened on it with DPC_OPEN, and a
 * struct dp_net with both front-ends registered.  What is fake: the clock
 * (it moves only when the input says so), control (answers admin requests
 * as the input's setup byte says) and the driver, a struct drv_ops written
 * here: conn_send hands the bytes to a client model and releases the
 * buffer at once, conn_close/pause/resume record the connection's state,
 * conn_unsent is 0, udp_send checks the reply against its datagram.
 *
 * The message pool is made with a 1-byte limit, so that every message
 * comes from the heap (msg.h: the counted fallback): AddressSanitizer then
 * sees each message and answer buffer as an allocation of its exact size,
 * and a use after free or an overflow of one is reported.  Each datagram
 * and each conn_data call gets a heap copy of exactly the bytes offered.
 *
 * Input (frontend_fuzz.h): a setup byte, then up to CHUNKS_MAX chunks, each
 *     u8 ctl | u16 len | len bytes
 * The setup byte says how control answers admin requests (not
 * synchronised, with a frame, with an error, or not until the input ends)
 * and the memory budget (64 MiB down to 2 KiB: the throttled paths).
 * ctl bits 0-1: the native TCP stream, the Kafka TCP stream, a datagram
 * through datagram(), or a datagram offered to datagram_keep() first (as a
 * DPDK mbuf is); bits 2-3: the fake clock moves 0, 1 ms, 600 ms or 6 s
 * first (long polls, acks timeouts, stalls); FE_HANGUP: the client closes
 * that connection right after (answers in flight find it gone);
 * FE_NO_STEP: nothing is stepped before the next chunk (requests pile up:
 * windows fill, connections pause, rings fill).  Otherwise, after each
 * chunk the storage core is stepped, the completion ring drained (each
 * message's done), control answers, Kafka's long polls run, and the
 * driver model resumes and closes connections, until nothing moves and no
 * write is in flight (bounded).  A TCP connection the dataplane closed is
 * opened again (a new id) by the next chunk for it.
 *
 * The TCP streams are framed by this file as the front-ends frame them,
 * and each request's correlation id is overwritten with the connection's
 * next number (1, 2, ...), so that the answers can be matched.
 *
 * Properties:
 *   1. no crash, assertion, leak or sanitizer report;
 *   2. conn_data consumes at most what it was offered, and whole frames
 *      (all of it only when it gives up on a broken stream);
 *   3. what a connection receives parses as a sequence of answers of its
 *      protocol (native: magic, version, a response opcode, a length of at
 *      least 16; Kafka: a size of at least 4), and their correlation ids
 *      increase strictly and name requests the client sent: answers come
 *      out in request order, none twice.  A native answer has its
 *      request's opcode.  (Nothing is checked after the dataplane closed
 *      the connection.)
 *   4. a datagram gets at most one reply, never longer than itself, only
 *      if it had a header, and the reply is a native answer with the
 *      datagram's correlation id and opcode and a length field equal to
 *      its size;
 *   5. a datagram buffer kept through datagram_keep is released exactly
 *      once;
 *   6. the connection layer calls the driver only for connections the
 *      driver has not reported gone (dp_conn_closed);
 *   7. whenever everything settled, a connection that is owed no answer
 *      is not paused and has nothing reserved (conn.h: it is read again),
 *      and the driver's pause state is the connection layer's;
 *   8. at the end of each input, with the connections closed, control's
 *      pending requests answered, the partitions that were written or hold
 *      waiting requests forgotten (DPC_FORGET: everything answered), wiped
 *      and opened again, and the rings drained: the pool has no message out
 *      (pool and heap), the memory budget is back to what the partition
 *      rings hold, and the completion and admin rings are empty.
 * The partitions start every input empty, so that an input replays the
 * same way (real I/O completing between two steps is the one source of
 * variation: the core is stepped until no write is in flight).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataplane/conn.h"
#include "dataplane/dp.h"
#include "dataplane/msg.h"
#include "dataplane/net.h"
#include "proto/native.h"
#include "proto/record_batch.h"
#include "fuzz_util.h"
#include "frontend_fuzz.h"

#define INPUT_MAX (1u << 20)
#define CHUNKS_MAX 64
#define STAMPS_MAX 4096      /* requests per connection whose opcode is kept */
#define SETTLE_ROUNDS 256
#define IO_WAITS_MAX 50      /* waits of 1 ms for writes in flight */
#define MS 1000000ull

/* ---- what the dataplane calls outside the files under test ---- */

void dp_log(const char *fmt, ...)
{
	(void)fmt;
}

const struct drv_ops *drv_find(const char *name)
{
	(void)name;
	return NULL;
}

const char *drv_names(void)
{
	return "";
}

/* ---- state ---- */

enum { P_NATIVE = 0, P_KAFKA = 1 };

/* The client end of one TCP connection, as the driver model sees it. */
struct hconn {
	int proto;
	uint32_t id;
	bool open;       /* known to the connection layer */
	bool closing;    /* the dataplane closed it (conn_close, or < 0) */
	bool paused, resumed, sent;
	/* bytes received, not consumed yet (the driver's assembly buffer) */
	uint8_t *tail;
	size_t tail_len;
	/* framing of the tail, for numbering requests: the frame at walk_off
	 * is the next to look at; stamped: its number is in */
	size_t walk_off;
	bool stamped, walk_dead;
	uint32_t next_stamp;
	uint8_t req_op[STAMPS_MAX];
	/* answers received: a header being assembled, then body bytes */
	uint8_t hdr[SN_HEADER_BYTES];
	size_t hdr_have;
	uint64_t skip;
	uint32_t last_corr;
};

struct dgram {
	uint32_t len;
	bool has_hdr;    /* 16 bytes with the native magic */
	uint32_t corr;
	uint8_t op;
	unsigned replies;
};

struct kept {
	uint8_t *buf;    /* NULL: released */
	bool out;
};

struct drv {
	uint64_t sends, closes, pauses, resumes, udp_sends;
};

static struct fixture {
	struct sl_clock clock;
	uint64_t mono_ns;
	int64_t wall_ms;
	struct dp dp;
	struct dp_net *net;
	struct dp_store_core *core;
	struct dp_topic topic;
	struct dp_partition parts[FE_PARTITIONS];
	struct drv drv;
	uint64_t ring_mem;      /* budget the partition rings hold */
	uint32_t gen;           /* connection ids: gen << 20 | slot */
	int control;            /* FE_CONTROL_* of this input */
	bool trace;             /* FRONTEND_FUZZ_TRACE=1: answers on stderr */
	struct hconn conns[2];
	struct dgram dgrams[CHUNKS_MAX];
	unsigned ndgrams;
	struct kept kept[CHUNKS_MAX];
	unsigned nkept;
} fx;

static uint64_t fake_mono_ns(void *ctx)
{
	(void)ctx;
	return fx.mono_ns;
}

static int64_t fake_wall_ms(void *ctx)
{
	(void)ctx;
	return fx.wall_ms;
}

static void clock_move(uint64_t ns)
{
	fx.mono_ns += ns;
	fx.wall_ms += (int64_t)(ns / MS);
}

/* ---- the client model: answers on a connection ---- */

static struct hconn *hconn_of(uint32_t id)
{
	for (int i = 0; i < 2; i++)
		if (fx.conns[i].open && fx.conns[i].id == id)
			return &fx.conns[i];
	return NULL;
}

/* One answer's header is in hc->hdr (property 3). */
static void answer_header(struct hconn *hc)
{
	const uint8_t *h = hc->hdr;
	uint32_t corr;
	if (hc->proto == P_NATIVE) {
		FUZZ_CHECK(rb_be16(h) == SN_MAGIC);
		FUZZ_CHECK(h[2] == SN_VERSION);
		FUZZ_CHECK(h[3] & SN_RESPONSE);
		uint32_t len = rb_be32(h + 4);
		FUZZ_CHECK(len >= SN_HEADER_BYTES);
		hc->skip = len - SN_HEADER_BYTES;
		corr = rb_be32(h + 8);
	} else {
		uint32_t size = rb_be32(h);
		FUZZ_CHECK(size >= 4);
		hc->skip = size - 4;
		corr = rb_be32(h + 4);
	}
	/* in request order, none twice, only to requests sent */
	FUZZ_CHECK(corr > hc->last_corr);
	FUZZ_CHECK(corr < hc->next_stamp);
	hc->last_corr = corr;
	if (fx.trace)
		fprintf(stderr, "%s answer %u: %llu bytes, opcode 0x%02x "
			"error %d\n", hc->proto == P_NATIVE ? "native" : "kafka",
			corr, (unsigned long long)hc->skip +
				(hc->proto == P_NATIVE ? SN_HEADER_BYTES : 8),
			hc->proto == P_NATIVE ? h[3] : 0,
			hc->proto == P_NATIVE ? (int16_t)rb_be16(h + 12) : 0);
	if (hc->proto == P_NATIVE && corr < STAMPS_MAX)
		FUZZ_CHECK(h[3] == (hc->req_op[corr] | SN_RESPONSE));
}

static void answer_bytes(struct hconn *hc, const uint8_t *p, size_t len)
{
	size_t need = hc->proto == P_NATIVE ? SN_HEADER_BYTES : 8;
	while (len) {
		if (hc->skip) {
			size_t take = hc->skip < len ? (size_t)hc->skip : len;
			hc->skip -= take;
			p += take;
			len -= take;
			continue;
		}
		size_t take = need - hc->hdr_have;
		if (take > len)
			take = len;
		memcpy(hc->hdr + hc->hdr_have, p, take);
		hc->hdr_have += take;
		p += take;
		len -= take;
		if (hc->hdr_have < need)
			break;
		hc->hdr_have = 0;
		answer_header(hc);
	}
}

/* ---- the fake driver ---- */

static int fd_udp_send(struct drv *d, const struct drv_peer *to,
		       const uint8_t *p, size_t len)
{
	d->udp_sends++;
	FUZZ_CHECK(to->ip >= 1 && to->ip <= fx.ndgrams);
	struct dgram *g = &fx.dgrams[to->ip - 1];
	/* property 4 */
	FUZZ_CHECK(++g->replies == 1);
	FUZZ_CHECK(g->has_hdr);
	FUZZ_CHECK(len <= g->len);
	FUZZ_CHECK(len >= SN_HEADER_BYTES);
	FUZZ_CHECK(rb_be16(p) == SN_MAGIC && p[2] == SN_VERSION);
	FUZZ_CHECK(p[3] == (g->op | SN_RESPONSE));
	FUZZ_CHECK(rb_be32(p + 4) == len);
	FUZZ_CHECK(rb_be32(p + 8) == g->corr);
	if (fx.trace)
		fprintf(stderr, "datagram %u reply: %zu of %u bytes, opcode "
			"0x%02x error %d\n", to->ip, len, g->len, p[3],
			(int16_t)rb_be16(p + 12));
	return 0;
}

static int fd_conn_send(struct drv *d, uint32_t id, struct drv_buf *b)
{
	struct hconn *hc = hconn_of(id);
	d->sends++;
	FUZZ_CHECK(hc); /* property 6 */
	FUZZ_CHECK(b->len > 0 && b->data);
	if (hc->closing) {
		b->release(b); /* as the socket driver: -ENOTCONN */
		return -ENOTCONN;
	}
	answer_bytes(hc, b->data, b->len);
	hc->sent = true;
	b->release(b); /* last: it may free b */
	return 0;
}

static void fd_conn_close(struct drv *d, uint32_t id, int hard)
{
	(void)hard;
	d->closes++;
	struct hconn *hc = hconn_of(id);
	FUZZ_CHECK(hc);
	hc->closing = true;
}

static void fd_conn_pause(struct drv *d, uint32_t id)
{
	d->pauses++;
	struct hconn *hc = hconn_of(id);
	FUZZ_CHECK(hc);
	hc->paused = true;
}

static void fd_conn_resume(struct drv *d, uint32_t id)
{
	d->resumes++;
	struct hconn *hc = hconn_of(id);
	FUZZ_CHECK(hc);
	hc->paused = false;
	hc->resumed = true;
}

static uint64_t fd_conn_unsent(const struct drv *d, uint32_t id)
{
	(void)d;
	FUZZ_CHECK(hconn_of(id));
	return 0; /* every send completes at once */
}

/* A kept datagram buffer comes back (property 5). */
static void fd_release(void *token)
{
	struct kept *k = token;
	FUZZ_CHECK(k >= fx.kept && k < fx.kept + fx.nkept);
	FUZZ_CHECK(k->out && k->buf);
	free(k->buf);
	k->buf = NULL;
	k->out = false;
}

static const struct drv_ops fake_ops = {
	.name = "fuzz",
	.udp_send = fd_udp_send,
	.conn_send = fd_conn_send,
	.conn_close = fd_conn_close,
	.conn_resume = fd_conn_resume,
	.conn_pause = fd_conn_pause,
	.conn_unsent = fd_conn_unsent,
	.release = fd_release,
};

/* ---- TCP: the driver's side of a connection ---- */

static void hconn_reset(struct hconn *hc)
{
	uint8_t *tail = hc->tail;
	int proto = hc->proto;
	memset(hc, 0, sizeof(*hc));
	hc->tail = tail;
	hc->proto = proto;
	hc->next_stamp = 1;
}

static void hconn_open(struct hconn *hc)
{
	hconn_reset(hc);
	fx.gen = (fx.gen + 1) & 0xfff;
	hc->id = fx.gen << 20 | (uint32_t)hc->proto;
	const struct dp_frontend *fe = hc->proto == P_NATIVE ? &dp_fe_native :
							       &dp_fe_kafka;
	FUZZ_CHECK(dp_conn_opened(fx.net, hc->id, fe) == 0);
	hc->open = true;
}

/* The driver tells the dataplane the connection is gone. */
static void hconn_gone(struct hconn *hc)
{
	dp_conn_closed(fx.net, hc->id);
	FUZZ_CHECK(dp_conn_of(fx.net, hc->id) == NULL);
	hconn_reset(hc);
}

/* The length of the frame at f (avail bytes there) as the front-end of
 * hc frames it: > 0, 0 when more bytes are needed, < 0 when the stream
 * is broken there (the rest is garbage, or the connection closes). */
static long frame_len(const struct hconn *hc, const uint8_t *f, size_t avail)
{
	size_t max_frame = fx.dp.cfg.tcp_max_frame;
	if (hc->proto == P_NATIVE) {
		struct sn_header h;
		return sn_header_parse(f, avail, max_frame, &h);
	}
	if (avail < 4)
		return 0;
	uint32_t size = rb_be32(f);
	if (size < 8 || size > max_frame)
		return -1;
	return 4 + (long)size;
}

/* Number the requests in the tail that have their first 12 bytes: the
 * correlation id (bytes 8..11 of a native frame, and of a Kafka frame
 * after its size) becomes the connection's next number. */
static void stamp(struct hconn *hc)
{
	/* bounded: each pass moves to the next frame */
	while (!hc->walk_dead) {
		uint8_t *f = hc->tail + hc->walk_off;
		size_t avail = hc->tail_len - hc->walk_off;
		if (!hc->stamped && avail >= 12) {
			uint32_t s = hc->next_stamp++;
			rb_put32(f + 8, s);
			if (s < STAMPS_MAX)
				hc->req_op[s] = f[3] & 0x7f;
			hc->stamped = true;
		}
		long fl = frame_len(hc, f, avail);
		if (fl < 0)
			hc->walk_dead = true;
		if (fl <= 0 || (size_t)fl > avail)
			return;
		hc->walk_off += (size_t)fl;
		hc->stamped = false;
	}
}

/* Does a frame of the tail end r bytes in? */
static bool frame_end(const struct hconn *hc, size_t r)
{
	size_t at = 0;
	/* bounded: every frame is at least 12 bytes */
	while (at < r && at < hc->walk_off)
		at += (size_t)frame_len(hc, hc->tail + at, hc->tail_len - at);
	return at == r;
}

/* Hand the tail to the front-end until it stops consuming, as the socket
 * driver's deliver() does. */
static void deliver(struct hconn *hc)
{
	for (unsigned n = 0; n < 4096 && hc->open && !hc->closing &&
	     hc->tail_len; n++) {
		struct dp_conn *c = dp_conn_of(fx.net, hc->id);
		FUZZ_CHECK(c);
		size_t len = hc->tail_len;
		uint8_t *copy = malloc(len);
		FUZZ_CHECK(copy);
		memcpy(copy, hc->tail, len);
		long r = c->fe->conn_data(fx.net, c, copy, len);
		free(copy);
		if (r < 0) {
			hc->closing = true; /* closed after what is queued */
			return;
		}
		if (r == 0)
			return;
		/* property 2 */
		FUZZ_CHECK((size_t)r <= len);
		FUZZ_CHECK(frame_end(hc, (size_t)r) ||
			   ((size_t)r == len && hc->walk_dead));
		memmove(hc->tail, hc->tail + r, len - (size_t)r);
		hc->tail_len -= (size_t)r;
		if ((size_t)r <= hc->walk_off) {
			hc->walk_off -= (size_t)r;
		} else {
			hc->walk_off = 0;
			hc->walk_dead = true;
		}
	}
}

static void tcp_chunk(struct hconn *hc, const uint8_t *p, size_t len)
{
	if (hc->open && hc->closing)
		hconn_gone(hc); /* the driver's report, before it reads on */
	if (!hc->open)
		hconn_open(hc);
	FUZZ_CHECK(hc->tail_len + len <= INPUT_MAX);
	memcpy(hc->tail + hc->tail_len, p, len);
	hc->tail_len += len;
	stamp(hc);
	deliver(hc);
}

/* The driver's cycle: connections resumed are read again, connections
 * closed are reported gone, sends completed are reported.  Returns the
 * work done. */
static int driver_work(void)
{
	int work = 0;
	for (int i = 0; i < 2; i++) {
		struct hconn *hc = &fx.conns[i];
		if (!hc->open)
			continue;
		if (hc->closing) {
			hconn_gone(hc);
			work++;
			continue;
		}
		if (hc->sent) {
			hc->sent = false;
			dp_conn_sent(fx.net, hc->id);
		}
		if (hc->resumed) {
			hc->resumed = false;
			deliver(hc);
			work++;
		}
	}
	return work;
}

/* ---- datagrams ---- */

static void datagram_chunk(const uint8_t *p, size_t len, bool keep)
{
	FUZZ_CHECK(fx.ndgrams < CHUNKS_MAX);
	struct dgram *g = &fx.dgrams[fx.ndgrams++];
	memset(g, 0, sizeof(*g));
	g->len = (uint32_t)len;
	g->has_hdr = len >= SN_HEADER_BYTES && rb_be16(p) == SN_MAGIC;
	if (g->has_hdr) {
		g->corr = rb_be32(p + 8);
		g->op = p[3] & 0x7f;
	}
	struct drv_peer peer = { .ip = fx.ndgrams, .port = 9 };
	uint8_t *buf = malloc(len ? len : 1);
	FUZZ_CHECK(buf);
	memcpy(buf, p, len);
	if (keep) {
		struct kept *k = &fx.kept[fx.nkept++];
		k->buf = buf;
		k->out = true;
		if (dp_fe_native.datagram_keep(fx.net, buf, len, &peer, k))
			return; /* released by the dataplane (fd_release) */
		k->buf = NULL;
		k->out = false;
	}
	dp_fe_native.datagram(fx.net, buf, len, &peer);
	free(buf);
}

/* ---- control: admin requests from the admin ring ---- */

/* control's answer to m: a native answer frame of the request's opcode,
 * or a Kafka response header with its correlation id and 4 bytes. */
static void control_answer(struct dp_msg *m)
{
	uint8_t buf[64];
	long len;
	FUZZ_CHECK(m->op == DP_ADMIN && m->req);
	if (m->rq.admin.protocol == DP_ADMIN_NATIVE) {
		FUZZ_CHECK(m->req_len >= SN_HEADER_BYTES);
		uint8_t op = m->req[3];
		len = op == SN_CREATE_TOPIC ?
			      sn_encode_create_topic_resp(buf, sizeof(buf), 0,
							  0, 7) :
			      sn_encode_error_resp(buf, sizeof(buf), op, 0, 0);
	} else {
		FUZZ_CHECK(m->rq.admin.protocol == DP_ADMIN_KAFKA);
		FUZZ_CHECK(m->req_len >= 8);
		memcpy(buf, m->req + 4, 4); /* the correlation id */
		memset(buf + 4, 0, 4);
		len = 8;
	}
	FUZZ_CHECK(len > 0);
	dp_admin_complete(&fx.dp, m, buf, (size_t)len, 0);
}

/* Answer what waits in the admin ring as this input's control does (all:
 * with an error, whatever the mode).  Returns the work done. */
static int control_work(bool all)
{
	if (!all && (fx.control == FE_CONTROL_ABSENT ||
		     fx.control == FE_CONTROL_SILENT))
		return 0;
	void *objs[DP_BURST];
	int work = 0;
	for (unsigned round = 0; round < 64; round++) {
		unsigned k = dp_ring_dequeue_burst(fx.dp.admin_ring, objs,
						   DP_BURST);
		for (unsigned i = 0; i < k; i++) {
			struct dp_msg *m = objs[i];
			if (!all && fx.control == FE_CONTROL_ANSWER)
				control_answer(m);
			else
				dp_admin_complete(&fx.dp, m, NULL, 0,
					     SN_ERR_UNKNOWN_SERVER_ERROR);
		}
		work += (int)k;
		if (k < DP_BURST)
			break;
	}
	return work;
}

/* ---- the net core's cycle, minus the driver ---- */

/* net.c drain_completions: each message's done, on this thread. */
static int drain(void)
{
	void *objs[DP_BURST];
	int work = 0;
	for (unsigned round = 0; round < 64; round++) {
		unsigned k = dp_ring_dequeue_burst(fx.net->completions, objs,
						   DP_BURST);
		for (unsigned i = 0; i < k; i++) {
			struct dp_msg *m = objs[i];
			FUZZ_CHECK(m->net == fx.net && m->done);
			m->done(fx.net, m);
		}
		work += (int)k;
		if (k < DP_BURST)
			break;
	}
	return work;
}

/* Writes in flight on a partition (acks waiting for them). */
static bool io_pending(void)
{
	for (int i = 0; i < FE_PARTITIONS; i++) {
		struct dp_partition *p = &fx.parts[i];
		if (p->log && (p->acks_head || p->w1_head ||
			       slog_durable_offset(p->log) <
				       slog_end_offset(p->log)))
			return true;
	}
	return false;
}

/* Flow control settled (property 7): a connection that is owed nothing
 * is read (not paused) and holds no reservation; the driver's view of
 * pausing is the connection layer's. */
static void check_flow(void)
{
	for (int i = 0; i < 2; i++) {
		struct hconn *hc = &fx.conns[i];
		if (!hc->open || hc->closing)
			continue;
		struct dp_conn *c = dp_conn_of(fx.net, hc->id);
		FUZZ_CHECK(c);
		FUZZ_CHECK(hc->paused == (c->paused != 0));
		if (c->next_seq == c->send_seq && !c->poisoned) {
			FUZZ_CHECK(!c->paused);
			FUZZ_CHECK(c->reserved == 0);
		}
	}
}

/* Step everything until nothing moves and no write is in flight. */
static void settle(void)
{
	unsigned io_waits = 0;
	for (unsigned round = 0; round < SETTLE_ROUNDS; round++) {
		int work = dp_store_step(fx.core);
		work += drain();
		work += control_work(false);
		work += dp_fe_kafka.do_work(fx.net);
		work += driver_work();
		if (work > 0)
			continue;
		if (!io_pending()) {
			check_flow();
			break;
		}
		if (io_waits++ >= IO_WAITS_MAX)
			break;
		swriter_wait(fx.core->w, 1000);
	}
}

/* ---- set-up and the end of an input ---- */

static int core_cmd(int op, struct dp_partition *p)
{
	struct dp_cmd cmd = { .op = op, .part = p };
	atomic_init(&cmd.done, 0);
	atomic_store(&fx.core->cmd, &cmd);
	dp_store_step(fx.core);
	FUZZ_CHECK(atomic_load(&cmd.done));
	return cmd.rc;
}

static void part_init(int i)
{
	struct dp_partition *p = &fx.parts[i];
	struct dp_ring *r = atomic_load(&p->ring);
	memset(p, 0, sizeof(*p));
	p->topic = &fx.topic;
	p->index = i;
	p->core = 0;
	atomic_init(&p->ring, r);
}

/* Does partition i hold anything an input left: data, or requests? */
static bool part_dirty(int i)
{
	struct dp_partition *p = &fx.parts[i];
	struct dp_ring *r = atomic_load(&p->ring);
	return !p->log || slog_end_offset(p->log) > 0 || p->parked ||
	       p->acks_head || p->w1_head || p->nstalled ||
	       (r && dp_ring_count(r));
}

/* Forget partition i (everything waiting is answered), wipe its
 * directory and open it again, empty. */
static void part_reset(int i)
{
	char dir[PATH_MAX];
	FUZZ_CHECK(core_cmd(DPC_FORGET, &fx.parts[i]) == 0);
	snprintf(dir, sizeof(dir), "%s/%s-%d", fx.dp.cfg.data_dir,
		 FE_TOPIC_NAME, i);
	fz_clear_dir(dir);
	part_init(i);
	FUZZ_CHECK(core_cmd(DPC_OPEN, &fx.parts[i]) == 0);
}

static void end_of_input(void)
{
	for (int i = 0; i < 2; i++)
		if (fx.conns[i].open)
			hconn_gone(&fx.conns[i]);
	for (unsigned round = 0; round < 8; round++) {
		control_work(true);
		for (int i = 0; i < FE_PARTITIONS; i++)
			if (part_dirty(i))
				part_reset(i);
		clock_move(MS); /* Kafka's long polls drop what is gone */
		int work = dp_store_step(fx.core);
		work += drain();
		work += dp_fe_kafka.do_work(fx.net);
		work += control_work(true);
		if (!work)
			break;
	}
	/* property 5 */
	for (unsigned i = 0; i < fx.nkept; i++)
		FUZZ_CHECK(!fx.kept[i].out);
	/* property 8 */
	struct dp_msgpool_stats st;
	dp_msgpool_stats(&fx.dp.msgpool, &st);
	uint64_t out = st.heap_in_use;
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++)
		out += st.cls[c].in_use;
	FUZZ_CHECK(out == 0);
	FUZZ_CHECK(atomic_load(&fx.dp.mem_used) == fx.ring_mem);
	FUZZ_CHECK(dp_ring_count(fx.net->completions) == 0);
	FUZZ_CHECK(dp_ring_count(fx.dp.admin_ring) == 0);
	if (fx.trace) {
		const struct dp_net_stats *ns = &fx.net->st;
		fprintf(stderr, "end: frames %llu produce %llu fetch %llu "
			"kafka %llu waits %llu forwarded %llu ring_full %llu "
			"budget %llu paused %llu; core appends %llu fetches "
			"%llu parked %llu\n",
			(unsigned long long)ns->frames,
			(unsigned long long)ns->produce,
			(unsigned long long)ns->fetch,
			(unsigned long long)ns->kafka_requests,
			(unsigned long long)ns->kafka_waits,
			(unsigned long long)ns->kafka_forwarded,
			(unsigned long long)ns->ring_full,
			(unsigned long long)ns->budget_exhausted,
			(unsigned long long)ns->conn_paused,
			(unsigned long long)fx.core->st.appends,
			(unsigned long long)fx.core->st.fetches,
			(unsigned long long)fx.core->st.parked);
		for (int i = 0; i < DP_BAD_COUNT; i++)
			if (ns->bad[i])
				fprintf(stderr, "  bad[%d] = %llu\n", i,
					(unsigned long long)ns->bad[i]);
	}
	fx.ndgrams = 0;
	fx.nkept = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct dp *dp = &fx.dp;
	const char *tr = getenv("FRONTEND_FUZZ_TRACE");
	fx.trace = tr && *tr && strcmp(tr, "0");
	fx.clock = (struct sl_clock){ fake_mono_ns, fake_wall_ms, NULL };
	fx.mono_ns = 1000 * MS;
	fx.wall_ms = 1700000000000ll;
	sl_config_defaults(&dp->cfg);
	snprintf(dp->cfg.data_dir, sizeof(dp->cfg.data_dir), "%s",
		 fz_tmpdir());
	/* limits small enough to reach */
	dp->cfg.max_connections = 64;
	dp->cfg.ring_slots = 16;
	dp->cfg.conn_max_unsent_bytes = 1u << 20;
	dp->cfg.tcp_max_frame = 1u << 20;
	dp->cfg.log_buffer_bytes = 4u << 20;
	dp->cfg.log_buffer_pool_bytes = 8u << 20;
	dp->clock = &fx.clock;
	dp->udp_port = 9093;
	dp->tcp_port = 9093;
	dp->kafka_port = 9092;
	atomic_init(&dp->mem_used, 0);
	dp->mem_limit = 64u << 20;
	/* a 1-byte pool: every block from the heap, seen by ASan */
	FUZZ_CHECK(dp_msgpool_create(&dp->msgpool, sizeof(struct dp_msg),
				     1) == 0);
	FUZZ_CHECK(dp_ring_create(16, &dp->admin_ring) == 0);
	dp->main_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	FUZZ_CHECK(dp->main_wake_fd >= 0);
	char run[PATH_MAX];
	snprintf(run, sizeof(run), "%s/run", dp->cfg.data_dir);
	FUZZ_CHECK(mkdir(run, 0700) == 0 || errno == EEXIST);
	FUZZ_CHECK(dp_producer_ids_init(dp) == 0);
	dp->nstore = 1;
	FUZZ_CHECK(dp_store_create(dp, 0) == 0);
	fx.core = dp->store[0];

	/* the net core: both front-ends, the fake driver */
	struct dp_net *n;
	FUZZ_CHECK(posix_memalign((void **)&n, 64, sizeof(*n)) == 0);
	memset(n, 0, sizeof(*n));
	n->dp = dp;
	n->drv_ops = &fake_ops;
	n->drv = &fx.drv;
	n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	FUZZ_CHECK(n->wake_fd >= 0);
	FUZZ_CHECK(dp_conns_init(n, dp->cfg.max_connections) == 0);
	FUZZ_CHECK(dp_ring_create(1u << 16, &n->completions) == 0);
	n->nlisteners = 2;
	n->listener_fe[0] = &dp_fe_native;
	n->listener_fe[1] = &dp_fe_kafka;
	n->udp_fe = &dp_fe_native;
	n->fe[0] = &dp_fe_native;
	n->fe[1] = &dp_fe_kafka;
	n->nfe = 2;
	FUZZ_CHECK(dp_fe_kafka.init(n, &n->fe_priv[1]) == 0);
	dp->net[0] = n;
	dp->nnet = 1;
	fx.net = n;

	/* the topic, its partitions opened on the core, their rings made */
	fx.topic.id = FE_TOPIC_ID;
	snprintf(fx.topic.name, sizeof(fx.topic.name), "%s", FE_TOPIC_NAME);
	fx.topic.partitions = FE_PARTITIONS;
	fx.topic.durability = 0; /* every append fdatasynced */
	fx.topic.retention_ms = -1;
	fx.topic.retention_bytes = 256 << 10;
	fx.topic.segment_bytes = 64 << 10;
	fx.topic.parts = fx.parts;
	atomic_init(&fx.topic.live, 1);
	for (int i = 0; i < FE_PARTITIONS; i++) {
		part_init(i);
		FUZZ_CHECK(core_cmd(DPC_OPEN, &fx.parts[i]) == 0);
		FUZZ_CHECK(dp_part_ring(dp, &fx.parts[i]) != NULL);
	}
	atomic_store(&dp->topics[0], &fx.topic);
	fx.ring_mem = atomic_load(&dp->mem_used);

	for (int i = 0; i < 2; i++) {
		fx.conns[i].proto = i;
		fx.conns[i].tail = malloc(INPUT_MAX);
		FUZZ_CHECK(fx.conns[i].tail);
		hconn_reset(&fx.conns[i]);
	}
	return 0;
}

static const uint64_t budgets[4] = { 64u << 20, 64u << 10, 8u << 10,
				     2u << 10 };
static const uint64_t clock_steps[4] = { 0, MS, 600 * MS, 6000 * MS };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > INPUT_MAX)
		return 0;
	struct fz_reader r;
	fz_init(&r, data, size);
	uint8_t setup = fz_u8(&r);
	fx.control = setup & 3;
	/* release: as the main thread's store after SYNC_DONE */
	atomic_store(&fx.dp.control_synced, fx.control != FE_CONTROL_ABSENT);
	fx.dp.mem_limit = fx.ring_mem + budgets[(setup >> 2) & 3];
	for (unsigned k = 0; k < CHUNKS_MAX && fz_left(&r) > 0; k++) {
		uint8_t ctl = fz_u8(&r);
		size_t len;
		const uint8_t *p = fz_bytes(&r, fz_u16(&r), &len);
		clock_move(clock_steps[(ctl >> 2) & 3]);
		int to = ctl & 3;
		if (to == FE_TO_NATIVE || to == FE_TO_KAFKA) {
			struct hconn *hc = &fx.conns[to];
			tcp_chunk(hc, p, len);
			if ((ctl & FE_HANGUP) && hc->open)
				hconn_gone(hc);
		} else {
			datagram_chunk(p, len, to == FE_TO_DATAGRAM_KEEP);
		}
		if (!(ctl & FE_NO_STEP))
			settle();
	}
	end_of_input();
	return 0;
}
