/*
 * sluice-control: the control plane process.
 *
 *   sluice-control [-c FILE] [-o key=value ...]          run the daemon
 *   sluice-control [-c FILE] [-o ...] topic create NAME [--partitions N]
 *       [--retention-hours H] [--retention-bytes B] [--segment-mb M]
 *       [--durability every_append|group]
 *   sluice-control ... topic delete NAME | topic list | topic describe NAME
 *   sluice-control ... config                             effective config
 *
 * Configuration: -c FILE, else ./sluice.conf when it exists, else the
 * built-in defaults; -o overrides one key (repeatable).  A bad file or
 * value prints one line (file:line: what) and exits 2.
 *
 * The daemon owns the topic metadata (control/metadata.h) and drives
 * sluiced over the control socket (control/ipc.h).  The commands are
 * control/topic_cli.h; the topic commands edit the same store under its
 * lock, whether or not the daemon runs; the daemon notices the file
 * changed (checked every SL_META_POLL_MS) and pushes the difference to
 * sluiced.
 *
 * The daemon also runs the group coordinator (control/groups.h, in
 * <control_dir>/groups) and the transaction coordinator (control/txn.h, in
 * <control_dir>/transactions), which writes its markers through
 * sluiced's Kafka listener (control/markers.h).
 *
 * Event loop: one thread, poll() on a signalfd, the link socket and the
 * marker writer's socket, with a timeout bounded by SL_META_POLL_MS; each
 * wake does bounded work.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "control/admin.h"
#include "control/cluster.h"
#include "control/cluster_image.h"
#include "control/groups.h"
#include "control/gstore.h"
#include "control/route.h"
#include "control/share.h"
#include "control/gtxn.h"
#include "control/ipc.h"
#include "control/log.h"
#include "control/markers.h"
#include "control/metadata.h"
#include "control/tstore.h"
#include "control/txn.h"
#include "proto/config.h"
#include "storage/disk.h"
#include "control/topic_cli.h"

#define ROUTE_CONNS_MAX 64 /* routing's log clients polled */

#define SL_META_POLL_MS 200
#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-control [-c FILE] [-o key=value ...] [COMMAND]\n"
		"  (no command)          run the control plane daemon\n"
		"  topic create NAME [--partitions N] [--retention-hours H]\n"
		"        [--retention-bytes B] [--segment-mb M]\n"
		"        [--durability every_append|group]\n"
		"  topic delete NAME\n"
		"  topic list\n"
		"  topic describe NAME\n"
		"  config                print the effective configuration\n"
		"  -c FILE   config file (default ./sluice.conf if it exists,\n"
		"            else built-in defaults)\n"
		"  -o k=v    override one key (repeatable)\n");
}

/* The daemon's instance lock: one daemon per control_dir. */
static int instance_lock(const struct sl_config *c)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/daemon.pid", c->control_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		sl_log("%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		char pid[32] = "?";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0)
			pid[strcspn(pid, "\n")] = 0;
		sl_log("another sluice-control (pid %s) runs on control_dir "
		       "%s; stop it first", pid, c->control_dir);
		close(fd);
		return -1;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n)
		sl_log("%s: cannot write pid: %s", path, strerror(errno));
	return fd; /* held until exit */
}

/* The consumer group coordinator's view of the topics (consumer_group.h):
 * the store, as last read (the loop re-reads it when it changes). */
static bool consumer_group_topic(void *ctx, const char *name, size_t len,
				 uint32_t *id, int32_t *partitions)
{
	const struct sl_topic *t = sl_meta_find(ctx, name, len);
	if (!t)
		return false;
	*id = t->id;
	*partitions = t->partitions;
	return true;
}

/* The group coordinator's topic names by id (OffsetCommit and OffsetFetch
 * v10): ctx is the metadata store. */
static bool groups_topic_name(void *ctx, uint32_t id, const char **name,
			      size_t *len)
{
	const struct sl_topic *t = sl_meta_find_id(ctx, id);
	if (!t)
		return false;
	*name = t->name;
	*len = t->name_len;
	return true;
}

/* The routing rules' view of the topics, one by one: ctx is the
 * metadata store. */
static bool route_topic_at(void *ctx, uint32_t i, uint32_t *id,
			   const char **name, size_t *len,
			   int32_t *partitions)
{
	const struct sl_meta *m = ctx;
	if (i >= m->count)
		return false;
	const struct sl_topic *t = &m->topics[i];
	*id = t->id;
	*name = t->name;
	*len = t->name_len;
	*partitions = t->partitions;
	return true;
}

/* The share groups' view of the topics by id: ctx is the metadata
 * store. */
static bool share_topic_id(void *ctx, uint32_t id, const char **name,
			   size_t *len, int32_t *partitions)
{
	const struct sl_topic *t = sl_meta_find_id(ctx, id);
	if (!t)
		return false;
	*name = t->name;
	*len = t->name_len;
	*partitions = t->partitions;
	return true;
}

/* The transaction coordinator's view of the topics (AddPartitionsToTxn,
 * TxnOffsetCommit): ctx is the metadata store. */
static bool txn_partition_exists(void *ctx, const char *topic, size_t len,
				 int32_t partition)
{
	const struct sl_topic *t = sl_meta_find(ctx, topic, len);
	return t && partition >= 0 && partition < t->partitions;
}

static void txn_markers_done(void *ctx, uint64_t id, int64_t now_ms)
{
	sl_txn_markers_done(ctx, id, now_ms);
}

static bool txn_offset_pending(void *ctx, const char *group, size_t glen,
			       const char *topic, size_t tlen,
			       int32_t partition)
{
	return sl_txn_offset_pending(ctx, group, glen, topic, tlen, partition);
}

/* A cluster's group coordinator store (gstore.h): the daemon's one, set
 * while it runs, for the metadata hook below. */
static struct sl_gstore *daemon_gstore;
/* And its transaction coordinator store (tstore.h). */
static struct sl_tstore *daemon_tstore;

static void cluster_changed(void *ctx)
{
	struct sl_link *l = ctx;
	sl_link_changed(l, sl_now_ms());
	if (daemon_gstore && l->image)
		sl_gstore_image(daemon_gstore, l->image, sl_now_ms());
	if (daemon_tstore && l->image)
		sl_tstore_image(daemon_tstore, l->image, sl_now_ms());
}

/* In a cluster, where a transaction marker goes (markers.h): the Kafka
 * listener of the partition's leader in the metadata image.  Brokers
 * register their host as an IPv4 address (docs/cluster.md). */
static int marker_route(void *ctx, const char *topic, uint16_t topic_len,
			int32_t partition, uint32_t *addr, uint16_t *port)
{
	const struct sl_ci_image *img = ctx;
	const struct sl_ci_topic *t = sl_ci_topic_find(img, topic, topic_len);
	if (!t)
		return -ENOENT;
	const struct sl_ci_partition *p =
		sl_ci_partition_find(img, t->id, partition);
	if (!p)
		return -ENOENT;
	if (p->leader < 0)
		return -EAGAIN;
	const struct sl_ci_broker *b = sl_ci_broker_find(img, p->leader);
	struct in_addr a;
	if (!b)
		return -EAGAIN;
	if (inet_pton(AF_INET, b->host, &a) != 1) {
		/* said once per broker id (the first 64 of them) */
		static int32_t warned[64];
		static unsigned nwarned;
		bool known = false;
		for (unsigned i = 0; i < nwarned; i++)
			known |= warned[i] == b->id;
		if (!known && nwarned < 64) {
			warned[nwarned++] = b->id;
			sl_log("transaction markers for broker %d wait: its "
			       "Kafka host '%s' is not an IPv4 address "
			       "(docs/cluster.md)", (int)b->id, b->host);
		}
		return -EAGAIN;
	}
	*addr = a.s_addr;
	*port = b->kafka_port;
	return 0;
}

static int run_daemon(const struct sl_config *c)
{
	char err[1024], last_err[1024] = "";
	struct sl_meta *m;
	static struct sl_link link;
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		sl_log("sigprocmask: %s", strerror(errno));
		return 1;
	}
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		sl_log("signalfd: %s", strerror(errno));
		return 1;
	}
	struct sl_cluster *cluster = NULL;
	bool clustered = c->controller_quorum_voters[0] != 0;
	struct sl_meta *own = m = malloc(sizeof(*m));
	if (!m) {
		sl_log("out of memory");
		goto out_sfd;
	}
	if (clustered) {
		/* the topics live in the metadata log: m stays unused */
		sl_meta_init(m);
		int mrc = sd_mkdir_p(&sdisk_posix, c->control_dir);
		if (mrc) {
			sl_log("control_dir %s: cannot create: %s",
			       c->control_dir, strerror(-mrc));
			goto out_free;
		}
	} else if (sl_meta_open(m, c->control_dir, err, sizeof(err))) {
		sl_log("%s", err);
		goto out_free;
	}
	int lfd = instance_lock(c);
	if (lfd < 0)
		goto out_meta;
	if (clustered) {
		struct sl_cluster_hooks hooks = {
			.ctx = &link, .changed = cluster_changed,
			.reply = sl_link_cluster_reply,
			.alter_isr_reply = sl_link_alter_isr_reply,
			.self_fenced = sl_link_self_fenced};
		if (sl_cluster_create(c, &hooks, &cluster, err, sizeof(err))) {
			sl_log("cluster: %s", err);
			goto out_lock;
		}
		m = sl_cluster_meta(cluster); /* the cluster's topics */
	}
	if (sl_link_create(&link, c, m)) {
		sl_log("out of memory");
		goto out_cluster;
	}
	link.cluster = cluster;
	link.image = cluster ? sl_cluster_image(cluster) : NULL;
	char gdir[PATH_MAX];
	snprintf(gdir, sizeof(gdir), "%.4000s/groups", c->control_dir);
	struct sl_groups *groups = NULL;
	/* the local sluiced's Kafka listener, for the clients below: its
	 * listen_host, or loopback when it listens on every address */
	uint32_t kafka_addr = 0;
	struct in_addr la;
	if (inet_pton(AF_INET, c->listen_host, &la) == 1 &&
	    la.s_addr != htonl(INADDR_ANY))
		kafka_addr = la.s_addr;
	/* in a cluster the groups live in __consumer_offsets (gstore.h) */
	struct sl_gstore *gstore = NULL;
	if (cluster && c->kafka_port) {
		struct sl_gstore_config scfg = {
			.node_id = c->node_id, .kafka_port = c->kafka_port,
			.kafka_addr = kafka_addr,
			.reply = sl_link_kafka_reply, .reply_ctx = &link};
		if (sl_gstore_create(&scfg, &gstore)) {
			sl_log("out of memory");
			goto out_link;
		}
	}
	struct sl_groups_config gcfg = {
		.retention_ms = c->offsets_retention_ms, .clock = NULL,
		.disk = &sdisk_posix, .topic = consumer_group_topic,
		.topic_ctx = m, .topic_name = groups_topic_name,
		.coordinates = gstore ? sl_gstore_coordinates : NULL,
		.coordinates_ctx = gstore,
		.sink = gstore ? sl_gstore_sink(gstore) : NULL};
	int grc = sl_groups_open(gdir, &gcfg,
				 gstore ? sl_gstore_reply : sl_link_kafka_reply,
				 gstore ? (void *)gstore : (void *)&link,
				 sl_now_ms(), &groups, err, sizeof(err));
	if (grc) {
		sl_log("consumer groups: %s", err);
		sl_gstore_destroy(gstore);
		goto out_link;
	}
	if (gstore) {
		sl_gstore_set_groups(gstore, groups);
		daemon_gstore = gstore;
		sl_gstore_image(gstore, link.image, sl_now_ms());
	}
	link.groups = groups;

	struct sl_markers *markers = NULL;
	if (c->kafka_port && sl_markers_create(c->kafka_port, &markers)) {
		sl_log("out of memory");
		goto out_groups;
	}
	if (markers && kafka_addr)
		sl_markers_set_addr(markers, kafka_addr);
	if (markers && link.image)
		sl_markers_set_route(markers, marker_route,
				     (void *)link.image);
	char tdir[PATH_MAX];
	snprintf(tdir, sizeof(tdir), "%.4000s/transactions", c->control_dir);
	/* in a cluster the transactions' offsets are the group
	 * coordinator's (gtxn.h) */
	struct sl_gtxn *gtxn = NULL;
	if (gstore) {
		struct sl_gtxn_config xcfg = {
			.groups = groups, .sink = sl_gstore_sink(gstore),
			.reply = sl_gstore_reply, .reply_ctx = gstore,
			.coordinates = sl_gstore_coordinates,
			.partition_of = sl_gstore_partition_of,
			.partition_state = sl_gstore_partition_state,
			.ctx = gstore, .exists = txn_partition_exists,
			.exists_ctx = m};
		if (sl_gtxn_create(&xcfg, &gtxn)) {
			sl_log("out of memory");
			goto out_markers;
		}
		sl_gstore_set_gtxn(gstore, gtxn);
	}
	/* in a cluster the transactions' state lives in
	 * __transaction_state (tstore.h) */
	struct sl_tstore *tstore = NULL;
	if (gstore) {
		struct sl_tstore_config tscfg = {
			.node_id = c->node_id, .kafka_port = c->kafka_port,
			.kafka_addr = kafka_addr,
			.reply = sl_link_kafka_reply, .reply_ctx = &link,
			.markers = markers ? sl_markers_submit : NULL,
			.markers_cancel = markers ? sl_markers_cancel : NULL,
			.markers_ctx = markers};
		if (!markers || sl_tstore_create(&tscfg, &tstore)) {
			sl_log("out of memory");
			goto out_gtxn;
		}
	}
	struct sl_txn_config tcfg = {
		.disk = &sdisk_posix, .groups = groups,
		.markers = tstore ? sl_tstore_markers :
			   markers ? sl_markers_submit : NULL,
		.markers_ctx = tstore ? (void *)tstore : (void *)markers,
		.markers_cancel = tstore ? sl_tstore_markers_cancel : NULL,
		.exists = txn_partition_exists, .exists_ctx = m,
		.coordinates = tstore ? sl_tstore_coordinates : NULL,
		.coordinator_epoch = tstore ? sl_tstore_coordinator_epoch : NULL,
		.coordinates_ctx = tstore,
		.sink = tstore ? sl_tstore_sink(tstore) : NULL,
		.node_id = cluster ? c->node_id : 0,
		.offsets_partition = gstore ? sl_gstore_partition_of : NULL,
		.offsets_ctx = gstore};
	struct sl_txn *txn = NULL;
	if (sl_txn_open(tdir, &tcfg,
			tstore ? sl_tstore_reply : sl_link_kafka_reply,
			tstore ? (void *)tstore : (void *)&link, sl_now_ms(),
			&txn, err, sizeof(err))) {
		sl_log("transactions: %s", err);
		goto out_tstore;
	}
	if (tstore) {
		sl_tstore_set_txn(tstore, txn);
		daemon_tstore = tstore;
		sl_tstore_image(tstore, link.image, sl_now_ms());
	}
	if (markers)
		sl_markers_set_done(markers, txn_markers_done, txn);
	if (gtxn)
		sl_groups_set_pending(groups, sl_gtxn_pending, gtxn);
	else
		sl_groups_set_pending(groups, txn_offset_pending, txn);
	link.txn = txn;
	link.gtxn = gtxn;
	/* share groups: their state file next to the groups' */
	struct sl_share *share = NULL;
	if (c->kafka_port) {
		struct sl_share_config shcfg = {
			.disk = &sdisk_posix, .dir = gdir,
			.kafka_port = c->kafka_port, .kafka_addr = kafka_addr,
			.sp = {.window_max = c->share_partition_max_record_locks,
			       .lock_ms = c->share_record_lock_duration_ms,
			       .max_deliveries =
				       (uint16_t)c->share_delivery_count_limit,
			       .starve_ms = c->share_priority_age_ms},
			.heartbeat_interval_ms = c->share_heartbeat_interval_ms,
			.session_timeout_ms = c->share_session_timeout_ms,
			.earliest = c->share_auto_offset_reset_earliest != 0,
			.topic = consumer_group_topic, .topic_id = share_topic_id,
			.topic_ctx = m, .reply = sl_link_kafka_reply,
			.native_reply = sl_link_native_reply,
			.reply_ctx = &link};
		if (sl_share_create(&shcfg, sl_now_ms(), &share, err,
				    sizeof(err))) {
			sl_log("share groups: %s", err);
			goto out_txn;
		}
	}
	link.share = share;
	/* routing rules: a single broker's (a cluster's broker would read
	 * and append partitions it does not lead) */
	struct sl_route *route = NULL;
	if (c->kafka_port && !cluster) {
		struct sl_route_config rcfg = {
			.disk = &sdisk_posix, .dir = c->control_dir,
			.kafka_port = c->kafka_port, .kafka_addr = kafka_addr,
			.topic_at = route_topic_at, .topic_ctx = m,
			.reply = sl_link_native_reply, .reply_ctx = &link};
		if (sl_route_create(&rcfg, sl_now_ms(), &route, err,
				    sizeof(err))) {
			sl_log("routing rules: %s", err);
			goto out_share;
		}
	}
	link.route = route;
	sl_log("started: control_dir %s (%u topics, next id %u), "
	       "control_socket %s", c->control_dir, m->count, m->next_id,
	       c->control_socket);

	int64_t next_meta_check = 0;
	int64_t stop_at = 0; /* controlled shutdown's deadline */
	for (;;) {
		int64_t now = sl_now_ms();
		struct pollfd pfd[4] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = sl_link_fd(&link), .events = POLLIN },
			{ .fd = gstore ? sl_gstore_fd(gstore) : -1,
			  .events = gstore ? sl_gstore_events(gstore) : 0 },
			{ .fd = tstore ? sl_tstore_fd(tstore) : -1,
			  .events = tstore ? sl_tstore_events(tstore) : 0 },
		};
		int timeout = sl_link_timeout_ms(&link, now, SL_META_POLL_MS);
		int gt = sl_groups_tick(groups, now);
		if (gt >= 0 && gt < timeout)
			timeout = gt;
		int tt = sl_txn_tick(txn, now);
		if (tt >= 0 && tt < timeout)
			timeout = tt;
		tt = share ? sl_share_timeout_ms(share, now) : -1;
		if (tt >= 0 && tt < timeout)
			timeout = tt;
		tt = route ? sl_route_timeout_ms(route, now) : -1;
		if (tt >= 0 && tt < timeout)
			timeout = tt;
		int mt = markers ? sl_markers_timeout_ms(markers, now) : -1;
		if (mt >= 0 && mt < timeout)
			timeout = mt;
		int st = gstore ? sl_gstore_timeout_ms(gstore, now) : -1;
		if (st >= 0 && st < timeout)
			timeout = st;
		st = tstore ? sl_tstore_timeout_ms(tstore, now) : -1;
		if (st >= 0 && st < timeout)
			timeout = st;
		struct pollfd all[6 + SL_MARKERS_CONNS_MAX + SL_SHARE_CONNS_MAX +
				  ROUTE_CONNS_MAX];
		memcpy(all, pfd, sizeof(pfd));
		int nfds = 4;
		if (cluster) {
			int cfd[2];
			sl_cluster_fds(cluster, cfd);
			all[nfds++] = (struct pollfd){.fd = cfd[0], .events = POLLIN};
			all[nfds++] = (struct pollfd){.fd = cfd[1], .events = POLLIN};
			int ct = sl_cluster_timeout_ms(cluster, now);
			if (ct >= 0 && ct < timeout)
				timeout = ct;
		}
		if (markers)
			nfds += (int)sl_markers_pollfds(markers, all + nfds,
							SL_MARKERS_CONNS_MAX);
		if (share)
			nfds += (int)sl_share_pollfds(share, all + nfds,
						      SL_SHARE_CONNS_MAX);
		if (route)
			nfds += (int)sl_route_pollfds(route, all + nfds,
						      ROUTE_CONNS_MAX);
		int n = poll(all, (nfds_t)nfds, timeout); /* negative fds are
							      skipped */
		memcpy(pfd, all, sizeof(pfd));
		if (n < 0 && errno != EINTR) {
			sl_log("poll: %s", strerror(errno));
			break;
		}
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				sl_log("exiting on %s", strsignal((int)
								  si.ssi_signo));
				rc = 0;
				if (!cluster || stop_at)
					break;
				/* a cluster's broker first hands its
				 * partitions over, for at most 5 s */
				sl_cluster_shutdown(cluster);
				stop_at = sl_now_ms() + 5000;
			}
		}
		if (stop_at && (sl_cluster_shut_down(cluster) ||
				sl_now_ms() >= stop_at))
			break;
		now = sl_now_ms();
		if (cluster) {
			sl_cluster_set_ready(cluster,
					     link.state == SL_LINK_READY);
			if (sl_cluster_do_work(cluster, now) < 0) {
				sl_log("the metadata quorum's node stopped; "
				       "exiting (a restart recovers from its "
				       "log)");
				break;
			}
		}
		if (!cluster && now >= next_meta_check) {
			next_meta_check = now + SL_META_POLL_MS;
			if (sl_meta_changed(m) > 0) {
				if (sl_meta_reload(m, err, sizeof(err))) {
					if (strcmp(err, last_err))
						sl_log("re-reading metadata "
						       "failed, keeping the "
						       "previous topics: %s",
						       err);
					snprintf(last_err, sizeof(last_err),
						 "%s", err);
				} else {
					last_err[0] = 0;
					sl_log("metadata changed on disk: %u "
					       "topics", m->count);
					sl_link_changed(&link, now);
				}
			}
		}
		sl_link_do_work(&link, now);
		if (markers)
			sl_markers_do_work(markers, sl_now_ms());
		if (gstore)
			sl_gstore_do_work(gstore, sl_now_ms());
		if (tstore)
			sl_tstore_do_work(tstore, sl_now_ms());
		if (share)
			sl_share_do_work(share, sl_now_ms());
		if (route)
			sl_route_do_work(route, sl_now_ms());
	}
	link.route = NULL;
	sl_route_destroy(route);
out_share:
	link.share = NULL;
	sl_share_destroy(share);
out_txn:
	link.txn = NULL;
	link.gtxn = NULL;
	daemon_tstore = NULL;
	if (tstore)
		sl_tstore_set_txn(tstore, NULL);
	sl_txn_close(txn);
out_tstore:
	sl_tstore_destroy(tstore);
out_gtxn:
	if (gstore)
		sl_gstore_set_gtxn(gstore, NULL);
	sl_gtxn_destroy(gtxn);
out_markers:
	sl_markers_destroy(markers);
out_groups:
	link.groups = NULL;
	daemon_gstore = NULL;
	sl_groups_close(groups);
	sl_gstore_destroy(gstore);
out_link:
	link.cluster = NULL;
	sl_cluster_destroy(cluster); /* its last answers go through the link */
	cluster = NULL;
	sl_link_destroy(&link);
out_cluster:
	sl_cluster_destroy(cluster);
out_lock:
	close(lfd);
out_meta:
	sl_meta_close(own);
out_free:
	free(own);
out_sfd:
	close(sfd);
	return rc;
}

int main(int argc, char **argv)
{
	struct sl_config cfg;
	char err[4096];
	const char *file = NULL;
	char *overrides[64];
	int n_over = 0, opt;

	sl_config_defaults(&cfg);
	while ((opt = getopt(argc, argv, "+c:o:h")) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			if (n_over == 64) {
				fprintf(stderr, "sluice-control: at most 64 "
					"-o overrides\n");
				return EXIT_USAGE;
			}
			overrides[n_over++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (sl_config_setup(&cfg, file, (const char *const *)overrides,
			    (unsigned)n_over, err, sizeof(err))) {
		fprintf(stderr, "sluice-control: %s\n", err);
		return EXIT_USAGE;
	}
	if (optind == argc)
		return run_daemon(&cfg);
	if (cfg.controller_quorum_voters[0] && !strcmp(argv[optind], "topic")) {
		fprintf(stderr, "sluice-control: in a cluster the topics live "
			"in the metadata log; use `sluice topic ...` or a Kafka "
			"client against any broker\n");
		return EXIT_USAGE;
	}
	return sl_topic_cli(&cfg, argc - optind, argv + optind, usage);
}
