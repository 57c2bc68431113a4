/*
 * tl: helpers shared by sluice's tests.  See tl.h for the contract.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tl.h"

const char *tl_errname(long long rc)
{
	static __thread char buf[32];
	switch (rc) {
#define TL_ERRCASE(name, value, msg)                                         \
	case value:                                                          \
		return #name;
		SL_ERRORS(TL_ERRCASE)
#undef TL_ERRCASE
	case -ENOSPC: return "-ENOSPC";
	case -ENOBUFS: return "-ENOBUFS";
	case -EIO: return "-EIO";
	case -ENOENT: return "-ENOENT";
	case -EINVAL: return "-EINVAL";
	case -ENOMEM: return "-ENOMEM";
	case -EEXIST: return "-EEXIST";
	case -ENOTSUP: return "-ENOTSUP";
	default:
		break;
	}
	if (rc < 0 && rc > -4096) {
		snprintf(buf, sizeof(buf), "-errno %lld", -rc);
		return buf;
	}
	return "";
}

/* ---- seeds and randomness ---- */

uint64_t tl_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t tl_seed(const char *test_name)
{
	const char *env = getenv("SLUICE_SEED");
	uint64_t seed;
	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = tl_mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
			      ((uint64_t)getpid() << 40));
		seed &= 0xffffffffffffull; /* short enough to type */
	}
	printf("%s: seed %" PRIu64 " (replay: SLUICE_SEED=%" PRIu64 ")%s\n",
	       test_name, seed, seed, tl_long() ? " SLUICE_LONG=1" : "");
	fflush(stdout);
	return seed;
}

int tl_long(void)
{
	const char *env = getenv("SLUICE_LONG");
	return env && strcmp(env, "1") == 0;
}

void tl_rng_init(struct tl_rng *r, uint64_t seed)
{
	r->s = seed;
}

uint64_t tl_rng_next(struct tl_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ull;
	uint64_t x = r->s;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t tl_rng_below(struct tl_rng *r, uint64_t n)
{
	return n ? tl_rng_next(r) % n : 0;
}

int64_t tl_rng_range(struct tl_rng *r, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)tl_rng_below(r, (uint64_t)(hi - lo) + 1);
}

/* ---- directories ---- */

int tl_tmpdir(char *out, const char *tag)
{
	const char *base = getenv("SLUICE_TEST_TMPDIR");
	if (!base || !*base)
		base = "/var/tmp";
	snprintf(out, PATH_MAX, "%s/tl-%s-XXXXXX", base, tag);
	if (!mkdtemp(out))
		return -errno;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int tl_rmrf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0)
		return errno ? -errno : -EIO;
	return 0;
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (out < 0) {
		int rc = -errno;
		close(in);
		return rc;
	}
	char buf[65536];
	int rc = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		if (write(out, buf, (size_t)n) != n) {
			rc = -EIO;
			break;
		}
	}
	close(in);
	close(out);
	return rc;
}

int tl_copy_tree(const char *src, const char *dst)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return copy_file(src, dst, st.st_mode & 0777);
	if (mkdir(dst, 0755) < 0)
		return -errno;
	DIR *d = opendir(src);
	if (!d)
		return -errno;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char s[PATH_MAX], t[PATH_MAX];
		tl_pathf(s, "%s/%s", src, e->d_name);
		tl_pathf(t, "%s/%s", dst, e->d_name);
		rc = tl_copy_tree(s, t);
	}
	closedir(d);
	return rc;
}

void tl_pathf(char *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX) {
		fprintf(stderr, "tl_pathf: path too long\n");
		abort();
	}
}

void tl_partition_dir(char *out, const char *base, const char *topic,
		      int32_t partition)
{
	tl_pathf(out, "%s/%s-%d", base, topic, (int)partition);
}

void tl_segment_path(char *out, const char *pdir, int64_t base,
		     const char *ext)
{
	tl_pathf(out, "%s/%020lld%s", pdir, (long long)base, ext);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int tl_list_segments(const char *pdir, int64_t *bases, int cap)
{
	DIR *d = opendir(pdir);
	if (!d)
		return -errno;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len != 24 || strcmp(e->d_name + 20, ".log") != 0)
			continue;
		if (n < cap)
			bases[n] = strtoll(e->d_name, NULL, 10);
		n++;
	}
	closedir(d);
	if (n > cap)
		n = cap;
	qsort(bases, (size_t)n, sizeof(*bases), cmp_i64);
	return n;
}

long long tl_file_size(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	return (long long)st.st_size;
}

long long tl_read_file(const char *path, uint8_t **out)
{
	long long size = tl_file_size(path);
	if (size < 0)
		return size;
	uint8_t *buf = malloc((size_t)size + 1);
	if (!buf)
		return -ENOMEM;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	long long got = 0;
	while (got < size) {
		ssize_t n = pread(fd, buf + got, (size_t)(size - got), got);
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	*out = buf;
	return got;
}

/* ---- fake clock ---- */

static uint64_t fake_mono_ns(void *ctx)
{
	struct tl_clock *c = ctx;
	c->mono_calls++;
	return c->mono_ns;
}

static int64_t fake_wall_ms(void *ctx)
{
	struct tl_clock *c = ctx;
	c->wall_calls++;
	return c->wall_ms;
}

void tl_clock_init(struct tl_clock *c)
{
	memset(c, 0, sizeof(*c));
	c->sl.mono_ns = fake_mono_ns;
	c->sl.wall_ms = fake_wall_ms;
	c->sl.ctx = c;
	c->mono_ns = 1000000000ull;
	c->wall_ms = 1700000000000ll;
}

/* ---- batch generation ---- */

static void fill_bytes(uint8_t *p, size_t n, uint64_t seed)
{
	struct tl_rng r;
	tl_rng_init(&r, seed);
	size_t i = 0;
	while (i < n) {
		uint64_t x = tl_rng_next(&r);
		for (int k = 0; k < 8 && i < n; k++, i++)
			p[i] = (uint8_t)(x >> (8 * k));
	}
}

int tl_gen_count(uint64_t seed, uint64_t index, const struct tl_gen *g)
{
	struct tl_rng r;
	tl_rng_init(&r, tl_mix(seed) ^ tl_mix(index * 0x100000001b3ull + 7));
	return 1 + (int)tl_rng_below(&r, (uint64_t)g->max_records);
}

long tl_gen_batch(uint8_t *buf, size_t cap, uint64_t seed, uint64_t index,
		  const struct tl_gen *g)
{
	struct tl_rng r;
	struct rb_builder b;
	uint8_t key[256], val_small[1];
	tl_rng_init(&r, tl_mix(seed) ^ tl_mix(index * 0x100000001b3ull + 7));
	int nrec = 1 + (int)tl_rng_below(&r, (uint64_t)g->max_records);
	int64_t ts0 = g->ts_base_ms + (int64_t)index * 1000;
	uint8_t *val = malloc((size_t)g->max_value_bytes + 1);
	if (!val)
		return -ENOMEM;
	rb_builder_init(&b, buf, cap, ts0);
	for (int j = 0; j < nrec; j++) {
		int kmax = g->max_key_bytes < (int)sizeof(key) ?
				   g->max_key_bytes : (int)sizeof(key);
		int klen = (int)tl_rng_below(&r, (uint64_t)kmax + 1);
		int null_key = tl_rng_below(&r, 8) == 0;
		int vlen = (int)tl_rng_below(&r, (uint64_t)g->max_value_bytes + 1);
		fill_bytes(key, (size_t)klen, tl_rng_next(&r));
		fill_bytes(val, (size_t)vlen, tl_rng_next(&r));
		if (rb_builder_add(&b, null_key ? NULL : key, klen,
				   vlen ? val : val_small, vlen, ts0 + j) < 0) {
			free(val);
			return -ENOBUFS;
		}
	}
	free(val);
	return rb_builder_finish(&b);
}

long tl_make_ts(uint8_t *buf, size_t cap, int nrec, const int64_t *ts_ms,
		size_t value_bytes, uint64_t fill)
{
	struct rb_builder b;
	uint8_t key[16];
	uint8_t *val = malloc(value_bytes + 1);
	if (!val)
		return -ENOMEM;
	rb_builder_init(&b, buf, cap, ts_ms[0]);
	for (int j = 0; j < nrec; j++) {
		snprintf((char *)key, sizeof(key), "k%08d", j);
		fill_bytes(val, value_bytes, fill + (uint64_t)j);
		if (rb_builder_add(&b, key, 9, val, (int32_t)value_bytes,
				   ts_ms[j]) < 0) {
			free(val);
			return -ENOBUFS;
		}
	}
	free(val);
	return rb_builder_finish(&b);
}

long tl_make_sized(uint8_t *buf, size_t total, int nrec, int64_t ts_ms,
		   uint64_t fill)
{
	/* Records: key "kNNNNNNNN" (9), value v bytes.  Record size varies
	 * with the varint widths, so search the last value's length. */
	if (nrec < 1 || total < 80)
		return -EINVAL;
	int64_t ts[nrec];
	for (int j = 0; j < nrec; j++)
		ts[j] = ts_ms + j;
	/* Start from an estimate, then adjust the last record's value. */
	size_t per = (total - RB_HEADER_BYTES) / (size_t)nrec;
	size_t vbytes = per > 24 ? per - 24 : 0;
	struct rb_builder b;
	uint8_t key[16];
	uint8_t *val = malloc(total + 1);
	if (!val)
		return -ENOMEM;
	for (int attempt = 0; attempt < 64; attempt++) {
		rb_builder_init(&b, buf, total, ts[0]);
		for (int j = 0; j < nrec - 1; j++) {
			snprintf((char *)key, sizeof(key), "k%08d", j);
			fill_bytes(val, vbytes, fill + (uint64_t)j);
			rb_builder_add(&b, key, 9, val, (int32_t)vbytes, ts[j]);
		}
		if (b.failed)
			break;
		/* The last record takes what is left. */
		size_t left = total - b.len;
		/* record: len varint + attr + tsd + offd + klen + key + vlen
		 * varint + value + hdr count */
		for (size_t v = left > 40 ? left - 40 : 0; v <= left; v++) {
			struct rb_builder c = b;
			snprintf((char *)key, sizeof(key), "k%08d", nrec - 1);
			fill_bytes(val, v, fill + (uint64_t)nrec - 1);
			if (rb_builder_add(&c, key, 9, val, (int32_t)v,
					   ts[nrec - 1]) < 0)
				break;
			if (c.len == total) {
				long n = rb_builder_finish(&c);
				free(val);
				return n;
			}
			if (c.len > total)
				break;
		}
		if (vbytes == 0)
			break;
		vbytes--; /* leave more room for the last record */
	}
	free(val);
	return -ENOBUFS;
}

/* ---- expected contents ---- */

void tl_batches_init(struct tl_batches *m)
{
	memset(m, 0, sizeof(*m));
}

void tl_batches_free(struct tl_batches *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].bytes);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

size_t tl_batches_add(struct tl_batches *m, const uint8_t *batch,
		      size_t len, int32_t epoch)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
		if (!m->v)
			abort();
	}
	struct tl_batch *b = &m->v[m->n];
	b->bytes = malloc(len);
	if (!b->bytes)
		abort();
	memcpy(b->bytes, batch, len);
	rb_stamp(b->bytes, m->end, epoch);
	b->len = (uint32_t)len;
	b->base = m->end;
	b->last = rb_last_offset(b->bytes);
	m->end = b->last + 1;
	return m->n++;
}

int64_t tl_batches_truncate(struct tl_batches *m, int64_t offset)
{
	while (m->n > 0 && m->v[m->n - 1].last >= offset) {
		m->n--;
		m->end = m->v[m->n].base;
		free(m->v[m->n].bytes);
	}
	if (m->end < m->start)
		m->start = m->end;
	return m->end;
}

void tl_batches_drop_below(struct tl_batches *m, int64_t start)
{
	size_t k = 0;
	while (k < m->n && m->v[k].base < start)
		free(m->v[k++].bytes);
	if (k)
		memmove(m->v, m->v + k, (m->n - k) * sizeof(*m->v));
	m->n -= k;
	m->start = start;
}

long tl_batches_find(const struct tl_batches *m, int64_t offset)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->v[mid].last < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->n && m->v[lo].base <= offset && offset <= m->v[lo].last)
		return (long)lo;
	return -1;
}

uint64_t tl_batches_bytes_from(const struct tl_batches *m, size_t i)
{
	uint64_t sum = 0;
	for (; i < m->n; i++)
		sum += m->v[i].len;
	return sum;
}

/* ---- driving a log ---- */

void tl_durable_init(struct tl_durable *d)
{
	memset(d, 0, sizeof(*d));
	d->last_end = -1;
	d->err_end = -1;
}

void tl_durable_cb(void *ctx, struct slog *log, int64_t durable_end, int err)
{
	struct tl_durable *d = ctx;
	(void)log;
	d->calls++;
	if (err < 0) {
		d->errors++;
		d->last_err = err;
		d->err_end = durable_end;
		return;
	}
	if (d->last_end >= 0 && durable_end <= d->last_end)
		d->not_increasing++;
	d->last_end = durable_end;
}

void tl_log_fn(void *ctx, int level, const char *line)
{
	(void)ctx;
	if (getenv("SLUICE_VERBOSE"))
		fprintf(stderr, "[log %d] %s\n", level, line);
}

void tl_config(struct slog_config *cfg, struct tl_durable *d,
	       struct tl_clock *c)
{
	slog_config_defaults(cfg);
	cfg->topic = "t";
	cfg->partition = 0;
	cfg->segment_bytes = 64 << 10;
	cfg->batch_max_bytes = 256 << 10;
	cfg->buffer_bytes = 1 << 20;
	cfg->retention_ms = -1;
	cfg->retention_bytes = -1;
	cfg->durable_cb = d ? tl_durable_cb : NULL;
	cfg->cb_ctx = d;
	cfg->log_fn = tl_log_fn;
	cfg->log_ctx = NULL;
	cfg->clock = c ? &c->sl : NULL;
}

int tl_append(struct swriter *w, struct slog *log, uint8_t *batch,
	      size_t len, struct slog_append_result *res)
{
	for (int tries = 0; tries < 100000; tries++) {
		int rc = slog_append(log, batch, len, res);
		if (rc != SL_EFULL)
			return rc;
		rc = swriter_wait(w, 1000);
		if (rc < 0)
			return rc;
	}
	fprintf(stderr, "tl_append: still SL_EFULL after 100000 waits\n");
	return SL_EFULL;
}

int tl_model_skip(struct slog *log, struct tl_batches *m, int64_t to,
		  int32_t epoch)
{
	uint8_t b[RB_HEADER_BYTES + 1];
	ssize_t n = slog_read_copy(log, m->end, sizeof(b), slog_end_offset(log),
				   b, sizeof(b));
	if (n != RB_HEADER_BYTES ||
	    rb_crc32c(b + RB_CRC_START, RB_HEADER_BYTES - RB_CRC_START) !=
		    rb_be32(b + RB_OFF_CRC) ||
	    (int64_t)rb_be64(b + RB_OFF_BASE_OFFSET) != m->end ||
	    rb_last_offset(b) != to - 1 ||
	    rb_be32(b + RB_OFF_RECORD_COUNT) != 0 ||
	    (int64_t)rb_be64(b + RB_OFF_PRODUCER_ID) != -1) {
		fprintf(stderr, "offsets [%lld, %lld) skipped, but not by one "
			"empty batch (read %zd bytes)\n", (long long)m->end,
			(long long)to, n);
		return -1;
	}
	tl_batches_add(m, b, (size_t)n, epoch);
	return 0;
}

int tl_append_model(struct swriter *w, struct slog *log,
		    struct tl_batches *m, uint8_t *batch, size_t len,
		    int32_t epoch)
{
	struct slog_append_result res;
	int64_t count = (int32_t)rb_be32(batch + RB_OFF_LAST_OFFSET_DELTA) + 1;
	int64_t end_before = slog_end_offset(log);
	int rc = tl_append(w, log, batch, len, &res);
	if (rc < 0)
		return rc;
	if (res.base_offset > m->end && end_before == m->end) {
		/* offsets written before a failure are skipped, never given
		 * again: one empty batch must cover exactly the gap */
		rc = tl_model_skip(log, m, res.base_offset, epoch);
		if (rc < 0)
			return rc;
	}
	if (res.base_offset != m->end || res.last_offset != m->end + count - 1) {
		fprintf(stderr, "append assigned [%lld, %lld], model expects "
			"[%lld, %lld]\n", (long long)res.base_offset,
			(long long)res.last_offset, (long long)m->end,
			(long long)(m->end + count - 1));
		return -1;
	}
	size_t i = tl_batches_add(m, batch, len, epoch);
	if (memcmp(batch, m->v[i].bytes, len) != 0) {
		fprintf(stderr, "append did not stamp the caller's batch "
			"(base %lld)\n", (long long)res.base_offset);
		return -1;
	}
	return 0;
}

ssize_t tl_read_view(struct slog *log, int64_t offset, size_t max_bytes,
		     int64_t limit, uint8_t *buf, size_t cap,
		     struct slog_read_view *view_out)
{
	struct slog_read_view v;
	memset(&v, 0, sizeof(v));
	int rc = slog_read(log, offset, max_bytes, limit, &v);
	if (view_out)
		*view_out = v;
	if (rc < 0)
		return rc;
	if (v.len == 0)
		return 0;
	if (v.len > cap)
		return -ENOBUFS;
	if (v.mem) {
		memcpy(buf, v.mem, v.len);
		return (ssize_t)v.len;
	}
	size_t got = 0;
	while (got < v.len) {
		ssize_t n = pread(v.fd, buf + got, v.len - got,
				  (off_t)(v.file_pos + got));
		if (n < 0)
			return -errno;
		if (n == 0) {
			fprintf(stderr, "read view: fd %d pos %llu len %zu "
				"but file ends after %zu bytes\n", v.fd,
				(unsigned long long)v.file_pos, v.len, got);
			return -EIO;
		}
		got += (size_t)n;
	}
	return (ssize_t)v.len;
}

int64_t tl_check_read(const struct tl_batches *m, int64_t offset,
		      const uint8_t *data, size_t len)
{
	long i = tl_batches_find(m, offset);
	if (i < 0) {
		fprintf(stderr, "check_read: offset %lld not in model "
			"[%lld, %lld)\n", (long long)offset,
			(long long)m->start, (long long)m->end);
		return -1;
	}
	size_t pos = 0;
	int64_t next = offset;
	while (pos < len) {
		if ((size_t)i >= m->n) {
			fprintf(stderr, "check_read(%lld): %zu bytes past the "
				"model's last batch\n", (long long)offset,
				len - pos);
			return -1;
		}
		const struct tl_batch *b = &m->v[i];
		if (len - pos < b->len) {
			fprintf(stderr, "check_read(%lld): batch %lld cut: "
				"%zu of %u bytes\n", (long long)offset,
				(long long)b->base, len - pos, b->len);
			return -1;
		}
		if (memcmp(data + pos, b->bytes, b->len) != 0) {
			size_t k = 0;
			while (data[pos + k] == b->bytes[k])
				k++;
			fprintf(stderr, "check_read(%lld): batch at %lld "
				"differs at byte %zu (got 0x%02x, want 0x%02x; "
				"got base %lld len %u)\n", (long long)offset,
				(long long)b->base, k, data[pos + k],
				b->bytes[k],
				(long long)rb_be64(data + pos),
				rb_be32(data + pos + 8) + 12);
			return -1;
		}
		pos += b->len;
		next = b->last + 1;
		i++;
	}
	return next;
}

int tl_check_log(struct slog *log, const struct tl_batches *m, int via_view)
{
	int64_t start = slog_start_offset(log), end = slog_end_offset(log);
	if (start != m->start || end != m->end) {
		fprintf(stderr, "check_log: log is [%lld, %lld), model "
			"[%lld, %lld)\n", (long long)start, (long long)end,
			(long long)m->start, (long long)m->end);
		return -1;
	}
	uint8_t *buf = malloc(TL_READ_CAP);
	if (!buf)
		return -1;
	int rc = 0;
	int64_t off = start;
	unsigned rounds = 0;
	while (off < end) {
		if (++rounds > m->n + 2) {
			fprintf(stderr, "check_log: no progress at %lld\n",
				(long long)off);
			rc = -1;
			break;
		}
		struct slog_read_view v;
		ssize_t n = via_view ?
			tl_read_view(log, off, 1 << 20, end, buf, TL_READ_CAP,
				     &v) :
			slog_read_copy(log, off, 1 << 20, end, buf, TL_READ_CAP);
		if (n <= 0) {
			fprintf(stderr, "check_log: read at %lld of [%lld, "
				"%lld) returned %zd (%s)\n", (long long)off,
				(long long)start, (long long)end, n,
				tl_errname(n));
			rc = -1;
			break;
		}
		int64_t next = tl_check_read(m, off, buf, (size_t)n);
		if (next < 0) {
			rc = -1;
			break;
		}
		if (via_view && v.next_offset != next) {
			fprintf(stderr, "check_log: view.next_offset %lld, "
				"bytes end at %lld\n",
				(long long)v.next_offset, (long long)next);
			rc = -1;
			break;
		}
		off = next;
	}
	free(buf);
	return rc;
}

/* ---- decoders at the edge of memory ---- */

uint8_t *tl_guarded(size_t bytes)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *p = mmap(NULL, bytes + page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + bytes, page, PROT_NONE)) {
		munmap(p, bytes + page);
		return NULL;
	}
	return p;
}

uint8_t *tl_at_edge(uint8_t *g, size_t bytes, const uint8_t *src, size_t n)
{
	if (n > bytes)
		abort();
	uint8_t *p = g + bytes - n;
	memmove(p, src, n);
	return p;
}

void tl_native_header(uint8_t *p, uint8_t opcode, uint32_t length,
		      uint32_t corr, int16_t error)
{
	const uint8_t h[16] = {
		0x53, 0x4C, 1, opcode,
		(uint8_t)(length >> 24), (uint8_t)(length >> 16),
		(uint8_t)(length >> 8), (uint8_t)length,
		(uint8_t)(corr >> 24), (uint8_t)(corr >> 16),
		(uint8_t)(corr >> 8), (uint8_t)corr,
		(uint8_t)((uint16_t)error >> 8), (uint8_t)error, 0, 0,
	};
	memcpy(p, h, sizeof(h));
}
