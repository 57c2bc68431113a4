/*
 * libsluice against the real broker: starts sluiced and sluice-control
 * (tests/lib/broker.h: paths in SLUICED and SLUICE_CONTROL) on a free
 * loopback port with a temp data dir, creates a topic, produces over TCP and UDP through libsluice,
 * consumes every partition and checks content, count and order.  Bounded:
 * 20,000 messages, every wait has a deadline.  Exit 77 (skipped) when the
 * binaries are missing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "sluice/sluice.h"

#define CHECK(c)                                                           \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #c);                   \
			ret = 1;                                           \
			goto out;                                          \
		}                                                          \
	} while (0)

struct rep {
	int ok, failed, first_err;
};

static void cb(void *opaque, int32_t partition, int64_t offset, int err,
	       void *arg)
{
	struct rep *r = arg;
	if (err) {
		if (!r->failed++)
			r->first_err = err;
	} else {
		r->ok++;
	}
}

int main(void)
{
	if (tb_available())
		return 77;
	struct tb b;
	int ret = 0;
	struct sl_client *cl = NULL;
	char addr[96];
	if (tb_init(&b, "roundtrip") || tb_start(&b)) {
		fprintf(stderr, "cannot start the broker (logs in %s)\n", b.dir);
		tb_destroy(&b, 1);
		return 1;
	}
	snprintf(addr, sizeof(addr), "%s", b.addr);
	CHECK(sl_client_create(addr, 5000, &cl) == 0);
	struct sl_topic_config cfg = { .partitions = 3 };
	long id = sl_topic_create(cl, "rt", &cfg);
	CHECK(id >= 0);
	struct sl_topic_info ti;
	CHECK(sl_topic_describe(cl, "rt", &ti) == 0 && ti.partitions == 3);

	const int per = 10000;
	for (int t = 0; t < 2; t++) {
		struct rep r = { 0 };
		struct sl_producer_opts o;
		sl_producer_opts_default(&o);
		o.transport = t ? SL_UDP : SL_TCP;
		o.batch_bytes = 4096;
		o.cb = cb;
		o.cb_arg = &r;
		struct sl_producer *p;
		CHECK(sl_producer_create(addr, &o, &p) == 0);
		for (int i = 0; i < per; i++) {
			char v[64];
			int n = snprintf(v, sizeof(v), "%d-%d", t, i);
			int part = sl_produce(p, "rt", i % 3, NULL, 0, v, (size_t)n, NULL);
			CHECK(part == i % 3);
		}
		CHECK(sl_producer_flush(p, 30000) == 0);
		sl_producer_destroy(p);
		if (r.failed)
			fprintf(stderr, "first error: %s\n", sl_error_message(r.first_err));
		CHECK(r.ok == per && r.failed == 0);
	}
	/* every partition: TCP's messages in order, then UDP's */
	for (int32_t part = 0; part < 3; part++) {
		struct sl_consumer *co;
		CHECK(sl_consumer_create(addr, "rt", part, NULL, &co) == 0);
		int next[2] = { part, part }, t = 0, rc;
		int64_t off = 0;
		struct sl_message m;
		while ((rc = sl_consume(co, &m, 1000)) == 1) {
			char v[64] = { 0 }, want[64];
			memcpy(v, m.value, m.vlen < 63 ? m.vlen : 63);
			if (t == 0 && next[0] >= per)
				t = 1;
			snprintf(want, sizeof(want), "%d-%d", t, next[t]);
			if (strcmp(v, want)) {
				fprintf(stderr, "partition %d offset %lld: '%s', expected '%s'\n",
					part, (long long)m.offset, v, want);
				ret = 1;
				sl_consumer_destroy(co);
				goto out;
			}
			CHECK(m.offset == off);
			off++;
			next[t] += 3;
		}
		sl_consumer_destroy(co);
		CHECK(rc == 0);
		CHECK(next[0] >= per && next[1] >= per && next[1] < per + 3);
	}
	printf("roundtrip: %d messages over TCP and %d over UDP, 3 partitions: ok\n",
	       per, per);
out:
	sl_client_destroy(cl);
	if (ret)
		fprintf(stderr, "logs kept in %s\n", b.dir);
	if (tb_destroy(&b, ret != 0))
		ret = 1; /* a broker process failed at exit: printed */
	return ret;
}
