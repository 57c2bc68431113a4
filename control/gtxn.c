/*
 * Transactional offsets at a cluster's group coordinator (gtxn.h has the
 * contract).
 *
 * Memory: one entry per pending offset (producer, group, topic, partition)
 * in an array searched linearly (a handful are pending at a time: those of
 * the transactions under way), and a ring of the producers' highest
 * epochs.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/gtxn.h"
#include "control/log.h"
#include "control/offsets.h"
#include "control/txnoff.h"
#include "proto/config.h"
#include "proto/kafka/kcodec.h"

#define ARENA_BYTES (1u << 20)
#define OUT_BYTES (1u << 20)
#define ERR_NONE 0
#define ERR_NOT_COORDINATOR 16
#define ERR_INVALID_REQUEST 42
#define ERR_POLICY_VIOLATION 44
#define ERR_INVALID_PRODUCER_EPOCH 47
#define ERR_INVALID_PRODUCER_ID_MAPPING 49
#define ERR_PRODUCER_FENCED 90

struct pend {
	int64_t pid;
	int16_t epoch;
	int32_t opart;        /* its partition of __consumer_offsets */
	uint16_t group_len, topic_len;
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch;
	int32_t meta_len;     /* -1: null */
	int64_t time_ms;
	char *blob;           /* group, topic, metadata */
};

struct fence {
	int64_t pid;          /* -1: free */
	int16_t epoch;
	int32_t opart;
};

struct req {
	uint64_t token;
	int16_t key, version;
	int32_t corr;
};

struct sl_gtxn {
	struct sl_gtxn_config cfg;
	struct pend *p;
	uint32_t n, cap;
	struct fence fences[SL_GTXN_FENCES];
	uint32_t fence_next;  /* the ring's next slot to reuse */
	struct kc_arena in, build;
	uint8_t *out;
	struct sl_gtxn_stats st;
};

/* ---- entries ---- */

static const char *group_of(const struct pend *e) { return e->blob; }
static const char *topic_of(const struct pend *e)
{
	return e->blob + e->group_len;
}
static const char *meta_of(const struct pend *e)
{
	return e->blob + e->group_len + e->topic_len;
}

static bool eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || !memcmp(a, b, alen));
}

static int64_t find(const struct sl_gtxn *t, int64_t pid, const char *group,
		    size_t glen, const char *topic, size_t tlen,
		    int32_t partition)
{
	for (uint32_t i = 0; i < t->n; i++) {
		const struct pend *e = &t->p[i];
		if (e->pid == pid && e->partition == partition &&
		    eq(group_of(e), e->group_len, group, glen) &&
		    eq(topic_of(e), e->topic_len, topic, tlen))
			return i;
	}
	return -1;
}

static void remove_at(struct sl_gtxn *t, uint32_t i)
{
	free(t->p[i].blob);
	t->p[i] = t->p[--t->n];
}

/* Insert or replace (r: a TXN record's fields).  0 or -ENOMEM. */
static int put(struct sl_gtxn *t, int32_t opart, const struct sl_offsets_rec *r)
{
	size_t ml = r->meta_len > 0 ? (size_t)r->meta_len : 0;
	char *blob = malloc((size_t)r->group_len + r->topic_len + ml + 1);
	if (!blob)
		return -ENOMEM;
	memcpy(blob, r->group, r->group_len);
	memcpy(blob + r->group_len, r->topic, r->topic_len);
	if (ml)
		memcpy(blob + r->group_len + r->topic_len, r->meta, ml);
	int64_t at = find(t, r->producer_id, r->group, r->group_len, r->topic,
			  r->topic_len, r->partition);
	if (at < 0) {
		if (t->n == t->cap) {
			uint32_t cap = t->cap ? t->cap * 2 : 16;
			struct pend *np = realloc(t->p, cap * sizeof(*np));
			if (!np) {
				free(blob);
				return -ENOMEM;
			}
			t->p = np;
			t->cap = cap;
		}
		at = t->n++;
	} else {
		free(t->p[at].blob);
	}
	t->p[at] = (struct pend){r->producer_id, r->producer_epoch, opart,
				 r->group_len, r->topic_len, r->partition,
				 r->offset, r->leader_epoch, r->meta_len,
				 r->time_ms, blob};
	return 0;
}

/* An entry as a record of type (TXN, TXN_END, COMMIT). */
static struct sl_offsets_rec rec_of(const struct pend *e, uint8_t type)
{
	return (struct sl_offsets_rec){
		.type = type, .group_len = e->group_len, .group = group_of(e),
		.topic_len = e->topic_len, .topic = topic_of(e),
		.partition = e->partition, .offset = e->offset,
		.leader_epoch = e->leader_epoch, .meta_len = e->meta_len,
		.meta = meta_of(e), .time_ms = e->time_ms,
		.producer_id = e->pid, .producer_epoch = e->epoch};
}

/* ---- fences ---- */

static struct fence *fence_find(struct sl_gtxn *t, int64_t pid)
{
	for (uint32_t i = 0; i < SL_GTXN_FENCES; i++)
		if (t->fences[i].pid == pid)
			return &t->fences[i];
	return NULL;
}

static int16_t fence_of(struct sl_gtxn *t, int64_t pid)
{
	const struct fence *f = fence_find(t, pid);
	return f ? f->epoch : -1;
}

static void fence_raise(struct sl_gtxn *t, int64_t pid, int16_t epoch,
			int32_t opart)
{
	struct fence *f = fence_find(t, pid);
	if (!f) {
		f = &t->fences[t->fence_next];
		t->fence_next = (t->fence_next + 1) % SL_GTXN_FENCES;
		*f = (struct fence){pid, epoch, opart};
		return;
	}
	if (epoch > f->epoch)
		f->epoch = epoch;
	f->opart = opart;
}

/* ---- ending a producer's offsets in partition opart ---- */

/* The entries of pid in opart with an epoch <= epoch become committed
 * offsets (commit) or are dropped, in memory only when loading (the log
 * says it already), else with their records: OffsetCommit records, then
 * the TXN_END tombstones.  Returns the Kafka error (NOT_COORDINATOR: the
 * store refused; nothing is forgotten then). */
static int16_t end_offsets(struct sl_gtxn *t, int64_t pid, int16_t epoch,
			   int32_t opart, bool commit, bool loading)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < t->n; i++)
		n += t->p[i].pid == pid && t->p[i].opart == opart &&
		     t->p[i].epoch <= epoch;
	if (n == 0)
		return ERR_NONE;
	if (commit && loading) {
		for (uint32_t i = 0; i < t->n; i++) {
			const struct pend *e = &t->p[i];
			if (e->pid != pid || e->opart != opart ||
			    e->epoch > epoch)
				continue;
			struct sl_offsets_rec r = rec_of(e, SL_OFFSETS_COMMIT);
			/* the limits of the coordinator: as any record it
			 * cannot take at a load */
			(void)sl_groups_load_record(t->cfg.groups, &r);
		}
	} else if (commit) {
		struct sl_groups_txn_offset *o = malloc(n * sizeof(*o));
		if (!o)
			return ERR_NOT_COORDINATOR;
		/* group by group, the order they are found in */
		for (uint32_t i = 0; i < t->n; i++) {
			const struct pend *g0 = &t->p[i];
			if (g0->pid != pid || g0->opart != opart ||
			    g0->epoch > epoch)
				continue;
			bool seen = false;
			for (uint32_t k = 0; k < i && !seen; k++)
				seen = t->p[k].pid == pid &&
				       t->p[k].opart == opart &&
				       t->p[k].epoch <= epoch &&
				       eq(group_of(&t->p[k]), t->p[k].group_len,
					  group_of(g0), g0->group_len);
			if (seen)
				continue;
			uint32_t m = 0;
			for (uint32_t k = i; k < t->n; k++) {
				const struct pend *e = &t->p[k];
				if (e->pid != pid || e->opart != opart ||
				    e->epoch > epoch ||
				    !eq(group_of(e), e->group_len,
					group_of(g0), g0->group_len))
					continue;
				o[m++] = (struct sl_groups_txn_offset){
					topic_of(e), e->topic_len, e->partition,
					e->offset, e->leader_epoch, meta_of(e),
					e->meta_len};
			}
			int rc = sl_groups_txn_commit(t->cfg.groups,
						      group_of(g0),
						      g0->group_len, o, m);
			if (rc < 0 && rc != -EOVERFLOW) {
				free(o);
				return ERR_NOT_COORDINATOR;
			}
		}
		free(o);
	}
	if (!loading) {
		const struct sl_commits_sink *s = t->cfg.sink;
		if (s->begin)
			s->begin(s->ctx);
		for (uint32_t i = 0; i < t->n; i++) {
			const struct pend *e = &t->p[i];
			if (e->pid != pid || e->opart != opart ||
			    e->epoch > epoch)
				continue;
			struct sl_offsets_rec r = rec_of(e, SL_OFFSETS_TXN_END);
			s->add(s->ctx, &r);
		}
		/* refused: memory keeps them, as the log does (no
		 * tombstone); the marker or the newer epoch comes again, and
		 * a commit then writes the same offsets again */
		if (s->end(s->ctx) < 0)
			return ERR_NOT_COORDINATOR;
	}
	for (uint32_t i = 0; i < t->n;) {
		const struct pend *e = &t->p[i];
		if (e->pid == pid && e->opart == opart && e->epoch <= epoch) {
			remove_at(t, i);
			if (commit)
				t->st.committed++;
			else
				t->st.aborted++;
		} else {
			i++;
		}
	}
	return ERR_NONE;
}

/* ---- answers ---- */

static int send_body(struct sl_gtxn *t, const struct req *rq,
		     const void *body)
{
	struct kc_response_header h = {rq->corr};
	long n = kc_encode_response(rq->key, rq->version, &h,
				    (const union kc_response *)body, t->out,
				    OUT_BYTES);
	if (n < 0)
		return n == -ENOBUFS ? -EMSGSIZE : (int)n;
	t->cfg.reply(t->cfg.reply_ctx, rq->token, t->out, (size_t)n);
	return 0;
}

static int32_t count_of(struct kc_array a)
{
	return a.count > 0 ? a.count : 0;
}

static bool valid_group(struct kc_str g)
{
	return g.len > 0 && g.len <= SL_GROUPS_NAME_MAX;
}

/* ---- TxnOffsetCommit ---- */

static bool topic_exists(void *ctx, struct kc_str topic, int32_t partition)
{
	const struct sl_gtxn *t = ctx;
	return topic.len > 0 && topic.len <= SL_OFFSETS_TOPIC_MAX &&
	       partition >= 0 &&
	       (!t->cfg.exists ||
		t->cfg.exists(t->cfg.exists_ctx, topic.ptr, (size_t)topic.len,
			      partition));
}

/* The TXN record of one partition of q (checked). */
static struct sl_offsets_rec txn_rec(
	const struct kc_txn_offset_commit_req *q, struct kc_str topic,
	const struct kc_txn_offset_commit_req_partition *qp, int64_t now)
{
	return (struct sl_offsets_rec){
		.type = SL_OFFSETS_TXN,
		.group_len = (uint16_t)q->group_id.len,
		.group = q->group_id.ptr,
		.topic_len = (uint16_t)topic.len, .topic = topic.ptr,
		.partition = qp->partition_index,
		.offset = qp->committed_offset,
		.leader_epoch = qp->committed_leader_epoch,
		.meta_len = qp->committed_metadata.len,
		.meta = qp->committed_metadata.ptr, .time_ms = now,
		.producer_id = q->producer_id,
		.producer_epoch = q->producer_epoch};
}

static int on_txn_offset_commit(struct sl_gtxn *t, const struct req *rq,
				const struct kc_txn_offset_commit_req *q)
{
	union kc_response u;
	struct kc_txn_offset_commit_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_TXN_OFFSET_COMMIT);
	t->build.used = 0;
	long good = sl_txnoff_answer(q, r, &t->build, topic_exists, t,
				     SL_OFFSETS_META_MAX);
	if (good < 0)
		return (int)good;
	int32_t nt = r->topics.count;
	const struct kc_txn_offset_commit_req_topic *qt = q->topics.items;
	const struct kc_txn_offset_commit_resp_topic *rt = r->topics.items;

	/* one code for every partition that passed */
	int16_t err = ERR_NONE;
	const char *gid = q->group_id.ptr;
	size_t glen = q->group_id.len > 0 ? (size_t)q->group_id.len : 0;
	int32_t opart = -1;
	if (q->transactional_id.len <= 0)
		err = ERR_INVALID_REQUEST;
	else if (!valid_group(q->group_id))
		err = KC_ERR_INVALID_GROUP_ID;
	else
		err = t->cfg.coordinates(t->cfg.ctx, gid, glen);
	if (err == ERR_NONE) {
		opart = t->cfg.partition_of(t->cfg.ctx, gid, glen);
		if (opart < 0)
			err = ERR_NOT_COORDINATOR;
	}
	if (err == ERR_NONE && (q->producer_id < 0 || q->producer_epoch < 0))
		err = ERR_INVALID_PRODUCER_ID_MAPPING;
	if (err == ERR_NONE &&
	    q->producer_epoch < fence_of(t, q->producer_id)) {
		t->st.fenced++;
		err = rq->version < 2 ? ERR_INVALID_PRODUCER_EPOCH :
					ERR_PRODUCER_FENCED;
	}
	if (err == ERR_NONE && rq->version >= 3)
		err = sl_groups_txn_check(t->cfg.groups, gid, glen,
					  q->generation_id, q->member_id.ptr,
					  q->member_id.len > 0 ?
						  (size_t)q->member_id.len : 0);
	if (err == ERR_NONE && t->n + good > SL_GTXN_PENDING_MAX)
		err = ERR_POLICY_VIOLATION;
	if (err == ERR_NONE && good) {
		int64_t now = sl_wall_ms();
		const struct sl_commits_sink *s = t->cfg.sink;
		/* a newer epoch: the older instance's offsets are dropped */
		bool older = false;
		for (uint32_t i = 0; i < t->n && !older; i++)
			older = t->p[i].pid == q->producer_id &&
				t->p[i].opart == opart &&
				t->p[i].epoch < q->producer_epoch;
		if (older)
			err = end_offsets(t, q->producer_id,
					  (int16_t)(q->producer_epoch - 1),
					  opart, false, false);
		if (err == ERR_NONE && s->begin)
			s->begin(s->ctx);
		for (int32_t i = 0; err == ERR_NONE && i < nt; i++) {
			const struct kc_txn_offset_commit_req_partition *qp =
				qt[i].partitions.items;
			const struct kc_txn_offset_commit_resp_partition *rp =
				rt[i].partitions.items;
			for (int32_t j = 0; j < rt[i].partitions.count; j++) {
				if (rp[j].error_code != ERR_NONE)
					continue;
				struct sl_offsets_rec o = txn_rec(
					q, qt[i].name, &qp[j], now);
				s->add(s->ctx, &o);
			}
		}
		if (err == ERR_NONE && s->end(s->ctx) < 0)
			err = ERR_NOT_COORDINATOR;
		for (int32_t i = 0; err == ERR_NONE && i < nt; i++) {
			const struct kc_txn_offset_commit_req_partition *qp =
				qt[i].partitions.items;
			struct kc_txn_offset_commit_resp_partition *rp =
				(void *)rt[i].partitions.items;
			for (int32_t j = 0; j < rt[i].partitions.count; j++) {
				if (rp[j].error_code != ERR_NONE)
					continue;
				struct sl_offsets_rec o = txn_rec(
					q, qt[i].name, &qp[j], now);
				/* durable, but not in memory: a load reads
				 * it back */
				if (put(t, opart, &o) < 0)
					rp[j].error_code =
						SN_ERR_UNKNOWN_SERVER_ERROR;
				else
					t->st.offsets++;
			}
		}
		if (err == ERR_NONE)
			fence_raise(t, q->producer_id, q->producer_epoch,
				    opart);
	}
	sl_txnoff_fail(r, err);
	return send_body(t, rq, r);
}

/* ---- sluiced's markers of the offsets partitions ---- */

static int on_write_txn_markers(struct sl_gtxn *t, const struct req *rq,
				const struct kc_write_txn_markers_req *q)
{
	union kc_response u;
	struct kc_write_txn_markers_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_WRITE_TXN_MARKERS);
	t->build.used = 0;
	int32_t nm = count_of(q->markers);
	const struct kc_write_txn_markers_req_writable_txn_marker *qm =
		q->markers.items;
	struct kc_write_txn_markers_resp_writable_txn_marker_result *rm =
		kc_arena_take(&t->build, (size_t)nm, sizeof(*rm));
	if (nm && !rm)
		return -EMSGSIZE;
	for (int32_t i = 0; i < nm; i++) {
		int32_t nt = count_of(qm[i].topics);
		const struct kc_write_txn_markers_req_writable_txn_marker_topic
			*qt = qm[i].topics.items;
		struct kc_write_txn_markers_resp_writable_txn_marker_topic_result
			*rt = kc_arena_take(&t->build, (size_t)nt, sizeof(*rt));
		if (nt && !rt)
			return -EMSGSIZE;
		rm[i].producer_id = qm[i].producer_id;
		rm[i].topics = (struct kc_array){rt, nt};
		for (int32_t k = 0; k < nt; k++) {
			int32_t np = count_of(qt[k].partition_indexes);
			const int32_t *idx = qt[k].partition_indexes.items;
			struct kc_write_txn_markers_resp_writable_txn_marker_partition_result
				*rp = kc_arena_take(&t->build, (size_t)np,
						    sizeof(*rp));
			if (np && !rp)
				return -EMSGSIZE;
			rt[k].name = qt[k].name;
			rt[k].partitions = (struct kc_array){rp, np};
			bool offsets = eq(qt[k].name.ptr,
					  qt[k].name.len > 0 ?
						  (size_t)qt[k].name.len : 0,
					  SL_OFFSETS_TOPIC,
					  strlen(SL_OFFSETS_TOPIC));
			for (int32_t j = 0; j < np; j++) {
				rp[j].partition_index = idx[j];
				rp[j].error_code = ERR_NONE;
				if (!offsets || qm[i].producer_id < 0)
					continue;
				int16_t e = t->cfg.partition_state(t->cfg.ctx,
								   idx[j]);
				if (e == ERR_NONE)
					e = end_offsets(t, qm[i].producer_id,
							qm[i].producer_epoch,
							idx[j],
							qm[i].transaction_result,
							false);
				if (e == ERR_NONE) {
					fence_raise(t, qm[i].producer_id,
						    qm[i].producer_epoch,
						    idx[j]);
					t->st.markers++;
				} else {
					t->st.markers_refused++;
				}
				rp[j].error_code = e;
			}
		}
	}
	r->markers = (struct kc_array){rm, nm};
	return send_body(t, rq, r);
}

/* ---- the contract ---- */

int sl_gtxn_create(const struct sl_gtxn_config *cfg, struct sl_gtxn **out)
{
	assert(cfg && cfg->groups && cfg->sink && cfg->reply &&
	       cfg->coordinates && cfg->partition_of && cfg->partition_state);
	struct sl_gtxn *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	for (uint32_t i = 0; i < SL_GTXN_FENCES; i++)
		t->fences[i].pid = -1;
	t->in.base = aligned_alloc(8, ARENA_BYTES);
	t->build.base = aligned_alloc(8, ARENA_BYTES);
	t->out = malloc(OUT_BYTES);
	if (!t->in.base || !t->build.base || !t->out) {
		sl_gtxn_destroy(t);
		return -ENOMEM;
	}
	t->in.cap = t->build.cap = ARENA_BYTES;
	*out = t;
	return 0;
}

void sl_gtxn_destroy(struct sl_gtxn *t)
{
	if (!t)
		return;
	while (t->n)
		remove_at(t, t->n - 1);
	free(t->p);
	free(t->in.base);
	free(t->build.base);
	free(t->out);
	free(t);
}

bool sl_gtxn_serves(int16_t api_key)
{
	return api_key == KC_API_TXN_OFFSET_COMMIT ||
	       api_key == KC_API_WRITE_TXN_MARKERS;
}

int sl_gtxn_request(struct sl_gtxn *t, uint64_t token, const uint8_t *req,
		    size_t len)
{
	struct kc_request_header h;
	union kc_request body;
	t->in.used = 0;
	long n = kc_decode_request(req, len, &h, &body, &t->in);
	if (len < 8 || n < 0 || !sl_gtxn_serves(h.api_key))
		return n == -ENOBUFS ? -EMSGSIZE : -EINVAL;
	struct req rq = {token, h.api_key, h.api_version, h.correlation_id};
	if (h.api_key == KC_API_TXN_OFFSET_COMMIT)
		return on_txn_offset_commit(t, &rq, (const void *)body.raw);
	return on_write_txn_markers(t, &rq, (const void *)body.raw);
}

bool sl_gtxn_pending(void *ctx, const char *group, size_t group_len,
		     const char *topic, size_t topic_len, int32_t partition)
{
	const struct sl_gtxn *t = ctx;
	for (uint32_t i = 0; i < t->n; i++) {
		const struct pend *e = &t->p[i];
		if (e->partition == partition &&
		    eq(group_of(e), e->group_len, group, group_len) &&
		    eq(topic_of(e), e->topic_len, topic, topic_len))
			return true;
	}
	return false;
}

void sl_gtxn_load_record(struct sl_gtxn *t, int32_t p,
			 const struct sl_offsets_rec *r)
{
	if (r->type == SL_OFFSETS_TXN) {
		if (fence_of(t, r->producer_id) > r->producer_epoch)
			return; /* written before a newer epoch's marker */
		/* a newer epoch's offset: the older instance's are dropped,
		 * as the TxnOffsetCommit that wrote it dropped them (its
		 * tombstones may not have made it to the log) */
		if (r->producer_epoch > 0)
			(void)end_offsets(t, r->producer_id,
					  (int16_t)(r->producer_epoch - 1), p,
					  false, true);
		if (t->n >= SL_GTXN_PENDING_MAX || put(t, p, r) < 0) {
			sl_log("%s-%d: a transaction's offset of group %.*s "
			       "could not be kept (limit or memory): its "
			       "commit will not be applied", SL_OFFSETS_TOPIC,
			       (int)p, (int)r->group_len, r->group);
			return;
		}
		fence_raise(t, r->producer_id, r->producer_epoch, p);
	} else if (r->type == SL_OFFSETS_TXN_END) {
		int64_t at = find(t, r->producer_id, r->group, r->group_len,
				  r->topic, r->topic_len, r->partition);
		if (at >= 0)
			remove_at(t, (uint32_t)at);
	}
}

void sl_gtxn_load_marker(struct sl_gtxn *t, int32_t p, int64_t producer_id,
			 int16_t producer_epoch, bool commit)
{
	t->st.markers++;
	(void)end_offsets(t, producer_id, producer_epoch, p, commit, true);
	fence_raise(t, producer_id, producer_epoch, p);
}

void sl_gtxn_unload(struct sl_gtxn *t, int32_t p)
{
	for (uint32_t i = 0; i < t->n;) {
		if (p < 0 || t->p[i].opart == p)
			remove_at(t, i);
		else
			i++;
	}
	for (uint32_t i = 0; i < SL_GTXN_FENCES; i++)
		if (p < 0 || t->fences[i].opart == p)
			t->fences[i].pid = -1;
}

void sl_gtxn_stats(const struct sl_gtxn *t, struct sl_gtxn_stats *out)
{
	*out = t->st;
	out->pending = t->n;
}
