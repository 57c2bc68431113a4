/*
 * kafka_broker_run [--timeout SECONDS] [--name NAME] [--set KEY=VALUE]...
 *                  [--cluster N] -- COMMAND [ARGS...]
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
 * With --cluster N (1 to 5; or $SLUICE_TEST_CLUSTER when --cluster is not
 * given) the broker is a cluster of N brokers on loopback, every one a
 * controller voter (docs/cluster.md), each with a data dir and ports of its
 * own; ready means every broker is ready and each lists all N in Metadata
 * (registered and unfenced).  KAFKA_BOOTSTRAP then lists every broker's
 * Kafka listener, SLUICE_BROKER and SLUICE_DATA_DIR are broker 1's,
 * SLUICE_DATA_DIRS lists every broker's data dir (comma separated, broker
 * 1 first), and KAFKA_CLUSTER_SIZE says N (1 without --cluster).  A restart (SIGUSR1)
 * stops every broker then starts them all; SIGHUP kills every process of
 * the cluster at once (a power cut of every node) and starts them again.
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
		"[--set KEY=VALUE]... [--cluster N] -- COMMAND [ARGS...]\n");
}

#define MAX_NODES 5

static struct kb nodes[MAX_NODES];
static unsigned n_nodes = 1;
/* each node's own -o settings in a cluster (node_id, voters, ...) */
static char node_sets[MAX_NODES][5][512];
static int raft_lock[MAX_NODES] = { -1, -1, -1, -1, -1 };

static volatile sig_atomic_t restart_asked; /* 1: stop; 2: kill */
static volatile sig_atomic_t stop_asked;    /* SIGTERM or SIGINT came */

static void on_restart(int sig)
{
	restart_asked = sig == SIGHUP ? 2 : 1;
}

/* meson test's timeout (SIGTERM) or ^C: the command and every broker are
 * stopped as at the end, never left running */
static void on_stop(int sig)
{
	(void)sig;
	stop_asked = 1;
}

static void print_logs(void)
{
	for (unsigned j = 0; j < n_nodes; j++)
		kb_print_logs(&nodes[j], 30);
}

/* Start every broker, then wait until each is ready and, in a cluster,
 * lists every broker.  0, or nonzero with the reason printed. */
static int start_all(int timeout_ms)
{
	uint64_t deadline = tb_now_ms() + (uint64_t)timeout_ms;
	for (unsigned j = 0; j < n_nodes; j++)
		if (kb_launch(&nodes[j]))
			return -1;
	for (unsigned j = 0; j < n_nodes; j++) {
		uint64_t now = tb_now_ms();
		int left = now < deadline ? (int)(deadline - now) : 1000;
		if (kb_ready(&nodes[j], left < 5000 ? 5000 : left))
			return -1;
	}
	if (n_nodes == 1)
		return 0;
	for (unsigned j = 0; j < n_nodes; j++) {
		uint64_t now = tb_now_ms();
		int left = now < deadline ? (int)(deadline - now) : 1000;
		if (kb_wait_brokers(&nodes[j], (int)n_nodes, left < 5000 ? 5000 : left))
			return -1;
	}
	return 0;
}

/* Every broker stopped (SIGTERM, checked), 0 when each exited cleanly. */
static int stop_all(void)
{
	int rc = 0;
	for (unsigned j = 0; j < n_nodes; j++)
		rc |= kb_stop(&nodes[j]);
	return rc;
}

/* The broker restarted when COMMAND asks (SIGUSR1: stopped; SIGHUP:
 * killed), COMMAND told (SIGUSR2). */
static void restart_if_asked(pid_t pid)
{
	int how = restart_asked;
	if (!how)
		return;
	restart_asked = 0;
	printf("kafka_broker_run: %s the broker%s\n",
	       how == 2 ? "killing and restarting" : "restarting",
	       n_nodes > 1 ? "s" : "");
	fflush(stdout);
	int rc = 0;
	if (how == 2) {
		/* the test's own kill: the wait status is not checked; every
		 * process at once, before any is reaped */
		for (unsigned j = 0; j < n_nodes; j++) {
			if (nodes[j].tb.control > 0)
				kill(nodes[j].tb.control, SIGKILL);
			if (nodes[j].tb.sluiced > 0)
				kill(nodes[j].tb.sluiced, SIGKILL);
		}
		for (unsigned j = 0; j < n_nodes; j++) {
			tb_stop_pid(&nodes[j].tb.control, SIGKILL);
			tb_stop_pid(&nodes[j].tb.sluiced, SIGKILL);
		}
	} else {
		rc = stop_all();
	}
	if (rc || start_all(30000))
		fprintf(stderr, "kafka_broker_run: the restart failed\n");
	kill(pid, SIGUSR2);
}

/* Wait for pid up to timeout_ms; 0 and *status when it exited. */
static int wait_for(pid_t pid, int timeout_ms, int *status, int restarts)
{
	for (int t = 0; t < timeout_ms; t += 20) {
		if (restarts && stop_asked)
			return -EINTR;
		if (restarts)
			restart_if_asked(pid);
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

/* Every broker of a cluster gets its node id, the voters (one raft port
 * each, reserved here), the heartbeat interval of
 * tests/cluster/cluster_lib.py, and __consumer_offsets smaller than its
 * default (these brokers share two CPUs with their clients). */
static int prepare_cluster(void)
{
	char voters[256] = "";
	size_t len = 0;
	for (unsigned j = 0; j < n_nodes; j++) {
		int port = tb_reserve_port(&raft_lock[j]);
		if (port < 0)
			return port;
		len += (size_t)snprintf(voters + len, sizeof(voters) - len, "%s%u@127.0.0.1:%d",
					j ? "," : "", j + 1, port);
		if (len >= sizeof(voters))
			return -ENAMETOOLONG;
	}
	for (unsigned j = 0; j < n_nodes; j++) {
		struct tb *t = &nodes[j].tb;
		snprintf(node_sets[j][0], sizeof(node_sets[j][0]), "node_id=%u", j + 1);
		snprintf(node_sets[j][1], sizeof(node_sets[j][1]),
			 "controller_quorum_voters=%s", voters);
		snprintf(node_sets[j][2], sizeof(node_sets[j][2]),
			 "broker_heartbeat_interval_ms=300");
		snprintf(node_sets[j][3], sizeof(node_sets[j][3]),
			 "offsets_topic_partitions=6");
		snprintf(node_sets[j][4], sizeof(node_sets[j][4]),
			 "transaction_state_log_num_partitions=4");
		for (unsigned i = 0; i < 5; i++)
			t->extra[t->nextra++] = node_sets[j][i];
	}
	return 0;
}

int main(int argc, char **argv)
{
	int timeout_s = 120, i = 1;
	const char *name = "run";
	const char *sets[4];
	unsigned nsets = 0;
	const char *env_n = getenv("SLUICE_TEST_CLUSTER");
	if (env_n && *env_n)
		n_nodes = (unsigned)atoi(env_n);
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout_s = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
			name = argv[++i];
		} else if (!strcmp(argv[i], "--cluster") && i + 1 < argc) {
			n_nodes = (unsigned)atoi(argv[++i]);
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
	if (i >= argc || timeout_s <= 0 || timeout_s > 3600 || n_nodes < 1 ||
	    n_nodes > MAX_NODES) {
		usage();
		return 2;
	}
	if (tb_available())
		return 1; /* the reason is printed; a client test never skips */
	/* from here on a SIGTERM (meson's timeout) or SIGINT ends in the
	 * cleanup below, once the brokers are started */
	struct sigaction st = { .sa_handler = on_stop };
	sigemptyset(&st.sa_mask);
	sigaction(SIGTERM, &st, NULL);
	sigaction(SIGINT, &st, NULL);

	int rc = 0;
	for (unsigned j = 0; j < n_nodes && rc == 0; j++) {
		char nm[64];
		snprintf(nm, sizeof(nm), n_nodes > 1 ? "%s-%u" : "%s", name, j + 1);
		rc = kb_init(&nodes[j], nm);
	}
	if (rc == 0 && n_nodes > 1)
		rc = prepare_cluster();
	if (rc) {
		fprintf(stderr, "kafka_broker_run: cannot prepare a broker: %s\n",
			strerror(-rc));
		for (unsigned j = 0; j < n_nodes; j++)
			kb_destroy(&nodes[j], 0);
		return 1;
	}
	for (unsigned j = 0; j < n_nodes; j++) {
		struct tb *t = &nodes[j].tb;
		for (unsigned s = 0; s < nsets &&
				     t->nextra < sizeof(t->extra) / sizeof(t->extra[0]);
		     s++)
			t->extra[t->nextra++] = sets[s];
	}
	if (start_all(n_nodes > 1 ? 40000 : 20000)) {
		fprintf(stderr, "kafka_broker_run: the broker%s did not get ready; "
			"'%s' was not run\n", n_nodes > 1 ? "s" : "", argv[i]);
		if (n_nodes > 1)
			print_logs();
		for (unsigned j = 0; j < n_nodes; j++)
			kb_destroy(&nodes[j], 0);
		return 1;
	}
	char boot[MAX_NODES * 64] = "";
	size_t blen = 0;
	for (unsigned j = 0; j < n_nodes; j++)
		blen += (size_t)snprintf(boot + blen, sizeof(boot) - blen, "%s%s",
					 j ? "," : "", nodes[j].kafka_addr);
	char size[16];
	snprintf(size, sizeof(size), "%u", n_nodes);
	setenv("KAFKA_BOOTSTRAP", boot, 1);
	setenv("KAFKA_CLUSTER_SIZE", size, 1);
	setenv("SLUICE_BROKER", nodes[0].tb.addr, 1);
	setenv("SLUICE_DATA_DIR", nodes[0].tb.dir, 1);
	char dirs[MAX_NODES * (PATH_MAX + 1)] = "";
	size_t dlen = 0;
	for (unsigned j = 0; j < n_nodes; j++)
		dlen += (size_t)snprintf(dirs + dlen, sizeof(dirs) - dlen,
					 "%s%s", j ? "," : "", nodes[j].tb.dir);
	setenv("SLUICE_DATA_DIRS", dirs, 1);
	char self[24];
	snprintf(self, sizeof(self), "%d", (int)getpid());
	setenv("KAFKA_BROKER_PID", self, 1);
	struct sigaction sa = { .sa_handler = on_restart };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	printf("kafka_broker_run: broker%s up: kafka %s, native %s, data %s\n",
	       n_nodes > 1 ? "s" : "", boot, nodes[0].tb.addr, nodes[0].tb.dir);
	fflush(stdout);

	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		for (unsigned j = 0; j < n_nodes; j++)
			kb_destroy(&nodes[j], 0);
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
	int wrc = wait_for(pid, timeout_s * 1000, &status, 1);
	if (wrc == 0) {
		ret = WIFEXITED(status) ? WEXITSTATUS(status) :
					  128 + WTERMSIG(status);
	} else {
		if (wrc == -EINTR)
			fprintf(stderr, "kafka_broker_run: stopped by a signal: "
				"stopping '%s' and the broker%s\n", argv[i],
				n_nodes > 1 ? "s" : "");
		else
			fprintf(stderr, "kafka_broker_run: '%s' still running "
				"after %d s: stopping it\n", argv[i], timeout_s);
		kill(-pid, SIGTERM);
		if (wait_for(pid, 5000, &status, 0)) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		ret = 124;
	}
	/* Whatever the command left in its group (a client's child) goes
	 * too; the group is the command's own, never ours. */
	kill(-pid, SIGKILL);
	if (ret != 0)
		print_logs();
	/* a cluster stops its brokers together: one stopped while the others
	 * wait would see its controlled shutdown refused by a quorum gone */
	int bad = stop_all();
	for (unsigned j = 0; j < n_nodes; j++)
		bad |= kb_destroy(&nodes[j], 0);
	for (unsigned j = 0; j < n_nodes; j++)
		if (raft_lock[j] >= 0)
			close(raft_lock[j]);
	if (bad && ret == 0) {
		fprintf(stderr, "kafka_broker_run: '%s' passed but a broker "
			"process failed at exit (above)\n", argv[i]);
		ret = 1;
	}
	return ret;
}
