/*
 * The socket driver and the registry through their interface (driver.h),
 * on 127.0.0.1 with ephemeral ports:
 *   - drv_find() and drv_names() agree on what this build holds;
 *   - ntcp listeners: ports() reports each bound port, and conn_open() gets
 *     the index of the listener a connection arrived on;
 *   - reuse_port: two instances bind the same UDP and TCP ports, and the
 *     kernel hands both of them connections and datagrams; without it the
 *     second instance is refused the port.
 * Every wait is bounded (PUMP_MS), every loop by a count.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "drivers/driver.h"

#define PUMP_MS 5000
#define NCONN 64

/* What one instance saw, through its callbacks. */
struct seen {
	uint32_t opens;
	uint32_t per_listener[DRV_MAX_LISTENERS];
	int last_listener;
	uint32_t datagrams;
	uint32_t closed;
};

static void cb_datagram(void *ctx, const uint8_t *p, size_t len,
			const struct drv_peer *from)
{
	struct seen *s = ctx;
	(void)p;
	(void)len;
	(void)from;
	s->datagrams++;
}

static int cb_conn_open(void *ctx, uint32_t conn, int listener)
{
	struct seen *s = ctx;
	(void)conn;
	assert_true(listener >= 0 && listener < DRV_MAX_LISTENERS);
	s->opens++;
	s->per_listener[listener]++;
	s->last_listener = listener;
	return 0;
}

static long cb_conn_data(void *ctx, uint32_t conn, const uint8_t *p,
			 size_t len)
{
	(void)ctx;
	(void)conn;
	(void)p;
	return (long)len;
}

static void cb_conn_closed(void *ctx, uint32_t conn)
{
	struct seen *s = ctx;
	(void)conn;
	s->closed++;
}

static void cb_wakeup(void *ctx)
{
	(void)ctx;
}

static struct drv_callbacks callbacks(struct seen *s)
{
	memset(s, 0, sizeof(*s));
	s->last_listener = -1;
	struct drv_callbacks cb = {
		.ctx = s,
		.datagram = cb_datagram,
		.conn_open = cb_conn_open,
		.conn_data = cb_conn_data,
		.conn_closed = cb_conn_closed,
		.wakeup = cb_wakeup,
	};
	return cb;
}

static struct drv_config config(void)
{
	struct drv_config c = {
		.listen_host = "127.0.0.1",
		.udp_max_frame = 2048,
		.tcp_max_frame = 65536,
		.max_connections = 2 * NCONN,
		.rx_buffer_bytes = 1u << 20,
		.wake_fd = -1,
	};
	return c;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs a and b (b may be NULL) until *counter_a + *counter_b reaches want,
 * or PUMP_MS passed.  Returns the total reached. */
static uint32_t pump(struct drv *a, struct drv *b, const uint32_t *ca,
		     const uint32_t *cb, uint32_t want)
{
	const struct drv_ops *ops = &drv_socket_ops;
	uint64_t end = now_ms() + PUMP_MS;
	uint32_t total = 0;
	for (int i = 0; i < 1000000 && now_ms() < end; i++) {
		assert_true(ops->do_work(a, 1000) >= 0);
		if (b)
			assert_true(ops->do_work(b, 1000) >= 0);
		total = *ca + (cb ? *cb : 0);
		if (total >= want)
			break;
	}
	return total;
}

static int tcp_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* loopback: the kernel completes the handshake into the listen
	 * backlog, whether or not the driver runs */
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void test_registry(void **state)
{
	(void)state;
	assert_ptr_equal(drv_find("socket"), &drv_socket_ops);
	assert_ptr_equal(drv_find(""), &drv_socket_ops);
	assert_null(drv_find("nosuch"));
	assert_null(drv_find("sock"));
	const char *names = drv_names();
	assert_non_null(strstr(names, "socket"));
#ifdef SLUICE_HAVE_DPDK
	assert_ptr_equal(drv_find("dpdk"), &drv_dpdk_ops);
	assert_non_null(strstr(names, "dpdk"));
#else
	assert_null(drv_find("dpdk"));
	assert_null(strstr(names, "dpdk"));
#endif
	/* every name listed is found, under that name */
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", names);
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, ", ", &save); t && n < 16;
	     t = strtok_r(NULL, ", ", &save), n++) {
		const struct drv_ops *o = drv_find(t);
		assert_non_null(o);
		assert_string_equal(o->name, t);
	}
	assert_true(n >= 1);
}

static void test_too_many_listeners(void **state)
{
	(void)state;
	struct seen s;
	struct drv_callbacks cb = callbacks(&s);
	struct drv_config c = config();
	c.ntcp = DRV_MAX_LISTENERS + 1;
	struct drv *d = NULL;
	assert_int_equal(drv_socket_ops.create(&c, &cb, &d), -EINVAL);
	assert_null(d);
}

/* Three listeners: each its own port, each connection reported with the
 * index of the listener it came through. */
static void test_three_listeners(void **state)
{
	(void)state;
	const struct drv_ops *ops = &drv_socket_ops;
	struct seen s;
	struct drv_callbacks cb = callbacks(&s);
	struct drv_config c = config();
	c.ntcp = 3; /* tcp_ports all 0: ephemeral */
	struct drv *d;
	assert_int_equal(ops->create(&c, &cb, &d), 0);
	uint16_t udp = 1, tcp[5];
	for (int i = 0; i < 5; i++)
		tcp[i] = 0xffff;
	ops->ports(d, &udp, tcp, 5);
	assert_int_equal(udp, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_not_equal(tcp[i], 0);
		assert_int_not_equal(tcp[i], 0xffff);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(tcp[i], tcp[j]);
	}
	assert_int_equal(tcp[3], 0); /* beyond ntcp */
	assert_int_equal(tcp[4], 0);

	/* one at a time, in an order that is not the listeners' */
	static const int order[] = { 2, 0, 1, 1, 2, 0, 2 };
	int fds[7];
	for (int i = 0; i < 7; i++) {
		fds[i] = tcp_connect(tcp[order[i]]);
		assert_int_equal(pump(d, NULL, &s.opens, NULL, (uint32_t)i + 1),
				 i + 1);
		assert_int_equal(s.last_listener, order[i]);
	}
	assert_int_equal(s.per_listener[0], 2);
	assert_int_equal(s.per_listener[1], 2);
	assert_int_equal(s.per_listener[2], 3);
	for (int i = 0; i < 7; i++)
		close(fds[i]);
	assert_int_equal(pump(d, NULL, &s.closed, NULL, 7), 7);
	assert_int_equal(ops->stats(d)->conns_open, 0);
	ops->destroy(d);
}

/* Two instances with reuse_port on the same ports: the kernel spreads
 * connections (on both listeners) and datagrams over both. */
static void test_reuse_port(void **state)
{
	(void)state;
	const struct drv_ops *ops = &drv_socket_ops;
	struct seen sa, sb;
	struct drv_callbacks cba = callbacks(&sa), cbb = callbacks(&sb);
	struct drv_config c = config();
	c.reuse_port = 1;
	c.ntcp = 2; /* tcp_ports 0: ephemeral, shared below */
	struct drv *a, *b;
	/* udp_port 0 means no UDP: learn a free port number from a socket
	 * bound and closed again */
	int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in pa = { .sin_family = AF_INET };
	pa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t pl = sizeof(pa);
	assert_int_equal(bind(probe, (struct sockaddr *)&pa, sizeof(pa)), 0);
	assert_int_equal(getsockname(probe, (struct sockaddr *)&pa, &pl), 0);
	close(probe);
	c.udp_port = ntohs(pa.sin_port);

	assert_int_equal(ops->create(&c, &cba, &a), 0);
	uint16_t udp, tcp[2];
	ops->ports(a, &udp, tcp, 2);
	assert_int_equal(udp, c.udp_port);
	assert_true(tcp[0] && tcp[1] && tcp[0] != tcp[1]);
	c.tcp_ports[0] = tcp[0];
	c.tcp_ports[1] = tcp[1];
	assert_int_equal(ops->create(&c, &cbb, &b), 0);
	uint16_t udp_b, tcp_b[2];
	ops->ports(b, &udp_b, tcp_b, 2);
	assert_int_equal(udp_b, udp);
	assert_int_equal(tcp_b[0], tcp[0]);
	assert_int_equal(tcp_b[1], tcp[1]);

	/* NCONN connections, alternating between the two listeners */
	int fds[NCONN];
	for (int i = 0; i < NCONN; i++)
		fds[i] = tcp_connect(tcp[i % 2]);
	assert_int_equal(pump(a, b, &sa.opens, &sb.opens, NCONN), NCONN);
	printf("# connections: instance a %u, instance b %u\n", sa.opens,
	       sb.opens);
	assert_true(sa.opens > 0);
	assert_true(sb.opens > 0);
	/* each listener index still names its port, whichever instance */
	assert_int_equal(sa.per_listener[0] + sb.per_listener[0], NCONN / 2);
	assert_int_equal(sa.per_listener[1] + sb.per_listener[1], NCONN / 2);

	/* NCONN datagrams, each from its own source port */
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(udp) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < NCONN; i++) {
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		assert_true(u >= 0);
		assert_int_equal(sendto(u, "x", 1, 0, (struct sockaddr *)&to,
					sizeof(to)), 1);
		close(u);
	}
	assert_int_equal(pump(a, b, &sa.datagrams, &sb.datagrams, NCONN),
			 NCONN);
	printf("# datagrams: instance a %u, instance b %u\n", sa.datagrams,
	       sb.datagrams);
	assert_true(sa.datagrams > 0);
	assert_true(sb.datagrams > 0);

	for (int i = 0; i < NCONN; i++)
		close(fds[i]);
	assert_int_equal(pump(a, b, &sa.closed, &sb.closed, NCONN), NCONN);
	ops->destroy(b);
	ops->destroy(a);
}

/* Without reuse_port a second instance cannot have the port (after the
 * driver's 3 s of EADDRINUSE retries). */
static void test_no_reuse_port(void **state)
{
	(void)state;
	const struct drv_ops *ops = &drv_socket_ops;
	struct seen sa, sb;
	struct drv_callbacks cba = callbacks(&sa), cbb = callbacks(&sb);
	struct drv_config c = config();
	c.ntcp = 1;
	struct drv *a, *b = NULL;
	assert_int_equal(ops->create(&c, &cba, &a), 0);
	uint16_t udp, tcp;
	ops->ports(a, &udp, &tcp, 1);
	c.tcp_ports[0] = tcp;
	assert_int_equal(ops->create(&c, &cbb, &b), -EADDRINUSE);
	assert_null(b);
	ops->destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_too_many_listeners),
		cmocka_unit_test(test_three_listeners),
		cmocka_unit_test(test_reuse_port),
		cmocka_unit_test(test_no_reuse_port),
	};
	return cmocka_run_group_tests_name("drivers_socket", tests, NULL,
					   NULL);
}
