/*
 * libsluice against the real broker: starts sluiced and sluice-control
 * (paths in SLUICED and SLUICE_CONTROL) on free loopback ports with a temp
 * data dir, creates a topic, produces over TCP and UDP through libsluice,
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

static pid_t spawn(const char *exe, const char *dir, int port, const char *log)
{
	char o1[4200], o2[64], o3[64], o4[4200];
	snprintf(o1, sizeof(o1), "data_dir=%s", dir);
	snprintf(o2, sizeof(o2), "tcp_port=%d", port);
	snprintf(o3, sizeof(o3), "udp_port=%d", port);
	snprintf(o4, sizeof(o4), "telemetry_socket=%s/telemetry.sock", dir);
	pid_t pid = fork();
	if (pid == 0) {
		FILE *f = freopen(log, "w", stderr);
		(void)f;
		execl(exe, exe, "-o", o1, "-o", o2, "-o", o3, "-o", o4, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* A port free for both TCP and UDP on loopback. */
static int free_port(void)
{
	for (int i = 0; i < 50; i++) {
		int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t al = sizeof(a);
		int port = -1;
		if (bind(t, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    getsockname(t, (struct sockaddr *)&a, &al) == 0 &&
		    bind(u, (struct sockaddr *)&a, sizeof(a)) == 0)
			port = ntohs(a.sin_port);
		close(t);
		close(u);
		if (port > 0)
			return port;
	}
	return -1;
}

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
	const char *sluiced = getenv("SLUICED"), *control = getenv("SLUICE_CONTROL");
	struct stat st;
	if (!sluiced || !control || stat(sluiced, &st) || stat(control, &st)) {
		printf("skipped: SLUICED and SLUICE_CONTROL must name the binaries\n");
		return 77;
	}
	const char *base = getenv("SLUICE_TEST_TMPDIR");
	char dir[4096], log1[4200], log2[4200], addr[64];
	snprintf(dir, sizeof(dir), "%s/tl-roundtrip-XXXXXX", base ? base : "/var/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(log1, sizeof(log1), "%s/sluiced.log", dir);
	snprintf(log2, sizeof(log2), "%s/control.log", dir);
	int port = free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	pid_t d = spawn(sluiced, dir, port, log1), c = -1;
	int ret = 0;
	struct sl_client *cl = NULL;
	/* wait for the broker (10 s), then the control process */
	for (int i = 0; i < 100 && sl_client_create(addr, 500, &cl); i++)
		usleep(100000);
	CHECK(cl);
	c = spawn(control, dir, port, log2);
	struct sl_topic_config cfg = { .partitions = 3 };
	long id = -1;
	for (int i = 0; i < 100; i++) {
		id = sl_topic_create(cl, "rt", &cfg);
		if (id >= 0)
			break;
		usleep(100000);
	}
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
	if (c > 0) {
		kill(c, SIGTERM);
		waitpid(c, NULL, 0);
	}
	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	if (ret == 0) {
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			ret = 1;
	} else {
		fprintf(stderr, "logs kept in %s\n", dir);
	}
	return ret;
}
