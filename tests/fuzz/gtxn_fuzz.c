/*
 * libFuzzer target for a cluster's transactional offsets at the group
 * coordinator (control/gtxn.c), with a real group coordinator beside it
 * (control/groups.c, its offsets in a file) and a store the program
 * controls: which partition of __consumer_offsets a group is in, whether
 * that partition is loaded, whether the store takes a batch.  The input is
 * a program of TxnOffsetCommit requests (well formed, at any version, from
 * the program's choices), WriteTxnMarkers requests as a broker's sluiced
 * sends them, raw bytes as either API, a load's records and markers, and
 * unloads.
 *
 * Program: steps of an opcode byte and its operands (zeros past the end).
 *
 * Properties, checked on every step:
 *   1. sl_gtxn_request returns 0 or one of its documented errors and
 *      answers exactly once when it returns 0 (never otherwise), with a
 *      reply that decodes whole as its API's response at its version,
 *      carries the correlation id, and answers every partition asked in
 *      the order asked with a Kafka error code (0..127);
 *   2. the records the store is given are TXN records, exactly one per
 *      offset answered NONE, and TXN_END tombstones only when a marker (or
 *      a newer epoch) ends pending offsets (the committed offsets go to the
 *      group coordinator, which keeps them in its own file here);
 *   3. a model of the pending offsets, kept from the answers alone (an
 *      offset answered NONE is pending; a marker of its producer answered
 *      NONE for its partition at an epoch at or above its own ends it, so
 *      does a TxnOffsetCommit of a newer epoch), agrees with the module:
 *      the count in its stats and sl_gtxn_pending for each offset, for as
 *      long as no load has run since everything was last unloaded;
 *   4. the stats never count more pending offsets than SL_GTXN_PENDING_MAX
 *      and an unload of every partition leaves none.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/groups.h"
#include "control/gtxn.h"
#include "control/offsets.h"
#include "fuzz_util.h"
#include "proto/config.h"
#include "proto/kafka/kcodec.h"
#include "storage/log.h"

#define STEPS_MAX 300
#define MODEL_MAX 256

static const char *const groups_[] = { "g", "h", "" };
static const char *const topics[] = { "t", "u", "" };

static struct sl_gtxn *X;
static struct sl_groups *G;
static char gdir[PATH_MAX];
static int64_t now, wall;
static int answered;
static uint64_t want_token;
static int16_t want_key, want_ver;
static _Alignas(8) uint8_t arena_mem[1 << 20];
static union kc_response last;  /* the reply decoded (arena_mem) */

/* the store, as the program sets it */
static int16_t coord_err, part_err;
static bool refuse;
static int nrecs;                /* records the store took, last batch */
static uint8_t rec_types[1024];

/* the model (property 3) */
struct mpend {
	int64_t pid;
	int16_t epoch;
	int32_t opart;
	int g, t;
	int32_t partition;
};
static struct mpend model[MODEL_MAX];
static int nmodel;
static bool model_valid;

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

static struct kc_str S(const char *s)
{
	return (struct kc_str){ s, (int32_t)strlen(s) };
}

/* ---- the store ---- */

static void sink_begin(void *ctx)
{
	(void)ctx;
	nrecs = 0;
}

static void sink_add(void *ctx, const struct sl_offsets_rec *r)
{
	(void)ctx;
	FUZZ_CHECK(r->group_len > 0 && r->group_len <= SL_OFFSETS_GROUP_MAX);
	FUZZ_CHECK(r->type == SL_OFFSETS_TXN || r->type == SL_OFFSETS_TXN_END ||
		   r->type == SL_OFFSETS_COMMIT);
	if (r->type != SL_OFFSETS_COMMIT)
		FUZZ_CHECK(r->producer_id >= 0 && r->topic_len > 0 &&
			   r->partition >= 0);
	if (nrecs < (int)sizeof(rec_types))
		rec_types[nrecs] = r->type;
	nrecs++;
}

static int sink_end(void *ctx)
{
	(void)ctx;
	return refuse ? -EIO : 0;
}

static const struct sl_commits_sink sink = { sink_begin, sink_add, sink_end,
					     NULL };

static int16_t coordinates(void *ctx, const char *group, size_t len)
{
	(void)ctx;
	(void)group;
	(void)len;
	return coord_err;
}

static int32_t partition_of(void *ctx, const char *group, size_t len)
{
	(void)ctx;
	return len ? (int32_t)((unsigned char)group[0] % 2) : 0;
}

static int16_t partition_state(void *ctx, int32_t p)
{
	(void)ctx;
	return p >= 0 && p < 2 ? part_err : 16;
}

static bool exists(void *ctx, const char *topic, size_t len, int32_t p)
{
	(void)ctx;
	return len == 1 && (topic[0] == 't' || topic[0] == 'u') && p < 4;
}

/* ---- answers ---- */

static void on_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len)
{
	(void)ctx;
	FUZZ_CHECK(token == want_token);
	FUZZ_CHECK(++answered == 1);
	FUZZ_CHECK(len >= 4);
	struct kc_arena a = { arena_mem, sizeof(arena_mem), 0 };
	struct kc_response_header h;
	long n = kc_decode_response(want_key, want_ver, resp, len, &h, &last,
				    &a);
	FUZZ_CHECK(n == (long)len);
	FUZZ_CHECK(h.correlation_id == (int32_t)(token & 0x7fffffff));
}

static void on_greply(void *ctx, uint64_t token, const uint8_t *resp,
		      size_t len)
{
	(void)ctx;
	(void)token;
	(void)resp;
	(void)len;
}

static uint64_t seq;

/* Send one encoded request; whether it was answered. */
static bool send_bytes(const uint8_t *req, size_t n, int16_t key,
		       int16_t ver, uint64_t token)
{
	want_token = token;
	want_key = key;
	want_ver = ver;
	answered = 0;
	int rc = sl_gtxn_request(X, token, req, n);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE ||
		   rc == -ENOMEM);
	FUZZ_CHECK(answered == (rc == 0));
	return rc == 0;
}

static bool send_body(int16_t key, int16_t ver, const void *body)
{
	static uint8_t buf[1 << 14];
	struct kc_request_header h = { key, ver, (int32_t)(++seq & 0x7fffffff),
				       { "fz", 2 } };
	long n = kc_encode_request(&h, (const void *)body, buf, sizeof(buf));
	if (n <= 0)
		return false; /* a value this version cannot carry */
	return send_bytes(buf, (size_t)n, key, ver, seq);
}

/* ---- the model ---- */

static int model_find(int64_t pid, int g, int t, int32_t partition)
{
	for (int i = 0; i < nmodel; i++)
		if (model[i].pid == pid && model[i].g == g &&
		    model[i].t == t && model[i].partition == partition)
			return i;
	return -1;
}

/* End pid's offsets in opart at or below epoch. */
static void model_end(int64_t pid, int32_t opart, int16_t epoch)
{
	for (int i = 0; i < nmodel;) {
		if (model[i].pid == pid && model[i].opart == opart &&
		    model[i].epoch <= epoch)
			model[i] = model[--nmodel];
		else
			i++;
	}
}

static void model_check(void)
{
	struct sl_gtxn_stats st;
	sl_gtxn_stats(X, &st);
	FUZZ_CHECK(st.pending <= SL_GTXN_PENDING_MAX);
	if (!model_valid)
		return;
	FUZZ_CHECK(st.pending == (uint32_t)nmodel);
	for (int i = 0; i < nmodel; i++) {
		const char *g = groups_[model[i].g], *t = topics[model[i].t];
		FUZZ_CHECK(sl_gtxn_pending(X, g, strlen(g), t, strlen(t),
					   model[i].partition));
	}
}

/* ---- steps ---- */

static void txn_offset_commit(struct fz_reader *r)
{
	int gi = fz_u8(r) % 3;
	int64_t pid = (int64_t)(fz_u8(r) % 5) - 1;
	int16_t epoch = (int16_t)(fz_u8(r) % 4);
	int16_t ver = fz_u8(r) % 6;
	struct kc_txn_offset_commit_req_partition p[3];
	struct kc_txn_offset_commit_req_topic tp[2];
	int ti[2];
	int nt = 1 + (fz_u8(r) & 1);
	for (int i = 0; i < nt; i++) {
		int np = 1 + fz_u8(r) % 3;
		ti[i] = fz_u8(r) % 3;
		for (int j = 0; j < np && i == 0; j++) {
			uint8_t ml = fz_u8(r);
			static char meta[SL_OFFSETS_META_MAX + 8];
			memset(meta, 'm', sizeof(meta));
			p[j] = (struct kc_txn_offset_commit_req_partition){
				(int32_t)(fz_u8(r) % 6) - 1,
				(int64_t)fz_u16(r), -1,
				ml == 255 ? (struct kc_str){ NULL, -1 } :
				ml == 254 ? (struct kc_str){
					meta, SL_OFFSETS_META_MAX + 1 } :
					    (struct kc_str){ meta, ml % 8 } };
		}
		tp[i] = (struct kc_txn_offset_commit_req_topic){
			S(topics[ti[i]]), { p, i == 0 ? np : 1 } };
	}
	struct kc_txn_offset_commit_req q = {
		S(fz_u8(r) % 8 ? "tid" : ""), S(groups_[gi]), pid, epoch,
		-1, S(""), { NULL, -1 }, { tp, nt } };
	int32_t opart = partition_of(NULL, groups_[gi],
				     strlen(groups_[gi]));
	if (!send_body(KC_API_TXN_OFFSET_COMMIT, ver, &q))
		return;
	const struct kc_txn_offset_commit_resp *a = (const void *)last.raw;
	FUZZ_CHECK(a->topics.count == nt);
	const struct kc_txn_offset_commit_resp_topic *at = a->topics.items;
	bool any_ok = false;
	for (int i = 0; i < nt; i++) {
		FUZZ_CHECK(at[i].partitions.count == tp[i].partitions.count);
		const struct kc_txn_offset_commit_resp_partition *ap =
			at[i].partitions.items;
		const struct kc_txn_offset_commit_req_partition *qp =
			tp[i].partitions.items;
		for (int j = 0; j < at[i].partitions.count; j++) {
			FUZZ_CHECK(ap[j].partition_index ==
				   qp[j].partition_index);
			FUZZ_CHECK(ap[j].error_code >= -1 &&
				   ap[j].error_code <= 127);
			any_ok |= ap[j].error_code == 0;
		}
	}
	/* a newer epoch drops the older one's pending offsets (a store
	 * that refuses the tombstones refuses the whole request: nothing
	 * is dropped then) */
	bool newer = false;
	for (int i = 0; i < nmodel; i++)
		newer |= model[i].pid == pid && model[i].opart == opart &&
			 model[i].epoch < epoch;
	if (newer && any_ok)
		model_end(pid, opart, (int16_t)(epoch - 1));
	if (!any_ok)
		return;
	/* the store took exactly the offsets answered NONE, as TXN records
	 * (after any tombstones of the older epoch's) */
	int oks = 0;
	for (int i = 0; i < nt; i++) {
		const struct kc_txn_offset_commit_resp_partition *ap =
			at[i].partitions.items;
		for (int j = 0; j < at[i].partitions.count; j++) {
			if (ap[j].error_code != 0)
				continue;
			oks++;
			int k = model_find(pid, gi, ti[i],
					   ap[j].partition_index);
			if (k < 0 && nmodel < MODEL_MAX)
				k = nmodel++;
			else if (k < 0)
				model_valid = false;
			if (k >= 0)
				model[k] = (struct mpend){
					pid, epoch, opart, gi, ti[i],
					ap[j].partition_index };
		}
	}
	FUZZ_CHECK(nrecs == oks);
	for (int i = 0; i < nrecs && i < (int)sizeof(rec_types); i++)
		FUZZ_CHECK(rec_types[i] == SL_OFFSETS_TXN);
}

static void markers(struct fz_reader *r)
{
	int64_t pid = (int64_t)(fz_u8(r) % 5) - 1;
	int16_t epoch = (int16_t)(fz_u8(r) % 4);
	bool commit = fz_u8(r) & 1;
	bool offsets_topic = fz_u8(r) % 4 != 0;
	int32_t idx[2] = { (int32_t)(fz_u8(r) % 3), (int32_t)(fz_u8(r) % 3) };
	int np = 1 + (fz_u8(r) & 1);
	struct kc_write_txn_markers_req_writable_txn_marker_topic t = {
		offsets_topic ? S(SL_OFFSETS_TOPIC) : S("t"), { idx, np } };
	struct kc_write_txn_markers_req_writable_txn_marker m = {
		pid, epoch, commit, { &t, 1 }, 0, 0 };
	struct kc_write_txn_markers_req q = { { &m, 1 } };
	int before = nmodel;
	nrecs = 0;
	if (!send_body(KC_API_WRITE_TXN_MARKERS, fz_u8(r) % 3, &q))
		return;
	const struct kc_write_txn_markers_resp *a = (const void *)last.raw;
	FUZZ_CHECK(a->markers.count == 1);
	const struct kc_write_txn_markers_resp_writable_txn_marker_result *am =
		a->markers.items;
	FUZZ_CHECK(am->producer_id == pid && am->topics.count == 1);
	const struct kc_write_txn_markers_resp_writable_txn_marker_topic_result
		*at = am->topics.items;
	FUZZ_CHECK(at->partitions.count == np);
	const struct kc_write_txn_markers_resp_writable_txn_marker_partition_result
		*ap = at->partitions.items;
	for (int j = 0; j < np; j++) {
		FUZZ_CHECK(ap[j].partition_index == idx[j]);
		FUZZ_CHECK(ap[j].error_code >= -1 && ap[j].error_code <= 127);
		if (!offsets_topic || pid < 0)
			FUZZ_CHECK(ap[j].error_code == 0);
		else if (ap[j].error_code == 0)
			model_end(pid, idx[j], epoch);
	}
	/* records only when offsets ended, and to this store only their
	 * tombstones (a commit's offsets go to the group coordinator, which
	 * keeps them in its own file here) */
	if (nmodel == before && model_valid)
		FUZZ_CHECK(nrecs == 0);
	for (int i = 0; i < nrecs && i < (int)sizeof(rec_types); i++)
		FUZZ_CHECK(rec_types[i] == SL_OFFSETS_TXN_END);
}

static void raw(struct fz_reader *r)
{
	static const int16_t keys[] = { KC_API_TXN_OFFSET_COMMIT,
					KC_API_WRITE_TXN_MARKERS };
	uint8_t req[512];
	size_t n = 0;
	const uint8_t *p = fz_bytes(r, fz_u8(r) + 8u, &n);
	memcpy(req, p, n);
	if (n >= 8) {
		int16_t k = keys[req[0] % 2];
		req[0] = (uint8_t)(k >> 8);
		req[1] = (uint8_t)k;
		req[4] &= 0x7f; /* a correlation id the token can be */
	}
	int16_t key = n >= 2 ? (int16_t)(req[0] << 8 | req[1]) : -1;
	int16_t ver = n >= 4 ? (int16_t)(req[2] << 8 | req[3]) : -1;
	uint64_t token = n >= 8 ? (uint32_t)(req[4] << 24 | req[5] << 16 |
					     req[6] << 8 | req[7]) : 0;
	/* what it does to the pending offsets is not modelled */
	(void)send_bytes(req, n, key, ver, token);
	model_valid = false;
}

static void load(struct fz_reader *r)
{
	int32_t p = fz_u8(r) % 3;
	if (fz_u8(r) & 1) {
		sl_gtxn_load_marker(X, p, (int64_t)(fz_u8(r) % 5),
				    (int16_t)(fz_u8(r) % 4), fz_u8(r) & 1);
	} else {
		const char *g = groups_[fz_u8(r) % 2];
		const char *t = topics[fz_u8(r) % 2];
		struct sl_offsets_rec rec = {
			.type = fz_u8(r) & 1 ? SL_OFFSETS_TXN :
					       SL_OFFSETS_TXN_END,
			.group = g, .group_len = (uint16_t)strlen(g),
			.topic = t, .topic_len = (uint16_t)strlen(t),
			.partition = fz_u8(r) % 4, .offset = fz_u16(r),
			.leader_epoch = -1, .meta = "m", .meta_len = 1,
			.time_ms = wall, .producer_id = fz_u8(r) % 5,
			.producer_epoch = (int16_t)(fz_u8(r) % 4) };
		sl_gtxn_load_record(X, p, &rec);
	}
	model_valid = false;
}

static void step(struct fz_reader *r)
{
	uint8_t op = fz_u8(r) % 8;
	switch (op) {
	case 0:
	case 1:
		txn_offset_commit(r);
		break;
	case 2:
		markers(r);
		break;
	case 3:
		raw(r);
		break;
	case 4:
		load(r);
		break;
	case 5: { /* unload one partition, or every one */
		int32_t p = (int32_t)(fz_u8(r) % 3) - 1;
		sl_gtxn_unload(X, p);
		if (p < 0) {
			struct sl_gtxn_stats st;
			sl_gtxn_stats(X, &st);
			FUZZ_CHECK(st.pending == 0);
			nmodel = 0;
			model_valid = true;
		} else {
			model_end(0, p, INT16_MAX);
			for (int64_t pid = 1; pid < 4; pid++)
				model_end(pid, p, INT16_MAX);
		}
		break;
	}
	case 6: { /* the store's answers */
		static const int16_t errs[] = { 0, 0, 14, 16 };
		coord_err = errs[fz_u8(r) % 4];
		part_err = errs[fz_u8(r) % 4];
		refuse = (fz_u8(r) % 4) == 0;
		break;
	}
	case 7:
		wall += fz_u16(r);
		now += 10;
		break;
	}
	model_check();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_control_log();
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
	coord_err = part_err = 0;
	refuse = false;
	nmodel = 0;
	model_valid = true;
	char err[512];
	struct sl_groups_config gc = { .retention_ms =
					       SL_GROUPS_RETENTION_MS_DEFAULT,
				       .clock = &clk };
	FUZZ_CHECK(sl_groups_open(gdir, &gc, on_greply, NULL, now, &G, err,
				  sizeof(err)) == 0);
	struct sl_gtxn_config xc = {
		.groups = G, .sink = &sink, .reply = on_reply,
		.coordinates = coordinates, .partition_of = partition_of,
		.partition_state = partition_state, .exists = exists };
	FUZZ_CHECK(sl_gtxn_create(&xc, &X) == 0);
	for (int i = 0; i < STEPS_MAX && fz_left(&r); i++)
		step(&r);
	sl_gtxn_destroy(X);
	sl_groups_close(G);
	return 0;
}
