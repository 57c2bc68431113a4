/*
 * libFuzzer target for the share groups (control/share.c, with sharep.c
 * and the state file of sstore.c): the input is a program of requests of
 * the four share-group APIs (well-formed ones built from the program's
 * choices: members, epochs, sessions, partitions of two topics and of
 * none, acknowledgement batches of any range and types; and raw bytes as
 * any of the APIs at any version; the groups' config), with time moving
 * between them, the
 * module restarting from its state file, and bytes appended to that file
 * before a restart (a torn or hostile tail).  No log is readable (the
 * Kafka port refuses), so the share partitions stay empty: what is
 * fuzzed is everything around them.
 *
 * Program: steps of an opcode byte and its operands (zeros past the end).
 *
 * Properties, checked on every step:
 *   1. sl_share_request returns 0 or -EINVAL; a request it took (0) is
 *      answered exactly once, at once or (a ShareFetch that waits) by a
 *      later step, and never one it refused;
 *   2. every answer decodes whole as its API's response at its version,
 *      carries its correlation id and is not withheld (the state file is
 *      on tmpfs: writing it never fails);
 *   3. every error code in it is a Kafka error code (-1..133);
 *   4. a restart reads back whatever the file holds, a hostile tail
 *      included, without failing;
 *   5. a DescribeConfigs or IncrementalAlterConfigs of groups is answered
 *      at once (and decodes, its error codes Kafka's), one of a topic is
 *      left to the admin module (-ENOENT).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/share.h"
#include "fuzz_util.h"
#include "proto/kafka/kcodec.h"
#include "proto/topic_uuid.h"
#include "storage/disk.h"
#include "storage/log.h"

#define STEPS_MAX 200
#define PENDING_MAX 64

static struct sl_share *S;
static char dir[PATH_MAX];
static int64_t now, wall;
static uint64_t seq;
static _Alignas(8) uint8_t arena_mem[1 << 21];

/* requests taken and not answered yet: token, key, version */
static struct { uint64_t token; int16_t key, ver; } pending[PENDING_MAX];
static int npending;

static const char *const groups_[] = { "g", "h", "" };
static const char *const members[] = { "m1", "m2", "m3", "" };

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

static void open_share(void)
{
	char err[512];
	struct sl_share_config c = {
		.disk = &sdisk_posix, .clock = &clk, .dir = dir,
		.kafka_port = 1, /* refuses: no log is readable */
		.sp = { .window_max = 16, .lock_ms = 1000,
			.max_deliveries = 3, .starve_ms = 5000 },
		.heartbeat_interval_ms = 1000, .session_timeout_ms = 3000,
		.topic = topic_by_name, .topic_id = topic_by_id,
		.reply = on_reply };
	FUZZ_CHECK(sl_share_create(&c, now, &S, err, sizeof(err)) == 0);
}

static void close_share(void)
{
	for (int i = 0; i < npending; i++)
		FUZZ_CHECK(pending[i].key == KC_API_SHARE_FETCH);
	sl_share_destroy(S);
	S = NULL;
	npending = 0; /* dropped unanswered, as the contract says */
}

static void send_raw(int16_t key, int16_t ver, const uint8_t *buf, size_t n)
{
	if (npending == PENDING_MAX)
		return;
	pending[npending++] = (typeof(pending[0])){ seq, key, ver };
	int rc = sl_share_request(S, seq, buf, n, now);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	int i = 0;
	while (i < npending && pending[i].token != seq)
		i++;
	if (rc) {
		/* refused: never answered */
		FUZZ_CHECK(i < npending);
		pending[i] = pending[--npending];
	} else if (i < npending) {
		/* not answered yet: only a ShareFetch waits */
		FUZZ_CHECK(key == KC_API_SHARE_FETCH);
	}
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

static void step(struct fz_reader *r)
{
	uint8_t op = fz_u8(r) % 10;
	const char *g = groups_[fz_u8(r) % 3];
	const char *m = members[fz_u8(r) % 4];
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
		break;
	}
	case 7:
		close_share();
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
		pending[npending++] = (typeof(pending[0])){ seq, key, v };
		int rc = sl_share_configs(S, seq, buf, (size_t)n, now);
		FUZZ_CHECK(rc == 0 || rc == -ENOENT);
		FUZZ_CHECK((rc == -ENOENT) == (type != 32));
		if (rc) {
			/* the admin module's: not answered here */
			FUZZ_CHECK(pending[npending - 1].token == seq);
			npending--;
		} else {
			/* answered at once */
			FUZZ_CHECK(!npending ||
				   pending[npending - 1].token != seq);
		}
		break;
	}
	case 8: {
		/* a torn or hostile tail, then a restart */
		size_t got;
		const uint8_t *p = fz_bytes(r, fz_u8(r), &got);
		close_share();
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/shares.log", dir);
		FILE *f = fopen(path, "ab");
		FUZZ_CHECK(f != NULL);
		FUZZ_CHECK(fwrite(p, 1, got, f) == got);
		fclose(f);
		open_share();
		break;
	}
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
	close_share();
	return 0;
}
