/*
 * The test broker harness (broker.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <sys/time.h>
#include <sys/un.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

/* The ports tb_init may take: [*lo, *hi), below the ephemeral range. */
static void port_range(int *lo, int *hi)
{
	int low = 32768, high = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%d %d", &low, &high) != 2)
			low = 32768;
		fclose(f);
	}
	*hi = low;
	*lo = low - 8192 < 1024 ? 1024 : low - 8192;
	if (*hi - *lo < 512) { /* an odd ephemeral range: a fixed one */
		*lo = 20000;
		*hi = 28000;
	}
}

/* Can a socket of this type bind 127.0.0.1:port now?  TCP with
 * SO_REUSEADDR as sluiced binds (a TIME_WAIT left by an earlier broker
 * is no obstacle, a listener is). */
static int bindable(int type, int port)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return 0;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

#define TB_PORT_DIR "/tmp/sluice-test-ports"

/*
 * Reserve a port (broker.h, "Ports"): the flock'ed fd of its lock file in
 * *lock_fd, the port returned; -EADDRINUSE when none is free after trying
 * every port of the range once.
 */
int tb_reserve_port(int *lock_fd)
{
	int lo, hi;
	port_range(&lo, &hi);
	if (mkdir(TB_PORT_DIR, 01777) == 0)
		chmod(TB_PORT_DIR, 01777); /* whoever runs tests next */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int n = hi - lo;
	int start = (int)(((unsigned)getpid() * 7919u + (unsigned)ts.tv_nsec) %
			  (unsigned)n);
	for (int i = 0; i < n; i++) {
		int port = lo + (start + i) % n;
		if (port == 9092 || port == 9093)
			continue; /* a real Kafka's */
		char path[64];
		snprintf(path, sizeof(path), TB_PORT_DIR "/%d", port);
		int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 &&
		    bindable(SOCK_STREAM, port) && bindable(SOCK_DGRAM, port)) {
			*lock_fd = fd;
			return port;
		}
		close(fd); /* drops our lock, if we got it */
	}
	return -EADDRINUSE;
}

static void release_ports(struct tb *b)
{
	for (int i = 0; i < 2; i++) {
		if (b->port_lock[i] >= 0)
			close(b->port_lock[i]);
		b->port_lock[i] = -1;
	}
}

int tb_init(struct tb *b, const char *name)
{
	const char *base = getenv("SLUICE_TEST_TMPDIR");
	memset(b, 0, sizeof(*b));
	b->sluiced = b->control = -1;
	b->port_lock[0] = b->port_lock[1] = -1;
	snprintf(b->dir, sizeof(b->dir), "%s/tb-%s-XXXXXX",
		 base ? base : "/var/tmp", name);
	if (!mkdtemp(b->dir))
		return -errno;
	snprintf(b->host, sizeof(b->host), "127.0.0.1");
	b->port = tb_reserve_port(&b->port_lock[0]);
	b->kport = tb_reserve_port(&b->port_lock[1]);
	if (b->port < 0 || b->kport < 0) {
		int rc = b->port < 0 ? b->port : b->kport;
		release_ports(b);
		return rc;
	}
	return 0;
}

static void set_addr(struct tb *b)
{
	snprintf(b->addr, sizeof(b->addr), "%s:%d", b->host, b->port);
}

static pid_t spawn(struct tb *b, const char *exe, const char *what)
{
	char o[7][PATH_MAX + 32];
	/* the log of the latest start of each, for tb_stop's report */
	char *log = !strcmp(what, "sluiced") ? b->sluiced_log : b->control_log;
	const char *argv[48];
	unsigned n = 0;
	set_addr(b);
	if (snprintf(log, PATH_MAX, "%s/%s.%u.log", b->dir, what,
		     b->restarts++) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
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

/* tb_stop_pid, and *killed set when SIGKILL had to follow sig. */
static int stop_pid(pid_t *pid, int sig, int *killed)
{
	int status = -1;
	*killed = 0;
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
	*killed = 1;
	return status;
}

int tb_stop_pid(pid_t *pid, int sig)
{
	int killed;
	return stop_pid(pid, sig, &killed);
}

/* Stop one process with SIGTERM and check that it exited with status 0;
 * else say how it ended and show its log.  0, 1 when it failed. */
static int stop_checked(struct tb *b, pid_t *pid, const char *what,
			const char *log)
{
	if (*pid <= 0)
		return 0;
	pid_t was = *pid;
	int killed, st = stop_pid(pid, SIGTERM, &killed);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	char how[128];
	if (killed)
		snprintf(how, sizeof(how), "did not exit within 10 s of SIGTERM "
			 "(killed)");
	else if (WIFEXITED(st))
		snprintf(how, sizeof(how), "exited with status %d%s",
			 WEXITSTATUS(st), WEXITSTATUS(st) == 23 ?
			 " (LeakSanitizer's)" : "");
	else if (WIFSIGNALED(st))
		snprintf(how, sizeof(how), "was killed by signal %d (%s)",
			 WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(how, sizeof(how), "ended with wait status %#x", st);
	fflush(stdout);
	fprintf(stderr, "tb: %s (pid %d) %s; its log: %s\n"
		"---- last 40 lines of %s\n", what, (int)was, how, log, log);
	fflush(stderr);
	tb_sh("tail -n 40 '%s' >&2", log);
	fprintf(stderr, "----\n");
	b->bad_exits++;
	return 1;
}

int tb_stop(struct tb *b)
{
	int bad = stop_checked(b, &b->control, "sluice-control", b->control_log);
	bad += stop_checked(b, &b->sluiced, "sluiced", b->sluiced_log);
	return bad ? -1 : 0;
}

int tb_destroy(struct tb *b, int keep)
{
	if (!b->dir[0])
		return 0; /* never initialised (or zeroed after a destroy) */
	tb_stop(b);
	release_ports(b);
	if (b->bad_exits && b->dir[0]) {
		fprintf(stderr, "tb: kept %s (the broker's logs): %u process(es) "
			"failed\n", b->dir, b->bad_exits);
		keep = 1;
	} else if (keep && b->dir[0]) {
		printf("kept %s\n", b->dir);
	}
	if (!keep && b->dir[0])
		tb_sh("rm -rf '%s'", b->dir);
	return b->bad_exits ? -1 : 0;
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

uint64_t tb_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int tb_tel_ask(const char *path, const char *cmd, char *out, size_t cap)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct timeval tv = { 2, 0 };
	int rc = -EIO;
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    recv(fd, out, cap - 1, 0) > 0 && /* the greeting */
	    send(fd, cmd, strlen(cmd), 0) == (ssize_t)strlen(cmd)) {
		ssize_t n = recv(fd, out, cap - 1, 0);
		if (n > 0) {
			out[n] = 0;
			rc = 0;
		}
	} else if (errno) {
		rc = -errno;
	}
	close(fd);
	return rc;
}

int64_t tb_json_i64(const char *json, const char *section, const char *key)
{
	char pat[160];
	snprintf(pat, sizeof(pat), "\"%s\":{", section);
	const char *s = strstr(json, pat);
	if (!s)
		return -1;
	const char *end = strchr(s + strlen(pat), '}');
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *k = strstr(s, pat);
	if (!k || !end || k > end)
		return -1;
	return strtoll(k + strlen(pat), NULL, 10);
}

int tb_udp_open(const struct tb *b)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)b->port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { 3, 0 };
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}
