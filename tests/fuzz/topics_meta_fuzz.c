/*
 * libFuzzer target for the topic metadata loader (control/metadata.c):
 * <control_dir>/topics.meta as sluice-control reads it at start and after
 * every other writer's save.
 *
 * Input: one flags byte, then the file.  Flag bit 0 repairs the file's
 * length field and its CRC32C trailer (a random file almost never has a
 * right CRC, and everything the decoder checks lies behind it).
 *
 * Properties:
 *   1. sl_meta_open answers 0, or -SL_META_EDAMAGED with a message naming
 *      the file, and leaves nothing to free but what close frees;
 *   2. a store that loaded keeps the file's promises: ids non-zero,
 *      ascending and below next_id, names valid and unique, partitions
 *      1..SN_PARTITIONS_MAX, durability 0 or 1, compaction settings in
 *      range (sl_topic_compaction_valid), tombstones below next_id;
 *   3. saved and read again, it is the same store;
 *   4. creating a topic gives it next_id (or the documented error), and
 *      deleting it leaves a tombstone; saved and read again, the store
 *      still loads and keeps properties 2 and 3.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "control/metadata.h"
#include "proto/record_batch.h"
#include "fuzz_util.h"

#define INPUT_MAX (2u << 20)

static char dir[PATH_MAX], path[PATH_MAX];
static struct sl_meta *m1, *m2;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/control", fz_tmpdir());
	snprintf(path, sizeof(path), "%s/%s", dir, SL_META_FILE);
	m1 = malloc(sizeof(*m1));
	m2 = malloc(sizeof(*m2));
	FUZZ_CHECK(m1 && m2);
	return 0;
}

static void check_store(const struct sl_meta *m)
{
	FUZZ_CHECK(m->count <= SL_META_TOPICS_MAX &&
		   m->tomb_count <= SL_META_TOMBSTONES_MAX && m->next_id >= 1);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct sl_topic *t = &m->topics[i];
		FUZZ_CHECK(t->id != 0 && t->id < m->next_id);
		FUZZ_CHECK(i == 0 || t->id > m->topics[i - 1].id);
		FUZZ_CHECK(sn_topic_name_valid(t->name, t->name_len) &&
			   t->name[t->name_len] == 0);
		FUZZ_CHECK(t->partitions >= 1 &&
			   t->partitions <= SN_PARTITIONS_MAX);
		FUZZ_CHECK(t->durability <= 1);
		FUZZ_CHECK(sl_topic_compaction_valid(t));
		FUZZ_CHECK(sl_meta_find(m, t->name, t->name_len) == t);
		FUZZ_CHECK(sl_meta_find_id(m, t->id) == t);
	}
	for (uint32_t i = 0; i < m->tomb_count; i++) {
		const struct sl_tombstone *t = &m->tombs[i];
		FUZZ_CHECK(t->id < m->next_id);
		FUZZ_CHECK(sn_topic_name_valid(t->name, t->name_len) &&
			   t->name[t->name_len] == 0);
	}
}

static void check_same(const struct sl_meta *a, const struct sl_meta *b)
{
	FUZZ_CHECK(a->count == b->count && a->tomb_count == b->tomb_count &&
		   a->next_id == b->next_id);
	for (uint32_t i = 0; i < a->count; i++) {
		const struct sl_topic *x = &a->topics[i], *y = &b->topics[i];
		FUZZ_CHECK(x->id == y->id && x->partitions == y->partitions &&
			   x->durability == y->durability &&
			   x->retention_ms == y->retention_ms &&
			   x->retention_bytes == y->retention_bytes &&
			   x->segment_bytes == y->segment_bytes &&
			   x->cleanup_policy == y->cleanup_policy &&
			   !memcmp(&x->min_cleanable_dirty_ratio,
				   &y->min_cleanable_dirty_ratio,
				   sizeof(double)) &&
			   x->min_compaction_lag_ms == y->min_compaction_lag_ms &&
			   x->max_compaction_lag_ms == y->max_compaction_lag_ms &&
			   x->delete_retention_ms == y->delete_retention_ms &&
			   x->name_len == y->name_len &&
			   !memcmp(x->name, y->name, x->name_len));
	}
	for (uint32_t i = 0; i < a->tomb_count; i++)
		FUZZ_CHECK(a->tombs[i].id == b->tombs[i].id &&
			   a->tombs[i].name_len == b->tombs[i].name_len &&
			   !memcmp(a->tombs[i].name, b->tombs[i].name,
				   a->tombs[i].name_len));
}

/* Save m1, read it back into m2: the same store. */
static void save_and_reload(char *err, size_t errlen)
{
	uint64_t gen = m1->generation;
	int rc = sl_meta_save(m1, err, errlen);
	if (rc)
		fprintf(stderr, "save: %s\n", err);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(m1->generation == gen + 1);
	rc = sl_meta_open(m2, dir, err, errlen);
	if (rc)
		fprintf(stderr, "reload: %s\n", err);
	FUZZ_CHECK(rc == 0);
	check_store(m2);
	check_same(m1, m2);
	FUZZ_CHECK(m2->generation == m1->generation);
	sl_meta_close(m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char err[4096];
	if (size < 1 || size > INPUT_MAX)
		return 0;
	fz_clear_dir(fz_tmpdir());
	FUZZ_CHECK(mkdir(dir, 0700) == 0);
	size_t len = size - 1;
	uint8_t *file = malloc(len + 1);
	FUZZ_CHECK(file != NULL);
	memcpy(file, data + 1, len);
	if ((data[0] & 1) && len >= 12) {
		rb_put32(file + 8, (uint32_t)len);
		rb_put32(file + len - 4, rb_crc32c(file, len - 4));
	}
	fz_write_file(path, file, len);
	free(file);

	err[0] = 0;
	int rc = sl_meta_open(m1, dir, err, sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(rc == -SL_META_EDAMAGED);
		FUZZ_CHECK(strstr(err, path) == err);
		return 0;
	}
	check_store(m1);
	save_and_reload(err, sizeof(err));

	/* a new topic takes next_id; its delete leaves a tombstone */
	struct sl_topic t = { .partitions = 3, .durability = 1,
			      .retention_ms = -1, .retention_bytes = -1,
			      .segment_bytes = 1 << 20 };
	t.name_len = (uint16_t)snprintf(t.name, sizeof(t.name), "fuzz-%u",
					m1->next_id);
	uint32_t next = m1->next_id, count = m1->count;
	long id = sl_meta_create(m1, &t);
	if (id > 0) {
		FUZZ_CHECK((uint32_t)id == next && m1->next_id == next + 1 &&
			   m1->count == count + 1);
		check_store(m1);
		save_and_reload(err, sizeof(err));
		struct sl_topic gone;
		FUZZ_CHECK(sl_meta_delete(m1, t.name, t.name_len, &gone) == 0);
		FUZZ_CHECK(gone.id == (uint32_t)id && m1->count == count);
		FUZZ_CHECK(m1->tomb_count >= 1 &&
			   m1->tombs[m1->tomb_count - 1].id == (uint32_t)id);
	} else {
		FUZZ_CHECK(id == -EEXIST || id == -ENOSPC || id == -EOVERFLOW);
	}
	/* and an existing one deleted */
	if (m1->count > 0) {
		const struct sl_topic *first = &m1->topics[0];
		struct sl_topic copy = *first;
		FUZZ_CHECK(sl_meta_delete(m1, copy.name, copy.name_len,
					  NULL) == 0);
		FUZZ_CHECK(sl_meta_find(m1, copy.name, copy.name_len) == NULL);
	}
	check_store(m1);
	save_and_reload(err, sizeof(err));
	sl_meta_close(m1);
	return 0;
}
