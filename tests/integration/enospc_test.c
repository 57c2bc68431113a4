/*
 * ENOSPC: the log on a filesystem that fills up.
 *
 * Needs root: a 24 MiB ext4 image is made (mkfs.ext4) and loop-mounted on
 * a fresh directory; if that fails, a tmpfs of 8 MiB is tried (tmpfs takes
 * O_DIRECT on recent kernels; SLUICE_ENOSPC_FS=tmpfs uses only that).
 * Otherwise the test is skipped (77).
 *
 * A filler file takes some space first.  Then batches are appended until
 * durable_cb reports an error or slog_append returns -ENOSPC.  Checked:
 *   - the error is -ENOSPC (or, from the append path, -ENOSPC);
 *   - every batch below the last durable_end is readable, byte-identical;
 *   - the log's end is back at the durable end (the rollback);
 *   - close and reopen keep exactly those batches (a reopen that needs
 *     room the full filesystem does not have is -ENOSPC, and with the
 *     filler removed it opens with them);
 *   - after the filler is deleted, appends work again, become durable and
 *     survive a reopen (first in the same log instance, then reopened).
 * The mount is always undone, the image and directories removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tl.h"

#define EPOCH 2
#define BATCH_CAP (64u << 10)

static char g_base[PATH_MAX]; /* scratch dir on the real disk */
static char g_mnt[PATH_MAX];  /* the small filesystem */
static char g_img[PATH_MAX];
static int g_mounted;
static const char *g_fstype = "";

static int run(const char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void cleanup(void)
{
	if (g_mounted) {
		if (umount2(g_mnt, 0) < 0)
			umount2(g_mnt, MNT_DETACH);
		g_mounted = 0;
	}
	if (g_base[0])
		tl_rmrf(g_base);
	g_base[0] = 0;
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* 0 mounted, or a reason in why. */
static int mount_small(char *why, size_t cap)
{
	if (geteuid() != 0) {
		snprintf(why, cap, "not root: cannot mount a small filesystem");
		return -1;
	}
	if (tl_tmpdir(g_base, "enospc") < 0) {
		snprintf(why, cap, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	tl_pathf(g_mnt, "%s/mnt", g_base);
	tl_pathf(g_img, "%s/fs.img", g_base);
	if (mkdir(g_mnt, 0755) < 0) {
		snprintf(why, cap, "mkdir: %s", strerror(errno));
		return -1;
	}
	/* SLUICE_ENOSPC_FS=tmpfs tries the fallback only */
	const char *only = getenv("SLUICE_ENOSPC_FS");
	int want_ext4 = !only || strcmp(only, "tmpfs") != 0;
	int fd = want_ext4 ? open(g_img, O_CREAT | O_WRONLY | O_TRUNC, 0600) : -1;
	if (fd >= 0 && ftruncate(fd, 24 << 20) == 0) {
		close(fd);
		const char *mkfs[] = { "mkfs.ext4", "-q", "-F", "-b", "4096",
				       "-E", "nodiscard", g_img, NULL };
		const char *mnt[] = { "mount", "-o", "loop", g_img, g_mnt, NULL };
		if (run(mkfs) == 0 && run(mnt) == 0) {
			g_mounted = 1;
			g_fstype = "ext4 on a 24 MiB loop device";
			return 0;
		}
	} else if (fd >= 0) {
		close(fd);
	}
	if (mount("tmpfs", g_mnt, "tmpfs", 0, "size=8m") == 0) {
		g_mounted = 1;
		g_fstype = "tmpfs of 8 MiB";
		return 0;
	}
	snprintf(why, cap, "neither a loop-mounted ext4 nor a tmpfs could "
		 "be mounted (%s)", strerror(errno));
	return -1;
}

static int write_filler(const char *path, size_t bytes)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	char buf[65536];
	memset(buf, 0x5a, sizeof(buf));
	size_t done = 0;
	while (done < bytes) {
		ssize_t n = write(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	fsync(fd);
	close(fd);
	return done >= bytes ? 0 : -ENOSPC;
}

/*
 * One append while filling up.  The write error can arrive inside
 * tl_append (its SL_EFULL retries run the writer): then the log was rolled
 * back to the durable offset before this batch went in, and so is the
 * model; offsets written but not durable then are skipped by one empty
 * batch (storage.md), which the model takes too.  Returns 1 to stop
 * filling.
 */
static int fill_step(struct swriter *w, struct slog *log, struct tl_batches *m,
		     struct tl_durable *dur, uint8_t *b, size_t n,
		     int *append_err)
{
	unsigned errors = dur->errors;
	struct slog_append_result res;
	int rc = tl_append(w, log, b, n, &res);
	if (dur->errors != errors)
		tl_batches_truncate(m, dur->err_end);
	if (rc < 0) {
		*append_err = rc;
		return 1;
	}
	if (dur->errors != errors && res.base_offset > m->end) {
		/* offsets written (not durable) before the error are never
		 * given again: one empty batch covers them */
		TL_OK(tl_model_skip(log, m, res.base_offset, EPOCH));
	}
	TL_EQ(res.base_offset, m->end);
	tl_batches_add(m, b, n, EPOCH);
	if (dur->errors != errors)
		return 1;
	swriter_do_work(w);
	if (dur->errors != errors) {
		/* this time after the batch went in: it is gone too */
		tl_batches_truncate(m, dur->err_end);
		return 1;
	}
	return 0;
}

static void test_enospc(void **state)
{
	(void)state;
	uint64_t seed = tl_seed("enospc_test");
	char logs[PATH_MAX], filler[PATH_MAX];
	tl_pathf(logs, "%s/logs", g_mnt);
	tl_pathf(filler, "%s/filler", g_mnt);
	TL_OK(mkdir(logs, 0755));
	TL_OK(write_filler(filler, 6 << 20));

	struct swriter *w;
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	TL_OK(swriter_create(&wc, &w));
	struct tl_durable dur;
	tl_durable_init(&dur);
	struct slog_config cfg;
	tl_config(&cfg, &dur, NULL);
	cfg.leader_epoch = EPOCH;
	cfg.segment_bytes = 1 << 20;
	cfg.prepare = SLOG_PREPARE_APPEND;
	cfg.durability = SLOG_SYNC_GROUP;
	cfg.group_commit_bytes = 128 << 10;
	cfg.group_commit_us = 1000;
	struct slog *log;
	TL_OK(slog_open(w, logs, &cfg, &log));

	const struct tl_gen gen = {
		.max_records = 4,
		.max_value_bytes = 8000,
		.max_key_bytes = 16,
		.ts_base_ms = 1700000000000ll,
	};
	struct tl_batches m;
	tl_batches_init(&m);
	uint8_t *b = malloc(BATCH_CAP);
	int append_err = 0;
	uint64_t idx = 0;
	for (; idx < 100000 && dur.errors == 0; idx++) {
		long n = tl_gen_batch(b, BATCH_CAP, seed, idx, &gen);
		TL_TRUE(n > 0);
		if (fill_step(w, log, &m, &dur, b, (size_t)n, &append_err))
			break;
	}
	/* let the error (if it came from an append) or the last writes land */
	unsigned errors = dur.errors;
	for (int i = 0; i < 2000 && dur.errors == 0 && !append_err; i++)
		swriter_wait(w, 1000);
	if (dur.errors != errors)
		tl_batches_truncate(&m, dur.err_end);
	printf("enospc_test (%s): %llu batches appended, append error %d (%s),"
	       " durable_cb: %u errors (last %d %s at %lld), last durable %lld,"
	       " end %lld\n", g_fstype, (unsigned long long)idx, append_err,
	       tl_errname(append_err), dur.errors, dur.last_err,
	       tl_errname(dur.last_err), (long long)dur.err_end,
	       (long long)dur.last_end, (long long)slog_end_offset(log));
	TL_TRUE(append_err != 0 || dur.errors > 0);
	if (append_err)
		TL_EQ(append_err, -ENOSPC);
	if (dur.errors)
		TL_EQ(dur.last_err, -ENOSPC);

	/* the model followed every rollback; what is left must sync, or
	 * fail with ENOSPC and roll back to the durable offset */
	TL_EQ(slog_end_offset(log), m.end);
	TL_TRUE(slog_durable_offset(log) >= dur.last_end);
	int rc = slog_sync(log);
	if (rc < 0) {
		TL_EQ(rc, -ENOSPC);
		tl_batches_truncate(&m, slog_durable_offset(log));
		TL_EQ(slog_end_offset(log), m.end);
	} else {
		TL_EQ(slog_durable_offset(log), m.end);
	}
	TL_TRUE(m.end > 0);
	TL_OK(tl_check_log(log, &m, 1));

	/* close (may fail: no space for the recovery point) and reopen */
	rc = slog_close(log);
	printf("close on a full filesystem: %d %s\n", rc, tl_errname(rc));
	tl_durable_init(&dur);
	rc = slog_open(w, logs, &cfg, &log);
	bool freed = false;
	if (rc == -ENOSPC) {
		/* the open may need room to repair what the failed close
		 * left (a segment scanned, its index written): it refuses
		 * with ENOSPC rather than guess; with room again it must
		 * open with every durable batch */
		printf("reopen on a full filesystem: -ENOSPC; again with the "
		       "filler removed\n");
		TL_OK(unlink(filler));
		sync();
		freed = true;
		rc = slog_open(w, logs, &cfg, &log);
	}
	TL_OK(rc);
	if (tl_check_log(log, &m, 0) != 0)
		fail_msg("after reopen on a full filesystem: not the %lld "
			 "offsets that were durable", (long long)m.end);

	/* free space: appends work again and become durable */
	if (!freed)
		TL_OK(unlink(filler));
	sync();
	for (int i = 0; i < 50; i++, idx++) {
		long n = tl_gen_batch(b, BATCH_CAP, seed, idx, &gen);
		rc = tl_append_model(w, log, &m, b, (size_t)n, EPOCH);
		if (rc)
			fail_msg("append after freeing space: %s", tl_errname(rc));
		swriter_do_work(w);
	}
	TL_OK(slog_sync(log));
	TL_EQ(slog_durable_offset(log), m.end);
	TL_EQ(dur.errors, 0);
	TL_OK(tl_check_log(log, &m, 1));
	TL_OK(slog_close(log));
	TL_OK(slog_open(w, logs, &cfg, &log));
	TL_OK(tl_check_log(log, &m, 0));
	TL_OK(slog_close(log));
	swriter_destroy(w);
	tl_batches_free(&m);
	free(b);
}

/* Same, but the space comes back while the same log instance is open. */
static void test_enospc_recover_in_place(void **state)
{
	(void)state;
	uint64_t seed = tl_seed("enospc_recover_in_place");
	char logs[PATH_MAX], filler[PATH_MAX];
	tl_pathf(logs, "%s/logs2", g_mnt);
	tl_pathf(filler, "%s/filler2", g_mnt);
	/* what the first test left behind, even if it failed */
	char prev[PATH_MAX];
	tl_pathf(prev, "%s/logs", g_mnt);
	tl_rmrf(prev);
	tl_pathf(prev, "%s/filler", g_mnt);
	unlink(prev);
	sync();
	TL_OK(mkdir(logs, 0755));
	/* fill most of what is left, keep 2 MiB */
	TL_OK(write_filler(filler, 4 << 20));

	struct swriter *w;
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	TL_OK(swriter_create(&wc, &w));
	struct tl_durable dur;
	tl_durable_init(&dur);
	struct slog_config cfg;
	tl_config(&cfg, &dur, NULL);
	cfg.leader_epoch = EPOCH;
	cfg.segment_bytes = 512 << 10;
	cfg.durability = SLOG_SYNC_EVERY_APPEND;
	struct slog *log;
	TL_OK(slog_open(w, logs, &cfg, &log));
	const struct tl_gen gen = {
		.max_records = 3,
		.max_value_bytes = 6000,
		.max_key_bytes = 8,
		.ts_base_ms = 1,
	};
	struct tl_batches m;
	tl_batches_init(&m);
	uint8_t *b = malloc(BATCH_CAP);
	int append_err = 0;
	uint64_t idx = 0;
	for (; idx < 100000 && dur.errors == 0; idx++) {
		long n = tl_gen_batch(b, BATCH_CAP, seed, idx, &gen);
		if (fill_step(w, log, &m, &dur, b, (size_t)n, &append_err))
			break;
	}
	unsigned errors = dur.errors;
	for (int i = 0; i < 2000 && dur.errors == 0 && !append_err; i++)
		swriter_wait(w, 1000);
	if (dur.errors != errors)
		tl_batches_truncate(&m, dur.err_end);
	printf("in place (%s): %llu appended, append error %s, %u durable "
	       "errors (%s), durable %lld, end %lld\n", g_fstype,
	       (unsigned long long)idx, tl_errname(append_err), dur.errors,
	       tl_errname(dur.last_err), (long long)slog_durable_offset(log),
	       (long long)slog_end_offset(log));
	TL_TRUE(append_err == -ENOSPC || dur.last_err == -ENOSPC);
	TL_EQ(slog_end_offset(log), m.end);
	int rc = slog_sync(log);
	if (rc < 0) {
		TL_EQ(rc, -ENOSPC);
		tl_batches_truncate(&m, slog_durable_offset(log));
	}
	TL_EQ(slog_end_offset(log), m.end);
	TL_OK(tl_check_log(log, &m, 0));

	TL_OK(unlink(filler));
	sync();
	/* the same instance: "the next append starts again at the durable
	 * offset" */
	for (int i = 0; i < 30; i++, idx++) {
		long n = tl_gen_batch(b, BATCH_CAP, seed, idx, &gen);
		rc = tl_append_model(w, log, &m, b, (size_t)n, EPOCH);
		if (rc)
			fail_msg("append %d after freeing space, same log: %s", i,
				 tl_errname(rc));
		swriter_do_work(w);
	}
	rc = slog_sync(log);
	if (rc)
		fail_msg("sync after freeing space, same log: %s", tl_errname(rc));
	TL_EQ(slog_durable_offset(log), m.end);
	TL_OK(tl_check_log(log, &m, 1));
	TL_OK(slog_close(log));
	TL_OK(slog_open(w, logs, &cfg, &log));
	TL_OK(tl_check_log(log, &m, 0));
	TL_OK(slog_close(log));
	swriter_destroy(w);
	tl_batches_free(&m);
	free(b);
}

int main(void)
{
	char why[256];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (mount_small(why, sizeof(why)) < 0) {
		printf("SKIP enospc_test: %s\n", why);
		cleanup();
		return 77;
	}
	printf("enospc_test: %s at %s\n", g_fstype, g_mnt);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_enospc_recover_in_place),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	cleanup();
	return rc;
}
