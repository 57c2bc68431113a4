/*
 * Crash recovery: the recovery-point file and the segment scan.
 *
 * recovery-point (48 bytes, big-endian), replaced atomically (written to
 * recovery-point.tmp, fdatasynced, renamed, directory fsynced):
 *      0  4  magic "SLRP"
 *      4  4  version, 2
 *      8  8  recovery offset R
 *     16  4  flags: bit 0 = closed cleanly
 *     20  8  reserved offset H
 *     28 16  boot id B of the machine when written (storage/disk.h)
 *     44  4  CRC32C of bytes [0, 44)
 * Version 1 (24 bytes: no H or B, CRC at 20) is still read, as H unknown.
 *
 * Meaning: every segment whose next segment starts at or below R was
 * synced and sealed (its size is exact and its indexes complete).  When
 * the clean flag is set, R is the end of the log and nothing past it was
 * ever written: the log was closed by slog_close() and no scan is needed.
 * The log rewrites the file with the clean flag cleared as soon as it
 * opens, so a crash at any later moment is detected.
 *
 * H: no offset at or above H was ever handed out (appended, and so
 * perhaps acknowledged with acks=1 and read by a consumer).  The log
 * moves H forward by SLOG_RESERVE_OFFSETS, durably, before it appends
 * at or past it.  After an unclean stop in another boot than B (a power
 * cut or an OS crash: the page cache is gone) the recovered log may end
 * below offsets that were written and answered with acks=1; it then
 * continues at H, so no offset is ever given to two different batches.
 * After a crash of the process alone (same boot) every written batch is
 * still there, and what was not written was never acknowledged: the log
 * continues at its recovered end.  The skipped offsets
 * are covered by one empty batch (record count 0, last offset delta
 * spanning the gap, producer id -1), as Kafka's compaction leaves them,
 * which keeps the segment contiguous and is skipped by consumers.
 *
 * A missing or invalid file (R or H at or above SLOG_OFFSET_MAX, 2^62,
 * or a length other than its version's, is invalid) means "R = 0, not
 * clean, H unknown": every segment is scanned.
 *
 * The scan (srecover_segment) reads a segment from position 0 and stops at
 * the first batch that is not valid by the rules in segment.c; the
 * segment is cut there, its indexes are rebuilt from the scan, and later
 * segments are deleted by the caller.  Zero bytes after the last batch are
 * the writer's block padding, and a whole batch with an offset below the
 * segment's base is a recycled file's old contents: neither is lost data.
 * Anything else is reported as dropped.  The file is cut either way, so
 * nothing written before the crash can line up with later appends.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/record_batch.h"
#include "storage/log_pvt.h"

#define SRP_BYTES 48
#define SRP_V1_BYTES 24
#define SRP_VERSION 2
#define SCAN_CHUNK (1u << 20)

int srp_read(const struct sdisk *d, const char *dir,
	     struct srecovery_point *rp)
{
	char path[PATH_MAX];
	/* one byte more than the largest version: a longer file is not a
	 * recovery point (its first bytes must not pass for one) */
	uint8_t raw[SRP_BYTES + 1];
	memset(rp, 0, sizeof(*rp));
	snprintf(path, sizeof(path), "%s/recovery-point", dir);
	int fd = sd_open(d, path, O_RDONLY, 0);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	ssize_t n = sd_pread(d, fd, raw, sizeof(raw), 0);
	sd_close(d, fd);
	if (n < 0)
		return (int)n;
	if (n < 8 || memcmp(raw, "SLRP", 4) != 0)
		return 0; /* invalid: scan everything */
	uint32_t version = rb_be32(raw + 4);
	size_t crc_at = version == 1 ? SRP_V1_BYTES - 4 : SRP_BYTES - 4;
	if ((version != 1 && version != SRP_VERSION) ||
	    (size_t)n != crc_at + 4 ||
	    rb_crc32c(raw, crc_at) != rb_be32(raw + crc_at))
		return 0;
	rp->offset = (int64_t)rb_be64(raw + 8);
	rp->clean = rb_be32(raw + 16) & 1;
	if (version >= 2) {
		rp->reserved = (int64_t)rb_be64(raw + 20);
		memcpy(rp->boot_id, raw + 28, sizeof(rp->boot_id));
	}
	if (rp->offset < 0 || rp->reserved < 0 ||
	    rp->offset >= SLOG_OFFSET_MAX || rp->reserved >= SLOG_OFFSET_MAX) {
		rp->offset = rp->reserved = 0;
		rp->clean = false;
		return 0;
	}
	return 1;
}

#define SRLS_BYTES 20
#define SRLS_VERSION 1

/*
 * log-start-offset (20 bytes, big-endian), replaced atomically like the
 * recovery point:
 *      0  4  magic "SLLS"
 *      4  4  version, 1
 *      8  8  log start offset S
 *     16  4  CRC32C of bytes [0, 16)
 * No offset below S is served again (Kafka's DeleteRecords).  A damaged
 * file is reported and ignored: the log then starts at its first segment,
 * as it did before the deletion (records come back; none is lost).
 */
int srls_read(const struct slog *log, int64_t *offset)
{
	char path[PATH_MAX];
	uint8_t raw[SRLS_BYTES + 1];
	*offset = 0;
	snprintf(path, sizeof(path), "%s/log-start-offset", log->dir);
	int fd = sd_open(log->disk, path, O_RDONLY, 0);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	ssize_t n = sd_pread(log->disk, fd, raw, sizeof(raw), 0);
	sd_close(log->disk, fd);
	if (n < 0)
		return (int)n;
	int64_t s = n == SRLS_BYTES ? (int64_t)rb_be64(raw + 8) : -1;
	if (n != SRLS_BYTES || memcmp(raw, "SLLS", 4) ||
	    rb_be32(raw + 4) != SRLS_VERSION ||
	    rb_crc32c(raw, 16) != rb_be32(raw + 16) || s < 0 ||
	    s >= SLOG_OFFSET_MAX) {
		slog_logf(log, 0, "%s is damaged (%zd bytes): ignored, the log "
			  "starts at its first segment", path, n);
		return 0;
	}
	*offset = s;
	return 1;
}

int srls_write(const struct slog *log, int64_t offset)
{
	char path[PATH_MAX];
	uint8_t raw[SRLS_BYTES];
	memcpy(raw, "SLLS", 4);
	rb_put32(raw + 4, SRLS_VERSION);
	rb_put64(raw + 8, (uint64_t)offset);
	rb_put32(raw + 16, rb_crc32c(raw, 16));
	snprintf(path, sizeof(path), "%s/log-start-offset", log->dir);
	return sd_replace(log->disk, path, raw, sizeof(raw));
}

int srp_write(const struct sdisk *d, const char *dir,
	      const struct srecovery_point *rp)
{
	char path[PATH_MAX];
	uint8_t raw[SRP_BYTES];
	memcpy(raw, "SLRP", 4);
	rb_put32(raw + 4, SRP_VERSION);
	rb_put64(raw + 8, (uint64_t)rp->offset);
	rb_put32(raw + 16, rp->clean ? 1 : 0);
	rb_put64(raw + 20, (uint64_t)rp->reserved);
	memcpy(raw + 28, rp->boot_id, sizeof(rp->boot_id));
	rb_put32(raw + 44, rb_crc32c(raw, 44));
	snprintf(path, sizeof(path), "%s/recovery-point", dir);
	return sd_replace(d, path, raw, sizeof(raw));
}

/* The batch rules of segment.c (length, magic, CRC32C); not the stricter
 * rules a producer's batch meets (proto/record_batch.c rb_validate): the
 * log also holds batches it wrote itself, such as the empty batch over
 * skipped offsets. */
static bool stored_batch_valid(const uint8_t *p, size_t len)
{
	if (len < RB_HEADER_BYTES || rb_frame_size(p, len, len) != (long)len ||
	    p[RB_OFF_MAGIC] != RB_MAGIC ||
	    (int32_t)rb_be32(p + RB_OFF_LAST_OFFSET_DELTA) < 0 ||
	    (int32_t)rb_be32(p + RB_OFF_RECORD_COUNT) < 0)
		return false;
	return rb_crc32c(p + RB_CRC_START, len - RB_CRC_START) ==
	       rb_be32(p + RB_OFF_CRC);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int srecover_segment(struct slog *log, struct sseg *s, uint64_t *dropped,
		     uint64_t *file_size)
{
	const struct sdisk *d = s->disk;
	size_t cap = SCAN_CHUNK > log->cfg.batch_max_bytes ?
			     SCAN_CHUNK : log->cfg.batch_max_bytes;
	int rc;
	*dropped = 0;
	rc = sd_fsize(d, s->read_fd, file_size);
	if (rc < 0)
		return rc;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	rc = sindex_reset(&s->ix);
	if (rc < 0)
		goto out;
	s->next_offset = s->base_offset;
	s->max_timestamp = -1;
	s->last_index_pos = 0;
	s->first_append_ms = -1;

	bool stale = false;
	uint64_t pos = 0, chunk_pos = 0;
	size_t chunk_len = 0;
	for (;;) {
		/* make [pos, pos + 61) available */
		if (pos + RB_HEADER_BYTES > chunk_pos + chunk_len) {
			ssize_t n = sd_pread(d, s->read_fd, buf, cap, pos);
			if (n < 0) {
				rc = (int)n;
				goto out;
			}
			chunk_pos = pos;
			chunk_len = (size_t)n;
			if (chunk_len < RB_HEADER_BYTES)
				break;
		}
		const uint8_t *p = buf + (pos - chunk_pos);
		long size = rb_frame_size(p, chunk_pos + chunk_len - pos,
					  log->cfg.batch_max_bytes);
		if (size <= 0)
			break;
		if (pos + (uint64_t)size > chunk_pos + chunk_len) {
			ssize_t n = sd_pread(d, s->read_fd, buf, cap, pos);
			if (n < 0) {
				rc = (int)n;
				goto out;
			}
			chunk_pos = pos;
			chunk_len = (size_t)n;
			p = buf;
			if ((size_t)size > chunk_len)
				break; /* cut short */
		}
		if (!stored_batch_valid(p, (size_t)size))
			break;
		if ((int64_t)rb_be64(p + RB_OFF_BASE_OFFSET) != s->next_offset) {
			/* a whole batch of an older segment: a recycled
			 * file's previous contents, not lost data */
			stale = (int64_t)rb_be64(p + RB_OFF_BASE_OFFSET) <
				s->base_offset;
			break;
		}
		if (pos + (uint64_t)size > SLOG_SEGMENT_BYTES_MAX)
			break;
		rc = slog_index_batch(log, s, pos, p);
		if (rc < 0)
			goto out;
		pos += (uint64_t)size;
		s->size = pos;
	}
	s->size = pos;

	if (*file_size > pos) {
		size_t look = *file_size - pos > SCAN_CHUNK ?
				      SCAN_CHUNK : (size_t)(*file_size - pos);
		ssize_t n = sd_pread(d, s->read_fd, buf, look, pos);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if (!stale && !all_zero(buf, (size_t)n))
			*dropped = *file_size - pos;
		char path[PATH_MAX];
		seg_path(path, sizeof(path), log->dir, s->base_offset, ".log");
		int fd = sd_open(d, path, O_WRONLY, 0);
		if (fd < 0) {
			rc = fd;
			goto out;
		}
		rc = sd_ftruncate(d, fd, pos);
		if (rc == 0)
			rc = sd_fsync(d, fd);
		sd_close(d, fd);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}
