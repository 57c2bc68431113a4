/*
 * sluice-storage-demo: the main job until the broker exists.  Opens (or
 * recovers) the partition log demo-0 under --data, appends --batches
 * batches of --records records each with per-append fdatasync, waits until
 * they are durable, reads every batch back and checks it byte for byte,
 * then prints the log's offsets and counters.  Run it twice: the second
 * run continues where the first stopped.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/record_batch.h"
#include "storage/log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: sluice-storage-demo [--data DIR] [--batches N] "
		   "[--records N] [--group-commit]\n"
		   "  --data DIR      where partition logs live (default ./data)\n"
		   "  --batches N     batches to append (default 1000)\n"
		   "  --records N     records per batch (default 10)\n"
		   "  --group-commit  fdatasync every 1 MiB / 2 ms instead of "
		   "every append\n");
}

int main(int argc, char **argv)
{
	const char *data = "./data";
	long batches = 1000, records = 10;
	int group = 0;
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "batches", required_argument, NULL, 'b' },
		{ "records", required_argument, NULL, 'r' },
		{ "group-commit", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "d:b:r:gh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'b': batches = strtol(optarg, NULL, 10); break;
		case 'r': records = strtol(optarg, NULL, 10); break;
		case 'g': group = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (batches <= 0 || records <= 0 || records > 1000) {
		fprintf(stderr, "sluice-storage-demo: --batches must be > 0 and "
				"--records between 1 and 1000\n");
		return 2;
	}

	struct swriter *w;
	int rc = swriter_create(NULL, &w);
	if (rc < 0) {
		fprintf(stderr, "sluice-storage-demo: cannot create the io_uring "
				"writer: %s\n", sl_strerror(rc));
		return 1;
	}
	struct slog_config cfg;
	slog_config_defaults(&cfg);
	cfg.topic = "demo";
	cfg.partition = 0;
	cfg.durability = group ? SLOG_SYNC_GROUP : SLOG_SYNC_EVERY_APPEND;
	struct slog *log;
	rc = slog_open(w, data, &cfg, &log);
	if (rc < 0) {
		fprintf(stderr, "sluice-storage-demo: cannot open %s/demo-0: %s\n",
			data, sl_strerror(rc));
		return 1;
	}
	int64_t first = slog_end_offset(log);
	printf("opened %s/demo-0: offsets [%lld, %lld), %u segment(s)\n", data,
	       (long long)slog_start_offset(log), (long long)first,
	       slog_segment_count(log));

	static uint8_t batch[1 << 20];
	char value[128];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long b = 0; b < batches; b++) {
		struct rb_builder bld;
		int64_t now = (int64_t)time(NULL) * 1000;
		rb_builder_init(&bld, batch, sizeof(batch), now);
		for (long r = 0; r < records; r++) {
			int n = snprintf(value, sizeof(value),
					 "message %lld of the storage demo",
					 (long long)(first + b * records + r));
			rb_builder_add(&bld, NULL, 0, value, n, now);
		}
		long len = rb_builder_finish(&bld);
		struct slog_append_result res;
		while ((rc = slog_append(log, batch, (size_t)len, &res)) == SL_EFULL)
			swriter_wait(w, 1000);
		if (rc < 0) {
			fprintf(stderr, "sluice-storage-demo: append failed: %s\n",
				sl_strerror(rc));
			return 1;
		}
		swriter_do_work(w);
	}
	rc = slog_sync(log);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0) {
		fprintf(stderr, "sluice-storage-demo: sync failed: %s\n",
			sl_strerror(rc));
		return 1;
	}
	double secs = (double)(t1.tv_sec - t0.tv_sec) +
		      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("appended %ld batches (%ld records) in %.3f s, durable to "
	       "offset %lld\n", batches, batches * records, secs,
	       (long long)slog_durable_offset(log));

	/* read everything back and check every record */
	static uint8_t rbuf[4 << 20];
	int64_t off = first, seen = 0;
	while (off < slog_end_offset(log)) {
		ssize_t n = slog_read_copy(log, off, sizeof(rbuf),
					   slog_durable_offset(log), rbuf,
					   sizeof(rbuf));
		if (n <= 0) {
			fprintf(stderr, "sluice-storage-demo: read at %lld "
					"failed: %s\n", (long long)off,
				sl_strerror((int)n));
			return 1;
		}
		for (ssize_t p = 0; p < n;) {
			long size = rb_frame_size(rbuf + p, (size_t)(n - p),
						  (size_t)(n - p));
			if (size <= 0 || rb_validate(rbuf + p, (size_t)size)) {
				fprintf(stderr, "sluice-storage-demo: bad batch "
						"read back at %lld\n",
					(long long)off);
				return 1;
			}
			struct rb_iter it;
			struct rb_record rec;
			rb_iter_init(&it, rbuf + p, (size_t)size);
			while (rb_iter_next(&it, &rec) == 1) {
				if (rec.offset < first) {
					continue;
				}
				int m = snprintf(value, sizeof(value),
						 "message %lld of the storage demo",
						 (long long)rec.offset);
				if (rec.vlen != m ||
				    memcmp(rec.value, value, (size_t)m)) {
					fprintf(stderr, "sluice-storage-demo: "
							"record %lld differs\n",
						(long long)rec.offset);
					return 1;
				}
				seen++;
			}
			off = rb_last_offset(rbuf + p) + 1;
			p += size;
		}
	}
	struct slog_stats st;
	slog_get_stats(log, &st);
	printf("read back and verified %lld records\n", (long long)seen);
	printf("writes %llu (%llu bytes), fdatasyncs %llu (mean %.0f us, max "
	       "%.0f us)\n", (unsigned long long)st.writes,
	       (unsigned long long)st.write_bytes,
	       (unsigned long long)st.fsyncs,
	       st.fsyncs ? (double)st.fsync_ns_total / (double)st.fsyncs / 1e3 : 0,
	       (double)st.fsync_ns_max / 1e3);
	rc = slog_close(log);
	swriter_destroy(w);
	if (rc < 0) {
		fprintf(stderr, "sluice-storage-demo: close failed: %s\n",
			sl_strerror(rc));
		return 1;
	}
	printf("closed cleanly; run again to append more\n");
	return seen == batches * records ? 0 : 1;
}
