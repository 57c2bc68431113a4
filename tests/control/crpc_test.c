/*
 * The controller RPC over loopback: calls and replies (now and later),
 * replies to a closed connection, a lost server, a timeout, a bad frame,
 * and a change of target.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "control/crpc.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct server {
	struct sl_crpc *r;
	int requests;
	int defer;          /* keep the token instead of answering */
	uint64_t held;
	uint8_t last_type;
};

static void on_request(void *ctx, uint64_t token, uint8_t type,
		       const uint8_t *body, size_t len)
{
	struct server *s = ctx;
	s->requests++;
	s->last_type = type;
	if (s->defer) {
		s->held = token;
		return;
	}
	/* echo the body reversed, status = type */
	uint8_t out[256];
	assert_true(len <= sizeof(out));
	for (size_t i = 0; i < len; i++)
		out[i] = body[len - 1 - i];
	assert_int_equal(sl_crpc_reply(s->r, token, type, out, len), 0);
}

struct result {
	int calls;
	uint16_t status;
	uint8_t body[256];
	size_t len;
};

static void on_reply(void *ctx, uint16_t status, const uint8_t *body,
		     size_t len)
{
	struct result *r = ctx;
	r->calls++;
	r->status = status;
	r->len = len < sizeof(r->body) ? len : sizeof(r->body);
	if (len)
		memcpy(r->body, body, r->len);
}

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Run both until done() or 3 s. */
static void pump(struct sl_crpc *a, struct sl_crpc *b, int *flag, int want)
{
	int64_t end = now_ms() + 3000;
	while (*flag < want && now_ms() < end) {
		struct pollfd p[2] = {{sl_crpc_fd(a), POLLIN, 0},
				      {b ? sl_crpc_fd(b) : -1, POLLIN, 0}};
		(void)poll(p, 2, 10);
		sl_crpc_do_work(a, now_ms());
		if (b)
			sl_crpc_do_work(b, now_ms());
	}
}

static void test_call_reply(void **state)
{
	(void)state;
	char err[256];
	uint16_t port = free_port();
	struct server s = {0};
	struct sl_crpc *cli;
	assert_int_equal(sl_crpc_create("127.0.0.1", port, on_request, &s,
					&s.r, err, sizeof(err)), 0);
	assert_int_equal(sl_crpc_create(NULL, 0, on_request, NULL, &cli, err,
					sizeof(err)), 0);
	struct result res = {0};
	assert_int_equal(sl_crpc_call(cli, 7, (const uint8_t *)"abc", 3,
				      on_reply, &res, now_ms()), -ENOTCONN);
	sl_crpc_target(cli, "127.0.0.1", port);
	for (int i = 0; i < 50; i++)
		assert_int_equal(sl_crpc_call(cli, 7, (const uint8_t *)"abc", 3,
					      on_reply, &res, now_ms()), 0);
	pump(cli, s.r, &res.calls, 50);
	assert_int_equal(res.calls, 50);
	assert_int_equal(res.status, 7);
	assert_int_equal(res.len, 3);
	assert_memory_equal(res.body, "cba", 3);

	/* a reply given later, after the request handler returned */
	s.defer = 1;
	struct result later = {0};
	assert_int_equal(sl_crpc_call(cli, 9, NULL, 0, on_reply, &later,
				      now_ms()), 0);
	pump(cli, s.r, &s.requests, 51);
	assert_int_equal(s.last_type, 9);
	assert_int_equal(later.calls, 0);
	assert_int_equal(sl_crpc_reply(s.r, s.held, 3, (const uint8_t *)"x",
				       1), 0);
	pump(cli, s.r, &later.calls, 1);
	assert_int_equal(later.calls, 1);
	assert_int_equal(later.status, 3);

	/* the server goes away: the waiting call is lost, once */
	struct result lost = {0};
	assert_int_equal(sl_crpc_call(cli, 9, NULL, 0, on_reply, &lost,
				      now_ms()), 0);
	pump(cli, s.r, &s.requests, 52);
	uint64_t stale = s.held;
	sl_crpc_destroy(s.r);
	pump(cli, NULL, &lost.calls, 1);
	assert_int_equal(lost.calls, 1);
	assert_int_equal(lost.status, SL_CRPC_ELOST);
	sl_crpc_destroy(cli);
	(void)stale;
}

static void test_reply_to_closed(void **state)
{
	(void)state;
	char err[256];
	uint16_t port = free_port();
	struct server s = {.defer = 1};
	struct sl_crpc *cli;
	assert_int_equal(sl_crpc_create("127.0.0.1", port, on_request, &s,
					&s.r, err, sizeof(err)), 0);
	assert_int_equal(sl_crpc_create(NULL, 0, on_request, NULL, &cli, err,
					sizeof(err)), 0);
	sl_crpc_target(cli, "127.0.0.1", port);
	struct result res = {0};
	assert_int_equal(sl_crpc_call(cli, 1, NULL, 0, on_reply, &res,
				      now_ms()), 0);
	pump(cli, s.r, &s.requests, 1);
	/* the client moves elsewhere: its call is lost; the server's late
	 * reply finds the connection gone */
	sl_crpc_target(cli, "127.0.0.1", free_port());
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.status, SL_CRPC_ELOST);
	int dummy = 0;
	int64_t end = now_ms() + 300;
	while (now_ms() < end) {
		sl_crpc_do_work(s.r, now_ms());
		usleep(5000);
	}
	(void)dummy;
	assert_int_equal(sl_crpc_reply(s.r, s.held, 0, NULL, 0), -ENOTCONN);
	/* a made-up token */
	assert_int_equal(sl_crpc_reply(s.r, (uint64_t)70 << 56, 0, NULL, 0),
			 -ENOTCONN);
	sl_crpc_destroy(cli);
	sl_crpc_destroy(s.r);
}

static void test_bad_frame_and_timeout(void **state)
{
	(void)state;
	char err[256];
	uint16_t port = free_port();
	struct server s = {.defer = 1};
	assert_int_equal(sl_crpc_create("127.0.0.1", port, on_request, &s,
					&s.r, err, sizeof(err)), 0);
	/* a raw client sending a frame length of 3: closed, counted */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	uint8_t bad[12] = {0, 0, 0, 3};
	assert_int_equal(write(fd, bad, sizeof(bad)), (ssize_t)sizeof(bad));
	int64_t end = now_ms() + 3000;
	struct sl_crpc_stats st;
	do {
		sl_crpc_do_work(s.r, now_ms());
		sl_crpc_stats(s.r, &st);
		usleep(2000);
	} while (st.bad_frames == 0 && now_ms() < end);
	assert_int_equal(st.bad_frames, 1);
	char c;
	assert_int_equal(read(fd, &c, 1), 0); /* closed by the server */
	close(fd);

	/* a call nobody answers times out as lost */
	struct sl_crpc *cli;
	assert_int_equal(sl_crpc_create(NULL, 0, on_request, NULL, &cli, err,
					sizeof(err)), 0);
	sl_crpc_target(cli, "127.0.0.1", port);
	struct result res = {0};
	int64_t t0 = now_ms();
	assert_int_equal(sl_crpc_call(cli, 1, NULL, 0, on_reply, &res, t0), 0);
	int64_t deadline = t0 + SL_CRPC_TIMEOUT_MS + 2000;
	while (!res.calls && now_ms() < deadline) {
		sl_crpc_do_work(cli, now_ms());
		sl_crpc_do_work(s.r, now_ms());
		usleep(5000);
	}
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.status, SL_CRPC_ELOST);
	assert_true(now_ms() - t0 >= SL_CRPC_TIMEOUT_MS);
	sl_crpc_destroy(cli);
	sl_crpc_destroy(s.r);
}

static void test_port_taken(void **state)
{
	(void)state;
	char err[256];
	uint16_t port = free_port();
	struct sl_crpc *a, *b;
	assert_int_equal(sl_crpc_create("127.0.0.1", port, on_request, NULL,
					&a, err, sizeof(err)), 0);
	assert_int_equal(sl_crpc_create("127.0.0.1", port, on_request, NULL,
					&b, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "Raft port + 1"));
	sl_crpc_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_reply),
		cmocka_unit_test(test_reply_to_closed),
		cmocka_unit_test(test_bad_frame_and_timeout),
		cmocka_unit_test(test_port_taken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
