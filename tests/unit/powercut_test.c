/*
 * Power cuts on a simulated disk (tests/lib/simdisk.h): thousands of
 * seeded schedules of appends, acknowledgements, syncs, rolls, retention,
 * topic creation and deletion, producer-id reservations, clean restarts
 * and power cuts (between operations and inside them), each followed by
 * recovery and these checks:
 *
 *   - recovery never fails: the topic metadata, the producer-id file and
 *     every partition log open;
 *   - every batch acknowledged with acks=all (durable_cb covered it) is
 *     present at its offset, byte for byte;
 *   - no offset is ever given to two batches when the first was
 *     acknowledged with acks=1 (written_cb covered it) or acks=all: after
 *     a cut the log continues above them (an empty batch over lost ones);
 *   - after a crash of the process alone (the page cache survives) every
 *     batch acknowledged with acks=1 is there too;
 *   - after a clean restart every appended batch is there;
 *   - deleted data does not come back: the log start never goes below
 *     what retention reported, a deleted topic stays deleted, and a topic
 *     created again under the same name never serves the old data;
 *   - producer ids handed out are never handed out again.
 *
 * Every schedule has its own seed, printed on failure with how to replay
 * it alone: SLUICE_POWERCUT_SEED=<seed>.  SLUICE_SEED replays a whole run;
 * SLUICE_POWERCUT_SCHEDULES sets the count (default 10000, 100000 with
 * SLUICE_LONG=1).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"
#include "simdisk.h"
#include "control/metadata.h"
#include "dataplane/partition_dir.h"
#include "dataplane/producer_ids.h"
#include "proto/record_batch.h"
#include "storage/disk.h"

#define DATA "/data"
#define CTRL "/control"
#define RUN "/data/run"
#define NAMES 3          /* topic names, reused across incarnations */
#define PARTS_MAX 2
#define INCARNATIONS 64  /* topics created per schedule, at most */
#define BATCH_CAP 8192
#define READ_CAP (256 << 10)

enum { B_APPENDED = 0, B_ACK1 = 1, B_ACKALL = 2 };
enum { T_NONE = 0, T_CREATING, T_LIVE, T_DELETING, T_DELETED };

struct mbatch {
	int64_t base, last;
	uint8_t status;
	bool seen;
	bool lost;       /* acks=1, lost with the page cache: offsets taken */
	uint32_t gen;    /* process generation that appended it */
	uint32_t len;
	uint8_t *bytes;  /* stamped, as the log must return it */
};

/* The model of one partition of one topic incarnation. */
struct mpart {
	struct mbatch *v; /* ordered by base offset */
	size_t n, cap;
	int64_t floor;    /* the log start may not go below this */
	uint64_t next_idx;
	struct slog *log; /* open in the current process, or NULL */
	struct world *wd;
};

struct mtopic {
	uint32_t id;
	int name;        /* 0 .. NAMES - 1 */
	int32_t parts;
	uint8_t durability;
	int state;
	struct mpart p[PARTS_MAX];
};

struct counts {
	uint64_t schedules, steps, cuts, cuts_inside, clean_restarts, crashes;
	uint64_t appends, verified_ackall, verified_any, lost_ack1;
	uint64_t lost_unacked, skip_batches, retention_deleted;
	uint64_t records_deleted, starts_over;
	uint64_t topics_created, topics_deleted, pids;
};

struct world {
	uint64_t seed;
	struct tl_rng rng;
	struct simdisk *sd;
	const struct sdisk *d;
	struct tl_clock clock;
	struct swriter *w;
	struct sl_meta *meta;
	struct pid_store pids;
	int64_t pid_handed_max;
	uint32_t gen;
	struct mtopic t[INCARNATIONS];
	unsigned nt;
	uint8_t *buf, *rbuf;
	struct counts *c;
	int step;
};

static const char *const names[NAMES] = { "alpha", "beta", "gamma" };

#define CHECK(wd, cond, ...)                                                 \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "schedule seed %llu step %d: ",      \
				(unsigned long long)(wd)->seed, (wd)->step); \
			fprintf(stderr, __VA_ARGS__);                        \
			fprintf(stderr, "\nreplay this schedule alone: "     \
				"SLUICE_POWERCUT_SEED=%llu\n",               \
				(unsigned long long)(wd)->seed);             \
			fail_msg("%s:%d: %s", __FILE__, __LINE__, #cond);    \
		}                                                            \
	} while (0)

/* ---- the model ---- */

static void mark(struct mpart *mp, int64_t end, uint8_t status)
{
	for (size_t i = mp->n; i-- > 0;) {
		struct mbatch *b = &mp->v[i];
		if (b->last >= end || b->gen != mp->wd->gen || b->lost)
			continue;
		if (b->status >= status)
			break; /* older ones are marked already */
		b->status = status;
	}
}

static void on_durable(void *ctx, struct slog *log, int64_t end, int err)
{
	if (err == 0)
		mark(ctx, end, B_ACKALL);
	(void)log;
}

static void on_written(void *ctx, struct slog *log, int64_t end)
{
	mark(ctx, end, B_ACK1);
	(void)log;
}

static void drop_entry(struct mpart *mp, size_t i)
{
	free(mp->v[i].bytes);
	memmove(&mp->v[i], &mp->v[i + 1], (mp->n - i - 1) * sizeof(*mp->v));
	mp->n--;
}

/* A batch the log placed at [base, last]: nothing acknowledged may have
 * been there, nor anything appended by this same process. */
static void model_append(struct world *wd, struct mpart *mp,
			 const uint8_t *b, uint32_t len)
{
	int64_t base = (int64_t)rb_be64(b + RB_OFF_BASE_OFFSET);
	int64_t last = rb_last_offset(b);
	size_t i = mp->n;
	while (i > 0 && mp->v[i - 1].last >= base)
		i--;
	for (size_t k = i; k < mp->n; k++) {
		const struct mbatch *o = &mp->v[k];
		CHECK(wd, o->status == B_APPENDED && o->gen != wd->gen,
		      "offsets [%lld, %lld] given again: they held a batch "
		      "[%lld, %lld] %s", (long long)base, (long long)last,
		      (long long)o->base, (long long)o->last,
		      o->status == B_ACKALL ? "acknowledged with acks=all" :
		      o->status == B_ACK1 ? "acknowledged with acks=1" :
					    "appended by this same process");
	}
	while (mp->n > i)
		drop_entry(mp, mp->n - 1);
	if (mp->n == mp->cap) {
		mp->cap = mp->cap ? mp->cap * 2 : 32;
		mp->v = realloc(mp->v, mp->cap * sizeof(*mp->v));
		assert_non_null(mp->v);
	}
	struct mbatch *e = &mp->v[mp->n++];
	memset(e, 0, sizeof(*e));
	e->base = base;
	e->last = last;
	e->gen = wd->gen;
	e->len = len;
	e->bytes = malloc(len);
	assert_non_null(e->bytes);
	memcpy(e->bytes, b, len);
}

static void part_free(struct mpart *mp)
{
	while (mp->n)
		drop_entry(mp, mp->n - 1);
	free(mp->v);
	mp->v = NULL;
	mp->cap = 0;
}

/* ---- the broker in miniature ---- */

static void log_quiet(void *ctx, int level, const char *line)
{
	(void)ctx;
	if (getenv("POWERCUT_TRACE"))
		fprintf(stderr, "log[%d]: %s\n", level, line);
}

static int open_part(struct world *wd, struct mtopic *t, int32_t p)
{
	struct slog_config cfg;
	char err[512];
	int rc = pdir_claim(wd->d, DATA, names[t->name], p, t->id, err,
			    sizeof(err));
	if (rc < 0)
		return rc;
	slog_config_defaults(&cfg);
	cfg.topic = names[t->name];
	cfg.partition = p;
	cfg.segment_bytes = 8 << 10;
	cfg.index_interval_bytes = 1024;
	cfg.retention_bytes = 16 << 10;
	cfg.batch_max_bytes = BATCH_CAP;
	cfg.buffer_bytes = 64 << 10;
	cfg.write_chunk_bytes = 16 << 10;
	cfg.durability = t->durability ? SLOG_SYNC_GROUP : SLOG_SYNC_EVERY_APPEND;
	cfg.group_commit_bytes = 8 << 10;
	cfg.group_commit_us = 1000;
	cfg.durable_cb = on_durable;
	cfg.written_cb = on_written;
	cfg.cb_ctx = &t->p[p];
	cfg.log_fn = log_quiet;
	cfg.clock = &wd->clock.sl;
	t->p[p].wd = wd;
	return slog_open(wd->w, DATA, &cfg, &t->p[p].log);
}

static void close_all(struct world *wd)
{
	for (unsigned i = 0; i < wd->nt; i++)
		for (int32_t p = 0; p < wd->t[i].parts; p++)
			if (wd->t[i].p[p].log) {
				(void)slog_close(wd->t[i].p[p].log);
				wd->t[i].p[p].log = NULL;
			}
	if (wd->w) {
		swriter_destroy(wd->w);
		wd->w = NULL;
	}
	sl_meta_close(wd->meta);
}

/* Read the whole log and compare it with the model (file comment). */
enum { R_CLEAN = 0, R_CRASH = 1, R_CUT = 2 };

static void check_part(struct world *wd, struct mtopic *t, int32_t p,
		       int how)
{
	struct mpart *mp = &t->p[p];
	struct slog *log = mp->log;
	int64_t start = slog_start_offset(log), end = slog_end_offset(log);
	if (getenv("POWERCUT_TRACE"))
		fprintf(stderr, "check %s-%d id %u how %d: [%lld, %lld), %zu in model\n",
			names[t->name], p, t->id, how, (long long)start,
			(long long)end, mp->n);
	CHECK(wd, start >= mp->floor, "%s-%d (id %u) starts at %lld below "
	      "%lld, where retention or DeleteRecords had moved it: deleted data came "
	      "back", names[t->name], p, t->id, (long long)start,
	      (long long)mp->floor);
	for (size_t i = 0; i < mp->n; i++)
		mp->v[i].seen = false;
	int64_t off = start;
	size_t k = 0;
	while (off < end) {
		ssize_t n = slog_read_copy(log, off, READ_CAP, end, wd->rbuf,
					   READ_CAP);
		CHECK(wd, n > 0, "%s-%d: read at %lld of [%lld, %lld): %zd",
		      names[t->name], p, (long long)off, (long long)start,
		      (long long)end, n);
		size_t pos = 0;
		while (pos < (size_t)n) {
			const uint8_t *b = wd->rbuf + pos;
			long len = rb_frame_size(b, (size_t)n - pos, BATCH_CAP);
			CHECK(wd, len >= RB_HEADER_BYTES, "%s-%d: bad batch "
			      "framing at %lld", names[t->name], p,
			      (long long)off);
			int64_t base = (int64_t)rb_be64(b + RB_OFF_BASE_OFFSET);
			int64_t last = rb_last_offset(b);
			CHECK(wd, base == off || (pos == 0 && base <= off),
			      "%s-%d: batch at %lld where %lld was next",
			      names[t->name], p, (long long)base,
			      (long long)off);
			bool skip = rb_be32(b + RB_OFF_RECORD_COUNT) == 0 &&
				    (int64_t)rb_be64(b + RB_OFF_PRODUCER_ID) == -1;
			while (k < mp->n && mp->v[k].last < base)
				k++;
			if (skip) {
				wd->c->skip_batches++;
				for (size_t j = k; j < mp->n &&
						   mp->v[j].base <= last; j++)
					CHECK(wd, mp->v[j].status != B_ACKALL,
					      "%s-%d: offsets [%lld, %lld] "
					      "skipped, over a batch acknowledged "
					      "with acks=all at %lld",
					      names[t->name], p, (long long)base,
					      (long long)last,
					      (long long)mp->v[j].base);
			} else {
				CHECK(wd, k < mp->n && mp->v[k].base == base &&
					  mp->v[k].last == last &&
					  mp->v[k].len == (uint32_t)len &&
					  !memcmp(mp->v[k].bytes, b, (size_t)len),
				      "%s-%d (id %u): the batch at [%lld, %lld] "
				      "is not the one appended there%s",
				      names[t->name], p, t->id, (long long)base,
				      (long long)last,
				      k < mp->n && mp->v[k].base == base ?
					      " (different bytes)" :
					      " (no batch was appended there: "
					      "another topic's data, or an "
					      "offset given twice)");
				mp->v[k].seen = true;
				wd->c->verified_any++;
				if (mp->v[k].status == B_ACKALL)
					wd->c->verified_ackall++;
			}
			pos += (size_t)len;
			off = last + 1;
		}
	}
	for (size_t i = 0; i < mp->n;) {
		struct mbatch *b = &mp->v[i];
		if (b->lost)
			CHECK(wd, b->last < end, "%s-%d (id %u): offsets [%lld, "
			      "%lld] of a batch acknowledged with acks=1 and lost "
			      "in a power cut would be given again (log ends at "
			      "%lld)", names[t->name], p, t->id,
			      (long long)b->base, (long long)b->last,
			      (long long)end);
		if (b->seen || b->lost || b->last < start) {
			i++;
			continue;
		}
		CHECK(wd, b->status != B_ACKALL, "%s-%d (id %u): batch [%lld, "
		      "%lld] acknowledged with acks=all is lost (log is [%lld, "
		      "%lld))", names[t->name], p, t->id, (long long)b->base,
		      (long long)b->last, (long long)start, (long long)end);
		CHECK(wd, how != R_CLEAN, "%s-%d: batch [%lld, %lld] missing "
		      "after a clean restart", names[t->name], p,
		      (long long)b->base, (long long)b->last);
		CHECK(wd, how != R_CRASH || b->status != B_ACK1, "%s-%d (id "
		      "%u): batch [%lld, %lld] acknowledged with acks=1 is lost "
		      "after a crash of the process", names[t->name], p, t->id,
		      (long long)b->base, (long long)b->last);
		if (b->status == B_ACK1) {
			/* lost with the page cache; its offsets stay taken */
			CHECK(wd, b->last < end, "%s-%d: batch [%lld, %lld] "
			      "acknowledged with acks=1 is lost and the log "
			      "ends at %lld: its offsets would be given again",
			      names[t->name], p, (long long)b->base,
			      (long long)b->last, (long long)end);
			wd->c->lost_ack1++;
			b->lost = true;
			i++;
			continue;
		}
		wd->c->lost_unacked++;
		drop_entry(mp, i); /* never acknowledged: may be given again */
	}
}


#define DIED(wd) simdisk_dead((wd)->sd)

/* Start the process again on what the disk kept, and check it.  Returns
 * false when the power went out again during the start (a cut armed
 * inside an operation can fall there): the caller starts again. */
static bool start_once(struct world *wd, int how)
{
	char err[512];
	close_all(wd);
	if (how == R_CLEAN) {
		wd->c->clean_restarts++;
	} else {
		simdisk_power_on(wd->sd);
		if (how == R_CUT)
			wd->c->cuts++;
		else
			wd->c->crashes++;
	}
	CHECK(wd, simdisk_open_handles(wd->sd) == 0,
	      "%u handles left open after closing everything",
	      simdisk_open_handles(wd->sd));
	wd->gen++;
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	wc.disk = wd->d;
	wc.use_hugepages = 0;
	CHECK(wd, swriter_create(&wc, &wd->w) == 0, "swriter_create");
	int rc = sl_meta_open_on(wd->meta, wd->d, CTRL, err, sizeof(err));
	if (rc < 0 && DIED(wd))
		return false;
	CHECK(wd, rc == 0, "topic metadata does not open: %s", err);
	rc = pid_store_open(&wd->pids, wd->d, RUN, err, sizeof(err));
	if (rc < 0 && DIED(wd))
		return false;
	CHECK(wd, rc == 0, "producer ids do not open: %s", err);
	CHECK(wd, wd->pids.next > wd->pid_handed_max,
	      "producer id %lld would be handed out again (%lld was)",
	      (long long)wd->pids.next, (long long)wd->pid_handed_max);
	/* what the metadata says decides the topics in doubt */
	for (unsigned i = 0; i < wd->nt; i++) {
		struct mtopic *t = &wd->t[i];
		if (t->state == T_NONE)
			continue;
		bool there = sl_meta_find_id(wd->meta, t->id) != NULL;
		/* a creation that did not reach the disk never happened (its
		 * id may be given again); a deletion is done or not */
		if (t->state == T_CREATING)
			t->state = there ? T_LIVE : T_NONE;
		if (t->state == T_DELETING)
			t->state = there ? T_LIVE : T_DELETED;
		if (t->state == T_NONE)
			continue;
		CHECK(wd, there == (t->state == T_LIVE),
		      "topic %s id %u is %s the metadata but was %s",
		      names[t->name], t->id, there ? "in" : "not in",
		      t->state == T_LIVE ? "created" : "deleted");
	}
	for (uint32_t i = 0; i < wd->meta->count; i++) {
		bool known = false;
		for (unsigned k = 0; k < wd->nt; k++)
			known |= wd->t[k].state != T_NONE &&
				 wd->t[k].id == wd->meta->topics[i].id;
		CHECK(wd, known, "the metadata holds topic id %u, never created",
		      wd->meta->topics[i].id);
	}
	rc = pdir_sweep(wd->d, DATA, err, sizeof(err));
	if (rc < 0 && DIED(wd))
		return false;
	CHECK(wd, rc >= 0, "%s", err);
	/* tombstones: what sluiced does when control sends them and it
	 * still knows the topic (not always: then the partition directory
	 * claim of a topic created again under the name must clean up) */
	bool tombstones = tl_rng_below(&wd->rng, 2);
	for (unsigned i = 0; i < wd->nt && tombstones; i++) {
		struct mtopic *t = &wd->t[i];
		if (t->state != T_DELETED)
			continue;
		for (int32_t p = 0; p < t->parts; p++) {
			rc = pdir_remove(wd->d, DATA, names[t->name], p, t->id,
					 err, sizeof(err));
			if (rc < 0 && DIED(wd))
				return false;
			CHECK(wd, rc >= 0, "%s", err);
			part_free(&t->p[p]);
		}
	}
	for (unsigned i = 0; i < wd->nt; i++) {
		struct mtopic *t = &wd->t[i];
		if (t->state != T_LIVE)
			continue;
		for (int32_t p = 0; p < t->parts; p++) {
			rc = open_part(wd, t, p);
			if (rc < 0 && DIED(wd))
				return false;
			CHECK(wd, rc == 0, "%s-%d (id %u) does not open after "
			      "the %s: %s", names[t->name], p, t->id,
			      how == R_CLEAN ? "clean restart" :
			      how == R_CRASH ? "crash" : "power cut",
			      tl_errname(rc));
			check_part(wd, t, p, how);
			if (DIED(wd))
				return false;
		}
	}
	return true;
}

static void restart(struct world *wd, int how)
{
	for (int tries = 0; !start_once(wd, how); tries++) {
		CHECK(wd, tries < 100, "the start keeps being cut");
		how = R_CUT;
		simdisk_cut_after(wd->sd, 0);
	}
}

/* ---- the operations ---- */

static struct mpart *pick_open(struct world *wd, struct mtopic **tp)
{
	struct mpart *cand[INCARNATIONS * PARTS_MAX];
	struct mtopic *ct[INCARNATIONS * PARTS_MAX];
	unsigned n = 0;
	for (unsigned i = 0; i < wd->nt; i++)
		for (int32_t p = 0; p < wd->t[i].parts; p++)
			if (wd->t[i].p[p].log) {
				ct[n] = &wd->t[i];
				cand[n++] = &wd->t[i].p[p];
			}
	if (!n)
		return NULL;
	unsigned k = (unsigned)tl_rng_below(&wd->rng, n);
	if (tp)
		*tp = ct[k];
	return cand[k];
}

static void op_append(struct world *wd)
{
	struct mtopic *t;
	struct mpart *mp = pick_open(wd, &t);
	if (!mp)
		return;
	const struct tl_gen gen = {
		.max_records = 4, .max_value_bytes = 700,
		.max_key_bytes = 8, .ts_base_ms = wd->clock.wall_ms,
	};
	uint64_t stream = tl_mix(wd->seed ^ ((uint64_t)t->id << 8) ^
				 (uint64_t)(mp - t->p));
	long n = tl_gen_batch(wd->buf, BATCH_CAP, stream, mp->next_idx++, &gen);
	assert_true(n > 0);
	int rc = slog_append(mp->log, wd->buf, (size_t)n, NULL);
	if (rc == SL_EFULL) {
		swriter_do_work(wd->w);
		return;
	}
	if (rc < 0) {
		CHECK(wd, simdisk_dead(wd->sd), "append failed: %s",
		      tl_errname(rc));
		return;
	}
	wd->c->appends++;
	if (getenv("POWERCUT_TRACE"))
		fprintf(stderr, "append %s-%d id %u at %lld\n", names[t->name],
			(int)(mp - t->p), t->id,
			(long long)rb_be64(wd->buf + RB_OFF_BASE_OFFSET));
	model_append(wd, mp, wd->buf, (uint32_t)n);
}

static void op_retention(struct world *wd)
{
	struct mpart *mp = pick_open(wd, NULL);
	if (!mp)
		return;
	int rc = slog_apply_retention(mp->log);
	if (rc < 0) {
		CHECK(wd, simdisk_dead(wd->sd), "retention failed: %s",
		      tl_errname(rc));
		return;
	}
	wd->c->retention_deleted += (uint64_t)rc;
	int64_t start = slog_start_offset(mp->log);
	if (start > mp->floor)
		mp->floor = start;
	while (mp->n && mp->v[0].last < start)
		drop_entry(mp, 0);
}

/* DeleteRecords to a random offset up to the end: once answered, the
 * start never moves back (mp->floor) */
static void op_delete_records(struct world *wd)
{
	struct mpart *mp = pick_open(wd, NULL);
	if (!mp)
		return;
	int64_t start = slog_start_offset(mp->log);
	int64_t end = slog_end_offset(mp->log);
	int64_t to = start + (int64_t)tl_rng_below(&wd->rng,
						   (uint64_t)(end - start) + 1);
	int64_t rc = slog_delete_records(mp->log, to);
	if (rc < 0) {
		CHECK(wd, simdisk_dead(wd->sd), "delete records to %lld: %s",
		      (long long)to, tl_errname((int)rc));
		return;
	}
	CHECK(wd, rc == to || (to <= start && rc == start), "delete records "
	      "to %lld answered %lld", (long long)to, (long long)rc);
	wd->c->records_deleted++;
	if (rc > mp->floor)
		mp->floor = rc;
	while (mp->n && mp->v[0].last < rc)
		drop_entry(mp, 0);
}

/* A follower starting over past its end (slog_start_at, its leader's
 * log start): once answered, the start is there and never moves back,
 * and nothing below it is read again; the offsets up to it are never
 * given to records */
static void op_start_at(struct world *wd)
{
	struct mpart *mp = pick_open(wd, NULL);
	if (!mp)
		return;
	int64_t end = slog_end_offset(mp->log);
	int64_t to = end + 1 + (int64_t)tl_rng_below(&wd->rng, 1000);
	int64_t rc = slog_start_at(mp->log, to, 0);
	if (rc < 0 && rc != SL_EFULL) {
		CHECK(wd, simdisk_dead(wd->sd), "start at %lld: %s",
		      (long long)to, tl_errname((int)rc));
		return;
	}
	int64_t start = slog_start_offset(mp->log);
	CHECK(wd, rc == SL_EFULL ? start == to || start < end + 1 :
				   rc == to && start == to &&
					   slog_end_offset(mp->log) == to,
	      "start at %lld answered %lld (log [%lld, %lld))",
	      (long long)to, (long long)rc, (long long)start,
	      (long long)slog_end_offset(mp->log));
	if (rc == to)
		wd->c->starts_over++;
	if (start > mp->floor)
		mp->floor = start;
	while (mp->n && mp->v[0].last < start)
		drop_entry(mp, 0);
}

static void op_create(struct world *wd)
{
	char err[512];
	bool used[NAMES] = { false };
	unsigned live = 0;
	for (unsigned i = 0; i < wd->nt; i++)
		if (wd->t[i].state == T_LIVE) {
			used[wd->t[i].name] = true;
			live++;
		}
	if (live == NAMES || wd->nt == INCARNATIONS)
		return;
	int name;
	do
		name = (int)tl_rng_below(&wd->rng, NAMES);
	while (used[name]);
	struct sl_topic st;
	memset(&st, 0, sizeof(st));
	st.partitions = (int32_t)tl_rng_range(&wd->rng, 1, PARTS_MAX);
	st.durability = (uint8_t)tl_rng_below(&wd->rng, 2);
	st.retention_ms = -1;
	st.retention_bytes = -1;
	st.name_len = (uint16_t)strlen(names[name]);
	memcpy(st.name, names[name], st.name_len + 1);
	long id = sl_meta_create(wd->meta, &st);
	CHECK(wd, id > 0, "sl_meta_create: %ld", id);
	struct mtopic *t = &wd->t[wd->nt++];
	memset(t, 0, sizeof(*t));
	t->id = (uint32_t)id;
	t->name = name;
	t->parts = st.partitions;
	t->durability = st.durability;
	t->state = T_CREATING;
	if (sl_meta_save(wd->meta, err, sizeof(err)) < 0) {
		CHECK(wd, simdisk_dead(wd->sd), "%s", err);
		return; /* in doubt until the restart reads the metadata */
	}
	t->state = T_LIVE;
	if (getenv("POWERCUT_TRACE"))
		fprintf(stderr, "created %s id %u\n", names[name], t->id);
	wd->c->topics_created++;
	for (int32_t p = 0; p < t->parts; p++) {
		int rc = open_part(wd, t, p);
		if (rc < 0) {
			CHECK(wd, simdisk_dead(wd->sd), "opening %s-%d: %s",
			      names[name], p, tl_errname(rc));
			return;
		}
	}
}

static void op_delete(struct world *wd)
{
	char err[512];
	struct mtopic *live[NAMES];
	unsigned n = 0;
	for (unsigned i = 0; i < wd->nt; i++)
		if (wd->t[i].state == T_LIVE)
			live[n++] = &wd->t[i];
	if (!n)
		return;
	struct mtopic *t = live[tl_rng_below(&wd->rng, n)];
	const char *name = names[t->name];
	CHECK(wd, sl_meta_delete(wd->meta, name, strlen(name), NULL) == 0,
	      "sl_meta_delete %s", name);
	t->state = T_DELETING;
	if (sl_meta_save(wd->meta, err, sizeof(err)) < 0) {
		CHECK(wd, simdisk_dead(wd->sd), "%s", err);
		return;
	}
	t->state = T_DELETED;
	if (getenv("POWERCUT_TRACE"))
		fprintf(stderr, "deleted %s id %u\n", name, t->id);
	wd->c->topics_deleted++;
	for (int32_t p = 0; p < t->parts; p++) {
		if (t->p[p].log) {
			(void)slog_close(t->p[p].log);
			t->p[p].log = NULL;
		}
		if (simdisk_dead(wd->sd))
			return;
		int rc = pdir_remove(wd->d, DATA, name, p, t->id, err,
				     sizeof(err));
		if (rc < 0) {
			CHECK(wd, simdisk_dead(wd->sd), "%s", err);
			return;
		}
		part_free(&t->p[p]);
	}
}

static void op_pid(struct world *wd)
{
	int64_t id = wd->pids.next;
	if (id >= wd->pids.reserved_end) {
		int rc = pid_store_reserve(&wd->pids, id);
		if (rc < 0) {
			CHECK(wd, simdisk_dead(wd->sd), "pid reserve: %s",
			      tl_errname(rc));
			return;
		}
	}
	wd->pids.next = id + 1 + (int64_t)tl_rng_below(&wd->rng, 3000);
	wd->pid_handed_max = id;
	wd->c->pids++;
}

static void step(struct world *wd)
{
	unsigned r = (unsigned)tl_rng_below(&wd->rng, 100);
	if (getenv("POWERCUT_TRACE"))
		fprintf(stderr, "step %d: op %u\n", wd->step, r);
	struct mpart *mp;
	wd->clock.mono_ns += 200000; /* 0.2 ms a step: group commits fall due */
	if (r < 45) {
		op_append(wd);
	} else if (r < 60) {
		swriter_do_work(wd->w);
	} else if (r < 66) {
		if ((mp = pick_open(wd, NULL)))
			(void)slog_sync(mp->log);
	} else if (r < 69) {
		op_retention(wd);
	} else if (r < 70) {
		op_delete_records(wd);
	} else if (r < 71) {
		op_start_at(wd);
	} else if (r < 74) {
		if ((mp = pick_open(wd, NULL)))
			(void)slog_roll(mp->log);
	} else if (r < 79) {
		op_create(wd);
	} else if (r < 82) {
		op_delete(wd);
	} else if (r < 86) {
		op_pid(wd);
	} else if (r < 88) {
		restart(wd, R_CLEAN);
	} else if (r < 90) {
		simdisk_crash(wd->sd);
		restart(wd, R_CRASH);
	} else if (r < 93) {
		simdisk_power_cut(wd->sd);
	} else if (r < 96) {
		simdisk_cut_after(wd->sd, tl_rng_range(&wd->rng, 1, 40));
		wd->c->cuts_inside++;
	} else {
		/* settle: everything written and synced */
		for (unsigned i = 0; i < wd->nt; i++)
			for (int32_t p = 0; p < wd->t[i].parts; p++)
				if (wd->t[i].p[p].log)
					(void)slog_sync(wd->t[i].p[p].log);
	}
	if (simdisk_dead(wd->sd))
		restart(wd, R_CUT);
}

static void run_schedule(uint64_t seed, struct counts *c, uint8_t *buf,
			 uint8_t *rbuf, struct sl_meta *meta)
{
	struct world *wd = calloc(1, sizeof(*wd));
	assert_non_null(wd);
	wd->seed = seed;
	wd->c = c;
	wd->buf = buf;
	wd->rbuf = rbuf;
	wd->meta = meta;
	tl_rng_init(&wd->rng, seed);
	tl_clock_init(&wd->clock);
	wd->sd = simdisk_create(tl_mix(seed));
	wd->d = simdisk_disk(wd->sd);
	wd->pid_handed_max = -1;
	CHECK(wd, sd_mkdir_p(wd->d, RUN) == 0, "mkdir %s", RUN);
	wd->meta->lock_fd = -1; /* nothing open yet */
	restart(wd, R_CLEAN);
	int steps = (int)tl_rng_range(&wd->rng, 40, 250);
	for (wd->step = 0; wd->step < steps; wd->step++)
		step(wd);
	/* the end: one more cut, everything acknowledged must be there */
	simdisk_power_cut(wd->sd);
	restart(wd, R_CUT);
	close_all(wd);
	for (unsigned i = 0; i < wd->nt; i++)
		for (int32_t p = 0; p < wd->t[i].parts; p++)
			part_free(&wd->t[i].p[p]);
	c->steps += (uint64_t)steps;
	c->schedules++;
	simdisk_destroy(wd->sd);
	free(wd);
}

static void test_powercut(void **state)
{
	(void)state;
	struct counts c = { 0 };
	uint8_t *buf = malloc(BATCH_CAP), *rbuf = malloc(READ_CAP);
	struct sl_meta *meta = malloc(sizeof(*meta));
	assert_non_null(buf);
	assert_non_null(rbuf);
	assert_non_null(meta);
	const char *one = getenv("SLUICE_POWERCUT_SEED");
	const char *count = getenv("SLUICE_POWERCUT_SCHEDULES");
	if (one) {
		run_schedule(strtoull(one, NULL, 0), &c, buf, rbuf, meta);
	} else {
		uint64_t seed = tl_seed("powercut");
		long n = count ? atol(count) : tl_long() ? 100000 : 10000;
		for (long i = 0; i < n; i++)
			run_schedule(tl_mix(seed + (uint64_t)i), &c, buf, rbuf,
				     meta);
	}
	printf("powercut: %llu schedules, %llu steps, %llu power cuts (%llu "
	       "armed inside an operation), %llu crashes of the process, "
	       "%llu clean restarts\n"
	       "powercut: %llu appends; verified %llu batches after restarts "
	       "(%llu acknowledged with acks=all); lost with the page cache: "
	       "%llu acks=1 batches (offsets kept) and %llu unacknowledged; "
	       "%llu empty batches over skipped offsets\n"
	       "powercut: %llu segments deleted by retention, %llu log "
	       "starts moved by DeleteRecords, %llu followers started over, "
	       "%llu topics created, %llu deleted, %llu producer ids\n",
	       (unsigned long long)c.schedules, (unsigned long long)c.steps,
	       (unsigned long long)c.cuts, (unsigned long long)c.cuts_inside,
	       (unsigned long long)c.crashes,
	       (unsigned long long)c.clean_restarts,
	       (unsigned long long)c.appends,
	       (unsigned long long)c.verified_any,
	       (unsigned long long)c.verified_ackall,
	       (unsigned long long)c.lost_ack1,
	       (unsigned long long)c.lost_unacked,
	       (unsigned long long)c.skip_batches,
	       (unsigned long long)c.retention_deleted,
	       (unsigned long long)c.records_deleted,
	       (unsigned long long)c.starts_over,
	       (unsigned long long)c.topics_created,
	       (unsigned long long)c.topics_deleted,
	       (unsigned long long)c.pids);
	/* the schedules must have exercised what they claim to check */
	if (!one && c.schedules >= 200) {
		assert_true(c.cuts > c.schedules);
		assert_true(c.verified_ackall > 0);
		assert_true(c.lost_ack1 > 0);
		assert_true(c.lost_unacked > 0);
		assert_true(c.skip_batches > 0);
		assert_true(c.records_deleted > 0);
		assert_true(c.starts_over > 0);
		assert_true(c.retention_deleted > 0);
		assert_true(c.topics_deleted > 0);
	}
	free(meta);
	free(rbuf);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_powercut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
