/*
 * storage/cleaner.h: log compaction, checked against a model.
 *
 * Each test appends records whose value names their offset ("v<offset>")
 * under a few keys, with small segments (64 KiB) so that a log has several
 * sealed ones, runs slog_clean, then reads the whole log back through
 * slog_read_copy and decodes every batch itself (the test decompresses
 * with zlib, snappy, liblz4 and libzstd directly, not through
 * storage/codec.c).  What must be there is given by the model (an array of
 * every record appended) and Kafka's rule: below the cleaned offset E, a
 * record stays if and only if it has a key, it is its key's last record
 * below E, and it is not a tombstone whose horizon has passed; at or
 * above E everything stays.  Batches must chain offset to offset (no
 * offset appears twice or goes back) while records keep their offsets,
 * with gaps where records went.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "simdisk.h"
#include "storage/cleaner.h"
#include "tl.h"

#define BATCH_CAP (256u << 10)
#define MAX_RECS 20000
#define XERIAL 5 /* test-only codec id: snappy with the Java framing */

struct mrec {
	int64_t off;
	int key;     /* -1: null key */
	bool tomb;   /* null value */
};

struct fx {
	char dir[PATH_MAX];
	char pdir[PATH_MAX];
	struct simdisk *sd;     /* NULL: the real disk */
	struct swriter *w;
	struct slog *log;
	struct scleaner *cl;
	struct slog_config cfg;
	struct scleaner_config ccfg;
	struct slog_clean_config lcfg;
	struct tl_clock clk;
	struct tl_durable dur;
	struct mrec *m;
	size_t n;
	uint8_t *batch, *tmp, *rbuf, *dec;
};

/* ---- set-up ---- */

static void fx_open(struct fx *f)
{
	int rc = slog_open(f->w, f->dir, &f->cfg, &f->log);
	if (rc < 0)
		fail_msg("slog_open(%s): %s", f->dir, tl_errname(rc));
}

static void fx_close(struct fx *f)
{
	TL_OK(slog_close(f->log));
	f->log = NULL;
}

static int setup_common(void **state, bool sim)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	if (sim) {
		f->sd = simdisk_create(tl_seed("cleaner powercut"));
		strcpy(f->dir, "/data");
		wc.disk = simdisk_disk(f->sd);
	} else if (tl_tmpdir(f->dir, "cleaner") < 0) {
		free(f);
		return -1;
	}
	if (swriter_create(&wc, &f->w) < 0)
		return -1;
	tl_clock_init(&f->clk);
	tl_durable_init(&f->dur);
	tl_config(&f->cfg, &f->dur, &f->clk);
	tl_partition_dir(f->pdir, f->dir, f->cfg.topic, f->cfg.partition);
	scleaner_config_defaults(&f->ccfg);
	f->ccfg.map_bytes = 4u << 20;
	f->ccfg.records_max_bytes = 4u << 20;
	f->ccfg.clock = &f->clk.sl;
	if (scleaner_create(&f->ccfg, &f->cl) < 0)
		return -1;
	slog_clean_config_defaults(&f->lcfg);
	f->lcfg.min_cleanable_dirty_ratio = 0.0;
	f->m = calloc(MAX_RECS, sizeof(*f->m));
	f->batch = malloc(BATCH_CAP);
	f->tmp = malloc(BATCH_CAP);
	f->rbuf = malloc(TL_READ_CAP);
	f->dec = malloc(4u << 20);
	*state = f;
	fx_open(f);
	return 0;
}

static int setup(void **state)
{
	return setup_common(state, false);
}

static int setup_sim(void **state)
{
	return setup_common(state, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->log)
		slog_close(f->log);
	scleaner_destroy(f->cl);
	swriter_destroy(f->w);
	if (f->sd)
		simdisk_destroy(f->sd);
	else
		tl_rmrf(f->dir);
	free(f->m);
	free(f->batch);
	free(f->tmp);
	free(f->rbuf);
	free(f->dec);
	free(f);
	return 0;
}

/* ---- batches, compressed with the libraries ---- */

static size_t compress_with(int codec, const uint8_t *in, size_t len,
			    uint8_t *out, size_t cap)
{
	switch (codec) {
	case 1: {
		z_stream z;
		memset(&z, 0, sizeof(z));
		assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8,
					      Z_DEFAULT_STRATEGY), Z_OK);
		z.next_in = (Bytef *)in;
		z.avail_in = (uInt)len;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
		size_t n = z.total_out;
		deflateEnd(&z);
		return n;
	}
	case 2: {
		size_t n = cap;
		assert_int_equal(snappy_compress((const char *)in, len,
						 (char *)out, &n), SNAPPY_OK);
		return n;
	}
	case XERIAL: {
		static const uint8_t h[16] = { 0x82, 'S', 'N', 'A', 'P', 'P',
					       'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1 };
		memcpy(out, h, sizeof(h));
		size_t n = cap - 20;
		assert_int_equal(snappy_compress((const char *)in, len,
						 (char *)out + 20, &n),
				 SNAPPY_OK);
		rb_put32(out + 16, (uint32_t)n);
		return n + 20;
	}
	case 3: {
		LZ4F_preferences_t p;
		memset(&p, 0, sizeof(p));
		size_t n = LZ4F_compressFrame(out, cap, in, len, &p);
		assert_false(LZ4F_isError(n));
		return n;
	}
	case 4: {
		size_t n = ZSTD_compress(out, cap, in, len, 3);
		assert_false(ZSTD_isError(n));
		return n;
	}
	}
	fail_msg("codec %d", codec);
	return 0;
}

static long decompress_with(int codec, const uint8_t *in, size_t len,
			    uint8_t *out, size_t cap)
{
	switch (codec) {
	case 1: {
		z_stream z;
		memset(&z, 0, sizeof(z));
		if (inflateInit2(&z, 15 + 32) != Z_OK)
			return -1;
		z.next_in = (Bytef *)in;
		z.avail_in = (uInt)len;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		int rc = inflate(&z, Z_FINISH);
		long n = (long)z.total_out;
		inflateEnd(&z);
		return rc == Z_STREAM_END ? n : -1;
	}
	case 2: {
		size_t n = cap, done = 0;
		if (len >= 16 && in[0] == 0x82 && !memcmp(in + 1, "SNAPPY", 6)) {
			for (size_t pos = 16; pos + 4 <= len;) {
				uint32_t b = rb_be32(in + pos);
				n = cap - done;
				if (snappy_uncompress((const char *)in + pos + 4,
						      b, (char *)out + done,
						      &n) != SNAPPY_OK)
					return -1;
				done += n;
				pos += 4 + b;
			}
			return (long)done;
		}
		if (snappy_uncompress((const char *)in, len, (char *)out, &n) !=
		    SNAPPY_OK)
			return -1;
		return (long)n;
	}
	case 3: {
		LZ4F_dctx *d;
		LZ4F_createDecompressionContext(&d, LZ4F_VERSION);
		size_t dst = cap, src = len;
		size_t rc = LZ4F_decompress(d, out, &dst, in, &src, NULL);
		LZ4F_freeDecompressionContext(d);
		return LZ4F_isError(rc) || rc != 0 ? -1 : (long)dst;
	}
	case 4: {
		size_t n = ZSTD_decompress(out, cap, in, len);
		return ZSTD_isError(n) ? -1 : (long)n;
	}
	}
	return -1;
}

/*
 * Append one batch of nrec records: key keys[i] (-1 null), a tombstone
 * where tomb[i], codec as given (XERIAL: snappy, Java framing), producer
 * pid (-1 none).  The values name the offsets the log will give.
 */
static void append_recs(struct fx *f, int nrec, const int *keys,
			const bool *tomb, int codec, int64_t pid)
{
	struct rb_builder b;
	char key[16], val[160];
	int64_t base = slog_end_offset(f->log);
	int64_t ts = f->clk.wall_ms;
	rb_builder_init(&b, f->batch, BATCH_CAP, ts);
	if (pid >= 0)
		rb_builder_set_producer(&b, pid, 0, (int32_t)(base % 100000));
	for (int i = 0; i < nrec; i++) {
		int kl = snprintf(key, sizeof(key), "k%03d", keys[i]);
		int vl = snprintf(val, sizeof(val), "v%lld-%0100d",
				  (long long)(base + i), keys[i]);
		TL_OK(rb_builder_add(&b, keys[i] >= 0 ? key : NULL, kl,
				     tomb && tomb[i] ? NULL : val, vl, ts));
		assert_true(f->n < MAX_RECS);
		f->m[f->n++] = (struct mrec){ base + i, keys[i],
					      tomb && tomb[i] };
	}
	long len = rb_builder_finish(&b);
	assert_true(len > 0);
	if (codec) {
		size_t z = compress_with(codec, f->batch + RB_HEADER_BYTES,
					 (size_t)len - RB_HEADER_BYTES,
					 f->tmp, BATCH_CAP);
		memcpy(f->batch + RB_HEADER_BYTES, f->tmp, z);
		len = RB_HEADER_BYTES + (long)z;
		rb_put32(f->batch + RB_OFF_LENGTH,
			 (uint32_t)(len - RB_LOG_OVERHEAD));
		rb_put16(f->batch + RB_OFF_ATTRIBUTES,
			 (uint16_t)(codec == XERIAL ? 2 : codec));
		rb_put32(f->batch + RB_OFF_CRC,
			 rb_crc32c(f->batch + RB_CRC_START,
				   (size_t)len - RB_CRC_START));
	}
	struct slog_append_result res;
	TL_OK(tl_append(f->w, f->log, f->batch, (size_t)len, &res));
	TL_EQ(res.base_offset, base);
}

/* nbatches batches of 5 records over nkeys keys (round robin). */
static void append_many(struct fx *f, int nbatches, int nkeys, int codec)
{
	int keys[5];
	for (int i = 0; i < nbatches; i++) {
		for (int j = 0; j < 5; j++)
			keys[j] = (int)((f->n + (size_t)j) % (size_t)nkeys);
		append_recs(f, 5, keys, NULL, codec, -1);
	}
}

static void fx_sync(struct fx *f)
{
	TL_OK(slog_sync(f->log));
}

/* Run slog_clean until nothing is due; returns the passes completed. */
static int clean_all(struct fx *f, uint64_t budget)
{
	int passes = 0;
	struct slog_clean_progress p;
	for (int i = 0; i < 100000; i++) {
		int rc = slog_clean(f->cl, f->log, &f->lcfg, budget, &p);
		if (rc < 0)
			fail_msg("slog_clean: %s", tl_errname(rc));
		passes += p.pass_done;
		if (rc == 0 && !p.in_pass)
			return passes;
	}
	fail_msg("slog_clean never finished");
	return -1;
}

/* ---- reading back ---- */

struct got {
	int64_t off;
	int key;
	bool tomb;
	int codec;
	int64_t batch_base;
};

/* Read the whole log; check batch chaining and that every record's value
 * names its offset.  Returns the records (malloc'd) and their count. */
static struct got *read_all(struct fx *f, size_t *count, int *empty_batches)
{
	struct got *g = calloc(MAX_RECS, sizeof(*g));
	size_t n = 0;
	int empties = 0;
	int64_t off = slog_start_offset(f->log), end = slog_end_offset(f->log);
	int64_t expect = off;
	/* bounded: every read moves off forward */
	for (int rounds = 0; off < end && rounds < 100000; rounds++) {
		ssize_t len = slog_read_copy(f->log, off, 1u << 20, end,
					     f->rbuf, TL_READ_CAP);
		if (len <= 0)
			fail_msg("read at %lld: %s", (long long)off,
				 tl_errname(len));
		for (size_t pos = 0; pos < (size_t)len;) {
			uint8_t *b = f->rbuf + pos;
			size_t bl = rb_be32(b + RB_OFF_LENGTH) + RB_LOG_OVERHEAD;
			int64_t base = (int64_t)rb_be64(b);
			if (base != expect)
				fail_msg("batch at %lld, expected %lld",
					 (long long)base, (long long)expect);
			TL_EQ(rb_crc32c(b + RB_CRC_START, bl - RB_CRC_START),
			      rb_be32(b + RB_OFF_CRC));
			int codec = rb_be16(b + RB_OFF_ATTRIBUTES) & 7;
			int32_t cnt = (int32_t)rb_be32(b + RB_OFF_RECORD_COUNT);
			const uint8_t *set = b + RB_HEADER_BYTES;
			long sl = (long)(bl - RB_HEADER_BYTES);
			if (codec && cnt) {
				sl = decompress_with(codec, set, (size_t)sl,
						     f->dec, 4u << 20);
				assert_true(sl >= 0);
				set = f->dec;
			}
			empties += cnt == 0;
			/* rebuild a plain batch around the set to iterate it */
			memcpy(f->tmp, b, RB_HEADER_BYTES);
			rb_put16(f->tmp + RB_OFF_ATTRIBUTES, 0);
			memcpy(f->tmp + RB_HEADER_BYTES, set, (size_t)sl);
			struct rb_iter it;
			struct rb_record r;
			TL_OK(rb_iter_init(&it, f->tmp, RB_HEADER_BYTES + (size_t)sl));
			int64_t prev = -1;
			for (int32_t i = 0; i < cnt; i++) {
				TL_EQ(rb_iter_next(&it, &r), 1);
				assert_true(r.offset > prev && r.offset >= base &&
					    r.offset <= rb_last_offset(b));
				prev = r.offset;
				int key = -1;
				if (r.key)
					assert_int_equal(sscanf((const char *)r.key,
								"k%d", &key), 1);
				if (r.value) {
					long long v;
					assert_int_equal(sscanf((const char *)r.value,
								"v%lld-", &v), 1);
					TL_EQ(v, r.offset);
				}
				assert_true(n < MAX_RECS);
				g[n++] = (struct got){ r.offset, key, !r.value,
						       codec, base };
			}
			expect = rb_last_offset(b) + 1;
			pos += bl;
		}
		off = expect;
	}
	TL_EQ(expect, end);
	*count = n;
	if (empty_batches)
		*empty_batches = empties;
	return g;
}

/* Kafka's rule for record i of the model, E the cleaned offset. */
static bool expected(const struct fx *f, size_t i, int64_t E, bool tombs_gone)
{
	const struct mrec *r = &f->m[i];
	if (r->off >= E)
		return true;
	if (r->key < 0)
		return false;
	for (size_t j = i + 1; j < f->n && f->m[j].off < E; j++)
		if (f->m[j].key == r->key)
			return false; /* a later record of the key */
	return !(r->tomb && tombs_gone);
}

/* The log holds exactly what the model says.  Returns records read. */
static size_t check_model(struct fx *f, bool tombs_gone)
{
	size_t n;
	int64_t E = slog_clean_offset(f->log);
	struct got *g = read_all(f, &n, NULL);
	size_t j = 0;
	for (size_t i = 0; i < f->n; i++) {
		bool want = f->m[i].off >= slog_start_offset(f->log) &&
			    expected(f, i, E, tombs_gone);
		bool have = j < n && g[j].off == f->m[i].off;
		if (want != have)
			fail_msg("offset %lld (key %d%s): %s, expected %s "
				 "(cleaned up to %lld)",
				 (long long)f->m[i].off, f->m[i].key,
				 f->m[i].tomb ? ", tombstone" : "",
				 have ? "present" : "absent",
				 want ? "present" : "absent", (long long)E);
		if (have) {
			TL_EQ(g[j].key, f->m[i].key);
			TL_EQ(g[j].tomb, f->m[i].tomb);
			j++;
		}
	}
	TL_EQ(j, n); /* nothing the model does not know */
	free(g);
	return n;
}

/* ---- tests ---- */

/* Keys overwritten many times keep only their last value; offsets stay
 * in order with gaps; the active segment is not touched; reopen reads
 * the same. */
static void test_last_value_per_key(void **state)
{
	struct fx *f = *state;
	append_many(f, 400, 17, 0);
	fx_sync(f);
	TL_TRUE(slog_segment_count(f->log) >= 3);
	/* the active segment, byte for byte */
	char apath[PATH_MAX];
	unsigned nseg = slog_segment_count(f->log);
	int64_t bases[64];
	TL_EQ(tl_list_segments(f->pdir, bases, 64), (long long)nseg);
	tl_segment_path(apath, f->pdir, bases[nseg - 1], ".log");
	uint8_t *before, *after;
	long long blen = tl_read_file(apath, &before);
	TL_TRUE(blen > 0);

	TL_EQ(clean_all(f, 64u << 10), 1);
	TL_EQ(slog_clean_offset(f->log), bases[nseg - 1]);
	size_t kept = check_model(f, false);
	TL_TRUE(kept < f->n / 2); /* it did compact */
	struct scleaner_stats st;
	scleaner_get_stats(f->cl, &st);
	TL_TRUE(st.records_removed > 0 && st.segments_cleaned >= 2);

	long long alen = tl_read_file(apath, &after);
	TL_EQ(alen, blen);
	TL_TRUE(!memcmp(before, after, (size_t)blen));
	free(before);
	free(after);

	/* nothing dirty: no second pass; appends go on after it */
	TL_EQ(clean_all(f, 64u << 10), 0);
	append_many(f, 10, 17, 0);
	fx_sync(f);
	fx_close(f);
	fx_open(f);
	TL_EQ(check_model(f, false), kept + 50);
	/* no file of the swap is left behind */
	TL_EQ(tl_list_segments(f->pdir, bases, 64), (long long)nseg);
}

/* A tombstone stays until delete.retention.ms after its first cleaning,
 * then goes on the next pass, due by its horizon alone. */
static void test_tombstones(void **state)
{
	struct fx *f = *state;
	f->lcfg.delete_retention_ms = 60000;
	append_many(f, 100, 9, 0);
	int keys[3] = { 1, 2, 3 };
	bool tomb[3] = { true, false, true };
	append_recs(f, 3, keys, tomb, 0, -1);
	append_many(f, 100, 5, 0); /* keys 0-4: 1..3 overwritten again */
	int k7[2] = { 7, 8 };
	bool t7[2] = { true, true };
	append_recs(f, 2, k7, t7, 0, -1); /* 7 and 8 end as tombstones */
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	TL_EQ(clean_all(f, 1u << 20), 1);
	check_model(f, false);
	struct scleaner_stats st;
	scleaner_get_stats(f->cl, &st);
	TL_EQ(st.tombstones_removed, 0);

	f->clk.wall_ms += 59999; /* before the horizon: nothing due */
	TL_EQ(clean_all(f, 1u << 20), 0);
	check_model(f, false);
	f->clk.wall_ms += 2;     /* past it */
	TL_EQ(clean_all(f, 1u << 20), 1);
	check_model(f, true);
	scleaner_get_stats(f->cl, &st);
	TL_EQ(st.tombstones_removed, 2);
	/* and after a reopen too */
	fx_close(f);
	fx_open(f);
	check_model(f, true);
}

/* Segments younger than min.compaction.lag.ms are not cleaned; the dirty
 * ratio gates a pass. */
static void test_lag_and_ratio(void **state)
{
	struct fx *f = *state;
	append_many(f, 150, 7, 0);
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	int64_t old_end = slog_end_offset(f->log);
	f->clk.wall_ms += 100000;
	append_many(f, 150, 7, 0);
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	f->lcfg.min_compaction_lag_ms = 50000;
	TL_EQ(clean_all(f, 1u << 20), 1);
	/* only the old segments were cleanable */
	TL_EQ(slog_clean_offset(f->log), old_end);
	check_model(f, false);

	/* the young ones are now the dirty part, most of the bytes */
	f->lcfg.min_compaction_lag_ms = 0;
	TL_EQ(clean_all(f, 1u << 20), 1);
	check_model(f, false);

	/* keys that are never overwritten: nothing goes, the clean part
	 * stays big, and a little dirt over it is below the ratio */
	append_many(f, 300, 1000000, 0);
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	TL_EQ(clean_all(f, 1u << 20), 1);
	int64_t e = slog_clean_offset(f->log);
	TL_EQ(e, slog_end_offset(f->log));
	append_many(f, 30, 1000000, 0);
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	f->lcfg.min_cleanable_dirty_ratio = 0.5;
	TL_EQ(clean_all(f, 1u << 20), 0);
	TL_EQ(slog_clean_offset(f->log), e);
	/* dirt up to more than half the cleanable bytes: due */
	append_many(f, 400, 1000000, 0);
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	TL_EQ(clean_all(f, 1u << 20), 1);
	TL_EQ(slog_clean_offset(f->log), slog_end_offset(f->log));
	check_model(f, false);
}

/* Every codec is decompressed, compacted, and written back with its own
 * codec (snappy with the framing it came with). */
static void test_codecs(void **state)
{
	struct fx *f = *state;
	static const int codecs[] = { 1, 2, XERIAL, 3, 4 };
	/* keys of their own per codec, so each codec has survivors */
	int keys[5];
	for (unsigned c = 0; c < 5; c++)
		for (int i = 0; i < 40; i++) {
			for (int j = 0; j < 5; j++)
				keys[j] = 100 * (int)c + (i * 5 + j) % 11;
			append_recs(f, 5, keys, NULL, codecs[c], -1);
		}
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	TL_EQ(clean_all(f, 1u << 20), 1);
	size_t n;
	struct got *g = read_all(f, &n, NULL);
	check_model(f, false);
	/* each survivor is in a batch of its own codec */
	for (size_t i = 0, j = 0; i < f->n; i++) {
		if (j < n && g[j].off == f->m[i].off) {
			int want = codecs[i / 200];
			TL_EQ(g[j].codec, want == XERIAL ? 2 : want);
			j++;
		}
	}
	free(g);
	/* the rebuilt snappy batches kept the framing they came with: the
	 * Java client's for offsets 400-599, raw for 200-399 */
	int xerial_seen = 0, raw_seen = 0;
	int64_t off = slog_start_offset(f->log), end = slog_end_offset(f->log);
	for (int rounds = 0; off < end && rounds < 10000; rounds++) {
		ssize_t len = slog_read_copy(f->log, off, TL_READ_CAP, end,
					     f->rbuf, TL_READ_CAP);
		TL_TRUE(len > 0);
		for (size_t pos = 0; pos < (size_t)len;) {
			uint8_t *b = f->rbuf + pos;
			uint32_t cnt = rb_be32(b + RB_OFF_RECORD_COUNT);
			int64_t base = (int64_t)rb_be64(b);
			if ((rb_be16(b + RB_OFF_ATTRIBUTES) & 7) == 2 &&
			    cnt > 0 && cnt < 5) {
				bool x = b[RB_HEADER_BYTES] == 0x82;
				TL_EQ(x, base >= 400);
				xerial_seen += x;
				raw_seen += !x;
			}
			pos += rb_be32(b + RB_OFF_LENGTH) + RB_LOG_OVERHEAD;
			off = rb_last_offset(b) + 1;
		}
	}
	TL_TRUE(raw_seen > 0);
	TL_TRUE(xerial_seen > 0);
	struct scleaner_stats st;
	scleaner_get_stats(f->cl, &st);
	TL_EQ(st.batches_kept_whole, 0);
	TL_TRUE(st.batches_rebuilt > 0);
}

/* Small steps between appends: appends and reads go on while a pass is
 * under way; the rate bound holds the cleaner back. */
static void test_steps_and_rate(void **state)
{
	struct fx *f = *state;
	append_many(f, 300, 13, 0);
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	struct slog_clean_progress p;
	int steps = 0, done = 0;
	for (int i = 0; i < 10000 && !done; i++) {
		int rc = slog_clean(f->cl, f->log, &f->lcfg, 8192, &p);
		TL_TRUE(rc >= 0);
		steps++;
		done = p.pass_done;
		/* one step does not run away with the budget: at most one
		 * batch and a segment's swap past it */
		TL_TRUE(p.bytes_read + p.bytes_written < 8192 + 3 * (64u << 10));
		if (i % 3 == 0) {
			append_many(f, 1, 13, 0);
			fx_sync(f);
		}
		if (i % 5 == 0) {
			size_t n;
			free(read_all(f, &n, NULL));
		}
	}
	TL_TRUE(done);
	TL_TRUE(steps > 10);
	check_model(f, false);

	/* the rate bound: 100 KiB/s on the fake monotonic clock */
	scleaner_destroy(f->cl);
	f->ccfg.io_bytes_per_sec = 100u << 10;
	TL_OK(scleaner_create(&f->ccfg, &f->cl));
	append_many(f, 300, 13, 0);
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	uint64_t total = 0;
	int throttled = 0;
	done = 0;
	for (int i = 0; i < 100000 && !done; i++) {
		int rc = slog_clean(f->cl, f->log, &f->lcfg, 1u << 20, &p);
		TL_TRUE(rc >= 0);
		total += p.bytes_read + p.bytes_written;
		throttled += p.throttled;
		done = p.pass_done;
		f->clk.mono_ns += 10000000; /* 10 ms */
		/* never more than a second's worth plus one batch ahead of
		 * the clock */
		TL_TRUE(total <= (uint64_t)(i + 1) * 1024 + (100u << 10) +
					 (256u << 10));
	}
	TL_TRUE(done);
	TL_TRUE(throttled > 0);
	check_model(f, false);
}

/* Producer state: a producer's last batch stays as an empty batch when
 * every record in it goes; keyless records go (Kafka). */
static void test_producer_and_keyless(void **state)
{
	struct fx *f = *state;
	int k1[2] = { 1, 2 };
	append_recs(f, 2, k1, NULL, 0, 77); /* producer 77's only batch */
	int kn[2] = { -1, 3 };
	append_recs(f, 2, kn, NULL, 0, -1);
	append_many(f, 200, 5, 0); /* overwrites keys 1, 2, 3 */
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	TL_EQ(clean_all(f, 1u << 20), 1);
	check_model(f, false);
	uint8_t hdr[RB_HEADER_BYTES];
	ssize_t n = slog_read_copy(f->log, 0, 1, slog_end_offset(f->log),
				   f->rbuf, TL_READ_CAP);
	TL_TRUE(n >= (ssize_t)sizeof(hdr));
	/* offsets 0-1: producer 77's batch, empty but whole */
	TL_EQ((int64_t)rb_be64(f->rbuf), 0);
	TL_EQ((int64_t)rb_be64(f->rbuf + RB_OFF_PRODUCER_ID), 77);
	TL_EQ(rb_be32(f->rbuf + RB_OFF_RECORD_COUNT), 0);
	TL_EQ(rb_last_offset(f->rbuf), 1);
	struct scleaner_stats st;
	scleaner_get_stats(f->cl, &st);
	TL_EQ(st.keyless_removed, 1);
	TL_EQ(st.batches_emptied, 1);
}

/* A transactional batch and a control batch (a COMMIT marker: its key is
 * the same for every marker) stay byte for byte while the keys they hold
 * are overwritten and compacted away elsewhere: without the aborted
 * list the cleaner cannot tell a committed record from an aborted one. */
static void test_transactions_kept(void **state)
{
	struct fx *f = *state;
	static uint8_t txn[512], ctl[512];
	long lens[2];
	for (int k = 0; k < 2; k++) {
		uint8_t *b = k ? ctl : txn;
		struct rb_builder rb;
		rb_builder_init(&rb, b, 512, f->clk.wall_ms);
		rb_builder_set_producer(&rb, 9, 0, k ? -1 : 0);
		static const uint8_t commit_key[4] = { 0, 0, 0, 1 };
		static const uint8_t value[6] = { 0, 0, 0, 0, 0, 3 };
		if (k)
			TL_OK(rb_builder_add(&rb, commit_key, 4, value, 6,
					     f->clk.wall_ms));
		else
			for (int i = 0; i < 2; i++)
				TL_OK(rb_builder_add(&rb, i ? "k002" : "k001",
						     4, "t", 1, f->clk.wall_ms));
		lens[k] = rb_builder_finish(&rb);
		TL_TRUE(lens[k] > 0);
		rb_put16(b + RB_OFF_ATTRIBUTES,
			 k ? RB_ATTR_TRANSACTIONAL | RB_ATTR_CONTROL
			   : RB_ATTR_TRANSACTIONAL);
		rb_put32(b + RB_OFF_CRC, rb_crc32c(b + RB_CRC_START,
						   (size_t)lens[k] - RB_CRC_START));
		/* as the storage core appends a marker it built (a client
		 * may not send one: slog_append refuses it) */
		struct slog_append_result res;
		TL_OK(slog_append_validated(f->log, b, (size_t)lens[k], &res));
		TL_EQ(res.base_offset, k ? 2 : 0); /* stamped in b too */
	}
	append_many(f, 200, 5, 0); /* overwrites k001 and k002 */
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	TL_EQ(clean_all(f, 1u << 20), 1);
	struct scleaner_stats st;
	scleaner_get_stats(f->cl, &st);
	TL_TRUE(st.records_removed > 0);
	ssize_t n = slog_read_copy(f->log, 0, (size_t)(lens[0] + lens[1]),
				   slog_end_offset(f->log), f->rbuf,
				   TL_READ_CAP);
	TL_TRUE(n >= lens[0] + lens[1]);
	TL_TRUE(!memcmp(f->rbuf, txn, (size_t)lens[0]));
	TL_TRUE(!memcmp(f->rbuf + lens[0], ctl, (size_t)lens[1]));
}

/* Names of a swap left in the partition directory. */
static int see_swap_file(void *arg, const char *name)
{
	int *n = arg;
	if (strstr(name, ".cleaned") || strstr(name, ".swap"))
		(*n)++;
	return 0;
}

/* The same log, from scratch, on a fresh simulated disk: a few sealed
 * segments of lz4 batches, tombstones, and an active segment. */
static void sim_world(struct fx *f, uint64_t seed)
{
	struct swriter_config wc;
	if (f->log)
		slog_close(f->log);
	f->log = NULL;
	scleaner_destroy(f->cl);
	swriter_destroy(f->w);
	simdisk_destroy(f->sd);
	f->sd = simdisk_create(seed);
	swriter_config_defaults(&wc);
	wc.disk = simdisk_disk(f->sd);
	TL_OK(swriter_create(&wc, &f->w));
	TL_OK(scleaner_create(&f->ccfg, &f->cl));
	tl_clock_init(&f->clk);
	f->n = 0;
	fx_open(f);
	append_many(f, 1200, 9, 3);
	int keys[2] = { 4, 5 };
	bool tomb[2] = { true, false };
	append_recs(f, 2, keys, tomb, 0, -1);
	fx_sync(f);
	TL_OK(slog_roll(f->log));
	append_many(f, 3, 9, 0);
	fx_sync(f);
}

/*
 * A power cut at each write, sync and namespace change of a pass, one run
 * per cut point (the simulated disk): after it the log opens, holds every
 * record that must stay whatever was cleaned, nothing the model does not
 * know, chained batches (every segment old or new, whole), and no file
 * of the swap is left.  A second pass then finishes the job.
 */
static void test_powercut_swap(void **state)
{
	struct fx *f = *state;
	uint64_t seed = tl_seed("cleaner powercut");
	int cuts = 0;
	for (uint64_t k = 1; k < 100000; k++) {
		sim_world(f, seed + k);
		int64_t range = slog_end_offset(f->log) - 15; /* active base */
		struct slog_clean_progress p;
		bool died = false;
		simdisk_cut_after(f->sd, k);
		for (int i = 0; i < 10000; i++) {
			int rc = slog_clean(f->cl, f->log, &f->lcfg, 16384, &p);
			if (simdisk_dead(f->sd)) {
				died = true;
				break;
			}
			TL_TRUE(rc >= 0);
			if (rc == 0 && !p.in_pass)
				break;
		}
		if (!died) {
			/* the whole pass ran without reaching the cut */
			simdisk_cut_after(f->sd, 0);
			check_model(f, false);
			break;
		}
		cuts++;
		slog_close(f->log); /* fails: the power is gone */
		f->log = NULL;
		simdisk_power_on(f->sd);
		fx_open(f);
		size_t n;
		struct got *g = read_all(f, &n, NULL);
		size_t j = 0;
		for (size_t i = 0; i < f->n; i++) {
			bool must = expected(f, i, range, false);
			bool have = j < n && g[j].off == f->m[i].off;
			if (must && !have)
				fail_msg("cut %llu: offset %lld lost",
					 (unsigned long long)k,
					 (long long)f->m[i].off);
			if (have) {
				TL_EQ(g[j].key, f->m[i].key);
				j++;
			}
		}
		TL_EQ(j, n); /* every record read is one appended */
		free(g);
		int left = 0;
		TL_OK(sd_list(simdisk_disk(f->sd), f->pdir, see_swap_file, &left));
		TL_EQ(left, 0);
		/* and cleaning again gets to the end */
		TL_TRUE(clean_all(f, 1u << 20) <= 1);
		check_model(f, false);
	}
	TL_TRUE(cuts > 20);
	fprintf(stderr, "cleaner powercut: %d cut points inside a pass\n",
		cuts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_last_value_per_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tombstones, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lag_and_ratio, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_codecs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steps_and_rate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_transactions_kept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_producer_and_keyless,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_powercut_swap, setup_sim,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
