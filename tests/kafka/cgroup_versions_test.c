/*
 * The consumer group protocol of KIP-848 at its lowest and highest
 * versions, against the real broker (sluiced forwarding to sluice-control;
 * suite 'integration', tests/lib/broker.h):
 *   - ConsumerGroupHeartbeat v0 (member A, the coordinator makes its id)
 *     and v1 (member B, an id of its own): both join a group subscribed to
 *     a topic of 4 partitions, and heartbeat, as a client does (owning
 *     exactly its last assignment), until both are at the group's epoch;
 *     at every step no partition is owned by both, and at the end every
 *     partition is owned by one;
 *   - ConsumerGroupDescribe v0: the group Stable, both members with their
 *     epochs, assignments and targets (topic id and name), the assignor;
 *     an unknown group GROUP_ID_NOT_FOUND;
 *   - ListGroups v5 lists it as a consumer group; OffsetCommit v9 with
 *     A's member epoch is taken, with a stale one STALE_MEMBER_EPOCH;
 *   - OffsetCommit v10 and OffsetFetch v10 name the topic by id (an id no
 *     topic has: UNKNOWN_TOPIC_ID), answers carry the ids; DescribeGroups
 *     v6 of this consumer group and of an unknown one: GROUP_ID_NOT_FOUND
 *     with Kafka's messages (KIP-1043);
 *   - a regular expression (v1) INVALID_REQUEST; both leave (-1).
 * Exit 77 when binaries are missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "kwire.h"
#include "proto/kafka/kcodec.h"
#include "proto/topic_uuid.h"

#define HB KC_API_CONSUMER_GROUP_HEARTBEAT
#define PARTS 4
#define GROUP "kip848"

static struct tb b;
static int fd = -1;
static long topic_id;

static struct kc_str S(const char *s)
{
	return (struct kc_str){s, s ? (int32_t)strlen(s) : -1};
}

static bool str_is(struct kc_str s, const char *z)
{
	return s.len == (int32_t)strlen(z) && !memcmp(s.ptr, z, (size_t)s.len);
}

struct member {
	int16_t version;
	char id[64];
	int32_t epoch;
	bool owned[PARTS];
};

static int owned_count(const struct member *m)
{
	int n = 0;
	for (int p = 0; p < PARTS; p++)
		n += m->owned[p];
	return n;
}

/* One heartbeat of m (a join when epoch is 0), taken as a client takes
 * it; the answer's error code in *code (0 taken). */
static int beat(struct member *m, int32_t epoch, int16_t *code)
{
	struct kc_str topic = S("cgt");
	int32_t parts[PARTS];
	int32_t n = 0;
	for (int p = 0; p < PARTS; p++)
		if (m->owned[p])
			parts[n++] = p;
	struct kc_consumer_group_heartbeat_req_topic_partitions tp = {
		.partitions = {parts, n}};
	sl_topic_uuid((uint32_t)topic_id, tp.topic_id.b);
	struct kc_consumer_group_heartbeat_req q = {
		.group_id = S(GROUP), .member_id = S(m->id),
		.member_epoch = epoch, .instance_id = {NULL, -1},
		.rack_id = {NULL, -1},
		.rebalance_timeout_ms = epoch == 0 ? 60000 : -1,
		.subscribed_topic_names = epoch == 0 ?
			(struct kc_array){&topic, 1} : (struct kc_array){NULL, -1},
		.subscribed_topic_regex = {NULL, -1},
		.server_assignor = {NULL, -1},
		.topic_partitions = epoch == 0 ? (struct kc_array){&tp, 0} :
				    (struct kc_array){&tp, n ? 1 : 0},
	};
	union kc_response u;
	CHECK(kw_call(fd, HB, m->version, &q, &u) == 0);
	const struct kc_consumer_group_heartbeat_resp *r = (const void *)u.raw;
	*code = r->error_code;
	if (r->error_code)
		return 0;
	CHECK(r->member_id.len > 0 && r->member_id.len < 64);
	memcpy(m->id, r->member_id.ptr, (size_t)r->member_id.len);
	m->id[r->member_id.len] = 0;
	m->epoch = r->member_epoch;
	if (epoch < 0)
		return 0;
	CHECK(r->heartbeat_interval_ms == 5000);
	if (!r->has_assignment)
		return 0;
	memset(m->owned, 0, sizeof(m->owned));
	const struct kc_consumer_group_heartbeat_resp_topic_partitions *t =
		r->assignment.topic_partitions.items;
	for (int32_t i = 0; i < r->assignment.topic_partitions.count; i++) {
		CHECK(sl_topic_uuid_id(t[i].topic_id.b) == (uint32_t)topic_id);
		const int32_t *p = t[i].partitions.items;
		for (int32_t j = 0; j < t[i].partitions.count; j++) {
			CHECK(p[j] >= 0 && p[j] < PARTS);
			m->owned[p[j]] = true;
		}
	}
	return 0;
}

static int disjoint(const struct member *a, const struct member *c)
{
	for (int p = 0; p < PARTS; p++)
		CHECK(!(a->owned[p] && c->owned[p]));
	return 0;
}

static struct member A = {.version = 0}, B = {.version = 1};

static int t_converge(void)
{
	int16_t code;
	CHECK(beat(&A, 0, &code) == 0 && code == 0);
	CHECK(A.epoch == 1 && owned_count(&A) == PARTS);
	CHECK(!strncmp(A.id, "cm-", 3)); /* made by the coordinator */
	strcpy(B.id, "member-b-generated-by-the-client");
	CHECK(beat(&B, 0, &code) == 0 && code == 0);
	CHECK(B.epoch == 2 && owned_count(&B) == 0);
	CHECK(!strcmp(B.id, "member-b-generated-by-the-client"));
	for (int round = 0; round < 10; round++) {
		CHECK(beat(&A, A.epoch, &code) == 0 && code == 0);
		CHECK(disjoint(&A, &B) == 0);
		CHECK(beat(&B, B.epoch, &code) == 0 && code == 0);
		CHECK(disjoint(&A, &B) == 0);
		if (A.epoch == 2 && B.epoch == 2 &&
		    owned_count(&A) + owned_count(&B) == PARTS)
			break;
	}
	CHECK(A.epoch == 2 && B.epoch == 2);
	CHECK(owned_count(&A) == 2 && owned_count(&B) == 2);
	return 0;
}

static int t_describe(void)
{
	struct kc_str ids[2] = {S(GROUP), S("no-such-group")};
	struct kc_consumer_group_describe_req q = {{ids, 2}, true};
	union kc_response u;
	CHECK(kw_call(fd, KC_API_CONSUMER_GROUP_DESCRIBE, 0, &q, &u) == 0);
	const struct kc_consumer_group_describe_resp *r = (const void *)u.raw;
	CHECK(r->groups.count == 2);
	const struct kc_consumer_group_describe_resp_described_group *g =
		r->groups.items;
	CHECK(g[0].error_code == 0 && str_is(g[0].group_id, GROUP));
	CHECK(str_is(g[0].group_state, "Stable"));
	CHECK(g[0].group_epoch == 2 && g[0].assignment_epoch == 2);
	CHECK(str_is(g[0].assignor_name, "uniform"));
	CHECK(g[0].authorized_operations != INT32_MIN);
	CHECK(g[0].members.count == 2);
	const struct kc_consumer_group_describe_resp_member *m = g[0].members.items;
	for (int i = 0; i < 2; i++) {
		const struct member *mm = str_is(m[i].member_id, A.id) ? &A : &B;
		CHECK(str_is(m[i].member_id, mm->id));
		CHECK(m[i].member_epoch == 2);
		CHECK(str_is(m[i].client_id, "cgroup-test"));
		CHECK(m[i].subscribed_topic_names.count == 1);
		CHECK(m[i].assignment.topic_partitions.count == 1);
		const struct kc_consumer_group_describe_resp_topic_partitions *t =
			m[i].assignment.topic_partitions.items;
		CHECK(str_is(t->topic_name, "cgt"));
		CHECK(sl_topic_uuid_id(t->topic_id.b) == (uint32_t)topic_id);
		CHECK(t->partitions.count == 2);
		const int32_t *p = t->partitions.items;
		CHECK(mm->owned[p[0]] && mm->owned[p[1]]);
		CHECK(m[i].target_assignment.topic_partitions.count == 1);
	}
	CHECK(g[1].error_code == KC_ERR_GROUP_ID_NOT_FOUND);
	return 0;
}

static int t_list_and_commit(void)
{
	struct kc_str tf = S("consumer");
	struct kc_list_groups_req lq = {{NULL, 0}, {&tf, 1}};
	union kc_response u;
	CHECK(kw_call(fd, KC_API_LIST_GROUPS, 5, &lq, &u) == 0);
	const struct kc_list_groups_resp *lr = (const void *)u.raw;
	bool found = false;
	const struct kc_listed_group *l = lr->groups.items;
	for (int32_t i = 0; i < lr->groups.count; i++)
		if (str_is(l[i].group_id, GROUP)) {
			CHECK(str_is(l[i].group_type, "consumer"));
			CHECK(str_is(l[i].protocol_type, "consumer"));
			CHECK(str_is(l[i].group_state, "Stable"));
			found = true;
		}
	CHECK(found);
	for (int stale = 0; stale < 2; stale++) {
		struct kc_offset_commit_req_partition cp = {
			.partition_index = 0, .committed_offset = 7,
			.committed_leader_epoch = -1, .commit_timestamp = -1,
			.committed_metadata = {NULL, -1}};
		struct kc_offset_commit_req_topic ct = {S("cgt"), {{0}}, {&cp, 1}};
		struct kc_offset_commit_req oc = {
			.group_id = S(GROUP),
			.generation_id_or_member_epoch = A.epoch - stale,
			.member_id = S(A.id), .group_instance_id = {NULL, -1},
			.retention_time_ms = -1, .topics = {&ct, 1}};
		CHECK(kw_call(fd, KC_API_OFFSET_COMMIT, 9, &oc, &u) == 0);
		const struct kc_offset_commit_resp *cr = (const void *)u.raw;
		CHECK(cr->topics.count == 1);
		const struct kc_offset_commit_resp_topic *rt = cr->topics.items;
		const struct kc_offset_commit_resp_partition *rp =
			rt->partitions.items;
		CHECK(rp->error_code == (stale ? 113 : 0));
	}
	return 0;
}

static int t_topic_ids(void)
{
	struct kc_uuid id, bad;
	sl_topic_uuid((uint32_t)topic_id, id.b);
	sl_topic_uuid((uint32_t)topic_id + 1000, bad.b);
	struct kc_offset_commit_req_partition cp = {
		.partition_index = 1, .committed_offset = 11,
		.committed_leader_epoch = 4, .commit_timestamp = -1,
		.committed_metadata = {"v10", 3}};
	struct kc_offset_commit_req_topic ct[2] = {
		{{NULL, -1}, id, {&cp, 1}}, {{NULL, -1}, bad, {&cp, 1}}};
	struct kc_offset_commit_req oc = {
		.group_id = S(GROUP), .generation_id_or_member_epoch = A.epoch,
		.member_id = S(A.id), .group_instance_id = {NULL, -1},
		.retention_time_ms = -1, .topics = {ct, 2}};
	union kc_response u;
	CHECK(kw_call(fd, KC_API_OFFSET_COMMIT, 10, &oc, &u) == 0);
	const struct kc_offset_commit_resp *cr = (const void *)u.raw;
	CHECK(cr->topics.count == 2);
	const struct kc_offset_commit_resp_topic *crt = cr->topics.items;
	CHECK(!memcmp(crt[0].topic_id.b, id.b, 16));
	CHECK(!memcmp(crt[1].topic_id.b, bad.b, 16));
	CHECK(((const struct kc_offset_commit_resp_partition *)
	       crt[0].partitions.items)->error_code == 0);
	CHECK(((const struct kc_offset_commit_resp_partition *)
	       crt[1].partitions.items)->error_code == 100);

	int32_t part = 1;
	struct kc_offset_fetch_req_topics ft[2] = {
		{{NULL, -1}, id, {&part, 1}}, {{NULL, -1}, bad, {&part, 1}}};
	struct kc_offset_fetch_req_group fg = {S(GROUP), S(A.id), A.epoch,
					       {ft, 2}};
	struct kc_offset_fetch_req fq = {.group_id = S(""),
					 .topics = {NULL, -1},
					 .groups = {&fg, 1}};
	CHECK(kw_call(fd, KC_API_OFFSET_FETCH, 10, &fq, &u) == 0);
	const struct kc_offset_fetch_resp *fr = (const void *)u.raw;
	CHECK(fr->groups.count == 1);
	const struct kc_offset_fetch_resp_group *rg = fr->groups.items;
	CHECK(rg->error_code == 0 && rg->topics.count == 2);
	const struct kc_offset_fetch_resp_topics *rt = rg->topics.items;
	CHECK(!memcmp(rt[0].topic_id.b, id.b, 16));
	const struct kc_offset_fetch_resp_partitions *rp = rt[0].partitions.items;
	CHECK(rp->partition_index == 1 && rp->committed_offset == 11);
	CHECK(rp->committed_leader_epoch == 4 && str_is(rp->metadata, "v10"));
	CHECK(rp->error_code == 0);
	CHECK(!memcmp(rt[1].topic_id.b, bad.b, 16));
	rp = rt[1].partitions.items;
	CHECK(rp->committed_offset == -1 && rp->error_code == 100);

	struct kc_str ids[2] = {S(GROUP), S("nosuch")};
	struct kc_describe_groups_req dq = {{ids, 2}, false};
	CHECK(kw_call(fd, KC_API_DESCRIBE_GROUPS, 6, &dq, &u) == 0);
	const struct kc_describe_groups_resp *dr = (const void *)u.raw;
	CHECK(dr->groups.count == 2);
	const struct kc_described_group *d = dr->groups.items;
	CHECK(d[0].error_code == KC_ERR_GROUP_ID_NOT_FOUND);
	CHECK(str_is(d[0].error_message, "Group " GROUP
		     " is not a classic group."));
	CHECK(str_is(d[0].group_state, "Dead"));
	CHECK(d[1].error_code == KC_ERR_GROUP_ID_NOT_FOUND);
	CHECK(str_is(d[1].error_message, "Group nosuch not found."));
	return 0;
}

static int t_regex_and_leave(void)
{
	struct kc_str topic = S("cgt");
	struct kc_consumer_group_heartbeat_req q = {
		.group_id = S(GROUP), .member_id = S("x"), .member_epoch = 0,
		.instance_id = {NULL, -1}, .rack_id = {NULL, -1},
		.rebalance_timeout_ms = 1000,
		.subscribed_topic_names = {&topic, 1},
		.subscribed_topic_regex = S("cg.*"),
		.server_assignor = {NULL, -1}, .topic_partitions = {NULL, 0}};
	union kc_response u;
	CHECK(kw_call(fd, HB, 1, &q, &u) == 0);
	const struct kc_consumer_group_heartbeat_resp *r = (const void *)u.raw;
	CHECK(r->error_code == 42 && r->error_message.len > 0);
	int16_t code;
	CHECK(beat(&A, -1, &code) == 0 && code == 0 && A.epoch == -1);
	CHECK(beat(&B, -1, &code) == 0 && code == 0 && B.epoch == -1);
	B.epoch = 2;
	CHECK(beat(&B, 2, &code) == 0 && code == KC_ERR_UNKNOWN_MEMBER_ID);
	return 0;
}

int main(void)
{
	kw_init("cgroup-test");
	int rc = kw_broker_start(&b, "kcgroup", &fd);
	if (rc)
		return rc;
	topic_id = kw_topic_create(&b, "cgt", PARTS);
	if (topic_id < 0) {
		tb_destroy(&b, 1);
		return 1;
	}
	static const struct kw_test tests[] = {
		{ "converge", t_converge },
		{ "describe", t_describe },
		{ "list_and_commit", t_list_and_commit },
		{ "topic_ids", t_topic_ids },
		{ "regex_and_leave", t_regex_and_leave },
	};
	kw_run(&b, tests, KW_COUNT(tests), &fd);
	return kw_finish(&b, &fd);
}
