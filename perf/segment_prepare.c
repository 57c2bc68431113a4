/*
 * sluice-segment-prepare-bench: how should a new segment file be prepared
 * on this filesystem for the log's write pattern (sequential, 4 KiB-aligned
 * O_DIRECT writes through io_uring, made durable with fdatasync)?
 *
 * Three preparations of a segment of --mib MiB:
 *   append     an empty file; every write extends it, so every fdatasync
 *              also writes the new size and block allocation (a journal
 *              commit on journaled ext4; on the development VM's ext4,
 *              which has no journal, synchronous inode and extent block
 *              writes: the "# fs:" line says which);
 *   fallocate  fallocate(0, segment) then fsync: the blocks are allocated
 *              as unwritten extents, and each fdatasync after a write must
 *              also persist the unwritten->written conversion;
 *   recycle    a file written in full earlier (zeros) and fsynced, i.e. a
 *              segment freed by retention and reused: overwriting it in
 *              place changes no metadata, so fdatasync only flushes the
 *              device cache.
 * Two write patterns on each:
 *   sync16k    16 KiB write, then fdatasync, one at a time (acks=all with
 *              small produce requests).  At most --sync-mib MiB or
 *              --sync-sec seconds per run, whichever comes first.
 *              Reports write+fdatasync latency p50/p99/p999 and MB/s.
 *   bulk1m     1 MiB writes, 8 in flight, an fdatasync whenever 8 MiB
 *              more have completed (group commit), the whole segment.
 *              Writes keep flowing while a sync is in flight (one sync in
 *              flight at a time, so a slow sync covers more than 8 MiB).
 *   bulk1m_drain  the same, but writing stops while each sync runs: one
 *              sync per 8 MiB exactly (fio's --fdatasync=8 behaviour).
 *              Both report MB/s (including the final sync) and fdatasync
 *              p50/p99.
 * Preparation time (create + fsync dir, fallocate + fsync, or the full
 * zero-fill + fsync) is reported separately and is not part of MB/s: a
 * recycled segment's cost was paid by the data it held before.
 *
 * Each (preparation, pattern) runs --reps times, interleaved so that the
 * disk's drift hits every case alike, on a fresh file that is removed (and
 * the removal synced) afterwards; medians are printed.
 *
 * Failure modes: any I/O error or short write that cannot be completed
 * aborts the run with a message (exit 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"

#define ALIGN_BYTES 4096u
#define SMALL_BYTES (16u << 10)
#define BULK_BYTES (1u << 20)
#define BULK_DEPTH 8u
#define BULK_SYNC_BYTES (8u << 20)
#define REPS_MAX 64u

enum prep { PREP_APPEND, PREP_FALLOCATE, PREP_RECYCLE, PREP_COUNT };
enum pattern { PAT_SYNC16K, PAT_BULK1M, PAT_BULK1M_DRAIN, PAT_COUNT };

static const char *const prep_names[PREP_COUNT] = {
	"append", "fallocate", "recycle",
};
static const char *const pattern_names[PAT_COUNT] = {
	"sync16k", "bulk1m", "bulk1m_drain",
};

struct opts {
	const char *dir;
	uint64_t segment_bytes;
	uint64_t sync_bytes_max; /* sync16k cap */
	double sync_sec_max;     /* sync16k cap */
	unsigned reps;
	bool json;
	bool keep;
};

/* One run of one (preparation, pattern). */
struct run {
	double prep_ms;
	double mb_per_s;
	uint64_t bytes;
	double elapsed_s;
	/* sync16k: write+fdatasync; bulk: write submit to covering sync */
	double op_p50_us, op_p99_us, op_p999_us;
	double write_p50_us; /* sync16k: the write alone */
	/* fdatasync alone (both patterns) */
	double sync_p50_us, sync_p99_us, sync_p999_us, sync_max_us;
	unsigned syncs;
};

static struct io_uring ring;
static uint8_t *wbuf;       /* BULK_BYTES, aligned, random bytes */
static uint8_t *zbuf;       /* BULK_BYTES of zeros, aligned */
static uint64_t *lat_op;    /* per-op latencies, ns */
static uint64_t *lat_write;
static uint64_t *lat_sync;
static size_t lat_cap;

static void die(const char *what, int err)
{
	fprintf(stderr, "segment-prepare: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Submit what is queued and wait for one completion; returns its res. */
static int wait_one(uint64_t *user_data)
{
	struct io_uring_cqe *cqe;
	int rc = io_uring_submit_and_wait(&ring, 1);

	if (rc < 0)
		die("io_uring_submit_and_wait", -rc);
	rc = io_uring_wait_cqe(&ring, &cqe);
	if (rc < 0)
		die("io_uring_wait_cqe", -rc);
	if (user_data)
		*user_data = cqe->user_data;
	rc = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return rc;
}

static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (!sqe) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	assert(sqe);
	return sqe;
}

/* Write len bytes at off synchronously through the ring, short writes
 * resubmitted. */
static void write_full(int fd, const uint8_t *buf, uint32_t len, uint64_t off)
{
	uint32_t done = 0;

	while (done < len) {
		struct io_uring_sqe *sqe = get_sqe();
		int res;

		io_uring_prep_write(sqe, fd, buf + done, len - done, off + done);
		res = wait_one(NULL);
		if (res < 0)
			die("write", -res);
		if (res == 0)
			die("write returned 0", EIO);
		done += (uint32_t)res;
		/* O_DIRECT needs the remainder aligned too. */
		assert(done == len || done % ALIGN_BYTES == 0);
	}
}

static uint64_t datasync(int fd)
{
	uint64_t t0 = bench_now_ns();
	struct io_uring_sqe *sqe = get_sqe();
	int res;

	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	res = wait_one(NULL);
	if (res < 0)
		die("fdatasync", -res);
	return bench_now_ns() - t0;
}

static int open_segment(const char *path, bool create)
{
	int fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC |
				    (create ? O_CREAT | O_TRUNC : 0),
		      0644);

	if (fd < 0)
		die(path, errno);
	return fd;
}

static void sync_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		die(dir, errno);
	if (fsync(dfd) < 0)
		die("fsync(dir)", errno);
	close(dfd);
}

/*
 * Fill the whole file with zeros (1 MiB writes, BULK_DEPTH in flight) and
 * fsync it: what a segment that held data before looks like.
 */
static void prewrite(int fd, uint64_t bytes)
{
	uint64_t next = 0, done = 0;
	unsigned inflight = 0;

	while (done < bytes) {
		while (inflight < BULK_DEPTH && next < bytes) {
			struct io_uring_sqe *sqe = get_sqe();
			uint32_t len = (uint32_t)(bytes - next < BULK_BYTES ?
						  bytes - next : BULK_BYTES);

			io_uring_prep_write(sqe, fd, zbuf, len, next);
			io_uring_sqe_set_data64(sqe, len);
			next += len;
			inflight++;
		}
		uint64_t len;
		int res = wait_one(&len);
		if (res < 0)
			die("prewrite", -res);
		/* A short write would leave a hole in the zero-fill: the
		 * preparation this run measures would be wrong. */
		if ((uint64_t)res != len)
			die("prewrite: short write", EIO);
		done += len;
		inflight--;
	}
	if (fsync(fd) < 0)
		die("fsync", errno);
}

/* Create and prepare the segment; returns its fd (O_DIRECT) and the ms
 * spent preparing. */
static int prepare(const struct opts *o, enum prep p, const char *path,
		   double *prep_ms)
{
	uint64_t t0 = bench_now_ns();
	int fd = open_segment(path, true);

	switch (p) {
	case PREP_APPEND:
		break;
	case PREP_FALLOCATE:
		if (fallocate(fd, 0, 0, (off_t)o->segment_bytes) < 0)
			die("fallocate", errno);
		if (fsync(fd) < 0)
			die("fsync", errno);
		break;
	case PREP_RECYCLE:
		prewrite(fd, o->segment_bytes);
		/* Reopen, as a recycled file would be. */
		close(fd);
		fd = open_segment(path, false);
		break;
	default:
		assert(!"unknown preparation");
	}
	sync_dir(o->dir);
	*prep_ms = (double)(bench_now_ns() - t0) / 1e6;
	return fd;
}

static void run_sync16k(const struct opts *o, int fd, struct run *r)
{
	uint64_t cap = o->sync_bytes_max < o->segment_bytes ?
			       o->sync_bytes_max : o->segment_bytes;
	uint64_t t_end = bench_now_ns() + (uint64_t)(o->sync_sec_max * 1e9);
	uint64_t t0 = bench_now_ns(), off = 0;
	size_t n = 0;

	while (off + SMALL_BYTES <= cap && n < lat_cap) {
		uint64_t a = bench_now_ns(), b, c;

		write_full(fd, wbuf, SMALL_BYTES, off);
		b = bench_now_ns();
		c = b + datasync(fd);
		lat_write[n] = b - a;
		lat_sync[n] = c - b;
		lat_op[n] = c - a;
		n++;
		off += SMALL_BYTES;
		if (c >= t_end)
			break;
	}
	r->elapsed_s = (double)(bench_now_ns() - t0) / 1e9;
	r->bytes = off;
	r->syncs = (unsigned)n;
	r->mb_per_s = (double)off / 1e6 / r->elapsed_s;
	qsort(lat_op, n, sizeof(*lat_op), bench_cmp_u64);
	qsort(lat_write, n, sizeof(*lat_write), bench_cmp_u64);
	qsort(lat_sync, n, sizeof(*lat_sync), bench_cmp_u64);
	r->op_p50_us = (double)bench_pct_sorted(lat_op, n, 0.50) / 1e3;
	r->op_p99_us = (double)bench_pct_sorted(lat_op, n, 0.99) / 1e3;
	r->op_p999_us = (double)bench_pct_sorted(lat_op, n, 0.999) / 1e3;
	r->write_p50_us = (double)bench_pct_sorted(lat_write, n, 0.50) / 1e3;
	r->sync_p50_us = (double)bench_pct_sorted(lat_sync, n, 0.50) / 1e3;
	r->sync_p99_us = (double)bench_pct_sorted(lat_sync, n, 0.99) / 1e3;
	r->sync_p999_us = (double)bench_pct_sorted(lat_sync, n, 0.999) / 1e3;
	r->sync_max_us = n ? (double)lat_sync[n - 1] / 1e3 : 0;
}

#define TAG_SYNC UINT64_MAX

/*
 * 1 MiB writes, BULK_DEPTH in flight, an fdatasync whenever 8 MiB more
 * have completed since the last one was issued (one sync in flight at a
 * time; marks crossed meanwhile are covered by the next).  With drain,
 * no write past the next 8 MiB boundary is issued until the sync for it
 * has completed.  Writes are tagged with their offset so a short write can
 * be resubmitted.  Each write's durable latency runs from its submission
 * to the completion of the first sync issued after it completed.
 */
static void run_bulk1m(const struct opts *o, int fd, bool drain,
		       struct run *r)
{
	uint64_t bytes = o->segment_bytes, next = 0, done = 0;
	uint64_t synced_mark = 0, sync_t0 = 0, t0 = bench_now_ns();
	unsigned inflight = 0;
	bool sync_inflight = false;
	size_t ns = 0, nd = 0, n_pending = 0, n_covered = 0;
	size_t nwrites = (size_t)((bytes + BULK_BYTES - 1) / BULK_BYTES);
	/* lat_write: submit time per write; lat_op: durable latencies;
	 * idx_pending: completed, not yet under a sync; idx_covered: under
	 * the sync in flight. */
	static uint32_t *idx_pending, *idx_covered;
	static size_t idx_cap;

	assert(nwrites <= lat_cap);
	if (idx_cap < nwrites) {
		free(idx_pending);
		free(idx_covered);
		idx_pending = calloc(nwrites, sizeof(*idx_pending));
		idx_covered = calloc(nwrites, sizeof(*idx_covered));
		if (!idx_pending || !idx_covered)
			die("calloc", ENOMEM);
		idx_cap = nwrites;
	}
	while (done < bytes || synced_mark < bytes || sync_inflight) {
		bool want_sync = !sync_inflight &&
				 (done - synced_mark >= BULK_SYNC_BYTES ||
				  (done == bytes && synced_mark < bytes));
		uint64_t write_limit = bytes;

		if (drain) {
			/* Up to the next boundary after the last sync. */
			write_limit = sync_inflight ? synced_mark :
				      synced_mark + BULK_SYNC_BYTES;
			if (write_limit > bytes)
				write_limit = bytes;
		}
		if (want_sync && (!drain || inflight == 0)) {
			struct io_uring_sqe *sqe = get_sqe();

			io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
			io_uring_sqe_set_data64(sqe, TAG_SYNC);
			sync_inflight = true;
			sync_t0 = bench_now_ns();
			/* The sync covers every write completed so far. */
			synced_mark = done;
			memcpy(idx_covered, idx_pending,
			       n_pending * sizeof(*idx_pending));
			n_covered = n_pending;
			n_pending = 0;
		}
		while (inflight < BULK_DEPTH && next < write_limit) {
			struct io_uring_sqe *sqe = get_sqe();
			uint32_t len = (uint32_t)(bytes - next < BULK_BYTES ?
						  bytes - next : BULK_BYTES);

			io_uring_prep_write(sqe, fd, wbuf, len, next);
			io_uring_sqe_set_data64(sqe, next << 21 | len);
			lat_write[next / BULK_BYTES] = bench_now_ns();
			next += len;
			inflight++;
		}
		if (!inflight && !sync_inflight)
			continue; /* the sync is issued next round */

		uint64_t tag;
		int res = wait_one(&tag);

		if (tag == TAG_SYNC) {
			uint64_t now = bench_now_ns();

			if (res < 0)
				die("fdatasync", -res);
			assert(ns < lat_cap);
			lat_sync[ns++] = now - sync_t0;
			for (size_t i = 0; i < n_covered; i++)
				lat_op[nd++] = now - lat_write[idx_covered[i]];
			n_covered = 0;
			sync_inflight = false;
			continue;
		}
		if (res < 0)
			die("write", -res);
		uint32_t len = (uint32_t)(tag & ((1u << 21) - 1));
		uint64_t off = tag >> 21;

		if ((uint32_t)res < len) {
			/* Short write: resubmit the rest, stays in flight. */
			struct io_uring_sqe *sqe = get_sqe();

			if (res == 0 || res % ALIGN_BYTES)
				die("short unaligned write", EIO);
			io_uring_prep_write(sqe, fd, wbuf + res, len - (uint32_t)res,
					    off + (uint64_t)res);
			io_uring_sqe_set_data64(sqe, (off + (uint64_t)res) << 21 |
							     (len - (uint32_t)res));
			done += (uint64_t)res;
			continue;
		}
		done += len;
		inflight--;
		assert(n_pending < nwrites);
		idx_pending[n_pending++] = (uint32_t)(off / BULK_BYTES);
	}
	assert(done == bytes && synced_mark == bytes && nd == nwrites);
	r->elapsed_s = (double)(bench_now_ns() - t0) / 1e9;
	r->bytes = bytes;
	r->syncs = (unsigned)ns;
	r->mb_per_s = (double)bytes / 1e6 / r->elapsed_s;
	qsort(lat_sync, ns, sizeof(*lat_sync), bench_cmp_u64);
	qsort(lat_op, nd, sizeof(*lat_op), bench_cmp_u64);
	r->op_p50_us = (double)bench_pct_sorted(lat_op, nd, 0.50) / 1e3;
	r->op_p99_us = (double)bench_pct_sorted(lat_op, nd, 0.99) / 1e3;
	r->op_p999_us = (double)bench_pct_sorted(lat_op, nd, 0.999) / 1e3;
	r->sync_p50_us = (double)bench_pct_sorted(lat_sync, ns, 0.50) / 1e3;
	r->sync_p99_us = (double)bench_pct_sorted(lat_sync, ns, 0.99) / 1e3;
	r->sync_p999_us = (double)bench_pct_sorted(lat_sync, ns, 0.999) / 1e3;
	r->sync_max_us = ns ? (double)lat_sync[ns - 1] / 1e3 : 0;
}

static void run_case(const struct opts *o, enum prep p, enum pattern pat,
		     struct run *r)
{
	char path[4096];
	int fd;

	memset(r, 0, sizeof(*r));
	snprintf(path, sizeof(path), "%s/segment-prepare-%s-%s.bench", o->dir,
		 prep_names[p], pattern_names[pat]);
	fd = prepare(o, p, path, &r->prep_ms);
	if (pat == PAT_SYNC16K)
		run_sync16k(o, fd, r);
	else
		run_bulk1m(o, fd, pat == PAT_BULK1M_DRAIN, r);
	close(fd);
	if (!o->keep) {
		if (unlink(path) < 0)
			die("unlink", errno);
		/* Let the freed extents (and the discards of a "discard"
		 * mount) settle before the next case starts. */
		sync_dir(o->dir);
		int dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			syncfs(dfd);
			close(dfd);
		}
	}
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sluice-segment-prepare-bench [--dir DIR] [--mib N] "
		"[--reps N]\n"
		"         [--sync-mib N] [--sync-sec S] [--keep] [--json]\n"
		"  --dir DIR      directory on the filesystem to test "
		"(default ./data/bench)\n"
		"  --mib N        segment size in MiB (default 256)\n"
		"  --reps N       repetitions, medians printed (default 3)\n"
		"  --sync-mib N   cap of the 16 KiB write+fdatasync run "
		"(default 64)\n"
		"  --sync-sec S   time cap of that run (default 4)\n"
		"  --keep         keep the files (debugging)\n"
		"  --json         one JSON object on stdout instead of tables\n");
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "mib", required_argument, NULL, 'm' },
		{ "reps", required_argument, NULL, 'r' },
		{ "sync-mib", required_argument, NULL, 's' },
		{ "sync-sec", required_argument, NULL, 'S' },
		{ "keep", no_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->dir = "./data/bench";
	o->segment_bytes = 256ull << 20;
	o->sync_bytes_max = 64ull << 20;
	o->sync_sec_max = 4.0;
	o->reps = 3;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'm':
			o->segment_bytes = strtoull(optarg, NULL, 10) << 20;
			break;
		case 'r':
			o->reps = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o->sync_bytes_max = strtoull(optarg, NULL, 10) << 20;
			break;
		case 'S':
			o->sync_sec_max = strtod(optarg, NULL);
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
	if (o->segment_bytes < BULK_SYNC_BYTES || o->reps < 1 ||
	    o->reps > REPS_MAX || o->sync_bytes_max < SMALL_BYTES ||
	    o->sync_sec_max <= 0) {
		fprintf(stderr, "segment-prepare: --mib >= 8, 1 <= --reps <= "
				"%u, --sync-mib >= 1, --sync-sec > 0\n",
			REPS_MAX);
		exit(2);
	}
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
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		die(dir, errno);
}

/* Median of one field over the reps of one case. */
#define MED(runs, n, field)                                                   \
	({                                                                    \
		double v_[REPS_MAX];                                          \
		for (unsigned i_ = 0; i_ < (n); i_++)                         \
			v_[i_] = (runs)[i_].field;                            \
		bench_median(v_, (n));                                        \
	})

int main(int argc, char **argv)
{
	static struct run runs[PREP_COUNT][PAT_COUNT][REPS_MAX];
	struct bench_env env;
	struct opts o = { 0 };
	uint64_t t_start;
	int rc;

	parse_opts(argc, argv, &o);
	bench_env_init(&env, argc, argv);
	mkdir_p(o.dir);

	rc = io_uring_queue_init(64, &ring, 0);
	if (rc < 0)
		die("io_uring_queue_init", -rc);
	if (posix_memalign((void **)&wbuf, ALIGN_BYTES, BULK_BYTES) ||
	    posix_memalign((void **)&zbuf, ALIGN_BYTES, BULK_BYTES))
		die("posix_memalign", ENOMEM);
	srand(42);
	for (size_t i = 0; i < BULK_BYTES; i++)
		wbuf[i] = (uint8_t)rand();
	memset(zbuf, 0, BULK_BYTES);
	lat_cap = o.segment_bytes / SMALL_BYTES + 1;
	lat_op = calloc(lat_cap, sizeof(*lat_op));
	lat_write = calloc(lat_cap, sizeof(*lat_write));
	lat_sync = calloc(lat_cap, sizeof(*lat_sync));
	if (!lat_op || !lat_write || !lat_sync)
		die("calloc", ENOMEM);

	if (!o.json) {
		bench_env_print(stdout, &env);
		printf("# dir %s, segment %llu MiB, reps %u, sync16k capped at "
		       "%llu MiB or %.1f s per run\n",
		       o.dir, (unsigned long long)(o.segment_bytes >> 20),
		       o.reps, (unsigned long long)(o.sync_bytes_max >> 20),
		       o.sync_sec_max);
		char fs[512];

		bench_fs_describe(o.dir, fs, sizeof(fs));
		printf("# fs: %s\n", fs);
		printf("# per run: rep prep pattern prep_ms MB/s durable "
		       "p50/p99/p999 us, sync p50/p99/max us, syncs\n"
		       "# durable: sync16k write+fdatasync; bulk from a "
		       "write's submission to the end of the sync covering it\n");
		fflush(stdout);
	}
	t_start = bench_now_ns();
	for (unsigned rep = 0; rep < o.reps; rep++) {
		for (int pat = 0; pat < PAT_COUNT; pat++) {
			for (int p = 0; p < PREP_COUNT; p++) {
				struct run *r = &runs[p][pat][rep];

				run_case(&o, (enum prep)p, (enum pattern)pat, r);
				if (o.json)
					continue;
				printf("run %u %-9s %-12s prep %7.1f ms %7.1f "
				       "MB/s",
				       rep, prep_names[p], pattern_names[pat],
				       r->prep_ms, r->mb_per_s);
				printf(" durable %6.0f/%6.0f/%6.0f", r->op_p50_us,
				       r->op_p99_us, r->op_p999_us);
				printf(" sync %7.0f/%7.0f/%7.0f us %5u\n",
				       r->sync_p50_us, r->sync_p99_us,
				       r->sync_max_us, r->syncs);
				fflush(stdout);
			}
		}
	}
	double total_s = (double)(bench_now_ns() - t_start) / 1e9;
	unsigned n = o.reps;

	if (o.json) {
		printf("{\"bench\":\"segment_prepare\",");
		bench_env_json(stdout, &env);
		printf(",\"dir\":");
		bench_json_str(stdout, o.dir);
		char fs[512];

		bench_fs_describe(o.dir, fs, sizeof(fs));
		printf(",\"fs\":");
		bench_json_str(stdout, fs);
		printf(",\"segment_mib\":%llu,\"reps\":%u,\"sync16k_cap_mib\":"
		       "%llu,\"sync16k_cap_s\":%.1f,"
		       "\"total_s\":%.1f,\"cases\":[",
		       (unsigned long long)(o.segment_bytes >> 20), o.reps,
		       (unsigned long long)(o.sync_bytes_max >> 20),
		       o.sync_sec_max, total_s);
		const char *sep = "";
		for (int pat = 0; pat < PAT_COUNT; pat++) {
			for (int p = 0; p < PREP_COUNT; p++) {
				struct run *rr = runs[p][pat];

				printf("%s{\"prep\":\"%s\",\"pattern\":\"%s\","
				       "\"prep_ms\":%.1f,\"mb_per_s\":%.1f,"
				       "\"bytes\":%.0f,\"syncs\":%.0f,"
				       "\"sync_p50_us\":%.0f,\"sync_p99_us\":%.0f,"
				       "\"sync_p999_us\":%.0f",
				       sep, prep_names[p], pattern_names[pat],
				       MED(rr, n, prep_ms), MED(rr, n, mb_per_s),
				       MED(rr, n, bytes), MED(rr, n, syncs),
				       MED(rr, n, sync_p50_us),
				       MED(rr, n, sync_p99_us),
				       MED(rr, n, sync_p999_us));
				printf(",\"durable_p50_us\":%.0f,"
				       "\"durable_p99_us\":%.0f,"
				       "\"durable_p999_us\":%.0f",
				       MED(rr, n, op_p50_us),
				       MED(rr, n, op_p99_us),
				       MED(rr, n, op_p999_us));
				if (pat == PAT_SYNC16K)
					printf(",\"write_p50_us\":%.0f",
					       MED(rr, n, write_p50_us));
				printf("}");
				sep = ",";
			}
		}
		printf("]}\n");
	} else {
		printf("\n# medians of %u reps (total run %.1f s)\n", n, total_s);
		printf("\n## sync16k: 16 KiB write + fdatasync, one at a time "
		       "(capped at %llu MiB or %.1f s per run)\n",
		       (unsigned long long)(o.sync_bytes_max >> 20),
		       o.sync_sec_max);
		printf("%-10s %10s %8s %9s %9s %9s %10s %10s %10s %7s\n", "prep",
		       "prep_ms", "MB/s", "p50_us", "p99_us", "p999_us",
		       "write_p50", "sync_p50", "sync_p99", "ops");
		for (int p = 0; p < PREP_COUNT; p++) {
			struct run *rr = runs[p][PAT_SYNC16K];

			printf("%-10s %10.1f %8.1f %9.0f %9.0f %9.0f %10.0f "
			       "%10.0f %10.0f %7.0f\n",
			       prep_names[p], MED(rr, n, prep_ms),
			       MED(rr, n, mb_per_s), MED(rr, n, op_p50_us),
			       MED(rr, n, op_p99_us), MED(rr, n, op_p999_us),
			       MED(rr, n, write_p50_us), MED(rr, n, sync_p50_us),
			       MED(rr, n, sync_p99_us), MED(rr, n, syncs));
		}
		for (int pat = PAT_BULK1M; pat < PAT_COUNT; pat++) {
		printf("\n## %s: 1 MiB writes, iodepth %u, fdatasync every "
		       "%u MiB (%s), %llu MiB\n",
		       pattern_names[pat], BULK_DEPTH, BULK_SYNC_BYTES >> 20,
		       pat == PAT_BULK1M_DRAIN ? "writes stop during the sync"
					       : "writes overlap the sync",
		       (unsigned long long)(o.segment_bytes >> 20));
		printf("%-10s %10s %8s %9s %9s %10s %10s %10s %7s\n", "prep",
		       "prep_ms", "MB/s", "dur_p50", "dur_p99", "sync_p50",
		       "sync_p99", "sync_max", "syncs");
		for (int p = 0; p < PREP_COUNT; p++) {
			struct run *rr = runs[p][pat];

			printf("%-10s %10.1f %8.1f %9.0f %9.0f %10.0f %10.0f "
			       "%10.0f %7.0f\n",
			       prep_names[p], MED(rr, n, prep_ms),
			       MED(rr, n, mb_per_s), MED(rr, n, op_p50_us),
			       MED(rr, n, op_p99_us), MED(rr, n, sync_p50_us),
			       MED(rr, n, sync_p99_us), MED(rr, n, sync_max_us),
			       MED(rr, n, syncs));
		}
		}
	}
	io_uring_queue_exit(&ring);
	free(lat_op);
	free(lat_write);
	free(lat_sync);
	free(wbuf);
	free(zbuf);
	return 0;
}
