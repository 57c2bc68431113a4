/*
 * The disk interface (disk.h) on the kernel's file system: each operation
 * is its system call, with -errno returns, EINTR retried, and short reads
 * and writes completed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/disk.h"

static int px_open(void *ctx, const char *path, int flags, mode_t mode)
{
	int fd;
	do
		fd = open(path, flags | O_CLOEXEC, mode);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

static int px_close(void *ctx, int fd)
{
	/* Linux releases the descriptor even when close reports an error;
	 * retrying could close someone else's. */
	return close(fd) < 0 && errno != EINTR ? -errno : 0;
}

static ssize_t px_pread(void *ctx, int fd, void *buf, size_t len,
			uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static ssize_t px_pwrite(void *ctx, int fd, const void *buf, size_t len,
			 uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int px_fsync(void *ctx, int fd)
{
	return fsync(fd) < 0 ? -errno : 0;
}

static int px_fdatasync(void *ctx, int fd)
{
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int px_ftruncate(void *ctx, int fd, uint64_t len)
{
	int rc;
	do
		rc = ftruncate(fd, (off_t)len);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

static int px_fallocate(void *ctx, int fd, uint64_t len)
{
	return fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)len) < 0 ? -errno
								      : 0;
}

static int px_fsize(void *ctx, int fd, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int px_rename(void *ctx, const char *from, const char *to)
{
	return rename(from, to) < 0 ? -errno : 0;
}

static int px_unlink(void *ctx, const char *path)
{
	return unlink(path) < 0 ? -errno : 0;
}

static int px_mkdir(void *ctx, const char *path, mode_t mode)
{
	return mkdir(path, mode) < 0 ? -errno : 0;
}

static int px_rmdir(void *ctx, const char *path)
{
	return rmdir(path) < 0 ? -errno : 0;
}

static int px_list(void *ctx, const char *dir,
		   int (*fn)(void *arg, const char *name), void *arg)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *de;
	int rc = 0;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		rc = fn(arg, de->d_name);
		if (rc)
			break;
		errno = 0;
	}
	if (!de && errno)
		rc = -errno;
	closedir(d);
	return rc;
}

static int px_is_dir(void *ctx, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int px_fsync_dir(void *ctx, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* /proc/sys/kernel/random/boot_id: a UUID in text, new at every boot. */
static int px_boot_id(void *ctx, uint8_t id[16])
{
	char text[64];
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	int err = errno;
	close(fd);
	if (n < 0)
		return -err;
	text[n] = 0;
	unsigned got = 0;
	for (ssize_t i = 0; i + 1 < n && got < 16; i++) {
		int hi = hexval(text[i]), lo = hexval(text[i + 1]);
		if (hi < 0)
			continue;
		if (lo < 0)
			return -EINVAL;
		id[got++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return got == 16 ? 0 : -EINVAL;
}

static const struct sdisk_ops posix_ops = {
	.open = px_open,
	.close = px_close,
	.pread = px_pread,
	.pwrite = px_pwrite,
	.fsync = px_fsync,
	.fdatasync = px_fdatasync,
	.ftruncate = px_ftruncate,
	.fallocate = px_fallocate,
	.fsize = px_fsize,
	.rename = px_rename,
	.unlink = px_unlink,
	.mkdir = px_mkdir,
	.rmdir = px_rmdir,
	.list = px_list,
	.is_dir = px_is_dir,
	.fsync_dir = px_fsync_dir,
	.boot_id = px_boot_id,
};

const struct sdisk sdisk_posix = {
	.ops = &posix_ops,
	.ctx = NULL,
	.kernel_fds = true,
};
