/*
 * sluiced: the dataplane process.
 *
 *   sluiced [-c FILE] [-o key=value ...] [--foreground]
 *
 * Start-up: config (proto/config.h), run directory, producer id block,
 * storage cores, topics from <data_dir>/run/topics.cache, the net core
 * (driver), telemetry commands, then the main thread serves the control
 * socket until SIGTERM/SIGINT.  Shutdown: stop the net core (no new
 * requests), then the storage cores (each closes its logs with slog_close
 * so the next open is clean).
 *
 * Besides main: the malformed-input reason names, the clock (dp_now_ns)
 * and the completion hand-off (dp_complete).  The log: dataplane/log.h;
 * messages and their pool: dataplane/msg.h; producer ids (INIT_PRODUCER_ID):
 * dataplane/producer_ids.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/dp.h"
#include "dataplane/fetcher.h"
#include "dataplane/net.h"
#include "dataplane/partition_dir.h"
#include "dataplane/telemetry/rte_bridge.h"
#include "storage/disk.h"

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: sluiced [-c FILE] [-o key=value ...] [--foreground]\n"
		   "  -c FILE        configuration file (proto/config.h keys)\n"
		   "  -o key=value   override one key (repeatable)\n"
		   "  --foreground   stay attached (the default; kept for "
		   "scripts)\n");
}

/* Every TCP connection is a descriptor, and every segment of a partition
 * (docs/storage.md): lift the soft limit to the hard one, and warn when
 * that is short of what max_connections alone needs. */
static void raise_fd_limit(uint32_t max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections + 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		dp_log("warning: open files limited to %llu; max_connections = "
		       "%u needs %llu (raise it with ulimit -n or LimitNOFILE=)",
		       (unsigned long long)rl.rlim_cur, max_connections,
		       (unsigned long long)want);
}

/*
 * The net cores: the native protocol on udp_port and tcp_port, Kafka on
 * kafka_port.  The first core binds the ports (0: any); the others bind
 * the same ones (SO_REUSEPORT), so the kernel spreads the load.
 */
static int start_net_cores(struct dp *dp)
{
	uint32_t want = dp->cfg.net_cores ? dp->cfg.net_cores : 1;
	if (want > DP_MAX_NET_CORES)
		want = DP_MAX_NET_CORES;
	if (want > 1 && strcmp(dp->cfg.driver, "socket")) {
		dp_log("net_cores = %u: only the socket driver runs more than "
		       "one net core; starting one", want);
		want = 1;
	}
	struct dp_listen l = {
		.udp_port = dp->cfg.udp_port,
		.udp_fe = &dp_fe_native,
		.ntcp = dp->cfg.kafka_port ? 2 : 1, /* kafka_port 0: off */
		.tcp_port = { dp->cfg.tcp_port, dp->cfg.kafka_port },
		.tcp_fe = { &dp_fe_native, &dp_fe_kafka },
	};
	atomic_store(&dp->udp_frame_max, dp->cfg.udp_max_frame);
	for (uint32_t i = 0; i < want; i++) {
		uint16_t tcp[DP_MAX_LISTENERS];
		int rc = dp_net_start(dp, i, &l, want > 1, &l.udp_port, tcp);
		if (rc) {
			dp_log("net core %u: %s", i, sl_strerror(rc));
			return rc;
		}
		for (uint32_t k = 0; k < l.ntcp; k++)
			l.tcp_port[k] = tcp[k];
		dp->nnet = i + 1;
	}
	dp->udp_port = l.udp_port;
	dp->tcp_port = l.tcp_port[0];
	dp->kafka_port = l.ntcp > 1 ? l.tcp_port[1] : 0;
	return 0;
}

int main(int argc, char **argv)
{
	static struct dp dp_storage;
	struct dp *dp = &dp_storage;
	dp->clock = &sl_clock_system;
	const char *conf = NULL;
	const char *over[64];
	int nover = 0;
	static const struct option lopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "c:o:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 'o':
			if (nover < 64)
				over[nover++] = optarg;
			break;
		case 'f':
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	char err[512];
	if (sl_config_setup(&dp->cfg, conf, (const char *const *)over,
			    (unsigned)nover, err, sizeof(err))) {
		fprintf(stderr, "sluiced: %s\n", err);
		return 2;
	}
	if (dp->cfg.ring_slots & (dp->cfg.ring_slots - 1)) {
		fprintf(stderr, "sluiced: ring_slots must be a power of two\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(dp->cfg.max_connections);
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	/* blocked before any thread starts: only the signalfd sees them */
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	int sfd = signalfd(-1, &ss, SFD_CLOEXEC);

	char run[PATH_MAX];
	snprintf(run, sizeof(run), "%.4000s/run", dp->cfg.data_dir);
	int rc = sd_mkdir_p(&sdisk_posix, run);
	if (rc < 0) {
		dp_log("cannot create %s: %s", run, strerror(-rc));
		return 1;
	}
	{
		char why[PATH_MAX + 128];
		rc = pdir_sweep(&sdisk_posix, dp->cfg.data_dir, why, sizeof(why));
		if (rc < 0)
			dp_log("%s", why); /* not fatal: nothing serves them */
		else if (rc > 0)
			dp_log("finished removing %d deleted partition "
			       "director%s", rc, rc == 1 ? "y" : "ies");
	}
	dp->mem_limit = dp->cfg.memory_budget_bytes -
			dp->cfg.memory_budget_bytes / 4;
	/* the pool can hold what the budget allows: it falls back to the
	 * heap (counted) only when a size class runs out first */
	rc = dp_msgpool_create(&dp->msgpool, sizeof(struct dp_msg),
			       dp->mem_limit);
	if (rc) {
		dp_log("message pool of %llu bytes: %s",
		       (unsigned long long)dp->mem_limit, sl_strerror(rc));
		return 1;
	}
	pthread_mutex_init(&dp->topics_lock, NULL);
	dp->start_ms = (uint64_t)time(NULL) * 1000;
	dp->main_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	rc = dp_ring_create(256, &dp->admin_ring);
	if (!rc)
		rc = dp_cluster_init(dp);
	if (rc || dp->main_wake_fd < 0 || sfd < 0) {
		dp_log("start-up failed: %s", sl_strerror(rc ? rc : -errno));
		return 1;
	}
	rc = dp_producer_ids_init(dp);
	if (rc)
		return 1; /* the reason is logged */
	dp->nstore = dp->cfg.storage_cores;
	if (dp->nstore > DP_MAX_STORAGE_CORES)
		dp->nstore = DP_MAX_STORAGE_CORES;
	for (uint32_t i = 0; i < dp->nstore; i++) {
		rc = dp_store_start(dp, i);
		if (rc) {
			dp_log("storage core %u: %s", i, sl_strerror(rc));
			return 1;
		}
	}
	dp_topics_load_cache(dp);
	rc = start_net_cores(dp);
	if (rc) {
		atomic_store(&dp->stop, 1);
		for (uint32_t i = 0; i < dp->nnet; i++)
			dp_net_join(dp, i);
		for (uint32_t i = 0; i < dp->nstore; i++)
			dp_store_join(dp, i);
		return 1;
	}
	dp_stats_register(dp);
	if (!strcmp(dp->cfg.driver, "dpdk")) {
		/* DPDK's own telemetry socket serves /sluice/... too */
		int n = tel_rte_bridge_register();
		if (n < 0)
			dp_log("telemetry: /sluice commands not on DPDK's "
			       "telemetry socket: %s", strerror(-n));
		else
			dp_log("telemetry: %d /sluice command(s) also on DPDK's "
			       "telemetry socket", n);
	}
	dp_log("ready: driver %s, udp %s:%u, tcp %s:%u, kafka %s:%u, %u net "
	       "core(s), %u storage core(s), data %s", dp->net[0]->drv_ops->name,
	       dp->cfg.listen_host, dp->udp_port, dp->cfg.listen_host,
	       dp->tcp_port, dp->cfg.listen_host, dp->kafka_port, dp->nnet,
	       dp->nstore, dp->cfg.data_dir);
	if (dp_clustered(dp) && (rc = dp_fetcher_start(dp)) != 0) {
		dp_log("follower fetcher: %s", sl_strerror(rc));
		return 1;
	}
	rc = dp_control_run(dp, sfd);
	atomic_store(&dp->stop, 1);
	dp_fetcher_stop(dp);
	for (uint32_t i = 0; i < dp->nnet; i++)
		dp_net_join(dp, i);
	for (uint32_t i = 0; i < dp->nstore; i++)
		dp_store_join(dp, i);
	/* telemetry reads the drivers' counters: stopped before they go */
	dp_stats_stop();
	for (uint32_t i = 0; i < dp->nnet; i++)
		dp_net_destroy(dp, i);
	dp_log("stopped");
	return rc ? 1 : 0;
}
