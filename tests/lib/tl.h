/*
 * tl: helpers shared by sluice's tests.
 *
 *   - seeds and a small deterministic PRNG (every randomised test prints its
 *     seed; SLUICE_SEED replays it, SLUICE_LONG=1 asks for more rounds);
 *   - temporary directories on the real disk (O_DIRECT needs a filesystem
 *     that supports it: SLUICE_TEST_TMPDIR, set by tests/meson.build to the
 *     build directory, else /var/tmp), recursive copy and removal;
 *   - a fake clock behind struct sl_clock that only moves when told;
 *   - deterministic batch generators: the same (seed, index) always gives
 *     the same bytes, so a process that dies can be checked by another;
 *   - an expected-contents list (the trivially correct model of a log) and
 *     helpers that read a log back and compare it with that list.
 *
 * Helpers never abort: they return -1 (or a negative code) and print what
 * differed, so that the test's assertion says where and this says why.
 */
#ifndef SLUICE_TESTS_TL_H
#define SLUICE_TESTS_TL_H

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>
#include <sys/types.h>

#include <cmocka.h>

#include "proto/record_batch.h"
#include "sluice/error.h"
#include "storage/log.h"

/* cmocka prints integers as unsigned hex; these print signed decimals and
 * the error's name where it is one. */
#define TL_EQ(a, b)                                                          \
	do {                                                                 \
		long long tl_a_ = (long long)(a), tl_b_ = (long long)(b);    \
		if (tl_a_ != tl_b_)                                          \
			fail_msg("%s:%d: %s = %lld (%s), expected %s = %lld "  \
				 "(%s)", __FILE__, __LINE__, #a, tl_a_,       \
				 tl_errname(tl_a_), #b, tl_b_,                \
				 tl_errname(tl_b_));                          \
	} while (0)
#define TL_OK(x) TL_EQ((x), 0)
#define TL_TRUE(c)                                                           \
	do {                                                                 \
		if (!(c))                                                    \
			fail_msg("%s:%d: %s is false", __FILE__, __LINE__,   \
				 #c);                                         \
	} while (0)

/* "SL_ECRC", "-ENOSPC", or "" for other values. */
const char *tl_errname(long long rc);

/* ---- seeds and randomness ---- */

/* SLUICE_SEED if set, else a fresh one; printed to stdout and stderr with
 * the test's name and how to replay it. */
uint64_t tl_seed(const char *test_name);
/* 1 when SLUICE_LONG=1. */
int tl_long(void);

struct tl_rng {
	uint64_t s;
};
void tl_rng_init(struct tl_rng *r, uint64_t seed);
uint64_t tl_rng_next(struct tl_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t tl_rng_below(struct tl_rng *r, uint64_t n);
/* Uniform in [lo, hi]. */
int64_t tl_rng_range(struct tl_rng *r, int64_t lo, int64_t hi);
/* splitmix64 finaliser: a good hash of one word. */
uint64_t tl_mix(uint64_t x);

/* ---- decoders at the edge of memory ---- */

/* bytes of memory followed by an unmapped page (a read past their end
 * faults), mapped once; NULL when mmap fails. */
uint8_t *tl_guarded(size_t bytes);
/* n (<= bytes) bytes of src copied to end right before g's unmapped
 * page (g: tl_guarded(bytes)). */
uint8_t *tl_at_edge(uint8_t *g, size_t bytes, const uint8_t *src, size_t n);
/* The 16-byte native frame header as proto/native.h lays it out, written
 * byte by byte (independent of its encoder). */
void tl_native_header(uint8_t *p, uint8_t opcode, uint32_t length,
		      uint32_t corr, int16_t error);

/* ---- directories ---- */

/* Create a fresh directory tl-<tag>-XXXXXX under SLUICE_TEST_TMPDIR or
 * /var/tmp.  out must hold PATH_MAX.  Returns 0 or -errno. */
int tl_tmpdir(char *out, const char *tag);
/* rm -rf path.  Returns 0 or -errno (missing is fine). */
int tl_rmrf(const char *path);
/* Copy the tree src to dst (dst must not exist). */
int tl_copy_tree(const char *src, const char *dst);
/* snprintf into a PATH_MAX buffer; aborts when the path does not fit. */
void tl_pathf(char *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* <base>/<topic>-<partition> into out (PATH_MAX). */
void tl_partition_dir(char *out, const char *base, const char *topic,
		      int32_t partition);
/* <partition dir>/<20-digit base>.log into out (PATH_MAX). */
void tl_segment_path(char *out, const char *pdir, int64_t base,
		     const char *ext);
/* Base offsets of the *.log files in pdir, sorted; returns the count
 * (at most cap) or -errno. */
int tl_list_segments(const char *pdir, int64_t *bases, int cap);
/* Size of a file, or -errno. */
long long tl_file_size(const char *path);
/* Whole-file read into a malloc'd buffer; returns size or -errno. */
long long tl_read_file(const char *path, uint8_t **out);

/* ---- fake clock ---- */

struct tl_clock {
	struct sl_clock sl; /* hand &c->sl to slog_config.clock */
	uint64_t mono_ns;   /* what mono_ns() returns; tests move it */
	int64_t wall_ms;    /* what wall_ms() returns; tests move it */
	uint64_t mono_calls;
	uint64_t wall_calls;
};
/* Start at mono 1 s and wall 1,700,000,000,000 ms (2023). */
void tl_clock_init(struct tl_clock *c);

/* ---- batch generation ---- */

struct tl_gen {
	int max_records;     /* 1..max_records records per batch */
	int max_value_bytes; /* values of 0..max_value_bytes bytes */
	int max_key_bytes;   /* keys of 0..max; 1 in 8 keys is null */
	int64_t ts_base_ms;  /* record j of batch i: ts_base + i*1000 + j */
};

/*
 * Build batch number index of the stream seed into buf (cap bytes), its
 * base offset 0 and leader epoch -1 as a producer sends it.  Always the
 * same bytes for the same arguments.  Returns the size, or -ENOBUFS.
 */
long tl_gen_batch(uint8_t *buf, size_t cap, uint64_t seed, uint64_t index,
		  const struct tl_gen *g);
/* Records in batch index (without building it). */
int tl_gen_count(uint64_t seed, uint64_t index, const struct tl_gen *g);

/* A batch of exactly total bytes (>= 80) with nrec records (>= 1), values
 * filled from fill.  Returns total or -ENOBUFS/-EINVAL. */
long tl_make_sized(uint8_t *buf, size_t total, int nrec, int64_t ts_ms,
		   uint64_t fill);
/* Like tl_make_sized with explicit timestamps for each record. */
long tl_make_ts(uint8_t *buf, size_t cap, int nrec, const int64_t *ts_ms,
		size_t value_bytes, uint64_t fill);

/* ---- expected contents: the model of a log ---- */

struct tl_batch {
	int64_t base;
	int64_t last;
	uint32_t len;
	uint8_t *bytes; /* stamped, exactly what a read must return */
};

struct tl_batches {
	struct tl_batch *v;
	size_t n, cap;
	int64_t start; /* first offset kept (retention) */
	int64_t end;   /* next offset */
};

void tl_batches_init(struct tl_batches *m);
void tl_batches_free(struct tl_batches *m);
/* Append a copy of batch (not yet stamped) as the log would: at m->end,
 * stamped with epoch.  Returns the index. */
size_t tl_batches_add(struct tl_batches *m, const uint8_t *batch,
		      size_t len, int32_t epoch);
/* Remove every batch at or after offset (whole); returns the new end. */
int64_t tl_batches_truncate(struct tl_batches *m, int64_t offset);
/* Drop batches whose base is below start (retention). */
void tl_batches_drop_below(struct tl_batches *m, int64_t start);
/* Index of the batch holding offset, or -1. */
long tl_batches_find(const struct tl_batches *m, int64_t offset);
/* Bytes from batch i to the end. */
uint64_t tl_batches_bytes_from(const struct tl_batches *m, size_t i);

/* ---- driving a log ---- */

/* Records durable_cb calls. */
struct tl_durable {
	int64_t last_end;    /* last durable_end seen with err == 0 */
	int64_t err_end;     /* durable_end reported with the last error */
	int last_err;        /* last err < 0 seen, 0 if none */
	unsigned calls;
	unsigned errors;
	unsigned not_increasing; /* err == 0 calls with end <= previous */
};
void tl_durable_init(struct tl_durable *d);
/* Use as slog_config.durable_cb with cb_ctx = struct tl_durable *. */
void tl_durable_cb(void *ctx, struct slog *log, int64_t durable_end,
		   int err);

/* Quiet log_fn: keeps the last line, prints errors and warnings only when
 * SLUICE_VERBOSE is set (use as log_fn with log_ctx NULL). */
void tl_log_fn(void *ctx, int level, const char *line);

/* slog_config_defaults + topic "t", partition 0, small sizes for tests:
 * segment 64 KiB, batch max 256 KiB, buffer 1 MiB, durable_cb into d,
 * clock c (may be NULL), quiet log_fn. */
void tl_config(struct slog_config *cfg, struct tl_durable *d,
	       struct tl_clock *c);

/* slog_append, retrying SL_EFULL after swriter_wait (bounded). */
int tl_append(struct swriter *w, struct slog *log, uint8_t *batch,
	      size_t len, struct slog_append_result *res);
/* tl_append and, on success, tl_batches_add; checks the assigned offsets
 * against the model.  Returns 0 or the error (model unchanged). */
/* The log skipped [m->end, to) (offsets written before a failure are never
 * given again): check that one empty batch covers them and add it to m.
 * Returns 0 or -1 (printed).  tl_append_model calls it when it sees a
 * gap. */
int tl_model_skip(struct slog *log, struct tl_batches *m, int64_t to,
		  int32_t epoch);

int tl_append_model(struct swriter *w, struct slog *log,
		    struct tl_batches *m, uint8_t *batch, size_t len,
		    int32_t epoch);

/* slog_read, then the bytes copied into buf whether they come from the
 * tail cache or the file.  Returns bytes, 0, or the error. */
ssize_t tl_read_view(struct slog *log, int64_t offset, size_t max_bytes,
		     int64_t limit, uint8_t *buf, size_t cap,
		     struct slog_read_view *view_out);

/*
 * Check that data (len bytes read at offset) is whole batches, the first
 * holding offset (or starting at it), each byte-identical to the model's,
 * consecutive.  Returns the offset after the last batch, or -1 (printed).
 */
int64_t tl_check_read(const struct tl_batches *m, int64_t offset,
		      const uint8_t *data, size_t len);

/*
 * Read the whole log from its start to limit (slog_end_offset() when
 * limit < 0) through slog_read_copy (or tl_read_view when via_view), and
 * compare it with m: same start, end, and bytes.  Returns 0 or -1.
 */
int tl_check_log(struct slog *log, const struct tl_batches *m, int via_view);

/* Path of a buffer big enough for any read in the tests (4 MiB). */
#define TL_READ_CAP (4u << 20)

#endif
