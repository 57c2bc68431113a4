/*
 * Unit tests of the transaction coordinator (control/txn.c) with the real
 * group coordinator beside it (control/groups.c) and real files: whole
 * Kafka requests built with the codec go in, the responses that come out
 * through the reply callback are decoded and checked, the markers handed
 * to the marker writer are captured (and said written when a test says
 * so), and the wall clock moves only when a test moves it.
 *
 * Every reply is checked to come once per request and to carry its
 * request's correlation id.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tl.h"
#include "kreplies.h"
#include "simdisk.h"
#include "control/groups.h"
#include "control/txn.h"
#include "control/txnlog.h"
#include "proto/kafka/kcodec.h"

#define T0 1000000
#define PID0 SL_TXN_PRODUCER_ID_FIRST
#define TIMEOUT_MS 60000

static char g_dir[PATH_MAX], t_dir[PATH_MAX], base_dir[PATH_MAX];
static struct sl_txn *T;
static struct sl_groups *G;
static int64_t now;
static uint64_t seq;
static struct tl_clock clk;
static struct sl_txn_config tcfg;

/* ---- replies and markers ---- */

#define JOBS_MAX 64
static struct job {
	uint64_t id;
	int64_t pid;
	int16_t epoch;
	bool commit;
	uint32_t n;
	char parts[256]; /* "t:0,t:1" */
} jobs[JOBS_MAX];
static int njobs;

static void on_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len)
{
	assert_ptr_equal(ctx, &T);
	kr_add(token, resp, len, SL_TXN_MAX_RESPONSE);
}

static void on_greply(void *ctx, uint64_t token, const uint8_t *resp,
		      size_t len)
{
	on_reply(&T, token, resp, len);
	(void)ctx;
}

static void on_markers(void *ctx, const struct sl_txn_markers *m)
{
	assert_null(ctx);
	assert_true(njobs < JOBS_MAX);
	struct job *j = &jobs[njobs++];
	*j = (struct job){m->id, m->producer_id, m->producer_epoch, m->commit,
			  m->n, ""};
	/* a single broker's 0, or the coordinator_epoch callback's */
	TL_EQ(m->coordinator_epoch,
	      tcfg.coordinator_epoch ?
		      tcfg.coordinator_epoch(tcfg.coordinates_ctx,
					     m->txn_id, m->txn_id_len) : 0);
	for (uint32_t i = 0; i < m->n; i++) {
		char one[64];
		snprintf(one, sizeof(one), "%s%.*s:%d", i ? "," : "",
			 (int)m->partitions[i].topic_len,
			 m->partitions[i].topic, m->partitions[i].partition);
		strncat(j->parts, one, sizeof(j->parts) - strlen(j->parts) - 1);
	}
}

static bool exists(void *ctx, const char *topic, size_t len, int32_t p)
{
	(void)ctx;
	/* topics "t" and "u" with 4 partitions each */
	return len == 1 && (topic[0] == 't' || topic[0] == 'u') && p < 4;
}

static bool pending(void *ctx, const char *group, size_t glen,
		    const char *topic, size_t tlen, int32_t partition)
{
	(void)ctx;
	return sl_txn_offset_pending(T, group, glen, topic, tlen, partition);
}

/* ---- requests ---- */

static uint64_t send_req(int16_t key, int16_t ver, const void *body)
{
	uint64_t t = (uint64_t)1 << 32 | ++seq;
	size_t n;
	const uint8_t *req = kr_request(t, key, ver, body, "client", &n);
	int rc = key == KC_API_OFFSET_FETCH ?
		 sl_groups_request(G, t, req, n, now) :
		 sl_txn_request(T, t, req, n, now);
	TL_EQ(rc, 0);
	return t;
}

struct pe { int64_t pid; int16_t epoch; int16_t err; };

static struct pe init_v(int16_t ver, const char *id, int32_t timeout,
			int64_t pid, int16_t epoch)
{
	struct kc_init_producer_id_req q = {S(id), timeout, pid, epoch, false, false};
	uint64_t t = send_req(KC_API_INIT_PRODUCER_ID, ver, &q);
	const struct kc_init_producer_id_resp *r =
		kr_take(t, KC_API_INIT_PRODUCER_ID, ver);
	if (r->error_code) {
		TL_EQ(r->producer_id, -1);
		TL_EQ(r->producer_epoch, -1);
	}
	return (struct pe){r->producer_id, r->producer_epoch, r->error_code};
}

static struct pe init(const char *id)
{
	return init_v(4, id, TIMEOUT_MS, -1, -1);
}

/* AddPartitionsToTxn v0-3 of "topic:partition" list; every partition's
 * code must be the same: it is returned. */
static int16_t add_parts_v(int16_t ver, const char *id, struct pe p,
			   const char *topic, const int32_t *parts, int n)
{
	struct kc_add_partitions_to_txn_req_topic tp = {S(topic),
							{(void *)parts, n}};
	struct kc_add_partitions_to_txn_req q = {
		.transactions = {NULL, 0},
		.v3_and_below_transactional_id = S(id),
		.v3_and_below_producer_id = p.pid,
		.v3_and_below_producer_epoch = p.epoch,
		.v3_and_below_topics = {&tp, 1}};
	uint64_t t = send_req(KC_API_ADD_PARTITIONS_TO_TXN, ver, &q);
	const struct kc_add_partitions_to_txn_resp *r =
		kr_take(t, KC_API_ADD_PARTITIONS_TO_TXN, ver);
	TL_EQ(r->results_by_topic_v3_and_below.count, 1);
	const struct kc_add_partitions_to_txn_resp_topic_result *rt =
		r->results_by_topic_v3_and_below.items;
	assert_true(streq(rt[0].name, topic));
	TL_EQ(rt[0].results_by_partition.count, n);
	const struct kc_add_partitions_to_txn_resp_partition_result *rp =
		rt[0].results_by_partition.items;
	for (int i = 1; i < n; i++)
		TL_EQ(rp[i].partition_error_code, rp[0].partition_error_code);
	return rp[0].partition_error_code;
}

static int16_t add_parts(const char *id, struct pe p, const char *topic,
			 int32_t n)
{
	int32_t parts[8];
	for (int i = 0; i < n; i++)
		parts[i] = i;
	return add_parts_v(3, id, p, topic, parts, n);
}

static int16_t end_txn_v(int16_t ver, const char *id, struct pe p,
			 bool commit)
{
	struct kc_end_txn_req q = {S(id), p.pid, p.epoch, commit};
	uint64_t t = send_req(KC_API_END_TXN, ver, &q);
	const struct kc_end_txn_resp *r = kr_take(t, KC_API_END_TXN, ver);
	if (ver >= 5 && r->error_code == 0) {
		TL_EQ(r->producer_id, p.pid);
		TL_EQ(r->producer_epoch, p.epoch);
	}
	return r->error_code;
}

static int16_t end_txn(const char *id, struct pe p, bool commit)
{
	return end_txn_v(3, id, p, commit);
}

static int16_t add_offsets_v(int16_t ver, const char *id, struct pe p,
			     const char *group)
{
	struct kc_add_offsets_to_txn_req q = {S(id), p.pid, p.epoch, S(group)};
	uint64_t t = send_req(KC_API_ADD_OFFSETS_TO_TXN, ver, &q);
	return ((const struct kc_add_offsets_to_txn_resp *)kr_take(
		t, KC_API_ADD_OFFSETS_TO_TXN, ver))->error_code;
}

/* TxnOffsetCommit of (topic, partition 0) at offset; the code. */
static int16_t txn_commit_v(int16_t ver, const char *id, struct pe p,
			    const char *group, const char *topic,
			    int64_t offset, int32_t generation,
			    const char *member)
{
	struct kc_txn_offset_commit_req_partition qp = {0, offset, -1,
							S("meta")};
	struct kc_txn_offset_commit_req_topic qt = {S(topic), {&qp, 1}};
	struct kc_txn_offset_commit_req q = {
		S(id), S(group), p.pid, p.epoch, generation, S(member),
		{NULL, -1}, {&qt, 1}};
	uint64_t t = send_req(KC_API_TXN_OFFSET_COMMIT, ver, &q);
	const struct kc_txn_offset_commit_resp *r =
		kr_take(t, KC_API_TXN_OFFSET_COMMIT, ver);
	TL_EQ(r->topics.count, 1);
	const struct kc_txn_offset_commit_resp_topic *rt = r->topics.items;
	TL_EQ(rt[0].partitions.count, 1);
	return ((const struct kc_txn_offset_commit_resp_partition *)
		rt[0].partitions.items)[0].error_code;
}

static int16_t txn_commit(const char *id, struct pe p, const char *group,
			  int64_t offset)
{
	return txn_commit_v(3, id, p, group, "t", offset, -1, "");
}

/* OffsetFetch v7 of (topic t, partition 0) with require_stable: the
 * offset, or -(error code) - 1000. */
static int64_t fetch(const char *group, bool stable)
{
	int32_t part = 0;
	struct kc_offset_fetch_req_topic ft = {S("t"), {&part, 1}};
	struct kc_offset_fetch_req q = {.group_id = S(group),
					.topics = {&ft, 1},
					.require_stable = stable};
	uint64_t t = send_req(KC_API_OFFSET_FETCH, 7, &q);
	const struct kc_offset_fetch_resp *r = kr_take(t, KC_API_OFFSET_FETCH, 7);
	const struct kc_offset_fetch_resp_topic *rt = r->topics.items;
	const struct kc_offset_fetch_resp_partition *rp = rt[0].partitions.items;
	if (rp[0].error_code)
		return -rp[0].error_code - 1000;
	return rp[0].committed_offset;
}

/* DescribeTransactions of n ids: their states, in the order asked. */
static const struct kc_describe_transactions_resp_transaction_state *
describe_ids(struct kc_str *ids, int32_t n)
{
	struct kc_describe_transactions_req q = {{ids, n}};
	uint64_t t = send_req(KC_API_DESCRIBE_TRANSACTIONS, 0, &q);
	const struct kc_describe_transactions_resp *r =
		kr_take(t, KC_API_DESCRIBE_TRANSACTIONS, 0);
	TL_EQ(r->transaction_states.count, n);
	return r->transaction_states.items;
}

/* DescribeTransactions of one id. */
static const struct kc_describe_transactions_resp_transaction_state *
describe(const char *id)
{
	struct kc_str s = S(id);
	const struct kc_describe_transactions_resp_transaction_state *d =
		describe_ids(&s, 1);
	assert_true(streq(d->transactional_id, id));
	return d;
}

static bool state_is(const char *id, const char *state)
{
	const struct kc_describe_transactions_resp_transaction_state *d =
		describe(id);
	TL_EQ(d->error_code, 0);
	if (!streq(d->transaction_state, state))
		fprintf(stderr, "%s is %.*s, not %s\n", id,
			(int)d->transaction_state.len,
			d->transaction_state.ptr, state);
	return streq(d->transaction_state, state);
}

static void markers_done(int j)
{
	assert_true(j < njobs);
	sl_txn_markers_done(T, jobs[j].id, now);
}

static void advance(int64_t ms)
{
	now += ms;
	clk.wall_ms += ms;
	sl_txn_tick(T, now);
}

/* ---- set-up ---- */

static void open_all(void)
{
	char err[1024];
	struct sl_groups_config gcfg = {
		.retention_ms = SL_GROUPS_RETENTION_MS_DEFAULT,
		.clock = &clk.sl };
	int rc = sl_groups_open(g_dir, &gcfg, on_greply, NULL, now, &G, err,
				sizeof(err));
	if (rc)
		fprintf(stderr, "sl_groups_open: %s\n", err);
	TL_OK(rc);
	tcfg.groups = G;
	rc = sl_txn_open(t_dir, &tcfg, on_reply, &T, now, &T, err,
			 sizeof(err));
	if (rc)
		fprintf(stderr, "sl_txn_open: %s\n", err);
	TL_OK(rc);
	sl_groups_set_pending(G, pending, NULL);
}

static void close_all(void)
{
	sl_txn_close(T);
	sl_groups_close(G);
	T = NULL;
	G = NULL;
}

static void reopen(void)
{
	close_all();
	open_all();
}

static int setup(void **state)
{
	(void)state;
	if (tl_tmpdir(base_dir, "control-txn"))
		return -1;
	tl_pathf(g_dir, "%s/groups", base_dir);
	tl_pathf(t_dir, "%s/transactions", base_dir);
	now = T0;
	tl_clock_init(&clk);
	tcfg = (struct sl_txn_config){
		.clock = &clk.sl, .markers = on_markers, .exists = exists};
	seq = 0;
	kr_setup();
	njobs = 0;
	open_all();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close_all();
	kr_teardown();
	tl_rmrf(base_dir);
	return 0;
}

/* ---- InitProducerId ---- */

static void test_init_producer_id(void **state)
{
	(void)state;
	struct pe a = init("a");
	TL_EQ(a.err, 0);
	TL_EQ(a.pid, PID0);
	TL_EQ(a.epoch, 0);
	struct pe b = init("b");
	TL_EQ(b.pid, PID0 + 1);
	TL_EQ(b.epoch, 0);
	/* again: the same id, the next epoch (the old producer fenced) */
	struct pe a2 = init_v(0, "a", TIMEOUT_MS, -1, -1);
	TL_EQ(a2.err, 0);
	TL_EQ(a2.pid, PID0);
	TL_EQ(a2.epoch, 1);
	TL_EQ(add_parts("a", a, "t", 1), SL_TXN_ERR_PRODUCER_FENCED);
	TL_EQ(add_parts_v(1, "a", a, "t", (int32_t[]){0}, 1),
	      SL_TXN_ERR_INVALID_PRODUCER_EPOCH);
	TL_EQ(end_txn_v(1, "a", a, true), SL_TXN_ERR_INVALID_PRODUCER_EPOCH);
	TL_EQ(end_txn_v(2, "a", a, true), SL_TXN_ERR_PRODUCER_FENCED);
	/* timeouts */
	TL_EQ(init_v(4, "c", 0, -1, -1).err,
	      SL_TXN_ERR_INVALID_TRANSACTION_TIMEOUT);
	TL_EQ(init_v(4, "c", SL_TXN_TIMEOUT_MAX_MS + 1, -1, -1).err,
	      SL_TXN_ERR_INVALID_TRANSACTION_TIMEOUT);
	TL_EQ(init_v(4, "c", SL_TXN_TIMEOUT_MAX_MS, -1, -1).err, 0);
	/* an empty id, an id without an epoch */
	TL_EQ(init_v(4, "", TIMEOUT_MS, -1, -1).err, SN_ERR_INVALID_REQUEST);
	TL_EQ(init_v(4, "d", TIMEOUT_MS, 5, -1).err, SN_ERR_INVALID_REQUEST);
	/* the counter survives a restart: no id handed twice */
	reopen();
	struct pe e = init("e");
	TL_EQ(e.pid, PID0 + 3);
	TL_EQ(init("a").epoch, 2);
}

/* In a cluster another broker coordinates some ids (struct
 * sl_txn_config coordinates), and the partition of others is still
 * loading: every request about one of them is answered NOT_COORDINATOR
 * or COORDINATOR_LOAD_IN_PROGRESS and changes nothing. */
static int16_t owns_mine(void *ctx, const char *id, size_t len)
{
	(void)ctx;
	if (len >= 4 && !memcmp(id, "mine", 4))
		return 0;
	if (len >= 4 && !memcmp(id, "load", 4))
		return KC_ERR_COORDINATOR_LOAD_IN_PROGRESS;
	return KC_ERR_NOT_COORDINATOR;
}

/* the ids' partition loaded at leader epoch 12 */
static int32_t epoch_mine(void *ctx, const char *id, size_t len)
{
	(void)ctx;
	return len >= 4 && !memcmp(id, "mine", 4) ? 12 : -1;
}

static void test_not_coordinator(void **state)
{
	(void)state;
	close_all();
	tcfg.coordinates = owns_mine;
	tcfg.coordinator_epoch = epoch_mine;
	open_all();
	struct pe o = init("other");
	TL_EQ(o.err, KC_ERR_NOT_COORDINATOR);
	TL_EQ(init("loading").err, KC_ERR_COORDINATOR_LOAD_IN_PROGRESS);
	struct pe m = init("mine-a");
	TL_EQ(m.err, 0);
	TL_EQ(m.pid, PID0); /* no id was taken for "other" */
	struct pe fake = {PID0, 0, 0};
	TL_EQ(add_parts("other", fake, "t", 2), KC_ERR_NOT_COORDINATOR);
	TL_EQ(add_offsets_v(3, "other", fake, "g"), KC_ERR_NOT_COORDINATOR);
	TL_EQ(end_txn("other", fake, true), KC_ERR_NOT_COORDINATOR);
	TL_EQ(add_parts("loading", fake, "t", 2),
	      KC_ERR_COORDINATOR_LOAD_IN_PROGRESS);
	TL_EQ(end_txn("loading", fake, false),
	      KC_ERR_COORDINATOR_LOAD_IN_PROGRESS);
	TL_EQ(add_parts("mine-a", m, "t", 2), 0);
	int before = njobs;
	TL_EQ(end_txn("mine-a", m, true), 0);
	/* its markers went out at the coordinator epoch (on_markers
	 * checked that it was 12) */
	TL_EQ(njobs, before + 1);
	struct kc_str ids[2] = {S("other"), S("mine-a")};
	const struct kc_describe_transactions_resp_transaction_state *ds =
		describe_ids(ids, 2);
	TL_EQ(ds[0].error_code, KC_ERR_NOT_COORDINATOR);
	TL_EQ(ds[1].error_code, 0);
}

/* KIP-360: a producer gives its id and epoch back. */
static void test_init_kip360(void **state)
{
	(void)state;
	struct pe a = init("a");
	/* the current one: the next epoch, the old one kept as last */
	struct pe a1 = init_v(3, "a", TIMEOUT_MS, a.pid, a.epoch);
	TL_EQ(a1.err, 0);
	TL_EQ(a1.epoch, 1);
	/* a retry of that call (the answer was lost): the same answer */
	struct pe again = init_v(3, "a", TIMEOUT_MS, a.pid, a.epoch);
	TL_EQ(again.err, 0);
	TL_EQ(again.epoch, 1);
	/* another producer id: fenced, v4+ PRODUCER_FENCED */
	TL_EQ(init_v(4, "a", TIMEOUT_MS, a.pid + 7, 0).err,
	      SL_TXN_ERR_PRODUCER_FENCED);
	TL_EQ(init_v(3, "a", TIMEOUT_MS, a.pid + 7, 0).err,
	      SL_TXN_ERR_INVALID_PRODUCER_EPOCH);
	/* a new producer (no id given) clears the last epoch: the old epoch
	 * is fenced now */
	struct pe a2 = init("a");
	TL_EQ(a2.epoch, 2);
	TL_EQ(init_v(4, "a", TIMEOUT_MS, a.pid, 1).err,
	      SL_TXN_ERR_PRODUCER_FENCED);
}

static int ignore(void *arg, const struct sl_txnlog_rec *r)
{
	(void)arg;
	(void)r;
	return 0;
}

/* A log whose id is at epoch (written directly), then reopened. */
static void append_state(const char *id, int64_t pid, int16_t epoch,
			 uint8_t state)
{
	close_all();
	struct sl_txnlog *l;
	char err[256];
	TL_OK(sl_txnlog_open(&sdisk_posix, t_dir, ignore, NULL, &l, err,
			     sizeof(err)));
	struct sl_txnlog_rec r = {
		.type = SL_TXNLOG_STATE, .id_len = (uint16_t)strlen(id),
		.id = id, .producer_id = pid, .prev_producer_id = -1,
		.epoch = epoch, .last_epoch = -1, .timeout_ms = TIMEOUT_MS,
		.state = state, .start_ms = -1, .update_ms = clk.wall_ms};
	sl_txnlog_batch_begin(l);
	sl_txnlog_batch_add(l, &r);
	TL_OK(sl_txnlog_batch_end(l));
	sl_txnlog_close(l);
	open_all();
}

static void test_epoch_exhaustion(void **state)
{
	(void)state;
	init("x");
	append_state("x", PID0, INT16_MAX - 2, 0);
	struct pe p = init("x");
	TL_EQ(p.pid, PID0);
	TL_EQ(p.epoch, INT16_MAX - 1);
	/* exhausted, asked by the producer itself (KIP-360): a new
	 * producer id, epoch 0, the old epoch kept as the last */
	struct pe q = init_v(4, "x", TIMEOUT_MS, p.pid, p.epoch);
	TL_EQ(q.err, 0);
	TL_EQ(q.pid, PID0 + 1);
	TL_EQ(q.epoch, 0);
	/* a retry of it (the previous id, the exhausted epoch) is not
	 * fenced: the same answer */
	struct pe r = init_v(4, "x", TIMEOUT_MS, p.pid, p.epoch);
	TL_EQ(r.err, 0);
	TL_EQ(r.pid, PID0 + 1);
	TL_EQ(r.epoch, 0);
	/* the old producer is */
	TL_EQ(add_parts("x", p, "t", 1), SL_TXN_ERR_INVALID_PRODUCER_ID_MAPPING);
	/* exhausted, a new producer: a new producer id too */
	append_state("y", PID0 + 5, INT16_MAX - 1, 4);
	struct pe y = init("y");
	TL_EQ(y.err, 0);
	TL_EQ(y.pid, PID0 + 6);
	TL_EQ(y.epoch, 0);
}

static void test_commit_path(void **state)
{
	(void)state;
	struct pe p = init("a");
	assert_true(state_is("a", "Empty"));
	TL_EQ(describe("a")->transaction_start_time_ms, -1);
	TL_EQ(end_txn("a", p, true), SL_TXN_ERR_INVALID_TXN_STATE);
	TL_EQ(add_parts("a", p, "t", 2), 0);
	assert_true(state_is("a", "Ongoing"));
	const struct kc_describe_transactions_resp_transaction_state *d =
		describe("a");
	TL_EQ(d->transaction_start_time_ms, clk.wall_ms);
	TL_EQ(d->transaction_timeout_ms, TIMEOUT_MS);
	TL_EQ(d->producer_id, p.pid);
	TL_EQ(d->topics.count, 1);
	advance(10);
	TL_EQ(add_parts("a", p, "u", 1), 0);
	TL_EQ(add_parts("a", p, "t", 1), 0); /* already in: nothing new */
	d = describe("a");
	TL_EQ(d->transaction_start_time_ms, clk.wall_ms - 10);
	TL_EQ(d->topics.count, 2);
	/* the commit: answered once PrepareCommit is durable */
	TL_EQ(end_txn_v(5, "a", p, true), 0);
	TL_EQ(njobs, 1);
	assert_true(jobs[0].commit);
	TL_EQ(jobs[0].pid, p.pid);
	TL_EQ(jobs[0].epoch, p.epoch);
	assert_string_equal(jobs[0].parts, "t:0,t:1,u:0");
	assert_true(state_is("a", "PrepareCommit"));
	/* meanwhile: retries wait, the other outcome is refused */
	TL_EQ(end_txn("a", p, true), SL_TXN_ERR_CONCURRENT_TRANSACTIONS);
	TL_EQ(end_txn("a", p, false), SL_TXN_ERR_INVALID_TXN_STATE);
	TL_EQ(add_parts("a", p, "t", 1), SL_TXN_ERR_CONCURRENT_TRANSACTIONS);
	TL_EQ(add_offsets_v(3, "a", p, "g"),
	      SL_TXN_ERR_CONCURRENT_TRANSACTIONS);
	TL_EQ(init("a").err, SL_TXN_ERR_CONCURRENT_TRANSACTIONS);
	/* a stale job id is ignored */
	sl_txn_markers_done(T, jobs[0].id + 1, now);
	assert_true(state_is("a", "PrepareCommit"));
	markers_done(0);
	assert_true(state_is("a", "CompleteCommit"));
	TL_EQ(describe("a")->topics.count, 0);
	/* a retry of the EndTxn is answered NONE; the other outcome not */
	TL_EQ(end_txn("a", p, true), 0);
	TL_EQ(end_txn("a", p, false), SL_TXN_ERR_INVALID_TXN_STATE);
	/* the next transaction */
	TL_EQ(add_parts("a", p, "u", 2), 0);
	TL_EQ(end_txn("a", p, false), 0);
	TL_EQ(njobs, 2);
	assert_false(jobs[1].commit);
	assert_string_equal(jobs[1].parts, "u:0,u:1");
	markers_done(1);
	assert_true(state_is("a", "CompleteAbort"));
	TL_EQ(end_txn("a", p, false), 0);
	TL_EQ(end_txn("a", p, true), SL_TXN_ERR_INVALID_TXN_STATE);
	/* an empty transaction (only offsets, or nothing): no markers */
	TL_EQ(add_offsets_v(0, "a", p, "g"), 0);
	TL_EQ(end_txn("a", p, true), 0);
	TL_EQ(njobs, 2);
	assert_true(state_is("a", "CompleteCommit"));
}

static void test_producer_errors(void **state)
{
	(void)state;
	struct pe p = init("a");
	struct pe wrong = {p.pid + 1, p.epoch, 0};
	TL_EQ(add_parts("nosuch", p, "t", 1),
	      SL_TXN_ERR_INVALID_PRODUCER_ID_MAPPING);
	TL_EQ(add_parts("a", wrong, "t", 1),
	      SL_TXN_ERR_INVALID_PRODUCER_ID_MAPPING);
	TL_EQ(end_txn("a", wrong, true), SL_TXN_ERR_INVALID_PRODUCER_ID_MAPPING);
	TL_EQ(end_txn("nosuch", p, true),
	      SL_TXN_ERR_INVALID_PRODUCER_ID_MAPPING);
	TL_EQ(end_txn("", p, true), SN_ERR_INVALID_REQUEST);
	TL_EQ(add_offsets_v(3, "a", wrong, "g"),
	      SL_TXN_ERR_INVALID_PRODUCER_ID_MAPPING);
	TL_EQ(add_offsets_v(3, "a", p, ""), SL_TXN_ERR_INVALID_GROUP_ID);
	struct pe later = {p.pid, (int16_t)(p.epoch + 1), 0};
	TL_EQ(add_offsets_v(1, "a", later, "g"),
	      SL_TXN_ERR_INVALID_PRODUCER_EPOCH);
	TL_EQ(add_offsets_v(2, "a", later, "g"), SL_TXN_ERR_PRODUCER_FENCED);
	/* an unknown partition: it says so, the others were not tried */
	int32_t parts[] = {0, 9};
	struct kc_add_partitions_to_txn_req_topic tp = {S("t"), {parts, 2}};
	struct kc_add_partitions_to_txn_req q = {
		.v3_and_below_transactional_id = S("a"),
		.v3_and_below_producer_id = p.pid,
		.v3_and_below_producer_epoch = p.epoch,
		.v3_and_below_topics = {&tp, 1}};
	uint64_t t = send_req(KC_API_ADD_PARTITIONS_TO_TXN, 0, &q);
	const struct kc_add_partitions_to_txn_resp *r =
		kr_take(t, KC_API_ADD_PARTITIONS_TO_TXN, 0);
	const struct kc_add_partitions_to_txn_resp_topic_result *rt =
		r->results_by_topic_v3_and_below.items;
	const struct kc_add_partitions_to_txn_resp_partition_result *rp =
		rt[0].results_by_partition.items;
	TL_EQ(rp[0].partition_error_code, SL_TXN_ERR_OPERATION_NOT_ATTEMPTED);
	TL_EQ(rp[1].partition_error_code, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_true(state_is("a", "Empty"));
	/* describe: unknown and empty ids */
	TL_EQ(describe("nosuch")->error_code,
	      SL_TXN_ERR_TRANSACTIONAL_ID_NOT_FOUND);
	TL_EQ(describe("")->error_code, SN_ERR_INVALID_REQUEST);
}

/* AddPartitionsToTxn v4+: several transactions, verify_only. */
static void test_add_partitions_batched(void **state)
{
	(void)state;
	struct pe a = init("a"), b = init("b");
	int32_t p0 = 0, p1 = 1;
	struct kc_add_partitions_to_txn_req_topic ta = {S("t"), {&p0, 1}};
	struct kc_add_partitions_to_txn_req_topic tb = {S("u"), {&p1, 1}};
	struct kc_add_partitions_to_txn_req_transaction tx[3] = {
		{S("a"), a.pid, a.epoch, false, {&ta, 1}},
		{S("b"), b.pid, b.epoch, false, {&tb, 1}},
		{S("nosuch"), 5, 0, false, {&tb, 1}},
	};
	struct kc_add_partitions_to_txn_req q = {
		.transactions = {tx, 3},
		.v3_and_below_transactional_id = S(""),
		.v3_and_below_topics = {NULL, 0}};
	uint64_t t = send_req(KC_API_ADD_PARTITIONS_TO_TXN, 5, &q);
	const struct kc_add_partitions_to_txn_resp *r =
		kr_take(t, KC_API_ADD_PARTITIONS_TO_TXN, 5);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->results_by_transaction.count, 3);
	const struct kc_add_partitions_to_txn_resp_result *rr =
		r->results_by_transaction.items;
	int16_t want[3] = {0, 0, SL_TXN_ERR_INVALID_PRODUCER_ID_MAPPING};
	for (int i = 0; i < 3; i++) {
		assert_true(streq(rr[i].transactional_id,
				  i == 0 ? "a" : i == 1 ? "b" : "nosuch"));
		const struct kc_add_partitions_to_txn_resp_topic_result *rt =
			rr[i].topic_results.items;
		const struct kc_add_partitions_to_txn_resp_partition_result
			*rp = rt[0].results_by_partition.items;
		TL_EQ(rp[0].partition_error_code, want[i]);
	}
	assert_true(state_is("a", "Ongoing"));
	assert_true(state_is("b", "Ongoing"));
	/* verify only: in the transaction or TRANSACTION_ABORTABLE */
	int32_t both[] = {0, 1};
	struct kc_add_partitions_to_txn_req_topic tv = {S("t"), {both, 2}};
	struct kc_add_partitions_to_txn_req_transaction v = {
		S("a"), a.pid, a.epoch, true, {&tv, 1}};
	q.transactions = (struct kc_array){&v, 1};
	t = send_req(KC_API_ADD_PARTITIONS_TO_TXN, 4, &q);
	r = kr_take(t, KC_API_ADD_PARTITIONS_TO_TXN, 4);
	rr = r->results_by_transaction.items;
	const struct kc_add_partitions_to_txn_resp_topic_result *rt =
		rr[0].topic_results.items;
	const struct kc_add_partitions_to_txn_resp_partition_result *rp =
		rt[0].results_by_partition.items;
	TL_EQ(rp[0].partition_error_code, 0);
	TL_EQ(rp[1].partition_error_code, SL_TXN_ERR_TRANSACTION_ABORTABLE);
	TL_EQ(describe("a")->topics.count, 1); /* nothing was added */
}

/* InitProducerId on an Ongoing transaction aborts it first. */
static void test_init_fences_ongoing(void **state)
{
	(void)state;
	struct pe p = init("a");
	TL_EQ(add_parts("a", p, "t", 1), 0);
	TL_EQ(init("a").err, SL_TXN_ERR_CONCURRENT_TRANSACTIONS);
	assert_true(state_is("a", "PrepareAbort"));
	TL_EQ(describe("a")->producer_epoch, p.epoch + 1);
	TL_EQ(njobs, 1);
	assert_false(jobs[0].commit);
	TL_EQ(jobs[0].epoch, p.epoch + 1); /* the markers fence it too */
	TL_EQ(init("a").err, SL_TXN_ERR_CONCURRENT_TRANSACTIONS);
	TL_EQ(end_txn("a", p, true), SL_TXN_ERR_PRODUCER_FENCED);
	markers_done(0);
	assert_true(state_is("a", "CompleteAbort"));
	struct pe q = init("a");
	TL_EQ(q.err, 0);
	TL_EQ(q.epoch, p.epoch + 2);
}

static void test_timeout_aborts(void **state)
{
	(void)state;
	struct pe p = init_v(4, "a", 1000, -1, -1);
	TL_EQ(add_parts("a", p, "t", 1), 0);
	TL_EQ(sl_txn_tick(T, now), 1001);
	advance(1000);
	assert_true(state_is("a", "Ongoing"));
	advance(1);
	assert_true(state_is("a", "PrepareAbort"));
	TL_EQ(njobs, 1);
	TL_EQ(jobs[0].epoch, p.epoch + 1);
	markers_done(0);
	assert_true(state_is("a", "CompleteAbort"));
	/* the producer that began it is fenced */
	TL_EQ(end_txn("a", p, true), SL_TXN_ERR_PRODUCER_FENCED);
	TL_EQ(add_parts("a", p, "t", 1), SL_TXN_ERR_PRODUCER_FENCED);
	/* a transaction that ends in time is not aborted */
	struct pe q = init_v(4, "b", 1000, -1, -1);
	TL_EQ(add_parts("b", q, "t", 1), 0);
	advance(500);
	TL_EQ(end_txn("b", q, true), 0);
	advance(5000);
	assert_true(state_is("b", "PrepareCommit"));
}

/* ---- offsets ---- */

static void test_txn_offsets(void **state)
{
	(void)state;
	struct pe p = init("a");
	/* the group must be added first */
	TL_EQ(txn_commit("a", p, "g", 5), SL_TXN_ERR_INVALID_TXN_STATE);
	TL_EQ(add_offsets_v(3, "a", p, "g"), 0);
	assert_true(state_is("a", "Ongoing"));
	TL_EQ(txn_commit("a", p, "g", 5), 0);
	TL_EQ(txn_commit("a", p, "g", 7), 0); /* replaces the first */
	TL_EQ(txn_commit_v(0, "a", p, "g", "nosuch", 1, -1, ""),
	      SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	TL_EQ(txn_commit_v(1, "a", (struct pe){p.pid, 3, 0}, "g", "t", 1, -1,
			   ""), SL_TXN_ERR_INVALID_PRODUCER_EPOCH);
	TL_EQ(txn_commit_v(2, "a", (struct pe){p.pid, 3, 0}, "g", "t", 1, -1,
			   ""), SL_TXN_ERR_PRODUCER_FENCED);
	TL_EQ(txn_commit("a", (struct pe){p.pid + 1, 0, 0}, "g", 1),
	      SL_TXN_ERR_INVALID_PRODUCER_ID_MAPPING);
	/* v3+: checked against the group's members */
	TL_EQ(txn_commit_v(3, "a", p, "g", "t", 1, -1, "m-1"),
	      KC_ERR_UNKNOWN_MEMBER_ID);
	TL_EQ(txn_commit_v(3, "a", p, "g", "t", 1, 4, ""),
	      KC_ERR_ILLEGAL_GENERATION);
	/* pending: not committed, unstable for require_stable */
	TL_EQ(fetch("g", false), -1);
	TL_EQ(fetch("g", true), -SL_TXN_ERR_UNSTABLE_OFFSET_COMMIT - 1000);
	TL_EQ(fetch("other", true), -1);
	/* survives a restart while Ongoing */
	reopen();
	TL_EQ(fetch("g", true), -SL_TXN_ERR_UNSTABLE_OFFSET_COMMIT - 1000);
	TL_EQ(end_txn("a", p, true), 0);
	TL_EQ(fetch("g", false), 7); /* the groups have it at PrepareCommit */
	TL_EQ(fetch("g", true), 7);
	assert_true(state_is("a", "CompleteCommit")); /* no partitions */
	/* an abort commits nothing */
	TL_EQ(add_offsets_v(3, "a", p, "g"), 0);
	TL_EQ(txn_commit("a", p, "g", 99), 0);
	TL_EQ(end_txn("a", p, false), 0);
	TL_EQ(fetch("g", true), 7);
	reopen();
	TL_EQ(fetch("g", true), 7);
	/* v5 (KIP-890) adds the group itself, as Kafka's group coordinator
	 * does through its verification; v4 still needs AddOffsetsToTxn */
	TL_EQ(txn_commit_v(4, "a", p, "g2", "t", 3, -1, ""),
	      SL_TXN_ERR_INVALID_TXN_STATE);
	TL_EQ(txn_commit_v(5, "a", p, "g2", "t", 3, -1, ""), 0);
	assert_true(state_is("a", "Ongoing"));
	TL_EQ(fetch("g2", true), -SL_TXN_ERR_UNSTABLE_OFFSET_COMMIT - 1000);
	TL_EQ(txn_commit_v(4, "a", p, "g2", "t", 4, -1, ""), 0);
	reopen(); /* the group's joining is durable */
	TL_EQ(end_txn("a", p, true), 0);
	TL_EQ(fetch("g2", true), 4);
	/* still fenced and checked as v4 is */
	TL_EQ(txn_commit_v(5, "a", (struct pe){p.pid, 3, 0}, "g3", "t", 1, -1,
			   ""), SL_TXN_ERR_PRODUCER_FENCED);
	assert_true(state_is("a", "CompleteCommit"));
}

/* InitProducerId v6 (KIP-939): two-phase commit is not enabled, as on a
 * Kafka broker with transaction.two.phase.commit.enable=false. */
static void test_init_v6(void **state)
{
	(void)state;
	struct kc_init_producer_id_req q = {S("x"), TIMEOUT_MS, -1, -1,
					    false, false};
	uint64_t t = send_req(KC_API_INIT_PRODUCER_ID, 6, &q);
	const struct kc_init_producer_id_resp *r =
		kr_take(t, KC_API_INIT_PRODUCER_ID, 6);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->producer_epoch, 0);
	TL_EQ(r->ongoing_txn_producer_id, -1);
	TL_EQ(r->ongoing_txn_producer_epoch, -1);
	int64_t pid = r->producer_id;
	q.enable2_pc = true;
	t = send_req(KC_API_INIT_PRODUCER_ID, 6, &q);
	r = kr_take(t, KC_API_INIT_PRODUCER_ID, 6);
	TL_EQ(r->error_code, SL_TXN_ERR_INVALID_TXN_STATE);
	TL_EQ(r->producer_id, -1);
	TL_EQ(r->ongoing_txn_producer_id, -1);
	TL_EQ(r->ongoing_txn_producer_epoch, -1);
	q.keep_prepared_txn = true;
	t = send_req(KC_API_INIT_PRODUCER_ID, 6, &q);
	r = kr_take(t, KC_API_INIT_PRODUCER_ID, 6);
	TL_EQ(r->error_code, SL_TXN_ERR_INVALID_TXN_STATE);
	q.enable2_pc = false;
	t = send_req(KC_API_INIT_PRODUCER_ID, 6, &q);
	r = kr_take(t, KC_API_INIT_PRODUCER_ID, 6);
	TL_EQ(r->error_code, SN_ERR_UNSUPPORTED_VERSION);
	/* nothing changed: the next init bumps the epoch to 1 */
	struct pe p = init("x");
	TL_EQ(p.pid, pid);
	TL_EQ(p.epoch, 1);
	/* without a transactional id the flags do not matter (Kafka hands
	 * out an id first) */
	q = (struct kc_init_producer_id_req){{NULL, -1}, TIMEOUT_MS, -1, -1,
					     true, true};
	t = send_req(KC_API_INIT_PRODUCER_ID, 6, &q);
	r = kr_take(t, KC_API_INIT_PRODUCER_ID, 6);
	TL_EQ(r->error_code, 0);
	assert_true(r->producer_id >= 0);
}

/* ---- restarts ---- */

static void test_restart_each_state(void **state)
{
	(void)state;
	struct pe e = init("empty");
	struct pe o = init("ongoing");
	TL_EQ(add_parts("ongoing", o, "t", 1), 0);
	struct pe c = init("commit");
	TL_EQ(add_parts("commit", c, "u", 2), 0);
	TL_EQ(add_offsets_v(3, "commit", c, "g"), 0);
	TL_EQ(txn_commit("commit", c, "g", 42), 0);
	TL_EQ(end_txn("commit", c, true), 0);
	struct pe ab = init("abort");
	TL_EQ(add_parts("abort", ab, "t", 1), 0);
	TL_EQ(end_txn("abort", ab, false), 0);
	struct pe d = init("done");
	TL_EQ(add_parts("done", d, "t", 3), 0);
	TL_EQ(end_txn("done", d, true), 0);
	TL_EQ(njobs, 3);
	markers_done(2);
	assert_true(state_is("done", "CompleteCommit"));

	njobs = 0;
	reopen();
	/* the two Prepare* hand their markers again, and nothing else */
	TL_EQ(njobs, 2);
	for (int i = 0; i < 2; i++) {
		bool commit = jobs[i].commit;
		assert_string_equal(jobs[i].parts, commit ? "u:0,u:1" : "t:0");
		TL_EQ(jobs[i].pid, commit ? c.pid : ab.pid);
	}
	assert_true(state_is("empty", "Empty"));
	assert_true(state_is("ongoing", "Ongoing"));
	assert_true(state_is("commit", "PrepareCommit"));
	assert_true(state_is("abort", "PrepareAbort"));
	assert_true(state_is("done", "CompleteCommit"));
	TL_EQ(describe("ongoing")->topics.count, 1);
	TL_EQ(fetch("g", false), 42);
	markers_done(0);
	markers_done(1);
	assert_true(state_is("commit", "CompleteCommit"));
	assert_true(state_is("abort", "CompleteAbort"));
	/* the producers go on where they were */
	TL_EQ(add_parts("empty", e, "t", 1), 0);
	TL_EQ(end_txn("ongoing", o, true), 0);
	/* an Ongoing one resumed times out */
	struct pe o2 = init("ongoing2");
	TL_EQ(add_parts("ongoing2", o2, "t", 1), 0);
	reopen();
	clk.wall_ms += TIMEOUT_MS + 1;
	sl_txn_tick(T, now);
	assert_true(state_is("ongoing2", "PrepareAbort"));
	TL_EQ(describe("ongoing2")->producer_epoch, o2.epoch + 1);
}

/* The last record torn by a crash: the change it held is gone, the rest
 * loads. */
static void test_torn_last_record(void **state)
{
	(void)state;
	struct pe p = init("a");
	TL_EQ(add_parts("a", p, "t", 1), 0);
	close_all();
	char path[PATH_MAX];
	tl_pathf(path, "%s/%s", t_dir, SL_TXNLOG_FILE);
	long long size = tl_file_size(path);
	assert_true(size > 100);
	/* the Ongoing batch: a STATE record (56 + 1) and a PARTITION record
	 * (20 + 1 + 1); cut into the last */
	TL_OK(truncate(path, size - 5));
	open_all();
	TL_EQ(tl_file_size(path), size - 22);
	assert_true(state_is("a", "Ongoing"));
	TL_EQ(describe("a")->topics.count, 0);
	/* and into the STATE: back to Empty */
	close_all();
	TL_OK(truncate(path, size - 22 - 3));
	open_all();
	assert_true(state_is("a", "Empty"));
	/* a flipped byte in the last record ends the log there too */
	TL_EQ(add_parts("a", p, "t", 2), 0);
	close_all();
	size = tl_file_size(path);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	TL_EQ(pread(fd, &b, 1, size - 10), 1);
	b ^= 1;
	TL_EQ(pwrite(fd, &b, 1, size - 10), 1);
	close(fd);
	open_all();
	const struct kc_describe_transactions_resp_transaction_state *d =
		describe("a");
	TL_EQ(d->topics.count, 1);
	TL_EQ(((const struct kc_describe_transactions_resp_topic_data *)
	       d->topics.items)[0].partitions.count, 1);
	/* a header that is not ours is refused and left alone */
	close_all();
	fd = open(path, O_RDWR);
	TL_EQ(pwrite(fd, "XXXX", 4, 0), 4);
	close(fd);
	char err[512];
	struct sl_groups_config gcfg = {
		.retention_ms = SL_GROUPS_RETENTION_MS_DEFAULT,
		.clock = &clk.sl };
	TL_OK(sl_groups_open(g_dir, &gcfg, on_greply, NULL, now, &G, err,
			     sizeof(err)));
	tcfg.groups = G;
	TL_EQ(sl_txn_open(t_dir, &tcfg, on_reply, &T, now, &T, err,
			  sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "txn.log"));
	T = NULL;
	sl_groups_close(G);
	G = NULL;
	tl_rmrf(path);
	open_all();
}

/* A disk that fails: the change is not made and the client is told
 * NOT_COORDINATOR; a completion is retried. */
static void test_disk_errors(void **state)
{
	(void)state;
	close_all();
	struct simdisk *sd = simdisk_create(7);
	tcfg.disk = simdisk_disk(sd);
	open_all();
	struct pe p = init("a");
	TL_EQ(p.err, 0);
	simdisk_fail_after(sd, 0, EIO, 0);
	TL_EQ(add_parts("a", p, "t", 1), SL_TXN_ERR_NOT_COORDINATOR);
	simdisk_fail_after(sd, 0, 0, 0);
	assert_true(state_is("a", "Empty"));
	TL_EQ(add_parts("a", p, "t", 1), 0);
	TL_EQ(end_txn("a", p, false), 0);
	/* the Complete record fails: tried again a second later */
	simdisk_fail_after(sd, 0, EIO, 0);
	markers_done(0);
	simdisk_fail_after(sd, 0, 0, 0);
	assert_true(state_is("a", "PrepareAbort"));
	TL_EQ(sl_txn_tick(T, now), SL_TXN_RETRY_MS);
	now += SL_TXN_RETRY_MS;
	sl_txn_tick(T, now);
	assert_true(state_is("a", "CompleteAbort"));
	close_all();
	simdisk_destroy(sd);
	tcfg.disk = NULL;
	open_all();
}

/* ---- DescribeTransactions, ListTransactions ---- */

static int32_t list_n(int16_t ver, const char *const *states, int ns,
		      const int64_t *pids, int np, int64_t duration,
		      int32_t *unknown)
{
	struct kc_str sf[4];
	for (int i = 0; i < ns; i++)
		sf[i] = S(states[i]);
	struct kc_list_transactions_req q = {{sf, ns}, {(void *)pids, np},
					     duration, {NULL, -1}};
	uint64_t t = send_req(KC_API_LIST_TRANSACTIONS, ver, &q);
	const struct kc_list_transactions_resp *r =
		kr_take(t, KC_API_LIST_TRANSACTIONS, ver);
	TL_EQ(r->error_code, 0);
	if (unknown)
		*unknown = r->unknown_state_filters.count;
	return r->transaction_states.count;
}

/* ListTransactions v2 with a pattern: the count; *err the error code (NULL:
 * it must be none). */
static int32_t list_re(const char *pattern, int16_t *err)
{
	struct kc_list_transactions_req q = {{NULL, 0}, {NULL, 0}, -1,
					     S(pattern)};
	uint64_t t = send_req(KC_API_LIST_TRANSACTIONS, 2, &q);
	const struct kc_list_transactions_resp *r =
		kr_take(t, KC_API_LIST_TRANSACTIONS, 2);
	if (err)
		*err = r->error_code;
	else
		TL_EQ(r->error_code, 0);
	return r->transaction_states.count;
}

static void test_list(void **state)
{
	(void)state;
	struct pe a = init("a");
	init("b");
	TL_EQ(add_parts("a", a, "t", 1), 0);
	advance(5000);
	int32_t unk;
	TL_EQ(list_n(0, NULL, 0, NULL, 0, -1, &unk), 2);
	TL_EQ(unk, 0);
	const char *ongoing[] = {"Ongoing"};
	TL_EQ(list_n(0, ongoing, 1, NULL, 0, -1, NULL), 1);
	const char *mixed[] = {"Empty", "Nonsense", "Dead"};
	TL_EQ(list_n(1, mixed, 3, NULL, 0, -1, &unk), 1);
	TL_EQ(unk, 1);
	int64_t pid = a.pid;
	TL_EQ(list_n(0, NULL, 0, &pid, 1, -1, NULL), 1);
	pid = 5;
	TL_EQ(list_n(0, NULL, 0, &pid, 1, -1, NULL), 0);
	/* v1: running longer than the duration (Empty has no start: -1,
	 * which is very long ago, as Kafka counts it) */
	TL_EQ(list_n(1, ongoing, 1, NULL, 0, 4999, NULL), 1);
	TL_EQ(list_n(1, ongoing, 1, NULL, 0, 5000, NULL), 0);
	/* v2: the transactional id pattern, a whole-id match (KIP-1152) */
	init("ab");
	init("zab");
	TL_EQ(list_re("a.*", NULL), 2);
	TL_EQ(list_re("a|b", NULL), 2);
	TL_EQ(list_re("a", NULL), 1);
	TL_EQ(list_re("b+", NULL), 1);
	TL_EQ(list_re("", NULL), 4); /* empty: everything */
	TL_EQ(list_re(NULL, NULL), 4);
	TL_EQ(list_re("[0-9]+", NULL), 0);
	int16_t err;
	TL_EQ(list_re("(a", &err), 0);
	TL_EQ(err, 128); /* INVALID_REGULAR_EXPRESSION */
	TL_EQ(list_re("[z-a]", &err), 0);
	TL_EQ(err, 128);
	/* the byte form: ListTransactions v1's bytes decode as Kafka's */
	const struct kc_describe_transactions_resp_transaction_state *d =
		describe("a");
	TL_EQ(d->topics.count, 1);
	const struct kc_describe_transactions_resp_topic_data *td =
		d->topics.items;
	assert_true(streq(td[0].topic, "t"));
	TL_EQ(td[0].partitions.count, 1);
}

/* Ids not used for the expiration are forgotten, durably. */
static void test_id_expiry(void **state)
{
	(void)state;
	close_all();
	tcfg.id_expiration_ms = 10000;
	open_all();
	struct pe a = init("a");
	struct pe b = init("b");
	TL_EQ(add_parts("b", b, "t", 1), 0);
	(void)a;
	TL_EQ(sl_txn_tick(T, now), TIMEOUT_MS + 1 < 10000 ? TIMEOUT_MS + 1 :
							     10000);
	advance(10000);
	TL_EQ(describe("a")->error_code, SL_TXN_ERR_TRANSACTIONAL_ID_NOT_FOUND);
	assert_true(state_is("b", "Ongoing")); /* open: never expires */
	reopen();
	uint32_t counts[6];
	sl_txn_counts(T, counts); /* before anything could expire it again */
	TL_EQ(counts[0], 0);
	TL_EQ(counts[1], 1);
	TL_EQ(describe("a")->error_code, SL_TXN_ERR_TRANSACTIONAL_ID_NOT_FOUND);
	/* a new producer of the id gets a new producer id */
	TL_EQ(init("a").pid, PID0 + 2);
	tcfg.id_expiration_ms = 0;
}

/* Requests that cannot be read. */
static void test_bad_requests(void **state)
{
	(void)state;
	uint8_t junk[] = {0, 26, 0, 3, 0, 0, 0, 9, 0, 0, 1, 2};
	TL_EQ(sl_txn_request(T, 9, junk, sizeof(junk), now), 0);
	const struct kc_end_txn_resp *r = kr_take(9, KC_API_END_TXN, 3);
	TL_EQ(r->error_code, SN_ERR_INVALID_REQUEST);
	junk[1] = 24; /* AddPartitionsToTxn: no field to say it */
	TL_EQ(sl_txn_request(T, 78, junk, sizeof(junk), now), -EINVAL);
	junk[1] = 3; /* not ours */
	TL_EQ(sl_txn_request(T, 79, junk, sizeof(junk), now), -EINVAL);
	junk[1] = 26;
	junk[3] = 9; /* a version not served */
	TL_EQ(sl_txn_request(T, 80, junk, sizeof(junk), now), -EINVAL);
	TL_EQ(sl_txn_request(T, 81, junk, 4, now), -EINVAL);
}

/* The log is compacted when it grows: what it says stays the same. */
static void test_compaction(void **state)
{
	(void)state;
	struct pe p = init("a");
	char path[PATH_MAX];
	tl_pathf(path, "%s/%s", t_dir, SL_TXNLOG_FILE);
	for (int i = 0; i < 200; i++) {
		TL_EQ(add_parts("a", p, "t", 2), 0);
		TL_EQ(end_txn("a", p, i % 2 == 0), 0);
		markers_done(njobs - 1);
		njobs = 0;
	}
	TL_EQ(add_parts("a", p, "u", 3), 0);
	assert_true(tl_file_size(path) < SL_TXNLOG_COMPACT_MIN_BYTES);
	reopen();
	assert_true(state_is("a", "Ongoing"));
	TL_EQ(describe("a")->topics.count, 1);
	TL_EQ(init("b").pid, PID0 + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_not_coordinator, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_init_producer_id, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_init_kip360, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_epoch_exhaustion, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_commit_path, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_producer_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_add_partitions_batched,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_fences_ongoing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_timeout_aborts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_txn_offsets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_restart_each_state, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_torn_last_record, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disk_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_id_expiry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_compaction, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
