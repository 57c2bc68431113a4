/*
 * The group coordinator's store in a cluster (gstore.h): partition loads
 * and unloads as leadership moves (control/pload.h), the coordinator's
 * batches appended to __consumer_offsets, and its answers held until what
 * they follow is durable.
 *
 * Answers: each batch the sink takes is appended per partition (one
 * append each, seq from the log client) and tracked by the hold
 * (control/hold.h): an answer given while any is outstanding waits until
 * every append before it is durable, and is withheld when one of them
 * failed (it was made with memory that held its records).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/cluster_image.h"
#include "control/glog.h"
#include "control/gstore.h"
#include "control/gtopic.h"
#include "control/gtxn.h"
#include "control/hold.h"
#include "control/log.h"
#include "control/pload.h"
#include "proto/config.h"
#include "proto/kafka/kcodec.h"

/* An answer the hold keeps. */
struct held {
	uint64_t token;
	size_t len;
	uint8_t resp[];
};

/* A record of the batch under way, encoded. */
struct pend {
	int32_t partition;
	uint32_t off;         /* key at buf + off, then the value */
	int32_t klen, vlen;   /* vlen -1: a tombstone */
};

struct sl_gstore {
	struct sl_gstore_config cfg;
	struct sl_groups *groups;
	struct sl_gtxn *gtxn;  /* transactions' offsets (NULL: none) */
	struct sl_pload *pl;  /* the partitions led here */
	struct sl_commits_sink sink;
	int32_t matching;     /* sl_groups_* match: this partition */
	struct sl_hold hold;  /* answers until their appends are durable */
	/* the batch under way */
	struct pend *pend;
	uint32_t npend, pend_cap;
	uint8_t *buf;
	size_t buf_len, buf_cap;
	bool pend_failed;
	struct sl_gstore_stats st;
};

/* GroupMetadataKey v2 of group "", no value: what a partition's load
 * appends to learn where the log it must read ends. */
static const uint8_t marker_key[4] = {0, 2, 0, 0};

/* ---- matching a partition's groups ---- */

static int32_t partition_of(const struct sl_gstore *s, const char *group,
			    size_t len)
{
	return sl_offsets_partition(group, len, sl_pload_partitions(s->pl));
}

static bool match_partition(void *ctx, const char *group, size_t len)
{
	struct sl_gstore *s = ctx;
	return sl_pload_partitions(s->pl) > 0 &&
	       partition_of(s, group, len) == s->matching;
}

static bool match_all(void *ctx, const char *group, size_t len)
{
	(void)ctx;
	(void)group;
	(void)len;
	return true;
}

/* ---- answers ---- */

static void fire(void *ctx, void *item, bool tainted)
{
	struct sl_gstore *s = ctx;
	struct held *h = item;
	if (tainted) {
		s->st.replies_withheld++;
		s->cfg.reply(s->cfg.reply_ctx, h->token, NULL, 0);
	} else {
		s->cfg.reply(s->cfg.reply_ctx, h->token, h->resp, h->len);
	}
	free(h);
}

void sl_gstore_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len)
{
	struct sl_gstore *s = ctx;
	if (sl_hold_idle(&s->hold)) {
		s->cfg.reply(s->cfg.reply_ctx, token, resp, len);
		return;
	}
	struct held *h = malloc(sizeof(*h) + len);
	if (h) {
		h->token = token;
		h->len = len;
		if (len)
			memcpy(h->resp, resp, len);
	}
	if (!h || sl_hold_put(&s->hold, h)) {
		free(h);
		/* no memory to hold it: the client's connection closes
		 * rather than hearing of something not yet durable */
		sl_log("%s: no memory to hold an answer: closing its "
		       "connection", SL_OFFSETS_TOPIC);
		s->st.replies_withheld++;
		s->cfg.reply(s->cfg.reply_ctx, token, NULL, 0);
		return;
	}
	s->st.replies_held++;
}

/* ---- loading and unloading (pload's callbacks) ---- */

static void unload(struct sl_gstore *s, int32_t p)
{
	if (s->gtxn)
		sl_gtxn_unload(s->gtxn, p);
	if (s->groups) {
		s->matching = p;
		sl_groups_unload(s->groups, p < 0 ? match_all :
						   match_partition, s);
	}
}

/* p's memory goes, and every answer that waited for its appends */
static void on_drop(void *ctx, int32_t p)
{
	struct sl_gstore *s = ctx;
	if (p >= 0)
		sl_hold_fail_partition(&s->hold, p);
	unload(s, p);
}

void sl_gstore_image(struct sl_gstore *s, const struct sl_ci_image *img,
		     int64_t now_ms)
{
	sl_pload_image(s->pl, img, now_ms);
}

int32_t sl_gstore_partition_of(void *ctx, const char *group, size_t len)
{
	const struct sl_gstore *s = ctx;
	return sl_pload_partitions(s->pl) > 0 ? partition_of(s, group, len) :
						 -1;
}

int16_t sl_gstore_partition_state(void *ctx, int32_t p)
{
	const struct sl_gstore *s = ctx;
	return sl_pload_state(s->pl, p);
}

int16_t sl_gstore_coordinates(void *ctx, const char *group, size_t len)
{
	return sl_gstore_partition_state(ctx,
					 sl_gstore_partition_of(ctx, group, len));
}

static void on_appended(void *ctx, uint64_t seq, int32_t p, int16_t err)
{
	struct sl_gstore *s = ctx;
	/* answered already when the lead moved: nothing more */
	if (sl_hold_done(&s->hold, seq, err != 0) && err) {
		s->st.batch_failures++;
		sl_pload_reload(s->pl, p, sl_now_ms(), "a batch of the group "
				"coordinator failed", err);
	}
}

static void on_record(void *ctx, int32_t p, int64_t offset,
		      const struct sl_glog_rec *r)
{
	struct sl_gstore *s = ctx;
	(void)offset;
	if (!s->groups)
		return;
	struct sl_offsets_rec rec;
	int rc = sl_gtopic_decode(r->key, r->key_len, r->value, r->value_len,
				  &rec);
	if (rc || partition_of(s, rec.group, rec.group_len) != p) {
		s->st.records_skipped++;
		return;
	}
	if (rec.type == SL_OFFSETS_TXN || rec.type == SL_OFFSETS_TXN_END) {
		if (s->gtxn)
			sl_gtxn_load_record(s->gtxn, p, &rec);
		s->st.records_loaded++;
		return;
	}
	rc = sl_groups_load_record(s->groups, &rec);
	if (rc < 0) {
		/* the limits of this coordinator: the rest of the partition
		 * is still read, as an open reads past them */
		s->st.records_skipped++;
		return;
	}
	s->st.records_loaded++;
}

static void on_marker(void *ctx, int32_t p, int64_t offset,
		      int64_t producer_id, int16_t producer_epoch, bool commit)
{
	struct sl_gstore *s = ctx;
	(void)offset;
	if (s->gtxn)
		sl_gtxn_load_marker(s->gtxn, p, producer_id, producer_epoch,
				    commit);
}

static void on_loaded(void *ctx, int32_t p, int64_t now_ms)
{
	struct sl_gstore *s = ctx;
	(void)now_ms;
	s->matching = p;
	if (s->groups)
		sl_groups_loaded(s->groups, match_partition, s);
	s->st.loads++;
}

/* ---- the sink ---- */

static void sink_begin(void *ctx)
{
	struct sl_gstore *s = ctx;
	s->npend = 0;
	s->buf_len = 0;
	s->pend_failed = false;
}

static void sink_add(void *ctx, const struct sl_offsets_rec *r)
{
	struct sl_gstore *s = ctx;
	if (s->pend_failed)
		return;
	if (sl_pload_partitions(s->pl) <= 0) {
		s->pend_failed = true;
		return;
	}
	if (s->npend == s->pend_cap) {
		uint32_t cap = s->pend_cap ? s->pend_cap * 2 : 64;
		struct pend *n = realloc(s->pend, cap * sizeof(*n));
		if (!n) {
			s->pend_failed = true;
			return;
		}
		s->pend = n;
		s->pend_cap = cap;
	}
	size_t need = SL_GTOPIC_KEY_MAX + SL_GTOPIC_VALUE_MAX;
	if (s->buf_cap - s->buf_len < need) {
		size_t cap = s->buf_cap ? s->buf_cap * 2 : 64 * 1024;
		while (cap - s->buf_len < need)
			cap *= 2;
		uint8_t *n = realloc(s->buf, cap);
		if (!n) {
			s->pend_failed = true;
			return;
		}
		s->buf = n;
		s->buf_cap = cap;
	}
	struct pend *pd = &s->pend[s->npend++];
	pd->partition = partition_of(s, r->group, r->group_len);
	pd->off = (uint32_t)s->buf_len;
	sl_gtopic_encode(r, s->buf + pd->off, &pd->klen,
			 s->buf + pd->off + SL_GTOPIC_KEY_MAX, &pd->vlen);
	s->buf_len += SL_GTOPIC_KEY_MAX + (pd->vlen > 0 ? (size_t)pd->vlen : 0);
}

/* Each partition's records of the batch as one append.  A partition not
 * loaded here fails the batch (its groups are not this coordinator's;
 * nothing is appended then), as does a full queue. */
static int sink_end(void *ctx)
{
	struct sl_gstore *s = ctx;
	if (!s->npend)
		return 0;
	if (s->pend_failed || sl_hold_outstanding(&s->hold) + s->npend >
				      SL_GSTORE_OUTSTANDING_MAX)
		return -ENOBUFS;
	for (uint32_t i = 0; i < s->npend; i++)
		if (sl_pload_state(s->pl, s->pend[i].partition))
			return -EIO;
	struct sl_glog_rec *recs = malloc(s->npend * sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	int rc = 0;
	bool *sent = calloc(s->npend, sizeof(*sent));
	if (!sent) {
		free(recs);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->npend; i++) {
		if (sent[i])
			continue;
		int32_t p = s->pend[i].partition;
		uint32_t n = 0;
		for (uint32_t k = i; k < s->npend; k++) {
			const struct pend *pd = &s->pend[k];
			if (pd->partition != p)
				continue;
			sent[k] = true;
			recs[n++] = (struct sl_glog_rec){
				.key = s->buf + pd->off, .key_len = pd->klen,
				.value = pd->vlen >= 0 ?
					s->buf + pd->off + SL_GTOPIC_KEY_MAX :
					NULL,
				.value_len = pd->vlen};
		}
		uint64_t seq;
		int arc = sl_glog_append(sl_pload_log(s->pl), p, recs, n,
					 sl_wall_ms(), &seq);
		if (arc == 0)
			arc = sl_hold_track(&s->hold, seq, p);
		if (arc) {
			/* what went before is on its way but the coordinator
			 * takes the batch as failed: those partitions are
			 * loaded again (the load's mark goes behind what of
			 * them still lands) */
			sl_log("%s-%d: a batch of the group coordinator cannot "
			       "be appended: %s", SL_OFFSETS_TOPIC, (int)p,
			       strerror(-arc));
			for (uint32_t k = 0; k < i; k++)
				if (sent[k])
					sl_pload_reload(s->pl,
							s->pend[k].partition,
							sl_now_ms(), "a batch "
							"failed part way", 0);
			rc = arc;
			break;
		}
		s->st.batches++;
	}
	free(sent);
	free(recs);
	return rc;
}

/* ---- life ---- */

int sl_gstore_create(const struct sl_gstore_config *cfg,
		     struct sl_gstore **out)
{
	struct sl_gstore *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	struct sl_pload_config pcfg = {
		.topic = SL_OFFSETS_TOPIC, .what = "groups",
		.mark_key = marker_key, .mark_key_len = sizeof(marker_key),
		.node_id = cfg->node_id, .kafka_port = cfg->kafka_port,
		.kafka_addr = cfg->kafka_addr};
	struct sl_pload_ops ops = {.drop = on_drop, .record = on_record,
				   .marker = on_marker, .loaded = on_loaded,
				   .appended = on_appended, .ctx = s};
	if (sl_pload_create(&pcfg, &ops, &s->pl)) {
		free(s);
		return -ENOMEM;
	}
	sl_hold_init(&s->hold, fire, s);
	s->sink = (struct sl_commits_sink){.begin = sink_begin,
					   .add = sink_add, .end = sink_end,
					   .ctx = s};
	*out = s;
	return 0;
}

void sl_gstore_destroy(struct sl_gstore *s)
{
	if (!s)
		return;
	sl_pload_destroy(s->pl);
	sl_hold_clear(&s->hold);
	free(s->pend);
	free(s->buf);
	free(s);
}

void sl_gstore_set_groups(struct sl_gstore *s, struct sl_groups *g)
{
	s->groups = g;
}

void sl_gstore_set_gtxn(struct sl_gstore *s, struct sl_gtxn *t)
{
	s->gtxn = t;
}

const struct sl_commits_sink *sl_gstore_sink(struct sl_gstore *s)
{
	return &s->sink;
}

int sl_gstore_fd(const struct sl_gstore *s)
{
	return sl_pload_fd(s->pl);
}

short sl_gstore_events(const struct sl_gstore *s)
{
	return sl_pload_events(s->pl);
}

int sl_gstore_timeout_ms(const struct sl_gstore *s, int64_t now_ms)
{
	return sl_pload_timeout_ms(s->pl, now_ms);
}

int sl_gstore_do_work(struct sl_gstore *s, int64_t now_ms)
{
	return sl_pload_do_work(s->pl, now_ms);
}

void sl_gstore_stats(const struct sl_gstore *s, struct sl_gstore_stats *out)
{
	*out = s->st;
}
