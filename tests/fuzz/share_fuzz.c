/*
 * libFuzzer target for the share groups (control/share.c, with sharep.c
 * and the state file of sstore.c): the input is a program of requests of
 * the four share-group APIs (well-formed ones built from the program's
 * choices: members, epochs, sessions, partitions of two topics and of
 * none, acknowledgement batches of any range and types; and raw bytes as
 * any of the APIs at any version; the groups' config) and of the native
 * protocol's queue operations (sl_share_native: QUEUE_RECEIVE and
 * QUEUE_ACK built from a few 16-byte member ids, the same groups, topics
 * known, unknown and invalid, any max messages and wait, entries of
 * types 0..5 around the first offsets, delays; and raw frames of opcode
 * 0x09/0x0A, whole, cut, or well-formed ones with bytes overwritten),
 * with time moving between them, the module restarting from its state
 * file, and bytes appended to that file before a restart (a torn or
 * hostile tail).  One Kafka member's id is a native member's name
 * ("sl-" and the hex of its 16 bytes), so both protocols meet in one
 * member.  No log is readable (the Kafka port refuses), so the share
 * partitions stay empty: what is fuzzed is everything around them.
 *
 * Program: steps of an opcode byte and its operands (zeros past the end).
 *
 * Properties, checked on every step:
 *   1. sl_share_request returns 0 or -EINVAL; a request it took (0) is
 *      answered exactly once, at once or by the next duty cycle (answers
 *      may wait for the turn's one write of the state file), a ShareFetch
 *      that waits later, and never one it refused; a restart after a
 *      duty cycle drops only waiting fetches and receives, a crash (the
 *      hostile tail's restart) anything not answered yet;
 *   2. every answer decodes whole as its API's response at its version,
 *      carries its correlation id and is not withheld (the state file is
 *      on tmpfs: writing it never fails);
 *   3. every error code in it is a Kafka error code (-1..133);
 *   4. a restart reads back whatever the file holds, a hostile tail
 *      included, without failing;
 *   5. a DescribeConfigs or IncrementalAlterConfigs of groups is answered
 *      (by the next duty cycle; it decodes, its error codes Kafka's), one
 *      of a topic is left to the admin module (-ENOENT, never answered);
 *   6. sl_share_native takes (0) every frame of 16 bytes or more whose
 *      opcode is 0x09 or 0x0A and refuses (-EINVAL) every other, never
 *      answering a refused one; a taken one is answered exactly once
 *      through native_reply (a Kafka request only through reply): at
 *      once or by the next duty cycle, or, a QUEUE_RECEIVE that waits,
 *      by the first duty cycle at or past its max wait (or earlier: a
 *      later receive of its member, its member leaving);
 *   7. a native answer is one whole frame of the request's response
 *      opcode with its correlation id; its header's error is the one the
 *      request calls for (the protocol decoder's for a malformed frame,
 *      UNKNOWN_TOPIC_OR_PARTITION for a topic not known, else none), and
 *      with an error it is the opcode's fixed-size frame, its body zero;
 *   8. without one, a QUEUE_RECEIVE answer decodes (sn_decode_qrecv_resp)
 *      with the topic's id, the configured lock and partitions of the
 *      topic, and a QUEUE_ACK answer (sn_decode_queue_ack_resp) has one
 *      error per entry: INVALID_REQUEST for a type outside 1..4, else a
 *      Kafka error code other than 0;
 *   9. no offset is handed to two members at once: as nothing is
 *      readable, nothing is handed out to anyone (no acquired records in
 *      a ShareFetch answer, no ranges or records in a QUEUE_RECEIVE one,
 *      and so no acknowledgement of either protocol's succeeds).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/share.h"
#include "fuzz_util.h"
#include "proto/kafka/kcodec.h"
#include "proto/native.h"
#include "proto/topic_uuid.h"
#include "storage/disk.h"
#include "storage/log.h"

#define STEPS_MAX 200
#define PENDING_MAX 64
#define LOCK_MS 1000
#define ACK_ENTRIES_MAX 32 /* of a QUEUE_ACK frame here (1 KiB at most) */

static struct sl_share *S;
static char dir[PATH_MAX];
static int64_t now, wall;
static uint64_t seq;
static _Alignas(8) uint8_t arena_mem[1 << 21];

/* requests taken and not answered yet: a Kafka request's token, key and
 * version, or a native one's token and opcode with what its answer must
 * say */
struct pend {
	uint64_t token;
	int16_t key, ver;
	uint8_t op;          /* 0: Kafka; SN_QUEUE_RECEIVE or SN_QUEUE_ACK */
	int16_t err;         /* native: the answer header's error */
	uint32_t topic_id;   /* native, err 0: the topic's */
	int32_t parts;       /* and its partition count */
	int64_t deadline;    /* a QUEUE_RECEIVE that may wait: answered by
				the first duty cycle at or past it; else 0 */
	uint32_t count;      /* a QUEUE_ACK's entries, and their types */
	uint8_t types[ACK_ENTRIES_MAX];
};
static struct pend pending[PENDING_MAX];
static int npending;

static const char *const groups_[] = { "g", "h", "" };
/* the last is native_ids[0]'s member: both protocols in one member */
static const char *const members[] = { "m1", "m2", "m3", "",
				       "sl-00000000000000000000000000000001" };
/* native consumers (the last is all zero: refused) */
static const uint8_t native_ids[4][SN_MEMBER_BYTES] = {
	{ [15] = 0x01 },
	{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	{ 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	  0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10 },
	{ 0 },
};
/* known (2 and 1 partitions), unknown, not a topic name */
static const char *const native_topics[] = { "t", "u", "x", ".." };

static int64_t fz_wall(void *ctx)
{
	(void)ctx;
	return wall;
}

static uint64_t fz_mono(void *ctx)
{
	(void)ctx;
	return (uint64_t)now * 1000000;
}

static const struct sl_clock clk = { fz_mono, fz_wall, NULL };

static bool topic_by_name(void *ctx, const char *name, size_t len,
			  uint32_t *id, int32_t *partitions)
{
	(void)ctx;
	if (len == 1 && name[0] == 't') {
		*id = 1;
		*partitions = 2;
		return true;
	}
	if (len == 1 && name[0] == 'u') {
		*id = 2;
		*partitions = 1;
		return true;
	}
	return false;
}

static bool topic_by_id(void *ctx, uint32_t id, const char **name,
			size_t *len, int32_t *partitions)
{
	(void)ctx;
	if (id == 1 || id == 2) {
		*name = id == 1 ? "t" : "u";
		*len = 1;
		*partitions = id == 1 ? 2 : 1;
		return true;
	}
	return false;
}

static void check_errors(int16_t key, const void *u)
{
	switch (key) {
	case KC_API_SHARE_GROUP_HEARTBEAT: {
		const struct kc_share_group_heartbeat_resp *r = u;
		FUZZ_CHECK(r->error_code >= -1 && r->error_code <= 133);
		break;
	}
	case KC_API_SHARE_GROUP_DESCRIBE: {
		const struct kc_share_group_describe_resp *r = u;
		const struct kc_share_group_describe_resp_described_group *g =
			r->groups.items;
		for (int32_t i = 0; i < r->groups.count; i++)
			FUZZ_CHECK(g[i].error_code >= -1 &&
				   g[i].error_code <= 133);
		break;
	}
	case KC_API_SHARE_FETCH: {
		const struct kc_share_fetch_resp *r = u;
		FUZZ_CHECK(r->error_code >= -1 && r->error_code <= 133);
		const struct kc_share_fetch_resp_able_topic_response *t =
			r->responses.items;
		for (int32_t i = 0; i < r->responses.count; i++) {
			const struct kc_share_fetch_resp_partition_data *p =
				t[i].partitions.items;
			for (int32_t k = 0; k < t[i].partitions.count; k++) {
				FUZZ_CHECK(p[k].error_code >= -1 &&
					   p[k].error_code <= 133);
				FUZZ_CHECK(p[k].acknowledge_error_code >= -1 &&
					   p[k].acknowledge_error_code <= 133);
				/* nothing is readable: nothing handed out */
				FUZZ_CHECK(p[k].acquired_records.count <= 0);
			}
		}
		break;
	}
	case KC_API_SHARE_ACKNOWLEDGE: {
		const struct kc_share_acknowledge_resp *r = u;
		FUZZ_CHECK(r->error_code >= -1 && r->error_code <= 133);
		break;
	}
	case KC_API_INCREMENTAL_ALTER_CONFIGS: {
		const struct kc_incremental_alter_configs_resp *r = u;
		const struct
		kc_incremental_alter_configs_resp_alter_configs_resource_response
			*o = r->responses.items;
		for (int32_t i = 0; i < r->responses.count; i++)
			FUZZ_CHECK(o[i].error_code >= -1 &&
				   o[i].error_code <= 133);
		break;
	}
	}
}

static void on_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len)
{
	(void)ctx;
	int i = 0;
	while (i < npending && pending[i].token != token)
		i++;
	FUZZ_CHECK(i < npending); /* taken, and not answered before */
	FUZZ_CHECK(pending[i].op == 0); /* a Kafka request */
	FUZZ_CHECK(len > 0);      /* never withheld */
	struct kc_arena a = { arena_mem, sizeof(arena_mem), 0 };
	struct kc_response_header h;
	union kc_response u;
	long n = kc_decode_response(pending[i].key, pending[i].ver, resp, len,
				    &h, &u, &a);
	FUZZ_CHECK(n == (long)len);
	FUZZ_CHECK(h.correlation_id == (int32_t)(token & 0x7fffffff));
	check_errors(pending[i].key, u.raw);
	pending[i] = pending[--npending];
}

static bool kafka_code(int16_t e)
{
	return e >= -1 && e <= 133;
}

static void check_receive(const struct pend *p, const uint8_t *resp,
			  size_t len)
{
	struct sn_qrecv_resp r;
	FUZZ_CHECK(sn_decode_qrecv_resp(resp, len, &r) == 0);
	FUZZ_CHECK(r.topic_id == p->topic_id);
	FUZZ_CHECK(r.lock_ms == LOCK_MS);
	FUZZ_CHECK(r.npartitions <= p->parts);
	size_t pos = 0;
	struct sn_qrecv_part q;
	while (sn_qrecv_next(&r, &pos, &q) == 1) {
		FUZZ_CHECK(q.partition >= 0 && q.partition < p->parts);
		FUZZ_CHECK(kafka_code(q.error));
		/* nothing is readable: nothing handed out */
		FUZZ_CHECK(q.nranges == 0 && q.records_len == 0);
	}
}

static void check_ack(const struct pend *p, const uint8_t *resp, size_t len)
{
	uint32_t count;
	const uint8_t *errs;
	FUZZ_CHECK(sn_decode_queue_ack_resp(resp, len, &count, &errs) == 0);
	FUZZ_CHECK(count == p->count); /* one error per entry */
	for (uint32_t i = 0; i < count; i++) {
		int16_t err = (int16_t)(errs[4 * i] << 8 | errs[4 * i + 1]);
		FUZZ_CHECK(errs[4 * i + 2] == 0 && errs[4 * i + 3] == 0);
		if (p->types[i] < SN_ACK_ACCEPT || p->types[i] > SN_ACK_EXTEND)
			FUZZ_CHECK(err == SN_ERR_INVALID_REQUEST);
		/* nothing was handed out: nothing is the member's */
		FUZZ_CHECK(err != 0 && kafka_code(err));
	}
}

static void on_native_reply(void *ctx, uint64_t token, const uint8_t *resp,
			    size_t len)
{
	(void)ctx;
	int i = 0;
	while (i < npending && pending[i].token != token)
		i++;
	FUZZ_CHECK(i < npending); /* taken, and not answered before */
	const struct pend *p = &pending[i];
	FUZZ_CHECK(p->op == SN_QUEUE_RECEIVE || p->op == SN_QUEUE_ACK);
	struct sn_header h;
	FUZZ_CHECK(sn_header_parse(resp, len, SN_TCP_MAX_FRAME, &h) ==
		   (long)len);
	FUZZ_CHECK(h.opcode == (p->op | SN_RESPONSE));
	FUZZ_CHECK(h.corr == (uint32_t)token);
	FUZZ_CHECK(h.flags == 0);
	/* the error called for (a group or member table full: possible
	 * only with raw frames' names, far from it here) */
	FUZZ_CHECK(h.error == p->err ||
		   (p->err == 0 && p->op == SN_QUEUE_RECEIVE &&
		    h.error == SN_ERR_GROUP_MAX_SIZE_REACHED));
	if (h.error) {
		/* the fixed-size error frame */
		FUZZ_CHECK(len == (p->op == SN_QUEUE_RECEIVE ?
				   SN_QRECV_RESP_BYTES : SN_QACK_RESP_BYTES));
		for (size_t k = SN_HEADER_BYTES; k < len; k++)
			FUZZ_CHECK(resp[k] == 0);
	} else if (p->op == SN_QUEUE_RECEIVE) {
		check_receive(p, resp, len);
	} else {
		check_ack(p, resp, len);
	}
	pending[i] = pending[--npending];
}

static void open_share(void)
{
	char err[512];
	struct sl_share_config c = {
		.disk = &sdisk_posix, .clock = &clk, .dir = dir,
		.kafka_port = 1, /* refuses: no log is readable */
		.sp = { .window_max = 16, .lock_ms = LOCK_MS,
			.max_deliveries = 3, .starve_ms = 5000 },
		.heartbeat_interval_ms = 1000, .session_timeout_ms = 3000,
		.topic = topic_by_name, .topic_id = topic_by_id,
		.reply = on_reply, .native_reply = on_native_reply };
	FUZZ_CHECK(sl_share_create(&c, now, &S, err, sizeof(err)) == 0);
}

/* After a duty cycle: what is still unanswered is a ShareFetch or a
 * QUEUE_RECEIVE that waits (a receive not past its max wait). */
static void check_late(void)
{
	for (int i = 0; i < npending; i++) {
		const struct pend *p = &pending[i];
		FUZZ_CHECK(p->op ? p->op == SN_QUEUE_RECEIVE &&
					   p->deadline > now :
				   p->key == KC_API_SHARE_FETCH);
	}
}

/* A restart: after a duty cycle (as the event loop's turns end), or
 * without one (a crash) */
static void close_share(bool graceful)
{
	if (graceful) {
		sl_share_do_work(S, now);
		check_late();
	}
	sl_share_destroy(S);
	S = NULL;
	npending = 0; /* dropped unanswered, as the contract says */
}

static void send_raw(int16_t key, int16_t ver, const uint8_t *buf, size_t n)
{
	if (npending == PENDING_MAX)
		return;
	pending[npending++] = (struct pend){ .token = seq, .key = key,
					     .ver = ver };
	int rc = sl_share_request(S, seq, buf, n, now);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	int i = 0;
	while (i < npending && pending[i].token != seq)
		i++;
	if (rc) {
		/* refused: never answered */
		FUZZ_CHECK(i < npending);
		pending[i] = pending[--npending];
	}
	/* else answered, or to be by the next duty cycle (check_late) */
}

static void send_body(int16_t key, int16_t ver, const void *body)
{
	static uint8_t buf[1 << 15];
	seq++;
	struct kc_request_header h = { key, ver, (int32_t)(seq & 0x7fffffff),
				       { "fz", 2 } };
	long n = kc_encode_request(&h, (const void *)body, buf, sizeof(buf));
	if (n <= 0)
		return; /* a value this version cannot carry */
	send_raw(key, ver, buf, (size_t)n);
}

static struct kc_str str(const char *s)
{
	return (struct kc_str){ s, (int32_t)strlen(s) };
}

/* Acknowledgement batches from the program (both APIs' batches have the
 * same layout). */
static struct kc_array acks(struct fz_reader *r,
			    struct kc_share_fetch_req_acknowledgement_batch *b,
			    int8_t types[4][8])
{
	int n = fz_u8(r) % 4;
	for (int i = 0; i < n; i++) {
		int64_t first = (int64_t)(fz_u16(r) % 64) - 2;
		int64_t last = first + (int64_t)(fz_u8(r) % 10) - 1;
		int nt = fz_u8(r) % 9;
		for (int k = 0; k < nt; k++)
			types[i][k] = (int8_t)((int)(fz_u8(r) % 7) - 1);
		b[i] = (struct kc_share_fetch_req_acknowledgement_batch){
			first, last, { types[i], nt } };
	}
	return (struct kc_array){ b, n };
}

static void uuid_of(struct fz_reader *r, struct kc_uuid *u)
{
	uint32_t id = fz_u8(r) % 4; /* 1, 2, or none */
	sl_topic_uuid(id, u->b);
	if (fz_u8(r) == 0xff)
		memset(u->b, 0xee, 16); /* not even one of ours */
}

static int32_t epoch_of(struct fz_reader *r)
{
	uint8_t c = fz_u8(r);
	return c < 200 ? (int32_t)(c % 6) - 1 : (int32_t)fz_u32(r);
}

/* What a native frame's answer must say: the protocol decoder's error
 * for a malformed frame, UNKNOWN_TOPIC_OR_PARTITION for a topic not
 * known, else none (and a receive with a wait may wait). */
static void expect_native(const uint8_t *f, size_t n, struct pend *p)
{
	uint32_t id;
	int32_t parts;
	if (f[3] == SN_QUEUE_RECEIVE) {
		struct sn_queue_receive q;
		int rc = sn_decode_queue_receive(f, n, &q);
		if (rc) {
			p->err = (int16_t)-rc;
		} else if (!topic_by_name(NULL, q.topic, q.topic_len, &id,
					  &parts)) {
			p->err = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		} else {
			p->topic_id = id;
			p->parts = parts;
			if (q.max_wait_ms)
				p->deadline = now + (q.max_wait_ms < INT32_MAX ?
						     q.max_wait_ms : INT32_MAX);
		}
	} else {
		struct sn_queue_ack q;
		int rc = sn_decode_queue_ack(f, n, &q);
		if (rc) {
			p->err = (int16_t)-rc;
			return;
		}
		if (!topic_by_name(NULL, q.topic, q.topic_len, &id, &parts))
			p->err = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		FUZZ_CHECK(q.count <= ACK_ENTRIES_MAX);
		p->count = q.count;
		for (uint32_t i = 0; i < q.count; i++) {
			struct sn_qack_entry e;
			sn_qack_get(&q, i, &e);
			p->types[i] = e.type;
		}
	}
}

/* One native frame (any bytes): taken when it is 16 bytes or more with
 * a queue opcode, then answered exactly once (checked by
 * on_native_reply and after each duty cycle). */
static void send_native(const uint8_t *buf, size_t n)
{
	if (npending == PENDING_MAX)
		return;
	bool serves = n >= SN_HEADER_BYTES && (buf[3] == SN_QUEUE_RECEIVE ||
					       buf[3] == SN_QUEUE_ACK);
	struct pend p = { .token = seq, .key = -1, .ver = -1,
			  .op = serves ? buf[3] : 0xff };
	if (serves)
		expect_native(buf, n, &p);
	pending[npending++] = p;
	int rc = sl_share_native(S, seq, buf, n, now);
	FUZZ_CHECK(rc == (serves ? 0 : -EINVAL));
	int i = 0;
	while (i < npending && pending[i].token != seq)
		i++;
	if (rc) {
		/* refused: never answered */
		FUZZ_CHECK(i < npending);
		pending[i] = pending[--npending];
	}
	/* else answered, or to be by the next duty cycle (check_late) */
}

/* A QUEUE_RECEIVE from the program's choices; its length. */
static size_t build_receive(struct fz_reader *r, const char *g, uint8_t *buf,
			    size_t cap)
{
	struct sn_queue_receive q;
	memcpy(q.member, native_ids[fz_u8(r) % 4], SN_MEMBER_BYTES);
	uint8_t c = fz_u8(r);
	q.max_messages = c == 0xff ? fz_u32(r) : c == 0xfe ? SN_QRECV_MAX :
			 c == 0xfd ? SN_QRECV_MAX + 1 : c % 16; /* 0: refused */
	uint8_t w = fz_u8(r);
	q.max_wait_ms = w % 4 == 0 ? 0 : w % 4 == 1 ? 100 :
			w % 4 == 2 ? 5000 : fz_u32(r);
	const char *t = native_topics[fz_u8(r) % 4];
	q.group = g;
	q.group_len = (uint16_t)strlen(g);
	q.topic = t;
	q.topic_len = (uint16_t)strlen(t);
	seq++;
	long n = sn_encode_queue_receive(buf, cap, (uint32_t)seq, &q);
	FUZZ_CHECK(n > 0);
	return (size_t)n;
}

/* A QUEUE_ACK from the program's choices: up to 8 entries (0: refused)
 * of partitions -1..2, offsets around the first ones (a range out of
 * order, a wide one now and then), types 0..5, delays; its length. */
static size_t build_ack(struct fz_reader *r, const char *g, uint8_t *buf,
			size_t cap)
{
	struct sn_queue_ack q;
	struct sn_qack_entry e[8];
	memcpy(q.member, native_ids[fz_u8(r) % 4], SN_MEMBER_BYTES);
	q.count = fz_u8(r) % 9;
	for (uint32_t i = 0; i < q.count; i++) {
		e[i].partition = (int32_t)(fz_u8(r) % 4) - 1;
		e[i].first = (int64_t)(fz_u16(r) % 64) - 2;
		uint8_t k = fz_u8(r);
		e[i].last = k == 0xff ? e[i].first + (int64_t)fz_u32(r) :
			    e[i].first + (int64_t)(k % 10) - 1;
		e[i].type = fz_u8(r) % 6;
		uint8_t d = fz_u8(r) % 4;
		e[i].delay_ms = d == 0 ? 0 : d == 1 ? 1000 :
				d == 2 ? 60000 : fz_u32(r);
	}
	const char *t = native_topics[fz_u8(r) % 4];
	q.group = g;
	q.group_len = (uint16_t)strlen(g);
	q.topic = t;
	q.topic_len = (uint16_t)strlen(t);
	seq++;
	long n = sn_encode_queue_ack(buf, cap, (uint32_t)seq, &q, e);
	FUZZ_CHECK(n > 0);
	return (size_t)n;
}

/* Raw native bytes: a header of opcode 0x09/0x0A and its length over
 * bytes of the program, a header of any bytes (any opcode, length,
 * version; frames shorter than a header), or a well-formed frame with a
 * few bytes overwritten. */
static void send_native_raw(struct fz_reader *r, const char *g)
{
	static uint8_t buf[1024];
	uint8_t mode = fz_u8(r) % 3;
	size_t n, got;
	seq++;
	if (mode == 0) {
		const uint8_t *p = fz_bytes(r, fz_u8(r), &got);
		n = SN_HEADER_BYTES + got;
		sn_header_put(buf, fz_u8(r) & 1 ? SN_QUEUE_ACK :
						  SN_QUEUE_RECEIVE,
			      (uint32_t)n, (uint32_t)seq, 0);
		memcpy(buf + SN_HEADER_BYTES, p, got);
	} else if (mode == 1) {
		const uint8_t *p = fz_bytes(r, fz_u8(r), &got);
		memcpy(buf, p, got);
		n = got;
	} else {
		n = fz_u8(r) & 1 ? build_ack(r, g, buf, sizeof(buf)) :
				   build_receive(r, g, buf, sizeof(buf));
		int k = fz_u8(r) % 5;
		for (int i = 0; i < k; i++)
			buf[fz_u8(r) % n] = fz_u8(r);
		if (fz_u8(r) == 0xff)
			n -= fz_u8(r) % n; /* cut */
	}
	send_native(buf, n);
}

static void step(struct fz_reader *r)
{
	uint8_t op = fz_u8(r) % 13;
	const char *g = groups_[fz_u8(r) % 3];
	const char *m = members[fz_u8(r) % 5];
	int16_t ver = (int16_t)(fz_u8(r) % 3);
	switch (op) {
	case 0: {
		struct kc_str names[3] = { str("t"), str("u"), str("x") };
		int nn = fz_u8(r) % 5;
		struct kc_share_group_heartbeat_req q = {
			str(g), str(m), epoch_of(r), { NULL, -1 },
			nn == 4 ? (struct kc_array){ NULL, -1 } :
				  (struct kc_array){ names, nn } };
		send_body(KC_API_SHARE_GROUP_HEARTBEAT, 1, &q);
		break;
	}
	case 1:
	case 2: {
		struct kc_share_fetch_req_acknowledgement_batch b[3][4];
		int8_t types[3][4][8];
		struct kc_share_fetch_req_fetch_partition fp[3];
		int np = fz_u8(r) % 4;
		for (int i = 0; i < np; i++)
			fp[i] = (struct kc_share_fetch_req_fetch_partition){
				(int32_t)(fz_u8(r) % 4) - 1, 0,
				acks(r, b[i], types[i]) };
		struct kc_share_fetch_req_fetch_topic t;
		uuid_of(r, &t.topic_id);
		t.partitions = (struct kc_array){ fp, np };
		struct kc_share_fetch_req_forgotten_topic ft;
		int32_t fparts[2] = { 0, 1 };
		uuid_of(r, &ft.topic_id);
		ft.partitions = (struct kc_array){ fparts, fz_u8(r) % 3 };
		struct kc_share_fetch_req q = {
			str(g), str(m), epoch_of(r),
			(int32_t)(fz_u8(r) % 3) * 200, 1, 1 << 20,
			(int32_t)(fz_u8(r) % 5) - 1, 10, 0,
			(bool)(fz_u8(r) & 1),
			{ &t, np ? 1 : (fz_u8(r) & 1) },
			{ &ft, fz_u8(r) % 2 } };
		send_body(KC_API_SHARE_FETCH, (int16_t)(1 + (ver & 1)), &q);
		break;
	}
	case 3: {
		struct kc_share_fetch_req_acknowledgement_batch b[2][4];
		int8_t types[2][4][8];
		struct kc_share_acknowledge_req_acknowledge_partition ap[2];
		int np = fz_u8(r) % 3;
		for (int i = 0; i < np; i++) {
			struct kc_array a = acks(r, b[i], types[i]);
			ap[i] = (struct kc_share_acknowledge_req_acknowledge_partition){
				(int32_t)(fz_u8(r) % 3), a };
		}
		struct kc_share_acknowledge_req_acknowledge_topic t;
		uuid_of(r, &t.topic_id);
		t.partitions = (struct kc_array){ ap, np };
		struct kc_share_acknowledge_req q = {
			str(g), str(m), epoch_of(r), (bool)(fz_u8(r) & 1),
			{ &t, np ? 1 : 0 } };
		send_body(KC_API_SHARE_ACKNOWLEDGE, (int16_t)(1 + (ver & 1)),
			  &q);
		break;
	}
	case 4: {
		struct kc_str ids[3] = { str("g"), str("h"), str("") };
		struct kc_share_group_describe_req q = {
			{ ids, fz_u8(r) % 4 }, false };
		send_body(KC_API_SHARE_GROUP_DESCRIBE, 1, &q);
		break;
	}
	case 5: {
		/* raw bytes as any of the four, at any version */
		static uint8_t buf[512];
		int16_t key = (int16_t)(76 + fz_u8(r) % 4);
		int16_t v = (int16_t)(fz_u8(r) % 4);
		size_t got;
		const uint8_t *p = fz_bytes(r, fz_u8(r), &got);
		seq++;
		int32_t corr = (int32_t)(seq & 0x7fffffff);
		uint8_t head[12] = { (uint8_t)(key >> 8), (uint8_t)key,
				     (uint8_t)(v >> 8), (uint8_t)v,
				     (uint8_t)(corr >> 24),
				     (uint8_t)(corr >> 16),
				     (uint8_t)(corr >> 8), (uint8_t)corr,
				     0, 2, 'f', 'z' };
		memcpy(buf, head, sizeof(head));
		memcpy(buf + sizeof(head), p, got);
		send_raw(key, v, buf, sizeof(head) + got);
		break;
	}
	case 6: {
		int64_t d = fz_u16(r);
		now += d;
		wall += d;
		sl_share_do_work(S, now);
		check_late();
		break;
	}
	case 7:
		close_share(true);
		open_share();
		break;
	case 9: {
		/* the groups' config: IncrementalAlterConfigs or
		 * DescribeConfigs of groups (and of a topic: not ours) */
		static uint8_t buf[1024];
		bool alter = fz_u8(r) & 1;
		int8_t type = fz_u8(r) == 7 ? 2 : 32;
		const char *vals[4] = { "latest", "earliest", "by_duration:PT1H",
					"" };
		struct kc_incremental_alter_configs_req_alterable_config c = {
			str(fz_u8(r) & 3 ? "share.auto.offset.reset" : "x"),
			(int8_t)(fz_u8(r) % 4), str(vals[fz_u8(r) % 4]) };
		struct kc_incremental_alter_configs_req_alter_configs_resource
			ar = { type, str(g), { &c, fz_u8(r) % 2 } };
		struct kc_incremental_alter_configs_req aq = { { &ar, 1 },
							       (bool)(fz_u8(r) &
								      1) };
		struct kc_describe_configs_resource dr = { type, str(g),
							   { NULL, -1 } };
		struct kc_describe_configs_req dq = { { &dr, 1 }, true, true };
		int16_t key = alter ? KC_API_INCREMENTAL_ALTER_CONFIGS :
				      KC_API_DESCRIBE_CONFIGS;
		int16_t v = (int16_t)(fz_u8(r) % (alter ? 2 : 5));
		seq++;
		struct kc_request_header h = { key, v,
					       (int32_t)(seq & 0x7fffffff),
					       { "fz", 2 } };
		long n = kc_encode_request(&h, alter ? (const void *)&aq :
						       (const void *)&dq,
					   buf, sizeof(buf));
		if (n <= 0 || npending == PENDING_MAX)
			break;
		pending[npending++] = (struct pend){ .token = seq, .key = key,
						     .ver = v };
		int rc = sl_share_configs(S, seq, buf, (size_t)n, now);
		FUZZ_CHECK(rc == 0 || rc == -ENOENT);
		FUZZ_CHECK((rc == -ENOENT) == (type != 32));
		if (rc) {
			/* the admin module's: not answered here */
			FUZZ_CHECK(pending[npending - 1].token == seq);
			npending--;
		}
		/* else answered, or to be by the next duty cycle */
		break;
	}
	case 8: {
		/* a torn or hostile tail, then a restart */
		size_t got;
		const uint8_t *p = fz_bytes(r, fz_u8(r), &got);
		close_share(false);
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/shares.log", dir);
		FILE *f = fopen(path, "ab");
		FUZZ_CHECK(f != NULL);
		FUZZ_CHECK(fwrite(p, 1, got, f) == got);
		fclose(f);
		open_share();
		break;
	}
	case 10:
	case 11: {
		/* a well-formed QUEUE_RECEIVE or QUEUE_ACK */
		static uint8_t buf[1024];
		size_t n = op == 10 ? build_receive(r, g, buf, sizeof(buf)) :
				      build_ack(r, g, buf, sizeof(buf));
		send_native(buf, n);
		break;
	}
	case 12:
		send_native_raw(r, g);
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_control_log();
	snprintf(dir, sizeof(dir), "%s/share", fz_tmpdir());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_reader r;
	fz_init(&r, data, size);
	fz_clear_dir(fz_tmpdir());
	now = 1000;
	wall = 1700000000000;
	npending = 0;
	open_share();
	for (int i = 0; i < STEPS_MAX && fz_left(&r); i++)
		step(&r);
	close_share(true);
	return 0;
}
