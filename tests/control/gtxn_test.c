/*
 * Unit tests of the transactional offsets of a cluster's group coordinator
 * (control/gtxn.c), over a real group coordinator (control/groups.c) whose
 * store is the same recording sink as theirs: whole Kafka requests built
 * with the codec go in, the answers that come out through the reply
 * callback are decoded and checked, and so is every record the sink was
 * given (what it took, batch by batch, and what it refused).
 *
 * Covered: TxnOffsetCommit making offsets pending (TXN records, not yet
 * committed, UNSTABLE_OFFSET_COMMIT under require_stable); the markers of
 * the offsets partitions committing them (OffsetCommit records, then
 * TXN_END tombstones) or dropping them (tombstones alone), and those not
 * handled here (partition not loaded, another topic, another partition);
 * fencing by producer epoch; the checks of TxnOffsetCommit and their
 * order; the store refusing a batch; loads (records and markers, nothing
 * written) and unloads; a load of what was written (the sink's records
 * and the markers, in order) holding what memory held; requests that
 * cannot be read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"
#include "kreplies.h"
#include "control/groups.h"
#include "control/gtxn.h"
#include "control/offsets.h"
#include "proto/kafka/kcodec.h"

#define RETENTION_MS (24 * 3600 * 1000)
#define OPART 7          /* the groups' partition of __consumer_offsets */
#define OFFSETS_TOPIC "__consumer_offsets"
#define MAX_REPLY (1 << 20)

/* Kafka error codes the answers carry */
#define ERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define ERR_OFFSET_METADATA_TOO_LARGE 12
#define ERR_COORDINATOR_LOAD_IN_PROGRESS 14
#define ERR_NOT_COORDINATOR 16
#define ERR_ILLEGAL_GENERATION 22
#define ERR_INVALID_GROUP_ID 24
#define ERR_UNKNOWN_MEMBER_ID 25
#define ERR_INVALID_REQUEST 42
#define ERR_INVALID_PRODUCER_EPOCH 47
#define ERR_INVALID_PRODUCER_ID_MAPPING 49
#define ERR_UNSTABLE_OFFSET_COMMIT 88
#define ERR_PRODUCER_FENCED 90

static char g_dir[PATH_MAX];
static struct sl_groups *G;
static struct sl_gtxn *X;
static uint64_t seq;
static struct tl_clock clk;
static struct sl_groups_config gcfg;
static struct sl_gtxn_config xcfg;

/* what the store callbacks answer, and what they were asked */
static int16_t coord_err;     /* coordinates() for gtxn */
static int32_t opart;         /* partition_of() */
static int16_t pstate;        /* partition_state() */
static int pstate_calls;
static int32_t pstate_last;

/* ---- the sink: every record taken, batch by batch ---- */

struct rec {
	uint8_t type;
	char group[SL_OFFSETS_GROUP_MAX + 1];
	char topic[SL_OFFSETS_TOPIC_MAX + 1];
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch;
	int32_t meta_len;
	int64_t pid;
	int16_t epoch;
};

#define RECS_MAX 256
static struct rec recs[RECS_MAX], staged[RECS_MAX];
static int nrecs, nstaged;
static int batches, refused; /* batches taken with records, refused */
static bool in_batch, refuse;

static void sink_begin(void *ctx)
{
	assert_ptr_equal(ctx, recs);
	assert_false(in_batch);
	in_batch = true;
	nstaged = 0;
}

static void sink_add(void *ctx, const struct sl_offsets_rec *r)
{
	assert_ptr_equal(ctx, recs);
	assert_true(in_batch);
	assert_true(nstaged < RECS_MAX);
	assert_true(r->group_len > 0 && r->group_len <= SL_OFFSETS_GROUP_MAX);
	assert_true(r->topic_len <= SL_OFFSETS_TOPIC_MAX);
	struct rec *c = &staged[nstaged++];
	memset(c, 0, sizeof(*c));
	c->type = r->type;
	memcpy(c->group, r->group, r->group_len);
	if (r->topic_len)
		memcpy(c->topic, r->topic, r->topic_len);
	c->partition = r->partition;
	c->offset = r->offset;
	c->leader_epoch = r->leader_epoch;
	c->meta_len = r->meta_len;
	c->pid = r->producer_id;
	c->epoch = r->producer_epoch;
}

static int sink_end(void *ctx)
{
	assert_ptr_equal(ctx, recs);
	assert_true(in_batch);
	in_batch = false;
	if (refuse) {
		refused += nstaged > 0;
		nstaged = 0;
		return -EIO;
	}
	assert_true(nrecs + nstaged <= RECS_MAX);
	memcpy(&recs[nrecs], staged, (size_t)nstaged * sizeof(staged[0]));
	nrecs += nstaged;
	batches += nstaged > 0; /* the groups' expiry scans are empty */
	nstaged = 0;
	return 0;
}

static const struct sl_commits_sink sink = {sink_begin, sink_add, sink_end,
					    recs};

/* The index of the first record at or after from of type for (group,
 * topic, partition), or -1. */
static int find_rec(int from, uint8_t type, const char *group,
		    const char *topic, int32_t partition)
{
	for (int i = from; i < nrecs; i++)
		if (recs[i].type == type && !strcmp(recs[i].group, group) &&
		    !strcmp(recs[i].topic, topic) &&
		    recs[i].partition == partition)
			return i;
	return -1;
}

static int count_recs(int from, uint8_t type)
{
	int n = 0;
	for (int i = from; i < nrecs; i++)
		n += recs[i].type == type;
	return n;
}

/* ---- the store's callbacks ---- */

static int16_t groups_coordinates(void *ctx, const char *group, size_t len)
{
	assert_ptr_equal(ctx, &gcfg);
	assert_true(len > 0 && group);
	return 0;
}

static int16_t coordinates(void *ctx, const char *group, size_t len)
{
	assert_ptr_equal(ctx, &xcfg);
	assert_true(len > 0 && group);
	return coord_err;
}

static int32_t partition_of(void *ctx, const char *group, size_t len)
{
	assert_ptr_equal(ctx, &xcfg);
	assert_true(len > 0 && group);
	return opart;
}

static int16_t partition_state(void *ctx, int32_t partition)
{
	assert_ptr_equal(ctx, &xcfg);
	pstate_calls++;
	pstate_last = partition;
	return pstate;
}

/* Topic "gone" does not exist, nor does any partition from 100 on. */
static bool exists(void *ctx, const char *topic, size_t len,
		   int32_t partition)
{
	assert_ptr_equal(ctx, &xcfg);
	return !(len == 4 && !memcmp(topic, "gone", 4)) && partition < 100;
}

/* ---- replies ---- */

static void on_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len)
{
	assert_true(ctx == &G || ctx == &X);
	kr_add(token, resp, len, MAX_REPLY);
}

/* ---- requests ---- */

static uint64_t send_groups(int16_t key, int16_t ver, const void *body)
{
	uint64_t t = (uint64_t)1 << 32 | ++seq;
	size_t n;
	const uint8_t *req = kr_request(t, key, ver, body, "client", &n);
	TL_EQ(sl_groups_request(G, t, req, n, 0), 0);
	return t;
}

static uint64_t send_gtxn(int16_t key, int16_t ver, const void *body)
{
	uint64_t t = (uint64_t)2 << 32 | ++seq;
	size_t n;
	const uint8_t *req = kr_request(t, key, ver, body, "client", &n);
	TL_EQ(sl_gtxn_request(X, t, req, n), 0);
	TL_TRUE(kr_has(t)); /* answered at once */
	return t;
}

struct part {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const char *meta; /* NULL: null metadata */
};

/* The TxnOffsetCommit body of p (partitions in topic runs) into q, with
 * the arrays it points to in topics and parts. */
static void txn_body(struct kc_txn_offset_commit_req *q,
		     struct kc_txn_offset_commit_req_topic *topics,
		     struct kc_txn_offset_commit_req_partition *parts,
		     const char *txn_id, const char *group, int64_t pid,
		     int16_t epoch, int32_t gen, const char *member,
		     const struct part *p, int n)
{
	int nt = 0;
	for (int i = 0; i < n; i++) {
		if (i == 0 || strcmp(p[i].topic, p[i - 1].topic))
			topics[nt++] = (struct kc_txn_offset_commit_req_topic){
				S(p[i].topic), {&parts[i], 0}};
		topics[nt - 1].partitions.count++;
		parts[i] = (struct kc_txn_offset_commit_req_partition){
			p[i].partition, p[i].offset, 4, S(p[i].meta)};
	}
	*q = (struct kc_txn_offset_commit_req){
		.transactional_id = S(txn_id), .group_id = S(group),
		.producer_id = pid, .producer_epoch = epoch,
		.generation_id = gen, .member_id = S(member),
		.group_instance_id = {NULL, -1}, .topics = {topics, nt}};
}

/* One TxnOffsetCommit at ver, as a client assigning its partitions itself
 * sends it from v3 on (no member, generation -1) unless member and gen
 * say otherwise; each partition's error code to codes (in the order of
 * p, which is the order answered). */
static void txn_commit_as(int16_t ver, const char *txn_id, const char *group,
			  int64_t pid, int16_t epoch, int32_t gen,
			  const char *member, const struct part *p, int n,
			  int16_t *codes)
{
	struct kc_txn_offset_commit_req_topic topics[16];
	struct kc_txn_offset_commit_req_partition parts[16];
	struct kc_txn_offset_commit_req q;
	assert_true(n > 0 && n <= 16);
	txn_body(&q, topics, parts, txn_id, group, pid, epoch, gen, member, p,
		 n);
	uint64_t t = send_gtxn(KC_API_TXN_OFFSET_COMMIT, ver, &q);
	const struct kc_txn_offset_commit_resp *r =
		kr_take(t, KC_API_TXN_OFFSET_COMMIT, ver);
	TL_EQ(r->throttle_time_ms, 0);
	TL_EQ(r->topics.count, q.topics.count);
	const struct kc_txn_offset_commit_resp_topic *rt = r->topics.items;
	int k = 0;
	for (int i = 0; i < r->topics.count; i++) {
		const struct kc_txn_offset_commit_resp_partition *rp =
			rt[i].partitions.items;
		for (int j = 0; j < rt[i].partitions.count; j++, k++) {
			assert_true(k < n);
			assert_true(streq(rt[i].name, p[k].topic));
			TL_EQ(rp[j].partition_index, p[k].partition);
			codes[k] = rp[j].error_code;
		}
	}
	TL_EQ(k, n);
}

static void txn_commit(int16_t ver, const char *txn_id, const char *group,
		       int64_t pid, int16_t epoch, const struct part *p, int n,
		       int16_t *codes)
{
	txn_commit_as(ver, txn_id, group, pid, epoch, -1, "", p, n, codes);
}

/* A TxnOffsetCommit whose every partition must be answered want. */
static void txn_all(int16_t ver, const char *txn_id, const char *group,
		    int64_t pid, int16_t epoch, const struct part *p, int n,
		    int16_t want)
{
	int16_t codes[16];
	txn_commit(ver, txn_id, group, pid, epoch, p, n, codes);
	for (int i = 0; i < n; i++)
		TL_EQ(codes[i], want);
}

/* One WriteTxnMarkers (v1) of one marker: producer pid at epoch, commit
 * or abort, of the partitions parts of topic; their error codes to
 * codes. */
static void marker_of(int64_t pid, int16_t epoch, bool commit,
		      const char *topic, const int32_t *parts, int n,
		      int16_t *codes)
{
	struct kc_write_txn_markers_req_writable_txn_marker_topic mt = {
		S(topic), {(void *)parts, n}};
	struct kc_write_txn_markers_req_writable_txn_marker m = {
		.producer_id = pid, .producer_epoch = epoch,
		.transaction_result = commit, .topics = {&mt, 1},
		.coordinator_epoch = 3};
	struct kc_write_txn_markers_req q = {{&m, 1}};
	uint64_t t = send_gtxn(KC_API_WRITE_TXN_MARKERS, 1, &q);
	const struct kc_write_txn_markers_resp *r =
		kr_take(t, KC_API_WRITE_TXN_MARKERS, 1);
	TL_EQ(r->markers.count, 1);
	const struct kc_write_txn_markers_resp_writable_txn_marker_result *rm =
		r->markers.items;
	TL_EQ(rm[0].producer_id, pid);
	TL_EQ(rm[0].topics.count, 1);
	const struct kc_write_txn_markers_resp_writable_txn_marker_topic_result
		*rt = rm[0].topics.items;
	assert_true(streq(rt[0].name, topic));
	TL_EQ(rt[0].partitions.count, n);
	const struct
		kc_write_txn_markers_resp_writable_txn_marker_partition_result
		*rp = rt[0].partitions.items;
	for (int i = 0; i < n; i++) {
		TL_EQ(rp[i].partition_index, parts[i]);
		codes[i] = rp[i].error_code;
	}
}

/* The marker of the groups' partition alone: its error code. */
static int16_t marker(int64_t pid, int16_t epoch, bool commit)
{
	int32_t p = OPART;
	int16_t code;
	marker_of(pid, epoch, commit, OFFSETS_TOPIC, &p, 1, &code);
	return code;
}

struct fetched {
	int64_t offset;
	int32_t leader_epoch;
	char meta[64];     /* "(null)" for null */
	int16_t error_code;
};

/* OffsetFetch of one partition at the groups coordinator: v5, or v7 with
 * require_stable. */
static struct fetched fetch(const char *group, const char *topic,
			    int32_t partition, bool stable)
{
	int16_t ver = stable ? 7 : 5;
	struct kc_offset_fetch_req_topic ft = {S(topic), {&partition, 1}};
	struct kc_offset_fetch_req q = {.group_id = S(group),
					.topics = {&ft, 1},
					.require_stable = stable};
	uint64_t t = send_groups(KC_API_OFFSET_FETCH, ver, &q);
	const struct kc_offset_fetch_resp *r =
		kr_take(t, KC_API_OFFSET_FETCH, ver);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->topics.count, 1);
	const struct kc_offset_fetch_resp_topic *rt = r->topics.items;
	assert_true(streq(rt[0].name, topic));
	TL_EQ(rt[0].partitions.count, 1);
	const struct kc_offset_fetch_resp_partition *rp =
		rt[0].partitions.items;
	TL_EQ(rp[0].partition_index, partition);
	struct fetched f = {rp[0].committed_offset,
			    rp[0].committed_leader_epoch, "",
			    rp[0].error_code};
	if (rp[0].metadata.len < 0) {
		strcpy(f.meta, "(null)");
	} else {
		assert_true(rp[0].metadata.len < (int32_t)sizeof(f.meta));
		memcpy(f.meta, rp[0].metadata.ptr, (size_t)rp[0].metadata.len);
	}
	return f;
}

/* The committed offset (-1: none), as a plain OffsetFetch answers. */
static int64_t committed(const char *group, const char *topic,
			 int32_t partition)
{
	struct fetched f = fetch(group, topic, partition, false);
	TL_EQ(f.error_code, 0);
	return f.offset;
}

/* The error code of an OffsetFetch with require_stable. */
static int16_t stable_code(const char *group, const char *topic,
			   int32_t partition)
{
	return fetch(group, topic, partition, true).error_code;
}

/* A plain OffsetCommit (v7) of one partition by a simple consumer. */
static void plain_commit(const char *group, const char *topic,
			 int32_t partition, int64_t offset)
{
	struct kc_offset_commit_req_partition p = {partition, offset, -1, -1,
						   S("")};
	struct kc_offset_commit_req_topic ct = {S(topic), {{0}}, {&p, 1}};
	struct kc_offset_commit_req q = {S(group), -1, S(""), {NULL, -1}, -1,
					 {&ct, 1}};
	uint64_t t = send_groups(KC_API_OFFSET_COMMIT, 7, &q);
	const struct kc_offset_commit_resp *r =
		kr_take(t, KC_API_OFFSET_COMMIT, 7);
	TL_EQ(r->topics.count, 1);
	const struct kc_offset_commit_resp_topic *rt = r->topics.items;
	TL_EQ(rt[0].partitions.count, 1);
	TL_EQ(((const struct kc_offset_commit_resp_partition *)
	       rt[0].partitions.items)[0].error_code, 0);
}

static bool pending(const char *group, const char *topic, int32_t partition)
{
	return sl_gtxn_pending(X, group, strlen(group), topic, strlen(topic),
			       partition);
}

static struct sl_gtxn_stats stats(void)
{
	struct sl_gtxn_stats s;
	sl_gtxn_stats(X, &s);
	return s;
}

/* Check record i: type, group, topic, partition, offset. */
static void check_rec(int i, uint8_t type, const char *group,
		      const char *topic, int32_t partition, int64_t offset)
{
	assert_true(i >= 0 && i < nrecs);
	TL_EQ(recs[i].type, type);
	assert_string_equal(recs[i].group, group);
	assert_string_equal(recs[i].topic, topic);
	TL_EQ(recs[i].partition, partition);
	TL_EQ(recs[i].offset, offset);
}

/* ---- setup ---- */

static int setup(void **state)
{
	(void)state;
	if (tl_tmpdir(g_dir, "control-gtxn"))
		return -1;
	tl_clock_init(&clk);
	seq = 0;
	nrecs = nstaged = batches = refused = 0;
	in_batch = refuse = false;
	coord_err = 0;
	opart = OPART;
	pstate = 0;
	pstate_calls = 0;
	pstate_last = -1;
	kr_setup();
	gcfg = (struct sl_groups_config){
		.retention_ms = RETENTION_MS, .clock = &clk.sl,
		.coordinates = groups_coordinates, .coordinates_ctx = &gcfg,
		.sink = &sink};
	char err[1024];
	int rc = sl_groups_open(g_dir, &gcfg, on_reply, &G, 0, &G, err,
				sizeof(err));
	if (rc) {
		fprintf(stderr, "sl_groups_open: %s\n", err);
		return -1;
	}
	xcfg = (struct sl_gtxn_config){
		.groups = G, .sink = &sink, .reply = on_reply, .reply_ctx = &X,
		.coordinates = coordinates, .partition_of = partition_of,
		.partition_state = partition_state, .ctx = &xcfg,
		.exists = exists, .exists_ctx = &xcfg};
	if (sl_gtxn_create(&xcfg, &X))
		return -1;
	sl_groups_set_pending(G, sl_gtxn_pending, X);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sl_gtxn_destroy(X);
	X = NULL;
	sl_groups_close(G);
	G = NULL;
	kr_teardown();
	tl_rmrf(g_dir);
	return 0;
}

/* ---- TxnOffsetCommit and the markers ---- */

static const struct part three[] = {
	{"orders", 0, 100, "m0"}, {"orders", 1, 101, NULL},
	{"payments", 4, 400, ""}};

/* Three offsets of producer 1000 at epoch 2 pending in group g. */
static void pend_three(void)
{
	txn_all(3, "tx", "g", 1000, 2, three, 3, 0);
}

static void test_txn_offset_commit_pending(void **state)
{
	(void)state;
	pend_three();
	/* one batch: a TXN record per partition, with the producer */
	TL_EQ(batches, 1);
	TL_EQ(nrecs, 3);
	for (int i = 0; i < 3; i++) {
		int at = find_rec(0, SL_OFFSETS_TXN, "g", three[i].topic,
				  three[i].partition);
		check_rec(at, SL_OFFSETS_TXN, "g", three[i].topic,
			  three[i].partition, three[i].offset);
		TL_EQ(recs[at].pid, 1000);
		TL_EQ(recs[at].epoch, 2);
		TL_EQ(recs[at].leader_epoch, 4);
	}
	TL_EQ(recs[find_rec(0, SL_OFFSETS_TXN, "g", "orders", 1)].meta_len,
	      -1);
	TL_EQ(recs[find_rec(0, SL_OFFSETS_TXN, "g", "orders", 0)].meta_len,
	      2);
	struct sl_gtxn_stats s = stats();
	TL_EQ(s.offsets, 3);
	TL_EQ(s.pending, 3);
	TL_EQ(s.committed, 0);
	TL_EQ(s.fenced, 0);
	/* pending, of those partitions of that group only */
	TL_TRUE(pending("g", "orders", 0));
	TL_TRUE(pending("g", "orders", 1));
	TL_TRUE(pending("g", "payments", 4));
	TL_TRUE(!pending("g", "orders", 2));
	TL_TRUE(!pending("g", "payments", 0));
	TL_TRUE(!pending("h", "orders", 0));
	TL_TRUE(!pending("g", "order", 0));
	/* not committed yet: -1, and unstable when asked for stable */
	TL_EQ(committed("g", "orders", 0), -1);
	TL_EQ(committed("g", "payments", 4), -1);
	TL_EQ(stable_code("g", "orders", 0), ERR_UNSTABLE_OFFSET_COMMIT);
	TL_EQ(stable_code("g", "payments", 4), ERR_UNSTABLE_OFFSET_COMMIT);
	TL_EQ(stable_code("g", "orders", 2), 0);
	TL_EQ(stable_code("h", "orders", 0), 0);
	/* v2 (no member check) and v4 take offsets too; the same partition
	 * again replaces the pending offset */
	const struct part again = {"orders", 0, 150, NULL};
	txn_all(2, "tx", "g", 1000, 2, &again, 1, 0);
	const struct part more = {"orders", 3, 103, NULL};
	txn_all(4, "tx", "g", 1000, 2, &more, 1, 0);
	s = stats();
	TL_EQ(s.offsets, 5);
	TL_EQ(s.pending, 4);
	TL_EQ(nrecs, 5);
	TL_EQ(batches, 3);
	check_rec(3, SL_OFFSETS_TXN, "g", "orders", 0, 150);
	check_rec(4, SL_OFFSETS_TXN, "g", "orders", 3, 103);
	/* nothing reached the groups' committed offsets */
	TL_EQ(count_recs(0, SL_OFFSETS_COMMIT), 0);
	TL_EQ(kr_untaken(), 0);
}

static void test_commit_marker(void **state)
{
	(void)state;
	pend_three();
	TL_EQ(nrecs, 3);
	TL_EQ(marker(1000, 2, true), 0);
	TL_EQ(pstate_calls, 1);
	TL_EQ(pstate_last, OPART);
	/* the offsets are the group's committed offsets now */
	struct fetched f = fetch("g", "orders", 0, false);
	TL_EQ(f.offset, 100);
	TL_EQ(f.leader_epoch, 4);
	assert_string_equal(f.meta, "m0");
	f = fetch("g", "orders", 1, false);
	TL_EQ(f.offset, 101);
	assert_string_equal(f.meta, "(null)");
	TL_EQ(committed("g", "payments", 4), 400);
	/* and stable */
	f = fetch("g", "orders", 0, true);
	TL_EQ(f.error_code, 0);
	TL_EQ(f.offset, 100);
	/* the records: OffsetCommit records of each (the groups
	 * coordinator's batch), then a TXN_END tombstone of each */
	TL_EQ(nrecs, 9);
	TL_EQ(batches, 3);
	TL_EQ(count_recs(3, SL_OFFSETS_COMMIT), 3);
	TL_EQ(count_recs(3, SL_OFFSETS_TXN_END), 3);
	for (int i = 0; i < 3; i++) {
		int c = find_rec(3, SL_OFFSETS_COMMIT, "g", three[i].topic,
				 three[i].partition);
		int e = find_rec(3, SL_OFFSETS_TXN_END, "g", three[i].topic,
				 three[i].partition);
		check_rec(c, SL_OFFSETS_COMMIT, "g", three[i].topic,
			  three[i].partition, three[i].offset);
		TL_EQ(recs[c].leader_epoch, 4);
		TL_TRUE(c >= 3 && c < 6);
		TL_TRUE(e >= 6 && e < 9);
		TL_EQ(recs[e].pid, 1000);
		TL_EQ(recs[e].epoch, 2);
	}
	TL_TRUE(!pending("g", "orders", 0));
	TL_TRUE(!pending("g", "payments", 4));
	struct sl_gtxn_stats s = stats();
	TL_EQ(s.pending, 0);
	TL_EQ(s.committed, 3);
	TL_EQ(s.aborted, 0);
	TL_EQ(s.markers, 1);
	TL_EQ(s.markers_refused, 0);
	/* the same marker again (the writer retrying): nothing to do */
	TL_EQ(marker(1000, 2, true), 0);
	TL_EQ(nrecs, 9);
	TL_EQ(batches, 3);
	TL_EQ(stats().markers, 2);
	TL_EQ(committed("g", "orders", 0), 100);
	/* the next transaction of the producer replaces them */
	const struct part next = {"orders", 0, 120, NULL};
	txn_all(3, "tx", "g", 1000, 2, &next, 1, 0);
	TL_EQ(committed("g", "orders", 0), 100);
	TL_EQ(marker(1000, 2, true), 0);
	TL_EQ(committed("g", "orders", 0), 120);
	TL_EQ(committed("g", "orders", 1), 101);
}

static void test_commit_replaces_plain_commit(void **state)
{
	(void)state;
	plain_commit("g", "orders", 0, 10);
	TL_EQ(nrecs, 1);
	check_rec(0, SL_OFFSETS_COMMIT, "g", "orders", 0, 10);
	const struct part p = {"orders", 0, 50, NULL};
	txn_all(3, "tx", "g", 1000, 2, &p, 1, 0);
	/* a plain commit between the two: visible until the marker */
	plain_commit("g", "orders", 0, 70);
	TL_EQ(committed("g", "orders", 0), 70);
	TL_EQ(stable_code("g", "orders", 0), ERR_UNSTABLE_OFFSET_COMMIT);
	TL_EQ(marker(1000, 2, true), 0);
	/* the transaction's offset wins (the deviation gtxn.h names) */
	TL_EQ(committed("g", "orders", 0), 50);
}

static void test_abort_marker(void **state)
{
	(void)state;
	plain_commit("g", "orders", 0, 10);
	pend_three();
	TL_EQ(nrecs, 4);
	TL_EQ(marker(1000, 2, false), 0);
	/* dropped: the tombstones alone */
	TL_EQ(nrecs, 7);
	TL_EQ(count_recs(4, SL_OFFSETS_TXN_END), 3);
	TL_EQ(count_recs(4, SL_OFFSETS_COMMIT), 0);
	for (int i = 0; i < 3; i++) {
		int e = find_rec(4, SL_OFFSETS_TXN_END, "g", three[i].topic,
				 three[i].partition);
		TL_TRUE(e >= 4);
		TL_EQ(recs[e].pid, 1000);
	}
	/* what was committed before stays */
	TL_EQ(committed("g", "orders", 0), 10);
	TL_EQ(committed("g", "orders", 1), -1);
	TL_EQ(committed("g", "payments", 4), -1);
	TL_EQ(stable_code("g", "orders", 0), 0);
	TL_TRUE(!pending("g", "orders", 1));
	struct sl_gtxn_stats s = stats();
	TL_EQ(s.pending, 0);
	TL_EQ(s.aborted, 3);
	TL_EQ(s.committed, 0);
	TL_EQ(s.markers, 1);
	/* a COMMIT after the ABORT has nothing left */
	TL_EQ(marker(1000, 2, true), 0);
	TL_EQ(nrecs, 7);
	TL_EQ(committed("g", "orders", 1), -1);
}

/* ---- fencing ---- */

static void test_fencing(void **state)
{
	(void)state;
	const struct part p5[] = {{"t", 0, 10, NULL}, {"t", 1, 11, NULL}};
	txn_all(2, "tx", "g", 6000, 5, p5, 2, 0);
	TL_EQ(nrecs, 2);
	/* a lower epoch: fenced, as each version says it */
	const struct part low = {"t", 0, 99, NULL};
	txn_all(2, "tx", "g", 6000, 4, &low, 1, ERR_PRODUCER_FENCED);
	txn_all(3, "tx", "g", 6000, 4, &low, 1, ERR_PRODUCER_FENCED);
	txn_all(1, "tx", "g", 6000, 4, &low, 1, ERR_INVALID_PRODUCER_EPOCH);
	txn_all(0, "tx", "g", 6000, 0, &low, 1, ERR_INVALID_PRODUCER_EPOCH);
	struct sl_gtxn_stats s = stats();
	TL_EQ(s.fenced, 4);
	TL_EQ(s.offsets, 2);
	TL_EQ(s.pending, 2);
	TL_EQ(nrecs, 2);
	TL_EQ(batches, 1);
	/* another producer is not fenced by it */
	const struct part other = {"u", 0, 1, NULL};
	txn_all(2, "ty", "g", 6001, 0, &other, 1, 0);
	TL_EQ(nrecs, 3);
	/* a higher epoch: the older instance's offsets go, with their
	 * tombstones before the new TXN record */
	const struct part p6 = {"t", 2, 12, NULL};
	txn_all(2, "tx", "g", 6000, 6, &p6, 1, 0);
	TL_EQ(nrecs, 6);
	TL_EQ(batches, 4);
	int e0 = find_rec(3, SL_OFFSETS_TXN_END, "g", "t", 0);
	int e1 = find_rec(3, SL_OFFSETS_TXN_END, "g", "t", 1);
	TL_TRUE(e0 >= 3 && e0 < 5);
	TL_TRUE(e1 >= 3 && e1 < 5);
	TL_EQ(recs[e0].pid, 6000);
	TL_EQ(recs[e0].epoch, 5);
	check_rec(5, SL_OFFSETS_TXN, "g", "t", 2, 12);
	TL_EQ(recs[5].epoch, 6);
	TL_TRUE(!pending("g", "t", 0));
	TL_TRUE(!pending("g", "t", 1));
	TL_TRUE(pending("g", "t", 2));
	TL_TRUE(pending("g", "u", 0));
	s = stats();
	TL_EQ(s.aborted, 2);
	TL_EQ(s.pending, 2);
	/* epoch 5 is fenced now */
	txn_all(2, "tx", "g", 6000, 5, &low, 1, ERR_PRODUCER_FENCED);
	/* a marker of a higher epoch ends the offsets of lower ones: this
	 * ABORT drops epoch 6's, and fences epoch 6 */
	TL_EQ(marker(6000, 7, false), 0);
	TL_EQ(nrecs, 7);
	check_rec(6, SL_OFFSETS_TXN_END, "g", "t", 2, 12);
	TL_TRUE(!pending("g", "t", 2));
	TL_TRUE(pending("g", "u", 0)); /* another producer's */
	txn_all(2, "tx", "g", 6000, 6, &low, 1, ERR_PRODUCER_FENCED);
	/* epoch 7 goes on, and its COMMIT commits its offsets alone */
	const struct part p7 = {"t", 3, 13, NULL};
	txn_all(2, "tx", "g", 6000, 7, &p7, 1, 0);
	TL_EQ(marker(6000, 7, true), 0);
	TL_EQ(committed("g", "t", 0), -1);
	TL_EQ(committed("g", "t", 1), -1);
	TL_EQ(committed("g", "t", 2), -1);
	TL_EQ(committed("g", "t", 3), 13);
	TL_EQ(committed("g", "u", 0), -1);
	TL_TRUE(pending("g", "u", 0));
	s = stats();
	TL_EQ(s.fenced, 6);
	TL_EQ(s.committed, 1);
	TL_EQ(s.aborted, 3);
	TL_EQ(s.pending, 1);
	/* a COMMIT marker's epoch fences too */
	txn_all(2, "ty", "g", 6001, 0, &other, 1, 0);
	TL_EQ(marker(6001, 3, true), 0);
	TL_EQ(committed("g", "u", 0), 1);
	txn_all(2, "ty", "g", 6001, 2, &other, 1, ERR_PRODUCER_FENCED);
}

/* ---- the checks of TxnOffsetCommit ---- */

static void test_checks(void **state)
{
	(void)state;
	const struct part p[] = {{"t", 0, 5, NULL}, {"t", 1, 6, NULL}};
	/* in order: the transactional id first, then the group, where it is
	 * coordinated, the producer */
	txn_all(3, "", "g", 1, 0, p, 2, ERR_INVALID_REQUEST);
	txn_all(3, "", "", -1, 0, p, 2, ERR_INVALID_REQUEST);
	txn_all(3, "tx", "", 1, 0, p, 2, ERR_INVALID_GROUP_ID);
	char longid[SL_GROUPS_NAME_MAX + 2];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = 0;
	txn_all(3, "tx", longid, 1, 0, p, 2, ERR_INVALID_GROUP_ID);
	coord_err = ERR_NOT_COORDINATOR;
	txn_all(3, "tx", "g", 1, 0, p, 2, ERR_NOT_COORDINATOR);
	txn_all(3, "tx", "g", -1, 0, p, 2, ERR_NOT_COORDINATOR);
	txn_all(3, "tx", "", 1, 0, p, 2, ERR_INVALID_GROUP_ID);
	coord_err = ERR_COORDINATOR_LOAD_IN_PROGRESS;
	txn_all(1, "tx", "g", 1, 0, p, 2, ERR_COORDINATOR_LOAD_IN_PROGRESS);
	coord_err = 0;
	opart = -1; /* no partition of __consumer_offsets for it */
	txn_all(3, "tx", "g", 1, 0, p, 2, ERR_NOT_COORDINATOR);
	opart = OPART;
	txn_all(3, "tx", "g", -1, 0, p, 2, ERR_INVALID_PRODUCER_ID_MAPPING);
	txn_all(3, "tx", "g", 1, -1, p, 2, ERR_INVALID_PRODUCER_ID_MAPPING);
	/* v3+: the member and generation, as the groups coordinator says */
	int16_t codes[16];
	txn_commit_as(3, "tx", "g", 1, 0, -1, "m-1", p, 2, codes);
	TL_EQ(codes[0], ERR_UNKNOWN_MEMBER_ID);
	TL_EQ(codes[1], ERR_UNKNOWN_MEMBER_ID);
	txn_commit_as(3, "tx", "g", 1, 0, 4, "", p, 2, codes);
	TL_EQ(codes[0], ERR_ILLEGAL_GENERATION);
	TL_EQ(nrecs, 0);
	TL_EQ(refused, 0);
	struct sl_gtxn_stats s = stats();
	TL_EQ(s.offsets, 0);
	TL_EQ(s.pending, 0);
	TL_EQ(s.fenced, 0);
	TL_TRUE(!pending("g", "t", 0));

	/* per partition: an unknown topic or partition, metadata too long;
	 * the others are taken */
	static char meta[SL_OFFSETS_META_MAX + 2];
	memset(meta, 'm', SL_OFFSETS_META_MAX + 1);
	meta[SL_OFFSETS_META_MAX + 1] = 0;
	const struct part mixed[] = {
		{"gone", 0, 1, NULL}, {"t", 0, 5, NULL}, {"t", 100, 6, NULL},
		{"t", 2, 7, meta}, {"t", 3, 8, meta + 1}};
	txn_commit(2, "tx", "g", 1, 0, mixed, 5, codes);
	TL_EQ(codes[0], ERR_UNKNOWN_TOPIC_OR_PARTITION);
	TL_EQ(codes[1], 0);
	TL_EQ(codes[2], ERR_UNKNOWN_TOPIC_OR_PARTITION);
	TL_EQ(codes[3], ERR_OFFSET_METADATA_TOO_LARGE);
	TL_EQ(codes[4], 0); /* SL_OFFSETS_META_MAX itself fits */
	TL_EQ(nrecs, 2);
	check_rec(0, SL_OFFSETS_TXN, "g", "t", 0, 5);
	check_rec(1, SL_OFFSETS_TXN, "g", "t", 3, 8);
	TL_EQ(recs[1].meta_len, SL_OFFSETS_META_MAX);
	TL_TRUE(pending("g", "t", 0));
	TL_TRUE(pending("g", "t", 3));
	TL_TRUE(!pending("gone", "t", 0));
	TL_TRUE(!pending("g", "gone", 0));
	TL_TRUE(!pending("g", "t", 2));
	TL_EQ(stats().offsets, 2);
	/* a partition refused alone keeps its code when the group's check
	 * fails the others */
	coord_err = ERR_NOT_COORDINATOR;
	txn_commit(2, "tx", "g", 1, 0, mixed, 2, codes);
	TL_EQ(codes[0], ERR_UNKNOWN_TOPIC_OR_PARTITION);
	TL_EQ(codes[1], ERR_NOT_COORDINATOR);
	coord_err = 0;

	/* the store refusing the batch: NOT_COORDINATOR, nothing pending */
	refuse = true;
	const struct part q[] = {{"v", 0, 1, NULL}, {"v", 1, 2, NULL}};
	txn_all(2, "tx", "h", 2, 0, q, 2, ERR_NOT_COORDINATOR);
	TL_EQ(refused, 1);
	TL_EQ(nrecs, 2);
	TL_TRUE(!pending("h", "v", 0));
	TL_TRUE(!pending("h", "v", 1));
	s = stats();
	TL_EQ(s.offsets, 2);
	TL_EQ(s.pending, 2);
	TL_EQ(stable_code("h", "v", 0), 0);
	/* and once it takes batches again, the same request is taken */
	refuse = false;
	txn_all(2, "tx", "h", 2, 0, q, 2, 0);
	TL_EQ(nrecs, 4);
	TL_TRUE(pending("h", "v", 0));
	TL_EQ(stats().pending, 4);
	TL_EQ(kr_untaken(), 0);
}

/* ---- markers not handled here ---- */

static void test_marker_not_loaded(void **state)
{
	(void)state;
	const struct part p[] = {{"t", 0, 30, NULL}, {"t", 1, 31, NULL}};
	txn_all(3, "tx", "g", 5000, 1, p, 2, 0);
	TL_EQ(nrecs, 2);
	/* the partition is being loaded, or is not this broker's: the
	 * marker is refused, the offsets stay pending */
	pstate = ERR_COORDINATOR_LOAD_IN_PROGRESS;
	TL_EQ(marker(5000, 1, true), ERR_COORDINATOR_LOAD_IN_PROGRESS);
	TL_EQ(pstate_calls, 1);
	TL_EQ(pstate_last, OPART);
	pstate = ERR_NOT_COORDINATOR;
	TL_EQ(marker(5000, 1, false), ERR_NOT_COORDINATOR);
	TL_TRUE(pending("g", "t", 0));
	TL_TRUE(pending("g", "t", 1));
	TL_EQ(committed("g", "t", 0), -1);
	TL_EQ(stable_code("g", "t", 0), ERR_UNSTABLE_OFFSET_COMMIT);
	TL_EQ(nrecs, 2);
	struct sl_gtxn_stats s = stats();
	TL_EQ(s.markers, 0);
	TL_EQ(s.markers_refused, 2);
	TL_EQ(s.pending, 2);
	pstate = 0;
	/* a marker of another topic: answered 0, not this module's */
	int32_t parts[2] = {OPART, 0};
	int16_t codes[2];
	marker_of(5000, 1, true, "t", parts, 2, codes);
	TL_EQ(codes[0], 0);
	TL_EQ(codes[1], 0);
	TL_EQ(pstate_calls, 2);
	/* another partition of __consumer_offsets, another producer: 0,
	 * and the offsets stay pending */
	parts[0] = OPART + 1;
	marker_of(5000, 1, true, OFFSETS_TOPIC, parts, 1, codes);
	TL_EQ(codes[0], 0);
	TL_EQ(pstate_last, OPART + 1);
	TL_EQ(marker(5001, 1, true), 0);
	TL_EQ(nrecs, 2);
	TL_TRUE(pending("g", "t", 0));
	TL_TRUE(pending("g", "t", 1));
	TL_EQ(committed("g", "t", 0), -1);
	s = stats();
	TL_EQ(s.pending, 2);
	TL_EQ(s.committed, 0);
	TL_EQ(s.markers, 2);
	/* the store refusing the groups coordinator's commit: refused too,
	 * still pending */
	refuse = true;
	TL_EQ(marker(5000, 1, true), ERR_NOT_COORDINATOR);
	TL_EQ(refused, 1);
	TL_TRUE(pending("g", "t", 0));
	TL_EQ(committed("g", "t", 0), -1);
	TL_EQ(stats().pending, 2);
	refuse = false;
	/* once loaded and taken: committed */
	TL_EQ(marker(5000, 1, true), 0);
	TL_EQ(committed("g", "t", 0), 30);
	TL_EQ(committed("g", "t", 1), 31);
	TL_TRUE(!pending("g", "t", 0));
	TL_EQ(count_recs(2, SL_OFFSETS_COMMIT), 2);
	TL_EQ(count_recs(2, SL_OFFSETS_TXN_END), 2);
	s = stats();
	TL_EQ(s.committed, 2);
	TL_EQ(s.markers_refused, 3);
}

/* ---- loads ---- */

static struct sl_offsets_rec load_rec(uint8_t type, const char *group,
				      const char *topic, int32_t partition,
				      int64_t offset, int64_t pid,
				      int16_t epoch)
{
	return (struct sl_offsets_rec){
		.type = type, .group_len = (uint16_t)strlen(group),
		.group = group, .topic_len = (uint16_t)strlen(topic),
		.topic = topic, .partition = partition, .offset = offset,
		.leader_epoch = 9, .meta_len = 2, .meta = "lm",
		.time_ms = clk.wall_ms, .producer_id = pid,
		.producer_epoch = epoch};
}

static void load(int32_t p, uint8_t type, const char *group,
		 const char *topic, int32_t partition, int64_t offset,
		 int64_t pid, int16_t epoch)
{
	struct sl_offsets_rec r = load_rec(type, group, topic, partition,
					   offset, pid, epoch);
	sl_gtxn_load_record(X, p, &r);
}

static void test_load(void **state)
{
	(void)state;
	/* TXN records make offsets pending */
	load(OPART, SL_OFFSETS_TXN, "lg", "t", 0, 11, 4000, 2);
	load(OPART, SL_OFFSETS_TXN, "lg", "t", 1, 12, 4000, 2);
	TL_TRUE(pending("lg", "t", 0));
	TL_TRUE(pending("lg", "t", 1));
	TL_EQ(stats().pending, 2);
	TL_EQ(stable_code("lg", "t", 0), ERR_UNSTABLE_OFFSET_COMMIT);
	/* their COMMIT marker: committed in memory, nothing written */
	sl_gtxn_load_marker(X, OPART, 4000, 2, true);
	struct fetched f = fetch("lg", "t", 0, false);
	TL_EQ(f.offset, 11);
	TL_EQ(f.leader_epoch, 9);
	assert_string_equal(f.meta, "lm");
	TL_EQ(committed("lg", "t", 1), 12);
	TL_TRUE(!pending("lg", "t", 0));
	struct sl_gtxn_stats s = stats();
	TL_EQ(s.pending, 0);
	TL_EQ(s.committed, 2);
	TL_EQ(s.markers, 1);
	/* a TXN record and its TXN_END: not pending */
	load(OPART, SL_OFFSETS_TXN, "lg", "t", 2, 13, 4001, 0);
	TL_TRUE(pending("lg", "t", 2));
	load(OPART, SL_OFFSETS_TXN_END, "lg", "t", 2, 13, 4001, 0);
	TL_TRUE(!pending("lg", "t", 2));
	TL_EQ(stats().pending, 0);
	/* the TXN_END of another producer ends nothing */
	load(OPART, SL_OFFSETS_TXN, "lg", "t", 3, 14, 4001, 0);
	load(OPART, SL_OFFSETS_TXN_END, "lg", "t", 3, 14, 4099, 0);
	TL_TRUE(pending("lg", "t", 3));
	/* an ABORT marker drops them: what was committed stays */
	load(OPART, SL_OFFSETS_TXN, "lg", "t", 0, 99, 4002, 0);
	sl_gtxn_load_marker(X, OPART, 4002, 0, false);
	TL_EQ(committed("lg", "t", 0), 11);
	TL_TRUE(!pending("lg", "t", 0));
	TL_EQ(stats().aborted, 1);
	/* a marker fences: a TXN record of a lower epoch after it is not
	 * kept, and neither is a TxnOffsetCommit of that epoch */
	sl_gtxn_load_marker(X, OPART, 4003, 5, false);
	load(OPART, SL_OFFSETS_TXN, "lg", "t", 4, 15, 4003, 4);
	TL_TRUE(!pending("lg", "t", 4));
	/* nothing of the load reached the sink */
	TL_EQ(nrecs, 0);
	TL_EQ(batches, 0);
	TL_EQ(refused, 0);
	const struct part p = {"t", 5, 16, NULL};
	txn_all(2, "tx", "lg", 4003, 4, &p, 1, ERR_PRODUCER_FENCED);
	/* a TXN record of a newer epoch: kept, and fences the older */
	load(OPART, SL_OFFSETS_TXN, "lg", "t", 4, 15, 4003, 6);
	TL_TRUE(pending("lg", "t", 4));
	txn_all(2, "tx", "lg", 4003, 5, &p, 1, ERR_PRODUCER_FENCED);
	/* a loaded offset's COMMIT sent by the marker writer later */
	TL_EQ(marker(4001, 0, true), 0);
	TL_EQ(committed("lg", "t", 3), 14);
	TL_EQ(count_recs(0, SL_OFFSETS_COMMIT), 1);
	TL_EQ(count_recs(0, SL_OFFSETS_TXN_END), 1);
	check_rec(find_rec(0, SL_OFFSETS_TXN_END, "lg", "t", 3),
		  SL_OFFSETS_TXN_END, "lg", "t", 3, 14);
	TL_EQ(nrecs, 2);
}

static void test_unload(void **state)
{
	(void)state;
	load(OPART, SL_OFFSETS_TXN, "a", "t", 0, 1, 4004, 0);
	load(OPART + 1, SL_OFFSETS_TXN, "b", "t", 1, 2, 4005, 0);
	TL_EQ(stats().pending, 2);
	/* partition 7 moves away: its offsets are forgotten, 8's stay */
	sl_gtxn_unload(X, OPART);
	TL_TRUE(!pending("a", "t", 0));
	TL_TRUE(pending("b", "t", 1));
	TL_EQ(stats().pending, 1);
	/* a marker of the producer whose offsets were forgotten commits
	 * nothing */
	TL_EQ(marker(4004, 0, true), 0);
	TL_EQ(committed("a", "t", 0), -1);
	TL_EQ(nrecs, 0);
	/* its fences go with it: an older epoch is taken again */
	sl_gtxn_load_marker(X, OPART, 4006, 9, false);
	const struct part p = {"t", 0, 3, NULL};
	txn_all(2, "tx", "a", 4006, 8, &p, 1, ERR_PRODUCER_FENCED);
	sl_gtxn_unload(X, OPART);
	txn_all(2, "tx", "a", 4006, 8, &p, 1, 0);
	TL_TRUE(pending("a", "t", 0));
	TL_TRUE(pending("b", "t", 1));
	/* -1: every partition */
	sl_gtxn_unload(X, -1);
	TL_TRUE(!pending("a", "t", 0));
	TL_TRUE(!pending("b", "t", 1));
	TL_EQ(stats().pending, 0);
}

/* ---- a load of what was written agrees with memory ---- */

/* In recs, the marker the partition's leader writes before this module is
 * told (offset: 1 for a COMMIT). */
#define MARKER_REC 0x80

/* A marker written to the log, then handled here. */
static void logged_marker(int64_t pid, int16_t epoch, bool commit)
{
	assert_true(nrecs < RECS_MAX);
	recs[nrecs++] = (struct rec){.type = MARKER_REC, .offset = commit,
				     .pid = pid, .epoch = epoch};
	TL_EQ(marker(pid, epoch, commit), 0);
}

/* What a new coordinator of the partition holds: every pending offset
 * forgotten, then the log (recs) loaded in order; nothing is written. */
static void reload(void)
{
	int before = nrecs;
	sl_gtxn_unload(X, -1);
	TL_EQ(stats().pending, 0);
	for (int i = 0; i < before; i++) {
		const struct rec *c = &recs[i];
		if (c->type == MARKER_REC) {
			sl_gtxn_load_marker(X, OPART, c->pid, c->epoch,
					    c->offset != 0);
			continue;
		}
		struct sl_offsets_rec r = {
			.type = c->type,
			.group_len = (uint16_t)strlen(c->group),
			.group = c->group,
			.topic_len = (uint16_t)strlen(c->topic),
			.topic = c->topic, .partition = c->partition,
			.offset = c->offset, .leader_epoch = c->leader_epoch,
			.meta_len = -1, .time_ms = clk.wall_ms,
			.producer_id = c->pid, .producer_epoch = c->epoch};
		if (c->type == SL_OFFSETS_COMMIT)
			TL_EQ(sl_groups_load_record(G, &r), 0);
		else
			sl_gtxn_load_record(X, OPART, &r);
	}
	TL_EQ(nrecs, before);
}

/* Which of the partitions 0..n-1 of topic in group g are pending. */
static unsigned pending_set(const char *topic, int n)
{
	unsigned set = 0;
	for (int i = 0; i < n; i++)
		set |= (unsigned)pending("g", topic, i) << i;
	return set;
}

static void test_reload_agrees(void **state)
{
	(void)state;
	const struct part e1[] = {{"t", 0, 1, NULL}, {"t", 1, 2, NULL}};
	txn_all(2, "tx", "g", 7000, 1, e1, 2, 0);
	/* a new instance: epoch 1's offsets dropped */
	const struct part e2[] = {{"t", 1, 3, NULL}, {"t", 2, 4, NULL}};
	txn_all(2, "tx", "g", 7000, 2, e2, 2, 0);
	const struct part u = {"u", 0, 5, NULL};
	txn_all(2, "ty", "g", 7001, 0, &u, 1, 0);
	logged_marker(7001, 0, true);
	const struct part v0 = {"v", 0, 6, NULL};
	txn_all(2, "tz", "g", 7002, 0, &v0, 1, 0);
	logged_marker(7002, 0, false);
	const struct part v1 = {"v", 1, 7, NULL};
	txn_all(2, "tz", "g", 7002, 0, &v1, 1, 0);
	TL_EQ(pending_set("t", 4), 0x6);
	TL_EQ(pending_set("u", 2), 0x0);
	TL_EQ(pending_set("v", 2), 0x2);
	TL_EQ(stats().pending, 3);
	reload();
	TL_EQ(pending_set("t", 4), 0x6);
	TL_EQ(pending_set("u", 2), 0x0);
	TL_EQ(pending_set("v", 2), 0x2);
	TL_EQ(stats().pending, 3);
	/* and the fences: epoch 1 of 7000 is still fenced */
	txn_all(2, "tx", "g", 7000, 1, e1, 1, ERR_PRODUCER_FENCED);
	/* epoch 2's COMMIT commits epoch 2's offsets alone */
	logged_marker(7000, 2, true);
	TL_EQ(committed("g", "t", 0), -1);
	TL_EQ(committed("g", "t", 1), 3);
	TL_EQ(committed("g", "t", 2), 4);
	TL_EQ(committed("g", "u", 0), 5);
	TL_EQ(committed("g", "v", 0), -1);
}

/* A new epoch's TxnOffsetCommit whose batch the store refuses: what it
 * answered (NOT_COORDINATOR) must leave memory as a load of the log
 * would make it, so the fenced instance's offsets cannot come back. */
static void test_reload_after_refused_fence(void **state)
{
	(void)state;
	const struct part e1 = {"t", 0, 1, NULL};
	txn_all(2, "tx", "g", 7100, 1, &e1, 1, 0);
	TL_EQ(nrecs, 1);
	refuse = true;
	const struct part e2 = {"t", 1, 2, NULL};
	txn_all(2, "tx", "g", 7100, 2, &e2, 1, ERR_NOT_COORDINATOR);
	refuse = false;
	TL_EQ(nrecs, 1); /* the log holds epoch 1's TXN record alone */
	unsigned live = pending_set("t", 2);
	reload();
	TL_EQ(pending_set("t", 2), live);
	/* the client tries again; then its transaction commits */
	txn_all(2, "tx", "g", 7100, 2, &e2, 1, 0);
	live = pending_set("t", 2);
	reload();
	TL_EQ(pending_set("t", 2), live);
	logged_marker(7100, 2, true);
	TL_EQ(committed("g", "t", 1), 2);
	/* the fenced instance's offset is not committed */
	TL_EQ(committed("g", "t", 0), -1);
}

/* ---- requests that cannot be read ---- */

static void test_malformed(void **state)
{
	(void)state;
	TL_TRUE(sl_gtxn_serves(KC_API_TXN_OFFSET_COMMIT));
	TL_TRUE(sl_gtxn_serves(KC_API_WRITE_TXN_MARKERS));
	TL_TRUE(!sl_gtxn_serves(KC_API_OFFSET_COMMIT));
	TL_TRUE(!sl_gtxn_serves(KC_API_OFFSET_FETCH));

	/* every cut of a TxnOffsetCommit, flexible or not */
	static uint8_t whole[4096];
	struct kc_txn_offset_commit_req_topic topics[2];
	struct kc_txn_offset_commit_req_partition parts[3];
	struct kc_txn_offset_commit_req q;
	for (int16_t ver = 2; ver <= 3; ver++) {
		txn_body(&q, topics, parts, "tx", "g", 1000, 2, -1, "", three,
			 3);
		size_t n;
		const uint8_t *req = kr_request((uint64_t)3 << 32 | 1,
						KC_API_TXN_OFFSET_COMMIT, ver,
						&q, "client", &n);
		assert_true(n < sizeof(whole));
		memcpy(whole, req, n);
		for (size_t cut = 0; cut < n; cut++) {
			uint8_t *copy = malloc(cut + 1);
			assert_non_null(copy);
			memcpy(copy, whole, cut);
			TL_EQ(sl_gtxn_request(X, (uint64_t)3 << 32 | cut, copy,
					      cut), -EINVAL);
			free(copy);
		}
		/* a byte too many */
		whole[n] = 0;
		TL_EQ(sl_gtxn_request(X, (uint64_t)3 << 32 | 1, whole, n + 1),
		      -EINVAL);
	}
	/* and of a WriteTxnMarkers */
	int32_t idx = OPART;
	struct kc_write_txn_markers_req_writable_txn_marker_topic mt = {
		S(OFFSETS_TOPIC), {&idx, 1}};
	struct kc_write_txn_markers_req_writable_txn_marker m = {
		.producer_id = 1000, .producer_epoch = 2,
		.transaction_result = true, .topics = {&mt, 1}};
	struct kc_write_txn_markers_req wq = {{&m, 1}};
	size_t n;
	const uint8_t *req = kr_request((uint64_t)4 << 32 | 1,
					KC_API_WRITE_TXN_MARKERS, 1, &wq,
					"client", &n);
	assert_true(n <= sizeof(whole));
	memcpy(whole, req, n);
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *copy = malloc(cut + 1);
		assert_non_null(copy);
		memcpy(copy, whole, cut);
		TL_EQ(sl_gtxn_request(X, (uint64_t)4 << 32 | cut, copy, cut),
		      -EINVAL);
		free(copy);
	}
	/* a request of another API, whole: not this module's */
	int32_t part0 = 0;
	struct kc_offset_fetch_req_topic ft = {S("t"), {&part0, 1}};
	struct kc_offset_fetch_req fq = {.group_id = S("g"),
					 .topics = {&ft, 1}};
	req = kr_request((uint64_t)5 << 32 | 1, KC_API_OFFSET_FETCH, 5, &fq,
			 "client", &n);
	TL_EQ(sl_gtxn_request(X, (uint64_t)5 << 32 | 1, req, n), -EINVAL);
	/* no answer to any, nothing written, nothing pending */
	TL_EQ(kr_n, 0);
	TL_EQ(nrecs, 0);
	TL_EQ(refused, 0);
	TL_EQ(stats().pending, 0);
	TL_EQ(stats().offsets, 0);
	TL_EQ(stats().markers, 0);
	/* the whole request still works after them */
	pend_three();
	TL_EQ(stats().pending, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_txn_offset_commit_pending,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_marker, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_commit_replaces_plain_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_marker, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fencing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_marker_not_loaded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_agrees, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_reload_after_refused_fence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
