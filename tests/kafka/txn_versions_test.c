/*
 * The transaction coordinator's APIs at their lowest and highest versions
 * against the real broker (suite 'integration', tests/lib/broker.h:
 * sluiced forwards them to sluice-control), the fields of the answers
 * checked:
 *   - InitProducerId v0, v5 and v6 with a transactional id (ids from 2^40,
 *     the epoch bumped, the old producer fenced; v6: no ongoing
 *     transaction, -1, and Enable2Pc INVALID_TXN_STATE: no two-phase
 *     commit);
 *   - AddPartitionsToTxn v0, v3 and the batched v5; AddOffsetsToTxn v0 and
 *     v4; TxnOffsetCommit v0 and v4, and v5 adding its group itself;
 *     EndTxn v0 and v5;
 *   - DescribeTransactions v0, ListTransactions v0, v1 and v2 (a pattern,
 *     and one that does not compile: INVALID_REGULAR_EXPRESSION);
 *   - the state surviving a SIGKILL of sluice-control.
 * A transaction with partitions waits in PrepareCommit until sluiced
 * writes its markers (WriteTxnMarkers): either state is accepted after
 * its EndTxn.
 * Exit 77 when binaries are missing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "kwire.h"
#include "proto/kafka/kcodec.h"

#define PID_FIRST (1ll << 40)

static struct tb b;
static int fd = -1;
static int64_t pid1;
static int16_t epoch1;

static bool str_is(struct kc_str s, const char *z)
{
	return s.len == (int32_t)strlen(z) && !memcmp(s.ptr, z, (size_t)s.len);
}

static struct kc_str S(const char *s)
{
	return s ? (struct kc_str){ s, (int32_t)strlen(s) }
		 : (struct kc_str){ NULL, -1 };
}

static int t_init_producer_id(void)
{
	union kc_response u;
	const struct kc_init_producer_id_resp *r = (const void *)u.raw;
	struct kc_init_producer_id_req q = { S("tx1"), 60000, -1, -1, false, false };
	CHECK(kw_call(fd, KC_API_INIT_PRODUCER_ID, 0, &q, &u) == 0);
	CHECK(r->error_code == 0 && r->producer_id >= PID_FIRST &&
	      r->producer_epoch == 0);
	int64_t first = r->producer_id;
	CHECK(kw_call(fd, KC_API_INIT_PRODUCER_ID, 5, &q, &u) == 0);
	CHECK(r->error_code == 0 && r->producer_id == first &&
	      r->producer_epoch == 1);
	CHECK(kw_call(fd, KC_API_INIT_PRODUCER_ID, 6, &q, &u) == 0);
	CHECK(r->error_code == 0 && r->producer_id == first &&
	      r->producer_epoch == 2);
	CHECK(r->ongoing_txn_producer_id == -1 &&
	      r->ongoing_txn_producer_epoch == -1);
	q.enable2_pc = true; /* two-phase commit is not enabled */
	CHECK(kw_call(fd, KC_API_INIT_PRODUCER_ID, 6, &q, &u) == 0);
	CHECK(r->error_code == 48 && r->producer_id == -1 &&
	      r->ongoing_txn_producer_id == -1 &&
	      r->ongoing_txn_producer_epoch == -1);
	q.enable2_pc = false;
	/* KIP-360 with a fenced epoch: PRODUCER_FENCED at v5 */
	q.producer_id = first;
	q.producer_epoch = 7;
	CHECK(kw_call(fd, KC_API_INIT_PRODUCER_ID, 5, &q, &u) == 0);
	CHECK(r->error_code == 90 && r->producer_id == -1);
	/* a timeout above the maximum */
	q = (struct kc_init_producer_id_req){ S("tx1"), 900001, -1, -1, false, false };
	CHECK(kw_call(fd, KC_API_INIT_PRODUCER_ID, 3, &q, &u) == 0);
	CHECK(r->error_code == 50);
	pid1 = first;
	epoch1 = 2;
	return 0;
}

static int add_v3(int16_t v, const char *topic, int32_t part, int16_t *code)
{
	union kc_response u;
	struct kc_add_partitions_to_txn_req_topic t = { S(topic), { &part, 1 } };
	struct kc_add_partitions_to_txn_req q = {
		.transactions = { NULL, 0 },
		.v3_and_below_transactional_id = S("tx1"),
		.v3_and_below_producer_id = pid1,
		.v3_and_below_producer_epoch = epoch1,
		.v3_and_below_topics = { &t, 1 } };
	CHECK(kw_call(fd, KC_API_ADD_PARTITIONS_TO_TXN, v, &q, &u) == 0);
	const struct kc_add_partitions_to_txn_resp *r = (const void *)u.raw;
	CHECK(r->results_by_topic_v3_and_below.count == 1);
	const struct kc_add_partitions_to_txn_resp_topic_result *rt =
		r->results_by_topic_v3_and_below.items;
	CHECK(str_is(rt[0].name, topic) &&
	      rt[0].results_by_partition.count == 1);
	const struct kc_add_partitions_to_txn_resp_partition_result *rp =
		rt[0].results_by_partition.items;
	CHECK(rp[0].partition_index == part);
	*code = rp[0].partition_error_code;
	return 0;
}

static int t_add_partitions(void)
{
	CHECK(kw_topic_create(&b, "txt", 2) >= 0);
	int16_t code;
	CHECK(add_v3(0, "txt", 0, &code) == 0 && code == 0);
	CHECK(add_v3(3, "nosuch", 0, &code) == 0 && code == 3);
	/* v5: a batch of transactions */
	int32_t one = 1;
	struct kc_add_partitions_to_txn_req_topic t = { S("txt"), { &one, 1 } };
	struct kc_add_partitions_to_txn_req_transaction tx = {
		S("tx1"), pid1, epoch1, false, { &t, 1 } };
	struct kc_add_partitions_to_txn_req q = {
		.transactions = { &tx, 1 },
		.v3_and_below_transactional_id = S(""),
		.v3_and_below_topics = { NULL, 0 } };
	union kc_response u;
	CHECK(kw_call(fd, KC_API_ADD_PARTITIONS_TO_TXN, 5, &q, &u) == 0);
	const struct kc_add_partitions_to_txn_resp *r = (const void *)u.raw;
	CHECK(r->error_code == 0 && r->results_by_transaction.count == 1);
	const struct kc_add_partitions_to_txn_resp_result *rr =
		r->results_by_transaction.items;
	CHECK(str_is(rr[0].transactional_id, "tx1"));
	const struct kc_add_partitions_to_txn_resp_topic_result *rt =
		rr[0].topic_results.items;
	CHECK(rr[0].topic_results.count == 1 &&
	      rt[0].results_by_partition.count == 1);
	const struct kc_add_partitions_to_txn_resp_partition_result *rp =
		rt[0].results_by_partition.items;
	CHECK(rp[0].partition_index == 1 && rp[0].partition_error_code == 0);
	/* a fenced epoch: v1 INVALID_PRODUCER_EPOCH */
	epoch1--;
	CHECK(add_v3(1, "txt", 0, &code) == 0 && code == 47);
	epoch1++;
	return 0;
}

static int t_offsets(void)
{
	union kc_response u;
	struct kc_add_offsets_to_txn_req q = { S("tx1"), pid1, epoch1,
					       S("tg") };
	CHECK(kw_call(fd, KC_API_ADD_OFFSETS_TO_TXN, 0, &q, &u) == 0);
	CHECK(((const struct kc_add_offsets_to_txn_resp *)(const void *)u.raw)
	      ->error_code == 0);
	CHECK(kw_call(fd, KC_API_ADD_OFFSETS_TO_TXN, 4, &q, &u) == 0);
	CHECK(((const struct kc_add_offsets_to_txn_resp *)(const void *)u.raw)
	      ->error_code == 0);
	for (int16_t v = 0; v <= 4; v += 4) {
		struct kc_txn_offset_commit_req_partition p = {
			0, 40 + v, -1, S("m") };
		struct kc_txn_offset_commit_req_topic t = { S("txt"),
							    { &p, 1 } };
		struct kc_txn_offset_commit_req c = {
			S("tx1"), S("tg"), pid1, epoch1, -1, S(""), S(NULL),
			{ &t, 1 } };
		CHECK(kw_call(fd, KC_API_TXN_OFFSET_COMMIT, v, &c, &u) == 0);
		const struct kc_txn_offset_commit_resp *r = (const void *)u.raw;
		CHECK(r->topics.count == 1);
		const struct kc_txn_offset_commit_resp_topic *rt =
			r->topics.items;
		CHECK(str_is(rt[0].name, "txt") && rt[0].partitions.count == 1);
		const struct kc_txn_offset_commit_resp_partition *rp =
			rt[0].partitions.items;
		CHECK(rp[0].partition_index == 0 && rp[0].error_code == 0);
	}
	/* v5 (KIP-890) adds its group to the transaction itself */
	struct kc_txn_offset_commit_req_partition p5 = { 1, 50, -1, S(NULL) };
	struct kc_txn_offset_commit_req_topic t5 = { S("txt"), { &p5, 1 } };
	struct kc_txn_offset_commit_req c5 = {
		S("tx1"), S("tg5"), pid1, epoch1, -1, S(""), S(NULL),
		{ &t5, 1 } };
	CHECK(kw_call(fd, KC_API_TXN_OFFSET_COMMIT, 5, &c5, &u) == 0);
	const struct kc_txn_offset_commit_resp *r5 = (const void *)u.raw;
	CHECK(r5->topics.count == 1);
	const struct kc_txn_offset_commit_resp_topic *rt5 = r5->topics.items;
	CHECK(str_is(rt5[0].name, "txt") && rt5[0].partitions.count == 1);
	CHECK(((const struct kc_txn_offset_commit_resp_partition *)
	       rt5[0].partitions.items)[0].error_code == 0);
	/* OffsetFetch v7 require_stable: pending */
	int32_t part = 0;
	struct kc_offset_fetch_req_topic ft = { S("txt"), { &part, 1 } };
	struct kc_offset_fetch_req f = { .group_id = S("tg"),
					 .topics = { &ft, 1 },
					 .require_stable = true };
	CHECK(kw_call(fd, KC_API_OFFSET_FETCH, 7, &f, &u) == 0);
	const struct kc_offset_fetch_resp *fr = (const void *)u.raw;
	const struct kc_offset_fetch_resp_topic *ftr = fr->topics.items;
	CHECK(fr->topics.count == 1 && ftr[0].partitions.count == 1);
	CHECK(((const struct kc_offset_fetch_resp_partition *)
	       ftr[0].partitions.items)[0].error_code == 88);
	return 0;
}

/* The state of tx1 as DescribeTransactions v0 says, into state. */
static int describe(char *state, size_t cap, int32_t *nparts)
{
	union kc_response u;
	struct kc_str id = S("tx1");
	struct kc_describe_transactions_req q = { { &id, 1 } };
	CHECK(kw_call(fd, KC_API_DESCRIBE_TRANSACTIONS, 0, &q, &u) == 0);
	const struct kc_describe_transactions_resp *r = (const void *)u.raw;
	CHECK(r->transaction_states.count == 1);
	const struct kc_describe_transactions_resp_transaction_state *s =
		r->transaction_states.items;
	CHECK(s->error_code == 0 && str_is(s->transactional_id, "tx1"));
	CHECK(s->producer_id == pid1 && s->producer_epoch == epoch1);
	CHECK(s->transaction_timeout_ms == 60000);
	CHECK((size_t)s->transaction_state.len < cap);
	memcpy(state, s->transaction_state.ptr,
	       (size_t)s->transaction_state.len);
	state[s->transaction_state.len] = 0;
	*nparts = 0;
	const struct kc_describe_transactions_resp_topic_data *t =
		s->topics.items;
	for (int32_t i = 0; i < s->topics.count; i++)
		*nparts += t[i].partitions.count;
	return 0;
}

static int t_describe_list(void)
{
	char state[32];
	int32_t n;
	CHECK(describe(state, sizeof(state), &n) == 0);
	CHECK(!strcmp(state, "Ongoing") && n == 2);
	union kc_response u;
	struct kc_str sf = S("Ongoing");
	for (int16_t v = 0; v <= 1; v++) {
		struct kc_list_transactions_req q = { { &sf, 1 },
						      { NULL, 0 }, -1, { NULL, -1 } };
		CHECK(kw_call(fd, KC_API_LIST_TRANSACTIONS, v, &q, &u) == 0);
		const struct kc_list_transactions_resp *r = (const void *)u.raw;
		CHECK(r->error_code == 0 && r->unknown_state_filters.count == 0);
		CHECK(r->transaction_states.count == 1);
		const struct kc_list_transactions_resp_transaction_state *s =
			r->transaction_states.items;
		CHECK(str_is(s->transactional_id, "tx1") &&
		      s->producer_id == pid1 &&
		      str_is(s->transaction_state, "Ongoing"));
	}
	/* v2: the transactional id pattern (KIP-1152), a whole-id match */
	static const struct { const char *re; int16_t err; int32_t n; } pt[] = {
		{ "tx[0-9]+", 0, 1 }, { "tx", 0, 0 }, { "(tx", 128, 0 },
	};
	for (size_t i = 0; i < sizeof(pt) / sizeof(pt[0]); i++) {
		struct kc_list_transactions_req q = { { NULL, 0 }, { NULL, 0 },
						      -1, S(pt[i].re) };
		CHECK(kw_call(fd, KC_API_LIST_TRANSACTIONS, 2, &q, &u) == 0);
		const struct kc_list_transactions_resp *r = (const void *)u.raw;
		CHECK(r->error_code == pt[i].err);
		CHECK(r->transaction_states.count == pt[i].n);
	}
	return 0;
}

static int reconnect(void)
{
	if (fd >= 0)
		close(fd);
	fd = kw_connect(b.kport);
	return fd >= 0 ? 0 : -1;
}

/* sluice-control killed and started again: tx1 is where it was. */
static int t_control_restart(void)
{
	CHECK(tb_stop_pid(&b.control, SIGKILL) >= 0);
	CHECK(tb_start_control(&b) == 0);
	char state[32] = "";
	int32_t n = -1;
	int ok = -1;
	for (int i = 0; i < 100 && ok; i++) { /* bounded: 10 s */
		usleep(100000);
		if (reconnect())
			continue;
		int f = kw_failures;
		ok = describe(state, sizeof(state), &n);
		kw_failures = f; /* not ready yet is not a failure */
	}
	CHECK(ok == 0);
	CHECK(!strcmp(state, "Ongoing") && n == 2);
	return 0;
}

static int end_txn(int16_t v, const char *id, int64_t pid, int16_t epoch,
		   int16_t *code)
{
	union kc_response u;
	struct kc_end_txn_req q = { S(id), pid, epoch, true };
	CHECK(kw_call(fd, KC_API_END_TXN, v, &q, &u) == 0);
	const struct kc_end_txn_resp *r = (const void *)u.raw;
	*code = r->error_code;
	if (v >= 5 && r->error_code == 0)
		CHECK(r->producer_id == pid && r->producer_epoch == epoch);
	return 0;
}

static int t_end_txn(void)
{
	union kc_response u;
	int16_t code;
	/* tx2: offsets only, so no markers: complete at once (v0) */
	struct kc_init_producer_id_req iq = { S("tx2"), 60000, -1, -1, false, false };
	CHECK(kw_call(fd, KC_API_INIT_PRODUCER_ID, 0, &iq, &u) == 0);
	const struct kc_init_producer_id_resp *ir = (const void *)u.raw;
	CHECK(ir->error_code == 0 && ir->producer_id > pid1);
	int64_t pid2 = ir->producer_id;
	struct kc_add_offsets_to_txn_req aq = { S("tx2"), pid2, 0, S("tg2") };
	CHECK(kw_call(fd, KC_API_ADD_OFFSETS_TO_TXN, 0, &aq, &u) == 0);
	struct kc_txn_offset_commit_req_partition p = { 1, 77, -1, S("") };
	struct kc_txn_offset_commit_req_topic t = { S("txt"), { &p, 1 } };
	struct kc_txn_offset_commit_req c = { S("tx2"), S("tg2"), pid2, 0,
					      -1, S(""), S(NULL), { &t, 1 } };
	CHECK(kw_call(fd, KC_API_TXN_OFFSET_COMMIT, 2, &c, &u) == 0);
	CHECK(end_txn(0, "tx2", pid2, 0, &code) == 0 && code == 0);
	int32_t part = 1;
	struct kc_offset_fetch_req_topic ft = { S("txt"), { &part, 1 } };
	struct kc_offset_fetch_req f = { .group_id = S("tg2"),
					 .topics = { &ft, 1 },
					 .require_stable = true };
	CHECK(kw_call(fd, KC_API_OFFSET_FETCH, 7, &f, &u) == 0);
	const struct kc_offset_fetch_resp *fr = (const void *)u.raw;
	const struct kc_offset_fetch_resp_partition *fp =
		((const struct kc_offset_fetch_resp_topic *)fr->topics.items)
		[0].partitions.items;
	CHECK(fp[0].error_code == 0 && fp[0].committed_offset == 77);
	/* tx1 (v5): answered; then PrepareCommit until sluiced wrote the
	 * markers, CompleteCommit after */
	CHECK(end_txn(5, "tx1", pid1, epoch1, &code) == 0 && code == 0);
	char state[32];
	int32_t n;
	CHECK(describe(state, sizeof(state), &n) == 0);
	CHECK(!strcmp(state, "PrepareCommit") ||
	      !strcmp(state, "CompleteCommit"));
	CHECK(end_txn(5, "tx1", pid1, epoch1, &code) == 0);
	CHECK(code == (!strcmp(state, "PrepareCommit") ? 51 : 0) ||
	      code == 0);
	/* the other outcome: INVALID_TXN_STATE */
	struct kc_end_txn_req q = { S("tx1"), pid1, epoch1, false };
	CHECK(kw_call(fd, KC_API_END_TXN, 0, &q, &u) == 0);
	CHECK(((const struct kc_end_txn_resp *)(const void *)u.raw)
	      ->error_code == 48);
	return 0;
}

int main(void)
{
	kw_init("txn-test");
	int rc = kw_broker_start(&b, "ktxnv", &fd);
	if (rc)
		return rc;
	static const struct kw_test tests[] = {
		{ "init_producer_id", t_init_producer_id },
		{ "add_partitions", t_add_partitions },
		{ "offsets", t_offsets },
		{ "describe_list", t_describe_list },
		{ "control_restart", t_control_restart },
		{ "end_txn", t_end_txn },
	};
	kw_run(&b, tests, KW_COUNT(tests), &fd);
	return kw_finish(&b, &fd);
}
