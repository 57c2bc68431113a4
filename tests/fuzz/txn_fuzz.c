/*
 * libFuzzer target for the transaction coordinator (control/txn.c) with
 * the group coordinator beside it: the input is a program of requests
 * (well-formed ones of every transaction API at any version, built from
 * the program's choices, and raw bytes as any of these APIs), with the
 * wall clock moving between them (transactions time out, ids expire),
 * markers reported written, and the coordinator restarting.
 *
 * Program: steps of an opcode byte and its operands (zeros past the end).
 *
 * Properties, checked on every step:
 *   1. sl_txn_request returns 0 or one of its documented errors, and each
 *      request is answered at most once (exactly once when it returns 0),
 *      with a reply that decodes whole as its API's response at its
 *      version and carries its correlation id;
 *   2. every error code is a Kafka error code (-1..127);
 *   3. what DescribeTransactions answers for every id is the same after
 *      sl_txn_close and sl_txn_open at the same instant (the state log
 *      holds everything memory does).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/groups.h"
#include "control/txn.h"
#include "fuzz_util.h"
#include "proto/kafka/kcodec.h"
#include "storage/log.h"

#define STEPS_MAX 300
#define JOBS_MAX 64
#define SNAP_BYTES (1u << 16)

static const char *const ids[] = { "a", "b", "c", "" };
static const char *const topics[] = { "t", "u", "" };
static const char *const groups_[] = { "g", "h", "" };

static struct sl_txn *T;
static struct sl_groups *G;
static char tdir[PATH_MAX], gdir[PATH_MAX];
static int64_t now, wall;
static uint64_t jobs[JOBS_MAX];
static int njobs;
static int answered; /* replies to the request being sent */
static uint8_t last_reply[SL_TXN_MAX_RESPONSE];
static size_t last_len;
static uint64_t want_token;
static int16_t want_key, want_ver;
static _Alignas(8) uint8_t arena_mem[1 << 20];

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

static void on_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len)
{
	(void)ctx;
	FUZZ_CHECK(token == want_token);
	FUZZ_CHECK(++answered == 1);
	FUZZ_CHECK(len >= 4 && len <= SL_TXN_MAX_RESPONSE);
	memcpy(last_reply, resp, len);
	last_len = len;
	struct kc_arena a = { arena_mem, sizeof(arena_mem), 0 };
	struct kc_response_header h;
	union kc_response u;
	long n = kc_decode_response(want_key, want_ver, resp, len, &h, &u, &a);
	FUZZ_CHECK(n == (long)len);
	FUZZ_CHECK(h.correlation_id == (int32_t)(token & 0x7fffffff));
	int16_t top = 0;
	switch (want_key) {
	case KC_API_INIT_PRODUCER_ID:
		top = ((struct kc_init_producer_id_resp *)(void *)u.raw)
			->error_code;
		break;
	case KC_API_END_TXN:
		top = ((struct kc_end_txn_resp *)(void *)u.raw)->error_code;
		break;
	case KC_API_ADD_OFFSETS_TO_TXN:
		top = ((struct kc_add_offsets_to_txn_resp *)(void *)u.raw)
			->error_code;
		break;
	}
	FUZZ_CHECK(top >= -1 && top <= 127);
}

static void on_greply(void *ctx, uint64_t token, const uint8_t *resp,
		      size_t len)
{
	(void)ctx;
	(void)token;
	(void)resp;
	(void)len;
}

static void on_markers(void *ctx, const struct sl_txn_markers *m)
{
	(void)ctx;
	FUZZ_CHECK(m->n > 0 && m->producer_epoch >= 0);
	if (njobs < JOBS_MAX)
		jobs[njobs++] = m->id;
}

static uint64_t seq;

static void send_body(int16_t key, int16_t ver, const void *body)
{
	static uint8_t buf[1 << 14];
	struct kc_request_header h = { key, ver, (int32_t)(++seq & 0x7fffffff),
				       { "fz", 2 } };
	long n = kc_encode_request(&h, (const void *)body, buf, sizeof(buf));
	if (n <= 0)
		return; /* a value this version cannot carry */
	want_token = seq;
	want_key = key;
	want_ver = ver;
	answered = 0;
	int rc = sl_txn_request(T, seq, buf, (size_t)n, now);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE ||
		   rc == -ENOMEM);
	FUZZ_CHECK(answered == (rc == 0));
}

static struct kc_str S(const char *s)
{
	return (struct kc_str){ s, (int32_t)strlen(s) };
}

static void open_all(void)
{
	char err[512];
	struct sl_groups_config gc = { .retention_ms =
					       SL_GROUPS_RETENTION_MS_DEFAULT,
				       .clock = &clk };
	FUZZ_CHECK(sl_groups_open(gdir, &gc, on_greply, NULL, now, &G, err,
				  sizeof(err)) == 0);
	struct sl_txn_config tc = { .id_expiration_ms = 3600 * 1000,
				    .clock = &clk, .groups = G,
				    .markers = on_markers };
	njobs = 0;
	FUZZ_CHECK(sl_txn_open(tdir, &tc, on_reply, NULL, now, &T, err,
			       sizeof(err)) == 0);
}

static void close_all(void)
{
	sl_txn_close(T);
	sl_groups_close(G);
}

/* DescribeTransactions of every id: the answer's bytes into out, its
 * length returned. */
static size_t snapshot(uint8_t *out)
{
	struct kc_str s[3] = { S("a"), S("b"), S("c") };
	struct kc_describe_transactions_req q = { { s, 3 } };
	uint8_t buf[256];
	struct kc_request_header h = { KC_API_DESCRIBE_TRANSACTIONS, 0, 1,
				       { "fz", 2 } };
	long n = kc_encode_request(&h, (const void *)&q, buf, sizeof(buf));
	FUZZ_CHECK(n > 0);
	want_token = 1;
	want_key = KC_API_DESCRIBE_TRANSACTIONS;
	want_ver = 0;
	answered = 0;
	FUZZ_CHECK(sl_txn_request(T, 1, buf, (size_t)n, now) == 0);
	FUZZ_CHECK(answered == 1 && last_len <= SNAP_BYTES);
	memcpy(out, last_reply, last_len);
	return last_len;
}

static int64_t pid_of(struct fz_reader *r)
{
	/* a producer id the coordinator may have handed out, or another */
	return (1ll << 40) + (fz_u8(r) & 7) - (fz_u8(r) & 1);
}

static void step(struct fz_reader *r)
{
	uint8_t op = fz_u8(r) % 12;
	const char *id = ids[fz_u8(r) % 4];
	int64_t pid = pid_of(r);
	int16_t epoch = (int16_t)(fz_u8(r) % 4) - 1;
	switch (op) {
	case 0: {
		struct kc_init_producer_id_req q = {
			S(id), (int32_t)(fz_u16(r) * 20), -1, -1, false, false };
		if (fz_u8(r) & 1) {
			q.producer_id = pid;
			q.producer_epoch = epoch;
		}
		send_body(KC_API_INIT_PRODUCER_ID, fz_u8(r) % 6, &q);
		break;
	}
	case 1: {
		int32_t parts[2] = { fz_u8(r) % 5, fz_u8(r) % 5 };
		struct kc_add_partitions_to_txn_req_topic t = {
			S(topics[fz_u8(r) % 3]), { parts, 1 + (fz_u8(r) & 1) } };
		int16_t v = fz_u8(r) % 6;
		struct kc_add_partitions_to_txn_req_transaction tx = {
			S(id), pid, epoch, fz_u8(r) & 1, { &t, 1 } };
		struct kc_add_partitions_to_txn_req q = {
			.transactions = { &tx, v >= 4 ? 1 : 0 },
			.v3_and_below_transactional_id = S(id),
			.v3_and_below_producer_id = pid,
			.v3_and_below_producer_epoch = epoch,
			.v3_and_below_topics = { &t, v < 4 ? 1 : 0 } };
		send_body(KC_API_ADD_PARTITIONS_TO_TXN, v, &q);
		break;
	}
	case 2: {
		struct kc_add_offsets_to_txn_req q = {
			S(id), pid, epoch, S(groups_[fz_u8(r) % 3]) };
		send_body(KC_API_ADD_OFFSETS_TO_TXN, fz_u8(r) % 5, &q);
		break;
	}
	case 3: {
		struct kc_txn_offset_commit_req_partition p = {
			fz_u8(r) % 5, (int64_t)fz_u16(r), -1, S("m") };
		struct kc_txn_offset_commit_req_topic t = {
			S(topics[fz_u8(r) % 3]), { &p, 1 } };
		struct kc_txn_offset_commit_req q = {
			S(id), S(groups_[fz_u8(r) % 3]), pid, epoch,
			(int32_t)(fz_u8(r) % 3) - 1, S(""), { NULL, -1 },
			{ &t, 1 } };
		send_body(KC_API_TXN_OFFSET_COMMIT, fz_u8(r) % 5, &q);
		break;
	}
	case 4: {
		struct kc_end_txn_req q = { S(id), pid, epoch, fz_u8(r) & 1 };
		send_body(KC_API_END_TXN, fz_u8(r) % 6, &q);
		break;
	}
	case 5: {
		struct kc_str s[2] = { S(id), S(ids[fz_u8(r) % 4]) };
		struct kc_describe_transactions_req q = { { s, 2 } };
		send_body(KC_API_DESCRIBE_TRANSACTIONS, 0, &q);
		break;
	}
	case 6: {
		struct kc_str sf = S(fz_u8(r) & 1 ? "Ongoing" : "Nope");
		int64_t pf = pid;
		struct kc_list_transactions_req q = {
			{ &sf, fz_u8(r) & 1 }, { &pf, fz_u8(r) & 1 },
			(int64_t)fz_u16(r) - 1, { NULL, -1 } };
		send_body(KC_API_LIST_TRANSACTIONS, fz_u8(r) % 2, &q);
		break;
	}
	case 7: { /* raw bytes as one of the APIs */
		static const int16_t keys[] = { 22, 24, 25, 26, 28, 65, 66 };
		uint8_t req[512];
		size_t n = 0;
		const uint8_t *p = fz_bytes(r, fz_u8(r) + 8u, &n);
		memcpy(req, p, n);
		if (n >= 8) {
			int16_t k = keys[req[0] % 7];
			req[0] = (uint8_t)(k >> 8);
			req[1] = (uint8_t)k;
		}
		if (n >= 8)
			req[4] &= 0x7f; /* a correlation id the token can be */
		answered = 0;
		want_key = n >= 2 ? (int16_t)(req[0] << 8 | req[1]) : -1;
		want_ver = n >= 4 ? (int16_t)(req[2] << 8 | req[3]) : -1;
		want_token = n >= 8 ? (uint32_t)(req[4] << 24 | req[5] << 16 |
						 req[6] << 8 | req[7]) : 0;
		int rc = sl_txn_request(T, want_token, req, n, now);
		FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE ||
			   rc == -ENOMEM);
		FUZZ_CHECK(answered == (rc == 0));
		break;
	}
	case 8: /* markers written */
		if (njobs)
			sl_txn_markers_done(T, jobs[fz_u8(r) % njobs], now);
		break;
	case 9: /* time: timeouts, expiry */
		wall += (int64_t)fz_u16(r) * 100;
		now += 1000;
		sl_txn_tick(T, now);
		break;
	case 10:
	case 11: { /* restart: the same ids in the same states */
		uint8_t before[SNAP_BYTES], after[SNAP_BYTES];
		size_t nb = snapshot(before);
		close_all();
		open_all();
		size_t na = snapshot(after);
		FUZZ_CHECK(na == nb && !memcmp(before, after, nb));
		break;
	}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_control_log();
	snprintf(tdir, sizeof(tdir), "%s/txn", fz_tmpdir());
	snprintf(gdir, sizeof(gdir), "%s/groups", fz_tmpdir());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_reader r;
	fz_init(&r, data, size);
	fz_clear_dir(fz_tmpdir());
	now = 1000;
	wall = 1700000000000;
	seq = 0;
	open_all();
	for (int i = 0; i < STEPS_MAX && fz_left(&r); i++)
		step(&r);
	close_all();
	return 0;
}
