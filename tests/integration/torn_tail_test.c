/*
 * Torn and corrupt tails: what recovery makes of a damaged last segment.
 *
 * A master log of N batches is written and closed cleanly.  Then, for
 * every byte position p inside the last batch, a fresh copy of the
 * directory is made, the recovery-point file is removed (a clean marker
 * would let the log trust the tail: removing it forces the full scan a
 * crash would), and the segment is damaged:
 *   - cut:     the .log file is truncated at p;
 *   - corrupt: the byte at p is flipped.
 * Reopening must give exactly batches 0..N-2, byte-identical, with the end
 * offset at the last batch's base, and must accept appends that survive a
 * reopen.  The leader epoch (bytes 12-15) is outside the CRC and not
 * checkable: flipping it may keep the batch, but then with exactly the
 * flipped bytes.
 *
 * Also: zero padding and garbage after the last batch, a bad batch in the
 * middle of the last segment, a bad batch at the end of an older segment
 * (later segments must go), and a last segment that holds only the torn
 * batch.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tl.h"

#define EPOCH 11
#define BATCH_CAP (64u << 10)

struct master {
	char dir[PATH_MAX];  /* base dir holding t-0/ */
	char pdir[PATH_MAX];
	struct tl_batches m;
	struct slog_config cfg;
	struct tl_clock clk;
	int64_t seg_bases[64];
	int nseg;
};

static struct swriter *W;

static void build_master(struct master *ms, uint64_t segment_bytes,
			 const size_t *sizes, int n, int roll_before_last)
{
	memset(ms, 0, sizeof(*ms));
	TL_OK(tl_tmpdir(ms->dir, "torn-master"));
	tl_clock_init(&ms->clk);
	tl_config(&ms->cfg, NULL, &ms->clk);
	ms->cfg.segment_bytes = segment_bytes;
	ms->cfg.leader_epoch = EPOCH;
	tl_partition_dir(ms->pdir, ms->dir, ms->cfg.topic, ms->cfg.partition);
	tl_batches_init(&ms->m);
	struct slog *log;
	TL_OK(slog_open(W, ms->dir, &ms->cfg, &log));
	uint8_t *b = malloc(BATCH_CAP);
	for (int i = 0; i < n; i++) {
		if (roll_before_last && i == n - 1)
			TL_OK(slog_roll(log));
		long len = tl_make_sized(b, sizes[i], 1 + i % 4, 1000 + i,
					 (uint64_t)i * 31);
		TL_EQ(len, (long)sizes[i]);
		TL_OK(tl_append_model(W, log, &ms->m, b, (size_t)len, EPOCH));
	}
	free(b);
	TL_OK(slog_sync(log));
	TL_OK(tl_check_log(log, &ms->m, 0));
	TL_OK(slog_close(log));
	ms->nseg = tl_list_segments(ms->pdir, ms->seg_bases, 64);
	TL_TRUE(ms->nseg >= 1);
}

static void free_master(struct master *ms)
{
	tl_rmrf(ms->dir);
	tl_batches_free(&ms->m);
}

/* Segment holding batch i, and the batch's position in that file. */
static void locate(const struct master *ms, size_t i, char *path,
		   uint64_t *pos)
{
	int s = ms->nseg - 1;
	while (s > 0 && ms->seg_bases[s] > ms->m.v[i].base)
		s--;
	tl_segment_path(path, ms->pdir, ms->seg_bases[s], ".log");
	uint64_t p = 0;
	for (size_t k = 0; k < i; k++)
		if (ms->m.v[k].base >= ms->seg_bases[s])
			p += ms->m.v[k].len;
	*pos = p;
}

/* A fresh copy of the master without its clean marker. */
static void copy_master(const struct master *ms, char *work, char *wpdir)
{
	tl_pathf(work, "%s-work", ms->dir);
	tl_rmrf(work);
	TL_OK(tl_copy_tree(ms->dir, work));
	tl_partition_dir(wpdir, work, ms->cfg.topic, ms->cfg.partition);
	char rp[PATH_MAX];
	tl_pathf(rp, "%s/recovery-point", wpdir);
	TL_OK(unlink(rp));
}

static void work_path(const struct master *ms, const char *seg_path,
		      const char *wpdir, char *out)
{
	/* seg_path is under ms->pdir: same file name under wpdir */
	const char *name = strrchr(seg_path, '/');
	tl_pathf(out, "%s%s", wpdir, name);
	(void)ms;
}

/*
 * Open the damaged copy and check it holds exactly the first keep batches
 * of the master (keep_alt: also accept keep_alt batches, batch alt_index
 * with the damaged bytes alt_bytes).  With append, check that appends
 * continue and survive a reopen.  Returns the number of batches found.
 */
static size_t check_recovered(const struct master *ms, const char *work,
			      size_t keep, size_t keep_alt, size_t alt_index,
			      const uint8_t *alt_bytes, int append,
			      const char *what)
{
	struct tl_batches exp;
	tl_batches_init(&exp);
	struct slog *log;
	struct slog_config cfg = ms->cfg;
	int rc = slog_open(W, work, &cfg, &log);
	if (rc < 0)
		fail_msg("%s: slog_open: %s", what, tl_errname(rc));
	int64_t end = slog_end_offset(log);
	size_t found = keep;
	if (keep_alt && end == ms->m.v[keep_alt - 1].last + 1)
		found = keep_alt;
	for (size_t i = 0; i < found; i++) {
		const uint8_t *src = ms->m.v[i].bytes;
		if (found == keep_alt && i == alt_index && alt_bytes)
			src = alt_bytes;
		size_t k = tl_batches_add(&exp, src, ms->m.v[i].len, EPOCH);
		/* keep whatever epoch the (damaged) bytes carry */
		memcpy(exp.v[k].bytes, src, ms->m.v[i].len);
	}
	if (tl_check_log(log, &exp, (int)(keep & 1)) != 0)
		fail_msg("%s: recovered log is not the first %zu batches "
			 "(end %lld, want %lld)", what, found, (long long)end,
			 (long long)exp.end);
	TL_EQ(slog_durable_offset(log), exp.end);
	if (append) {
		uint8_t *b = malloc(BATCH_CAP);
		int64_t ts[2] = { 5, 6 };
		long n = tl_make_ts(b, BATCH_CAP, 2, ts, 300, 77);
		TL_TRUE(n > 0);
		rc = tl_append_model(W, log, &exp, b, (size_t)n, EPOCH);
		if (rc != 0)
			fail_msg("%s: append after recovery: %s", what,
				 tl_errname(rc));
		TL_OK(slog_sync(log));
		TL_OK(slog_close(log));
		TL_OK(slog_open(W, work, &cfg, &log));
		if (tl_check_log(log, &exp, 0) != 0)
			fail_msg("%s: append after recovery lost on reopen", what);
		free(b);
	}
	TL_OK(slog_close(log));
	tl_batches_free(&exp);
	return found;
}

static void run_cut_and_corrupt(const struct master *ms, size_t victim,
				const char *label)
{
	char seg[PATH_MAX], work[PATH_MAX], wpdir[PATH_MAX], wseg[PATH_MAX];
	uint64_t pos;
	locate(ms, victim, seg, &pos);
	uint32_t len = ms->m.v[victim].len;
	size_t keep = victim; /* batches 0..victim-1 */
	unsigned epoch_kept = 0;
	printf("%s: batch %zu (base %lld, %u bytes) at %s:%llu\n", label,
	       victim, (long long)ms->m.v[victim].base, len, strrchr(seg, '/') + 1,
	       (unsigned long long)pos);

	/* cut at every position inside the batch */
	for (uint32_t p = 0; p < len; p++) {
		char what[128];
		snprintf(what, sizeof(what), "%s: cut at batch byte %u", label, p);
		copy_master(ms, work, wpdir);
		work_path(ms, seg, wpdir, wseg);
		TL_OK(truncate(wseg, (off_t)(pos + p)));
		check_recovered(ms, work, keep, 0, 0, NULL,
				p % 13 == 0 || p == len - 1, what);
		tl_rmrf(work);
	}
	/* flip every byte of the batch */
	uint8_t *alt = malloc(len);
	for (uint32_t p = 0; p < len; p++) {
		char what[128];
		snprintf(what, sizeof(what), "%s: byte %u flipped", label, p);
		copy_master(ms, work, wpdir);
		work_path(ms, seg, wpdir, wseg);
		int fd = open(wseg, O_RDWR);
		TL_TRUE(fd >= 0);
		uint8_t c;
		TL_EQ(pread(fd, &c, 1, (off_t)(pos + p)), 1);
		c ^= (p & 1) ? 0x01 : 0x80;
		TL_EQ(pwrite(fd, &c, 1, (off_t)(pos + p)), 1);
		close(fd);
		int epoch_byte = p >= RB_OFF_LEADER_EPOCH && p < RB_OFF_MAGIC;
		memcpy(alt, ms->m.v[victim].bytes, len);
		alt[p] ^= (p & 1) ? 0x01 : 0x80;
		size_t got = check_recovered(ms, work, keep,
					     epoch_byte ? ms->m.n : 0, victim,
					     epoch_byte ? alt : NULL,
					     p % 11 == 0 || p == len - 1, what);
		epoch_kept += got != keep;
		tl_rmrf(work);
	}
	free(alt);
	printf("%s: %u cuts and %u flips recovered (%u epoch flips kept the "
	       "batch)\n", label, len, len, epoch_kept);
}

static void test_last_batch(void **state)
{
	(void)state;
	static const size_t sizes[] = { 4000, 333, 9000, 1200, 700, 517 };
	struct master ms;
	build_master(&ms, 1 << 20, sizes, 6, 0);
	TL_EQ(ms.nseg, 1);
	run_cut_and_corrupt(&ms, 5, "one segment, last batch");
	free_master(&ms);
}

static void test_last_batch_alone_in_segment(void **state)
{
	(void)state;
	static const size_t sizes[] = { 4000, 3330, 9000, 300 };
	struct master ms;
	build_master(&ms, 1 << 20, sizes, 4, 1);
	TL_EQ(ms.nseg, 2);
	run_cut_and_corrupt(&ms, 3, "new segment, only batch");
	free_master(&ms);
}

static void test_middle_batch(void **state)
{
	(void)state;
	/* damage in batch 2 of 6 in one segment: 3 batches go */
	static const size_t sizes[] = { 4000, 333, 250, 1200, 700, 517 };
	struct master ms;
	build_master(&ms, 1 << 20, sizes, 6, 0);
	run_cut_and_corrupt(&ms, 2, "one segment, middle batch");
	free_master(&ms);
}

static void test_older_segment(void **state)
{
	(void)state;
	/* 5000-byte batches, 13 per 64 KiB segment; damage batch 25
	 * (segment 1): what follows it, segments 2.. too, must go */
	size_t sizes[40];
	for (int i = 0; i < 40; i++)
		sizes[i] = 5000;
	sizes[25] = 211; /* small, so the per-byte loops are short */
	struct master ms;
	build_master(&ms, 64 << 10, sizes, 40, 0);
	TL_TRUE(ms.nseg >= 3);
	run_cut_and_corrupt(&ms, 25, "older segment, batch 25 of 40");
	free_master(&ms);
}

static void append_bytes(const char *path, const uint8_t *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	TL_TRUE(fd >= 0);
	TL_EQ(write(fd, b, n), (ssize_t)n);
	close(fd);
}

static void test_tail_garbage(void **state)
{
	(void)state;
	static const size_t sizes[] = { 4000, 333, 9000, 1200 };
	struct master ms;
	build_master(&ms, 1 << 20, sizes, 4, 0);
	char seg[PATH_MAX], work[PATH_MAX], wpdir[PATH_MAX], wseg[PATH_MAX];
	uint64_t pos;
	locate(&ms, 3, seg, &pos);
	uint8_t junk[8192];

	/* zero padding (what an O_DIRECT writer leaves): nothing lost */
	for (size_t z = 1; z <= sizeof(junk); z *= 4) {
		memset(junk, 0, sizeof(junk));
		copy_master(&ms, work, wpdir);
		work_path(&ms, seg, wpdir, wseg);
		append_bytes(wseg, junk, z);
		check_recovered(&ms, work, 4, 0, 0, NULL, z & 1, "zero padding");
		tl_rmrf(work);
	}
	/* random garbage: cut away, everything before kept */
	struct tl_rng r;
	tl_rng_init(&r, 5);
	for (int k = 0; k < 8; k++) {
		size_t n = 1 + tl_rng_below(&r, sizeof(junk));
		for (size_t i = 0; i < n; i++)
			junk[i] = (uint8_t)tl_rng_next(&r);
		copy_master(&ms, work, wpdir);
		work_path(&ms, seg, wpdir, wseg);
		append_bytes(wseg, junk, n);
		check_recovered(&ms, work, 4, 0, 0, NULL, k & 1, "garbage tail");
		tl_rmrf(work);
	}
	/* a copy of the last batch appended again: its base offset is
	 * wrong (a repeat), so it is not part of the log */
	copy_master(&ms, work, wpdir);
	work_path(&ms, seg, wpdir, wseg);
	append_bytes(wseg, ms.m.v[3].bytes, ms.m.v[3].len);
	check_recovered(&ms, work, 4, 0, 0, NULL, 1, "repeated last batch");
	tl_rmrf(work);
	/* an empty segment file after the last one (crash right after a
	 * roll created it) */
	copy_master(&ms, work, wpdir);
	char empty[PATH_MAX];
	tl_segment_path(empty, wpdir, ms.m.end, ".log");
	int fd = open(empty, O_CREAT | O_WRONLY, 0644);
	TL_TRUE(fd >= 0);
	close(fd);
	check_recovered(&ms, work, 4, 0, 0, NULL, 1, "empty next segment");
	tl_rmrf(work);
	free_master(&ms);
}

static void test_recovered_stats(void **state)
{
	(void)state;
	static const size_t sizes[] = { 4000, 333, 9000, 1200 };
	struct master ms;
	build_master(&ms, 1 << 20, sizes, 4, 0);
	char seg[PATH_MAX], work[PATH_MAX], wpdir[PATH_MAX], wseg[PATH_MAX];
	uint64_t pos;
	locate(&ms, 3, seg, &pos);
	copy_master(&ms, work, wpdir);
	work_path(&ms, seg, wpdir, wseg);
	TL_OK(truncate(wseg, (off_t)(pos + 600)));
	struct slog *log;
	TL_OK(slog_open(W, work, &ms.cfg, &log));
	struct slog_stats st;
	slog_get_stats(log, &st);
	TL_EQ(slog_end_offset(log), ms.m.v[3].base);
	TL_EQ(st.recovered_truncated_bytes, 600);
	TL_OK(slog_close(log));
	/* the file itself was cut */
	TL_EQ(tl_file_size(wseg), (long long)pos);
	tl_rmrf(work);
	/* zero padding is the writer's, not lost data */
	copy_master(&ms, work, wpdir);
	uint8_t zeros[5000] = { 0 };
	append_bytes(wseg, zeros, sizeof(zeros));
	TL_OK(slog_open(W, work, &ms.cfg, &log));
	slog_get_stats(log, &st);
	TL_EQ(slog_end_offset(log), ms.m.end);
	TL_EQ(st.recovered_truncated_bytes, 0);
	TL_OK(slog_close(log));
	TL_EQ(tl_file_size(wseg), (long long)(pos + ms.m.v[3].len));
	tl_rmrf(work);
	free_master(&ms);
}

int main(void)
{
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	int rc = swriter_create(&wc, &W);
	if (rc < 0) {
		fprintf(stderr, "swriter_create: %s\n", tl_errname(rc));
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_batch),
		cmocka_unit_test(test_last_batch_alone_in_segment),
		cmocka_unit_test(test_middle_batch),
		cmocka_unit_test(test_older_segment),
		cmocka_unit_test(test_tail_garbage),
		cmocka_unit_test(test_recovered_stats),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	swriter_destroy(W);
	return rc;
}
