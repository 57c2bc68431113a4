/*
 * Unit tests of the control plane's metadata store and admin rules:
 * create/delete/list, ids never reused (randomised against an array model,
 * with reopens), persistence across reopen, every torn length and every
 * flipped byte of the file detected as damage with a message that says
 * what to do, atomic replace (stale .tmp ignored, inode replaced, other
 * handles notice), and the native CREATE/DELETE error codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tl.h"
#include "control/admin.h"
#include "control/metadata.h"
#include "proto/config.h"
#include "proto/record_batch.h"

static char g_dir[PATH_MAX];

static int setup(void **state)
{
	(void)state;
	return tl_tmpdir(g_dir, "control-meta") ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	tl_rmrf(g_dir);
	return 0;
}

static struct sl_meta *meta_open(void)
{
	char err[1024];
	struct sl_meta *m = malloc(sizeof(*m));
	assert_non_null(m);
	int rc = sl_meta_open(m, g_dir, err, sizeof(err));
	if (rc)
		fail_msg("sl_meta_open: %d %s", rc, err);
	return m;
}

static void meta_free(struct sl_meta *m)
{
	sl_meta_close(m);
	free(m);
}

static struct sl_topic topic(const char *name, int32_t partitions)
{
	struct sl_topic t = { .partitions = partitions, .retention_ms = 1000,
			      .retention_bytes = -1,
			      .segment_bytes = 1 << 20 };
	t.name_len = (uint16_t)strlen(name);
	memcpy(t.name, name, t.name_len + 1);
	return t;
}

static long create(struct sl_meta *m, const char *name, int32_t p)
{
	char err[1024];
	struct sl_topic t = topic(name, p);
	return sl_admin_create(m, &t, NULL, err, sizeof(err));
}

static long delete(struct sl_meta *m, const char *name)
{
	char err[1024];
	return sl_admin_delete(m, name, strlen(name), NULL, err, sizeof(err));
}

static void test_create_delete_list(void **state)
{
	(void)state;
	struct sl_meta *m = meta_open();
	TL_EQ(m->count, 0);
	TL_EQ(create(m, "a", 1), 1);
	TL_EQ(create(m, "b", 8), 2);
	TL_EQ(create(m, "c.d_e-f", 1024), 3);
	TL_EQ(create(m, "b", 1), -SN_ERR_TOPIC_ALREADY_EXISTS);
	TL_EQ(m->count, 3);
	TL_OK(delete(m, "b"));
	TL_EQ(delete(m, "b"), -SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	TL_EQ(m->count, 2);
	TL_TRUE(sl_meta_find(m, "a", 1) != NULL);
	TL_TRUE(sl_meta_find(m, "b", 1) == NULL);
	TL_EQ(sl_meta_find(m, "c.d_e-f", 7)->partitions, 1024);
	TL_EQ(m->tomb_count, 1);
	TL_EQ(m->tombs[0].id, 2);
	meta_free(m);
}

static void test_persist_reopen(void **state)
{
	(void)state;
	struct sl_meta *m = meta_open();
	struct sl_topic t = topic("persist", 7), out;
	t.durability = 1;
	t.retention_ms = -1;
	t.retention_bytes = 123456789;
	t.segment_bytes = 2047ll << 20;
	char err[1024];
	long id = sl_admin_create(m, &t, &out, err, sizeof(err));
	TL_TRUE(id > 0);
	meta_free(m);
	m = meta_open();
	const struct sl_topic *r = sl_meta_find(m, "persist", 7);
	TL_TRUE(r != NULL);
	TL_EQ(r->id, id);
	TL_EQ(r->partitions, 7);
	TL_EQ(r->durability, 1);
	TL_EQ(r->retention_ms, -1);
	TL_EQ(r->retention_bytes, 123456789);
	TL_EQ(r->segment_bytes, 2047ll << 20);
	TL_EQ(m->next_id, id + 1);
	meta_free(m);
}

/* Version 2 keeps the compaction settings; a version 1 file (40-byte
 * entries, written before compaction) reads as cleanup.policy=delete with
 * Kafka's defaults; a bad setting in a version 2 file is damage. */
static void test_compaction_settings(void **state)
{
	(void)state;
	struct sl_meta *m = meta_open();
	struct sl_topic t = topic("kv", 2);
	t.cleanup_policy = SN_CLEANUP_COMPACT | SN_CLEANUP_DELETE;
	t.min_cleanable_dirty_ratio = 0.125;
	t.min_compaction_lag_ms = 7;
	t.max_compaction_lag_ms = 3600000;
	t.delete_retention_ms = 0;
	char err[1024];
	long id = sl_admin_create(m, &t, NULL, err, sizeof(err));
	TL_TRUE(id > 0);
	TL_TRUE(create(m, "plain", 1) > 0);
	/* an update keeps name and id */
	t.id = (uint32_t)id;
	t.partitions = 5;
	t.min_compaction_lag_ms = 8;
	TL_OK(sl_meta_update(m, &t));
	TL_OK(sl_meta_save(m, err, sizeof(err)));
	meta_free(m);
	m = meta_open();
	const struct sl_topic *r = sl_meta_find(m, "kv", 2);
	TL_TRUE(r != NULL);
	TL_EQ(r->id, id);
	TL_EQ(r->partitions, 5);
	TL_EQ(r->cleanup_policy, 3);
	TL_TRUE(r->min_cleanable_dirty_ratio == 0.125);
	TL_EQ(r->min_compaction_lag_ms, 8);
	TL_EQ(r->max_compaction_lag_ms, 3600000);
	TL_EQ(r->delete_retention_ms, 0);
	r = sl_meta_find(m, "plain", 5);
	TL_EQ(r->cleanup_policy, SN_CLEANUP_DELETE);
	TL_TRUE(r->min_cleanable_dirty_ratio == 0.5);
	TL_EQ(r->max_compaction_lag_ms, INT64_MAX);
	TL_EQ(r->delete_retention_ms, 86400000);
	meta_free(m);

	/* version 1, by hand: one topic "old" (id 3, 4 partitions) */
	uint8_t f[40 + 40 + 3 + 4] = {0};
	size_t len = sizeof(f);
	memcpy(f, "SLMD", 4);
	f[5] = 1;              /* version 1 */
	f[7] = 40;             /* header bytes */
	f[11] = (uint8_t)len;  /* file length */
	f[15] = 1;             /* one topic */
	f[23] = 4;             /* next id */
	uint8_t *e = f + 40;
	e[3] = 3;              /* id */
	e[7] = 4;              /* partitions */
	memset(e + 12, 0xff, 16); /* retention -1 / -1 */
	e[32] = 0x40;          /* segment bytes 1 GiB */
	e[37] = 3;             /* name length */
	memcpy(e + 40, "old", 3);
	rb_put32(f + len - 4, rb_crc32c(f, len - 4));
	char path[PATH_MAX];
	tl_pathf(path, "%s/%s", g_dir, SL_META_FILE);
	int fd = open(path, O_WRONLY | O_TRUNC);
	TL_TRUE(fd >= 0);
	TL_EQ(write(fd, f, len), (ssize_t)len);
	close(fd);
	m = meta_open();
	TL_EQ(m->count, 1);
	r = sl_meta_find(m, "old", 3);
	TL_TRUE(r != NULL);
	TL_EQ(r->id, 3);
	TL_EQ(r->partitions, 4);
	TL_EQ(r->segment_bytes, 1ll << 30);
	TL_EQ(r->cleanup_policy, SN_CLEANUP_DELETE);
	TL_TRUE(r->min_cleanable_dirty_ratio == 0.5);
	TL_EQ(r->delete_retention_ms, 86400000);
	/* saved again: version 2, still the same */
	TL_OK(sl_meta_save(m, err, sizeof(err)));
	meta_free(m);
	uint8_t *v2;
	long long v2_len = tl_read_file(path, &v2);
	TL_EQ(v2[5], 2);
	TL_EQ(v2_len, 40 + 72 + 3 + 4);
	/* a policy of 4 in version 2 (CRC repaired): damage */
	v2[40 + 11] = 4;
	rb_put32(v2 + v2_len - 4, rb_crc32c(v2, (size_t)v2_len - 4));
	fd = open(path, O_WRONLY | O_TRUNC);
	TL_EQ(write(fd, v2, (size_t)v2_len), v2_len);
	close(fd);
	m = malloc(sizeof(*m));
	TL_EQ(sl_meta_open(m, g_dir, err, sizeof(err)), -SL_META_EDAMAGED);
	TL_TRUE(strstr(err, "cleanup policy") != NULL);
	free(m);
	free(v2);
}

/* Random creates/deletes/reopens against an array model; ids must be
 * unique and strictly increasing over the whole run. */
static void test_ids_never_reused(void **state)
{
	(void)state;
	uint64_t seed = tl_seed("control_meta_ids");
	struct tl_rng rng;
	tl_rng_init(&rng, seed);
	enum { NAMES = 12 };
	uint32_t model[NAMES] = { 0 }; /* id per name, 0 = absent */
	uint32_t last_id = 0;
	struct sl_meta *m = meta_open();
	int rounds = tl_long() ? 5000 : 400;
	for (int i = 0; i < rounds; i++) {
		unsigned k = (unsigned)tl_rng_below(&rng, NAMES);
		char name[16];
		snprintf(name, sizeof(name), "t%u", k);
		switch (tl_rng_below(&rng, 4)) {
		case 0:
		case 1: {
			long id = create(m, name, 1 + (int)tl_rng_below(&rng, 4));
			if (model[k]) {
				TL_EQ(id, -SN_ERR_TOPIC_ALREADY_EXISTS);
			} else {
				TL_TRUE(id > (long)last_id);
				last_id = (uint32_t)id;
				model[k] = (uint32_t)id;
			}
			break;
		}
		case 2:
			TL_EQ(delete(m, name),
			      model[k] ? 0 : -SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
			model[k] = 0;
			break;
		default:
			meta_free(m);
			m = meta_open();
		}
		unsigned live = 0;
		for (unsigned j = 0; j < NAMES; j++) {
			snprintf(name, sizeof(name), "t%u", j);
			const struct sl_topic *t = sl_meta_find(m, name,
								strlen(name));
			TL_EQ(t ? t->id : 0, model[j]);
			live += model[j] != 0;
		}
		TL_EQ(m->count, live);
		TL_EQ(m->next_id, last_id + 1);
	}
	meta_free(m);
}

static void meta_path(char *out, const char *file)
{
	tl_pathf(out, "%s/%s", g_dir, file);
}

static int open_rc(char *err, size_t errlen)
{
	struct sl_meta *m = malloc(sizeof(*m));
	assert_non_null(m);
	int rc = sl_meta_open(m, g_dir, err, errlen);
	if (rc == 0)
		sl_meta_close(m);
	free(m);
	return rc;
}

/* Every prefix of the file (a torn write) and every single flipped byte is
 * detected, with a message naming the file and what to do. */
static void test_torn_and_corrupt_detected(void **state)
{
	(void)state;
	struct sl_meta *m = meta_open();
	TL_TRUE(create(m, "one", 3) > 0);
	TL_TRUE(create(m, "two", 5) > 0);
	TL_OK(delete(m, "one"));
	meta_free(m);
	char path[PATH_MAX], err[1024];
	meta_path(path, SL_META_FILE);
	uint8_t *good;
	long long size = tl_read_file(path, &good);
	TL_TRUE(size > 44);
	for (long long cut = 0; cut < size; cut++) {
		int fd = open(path, O_WRONLY | O_TRUNC);
		TL_TRUE(fd >= 0);
		TL_EQ(write(fd, good, (size_t)cut), cut);
		close(fd);
		TL_EQ(open_rc(err, sizeof(err)), -SL_META_EDAMAGED);
		TL_TRUE(strstr(err, "damaged") && strstr(err, "move it away") &&
			strstr(err, SL_META_FILE));
	}
	for (long long at = 0; at < size; at++) {
		good[at] ^= 0x5a;
		int fd = open(path, O_WRONLY | O_TRUNC);
		TL_TRUE(fd >= 0);
		TL_EQ(write(fd, good, (size_t)size), size);
		close(fd);
		good[at] ^= 0x5a;
		TL_EQ(open_rc(err, sizeof(err)), -SL_META_EDAMAGED);
	}
	/* put it back: fine again */
	int fd = open(path, O_WRONLY | O_TRUNC);
	TL_EQ(write(fd, good, (size_t)size), size);
	close(fd);
	TL_OK(open_rc(err, sizeof(err)));
	free(good);
}

static void test_atomic_replace(void **state)
{
	(void)state;
	char path[PATH_MAX], tmp[PATH_MAX];
	meta_path(path, SL_META_FILE);
	meta_path(tmp, SL_META_FILE ".tmp");
	struct sl_meta *a = meta_open(), *b = meta_open();
	TL_TRUE(create(a, "first", 1) > 0);
	struct stat st1, st2;
	TL_OK(stat(path, &st1));
	TL_TRUE(access(tmp, F_OK) != 0); /* renamed away */
	/* a crash while writing the next version: garbage in the .tmp */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	TL_EQ(write(fd, "torn", 4), 4);
	close(fd);
	TL_EQ(sl_meta_changed(b), 1); /* b has not read "first" yet */
	char err[1024];
	TL_OK(sl_meta_reload(b, err, sizeof(err)));
	TL_EQ(sl_meta_changed(b), 0);
	TL_TRUE(sl_meta_find(b, "first", 5) != NULL);
	/* b writes (under the lock, re-reading first: nothing lost) */
	TL_TRUE(create(b, "second", 2) > 0);
	TL_OK(stat(path, &st2));
	TL_TRUE(st1.st_ino != st2.st_ino); /* replaced, not rewritten */
	TL_TRUE(access(tmp, F_OK) != 0);
	TL_EQ(sl_meta_changed(a), 1);
	TL_TRUE(create(a, "third", 1) > 0); /* a re-reads under the lock */
	TL_EQ(a->count, 3);
	TL_EQ(sl_meta_find(a, "third", 5)->id, 3);
	meta_free(a);
	meta_free(b);
	struct sl_meta *c = meta_open();
	TL_EQ(c->count, 3);
	meta_free(c);
}

static long admin(struct sl_meta *m, const uint8_t *req, size_t len,
		  int16_t *error, uint32_t *id)
{
	struct sl_config cfg;
	uint8_t resp[64];
	char line[1024];
	uint32_t changed;
	struct sn_header h;
	sl_config_defaults(&cfg);
	long n = sl_admin_handle(m, &cfg, req, len, resp, sizeof(resp),
				 &changed, line, sizeof(line));
	TL_TRUE(n >= SN_HEADER_BYTES);
	TL_EQ(sn_header_parse(resp, (size_t)n, 64, &h), n);
	TL_EQ(h.corr, 77);
	*error = h.error;
	*id = 0;
	if (h.opcode == (SN_CREATE_TOPIC | SN_RESPONSE))
		TL_OK(sn_decode_create_topic_resp(resp, (size_t)n, id));
	return changed;
}

static void test_admin_frames(void **state)
{
	(void)state;
	struct sl_meta *m = meta_open();
	uint8_t req[512];
	int16_t error;
	uint32_t id;
	struct sn_create_topic r = { .partitions = 4, .name = "orders",
				     .name_len = 6 };
	long n = sn_encode_create_topic(req, sizeof(req), 77, &r);
	TL_TRUE(admin(m, req, (size_t)n, &error, &id) > 0);
	TL_EQ(error, 0);
	TL_TRUE(id > 0);
	const struct sl_topic *t = sl_meta_find(m, "orders", 6);
	TL_EQ(t->retention_ms, 168ll * 3600000); /* config defaults */
	TL_EQ(t->segment_bytes, 1ll << 30);
	TL_EQ(t->retention_bytes, -1);
	TL_EQ(admin(m, req, (size_t)n, &error, &id), 0);
	TL_EQ(error, SN_ERR_TOPIC_ALREADY_EXISTS);
	r.partitions = 0;
	r.name = "other";
	r.name_len = 5;
	n = sn_encode_create_topic(req, sizeof(req), 77, &r);
	TL_EQ(admin(m, req, (size_t)n, &error, &id), 0);
	TL_EQ(error, SN_ERR_INVALID_PARTITIONS);
	r.partitions = 1025;
	n = sn_encode_create_topic(req, sizeof(req), 77, &r);
	admin(m, req, (size_t)n, &error, &id);
	TL_EQ(error, SN_ERR_INVALID_PARTITIONS);
	r.partitions = 1;
	r.name = "a/b";
	r.name_len = 3;
	n = sn_encode_create_topic(req, sizeof(req), 77, &r);
	admin(m, req, (size_t)n, &error, &id);
	TL_EQ(error, SN_ERR_INVALID_TOPIC_EXCEPTION);
	r.name = "ok";
	r.name_len = 2;
	r.retention_ms = -5;
	n = sn_encode_create_topic(req, sizeof(req), 77, &r);
	admin(m, req, (size_t)n, &error, &id);
	TL_EQ(error, SN_ERR_INVALID_REQUEST);
	n = sn_encode_delete_topic(req, sizeof(req), 77, "nope", 4);
	TL_EQ(admin(m, req, (size_t)n, &error, &id), 0);
	TL_EQ(error, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	n = sn_encode_delete_topic(req, sizeof(req), 77, "orders", 6);
	TL_TRUE(admin(m, req, (size_t)n, &error, &id) > 0);
	TL_EQ(error, 0);
	TL_TRUE(sl_meta_find(m, "orders", 6) == NULL);
	/* a truncated frame is answered, not trusted */
	n = sn_encode_delete_topic(req, sizeof(req), 77, "orders", 6);
	req[7] = (uint8_t)(n + 3); /* length larger than the bytes */
	admin(m, req, (size_t)n, &error, &id);
	TL_EQ(error, SN_ERR_INVALID_REQUEST);
	TL_EQ(m->count, 0);
	meta_free(m);
}

/* tools/sluice.conf sets every key to its default, and every key appears
 * in it and in docs/config.md. */
static int file_has(const char *path, const char *needle)
{
	uint8_t *text;
	long long n = tl_read_file(path, &text);
	if (n < 0)
		fail_msg("%s: %s", path, strerror((int)-n));
	char *z = realloc(text, (size_t)n + 1);
	assert_non_null(z);
	z[n] = 0;
	int found = strstr(z, needle) != NULL;
	free(z);
	return found;
}

static void test_example_config_and_docs(void **state)
{
	(void)state;
	struct sl_config def, ex;
	char err[4096], conf[PATH_MAX], doc[PATH_MAX];
	tl_pathf(conf, "%s/tools/sluice.conf", SLUICE_SOURCE_ROOT);
	tl_pathf(doc, "%s/docs/config.md", SLUICE_SOURCE_ROOT);
	sl_config_defaults(&def);
	sl_config_defaults(&ex);
	int rc = sl_config_load(&ex, conf, err, sizeof(err));
	if (rc)
		fail_msg("%s", err);
	char *a = NULL, *b = NULL;
	size_t alen, blen;
	FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);
	sl_config_dump(&def, fa);
	sl_config_dump(&ex, fb);
	fclose(fa);
	fclose(fb);
	TL_TRUE(!strcmp(a, b));
	for (char *line = strtok(a, "\n"); line; line = strtok(NULL, "\n")) {
		char key[64], needle[80];
		TL_EQ(sscanf(line, "%63s =", key), 1);
		snprintf(needle, sizeof(needle), "%s = ", key);
		if (!file_has(conf, needle))
			fail_msg("%s: key %s missing", conf, key);
		snprintf(needle, sizeof(needle), "| `%s` |", key);
		if (!file_has(doc, needle))
			fail_msg("%s: key %s missing", doc, key);
	}
	free(a);
	free(b);
}

/* A store in memory (a cluster's scratch copy): the admin transactions
 * work on it, nothing is written, and a copy of it is independent. */
static void test_memory_store(void **state)
{
	(void)state;
	struct sl_meta *m = malloc(sizeof(*m));
	TL_TRUE(m != NULL);
	sl_meta_init(m);
	TL_EQ(create(m, "a", 2), 1);
	TL_EQ(create(m, "b", 1), 2);
	TL_EQ(create(m, "a", 1), -SN_ERR_TOPIC_ALREADY_EXISTS);
	TL_OK(delete(m, "a"));
	TL_EQ(m->count, 1);
	TL_EQ(m->next_id, 3);
	TL_EQ(m->generation, 3);
	TL_EQ(sl_meta_changed(m), 0);
	char err[256];
	TL_OK(sl_meta_reload(m, err, sizeof(err)));
	TL_EQ(m->count, 1);
	struct sl_meta *copy = malloc(sizeof(*copy));
	TL_TRUE(copy != NULL);
	memcpy(copy, m, sizeof(*m));
	TL_EQ(create(copy, "c", 1), 3);
	TL_EQ(m->count, 1);
	TL_EQ(copy->count, 2);
	free(copy);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_store),
		cmocka_unit_test_setup_teardown(test_create_delete_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_persist_reopen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_compaction_settings, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ids_never_reused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_torn_and_corrupt_detected,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_replace, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_admin_frames, setup,
						teardown),
		cmocka_unit_test(test_example_config_and_docs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
