/*
 * Unit tests of the consumer group protocol of KIP-848 in the group
 * coordinator (control/consumer_group.c through control/groups.c): whole
 * ConsumerGroupHeartbeat, ConsumerGroupDescribe and classic group requests
 * built with the codec go in, the replies are decoded and checked; time
 * moves only when a test says so, and the topics are a table the test
 * changes.
 *
 * Members are modelled as a client would be: it owns what the last
 * assignment it was given says (revoking at once what is no longer in it)
 * and reports that in each heartbeat.  After every heartbeat the test
 * checks that no partition is owned by two members and that the
 * coordinator holds the same view (ConsumerGroupDescribe: assignments
 * disjoint).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"
#include "kreplies.h"
#include "control/assignor.h"
#include "control/consumer_group.h"
#include "control/groups.h"
#include "proto/kafka/kcodec.h"
#include "proto/topic_uuid.h"

#define T0 1000000
#define HB KC_API_CONSUMER_GROUP_HEARTBEAT
#define CGD KC_API_CONSUMER_GROUP_DESCRIBE

static char g_dir[PATH_MAX];
static struct sl_groups *G;
static int64_t now;
static uint64_t seq;
static struct tl_clock clk;

/* ---- the topics the coordinator sees ---- */

struct ftopic {
	const char *name;
	uint32_t id;
	int32_t partitions;
};
static struct ftopic topics[8];
static int ntopics;

static bool topic_fn(void *ctx, const char *name, size_t len, uint32_t *id,
		     int32_t *partitions)
{
	assert_ptr_equal(ctx, topics);
	for (int i = 0; i < ntopics; i++)
		if (strlen(topics[i].name) == len &&
		    !memcmp(topics[i].name, name, len)) {
			*id = topics[i].id;
			*partitions = topics[i].partitions;
			return true;
		}
	return false;
}

static bool topic_name_fn(void *ctx, uint32_t id, const char **name,
			  size_t *len)
{
	assert_ptr_equal(ctx, topics);
	for (int i = 0; i < ntopics; i++)
		if (topics[i].id == id) {
			*name = topics[i].name;
			*len = strlen(topics[i].name);
			return true;
		}
	return false;
}

static void add_topic(const char *name, uint32_t id, int32_t partitions)
{
	assert_true(ntopics < 8);
	topics[ntopics++] = (struct ftopic){name, id, partitions};
}

/* ---- replies ---- */

static void on_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len)
{
	assert_ptr_equal(ctx, &G);
	kr_add(token, resp, len, SL_GROUPS_MAX_RESPONSE);
}

static uint64_t send_req(int16_t key, int16_t ver, const void *body)
{
	uint64_t t = (uint64_t)1 << 32 | ++seq;
	size_t n;
	const uint8_t *req = kr_request(t, key, ver, body, "cg-client", &n);
	TL_EQ(sl_groups_request(G, t, req, n, now), 0);
	return t;
}

static void advance(int64_t ms)
{
	now += ms;
	clk.wall_ms += ms;
	sl_groups_tick(G, now);
}

/* ---- members as clients ---- */

#define OWNED_MAX 64
struct client {
	const char *group;
	char id[SL_CG_MEMBER_ID_MAX + 1];
	const char *instance;
	int32_t epoch;
	struct sl_tp owned[OWNED_MAX];
	int nowned;
	const char *const *subs;  /* NULL-terminated */
	const char *assignor;
	int16_t version;
};

static struct client *clients[8];
static int nclients;

/* The owned partitions of c in request form, built in tp/parts. */
static struct kc_array owned_of(const struct client *c,
	struct kc_consumer_group_heartbeat_req_topic_partitions *tp,
	int32_t *parts)
{
	int32_t nt = -1;
	for (int i = 0; i < c->nowned; i++) {
		if (nt < 0 || c->owned[i].topic_id != c->owned[i - 1].topic_id) {
			nt++;
			sl_topic_uuid(c->owned[i].topic_id, tp[nt].topic_id.b);
			tp[nt].partitions = (struct kc_array){&parts[i], 0};
		}
		parts[i] = c->owned[i].partition;
		tp[nt].partitions.count++;
	}
	return (struct kc_array){tp, nt + 1};
}

/* No partition owned by two clients. */
static void check_disjoint(void)
{
	for (int a = 0; a < nclients; a++)
		for (int b = a + 1; b < nclients; b++)
			for (int i = 0; i < clients[a]->nowned; i++)
				for (int j = 0; j < clients[b]->nowned; j++)
					if (!sl_tp_cmp(&clients[a]->owned[i],
						       &clients[b]->owned[j]))
						fail_msg("partition %u-%d owned by two "
							 "members",
							 clients[a]->owned[i].topic_id,
							 clients[a]->owned[i].partition);
}

static const struct kc_consumer_group_heartbeat_resp *
heartbeat_raw(struct client *c, int32_t epoch, bool full)
{
	struct kc_str names[16];
	int n = 0;
	while (c->subs && c->subs[n]) {
		names[n] = S(c->subs[n]);
		n++;
	}
	struct kc_consumer_group_heartbeat_req_topic_partitions tp[OWNED_MAX];
	int32_t parts[OWNED_MAX];
	struct kc_consumer_group_heartbeat_req q = {
		.group_id = S(c->group), .member_id = S(c->id),
		.member_epoch = epoch, .instance_id = S(c->instance),
		.rack_id = {NULL, -1},
		.rebalance_timeout_ms = full ? 30000 : -1,
		.subscribed_topic_names = full ? (struct kc_array){names, n} :
					  (struct kc_array){NULL, -1},
		.subscribed_topic_regex = {NULL, -1},
		.server_assignor = S(c->assignor),
		.topic_partitions = epoch == 0 ? (struct kc_array){tp, 0} :
				    owned_of(c, tp, parts),
	};
	uint64_t t = send_req(HB, c->version, &q);
	return kr_decode(t, HB, c->version);
}

/* Take the answer as a client does: its epoch, and when an assignment
 * came, exactly that. */
static void apply(struct client *c,
		  const struct kc_consumer_group_heartbeat_resp *r)
{
	TL_EQ(r->error_code, 0);
	TL_EQ(r->heartbeat_interval_ms, SL_CG_HEARTBEAT_INTERVAL_MS_DEFAULT);
	assert_true(r->member_id.len > 0 &&
		    r->member_id.len <= SL_CG_MEMBER_ID_MAX);
	memcpy(c->id, r->member_id.ptr, (size_t)r->member_id.len);
	c->id[r->member_id.len] = 0;
	c->epoch = r->member_epoch;
	if (!r->has_assignment)
		return;
	c->nowned = 0;
	const struct kc_consumer_group_heartbeat_resp_topic_partitions *t =
		r->assignment.topic_partitions.items;
	for (int32_t i = 0; i < r->assignment.topic_partitions.count; i++) {
		uint32_t id = sl_topic_uuid_id(t[i].topic_id.b);
		assert_true(id != 0);
		const int32_t *p = t[i].partitions.items;
		for (int32_t j = 0; j < t[i].partitions.count; j++) {
			assert_true(c->nowned < OWNED_MAX);
			c->owned[c->nowned++] = (struct sl_tp){id, p[j]};
		}
	}
	/* sorted, as the owned set is kept */
	for (int i = 1; i < c->nowned; i++)
		for (int j = i; j > 0 && sl_tp_cmp(&c->owned[j - 1],
						   &c->owned[j]) > 0; j--) {
			struct sl_tp x = c->owned[j];
			c->owned[j] = c->owned[j - 1];
			c->owned[j - 1] = x;
		}
	check_disjoint();
}

static void client_init(struct client *c, const char *group,
			const char *const *subs)
{
	memset(c, 0, sizeof(*c));
	c->group = group;
	c->subs = subs;
	c->version = 1;
	assert_true(nclients < 8);
	clients[nclients++] = c;
}

static void join(struct client *c)
{
	apply(c, heartbeat_raw(c, 0, true));
}

static void beat(struct client *c)
{
	apply(c, heartbeat_raw(c, c->epoch, false));
}

static int16_t beat_error(struct client *c, int32_t epoch)
{
	return heartbeat_raw(c, epoch, false)->error_code;
}

/* ---- describing and listing ---- */

static const struct kc_consumer_group_describe_resp_described_group *
describe(const char *group)
{
	struct kc_str id = S(group);
	struct kc_consumer_group_describe_req q = {{&id, 1}, false};
	const struct kc_consumer_group_describe_resp *r =
		kr_decode(send_req(CGD, 0, &q), CGD, 0);
	TL_EQ(r->groups.count, 1);
	const struct kc_consumer_group_describe_resp_described_group *d =
		r->groups.items;
	assert_true(streq(d->group_id, group));
	return d;
}

/* The coordinator's held partitions (assignments) never meet either. */
static void check_described_disjoint(const char *group)
{
	const struct kc_consumer_group_describe_resp_described_group *d =
		describe(group);
	TL_EQ(d->error_code, 0);
	struct sl_tp seen[256];
	int n = 0;
	const struct kc_consumer_group_describe_resp_member *m = d->members.items;
	for (int32_t i = 0; i < d->members.count; i++) {
		const struct kc_consumer_group_describe_resp_topic_partitions *t =
			m[i].assignment.topic_partitions.items;
		for (int32_t k = 0; k < m[i].assignment.topic_partitions.count; k++) {
			const int32_t *p = t[k].partitions.items;
			for (int32_t j = 0; j < t[k].partitions.count; j++) {
				struct sl_tp tp = {sl_topic_uuid_id(t[k].topic_id.b),
						   p[j]};
				for (int x = 0; x < n; x++)
					if (!sl_tp_cmp(&seen[x], &tp))
						fail_msg("the coordinator gave %u-%d "
							 "twice", tp.topic_id,
							 tp.partition);
				assert_true(n < 256);
				seen[n++] = tp;
			}
		}
	}
}

static const char *listed_state(const char *group, const char *type)
{
	struct kc_str tf = S(type);
	struct kc_list_groups_req q = {{NULL, 0}, {&tf, 1}};
	const struct kc_list_groups_resp *r =
		kr_decode(send_req(KC_API_LIST_GROUPS, 5, &q),
		      KC_API_LIST_GROUPS, 5);
	TL_EQ(r->error_code, 0);
	const struct kc_listed_group *l = r->groups.items;
	for (int32_t i = 0; i < r->groups.count; i++)
		if (streq(l[i].group_id, group)) {
			assert_true(streq(l[i].group_type, type));
			static char state[32];
			assert_true(l[i].group_state.len < 32);
			memcpy(state, l[i].group_state.ptr,
			       (size_t)l[i].group_state.len);
			state[l[i].group_state.len] = 0;
			return state;
		}
	return NULL;
}

/* ---- fixtures ---- */

static void open_groups(void)
{
	char err[1024];
	struct sl_groups_config cfg = {
		.retention_ms = 24 * 3600 * 1000, .clock = &clk.sl,
		.topic = topic_fn, .topic_ctx = topics,
		.topic_name = topic_name_fn};
	int rc = sl_groups_open(g_dir, &cfg, on_reply, &G, now, &G, err,
				sizeof(err));
	if (rc)
		fprintf(stderr, "sl_groups_open: %s\n", err);
	TL_OK(rc);
}

static int setup(void **state)
{
	(void)state;
	if (tl_tmpdir(g_dir, "control-cgroups"))
		return -1;
	now = T0;
	tl_clock_init(&clk);
	seq = 0;
	kr_setup();
	ntopics = 0;
	nclients = 0;
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

static const char *const sub_t[] = {"t", NULL};

/* ---- tests ---- */

static void test_join(void **state)
{
	(void)state;
	add_topic("t", 7, 3);
	struct client a;
	client_init(&a, "g", sub_t);
	join(&a);
	TL_EQ(a.epoch, 1);
	TL_EQ(a.nowned, 3);
	for (int i = 0; i < 3; i++) {
		TL_EQ(a.owned[i].topic_id, 7);
		TL_EQ(a.owned[i].partition, i);
	}
	beat(&a); /* nothing changed: no assignment in the answer */
	TL_EQ(a.epoch, 1);
	const struct kc_consumer_group_describe_resp_described_group *d =
		describe("g");
	TL_EQ(d->error_code, 0);
	assert_true(streq(d->group_state, "Stable"));
	TL_EQ(d->group_epoch, 1);
	TL_EQ(d->assignment_epoch, 1);
	assert_true(streq(d->assignor_name, "uniform"));
	TL_EQ(d->members.count, 1);
	const struct kc_consumer_group_describe_resp_member *m = d->members.items;
	assert_true(streq(m->member_id, a.id));
	assert_true(streq(m->client_id, "cg-client"));
	TL_EQ(m->member_epoch, 1);
	TL_EQ(m->subscribed_topic_names.count, 1);
	TL_EQ(m->assignment.topic_partitions.count, 1);
	const struct kc_consumer_group_describe_resp_topic_partitions *tp =
		m->assignment.topic_partitions.items;
	assert_true(streq(tp->topic_name, "t"));
	TL_EQ(tp->partitions.count, 3);
	TL_EQ(m->target_assignment.topic_partitions.count, 1);
	assert_string_equal(listed_state("g", "consumer"), "Stable");
	assert_null(listed_state("g", "classic"));
	/* v0 joins too, and a subscription to a topic that does not exist
	 * assigns nothing */
	static const char *const none[] = {"nope", NULL};
	struct client b;
	client_init(&b, "g2", none);
	b.version = 0;
	join(&b);
	TL_EQ(b.epoch, 1);
	TL_EQ(b.nowned, 0);
}

/* Two members: the second one's partitions come only after the first
 * revoked them; the group states go Reconciling, then Stable. */
static void test_two_members_incremental(void **state)
{
	(void)state;
	add_topic("t", 3, 4);
	struct client a, b;
	client_init(&a, "g", sub_t);
	client_init(&b, "g", sub_t);
	join(&a);
	TL_EQ(a.nowned, 4);
	join(&b);
	TL_EQ(b.epoch, 2);
	TL_EQ(b.nowned, 0); /* a still holds everything */
	assert_string_equal(listed_state("g", "consumer"), "Reconciling");
	check_described_disjoint("g");
	beat(&b); /* still nothing: a has not revoked */
	TL_EQ(b.nowned, 0);
	beat(&a); /* told to revoke two: it keeps its epoch */
	TL_EQ(a.epoch, 1);
	TL_EQ(a.nowned, 2);
	check_described_disjoint("g");
	beat(&b); /* a reported them gone in the same beat?  not yet */
	beat(&a); /* a's owned partitions no longer list them */
	TL_EQ(a.epoch, 2);
	beat(&b);
	TL_EQ(b.nowned, 2);
	TL_EQ(b.epoch, 2);
	check_described_disjoint("g");
	assert_string_equal(listed_state("g", "consumer"), "Stable");
	/* uniform keeps a's partitions with a (sticky) */
	TL_EQ(a.owned[0].partition + a.owned[1].partition +
	      b.owned[0].partition + b.owned[1].partition, 0 + 1 + 2 + 3);
}

static void test_leave(void **state)
{
	(void)state;
	add_topic("t", 3, 4);
	struct client a, b;
	client_init(&a, "g", sub_t);
	client_init(&b, "g", sub_t);
	join(&a);
	join(&b);
	beat(&a);
	beat(&a);
	beat(&b);
	TL_EQ(a.nowned + b.nowned, 4);
	const struct kc_consumer_group_heartbeat_resp *r =
		heartbeat_raw(&b, -1, false);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->member_epoch, -1);
	assert_true(streq(r->member_id, b.id));
	b.nowned = 0;
	beat(&a);
	TL_EQ(a.epoch, 3);
	TL_EQ(a.nowned, 4);
	/* gone: a heartbeat from it is refused */
	TL_EQ(beat_error(&b, 2), KC_ERR_UNKNOWN_MEMBER_ID);
	r = heartbeat_raw(&a, -1, false);
	TL_EQ(r->error_code, 0);
	/* no members, no offsets: the group is forgotten */
	assert_null(listed_state("g", "consumer"));
	TL_EQ(describe("g")->error_code, KC_ERR_GROUP_ID_NOT_FOUND);
}

static void test_session_timeout(void **state)
{
	(void)state;
	add_topic("t", 3, 2);
	struct client a, b;
	client_init(&a, "g", sub_t);
	client_init(&b, "g", sub_t);
	join(&a);
	join(&b);
	beat(&a);
	beat(&a);
	beat(&b);
	TL_EQ(a.nowned, 1);
	TL_EQ(b.nowned, 1);
	advance(SL_CG_SESSION_TIMEOUT_MS_DEFAULT - 1000);
	beat(&a);
	advance(1000); /* b's session ends; a's is 1 s younger */
	TL_EQ(describe("g")->members.count, 1);
	TL_EQ(beat_error(&b, b.epoch), KC_ERR_UNKNOWN_MEMBER_ID);
	b.nowned = 0;
	beat(&a);
	TL_EQ(a.nowned, 2);
	advance(SL_CG_SESSION_TIMEOUT_MS_DEFAULT);
	assert_string_equal(listed_state("g", "consumer") ?
			    listed_state("g", "consumer") : "gone", "gone");
}

/* A member that does not revoke within its rebalance timeout is fenced. */
static void test_revocation_timeout(void **state)
{
	(void)state;
	add_topic("t", 3, 2);
	struct client a, b;
	client_init(&a, "g", sub_t);
	client_init(&b, "g", sub_t);
	join(&a);
	join(&b);
	/* a is told to revoke but keeps reporting the partition */
	struct sl_tp keep[OWNED_MAX];
	int nkeep = a.nowned;
	memcpy(keep, a.owned, sizeof(keep));
	beat(&a);
	TL_EQ(a.nowned, 1);
	for (int i = 0; i < 5; i++) {
		memcpy(a.owned, keep, sizeof(keep));
		a.nowned = nkeep;
		advance(5000);
		a.nowned = nkeep;
		const struct kc_consumer_group_heartbeat_resp *r =
			heartbeat_raw(&a, a.epoch, false);
		TL_EQ(r->error_code, 0);
		TL_EQ(r->member_epoch, 1);
		beat(&b); /* b keeps its session */
		TL_EQ(b.nowned, 0);
	}
	advance(5000); /* 30 s since the revocation began */
	TL_EQ(beat_error(&a, a.epoch), KC_ERR_UNKNOWN_MEMBER_ID);
	a.nowned = 0;
	beat(&b);
	TL_EQ(b.nowned, 2);
}

static void test_fencing(void **state)
{
	(void)state;
	add_topic("t", 3, 2);
	struct client a;
	client_init(&a, "g", sub_t);
	join(&a);
	TL_EQ(a.epoch, 1);
	TL_EQ(beat_error(&a, 2), SL_CG_ERR_FENCED_MEMBER_EPOCH);
	/* an older epoch that is not the previous one with a subset */
	struct client b;
	client_init(&b, "g", sub_t);
	join(&b);
	beat(&a);
	beat(&a);
	TL_EQ(a.epoch, 2);
	TL_EQ(beat_error(&a, 1), 0); /* previous epoch, owned ⊆ assigned */
	TL_EQ(a.nowned, 1);
	a.owned[a.nowned++] = (struct sl_tp){3, 1 - a.owned[0].partition};
	TL_EQ(beat_error(&a, 1), SL_CG_ERR_FENCED_MEMBER_EPOCH);
	a.nowned--;
	/* unknown member and group */
	struct client x;
	client_init(&x, "g", sub_t);
	strcpy(x.id, "nobody");
	TL_EQ(beat_error(&x, 1), KC_ERR_UNKNOWN_MEMBER_ID);
	x.group = "no-such-group";
	TL_EQ(beat_error(&x, 1), KC_ERR_GROUP_ID_NOT_FOUND);
	TL_EQ(heartbeat_raw(&x, -1, false)->error_code,
	      KC_ERR_GROUP_ID_NOT_FOUND);
	/* a fenced member rejoins with epoch 0 and its id */
	char id[sizeof(a.id)];
	strcpy(id, a.id);
	a.nowned = 0;
	join(&a);
	assert_string_equal(a.id, id);
	beat(&b);
	beat(&a);
	TL_EQ(a.nowned + b.nowned, 2);
	/* the checks before the group: a bad epoch, no member id */
	TL_EQ(beat_error(&a, -3), SN_ERR_INVALID_REQUEST);
	strcpy(x.id, "");
	x.group = "g";
	TL_EQ(beat_error(&x, 1), SN_ERR_INVALID_REQUEST);
}

static void test_static_member(void **state)
{
	(void)state;
	add_topic("t", 3, 2);
	struct client a, b;
	client_init(&a, "g", sub_t);
	client_init(&b, "g", sub_t);
	a.instance = "inst-a";
	join(&a);
	join(&b);
	beat(&a);
	beat(&a);
	beat(&b);
	TL_EQ(a.nowned, 1);
	/* a second incarnation while the first has not left */
	struct client a2;
	client_init(&a2, "g", sub_t);
	a2.instance = "inst-a";
	const struct kc_consumer_group_heartbeat_resp *r =
		heartbeat_raw(&a2, 0, true);
	TL_EQ(r->error_code, SL_CG_ERR_UNRELEASED_INSTANCE_ID);
	/* a heartbeat with the instance id and another member id */
	strcpy(a2.id, "other");
	TL_EQ(beat_error(&a2, a.epoch), SL_CG_ERR_FENCED_INSTANCE_ID);
	/* -2: a leaves for a while, keeping its partition */
	r = heartbeat_raw(&a, -2, false);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->member_epoch, -2);
	struct sl_tp had = a.owned[0];
	a.nowned = 0;
	beat(&b);
	TL_EQ(b.nowned, 1); /* not a's */
	/* its next incarnation takes its place and its partition */
	a2.id[0] = 0;
	join(&a2);
	TL_EQ(a2.nowned, 1);
	TL_EQ(sl_tp_cmp(&a2.owned[0], &had), 0);
	TL_EQ(describe("g")->members.count, 2);
	TL_EQ(describe("g")->group_epoch, 2); /* no rebalance */
}

static void test_assignors(void **state)
{
	(void)state;
	add_topic("t", 3, 7);
	add_topic("u", 4, 3);
	add_topic("v", 5, 3);
	/* uniform: 3 members, 7 partitions: 3, 2, 2 */
	struct client m[3];
	for (int i = 0; i < 3; i++) {
		client_init(&m[i], "gu", sub_t);
		join(&m[i]);
	}
	for (int round = 0; round < 4; round++)
		for (int i = 0; i < 3; i++)
			beat(&m[i]);
	int total = 0;
	for (int i = 0; i < 3; i++) {
		assert_true(m[i].nowned == 2 || m[i].nowned == 3);
		TL_EQ(m[i].epoch, 3);
		total += m[i].nowned;
	}
	TL_EQ(total, 7);
	check_described_disjoint("gu");
	assert_string_equal(listed_state("gu", "consumer"), "Stable");

	/* range: per topic, contiguous, first member by id takes more */
	nclients = 0;
	static const char *const uv[] = {"u", "v", NULL};
	struct client r1, r2;
	client_init(&r1, "gr", uv);
	client_init(&r2, "gr", uv);
	r1.assignor = r2.assignor = "range";
	strcpy(r1.id, "member-1");
	strcpy(r2.id, "member-2");
	join(&r1);
	join(&r2);
	for (int round = 0; round < 3; round++) {
		beat(&r1);
		beat(&r2);
	}
	assert_true(streq(describe("gr")->assignor_name, "range"));
	TL_EQ(r1.nowned, 4);
	TL_EQ(r2.nowned, 2);
	struct sl_tp want1[] = {{4, 0}, {4, 1}, {5, 0}, {5, 1}};
	for (int i = 0; i < 4; i++)
		TL_EQ(sl_tp_cmp(&r1.owned[i], &want1[i]), 0);
	TL_EQ(r2.owned[0].partition, 2);
	TL_EQ(r2.owned[1].partition, 2);

	/* an unknown assignor, a regular expression */
	struct client bad;
	client_init(&bad, "gx", sub_t);
	bad.assignor = "sticky";
	TL_EQ(heartbeat_raw(&bad, 0, true)->error_code,
	      SL_CG_ERR_UNSUPPORTED_ASSIGNOR);
	bad.assignor = NULL;
	struct kc_str name = S("t");
	struct kc_consumer_group_heartbeat_req q = {
		.group_id = S("gx"), .member_id = S(""), .member_epoch = 0,
		.instance_id = {NULL, -1}, .rack_id = {NULL, -1},
		.rebalance_timeout_ms = 1000,
		.subscribed_topic_names = {&name, 1},
		.subscribed_topic_regex = S("t.*"),
		.server_assignor = {NULL, -1}, .topic_partitions = {NULL, 0}};
	const struct kc_consumer_group_heartbeat_resp *r =
		kr_decode(send_req(HB, 1, &q), HB, 1);
	TL_EQ(r->error_code, SN_ERR_INVALID_REQUEST);
	assert_true(r->error_message.len > 0);
}

/* The assignors alone: heterogeneous subscriptions stay balanced where
 * they can, and stickiness keeps the previous target. */
static void test_assignor_unit(void **state)
{
	(void)state;
	struct sl_assign_topic t[] = {{1, 4}, {2, 4}};
	uint32_t both[] = {0, 1}, only1[] = {1};
	struct sl_assign_member m[3] = {
		{"a", 1, both, 2, NULL, 0, NULL, 0},
		{"b", 1, both, 2, NULL, 0, NULL, 0},
		{"c", 1, only1, 1, NULL, 0, NULL, 0},
	};
	TL_OK(sl_assign(SL_ASSIGNOR_UNIFORM, t, 2, m, 3));
	TL_EQ(m[0].nout + m[1].nout + m[2].nout, 8);
	for (int i = 0; i < 3; i++) {
		assert_true(m[i].nout >= 2 && m[i].nout <= 3);
		for (uint32_t k = 0; i == 2 && k < m[i].nout; k++)
			TL_EQ(m[i].out[k].topic_id, 2); /* c: topic 2 only */
	}
	/* sticky: the same input with these as the previous targets gives
	 * them back */
	struct sl_tp prev[3][8];
	uint32_t nprev[3];
	for (int i = 0; i < 3; i++) {
		memcpy(prev[i], m[i].out, m[i].nout * sizeof(struct sl_tp));
		nprev[i] = m[i].nout;
		free(m[i].out);
		m[i].prev = prev[i];
		m[i].nprev = nprev[i];
	}
	TL_OK(sl_assign(SL_ASSIGNOR_UNIFORM, t, 2, m, 3));
	for (int i = 0; i < 3; i++) {
		TL_EQ(m[i].nout, nprev[i]);
		TL_OK(memcmp(m[i].out, prev[i], nprev[i] * sizeof(struct sl_tp)));
		free(m[i].out);
	}
	/* range, topic 1 has 4 partitions for a and b: 2 each */
	TL_OK(sl_assign(SL_ASSIGNOR_RANGE, t, 2, m, 3));
	TL_EQ(m[0].nout, 2 + 2);
	TL_EQ(m[0].out[0].partition, 0);
	TL_EQ(m[0].out[1].partition, 1);
	TL_EQ(m[1].nout, 2 + 1); /* topic 2: 4 partitions over 3 */
	TL_EQ(m[2].nout, 1);
	for (int i = 0; i < 3; i++)
		free(m[i].out);
	TL_EQ(sl_assignor_find("range", 5), SL_ASSIGNOR_RANGE);
	TL_EQ(sl_assignor_find("cooperative-sticky", 18), -1);
}

static void test_partitions_added(void **state)
{
	(void)state;
	add_topic("t", 3, 2);
	struct client a, b;
	client_init(&a, "g", sub_t);
	client_init(&b, "g", sub_t);
	join(&a);
	join(&b);
	beat(&a);
	beat(&a);
	beat(&b);
	TL_EQ(describe("g")->group_epoch, 2);
	topics[0].partitions = 4; /* CreatePartitions */
	beat(&a);
	TL_EQ(describe("g")->group_epoch, 3);
	TL_EQ(a.epoch, 3);
	beat(&b);
	TL_EQ(a.nowned + b.nowned, 4);
	TL_EQ(a.nowned, 2);
	/* a topic subscribed to but created later bumps it too */
	static const char *const tw[] = {"t", "w", NULL};
	a.subs = tw;
	apply(&a, heartbeat_raw(&a, a.epoch, true));
	TL_EQ(describe("g")->group_epoch, 4); /* the subscription */
	add_topic("w", 9, 1);
	beat(&a);
	TL_EQ(describe("g")->group_epoch, 5);
	beat(&a);
	beat(&b);
	TL_EQ(a.nowned, 3);
}

/* ---- classic and consumer groups side by side ---- */

static uint64_t classic_join(const char *group)
{
	struct kc_join_group_req_protocol p = {S("range"), {(const uint8_t *)"", 0}};
	struct kc_join_group_req q = {
		.group_id = S(group), .session_timeout_ms = 10000,
		.rebalance_timeout_ms = 10000, .member_id = S(""),
		.group_instance_id = {NULL, -1}, .protocol_type = S("consumer"),
		.protocols = {&p, 1}, .reason = {NULL, -1}};
	return send_req(KC_API_JOIN_GROUP, 3, &q); /* v3: joins at once */
}

static void test_type_conflicts(void **state)
{
	(void)state;
	add_topic("t", 3, 2);
	/* a classic group with a member: no consumer member may join */
	uint64_t jt = classic_join("classic");
	struct client c;
	client_init(&c, "classic", sub_t);
	TL_EQ(heartbeat_raw(&c, 0, true)->error_code, KC_ERR_GROUP_ID_NOT_FOUND);
	TL_EQ(describe("classic")->error_code, KC_ERR_GROUP_ID_NOT_FOUND);
	TL_EQ(describe("unknown")->error_code, KC_ERR_GROUP_ID_NOT_FOUND);
	assert_string_equal(listed_state("classic", "classic"),
			    "PreparingRebalance");
	assert_null(listed_state("classic", "consumer"));
	(void)jt;

	/* a consumer group with a member: no classic member may join */
	struct client a;
	client_init(&a, "cons", sub_t);
	join(&a);
	const struct kc_join_group_resp *jr =
		kr_decode(classic_join("cons"), KC_API_JOIN_GROUP, 3);
	TL_EQ(jr->error_code, KC_ERR_INCONSISTENT_GROUP_PROTOCOL);
	struct kc_heartbeat_req hq = {S("cons"), 1, S(a.id), {NULL, -1}};
	const struct kc_heartbeat_resp *hr =
		kr_decode(send_req(KC_API_HEARTBEAT, 3, &hq), KC_API_HEARTBEAT, 3);
	TL_EQ(hr->error_code, KC_ERR_UNKNOWN_MEMBER_ID);
	struct kc_str id = S("cons");
	struct kc_describe_groups_req dq = {{&id, 1}, false};
	const struct kc_describe_groups_resp *dr =
		kr_decode(send_req(KC_API_DESCRIBE_GROUPS, 5, &dq),
		      KC_API_DESCRIBE_GROUPS, 5);
	const struct kc_described_group *dg = dr->groups.items;
	TL_EQ(dg->error_code, 0);
	assert_true(streq(dg->group_state, "Dead"));
	/* v6 (KIP-1043): GROUP_ID_NOT_FOUND and Kafka's message */
	dr = kr_decode(send_req(KC_API_DESCRIBE_GROUPS, 6, &dq),
		   KC_API_DESCRIBE_GROUPS, 6);
	dg = dr->groups.items;
	TL_EQ(dg->error_code, KC_ERR_GROUP_ID_NOT_FOUND);
	assert_true(streq(dg->error_message,
			  "Group cons is not a classic group."));
	assert_true(streq(dg->group_state, "Dead"));
	TL_EQ(dg->members.count, 0);
	struct kc_delete_groups_req del = {{&id, 1}};
	const struct kc_delete_groups_resp *delr =
		kr_decode(send_req(KC_API_DELETE_GROUPS, 2, &del),
		      KC_API_DELETE_GROUPS, 2);
	TL_EQ(((const struct kc_deletable_group_result *)delr->results.items)
	      ->error_code, KC_ERR_NON_EMPTY_GROUP);

	/* empty (left, offsets kept): a classic member may take it */
	struct kc_offset_commit_req_partition cp = {
		.partition_index = 0, .committed_offset = 5,
		.committed_leader_epoch = -1, .commit_timestamp = -1,
		.committed_metadata = {NULL, -1}};
	struct kc_offset_commit_req_topic ct = {S("t"), {{0}}, {&cp, 1}};
	struct kc_offset_commit_req oc = {
		.group_id = S("cons"), .generation_id_or_member_epoch = a.epoch,
		.member_id = S(a.id), .group_instance_id = {NULL, -1},
		.retention_time_ms = -1, .topics = {&ct, 1}};
	const struct kc_offset_commit_resp *cr =
		kr_decode(send_req(KC_API_OFFSET_COMMIT, 9, &oc),
		      KC_API_OFFSET_COMMIT, 9);
	TL_EQ(((const struct kc_offset_commit_resp_partition *)
	       ((const struct kc_offset_commit_resp_topic *)cr->topics.items)
	       ->partitions.items)->error_code, 0);
	TL_EQ(heartbeat_raw(&a, -1, false)->error_code, 0);
	assert_string_equal(listed_state("cons", "consumer"), "Empty");
	(void)classic_join("cons"); /* waits for the rebalance: no error */
	assert_string_equal(listed_state("cons", "classic"),
			    "PreparingRebalance");
}

static int16_t commit_err(const char *group, const char *member,
			  int32_t epoch, int16_t ver)
{
	struct kc_offset_commit_req_partition cp = {
		.partition_index = 1, .committed_offset = 42,
		.committed_leader_epoch = -1, .commit_timestamp = -1,
		.committed_metadata = {NULL, -1}};
	struct kc_offset_commit_req_topic ct = {S("t"), {{0}}, {&cp, 1}};
	struct kc_offset_commit_req oc = {
		.group_id = S(group), .generation_id_or_member_epoch = epoch,
		.member_id = S(member), .group_instance_id = {NULL, -1},
		.retention_time_ms = -1, .topics = {&ct, 1}};
	const struct kc_offset_commit_resp *cr =
		kr_decode(send_req(KC_API_OFFSET_COMMIT, ver, &oc),
		      KC_API_OFFSET_COMMIT, ver);
	TL_EQ(cr->topics.count, 1);
	return ((const struct kc_offset_commit_resp_partition *)
		((const struct kc_offset_commit_resp_topic *)cr->topics.items)
		->partitions.items)->error_code;
}

static int16_t fetch_err(const char *group, const char *member,
			 int32_t epoch, int64_t *offset)
{
	int32_t part = 1;
	struct kc_offset_fetch_req_topics t = {S("t"), {{0}}, {&part, 1}};
	struct kc_offset_fetch_req_group fg = {S(group), S(member), epoch,
					       {&t, 1}};
	struct kc_offset_fetch_req q = {.group_id = S(""),
					.topics = {NULL, -1},
					.groups = {&fg, 1}};
	const struct kc_offset_fetch_resp *r =
		kr_decode(send_req(KC_API_OFFSET_FETCH, 9, &q), KC_API_OFFSET_FETCH, 9);
	TL_EQ(r->groups.count, 1);
	const struct kc_offset_fetch_resp_group *g0 = r->groups.items;
	if (g0->error_code == 0) {
		TL_EQ(g0->topics.count, 1);
		const struct kc_offset_fetch_resp_topics *rt = g0->topics.items;
		*offset = ((const struct kc_offset_fetch_resp_partitions *)
			   rt->partitions.items)->committed_offset;
	}
	return g0->error_code;
}

static void test_offset_commit_epochs(void **state)
{
	(void)state;
	add_topic("t", 3, 2);
	struct client a, b;
	client_init(&a, "g", sub_t);
	client_init(&b, "g", sub_t);
	join(&a);
	TL_EQ(commit_err("g", a.id, a.epoch, 9), 0);
	join(&b); /* group epoch 2: a is still at 1 until it reconciles */
	TL_EQ(commit_err("g", a.id, 1, 9), 0);
	TL_EQ(commit_err("g", a.id, 2, 9), SL_CG_ERR_STALE_MEMBER_EPOCH);
	beat(&a);
	beat(&a);
	TL_EQ(a.epoch, 2);
	TL_EQ(commit_err("g", a.id, 1, 9), SL_CG_ERR_STALE_MEMBER_EPOCH);
	TL_EQ(commit_err("g", a.id, 2, 9), 0);
	TL_EQ(commit_err("g", "nobody", 2, 9), KC_ERR_UNKNOWN_MEMBER_ID);
	TL_EQ(commit_err("g", a.id, 2, 8), SL_CG_ERR_UNSUPPORTED_VERSION);
	TL_EQ(commit_err("g", "", -1, 9), KC_ERR_UNKNOWN_MEMBER_ID);
	/* v9 to a group that does not exist: GROUP_ID_NOT_FOUND; v8:
	 * ILLEGAL_GENERATION */
	TL_EQ(commit_err("nope", "m", 3, 9), KC_ERR_GROUP_ID_NOT_FOUND);
	TL_EQ(commit_err("nope", "m", 3, 8), KC_ERR_ILLEGAL_GENERATION);
	int64_t off = -2;
	TL_EQ(fetch_err("g", a.id, 2, &off), 0);
	TL_EQ(off, 42);
	TL_EQ(fetch_err("g", a.id, 1, &off), SL_CG_ERR_STALE_MEMBER_EPOCH);
	TL_EQ(fetch_err("g", "nobody", 2, &off), KC_ERR_UNKNOWN_MEMBER_ID);
	off = -2;
	TL_EQ(fetch_err("g", NULL, -1, &off), 0); /* an admin's fetch */
	TL_EQ(off, 42);
	/* empty again: an outsider commits (epoch -1) */
	TL_EQ(heartbeat_raw(&a, -1, false)->error_code, 0);
	TL_EQ(heartbeat_raw(&b, -1, false)->error_code, 0);
	TL_EQ(commit_err("g", "", -1, 9), 0);
	assert_string_equal(listed_state("g", "consumer"), "Empty");
}

/* OffsetCommit and OffsetFetch v10 name topics by id: resolved through
 * the topics, an id no topic has is UNKNOWN_TOPIC_ID, answers carry ids. */
static void test_offsets_by_topic_id(void **state)
{
	(void)state;
	add_topic("t", 3, 2);
	add_topic("u", 7, 1);
	struct client a;
	client_init(&a, "g", sub_t);
	join(&a);
	struct kc_uuid t_id, u_id, bad_id, gone_id;
	sl_topic_uuid(3, t_id.b);
	sl_topic_uuid(7, u_id.b);
	sl_topic_uuid(99, bad_id.b);
	memset(gone_id.b, 0x42, sizeof(gone_id.b)); /* not one of sluice's */
	struct kc_offset_commit_req_partition cp[2] = {
		{.partition_index = 1, .committed_offset = 42,
		 .committed_leader_epoch = 3, .commit_timestamp = -1,
		 .committed_metadata = {"m", 1}},
		{.partition_index = 0, .committed_offset = 8,
		 .committed_leader_epoch = -1, .commit_timestamp = -1,
		 .committed_metadata = {NULL, -1}}};
	struct kc_offset_commit_req_topic ct[3] = {
		{{NULL, -1}, t_id, {&cp[0], 1}},
		{{NULL, -1}, bad_id, {&cp[1], 1}},
		{{NULL, -1}, u_id, {&cp[1], 1}}};
	struct kc_offset_commit_req oc = {
		.group_id = S("g"), .generation_id_or_member_epoch = a.epoch,
		.member_id = S(a.id), .group_instance_id = {NULL, -1},
		.retention_time_ms = -1, .topics = {ct, 3}};
	const struct kc_offset_commit_resp *cr =
		kr_decode(send_req(KC_API_OFFSET_COMMIT, 10, &oc),
		      KC_API_OFFSET_COMMIT, 10);
	TL_EQ(cr->topics.count, 3);
	const struct kc_offset_commit_resp_topic *crt = cr->topics.items;
	assert_memory_equal(crt[0].topic_id.b, t_id.b, 16);
	assert_memory_equal(crt[1].topic_id.b, bad_id.b, 16);
	assert_memory_equal(crt[2].topic_id.b, u_id.b, 16);
	TL_EQ(((const struct kc_offset_commit_resp_partition *)
	       crt[0].partitions.items)->error_code, 0);
	TL_EQ(((const struct kc_offset_commit_resp_partition *)
	       crt[1].partitions.items)->error_code, 100);
	TL_EQ(((const struct kc_offset_commit_resp_partition *)
	       crt[2].partitions.items)->error_code, 0);
	/* a stale epoch: the group's error, but an unknown id stays 100 */
	oc.generation_id_or_member_epoch = a.epoch + 5;
	cr = kr_decode(send_req(KC_API_OFFSET_COMMIT, 10, &oc),
		   KC_API_OFFSET_COMMIT, 10);
	crt = cr->topics.items;
	TL_EQ(((const struct kc_offset_commit_resp_partition *)
	       crt[0].partitions.items)->error_code,
	      SL_CG_ERR_STALE_MEMBER_EPOCH);
	TL_EQ(((const struct kc_offset_commit_resp_partition *)
	       crt[1].partitions.items)->error_code, 100);
	/* v9 by name reads what v10 wrote by id */
	int64_t off = -2;
	TL_EQ(fetch_err("g", a.id, a.epoch, &off), 0);
	TL_EQ(off, 42);

	/* OffsetFetch v10: by id, unknown ids answered 100 */
	int32_t part0 = 0, part1 = 1;
	struct kc_offset_fetch_req_topics ft[3] = {
		{{NULL, -1}, t_id, {&part1, 1}},
		{{NULL, -1}, gone_id, {&part0, 1}},
		{{NULL, -1}, u_id, {&part0, 1}}};
	struct kc_offset_fetch_req_group fg[2] = {
		{S("g"), S(a.id), a.epoch, {ft, 3}},
		{S("g"), {NULL, -1}, -1, {NULL, -1}}};
	struct kc_offset_fetch_req q = {.group_id = S(""),
					.topics = {NULL, -1},
					.groups = {fg, 2}};
	const struct kc_offset_fetch_resp *r =
		kr_decode(send_req(KC_API_OFFSET_FETCH, 10, &q),
		      KC_API_OFFSET_FETCH, 10);
	TL_EQ(r->groups.count, 2);
	const struct kc_offset_fetch_resp_group *rg = r->groups.items;
	TL_EQ(rg[0].error_code, 0);
	TL_EQ(rg[0].topics.count, 3);
	const struct kc_offset_fetch_resp_topics *rt = rg[0].topics.items;
	assert_memory_equal(rt[0].topic_id.b, t_id.b, 16);
	assert_memory_equal(rt[1].topic_id.b, gone_id.b, 16);
	assert_memory_equal(rt[2].topic_id.b, u_id.b, 16);
	const struct kc_offset_fetch_resp_partitions *rp = rt[0].partitions.items;
	TL_EQ(rp->partition_index, 1);
	TL_EQ(rp->committed_offset, 42);
	TL_EQ(rp->committed_leader_epoch, 3);
	assert_true(streq(rp->metadata, "m"));
	TL_EQ(rp->error_code, 0);
	rp = rt[1].partitions.items;
	TL_EQ(rp->committed_offset, -1);
	TL_EQ(rp->error_code, 100);
	rp = rt[2].partitions.items;
	TL_EQ(rp->committed_offset, 8);
	TL_EQ(rp->error_code, 0);
	/* all the group's offsets: by id; a topic deleted since is left out */
	ntopics = 1; /* "u" is gone */
	r = kr_decode(send_req(KC_API_OFFSET_FETCH, 10, &q), KC_API_OFFSET_FETCH,
		  10);
	rg = r->groups.items;
	TL_EQ(rg[1].error_code, 0);
	TL_EQ(rg[1].topics.count, 1);
	rt = rg[1].topics.items;
	assert_memory_equal(rt[0].topic_id.b, t_id.b, 16);
	TL_EQ(((const struct kc_offset_fetch_resp_partitions *)
	       rt[0].partitions.items)->committed_offset, 42);
	/* and the one asked by id is now unknown */
	rt = rg[0].topics.items;
	TL_EQ(((const struct kc_offset_fetch_resp_partitions *)
	       rt[2].partitions.items)->error_code, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_members_incremental,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_leave, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_revocation_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fencing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_static_member, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_assignors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assignor_unit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_partitions_added, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_type_conflicts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_offset_commit_epochs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_offsets_by_topic_id,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
