/*
 * storage/log.h, through its public contract only.
 *
 * Each test opens a log in a fresh directory on the real disk (O_DIRECT),
 * with small segments (64 KiB) and a small write buffer (1 MiB) so that
 * rolls, backpressure and cross-segment reads happen with little data, and
 * compares everything it reads with a list of what it appended
 * (struct tl_batches).
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tl.h"

#define EPOCH 7
#define BATCH_CAP (512u << 10)

struct fx {
	char dir[PATH_MAX];
	char pdir[PATH_MAX];
	struct swriter *w;
	struct slog *log;
	struct slog_config cfg;
	struct tl_clock clk;
	struct tl_durable dur;
	struct tl_batches m;
	uint8_t *rbuf;  /* TL_READ_CAP */
	uint8_t *batch; /* BATCH_CAP */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	if (tl_tmpdir(f->dir, "log") < 0) {
		perror("tl_tmpdir");
		free(f);
		return -1;
	}
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	int rc = swriter_create(&wc, &f->w);
	if (rc < 0) {
		fprintf(stderr, "swriter_create: %s\n", tl_errname(rc));
		tl_rmrf(f->dir);
		free(f);
		return -1;
	}
	tl_clock_init(&f->clk);
	tl_durable_init(&f->dur);
	tl_config(&f->cfg, &f->dur, &f->clk);
	f->cfg.leader_epoch = EPOCH;
	tl_partition_dir(f->pdir, f->dir, f->cfg.topic, f->cfg.partition);
	tl_batches_init(&f->m);
	f->rbuf = malloc(TL_READ_CAP);
	f->batch = malloc(BATCH_CAP);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->log)
		slog_close(f->log);
	swriter_destroy(f->w);
	if (!getenv("SLUICE_KEEP"))
		tl_rmrf(f->dir);
	else
		fprintf(stderr, "kept %s\n", f->dir);
	tl_batches_free(&f->m);
	free(f->rbuf);
	free(f->batch);
	free(f);
	return 0;
}

static void fx_open(struct fx *f)
{
	int rc = slog_open(f->w, f->dir, &f->cfg, &f->log);
	if (rc < 0)
		fail_msg("slog_open(%s): %d %s", f->dir, rc, tl_errname(rc));
}

static void fx_close(struct fx *f)
{
	TL_OK(slog_close(f->log));
	f->log = NULL;
}

static void fx_reopen(struct fx *f)
{
	fx_close(f);
	fx_open(f);
}

static void fx_check(struct fx *f)
{
	TL_OK(tl_check_log(f->log, &f->m, 0));
	TL_OK(tl_check_log(f->log, &f->m, 1));
}

/* Append a batch of exactly size bytes with nrec records, timestamp ts. */
static void fx_append_sized(struct fx *f, size_t size, int nrec, int64_t ts)
{
	long n = tl_make_sized(f->batch, size, nrec, ts, f->m.end * 977);
	TL_EQ(n, (long)size);
	TL_OK(tl_append_model(f->w, f->log, &f->m, f->batch, size, EPOCH));
}

static const struct tl_gen gen_small = {
	.max_records = 8,
	.max_value_bytes = 600,
	.max_key_bytes = 16,
	.ts_base_ms = 1700000000000ll,
};

static void fx_append_gen(struct fx *f, uint64_t seed, uint64_t idx)
{
	long n = tl_gen_batch(f->batch, BATCH_CAP, seed, idx, &gen_small);
	TL_TRUE(n > 0);
	TL_OK(tl_append_model(f->w, f->log, &f->m, f->batch, (size_t)n, EPOCH));
}

/* Pump the writer until pred holds or the bound runs out. */
static int pump_until_durable(struct fx *f, int64_t target, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		if (slog_durable_offset(f->log) >= target)
			return 1;
		int rc = swriter_wait(f->w, 1000);
		if (rc < 0)
			fail_msg("swriter_wait: %s", tl_errname(rc));
	}
	return slog_durable_offset(f->log) >= target;
}

/* ---- append and read ---- */

static void test_append_read_every_offset(void **state)
{
	struct fx *f = *state;
	uint64_t seed = tl_seed("append_read_every_offset");
	fx_open(f);
	TL_EQ(slog_start_offset(f->log), 0);
	TL_EQ(slog_end_offset(f->log), 0);
	TL_EQ(slog_durable_offset(f->log), 0);
	for (uint64_t i = 0; i < 300; i++) {
		fx_append_gen(f, seed, i);
		/* readable at once from the tail, before it is durable */
		const struct tl_batch *b = &f->m.v[f->m.n - 1];
		ssize_t n = slog_read_copy(f->log, b->last, 1, slog_end_offset(f->log),
					   f->rbuf, TL_READ_CAP);
		TL_EQ(n, b->len);
		TL_EQ(tl_check_read(&f->m, b->last, f->rbuf, (size_t)n), b->last + 1);
		if (i % 7 == 0)
			swriter_do_work(f->w);
	}
	TL_OK(slog_sync(f->log));
	TL_EQ(slog_durable_offset(f->log), f->m.end);
	TL_TRUE(slog_segment_count(f->log) > 3);
	fx_check(f);

	/* every offset: the batch holding it, and only it with max 1 byte */
	for (int64_t o = 0; o < f->m.end; o++) {
		long i = tl_batches_find(&f->m, o);
		TL_TRUE(i >= 0);
		const struct tl_batch *b = &f->m.v[i];
		ssize_t n = slog_read_copy(f->log, o, 1, f->m.end, f->rbuf,
					   TL_READ_CAP);
		TL_EQ(n, b->len);
		TL_EQ(tl_check_read(&f->m, o, f->rbuf, (size_t)n), b->last + 1);
		struct slog_read_view v;
		n = tl_read_view(f->log, o, 1, slog_durable_offset(f->log),
				 f->rbuf, TL_READ_CAP, &v);
		TL_EQ(n, b->len);
		TL_EQ(v.first_offset, b->base);
		TL_EQ(v.next_offset, b->last + 1);
		TL_EQ(tl_check_read(&f->m, o, f->rbuf, (size_t)n), b->last + 1);
		/* bigger reads return whole, consecutive batches */
		n = slog_read_copy(f->log, o, 20000, f->m.end, f->rbuf,
				   TL_READ_CAP);
		TL_TRUE(n >= (ssize_t)b->len);
		TL_TRUE(tl_check_read(&f->m, o, f->rbuf, (size_t)n) > o);
	}
	struct slog_stats st;
	slog_get_stats(f->log, &st);
	TL_EQ(st.appends, 300);
	TL_EQ(st.append_bytes, tl_batches_bytes_from(&f->m, 0));
	TL_EQ(st.rejected_batches, 0);
}

static void test_append_result(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	struct slog_append_result res;
	int64_t ts[3] = { 5, 6, 7 };
	for (int i = 0; i < 5; i++) {
		f->clk.wall_ms += 1234;
		long n = tl_make_ts(f->batch, BATCH_CAP, 3, ts, 10, 1);
		TL_TRUE(n > 0);
		TL_OK(tl_append(f->w, f->log, f->batch, (size_t)n, &res));
		TL_EQ(res.base_offset, 3 * i);
		TL_EQ(res.last_offset, 3 * i + 2);
		TL_EQ(res.log_append_ms, f->clk.wall_ms);
		/* stamped in the caller's batch too */
		TL_EQ(rb_be64(f->batch + RB_OFF_BASE_OFFSET), 3 * i);
		TL_EQ((int32_t)rb_be32(f->batch + RB_OFF_LEADER_EPOCH), EPOCH);
		TL_OK(rb_validate(f->batch, (size_t)n));
		TL_EQ(slog_end_offset(f->log), 3 * i + 3);
	}
}

/* ---- segments ---- */

static void test_roll_by_size(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	/* 13 batches of 5000 bytes fit in 65536, the 14th would not */
	const int per_seg = 65536 / 5000;
	TL_EQ(per_seg, 13);
	for (int i = 0; i < 60; i++) {
		fx_append_sized(f, 5000, 1 + i % 3, 1000 + i);
		TL_EQ(slog_segment_count(f->log), i / per_seg + 1);
	}
	struct slog_stats st;
	slog_get_stats(f->log, &st);
	TL_EQ(st.segments_rolled, 59 / per_seg);
	fx_check(f);
	fx_close(f);

	/* on disk: Kafka names, sealed sizes are exactly the batches */
	int64_t bases[16];
	int nseg = tl_list_segments(f->pdir, bases, 16);
	TL_EQ(nseg, 60 / per_seg + 1);
	for (int s = 0; s < nseg; s++) {
		size_t first = (size_t)s * per_seg;
		TL_EQ(bases[s], f->m.v[first].base);
		char path[PATH_MAX];
		tl_segment_path(path, f->pdir, bases[s], ".log");
		size_t nb = first + per_seg <= f->m.n ? per_seg : f->m.n - first;
		TL_EQ(tl_file_size(path), (long long)nb * 5000);
		tl_segment_path(path, f->pdir, bases[s], ".index");
		TL_TRUE(tl_file_size(path) >= 0);
		tl_segment_path(path, f->pdir, bases[s], ".timeindex");
		TL_TRUE(tl_file_size(path) >= 0);
	}
	char rp[PATH_MAX];
	tl_pathf(rp, "%s/recovery-point", f->pdir);
	TL_TRUE(tl_file_size(rp) > 0);

	fx_open(f);
	TL_EQ(slog_segment_count(f->log), (unsigned)nseg);
	fx_check(f);
	/* keeps rolling at the same size after reopen */
	for (int i = 60; i < 80; i++) {
		fx_append_sized(f, 5000, 1, 1000 + i);
		TL_EQ(slog_segment_count(f->log), i / per_seg + 1);
	}
	fx_check(f);
}

static void test_batch_larger_than_segment(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	fx_append_sized(f, 1000, 1, 1);
	fx_append_sized(f, 100000, 4, 2); /* > segment_bytes, < batch_max */
	fx_append_sized(f, 1000, 1, 3);
	TL_TRUE(slog_segment_count(f->log) >= 2);
	TL_OK(slog_sync(f->log));
	fx_check(f);
	fx_reopen(f);
	fx_check(f);
}

static void test_roll_by_age(void **state)
{
	struct fx *f = *state;
	f->cfg.segment_ms = 1000;
	fx_open(f);
	int64_t t0 = f->clk.wall_ms;
	fx_append_sized(f, 500, 1, t0);
	TL_EQ(slog_segment_count(f->log), 1);
	f->clk.wall_ms = t0 + 999;
	fx_append_sized(f, 500, 1, t0);
	TL_EQ(slog_segment_count(f->log), 1);
	f->clk.wall_ms = t0 + 1001;
	fx_append_sized(f, 500, 1, t0);
	TL_EQ(slog_segment_count(f->log), 2);
	f->clk.wall_ms = t0 + 1500;
	fx_append_sized(f, 500, 1, t0);
	TL_EQ(slog_segment_count(f->log), 2);
	f->clk.wall_ms = t0 + 2002;
	fx_append_sized(f, 500, 1, t0);
	TL_EQ(slog_segment_count(f->log), 3);
	/* a long idle time rolls once, not once per segment_ms */
	f->clk.wall_ms = t0 + 100000;
	fx_append_sized(f, 500, 1, t0);
	TL_EQ(slog_segment_count(f->log), 4);
	fx_append_sized(f, 500, 1, t0);
	TL_EQ(slog_segment_count(f->log), 4);
	fx_check(f);
	fx_reopen(f);
	fx_check(f);
	TL_EQ(slog_segment_count(f->log), 4);
}

static void test_forced_roll(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	for (int i = 0; i < 5; i++) {
		fx_append_sized(f, 300, 2, i);
		TL_OK(slog_roll(f->log));
	}
	fx_append_sized(f, 300, 2, 9);
	TL_TRUE(slog_segment_count(f->log) >= 6);
	fx_check(f);
	fx_reopen(f);
	fx_check(f);
}

/* ---- retention ---- */

static void append_ts(struct fx *f, int64_t ts, int nrec)
{
	int64_t tss[16];
	for (int j = 0; j < nrec; j++)
		tss[j] = ts;
	long n = tl_make_ts(f->batch, BATCH_CAP, nrec, tss, 100, (uint64_t)ts);
	TL_TRUE(n > 0);
	TL_OK(tl_append_model(f->w, f->log, &f->m, f->batch, (size_t)n, EPOCH));
}

static void test_retention_by_time(void **state)
{
	struct fx *f = *state;
	f->cfg.retention_ms = 10000;
	fx_open(f);
	int64_t T = f->clk.wall_ms;
	int64_t seg_ts[4] = { T + 1000, T + 5000, T + 9000, T + 12000 };
	int64_t seg_base[4];
	for (int s = 0; s < 4; s++) {
		seg_base[s] = f->m.end;
		for (int k = 0; k < 3; k++)
			append_ts(f, seg_ts[s] + k, 2);
		if (s < 3)
			TL_OK(slog_roll(f->log));
	}
	TL_EQ(slog_segment_count(f->log), 4);
	TL_OK(slog_sync(f->log));

	/* nothing old enough yet */
	f->clk.wall_ms = T + 11000;
	TL_EQ(slog_apply_retention(f->log), 0);
	TL_EQ(slog_segment_count(f->log), 4);
	TL_EQ(slog_start_offset(f->log), 0);

	/* segment 0's largest timestamp is T+1002: 13498 ms old */
	f->clk.wall_ms = T + 14500;
	TL_EQ(slog_apply_retention(f->log), 1);
	TL_EQ(slog_segment_count(f->log), 3);
	TL_EQ(slog_start_offset(f->log), seg_base[1]);
	tl_batches_drop_below(&f->m, seg_base[1]);
	fx_check(f);
	TL_EQ(slog_read_copy(f->log, seg_base[1] - 1, 1, f->m.end, f->rbuf,
			     TL_READ_CAP), SL_EOFFSET);
	TL_EQ(slog_read_copy(f->log, 0, 1, f->m.end, f->rbuf, TL_READ_CAP),
	      SL_EOFFSET);

	/* everything is old: all but the active segment go */
	f->clk.wall_ms = T + 100000;
	TL_EQ(slog_apply_retention(f->log), 2);
	TL_EQ(slog_segment_count(f->log), 1);
	TL_EQ(slog_start_offset(f->log), seg_base[3]);
	tl_batches_drop_below(&f->m, seg_base[3]);
	fx_check(f);
	f->clk.wall_ms = T + 1000000;
	TL_EQ(slog_apply_retention(f->log), 0);
	TL_EQ(slog_segment_count(f->log), 1);
	TL_EQ(slog_end_offset(f->log), f->m.end);

	struct slog_stats st;
	slog_get_stats(f->log, &st);
	TL_EQ(st.segments_deleted, 3);
	int64_t bases[8];
	TL_EQ(tl_list_segments(f->pdir, bases, 8), 1);
	TL_EQ(bases[0], seg_base[3]);

	/* appends go on; the start offset survives a reopen */
	append_ts(f, f->clk.wall_ms, 3);
	fx_check(f);
	fx_reopen(f);
	fx_check(f);
	TL_EQ(slog_start_offset(f->log), seg_base[3]);
}

static void test_retention_by_size(void **state)
{
	struct fx *f = *state;
	/* 13 batches of 5000 bytes per segment; 80 batches: 6 full
	 * segments (390000 bytes) and 2 batches in the active one. */
	f->cfg.retention_bytes = 400000 - 3 * 65000; /* exactly 3 go */
	fx_open(f);
	for (int i = 0; i < 80; i++)
		fx_append_sized(f, 5000, 2, f->clk.wall_ms);
	TL_EQ(slog_segment_count(f->log), 7);
	TL_OK(slog_sync(f->log));
	TL_EQ(slog_apply_retention(f->log), 3);
	TL_EQ(slog_segment_count(f->log), 4);
	TL_EQ(slog_start_offset(f->log), f->m.v[39].base);
	tl_batches_drop_below(&f->m, f->m.v[39].base);
	TL_TRUE(tl_batches_bytes_from(&f->m, 0) <= (uint64_t)f->cfg.retention_bytes);
	fx_check(f);
	TL_EQ(slog_apply_retention(f->log), 0);

	/* a tiny limit: everything but the active segment goes */
	fx_close(f);
	f->cfg.retention_bytes = 1;
	fx_open(f);
	fx_check(f);
	TL_EQ(slog_apply_retention(f->log), 3);
	TL_EQ(slog_segment_count(f->log), 1);
	tl_batches_drop_below(&f->m, f->m.v[f->m.n - 2].base);
	TL_EQ(slog_start_offset(f->log), f->m.start);
	fx_check(f);
	fx_append_sized(f, 5000, 1, 0);
	fx_check(f);
	fx_reopen(f);
	fx_check(f);
}

/* ---- truncation ---- */

static void test_truncate(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	/* 3000-byte batches of 5 records: 21 per segment */
	for (int i = 0; i < 100; i++)
		fx_append_sized(f, 3000, 5, i);
	TL_EQ(slog_end_offset(f->log), 500);
	TL_EQ(slog_segment_count(f->log), 5);
	TL_OK(slog_sync(f->log));

	/* mid-batch: the batch holding 452 (450..454) goes whole */
	TL_EQ(slog_truncate(f->log, 452), 450);
	TL_EQ(tl_batches_truncate(&f->m, 452), 450);
	TL_EQ(slog_end_offset(f->log), 450);
	TL_TRUE(slog_durable_offset(f->log) <= 450);
	fx_check(f);
	/* a batch boundary */
	TL_EQ(slog_truncate(f->log, 400), 400);
	tl_batches_truncate(&f->m, 400);
	fx_check(f);
	TL_EQ(slog_segment_count(f->log), 4);
	/* at the end: nothing happens */
	TL_EQ(slog_truncate(f->log, 400), 400);
	fx_check(f);
	/* the first batch of segment 3 (batch 63, offsets 315..319) */
	TL_EQ(slog_truncate(f->log, 317), 315);
	tl_batches_truncate(&f->m, 317);
	unsigned nseg = slog_segment_count(f->log);
	TL_TRUE(nseg == 3 || nseg == 4);
	fx_check(f);

	/* appends continue at the new end, before and after reopening */
	for (int i = 0; i < 10; i++)
		fx_append_sized(f, 3000, 5, 1000 + i);
	TL_EQ(f->m.v[63].base, 315);
	fx_check(f);
	fx_reopen(f);
	fx_check(f);
	for (int i = 0; i < 10; i++)
		fx_append_sized(f, 3000, 5, 2000 + i);
	fx_check(f);

	/* truncating what is not yet durable (no sync in between) */
	int64_t keep = f->m.end;
	for (int i = 0; i < 6; i++)
		fx_append_sized(f, 1000, 3, 3000 + i);
	TL_EQ(slog_truncate(f->log, keep + 4), keep + 3);
	tl_batches_truncate(&f->m, keep + 4);
	fx_check(f);
	TL_OK(slog_sync(f->log));
	TL_EQ(slog_durable_offset(f->log), f->m.end);
	fx_reopen(f);
	fx_check(f);

	/* to zero */
	TL_EQ(slog_truncate(f->log, 0), 0);
	tl_batches_truncate(&f->m, 0);
	TL_EQ(slog_start_offset(f->log), 0);
	TL_EQ(slog_end_offset(f->log), 0);
	TL_EQ(slog_segment_count(f->log), 1);
	fx_append_sized(f, 2000, 2, 1);
	TL_EQ(f->m.v[0].base, 0);
	fx_check(f);
	fx_reopen(f);
	fx_check(f);
}

/* A follower's appends keep the leader's offsets and epochs; a gap is
 * covered by one empty batch of the next batch's epoch; below the end is
 * refused; the log reopens as it was; slog_set_leader_epoch changes what
 * later leader appends carry. */
static void test_append_replica(void **state)
{
	struct fx *f = *state;
	struct slog_append_result res;
	uint8_t *rb = f->rbuf;
	fx_open(f);
	long n = tl_make_sized(f->batch, 1000, 4, 1, 0);
	TL_EQ(n, 1000);
	rb_stamp(f->batch, 0, 3);
	TL_OK(slog_append_replica(f->log, f->batch, (size_t)n, &res));
	TL_EQ(res.base_offset, 0);
	TL_EQ(res.last_offset, 3);
	/* the next one 10 offsets further, epoch 5 */
	rb_stamp(f->batch, 14, 5);
	TL_OK(slog_append_replica(f->log, f->batch, (size_t)n, &res));
	TL_EQ(res.base_offset, 14);
	TL_EQ(slog_end_offset(f->log), 18);
	/* below the end: refused, nothing written */
	rb_stamp(f->batch, 17, 5);
	TL_EQ(slog_append_replica(f->log, f->batch, (size_t)n, &res), SL_EOFFSET);
	rb_stamp(f->batch, 0, 5);
	TL_EQ(slog_append_replica(f->log, f->batch, (size_t)n, &res), SL_EOFFSET);
	TL_EQ(slog_end_offset(f->log), 18);
	for (int round = 0; round < 2; round++) {
		TL_OK(slog_sync(f->log));
		ssize_t got = slog_read_copy(f->log, 0, 1u << 20,
					     slog_end_offset(f->log), rb,
					     TL_READ_CAP);
		TL_EQ(got, 1000 + RB_HEADER_BYTES + 1000);
		struct rb_header h;
		rb_header_decode(rb, &h);
		TL_EQ(h.base_offset, 0);
		TL_EQ(h.leader_epoch, 3);
		rb_header_decode(rb + 1000, &h);   /* the gap's empty batch */
		TL_EQ(h.base_offset, 4);
		TL_EQ(h.last_offset_delta, 9);
		TL_EQ(h.record_count, 0);
		TL_EQ(h.leader_epoch, 5);
		rb_header_decode(rb + 1000 + RB_HEADER_BYTES, &h);
		TL_EQ(h.base_offset, 14);
		TL_EQ(h.leader_epoch, 5);
		fx_reopen(f); /* recovery keeps it all */
		TL_EQ(slog_end_offset(f->log), 18);
	}
	/* a leader's appends from here: its epoch stamped */
	slog_set_leader_epoch(f->log, 9);
	n = tl_make_sized(f->batch, 500, 2, 2, 0);
	TL_OK(slog_append(f->log, f->batch, (size_t)n, &res));
	TL_EQ(res.base_offset, 18);
	TL_OK(slog_sync(f->log));
	TL_EQ(slog_read_copy(f->log, 18, 1u << 20, slog_end_offset(f->log), rb,
			     TL_READ_CAP), 500);
	TL_EQ((int32_t)rb_be32(rb + RB_OFF_LEADER_EPOCH), 9);
}

/* ---- timestamps ---- */

static void test_offset_for_time(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	/* batch i, record j: timestamp 100000 + 100 i + 10 j, offset 4 i + j */
	const int64_t T = 100000;
	for (int i = 0; i < 60; i++) {
		int64_t ts[4];
		for (int j = 0; j < 4; j++)
			ts[j] = T + 100 * i + 10 * j;
		long n = tl_make_ts(f->batch, BATCH_CAP, 4, ts, 1500, (uint64_t)i);
		TL_TRUE(n > 0);
		TL_OK(tl_append_model(f->w, f->log, &f->m, f->batch, (size_t)n,
				      EPOCH));
		if (i % 17 == 16)
			TL_OK(slog_roll(f->log));
	}
	TL_OK(slog_sync(f->log));
	TL_TRUE(slog_segment_count(f->log) >= 4);
	for (int pass = 0; pass < 2; pass++) {
		TL_EQ(slog_offset_for_time(f->log, 0), 0);
		TL_EQ(slog_offset_for_time(f->log, T), 0);
		for (int i = 0; i < 60; i++) {
			for (int j = 0; j < 4; j++) {
				int64_t ts = T + 100 * i + 10 * j;
				int64_t want = 4 * i + j;
				int64_t got = slog_offset_for_time(f->log, ts);
				if (got != want)
					fail_msg("pass %d: offset_for_time(%lld) "
						 "= %lld (%s), want %lld", pass,
						 (long long)ts, (long long)got,
						 tl_errname(got), (long long)want);
				got = slog_offset_for_time(f->log, ts - 5);
				if (got != want)
					fail_msg("pass %d: offset_for_time(%lld) "
						 "= %lld (%s), want %lld", pass,
						 (long long)(ts - 5), (long long)got,
						 tl_errname(got), (long long)want);
			}
		}
		int64_t last = T + 100 * 59 + 30;
		TL_EQ(slog_offset_for_time(f->log, last), 239);
		TL_EQ(slog_offset_for_time(f->log, last + 1), SL_ENOTFOUND);
		TL_EQ(slog_offset_for_time(f->log, INT64_MAX), SL_ENOTFOUND);
		fx_reopen(f);
	}
}

/* The largest timestamp's first record (Kafka's MAX_TIMESTAMP), and the
 * found record's timestamp of a lookup, against an array of the records'
 * timestamps: out of order, the largest twice, across segments, before
 * and after a reopen and once the start has moved. */
static void test_max_timestamp(void **state)
{
	struct fx *f = *state;
	enum { NB = 12, NR = 3 };
	const int64_t T = 200000, M = T + 5000;
	int64_t model[NB * NR];
	int64_t off = 0;
	fx_open(f);
	TL_EQ(slog_max_timestamp(f->log, &off), SL_ENOTFOUND);
	for (int i = 0; i < NB; i++) {
		int64_t ts[NR];
		for (int j = 0; j < NR; j++)
			ts[j] = T + ((i * 7 + j * 3) % 11) * 10;
		if (i == 5)
			ts[1] = M; /* offset 16: the first with the largest */
		if (i == 9)
			ts[2] = M; /* offset 29: the same, later */
		memcpy(&model[i * NR], ts, sizeof(ts));
		long n = tl_make_ts(f->batch, BATCH_CAP, NR, ts, 300,
				    (uint64_t)i);
		TL_TRUE(n > 0);
		TL_OK(tl_append_model(f->w, f->log, &f->m, f->batch, (size_t)n,
				      EPOCH));
		if (i % 4 == 3)
			TL_OK(slog_roll(f->log));
	}
	TL_OK(slog_sync(f->log));
	TL_TRUE(slog_segment_count(f->log) >= 3);
	for (int pass = 0; pass < 3; pass++) {
		int64_t start = slog_start_offset(f->log);
		off = -1;
		TL_EQ(slog_max_timestamp(f->log, &off), M);
		TL_EQ(off, start <= 16 ? 16 : 29);
		/* every query: the first record at or after the start with a
		 * timestamp at least it, and that record's timestamp */
		for (int64_t q = T - 5; q <= M + 1; q += 5) {
			int64_t want = -1;
			for (int64_t o = start; o < NB * NR && want < 0; o++)
				if (model[o] >= q)
					want = o;
			int64_t got_ts = 0;
			int64_t got = slog_lookup_time(f->log, q, &got_ts);
			if (want < 0) {
				TL_EQ(got, SL_ENOTFOUND);
				TL_EQ(got_ts, -1);
				continue;
			}
			if (got != want || got_ts != model[want])
				fail_msg("pass %d: lookup_time(%lld) = %lld at "
					 "%lld, want %lld at %lld", pass,
					 (long long)q, (long long)got,
					 (long long)got_ts, (long long)want,
					 (long long)model[want]);
		}
		if (pass == 0)
			fx_reopen(f);
		else if (pass == 1)
			TL_EQ(slog_delete_records(f->log, 17), 17);
	}
}

/* ---- reopen ---- */

static void test_reopen_clean(void **state)
{
	struct fx *f = *state;
	uint64_t seed = tl_seed("reopen_clean");
	fx_open(f);
	for (uint64_t i = 0; i < 200; i++)
		fx_append_gen(f, seed, i);
	unsigned nseg = slog_segment_count(f->log);
	fx_close(f);

	/* sealed sizes add up to exactly the batches */
	int64_t bases[64];
	int n = tl_list_segments(f->pdir, bases, 64);
	TL_EQ(n, nseg);
	long long total = 0;
	for (int s = 0; s < n; s++) {
		char path[PATH_MAX];
		tl_segment_path(path, f->pdir, bases[s], ".log");
		total += tl_file_size(path);
	}
	TL_EQ(total, (long long)tl_batches_bytes_from(&f->m, 0));

	fx_open(f);
	TL_EQ(slog_segment_count(f->log), nseg);
	TL_EQ(slog_durable_offset(f->log), f->m.end);
	fx_check(f);
	struct slog_stats st;
	slog_get_stats(f->log, &st);
	TL_EQ(st.recovered_truncated_bytes, 0);
	for (uint64_t i = 200; i < 260; i++)
		fx_append_gen(f, seed, i);
	fx_check(f);
	fx_reopen(f);
	fx_check(f);
	/* open/close with nothing appended changes nothing */
	fx_reopen(f);
	fx_reopen(f);
	fx_check(f);
}

/* ---- durability ---- */

static void test_read_limit_durable(void **state)
{
	struct fx *f = *state;
	f->cfg.durability = SLOG_SYNC_GROUP;
	f->cfg.group_commit_bytes = 1ull << 30;
	f->cfg.group_commit_us = 1000000;
	fx_open(f);
	for (int i = 0; i < 10; i++)
		fx_append_sized(f, 2000, 2, i);
	for (int i = 0; i < 50; i++)
		swriter_wait(f->w, 1000);
	/* the fake clock has not moved: nothing synced */
	TL_EQ(slog_durable_offset(f->log), 0);
	TL_EQ(f->dur.calls, 0);
	ssize_t n = slog_read_copy(f->log, 0, 1 << 20, 0, f->rbuf, TL_READ_CAP);
	TL_EQ(n, 0);
	struct slog_read_view v;
	TL_OK(slog_read(f->log, 0, 1 << 20, slog_durable_offset(f->log), &v));
	TL_EQ(v.len, 0);
	/* everything appended is readable with limit = end */
	n = slog_read_copy(f->log, 0, 1 << 20, f->m.end, f->rbuf, TL_READ_CAP);
	TL_EQ(n, 20000);
	TL_EQ(tl_check_read(&f->m, 0, f->rbuf, (size_t)n), f->m.end);
	/* a limit in the middle stops before it */
	int64_t limit = f->m.v[5].base;
	n = slog_read_copy(f->log, 0, 1 << 20, limit, f->rbuf, TL_READ_CAP);
	TL_EQ(n, 5 * 2000);
	TL_EQ(tl_check_read(&f->m, 0, f->rbuf, (size_t)n), limit);
	n = slog_read_copy(f->log, f->m.v[4].base + 1, 1 << 20, limit, f->rbuf,
			   TL_READ_CAP);
	TL_EQ(n, 2000);
	n = slog_read_copy(f->log, limit, 1 << 20, limit, f->rbuf, TL_READ_CAP);
	TL_EQ(n, 0);

	/* group_commit_us passes on the fake clock: one sync covers all */
	f->clk.mono_ns += 2000000000ull;
	TL_TRUE(pump_until_durable(f, f->m.end, 5000));
	TL_EQ(slog_durable_offset(f->log), f->m.end);
	TL_EQ(f->dur.last_end, f->m.end);
	TL_EQ(f->dur.errors, 0);
	n = slog_read_copy(f->log, 0, 1 << 20, slog_durable_offset(f->log),
			   f->rbuf, TL_READ_CAP);
	TL_EQ(n, 20000);
}

static void test_durable_cb_every_append(void **state)
{
	struct fx *f = *state;
	uint64_t seed = tl_seed("durable_cb_every_append");
	f->cfg.durability = SLOG_SYNC_EVERY_APPEND;
	f->cfg.clock = NULL;
	fx_open(f);
	int64_t seen = 0;
	for (uint64_t i = 0; i < 200; i++) {
		fx_append_gen(f, seed, i);
		swriter_do_work(f->w);
		int64_t d = slog_durable_offset(f->log);
		TL_TRUE(d >= seen && d <= f->m.end);
		seen = d;
		if (i % 50 == 49) {
			/* no slog_sync: the policy alone must get there */
			TL_TRUE(pump_until_durable(f, f->m.end, 10000));
			TL_EQ(f->dur.last_end, f->m.end);
		}
	}
	TL_OK(slog_sync(f->log));
	TL_EQ(slog_durable_offset(f->log), f->m.end);
	TL_EQ(f->dur.last_end, f->m.end);
	TL_TRUE(f->dur.calls >= 4);
	TL_EQ(f->dur.not_increasing, 0);
	TL_EQ(f->dur.errors, 0);
	struct slog_stats st;
	slog_get_stats(f->log, &st);
	TL_TRUE(st.fsyncs >= 4);
	fx_check(f);
}

static void test_durable_cb_group(void **state)
{
	struct fx *f = *state;
	uint64_t seed = tl_seed("durable_cb_group");
	/* real clock: the time trigger (2 ms) */
	f->cfg.durability = SLOG_SYNC_GROUP;
	f->cfg.group_commit_bytes = 32 << 10;
	f->cfg.group_commit_us = 2000;
	f->cfg.clock = NULL;
	fx_open(f);
	for (uint64_t i = 0; i < 200; i++) {
		fx_append_gen(f, seed, i);
		swriter_do_work(f->w);
	}
	TL_TRUE(pump_until_durable(f, f->m.end, 10000));
	TL_EQ(f->dur.last_end, f->m.end);
	TL_EQ(f->dur.not_increasing, 0);
	TL_EQ(f->dur.errors, 0);
	fx_check(f);
	fx_close(f);

	/* fake clock: the bytes trigger alone */
	TL_OK(tl_rmrf(f->dir));
	TL_OK(mkdir(f->dir, 0755));
	tl_batches_free(&f->m);
	tl_batches_init(&f->m);
	tl_durable_init(&f->dur);
	f->cfg.clock = &f->clk.sl;
	fx_open(f);
	for (int i = 0; i < 7; i++) /* 35000 >= 32768 */
		fx_append_sized(f, 5000, 1, i);
	TL_TRUE(pump_until_durable(f, f->m.end, 10000));
	int64_t d = slog_durable_offset(f->log);
	fx_append_sized(f, 5000, 1, 8);
	for (int i = 0; i < 50; i++)
		swriter_wait(f->w, 1000);
	TL_EQ(slog_durable_offset(f->log), d); /* 5000 pending, time frozen */
	f->clk.mono_ns += 3000000;
	TL_TRUE(pump_until_durable(f, f->m.end, 10000));
	TL_EQ(f->dur.last_end, f->m.end);
	TL_EQ(f->dur.not_increasing, 0);
	/* slog_request_sync forces one whatever the policy */
	fx_append_sized(f, 500, 1, 9);
	TL_OK(slog_request_sync(f->log));
	TL_TRUE(pump_until_durable(f, f->m.end, 10000));
	fx_check(f);
}

static void test_backpressure(void **state)
{
	struct fx *f = *state;
	/* big segments: a roll waits for the I/O and would make room */
	f->cfg.segment_bytes = 64 << 20;
	fx_open(f);
	/* 200 KB batches into a 1 MiB buffer, never reaping */
	long n = tl_make_sized(f->batch, 200000, 2, 1, 1);
	TL_EQ(n, 200000);
	int full = 0;
	struct slog_append_result res;
	for (int i = 0; i < 100 && !full; i++) {
		int rc = slog_append(f->log, f->batch, (size_t)n, &res);
		if (rc == SL_EFULL) {
			full = 1;
			break;
		}
		TL_OK(rc);
		tl_batches_add(&f->m, f->batch, (size_t)n, EPOCH);
		TL_EQ(res.base_offset, f->m.v[f->m.n - 1].base);
	}
	TL_TRUE(full);
	TL_EQ(slog_end_offset(f->log), f->m.end);
	struct slog_stats st;
	slog_get_stats(f->log, &st);
	TL_TRUE(st.full_errors >= 1);
	/* reaping makes room */
	TL_OK(tl_append_model(f->w, f->log, &f->m, f->batch, (size_t)n, EPOCH));
	TL_OK(slog_sync(f->log));
	fx_check(f);
	fx_reopen(f);
	fx_check(f);
}

/* ---- errors ---- */

static void test_offset_out_of_range(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	struct slog_read_view v;
	TL_OK(slog_read(f->log, 0, 100, 0, &v));
	TL_EQ(v.len, 0);
	TL_EQ(slog_read(f->log, 1, 100, 0, &v), SL_EOFFSET);
	TL_EQ(slog_read(f->log, -1, 100, 0, &v), SL_EOFFSET);
	TL_EQ(slog_read_copy(f->log, 1, 100, 0, f->rbuf, TL_READ_CAP),
	      SL_EOFFSET);
	TL_EQ(slog_offset_for_time(f->log, 0), SL_ENOTFOUND);
	for (int i = 0; i < 3; i++)
		fx_append_sized(f, 700, 3, i);
	int64_t end = slog_end_offset(f->log);
	TL_EQ(end, 9);
	TL_OK(slog_read(f->log, end, 100, end, &v));
	TL_EQ(v.len, 0);
	TL_EQ(slog_read(f->log, end + 1, 100, end, &v), SL_EOFFSET);
	TL_EQ(slog_read(f->log, INT64_MAX, 100, end, &v), SL_EOFFSET);
	TL_EQ(slog_read(f->log, INT64_MIN, 100, end, &v), SL_EOFFSET);
	TL_EQ(slog_read_copy(f->log, end + 1, 100, end, f->rbuf, TL_READ_CAP),
	      SL_EOFFSET);
	TL_EQ(slog_read_copy(f->log, end, 100, end, f->rbuf, TL_READ_CAP), 0);
	TL_OK(slog_sync(f->log));
	fx_reopen(f);
	TL_EQ(slog_read(f->log, end + 1, 100, end, &v), SL_EOFFSET);
	TL_EQ(slog_read_copy(f->log, end, 100, end, f->rbuf, TL_READ_CAP), 0);
	fx_check(f);
}

static void test_invalid_batch_rejected(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	fx_append_sized(f, 1000, 2, 1);
	long n = tl_make_sized(f->batch, 1000, 2, 2, 5);
	TL_EQ(n, 1000);
	uint8_t *bad = malloc(BATCH_CAP);
	struct slog_append_result res;
	struct {
		const char *what;
		size_t pos;   /* byte to change, or SIZE_MAX */
		uint8_t xor_;
		long len_delta;
		int want;
	} cases[] = {
		{ "crc field", RB_OFF_CRC + 2, 0x40, 0, SL_ECRC },
		{ "attributes", RB_OFF_ATTRIBUTES + 1, 0x02, 0, SL_ECRC },
		{ "record byte", 500, 0x01, 0, SL_ECRC },
		{ "last byte", 999, 0x80, 0, SL_ECRC },
		{ "magic", RB_OFF_MAGIC, 0x03, 0, SL_EMAGIC },
		{ "length field", RB_OFF_LENGTH + 3, 0x01, 0, SL_ELENGTH },
		{ "one byte short", SIZE_MAX, 0, -1, SL_ELENGTH },
		{ "one byte long", SIZE_MAX, 0, 1, SL_ELENGTH },
		{ "header only", SIZE_MAX, 0, 61 - 1000, SL_ELENGTH },
		{ "too short", SIZE_MAX, 0, 30 - 1000, SL_ELENGTH },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		memcpy(bad, f->batch, 1000);
		bad[1000] = 0;
		if (cases[c].pos != SIZE_MAX)
			bad[cases[c].pos] ^= cases[c].xor_;
		struct slog_stats before, after;
		slog_get_stats(f->log, &before);
		int rc = slog_append(f->log, bad, (size_t)(1000 + cases[c].len_delta),
				     &res);
		if (rc != cases[c].want)
			fail_msg("%s: slog_append %d (%s), want %s",
				 cases[c].what, rc, tl_errname(rc),
				 tl_errname(cases[c].want));
		TL_EQ(slog_end_offset(f->log), f->m.end);
		slog_get_stats(f->log, &after);
		TL_EQ(after.rejected_batches, before.rejected_batches + 1);
		TL_EQ(after.appends, before.appends);
		TL_EQ(after.append_bytes, before.append_bytes);
	}
	/* valid but larger than batch_max_bytes */
	long big = tl_make_sized(bad, f->cfg.batch_max_bytes + 1, 3, 1, 1);
	TL_EQ(big, (long)f->cfg.batch_max_bytes + 1);
	TL_OK(rb_validate(bad, (size_t)big));
	TL_EQ(slog_append(f->log, bad, (size_t)big, &res), SL_ETOOBIG);
	TL_EQ(slog_end_offset(f->log), f->m.end);
	/* exactly batch_max_bytes is fine */
	big = tl_make_sized(bad, f->cfg.batch_max_bytes, 3, 1, 1);
	TL_EQ(big, (long)f->cfg.batch_max_bytes);
	TL_OK(tl_append_model(f->w, f->log, &f->m, bad, (size_t)big, EPOCH));
	free(bad);

	TL_OK(slog_sync(f->log));
	fx_check(f);
	fx_reopen(f);
	fx_check(f);
	fx_append_sized(f, 1000, 2, 3);
	TL_EQ(f->m.v[f->m.n - 1].base, f->m.v[f->m.n - 2].last + 1);
	fx_check(f);
}

static void test_read_copy_enobufs(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	fx_append_sized(f, 5000, 3, 1);
	fx_append_sized(f, 5000, 3, 2);
	for (int pass = 0; pass < 2; pass++) {
		int64_t end = slog_end_offset(f->log);
		TL_EQ(slog_read_copy(f->log, 0, 1 << 20, end, f->rbuf, 4999),
		      -ENOBUFS);
		TL_EQ(slog_read_copy(f->log, 4, 1 << 20, end, f->rbuf, 100),
		      -ENOBUFS);
		TL_EQ(slog_read_copy(f->log, 0, 1 << 20, end, f->rbuf, 5000),
		      5000);
		/* the second batch does not fit: only the first */
		TL_EQ(slog_read_copy(f->log, 0, 1 << 20, end, f->rbuf, 9999),
		      5000);
		TL_EQ(tl_check_read(&f->m, 0, f->rbuf, 5000), 3);
		TL_EQ(slog_read_copy(f->log, 0, 1 << 20, end, f->rbuf, 10000),
		      10000);
		/* max_bytes below one batch still returns that batch */
		TL_EQ(slog_read_copy(f->log, 0, 1, end, f->rbuf, 10000), 5000);
		/* second pass from the files */
		fx_reopen(f);
	}
}

static void test_config_errors(void **state)
{
	struct fx *f = *state;
	struct slog *log = NULL;
	struct slog_config c = f->cfg;
	c.segment_bytes = 1ull << 31;
	TL_EQ(slog_open(f->w, f->dir, &c, &log), SL_ECONFIG);
	c = f->cfg;
	c.buffer_bytes = 2 * c.batch_max_bytes - 1;
	TL_EQ(slog_open(f->w, f->dir, &c, &log), SL_ECONFIG);
	c = f->cfg;
	c.topic = NULL;
	TL_TRUE(slog_open(f->w, f->dir, &c, &log) < 0);
	/* still opens with a good config afterwards */
	fx_open(f);
	fx_append_sized(f, 100, 1, 1);
	fx_check(f);
}

static void test_layout_error(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	fx_append_sized(f, 100, 1, 1);
	fx_close(f);
	char path[PATH_MAX];
	tl_pathf(path, "%s/abc.log", f->pdir);
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	TL_TRUE(fd >= 0);
	close(fd);
	/* into f->log, so that teardown closes it if it opens after all */
	TL_EQ(slog_open(f->w, f->dir, &f->cfg, &f->log), SL_ELAYOUT);
	f->log = NULL;
	unlink(path);
	fx_open(f);
	fx_check(f);
}

static void test_defaults(void **state)
{
	(void)state;
	struct slog_config c;
	memset(&c, 0xab, sizeof(c));
	slog_config_defaults(&c);
	assert_null(c.topic);
	TL_EQ(c.partition, 0);
	TL_EQ(c.segment_bytes, 1ull << 30);
	TL_EQ(c.segment_ms, 7ll * 24 * 3600 * 1000);
	TL_EQ(c.index_interval_bytes, 4096);
	TL_EQ(c.retention_ms, 7ll * 24 * 3600 * 1000);
	TL_EQ(c.retention_bytes, -1);
	TL_EQ(c.batch_max_bytes, 1048588);
	TL_EQ(c.buffer_bytes, 8u << 20);
	TL_EQ(c.durability, SLOG_SYNC_EVERY_APPEND);
	TL_EQ(c.group_commit_bytes, 1u << 20);
	TL_EQ(c.group_commit_us, 2000);
	TL_EQ(c.write_chunk_bytes, 256u << 10);
	assert_null(c.durable_cb);
	assert_null(c.log_fn);
	TL_TRUE(c.clock == NULL || c.clock == &sl_clock_system);
	struct swriter_config w;
	swriter_config_defaults(&w);
	TL_EQ(w.queue_depth, 256);
	TL_EQ(w.max_logs, 64);
}

static void test_two_logs_one_writer(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	struct slog_config c2 = f->cfg;
	struct tl_durable d2;
	tl_durable_init(&d2);
	c2.partition = 1;
	c2.cb_ctx = &d2;
	struct slog *l2;
	TL_OK(slog_open(f->w, f->dir, &c2, &l2));
	struct tl_batches m2;
	tl_batches_init(&m2);
	for (int i = 0; i < 50; i++) {
		fx_append_sized(f, 3000, 2, i);
		long n = tl_make_sized(f->batch, 2000, 1, i, 99);
		TL_OK(tl_append_model(f->w, l2, &m2, f->batch, (size_t)n, EPOCH));
	}
	TL_OK(slog_sync(f->log));
	TL_OK(slog_sync(l2));
	TL_EQ(d2.last_end, m2.end);
	TL_EQ(f->dur.last_end, f->m.end);
	fx_check(f);
	TL_OK(tl_check_log(l2, &m2, 1));
	TL_OK(slog_close(l2));
	TL_OK(slog_open(f->w, f->dir, &c2, &l2));
	TL_OK(tl_check_log(l2, &m2, 0));
	TL_OK(slog_close(l2));
	tl_batches_free(&m2);
}

/* ---- DeleteRecords ---- */

static int64_t first_batch_base(struct fx *f, int64_t offset)
{
	ssize_t n = slog_read_copy(f->log, offset, 1, slog_end_offset(f->log),
				   f->rbuf, TL_READ_CAP);
	TL_TRUE(n >= RB_HEADER_BYTES);
	return (int64_t)rb_be64(f->rbuf + RB_OFF_BASE_OFFSET);
}

static void test_delete_records(void **state)
{
	struct fx *f = *state;
	struct slog_read_view v;
	fx_open(f);
	/* 4 segments of 2 batches of 3 records: offsets 0-23 */
	for (int i = 0; i < 8; i++) {
		fx_append_sized(f, 400, 3, 1000 + i);
		if (i % 2)
			TL_OK(slog_roll(f->log));
	}
	int64_t end = slog_end_offset(f->log);
	TL_EQ(end, 24);
	unsigned segs = slog_segment_count(f->log);
	TL_EQ(slog_delete_records(f->log, end + 1), SL_EOFFSET);
	TL_EQ(slog_delete_records(f->log, -1), SL_EOFFSET);
	TL_EQ(slog_start_offset(f->log), 0);

	/* inside the second batch of the first segment: nothing deleted
	 * yet, the batch holding 4 is still read whole */
	TL_EQ(slog_delete_records(f->log, 4), 4);
	TL_EQ(slog_start_offset(f->log), 4);
	TL_EQ(slog_segment_count(f->log), segs);
	TL_EQ(slog_read(f->log, 3, 100, end, &v), SL_EOFFSET);
	TL_EQ(first_batch_base(f, 4), 3);
	/* a timestamp older than every record answers the start */
	TL_EQ(slog_offset_for_time(f->log, 0), 4);
	/* moving back is a no-op */
	TL_EQ(slog_delete_records(f->log, 2), 4);

	/* past the first two segments: both files go */
	TL_EQ(slog_delete_records(f->log, 13), 13);
	TL_EQ(slog_segment_count(f->log), segs - 2);
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%020d.log", f->pdir, 0);
	TL_EQ(access(path, F_OK), -1);
	TL_EQ(first_batch_base(f, 13), 12);
	TL_EQ(slog_read(f->log, 12, 100, end, &v), SL_EOFFSET);

	/* kept across a clean close and a crash-like reopen */
	TL_OK(slog_sync(f->log));
	fx_reopen(f);
	TL_EQ(slog_start_offset(f->log), 13);
	TL_EQ(slog_read(f->log, 12, 100, end, &v), SL_EOFFSET);
	TL_EQ(first_batch_base(f, 13), 12);

	/* everything: the log is empty and appends continue at its end */
	TL_EQ(slog_delete_records(f->log, end), end);
	TL_EQ(slog_start_offset(f->log), end);
	TL_OK(slog_read(f->log, end, 100, end, &v));
	TL_EQ(v.len, 0);
	fx_append_sized(f, 400, 3, 2000);
	TL_EQ(slog_end_offset(f->log), end + 3);
	TL_EQ(first_batch_base(f, end), end);
}

/* A follower starting over past its end (slog_start_at): the start and
 * the end move there, nothing below is served, appends continue there,
 * and a reopen (clean or not) keeps it all. */
static void test_start_at(void **state)
{
	struct fx *f = *state;
	struct slog_read_view v;
	fx_open(f);
	for (int i = 0; i < 2; i++)
		fx_append_sized(f, 400, 3, 1000 + i);
	TL_OK(slog_sync(f->log));
	TL_EQ(slog_start_at(f->log, -1, 0), SL_EOFFSET);
	TL_EQ(slog_start_at(f->log, 1000, 7), 1000);
	/* the model: nothing kept, the next batch at 1000 */
	tl_batches_drop_below(&f->m, 1000);
	f->m.start = f->m.end = 1000;
	TL_EQ(slog_start_offset(f->log), 1000);
	TL_EQ(slog_end_offset(f->log), 1000);
	TL_EQ(slog_read(f->log, 5, 100, 1000, &v), SL_EOFFSET);
	TL_EQ(slog_read(f->log, 999, 100, 1000, &v), SL_EOFFSET);
	TL_OK(slog_read(f->log, 1000, 100, 1000, &v));
	TL_EQ(v.len, 0);
	struct slog_stats st;
	slog_get_stats(f->log, &st);
	TL_EQ(st.starts_over, 1);
	fx_append_sized(f, 400, 3, 2000);
	TL_EQ(first_batch_base(f, 1000), 1000);
	TL_EQ(slog_end_offset(f->log), 1003);
	TL_OK(slog_sync(f->log));
	fx_reopen(f);
	TL_EQ(slog_start_offset(f->log), 1000);
	TL_EQ(slog_end_offset(f->log), 1003);
	TL_EQ(first_batch_base(f, 1000), 1000);
	/* at or below the end: DeleteRecords */
	TL_EQ(slog_start_at(f->log, 1001, 7), 1003);
	TL_EQ(slog_start_offset(f->log), 1001);
	TL_EQ(slog_start_at(f->log, 500, 7), 1003);
	TL_EQ(slog_start_offset(f->log), 1001);
	fx_close(f);
	fx_open(f);
	TL_EQ(slog_start_offset(f->log), 1001);
	TL_EQ(slog_end_offset(f->log), 1003);
}

/* A start above what recovery finds (the segments were lost): the log
 * continues at the start and never serves or reuses offsets below it. */
static void test_delete_records_start_above_end(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	for (int i = 0; i < 2; i++)
		fx_append_sized(f, 400, 3, 1000 + i);
	TL_EQ(slog_delete_records(f->log, 6), 6);
	fx_close(f);
	/* the segments are gone, the start file stays */
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%020d.log", f->pdir, 0);
	TL_OK(truncate(path, 0));
	snprintf(path, sizeof(path), "%s/recovery-point", f->pdir);
	TL_OK(unlink(path));
	fx_open(f);
	TL_EQ(slog_start_offset(f->log), 6);
	TL_EQ(slog_end_offset(f->log), 6);
	fx_append_sized(f, 400, 3, 2000);
	TL_EQ(first_batch_base(f, 6), 6);
	TL_EQ(slog_end_offset(f->log), 9);
	fx_reopen(f);
	TL_EQ(slog_start_offset(f->log), 6);
	TL_EQ(slog_end_offset(f->log), 9);

	/* a damaged start file is ignored with a log line */
	fx_close(f);
	snprintf(path, sizeof(path), "%s/log-start-offset", f->pdir);
	FILE *fp = fopen(path, "r+");
	TL_TRUE(fp != NULL);
	fputc('X', fp);
	fclose(fp);
	fx_open(f);
	TL_EQ(slog_end_offset(f->log), 9);
	TL_TRUE(slog_start_offset(f->log) < 6);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		T(test_append_read_every_offset),
		T(test_append_result),
		T(test_roll_by_size),
		T(test_batch_larger_than_segment),
		T(test_roll_by_age),
		T(test_forced_roll),
		T(test_retention_by_time),
		T(test_retention_by_size),
		T(test_truncate),
		T(test_append_replica),
		T(test_offset_for_time),
		T(test_max_timestamp),
		T(test_reopen_clean),
		T(test_read_limit_durable),
		T(test_durable_cb_every_append),
		T(test_durable_cb_group),
		T(test_backpressure),
		T(test_offset_out_of_range),
		T(test_delete_records),
		T(test_delete_records_start_above_end),
		T(test_start_at),
		T(test_invalid_batch_rejected),
		T(test_read_copy_enobufs),
		T(test_config_errors),
		T(test_layout_error),
		T(test_two_logs_one_writer),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
