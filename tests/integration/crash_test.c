/*
 * Crash test: real processes, real SIGKILL.
 *
 * Each round forks a child that opens the log (SLOG_SYNC_EVERY_APPEND or
 * SLOG_SYNC_GROUP, drawn per round), works out from the recovered end
 * offset which batch of the deterministic stream (seed, index) comes next,
 * and appends the stream from there, writing every durable_end its
 * durable_cb reports to a pipe.  The parent reads the pipe and SIGKILLs the
 * child after a random delay (2 to 200 ms).  Then, in most rounds, the
 * parent reopens the log and checks:
 *   - the end offset is at least the last durable_end the child reported;
 *   - the log is exactly a prefix of the stream: every batch present is
 *     byte-identical to the generated one, stamped with its base offset and
 *     the leader epoch, and the end offset is where the last one ends;
 *   - the durable offset after recovery is the end offset.
 * Some rounds also truncate a few batches back now and then and append
 * the same stream again (announced on the pipe before slog_truncate, so
 * the parent lowers what it expects), and some chains apply
 * retention by size (the start offset must stay a batch boundary).
 * One round in eight kills the child within 10 ms of the fork, while it
 * is still opening (recovering) the log.  The other rounds are never
 * killed before the child reported at least one durable_end, so each of
 * them checks one whatever the machine's load.
 * The parent also checks that durable_end rises strictly from report to
 * report for the whole life of a child, truncations included: a
 * truncation to T makes T the durable end the next report must pass.
 * In the other rounds the parent does not look, so the next child recovers
 * a crashed log by itself and appends after it.  Directories are kept for
 * a chain of 1 to 6 rounds, then replaced.
 *
 * The seed (SLUICE_SEED) fixes the stream, the modes and the delays; the
 * kill lands wherever the scheduler has the child then, so a replay is
 * close, not exact.  SLUICE_LONG=1: 500 rounds instead of 50.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tl.h"

#define EPOCH 5
#define BATCH_CAP (64u << 10)

static const struct tl_gen gen = {
	.max_records = 6,
	.max_value_bytes = 1200,
	.max_key_bytes = 24,
	.ts_base_ms = 1700000000000ll,
};

struct round_cfg {
	uint64_t seed;
	enum slog_durability mode;
	uint64_t segment_bytes;
	int roll_every; /* child calls slog_roll every n appends (0: never) */
	int throttle;   /* 1 in throttle appends waits up to 300 us */
	int truncate_every; /* 1 in n appends: truncate a few batches back and
			       append the same stream again (0: never) */
	int64_t retention_bytes; /* -1, or applied now and then */
};

static void make_cfg(struct slog_config *cfg, const struct round_cfg *rc,
		     struct tl_durable *d)
{
	tl_config(cfg, d, NULL);
	cfg->leader_epoch = EPOCH;
	cfg->durability = rc->mode;
	cfg->segment_bytes = rc->segment_bytes;
	cfg->group_commit_bytes = 64 << 10;
	cfg->group_commit_us = 1000;
	cfg->clock = NULL; /* real time: group commit must fire by itself */
	cfg->retention_bytes = rc->retention_bytes;
}

/* Offset at which batch idx of the stream starts, and its index, for the
 * first batch boundary at or after offset; -1 if offset is no boundary. */
static int64_t stream_index_at(uint64_t seed, int64_t offset, uint64_t *idx)
{
	int64_t off = 0;
	uint64_t i = 0;
	while (off < offset)
		off += tl_gen_count(seed, i++, &gen);
	*idx = i;
	return off == offset ? off : -1;
}

/* ---- the child ---- */

static int report_fd = -1;

static void child_cb(void *ctx, struct slog *log, int64_t durable_end, int err)
{
	(void)ctx;
	(void)log;
	int64_t msg[2] = { durable_end, err };
	if (write(report_fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		_exit(20);
}

static void child_main(const char *dir, const struct round_cfg *rc, int fd)
{
	report_fd = fd;
	struct swriter *w;
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	if (swriter_create(&wc, &w) < 0)
		_exit(10);
	struct slog_config cfg;
	make_cfg(&cfg, rc, NULL);
	cfg.durable_cb = child_cb;
	struct slog *log;
	int rc_ = slog_open(w, dir, &cfg, &log);
	if (rc_ < 0) {
		fprintf(stderr, "child: slog_open: %s\n", tl_errname(rc_));
		_exit(11);
	}
	/* which batch of the stream comes next */
	int64_t end = slog_end_offset(log), off = 0;
	uint64_t idx = 0;
	while (off < end)
		off += tl_gen_count(rc->seed, idx++, &gen);
	if (off != end) {
		fprintf(stderr, "child: recovered end %lld is not a batch "
			"boundary of the stream\n", (long long)end);
		_exit(12);
	}
	/* tell the parent where we start */
	int64_t hello[2] = { end, 1 };
	if (write(fd, hello, sizeof(hello)) != (ssize_t)sizeof(hello))
		_exit(13);
	uint8_t *b = malloc(BATCH_CAP);
	struct tl_rng r;
	tl_rng_init(&r, rc->seed ^ end);
	for (int i = 0; i < 200000; i++, idx++) {
		long n = tl_gen_batch(b, BATCH_CAP, rc->seed, idx, &gen);
		if (n < 0)
			_exit(14);
		struct slog_append_result res;
		rc_ = tl_append(w, log, b, (size_t)n, &res);
		if (rc_ < 0) {
			fprintf(stderr, "child: append: %s\n", tl_errname(rc_));
			_exit(15);
		}
		if (swriter_do_work(w) < 0)
			_exit(16);
		if (rc->roll_every && i % rc->roll_every == rc->roll_every - 1 &&
		    slog_roll(log) < 0)
			_exit(17);
		if (rc->throttle && tl_rng_below(&r, (uint64_t)rc->throttle) == 0)
			swriter_wait(w, 300);
		if (rc->retention_bytes >= 0 && i % 64 == 63 &&
		    slog_apply_retention(log) < 0)
			_exit(18);
		if (rc->truncate_every &&
		    tl_rng_below(&r, (uint64_t)rc->truncate_every) == 0) {
			/* back by 1..8 batches of the stream (not below the
			 * start), then the same batches again */
			uint64_t back = 1 + tl_rng_below(&r, 8);
			uint64_t to = idx + 1 > back ? idx + 1 - back : 0;
			uint64_t first;
			stream_index_at(rc->seed, slog_start_offset(log), &first);
			if (to < first)
				to = first;
			int64_t toff = 0;
			for (uint64_t k = 0; k < to; k++)
				toff += tl_gen_count(rc->seed, k, &gen);
			/* announce first: a kill during the truncation may
			 * leave either side of it */
			int64_t msg[2] = { toff, 2 };
			if (write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
				_exit(13);
			int64_t got = slog_truncate(log, toff);
			if (got != toff) {
				fprintf(stderr, "child: truncate(%lld) = %lld\n",
					(long long)toff, (long long)got);
				_exit(19);
			}
			msg[1] = 3; /* done */
			if (write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
				_exit(13);
			idx = to - 1; /* the loop's idx++ makes it "to" */
		}
	}
	/* not expected: the parent kills us long before */
	slog_sync(log);
	for (;;)
		pause();
}

/* ---- the parent ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct reports {
	int64_t start_end;    /* end offset the child recovered */
	int64_t max_durable;  /* largest durable_end that must survive */
	int64_t last_durable; /* the log's durable end as last reported: the
				 start, each durable_end, a truncation's end */
	unsigned count;
	unsigned truncations;
	int64_t truncating;   /* announced truncation not yet done, or -1 */
	int64_t lowest_cut;   /* the lowest truncation announced, or -1: the
				 child may cut below where it started */
	int bad;              /* non-increasing or error reported */
};

/*
 * One message from the child.  durable_end must rise strictly from one
 * report to the next, for the whole life of the child: reports made while
 * slog_truncate waits for the I/O in flight continue the sequence from
 * before the truncation, and once it is done the log's durable end is the
 * truncation's end, which the next report must pass.
 */
static void take(struct reports *rep, const int64_t msg[2])
{
	if (msg[1] == 1 && rep->start_end < 0) {
		rep->start_end = msg[0];
		rep->last_durable = msg[0];
		return;
	}
	if (msg[1] == 2) {
		/* the child is about to truncate to msg[0]: what was durable
		 * past it may go, including what durable_cb reports while
		 * slog_truncate waits for the I/O in flight */
		if (rep->max_durable > msg[0])
			rep->max_durable = msg[0];
		rep->truncating = msg[0];
		rep->truncations++;
		if (rep->lowest_cut < 0 || msg[0] < rep->lowest_cut)
			rep->lowest_cut = msg[0];
		return;
	}
	if (msg[1] == 3) {
		if (msg[0] != rep->truncating) {
			fprintf(stderr, "truncation to %lld announced, %lld "
				"done\n", (long long)rep->truncating,
				(long long)msg[0]);
			rep->bad = 1;
		}
		rep->truncating = -1;
		rep->last_durable = msg[0];
		return;
	}
	if (msg[1] != 0) {
		fprintf(stderr, "child reported durable error %lld (%s) at %lld\n",
			(long long)msg[1], tl_errname(msg[1]), (long long)msg[0]);
		rep->bad = 1;
		return;
	}
	if (msg[0] <= rep->last_durable) {
		fprintf(stderr, "durable_end went %lld -> %lld (after %u "
			"truncations%s)\n", (long long)rep->last_durable,
			(long long)msg[0], rep->truncations,
			rep->truncating >= 0 ? ", one in progress" : "");
		rep->bad = 1;
	}
	rep->last_durable = msg[0];
	rep->count++;
	if (rep->truncating >= 0 && msg[0] > rep->truncating)
		return; /* about to be cut */
	if (msg[0] > rep->max_durable)
		rep->max_durable = msg[0];
}

static void drain(int fd, struct reports *rep, int until_eof)
{
	int64_t msg[2];
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, (uint8_t *)msg + have, sizeof(msg) - have);
		if (n > 0) {
			have += (size_t)n;
			if (have == sizeof(msg)) {
				take(rep, msg);
				have = 0;
			}
			continue;
		}
		if (n == 0)
			return; /* EOF: the child is gone */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && until_eof) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			poll(&p, 1, 100);
			continue;
		}
		return;
	}
}

/*
 * Reopen in-process and check the log is a prefix of the stream.
 * Returns the number of batches present, or -1.
 */
static long verify(const char *dir, const struct round_cfg *rc,
		   const struct reports *rep, int round)
{
	struct swriter *w;
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	TL_OK(swriter_create(&wc, &w));
	struct slog_config cfg;
	struct tl_durable d;
	tl_durable_init(&d);
	make_cfg(&cfg, rc, &d);
	struct slog *log;
	int rc_ = slog_open(w, dir, &cfg, &log);
	if (rc_ < 0)
		fail_msg("round %d: reopen after kill: %s", round, tl_errname(rc_));
	int64_t start = slog_start_offset(log), end = slog_end_offset(log);
	uint64_t idx;
	if (stream_index_at(rc->seed, start, &idx) != start)
		fail_msg("round %d: start offset %lld is not a batch boundary",
			 round, (long long)start);
	if (rc->retention_bytes < 0)
		TL_EQ(start, 0);
	TL_EQ(slog_durable_offset(log), end);
	if (end < rep->max_durable)
		fail_msg("round %d: recovered end %lld < last reported durable "
			 "%lld: acknowledged data lost", round, (long long)end,
			 (long long)rep->max_durable);

	uint8_t *buf = malloc(TL_READ_CAP), *want = malloc(BATCH_CAP);
	int64_t off = start;
	uint64_t first_idx = idx;
	while (off < end) {
		ssize_t n = slog_read_copy(log, off, 1 << 20, end, buf,
					   TL_READ_CAP);
		if (n <= 0)
			fail_msg("round %d: read at %lld of %lld: %zd (%s)", round,
				 (long long)off, (long long)end, n, tl_errname(n));
		size_t pos = 0;
		while (pos < (size_t)n) {
			long len = tl_gen_batch(want, BATCH_CAP, rc->seed, idx,
						&gen);
			TL_TRUE(len > 0);
			rb_stamp(want, off, EPOCH);
			if ((size_t)len > (size_t)n - pos ||
			    memcmp(buf + pos, want, (size_t)len) != 0)
				fail_msg("round %d: batch %llu at offset %lld "
					 "differs from the stream (len %ld, got "
					 "len %u base %lld)", round,
					 (unsigned long long)idx, (long long)off,
					 len, rb_be32(buf + pos + 8) + 12,
					 (long long)rb_be64(buf + pos));
			pos += (size_t)len;
			off = rb_last_offset(want) + 1;
			idx++;
		}
	}
	TL_EQ(off, end);
	free(buf);
	free(want);
	TL_OK(slog_close(log));
	swriter_destroy(w);
	return (long)(idx - first_idx);
}

static void test_crash(void **state)
{
	(void)state;
	uint64_t seed = tl_seed("crash_test");
	struct tl_rng r;
	tl_rng_init(&r, seed);
	int rounds = tl_long() ? 500 : 50;
	char dir[PATH_MAX] = "";
	int chain_left = 0;
	unsigned unchecked = 0, truncations = 0;
	uint64_t total_batches = 0;
	struct round_cfg rc = { .seed = 0 };
	struct reports prev = { .start_end = -1, .max_durable = 0 };

	signal(SIGPIPE, SIG_IGN);
	for (int round = 0; round < rounds; round++) {
		if (chain_left == 0) {
			if (dir[0])
				tl_rmrf(dir);
			TL_OK(tl_tmpdir(dir, "crash"));
			chain_left = 1 + (int)tl_rng_below(&r, 6);
			rc.seed = tl_rng_next(&r);
			rc.segment_bytes = (uint64_t)tl_rng_range(&r, 64 << 10,
								  4 << 20);
			/* retention for a whole chain: a log never shrinks
			 * back under a smaller limit by surprise */
			rc.retention_bytes = tl_rng_below(&r, 3) == 0 ?
				tl_rng_range(&r, 256 << 10, 4 << 20) : -1;
			prev.max_durable = 0;
		}
		chain_left--;
		rc.mode = tl_rng_below(&r, 2) ? SLOG_SYNC_GROUP :
						SLOG_SYNC_EVERY_APPEND;
		rc.roll_every = tl_rng_below(&r, 4) == 0 ?
					(int)tl_rng_range(&r, 5, 200) : 0;
		rc.throttle = (int)tl_rng_range(&r, 1, 8);
		rc.truncate_every = tl_rng_below(&r, 3) == 0 ?
					    (int)tl_rng_range(&r, 20, 300) : 0;
		unsigned delay_ms = (unsigned)tl_rng_range(&r, 2, 200);
		/* 1 in 8 rounds: kill within 0.1 to 10 ms of the fork, while
		 * the child opens (recovering the last crash) */
		int kill_early = round > 0 && tl_rng_below(&r, 8) == 0;
		/* the last round of a chain is always checked */
		int check = chain_left == 0 || tl_rng_below(&r, 3) != 0;

		int p[2];
		TL_OK(pipe(p));
		fflush(stdout);
		fflush(stderr);
		pid_t pid = fork();
		TL_TRUE(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			child_main(dir, &rc, p[1]);
			_exit(0);
		}
		close(p[1]);
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		struct reports rep = { .start_end = -1, .max_durable = -1,
				       .last_durable = -1, .truncating = -1,
				       .lowest_cut = -1 };
		uint64_t t_end;
		if (kill_early) {
			/* while it opens and recovers, or just after */
			struct timespec ts = { 0, (long)delay_ms * 50000 };
			nanosleep(&ts, NULL);
			drain(p[0], &rep, 0);
		} else {
			/* wait for the child's hello first: opening (and
			 * recovering) is not part of the delay */
			uint64_t hello_deadline = now_ms() + 30000;
			while (rep.start_end < 0 && now_ms() < hello_deadline) {
				struct pollfd pf = { .fd = p[0], .events = POLLIN };
				poll(&pf, 1, 10);
				drain(p[0], &rep, 0);
				int st;
				if (waitpid(pid, &st, WNOHANG) == pid)
					fail_msg("round %d: child exited early, "
						 "status 0x%x", round, st);
			}
			TL_TRUE(rep.start_end >= 0);
		}
		if (rep.start_end >= 0 && rep.start_end < prev.max_durable)
			fail_msg("round %d: the child recovered end %lld < "
				 "durable %lld reported before the last kill",
				 round, (long long)rep.start_end,
				 (long long)prev.max_durable);
		/* the delay runs from the hello; a round that is not killed
		 * early is also not killed before the child reported a
		 * durable end, so that every such round checks one (a child
		 * that makes none in 30 s is stuck: a failure) */
		t_end = now_ms() + (kill_early ? 0 : delay_ms);
		uint64_t progress_deadline = now_ms() + 30000;
		while (now_ms() < t_end || (!kill_early && rep.count == 0)) {
			if (now_ms() >= progress_deadline)
				fail_msg("round %d: no durable_end from the child "
					 "in 30 s (started at %lld)", round,
					 (long long)rep.start_end);
			struct pollfd pf = { .fd = p[0], .events = POLLIN };
			poll(&pf, 1, 1);
			drain(p[0], &rep, 0);
		}
		kill(pid, SIGKILL);
		int st;
		TL_EQ(waitpid(pid, &st, 0), pid);
		drain(p[0], &rep, 1);
		close(p[0]);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			fail_msg("round %d: child ended by itself, status 0x%x",
				 round, st);
		TL_TRUE(!rep.bad);
		if (rep.start_end < 0) /* killed before it had opened */
			rep.max_durable = prev.max_durable;
		/* what the child recovered must survive, unless the child
		 * itself announced a cut below it (a truncation may go back
		 * past where it started) */
		int64_t floor = rep.start_end;
		if (rep.lowest_cut >= 0 && rep.lowest_cut < floor)
			floor = rep.lowest_cut;
		if (rep.max_durable < floor)
			rep.max_durable = floor;

		long present = -1;
		if (check) {
			present = verify(dir, &rc, &rep, round);
			total_batches += (uint64_t)present;
		} else {
			unchecked++;
		}
		printf("round %3d: %-12s %s %3u ms, started at %lld, %u "
		       "durable reports up to %lld%s%s\n", round,
		       rc.mode == SLOG_SYNC_GROUP ? "group" : "every-append",
		       kill_early ? "early, 1/20 of" : "delay", delay_ms, (long long)rep.start_end, rep.count,
		       (long long)rep.max_durable,
		       check ? ", checked" : ", not checked (next child recovers)",
		       rc.roll_every ? ", rolling" : "");
		if (rep.truncations || rc.retention_bytes >= 0)
			printf("           %u truncations%s\n", rep.truncations,
			       rc.retention_bytes >= 0 ? ", retention" : "");
		if (!kill_early)
			TL_TRUE(rep.count > 0);
		truncations += rep.truncations;
		prev = rep;
	}
	if (dir[0])
		tl_rmrf(dir);
	printf("crash_test: %d rounds, %u unchecked, %u truncations, %llu "
	       "batches verified\n", rounds, unchecked, truncations,
	       (unsigned long long)total_batches);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
