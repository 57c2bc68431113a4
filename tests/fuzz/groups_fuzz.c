/*
 * libFuzzer target for the consumer group coordinator (control/groups.c):
 * the input is a program of requests from several consumers on several
 * connections (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
 * OffsetFetch, DescribeGroups, ListGroups, DeleteGroups,
 * ConsumerGroupHeartbeat and ConsumerGroupDescribe of KIP-848, and raw
 * bytes as any of these APIs), with the fake clock moving between them,
 * topic t1's partition count changing, connections dropping and the
 * coordinator restarting.  Member ids and generations
 * come back from the replies, so the program can act as real members do
 * (and also with stale or made-up ones).
 *
 * Program: a sequence of steps, each an opcode byte and its operands (the
 * reader gives zeros past the end).  See step() for the opcodes.
 *
 * Properties, checked on every step (groups_probe.c checks each reply):
 *   1. each request is answered at most once, never after its connection
 *      was dropped, with a reply that decodes whole as its API's response
 *      and fits SL_GROUPS_MAX_RESPONSE; sl_groups_request answers 0 or
 *      one of its documented errors;
 *   2. sl_groups_tick returns -1 or a delay, and no JoinGroup or SyncGroup
 *      waits forever: after the clock moves past every timeout (the
 *      largest rebalance and session timeouts the program can ask for),
 *      every request of a connection still up has been answered;
 *   3. a JoinGroup that succeeds hands out a generation >= 1, and every
 *      error code is a Kafka error code (0..127);
 *   4. committed offsets survive a restart: what OffsetFetch answers for
 *      every group is the same after sl_groups_close and sl_groups_open
 *      at the same instant;
 *   5. a consumer group never holds a partition twice: in every
 *      ConsumerGroupDescribe answer the members' assignments are
 *      disjoint, and a heartbeat that succeeds answers an epoch >= 0 (or
 *      the -1 / -2 of a leave) and partitions of existing topics only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "control/groups.h"
#include "proto/topic_uuid.h"
#include "groups_probe.h"
#include "fuzz_util.h"

#define INPUT_MAX 8192
#define STEPS_MAX 400
#define NGROUPS 4
#define MEMBERS_MAX 16
#define SNAP_BYTES (4u << 20)
#define RETENTION_MS (24ll * 3600 * 1000)

static const char *const group_names[NGROUPS] = { "g0", "g1", "g2", "" };
static const char *const topic_names[] = { "t0", "t1", "t-long-name",
					   "" };
static const char *const proto_names[] = { "range", "roundrobin",
					   "sticky" };
static const int32_t session_ms[] = { 6000, 10000, 30000, 5999, 1800001 };
static const int32_t rebalance_ms[] = { 1000, 10000, 60000, -1 };

/* a member id learnt from a reply */
struct member {
	char id[160];
	int32_t len;
	int group;
	int32_t generation;   /* or a consumer group member's epoch */
	/* a consumer group member's last assignment (what it owns) */
	uint32_t owned_topic[8];
	int32_t owned[8];
	int nowned;
};

static char dir[PATH_MAX];
static struct member members[MEMBERS_MAX];
static unsigned nmembers;
static int32_t gen_seen[NGROUPS];
static uint8_t *snap1, *snap2;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/groups", fz_tmpdir());
	snap1 = malloc(SNAP_BYTES);
	snap2 = malloc(SNAP_BYTES);
	FUZZ_CHECK(snap1 && snap2);
	return 0;
}

static struct kc_str S(const char *s)
{
	return (struct kc_str){ s, (int32_t)strlen(s) };
}

static int group_of(const struct kc_str g)
{
	for (int i = 0; i < NGROUPS; i++)
		if (g.len == (int32_t)strlen(group_names[i]) &&
		    !memcmp(g.ptr, group_names[i], (size_t)g.len))
			return i;
	return -1;
}

static void learn(const struct kc_str id, int group, int32_t generation)
{
	if (id.len <= 0 || id.len >= (int32_t)sizeof(members[0].id))
		return;
	for (unsigned i = 0; i < nmembers; i++)
		if (members[i].len == id.len &&
		    !memcmp(members[i].id, id.ptr, (size_t)id.len)) {
			members[i].group = group;
			members[i].generation = generation;
			return;
		}
	unsigned slot = nmembers < MEMBERS_MAX ? nmembers++ :
						 (unsigned)(id.len % MEMBERS_MAX);
	memcpy(members[slot].id, id.ptr, (size_t)id.len);
	members[slot].len = id.len;
	members[slot].group = group;
	members[slot].generation = generation;
	members[slot].nowned = 0;
}

static struct member *learnt(const struct kc_str id)
{
	for (unsigned i = 0; i < nmembers; i++)
		if (members[i].len == id.len &&
		    !memcmp(members[i].id, id.ptr, (size_t)id.len))
			return &members[i];
	return NULL;
}

/* Property 5 for one ConsumerGroupDescribe group. */
static void check_cg_described(
	const struct kc_consumer_group_describe_resp_described_group *d)
{
	uint32_t seen[64];
	int n = 0;
	const struct kc_consumer_group_describe_resp_member *m = d->members.items;
	for (int32_t i = 0; i < d->members.count; i++) {
		const struct kc_consumer_group_describe_resp_topic_partitions *t =
			m[i].assignment.topic_partitions.items;
		for (int32_t k = 0; k < m[i].assignment.topic_partitions.count;
		     k++) {
			uint32_t id = sl_topic_uuid_id(t[k].topic_id.b);
			FUZZ_CHECK(id == 1 || id == 2);
			const int32_t *p = t[k].partitions.items;
			for (int32_t j = 0; j < t[k].partitions.count; j++) {
				FUZZ_CHECK(p[j] >= 0 && p[j] < 256);
				uint32_t key = id << 8 | (uint32_t)p[j];
				for (int x = 0; x < n; x++)
					FUZZ_CHECK(seen[x] != key);
				FUZZ_CHECK(n < 64);
				seen[n++] = key;
			}
		}
	}
}

/* the group of the request being answered (set before each send) */
static int cur_group = -1;

static void on_reply(uint64_t token, int16_t key, int16_t version,
		     const void *resp)
{
	(void)token;
	(void)version;
	int16_t err = 0;
	switch (key) {
	case KC_API_JOIN_GROUP: {
		const struct kc_join_group_resp *r = resp;
		err = r->error_code;
		/* the group is not in the reply: the members tell */
		int g = cur_group;
		if (r->error_code == 0) {
			FUZZ_CHECK(r->generation_id >= 1);
			if (g >= 0)
				gen_seen[g] = r->generation_id;
		}
		learn(r->member_id, g, r->generation_id);
		const struct kc_join_group_resp_member *m = r->members.items;
		for (int32_t i = 0; i < r->members.count; i++)
			learn(m[i].member_id, g, r->generation_id);
		break;
	}
	case KC_API_SYNC_GROUP:
		err = ((const struct kc_sync_group_resp *)resp)->error_code;
		break;
	case KC_API_HEARTBEAT:
		err = ((const struct kc_heartbeat_resp *)resp)->error_code;
		break;
	case KC_API_LEAVE_GROUP:
		err = ((const struct kc_leave_group_resp *)resp)->error_code;
		break;
	case KC_API_LIST_GROUPS:
		err = ((const struct kc_list_groups_resp *)resp)->error_code;
		break;
	case KC_API_CONSUMER_GROUP_HEARTBEAT: {
		const struct kc_consumer_group_heartbeat_resp *r = resp;
		err = r->error_code;
		if (err)
			break;
		FUZZ_CHECK(r->member_epoch >= -2);
		if (r->member_epoch < 0)
			break;
		learn(r->member_id, cur_group, r->member_epoch);
		struct member *m = learnt(r->member_id);
		if (!m || !r->has_assignment)
			break;
		m->nowned = 0;
		const struct kc_consumer_group_heartbeat_resp_topic_partitions *t =
			r->assignment.topic_partitions.items;
		for (int32_t i = 0; i < r->assignment.topic_partitions.count; i++) {
			uint32_t id = sl_topic_uuid_id(t[i].topic_id.b);
			FUZZ_CHECK(id == 1 || id == 2);
			const int32_t *p = t[i].partitions.items;
			for (int32_t j = 0; j < t[i].partitions.count; j++)
				if (m->nowned < 8) {
					m->owned_topic[m->nowned] = id;
					m->owned[m->nowned++] = p[j];
				}
		}
		break;
	}
	case KC_API_CONSUMER_GROUP_DESCRIBE: {
		const struct kc_consumer_group_describe_resp *r = resp;
		const struct kc_consumer_group_describe_resp_described_group *d =
			r->groups.items;
		for (int32_t i = 0; i < r->groups.count; i++) {
			FUZZ_CHECK(d[i].error_code >= 0 && d[i].error_code < 128);
			check_cg_described(&d[i]);
		}
		break;
	}
	case KC_API_DESCRIBE_GROUPS: {
		const struct kc_describe_groups_resp *r = resp;
		const struct kc_described_group *d = r->groups.items;
		for (int32_t i = 0; i < r->groups.count; i++) {
			FUZZ_CHECK(d[i].error_code >= 0 &&
				   d[i].error_code < 128);
			int g = group_of(d[i].group_id);
			const struct kc_described_group_member *m =
				d[i].members.items;
			for (int32_t j = 0; j < d[i].members.count; j++)
				learn(m[j].member_id, g,
				      g >= 0 ? gen_seen[g] : -1);
		}
		break;
	}
	default:
		break;
	}
	FUZZ_CHECK(err >= 0 && err < 128);
}

/* A member id operand: "" (new), a learnt one (its index in *idx), or a
 * made-up one (*idx -1). */
static struct kc_str pick_member(struct fz_reader *r, int *idx)
{
	uint8_t b = fz_u8(r);
	*idx = -1;
	if (b < 64 || nmembers == 0)
		return S(b & 1 ? "made-up-member" : "");
	*idx = (int)(b % nmembers);
	const struct member *m = &members[*idx];
	return (struct kc_str){ m->id, m->len };
}

/* A generation operand: the member's own, the group's latest, none, or
 * any small number. */
static int32_t pick_generation(struct fz_reader *r, int g, int idx)
{
	uint8_t b = fz_u8(r);
	switch (b & 3) {
	case 0:
		return idx >= 0 ? members[idx].generation : -1;
	case 1:
		return g >= 0 ? gen_seen[g] : 0;
	case 2:
		return -1;
	default:
		return (int32_t)(int8_t)b;
	}
}

static int pick_group(struct fz_reader *r)
{
	return fz_u8(r) % NGROUPS;
}

static void send(uint32_t conn, int16_t key, int16_t ver, const void *body,
		 int group)
{
	uint64_t t;
	cur_group = group;
	(void)gp_send(conn, key, ver, body, &t);
	cur_group = -1;
}

static void step_join(struct fz_reader *r, uint32_t conn)
{
	int g = pick_group(r), mg;
	int16_t ver = fz_u8(r) % 10;
	struct kc_str member = pick_member(r, &mg);
	uint8_t b = fz_u8(r);
	struct kc_join_group_req_protocol p[3];
	int np = 1 + (b & 1) + ((b >> 1) & 1);
	uint8_t meta[64];
	size_t meta_len = fz_u8(r) % sizeof(meta);
	for (size_t i = 0; i < meta_len; i++)
		meta[i] = (uint8_t)(i * 31 + b);
	for (int i = 0; i < np; i++)
		p[i] = (struct kc_join_group_req_protocol){
			S(proto_names[(b >> (2 + i)) % 3]),
			{ meta, (int32_t)meta_len } };
	uint8_t t = fz_u8(r);
	char instance[16];
	struct kc_str inst = { NULL, -1 };
	if (ver >= 5 && (t & 0x80)) {
		snprintf(instance, sizeof(instance), "i%u", t & 3);
		inst = S(instance);
	}
	struct kc_join_group_req q = {
		.group_id = S(group_names[g]),
		.session_timeout_ms = session_ms[t % 5],
		.rebalance_timeout_ms = rebalance_ms[(t >> 3) % 4],
		.member_id = member, .group_instance_id = inst,
		.protocol_type = S(t & 0x40 ? "connect" : "consumer"),
		.protocols = { p, np }, .reason = { NULL, -1 } };
	send(conn, KC_API_JOIN_GROUP, ver, &q, g);
}

static void step_sync(struct fz_reader *r, uint32_t conn)
{
	int g = pick_group(r), mg;
	struct kc_str member = pick_member(r, &mg);
	int32_t gen = pick_generation(r, g, mg);
	uint8_t b = fz_u8(r);
	struct kc_sync_group_req_assignment a[MEMBERS_MAX];
	int na = 0;
	/* the leader hands out assignments to the members it knows of */
	for (unsigned i = 0; i < nmembers && (b & 1); i++)
		if (members[i].group == g)
			a[na++] = (struct kc_sync_group_req_assignment){
				{ members[i].id, members[i].len },
				{ (const uint8_t *)"assignment-bytes",
				  (int32_t)(b >> 4) } }; /* 0..15 */
	struct kc_sync_group_req q = {
		.group_id = S(group_names[g]), .generation_id = gen,
		.member_id = member, .group_instance_id = { NULL, -1 },
		.protocol_type = { NULL, -1 }, .protocol_name = { NULL, -1 },
		.assignments = { a, na } };
	if (b & 0x40) /* v5: checked against the group's */
		q.protocol_type = S(b & 0x20 ? "connect" : "consumer");
	if (b & 0x80)
		q.protocol_name = S(proto_names[b % 3]);
	send(conn, KC_API_SYNC_GROUP, (int16_t)((b >> 1) % 6), &q, g);
}

static void step_heartbeat(struct fz_reader *r, uint32_t conn)
{
	int g = pick_group(r), mg;
	struct kc_str member = pick_member(r, &mg);
	int32_t gen = pick_generation(r, g, mg);
	struct kc_heartbeat_req q = { S(group_names[g]), gen, member,
				      { NULL, -1 } };
	send(conn, KC_API_HEARTBEAT, (int16_t)(fz_u8(r) % 5), &q, g);
}

static void step_leave(struct fz_reader *r, uint32_t conn)
{
	int g = pick_group(r), mg;
	struct kc_str member = pick_member(r, &mg);
	int16_t ver = (int16_t)(fz_u8(r) % 6);
	struct kc_leave_group_req_member m[2] = {
		{ .member_id = member, .group_instance_id = { NULL, -1 },
		  .reason = { NULL, -1 } },
		{ .member_id = S("not-a-member"),
		  .group_instance_id = { NULL, -1 }, .reason = { NULL, -1 } } };
	struct kc_leave_group_req q = { S(group_names[g]), member,
					{ m, ver >= 3 ? 1 + (fz_u8(r) & 1) : 0 } };
	send(conn, KC_API_LEAVE_GROUP, ver, &q, g);
}

static void step_commit(struct fz_reader *r, uint32_t conn)
{
	int g = pick_group(r), mg;
	struct kc_str member = pick_member(r, &mg);
	int32_t gen = pick_generation(r, g, mg);
	uint8_t b = fz_u8(r);
	int nt = 1 + (b & 1);
	struct kc_offset_commit_req_topic t[2];
	struct kc_offset_commit_req_partition p[2][3];
	static char meta[SL_GROUPS_OFFSET_METADATA_MAX + 2];
	memset(meta, 'm', sizeof(meta));
	for (int i = 0; i < nt; i++) {
		int np = 1 + fz_u8(r) % 3;
		for (int j = 0; j < np; j++) {
			uint8_t c = fz_u8(r);
			int32_t ml = c & 0x80 ? (c & 0x40 ?
				SL_GROUPS_OFFSET_METADATA_MAX + (c & 1) :
				c & 0x3f) : -1;
			uint8_t ts = fz_u8(r); /* v1: a commit time */
			p[i][j] = (struct kc_offset_commit_req_partition){
				(int32_t)(int8_t)fz_u8(r) % 8,
				(int64_t)fz_u16(r) - 2, -1,
				ts & 1 ? GP_WALL_START_MS - (int64_t)ts * 3600000 : -1,
				{ ml < 0 ? NULL : meta, ml } };
		}
		t[i] = (struct kc_offset_commit_req_topic){
			S(topic_names[(b >> (1 + 2 * i)) % 4]), { { 0 } },
			{ p[i], np } };
	}
	int16_t ver = (int16_t)(fz_u8(r) % 10);
	struct kc_offset_commit_req q = { S(group_names[g]), gen, member,
					  { NULL, -1 }, -1, { t, nt } };
	send(conn, KC_API_OFFSET_COMMIT, ver, &q, g);
}

static void step_fetch(struct fz_reader *r, uint32_t conn)
{
	int g = pick_group(r);
	uint8_t b = fz_u8(r);
	int32_t parts[3] = { 0, 1, (int32_t)(int8_t)fz_u8(r) };
	struct kc_offset_fetch_req_topic t = { S(topic_names[b % 4]),
					       { parts, 1 + (b >> 2) % 3 } };
	int16_t ver = (int16_t)((b >> 4) % 10);
	struct kc_offset_fetch_req q = { .group_id = S(group_names[g]),
		.topics = (b & 0x80) && ver >= 2 ? (struct kc_array){ NULL, -1 } :
						   (struct kc_array){ &t, 1 } };
	/* v8+: the same question for this group and, maybe, another */
	struct kc_offset_fetch_req_group qg[2] = {
		{ S(group_names[g]), { NULL, -1 }, -1, q.topics },
		{ S(group_names[(g + 1) % NGROUPS]), { NULL, -1 }, -1,
		  { NULL, -1 } } };
	if (ver >= 8)
		q.groups = (struct kc_array){ qg, 1 + (b & 1) };
	send(conn, KC_API_OFFSET_FETCH, ver, &q, g);
}

static void step_describe(struct fz_reader *r, uint32_t conn)
{
	uint8_t b = fz_u8(r);
	struct kc_str ids[NGROUPS + 1];
	int n = 0;
	for (int i = 0; i < NGROUPS; i++)
		if (b & (1 << i))
			ids[n++] = S(group_names[i]);
	if (b & 0x10)
		ids[n++] = S("unknown-group");
	struct kc_describe_groups_req q = { { ids, n }, (b & 0x20) != 0 };
	send(conn, KC_API_DESCRIBE_GROUPS, (int16_t)((b >> 5) % 6), &q, -1);
}

static void step_list(struct fz_reader *r, uint32_t conn)
{
	static const char *const states[] = {
		"Empty", "stable", "PREPARINGREBALANCE", "CompletingRebalance",
		"Dead", "nonsense" };
	uint8_t b = fz_u8(r);
	struct kc_str st = S(states[(b >> 3) % 6]);
	struct kc_str ty = S(b & 0x80 ? "classic" : "consumer");
	struct kc_list_groups_req q = {
		{ &st, (b & 0x20) ? 1 : 0 }, { &ty, (b & 0x40) ? 1 : 0 } };
	send(conn, KC_API_LIST_GROUPS, (int16_t)(b % 6), &q, -1);
}

/* OffsetDelete: partitions of one or two topics of a group. */
static void step_offset_delete(struct fz_reader *r, uint32_t conn)
{
	int g = pick_group(r);
	uint8_t b = fz_u8(r);
	struct kc_offset_delete_req_partition p[3] = {
		{ 0 }, { 1 }, { (int32_t)(int8_t)fz_u8(r) % 8 } };
	struct kc_offset_delete_req_topic t[2] = {
		{ S(topic_names[b % 4]), { p, 1 + (b >> 2) % 3 } },
		{ S(topic_names[(b >> 4) % 4]), { &p[2], 1 } } };
	struct kc_offset_delete_req q = {
		b & 0x80 ? S("") : S(group_names[g]), { t, 1 + ((b >> 6) & 1) } };
	send(conn, KC_API_OFFSET_DELETE, 0, &q, g);
}

static void step_delete(struct fz_reader *r, uint32_t conn)
{
	uint8_t b = fz_u8(r);
	struct kc_str ids[NGROUPS + 1];
	int n = 0;
	for (int i = 0; i < NGROUPS; i++)
		if (b & (1 << i))
			ids[n++] = S(group_names[i]);
	if (b & 0x10) /* the same id twice */
		ids[n++] = S(group_names[0]);
	struct kc_delete_groups_req q = { { ids, n } };
	send(conn, KC_API_DELETE_GROUPS, (int16_t)((b >> 5) % 3), &q, -1);
}

/* ConsumerGroupHeartbeat: a join (epoch 0), a heartbeat with a learnt
 * member's epoch (or one off), a leave (-1, -2), or nonsense; owned
 * partitions are the member's last assignment, sometimes with a partition
 * it does not have. */
static void step_cg_heartbeat(struct fz_reader *r, uint32_t conn)
{
	static const char *const assignors[] = { "uniform", "range", "sticky" };
	int g = pick_group(r), mg;
	struct kc_str member = pick_member(r, &mg);
	uint8_t b = fz_u8(r), c = fz_u8(r);
	int32_t epoch;
	switch (b & 7) {
	case 0: case 1: epoch = 0; break;
	case 2: epoch = -1; break;
	case 3: epoch = -2; break;
	case 4: epoch = mg >= 0 ? members[mg].generation - 1 : 1; break;
	case 5: epoch = (int32_t)(int8_t)c; break;
	default: epoch = mg >= 0 ? members[mg].generation : 1; break;
	}
	struct kc_str names[2] = { S("t0"), S(topic_names[1 + (c & 1) * 1 +
							      ((c >> 1) & 1)]) };
	struct kc_consumer_group_heartbeat_req_topic_partitions tp[9];
	int32_t parts[9];
	int nt = 0;
	if (mg >= 0 && epoch != 0) {
		const struct member *m = &members[mg];
		for (int i = 0; i < m->nowned; i++) {
			sl_topic_uuid(m->owned_topic[i], tp[nt].topic_id.b);
			parts[i] = m->owned[i];
			tp[nt].partitions = (struct kc_array){ &parts[i], 1 };
			nt++;
		}
	}
	if (c & 0x80) { /* a partition it was not given */
		sl_topic_uuid(1 + (c & 1), tp[nt].topic_id.b);
		parts[nt] = (c >> 2) & 3;
		tp[nt].partitions = (struct kc_array){ &parts[nt], 1 };
		nt++;
	}
	char instance[8];
	struct kc_str inst = { NULL, -1 };
	if (b & 0x40) {
		snprintf(instance, sizeof(instance), "i%u", (b >> 3) & 1);
		inst = S(instance);
	}
	struct kc_consumer_group_heartbeat_req q = {
		.group_id = S(group_names[g]), .member_id = member,
		.member_epoch = epoch, .instance_id = inst,
		.rack_id = (c & 0x40) ? S("rack") : (struct kc_str){ NULL, -1 },
		.rebalance_timeout_ms = (b & 0x80) || epoch == 0 ?
			rebalance_ms[(c >> 4) % 4] : -1,
		.subscribed_topic_names = epoch == 0 || (c & 0x20) ?
			(struct kc_array){ names, 1 + ((c >> 3) & 1) } :
			(struct kc_array){ NULL, -1 },
		.subscribed_topic_regex = (b & 0x30) == 0x30 ? S("t.*") :
			(struct kc_str){ NULL, -1 },
		.server_assignor = (b & 0x10) ? S(assignors[c % 3]) :
			(struct kc_str){ NULL, -1 },
		.topic_partitions = epoch == 0 && !(c & 0x80) ?
			(struct kc_array){ tp, 0 } :
			(b & 0x20) && !(b & 0x10) ? (struct kc_array){ NULL, -1 } :
			(struct kc_array){ tp, nt } };
	send(conn, KC_API_CONSUMER_GROUP_HEARTBEAT, (int16_t)(c & 1), &q, g);
}

static void step_cg_describe(struct fz_reader *r, uint32_t conn)
{
	uint8_t b = fz_u8(r);
	struct kc_str ids[NGROUPS + 1];
	int n = 0;
	for (int i = 0; i < NGROUPS; i++)
		if (b & (1 << i))
			ids[n++] = S(group_names[i]);
	if (b & 0x10)
		ids[n++] = S("unknown-group");
	struct kc_consumer_group_describe_req q = { { ids, n }, (b & 0x20) != 0 };
	send(conn, KC_API_CONSUMER_GROUP_DESCRIBE, 0, &q, -1);
}

/* Raw request bytes as one of the coordinator's APIs: the decoders'
 * bad-input paths. */
static void step_raw(struct fz_reader *r, uint32_t conn)
{
	static const int16_t keys[] = {
		KC_API_OFFSET_COMMIT, KC_API_OFFSET_FETCH, KC_API_JOIN_GROUP,
		KC_API_HEARTBEAT, KC_API_LEAVE_GROUP, KC_API_SYNC_GROUP,
		KC_API_DESCRIBE_GROUPS, KC_API_LIST_GROUPS,
		KC_API_DELETE_GROUPS, KC_API_OFFSET_DELETE,
		KC_API_CONSUMER_GROUP_HEARTBEAT, KC_API_CONSUMER_GROUP_DESCRIBE };
	uint8_t b = fz_u8(r);
	int16_t key = keys[b % 12];
	int16_t ver = (int16_t)(fz_u8(r) % 10);
	size_t n;
	const uint8_t *body = fz_bytes(r, fz_u8(r), &n);
	uint8_t req[8 + 6 + 256];
	req[0] = (uint8_t)(key >> 8);
	req[1] = (uint8_t)key;
	req[2] = (uint8_t)(ver >> 8);
	req[3] = (uint8_t)ver;
	memset(req + 4, 0, 4);       /* correlation id: the probe's */
	req[8] = 0;                  /* client id "fuzz" */
	req[9] = 4;
	memcpy(req + 10, "fuzz", 4);
	memcpy(req + 14, body, n);
	uint64_t t;
	(void)gp_send_raw(conn, req, 14 + n, &t);
}

static void restart(void)
{
	size_t n1 = gp_snapshot(snap1, SNAP_BYTES);
	gp_close();
	FUZZ_CHECK(gp_open(dir, RETENTION_MS, NULL) == 0);
	size_t n2 = gp_snapshot(snap2, SNAP_BYTES);
	if (n1 != n2 || memcmp(snap1, snap2, n1))
	{
		fprintf(stderr, "committed offsets differ after a restart\n");
		if (getenv("SLUICE_FUZZ_VERBOSE")) {
			fz_hexdump("before", snap1, n1);
			fz_hexdump("after", snap2, n2);
		}
	}
	FUZZ_CHECK(n1 == n2 && !memcmp(snap1, snap2, n1));
	/* a new life: generations start again from what the file keeps
	 * (nothing: membership is in memory only) */
	memset(gen_seen, 0, sizeof(gen_seen));
	nmembers = 0;
}

static void step(struct fz_reader *r)
{
	uint8_t op = fz_u8(r);
	uint32_t conn = (op >> 4) % (GP_CONNS - 1);
	switch (op & 15) {
	case 0: step_join(r, conn); break;
	case 1: step_sync(r, conn); break;
	case 2: step_heartbeat(r, conn); break;
	case 3: step_leave(r, conn); break;
	case 4: step_commit(r, conn); break;
	case 5: step_fetch(r, conn); break;
	case 6: step_describe(r, conn); break;
	case 7: step_list(r, conn); break;
	case 8: step_delete(r, conn); break;
	case 9: step_raw(r, conn); break;
	case 10: /* a little time: inside the initial delay, heartbeats */
		gp_advance(fz_u8(r) * 10);
		break;
	case 11: /* a lot: sessions and rebalances time out */
		gp_advance((int64_t)fz_u16(r) * 100);
		break;
	case 12:
		if (op & 0x80)
			gp_drop_conn(conn);
		else if (op & 0x40)
			step_cg_describe(r, conn);
		else if (op & 0x20)
			gp_set_partitions(fz_u8(r) % 6); /* t1 grows, shrinks */
		else
			step_cg_heartbeat(r, conn);
		break;
	case 13:
		restart();
		break;
	case 14: /* days: offsets expire */
		gp_advance((int64_t)(fz_u8(r) % 16) * 6 * 3600 * 1000);
		break;
	case 15:
		if (op & 0x80)
			step_offset_delete(r, conn);
		else if (op & 0x40)
			step_cg_heartbeat(r, conn);
		else
			step_join(r, conn); /* the most useful step */
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > INPUT_MAX)
		return 0;
	fz_clear_dir(fz_tmpdir());
	FUZZ_CHECK(mkdir(dir, 0700) == 0);
	gp_reset(GP_WALL_START_MS);
	gp_set_hook(on_reply);
	memset(gen_seen, 0, sizeof(gen_seen));
	nmembers = 0;
	FUZZ_CHECK(gp_open(dir, RETENTION_MS, NULL) == 0);

	struct fz_reader r;
	fz_init(&r, data, size);
	for (unsigned i = 0; i < STEPS_MAX && fz_left(&r) > 0; i++)
		step(&r);

	/* past every timeout the program could set (the largest session
	 * timeout accepted, 30 min, and rebalance timeout, 60 s, twice):
	 * no request of a live connection is left unanswered */
	gp_advance(2 * SL_GROUPS_SESSION_TIMEOUT_MAX_MS + 120000);
	gp_advance(2 * SL_GROUPS_SESSION_TIMEOUT_MAX_MS + 120000);
	gp_set_hook(NULL);
	uint64_t tok;
	union kc_request none;
	memset(&none, 0, sizeof(none));
	FUZZ_CHECK(gp_send(0, KC_API_LIST_GROUPS, 2, &none, &tok) == 0);
	for (uint64_t s = 1; s <= (uint32_t)tok; s++)
		if (!gp_answered(s))
			fprintf(stderr, "request %llu never answered\n",
				(unsigned long long)s);
	for (uint64_t s = 1; s <= (uint32_t)tok; s++)
		FUZZ_CHECK(gp_answered(s));
	restart();
	gp_close();
	return 0;
}
