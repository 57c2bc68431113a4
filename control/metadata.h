/*
 * The control plane's topic metadata: the set of topics with their
 * partition counts and policies, the next topic id, and a bounded list of
 * recently deleted topics (tombstones) that sluiced may still hold.
 *
 * One file, <control_dir>/topics.meta, replaced atomically (write
 * topics.meta.tmp, fdatasync, rename, fsync the directory); its format is
 * specified at the top of metadata.c.  A missing file is an empty store (the
 * first start); a file that fails any check is an error (SL_META_EDAMAGED)
 * whose message says what to do, never an empty store.
 *
 * Several processes share the file: the sluice-control daemon and the local
 * `sluice-control topic ...` commands.  Every read-modify-write runs under
 * an exclusive flock on <control_dir>/lock (sl_meta_begin / sl_meta_commit),
 * re-reading the file first, so concurrent writers never lose an update.
 * Readers that keep a copy (the daemon) notice another writer's change with
 * sl_meta_changed() (the file's inode, size and mtime) and re-read it.
 *
 * Topic ids start at 1, are unique and never reused: next_id is persisted
 * and only grows.  Not thread-safe: one struct per thread.
 */
#ifndef SLUICE_CONTROL_METADATA_H
#define SLUICE_CONTROL_METADATA_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/native.h"

#define SL_META_TOPICS_MAX 4096
#define SL_META_TOMBSTONES_MAX 256
#define SL_META_FILE "topics.meta"
#define SL_META_LOCK_FILE "lock"
#define SL_META_EDAMAGED 1000 /* returned negated: the file is damaged */

struct sl_topic {
	uint32_t id;             /* unique, never reused, >= 1 */
	int32_t partitions;      /* 1 .. SN_PARTITIONS_MAX */
	uint8_t durability;      /* 0 every append, 1 group commit */
	int64_t retention_ms;    /* -1 forever */
	int64_t retention_bytes; /* per partition, -1 unlimited */
	int64_t segment_bytes;
	/* compaction (Kafka's topic configs of the same names); a topic
	 * given to sl_meta_create with cleanup_policy 0 gets the defaults */
	uint8_t cleanup_policy;  /* SN_CLEANUP_DELETE | SN_CLEANUP_COMPACT */
	double min_cleanable_dirty_ratio; /* 0 .. 1 */
	int64_t min_compaction_lag_ms;    /* >= 0 */
	int64_t max_compaction_lag_ms;    /* >= 1 */
	int64_t delete_retention_ms;      /* >= 0 */
	/* in a cluster (docs/cluster.md; not in topics.meta): replicas per
	 * partition, 0 on a single broker; min.insync.replicas (0: the
	 * broker's default) and unclean.leader.election.enable (0: the
	 * broker's default, 1 false, 2 true) as the topic sets them */
	int16_t replication_factor;
	int16_t min_insync_replicas;
	uint8_t unclean_leader_election;
	uint16_t name_len;
	char name[SN_NAME_MAX + 1]; /* NUL-terminated */
};

/* Kafka's defaults for the compaction configs. */
#define SL_DIRTY_RATIO_DEFAULT 0.5
#define SL_MIN_LAG_MS_DEFAULT 0
#define SL_MAX_LAG_MS_DEFAULT INT64_MAX
#define SL_DELETE_RETENTION_MS_DEFAULT 86400000

/* t's compaction fields set to the defaults, cleanup policy delete. */
void sl_topic_compaction_defaults(struct sl_topic *t);
/* 1 when t's compaction fields are within the ranges above. */
int sl_topic_compaction_valid(const struct sl_topic *t);

struct sl_tombstone {
	uint32_t id;
	uint16_t name_len;
	char name[SN_NAME_MAX + 1];
};

struct sdisk;

struct sl_meta {
	char dir[PATH_MAX - 32];
	const struct sdisk *disk; /* where the file lives (storage/disk.h) */
	int lock_fd;             /* -1 on a disk without kernel files */
	int locked;              /* 0, or 1 while sl_meta_begin holds it */
	uint64_t generation;     /* bumped by every save */
	uint32_t next_id;
	uint32_t count;
	uint32_t tomb_count;     /* oldest first */
	/* identity of the file last read or written (sl_meta_changed) */
	dev_t st_dev;
	ino_t st_ino;
	off_t st_size;
	int64_t st_mtime_ns;
	struct sl_topic topics[SL_META_TOPICS_MAX];  /* ids ascending */
	struct sl_tombstone tombs[SL_META_TOMBSTONES_MAX];
};

/*
 * Create dir (and parents) if needed, open its lock file and read the
 * store under a shared lock.  m is caller-owned (large: allocate it).
 * Returns 0, -errno, or -SL_META_EDAMAGED; err gets one line a person can
 * act on.
 */
int sl_meta_open(struct sl_meta *m, const char *dir, char *err, size_t errlen);
/* sl_meta_open() on disk d (the simulated disk in tests).  On a disk whose
 * handles are not kernel files there is no lock file: one process only. */
int sl_meta_open_on(struct sl_meta *m, const struct sdisk *d,
		    const char *dir, char *err, size_t errlen);
void sl_meta_close(struct sl_meta *m);

/*
 * An empty store in memory only, with no file, lock or disk behind it: the
 * topics of a store that another module keeps (control/cluster_image.c
 * replays them from the metadata log), or a working copy of them (a
 * cluster's controller runs a topic request on one, control/cluster.c).
 * Next id 1.  begin, commit and abort only mark the change (commit and
 * save bump generation); reload and sl_meta_changed find nothing; close
 * is not needed.
 */
void sl_meta_init(struct sl_meta *m);

/* Re-read the file (under a shared lock unless begin holds the lock).
 * On error m is unchanged.  Returns as sl_meta_open. */
int sl_meta_reload(struct sl_meta *m, char *err, size_t errlen);

/* 1 when the file differs from what was last read or written (another
 * process saved), 0 when not, -errno if it cannot be checked. */
int sl_meta_changed(const struct sl_meta *m);

/* Take the exclusive lock and re-read the file.  On error the lock is
 * released.  Returns as sl_meta_open. */
int sl_meta_begin(struct sl_meta *m, char *err, size_t errlen);
/* Save (atomic replace) and release the lock.  Returns 0 or -errno; on
 * error the file on disk is the previous one and m is re-read from it. */
int sl_meta_commit(struct sl_meta *m, char *err, size_t errlen);
/* Release the lock without saving, re-reading the file so m matches it. */
void sl_meta_abort(struct sl_meta *m);

/* Save m as it is (no lock taken: tests, or under begin). */
int sl_meta_save(struct sl_meta *m, char *err, size_t errlen);

/* The topic called name, or NULL. */
const struct sl_topic *sl_meta_find(const struct sl_meta *m, const char *name,
				    size_t name_len);
const struct sl_topic *sl_meta_find_id(const struct sl_meta *m, uint32_t id);

/*
 * Add a topic (t->id is ignored and assigned).  The caller has validated
 * the fields.  Returns the new id (> 0), -EEXIST when the name is taken,
 * -ENOSPC when SL_META_TOPICS_MAX topics exist, -EOVERFLOW when ids ran
 * out.  In memory only: sl_meta_commit / sl_meta_save persist it.
 */
long sl_meta_create(struct sl_meta *m, const struct sl_topic *t);

/* Set the partition count, retention, segment and compaction fields of the
 * topic with t->id to t's (its name and id stay).  The caller validated
 * them.  Returns 0 or -ENOENT.  In memory only. */
int sl_meta_update(struct sl_meta *m, const struct sl_topic *t);

/* Remove a topic, remembering it as a tombstone; *out gets a copy.
 * Returns 0 or -ENOENT.  In memory only. */
int sl_meta_delete(struct sl_meta *m, const char *name, size_t name_len,
		   struct sl_topic *out);

/* Bytes of the whole file for the current contents. */
size_t sl_meta_file_bytes(const struct sl_meta *m);

#endif
