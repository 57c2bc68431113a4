/*
 * The test broker harness (broker.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
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

int tb_available(void)
{
	const char *s = getenv("SLUICED"), *c = getenv("SLUICE_CONTROL");
	struct stat st;
	if (!s || !c || stat(s, &st) || stat(c, &st)) {
		printf("skipped: SLUICED and SLUICE_CONTROL must name the "
		       "sluiced and sluice-control binaries\n");
		return 77;
	}
	return 0;
}

static int free_port(void)
{
	for (int i = 0; i < 50; i++) {
		int t = socket(AF_INET, SOCK_STREAM, 0);
		int u = socket(AF_INET, SOCK_DGRAM, 0);
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

int tb_init(struct tb *b, const char *name)
{
	const char *base = getenv("SLUICE_TEST_TMPDIR");
	memset(b, 0, sizeof(*b));
	snprintf(b->dir, sizeof(b->dir), "%s/tb-%s-XXXXXX",
		 base ? base : "/var/tmp", name);
	if (!mkdtemp(b->dir))
		return -errno;
	snprintf(b->host, sizeof(b->host), "127.0.0.1");
	b->port = free_port();
	b->kport = free_port();
	if (b->port < 0 || b->kport < 0 || b->kport == b->port)
		return -EADDRINUSE;
	b->sluiced = b->control = -1;
	return 0;
}

static void set_addr(struct tb *b)
{
	snprintf(b->addr, sizeof(b->addr), "%s:%d", b->host, b->port);
}

static pid_t spawn(struct tb *b, const char *exe, const char *what)
{
	char o[7][PATH_MAX + 32], log[PATH_MAX + 64];
	const char *argv[40];
	unsigned n = 0;
	set_addr(b);
	snprintf(log, sizeof(log), "%s/%s.%u.log", b->dir, what, b->restarts++);
	snprintf(o[0], sizeof(o[0]), "data_dir=%s", b->dir);
	snprintf(o[1], sizeof(o[1]), "tcp_port=%d", b->port);
	snprintf(o[2], sizeof(o[2]), "udp_port=%d", b->port);
	snprintf(o[3], sizeof(o[3]), "telemetry_socket=%s/run/telemetry.sock",
		 b->dir);
	snprintf(o[4], sizeof(o[4]), "listen_host=%s", b->host);
	snprintf(o[5], sizeof(o[5]), "kafka_port=%d", b->kport);
	if (b->netns[0] && !strcmp(what, "sluiced")) {
		argv[n++] = "ip";
		argv[n++] = "netns";
		argv[n++] = "exec";
		argv[n++] = b->netns;
	}
	argv[n++] = exe;
	for (unsigned i = 0; i < 6; i++) {
		argv[n++] = "-o";
		argv[n++] = o[i];
	}
	for (unsigned i = 0; i < b->nextra; i++) {
		argv[n++] = "-o";
		argv[n++] = b->extra[i];
	}
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

int tb_start_sluiced(struct tb *b)
{
	b->sluiced = spawn(b, getenv("SLUICED"), "sluiced");
	return b->sluiced > 0 ? 0 : -errno;
}

int tb_start_control(struct tb *b)
{
	b->control = spawn(b, getenv("SLUICE_CONTROL"), "control");
	return b->control > 0 ? 0 : -errno;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

int tb_wait_sluiced(struct tb *b, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 50) {
		struct sl_client *c;
		if (sl_client_create(b->addr, 500, &c) == 0) {
			struct sl_topic_info info[1];
			int n = sl_topic_list(c, info, 1);
			sl_client_destroy(c);
			if (n >= 0)
				return 0;
		}
		sleep_ms(50);
	}
	return -ETIMEDOUT;
}

int tb_wait_ready(struct tb *b, int timeout_ms)
{
	if (b->netns[0])
		return 0; /* the test checks from inside the namespace */
	int rc = tb_wait_sluiced(b, timeout_ms);
	if (rc)
		return rc;
	/* control synced: an admin request is answered by it */
	for (int t = 0; t < timeout_ms; t += 100) {
		struct sl_client *c;
		if (sl_client_create(b->addr, 500, &c) == 0) {
			rc = sl_topic_delete(c, "tb-probe-does-not-exist");
			sl_client_destroy(c);
			if (rc == sl_err_broker(3)) /* UNKNOWN_TOPIC: control answered */
				return 0;
		}
		sleep_ms(100);
	}
	return -ETIMEDOUT;
}

int tb_start(struct tb *b)
{
	int rc = tb_start_sluiced(b);
	if (rc == 0)
		rc = tb_start_control(b);
	if (rc == 0)
		rc = tb_wait_ready(b, 20000);
	return rc;
}

int tb_stop_pid(pid_t *pid, int sig)
{
	int status = -1;
	if (*pid <= 0)
		return -1;
	kill(*pid, sig);
	for (int t = 0; t < 10000; t += 10) {
		pid_t r = waitpid(*pid, &status, WNOHANG);
		if (r == *pid) {
			*pid = -1;
			return status;
		}
		sleep_ms(10);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &status, 0);
	*pid = -1;
	return status;
}

void tb_destroy(struct tb *b, int keep)
{
	tb_stop_pid(&b->control, SIGTERM);
	tb_stop_pid(&b->sluiced, SIGTERM);
	if (!keep && b->dir[0])
		tb_sh("rm -rf '%s'", b->dir);
	else if (b->dir[0])
		printf("kept %s\n", b->dir);
}

int tb_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tb_enter_netns(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "/var/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return rc;
}
