/*
 * The DPDK driver (contract in driver.h; config `driver = dpdk`; operator's
 * guide in docs/dpdk.md): UDP through a DPDK poll-mode driver, TCP through
 * an inner socket driver (no userspace TCP stack exists for DPDK in Debian).
 *
 * Happy path, one duty cycle (dpdk_do_work, on the net core):
 *   inner socket driver do_work(0) (TCP, wake-up eventfd)
 *   -> rte_eth_rx_burst (32 at a time, at most RX_ROUNDS bursts)
 *   -> ns_parse (netstack.c): ARP requests for dpdk_ip and ICMP echo are
 *      answered in place (the received mbuf becomes the reply); a valid
 *      datagram for udp_port is handed to cb.datagram() with its peer (bytes
 *      valid during the call: the mbuf is freed right after), and the peer's
 *      MAC is learned from the frame's source;
 *   -> the dataplane's replies (dpdk_udp_send, during the callback or from
 *      completions) are built into fresh mbufs (Eth/IPv4/UDP + one copy of
 *      the payload) and queued;
 *   -> one rte_eth_tx_burst at the end of the cycle (or when TX_BURST
 *      replies are queued), on the queue of the core that received.
 *
 * Failure modes, each counted (DPDK_COUNTERS, read through ops->counters,
 * which the dataplane serves as /sluice/dpdk on its telemetry):
 * frames dropped per netstack reason (ns_drop), multi-segment frames,
 * mbuf pool empty (tx_no_mbuf), replies larger than the MTU (tx_too_big:
 * the driver does not fragment), replies to a peer whose MAC is unknown
 * (one is kept per neighbour while an ARP request is out; older ones are
 * replaced and counted as tx_no_neighbor), a TX ring that stays full
 * (tx_ring_full, the mbufs are freed).
 *
 * Idle: with busy_poll = 0 a cycle that found nothing and was given
 * wait_us > 0 sleeps in slices inside the inner socket driver's io_uring
 * wait (so a TCP byte or a storage-core wake-up ends it at once), polling
 * the port between slices; slices grow from 20 us to 1 ms while idle, so
 * a datagram waits at most one slice.  busy_poll = 1 never sleeps.
 *
 * Configuration: dpdk_args, dpdk_ip, dpdk_mbufs, dpdk_queues and busy_poll
 * arrive in struct drv_config (the config keys of the same names).
 *
 * Threads: create() runs rte_eal_init on the calling thread (once per
 * process) and gives that thread its CPU mask back; the first do_work()
 * registers the net core with EAL (a per-lcore mempool cache) and pins it
 * to the CPU of the main lcore (`-l 1` -> CPU 1).
 */
#define ALLOW_EXPERIMENTAL_API 1
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>

#include "drivers/driver.h"
#include "drivers/netstack.h"

#define RX_BURST 32
#define RX_ROUNDS 4
#define TX_BURST 64
#define NEIGH_SLOTS 256 /* power of two */
#define NEIGH_PROBE 8
#define ARP_RETRY_MS 100
#define SLICE_US_MIN 20
#define SLICE_US_MAX 1000
#define DESC_RX 1024
#define DESC_TX 1024

/* Driver counters beyond struct drv_stats (single writer: the net core). */
#define DPDK_COUNTERS(X)                                                 \
	X(rx_frames, "frames received from the port")                     \
	X(rx_multi_seg, "frames in several mbufs (dropped)")             \
	X(rx_hw_cksum_bad, "frames the NIC found a bad checksum in")       \
	X(arp_requests_answered, "ARP requests for dpdk_ip answered")     \
	X(arp_learned, "neighbours learned from ARP")                     \
	X(arp_requests_sent, "ARP requests sent for unknown peers")       \
	X(icmp_echo_answered, "ICMP echo requests answered")               \
	X(tx_frames, "frames handed to the port")                         \
	X(tx_ring_full, "frames freed because the TX ring stayed full")   \
	X(tx_no_mbuf, "replies dropped: mbuf pool empty")                 \
	X(tx_too_big, "replies dropped: larger than the MTU")             \
	X(tx_no_neighbor, "replies dropped: peer MAC still unknown")      \
	X(tx_held_for_arp, "replies held until the peer's ARP reply")      \
	X(idle_sleeps, "idle slices slept")

enum dpdk_counter {
#define DX(n, h) DC_##n,
	DPDK_COUNTERS(DX)
#undef DX
	DC_MAX
};

static const char *const counter_names[] = {
#define DX(n, h) #n,
	DPDK_COUNTERS(DX)
#undef DX
};
_Static_assert(sizeof(counter_names) / sizeof(counter_names[0]) == DC_MAX,
	       "counter_names in sync with DPDK_COUNTERS");

struct neigh {
	uint32_t ip;              /* network order; 0 = free */
	uint8_t mac[6];
	uint8_t known;            /* mac valid */
	uint64_t arp_sent_tsc;    /* last ARP request for it */
	struct rte_mbuf *pending; /* one reply waiting for the MAC */
};

struct drv {
	struct drv_config cfg;
	struct drv_callbacks cb;
	struct drv_stats st;
	uint64_t c[DC_MAX];
	uint64_t drops[NS_DROP_MAX];
	/* TCP and the wake-up fd */
	struct drv *tcp;
	/* the port */
	uint16_t port_id, queue, mtu;
	struct rte_mempool *pool;
	struct ns_self self;
	uint64_t rx_ol_ip, rx_ol_l4; /* rx checksum offloads enabled */
	unsigned tx_mode;            /* NS_TX_* (what software does) */
	uint64_t tx_ol_flags;        /* RTE_MBUF_F_TX_* for replies */
	uint16_t ip_id;
	struct rte_mbuf *tx[TX_BURST];
	unsigned ntx;
	/* neighbours (peer MAC cache) */
	struct neigh neigh[NEIGH_SLOTS];
	uint64_t arp_retry_tsc;
	/* polling */
	int busy_poll;
	int registered;
	uint32_t slice_us;
	uint32_t queues;
	char eal_args[1024];
};

static int eal_ready; /* rte_eal_init done (once per process) */

/* ---- configuration ---- */

/* ---- EAL and the port ---- */

static int eal_init(struct drv *d, const char *args)
{
	if (eal_ready)
		return 0;
	char *argv[64];
	int argc = 0;
	argv[argc++] = (char *)"sluiced";
	snprintf(d->eal_args, sizeof(d->eal_args), "%s", args);
	for (char *s = strtok(d->eal_args, " \t"); s && argc < 63;
	     s = strtok(NULL, " \t"))
		argv[argc++] = s;
	argv[argc] = NULL;
	/* EAL pins the calling thread to the main lcore: give the thread
	 * (main, and every thread it starts later) its mask back. */
	cpu_set_t saved;
	int have_mask = !pthread_getaffinity_np(pthread_self(), sizeof(saved),
						 &saved);
	int rc = rte_eal_init(argc, argv);
	if (have_mask)
		pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	if (rc < 0) {
		fprintf(stderr, "sluiced: dpdk: rte_eal_init(\"%s\") failed: %s\n",
			args, rte_strerror(rte_errno));
		return rte_errno ? -rte_errno : -EINVAL;
	}
	eal_ready = 1;
	return 0;
}

static int port_setup(struct drv *d, uint32_t mbufs, uint32_t queues)
{
	int rc;
	uint16_t pid = RTE_MAX_ETHPORTS;
	uint16_t p;
	RTE_ETH_FOREACH_DEV(p) {
		pid = p;
		break;
	}
	if (pid == RTE_MAX_ETHPORTS) {
		fprintf(stderr, "sluiced: dpdk: no ethdev (give one with "
				"--vdev=... or a PCI allow-list in dpdk_args)\n");
		return -ENODEV;
	}
	d->port_id = pid;
	struct rte_eth_dev_info info;
	rc = rte_eth_dev_info_get(pid, &info);
	if (rc)
		return rc;
	if (queues < 1)
		queues = 1;
	if (queues > info.max_rx_queues)
		queues = info.max_rx_queues;
	if (queues > info.max_tx_queues)
		queues = info.max_tx_queues;
	d->queues = queues;

	/* data room: the largest frame the port takes (jumbo where allowed),
	 * at least the standard 2 KiB, at most 9 KiB + headers */
	uint32_t room = info.max_rx_pktlen;
	if (room < 2048)
		room = 2048;
	if (room > 9216 + 32)
		room = 9216 + 32;
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "sl_mbuf_p%u", pid);
	d->pool = rte_pktmbuf_pool_create(name, mbufs ? mbufs : 16383, 256, 0,
					  (uint16_t)(room + RTE_PKTMBUF_HEADROOM),
					  (int)rte_eth_dev_socket_id(pid) < 0
						  ? SOCKET_ID_ANY
						  : rte_eth_dev_socket_id(pid));
	if (!d->pool) {
		fprintf(stderr, "sluiced: dpdk: mbuf pool of %u: %s\n", mbufs,
			rte_strerror(rte_errno));
		return -ENOMEM;
	}

	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (queues > 1 && info.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) &
			info.flow_type_rss_offloads;
	}
	uint64_t want_rx = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
			   RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	conf.rxmode.offloads = want_rx & info.rx_offload_capa;
	d->rx_ol_ip = conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	d->rx_ol_l4 = conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	d->tx_mode = NS_TX_IP_CKSUM | NS_TX_UDP_CKSUM;
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		d->tx_mode &= ~NS_TX_IP_CKSUM;
		d->tx_ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
		d->tx_mode &= ~NS_TX_UDP_CKSUM;
		d->tx_mode |= NS_TX_UDP_PHDR;
		d->tx_ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	rc = rte_eth_dev_configure(pid, (uint16_t)queues, (uint16_t)queues,
				   &conf);
	if (rc) {
		fprintf(stderr, "sluiced: dpdk: port %u configure: %s\n", pid,
			rte_strerror(-rc));
		return rc;
	}
	uint16_t nrx = DESC_RX, ntx = DESC_TX;
	rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntx);
	for (uint16_t q = 0; q < queues; q++) {
		rc = rte_eth_rx_queue_setup(pid, q, nrx,
					    rte_eth_dev_socket_id(pid), NULL,
					    d->pool);
		if (rc)
			return rc;
		rc = rte_eth_tx_queue_setup(pid, q, ntx,
					    rte_eth_dev_socket_id(pid), NULL);
		if (rc)
			return rc;
	}
	rc = rte_eth_dev_start(pid);
	if (rc) {
		fprintf(stderr, "sluiced: dpdk: port %u start: %s\n", pid,
			rte_strerror(-rc));
		return rc;
	}
	rte_eth_promiscuous_disable(pid); /* best effort; af_packet ignores */
	struct rte_ether_addr mac;
	rc = rte_eth_macaddr_get(pid, &mac);
	if (rc)
		return rc;
	memcpy(d->self.mac, mac.addr_bytes, 6);
	uint16_t mtu = 1500;
	if (rte_eth_dev_get_mtu(pid, &mtu) == 0 && mtu >= 576)
		d->mtu = mtu;
	else
		d->mtu = 1500;
	if (d->mtu + 14u > room)
		d->mtu = (uint16_t)(room - 14);
	return 0;
}

/* ---- neighbours ---- */

static uint32_t neigh_hash(uint32_t ip)
{
	return (ip * 2654435761u) >> 24;
}

/* The slot of ip, or a free slot for it (NULL: table area full). */
static struct neigh *neigh_slot(struct drv *d, uint32_t ip, int create)
{
	uint32_t h = neigh_hash(ip);
	struct neigh *victim = NULL;
	for (uint32_t i = 0; i < NEIGH_PROBE; i++) {
		struct neigh *n = &d->neigh[(h + i) & (NEIGH_SLOTS - 1)];
		if (n->ip == ip)
			return n;
		if (!n->ip && !victim)
			victim = n;
	}
	if (!create)
		return NULL;
	if (!victim) /* a full probe window: evict the first entry */
		victim = &d->neigh[h & (NEIGH_SLOTS - 1)];
	if (victim->pending) {
		rte_pktmbuf_free(victim->pending);
		d->c[DC_tx_no_neighbor]++;
	}
	memset(victim, 0, sizeof(*victim));
	victim->ip = ip;
	return victim;
}

static void tx_queue(struct drv *d, struct rte_mbuf *m);

static void neigh_learn(struct drv *d, uint32_t ip, const uint8_t mac[6])
{
	if (!ip)
		return;
	struct neigh *n = neigh_slot(d, ip, 1);
	if (n->known && !memcmp(n->mac, mac, 6))
		return;
	memcpy(n->mac, mac, 6);
	n->known = 1;
	if (n->pending) {
		struct rte_mbuf *m = n->pending;
		n->pending = NULL;
		memcpy(rte_pktmbuf_mtod(m, uint8_t *), mac, 6);
		tx_queue(d, m);
	}
}

static void arp_request(struct drv *d, struct neigh *n, uint64_t now)
{
	uint64_t gap = rte_get_tsc_hz() / 1000 * ARP_RETRY_MS;
	if (n->arp_sent_tsc && now - n->arp_sent_tsc < gap)
		return;
	struct rte_mbuf *m = rte_pktmbuf_alloc(d->pool);
	if (!m) {
		d->c[DC_tx_no_mbuf]++;
		return;
	}
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 60);
	size_t len = ns_build_arp_request(&d->self, n->ip, p, 60);
	assert(len == 60);
	n->arp_sent_tsc = now;
	d->c[DC_arp_requests_sent]++;
	tx_queue(d, m);
}

/* ---- transmit ---- */

static void tx_flush(struct drv *d)
{
	unsigned sent = 0;
	/* bounded: a ring that stays full drops the rest */
	for (int tries = 0; sent < d->ntx && tries < 8; tries++)
		sent += rte_eth_tx_burst(d->port_id, d->queue, d->tx + sent,
					 (uint16_t)(d->ntx - sent));
	d->c[DC_tx_frames] += sent;
	if (sent < d->ntx) {
		d->c[DC_tx_ring_full] += d->ntx - sent;
		d->st.tx_errors += d->ntx - sent;
		rte_pktmbuf_free_bulk(d->tx + sent, d->ntx - sent);
	}
	d->ntx = 0;
}

static void tx_queue(struct drv *d, struct rte_mbuf *m)
{
	if (d->ntx == TX_BURST)
		tx_flush(d);
	d->tx[d->ntx++] = m;
}

static int dpdk_udp_send(struct drv *d, const struct drv_peer *to,
			 const uint8_t *p, size_t len)
{
	if (len + NS_IP_LEN + NS_UDP_LEN > d->mtu) {
		d->c[DC_tx_too_big]++;
		d->st.tx_errors++;
		return -EMSGSIZE;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(d->pool);
	if (!m) {
		d->c[DC_tx_no_mbuf]++;
		d->st.tx_errors++;
		return -ENOBUFS;
	}
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(NS_UDP_HDRS + len));
	assert(f);
	memcpy(f + NS_UDP_HDRS, p, len);
	struct neigh *n = neigh_slot(d, to->ip, 1);
	static const uint8_t zero[6];
	ns_build_udp(&d->self, n->known ? n->mac : zero, to->ip, to->port, f,
		     len, d->ip_id++, d->tx_mode);
	if (d->tx_ol_flags) {
		m->ol_flags |= d->tx_ol_flags;
		m->l2_len = NS_ETH_LEN;
		m->l3_len = NS_IP_LEN;
	}
	d->st.tx_packets++;
	d->st.tx_bytes += len;
	if (n->known) {
		tx_queue(d, m);
		return 0;
	}
	/* unknown peer: hold this one reply, ask who has it */
	if (n->pending) {
		rte_pktmbuf_free(n->pending);
		d->c[DC_tx_no_neighbor]++;
	}
	n->pending = m;
	d->c[DC_tx_held_for_arp]++;
	arp_request(d, n, rte_rdtsc());
	return 0;
}

/* ---- receive ---- */

static void rx_one(struct drv *d, struct rte_mbuf *m)
{
	d->c[DC_rx_frames]++;
	if (unlikely(m->nb_segs > 1)) {
		d->c[DC_rx_multi_seg]++;
		rte_pktmbuf_free(m);
		return;
	}
	unsigned flags = 0;
	uint64_t ipf = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	uint64_t l4f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (d->rx_ol_ip && ipf == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		flags |= NS_RX_IP_CKSUM_GOOD;
	if (d->rx_ol_l4 && l4f == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		flags |= NS_RX_L4_CKSUM_GOOD;
	if (ipf == RTE_MBUF_F_RX_IP_CKSUM_BAD || l4f == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		d->c[DC_rx_hw_cksum_bad]++; /* software re-checks: counted there */
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	struct ns_rx rx;
	switch (ns_parse(&d->self, f, m->data_len, flags, &rx)) {
	case NS_UDP: {
		struct drv_peer peer = { .ip = rx.src_ip, .port = rx.src_port };
		neigh_learn(d, rx.src_ip, rx.src_mac);
		d->st.rx_packets++;
		d->st.rx_bytes += rx.payload_len;
		/* one copy from NIC to disk: a produce batch stays in its
		 * mbuf up to the storage core's write buffer */
		if (d->cb.datagram_keep &&
		    d->cb.datagram_keep(d->cb.ctx, (uint8_t *)rx.payload,
					rx.payload_len, &peer, m) == 1)
			return;
		d->cb.datagram(d->cb.ctx, rx.payload, rx.payload_len, &peer);
		rte_pktmbuf_free(m);
		return;
	}
	case NS_ARP_REQUEST: {
		neigh_learn(d, rx.src_ip, rx.src_mac);
		size_t n = ns_arp_reply_in_place(&d->self, f, m->data_len);
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - n));
		m->ol_flags = 0;
		d->c[DC_arp_requests_answered]++;
		tx_queue(d, m);
		return;
	}
	case NS_ARP_LEARN:
		/* only peers we talk to or asked for: no table poisoning by
		 * every ARP on the segment */
		if (neigh_slot(d, rx.src_ip, 0)) {
			neigh_learn(d, rx.src_ip, rx.src_mac);
			d->c[DC_arp_learned]++;
		}
		rte_pktmbuf_free(m);
		return;
	case NS_ICMP_ECHO: {
		size_t n = ns_icmp_echo_reply_in_place(f, m->data_len, &rx);
		if (n < m->data_len)
			rte_pktmbuf_trim(m, (uint16_t)(m->data_len - n));
		m->ol_flags = 0;
		d->c[DC_icmp_echo_answered]++;
		tx_queue(d, m);
		return;
	}
	default:
		assert(rx.reason >= 0 && rx.reason < NS_DROP_MAX);
		d->drops[rx.reason]++;
		rte_pktmbuf_free(m);
		return;
	}
}

static int rx_poll(struct drv *d)
{
	struct rte_mbuf *pkts[RX_BURST];
	int work = 0;
	for (int round = 0; round < RX_ROUNDS; round++) {
		uint16_t n = rte_eth_rx_burst(d->port_id, d->queue, pkts,
					      RX_BURST);
		for (uint16_t i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			rx_one(d, pkts[i]);
		}
		work += n;
		if (n < RX_BURST)
			break;
	}
	return work;
}

/* Once, on the net core: an lcore id (mempool cache) and the CPU of the
 * main lcore. */
static void register_thread(struct drv *d)
{
	d->registered = 1;
	rte_thread_register();
	rte_cpuset_t cs = rte_lcore_cpuset(rte_get_main_lcore());
	if (CPU_COUNT(&cs))
		pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs);
}

static int dpdk_do_work(struct drv *d, uint64_t wait_us)
{
	if (unlikely(!d->registered))
		register_thread(d);
	int rc = drv_socket_ops.do_work(d->tcp, 0);
	if (rc < 0)
		return rc;
	int work = rc + rx_poll(d);
	if (d->ntx)
		tx_flush(d);
	if (work) {
		d->slice_us = SLICE_US_MIN;
		return work;
	}
	if (d->busy_poll || wait_us == 0) {
		rte_pause();
		return 0;
	}
	/* idle and allowed to wait: sleep in slices in the socket driver's
	 * io_uring (TCP and the wake-up fd end a slice at once), polling the
	 * port in between */
	uint64_t hz = rte_get_tsc_hz();
	uint64_t end = rte_rdtsc() + wait_us * hz / 1000000;
	d->st.waits++;
	do {
		uint64_t left = (end - rte_rdtsc()) * 1000000 / hz;
		uint64_t s = d->slice_us < left ? d->slice_us : left;
		if (s == 0)
			s = 1;
		d->c[DC_idle_sleeps]++;
		rc = drv_socket_ops.do_work(d->tcp, s);
		if (rc < 0)
			return rc;
		work = rc + rx_poll(d);
		if (d->ntx)
			tx_flush(d);
		if (work) {
			d->slice_us = SLICE_US_MIN;
			return work;
		}
		if (d->slice_us < SLICE_US_MAX)
			d->slice_us *= 2;
	} while ((int64_t)(end - rte_rdtsc()) > 0);
	return 0;
}

/* ---- the rest of the interface: TCP goes to the inner driver ---- */

static int dpdk_conn_send(struct drv *d, uint32_t conn, struct drv_buf *b)
{
	return drv_socket_ops.conn_send(d->tcp, conn, b);
}

static void dpdk_conn_close(struct drv *d, uint32_t conn, int hard)
{
	drv_socket_ops.conn_close(d->tcp, conn, hard);
}

static void dpdk_conn_pause(struct drv *d, uint32_t conn)
{
	drv_socket_ops.conn_pause(d->tcp, conn);
}

static void dpdk_conn_resume(struct drv *d, uint32_t conn)
{
	drv_socket_ops.conn_resume(d->tcp, conn);
}

static uint64_t dpdk_conn_unsent(const struct drv *d, uint32_t conn)
{
	return drv_socket_ops.conn_unsent(d->tcp, conn);
}

/* UDP figures are ours, TCP figures the inner driver's. */
static const struct drv_stats *dpdk_stats(const struct drv *d_)
{
	struct drv *d = (struct drv *)d_;
	const struct drv_stats *t = drv_socket_ops.stats(d->tcp);
	d->st.tcp_rx_bytes = t->tcp_rx_bytes;
	d->st.tcp_tx_bytes = t->tcp_tx_bytes;
	d->st.conns_accepted = t->conns_accepted;
	d->st.conns_refused = t->conns_refused;
	d->st.conns_closed = t->conns_closed;
	d->st.conns_open = t->conns_open;
	d->st.assembly_overflow = t->assembly_overflow;
	d->st.assembly_waits = t->assembly_waits;
	d->st.conns_refused_per_ip = t->conns_refused_per_ip;
	d->st.conns_idle_closed = t->conns_idle_closed;
	d->st.conns_frame_timeout = t->conns_frame_timeout;
	d->st.conns_send_timeout = t->conns_send_timeout;
	d->st.ring_errors = t->ring_errors;
	d->st.rx_no_buffers = t->rx_no_buffers + d->c[DC_tx_no_mbuf];
	return &d->st;
}

static void dpdk_ports(const struct drv *d, uint16_t *udp, uint16_t *tcp_out,
		       uint32_t ntcp)
{
	uint16_t u;
	drv_socket_ops.ports(d->tcp, &u, tcp_out, ntcp);
	*udp = d->cfg.udp_port;
}

/* ---- counters ---- */

/* ops->counters: the port and its MTU, every DPDK_COUNTERS counter, then
 * "drop_<reason>" per netstack reason.  Any thread (single-writer
 * counters, read without tearing on x86-64). */
static int dpdk_counters(const struct drv *d,
			 void (*fn)(void *arg, const char *name, uint64_t v),
			 void *arg)
{
	if (!d || !fn)
		return -EINVAL;
	fn(arg, "port", d->port_id);
	fn(arg, "mtu", d->mtu);
	for (int i = 0; i < DC_MAX; i++)
		fn(arg, counter_names[i],
		   __atomic_load_n(&d->c[i], __ATOMIC_RELAXED));
	for (int i = 0; i < NS_DROP_MAX; i++) {
		char name[64];
		snprintf(name, sizeof(name), "drop_%s", ns_drop_name(i));
		fn(arg, name, __atomic_load_n(&d->drops[i], __ATOMIC_RELAXED));
	}
	return 0;
}

/* ---- create / destroy ---- */

static void dpdk_destroy(struct drv *d)
{
	if (!d)
		return;
	if (d->pool) {
		if (d->ntx)
			tx_flush(d);
		for (int i = 0; i < NEIGH_SLOTS; i++)
			if (d->neigh[i].pending)
				rte_pktmbuf_free(d->neigh[i].pending);
		rte_eth_dev_stop(d->port_id);
		rte_eth_dev_close(d->port_id);
		rte_mempool_free(d->pool);
	}
	if (d->tcp)
		drv_socket_ops.destroy(d->tcp);
	free(d);
	/* EAL stays up: rte_eal_init cannot run twice in one process */
}

static int dpdk_create(const struct drv_config *cfg,
		       const struct drv_callbacks *cb, struct drv **out)
{
	int rc;
	struct in_addr ip;
	if (!cfg->dpdk_args || !cfg->dpdk_ip ||
	    inet_pton(AF_INET, cfg->dpdk_ip, &ip) != 1 || ip.s_addr == 0) {
		fprintf(stderr, "sluiced: dpdk: dpdk_ip '%s' is not an IPv4 "
				"address (the address the port answers for)\n",
			cfg->dpdk_ip ? cfg->dpdk_ip : "(none)");
		return -EINVAL;
	}
	if (cfg->udp_port == 0) {
		fprintf(stderr, "sluiced: dpdk: udp_port must be set (not 0) "
				"with driver = dpdk\n");
		return -EINVAL;
	}
	/* rte_eth_dev_start and mbufs live in hugepage memory: allocate the
	 * struct itself with plain calloc (no per-message allocation later) */
	struct drv *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	d->cb = *cb;
	d->busy_poll = cfg->busy_poll;
	d->slice_us = SLICE_US_MIN;
	d->self.ip = ip.s_addr;
	d->self.udp_port = htons(cfg->udp_port);

	struct drv_config tc = *cfg;
	tc.udp_port = 0; /* TCP only */
	rc = drv_socket_ops.create(&tc, cb, &d->tcp);
	if (rc)
		goto fail;
	rc = eal_init(d, cfg->dpdk_args);
	if (rc)
		goto fail;
	rc = port_setup(d, cfg->dpdk_mbufs ? cfg->dpdk_mbufs : 16383,
			cfg->dpdk_queues ? cfg->dpdk_queues : 1);
	if (rc)
		goto fail;
	char dev[RTE_ETH_NAME_MAX_LEN] = "?";
	rte_eth_dev_get_name_by_port(d->port_id, dev);
	char macs[32];
	snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x",
		 d->self.mac[0], d->self.mac[1], d->self.mac[2],
		 d->self.mac[3], d->self.mac[4], d->self.mac[5]);
	fprintf(stderr, "sluiced: dpdk: port %u (%s) mac %s ip %s udp %u mtu %u "
			"queues %u rx-cksum %s/%s tx-cksum %s\n",
		d->port_id, dev, macs,
		cfg->dpdk_ip, cfg->udp_port, d->mtu, d->queues,
		d->rx_ol_ip ? "hw" : "sw", d->rx_ol_l4 ? "hw" : "sw",
		d->tx_ol_flags ? "hw" : "sw");
	*out = d;
	return 0;
fail:
	dpdk_destroy(d);
	return rc;
}

/* One datagram in one frame: the port refuses IP fragments. */
static uint32_t dpdk_udp_max_payload(const struct drv *d)
{
	return d->mtu - NS_IP_LEN - NS_UDP_LEN;
}

/* A kept mbuf comes back (any thread: mempools are multi-consumer). */
static void dpdk_release(void *token)
{
	rte_pktmbuf_free((struct rte_mbuf *)token);
}

const struct drv_ops drv_dpdk_ops = {
	.name = "dpdk",
	.release = dpdk_release,
	.create = dpdk_create,
	.destroy = dpdk_destroy,
	.do_work = dpdk_do_work,
	.udp_send = dpdk_udp_send,
	.conn_send = dpdk_conn_send,
	.conn_close = dpdk_conn_close,
	.conn_resume = dpdk_conn_resume,
	.conn_pause = dpdk_conn_pause,
	.conn_unsent = dpdk_conn_unsent,
	.stats = dpdk_stats,
	.ports = dpdk_ports,
	.counters = dpdk_counters,
	.udp_max_payload = dpdk_udp_max_payload,
};
