/*
 * Unit tests of the Kafka admin requests in the control plane
 * (control/kadmin.c) against a real metadata directory in a temp dir:
 * CreateTopics (defaults, configs, validate_only, replication factor,
 * assignments, duplicates, an existing topic), DeleteTopics (known and
 * unknown), DescribeConfigs (a topic, the broker, filters, errors), and
 * requests that cannot be decoded or answered (truncations at every byte,
 * other APIs and versions, a response buffer too small, before anything
 * changes).
 *
 * Requests are built with the codec from structs and responses decoded with
 * it; the codec's own wire tests are in tests/kafka/.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"
#include "control/admin.h"
#include "control/kadmin.h"
#include "control/metadata.h"
#include "proto/config.h"
#include "proto/kafka/kcodec.h"
#include "proto/topic_uuid.h"

#define KA_SET 0
#define KA_DEL 1
#define KA_APPEND 2
#define KA_SUBTRACT 3

static char g_dir[PATH_MAX];
static struct sl_meta *g_m;
static struct sl_config g_cfg;

static uint8_t g_req[1 << 16];
static size_t g_req_len;
static uint8_t g_resp[1 << 16];
static _Alignas(8) uint8_t g_arena_mem[1 << 18];

static int setup(void **state)
{
	(void)state;
	char err[1024];
	if (tl_tmpdir(g_dir, "kadmin"))
		return -1;
	sl_config_defaults(&g_cfg);
	g_cfg.default_partitions = 2;
	g_cfg.durability = 1;
	g_m = malloc(sizeof(*g_m));
	if (!g_m || sl_meta_open(g_m, g_dir, err, sizeof(err))) {
		print_error("sl_meta_open: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sl_meta_close(g_m);
	free(g_m);
	tl_rmrf(g_dir);
	return 0;
}

static struct kc_str S(const char *s)
{
	return s ? (struct kc_str){s, (int32_t)strlen(s)}
		 : (struct kc_str){NULL, -1};
}

static void encode(int16_t key, int16_t ver, const void *body, size_t size)
{
	union kc_request q;
	memset(&q, 0, sizeof(q));
	memcpy(q.raw, body, size);
	struct kc_request_header h = {key, ver, 77, S("kadmin-test")};
	long n = kc_encode_request(&h, &q, g_req, sizeof(g_req));
	TL_TRUE(n > 0);
	g_req_len = (size_t)n;
}

/* Answer g_req into a buffer of cap bytes; decode the response into out. */
static int32_t g_brokers; /* 0: a single broker; else a cluster's */

/* a cluster's broker states (sl_kadmin_handle_brokers); NULL: none given */
static int (*g_state)(void *ctx, int32_t id);

static long answer(int16_t key, int16_t ver, size_t cap, union kc_response *out,
		   int *changed)
{
	struct sl_kadmin_brokers b = {g_brokers, g_state, NULL};
	long n = sl_kadmin_handle_brokers(g_m, &g_cfg, &b, g_req, g_req_len,
					  g_resp, cap, changed);
	if (n < 0)
		return n;
	TL_TRUE((size_t)n <= cap);
	struct kc_response_header h;
	struct kc_arena a = {g_arena_mem, sizeof(g_arena_mem), 0};
	TL_EQ(kc_decode_response(key, ver, g_resp, (size_t)n, &h, out, &a), n);
	TL_EQ(h.correlation_id, (int32_t)((uint32_t)g_req[4] << 24 |
					 (uint32_t)g_req[5] << 16 |
					 (uint32_t)g_req[6] << 8 | g_req[7]));
	return n;
}

static long call(int16_t key, int16_t ver, const void *body, size_t size,
		 union kc_response *out, int *changed)
{
	encode(key, ver, body, size);
	return answer(key, ver, sizeof(g_resp), out, changed);
}

static void assert_str_is(struct kc_str s, const char *want)
{
	if (!want) {
		TL_EQ(s.len, -1);
		return;
	}
	if (s.len != (int32_t)strlen(want) ||
	    (s.len > 0 && memcmp(s.ptr, want, strlen(want))))
		fail_msg("'%.*s', expected '%s'", s.len > 0 ? (int)s.len : 0,
			 s.len > 0 ? s.ptr : "", want);
}

static void assert_msg_has(struct kc_str s, const char *needle)
{
	if (s.len <= 0 || !s.ptr)
		fail_msg("no error message, expected one saying '%s'", needle);
	if (!memmem(s.ptr, (size_t)s.len, needle, strlen(needle)))
		fail_msg("error message '%.*s' does not say '%s'", (int)s.len,
			 s.ptr, needle);
}

/* Topics to create, each with up to 8 configs. */
static struct kc_create_topics_req_config g_cfgs[8][8];
static struct kc_create_topics_req_topic g_topics[8];

static struct kc_create_topics_req_topic *topic(int i, const char *name,
						int32_t partitions, int16_t rf)
{
	g_topics[i] = (struct kc_create_topics_req_topic){
		S(name), partitions, rf, {NULL, 0}, {g_cfgs[i], 0}};
	return &g_topics[i];
}

static void with_config(int i, const char *k, const char *v)
{
	struct kc_array *a = &g_topics[i].configs;
	TL_TRUE(a->count < 8);
	g_cfgs[i][a->count++] = (struct kc_create_topics_req_config){S(k), S(v)};
}

/* CreateTopics of g_topics[0..n) at version ver; the results. */
static const struct kc_create_topics_resp_topic *
create(int16_t ver, int n, bool validate_only, int *changed, int32_t *count)
{
	static union kc_response r;
	struct kc_create_topics_req q = {{g_topics, n}, 30000, validate_only};
	TL_TRUE(call(KC_API_CREATE_TOPICS, ver, &q, sizeof(q), &r, changed) > 0);
	const struct kc_create_topics_resp *cr = (const void *)r.raw;
	*count = cr->topics.count;
	return cr->topics.items;
}

/* The one result of a CreateTopics of g_topics[0]. */
static const struct kc_create_topics_resp_topic *create1(int16_t ver,
							 bool validate_only,
							 int *changed)
{
	int32_t n;
	const struct kc_create_topics_resp_topic *t =
		create(ver, 1, validate_only, changed, &n);
	TL_EQ(n, 1);
	return t;
}

static const struct sl_topic *find(const char *name)
{
	return sl_meta_find(g_m, name, strlen(name));
}

/* ---- CreateTopics ---- */

static void test_create(void **state)
{
	(void)state;
	int changed;
	topic(0, "orders", 3, 1);
	with_config(0, "retention.ms", "60000");
	with_config(0, "cleanup.policy", "delete");
	topic(1, "events", -1, -1); /* the defaults */
	int32_t n;
	const struct kc_create_topics_resp_topic *r = create(4, 2, false,
							     &changed, &n);
	TL_EQ(n, 2);
	TL_EQ(changed, 1);
	assert_str_is(r[0].name, "orders");
	TL_EQ(r[0].error_code, 0);
	assert_str_is(r[0].error_message, NULL);
	assert_str_is(r[1].name, "events");
	TL_EQ(r[1].error_code, 0);

	const struct sl_topic *t = find("orders");
	TL_TRUE(t != NULL);
	TL_EQ(t->partitions, 3);
	TL_EQ(t->retention_ms, 60000);
	TL_EQ(t->retention_bytes, g_cfg.retention_bytes);
	TL_EQ(t->segment_bytes, g_cfg.segment_bytes);
	TL_EQ(t->durability, g_cfg.durability);
	t = find("events");
	TL_TRUE(t != NULL);
	TL_EQ(t->partitions, g_cfg.default_partitions);
	TL_EQ(t->retention_ms, g_cfg.retention_ms);

	/* exactly what the native path makes of the same request */
	struct sn_create_topic nr = {.partitions = 2, .durability = 1,
				     .name = "events", .name_len = 6};
	struct sl_topic native;
	TL_OK(sl_admin_topic_from(&g_cfg, &nr, &native));
	TL_EQ(native.partitions, t->partitions);
	TL_EQ(native.durability, t->durability);
	TL_EQ(native.retention_ms, t->retention_ms);
	TL_EQ(native.retention_bytes, t->retention_bytes);
	TL_EQ(native.segment_bytes, t->segment_bytes);
	TL_EQ(native.name_len, t->name_len);
	TL_EQ(strcmp(native.name, t->name), 0);

	/* durable: another handle on the directory sees both */
	char err[1024];
	struct sl_meta *m2 = malloc(sizeof(*m2));
	TL_OK(sl_meta_open(m2, g_dir, err, sizeof(err)));
	TL_TRUE(sl_meta_find(m2, "orders", 6) != NULL);
	TL_TRUE(sl_meta_find(m2, "events", 6) != NULL);
	sl_meta_close(m2);
	free(m2);
}

/* CreateTopics v5+ (flexible) answers with the created topic's partitions,
 * replication factor and configs, v7 with its topic id too. */
static void test_create_v7(void **state)
{
	(void)state;
	int changed;
	topic(0, "shown", 3, -1);
	with_config(0, "retention.ms", "60000");
	with_config(0, "cleanup.policy", "compact");
	for (int16_t ver = 5; ver <= 7; ver += 2) {
		const struct kc_create_topics_resp_topic *r =
			create1(ver, ver == 5, &changed);
		TL_EQ(r->error_code, 0);
		TL_EQ(changed, ver == 7);
		TL_EQ(r->num_partitions, 3);
		TL_EQ(r->replication_factor, 1);
		TL_EQ(r->configs.count, 12);
		const struct kc_create_topics_resp_config *c = r->configs.items;
		int seen = 0;
		for (int32_t i = 0; i < r->configs.count; i++) {
			if (c[i].name.len == 12 &&
			    !memcmp(c[i].name.ptr, "retention.ms", 12)) {
				assert_str_is(c[i].value, "60000");
				TL_EQ(c[i].config_source, KC_CONFIG_SOURCE_TOPIC);
				TL_EQ(c[i].read_only, false);
				seen++;
			} else if (c[i].name.len == 14 &&
				   !memcmp(c[i].name.ptr, "cleanup.policy", 14)) {
				assert_str_is(c[i].value, "compact");
				TL_EQ(c[i].config_source, KC_CONFIG_SOURCE_TOPIC);
				seen++;
			} else if (c[i].name.len == 13 &&
				   !memcmp(c[i].name.ptr, "segment.bytes", 13)) {
				assert_str_is(c[i].value, "1073741824");
				TL_EQ(c[i].config_source, KC_CONFIG_SOURCE_DEFAULT);
				seen++;
			}
		}
		TL_EQ(seen, 3);
		uint8_t want[16] = {0};
		if (ver == 7)
			sl_topic_uuid(find("shown")->id, want);
		else
			TL_TRUE(find("shown") == NULL); /* validate_only */
		TL_EQ(memcmp(r->topic_id.b, want, 16), 0);
	}
	/* an error: no configs, counts -1 */
	const struct kc_create_topics_resp_topic *r = create1(7, false, &changed);
	TL_EQ(r->error_code, SN_ERR_TOPIC_ALREADY_EXISTS);
	TL_EQ(r->num_partitions, -1);
	TL_EQ(r->configs.count, -1);
	/* v0 still answers name and code only */
	topic(0, "plain", 1, 1);
	r = create1(0, false, &changed);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->configs.count, 0);
}

static void test_create_again(void **state)
{
	(void)state;
	int changed;
	topic(0, "again", 1, 1);
	TL_EQ(create1(4, false, &changed)->error_code, 0);
	uint32_t id = find("again")->id;
	const struct kc_create_topics_resp_topic *r = create1(4, false, &changed);
	TL_EQ(changed, 0);
	TL_EQ(r->error_code, SN_ERR_TOPIC_ALREADY_EXISTS);
	assert_msg_has(r->error_message, "already exists");
	TL_EQ(find("again")->id, id);
	/* v0 carries no message, only the code */
	r = create1(0, false, &changed);
	TL_EQ(r->error_code, SN_ERR_TOPIC_ALREADY_EXISTS);
	TL_EQ(r->error_message.len, 0);
}

static void test_validate_only(void **state)
{
	(void)state;
	int changed;
	topic(0, "checked", 4, -1);
	const struct kc_create_topics_resp_topic *r = create1(1, true, &changed);
	TL_EQ(r->error_code, 0);
	TL_EQ(changed, 0);
	TL_TRUE(find("checked") == NULL);
	/* still checked: a bad config is reported without creating */
	with_config(0, "retention.ms", "soon");
	r = create1(1, true, &changed);
	TL_EQ(r->error_code, 40);
	/* an existing topic, created by another handle since */
	char err[1024];
	struct sl_meta *m2 = malloc(sizeof(*m2));
	TL_OK(sl_meta_open(m2, g_dir, err, sizeof(err)));
	struct sl_topic t;
	struct sn_create_topic nr = {.partitions = 1, .name = "checked",
				     .name_len = 7};
	TL_OK(sl_admin_topic_from(&g_cfg, &nr, &t));
	TL_TRUE(sl_admin_create(m2, &t, NULL, err, sizeof(err)) > 0);
	sl_meta_close(m2);
	free(m2);
	topic(0, "checked", 4, -1);
	r = create1(3, true, &changed);
	TL_EQ(r->error_code, SN_ERR_TOPIC_ALREADY_EXISTS);
	TL_EQ(changed, 0);
}

static void test_replication_factor(void **state)
{
	(void)state;
	int changed;
	topic(0, "replicated", 1, 3);
	const struct kc_create_topics_resp_topic *r = create1(2, false, &changed);
	TL_EQ(r->error_code, 38); /* INVALID_REPLICATION_FACTOR */
	assert_msg_has(r->error_message, "single node");
	TL_EQ(changed, 0);
	TL_TRUE(find("replicated") == NULL);
	topic(0, "replicated", 1, 0);
	TL_EQ(create1(2, false, &changed)->error_code, 38);
	topic(0, "replicated", 1, -2);
	TL_EQ(create1(2, false, &changed)->error_code, 38);
	topic(0, "replicated", 1, 1);
	TL_EQ(create1(2, false, &changed)->error_code, 0);
	TL_EQ(changed, 1);
}

/* On the active controller of a cluster of 2 live brokers. */
static void test_replication_factor_cluster(void **state)
{
	(void)state;
	int changed;
	char err[256];
	g_brokers = 2;
	TL_OK(sl_config_set(&g_cfg, "controller_quorum_voters=1@127.0.0.1:1,"
			    "2@127.0.0.1:3,3@127.0.0.1:5", err, sizeof(err)));
	topic(0, "r3", 1, 3);
	const struct kc_create_topics_resp_topic *r = create1(5, false, &changed);
	TL_EQ(r->error_code, 38);
	assert_msg_has(r->error_message, "only 2 broker(s) are registered");
	topic(0, "r3", 1, -1); /* the default is 3 with three voters */
	TL_EQ(create1(5, false, &changed)->error_code, 38);
	topic(0, "r9", 1, 9);
	TL_EQ(create1(5, false, &changed)->error_code, 38);
	topic(0, "r2", 4, 2);
	r = create1(5, false, &changed);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->replication_factor, 2);
	TL_EQ(r->num_partitions, 4);
	TL_EQ(find("r2")->replication_factor, 2);
	/* a cluster's topic sets its replication configs */
	topic(0, "m2", 1, 2);
	with_config(0, "min.insync.replicas", "2");
	with_config(0, "unclean.leader.election.enable", "true");
	TL_EQ(create1(5, false, &changed)->error_code, 0);
	TL_EQ(find("m2")->min_insync_replicas, 2);
	TL_EQ(find("m2")->unclean_leader_election, 2);
	topic(0, "m0", 1, 2);
	with_config(0, "min.insync.replicas", "0");
	r = create1(5, false, &changed);
	TL_EQ(r->error_code, 40);
	assert_msg_has(r->error_message, "min.insync.replicas");
	topic(0, "u9", 1, 2);
	with_config(0, "unclean.leader.election.enable", "maybe");
	TL_EQ(create1(5, false, &changed)->error_code, 40);
	TL_OK(sl_config_set(&g_cfg, "default_replication_factor=1", err,
			    sizeof(err)));
	topic(0, "r1", 1, -1);
	r = create1(5, false, &changed);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->replication_factor, 1);
	g_brokers = 0;
}

static void test_bad_config(void **state)
{
	(void)state;
	int changed;
	static const struct {
		const char *key, *value, *says;
	} bad[] = {
		{"compression.type", "lz4", "compression.type"},
		{"min.insync.replicas", "2", "a single broker"},
		{"unclean.leader.election.enable", "true", "a single broker"},
		{"cleanup.policy", "compactt", "cleanup.policy"},
		{"cleanup.policy", "compact,", "cleanup.policy"},
		{"cleanup.policy", "", "cleanup.policy"},
		{"min.cleanable.dirty.ratio", "1.5", "min.cleanable.dirty.ratio"},
		{"min.cleanable.dirty.ratio", "-0.1", "min.cleanable.dirty.ratio"},
		{"min.cleanable.dirty.ratio", "nan", "min.cleanable.dirty.ratio"},
		{"min.compaction.lag.ms", "-1", "min.compaction.lag.ms"},
		{"max.compaction.lag.ms", "0", "max.compaction.lag.ms"},
		{"delete.retention.ms", "-1", "delete.retention.ms"},
		{"retention.ms", "abc", "retention.ms"},
		{"retention.ms", "0", "retention.ms"},
		{"retention.ms", "-2", "retention.ms"},
		{"retention.bytes", "12x", "retention.bytes"},
		{"retention.bytes", "99999999999999999999", "retention.bytes"},
		{"segment.bytes", "100", "segment.bytes"},
		{"segment.bytes", "4294967296", "segment.bytes"},
		{"retention.ms", NULL, "retention.ms"},
		{"", "1", "''"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		topic(0, "configured", 1, 1);
		with_config(0, bad[i].key, bad[i].value);
		const struct kc_create_topics_resp_topic *r =
			create1(4, false, &changed);
		if (r->error_code != 40)
			fail_msg("%s=%s: error %d", bad[i].key, bad[i].value,
				 r->error_code);
		assert_msg_has(r->error_message, bad[i].says);
		TL_EQ(changed, 0);
	}
	/* a key given twice */
	topic(0, "configured", 1, 1);
	with_config(0, "retention.ms", "1000");
	with_config(0, "retention.ms", "2000");
	TL_EQ(create1(4, false, &changed)->error_code, 40);
	TL_TRUE(find("configured") == NULL);
	/* every accepted key at once, at its limits */
	topic(0, "configured", 1, 1);
	with_config(0, "retention.ms", "-1");
	with_config(0, "retention.bytes", "1048576");
	with_config(0, "segment.bytes", "1048576");
	with_config(0, "cleanup.policy", "delete");
	TL_EQ(create1(4, false, &changed)->error_code, 0);
	const struct sl_topic *t = find("configured");
	TL_EQ(t->retention_ms, -1);
	TL_EQ(t->retention_bytes, 1048576);
	TL_EQ(t->segment_bytes, 1048576);
	TL_EQ(t->cleanup_policy, SN_CLEANUP_DELETE);
	TL_TRUE(t->min_cleanable_dirty_ratio == 0.5);
	TL_EQ(t->max_compaction_lag_ms, INT64_MAX);
	TL_EQ(t->delete_retention_ms, 86400000);

	/* the compaction configs, at their limits */
	static const char *const policies[] = {"compact", " delete , compact",
					       "compact,delete"};
	static const uint8_t bits[] = {SN_CLEANUP_COMPACT, 3, 3};
	for (unsigned i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "compacted%u", i);
		topic(0, name, 1, 1);
		with_config(0, "cleanup.policy", policies[i]);
		with_config(0, "min.cleanable.dirty.ratio", i ? "1" : "0");
		with_config(0, "min.compaction.lag.ms", "0");
		with_config(0, "max.compaction.lag.ms", "1");
		with_config(0, "delete.retention.ms", "0");
		TL_EQ(create1(4, false, &changed)->error_code, 0);
		t = find(name);
		TL_EQ(t->cleanup_policy, bits[i]);
		TL_TRUE(t->min_cleanable_dirty_ratio == (i ? 1.0 : 0.0));
		TL_EQ(t->min_compaction_lag_ms, 0);
		TL_EQ(t->max_compaction_lag_ms, 1);
		TL_EQ(t->delete_retention_ms, 0);
	}
	/* Kafka's rule across two configs */
	topic(0, "lagged", 1, 1);
	with_config(0, "min.compaction.lag.ms", "5000");
	with_config(0, "max.compaction.lag.ms", "4999");
	const struct kc_create_topics_resp_topic *r = create1(4, false, &changed);
	TL_EQ(r->error_code, 40);
	TL_TRUE(strstr(r->error_message.ptr, "min.compaction.lag.ms") != NULL);
	TL_EQ(changed, 0);
	TL_TRUE(find("lagged") == NULL);
}

static void test_bad_topics(void **state)
{
	(void)state;
	int changed;
	topic(0, "zero", 0, 1);
	TL_EQ(create1(4, false, &changed)->error_code, SN_ERR_INVALID_PARTITIONS);
	topic(0, "many", 1025, 1);
	TL_EQ(create1(4, false, &changed)->error_code, SN_ERR_INVALID_PARTITIONS);
	topic(0, "bad/name", 1, 1);
	const struct kc_create_topics_resp_topic *r = create1(4, false, &changed);
	TL_EQ(r->error_code, SN_ERR_INVALID_TOPIC_EXCEPTION);
	assert_str_is(r->name, "bad/name");
	topic(0, "..", 1, 1);
	TL_EQ(create1(4, false, &changed)->error_code,
	      SN_ERR_INVALID_TOPIC_EXCEPTION);
	topic(0, "", 1, 1);
	TL_EQ(create1(4, false, &changed)->error_code,
	      SN_ERR_INVALID_TOPIC_EXCEPTION);
	TL_EQ(changed, 0);
	TL_EQ(g_m->count, 0);

	/* a name given twice: one result, INVALID_REQUEST; the rest is done */
	topic(0, "twice", 1, 1);
	topic(1, "once", 1, 1);
	topic(2, "twice", 2, 1);
	int32_t n;
	r = create(4, 3, false, &changed, &n);
	TL_EQ(n, 2);
	assert_str_is(r[0].name, "twice");
	TL_EQ(r[0].error_code, SN_ERR_INVALID_REQUEST);
	assert_msg_has(r[0].error_message, "more than once");
	assert_str_is(r[1].name, "once");
	TL_EQ(r[1].error_code, 0);
	TL_EQ(changed, 1);
	TL_TRUE(find("twice") == NULL);
}

static void test_assignments(void **state)
{
	(void)state;
	int changed;
	int32_t node = g_cfg.node_id, other = node + 1;
	struct kc_create_topics_assignment a[3] = {
		{1, {&node, 1}}, {0, {&node, 1}}, {2, {&node, 1}}};
	topic(0, "assigned", -1, -1)->assignments =
		(struct kc_array){a, 3};
	TL_EQ(create1(4, false, &changed)->error_code, 0);
	TL_EQ(find("assigned")->partitions, 3);

	static const int16_t want[] = {39, 39, 39, 42};
	for (int i = 0; i < 4; i++) {
		struct kc_create_topics_assignment b[2] = {
			{0, {&node, 1}}, {1, {&node, 1}}};
		int32_t two[2] = {node, node};
		int32_t np = -1;
		if (i == 0)
			b[1].broker_ids = (struct kc_array){&other, 1};
		if (i == 1)
			b[1].broker_ids = (struct kc_array){two, 2};
		if (i == 2)
			b[1].partition_index = 0; /* partition 0 twice */
		if (i == 3)
			np = 2; /* a count and an assignment */
		topic(0, "misassigned", np, -1)->assignments =
			(struct kc_array){b, 2};
		const struct kc_create_topics_resp_topic *r =
			create1(4, false, &changed);
		TL_EQ(r->error_code, want[i]);
		TL_TRUE(r->error_message.len > 0);
	}
	TL_TRUE(find("misassigned") == NULL);
}

static int setup_cluster(void **state)
{
	g_brokers = 0;
	g_state = NULL;
	return setup(state);
}

/* Brokers 1-3 live, 4 fenced, the others not registered. */
static int three_and_a_fenced(void *ctx, int32_t id)
{
	(void)ctx;
	return id >= 1 && id <= 3 ? 2 : id == 4 ? 1 : 0;
}

/* A cluster's manual assignment: lists of registered brokers, as long as
 * one another, each with a live one; without the brokers' states (not the
 * active controller) none is taken. */
static void test_cluster_assignments(void **state)
{
	(void)state;
	int changed;
	g_brokers = 3;
	int32_t r0[3] = {2, 3, 1}, r1[3] = {3, 1, 2};
	struct kc_create_topics_assignment a[2] = {{1, {r1, 3}},
						   {0, {r0, 3}}};
	topic(0, "placed", -1, -1)->assignments = (struct kc_array){a, 2};
	TL_EQ(create1(4, false, &changed)->error_code, 39); /* no states */
	g_state = three_and_a_fenced;
	TL_EQ(create1(4, false, &changed)->error_code, 0);
	TL_EQ(changed, 1);
	TL_EQ(find("placed")->partitions, 2);
	TL_EQ(find("placed")->replication_factor, 3);

	int32_t unknown[3] = {1, 9, 2}, twice[3] = {1, 1, 2}, two[2] = {1, 2};
	int32_t fenced[1] = {4}, mixed[2] = {4, 1};
	struct {
		struct kc_create_topics_assignment a[2];
		int n;
		int32_t np;
		int16_t want;
		const char *says;
	} cases[] = {
		{{{0, {unknown, 3}}}, 1, -1, 39, "broker 9 is not registered"},
		{{{0, {twice, 3}}}, 1, -1, 39, "broker 1 twice"},
		{{{0, {r0, 3}}, {1, {two, 2}}}, 2, -1, 39, "the same number"},
		{{{0, {fenced, 1}}}, 1, -1, 39, "none of its replicas"},
		{{{0, {r0, 3}}}, 1, 1, 42, "not both"},
		{{{0, {mixed, 2}}}, 1, -1, 0, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "case-%zu", i);
		topic(0, name, cases[i].np, -1)->assignments =
			(struct kc_array){cases[i].a, cases[i].n};
		const struct kc_create_topics_resp_topic *r =
			create1(4, false, &changed);
		TL_EQ(r->error_code, cases[i].want);
		if (cases[i].says)
			assert_msg_has(r->error_message, cases[i].says);
		TL_EQ(find(name) != NULL, cases[i].want == 0);
	}
	TL_EQ(find("case-5")->replication_factor, 2);
	g_state = NULL;
	g_brokers = 0;
}

/* ---- DeleteTopics ---- */

static const struct kc_delete_topics_resp_topic *
delete(int16_t ver, const char *a, const char *b, int *changed, int32_t *n)
{
	static union kc_response r;
	struct kc_str names[2] = {S(a), S(b)};
	struct kc_delete_topics_req q = {{NULL, 0}, {names, b ? 2 : 1}, 1000};
	TL_TRUE(call(KC_API_DELETE_TOPICS, ver, &q, sizeof(q), &r, changed) > 0);
	const struct kc_delete_topics_resp *dr = (const void *)r.raw;
	*n = dr->responses.count;
	return dr->responses.items;
}

static void test_delete(void **state)
{
	(void)state;
	int changed;
	int32_t n;
	topic(0, "doomed", 2, 1);
	topic(1, "kept", 1, 1);
	create(4, 2, false, &changed, &n);
	uint32_t id = find("doomed")->id;
	const struct kc_delete_topics_resp_topic *r =
		delete(0, "doomed", NULL, &changed, &n);
	TL_EQ(n, 1);
	assert_str_is(r[0].name, "doomed");
	TL_EQ(r[0].error_code, 0);
	TL_EQ(changed, 1);
	TL_TRUE(find("doomed") == NULL);
	TL_TRUE(find("kept") != NULL);
	/* remembered as a tombstone, as the native delete does */
	TL_EQ(g_m->tomb_count, 1);
	TL_EQ(g_m->tombs[0].id, id);

	r = delete(3, "doomed", "never", &changed, &n);
	TL_EQ(n, 2);
	TL_EQ(r[0].error_code, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	TL_EQ(r[1].error_code, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_str_is(r[1].name, "never");
	TL_EQ(changed, 0);

	r = delete(1, "kept", "kept", &changed, &n);
	TL_EQ(n, 1);
	TL_EQ(r[0].error_code, SN_ERR_INVALID_REQUEST);
	TL_TRUE(find("kept") != NULL);
	r = delete(2, "kept", NULL, &changed, &n);
	TL_EQ(r[0].error_code, 0);
	TL_EQ(g_m->count, 0);
}

/* DeleteTopics v6 names topics by id or by name: the id of a live topic
 * deletes it (the response gives its name and id), an id no topic has is
 * UNKNOWN_TOPIC_ID, a topic named both ways is a duplicate. */
static void test_delete_v6(void **state)
{
	(void)state;
	int changed;
	int32_t n;
	topic(0, "by-id", 1, 1);
	topic(1, "by-name", 1, 1);
	topic(2, "twice", 1, 1);
	create(7, 3, false, &changed, &n);
	uint32_t id = find("by-id")->id, twice = find("twice")->id;
	uint32_t id_name = find("by-name")->id;
	struct kc_delete_topics_req_topic tv[5] = {
		{S(NULL), {{0}}}, {S("by-name"), {{0}}}, {S(NULL), {{0}}},
		{S("twice"), {{0}}}, {S(NULL), {{0}}}};
	sl_topic_uuid(id, tv[0].topic_id.b);
	sl_topic_uuid(9999, tv[2].topic_id.b);
	sl_topic_uuid(twice, tv[4].topic_id.b);
	struct kc_delete_topics_req q = {{tv, 5}, {NULL, 0}, 1000};
	static union kc_response r;
	TL_TRUE(call(KC_API_DELETE_TOPICS, 6, &q, sizeof(q), &r, &changed) > 0);
	TL_EQ(changed, 1);
	const struct kc_delete_topics_resp *dr = (const void *)r.raw;
	const struct kc_delete_topics_resp_topic *o = dr->responses.items;
	TL_EQ(dr->responses.count, 4);
	assert_str_is(o[0].name, "by-id");
	TL_EQ(memcmp(o[0].topic_id.b, tv[0].topic_id.b, 16), 0);
	TL_EQ(o[0].error_code, 0);
	assert_str_is(o[1].name, "by-name");
	TL_EQ(o[1].error_code, 0);
	uint8_t want[16];
	sl_topic_uuid(id_name, want);
	TL_EQ(memcmp(o[1].topic_id.b, want, 16), 0);
	assert_str_is(o[2].name, NULL);
	TL_EQ(o[2].error_code, 100); /* UNKNOWN_TOPIC_ID */
	TL_EQ(memcmp(o[2].topic_id.b, tv[2].topic_id.b, 16), 0);
	assert_msg_has(o[2].error_message, "id");
	assert_str_is(o[3].name, "twice");
	TL_EQ(o[3].error_code, SN_ERR_INVALID_REQUEST);
	TL_TRUE(find("by-id") == NULL && find("by-name") == NULL);
	TL_TRUE(find("twice") != NULL);

	/* a deleted topic's id is unknown from then on; v0 answers by name */
	tv[0].name = S(NULL);
	q.topics = (struct kc_array){tv, 1};
	TL_TRUE(call(KC_API_DELETE_TOPICS, 6, &q, sizeof(q), &r, &changed) > 0);
	TL_EQ(changed, 0);
	TL_EQ(((const struct kc_delete_topics_resp_topic *)
		       dr->responses.items)[0].error_code, 100);
	const struct kc_delete_topics_resp_topic *v0 =
		delete(0, "twice", NULL, &changed, &n);
	TL_EQ(n, 1);
	assert_str_is(v0[0].name, "twice");
	TL_EQ(v0[0].error_code, 0);
}

/* ---- DescribeConfigs ---- */

static const struct kc_describe_configs_result *
describe(int16_t ver, int8_t type, const char *name, const char **keys,
	 int nkeys, bool docs)
{
	static union kc_response r;
	struct kc_str k[8];
	for (int i = 0; i < nkeys; i++)
		k[i] = S(keys[i]);
	struct kc_describe_configs_resource res = {
		type, S(name), {nkeys >= 0 ? k : NULL, nkeys}};
	struct kc_describe_configs_req q = {{&res, 1}, true, docs};
	int changed = 7;
	TL_TRUE(call(KC_API_DESCRIBE_CONFIGS, ver, &q, sizeof(q), &r,
		     &changed) > 0);
	TL_EQ(changed, 0);
	const struct kc_describe_configs_resp *dr = (const void *)r.raw;
	TL_EQ(dr->results.count, 1);
	const struct kc_describe_configs_result *o = dr->results.items;
	TL_EQ(o->resource_type, type);
	assert_str_is(o->resource_name, name);
	return o;
}

static const struct kc_describe_configs_entry *
entry(const struct kc_describe_configs_result *o, const char *name)
{
	const struct kc_describe_configs_entry *e = o->configs.items;
	for (int32_t i = 0; i < o->configs.count; i++)
		if (e[i].name.len == (int32_t)strlen(name) &&
		    !memcmp(e[i].name.ptr, name, strlen(name)))
			return &e[i];
	fail_msg("no config '%s' in the answer", name);
	return NULL;
}

/* CreatePartitions at v0 (classic) and v3 (flexible): more partitions are
 * durable; the same or fewer, an unknown topic, a wrong assignment and a
 * duplicate name get Kafka's codes and messages; validate_only changes
 * nothing. */
static void test_create_partitions(void **state)
{
	(void)state;
	int changed;
	topic(0, "grow", 2, 1);
	TL_EQ(create1(4, false, &changed)->error_code, 0);

	int32_t broker_one[] = {1}, broker_seven[] = {7};
	struct kc_create_partitions_req_assignment as[2] = {
		{{broker_one, 1}}, {{broker_seven, 1}}};
	struct kc_create_partitions_req_topic tp[6] = {
		{S("grow"), 4, {NULL, -1}},     /* 2 -> 4 */
		{S("missing"), 3, {NULL, -1}},
		{S("dup"), 3, {NULL, -1}},
		{S("dup"), 3, {NULL, -1}},
	};
	struct kc_create_partitions_req q = {{tp, 4}, 5000, false};
	union kc_response out;
	for (int16_t ver = 0; ver <= 3; ver += 3) {
		TL_TRUE(call(KC_API_CREATE_PARTITIONS, ver, &q, sizeof(q), &out,
			     &changed) > 0);
		struct kc_create_partitions_resp *r = (void *)out.raw;
		const struct kc_create_partitions_resp_topic_result *x =
			r->results.items;
		TL_EQ(r->results.count, 3);
		assert_str_is(x[0].name, "grow");
		if (ver == 0) {
			TL_EQ(x[0].error_code, 0);
			assert_str_is(x[0].error_message, NULL);
			TL_EQ(changed, 1);
		} else {
			/* the second time: no increase */
			TL_EQ(x[0].error_code, SN_ERR_INVALID_PARTITIONS);
			assert_str_is(x[0].error_message,
				      "Topic already has 4 partition(s).");
			TL_EQ(changed, 0);
		}
		TL_EQ(find("grow")->partitions, 4);
		assert_str_is(x[1].name, "missing");
		TL_EQ(x[1].error_code, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		assert_str_is(x[2].name, "dup");
		TL_EQ(x[2].error_code, SN_ERR_INVALID_REQUEST);
		assert_str_is(x[2].error_message, "Duplicate topic name.");
	}

	/* v3 bytes of a one-topic answer: header tagged fields, throttle,
	 * compact array, name, code, message, tags */
	tp[0] = (struct kc_create_partitions_req_topic){S("grow"), 3,
							{NULL, -1}};
	q.topics.count = 1;
	encode(KC_API_CREATE_PARTITIONS, 3, &q, sizeof(q));
	long n = sl_kadmin_handle(g_m, &g_cfg, g_req, g_req_len, g_resp,
				  sizeof(g_resp), &changed);
	static const char msg[] =
		"The topic grow currently has 4 partition(s); 3 would not be "
		"an increase.";
	uint8_t want[128] = {0, 0, 0, 77, 0, 0, 0, 0, 0, 2, 5, 'g', 'r', 'o',
			     'w', 0, SN_ERR_INVALID_PARTITIONS,
			     sizeof(msg)};
	memcpy(want + 18, msg, sizeof(msg) - 1);
	want[18 + sizeof(msg) - 1] = 0; /* the result's tags */
	want[19 + sizeof(msg) - 1] = 0; /* the response's tags */
	TL_EQ(n, 20 + (long)sizeof(msg) - 1);
	TL_EQ(memcmp(g_resp, want, (size_t)n), 0);

	/* assignments: as many as partitions added, each this broker */
	tp[0] = (struct kc_create_partitions_req_topic){S("grow"), 6,
							{as, 1}};
	TL_TRUE(call(KC_API_CREATE_PARTITIONS, 3, &q, sizeof(q), &out,
		     &changed) > 0);
	const struct kc_create_partitions_resp_topic_result *x =
		((struct kc_create_partitions_resp *)(void *)out.raw)->results.items;
	TL_EQ(x[0].error_code, 39);
	assert_str_is(x[0].error_message, "Attempted to add 2 additional "
		      "partition(s), but only 1 assignment(s) were specified.");
	tp[0].assignments.count = 2;
	TL_TRUE(call(KC_API_CREATE_PARTITIONS, 3, &q, sizeof(q), &out,
		     &changed) > 0);
	x = ((struct kc_create_partitions_resp *)(void *)out.raw)->results.items;
	TL_EQ(x[0].error_code, 39); /* broker 7 is not this one */
	assert_msg_has(x[0].error_message, "single node");
	as[1].broker_ids.items = broker_one;
	q.validate_only = true;
	TL_TRUE(call(KC_API_CREATE_PARTITIONS, 3, &q, sizeof(q), &out,
		     &changed) > 0);
	x = ((struct kc_create_partitions_resp *)(void *)out.raw)->results.items;
	TL_EQ(x[0].error_code, 0);
	TL_EQ(changed, 0);
	TL_EQ(find("grow")->partitions, 4);
	q.validate_only = false;
	TL_TRUE(call(KC_API_CREATE_PARTITIONS, 3, &q, sizeof(q), &out,
		     &changed) > 0);
	TL_EQ(x[0].error_code, 0);
	TL_EQ(changed, 1);
	TL_EQ(find("grow")->partitions, 6);
	/* durable: read back from the file */
	char err[512];
	TL_OK(sl_meta_reload(g_m, err, sizeof(err)));
	TL_EQ(find("grow")->partitions, 6);
}

static void test_describe_topic(void **state)
{
	(void)state;
	int changed;
	topic(0, "described", 1, 1);
	with_config(0, "retention.ms", "1234");
	TL_EQ(create1(4, false, &changed)->error_code, 0);

	/* v0, every key */
	const struct kc_describe_configs_result *o =
		describe(0, KC_RESOURCE_TOPIC, "described", NULL, -1, false);
	TL_EQ(o->error_code, 0);
	assert_str_is(o->error_message, NULL);
	TL_EQ(o->configs.count, 12);
	const struct kc_describe_configs_entry *e = entry(o, "retention.ms");
	assert_str_is(e->value, "1234");
	TL_EQ(e->is_default, false);
	TL_EQ(e->read_only, false);
	/* a single broker: one replica, the replication configs fixed */
	e = entry(o, "min.insync.replicas");
	assert_str_is(e->value, "1");
	TL_EQ(e->read_only, true);
	e = entry(o, "unclean.leader.election.enable");
	assert_str_is(e->value, "false");
	TL_EQ(e->read_only, true);
	TL_EQ(e->is_sensitive, false);
	e = entry(o, "segment.bytes");
	assert_str_is(e->value, "1073741824");
	TL_EQ(e->is_default, true);
	assert_str_is(entry(o, "retention.bytes")->value, "-1");
	assert_str_is(entry(o, "cleanup.policy")->value, "delete");
	TL_EQ(entry(o, "cleanup.policy")->is_default, true);
	assert_str_is(entry(o, "min.cleanable.dirty.ratio")->value, "0.5");
	assert_str_is(entry(o, "min.compaction.lag.ms")->value, "0");
	assert_str_is(entry(o, "max.compaction.lag.ms")->value,
		      "9223372036854775807");
	assert_str_is(entry(o, "delete.retention.ms")->value, "86400000");
	TL_EQ(entry(o, "delete.retention.ms")->is_default, true);
	TL_EQ(entry(o, "compression.type")->read_only, true);
	assert_str_is(entry(o, "min.insync.replicas")->value, "1");

	/* v3, two keys asked (one unknown: left out), documentation */
	const char *keys[] = {"retention.ms", "no.such.key", "segment.bytes"};
	o = describe(3, KC_RESOURCE_TOPIC, "described", keys, 3, true);
	TL_EQ(o->configs.count, 2);
	e = o->configs.items;
	assert_str_is(e[0].name, "retention.ms");
	TL_EQ(e[0].config_source, KC_CONFIG_SOURCE_TOPIC);
	TL_EQ(e[0].config_type, 5); /* LONG */
	TL_TRUE(e[0].documentation.len > 0);
	assert_str_is(e[1].name, "segment.bytes");
	TL_EQ(e[1].config_source, KC_CONFIG_SOURCE_DEFAULT);
	TL_EQ(e[1].config_type, 3); /* INT */
	/* synonyms (asked for): the override, then the broker's config */
	const struct kc_describe_configs_synonym *y = e[0].synonyms.items;
	TL_EQ(e[0].synonyms.count, 2);
	assert_str_is(y[0].name, "retention.ms");
	assert_str_is(y[0].value, "1234");
	TL_EQ(y[0].source, KC_CONFIG_SOURCE_TOPIC);
	assert_str_is(y[1].name, "log.retention.ms");
	assert_str_is(y[1].value, "604800000");
	TL_EQ(y[1].source, KC_CONFIG_SOURCE_STATIC_BROKER);
	y = e[1].synonyms.items;
	TL_EQ(e[1].synonyms.count, 1);
	assert_str_is(y[0].name, "log.segment.bytes");
	assert_str_is(y[0].value, "1073741824");
	/* v4 (flexible), the highest: the same fields */
	o = describe(4, KC_RESOURCE_TOPIC, "described", keys, 3, true);
	TL_EQ(o->configs.count, 2);
	e = o->configs.items;
	assert_str_is(e[0].value, "1234");
	TL_EQ(e[0].config_source, KC_CONFIG_SOURCE_TOPIC);
	TL_EQ(e[0].config_type, 5);
	TL_TRUE(e[0].documentation.len > 0);
	TL_EQ(e[0].synonyms.count, 2);
	assert_str_is(e[1].value, "1073741824");
	TL_EQ(e[1].is_default, false); /* not in v1+ */
	TL_EQ(e[1].config_source, KC_CONFIG_SOURCE_DEFAULT);
	o = describe(3, KC_RESOURCE_TOPIC, "described", keys, 0, false);
	TL_EQ(o->configs.count, 0); /* an empty list asks for nothing */
	o = describe(2, KC_RESOURCE_TOPIC, "described", NULL, -1, false);
	TL_EQ(entry(o, "retention.ms")->documentation.len, 0); /* not in v2 */

	o = describe(1, KC_RESOURCE_TOPIC, "missing", NULL, -1, false);
	TL_EQ(o->error_code, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_msg_has(o->error_message, "missing");
	TL_EQ(o->configs.count, 0);
	o = describe(1, KC_RESOURCE_TOPIC, "a b", NULL, -1, false);
	TL_EQ(o->error_code, SN_ERR_INVALID_TOPIC_EXCEPTION);

	/* a compacted topic: its settings, typed as Kafka types them */
	topic(0, "kv", 1, 1);
	with_config(0, "cleanup.policy", "delete,compact");
	with_config(0, "min.cleanable.dirty.ratio", "0.01");
	with_config(0, "min.compaction.lag.ms", "100");
	with_config(0, "max.compaction.lag.ms", "7200000");
	with_config(0, "delete.retention.ms", "1000");
	TL_EQ(create1(4, false, &changed)->error_code, 0);
	o = describe(3, KC_RESOURCE_TOPIC, "kv", NULL, -1, false);
	TL_EQ(o->error_code, 0);
	e = entry(o, "cleanup.policy");
	assert_str_is(e->value, "compact,delete");
	TL_EQ(e->is_default, false);
	TL_EQ(e->config_source, KC_CONFIG_SOURCE_TOPIC);
	TL_EQ(e->config_type, 7); /* LIST */
	e = entry(o, "min.cleanable.dirty.ratio");
	assert_str_is(e->value, "0.01");
	TL_EQ(e->config_type, 6); /* DOUBLE */
	TL_EQ(e->config_source, KC_CONFIG_SOURCE_TOPIC);
	assert_str_is(entry(o, "min.compaction.lag.ms")->value, "100");
	assert_str_is(entry(o, "max.compaction.lag.ms")->value, "7200000");
	e = entry(o, "delete.retention.ms");
	assert_str_is(e->value, "1000");
	TL_EQ(e->is_default, false);
}

static void test_describe_broker(void **state)
{
	(void)state;
	const struct kc_describe_configs_result *o =
		describe(3, KC_RESOURCE_BROKER, "1", NULL, -1, false);
	TL_EQ(o->error_code, 0);
	const struct kc_describe_configs_entry *e = entry(o, "broker.id");
	assert_str_is(e->value, "1");
	TL_EQ(e->read_only, true);
	TL_EQ(e->config_source, KC_CONFIG_SOURCE_STATIC_BROKER);
	assert_str_is(entry(o, "num.partitions")->value, "2");
	assert_str_is(entry(o, "log.retention.ms")->value, "604800000");
	assert_str_is(entry(o, "log.dirs")->value, g_cfg.data_dir);
	assert_str_is(entry(o, "default.replication.factor")->value, "1");

	const char *keys[] = {"log.segment.bytes"};
	o = describe(0, KC_RESOURCE_BROKER, "", keys, 1, false);
	TL_EQ(o->error_code, 0);
	TL_EQ(o->configs.count, 1);
	assert_str_is(entry(o, "log.segment.bytes")->value, "1073741824");

	o = describe(1, KC_RESOURCE_BROKER, "7", NULL, -1, false);
	TL_EQ(o->error_code, SN_ERR_INVALID_REQUEST);
	assert_msg_has(o->error_message, "'1'");
	o = describe(1, 3 /* group */, "g", NULL, -1, false);
	TL_EQ(o->error_code, SN_ERR_INVALID_REQUEST);
	assert_msg_has(o->error_message, "resource type 3");
}

/* ---- AlterConfigs and IncrementalAlterConfigs ---- */

static const struct kc_alter_configs_resp_resource_response *
alter(int16_t key, int16_t ver, int8_t type, const char *name,
      const void *configs, int32_t n, bool validate_only, int *changed)
{
	static union kc_response r;
	struct kc_alter_configs_req_resource res = {type, S(name),
						    {(void *)configs, n}};
	struct kc_alter_configs_req q = {{&res, 1}, validate_only};
	TL_TRUE(call(key, ver, &q, sizeof(q), &r, changed) > 0);
	const struct kc_alter_configs_resp *ar = (const void *)r.raw;
	TL_EQ(ar->responses.count, 1);
	const struct kc_alter_configs_resp_resource_response *o =
		ar->responses.items;
	TL_EQ(o->resource_type, type);
	assert_str_is(o->resource_name, name);
	return o;
}

/* AlterConfigs v0 and v2: the whole set replaced (unlisted configs back to
 * their defaults), durable; validate_only and every refusal change
 * nothing; a broker's configs are not dynamic. */
static void test_alter_configs(void **state)
{
	(void)state;
	int changed;
	topic(0, "altered", 1, 1);
	with_config(0, "retention.ms", "1234");
	with_config(0, "cleanup.policy", "compact");
	TL_EQ(create1(4, false, &changed)->error_code, 0);
	struct kc_alter_configs_req_alterable_config c[3] = {
		{S("retention.bytes"), S("5000000")},
		{S("min.compaction.lag.ms"), S("10")},
		{S("max.compaction.lag.ms"), S("20")}};
	for (int16_t ver = 0; ver <= 2; ver += 2) {
		const struct kc_alter_configs_resp_resource_response *o =
			alter(KC_API_ALTER_CONFIGS, ver, KC_RESOURCE_TOPIC,
			      "altered", c, 3, ver == 0, &changed);
		TL_EQ(o->error_code, 0);
		assert_str_is(o->error_message, NULL);
		TL_EQ(changed, ver == 2);
		const struct sl_topic *t = find("altered");
		TL_EQ(t->retention_bytes, ver == 2 ? 5000000 : g_cfg.retention_bytes);
		TL_EQ(t->retention_ms, ver == 2 ? g_cfg.retention_ms : 1234);
		TL_EQ(t->cleanup_policy, ver == 2 ? SN_CLEANUP_DELETE
						  : SN_CLEANUP_COMPACT);
		TL_EQ(t->min_compaction_lag_ms, ver == 2 ? 10 : 0);
	}
	/* durable */
	char err[1024];
	struct sl_meta *m2 = malloc(sizeof(*m2));
	TL_OK(sl_meta_open(m2, g_dir, err, sizeof(err)));
	TL_EQ(sl_meta_find(m2, "altered", 7)->retention_bytes, 5000000);
	sl_meta_close(m2);
	free(m2);
	/* DescribeConfigs shows it */
	const struct kc_describe_configs_result *d =
		describe(2, KC_RESOURCE_TOPIC, "altered", NULL, -1, false);
	assert_str_is(entry(d, "retention.bytes")->value, "5000000");
	TL_EQ(entry(d, "retention.ms")->config_source, KC_CONFIG_SOURCE_DEFAULT);

	/* refusals: nothing changes */
	struct kc_alter_configs_req_alterable_config bad[2] = {
		{S("retention.ms"), S("soon")}, {S("no.such"), S("1")}};
	const struct kc_alter_configs_resp_resource_response *o =
		alter(KC_API_ALTER_CONFIGS, 2, KC_RESOURCE_TOPIC, "altered",
		      &bad[0], 1, false, &changed);
	TL_EQ(o->error_code, 40);
	assert_msg_has(o->error_message, "retention.ms");
	TL_EQ(changed, 0);
	o = alter(KC_API_ALTER_CONFIGS, 1, KC_RESOURCE_TOPIC, "altered",
		  &bad[1], 1, false, &changed);
	TL_EQ(o->error_code, 40);
	assert_msg_has(o->error_message, "no.such");
	struct kc_alter_configs_req_alterable_config lag[2] = {
		{S("min.compaction.lag.ms"), S("30")},
		{S("max.compaction.lag.ms"), S("20")}};
	o = alter(KC_API_ALTER_CONFIGS, 1, KC_RESOURCE_TOPIC, "altered", lag, 2,
		  false, &changed);
	TL_EQ(o->error_code, 40);
	struct kc_alter_configs_req_alterable_config twice[2] = {
		{S("retention.ms"), S("1")}, {S("retention.ms"), S("2")}};
	o = alter(KC_API_ALTER_CONFIGS, 1, KC_RESOURCE_TOPIC, "altered", twice,
		  2, false, &changed);
	TL_EQ(o->error_code, SN_ERR_INVALID_REQUEST);
	assert_msg_has(o->error_message, "duplicate config keys");
	struct kc_alter_configs_req_alterable_config null1 = {
		S("retention.ms"), S(NULL)};
	o = alter(KC_API_ALTER_CONFIGS, 1, KC_RESOURCE_TOPIC, "altered", &null1,
		  1, false, &changed);
	TL_EQ(o->error_code, SN_ERR_INVALID_REQUEST);
	assert_msg_has(o->error_message, "Null value not supported for : "
			"retention.ms");
	TL_EQ(find("altered")->retention_bytes, 5000000);
	TL_EQ(find("altered")->min_compaction_lag_ms, 10);
	o = alter(KC_API_ALTER_CONFIGS, 0, KC_RESOURCE_TOPIC, "gone", c, 1,
		  false, &changed);
	TL_EQ(o->error_code, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);

	/* the broker: its configs are sluice.conf's, not dynamic */
	struct kc_alter_configs_req_alterable_config bc[2] = {
		{S("log.retention.ms"), S("1000")}, {S("num.partitions"), S("3")}};
	o = alter(KC_API_ALTER_CONFIGS, 2, KC_RESOURCE_BROKER, "1", bc, 2,
		  false, &changed);
	TL_EQ(o->error_code, SN_ERR_INVALID_REQUEST);
	assert_str_is(o->error_message, "Cannot update these configs "
		      "dynamically: Set(log.retention.ms, num.partitions)");
	o = alter(KC_API_ALTER_CONFIGS, 0, KC_RESOURCE_BROKER, "", bad + 1, 1,
		  false, &changed);
	TL_EQ(o->error_code, 40);
	assert_msg_has(o->error_message, "Unknown config name: no.such");
	o = alter(KC_API_ALTER_CONFIGS, 0, KC_RESOURCE_BROKER, "2", bc, 1,
		  false, &changed);
	TL_EQ(o->error_code, SN_ERR_INVALID_REQUEST);
	assert_msg_has(o->error_message, "Unexpected broker id, expected 1");
	o = alter(KC_API_ALTER_CONFIGS, 0, KC_RESOURCE_BROKER, "1", bc, 0,
		  false, &changed);
	TL_EQ(o->error_code, 0);
}

/* IncrementalAlterConfigs v0 and v1: SET and DELETE per key, APPEND and
 * SUBTRACT only for the list config cleanup.policy. */
static void test_incremental_alter(void **state)
{
	(void)state;
	int changed;
	topic(0, "incr", 1, 1);
	with_config(0, "retention.ms", "1234");
	with_config(0, "segment.bytes", "2097152");
	TL_EQ(create1(4, false, &changed)->error_code, 0);
	struct kc_incremental_alter_configs_req_alterable_config c[3] = {
		{S("retention.bytes"), KA_SET, S("7000000")},
		{S("retention.ms"), KA_DEL, S(NULL)},
		{S("cleanup.policy"), KA_APPEND, S("compact")}};
	const struct kc_alter_configs_resp_resource_response *o =
		alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 0, KC_RESOURCE_TOPIC,
		      "incr", c, 3, false, &changed);
	TL_EQ(o->error_code, 0);
	TL_EQ(changed, 1);
	const struct sl_topic *t = find("incr");
	TL_EQ(t->retention_bytes, 7000000);
	TL_EQ(t->retention_ms, g_cfg.retention_ms);
	TL_EQ(t->segment_bytes, 2097152); /* not named: kept */
	TL_EQ(t->cleanup_policy, SN_CLEANUP_DELETE | SN_CLEANUP_COMPACT);

	struct kc_incremental_alter_configs_req_alterable_config s[1] = {
		{S("cleanup.policy"), KA_SUBTRACT, S("delete")}};
	o = alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 1, KC_RESOURCE_TOPIC,
		  "incr", s, 1, true, &changed);
	TL_EQ(o->error_code, 0);
	TL_EQ(changed, 0); /* validate_only */
	TL_EQ(find("incr")->cleanup_policy, SN_CLEANUP_DELETE | SN_CLEANUP_COMPACT);
	o = alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 1, KC_RESOURCE_TOPIC,
		  "incr", s, 1, false, &changed);
	TL_EQ(o->error_code, 0);
	TL_EQ(find("incr")->cleanup_policy, SN_CLEANUP_COMPACT);
	s[0].value = S("compact");
	o = alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 1, KC_RESOURCE_TOPIC,
		  "incr", s, 1, false, &changed);
	TL_EQ(o->error_code, 40); /* nothing left */
	struct kc_incremental_alter_configs_req_alterable_config a[1] = {
		{S("retention.ms"), KA_APPEND, S("5")}};
	o = alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 1, KC_RESOURCE_TOPIC,
		  "incr", a, 1, false, &changed);
	TL_EQ(o->error_code, 40);
	assert_str_is(o->error_message, "Config value append is not allowed "
		      "for config key: retention.ms");
	a[0].config_operation = 9;
	o = alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 1, KC_RESOURCE_TOPIC,
		  "incr", a, 1, false, &changed);
	TL_EQ(o->error_code, SN_ERR_INVALID_REQUEST);
	assert_msg_has(o->error_message, "Unknown operations type 9");
	a[0] = (struct kc_incremental_alter_configs_req_alterable_config){
		S("nope"), KA_DEL, S(NULL)};
	o = alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 0, KC_RESOURCE_TOPIC,
		  "incr", a, 1, false, &changed);
	TL_EQ(o->error_code, 40);
	TL_EQ(find("incr")->retention_bytes, 7000000);

	/* the broker: SET refused as not dynamic, DELETE has nothing to do */
	struct kc_incremental_alter_configs_req_alterable_config b[1] = {
		{S("log.segment.bytes"), KA_SET, S("1048576")}};
	o = alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 1, KC_RESOURCE_BROKER, "1",
		  b, 1, false, &changed);
	TL_EQ(o->error_code, SN_ERR_INVALID_REQUEST);
	assert_str_is(o->error_message, "Cannot update these configs "
		      "dynamically: Set(log.segment.bytes)");
	b[0].config_operation = KA_DEL;
	o = alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 1, KC_RESOURCE_BROKER, "1",
		  b, 1, false, &changed);
	TL_EQ(o->error_code, 0);
}

/* ---- what cannot be answered ---- */

static void test_truncated(void **state)
{
	(void)state;
	int changed;
	union kc_response r;
	topic(0, "truncated", 2, 1);
	with_config(0, "retention.bytes", "1000000");
	struct kc_create_topics_req q = {{g_topics, 1}, 30000, false};
	encode(KC_API_CREATE_TOPICS, 4, &q, sizeof(q));
	size_t full = g_req_len;
	for (size_t cut = 0; cut < full; cut++) {
		g_req_len = cut;
		changed = 7;
		long n = answer(KC_API_CREATE_TOPICS, 4, sizeof(g_resp), &r,
				&changed);
		if (n >= 0)
			fail_msg("cut at %zu of %zu: answered %ld", cut, full, n);
		TL_EQ(changed, 0);
	}
	TL_EQ(g_m->count, 0);
	/* one byte more is no request either */
	g_req[full] = 0;
	g_req_len = full + 1;
	TL_EQ(answer(KC_API_CREATE_TOPICS, 4, sizeof(g_resp), &r, &changed),
	      -SN_ERR_INVALID_REQUEST);
	g_req_len = full;
	TL_TRUE(answer(KC_API_CREATE_TOPICS, 4, sizeof(g_resp), &r,
		       &changed) > 0);
	TL_EQ(changed, 1);

	/* other versions and APIs */
	encode(KC_API_CREATE_TOPICS, 4, &q, sizeof(q));
	g_req[3] = 8; /* CreateTopics v8: no such version */
	TL_EQ(answer(KC_API_CREATE_TOPICS, 4, sizeof(g_resp), &r, &changed),
	      -SN_ERR_UNSUPPORTED_VERSION);
	g_req[1] = KC_API_METADATA;
	TL_EQ(answer(KC_API_CREATE_TOPICS, 4, sizeof(g_resp), &r, &changed),
	      -EINVAL);
}

static void test_enobufs(void **state)
{
	(void)state;
	int changed;
	union kc_response r;
	topic(0, "small", 1, 1);
	topic(1, "tiny", 1, 5);
	struct kc_create_topics_req q = {{g_topics, 2}, 30000, false};
	encode(KC_API_CREATE_TOPICS, 4, &q, sizeof(q));
	/* the bound in kadmin.h: 16 + per topic its name and 20 bytes */
	size_t bound = 16 + (5 + 20) + (4 + 20);
	for (size_t cap = 0; cap < bound; cap++) {
		TL_EQ(answer(KC_API_CREATE_TOPICS, 4, cap, &r, &changed),
		      -ENOBUFS);
		TL_EQ(changed, 0);
	}
	TL_EQ(g_m->count, 0);
	/* at the bound: done, and the error message that does not fit is
	 * dropped, not the response */
	TL_TRUE(answer(KC_API_CREATE_TOPICS, 4, bound, &r, &changed) > 0);
	TL_EQ(changed, 1);
	const struct kc_create_topics_resp *cr = (const void *)r.raw;
	const struct kc_create_topics_resp_topic *t = cr->topics.items;
	TL_EQ(t[0].error_code, 0);
	TL_EQ(t[1].error_code, 38);
	TL_EQ(t[1].error_message.len, -1);
	TL_TRUE(find("small") != NULL);

	/* DeleteTopics is bounded the same way */
	struct kc_str names[1] = {S("small")};
	struct kc_delete_topics_req d = {{NULL, 0}, {names, 1}, 0};
	encode(KC_API_DELETE_TOPICS, 3, &d, sizeof(d));
	TL_EQ(answer(KC_API_DELETE_TOPICS, 3, 16 + 5 + 20 - 1, &r, &changed),
	      -ENOBUFS);
	TL_TRUE(find("small") != NULL);
	TL_TRUE(answer(KC_API_DELETE_TOPICS, 3, 16 + 5 + 20, &r, &changed) > 0);
	TL_TRUE(find("small") == NULL);

	/* DescribeConfigs changes nothing: too small is just too small */
	struct kc_describe_configs_resource res = {4, S(""), {NULL, -1}};
	struct kc_describe_configs_req dq = {{&res, 1}, false, false};
	encode(KC_API_DESCRIBE_CONFIGS, 0, &dq, sizeof(dq));
	TL_EQ(answer(KC_API_DESCRIBE_CONFIGS, 0, 64, &r, &changed), -ENOBUFS);
}

/* Valid requests of the three APIs with random bytes changed: every answer
 * is a whole response of the request's API and version, or a decode error;
 * nothing crashes (run under ASan in the sanitizer build). */
static void test_random_bytes(void **state)
{
	(void)state;
	struct tl_rng rng;
	tl_rng_init(&rng, tl_seed("kadmin_random_bytes"));
	static uint8_t base[3][1024];
	size_t base_len[3];
	topic(0, "r1", 2, 1);
	with_config(0, "retention.ms", "5000");
	topic(1, "r2", -1, -1);
	struct kc_create_topics_req cq = {{g_topics, 2}, 30000, false};
	encode(KC_API_CREATE_TOPICS, 4, &cq, sizeof(cq));
	memcpy(base[0], g_req, g_req_len), base_len[0] = g_req_len;
	struct kc_str names[2] = {S("r1"), S("r2")};
	struct kc_delete_topics_req dq = {{NULL, 0}, {names, 2}, 0};
	encode(KC_API_DELETE_TOPICS, 3, &dq, sizeof(dq));
	memcpy(base[1], g_req, g_req_len), base_len[1] = g_req_len;
	struct kc_describe_configs_resource res[2] = {
		{2, S("r1"), {names, 2}}, {4, S(""), {NULL, -1}}};
	struct kc_describe_configs_req sq = {{res, 2}, true, true};
	encode(KC_API_DESCRIBE_CONFIGS, 3, &sq, sizeof(sq));
	memcpy(base[2], g_req, g_req_len), base_len[2] = g_req_len;

	int rounds = tl_long() ? 100000 : 3000;
	for (int i = 0; i < rounds; i++) {
		int which = (int)tl_rng_below(&rng, 3);
		g_req_len = base_len[which];
		memcpy(g_req, base[which], g_req_len);
		int flips = 1 + (int)tl_rng_below(&rng, 4);
		for (int f = 0; f < flips; f++) {
			/* keep the API key: other keys are -EINVAL */
			size_t at = 2 + tl_rng_below(&rng, g_req_len - 2);
			g_req[at] = (uint8_t)tl_rng_next(&rng);
		}
		int16_t ver = (int16_t)((g_req[2] << 8) | g_req[3]);
		int16_t key = (int16_t)((g_req[0] << 8) | g_req[1]);
		int changed = 7;
		size_t cap = tl_rng_below(&rng, 8) ? sizeof(g_resp)
						   : tl_rng_below(&rng, 256);
		union kc_response r;
		long n = answer(key, ver, cap, &r, &changed);
		if (n < 0 && n != -SN_ERR_INVALID_REQUEST &&
		    n != -SN_ERR_UNSUPPORTED_VERSION && n != -ENOBUFS)
			fail_msg("round %d: %ld", i, n);
		TL_TRUE(changed == 0 || changed == 1);
		if (n < 0)
			TL_EQ(changed, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_v7, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validate_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_factor_cluster,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_factor, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_topics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assignments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster_assignments,
						setup_cluster, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_partitions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_describe_topic, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_describe_broker, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_alter_configs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_incremental_alter, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enobufs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_bytes, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
