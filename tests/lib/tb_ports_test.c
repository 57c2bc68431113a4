/*
 * The test broker's port reservation (broker.h, "Ports"), which tests that
 * run in parallel rely on:
 *
 *   below_ephemeral   both ports lie below the kernel's ephemeral range,
 *                     where no client socket's local port can land
 *   held_until_destroy  the port's lock file is flock'ed while the broker
 *                     exists (another reservation cannot get it) and free
 *                     after tb_destroy
 *   parallel_distinct 8 processes reserving at the same moment get 16
 *                     different ports
 *
 * No broker process is started.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"

#define CHILDREN 8

static int ephemeral_low(void)
{
	int low = 32768, high = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%d %d", &low, &high) != 2)
			low = 32768;
		fclose(f);
	}
	return low;
}

/* Is the lock file of port free to take right now?  1 yes, 0 held. */
static int lock_free(int port)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/sluice-test-ports/%d", port);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("%s: %s (tb_init did not create it)", path,
			 strerror(errno));
	/* flock conflicts between open file descriptions, even within one
	 * process */
	int ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
	if (!ok && errno != EWOULDBLOCK)
		fail_msg("flock %s: %s", path, strerror(errno));
	close(fd);
	return ok;
}

static void test_below_ephemeral(void **state)
{
	(void)state;
	struct tb b;
	assert_int_equal(tb_init(&b, "ports"), 0);
	int low = ephemeral_low();
	printf("ports %d and %d; ephemeral range from %d\n", b.port, b.kport,
	       low);
	assert_true(b.port >= 1024 && b.port < low);
	assert_true(b.kport >= 1024 && b.kport < low);
	assert_int_not_equal(b.port, b.kport);
	assert_int_equal(tb_destroy(&b, 0), 0);
}

static void test_held_until_destroy(void **state)
{
	(void)state;
	struct tb b;
	assert_int_equal(tb_init(&b, "ports"), 0);
	int port = b.port, kport = b.kport;
	assert_false(lock_free(port));
	assert_false(lock_free(kport));
	assert_int_equal(tb_destroy(&b, 0), 0);
	assert_true(lock_free(port));
	assert_true(lock_free(kport));
}

static void test_parallel_distinct(void **state)
{
	(void)state;
	int to_parent[2], go[2];
	assert_int_equal(pipe(to_parent), 0);
	assert_int_equal(pipe(go), 0);
	pid_t kids[CHILDREN];
	for (int i = 0; i < CHILDREN; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			/* all start together, reserve, report, hold until
			 * the parent has read everyone */
			char c;
			close(go[1]);
			if (read(go[0], &c, 1) != 0)
				_exit(2);
			struct tb b;
			int ports[2] = { -1, -1 };
			if (tb_init(&b, "ports") == 0) {
				ports[0] = b.port;
				ports[1] = b.kport;
			}
			if (write(to_parent[1], ports, sizeof(ports)) !=
			    (ssize_t)sizeof(ports))
				_exit(3);
			sleep(1);
			_exit(tb_destroy(&b, 0) ? 4 : 0);
		}
	}
	close(go[0]);
	close(go[1]); /* EOF: go */
	close(to_parent[1]);
	int all[2 * CHILDREN], n = 0;
	for (int i = 0; i < CHILDREN; i++) {
		int ports[2];
		ssize_t r = read(to_parent[0], ports, sizeof(ports));
		assert_int_equal(r, (ssize_t)sizeof(ports));
		assert_true(ports[0] > 0 && ports[1] > 0);
		all[n++] = ports[0];
		all[n++] = ports[1];
	}
	close(to_parent[0]);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (all[i] == all[j])
				fail_msg("port %d reserved twice", all[i]);
	for (int i = 0; i < CHILDREN; i++) {
		int st;
		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	printf("%d processes, %d distinct ports\n", CHILDREN, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_below_ephemeral),
		cmocka_unit_test(test_held_until_destroy),
		cmocka_unit_test(test_parallel_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
