/*
 * libFuzzer target for crash recovery of a partition log (storage/log.c
 * recover(), storage/recovery.c): slog_open on a partition directory whose
 * segment files, indexes and recovery point all come from the input, as a
 * power cut, a bad disk or a hand-edited directory could leave them.
 *
 * Input: one flags byte, then files, each
 *     u8 kind | u8 base | u16 length | length bytes
 * kind % 5: 0 <base>.log, 1 <base>.index, 2 <base>.timeindex,
 * 3 recovery-point, 4 a .log that is not a segment name; base picks the
 * segment's base offset from a small table (255: a u64 follows).  Flags:
 *   bit 0  repair what checksums guard: each .log's batches (walked by
 *          their length fields: magic 2 and the CRC32C), the recovery
 *          point's CRC32C;
 *   bit 1  also renumber each .log's batches to follow one another from
 *          the segment's base offset;
 *   bit 2  the recovery point carries this machine's boot id (a crash of
 *          the process alone, not a power cut).
 *
 * Properties:
 *   1. slog_open succeeds, or answers SL_ELAYOUT when a file is not a
 *      segment name (or names a base at or above 2^62): recovery never
 *      fails on what it finds on disk;
 *   2. when no valid recovery point vouches for any segment (every
 *      segment is scanned), the recovered log reads back from its start
 *      offset to its end offset as whole, valid batches (length, magic,
 *      CRC32C) whose offsets follow one another without gaps or
 *      overlaps; when one does, segments it vouches for are trusted by
 *      design (damage inside them is not looked for), but the log's last
 *      batch still reads back whole and ends at the end offset (the
 *      trusted tail is checked at open);
 *   3. a batch appended after recovery gets the end offset, survives a
 *      clean close and reopen byte for byte, and the reopened log ends
 *      right after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/record_batch.h"
#include "sluice/error.h"
#include "storage/disk.h"
#include "storage/log.h"
#include "fuzz_util.h"

#define INPUT_MAX (1u << 20)
#define BATCH_MAX (64u << 10)
#define READ_BYTES (256u << 10)
#define READS_MAX 100000

static char base_dir[PATH_MAX], part_dir[PATH_MAX];
static struct swriter *W;
static struct sdisk_ops fixed_ops;
static struct sdisk fixed_disk;
static const uint8_t boot_id[16] = { 0x5b, 0x00, 0x7a, 0x1d, 1, 2, 3, 4,
				     5, 6, 7, 8, 9, 10, 11, 12 };
static uint8_t *readbuf;
/* the recovery point slog_open will read: does it vouch for anything? */
static bool rp_trusts;

/* The posix disk with a boot id the input can name. */
static int fixed_boot_id(void *ctx, uint8_t id[16])
{
	(void)ctx;
	memcpy(id, boot_id, 16);
	return 0;
}

static void quiet(void *ctx, int level, const char *line)
{
	(void)ctx;
	(void)level;
	(void)line;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(base_dir, sizeof(base_dir), "%s/data", fz_tmpdir());
	snprintf(part_dir, sizeof(part_dir), "%s/fz-0", base_dir);
	fixed_ops = *sdisk_posix.ops;
	fixed_ops.boot_id = fixed_boot_id;
	fixed_disk = sdisk_posix;
	fixed_disk.ops = &fixed_ops;
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	wc.use_hugepages = 0;
	wc.register_buffers = 0;
	wc.queue_depth = 32;
	wc.max_logs = 4;
	wc.disk = &fixed_disk;
	int rc = swriter_create(&wc, &W);
	if (rc < 0) {
		fprintf(stderr, "recovery_fuzz: swriter_create: %d (io_uring "
			"unavailable?)\n", rc);
		abort();
	}
	readbuf = malloc(READ_BYTES);
	FUZZ_CHECK(readbuf != NULL);
	return 0;
}

static void config(struct slog_config *c)
{
	slog_config_defaults(c);
	c->topic = "fz";
	c->partition = 0;
	c->segment_bytes = 1u << 20;
	c->batch_max_bytes = BATCH_MAX;
	c->buffer_bytes = 2 * BATCH_MAX + 4 * 4096;
	c->write_chunk_bytes = 4096;
	c->index_interval_bytes = 512;
	c->log_fn = quiet;
}

static int64_t pick_base(struct fz_reader *r)
{
	static const int64_t bases[] = { 0, 1, 2, 5, 10, 100, 1000, 4096,
					 1ll << 20, 1ll << 31, 1ll << 40 };
	uint8_t b = fz_u8(r);
	if (b == 255)
		return (int64_t)(fz_u64(r) & INT64_MAX);
	return bases[b % (sizeof(bases) / sizeof(bases[0]))];
}

/* Make the batches of a .log valid by the segment rules where their
 * lengths allow; renumber them from base when asked. */
static void repair_log(uint8_t *f, size_t len, int64_t base, bool renumber)
{
	size_t pos = 0;
	int64_t next = base;
	while (pos + RB_HEADER_BYTES <= len) {
		size_t n = (size_t)rb_be32(f + pos + RB_OFF_LENGTH) +
			   RB_LOG_OVERHEAD;
		if (n < RB_HEADER_BYTES || n > len - pos)
			break;
		uint8_t *p = f + pos;
		p[RB_OFF_MAGIC] = RB_MAGIC;
		if ((int32_t)rb_be32(p + RB_OFF_LAST_OFFSET_DELTA) < 0)
			p[RB_OFF_LAST_OFFSET_DELTA] &= 0x7f;
		if ((int32_t)rb_be32(p + RB_OFF_RECORD_COUNT) < 0)
			p[RB_OFF_RECORD_COUNT] &= 0x7f;
		if (renumber) {
			rb_put64(p + RB_OFF_BASE_OFFSET, (uint64_t)next);
			/* wraps like the bytes would (a base near INT64_MAX
			 * is damage the log must refuse, not the harness's
			 * overflow) */
			next = (int64_t)((uint64_t)next +
					 rb_be32(p + RB_OFF_LAST_OFFSET_DELTA) + 1);
		}
		rb_put32(p + RB_OFF_CRC, rb_crc32c(p + RB_CRC_START,
						   n - RB_CRC_START));
		pos += n;
	}
}

/* srp_read's rules (storage/recovery.c): a valid file that is clean or
 * has a recovery offset above 0 vouches for segments. */
static bool rp_vouches(const uint8_t *f, size_t len)
{
	if (len < 8 || memcmp(f, "SLRP", 4))
		return false;
	uint32_t version = rb_be32(f + 4);
	size_t crc_at = version == 1 ? 20 : 44;
	if ((version != 1 && version != 2) || len != crc_at + 4 ||
	    rb_crc32c(f, crc_at) != rb_be32(f + crc_at))
		return false;
	int64_t r = (int64_t)rb_be64(f + 8);
	int64_t h = version == 2 ? (int64_t)rb_be64(f + 20) : 0;
	if (r < 0 || h < 0 || r >= (1ll << 62) || h >= (1ll << 62))
		return false;
	return (rb_be32(f + 16) & 1) || r > 0;
}

static void repair_rp(uint8_t *f, size_t len, bool same_boot)
{
	if (len >= 48 && rb_be32(f + 4) == 2) {
		if (same_boot)
			memcpy(f + 28, boot_id, 16);
		rb_put32(f + 44, rb_crc32c(f, 44));
	} else if (len >= 24 && rb_be32(f + 4) == 1) {
		rb_put32(f + 20, rb_crc32c(f, 20));
	}
}

/* Write the input's files; returns true if a bad segment name is among
 * them. */
static bool write_files(struct fz_reader *r, unsigned flags)
{
	bool bad_name = false;
	char path[PATH_MAX];
	for (unsigned i = 0; i < 64 && fz_left(r) >= 4; i++) {
		uint8_t kind = fz_u8(r) % 5;
		int64_t base = pick_base(r);
		size_t n;
		const uint8_t *src = fz_bytes(r, fz_u16(r), &n);
		uint8_t *f = malloc(n + 1);
		FUZZ_CHECK(f != NULL);
		memcpy(f, src, n);
		switch (kind) {
		case 0:
			if (flags & 1)
				repair_log(f, n, base, flags & 2);
			snprintf(path, sizeof(path), "%s/%020lld.log", part_dir,
				 (long long)base);
			/* offsets stop at 2^62 (log_pvt.h SLOG_OFFSET_MAX) */
			bad_name |= base >= (1ll << 62);
			break;
		case 1:
			snprintf(path, sizeof(path), "%s/%020lld.index",
				 part_dir, (long long)base);
			break;
		case 2:
			snprintf(path, sizeof(path), "%s/%020lld.timeindex",
				 part_dir, (long long)base);
			break;
		case 3:
			if (flags & 1)
				repair_rp(f, n, flags & 4);
			snprintf(path, sizeof(path), "%s/recovery-point",
				 part_dir);
			rp_trusts = rp_vouches(f, n);
			break;
		default:
			snprintf(path, sizeof(path), "%s/%lld.log", part_dir,
				 (long long)base);
			bad_name = true;
			break;
		}
		fz_write_file(path, f, n);
		free(f);
	}
	return bad_name;
}

/* Read [start, end) back: whole valid batches, offsets without gaps. */
static void check_readback(struct slog *log)
{
	int64_t off = slog_start_offset(log), end = slog_end_offset(log);
	FUZZ_CHECK(off >= 0 && off <= end);
	for (unsigned reads = 0; off < end; reads++) {
		FUZZ_CHECK(reads < READS_MAX);
		ssize_t n = slog_read_copy(log, off, READ_BYTES, end, readbuf,
					   READ_BYTES);
		if (n <= 0)
			fprintf(stderr, "read at %lld of [%lld, %lld): %zd\n",
				(long long)off, (long long)slog_start_offset(log),
				(long long)end, n);
		FUZZ_CHECK(n > 0);
		size_t pos = 0;
		while (pos < (size_t)n) {
			const uint8_t *p = readbuf + pos;
			FUZZ_CHECK((size_t)n - pos >= RB_HEADER_BYTES);
			long size = rb_frame_size(p, (size_t)n - pos,
						  (size_t)n - pos);
			FUZZ_CHECK(size >= RB_HEADER_BYTES);
			FUZZ_CHECK(p[RB_OFF_MAGIC] == RB_MAGIC);
			FUZZ_CHECK(rb_crc32c(p + RB_CRC_START,
					     (size_t)size - RB_CRC_START) ==
				   rb_be32(p + RB_OFF_CRC));
			int64_t base = (int64_t)rb_be64(p + RB_OFF_BASE_OFFSET);
			int32_t delta = (int32_t)rb_be32(p +
						RB_OFF_LAST_OFFSET_DELTA);
			if (base != off)
				fprintf(stderr, "batch at %lld, expected %lld\n",
					(long long)base, (long long)off);
			FUZZ_CHECK(base == off && delta >= 0);
			off = base + delta + 1;
			pos += (size_t)size;
		}
		FUZZ_CHECK(off <= end);
	}
	FUZZ_CHECK(off == end);
}

/* The last batch reads back whole and ends at the end offset. */
static void check_last_batch(struct slog *log)
{
	int64_t end = slog_end_offset(log);
	if (end == slog_start_offset(log))
		return;
	ssize_t n = slog_read_copy(log, end - 1, READ_BYTES, end, readbuf,
				   READ_BYTES);
	if (n <= 0)
		fprintf(stderr, "read of the last batch (offset %lld): %zd\n",
			(long long)end - 1, n);
	FUZZ_CHECK(n >= RB_HEADER_BYTES);
	FUZZ_CHECK(rb_frame_size(readbuf, (size_t)n, (size_t)n) == n);
	int64_t base = (int64_t)rb_be64(readbuf + RB_OFF_BASE_OFFSET);
	int32_t delta = (int32_t)rb_be32(readbuf + RB_OFF_LAST_OFFSET_DELTA);
	FUZZ_CHECK(delta >= 0 && base <= end - 1 && base + delta + 1 == end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > INPUT_MAX)
		return 0;
	fz_clear_dir(fz_tmpdir());
	FUZZ_CHECK(mkdir(base_dir, 0700) == 0 && mkdir(part_dir, 0700) == 0);
	struct fz_reader r;
	fz_init(&r, data + 1, size - 1);
	rp_trusts = false;
	bool bad_name = write_files(&r, data[0]);

	struct slog_config cfg;
	config(&cfg);
	struct slog *log;
	int rc = slog_open(W, base_dir, &cfg, &log);
	if (rc != 0) {
		if (rc != SL_ELAYOUT || !bad_name)
			fprintf(stderr, "slog_open: %d (%s)\n", rc,
				sl_strerror(rc));
		FUZZ_CHECK(rc == SL_ELAYOUT && bad_name);
		return 0;
	}
	if (rp_trusts)
		check_last_batch(log);
	else
		check_readback(log);

	/* one batch on top of what was recovered */
	static uint8_t batch[512];
	struct rb_builder b;
	rb_builder_init(&b, batch, sizeof(batch), 1700000000000ll);
	FUZZ_CHECK(rb_builder_add(&b, "k", 1, "after recovery", 14,
				  1700000000000ll) == 0);
	long blen = rb_builder_finish(&b);
	FUZZ_CHECK(blen > 0);
	int64_t end = slog_end_offset(log);
	struct slog_append_result res;
	rc = slog_append(log, batch, (size_t)blen, &res);
	if (rc == 0) {
		FUZZ_CHECK(res.base_offset == end && res.last_offset == end);
		FUZZ_CHECK(slog_sync(log) == 0);
	} else {
		fprintf(stderr, "slog_append after recovery: %d (%s)\n", rc,
			sl_strerror(rc));
		FUZZ_CHECK(rc == 0);
	}
	FUZZ_CHECK(slog_close(log) == 0);

	rc = slog_open(W, base_dir, &cfg, &log);
	if (rc)
		fprintf(stderr, "reopen: %d (%s)\n", rc, sl_strerror(rc));
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(slog_end_offset(log) == res.last_offset + 1);
	ssize_t n = slog_read_copy(log, res.base_offset, READ_BYTES,
				   slog_end_offset(log), readbuf, READ_BYTES);
	FUZZ_CHECK(n == blen);
	FUZZ_CHECK(!memcmp(readbuf + RB_CRC_START, batch + RB_CRC_START,
			   (size_t)blen - RB_CRC_START));
	check_last_batch(log);
	if (!rp_trusts)
		check_readback(log);
	FUZZ_CHECK(slog_close(log) == 0);
	return 0;
}
