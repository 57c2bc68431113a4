/*
 * The consumer group coordinator (groups.h has the contract).
 *
 * Happy path of a group: the first JoinGroup (v4+: after MEMBER_ID_REQUIRED
 * handed it a member id) creates the group in Empty and moves it to
 * PreparingRebalance with the initial delay; members that join during the
 * delay extend it (SL_GROUPS_INITIAL_DELAY_MS at a time, up to the rebalance
 * timeout).  When the delay ends, or later when every member has (re)joined
 * and no MEMBER_ID_REQUIRED answer is outstanding, the join completes: the
 * generation goes up, the protocol is chosen by vote among those every
 * member supports, every waiting JoinGroup is answered (the leader's with
 * the member list and metadata) and the group is CompletingRebalance.  The
 * leader's SyncGroup carries the assignments: every waiting SyncGroup is
 * answered with its own and the group is Stable.  Heartbeats keep members;
 * any join of a new member, a leader's rejoin, changed protocols, a leave
 * or an expired session starts the next rebalance (PreparingRebalance,
 * waiting at most the largest rebalance timeout of the members).
 *
 * Failure modes: a member whose session expires (no heartbeat, no join or
 * sync pending) is removed and the group rebalances; a member that does not
 * rejoin before the rebalance timeout is removed when the join completes; a
 * SyncGroup waiting when a new rebalance starts is answered
 * REBALANCE_IN_PROGRESS; a JoinGroup or SyncGroup superseded by another from
 * the same member is answered REBALANCE_IN_PROGRESS; the reply of a
 * requester that went away (sl_groups_drop_conn) is dropped and its member
 * stays until it rejoins or expires.  Bad input is answered with a Kafka
 * error code, never asserted on.
 *
 * Committed offsets are the table of commits.c (commits.h; the file format
 * is in offsets.c), one set per group: this file decides what goes in and
 * when a group's offsets expire, and makes a batch of records durable
 * before memory changes: an OffsetCommit's records before its reply
 * (one write and one fdatasync per request), DeleteGroups' tombstones
 * before the groups are forgotten, expiry's tombstones before the offsets
 * are; a group's becoming Empty appends a state record (when it did); the
 * table is compacted after each change once it is due.  After the load, a
 * group whose state says -1 (it had members when the coordinator stopped)
 * became Empty now; a version 1 file (commit times read as now) is
 * rewritten before the open returns.  A failed append is answered
 * KAFKA_STORAGE_ERROR (a DeleteGroups: the same; an expiry: tried again a
 * second later); while the store is broken (what is on disk is unknown)
 * every later commit or delete is refused with KAFKA_STORAGE_ERROR and
 * nothing expires until the coordinator is reopened (which reads back
 * what survived).
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/commits.h"
#include "control/consumer_group.h"
#include "control/groups.h"
#include "control/offsets.h"
#include "proto/kafka/kcodec.h"
#include "proto/topic_uuid.h"
#include "storage/disk.h"
#include "storage/log.h" /* struct sl_clock */

/* ---- limits of what is kept ---- */

#define CLIENT_ID_IN_MEMBER_ID_MAX 64
#define MEMBER_ID_MAX 128 /* "<client id>-<open ms>-<sequence>" */
#define ARENA_BYTES (1u << 20)
/* Group operations a DescribeGroups v3+ reports when asked: READ (3),
 * DELETE (6), DESCRIBE (8); there are no ACLs, so all of them. */
#define GROUP_OPERATIONS ((1 << 3) | (1 << 6) | (1 << 8))
/* The leader's JoinGroup response without its member list, at most. */
#define JOIN_RESP_FIXED_MAX (4 + 4 + 2 + 4 + (2 + SL_GROUPS_NAME_MAX) + \
			     2 * (2 + MEMBER_ID_MAX) + 4)

#define ERR_NONE 0
#define ERR_UNSTABLE_OFFSET_COMMIT 88 /* require_stable: a transaction's */
#define ERR_UNKNOWN_TOPIC_ID 100       /* v10: no topic has the id */
#define EXPIRY_RETRY_MS 1000  /* after a failed tombstone append */

enum gstate { ST_EMPTY, ST_PREPARING, ST_COMPLETING, ST_STABLE };
static const char *const state_names[] = {
	"Empty", "PreparingRebalance", "CompletingRebalance", "Stable",
};
_Static_assert(sizeof(state_names) / sizeof(state_names[0]) == ST_STABLE + 1,
	       "a name per state");
#define DEAD_NAME "Dead" /* DescribeGroups of a group that does not exist */

/* A request: where and how to answer it. */
struct req {
	uint64_t token;
	int16_t key;
	int16_t version;
	int32_t corr;
	struct kc_str client_id;
};

/* A JoinGroup or SyncGroup waiting for its answer. */
struct wait {
	bool active;    /* false: none, or its requester went away */
	int16_t version;
	int32_t corr;
	uint64_t token;
};

struct protocol {
	uint32_t name_off;  /* in member.blob */
	uint16_t name_len;
	uint32_t meta_off;  /* in member.blob */
	uint32_t meta_len;
};

struct member {
	char id[MEMBER_ID_MAX];
	uint16_t id_len;
	int16_t instance_len;          /* -1: no group instance id */
	char instance[SL_GROUPS_NAME_MAX];
	uint16_t client_id_len;
	char client_id[SL_GROUPS_NAME_MAX]; /* truncated */
	int32_t session_timeout_ms;
	int32_t rebalance_timeout_ms;
	int64_t expires_ms;            /* last heartbeat + session timeout */
	bool awaiting_join;            /* joined the current rebalance */
	struct wait join, sync;
	uint32_t nprotocols;
	struct protocol protocols[SL_GROUPS_PROTOCOLS_MAX];
	uint8_t *blob;                 /* protocol names and metadata */
	size_t join_bytes;             /* its largest entry in the leader's
					  JoinGroup response */
	uint8_t *assignment;           /* NULL when empty */
	uint32_t assignment_len;
};

struct pending {                       /* told MEMBER_ID_REQUIRED */
	char id[MEMBER_ID_MAX];
	uint16_t id_len;
	int64_t expires_ms;
};

struct group {
	bool used;
	uint16_t id_len;
	char id[SL_GROUPS_NAME_MAX];
	enum gstate state;
	int32_t generation;
	int16_t type_len;              /* protocol type; -1: none yet */
	char type[SL_GROUPS_NAME_MAX];
	int16_t protocol_len;          /* chosen protocol; -1: none */
	char protocol[SL_GROUPS_NAME_MAX];
	struct member **members;       /* join order */
	uint32_t nmembers, members_cap;
	struct member *leader;         /* NULL when no members */
	size_t join_bytes;             /* sum of members' join_bytes */
	struct pending *pending;
	uint32_t npending, pending_cap;
	/* PreparingRebalance */
	int64_t join_deadline_ms;
	bool initial;                  /* in the initial delay */
	bool new_member_added;         /* during this stretch of it */
	int64_t initial_left_ms;       /* rebalance time left after it */
	struct sl_commit_set commits;  /* its committed offsets */
	/* expiry; a group with type_len >= 0 has had members */
	int64_t empty_ms;              /* wall ms it last became Empty */
	bool deleting;                 /* named in this DeleteGroups */
	/* a consumer group (KIP-848), or NULL for a classic one; its classic
	 * state stays Empty */
	struct sl_cgroup *cg;
};

struct sl_groups {
	sl_groups_reply_fn reply;
	void *ctx;
	struct sl_commits commits;     /* every group's committed offsets */
	const struct sl_clock *clock;  /* wall_ms: commit times, expiry */
	int64_t expiry_ms;             /* wall ms of the next expiry scan;
					  INT64_MAX: nothing can expire */
	int64_t load_wall_ms;          /* wall ms at the open */
	int64_t open_ms;
	uint64_t member_seq;
	struct sl_cg_env cg_env;       /* what every consumer group shares */
	uint32_t ngroups;
	struct group *groups;          /* SL_GROUPS_MAX slots */
	struct kc_arena in;            /* decoded requests */
	struct kc_arena build;         /* arrays of responses being built */
	sl_groups_pending_fn pending;  /* transactional offsets not yet
					  committed (require_stable) */
	sl_groups_topic_name_fn topic_name; /* v10 topic ids; topic_ctx */
	void *pending_ctx;
	int16_t (*coordinates)(void *, const char *, size_t); /* cfg's */
	void *coordinates_ctx;
	uint8_t out[SL_GROUPS_MAX_RESPONSE];
};

/* ---- small helpers ---- */

static struct kc_str str_of(const char *p, size_t len)
{
	assert(len <= INT16_MAX);
	return (struct kc_str){p, (int32_t)len};
}

static const struct kc_str empty_str = {"", 0};
static const struct kc_str null_str = {NULL, -1};

/* 0 when this broker coordinates group id, else the error to answer
 * (struct sl_groups_config coordinates); an id that is not valid is
 * answered as the API answers it. */
static int16_t mine(const struct sl_groups *g, struct kc_str id)
{
	return !g->coordinates || id.len <= 0 ? 0 :
	       g->coordinates(g->coordinates_ctx, id.ptr, (size_t)id.len);
}

static bool bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b,
		     size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static size_t str_len(struct kc_str s)
{
	return s.len > 0 ? (size_t)s.len : 0;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static int64_t wall_now(const struct sl_groups *g)
{
	return g->clock->wall_ms(g->clock->ctx);
}

/* Something may expire at wall ms at: scan no later than that. */
static void note_expiry(struct sl_groups *g, int64_t at)
{
	g->expiry_ms = min64(g->expiry_ms, at);
}

/* ---- answering ---- */

/* Encode body as the response to rq into g->out: its length, or -EMSGSIZE
 * when longer than SL_GROUPS_MAX_RESPONSE. */
static long encode(struct sl_groups *g, const struct req *rq, const void *body)
{
	struct kc_response_header h = {rq->corr};
	long n = kc_encode_response(rq->key, rq->version, &h,
				    (const union kc_response *)body, g->out,
				    sizeof(g->out));
	if (n == -ENOBUFS)
		return -EMSGSIZE;
	/* -EINVAL would be a response this module built wrong */
	assert(n > 0 && n <= (long)sizeof(g->out));
	return n;
}

static void deliver(struct sl_groups *g, const struct req *rq, long n)
{
	assert(n > 0 && (size_t)n <= sizeof(g->out));
	g->reply(g->ctx, rq->token, g->out, (size_t)n);
}

static int send_body(struct sl_groups *g, const struct req *rq,
		     const void *body)
{
	long n = encode(g, rq, body);
	if (n < 0)
		return (int)n;
	deliver(g, rq, n);
	return 0;
}

static struct req req_of_wait(const struct wait *w, int16_t key)
{
	return (struct req){w->token, key, w->version, w->corr, {NULL, -1}};
}

/*
 * The API's response carrying error code alone: every array empty, except
 * that OffsetCommit and OffsetFetch v1 list the partitions of the request q
 * (which they need) and DescribeGroups the group ids of q (when given) with
 * the code.  Returns 0, or -EMSGSIZE when even that does not fit
 * (OffsetCommit and OffsetFetch v1 only: the others are small).
 */
static int send_error(struct sl_groups *g, const struct req *rq,
		      const void *q, int16_t code)
{
	union kc_response u;
	kc_response_init(&u, rq->key);
	g->build.used = 0;
	switch (rq->key) {
	case KC_API_OFFSET_COMMIT: {
		const struct kc_offset_commit_req *c = q;
		assert(c);
		struct kc_offset_commit_resp *r = (void *)u.raw;
		int32_t nt = c->topics.count > 0 ? c->topics.count : 0;
		const struct kc_offset_commit_req_topic *qt = c->topics.items;
		struct kc_offset_commit_resp_topic *rt =
			kc_arena_take(&g->build, (size_t)nt, sizeof(*rt));
		if (nt && !rt)
			return -EMSGSIZE;
		for (int32_t i = 0; i < nt; i++) {
			int32_t np = qt[i].partitions.count > 0 ?
				     qt[i].partitions.count : 0;
			const struct kc_offset_commit_req_partition *qp =
				qt[i].partitions.items;
			struct kc_offset_commit_resp_partition *rp =
				kc_arena_take(&g->build, (size_t)np, sizeof(*rp));
			if (np && !rp)
				return -EMSGSIZE;
			/* an unknown topic id is answered before the group
			 * is looked at (Kafka's KafkaApis) */
			int16_t pc = rq->version >= 10 && qt[i].name.len < 0 ?
				     ERR_UNKNOWN_TOPIC_ID : code;
			for (int32_t j = 0; j < np; j++)
				rp[j] = (struct kc_offset_commit_resp_partition){
					qp[j].partition_index, pc};
			rt[i].name = qt[i].name;
			rt[i].topic_id = qt[i].topic_id;
			rt[i].partitions = (struct kc_array){rp, np};
		}
		r->topics = (struct kc_array){rt, nt};
		break;
	}
	case KC_API_OFFSET_FETCH: {
		const struct kc_offset_fetch_req *f = q;
		struct kc_offset_fetch_resp *r = (void *)u.raw;
		r->error_code = code;
		if (rq->version >= 8) { /* the code per group asked about */
			int32_t n = f && f->groups.count > 0 ?
				    f->groups.count : 0;
			const struct kc_offset_fetch_req_group *qg =
				f ? f->groups.items : NULL;
			struct kc_offset_fetch_resp_group *rg =
				kc_arena_take(&g->build, (size_t)n, sizeof(*rg));
			if (n && !rg)
				return -EMSGSIZE;
			for (int32_t i = 0; i < n; i++)
				rg[i] = (struct kc_offset_fetch_resp_group){
					qg[i].group_id, {NULL, 0}, code};
			r->groups = (struct kc_array){rg, n};
			break;
		}
		if (rq->version >= 2 || !f || f->topics.count <= 0)
			break;
		int32_t nt = f->topics.count;
		const struct kc_offset_fetch_req_topic *qt = f->topics.items;
		struct kc_offset_fetch_resp_topic *rt =
			kc_arena_take(&g->build, (size_t)nt, sizeof(*rt));
		if (!rt)
			return -EMSGSIZE;
		for (int32_t i = 0; i < nt; i++) {
			int32_t np = qt[i].partition_indexes.count > 0 ?
				     qt[i].partition_indexes.count : 0;
			const int32_t *qp = qt[i].partition_indexes.items;
			struct kc_offset_fetch_resp_partition *rp =
				kc_arena_take(&g->build, (size_t)np, sizeof(*rp));
			if (np && !rp)
				return -EMSGSIZE;
			for (int32_t j = 0; j < np; j++)
				rp[j] = (struct kc_offset_fetch_resp_partition){
					qp[j], -1, -1, empty_str, code};
			rt[i].name = qt[i].name;
			rt[i].partitions = (struct kc_array){rp, np};
		}
		r->topics = (struct kc_array){rt, nt};
		break;
	}
	case KC_API_JOIN_GROUP: {
		struct kc_join_group_resp *r = (void *)u.raw;
		r->error_code = code;
		r->generation_id = -1;
		/* null from v7 (Kafka's JoinGroupResult of an error) */
		r->protocol_name = rq->version >= 7 ? null_str : empty_str;
		r->leader = empty_str;
		r->member_id = empty_str;
		break;
	}
	case KC_API_HEARTBEAT:
		((struct kc_heartbeat_resp *)(void *)u.raw)->error_code = code;
		break;
	case KC_API_LEAVE_GROUP:
		((struct kc_leave_group_resp *)(void *)u.raw)->error_code = code;
		break;
	case KC_API_SYNC_GROUP: {
		struct kc_sync_group_resp *r = (void *)u.raw;
		r->error_code = code;
		r->assignment = (struct kc_bytes){NULL, 0};
		break;
	}
	case KC_API_DESCRIBE_GROUPS: {
		const struct kc_describe_groups_req *d = q;
		struct kc_describe_groups_resp *r = (void *)u.raw;
		int32_t n = d && d->groups.count > 0 ? d->groups.count : 0;
		const struct kc_str *ids = d ? d->groups.items : NULL;
		struct kc_described_group *rg =
			kc_arena_take(&g->build, (size_t)n, sizeof(*rg));
		if (n && !rg)
			n = 0;
		for (int32_t i = 0; i < n; i++)
			rg[i] = (struct kc_described_group){
				.error_code = code, .error_message = null_str,
				.group_id = ids[i],
				.group_state = empty_str,
				.protocol_type = empty_str,
				.protocol_data = empty_str,
				.authorized_operations = INT32_MIN};
		r->groups = (struct kc_array){rg, n};
		break;
	}
	case KC_API_LIST_GROUPS:
		((struct kc_list_groups_resp *)(void *)u.raw)->error_code = code;
		break;
	case KC_API_OFFSET_DELETE:
		((struct kc_offset_delete_resp *)(void *)u.raw)->error_code = code;
		break;
	case KC_API_CONSUMER_GROUP_HEARTBEAT:
		((struct kc_consumer_group_heartbeat_resp *)(void *)u.raw)
			->error_code = code;
		break;
	case KC_API_CONSUMER_GROUP_DESCRIBE: {
		const struct kc_consumer_group_describe_req *d = q;
		struct kc_consumer_group_describe_resp *r = (void *)u.raw;
		int32_t n = d && d->group_ids.count > 0 ? d->group_ids.count : 0;
		const struct kc_str *ids = d ? d->group_ids.items : NULL;
		struct kc_consumer_group_describe_resp_described_group *rg =
			kc_arena_take(&g->build, (size_t)n, sizeof(*rg));
		if (n && !rg)
			n = 0;
		for (int32_t i = 0; i < n; i++)
			rg[i] = (struct kc_consumer_group_describe_resp_described_group){
				.error_code = code, .error_message = null_str,
				.group_id = ids[i], .group_state = empty_str,
				.assignor_name = empty_str,
				.authorized_operations = INT32_MIN};
		r->groups = (struct kc_array){rg, n};
		break;
	}
	default:
		assert(!"not a group API");
	}
	int rc = send_body(g, rq, u.raw);
	if (rc == -EMSGSIZE && rq->key == KC_API_DESCRIBE_GROUPS) {
		/* too many group ids to echo (there is no top-level error) */
		((struct kc_describe_groups_resp *)(void *)u.raw)->groups =
			(struct kc_array){NULL, 0};
		rc = send_body(g, rq, u.raw);
	}
	if (rc == -EMSGSIZE && rq->key == KC_API_CONSUMER_GROUP_DESCRIBE) {
		((struct kc_consumer_group_describe_resp *)(void *)u.raw)->groups =
			(struct kc_array){NULL, 0};
		rc = send_body(g, rq, u.raw);
	}
	assert(rc == 0 || rq->key == KC_API_OFFSET_COMMIT ||
	       rq->key == KC_API_OFFSET_FETCH ||
	       rq->key == KC_API_OFFSET_DELETE);
	return rc;
}

static void wait_error(struct sl_groups *g, struct wait *w, int16_t key,
		       int16_t code)
{
	if (!w->active)
		return;
	struct req rq = req_of_wait(w, key);
	w->active = false;
	int rc = send_error(g, &rq, NULL, code);
	assert(rc == 0);
	(void)rc;
}

/* ---- groups, members, offsets in memory ---- */

static struct group *group_find(struct sl_groups *g, const char *id,
				size_t len)
{
	if (len == 0 || len > SL_GROUPS_NAME_MAX)
		return NULL;
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		struct group *gr = &g->groups[i];
		if (gr->used && gr->id_len == len && !memcmp(gr->id, id, len))
			return gr;
	}
	return NULL;
}

static struct group *group_create(struct sl_groups *g, const char *id,
				  size_t len)
{
	assert(len > 0 && len <= SL_GROUPS_NAME_MAX);
	if (g->ngroups >= SL_GROUPS_MAX)
		return NULL;
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		struct group *gr = &g->groups[i];
		if (gr->used)
			continue;
		memset(gr, 0, sizeof(*gr));
		gr->used = true;
		gr->id_len = (uint16_t)len;
		memcpy(gr->id, id, len);
		gr->state = ST_EMPTY;
		gr->type_len = -1;
		gr->protocol_len = -1;
		gr->empty_ms = -1;
		sl_commit_set_init(&gr->commits, gr->id, len);
		g->ngroups++;
		return gr;
	}
	assert(!"ngroups out of step with the slots");
	return NULL;
}

static void member_free(struct member *m)
{
	if (!m)
		return;
	free(m->blob);
	free(m->assignment);
	free(m);
}

static void group_free(struct sl_groups *g, struct group *gr)
{
	assert(gr->used);
	for (uint32_t i = 0; i < gr->nmembers; i++)
		member_free(gr->members[i]);
	free(gr->members);
	free(gr->pending);
	sl_cg_destroy(gr->cg);
	sl_commits_drop(&g->commits, &gr->commits);
	assert(g->ngroups > 0);
	g->ngroups--;
	memset(gr, 0, sizeof(*gr));
}

/* Whether gr has members of either protocol (else it is Empty). */
static bool has_members(const struct group *gr)
{
	return gr->state != ST_EMPTY || (gr->cg && sl_cg_members(gr->cg));
}

/* Forget groups nothing refers to any more. */
static void groups_sweep(struct sl_groups *g)
{
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		struct group *gr = &g->groups[i];
		if (gr->used && !has_members(gr) && gr->nmembers == 0 &&
		    gr->npending == 0 && gr->commits.n == 0)
			group_free(g, gr);
	}
}

/* gr's last member left: its offsets expire retention from now. */
static void became_empty(struct sl_groups *g, struct group *gr)
{
	gr->empty_ms = wall_now(g);
	if (gr->commits.n)
		note_expiry(g, sl_commits_expires_at(&g->commits, gr->empty_ms));
}

static struct member *member_find(struct group *gr, struct kc_str id)
{
	for (uint32_t i = 0; i < gr->nmembers; i++)
		if (kc_str_is(id, gr->members[i]->id, gr->members[i]->id_len))
			return gr->members[i];
	return NULL;
}

static struct member *member_find_instance(struct group *gr,
					   struct kc_str instance)
{
	if (instance.len < 0)
		return NULL;
	for (uint32_t i = 0; i < gr->nmembers; i++) {
		struct member *m = gr->members[i];
		if (m->instance_len >= 0 &&
		    kc_str_is(instance, m->instance, (size_t)m->instance_len))
			return m;
	}
	return NULL;
}

static int32_t pending_find(struct group *gr, struct kc_str id)
{
	for (uint32_t i = 0; i < gr->npending; i++)
		if (kc_str_is(id, gr->pending[i].id, gr->pending[i].id_len))
			return (int32_t)i;
	return -1;
}

static void pending_remove(struct group *gr, uint32_t i)
{
	assert(i < gr->npending);
	memmove(&gr->pending[i], &gr->pending[i + 1],
		(gr->npending - i - 1) * sizeof(gr->pending[0]));
	gr->npending--;
}

static const struct protocol *member_protocol(const struct member *m,
					      const char *name, size_t len)
{
	for (uint32_t i = 0; i < m->nprotocols; i++) {
		const struct protocol *p = &m->protocols[i];
		if (p->name_len == len &&
		    !memcmp(m->blob + p->name_off, name, len))
			return p;
	}
	return NULL;
}

static bool all_support(const struct group *gr, const struct member *self,
			const char *name, size_t len)
{
	for (uint32_t i = 0; i < gr->nmembers; i++)
		if (gr->members[i] != self &&
		    !member_protocol(gr->members[i], name, len))
			return false;
	return true;
}

/* Kafka's supportsProtocols: a protocol type and at least one protocol,
 * and when there are other members, the same type and one protocol that
 * all of them support. */
static bool protocols_ok(const struct group *gr, const struct member *self,
			 const struct kc_join_group_req *q)
{
	if (q->protocol_type.len <= 0 || q->protocols.count <= 0)
		return false;
	bool others = gr->nmembers > (self ? 1u : 0u);
	if (!others)
		return true;
	if (gr->type_len < 0 ||
	    !kc_str_is(q->protocol_type, gr->type, (size_t)gr->type_len))
		return false;
	const struct kc_join_group_req_protocol *p = q->protocols.items;
	for (int32_t i = 0; i < q->protocols.count; i++)
		if (all_support(gr, self, p[i].name.ptr, str_len(p[i].name)))
			return true;
	return false;
}

static bool same_protocols(const struct member *m,
			   const struct kc_join_group_req *q)
{
	const struct kc_join_group_req_protocol *p = q->protocols.items;
	if ((int64_t)m->nprotocols != q->protocols.count)
		return false;
	for (uint32_t i = 0; i < m->nprotocols; i++) {
		const struct protocol *mp = &m->protocols[i];
		if (!kc_str_is(p[i].name, (const char *)m->blob + mp->name_off,
			    mp->name_len) ||
		    !bytes_eq(p[i].metadata.ptr, (size_t)p[i].metadata.len,
			      m->blob + mp->meta_off, mp->meta_len))
			return false;
	}
	return true;
}

/* The bytes a member takes in the leader's JoinGroup response, at most. */
static size_t join_bytes_of(size_t id_len, struct kc_str instance,
			    const struct kc_join_group_req *q)
{
	size_t meta_max = 0;
	const struct kc_join_group_req_protocol *p = q->protocols.items;
	for (int32_t i = 0; i < q->protocols.count; i++)
		if ((size_t)p[i].metadata.len > meta_max)
			meta_max = (size_t)p[i].metadata.len;
	return 2 + id_len + 2 + str_len(instance) + 4 + meta_max;
}

/* Copy what q says about the member into m (protocols, timeouts, client id,
 * instance id).  Returns 0 or -ENOMEM (m unchanged). */
static int member_update(struct member *m, const struct req *rq,
			 const struct kc_join_group_req *q,
			 int32_t rebalance_timeout_ms)
{
	const struct kc_join_group_req_protocol *p = q->protocols.items;
	size_t bytes = 0;
	assert(q->protocols.count > 0 &&
	       q->protocols.count <= SL_GROUPS_PROTOCOLS_MAX);
	for (int32_t i = 0; i < q->protocols.count; i++)
		bytes += str_len(p[i].name) + (size_t)p[i].metadata.len;
	uint8_t *blob = malloc(bytes ? bytes : 1);
	if (!blob)
		return -ENOMEM;
	size_t off = 0;
	for (int32_t i = 0; i < q->protocols.count; i++) {
		struct protocol *mp = &m->protocols[i];
		mp->name_off = (uint32_t)off;
		mp->name_len = (uint16_t)str_len(p[i].name);
		memcpy(blob + off, p[i].name.ptr, mp->name_len);
		off += mp->name_len;
		mp->meta_off = (uint32_t)off;
		mp->meta_len = (uint32_t)p[i].metadata.len;
		if (mp->meta_len)
			memcpy(blob + off, p[i].metadata.ptr, mp->meta_len);
		off += mp->meta_len;
	}
	assert(off == bytes);
	free(m->blob);
	m->blob = blob;
	m->nprotocols = (uint32_t)q->protocols.count;
	m->session_timeout_ms = q->session_timeout_ms;
	m->rebalance_timeout_ms = rebalance_timeout_ms;
	m->instance_len = (int16_t)q->group_instance_id.len;
	if (q->group_instance_id.len > 0)
		memcpy(m->instance, q->group_instance_id.ptr,
		       (size_t)q->group_instance_id.len);
	size_t cl = str_len(rq->client_id);
	m->client_id_len = (uint16_t)(cl < SL_GROUPS_NAME_MAX ? cl :
				      SL_GROUPS_NAME_MAX);
	if (m->client_id_len)
		memcpy(m->client_id, rq->client_id.ptr, m->client_id_len);
	m->join_bytes = join_bytes_of(m->id_len, q->group_instance_id, q);
	return 0;
}

static void member_remove(struct sl_groups *g, struct group *gr,
			  struct member *m)
{
	uint32_t i = 0;
	while (i < gr->nmembers && gr->members[i] != m)
		i++;
	assert(i < gr->nmembers);
	wait_error(g, &m->join, KC_API_JOIN_GROUP, KC_ERR_UNKNOWN_MEMBER_ID);
	wait_error(g, &m->sync, KC_API_SYNC_GROUP, KC_ERR_UNKNOWN_MEMBER_ID);
	memmove(&gr->members[i], &gr->members[i + 1],
		(gr->nmembers - i - 1) * sizeof(gr->members[0]));
	gr->nmembers--;
	assert(gr->join_bytes >= m->join_bytes);
	gr->join_bytes -= m->join_bytes;
	if (gr->leader == m)
		gr->leader = gr->nmembers ? gr->members[0] : NULL;
	member_free(m);
}

/* ---- the offsets table ---- */

/* The table's open: a record of the file for the group it names (the
 * rules at the top of commits.c); a group that has had members says so by
 * its state records.  Returns 0, -ENOMEM or -EOVERFLOW (the limits). */
static int apply_record(void *arg, const struct sl_offsets_rec *r)
{
	struct sl_groups *g = arg;
	struct group *gr = group_find(g, r->group, r->group_len);
	if (!gr && (r->type == SL_OFFSETS_EXPIRE ||
		    r->type == SL_OFFSETS_DELETE))
		return 0; /* nothing to remove */
	if (!gr && !(gr = group_create(g, r->group, r->group_len)))
		return -EOVERFLOW;
	switch (r->type) {
	case SL_OFFSETS_COMMIT:
	case SL_OFFSETS_EXPIRE:
		return sl_commits_replay(&g->commits, &gr->commits, r);
	case SL_OFFSETS_STATE:
		if (gr->type_len < 0)
			gr->type_len = 0; /* had members; the type is not kept */
		return sl_commits_replay(&g->commits, &gr->commits, r);
	case SL_OFFSETS_DELETE:
		group_free(g, gr);
		return 0;
	}
	assert(!"the store let an unknown type through");
	return -EINVAL;
}

/* Rewrite the table's file with what is live, group by group.  Returns 0
 * or -errno (offsets.h: the old file stays, or the store is broken). */
static int compact(struct sl_groups *g)
{
	sl_commits_rewrite_begin(&g->commits);
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		const struct group *gr = &g->groups[i];
		if (gr->used)
			sl_commits_rewrite_add(&g->commits, &gr->commits);
	}
	return sl_commits_rewrite_end(&g->commits);
}

static void maybe_compact(struct sl_groups *g)
{
	if (sl_commits_compact_due(&g->commits))
		(void)compact(g); /* on failure the store says when again */
}

/* ---- rebalancing ---- */

static int32_t group_rebalance_timeout(const struct group *gr)
{
	int32_t t = 0;
	for (uint32_t i = 0; i < gr->nmembers; i++)
		if (gr->members[i]->rebalance_timeout_ms > t)
			t = gr->members[i]->rebalance_timeout_ms;
	return t;
}

static void prepare_rebalance(struct sl_groups *g, struct group *gr,
			      int64_t now_ms)
{
	assert(gr->state != ST_PREPARING);
	if (gr->state == ST_COMPLETING)
		for (uint32_t i = 0; i < gr->nmembers; i++)
			wait_error(g, &gr->members[i]->sync, KC_API_SYNC_GROUP,
				   KC_ERR_REBALANCE_IN_PROGRESS);
	for (uint32_t i = 0; i < gr->nmembers; i++) {
		struct member *m = gr->members[i];
		free(m->assignment);
		m->assignment = NULL;
		m->assignment_len = 0;
	}
	int64_t timeout_ms = group_rebalance_timeout(gr);
	if (gr->state == ST_EMPTY) {
		gr->initial = true;
		gr->new_member_added = false;
		gr->initial_left_ms = max64(timeout_ms -
					    SL_GROUPS_INITIAL_DELAY_MS, 0);
		gr->join_deadline_ms = now_ms + SL_GROUPS_INITIAL_DELAY_MS;
	} else {
		gr->initial = false;
		gr->join_deadline_ms = now_ms + timeout_ms;
	}
	gr->state = ST_PREPARING;
}

/* Kafka's vote: among the protocols every member supports, each member
 * votes for the first in its own order; most votes wins, ties going to the
 * leader's order.  O(members x protocols^2). */
static void select_protocol(struct group *gr)
{
	const struct member *l = gr->leader;
	bool common[SL_GROUPS_PROTOCOLS_MAX];
	uint32_t votes[SL_GROUPS_PROTOCOLS_MAX] = {0};
	assert(l && gr->nmembers > 0 && l->nprotocols <= SL_GROUPS_PROTOCOLS_MAX);
	for (uint32_t c = 0; c < l->nprotocols; c++) {
		const struct protocol *cp = &l->protocols[c];
		common[c] = all_support(gr, NULL, (const char *)l->blob +
					cp->name_off, cp->name_len);
	}
	for (uint32_t i = 0; i < gr->nmembers; i++) {
		const struct member *m = gr->members[i];
		bool voted = false;
		for (uint32_t k = 0; k < m->nprotocols && !voted; k++) {
			const struct protocol *mp = &m->protocols[k];
			for (uint32_t c = 0; c < l->nprotocols; c++) {
				const struct protocol *cp = &l->protocols[c];
				if (common[c] && mp->name_len == cp->name_len &&
				    !memcmp(m->blob + mp->name_off,
					    l->blob + cp->name_off,
					    cp->name_len)) {
					votes[c]++;
					voted = true;
					break;
				}
			}
		}
		assert(voted); /* a common protocol is one of m's */
	}
	uint32_t best = UINT32_MAX;
	for (uint32_t c = 0; c < l->nprotocols; c++)
		if (common[c] && (best == UINT32_MAX || votes[c] > votes[best]))
			best = c;
	/* every join checked that a common protocol exists */
	assert(best != UINT32_MAX);
	const struct protocol *bp = &l->protocols[best];
	gr->protocol_len = (int16_t)bp->name_len;
	memcpy(gr->protocol, l->blob + bp->name_off, bp->name_len);
}

/* Answer m's JoinGroup (w) with the current generation; the leader's
 * answer lists every member with its metadata for the chosen protocol. */
static void send_join(struct sl_groups *g, struct group *gr, struct member *m,
		      struct wait *w)
{
	union kc_response u;
	struct kc_join_group_resp *r = (void *)u.raw;
	struct req rq = req_of_wait(w, KC_API_JOIN_GROUP);
	assert(w->active && gr->leader && gr->protocol_len >= 0);
	w->active = false;
	kc_response_init(&u, KC_API_JOIN_GROUP);
	g->build.used = 0;
	r->generation_id = gr->generation;
	if (gr->type_len >= 0) /* v7+; skip_assignment stays false (v9+):
				  static members are handled as dynamic */
		r->protocol_type = str_of(gr->type, (size_t)gr->type_len);
	r->protocol_name = str_of(gr->protocol, (size_t)gr->protocol_len);
	r->leader = str_of(gr->leader->id, gr->leader->id_len);
	r->member_id = str_of(m->id, m->id_len);
	if (m == gr->leader) {
		struct kc_join_group_resp_member *rm =
			kc_arena_take(&g->build, gr->nmembers, sizeof(*rm));
		assert(rm); /* the arena holds far more than a response */
		for (uint32_t i = 0; i < gr->nmembers; i++) {
			const struct member *o = gr->members[i];
			const struct protocol *p = member_protocol(
				o, gr->protocol, (size_t)gr->protocol_len);
			assert(p);
			rm[i].member_id = str_of(o->id, o->id_len);
			rm[i].group_instance_id = o->instance_len < 0 ? null_str :
				str_of(o->instance, (size_t)o->instance_len);
			rm[i].metadata = (struct kc_bytes){o->blob + p->meta_off,
							   (int32_t)p->meta_len};
		}
		r->members = (struct kc_array){rm, (int32_t)gr->nmembers};
	}
	if (send_body(g, &rq, r) == -EMSGSIZE) /* joins kept it within */
		send_error(g, &rq, NULL, KC_ERR_GROUP_MAX_SIZE_REACHED);
}

static void complete_join(struct sl_groups *g, struct group *gr,
			  int64_t now_ms)
{
	assert(gr->state == ST_PREPARING);
	for (uint32_t i = gr->nmembers; i-- > 0;)
		if (!gr->members[i]->awaiting_join)
			member_remove(g, gr, gr->members[i]);
	gr->initial = false;
	gr->generation++;
	if (gr->nmembers == 0) {
		gr->state = ST_EMPTY;
		gr->protocol_len = -1;
		gr->empty_ms = wall_now(g);
		if (gr->commits.n)
			note_expiry(g, sl_commits_expires_at(&g->commits,
							     gr->empty_ms));
		return;
	}
	gr->state = ST_COMPLETING;
	select_protocol(gr);
	for (uint32_t i = 0; i < gr->nmembers; i++) {
		struct member *m = gr->members[i];
		m->awaiting_join = false;
		m->expires_ms = now_ms + m->session_timeout_ms;
		if (m->join.active)
			send_join(g, gr, m, &m->join);
	}
}

static void try_complete_join(struct sl_groups *g, struct group *gr,
			      int64_t now_ms)
{
	if (gr->state != ST_PREPARING || gr->initial || gr->npending)
		return;
	for (uint32_t i = 0; i < gr->nmembers; i++)
		if (!gr->members[i]->awaiting_join)
			return;
	complete_join(g, gr, now_ms);
}

/* After members left (leave, expiry): the group rebalances. */
static void members_left(struct sl_groups *g, struct group *gr, int64_t now_ms)
{
	if (gr->state == ST_STABLE || gr->state == ST_COMPLETING)
		prepare_rebalance(g, gr, now_ms);
	try_complete_join(g, gr, now_ms);
}

static void join_deadline(struct sl_groups *g, struct group *gr,
			  int64_t now_ms)
{
	if (gr->initial && gr->new_member_added && gr->initial_left_ms > 0) {
		int64_t delay = min64(SL_GROUPS_INITIAL_DELAY_MS,
				      gr->initial_left_ms);
		gr->initial_left_ms -= delay;
		gr->new_member_added = false;
		gr->join_deadline_ms = now_ms + delay;
		return;
	}
	complete_join(g, gr, now_ms);
}

/* ---- expiry and the groups' state on disk ---- */

/* What the file should say about gr (a state record's value, see the
 * format): nothing for a group that never had members or holds no offsets
 * (whatever it says now stays), else when it became Empty, or -1 while it
 * has members. */
static int64_t state_wanted(const struct group *gr)
{
	if (gr->type_len < 0 || gr->commits.n == 0)
		return gr->commits.logged_ms;
	return !has_members(gr) ? gr->empty_ms : -1;
}

/* Write the state records that state_wanted() asks for, durable together;
 * on failure memory keeps what the file says, and the next call tries
 * again. */
static void log_states(struct sl_groups *g)
{
	uint32_t n = 0;
	if (sl_commits_broken(&g->commits))
		return;
	sl_commits_batch_begin(&g->commits);
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		const struct group *gr = &g->groups[i];
		if (!gr->used || state_wanted(gr) == gr->commits.logged_ms)
			continue;
		sl_commits_add_state(&g->commits, &gr->commits,
				     state_wanted(gr));
		n++;
	}
	if (sl_commits_batch_end(&g->commits) < 0 || n == 0)
		return;
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		struct group *gr = &g->groups[i];
		if (!gr->used || state_wanted(gr) == gr->commits.logged_ms)
			continue;
		sl_commits_logged(&g->commits, &gr->commits, state_wanted(gr));
		n--;
	}
	assert(n == 0);
	maybe_compact(g);
}

/* How gr's offsets expire (commits.h): not at all unless it is Empty;
 * those of a group that has had members all at once, retention after it
 * became Empty (KIP-211), the others offset by offset, retention after
 * each commit. */
static bool expiry_since(const struct group *gr, int64_t *since_ms)
{
	if (has_members(gr))
		return false;
	/* set when it became Empty, or at the load */
	assert(gr->type_len < 0 || gr->empty_ms >= 0);
	*since_ms = gr->type_len >= 0 ? gr->empty_ms : SL_COMMITS_EACH;
	return true;
}

/*
 * Remove the offsets expired at wall ms, when a scan is due: their
 * tombstones (a group's when all its offsets go, since they go together)
 * are made durable first, then memory forgets them.  Sets when the next
 * scan is due.  Nothing expires while the disk state is unknown.
 */
static void expire_offsets(struct sl_groups *g, int64_t wall)
{
	int64_t next = INT64_MAX, since;
	uint32_t n = 0;
	if (wall < g->expiry_ms || sl_commits_broken(&g->commits))
		return;
	sl_commits_batch_begin(&g->commits);
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		const struct group *gr = &g->groups[i];
		if (gr->used && gr->commits.n && expiry_since(gr, &since))
			n += sl_commits_expire_add(&g->commits, &gr->commits,
						   since, wall, &next);
	}
	if (sl_commits_batch_end(&g->commits) < 0) {
		g->expiry_ms = wall + EXPIRY_RETRY_MS;
		return;
	}
	/* the same decisions again, now that the tombstones are durable */
	for (uint32_t i = 0; n && i < SL_GROUPS_MAX; i++) {
		struct group *gr = &g->groups[i];
		if (gr->used && gr->commits.n && expiry_since(gr, &since))
			n -= sl_commits_expire_apply(&g->commits, &gr->commits,
						     since, wall);
	}
	assert(n == 0);
	g->expiry_ms = next;
	maybe_compact(g);
}

static void run_timers(struct sl_groups *g, int64_t now_ms)
{
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		struct group *gr = &g->groups[i];
		if (!gr->used)
			continue;
		bool gone = false;
		for (uint32_t k = gr->npending; k-- > 0;)
			if (now_ms >= gr->pending[k].expires_ms) {
				pending_remove(gr, k);
				gone = true;
			}
		for (uint32_t k = gr->nmembers; k-- > 0;) {
			struct member *m = gr->members[k];
			if (!m->awaiting_join && !m->sync.active &&
			    now_ms >= m->expires_ms) {
				member_remove(g, gr, m);
				gone = true;
			}
		}
		if (gone)
			members_left(g, gr, now_ms);
		if (gr->state == ST_PREPARING && now_ms >= gr->join_deadline_ms)
			join_deadline(g, gr, now_ms);
		if (gr->cg && sl_cg_tick(gr->cg, &g->cg_env, now_ms) &&
		    sl_cg_members(gr->cg) == 0)
			became_empty(g, gr);
	}
	expire_offsets(g, wall_now(g));
	log_states(g);
	groups_sweep(g);
}

static int64_t next_deadline(const struct sl_groups *g)
{
	int64_t next = INT64_MAX;
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		const struct group *gr = &g->groups[i];
		if (!gr->used)
			continue;
		if (gr->state == ST_PREPARING)
			next = min64(next, gr->join_deadline_ms);
		for (uint32_t k = 0; k < gr->npending; k++)
			next = min64(next, gr->pending[k].expires_ms);
		for (uint32_t k = 0; k < gr->nmembers; k++) {
			const struct member *m = gr->members[k];
			if (!m->awaiting_join && !m->sync.active)
				next = min64(next, m->expires_ms);
		}
		if (gr->cg)
			next = min64(next, sl_cg_next_deadline(gr->cg));
	}
	return next;
}

/* ---- JoinGroup ---- */

static bool valid_group_id(struct kc_str id)
{
	return id.len > 0 && id.len <= SL_GROUPS_NAME_MAX;
}

/* Answer a member that is already in the current generation. */
static void send_current_join(struct sl_groups *g, struct group *gr,
			      struct member *m, const struct req *rq)
{
	struct wait w = {true, rq->version, rq->corr, rq->token};
	send_join(g, gr, m, &w);
}

static void add_member(struct sl_groups *g, struct group *gr,
		       const struct req *rq, const struct kc_join_group_req *q,
		       int32_t rebalance_ms, const char *id, size_t id_len,
		       int64_t now_ms)
{
	struct member *m = calloc(1, sizeof(*m));
	if (!m)
		goto out_error;
	memcpy(m->id, id, id_len);
	m->id_len = (uint16_t)id_len;
	if (member_update(m, rq, q, rebalance_ms) < 0)
		goto out_free;
	if (gr->nmembers == gr->members_cap) {
		uint32_t cap = gr->members_cap ? gr->members_cap * 2 : 4;
		struct member **n = realloc(gr->members, cap * sizeof(*n));
		if (!n)
			goto out_free;
		gr->members = n;
		gr->members_cap = cap;
	}
	if (gr->nmembers == 0) {
		gr->type_len = (int16_t)q->protocol_type.len;
		memcpy(gr->type, q->protocol_type.ptr,
		       (size_t)q->protocol_type.len);
	}
	gr->members[gr->nmembers++] = m;
	gr->join_bytes += m->join_bytes;
	if (!gr->leader)
		gr->leader = m;
	m->awaiting_join = true;
	m->join = (struct wait){true, rq->version, rq->corr, rq->token};
	m->expires_ms = now_ms + m->session_timeout_ms;
	if (gr->state == ST_PREPARING && gr->initial)
		gr->new_member_added = true;
	if (gr->state != ST_PREPARING)
		prepare_rebalance(g, gr, now_ms);
	try_complete_join(g, gr, now_ms);
	return;
out_free:
	member_free(m);
out_error:
	send_error(g, rq, NULL, SN_ERR_UNKNOWN_SERVER_ERROR);
}

/* A known member joins again: new protocols, a new rebalance. */
static void rejoin(struct sl_groups *g, struct group *gr, struct member *m,
		   const struct req *rq, const struct kc_join_group_req *q,
		   int32_t rebalance_ms, int64_t now_ms)
{
	size_t before = m->join_bytes;
	if (member_update(m, rq, q, rebalance_ms) < 0) {
		send_error(g, rq, NULL, SN_ERR_UNKNOWN_SERVER_ERROR);
		return;
	}
	gr->join_bytes = gr->join_bytes - before + m->join_bytes;
	wait_error(g, &m->join, KC_API_JOIN_GROUP, KC_ERR_REBALANCE_IN_PROGRESS);
	m->join = (struct wait){true, rq->version, rq->corr, rq->token};
	m->awaiting_join = true;
	if (gr->state != ST_PREPARING)
		prepare_rebalance(g, gr, now_ms);
	try_complete_join(g, gr, now_ms);
}

/* A JoinGroup without a member id: a member id for it, which v4+ must
 * come back with (KIP-394) and older versions join with at once. */
static void join_new(struct sl_groups *g, const struct req *rq,
		     const struct kc_join_group_req *q, struct group *gr,
		     int32_t rebalance_ms, int64_t now_ms)
{
	if (!gr && !(gr = group_create(g, q->group_id.ptr,
				       (size_t)q->group_id.len))) {
		send_error(g, rq, NULL, KC_ERR_POLICY_VIOLATION);
		return;
	}
	if (!protocols_ok(gr, NULL, q)) {
		send_error(g, rq, NULL, KC_ERR_INCONSISTENT_GROUP_PROTOCOL);
		return;
	}
	char id[MEMBER_ID_MAX];
	size_t cl = str_len(rq->client_id);
	if (cl > CLIENT_ID_IN_MEMBER_ID_MAX)
		cl = CLIENT_ID_IN_MEMBER_ID_MAX;
	if (cl)
		memcpy(id, rq->client_id.ptr, cl);
	int n = snprintf(id + cl, sizeof(id) - cl, "-%lld-%llu",
			 (long long)g->open_ms,
			 (unsigned long long)++g->member_seq);
	assert(n > 0 && (size_t)n < sizeof(id) - cl);
	size_t id_len = cl + (size_t)n;
	if (gr->nmembers + gr->npending >= SL_GROUPS_MEMBERS_MAX ||
	    JOIN_RESP_FIXED_MAX + gr->join_bytes +
	    join_bytes_of(id_len, q->group_instance_id, q) >
	    SL_GROUPS_MAX_RESPONSE) {
		send_error(g, rq, NULL, KC_ERR_GROUP_MAX_SIZE_REACHED);
		return;
	}
	if (rq->version < 4) {
		add_member(g, gr, rq, q, rebalance_ms, id, id_len, now_ms);
		return;
	}
	if (gr->npending == gr->pending_cap) {
		uint32_t cap = gr->pending_cap ? gr->pending_cap * 2 : 4;
		struct pending *np = realloc(gr->pending, cap * sizeof(*np));
		if (!np) {
			send_error(g, rq, NULL, SN_ERR_UNKNOWN_SERVER_ERROR);
			return;
		}
		gr->pending = np;
		gr->pending_cap = cap;
	}
	struct pending *pm = &gr->pending[gr->npending++];
	memcpy(pm->id, id, id_len);
	pm->id_len = (uint16_t)id_len;
	pm->expires_ms = now_ms + q->session_timeout_ms;
	union kc_response u;
	struct kc_join_group_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_JOIN_GROUP);
	r->error_code = KC_ERR_MEMBER_ID_REQUIRED;
	r->generation_id = -1;
	r->protocol_name = rq->version >= 7 ? null_str : empty_str;
	r->leader = empty_str;
	r->member_id = str_of(id, id_len);
	int rc = send_body(g, rq, r);
	assert(rc == 0);
	(void)rc;
}

/* A JoinGroup with a member id: one MEMBER_ID_REQUIRED gave, or a member's
 * rejoin (which starts a rebalance unless it is a retry of the current
 * generation's). */
static void join_known(struct sl_groups *g, const struct req *rq,
		       const struct kc_join_group_req *q, struct group *gr,
		       int32_t rebalance_ms, int64_t now_ms)
{
	int32_t pi = pending_find(gr, q->member_id);
	if (pi >= 0) { /* back with the id MEMBER_ID_REQUIRED gave */
		size_t id_len = gr->pending[pi].id_len;
		if (!protocols_ok(gr, NULL, q)) {
			send_error(g, rq, NULL, KC_ERR_INCONSISTENT_GROUP_PROTOCOL);
			return;
		}
		if (JOIN_RESP_FIXED_MAX + gr->join_bytes +
		    join_bytes_of(id_len, q->group_instance_id, q) >
		    SL_GROUPS_MAX_RESPONSE) {
			send_error(g, rq, NULL, KC_ERR_GROUP_MAX_SIZE_REACHED);
			return;
		}
		char id[MEMBER_ID_MAX];
		memcpy(id, gr->pending[pi].id, id_len);
		pending_remove(gr, (uint32_t)pi);
		add_member(g, gr, rq, q, rebalance_ms, id, id_len, now_ms);
		return;
	}
	struct member *m = member_find(gr, q->member_id);
	if (!m) {
		send_error(g, rq, NULL, KC_ERR_UNKNOWN_MEMBER_ID);
		return;
	}
	if (!protocols_ok(gr, m, q)) {
		send_error(g, rq, NULL, KC_ERR_INCONSISTENT_GROUP_PROTOCOL);
		return;
	}
	if (JOIN_RESP_FIXED_MAX + gr->join_bytes - m->join_bytes +
	    join_bytes_of(m->id_len, q->group_instance_id, q) >
	    SL_GROUPS_MAX_RESPONSE) {
		send_error(g, rq, NULL, KC_ERR_GROUP_MAX_SIZE_REACHED);
		return;
	}
	switch (gr->state) {
	case ST_PREPARING:
		rejoin(g, gr, m, rq, q, rebalance_ms, now_ms);
		return;
	case ST_COMPLETING:
		if (same_protocols(m, q)) { /* a retry: same answer */
			send_current_join(g, gr, m, rq);
			return;
		}
		rejoin(g, gr, m, rq, q, rebalance_ms, now_ms);
		return;
	case ST_STABLE:
		if (m == gr->leader || !same_protocols(m, q)) {
			rejoin(g, gr, m, rq, q, rebalance_ms, now_ms);
			return;
		}
		m->expires_ms = now_ms + m->session_timeout_ms;
		send_current_join(g, gr, m, rq);
		return;
	case ST_EMPTY:
		break;
	}
	/* a member in an Empty group cannot be */
	assert(!"member in an Empty group");
	send_error(g, rq, NULL, KC_ERR_UNKNOWN_MEMBER_ID);
}

static void on_join_group(struct sl_groups *g, const struct req *rq,
			  const struct kc_join_group_req *q, int64_t now_ms)
{
	const struct kc_join_group_req_protocol *p = q->protocols.items;
	int16_t code = ERR_NONE;
	if (!valid_group_id(q->group_id))
		code = KC_ERR_INVALID_GROUP_ID;
	else if (q->session_timeout_ms < SL_GROUPS_SESSION_TIMEOUT_MIN_MS ||
		 q->session_timeout_ms > SL_GROUPS_SESSION_TIMEOUT_MAX_MS)
		code = KC_ERR_INVALID_SESSION_TIMEOUT;
	else if (q->protocol_type.len > SL_GROUPS_NAME_MAX ||
		 q->group_instance_id.len > SL_GROUPS_NAME_MAX ||
		 q->protocols.count > SL_GROUPS_PROTOCOLS_MAX)
		code = SN_ERR_INVALID_REQUEST;
	for (int32_t i = 0; code == ERR_NONE && i < q->protocols.count; i++)
		if (p[i].name.len > SL_GROUPS_NAME_MAX)
			code = SN_ERR_INVALID_REQUEST;
	if (code) {
		send_error(g, rq, NULL, code);
		return;
	}
	/* v0 has no rebalance timeout: the session timeout stands for it */
	int32_t rebalance_ms = q->rebalance_timeout_ms >= 0 ?
			       q->rebalance_timeout_ms : q->session_timeout_ms;
	struct group *gr = group_find(g, q->group_id.ptr, (size_t)q->group_id.len);
	if (gr && gr->cg) { /* a consumer group: classic only when empty */
		if (sl_cg_members(gr->cg)) {
			send_error(g, rq, NULL, KC_ERR_INCONSISTENT_GROUP_PROTOCOL);
			return;
		}
		sl_cg_destroy(gr->cg);
		gr->cg = NULL;
	}
	if (q->member_id.len == 0)
		join_new(g, rq, q, gr, rebalance_ms, now_ms);
	else if (!gr)
		send_error(g, rq, NULL, KC_ERR_UNKNOWN_MEMBER_ID);
	else
		join_known(g, rq, q, gr, rebalance_ms, now_ms);
}

/* ---- SyncGroup, Heartbeat, LeaveGroup ---- */

/* The checks SyncGroup and Heartbeat share; *out is the member. */
static int16_t check_member(struct sl_groups *g, struct kc_str group_id,
			    int32_t generation, struct kc_str member_id,
			    struct group **gr_out, struct member **out)
{
	if (!valid_group_id(group_id))
		return KC_ERR_INVALID_GROUP_ID;
	struct group *gr = group_find(g, group_id.ptr, (size_t)group_id.len);
	if (!gr || gr->state == ST_EMPTY)
		return KC_ERR_UNKNOWN_MEMBER_ID;
	struct member *m = member_find(gr, member_id);
	if (!m)
		return KC_ERR_UNKNOWN_MEMBER_ID;
	if (generation != gr->generation)
		return KC_ERR_ILLEGAL_GENERATION;
	*gr_out = gr;
	*out = m;
	return ERR_NONE;
}

static void send_sync(struct sl_groups *g, const struct group *gr,
		      struct member *m, struct wait *w)
{
	union kc_response u;
	struct kc_sync_group_resp *r = (void *)u.raw;
	struct req rq = req_of_wait(w, KC_API_SYNC_GROUP);
	assert(w->active);
	w->active = false;
	kc_response_init(&u, KC_API_SYNC_GROUP);
	r->assignment = (struct kc_bytes){m->assignment,
					  (int32_t)m->assignment_len};
	/* v5+: what the group runs (the caller has checked them, if given) */
	assert(gr->type_len >= 0 && gr->protocol_len >= 0);
	r->protocol_type = str_of(gr->type, (size_t)gr->type_len);
	r->protocol_name = str_of(gr->protocol, (size_t)gr->protocol_len);
	if (send_body(g, &rq, r) == -EMSGSIZE) /* the leader's sync kept it */
		send_error(g, &rq, NULL, SN_ERR_MESSAGE_TOO_LARGE);
}

/* The leader's assignments: every member gets its own (empty when the
 * leader gave none), and every waiting SyncGroup is answered. */
static void assign(struct sl_groups *g, struct group *gr,
		   const struct kc_sync_group_req *q)
{
	int16_t code;
	const struct kc_sync_group_req_assignment *a = q->assignments.items;
	int32_t na = q->assignments.count > 0 ? q->assignments.count : 0;
	uint8_t *copies[SL_GROUPS_MEMBERS_MAX] = {NULL};
	uint32_t lens[SL_GROUPS_MEMBERS_MAX];
	/* the fixed part of a SyncGroup response: header, throttle, error,
	 * length */
	const size_t max_bytes = SL_GROUPS_MAX_RESPONSE - (4 + 4 + 2 + 4);
	assert(gr->nmembers <= SL_GROUPS_MEMBERS_MAX);
	for (uint32_t i = 0; i < gr->nmembers; i++) {
		struct member *m = gr->members[i];
		lens[i] = 0;
		for (int32_t k = na; k-- > 0;) { /* the last one counts */
			if (!kc_str_is(a[k].member_id, m->id, m->id_len))
				continue;
			lens[i] = a[k].assignment.len > 0 ?
				  (uint32_t)a[k].assignment.len : 0;
			if (lens[i] > max_bytes) {
				code = SN_ERR_MESSAGE_TOO_LARGE;
				goto out_free;
			}
			if (lens[i] && !(copies[i] = malloc(lens[i]))) {
				code = SN_ERR_UNKNOWN_SERVER_ERROR;
				goto out_free;
			}
			if (lens[i])
				memcpy(copies[i], a[k].assignment.ptr, lens[i]);
			break;
		}
	}
	for (uint32_t i = 0; i < gr->nmembers; i++) {
		struct member *m = gr->members[i];
		free(m->assignment);
		m->assignment = copies[i];
		m->assignment_len = lens[i];
	}
	gr->state = ST_STABLE;
	for (uint32_t i = 0; i < gr->nmembers; i++)
		if (gr->members[i]->sync.active)
			send_sync(g, gr, gr->members[i],
				  &gr->members[i]->sync);
	return;
out_free:
	/* the group stays CompletingRebalance: the leader may try again */
	for (uint32_t i = 0; i < gr->nmembers; i++)
		free(copies[i]);
	wait_error(g, &gr->leader->sync, KC_API_SYNC_GROUP, code);
}

static void on_sync_group(struct sl_groups *g, const struct req *rq,
			  const struct kc_sync_group_req *q, int64_t now_ms)
{
	struct group *gr = NULL;
	struct member *m = NULL;
	int16_t code = check_member(g, q->group_id, q->generation_id,
				    q->member_id, &gr, &m);
	/* v5+: the protocol type and name, when given, must be the group's
	 * (checked before the state, as Kafka's validateSyncGroup) */
	if (code == ERR_NONE &&
	    ((q->protocol_type.len >= 0 &&
	      (gr->type_len < 0 ||
	       !kc_str_is(q->protocol_type, gr->type, (size_t)gr->type_len))) ||
	     (q->protocol_name.len >= 0 &&
	      (gr->protocol_len < 0 ||
	       !kc_str_is(q->protocol_name, gr->protocol,
		       (size_t)gr->protocol_len)))))
		code = KC_ERR_INCONSISTENT_GROUP_PROTOCOL;
	if (code == ERR_NONE && gr->state == ST_PREPARING)
		code = KC_ERR_REBALANCE_IN_PROGRESS;
	if (code) {
		send_error(g, rq, NULL, code);
		return;
	}
	m->expires_ms = now_ms + m->session_timeout_ms;
	if (gr->state == ST_STABLE) {
		struct wait w = {true, rq->version, rq->corr, rq->token};
		send_sync(g, gr, m, &w);
		return;
	}
	assert(gr->state == ST_COMPLETING);
	wait_error(g, &m->sync, KC_API_SYNC_GROUP, KC_ERR_REBALANCE_IN_PROGRESS);
	m->sync = (struct wait){true, rq->version, rq->corr, rq->token};
	if (m == gr->leader)
		assign(g, gr, q);
}

static void on_heartbeat(struct sl_groups *g, const struct req *rq,
			 const struct kc_heartbeat_req *q, int64_t now_ms)
{
	struct group *gr = NULL;
	struct member *m = NULL;
	int16_t code = check_member(g, q->group_id, q->generation_id,
				    q->member_id, &gr, &m);
	if (code == ERR_NONE) {
		m->expires_ms = now_ms + m->session_timeout_ms;
		if (gr->state == ST_PREPARING)
			code = KC_ERR_REBALANCE_IN_PROGRESS;
	}
	send_error(g, rq, NULL, code);
}

/* Remove one member (by member id, or by instance id when the member id is
 * empty) and count it in *left; the group's rebalance is the caller's. */
static int16_t leave_one(struct sl_groups *g, struct group *gr,
			 struct kc_str member_id, struct kc_str instance,
			 uint32_t *left)
{
	if (!gr)
		return KC_ERR_UNKNOWN_MEMBER_ID;
	int32_t pi = pending_find(gr, member_id);
	if (pi >= 0) { /* only a pending join can have waited for it */
		pending_remove(gr, (uint32_t)pi);
		return ERR_NONE;
	}
	struct member *m = member_id.len > 0 ? member_find(gr, member_id) :
			   member_find_instance(gr, instance);
	if (!m)
		return KC_ERR_UNKNOWN_MEMBER_ID;
	member_remove(g, gr, m);
	(*left)++;
	return ERR_NONE;
}

static void on_leave_group(struct sl_groups *g, const struct req *rq,
			   const struct kc_leave_group_req *q, int64_t now_ms)
{
	union kc_response u;
	struct kc_leave_group_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_LEAVE_GROUP);
	g->build.used = 0;
	if (!valid_group_id(q->group_id)) {
		send_error(g, rq, NULL, KC_ERR_INVALID_GROUP_ID);
		return;
	}
	struct group *gr = group_find(g, q->group_id.ptr, (size_t)q->group_id.len);
	uint32_t left = 0;
	if (rq->version <= 2) {
		r->error_code = leave_one(g, gr, q->member_id, null_str, &left);
	} else {
		int32_t n = q->members.count > 0 ? q->members.count : 0;
		const struct kc_leave_group_req_member *qm = q->members.items;
		/* nobody leaves unless the answer can list them all */
		size_t bytes = 4 + 4 + 2 + 4;
		for (int32_t i = 0; i < n; i++)
			bytes += 2 + str_len(qm[i].member_id) + 2 +
				 str_len(qm[i].group_instance_id) + 2;
		struct kc_leave_group_resp_member *rm =
			kc_arena_take(&g->build, (size_t)n, sizeof(*rm));
		if (bytes > SL_GROUPS_MAX_RESPONSE || (n && !rm)) {
			send_error(g, rq, NULL, SN_ERR_MESSAGE_TOO_LARGE);
			return;
		}
		for (int32_t i = 0; i < n; i++) {
			rm[i].member_id = qm[i].member_id;
			rm[i].group_instance_id = qm[i].group_instance_id;
			rm[i].error_code = leave_one(g, gr, qm[i].member_id,
						     qm[i].group_instance_id,
						     &left);
		}
		r->members = (struct kc_array){rm, n};
	}
	/* answered before the rebalance it starts: completing a join sends
	 * JoinGroup responses built in g->build, where rm lives */
	int rc = send_body(g, rq, r);
	assert(rc == 0); /* measured above */
	(void)rc;
	if (left)
		members_left(g, gr, now_ms);
	else if (gr)
		try_complete_join(g, gr, now_ms); /* a pending one may have left */
}

/* ---- OffsetCommit, OffsetFetch ---- */

static bool valid_topic(struct kc_str t)
{
	return t.len > 0 && t.len <= SL_GROUPS_TOPIC_MAX;
}

/* v10 names topics by id (proto/topic_uuid.h): the name of id, or null
 * (len -1) when no topic has it (UNKNOWN_TOPIC_ID). */
static struct kc_str topic_name_of(const struct sl_groups *g,
				   struct kc_uuid id)
{
	uint32_t n = sl_topic_uuid_id(id.b);
	const char *name;
	size_t len;
	if (n == 0 || !g->topic_name ||
	    !g->topic_name(g->cg_env.topic_ctx, n, &name, &len) ||
	    len == 0 || len > SL_GROUPS_TOPIC_MAX)
		return null_str;
	return str_of(name, len);
}

/* The id of the topic called name, or false when there is none. */
static bool topic_id_of(const struct sl_groups *g, struct kc_str name,
			struct kc_uuid *id)
{
	uint32_t n;
	int32_t partitions;
	if (!valid_topic(name) || !g->cg_env.topic ||
	    !g->cg_env.topic(g->cg_env.topic_ctx, name.ptr, (size_t)name.len,
			     &n, &partitions))
		return false;
	sl_topic_uuid(n, id->b);
	return true;
}

/* Whether this commit may go in (Kafka's validateOffsetCommit): a member of
 * the current generation (v9's member epoch is a classic group's
 * generation), or anyone (generation -1, no member id) while the group has
 * no members; v0, which has neither field, is not checked against the
 * group at all (Kafka's v0 commits bypass the coordinator).  May create
 * the group. */
static int16_t commit_check(struct sl_groups *g, const struct req *rq,
			    const struct kc_offset_commit_req *q,
			    struct group **out, int64_t now_ms)
{
	if (!valid_group_id(q->group_id))
		return KC_ERR_INVALID_GROUP_ID;
	if (rq->version == 0) {
		struct group *gr = group_find(g, q->group_id.ptr,
					      (size_t)q->group_id.len);
		if (!gr && !(gr = group_create(g, q->group_id.ptr,
					       (size_t)q->group_id.len)))
			return KC_ERR_POLICY_VIOLATION;
		*out = gr;
		return ERR_NONE;
	}
	bool outsider = q->generation_id_or_member_epoch < 0 && q->member_id.len <= 0 &&
			q->group_instance_id.len < 0;
	struct group *gr = group_find(g, q->group_id.ptr, (size_t)q->group_id.len);
	if (gr && gr->cg) { /* KIP-848: the member epoch */
		int16_t code = sl_cg_check_commit(
			gr->cg, q->member_id, q->generation_id_or_member_epoch,
			rq->version);
		if (code == ERR_NONE)
			*out = gr;
		return code;
	}
	if (!gr) {
		/* v9 answers it for both protocols (Kafka's choice) */
		if (!outsider)
			return rq->version >= 9 ? KC_ERR_GROUP_ID_NOT_FOUND :
						  KC_ERR_ILLEGAL_GENERATION;
		gr = group_create(g, q->group_id.ptr, (size_t)q->group_id.len);
		if (!gr)
			return KC_ERR_POLICY_VIOLATION;
	} else if (!outsider) {
		struct member *m = member_find(gr, q->member_id);
		if (!m)
			return KC_ERR_UNKNOWN_MEMBER_ID;
		if (q->generation_id_or_member_epoch != gr->generation)
			return KC_ERR_ILLEGAL_GENERATION;
		if (gr->state == ST_COMPLETING)
			return KC_ERR_REBALANCE_IN_PROGRESS;
		m->expires_ms = now_ms + m->session_timeout_ms;
	} else if (gr->state != ST_EMPTY) {
		return KC_ERR_UNKNOWN_MEMBER_ID;
	}
	*out = gr;
	return ERR_NONE;
}

/* When a partition is committed: v1's commit timestamp when the client
 * gave one (not -1), as Kafka keeps it (a simple consumer's offset expires
 * retention after it), else now. */
static int64_t commit_time(const struct kc_offset_commit_req_partition *p,
			   int64_t wall)
{
	return p->commit_timestamp != -1 ? p->commit_timestamp : wall;
}

static int on_offset_commit(struct sl_groups *g, const struct req *rq,
			    const struct kc_offset_commit_req *q,
			    int64_t now_ms)
{
	union kc_response u;
	struct kc_offset_commit_resp *r = (void *)u.raw;
	struct group *gr = NULL;
	int16_t code = commit_check(g, rq, q, &gr, now_ms);
	if (code)
		return send_error(g, rq, q, code);

	/* the answer first, so that one that cannot be sent is not committed */
	kc_response_init(&u, KC_API_OFFSET_COMMIT);
	g->build.used = 0;
	int32_t nt = q->topics.count > 0 ? q->topics.count : 0;
	const struct kc_offset_commit_req_topic *qt = q->topics.items;
	struct kc_offset_commit_resp_topic *rt =
		kc_arena_take(&g->build, (size_t)nt, sizeof(*rt));
	if (nt && !rt)
		return -EMSGSIZE;
	uint32_t records = 0; /* to append */
	uint32_t fresh = 0;
	for (int32_t i = 0; i < nt; i++) {
		int32_t np = qt[i].partitions.count > 0 ?
			     qt[i].partitions.count : 0;
		const struct kc_offset_commit_req_partition *qp =
			qt[i].partitions.items;
		struct kc_offset_commit_resp_partition *rp =
			kc_arena_take(&g->build, (size_t)np, sizeof(*rp));
		if (np && !rp)
			return -EMSGSIZE;
		rt[i].name = qt[i].name;
		rt[i].topic_id = qt[i].topic_id;
		rt[i].partitions = (struct kc_array){rp, np};
		for (int32_t j = 0; j < np; j++) {
			rp[j].partition_index = qp[j].partition_index;
			rp[j].error_code = ERR_NONE;
			if (rq->version >= 10 && qt[i].name.len < 0)
				rp[j].error_code = ERR_UNKNOWN_TOPIC_ID;
			else if (!valid_topic(qt[i].name) ||
				 qp[j].partition_index < 0)
				rp[j].error_code = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			else if (qp[j].committed_metadata.len >
				 SL_GROUPS_OFFSET_METADATA_MAX)
				rp[j].error_code = KC_ERR_OFFSET_METADATA_TOO_LARGE;
			else if (sl_commits_find(&gr->commits, qt[i].name.ptr,
						 (size_t)qt[i].name.len,
						 qp[j].partition_index) < 0 &&
				 g->commits.n + ++fresh > SL_GROUPS_OFFSETS_MAX)
				rp[j].error_code = KC_ERR_POLICY_VIOLATION;
			else if (sl_commits_broken(&g->commits))
				rp[j].error_code = SN_ERR_KAFKA_STORAGE_ERROR;
			if (rp[j].error_code == ERR_NONE)
				records++;
		}
	}
	r->topics = (struct kc_array){rt, nt};
	long n = encode(g, rq, r);
	if (n < 0)
		return (int)n;
	if (records == 0) {
		deliver(g, rq, n);
		return 0;
	}

	/* the records, durable, then the offsets in memory, then the answer;
	 * a group that has had members says first what its state is (so that
	 * its offsets never sit in the file without it) */
	int64_t wall = wall_now(g), oldest = wall;
	int64_t state = !has_members(gr) ? gr->empty_ms : -1;
	bool put_state = gr->type_len >= 0 && state != gr->commits.logged_ms;
	sl_commits_batch_begin(&g->commits);
	if (put_state)
		sl_commits_add_state(&g->commits, &gr->commits, state);
	for (int32_t i = 0; i < nt; i++) {
		const struct kc_offset_commit_req_partition *qp =
			qt[i].partitions.items;
		const struct kc_offset_commit_resp_partition *rp =
			rt[i].partitions.items;
		for (int32_t j = 0; j < rt[i].partitions.count; j++) {
			if (rp[j].error_code != ERR_NONE)
				continue;
			int64_t t = commit_time(&qp[j], wall);
			oldest = min64(oldest, t);
			sl_commits_add_commit(&g->commits, &gr->commits,
					      qt[i].name.ptr,
					      (size_t)qt[i].name.len,
					      qp[j].partition_index,
					      qp[j].committed_offset,
					      qp[j].committed_leader_epoch,
					      qp[j].committed_metadata.ptr,
					      qp[j].committed_metadata.len,
					      t);
			records--;
		}
	}
	assert(records == 0);
	int rc = sl_commits_batch_end(&g->commits);
	if (rc == 0 && put_state)
		sl_commits_logged(&g->commits, &gr->commits, state);
	if (rc == 0 && !has_members(gr))
		note_expiry(g, sl_commits_expires_at(&g->commits,
			gr->type_len >= 0 ? gr->empty_ms : oldest));
	for (int32_t i = 0; i < nt; i++) {
		const struct kc_offset_commit_req_partition *qp =
			qt[i].partitions.items;
		struct kc_offset_commit_resp_partition *rp =
			(void *)rt[i].partitions.items;
		for (int32_t j = 0; j < rt[i].partitions.count; j++) {
			if (rp[j].error_code != ERR_NONE)
				continue;
			if (rc < 0) {
				rp[j].error_code = SN_ERR_KAFKA_STORAGE_ERROR;
				continue;
			}
			int prc = sl_commits_put(&g->commits, &gr->commits,
						 qt[i].name.ptr,
						 (size_t)qt[i].name.len,
						 qp[j].partition_index,
						 qp[j].committed_offset,
						 qp[j].committed_leader_epoch,
						 qp[j].committed_metadata.ptr,
						 qp[j].committed_metadata.len,
						 commit_time(&qp[j], wall));
			/* durable, but not in memory: a reopen reads it */
			if (prc == -ENOMEM)
				rp[j].error_code = SN_ERR_UNKNOWN_SERVER_ERROR;
			assert(prc != -EOVERFLOW);
		}
	}
	n = encode(g, rq, r);
	assert(n > 0); /* same size as before */
	deliver(g, rq, n);
	maybe_compact(g);
	return 0;
}

static bool same_topic(const struct sl_commit *a, const struct sl_commit *b)
{
	return a->topic_len == b->topic_len &&
	       !memcmp(a->blob, b->blob, a->topic_len);
}

static struct kc_str offset_meta(const struct sl_commit *o)
{
	if (o->meta_len < 0)
		return null_str;
	return str_of((const char *)o->blob + o->topic_len, (size_t)o->meta_len);
}

/* v8+ carries the v0-7 topics and partitions in structs of their own
 * (v10 names the topics by id instead): the topics are copied into the
 * v0-7 structs and back, the partitions have the same fields.  A v10 id
 * becomes its topic's name, null (len -1) when no topic has it. */
static int topics_as_v7(struct sl_groups *g, int16_t version,
			struct kc_array in, struct kc_array *out)
{
	if (in.count < 0) {
		*out = in; /* null: everything */
		return 0;
	}
	const struct kc_offset_fetch_req_topics *t = in.items;
	struct kc_offset_fetch_req_topic *o =
		kc_arena_take(&g->build, (size_t)in.count, sizeof(*o));
	if (in.count && !o)
		return -EMSGSIZE;
	for (int32_t i = 0; i < in.count; i++)
		o[i] = (struct kc_offset_fetch_req_topic){
			version >= 10 ? topic_name_of(g, t[i].topic_id) :
					t[i].name,
			t[i].partition_indexes };
	*out = (struct kc_array){ o, in.count };
	return 0;
}

/* found (of struct kc_offset_fetch_resp_topic, fetch_group's answer to
 * asked, the v8+ request's topics) as v8+ topics.  v10 answers by id: a
 * topic asked for by an id no topic has gets UNKNOWN_TOPIC_ID for each
 * partition; of all the group's offsets (asked null), those of topics
 * that no longer exist are left out, as Kafka does. */
static int topics_as_v8(struct sl_groups *g, int16_t version,
			struct kc_array asked, struct kc_array found,
			struct kc_array *out)
{
	const struct kc_offset_fetch_resp_topic *t = found.items;
	const struct kc_offset_fetch_req_topics *q = asked.items;
	int32_t n = found.count > 0 ? found.count : 0;
	assert(asked.count < 0 || asked.count == found.count);
	struct kc_offset_fetch_resp_topics *o =
		kc_arena_take(&g->build, (size_t)n, sizeof(*o));
	if (n && !o)
		return -EMSGSIZE;
	int32_t k = 0;
	for (int32_t i = 0; i < n; i++) {
		o[k] = (struct kc_offset_fetch_resp_topics){
			.name = t[i].name, .partitions = t[i].partitions };
		if (version < 10) {
			k++;
		} else if (asked.count >= 0) {
			o[k].topic_id = q[i].topic_id;
			struct kc_offset_fetch_resp_partition *p =
				(void *)t[i].partitions.items;
			for (int32_t j = 0; t[i].name.len < 0 &&
					    j < t[i].partitions.count; j++)
				p[j].error_code = ERR_UNKNOWN_TOPIC_ID;
			k++;
		} else if (topic_id_of(g, t[i].name, &o[k].topic_id)) {
			k++;
		}
	}
	*out = (struct kc_array){ o, k };
	return 0;
}
_Static_assert(sizeof(struct kc_offset_fetch_resp_partitions) ==
	       sizeof(struct kc_offset_fetch_resp_partition) &&
	       offsetof(struct kc_offset_fetch_resp_partitions, metadata) ==
	       offsetof(struct kc_offset_fetch_resp_partition, metadata) &&
	       offsetof(struct kc_offset_fetch_resp_partitions, error_code) ==
	       offsetof(struct kc_offset_fetch_resp_partition, error_code),
	       "v8 response partitions as v0-7");

/* Whether a transaction holds an offset of group id for (topic,
 * partition) that is not committed or aborted yet. */
static bool unstable(const struct sl_groups *g, struct kc_str id,
		     const char *topic, size_t topic_len, int32_t partition)
{
	return g->pending && valid_group_id(id) &&
	       g->pending(g->pending_ctx, id.ptr, (size_t)id.len, topic,
			  topic_len, partition);
}

/* The committed offsets of group id asked for by topics (an array of
 * struct kc_offset_fetch_req_topic; null: all the group has) into *out
 * (of struct kc_offset_fetch_resp_topic), built in g->build.  A partition
 * without an offset answers -1 and empty metadata.  The member id and
 * epoch of v9 change nothing for a classic group (Kafka's GroupCoordinator
 * ignores them); with stable (require_stable, v7+) a partition holding a
 * transactional offset not yet committed or aborted is answered
 * UNSTABLE_OFFSET_COMMIT.  Returns 0,
 * or -EMSGSIZE when the arena is full. */
static int fetch_group(struct sl_groups *g, struct kc_str id,
		       struct kc_array topics, bool stable,
		       struct kc_array *out)
{
	struct group *gr = valid_group_id(id) ?
		group_find(g, id.ptr, (size_t)id.len) : NULL;
	if (topics.count < 0) { /* everything the group committed */
		uint32_t nt = 0;
		const struct sl_commit *o = gr ? gr->commits.items : NULL;
		uint32_t no = gr ? gr->commits.n : 0;
		for (uint32_t i = 0; i < no; i++)
			if (i == 0 || !same_topic(&o[i - 1], &o[i]))
				nt++;
		struct kc_offset_fetch_resp_topic *rt =
			kc_arena_take(&g->build, nt, sizeof(*rt));
		struct kc_offset_fetch_resp_partition *rp =
			kc_arena_take(&g->build, no, sizeof(*rp));
		if ((nt && !rt) || (no && !rp))
			return -EMSGSIZE;
		int32_t t = -1;
		for (uint32_t i = 0; i < no; i++) {
			if (t < 0 || !same_topic(&o[i - 1], &o[i])) {
				t++;
				rt[t].name = str_of((const char *)o[i].blob,
						    o[i].topic_len);
				rt[t].partitions = (struct kc_array){&rp[i], 0};
			}
			rt[t].partitions.count++;
			rp[i] = (struct kc_offset_fetch_resp_partition){
				o[i].partition, o[i].offset, o[i].leader_epoch,
				offset_meta(&o[i]), ERR_NONE};
			if (stable && unstable(g, id, (const char *)o[i].blob,
					       o[i].topic_len, o[i].partition))
				rp[i] = (struct kc_offset_fetch_resp_partition){
					o[i].partition, -1, -1, empty_str,
					ERR_UNSTABLE_OFFSET_COMMIT};
		}
		assert((uint32_t)(t + 1) == nt);
		*out = (struct kc_array){rt, (int32_t)nt};
		return 0;
	}
	int32_t nt = topics.count;
	const struct kc_offset_fetch_req_topic *qt = topics.items;
	struct kc_offset_fetch_resp_topic *rt =
		kc_arena_take(&g->build, (size_t)nt, sizeof(*rt));
	if (nt && !rt)
		return -EMSGSIZE;
	for (int32_t i = 0; i < nt; i++) {
		int32_t np = qt[i].partition_indexes.count > 0 ?
			     qt[i].partition_indexes.count : 0;
		const int32_t *qp = qt[i].partition_indexes.items;
		struct kc_offset_fetch_resp_partition *rp =
			kc_arena_take(&g->build, (size_t)np, sizeof(*rp));
		if (np && !rp)
			return -EMSGSIZE;
		for (int32_t j = 0; j < np; j++) {
			if (stable && valid_topic(qt[i].name) &&
			    unstable(g, id, qt[i].name.ptr,
				     (size_t)qt[i].name.len, qp[j])) {
				rp[j] = (struct kc_offset_fetch_resp_partition){
					qp[j], -1, -1, empty_str,
					ERR_UNSTABLE_OFFSET_COMMIT};
				continue;
			}
			int64_t at = gr && valid_topic(qt[i].name) ?
				sl_commits_find(&gr->commits, qt[i].name.ptr,
						(size_t)qt[i].name.len,
						qp[j]) : -1;
			if (at < 0) {
				rp[j] = (struct kc_offset_fetch_resp_partition){
					qp[j], -1, -1, empty_str, ERR_NONE};
				continue;
			}
			const struct sl_commit *o = &gr->commits.items[at];
			rp[j] = (struct kc_offset_fetch_resp_partition){
				qp[j], o->offset, o->leader_epoch,
				offset_meta(o), ERR_NONE};
		}
		rt[i].name = qt[i].name;
		rt[i].partitions = (struct kc_array){rp, np};
	}
	*out = (struct kc_array){rt, nt};
	return 0;
}

/* v0-7 ask about one group; v8+ about several, each answered on its own
 * (an unknown group: no offsets, no error, as Kafka). */
static int on_offset_fetch(struct sl_groups *g, const struct req *rq,
			   const struct kc_offset_fetch_req *q)
{
	union kc_response u;
	struct kc_offset_fetch_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_OFFSET_FETCH);
	g->build.used = 0;
	if (rq->version < 8) {
		if (fetch_group(g, q->group_id, q->topics, q->require_stable,
				&r->topics) < 0)
			goto too_large;
	} else {
		int32_t n = q->groups.count > 0 ? q->groups.count : 0;
		const struct kc_offset_fetch_req_group *qg = q->groups.items;
		struct kc_offset_fetch_resp_group *rg =
			kc_arena_take(&g->build, (size_t)n, sizeof(*rg));
		if (n && !rg)
			goto too_large;
		for (int32_t i = 0; i < n; i++) {
			rg[i] = (struct kc_offset_fetch_resp_group){
				qg[i].group_id, {NULL, 0}, ERR_NONE};
			int16_t not_mine = mine(g, qg[i].group_id);
			if (not_mine) {
				rg[i].error_code = not_mine;
				continue;
			}
			struct group *gr = valid_group_id(qg[i].group_id) ?
				group_find(g, qg[i].group_id.ptr,
					   (size_t)qg[i].group_id.len) : NULL;
			if (gr && gr->cg && rq->version >= 9 &&
			    (rg[i].error_code = sl_cg_check_fetch(
				     gr->cg, qg[i].member_id,
				     qg[i].member_epoch)) != ERR_NONE)
				continue;
			struct kc_array asked, found;
			if (topics_as_v7(g, rq->version, qg[i].topics,
					 &asked) < 0 ||
			    fetch_group(g, qg[i].group_id, asked,
					q->require_stable, &found) < 0 ||
			    topics_as_v8(g, rq->version, qg[i].topics, found,
					 &rg[i].topics) < 0)
				goto too_large;
		}
		r->groups = (struct kc_array){rg, n};
	}
	int rc = send_body(g, rq, r);
	if (rc != -EMSGSIZE)
		return rc;
too_large:
	if (rq->version < 2)
		return -EMSGSIZE; /* no top-level error to say it with */
	return send_error(g, rq, q, SN_ERR_MESSAGE_TOO_LARGE);
}

/* ---- DescribeGroups, ListGroups ---- */

static size_t described_bytes(const struct kc_described_group *d,
			      int16_t version)
{
	size_t n = 2 + 2 + str_len(d->group_id) + 2 + str_len(d->group_state) +
		   2 + str_len(d->protocol_type) + 2 +
		   str_len(d->protocol_data) + 4 + (version >= 3 ? 4 : 0) +
		   (version >= 6 ? 2 + str_len(d->error_message) : 0);
	const struct kc_described_group_member *m = d->members.items;
	for (int32_t i = 0; i < d->members.count; i++)
		n += 2 + str_len(m[i].member_id) +
		     (version >= 4 ? 2 + str_len(m[i].group_instance_id) : 0) +
		     2 + str_len(m[i].client_id) + 2 + str_len(m[i].client_host) +
		     4 + (size_t)m[i].member_metadata.len +
		     4 + (size_t)m[i].member_assignment.len;
	return n;
}

static void on_describe_groups(struct sl_groups *g, const struct req *rq,
			       const struct kc_describe_groups_req *q)
{
	union kc_response u;
	struct kc_describe_groups_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_DESCRIBE_GROUPS);
	g->build.used = 0;
	int32_t n = q->groups.count > 0 ? q->groups.count : 0;
	const struct kc_str *ids = q->groups.items;
	struct kc_described_group *rg = kc_arena_take(&g->build, (size_t)n, sizeof(*rg));
	if (n && !rg) {
		send_error(g, rq, NULL, SN_ERR_MESSAGE_TOO_LARGE);
		return;
	}
	size_t used = 4 + (rq->version >= 1 ? 4 : 0) + 4;
	for (int32_t i = 0; i < n; i++) {
		struct kc_described_group *d = &rg[i];
		struct group *gr = group_find(g, ids[i].ptr, str_len(ids[i]));
		bool other = gr && gr->cg;
		if (other) /* not a classic group: as if there were none */
			gr = NULL;
		*d = (struct kc_described_group){
			.error_code = ERR_NONE, .error_message = null_str,
			.group_id = ids[i],
			.group_state = str_of(DEAD_NAME, strlen(DEAD_NAME)),
			.protocol_type = empty_str, .protocol_data = empty_str,
			.authorized_operations = q->include_authorized_operations ?
				GROUP_OPERATIONS : INT32_MIN};
		int16_t not_mine = mine(g, ids[i]);
		if (not_mine) {
			d->error_code = not_mine;
			d->group_state = empty_str;
			used += described_bytes(d, rq->version);
			continue;
		}
		if (!gr && rq->version >= 6) {
			/* KIP-1043: an error and Kafka's message; before v6
			 * Dead without one (Kafka 3.9) */
			d->error_code = KC_ERR_GROUP_ID_NOT_FOUND;
			int len = (int)str_len(ids[i]);
			char *m = kc_arena_take(&g->build, (size_t)len + 40, 1);
			if (m)
				d->error_message = str_of(m, (size_t)snprintf(
					m, (size_t)len + 40, other ?
					"Group %.*s is not a classic group." :
					"Group %.*s not found.", len,
					len ? ids[i].ptr : ""));
		}
		if (gr) {
			const char *s = state_names[gr->state];
			bool stable = gr->state == ST_STABLE;
			d->group_state = str_of(s, strlen(s));
			if (gr->type_len >= 0)
				d->protocol_type = str_of(gr->type,
							  (size_t)gr->type_len);
			if (stable)
				d->protocol_data = str_of(
					gr->protocol, (size_t)gr->protocol_len);
			struct kc_described_group_member *dm =
				kc_arena_take(&g->build, gr->nmembers, sizeof(*dm));
			uint32_t nm = dm ? gr->nmembers : 0;
			if (gr->nmembers && !dm)
				d->error_code = SN_ERR_MESSAGE_TOO_LARGE;
			for (uint32_t k = 0; k < nm; k++) {
				const struct member *m = gr->members[k];
				const struct protocol *p = stable ? member_protocol(
					m, gr->protocol, (size_t)gr->protocol_len) : NULL;
				dm[k] = (struct kc_described_group_member){
					.member_id = str_of(m->id, m->id_len),
					.group_instance_id = m->instance_len < 0 ?
						null_str : str_of(m->instance,
							(size_t)m->instance_len),
					.client_id = str_of(m->client_id,
							    m->client_id_len),
					.client_host = empty_str,
					.member_metadata = {p ? m->blob + p->meta_off : NULL,
							    p ? (int32_t)p->meta_len : 0},
					.member_assignment = {
						stable ? m->assignment : NULL,
						stable ? (int32_t)m->assignment_len : 0},
				};
			}
			d->members = (struct kc_array){dm, (int32_t)nm};
		}
		if (used + described_bytes(d, rq->version) > SL_GROUPS_MAX_RESPONSE) {
			d->members = (struct kc_array){NULL, 0};
			d->protocol_data = empty_str;
			d->error_code = SN_ERR_MESSAGE_TOO_LARGE;
		}
		used += described_bytes(d, rq->version);
	}
	r->groups = (struct kc_array){rg, n};
	if (send_body(g, rq, r) == -EMSGSIZE)
		send_error(g, rq, q, SN_ERR_MESSAGE_TOO_LARGE);
}

/* ASCII case-insensitive equality of s and the NUL-terminated name. */
static bool str_eq_nocase(struct kc_str s, const char *name)
{
	size_t n = strlen(name);
	if (s.len < 0 || (size_t)s.len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s.ptr[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		char d = name[i];
		if (d >= 'A' && d <= 'Z')
			d = (char)(d - 'A' + 'a');
		if (c != d)
			return false;
	}
	return true;
}

/* Whether filter (an array of struct kc_str; empty or null: no filter)
 * names name, case aside. */
static bool filter_has(struct kc_array filter, const char *name)
{
	const struct kc_str *f = filter.items;
	if (filter.count <= 0)
		return true;
	for (int32_t i = 0; i < filter.count; i++)
		if (str_eq_nocase(f[i], name))
			return true;
	return false;
}

/* Every group (those holding only offsets too, as classic groups), as
 * Kafka lists them: v4's states_filter keeps the groups in one of the
 * states named (a consumer group's are KIP-848's: Empty, Assigning,
 * Reconciling, Stable), v5's types_filter those of the types it names
 * ("classic", "consumer"); the names compare without regard to case, an
 * empty filter keeps everything. */
static void on_list_groups(struct sl_groups *g, const struct req *rq,
			   const struct kc_list_groups_req *q)
{
	union kc_response u;
	struct kc_list_groups_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_LIST_GROUPS);
	g->build.used = 0;
	struct kc_listed_group *lg = kc_arena_take(&g->build, g->ngroups, sizeof(*lg));
	uint32_t n = 0, seen = 0;
	for (uint32_t i = 0; lg && i < SL_GROUPS_MAX; i++) {
		const struct group *gr = &g->groups[i];
		if (!gr->used)
			continue;
		seen++;
		const char *type = gr->cg ? "consumer" : "classic";
		const char *state = gr->cg ? sl_cg_state(gr->cg) :
					     state_names[gr->state];
		if (!filter_has(q->types_filter, type) ||
		    !filter_has(q->states_filter, state))
			continue;
		lg[n] = (struct kc_listed_group){
			.group_id = str_of(gr->id, gr->id_len),
			.protocol_type = gr->type_len < 0 ? empty_str :
				str_of(gr->type, (size_t)gr->type_len),
			.group_state = str_of(state, strlen(state)),
			.group_type = str_of(type, strlen(type)),
		};
		n++;
	}
	assert(!lg || seen == g->ngroups);
	r->groups = (struct kc_array){lg, (int32_t)n};
	if (send_body(g, rq, r) == -EMSGSIZE)
		send_error(g, rq, NULL, SN_ERR_MESSAGE_TOO_LARGE);
}

/* ---- OffsetDelete ---- */

#define ERR_GROUP_SUBSCRIBED_TO_TOPIC 86
#define CONSUMER_PROTOCOL_TYPE "consumer"

/* Read a big-endian int16/int32 at *at of p (len bytes), moving *at;
 * false when they are not there. */
static bool rd16(const uint8_t *p, size_t len, size_t *at, int16_t *v)
{
	if (len - *at < 2)
		return false;
	*v = (int16_t)((p[*at] << 8) | p[*at + 1]);
	*at += 2;
	return true;
}

static bool rd32(const uint8_t *p, size_t len, size_t *at, int32_t *v)
{
	if (len - *at < 4)
		return false;
	*v = (int32_t)((uint32_t)p[*at] << 24 | (uint32_t)p[*at + 1] << 16 |
		       (uint32_t)p[*at + 2] << 8 | p[*at + 3]);
	*at += 4;
	return true;
}

/* Whether the subscription p (len bytes; the consumer protocol's
 * metadata, read as its version 0 prefix: version, topics, user data)
 * names topic, in *hit; false when it cannot be read. */
static bool subscription_has(const uint8_t *p, size_t len,
			     struct kc_str topic, bool *hit)
{
	size_t at = 0;
	int16_t version, tl;
	int32_t n, ul;
	if (!rd16(p, len, &at, &version) || version < 0 ||
	    !rd32(p, len, &at, &n) || n < 0 || (size_t)n > len)
		return false;
	for (int32_t i = 0; i < n; i++) {
		if (!rd16(p, len, &at, &tl) || tl < 0 ||
		    len - at < (size_t)tl)
			return false;
		if (kc_str_is(topic, (const char *)p + at, (size_t)tl))
			*hit = true;
		at += (size_t)tl;
	}
	if (!rd32(p, len, &at, &ul) || ul < -1 ||
	    (ul > 0 && len - at < (size_t)ul))
		return false;
	return true;
}

/* Kafka's isSubscribedToTopic for a group with members: the union of the
 * members' subscriptions for the chosen protocol names topic; when it
 * cannot be known (not a consumer group's protocol, no protocol chosen
 * yet, a subscription that does not read) every topic counts as
 * subscribed. */
static bool subscribed(const struct group *gr, struct kc_str topic)
{
	bool hit = false;
	if (gr->protocol_len < 0 || gr->nmembers == 0)
		return true;
	for (uint32_t i = 0; i < gr->nmembers; i++) {
		const struct member *m = gr->members[i];
		const struct protocol *p = member_protocol(
			m, gr->protocol, (size_t)gr->protocol_len);
		if (!p || !subscription_has(m->blob + p->meta_off, p->meta_len,
					    topic, &hit))
			return true;
	}
	return hit;
}

/*
 * KIP-496, as Kafka's classic coordinator: for an Empty group every
 * partition named loses its committed offset; for a consumer group
 * ("consumer" protocol type) with members, those of topics no member
 * subscribes to, the others answered GROUP_SUBSCRIBED_TO_TOPIC (86); any
 * other group with members: NON_EMPTY_GROUP (68) at the top; a group that
 * does not exist: GROUP_ID_NOT_FOUND (69); an empty id: INVALID_GROUP_ID.
 * A partition answered NONE has no offset afterwards, whether it had one
 * or not.  The removals are made durable (one tombstone each, as an
 * expiry's) before memory forgets them; when they cannot be, those
 * partitions are answered KAFKA_STORAGE_ERROR and keep their offsets.
 */
static int on_offset_delete(struct sl_groups *g, const struct req *rq,
			    const struct kc_offset_delete_req *q)
{
	union kc_response u;
	struct kc_offset_delete_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_OFFSET_DELETE);
	g->build.used = 0;
	if (q->group_id.len <= 0)
		return send_error(g, rq, q, KC_ERR_INVALID_GROUP_ID);
	struct group *gr = group_find(g, q->group_id.ptr,
				      (size_t)q->group_id.len);
	if (!gr)
		return send_error(g, rq, q, KC_ERR_GROUP_ID_NOT_FOUND);
	bool consumer = gr->type_len == (int16_t)strlen(CONSUMER_PROTOCOL_TYPE) &&
		!memcmp(gr->type, CONSUMER_PROTOCOL_TYPE, (size_t)gr->type_len);
	if (gr->cg)
		consumer = true;
	if (has_members(gr) && !consumer)
		return send_error(g, rq, q, KC_ERR_NON_EMPTY_GROUP);
	int32_t nt = q->topics.count > 0 ? q->topics.count : 0;
	const struct kc_offset_delete_req_topic *qt = q->topics.items;
	struct kc_offset_delete_resp_topic *rt =
		kc_arena_take(&g->build, (size_t)nt, sizeof(*rt));
	if (nt && !rt)
		return send_error(g, rq, q, SN_ERR_MESSAGE_TOO_LARGE);
	uint32_t records = 0;
	bool broken = sl_commits_broken(&g->commits);
	for (int32_t i = 0; i < nt; i++) {
		int32_t np = qt[i].partitions.count > 0 ?
			     qt[i].partitions.count : 0;
		const struct kc_offset_delete_req_partition *qp =
			qt[i].partitions.items;
		struct kc_offset_delete_resp_partition *rp =
			kc_arena_take(&g->build, (size_t)np, sizeof(*rp));
		if (np && !rp)
			return send_error(g, rq, q, SN_ERR_MESSAGE_TOO_LARGE);
		rt[i] = (struct kc_offset_delete_resp_topic){
			qt[i].name, {rp, np}};
		bool topic_ok = valid_topic(qt[i].name);
		bool busy = topic_ok && has_members(gr) &&
			    (gr->cg ? sl_cg_subscribed(gr->cg, qt[i].name) :
			     subscribed(gr, qt[i].name));
		for (int32_t j = 0; j < np; j++) {
			int32_t part = qp[j].partition_index;
			rp[j] = (struct kc_offset_delete_resp_partition){
				part, ERR_NONE};
			if (!topic_ok || part < 0) {
				rp[j].error_code =
					SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (busy) {
				rp[j].error_code = ERR_GROUP_SUBSCRIBED_TO_TOPIC;
				continue;
			}
			int64_t at = sl_commits_find(&gr->commits,
						     qt[i].name.ptr,
						     (size_t)qt[i].name.len,
						     part);
			if (at < 0)
				continue;
			if (broken)
				rp[j].error_code = SN_ERR_KAFKA_STORAGE_ERROR;
			else
				records++;
		}
	}
	r->topics = (struct kc_array){rt, nt};
	long n = encode(g, rq, r);
	if (n < 0) /* too long to answer: nothing is removed */
		return send_error(g, rq, q, SN_ERR_MESSAGE_TOO_LARGE);
	int rc = 0;
	if (records) {
		sl_commits_batch_begin(&g->commits);
		for (int32_t i = 0; i < nt; i++) {
			const struct kc_offset_delete_resp_partition *rp =
				rt[i].partitions.items;
			for (int32_t j = 0; j < rt[i].partitions.count; j++) {
				int64_t at = rp[j].error_code != ERR_NONE ? -1 :
					sl_commits_find(&gr->commits,
							qt[i].name.ptr,
							(size_t)qt[i].name.len,
							rp[j].partition_index);
				if (at >= 0) /* twice when named twice: harmless */
					sl_commits_add_remove(&g->commits,
							      &gr->commits,
							      (uint32_t)at);
			}
		}
		rc = sl_commits_batch_end(&g->commits);
	}
	for (int32_t i = 0; i < nt; i++) {
		struct kc_offset_delete_resp_partition *rp =
			(void *)rt[i].partitions.items;
		for (int32_t j = 0; j < rt[i].partitions.count; j++) {
			if (rp[j].error_code != ERR_NONE)
				continue;
			int64_t at = sl_commits_find(&gr->commits,
						     qt[i].name.ptr,
						     (size_t)qt[i].name.len,
						     rp[j].partition_index);
			if (at < 0)
				continue; /* had none, or named twice */
			if (rc < 0)
				rp[j].error_code = SN_ERR_KAFKA_STORAGE_ERROR;
			else
				sl_commits_remove(&g->commits, &gr->commits,
						  (uint32_t)at);
		}
	}
	n = encode(g, rq, r);
	assert(n > 0); /* same size as before */
	deliver(g, rq, n);
	maybe_compact(g);
	return 0;
}

/* ---- DeleteGroups ---- */

/* Each group named: its answer, as Kafka gives it (groups.h); those
 * deleted get their tombstones durable before memory forgets them, and
 * none is deleted unless the answer can be sent. */
static int on_delete_groups(struct sl_groups *g, const struct req *rq,
			    const struct kc_delete_groups_req *q)
{
	union kc_response u;
	struct kc_delete_groups_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_DELETE_GROUPS);
	g->build.used = 0;
	int32_t n = q->groups_names.count > 0 ? q->groups_names.count : 0;
	const struct kc_str *ids = q->groups_names.items;
	/* each result takes at least 5 bytes (2 + 1 + 2) */
	if ((size_t)n > SL_GROUPS_MAX_RESPONSE / 5)
		return -EMSGSIZE;
	struct kc_deletable_group_result *res =
		kc_arena_take(&g->build, (size_t)n, sizeof(*res));
	struct group **doomed = kc_arena_take(&g->build, (size_t)n, sizeof(*doomed));
	if (n && (!res || !doomed))
		return -EMSGSIZE;
	uint32_t ndoomed = 0;
	for (int32_t i = 0; i < n; i++) {
		struct group *gr = valid_group_id(ids[i]) ?
			group_find(g, ids[i].ptr, (size_t)ids[i].len) : NULL;
		res[i] = (struct kc_deletable_group_result){ids[i], ERR_NONE};
		doomed[i] = NULL;
		if (ids[i].len <= 0)
			res[i].error_code = KC_ERR_INVALID_GROUP_ID;
		else if (mine(g, ids[i]))
			res[i].error_code = mine(g, ids[i]);
		else if (!gr || gr->deleting) /* or named twice */
			res[i].error_code = KC_ERR_GROUP_ID_NOT_FOUND;
		else if (has_members(gr))
			res[i].error_code = KC_ERR_NON_EMPTY_GROUP;
		else if (sl_commits_broken(&g->commits))
			res[i].error_code = SN_ERR_KAFKA_STORAGE_ERROR;
		if (res[i].error_code != ERR_NONE)
			continue;
		gr->deleting = true;
		doomed[i] = gr;
		ndoomed++;
	}
	r->results = (struct kc_array){res, n};
	long len = encode(g, rq, r);
	int rc = len < 0 ? (int)len : 0;
	if (rc == 0) {
		sl_commits_batch_begin(&g->commits);
		for (int32_t i = 0; i < n; i++) {
			const struct group *gr = doomed[i];
			if (gr && (gr->commits.n || gr->commits.logged_ms !=
						     SL_COMMITS_LOGGED_NONE))
				sl_commits_add_delete(&g->commits,
						      &gr->commits);
		}
		/* nothing appended when it fails */
		rc = sl_commits_batch_end(&g->commits);
	}
	for (int32_t i = 0; i < n; i++) {
		if (!doomed[i])
			continue;
		doomed[i]->deleting = false;
		if (rc < 0)
			res[i].error_code = SN_ERR_KAFKA_STORAGE_ERROR;
		else
			group_free(g, doomed[i]);
		ndoomed--;
	}
	assert(ndoomed == 0);
	if (len < 0)
		return (int)len; /* nothing deleted */
	len = encode(g, rq, r);
	assert(len > 0); /* same size as before */
	deliver(g, rq, len);
	maybe_compact(g);
	return 0;
}

/* ---- ConsumerGroupHeartbeat, ConsumerGroupDescribe (KIP-848) ---- */

static const char consumer_type[] = "consumer";

/* The group a heartbeat is for, made or turned into a consumer group when
 * it joins (epoch 0) and the group has no classic members; NULL with the
 * error in *code. */
static struct group *cg_group_of(struct sl_groups *g,
				 const struct kc_consumer_group_heartbeat_req *q,
				 int16_t *code)
{
	struct group *gr = group_find(g, q->group_id.ptr,
				      (size_t)q->group_id.len);
	if (q->member_epoch != 0) {
		if (!gr || !gr->cg) {
			*code = KC_ERR_GROUP_ID_NOT_FOUND;
			return NULL;
		}
		return gr;
	}
	if (!gr && !(gr = group_create(g, q->group_id.ptr,
				       (size_t)q->group_id.len))) {
		*code = KC_ERR_POLICY_VIOLATION;
		return NULL;
	}
	if (gr->cg)
		return gr;
	if (gr->nmembers || gr->npending || gr->state != ST_EMPTY) {
		*code = KC_ERR_GROUP_ID_NOT_FOUND; /* a classic group in use */
		return NULL;
	}
	if (!(gr->cg = sl_cg_create())) {
		*code = SN_ERR_UNKNOWN_SERVER_ERROR;
		return NULL;
	}
	return gr;
}

static void on_cg_heartbeat(struct sl_groups *g, const struct req *rq,
			    const struct kc_consumer_group_heartbeat_req *q,
			    int64_t now_ms)
{
	union kc_response u;
	struct kc_consumer_group_heartbeat_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_CONSUMER_GROUP_HEARTBEAT);
	g->build.used = 0;
	const char *msg = NULL;
	int16_t code = sl_cg_validate(q, &msg);
	if (code == ERR_NONE && !valid_group_id(q->group_id))
		code = KC_ERR_INVALID_GROUP_ID;
	struct group *gr = code ? NULL : cg_group_of(g, q, &code);
	if (!gr) {
		r->error_code = code;
		if (msg)
			r->error_message = str_of(msg, strlen(msg));
		int rc = send_body(g, rq, r);
		assert(rc == 0); /* small */
		(void)rc;
		return;
	}
	uint32_t before = sl_cg_members(gr->cg);
	sl_cg_heartbeat(gr->cg, &g->cg_env, q, rq->client_id,
			SL_GROUPS_MEMBERS_MAX, now_ms, &g->build, r);
	uint32_t after = sl_cg_members(gr->cg);
	if (before == 0 && after > 0) { /* has members: offsets never expire */
		gr->type_len = (int16_t)strlen(consumer_type);
		memcpy(gr->type, consumer_type, sizeof(consumer_type) - 1);
	} else if (before > 0 && after == 0) {
		became_empty(g, gr);
	}
	if (send_body(g, rq, r) == -EMSGSIZE) /* SL_CG_PARTITIONS_MAX fits */
		send_error(g, rq, NULL, SN_ERR_MESSAGE_TOO_LARGE);
}

/* Each group id: the consumer group, or GROUP_ID_NOT_FOUND (classic or
 * unknown; INVALID_GROUP_ID for an empty id), as Kafka answers; a group
 * too large to describe with the others is answered MESSAGE_TOO_LARGE. */
static void on_cg_describe(struct sl_groups *g, const struct req *rq,
			   const struct kc_consumer_group_describe_req *q)
{
	union kc_response u;
	struct kc_consumer_group_describe_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_CONSUMER_GROUP_DESCRIBE);
	g->build.used = 0;
	int32_t n = q->group_ids.count > 0 ? q->group_ids.count : 0;
	const struct kc_str *ids = q->group_ids.items;
	struct kc_consumer_group_describe_resp_described_group *rg =
		kc_arena_take(&g->build, (size_t)n, sizeof(*rg));
	if (n && !rg) {
		send_error(g, rq, NULL, SN_ERR_MESSAGE_TOO_LARGE);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		struct kc_consumer_group_describe_resp_described_group *d = &rg[i];
		*d = (struct kc_consumer_group_describe_resp_described_group){
			.error_code = ERR_NONE, .error_message = null_str,
			.group_id = ids[i], .group_state = empty_str,
			.assignor_name = empty_str,
			.authorized_operations = q->include_authorized_operations ?
				GROUP_OPERATIONS : INT32_MIN};
		struct group *gr = valid_group_id(ids[i]) ?
			group_find(g, ids[i].ptr, (size_t)ids[i].len) : NULL;
		if (ids[i].len <= 0)
			d->error_code = KC_ERR_INVALID_GROUP_ID;
		else if (mine(g, ids[i]))
			d->error_code = mine(g, ids[i]);
		else if (!gr || !gr->cg)
			d->error_code = KC_ERR_GROUP_ID_NOT_FOUND;
		else if (sl_cg_describe(gr->cg, &g->build, d) < 0) {
			d->members = (struct kc_array){NULL, 0};
			d->error_code = SN_ERR_MESSAGE_TOO_LARGE;
		}
	}
	r->groups = (struct kc_array){rg, n};
	if (send_body(g, rq, r) != -EMSGSIZE)
		return;
	/* too long together: the groups without their members */
	for (int32_t i = 0; i < n; i++)
		if (rg[i].members.count > 0) {
			rg[i].members = (struct kc_array){NULL, 0};
			rg[i].error_code = SN_ERR_MESSAGE_TOO_LARGE;
		}
	if (send_body(g, rq, r) == -EMSGSIZE)
		send_error(g, rq, q, SN_ERR_MESSAGE_TOO_LARGE);
}

/* ---- transactional offsets (control/txn.h) ---- */

int16_t sl_groups_txn_check(struct sl_groups *g, const char *group,
			    size_t group_len, int32_t generation,
			    const char *member, size_t member_len)
{
	assert(g && (group || group_len == 0));
	if (group_len == 0 || group_len > SL_GROUPS_NAME_MAX)
		return KC_ERR_INVALID_GROUP_ID;
	struct group *gr = group_find(g, group, group_len);
	if (member_len > 0) {
		struct member *m = gr ? member_find(gr, str_of(member,
						    member_len > INT16_MAX ?
						    INT16_MAX : member_len)) :
				   NULL;
		if (!m)
			return KC_ERR_UNKNOWN_MEMBER_ID;
	}
	if (generation >= 0 && (!gr || generation != gr->generation))
		return KC_ERR_ILLEGAL_GENERATION;
	return ERR_NONE;
}

int sl_groups_txn_commit(struct sl_groups *g, const char *group,
			 size_t group_len, const struct sl_groups_txn_offset *o,
			 uint32_t n)
{
	assert(g && group && group_len > 0 && group_len <= SL_GROUPS_NAME_MAX);
	assert(o || n == 0);
	if (n == 0)
		return 0;
	struct group *gr = group_find(g, group, group_len);
	bool made = false;
	if (!gr) {
		if (!(gr = group_create(g, group, group_len)))
			return -EOVERFLOW;
		made = true;
	}
	uint32_t fresh = 0;
	for (uint32_t i = 0; i < n; i++) {
		assert(o[i].topic_len > 0 && o[i].topic_len <= SL_GROUPS_TOPIC_MAX &&
		       o[i].partition >= 0 &&
		       o[i].meta_len <= SL_GROUPS_OFFSET_METADATA_MAX);
		if (sl_commits_find(&gr->commits, o[i].topic, o[i].topic_len,
				    o[i].partition) < 0)
			fresh++;
	}
	int rc = -EOVERFLOW;
	if (g->commits.n + fresh > SL_GROUPS_OFFSETS_MAX)
		goto out_sweep;
	int64_t wall = wall_now(g);
	int64_t state = gr->state == ST_EMPTY ? gr->empty_ms : -1;
	bool put_state = gr->type_len >= 0 && state != gr->commits.logged_ms;
	sl_commits_batch_begin(&g->commits);
	if (put_state)
		sl_commits_add_state(&g->commits, &gr->commits, state);
	for (uint32_t i = 0; i < n; i++)
		sl_commits_add_commit(&g->commits, &gr->commits, o[i].topic,
				      o[i].topic_len, o[i].partition,
				      o[i].offset, o[i].leader_epoch,
				      o[i].meta, o[i].meta_len, wall);
	if ((rc = sl_commits_batch_end(&g->commits)) < 0)
		goto out_sweep;
	if (put_state)
		sl_commits_logged(&g->commits, &gr->commits, state);
	for (uint32_t i = 0; i < n; i++) {
		int prc = sl_commits_put(&g->commits, &gr->commits, o[i].topic,
					 o[i].topic_len, o[i].partition,
					 o[i].offset, o[i].leader_epoch,
					 o[i].meta, o[i].meta_len, wall);
		/* durable, but not in memory: a reopen reads it */
		if (prc == -ENOMEM)
			rc = prc;
		assert(prc != -EOVERFLOW);
	}
	if (gr->state == ST_EMPTY)
		note_expiry(g, sl_commits_expires_at(&g->commits,
			gr->type_len >= 0 ? gr->empty_ms : wall));
	maybe_compact(g);
	return rc;
out_sweep:
	if (made)
		groups_sweep(g); /* the group made for nothing */
	return rc;
}

void sl_groups_set_pending(struct sl_groups *g, sl_groups_pending_fn pending,
			   void *ctx)
{
	assert(g);
	g->pending = pending;
	g->pending_ctx = ctx;
}

/* ---- the contract ---- */

int sl_groups_open(const char *dir, const struct sl_groups_config *cfg,
		   sl_groups_reply_fn reply, void *ctx, int64_t now_ms,
		   struct sl_groups **out, char *err, size_t errlen)
{
	assert(dir && reply && out && err && errlen > 0);
	err[0] = 0;
	if (cfg && cfg->retention_ms <= 0) {
		snprintf(err, errlen, "offsets retention %lld ms: must be > 0",
			 (long long)cfg->retention_ms);
		return -EINVAL;
	}
	int rc = -ENOMEM;
	struct sl_groups *g = calloc(1, sizeof(*g));
	if (!g)
		goto out_nomem;
	g->reply = reply;
	g->ctx = ctx;
	g->open_ms = now_ms;
	g->clock = cfg && cfg->clock ? cfg->clock : &sl_clock_system;
	g->cg_env = (struct sl_cg_env){
		.heartbeat_interval_ms = cfg && cfg->consumer_heartbeat_interval_ms > 0 ?
			cfg->consumer_heartbeat_interval_ms :
			SL_CG_HEARTBEAT_INTERVAL_MS_DEFAULT,
		.session_timeout_ms = cfg && cfg->consumer_session_timeout_ms > 0 ?
			cfg->consumer_session_timeout_ms :
			SL_CG_SESSION_TIMEOUT_MS_DEFAULT,
		.topic = cfg ? cfg->topic : NULL,
		.topic_ctx = cfg ? cfg->topic_ctx : NULL,
		.open_ms = now_ms,
	};
	g->topic_name = cfg ? cfg->topic_name : NULL;
	g->coordinates = cfg ? cfg->coordinates : NULL;
	g->coordinates_ctx = cfg ? cfg->coordinates_ctx : NULL;
	g->load_wall_ms = wall_now(g);
	g->groups = calloc(SL_GROUPS_MAX, sizeof(*g->groups));
	uint8_t *in = malloc(ARENA_BYTES), *build = malloc(ARENA_BYTES);
	g->in = (struct kc_arena){in, ARENA_BYTES, 0};
	g->build = (struct kc_arena){build, ARENA_BYTES, 0};
	if (!g->groups || !in || !build)
		goto out_free;
	const struct sdisk *disk = cfg && cfg->disk ? cfg->disk : &sdisk_posix;
	int64_t retention_ms = cfg ? cfg->retention_ms :
				     SL_GROUPS_RETENTION_MS_DEFAULT;
	rc = 0;
	if (cfg && cfg->sink)
		sl_commits_open_sink(&g->commits, retention_ms, cfg->sink);
	else
		rc = sl_commits_open(&g->commits, disk, dir, retention_ms,
				     g->load_wall_ms, apply_record, g, err,
				     errlen);
	if (rc == -EOVERFLOW)
		snprintf(err, errlen, "%s/%s holds more than the %d groups or "
			 "%d committed offsets this sluice-control keeps: run "
			 "the build that wrote it, or move the file away to "
			 "start with no committed offsets", dir,
			 SL_OFFSETS_FILE, SL_GROUPS_MAX, SL_GROUPS_OFFSETS_MAX);
	if (rc < 0)
		goto out_groups;
	/* nobody is a member after a restart: a group that had members
	 * became Empty now */
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		struct group *gr = &g->groups[i];
		if (gr->used && gr->type_len >= 0)
			gr->empty_ms = gr->commits.logged_ms >= 0 ?
				       gr->commits.logged_ms : g->load_wall_ms;
	}
	groups_sweep(g);
	if (sl_commits_must_rewrite(&g->commits) && (rc = compact(g)) < 0) {
		snprintf(err, errlen, "%s/%s: rewriting it in the current "
			 "version: %s", dir, SL_OFFSETS_FILE, strerror(-rc));
		goto out_groups;
	}
	g->expiry_ms = g->load_wall_ms; /* a scan at the first request */
	log_states(g);
	*out = g;
	return 0;
out_groups:
	/* those the open made, then the file (when it opened) */
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++)
		if (g->groups[i].used)
			group_free(g, &g->groups[i]);
	sl_commits_close(&g->commits);
out_free:
	free(g->in.base);
	free(g->build.base);
	free(g->groups);
	free(g);
out_nomem:
	if (rc == -ENOMEM && !err[0])
		snprintf(err, errlen, "consumer groups in %s: out of memory",
			 dir);
	return rc;
}

/* ---- a cluster's store: loading and unloading partitions ---- */

int sl_groups_load_record(struct sl_groups *g, const struct sl_offsets_rec *r)
{
	return apply_record(g, r);
}

void sl_groups_loaded(struct sl_groups *g, sl_groups_match_fn match,
		      void *ctx)
{
	int64_t wall = wall_now(g);
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		struct group *gr = &g->groups[i];
		if (!gr->used || has_members(gr) || gr->type_len < 0 ||
		    !match(ctx, gr->id, gr->id_len))
			continue;
		/* as at the open: a group that had members when its last
		 * coordinator stopped became Empty now */
		gr->empty_ms = gr->commits.logged_ms >= 0 ?
				       gr->commits.logged_ms : wall;
	}
	groups_sweep(g);
	g->expiry_ms = wall; /* a scan at the next request */
}

void sl_groups_unload(struct sl_groups *g, sl_groups_match_fn match,
		      void *ctx)
{
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		struct group *gr = &g->groups[i];
		if (!gr->used || !match(ctx, gr->id, gr->id_len))
			continue;
		/* members waiting for a join or a sync hear that the group
		 * moved, and find its new coordinator */
		for (uint32_t k = 0; k < gr->nmembers; k++) {
			struct member *m = gr->members[k];
			wait_error(g, &m->join, KC_API_JOIN_GROUP,
				   KC_ERR_NOT_COORDINATOR);
			wait_error(g, &m->sync, KC_API_SYNC_GROUP,
				   KC_ERR_NOT_COORDINATOR);
		}
		group_free(g, gr);
	}
}

void sl_groups_close(struct sl_groups *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++)
		if (g->groups[i].used)
			group_free(g, &g->groups[i]);
	assert(g->ngroups == 0);
	sl_commits_close(&g->commits);
	free(g->in.base);
	free(g->build.base);
	free(g->groups);
	free(g);
}

static bool group_api(int16_t key)
{
	switch (key) {
	case KC_API_OFFSET_COMMIT:
	case KC_API_OFFSET_FETCH:
	case KC_API_JOIN_GROUP:
	case KC_API_HEARTBEAT:
	case KC_API_LEAVE_GROUP:
	case KC_API_SYNC_GROUP:
	case KC_API_DESCRIBE_GROUPS:
	case KC_API_LIST_GROUPS:
	case KC_API_DELETE_GROUPS:
	case KC_API_OFFSET_DELETE:
	case KC_API_CONSUMER_GROUP_HEARTBEAT:
	case KC_API_CONSUMER_GROUP_DESCRIBE:
		return true;
	}
	return false;
}

int sl_groups_request(struct sl_groups *g, uint64_t token, const uint8_t *req,
		      size_t len, int64_t now_ms)
{
	assert(g && (req || len == 0));
	struct kc_request_header h;
	union kc_request body;
	run_timers(g, now_ms);
	g->in.used = 0;
	long n = kc_decode_request(req, len, &h, &body, &g->in);
	if (len < 8 || !group_api(h.api_key) ||
	    n == -SN_ERR_UNSUPPORTED_VERSION)
		return -EINVAL;
	struct req rq = {token, h.api_key, h.api_version, h.correlation_id,
			 h.client_id};
	int rc = 0;
	if (n < 0) {
		/* OffsetCommit and OffsetFetch v1 answer partition by partition,
		 * DeleteGroups group by group: without them, any answer would
		 * read as success */
		if (h.api_key == KC_API_OFFSET_COMMIT ||
		    h.api_key == KC_API_DELETE_GROUPS ||
		    (h.api_key == KC_API_OFFSET_FETCH && h.api_version < 2))
			return n == -ENOBUFS ? -EMSGSIZE : -EINVAL;
		/* a request too big for the arena is far bigger than any answer */
		int16_t code = n == -ENOBUFS ? SN_ERR_MESSAGE_TOO_LARGE :
					       SN_ERR_INVALID_REQUEST;
		rc = send_error(g, &rq, NULL, code);
		goto out;
	}
	assert(n == (long)len);
	const void *b = body.raw;
	/* a group of another broker (a cluster's): every API about one
	 * group says so at once, the others group by group below */
	struct kc_str one = {NULL, -1};
	switch (h.api_key) {
	case KC_API_OFFSET_COMMIT:
		one = ((const struct kc_offset_commit_req *)b)->group_id;
		break;
	case KC_API_OFFSET_FETCH:
		if (h.api_version < 8)
			one = ((const struct kc_offset_fetch_req *)b)->group_id;
		break;
	case KC_API_JOIN_GROUP:
		one = ((const struct kc_join_group_req *)b)->group_id;
		break;
	case KC_API_HEARTBEAT:
		one = ((const struct kc_heartbeat_req *)b)->group_id;
		break;
	case KC_API_LEAVE_GROUP:
		one = ((const struct kc_leave_group_req *)b)->group_id;
		break;
	case KC_API_SYNC_GROUP:
		one = ((const struct kc_sync_group_req *)b)->group_id;
		break;
	case KC_API_OFFSET_DELETE:
		one = ((const struct kc_offset_delete_req *)b)->group_id;
		break;
	case KC_API_CONSUMER_GROUP_HEARTBEAT:
		one = ((const struct kc_consumer_group_heartbeat_req *)b)
			->group_id;
		break;
	}
	int16_t not_mine = mine(g, one);
	if (not_mine) {
		rc = send_error(g, &rq, b, not_mine);
		goto out;
	}
	switch (h.api_key) {
	case KC_API_OFFSET_COMMIT:
		if (h.api_version >= 10) { /* topics by id: their names */
			struct kc_offset_commit_req *c = (void *)body.raw;
			struct kc_offset_commit_req_topic *t = (void *)c->topics.items;
			for (int32_t i = 0; i < c->topics.count; i++)
				t[i].name = topic_name_of(g, t[i].topic_id);
		}
		rc = on_offset_commit(g, &rq, b, now_ms);
		break;
	case KC_API_OFFSET_FETCH:
		rc = on_offset_fetch(g, &rq, b);
		break;
	case KC_API_JOIN_GROUP:
		on_join_group(g, &rq, b, now_ms);
		break;
	case KC_API_HEARTBEAT:
		on_heartbeat(g, &rq, b, now_ms);
		break;
	case KC_API_LEAVE_GROUP:
		on_leave_group(g, &rq, b, now_ms);
		break;
	case KC_API_SYNC_GROUP:
		on_sync_group(g, &rq, b, now_ms);
		break;
	case KC_API_DESCRIBE_GROUPS:
		on_describe_groups(g, &rq, b);
		break;
	case KC_API_LIST_GROUPS:
		on_list_groups(g, &rq, b);
		break;
	case KC_API_OFFSET_DELETE:
		rc = on_offset_delete(g, &rq, b);
		break;
	case KC_API_DELETE_GROUPS:
		rc = on_delete_groups(g, &rq, b);
		break;
	case KC_API_CONSUMER_GROUP_HEARTBEAT:
		on_cg_heartbeat(g, &rq, b, now_ms);
		break;
	case KC_API_CONSUMER_GROUP_DESCRIBE:
		on_cg_describe(g, &rq, b);
		break;
	}
out:
	log_states(g);
	groups_sweep(g);
	return rc;
}

int sl_groups_tick(struct sl_groups *g, int64_t now_ms)
{
	assert(g);
	run_timers(g, now_ms);
	int64_t next = next_deadline(g);
	int64_t wait_ms = next == INT64_MAX ? INT64_MAX : next - now_ms;
	if (g->expiry_ms != INT64_MAX && !sl_commits_broken(&g->commits))
		wait_ms = min64(wait_ms, g->expiry_ms - wall_now(g));
	if (wait_ms == INT64_MAX)
		return -1;
	if (wait_ms <= 0)
		return 0;
	return (int)min64(wait_ms, INT_MAX);
}

void sl_groups_drop_conn(struct sl_groups *g, uint32_t conn)
{
	assert(g);
	for (uint32_t i = 0; i < SL_GROUPS_MAX; i++) {
		struct group *gr = &g->groups[i];
		if (!gr->used)
			continue;
		for (uint32_t k = 0; k < gr->nmembers; k++) {
			struct member *m = gr->members[k];
			if (m->join.active && (uint32_t)(m->join.token >> 32) == conn)
				m->join.active = false;
			if (m->sync.active && (uint32_t)(m->sync.token >> 32) == conn)
				m->sync.active = false;
		}
	}
}
