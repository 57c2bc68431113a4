/*
 * Loads and drops of an internal topic's partitions (pload.h).  Each
 * partition this broker leads is, in turn: waiting (a load starts at
 * retry_ms), marking (the mark's append in flight), reading (up to the
 * mark) and loaded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/cluster_image.h"
#include "control/log.h"
#include "control/pload.h"
#include "proto/kafka/kcodec.h"

enum pstate { P_NONE, P_WAIT, P_MARK, P_READ, P_LOADED };

struct ppart {
	enum pstate state;
	int32_t epoch;        /* the leader epoch loaded (or loading) */
	uint64_t mark_seq;
	int64_t retry_ms, backoff_ms;
	int64_t load_start_ms;
	uint64_t records;     /* read by the load */
	uint64_t gen;
};

struct sl_pload {
	struct sl_pload_config cfg;
	struct sl_pload_ops ops;
	struct sl_glog *log;
	uint32_t topic_id;
	int32_t nparts;
	struct ppart *parts;
	uint64_t loads;
};

static bool ours(const struct sl_pload *pl, int32_t p)
{
	return p >= 0 && p < pl->nparts;
}

static void drop(struct sl_pload *pl, int32_t p)
{
	pl->parts[p].gen++;
	pl->ops.drop(pl->ops.ctx, p);
}

static void backoff(struct ppart *pp, int64_t now_ms)
{
	pp->state = P_WAIT;
	pp->retry_ms = now_ms + pp->backoff_ms;
	pp->backoff_ms = pp->backoff_ms * 2 > SL_PLOAD_RETRY_MAX_MS ?
				 SL_PLOAD_RETRY_MAX_MS : pp->backoff_ms * 2;
}

void sl_pload_reload(struct sl_pload *pl, int32_t p, int64_t now_ms,
		     const char *why, int16_t err)
{
	if (!ours(pl, p) || pl->parts[p].state == P_NONE)
		return;
	struct ppart *pp = &pl->parts[p];
	/* what is queued or in flight of p is dropped; the load's mark
	 * goes behind whatever of it still lands */
	sl_glog_forget(pl->log, p);
	drop(pl, p);
	sl_log("%s-%d: %s (Kafka error %d): loading it again in %lld ms",
	       pl->cfg.topic, (int)p, why, (int)err,
	       (long long)pp->backoff_ms);
	backoff(pp, now_ms);
}

static void lose(struct sl_pload *pl, int32_t p)
{
	struct ppart *pp = &pl->parts[p];
	if (pp->state == P_NONE)
		return;
	sl_glog_forget(pl->log, p);
	drop(pl, p);
	if (pp->state == P_LOADED)
		sl_log("%s-%d: no longer led here: its %s are unloaded",
		       pl->cfg.topic, (int)p, pl->cfg.what);
	*pp = (struct ppart){.state = P_NONE, .epoch = -1, .gen = pp->gen};
}

static void drop_topic(struct sl_pload *pl)
{
	for (int32_t p = 0; p < pl->nparts; p++)
		lose(pl, p);
	pl->ops.drop(pl->ops.ctx, -1);
	free(pl->parts);
	pl->parts = NULL;
	pl->nparts = 0;
	pl->topic_id = 0;
}

void sl_pload_image(struct sl_pload *pl, const struct sl_ci_image *img,
		    int64_t now_ms)
{
	const char *name = pl->cfg.topic;
	const struct sl_ci_topic *t = sl_ci_topic_find(img, name,
						       strlen(name));
	if (!t || t->id != pl->topic_id || t->partitions != pl->nparts) {
		if (pl->nparts)
			drop_topic(pl);
		if (!t || t->partitions <= 0)
			return;
		pl->parts = calloc((size_t)t->partitions, sizeof(*pl->parts));
		if (!pl->parts) {
			sl_log("%s: out of memory: none of its %s is "
			       "coordinated here", name, pl->cfg.what);
			return;
		}
		pl->topic_id = t->id;
		pl->nparts = t->partitions;
		for (int32_t p = 0; p < pl->nparts; p++)
			pl->parts[p].epoch = -1;
	}
	for (int32_t p = 0; p < pl->nparts; p++) {
		const struct sl_ci_partition *cp =
			sl_ci_partition_find(img, t->id, p);
		struct ppart *pp = &pl->parts[p];
		if (!cp || cp->leader != pl->cfg.node_id) {
			lose(pl, p);
			continue;
		}
		if (pp->state != P_NONE && pp->epoch == cp->leader_epoch)
			continue;
		if (pp->state != P_NONE)
			lose(pl, p); /* led again at a new epoch: load again */
		*pp = (struct ppart){.state = P_WAIT, .epoch = cp->leader_epoch,
				     .retry_ms = now_ms,
				     .backoff_ms = SL_PLOAD_RETRY_MIN_MS,
				     .gen = pp->gen};
	}
}

int32_t sl_pload_partitions(const struct sl_pload *pl)
{
	return pl->nparts;
}

int16_t sl_pload_state(const struct sl_pload *pl, int32_t p)
{
	if (!ours(pl, p))
		return KC_ERR_NOT_COORDINATOR;
	switch (pl->parts[p].state) {
	case P_LOADED:
		return 0;
	case P_NONE:
		return KC_ERR_NOT_COORDINATOR;
	default:
		return KC_ERR_COORDINATOR_LOAD_IN_PROGRESS;
	}
}

int32_t sl_pload_epoch(const struct sl_pload *pl, int32_t p)
{
	if (!ours(pl, p) || pl->parts[p].state == P_NONE)
		return -1;
	return pl->parts[p].epoch;
}

uint64_t sl_pload_gen(const struct sl_pload *pl, int32_t p)
{
	return ours(pl, p) ? pl->parts[p].gen : 0;
}

struct sl_glog *sl_pload_log(struct sl_pload *pl)
{
	return pl->log;
}

uint64_t sl_pload_loads(const struct sl_pload *pl)
{
	return pl->loads;
}

static void start_loads(struct sl_pload *pl, int64_t now_ms)
{
	for (int32_t p = 0; p < pl->nparts; p++) {
		struct ppart *pp = &pl->parts[p];
		if (pp->state != P_WAIT || pp->retry_ms > now_ms)
			continue;
		struct sl_glog_rec r = {.key = pl->cfg.mark_key,
					.key_len = pl->cfg.mark_key_len,
					.value = NULL, .value_len = -1};
		uint64_t seq;
		if (sl_glog_append(pl->log, p, &r, 1, sl_wall_ms(), &seq)) {
			pp->retry_ms = now_ms + pp->backoff_ms;
			continue;
		}
		pp->state = P_MARK;
		pp->mark_seq = seq;
		pp->load_start_ms = now_ms;
		pp->records = 0;
	}
}

/* ---- the log's callbacks ---- */

static void on_appended(void *ctx, uint64_t seq, int32_t p, int16_t err,
			int64_t offset)
{
	struct sl_pload *pl = ctx;
	int64_t now = sl_now_ms();
	if (!ours(pl, p))
		return;
	struct ppart *pp = &pl->parts[p];
	if (pp->state != P_MARK || seq != pp->mark_seq) {
		pl->ops.appended(pl->ops.ctx, seq, p, err);
		return;
	}
	if (err) {
		backoff(pp, now); /* the local sluiced may not lead it yet */
		return;
	}
	drop(pl, p); /* what memory held of it (nothing, normally) */
	pp->state = P_READ;
	if (sl_glog_read(pl->log, p, offset + 1) < 0)
		sl_pload_reload(pl, p, now, "cannot be read", 0);
}

static bool reading(const struct sl_pload *pl, int32_t p)
{
	return ours(pl, p) && pl->parts[p].state == P_READ;
}

static void on_record(void *ctx, int32_t p, int64_t offset,
		      const struct sl_glog_rec *r)
{
	struct sl_pload *pl = ctx;
	if (!reading(pl, p))
		return;
	if (r->key_len == pl->cfg.mark_key_len && r->value_len < 0 &&
	    !memcmp(r->key, pl->cfg.mark_key, (size_t)r->key_len))
		return; /* a load's mark */
	pl->parts[p].records++;
	pl->ops.record(pl->ops.ctx, p, offset, r);
}

static void on_marker(void *ctx, int32_t p, int64_t offset,
		      int64_t producer_id, int16_t producer_epoch, bool commit)
{
	struct sl_pload *pl = ctx;
	if (reading(pl, p) && pl->ops.marker)
		pl->ops.marker(pl->ops.ctx, p, offset, producer_id,
			       producer_epoch, commit);
}

static void on_read(void *ctx, int32_t p, int16_t err)
{
	struct sl_pload *pl = ctx;
	int64_t now = sl_now_ms();
	if (!reading(pl, p))
		return;
	struct ppart *pp = &pl->parts[p];
	if (err) {
		sl_pload_reload(pl, p, now, "reading it failed", err);
		return;
	}
	pp->state = P_LOADED;
	pp->backoff_ms = SL_PLOAD_RETRY_MIN_MS;
	pl->loads++;
	sl_log("%s-%d: loaded at leader epoch %d: %llu records in %lld ms",
	       pl->cfg.topic, (int)p, (int)pp->epoch,
	       (unsigned long long)pp->records,
	       (long long)(now - pp->load_start_ms));
	pl->ops.loaded(pl->ops.ctx, p, now);
}

/* ---- life ---- */

int sl_pload_create(const struct sl_pload_config *cfg,
		    const struct sl_pload_ops *ops, struct sl_pload **out)
{
	struct sl_pload *pl = calloc(1, sizeof(*pl));
	if (!pl)
		return -ENOMEM;
	pl->cfg = *cfg;
	pl->ops = *ops;
	if (sl_glog_create(cfg->topic, cfg->kafka_port, &pl->log)) {
		free(pl);
		return -ENOMEM;
	}
	if (cfg->kafka_addr)
		sl_glog_set_addr(pl->log, cfg->kafka_addr);
	sl_glog_set_callbacks(pl->log, on_appended, on_record, on_read, pl);
	if (ops->marker)
		sl_glog_set_marker_callback(pl->log, on_marker);
	*out = pl;
	return 0;
}

void sl_pload_destroy(struct sl_pload *pl)
{
	if (!pl)
		return;
	sl_glog_destroy(pl->log);
	free(pl->parts);
	free(pl);
}

int sl_pload_fd(const struct sl_pload *pl)
{
	return sl_glog_fd(pl->log);
}

short sl_pload_events(const struct sl_pload *pl)
{
	return sl_glog_events(pl->log);
}

int sl_pload_timeout_ms(const struct sl_pload *pl, int64_t now_ms)
{
	int t = sl_glog_timeout_ms(pl->log, now_ms);
	for (int32_t p = 0; p < pl->nparts; p++) {
		if (pl->parts[p].state != P_WAIT)
			continue;
		int64_t w = pl->parts[p].retry_ms - now_ms;
		if (w < 0)
			w = 0;
		if (t < 0 || w < t)
			t = (int)w;
	}
	return t;
}

int sl_pload_do_work(struct sl_pload *pl, int64_t now_ms)
{
	start_loads(pl, now_ms);
	return sl_glog_do_work(pl->log, now_ms);
}
