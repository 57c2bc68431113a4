/*
 * Model test: a seeded random sequence of operations on a real log
 * (append, read, truncate, roll, close/reopen, sync, duty cycles, clock
 * steps, retention by time and/or size), each also applied to a trivially correct model -- an array of
 * the batches with their offsets and bytes -- and checked against it after
 * every step: end offset, start offset, durable offset bounds, and reads.
 *
 * Retention is checked against the model too: the segments are read from
 * the directory (their base offsets), their sizes and largest timestamps
 * from the model's batches, and Kafka's rule applied to them says which
 * head segments must go and which must stay.  The one freedom the log
 * has is a segment cut by a truncation: it may keep the largest timestamp
 * of the batches that were cut (only a scan could recompute it), so such
 * a segment may be kept until that older bound expires too.
 *
 * The seed is printed; SLUICE_SEED=N replays a run exactly (the clock is
 * fake, so the log sees the same inputs).  SLUICE_LONG=1 runs many more
 * operations and several seeds.  On a failure the last operations are
 * printed.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"

#define EPOCH 3
#define BATCH_CAP (300u << 10)
#define HISTORY 32
#define SEGS_CAP 8192

/* A segment cut by a truncation, and the largest timestamp of the batches
 * cut from it: the log may still use that as the segment's largest. */
struct stale_ts {
	int64_t base;
	int64_t ts;
};

struct run {
	uint64_t seed;
	struct tl_rng rng;
	char dir[PATH_MAX];
	char pdir[PATH_MAX]; /* the partition's directory, under dir */
	struct swriter *w;
	struct slog *log;
	struct slog_config cfg;
	struct tl_clock clk;
	struct tl_durable dur;
	struct tl_batches m;
	uint8_t *batch;
	uint8_t *rbuf;
	uint64_t op;
	int64_t durable_seen;
	uint64_t n_deleted, n_truncates, n_reopens, n_appends;
	uint64_t n_retention_runs, n_kept_by_stale_ts;
	int64_t *segs, *segs_after; /* base offsets from the directory */
	struct stale_ts *stale;
	size_t n_stale;
	char hist[HISTORY][128];
};

static void history(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void history(struct run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *h = r->hist[r->op % HISTORY];
	int n = snprintf(h, 128, "op %llu: ", (unsigned long long)r->op);
	vsnprintf(h + n, (size_t)(128 - n), fmt, ap);
	va_end(ap);
}

static void dump_history(const struct run *r)
{
	fprintf(stderr, "model_test: seed %llu, failed at op %llu; last ops:\n",
		(unsigned long long)r->seed, (unsigned long long)r->op);
	for (uint64_t i = r->op >= HISTORY ? r->op - HISTORY + 1 : 0; i <= r->op;
	     i++)
		fprintf(stderr, "  %s\n", r->hist[i % HISTORY]);
	fprintf(stderr, "  model: [%lld, %lld) in %zu batches; log dir %s\n",
		(long long)r->m.start, (long long)r->m.end, r->m.n, r->dir);
}

#define MCHECK(r, cond, ...)                                                 \
	do {                                                                 \
		if (!(cond)) {                                               \
			dump_history(r);                                     \
			fail_msg(__VA_ARGS__);                               \
		}                                                            \
	} while (0)

static void open_log(struct run *r)
{
	int rc = slog_open(r->w, r->dir, &r->cfg, &r->log);
	MCHECK(r, rc == 0, "slog_open: %d %s", rc, tl_errname(rc));
	int64_t end = slog_end_offset(r->log);
	MCHECK(r, end == r->m.end, "after open: end %lld, model %lld",
	       (long long)end, (long long)r->m.end);
	int64_t d = slog_durable_offset(r->log);
	MCHECK(r, d == end, "after open: durable %lld != end %lld",
	       (long long)d, (long long)end);
	r->durable_seen = d;
}

static void check_read_at(struct run *r, int64_t off, size_t max_bytes,
			  int via_view)
{
	int64_t end = r->m.end;
	ssize_t n;
	struct slog_read_view v;
	if (via_view)
		n = tl_read_view(r->log, off, max_bytes, end, r->rbuf,
				 TL_READ_CAP, &v);
	else
		n = slog_read_copy(r->log, off, max_bytes, end, r->rbuf,
				   TL_READ_CAP);
	if (off < r->m.start || off > end) {
		MCHECK(r, n == SL_EOFFSET, "read(%lld) outside [%lld, %lld]: "
		       "%zd (%s), want SL_EOFFSET", (long long)off,
		       (long long)r->m.start, (long long)end, n, tl_errname(n));
		return;
	}
	if (off == end) {
		MCHECK(r, n == 0, "read at end %lld: %zd (%s)", (long long)off,
		       n, tl_errname(n));
		return;
	}
	long i = tl_batches_find(&r->m, off);
	MCHECK(r, i >= 0, "model has no batch for %lld", (long long)off);
	MCHECK(r, n >= (ssize_t)r->m.v[i].len,
	       "read(%lld, max %zu): %zd (%s), batch is %u bytes",
	       (long long)off, max_bytes, n, tl_errname(n), r->m.v[i].len);
	MCHECK(r, n <= (ssize_t)r->m.v[i].len || (size_t)n <= max_bytes,
	       "read(%lld, max %zu) returned %zd bytes", (long long)off,
	       max_bytes, n);
	int64_t next = tl_check_read(&r->m, off, r->rbuf, (size_t)n);
	MCHECK(r, next > off, "read(%lld): bytes differ from the model",
	       (long long)off);
	if (via_view) {
		MCHECK(r, v.first_offset == r->m.v[i].base &&
				  v.next_offset == next,
		       "read(%lld): view [%lld, %lld), bytes [%lld, %lld)",
		       (long long)off, (long long)v.first_offset,
		       (long long)v.next_offset, (long long)r->m.v[i].base,
		       (long long)next);
	}
}

static void check_state(struct run *r)
{
	int64_t s = slog_start_offset(r->log), e = slog_end_offset(r->log),
		d = slog_durable_offset(r->log);
	MCHECK(r, s == r->m.start, "start %lld, model %lld", (long long)s,
	       (long long)r->m.start);
	MCHECK(r, e == r->m.end, "end %lld, model %lld", (long long)e,
	       (long long)r->m.end);
	MCHECK(r, d <= e, "durable %lld > end %lld", (long long)d,
	       (long long)e);
	MCHECK(r, d >= r->durable_seen, "durable went back %lld -> %lld",
	       (long long)r->durable_seen, (long long)d);
	MCHECK(r, r->dur.not_increasing == 0 && r->dur.errors == 0,
	       "durable_cb: %u not increasing, %u errors (last %d)",
	       r->dur.not_increasing, r->dur.errors, r->dur.last_err);
	r->durable_seen = d;
	/* a random read and the last batch */
	int64_t off = tl_rng_range(&r->rng, r->m.start - 2, r->m.end + 2);
	check_read_at(r, off, (size_t)tl_rng_range(&r->rng, 1, 200000),
		      (int)tl_rng_below(&r->rng, 2));
	if (r->m.n)
		check_read_at(r, r->m.v[r->m.n - 1].last, 1, 1);
}

static void op_append(struct run *r)
{
	struct tl_gen g = {
		.max_records = 1 + (int)tl_rng_below(&r->rng, 12),
		.max_value_bytes = (int)tl_rng_below(&r->rng, 800),
		.max_key_bytes = 20,
		/* record j's timestamp: the (fake) wall clock now, + j */
		.ts_base_ms = r->clk.wall_ms - (int64_t)r->op * 1000,
	};
	if (tl_rng_below(&r->rng, 40) == 0) {
		/* now and then a big one: up to 3 x 80000 < batch_max */
		g.max_records = 1 + (int)tl_rng_below(&r->rng, 3);
		g.max_value_bytes = 20000 + (int)tl_rng_below(&r->rng, 60000);
	}
	history(r, "append (generating)");
	long n = tl_gen_batch(r->batch, BATCH_CAP, r->seed, r->op, &g);
	MCHECK(r, n > 0, "tl_gen_batch: %ld", n);
	history(r, "append %ld bytes, %d records at %lld", n,
		(int)rb_be32(r->batch + RB_OFF_RECORD_COUNT),
		(long long)r->m.end);
	int rc = tl_append_model(r->w, r->log, &r->m, r->batch, (size_t)n,
				 EPOCH);
	r->n_appends++;
	MCHECK(r, rc == 0, "append: %d %s", rc, tl_errname(rc));
}

/* The base offsets of the log's segments as its directory lists them;
 * bases must hold SEGS_CAP.  Returns the count. */
static int list_segs(struct run *r, int64_t *bases)
{
	int n = tl_list_segments(r->pdir, bases, SEGS_CAP);
	MCHECK(r, n >= 1 && n < SEGS_CAP, "listing the segments of %s: %d %s",
	       r->pdir, n, tl_errname(n));
	return n;
}

static int64_t batch_max_ts(const struct tl_batch *b)
{
	return (int64_t)rb_be64(b->bytes + RB_OFF_MAX_TIMESTAMP);
}

static struct stale_ts *stale_find(struct run *r, int64_t base)
{
	for (size_t i = 0; i < r->n_stale; i++)
		if (r->stale[i].base == base)
			return &r->stale[i];
	return NULL;
}

/* Forget the segments outside [lo, hi]: deleted by retention or by a
 * truncation, their base offsets may come back as new segments. */
static void stale_keep(struct run *r, int64_t lo, int64_t hi)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n_stale; i++)
		if (r->stale[i].base >= lo && r->stale[i].base <= hi)
			r->stale[k++] = r->stale[i];
	r->n_stale = k;
}

static void op_truncate(struct run *r, int shrink)
{
	if (r->m.end == r->m.start)
		return;
	int64_t off;
	/* mostly near the end, sometimes anywhere */
	if (shrink)
		off = tl_rng_range(&r->rng, r->m.start, r->m.end / 2);
	else if (tl_rng_below(&r->rng, 4))
		off = tl_rng_range(&r->rng, r->m.end - 30 > r->m.start ?
						    r->m.end - 30 : r->m.start,
				   r->m.end);
	else
		off = tl_rng_range(&r->rng, r->m.start, r->m.end);
	history(r, "truncate %lld (end %lld)", (long long)off,
		(long long)r->m.end);
	int n0 = list_segs(r, r->segs);
	int64_t got = slog_truncate(r->log, off);
	r->n_truncates++;
	int n1 = list_segs(r, r->segs_after);
	MCHECK(r, n1 <= n0 && memcmp(r->segs_after, r->segs,
				     (size_t)n1 * sizeof(*r->segs)) == 0,
	       "truncate(%lld): %d segments before, %d after, not a prefix",
	       (long long)off, n0, n1);
	/* the batches cut from what is now the last segment: the log may
	 * keep their largest timestamp as the segment's */
	int64_t last = r->segs_after[n1 - 1], next = INT64_MAX, cut_ts = -1;
	if (n1 < n0)
		next = r->segs[n1];
	for (size_t i = 0; i < r->m.n; i++) {
		const struct tl_batch *b = &r->m.v[i];
		if (b->last >= off && b->base >= last && b->base < next &&
		    batch_max_ts(b) > cut_ts)
			cut_ts = batch_max_ts(b);
	}
	int64_t want = tl_batches_truncate(&r->m, off);
	MCHECK(r, got == want, "truncate(%lld) = %lld (%s), model %lld",
	       (long long)off, (long long)got, tl_errname(got),
	       (long long)want);
	stale_keep(r, INT64_MIN, want == last ? last - 1 : last);
	if (want != last && cut_ts >= 0) {
		struct stale_ts *st = stale_find(r, last);
		if (!st) {
			st = &r->stale[r->n_stale++];
			*st = (struct stale_ts){ .base = last, .ts = -1 };
		}
		if (cut_ts > st->ts)
			st->ts = cut_ts;
	}
	/* the durable offset may drop to the new end, and durable_cb
	 * starts again from there */
	r->durable_seen = slog_durable_offset(r->log);
	r->dur.last_end = -1;
	MCHECK(r, r->durable_seen <= want, "durable %lld after truncate to %lld",
	       (long long)r->durable_seen, (long long)want);
}

/* One segment as the model sees it. */
struct seg_model {
	uint64_t bytes;
	int64_t ts_max;   /* largest batch timestamp in it, -1 when empty */
	int64_t ts_bound; /* the most the log may believe it is */
};

static void op_retention(struct run *r)
{
	int64_t now = r->clk.wall_ms, rms = r->cfg.retention_ms,
		rbytes = r->cfg.retention_bytes;
	history(r, "apply_retention at %lld (ms %lld, bytes %lld)",
		(long long)now, (long long)rms, (long long)rbytes);
	int n = list_segs(r, r->segs);
	MCHECK(r, (unsigned)n == slog_segment_count(r->log),
	       "%d segment files, the log has %u", n,
	       slog_segment_count(r->log));
	MCHECK(r, r->segs[0] == r->m.start, "first segment %lld, start %lld",
	       (long long)r->segs[0], (long long)r->m.start);
	struct seg_model *sm = calloc((size_t)n, sizeof(*sm));
	MCHECK(r, sm != NULL, "out of memory");
	uint64_t total = 0;
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		int64_t next = i + 1 < n ? r->segs[i + 1] : INT64_MAX;
		MCHECK(r, r->segs[i] == r->m.end ||
				  (k < r->m.n && r->m.v[k].base == r->segs[i]),
		       "segment %lld does not start at a batch",
		       (long long)r->segs[i]);
		sm[i].ts_max = -1;
		for (; k < r->m.n && r->m.v[k].base < next; k++) {
			sm[i].bytes += r->m.v[k].len;
			if (batch_max_ts(&r->m.v[k]) > sm[i].ts_max)
				sm[i].ts_max = batch_max_ts(&r->m.v[k]);
		}
		sm[i].ts_bound = sm[i].ts_max;
		struct stale_ts *st = stale_find(r, r->segs[i]);
		if (sm[i].bytes && st && st->ts > sm[i].ts_bound)
			sm[i].ts_bound = st->ts;
		total += sm[i].bytes;
	}
	int rc = slog_apply_retention(r->log);
	r->n_retention_runs++;
	MCHECK(r, rc >= 0 && rc < n, "retention: %d %s (of %d segments)", rc,
	       tl_errname(rc), n);
	/* Kafka's rule from the head: the oldest segment goes while it is
	 * older than retention_ms or the rest still holds retention_bytes;
	 * the active one always stays.  Segments 0..rc-1 went, rc stayed. */
	for (int i = 0; i <= rc && i < n - 1; i++) {
		bool by_size = rbytes >= 0 && total - sm[i].bytes >= (uint64_t)rbytes;
		bool timed = rms >= 0 && sm[i].bytes > 0;
		bool must = by_size || (timed && now - sm[i].ts_bound > rms);
		bool may = by_size || (timed && now - sm[i].ts_max > rms);
		MCHECK(r, i < rc ? may : !must,
		       "retention %s segment %lld (%d of %d, %d deleted): %llu "
		       "bytes of %llu, largest timestamp %lld (bound %lld), "
		       "now %lld; retention %lld ms / %lld B",
		       i < rc ? "deleted" : "kept", (long long)r->segs[i], i, n,
		       rc, (unsigned long long)sm[i].bytes,
		       (unsigned long long)total, (long long)sm[i].ts_max,
		       (long long)sm[i].ts_bound, (long long)now,
		       (long long)rms, (long long)rbytes);
		if (i == rc && may)
			r->n_kept_by_stale_ts++;
		total -= sm[i].bytes;
	}
	free(sm);
	/* exactly those files went, and the log starts at the next one */
	int n2 = list_segs(r, r->segs_after);
	MCHECK(r, n2 == n - rc && memcmp(r->segs_after, r->segs + rc,
					 (size_t)n2 * sizeof(*r->segs)) == 0,
	       "retention deleted %d of %d segments, %d files left", rc, n,
	       n2);
	int64_t s1 = slog_start_offset(r->log);
	MCHECK(r, s1 == r->segs[rc], "start %lld after retention, first "
	       "segment left %lld", (long long)s1, (long long)r->segs[rc]);
	MCHECK(r, (unsigned)n2 == slog_segment_count(r->log),
	       "%d segment files after retention, the log has %u", n2,
	       slog_segment_count(r->log));
	tl_batches_drop_below(&r->m, s1);
	stale_keep(r, s1, INT64_MAX);
	r->n_deleted += (uint64_t)rc;
}

static void op_reopen(struct run *r)
{
	history(r, "close + reopen");
	r->n_reopens++;
	int rc = slog_close(r->log);
	r->log = NULL;
	MCHECK(r, rc == 0, "close: %d %s", rc, tl_errname(rc));
	r->dur.last_end = -1;
	open_log(r);
}

static void one_op(struct run *r)
{
	unsigned k = (unsigned)tl_rng_below(&r->rng, 100);
	/* the fake clocks move a little at every step */
	r->clk.mono_ns += tl_rng_below(&r->rng, 1000000);
	r->clk.wall_ms += (int64_t)tl_rng_below(&r->rng, 5);
	if (k < 55) {
		op_append(r);
	} else if (k < 67) {
		int64_t off = tl_rng_range(&r->rng, r->m.start - 1, r->m.end + 1);
		size_t max = (size_t)tl_rng_range(&r->rng, 1, 300000);
		history(r, "read %lld max %zu", (long long)off, max);
		check_read_at(r, off, max, (int)tl_rng_below(&r->rng, 2));
	} else if (k < 69) {
		op_truncate(r, 0);
	} else if (k < 72) {
		history(r, "roll");
		int rc = slog_roll(r->log);
		MCHECK(r, rc == 0, "roll: %d %s", rc, tl_errname(rc));
	} else if (k < 74) {
		op_reopen(r);
	} else if (k < 80) {
		history(r, "sync");
		int rc = slog_sync(r->log);
		MCHECK(r, rc == 0, "sync: %d %s", rc, tl_errname(rc));
		int64_t d = slog_durable_offset(r->log);
		MCHECK(r, d == r->m.end, "after sync: durable %lld, end %lld",
		       (long long)d, (long long)r->m.end);
		MCHECK(r, r->dur.last_end == -1 || r->dur.last_end == d,
		       "after sync: durable_cb last said %lld, durable %lld",
		       (long long)r->dur.last_end, (long long)d);
	} else if (k < 92) {
		history(r, "do_work");
		int rc = swriter_do_work(r->w);
		MCHECK(r, rc >= 0, "do_work: %d %s", rc, tl_errname(rc));
	} else if (k < 96) {
		history(r, "wait");
		int rc = swriter_wait(r->w, 2000);
		MCHECK(r, rc >= 0, "wait: %d %s", rc, tl_errname(rc));
	} else if (k < 97) {
		history(r, "request_sync");
		int rc = slog_request_sync(r->log);
		MCHECK(r, rc == 0, "request_sync: %d %s", rc, tl_errname(rc));
	} else if (k < 99) {
		op_retention(r);
	} else {
		history(r, "full check");
		MCHECK(r, tl_check_log(r->log, &r->m, (int)tl_rng_below(&r->rng, 2)) == 0,
		       "full read-back differs");
	}
}

static void run_one(uint64_t seed, uint64_t ops)
{
	struct run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->seed = seed;
	tl_rng_init(&r->rng, seed);
	TL_OK(tl_tmpdir(r->dir, "model"));
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	TL_OK(swriter_create(&wc, &r->w));
	tl_clock_init(&r->clk);
	tl_durable_init(&r->dur);
	tl_config(&r->cfg, &r->dur, &r->clk);
	r->cfg.leader_epoch = EPOCH;
	tl_partition_dir(r->pdir, r->dir, r->cfg.topic, r->cfg.partition);
	r->cfg.segment_bytes = (uint64_t)tl_rng_range(&r->rng, 16 << 10, 256 << 10);
	r->cfg.durability = tl_rng_below(&r->rng, 2) ? SLOG_SYNC_GROUP :
							 SLOG_SYNC_EVERY_APPEND;
	r->cfg.group_commit_bytes = (uint64_t)tl_rng_range(&r->rng, 4096, 1 << 20);
	r->cfg.group_commit_us = (uint64_t)tl_rng_range(&r->rng, 100, 5000);
	r->cfg.index_interval_bytes = (uint32_t)tl_rng_range(&r->rng, 512, 8192);
	r->cfg.write_chunk_bytes = 4096u << tl_rng_below(&r->rng, 7);
	r->cfg.prepare = (enum slog_prepare)tl_rng_below(&r->rng, 3);
	/* retention: off, by time, by size, or both */
	unsigned ret = (unsigned)tl_rng_below(&r->rng, 4);
	r->cfg.retention_ms = ret & 1 ? tl_rng_range(&r->rng, 200, 3000) : -1;
	r->cfg.retention_bytes = ret & 2 ?
		tl_rng_range(&r->rng, 64 << 10, 1 << 20) : -1;
	printf("model_test: SLUICE_SEED=%llu: segment %llu, %s, group %llu B / %llu us, "
	       "index every %u, chunk %u, prepare %d, retention %lld ms / "
	       "%lld B, %llu ops\n",
	       (unsigned long long)seed,
	       (unsigned long long)r->cfg.segment_bytes,
	       r->cfg.durability == SLOG_SYNC_GROUP ? "group" : "every append",
	       (unsigned long long)r->cfg.group_commit_bytes,
	       (unsigned long long)r->cfg.group_commit_us,
	       r->cfg.index_interval_bytes, r->cfg.write_chunk_bytes,
	       (int)r->cfg.prepare, (long long)r->cfg.retention_ms,
	       (long long)r->cfg.retention_bytes, (unsigned long long)ops);
	fflush(stdout);
	tl_batches_init(&r->m);
	r->batch = malloc(BATCH_CAP);
	r->rbuf = malloc(TL_READ_CAP);
	r->segs = malloc(SEGS_CAP * sizeof(*r->segs));
	r->segs_after = malloc(SEGS_CAP * sizeof(*r->segs_after));
	r->stale = malloc(SEGS_CAP * sizeof(*r->stale));
	assert_true(r->batch && r->rbuf && r->segs && r->segs_after &&
		    r->stale);
	history(r, "open");
	open_log(r);

	for (r->op = 1; r->op <= ops; r->op++) {
		one_op(r);
		check_state(r);
		/* keep the log small: truncate a lot when it grows */
		if (tl_batches_bytes_from(&r->m, 0) > (32u << 20)) {
			r->op++;
			op_truncate(r, 1);
		}
	}
	history(r, "final sync + check + reopen + check");
	TL_OK(slog_sync(r->log));
	MCHECK(r, tl_check_log(r->log, &r->m, 0) == 0, "final check");
	op_reopen(r);
	MCHECK(r, tl_check_log(r->log, &r->m, 1) == 0, "final check after reopen");
	printf("model_test: %llu appends, %llu truncations, %llu reopens, %llu "
	       "retention runs deleted %llu segments (%llu kept on a cut "
	       "segment's older timestamp); end [%lld, %lld)\n",
	       (unsigned long long)r->n_appends,
	       (unsigned long long)r->n_truncates,
	       (unsigned long long)r->n_reopens,
	       (unsigned long long)r->n_retention_runs,
	       (unsigned long long)r->n_deleted,
	       (unsigned long long)r->n_kept_by_stale_ts,
	       (long long)r->m.start,
	       (long long)r->m.end);
	TL_OK(slog_close(r->log));
	swriter_destroy(r->w);
	tl_rmrf(r->dir);
	tl_batches_free(&r->m);
	free(r->batch);
	free(r->rbuf);
	free(r->segs);
	free(r->segs_after);
	free(r->stale);
	free(r);
}

static void test_model(void **state)
{
	(void)state;
	uint64_t seed = tl_seed("model_test");
	int seeds = 1;
	uint64_t ops = 2000;
	if (tl_long()) {
		ops = 30000;
		seeds = getenv("SLUICE_SEED") ? 1 : 8;
	}
	/* the first run uses the seed itself, so any run's printed seed
	 * replays it alone */
	for (int i = 0; i < seeds; i++)
		run_one(i ? tl_mix(seed + (uint64_t)i) & 0xffffffffffffull : seed,
			ops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
