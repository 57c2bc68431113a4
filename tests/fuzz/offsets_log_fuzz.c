/*
 * libFuzzer target for the committed-offsets loader of the group
 * coordinator (control/groups.c): <control_dir>/groups/offsets.log as
 * sl_groups_open reads it back at every start, with its torn-tail and
 * version-1 rules.
 *
 * Input: one flags byte, then the file.  Flag bit 0 repairs the header's
 * CRC32C and the CRC32C of every record whose length field fits the file
 * (walking them in order), so that the fuzzer reaches the record rules
 * behind the checksums; bit 1 sets the wall clock a year later (offsets
 * expire at open).
 *
 * Properties:
 *   1. sl_groups_open answers 0, -EBADMSG (not an offsets file: left
 *      alone, byte for byte) or -EOVERFLOW, never anything else;
 *   2. after an open, the file keeps its header unless it was rewritten
 *      (version 1), and what the coordinator answers (every group's
 *      committed offsets) is what it answers after a second open of the
 *      file it left: the load cut the file at a record boundary, and
 *      expiry at open leaves the same state the first time and the
 *      second;
 *   3. an offset committed on top of the loaded file is answered after
 *      the next open too (appends land after the cut, not inside it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "control/groups.h"
#include "proto/record_batch.h"
#include "groups_probe.h"
#include "fuzz_util.h"

#define INPUT_MAX (1u << 20)
#define SNAP_BYTES (8u << 20)
#define REC_MIN 13
#define REC_MAX (40 + SL_GROUPS_NAME_MAX + SL_GROUPS_TOPIC_MAX + \
		 SL_GROUPS_OFFSET_METADATA_MAX)

static char dir[PATH_MAX], path[PATH_MAX];
static uint8_t *snap1, *snap2;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/groups", fz_tmpdir());
	snprintf(path, sizeof(path), "%s/%s", dir, SL_GROUPS_OFFSETS_FILE);
	snap1 = malloc(SNAP_BYTES);
	snap2 = malloc(SNAP_BYTES);
	FUZZ_CHECK(snap1 && snap2);
	return 0;
}

static void repair(uint8_t *f, size_t len)
{
	if (len < 16)
		return;
	rb_put32(f + 12, rb_crc32c(f, 12));
	size_t pos = 16;
	while (pos + 8 <= len) {
		uint32_t n = rb_be32(f + pos);
		if (n < REC_MIN || n > REC_MAX || n > len - pos)
			break;
		rb_put32(f + pos + n - 4, rb_crc32c(f + pos, n - 4));
		pos += n;
	}
}

static long file_size(void)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static struct kc_str S(const char *s)
{
	return (struct kc_str){ s, (int32_t)strlen(s) };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > INPUT_MAX)
		return 0;
	fz_clear_dir(fz_tmpdir());
	FUZZ_CHECK(mkdir(dir, 0700) == 0);
	size_t len = size - 1;
	uint8_t *file = malloc(len + 1);
	FUZZ_CHECK(file != NULL);
	memcpy(file, data + 1, len);
	if (data[0] & 1)
		repair(file, len);
	fz_write_file(path, file, len);

	int64_t wall = GP_WALL_START_MS;
	if (data[0] & 2)
		wall += 365ll * 24 * 3600 * 1000;
	gp_reset(wall);
	int rc = gp_open(dir, SL_GROUPS_RETENTION_MS_DEFAULT, NULL);
	if (rc != 0) {
		FUZZ_CHECK(rc == -EBADMSG || rc == -EOVERFLOW);
		if (rc == -EBADMSG) {
			/* not ours: left alone */
			FUZZ_CHECK(file_size() == (long)len);
			uint8_t *back = malloc(len + 1);
			FILE *f = fopen(path, "rb");
			FUZZ_CHECK(back && f);
			FUZZ_CHECK(fread(back, 1, len + 1, f) == len);
			fclose(f);
			FUZZ_CHECK(!memcmp(back, file, len));
			free(back);
		}
		free(file);
		return 0;
	}
	/* the header stays (a version 1 file is rewritten as version 2);
	 * the load may cut the file and append state records to it */
	bool v1 = len >= 6 && file[4] == 0 && file[5] == 1;
	if (!v1) {
		uint8_t head[16];
		FILE *f = fopen(path, "rb");
		FUZZ_CHECK(f && fread(head, 1, 16, f) == 16);
		fclose(f);
		FUZZ_CHECK(!memcmp(head, file, 16));
	}
	free(file);

	size_t n1 = gp_snapshot(snap1, SNAP_BYTES);
	gp_close();
	FUZZ_CHECK(gp_open(dir, SL_GROUPS_RETENTION_MS_DEFAULT, NULL) == 0);
	size_t n2 = gp_snapshot(snap2, SNAP_BYTES);
	if (n1 != n2 || memcmp(snap1, snap2, n1))
		fprintf(stderr, "the offsets answered differ after a second "
			"open (%zu vs %zu bytes of snapshot)\n", n1, n2);
	FUZZ_CHECK(n1 == n2 && !memcmp(snap1, snap2, n1));

	/* a commit after the load survives the next open */
	int32_t part = 7;
	struct kc_offset_commit_req_partition p = { part, 4242, -1, -1,
						    S("m") };
	struct kc_offset_commit_req_topic t = { S("fuzz-topic"), { { 0 } }, { &p, 1 } };
	struct kc_offset_commit_req q = { S("fuzz-group"), -1, S(""),
					  { NULL, -1 }, -1, { &t, 1 } };
	uint64_t tok;
	rc = gp_send(0, KC_API_OFFSET_COMMIT, 7, &q, &tok);
	FUZZ_CHECK(rc == 0 && gp_answered(tok));
	size_t n3 = gp_snapshot(snap1, SNAP_BYTES);
	gp_close();
	FUZZ_CHECK(gp_open(dir, SL_GROUPS_RETENTION_MS_DEFAULT, NULL) == 0);
	size_t n4 = gp_snapshot(snap2, SNAP_BYTES);
	FUZZ_CHECK(n3 == n4 && !memcmp(snap1, snap2, n3));
	gp_close();
	return 0;
}
