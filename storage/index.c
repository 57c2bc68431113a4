/*
 * The sparse offset index (.index) and the time index (.timeindex) of one
 * segment, laid out as Kafka lays them out.
 *
 * .index: 8-byte entries, big-endian, in increasing order of both fields
 *      0  4  relative offset   batch base offset - segment base offset
 *      4  4  position          file position of that batch in the .log
 *   An entry is added when at least index_interval_bytes were appended
 *   since the previous entry; it points at the batch being appended.
 *   Position 0 (the first batch) is implied and never stored.
 *
 * .timeindex: 12-byte entries, big-endian
 *      0  8  timestamp (ms)    every batch before "relative offset" has a
 *                              max timestamp <= this
 *      8  4  relative offset
 *   Timestamps strictly increase from entry to entry.  Added together with
 *   offset entries, and once more when the segment is sealed, covering the
 *   whole segment: the last entry of a sealed segment gives its largest
 *   timestamp and its next offset.
 *
 * Validity: a file whose size is not a whole number of entries, whose
 * entries do not increase, or which points past the end of the .log, is
 * torn; it is rebuilt by scanning the segment (recovery.c).  Indexes are
 * written through the page cache and synced when the segment is sealed
 * and when the log closes; after a crash they are rebuilt for every
 * segment past the recovery point.
 *
 * Descriptors: both files are opened when first needed (a load, an entry,
 * a truncation) and closed by sindex_close_files() when the log goes idle,
 * so an idle partition holds no index descriptor (docs/storage.md,
 * "Memory and descriptors per partition").
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

#define IDX_ENTRY 8
#define TIDX_ENTRY 12

/* Open both files if they are not open (they are closed while the log is
 * idle: see sindex_close_files). */
static int ix_files(struct sindex *ix)
{
	char path[PATH_MAX];
	if (ix->fd >= 0)
		return 0;
	if (!ix->log_path)
		return -EBADF;
	size_t n = strlen(ix->log_path);
	memcpy(path, ix->log_path, n - 4);
	strcpy(path + n - 4, ".index");
	ix->fd = sd_open(ix->disk, path, O_RDWR | O_CREAT, 0640);
	if (ix->fd < 0) {
		int err = ix->fd;
		ix->fd = -1;
		return err;
	}
	strcpy(path + n - 4, ".timeindex");
	ix->tfd = sd_open(ix->disk, path, O_RDWR | O_CREAT, 0640);
	if (ix->tfd < 0) {
		int err = ix->tfd;
		sd_close(ix->disk, ix->fd);
		ix->fd = ix->tfd = -1;
		return err;
	}
	return 0;
}

int sindex_open(struct sindex *ix, const struct sdisk *d,
		const char *log_path, bool create)
{
	char path[PATH_MAX];
	size_t n = strlen(log_path);
	memset(ix, 0, sizeof(*ix));
	ix->disk = d;
	ix->fd = ix->tfd = -1;
	if (n < 4 || n + 6 >= sizeof(path))
		return -ENAMETOOLONG;
	ix->log_path = strdup(log_path);
	if (!ix->log_path)
		return -ENOMEM;
	ix->loaded = create;
	if (!create)
		return 0; /* opened when first needed */
	/* a new segment: empty both files now (the caller syncs the
	 * directory that holds them) */
	static const char *const ext[] = { ".index", ".timeindex" };
	for (unsigned i = 0; i < 2; i++) {
		memcpy(path, log_path, n - 4);
		strcpy(path + n - 4, ext[i]);
		int fd = sd_open(d, path, O_RDWR | O_CREAT | O_TRUNC, 0640);
		if (fd < 0) {
			sindex_close(ix);
			return fd;
		}
		sd_close(d, fd);
	}
	return 0;
}

void sindex_close_files(struct sindex *ix)
{
	if (ix->fd >= 0)
		sd_close(ix->disk, ix->fd);
	if (ix->tfd >= 0)
		sd_close(ix->disk, ix->tfd);
	ix->fd = ix->tfd = -1;
}

void sindex_close(struct sindex *ix)
{
	const struct sdisk *d = ix->disk;
	sindex_close_files(ix);
	free(ix->e);
	free(ix->t);
	free(ix->log_path);
	memset(ix, 0, sizeof(*ix));
	ix->disk = d;
	ix->fd = ix->tfd = -1;
}

static int grow(void **arr, uint32_t *cap, size_t elem)
{
	uint32_t ncap = *cap ? *cap * 2 : 64;
	void *p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static ssize_t read_all(const struct sdisk *d, int fd, uint8_t **out)
{
	uint64_t size;
	int rc = sd_fsize(d, fd, &size);
	*out = NULL;
	if (rc < 0)
		return rc;
	if (size == 0)
		return 0;
	if (size > (uint64_t)UINT32_MAX * IDX_ENTRY)
		return -EFBIG;
	uint8_t *p = malloc((size_t)size);
	if (!p)
		return -ENOMEM;
	ssize_t got = sd_pread(d, fd, p, (size_t)size, 0);
	if (got < 0 || (uint64_t)got != size) {
		free(p);
		return got < 0 ? got : -EIO;
	}
	*out = p;
	return got;
}

int sindex_load(struct sindex *ix, uint64_t seg_size)
{
	uint8_t *raw = NULL;
	int rc = ix_files(ix);
	if (rc < 0)
		return rc;
	ssize_t n = read_all(ix->disk, ix->fd, &raw);
	if (n < 0)
		return (int)n;
	free(ix->e);
	ix->e = NULL;
	ix->n = ix->cap = 0;
	if (n % IDX_ENTRY) {
		rc = 1;
		goto out_raw;
	}
	for (ssize_t i = 0; i < n; i += IDX_ENTRY) {
		struct idx_entry e = { rb_be32(raw + i), rb_be32(raw + i + 4) };
		if (e.pos >= seg_size ||
		    (ix->n && (e.rel <= ix->e[ix->n - 1].rel ||
			       e.pos <= ix->e[ix->n - 1].pos))) {
			rc = 1;
			goto out_raw;
		}
		if (ix->n == ix->cap && (rc = grow((void **)&ix->e, &ix->cap,
						   sizeof(e))) < 0)
			goto out_raw;
		ix->e[ix->n++] = e;
	}
	free(raw);
	raw = NULL;
	n = read_all(ix->disk, ix->tfd, &raw);
	if (n < 0)
		return (int)n;
	free(ix->t);
	ix->t = NULL;
	ix->tn = ix->tcap = 0;
	if (n % TIDX_ENTRY) {
		rc = 1;
		goto out_raw;
	}
	for (ssize_t i = 0; i < n; i += TIDX_ENTRY) {
		struct tidx_entry t = { (int64_t)rb_be64(raw + i),
					rb_be32(raw + i + 8) };
		if (ix->tn && (t.ts <= ix->t[ix->tn - 1].ts ||
			       t.rel < ix->t[ix->tn - 1].rel)) {
			rc = 1;
			goto out_raw;
		}
		if (ix->tn == ix->tcap && (rc = grow((void **)&ix->t, &ix->tcap,
						     sizeof(t))) < 0)
			goto out_raw;
		ix->t[ix->tn++] = t;
	}
	ix->loaded = true;
out_raw:
	free(raw);
	return rc; /* 1: torn, rebuild */
}

int sindex_add(struct sindex *ix, uint32_t rel, uint32_t pos)
{
	uint8_t raw[IDX_ENTRY];
	if (ix->n && (rel <= ix->e[ix->n - 1].rel || pos <= ix->e[ix->n - 1].pos))
		return 0; /* never out of order */
	int rc = ix_files(ix);
	if (rc < 0)
		return rc;
	if (ix->n == ix->cap) {
		rc = grow((void **)&ix->e, &ix->cap, sizeof(*ix->e));
		if (rc < 0)
			return rc;
	}
	rb_put32(raw, rel);
	rb_put32(raw + 4, pos);
	ssize_t w = sd_pwrite(ix->disk, ix->fd, raw, sizeof(raw),
			      (uint64_t)ix->n * IDX_ENTRY);
	if (w != (ssize_t)sizeof(raw))
		return w < 0 ? (int)w : -EIO;
	ix->e[ix->n++] = (struct idx_entry){ rel, pos };
	return 0;
}

int sindex_add_time(struct sindex *ix, int64_t ts, uint32_t rel)
{
	uint8_t raw[TIDX_ENTRY];
	if (ix->tn && (ts <= ix->t[ix->tn - 1].ts || rel < ix->t[ix->tn - 1].rel))
		return 0;
	int rc = ix_files(ix);
	if (rc < 0)
		return rc;
	if (ix->tn == ix->tcap) {
		rc = grow((void **)&ix->t, &ix->tcap, sizeof(*ix->t));
		if (rc < 0)
			return rc;
	}
	rb_put64(raw, (uint64_t)ts);
	rb_put32(raw + 8, rel);
	ssize_t w = sd_pwrite(ix->disk, ix->tfd, raw, sizeof(raw),
			      (uint64_t)ix->tn * TIDX_ENTRY);
	if (w != (ssize_t)sizeof(raw))
		return w < 0 ? (int)w : -EIO;
	ix->t[ix->tn++] = (struct tidx_entry){ ts, rel };
	return 0;
}

uint32_t sindex_lookup(const struct sindex *ix, uint32_t rel, uint32_t *entry_rel)
{
	/* last entry with e.rel <= rel */
	uint32_t lo = 0, hi = ix->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (ix->e[mid].rel <= rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0) {
		*entry_rel = 0;
		return 0;
	}
	*entry_rel = ix->e[lo - 1].rel;
	return ix->e[lo - 1].pos;
}

uint32_t sindex_lookup_time(const struct sindex *ix, int64_t ts)
{
	/* last entry with t.ts < ts */
	uint32_t lo = 0, hi = ix->tn;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (ix->t[mid].ts < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? ix->t[lo - 1].rel : 0;
}

int sindex_truncate(struct sindex *ix, uint32_t pos, uint32_t rel)
{
	while (ix->n && ix->e[ix->n - 1].pos >= pos)
		ix->n--;
	while (ix->tn && ix->t[ix->tn - 1].rel > rel)
		ix->tn--;
	int rc = ix_files(ix);
	if (rc == 0)
		rc = sd_ftruncate(ix->disk, ix->fd, (uint64_t)ix->n * IDX_ENTRY);
	if (rc == 0)
		rc = sd_ftruncate(ix->disk, ix->tfd,
				  (uint64_t)ix->tn * TIDX_ENTRY);
	return rc;
}

int sindex_reset(struct sindex *ix)
{
	ix->n = ix->tn = 0;
	ix->loaded = true;
	int rc = ix_files(ix);
	if (rc == 0)
		rc = sd_ftruncate(ix->disk, ix->fd, 0);
	if (rc == 0)
		rc = sd_ftruncate(ix->disk, ix->tfd, 0);
	return rc;
}

int sindex_sync(struct sindex *ix)
{
	/* reopened if the log went idle meanwhile: closing a descriptor
	 * syncs nothing, the file's pages are synced through the new one */
	int rc = ix_files(ix);
	if (rc == 0)
		rc = sd_fdatasync(ix->disk, ix->fd);
	if (rc == 0)
		rc = sd_fdatasync(ix->disk, ix->tfd);
	return rc;
}
