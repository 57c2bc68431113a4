/*
 * Unit tests of DescribeQuorum's answers (control/kquorum.c): requests
 * encoded with the codec, answered from hand-made views, the answers
 * decoded field by field in each version (v0 without timestamps, v1 with
 * them, v2 with nodes and error messages); a request for another topic
 * or partition (UNKNOWN_TOPIC_OR_PARTITION, no topics); a Raft status
 * turned into a view (leader and follower); a single broker's quorum of
 * one; the largest view in the bound kquorum.h promises; requests that
 * cannot be answered (another API, every truncation, a small buffer).
 */
#include <errno.h>
#include <string.h>

#include "tl.h"
#include "control/kquorum.h"
#include "proto/kafka/kcodec.h"

static uint8_t g_req[4096];
static size_t g_req_len;
static uint8_t g_resp[1 << 16];
static _Alignas(8) uint8_t g_arena_mem[1 << 18];
static struct sl_kquorum_view g_view;

static struct kc_str S(const char *s)
{
	return (struct kc_str){s, (int32_t)strlen(s)};
}

/* A DescribeQuorum request for topic partition, in g_req. */
static void encode(int16_t ver, const char *topic, int32_t partition)
{
	struct kc_describe_quorum_req_partition_data p = {partition};
	struct kc_describe_quorum_req_topic_data t = {S(topic), {&p, 1}};
	union kc_request q;
	memset(&q, 0, sizeof(q));
	struct kc_describe_quorum_req *r = (void *)q.raw;
	r->topics = (struct kc_array){&t, 1};
	struct kc_request_header h = {KC_API_DESCRIBE_QUORUM, ver, 55,
				      S("kquorum-test")};
	long n = kc_encode_request(&h, &q, g_req, sizeof(g_req));
	TL_TRUE(n > 0);
	g_req_len = (size_t)n;
}

/* Answer g_req from v and decode the answer into *out. */
static const struct kc_describe_quorum_resp *
answer(const struct sl_kquorum_view *v, int16_t ver, union kc_response *u)
{
	long n = sl_kquorum_handle(v, g_req, g_req_len, g_resp,
				   sizeof(g_resp));
	TL_TRUE(n > 0);
	struct kc_arena a = {g_arena_mem, sizeof(g_arena_mem), 0};
	struct kc_response_header rh;
	long d = kc_decode_response(KC_API_DESCRIBE_QUORUM, ver, g_resp,
				    (size_t)n, &rh, u, &a);
	TL_EQ(d, n);
	TL_EQ(rh.correlation_id, 55);
	return (const void *)u->raw;
}

/* Three voters, node 2 leading in epoch 7, node 3 behind, node 9 an
 * observer. */
static void three_voters(struct sl_kquorum_view *v)
{
	memset(v, 0, sizeof(*v));
	v->leader_id = 2;
	v->leader_epoch = 7;
	v->high_watermark = 120;
	v->n_voters = 3;
	v->voters[0] = (struct sl_kquorum_replica){1, 120, 1700000000100,
						   1700000000100};
	v->voters[1] = (struct sl_kquorum_replica){2, 121, -1, 1700000000200};
	v->voters[2] = (struct sl_kquorum_replica){3, 90, 1700000000050,
						   1699999999000};
	v->n_nodes = 3;
	for (unsigned i = 0; i < 3; i++) {
		v->nodes[i].id = (int32_t)i + 1;
		strcpy(v->nodes[i].host, "127.0.0.1");
		v->nodes[i].port = (uint16_t)(9094 + 100 * i);
	}
	v->n_observers = 1;
	v->observers[0] = (struct sl_kquorum_replica){9, -1, -1, -1};
}

static const struct kc_describe_quorum_resp_partition_data *
the_partition(const struct kc_describe_quorum_resp *r)
{
	TL_EQ(r->error_code, 0);
	TL_EQ(r->topics.count, 1);
	const struct kc_describe_quorum_resp_topic_data *t = r->topics.items;
	TL_TRUE(kc_str_is(t->topic_name, "__cluster_metadata", 18));
	TL_EQ(t->partitions.count, 1);
	const struct kc_describe_quorum_resp_partition_data *p =
		t->partitions.items;
	TL_EQ(p->partition_index, 0);
	return p;
}

static void test_versions(void **state)
{
	(void)state;
	three_voters(&g_view);
	for (int16_t ver = 0; ver <= 2; ver++) {
		union kc_response u;
		encode(ver, "__cluster_metadata", 0);
		const struct kc_describe_quorum_resp *r = answer(&g_view, ver,
								 &u);
		const struct kc_describe_quorum_resp_partition_data *p =
			the_partition(r);
		TL_EQ(p->error_code, 0);
		TL_EQ(p->leader_id, 2);
		TL_EQ(p->leader_epoch, 7);
		TL_EQ(p->high_watermark, 120);
		TL_EQ(p->current_voters.count, 3);
		const struct kc_describe_quorum_resp_replica_state *s =
			p->current_voters.items;
		for (int i = 0; i < 3; i++) {
			TL_EQ(s[i].replica_id, i + 1);
			TL_EQ(s[i].log_end_offset,
			      g_view.voters[i].log_end_offset);
			/* v0 has no timestamps: they decode as -1 */
			TL_EQ(s[i].last_fetch_timestamp,
			      ver ? g_view.voters[i].last_fetch_ms : -1);
			TL_EQ(s[i].last_caught_up_timestamp,
			      ver ? g_view.voters[i].last_caught_up_ms : -1);
		}
		TL_EQ(p->observers.count, 1);
		s = p->observers.items;
		TL_EQ(s[0].replica_id, 9);
		TL_EQ(s[0].log_end_offset, -1);
		if (ver < 2) {
			TL_EQ(r->nodes.count, 0);
			continue;
		}
		TL_EQ(r->error_message.len, -1);
		TL_EQ(p->error_message.len, -1);
		TL_EQ(r->nodes.count, 3);
		const struct kc_describe_quorum_resp_node *n = r->nodes.items;
		for (int i = 0; i < 3; i++) {
			TL_EQ(n[i].node_id, i + 1);
			TL_EQ(n[i].listeners.count, 1);
			const struct kc_describe_quorum_resp_listener *l =
				n[i].listeners.items;
			TL_TRUE(kc_str_is(l->name, "CONTROLLER", 10));
			TL_TRUE(kc_str_is(l->host, "127.0.0.1", 9));
			TL_EQ(l->port, 9094 + 100 * i);
		}
	}
}

static void test_not_our_partition(void **state)
{
	(void)state;
	three_voters(&g_view);
	const char *topics[] = {"__cluster_metadata", "orders", ""};
	int32_t parts[] = {1, 0, 0};
	for (int i = 0; i < 3; i++) {
		union kc_response u;
		encode(1, topics[i], parts[i]);
		const struct kc_describe_quorum_resp *r = answer(&g_view, 1, &u);
		TL_EQ(r->error_code, 3); /* UNKNOWN_TOPIC_OR_PARTITION */
		TL_EQ(r->topics.count, 0);
	}
	/* no topics at all, or two */
	for (int32_t count = 0; count <= 2; count += 2) {
		struct kc_describe_quorum_req_partition_data p = {0};
		struct kc_describe_quorum_req_topic_data t[2] = {
			{S("__cluster_metadata"), {&p, 1}},
			{S("__cluster_metadata"), {&p, 1}}};
		union kc_request q;
		memset(&q, 0, sizeof(q));
		((struct kc_describe_quorum_req *)(void *)q.raw)->topics =
			(struct kc_array){count ? t : NULL, count};
		struct kc_request_header h = {KC_API_DESCRIBE_QUORUM, 2, 55,
					      S("kquorum-test")};
		long n = kc_encode_request(&h, &q, g_req, sizeof(g_req));
		TL_TRUE(n > 0);
		g_req_len = (size_t)n;
		union kc_response u;
		const struct kc_describe_quorum_resp *r = answer(&g_view, 2, &u);
		TL_EQ(r->error_code, 3);
		TL_EQ(r->topics.count, 0);
		TL_EQ(r->nodes.count, 0);
	}
}

static void test_from_status(void **state)
{
	(void)state;
	static struct sl_quorum_status st;
	memset(&st, 0, sizeof(st));
	st.node_id = 1;
	st.role = SL_QUORUM_LEADER;
	st.leader_id = 1;
	st.is_leader = true;
	st.term = 4;
	st.commit_index = 33;
	st.last_index = 34;
	st.n_voters = 3;
	st.voters[0] = (struct sl_quorum_voter){1, "127.0.0.1:9094", 34, -1,
						1700000000000};
	st.voters[1] = (struct sl_quorum_voter){2, "127.0.0.1:9194", 33,
						1700000000001, 1699999999999};
	st.voters[2] = (struct sl_quorum_voter){3, "not-an-endpoint", -1, -1,
						-1};
	sl_kquorum_from_status(&st, &g_view);
	TL_EQ(g_view.error, 0);
	TL_EQ(g_view.leader_id, 1);
	TL_EQ(g_view.leader_epoch, 4);
	TL_EQ(g_view.high_watermark, 33);
	TL_EQ(g_view.n_voters, 3);
	TL_EQ(g_view.voters[1].id, 2);
	TL_EQ(g_view.voters[1].log_end_offset, 33);
	TL_EQ(g_view.voters[1].last_fetch_ms, 1700000000001);
	TL_EQ(g_view.voters[1].last_caught_up_ms, 1699999999999);
	TL_EQ(g_view.voters[2].log_end_offset, -1);
	TL_EQ(g_view.n_observers, 0);
	/* the unparsable address has no node entry */
	TL_EQ(g_view.n_nodes, 2);
	TL_EQ(g_view.nodes[1].id, 2);
	TL_TRUE(!strcmp(g_view.nodes[1].host, "127.0.0.1"));
	TL_EQ(g_view.nodes[1].port, 9194);

	/* a follower: no progress, NOT_LEADER_OR_FOLLOWER */
	st.role = SL_QUORUM_FOLLOWER;
	st.is_leader = false;
	st.leader_id = 2;
	sl_kquorum_from_status(&st, &g_view);
	TL_EQ(g_view.error, 6);
	TL_EQ(g_view.leader_id, 2);
	union kc_response u;
	encode(2, "__cluster_metadata", 0);
	const struct kc_describe_quorum_resp_partition_data *p =
		the_partition(answer(&g_view, 2, &u));
	TL_EQ(p->error_code, 6);
	TL_EQ(p->leader_id, 2);
}

static void test_single(void **state)
{
	(void)state;
	sl_kquorum_single(1, 12, 1700000000123, &g_view);
	union kc_response u;
	encode(1, "__cluster_metadata", 0);
	const struct kc_describe_quorum_resp *r = answer(&g_view, 1, &u);
	const struct kc_describe_quorum_resp_partition_data *p =
		the_partition(r);
	TL_EQ(p->error_code, 0);
	TL_EQ(p->leader_id, 1);
	TL_EQ(p->leader_epoch, 0);
	TL_EQ(p->high_watermark, 12);
	TL_EQ(p->current_voters.count, 1);
	const struct kc_describe_quorum_resp_replica_state *s =
		p->current_voters.items;
	TL_EQ(s->replica_id, 1);
	TL_EQ(s->log_end_offset, 12);
	TL_EQ(s->last_fetch_timestamp, -1);
	TL_EQ(s->last_caught_up_timestamp, 1700000000123);
	TL_EQ(p->observers.count, 0);
}

/* The largest view fits in the 16 KiB kquorum.h promises. */
static void test_largest(void **state)
{
	(void)state;
	struct sl_kquorum_view *v = &g_view;
	memset(v, 0, sizeof(*v));
	v->leader_id = INT32_MAX;
	v->leader_epoch = INT32_MAX;
	v->high_watermark = INT64_MAX;
	v->n_voters = v->n_nodes = SL_VOTERS_MAX;
	for (unsigned i = 0; i < SL_VOTERS_MAX; i++) {
		v->voters[i] = (struct sl_kquorum_replica){INT32_MAX, INT64_MAX,
							   INT64_MAX,
							   INT64_MAX};
		v->nodes[i].id = INT32_MAX;
		memset(v->nodes[i].host, 'h', SL_KQUORUM_HOST_MAX - 1);
		v->nodes[i].port = 65535;
	}
	v->n_observers = SL_KQUORUM_OBSERVERS_MAX;
	for (unsigned i = 0; i < SL_KQUORUM_OBSERVERS_MAX; i++)
		v->observers[i] = v->voters[0];
	encode(2, "__cluster_metadata", 0);
	long n = sl_kquorum_handle(v, g_req, g_req_len, g_resp, 16384);
	TL_TRUE(n > 0);
	print_message("largest answer: %ld bytes\n", n);
}

static void test_refused(void **state)
{
	(void)state;
	three_voters(&g_view);
	encode(2, "__cluster_metadata", 0);
	/* every truncation: not decodable (or too short to be ours) */
	for (size_t cut = 0; cut < g_req_len; cut++) {
		long n = sl_kquorum_handle(&g_view, g_req, cut, g_resp,
					   sizeof(g_resp));
		TL_TRUE(n < 0);
	}
	/* too small a buffer */
	TL_EQ(sl_kquorum_handle(&g_view, g_req, g_req_len, g_resp, 20),
	      -ENOBUFS);
	/* another API */
	g_req[1] = 3; /* Metadata */
	TL_EQ(sl_kquorum_handle(&g_view, g_req, g_req_len, g_resp,
				sizeof(g_resp)), -EINVAL);
	/* a version Kafka does not define */
	encode(2, "__cluster_metadata", 0);
	g_req[3] = 3;
	TL_EQ(sl_kquorum_handle(&g_view, g_req, g_req_len, g_resp,
				sizeof(g_resp)), -SN_ERR_UNSUPPORTED_VERSION);
	TL_TRUE(sl_kquorum_serves(KC_API_DESCRIBE_QUORUM));
	TL_TRUE(!sl_kquorum_serves(KC_API_METADATA));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_not_our_partition),
		cmocka_unit_test(test_from_status),
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_largest),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
