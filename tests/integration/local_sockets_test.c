/*
 * The local sockets of sluiced (proto/local_socket.h) through the whole
 * broker (tests/lib/broker.h: sluiced and sluice-control as processes):
 *
 *   1. the control socket and the telemetry socket are sockets of mode
 *      0600 in <data_dir>/run, which is mode 0700;
 *   2. a forked child that becomes nobody cannot connect to either (the
 *      kernel's permission checks: EACCES);
 *   3. a forked child that becomes nobody but keeps CAP_DAC_OVERRIDE (so
 *      the file modes do not stop it) connects, and sluiced closes both
 *      connections before sending anything: the peer check; each refusal
 *      is counted once in /sluice/info (control_peers_refused,
 *      telemetry_peers_refused);
 *   4. meanwhile sluice-control stays connected (control_synced) and a
 *      topic can still be created through it.
 *
 * Needs root (setuid to nobody): exit 77 otherwise.  Every wait is
 * bounded; exit 0 passed, 1 failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "sluice/sluice.h"

#define NOBODY 65534
#define REPLY_MAX 65536

static struct tb b;
static int failed;
static char run_dir[PATH_MAX], ctl_path[PATH_MAX], tel_path[PATH_MAX];

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

/* Connect a SOCK_SEQPACKET socket to path: the fd, or -errno. */
static int unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct timeval tv = { 5, 0 };
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int tel_ask(const char *cmd, char *out, size_t cap)
{
	int fd = unix_connect(tel_path);
	int rc = -EIO;
	if (fd < 0)
		return fd;
	if (recv(fd, out, cap - 1, 0) > 0 &&
	    send(fd, cmd, strlen(cmd), 0) == (ssize_t)strlen(cmd)) {
		ssize_t n = recv(fd, out, cap - 1, 0);
		if (n > 0) {
			out[n] = 0;
			rc = 0;
		}
	}
	close(fd);
	return rc;
}

/* /sluice/info's key, or -1. */
static int64_t info(const char *key)
{
	static char buf[REPLY_MAX];
	char pat[96];
	if (tel_ask("/sluice/info", buf, sizeof(buf)))
		return -1;
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *k = strstr(buf, pat);
	return k ? strtoll(k + strlen(pat), NULL, 10) : -1;
}

/* Wait (up to 5 s) for /sluice/info's key to be want. */
static int64_t info_wait(const char *key, int64_t want)
{
	int64_t v = -1;
	for (uint64_t end = tb_now_ms() + 5000; tb_now_ms() < end; usleep(50000))
		if ((v = info(key)) == want)
			break;
	return v;
}

/* Become nobody; with keep_dac, keep CAP_DAC_OVERRIDE in the effective
 * set (file modes no longer stop us, the peer check must).  0 or -1. */
static int become_nobody(int keep_dac)
{
	if (keep_dac && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -1;
	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return -1;
	if (getuid() != NOBODY || geteuid() != NOBODY)
		return -1;
	if (!keep_dac)
		return 0;
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = 1u << CAP_DAC_OVERRIDE;
	return (int)syscall(SYS_capset, &h, d);
}

/*
 * In a child that became nobody: connect to the control and telemetry
 * sockets.  Its exit status: 0 when what happened is what want says
 * (EACCES on connect, or: connected and closed by sluiced with nothing
 * sent), else a code naming what went wrong.
 */
enum { WANT_EACCES, WANT_CLOSED };

static int child_probe(const char *path, int want)
{
	char buf[256];
	int fd = unix_connect(path);
	if (want == WANT_EACCES)
		return fd == -EACCES ? 0 : 10;
	if (fd < 0)
		return 20; /* not even connected: the test proves nothing */
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	return n == 0 ? 0 : n > 0 ? 30 : 40; /* 30: answered, 40: timeout */
}

static int run_child(int keep_dac, int want, const char *what)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (become_nobody(keep_dac))
			_exit(2);
		int rc = child_probe(ctl_path, want);
		if (rc == 0)
			rc = child_probe(tel_path, want);
		else
			rc += 1; /* control */
		_exit(rc);
	}
	int st;
	for (uint64_t end = tb_now_ms() + 20000; tb_now_ms() < end; usleep(10000)) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				return 0;
			fprintf(stderr, "%s: child status %d (2: setuid, 1x: "
				"connect not EACCES, 2x: not connected, 3x: "
				"answered, 4x: not closed; x = 1: control "
				"socket, 0: telemetry socket)\n", what,
				WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			return -1;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fprintf(stderr, "%s: child did not finish\n", what);
	return -1;
}

static int mode_is(const char *path, mode_t type, mode_t mode)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "stat %s: %s\n", path, strerror(errno));
		return 0;
	}
	if ((st.st_mode & S_IFMT) != type || (st.st_mode & 07777) != mode) {
		fprintf(stderr, "%s: mode %o, want %o\n", path,
			(unsigned)(st.st_mode & 07777), (unsigned)mode);
		return 0;
	}
	return 1;
}

int main(void)
{
	struct sl_client *c = NULL;
	int rc = tb_available();
	if (rc)
		return rc;
	if (geteuid() != 0) {
		printf("SKIP: needs root (a child sets its uid to nobody)\n");
		return 77;
	}
	CHECK(tb_init(&b, "local_sockets") == 0, "tb_init");
	snprintf(run_dir, sizeof(run_dir), "%.4000s/run", b.dir);
	snprintf(ctl_path, sizeof(ctl_path), "%.4000s/run/sluiced.ctl", b.dir);
	snprintf(tel_path, sizeof(tel_path), "%.4000s/run/telemetry.sock", b.dir);
	/* the harness's data dir must let nobody reach run/ (so that only
	 * run/'s own mode stops it) */
	CHECK(chmod(b.dir, 0755) == 0, "chmod %s", b.dir);
	CHECK(tb_start(&b) == 0, "broker did not start (logs in %s)", b.dir);

	/* 1 */
	CHECK(mode_is(run_dir, S_IFDIR, 0700), "run directory");
	CHECK(mode_is(ctl_path, S_IFSOCK, 0600), "control socket");
	CHECK(mode_is(tel_path, S_IFSOCK, 0600), "telemetry socket");
	CHECK(info_wait("control_synced", 1) == 1, "control not synced");
	int64_t ctl0 = info("control_peers_refused");
	int64_t tel0 = info("telemetry_peers_refused");
	CHECK(ctl0 == 0 && tel0 == 0, "refusals before any: %" PRId64
	      " %" PRId64, ctl0, tel0);

	/* 2 */
	CHECK(run_child(0, WANT_EACCES, "nobody") == 0,
	      "nobody reached a socket");
	CHECK(info("control_peers_refused") == 0 &&
	      info("telemetry_peers_refused") == 0,
	      "a connection the kernel refused was counted");

	/* 3 */
	CHECK(run_child(1, WANT_CLOSED, "nobody with CAP_DAC_OVERRIDE") == 0,
	      "the peer check let nobody in");
	CHECK(info_wait("control_peers_refused", 1) == 1,
	      "control_peers_refused is %" PRId64 ", want 1",
	      info("control_peers_refused"));
	CHECK(info_wait("telemetry_peers_refused", 1) == 1,
	      "telemetry_peers_refused is %" PRId64 ", want 1",
	      info("telemetry_peers_refused"));

	/* 4 */
	CHECK(info("control_synced") == 1, "control lost its connection");
	CHECK(sl_client_create(b.addr, 5000, &c) == 0, "connect");
	long id = sl_topic_create(c, "after", NULL);
	CHECK(id >= 0, "create after the refusals: %s",
	      sl_error_message((int)id));
	printf("local_sockets: modes 0600/0700, nobody refused by the kernel "
	       "and by the peer check on both sockets, counted once each\n");
out:
	if (c)
		sl_client_destroy(c);
	if (tb_destroy(&b, failed) < 0)
		failed = 1;
	return failed;
}
