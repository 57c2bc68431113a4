/*
 * The writer's write buffer pool (storage/pool.c), through storage/log.h:
 * a writer with a pool of two buffers and three logs on the real disk,
 * a fake clock (the idle release is timed by it) and group commit with a
 * long interval, so that a log keeps data that is not durable (and its
 * buffer) until the test syncs it.
 *
 *   - exhaustion: with both buffers holding data not yet durable, an
 *     append to the third log is SL_EFULL, counted (pool_empty, empty);
 *     once one of them is durable, the third takes its buffer (a steal);
 *   - release and reuse: after buffer_idle_ms without appends the writer
 *     takes the buffers back, and later appends reuse them (no third
 *     buffer is ever created);
 *   - a log that takes a buffer again continues its partial last block
 *     exactly (every byte read back, after a reopen too);
 *   - reads after the release come from the file, and an idle log holds
 *     no write or index descriptor.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tl.h"

#define EPOCH 3
#define BATCH_CAP (64u << 10)
#define NLOGS 3
#define IDLE_MS 50

struct fx {
	char dir[PATH_MAX];
	struct swriter *w;
	struct tl_clock clk;
	struct slog_config cfg[NLOGS];
	struct tl_durable dur[NLOGS];
	struct slog *log[NLOGS];
	struct tl_batches m[NLOGS];
	uint8_t *batch;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || tl_tmpdir(f->dir, "pool") < 0)
		return -1;
	tl_clock_init(&f->clk);
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	wc.buffers = 2;
	wc.buffer_idle_ms = IDLE_MS;
	int rc = swriter_create(&wc, &f->w);
	if (rc < 0) {
		fprintf(stderr, "swriter_create: %s\n", tl_errname(rc));
		return -1;
	}
	for (int i = 0; i < NLOGS; i++) {
		tl_durable_init(&f->dur[i]);
		tl_config(&f->cfg[i], &f->dur[i], &f->clk);
		f->cfg[i].partition = i;
		f->cfg[i].leader_epoch = EPOCH;
		f->cfg[i].durability = SLOG_SYNC_GROUP;
		f->cfg[i].group_commit_bytes = 1ull << 40;
		f->cfg[i].group_commit_us = 1000ull * 1000 * 1000 * 1000;
		tl_batches_init(&f->m[i]);
		rc = slog_open(f->w, f->dir, &f->cfg[i], &f->log[i]);
		if (rc < 0) {
			fprintf(stderr, "slog_open: %s\n", tl_errname(rc));
			return -1;
		}
	}
	f->batch = malloc(BATCH_CAP);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < NLOGS; i++) {
		if (f->log[i])
			slog_close(f->log[i]);
		tl_batches_free(&f->m[i]);
	}
	swriter_destroy(f->w);
	if (!getenv("SLUICE_KEEP"))
		tl_rmrf(f->dir);
	free(f->batch);
	free(f);
	return 0;
}

/* One append of size bytes to log i, no retry.  Returns slog_append's
 * result; on success the model has the batch. */
static int append(struct fx *f, int i, size_t size)
{
	struct slog_append_result res;
	long n = tl_make_sized(f->batch, size, 2, 1700000000000ll + f->m[i].end,
			       (uint64_t)f->m[i].end * 31 + (uint64_t)i);
	TL_EQ(n, (long)size);
	int rc = slog_append(f->log[i], f->batch, size, &res);
	if (rc == 0) {
		TL_EQ(res.base_offset, f->m[i].end);
		tl_batches_add(&f->m[i], f->batch, size, EPOCH);
	}
	return rc;
}

static struct swriter_stats wstats(struct fx *f)
{
	struct swriter_stats st;
	swriter_get_stats(f->w, &st);
	return st;
}

static struct slog_stats lstats(struct fx *f, int i)
{
	struct slog_stats st;
	slog_get_stats(f->log[i], &st);
	return st;
}

/* Move the fake clock past the idle time and run the duty cycle. */
static void idle_pass(struct fx *f)
{
	f->clk.mono_ns += (IDLE_MS + 1) * 1000000ull;
	int rc = swriter_do_work(f->w);
	TL_TRUE(rc >= 0);
}

/* Descriptors of this process open on files under dir whose name ends
 * in ext. */
static int open_fds(const char *dir, const char *ext)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char link[PATH_MAX], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		size_t el = strlen(ext);
		if (!strncmp(target, dir, strlen(dir)) && (size_t)len >= el &&
		    !strcmp(target + len - el, ext))
			n++;
	}
	closedir(d);
	return n;
}

static void test_exhaustion(void **state)
{
	struct fx *f = *state;
	TL_OK(append(f, 0, 5000));
	TL_OK(append(f, 1, 5000));
	/* written (acks=1), not synced: group commit is far off */
	TL_OK(slog_request_flush(f->log[0]));
	TL_OK(slog_request_flush(f->log[1]));
	for (int k = 0; k < 1000 && (slog_written_offset(f->log[0]) < f->m[0].end ||
				     slog_written_offset(f->log[1]) < f->m[1].end); k++)
		TL_TRUE(swriter_wait(f->w, 1000) >= 0);
	TL_EQ(slog_written_offset(f->log[0]), f->m[0].end);
	TL_EQ(slog_durable_offset(f->log[0]), 0);
	idle_pass(f); /* however idle, not durable: kept */
	TL_EQ(wstats(f).in_use, 2);
	TL_EQ(append(f, 2, 5000), SL_EFULL);
	TL_EQ(lstats(f, 2).pool_empty, 1);
	TL_EQ(lstats(f, 2).full_errors, 1);
	TL_EQ(wstats(f).empty, 1);
	TL_EQ(slog_end_offset(f->log[2]), 0); /* nothing appended */
	/* the first becomes durable (freshly used, so not given back as
	 * idle): its buffer can go to the third at once */
	TL_OK(append(f, 0, 700));
	TL_OK(slog_sync(f->log[0]));
	TL_EQ(wstats(f).in_use, 2);
	TL_OK(append(f, 2, 5000));
	TL_EQ(wstats(f).steals, 1);
	TL_EQ(wstats(f).buffers, 2);
	TL_OK(slog_sync(f->log[1]));
	TL_OK(slog_sync(f->log[2]));
	for (int i = 0; i < NLOGS; i++) {
		TL_OK(tl_check_log(f->log[i], &f->m[i], 0));
		TL_OK(tl_check_log(f->log[i], &f->m[i], 1));
	}
}

static void test_release_and_reuse(void **state)
{
	struct fx *f = *state;
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 2; i++) {
			TL_OK(append(f, i, 3000 + 100 * round));
			TL_OK(slog_sync(f->log[i]));
		}
		TL_EQ(wstats(f).in_use, 2);
		/* not idle yet: kept */
		swriter_do_work(f->w);
		TL_EQ(wstats(f).in_use, 2);
		idle_pass(f);
		TL_EQ(wstats(f).in_use, 0);
		TL_EQ(wstats(f).idle_releases, 2u * (round + 1));
	}
	/* the third log takes one of the two free buffers: none created */
	TL_OK(append(f, 2, 4000));
	TL_EQ(wstats(f).buffers, 2);
	TL_EQ(wstats(f).steals, 0);
	TL_EQ(wstats(f).empty, 0);
	TL_EQ(wstats(f).takes, 11);
	TL_EQ(lstats(f, 0).buffer_takes, 5);
	/* data not durable is never given back, however idle */
	idle_pass(f);
	TL_EQ(wstats(f).in_use, 1);
	TL_OK(slog_sync(f->log[2]));
	idle_pass(f);
	TL_EQ(wstats(f).in_use, 0);
}

static void test_retake_continues_partial_block(void **state)
{
	struct fx *f = *state;
	/* sizes that end mid-block, so that each take reloads a partial
	 * last block written (padded) before the release; three logs on two
	 * buffers, so a buffer comes back holding another log's bytes */
	static const size_t sizes[] = { 1000, 5123, 777, 4096, 9000, 161, 3333 };
	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		for (int i = 0; i < NLOGS; i++) {
			TL_OK(append(f, i, sizes[k]));
			TL_OK(append(f, i, sizes[k] + 17));
			TL_OK(slog_sync(f->log[i]));
		}
		idle_pass(f);
		TL_EQ(wstats(f).in_use, 0);
		for (int i = 0; i < NLOGS; i++)
			TL_OK(tl_check_log(f->log[i], &f->m[i], 0));
	}
	TL_EQ(lstats(f, 0).buffer_takes, 7);
	TL_TRUE(wstats(f).steals >= 7);
	for (int i = 0; i < NLOGS; i++) {
		TL_OK(tl_check_log(f->log[i], &f->m[i], 1));
		TL_OK(slog_close(f->log[i]));
		f->log[i] = NULL;
		TL_OK(slog_open(f->w, f->dir, &f->cfg[i], &f->log[i]));
		TL_EQ(slog_end_offset(f->log[i]), f->m[i].end);
		TL_OK(tl_check_log(f->log[i], &f->m[i], 0));
		TL_OK(tl_check_log(f->log[i], &f->m[i], 1));
	}
}

static void test_reads_after_release_from_file(void **state)
{
	struct fx *f = *state;
	char pdir[PATH_MAX];
	tl_partition_dir(pdir, f->dir, "t", 1);
	/* over index_interval_bytes: both index files get an entry */
	TL_OK(append(f, 1, 5000));
	TL_OK(append(f, 1, 2500));
	TL_OK(slog_sync(f->log[1]));
	struct slog_read_view v;
	TL_OK(slog_read(f->log[1], 0, 1 << 20, slog_end_offset(f->log[1]), &v));
	TL_TRUE(v.mem != NULL); /* held: the tail cache */
	TL_EQ(open_fds(pdir, ".log"), 2);       /* read and write */
	TL_EQ(open_fds(pdir, ".index"), 1);
	TL_EQ(open_fds(pdir, ".timeindex"), 1);
	idle_pass(f);
	TL_EQ(wstats(f).in_use, 0);
	/* an idle log keeps its segment's read descriptor only */
	TL_EQ(open_fds(pdir, ".log"), 1);
	TL_EQ(open_fds(pdir, ".index"), 0);
	TL_EQ(open_fds(pdir, ".timeindex"), 0);
	uint64_t file_reads = lstats(f, 1).file_reads;
	TL_OK(slog_read(f->log[1], 0, 1 << 20, slog_end_offset(f->log[1]), &v));
	TL_TRUE(v.mem == NULL);
	TL_TRUE(v.fd >= 0);
	TL_EQ(v.len, 7500);
	TL_EQ(lstats(f, 1).file_reads, file_reads + 1);
	TL_OK(tl_check_log(f->log[1], &f->m[1], 1));
	TL_OK(tl_check_log(f->log[1], &f->m[1], 0));
	TL_EQ(wstats(f).in_use, 0); /* reads take no buffer */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_exhaustion),
		T(test_release_and_reuse),
		T(test_retake_continues_partial_block),
		T(test_reads_after_release_from_file),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
