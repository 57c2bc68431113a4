/*
 * sluice-storage-bench: the storage engine (storage/log.h) appending a
 * fixed amount of data, against the disk's own limit measured by fio in the
 * same run.
 *
 * Cases: batches of 16 KiB and 1 MiB (total batch size, records filled so
 * the batch is exactly that size), each with SLOG_SYNC_EVERY_APPEND
 * (fdatasync per append; appends made while a sync is in flight are
 * covered by the next one) and SLOG_SYNC_GROUP (group commit, engine
 * defaults: 1 MiB or 2 ms).  The headline is 1 MiB batches, group commit.
 * One more case, 16k_every_append_qd1, appends one 16 KiB batch at a time
 * and waits for it to be durable before the next: the engine's latency
 * floor, comparable with fio's 16 KiB write + fdatasync at iodepth 1.  In
 * the other cases the buffer is kept full, so their latency is mostly
 * queueing (an 8 MiB buffer drained at the disk's rate).  So one more,
 * 16k_group_paced, appends 16 KiB batches open-loop at --paced-mbps
 * (default 100 MB/s, well under the disk's rate) for at most --paced-sec
 * (default 5 s): what group commit's 1 MiB / 2 ms policy delivers when
 * the disk keeps up.  Its latencies start at each batch's scheduled time
 * (no coordinated omission).
 *
 * Each case opens a fresh log in --dir, then keeps the engine busy the way
 * a storage core does: slog_append() and swriter_do_work() until the
 * append gets SL_EFULL, then swriter_wait() and retry.  Every batch's
 * start time is kept, indexed by its sequence number; durable_cb receives
 * the durable end offset and, since every batch's last offset is known
 * from slog_append(), stamps append-to-durable latency on every batch it
 * covers.  MB/s is bytes / (first append .. last batch durable).
 * Afterwards the first and last batch are read back and validated, the log
 * is closed and its directory removed.
 *
 * Caps, printed with the results: the one-at-a-time case runs at most
 * --sync-cap-mib (default 64 MiB) since its rate is bounded by fdatasync
 * latency; both 16 KiB per-append cases stop after --sync-cap-sec
 * (default 10 s) in case the engine syncs every append separately.
 *
 * The peer, in the same run and the same directory: fio sequential 1 MiB
 * O_DIRECT writes through io_uring at iodepth 32 of the same amount (at
 * most 4 GiB) with a final fsync, and fio 16 KiB (and 1 MiB) writes at
 * iodepth 1 each followed by fdatasync (its "sync" latency percentiles).
 * Ratios: sluice MB/s / fio MB/s, and p99 append-to-durable latency of the
 * per-append cases / fio's fdatasync p99 at the same write size.
 *
 * Failure modes: an engine error (append, durable_cb error, failed read
 * back) aborts with the engine's message, exit 1.  fio missing or failing
 * is reported and its fields are 0 (ratios too); use --no-fio to skip it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "proto/record_batch.h"
#include "storage/log.h"

#define REPS_MAX 32u
#define VALUE_BYTES 1000 /* typical record value; the last one fills up */

enum { CASE_16K_QD1, CASE_16K_EVERY, CASE_16K_GROUP, CASE_16K_GROUP_PACED,
       CASE_1M_EVERY, CASE_1M_GROUP, CASE_COUNT };

static const struct case_def {
	const char *name;
	uint32_t batch_bytes;
	enum slog_durability durability;
	bool qd1; /* wait for each batch to be durable before the next */
	bool paced; /* open loop at --paced-mbps */
} cases[CASE_COUNT] = {
	[CASE_16K_QD1] = { .name = "16k_every_append_qd1",
			   .batch_bytes = 16u << 10,
			   .durability = SLOG_SYNC_EVERY_APPEND, .qd1 = true },
	[CASE_16K_EVERY] = { .name = "16k_every_append",
			     .batch_bytes = 16u << 10,
			     .durability = SLOG_SYNC_EVERY_APPEND },
	[CASE_16K_GROUP] = { .name = "16k_group", .batch_bytes = 16u << 10,
			     .durability = SLOG_SYNC_GROUP },
	[CASE_16K_GROUP_PACED] = { .name = "16k_group_paced",
				   .batch_bytes = 16u << 10,
				   .durability = SLOG_SYNC_GROUP,
				   .paced = true },
	[CASE_1M_EVERY] = { .name = "1m_every_append", .batch_bytes = 1u << 20,
			    .durability = SLOG_SYNC_EVERY_APPEND },
	[CASE_1M_GROUP] = { .name = "1m_group", .batch_bytes = 1u << 20,
			    .durability = SLOG_SYNC_GROUP },
};
#define HEADLINE CASE_1M_GROUP

struct opts {
	const char *dir;
	uint64_t bytes;
	uint64_t sync_cap_bytes;
	double sync_cap_sec;
	unsigned reps;
	double paced_mbps;
	double paced_sec;
	bool json;
	bool fio;
	bool keep;
	int prepare; /* -1: engine default */
	uint64_t segment_bytes; /* 0: engine default */
	uint64_t retention_bytes; /* 0: keep everything */
	uint32_t buffer_bytes;    /* 0: engine default */
	uint64_t warm_bytes;      /* appended (untimed) before each case */
	uint32_t chunk_bytes;     /* 0: engine default */
	uint64_t group_bytes;     /* 0: engine default */
	bool no_register;         /* plain (unregistered) buffers and files */
};

/* One run of one case. */
struct case_run {
	uint64_t bytes;
	uint64_t batches;
	double elapsed_s;
	double mb_per_s;
	double batches_per_s;
	double durable_p50_us, durable_p99_us, durable_p999_us, durable_max_us;
	double append_p50_us, append_p99_us; /* the slog_append() call */
	uint64_t full_errors;
	uint64_t fsyncs;
	double fsync_avg_us, fsync_max_us;
	uint64_t writes;
	unsigned segments;
	bool capped;
};

/* One run of the fio peer. */
struct fio_run {
	double seq_mb_per_s;
	double sync16k_p50_us, sync16k_p99_us, write16k_p99_us;
	double sync1m_p50_us, sync1m_p99_us;
};

/* State of the case running, shared with durable_cb. */
static struct {
	uint64_t *start_ns;    /* per batch: before slog_append() */
	int64_t *last_offset;  /* per batch */
	uint64_t *durable_ns;  /* per batch: append-to-durable */
	uint64_t *append_ns;   /* per batch: the slog_append() call */
	uint64_t cap;          /* entries in the arrays */
	uint64_t appended;     /* batches appended */
	uint64_t durable;      /* batches durable (a prefix) */
	uint64_t last_durable_ns;
	int err;
} st;

static void die(const char *what, int rc)
{
	fprintf(stderr, "storage-bench: %s: %s\n", what, sl_strerror(rc));
	exit(1);
}

static void durable_cb(void *ctx, struct slog *log, int64_t durable_end,
		       int err)
{
	uint64_t now = bench_now_ns();

	(void)ctx;
	(void)log;
	if (err < 0) {
		if (!st.err)
			st.err = err;
		return;
	}
	/* Durable offsets only advance, and batches are in offset order. */
	while (st.durable < st.appended &&
	       st.last_offset[st.durable] < durable_end) {
		st.durable_ns[st.durable] = now - st.start_ns[st.durable];
		st.durable++;
	}
	st.last_durable_ns = now;
	assert(st.durable <= st.appended);
}

/*
 * Build a valid RecordBatch v2 of exactly target bytes (or as close as
 * the varint widths allow, within a few bytes) into buf.  Returns its size.
 */
static size_t build_batch(uint8_t *buf, size_t cap, size_t target)
{
	static uint8_t value[2u << 20];
	struct rb_builder b;
	long len = 0;
	int32_t last = 0; /* value size of the last record */
	size_t full;      /* records of VALUE_BYTES before the last one */

	for (size_t i = 0; i < sizeof(value); i++)
		value[i] = (uint8_t)(i * 2654435761u >> 24);
	/* A record of VALUE_BYTES costs about VALUE_BYTES + 10 bytes. */
	full = (target - RB_HEADER_BYTES) / (VALUE_BYTES + 10);
	if (full > 0)
		full--;
	last = (int32_t)(target - RB_HEADER_BYTES) -
	       (int32_t)full * (VALUE_BYTES + 10) - 10;
	for (int attempt = 0; attempt < 8; attempt++) {
		if (last < 0)
			last = 0;
		rb_builder_init(&b, buf, cap, 1700000000000ll);
		for (size_t i = 0; i < full; i++)
			if (rb_builder_add(&b, NULL, -1, value, VALUE_BYTES,
					   1700000000000ll + (int64_t)i) < 0)
				die("rb_builder_add", -ENOBUFS);
		if (rb_builder_add(&b, NULL, -1, value, last,
				   1700000000000ll + (int64_t)full) < 0)
			die("rb_builder_add", -ENOBUFS);
		len = rb_builder_finish(&b);
		if (len < 0)
			die("rb_builder_finish", (int)len);
		if ((size_t)len == target)
			break;
		/* Over by a varint byte or two: shrink, never exceed. */
		last += (int32_t)target - (int32_t)len;
	}
	while ((size_t)len > target && last > 0) {
		last--;
		rb_builder_init(&b, buf, cap, 1700000000000ll);
		for (size_t i = 0; i < full; i++)
			rb_builder_add(&b, NULL, -1, value, VALUE_BYTES,
				       1700000000000ll + (int64_t)i);
		rb_builder_add(&b, NULL, -1, value, last,
			       1700000000000ll + (int64_t)full);
		len = rb_builder_finish(&b);
	}
	assert(len > 0 && (size_t)len <= target && target - (size_t)len < 8);
	assert(rb_validate(buf, (size_t)len) == 0);
	return (size_t)len;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void mkdir_p(const char *dir)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(tmp, 0755);
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "storage-bench: mkdir %s: %s\n", dir,
			strerror(errno));
		exit(1);
	}
}

static void quiet_log(void *ctx, int level, const char *line)
{
	(void)ctx;
	if (level <= 1)
		fprintf(stderr, "storage-bench: engine: %s\n", line);
}

static void run_case(const struct opts *o, int ci, unsigned rep,
		     const uint8_t *batch_tmpl, size_t batch_len,
		     struct case_run *r)
{
	const struct case_def *cd = &cases[ci];
	static uint8_t *batch;
	char base[4096];
	struct swriter_config wcfg;
	struct slog_config cfg;
	struct swriter *w;
	struct slog *log;
	uint64_t bytes = o->bytes, nbatches, t0, t_stop;
	bool sync_capped = cd->durability == SLOG_SYNC_EVERY_APPEND &&
			   cd->batch_bytes < (1u << 20);
	int rc;

	memset(r, 0, sizeof(*r));
	if (cd->qd1 && bytes > o->sync_cap_bytes)
		bytes = o->sync_cap_bytes;
	if (cd->paced && bytes > (uint64_t)(o->paced_mbps * 1e6 * o->paced_sec))
		bytes = (uint64_t)(o->paced_mbps * 1e6 * o->paced_sec);
	nbatches = bytes / batch_len;
	if (nbatches == 0)
		nbatches = 1;
	assert(nbatches <= st.cap);
	assert(batch_len <= (1u << 20) + 4096);
	if (!batch &&
	    posix_memalign((void **)&batch, 4096, (1u << 20) + 4096))
		die("posix_memalign", -ENOMEM);
	memcpy(batch, batch_tmpl, batch_len);

	snprintf(base, sizeof(base), "%s/storage-bench-%d", o->dir,
		 (int)getpid());
	rm_rf(base);
	mkdir_p(base);
	swriter_config_defaults(&wcfg);
	if (o->no_register)
		wcfg.register_buffers = 0;
	rc = swriter_create(&wcfg, &w);
	if (rc < 0)
		die("swriter_create", rc);
	slog_config_defaults(&cfg);
	cfg.topic = "bench";
	cfg.partition = (int32_t)(ci * 100 + (int)rep);
	cfg.durability = cd->durability;
	cfg.durable_cb = durable_cb;
	cfg.log_fn = quiet_log;
	if (o->prepare >= 0)
		cfg.prepare = (enum slog_prepare)o->prepare;
	if (o->segment_bytes)
		cfg.segment_bytes = o->segment_bytes;
	if (o->retention_bytes)
		cfg.retention_bytes = (int64_t)o->retention_bytes;
	if (o->buffer_bytes)
		cfg.buffer_bytes = o->buffer_bytes;
	if (o->chunk_bytes)
		cfg.write_chunk_bytes = o->chunk_bytes;
	if (o->group_bytes)
		cfg.group_commit_bytes = o->group_bytes;
	rc = slog_open(w, base, &cfg, &log);
	if (rc < 0)
		die("slog_open", rc);
	assert(slog_end_offset(log) == 0);
	if (o->warm_bytes) {
		/* Steady state before timing: fill and retire segments so
		 * the log writes into recycled files, as a long-running
		 * broker with retention does. */
		uint64_t warm = 0;
		struct slog_append_result wres;
		st.appended = st.durable = 0; /* durable_cb records nothing */
		while (warm < o->warm_bytes) {
			rc = slog_append(log, batch, batch_len, &wres);
			if (rc == SL_EFULL) {
				swriter_wait(w, 1000);
				continue;
			}
			if (rc < 0)
				die("slog_append (warm-up)", rc);
			warm += batch_len;
			if (slog_segment_count(log) > 2)
				slog_apply_retention(log);
			swriter_do_work(w);
		}
		rc = slog_sync(log);
		if (rc < 0)
			die("slog_sync (warm-up)", rc);
		slog_apply_retention(log);
	}

	st.appended = st.durable = 0;
	st.err = 0;
	t0 = bench_now_ns();
	t_stop = sync_capped ? t0 + (uint64_t)(o->sync_cap_sec * 1e9)
			     : UINT64_MAX;
	while (st.appended < nbatches) {
		struct slog_append_result res;
		uint64_t a = bench_now_ns();

		if (a >= t_stop) {
			r->capped = true;
			break;
		}
		if (cd->paced) {
			uint64_t due = t0 + (uint64_t)((double)st.appended *
						      (double)batch_len * 1e3 /
						      o->paced_mbps);

			while ((a = bench_now_ns()) < due) {
				/* Keep the engine's timers running. */
				rc = swriter_wait(w, (due - a) / 1000 + 1);
				if (rc < 0)
					die("swriter_wait", rc);
			}
			a = due;
		}
		uint64_t call = bench_now_ns();

		rc = slog_append(log, batch, batch_len, &res);
		if (rc == SL_EFULL) {
			rc = swriter_wait(w, 1000);
			if (rc < 0)
				die("swriter_wait", rc);
			continue;
		}
		if (rc < 0)
			die("slog_append", rc);
		uint64_t i = st.appended;
		st.start_ns[i] = a;
		st.append_ns[i] = bench_now_ns() - call;
		st.last_offset[i] = res.last_offset;
		assert(i == 0 || res.base_offset == st.last_offset[i - 1] + 1);
		st.appended++;
		if (o->retention_bytes && slog_segment_count(log) > 2) {
			/* steady state: retention frees (recycles) the
			 * oldest segments while the log grows */
			rc = slog_apply_retention(log);
			if (rc < 0)
				die("slog_apply_retention", rc);
		}
		rc = swriter_do_work(w);
		if (rc < 0)
			die("swriter_do_work", rc);
		while (cd->qd1 && st.durable < st.appended && !st.err) {
			rc = swriter_wait(w, 1000);
			if (rc < 0)
				die("swriter_wait", rc);
		}
		if (st.err)
			die("durable_cb", st.err);
	}
	/* Drain: no new appends, wait until the last batch is durable. */
	uint64_t drain_deadline = bench_now_ns() + 120ull * 1000000000u;
	while (st.durable < st.appended) {
		rc = swriter_wait(w, 1000);
		if (rc < 0)
			die("swriter_wait", rc);
		if (st.err)
			die("durable_cb", st.err);
		if (bench_now_ns() > drain_deadline) {
			fprintf(stderr, "storage-bench: %s: %llu of %llu batches "
					"not durable after 120 s (durable offset "
					"%lld, end %lld)\n",
				cd->name,
				(unsigned long long)(st.appended - st.durable),
				(unsigned long long)st.appended,
				(long long)slog_durable_offset(log),
				(long long)slog_end_offset(log));
			exit(1);
		}
	}
	uint64_t t_end = st.last_durable_ns;

	/* Sanity: the first and last batch read back whole and valid. */
	{
		static uint8_t *rb;
		ssize_t n;
		int64_t offs[2] = { slog_start_offset(log),
				    st.last_offset[st.appended - 1] };

		if (!rb && !(rb = malloc((2u << 20) + 4096)))
			die("malloc", -ENOMEM);
		for (int k = 0; k < 2; k++) {
			n = slog_read_copy(log, offs[k], 1, slog_durable_offset(log),
					   rb, (2u << 20) + 4096);
			if (n < 0)
				die("slog_read_copy", (int)n);
			if ((size_t)n != batch_len ||
			    rb_validate(rb, (size_t)n) != 0) {
				fprintf(stderr, "storage-bench: %s: read back of "
						"offset %lld: %zd bytes, %s\n",
					cd->name, (long long)offs[k], n,
					(size_t)n == batch_len ? "invalid batch"
							       : "wrong size");
				exit(1);
			}
		}
	}

	struct slog_stats ss;

	slog_get_stats(log, &ss);
	r->segments = slog_segment_count(log);
	rc = slog_close(log);
	if (rc < 0)
		die("slog_close", rc);
	swriter_destroy(w);
	if (!o->keep)
		rm_rf(base);

	uint64_t n = st.appended;

	r->batches = n;
	r->bytes = n * batch_len;
	r->elapsed_s = (double)(t_end - t0) / 1e9;
	r->mb_per_s = (double)r->bytes / 1e6 / r->elapsed_s;
	r->batches_per_s = (double)n / r->elapsed_s;
	r->full_errors = ss.full_errors;
	r->fsyncs = ss.fsyncs;
	r->fsync_avg_us = ss.fsyncs ? (double)ss.fsync_ns_total /
					      (double)ss.fsyncs / 1e3
				    : 0;
	r->fsync_max_us = (double)ss.fsync_ns_max / 1e3;
	r->writes = ss.writes;
	qsort(st.durable_ns, n, sizeof(uint64_t), bench_cmp_u64);
	qsort(st.append_ns, n, sizeof(uint64_t), bench_cmp_u64);
	r->durable_p50_us = (double)bench_pct_sorted(st.durable_ns, n, 0.5) / 1e3;
	r->durable_p99_us = (double)bench_pct_sorted(st.durable_ns, n, 0.99) / 1e3;
	r->durable_p999_us =
		(double)bench_pct_sorted(st.durable_ns, n, 0.999) / 1e3;
	r->durable_max_us = (double)st.durable_ns[n - 1] / 1e3;
	r->append_p50_us = (double)bench_pct_sorted(st.append_ns, n, 0.5) / 1e3;
	r->append_p99_us = (double)bench_pct_sorted(st.append_ns, n, 0.99) / 1e3;
}

/* ---- fio, the peer ---- */

/*
 * In fio's JSON, the object value of the first "key" at or after p and
 * before end: returns its opening brace and sets *obj_end to the matching
 * closing brace, or NULL.
 */
static const char *json_obj(const char *p, const char *end, const char *key,
			    const char **obj_end)
{
	char pat[128];
	size_t plen = (size_t)snprintf(pat, sizeof(pat), "\"%s\"", key);

	for (; p && p < end; p++) {
		p = memmem(p, (size_t)(end - p), pat, plen);
		if (!p)
			return NULL;
		const char *q = p + plen;

		while (q < end && (*q == ' ' || *q == '\n' || *q == '\t'))
			q++;
		if (q >= end || *q != ':')
			continue;
		q++;
		while (q < end && (*q == ' ' || *q == '\n' || *q == '\t'))
			q++;
		if (q >= end || *q != '{')
			continue;
		int depth = 0;
		for (const char *e = q; e < end; e++) {
			if (*e == '{')
				depth++;
			else if (*e == '}' && --depth == 0) {
				*obj_end = e;
				return q;
			}
		}
		return NULL;
	}
	return NULL;
}

/* The number after the first "key" : in [p, end), or -1. */
static double json_num(const char *p, const char *end, const char *key)
{
	char pat[128];
	size_t plen = (size_t)snprintf(pat, sizeof(pat), "\"%s\"", key);

	if (!p)
		return -1;
	p = memmem(p, (size_t)(end - p), pat, plen);
	if (!p)
		return -1;
	p += plen;
	while (p < end && (*p == ' ' || *p == ':' || *p == '\n'))
		p++;
	return p < end ? strtod(p, NULL) : -1;
}

/* Run fio with args (NULL-terminated), stdout captured into *out
 * (malloc'ed, NUL-terminated).  Returns 0 or -1. */
static int run_fio(char *const args[], char **out)
{
	int pfd[2];
	pid_t pid;
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	int status;

	if (!buf || pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execvp("fio", args);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		if (len + 4096 > cap) {
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		ssize_t n = read(pfd[0], buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	buf[len] = 0;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "storage-bench: fio %s failed (exit %d)%s\n",
			args[1],
			WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			WIFEXITED(status) && WEXITSTATUS(status) == 127
				? ": is fio installed?" : "");
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

static void fio_seq(const struct opts *o, uint64_t bytes, struct fio_run *f)
{
	char file[4200], size[64];
	char *out;
	/* fio's default --fallocate=native: the file is preallocated, so
	 * its writes do not extend it.  Extending O_DIRECT writes are
	 * serialised by ext4 (about half the rate here): that cost belongs
	 * to the engine's choice of preparation, not to the disk limit. */
	char *args[] = { "fio", "--name=seq", "--ioengine=io_uring",
			 "--direct=1", "--rw=write", "--bs=1M",
			 "--iodepth=32", size, "--end_fsync=1", file,
			 "--output-format=json", NULL };

	snprintf(file, sizeof(file), "--filename=%s/fio-seq-%d.tmp", o->dir,
		 (int)getpid());
	snprintf(size, sizeof(size), "--size=%llu",
		 (unsigned long long)bytes);
	if (run_fio(args, &out) == 0) {
		const char *end = out + strlen(out), *we;
		const char *wo = json_obj(out, end, "write", &we);

		f->seq_mb_per_s = wo ? json_num(wo, we, "bw_bytes") / 1e6 : 0;
		free(out);
	}
	unlink(file + strlen("--filename="));
}

static void fio_sync(const struct opts *o, const char *bs, uint64_t bytes,
		     double *sync_p50_us, double *sync_p99_us,
		     double *write_p99_us)
{
	char file[4200], size[64], bsarg[32];
	char *out;
	char *args[] = { "fio", "--name=fsync", "--ioengine=io_uring",
			 "--direct=1", "--rw=write", bsarg, "--iodepth=1",
			 "--fdatasync=1", size, "--runtime=10",
			 "--fallocate=none", file, "--output-format=json",
			 NULL };

	snprintf(file, sizeof(file), "--filename=%s/fio-sync-%d.tmp", o->dir,
		 (int)getpid());
	snprintf(size, sizeof(size), "--size=%llu",
		 (unsigned long long)bytes);
	snprintf(bsarg, sizeof(bsarg), "--bs=%s", bs);
	if (run_fio(args, &out) == 0) {
		const char *end = out + strlen(out), *se, *we, *pe;
		const char *so = json_obj(out, end, "sync", &se);
		const char *wo = json_obj(out, end, "write", &we);
		const char *sp = so ? json_obj(so, se, "percentile", &pe) : NULL;

		if (sp) {
			*sync_p50_us = json_num(sp, pe, "50.000000") / 1e3;
			*sync_p99_us = json_num(sp, pe, "99.000000") / 1e3;
		}
		if (wo && write_p99_us) {
			const char *ce, *co = json_obj(wo, we, "clat_ns", &ce);
			const char *cp = co ? json_obj(co, ce, "percentile", &pe)
					    : NULL;
			*write_p99_us = cp ? json_num(cp, pe, "99.000000") / 1e3
					   : 0;
		}
		free(out);
	}
	unlink(file + strlen("--filename="));
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sluice-storage-bench [--dir DIR] [--bytes N] [--quick] "
		"[--reps N] [--json]\n"
		"         [--sync-cap-mib N] [--sync-cap-sec S] [--prepare "
		"append|fallocate|recycle]\n"
		"         [--segment-mib N] [--retention-mib N] [--no-fio] "
		"[--keep]\n"
		"  --dir DIR         where the logs (and fio's files) go; "
		"removed afterwards\n"
		"                    (default ./data/bench)\n"
		"  --bytes N         per case, K/M/G suffixes (default 4G)\n"
		"  --quick           256M per case, 32M for the one-at-a-time "
		"case\n"
		"  --reps N          repetitions, medians printed (default 1)\n"
		"  --sync-cap-mib N  16 KiB one-at-a-time case: at most N MiB "
		"(default 64)\n"
		"  --sync-cap-sec S  16 KiB per-append cases: at most S seconds "
		"(default 10)\n"
		"  --paced-mbps R    rate of the paced group-commit case "
		"(default 100)\n"
		"  --paced-sec S     its duration (default 5, --quick 2)\n"
		"  --prepare P       segment preparation (default: the "
		"engine's)\n"
		"  --segment-mib N   segment size (default: the engine's)\n"
		"  --retention-mib N keep about N MiB: older segments are "
		"deleted\n"
		"                    (recycled with the recycle preparation) "
		"during the run\n"
		"  --buffer-mib N    write buffer per log (default 32)\n"
		"  --chunk-kib N     write size once that much is pending "
		"(default 1024)\n"
		"  --group-kib N     group commit after that many bytes\n"
		"  --no-register     no registered buffers or files\n"
		"  --warm-mib N      append N MiB (untimed) before each case, "
		"applying\n"
		"                    retention, so segments are recycled\n"
		"  --no-fio          skip the fio peer (ratios are 0)\n"
		"  --json            one JSON object on stdout\n");
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "quick", no_argument, NULL, 'q' },
		{ "reps", required_argument, NULL, 'r' },
		{ "sync-cap-mib", required_argument, NULL, 'c' },
		{ "sync-cap-sec", required_argument, NULL, 'C' },
		{ "prepare", required_argument, NULL, 'p' },
		{ "segment-mib", required_argument, NULL, 's' },
		{ "retention-mib", required_argument, NULL, 'R' },
		{ "buffer-mib", required_argument, NULL, 'B' },
		{ "chunk-kib", required_argument, NULL, 'K' },
		{ "group-kib", required_argument, NULL, 'G' },
		{ "no-register", no_argument, NULL, 'N' },
		{ "warm-mib", required_argument, NULL, 'W' },
		{ "paced-mbps", required_argument, NULL, 'P' },
		{ "paced-sec", required_argument, NULL, 'T' },
		{ "no-fio", no_argument, NULL, 'n' },
		{ "keep", no_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool quick = false, bytes_set = false, cap_set = false;
	long long v;
	int c;

	o->dir = "./data/bench";
	o->bytes = 4ull << 30;
	o->sync_cap_bytes = 64ull << 20;
	o->sync_cap_sec = 10;
	o->reps = 1;
	o->paced_mbps = 100;
	o->paced_sec = 5;
	o->fio = true;
	o->prepare = -1;
	/* As deep a pipeline as fio's (1 MiB writes, 32 in flight): the
	 * settings of a high-throughput partition, not the engine's
	 * memory-saving defaults. */
	o->buffer_bytes = 32u << 20;
	o->chunk_bytes = 1u << 20;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'b':
			v = bench_parse_size(optarg);
			if (v <= 0) {
				fprintf(stderr, "storage-bench: bad --bytes\n");
				exit(2);
			}
			o->bytes = (uint64_t)v;
			bytes_set = true;
			break;
		case 'q':
			quick = true;
			break;
		case 'r':
			o->reps = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			o->sync_cap_bytes = strtoull(optarg, NULL, 10) << 20;
			cap_set = true;
			break;
		case 'C':
			o->sync_cap_sec = strtod(optarg, NULL);
			break;
		case 'p':
			if (!strcmp(optarg, "append"))
				o->prepare = SLOG_PREPARE_APPEND;
			else if (!strcmp(optarg, "fallocate"))
				o->prepare = SLOG_PREPARE_FALLOCATE;
			else if (!strcmp(optarg, "recycle"))
				o->prepare = SLOG_PREPARE_RECYCLE;
			else {
				fprintf(stderr, "storage-bench: --prepare "
						"append|fallocate|recycle\n");
				exit(2);
			}
			break;
		case 's':
			o->segment_bytes = strtoull(optarg, NULL, 10) << 20;
			break;
		case 'R':
			o->retention_bytes = strtoull(optarg, NULL, 10) << 20;
			break;
		case 'B':
			o->buffer_bytes = (uint32_t)(strtoul(optarg, NULL, 10) << 20);
			break;
		case 'K':
			o->chunk_bytes = (uint32_t)(strtoul(optarg, NULL, 10) << 10);
			break;
		case 'G':
			o->group_bytes = strtoull(optarg, NULL, 10) << 10;
			break;
		case 'N':
			o->no_register = true;
			break;
		case 'W':
			o->warm_bytes = strtoull(optarg, NULL, 10) << 20;
			break;
		case 'P':
			o->paced_mbps = strtod(optarg, NULL);
			break;
		case 'T':
			o->paced_sec = strtod(optarg, NULL);
			break;
		case 'n':
			o->fio = false;
			break;
		case 'k':
			o->keep = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (quick) {
		if (!bytes_set)
			o->bytes = 256ull << 20;
		if (!cap_set)
			o->sync_cap_bytes = 32ull << 20;
		if (o->sync_cap_sec > 5)
			o->sync_cap_sec = 5;
		if (o->paced_sec > 2)
			o->paced_sec = 2;
	}
	if (o->reps < 1 || o->reps > REPS_MAX || o->bytes < (1u << 20) ||
	    o->sync_cap_bytes < (16u << 10) || o->sync_cap_sec <= 0 ||
	    o->paced_mbps <= 0 || o->paced_sec <= 0) {
		fprintf(stderr, "storage-bench: need 1 <= --reps <= %u, "
				"--bytes >= 1M, --sync-cap-mib >= 1, "
				"--sync-cap-sec > 0\n", REPS_MAX);
		exit(2);
	}
}

#define MED(arr, n, field)                                                    \
	({                                                                    \
		double v_[REPS_MAX];                                          \
		for (unsigned i_ = 0; i_ < (n); i_++)                         \
			v_[i_] = (arr)[i_].field;                             \
		bench_median(v_, (n));                                        \
	})

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

int main(int argc, char **argv)
{
	static struct case_run runs[CASE_COUNT][REPS_MAX];
	static struct fio_run fios[REPS_MAX];
	static uint8_t tmpl[CASE_COUNT][(1u << 20) + 4096];
	size_t tmpl_len[CASE_COUNT];
	struct bench_env env;
	struct opts o = { 0 };
	char fs[512];
	uint64_t fio_bytes;
	unsigned n;

	parse_opts(argc, argv, &o);
	bench_env_init(&env, argc, argv);
	mkdir_p(o.dir);
	bench_fs_describe(o.dir, fs, sizeof(fs));
	/* Same amount, but at least 1 GiB (shorter runs are ramp-up
	 * dominated) and at most 4 GiB. */
	fio_bytes = o.bytes < (4ull << 30) ? o.bytes : 4ull << 30;
	if (fio_bytes < (1ull << 30))
		fio_bytes = 1ull << 30;
	n = o.reps;

	for (int ci = 0; ci < CASE_COUNT; ci++)
		tmpl_len[ci] = build_batch(tmpl[ci], sizeof(tmpl[ci]),
					   cases[ci].batch_bytes);
	st.cap = o.bytes / (16u << 10) + 2;
	st.start_ns = calloc(st.cap, sizeof(uint64_t));
	st.last_offset = calloc(st.cap, sizeof(int64_t));
	st.durable_ns = calloc(st.cap, sizeof(uint64_t));
	st.append_ns = calloc(st.cap, sizeof(uint64_t));
	if (!st.start_ns || !st.last_offset || !st.durable_ns || !st.append_ns)
		die("calloc", -ENOMEM);

	if (!o.json) {
		bench_env_print(stdout, &env);
		printf("# fs: %s\n", fs);
		char seg[32];

		if (o.segment_bytes)
			snprintf(seg, sizeof(seg), "%llu MiB",
				 (unsigned long long)(o.segment_bytes >> 20));
		else
			snprintf(seg, sizeof(seg), "engine default");
		printf("# dir %s, %llu MiB per case, reps %u, buffer %u MiB, "
		       "chunk %u KiB, prepare %s, segment %s\n",
		       o.dir, (unsigned long long)(o.bytes >> 20), o.reps,
		       o.buffer_bytes >> 20, o.chunk_bytes >> 10,
		       o.prepare < 0 ? "engine default" :
		       o.prepare == 0 ? "append" :
		       o.prepare == 1 ? "fallocate" : "recycle", seg);
		printf("# caps: 16k_every_append_qd1 at most %llu MiB; 16 KiB "
		       "per-append cases at most %.0f s; 16k_group_paced "
		       "%.0f MB/s for %.0f s\n",
		       (unsigned long long)(o.sync_cap_bytes >> 20),
		       o.sync_cap_sec, o.paced_mbps, o.paced_sec);
		printf("# fio: seq at max(1 GiB, min(bytes, 4 GiB)); "
		       "fdatasync runs 16k (at most 64 MiB) and 1M (256 MiB), "
		       "10 s max each\n");
		printf("# batch sizes built: 16 KiB -> %zu B, 1 MiB -> %zu B\n",
		       tmpl_len[CASE_16K_EVERY], tmpl_len[CASE_1M_EVERY]);
		fflush(stdout);
	}
	for (unsigned rep = 0; rep < n; rep++) {
		struct fio_run *f = &fios[rep];

		if (o.fio)
			fio_seq(&o, fio_bytes, f);
		for (int ci = 0; ci < CASE_COUNT; ci++) {
			struct case_run *r = &runs[ci][rep];

			run_case(&o, ci, rep, tmpl[ci], tmpl_len[ci], r);
			if (o.json)
				continue;
			printf("run %u %-20s %6llu MiB %6.2f s %8.1f MB/s "
			       "%9.0f batch/s durable p50/p99/p999 "
			       "%7.0f/%7.0f/%7.0f us, append p50 %5.1f us, "
			       "fsyncs %llu (avg %.0f max %.0f us), EFULL %llu, "
			       "segments %u%s\n",
			       rep, cases[ci].name,
			       (unsigned long long)(r->bytes >> 20), r->elapsed_s,
			       r->mb_per_s, r->batches_per_s, r->durable_p50_us,
			       r->durable_p99_us, r->durable_p999_us,
			       r->append_p50_us,
			       (unsigned long long)r->fsyncs, r->fsync_avg_us,
			       r->fsync_max_us,
			       (unsigned long long)r->full_errors, r->segments,
			       r->capped ? " (time cap)" : "");
			fflush(stdout);
		}
		if (o.fio) {
			fio_sync(&o, "16k", o.sync_cap_bytes < (64ull << 20) ?
						    o.sync_cap_bytes : 64ull << 20,
				 &f->sync16k_p50_us, &f->sync16k_p99_us,
				 &f->write16k_p99_us);
			fio_sync(&o, "1M", 256ull << 20, &f->sync1m_p50_us,
				 &f->sync1m_p99_us, NULL);
		}
		if (!o.json && o.fio) {
			printf("run %u fio seq 1M qd32 %.1f MB/s; fdatasync 16k "
			       "p50/p99 %.0f/%.0f us (write p99 %.0f us); "
			       "fdatasync 1M p50/p99 %.0f/%.0f us\n",
			       rep, f->seq_mb_per_s, f->sync16k_p50_us,
			       f->sync16k_p99_us, f->write16k_p99_us,
			       f->sync1m_p50_us, f->sync1m_p99_us);
			fflush(stdout);
		}
	}

	double fio_mb = MED(fios, n, seq_mb_per_s);
	double fio16_p99 = MED(fios, n, sync16k_p99_us);
	double fio1m_p99 = MED(fios, n, sync1m_p99_us);
	double head_mb = MED(runs[HEADLINE], n, mb_per_s);
	double head_p99 = MED(runs[HEADLINE], n, durable_p99_us);

	if (o.json) {
		printf("{\"bench\":\"storage\",");
		bench_env_json(stdout, &env);
		printf(",\"fs\":");
		bench_json_str(stdout, fs);
		printf(",\"dir\":");
		bench_json_str(stdout, o.dir);
		printf(",\"bytes_per_case\":%llu,\"sync_cap_bytes\":%llu,"
		       "\"sync_cap_s\":%.1f,\"reps\":%u,\"headline\":\"%s\","
		       "\"mb_per_s\":%.1f,\"fio_mb_per_s\":%.1f,"
		       "\"ratio_to_fio\":%.3f,\"p99_durable_us\":%.0f,"
		       "\"fio_fdatasync_16k_p50_us\":%.0f,"
		       "\"fio_fdatasync_16k_p99_us\":%.0f,"
		       "\"fio_write_16k_p99_us\":%.0f,"
		       "\"fio_fdatasync_1m_p50_us\":%.0f,"
		       "\"fio_fdatasync_1m_p99_us\":%.0f,\"cases\":[",
		       (unsigned long long)o.bytes,
		       (unsigned long long)o.sync_cap_bytes, o.sync_cap_sec, n,
		       cases[HEADLINE].name, head_mb, fio_mb,
		       ratio(head_mb, fio_mb), head_p99, MED(fios, n, sync16k_p50_us),
		       fio16_p99, MED(fios, n, write16k_p99_us),
		       MED(fios, n, sync1m_p50_us), fio1m_p99);
		for (int ci = 0; ci < CASE_COUNT; ci++) {
			struct case_run *rr = runs[ci];
			double mb = MED(rr, n, mb_per_s);
			double p99 = MED(rr, n, durable_p99_us);
			double fsync_p99 = cases[ci].batch_bytes < (1u << 20)
						   ? fio16_p99 : fio1m_p99;

			printf("%s{\"name\":\"%s\",\"batch_bytes\":%zu,"
			       "\"durability\":\"%s\",\"bytes\":%.0f,"
			       "\"batches\":%.0f,\"elapsed_s\":%.3f,"
			       "\"mb_per_s\":%.1f,\"batches_per_s\":%.0f,"
			       "\"ratio_to_fio\":%.3f,"
			       "\"p50_durable_us\":%.0f,\"p99_durable_us\":%.0f,"
			       "\"p999_durable_us\":%.0f,"
			       "\"append_p50_us\":%.2f,\"append_p99_us\":%.2f,"
			       "\"fsyncs\":%.0f,\"fsync_avg_us\":%.0f,"
			       "\"efull\":%.0f,\"capped\":%s",
			       ci ? "," : "", cases[ci].name, tmpl_len[ci],
			       cases[ci].durability == SLOG_SYNC_GROUP
				       ? "group" : "every_append",
			       MED(rr, n, bytes), MED(rr, n, batches),
			       MED(rr, n, elapsed_s), mb,
			       MED(rr, n, batches_per_s), ratio(mb, fio_mb),
			       MED(rr, n, durable_p50_us), p99,
			       MED(rr, n, durable_p999_us),
			       MED(rr, n, append_p50_us),
			       MED(rr, n, append_p99_us), MED(rr, n, fsyncs),
			       MED(rr, n, fsync_avg_us),
			       MED(rr, n, full_errors),
			       rr[0].capped ? "true" : "false");
			if (cases[ci].durability == SLOG_SYNC_EVERY_APPEND)
				printf(",\"p99_durable_to_fio_fdatasync_p99\":"
				       "%.2f",
				       ratio(p99, fsync_p99));
			printf("}");
		}
		printf("]}\n");
	} else {
		printf("\n# medians of %u rep(s); MB/s = 10^6 B/s from first "
		       "append to last batch durable\n", n);
		printf("%-20s %8s %9s %10s %7s %9s %9s %9s %8s %9s\n", "case",
		       "MiB", "MB/s", "batch/s", "/fio", "p50_us", "p99_us",
		       "p999_us", "fsyncs", "p99/fsync");
		for (int ci = 0; ci < CASE_COUNT; ci++) {
			struct case_run *rr = runs[ci];
			double mb = MED(rr, n, mb_per_s);
			double p99 = MED(rr, n, durable_p99_us);
			double fsync_p99 = cases[ci].batch_bytes < (1u << 20)
						   ? fio16_p99 : fio1m_p99;

			printf("%-20s %8.0f %9.1f %10.0f %7.3f %9.0f %9.0f %9.0f "
			       "%8.0f ",
			       cases[ci].name, MED(rr, n, bytes) / 1048576.0, mb,
			       MED(rr, n, batches_per_s), ratio(mb, fio_mb),
			       MED(rr, n, durable_p50_us), p99,
			       MED(rr, n, durable_p999_us), MED(rr, n, fsyncs));
			if (cases[ci].durability == SLOG_SYNC_EVERY_APPEND)
				printf("%9.2f", ratio(p99, fsync_p99));
			else
				printf("%9s", "-");
			printf("%s\n", rr[0].capped ? "  (time cap hit)" : "");
		}
		printf("\nfio: seq 1M qd32 %.1f MB/s; fdatasync after 16k write "
		       "p50/p99 %.0f/%.0f us; after 1M write p50/p99 %.0f/%.0f "
		       "us\n",
		       fio_mb, MED(fios, n, sync16k_p50_us), fio16_p99,
		       MED(fios, n, sync1m_p50_us), fio1m_p99);
		printf("headline (%s): %.1f MB/s, ratio to fio %.3f, p99 "
		       "append-to-durable %.0f us\n",
		       cases[HEADLINE].name, head_mb, ratio(head_mb, fio_mb),
		       head_p99);
	}
	free(st.start_ns);
	free(st.last_offset);
	free(st.durable_ns);
	free(st.append_ns);
	return 0;
}
