/*
 * The transaction coordinator's store in a cluster (tstore.h): partition
 * loads and unloads as leadership of __transaction_state moves, the
 * coordinator's batches turned into whole-state records of the ids they
 * change, and its answers and markers held until what they follow is
 * durable (control/hold.h).
 *
 * The copy of each loaded id's state ("mirror") is what a batch's records
 * are applied to, with the coordinator's own rules (txn.c apply_record):
 * a STATE replaces the id's fields and, when it ends the transaction,
 * forgets its partitions and groups; PARTITION and GROUP records join an
 * open transaction; DELETE forgets the id.  At the batch's end each id it
 * touched is appended as one record: its whole state, or a tombstone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/cluster_image.h"
#include "control/glog.h"
#include "control/hold.h"
#include "control/log.h"
#include "control/pload.h"
#include "control/tstore.h"
#include "control/ttopic.h"
#include "proto/config.h"
#include "proto/kafka/kcodec.h"

/* One loaded id's whole state. */
struct ment {
	char *id;
	uint16_t id_len;
	int32_t partition;
	struct sl_txnlog_rec st;       /* STATE fields; id: this entry's */
	struct sl_ttopic_name *parts;  /* sorted: topic, then partition */
	uint32_t nparts, parts_cap;
	struct sl_ttopic_name *groups; /* in the order they joined */
	uint32_t ngroups, groups_cap;
};

/* What the hold keeps: an answer or a markers job. */
struct item {
	bool markers;
	uint64_t token;                /* an answer's */
	int32_t partition;             /* a job's transactional id's, */
	uint64_t gen;                  /* loaded so when it was held */
	size_t len;
	struct sl_txn_markers m;       /* a job's; partitions below */
	uint8_t bytes[];               /* the answer, or the partitions
					  then their topics */
};

/* An id the batch under way touched. */
struct touched {
	uint32_t off;                  /* in tbuf */
	uint16_t len;
	int32_t partition;
};

struct sl_tstore {
	struct sl_tstore_config cfg;
	struct sl_txn *txn;
	struct sl_pload *pl;           /* the partitions led here */
	struct sl_txn_sink sink;
	struct sl_hold hold;
	int32_t matching;              /* sl_txn_* match: this partition */
	int32_t reading;               /* the load record's partition */
	struct ment *ments;
	uint32_t nments, ments_cap;
	/* the batch under way */
	struct touched *touched;
	uint32_t ntouched, touched_cap;
	char *tbuf;
	size_t tbuf_len, tbuf_cap;
	bool batch_failed;
	struct sl_tstore_stats st;
};

static const uint8_t mark_key[4] = {0, 0, 0, 0}; /* key v0, id "" */

static int32_t nparts(const struct sl_tstore *s)
{
	return sl_pload_partitions(s->pl);
}

static int32_t partition_of(const struct sl_tstore *s, const char *id,
			    size_t len)
{
	return sl_offsets_partition(id, len, nparts(s));
}

static bool match_partition(void *ctx, const char *id, size_t len)
{
	struct sl_tstore *s = ctx;
	return nparts(s) > 0 && (s->matching < 0 ||
				 partition_of(s, id, len) == s->matching);
}

/* ---- the mirror ---- */

static struct ment *ment_find(struct sl_tstore *s, const char *id,
			      size_t len)
{
	for (uint32_t i = 0; i < s->nments; i++)
		if (s->ments[i].id_len == len &&
		    !memcmp(s->ments[i].id, id, len))
			return &s->ments[i];
	return NULL;
}

static void names_free(struct sl_ttopic_name *n, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		free((char *)n[i].name);
}

static void ment_clear(struct ment *e)
{
	names_free(e->parts, e->nparts);
	names_free(e->groups, e->ngroups);
	e->nparts = e->ngroups = 0;
}

static void ment_remove(struct sl_tstore *s, struct ment *e)
{
	ment_clear(e);
	free(e->parts);
	free(e->groups);
	free(e->id);
	*e = s->ments[--s->nments];
}

static struct ment *ment_create(struct sl_tstore *s, const char *id,
				uint16_t len)
{
	if (s->nments == s->ments_cap) {
		uint32_t cap = s->ments_cap ? s->ments_cap * 2 : 64;
		struct ment *n = realloc(s->ments, cap * sizeof(*n));
		if (!n)
			return NULL;
		s->ments = n;
		s->ments_cap = cap;
	}
	char *copy = malloc(len);
	if (!copy)
		return NULL;
	memcpy(copy, id, len);
	struct ment *e = &s->ments[s->nments++];
	*e = (struct ment){.id = copy, .id_len = len,
			   .partition = partition_of(s, id, len)};
	return e;
}

/* Insert name at index at of *v (count *n, capacity *cap).  0 or
 * -ENOMEM. */
static int name_insert(struct sl_ttopic_name **v, uint32_t *n, uint32_t *cap,
		       uint32_t at, const char *name, uint16_t len,
		       int32_t partition)
{
	if (*n == *cap) {
		uint32_t c = *cap ? *cap * 2 : 8;
		struct sl_ttopic_name *fresh = realloc(*v, c * sizeof(*fresh));
		if (!fresh)
			return -ENOMEM;
		*v = fresh;
		*cap = c;
	}
	char *copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, name, len);
	memmove(&(*v)[at + 1], &(*v)[at], (*n - at) * sizeof(**v));
	(*v)[at] = (struct sl_ttopic_name){copy, len, partition};
	(*n)++;
	return 0;
}

static int name_cmp(const struct sl_ttopic_name *a, const char *name,
		    uint16_t len, int32_t partition)
{
	size_t m = a->len < len ? a->len : len;
	int c = memcmp(a->name, name, m);
	if (c || a->len != len)
		return c ? c : (a->len < len ? -1 : 1);
	return a->partition < partition ? -1 : a->partition > partition;
}

static bool open_state(uint8_t st)
{
	return st == 1 || st == 2 || st == 3; /* Ongoing, Prepare* */
}

/* Apply r to the mirror: 0 or -ENOMEM (the mirror cannot be trusted). */
static int mirror_apply(struct sl_tstore *s, const struct sl_txnlog_rec *r)
{
	struct ment *e = ment_find(s, r->id, r->id_len);
	if (r->type == SL_TXNLOG_DELETE) {
		if (e)
			ment_remove(s, e);
		return 0;
	}
	if (r->type == SL_TXNLOG_STATE) {
		if (!e && !(e = ment_create(s, r->id, r->id_len)))
			return -ENOMEM;
		e->st = *r;
		e->st.id = e->id;
		if (!open_state(r->state))
			ment_clear(e);
		return 0;
	}
	if (!e || !open_state(e->st.state))
		return 0; /* as the coordinator applies them */
	if (r->type == SL_TXNLOG_PARTITION) {
		uint32_t at = 0;
		while (at < e->nparts && name_cmp(&e->parts[at], r->topic,
						  r->topic_len,
						  r->partition) < 0)
			at++;
		if (at < e->nparts && !name_cmp(&e->parts[at], r->topic,
						r->topic_len, r->partition))
			return 0;
		return name_insert(&e->parts, &e->nparts, &e->parts_cap, at,
				   r->topic, r->topic_len, r->partition);
	}
	if (r->type == SL_TXNLOG_GROUP) {
		for (uint32_t i = 0; i < e->ngroups; i++)
			if (!name_cmp(&e->groups[i], r->group, r->group_len,
				      0))
				return 0;
		return name_insert(&e->groups, &e->ngroups, &e->groups_cap,
				   e->ngroups, r->group, r->group_len, 0);
	}
	return 0;
}

static void mirror_drop(struct sl_tstore *s, int32_t p)
{
	for (uint32_t i = s->nments; i-- > 0;)
		if (p < 0 || s->ments[i].partition == p)
			ment_remove(s, &s->ments[i]);
}

/* ---- what the hold keeps ---- */

static void fire(void *ctx, void *v, bool tainted)
{
	struct sl_tstore *s = ctx;
	struct item *it = v;
	if (it->markers) {
		/* the decision is durable unless an append of its own
		 * partition failed, which unloaded it (a load hands the job
		 * again when it is): another partition's failure does not
		 * stop it */
		if (!sl_pload_state(s->pl, it->partition) &&
		    sl_pload_gen(s->pl, it->partition) == it->gen)
			s->cfg.markers(s->cfg.markers_ctx, &it->m);
		else
			s->st.withheld++;
	} else if (tainted) {
		s->st.withheld++;
		s->cfg.reply(s->cfg.reply_ctx, it->token, NULL, 0);
	} else {
		s->cfg.reply(s->cfg.reply_ctx, it->token, it->bytes, it->len);
	}
	free(it);
}

void sl_tstore_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len)
{
	struct sl_tstore *s = ctx;
	if (sl_hold_idle(&s->hold)) {
		s->cfg.reply(s->cfg.reply_ctx, token, resp, len);
		return;
	}
	struct item *it = malloc(sizeof(*it) + len);
	if (it) {
		*it = (struct item){.token = token, .len = len};
		if (len)
			memcpy(it->bytes, resp, len);
	}
	if (!it || sl_hold_put(&s->hold, it)) {
		/* no memory to hold it: the connection closes rather than
		 * hear of something not yet durable */
		free(it);
		sl_log("%s: no memory to hold an answer: closing its "
		       "connection", SL_TTOPIC);
		s->st.withheld++;
		s->cfg.reply(s->cfg.reply_ctx, token, NULL, 0);
		return;
	}
	s->st.held++;
}

void sl_tstore_markers(void *ctx, const struct sl_txn_markers *m)
{
	struct sl_tstore *s = ctx;
	if (sl_hold_idle(&s->hold)) {
		s->cfg.markers(s->cfg.markers_ctx, m);
		return;
	}
	size_t names = 0;
	for (uint32_t i = 0; i < m->n; i++)
		names += m->partitions[i].topic_len;
	size_t parts = m->n * sizeof(struct sl_txn_partition);
	struct item *it = malloc(sizeof(*it) + parts + names);
	if (!it) {
		/* the job is not handed: the transaction stays in its
		 * Prepare state until a load hands it again */
		sl_log("%s: no memory to hold a markers job", SL_TTOPIC);
		s->st.withheld++;
		return;
	}
	int32_t q = nparts(s) > 0 && m->txn_id_len ?
			    partition_of(s, m->txn_id, m->txn_id_len) : 0;
	*it = (struct item){.markers = true, .m = *m, .partition = q,
			    .gen = sl_pload_gen(s->pl, q)};
	it->m.txn_id = NULL; /* not kept: the writer needs none */
	it->m.txn_id_len = 0;
	struct sl_txn_partition *p = (void *)it->bytes;
	char *name = (char *)it->bytes + parts;
	for (uint32_t i = 0; i < m->n; i++) {
		p[i] = m->partitions[i];
		memcpy(name, p[i].topic, p[i].topic_len);
		p[i].topic = name;
		name += p[i].topic_len;
	}
	it->m.partitions = p;
	if (sl_hold_put(&s->hold, it)) {
		free(it);
		sl_log("%s: no memory to hold a markers job", SL_TTOPIC);
		s->st.withheld++;
		return;
	}
	s->st.held++;
}

void sl_tstore_markers_cancel(void *ctx, uint64_t id)
{
	struct sl_tstore *s = ctx;
	/* a job still held is not handed: its partition was unloaded */
	if (s->cfg.markers_cancel)
		s->cfg.markers_cancel(s->cfg.markers_ctx, id);
}

/* ---- loading and unloading (pload's callbacks) ---- */

/* p's ids go (p -1: all), and what waited for p's appends */
static void on_drop(void *ctx, int32_t p)
{
	struct sl_tstore *s = ctx;
	if (p >= 0)
		sl_hold_fail_partition(&s->hold, p);
	if (s->txn) {
		s->matching = p;
		sl_txn_unload(s->txn, match_partition, s);
	}
	mirror_drop(s, p);
}

void sl_tstore_image(struct sl_tstore *s, const struct sl_ci_image *img,
		     int64_t now_ms)
{
	sl_pload_image(s->pl, img, now_ms);
}

int16_t sl_tstore_coordinates(void *ctx, const char *id, size_t len)
{
	const struct sl_tstore *s = ctx;
	if (nparts(s) <= 0)
		return KC_ERR_NOT_COORDINATOR;
	return sl_pload_state(s->pl, partition_of(s, id, len));
}

int32_t sl_tstore_coordinator_epoch(void *ctx, const char *id, size_t len)
{
	const struct sl_tstore *s = ctx;
	if (nparts(s) <= 0)
		return -1;
	return sl_pload_epoch(s->pl, partition_of(s, id, len));
}

static void on_appended(void *ctx, uint64_t seq, int32_t p, int16_t err)
{
	struct sl_tstore *s = ctx;
	if (sl_hold_done(&s->hold, seq, err != 0) && err) {
		s->st.batch_failures++;
		sl_pload_reload(s->pl, p, sl_now_ms(), "a batch of the "
				"transaction coordinator failed", err);
	}
}

/* A load's record: to the coordinator first, then (taken) the mirror. */
static int load_apply(void *ctx, const struct sl_txnlog_rec *r)
{
	struct sl_tstore *s = ctx;
	if (partition_of(s, r->id, r->id_len) != s->reading)
		return -EXDEV;
	int rc = s->txn ? sl_txn_load_record(s->txn, r) : 0;
	if (rc == 0)
		rc = mirror_apply(s, r);
	return rc;
}

static void on_record(void *ctx, int32_t p, int64_t offset,
		      const struct sl_glog_rec *r)
{
	struct sl_tstore *s = ctx;
	(void)offset;
	s->reading = p;
	if (sl_ttopic_decode(r->key, r->key_len, r->value, r->value_len,
			     load_apply, s)) {
		/* another kind of record, not this partition's, or past
		 * the coordinator's limits: the rest is still read */
		s->st.records_skipped++;
		return;
	}
	s->st.records_loaded++;
}

static void on_loaded(void *ctx, int32_t p, int64_t now_ms)
{
	struct sl_tstore *s = ctx;
	s->st.loads++;
	if (s->txn) {
		s->matching = p;
		sl_txn_loaded(s->txn, match_partition, s, now_ms);
	}
}

/* ---- the sink ---- */

static void sink_begin(void *ctx)
{
	struct sl_tstore *s = ctx;
	s->ntouched = 0;
	s->tbuf_len = 0;
	s->batch_failed = false;
}

static int touch(struct sl_tstore *s, const char *id, uint16_t len,
		 int32_t p)
{
	for (uint32_t i = 0; i < s->ntouched; i++)
		if (s->touched[i].len == len &&
		    !memcmp(s->tbuf + s->touched[i].off, id, len))
			return 0;
	if (s->ntouched == s->touched_cap) {
		uint32_t cap = s->touched_cap ? s->touched_cap * 2 : 8;
		struct touched *n = realloc(s->touched, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->touched = n;
		s->touched_cap = cap;
	}
	if (s->tbuf_cap - s->tbuf_len < len) {
		size_t cap = s->tbuf_cap ? s->tbuf_cap * 2 : 4096;
		while (cap - s->tbuf_len < len)
			cap *= 2;
		char *n = realloc(s->tbuf, cap);
		if (!n)
			return -ENOMEM;
		s->tbuf = n;
		s->tbuf_cap = cap;
	}
	memcpy(s->tbuf + s->tbuf_len, id, len);
	s->touched[s->ntouched++] = (struct touched){
		(uint32_t)s->tbuf_len, len, p};
	s->tbuf_len += len;
	return 0;
}

static void sink_add(void *ctx, const struct sl_txnlog_rec *r)
{
	struct sl_tstore *s = ctx;
	if (s->batch_failed)
		return;
	if (nparts(s) <= 0 || r->id_len == 0) {
		s->batch_failed = true;
		return;
	}
	int32_t p = partition_of(s, r->id, r->id_len);
	if (sl_pload_state(s->pl, p) || touch(s, r->id, r->id_len, p) ||
	    mirror_apply(s, r)) {
		s->batch_failed = true;
		return;
	}
}

/* One id's record (key, then value or a tombstone) of the batch. */
struct enc {
	int32_t partition;
	uint8_t *key;
	int32_t klen;
	uint8_t *value;
	int32_t vlen;
};

static int encode(struct sl_tstore *s, const struct touched *t,
		  struct enc *out)
{
	const char *id = s->tbuf + t->off;
	const struct ment *e = ment_find(s, id, t->len);
	struct sl_ttopic_state st = {0};
	size_t vbytes = 0;
	if (e) {
		st = (struct sl_ttopic_state){&e->st, e->parts, e->nparts,
					      e->groups, e->ngroups};
		vbytes = sl_ttopic_value_bytes(&st);
	}
	out->partition = t->partition;
	out->key = malloc(SL_TTOPIC_KEY_MAX + vbytes);
	if (!out->key)
		return -ENOMEM;
	out->klen = sl_ttopic_key(id, t->len, out->key);
	out->value = e ? out->key + SL_TTOPIC_KEY_MAX : NULL;
	out->vlen = e ? (int32_t)sl_ttopic_value(&st, out->value) : -1;
	if (e && (size_t)out->vlen + SL_TTOPIC_KEY_MAX > SL_GLOG_BATCH_MAX) {
		free(out->key);
		return -EMSGSIZE;
	}
	return 0;
}

/* The batch failed: the partitions it touched that are ours are loaded
 * again (the mirror holds what the coordinator will not apply). */
static void batch_failed(struct sl_tstore *s, int rc)
{
	sl_log("%s: a batch of the transaction coordinator cannot be "
	       "appended: %s", SL_TTOPIC, strerror(-rc));
	for (uint32_t i = 0; i < s->ntouched; i++) {
		int32_t p = s->touched[i].partition;
		if (!sl_pload_state(s->pl, p))
			sl_pload_reload(s->pl, p, sl_now_ms(), "its memory is not "
				     "what its log holds", 0);
	}
}

static int sink_end(void *ctx)
{
	struct sl_tstore *s = ctx;
	int rc = 0;
	if (s->batch_failed)
		rc = -EIO;
	else if (!s->ntouched)
		return 0;
	else if (sl_hold_outstanding(&s->hold) + s->ntouched >
		 SL_TSTORE_OUTSTANDING_MAX)
		rc = -ENOBUFS;
	struct enc *enc = rc ? NULL : calloc(s->ntouched, sizeof(*enc));
	if (!rc && !enc)
		rc = -ENOMEM;
	uint32_t made = 0;
	while (!rc && made < s->ntouched) {
		rc = encode(s, &s->touched[made], &enc[made]);
		if (!rc)
			made++;
	}
	/* one append per id (a batch changes one id, in practice) */
	for (uint32_t i = 0; i < made && !rc; i++) {
		struct sl_glog_rec r = {enc[i].key, enc[i].klen, enc[i].value,
					enc[i].vlen, NULL, 0};
		uint64_t seq;
		rc = sl_glog_append(sl_pload_log(s->pl), enc[i].partition,
				    &r, 1,
				    sl_wall_ms(), &seq);
		if (!rc)
			rc = sl_hold_track(&s->hold, seq, enc[i].partition);
		if (!rc)
			s->st.batches++;
	}
	for (uint32_t i = 0; i < made; i++)
		free(enc[i].key);
	free(enc);
	if (rc)
		batch_failed(s, rc);
	return rc;
}

/* ---- life ---- */

int sl_tstore_create(const struct sl_tstore_config *cfg,
		     struct sl_tstore **out)
{
	struct sl_tstore *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	struct sl_pload_config pcfg = {
		.topic = SL_TTOPIC, .what = "transactional ids",
		.mark_key = mark_key, .mark_key_len = sizeof(mark_key),
		.node_id = cfg->node_id, .kafka_port = cfg->kafka_port,
		.kafka_addr = cfg->kafka_addr};
	struct sl_pload_ops ops = {.drop = on_drop, .record = on_record,
				   .loaded = on_loaded,
				   .appended = on_appended, .ctx = s};
	if (sl_pload_create(&pcfg, &ops, &s->pl)) {
		free(s);
		return -ENOMEM;
	}
	sl_hold_init(&s->hold, fire, s);
	s->sink = (struct sl_txn_sink){.begin = sink_begin, .add = sink_add,
				       .end = sink_end, .ctx = s};
	*out = s;
	return 0;
}

void sl_tstore_destroy(struct sl_tstore *s)
{
	if (!s)
		return;
	sl_hold_clear(&s->hold); /* before the partitions go: fire asks */
	sl_pload_destroy(s->pl);
	mirror_drop(s, -1);
	free(s->ments);
	free(s->touched);
	free(s->tbuf);
	free(s);
}

void sl_tstore_set_txn(struct sl_tstore *s, struct sl_txn *t)
{
	s->txn = t;
}

const struct sl_txn_sink *sl_tstore_sink(struct sl_tstore *s)
{
	return &s->sink;
}

int sl_tstore_fd(const struct sl_tstore *s)
{
	return sl_pload_fd(s->pl);
}

short sl_tstore_events(const struct sl_tstore *s)
{
	return sl_pload_events(s->pl);
}

int sl_tstore_timeout_ms(const struct sl_tstore *s, int64_t now_ms)
{
	return sl_pload_timeout_ms(s->pl, now_ms);
}

int sl_tstore_do_work(struct sl_tstore *s, int64_t now_ms)
{
	return sl_pload_do_work(s->pl, now_ms);
}

void sl_tstore_stats(const struct sl_tstore *s, struct sl_tstore_stats *out)
{
	*out = s->st;
}
