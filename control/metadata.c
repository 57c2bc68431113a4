/*
 * Topic metadata store: one file, replaced atomically.
 *
 * <control_dir>/topics.meta, version 2, all integers big-endian:
 *
 *   offset  size  field
 *   0       4     magic "SLMD"
 *   4       2     version (2; 1 is read too, see below)
 *   6       2     header bytes (40)
 *   8       4     file length, trailer included
 *   12      4     topic count (<= 4096)
 *   16      4     tombstone count (<= 256)
 *   20      4     next topic id (>= 1; ids below it are used forever)
 *   24      8     generation (bumped by each save)
 *   32      8     reserved, 0
 *   40      ...   topic entries, ids ascending, each 72 bytes + name:
 *                 +0 u32 id, +4 i32 partitions, +8 u16 0, +10 u8
 *                 durability, +11 u8 cleanup policy (1 delete, 2
 *                 compact, 3 both), +12 i64 retention ms, +20 i64
 *                 retention bytes, +28 i64 segment bytes, +36 u16 name
 *                 length, +38 u16 0, +40 f64 (IEEE 754 bits)
 *                 min.cleanable.dirty.ratio, +48 i64
 *                 min.compaction.lag.ms, +56 i64 max.compaction.lag.ms,
 *                 +64 i64 delete.retention.ms, +72 name
 *           ...   tombstones, oldest first: u32 id, u16 name length,
 *                 u16 0, name
 *   len-4   4     CRC32C of bytes [0, len-4)
 *
 * Version 1 (before compaction) has 40-byte topic entries (the name at
 * +40, +11 zero); its topics read as cleanup policy delete with Kafka's
 * compaction defaults, and the next save writes version 2.
 *
 * The file is valid if and only if: its size equals the length field, the
 * CRC matches, magic and version are known, the entries end exactly at the
 * trailer, every name is a valid topic name and unique, every id is
 * non-zero, below next id and ascending, partitions are 1..1024,
 * durability 0 or 1, and (version 2) the cleanup policy 1..3, the dirty
 * ratio 0..1, the compaction lags and delete retention >= 0 and the
 * maximum lag >= 1.  Anything else is damage: it is reported (with what
 * to do) and the file is left alone; nothing is ever dropped silently.
 *
 * Happy path of a save: encode into a buffer, write topics.meta.tmp,
 * fdatasync it, rename over topics.meta, fsync the directory.  A crash at
 * any point leaves either the old or the new file under the name (a stale
 * .tmp is ignored and overwritten by the next save).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <assert.h>

#include "control/metadata.h"
#include "storage/disk.h"
#include "proto/record_batch.h"

#define META_MAGIC 0x534C4D44u
#define META_VERSION 2
#define META_HEADER_BYTES 40
#define META_ENTRY_BYTES 72
#define META_ENTRY_V1_BYTES 40
#define META_TOMB_BYTES 8
#define META_TRAILER_BYTES 4
#define META_FILE_MAX (META_HEADER_BYTES + \
	SL_META_TOPICS_MAX * (META_ENTRY_BYTES + SN_NAME_MAX) + \
	SL_META_TOMBSTONES_MAX * (META_TOMB_BYTES + SN_NAME_MAX) + \
	META_TRAILER_BYTES)

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}
static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}
static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

void sl_topic_compaction_defaults(struct sl_topic *t)
{
	t->cleanup_policy = SN_CLEANUP_DELETE;
	t->min_cleanable_dirty_ratio = SL_DIRTY_RATIO_DEFAULT;
	t->min_compaction_lag_ms = SL_MIN_LAG_MS_DEFAULT;
	t->max_compaction_lag_ms = SL_MAX_LAG_MS_DEFAULT;
	t->delete_retention_ms = SL_DELETE_RETENTION_MS_DEFAULT;
}

int sl_topic_compaction_valid(const struct sl_topic *t)
{
	/* written so that a NaN ratio is refused */
	return t->cleanup_policy >= 1 && t->cleanup_policy <= 3 &&
	       t->min_cleanable_dirty_ratio >= 0 &&
	       t->min_cleanable_dirty_ratio <= 1 &&
	       t->min_compaction_lag_ms >= 0 && t->max_compaction_lag_ms >= 1 &&
	       t->delete_retention_ms >= 0;
}

static void path_of(const struct sl_meta *m, const char *file, char *out)
{
	snprintf(out, PATH_MAX, "%s/%s", m->dir, file);
}

size_t sl_meta_file_bytes(const struct sl_meta *m)
{
	size_t n = META_HEADER_BYTES + META_TRAILER_BYTES;
	for (uint32_t i = 0; i < m->count; i++)
		n += META_ENTRY_BYTES + m->topics[i].name_len;
	for (uint32_t i = 0; i < m->tomb_count; i++)
		n += META_TOMB_BYTES + m->tombs[i].name_len;
	assert(n <= META_FILE_MAX);
	return n;
}

static size_t encode(const struct sl_meta *m, uint8_t *buf)
{
	size_t len = sl_meta_file_bytes(m), off = META_HEADER_BYTES;
	memset(buf, 0, META_HEADER_BYTES);
	put32(buf, META_MAGIC);
	put16(buf + 4, META_VERSION);
	put16(buf + 6, META_HEADER_BYTES);
	put32(buf + 8, (uint32_t)len);
	put32(buf + 12, m->count);
	put32(buf + 16, m->tomb_count);
	put32(buf + 20, m->next_id);
	put64(buf + 24, m->generation);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct sl_topic *t = &m->topics[i];
		uint8_t *p = buf + off;
		memset(p, 0, META_ENTRY_BYTES);
		put32(p, t->id);
		put32(p + 4, (uint32_t)t->partitions);
		p[10] = t->durability;
		p[11] = t->cleanup_policy;
		put64(p + 12, (uint64_t)t->retention_ms);
		put64(p + 20, (uint64_t)t->retention_bytes);
		put64(p + 28, (uint64_t)t->segment_bytes);
		put16(p + 36, t->name_len);
		uint64_t ratio;
		memcpy(&ratio, &t->min_cleanable_dirty_ratio, sizeof(ratio));
		put64(p + 40, ratio);
		put64(p + 48, (uint64_t)t->min_compaction_lag_ms);
		put64(p + 56, (uint64_t)t->max_compaction_lag_ms);
		put64(p + 64, (uint64_t)t->delete_retention_ms);
		memcpy(p + META_ENTRY_BYTES, t->name, t->name_len);
		off += META_ENTRY_BYTES + t->name_len;
	}
	for (uint32_t i = 0; i < m->tomb_count; i++) {
		const struct sl_tombstone *t = &m->tombs[i];
		uint8_t *p = buf + off;
		put32(p, t->id);
		put16(p + 4, t->name_len);
		put16(p + 6, 0);
		memcpy(p + META_TOMB_BYTES, t->name, t->name_len);
		off += META_TOMB_BYTES + t->name_len;
	}
	assert(off + META_TRAILER_BYTES == len);
	put32(buf + off, rb_crc32c(buf, off));
	return len;
}

/* Decode into out; returns 0 or -SL_META_EDAMAGED with the reason. */
static int decode(const uint8_t *buf, size_t len, struct sl_meta *out,
		  const char **why)
{
	if (len < META_HEADER_BYTES + META_TRAILER_BYTES) {
		*why = "shorter than its header (torn write?)";
		return -SL_META_EDAMAGED;
	}
	if (get32(buf) != META_MAGIC) {
		*why = "bad magic (not a sluice metadata file)";
		return -SL_META_EDAMAGED;
	}
	uint16_t version = get16(buf + 4);
	if ((version != 1 && version != META_VERSION) ||
	    get16(buf + 6) != META_HEADER_BYTES) {
		*why = "unknown version (written by a newer sluice-control?)";
		return -SL_META_EDAMAGED;
	}
	if (get32(buf + 8) != len) {
		*why = "length field does not match the file size (torn write?)";
		return -SL_META_EDAMAGED;
	}
	if (get32(buf + len - 4) != rb_crc32c(buf, len - 4)) {
		*why = "CRC32C mismatch (corrupted)";
		return -SL_META_EDAMAGED;
	}
	uint32_t count = get32(buf + 12), tombs = get32(buf + 16);
	uint32_t next_id = get32(buf + 20);
	if (count > SL_META_TOPICS_MAX || tombs > SL_META_TOMBSTONES_MAX ||
	    next_id == 0) {
		*why = "counts out of range";
		return -SL_META_EDAMAGED;
	}
	size_t off = META_HEADER_BYTES, end = len - META_TRAILER_BYTES;
	size_t entry = version == 1 ? META_ENTRY_V1_BYTES : META_ENTRY_BYTES;
	for (uint32_t i = 0; i < count; i++) {
		if (off + entry > end) {
			*why = "topic entries run past the end";
			return -SL_META_EDAMAGED;
		}
		const uint8_t *p = buf + off;
		struct sl_topic *t = &out->topics[i];
		memset(t, 0, sizeof(*t));
		t->id = get32(p);
		t->partitions = (int32_t)get32(p + 4);
		t->durability = p[10];
		t->retention_ms = (int64_t)get64(p + 12);
		t->retention_bytes = (int64_t)get64(p + 20);
		t->segment_bytes = (int64_t)get64(p + 28);
		t->name_len = get16(p + 36);
		if (off + entry + t->name_len > end ||
		    !sn_topic_name_valid((const char *)p + entry,
					 t->name_len)) {
			*why = "a topic entry has a bad name";
			return -SL_META_EDAMAGED;
		}
		memcpy(t->name, p + entry, t->name_len);
		if (version == 1) {
			sl_topic_compaction_defaults(t);
		} else {
			uint64_t ratio = get64(p + 40);
			t->cleanup_policy = p[11];
			memcpy(&t->min_cleanable_dirty_ratio, &ratio,
			       sizeof(ratio));
			t->min_compaction_lag_ms = (int64_t)get64(p + 48);
			t->max_compaction_lag_ms = (int64_t)get64(p + 56);
			t->delete_retention_ms = (int64_t)get64(p + 64);
			if (!sl_topic_compaction_valid(t)) {
				*why = "a topic entry has a bad cleanup policy "
				       "or compaction setting";
				return -SL_META_EDAMAGED;
			}
		}
		t->name[t->name_len] = 0;
		if (t->id == 0 || t->id >= next_id ||
		    (i > 0 && t->id <= out->topics[i - 1].id) ||
		    t->partitions < 1 || t->partitions > SN_PARTITIONS_MAX ||
		    t->durability > 1) {
			*why = "a topic entry has a bad id, partition count or "
			       "durability";
			return -SL_META_EDAMAGED;
		}
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(out->topics[j].name, t->name)) {
				*why = "a topic name appears twice";
				return -SL_META_EDAMAGED;
			}
		off += entry + t->name_len;
	}
	for (uint32_t i = 0; i < tombs; i++) {
		if (off + META_TOMB_BYTES > end) {
			*why = "tombstones run past the end";
			return -SL_META_EDAMAGED;
		}
		const uint8_t *p = buf + off;
		struct sl_tombstone *t = &out->tombs[i];
		t->id = get32(p);
		t->name_len = get16(p + 4);
		if (off + META_TOMB_BYTES + t->name_len > end ||
		    !sn_topic_name_valid((const char *)p + META_TOMB_BYTES,
					 t->name_len) || t->id >= next_id) {
			*why = "a tombstone is bad";
			return -SL_META_EDAMAGED;
		}
		memcpy(t->name, p + META_TOMB_BYTES, t->name_len);
		t->name[t->name_len] = 0;
		off += META_TOMB_BYTES + t->name_len;
	}
	if (off != end) {
		*why = "bytes left over after the last entry";
		return -SL_META_EDAMAGED;
	}
	out->count = count;
	out->tomb_count = tombs;
	out->next_id = next_id;
	out->generation = get64(buf + 24);
	return 0;
}

/* Remember the identity of the file just read or written, so that
 * sl_meta_changed() sees another process's save (kernel files only). */
static void remember_file(struct sl_meta *m, const char *path)
{
	struct stat st;
	if (!m->disk->kernel_fds || stat(path, &st) < 0) {
		m->st_ino = 0;
		m->st_size = -1;
		m->st_mtime_ns = 0;
		return;
	}
	m->st_dev = st.st_dev;
	m->st_ino = st.st_ino;
	m->st_size = st.st_size;
	m->st_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
			 st.st_mtim.tv_nsec;
}

/* Read the file into m (lock held by the caller).  Decodes into a scratch
 * copy so that m is unchanged on error. */
static int read_file(struct sl_meta *m, char *err, size_t errlen)
{
	char path[PATH_MAX];
	path_of(m, SL_META_FILE, path);
	uint8_t *buf = NULL;
	struct sl_meta *tmp = NULL;
	ssize_t n = sd_read_file(m->disk, path, META_FILE_MAX, &buf);
	int rc;
	if (n == -ENOENT) {
		/* first start: an empty store */
		m->count = m->tomb_count = 0;
		m->next_id = 1;
		m->generation = 0;
		m->st_ino = 0;
		m->st_size = -1;
		m->st_mtime_ns = 0;
		return 0;
	}
	if (n == -EFBIG) {
		snprintf(err, errlen, "%s is damaged: larger than any valid "
			 "metadata file; restore it from a backup, or move it "
			 "away to start with no topics (their data stays in "
			 "data_dir)", path);
		return -SL_META_EDAMAGED;
	}
	if (n < 0) {
		snprintf(err, errlen, "%s: read: %s", path, strerror((int)-n));
		return (int)n;
	}
	size_t got = (size_t)n;
	tmp = malloc(sizeof(*tmp));
	if (!tmp) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out_free;
	}
	const char *why = "";
	rc = decode(buf, got, tmp, &why);
	if (rc) {
		snprintf(err, errlen, "%s is damaged: %s; restore it from a "
			 "backup, or move it away to start with no topics "
			 "(their data stays in data_dir; recreate them with "
			 "'sluice-control topic create')", path, why);
		goto out_free;
	}
	m->count = tmp->count;
	m->tomb_count = tmp->tomb_count;
	m->next_id = tmp->next_id;
	m->generation = tmp->generation;
	memcpy(m->topics, tmp->topics, sizeof(m->topics[0]) * tmp->count);
	memcpy(m->tombs, tmp->tombs, sizeof(m->tombs[0]) * tmp->tomb_count);
	remember_file(m, path);
	rc = 0;
out_free:
	free(tmp);
	free(buf);
	return rc;
}

int sl_meta_open(struct sl_meta *m, const char *dir, char *err, size_t errlen)
{
	return sl_meta_open_on(m, &sdisk_posix, dir, err, errlen);
}

int sl_meta_open_on(struct sl_meta *m, const struct sdisk *d,
		    const char *dir, char *err, size_t errlen)
{
	assert(m && dir && d);
	memset(m, 0, offsetof(struct sl_meta, topics));
	m->disk = d;
	m->lock_fd = -1;
	m->next_id = 1;
	if (snprintf(m->dir, sizeof(m->dir), "%s", dir) >= (int)sizeof(m->dir)) {
		snprintf(err, errlen, "control_dir '%s': path too long", dir);
		return -ENAMETOOLONG;
	}
	int rc = sd_mkdir_p(d, dir);
	if (rc) {
		snprintf(err, errlen, "control_dir %s: cannot create: %s", dir,
			 strerror(-rc));
		return rc;
	}
	if (!d->kernel_fds)
		return sl_meta_reload(m, err, errlen);
	char path[PATH_MAX];
	path_of(m, SL_META_LOCK_FILE, path);
	m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (m->lock_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	rc = sl_meta_reload(m, err, errlen);
	if (rc) {
		close(m->lock_fd);
		m->lock_fd = -1;
	}
	return rc;
}

void sl_meta_init(struct sl_meta *m)
{
	assert(m);
	memset(m, 0, offsetof(struct sl_meta, topics));
	m->disk = NULL;
	m->lock_fd = -1;
	m->next_id = 1;
	m->st_size = -1;
}

void sl_meta_close(struct sl_meta *m)
{
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	m->lock_fd = -1;
	m->locked = 0;
}

static int lock(struct sl_meta *m, int op, char *err, size_t errlen)
{
	if (m->lock_fd < 0)
		return 0; /* one process on a simulated disk */
	while (flock(m->lock_fd, op)) {
		if (errno == EINTR)
			continue;
		int rc = -errno;
		snprintf(err, errlen, "%s/%s: flock: %s", m->dir,
			 SL_META_LOCK_FILE, strerror(errno));
		return rc;
	}
	return 0;
}

int sl_meta_reload(struct sl_meta *m, char *err, size_t errlen)
{
	if (!m->disk)
		return 0; /* in memory: nothing to re-read */
	assert(m->lock_fd >= 0 || !m->disk->kernel_fds);
	if (m->locked)
		return read_file(m, err, errlen);
	int rc = lock(m, LOCK_SH, err, errlen);
	if (rc)
		return rc;
	rc = read_file(m, err, errlen);
	lock(m, LOCK_UN, err, errlen);
	return rc;
}

int sl_meta_changed(const struct sl_meta *m)
{
	char path[PATH_MAX];
	struct stat st;
	if (!m->disk || !m->disk->kernel_fds)
		return 0; /* in memory, or one process: nobody else saves */
	path_of(m, SL_META_FILE, path);
	if (stat(path, &st)) {
		if (errno == ENOENT)
			return m->st_size != -1;
		return -errno;
	}
	int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 +
		     st.st_mtim.tv_nsec;
	return st.st_ino != m->st_ino || st.st_dev != m->st_dev ||
	       st.st_size != m->st_size || mt != m->st_mtime_ns;
}

int sl_meta_begin(struct sl_meta *m, char *err, size_t errlen)
{
	assert(!m->locked);
	if (!m->disk) {
		m->locked = 1;
		return 0;
	}
	int rc = lock(m, LOCK_EX, err, errlen);
	if (rc)
		return rc;
	m->locked = 1;
	rc = read_file(m, err, errlen);
	if (rc) {
		lock(m, LOCK_UN, err, errlen);
		m->locked = 0;
	}
	return rc;
}

void sl_meta_abort(struct sl_meta *m)
{
	char err[512];
	assert(m->locked);
	if (!m->disk) {
		/* callers abort before they change anything */
		m->locked = 0;
		return;
	}
	(void)read_file(m, err, sizeof(err));
	lock(m, LOCK_UN, err, sizeof(err));
	m->locked = 0;
}

int sl_meta_commit(struct sl_meta *m, char *err, size_t errlen)
{
	char err2[512];
	assert(m->locked);
	if (!m->disk) {
		m->generation++;
		m->locked = 0;
		return 0;
	}
	int rc = sl_meta_save(m, err, errlen);
	if (rc)
		(void)read_file(m, err2, sizeof(err2));
	lock(m, LOCK_UN, err2, sizeof(err2));
	m->locked = 0;
	return rc;
}

int sl_meta_save(struct sl_meta *m, char *err, size_t errlen)
{
	char path[PATH_MAX];
	if (!m->disk) {
		m->generation++;
		return 0;
	}
	path_of(m, SL_META_FILE, path);
	uint8_t *buf = malloc(META_FILE_MAX);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	m->generation++;
	size_t len = encode(m, buf);
	int rc = sd_replace(m->disk, path, buf, len);
	free(buf);
	if (rc) {
		m->generation--;
		snprintf(err, errlen, "%s: saving topic metadata failed: %s "
			 "(the previous version is still in place, or this "
			 "one if only the directory sync failed)", path,
			 strerror(-rc));
		return rc;
	}
	remember_file(m, path);
	return 0;
}

const struct sl_topic *sl_meta_find(const struct sl_meta *m, const char *name,
				    size_t name_len)
{
	for (uint32_t i = 0; i < m->count; i++)
		if (m->topics[i].name_len == name_len &&
		    !memcmp(m->topics[i].name, name, name_len))
			return &m->topics[i];
	return NULL;
}

const struct sl_topic *sl_meta_find_id(const struct sl_meta *m, uint32_t id)
{
	for (uint32_t i = 0; i < m->count; i++)
		if (m->topics[i].id == id)
			return &m->topics[i];
	return NULL;
}

long sl_meta_create(struct sl_meta *m, const struct sl_topic *t)
{
	assert(t->name_len > 0 && t->name_len <= SN_NAME_MAX);
	assert(t->partitions >= 1 && t->partitions <= SN_PARTITIONS_MAX);
	if (sl_meta_find(m, t->name, t->name_len))
		return -EEXIST;
	if (m->count >= SL_META_TOPICS_MAX)
		return -ENOSPC;
	if (m->next_id == UINT32_MAX)
		return -EOVERFLOW;
	struct sl_topic *n = &m->topics[m->count++];
	*n = *t;
	n->name[n->name_len] = 0;
	if (n->cleanup_policy == 0)
		sl_topic_compaction_defaults(n);
	assert(sl_topic_compaction_valid(n));
	n->id = m->next_id++;
	return n->id;
}

int sl_meta_update(struct sl_meta *m, const struct sl_topic *t)
{
	struct sl_topic *o = (struct sl_topic *)sl_meta_find_id(m, t->id);
	if (!o)
		return -ENOENT;
	assert(t->partitions >= 1 && t->partitions <= SN_PARTITIONS_MAX);
	assert(sl_topic_compaction_valid(t));
	o->partitions = t->partitions;
	o->retention_ms = t->retention_ms;
	o->retention_bytes = t->retention_bytes;
	o->segment_bytes = t->segment_bytes;
	o->cleanup_policy = t->cleanup_policy;
	o->min_cleanable_dirty_ratio = t->min_cleanable_dirty_ratio;
	o->min_compaction_lag_ms = t->min_compaction_lag_ms;
	o->max_compaction_lag_ms = t->max_compaction_lag_ms;
	o->delete_retention_ms = t->delete_retention_ms;
	return 0;
}

int sl_meta_delete(struct sl_meta *m, const char *name, size_t name_len,
		   struct sl_topic *out)
{
	const struct sl_topic *t = sl_meta_find(m, name, name_len);
	if (!t)
		return -ENOENT;
	uint32_t i = (uint32_t)(t - m->topics);
	assert(i < m->count);
	if (out)
		*out = *t;
	/* one tombstone per name: the newest */
	struct sl_tombstone tomb = { .id = t->id, .name_len = t->name_len };
	memcpy(tomb.name, t->name, t->name_len + 1);
	for (uint32_t j = 0; j < m->tomb_count;) {
		if (!strcmp(m->tombs[j].name, tomb.name)) {
			memmove(&m->tombs[j], &m->tombs[j + 1],
				sizeof(m->tombs[0]) * (m->tomb_count - j - 1));
			m->tomb_count--;
		} else {
			j++;
		}
	}
	if (m->tomb_count == SL_META_TOMBSTONES_MAX) {
		memmove(&m->tombs[0], &m->tombs[1],
			sizeof(m->tombs[0]) * (m->tomb_count - 1));
		m->tomb_count--;
	}
	m->tombs[m->tomb_count++] = tomb;
	memmove(&m->topics[i], &m->topics[i + 1],
		sizeof(m->topics[0]) * (m->count - i - 1));
	m->count--;
	return 0;
}
