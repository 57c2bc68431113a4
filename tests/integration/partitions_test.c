/*
 * Many partitions and many topics through a real broker (sluiced and
 * sluice-control as processes, tests/lib/broker.h), with the default
 * memory settings:
 *
 *   ten_thousand_partitions  100 topics x 100 partitions open at once;
 *                            sluiced's resident memory grows by less than
 *                            IDLE_PARTITION_MAX bytes per idle partition
 *                            (docs/storage.md, "Memory and descriptors per
 *                            partition"); one partition of each topic is
 *                            written (acks=all, more partitions than the
 *                            write buffer pool has buffers) and read back
 *                            byte for byte; the resident memory stays under
 *                            the bound docs/config.md names for 10,000
 *                            partitions (RSS_BOUND)
 *   topic_slots_reused       more topics created and deleted than sluiced
 *                            has topic slots (1024): every create succeeds
 *                            and the topics keep working
 *
 * Bounded: fixed counts, every wait has a deadline.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"
#include "sluice/sluice.h"

/* Under AddressSanitizer (the sanitized build of tools/test) sluiced's
 * RSS holds shadow memory and freed-memory quarantine: the memory bounds
 * are checked in the release build only, everything else in both. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_CHECKED 0
#else
#define RSS_CHECKED 1
#endif

#define TOPICS 100
#define PARTS 100
#define MSGS 20          /* per written partition */
#define VALUE_BYTES 300
/* docs/storage.md: what one idle partition may cost sluiced at most */
#define IDLE_PARTITION_MAX (8u << 10)
/* docs/config.md: sluiced's resident memory with 10,000 partitions and
 * the default settings */
#define RSS_BOUND (600ull << 20)
#define DP_MAX_TOPICS 1024 /* dataplane/dp.h */

static struct tb b;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A line of /proc/<pid>/status in bytes ("VmRSS", "VmHWM"). */
static uint64_t proc_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	uint64_t v = 0;
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtoull(line + kl + 1, NULL, 10) * 1024;
	fclose(f);
	return v;
}

static void make_value(uint8_t *v, int t, int i)
{
	for (int k = 0; k < VALUE_BYTES; k++)
		v[k] = (uint8_t)(t * 131 + i * 7 + k);
}

static int teardown(void **state)
{
	(void)state;
	int rc = tb_destroy(&b, 0);
	memset(&b, 0, sizeof(b));
	return rc == 0 ? 0 : -1;
}

static long create(struct sl_client *c, const char *name, int32_t parts)
{
	struct sl_topic_config cfg = { .partitions = parts };
	long id = -1;
	/* bounded: a create refused while the daemon syncs is retried */
	for (int tries = 0; tries < 50; tries++) {
		id = sl_topic_create(c, name, &cfg);
		if (id >= 0)
			return id;
		usleep(100000);
	}
	fail_msg("creating %s (%d partitions): %s", name, parts,
		 sl_error_message((int)id));
	return id;
}

struct acks {
	uint64_t ok, failed;
	int first_err;
};

static void on_delivery(void *opaque, int32_t partition, int64_t offset,
			int err, void *arg)
{
	struct acks *a = arg;
	(void)opaque, (void)partition, (void)offset;
	if (err) {
		if (!a->failed++)
			a->first_err = err;
		return;
	}
	a->ok++;
}

/* Produce n messages to topic/part with acks=all, read them back. */
static void write_and_read(const char *topic, int32_t part, int t, int n)
{
	struct acks a = { 0 };
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	o.acks = -1;
	o.cb = on_delivery;
	o.cb_arg = &a;
	struct sl_producer *p;
	assert_int_equal(sl_producer_create(b.addr, &o, &p), 0);
	uint8_t v[VALUE_BYTES];
	for (int i = 0; i < n; i++) {
		make_value(v, t, i);
		int rc = sl_produce(p, topic, part, NULL, 0, v, VALUE_BYTES, NULL);
		if (rc < 0)
			fail_msg("produce %s-%d: %s", topic, part,
				 sl_error_message(rc));
	}
	assert_int_equal(sl_producer_flush(p, 60000), 0);
	sl_producer_destroy(p);
	if (a.failed)
		fail_msg("%s-%d: %llu failed, first %s", topic, part,
			 (unsigned long long)a.failed,
			 sl_error_message(a.first_err));
	assert_int_equal(a.ok, (uint64_t)n);
	struct sl_consumer *c;
	struct sl_consumer_opts co;
	sl_consumer_opts_default(&co);
	assert_int_equal(sl_consumer_create(b.addr, topic, part, &co, &c), 0);
	int got = 0;
	uint64_t deadline = now_ms() + 30000;
	while (got < n && now_ms() < deadline) {
		struct sl_message m;
		int rc = sl_consume(c, &m, 200);
		if (rc == 0)
			continue;
		if (rc < 0)
			fail_msg("consume %s-%d: %s", topic, part,
				 sl_error_message(rc));
		make_value(v, t, got);
		if (m.offset != got || m.vlen != VALUE_BYTES ||
		    memcmp(m.value, v, VALUE_BYTES))
			fail_msg("%s-%d: offset %lld is not message %d", topic,
				 part, (long long)m.offset, got);
		got++;
	}
	sl_consumer_destroy(c);
	assert_int_equal(got, n);
}

static void test_ten_thousand_partitions(void **state)
{
	(void)state;
	assert_int_equal(tb_init(&b, "parts10k"), 0);
	assert_int_equal(tb_start(&b), 0);
	struct sl_client *c;
	assert_int_equal(sl_client_create(b.addr, 5000, &c), 0);
	/* a topic first, so that what every broker has (threads, the
	 * first partition's files, the pool's first buffer) is counted
	 * before */
	create(c, "warm", 1);
	write_and_read("warm", 0, 999, 2);
	uint64_t rss0 = proc_kb(b.sluiced, "VmRSS");
	uint64_t t0 = now_ms();
	char name[64];
	for (int t = 0; t < TOPICS; t++) {
		snprintf(name, sizeof(name), "many%03d", t);
		create(c, name, PARTS);
	}
	/* every partition is open once its topic is described */
	for (int t = 0; t < TOPICS; t++) {
		struct sl_topic_info ti;
		snprintf(name, sizeof(name), "many%03d", t);
		assert_int_equal(sl_topic_describe(c, name, &ti), 0);
		assert_int_equal(ti.partitions, PARTS);
	}
	uint64_t rss1 = proc_kb(b.sluiced, "VmRSS");
	printf("ten_thousand_partitions: %d partitions created in %llu ms; "
	       "RSS %llu KiB before, %llu KiB after: %llu bytes per "
	       "partition\n", TOPICS * PARTS,
	       (unsigned long long)(now_ms() - t0),
	       (unsigned long long)(rss0 >> 10), (unsigned long long)(rss1 >> 10),
	       (unsigned long long)((rss1 > rss0 ? rss1 - rss0 : 0) /
				    (TOPICS * PARTS)));
	if (RSS_CHECKED)
		assert_true(rss1 < rss0 +
			    (uint64_t)TOPICS * PARTS * IDLE_PARTITION_MAX);
	else
		printf("ten_thousand_partitions: RSS not checked under "
		       "AddressSanitizer\n");
	/* one partition of each topic: more partitions with data on its way
	 * to the disk than the pool has buffers (32 of 8 MiB: buffers are
	 * taken back from partitions whose data is durable) */
	t0 = now_ms();
	for (int t = 0; t < TOPICS; t++) {
		snprintf(name, sizeof(name), "many%03d", t);
		write_and_read(name, (int32_t)((t * 37) % PARTS), t, MSGS);
	}
	uint64_t rss2 = proc_kb(b.sluiced, "VmRSS");
	uint64_t hwm = proc_kb(b.sluiced, "VmHWM");
	printf("ten_thousand_partitions: %d partitions written and read in "
	       "%llu ms; RSS %llu KiB, peak %llu KiB (bound %llu KiB)\n",
	       TOPICS, (unsigned long long)(now_ms() - t0),
	       (unsigned long long)(rss2 >> 10), (unsigned long long)(hwm >> 10),
	       (unsigned long long)(RSS_BOUND >> 10));
	if (RSS_CHECKED)
		assert_true(rss2 < RSS_BOUND);
	assert_true(hwm < RSS_BOUND);
	sl_client_destroy(c);
}

static void test_topic_slots_reused(void **state)
{
	(void)state;
	assert_int_equal(tb_init(&b, "slots"), 0);
	assert_int_equal(tb_start(&b), 0);
	struct sl_client *c;
	assert_int_equal(sl_client_create(b.addr, 5000, &c), 0);
	/* one topic lives through it all */
	create(c, "keep", 1);
	write_and_read("keep", 0, 1, 3);
	char name[64];
	uint64_t t0 = now_ms();
	const int rounds = DP_MAX_TOPICS + 100;
	for (int i = 0; i < rounds; i++) {
		snprintf(name, sizeof(name), "churn%05d", i);
		create(c, name, 1 + i % 3);
		if (i % 256 == 0)
			write_and_read(name, 0, i, 2);
		int rc = sl_topic_delete(c, name);
		if (rc < 0)
			fail_msg("deleting %s: %s", name, sl_error_message(rc));
	}
	printf("topic_slots_reused: %d topics created and deleted in %llu ms\n",
	       rounds, (unsigned long long)(now_ms() - t0));
	create(c, "after", 2);
	write_and_read("after", 1, 7, 5);
	/* the first topic's data is untouched: 3 then 4 more messages */
	struct sl_consumer *k;
	struct sl_consumer_opts co;
	sl_consumer_opts_default(&co);
	assert_int_equal(sl_consumer_create(b.addr, "keep", 0, &co, &k), 0);
	int got = 0;
	uint64_t deadline = now_ms() + 10000;
	while (got < 3 && now_ms() < deadline) {
		struct sl_message m;
		int rc = sl_consume(k, &m, 200);
		assert_true(rc >= 0);
		got += rc == 1;
	}
	sl_consumer_destroy(k);
	assert_int_equal(got, 3);
	sl_client_destroy(c);
}

int main(void)
{
	if (tb_available())
		return 77;
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_ten_thousand_partitions,
					  teardown),
		cmocka_unit_test_teardown(test_topic_slots_reused, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
