/*
 * kafka_broker_run [--timeout SECONDS] [--name NAME] [--set KEY=VALUE]...
 *                  -- COMMAND [ARGS...]
 *
 * Runs COMMAND against a fresh broker of its own (kbroker.h: sluiced and
 * sluice-control on free loopback ports, Kafka listener included, temp
 * data dir; each --set, at most 4, is a configuration setting given to
 * both), then stops the broker by pid and removes its data.  COMMAND
 * gets in its environment:
 *   KAFKA_BOOTSTRAP   127.0.0.1:<kafka_port>, the Kafka bootstrap server
 *   SLUICE_BROKER     127.0.0.1:<port>, the native protocol (TCP and UDP)
 *   SLUICE_DATA_DIR   the broker's data dir
 *   KAFKA_BROKER_PID  this program's pid: COMMAND sends it SIGUSR1 to have
 *                     the broker restarted (both processes stopped and
 *                     started again on the same ports and data); SIGUSR2
 *                     comes back to COMMAND when the broker is ready again
 *                     (or failed to start: the next request then fails);
 *                     SIGHUP instead has both processes killed with
 *                     SIGKILL (a crash: nothing flushed, nothing closed)
 *                     and started again, with SIGUSR2 back likewise
 * COMMAND runs in its own process group; after --timeout seconds (default
 * 120) the group gets SIGTERM, then SIGKILL 5 s later.  Exit status:
 * COMMAND's (128 + signal when killed), 1 when the broker did not get
 * ready (the reason and the end of the broker's logs on stderr).  On a
 * failure the end of the broker's logs is printed too; SLUICE_KEEP=1 keeps
 * the data dir.  A broker process that does not exit with status 0 when
 * stopped (a sanitizer report, a crash) makes the exit status 1 when
 * COMMAND passed, and keeps the data dir with the logs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kbroker.h"

static void usage(void)
{
	fprintf(stderr, "usage: kafka_broker_run [--timeout SECONDS] [--name NAME] "
		"[--set KEY=VALUE]... -- COMMAND [ARGS...]\n");
}

static volatile sig_atomic_t restart_asked; /* 1: stop; 2: kill */

static void on_restart(int sig)
{
	restart_asked = sig == SIGHUP ? 2 : 1;
}

/* The broker restarted when COMMAND asks (SIGUSR1: stopped; SIGHUP:
 * killed), COMMAND told (SIGUSR2). */
static void restart_if_asked(struct kb *k, pid_t pid)
{
	int how = restart_asked;
	if (!how)
		return;
	restart_asked = 0;
	printf("kafka_broker_run: %s the broker\n",
	       how == 2 ? "killing and restarting" : "restarting");
	fflush(stdout);
	int rc = 0;
	if (how == 2) {
		/* the test's own kill: the wait status is not checked */
		tb_stop_pid(&k->tb.control, SIGKILL);
		tb_stop_pid(&k->tb.sluiced, SIGKILL);
	} else {
		rc = kb_stop(k);
	}
	if (rc || kb_start(k, 20000))
		fprintf(stderr, "kafka_broker_run: the restart failed\n");
	kill(pid, SIGUSR2);
}

/* Wait for pid up to timeout_ms; 0 and *status when it exited. */
static int wait_for(pid_t pid, int timeout_ms, int *status, struct kb *k)
{
	for (int t = 0; t < timeout_ms; t += 20) {
		if (k)
			restart_if_asked(k, pid);
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

int main(int argc, char **argv)
{
	int timeout_s = 120, i = 1;
	const char *name = "run";
	const char *sets[4];
	unsigned nsets = 0;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout_s = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
			name = argv[++i];
		} else if (!strcmp(argv[i], "--set") && i + 1 < argc &&
			   nsets < sizeof(sets) / sizeof(sets[0]) &&
			   strchr(argv[i + 1], '=')) {
			sets[nsets++] = argv[++i];
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			usage();
			return 2;
		}
	}
	if (i >= argc || timeout_s <= 0 || timeout_s > 3600) {
		usage();
		return 2;
	}
	if (tb_available())
		return 1; /* the reason is printed; a client test never skips */

	struct kb k;
	int rc = kb_init(&k, name);
	if (rc) {
		fprintf(stderr, "kafka_broker_run: cannot prepare a broker: %s\n",
			strerror(-rc));
		return 1;
	}
	for (unsigned j = 0; j < nsets &&
			     k.tb.nextra < sizeof(k.tb.extra) / sizeof(k.tb.extra[0]);
	     j++)
		k.tb.extra[k.tb.nextra++] = sets[j];
	rc = kb_start(&k, 20000);
	if (rc) {
		fprintf(stderr, "kafka_broker_run: the broker did not get ready; "
			"'%s' was not run\n", argv[i]);
		kb_destroy(&k, 0);
		return 1;
	}
	char dir[sizeof(k.tb.dir)];
	snprintf(dir, sizeof(dir), "%s", k.tb.dir);
	setenv("KAFKA_BOOTSTRAP", k.kafka_addr, 1);
	setenv("SLUICE_BROKER", k.tb.addr, 1);
	setenv("SLUICE_DATA_DIR", dir, 1);
	char self[24];
	snprintf(self, sizeof(self), "%d", (int)getpid());
	setenv("KAFKA_BROKER_PID", self, 1);
	struct sigaction sa = { .sa_handler = on_restart };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	printf("kafka_broker_run: broker up: kafka %s, native %s, data %s\n",
	       k.kafka_addr, k.tb.addr, dir);
	fflush(stdout);

	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		kb_destroy(&k, 0);
		return 1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		execvp(argv[i], argv + i);
		fprintf(stderr, "kafka_broker_run: cannot run '%s': %s\n", argv[i],
			strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	int status = 0, ret;
	if (wait_for(pid, timeout_s * 1000, &status, &k) == 0) {
		ret = WIFEXITED(status) ? WEXITSTATUS(status) :
					  128 + WTERMSIG(status);
	} else {
		fprintf(stderr, "kafka_broker_run: '%s' still running after %d s: "
			"stopping it\n", argv[i], timeout_s);
		kill(-pid, SIGTERM);
		if (wait_for(pid, 5000, &status, NULL)) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		ret = 124;
	}
	/* Whatever the command left in its group (a client's child) goes
	 * too; the group is the command's own, never ours. */
	kill(-pid, SIGKILL);
	if (ret != 0)
		kb_print_logs(&k, 30);
	if (kb_destroy(&k, 0) && ret == 0) {
		fprintf(stderr, "kafka_broker_run: '%s' passed but a broker "
			"process failed at exit (above)\n", argv[i]);
		ret = 1;
	}
	return ret;
}
