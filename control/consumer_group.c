/*
 * A group of the consumer group protocol (consumer_group.h has the
 * contract and the rules).
 *
 * Happy path of a heartbeat: find or make the member (checking its epoch),
 * take its subscription, refresh the group's view of its subscribed topics
 * (bumping the group epoch on any change), recompute the target assignment
 * when the group epoch is ahead of it, move the member one step towards
 * its target (reconcile), answer with its epoch and, when it changed or
 * the request was a full one, its assignment.
 *
 * A member's partitions are three sorted sets of struct sl_tp: assigned
 * (what it may consume), pending (assigned before, no longer in its target,
 * not yet confirmed revoked) and target.  A partition is held by a member
 * when it is in its assigned or pending set; reconcile never adds a
 * partition to assigned while another member holds it, so the sets of
 * held partitions of the members never meet.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/assignor.h"
#include "control/consumer_group.h"
#include "proto/topic_uuid.h"

#define ERR_NONE 0
#define ERR_UNKNOWN_SERVER (-1)
#define ERR_INVALID_REQUEST 42
#define ERR_UNKNOWN_MEMBER_ID 25
#define ERR_GROUP_MAX_SIZE_REACHED 81

#define EPOCH_LEAVE (-1)
#define EPOCH_LEAVE_STATIC (-2)
#define TOPIC_NAME_MAX 249 /* Kafka's: no topic has a longer name */

enum mstate { M_STABLE, M_UNREVOKED, M_UNRELEASED };

struct tpset {
	struct sl_tp *v;  /* sorted; malloc'ed, NULL when empty */
	uint32_t n;
};

struct sub {              /* a subscribed topic name, in member.subs_blob */
	uint32_t off;
	uint16_t len;
};

struct member {
	char id[SL_CG_MEMBER_ID_MAX];
	uint16_t id_len;
	int16_t instance_len;        /* -1: dynamic member */
	char instance[SL_CG_NAME_MAX];
	int16_t rack_len;            /* -1: none */
	char rack[SL_CG_NAME_MAX];
	uint16_t client_id_len;
	char client_id[SL_CG_NAME_MAX]; /* truncated */
	int32_t epoch, prev_epoch;
	enum mstate state;
	int32_t rebalance_timeout_ms;
	int assignor;                /* -1: none asked for */
	struct sub *subs;            /* sorted by name, no repeats */
	uint32_t nsubs;
	char *subs_blob;
	struct tpset assigned, pending, target;
	int64_t session_deadline_ms;
	int64_t revoke_deadline_ms;  /* INT64_MAX: not revoking */
};

struct topic {                   /* a subscribed topic that exists */
	uint32_t id;
	int32_t partitions;          /* as the metadata says */
	int32_t usable;              /* within SL_CG_PARTITIONS_MAX */
	uint16_t name_len;
	char name[TOPIC_NAME_MAX];
};

struct sl_cgroup {
	int32_t group_epoch;
	int32_t assignment_epoch;
	struct member **members;     /* join order */
	uint32_t n, cap;
	struct topic *topics;        /* by id */
	uint32_t ntopics;
	int assignor;                /* of the last target */
};

/* ---- small helpers ---- */

static struct kc_str str_of(const char *p, size_t len)
{
	assert(len <= INT16_MAX);
	return (struct kc_str){p, (int32_t)len};
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static bool tp_has(const struct tpset *s, struct sl_tp tp)
{
	uint32_t lo = 0, hi = s->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = sl_tp_cmp(&s->v[mid], &tp);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static void tp_free(struct tpset *s)
{
	free(s->v);
	*s = (struct tpset){NULL, 0};
}

/* A copy of n partitions (sorted) in *out; -ENOMEM leaves *out alone. */
static int tp_copy(struct tpset *out, const struct sl_tp *v, uint32_t n)
{
	struct sl_tp *c = NULL;
	if (n) {
		c = malloc(n * sizeof(*c));
		if (!c)
			return -ENOMEM;
		memcpy(c, v, n * sizeof(*c));
	}
	free(out->v);
	*out = (struct tpset){c, n};
	return 0;
}

static void member_free(struct member *m)
{
	if (!m)
		return;
	free(m->subs);
	free(m->subs_blob);
	tp_free(&m->assigned);
	tp_free(&m->pending);
	tp_free(&m->target);
	free(m);
}

/* ---- the group ---- */

struct sl_cgroup *sl_cg_create(void)
{
	struct sl_cgroup *cg = calloc(1, sizeof(*cg));
	if (cg)
		cg->assignor = SL_ASSIGNOR_UNIFORM;
	return cg;
}

void sl_cg_destroy(struct sl_cgroup *cg)
{
	if (!cg)
		return;
	for (uint32_t i = 0; i < cg->n; i++)
		member_free(cg->members[i]);
	free(cg->members);
	free(cg->topics);
	free(cg);
}

uint32_t sl_cg_members(const struct sl_cgroup *cg)
{
	return cg->n;
}

static bool reconciled(const struct sl_cgroup *cg, const struct member *m)
{
	return m->state == M_STABLE && m->epoch == cg->assignment_epoch;
}

const char *sl_cg_state(const struct sl_cgroup *cg)
{
	if (cg->n == 0)
		return "Empty";
	if (cg->group_epoch > cg->assignment_epoch)
		return "Assigning";
	for (uint32_t i = 0; i < cg->n; i++)
		if (!reconciled(cg, cg->members[i]))
			return "Reconciling";
	return "Stable";
}

static struct member *find_id(const struct sl_cgroup *cg, struct kc_str id)
{
	for (uint32_t i = 0; i < cg->n; i++)
		if (kc_str_is(id, cg->members[i]->id, cg->members[i]->id_len))
			return cg->members[i];
	return NULL;
}

static struct member *find_instance(const struct sl_cgroup *cg,
				    struct kc_str instance)
{
	for (uint32_t i = 0; i < cg->n; i++) {
		struct member *m = cg->members[i];
		if (m->instance_len >= 0 &&
		    kc_str_is(instance, m->instance, (size_t)m->instance_len))
			return m;
	}
	return NULL;
}

static int refresh_topics(struct sl_cgroup *cg, const struct sl_cg_env *env);

/* Remove m (a leave or a fence): its partitions are free, the topics are
 * those the others subscribe to, and the group epoch goes up (once) so that
 * the target is recomputed without it. */
static void remove_member(struct sl_cgroup *cg, const struct sl_cg_env *env,
			  struct member *m)
{
	uint32_t i = 0;
	while (i < cg->n && cg->members[i] != m)
		i++;
	assert(i < cg->n);
	memmove(&cg->members[i], &cg->members[i + 1],
		(cg->n - i - 1) * sizeof(cg->members[0]));
	cg->n--;
	cg->group_epoch++;
	member_free(m);
	/* without memory the next heartbeat's refresh sees the change */
	(void)refresh_topics(cg, env);
}

/* Whether a member other than self holds tp. */
static bool held_by_other(const struct sl_cgroup *cg, const struct member *self,
			  struct sl_tp tp)
{
	for (uint32_t i = 0; i < cg->n; i++) {
		const struct member *o = cg->members[i];
		if (o != self && (tp_has(&o->assigned, tp) ||
				  tp_has(&o->pending, tp)))
			return true;
	}
	return false;
}

/* ---- validation ---- */

int16_t sl_cg_validate(const struct kc_consumer_group_heartbeat_req *q,
		       const char **msg)
{
	*msg = NULL;
	if (q->group_id.len <= 0) {
		*msg = "GroupId can't be empty.";
		return ERR_INVALID_REQUEST;
	}
	if (q->instance_id.len == 0) {
		*msg = "InstanceId can't be empty.";
		return ERR_INVALID_REQUEST;
	}
	if (q->rack_id.len == 0) {
		*msg = "RackId can't be empty.";
		return ERR_INVALID_REQUEST;
	}
	if (q->subscribed_topic_regex.len >= 0) {
		*msg = "SubscribedTopicRegex is not supported.";
		return ERR_INVALID_REQUEST;
	}
	if (q->member_id.len > SL_CG_MEMBER_ID_MAX ||
	    q->instance_id.len > SL_CG_NAME_MAX ||
	    q->rack_id.len > SL_CG_NAME_MAX ||
	    q->subscribed_topic_names.count > SL_CG_SUBSCRIBED_MAX) {
		*msg = "A member id, instance id, rack id or topic list is "
		       "longer than this coordinator keeps.";
		return ERR_INVALID_REQUEST;
	}
	int32_t e = q->member_epoch;
	if (e > 0 || e == EPOCH_LEAVE) {
		if (q->member_id.len <= 0) {
			*msg = "MemberId can't be empty.";
			return ERR_INVALID_REQUEST;
		}
	} else if (e == 0) {
		if (q->rebalance_timeout_ms == -1) {
			*msg = "RebalanceTimeoutMs must be provided in first "
			       "request.";
			return ERR_INVALID_REQUEST;
		}
		if (q->topic_partitions.count != 0) {
			*msg = "TopicPartitions must be empty when (re-)joining.";
			return ERR_INVALID_REQUEST;
		}
		if (q->subscribed_topic_names.count <= 0) {
			*msg = "SubscribedTopicNames must be set in first "
			       "request.";
			return ERR_INVALID_REQUEST;
		}
	} else if (e == EPOCH_LEAVE_STATIC) {
		if (q->member_id.len <= 0) {
			*msg = "MemberId can't be empty.";
			return ERR_INVALID_REQUEST;
		}
		if (q->instance_id.len < 0) {
			*msg = "InstanceId can't be null.";
			return ERR_INVALID_REQUEST;
		}
	} else {
		*msg = "MemberEpoch is invalid.";
		return ERR_INVALID_REQUEST;
	}
	if (q->server_assignor.len >= 0 &&
	    sl_assignor_find(q->server_assignor.ptr,
			     (size_t)q->server_assignor.len) < 0) {
		*msg = "ServerAssignor is not supported. Supported assignors: "
		       "uniform, range.";
		return SL_CG_ERR_UNSUPPORTED_ASSIGNOR;
	}
	return ERR_NONE;
}

/* ---- subscriptions and the topics they name ---- */

static int kc_str_cmp(const void *a, const void *b)
{
	const struct kc_str *x = a, *y = b;
	return name_cmp(x->ptr, (size_t)x->len, y->ptr, (size_t)y->len);
}

/* Whether m's subscription is the names of q (any order, repeats aside):
 * compared name by name after sorting a copy. */
static bool same_subs(const struct member *m, const struct kc_str *sorted,
		      uint32_t n)
{
	if (m->nsubs != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!kc_str_is(sorted[i], m->subs_blob + m->subs[i].off,
			    m->subs[i].len))
			return false;
	return true;
}

/* names (n, null entries allowed) sorted without repeats or nulls into
 * *out (malloc'ed); returns the count or -ENOMEM. */
static long sort_names(const struct kc_str *names, uint32_t n,
		       struct kc_str **out)
{
	struct kc_str *v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++)
		if (names[i].len >= 0)
			v[k++] = names[i];
	qsort(v, k, sizeof(*v), kc_str_cmp);
	uint32_t w = 0;
	for (uint32_t i = 0; i < k; i++)
		if (w == 0 || kc_str_cmp(&v[w - 1], &v[i]))
			v[w++] = v[i];
	*out = v;
	return w;
}

static int set_subs(struct member *m, const struct kc_str *sorted, uint32_t n)
{
	size_t bytes = 0;
	for (uint32_t i = 0; i < n; i++)
		bytes += (size_t)sorted[i].len;
	struct sub *subs = malloc((n ? n : 1) * sizeof(*subs));
	char *blob = malloc(bytes ? bytes : 1);
	if (!subs || !blob) {
		free(subs);
		free(blob);
		return -ENOMEM;
	}
	size_t off = 0;
	for (uint32_t i = 0; i < n; i++) {
		subs[i] = (struct sub){(uint32_t)off, (uint16_t)sorted[i].len};
		if (sorted[i].len)
			memcpy(blob + off, sorted[i].ptr, (size_t)sorted[i].len);
		off += (size_t)sorted[i].len;
	}
	free(m->subs);
	free(m->subs_blob);
	m->subs = subs;
	m->subs_blob = blob;
	m->nsubs = n;
	return 0;
}

static int topic_id_cmp(const void *a, const void *b)
{
	const struct topic *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * The topics the members subscribe to, as the metadata has them now, by
 * id.  Returns the count (*out malloc'ed) or -ENOMEM.
 */
static long subscribed_topics(const struct sl_cgroup *cg,
			      const struct sl_cg_env *env, struct topic **out)
{
	uint32_t total = 0;
	for (uint32_t i = 0; i < cg->n; i++)
		total += cg->members[i]->nsubs;
	struct kc_str *all = malloc((total ? total : 1) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	uint32_t k = 0;
	for (uint32_t i = 0; i < cg->n; i++) {
		const struct member *m = cg->members[i];
		for (uint32_t j = 0; j < m->nsubs; j++)
			all[k++] = str_of(m->subs_blob + m->subs[j].off,
					  m->subs[j].len);
	}
	struct kc_str *names;
	long n = sort_names(all, k, &names);
	free(all);
	if (n < 0)
		return n;
	struct topic *t = malloc(((size_t)n ? (size_t)n : 1) * sizeof(*t));
	if (!t) {
		free(names);
		return -ENOMEM;
	}
	uint32_t nt = 0;
	for (long i = 0; i < n; i++) {
		uint32_t id;
		int32_t parts;
		if (names[i].len <= 0 || names[i].len > TOPIC_NAME_MAX ||
		    !env->topic || !env->topic(env->topic_ctx, names[i].ptr,
					       (size_t)names[i].len, &id,
					       &parts) ||
		    id == 0 || parts < 0)
			continue;
		t[nt] = (struct topic){.id = id, .partitions = parts,
				       .name_len = (uint16_t)names[i].len};
		memcpy(t[nt].name, names[i].ptr, (size_t)names[i].len);
		nt++;
	}
	free(names);
	qsort(t, nt, sizeof(*t), topic_id_cmp);
	int64_t room = SL_CG_PARTITIONS_MAX;
	for (uint32_t i = 0; i < nt; i++) {
		t[i].usable = (int32_t)(t[i].partitions < room ?
					t[i].partitions : room);
		room -= t[i].usable;
	}
	*out = t;
	return nt;
}

static bool same_topics(const struct topic *a, uint32_t na,
			const struct topic *b, uint32_t nb)
{
	if (na != nb)
		return false;
	for (uint32_t i = 0; i < na; i++)
		if (a[i].id != b[i].id || a[i].partitions != b[i].partitions)
			return false;
	return true;
}

/* Refresh the group's topics.  Returns 1 when they changed (the caller
 * bumps the group epoch, once for all that changed), 0, or -ENOMEM
 * (nothing changed). */
static int refresh_topics(struct sl_cgroup *cg, const struct sl_cg_env *env)
{
	struct topic *t;
	long n = subscribed_topics(cg, env, &t);
	if (n < 0)
		return (int)n;
	if (same_topics(cg->topics, cg->ntopics, t, (uint32_t)n)) {
		free(t);
		return 0;
	}
	free(cg->topics);
	cg->topics = t;
	cg->ntopics = (uint32_t)n;
	return 1;
}

static const struct topic *topic_by_id(const struct sl_cgroup *cg, uint32_t id)
{
	uint32_t lo = 0, hi = cg->ntopics;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (cg->topics[mid].id == id)
			return &cg->topics[mid];
		if (cg->topics[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- the target assignment ---- */

/* Kafka's preferred server assignor: the one most members ask for (the
 * first in sl_assignor order on ties), uniform when none asks. */
static int group_assignor(const struct sl_cgroup *cg)
{
	uint32_t votes[SL_ASSIGNOR_COUNT] = {0};
	int best = SL_ASSIGNOR_UNIFORM;
	for (uint32_t i = 0; i < cg->n; i++)
		if (cg->members[i]->assignor >= 0)
			votes[cg->members[i]->assignor]++;
	for (int a = 0; a < SL_ASSIGNOR_COUNT; a++)
		if (votes[a] > votes[best])
			best = a;
	return best;
}

/* Recompute every member's target at the group epoch.  Returns 0 or
 * -ENOMEM (the old targets stay). */
static int update_target(struct sl_cgroup *cg)
{
	int rc = -ENOMEM;
	uint32_t nt = cg->ntopics, nm = cg->n;
	struct sl_assign_topic *at = malloc((nt ? nt : 1) * sizeof(*at));
	struct sl_assign_member *am = calloc(nm ? nm : 1, sizeof(*am));
	uint32_t *idx = NULL;
	uint32_t nidx = 0;
	for (uint32_t i = 0; i < nm; i++)
		nidx += cg->members[i]->nsubs;
	idx = malloc((nidx ? nidx : 1) * sizeof(*idx));
	if (!at || !am || !idx)
		goto out_free;
	for (uint32_t t = 0; t < nt; t++)
		at[t] = (struct sl_assign_topic){cg->topics[t].id,
						 cg->topics[t].usable};
	uint32_t *next = idx;
	for (uint32_t i = 0; i < nm; i++) {
		const struct member *m = cg->members[i];
		am[i].key = m->instance_len >= 0 ? m->instance : m->id;
		am[i].key_len = m->instance_len >= 0 ? (size_t)m->instance_len :
						       m->id_len;
		am[i].topics = next;
		for (uint32_t s = 0; s < m->nsubs; s++)
			for (uint32_t t = 0; t < nt; t++)
				if (!name_cmp(m->subs_blob + m->subs[s].off,
					      m->subs[s].len,
					      cg->topics[t].name,
					      cg->topics[t].name_len)) {
					next[am[i].ntopics++] = t;
					break;
				}
		next += am[i].ntopics;
		am[i].prev = m->target.v;
		am[i].nprev = m->target.n;
	}
	int a = group_assignor(cg);
	rc = sl_assign((enum sl_assignor)a, at, nt, am, nm);
	if (rc < 0)
		goto out_free;
	for (uint32_t i = 0; i < nm; i++) {
		struct member *m = cg->members[i];
		free(m->target.v);
		m->target = (struct tpset){am[i].out, am[i].nout};
	}
	cg->assignor = a;
	cg->assignment_epoch = cg->group_epoch;
out_free:
	free(idx);
	free(am);
	free(at);
	return rc;
}

/* ---- reconciliation (Kafka's CurrentAssignmentBuilder) ---- */

/* The owned partitions of a heartbeat (null: unknown) include one of s. */
static bool owns_any(const struct kc_array *owned, const struct tpset *s)
{
	if (owned->count < 0)
		return true;
	const struct kc_consumer_group_heartbeat_req_topic_partitions *t =
		owned->items;
	for (int32_t i = 0; i < owned->count; i++) {
		uint32_t id = sl_topic_uuid_id(t[i].topic_id.b);
		const int32_t *p = t[i].partitions.items;
		for (int32_t j = 0; j < t[i].partitions.count; j++)
			if (tp_has(s, (struct sl_tp){id, p[j]}))
				return true;
	}
	return false;
}

/* The owned partitions (not null) are all in s. */
static bool owned_subset(const struct kc_array *owned, const struct tpset *s)
{
	if (owned->count < 0)
		return false;
	const struct kc_consumer_group_heartbeat_req_topic_partitions *t =
		owned->items;
	for (int32_t i = 0; i < owned->count; i++) {
		uint32_t id = sl_topic_uuid_id(t[i].topic_id.b);
		const int32_t *p = t[i].partitions.items;
		for (int32_t j = 0; j < t[i].partitions.count; j++)
			if (!tp_has(s, (struct sl_tp){id, p[j]}))
				return false;
	}
	return true;
}

static void set_epoch(struct member *m, int32_t epoch)
{
	m->prev_epoch = m->epoch;
	m->epoch = epoch;
}

/*
 * One step of m towards its target at epoch (Kafka's
 * computeNextAssignment): keep assigned ∩ target; what else it had is to
 * be revoked, and while the member still owns some of it, it waits at
 * epoch; otherwise it gets the target's partitions nobody else holds and
 * moves to the assignment epoch, "unreleased" while some are still held.
 * Returns 0 or -ENOMEM (m unchanged).
 */
static int next_assignment(struct sl_cgroup *cg, struct member *m,
			   int32_t epoch, const struct kc_array *owned,
			   int64_t now_ms)
{
	uint32_t cap = m->assigned.n + m->target.n;
	struct sl_tp *keep = malloc((cap ? cap : 1) * sizeof(*keep));
	struct sl_tp *revoke = malloc((m->assigned.n ? m->assigned.n : 1) *
				      sizeof(*revoke));
	uint32_t nkeep = 0, nrevoke = 0;
	bool unreleased = false;
	if (!keep || !revoke) {
		free(keep);
		free(revoke);
		return -ENOMEM;
	}
	/* assigned and target are sorted: one merge gives keep (assigned ∩
	 * target, plus the free part of target - assigned) and revoke */
	uint32_t i = 0, j = 0;
	while (i < m->assigned.n || j < m->target.n) {
		int c = i == m->assigned.n ? 1 : j == m->target.n ? -1 :
			sl_tp_cmp(&m->assigned.v[i], &m->target.v[j]);
		if (c == 0) {
			keep[nkeep++] = m->assigned.v[i];
			i++, j++;
		} else if (c < 0) {
			revoke[nrevoke++] = m->assigned.v[i++];
		} else {
			struct sl_tp tp = m->target.v[j++];
			if (held_by_other(cg, m, tp))
				unreleased = true;
			else
				keep[nkeep++] = tp;
		}
	}
	struct tpset rs = {revoke, nrevoke};
	if (nrevoke && owns_any(owned, &rs)) {
		/* revoke first: what it keeps, nothing new yet */
		uint32_t w = 0;
		for (uint32_t k = 0; k < nkeep; k++)
			if (tp_has(&m->assigned, keep[k]))
				keep[w++] = keep[k];
		nkeep = w;
		free(m->assigned.v);
		m->assigned = (struct tpset){nkeep ? keep : NULL, nkeep};
		if (!nkeep)
			free(keep);
		free(m->pending.v);
		m->pending = rs;
		if (m->state != M_UNREVOKED || m->epoch != epoch)
			m->revoke_deadline_ms = now_ms + m->rebalance_timeout_ms;
		m->state = M_UNREVOKED;
		set_epoch(m, epoch);
		return 0;
	}
	free(revoke);
	free(m->assigned.v);
	m->assigned = (struct tpset){nkeep ? keep : NULL, nkeep};
	if (!nkeep)
		free(keep);
	tp_free(&m->pending);
	m->state = unreleased ? M_UNRELEASED : M_STABLE;
	m->revoke_deadline_ms = INT64_MAX;
	if (m->epoch != cg->assignment_epoch)
		set_epoch(m, cg->assignment_epoch);
	return 0;
}

static int reconcile(struct sl_cgroup *cg, struct member *m,
		     const struct kc_array *owned, int64_t now_ms)
{
	if (reconciled(cg, m))
		return 0;
	switch (m->state) {
	case M_STABLE:
	case M_UNRELEASED:
		return next_assignment(cg, m, m->epoch, owned, now_ms);
	case M_UNREVOKED:
		if (owns_any(owned, &m->pending))
			return 0;
		return next_assignment(cg, m, m->epoch + 1, owned, now_ms);
	}
	assert(!"unknown member state");
	return 0;
}

/* ---- heartbeats ---- */

static void fail(struct kc_consumer_group_heartbeat_resp *r, int16_t code,
		 const char *msg)
{
	r->error_code = code;
	r->error_message = msg ? str_of(msg, strlen(msg)) :
				 (struct kc_str){NULL, -1};
}

/* Kafka's epoch check of a known member: its epoch, or its previous one
 * with owned partitions all still assigned (the answer that moved it on
 * was lost). */
static bool epoch_ok(const struct member *m, int32_t epoch,
		     const struct kc_array *owned)
{
	if (epoch > m->epoch)
		return false;
	if (epoch < m->epoch)
		return epoch == m->prev_epoch && owned_subset(owned, &m->assigned);
	return true;
}

static struct member *new_member(struct sl_cgroup *cg, struct sl_cg_env *env,
				 struct kc_str id)
{
	if (cg->n == cg->cap) {
		uint32_t cap = cg->cap ? cg->cap * 2 : 4;
		struct member **v = realloc(cg->members, cap * sizeof(*v));
		if (!v)
			return NULL;
		cg->members = v;
		cg->cap = cap;
	}
	struct member *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (id.len > 0) {
		memcpy(m->id, id.ptr, (size_t)id.len);
		m->id_len = (uint16_t)id.len;
	} else {
		/* as Kafka's (a UUID) only in being unique: this
		 * coordinator's start and a sequence */
		int n = snprintf(m->id, sizeof(m->id), "cm-%llx-%llu",
				 (unsigned long long)env->open_ms,
				 (unsigned long long)++env->seq);
		assert(n > 0 && (size_t)n < sizeof(m->id));
		m->id_len = (uint16_t)n;
	}
	m->instance_len = -1;
	m->rack_len = -1;
	m->assignor = -1;
	m->state = M_STABLE;
	m->revoke_deadline_ms = INT64_MAX;
	cg->members[cg->n++] = m;
	return m;
}

static void leave(struct sl_cgroup *cg, const struct sl_cg_env *env,
		  const struct kc_consumer_group_heartbeat_req *q,
		  struct kc_consumer_group_heartbeat_resp *r)
{
	struct member *m;
	if (q->instance_id.len < 0) {
		m = find_id(cg, q->member_id);
		if (!m) {
			fail(r, ERR_UNKNOWN_MEMBER_ID, NULL);
			return;
		}
	} else {
		m = find_instance(cg, q->instance_id);
		if (!m) {
			fail(r, ERR_UNKNOWN_MEMBER_ID, NULL);
			return;
		}
		if (!kc_str_is(q->member_id, m->id, m->id_len)) {
			fail(r, SL_CG_ERR_FENCED_INSTANCE_ID, NULL);
			return;
		}
	}
	r->member_id = q->member_id;
	r->member_epoch = q->member_epoch;
	if (q->member_epoch == EPOCH_LEAVE_STATIC) {
		/* it keeps its partitions for its return; nothing pending */
		set_epoch(m, EPOCH_LEAVE_STATIC);
		tp_free(&m->pending);
		m->state = M_STABLE;
		m->revoke_deadline_ms = INT64_MAX;
		return;
	}
	remove_member(cg, env, m);
}

/* The member a heartbeat (epoch >= 0) is from, made when it joins; NULL
 * with the error in r. */
static struct member *member_of(struct sl_cgroup *cg, struct sl_cg_env *env,
				const struct kc_consumer_group_heartbeat_req *q,
				uint32_t max_members,
				struct kc_consumer_group_heartbeat_resp *r)
{
	bool join = q->member_epoch == 0;
	struct member *m;
	if (q->instance_id.len < 0) {
		m = q->member_id.len > 0 ? find_id(cg, q->member_id) : NULL;
		if (!m && !join) {
			fail(r, ERR_UNKNOWN_MEMBER_ID, NULL);
			return NULL;
		}
	} else {
		m = find_instance(cg, q->instance_id);
		if (!join) {
			if (!m) {
				fail(r, ERR_UNKNOWN_MEMBER_ID, NULL);
				return NULL;
			}
			if (!kc_str_is(q->member_id, m->id, m->id_len)) {
				fail(r, SL_CG_ERR_FENCED_INSTANCE_ID, NULL);
				return NULL;
			}
		} else if (m) {
			if (m->epoch != EPOCH_LEAVE_STATIC) {
				fail(r, SL_CG_ERR_UNRELEASED_INSTANCE_ID,
				     "The instance id is in use by a member "
				     "that has not left.");
				return NULL;
			}
			/* the new incarnation takes the place, partitions
			 * and target of the old (Kafka's replaceMember) */
			if (q->member_id.len > 0) {
				struct member *o = find_id(cg, q->member_id);
				if (o && o != m) {
					fail(r, SL_CG_ERR_FENCED_INSTANCE_ID,
					     NULL);
					return NULL;
				}
				memcpy(m->id, q->member_id.ptr,
				       (size_t)q->member_id.len);
				m->id_len = (uint16_t)q->member_id.len;
			} else {
				int n = snprintf(m->id, sizeof(m->id),
						 "cm-%llx-%llu",
						 (unsigned long long)env->open_ms,
						 (unsigned long long)++env->seq);
				assert(n > 0 && (size_t)n < sizeof(m->id));
				m->id_len = (uint16_t)n;
			}
			m->epoch = 0;
			m->prev_epoch = 0;
			m->state = M_STABLE;
			return m;
		} else if (q->member_id.len > 0) {
			/* a dynamic member may rejoin as a static one */
			m = find_id(cg, q->member_id);
		}
	}
	if (m && join) {
		/* KIP-848: a fenced member comes back with epoch 0 and its
		 * id, having given up every partition */
		tp_free(&m->assigned);
		tp_free(&m->pending);
		m->epoch = 0;
		m->prev_epoch = 0;
		m->state = M_STABLE;
		m->revoke_deadline_ms = INT64_MAX;
		return m;
	}
	if (m) {
		if (!epoch_ok(m, q->member_epoch, &q->topic_partitions)) {
			fail(r, SL_CG_ERR_FENCED_MEMBER_EPOCH,
			     "The member epoch is not the coordinator's: "
			     "abandon all partitions and rejoin.");
			return NULL;
		}
		return m;
	}
	if (cg->n >= max_members) {
		fail(r, ERR_GROUP_MAX_SIZE_REACHED, NULL);
		return NULL;
	}
	m = new_member(cg, env, q->member_id);
	if (!m)
		fail(r, ERR_UNKNOWN_SERVER, NULL);
	return m;
}

/* The assignment of m in r (build holds the arrays); false when build is
 * full. */
static bool put_assignment(const struct member *m, struct kc_arena *build,
			   struct kc_consumer_group_heartbeat_resp *r)
{
	uint32_t nt = 0;
	for (uint32_t i = 0; i < m->assigned.n; i++)
		if (i == 0 || m->assigned.v[i].topic_id !=
			      m->assigned.v[i - 1].topic_id)
			nt++;
	struct kc_consumer_group_heartbeat_resp_topic_partitions *t =
		kc_arena_take(build, nt, sizeof(*t));
	int32_t *p = kc_arena_take(build, m->assigned.n, sizeof(*p));
	if ((nt && !t) || (m->assigned.n && !p))
		return false;
	int32_t k = -1;
	for (uint32_t i = 0; i < m->assigned.n; i++) {
		const struct sl_tp *tp = &m->assigned.v[i];
		if (k < 0 || tp->topic_id != m->assigned.v[i - 1].topic_id) {
			k++;
			sl_topic_uuid(tp->topic_id, t[k].topic_id.b);
			t[k].partitions = (struct kc_array){&p[i], 0};
		}
		p[i] = tp->partition;
		t[k].partitions.count++;
	}
	r->has_assignment = true;
	r->assignment.topic_partitions = (struct kc_array){t, (int32_t)nt};
	return true;
}

static bool same_tp(const struct tpset *a, const struct tpset *b)
{
	return a->n == b->n &&
	       (a->n == 0 || !memcmp(a->v, b->v, a->n * sizeof(a->v[0])));
}

void sl_cg_heartbeat(struct sl_cgroup *cg, struct sl_cg_env *env,
		     const struct kc_consumer_group_heartbeat_req *q,
		     struct kc_str client_id, uint32_t max_members,
		     int64_t now_ms, struct kc_arena *build,
		     struct kc_consumer_group_heartbeat_resp *r)
{
	assert(cg && env && q && r);
	if (q->member_epoch < 0) {
		leave(cg, env, q, r);
		return;
	}
	struct kc_str *names = NULL;
	long nnames = 0;
	if (q->subscribed_topic_names.count >= 0) {
		nnames = sort_names(q->subscribed_topic_names.items,
				    (uint32_t)q->subscribed_topic_names.count,
				    &names);
		if (nnames < 0) {
			fail(r, ERR_UNKNOWN_SERVER, NULL);
			return;
		}
	}
	uint32_t before = cg->n;
	struct member *m = member_of(cg, env, q, max_members, r);
	if (!m)
		goto out;
	bool is_new = cg->n > before;
	struct tpset old = {NULL, 0};
	if (!is_new && tp_copy(&old, m->assigned.v, m->assigned.n) < 0) {
		fail(r, ERR_UNKNOWN_SERVER, NULL);
		goto out;
	}
	bool bump = false;
	if (names && !same_subs(m, names, (uint32_t)nnames)) {
		if (set_subs(m, names, (uint32_t)nnames) < 0) {
			fail(r, ERR_UNKNOWN_SERVER, NULL);
			goto out_old; /* a new member's session ends at once */
		}
		bump = true;
	}
	/* the member's fields (Kafka's maybeUpdate*: given ones only) */
	if (q->instance_id.len > 0) {
		m->instance_len = (int16_t)q->instance_id.len;
		memcpy(m->instance, q->instance_id.ptr,
		       (size_t)q->instance_id.len);
	}
	if (q->rack_id.len > 0) {
		m->rack_len = (int16_t)q->rack_id.len;
		memcpy(m->rack, q->rack_id.ptr, (size_t)q->rack_id.len);
	}
	if (q->rebalance_timeout_ms != -1)
		m->rebalance_timeout_ms = q->rebalance_timeout_ms;
	if (q->server_assignor.len >= 0)
		m->assignor = sl_assignor_find(q->server_assignor.ptr,
					       (size_t)q->server_assignor.len);
	size_t cl = client_id.len > 0 ? (size_t)client_id.len : 0;
	m->client_id_len = (uint16_t)(cl < SL_CG_NAME_MAX ? cl : SL_CG_NAME_MAX);
	if (m->client_id_len)
		memcpy(m->client_id, client_id.ptr, m->client_id_len);
	/* the topics, the target, this member's next step; a failure for
	 * want of memory leaves the step for the next heartbeat */
	int changed = refresh_topics(cg, env);
	if (changed > 0 || bump)
		cg->group_epoch++;
	if (changed < 0 ||
	    (cg->group_epoch > cg->assignment_epoch && update_target(cg) < 0) ||
	    reconcile(cg, m, &q->topic_partitions, now_ms) < 0) {
		fail(r, ERR_UNKNOWN_SERVER, NULL);
		goto out_old;
	}
	m->session_deadline_ms = now_ms + env->session_timeout_ms;
	r->member_id = str_of(m->id, m->id_len);
	r->member_epoch = m->epoch;
	r->heartbeat_interval_ms = env->heartbeat_interval_ms;
	bool full = q->member_epoch == 0 ||
		(q->rebalance_timeout_ms != -1 &&
		 q->subscribed_topic_names.count >= 0 &&
		 q->topic_partitions.count >= 0);
	if ((full || is_new || !same_tp(&old, &m->assigned)) &&
	    !put_assignment(m, build, r))
		fail(r, ERR_UNKNOWN_SERVER, NULL);
out_old:
	tp_free(&old);
out:
	free(names);
}

/* ---- describing ---- */

/* s as ConsumerGroupDescribe's topic partitions (with names), into *a. */
static int describe_set(const struct sl_cgroup *cg, const struct tpset *s,
			struct kc_arena *build,
			struct kc_consumer_group_describe_resp_assignment *a)
{
	uint32_t nt = 0;
	for (uint32_t i = 0; i < s->n; i++)
		if (i == 0 || s->v[i].topic_id != s->v[i - 1].topic_id)
			nt++;
	struct kc_consumer_group_describe_resp_topic_partitions *t =
		kc_arena_take(build, nt, sizeof(*t));
	int32_t *p = kc_arena_take(build, s->n, sizeof(*p));
	if ((nt && !t) || (s->n && !p))
		return -EMSGSIZE;
	int32_t k = -1;
	for (uint32_t i = 0; i < s->n; i++) {
		if (k < 0 || s->v[i].topic_id != s->v[i - 1].topic_id) {
			const struct topic *tt = topic_by_id(cg, s->v[i].topic_id);
			k++;
			sl_topic_uuid(s->v[i].topic_id, t[k].topic_id.b);
			t[k].topic_name = tt ? str_of(tt->name, tt->name_len) :
					       str_of("", 0);
			t[k].partitions = (struct kc_array){&p[i], 0};
		}
		p[i] = s->v[i].partition;
		t[k].partitions.count++;
	}
	a->topic_partitions = (struct kc_array){t, k + 1};
	return 0;
}

int sl_cg_describe(const struct sl_cgroup *cg, struct kc_arena *build,
		   struct kc_consumer_group_describe_resp_described_group *d)
{
	const char *state = sl_cg_state(cg);
	const char *assignor = sl_assignor_name(
		(enum sl_assignor)group_assignor(cg));
	d->group_state = str_of(state, strlen(state));
	d->group_epoch = cg->group_epoch;
	d->assignment_epoch = cg->assignment_epoch;
	d->assignor_name = str_of(assignor, strlen(assignor));
	struct kc_consumer_group_describe_resp_member *dm =
		kc_arena_take(build, cg->n, sizeof(*dm));
	if (cg->n && !dm)
		return -EMSGSIZE;
	for (uint32_t i = 0; i < cg->n; i++) {
		const struct member *m = cg->members[i];
		struct kc_str *subs = kc_arena_take(build, m->nsubs, sizeof(*subs));
		if (m->nsubs && !subs)
			return -EMSGSIZE;
		for (uint32_t s = 0; s < m->nsubs; s++)
			subs[s] = str_of(m->subs_blob + m->subs[s].off,
					 m->subs[s].len);
		dm[i] = (struct kc_consumer_group_describe_resp_member){
			.member_id = str_of(m->id, m->id_len),
			.instance_id = m->instance_len < 0 ?
				(struct kc_str){NULL, -1} :
				str_of(m->instance, (size_t)m->instance_len),
			.rack_id = m->rack_len < 0 ? (struct kc_str){NULL, -1} :
				str_of(m->rack, (size_t)m->rack_len),
			.member_epoch = m->epoch,
			.client_id = str_of(m->client_id, m->client_id_len),
			.client_host = str_of("", 0),
			.subscribed_topic_names = {subs, (int32_t)m->nsubs},
			.subscribed_topic_regex = {NULL, -1},
		};
		if (describe_set(cg, &m->assigned, build, &dm[i].assignment) ||
		    describe_set(cg, &m->target, build,
				 &dm[i].target_assignment))
			return -EMSGSIZE;
	}
	d->members = (struct kc_array){dm, (int32_t)cg->n};
	return 0;
}

/* ---- offsets ---- */

int16_t sl_cg_check_commit(const struct sl_cgroup *cg, struct kc_str member_id,
			   int32_t epoch, int16_t version)
{
	if (epoch < 0 && cg->n == 0)
		return ERR_NONE;
	const struct member *m = find_id(cg, member_id);
	if (!m)
		return ERR_UNKNOWN_MEMBER_ID;
	if (version < 9)
		return SL_CG_ERR_UNSUPPORTED_VERSION;
	if (epoch != m->epoch)
		return SL_CG_ERR_STALE_MEMBER_EPOCH;
	return ERR_NONE;
}

int16_t sl_cg_check_fetch(const struct sl_cgroup *cg, struct kc_str member_id,
			  int32_t epoch)
{
	if (member_id.len < 0 && epoch < 0)
		return ERR_NONE;
	const struct member *m = find_id(cg, member_id);
	if (!m)
		return ERR_UNKNOWN_MEMBER_ID;
	if (epoch != m->epoch)
		return SL_CG_ERR_STALE_MEMBER_EPOCH;
	return ERR_NONE;
}

bool sl_cg_subscribed(const struct sl_cgroup *cg, struct kc_str topic)
{
	for (uint32_t i = 0; i < cg->n; i++) {
		const struct member *m = cg->members[i];
		for (uint32_t s = 0; s < m->nsubs; s++)
			if (kc_str_is(topic, m->subs_blob + m->subs[s].off,
				   m->subs[s].len))
				return true;
	}
	return false;
}

/* ---- timers ---- */

uint32_t sl_cg_tick(struct sl_cgroup *cg, const struct sl_cg_env *env,
		    int64_t now_ms)
{
	uint32_t fenced = 0;
	for (uint32_t i = cg->n; i-- > 0;) {
		struct member *m = cg->members[i];
		if (now_ms >= m->session_deadline_ms ||
		    (m->state == M_UNREVOKED && now_ms >= m->revoke_deadline_ms)) {
			remove_member(cg, env, m);
			fenced++;
		}
	}
	return fenced;
}

int64_t sl_cg_next_deadline(const struct sl_cgroup *cg)
{
	int64_t next = INT64_MAX;
	for (uint32_t i = 0; i < cg->n; i++) {
		const struct member *m = cg->members[i];
		if (m->session_deadline_ms < next)
			next = m->session_deadline_ms;
		if (m->state == M_UNREVOKED && m->revoke_deadline_ms < next)
			next = m->revoke_deadline_ms;
	}
	return next;
}
