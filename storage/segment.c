/*
 * Segment files.  A partition log lives in one directory,
 * <base_dir>/<topic>-<partition>/, laid out as Kafka lays it out:
 *
 *   00000000000000000000.log        batches with offsets from 0
 *   00000000000000000000.index      sparse offset index (index.c)
 *   00000000000000000000.timeindex  time index (index.c)
 *   00000000000000123456.log        next segment: first offset 123456
 *   ...
 *   recovery-point                  what is known valid (recovery.c)
 *   log-start-offset                the start set by slog_delete_records
 *
 * The name is the segment's base offset, 20 decimal digits, zero padded.
 * Files named <20 digits>.recycle are retired segments kept for reuse
 * (prepare = recycle): overwriting an already written file needs no size
 * or extent change at fdatasync, and deleting nothing avoids the discard
 * that unlink issues.
 *
 * A .log file is a plain concatenation of RecordBatch v2 batches
 * (proto/record_batch.c for the 61-byte header), each exactly as the
 * producer sent it except for the base offset (bytes 0-7) and the
 * partition leader epoch (bytes 12-15), which the log stamps.  There is no
 * other framing and no file header: a segment is valid up to the first
 * position where one of these fails:
 *   - 12 bytes are there and the batch length is >= 49 and fits the file,
 *   - magic (byte 16) is 2,
 *   - CRC32C of bytes [21, 12 + length) equals bytes 17-20,
 *   - the base offset equals the previous batch's last offset + 1 (the
 *     segment's base offset for the first batch).
 * Everything from that position on is not part of the log.  The writer
 * pads its last block with zeros; those zeros are such an invalid tail and
 * are cut away when the segment is sealed or recovered, so a sealed or
 * cleanly closed segment's size is exactly the sum of its batches.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/log_pvt.h"

void seg_path(char *out, size_t cap, const char *dir, int64_t base,
	      const char *ext)
{
	snprintf(out, cap, "%s/%020lld%s", dir, (long long)base, ext);
}

int64_t seg_parse_name(const char *name)
{
	if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0)
		return -1;
	int64_t v = 0;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	return v < SLOG_OFFSET_MAX ? v : -1;
}

static void seg_init(struct sseg *s, const struct sdisk *d, int64_t base)
{
	memset(s, 0, sizeof(*s));
	s->disk = d;
	s->ix.disk = d;
	s->base_offset = base;
	s->next_offset = base;
	s->max_timestamp = -1;
	s->first_append_ms = -1;
	s->read_fd = -1;
	s->ix.fd = s->ix.tfd = -1;
}

int seg_open(struct sseg *s, const struct sdisk *d, const char *dir,
	     int64_t base)
{
	char path[PATH_MAX];
	seg_init(s, d, base);
	seg_path(path, sizeof(path), dir, base, ".log");
	s->read_fd = sd_open(d, path, O_RDONLY, 0);
	if (s->read_fd < 0) {
		int rc = s->read_fd;
		s->read_fd = -1;
		return rc;
	}
	int rc = sd_fsize(d, s->read_fd, &s->size);
	if (rc == 0)
		rc = sindex_open(&s->ix, d, path, false);
	if (rc < 0) {
		sd_close(d, s->read_fd);
		s->read_fd = -1;
		return rc;
	}
	return 0;
}

struct recycled {
	const char *dir;
	char *out;
	size_t cap;
	unsigned count;
};

static int see_recycled(void *arg, const char *name)
{
	struct recycled *r = arg;
	size_t n = strlen(name);
	if (n != 28 || strcmp(name + 20, ".recycle"))
		return 0;
	if (r->count++ == 0)
		snprintf(r->out, r->cap, "%s/%s", r->dir, name);
	return 0;
}

/* Name of one retired file in dir, or -ENOENT; *count gets how many. */
static int find_recycled(const struct sdisk *d, const char *dir, char *out,
			 size_t cap, unsigned *count)
{
	struct recycled r = { dir, out, cap, 0 };
	int rc = sd_list(d, dir, see_recycled, &r);
	*count = r.count;
	if (rc < 0)
		return rc;
	return r.count ? 0 : -ENOENT;
}

int seg_create(struct sseg *s, const struct sdisk *d, const char *dir,
	       int64_t base, bool recycle, bool *recycled)
{
	char path[PATH_MAX], old[PATH_MAX];
	unsigned count;
	int rc;
	seg_init(s, d, base);
	seg_path(path, sizeof(path), dir, base, ".log");
	*recycled = false;
	if (recycle && find_recycled(d, dir, old, sizeof(old), &count) == 0 &&
	    sd_rename(d, old, path) == 0)
		*recycled = true;
	int fd = sd_open(d, path, O_RDWR | O_CREAT | (*recycled ? 0 : O_TRUNC),
			 0640);
	if (fd < 0)
		return fd;
	sd_close(d, fd);
	s->read_fd = sd_open(d, path, O_RDONLY, 0);
	if (s->read_fd < 0) {
		rc = s->read_fd;
		s->read_fd = -1;
		return rc;
	}
	rc = sindex_open(&s->ix, d, path, true);
	if (rc < 0)
		goto fail_read_fd;
	rc = sd_fsync_dir(d, dir);
	if (rc < 0)
		goto fail_index;
	return 0;
fail_index:
	sindex_close(&s->ix);
fail_read_fd:
	sd_close(d, s->read_fd);
	s->read_fd = -1;
	return rc;
}

void seg_close(struct sseg *s)
{
	if (s->read_fd >= 0)
		sd_close(s->disk, s->read_fd);
	s->read_fd = -1;
	sindex_close(&s->ix);
}

int seg_retire(struct sseg *s, const char *dir, bool recycle)
{
	char path[PATH_MAX], to[PATH_MAX];
	unsigned count = 0;
	if (recycle) {
		(void)find_recycled(s->disk, dir, to, sizeof(to), &count);
		if (count < SEG_RECYCLE_MAX) {
			seg_path(path, sizeof(path), dir, s->base_offset, ".log");
			seg_path(to, sizeof(to), dir, s->base_offset, ".recycle");
			int rc = sd_rename(s->disk, path, to);
			if (rc < 0) {
				/* the caller forgets the segment either way:
				 * its files stay for the next open to see */
				seg_close(s);
				return rc;
			}
		}
	}
	return seg_delete(s, dir); /* what is left: indexes, or the .log */
}

int seg_delete(struct sseg *s, const char *dir)
{
	static const char *const ext[] = { ".log", ".index", ".timeindex" };
	char path[PATH_MAX];
	int rc = 0;
	int64_t base = s->base_offset;
	const struct sdisk *d = s->disk;
	seg_close(s);
	for (unsigned i = 0; i < 3; i++) {
		seg_path(path, sizeof(path), dir, base, ext[i]);
		int err = sd_unlink(d, path);
		if (err < 0 && err != -ENOENT && rc == 0)
			rc = err;
	}
	return rc;
}
