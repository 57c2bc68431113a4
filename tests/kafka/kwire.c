/*
 * The Kafka wire from a byte-level test's side (kwire.h): the helpers
 * that listener_test.c, data_versions_test.c, meta_versions_test.c and
 * admin_versions_test.c share, and their main()'s scaffolding.
 */
#include "kwire.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/record_batch.h"
#include "sluice/sluice.h"

int kw_failures;

static const char *client_id = "kwire";
static uint64_t arena_mem[1 << 17];
static long resp_len = -1;

void kw_init(const char *id)
{
	client_id = id;
}

int kw_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct timeval tv = { KW_RECV_TIMEOUT_S, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int kw_send_all(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;
	while (n) {
		ssize_t w = send(fd, q, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

int kw_send_request(int fd, int16_t key, int16_t version, int32_t corr,
		    const void *body)
{
	static uint8_t buf[1 << 20];
	struct kc_request_header h = { key, version, corr,
				       { client_id,
					 (int32_t)strlen(client_id) } };
	long n = kc_encode_request(&h, body, buf + 4, sizeof(buf) - 4);
	if (n < 0) {
		fprintf(stderr, "encode api %d v%d: %ld\n", key, version, n);
		return -1;
	}
	rb_put32(buf, (uint32_t)n);
	return kw_send_all(fd, buf, (size_t)n + 4);
}

long kw_read(int fd, uint8_t *buf, size_t cap)
{
	uint8_t sz[4];
	size_t got = 0;
	while (got < 4) {
		ssize_t r = recv(fd, sz + got, 4 - got, 0);
		if (r == 0 && got == 0)
			return 0;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	uint32_t n = rb_be32(sz);
	if (n > cap)
		return -1;
	for (got = 0; got < n;) {
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return (long)n;
}

struct kc_arena kw_arena(void)
{
	return (struct kc_arena){ (uint8_t *)arena_mem, sizeof(arena_mem), 0 };
}

int kw_call(int fd, int16_t key, int16_t version, const void *body,
	    union kc_response *out)
{
	static uint8_t buf[1 << 22];
	static int32_t corr = 100;
	corr++;
	if (kw_send_request(fd, key, version, corr, body))
		return -1;
	resp_len = kw_read(fd, buf, sizeof(buf));
	if (resp_len <= 0)
		return -1;
	struct kc_response_header rh;
	struct kc_arena a = kw_arena();
	long rc = kc_decode_response(key, version, buf, (size_t)resp_len, &rh,
				     out, &a);
	if (rc < 0 || rh.correlation_id != corr) {
		fprintf(stderr, "api %d v%d: decode %ld corr %d/%d\n", key,
			version, rc, rh.correlation_id, corr);
		return -1;
	}
	return 0;
}

long kw_resp_len(void)
{
	return resp_len;
}

int kw_broker_start(struct tb *b, const char *name, int *conn)
{
	if (tb_available())
		return 77;
	if (tb_init(b, name) || tb_start(b)) {
		fprintf(stderr, "cannot start the broker (logs in %s)\n", b->dir);
		tb_destroy(b, 1);
		return 1;
	}
	if (conn && (*conn = kw_connect(b->kport)) < 0) {
		tb_destroy(b, 1);
		return 1;
	}
	return 0;
}

long kw_topic_create(const struct tb *b, const char *name, int partitions)
{
	struct sl_client *cl;
	struct sl_topic_config tc = { 0 };
	tc.partitions = partitions;
	if (sl_client_create(b->addr, 5000, &cl)) {
		fprintf(stderr, "cannot create the topic %s\n", name);
		return -1;
	}
	long id = sl_topic_create(cl, name, &tc);
	sl_client_destroy(cl);
	if (id < 0)
		fprintf(stderr, "cannot create the topic %s\n", name);
	return id < 0 ? -1 : id;
}

void kw_run(const struct tb *b, const struct kw_test *tests, size_t count,
	    int *conn)
{
	for (size_t i = 0; i < count; i++) {
		int before = kw_failures;
		tests[i].fn();
		printf("%s %s\n", kw_failures == before ? "ok  " : "FAIL",
		       tests[i].name);
		if (kw_failures == before || !conn)
			continue;
		close(*conn);
		*conn = kw_connect(b->kport);
		if (*conn < 0)
			break;
	}
}

int kw_finish(struct tb *b, int *conn)
{
	if (conn && *conn >= 0) {
		close(*conn);
		*conn = -1;
	}
	/* the broker is still up */
	int alive = tb_wait_sluiced(b, 5000) == 0;
	printf("%s broker alive\n", alive ? "ok  " : "FAIL");
	/* a broker that fails at exit (a sanitizer report, a crash) fails */
	int bad_exit = tb_destroy(b, kw_failures || !alive) != 0;
	if (bad_exit)
		printf("FAIL broker exit\n");
	return kw_failures || !alive || bad_exit ? 1 : 0;
}
