/*
 * Durable namespace changes over the disk interface: the one place that
 * knows how to create a directory path, replace a small file atomically,
 * and remove files and trees so that the change survives a power cut.
 * Every module with durable state (storage/, control/, dataplane/) calls
 * these instead of writing its own copy.
 *
 * The rules they follow (disk.h has the contract they rely on):
 *   - a new name is durable once its directory is fsynced, so a created
 *     directory's parent is fsynced before the call returns;
 *   - a replaced file is written to <path>.tmp, fdatasynced, renamed over
 *     <path> (atomic within one directory), and the directory fsynced;
 *   - a removal is durable once the directory is fsynced.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/disk.h"

void sd_dirname(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		snprintf(out, cap, ".");
		return;
	}
	size_t n = (size_t)(slash - path);
	if (n == 0)
		n = 1; /* "/x": the root */
	if (n >= cap)
		n = cap - 1;
	memcpy(out, path, n);
	out[n] = 0;
}

int sd_mkdir_p(const struct sdisk *d, const char *dir)
{
	char tmp[PATH_MAX], parent[PATH_MAX];
	size_t n = strlen(dir);
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, n + 1);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = 0;
	int rc = sd_is_dir(d, tmp);
	if (rc != -ENOENT)
		return rc; /* 0: exists; -ENOTDIR or another error */
	/* Walk down from the first component, creating what is missing. */
	for (char *p = tmp + 1;; p++) {
		bool end = *p == 0;
		if (!end && *p != '/')
			continue;
		*p = 0;
		rc = sd_mkdir(d, tmp, 0750);
		if (rc == 0) {
			sd_dirname(tmp, parent, sizeof(parent));
			rc = sd_fsync_dir(d, parent);
			if (rc < 0)
				return rc;
		} else if (rc == -EEXIST) {
			rc = sd_is_dir(d, tmp);
			if (rc < 0)
				return rc;
		} else {
			return rc;
		}
		if (end)
			return 0;
		*p = '/';
	}
}

int sd_replace(const struct sdisk *d, const char *path, const void *buf,
	       size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = sd_open(d, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	if (fd < 0)
		return fd;
	ssize_t n = sd_pwrite(d, fd, buf, len, 0);
	int rc = n < 0 ? (int)n : (size_t)n != len ? -EIO : 0;
	if (rc == 0)
		rc = sd_fdatasync(d, fd);
	int crc = sd_close(d, fd);
	if (rc == 0)
		rc = crc;
	if (rc == 0)
		rc = sd_rename(d, tmp, path);
	if (rc < 0) {
		(void)sd_unlink(d, tmp);
		return rc;
	}
	sd_dirname(path, dir, sizeof(dir));
	return sd_fsync_dir(d, dir);
}

ssize_t sd_read_file(const struct sdisk *d, const char *path, size_t max,
		     uint8_t **out)
{
	*out = NULL;
	int fd = sd_open(d, path, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	uint64_t size;
	ssize_t rc = sd_fsize(d, fd, &size);
	if (rc < 0)
		goto out;
	if (size > max) {
		rc = -EFBIG;
		goto out;
	}
	if (size == 0)
		goto out; /* rc == 0 */
	uint8_t *p = malloc((size_t)size);
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	rc = sd_pread(d, fd, p, (size_t)size, 0);
	if (rc < 0) {
		free(p);
		goto out;
	}
	*out = p; /* a file that shrank meanwhile reads short */
out:
	sd_close(d, fd);
	return rc;
}

int sd_unlink_durable(const struct sdisk *d, const char *path)
{
	char dir[PATH_MAX];
	int rc = sd_unlink(d, path);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	sd_dirname(path, dir, sizeof(dir));
	return sd_fsync_dir(d, dir);
}

/* The names in one directory, gathered before any is removed. */
struct name_list {
	char **v;
	size_t n, cap;
};

static int collect(void *arg, const char *name)
{
	struct name_list *l = arg;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		char **p = realloc(l->v, ncap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = ncap;
	}
	l->v[l->n] = strdup(name);
	if (!l->v[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

/* Remove what is inside dir, depth bounded by PATH_MAX. */
static int remove_contents(const struct sdisk *d, const char *dir)
{
	struct name_list l = { 0 };
	char path[PATH_MAX];
	int rc = sd_list(d, dir, collect, &l);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     l.v[i]) >= sizeof(path)) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (sd_is_dir(d, path) == 0) {
			rc = remove_contents(d, path);
			if (rc == 0)
				rc = sd_rmdir(d, path);
		} else {
			rc = sd_unlink(d, path);
		}
		if (rc == -ENOENT)
			rc = 0;
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return rc;
}

int sd_remove_tree(const struct sdisk *d, const char *dir)
{
	char parent[PATH_MAX];
	int rc = sd_is_dir(d, dir);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	rc = remove_contents(d, dir);
	if (rc == 0)
		rc = sd_rmdir(d, dir);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	sd_dirname(dir, parent, sizeof(parent));
	return sd_fsync_dir(d, parent);
}
