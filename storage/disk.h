/*
 * The disk: every file and directory operation that sluice's durable state
 * goes through (partition logs, recovery points, indexes, the offsets
 * store, the topic metadata, the producer-id file).
 *
 * Two implementations stand behind this one interface:
 *   - sdisk_posix (disk_posix.c): the kernel's file system;
 *   - the simulated disk (tests/lib/simdisk.c): files and directories in
 *     memory that keep what was synced apart from what was not, so a
 *     "power cut" can drop or tear exactly what a real one could.
 *
 * The contract is the one the durable code relies on, written as the
 * simulated disk enforces it (POSIX promises no more on ext4/xfs):
 *   - data written with sd_pwrite survives a power cut only after an
 *     sd_fsync / sd_fdatasync of that file returned 0; until then any
 *     4 KiB block of it may come back old, new, or (past the old size)
 *     as zeros, and the size may be the old or the new one;
 *   - a directory entry (a created, renamed or unlinked name, a new
 *     directory) survives a power cut only after sd_fsync_dir of the
 *     directory holding it; until then the directory may come back with
 *     any prefix of the changes made to it since its last sync;
 *   - a rename within one directory is atomic: after a cut the name
 *     points at the old file or the new one, never at neither.
 *
 * Handles are small non-negative integers.  For sdisk_posix they are
 * kernel file descriptors (sdisk->kernel_fds is true), which the writer
 * gives to io_uring and the dataplane reads with pread/sendfile; other
 * implementations' handles mean nothing to the kernel.
 *
 * Errors: every call returns >= 0 on success or -errno.  sd_pread and
 * sd_pwrite loop over short transfers and EINTR: they return the whole
 * length, fewer bytes only at end of file (reads), or -errno.
 *
 * Thread safety: sdisk_posix is safe from any thread; the simulated disk
 * is for single-threaded tests.
 */
#ifndef SLUICE_STORAGE_DISK_H
#define SLUICE_STORAGE_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sdisk_ops {
	/* open(2) with O_RDONLY/O_WRONLY/O_RDWR, O_CREAT, O_TRUNC, O_EXCL,
	 * O_DIRECT (an implementation without it answers -EINVAL as a
	 * file system would); O_CLOEXEC is implied. */
	int (*open)(void *ctx, const char *path, int flags, mode_t mode);
	int (*close)(void *ctx, int fd);
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len,
			 uint64_t off);
	ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t len,
			  uint64_t off);
	int (*fsync)(void *ctx, int fd);
	int (*fdatasync)(void *ctx, int fd);
	int (*ftruncate)(void *ctx, int fd, uint64_t len);
	/* Reserve len bytes without changing the size (FALLOC_FL_KEEP_SIZE);
	 * -EOPNOTSUPP where the file system cannot. */
	int (*fallocate)(void *ctx, int fd, uint64_t len);
	int (*fsize)(void *ctx, int fd, uint64_t *size);
	int (*rename)(void *ctx, const char *from, const char *to);
	int (*unlink)(void *ctx, const char *path);
	int (*mkdir)(void *ctx, const char *path, mode_t mode);
	int (*rmdir)(void *ctx, const char *path);
	/* Call fn for each name in dir except "." and "..", in no particular
	 * order, until fn returns non-zero (which list returns).  Returns 0
	 * after the last name, or -errno (-ENOENT: no such directory). */
	int (*list)(void *ctx, const char *dir,
		    int (*fn)(void *arg, const char *name), void *arg);
	/* 0: a directory; -ENOTDIR: something else; -ENOENT: nothing. */
	int (*is_dir)(void *ctx, const char *path);
	int (*fsync_dir)(void *ctx, const char *dir);
	/* 16 bytes that differ after every restart of the machine (after a
	 * power cut the page cache is gone; after a process crash it is not):
	 * Linux's boot_id.  Returns 0 or -errno. */
	int (*boot_id)(void *ctx, uint8_t id[16]);
};

struct sdisk {
	const struct sdisk_ops *ops;
	void *ctx;
	bool kernel_fds; /* handles are kernel descriptors */
};

/* The kernel's file system. */
extern const struct sdisk sdisk_posix;

static inline int sd_open(const struct sdisk *d, const char *path, int flags,
			  mode_t mode)
{
	return d->ops->open(d->ctx, path, flags, mode);
}

static inline int sd_close(const struct sdisk *d, int fd)
{
	return d->ops->close(d->ctx, fd);
}

static inline ssize_t sd_pread(const struct sdisk *d, int fd, void *buf,
			       size_t len, uint64_t off)
{
	return d->ops->pread(d->ctx, fd, buf, len, off);
}

static inline ssize_t sd_pwrite(const struct sdisk *d, int fd,
				const void *buf, size_t len, uint64_t off)
{
	return d->ops->pwrite(d->ctx, fd, buf, len, off);
}

static inline int sd_fsync(const struct sdisk *d, int fd)
{
	return d->ops->fsync(d->ctx, fd);
}

static inline int sd_fdatasync(const struct sdisk *d, int fd)
{
	return d->ops->fdatasync(d->ctx, fd);
}

static inline int sd_ftruncate(const struct sdisk *d, int fd, uint64_t len)
{
	return d->ops->ftruncate(d->ctx, fd, len);
}

static inline int sd_fallocate(const struct sdisk *d, int fd, uint64_t len)
{
	return d->ops->fallocate(d->ctx, fd, len);
}

static inline int sd_fsize(const struct sdisk *d, int fd, uint64_t *size)
{
	return d->ops->fsize(d->ctx, fd, size);
}

static inline int sd_rename(const struct sdisk *d, const char *from,
			    const char *to)
{
	return d->ops->rename(d->ctx, from, to);
}

static inline int sd_unlink(const struct sdisk *d, const char *path)
{
	return d->ops->unlink(d->ctx, path);
}

static inline int sd_mkdir(const struct sdisk *d, const char *path,
			   mode_t mode)
{
	return d->ops->mkdir(d->ctx, path, mode);
}

static inline int sd_rmdir(const struct sdisk *d, const char *path)
{
	return d->ops->rmdir(d->ctx, path);
}

static inline int sd_list(const struct sdisk *d, const char *dir,
			  int (*fn)(void *arg, const char *name), void *arg)
{
	return d->ops->list(d->ctx, dir, fn, arg);
}

static inline int sd_is_dir(const struct sdisk *d, const char *path)
{
	return d->ops->is_dir(d->ctx, path);
}

static inline int sd_fsync_dir(const struct sdisk *d, const char *dir)
{
	return d->ops->fsync_dir(d->ctx, dir);
}

static inline int sd_boot_id(const struct sdisk *d, uint8_t id[16])
{
	return d->ops->boot_id(d->ctx, id);
}

/* ---- durable namespace changes, built on the operations above ---- */

/*
 * Create dir and every missing parent (mode 0750), fsyncing the parent of
 * each directory it creates, so that once it returns 0 the whole path
 * survives a power cut.  An existing directory is success; an existing
 * non-directory is -ENOTDIR.  Returns 0 or -errno.
 */
int sd_mkdir_p(const struct sdisk *d, const char *dir);

/*
 * Replace path's contents with [buf, buf + len) atomically and durably:
 * write path.tmp (mode 0640), fdatasync it, rename it over path, fsync
 * the directory.  After a power cut at any moment path holds either the
 * old contents or the new, whole.  Returns 0 or -errno (path.tmp is
 * removed on failure when possible; path is untouched).
 */
int sd_replace(const struct sdisk *d, const char *path, const void *buf,
	       size_t len);

/*
 * Read a whole small file (at most max bytes) into a malloc'd buffer.
 * Returns the length and *out (NULL for an empty file; free it), -ENOENT
 * when there is no file, -EFBIG when it is larger than max, or -errno.
 */
ssize_t sd_read_file(const struct sdisk *d, const char *path, size_t max,
		     uint8_t **out);

/*
 * Unlink path and fsync its directory, so the removal survives a power
 * cut.  A missing file is success.  Returns 0 or -errno.
 */
int sd_unlink_durable(const struct sdisk *d, const char *path);

/*
 * Remove dir and everything in it (files and subdirectories), then fsync
 * dir's parent.  A missing dir is success.  Returns 0 or -errno.
 */
int sd_remove_tree(const struct sdisk *d, const char *dir);

/* The directory part of path ("." when it has none) into out. */
void sd_dirname(const char *path, char *out, size_t cap);

#endif
