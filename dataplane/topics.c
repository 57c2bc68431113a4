/*
 * The topic table: read-mostly, written by the main thread only (control
 * pushes, topics.cache at start).  Readers (net core, telemetry) load slot
 * pointers with acquire; a topic is published with release after its
 * partition logs are open on their storage cores.
 *
 * Deleting a topic frees its slot at once and its memory after a grace
 * period, when no thread can still hold a pointer to it:
 *   1. main marks it dead, empties its slot (the slot can take a new
 *      topic right away) and bumps topic_gen;
 *   2. each partition is closed on its storage core (DPC_CLOSE: the log
 *      is closed, waiting acks and parked fetches are answered); messages
 *      that still reach its ring are answered UNKNOWN_TOPIC_OR_PARTITION;
 *   3. main waits for every net core (and the follower fetcher,
 *      fetcher.h) to start a new duty cycle (epoch
 *      moves at the top of each one, and the net core keeps no partition
 *      pointer from one cycle to the next, except in Kafka long-poll
 *      fetches, which check topic_gen before using theirs and look their
 *      partitions up again when it moved: kafka.c kx_revalidate).  From
 *      then on nothing is added to the partitions' rings;
 *   4. each partition leaves its storage core (DPC_FORGET: its ring is
 *      drained and answered, the core drops its pointer);
 *   5. under topics_lock (which telemetry holds while it walks the table)
 *      the rings, partitions and topic are freed and the rings' bytes go
 *      back to the memory budget.
 * If the net core does not move within 10 s (it always does: it wakes at
 * least every 100 ms), the topic is leaked rather than freed, and logged.
 *
 * <data_dir>/run/topics.cache: the topic entries exactly as in a METADATA
 * response (proto/native.h), back to back, after a "SLTC" u32 count header;
 * replaced atomically (storage/disk.h sd_replace).
 *
 * Partition directories record their topic's id (partition_dir.h), so a
 * topic deleted and created again while sluiced was down never serves
 * the deleted one's data.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataplane/dp.h"
#include "dataplane/net.h"
#include "dataplane/partition_dir.h"
#include "proto/record_batch.h"
#include "storage/disk.h"

struct dp_topic *dp_topic_by_id(struct dp *dp, uint32_t id)
{
	if (id == 0)
		return NULL;
	for (unsigned i = 0; i < DP_MAX_TOPICS; i++) {
		/* acquire: pairs with the release store in dp_topic_put */
		struct dp_topic *t =
			atomic_load_explicit(&dp->topics[i], memory_order_acquire);
		if (t && t->id == id &&
		    atomic_load_explicit(&t->live, memory_order_acquire))
			return t;
	}
	return NULL;
}

struct dp_topic *dp_topic_by_name(struct dp *dp, const char *name,
				  size_t len)
{
	if (len == 0 || len > SN_NAME_MAX)
		return NULL;
	for (unsigned i = 0; i < DP_MAX_TOPICS; i++) {
		/* acquire: pairs with the release store in dp_topic_put */
		struct dp_topic *t =
			atomic_load_explicit(&dp->topics[i], memory_order_acquire);
		if (t && atomic_load_explicit(&t->live, memory_order_acquire) &&
		    !strncmp(t->name, name, len) && t->name[len] == '\0')
			return t;
	}
	return NULL;
}

struct dp_partition *dp_partition_get(struct dp *dp, uint32_t topic_id,
				      int32_t partition)
{
	struct dp_topic *t = dp_topic_by_id(dp, topic_id);
	if (!t || partition < 0 || partition >= t->partitions)
		return NULL;
	return &t->parts[partition];
}

static uint32_t core_of(struct dp *dp, uint32_t topic_id, int32_t partition)
{
	uint64_t x = (uint64_t)topic_id << 32 | (uint32_t)partition;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (uint32_t)(x % dp->nstore);
}

static int cache_write(struct dp *dp)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%.4000s/run/topics.cache", dp->cfg.data_dir);
	size_t cap = 8 + (size_t)DP_MAX_TOPICS * (SN_TOPIC_ENTRY_BYTES + SN_NAME_MAX);
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	/* reuse the METADATA encoder for the entries */
	struct sn_metadata_builder b;
	sn_metadata_resp_begin(&b, buf, cap, 0, 0, 0);
	uint32_t n = 0;
	for (unsigned i = 0; i < DP_MAX_TOPICS; i++) {
		struct dp_topic *t = atomic_load(&dp->topics[i]);
		if (!t || !atomic_load(&t->live))
			continue;
		struct sn_topic_info ti = {
			.topic_id = t->id, .partitions = t->partitions,
			.durability = t->durability,
			.retention_ms = t->retention_ms,
			.retention_bytes = t->retention_bytes,
			.segment_bytes = t->segment_bytes, .name = t->name,
			.name_len = (uint16_t)strlen(t->name),
		};
		sn_metadata_resp_add(&b, &ti);
		n++;
	}
	long len = sn_metadata_resp_finish(&b, 0, 0);
	int rc = len < 0 ? -EINVAL :
		 sd_replace(&sdisk_posix, path, buf, (size_t)len);
	free(buf);
	if (rc)
		dp_log("cannot write %s: %s", path, sl_strerror(rc));
	(void)n;
	return rc;
}

/* Make <data_dir>/<topic>-<partition> this topic id's (partition_dir.h). */
static int claim_dir(struct dp *dp, const struct dp_topic *t, int32_t part)
{
	char err[PATH_MAX + 128];
	int rc = pdir_claim(&sdisk_posix, dp->cfg.data_dir, t->name, part,
			    t->id, err, sizeof(err));
	if (rc == 1)
		dp_log("%s/%s-%d held data of an earlier topic '%s' (deleted; "
		       "its id was not %u): removed", dp->cfg.data_dir,
		       t->name, part, t->name, t->id);
	if (rc < 0) {
		dp_log("%s", err);
		return -SN_ERR_KAFKA_STORAGE_ERROR;
	}
	return 0;
}

static void topic_free(struct dp *dp, struct dp_topic *t)
{
	pthread_mutex_lock(&dp->topics_lock);
	for (int32_t i = 0; i < t->partitions; i++) {
		struct dp_ring *r = atomic_load(&t->parts[i].ring);
		if (!r)
			continue;
		dp_ring_destroy(r);
		/* relaxed: see dp_part_ring */
		atomic_fetch_sub_explicit(&dp->mem_used, dp_ring_bytes(dp),
					  memory_order_relaxed);
	}
	free(t->parts);
	free(t);
	dp->topics_freed++;
	pthread_mutex_unlock(&dp->topics_lock);
}

/* Step 3 of the file comment: the net core starts a new duty cycle.
 * Returns 0, or -ETIMEDOUT after 10 s. */
static int net_grace(struct dp *dp)
{
	uint64_t e[DP_MAX_NET_CORES];
	uint32_t nnet = dp->nnet;
	/* the follower fetcher too (fetcher.h): it keeps no partition
	 * pointer from one of its cycles to the next */
	if (dp->fetcher) {
		uint64_t f = atomic_load_explicit(&dp->fetch_epoch,
						  memory_order_acquire);
		for (unsigned i = 0; i < 100000 && dp->fetcher &&
				     atomic_load_explicit(&dp->fetch_epoch,
							  memory_order_acquire) == f;
		     i++) {
			if (atomic_load_explicit(&dp->stop, memory_order_relaxed))
				return -ETIMEDOUT;
			if (i % 100 == 0)
				dp_wake_fd(dp->fetch_wake_fd);
			usleep(100);
		}
		if (dp->fetcher && atomic_load_explicit(&dp->fetch_epoch,
							memory_order_acquire) == f)
			return -ETIMEDOUT;
	}
	if (nnet == 0)
		return 0; /* no net core runs yet (start-up) */
	/* acquire: pairs with each net core's release store of its epoch
	 * after a cycle's reads of the table */
	for (uint32_t k = 0; k < nnet; k++)
		e[k] = atomic_load_explicit(&dp->net[k]->epoch,
					    memory_order_acquire);
	/* bounded: 10 s in 100 µs steps */
	for (unsigned i = 0; i < 100000; i++) {
		uint32_t moved = 0;
		for (uint32_t k = 0; k < nnet; k++)
			moved += atomic_load_explicit(&dp->net[k]->epoch,
						      memory_order_acquire) >
				 e[k];
		if (moved == nnet)
			return 0;
		if (atomic_load_explicit(&dp->stop, memory_order_relaxed))
			break; /* the net cores are stopping: keep it */
		if (i % 100 == 0)
			for (uint32_t k = 0; k < nnet; k++)
				dp_wake_fd(dp->net[k]->wake_fd);
		usleep(100);
	}
	return -ETIMEDOUT;
}

/* The compaction settings of a TOPIC_PUT onto t (none given: delete). */
static void set_compaction(struct dp_topic *t, const struct sn_topic_info *ti)
{
	struct slog_clean_config cc;
	slog_clean_config_defaults(&cc);
	uint8_t policy = SN_CLEANUP_DELETE;
	if (ti->cleanup_policy) {
		policy = ti->cleanup_policy;
		cc.min_cleanable_dirty_ratio = ti->min_cleanable_dirty_ratio;
		cc.min_compaction_lag_ms = ti->min_compaction_lag_ms;
		cc.max_compaction_lag_ms = ti->max_compaction_lag_ms;
		cc.delete_retention_ms = ti->delete_retention_ms;
	}
	uint64_t bits;
	memcpy(&bits, &cc.min_cleanable_dirty_ratio, sizeof(bits));
	/* relaxed: see dp_topic */
	atomic_store_explicit(&t->clean_dirty_ratio_bits, bits,
			      memory_order_relaxed);
	atomic_store_explicit(&t->clean_min_lag_ms, cc.min_compaction_lag_ms,
			      memory_order_relaxed);
	atomic_store_explicit(&t->clean_max_lag_ms, cc.max_compaction_lag_ms,
			      memory_order_relaxed);
	atomic_store_explicit(&t->clean_delete_retention_ms,
			      cc.delete_retention_ms, memory_order_relaxed);
	atomic_store_explicit(&t->cleanup_policy, policy, memory_order_relaxed);
}

/* The retention of t (set from a TOPIC_PUT) for the storage cores. */
static void set_retention(struct dp_topic *t)
{
	/* relaxed: see dp_topic */
	atomic_store_explicit(&t->live_retention_ms, t->retention_ms,
			      memory_order_relaxed);
	atomic_store_explicit(&t->live_retention_bytes, t->retention_bytes,
			      memory_order_relaxed);
}

/* A topic's object with its partitions open on their storage cores,
 * published in slot.  When it replaces was (topic_grow), the partitions
 * was had keep their place in the cluster (leader, replicas, in-sync set,
 * epochs: control pushes only what changes), handed to their storage
 * cores before anyone can see the new object.  Returns 0 or a negative
 * protocol error (nothing published). */
static int topic_open(struct dp *dp, const struct sn_topic_info *ti,
		      int slot, const struct dp_topic *was)
{
	assert(slot >= 0 && slot < DP_MAX_TOPICS);
	struct dp_topic *t = calloc(1, sizeof(*t));
	if (!t)
		return -SN_ERR_UNKNOWN_SERVER_ERROR;
	t->id = ti->topic_id;
	memcpy(t->name, ti->name, ti->name_len);
	t->partitions = ti->partitions;
	t->durability = ti->durability;
	t->retention_ms = ti->retention_ms ? ti->retention_ms : dp->cfg.retention_ms;
	t->retention_bytes = ti->retention_bytes ? ti->retention_bytes :
						   dp->cfg.retention_bytes;
	t->segment_bytes = ti->segment_bytes ? ti->segment_bytes :
					       dp->cfg.segment_bytes;
	set_compaction(t, ti);
	set_retention(t);
	t->parts = calloc((size_t)t->partitions, sizeof(*t->parts));
	if (!t->parts) {
		free(t);
		return -SN_ERR_UNKNOWN_SERVER_ERROR;
	}
	int rc = 0;
	int32_t opened = 0;
	for (int32_t i = 0; i < t->partitions; i++) {
		struct dp_partition *p = &t->parts[i];
		p->topic = t;
		p->index = i;
		p->core = core_of(dp, t->id, i);
		atomic_init(&p->ring, NULL);
		dp_pview_init(dp, &p->view);
		rc = claim_dir(dp, t, i);
		if (rc)
			break;
		rc = dp_store_cmd(dp, p->core, DPC_OPEN, p);
		if (rc) {
			dp_log("cannot open %s-%d: %s", t->name, i,
			       sl_strerror(rc));
			break;
		}
		opened++;
		/* main is the view's only writer, and p is not published */
		if (was && i < was->partitions &&
		    was->parts[i].view.leader_epoch >= 0) {
			p->view = was->parts[i].view;
			dp_store_cmd(dp, p->core, DPC_STATE, p);
		}
	}
	if (rc) {
		/* never published: no net core has seen it */
		for (int32_t i = 0; i < opened; i++)
			dp_store_cmd(dp, t->parts[i].core, DPC_FORGET,
				     &t->parts[i]);
		topic_free(dp, t);
		return -SN_ERR_KAFKA_STORAGE_ERROR;
	}
	atomic_init(&t->live, 1);
	/* release: the topic and its open partitions before the pointer;
	 * pairs with the readers' acquire loads */
	atomic_store_explicit(&dp->topics[slot], t, memory_order_release);
	dp_log("topic %s (id %u): %d partition(s)", t->name, t->id,
	       t->partitions);
	return cache_write(dp) ? -SN_ERR_KAFKA_STORAGE_ERROR : 0;
}

/* Steps 1 and 2 of a delete (the file comment): t is no longer served and
 * its partitions are closed; their data is removed if remove_data. */
static void topic_retire(struct dp *dp, struct dp_topic *t, int remove_data)
{
	/* release: readers that see live == 0 stop routing to it */
	atomic_store_explicit(&t->live, 0, memory_order_release);
	for (unsigned i = 0; i < DP_MAX_TOPICS; i++)
		if (atomic_load(&dp->topics[i]) == t)
			atomic_store_explicit(&dp->topics[i], NULL,
					      memory_order_release);
	/* seq_cst: before the grace period's first look at the net cores'
	 * epochs, so a long-poll fetch that reads the old generation is one
	 * the grace period waits for */
	atomic_fetch_add(&dp->topic_gen, 1);
	for (int32_t i = 0; i < t->partitions; i++) {
		dp_store_cmd(dp, t->parts[i].core, DPC_CLOSE, &t->parts[i]);
		char err[PATH_MAX + 128];
		if (remove_data &&
		    pdir_remove(&sdisk_posix, dp->cfg.data_dir, t->name, i,
				t->id, err, sizeof(err)) < 0)
			dp_log("%s", err);
	}
}

/* Steps 3 to 5: t's memory, once no net core can hold it. */
static void topic_release(struct dp *dp, struct dp_topic *t)
{
	if (net_grace(dp) < 0) {
		dp_log("topic %s (id %u): the net core did not move in 10 s; "
		       "its memory is kept", t->name, t->id);
		dp->topics_leaked++;
		return;
	}
	for (int32_t i = 0; i < t->partitions; i++)
		dp_store_cmd(dp, t->parts[i].core, DPC_FORGET, &t->parts[i]);
	topic_free(dp, t);
}

/* More partitions for a served topic (CreatePartitions): the partition
 * array cannot grow under the readers, so the topic object is replaced:
 * the old one retired (its logs closed, data kept), a new one opened with
 * every partition (the old logs reopened, the new ones created), and the
 * old one freed after the grace period.  In between, requests for the
 * topic are answered UNKNOWN_TOPIC_OR_PARTITION, which Kafka clients
 * retry. */
static int topic_grow(struct dp *dp, struct dp_topic *old,
		      const struct sn_topic_info *ti)
{
	assert(ti->partitions > old->partitions && ti->topic_id == old->id);
	int32_t was = old->partitions;
	topic_retire(dp, old, 0);
	int slot = -1;
	for (unsigned i = 0; i < DP_MAX_TOPICS && slot < 0; i++)
		if (!atomic_load(&dp->topics[i]))
			slot = (int)i;
	assert(slot >= 0); /* old's slot was just emptied */
	int rc = topic_open(dp, ti, slot, old);
	dp_log("topic %s (id %u): %d -> %d partition(s)%s", old->name,
	       old->id, was, ti->partitions,
	       rc ? ": cannot open them; the topic is not served" : "");
	topic_release(dp, old);
	return rc;
}

int dp_topic_put(struct dp *dp, const struct sn_topic_info *ti)
{
	if (!sn_topic_name_valid(ti->name, ti->name_len) || ti->topic_id == 0 ||
	    ti->partitions < 1 || ti->partitions > SN_PARTITIONS_MAX)
		return -SN_ERR_INVALID_REQUEST;
	int free_slot = -1;
	for (unsigned i = 0; i < DP_MAX_TOPICS; i++) {
		struct dp_topic *t = atomic_load(&dp->topics[i]);
		if (!t) {
			if (free_slot < 0)
				free_slot = (int)i;
			continue;
		}
		if (!atomic_load(&t->live))
			continue;
		if (t->id == ti->topic_id ||
		    (strlen(t->name) == ti->name_len &&
		     !memcmp(t->name, ti->name, ti->name_len))) {
			if (t->id != ti->topic_id)
				return -SN_ERR_TOPIC_ALREADY_EXISTS;
			if (ti->partitions < t->partitions)
				return -SN_ERR_INVALID_PARTITIONS;
			if (ti->partitions > t->partitions)
				return topic_grow(dp, t, ti);
			/* update: durability and segment size take effect
			 * at the next open, retention at the storage cores'
			 * next retention pass, compaction at once */
			if (ti->retention_ms)
				t->retention_ms = ti->retention_ms;
			if (ti->retention_bytes)
				t->retention_bytes = ti->retention_bytes;
			t->durability = ti->durability;
			set_compaction(t, ti);
			set_retention(t);
			return cache_write(dp) ? -SN_ERR_KAFKA_STORAGE_ERROR : 0;
		}
	}
	if (free_slot < 0)
		return -SN_ERR_INVALID_PARTITIONS;
	return topic_open(dp, ti, free_slot, NULL);
}

int dp_topic_delete(struct dp *dp, uint32_t topic_id)
{
	struct dp_topic *t = dp_topic_by_id(dp, topic_id);
	if (!t)
		return -SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	topic_retire(dp, t, 1);
	dp_log("topic %s (id %u) deleted", t->name, t->id);
	int rc = cache_write(dp) ? -SN_ERR_KAFKA_STORAGE_ERROR : 0;
	topic_release(dp, t);
	return rc;
}

int dp_topics_load_cache(struct dp *dp)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/run/topics.cache", dp->cfg.data_dir);
	size_t cap = 8 + (size_t)DP_MAX_TOPICS * (SN_TOPIC_ENTRY_BYTES + SN_NAME_MAX);
	uint8_t *buf = NULL;
	ssize_t len = sd_read_file(&sdisk_posix, path, cap, &buf);
	if (len == -ENOENT)
		return 0;
	struct sn_metadata_resp r;
	int n = 0;
	if (len > 0 && sn_decode_metadata_resp(buf, (size_t)len, &r) == 0) {
		size_t pos = 0;
		struct sn_topic_info ti;
		while (sn_metadata_next(&r, &pos, &ti) == 1) {
			if (dp_topic_put(dp, &ti) == 0)
				n++;
		}
	} else {
		dp_log("%s is unreadable; waiting for control", path);
	}
	free(buf);
	if (n)
		dp_log("%d topic(s) from %s", n, path);
	return n;
}
