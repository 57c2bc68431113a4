/*
 * Unit tests of the consumer-group offsets store (control/offsets.h) on
 * its own, on the real disk and on the simulated one (tests/lib/simdisk.h):
 *   - the file's bytes, header and every record type, as offsets.c
 *     specifies them; a new file 0640 in a directory created with its
 *     parents;
 *   - batches (empty, and larger than the store's 64 KiB buffer) read back
 *     whole and in order;
 *   - a torn or damaged tail cut off at the open, so that a whole record
 *     beyond a torn one never comes back once a later append has covered
 *     the torn one;
 *   - a damaged header refused with the file's name and what to do, the
 *     file left alone; an error of the apply callback stops the open;
 *   - a version 1 file handed over with commit times of now, and rewritten;
 *   - compaction: when it is due, the rewrite, no temporary left behind,
 *     a stale one removed at the open;
 *   - failures (simulated disk): a failed write taken back, a failed
 *     fdatasync breaking the store, a rewrite failing at each of its steps;
 *   - seeded power cuts, also inside an operation: after every recovery
 *     the file holds every acknowledged record, in order, followed at most
 *     by a prefix of the batch that was cut, or after a cut rewrite the old
 *     records or the new ones, and the open never fails.
 * Randomised cases print their seed; SLUICE_SEED replays, SLUICE_LONG=1
 * runs more schedules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tl.h"
#include "simdisk.h"
#include "control/offsets.h"
#include "storage/disk.h"

#define NOW_MS 1700000000123ll
#define SIM_DIR "/data/control/groups"
#define SIM_FILE SIM_DIR "/" SL_OFFSETS_FILE

static char g_dir[PATH_MAX];  /* a fresh directory per case */
static char g_path[PATH_MAX]; /* <g_dir>/groups/offsets.log */
static char g_sdir[PATH_MAX]; /* <g_dir>/groups, not created by setup */

/* ---- records the test owns ---- */

struct trec {
	uint8_t type;
	uint16_t gl, tl;
	int32_t part, epoch, ml;
	int64_t off, t;
	char group[SL_OFFSETS_GROUP_MAX];
	char topic[SL_OFFSETS_TOPIC_MAX];
	char meta[SL_OFFSETS_META_MAX];
};

struct tlist {
	struct trec *v;
	size_t n, cap;
};

static struct sl_offsets_rec as_rec(const struct trec *t)
{
	return (struct sl_offsets_rec){
		.type = t->type, .group_len = t->gl, .group = t->group,
		.topic_len = t->tl, .topic = t->topic, .partition = t->part,
		.offset = t->off, .leader_epoch = t->epoch,
		.meta_len = t->ml, .meta = t->meta, .time_ms = t->t,
	};
}

static void tlist_push(struct tlist *l, const struct trec *t)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n++] = *t;
}

static void tlist_free(struct tlist *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void tlist_copy(struct tlist *dst, const struct tlist *src)
{
	dst->n = 0;
	for (size_t i = 0; i < src->n; i++)
		tlist_push(dst, &src->v[i]);
}

/* The fields a record of its type carries, compared. */
static bool trec_eq(const struct trec *a, const struct trec *b)
{
	if (a->type != b->type || a->gl != b->gl ||
	    memcmp(a->group, b->group, a->gl))
		return false;
	switch (a->type) {
	case SL_OFFSETS_COMMIT:
		return a->tl == b->tl && !memcmp(a->topic, b->topic, a->tl) &&
		       a->part == b->part && a->off == b->off &&
		       a->epoch == b->epoch && a->ml == b->ml &&
		       (a->ml <= 0 || !memcmp(a->meta, b->meta,
					      (size_t)a->ml)) &&
		       a->t == b->t;
	case SL_OFFSETS_STATE:
		return a->t == b->t;
	case SL_OFFSETS_EXPIRE:
		return a->tl == b->tl && !memcmp(a->topic, b->topic, a->tl) &&
		       a->part == b->part;
	default:
		return true;
	}
}

/* The first n records of a and b are the same (both have n). */
static bool tlist_head_eq(const struct tlist *a, const struct tlist *b,
			  size_t n)
{
	if (a->n < n || b->n < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!trec_eq(&a->v[i], &b->v[i]))
			return false;
	return true;
}

/* got == want: 0, or -1 with the first difference printed. */
static int tlist_eq(const struct tlist *got, const struct tlist *want)
{
	if (got->n != want->n)
		fprintf(stderr, "got %zu records, expected %zu\n", got->n,
			want->n);
	for (size_t i = 0; i < got->n && i < want->n; i++)
		if (!trec_eq(&got->v[i], &want->v[i])) {
			fprintf(stderr, "record %zu differs (type %u, "
				"expected type %u)\n", i, got->v[i].type,
				want->v[i].type);
			return -1;
		}
	return got->n == want->n ? 0 : -1;
}

/* The open's apply callback: collect, or fail at record fail_at. */
struct sink {
	struct tlist got;
	size_t fail_at; /* SIZE_MAX: never */
	int fail_rc;
};

static int collect(void *arg, const struct sl_offsets_rec *r)
{
	struct sink *k = arg;
	if (k->got.n == k->fail_at)
		return k->fail_rc;
	struct trec t;
	memset(&t, 0, sizeof(t));
	t.type = r->type;
	t.gl = r->group_len;
	memcpy(t.group, r->group, r->group_len);
	t.tl = r->topic_len;
	if (r->topic_len)
		memcpy(t.topic, r->topic, r->topic_len);
	t.part = r->partition;
	t.off = r->offset;
	t.epoch = r->leader_epoch;
	t.ml = r->meta_len;
	if (r->meta_len > 0)
		memcpy(t.meta, r->meta, (size_t)r->meta_len);
	t.t = r->time_ms;
	tlist_push(&k->got, &t);
	return 0;
}

static int store_open(const struct sdisk *d, const char *dir,
		      struct sink *k, struct sl_offsets **s, char *err,
		      size_t errlen)
{
	k->got.n = 0;
	k->fail_at = SIZE_MAX;
	return sl_offsets_open(d, dir, NOW_MS, collect, k, s, err, errlen);
}

/* Open and expect success. */
static struct sl_offsets *must_open(const struct sdisk *d, const char *dir,
				    struct sink *k)
{
	char err[1024];
	struct sl_offsets *s = NULL;
	int rc = store_open(d, dir, k, &s, err, sizeof(err));
	if (rc)
		fail_msg("sl_offsets_open: %s (%s)", err, tl_errname(rc));
	return s;
}

static int append(struct sl_offsets *s, const struct trec *r, size_t n)
{
	sl_offsets_batch_begin(s);
	for (size_t i = 0; i < n; i++) {
		struct sl_offsets_rec x = as_rec(&r[i]);
		sl_offsets_batch_add(s, &x);
	}
	return sl_offsets_batch_end(s);
}

static int rewrite(struct sl_offsets *s, const struct tlist *l)
{
	sl_offsets_rewrite_begin(s);
	for (size_t i = 0; i < l->n; i++) {
		struct sl_offsets_rec x = as_rec(&l->v[i]);
		sl_offsets_rewrite_add(s, &x);
	}
	return sl_offsets_rewrite_end(s);
}

static size_t trec_bytes(const struct trec *t)
{
	struct sl_offsets_rec x = as_rec(t);
	return sl_offsets_rec_bytes(&x);
}

static struct trec commit_of(const char *group, const char *topic,
			     int32_t part, int64_t off, const char *meta)
{
	struct trec t;
	memset(&t, 0, sizeof(t));
	t.type = SL_OFFSETS_COMMIT;
	t.gl = (uint16_t)strlen(group);
	memcpy(t.group, group, t.gl);
	t.tl = (uint16_t)strlen(topic);
	memcpy(t.topic, topic, t.tl);
	t.part = part;
	t.off = off;
	t.epoch = 3;
	t.ml = meta ? (int32_t)strlen(meta) : -1;
	if (meta)
		memcpy(t.meta, meta, strlen(meta));
	t.t = NOW_MS - 5000;
	return t;
}

/* A random record: every type, names and metadata of every length class
 * (big: metadata up to the limit). */
static void gen_rec(struct tl_rng *rng, struct trec *t, bool big)
{
	memset(t, 0, sizeof(*t));
	uint64_t k = tl_rng_below(rng, 10);
	t->type = k < 6 ? SL_OFFSETS_COMMIT : k < 8 ? SL_OFFSETS_STATE :
		  k < 9 ? SL_OFFSETS_EXPIRE : SL_OFFSETS_DELETE;
	t->gl = tl_rng_below(rng, 8) ? (uint16_t)tl_rng_range(rng, 1, 12) :
				       SL_OFFSETS_GROUP_MAX;
	for (uint16_t i = 0; i < t->gl; i++)
		t->group[i] = (char)('a' + tl_rng_below(rng, 3));
	if (t->type == SL_OFFSETS_COMMIT || t->type == SL_OFFSETS_EXPIRE) {
		t->tl = tl_rng_below(rng, 8) ?
			(uint16_t)tl_rng_range(rng, 1, 12) :
			SL_OFFSETS_TOPIC_MAX;
		for (uint16_t i = 0; i < t->tl; i++)
			t->topic[i] = (char)('t' + tl_rng_below(rng, 3));
		t->part = (int32_t)tl_rng_below(rng, 6);
	}
	if (t->type == SL_OFFSETS_COMMIT) {
		t->off = (int64_t)tl_rng_next(rng);
		t->epoch = (int32_t)tl_rng_range(rng, -1, 5);
		t->t = (int64_t)tl_rng_below(rng, 1ull << 42);
		uint64_t m = tl_rng_below(rng, 8);
		t->ml = m == 0 ? -1 : m == 1 ? 0 :
			big && m == 2 ? SL_OFFSETS_META_MAX :
			big ? (int32_t)tl_rng_range(rng, 1, SL_OFFSETS_META_MAX) :
			(int32_t)tl_rng_range(rng, 1, 40);
		for (int32_t i = 0; i < t->ml; i++)
			t->meta[i] = (char)tl_rng_next(rng);
	}
	if (t->type == SL_OFFSETS_STATE)
		t->t = tl_rng_below(rng, 3) ? -1 :
		       (int64_t)tl_rng_below(rng, 1ull << 42);
}

static int setup(void **state)
{
	(void)state;
	if (tl_tmpdir(g_dir, "control-offsets"))
		return -1;
	tl_pathf(g_sdir, "%s/groups", g_dir);
	tl_pathf(g_path, "%s/%s", g_sdir, SL_OFFSETS_FILE);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tl_rmrf(g_dir);
	return 0;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_true(fd >= 0);
	TL_EQ(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/* Flip every bit of the byte at at. */
static void flip(const char *path, long long at)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	TL_EQ(pread(fd, &b, 1, (off_t)at), 1);
	b ^= 0xff;
	TL_EQ(pwrite(fd, &b, 1, (off_t)at), 1);
	close(fd);
}

/* ---- the bytes ---- */

static size_t hdr(uint8_t *p, uint16_t version)
{
	memcpy(p, "SLGO", 4);
	rb_put16(p + 4, version);
	rb_put16(p + 6, 16);
	rb_put32(p + 8, 0);
	rb_put32(p + 12, rb_crc32c(p, 12));
	return 16;
}

static void test_file_bytes(void **state)
{
	(void)state;
	struct sink k = {0};
	/* the directory and its parent do not exist yet */
	char nested[PATH_MAX];
	tl_pathf(nested, "%s/a/b", g_sdir);
	struct sl_offsets *s = must_open(&sdisk_posix, nested, &k);
	TL_EQ(k.got.n, 0);
	TL_EQ(sl_offsets_size(s), 16);
	char path[PATH_MAX];
	tl_pathf(path, "%s/%s", nested, SL_OFFSETS_FILE);
	struct stat st;
	TL_OK(stat(path, &st));
	TL_EQ(st.st_mode & 0777, 0640);
	TL_EQ(st.st_size, 16);

	struct trec r[5];
	r[0] = commit_of("g", "tp", 7, 0x0102030405060708ll, "m");
	r[0].epoch = 3;
	r[0].t = 0x1122334455667788ll;
	r[1] = commit_of("g", "tp", 7, -1, NULL);
	r[1].epoch = -1;
	r[1].t = 5;
	memset(&r[2], 0, sizeof(r[2]));
	r[2].type = SL_OFFSETS_STATE;
	r[2].gl = 1;
	r[2].group[0] = 'g';
	r[2].t = -1;
	r[3] = r[1];
	r[3].type = SL_OFFSETS_EXPIRE;
	r[4] = r[2];
	r[4].type = SL_OFFSETS_DELETE;
	TL_OK(append(s, r, 5));
	sl_offsets_close(s);

	/* what offsets.c specifies, byte by byte */
	uint8_t want[256], *p = want;
	p += hdr(p, 2);
	TL_EQ(rb_be16(want + 4), 2);
	uint8_t *rec = p; /* commit, N = 40 + 1 + 2 + 1 */
	rb_put32(p, 44); p[4] = 1; p[5] = 0; rb_put16(p + 6, 1);
	rb_put16(p + 8, 2); rb_put16(p + 10, 1); rb_put32(p + 12, 7);
	rb_put64(p + 16, 0x0102030405060708ull); rb_put32(p + 24, 3);
	rb_put64(p + 28, 0x1122334455667788ull);
	memcpy(p + 36, "gtpm", 4);
	rb_put32(p + 40, rb_crc32c(rec, 40));
	p += 44;
	rec = p; /* commit, null metadata: M = 0xffff, N = 43 */
	rb_put32(p, 43); p[4] = 1; p[5] = 0; rb_put16(p + 6, 1);
	rb_put16(p + 8, 2); rb_put16(p + 10, 0xffff); rb_put32(p + 12, 7);
	rb_put64(p + 16, UINT64_MAX); rb_put32(p + 24, UINT32_MAX);
	rb_put64(p + 28, 5);
	memcpy(p + 36, "gtp", 3);
	rb_put32(p + 39, rb_crc32c(rec, 39));
	p += 43;
	rec = p; /* state, N = 20 + 1 */
	rb_put32(p, 21); p[4] = 2; p[5] = 0; rb_put16(p + 6, 1);
	rb_put64(p + 8, UINT64_MAX);
	p[16] = 'g';
	rb_put32(p + 17, rb_crc32c(rec, 17));
	p += 21;
	rec = p; /* expire, N = 20 + 1 + 2 */
	rb_put32(p, 23); p[4] = 3; p[5] = 0; rb_put16(p + 6, 1);
	rb_put16(p + 8, 2); rb_put16(p + 10, 0); rb_put32(p + 12, 7);
	memcpy(p + 16, "gtp", 3);
	rb_put32(p + 19, rb_crc32c(rec, 19));
	p += 23;
	rec = p; /* delete, N = 12 + 1 */
	rb_put32(p, 13); p[4] = 4; p[5] = 0; rb_put16(p + 6, 1);
	p[8] = 'g';
	rb_put32(p + 9, rb_crc32c(rec, 9));
	p += 13;
	size_t sum = 16;
	for (int i = 0; i < 5; i++)
		sum += trec_bytes(&r[i]);
	TL_EQ(sum, (size_t)(p - want));

	uint8_t *file;
	long long n = tl_read_file(path, &file);
	TL_EQ(n, p - want);
	assert_memory_equal(file, want, (size_t)n);
	free(file);

	/* and read back as written */
	s = must_open(&sdisk_posix, nested, &k);
	struct tlist w = {r, 5, 5};
	TL_OK(tlist_eq(&k.got, &w));
	sl_offsets_close(s);
	tlist_free(&k.got);
}

/* ---- appends ---- */

static void test_append_reload(void **state)
{
	(void)state;
	struct tl_rng rng;
	tl_rng_init(&rng, tl_seed("offsets append_reload"));
	struct sink k = {0};
	struct tlist want = {0};
	struct sl_offsets *s = must_open(&sdisk_posix, g_sdir, &k);
	/* an empty batch writes nothing */
	TL_OK(append(s, NULL, 0));
	TL_EQ(tl_file_size(g_path), 16);
	for (int b = 0; b < 40; b++) {
		/* batch 7 is far larger than the store's buffer */
		int n = b == 7 ? 200 : (int)tl_rng_range(&rng, 1, 9);
		struct trec *r = calloc((size_t)n, sizeof(*r));
		assert_non_null(r);
		for (int i = 0; i < n; i++) {
			/* batch 7: commits with metadata over 2 KiB only, so
			 * it alone is larger than the buffer whatever the seed */
			do
				gen_rec(&rng, &r[i], b == 7 || b % 5 == 0);
			while (b == 7 && (r[i].type != SL_OFFSETS_COMMIT ||
					  r[i].ml <= 2048));
			tlist_push(&want, &r[i]);
		}
		TL_OK(append(s, r, (size_t)n));
		free(r);
		TL_EQ(sl_offsets_size(s), tl_file_size(g_path));
		if (b % 10 == 9) {
			sl_offsets_close(s);
			s = must_open(&sdisk_posix, g_sdir, &k);
			TL_OK(tlist_eq(&k.got, &want));
		}
	}
	assert_true(tl_file_size(g_path) > 4 * 64 * 1024);
	assert_false(sl_offsets_broken(s));
	sl_offsets_close(s);
	tlist_free(&want);
	tlist_free(&k.got);
}

/* ---- recovery ---- */

static void test_torn_tail(void **state)
{
	(void)state;
	struct sink k = {0};
	struct trec r[4];
	for (int i = 0; i < 4; i++)
		r[i] = commit_of("g", "t", i, 100 + i, "meta");
	size_t rb = trec_bytes(&r[0]);
	struct sl_offsets *s = must_open(&sdisk_posix, g_sdir, &k);
	for (int i = 0; i < 3; i++)
		TL_OK(append(s, &r[i], 1));
	sl_offsets_close(s);
	TL_EQ(tl_file_size(g_path), 16 + 3 * rb);

	/* the second record torn (a byte of it never written): the first
	 * stays, the file is cut after it, and the whole third one, beyond
	 * the torn one, must not come back once the fourth covers the torn
	 * one */
	flip(g_path, 16 + rb + 20);
	s = must_open(&sdisk_posix, g_sdir, &k);
	struct tlist want = {0};
	tlist_push(&want, &r[0]);
	TL_OK(tlist_eq(&k.got, &want));
	TL_EQ(tl_file_size(g_path), 16 + rb);
	TL_EQ(sl_offsets_size(s), 16 + rb);
	TL_OK(append(s, &r[3], 1));
	sl_offsets_close(s);
	s = must_open(&sdisk_posix, g_sdir, &k);
	tlist_push(&want, &r[3]);
	TL_OK(tlist_eq(&k.got, &want));
	sl_offsets_close(s);

	/* a record cut short, then zeros past the end: both cut off */
	TL_OK(truncate(g_path, (off_t)(16 + 2 * rb - 9)));
	s = must_open(&sdisk_posix, g_sdir, &k);
	want.n = 1;
	TL_OK(tlist_eq(&k.got, &want));
	TL_EQ(tl_file_size(g_path), 16 + rb);
	sl_offsets_close(s);
	TL_OK(truncate(g_path, (off_t)(16 + rb + 7)));
	s = must_open(&sdisk_posix, g_sdir, &k);
	TL_OK(tlist_eq(&k.got, &want));
	TL_EQ(tl_file_size(g_path), 16 + rb);
	/* and appends go on after the last good record */
	TL_OK(append(s, &r[2], 1));
	sl_offsets_close(s);
	s = must_open(&sdisk_posix, g_sdir, &k);
	tlist_push(&want, &r[2]);
	TL_OK(tlist_eq(&k.got, &want));
	sl_offsets_close(s);
	tlist_free(&want);
	tlist_free(&k.got);
}

static void test_damage_reported(void **state)
{
	(void)state;
	struct sink k = {0};
	char err[1024];
	struct trec r = commit_of("g", "t", 0, 1, NULL);
	struct sl_offsets *s = must_open(&sdisk_posix, g_sdir, &k);
	TL_OK(append(s, &r, 1));
	sl_offsets_close(s);
	uint8_t *good;
	long long n = tl_read_file(g_path, &good);
	TL_EQ(n, 16 + trec_bytes(&r));

	/* a flipped bit in each header field, a version from the future,
	 * a file shorter than a header */
	static const struct { size_t at; uint8_t x; long long len; } bad[] = {
		{0, 0x01, -1},  /* magic */
		{5, 0x02, -1},  /* version 2 -> 0 */
		{5, 0x01, -1},  /* version 3 */
		{7, 0x10, -1},  /* header bytes */
		{9, 0x01, -1},  /* reserved */
		{13, 0x01, -1}, /* CRC */
		{0, 0, 10},     /* short */
		{0, 0, 0},      /* empty */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t copy[256];
		memcpy(copy, good, (size_t)n);
		copy[bad[i].at] ^= bad[i].x;
		size_t len = bad[i].len >= 0 ? (size_t)bad[i].len : (size_t)n;
		write_file(g_path, copy, len);
		s = NULL;
		err[0] = 0;
		TL_EQ(store_open(&sdisk_posix, g_sdir, &k, &s, err,
				 sizeof(err)), -EBADMSG);
		assert_null(s);
		TL_EQ(k.got.n, 0);
		/* the file named, and what to do */
		if (!strstr(err, g_path) || !strstr(err, "move it away") ||
		    !strstr(err, "restore"))
			fail_msg("case %zu: message \"%s\"", i, err);
		/* left as it was */
		uint8_t *now;
		TL_EQ(tl_read_file(g_path, &now), (long long)len);
		assert_true(len == 0 || !memcmp(now, copy, len));
		free(now);
	}

	/* an error of the caller's apply stops the open, the file named */
	write_file(g_path, good, (size_t)n);
	k.got.n = 0;
	k.fail_at = 0;
	k.fail_rc = -EOVERFLOW;
	s = NULL;
	TL_EQ(sl_offsets_open(&sdisk_posix, g_sdir, NOW_MS, collect, &k, &s,
			      err, sizeof(err)), -EOVERFLOW);
	assert_null(s);
	assert_non_null(strstr(err, g_path));
	TL_EQ(tl_file_size(g_path), n);
	free(good);
	tlist_free(&k.got);
}

static void test_version1(void **state)
{
	(void)state;
	struct sink k = {0};
	/* a version 1 file: a commit stamped by a monotonic clock, then a
	 * state record, which version 1 does not have (the log ends there) */
	struct trec c = commit_of("g", "t", 2, 42, "x");
	c.t = 12345;
	uint8_t buf[256], *p = buf;
	p += hdr(p, 1);
	uint8_t *rec = p;
	size_t nc = trec_bytes(&c);
	rb_put32(p, (uint32_t)nc); p[4] = 1; p[5] = 0; rb_put16(p + 6, 1);
	rb_put16(p + 8, 1); rb_put16(p + 10, 1); rb_put32(p + 12, 2);
	rb_put64(p + 16, 42); rb_put32(p + 24, 3); rb_put64(p + 28, 12345);
	memcpy(p + 36, "gtx", 3);
	rb_put32(p + nc - 4, rb_crc32c(rec, nc - 4));
	p += nc;
	rec = p;
	rb_put32(p, 21); p[4] = 2; p[5] = 0; rb_put16(p + 6, 1);
	rb_put64(p + 8, UINT64_MAX);
	p[16] = 'g';
	rb_put32(p + 17, rb_crc32c(rec, 17));
	p += 21;
	TL_OK(mkdir(g_sdir, 0750));
	write_file(g_path, buf, (size_t)(p - buf));

	struct sl_offsets *s = must_open(&sdisk_posix, g_sdir, &k);
	TL_EQ(k.got.n, 1);
	TL_EQ(k.got.v[0].t, NOW_MS); /* read as committed now */
	c.t = NOW_MS;
	assert_true(trec_eq(&k.got.v[0], &c));
	assert_true(sl_offsets_must_rewrite(s));
	TL_EQ(tl_file_size(g_path), 16 + nc);
	struct tlist live = {0};
	tlist_copy(&live, &k.got);
	TL_OK(rewrite(s, &live));
	assert_false(sl_offsets_must_rewrite(s));
	uint8_t *file;
	TL_EQ(tl_read_file(g_path, &file), 16 + nc);
	TL_EQ(rb_be16(file + 4), 2);
	free(file);
	sl_offsets_close(s);
	s = must_open(&sdisk_posix, g_sdir, &k);
	assert_false(sl_offsets_must_rewrite(s));
	TL_OK(tlist_eq(&k.got, &live));
	sl_offsets_close(s);
	tlist_free(&live);
	tlist_free(&k.got);
}

/* ---- compaction ---- */

static void test_compaction(void **state)
{
	(void)state;
	struct sink k = {0};
	char tmp[PATH_MAX];
	tl_pathf(tmp, "%s/%s", g_sdir, SL_OFFSETS_TMP);
	struct sl_offsets *s = must_open(&sdisk_posix, g_sdir, &k);
	struct trec r = commit_of("cg", "t", 0, 0, NULL);
	uint64_t rb = trec_bytes(&r);
	assert_false(sl_offsets_compact_due(s, rb));
	/* one partition committed over and over: one live record */
	int64_t i = 0;
	while (sl_offsets_size(s) < SL_OFFSETS_COMPACT_MIN_BYTES) {
		assert_false(sl_offsets_compact_due(s, rb));
		r.off = ++i;
		TL_OK(append(s, &r, 1));
	}
	assert_true(sl_offsets_compact_due(s, rb));
	/* not while a rewrite would keep more than a quarter */
	uint64_t size = sl_offsets_size(s);
	assert_false(sl_offsets_compact_due(s, size / 4 - 16 + 1));
	assert_true(sl_offsets_compact_due(s, size / 4 - 16));

	struct tlist live = {0};
	tlist_push(&live, &r);
	TL_OK(rewrite(s, &live));
	TL_EQ(sl_offsets_size(s), 16 + rb);
	TL_EQ(tl_file_size(g_path), 16 + rb);
	TL_EQ(tl_file_size(tmp), -ENOENT);
	struct stat st;
	TL_OK(stat(g_path, &st));
	TL_EQ(st.st_mode & 0777, 0640);
	assert_false(sl_offsets_compact_due(s, rb));
	/* appends go to the new file */
	struct trec o = commit_of("other", "u", 1, 77, "kept");
	TL_OK(append(s, &o, 1));
	sl_offsets_close(s);
	tlist_push(&live, &o);
	s = must_open(&sdisk_posix, g_sdir, &k);
	TL_OK(tlist_eq(&k.got, &live));
	sl_offsets_close(s);

	/* a temporary left by a rewrite that never finished is removed */
	write_file(tmp, (const uint8_t *)"junk", 4);
	s = must_open(&sdisk_posix, g_sdir, &k);
	TL_OK(tlist_eq(&k.got, &live));
	TL_EQ(tl_file_size(tmp), -ENOENT);
	sl_offsets_close(s);
	tlist_free(&live);
	tlist_free(&k.got);
}

/* ---- failures on the simulated disk ---- */

/* Records of one size, so that one can take another's place. */
static struct trec same_size(int i)
{
	char meta[1200];
	memset(meta, 'a' + i % 26, sizeof(meta) - 1);
	meta[sizeof(meta) - 1] = 0;
	return commit_of("g", "t", i, i, meta);
}

static void test_failed_append(void **state)
{
	(void)state;
	struct simdisk *sd = simdisk_create(1);
	const struct sdisk *d = simdisk_disk(sd);
	struct sink k = {0};
	struct tlist want = {0};
	struct sl_offsets *s = must_open(d, SIM_DIR, &k);
	struct trec a = same_size(0);
	TL_OK(append(s, &a, 1));
	tlist_push(&want, &a);
	uint64_t size = sl_offsets_size(s);

	/* a batch larger than the buffer: its first part is written, the
	 * rest fails; the file is taken back */
	struct trec big[80];
	for (int i = 0; i < 80; i++)
		big[i] = same_size(i + 1);
	simdisk_fail_after(sd, 1, EIO, 0);
	TL_EQ(append(s, big, 80), -EIO);
	assert_false(sl_offsets_broken(s));
	TL_EQ(sl_offsets_size(s), size);
	uint8_t *file = NULL;
	TL_EQ(sd_read_file(d, SIM_FILE, 1 << 20, &file), (ssize_t)size);
	free(file);
	/* the next append takes the place of the first failed record: the
	 * second must not come back (it would without the truncation) */
	struct trec c = same_size(99);
	TL_OK(append(s, &c, 1));
	tlist_push(&want, &c);
	sl_offsets_close(s);
	s = must_open(d, SIM_DIR, &k);
	TL_OK(tlist_eq(&k.got, &want));

	/* a failed fdatasync: the store is broken, nothing more is written,
	 * no rewrite is due or done */
	simdisk_fail_after(sd, 1, EIO, 0); /* the write passes, the sync not */
	TL_EQ(append(s, &a, 1), -EIO);
	assert_true(sl_offsets_broken(s));
	struct simdisk_stats before, after;
	simdisk_get_stats(sd, &before);
	TL_EQ(append(s, &a, 1), -EIO);
	assert_false(sl_offsets_compact_due(s, 0));
	TL_EQ(rewrite(s, &want), -EIO);
	simdisk_get_stats(sd, &after);
	TL_EQ(after.writes, before.writes);
	TL_EQ(after.syncs, before.syncs);
	/* a reopen reads back what is there, and works again */
	sl_offsets_close(s);
	s = must_open(d, SIM_DIR, &k);
	assert_false(sl_offsets_broken(s));
	assert_true(k.got.n == want.n || k.got.n == want.n + 1);
	assert_true(tlist_head_eq(&k.got, &want, want.n));
	TL_OK(append(s, &c, 1));
	sl_offsets_close(s);
	TL_EQ(simdisk_open_handles(sd), 0);
	simdisk_destroy(sd);
	tlist_free(&want);
	tlist_free(&k.got);
}

/* A rewrite failing at each of its steps: the old file stays and appends
 * go on there (a compaction then not due until the file has doubled), or
 * the store is broken; never a store that appends to a file no longer at
 * the path. */
static void test_failed_rewrite(void **state)
{
	(void)state;
	int kept = 0, broke = 0;
	bool done = false;
	for (uint64_t c = 0; c < 32 && !done; c++) {
		struct simdisk *sd = simdisk_create(c);
		const struct sdisk *d = simdisk_disk(sd);
		struct sink k = {0};
		struct tlist old = {0}, img = {0};
		struct sl_offsets *s = must_open(d, SIM_DIR, &k);
		for (int i = 0; i < 16; i++) {
			struct trec r = same_size(i);
			TL_OK(append(s, &r, 1));
			tlist_push(&old, &r);
		}
		uint64_t size = sl_offsets_size(s);
		assert_true(size >= SL_OFFSETS_COMPACT_MIN_BYTES);
		assert_true(sl_offsets_compact_due(s, 100));
		tlist_push(&img, &old.v[3]);
		simdisk_fail_after(sd, c, EIO, 0);
		int rc = rewrite(s, &img);
		simdisk_fail_after(sd, 0, 0, 0);
		struct trec more = same_size(50);
		if (rc == 0) {
			done = true;
			TL_EQ(sl_offsets_size(s), 16 + trec_bytes(&img.v[0]));
			TL_OK(append(s, &more, 1));
			tlist_push(&img, &more);
			sl_offsets_close(s);
			s = must_open(d, SIM_DIR, &k);
			TL_OK(tlist_eq(&k.got, &img));
		} else if (!sl_offsets_broken(s)) {
			kept++;
			TL_EQ(sl_offsets_size(s), size);
			assert_false(sl_offsets_compact_due(s, 100));
			TL_OK(append(s, &more, 1));
			tlist_push(&old, &more);
			/* due again once the file has doubled */
			for (int i = 0; sl_offsets_size(s) < 2 * size; i++) {
				assert_false(sl_offsets_compact_due(s, 100));
				struct trec r = same_size(60 + i);
				TL_OK(append(s, &r, 1));
				tlist_push(&old, &r);
			}
			assert_true(sl_offsets_compact_due(s, 100));
			sl_offsets_close(s);
			s = must_open(d, SIM_DIR, &k);
			TL_OK(tlist_eq(&k.got, &old));
		} else {
			broke++;
			TL_EQ(append(s, &more, 1), -EIO);
			sl_offsets_close(s);
			/* the file is the old one or the new one, whole */
			s = must_open(d, SIM_DIR, &k);
			if (k.got.n != img.n ||
			    !tlist_head_eq(&k.got, &img, img.n))
				TL_OK(tlist_eq(&k.got, &old));
		}
		sl_offsets_close(s);
		TL_EQ(simdisk_open_handles(sd), 0);
		simdisk_destroy(sd);
		tlist_free(&old);
		tlist_free(&img);
		tlist_free(&k.got);
	}
	assert_true(done);
	/* both outcomes seen: before the rename, and after it (the
	 * directory's fsync failing) */
	assert_true(kept > 0);
	assert_true(broke > 0);
}

/* ---- power cuts ---- */

struct pc_counts {
	uint64_t schedules, cuts, batches, rewrites, partial_kept;
};

/* Reopen after a cut (the reopen itself may be cut too) and check what
 * came back: acked, then at most a prefix of the batch in flight, or
 * (rewrite in flight) the old records or the new.  acked becomes what is
 * in the file. */
static void pc_recover(struct simdisk *sd, uint64_t seed, struct sink *k,
		       struct sl_offsets **s, struct tlist *acked,
		       const struct tlist *inflight, const struct tlist *img,
		       struct pc_counts *pc)
{
	const struct sdisk *d = simdisk_disk(sd);
	char err[1024];
	sl_offsets_close(*s);
	*s = NULL;
	for (int tries = 0;; tries++) {
		simdisk_power_on(sd);
		int rc = store_open(d, SIM_DIR, k, s, err, sizeof(err));
		if (rc == 0)
			break;
		/* only a cut armed for the reopen may stop it */
		if (!simdisk_dead(sd) || tries > 3)
			fail_msg("schedule %llu: recovery failed: %s",
				 (unsigned long long)seed, err);
	}
	const struct tlist *got = &k->got;
	if (img && got->n == img->n && tlist_head_eq(got, img, img->n)) {
		tlist_copy(acked, img);
		return;
	}
	size_t n = acked->n;
	if (got->n < n || got->n > n + (inflight ? inflight->n : 0) ||
	    !tlist_head_eq(got, acked, n))
		fail_msg("schedule %llu: %zu records came back, %zu were "
			 "acknowledged (+%zu in flight)",
			 (unsigned long long)seed, got->n, n,
			 inflight ? inflight->n : 0);
	for (size_t i = n; i < got->n; i++) {
		if (!trec_eq(&got->v[i], &inflight->v[i - n]))
			fail_msg("schedule %llu: record %zu is not the "
				 "batch's", (unsigned long long)seed, i);
		tlist_push(acked, &got->v[i]);
		pc->partial_kept++;
	}
}

static void pc_schedule(uint64_t seed, struct pc_counts *pc)
{
	struct tl_rng rng;
	tl_rng_init(&rng, seed);
	struct simdisk *sd = simdisk_create(tl_mix(seed));
	struct sink k = {0};
	struct tlist acked = {0}, batch = {0}, img = {0};
	struct sl_offsets *s = NULL;
	/* the first open can be cut too */
	if (tl_rng_below(&rng, 8) == 0)
		simdisk_cut_after(sd, tl_rng_below(&rng, 4));
	pc_recover(sd, seed, &k, &s, &acked, NULL, NULL, pc);
	int steps = (int)tl_rng_range(&rng, 5, 40);
	for (int step = 0; step < steps; step++) {
		if (tl_rng_below(&rng, 6) == 0)
			simdisk_cut_after(sd, tl_rng_below(&rng, 12));
		uint64_t op = tl_rng_below(&rng, 10);
		int rc;
		if (op < 7) {
			batch.n = 0;
			int n = (int)tl_rng_range(&rng, 1, 8);
			bool big = tl_rng_below(&rng, 4) == 0;
			for (int i = 0; i < n; i++) {
				struct trec r;
				gen_rec(&rng, &r, big);
				tlist_push(&batch, &r);
			}
			rc = append(s, batch.v, batch.n);
			pc->batches++;
			if (rc == 0) {
				for (size_t i = 0; i < batch.n; i++)
					tlist_push(&acked, &batch.v[i]);
				continue;
			}
			TL_TRUE(simdisk_dead(sd)); /* no other fault here */
			pc->cuts++;
			pc_recover(sd, seed, &k, &s, &acked, &batch, NULL, pc);
		} else if (op < 9) {
			img.n = 0;
			for (size_t i = 0; i < acked.n; i++)
				if (tl_rng_below(&rng, 2))
					tlist_push(&img, &acked.v[i]);
			rc = rewrite(s, &img);
			pc->rewrites++;
			if (rc == 0) {
				tlist_copy(&acked, &img);
				continue;
			}
			TL_TRUE(simdisk_dead(sd));
			pc->cuts++;
			pc_recover(sd, seed, &k, &s, &acked, NULL, &img, pc);
		} else {
			/* a clean restart, or a cut with nothing in flight */
			if (tl_rng_below(&rng, 2))
				simdisk_power_cut(sd);
			else
				simdisk_crash(sd);
			pc_recover(sd, seed, &k, &s, &acked, NULL, NULL, pc);
		}
	}
	/* and everything acknowledged survives a last cut */
	simdisk_cut_after(sd, 0);
	simdisk_power_cut(sd);
	pc_recover(sd, seed, &k, &s, &acked, NULL, NULL, pc);
	TL_EQ(tlist_eq(&k.got, &acked), 0);
	sl_offsets_close(s);
	TL_EQ(simdisk_open_handles(sd), 0);
	simdisk_destroy(sd);
	tlist_free(&acked);
	tlist_free(&batch);
	tlist_free(&img);
	tlist_free(&k.got);
	pc->schedules++;
}

static void test_power_cuts(void **state)
{
	(void)state;
	uint64_t seed = tl_seed("offsets power_cuts");
	int n = tl_long() ? 100000 : 3000;
	struct pc_counts pc = {0};
	for (int i = 0; i < n; i++)
		pc_schedule(tl_mix(seed + (uint64_t)i), &pc);
	printf("# %llu schedules, %llu batches, %llu rewrites, %llu cut "
	       "inside, %llu records of a cut batch kept\n",
	       (unsigned long long)pc.schedules,
	       (unsigned long long)pc.batches,
	       (unsigned long long)pc.rewrites, (unsigned long long)pc.cuts,
	       (unsigned long long)pc.partial_kept);
	/* the schedules reached what they are for */
	assert_true(pc.cuts > (uint64_t)n / 10);
	assert_true(pc.partial_kept > 0);
}

int main(void)
{
	umask(022); /* files are 0640 as created, whatever the caller's */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_bytes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_append_reload, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_damage_reported, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_version1, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_compaction, setup,
						teardown),
		cmocka_unit_test(test_failed_append),
		cmocka_unit_test(test_failed_rewrite),
		cmocka_unit_test(test_power_cuts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
