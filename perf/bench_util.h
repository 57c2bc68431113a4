/*
 * Helpers shared by the perf/ programs: the clock, percentiles and
 * medians, and the three facts every benchmark output carries (the exact
 * command line, the commit, the machine).
 *
 * Header-only (static inline) so each benchmark stays one translation unit
 * that can also be built by hand:  cc -O2 -Iperf perf/x.c -luring
 */
#ifndef SLUICE_PERF_BENCH_UTIL_H
#define SLUICE_PERF_BENCH_UTIL_H

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Nearest-rank percentile (p in [0, 1]) of n values already sorted
 * ascending.  Returns 0 for n == 0.
 */
static inline uint64_t bench_pct_sorted(const uint64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	assert(p >= 0.0 && p <= 1.0);
	rank = (size_t)(p * (double)n + 0.999999);
	if (rank == 0)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* Median of n doubles (sorts a copy; n <= 64). */
static inline double bench_median(const double *v, size_t n)
{
	double tmp[64];

	assert(n <= 64);
	if (n == 0)
		return 0.0;
	memcpy(tmp, v, n * sizeof(*tmp));
	qsort(tmp, n, sizeof(*tmp), bench_cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2.0;
}

/* The facts printed at the top of every output. */
struct bench_env {
	char command[1024]; /* argv joined with spaces */
	char commit[64];    /* git rev-parse HEAD, or "none" */
	char uname[512];    /* like uname -a */
	char cpu[256];      /* /proc/cpuinfo model name */
	char date[64];      /* UTC, ISO 8601 */
};

static inline void bench_env_init(struct bench_env *e, int argc, char **argv)
{
	struct utsname u;
	size_t off = 0;
	FILE *f;
	char line[512];
	time_t t = time(NULL);

	memset(e, 0, sizeof(*e));
	for (int i = 0; i < argc && off + 1 < sizeof(e->command); i++) {
		int n = snprintf(e->command + off, sizeof(e->command) - off,
				 "%s%s", i ? " " : "", argv[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	snprintf(e->commit, sizeof(e->commit), "none");
	f = popen("git rev-parse HEAD 2>/dev/null", "r");
	if (f) {
		if (fgets(line, sizeof(line), f) && strlen(line) >= 40) {
			line[strcspn(line, "\n")] = 0;
			snprintf(e->commit, sizeof(e->commit), "%s", line);
		}
		pclose(f);
	}
	if (uname(&u) == 0)
		snprintf(e->uname, sizeof(e->uname), "%s %s %s %s %s",
			 u.sysname, u.nodename, u.release, u.version,
			 u.machine);
	snprintf(e->cpu, sizeof(e->cpu), "unknown");
	f = fopen("/proc/cpuinfo", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *colon;

			if (strncmp(line, "model name", 10) != 0)
				continue;
			colon = strchr(line, ':');
			if (!colon)
				continue;
			colon++;
			while (*colon == ' ' || *colon == '\t')
				colon++;
			colon[strcspn(colon, "\n")] = 0;
			snprintf(e->cpu, sizeof(e->cpu), "%s", colon);
			break;
		}
		fclose(f);
	}
	strftime(e->date, sizeof(e->date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

/*
 * One line about the filesystem holding dir, as the kernel sees it: the
 * block device, its I/O scheduler and write cache mode, and for ext4
 * whether it has a journal and its mount options that change fdatasync's
 * cost (discard, barrier).  Best effort: unknown fields say "?".
 */
static inline void bench_fs_describe(const char *dir, char *out, size_t cap)
{
	struct stat st;
	char path[512], dev[64] = "?", sched[128] = "?", wcache[64] = "?";
	char journal[64] = "?", opts[256] = "";
	FILE *f;

	if (stat(dir, &st) != 0) {
		snprintf(out, cap, "? (stat %s failed)", dir);
		return;
	}
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent",
		 major(st.st_dev), minor(st.st_dev));
	f = fopen(path, "r");
	if (f) {
		char line[256];

		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "DEVNAME=", 8) == 0) {
				line[strcspn(line, "\n")] = 0;
				snprintf(dev, sizeof(dev), "%.63s", line + 8);
			}
		fclose(f);
	}
	/* A partition's queue is its parent's. */
	const char *q[] = { "queue", "../queue" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s/scheduler",
			 major(st.st_dev), minor(st.st_dev), q[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(sched, sizeof(sched), f)) {
			/* "none [mq-deadline] kyber": keep the active one */
			char *lb = strchr(sched, '['), *rb = strchr(sched, ']');

			if (lb && rb && rb > lb) {
				*rb = 0;
				memmove(sched, lb + 1, strlen(lb + 1) + 1);
			} else {
				sched[strcspn(sched, "\n")] = 0;
			}
		}
		fclose(f);
		snprintf(path, sizeof(path),
			 "/sys/dev/block/%u:%u/%s/write_cache",
			 major(st.st_dev), minor(st.st_dev), q[i]);
		f = fopen(path, "r");
		if (f) {
			if (fgets(wcache, sizeof(wcache), f))
				wcache[strcspn(wcache, "\n")] = 0;
			fclose(f);
		}
		break;
	}
	snprintf(path, sizeof(path), "/sys/fs/ext4/%s/journal_task", dev);
	f = fopen(path, "r");
	if (f) {
		char line[64] = "";

		if (fgets(line, sizeof(line), f))
			line[strcspn(line, "\n")] = 0;
		snprintf(journal, sizeof(journal), "%s",
			 strcmp(line, "<none>") == 0 ? "no journal" : "journal");
		fclose(f);
		snprintf(path, sizeof(path), "/proc/fs/ext4/%s/options", dev);
		f = fopen(path, "r");
		if (f) {
			char line2[128];
			size_t off = 0;

			while (fgets(line2, sizeof(line2), f)) {
				line2[strcspn(line2, "\n")] = 0;
				if (strcmp(line2, "discard") &&
				    strcmp(line2, "barrier") &&
				    strcmp(line2, "nobarrier") &&
				    strncmp(line2, "data=", 5) &&
				    strcmp(line2, "dioread_nolock"))
					continue;
				int n = snprintf(opts + off, sizeof(opts) - off,
						 "%s%s", off ? "," : "", line2);
				if (n > 0 && (size_t)n < sizeof(opts) - off)
					off += (size_t)n;
			}
			fclose(f);
		}
	} else {
		snprintf(journal, sizeof(journal), "not ext4");
	}
	snprintf(out, cap, "/dev/%s scheduler %s, write cache %s, ext4 %s%s%s",
		 dev, sched, wcache, journal, opts[0] ? ", " : "", opts);
}

/* Print s as a JSON string literal (quotes included). */
static inline void bench_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static inline void bench_env_json(FILE *out, const struct bench_env *e)
{
	fputs("\"command\":", out);
	bench_json_str(out, e->command);
	fputs(",\"commit\":", out);
	bench_json_str(out, e->commit);
	fputs(",\"uname\":", out);
	bench_json_str(out, e->uname);
	fputs(",\"cpu\":", out);
	bench_json_str(out, e->cpu);
	fputs(",\"date\":", out);
	bench_json_str(out, e->date);
}

static inline void bench_env_print(FILE *out, const struct bench_env *e)
{
	fprintf(out, "# command: %s\n# commit:  %s\n# machine: %s\n"
		     "# cpu:     %s\n# date:    %s\n",
		e->command, e->commit, e->uname, e->cpu, e->date);
}

/* Parse a size with an optional K/M/G suffix (powers of 2). -1 if bad. */
static inline long long bench_parse_size(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (end == s || v < 0)
		return -1;
	switch (*end) {
	case 0:
		return v;
	case 'k': case 'K':
		v <<= 10;
		break;
	case 'm': case 'M':
		v <<= 20;
		break;
	case 'g': case 'G':
		v <<= 30;
		break;
	default:
		return -1;
	}
	return end[1] == 0 || (end[1] == 'i' && end[2] == 'B') ||
			       end[1] == 'B' ? v : -1;
}

#endif
