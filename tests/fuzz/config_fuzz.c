/*
 * libFuzzer target for the configuration parser (proto/config.c): the
 * file both processes read at start, and the "-o key=value" overrides.
 *
 * Each input is written to a file and loaded over the defaults, and each
 * of its lines is applied as an override.  Properties:
 *   1. sl_config_load answers 0 or -EINVAL, and on -EINVAL a message that
 *      names the file and the line (it starts "<path>:<line>: ");
 *   2. a configuration that loaded dumps (sl_config_dump) to a file that
 *      loads again to the same configuration: every value the parser
 *      accepts can be written back and read again;
 *   3. sl_config_json fits its buffer and is one object;
 *   4. sl_config_set answers 0 or -EINVAL with a message, never more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/config.h"
#include "fuzz_util.h"

#define INPUT_MAX (64 * 1024)
#define DUMP_MAX (64 * 1024)

static char conf_path[PATH_MAX], dump_path[PATH_MAX];
static struct sl_config c1, c2, c3;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *dir = fz_tmpdir();
	snprintf(conf_path, sizeof(conf_path), "%s/sluice.conf", dir);
	snprintf(dump_path, sizeof(dump_path), "%s/dump.conf", dir);
	return 0;
}

/* The dump of c into buf (NUL-terminated); its length. */
static size_t dump(const struct sl_config *c, char *buf, size_t cap)
{
	FILE *f = fmemopen(buf, cap, "w");
	FUZZ_CHECK(f != NULL);
	sl_config_dump(c, f);
	FUZZ_CHECK(!ferror(f));
	long n = ftell(f);
	fclose(f);
	FUZZ_CHECK(n > 0 && (size_t)n < cap);
	buf[n] = 0;
	return (size_t)n;
}

static void check_json(const struct sl_config *c)
{
	static char json[64 * 1024];
	int n = sl_config_json(c, json, sizeof(json));
	FUZZ_CHECK(n > 2 && (size_t)n < sizeof(json));
	FUZZ_CHECK(json[0] == '{' && json[n - 1] == '}' && json[n] == 0);
	FUZZ_CHECK(strlen(json) == (size_t)n);
}

static void check_error(int rc, const char *err)
{
	FUZZ_CHECK(rc == -EINVAL);
	FUZZ_CHECK(err[0] != 0 && strlen(err) < 4096);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char d1[DUMP_MAX], d2[DUMP_MAX], err[4096], line[INPUT_MAX + 1];
	if (size > INPUT_MAX)
		return 0;
	fz_write_file(conf_path, data, size);

	sl_config_defaults(&c1);
	err[0] = 0;
	int rc = sl_config_load(&c1, conf_path, err, sizeof(err));
	if (rc == 0) {
		check_json(&c1);
		/* written back and read again: the same configuration */
		size_t n = dump(&c1, d1, sizeof(d1));
		fz_write_file(dump_path, d1, n);
		sl_config_defaults(&c2);
		err[0] = 0;
		rc = sl_config_load(&c2, dump_path, err, sizeof(err));
		if (rc != 0)
			fprintf(stderr, "the dump does not load: %s\n", err);
		FUZZ_CHECK(rc == 0);
		dump(&c2, d2, sizeof(d2));
		FUZZ_CHECK(strcmp(d1, d2) == 0);
	} else {
		check_error(rc, err);
		FUZZ_CHECK(strncmp(err, conf_path, strlen(conf_path)) == 0 &&
			   err[strlen(conf_path)] == ':');
	}

	/* every line as a command-line override, in order */
	sl_config_defaults(&c3);
	size_t pos = 0;
	unsigned lines = 0;
	while (pos < size && lines++ < 256) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - (data + pos)) : size - pos;
		memcpy(line, data + pos, n);
		line[n] = 0;
		pos += n + 1;
		err[0] = 0;
		rc = sl_config_set(&c3, line, err, sizeof(err));
		if (rc != 0)
			check_error(rc, err);
	}
	check_json(&c3);
	return 0;
}
