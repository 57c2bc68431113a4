/*
 * The net core's loop (net.h): one driver instance, its callbacks routed to
 * the connection layer (conn.c) and to the front-end of each listener,
 * completions drained from the core's ring and handed to each message's
 * done callback (its front-end), storage cores woken once per cycle.
 *
 * Duty cycle (bounded): the driver's work (which calls the callbacks), the
 * completions (at most 64 bursts), the front-ends' timers, the wake-ups.
 * Idle strategy: after 200 idle cycles block in the driver, at most 100 ms
 * or what a front-end's timers allow (max_sleep_us).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dataplane/conn.h"
#include "dataplane/net.h"

void *dp_net_priv(struct dp_net *n, const struct dp_frontend *fe)
{
	for (uint32_t i = 0; i < n->nfe; i++)
		if (n->fe[i] == fe)
			return n->fe_priv[i];
	return NULL;
}

/* ---- driver callbacks ---- */

static void on_datagram(void *ctx, const uint8_t *p, size_t len,
			const struct drv_peer *from)
{
	struct dp_net *n = ctx;
	if (n->udp_fe && n->udp_fe->datagram)
		n->udp_fe->datagram(n, p, len, from);
}

static int on_datagram_keep(void *ctx, uint8_t *p, size_t len,
			    const struct drv_peer *from, void *token)
{
	struct dp_net *n = ctx;
	if (!n->udp_fe || !n->udp_fe->datagram_keep)
		return 0;
	return n->udp_fe->datagram_keep(n, p, len, from, token);
}

static int on_conn_open(void *ctx, uint32_t id, int listener)
{
	struct dp_net *n = ctx;
	if (listener < 0 || (uint32_t)listener >= n->nlisteners)
		return -EINVAL;
	return dp_conn_opened(n, id, n->listener_fe[listener]);
}

static long on_conn_data(void *ctx, uint32_t id, const uint8_t *p,
			 size_t len)
{
	struct dp_net *n = ctx;
	struct dp_conn *c = dp_conn_of(n, id);
	if (!c)
		return -1;
	return c->fe->conn_data(n, c, p, len);
}

static void on_conn_sent(void *ctx, uint32_t id, uint64_t unsent)
{
	(void)unsent;
	dp_conn_sent(ctx, id);
}

static void on_conn_closed(void *ctx, uint32_t id)
{
	dp_conn_closed(ctx, id);
}

static void drain_completions(struct dp_net *n)
{
	void *objs[DP_BURST];
	for (unsigned round = 0; round < 64; round++) {
		unsigned k = dp_ring_dequeue_burst(n->completions, objs,
						   DP_BURST);
		for (unsigned i = 0; i < k; i++) {
			struct dp_msg *m = objs[i];
			assert(m->net == n && m->done);
			m->done(n, m);
		}
		n->st.completions += k;
		if (k < DP_BURST)
			break;
	}
}

static void on_wakeup(void *ctx)
{
	drain_completions(ctx);
}

static void wake_cores(struct dp_net *n)
{
	struct dp *dp = n->dp;
	for (uint32_t i = 0; i < dp->nstore; i++)
		if (n->core_touched[i]) {
			n->core_touched[i] = 0;
			dp_store_wake(dp->store[i]);
		}
}

/* The longest this core may sleep for its front-ends' timers. */
static uint64_t max_sleep_us(struct dp_net *n)
{
	uint64_t us = 100000;
	for (uint32_t i = 0; i < n->nfe; i++) {
		if (!n->fe[i]->max_sleep_us)
			continue;
		uint64_t f = n->fe[i]->max_sleep_us(n);
		if (f && f < us)
			us = f;
	}
	return us;
}

static void *net_main(void *arg)
{
	struct dp_net *n = arg;
	struct dp *dp = n->dp;
	unsigned idle = 0;
	while (!atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
		n->st.loops++;
		/* release: every read of the topic table in earlier cycles
		 * is done; pairs with topics.c net_grace's acquire load.  No
		 * partition pointer is kept across cycles (kafka.c's long
		 * polls check topic_gen). */
		atomic_store_explicit(&n->epoch, n->st.loops,
				      memory_order_release);
		uint64_t wait_us = 0;
		if (idle > 200) {
			/* seq_cst: pairs with dp_complete's load of
			 * sleeping (Dekker) */
			atomic_store(&n->sleeping, 1);
			if (dp_ring_count(n->completions) == 0)
				wait_us = max_sleep_us(n);
		}
		int w = n->drv_ops->do_work(n->drv, wait_us);
		if (wait_us) {
			n->st.idle_waits++;
			atomic_store(&n->sleeping, 0);
			idle = 0;
		}
		drain_completions(n);
		for (uint32_t i = 0; i < n->nfe; i++)
			if (n->fe[i]->do_work)
				w += n->fe[i]->do_work(n);
		wake_cores(n);
		if (w > 0)
			idle = 0;
		else
			idle++;
	}
	return NULL;
}

/* Register fe on n (once), with its per-core state. */
static int add_frontend(struct dp_net *n, const struct dp_frontend *fe)
{
	if (!fe || dp_net_priv(n, fe) || n->nfe >= DP_MAX_FRONTENDS)
		return 0;
	for (uint32_t i = 0; i < n->nfe; i++)
		if (n->fe[i] == fe)
			return 0;
	void *priv = NULL;
	if (fe->init) {
		int rc = fe->init(n, &priv);
		if (rc)
			return rc;
	}
	n->fe[n->nfe] = fe;
	n->fe_priv[n->nfe++] = priv;
	return 0;
}

static void net_free(struct dp_net *n)
{
	for (uint32_t i = 0; i < n->nfe; i++)
		if (n->fe[i]->fini)
			n->fe[i]->fini(n, n->fe_priv[i]);
	dp_conns_fini(n);
	if (n->completions)
		dp_ring_destroy(n->completions);
	if (n->wake_fd >= 0)
		close(n->wake_fd);
	free(n);
}

int dp_net_start(struct dp *dp, uint32_t id, const struct dp_listen *l,
		 int reuse_port, uint16_t *udp_bound, uint16_t *tcp_bound)
{
	struct dp_net *n;
	if (id >= DP_MAX_NET_CORES || l->ntcp > DP_MAX_LISTENERS)
		return -EINVAL;
	if (posix_memalign((void **)&n, 64, sizeof(*n)))
		return -ENOMEM;
	memset(n, 0, sizeof(*n));
	n->id = id;
	n->dp = dp;
	n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int rc = n->wake_fd < 0 ? -errno : 0;
	if (!rc)
		rc = dp_conns_init(n, dp->cfg.max_connections);
	/* the completion ring exists before any request is made */
	if (!rc)
		rc = dp_ring_create(1u << 16, &n->completions);
	n->udp_fe = l->udp_fe;
	n->nlisteners = l->ntcp;
	for (uint32_t i = 0; !rc && i < l->ntcp; i++) {
		n->listener_fe[i] = l->tcp_fe[i];
		rc = add_frontend(n, l->tcp_fe[i]);
	}
	if (!rc)
		rc = add_frontend(n, l->udp_fe);
	n->drv_ops = drv_find(dp->cfg.driver);
	if (!rc && !n->drv_ops) {
		dp_log("driver '%s' is not available (built: %s)",
		       dp->cfg.driver, drv_names());
		rc = -ENOTSUP;
	}
	if (rc) {
		net_free(n);
		return rc;
	}
	struct drv_config dc = {
		.listen_host = dp->cfg.listen_host,
		.udp_port = l->udp_port,
		.ntcp = l->ntcp,
		.reuse_port = reuse_port,
		.udp_max_frame = dp->cfg.udp_max_frame,
		.tcp_max_frame = dp->cfg.tcp_max_frame,
		.max_connections = dp->cfg.max_connections,
		.rx_buffer_bytes = dp->cfg.memory_budget_bytes / 4 / dp->cfg.net_cores,
		.wake_fd = n->wake_fd,
		.dpdk_args = dp->cfg.dpdk_args,
		.dpdk_ip = dp->cfg.dpdk_ip,
		.dpdk_mbufs = dp->cfg.dpdk_mbufs,
		.dpdk_queues = dp->cfg.dpdk_queues,
		.busy_poll = dp->cfg.busy_poll,
		.max_per_ip = dp->cfg.max_connections_per_ip,
		.idle_timeout_ns = dp->cfg.conn_idle_timeout_ms * 1000000ull,
		.frame_timeout_ns = dp->cfg.conn_frame_timeout_ms * 1000000ull,
		.send_timeout_ns = dp->cfg.conn_send_timeout_ms * 1000000ull,
		.now_ns = NULL, /* monotonic, as dp->clock's */
	};
	for (uint32_t i = 0; i < l->ntcp; i++)
		dc.tcp_ports[i] = l->tcp_port[i];
	struct drv_callbacks cb = {
		.ctx = n,
		.datagram = on_datagram,
		.datagram_keep = on_datagram_keep,
		.conn_open = on_conn_open,
		.conn_data = on_conn_data,
		.conn_closed = on_conn_closed,
		.conn_sent = on_conn_sent,
		.wakeup = on_wakeup,
	};
	rc = n->drv_ops->create(&dc, &cb, &n->drv);
	if (rc) {
		dp_log("net core %u: driver %s on %s (udp_port %u, %u tcp "
		       "listener(s) from port %u): %s", id, n->drv_ops->name,
		       dp->cfg.listen_host, l->udp_port, l->ntcp,
		       l->ntcp ? l->tcp_port[0] : 0, sl_strerror(rc));
		net_free(n);
		return rc;
	}
	n->drv_ops->ports(n->drv, udp_bound, tcp_bound, l->ntcp);
	if (n->drv_ops->udp_max_payload) {
		uint32_t m = n->drv_ops->udp_max_payload(n->drv);
		if (m >= SN_HEADER_BYTES && m < atomic_load(&dp->udp_frame_max))
			atomic_store(&dp->udp_frame_max, m);
	}
	dp->net[id] = n;
	rc = pthread_create(&n->thread, NULL, net_main, n);
	if (rc) {
		dp->net[id] = NULL;
		n->drv_ops->destroy(n->drv);
		net_free(n);
		return -rc;
	}
	char name[16];
	snprintf(name, sizeof(name), "sl-net%u", id);
	pthread_setname_np(n->thread, name);
	return 0;
}

void dp_net_join(struct dp *dp, uint32_t id)
{
	struct dp_net *n = dp->net[id];
	if (!n)
		return;
	dp_wake_fd(n->wake_fd);
	pthread_join(n->thread, NULL);
}

void dp_net_destroy(struct dp *dp, uint32_t id)
{
	struct dp_net *n = dp->net[id];
	if (!n)
		return;
	dp->net[id] = NULL;
	n->drv_ops->destroy(n->drv);
	n->drv = NULL;
	/* what is still in the completion ring: answers nobody reads now */
	void *objs[DP_BURST];
	unsigned k;
	/* bounded: the ring holds at most 65536 messages */
	for (unsigned round = 0; round < 4096 &&
	     (k = dp_ring_dequeue_burst(n->completions, objs, DP_BURST));
	     round++)
		for (unsigned i = 0; i < k; i++)
			dp_msg_free(objs[i]);
	net_free(n);
}
