/*
 * A record log (reclog.h has the contract).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/reclog.h"
#include "proto/record_batch.h" /* rb_put*, rb_be*, rb_crc32c */
#include "storage/disk.h"

struct sl_reclog {
	const struct sdisk *disk;
	const struct sl_reclog_format *f;
	int fd;                        /* the file, read-write */
	char path[PATH_MAX];
	uint64_t file_bytes;           /* where the next record goes */
	uint64_t compact_retry_bytes;  /* after a failed rewrite */
	bool broken;                   /* disk state unknown */
	/* the batch being appended */
	bool in_batch;
	uint64_t batch_at;             /* where io's bytes go */
	size_t batch_fill;             /* bytes in io */
	uint32_t batch_records;
	int batch_rc;                  /* the first error */
	/* the file being rewritten */
	bool in_rewrite;
	uint8_t *img;                  /* header and records, malloc'd */
	size_t img_len, img_cap;
	int img_rc;                    /* -ENOMEM */
	uint8_t io[SL_RECLOG_IO_BYTES]; /* reads at the open, batches */
};

static void header_put(const struct sl_reclog_format *f, uint8_t *p)
{
	rb_put32(p, f->magic);
	rb_put16(p + 4, f->version);
	rb_put16(p + 6, SL_RECLOG_HEADER_BYTES);
	rb_put32(p + 8, 0);
	rb_put32(p + 12, rb_crc32c(p, 12));
}

/* The file's version, or 0 when p is not a valid header of the format. */
static uint16_t header_version(const struct sl_reclog_format *f,
			       const uint8_t *p)
{
	uint16_t v = rb_be16(p + 4);
	if (rb_be32(p) != f->magic ||
	    (v != f->version && (f->old_version == 0 || v != f->old_version)) ||
	    rb_be16(p + 6) != SL_RECLOG_HEADER_BYTES || rb_be32(p + 8) != 0 ||
	    rb_be32(p + 12) != rb_crc32c(p, 12))
		return 0;
	return v;
}

/* Write [p, p + n) at at: 0 or -errno. */
static int write_at(struct sl_reclog *s, const uint8_t *p, size_t n,
		    uint64_t at)
{
	if (n == 0)
		return 0;
	ssize_t w = sd_pwrite(s->disk, s->fd, p, n, at);
	if (w < 0)
		return (int)w;
	return (size_t)w == n ? 0 : -EIO;
}

/* Take a failed append back: the file ends at file_bytes again, durably
 * (so that no part of the failed batch can come back after a power cut),
 * or the log is broken. */
static void cut_back(struct sl_reclog *s)
{
	if (sd_ftruncate(s->disk, s->fd, s->file_bytes) < 0 ||
	    sd_fdatasync(s->disk, s->fd) < 0)
		s->broken = true;
}

static int load(struct sl_reclog *s, sl_reclog_apply_fn apply, void *arg,
		uint16_t *version_out, char *err, size_t errlen)
{
	const struct sl_reclog_format *f = s->f;
	uint64_t size;
	int rc = sd_fsize(s->disk, s->fd, &size);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", s->path, strerror(-rc));
		return rc;
	}
	ssize_t r = sd_pread(s->disk, s->fd, s->io, SL_RECLOG_HEADER_BYTES, 0);
	if (r < 0) {
		snprintf(err, errlen, "%s: read: %s", s->path,
			 strerror((int)-r));
		return (int)r;
	}
	uint16_t version = r == SL_RECLOG_HEADER_BYTES ?
			   header_version(f, s->io) : 0;
	if (version == 0) {
		snprintf(err, errlen, "%s is damaged or not %s", s->path,
			 f->damaged);
		return -EBADMSG;
	}
	uint64_t pos = SL_RECLOG_HEADER_BYTES, buf_at = 0, buf_len = 0;
	for (;;) {
		/* the record at pos, whole, in the buffer; every pass moves
		 * pos on by a record or ends the loop */
		if (pos + f->record_max > buf_at + buf_len &&
		    buf_at + buf_len < size) {
			r = sd_pread(s->disk, s->fd, s->io, sizeof(s->io), pos);
			if (r < 0) {
				snprintf(err, errlen, "%s: read: %s", s->path,
					 strerror((int)-r));
				return (int)r;
			}
			buf_at = pos;
			buf_len = (uint64_t)r;
		}
		if (pos >= buf_at + buf_len)
			break;
		const uint8_t *p = s->io + (pos - buf_at);
		size_t n = f->check(p, (size_t)(buf_at + buf_len - pos),
				    version);
		if (n == 0)
			break;
		assert(n <= f->record_max && pos + n <= buf_at + buf_len);
		if ((rc = apply(arg, p, n, version)) < 0) {
			snprintf(err, errlen, "%s: cannot load the record at "
				 "byte %llu: %s", s->path,
				 (unsigned long long)pos, strerror(-rc));
			return rc;
		}
		pos += n;
	}
	assert(pos >= SL_RECLOG_HEADER_BYTES && pos <= size);
	if (pos < size) {
		/* a torn or damaged tail: nothing after it can be trusted */
		if ((rc = sd_ftruncate(s->disk, s->fd, pos)) < 0 ||
		    (rc = sd_fdatasync(s->disk, s->fd)) < 0) {
			snprintf(err, errlen, "%s: cutting its damaged tail at "
				 "byte %llu: %s", s->path,
				 (unsigned long long)pos, strerror(-rc));
			return rc;
		}
	}
	s->file_bytes = pos;
	*version_out = version;
	return 0;
}

/* A new file: the header alone, durably. */
static int create(struct sl_reclog *s, char *err, size_t errlen)
{
	uint8_t h[SL_RECLOG_HEADER_BYTES];
	header_put(s->f, h);
	int rc = sd_replace(s->disk, s->path, h, sizeof(h));
	if (rc == 0 && (rc = sd_open(s->disk, s->path, O_RDWR, 0)) >= 0) {
		s->fd = rc;
		s->file_bytes = sizeof(h);
		return 0;
	}
	snprintf(err, errlen, "%s: creating it: %s", s->path, strerror(-rc));
	return rc;
}

int sl_reclog_open(const struct sdisk *d, const char *dir,
		   const struct sl_reclog_format *f, sl_reclog_apply_fn apply,
		   void *arg, struct sl_reclog **out, uint16_t *version,
		   char *err, size_t errlen)
{
	assert(d && dir && f && f->check && f->record_max > 0 &&
	       f->record_max <= SL_RECLOG_IO_BYTES && apply && out &&
	       version && err && errlen > 0);
	err[0] = 0;
	struct sl_reclog *s = calloc(1, sizeof(*s));
	char tmp[PATH_MAX];
	int rc;
	if (!s) {
		snprintf(err, errlen, "%s/%s: out of memory", dir, f->file);
		return -ENOMEM;
	}
	s->disk = d;
	s->f = f;
	s->fd = -1;
	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/%s", dir,
			     f->file) >= sizeof(s->path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", s->path) >=
		    sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", dir);
		rc = -ENAMETOOLONG;
		goto out_free;
	}
	if ((rc = sd_mkdir_p(d, dir)) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
			 strerror(-rc));
		goto out_free;
	}
	/* left by a rewrite that did not finish: the file is whole without
	 * it (and sd_replace would truncate it anyway) */
	if ((rc = sd_unlink(d, tmp)) < 0 && rc != -ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", tmp,
			 strerror(-rc));
		goto out_free;
	}
	*version = f->version;
	rc = sd_open(d, s->path, O_RDWR, 0);
	if (rc == -ENOENT) {
		if ((rc = create(s, err, errlen)) < 0)
			goto out_free;
	} else if (rc < 0) {
		snprintf(err, errlen, "cannot open %s: %s", s->path,
			 strerror(-rc));
		goto out_free;
	} else {
		s->fd = rc;
		if ((rc = load(s, apply, arg, version, err, errlen)) < 0)
			goto out_close;
	}
	assert(s->fd >= 0 && s->file_bytes >= SL_RECLOG_HEADER_BYTES);
	*out = s;
	return 0;
out_close:
	sd_close(d, s->fd);
out_free:
	free(s);
	return rc;
}

void sl_reclog_close(struct sl_reclog *s)
{
	if (!s)
		return;
	assert(!s->in_batch && !s->in_rewrite);
	if (s->fd >= 0)
		sd_close(s->disk, s->fd);
	free(s->img);
	free(s);
}

bool sl_reclog_broken(const struct sl_reclog *s)
{
	return s->broken;
}

uint64_t sl_reclog_size(const struct sl_reclog *s)
{
	return s->file_bytes;
}

const char *sl_reclog_path(const struct sl_reclog *s)
{
	return s->path;
}

/* ---- appends ---- */

void sl_reclog_batch_begin(struct sl_reclog *s)
{
	assert(!s->in_batch && !s->in_rewrite);
	s->in_batch = true;
	s->batch_at = s->file_bytes;
	s->batch_fill = 0;
	s->batch_records = 0;
	s->batch_rc = s->broken ? -EIO : 0;
}

uint8_t *sl_reclog_batch_room(struct sl_reclog *s)
{
	assert(s->in_batch && s->batch_fill <= sizeof(s->io));
	if (sizeof(s->io) - s->batch_fill < s->f->record_max) {
		if (s->batch_rc == 0)
			s->batch_rc = write_at(s, s->io, s->batch_fill,
					       s->batch_at);
		s->batch_at += s->batch_fill;
		s->batch_fill = 0;
	}
	return s->io + s->batch_fill;
}

void sl_reclog_batch_add(struct sl_reclog *s, size_t len)
{
	assert(s->in_batch && len > 0 && len <= s->f->record_max &&
	       sizeof(s->io) - s->batch_fill >= len);
	s->batch_fill += len;
	s->batch_records++;
}

int sl_reclog_batch_end(struct sl_reclog *s)
{
	assert(s->in_batch);
	s->in_batch = false;
	if (s->batch_records == 0)
		return 0;
	uint64_t end = s->batch_at + s->batch_fill;
	int rc = s->batch_rc;
	assert(end > s->file_bytes);
	if (rc == 0)
		rc = write_at(s, s->io, s->batch_fill, s->batch_at);
	if (rc == 0 && (rc = sd_fdatasync(s->disk, s->fd)) < 0)
		s->broken = true; /* the page cache may have dropped the pages */
	if (rc == 0) {
		s->file_bytes = end;
		return 0;
	}
	if (!s->broken)
		cut_back(s);
	return rc;
}

/* ---- rewrites ---- */

bool sl_reclog_compact_due(const struct sl_reclog *s, uint64_t live_bytes,
			   uint64_t min_bytes, uint64_t ratio)
{
	uint64_t live = SL_RECLOG_HEADER_BYTES + live_bytes;
	return !s->broken && s->file_bytes >= min_bytes &&
	       s->file_bytes / ratio >= live &&
	       s->file_bytes >= s->compact_retry_bytes;
}

/* Room for n more bytes in the image, or the image's error set. */
static bool img_room(struct sl_reclog *s, size_t n)
{
	if (s->img_rc < 0)
		return false;
	if (s->img_cap - s->img_len >= n)
		return true;
	size_t cap = s->img_cap ? s->img_cap : SL_RECLOG_IO_BYTES;
	while (cap - s->img_len < n && cap <= SIZE_MAX / 2)
		cap *= 2;
	uint8_t *p = cap - s->img_len >= n ? realloc(s->img, cap) : NULL;
	if (!p) {
		s->img_rc = -ENOMEM;
		return false;
	}
	s->img = p;
	s->img_cap = cap;
	return true;
}

void sl_reclog_rewrite_begin(struct sl_reclog *s)
{
	assert(!s->in_batch && !s->in_rewrite);
	s->in_rewrite = true;
	s->img_len = 0;
	s->img_rc = 0;
	if (img_room(s, SL_RECLOG_HEADER_BYTES)) {
		header_put(s->f, s->img);
		s->img_len = SL_RECLOG_HEADER_BYTES;
	}
}

uint8_t *sl_reclog_rewrite_room(struct sl_reclog *s)
{
	assert(s->in_rewrite);
	return img_room(s, s->f->record_max) ? s->img + s->img_len : NULL;
}

void sl_reclog_rewrite_add(struct sl_reclog *s, size_t len)
{
	assert(s->in_rewrite && s->img_rc == 0 && len > 0 &&
	       len <= s->f->record_max && s->img_cap - s->img_len >= len);
	s->img_len += len;
}

/* sd_replace failed: whether the old file is still at the path (the new
 * one differs in length, or cannot be told from it: then not). */
static bool old_in_place(struct sl_reclog *s, uint64_t new_len)
{
	uint64_t size;
	int fd = sd_open(s->disk, s->path, O_RDONLY, 0);
	if (fd < 0)
		return false;
	bool old = sd_fsize(s->disk, fd, &size) == 0 &&
		   size == s->file_bytes && size != new_len;
	sd_close(s->disk, fd);
	return old;
}

int sl_reclog_rewrite_end(struct sl_reclog *s)
{
	assert(s->in_rewrite);
	s->in_rewrite = false;
	int rc = s->img_rc;
	size_t len = s->img_len;
	if (rc == 0 && s->broken)
		rc = -EIO;
	if (rc == 0) {
		assert(len >= SL_RECLOG_HEADER_BYTES &&
		       header_version(s->f, s->img) == s->f->version);
		rc = sd_replace(s->disk, s->path, s->img, len);
		if (rc < 0 && !old_in_place(s, len))
			s->broken = true; /* the rename may not survive a cut */
	}
	/* the image can be as large as the live state: not kept */
	free(s->img);
	s->img = NULL;
	s->img_cap = s->img_len = 0;
	if (rc == 0) {
		int fd = sd_open(s->disk, s->path, O_RDWR, 0);
		if (fd < 0) {
			/* the old handle is the replaced file's */
			s->broken = true;
			return fd;
		}
		sd_close(s->disk, s->fd);
		s->fd = fd;
		s->file_bytes = len;
		s->compact_retry_bytes = 0;
		return 0;
	}
	if (!s->broken)
		/* the old file stays; not again until it has doubled */
		s->compact_retry_bytes = s->file_bytes * 2;
	return rc;
}
