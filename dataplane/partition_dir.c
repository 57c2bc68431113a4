/*
 * Partition directories and the topic they belong to (partition_dir.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/partition_dir.h"
#include "storage/disk.h"

#define ID_TEXT_MAX 16

/* 1: the directory records id; 0: records another; -ENOENT: no record. */
static int owner_is(const struct sdisk *d, const char *dir, uint32_t id)
{
	char path[PATH_MAX + 16], text[ID_TEXT_MAX];
	uint8_t *buf = NULL;
	snprintf(path, sizeof(path), "%s/topic_id", dir);
	ssize_t len = sd_read_file(d, path, ID_TEXT_MAX, &buf);
	if (len == -ENOENT)
		return -ENOENT; /* no record, or no directory */
	if (len == -EFBIG)
		return 0; /* not an id this code writes */
	if (len < 0)
		return (int)len;
	int n = snprintf(text, sizeof(text), "%u\n", id);
	bool same = len == n && !memcmp(buf, text, (size_t)n);
	free(buf);
	return same;
}

static int dir_of(char *out, const char *data_dir, const char *topic,
		  int32_t part)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s-%d", data_dir, topic,
			     part) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Move dir out of its name (durably), then remove it. */
static int trash(const struct sdisk *d, const char *data_dir, const char *dir,
		 const char *topic, int32_t part, uint32_t id)
{
	char to[PATH_MAX];
	if ((size_t)snprintf(to, sizeof(to), "%s/trash+%s-%d+%u", data_dir,
			     topic, part, id) >= sizeof(to))
		return -ENAMETOOLONG;
	int rc = sd_remove_tree(d, to); /* an earlier one, cut short */
	if (rc == 0)
		rc = sd_rename(d, dir, to);
	if (rc == 0)
		rc = sd_fsync_dir(d, data_dir);
	if (rc == 0)
		rc = sd_remove_tree(d, to);
	return rc;
}

struct sweep {
	const struct sdisk *d;
	const char *data_dir;
	int removed;
	int rc;
};

static int sweep_one(void *arg, const char *name)
{
	struct sweep *sw = arg;
	char path[PATH_MAX];
	if (strncmp(name, "trash+", 6))
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", sw->data_dir,
			     name) >= sizeof(path))
		return 0;
	int rc = sd_remove_tree(sw->d, path);
	if (rc < 0 && sw->rc == 0)
		sw->rc = rc;
	if (rc == 0)
		sw->removed++;
	return 0;
}

int pdir_sweep(const struct sdisk *d, const char *data_dir, char *err,
	       size_t errlen)
{
	struct sweep sw = { d, data_dir, 0, 0 };
	int rc = sd_list(d, data_dir, sweep_one, &sw);
	if (rc == -ENOENT)
		return 0;
	if (rc == 0)
		rc = sw.rc;
	if (rc < 0) {
		snprintf(err, errlen, "cannot clear removed partitions in %s: "
			 "%s", data_dir, strerror(-rc));
		return rc;
	}
	return sw.removed;
}

int pdir_claim(const struct sdisk *d, const char *data_dir, const char *topic,
	       int32_t part, uint32_t id, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], text[ID_TEXT_MAX];
	int removed = 0;
	int rc = dir_of(dir, data_dir, topic, part);
	if (rc < 0)
		goto fail;
	rc = owner_is(d, dir, id);
	if (rc == 1)
		return 0;
	if (rc == 0) {
		rc = trash(d, data_dir, dir, topic, part, id);
		if (rc < 0)
			goto fail;
		removed = 1;
	} else if (rc != -ENOENT) {
		goto fail;
	}
	rc = sd_mkdir_p(d, dir);
	if (rc < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/topic_id", dir);
	int n = snprintf(text, sizeof(text), "%u\n", id);
	rc = sd_replace(d, path, text, (size_t)n);
	if (rc < 0)
		goto fail;
	return removed;
fail:
	snprintf(err, errlen, "cannot prepare %s/%s-%d for topic id %u: %s",
		 data_dir, topic, part, id, strerror(-rc));
	return rc;
}

int pdir_remove(const struct sdisk *d, const char *data_dir,
		const char *topic, int32_t part, uint32_t id, char *err,
		size_t errlen)
{
	char dir[PATH_MAX];
	int rc = dir_of(dir, data_dir, topic, part);
	if (rc == 0) {
		rc = owner_is(d, dir, id);
		if (rc == 0)
			return 0; /* a newer topic's: not ours to remove */
		if (rc == -ENOENT && sd_is_dir(d, dir) == -ENOENT)
			return 0;
		rc = trash(d, data_dir, dir, topic, part, id);
		if (rc == 0)
			return 1;
	}
	snprintf(err, errlen, "cannot remove %s/%s-%d: %s (its data is not "
		 "served; remove it by hand)", data_dir, topic, part,
		 strerror(-rc));
	return rc;
}
