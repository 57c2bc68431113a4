/*
 * The DPDK driver's drop reasons through the driver: the real sluiced with
 * driver = dpdk on a virtual port (net_af_packet, then net_af_xdp) over a
 * veth pair whose other end lives in a network namespace this test
 * creates; frames written byte by byte from inside the namespace
 * (AF_PACKET); counters read from DPDK's telemetry socket (/sluice/dpdk).
 *
 * Topology (N from the pid, private subnets inside this test only):
 *   ns "sldr<pid><v>" scl<pid><v> 10.8{6,7}.N.1/24 <-veth-> sdr<pid><v>
 *   (root ns, no kernel IP: the DPDK port, dpdk_ip 10.8{6,7}.N.2), v = p
 *   (af_packet) or x (af_xdp).  IPv6 is off on both ends, so the kernel
 *   sends nothing the port would count.  On af_packet the veth's MTU is
 *   3000, past the ring's 2048-byte frames: a valid datagram that large
 *   is cut by the kernel and must count as truncated, never be handed
 *   up in part.  sluiced's TCP listens on 127.0.0.1 in the root
 *   namespace (topic create, consume).
 *
 * One group of cases per port, each with its own namespace and sluiced:
 *   start          sluiced with driver = dpdk comes up on the port;
 *   arp_answered   ARP requests for dpdk_ip are answered with the port's
 *                  MAC, arp_requests_answered moves by exactly that many;
 *   icmp_echo      echo requests are answered (ids, data, checksums);
 *   drop_<reason>  for every netstack reason (drivers/netstack.h), K
 *                  frames that break exactly that rule, in every way the
 *                  rule can be broken; drop_<reason> moves by exactly K,
 *                  every other drop counter, rx_multi_seg and
 *                  rx_hw_cksum_bad by 0, rx_frames by K + 1;
 *   produce        a valid PRODUCE datagram from a kernel UDP socket is
 *                  answered (error 0) and its record read back over TCP;
 *   stop           sluiced exits with status 0 on SIGTERM.
 * Every valid case also checks that no drop counter moved.
 *
 * How a case knows its frames were all seen: after the K frames it sends
 * one ICMP echo request on the same socket (a barrier).  The port has one
 * queue and the sender is pinned to one CPU, so the frames reach the
 * driver in the order sent; once icmp_echo_answered has moved, every
 * frame before the barrier has been counted.  The counters are polled
 * until the target and the barrier have moved (bounded: 10 s), then
 * compared exactly: a frame not counted, counted twice or under another
 * reason shows as a difference.
 *
 * IP fragments: net_af_xdp hands them to the port, where drop_fragment
 * must count each one.  net_af_packet joins a PACKET_FANOUT group with
 * PACKET_FANOUT_FLAG_DEFRAG (DPDK's rte_eth_af_packet.c), so the kernel
 * holds a lone fragment for reassembly and the port never sees it: on
 * af_packet the case checks that no counter moves and rx_frames moves by
 * the barrier only.
 *
 * Not reachable through these ports, so not tested here: rx_multi_seg
 * (both PMDs deliver one mbuf per frame; checked to stay 0),
 * rx_hw_cksum_bad (no receive checksum offload; checked to stay 0), the
 * tx_* counters, and frames lost in the PMD's ring (ethdev's imissed, not
 * a driver counter).
 *
 * Exit 77 only for a prerequisite outside the project, checked before any
 * sluiced starts and named: root, the binaries, network namespaces and
 * veth, DPDK's af_packet PMD, memory for DPDK without hugepages.  The
 * af_xdp group's cases are skipped, with the reason, when the kernel has
 * no AF_XDP sockets or DPDK's af_xdp PMD is not installed.  Once the
 * prerequisites hold, a sluiced that does not start is a failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_build_config.h>

#include "broker.h"
#include "drivers/netstack.h"
#include "proto/native.h"
#include "proto/record_batch.h"
#include "sluice/sluice.h"

#define REPEATS 2           /* each malformed variant is sent this often */
#define WAIT_MS 10000       /* bound on every wait for the port */
#define SETTLE_MS 500       /* ... and after the barrier was answered */
#define BARRIER_ID 0xb0b0   /* ICMP id of the barrier echo requests */
#define PROBE_ID 0x51d0     /* ICMP id of icmp_echo's requests */
#define OVERSIZE_PAYLOAD 2900 /* past af_packet's 2048-byte ring frames */
#define CLIENT_PORT 41000   /* UDP source port of the crafted frames */

/* ---- the port under test (one group at a time) ---- */

struct port {
	int af_xdp;               /* net_af_xdp, else net_af_packet */
	const char *missing;      /* a prerequisite of this group, or NULL */
	int up;                   /* sluiced started, sockets open */
	char ns[32], dpif[16], clif[16];
	char prefix[32], tel_path[100];
	uint8_t dp_mac[6], cl_mac[6];
	uint32_t cl_ip, dp_ip;    /* network order */
	uint32_t other_ip;        /* an address in the subnet nobody has */
	uint32_t bcast_ip;        /* the subnet's broadcast address */
	int tx;                   /* AF_PACKET in the namespace, send only */
	int ifindex;              /* clif, in the namespace */
	uint16_t ip_id, seq;
	uint32_t topic_id;
	int64_t next_offset;      /* the produce case's expected offset */
	struct tb B;
};

static struct port P;
static int no_huge;
static cpu_set_t cpus_all; /* the test's own CPU mask, for sluiced */

/* ---- DPDK's telemetry ---- */

/* One reply from DPDK's telemetry socket (AF_UNIX SOCK_SEQPACKET: a
 * greeting, then one JSON reply per command). */
static int tel(const char *cmd, char *out, size_t cap)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", P.tel_path);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	ssize_t n = recv(fd, out, cap - 1, 0); /* greeting */
	if (n > 0 && send(fd, cmd, strlen(cmd), 0) > 0)
		n = recv(fd, out, cap - 1, 0);
	close(fd);
	if (n <= 0)
		return -1;
	out[n] = 0;
	return 0;
}

/* The driver counters a case looks at besides the drops. */
enum { C_RX_FRAMES, C_MULTI_SEG, C_HW_CKSUM_BAD, C_ARP_ANSWERED,
       C_ICMP_ANSWERED, C_MAX };
static const char *const c_names[C_MAX] = {
	"rx_frames", "rx_multi_seg", "rx_hw_cksum_bad",
	"arp_requests_answered", "icmp_echo_answered",
};

struct snap {
	int64_t c[C_MAX];
	int64_t drop[NS_DROP_MAX];
};

static int64_t json_u64(const char *json, const char *name)
{
	char key[96];
	snprintf(key, sizeof(key), "\"%s\":", name);
	const char *p = strstr(json, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* Every counter from one reply; -1 when the reply or a counter is
 * missing. */
static int snap_take(struct snap *s)
{
	static char buf[16384];
	if (tel("/sluice/dpdk", buf, sizeof(buf)))
		return -1;
	for (int i = 0; i < C_MAX; i++)
		if ((s->c[i] = json_u64(buf, c_names[i])) < 0)
			return -1;
	for (int i = 0; i < NS_DROP_MAX; i++) {
		char name[64];
		snprintf(name, sizeof(name), "drop_%s", ns_drop_name(i));
		if ((s->drop[i] = json_u64(buf, name)) < 0)
			return -1;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/*
 * Poll the counters into *a until icmp_echo_answered has moved by at
 * least icmp and (reason >= 0) drop_<reason> by at least k from *b.
 * Bounded: WAIT_MS in all, and SETTLE_MS once the barrier has been
 * answered (every frame sent before it has been counted by then: a
 * target still short stays short).  0 when reached, -1 otherwise.
 *
 * DPDK's telemetry thread reads the counters one after the other while
 * the net core moves them, so the reply that shows the barrier may hold
 * an rx_frames read before the last frames were counted.  Once a reply
 * has shown the barrier, every frame has been counted: the next reply,
 * requested after it, is final, and that one is left in *a.
 */
static int wait_counters(const struct snap *b, int reason, int64_t k,
			 int64_t icmp, struct snap *a)
{
	int64_t end = now_ms() + WAIT_MS, settled = 0;
	int rc = -1;
	for (int i = 0; i < WAIT_MS; i++) {
		if (snap_take(a) == 0 &&
		    a->c[C_ICMP_ANSWERED] - b->c[C_ICMP_ANSWERED] >= icmp) {
			if (reason < 0 || a->drop[reason] - b->drop[reason] >= k) {
				rc = 0;
				break;
			}
			if (!settled)
				settled = now_ms() + SETTLE_MS;
		}
		if (now_ms() >= end || (settled && now_ms() >= settled))
			break;
		sleep_ms(2);
	}
	if (settled || rc == 0)
		rc = snap_take(a) ? -1 : rc;
	return rc;
}

/*
 * Compare a - b with what a case expects: drop_<reason> moved by k (no
 * reason: -1), every other drop counter and rx_multi_seg, rx_hw_cksum_bad
 * by 0, rx_frames by frames (-1: not checked), arp_requests_answered by
 * arp (-1: not checked), icmp_echo_answered by icmp.  Prints every
 * difference; returns how many there were.
 */
static int compare(const char *what, const struct snap *b,
		   const struct snap *a, int reason, int64_t k,
		   int64_t frames, int64_t arp, int64_t icmp)
{
	int bad = 0;
	for (int i = 0; i < NS_DROP_MAX; i++) {
		int64_t want = i == reason ? k : 0, got = a->drop[i] - b->drop[i];
		if (got != want) {
			printf("%s: drop_%s moved by %" PRId64 ", want %" PRId64
			       "\n", what, ns_drop_name(i), got, want);
			bad++;
		}
	}
	const int64_t want[C_MAX] = { frames, 0, 0, arp, icmp };
	for (int i = 0; i < C_MAX; i++) {
		int64_t got = a->c[i] - b->c[i];
		if (want[i] >= 0 && got != want[i]) {
			printf("%s: %s moved by %" PRId64 ", want %" PRId64 "\n",
			       what, c_names[i], got, want[i]);
			bad++;
		}
	}
	return bad;
}

/* ---- frames, as the namespace side writes them ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t other_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30 };
static const uint8_t mcast_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

static void eth_hdr(uint8_t *f, const uint8_t dst[6], uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, P.cl_mac, 6);
	put16(f + 12, type);
}

/* Recompute the IPv4 header checksum of f (IHL from the header). */
static void ip_sum(uint8_t *f)
{
	uint8_t *ip = f + NS_ETH_LEN;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	ip[10] = ip[11] = 0;
	uint16_t c = ns_cksum(ip, ihl, 0);
	memcpy(ip + 10, &c, 2);
}

/* Ethernet to the port + a valid IPv4 header (no options) for l4_len
 * bytes of protocol proto to dst.  Returns the frame length. */
static size_t ip_frame(uint8_t *f, uint8_t proto, uint32_t dst,
		       size_t l4_len)
{
	eth_hdr(f, P.dp_mac, NS_ETHERTYPE_IPV4);
	uint8_t *ip = f + NS_ETH_LEN;
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(NS_IP_LEN + l4_len));
	put16(ip + 4, P.ip_id++);
	put16(ip + 6, 0);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &P.cl_ip, 4);
	memcpy(ip + 16, &dst, 4);
	ip_sum(f);
	return NS_ETH_LEN + NS_IP_LEN + l4_len;
}

/* A valid UDP datagram of payload bytes from CLIENT_PORT to dport at
 * dst (checksums computed). */
static size_t udp_to(uint8_t *f, uint32_t dst, uint16_t dport,
		     size_t payload)
{
	struct ns_self me = { .ip = P.cl_ip, .udp_port = htons(CLIENT_PORT) };
	memcpy(me.mac, P.cl_mac, 6);
	for (size_t i = 0; i < payload; i++)
		f[NS_UDP_HDRS + i] = (uint8_t)('a' + i % 26);
	return ns_build_udp(&me, P.dp_mac, dst, htons(dport), f, payload,
			    P.ip_id++, NS_TX_IP_CKSUM | NS_TX_UDP_CKSUM);
}

/* A valid UDP datagram to the broker's port. */
static size_t udp_frame(uint8_t *f, size_t payload)
{
	return udp_to(f, P.dp_ip, (uint16_t)P.B.port, payload);
}

/* Recompute the UDP checksum of a frame built by udp_to (after edits). */
static void udp_sum(uint8_t *f)
{
	uint8_t *ip = f + NS_ETH_LEN, *u = ip + NS_IP_LEN;
	uint16_t ulen = (uint16_t)(u[4] << 8 | u[5]);
	uint32_t dst;
	memcpy(&dst, ip + 16, 4);
	u[6] = u[7] = 0;
	uint16_t c = ns_cksum(u, ulen, ns_pseudo_sum(P.cl_ip, dst, 17, ulen));
	memcpy(u + 6, c ? &c : &(uint16_t){ 0xffff }, 2);
}

/* ICMP of type/code with id, seq and data bytes to dst, checksums
 * valid. */
static size_t icmp_to(uint8_t *f, uint32_t dst, uint8_t type, uint8_t code,
		      uint16_t id, uint16_t seq, size_t data)
{
	size_t len = ip_frame(f, 1, dst, NS_ICMP_LEN + data);
	uint8_t *m = f + NS_ETH_LEN + NS_IP_LEN;
	m[0] = type;
	m[1] = code;
	m[2] = m[3] = 0;
	put16(m + 4, id);
	put16(m + 6, seq);
	for (size_t i = 0; i < data; i++)
		m[NS_ICMP_LEN + i] = (uint8_t)(i * 7 + seq);
	uint16_t c = ns_cksum(m, NS_ICMP_LEN + data, 0);
	memcpy(m + 2, &c, 2);
	return len;
}

static size_t icmp_frame(uint8_t *f, uint8_t type, uint8_t code)
{
	return icmp_to(f, P.dp_ip, type, code, 0x7777, P.seq++, 24);
}

/* ARP over Ethernet to dst: op, sender (our MAC, spa), target (zero
 * MAC, tpa).  42 bytes. */
static size_t arp_frame(uint8_t *f, const uint8_t dst[6], uint16_t op,
			uint32_t spa, uint32_t tpa)
{
	eth_hdr(f, dst, NS_ETHERTYPE_ARP);
	uint8_t *a = f + NS_ETH_LEN;
	put16(a, 1);
	put16(a + 2, NS_ETHERTYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, P.cl_mac, 6);
	memcpy(a + 14, &spa, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, &tpa, 4);
	return NS_ETH_LEN + NS_ARP_LEN;
}

/* ---- every way to break each rule (netstack.h, "Validity rules") ----
 * A builder writes variant v into f and returns its length, or 0 when
 * there is no variant v.  Each variant passes every rule before its own
 * (a frame is counted under the first rule it breaks). */

static size_t v_truncated(int v, uint8_t *f)
{
	switch (v) {
	case 0: /* IPv4 total length past the frame's end */
		udp_frame(f, 64);
		return NS_ETH_LEN + NS_IP_LEN + NS_UDP_LEN;
	case 1: /* less than an IPv4 header */
		udp_frame(f, 64);
		return NS_ETH_LEN + 10;
	case 2: /* UDP: less than its 8-byte header inside the IP packet */
		return ip_frame(f, 17, P.dp_ip, 4);
	case 3: /* ICMP: less than its 8-byte header */
		return ip_frame(f, 1, P.dp_ip, 4);
	case 4: /* ARP: less than its 28 bytes */
		arp_frame(f, bcast_mac, 1, P.cl_ip, P.dp_ip);
		return NS_ETH_LEN + 20;
	case 5: /* net_af_packet: a valid datagram larger than the ring's
		 * frames (framesz 2048, veth MTU 3000), which the kernel cuts
		 * to the frame: never handed up in part */
		return P.af_xdp ? 0 : udp_frame(f, OVERSIZE_PAYLOAD);
	}
	return 0;
}

static size_t v_non_ipv4(int v, uint8_t *f)
{
	size_t len;
	switch (v) {
	case 0: /* an experimental ethertype */
		len = udp_frame(f, 32);
		put16(f + 12, 0x88b5);
		return len;
	case 1: /* IPv6 */
		len = udp_frame(f, 32);
		put16(f + 12, 0x86dd);
		return len;
	case 2: /* 802.1Q-tagged IPv4: VLAN tags are not accepted */
		len = udp_frame(f, 32);
		memmove(f + 16, f + 12, len - 12);
		put16(f + 12, 0x8100);
		put16(f + 14, 5); /* VLAN 5 */
		return len + 4;
	case 3: /* 802.3 with a length field (LLC) */
		eth_hdr(f, P.dp_mac, 46);
		memset(f + NS_ETH_LEN, 0x42, 46);
		return NS_ETH_LEN + 46;
	}
	return 0;
}

static size_t v_wrong_dst_mac(int v, uint8_t *f)
{
	size_t len;
	switch (v) {
	case 0: /* a neighbour's unicast MAC */
		len = udp_frame(f, 32);
		memcpy(f, other_mac, 6);
		return len;
	case 1: /* a multicast MAC */
		len = icmp_frame(f, 8, 0);
		memcpy(f, mcast_mac, 6);
		return len;
	}
	return 0;
}

static size_t v_bad_arp(int v, uint8_t *f)
{
	size_t len = arp_frame(f, bcast_mac, 1, P.cl_ip, P.dp_ip);
	uint8_t *a = f + NS_ETH_LEN;
	switch (v) {
	case 0: /* hardware type not Ethernet */
		put16(a, 6);
		return len;
	case 1: /* protocol type not IPv4 */
		put16(a + 2, 0x86dd);
		return len;
	case 2: /* protocol address length not 4 */
		a[5] = 6;
		return len;
	case 3: /* op 3 (RARP request) */
		put16(a + 6, 3);
		return len;
	case 4: /* a probe for another address (sender address 0) */
		memset(a + 14, 0, 4);
		memcpy(a + 24, &P.other_ip, 4);
		return len;
	}
	return 0;
}

static size_t v_bad_ip_header(int v, uint8_t *f)
{
	size_t len = udp_frame(f, 64);
	uint8_t *ip = f + NS_ETH_LEN;
	switch (v) {
	case 0: /* version 6 behind ethertype IPv4 */
		ip[0] = 0x65;
		break;
	case 1: /* IHL 4 (16 bytes) */
		ip[0] = 0x44;
		break;
	case 2: /* total length shorter than the header */
		put16(ip + 2, 16);
		break;
	case 3: /* IHL 15 (60 bytes) past a 40-byte total length */
		ip[0] = 0x4f;
		put16(ip + 2, 40);
		break;
	default:
		return 0;
	}
	ip_sum(f);
	return len;
}

static size_t v_bad_ip_checksum(int v, uint8_t *f)
{
	size_t len;
	switch (v) {
	case 0: /* UDP, checksum bits flipped */
		len = udp_frame(f, 64);
		f[24] ^= 0xff;
		return len;
	case 1: /* ICMP echo, one bit of the source address changed after
		 * the sum */
		len = icmp_frame(f, 8, 0);
		f[NS_ETH_LEN + 12 + 3] ^= 1;
		return len;
	case 2: /* checksum field zero */
		len = udp_frame(f, 16);
		f[24] = f[25] = 0;
		return len;
	}
	return 0;
}

static size_t v_wrong_dst_ip(int v, uint8_t *f)
{
	size_t len;
	switch (v) {
	case 0: /* another host of the subnet */
		return udp_to(f, P.other_ip, (uint16_t)P.B.port, 32);
	case 1: /* limited broadcast */
		len = udp_to(f, 0xffffffffu, (uint16_t)P.B.port, 32);
		memcpy(f, bcast_mac, 6);
		return len;
	case 2: /* the subnet's broadcast, ICMP echo */
		len = icmp_to(f, P.bcast_ip, 8, 0, 0x7777, P.seq++, 8);
		memcpy(f, bcast_mac, 6);
		return len;
	}
	return 0;
}

static size_t v_fragment(int v, uint8_t *f)
{
	size_t len;
	switch (v) {
	case 0: /* first fragment: MF, offset 0 */
		len = udp_frame(f, 64);
		put16(f + NS_ETH_LEN + 6, 0x2000);
		break;
	case 1: /* last fragment: offset 1480, no MF */
		len = udp_frame(f, 64);
		put16(f + NS_ETH_LEN + 6, 185);
		break;
	case 2: /* a middle ICMP fragment */
		len = icmp_frame(f, 8, 0);
		put16(f + NS_ETH_LEN + 6, 0x2000 | 37);
		break;
	default:
		return 0;
	}
	ip_sum(f);
	return len;
}

static size_t v_bad_icmp(int v, uint8_t *f)
{
	size_t len;
	switch (v) {
	case 0: /* echo request, checksum off by one bit */
		len = icmp_frame(f, 8, 0);
		f[NS_ETH_LEN + NS_IP_LEN + 3] ^= 1;
		return len;
	case 1: /* echo request with code 1 (checksum valid) */
		return icmp_frame(f, 8, 1);
	}
	return 0;
}

static size_t v_icmp_other(int v, uint8_t *f)
{
	switch (v) {
	case 0: /* echo reply */
		return icmp_frame(f, 0, 0);
	case 1: /* timestamp request */
		return icmp_frame(f, 13, 0);
	case 2: /* destination unreachable */
		return icmp_frame(f, 3, 3);
	}
	return 0;
}

static size_t v_bad_udp_length(int v, uint8_t *f)
{
	size_t len = udp_frame(f, 64);
	uint8_t *u = f + NS_ETH_LEN + NS_IP_LEN;
	switch (v) {
	case 0: /* shorter than the UDP header */
		put16(u + 4, 7);
		return len;
	case 1: /* one byte past the IP payload */
		put16(u + 4, NS_UDP_LEN + 64 + 1);
		return len;
	case 2: /* zero */
		put16(u + 4, 0);
		return len;
	}
	return 0;
}

static size_t v_wrong_udp_port(int v, uint8_t *f)
{
	switch (v) {
	case 0: /* the next port */
		return udp_to(f, P.dp_ip, (uint16_t)(P.B.port + 1), 32);
	case 1: /* discard */
		return udp_to(f, P.dp_ip, 9, 32);
	}
	return 0;
}

static size_t v_bad_udp_checksum(int v, uint8_t *f)
{
	size_t len = udp_frame(f, 64);
	switch (v) {
	case 0: /* a payload byte changed after the sum */
		f[NS_UDP_HDRS + 10] ^= 0x20;
		return len;
	case 1: /* the checksum field changed */
		f[NS_UDP_HDRS - 1] ^= 0x01;
		return len;
	case 2: /* a sum over the wrong source port */
		f[NS_ETH_LEN + NS_IP_LEN + 1] ^= 0x01;
		udp_sum(f);
		f[NS_ETH_LEN + NS_IP_LEN + 1] ^= 0x01;
		return len;
	}
	return 0;
}

static size_t v_other_ip_proto(int v, uint8_t *f)
{
	static const uint8_t proto[] = { 6, 47, 132 }; /* TCP, GRE, SCTP */
	if (v < 0 || v >= (int)sizeof(proto))
		return 0;
	size_t len = ip_frame(f, proto[v], P.dp_ip, 20);
	memset(f + NS_ETH_LEN + NS_IP_LEN, 0, 20);
	put16(f + NS_ETH_LEN + NS_IP_LEN + 2, (uint16_t)P.B.port);
	return len;
}

struct drop_case {
	int reason;
	size_t (*build)(int v, uint8_t *f);
	char name[48];   /* "af_packet: drop_truncated" */
};

static size_t (*const builders[NS_DROP_MAX])(int, uint8_t *) = {
	[NS_DROP_TRUNCATED] = v_truncated,
	[NS_DROP_NON_IPV4] = v_non_ipv4,
	[NS_DROP_WRONG_DST_MAC] = v_wrong_dst_mac,
	[NS_DROP_BAD_ARP] = v_bad_arp,
	[NS_DROP_BAD_IP_HEADER] = v_bad_ip_header,
	[NS_DROP_BAD_IP_CHECKSUM] = v_bad_ip_checksum,
	[NS_DROP_WRONG_DST_IP] = v_wrong_dst_ip,
	[NS_DROP_FRAGMENT] = v_fragment,
	[NS_DROP_BAD_ICMP] = v_bad_icmp,
	[NS_DROP_ICMP_OTHER] = v_icmp_other,
	[NS_DROP_BAD_UDP_LENGTH] = v_bad_udp_length,
	[NS_DROP_WRONG_UDP_PORT] = v_wrong_udp_port,
	[NS_DROP_BAD_UDP_CHECKSUM] = v_bad_udp_checksum,
	[NS_DROP_OTHER_IP_PROTO] = v_other_ip_proto,
};

/* ---- sockets in the namespace ---- */

/* A socket created inside P.ns (the calling thread goes there and back:
 * a socket stays in the namespace it was made in).  fd or -errno. */
static int ns_socket(int domain, int type, int proto)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	int fd = tb_enter_netns(P.ns);
	if (fd == 0) {
		fd = socket(domain, type | SOCK_CLOEXEC, proto);
		if (fd < 0)
			fd = -errno;
		if (setns(self, CLONE_NEWNET)) {
			perror("setns back to the test's namespace");
			abort(); /* nothing after this would be where it thinks */
		}
	}
	close(self);
	return fd;
}

/* An AF_PACKET socket on clif receiving ethertype proto, or -errno. */
static int ns_packet_rx(uint16_t proto)
{
	int fd = ns_socket(AF_PACKET, SOCK_RAW, htons(proto));
	if (fd < 0)
		return fd;
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(proto),
				  .sll_ifindex = P.ifindex };
	if (bind(fd, (struct sockaddr *)&ll, sizeof(ll))) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* Send one frame to the port from the namespace; asserts it went. */
static void send_frame(const uint8_t *f, size_t len)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_ifindex = P.ifindex,
				  .sll_halen = 6 };
	memcpy(ll.sll_addr, f, 6);
	ssize_t n = sendto(P.tx, f, len, 0, (struct sockaddr *)&ll,
			   sizeof(ll));
	if (n != (ssize_t)len)
		fail_msg("sendto of a %zu-byte frame: %zd (%s)", len, n,
			 strerror(errno));
}

/* The barrier: one echo request behind the frames sent so far. */
static void send_barrier(void)
{
	uint8_t f[128];
	size_t len = icmp_to(f, P.dp_ip, 8, 0, BARRIER_ID, P.seq++, 16);
	send_frame(f, len);
}

/* Receive the next incoming frame (not our own outgoing copies) on fd,
 * up to deadline (now_ms).  Length, or 0 at the deadline. */
static size_t recv_in(int fd, uint8_t *f, size_t cap, int64_t deadline)
{
	for (int i = 0; i < 100000; i++) {
		int64_t left = deadline - now_ms();
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return 0;
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, f, cap, 0, (struct sockaddr *)&from,
				     &fl);
		if (n > 0 && from.sll_pkttype != PACKET_OUTGOING)
			return (size_t)n;
	}
	return 0;
}

/* ---- prerequisites ---- */

static long long mem_available_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* DPDK's PMD library for the vdev missing, or NULL. */
static const char *missing_pmd(const char *lib)
{
	static char why[2][PATH_MAX + 64];
	static int k;
	/* a shared DPDK loads its PMDs from here; a static one has them
	 * linked in (the path is empty) */
	if (!RTE_EAL_PMD_PATH[0])
		return NULL;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", RTE_EAL_PMD_PATH, lib);
	if (access(path, R_OK) == 0)
		return NULL;
	k ^= 1;
	snprintf(why[k], sizeof(why[k]), "DPDK's PMD %s is not installed",
		 path);
	return why[k];
}

/* What the af_xdp group needs that this machine lacks, or NULL. */
static const char *missing_af_xdp(void)
{
	static char why[160];
	const char *pmd = missing_pmd("librte_net_af_xdp.so");
	if (pmd)
		return pmd;
	int fd = socket(AF_XDP, SOCK_RAW, 0);
	if (fd < 0 && (errno == EAFNOSUPPORT || errno == EINVAL)) {
		snprintf(why, sizeof(why), "the kernel has no AF_XDP sockets "
			 "(CONFIG_XDP_SOCKETS): %s", strerror(errno));
		return why;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int read_mac(const char *ifname, const char *netns, uint8_t mac[6])
{
	char cmd[256], buf[64];
	snprintf(cmd, sizeof(cmd), "%s%s cat /sys/class/net/%s/address",
		 netns ? "ip netns exec " : "", netns ? netns : "", ifname);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	int ok = fgets(buf, sizeof(buf), f) &&
		 sscanf(buf, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1],
			&mac[2], &mac[3], &mac[4], &mac[5]) == 6;
	pclose(f);
	return ok ? 0 : -1;
}

/* ---- group setup and teardown: one namespace, one sluiced ---- */

static void net_cleanup(void)
{
	if (P.tx > 0)
		close(P.tx);
	P.tx = -1;
	if (P.ns[0])
		tb_sh("ip netns del %s 2>/dev/null", P.ns);
	if (P.dpif[0])
		tb_sh("ip link del %s 2>/dev/null", P.dpif);
	/* EAL's runtime directory and hugepage files of our --file-prefix
	 * (a stopped sluiced may leave its hugepage files behind) */
	if (P.prefix[0])
		tb_sh("rm -rf /var/run/dpdk/%s; for d in $(awk '$3 == "
		      "\"hugetlbfs\" { print $2 }' /proc/mounts); do "
		      "rm -f \"$d\"/%smap_*; done", P.prefix, P.prefix);
}

static void at_exit_cleanup(void)
{
	tb_destroy(&P.B, 0);
	net_cleanup();
}

/* The namespace, the veth pair and the addresses of this group.  0, or
 * -1 with P.missing set (the machine cannot do it). */
static int net_setup(int af_xdp)
{
	int pid = (int)getpid(), n = 100 + pid % 100;
	char v = af_xdp ? 'x' : 'p';
	snprintf(P.ns, sizeof(P.ns), "sldr%d%c", pid, v);
	snprintf(P.dpif, sizeof(P.dpif), "sdr%d%c", pid, v);
	snprintf(P.clif, sizeof(P.clif), "scl%d%c", pid, v);
	snprintf(P.prefix, sizeof(P.prefix), "sldrops%d%c", pid, v);
	snprintf(P.tel_path, sizeof(P.tel_path),
		 "/var/run/dpdk/%s/dpdk_telemetry.v2", P.prefix);
	char net[32];
	snprintf(net, sizeof(net), "10.%d.%d", af_xdp ? 86 : 87, n);
	char cl[48], dp[48], other[48], bc[48];
	snprintf(cl, sizeof(cl), "%s.1", net);
	snprintf(dp, sizeof(dp), "%s.2", net);
	snprintf(other, sizeof(other), "%s.77", net);
	snprintf(bc, sizeof(bc), "%s.255", net);
	inet_pton(AF_INET, cl, &P.cl_ip);
	inet_pton(AF_INET, dp, &P.dp_ip);
	inet_pton(AF_INET, other, &P.other_ip);
	inet_pton(AF_INET, bc, &P.bcast_ip);
	if (tb_sh("ip netns add %s", P.ns)) {
		P.missing = "cannot create a network namespace (ip netns add)";
		return -1;
	}
	/* IPv6 off on both ends before they go up: the kernels send nothing
	 * the port would count (router solicitations, MLD); tx checksums
	 * off on the namespace end so its UDP leaves with a full checksum
	 * (docs/dpdk.md); on af_packet an MTU above the ring's 2048-byte
	 * frames, for the oversize frames (v_truncated) */
	int mtu = af_xdp ? 1500 : 3000;
	if (tb_sh("ip link add %s type veth peer name %s && "
		  "ip link set %s netns %s && "
		  "ip netns exec %s sysctl -qw net.ipv6.conf.%s.disable_ipv6=1 && "
		  "sysctl -qw net.ipv6.conf.%s.disable_ipv6=1 && "
		  "ip -n %s addr add %s/24 dev %s && "
		  "ip netns exec %s ethtool -K %s tx off >/dev/null && "
		  "ip -n %s link set %s mtu %d && ip link set %s mtu %d && "
		  "ip -n %s link set lo up && ip -n %s link set %s up && "
		  "ip link set %s up",
		  P.dpif, P.clif, P.clif, P.ns, P.ns, P.clif, P.dpif, P.ns, cl,
		  P.clif, P.ns, P.clif, P.ns, P.clif, mtu, P.dpif, mtu, P.ns,
		  P.ns, P.clif, P.dpif)) {
		P.missing = "cannot set up a veth pair into a namespace (ip "
			    "link, sysctl, ethtool)";
		return -1;
	}
	if (read_mac(P.dpif, NULL, P.dp_mac) ||
	    read_mac(P.clif, P.ns, P.cl_mac)) {
		P.missing = "cannot read the veth MACs from /sys/class/net";
		return -1;
	}
	return 0;
}

/* Start sluiced on the port, open the namespace's sockets, create the
 * produce case's topic.  0, or -1 (a failure of ours, printed). */
static int broker_setup(int af_xdp)
{
	static char o_args[512], o_ip[64];
	char dp[32];
	inet_ntop(AF_INET, &P.dp_ip, dp, sizeof(dp));
	const char *huge = no_huge ? "--no-huge -m 512 " : "";
	if (af_xdp)
		snprintf(o_args, sizeof(o_args),
			 "dpdk_args=-l 1 --no-pci %s--file-prefix=%s "
			 "--vdev=net_af_xdp0,iface=%s,start_queue=0,queue_count=1",
			 huge, P.prefix, P.dpif);
	else
		snprintf(o_args, sizeof(o_args),
			 "dpdk_args=-l 1 --no-pci %s--file-prefix=%s "
			 "--vdev=net_af_packet0,iface=%s,blocksz=4096,framesz=2048,"
			 "framecnt=8192,qdisc_bypass=1",
			 huge, P.prefix, P.dpif);
	snprintf(o_ip, sizeof(o_ip), "dpdk_ip=%s", dp);
	if (tb_init(&P.B, af_xdp ? "dpdk_drops_xdp" : "dpdk_drops_pkt")) {
		printf("tb_init: cannot make a data dir or reserve ports\n");
		return -1;
	}
	P.B.extra[P.B.nextra++] = "driver=dpdk";
	P.B.extra[P.B.nextra++] = o_args;
	P.B.extra[P.B.nextra++] = o_ip;
	printf("sluiced -o %s -o %s (data %s)\n", o_args, o_ip, P.B.dir);
	/* sluiced gets the whole machine; the test then pins itself to one
	 * CPU so that its frames leave in order */
	sched_setaffinity(0, sizeof(cpus_all), &cpus_all);
	int64_t t0 = now_ms();
	if (tb_start(&P.B)) {
		printf("sluiced with driver = dpdk did not start; its log:\n");
		fflush(stdout);
		tb_sh("cat '%s'", P.B.sluiced_log);
		return -1;
	}
	printf("sluiced up in %" PRId64 " ms\n", now_ms() - t0);
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);

	P.tx = ns_socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: sends only */
	if (P.tx < 0) {
		printf("AF_PACKET socket in %s: %s\n", P.ns, strerror(-P.tx));
		return -1;
	}
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", P.clif);
	if (ioctl(P.tx, SIOCGIFINDEX, &ifr)) {
		printf("ifindex of %s: %s\n", P.clif, strerror(errno));
		return -1;
	}
	P.ifindex = ifr.ifr_ifindex;

	struct sl_client *c;
	if (sl_client_create(P.B.addr, 5000, &c)) {
		printf("no TCP client to %s\n", P.B.addr);
		return -1;
	}
	long id = sl_topic_create(c, "dpdk-drops", NULL);
	sl_client_destroy(c);
	if (id < 0) {
		printf("create topic dpdk-drops: %ld\n", id);
		return -1;
	}
	P.topic_id = (uint32_t)id;
	return 0;
}

static int group_setup(int af_xdp, void **state)
{
	(void)state;
	memset(&P, 0, sizeof(P));
	P.af_xdp = af_xdp;
	P.tx = -1;
	P.B.sluiced = P.B.control = -1;
	P.B.port_lock[0] = P.B.port_lock[1] = -1;
	P.ip_id = 1;
	P.seq = 1;
	P.missing = af_xdp ? missing_af_xdp() : NULL;
	if (P.missing)
		return 0;
	if (net_setup(af_xdp))
		return 0;
	P.up = broker_setup(af_xdp) == 0;
	return 0;
}

static int setup_af_packet(void **state)
{
	return group_setup(0, state);
}

static int setup_af_xdp(void **state)
{
	return group_setup(1, state);
}

static int group_teardown(void **state)
{
	(void)state;
	tb_destroy(&P.B, 0);
	memset(&P.B, 0, sizeof(P.B));
	net_cleanup();
	sched_setaffinity(0, sizeof(cpus_all), &cpus_all);
	return 0;
}

/* Every case starts here: skipped (with the reason) when the group's
 * prerequisite is missing, failed when sluiced is not up. */
static void need_port(void)
{
	if (P.missing) {
		printf("%s\n", P.missing);
		skip();
	}
	if (!P.up)
		fail_msg("sluiced with driver = dpdk is not up (see the start "
			 "case)");
}

static const char *vdev_name(void)
{
	return P.af_xdp ? "af_xdp" : "af_packet";
}

/* ---- the cases ---- */

static void test_start(void **state)
{
	(void)state;
	need_port();
	struct snap s;
	assert_int_equal(snap_take(&s), 0);
}

/* ARP requests for dpdk_ip, answered with the port's MAC. */
static void test_arp_answered(void **state)
{
	(void)state;
	need_port();
	enum { N = 3 };
	int rx = ns_packet_rx(ETH_P_ARP);
	assert_true(rx >= 0);
	struct snap b, a;
	assert_int_equal(snap_take(&b), 0);
	int answered = 0;
	for (int i = 0; i < N; i++) {
		uint8_t f[128], r[256];
		send_frame(f, arp_frame(f, bcast_mac, 1, P.cl_ip, P.dp_ip));
		int64_t deadline = now_ms() + WAIT_MS;
		size_t n;
		while ((n = recv_in(rx, r, sizeof(r), deadline)) > 0) {
			const uint8_t *p = r + NS_ETH_LEN;
			if (n < NS_ETH_LEN + NS_ARP_LEN || p[6] != 0 ||
			    p[7] != 2)
				continue; /* not a reply */
			assert_memory_equal(r, P.cl_mac, 6);
			assert_memory_equal(r + 6, P.dp_mac, 6);
			assert_memory_equal(p + 8, P.dp_mac, 6);   /* sha */
			assert_memory_equal(p + 14, &P.dp_ip, 4);  /* spa */
			assert_memory_equal(p + 18, P.cl_mac, 6);  /* tha */
			assert_memory_equal(p + 24, &P.cl_ip, 4);  /* tpa */
			answered++;
			break;
		}
	}
	close(rx);
	send_barrier();
	assert_int_equal(wait_counters(&b, -1, 0, 1, &a), 0);
	printf("%s: %d/%d ARP requests answered\n", vdev_name(), answered, N);
	assert_int_equal(answered, N);
	assert_int_equal(compare("arp", &b, &a, -1, 0, N + 1, N, 1), 0);
}

/* ICMP echo requests, answered with the same id, sequence and data. */
static void test_icmp_echo(void **state)
{
	(void)state;
	need_port();
	enum { N = 3, DATA = 56 };
	int rx = ns_packet_rx(ETH_P_IP);
	assert_true(rx >= 0);
	struct snap b, a;
	assert_int_equal(snap_take(&b), 0);
	int answered = 0;
	for (int i = 0; i < N; i++) {
		uint8_t f[256], r[2048];
		uint16_t seq = P.seq++;
		size_t len = icmp_to(f, P.dp_ip, 8, 0, PROBE_ID, seq, DATA);
		send_frame(f, len);
		int64_t deadline = now_ms() + WAIT_MS;
		size_t n;
		while ((n = recv_in(rx, r, sizeof(r), deadline)) > 0) {
			const uint8_t *ip = r + NS_ETH_LEN;
			const uint8_t *m = ip + NS_IP_LEN;
			if (n < len || ip[9] != 1 || m[0] != 0 ||
			    m[4] != (PROBE_ID >> 8) || m[5] != (PROBE_ID & 0xff))
				continue;
			assert_int_equal(m[6] << 8 | m[7], seq);
			assert_memory_equal(r, P.cl_mac, 6);
			assert_memory_equal(ip + 12, &P.dp_ip, 4);
			assert_memory_equal(ip + 16, &P.cl_ip, 4);
			assert_int_equal(ns_cksum(ip, NS_IP_LEN, 0), 0);
			assert_int_equal(ns_cksum(m, NS_ICMP_LEN + DATA, 0), 0);
			assert_memory_equal(m + NS_ICMP_LEN,
					    f + NS_ETH_LEN + NS_IP_LEN +
						    NS_ICMP_LEN, DATA);
			answered++;
			break;
		}
	}
	close(rx);
	send_barrier();
	assert_int_equal(wait_counters(&b, -1, 0, N + 1, &a), 0);
	printf("%s: %d/%d echo requests answered\n", vdev_name(), answered, N);
	assert_int_equal(answered, N);
	assert_int_equal(compare("icmp", &b, &a, -1, 0, N + 1, 0, N + 1), 0);
}

/* K frames breaking one rule, each variant REPEATS times, then the
 * barrier; the counters compared exactly. */
static void test_drop(void **state)
{
	const struct drop_case *dc = *state;
	need_port();
	/* af_packet: lone fragments stay in the kernel (file comment) */
	int seen = !(dc->reason == NS_DROP_FRAGMENT && !P.af_xdp);
	struct snap b, a;
	assert_int_equal(snap_take(&b), 0);
	int64_t k = 0;
	for (int r = 0; r < REPEATS; r++)
		for (int v = 0; v < 16; v++) {
			uint8_t f[4096];
			memset(f, 0, sizeof(f));
			size_t len = dc->build(v, f);
			if (!len)
				break;
			send_frame(f, len);
			k++;
		}
	assert_true(k > 0);
	send_barrier();
	int reached = wait_counters(&b, seen ? dc->reason : -1, k, 1, &a);
	printf("%s: %" PRId64 " frames: drop_%s %" PRId64 " -> %" PRId64
	       " (want +%" PRId64 "), rx_frames +%" PRId64 "%s\n", dc->name,
	       k, ns_drop_name(dc->reason), b.drop[dc->reason],
	       a.drop[dc->reason], seen ? k : 0,
	       a.c[C_RX_FRAMES] - b.c[C_RX_FRAMES],
	       seen ? "" : " (net_af_packet: the kernel holds lone "
			   "fragments; none may reach the port)");
	int bad = compare(dc->name, &b, &a, seen ? dc->reason : -1,
			  seen ? k : 0, seen ? k + 1 : 1, 0, 1);
	if (reached)
		printf("%s: the counters did not reach their values\n",
		       dc->name);
	assert_int_equal(reached, 0);
	assert_int_equal(bad, 0);
}

/* A valid PRODUCE datagram from a kernel UDP socket in the namespace:
 * answered with error 0 at the expected offset, its record read back
 * over TCP, no drop counted. */
static void test_produce(void **state)
{
	(void)state;
	need_port();
	int fd = ns_socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)P.B.port),
				  .sin_addr.s_addr = P.dp_ip };
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	char value[64];
	int vlen = snprintf(value, sizeof(value), "through %s", vdev_name());
	uint8_t batch[256], frame[512], r[2048];
	struct rb_builder bb;
	rb_builder_init(&bb, batch, sizeof(batch), 1700000000000ll);
	assert_int_equal(rb_builder_add(&bb, "k", 1, value, vlen,
					1700000000000ll), 0);
	long blen = rb_builder_finish(&bb);
	assert_true(blen > 0);
	struct sn_produce pr = { .topic_id = P.topic_id, .partition = 0,
				 .acks = 1, .timeout_ms = 5000, .batch = batch,
				 .batch_len = (uint32_t)blen };
	uint32_t corr = 0xd209;
	long flen = sn_encode_produce(frame, sizeof(frame), corr, &pr);
	assert_true(flen > 0);
	struct snap b, a;
	assert_int_equal(snap_take(&b), 0);
	assert_int_equal(send(fd, frame, (size_t)flen, 0), flen);
	/* one answer, within the bound */
	int64_t deadline = now_ms() + WAIT_MS;
	ssize_t n = -1;
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	while (now_ms() < deadline &&
	       poll(&pf, 1, (int)(deadline - now_ms())) > 0) {
		n = recv(fd, r, sizeof(r), 0);
		struct sn_header h;
		if (n >= SN_HEADER_BYTES &&
		    sn_header_parse(r, (size_t)n, sizeof(r), &h) > 0 &&
		    h.corr == corr)
			break;
		n = -1;
	}
	close(fd);
	assert_true(n >= SN_PRODUCE_RESP_BYTES);
	struct sn_header h;
	sn_header_parse(r, (size_t)n, sizeof(r), &h);
	struct sn_produce_resp resp;
	assert_int_equal(h.opcode, SN_PRODUCE | 0x80);
	assert_int_equal(h.error, 0);
	assert_int_equal(sn_decode_produce_resp(r, (size_t)n, &resp), 0);
	assert_int_equal(resp.base_offset, P.next_offset);
	P.next_offset++;
	printf("%s: produce answered, base offset %" PRId64 "\n", vdev_name(),
	       resp.base_offset);
	/* read back over TCP */
	struct sl_consumer *c;
	assert_int_equal(sl_consumer_create(P.B.addr, "dpdk-drops", 0, NULL,
					    &c), 0);
	assert_int_equal(sl_consumer_seek(c, resp.base_offset), 0);
	struct sl_message m;
	int got = sl_consume(c, &m, 5000);
	int same = got == 1 && m.offset == resp.base_offset &&
		   m.vlen == (size_t)vlen && !memcmp(m.value, value, m.vlen);
	sl_consumer_destroy(c);
	assert_true(same);
	/* nothing dropped (the kernel's ARP for dpdk_ip and our datagram
	 * are the frames; rx_frames not checked) */
	send_barrier();
	assert_int_equal(wait_counters(&b, -1, 0, 1, &a), 0);
	assert_int_equal(compare("produce", &b, &a, -1, 0, -1, -1, 1), 0);
}

/* sluiced exits with status 0 on SIGTERM. */
static void test_stop(void **state)
{
	(void)state;
	need_port();
	assert_int_equal(tb_stop(&P.B), 0);
}

/* ---- main ---- */

static struct drop_case cases[2][NS_DROP_MAX];

#define GROUP(g, vname)                                                      \
	{                                                                    \
		{ vname ": start", test_start, NULL, NULL, NULL },           \
		{ vname ": arp_answered", test_arp_answered, NULL, NULL,     \
		  NULL },                                                    \
		{ vname ": icmp_echo", test_icmp_echo, NULL, NULL, NULL },   \
		DROP(g, 0), DROP(g, 1), DROP(g, 2), DROP(g, 3), DROP(g, 4),  \
		DROP(g, 5), DROP(g, 6), DROP(g, 7), DROP(g, 8), DROP(g, 9),  \
		DROP(g, 10), DROP(g, 11), DROP(g, 12), DROP(g, 13),          \
		{ vname ": produce", test_produce, NULL, NULL, NULL },       \
		{ vname ": stop", test_stop, NULL, NULL, NULL },             \
	}
#define DROP(g, i)                                                           \
	{ cases[g][i].name, test_drop, NULL, NULL, &cases[g][i] }
_Static_assert(NS_DROP_MAX == 14, "a case for every drop reason: add "
	       "DROP(g, i) lines to GROUP and a builder");

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* every reason has its frames */
	for (int i = 0; i < NS_DROP_MAX; i++)
		if (!builders[i]) {
			printf("no frames for drop reason %s\n",
			       ns_drop_name(i));
			return 1;
		}
	if (getuid() != 0) {
		printf("needs root (network namespaces, veth, AF_PACKET)\n");
		return 77;
	}
	if (tb_available())
		return 77;
	const char *missing = missing_pmd("librte_net_af_packet.so");
	if (missing) {
		printf("%s\n", missing);
		return 77;
	}
	no_huge = !(access("/dev/hugepages", F_OK) == 0 &&
		    system("grep -q hugetlbfs /proc/mounts && "
			   "[ $(cat /proc/sys/vm/nr_hugepages) -ge 256 ]") == 0);
	long long kb = mem_available_kb();
	if (no_huge && kb >= 0 && kb < 768 * 1024) {
		printf("no hugepages and only %lld MiB of memory available "
		       "(DPDK's --no-huge -m 512 wants 768)\n", kb / 1024);
		return 77;
	}
	if (tb_sh("ip netns list >/dev/null 2>&1 && command -v ethtool "
		  ">/dev/null")) {
		printf("needs iproute2's ip netns and ethtool\n");
		return 77;
	}
	sched_getaffinity(0, sizeof(cpus_all), &cpus_all);
	atexit(at_exit_cleanup);
	for (int g = 0; g < 2; g++)
		for (int i = 0; i < NS_DROP_MAX; i++) {
			cases[g][i].reason = i;
			cases[g][i].build = builders[i];
			snprintf(cases[g][i].name, sizeof(cases[g][i].name),
				 "%s: drop_%s", g ? "af_xdp" : "af_packet",
				 ns_drop_name(i));
		}
	const struct CMUnitTest af_packet[] = GROUP(0, "af_packet");
	const struct CMUnitTest af_xdp[] = GROUP(1, "af_xdp");
	int failed = cmocka_run_group_tests_name("dpdk_drops af_packet",
						 af_packet, setup_af_packet,
						 group_teardown);
	failed += cmocka_run_group_tests_name("dpdk_drops af_xdp", af_xdp,
					      setup_af_xdp, group_teardown);
	return failed ? 1 : 0;
}
