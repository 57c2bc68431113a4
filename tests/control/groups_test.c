/*
 * Unit tests of the consumer group coordinator (control/groups.c): whole
 * Kafka requests built with the codec go in, the responses that come out
 * through the reply callback are decoded and checked, and time moves only
 * when a test says so.
 *
 * Every reply is checked to come once per request (a token answered twice
 * fails the test), to fit SL_GROUPS_MAX_RESPONSE and to carry its request's
 * correlation id.
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
#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h"

#define T0 1000000 /* the injected clock at the start of each test */
#define SESSION_MS 10000
#define REBALANCE_MS 60000

#define RETENTION_MS (24 * 3600 * 1000) /* offsets.retention: one day */

static char g_dir[PATH_MAX];
static struct sl_groups *G;
static int64_t now;
static uint64_t seq;
static struct tl_clock clk; /* its wall_ms moves with now */
static struct sl_groups_config gcfg;

/* ---- replies ---- */

static void on_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len)
{
	assert_ptr_equal(ctx, &G);
	kr_add(token, resp, len, SL_GROUPS_MAX_RESPONSE);
}

/* ---- requests ---- */

static struct kc_bytes B(const char *s)
{
	return (struct kc_bytes){(const uint8_t *)s, (int32_t)strlen(s)};
}

static bool byteseq(struct kc_bytes b, const char *want)
{
	return b.len == (int32_t)strlen(want) &&
	       (b.len == 0 || !memcmp(b.ptr, want, strlen(want)));
}

static uint64_t send_req(uint32_t conn, int16_t key, int16_t ver,
			 const void *body)
{
	uint64_t t = (uint64_t)conn << 32 | ++seq;
	size_t n;
	const uint8_t *req = kr_request(t, key, ver, body, "client", &n);
	TL_EQ(sl_groups_request(G, t, req, n, now), 0);
	return t;
}

static void advance(int64_t ms)
{
	now += ms;
	clk.wall_ms += ms;
	sl_groups_tick(G, now);
}

static uint64_t join(uint32_t conn, int16_t ver, const char *group,
		     const char *member, const char *meta)
{
	struct kc_join_group_req_protocol p = {S("range"), B(meta)};
	struct kc_join_group_req q = {
		.group_id = S(group), .session_timeout_ms = SESSION_MS,
		.rebalance_timeout_ms = REBALANCE_MS, .member_id = S(member),
		.group_instance_id = {NULL, -1}, .protocol_type = S("consumer"),
		.protocols = {&p, 1}, .reason = {NULL, -1}};
	return send_req(conn, KC_API_JOIN_GROUP, ver, &q);
}

static const struct kc_join_group_resp *join_reply(uint64_t t, int16_t ver)
{
	return kr_take(t, KC_API_JOIN_GROUP, ver);
}

/* A v5 join: MEMBER_ID_REQUIRED, then the join with the id it gave, which
 * waits for the rebalance.  The id goes to id_out. */
static uint64_t join_v5(uint32_t conn, const char *group, const char *meta,
			char *id_out)
{
	uint64_t t = join(conn, 5, group, "", meta);
	const struct kc_join_group_resp *r = join_reply(t, 5);
	TL_EQ(r->error_code, KC_ERR_MEMBER_ID_REQUIRED);
	TL_EQ(r->generation_id, -1);
	assert_true(r->member_id.len > 0 && r->member_id.len < 128);
	memcpy(id_out, r->member_id.ptr, (size_t)r->member_id.len);
	id_out[r->member_id.len] = 0;
	t = join(conn, 5, group, id_out, meta);
	assert_false(kr_has(t));
	return t;
}

static uint64_t sync_req(uint32_t conn, const char *group, int32_t gen,
			 const char *member,
			 const struct kc_sync_group_req_assignment *a, int n)
{
	struct kc_sync_group_req q = {
		.group_id = S(group), .generation_id = gen,
		.member_id = S(member), .group_instance_id = {NULL, -1},
		.protocol_type = {NULL, -1}, .protocol_name = {NULL, -1},
		.assignments = {(void *)a, n}};
	return send_req(conn, KC_API_SYNC_GROUP, 3, &q);
}

static const struct kc_sync_group_resp *sync_reply(uint64_t t)
{
	return kr_take(t, KC_API_SYNC_GROUP, 3);
}

static int16_t heartbeat(uint32_t conn, const char *group, int32_t gen,
			 const char *member)
{
	struct kc_heartbeat_req q = {S(group), gen, S(member), {NULL, -1}};
	uint64_t t = send_req(conn, KC_API_HEARTBEAT, 3, &q);
	return ((const struct kc_heartbeat_resp *)kr_take(t, KC_API_HEARTBEAT, 3))
		->error_code;
}

struct part {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const char *meta; /* NULL: null metadata */
};

/* One OffsetCommit v7 (partitions in topic runs); returns the token. */
static uint64_t commit_req(uint32_t conn, const char *group, int32_t gen,
			   const char *member, const struct part *p, int n)
{
	struct kc_offset_commit_req_topic topics[16];
	struct kc_offset_commit_req_partition parts[64];
	int nt = 0;
	assert_true(n <= 64);
	for (int i = 0; i < n; i++) {
		if (i == 0 || strcmp(p[i].topic, p[i - 1].topic)) {
			assert_true(nt < 16);
			topics[nt++] = (struct kc_offset_commit_req_topic){
				S(p[i].topic), {{0}}, {&parts[i], 0}};
		}
		topics[nt - 1].partitions.count++;
		parts[i] = (struct kc_offset_commit_req_partition){
			p[i].partition, p[i].offset, 3, -1, S(p[i].meta)};
	}
	struct kc_offset_commit_req q = {S(group), gen, S(member), {NULL, -1},
					 -1, {topics, nt}};
	return send_req(conn, KC_API_OFFSET_COMMIT, 7, &q);
}

/* Commit and check every partition's error code is want. */
static void commit(const char *group, int32_t gen, const char *member,
		   const struct part *p, int n, int16_t want)
{
	uint64_t t = commit_req(9, group, gen, member, p, n);
	const struct kc_offset_commit_resp *r = kr_take(t, KC_API_OFFSET_COMMIT, 7);
	const struct kc_offset_commit_resp_topic *rt = r->topics.items;
	int k = 0;
	for (int i = 0; i < r->topics.count; i++) {
		const struct kc_offset_commit_resp_partition *rp =
			rt[i].partitions.items;
		for (int j = 0; j < rt[i].partitions.count; j++, k++) {
			assert_true(streq(rt[i].name, p[k].topic));
			TL_EQ(rp[j].partition_index, p[k].partition);
			TL_EQ(rp[j].error_code, want);
		}
	}
	TL_EQ(k, n);
}

/* The committed offset of one partition (OffsetFetch v5), -1 for none;
 * metadata (when asked for) is copied to meta. */
static int64_t fetch_one(const char *group, const char *topic, int32_t partition,
			 char *meta)
{
	struct kc_offset_fetch_req_topic t = {S(topic), {&partition, 1}};
	struct kc_offset_fetch_req q = {.group_id = S(group),
					.topics = {&t, 1}};
	uint64_t tok = send_req(9, KC_API_OFFSET_FETCH, 5, &q);
	const struct kc_offset_fetch_resp *r = kr_take(tok, KC_API_OFFSET_FETCH, 5);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->topics.count, 1);
	const struct kc_offset_fetch_resp_topic *rt = r->topics.items;
	assert_true(streq(rt[0].name, topic));
	TL_EQ(rt[0].partitions.count, 1);
	const struct kc_offset_fetch_resp_partition *rp = rt[0].partitions.items;
	TL_EQ(rp[0].partition_index, partition);
	TL_EQ(rp[0].error_code, 0);
	if (meta) {
		int32_t ml = rp[0].metadata.len;
		if (ml < 0) {
			strcpy(meta, "(null)");
		} else {
			memcpy(meta, rp[0].metadata.ptr, (size_t)ml);
			meta[ml] = 0;
		}
	}
	if (rp[0].committed_offset < 0)
		TL_EQ(rp[0].committed_leader_epoch, -1);
	return rp[0].committed_offset;
}

static const struct kc_described_group *describe(const char *group)
{
	struct kc_str id = S(group);
	struct kc_describe_groups_req q = {{&id, 1}, false};
	uint64_t t = send_req(9, KC_API_DESCRIBE_GROUPS, 4, &q);
	const struct kc_describe_groups_resp *r =
		kr_take(t, KC_API_DESCRIBE_GROUPS, 4);
	TL_EQ(r->groups.count, 1);
	const struct kc_described_group *d = r->groups.items;
	TL_EQ(d->error_code, 0);
	assert_true(streq(d->group_id, group));
	return d;
}

/* DeleteGroups at ver of ids; each group's error code to codes (in the
 * order asked, which is the order answered). */
static void delete_groups(int16_t ver, const char *const *ids, int n,
			  int16_t *codes)
{
	struct kc_str names[16];
	assert_true(n <= 16);
	for (int i = 0; i < n; i++)
		names[i] = S(ids[i]);
	struct kc_delete_groups_req q = {{names, n}};
	uint64_t t = send_req(9, KC_API_DELETE_GROUPS, ver, &q);
	const struct kc_delete_groups_resp *r =
		kr_take(t, KC_API_DELETE_GROUPS, ver);
	TL_EQ(r->throttle_time_ms, 0);
	TL_EQ(r->results.count, n);
	const struct kc_deletable_group_result *res = r->results.items;
	for (int i = 0; i < n; i++) {
		assert_true(streq(res[i].group_id, ids[i]));
		codes[i] = res[i].error_code;
	}
}

/* How many groups ListGroups lists. */
static int32_t list_count(void)
{
	union kc_request none;
	memset(&none, 0, sizeof(none)); /* ListGroups v2 has no fields */
	uint64_t t = send_req(9, KC_API_LIST_GROUPS, 2, &none);
	const struct kc_list_groups_resp *l = kr_take(t, KC_API_LIST_GROUPS, 2);
	TL_EQ(l->error_code, 0);
	return l->groups.count;
}

static int16_t leave(uint32_t conn, const char *group, const char *member)
{
	struct kc_leave_group_req q = {S(group), S(member), {NULL, 0}};
	uint64_t t = send_req(conn, KC_API_LEAVE_GROUP, 1, &q);
	return ((const struct kc_leave_group_resp *)kr_take(t, KC_API_LEAVE_GROUP,
							  1))->error_code;
}

static void open_groups(void)
{
	char err[1024];
	int rc = sl_groups_open(g_dir, &gcfg, on_reply, &G, now, &G, err,
				sizeof(err));
	if (rc)
		fprintf(stderr, "sl_groups_open: %s\n", err);
	TL_OK(rc);
}

static void reopen(void)
{
	sl_groups_close(G);
	open_groups();
}

static void path_of(char *out, const char *file)
{
	tl_pathf(out, "%s/%s", g_dir, file);
}

static int setup(void **state)
{
	(void)state;
	if (tl_tmpdir(g_dir, "control-groups"))
		return -1;
	now = T0;
	tl_clock_init(&clk);
	gcfg = (struct sl_groups_config){.retention_ms = RETENTION_MS,
					  .clock = &clk.sl};
	seq = 0;
	kr_setup();
	open_groups();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sl_groups_close(G);
	G = NULL;
	kr_teardown();
	tl_rmrf(g_dir);
	return 0;
}

/* ---- membership ---- */

static void test_single_member(void **state)
{
	(void)state;
	/* v3: no MEMBER_ID_REQUIRED; the new group waits the initial delay */
	uint64_t t = join(1, 3, "g1", "", "meta-a");
	assert_false(kr_has(t));
	TL_EQ(sl_groups_tick(G, now), SL_GROUPS_INITIAL_DELAY_MS);
	advance(SL_GROUPS_INITIAL_DELAY_MS - 1);
	assert_false(kr_has(t));
	advance(1);
	const struct kc_join_group_resp *j = join_reply(t, 3);
	TL_EQ(j->error_code, 0);
	TL_EQ(j->generation_id, 1);
	assert_true(streq(j->protocol_name, "range"));
	assert_true(j->member_id.len > 0);
	assert_true(j->leader.len == j->member_id.len &&
		    !memcmp(j->leader.ptr, j->member_id.ptr,
			    (size_t)j->member_id.len));
	TL_EQ(j->members.count, 1);
	const struct kc_join_group_resp_member *jm = j->members.items;
	assert_true(byteseq(jm[0].metadata, "meta-a"));
	char id[128];
	memcpy(id, j->member_id.ptr, (size_t)j->member_id.len);
	id[j->member_id.len] = 0;
	assert_true(strncmp(id, "client-", 7) == 0);

	struct kc_sync_group_req_assignment a = {S(id), B("assign-a")};
	t = sync_req(1, "g1", 1, id, &a, 1);
	const struct kc_sync_group_resp *s = sync_reply(t);
	TL_EQ(s->error_code, 0);
	assert_true(byteseq(s->assignment, "assign-a"));
	TL_EQ(heartbeat(1, "g1", 1, id), 0);
	/* a SyncGroup in Stable answers the assignment again */
	t = sync_req(1, "g1", 1, id, NULL, 0);
	assert_true(byteseq(sync_reply(t)->assignment, "assign-a"));
	const struct kc_described_group *d = describe("g1");
	assert_true(streq(d->group_state, "Stable"));
	TL_EQ(kr_untaken(), 0);
}

struct trio {
	char id[3][128];
	int32_t gen;
};

/* Three members joining within the initial delay land in generation 1;
 * only the leader sees the member list; the leader's SyncGroup answers
 * everyone. */
static void three_members(struct trio *t3)
{
	uint64_t t[3];
	t[0] = join_v5(1, "g3", "meta-0", t3->id[0]);
	advance(100);
	t[1] = join_v5(2, "g3", "meta-1", t3->id[1]);
	advance(150);
	t[2] = join_v5(3, "g3", "meta-2", t3->id[2]);
	/* the delay was extended by the members that came during it */
	advance(50);
	for (int i = 0; i < 3; i++)
		assert_false(kr_has(t[i]));
	assert_true(streq(describe("g3")->group_state, "PreparingRebalance"));
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	const struct kc_join_group_resp *j[3];
	for (int i = 0; i < 3; i++) {
		j[i] = join_reply(t[i], 5);
		TL_EQ(j[i]->error_code, 0);
		TL_EQ(j[i]->generation_id, 1);
		assert_true(streq(j[i]->leader, t3->id[0]));
		assert_true(streq(j[i]->member_id, t3->id[i]));
		assert_true(streq(j[i]->protocol_name, "range"));
	}
	TL_EQ(j[0]->members.count, 3);
	TL_EQ(j[1]->members.count, 0);
	TL_EQ(j[2]->members.count, 0);
	const struct kc_join_group_resp_member *m = j[0]->members.items;
	for (int i = 0; i < 3; i++) {
		char meta[16];
		snprintf(meta, sizeof(meta), "meta-%d", i);
		assert_true(streq(m[i].member_id, t3->id[i]));
		assert_true(byteseq(m[i].metadata, meta));
		TL_EQ(m[i].group_instance_id.len, -1);
	}
	t3->gen = 1;
	assert_true(streq(describe("g3")->group_state, "CompletingRebalance"));

	/* followers wait for the leader */
	uint64_t s1 = sync_req(2, "g3", 1, t3->id[1], NULL, 0);
	uint64_t s2 = sync_req(3, "g3", 1, t3->id[2], NULL, 0);
	assert_false(kr_has(s1) || kr_has(s2));
	struct kc_sync_group_req_assignment a[3] = {
		{S(t3->id[0]), B("p0")}, {S(t3->id[1]), B("p1")},
		{S(t3->id[2]), B("p2,p3")},
	};
	uint64_t s0 = sync_req(1, "g3", 1, t3->id[0], a, 3);
	assert_true(byteseq(sync_reply(s0)->assignment, "p0"));
	assert_true(byteseq(sync_reply(s1)->assignment, "p1"));
	assert_true(byteseq(sync_reply(s2)->assignment, "p2,p3"));
	assert_true(streq(describe("g3")->group_state, "Stable"));
}

static void test_three_members_one_generation(void **state)
{
	(void)state;
	struct trio t3;
	three_members(&t3);
	TL_EQ(kr_untaken(), 0);
}

static void test_fourth_member_rebalances(void **state)
{
	(void)state;
	struct trio t3;
	three_members(&t3);
	char id3[128];
	uint64_t j3 = join_v5(4, "g3", "meta-3", id3);
	for (int i = 0; i < 3; i++)
		TL_EQ(heartbeat(1 + (uint32_t)i, "g3", 1, t3.id[i]),
		      KC_ERR_REBALANCE_IN_PROGRESS);
	/* a SyncGroup of the old generation is told too */
	uint64_t s = sync_req(2, "g3", 1, t3.id[1], NULL, 0);
	TL_EQ(sync_reply(s)->error_code, KC_ERR_REBALANCE_IN_PROGRESS);
	uint64_t r[3];
	for (int i = 0; i < 3; i++) {
		char meta[16];
		snprintf(meta, sizeof(meta), "meta-%d", i);
		r[i] = join(1 + (uint32_t)i, 5, "g3", t3.id[i], meta);
	}
	/* the last rejoin completes the rebalance at once */
	const struct kc_join_group_resp *l = join_reply(r[0], 5);
	TL_EQ(l->generation_id, 2);
	TL_EQ(l->members.count, 4);
	assert_true(streq(l->leader, t3.id[0]));
	for (int i = 1; i < 3; i++) {
		const struct kc_join_group_resp *f = join_reply(r[i], 5);
		TL_EQ(f->generation_id, 2);
		TL_EQ(f->members.count, 0);
	}
	const struct kc_join_group_resp *n = join_reply(j3, 5);
	TL_EQ(n->error_code, 0);
	TL_EQ(n->generation_id, 2);
	assert_true(streq(n->member_id, id3));
	/* the old generation is gone */
	TL_EQ(heartbeat(1, "g3", 1, t3.id[0]), KC_ERR_ILLEGAL_GENERATION);
	TL_EQ(heartbeat(1, "g3", 2, t3.id[0]), 0); /* CompletingRebalance */
	TL_EQ(kr_untaken(), 0);
}

/* Two members of generation 1 of group g, both synced. */
static void two_members(const char *g, char a[128], char b[128])
{
	uint64_t ta = join(1, 3, g, "", "ma");
	uint64_t tb = join(2, 3, g, "", "mb");
	/* b came during the delay: one more delay */
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	assert_false(kr_has(ta) || kr_has(tb));
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	const struct kc_join_group_resp *ja = join_reply(ta, 3);
	const struct kc_join_group_resp *jb = join_reply(tb, 3);
	TL_EQ(ja->generation_id, 1);
	TL_EQ(jb->generation_id, 1);
	memcpy(a, ja->member_id.ptr, (size_t)ja->member_id.len);
	a[ja->member_id.len] = 0;
	memcpy(b, jb->member_id.ptr, (size_t)jb->member_id.len);
	b[jb->member_id.len] = 0;
	uint64_t sb = sync_req(2, g, 1, b, NULL, 0);
	struct kc_sync_group_req_assignment as[2] = {{S(a), B("x")},
						     {S(b), B("y")}};
	uint64_t sa = sync_req(1, g, 1, a, as, 2);
	TL_EQ(sync_reply(sa)->error_code, 0);
	TL_EQ(sync_reply(sb)->error_code, 0);
}

static void test_session_timeout(void **state)
{
	(void)state;
	char a[128], b[128];
	two_members("gs", a, b);
	/* a heartbeats, b goes silent */
	for (int i = 0; i < 2; i++) {
		advance(4000);
		TL_EQ(heartbeat(1, "gs", 1, a), 0);
	}
	TL_EQ(describe("gs")->members.count, 2);
	/* b's session (10 s from its sync) ended before 12 s: it was removed
	 * and the group is rebalancing without it */
	advance(4000);
	TL_EQ(describe("gs")->members.count, 1);
	TL_EQ(heartbeat(1, "gs", 1, a), KC_ERR_REBALANCE_IN_PROGRESS);
	TL_EQ(heartbeat(2, "gs", 1, b), KC_ERR_UNKNOWN_MEMBER_ID);
	uint64_t t = join(1, 3, "gs", a, "ma");
	const struct kc_join_group_resp *j = join_reply(t, 3);
	TL_EQ(j->generation_id, 2);
	TL_EQ(j->members.count, 1);
	/* and when a stops too, the group empties */
	uint64_t s = sync_req(1, "gs", 2, a, NULL, 0);
	TL_EQ(sync_reply(s)->error_code, 0);
	TL_EQ(sl_groups_tick(G, now), SESSION_MS);
	advance(SESSION_MS - 1);
	TL_EQ(describe("gs")->members.count, 1);
	advance(1);
	/* nothing is left of a group without members or offsets */
	assert_true(streq(describe("gs")->group_state, "Dead"));
	TL_EQ(sl_groups_tick(G, now), -1);
	TL_EQ(kr_untaken(), 0);
}

static void test_rebalance_timeout(void **state)
{
	(void)state;
	char a[128], b[128], c[128];
	two_members("gr", a, b);
	uint64_t tc = join(3, 3, "gr", "", "mc");
	uint64_t ta = join(1, 3, "gr", a, "ma");
	/* b keeps its session with heartbeats but never rejoins */
	for (int64_t t = 0; t + 5000 < REBALANCE_MS; t += 5000) {
		advance(5000);
		TL_EQ(heartbeat(2, "gr", 1, b), KC_ERR_REBALANCE_IN_PROGRESS);
	}
	assert_false(kr_has(ta) || kr_has(tc));
	advance(REBALANCE_MS - (REBALANCE_MS / 5000 - 1) * 5000);
	const struct kc_join_group_resp *ja = join_reply(ta, 3);
	const struct kc_join_group_resp *jc = join_reply(tc, 3);
	TL_EQ(ja->generation_id, 2);
	TL_EQ(ja->members.count, 2);
	TL_EQ(jc->generation_id, 2);
	memcpy(c, jc->member_id.ptr, (size_t)jc->member_id.len);
	c[jc->member_id.len] = 0;
	TL_EQ(heartbeat(2, "gr", 1, b), KC_ERR_UNKNOWN_MEMBER_ID);
	TL_EQ(heartbeat(3, "gr", 2, c), 0);
	TL_EQ(kr_untaken(), 0);
}

static void test_leave_group_v0(void **state)
{
	(void)state;
	char a[128], b[128];
	two_members("gl", a, b);
	/* a stranger leaving changes nothing */
	struct kc_leave_group_req q = {S("gl"), S("stranger"), {NULL, 0}};
	uint64_t t = send_req(2, KC_API_LEAVE_GROUP, 0, &q);
	TL_EQ(((const struct kc_leave_group_resp *)kr_take(t, KC_API_LEAVE_GROUP, 0))
		      ->error_code, KC_ERR_UNKNOWN_MEMBER_ID);
	TL_EQ(heartbeat(1, "gl", 1, a), 0);
	q.member_id = S(b);
	t = send_req(2, KC_API_LEAVE_GROUP, 0, &q);
	TL_EQ(((const struct kc_leave_group_resp *)kr_take(t, KC_API_LEAVE_GROUP, 0))
		      ->error_code, 0);
	t = send_req(2, KC_API_LEAVE_GROUP, 0, &q); /* already gone */
	TL_EQ(((const struct kc_leave_group_resp *)kr_take(t, KC_API_LEAVE_GROUP, 0))
		      ->error_code, KC_ERR_UNKNOWN_MEMBER_ID);
	struct kc_leave_group_req nog = {S("nosuch"), S(b), {NULL, 0}};
	t = send_req(2, KC_API_LEAVE_GROUP, 1, &nog);
	TL_EQ(((const struct kc_leave_group_resp *)kr_take(t, KC_API_LEAVE_GROUP, 1))
		      ->error_code, KC_ERR_UNKNOWN_MEMBER_ID);
	TL_EQ(heartbeat(1, "gl", 1, a), KC_ERR_REBALANCE_IN_PROGRESS);
	t = join(1, 3, "gl", a, "ma");
	const struct kc_join_group_resp *j = join_reply(t, 3);
	TL_EQ(j->generation_id, 2);
	TL_EQ(j->members.count, 1);
	TL_EQ(kr_untaken(), 0);
}

static void test_leave_group_v3(void **state)
{
	(void)state;
	struct trio t3;
	three_members(&t3);
	struct kc_leave_group_req_member m[3] = {
		{.member_id = S(t3.id[1]), .group_instance_id = {NULL, -1}},
		{.member_id = S(t3.id[2]), .group_instance_id = S("inst")},
		{.member_id = S("nobody"), .group_instance_id = {NULL, -1}},
	};
	struct kc_leave_group_req q = {S("g3"), {NULL, 0}, {m, 3}};
	uint64_t t = send_req(2, KC_API_LEAVE_GROUP, 3, &q);
	const struct kc_leave_group_resp *r = kr_take(t, KC_API_LEAVE_GROUP, 3);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->members.count, 3);
	const struct kc_leave_group_resp_member *rm = r->members.items;
	assert_true(streq(rm[0].member_id, t3.id[1]));
	TL_EQ(rm[0].error_code, 0);
	TL_EQ(rm[0].group_instance_id.len, -1);
	assert_true(streq(rm[1].group_instance_id, "inst"));
	TL_EQ(rm[1].error_code, 0);
	TL_EQ(rm[2].error_code, KC_ERR_UNKNOWN_MEMBER_ID);
	const struct kc_described_group *d = describe("g3");
	assert_true(streq(d->group_state, "PreparingRebalance"));
	TL_EQ(d->members.count, 1);
	TL_EQ(kr_untaken(), 0);
}

static void test_illegal_generation_unknown_member(void **state)
{
	(void)state;
	char a[128], b[128];
	two_members("gi", a, b);
	TL_EQ(heartbeat(1, "gi", 7, a), KC_ERR_ILLEGAL_GENERATION);
	TL_EQ(heartbeat(1, "gi", 1, "stranger"), KC_ERR_UNKNOWN_MEMBER_ID);
	TL_EQ(heartbeat(1, "nosuch", 1, a), KC_ERR_UNKNOWN_MEMBER_ID);
	TL_EQ(heartbeat(1, "", 1, a), KC_ERR_INVALID_GROUP_ID);
	uint64_t t = sync_req(1, "gi", 0, a, NULL, 0);
	TL_EQ(sync_reply(t)->error_code, KC_ERR_ILLEGAL_GENERATION);
	t = sync_req(1, "gi", 1, "stranger", NULL, 0);
	TL_EQ(sync_reply(t)->error_code, KC_ERR_UNKNOWN_MEMBER_ID);
	t = join(1, 3, "gi", "stranger", "m");
	TL_EQ(join_reply(t, 3)->error_code, KC_ERR_UNKNOWN_MEMBER_ID);
	t = join(1, 3, "nosuch", "stranger", "m");
	TL_EQ(join_reply(t, 3)->error_code, KC_ERR_UNKNOWN_MEMBER_ID);
	struct part p = {"t", 0, 5, NULL};
	commit("gi", 2, a, &p, 1, KC_ERR_ILLEGAL_GENERATION);
	commit("gi", 1, "stranger", &p, 1, KC_ERR_UNKNOWN_MEMBER_ID);
	/* an outsider may not commit while the group has members */
	commit("gi", -1, "", &p, 1, KC_ERR_UNKNOWN_MEMBER_ID);
	commit("nosuch", 3, "x", &p, 1, KC_ERR_ILLEGAL_GENERATION);
	/* the member of the generation may */
	commit("gi", 1, a, &p, 1, 0);
	TL_EQ(fetch_one("gi", "t", 0, NULL), 5);
	/* nothing of that disturbed the group */
	TL_EQ(heartbeat(1, "gi", 1, a), 0);
	TL_EQ(heartbeat(2, "gi", 1, b), 0);
	TL_EQ(kr_untaken(), 0);
}

static void test_member_id_required(void **state)
{
	(void)state;
	char a[128], b[128];
	uint64_t ta = join_v5(1, "gm", "ma", a);
	assert_true(strncmp(a, "client-", 7) == 0);
	/* a second new member gets another id */
	uint64_t tb = join(2, 4, "gm", "", "mb");
	const struct kc_join_group_resp *r = join_reply(tb, 4);
	TL_EQ(r->error_code, KC_ERR_MEMBER_ID_REQUIRED);
	assert_false(streq(r->member_id, a));
	memcpy(b, r->member_id.ptr, (size_t)r->member_id.len);
	b[r->member_id.len] = 0;
	/* the initial delay does not wait for it (Kafka's neither) */
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	const struct kc_join_group_resp *j = join_reply(ta, 5);
	TL_EQ(j->generation_id, 1);
	TL_EQ(j->members.count, 1);
	/* it comes back with its id: a rebalance, a rejoins, generation 2 */
	tb = join(2, 4, "gm", b, "mb");
	assert_false(kr_has(tb));
	TL_EQ(heartbeat(1, "gm", 1, a), KC_ERR_REBALANCE_IN_PROGRESS);
	ta = join(1, 5, "gm", a, "ma");
	j = join_reply(ta, 5);
	TL_EQ(j->generation_id, 2);
	TL_EQ(j->members.count, 2);
	TL_EQ(join_reply(tb, 4)->generation_id, 2);

	/* a third is told MEMBER_ID_REQUIRED and never comes back: the next
	 * rebalance waits for it until its session would have ended */
	uint64_t tc = join(3, 5, "gm", "", "mc");
	TL_EQ(join_reply(tc, 5)->error_code, KC_ERR_MEMBER_ID_REQUIRED);
	ta = join(1, 5, "gm", a, "ma2"); /* new metadata: a rebalance */
	tb = join(2, 4, "gm", b, "mb");
	advance(SESSION_MS - 1);
	assert_false(kr_has(ta) || kr_has(tb));
	advance(1);
	j = join_reply(ta, 5);
	TL_EQ(j->generation_id, 3);
	TL_EQ(j->members.count, 2);
	TL_EQ(join_reply(tb, 4)->generation_id, 3);

	/* v3 and below join at once */
	uint64_t t3 = join(4, 3, "gm3", "", "m");
	assert_false(kr_has(t3));
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	TL_EQ(join_reply(t3, 3)->generation_id, 1);
	TL_EQ(kr_untaken(), 0);
}

static void test_join_errors(void **state)
{
	(void)state;
	char a[128], b[128];
	two_members("ge", a, b);
	/* another protocol type, or no protocol in common */
	struct kc_join_group_req_protocol p = {S("range"), B("m")};
	struct kc_join_group_req q = {
		.group_id = S("ge"), .session_timeout_ms = SESSION_MS,
		.rebalance_timeout_ms = REBALANCE_MS, .member_id = S(""),
		.group_instance_id = {NULL, -1}, .protocol_type = S("connect"),
		.protocols = {&p, 1}, .reason = {NULL, -1}};
	uint64_t t = send_req(3, KC_API_JOIN_GROUP, 3, &q);
	TL_EQ(join_reply(t, 3)->error_code, KC_ERR_INCONSISTENT_GROUP_PROTOCOL);
	q.protocol_type = S("consumer");
	p.name = S("sticky");
	t = send_req(3, KC_API_JOIN_GROUP, 3, &q);
	TL_EQ(join_reply(t, 3)->error_code, KC_ERR_INCONSISTENT_GROUP_PROTOCOL);
	q.protocols.count = 0;
	t = send_req(3, KC_API_JOIN_GROUP, 3, &q);
	TL_EQ(join_reply(t, 3)->error_code, KC_ERR_INCONSISTENT_GROUP_PROTOCOL);
	p.name = S("range");
	q.protocols.count = 1;
	q.session_timeout_ms = SL_GROUPS_SESSION_TIMEOUT_MIN_MS - 1;
	t = send_req(3, KC_API_JOIN_GROUP, 3, &q);
	TL_EQ(join_reply(t, 3)->error_code, KC_ERR_INVALID_SESSION_TIMEOUT);
	q.session_timeout_ms = SESSION_MS;
	q.group_id = S("");
	t = send_req(3, KC_API_JOIN_GROUP, 3, &q);
	TL_EQ(join_reply(t, 3)->error_code, KC_ERR_INVALID_GROUP_ID);
	TL_EQ(heartbeat(1, "ge", 1, a), 0);
	TL_EQ(kr_untaken(), 0);
}

/* The protocol is Kafka's vote among those every member supports. */
static void test_protocol_vote(void **state)
{
	(void)state;
	struct kc_join_group_req_protocol p0[2] = {{S("range"), B("r0")},
						   {S("sticky"), B("s0")}};
	struct kc_join_group_req_protocol p1[3] = {{S("rr"), B("x")},
						   {S("sticky"), B("s1")},
						   {S("range"), B("r1")}};
	struct kc_join_group_req_protocol p2[2] = {{S("sticky"), B("s2")},
						   {S("range"), B("r2")}};
	struct kc_join_group_req q = {
		.group_id = S("gv"), .session_timeout_ms = SESSION_MS,
		.rebalance_timeout_ms = REBALANCE_MS, .member_id = S(""),
		.group_instance_id = {NULL, -1}, .protocol_type = S("consumer"),
		.protocols = {p0, 2}, .reason = {NULL, -1}};
	uint64_t t0 = send_req(1, KC_API_JOIN_GROUP, 3, &q);
	q.protocols = (struct kc_array){p1, 3};
	uint64_t t1 = send_req(2, KC_API_JOIN_GROUP, 3, &q);
	q.protocols = (struct kc_array){p2, 2};
	uint64_t t2 = send_req(3, KC_API_JOIN_GROUP, 3, &q);
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	const struct kc_join_group_resp *l = join_reply(t0, 3);
	/* range: 1 vote, sticky: 2 (rr is not common) */
	assert_true(streq(l->protocol_name, "sticky"));
	const struct kc_join_group_resp_member *m = l->members.items;
	TL_EQ(l->members.count, 3);
	assert_true(byteseq(m[0].metadata, "s0"));
	assert_true(byteseq(m[1].metadata, "s1"));
	assert_true(byteseq(m[2].metadata, "s2"));
	assert_true(streq(join_reply(t1, 3)->protocol_name, "sticky"));
	assert_true(streq(join_reply(t2, 3)->protocol_name, "sticky"));
}

static void test_drop_conn(void **state)
{
	(void)state;
	uint64_t t1 = join(1, 3, "gd", "", "m1");
	uint64_t t2 = join(2, 3, "gd", "", "m2");
	sl_groups_drop_conn(G, 2);
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	const struct kc_join_group_resp *j = join_reply(t1, 3);
	assert_false(kr_has(t2));
	/* the member whose reply was dropped is still in the generation */
	TL_EQ(j->members.count, 2);
	TL_EQ(kr_untaken(), 0);
}

/* ---- requests that are not right ---- */

static void test_bad_requests(void **state)
{
	(void)state;
	uint8_t buf[256] = {0};
	/* shorter than a header, another API, an unsupported version */
	TL_EQ(sl_groups_request(G, 1, buf, 0, now), -EINVAL);
	static const uint8_t hdr7[] = {0, 12, 0, 0, 0, 0, 0};
	TL_EQ(sl_groups_request(G, 1, hdr7, sizeof(hdr7), now), -EINVAL);
	struct kc_request_header h = {KC_API_METADATA, 1, 5, S("c")};
	struct kc_metadata_req mq = {{NULL, -1}, true, false, false};
	long n = kc_encode_request(&h, (const union kc_request *)&mq, buf,
				   sizeof(buf));
	assert_true(n > 0);
	TL_EQ(sl_groups_request(G, 1, buf, (size_t)n, now), -EINVAL);
	static const uint8_t v10[] = {0, 11, 0, 10, 0, 0, 0, 5, 0xff, 0xff};
	TL_EQ(sl_groups_request(G, 1, v10, sizeof(v10), now), -EINVAL);
	TL_EQ(kr_n, 0);
	/* a body cut short: INVALID_REQUEST in the API's own response */
	struct kc_heartbeat_req hq = {S("g"), 1, S("m"), {NULL, -1}};
	h = (struct kc_request_header){KC_API_HEARTBEAT, 2, 77, S("c")};
	n = kc_encode_request(&h, (const union kc_request *)&hq, buf, sizeof(buf));
	assert_true(n > 2);
	TL_EQ(sl_groups_request(G, (uint64_t)5 << 32 | 77, buf, (size_t)n - 2,
				now), 0);
	const struct kc_heartbeat_resp *r =
		kr_take((uint64_t)5 << 32 | 77, KC_API_HEARTBEAT, 2);
	TL_EQ(r->error_code, SN_ERR_INVALID_REQUEST);
	struct kc_join_group_req jq = {
		.group_id = S("g"), .session_timeout_ms = SESSION_MS,
		.rebalance_timeout_ms = -1, .member_id = S(""),
		.group_instance_id = {NULL, -1}, .protocol_type = S("consumer"),
		.protocols = {NULL, 0}, .reason = {NULL, -1}};
	h = (struct kc_request_header){KC_API_JOIN_GROUP, 0, 78, S("c")};
	n = kc_encode_request(&h, (const union kc_request *)&jq, buf, sizeof(buf));
	buf[n++] = 0; /* a trailing byte */
	TL_EQ(sl_groups_request(G, (uint64_t)5 << 32 | 78, buf, (size_t)n, now),
	      0);
	const struct kc_join_group_resp *jr =
		kr_take((uint64_t)5 << 32 | 78, KC_API_JOIN_GROUP, 0);
	TL_EQ(jr->error_code, SN_ERR_INVALID_REQUEST);
	TL_EQ(jr->generation_id, -1);
	TL_EQ(kr_untaken(), 0);
}

/* ---- limits ---- */

static void test_limits(void **state)
{
	(void)state;
	static char big[SL_GROUPS_MAX_RESPONSE];
	memset(big, 'a', sizeof(big) - 1);
	/* an assignment no SyncGroup response could carry: the leader is
	 * told, the group keeps waiting for a better one */
	uint64_t t = join(1, 3, "gb", "", "m");
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	const struct kc_join_group_resp *j = join_reply(t, 3);
	char id[128];
	memcpy(id, j->member_id.ptr, (size_t)j->member_id.len);
	id[j->member_id.len] = 0;
	struct kc_sync_group_req_assignment a = {S(id), B(big)};
	t = sync_req(1, "gb", 1, id, &a, 1);
	TL_EQ(sync_reply(t)->error_code, SN_ERR_MESSAGE_TOO_LARGE);
	assert_true(streq(describe("gb")->group_state, "CompletingRebalance"));
	a.assignment = B("ok");
	t = sync_req(1, "gb", 1, id, &a, 1);
	assert_true(byteseq(sync_reply(t)->assignment, "ok"));

	/* member metadata the leader's JoinGroup response could not list */
	big[40000] = 0;
	t = join(1, 3, "gm", "", big);
	big[40000] = 'a';
	big[30000] = 0;
	uint64_t t2 = join(2, 3, "gm", "", big);
	TL_EQ(join_reply(t2, 3)->error_code, KC_ERR_GROUP_MAX_SIZE_REACHED);
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	TL_EQ(join_reply(t, 3)->members.count, 1);

	/* metadata at the limit is taken, one byte more is not */
	big[SL_GROUPS_OFFSET_METADATA_MAX] = 0;
	struct part p = {"t", 0, 1, big};
	commit("ob", -1, "", &p, 1, 0);
	big[SL_GROUPS_OFFSET_METADATA_MAX] = 'a';
	big[SL_GROUPS_OFFSET_METADATA_MAX + 1] = 0;
	commit("ob", -1, "", &p, 1, KC_ERR_OFFSET_METADATA_TOO_LARGE);

	/* an OffsetCommit whose answer would not fit: no reply, no commit */
	enum { NP = 10500 };
	static struct kc_offset_commit_req_partition parts[NP];
	for (int i = 0; i < NP; i++)
		parts[i] = (struct kc_offset_commit_req_partition){
			i, 5, -1, -1, {NULL, -1}};
	struct kc_offset_commit_req_topic topic = {S("t"), {{0}}, {parts, NP}};
	struct kc_offset_commit_req q = {S("ob"), -1, S(""), {NULL, -1}, -1,
					 {&topic, 1}};
	uint64_t tok = (uint64_t)7 << 32 | ++seq;
	size_t n;
	const uint8_t *req = kr_request(tok, KC_API_OFFSET_COMMIT, 7, &q,
					"client", &n);
	TL_EQ(sl_groups_request(G, tok, req, n, now), -EMSGSIZE);
	assert_false(kr_has(tok));
	TL_EQ(fetch_one("ob", "t", 1, NULL), -1);
	/* and a malformed one closes the connection too */
	topic.partitions.count = 1;
	req = kr_request(tok, KC_API_OFFSET_COMMIT, 7, &q, "client", &n);
	TL_EQ(sl_groups_request(G, tok, req, n - 1, now), -EINVAL);
	assert_false(kr_has(tok));

	/* the number of groups */
	int have = 3; /* gb, gm, ob */
	for (int i = 0; have < SL_GROUPS_MAX; i++, have++) {
		char name[16];
		snprintf(name, sizeof(name), "many-%d", i);
		struct part one = {"t", 0, i, NULL};
		commit(name, -1, "", &one, 1, 0);
	}
	struct part one = {"t", 0, 1, NULL};
	commit("one-too-many", -1, "", &one, 1, KC_ERR_POLICY_VIOLATION);
	t = join(3, 3, "one-too-many", "", "m");
	TL_EQ(join_reply(t, 3)->error_code, KC_ERR_POLICY_VIOLATION);
	struct kc_describe_groups_req dq = {{NULL, 0}, false};
	t = send_req(9, KC_API_LIST_GROUPS, 2, &dq);
	TL_EQ(((const struct kc_list_groups_resp *)kr_take(t, KC_API_LIST_GROUPS, 2))
		      ->groups.count, SL_GROUPS_MAX);
	/* and they all come back */
	reopen();
	TL_EQ(fetch_one("many-100", "t", 0, NULL), 100);
	/* (gb and gm, which had no offsets, did not) */
	for (int i = list_count(); i < SL_GROUPS_MAX; i++) {
		char name[32];
		snprintf(name, sizeof(name), "refill-%d", i);
		commit(name, -1, "", &one, 1, 0);
	}
	commit("one-too-many", -1, "", &one, 1, KC_ERR_POLICY_VIOLATION);
	/* a deleted group gives its slot back */
	int16_t code;
	delete_groups(1, (const char *[]){"many-5"}, 1, &code);
	TL_EQ(code, 0);
	commit("one-too-many", -1, "", &one, 1, 0);
	commit("two-too-many", -1, "", &one, 1, KC_ERR_POLICY_VIOLATION);
	/* and so do expired ones: everything goes (gb and gm lose their
	 * members first, then they hold nothing), and the file is compacted
	 * to its header: the offsets are gone from the disk too */
	advance(RETENTION_MS);
	TL_EQ(list_count(), 0);
	char path[PATH_MAX];
	path_of(path, SL_GROUPS_OFFSETS_FILE);
	TL_EQ(tl_file_size(path), 16);
	commit("two-too-many", -1, "", &one, 1, 0);
	reopen();
	TL_EQ(list_count(), 1);
	TL_EQ(kr_untaken(), 0);
}

/* ---- committed offsets ---- */

static void test_offsets_survive_reopen(void **state)
{
	(void)state;
	const struct part p[] = {
		{"alpha", 0, 100, "m0"}, {"alpha", 1, 200, NULL},
		{"beta", 7, 300, ""},
	};
	commit("og", -1, "", p, 3, 0);
	const struct part again = {"alpha", 0, 150, "m1"};
	commit("og", -1, "", &again, 1, 0);
	char meta[64];
	TL_EQ(fetch_one("og", "alpha", 0, meta), 150);
	assert_string_equal(meta, "m1");
	reopen();
	TL_EQ(fetch_one("og", "alpha", 0, meta), 150);
	assert_string_equal(meta, "m1");
	TL_EQ(fetch_one("og", "alpha", 1, meta), 200);
	assert_string_equal(meta, "(null)");
	TL_EQ(fetch_one("og", "beta", 7, meta), 300);
	assert_string_equal(meta, "");
	TL_EQ(fetch_one("og", "beta", 8, meta), -1);
	assert_string_equal(meta, "");
	TL_EQ(fetch_one("nosuch", "alpha", 0, NULL), -1);

	/* null topics (v2+): everything the group committed, by topic */
	struct kc_offset_fetch_req q = {.group_id = S("og"),
					.topics = {NULL, -1}};
	uint64_t t = send_req(9, KC_API_OFFSET_FETCH, 2, &q);
	const struct kc_offset_fetch_resp *r = kr_take(t, KC_API_OFFSET_FETCH, 2);
	TL_EQ(r->topics.count, 2);
	const struct kc_offset_fetch_resp_topic *rt = r->topics.items;
	assert_true(streq(rt[0].name, "alpha"));
	assert_true(streq(rt[1].name, "beta"));
	TL_EQ(rt[0].partitions.count, 2);
	TL_EQ(rt[1].partitions.count, 1);
	const struct kc_offset_fetch_resp_partition *rp = rt[1].partitions.items;
	TL_EQ(rp[0].partition_index, 7);
	TL_EQ(rp[0].committed_offset, 300);
	/* v1: no leader epoch, no top-level error */
	int32_t idx = 1;
	struct kc_offset_fetch_req_topic ft = {S("alpha"), {&idx, 1}};
	q = (struct kc_offset_fetch_req){.group_id = S("og"),
					 .topics = {&ft, 1}};
	t = send_req(9, KC_API_OFFSET_FETCH, 1, &q);
	r = kr_take(t, KC_API_OFFSET_FETCH, 1);
	rt = r->topics.items;
	rp = rt[0].partitions.items;
	TL_EQ(rp[0].committed_offset, 200);
	/* the leader epoch committed (3) comes back from v5 */
	q.topics = (struct kc_array){&ft, 1};
	t = send_req(9, KC_API_OFFSET_FETCH, 5, &q);
	r = kr_take(t, KC_API_OFFSET_FETCH, 5);
	rt = r->topics.items;
	rp = rt[0].partitions.items;
	TL_EQ(rp[0].committed_leader_epoch, 3);

	/* bad partitions are refused one by one */
	char big[SL_GROUPS_OFFSET_METADATA_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	const struct part bad[] = {{"alpha", -1, 1, NULL}, {"alpha", 2, 1, big}};
	uint64_t ct = commit_req(9, "og", -1, "", bad, 2);
	const struct kc_offset_commit_resp *cr = kr_take(ct, KC_API_OFFSET_COMMIT, 7);
	const struct kc_offset_commit_resp_topic *crt = cr->topics.items;
	const struct kc_offset_commit_resp_partition *crp = crt[0].partitions.items;
	TL_EQ(crp[0].error_code, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	TL_EQ(crp[1].error_code, KC_ERR_OFFSET_METADATA_TOO_LARGE);
	TL_EQ(fetch_one("og", "alpha", 2, NULL), -1);
	TL_EQ(kr_untaken(), 0);
}

/* Three commits of one partition: 16 + 3 records of 43 bytes. */
#define REC_BYTES (40 + 2 + 1)
static void three_commits(void)
{
	for (int i = 1; i <= 3; i++) {
		struct part p = {"t", 0, 10 * i, NULL};
		commit("og", -1, "", &p, 1, 0);
	}
	sl_groups_close(G);
	G = NULL;
	char path[PATH_MAX];
	path_of(path, SL_GROUPS_OFFSETS_FILE);
	TL_EQ(tl_file_size(path), 16 + 3 * REC_BYTES);
}

static void test_corrupt_tail_cut(void **state)
{
	(void)state;
	char path[PATH_MAX];
	path_of(path, SL_GROUPS_OFFSETS_FILE);
	three_commits();
	/* a flipped byte in the last record's offset */
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	off_t at = 16 + 2 * REC_BYTES + 23;
	TL_EQ(pread(fd, &b, 1, at), 1);
	b ^= 0x40;
	TL_EQ(pwrite(fd, &b, 1, at), 1);
	close(fd);
	open_groups();
	TL_EQ(fetch_one("og", "t", 0, NULL), 20);
	TL_EQ(tl_file_size(path), 16 + 2 * REC_BYTES);
	/* new commits go after the good records */
	struct part p = {"t", 0, 40, NULL};
	commit("og", -1, "", &p, 1, 0);
	TL_EQ(tl_file_size(path), 16 + 3 * REC_BYTES);

	/* a torn append: the first 30 bytes of a record, then garbage */
	sl_groups_close(G);
	G = NULL;
	uint8_t *file;
	long long n = tl_read_file(path, &file);
	TL_EQ(n, 16 + 3 * REC_BYTES);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	TL_EQ(write(fd, file + 16, 30), 30);
	close(fd);
	free(file);
	open_groups();
	TL_EQ(fetch_one("og", "t", 0, NULL), 40);
	TL_EQ(tl_file_size(path), 16 + 3 * REC_BYTES);
	sl_groups_close(G);
	G = NULL;
	fd = open(path, O_WRONLY | O_APPEND);
	TL_EQ(write(fd, "\0\0\0\0\0\0\0", 7), 7);
	close(fd);
	open_groups();
	TL_EQ(fetch_one("og", "t", 0, NULL), 40);
	TL_EQ(tl_file_size(path), 16 + 3 * REC_BYTES);
	TL_EQ(kr_untaken(), 0);
}

/* The coordinator on the simulated disk: a commit answered survives a
 * power cut; one whose fdatasync fails is answered KAFKA_STORAGE_ERROR, as
 * is every later one until a reopen. */
static void test_offsets_power_cut(void **state)
{
	(void)state;
	struct simdisk *sd = simdisk_create(7);
	sl_groups_close(G);
	G = NULL;
	gcfg.disk = simdisk_disk(sd);
	open_groups();
	const struct part p = {"t", 0, 41, "m"};
	commit("pc", -1, "", &p, 1, 0);
	simdisk_power_cut(sd);
	simdisk_power_on(sd);
	reopen();
	char meta[16];
	TL_EQ(fetch_one("pc", "t", 0, meta), 41);
	assert_string_equal(meta, "m");

	simdisk_fail_after(sd, 1, EIO, 0); /* the write passes, the sync not */
	const struct part q = {"t", 0, 42, NULL};
	commit("pc", -1, "", &q, 1, SN_ERR_KAFKA_STORAGE_ERROR);
	commit("pc", -1, "", &q, 1, SN_ERR_KAFKA_STORAGE_ERROR);
	TL_EQ(fetch_one("pc", "t", 0, NULL), 41);
	simdisk_power_cut(sd);
	simdisk_power_on(sd);
	reopen();
	/* never acknowledged, but it may have reached the disk */
	int64_t o = fetch_one("pc", "t", 0, NULL);
	assert_true(o == 41 || o == 42);
	const struct part r = {"t", 0, 43, NULL};
	commit("pc", -1, "", &r, 1, 0);
	simdisk_power_cut(sd);
	simdisk_power_on(sd);
	reopen();
	TL_EQ(fetch_one("pc", "t", 0, NULL), 43);
	sl_groups_close(G);
	G = NULL;
	TL_EQ(simdisk_open_handles(sd), 0);
	simdisk_destroy(sd);
	TL_EQ(kr_untaken(), 0);
}

static void test_bad_header_refused(void **state)
{
	(void)state;
	char path[PATH_MAX];
	path_of(path, SL_GROUPS_OFFSETS_FILE);
	three_commits();
	int fd = open(path, O_RDWR);
	TL_EQ(pwrite(fd, "X", 1, 0), 1);
	close(fd);
	struct sl_groups *g2 = NULL;
	char err[1024];
	TL_EQ(sl_groups_open(g_dir, &gcfg, on_reply, &G, now, &g2, err,
			     sizeof(err)), -EBADMSG);
	/* the file named, and what to do */
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "move it away"));
	TL_EQ(tl_file_size(path), 16 + 3 * REC_BYTES); /* left alone */
	fd = open(path, O_RDWR);
	TL_EQ(pwrite(fd, "S", 1, 0), 1);
	close(fd);
	/* a stale temporary file is ignored */
	char tmp[PATH_MAX];
	path_of(tmp, SL_GROUPS_OFFSETS_TMP);
	fd = open(tmp, O_WRONLY | O_CREAT, 0644);
	TL_EQ(write(fd, "junk", 4), 4);
	close(fd);
	open_groups();
	TL_EQ(fetch_one("og", "t", 0, NULL), 30);
	TL_EQ(tl_file_size(tmp), -ENOENT);
}

static void test_compaction_keeps_latest(void **state)
{
	(void)state;
	char path[PATH_MAX];
	path_of(path, SL_GROUPS_OFFSETS_FILE);
	/* four partitions of group "cg", topic "t", committed over and over:
	 * 4 records of 43 bytes per request */
	long long appended = 16, largest = 0, smallest_after = -1;
	for (int64_t round = 1; round <= 300; round++) {
		struct part p[4];
		for (int i = 0; i < 4; i++)
			p[i] = (struct part){"t", i, round * 10 + i, NULL};
		commit("cg", -1, "", p, 4, 0);
		appended += 4 * REC_BYTES;
		long long size = tl_file_size(path);
		if (size > largest)
			largest = size;
		if (size < appended && smallest_after < 0)
			smallest_after = size;
	}
	/* the file never grew far past the threshold, and a compaction left
	 * just the live records */
	assert_true(largest < SL_GROUPS_COMPACT_MIN_BYTES + 4 * REC_BYTES);
	TL_EQ(smallest_after, 16 + 4 * REC_BYTES);
	assert_true(tl_file_size(path) < appended);
	for (int i = 0; i < 4; i++)
		TL_EQ(fetch_one("cg", "t", i, NULL), 3000 + i);
	reopen();
	for (int i = 0; i < 4; i++)
		TL_EQ(fetch_one("cg", "t", i, NULL), 3000 + i);
	/* other groups' offsets live through it too */
	struct part o = {"u", 1, 77, "kept"};
	commit("other", -1, "", &o, 1, 0);
	for (int64_t round = 301; round <= 500; round++) {
		struct part p = {"t", 0, round, NULL};
		commit("cg", -1, "", &p, 1, 0);
	}
	reopen();
	char meta[16];
	TL_EQ(fetch_one("other", "u", 1, meta), 77);
	assert_string_equal(meta, "kept");
	TL_EQ(fetch_one("cg", "t", 0, NULL), 500);
	TL_EQ(fetch_one("cg", "t", 3, NULL), 3003);
	TL_EQ(kr_untaken(), 0);
}

/* ---- DescribeGroups, ListGroups ---- */

static void test_describe_and_list(void **state)
{
	(void)state;
	char a[128], b[128];
	two_members("gx", a, b);
	struct part p = {"t", 0, 1, NULL};
	commit("offsets-only", -1, "", &p, 1, 0);

	struct kc_str ids[3] = {S("gx"), S("offsets-only"), S("nosuch")};
	struct kc_describe_groups_req q = {{ids, 3}, true};
	uint64_t t = send_req(9, KC_API_DESCRIBE_GROUPS, 4, &q);
	const struct kc_describe_groups_resp *r =
		kr_take(t, KC_API_DESCRIBE_GROUPS, 4);
	TL_EQ(r->groups.count, 3);
	const struct kc_described_group *d = r->groups.items;
	TL_EQ(d[0].error_code, 0);
	assert_true(streq(d[0].group_state, "Stable"));
	assert_true(streq(d[0].protocol_type, "consumer"));
	assert_true(streq(d[0].protocol_data, "range"));
	TL_EQ(d[0].authorized_operations, (1 << 3) | (1 << 6) | (1 << 8));
	TL_EQ(d[0].members.count, 2);
	const struct kc_described_group_member *m = d[0].members.items;
	assert_true(streq(m[0].member_id, a));
	assert_true(streq(m[0].client_id, "client"));
	TL_EQ(m[0].group_instance_id.len, -1);
	assert_true(byteseq(m[0].member_metadata, "ma"));
	assert_true(byteseq(m[0].member_assignment, "x"));
	assert_true(streq(m[1].member_id, b));
	assert_true(byteseq(m[1].member_assignment, "y"));
	assert_true(streq(d[1].group_state, "Empty"));
	assert_true(streq(d[1].protocol_type, ""));
	TL_EQ(d[1].members.count, 0);
	assert_true(streq(d[2].group_state, "Dead"));
	TL_EQ(d[2].error_code, 0);

	/* no metadata or assignments outside Stable */
	TL_EQ(heartbeat(1, "gx", 1, a), 0);
	struct kc_leave_group_req lq = {S("gx"), S(b), {NULL, 0}};
	t = send_req(2, KC_API_LEAVE_GROUP, 1, &lq);
	TL_EQ(((const struct kc_leave_group_resp *)kr_take(t, KC_API_LEAVE_GROUP, 1))
		      ->error_code, 0);
	const struct kc_described_group *d2 = describe("gx");
	assert_true(streq(d2->group_state, "PreparingRebalance"));
	assert_true(streq(d2->protocol_data, ""));
	TL_EQ(d2->authorized_operations, INT32_MIN);
	m = d2->members.items;
	TL_EQ(d2->members.count, 1);
	TL_EQ(m[0].member_metadata.len, 0);
	TL_EQ(m[0].member_assignment.len, 0);

	t = send_req(9, KC_API_LIST_GROUPS, 2, &q /* unused: no fields */);
	const struct kc_list_groups_resp *l = kr_take(t, KC_API_LIST_GROUPS, 2);
	TL_EQ(l->error_code, 0);
	TL_EQ(l->groups.count, 2);
	const struct kc_listed_group *lg = l->groups.items;
	bool seen_gx = false, seen_oo = false;
	for (int i = 0; i < 2; i++) {
		if (streq(lg[i].group_id, "gx")) {
			seen_gx = true;
			assert_true(streq(lg[i].protocol_type, "consumer"));
		} else if (streq(lg[i].group_id, "offsets-only")) {
			seen_oo = true;
			assert_true(streq(lg[i].protocol_type, ""));
		}
	}
	assert_true(seen_gx && seen_oo);
	TL_EQ(kr_untaken(), 0);
}

/* ---- offset expiry and DeleteGroups ---- */

static void set_retention(int64_t ms)
{
	gcfg.retention_ms = ms;
	reopen();
}

/* KIP-211: the offsets of a group with members do not expire however old
 * their commit; once the group is Empty they expire together, retention
 * after it became Empty, and a restart in between changes nothing. */
static void test_expiry_after_group_empties(void **state)
{
	(void)state;
	set_retention(60000);
	char a[128], b[128];
	two_members("ge", a, b);
	const struct part p[] = {{"t", 0, 11, NULL}, {"t", 1, 12, NULL}};
	commit("ge", 1, a, p, 2, 0);
	/* (a group without members, whose expiry makes a scan run while ge
	 * has members) */
	commit("solo", -1, "", p, 1, 0);
	/* 150 s of heartbeats and no commit: still there */
	for (int i = 0; i < 30; i++) {
		advance(5000);
		TL_EQ(heartbeat(1, "ge", 1, a), 0);
		TL_EQ(heartbeat(2, "ge", 1, b), 0);
	}
	TL_EQ(fetch_one("ge", "t", 0, NULL), 11);
	TL_EQ(fetch_one("solo", "t", 0, NULL), -1);
	TL_EQ(leave(1, "ge", a), 0);
	TL_EQ(leave(2, "ge", b), 0);
	assert_true(streq(describe("ge")->group_state, "Empty"));
	/* the next thing to happen is the expiry */
	TL_EQ(sl_groups_tick(G, now), 60000);
	advance(40000);
	reopen(); /* when it became Empty is on disk */
	advance(19999);
	TL_EQ(fetch_one("ge", "t", 1, NULL), 12);
	TL_EQ(sl_groups_tick(G, now), 1);
	advance(1);
	TL_EQ(fetch_one("ge", "t", 0, NULL), -1);
	TL_EQ(fetch_one("ge", "t", 1, NULL), -1);
	assert_true(streq(describe("ge")->group_state, "Dead"));
	TL_EQ(sl_groups_tick(G, now), -1);
	/* and they do not come back, not even under a longer retention */
	set_retention(RETENTION_MS);
	TL_EQ(fetch_one("ge", "t", 0, NULL), -1);
	TL_EQ(list_count(), 0);
	TL_EQ(kr_untaken(), 0);
}

/* A group that had members when the coordinator stopped became Empty at
 * the restart, however long ago its offsets were committed. */
static void test_expiry_restart_with_members(void **state)
{
	(void)state;
	set_retention(60000);
	char a[128], b[128];
	two_members("gr", a, b);
	struct part p = {"t", 0, 7, NULL};
	commit("gr", 1, a, &p, 1, 0);
	for (int i = 0; i < 30; i++) {
		advance(5000);
		TL_EQ(heartbeat(1, "gr", 1, a), 0);
		TL_EQ(heartbeat(2, "gr", 1, b), 0);
	}
	reopen();
	assert_true(streq(describe("gr")->group_state, "Empty"));
	advance(59999);
	TL_EQ(fetch_one("gr", "t", 0, NULL), 7);
	/* and that restart time is on disk too */
	reopen();
	TL_EQ(fetch_one("gr", "t", 0, NULL), 7);
	advance(1);
	TL_EQ(fetch_one("gr", "t", 0, NULL), -1);
	set_retention(RETENTION_MS);
	TL_EQ(fetch_one("gr", "t", 0, NULL), -1);
	TL_EQ(kr_untaken(), 0);
}

/* A group that never had members: each offset expires retention after its
 * own last commit. */
static void test_expiry_per_commit(void **state)
{
	(void)state;
	set_retention(60000);
	struct part p0 = {"t", 0, 100, NULL}, p1 = {"t", 1, 200, NULL};
	commit("solo", -1, "", &p0, 1, 0);
	commit("solo", -1, "", &p1, 1, 0);
	TL_EQ(sl_groups_tick(G, now), 60000);
	advance(30000);
	p1.offset = 201;
	commit("solo", -1, "", &p1, 1, 0); /* a new commit starts again */
	advance(29999);
	TL_EQ(fetch_one("solo", "t", 0, NULL), 100);
	advance(1);
	TL_EQ(fetch_one("solo", "t", 0, NULL), -1);
	TL_EQ(fetch_one("solo", "t", 1, NULL), 201);
	reopen();
	TL_EQ(fetch_one("solo", "t", 0, NULL), -1);
	TL_EQ(fetch_one("solo", "t", 1, NULL), 201);
	TL_EQ(sl_groups_tick(G, now), 30000);
	advance(30000);
	TL_EQ(fetch_one("solo", "t", 1, NULL), -1);
	assert_true(streq(describe("solo")->group_state, "Dead"));
	set_retention(RETENTION_MS);
	TL_EQ(list_count(), 0);
	TL_EQ(kr_untaken(), 0);
}

/* A compaction keeps what the file says of a group's state: the offsets
 * of a group that had members still expire together, retention after it
 * became Empty, across a compaction and a restart (were the state lost,
 * they would expire one by one, retention after their later commits). */
static void test_compaction_keeps_group_state(void **state)
{
	(void)state;
	set_retention(60000);
	char path[PATH_MAX];
	path_of(path, SL_GROUPS_OFFSETS_FILE);
	char a[128], b[128];
	two_members("gs", a, b);
	struct part p = {"t", 0, 1, NULL};
	commit("gs", 1, a, &p, 1, 0);
	TL_EQ(leave(1, "gs", a), 0);
	TL_EQ(leave(2, "gs", b), 0);
	assert_true(streq(describe("gs")->group_state, "Empty"));
	int64_t empty_at = now;
	advance(30000);
	/* committed over and over by an outsider until compacted */
	long long appended = tl_file_size(path);
	for (int64_t round = 1; round <= 300; round++) {
		struct part q[4];
		for (int i = 0; i < 4; i++)
			q[i] = (struct part){"t", i, round * 10 + i, NULL};
		commit("gs", -1, "", q, 4, 0);
		appended += 4 * REC_BYTES;
	}
	assert_true(tl_file_size(path) < appended);
	reopen();
	TL_EQ(sl_groups_tick(G, now), empty_at + 60000 - now);
	advance(empty_at + 60000 - now - 1);
	TL_EQ(fetch_one("gs", "t", 3, NULL), 3003);
	advance(1);
	for (int i = 0; i < 4; i++)
		TL_EQ(fetch_one("gs", "t", i, NULL), -1);
	assert_true(streq(describe("gs")->group_state, "Dead"));
	set_retention(RETENTION_MS);
	TL_EQ(list_count(), 0);
	TL_EQ(kr_untaken(), 0);
}

static void test_delete_groups(void **state)
{
	(void)state;
	char a[128], b[128];
	struct part p = {"t", 0, 5, NULL};
	two_members("busy", a, b);
	commit("busy", 1, a, &p, 1, 0);
	commit("idle", -1, "", &p, 1, 0);
	int16_t c[5];
	/* v2 is flexible */
	delete_groups(2, (const char *[]){"idle", "busy", "nosuch", "", "idle"},
		      5, c);
	TL_EQ(c[0], 0);
	TL_EQ(c[1], KC_ERR_NON_EMPTY_GROUP);
	TL_EQ(c[2], KC_ERR_GROUP_ID_NOT_FOUND);
	TL_EQ(c[3], KC_ERR_INVALID_GROUP_ID);
	TL_EQ(c[4], KC_ERR_GROUP_ID_NOT_FOUND); /* deleted once */
	TL_EQ(fetch_one("idle", "t", 0, NULL), -1);
	assert_true(streq(describe("idle")->group_state, "Dead"));
	assert_true(streq(describe("busy")->group_state, "Stable"));
	reopen();
	TL_EQ(fetch_one("idle", "t", 0, NULL), -1);
	TL_EQ(fetch_one("busy", "t", 0, NULL), 5);

	/* once its members are gone (here: the restart), it can go; at
	 * v0 and v1 alike */
	delete_groups(0, (const char *[]){"busy"}, 1, c);
	TL_EQ(c[0], 0);
	commit("v1", -1, "", &p, 1, 0);
	delete_groups(1, (const char *[]){"v1", "busy"}, 2, c);
	TL_EQ(c[0], 0);
	TL_EQ(c[1], KC_ERR_GROUP_ID_NOT_FOUND);
	/* an Empty group with a join told MEMBER_ID_REQUIRED */
	uint64_t t = join(3, 5, "pending", "", "m");
	const struct kc_join_group_resp *j = join_reply(t, 5);
	TL_EQ(j->error_code, KC_ERR_MEMBER_ID_REQUIRED);
	char id[128];
	memcpy(id, j->member_id.ptr, (size_t)j->member_id.len);
	id[j->member_id.len] = 0;
	delete_groups(2, (const char *[]){"pending"}, 1, c);
	TL_EQ(c[0], 0);
	t = join(3, 5, "pending", id, "m");
	TL_EQ(join_reply(t, 5)->error_code, KC_ERR_UNKNOWN_MEMBER_ID);
	reopen();
	TL_EQ(list_count(), 0);
	TL_EQ(fetch_one("busy", "t", 0, NULL), -1);

	/* a request that cannot be read is no answer at all */
	commit("kept", -1, "", &p, 1, 0);
	struct kc_str name = S("kept");
	struct kc_delete_groups_req q = {{&name, 1}};
	uint64_t tok = (uint64_t)7 << 32 | ++seq;
	size_t n;
	const uint8_t *req = kr_request(tok, KC_API_DELETE_GROUPS, 2, &q,
					"client", &n);
	TL_EQ(sl_groups_request(G, tok, req, n - 1, now), -EINVAL);
	assert_false(kr_has(tok));
	TL_EQ(fetch_one("kept", "t", 0, NULL), 5);
	TL_EQ(kr_untaken(), 0);
}

/* In a cluster another broker coordinates some groups (struct
 * sl_groups_config coordinates): every request about one of them is
 * answered NOT_COORDINATOR, as a whole or group by group, and changes
 * nothing; one being loaded answers COORDINATOR_LOAD_IN_PROGRESS. */
static int16_t owns_mine(void *ctx, const char *group, size_t len)
{
	(void)ctx;
	if (len >= 4 && !memcmp(group, "mine", 4))
		return 0;
	if (len >= 7 && !memcmp(group, "loading", 7))
		return KC_ERR_COORDINATOR_LOAD_IN_PROGRESS;
	return KC_ERR_NOT_COORDINATOR;
}

static void test_not_coordinator(void **state)
{
	(void)state;
	sl_groups_close(G);
	gcfg.coordinates = owns_mine;
	open_groups();
	struct part p = {"t", 0, 5, NULL};
	commit("mine-a", -1, "", &p, 1, 0);
	commit("other", -1, "", &p, 1, KC_ERR_NOT_COORDINATOR);
	commit("loading", -1, "", &p, 1, KC_ERR_COORDINATOR_LOAD_IN_PROGRESS);
	TL_EQ(heartbeat(3, "loading", 1, "m"),
	      KC_ERR_COORDINATOR_LOAD_IN_PROGRESS);
	uint64_t t = join(3, 5, "other", "", "m");
	TL_EQ(join_reply(t, 5)->error_code, KC_ERR_NOT_COORDINATOR);
	TL_EQ(heartbeat(3, "other", 1, "m"), KC_ERR_NOT_COORDINATOR);
	TL_EQ(leave(3, "other", "m"), KC_ERR_NOT_COORDINATOR);
	TL_EQ(heartbeat(3, "mine-b", 1, "m"), KC_ERR_UNKNOWN_MEMBER_ID);
	TL_EQ(list_count(), 1); /* mine-a: nothing was made of "other" */

	/* OffsetFetch v8: group by group */
	int32_t part0 = 0;
	struct kc_offset_fetch_req_topics ft = {S("t"), {{0}}, {&part0, 1}};
	struct kc_offset_fetch_req_group fg[2] = {
		{S("other"), {NULL, -1}, -1, {&ft, 1}},
		{S("mine-a"), {NULL, -1}, -1, {&ft, 1}},
	};
	struct kc_offset_fetch_req fq = {{NULL, -1}, {NULL, 0}, {fg, 2}, false};
	t = send_req(9, KC_API_OFFSET_FETCH, 8, &fq);
	const struct kc_offset_fetch_resp *fr = kr_take(t, KC_API_OFFSET_FETCH, 8);
	TL_EQ(fr->groups.count, 2);
	const struct kc_offset_fetch_resp_group *rg = fr->groups.items;
	TL_EQ(rg[0].error_code, KC_ERR_NOT_COORDINATOR);
	TL_EQ(rg[0].topics.count, 0);
	TL_EQ(rg[1].error_code, 0);
	TL_EQ(rg[1].topics.count, 1);
	/* v5: the whole answer */
	struct kc_offset_fetch_req_topic t5 = {S("t"), {&part0, 1}};
	struct kc_offset_fetch_req q5 = {S("other"), {&t5, 1}, {NULL, 0}, false};
	t = send_req(9, KC_API_OFFSET_FETCH, 5, &q5);
	TL_EQ(((const struct kc_offset_fetch_resp *)kr_take(
		       t, KC_API_OFFSET_FETCH, 5))->error_code,
	      KC_ERR_NOT_COORDINATOR);

	/* DescribeGroups and DeleteGroups: group by group */
	struct kc_str ids[2] = {S("other"), S("mine-a")};
	struct kc_describe_groups_req dq = {{ids, 2}, false};
	t = send_req(9, KC_API_DESCRIBE_GROUPS, 5, &dq);
	const struct kc_describe_groups_resp *dr =
		kr_take(t, KC_API_DESCRIBE_GROUPS, 5);
	TL_EQ(dr->groups.count, 2);
	const struct kc_described_group *d = dr->groups.items;
	TL_EQ(d[0].error_code, KC_ERR_NOT_COORDINATOR);
	TL_EQ(d[1].error_code, 0);
	assert_true(streq(d[1].group_state, "Empty"));
	int16_t c[2];
	delete_groups(2, (const char *[]){"other", "mine-a"}, 2, c);
	TL_EQ(c[0], KC_ERR_NOT_COORDINATOR);
	TL_EQ(c[1], 0);
	TL_EQ(list_count(), 0);
	TL_EQ(kr_untaken(), 0);
}

/* A version 1 file (commit times of a monotonic clock) is read as
 * committed at the open, and rewritten as version 2. */
static void test_version1_file(void **state)
{
	(void)state;
	set_retention(60000);
	struct part p = {"t", 0, 9, NULL};
	commit("old", -1, "", &p, 1, 0);
	sl_groups_close(G);
	G = NULL;
	char path[PATH_MAX];
	path_of(path, SL_GROUPS_OFFSETS_FILE);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t h[16];
	TL_EQ(pread(fd, h, 16, 0), 16);
	TL_EQ(rb_be16(h + 4), 2);
	rb_put16(h + 4, 1);
	rb_put32(h + 12, rb_crc32c(h, 12));
	TL_EQ(pwrite(fd, h, 16, 0), 16);
	close(fd);
	now += 50000; /* long after the commit */
	clk.wall_ms += 50000;
	open_groups();
	fd = open(path, O_RDONLY);
	TL_EQ(pread(fd, h, 16, 0), 16);
	close(fd);
	TL_EQ(rb_be16(h + 4), 2);
	advance(59999);
	TL_EQ(fetch_one("old", "t", 0, NULL), 9);
	reopen(); /* the time it was given is on disk now */
	advance(1);
	TL_EQ(fetch_one("old", "t", 0, NULL), -1);
	TL_EQ(kr_untaken(), 0);
}

/* ---- every version: the lowest and the highest of each API ---- */

/* A consumer protocol subscription (version 0: topics, null user data)
 * naming topic, in out; its length. */
static size_t subscription(uint8_t *out, const char *topic)
{
	size_t tl = strlen(topic), n = 0;
	out[n++] = 0, out[n++] = 0;                       /* version 0 */
	out[n++] = 0, out[n++] = 0, out[n++] = 0, out[n++] = 1; /* 1 topic */
	out[n++] = 0, out[n++] = (uint8_t)tl;
	memcpy(out + n, topic, tl);
	n += tl;
	out[n++] = 0xff, out[n++] = 0xff, out[n++] = 0xff, out[n++] = 0xff;
	return n;
}

static uint64_t join_bytes(uint32_t conn, int16_t ver, const char *group,
			   const char *member, const char *type,
			   struct kc_bytes meta)
{
	struct kc_join_group_req_protocol p = {S("range"), meta};
	struct kc_join_group_req q = {
		.group_id = S(group), .session_timeout_ms = SESSION_MS,
		.rebalance_timeout_ms = REBALANCE_MS, .member_id = S(member),
		.group_instance_id = {NULL, -1}, .protocol_type = S(type),
		.protocols = {&p, 1}, .reason = S("because")};
	return send_req(conn, KC_API_JOIN_GROUP, ver, &q);
}

/* A member of a new group at JoinGroup v9 and SyncGroup v5, Stable at
 * generation 1; its id to id. */
static void member_v9(const char *group, const char *type, const char *topic,
		      char *id)
{
	uint8_t sub[64];
	struct kc_bytes meta = {sub, (int32_t)subscription(sub, topic)};
	uint64_t t = join_bytes(1, 9, group, "", type, meta);
	const struct kc_join_group_resp *r = join_reply(t, 9);
	TL_EQ(r->error_code, KC_ERR_MEMBER_ID_REQUIRED);
	TL_EQ(r->protocol_type.len, -1);  /* null from v7 */
	TL_EQ(r->protocol_name.len, -1);
	memcpy(id, r->member_id.ptr, (size_t)r->member_id.len);
	id[r->member_id.len] = 0;
	t = join_bytes(1, 9, group, id, type, meta);
	advance(SL_GROUPS_INITIAL_DELAY_MS);
	r = join_reply(t, 9);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->generation_id, 1);
	assert_true(streq(r->protocol_type, type));
	assert_true(streq(r->protocol_name, "range"));
	assert_true(streq(r->leader, id));
	assert_true(streq(r->member_id, id));
	assert_false(r->skip_assignment);
	TL_EQ(r->members.count, 1);
	const struct kc_join_group_resp_member *m = r->members.items;
	assert_true(streq(m[0].member_id, id));
	TL_EQ(m[0].group_instance_id.len, -1);
	TL_EQ(m[0].metadata.len, meta.len);
	assert_memory_equal(m[0].metadata.ptr, sub, (size_t)meta.len);
	/* v5: a protocol name that is not the group's */
	struct kc_sync_group_req_assignment a = {S(id), B("assigned")};
	struct kc_sync_group_req sq = {
		.group_id = S(group), .generation_id = 1, .member_id = S(id),
		.group_instance_id = {NULL, -1}, .protocol_type = S(type),
		.protocol_name = S("roundrobin"), .assignments = {&a, 1}};
	t = send_req(1, KC_API_SYNC_GROUP, 5, &sq);
	const struct kc_sync_group_resp *s = kr_take(t, KC_API_SYNC_GROUP, 5);
	TL_EQ(s->error_code, KC_ERR_INCONSISTENT_GROUP_PROTOCOL);
	TL_EQ(s->protocol_type.len, -1);
	TL_EQ(s->protocol_name.len, -1);
	sq.protocol_type = S("not-the-type");
	sq.protocol_name = S("range");
	t = send_req(1, KC_API_SYNC_GROUP, 5, &sq);
	s = kr_take(t, KC_API_SYNC_GROUP, 5);
	TL_EQ(s->error_code, KC_ERR_INCONSISTENT_GROUP_PROTOCOL);
	sq.protocol_type = S(type);
	t = send_req(1, KC_API_SYNC_GROUP, 5, &sq);
	s = kr_take(t, KC_API_SYNC_GROUP, 5);
	TL_EQ(s->error_code, 0);
	assert_true(streq(s->protocol_type, type));
	assert_true(streq(s->protocol_name, "range"));
	assert_true(byteseq(s->assignment, "assigned"));
}

static void test_join_sync_heartbeat_versions(void **state)
{
	(void)state;
	char id[128];
	member_v9("gv", "consumer", "t1", id);
	/* v0 of each: the same member, the same generation */
	struct kc_sync_group_req sq = {
		.group_id = S("gv"), .generation_id = 1, .member_id = S(id),
		.group_instance_id = {NULL, -1}, .protocol_type = {NULL, -1},
		.protocol_name = {NULL, -1}, .assignments = {NULL, 0}};
	uint64_t t = send_req(1, KC_API_SYNC_GROUP, 0, &sq);
	const struct kc_sync_group_resp *s = kr_take(t, KC_API_SYNC_GROUP, 0);
	TL_EQ(s->error_code, 0);
	assert_true(byteseq(s->assignment, "assigned"));
	for (int16_t v = 0; v <= 4; v += 4) {
		struct kc_heartbeat_req hq = {S("gv"), 1, S(id), {NULL, -1}};
		t = send_req(1, KC_API_HEARTBEAT, v, &hq);
		const struct kc_heartbeat_resp *h = kr_take(t, KC_API_HEARTBEAT, v);
		TL_EQ(h->error_code, 0);
		TL_EQ(h->throttle_time_ms, 0);
		hq.generation_id = 2;
		t = send_req(1, KC_API_HEARTBEAT, v, &hq);
		h = kr_take(t, KC_API_HEARTBEAT, v);
		TL_EQ(h->error_code, KC_ERR_ILLEGAL_GENERATION);
	}
	/* the v4 heartbeat's bytes: header v1 (correlation id, no tags),
	 * throttle time, error code, no tags */
	struct kc_heartbeat_req hq = {S("gv"), 1, S(id), {NULL, -1}};
	t = send_req(1, KC_API_HEARTBEAT, 4, &hq);
	for (int i = 0; i < kr_n; i++) {
		if (kr_cap[i].token != t)
			continue;
		const uint8_t want[] = {0, 0, 0, (uint8_t)(t & 0xff), 0,
					0, 0, 0, 0, 0, 0, 0};
		TL_EQ(kr_cap[i].len, sizeof(want));
		assert_memory_equal(kr_cap[i].bytes + 4, want + 4,
				    sizeof(want) - 4);
		kr_cap[i].taken = true;
	}
	/* JoinGroup v0 of a new member: no MEMBER_ID_REQUIRED, and the
	 * leader's rejoin completes the join with both */
	uint8_t sub[64];
	struct kc_bytes meta = {sub, (int32_t)subscription(sub, "t1")};
	uint64_t t0 = join_bytes(2, 0, "gv", "", "consumer", meta);
	assert_false(kr_has(t0));
	uint64_t t9 = join_bytes(1, 9, "gv", id, "consumer", meta);
	const struct kc_join_group_resp *r0 = join_reply(t0, 0);
	TL_EQ(r0->error_code, 0);
	TL_EQ(r0->generation_id, 2);
	assert_true(streq(r0->protocol_name, "range"));
	TL_EQ(r0->members.count, 0);
	const struct kc_join_group_resp *r9 = join_reply(t9, 9);
	TL_EQ(r9->generation_id, 2);
	TL_EQ(r9->members.count, 2);
	/* LeaveGroup v0 (one member) and v5 (a batch, with a reason) */
	struct kc_leave_group_req lq = {S("gv"), r0->member_id, {NULL, 0}};
	t = send_req(2, KC_API_LEAVE_GROUP, 0, &lq);
	TL_EQ(((const struct kc_leave_group_resp *)kr_take(
		t, KC_API_LEAVE_GROUP, 0))->error_code, 0);
	struct kc_leave_group_req_member lm[2] = {
		{S(id), {NULL, -1}, S("done")}, {S("nobody"), S("i9"), {NULL, -1}}};
	lq = (struct kc_leave_group_req){S("gv"), {NULL, -1}, {lm, 2}};
	t = send_req(1, KC_API_LEAVE_GROUP, 5, &lq);
	const struct kc_leave_group_resp *l = kr_take(t, KC_API_LEAVE_GROUP, 5);
	TL_EQ(l->error_code, 0);
	TL_EQ(l->members.count, 2);
	const struct kc_leave_group_resp_member *rm = l->members.items;
	assert_true(streq(rm[0].member_id, id));
	TL_EQ(rm[0].error_code, 0);
	assert_true(streq(rm[1].group_instance_id, "i9"));
	TL_EQ(rm[1].error_code, KC_ERR_UNKNOWN_MEMBER_ID);
	/* nobody left and no offsets: the group is gone */
	const struct kc_described_group *d = describe("gv");
	TL_EQ(d->members.count, 0);
	assert_true(streq(d->group_state, "Dead"));
}

static void test_offset_versions(void **state)
{
	(void)state;
	char id[128];
	member_v9("gc", "consumer", "t1", id);
	/* v9: the generation is the member epoch */
	struct kc_offset_commit_req_partition p1 = {0, 5, 2, -1, S("m5")};
	struct kc_offset_commit_req_partition p2 = {1, 7, -1, -1, {NULL, -1}};
	struct kc_offset_commit_req_topic ct[2] = {{S("t1"), {{0}}, {&p1, 1}},
						   {S("t2"), {{0}}, {&p2, 1}}};
	struct kc_offset_commit_req cq = {S("gc"), 1, S(id), {NULL, -1}, -1,
					  {ct, 2}};
	uint64_t t = send_req(1, KC_API_OFFSET_COMMIT, 9, &cq);
	const struct kc_offset_commit_resp *cr = kr_take(t, KC_API_OFFSET_COMMIT, 9);
	TL_EQ(cr->topics.count, 2);
	const struct kc_offset_commit_resp_topic *crt = cr->topics.items;
	TL_EQ(((const struct kc_offset_commit_resp_partition *)
	       crt[1].partitions.items)[0].error_code, 0);
	cq.generation_id_or_member_epoch = 2;
	t = send_req(1, KC_API_OFFSET_COMMIT, 9, &cq);
	cr = kr_take(t, KC_API_OFFSET_COMMIT, 9);
	crt = cr->topics.items;
	TL_EQ(((const struct kc_offset_commit_resp_partition *)
	       crt[0].partitions.items)[0].error_code, KC_ERR_ILLEGAL_GENERATION);
	/* v0: no generation, and no check against the members */
	struct kc_offset_commit_req_partition p3 = {0, 9, -1, -1, S("z")};
	struct kc_offset_commit_req_topic ct3 = {S("t3"), {{0}}, {&p3, 1}};
	cq = (struct kc_offset_commit_req){S("gc"), -1, S(""), {NULL, -1}, -1,
					   {&ct3, 1}};
	t = send_req(2, KC_API_OFFSET_COMMIT, 0, &cq);
	cr = kr_take(t, KC_API_OFFSET_COMMIT, 0);
	crt = cr->topics.items;
	TL_EQ(((const struct kc_offset_commit_resp_partition *)
	       crt[0].partitions.items)[0].error_code, 0);
	/* v1 by a simple consumer: its commit timestamp is the commit's
	 * time, so the offset expires retention after it */
	struct kc_offset_commit_req_partition p4 = {
		0, 11, -1, clk.wall_ms - RETENTION_MS + 5000, S("")};
	struct kc_offset_commit_req_topic ct4 = {S("t4"), {{0}}, {&p4, 1}};
	cq = (struct kc_offset_commit_req){S("simple"), -1, S(""), {NULL, -1},
					   -1, {&ct4, 1}};
	t = send_req(2, KC_API_OFFSET_COMMIT, 1, &cq);
	cr = kr_take(t, KC_API_OFFSET_COMMIT, 1);
	crt = cr->topics.items;
	TL_EQ(((const struct kc_offset_commit_resp_partition *)
	       crt[0].partitions.items)[0].error_code, 0);
	TL_EQ(fetch_one("simple", "t4", 0, NULL), 11);

	/* OffsetFetch v0: one group, the partitions asked */
	int32_t part0 = 0;
	struct kc_offset_fetch_req_topic ft = {S("t1"), {&part0, 1}};
	struct kc_offset_fetch_req fq = {.group_id = S("gc"), .topics = {&ft, 1}};
	t = send_req(1, KC_API_OFFSET_FETCH, 0, &fq);
	const struct kc_offset_fetch_resp *fr = kr_take(t, KC_API_OFFSET_FETCH, 0);
	const struct kc_offset_fetch_resp_topic *frt = fr->topics.items;
	TL_EQ(fr->topics.count, 1);
	const struct kc_offset_fetch_resp_partition *frp =
		frt[0].partitions.items;
	TL_EQ(frp[0].committed_offset, 5);
	assert_true(streq(frp[0].metadata, "m5"));
	TL_EQ(frp[0].error_code, 0);
	/* v9: several groups, all of one (null topics), some of another */
	struct kc_offset_fetch_req_topics ft9 = {S("t1"), {{0}}, {&part0, 1}};
	struct kc_offset_fetch_req_group fg[2] = {
		{S("gc"), S(id), 1, {NULL, -1}},
		{S("nosuch"), {NULL, -1}, -1, {&ft9, 1}}};
	fq = (struct kc_offset_fetch_req){.groups = {fg, 2},
					  .require_stable = true};
	t = send_req(1, KC_API_OFFSET_FETCH, 9, &fq);
	fr = kr_take(t, KC_API_OFFSET_FETCH, 9);
	TL_EQ(fr->groups.count, 2);
	const struct kc_offset_fetch_resp_group *rg = fr->groups.items;
	assert_true(streq(rg[0].group_id, "gc"));
	TL_EQ(rg[0].error_code, 0);
	TL_EQ(rg[0].topics.count, 3);
	const struct kc_offset_fetch_resp_topics *rt = rg[0].topics.items;
	assert_true(streq(rt[0].name, "t1"));
	assert_true(streq(rt[1].name, "t2"));
	assert_true(streq(rt[2].name, "t3"));
	const struct kc_offset_fetch_resp_partitions *rp = rt[0].partitions.items;
	TL_EQ(rp[0].committed_offset, 5);
	TL_EQ(rp[0].committed_leader_epoch, 2);
	rp = rt[1].partitions.items;
	TL_EQ(rp[0].partition_index, 1);
	TL_EQ(rp[0].committed_offset, 7);
	TL_EQ(rp[0].metadata.len, -1);
	rp = rt[2].partitions.items;
	TL_EQ(rp[0].committed_offset, 9);
	assert_true(streq(rg[1].group_id, "nosuch"));
	TL_EQ(rg[1].error_code, 0);
	TL_EQ(rg[1].topics.count, 1);
	rt = rg[1].topics.items;
	rp = rt[0].partitions.items;
	TL_EQ(rp[0].committed_offset, -1);
	TL_EQ(rp[0].committed_leader_epoch, -1);

	/* the v1 commit expires retention after its timestamp */
	advance(6000);
	TL_EQ(fetch_one("simple", "t4", 0, NULL), -1);
}

static void test_describe_list_versions(void **state)
{
	(void)state;
	char id[128];
	member_v9("gd", "consumer", "t1", id);
	const struct part p = {"t9", 0, 1, NULL};
	commit("idle", -1, "", &p, 1, 0);
	/* DescribeGroups v0 and v5 */
	struct kc_str ids[2] = {S("gd"), S("nosuch")};
	struct kc_describe_groups_req dq = {{ids, 2}, true};
	for (int16_t v = 0; v <= 5; v += 5) {
		uint64_t t = send_req(9, KC_API_DESCRIBE_GROUPS, v, &dq);
		const struct kc_describe_groups_resp *r =
			kr_take(t, KC_API_DESCRIBE_GROUPS, v);
		TL_EQ(r->groups.count, 2);
		const struct kc_described_group *d = r->groups.items;
		TL_EQ(d[0].error_code, 0);
		assert_true(streq(d[0].group_state, "Stable"));
		assert_true(streq(d[0].protocol_type, "consumer"));
		assert_true(streq(d[0].protocol_data, "range"));
		TL_EQ(d[0].members.count, 1);
		const struct kc_described_group_member *m = d[0].members.items;
		assert_true(streq(m[0].member_id, id));
		assert_true(streq(m[0].client_id, "client"));
		assert_true(byteseq(m[0].member_assignment, "assigned"));
		TL_EQ(d[0].authorized_operations, v >= 3 ? 328 : INT32_MIN);
		assert_true(streq(d[1].group_state, "Dead"));
		TL_EQ(d[1].error_code, 0);
	}
	/* v6 (KIP-1043): an unknown group is GROUP_ID_NOT_FOUND with Kafka's
	 * message; a known one has no message */
	uint64_t t6 = send_req(9, KC_API_DESCRIBE_GROUPS, 6, &dq);
	const struct kc_describe_groups_resp *r6 =
		kr_take(t6, KC_API_DESCRIBE_GROUPS, 6);
	TL_EQ(r6->groups.count, 2);
	const struct kc_described_group *d6 = r6->groups.items;
	TL_EQ(d6[0].error_code, 0);
	TL_EQ(d6[0].error_message.len, -1);
	assert_true(streq(d6[0].group_state, "Stable"));
	TL_EQ(d6[0].members.count, 1);
	TL_EQ(d6[1].error_code, KC_ERR_GROUP_ID_NOT_FOUND);
	assert_true(streq(d6[1].error_message, "Group nosuch not found."));
	assert_true(streq(d6[1].group_state, "Dead"));
	/* ListGroups v0: every group; v5: filtered by state and type */
	struct kc_list_groups_req lq = {{NULL, 0}, {NULL, 0}};
	uint64_t t = send_req(9, KC_API_LIST_GROUPS, 0, &lq);
	const struct kc_list_groups_resp *l = kr_take(t, KC_API_LIST_GROUPS, 0);
	TL_EQ(l->error_code, 0);
	TL_EQ(l->groups.count, 2);
	struct kc_str states[2] = {S("STABLE"), S("dead")};
	struct kc_str types[1] = {S("Classic")};
	lq = (struct kc_list_groups_req){{states, 2}, {types, 1}};
	t = send_req(9, KC_API_LIST_GROUPS, 5, &lq);
	l = kr_take(t, KC_API_LIST_GROUPS, 5);
	TL_EQ(l->groups.count, 1);
	const struct kc_listed_group *lg = l->groups.items;
	assert_true(streq(lg[0].group_id, "gd"));
	assert_true(streq(lg[0].protocol_type, "consumer"));
	assert_true(streq(lg[0].group_state, "Stable"));
	assert_true(streq(lg[0].group_type, "classic"));
	states[0] = S("Empty");
	lq = (struct kc_list_groups_req){{states, 1}, {NULL, 0}};
	t = send_req(9, KC_API_LIST_GROUPS, 5, &lq);
	l = kr_take(t, KC_API_LIST_GROUPS, 5);
	TL_EQ(l->groups.count, 1);
	lg = l->groups.items;
	assert_true(streq(lg[0].group_id, "idle"));
	assert_true(streq(lg[0].protocol_type, ""));
	assert_true(streq(lg[0].group_state, "Empty"));
	types[0] = S("consumer"); /* KIP-848 groups: there are none */
	lq = (struct kc_list_groups_req){{NULL, 0}, {types, 1}};
	t = send_req(9, KC_API_LIST_GROUPS, 5, &lq);
	l = kr_take(t, KC_API_LIST_GROUPS, 5);
	TL_EQ(l->error_code, 0);
	TL_EQ(l->groups.count, 0);
}

/* OffsetDelete of one partition of topic in group: its error code (the
 * group's when it has one, in *group_err). */
static int16_t offset_delete(const char *group, const char *topic,
			     int32_t partition, int16_t *group_err)
{
	struct kc_offset_delete_req_partition p = {partition};
	struct kc_offset_delete_req_topic dt = {S(topic), {&p, 1}};
	struct kc_offset_delete_req q = {S(group), {&dt, 1}};
	uint64_t t = send_req(9, KC_API_OFFSET_DELETE, 0, &q);
	const struct kc_offset_delete_resp *r = kr_take(t, KC_API_OFFSET_DELETE, 0);
	TL_EQ(r->throttle_time_ms, 0);
	*group_err = r->error_code;
	if (r->error_code) {
		TL_EQ(r->topics.count, 0);
		return -1;
	}
	TL_EQ(r->topics.count, 1);
	const struct kc_offset_delete_resp_topic *rt = r->topics.items;
	assert_true(streq(rt[0].name, topic));
	TL_EQ(rt[0].partitions.count, 1);
	const struct kc_offset_delete_resp_partition *rp = rt[0].partitions.items;
	TL_EQ(rp[0].partition_index, partition);
	return rp[0].error_code;
}

static void test_offset_delete(void **state)
{
	(void)state;
	char id[128];
	int16_t ge;
	member_v9("gx", "consumer", "t1", id);
	const struct part p[] = {{"t1", 0, 10, NULL}, {"t2", 0, 20, NULL}};
	commit("gx", 1, id, p, 2, 0);
	/* subscribed by a member: kept; not subscribed: deleted */
	TL_EQ(offset_delete("gx", "t1", 0, &ge), 86);
	TL_EQ(ge, 0);
	TL_EQ(offset_delete("gx", "t2", 0, &ge), 0);
	TL_EQ(fetch_one("gx", "t1", 0, NULL), 10);
	TL_EQ(fetch_one("gx", "t2", 0, NULL), -1);
	/* a partition without an offset: NONE too */
	TL_EQ(offset_delete("gx", "t2", 5, &ge), 0);
	/* group errors */
	offset_delete("nosuch", "t1", 0, &ge);
	TL_EQ(ge, KC_ERR_GROUP_ID_NOT_FOUND);
	offset_delete("", "t1", 0, &ge);
	TL_EQ(ge, KC_ERR_INVALID_GROUP_ID);
	char cid[128];
	member_v9("gk", "connect", "t1", cid);
	offset_delete("gk", "t1", 0, &ge);
	TL_EQ(ge, KC_ERR_NON_EMPTY_GROUP);
	/* once the group is Empty, every partition may go, and stays gone
	 * after a restart */
	struct kc_leave_group_req lq = {S("gx"), S(id), {NULL, 0}};
	uint64_t t = send_req(1, KC_API_LEAVE_GROUP, 0, &lq);
	TL_EQ(((const struct kc_leave_group_resp *)kr_take(
		t, KC_API_LEAVE_GROUP, 0))->error_code, 0);
	const struct part keep = {"t3", 0, 30, NULL};
	commit("gx", -1, "", &keep, 1, 0);
	TL_EQ(offset_delete("gx", "t1", 0, &ge), 0);
	TL_EQ(fetch_one("gx", "t1", 0, NULL), -1);
	reopen();
	TL_EQ(fetch_one("gx", "t1", 0, NULL), -1);
	TL_EQ(fetch_one("gx", "t2", 0, NULL), -1);
	TL_EQ(fetch_one("gx", "t3", 0, NULL), 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_single_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_three_members_one_generation,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fourth_member_rebalances,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rebalance_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_leave_group_v0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leave_group_v3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_illegal_generation_unknown_member,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_member_id_required, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_join_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protocol_vote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_conn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offsets_survive_reopen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_tail_cut, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_header_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_compaction_keeps_latest, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_compaction_keeps_group_state,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_describe_and_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_expiry_after_group_empties,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_restart_with_members,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_per_commit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_not_coordinator, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_delete_groups, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_offsets_power_cut, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_join_sync_heartbeat_versions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_offset_versions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_describe_list_versions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_offset_delete, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_version1_file, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
