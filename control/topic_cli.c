/*
 * sluice-control's commands (topic_cli.h): topic create, delete, list and
 * describe on the metadata store, and config.  Each opens the store for
 * its one transaction and closes it; the daemon, when it runs, sees the
 * file change and tells sluiced.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/admin.h" /* struct sl_config, sl_admin_* */
#include "control/metadata.h"
#include "control/topic_cli.h"
#include "proto/native.h"

#define EXIT_USAGE 2

static int parse_i64(const char *s, long long lo, long long hi,
		     long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static void print_topic_row(const struct sl_topic *t)
{
	printf("%-6u %-32s %10d %16lld %16lld %14lld %s\n", t->id, t->name,
	       t->partitions, (long long)t->retention_ms,
	       (long long)t->retention_bytes, (long long)t->segment_bytes,
	       t->durability ? "group" : "every_append");
}

static int open_meta(struct sl_meta **out, const struct sl_config *c)
{
	char err[1024];
	struct sl_meta *m = malloc(sizeof(*m));
	if (!m) {
		fprintf(stderr, "sluice-control: out of memory\n");
		return 1;
	}
	int rc = sl_meta_open(m, c->control_dir, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "sluice-control: %s\n", err);
		free(m);
		return 1;
	}
	*out = m;
	return 0;
}

static int cmd_topic(const struct sl_config *c, int argc, char **argv,
		     void (*usage)(FILE *f))
{
	char err[1024];
	struct sl_meta *m;
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *sub = argv[0];
	if (!strcmp(sub, "list")) {
		if (argc != 1) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if (open_meta(&m, c))
			return 1;
		printf("%-6s %-32s %10s %16s %16s %14s %s\n", "ID", "NAME",
		       "PARTITIONS", "RETENTION_MS", "RETENTION_BYTES",
		       "SEGMENT_BYTES", "DURABILITY");
		for (uint32_t i = 0; i < m->count; i++)
			print_topic_row(&m->topics[i]);
		sl_meta_close(m);
		free(m);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	size_t name_len = strlen(name);
	if (!sn_topic_name_valid(name, name_len)) {
		fprintf(stderr, "sluice-control: '%s' is not a valid topic name "
			"(1-200 of A-Z a-z 0-9 . _ -, not . or ..)\n", name);
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "describe") || !strcmp(sub, "delete")) {
		if (argc != 2) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if (open_meta(&m, c))
			return 1;
		int rc = 0;
		if (!strcmp(sub, "describe")) {
			const struct sl_topic *t = sl_meta_find(m, name,
								name_len);
			if (t) {
				printf("name: %s\nid: %u\npartitions: %d\n"
				       "retention_ms: %lld\nretention_bytes: "
				       "%lld\nsegment_bytes: %lld\n"
				       "durability: %s\n", t->name, t->id,
				       t->partitions,
				       (long long)t->retention_ms,
				       (long long)t->retention_bytes,
				       (long long)t->segment_bytes,
				       t->durability ? "group"
						     : "every_append");
			} else {
				fprintf(stderr, "sluice-control: topic '%s' "
					"does not exist\n", name);
				rc = 1;
			}
		} else {
			struct sl_topic gone;
			long r = sl_admin_delete(m, name, name_len, &gone, err,
						 sizeof(err));
			if (r < 0) {
				fprintf(stderr, "sluice-control: %s\n", err);
				rc = 1;
			} else {
				printf("deleted topic '%s' (id %u)\n", name,
				       gone.id);
			}
		}
		sl_meta_close(m);
		free(m);
		return rc;
	}
	if (strcmp(sub, "create")) {
		usage(stderr);
		return EXIT_USAGE;
	}
	struct sn_create_topic r = {
		.partitions = c->default_partitions,
		.durability = (uint8_t)c->durability,
		.name = name,
		.name_len = (uint16_t)name_len,
	};
	for (int i = 2; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1]
							      : NULL;
		long long v;
		if (!val) {
			fprintf(stderr, "sluice-control: %s needs a value\n",
				opt);
			return EXIT_USAGE;
		}
		i++;
		if (!strcmp(opt, "--partitions")) {
			if (parse_i64(val, 1, SN_PARTITIONS_MAX, &v))
				goto bad_value;
			r.partitions = (int32_t)v;
		} else if (!strcmp(opt, "--retention-hours")) {
			if (parse_i64(val, -1, 1000000, &v) || v == 0)
				goto bad_value;
			r.retention_ms = v < 0 ? -1 : v * 3600000;
		} else if (!strcmp(opt, "--retention-bytes")) {
			if (parse_i64(val, -1, INT64_MAX, &v) || v == 0)
				goto bad_value;
			r.retention_bytes = v;
		} else if (!strcmp(opt, "--segment-mb")) {
			if (parse_i64(val, 1, 2047, &v))
				goto bad_value;
			r.segment_bytes = v << 20;
		} else if (!strcmp(opt, "--durability")) {
			if (!strcmp(val, "every_append"))
				r.durability = 0;
			else if (!strcmp(val, "group"))
				r.durability = 1;
			else
				goto bad_value;
		} else {
			fprintf(stderr, "sluice-control: unknown option '%s'\n",
				opt);
			usage(stderr);
			return EXIT_USAGE;
		}
		continue;
bad_value:
		fprintf(stderr, "sluice-control: %s: bad value '%s' (partitions "
			"1..1024; retention hours -1 or 1..1000000; retention "
			"bytes -1 or > 0; segment MiB 1..2047; durability "
			"every_append or group)\n", opt, val);
		return EXIT_USAGE;
	}
	struct sl_topic t, made;
	int rc = sl_admin_topic_from(c, &r, &t);
	if (rc) {
		fprintf(stderr, "sluice-control: cannot create '%s': %s\n",
			name, sn_error_message(-rc));
		return EXIT_USAGE;
	}
	if (open_meta(&m, c))
		return 1;
	long id = sl_admin_create(m, &t, &made, err, sizeof(err));
	if (id < 0) {
		fprintf(stderr, "sluice-control: %s\n", err);
		rc = 1;
	} else {
		printf("created topic '%s' (id %ld, %d partitions)\n", name,
		       id, made.partitions);
	}
	sl_meta_close(m);
	free(m);
	return rc;
}

int sl_topic_cli(const struct sl_config *c, int argc, char **argv,
		 void (*usage)(FILE *f))
{
	assert(c && argc >= 1 && argv[0] && usage);
	if (!strcmp(argv[0], "topic"))
		return cmd_topic(c, argc - 1, argv + 1, usage);
	if (!strcmp(argv[0], "config") && argc == 1) {
		sl_config_dump(c, stdout);
		return 0;
	}
	fprintf(stderr, "sluice-control: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return EXIT_USAGE;
}
