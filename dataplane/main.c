/*
 * sluiced: the dataplane process.
 *
 *   sluiced [-c FILE] [-o key=value ...] [--foreground]
 *
 * Start-up: config (control/config.h), run directory, producer id block,
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
#include "dataplane/partition_dir.h"
#include "storage/disk.h"

struct dp *dp_g;

const char *const dp_bad_names[DP_BAD_COUNT] = {
#define DP_BAD_NAME(n, s) s,
	DP_BAD_REASONS(DP_BAD_NAME)
#undef DP_BAD_NAME
};
_Static_assert(sizeof(dp_bad_names) / sizeof(dp_bad_names[0]) ==
		       DP_BAD_COUNT, "one name per reason");

uint64_t dp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void dp_wake_fd(int fd)
{
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, a wake-up is pending */
	}
}

void dp_complete(struct dp *dp, struct dp_msg *m)
{
	void *obj = m;
	/* bounded: the completion ring is larger than every partition ring
	 * can hold in flight; spin only if it is momentarily full */
	for (unsigned i = 0; dp_ring_enqueue_burst(dp->completions, &obj, 1) != 1;
	     i++) {
		if (i > 100000) {
			dp_msg_free(m); /* the net core is gone (shutdown) */
			return;
		}
		usleep(10);
	}
	/* seq_cst: pairs with the net core's seq_cst store of net_sleeping
	 * before it re-checks the ring */
	if (atomic_load(&dp->net_sleeping))
		dp_wake_fd(dp->net_wake_fd);
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: sluiced [-c FILE] [-o key=value ...] [--foreground]\n"
		   "  -c FILE        configuration file (control/config.h keys)\n"
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

int main(int argc, char **argv)
{
	static struct dp dp_storage;
	struct dp *dp = &dp_storage;
	dp_g = dp;
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
	/* the net core's completion ring exists before any core runs */
	rc = dp_ring_create(1u << 16, &dp->completions);
	if (rc)
		return 1;
	for (uint32_t i = 0; i < dp->nstore; i++) {
		rc = dp_store_start(dp, i);
		if (rc) {
			dp_log("storage core %u: %s", i, sl_strerror(rc));
			return 1;
		}
	}
	dp_topics_load_cache(dp);
	rc = dp_net_start(dp);
	if (rc) {
		dp_log("net core: %s", sl_strerror(rc));
		atomic_store(&dp->stop, 1);
		for (uint32_t i = 0; i < dp->nstore; i++)
			dp_store_join(dp, i);
		return 1;
	}
	dp_stats_register(dp);
	if (!strcmp(dp->cfg.driver, "dpdk")) {
		/* DPDK's own telemetry socket serves /sluice/... too */
		int n = drv_dpdk_register_telemetry();
		if (n < 0)
			dp_log("telemetry: /sluice commands not on DPDK's "
			       "telemetry socket: %s", strerror(-n));
		else
			dp_log("telemetry: %d /sluice command(s) also on DPDK's "
			       "telemetry socket", n);
	}
	dp_log("ready: driver %s, udp %s:%u, tcp %s:%u, %u storage core(s), "
	       "data %s", dp->drv_ops->name, dp->cfg.listen_host, dp->udp_port,
	       dp->cfg.listen_host, dp->tcp_port, dp->nstore, dp->cfg.data_dir);
	rc = dp_control_run(dp, sfd);
	atomic_store(&dp->stop, 1);
	dp_net_join(dp);
	for (uint32_t i = 0; i < dp->nstore; i++)
		dp_store_join(dp, i);
	dp_log("stopped");
	return rc ? 1 : 0;
}
