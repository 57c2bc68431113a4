/*
 * Retention by time through the whole broker (sluiced + sluice-control as
 * processes, tests/lib/broker.h): a topic with retention_ms 1500 and 1 MiB
 * segments, retention applied every 100 ms (retention_check_ms).
 *
 *   1. produce OLD messages (several segments) and check that while they
 *      are younger than retention_ms the log start stays at 0;
 *   2. let them age past retention_ms, produce NEW messages;
 *   3. the log start (ListOffsets earliest) moves to exactly the base of
 *      the segment holding the first NEW message: every segment whose
 *      records are all older than retention_ms is deleted (its files
 *      gone), no segment holding a NEW record is;
 *   4. reading from the start gives every message from there to the end,
 *      each NEW one byte-identical; reading offset 0 answers
 *      OFFSET_OUT_OF_RANGE.
 *
 * Retention deletes whole segments (storage/log.h, slog_apply_retention),
 * so "old data gone" is checked per segment.  Every wait is bounded.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "sluice/sluice.h"

#define TOPIC "aged"
#define RETENTION_MS 1500
#define VALUE_BYTES 200
#define OLD 20000  /* ~4.2 MiB: four full 1 MiB segments and more */
#define NEW 3000

static struct tb b;
static int failed;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                      \
			fprintf(stderr, "\n");                             \
			failed = 1;                                        \
			goto out;                                          \
		}                                                          \
	} while (0)

/* Message seq's value: "s<seq>-" then bytes that depend on seq. */
static void make_value(uint8_t *v, uint64_t seq)
{
	int n = snprintf((char *)v, VALUE_BYTES, "s%09" PRIu64 "-", seq);
	uint64_t x = seq * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = (size_t)n; i < VALUE_BYTES; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v[i] = (uint8_t)('a' + x % 26);
	}
}

struct acks {
	uint64_t ok, failed;
	int first_err;
	int64_t offset[OLD + NEW];
};

static struct acks acks;

static void on_delivery(void *opaque, int32_t partition, int64_t offset,
			int err, void *arg)
{
	struct acks *a = arg;
	(void)partition;
	if (err) {
		if (!a->failed++)
			a->first_err = err;
		return;
	}
	a->ok++;
	a->offset[(uintptr_t)opaque] = offset;
}

/* Produce messages first..first+n-1 with acks=all; 0 or -1. */
static int produce(uint64_t first, uint64_t n)
{
	struct sl_producer_opts o;
	struct sl_producer *p;
	uint8_t v[VALUE_BYTES];
	sl_producer_opts_default(&o);
	o.cb = on_delivery;
	o.cb_arg = &acks;
	if (sl_producer_create(b.addr, &o, &p))
		return -1;
	for (uint64_t i = first; i < first + n; i++) {
		make_value(v, i);
		if (sl_produce(p, TOPIC, 0, NULL, 0, v, VALUE_BYTES,
			       (void *)(uintptr_t)i) < 0) {
			sl_producer_destroy(p);
			return -1;
		}
	}
	int rc = sl_producer_flush(p, 30000);
	sl_producer_destroy(p);
	return rc == 0 && acks.failed == 0 ? 0 : -1;
}

/* The base offsets of the partition's segment files, sorted; count. */
static int segment_bases(int64_t *bases, int cap)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%.3900s/%s-0", b.dir, TOPIC);
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < cap) {
		long long base;
		char ext[8];
		if (sscanf(e->d_name, "%20lld.%7s", &base, ext) == 2 &&
		    !strcmp(ext, "log"))
			bases[n++] = base;
	}
	closedir(d);
	for (int i = 1; i < n; i++) /* insertion sort: a few entries */
		for (int j = i; j > 0 && bases[j - 1] > bases[j]; j--) {
			int64_t t = bases[j];
			bases[j] = bases[j - 1];
			bases[j - 1] = t;
		}
	return n;
}

static int64_t earliest(struct sl_client *c)
{
	int64_t off = -1;
	int rc = sl_list_offset(c, TOPIC, 0, SL_OFFSET_BEGINNING, &off);
	return rc ? rc : off;
}

int main(void)
{
	struct sl_client *c = NULL;
	struct sl_consumer *cons = NULL;
	int64_t bases[256];
	int nb = 0;
	int rc = tb_available();
	if (rc)
		return rc;
	CHECK(tb_init(&b, "retention-time") == 0, "tb_init");
	b.extra[b.nextra++] = "retention_check_ms=100";
	CHECK(tb_start(&b) == 0, "broker did not start (logs in %s)", b.dir);
	CHECK(sl_client_create(b.addr, 5000, &c) == 0, "connect");
	struct sl_topic_config cfg = { .partitions = 1,
				       .retention_ms = RETENTION_MS,
				       .retention_bytes = -1,
				       .segment_bytes = 1 << 20 };
	long id = sl_topic_create(c, TOPIC, &cfg);
	CHECK(id >= 0, "create: %s", sl_error_message((int)id));
	struct sl_topic_info ti;
	CHECK(sl_topic_describe(c, TOPIC, &ti) == 0 &&
	      ti.retention_ms == RETENTION_MS, "topic retention_ms %lld",
	      (long long)ti.retention_ms);

	/* 1. old data, younger than retention: nothing deleted */
	uint64_t t_old = tb_now_ms();
	CHECK(produce(0, OLD) == 0, "producing the old messages: %s",
	      sl_error_message(acks.first_err));
	uint64_t t_old_acked = tb_now_ms();
	CHECK(acks.offset[0] == 0 && acks.offset[OLD - 1] == OLD - 1,
	      "old messages at offsets %lld..%lld",
	      (long long)acks.offset[0], (long long)acks.offset[OLD - 1]);
	nb = segment_bases(bases, 256);
	CHECK(nb >= 4, "%d segment files for %d messages of %d bytes in 1 MiB "
	      "segments", nb, OLD, VALUE_BYTES);
	/* retention runs every 100 ms: several passes while young */
	while (tb_now_ms() < t_old + RETENTION_MS - 400) {
		int64_t s = earliest(c);
		CHECK(s == 0, "log start %lld %llu ms after producing, retention "
		      "is %d ms", (long long)s,
		      (unsigned long long)(tb_now_ms() - t_old), RETENTION_MS);
		usleep(50000);
	}

	/* 2. age past retention (the last old record was stamped before its
	 * ack), then new data */
	while (tb_now_ms() < t_old_acked + RETENTION_MS + 300)
		usleep(20000);
	CHECK(produce(OLD, NEW) == 0, "producing the new messages: %s",
	      sl_error_message(acks.first_err));
	const int64_t first_new = acks.offset[OLD];
	CHECK(first_new >= OLD, "first new message at offset %lld",
	      (long long)first_new);

	/* 3. the start moves to the segment of the first new message */
	int64_t start = -1;
	int settled = 0;
	uint64_t deadline = tb_now_ms() + 10000;
	while (!settled && tb_now_ms() < deadline) {
		start = earliest(c);
		nb = segment_bases(bases, 256);
		/* settled: the first file is the start, and it holds the
		 * first new message (the next file begins after it) */
		settled = start > 0 && nb > 0 && bases[0] == start &&
			  start <= first_new &&
			  (nb == 1 || bases[1] > first_new);
		if (!settled)
			usleep(100000);
	}
	CHECK(settled, "after 10 s: log start %lld, first segment file %lld, "
	      "second %lld, first new message at %lld", (long long)start,
	      nb > 0 ? (long long)bases[0] : -1LL,
	      nb > 1 ? (long long)bases[1] : -1LL, (long long)first_new);
	printf("log start moved 0 -> %lld (first new message at %lld, %d "
	       "segment files left)\n", (long long)start, (long long)first_new,
	       nb);
	/* and stays there: the new data is younger than retention */
	usleep(400000);
	CHECK(earliest(c) == start, "log start moved again to %lld",
	      (long long)earliest(c));

	/* 4. readers: offset 0 is gone, the rest is intact */
	CHECK(sl_consumer_create(b.addr, TOPIC, 0, NULL, &cons) == 0,
	      "consumer");
	struct sl_message m;
	CHECK(sl_consumer_seek(cons, 0) == 0, "seek to 0");
	rc = sl_consume(cons, &m, 2000);
	CHECK(rc == sl_err_broker(1), "reading offset 0 after retention: %d "
	      "(%s), expected OFFSET_OUT_OF_RANGE", rc,
	      rc < 0 ? sl_error_message(rc) : "a message");
	CHECK(sl_consumer_seek(cons, SL_OFFSET_BEGINNING) == 0, "seek");
	int64_t expect = start;
	uint8_t v[VALUE_BYTES];
	while (expect < first_new + NEW) {
		rc = sl_consume(cons, &m, 2000);
		CHECK(rc == 1, "reading offset %lld: %d (%s)", (long long)expect,
		      rc, rc < 0 ? sl_error_message(rc) : "nothing");
		CHECK(m.offset == expect, "offset %lld where %lld was expected",
		      (long long)m.offset, (long long)expect);
		uint64_t seq = (uint64_t)(m.offset >= first_new ?
					  OLD + (m.offset - first_new) : m.offset);
		make_value(v, seq);
		CHECK(m.vlen == VALUE_BYTES && !memcmp(m.value, v, VALUE_BYTES),
		      "offset %lld: not message %llu's value",
		      (long long)m.offset, (unsigned long long)seq);
		expect++;
	}
	rc = sl_consume(cons, &m, 300);
	CHECK(rc == 0, "a message past the end: %d", rc);
out:
	sl_consumer_destroy(cons);
	sl_client_destroy(c);
	if (tb_destroy(&b, failed) != 0)
		failed = 1; /* a broker process failed at exit */
	if (!failed)
		printf("ok\n");
	return failed;
}
