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
		rc = sd_remove_tree(d, dir);
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
		rc = sd_remove_tree(d, dir);
		if (rc == 0)
			return 1;
	}
	snprintf(err, errlen, "cannot remove %s/%s-%d: %s (its data is not "
		 "served; remove it by hand)", data_dir, topic, part,
		 strerror(-rc));
	return rc;
}
