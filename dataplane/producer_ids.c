/*
 * Producer ids (producer_ids.h): the file that reserves them and the
 * blocks handed out from it.
 *
 * The file, <run_dir>/producer_id, ASCII: the decimal first id of the next
 * unreserved block, 1 to 19 digits, no sign, no leading zero, then one
 * '\n', and nothing else.  The value is >= PID_FIRST and leaves room for
 * one more block below INT64_MAX.  The file is valid if and only if it is
 * exactly that; it is only ever replaced whole (write producer_id.tmp,
 * fdatasync, rename, fsync run_dir), so after a power cut it is the old
 * or the new version, never a mix, and anything else is outside damage.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp.h"
#include "dataplane/log.h"
#include "dataplane/producer_ids.h"
#include "storage/disk.h"

#define PID_FILE_MAX 32

int64_t pid_store_parse(const uint8_t *buf, size_t len)
{
	if (len < 2 || len > 20 || buf[len - 1] != '\n' ||
	    (buf[0] == '0' && len > 2))
		return -EBADMSG;
	int64_t v = 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EBADMSG;
		if (v > (INT64_MAX - 9) / 10)
			return -EBADMSG;
		v = v * 10 + (buf[i] - '0');
	}
	if (v < PID_FIRST || v > INT64_MAX - 2 * PID_BLOCK_IDS)
		return -EBADMSG;
	return v;
}

int pid_store_reserve(struct pid_store *ps, int64_t from)
{
	char text[PID_FILE_MAX];
	if (from < ps->reserved_end || from > INT64_MAX - 2 * PID_BLOCK_IDS)
		return -ERANGE;
	int n = snprintf(text, sizeof(text), "%lld\n",
			 (long long)(from + PID_BLOCK_IDS));
	int rc = sd_replace(ps->disk, ps->path, text, (size_t)n);
	if (rc < 0)
		return rc;
	ps->reserved_end = from + PID_BLOCK_IDS;
	return 0;
}

int pid_store_open(struct pid_store *ps, const struct sdisk *d,
		   const char *run_dir, char *err, size_t errlen)
{
	memset(ps, 0, sizeof(*ps));
	ps->disk = d;
	if ((size_t)snprintf(ps->path, sizeof(ps->path), "%s/producer_id",
			     run_dir) >= sizeof(ps->path)) {
		snprintf(err, errlen, "%s: path too long", run_dir);
		return -ENAMETOOLONG;
	}
	uint8_t *buf = NULL;
	ssize_t len = sd_read_file(d, ps->path, PID_FILE_MAX, &buf);
	int64_t next = PID_FIRST;
	if (len == -ENOENT) {
		next = PID_FIRST; /* a new data directory */
	} else if (len < 0 && len != -EFBIG) {
		snprintf(err, errlen, "cannot read %s: %s", ps->path,
			 strerror((int)-len));
		return (int)len;
	} else {
		next = len < 0 ? -EBADMSG : pid_store_parse(buf, (size_t)len);
		free(buf);
		if (next < 0) {
			snprintf(err, errlen, "%s is damaged (it must hold one "
				 "decimal number >= %d and a newline): the "
				 "producer ids already handed out are unknown, "
				 "so none can be handed out safely. Write a "
				 "number above every producer id ever used "
				 "(the largest producerId in the logs + %d is "
				 "safe) followed by a newline into it, then "
				 "start again", ps->path, PID_FIRST,
				 PID_BLOCK_IDS);
			return -EBADMSG;
		}
	}
	ps->next = next;
	ps->reserved_end = next;
	int rc = pid_store_reserve(ps, next);
	if (rc < 0)
		snprintf(err, errlen, "cannot reserve producer ids in %s: %s",
			 ps->path, strerror(-rc));
	return rc;
}

/* ---- ids for any thread ---- */

int pid_blocks_init(struct pid_blocks *pb, const struct sdisk *d,
		    const char *run_dir, char *err, size_t errlen)
{
	int rc = pid_store_open(&pb->store, d, run_dir, err, errlen);
	if (rc < 0)
		return rc;
	assert(pb->store.next >= PID_FIRST);
	assert(pb->store.reserved_end > pb->store.next);
	atomic_init(&pb->next, pb->store.next);
	atomic_init(&pb->reserved_end, pb->store.reserved_end);
	pthread_mutex_init(&pb->lock, NULL);
	return 0;
}

int64_t pid_blocks_take(struct pid_blocks *pb)
{
	/* relaxed: the counter only has to hand each id out once; the
	 * reservation below is ordered by reserved_end */
	int64_t id = atomic_fetch_add_explicit(&pb->next, 1,
					       memory_order_relaxed);
	assert(id >= PID_FIRST);
	/* acquire: pairs with the release store below, after the block
	 * was reserved on disk */
	if (id < atomic_load_explicit(&pb->reserved_end, memory_order_acquire))
		return id;
	/* once per PID_BLOCK_IDS ids: reserve the next block (a file write) */
	pthread_mutex_lock(&pb->lock);
	int rc = 0;
	if (id >= pb->store.reserved_end)
		rc = pid_store_reserve(&pb->store, id);
	if (rc == 0) {
		assert(id < pb->store.reserved_end);
		/* release: the block is on disk before any thread hands out
		 * an id of it; pairs with the acquire load above */
		atomic_store_explicit(&pb->reserved_end, pb->store.reserved_end,
				      memory_order_release);
	}
	pthread_mutex_unlock(&pb->lock);
	return rc ? rc : id;
}

/* ---- sluiced's ---- */

int dp_producer_ids_init(struct dp *dp)
{
	char run[PATH_MAX], err[PATH_MAX + 512];
	snprintf(run, sizeof(run), "%.4000s/run", dp->cfg.data_dir);
	int rc = pid_blocks_init(&dp->pids, &sdisk_posix, run, err,
				 sizeof(err));
	if (rc < 0)
		dp_log("%s", err);
	return rc;
}

int64_t dp_producer_id(struct dp *dp)
{
	int64_t id = pid_blocks_take(&dp->pids);
	if (id < 0 || !dp_clustered(dp))
		return id;
	/* a cluster's brokers hand out ids on their own: each in its own
	 * range, the node id above the data directory's count, so that two
	 * brokers never give one id to two producers (whose batches a
	 * partition's leader would then take for one producer's) */
	if (id >= PID_NODE_SPAN) {
		dp_log("producer ids: this data directory handed out 2^44 ids "
		       "already; no more can be given in a cluster");
		return -EOVERFLOW;
	}
	return (int64_t)dp->cfg.node_id * PID_NODE_SPAN + id;
}
