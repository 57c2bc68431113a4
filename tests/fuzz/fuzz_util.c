/* Helpers of the fuzz targets (fuzz_util.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"

static char tmp_dir[PATH_MAX];

static void remove_tmpdir(void)
{
	if (tmp_dir[0]) {
		fz_clear_dir(tmp_dir);
		rmdir(tmp_dir);
	}
}

const char *fz_tmpdir(void)
{
	if (tmp_dir[0])
		return tmp_dir;
	const char *base = getenv("SLUICE_FUZZ_TMPDIR");
	if (!base || !*base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/sluice-fuzz-XXXXXX", base);
	if (!mkdtemp(tmp_dir)) {
		fprintf(stderr, "fuzz: cannot create a directory under %s: "
			"%s\n", base, strerror(errno));
		abort();
	}
	atexit(remove_tmpdir);
	return tmp_dir;
}

static void clear(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return;
		fprintf(stderr, "fuzz: opendir %s: %s\n", dir, strerror(errno));
		abort();
	}
	struct dirent *e;
	char path[PATH_MAX];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) == 0)
			continue;
		if ((errno == EISDIR || errno == EPERM) && depth > 0) {
			clear(path, depth - 1);
			if (rmdir(path) == 0)
				continue;
		}
		fprintf(stderr, "fuzz: cannot remove %s: %s\n", path,
			strerror(errno));
		abort();
	}
	closedir(d);
}

void fz_clear_dir(const char *dir)
{
	clear(dir, 2);
}

void fz_write_file(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(write(fd, p, len) == (ssize_t)len);
	close(fd);
}

static ssize_t filter_write(void *cookie, const char *buf, size_t len)
{
	(void)cookie;
	/* one sl_log line per call: "<time> sluice-control[pid]: ..." */
	if (memmem(buf, len, " sluice-control[", 16))
		return (ssize_t)len;
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(STDERR_FILENO, buf + done, len - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)len;
}

void fz_quiet_control_log(void)
{
	const char *v = getenv("SLUICE_FUZZ_VERBOSE");
	if (v && *v && strcmp(v, "0"))
		return;
	cookie_io_functions_t io = { .write = filter_write };
	FILE *f = fopencookie(NULL, "w", io);
	if (!f)
		return;
	setvbuf(f, NULL, _IOLBF, 0);
	stderr = f;
}

void fz_hexdump(const char *what, const void *p, size_t len)
{
	const uint8_t *b = p;
	fprintf(stderr, "%s: %zu bytes\n", what, len);
	for (size_t i = 0; i < len; i += 16) {
		fprintf(stderr, "  %06zx ", i);
		for (size_t j = i; j < i + 16; j++)
			if (j < len)
				fprintf(stderr, " %02x", b[j]);
			else
				fprintf(stderr, "   ");
		fprintf(stderr, "  ");
		for (size_t j = i; j < i + 16 && j < len; j++)
			fputc(b[j] >= 32 && b[j] < 127 ? b[j] : '.', stderr);
		fputc('\n', stderr);
	}
}
